"""Pooling single proportions: the entry point `pool_proportions` (and
`pool_proportions_many`, the same options on several data sets).

It validates and canonicalises the options once, computes the per-study effects and
intervals, and hands over to one private kernel per model: `analysis.stats._pool_iv`
(inverse-variance common and random effects; `pool_effects_iv` is also the two-group
engine's kernel), `analysis.stats._pool_glmm` (the binomial-normal GLMM) and
`analysis.stats._pool_bayes` (the exact Bayesian posteriors). `leave_one_out`
(`analysis.stats.leave_one_out`) re-fits any of them without each study in turn.
"""

from __future__ import annotations

import warnings as _warnings

import numpy as np

from ._pool_bayes import _pool_bayes
from ._pool_glmm import _pool_glmm
from ._pool_iv import _pool_iv_proportions, _with_hts_pi, pool_effects_iv
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
from .effects import _effect_table, default_correction
from .options import DEFAULTS, PoolingOptions, defaults_for
from .proportions import _study_table
from .results import PooledProportion

__all__ = ["leave_one_out", "pool_effects_iv", "pool_proportions", "pool_proportions_many"]


def pool_proportions(
    events,
    n,
    *,
    measure: Measure | None = None,
    model: Model | None = None,
    tau2_method: Tau2Method | None = None,
    ci_method: CIMethod | None = None,
    confidence_level: float = DEFAULTS.confidence_level,
    study_ci_method: StudyCIMethod = DEFAULTS.study_ci_method,  # type: ignore[assignment]
    correction: float | None = None,
    correction_policy: CorrectionPolicy | None = None,
    n_agq: int | None = None,
    pi_method: PIMethod | None = None,
    study_ids=None,
    tau2_ci: bool = True,
    likelihood: str | None = None,
    tau_prior=None,
    mu_prior=None,
    threshold: float | None = None,
) -> PooledProportion:
    """Pool single proportions ``events / n`` across studies.

    An option left at None takes its default: with no ``model``, the report's primary
    method (`analysis.stats.options.DEFAULTS`, the method the calibration's written rule
    chose); with a ``model`` named, that model's own defaults
    (logit scale, REML, t(k - 1) quantiles, 7-node quadrature, t(k - 2) prediction
    interval, metafor's 1/2 correction for 0% and 100% studies). The GLMM [1]_ models the counts
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
    >>> res = pool_proportions([16, 10, 4, 43], [17, 12, 8, 58], model="glmm")
    >>> res.model, res.n_agq, res.ci_method
    ('glmm', 7, 't')
    >>> 0 < res.proportion < 1
    True
    >>> from analysis.stats.options import DEFAULTS  # no model named: the primary method
    >>> pool_proportions([16, 10, 4, 43], [17, 12, 8, 58]).model == DEFAULTS.model
    True
    """
    o = _resolve(measure=measure, model=model, tau2_method=tau2_method, ci_method=ci_method,
                 confidence_level=confidence_level, study_ci_method=study_ci_method,
                 correction=correction, correction_policy=correction_policy, n_agq=n_agq,
                 pi_method=pi_method, likelihood=likelihood, tau_prior=tau_prior,
                 mu_prior=mu_prior, threshold=threshold)
    return _fit(o, *_studies(o, events, n, study_ids), tau2_ci=tau2_ci, threshold=threshold)


def pool_proportions_many(datasets, *, tau2_ci: bool = True, threshold: float | None = None,
                          **options) -> list[PooledProportion]:
    """`pool_proportions` with the same options on several data sets.

    ``datasets`` is a sequence of ``(events, n)`` or ``(events, n, study_ids)``. With
    ``model="bayes"`` the posteriors of data sets with the same number of studies are
    computed as one vectorised batch (`analysis.stats.bayes.posterior_many`), several
    times faster than one call each for a handful of small data sets; every other model
    is fitted data set by data set. The results equal those of `pool_proportions` up to
    floating-point rounding (batched sums may group terms differently: agreement to
    about 1e-13, tested).

    Examples
    --------
    >>> fits = pool_proportions_many([([3, 4], [5, 6]), ([9], [10])], model="bayes")
    >>> [f.k for f in fits]
    [2, 1]
    """
    o = _resolve(threshold=threshold, **options)
    data = [_studies(o, *d) for d in datasets]
    if o.model != "bayes":
        return [_fit(o, *d, tau2_ci=tau2_ci) for d in data]
    from .bayes import posterior_many

    posts = posterior_many([(x, m) for x, m, _ in data], likelihood=o.likelihood,
                           tau_prior=o.tau_prior, mu_prior=o.mu_prior,
                           confidence_level=o.confidence_level, threshold=threshold)
    return [_fit(o, *d, tau2_ci=tau2_ci, threshold=threshold, posterior=r)
            for d, r in zip(data, posts, strict=True)]


