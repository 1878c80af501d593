"""Between-study heterogeneity: Q, tau^2 estimators, the Q-profile interval, I^2, H^2.

Formulas are those of metafor's ``rma.uni`` for an intercept-only model (Viechtbauer
2005, 2007, 2010). The iterative estimators (REML, ML, Paule-Mandel) are solved as
roots of their estimating equations with Brent's method to machine precision, where
metafor iterates Fisher scoring to ``threshold = 1e-5`` by default; the difference is
therefore bounded by metafor's own tolerance (the pinned R values are generated with
``threshold = 1e-12``).
"""

from __future__ import annotations

import numpy as np

from ._dist import chi2_ppf
from ._roots import brentq_rows
from ._validation import TAU2_METHODS, Tau2Method, check_choice, check_confidence_level

__all__ = [
    "h_squared",
    "i_squared",
    "i_squared_q",
    "q_statistic",
    "tau2",
    "tau2_ci_qprofile",
    "tau2_rows",
    "typical_variance",
]


def _wls(effect: np.ndarray, weights: np.ndarray):
    """Weighted mean over the last axis, keeping that axis (length 1)."""
    return np.sum(weights * effect, axis=-1, keepdims=True) / np.sum(weights, axis=-1, keepdims=True)


# Kernels on a batch: effects and variances of shape (..., k), tau^2 of shape (...);
# every statistic is computed along the last axis, so one row, a batch of replicate
# meta-analyses (`analysis.stats.batched`) and a grid of tau^2 values share the code.
def _q(t2, y, v):
    """Generalised Q at tau^2 (Cochran's Q at 0), shape (...)."""
    w = 1.0 / (v + t2[..., None])
    mu = _wls(y, w)
    return np.sum(w * (y - mu) ** 2, axis=-1)


def q_statistic(effect, variance, tau2: float = 0.0) -> float:
    """Cochran's Q, or the generalised Q at a given tau^2.

    ``Q(tau2) = sum w_i (y_i - mu_hat)^2`` with ``w_i = 1 / (v_i + tau2)`` and the
    weighted mean ``mu_hat``; ``tau2 = 0`` gives Cochran's Q.

    Examples
    --------
    >>> round(q_statistic([0.0, 1.0], [1.0, 1.0]), 4)
    0.5
    """
    y = np.asarray(effect, dtype=float)[None, :]
    v = np.asarray(variance, dtype=float)[None, :]
    return float(_q(np.array([float(tau2)]), y, v)[0])


def typical_variance(variance) -> float:
    """metafor's "typical" within-study variance ``(k - 1) / (sum w - sum w^2 / sum w)``.

    This is the denominator of metafor's random-effects I^2 and H^2 (Higgins & Thompson
    2002, eq. 9), with ``w = 1 / v``.
    """
    w = 1.0 / np.asarray(variance, dtype=float)
    k = w.size
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float((k - 1) / c) if k > 1 else float("nan")


def _tau2_dersimonian_laird(y, v):
    """DerSimonian & Laird (1986) moment estimator, truncated at 0."""
    w = 1.0 / v
    q = _q(np.zeros(y.shape[:-1]), y, v)
    c = np.sum(w, axis=-1) - np.sum(w**2, axis=-1) / np.sum(w, axis=-1)
    est = (q - (y.shape[-1] - 1)) / c
    return np.where(est > 0.0, est, 0.0)


def _score_reml(t2, y, v):
    # d logL_R / d tau2 * 2 = sum w^2 (y - mu)^2 - tr(P), tr(P) = sum w - sum w^2 / sum w
    w = 1.0 / (v + t2[..., None])
    mu = _wls(y, w)
    sw = np.sum(w, axis=-1)
    return np.sum(w**2 * (y - mu) ** 2, axis=-1) - (sw - np.sum(w**2, axis=-1) / sw)


def _score_ml(t2, y, v):
    w = 1.0 / (v + t2[..., None])
    mu = _wls(y, w)
    return np.sum(w**2 * (y - mu) ** 2, axis=-1) - np.sum(w, axis=-1)


def _excess_q_pm(t2, y, v):
    return _q(t2, y, v) - (y.shape[-1] - 1)


_BRENT = {"xtol": 1e-15, "rtol": 4 * np.finfo(float).eps, "maxiter": 500}


