"""Pooling: common-effect and random-effects inverse-variance models, and the GLMM.

`pool_proportions` is the one entry point for single proportions (two-group effects are
pooled by `analysis.stats.two_group.pool_two_group`, which reuses `pool_effects_iv`);
`leave_one_out` re-fits any of them without each study in turn.
"""

from __future__ import annotations

import dataclasses
import warnings as _warnings

import numpy as np
import pandas as pd
from scipy import special, stats

from ._validation import (
    CI_METHODS,
    MODELS,
    PI_METHODS,
    STUDY_CI_METHODS,
    TAU2_METHODS,
    CIMethod,
    CorrectionPolicy,
    Measure,
    Model,
    PIMethod,
    StudyCIMethod,
    Tau2Method,
    canonical,
    check_choice,
    check_confidence_level,
    check_counts,
)
from .effects import default_correction, effect_sizes
from .glmm import common_logistic, fit_glmm, saturated_loglik
from .glmm_tau2_profile import tau2_ci_profile
from .heterogeneity import (
    h_squared,
    i_squared,
    i_squared_q,
    q_statistic,
    tau2_ci_qprofile,
)
from .heterogeneity import tau2 as estimate_tau2
from .intervals import critical_value, iv_pool, wald_intervals
from .options import DEFAULTS
from .proportions import back_transform, ft_harmonic_mean_n, study_proportions
from .results import (
    ConfidenceInterval,
    Heterogeneity,
    LeaveOneOut,
    PooledProportion,
)

__all__ = ["leave_one_out", "pool_effects_iv", "pool_proportions"]

# Freeman-Tukey back-transformation warning: the pooled value back-transformed with the
# harmonic-mean n and with the arithmetic-mean n differ by more than this many
# proportion points, or by more than this fraction of the latter (METHODS.md 3.7).
_FT_ABS_TOL = 0.005
_FT_REL_TOL = 0.10
# A GLMM tau^2 above this (tau > 4 logits: a between-study SD spanning 2% to 98% around
# 50%) only arises when most studies are at 0% or 100% (quasi-separation).
_TAU2_IMPLAUSIBLE = 16.0


def _p_two_sided_chi2(q: float, df: int) -> float | None:
    if df < 1 or not np.isfinite(q):
        return None
    return float(stats.chi2.sf(q, df))


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


