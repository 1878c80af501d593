"""`make bench`: in-process timings of the engine, and of R metafor when Rscript is present.

Prints a table of median wall-clock times (several repeats after one warm-up call) on
this machine:

* the GLMM (ML, 7-node AGHQ) on the k = 400 data set pinned in tests/reference
  (metafor's values for it are compared, so "same estimates" is checked, not assumed);
* the GLMM on a simulated k = 10,000 data set;
* the inverse-variance models (REML, DL, PM; common effect) on k = 400;
* R metafor's rma.glmm and rma (REML) on the same k = 400 data, timed inside R with
  system.time (R start-up excluded), and the speed ratio;
* `pool_two_group` (``python -m analysis compare``): every method on metafor's dat.bcg
  (k = 13, pinned in tests/reference/metafor_two_group.json), with R metafor's time for
  the same call, and both GLMMs on a simulated k = 400 set of 2x2 tables (R is not timed
  there: glmer with 401 fixed effects, and integrate() over 400 studies, take minutes);
* the Bayesian models (analysis.stats.bayes): one posterior for k = 6 and k = 20 and
  for the k = 400 data set, both likelihoods, and `posterior_batch` on 10,000
  simulated replicates of k = 5 studies (n 4 to 40), wall and CPU time;
* the calibration benchmark (benchmarks/bench_calibration.py).

Timings are reported, never asserted: a test that depends on machine speed is flaky.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import pool_proportions, pool_two_group
from analysis.stats.bayes import posterior_batch


def timeit(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timeit_cpu(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU time of `fn` (CPU time shows what a loaded machine
    hides: on an idle one the two agree, the engine being single-threaded here)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def r_timings(x, n) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    code = r"""
