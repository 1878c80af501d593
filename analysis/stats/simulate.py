"""Simulation designs, data-generating scenarios and the runner of the calibration study.

A *design* is a named list of study sizes; a *scenario* is a design with a model that
generates each study's true proportion:

* ``"binomial-normal"`` (the model every pooling method assumes; Hamza, van Houwelingen
  & Stijnen 2008): ``logit p_i = mu + tau z_i``, ``z_i ~ N(0, 1)``;
* ``"mixture"`` (misspecified): each study comes from population 1 with probability
  ``weight``, else population 2, each binomial-normal around its own proportion (e.g.
  viremia-only patients around 0.4, biopsy-proven nephropathy around 0.75);
* ``"size-dependent"`` (misspecified): ``logit p_i = mu + slope (log n_i - mean log n)
  + tau z_i``, so small studies report other proportions than large ones.

Then ``events_i ~ Binomial(n_i, p_i)``. The confidence interval's target is
``expit(E[logit p])`` over the studies of the design (``expit(mu)``; for the mixture
``expit(weight mu_1 + (1 - weight) mu_2)``), which every logit-scale method estimates
under its own model; the prediction interval's target is a new study's true
proportion, drawn from the same process (for the size-dependent model at the size of
a study of the design drawn at random).

`run_calibration` evaluates every method on every scenario (`analysis.stats.coverage`)
and returns one frame. Scenario ``i`` draws from ``numpy.random.SeedSequence([seed,
i])``, so results are reproducible byte for byte whichever executor runs them.

Running on a cluster
--------------------
``jobs=2`` runs the scenarios in two local processes (the standard library's process
pool). ``executor="dask"`` sends one task per scenario to Dask (Rocklin 2015). By default a
``distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False)`` is
started and closed for the call. To use an existing cluster, start a scheduler and
workers on machines that have this compendium installed (``pip install -e .`` plus
``pip install "dask[distributed]"``)::

    dask scheduler                       # on the head node, listens on :8786
    dask worker tcp://host:8786          # on every worker machine

and pass ``scheduler="tcp://host:8786"`` (or ``python -m analysis calibrate
--scheduler tcp://host:8786``). The frame is identical to ``executor="local"``.

References
----------
.. [1] Hamza, T. H., van Houwelingen, H. C., & Stijnen, T. (2008). The binomial
   distribution of meta-analysis was preferred to model within-study variability.
   Journal of Clinical Epidemiology, 61(1), 41-51.
   https://doi.org/10.1016/j.jclinepi.2007.03.016
.. [2] Rocklin, M. (2015). Dask: parallel computation with blocked algorithms and task
   scheduling. Proceedings of the 14th Python in Science Conference, 126-132.
   https://doi.org/10.25080/Majora-7b98e3ed-013
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import special

from ._validation import check_choice, check_confidence_level

__all__ = ["EXECUTORS", "SCENARIO_MODELS", "default_grid", "scenarios", "simulate",
           "simulate_counts"]

SCENARIO_MODELS: tuple[str, ...] = ("binomial-normal", "mixture", "size-dependent")
EXECUTORS: tuple[str, ...] = ("local", "dask")


def _rng(seed) -> np.random.Generator:
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.Generator(np.random.PCG64(ss))


def simulate(n, spec: dict, replicates: int, seed):
    """Events (R, k), true study proportions (R, k), a new study's proportion (R,) and the
    CI's target proportion, for one scenario `spec` (see `scenarios`)."""
    m = np.asarray(n, dtype=np.int64)
    rng = _rng(seed)
    shape = (int(replicates), m.size)
    model = spec.get("model", "binomial-normal")
    if model == "binomial-normal":
        tau = float(np.sqrt(spec["tau2"]))
        z = rng.standard_normal(shape)
        z_new = rng.standard_normal(shape[0])
        logit, logit_new, centre = spec["mu"] + tau * z, spec["mu"] + tau * z_new, spec["mu"]
    elif model == "mixture":
        (mu1, mu2), tau, w = spec["mus"], float(np.sqrt(spec["tau2"])), spec["weight"]
        first = rng.random(shape) < w
        z = rng.standard_normal(shape)
        first_new = rng.random(shape[0]) < w
        z_new = rng.standard_normal(shape[0])
        logit = np.where(first, mu1, mu2) + tau * z
        logit_new = np.where(first_new, mu1, mu2) + tau * z_new
        centre = w * mu1 + (1.0 - w) * mu2
    else:
        tau = float(np.sqrt(spec["tau2"]))
        c = np.log(m) - np.mean(np.log(m))
        z = rng.standard_normal(shape)
        z_new = rng.standard_normal(shape[0])
        pick = rng.integers(0, m.size, shape[0])
        logit = spec["mu"] + spec["slope"] * c + tau * z
        logit_new = spec["mu"] + spec["slope"] * c[pick] + tau * z_new
        centre = spec["mu"]
    p_study = special.expit(logit)
    events = rng.binomial(np.broadcast_to(m, shape), p_study)
    return events.astype(np.int64), p_study, special.expit(logit_new), float(special.expit(centre))