def pool_proportions(
    events,
    n,
    *,
    measure: Measure = DEFAULTS.measure,  # type: ignore[assignment]
    model: Model = DEFAULTS.model,  # type: ignore[assignment]
    tau2_method: Tau2Method = DEFAULTS.tau2_method,  # type: ignore[assignment]
    ci_method: CIMethod = DEFAULTS.ci_method,  # type: ignore[assignment]
    confidence_level: float = DEFAULTS.confidence_level,
    study_ci_method: StudyCIMethod = DEFAULTS.study_ci_method,  # type: ignore[assignment]
    correction: float | None = DEFAULTS.correction,
    correction_policy: CorrectionPolicy = DEFAULTS.correction_policy,  # type: ignore[assignment]
    n_agq: int = DEFAULTS.n_agq,
    pi_method: PIMethod = DEFAULTS.pi_method,  # type: ignore[assignment]
    study_ids=None,
    tau2_ci: bool = True,
    likelihood: str | None = None,
    tau_prior=None,
    mu_prior=None,
    threshold: float | None = None,
) -> PooledProportion:
    """Pool single proportions ``events / n`` across studies.

    The defaults are the report's primary method (`analysis.stats.options.DEFAULTS`):
    the binomial-normal GLMM [1]_ with t(k - 1) quantiles. The GLMM models the counts
    directly: it needs no continuity correction for 0% and 100% studies and no normal
    approximation for tiny studies, which is what case-series evidence is made of. The
    inverse-variance common- and random-effects models on a transformed scale (metafor's
    ``rma.uni``) are available for comparison and sensitivity analyses.

    Every method name also accepts metafor's spelling, in any letter case ("PLO", "PFT",
    "REML", "DL", "EE", "RE", "z", "t", "knha"; `analysis.stats._validation.ALIASES`).

    Parameters
    ----------
    events, n : array_like of int
        Patients with the outcome and patients, per study (metafor ``xi``, ``ni``).
    measure : {"logit", "freeman-tukey", "arcsine", "log", "raw"}
        Analysis scale for the inverse-variance models; the GLMM is on the logit scale
        and requires "logit" (the default).
    model : {"glmm", "random", "common", "bayes"}
        * "glmm" -- binomial-normal random-intercept logistic model, ML with adaptive
          Gauss-Hermite quadrature (`n_agq` nodes) [1]_; the default.
        * "random" -- inverse-variance random effects with `tau2_method`.
        * "common" -- inverse-variance common (fixed) effect.
        * "bayes" -- Bayesian random effects on the logit scale with exact quadrature
          posteriors (`analysis.stats.bayes`) [3]_: posterior median, equal-tailed
          credible and predictive intervals.
    tau2_method : {"reml", "dersimonian-laird", "paule-mandel", "ml"}
        Between-study variance estimator for ``model="random"`` (ignored otherwise; the
        GLMM's tau^2 is always ML); see `analysis.heterogeneity.tau2`.
    ci_method : {"t", "wald", "knapp-hartung"}
        * "t" -- t quantiles with k - 1 df (metafor ``test="t"``); the default.
        * "wald" -- normal quantiles (metafor ``test="z"``).
        * "knapp-hartung" -- inverse-variance models only: Knapp & Hartung (2003)
          variance adjustment and t(k - 1) quantiles [2]_ (metafor ``test="knha"``). For
          the GLMM it is a deprecated alias of "t" (a `DeprecationWarning`).
    confidence_level : float
        For the pooled CI, the prediction interval, the tau^2 CI and study CIs.
    study_ci_method : str
        Per-study intervals, see `analysis.proportions.proportion_ci`.
    correction, correction_policy
        Continuity correction (metafor ``add``, ``to``) for the inverse-variance models;
        for the GLMM it enters only the typical within-study variance of I^2, as in
        metafor. See `analysis.effects.effect_sizes`.
    n_agq : int
        Quadrature nodes for the GLMM (7 as metafor/lme4; 1 = Laplace).
    study_ids : sequence, optional
        Study labels (unique); default "1", "2", ...
    pi_method : {"metafor", "hts"}
        Prediction interval ``mu +- crit * sqrt(se^2 + tau^2)``:

        * "metafor" -- metafor's ``predict()``: ``crit`` from the normal distribution
          with Wald intervals, from t(k - 1) with t / Knapp-Hartung intervals.
        * "hts" -- t(k - 2), as Higgins, Thompson & Spiegelhalter (2009) and Riley et
          al. (2011) propose and R's meta computes; None for k <= 2 (no residual df).
    likelihood : {"binomial", "normal"}, optional
        ``model="bayes"`` only (default "binomial"): the binomial-normal model [4]_ or the
        normal-normal model on the logit effects of `effect_sizes` [3]_.
    tau_prior, mu_prior : optional
        ``model="bayes"`` only: priors on tau and mu (logit scale), default
        ``("half-normal", 0.5)`` and ``("normal", 0.0, 10.0)``; see
        `analysis.stats.bayes.tau_prior` and `analysis.stats.bayes.mu_prior`.
    threshold : float, optional
        ``model="bayes"`` only: report P(proportion > threshold | data).

    Returns
    -------
    PooledProportion

    Raises
    ------
    ValueError
        Unknown option value, invalid counts (`analysis.InputError`, a ValueError,
        naming the study and field), or ``model="glmm"`` with a measure other than
        "logit".

    Notes
    -----
    Degenerate cases are never switched silently; each adds a sentence to
    ``warnings``:

    * ``k = 1``: no between-study variance can be estimated; tau^2, I^2, Q and the
      prediction interval are None, and the estimate is the study's own.
    * GLMM with every study at 0% (or 100%): no finite ML estimate exists; the pooled
      proportion is 0 (or 1) and its CI and PI are None.
    * GLMM whose ML tau^2 is 0: the fit equals the common-effect logistic model.
    * Freeman-Tukey pooled values are back-transformed with the harmonic-mean n
      (Miller 1978), which misleads when study sizes differ a lot (Schwarzer et al.
      2019); a warning is added when the harmonic- and arithmetic-mean rules differ by
      more than 0.5 percentage points and 10%.

    References
    ----------
    .. [1] Stijnen, T., Hamza, T. H., & Ozdemir, P. (2010). Random effects
       meta-analysis of event outcome in the framework of the generalized linear mixed
       model with applications in sparse data. Statistics in Medicine, 29(29),
       3046-3067. https://doi.org/10.1002/sim.4040
    .. [2] Knapp, G., & Hartung, J. (2003). Improved tests for a random effects
       meta-regression with a single covariate. Statistics in Medicine, 22(17),
       2693-2710. https://doi.org/10.1002/sim.1482
    .. [3] Roever, C. (2020). Bayesian random-effects meta-analysis using the bayesmeta
       R package. Journal of Statistical Software, 93(6).
       https://doi.org/10.18637/jss.v093.i06
    .. [4] Guenhan, B. K., Roever, C., & Friede, T. (2020). Random-effects meta-analysis
       of few studies involving rare events. Research Synthesis Methods, 11(1).
       https://doi.org/10.1002/jrsm.1370

    Examples
    --------
    >>> res = pool_proportions([16, 10, 4, 43], [17, 12, 8, 58])
    >>> res.model, res.n_agq, res.ci_method
    ('glmm', 7, 't')
    >>> 0 < res.proportion < 1
    True
    """
    measure, model, tau2_method, ci_method, study_ci_method, correction_policy = _canonical(
        measure, model, tau2_method, ci_method, study_ci_method, correction_policy)
    check_choice("model", model, MODELS)
    check_choice("tau2_method", tau2_method, TAU2_METHODS)
    check_choice("ci_method", ci_method, CI_METHODS)
    check_choice("study_ci_method", study_ci_method, STUDY_CI_METHODS)
    check_choice("pi_method", pi_method, PI_METHODS)
    ci_method = _glmm_ci_method(model, ci_method)
    level = check_confidence_level(confidence_level)
    _check_model_options(model, measure, tau2_method, ci_method, correction, correction_policy,
                         n_agq, likelihood, tau_prior, mu_prior, threshold)
    if model == "glmm" and measure != "logit":
        raise ValueError(
            f"the GLMM is fitted on the logit scale: measure must be \"logit\"; got {measure!r}"
        )
    if not isinstance(n_agq, int | np.integer) or not 1 <= int(n_agq) <= 50:
        raise ValueError(f"n_agq must be an integer between 1 and 50; got {n_agq!r}")
    x, m = check_counts(events, n, study_ids=study_ids)
    ids = [str(s) for s in study_ids] if study_ids is not None else [str(i + 1) for i in range(x.size)]
    es = effect_sizes(
        x, m, measure=measure, correction=correction, correction_policy=correction_policy,
        study_ids=ids,
    )
    add = default_correction(measure) if correction is None else float(correction)
    props = study_proportions(x, m, study_ids=ids, method=study_ci_method, confidence_level=level)
    studies = props.assign(
        effect=es.effect.to_numpy(), variance=es.variance.to_numpy(), corrected=es.corrected.to_numpy()
    )
    if model == "glmm":
        res = _pool_glmm(x, m, studies, measure, ci_method, level, study_ci_method, add,
                         correction_policy, int(n_agq), tau2_ci)
        return _with_hts_pi(res, measure, None) if pi_method == "hts" else res
    if model == "bayes":
        return _pool_bayes(x, m, studies.assign(weight=np.full(x.size, np.nan)), level,
                           study_ci_method, add, likelihood or "binomial",
                           ("half-normal", 0.5) if tau_prior is None else tau_prior,
                           ("normal", 0.0, 10.0) if mu_prior is None else mu_prior, threshold)
    warnings: list[str] = []
    fit = pool_effects_iv(
        studies.effect.to_numpy(), studies.variance.to_numpy(), model=model,
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
        studies=studies,
        warnings=tuple(warnings),
    )
    return _with_hts_pi(res, measure, back_n) if pi_method == "hts" and model == "random" else res


