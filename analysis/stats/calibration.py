"""Simulation-based calibration of the pooling methods for an evidence base's own designs.

With a handful of tiny case series, a nominal 95% interval can cover far less (or far
more) than 95% of the time. `run_calibration` simulates many replicate evidence bases
for each scenario of a grid (designs x data-generating models, `analysis.stats.simulate`),
fits every pooling method to all of them at once with the engine's own kernels
(`analysis.stats.batched`), and reports each interval's coverage, width, bias and
failure rate, overall and where tau^2 is estimated as 0 (`analysis.stats.coverage`).
`select_primary` then applies a selection rule written in code.

This module is the entry point; the pieces live in `simulate` (designs, scenarios,
executors), `batched` (fits), `glmm_profile` (profile-likelihood interval) and
`coverage` (evaluation and the rule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ._validation import check_choice, check_confidence_level
from .batched import fit_glmm_batch, fit_iv_batch
from .coverage import (
    _SPECS,  # noqa: F401 - method -> (family, measure, tau^2, rule)
    BAYES_PRIOR,
    CALIBRATION_METHODS,
    DEFAULT_METHODS,
    FALLBACK_RULE,
    METHOD_LABELS,
    POST_HOC,
    RULE,
    describe_selection,
    evaluate_scenario,
    select_primary,
)
from .proportions import _ci_bounds
from .simulate import EXECUTORS, check_grid, default_grid, run_tasks, scenarios, simulate_counts

__all__ = [
    "BAYES_PRIOR",
    "CALIBRATION_METHODS",
    "DEFAULT_METHODS",
    "EXECUTORS",
    "FALLBACK_RULE",
    "METHOD_LABELS",
    "POST_HOC",
    "RULE",
    "clopper_pearson_coverage",
    "default_grid",
    "describe_design",
    "describe_selection",
    "fit_glmm_batch",
    "fit_iv_batch",
    "recommend",
    "run_calibration",
    "run_design",
    "select_primary",
    "simulate_counts",
]

def clopper_pearson_coverage(n: int, p: float, *, confidence_level: float = 0.95) -> float:
    """Exact coverage of the Clopper & Pearson (1934) interval for Binomial(n, p).

    ``sum_x P(X = x) 1{low(x) <= p <= high(x)}``, summed over ``x = 0..n``; at least
    `confidence_level` for every p, by construction.

    Examples
    --------
    >>> clopper_pearson_coverage(10, 0.3) >= 0.95
    True
    """
    level = check_confidence_level(confidence_level)
    xs = np.arange(int(n) + 1)
    low, high = _ci_bounds(xs, np.full(xs.size, n), "clopper-pearson", level)
    return float(np.sum(stats.binom.pmf(xs, n, p) * ((low <= p) & (p <= high))))


def run_calibration(
    n_sizes: dict[str, Sequence[int]],
    *,
    mu_grid: Sequence[float],
    tau2_grid: Sequence[float],
    misspecified: Sequence[dict] = (),
    replicates: int = 2000,
    seed: int = 20261123,
    methods: Sequence[str] = DEFAULT_METHODS,
    confidence_level: float = 0.95,
    n_agq: int = 7,
    executor: str = "local",
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Coverage, width, bias and failure rates of each pooling method, by simulation.

    For every scenario (`analysis.stats.simulate.scenarios`: each design by true mu by
    tau^2, then each misspecified model), `replicates` evidence bases are drawn and every
    method is fitted to all of them (Morris, White & Crowther 2019). The CI's target is
    the centre ``expit(E[logit p])`` of the true proportions, the PI's a new study's true
    proportion; the per-study Clopper-Pearson reference targets each study's own.

    Parameters
    ----------
    n_sizes : dict of str to list of int
        Named study-size designs (each with at least two studies).
    mu_grid, tau2_grid : sequence of float
        True mean logit and between-study variance (logit scale) of the binomial-normal
        scenarios.
    misspecified : sequence of dict
        Misspecified models run on every design, e.g. ``{"model": "mixture", "p": [0.4,
        0.75], "weight": 0.5, "tau2": 0.25}`` or ``{"model": "size-dependent", "p": 0.7,
        "slope": -0.5, "tau2": 0.5}``.
    replicates : int
        Replicate evidence bases per scenario.
    seed : int
        Base seed; scenario ``i`` uses ``SeedSequence([seed, i])``.
    methods : sequence of str
        Any of `CALIBRATION_METHODS`:

        * "glmm", "glmm-t", "glmm-profile" -- binomial-normal GLMM with Wald z, t(k-1) or
          profile-likelihood intervals.
        * "bayes-binomial", "bayes-normal" -- the Bayesian binomial-normal and
          normal-normal models (`BAYES_PRIOR`), equal-tailed credible intervals.
        * "common-logit", "common-ft" -- inverse-variance common effect.
        * "random-<logit|ft>-<dl|reml|pm>[-hk]" -- inverse-variance random effects
          with DerSimonian-Laird, REML or Paule-Mandel tau^2, Wald or (``-hk``) Knapp &
          Hartung intervals.
        * "study-clopper-pearson" -- exact per-study interval (reference).
    confidence_level : float
    n_agq : int
        GLMM quadrature nodes.
    executor : {"local", "dask"}
        Run scenarios on this machine, or as Dask tasks (see `analysis.stats.simulate`).
    jobs : int
        Local processes (``executor="local"``); 1 runs in this process.
    scheduler : str, optional
        Address of an existing Dask scheduler (``"tcp://host:8786"``); default a
        local two-worker cluster. Only with ``executor="dask"``.
    progress : callable, optional
        Called as ``progress(done, total)`` after each scenario.

    Returns
    -------
    pandas.DataFrame
        One row per scenario x method x interval ("ci", "pi"; the profile-likelihood,
        common-effect and per-study methods have no PI), sorted by scenario, then
        `methods` order, then interval. Columns: ``scenario``, ``sizes``, ``k``,
        ``model``, ``scenario_label``, ``true_p``, ``mu``, ``tau2``, ``method``,
        ``interval``, then the statistics of `analysis.stats.coverage`.

    Raises
    ------
    ValueError
        Unknown method or executor, fewer than two studies, negative tau^2.
    ImportError
        ``executor="dask"`` without ``dask.distributed`` installed.

    Examples
    --------
    >>> frame = run_calibration({"two": [5, 10]}, mu_grid=[0.0], tau2_grid=[0.0],
    ...                         replicates=50, methods=["random-logit-dl"])
    >>> frame.interval.tolist()
    ['ci', 'pi']
    """
    for method in methods:
        check_choice("method", method, CALIBRATION_METHODS)
    check_choice("executor", executor, EXECUTORS)
    level = check_grid(replicates, confidence_level)
    if scheduler is not None and executor != "dask":
        raise ValueError('scheduler is only used with executor="dask"')
    specs = scenarios(n_sizes, mu_grid, tau2_grid, misspecified)
    tasks = [(i, spec, int(replicates), int(seed), tuple(methods), level, int(n_agq))
             for i, spec in enumerate(specs)]
    results = run_tasks(evaluate_scenario, tasks, executor=executor, jobs=jobs,
                        scheduler=scheduler, progress=progress)
    frame = pd.DataFrame([row for rows in results for row in rows])
    order = {meth: i for i, meth in enumerate(methods)}
    frame = frame.assign(_m=frame.method.map(order)).sort_values(
        ["scenario", "_m", "interval"], kind="mergesort").drop(columns="_m")
    return frame.reset_index(drop=True)