def simulate_counts(n, *, mu: float, tau2: float, replicates: int, seed) -> np.ndarray:
    """Draw replicate evidence bases from the binomial-normal model.

    Study ``i`` of replicate ``r`` has true logit ``mu + tau z_ri`` with
    ``z_ri ~ N(0, 1)`` and ``events ~ Binomial(n_i, expit(mu + tau z_ri))`` [1]_.

    Parameters
    ----------
    n : sequence of int
        Study sizes (k studies), the same in every replicate.
    mu, tau2 : float
        Mean and variance of the true study logits (``tau2 >= 0``).
    replicates : int
        Number of replicate evidence bases R.
    seed : int or numpy.random.SeedSequence
        Seed of a ``numpy.random.Generator(PCG64)``.

    Returns
    -------
    numpy.ndarray of int64, shape (R, k)

    Examples
    --------
    >>> simulate_counts([5, 10], mu=0.0, tau2=0.5, replicates=3, seed=1).shape
    (3, 2)
    """
    if tau2 < 0:
        raise ValueError(f"tau2 must be >= 0; got {tau2!r}")
    spec = {"model": "binomial-normal", "mu": float(mu), "tau2": float(tau2)}
    return simulate(n, spec, int(replicates), seed)[0]


def default_grid(observed_n: Sequence[int], designs: dict[str, Sequence[int]] | None = None
                 ) -> dict:
    """The default calibration grid around an evidence base.

    Designs: the observed sizes plus `designs` (by default two alternatives: five small
    series ``[4, 8, 12, 20, 30]`` and a mix with case reports ``[1, 1, 3, 10, 40]``).
    Binomial-normal scenarios: true median proportions 0.2, 0.5, 0.7, 0.85 and 0.95 (as
    logits in ``mu_grid``; every method here is symmetric in p and 1 - p, so 0.2 also
    stands for 0.8 and 0.95 for 0.05) by tau^2 of 0, 0.5 and 1.5 on the logit scale.
    Misspecified scenarios: a 50:50 mixture of studies around 0.4 and around 0.75
    (tau^2 0.25 within each), and a proportion of 0.7 at the geometric-mean study size
    falling by 0.5 logits per e-fold of study size (tau^2 0.5). 2000 replicates. Pass it
    on with ``run_calibration(**default_grid(n))``.

    Examples
    --------
    >>> sorted(default_grid([43, 4, 1]))
    ['misspecified', 'mu_grid', 'n_sizes', 'replicates', 'tau2_grid']
    """
    extra = designs if designs is not None else {
        "five small series": [4, 8, 12, 20, 30], "with case reports": [1, 1, 3, 10, 40]}
    return {
        "n_sizes": {"observed": [int(v) for v in observed_n],
                    **{str(k): [int(v) for v in sizes] for k, sizes in extra.items()}},
        "mu_grid": [float(special.logit(p)) for p in (0.2, 0.5, 0.7, 0.85, 0.95)],
        "tau2_grid": [0.0, 0.5, 1.5],
        "misspecified": [
            {"model": "mixture", "p": [0.4, 0.75], "weight": 0.5, "tau2": 0.25},
            {"model": "size-dependent", "p": 0.7, "slope": -0.5, "tau2": 0.5},
        ],
        "replicates": 2000,
    }


