"""Simulation-based calibration of the pooling methods for this evidence's own design.

With a handful of tiny case series, a nominal 95% interval can cover far less (or far
more) than 95% of the time. `run_calibration` simulates many replicate evidence bases
from the binomial-normal model (Hamza, van Houwelingen & Stijnen 2008)
``x_i ~ Binomial(n_i, expit(mu + tau z_i))``, ``z_i ~ N(0, 1)``, with the observed study
sizes and with other plausible designs, over a grid of true pooled proportions and
between-study variances; fits every pooling method to every replicate; and reports
the coverage of the confidence interval (CI) and prediction interval (PI), the median
width, the bias and the failure and degeneracy rates, each with its Monte Carlo
standard error (Morris, White & Crowther 2019).

Every fit is vectorised across replicates, the GLMM included: `fit_glmm_batch` fits
the same adaptive Gauss-Hermite (AGHQ) approximation as `analysis.glmm.fit_glmm` to all
replicates at once by a damped Newton method, and the inverse-variance methods solve
their tau^2 estimating equations (as `analysis.heterogeneity` defines them) by
vectorised bisection. Results are seeded and reproducible byte for byte: scenario
``i`` of a grid draws from ``numpy.random.SeedSequence([seed, i])``, whatever executor
runs it.

Running on a cluster
--------------------
``executor="dask"`` sends one task per scenario to Dask (Rocklin 2015). By default a
``distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False)`` is
started and closed for the call. To use an existing cluster, start a scheduler and
workers on machines that have this compendium installed (``pip install -e .`` plus
``pip install "dask[distributed]"``)::

    dask scheduler                       # on the head node, listens on :8786
    dask worker tcp://host:8786          # on every worker machine

and pass its address::

    run_calibration(**default_grid(n), executor="dask", scheduler="tcp://host:8786")

or, from the command line, ``python benchmarks/bench_calibration.py --scheduler
tcp://host:8786``. The frame is identical to ``executor="local"`` for the same seed.

References
----------
.. [1] Hamza, T. H., van Houwelingen, H. C., & Stijnen, T. (2008). The binomial
   distribution of meta-analysis was preferred to model within-study variability.
   Journal of Clinical Epidemiology, 61(1), 41-51.
   https://doi.org/10.1016/j.jclinepi.2007.03.016
.. [2] Morris, T. P., White, I. R., & Crowther, M. J. (2019). Using simulation studies
   to evaluate statistical methods. Statistics in Medicine, 38(11), 2074-2102.
   https://doi.org/10.1002/sim.8086
.. [3] Rocklin, M. (2015). Dask: parallel computation with blocked algorithms and task
   scheduling. Proceedings of the 14th Python in Science Conference, 126-132.
   https://doi.org/10.25080/Majora-7b98e3ed-013
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from ._validation import check_choice, check_confidence_level
from .glmm import _gh_rule, _lchoose
from .proportions import _ci_bounds, back_transform, transform_proportion

__all__ = [
    "CALIBRATION_METHODS",
    "DEFAULT_METHODS",
    "clopper_pearson_coverage",
    "default_grid",
    "fit_glmm_batch",
    "fit_iv_batch",
    "recommend",
    "run_calibration",
    "simulate_counts",
]

_SQRT2 = float(np.sqrt(2.0))
_LOG_SQRT_2PI = 0.5 * float(np.log(2.0 * np.pi))
# Newton on (mu, tau): stop when every coordinate of the step is below this (logit
# units); the gradient is analytic, so the optimum is located to ~1e-12.
_NEWTON_XTOL = 1e-10
_NEWTON_MAXITER = 200
# A replicate whose |tau| exceeds this is diverging (ML tau -> infinity, e.g. every
# study at 0% or 100% but not all on the same side): not converged.
_TAU_MAX = 30.0
# Boundary rule of analysis.glmm.fit_glmm: tau below this, or a boundary fit whose
# log-likelihood is within this of the interior one, is reported as tau = 0.
_TAU_BOUNDARY = 1e-6
_LL_BOUNDARY = 1e-10

# method -> (family, measure, tau2 method, ci rule)
_SPECS: dict[str, tuple[str, str | None, str | None, str]] = {
    "glmm": ("glmm", "logit", None, "z"),
    "glmm-t": ("glmm", "logit", None, "t"),
    "study-clopper-pearson": ("study", None, None, "exact"),
}
for _measure, _short in (("logit", "logit"), ("freeman-tukey", "ft")):
    _SPECS[f"common-{_short}"] = ("common", _measure, None, "wald")
    for _t2, _t2short in (("dersimonian-laird", "dl"), ("reml", "reml"), ("paule-mandel", "pm")):
        _SPECS[f"random-{_short}-{_t2short}"] = ("random", _measure, _t2, "wald")
        _SPECS[f"random-{_short}-{_t2short}-hk"] = ("random", _measure, _t2, "knapp-hartung")

CALIBRATION_METHODS: tuple[str, ...] = tuple(_SPECS)
DEFAULT_METHODS: tuple[str, ...] = (
    "glmm", "glmm-t", "random-logit-reml", "random-logit-dl", "random-logit-reml-hk",
    "random-ft-reml", "random-ft-dl", "common-logit", "study-clopper-pearson",
)
EXECUTORS: tuple[str, ...] = ("local", "dask")


# --------------------------------------------------------------------------- simulation
def _rng(seed) -> np.random.Generator:
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.Generator(np.random.PCG64(ss))


def _simulate(n, mu, tau2, replicates, seed):
    """Events (R, k), true study proportions (R, k) and a new study's proportion (R,)."""
    m = np.asarray(n, dtype=np.int64)
    rng = _rng(seed)
    tau = float(np.sqrt(tau2))
    z = rng.standard_normal((replicates, m.size))
    z_new = rng.standard_normal(replicates)
    p_study = special.expit(mu + tau * z)
    events = rng.binomial(np.broadcast_to(m, p_study.shape), p_study)
    return events.astype(np.int64), p_study, special.expit(mu + tau * z_new)


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
        Seed of a ``numpy.random.Generator(PCG64)``; `run_calibration` passes
        ``SeedSequence([seed, scenario])``.

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
    return _simulate(n, mu, tau2, int(replicates), seed)[0]