def _positive_root(f, y, v):
    """Per row: the root of f (positive at 0, negative for large tau^2), else 0."""
    out = np.zeros(y.shape[0])
    pos = np.flatnonzero(~(f(np.zeros(y.shape[0]), y, v) <= 0.0))
    if pos.size == 0:
        return out
    yp, vp = y[pos], v[pos]
    hi = np.maximum(1.0, 10.0 * np.var(yp, axis=-1) + np.max(vp, axis=-1))
    up = np.ones(pos.size, dtype=bool)
    for _ in range(200):
        idx = np.flatnonzero(up)
        if idx.size == 0:
            break
        up[idx] = ~(f(hi[idx], yp[idx], vp[idx]) < 0.0)
        hi[idx[up[idx]]] *= 2.0
    else:  # pragma: no cover - only for pathological inputs
        raise RuntimeError("tau^2 root could not be bracketed")
    out[pos] = brentq_rows(f, np.zeros(pos.size), hi, (yp, vp), **_BRENT)
    return out


def _loglik_reml(t2, y, v):
    w = 1.0 / (v + t2[..., None])
    mu = _wls(y, w)
    return -0.5 * (np.sum(np.log(v + t2[..., None]), axis=-1) + np.log(np.sum(w, axis=-1))
                   + np.sum(w * (y - mu) ** 2, axis=-1))


def _loglik_ml(t2, y, v):
    w = 1.0 / (v + t2[..., None])
    mu = _wls(y, w)
    return -0.5 * (np.sum(np.log(v + t2[..., None]), axis=-1) + np.sum(w * (y - mu) ** 2, axis=-1))


def _global_max(score, loglik, y, v):
    """Global maximiser over tau^2 >= 0, per row, of a likelihood whose score may have several roots.

    The (restricted) likelihood of the random-effects model can be bimodal with very
    unequal variances (e.g. two huge studies and three tiny ones), so the first sign
    change of the score is not enough: every local maximum on a log-spaced grid is refined
    with Brent's method and the one with the highest likelihood is returned (tau^2 = 0
    included when the score is negative there; the first of equal maxima).
    """
    nrow = y.shape[0]
    scale = np.maximum(np.maximum(np.var(y, axis=-1), np.max(v, axis=-1)), 1e-300)
    grid = np.concatenate([np.zeros((nrow, 1)),
                           np.geomspace(1e-12 * scale, 1e4 * scale, 161, axis=-1)], axis=-1)
    vals = score(grid, y[:, None, :], v[:, None, :])  # (rows, grid)
    rows, cols = np.nonzero((vals[:, :-1] > 0.0) & (vals[:, 1:] <= 0.0))
    roots = brentq_rows(score, grid[rows, cols], grid[rows, cols + 1], (y[rows], v[rows]),
                        **_BRENT) if rows.size else np.zeros(0)
    zero = np.flatnonzero(vals[:, 0] <= 0.0)
    cand_row = np.concatenate([zero, rows])
    cand_t2 = np.concatenate([np.zeros(zero.size), roots])
    cand_ll = loglik(cand_t2, y[cand_row], v[cand_row])
    order = np.concatenate([np.full(zero.size, -1), cols])
    # per row: the largest likelihood, the first candidate (0, then increasing tau^2) on ties
    srt = np.lexsort((order, -cand_ll, cand_row))
    first = srt[np.unique(cand_row[srt], return_index=True)[1]]
    out = np.full(nrow, np.nan)
    out[cand_row[first]] = cand_t2[first]
    rest = np.flatnonzero(np.isnan(out))
    if rest.size:  # score still positive at the grid's end: extend the bracket
        out[rest] = _positive_root(score, y[rest], v[rest])
    return out


def _tau2_reml(y, v):
    """Restricted maximum likelihood (Viechtbauer 2005), tau^2 >= 0, global maximum."""
    return _global_max(_score_reml, _loglik_reml, y, v)


def _tau2_ml(y, v):
    """Maximum likelihood (Viechtbauer 2005), tau^2 >= 0, global maximum."""
    return _global_max(_score_ml, _loglik_ml, y, v)


def _tau2_paule_mandel(y, v):
    """Paule & Mandel (1982): generalised Q equal to its expectation k - 1."""
    return _positive_root(_excess_q_pm, y, v)


_KERNELS = {
    "dersimonian-laird": _tau2_dersimonian_laird,
    "reml": _tau2_reml,
    "ml": _tau2_ml,
    "paule-mandel": _tau2_paule_mandel,
}


