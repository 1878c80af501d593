"""The pooling options in one place: the engine's defaults ARE the report's primary method.

`DEFAULTS` is read by `analysis.pool_proportions` (its keyword defaults), by the command
line (``evsynth pool`` with no options) and by the review's primary analysis
(``analysis.review.synthesis``), so the three cannot drift apart; a test pins ``pool``
with defaults on the report's clearance counts to the report's primary numbers.

The primary method is the binomial-normal GLMM (ML, 7-node adaptive Gauss-Hermite
quadrature) with t(k - 1) quantiles for its CI (metafor ``rma.glmm(test="t")``) and a
t(k - 2) prediction interval (Higgins, Thompson & Spiegelhalter 2009; Riley et al. 2011;
none for k <= 2): the calibration study (``make calibration``) shows normal quantiles
under-cover with this evidence's study sizes. ``pi_method="metafor"`` gives metafor's
``predict()`` interval instead (the metafor-pinned tests use it).

Examples
--------
>>> DEFAULTS.model, DEFAULTS.ci_method
('glmm', 't')
>>> DEFAULTS.replace(model="random", measure="freeman-tukey").as_kwargs()["tau2_method"]
'reml'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["DEFAULTS", "PoolingOptions"]


@dataclass(frozen=True, slots=True)
class PoolingOptions:
    """Every option of `analysis.pool_proportions` except the data.

    Field values use the engine's canonical names (see `analysis.stats._validation`);
    ``correction=None`` means the measure's default (0.5 where a correction applies).
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

    def as_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments of `pool_proportions` / `leave_one_out`."""
        return asdict(self)

    def replace(self, **changes: Any) -> PoolingOptions:
        """A copy with some options changed (the dataclass is frozen)."""
        return replace(self, **changes)


# The report's primary method and the engine's default (one constant; see the module doc).
DEFAULTS = PoolingOptions()