# ------------------------------------------------------------------------ batched GLMM
def _modes(x, n, mu, tau, u):
    """Conditional modes of ``h(u) = log f(x | u) - u^2/2``, as `glmm._conditional_modes`."""
    for _ in range(100):
        p = special.expit(mu + tau * u)
        step = np.clip((tau * (x - n * p) - u) / (tau * tau * n * p * (1.0 - p) + 1.0), -5, 5)
        u = u + step
        if u.size == 0 or np.max(np.abs(step)) < 1e-12:
            break
    p = special.expit(mu + tau * u)
    a = n * p * (1.0 - p)
    return u, p, a, tau * tau * a + 1.0


def _start_modes(x, n, mu, tau):
    y = np.log((x + 0.5) / (n - x + 0.5))
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.clip((y - mu) / tau, -8.0, 8.0)
    return np.where(tau != 0.0, u, 0.0)


def _loglik_batch(mu, tau, x, n, const, rule, u0=None, *, gradient=False):
    """AGHQ log-likelihood (R,) of each replicate, optionally its analytic gradient (R, 2).

    The same approximation as `analysis.glmm._loglik` (which it equals for ``tau >= 0``;
    it is even in tau). The gradient differentiates through the conditional modes and
    scales by the implicit-function theorem.
    """
    t, logw = rule
    mu_, tau_ = mu[:, None], tau[:, None]
    if u0 is None:
        u0 = _start_modes(x, n, mu_, tau_)
    u, p, a, curv = _modes(x, n, mu_, tau_, u0)
    s = 1.0 / np.sqrt(curv)
    v = u[..., None] + _SQRT2 * s[..., None] * t
    eta = mu_[..., None] + tau_[..., None] * v
    log1pe = np.logaddexp(0.0, eta)
    e = logw + x[..., None] * eta - n[..., None] * log1pe - 0.5 * v * v
    emax = np.max(e, axis=-1, keepdims=True)
    ex = np.exp(e - emax)
    sx = np.sum(ex, axis=-1)
    li = np.log(_SQRT2 * s) - _LOG_SQRT_2PI + emax[..., 0] + np.log(sx)
    ll = np.sum(li, axis=-1) + const
    if not gradient:
        return ll, u
    w = ex / sx[..., None]
    r = x[..., None] - n[..., None] * np.exp(eta - log1pe)
    hprime = tau_[..., None] * r - v
    du_dmu = -tau_ * a / curv
    du_dtau = ((x - n * p) - tau_ * a * u) / curv
    da = a * (1.0 - 2.0 * p)
    dlogs_dmu = -0.5 * tau_ * tau_ * da * (1.0 + tau_ * du_dmu) / curv
    dlogs_dtau = -0.5 * (2.0 * tau_ * a + tau_ * tau_ * da * (u + tau_ * du_dtau)) / curv
    tt = _SQRT2 * t * s[..., None]
    dv_dmu = du_dmu[..., None] + tt * dlogs_dmu[..., None]
    dv_dtau = du_dtau[..., None] + tt * dlogs_dtau[..., None]
    g_mu = dlogs_dmu + np.sum(w * (r + hprime * dv_dmu), axis=-1)
    g_tau = dlogs_dtau + np.sum(w * (v * r + hprime * dv_dtau), axis=-1)
    return ll, u, np.stack([g_mu.sum(-1), g_tau.sum(-1)], axis=-1)


