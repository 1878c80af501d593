"""Computed sentences about the methods: the primary method in words and how it was chosen.

Every sentence is built from ``results.json`` (``primary_method``), the calibration of this
build (``calibration.json``) and the primary-method decision record
(``data/decisions/primary_method.json``), once, and reused by the report, the slides and
the README's claims (`analysis.present.narrative` holds the result sentences).
"""

from __future__ import annotations

__all__ = ["interval_names", "primary_method_phrase", "selection_sentences"]

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
            f"{_TAU2.get(pm['tau2_method'], pm['tau2_method'])} estimator of tau^2 and {ci} "
            f"{level} intervals")


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
