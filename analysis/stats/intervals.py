"""Interval kernels shared by the scalar pooling functions and the batched simulation fits.

Every function works on arrays whose last axis holds the studies (effects) or on
per-fit arrays, so `analysis.stats.pooling` (one fit) and `analysis.stats.batched`
(many replicate fits) compute the same numbers with the same code.
"""

from __future__ import annotations

import numpy as np

from ._dist import norm_ppf, t_ppf

__all__ = ["critical_value", "iv_pool", "wald_intervals"]


def critical_value(confidence_level: float, df: int | None = None) -> float:
    """Two-sided quantile: normal, or Student t with `df` degrees of freedom.

    Examples
    --------
    >>> round(critical_value(0.95), 4), round(critical_value(0.95, df=4), 4)
    (1.96, 2.7764)
    """
    alpha = 1.0 - confidence_level
    if df is None:
        return float(norm_ppf(1 - alpha / 2))
    return float(t_ppf(1 - alpha / 2, df))


def wald_intervals(mu, se, tau2, crit):
    """``(ci_low, ci_high, pi_low, pi_high)``: ``mu +- crit se`` and the prediction interval
    ``mu +- crit sqrt(se^2 + tau2)`` (metafor ``predict``) on the analysis scale."""
    half_pi = crit * np.sqrt(se**2 + tau2)
    return mu - crit * se, mu + crit * se, mu - half_pi, mu + half_pi


def iv_pool(y, v, t2, *, ci_method: str, confidence_level: float) -> dict:
    """Inverse-variance pooled estimate and intervals for each row of (R, k) effects.

    ``t2`` (R,) is the between-study variance (0 for the common-effect model). Knapp &
    Hartung (2003): the variance of the estimate is multiplied by
    ``sum w (y - mu)^2 / (k - 1)`` and t quantiles with ``k - 1`` df are used, for the CI
    and the prediction interval, without truncation (metafor ``test="knha"``). ``"t"``
    uses t quantiles with ``k - 1`` df without the rescaling (metafor ``test="t"``).

    Returns a dict of (R,) arrays ``estimate``, ``se``, ``ci_low``, ``ci_high``,
    ``pi_low``, ``pi_high`` and the (R, k) ``weights`` ``1 / (v + t2)``.
    """
    k = y.shape[-1]
    w = 1.0 / (v + t2[..., None])
    mu = np.sum(w * y, axis=-1) / np.sum(w, axis=-1)
    se = np.sqrt(1.0 / np.sum(w, axis=-1))
    if ci_method == "knapp-hartung" and k > 1:
        s2 = np.sum(w * (y - mu[..., None]) ** 2, axis=-1) / (k - 1)
        se = se * np.sqrt(s2)
        crit = critical_value(confidence_level, k - 1)
    elif ci_method == "t" and k > 1:
        crit = critical_value(confidence_level, k - 1)
    else:
        crit = critical_value(confidence_level)
    lo, hi, plo, phi = wald_intervals(mu, se, t2, crit)
    return {"estimate": mu, "se": se, "ci_low": lo, "ci_high": hi, "pi_low": plo,
            "pi_high": phi, "weights": w}
