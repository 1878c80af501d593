"""The pooling options in one place: the engine's defaults ARE the report's primary method.

`DEFAULTS` is read by `analysis.pool_proportions` (its keyword defaults), by the command
line (``evsynth pool`` with no options) and by the review's primary analysis
(``analysis.review.synthesis``), so the three cannot drift apart; a test pins ``pool``
with defaults to the report's primary numbers.

The primary method is not chosen here by hand. `METHOD_OPTIONS` names every candidate of
the calibration study (`analysis.stats.coverage`) by its id, with the options that fit it;
`PRIMARY_METHOD` is the id that the written selection rule
(`analysis.stats.coverage.select_primary`) picked at 2,000 replicates per scenario, as
recorded in ``data/decisions/primary_method.json`` by ``make calibration-rule``. A test
(``tests/test_primary_method.py``) fails when the record, the current calibration design
and this constant disagree, so the default follows the rule.

Examples
--------
>>> DEFAULTS.model == METHOD_OPTIONS[PRIMARY_METHOD]["model"]
True
>>> DEFAULTS.replace(model="random", measure="freeman-tukey").as_kwargs()["tau2_method"]
'reml'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["DEFAULTS", "METHOD_OPTIONS", "MODEL_BASE", "PRIMARY_METHOD", "PoolingOptions", "defaults_for"]


@dataclass(frozen=True, slots=True)
class PoolingOptions:
    """Every option of `analysis.pool_proportions` except the data.

    Field values use the engine's canonical names (see `analysis.stats._validation`);
    ``correction=None`` means the measure's default (0.5 where a correction applies).
    ``likelihood``, ``tau_prior`` and ``mu_prior`` belong to ``model="bayes"`` (None
    means the Bayesian model's own defaults: binomial, half-normal(0.5), normal(0, 10)).
    """

    measure: str = "logit"
    model: str = "glmm"
    tau2_method: str = "reml"
    ci_method: str = "t"
    confidence_level: float = 0.95
    study_ci_method: str = "clopper-pearson"
    correction: float | None = None
    correction_policy: str = "only0"
    n_agq: int = 7
    pi_method: str = "hts"
    likelihood: str | None = None
    tau_prior: tuple | None = None
    mu_prior: tuple | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments of `pool_proportions` / `leave_one_out`."""
        return asdict(self)

    def replace(self, **changes: Any) -> PoolingOptions:
        """A copy with some options changed (the dataclass is frozen)."""
        return replace(self, **changes)


# Every candidate of the calibration study, by its id there, as pooling options (the
# fields not named keep PoolingOptions' values). "glmm-profile" (the profile-likelihood
# interval of the GLMM's mean) is a calibration candidate only: pool_proportions gives
# Wald intervals, so the rule can report it but the engine cannot default to it.
_BAYES = {"model": "bayes", "tau_prior": ("half-normal", 0.5), "mu_prior": ("normal", 0.0, 10.0)}
METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    "glmm": {"model": "glmm", "ci_method": "wald"},
    "glmm-t": {"model": "glmm", "ci_method": "t"},
    "bayes-binomial": {**_BAYES, "likelihood": "binomial"},
    "bayes-normal": {**_BAYES, "likelihood": "normal"},
    "common-logit": {"model": "common", "measure": "logit", "ci_method": "wald"},
    "common-ft": {"model": "common", "measure": "freeman-tukey", "ci_method": "wald"},
}
for _measure, _short in (("logit", "logit"), ("freeman-tukey", "ft")):
    for _t2, _t2short in (("dersimonian-laird", "dl"), ("reml", "reml"), ("paule-mandel", "pm")):
        _base = {"model": "random", "measure": _measure, "tau2_method": _t2}
        METHOD_OPTIONS[f"random-{_short}-{_t2short}"] = {**_base, "ci_method": "wald"}
        METHOD_OPTIONS[f"random-{_short}-{_t2short}-hk"] = {**_base, "ci_method": "knapp-hartung"}

# The method the written rule chose (data/decisions/primary_method.json); see the module doc.
PRIMARY_METHOD = "random-ft-reml"
DEFAULTS = PoolingOptions(**METHOD_OPTIONS[PRIMARY_METHOD])
# The defaults of every model other than the default one (pool_proportions, the CLI): the
# logit scale, REML, t(k - 1) quantiles, 7-node quadrature, t(k - 2) prediction interval.
MODEL_BASE = PoolingOptions()


def defaults_for(model: str | None) -> PoolingOptions:
    """The defaults of a fit: DEFAULTS (the primary method) when no model is named, else the
    named model (canonical name) with MODEL_BASE's values."""
    return DEFAULTS if model is None else MODEL_BASE.replace(model=model)