def _canonical(measure, model, tau2_method, ci_method, study_ci_method, correction_policy):
    """metafor spellings and letter case -> canonical names (ALIASES in _validation)."""
    return (canonical("measure", measure), canonical("model", model),
            canonical("tau2_method", tau2_method), canonical("ci_method", ci_method),
            canonical("study_ci_method", study_ci_method),
            canonical("correction_policy", correction_policy))


def _glmm_ci_method(model, ci_method, *, stacklevel: int = 3):
    """The GLMM has no Knapp-Hartung adjustment: "knapp-hartung" is a deprecated alias of "t"."""
    if model == "glmm" and ci_method == "knapp-hartung":
        _warnings.warn(
            'ci_method="knapp-hartung" is deprecated for the GLMM, which has no Knapp-Hartung '
            'variance adjustment: it means t(k - 1) quantiles (metafor test="t"); use ci_method="t"',
            DeprecationWarning, stacklevel=stacklevel)
        return "t"
    return ci_method


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
    crit = float(stats.t.ppf(1 - (1 - level) / 2, k - 2))
    half = crit * float(np.sqrt(res.se**2 + tau2))
    lo, hi = res.estimate - half, res.estimate + half
    p_lo = float(back_transform(lo, measure=measure, n=back_n))
    p_hi = float(back_transform(hi, measure=measure, n=back_n))
    return dataclasses.replace(res, pi=ConfidenceInterval(lo, hi, level),
                               proportion_pi=ConfidenceInterval(p_lo, p_hi, level), pi_method="hts")


