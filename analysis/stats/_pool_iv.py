"""Inverse-variance pooling (metafor ``rma.uni``): the effects kernel and the proportions path.

`pool_effects_iv` pools effects on their analysis scale (also used by the two-group
engine); `_pool_iv_proportions` is the ``model="random"``/``"common"`` branch of
`analysis.stats.pooling.pool_proportions`, with back-transformation and its warnings;
`_with_hts_pi` replaces a prediction interval by the t(k - 2) one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._dist import chi2_sf, t_ppf
from ._validation import check_confidence_level
from .heterogeneity import (
    h_squared,
    i_squared,
    i_squared_q,
    q_statistic,
    tau2_ci_qprofile,
)
from .heterogeneity import tau2 as estimate_tau2
from .intervals import iv_pool
from .proportions import back_transform, ft_harmonic_mean_n
from .results import ConfidenceInterval, Heterogeneity, PooledProportion

# Freeman-Tukey back-transformation warning: the pooled value back-transformed with the
# harmonic-mean n and with the arithmetic-mean n differ by more than this many
# proportion points, or by more than this fraction of the latter (METHODS.md 3.7).
_FT_ABS_TOL = 0.005
_FT_REL_TOL = 0.10


def _p_two_sided_chi2(q: float, df: int) -> float | None:
    if df < 1 or not np.isfinite(q):
        return None
    return float(chi2_sf(q, df))


def pool_effects_iv(
    effect,
    variance,
    *,
    model: str = "random",
    tau2_method: str = "reml",
    ci_method: str = "wald",
    confidence_level: float = 0.95,
) -> dict:
    """Inverse-variance pooling of effects on their analysis scale (metafor ``rma.uni``).

    Returns a dict with ``estimate``, ``se``, ``ci`` (tuple), ``pi`` (tuple or None),
    ``tau2``, ``weights`` (percent) and ``heterogeneity`` (`Heterogeneity`).

    ``ci_method``: "wald" uses normal quantiles (metafor ``test="z"``); "t" uses t
    quantiles with ``k - 1`` df and the unadjusted variance (metafor ``test="t"``);
    "knapp-hartung" (Knapp & Hartung 2003) multiplies the variance of the estimate by
    ``sum w (y - mu)^2 / (k - 1)`` and uses t quantiles with ``k - 1`` df, without
    truncation (metafor ``test="knha"``). The same quantile serves the CI and the
    prediction interval ``mu +- crit * sqrt(se^2 + tau2)`` (metafor ``predict``).
    With one study there are no df: normal quantiles are used.
    """
    level = check_confidence_level(confidence_level)
    y = np.asarray(effect, dtype=float)
    v = np.asarray(variance, dtype=float)
    k = y.size
    q = q_statistic(y, v) if k > 1 else float("nan")
    df = k - 1
    t2 = 0.0 if model == "common" else estimate_tau2(y, v, method=tau2_method)
    fit = iv_pool(y[None, :], v[None, :], np.array([t2]), ci_method=ci_method,
                  confidence_level=level)
    w = fit["weights"][0]
    mu, se = float(fit["estimate"][0]), float(fit["se"][0])
    ci = (float(fit["ci_low"][0]), float(fit["ci_high"][0]))
    pi = None
    if model != "common" and k > 1:
        pi = (float(fit["pi_low"][0]), float(fit["pi_high"][0]))
    i2q = i_squared_q(q, df) if k > 1 else None
    if model == "common":
        i2, h2 = i2q, (q / df if k > 1 else None)
        t2_ci = i2_ci = None
        tau2_out = None
    else:
        tau2_out = t2
        if k > 1:
            i2 = i_squared(t2, v)
            h2 = h_squared(t2, v)
            lo, hi = tau2_ci_qprofile(y, v, confidence_level=level)
            t2_ci = ConfidenceInterval(lo, hi, level)
            i2_ci = ConfidenceInterval(i_squared(lo, v), i_squared(hi, v), level)
        else:
            i2 = h2 = None
            t2_ci = i2_ci = None
    het = Heterogeneity(
        k=k,
        q=q if k > 1 else None,
        df=df,
        q_pvalue=_p_two_sided_chi2(q, df),
        tau2=tau2_out,
        tau2_ci=t2_ci,
        i2=i2,
        i2_ci=i2_ci,
        i2_q=i2q,
        h2=h2,
    )
    return {
        "estimate": mu,
        "se": se,
        "ci": ci,
        "pi": pi,
        "tau2": t2,
        "weights": 100.0 * w / np.sum(w),
        "heterogeneity": het,
    }


def _with_hts_pi(res: PooledProportion, measure: str, back_n) -> PooledProportion:
    """Replace the prediction interval by the t(k - 2) one (None for k <= 2)."""
    k = res.k
    tau2 = res.heterogeneity.tau2
    if res.estimate is None or tau2 is None:
        return res
    notes = list(res.warnings)
    if k <= 2:
        notes.append("prediction interval not given: t(k - 2) has no degrees of freedom for k <= 2")
        return dataclasses.replace(res, pi=None, proportion_pi=None, pi_method="hts",
                                   warnings=tuple(notes))
    level = res.confidence_level
    crit = float(t_ppf(1 - (1 - level) / 2, k - 2))
    half = crit * float(np.sqrt(res.se**2 + tau2))
    lo, hi = res.estimate - half, res.estimate + half
    p_lo = float(back_transform(lo, measure=measure, n=back_n))
    p_hi = float(back_transform(hi, measure=measure, n=back_n))
    return dataclasses.replace(res, pi=ConfidenceInterval(lo, hi, level),
                               proportion_pi=ConfidenceInterval(p_lo, p_hi, level), pi_method="hts")


def _pool_iv_proportions(x, m, studies, model, measure, tau2_method, ci_method, level,
                         study_ci_method, add, correction_policy, pi_method) -> PooledProportion:
    """The inverse-variance branch of `pool_proportions` (options already checked)."""
    warnings: list[str] = []
    fit = pool_effects_iv(
        studies.effect, studies.variance, model=model,
        tau2_method=tau2_method, ci_method=ci_method, confidence_level=level,
    )
    if x.size == 1:
        warnings.append(
            "only one study: no between-study variance, heterogeneity or prediction "
            "interval can be estimated; the pooled value is that study's own estimate"
        )
    back_n = None
    bt_text = {
        "logit": "inverse logit",
        "log": "exponential",
        "arcsine": "sin^2",
        "raw": "identity (clipped to [0, 1])",
    }.get(measure)
    if measure == "freeman-tukey":
        back_n = ft_harmonic_mean_n(m)
        bt_text = f"Miller (1978) inverse with harmonic-mean n = {back_n:.4g}"
        p_hm = float(back_transform(fit["estimate"], measure=measure, n=back_n))
        p_am = float(back_transform(fit["estimate"], measure=measure, n=float(np.mean(m))))
        if abs(p_hm - p_am) > _FT_ABS_TOL and abs(p_hm - p_am) > _FT_REL_TOL * max(p_am, 1e-12):
            warnings.append(
                f"Freeman-Tukey back-transformation depends on the n used: {p_hm:.4f} with "
                f"the harmonic mean n ({back_n:.1f}) versus {p_am:.4f} with the arithmetic "
                f"mean ({float(np.mean(m)):.1f}); study sizes differ too much for this "
                "transformation (Schwarzer et al. 2019): prefer the GLMM or the logit scale"
            )
    if measure == "raw":
        lo, hi = fit["ci"]
        if lo < 0 or hi > 1 or (fit["pi"] is not None and (fit["pi"][0] < 0 or fit["pi"][1] > 1)):
            warnings.append("raw-scale interval extends beyond [0, 1] and is shown clipped")

    def bt(val):
        return float(back_transform(val, measure=measure, n=back_n))

    weights = fit["weights"] if model != "glmm" else np.full(x.size, np.nan)
    studies = studies.assign(weight=weights)
    pi = fit["pi"]
    res = PooledProportion(
        model=model,
        measure=measure,
        tau2_method=tau2_method if model == "random" else None,
        ci_method=ci_method,
        confidence_level=level,
        study_ci_method=study_ci_method,
        correction=add,
        correction_policy=correction_policy,
        n_agq=None,
        estimate=fit["estimate"],
        se=fit["se"],
        ci=ConfidenceInterval(*fit["ci"], level),
        pi=None if pi is None else ConfidenceInterval(*pi, level),
        proportion=bt(fit["estimate"]),
        proportion_ci=ConfidenceInterval(bt(fit["ci"][0]), bt(fit["ci"][1]), level),
        proportion_pi=None if pi is None else ConfidenceInterval(bt(pi[0]), bt(pi[1]), level),
        back_transform=bt_text,
        heterogeneity=fit["heterogeneity"],
        table=studies,
        warnings=tuple(warnings),
    )
    return _with_hts_pi(res, measure, back_n) if pi_method == "hts" and model == "random" else res
