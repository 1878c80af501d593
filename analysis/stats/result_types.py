"""The small records every result is built from: a confidence interval, one study's
proportion, a fit's heterogeneity, and the JSON-safe number conversion they share.

`analysis.stats.results` (pooled proportions) and `analysis.stats.two_group_results` (two-group
effects) compose them; `analysis.stats.results` re-exports them, so ``from
analysis.stats.results import ConfidenceInterval`` keeps working.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._citations import cite

__all__ = ["ConfidenceInterval", "Heterogeneity", "ProportionEstimate"]


def _num(x: Any) -> Any:
    """JSON-safe scalar: None for missing/non-finite, Python float/int otherwise."""
    if x is None:
        return None
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        xf = float(x)
        return xf if math.isfinite(xf) else None
    return x


@dataclass(frozen=True, slots=True)
class ConfidenceInterval:
    """A two-sided interval with its nominal coverage (``level``, e.g. 0.95)."""

    low: float | None
    high: float | None
    level: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {"low": _num(self.low), "high": _num(self.high), "level": self.level}


@dataclass(frozen=True, slots=True)
class ProportionEstimate:
    """One study's proportion ``events / n`` with a confidence interval."""

    events: int
    n: int
    proportion: float
    ci: ConfidenceInterval
    method: str

    def summary(self) -> str:
        """One line: events/n, proportion and interval, and the CI method."""
        return (
            f"{self.events}/{self.n} = {self.proportion:.4f} "
            f"[{self.ci.low:.4f}, {self.ci.high:.4f}] "
            f"({self.ci.level:.0%} CI, {self.method}, {cite(self.method)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "events": self.events,
            "n": self.n,
            "proportion": self.proportion,
            "ci_low": self.ci.low,
            "ci_high": self.ci.high,
            "confidence_level": self.ci.level,
            "method": self.method,
        }


@dataclass(frozen=True, slots=True)
class Heterogeneity:
    """Between-study heterogeneity of one fit.

    Definitions (stated because the anchors differ):

    * ``q``: Cochran's Q with inverse-variance (common-effect) weights; for the GLMM,
      the Wald-type test of the saturated model (metafor ``QE.Wld``).
    * ``q_lrt``: GLMM only, likelihood-ratio test of the saturated versus the
      common-effect logistic model (metafor ``QE.LRT``); None otherwise.
    * ``i2`` (percent): as metafor computes it, ``100 * tau2 / (tau2 + v_typ)`` with the
      typical within-study variance ``v_typ = (k - 1) / (sum w - sum w^2 / sum w)``; for
      the common-effect model ``100 * (Q - df) / Q`` truncated at 0.
    * ``i2_q`` (percent): Higgins & Thompson (2002), ``100 * (Q - df) / Q`` truncated at
      0. It equals ``i2`` for DerSimonian-Laird.
    * ``h2``: ``tau2 / v_typ + 1`` (``Q / df`` for the common-effect model).
    """

    k: int
    q: float | None
    df: int
    q_pvalue: float | None
    tau2: float | None
    tau2_ci: ConfidenceInterval | None
    i2: float | None
    i2_ci: ConfidenceInterval | None
    i2_q: float | None
    h2: float | None
    q_lrt: float | None = None
    q_lrt_pvalue: float | None = None
    q_lrt_df: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "k": self.k,
            "q": _num(self.q),
            "df": self.df,
            "q_pvalue": _num(self.q_pvalue),
            "q_lrt": _num(self.q_lrt),
            "q_lrt_pvalue": _num(self.q_lrt_pvalue),
            "q_lrt_df": self.q_lrt_df,
            "tau2": _num(self.tau2),
            "tau2_ci_low": None if self.tau2_ci is None else _num(self.tau2_ci.low),
            "tau2_ci_high": None if self.tau2_ci is None else _num(self.tau2_ci.high),
            "i2": _num(self.i2),
            "i2_ci_low": None if self.i2_ci is None else _num(self.i2_ci.low),
            "i2_ci_high": None if self.i2_ci is None else _num(self.i2_ci.high),
            "i2_q": _num(self.i2_q),
            "h2": _num(self.h2),
        }