def _check_model_options(model, measure, tau2_method, ci_method, correction, policy, n_agq,
                         likelihood, tau_prior, mu_prior, threshold) -> None:
    """Options of one model given to another are errors, never silently ignored."""
    bayes_only = {"likelihood": likelihood, "tau_prior": tau_prior, "mu_prior": mu_prior,
                  "threshold": threshold}
    if model != "bayes":
        given = [k for k, val in bayes_only.items() if val is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} "
                             f'to model="bayes"; got model={model!r}')
        return
    defaults = {"measure": (measure, DEFAULTS.measure), "tau2_method": (tau2_method, DEFAULTS.tau2_method),
                "ci_method": (ci_method, DEFAULTS.ci_method), "correction": (correction, DEFAULTS.correction),
                "correction_policy": (policy, DEFAULTS.correction_policy), "n_agq": (n_agq, DEFAULTS.n_agq)}
    wrong = [f"{k}={val!r}" for k, (val, default) in defaults.items() if val != default]
    if wrong:
        raise ValueError(f'model="bayes" does not use {", ".join(wrong)}: the Bayesian models '
                         "work on the logit scale (the normal likelihood with metafor's 1/2 "
                         "correction) and report credible intervals; leave these at their defaults")


def _pool_bayes(x, m, studies, level, study_ci_method, add, likelihood, tau_prior, mu_prior,
                threshold):
    from .bayes import mu_prior as parse_mu
    from .bayes import posterior_proportions, prior_label
    from .bayes import tau_prior as parse_tau

    tp, mp = parse_tau(tau_prior), parse_mu(mu_prior)
    r = posterior_proportions(x, m, likelihood=likelihood, tau_prior=tp, mu_prior=mp,
                              confidence_level=level, threshold=threshold)
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
        back_transform="inverse logit of posterior quantiles", heterogeneity=het, studies=studies,
        warnings=tuple(warnings), likelihood=likelihood, prior=prior_label(tp, mp),
        tau_median=r["tau_median"], tau_ci=ConfidenceInterval(r["tau_low"], r["tau_high"], lvl),
        threshold=None if threshold is None else float(threshold),
        prob_above=r.get("prob_above"))


def _pool_glmm(x, m, studies, measure, ci_method, level, study_ci_method, add, policy, n_agq,
               want_tau2_ci=True):
    k = x.size
    warnings: list[str] = []
    v = studies.variance.to_numpy()
    mu_fe, se_fe, ll_fe = common_logistic(x, m)
    ll_sat = saturated_loglik(x, m)
    q_lrt = max(0.0, 2.0 * (ll_sat - ll_fe)) if k > 1 and np.isfinite(ll_fe) else None
    # Wald test of the saturated model: Cochran's Q over studies with 0 < x < n, whose
    # ML logits and variances are finite; a 0% or 100% study has an infinite ML logit
    # with infinite variance and contributes 0 (glm's diverging fit contributes ~1e-6).
    inner = (x > 0) & (x < m)
    # Its degrees of freedom count the informative studies only (a study at 0% or 100%
    # adds a parameter and no information), so df = (number with 0 < x < n) - 1;
    # metafor reports k - 1. The LRT Q keeps k - 1 df.
    q_wald = None
    if k > 1:
        if inner.sum() >= 2:
            xi, mi = x[inner].astype(float), m[inner].astype(float)
            q_wald = q_statistic(np.log(xi / (mi - xi)), 1.0 / xi + 1.0 / (mi - xi))
        else:
            q_wald = 0.0
    df = k - 1
    df_wald = max(int(inner.sum()) - 1, 0)
    use_t = ci_method == "t" and k > 1
    crit = critical_value(level, df if use_t else None)
    bt_text = "inverse logit"
    none_ci = ConfidenceInterval(None, None, level)
    common = {
        "model": "glmm", "measure": measure, "tau2_method": None, "ci_method": ci_method,
        "confidence_level": level, "study_ci_method": study_ci_method, "correction": add,
        "correction_policy": policy, "n_agq": n_agq, "back_transform": bt_text,
    }
    studies = studies.assign(weight=np.full(k, np.nan))

    def het(tau2, tau2_ci=None):
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

    if not np.isfinite(mu_fe):
        p = 0.0 if mu_fe < 0 else 1.0
        warnings.append(
            f"every study has {'0%' if p == 0 else '100%'} events: the logistic models have no "
            "finite maximum-likelihood estimate, so no pooled CI or prediction interval is "
            "given; read the per-study exact intervals"
        )
        return PooledProportion(
            **common, estimate=None, se=None, ci=none_ci, pi=None, proportion=p,
            proportion_ci=none_ci, proportion_pi=None, heterogeneity=het(None), studies=studies,
            warnings=tuple(warnings),
        )
    if k == 1:
        warnings.append(
            "only one study: the random-effects GLMM is not identifiable; the estimate is the "
            "study's own logistic fit; tau^2, I^2 and the prediction interval are not estimated"
        )
        mu, se, tau2 = mu_fe, se_fe, None
        tau2_ci = None
    else:
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
            lo, hi = tau2_ci_profile(x, m, mu_hat=mu, tau2_hat=tau2, n_agq=n_agq,
                                     confidence_level=level)
            tau2_ci = ConfidenceInterval(lo, hi, level)
        if not np.isfinite(se):
            warnings.append(
                "the standard error of the pooled logit could not be computed (the likelihood is "
                "flat or not concave at its maximum to rounding error): no CI or prediction interval"
            )
    lo, hi, plo, phi = wald_intervals(mu, se, 0.0 if tau2 is None else tau2, crit)
    ci = (lo, hi)
    pi = None if tau2 is None else (plo, phi)

    def bt(val):
        return float(back_transform(val, measure="logit"))

    return PooledProportion(
        **common,
        estimate=mu,
        se=se,
        ci=ConfidenceInterval(*ci, level),
        pi=None if pi is None else ConfidenceInterval(*pi, level),
        proportion=bt(mu),
        proportion_ci=ConfidenceInterval(bt(ci[0]), bt(ci[1]), level),
        proportion_pi=None if pi is None else ConfidenceInterval(bt(pi[0]), bt(pi[1]), level),
        heterogeneity=het(tau2, tau2_ci),
        studies=studies,
        warnings=tuple(warnings),
    )


