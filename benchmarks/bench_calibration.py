"""Time the calibration: the batched fits, one scenario per method, and the report's grid.

Prints CPU and wall seconds of:

* the batched GLMM on 10,000 replicate meta-analyses of five studies (target < 10 s);
* the profile-likelihood CI and each Bayesian model on 2,000 replicates of the observed
  design;
* every method on one scenario (2,000 replicates of the observed design);
* the whole design grid of data/derived/calibration_design.json (or the default grid
  around the observed sizes) at ``--replicates`` (the report's count by default, 500),
  with ``--jobs`` local processes or on Dask (target: < 90 s on the 2-core machine).

Usage::

    python benchmarks/bench_calibration.py                       # in this process
    python benchmarks/bench_calibration.py --jobs 2              # two local processes
    python benchmarks/bench_calibration.py --executor dask       # local Dask cluster
    python benchmarks/bench_calibration.py --scheduler tcp://host:8786   # existing cluster
    python benchmarks/bench_calibration.py --replicates 2000 --out /tmp/calibration.csv
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import special

from analysis.stats.batched import fit_glmm_batch
from analysis.stats.calibration import (
    default_grid,
    describe_selection,
    run_calibration,
    select_primary,
    simulate_counts,
)
from analysis.stats.coverage import DEFAULT_METHODS, _intervals
from analysis.stats.glmm_profile import profile_ci_batch

FIVE = [4, 8, 12, 20, 30]
OBSERVED_N = [43, 1, 4, 1, 5, 22]
DESIGN = Path("data/derived/calibration_design.json")


def _clock(func):
    cpu, wall = time.process_time(), time.perf_counter()
    out = func()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def _grid(path: Path) -> dict:
    if path.is_file():
        d = json.loads(path.read_text(encoding="utf-8"))
        return {"n_sizes": {x["name"]: x["n"] for x in d["designs"]}, "mu_grid": d["mu_grid"],
                "tau2_grid": d["tau2_grid"], "misspecified": d["misspecified"],
                "methods": d["methods"], "seed": d["seed"]}
    grid = default_grid(OBSERVED_N)
    grid.pop("replicates")
    return grid


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=["local", "dask"], default="local")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--scheduler", default=None,
                        help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--replicates", type=int, default=500, help="per scenario, for the grid")
    parser.add_argument("--design", type=Path, default=DESIGN)
    parser.add_argument("--out", default=None, help="write the grid's frame as CSV")
    args = parser.parse_args(argv)
    executor = "dask" if args.scheduler else args.executor

    events = simulate_counts(FIVE, mu=float(special.logit(0.8)), tau2=0.5, replicates=10_000,
                             seed=20261123)
    fit, cpu, wall = _clock(lambda: fit_glmm_batch(events, FIVE))
    print(f"GLMM, 10,000 replicates x {len(FIVE)} studies: {cpu:.2f} s CPU, {wall:.2f} s wall "
          f"({int((~fit['converged']).sum())} not converged)")

    grid = _grid(args.design)
    events = simulate_counts(OBSERVED_N, mu=float(special.logit(0.8)), tau2=0.5,
                             replicates=2000, seed=1)
    n = np.asarray(OBSERVED_N)
    fits = {"glmm": fit_glmm_batch(events, n), "n_agq": 7}
    _, cpu, wall = _clock(lambda: profile_ci_batch(events, n, fits["glmm"]))
    print(f"profile-likelihood CI, 2,000 replicates of the observed design: {cpu:.2f} s CPU")
    per = []
    for method in grid.get("methods", DEFAULT_METHODS):
        if method.startswith("study"):
            continue
        _, cpu, _ = _clock(lambda m=method: _intervals(m, events, n, 0.95, dict(fits)))
        per.append(f"{method} {cpu:.2f}")
    print("one scenario (2,000 replicates, observed design), CPU s per method: " + ", ".join(per))

    frame, cpu, wall = _clock(lambda: run_calibration(
        **grid, replicates=args.replicates, executor=executor, jobs=args.jobs,
        scheduler=args.scheduler))
    print(f"design grid ({frame.scenario.nunique()} scenarios x {frame.method.nunique()} methods, "
          f"{args.replicates} replicates, executor={executor}, jobs={args.jobs}): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU in this process")
    if args.out:
        frame.to_csv(args.out, index=False)
    print(describe_selection(select_primary(frame)))


if __name__ == "__main__":
    main()