def recommend(frame: pd.DataFrame, *, sizes: str = "observed", nominal: float = 0.95) -> str:
    """One paragraph on one design: which CI comes closest to nominal, which under-cover.

    Descriptive, for a single design (the written selection rule over the whole grid is
    `select_primary`). Over the scenarios of `sizes`, each pooling method's CI is scored
    by its mean absolute distance from `nominal` coverage; among methods within half a
    percentage point of the best score the narrowest (median of the median widths) is
    named. A method under-covers when its coverage is more than 2.5 points below nominal
    in at least one scenario. Every number is computed from `frame`.

    Examples
    --------
    >>> frame = run_calibration({"observed": [5, 10]}, mu_grid=[0.0], tau2_grid=[0.0],
    ...                         replicates=50, methods=["glmm", "random-logit-dl"])
    >>> recommend(frame).startswith("For the observed study sizes")
    True
    """
    sub = frame[(frame.sizes == sizes) & (frame.method != "study-clopper-pearson")]
    ci = sub[sub.interval == "ci"]
    if ci.empty:
        raise ValueError(f"no CI rows for sizes {sizes!r}")
    stats_ = ci.assign(dev=(ci.coverage - nominal).abs()).groupby("method", sort=False).agg(
        dev=("dev", "mean"), mean_cov=("coverage", "mean"), min_cov=("coverage", "min"),
        max_cov=("coverage", "max"), width=("median_width", "median"),
        fail=("failure_rate", "mean"))
    near = stats_[stats_.dev <= stats_.dev.min() + 0.005]
    best = near.width.idxmin()
    b = stats_.loc[best]
    worst = ci[ci.method == best].sort_values("coverage", kind="mergesort").iloc[0]
    text = (
        f"For the observed study sizes (k = {int(ci.k.iloc[0])}), across {ci.scenario.nunique()} "
        f"scenarios ({int(ci.replicates.iloc[0])} replicates each), the CI of {best} comes "
        f"closest to nominal {nominal:.0%} coverage without being wider than needed: mean "
        f"coverage {b.mean_cov:.3f} (range {b.min_cov:.3f}-{b.max_cov:.3f}, lowest at true "
        f"p = {worst.true_p:.2f}, tau^2 = {worst.tau2:g}), median width {b.width:.3f}"
    )
    text += f", no interval in {b.fail:.1%} of replicates. " if b.fail > 0 else ". "
    wider = near.drop(index=best)
    if not wider.empty:
        text += "Equally close but wider: " + "; ".join(
            f"{m} (mean coverage {r.mean_cov:.3f}, median width {r.width:.3f})"
            for m, r in wider.iterrows()) + ". "
    under = stats_[(stats_.min_cov < nominal - 0.025)].drop(index=best, errors="ignore")
    if under.empty:
        return text + "No other method's coverage falls more than 2.5 points below nominal."
    parts = [f"{m} (mean {r.mean_cov:.3f}, as low as {r.min_cov:.3f})"
             for m, r in under.sort_values("min_cov", kind="mergesort").iterrows()]
    return text + ("Under-covering (more than 2.5 points below nominal in some scenario): "
                   + "; ".join(parts) + ".")