def leave_one_out(fit, n=None, *, study_ids=None, **options) -> LeaveOneOut:
    """Re-fit without each study in turn (any model, GLMM included), as metafor's
    ``leave1out(res)``.

    ``fit`` is a `PooledProportion`: its studies and options are reused, so the full fit
    is not computed again. The older form ``leave_one_out(events, n, **options)`` fits
    first. Needs at least two studies.

    Examples
    --------
    >>> res = pool_proportions([16, 10, 4], [17, 12, 8], model="random")
    >>> leave_one_out(res).rows.omitted.tolist()
    ['1', '2', '3']
    """
    if isinstance(fit, PooledProportion):
        if n is not None or study_ids is not None or options:
            raise ValueError("leave_one_out(fit) takes no counts or options: they come from the fit")
        full = fit
        x = full.studies.events.to_numpy()
        m = full.studies.n.to_numpy()
        ids = [str(s) for s in full.studies.study_id]
        options = {k: v for k, v in full.methods().items() if k != "back_transform"}
        options["confidence_level"] = options.pop("confidence_level")
        if full.model != "random":
            options.pop("tau2_method")
        if full.model != "glmm":
            options.pop("n_agq")
        if x.size < 2:
            raise ValueError("leave-one-out needs at least two studies")
    else:
        x, m = check_counts(fit, n, study_ids=study_ids)
        ids = [str(s) for s in study_ids] if study_ids is not None else [str(i + 1) for i in range(x.size)]
        if x.size < 2:
            raise ValueError("leave-one-out needs at least two studies")
        model = canonical("model", options.get("model", DEFAULTS.model))
        if "ci_method" in options:  # warn once here, not once per re-fit
            options = {**options, "ci_method": _glmm_ci_method(
                model, canonical("ci_method", options["ci_method"]), stacklevel=3)}
        full = pool_proportions(x, m, study_ids=ids, **options)
    rows = []
    for i, sid in enumerate(ids):
        keep = np.arange(x.size) != i
        r = pool_proportions(x[keep], m[keep], study_ids=[s for j, s in enumerate(ids) if j != i],
                             tau2_ci=False, **options)
        rows.append(
            {
                "omitted": sid,
                "estimate": r.proportion,
                "ci_low": r.proportion_ci.low,
                "ci_high": r.proportion_ci.high,
                "tau2": r.heterogeneity.tau2,
                "i2": r.heterogeneity.i2,
                "warnings": r.warnings,
            }
        )
    return LeaveOneOut(full=full, rows=pd.DataFrame(rows))
