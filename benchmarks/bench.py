"""`make bench`: in-process timings of the engine, and of R metafor when Rscript is present.

Prints a table of median wall-clock times (several repeats after one warm-up call) on
this machine:

* the GLMM (ML, 7-node AGHQ) on the k = 400 data set pinned in tests/reference
  (metafor's values for it are compared, so "same estimates" is checked, not assumed);
* the GLMM on a simulated k = 10,000 data set;
* the inverse-variance models (REML, DL, PM; common effect) on k = 400;
* R metafor's rma.glmm and rma (REML) on the same k = 400 data, timed inside R with
  system.time (R start-up excluded), and the speed ratio;
* the Bayesian models (analysis.stats.bayes): one posterior for k = 6 and k = 20 and
  for the k = 400 data set, both likelihoods, and `posterior_batch` on 10,000
  simulated replicates of k = 5 studies (n 4 to 40), wall and CPU time;
* the calibration benchmark (benchmarks/bench_calibration.py).

Timings are reported, never asserted: a test that depends on machine speed is flaky.
"""

from __future__ import annotations

import json
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

from analysis import pool_proportions
from analysis.stats.bayes import posterior_batch


def timeit(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


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
    for like in ("binomial", "normal"):
        for label, (xx, nn), reps, target in (("k = 6", (xs, ns), 20, 0.020),
                                              ("k = 20", (x[:20], n[:20]), 20, 0.020),
                                              ("k = 400", (x, n), 5, 0.200)):
            rows.append((f"Bayes {like}, {label}", timeit(
                lambda xx=xx, nn=nn, like=like: pool_proportions(xx, nn, model="bayes", likelihood=like),
                reps), target))

    print(f"{'what':<36}{'median time':>14}{'target':>10}")
    for label, secs, target in rows:
        print(f"{label:<36}{secs * 1000:>11.1f} ms{target * 1000:>7.0f} ms  {'ok' if secs < target else 'SLOW'}")
    print(f"\nGLMM k = 400 vs pinned metafor 3.8.1: b {glmm400.estimate:.6f} vs {pinned['b']:.6f}, "
          f"tau^2 {glmm400.heterogeneity.tau2:.6f} vs {pinned['tau2']:.6f}")
    print("\nBayes posterior_batch, 10,000 replicates of k = 5 (n 4 to 40), target 20 s:")
    rng_b = np.random.default_rng(20261124)
    nb = rng_b.integers(4, 41, 5)
    xb = rng_b.binomial(nb, 1 / (1 + np.exp(-(0.5 + 0.7 * rng_b.standard_normal((10_000, 5))))))
    for like in ("normal", "binomial"):
        wall, cpu = time.perf_counter(), time.process_time()
        out = posterior_batch(xb, nb, likelihood=like)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"  {like:<9}{wall:>7.1f} s wall, {cpu:>6.1f} s CPU, {int(out['ok'].sum())} ok  "
              f"{'ok' if wall < 20 else 'SLOW'}")
    r = r_timings(x, n)
    if r is None:
        print("\nRscript with metafor not found: R timings skipped (install r-cran-metafor to compare).")
    else:
        print(f"\nR metafor {r['version']} (in-process, start-up excluded), k = 400:")
        print(f"  rma.glmm: {r['glmm'] * 1000:.0f} ms  -> this engine is {r['glmm'] / rows[0][1]:.0f}x faster "
              f"(b {r['b']:.6f}, tau^2 {r['tau2']:.6f})")
        print(f"  rma REML: {r['rma'] * 1000:.1f} ms  -> this engine {r['rma'] / rows[2][1]:.1f}x")
    print("\nCalibration (benchmarks/bench_calibration.py):", flush=True)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_calibration.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