def _newton(x, n, const, rule, mu0, tau0):
    """Damped Newton ascent on (mu, tau) for all replicates; returns theta, ll, ok."""
    theta = np.stack([mu0, tau0], axis=-1)
    ll, u, g = _loglik_batch(theta[:, 0], theta[:, 1], x, n, const, rule, gradient=True)
    done = np.zeros(len(mu0), dtype=bool)
    ok = np.zeros(len(mu0), dtype=bool)
    for _ in range(_NEWTON_MAXITER):
        idx = np.flatnonzero(~done)
        if idx.size == 0:
            break
        th, xi, ni, ci, ui, gi, lli = theta[idx], x[idx], n[idx], const[idx], u[idx], g[idx], ll[idx]
        # Hessian by forward differences of the analytic gradient.
        hstep = 1e-5 * np.maximum(1.0, np.abs(th))
        hess = np.empty((idx.size, 2, 2))
        for j in range(2):
            tj = th.copy()
            tj[:, j] += hstep[:, j]
            hess[:, :, j] = (_loglik_batch(tj[:, 0], tj[:, 1], xi, ni, ci, rule, ui,
                                           gradient=True)[2] - gi) / hstep[:, j : j + 1]
        a, b, c = hess[:, 0, 0], 0.5 * (hess[:, 0, 1] + hess[:, 1, 0]), hess[:, 1, 1]
        lam = 0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b * b)
        shift = np.where(lam > -1e-8, lam + np.maximum(1e-2, 1e-3 * (np.abs(a) + np.abs(c))), 0.0)
        a, c = a - shift, c - shift
        det = a * c - b * b
        step = -np.stack([c * gi[:, 0] - b * gi[:, 1], a * gi[:, 1] - b * gi[:, 0]], -1) / det[:, None]
        step /= np.maximum(1.0, np.max(np.abs(step), axis=-1))[:, None]
        slope = np.sum(step * gi, axis=-1)
        alpha = np.ones(idx.size)
        accepted = np.zeros(idx.size, dtype=bool)
        new_th, new_ll, new_u, new_g = th.copy(), lli.copy(), ui.copy(), gi.copy()
        for _ls in range(40):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            trial = th[todo] + alpha[todo, None] * step[todo]
            lt, ut, gt = _loglik_batch(trial[:, 0], trial[:, 1], xi[todo], ni[todo], ci[todo],
                                       rule, ui[todo], gradient=True)
            good = np.isfinite(lt) & (lt >= lli[todo] + 1e-4 * alpha[todo] * slope[todo])
            sel = todo[good]
            new_th[sel], new_ll[sel], new_u[sel], new_g[sel] = trial[good], lt[good], ut[good], gt[good]
            accepted[sel] = True
            alpha[todo[~good]] *= 0.5
        moved = np.max(np.abs(alpha[:, None] * step), axis=-1)
        stalled = ~accepted  # no ascent possible at this precision: at the optimum
        finished = (accepted & (moved < _NEWTON_XTOL) & (shift == 0.0)) | stalled
        theta[idx], ll[idx], u[idx], g[idx] = new_th, new_ll, new_u, new_g
        scale = np.maximum(1.0, np.abs(lli))
        ok[idx] = finished & (np.max(np.abs(new_g), axis=-1) < 1e-6 * scale)
        diverged = np.abs(new_th[:, 1]) > _TAU_MAX
        done[idx] = finished | diverged
        ok[idx[diverged]] = False
    return theta, ll, ok


def _se_mu_batch(mu, tau, x, n, const, rule, at_boundary):
    """SE of mu from the finite-difference Hessian of -loglik, as `glmm._se_mu`."""
    def f(a, b):  # fit_glmm's _loglik treats tau <= 0 as the common-effect model
        return -_loglik_batch(a, np.maximum(b, 0.0), x, n, const, rule)[0]

    hm = 1e-4 * np.maximum(1.0, np.abs(mu))
    ht = 1e-4 * np.maximum(1.0, tau)
    f0 = f(mu, tau)
    d2mu = (f(mu + hm, tau) - 2 * f0 + f(mu - hm, tau)) / hm**2
    d2t = (f(mu, tau + ht) - 2 * f0 + f(mu, tau - ht)) / ht**2
    d2mt = (f(mu + hm, tau + ht) - f(mu + hm, tau - ht) - f(mu - hm, tau + ht)
            + f(mu - hm, tau - ht)) / (4 * hm * ht)
    var = d2t / (d2mu * d2t - d2mt**2)
    var = np.where(at_boundary | ~np.isfinite(var) | (var <= 0), 1.0 / d2mu, var)
    return np.sqrt(var)


