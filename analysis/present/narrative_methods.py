"""Computed sentences about the methods: the primary method in words and how it was chosen.

Every sentence is built from ``results.json`` (``primary_method``), the calibration of this
build (``calibration.json``) and the primary-method decision record
(``data/decisions/primary_method.json``), once, and reused by the report, the slides and
the README's claims (`analysis.present.narrative` holds the result sentences), and the heterogeneity sentence,
whose statistics depend on the model.
"""

from __future__ import annotations

__all__ = ["heterogeneity_sentence", "interval_names", "primary_method_phrase", "primary_method_short",
           "selection_sentences"]

_TAU2 = {"reml": "REML", "ml": "ML", "dersimonian-laird": "DerSimonian-Laird",
         "paule-mandel": "Paule-Mandel"}
_SCALE = {"logit": "logit", "freeman-tukey": "Freeman-Tukey (double arcsine)", "arcsine": "arcsine",
          "log": "log", "raw": "raw proportion"}


def primary_method_phrase(pm: dict) -> str:
    """'a random-effects model on the Freeman-Tukey (double arcsine) scale with the REML
    estimator of tau^2 and Wald (normal-quantile) 95% intervals' (from ``primary_method``)."""
    level = f"{100 * pm.get('confidence_level', 0.95):g}%"
    if pm["model"] == "bayes":
        tau = pm.get("tau_prior") or ("half-normal", 0.5)
        return (f"the Bayesian {pm.get('likelihood') or 'binomial'}-normal random-effects model "
                f"with a {tau[0]}({tau[1]:g}) prior on tau and {level} equal-tailed credible "
                "intervals")
    ci = {"wald": "Wald (normal-quantile)", "t": "t(k - 1)",
          "knapp-hartung": "Knapp-Hartung"}.get(pm["ci_method"], pm["ci_method"])
    if pm["model"] == "glmm":
        return (f"the binomial-normal GLMM (maximum likelihood, {pm['n_agq']}-node adaptive "
                f"Gauss-Hermite quadrature) with {ci} {level} intervals")
    scale = _SCALE.get(pm["measure"], pm["measure"])
    if pm["model"] == "common":
        return f"a common-effect inverse-variance model on the {scale} scale with {ci} {level} intervals"
    return (f"a random-effects inverse-variance model on the {scale} scale with the "
            f"{_TAU2.get(pm['tau2_method'], pm['tau2_method'])} estimator of τ² and {ci} "
            f"{level} intervals")


def primary_method_short(pm: dict) -> str:
    """'random effects, Freeman-Tukey, REML' (for captions and slide subtitles)."""
    if pm["model"] == "bayes":
        return f"Bayesian {pm.get('likelihood') or 'binomial'}-normal"
    if pm["model"] == "glmm":
        return f"binomial-normal GLMM (ML, {pm['n_agq']}-node AGHQ)"
    scale = {"freeman-tukey": "Freeman-Tukey"}.get(pm["measure"], pm["measure"])
    if pm["model"] == "common":
        return f"common effect, {scale}"
    return f"random effects, {scale}, {_TAU2.get(pm['tau2_method'], pm['tau2_method'])}"


def interval_names(model: str) -> tuple[str, str]:
    """The names of the pooled interval and of the new-study interval for a model."""
    if model == "bayes":
        return "credible interval", "predictive interval"
    return "CI", "prediction interval"


def selection_sentences(decision: dict | None, calibration: dict | None) -> list[str]:
    """How the primary method was chosen: the rule, its fallback, that it is post hoc, the
    outcome at the rule's replicate count, and a warning when the recorded decision was made
    for another design than this build's (then `make calibration-rule` is due)."""
    if decision is None:
        return ["No primary-method decision is recorded (data/decisions/primary_method.json); "
                "the engine's defaults are used as they stand."]
    sel = decision["selection"]
    out = [sel["rule"], sel["fallback_rule"], sel["post_hoc"],
           f"At {decision['replicates']:,} replicates per scenario: {decision['recommendation']}"]
    if calibration is not None and calibration.get("design_sha256") != decision["design_sha256"]:
        out.append("The decision recorded above was made for another calibration design than "
                   "this build's (the study sizes or the grid have changed since): it must be "
                   "re-run with `make calibration-rule` before this report is used.")
    return out


def heterogeneity_sentence(N, results: dict, outcome: str) -> str:
    """tau^2 with its interval (profile likelihood for the GLMM, Q-profile for inverse variance,
    the posterior for the Bayesian model), I^2 both ways, the Wald and LRT Q with their df."""
    p = f"outcomes.{outcome}.primary"
    prim = results["outcomes"][outcome]["primary"]
    h = prim["heterogeneity"]
    tau = "&tau;&sup2;" if N.html else "tau^2"
    i2 = "I&sup2;" if N.html else "I^2"
    model = (prim.get("methods") or {}).get("model", results["primary_method"]["model"])
    if model == "bayes":
        return (f"Posterior median of tau {N(p + '.tau_median', 'tau2')} (95% credible interval "
                f"{N(p + '.tau_ci_low', 'tau2')} to {N(p + '.tau_ci_high', 'tau2')}; logit scale), "
                f"with the prior {N.text(prim.get('prior') or '')}.")
    t2 = f"{tau} = {N(p + '.tau2', 'tau2')}"
    kind = "profile-likelihood" if model == "glmm" else "Q-profile"
    if h.get("tau2_ci_low") is not None:
        hi = N(p + ".heterogeneity.tau2_ci_high", "tau2") if h.get("tau2_ci_high") is not None else "unbounded"
        t2 += f" (95% {kind} interval {N(p + '.heterogeneity.tau2_ci_low', 'tau2')} to {hi})"
    if h.get("tau2") == 0:
        t2 += ": not estimable with precision from so few, small studies, not evidence of no heterogeneity"
    scale = {"freeman-tukey": "Freeman-Tukey"}.get((prim.get("methods") or {}).get("measure", "logit"),
                                                    (prim.get("methods") or {}).get("measure", "logit"))
    parts = [t2 + f" ({scale} scale)"]
    if h.get("i2") is not None:
        parts.append(f"{i2} = {N(p + '.i2', 'i2')} as metafor defines it")
    if h.get("q") is not None:
        extra = " (studies at 0% or 100% carry no information into it)" if model == "glmm" else ""
        parts.append(f"{'Wald ' if model == 'glmm' else ''}Q = {N(p + '.q', 'tau2')} on {h['df']} df{extra}")
    if h.get("q_lrt") is not None:
        parts.append(f"likelihood-ratio Q = {N(p + '.heterogeneity.q_lrt', 'tau2')} on {h['q_lrt_df']} df")
    return "; ".join(parts) + "."