def _resolve(*, measure=None, model=None, tau2_method=None, ci_method=None,
             confidence_level=DEFAULTS.confidence_level, study_ci_method=DEFAULTS.study_ci_method,
             correction=None, correction_policy=None, n_agq=None, pi_method=None, likelihood=None,
             tau_prior=None, mu_prior=None, threshold=None) -> PoolingOptions:
    """The options of `pool_proportions` as one `PoolingOptions`: an option left at None
    takes its default (the primary method with no model, that model's own with one; the
    Bayesian model's priors and likelihood), metafor spellings become canonical names,
    and every value (and whether `threshold` applies) is checked."""
    given = {k: v for k, v in (("measure", measure), ("tau2_method", tau2_method),
                                ("ci_method", ci_method), ("correction", correction),
                                ("correction_policy", correction_policy), ("n_agq", n_agq),
                                ("pi_method", pi_method), ("likelihood", likelihood),
                                ("tau_prior", tau_prior), ("mu_prior", mu_prior)) if v is not None}
    # no model: the primary method (DEFAULTS); a model named: that model's own defaults
    base = defaults_for(None if model is None else canonical("model", model))
    model = base.model
    _check_model_options(model, given, threshold)
    o = base.replace(**given)
    measure, model, tau2_method, ci_method, study_ci_method, correction_policy = _canonical(
        o.measure, model, o.tau2_method, o.ci_method, study_ci_method, o.correction_policy)
    check_choice("model", model, MODELS)
    check_choice("tau2_method", tau2_method, TAU2_METHODS)
    check_choice("ci_method", ci_method, CI_METHODS)
    check_choice("study_ci_method", study_ci_method, STUDY_CI_METHODS)
    check_choice("pi_method", o.pi_method, PI_METHODS)
    ci_method = _glmm_ci_method(model, ci_method, stacklevel=4)
    level = check_confidence_level(confidence_level)
    if model == "glmm" and measure != "logit":
        raise ValueError(
            f"the GLMM is fitted on the logit scale: measure must be \"logit\"; got {measure!r}"
        )
    if not isinstance(o.n_agq, int | np.integer) or not 1 <= int(o.n_agq) <= 50:
        raise ValueError(f"n_agq must be an integer between 1 and 50; got {o.n_agq!r}")
    return o.replace(
        model=model, measure=measure, tau2_method=tau2_method, ci_method=ci_method,
        confidence_level=level, study_ci_method=study_ci_method,
        correction_policy=correction_policy, n_agq=int(o.n_agq),
        likelihood=o.likelihood or "binomial",
        tau_prior=("half-normal", 0.5) if o.tau_prior is None else o.tau_prior,
        mu_prior=("normal", 0.0, 10.0) if o.mu_prior is None else o.mu_prior)


def _studies(o: PoolingOptions, events, n, study_ids=None):
    """Checked counts and the per-study table (proportions, CIs, effects) of one data set."""
    x, m = check_counts(events, n, study_ids=study_ids)
    ids = [str(s) for s in study_ids] if study_ids is not None else [str(i + 1) for i in range(x.size)]
    es = _effect_table(x, m, ids, o.measure, o.correction, o.correction_policy)
    studies = _study_table(x, m, ids, o.study_ci_method, o.confidence_level).assign(
        effect=es.effect, variance=es.variance, corrected=es.corrected)
    return x, m, studies


def _fit(o: PoolingOptions, x, m, studies, *, tau2_ci: bool, threshold=None,
         posterior=None) -> PooledProportion:
    """The model's branch, on checked data and options."""
    level = o.confidence_level
    add = default_correction(o.measure) if o.correction is None else float(o.correction)
    if o.model == "glmm":
        res = _pool_glmm(x, m, studies, o.measure, o.ci_method, level, o.study_ci_method, add,
                         o.correction_policy, o.n_agq, tau2_ci)
        return _with_hts_pi(res, o.measure, None) if o.pi_method == "hts" else res
    if o.model == "bayes":
        return _pool_bayes(x, m, studies.assign(weight=np.full(x.size, np.nan)), level,
                           o.study_ci_method, add, o.likelihood, o.tau_prior, o.mu_prior,
                           threshold, posterior)
    return _pool_iv_proportions(x, m, studies, o.model, o.measure, o.tau2_method, o.ci_method,
                                level, o.study_ci_method, add, o.correction_policy, o.pi_method)


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


# Options of the Bayesian models only, and options the Bayesian models do not use.
_BAYES_ONLY = ("likelihood", "tau_prior", "mu_prior")
_NOT_BAYES = ("measure", "tau2_method", "ci_method", "correction", "correction_policy", "n_agq",
              "pi_method")


def _check_model_options(model, given: dict, threshold) -> None:
    """Options of one model given to another are errors, never silently ignored."""
    if model != "bayes":
        wrong = [k for k in _BAYES_ONLY if k in given] + (["threshold"] if threshold is not None else [])
        if wrong:
            raise ValueError(f"{', '.join(wrong)} only appl{'ies' if len(wrong) == 1 else 'y'} "
                             f'to model="bayes"; got model={model!r}')
        return
    wrong = [f"{k}={given[k]!r}" for k in _NOT_BAYES if k in given]
    if wrong:
        raise ValueError(f'model="bayes" does not use {", ".join(wrong)}: the Bayesian models '
                         "work on the logit scale (the normal likelihood with metafor's 1/2 "
                         "correction) and report credible intervals; leave these out")


# re-exported here (its module imports pool_proportions from this one, so it comes last)
from .leave_one_out import leave_one_out