def fit_glmm_batch(events, n, *, n_agq: int = 7) -> dict[str, np.ndarray]:
    """Fit the binomial-normal GLMM to many replicate evidence bases at once.

    The model and approximation of `analysis.glmm.fit_glmm` (Stijnen, Hamza & Ozdemir
    2010): maximum likelihood over ``(mu, tau >= 0)`` with each study's likelihood
    integrated by adaptive Gauss-Hermite quadrature centred at the conditional mode and
    scaled by the conditional SD (Pinheiro & Bates 1995). All replicates are fitted
    together by a damped Newton ascent with the analytic gradient of the AGHQ
    log-likelihood and a finite-difference Hessian (arrays of shape ``(R, k, n_agq)``),
    from fit_glmm's start, followed by fit_glmm's check against the ``tau = 0``
    boundary and its standard error.

    Parameters
    ----------
    events : array_like of int, shape (R, k)
        Events per replicate and study (``k >= 2``).
    n : array_like of int, shape (k,) or (R, k)
        Study sizes.
    n_agq : int
        Quadrature nodes (7 as metafor/lme4; 1 = Laplace).

    Returns
    -------
    dict of numpy.ndarray, each of shape (R,)
        ``mu`` (logit scale), ``se``, ``tau2``, ``loglik``, ``converged`` and
        ``at_boundary``. Failed replicates have ``converged = False`` and NaN estimates.

    Notes
    -----
    The log-likelihood is even in tau, so the Newton iteration runs unconstrained over
    ``tau`` in R and reports ``|tau|``. A replicate with every study at 0% (or every
    study at 100%) has no finite ML estimate and is marked not converged without being
    fitted; so is one whose tau diverges (``|tau| > 30``) or whose gradient does not
    vanish.

    Examples
    --------
    >>> fit = fit_glmm_batch([[3, 5, 9], [0, 0, 0]], [4, 8, 12])
    >>> fit["converged"].tolist()
    [True, False]
    """
    x = np.atleast_2d(np.asarray(events, dtype=float))
    m = np.broadcast_to(np.asarray(n, dtype=float), x.shape)
    if x.shape[1] < 2:
        raise ValueError("fit_glmm_batch needs at least two studies per replicate")
    if not isinstance(n_agq, int | np.integer) or not 1 <= int(n_agq) <= 50:
        raise ValueError(f"n_agq must be an integer between 1 and 50; got {n_agq!r}")
    nrep = x.shape[0]
    out = {key: np.full(nrep, np.nan) for key in ("mu", "se", "tau2", "loglik")}
    out["converged"] = np.zeros(nrep, dtype=bool)
    out["at_boundary"] = np.zeros(nrep, dtype=bool)
    tot_x, tot_n = x.sum(1), m.sum(1)
    fit = np.flatnonzero((tot_x > 0) & (tot_x < tot_n))
    if fit.size == 0:
        return out
    xf, mf = x[fit], np.ascontiguousarray(m[fit])
    rule = _gh_rule(int(n_agq))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        const = np.sum(_lchoose(xf, mf), axis=1)
        pbar = tot_x[fit] / tot_n[fit]
        mu0 = np.log(pbar / (1.0 - pbar))
        y = np.log((xf + 0.5) / (mf - xf + 0.5))
        tau0 = np.maximum(np.std(y, axis=1), 0.1)
        theta, ll, ok = _newton(xf, mf, const, rule, mu0, tau0)
        mu, tau = theta[:, 0], np.abs(theta[:, 1])
        ll_b = _loglik_batch(mu0, np.zeros_like(mu0), xf, mf, const, rule)[0]
        bound = (tau < _TAU_BOUNDARY) | (ll_b >= ll - _LL_BOUNDARY)
        mu, tau = np.where(bound, mu0, mu), np.where(bound, 0.0, tau)
        ll = np.where(bound, ll_b, ll)
        se = _se_mu_batch(mu, tau, xf, mf, const, rule, bound)
    ok = (ok | bound) & np.isfinite(mu) & np.isfinite(se) & (tau <= _TAU_MAX)
    for key, val in (("mu", mu), ("se", se), ("tau2", tau * tau), ("loglik", ll)):
        out[key][fit] = np.where(ok, val, np.nan)
    out["converged"][fit] = ok
    out["at_boundary"][fit] = bound & ok
    return out


# ------------------------------------------------------------- batched inverse variance
def _iv_effects(x, m, measure):
    """Effects and variances with metafor's "only0" correction (1/2 on logit, none on FT)."""
    if measure == "logit":
        add = np.where((x == 0) | (x == m), 0.5, 0.0)
        return transform_proportion(x + add, m + 2 * add, measure="logit")
    return transform_proportion(x, m, measure=measure)


def _wmean(y, w):
    return np.sum(w * y, axis=1) / np.sum(w, axis=1)


