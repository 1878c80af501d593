"""The Bayesian branch of `analysis.stats.pooling.pool_proportions` (`analysis.stats.bayes`)."""

from __future__ import annotations

import numpy as np
from scipy import special

from .results import ConfidenceInterval, Heterogeneity, PooledProportion


def _pool_bayes(x, m, studies, level, study_ci_method, add, likelihood, tau_prior, mu_prior,
                threshold, posterior=None):
    """The fit's result; ``posterior`` is `posterior_proportions` of these data when it has
    been computed already (in a batch, by `pool_proportions_many`)."""
    from .bayes import mu_prior as parse_mu
    from .bayes import posterior_proportions, prior_label
    from .bayes import tau_prior as parse_tau

    tp, mp = parse_tau(tau_prior), parse_mu(mu_prior)
    r = posterior if posterior is not None else posterior_proportions(
        x, m, likelihood=likelihood, tau_prior=tp, mu_prior=mp, confidence_level=level,
        threshold=threshold)
    warnings = []
    if x.size == 1:
        warnings.append(
            "only one study: tau is informed by its prior alone, so the predictive interval "
            "mostly reflects the prior on tau")
    if np.all(x == 0) or np.all(x == m):
        warnings.append(
            f"every study has {'0%' if np.all(x == 0) else '100%'} events: the posterior of "
            "mu is bounded by the data on one side only and by its prior on the other")
    expit = special.expit
    lvl = level
    het = Heterogeneity(
        k=x.size, q=None, df=x.size - 1, q_pvalue=None, tau2=r["tau_median"] ** 2,
        tau2_ci=ConfidenceInterval(r["tau_low"] ** 2, r["tau_high"] ** 2, lvl), i2=None,
        i2_ci=None, i2_q=None, h2=None)
    return PooledProportion(
        model="bayes", measure="logit", tau2_method=None, ci_method="credible",
        confidence_level=lvl, study_ci_method=study_ci_method, correction=add,
        correction_policy="only0", n_agq=None, estimate=r["mu_median"], se=r["mu_sd"],
        ci=ConfidenceInterval(r["mu_low"], r["mu_high"], lvl),
        pi=ConfidenceInterval(r["pred_low"], r["pred_high"], lvl),
        proportion=float(expit(r["mu_median"])),
        proportion_ci=ConfidenceInterval(float(expit(r["mu_low"])), float(expit(r["mu_high"])), lvl),
        proportion_pi=ConfidenceInterval(float(expit(r["pred_low"])), float(expit(r["pred_high"])),
                                         lvl),
        back_transform="inverse logit of posterior quantiles", heterogeneity=het, table=studies,
        warnings=tuple(warnings), likelihood=likelihood, prior=prior_label(tp, mp),
        tau_median=r["tau_median"], tau_ci=ConfidenceInterval(r["tau_low"], r["tau_high"], lvl),
        threshold=None if threshold is None else float(threshold),
        prob_above=r.get("prob_above"), prior_spec=(tau_prior, mu_prior))
