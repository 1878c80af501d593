"""The GLMM branch of `analysis.stats.pooling.pool_proportions`.

The binomial-normal model is fitted by `analysis.stats.glmm.fit_glmm`; this module adds
the heterogeneity statistics (the Wald Q over the informative studies and the
likelihood-ratio Q), the t or normal Wald intervals, the profile-likelihood interval of
tau^2 (`analysis.stats.glmm_tau2_profile`) and the warnings a reader needs.
"""

from __future__ import annotations

import numpy as np

from ._pool_iv import _p_two_sided_chi2
from .glmm import common_logistic, fit_glmm, saturated_loglik
from .glmm_tau2_profile import tau2_ci_profile
from .heterogeneity import h_squared, i_squared, i_squared_q, q_statistic
from .intervals import critical_value, wald_intervals
from .proportions import back_transform
from .results import ConfidenceInterval, Heterogeneity, PooledProportion

# A GLMM tau^2 above this (tau > 4 logits: a between-study SD spanning 2% to 98% around
# 50%) only arises when most studies are at 0% or 100% (quasi-separation).
_TAU2_IMPLAUSIBLE = 16.0


def _q_statistics(x, m):
    """``(q_wald, df_wald, q_lrt)`` of the GLMM's heterogeneity tests (None for k = 1).

    The Wald test of the saturated model is Cochran's Q over studies with 0 < x < n, whose
    ML logits and variances are finite; a 0% or 100% study has an infinite ML logit with
    infinite variance and contributes 0 (glm's diverging fit contributes ~1e-6). Its
    degrees of freedom count the informative studies only (a study at 0% or 100% adds a
    parameter and no information), so df = (number with 0 < x < n) - 1; metafor reports
    k - 1. The likelihood-ratio Q keeps k - 1 df.
    """
    k = x.size
    _mu_fe, _se_fe, ll_fe = common_logistic(x, m)
    q_lrt = max(0.0, 2.0 * (saturated_loglik(x, m) - ll_fe)) if k > 1 and np.isfinite(ll_fe) else None
    inner = (x > 0) & (x < m)
    q_wald = None
    if k > 1:
        if inner.sum() >= 2:
            xi, mi = x[inner].astype(float), m[inner].astype(float)
            q_wald = q_statistic(np.log(xi / (mi - xi)), 1.0 / xi + 1.0 / (mi - xi))
        else:
            q_wald = 0.0
    return q_wald, max(int(inner.sum()) - 1, 0), q_lrt


def _heterogeneity(v, q_wald, df_wald, q_lrt, tau2, tau2_ci=None) -> Heterogeneity:
    k = v.size
    df = k - 1
    i2 = i_squared(tau2, v) if (k > 1 and tau2 is not None) else None
    h2 = h_squared(tau2, v) if (k > 1 and tau2 is not None) else None
    return Heterogeneity(
        k=k, q=q_wald, df=df_wald,
        q_pvalue=_p_two_sided_chi2(q_wald, df_wald) if q_wald is not None else None,
        tau2=tau2, tau2_ci=tau2_ci, i2=i2, i2_ci=None,
        i2_q=i_squared_q(q_wald, df_wald) if (q_wald is not None and df_wald > 0) else None, h2=h2,
        q_lrt=q_lrt, q_lrt_pvalue=_p_two_sided_chi2(q_lrt, df) if q_lrt is not None else None,
        q_lrt_df=df if q_lrt is not None else None,
    )


def _random_fit(x, m, n_agq, level, want_tau2_ci):
    """``(mu, se, tau2, tau2_ci, warnings)`` of the random-effects GLMM (k >= 2)."""
    warnings: list[str] = []
    fit = fit_glmm(x, m, n_agq=n_agq)
    mu, se, tau2 = fit.mu, fit.se, fit.tau2
    if not fit.converged:
        warnings.append(f"GLMM optimiser did not report convergence: {fit.message}")
    if tau2 > _TAU2_IMPLAUSIBLE:
        warnings.append(
            f"tau^2 = {tau2:.3g} on the logit scale is implausibly large: most studies sit at 0% "
            "or 100%, so the between-study variance is barely identifiable and the pooled CI "
            "and prediction interval are not informative"
        )
    if fit.at_boundary:
        warnings.append(
            "the ML estimate of tau^2 is 0: the random-effects GLMM coincides with the "
            "common-effect logistic model"
        )
    tau2_ci = None
    if want_tau2_ci:
        lo, hi = tau2_ci_profile(x, m, mu_hat=mu, tau2_hat=tau2, n_agq=n_agq, confidence_level=level)
        tau2_ci = ConfidenceInterval(lo, hi, level)
    if not np.isfinite(se):
        warnings.append(
            "the standard error of the pooled logit could not be computed (the likelihood is "
            "flat or not concave at its maximum to rounding error): no CI or prediction interval"
        )
    return mu, se, tau2, tau2_ci, warnings


def _pool_glmm(x, m, studies, measure, ci_method, level, study_ci_method, add, policy, n_agq,
               want_tau2_ci=True):
    k = x.size
    v = studies.variance
    q_wald, df_wald, q_lrt = _q_statistics(x, m)
    crit = critical_value(level, k - 1 if (ci_method == "t" and k > 1) else None)
    none_ci = ConfidenceInterval(None, None, level)
    common = {
        "model": "glmm", "measure": measure, "tau2_method": None, "ci_method": ci_method,
        "confidence_level": level, "study_ci_method": study_ci_method, "correction": add,
        "correction_policy": policy, "n_agq": n_agq, "back_transform": "inverse logit",
        "table": studies.assign(weight=np.full(k, np.nan)),
    }
    mu_fe, se_fe, _ll = common_logistic(x, m)
    if not np.isfinite(mu_fe):
        p = 0.0 if mu_fe < 0 else 1.0
        warning = (
            f"every study has {'0%' if p == 0 else '100%'} events: the logistic models have no "
            "finite maximum-likelihood estimate, so no pooled CI or prediction interval is "
            "given; read the per-study exact intervals"
        )
        return PooledProportion(
            **common, estimate=None, se=None, ci=none_ci, pi=None, proportion=p,
            proportion_ci=none_ci, proportion_pi=None,
            heterogeneity=_heterogeneity(v, q_wald, df_wald, q_lrt, None), warnings=(warning,),
        )
    if k == 1:
        warnings = [
            "only one study: the random-effects GLMM is not identifiable; the estimate is the "
            "study's own logistic fit; tau^2, I^2 and the prediction interval are not estimated"
        ]
        mu, se, tau2, tau2_ci = mu_fe, se_fe, None, None
    else:
        mu, se, tau2, tau2_ci, warnings = _random_fit(x, m, n_agq, level, want_tau2_ci)
    lo, hi, plo, phi = wald_intervals(mu, se, 0.0 if tau2 is None else tau2, crit)
    pi = None if tau2 is None else (plo, phi)

    def bt(val):
        return float(back_transform(val, measure="logit"))

    return PooledProportion(
        **common,
        estimate=mu,
        se=se,
        ci=ConfidenceInterval(lo, hi, level),
        pi=None if pi is None else ConfidenceInterval(*pi, level),
        proportion=bt(mu),
        proportion_ci=ConfidenceInterval(bt(lo), bt(hi), level),
        proportion_pi=None if pi is None else ConfidenceInterval(bt(pi[0]), bt(pi[1]), level),
        heterogeneity=_heterogeneity(v, q_wald, df_wald, q_lrt, tau2, tau2_ci),
        warnings=tuple(warnings),
    )