def _score(kind, t2, y, v):
    w = 1.0 / (v + t2[:, None])
    res2 = (y - _wmean(y, w)[:, None]) ** 2
    if kind == "reml":  # heterogeneity._score_reml
        sw = np.sum(w, axis=1)
        return np.sum(w * w * res2, axis=1) - (sw - np.sum(w * w, axis=1) / sw)
    return np.sum(w * res2, axis=1) - (y.shape[1] - 1)  # heterogeneity._excess_q_pm


def _tau2_batch(y, v, method):
    """tau^2 per replicate (truncated at 0), as `analysis.heterogeneity.tau2`."""
    k = y.shape[1]
    if method == "dersimonian-laird":
        w = 1.0 / v
        q = np.sum(w * (y - _wmean(y, w)[:, None]) ** 2, axis=1)
        c = np.sum(w, axis=1) - np.sum(w * w, axis=1) / np.sum(w, axis=1)
        return np.maximum(0.0, (q - (k - 1)) / c)
    kind = "reml" if method == "reml" else "pm"
    out = np.zeros(y.shape[0])
    pos = np.flatnonzero(_score(kind, np.zeros(y.shape[0]), y, v) > 0.0)
    if pos.size == 0:
        return out
    yp, vp = y[pos], v[pos]
    lo = np.zeros(pos.size)
    hi = np.maximum(1.0, 10.0 * np.var(yp, axis=1) + np.max(vp, axis=1))
    for _ in range(200):  # bracket as heterogeneity._positive_root
        up = _score(kind, hi, yp, vp) >= 0.0
        if not up.any():
            break
        hi = np.where(up, 2.0 * hi, hi)
    for _ in range(2000):  # bisection to adjacent floating-point numbers
        mid = 0.5 * (lo + hi)
        active = (mid > lo) & (mid < hi)
        if not active.any():
            break
        right = _score(kind, mid, yp, vp) > 0.0
        lo = np.where(active & right, mid, lo)
        hi = np.where(active & ~right, mid, hi)
    out[pos] = 0.5 * (lo + hi)
    return out


def fit_iv_batch(events, n, *, measure="logit", model="random", tau2_method="reml",
                 ci_method="wald", confidence_level=0.95) -> dict[str, np.ndarray]:
    """Inverse-variance pooling of many replicate evidence bases at once.

    What `analysis.pooling.pool_proportions` computes for ``model="random"`` or
    ``"common"`` (metafor ``rma.uni``), vectorised over replicates: effects by
    `analysis.proportions.transform_proportion` with the 1/2 continuity correction for
    0% and 100% studies on the logit scale and none for Freeman-Tukey; tau^2 by
    DerSimonian & Laird (1986), REML (Viechtbauer 2005) or Paule & Mandel (1982), the
    iterative ones by bisection on their estimating equations; Wald or Knapp & Hartung
    (2003) intervals; the prediction interval ``mu +- crit sqrt(se^2 + tau2)``. Pooled
    Freeman-Tukey values are back-transformed by Miller (1978) with the harmonic-mean n.

    Parameters
    ----------
    events : array_like of int, shape (R, k)
    n : array_like of int, shape (k,) or (R, k)
    measure : {"logit", "freeman-tukey", "arcsine", "raw"}
    model : {"random", "common"}
    tau2_method : {"dersimonian-laird", "reml", "paule-mandel"}
    ci_method : {"wald", "knapp-hartung"}
    confidence_level : float

    Returns
    -------
    dict of numpy.ndarray, each of shape (R,)
        ``estimate``, ``se``, ``tau2``, ``ci_low``, ``ci_high``, ``pi_low``, ``pi_high``
        on the analysis scale; ``proportion``, ``proportion_ci_low``, ... on the
        proportion scale. The PI is NaN for the common-effect model.

    Examples
    --------
    >>> fit = fit_iv_batch([[3, 5, 9]], [4, 8, 12], tau2_method="dersimonian-laird")
    >>> bool(fit["proportion_ci_low"][0] < fit["proportion"][0] < fit["proportion_ci_high"][0])
    True
    """
    check_choice("measure", measure, ("logit", "freeman-tukey", "arcsine", "raw"))
    check_choice("model", model, ("random", "common"))
    check_choice("tau2_method", tau2_method, ("dersimonian-laird", "reml", "paule-mandel"))
    check_choice("ci_method", ci_method, ("wald", "knapp-hartung"))
    level = check_confidence_level(confidence_level)
    x = np.atleast_2d(np.asarray(events, dtype=float))
    m = np.broadcast_to(np.asarray(n, dtype=float), x.shape)
    k = x.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        y, v = _iv_effects(x, m, measure)
        t2 = np.zeros(x.shape[0]) if model == "common" else _tau2_batch(y, v, tau2_method)
        w = 1.0 / (v + t2[:, None])
        mu = _wmean(y, w)
        se = np.sqrt(1.0 / np.sum(w, axis=1))
        alpha = 1.0 - level
        if ci_method == "knapp-hartung" and k > 1:
            se = se * np.sqrt(np.sum(w * (y - mu[:, None]) ** 2, axis=1) / (k - 1))
            crit = float(stats.t.ppf(1 - alpha / 2, k - 1))
        else:
            crit = float(stats.norm.ppf(1 - alpha / 2))
        half_pi = crit * np.sqrt(se**2 + t2)
        if model == "common" or k < 2:
            half_pi = np.full_like(mu, np.nan)
    out = {"estimate": mu, "se": se, "tau2": t2, "ci_low": mu - crit * se,
           "ci_high": mu + crit * se, "pi_low": mu - half_pi, "pi_high": mu + half_pi}
    back_n = 1.0 / np.mean(1.0 / m, axis=1) if measure == "freeman-tukey" else None
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        bt = back_transform(out[key], measure=measure, n=back_n)
        name = "proportion" if key == "estimate" else f"proportion_{key}"
        out[name] = np.where(np.isnan(out[key]), np.nan, bt)
    return out