suppressMessages(library(metafor))
d <- read.csv(commandArgs(TRUE)[1])
invisible(rma.glmm(measure="PLO", xi=d$x, ni=d$n))
t1 <- system.time(for (i in 1:3) res <- rma.glmm(measure="PLO", xi=d$x, ni=d$n))[["elapsed"]] / 3
t2 <- system.time(for (i in 1:20) r2 <- rma(measure="PLO", xi=d$x, ni=d$n, method="REML"))[["elapsed"]] / 20
cat(sprintf("%.17g %.17g %.17g %.17g %s\n", t1, t2, coef(res), res$tau2, packageVersion("metafor")))
"""
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        csv.write_text("x,n\n" + "\n".join(f"{a},{b}" for a, b in zip(x, n, strict=True)) + "\n")
        script = Path(tmp) / "t.R"
        script.write_text(code)
        r = subprocess.run(["Rscript", str(script), str(csv)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        print("Rscript present but metafor failed:", r.stderr.strip()[:300])
        return None
    glmm_s, rma_s, b, tau2, version = r.stdout.split()
    return {"glmm": float(glmm_s), "rma": float(rma_s), "b": float(b), "tau2": float(tau2), "version": version}


COMPARE = (  # label, pool_two_group options, the same call in R (ai, n1i, ci, n2i in scope)
    ("MH OR", {"measure": "or", "method": "mantel-haenszel"}, 'rma.mh(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i)'),
    ("MH RR", {"measure": "rr", "method": "mantel-haenszel"}, 'rma.mh(measure="RR", ai=ai, n1i=n1i, ci=ci, n2i=n2i)'),
    ("MH RD", {"measure": "rd", "method": "mantel-haenszel"}, 'rma.mh(measure="RD", ai=ai, n1i=n1i, ci=ci, n2i=n2i)'),
    ("Peto OR", {"measure": "or", "method": "peto"}, "rma.peto(ai=ai, n1i=n1i, ci=ci, n2i=n2i)"),
    ("IV OR REML", {"measure": "or", "method": "inverse-variance"},
     'rma(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, drop00=TRUE)'),
    ("GLMM UM.FS", {"measure": "or", "method": "glmm-umfs"},
     'rma.glmm(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, model="UM.FS")'),
    ("GLMM CM.EL", {"measure": "or", "method": "glmm-cmel"},
     'rma.glmm(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, model="CM.EL")'),
)


def r_compare_timings(d) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    lines = ["suppressMessages(library(metafor))", "d <- read.csv(commandArgs(TRUE)[1])",
             "ai <- d$ai; n1i <- d$n1i; ci <- d$ci; n2i <- d$n2i"]
    for label, _, call in COMPARE:
        reps = 1 if "glmm" in call else 20
        lines.append(f'invisible(suppressWarnings({call})); '
                     f't <- system.time(for (i in 1:{reps}) suppressWarnings({call}))[["elapsed"]] / {reps}; '
                     f'cat("{label}", sprintf("%.6f", t), "\\n", sep = "\\t")')
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        csv.write_text("ai,n1i,ci,n2i\n" + "\n".join(
            f"{a},{b},{c},{e}" for a, b, c, e in zip(d["ai"], d["n1i"], d["ci"], d["n2i"], strict=True)) + "\n")
        script = Path(tmp) / "t.R"
        script.write_text("\n".join(lines) + "\n")
        r = subprocess.run(["Rscript", str(script), str(csv)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        print("Rscript present but metafor failed:", r.stderr.strip()[:300])
        return None
    return {line.split("\t")[0]: float(line.split("\t")[1]) for line in r.stdout.splitlines() if "\t" in line}


def compare_timings() -> None:
    """`pool_two_group` on dat.bcg (every method, with R's time) and both GLMMs at k = 400."""
    ref = json.loads((ROOT / "tests" / "reference" / "metafor_two_group.json").read_text(encoding="utf-8"))
    d = ref["datasets"]["bcg"]
    data = (d["ai"], d["n1i"], d["ci"], d["n2i"])
    r = r_compare_timings(d)
    print(f"\npool_two_group (python -m analysis compare), dat.bcg k = 13:\n{'what':<16}{'this engine':>14}"
          f"{'R metafor':>12}")
    for label, opts, _ in COMPARE:
        secs = timeit(lambda opts=opts: pool_two_group(*data, **opts), 1 if "glmm" in opts["method"] else 10)
        rs = "n/a" if r is None or label not in r else f"{r[label] * 1000:.1f} ms"
        print(f"{label:<16}{secs * 1000:>11.1f} ms{rs:>12}")
    rng = np.random.default_rng(20261201)
    k = 400
    n1, n0 = rng.integers(20, 200, k), rng.integers(20, 200, k)
    base = -1.5 + 0.7 * rng.standard_normal(k)
    log_or = -0.5 + 0.4 * rng.standard_normal(k)
    a = rng.binomial(n1, 1 / (1 + np.exp(-(base + log_or))))
    c = rng.binomial(n0, 1 / (1 + np.exp(-base)))
    print("\nGLMMs on a simulated k = 400 set (numpy seed 20261201; true log OR -0.5, tau 0.4):")
    for method in ("glmm-umfs", "glmm-cmel"):
        res = pool_two_group(a, n1, c, n0, method=method)
        secs = timeit(lambda method=method: pool_two_group(a, n1, c, n0, method=method), 1)
        print(f"  {method}: {secs:.2f} s  (log OR {res.effect:.4f}, tau^2 {res.tau2:.4f})")


def main() -> int:
    ref = json.loads((ROOT / "tests" / "reference" / "metafor.json").read_text(encoding="utf-8"))
    d = ref["datasets"]["large400"]
    x, n = np.array(d["events"]), np.array(d["n"])
    pinned = next(c for c in ref["cases"] if c["id"] == "large400/rma.glmm/PLO/ML/nAGQ7/z")["values"]
    rng = np.random.default_rng(20261123)
    n10 = rng.integers(5, 60, 10_000)
    x10 = rng.binomial(n10, 1 / (1 + np.exp(-(0.85 + 0.8 * rng.standard_normal(10_000)))))

    rows = []
    glmm400 = pool_proportions(x, n, model="glmm")
    rows.append(("GLMM (ML, AGHQ-7), k = 400", timeit(lambda: pool_proportions(x, n, model="glmm"), 15), 0.040))
    rows.append(("GLMM (ML, AGHQ-7), k = 10,000", timeit(lambda: pool_proportions(x10, n10, model="glmm"), 3), 1.0))
    for label, kw in (("RE logit REML", {"tau2_method": "reml"}), ("RE logit DL", {"tau2_method": "dersimonian-laird"}),
                      ("RE logit PM", {"tau2_method": "paule-mandel"})):
        rows.append((f"{label}, k = 400", timeit(lambda kw=kw: pool_proportions(x, n, model="random", **kw), 30), 0.005))
    rows.append(("Common effect logit, k = 400", timeit(lambda: pool_proportions(x, n, model="common"), 30), 0.005))
    xs, ns = [2, 3, 1, 17, 33, 0], [5, 4, 1, 22, 43, 1]
    bayes = []
    for like in ("binomial", "normal"):
        for label, (xx, nn), reps, target in (("k = 6", (xs, ns), 20, 0.020),
                                              ("k = 20", (x[:20], n[:20]), 20, 0.020),
                                              ("k = 400", (x, n), 5, 0.200)):
            bayes.append((f"Bayes {like}, {label}", *timeit_cpu(
                lambda xx=xx, nn=nn, like=like: pool_proportions(xx, nn, model="bayes", likelihood=like),
                reps), target))

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a loaded machine inflates wall time)\n")
    print(f"{'what':<36}{'median time':>14}{'target':>10}")
    for label, secs, target in rows:
        print(f"{label:<36}{secs * 1000:>11.1f} ms{target * 1000:>7.0f} ms  {'ok' if secs < target else 'SLOW'}")
    print(f"\n{'one Bayesian posterior (pool_proportions)':<42}{'wall':>10}{'CPU':>10}{'target':>10}")
    for label, secs, cpu, target in bayes:
        print(f"{label:<42}{secs * 1000:>7.1f} ms{cpu * 1000:>7.1f} ms{target * 1000:>7.0f} ms  "
              f"{'ok' if secs < target else 'SLOW' if cpu >= target else 'ok on CPU time'}")
    print(f"\nGLMM k = 400 vs pinned metafor 3.8.1: b {glmm400.estimate:.6f} vs {pinned['b']:.6f}, "
          f"tau^2 {glmm400.heterogeneity.tau2:.6f} vs {pinned['tau2']:.6f}")
    rng_b = np.random.default_rng(20261124)
    nb = rng_b.integers(4, 41, 5)
    xb = rng_b.binomial(nb, 1 / (1 + np.exp(-(0.5 + 0.7 * rng_b.standard_normal((10_000, 5))))))
    distinct = len(np.unique(np.sort(xb, axis=1), axis=0))  # the batch computes each once
    print(f"\nBayes posterior_batch, 10,000 replicates of k = 5 (n {', '.join(map(str, nb))}; "
          f"{distinct} distinct), target 20 s:")
    for like in ("normal", "binomial"):
        wall, cpu = time.perf_counter(), time.process_time()
        out = posterior_batch(xb, nb, likelihood=like)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"  {like:<9}{wall:>7.1f} s wall, {cpu:>6.1f} s CPU, {int(out['ok'].sum())} ok  "
              f"{'ok' if wall < 20 else 'SLOW' if cpu >= 20 else 'ok on CPU time'}")
    r = r_timings(x, n)
    if r is None:
        print("\nRscript with metafor not found: R timings skipped (install r-cran-metafor to compare).")
    else:
        print(f"\nR metafor {r['version']} (in-process, start-up excluded), k = 400:")
        print(f"  rma.glmm: {r['glmm'] * 1000:.0f} ms  -> this engine is {r['glmm'] / rows[0][1]:.0f}x faster "
              f"(b {r['b']:.6f}, tau^2 {r['tau2']:.6f})")
        print(f"  rma REML: {r['rma'] * 1000:.1f} ms  -> this engine {r['rma'] / rows[2][1]:.1f}x")
    compare_timings()
    print("\nCalibration (benchmarks/bench_calibration.py):", flush=True)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_calibration.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