def tau2(effect, variance, *, method: Tau2Method = "reml") -> float:
    """Estimate the between-study variance tau^2 (truncated at 0).

    Parameters
    ----------
    effect, variance : array_like
        Study effects and their sampling variances (at least one study; with one study
        every estimator returns 0).
    method : {"dersimonian-laird", "reml", "paule-mandel", "ml"}
        * "dersimonian-laird" -- method of moments [1]_.
        * "reml" -- restricted maximum likelihood [2]_; the default, as in metafor.
        * "paule-mandel" -- generalised-Q moment estimator [3]_.
        * "ml" -- maximum likelihood [2]_.

    References
    ----------
    .. [1] DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials.
       Controlled Clinical Trials, 7(3), 177-188.
       https://doi.org/10.1016/0197-2456(86)90046-2
    .. [2] Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance
       estimators in the random-effects model. Journal of Educational and Behavioral
       Statistics, 30(3), 261-293. https://doi.org/10.3102/10769986030003261
    .. [3] Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors.
       Journal of Research of the National Bureau of Standards, 87(5), 377-385.
       https://doi.org/10.6028/jres.087.022

    Examples
    --------
    >>> y, v = [0.1, 0.5, 0.9], [0.01, 0.02, 0.03]
    >>> tau2(y, v, method="dersimonian-laird") > 0
    True
    """
    check_choice("tau2_method", method, TAU2_METHODS)
    y = np.asarray(effect, dtype=float)
    v = np.asarray(variance, dtype=float)
    if y.size < 2:
        return 0.0
    return float(_KERNELS[method](y[None, :], v[None, :])[0])


def tau2_rows(effect, variance, *, method: str = "reml") -> np.ndarray:
    """`tau2` of every row of (R, k) effects and variances at once, shape (R,).

    The same kernels as `tau2` (which is this on a batch of one); for simulations.

    Examples
    --------
    >>> y, v = [[0.1, 0.5, 0.9], [0.2, 0.2, 0.2]], [[0.01, 0.02, 0.03]] * 2
    >>> tau2_rows(y, v, method="dersimonian-laird").tolist()[1]
    0.0
    """
    check_choice("tau2_method", method, TAU2_METHODS)
    y = np.atleast_2d(np.asarray(effect, dtype=float))
    v = np.broadcast_to(np.asarray(variance, dtype=float), y.shape)
    if y.shape[-1] < 2:
        return np.zeros(y.shape[0])
    return _KERNELS[method](y, v)


def tau2_ci_qprofile(effect, variance, *, confidence_level: float = 0.95):
    """Q-profile confidence interval for tau^2 (Viechtbauer 2007), as metafor's confint.

    The limits solve ``Q(tau2) = chi2_{k-1, 1 - alpha/2}`` (lower) and
    ``Q(tau2) = chi2_{k-1, alpha/2}`` (upper); a limit is 0 when ``Q(0)`` is already
    below its critical value. Returns ``(low, high)``; ``(nan, nan)`` when ``k < 2``.

    Examples
    --------
    >>> lo, hi = tau2_ci_qprofile([0.1, 0.5, 0.9, 0.2], [0.01, 0.02, 0.03, 0.02])
    >>> 0 <= lo < hi
    True
    """
    level = check_confidence_level(confidence_level)
    y = np.asarray(effect, dtype=float)
    v = np.asarray(variance, dtype=float)
    k = y.size
    if k < 2:
        return float("nan"), float("nan")
    alpha = 1.0 - level
    crit_hi = chi2_ppf(1.0 - alpha / 2.0, k - 1)
    crit_lo = chi2_ppf(alpha / 2.0, k - 1)

    def solve(crit):
        f = lambda t2, yy, vv: _q(t2, yy, vv) - crit
        return float(_positive_root(f, y[None, :], v[None, :])[0])

    return solve(crit_hi), solve(crit_lo)


def i_squared(tau2_value: float, variance) -> float:
    """metafor's I^2 in percent: ``100 * tau2 / (tau2 + typical_variance(v))``."""
    vt = typical_variance(variance)
    return float(100.0 * tau2_value / (tau2_value + vt))


def h_squared(tau2_value: float, variance) -> float:
    """metafor's H^2: ``tau2 / typical_variance(v) + 1``."""
    return float(tau2_value / typical_variance(variance) + 1.0)


def i_squared_q(q: float, df: int) -> float:
    """Higgins & Thompson (2002) I^2 from Q, in percent, truncated at 0.

    Examples
    --------
    >>> i_squared_q(37.375, 13)
    65.21739130434783
    >>> i_squared_q(5.0, 13)
    0.0
    """
    if df < 1 or not np.isfinite(q) or q <= 0:
        return 0.0 if df >= 1 else float("nan")
    return float(max(0.0, 100.0 * (q - df) / q))