# ----------------------------------------------------------------------- exact reference
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


# ---------------------------------------------------------------------------- the study
def _summary(covered_ci, covered_pi, width_ci, width_pi, err, ok, tau2_zero):
    """Rows' statistics for one method; `ok` marks replicates with an interval."""
    total = ok.size
    n_ok = int(ok.sum())
    rows = {}
    for interval, covered, width in (("ci", covered_ci, width_ci), ("pi", covered_pi, width_pi)):
        if covered is None:
            continue
        c = float(np.mean(covered[ok])) if n_ok else float("nan")
        rows[interval] = {
            "coverage": c,
            "mcse": float(np.sqrt(c * (1 - c) / n_ok)) if n_ok else float("nan"),
            "median_width": float(np.median(width[ok])) if n_ok else float("nan"),
            "bias": float(np.median(err[ok])) if n_ok else float("nan"),
            "mean_bias": float(np.mean(err[ok])) if n_ok else float("nan"),
            "failure_rate": 1.0 - n_ok / total,
            "degenerate_rate": float(np.mean(tau2_zero[ok])) if (n_ok and tau2_zero is not None)
            else float("nan"),
            "replicates": total,
            "replicates_ok": n_ok,
        }
    return rows


def _evaluate(method, events, n, p_study, p_new, true_p, level, glmm_fit):
    family, measure, tau2_method, rule = _SPECS[method]
    k = events.shape[1]
    alpha = 1.0 - level
    if family == "study":
        low, high = _ci_bounds(events.ravel(), np.broadcast_to(n, events.shape).ravel(),
                               "clopper-pearson", level)
        ps = p_study.ravel()
        ok = np.ones(ps.size, dtype=bool)
        return _summary((low <= ps) & (ps <= high), None, high - low, None,
                        events.ravel() / np.broadcast_to(n, events.shape).ravel() - ps, ok, None)
    if family == "glmm":
        fit = glmm_fit
        crit = stats.t.ppf(1 - alpha / 2, k - 1) if rule == "t" else stats.norm.ppf(1 - alpha / 2)
        ok = fit["converged"]
        mu, se, t2 = fit["mu"], fit["se"], fit["tau2"]
        with np.errstate(invalid="ignore"):
            half_pi = crit * np.sqrt(se**2 + t2)
        est = special.expit(mu)
        lo, hi = special.expit(mu - crit * se), special.expit(mu + crit * se)
        plo, phi = special.expit(mu - half_pi), special.expit(mu + half_pi)
        zero = fit["at_boundary"]
    else:
        fit = fit_iv_batch(events, n, measure=measure, model=family,
                           tau2_method=tau2_method or "reml",
                           ci_method="knapp-hartung" if rule == "knapp-hartung" else "wald",
                           confidence_level=level)
        est, lo, hi = fit["proportion"], fit["proportion_ci_low"], fit["proportion_ci_high"]
        plo, phi = fit["proportion_pi_low"], fit["proportion_pi_high"]
        ok = np.isfinite(lo) & np.isfinite(hi)
        zero = None if family == "common" else fit["tau2"] == 0.0
    cov_pi = None if family == "common" else (plo <= p_new) & (p_new <= phi)
    return _summary((lo <= true_p) & (true_p <= hi), cov_pi, hi - lo,
                    None if cov_pi is None else phi - plo, est - true_p, ok, zero)


def _run_scenario(index, sizes, n, mu, tau2, replicates, seed, methods, level, n_agq):
    """All methods on one scenario; list of row dicts. Pure: same inputs, same rows."""
    m = np.asarray(n, dtype=np.int64)
    events, p_study, p_new = _simulate(m, mu, tau2, replicates, np.random.SeedSequence([seed, index]))
    true_p = float(special.expit(mu))
    glmm_fit = None
    if any(_SPECS[meth][0] == "glmm" for meth in methods):
        glmm_fit = fit_glmm_batch(events, m, n_agq=n_agq)
    rows = []
    for method in methods:
        res = _evaluate(method, events, m, p_study, p_new, true_p, level, glmm_fit)
        if method == "study-clopper-pearson":  # R evidence bases, R * k study intervals
            res["ci"]["replicates"] = int(replicates)
        for interval, stats_ in res.items():
            rows.append({"scenario": index, "sizes": sizes, "k": int(m.size),
                         "true_p": round(true_p, 12), "mu": float(mu), "tau2": float(tau2),
                         "method": method, "interval": interval, **stats_})
    return rows


