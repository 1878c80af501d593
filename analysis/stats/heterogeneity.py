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
from scipy import optimize, stats

from ._validation import TAU2_METHODS, Tau2Method, check_choice, check_confidence_level

__all__ = [
    "h_squared",
    "i_squared",
    "i_squared_q",
    "q_statistic",
    "tau2",
    "tau2_ci_qprofile",
    "typical_variance",
]


def _wls(effect: np.ndarray, weights: np.ndarray):
    """Weighted mean over the last axis (a float for 1-d input, an array for a grid)."""
    return np.sum(weights * effect, axis=-1, keepdims=True) / np.sum(weights, axis=-1, keepdims=True) \
        if np.ndim(weights) > 1 else float(np.sum(weights * effect) / np.sum(weights))


def q_statistic(effect, variance, tau2: float = 0.0) -> float:
    """Cochran's Q, or the generalised Q at a given tau^2.

    ``Q(tau2) = sum w_i (y_i - mu_hat)^2`` with ``w_i = 1 / (v_i + tau2)`` and the
    weighted mean ``mu_hat``; ``tau2 = 0`` gives Cochran's Q.

    Examples
    --------
    >>> round(q_statistic([0.0, 1.0], [1.0, 1.0]), 4)
    0.5
    """
    y = np.asarray(effect, dtype=float)
    w = 1.0 / (np.asarray(variance, dtype=float) + tau2)
    mu = _wls(y, w)
    return float(np.sum(w * (y - mu) ** 2))


def typical_variance(variance) -> float:
    """metafor's "typical" within-study variance ``(k - 1) / (sum w - sum w^2 / sum w)``.

    This is the denominator of metafor's random-effects I^2 and H^2 (Higgins & Thompson
    2002, eq. 9), with ``w = 1 / v``.
    """
    w = 1.0 / np.asarray(variance, dtype=float)
    k = w.size
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float((k - 1) / c) if k > 1 else float("nan")


def _tau2_dersimonian_laird(y, v) -> float:
    """DerSimonian & Laird (1986) moment estimator, truncated at 0."""
    w = 1.0 / v
    q = q_statistic(y, v)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float(max(0.0, (q - (y.size - 1)) / c))


def _score_reml(t2, y, v):
    # d logL_R / d tau2 * 2 = sum w^2 (y - mu)^2 - tr(P), tr(P) = sum w - sum w^2 / sum w
    # (t2 may be a column of grid values: sums run over the last axis)
    w = 1.0 / (v + t2)
    mu = _wls(y, w)
    sw = np.sum(w, axis=-1)
    return np.sum(w**2 * (y - mu) ** 2, axis=-1) - (sw - np.sum(w**2, axis=-1) / sw)


def _score_ml(t2, y, v):
    w = 1.0 / (v + t2)
    mu = _wls(y, w)
    return np.sum(w**2 * (y - mu) ** 2, axis=-1) - np.sum(w, axis=-1)


def _excess_q_pm(t2, y, v):
    return q_statistic(y, v, t2) - (y.size - 1)


def _positive_root(f, y, v) -> float:
    """Root of a function positive at 0 and negative for large tau^2, else 0."""
    if f(0.0, y, v) <= 0.0:
        return 0.0
    hi = max(1.0, 10.0 * float(np.var(y)) + float(np.max(v)))
    for _ in range(200):
        if f(hi, y, v) < 0.0:
            break
        hi *= 2.0
    else:  # pragma: no cover - only for pathological inputs
        raise RuntimeError("tau^2 root could not be bracketed")
    return float(optimize.brentq(f, 0.0, hi, args=(y, v), xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


def _loglik_reml(t2, y, v):
    w = 1.0 / (v + t2)
    mu = _wls(y, w)
    return -0.5 * (np.sum(np.log(v + t2)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))


def _loglik_ml(t2, y, v):
    w = 1.0 / (v + t2)
    mu = _wls(y, w)
    return -0.5 * (np.sum(np.log(v + t2)) + np.sum(w * (y - mu) ** 2))


def _global_max(score, loglik, y, v) -> float:
    """Global maximiser over tau^2 >= 0 of a likelihood whose score may have several roots.

    The (restricted) likelihood of the random-effects model can be bimodal with very
    unequal variances (e.g. two huge studies and three tiny ones), so the first sign
    change of the score is not enough: every local maximum on a log-spaced grid is refined
    with Brent's method and the one with the highest likelihood is returned (tau^2 = 0
    included when the score is negative there).
    """
    scale = max(float(np.var(y)), float(np.max(v)), 1e-300)
    grid = np.concatenate([[0.0], np.geomspace(1e-12 * scale, 1e4 * scale, 161)])
    vals = score(grid[:, None], y[None, :], v[None, :])  # vectorised over the grid
    candidates = [0.0] if vals[0] <= 0.0 else []
    for i in range(grid.size - 1):
        if vals[i] > 0.0 >= vals[i + 1]:
            candidates.append(float(optimize.brentq(score, grid[i], grid[i + 1], args=(y, v),
                                                    xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                                    maxiter=500)))
    if not candidates:  # score still positive at the grid's end: extend the bracket
        return _positive_root(score, y, v)
    return max(candidates, key=lambda t: loglik(t, y, v))


def _tau2_reml(y, v) -> float:
    """Restricted maximum likelihood (Viechtbauer 2005), tau^2 >= 0, global maximum."""
    return _global_max(_score_reml, _loglik_reml, y, v)


def _tau2_ml(y, v) -> float:
    """Maximum likelihood (Viechtbauer 2005), tau^2 >= 0, global maximum."""
    return _global_max(_score_ml, _loglik_ml, y, v)


def _tau2_paule_mandel(y, v) -> float:
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
    crit_hi = stats.chi2.ppf(1.0 - alpha / 2.0, k - 1)
    crit_lo = stats.chi2.ppf(alpha / 2.0, k - 1)

    def solve(crit):
        f = lambda t2, yy, vv: q_statistic(yy, vv, t2) - crit
        return _positive_root(f, y, v)

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