def describe_design(design: dict, replicates: int, seed: int) -> str:
    """One sentence describing a design file's simulation, every number from `design`."""
    obs = next(d for d in design["designs"] if d["name"] == "observed")
    others = "; ".join(f"{d['name']}: {', '.join(map(str, d['n']))}, {d['source']}"
                       for d in design["designs"] if d["name"] != "observed")
    models = []
    for m in design["misspecified"]:
        if m["model"] == "mixture":
            w = m.get("weight", 0.5)
            models.append(f"a {100 * w:g}:{100 * (1 - w):g} mixture of studies around "
                          f"{m['p'][0]:.2f} and {m['p'][1]:.2f}")
        else:
            models.append(f"a proportion of {m['p']:.2f} at the geometric-mean study size that "
                          f"changes by {m['slope']:g} logits per e-fold of study size")
    true_p = ", ".join(f"{1 / (1 + np.exp(-mu)):.2f}" for mu in design["mu_grid"])
    return (f"Simulated from the binomial-normal model with the observed study sizes "
            f"({obs['source']}: {', '.join(map(str, obs['n']))}) and three few-study "
            f"designs ({others}), true proportions {true_p} and tau^2 "
            f"{', '.join(f'{t:g}' for t in design['tau2_grid'])} (logit scale), plus "
            f"misspecified models on every design ({'; '.join(models)}), "
            f"{replicates} replicates per scenario, seed {seed}. A failed fit counts as a miss.")


def run_design(design: dict, *, replicates: int | None = None, seed: int | None = None,
               executor: str = "local", jobs: int = 1, scheduler: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Run a calibration design (the dict of a design file) and select the primary method.

    `design` has ``designs`` (a list of ``{"name", "n", "source"}``, one named
    "observed"), ``mu_grid``, ``tau2_grid``, ``misspecified``, ``methods``,
    ``confidence_level``, ``n_agq``, ``replicates`` (the count the rule asks for) and
    ``seed``; `replicates` and `seed` override the last two for this run. Returns the
    JSON-safe content of calibration.json: the description, the selection by the written
    rule (`select_primary`) and its paragraph, and one row per scenario x method x interval.
    """
    replicates = int(replicates or design["replicates"])
    seed = int(design["seed"] if seed is None else seed)
    n_sizes = {d["name"]: d["n"] for d in design["designs"]}
    frame = run_calibration(
        n_sizes, mu_grid=design["mu_grid"], tau2_grid=design["tau2_grid"],
        misspecified=design["misspecified"], methods=design["methods"],
        confidence_level=design["confidence_level"], n_agq=design["n_agq"],
        replicates=replicates, seed=seed, executor=executor, jobs=jobs, scheduler=scheduler,
        progress=progress)
    sel = select_primary(frame, nominal=design["confidence_level"],
                         required_replicates=design["replicates"])
    return {
        "design": describe_design(design, replicates, seed),
        "observed_n": n_sizes["observed"], "designs": design["designs"],
        "replicates": replicates, "seed": seed,
        "methods": {m: METHOD_LABELS.get(m, m) for m in design["methods"]},
        "conditional": "coverage_tau0: coverage among the replicates where the binomial-normal "
                       "GLMM (ML) estimates tau^2 = 0; replicates_tau0 counts them.",
        "recommendation": describe_selection(sel), "selection": sel,
        "rows": frame.to_dict(orient="records"),
    }