def _misspecified_spec(item: dict) -> dict:
    model = check_choice("model", item.get("model"), SCENARIO_MODELS[1:])
    tau2 = float(item.get("tau2", 0.0))
    if tau2 < 0:
        raise ValueError(f"tau2 must be >= 0; got {tau2!r}")
    if model == "mixture":
        p1, p2 = (float(v) for v in item["p"])
        w = float(item.get("weight", 0.5))
        if not (0 < p1 < 1 and 0 < p2 < 1 and 0 <= w <= 1):
            raise ValueError(f"mixture needs proportions in (0, 1) and a weight in [0, 1]: {item!r}")
        mus = (float(special.logit(p1)), float(special.logit(p2)))
        return {"model": model, "mus": mus, "weight": w, "tau2": tau2,
                "mu": w * mus[0] + (1 - w) * mus[1], "label": f"mixture {p1:g}/{p2:g}"}
    p = float(item["p"])
    if not 0 < p < 1:
        raise ValueError(f"size-dependent needs a proportion in (0, 1): {item!r}")
    return {"model": model, "mu": float(special.logit(p)), "slope": float(item["slope"]),
            "tau2": tau2, "label": f"size-dependent {p:g}, slope {float(item['slope']):g}"}


def scenarios(n_sizes: dict[str, Sequence[int]], mu_grid: Sequence[float],
              tau2_grid: Sequence[float], misspecified: Sequence[dict] = ()) -> list[dict]:
    """Every scenario of a grid, in order: per design, the binomial-normal grid (mu, then
    tau^2) and then the misspecified models. Each is a dict with ``sizes`` (the design's
    name), ``n``, ``model``, ``mu`` (the target's logit), ``tau2`` and model parameters."""
    out = []
    extra = [_misspecified_spec(item) for item in misspecified]
    for name, sizes in n_sizes.items():
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes {name!r} need at least two studies of size >= 1")
        n = [int(s) for s in sizes]
        for mu in mu_grid:
            for tau2 in tau2_grid:
                if tau2 < 0:
                    raise ValueError(f"tau2 must be >= 0; got {tau2!r}")
                out.append({"sizes": str(name), "n": n, "model": "binomial-normal",
                            "mu": float(mu), "tau2": float(tau2),
                            "label": f"p = {special.expit(mu):.2f}, tau^2 = {tau2:g}"})
        out += [{"sizes": str(name), "n": n, **spec} for spec in extra]
    return out


def _local(func, tasks, jobs, progress):
    total = len(tasks)
    if jobs <= 1:
        out = []
        for i, task in enumerate(tasks):
            out.append(func(*task))
            if progress is not None:
                progress(i + 1, total)
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: list = [None] * total
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(func, *task): i for i, task in enumerate(tasks)}
        for done, fut in enumerate(as_completed(futures), start=1):
            results[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, total)
    return results


def run_tasks(func: Callable, tasks: list[tuple], *, executor: str = "local", jobs: int = 1,
              scheduler: str | None = None, progress: Callable[[int, int], None] | None = None
              ) -> list:
    """``[func(*task) for task in tasks]``, in task order: in this process, in `jobs` local
    processes, or on Dask. `progress` is called with (done, total) after each task."""
    check_choice("executor", executor, EXECUTORS)
    if scheduler is not None and executor != "dask":
        raise ValueError('scheduler is only used with executor="dask"')
    if int(jobs) < 1:
        raise ValueError(f"jobs must be at least 1; got {jobs!r}")
    total = len(tasks)
    if executor == "local":
        return _local(func, tasks, int(jobs), progress)
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'executor="dask" needs dask.distributed: pip install "dask[distributed]"'
        ) from err

    def submit(client):
        futures = [client.submit(func, *task, pure=False) for task in tasks]
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, total)
        return client.gather(futures)

    if scheduler is not None:
        with Client(scheduler) as client:
            return submit(client)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return submit(client)


def check_grid(replicates: int, confidence_level: float) -> float:
    """Validate the replicate count and return the confidence level."""
    if int(replicates) < 1:
        raise ValueError(f"replicates must be at least 1; got {replicates!r}")
    return check_confidence_level(confidence_level)