def default_grid(observed_n: Sequence[int]) -> dict:
    """The default calibration grid around this evidence.

    Study-size scenarios: the observed sizes, five small series ``[4, 8, 12, 20, 30]``
    and a mix with case reports ``[1, 1, 3, 10, 40]``; true median proportions 0.5, 0.7,
    0.85 and 0.95 (as logits in ``mu_grid``); tau^2 of 0, 0.5 and 1.5 on the logit
    scale; 2000 replicates. Pass it on with ``run_calibration(**default_grid(n))``.

    Examples
    --------
    >>> sorted(default_grid([43, 4, 1]))
    ['mu_grid', 'n_sizes', 'replicates', 'tau2_grid']
    """
    return {
        "n_sizes": {
            "observed": [int(v) for v in observed_n],
            "five small series": [4, 8, 12, 20, 30],
            "with case reports": [1, 1, 3, 10, 40],
        },
        "mu_grid": [float(special.logit(p)) for p in (0.5, 0.7, 0.85, 0.95)],
        "tau2_grid": [0.0, 0.5, 1.5],
        "replicates": 2000,
    }


def run_calibration(
    n_sizes: dict[str, Sequence[int]],
    *,
    mu_grid: Sequence[float],
    tau2_grid: Sequence[float],
    replicates: int = 2000,
    seed: int = 20261123,
    methods: Sequence[str] = DEFAULT_METHODS,
    confidence_level: float = 0.95,
    n_agq: int = 7,
    executor: str = "local",
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Coverage, width, bias and failure rates of each pooling method, by simulation.

    For every scenario (study sizes x true mu x true tau^2), `replicates` evidence bases
    are drawn by `simulate_counts` and every method is fitted to all of them (Morris,
    White & Crowther 2019). The CI's target is the median proportion ``expit(mu)``,
    which the GLMM's back-transformed mu estimates; the PI's target is a new study's
    true proportion ``expit(mu + tau z_new)``, drawn per replicate; the per-study
    Clopper-Pearson reference targets each study's own true proportion.

    Parameters
    ----------
    n_sizes : dict of str to list of int
        Named study-size designs (each with at least two studies).
    mu_grid, tau2_grid : sequence of float
        True mean logit and between-study variance (logit scale).
    replicates : int
        Replicate evidence bases per scenario.
    seed : int
        Base seed; scenario ``i`` uses ``SeedSequence([seed, i])``.
    methods : sequence of str
        Any of `CALIBRATION_METHODS`:

        * "glmm", "glmm-t" -- binomial-normal GLMM (Wald z or t(k-1) quantiles).
        * "common-logit", "common-ft" -- inverse-variance common effect.
        * "random-<logit|ft>-<dl|reml|pm>[-hk]" -- inverse-variance random effects
          with DerSimonian-Laird, REML or Paule-Mandel tau^2, Wald or (``-hk``) Knapp &
          Hartung intervals.
        * "study-clopper-pearson" -- exact per-study interval (reference).
    confidence_level : float
    n_agq : int
        GLMM quadrature nodes.
    executor : {"local", "dask"}
        Run scenarios in this process, or as Dask tasks (see the module docstring).
    scheduler : str, optional
        Address of an existing Dask scheduler (``"tcp://host:8786"``); default a
        local two-worker cluster. Only with ``executor="dask"``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario x method x interval ("ci", "pi"; common-effect and
        per-study methods have no PI), sorted by scenario, then `methods` order, then
        interval. Columns: ``scenario`` (index), ``sizes``, ``k``, ``true_p``, ``mu``,
        ``tau2``, ``method``, ``interval``, ``coverage``, ``mcse``
        (``sqrt(c (1 - c) / replicates_ok)``; for the per-study reference over the
        ``replicates_ok`` study intervals), ``median_width`` (proportion scale),
        ``bias`` (median of estimate - ``true_p``) and ``mean_bias``, both of the point
        estimate and repeated on its PI row, ``failure_rate`` (no interval),
        ``degenerate_rate`` (tau^2 estimated 0, among fitted replicates; NaN where not
        estimated), ``replicates`` and ``replicates_ok``.

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
    level = check_confidence_level(confidence_level)
    if scheduler is not None and executor != "dask":
        raise ValueError('scheduler is only used with executor="dask"')
    if int(replicates) < 1:
        raise ValueError(f"replicates must be at least 1; got {replicates!r}")
    tasks = []
    for name, sizes in n_sizes.items():
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes {name!r} need at least two studies of size >= 1")
        for mu in mu_grid:
            for tau2 in tau2_grid:
                if tau2 < 0:
                    raise ValueError(f"tau2 must be >= 0; got {tau2!r}")
                tasks.append((len(tasks), str(name), [int(s) for s in sizes], float(mu),
                              float(tau2), int(replicates), int(seed), tuple(methods), level,
                              int(n_agq)))
    if executor == "dask":
        results = _run_dask(tasks, scheduler)
    else:
        results = [_run_scenario(*task) for task in tasks]
    frame = pd.DataFrame([row for rows in results for row in rows])
    order = {meth: i for i, meth in enumerate(methods)}
    frame = frame.assign(_m=frame.method.map(order)).sort_values(
        ["scenario", "_m", "interval"], kind="mergesort").drop(columns="_m")
    return frame.reset_index(drop=True)


def _run_dask(tasks, scheduler):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'executor="dask" needs dask.distributed: pip install "dask[distributed]"'
        ) from err

    def submit(client):
        futures = [client.submit(_run_scenario, *task, pure=False) for task in tasks]
        return client.gather(futures)

    if scheduler is not None:
        with Client(scheduler) as client:
            return submit(client)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return submit(client)


