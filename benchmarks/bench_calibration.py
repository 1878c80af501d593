"""Time the vectorised calibration: the batched GLMM and the full default grid.

Targets (issue): 10,000 replicate meta-analyses of five studies fitted by the GLMM in
under 10 s, and the full default grid in under 2 minutes, on a 2-core machine.

Usage::

    python benchmarks/bench_calibration.py                       # in this process
    python benchmarks/bench_calibration.py --executor dask       # local Dask cluster
    python benchmarks/bench_calibration.py --scheduler tcp://host:8786   # existing cluster
    python benchmarks/bench_calibration.py --out /tmp/calibration.csv    # keep the frame

Prints seconds, the GLMM failure count and the `recommend` paragraph.
"""

from __future__ import annotations

import argparse
import time

from scipy import special

from analysis.stats.calibration import (
    default_grid,
    fit_glmm_batch,
    recommend,
    run_calibration,
    simulate_counts,
)

FIVE = [4, 8, 12, 20, 30]
OBSERVED_N = [43, 4, 1, 3, 22, 28, 5]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=["local", "dask"], default="local")
    parser.add_argument("--scheduler", default=None,
                        help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument("--out", default=None, help="write the default-grid frame as CSV")
    args = parser.parse_args(argv)
    executor = "dask" if args.scheduler else args.executor

    events = simulate_counts(FIVE, mu=float(special.logit(0.8)), tau2=0.5,
                             replicates=args.replicates, seed=20261123)
    start = time.perf_counter()
    fit = fit_glmm_batch(events, FIVE)
    glmm_s = time.perf_counter() - start
    print(f"GLMM, {args.replicates} replicates x {len(FIVE)} studies: {glmm_s:.2f} s "
          f"({int((~fit['converged']).sum())} not converged)")

    start = time.perf_counter()
    frame = run_calibration(**default_grid(OBSERVED_N), executor=executor,
                            scheduler=args.scheduler)
    grid_s = time.perf_counter() - start
    print(f"full default grid ({frame.scenario.nunique()} scenarios x "
          f"{frame.method.nunique()} methods, executor={executor}): {grid_s:.2f} s")
    if args.out:
        frame.to_csv(args.out, index=False)
    print(recommend(frame))


if __name__ == "__main__":
    main()