def recommend(frame: pd.DataFrame, *, sizes: str = "observed", nominal: float = 0.95) -> str:
    """One paragraph: which CI is closest to nominal for a design, and which under-cover.

    Over the scenarios of `sizes`, each pooling method's CI is scored by its mean
    absolute distance from `nominal` coverage; among methods within half a percentage
    point of the best score the narrowest (median of the median widths) is named. A
    method under-covers when its coverage is more than 2.5 points below nominal in at
    least one scenario. Every number is computed from `frame`.

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
    n_scen = ci.scenario.nunique()
    stats_ = ci.assign(dev=(ci.coverage - nominal).abs()).groupby("method", sort=False).agg(
        dev=("dev", "mean"), mean_cov=("coverage", "mean"), min_cov=("coverage", "min"),
        max_cov=("coverage", "max"), width=("median_width", "median"),
        fail=("failure_rate", "mean"))
    best_dev = stats_.dev.min()
    near = stats_[stats_.dev <= best_dev + 0.005]
    best = near.width.idxmin()
    b = stats_.loc[best]
    worst = ci[ci.method == best].sort_values("coverage", kind="mergesort").iloc[0]
    text = (
        f"For the observed study sizes (k = {int(ci.k.iloc[0])}), across {n_scen} scenarios "
        f"of true proportion and tau^2 ({int(ci.replicates.iloc[0])} replicates each), the CI "
        f"of {best} comes closest to nominal {nominal:.0%} coverage without being wider than "
        f"needed: mean coverage {b.mean_cov:.3f} (range {b.min_cov:.3f}-{b.max_cov:.3f}, "
        f"lowest at true p = {worst.true_p:.2f}, tau^2 = {worst.tau2:g}), median width "
        f"{b.width:.3f}"
    )
    text += f", no interval in {b.fail:.1%} of replicates. " if b.fail > 0 else ". "
    wider = near.drop(index=best)
    if not wider.empty:
        text += "Equally close but wider: " + "; ".join(
            f"{m} (mean coverage {r.mean_cov:.3f}, median width {r.width:.3f})"
            for m, r in wider.iterrows()) + ". "
    under = stats_[(stats_.min_cov < nominal - 0.025)].drop(index=best, errors="ignore")
    if under.empty:
        text += "No other method's coverage falls more than 2.5 points below nominal."
    else:
        parts = []
        for m, r in under.sort_values("min_cov", kind="mergesort").iterrows():
            low = ci[ci.method == m].sort_values("coverage", kind="mergesort").iloc[0]
            parts.append(f"{m} (mean {r.mean_cov:.3f}, as low as {r.min_cov:.3f} at true "
                         f"p = {low.true_p:.2f}, tau^2 = {low.tau2:g})")
        text += ("Under-covering (more than 2.5 points below nominal in some scenario): "
                 + "; ".join(parts) + ".")
    pi = sub[sub.interval == "pi"]
    if not pi.empty:
        pdev = pi.assign(dev=(pi.coverage - nominal).abs()).groupby("method", sort=False).agg(
            dev=("dev", "mean"), mean_cov=("coverage", "mean"), min_cov=("coverage", "min"))
        pb = pdev.dev.idxmin()
        text += (f" For a new study's proportion, the PI of {pb} is closest to nominal "
                 f"(mean coverage {pdev.loc[pb, 'mean_cov']:.3f}, lowest "
                 f"{pdev.loc[pb, 'min_cov']:.3f}).")
    return text
