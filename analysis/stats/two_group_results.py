"""The result of `analysis.pool_two_group`: a pooled treated-versus-control effect."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._columns import cached_frame
from .results import ConfidenceInterval, Heterogeneity, _fmt, _num

if TYPE_CHECKING:
    import pandas as pd

    from ._columns import Columns

__all__ = ["PooledEffect", "StudyComparison"]

_NAME = {"or": "OR", "rr": "RR", "rd": "RD"}
_METHOD = {
    "mantel-haenszel": "Mantel-Haenszel",
    "peto": "Peto",
    "inverse-variance": "inverse variance",
    "glmm-umfs": "GLMM UM.FS",
    "glmm-cmel": "GLMM CM.EL",
}
_TAU = {"dersimonian-laird": "DL", "reml": "REML", "paule-mandel": "PM", "ml": "ML"}
def _f(x, digits: int = 3) -> str:
    """As results._fmt, but an unbounded limit prints as 'inf'."""
    return "inf" if x is not None and x == math.inf else _fmt(x, digits)


_STUDY_CI = {"or": "exact conditional (Fisher)", "rr": "Koopman score", "rd": "Newcombe hybrid score"}


@dataclass(frozen=True, slots=True, eq=False)
class PooledEffect:
    """A pooled two-group effect (odds ratio, risk ratio or risk difference).

    ``estimate``, ``ci`` and ``pi`` are on the display scale: the ratio for "or" and "rr",
    the difference for "rd". ``effect``, ``se``, ``effect_ci`` and ``effect_pi`` are on
    the analysis scale (log ratio, or the difference). A value a model does not have is
    None (``tau2`` of the common-effect models; the estimate when no finite one exists).

    ``studies`` has one row per study, in input order: ``study_id``,
    ``events_treated``, ``n_treated``, ``events_control``, ``n_control``,
    ``double_zero``, ``in_model`` (False for the double-zero studies a method drops),
    ``study_estimate``, ``study_ci_low``, ``study_ci_high`` (this measure, by the
    study-level interval: exact conditional for OR, Koopman for RR, Newcombe for RD; inf
    for an unbounded side, NaN where undefined), ``fisher_p``, ``effect`` and
    ``variance`` (escalc with 1/2 added to tables with a zero cell, NaN where dropped)
    and ``weight`` (percent; NaN for the GLMMs, which have no study weights).

    Heterogeneity: ``heterogeneity.q`` is Cochran's Q (inverse variance; Mantel-Haenszel,
    around the MH estimate), Peto's Q, or the GLMM's Wald-type Q, on
    ``heterogeneity.df``; ``q_lrt`` (GLMMs only) is on ``q_lrt_df`` = k - 1. ``i2`` is
    metafor's tau^2-based I^2 for the random-effects models and ``100 (Q - df) / Q`` for
    the common-effect ones (as ``rma.mh``, ``rma.peto`` and ``rma.uni`` with EE).
    """

    measure: str
    method: str
    model: str
    tau2_method: str | None
    ci_method: str
    confidence_level: float
    estimate: float | None
    ci: ConfidenceInterval
    pi: ConfidenceInterval | None
    effect: float | None
    se: float | None
    effect_ci: ConfidenceInterval
    effect_pi: ConfidenceInterval | None
    pvalue: float | None
    k: int
    heterogeneity: Heterogeneity
    q_lrt_df: int | None
    dropped: tuple[str, ...]
    table: Columns
    correction: float = 0.5
    correction_policy: str = "only0"
    n_agq: int | None = None
    warnings: tuple[str, ...] = field(default=())
    _frame: Any = field(default=None, init=False, repr=False)

    @property
    def studies(self) -> pd.DataFrame:
        """One row per study (see the class docstring), as a DataFrame made once."""
        return cached_frame(self)

    @property
    def tau2(self) -> float | None:
        """Between-study variance on the analysis scale (None for common-effect models)."""
        return self.heterogeneity.tau2

    def label(self) -> str:
        """Short label, e.g. 'OR, Mantel-Haenszel (common)' or 'RR, inverse variance, REML'."""
        parts = [_NAME[self.measure], _METHOD[self.method]]
        if self.method == "inverse-variance" and self.model == "random":
            parts.append(_TAU[self.tau2_method] + (", HK" if self.ci_method == "knapp-hartung" else ""))
        else:
            parts.append(f"({self.model})")
        return ", ".join(parts)

    def methods(self) -> dict[str, Any]:
        """The options that made this result."""
        return {
            "measure": self.measure, "method": self.method, "model": self.model,
            "tau2_method": self.tau2_method, "ci_method": self.ci_method,
            "confidence_level": self.confidence_level, "correction": self.correction,
            "correction_policy": self.correction_policy, "n_agq": self.n_agq,
            "study_ci_method": _STUDY_CI[self.measure],
        }

    def summary(self) -> str:
        """Fixed-width text: studies, pooled row, heterogeneity, methods and warnings."""
        name = _NAME[self.measure]
        lvl = f"{self.confidence_level:.0%}"
        lines = [f"Pooled {name}: {self.label()}  (k = {self.k})", ""]
        header = f"{'study':<24}{'treated':>10}{'control':>10}{name:>9}  {lvl + ' CI':<20}{'weight':>8}"
        lines += [header, "-" * len(header)]
        for r in self.table.itertuples():
            w = "n/a" if not np.isfinite(r.weight) else f"{r.weight:.1f}%"
            note = "" if r.in_model else "  (dropped: double zero)"
            lines.append(
                f"{str(r.study_id)[:23]:<24}{f'{r.events_treated}/{r.n_treated}':>10}"
                f"{f'{r.events_control}/{r.n_control}':>10}{_f(r.study_estimate):>9}"
                f"  [{_f(r.study_ci_low)}, {_f(r.study_ci_high)}]{w:>8}{note}"
            )
        lines.append("-" * len(header))
        lines.append(f"{'pooled':<44}{_fmt(self.estimate, 3):>9}  [{_fmt(self.ci.low, 3)}, "
                     f"{_fmt(self.ci.high, 3)}]  p = {_fmt(self.pvalue)}")
        if self.pi is not None:
            lines.append(f"{'prediction interval':<55}[{_fmt(self.pi.low, 3)}, {_fmt(self.pi.high, 3)}]")
        h = self.heterogeneity
        lines.append("")
        lines.append(f"Heterogeneity: tau^2 = {_fmt(h.tau2)}; I^2 = {_fmt(h.i2, 1)}%; "
                     f"Q({h.df}) = {_fmt(h.q)}, p = {_fmt(h.q_pvalue)}")
        if h.q_lrt is not None:
            lines.append(f"Q (LRT)({self.q_lrt_df}) = {_fmt(h.q_lrt)}, p = {_fmt(h.q_lrt_pvalue)}")
        lines.append("")
        lines.append(f"Methods: study intervals {_STUDY_CI[self.measure]} (no continuity correction); "
                     f"pooled by {_METHOD[self.method]} ({self.model}); {self.ci_method} CI")
        if self.dropped:
            lines.append("Dropped (no events, or only events, in both arms): " + ", ".join(self.dropped))
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per study plus the pooled row (display scale in ``study_*`` columns)."""
        import pandas as pd

        df = self.studies.copy()
        df.insert(0, "row", "study")
        pooled = {"row": "pooled", "study_id": "pooled", "study_estimate": self.estimate,
                  "study_ci_low": self.ci.low, "study_ci_high": self.ci.high,
                  "effect": self.effect, "variance": None if self.se is None else self.se**2,
                  "weight": 100.0 if self.method not in ("glmm-umfs", "glmm-cmel") else np.nan}
        rows = [pooled]
        if self.pi is not None:
            rows.append({"row": "prediction", "study_id": "prediction interval", "study_estimate": self.estimate,
                         "study_ci_low": self.pi.low, "study_ci_high": self.pi.high})
        return pd.concat([df, pd.DataFrame(rows)], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view; the display-scale values are the flat top-level keys."""
        h = self.heterogeneity.to_dict()
        return {
            "estimate": _num(self.estimate),
            "ci_low": _num(self.ci.low),
            "ci_high": _num(self.ci.high),
            "pi_low": None if self.pi is None else _num(self.pi.low),
            "pi_high": None if self.pi is None else _num(self.pi.high),
            "pvalue": _num(self.pvalue),
            "tau2": h["tau2"],
            "q": h["q"],
            "q_df": h["df"],
            "q_pvalue": h["q_pvalue"],
            "q_lrt": h["q_lrt"],
            "q_lrt_df": self.q_lrt_df,
            "q_lrt_pvalue": h["q_lrt_pvalue"],
            "i2": h["i2"],
            "h2": h["h2"],
            "k": self.k,
            "dropped": list(self.dropped),
            "label": self.label(),
            "methods": self.methods(),
            "analysis_scale": {
                "effect": _num(self.effect), "se": _num(self.se),
                "ci_low": _num(self.effect_ci.low), "ci_high": _num(self.effect_ci.high),
                "pi_low": None if self.effect_pi is None else _num(self.effect_pi.low),
                "pi_high": None if self.effect_pi is None else _num(self.effect_pi.high),
            },
            "heterogeneity": h,
            "warnings": list(self.warnings),
            "studies": self.table.records(),
        }

    def __repr__(self) -> str:
        return (f"PooledEffect({self.label()}, k={self.k}, estimate={_fmt(self.estimate)} "
                f"[{_fmt(self.ci.low)}, {_fmt(self.ci.high)}])")


def display(measure: str, x: float | None) -> float | None:
    """Analysis scale -> display scale (exp for the ratios)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(np.exp(x)) if measure in ("or", "rr") else float(x)


@dataclass(frozen=True, slots=True)
class StudyComparison:
    """One study's 2x2 table: RR, OR and RD with intervals needing no continuity correction.

    Intervals: ``risk_ratio_ci`` Koopman (1984) score, ``odds_ratio_ci`` exact conditional
    (Cornfield/Fisher, as R's ``fisher.test``), ``risk_difference_ci`` Newcombe (1998)
    method 10; ``fisher_p`` is Fisher's exact two-sided p. A ratio is None where it is
    undefined (no events in either arm for the RR; no events or only events in both
    arms for the OR); a limit is ``inf`` where the interval is unbounded (None in
    `to_dict`, where a defined estimate with a None limit therefore means "unbounded").
    ``odds_ratio`` is the sample OR ``ad / bc``; ``odds_ratio_conditional_mle`` the
    estimate of ``fisher.test``.
    """

    study_id: str
    events_treated: int
    n_treated: int
    events_control: int
    n_control: int
    double_zero: bool
    risk_ratio: float | None
    risk_ratio_ci: ConfidenceInterval
    odds_ratio: float | None
    odds_ratio_ci: ConfidenceInterval
    odds_ratio_conditional_mle: float | None
    risk_difference: float
    risk_difference_ci: ConfidenceInterval
    fisher_p: float
    confidence_level: float

    def summary(self) -> str:
        """One line per measure."""
        lvl = f"{self.confidence_level:.0%}"
        t, c = f"{self.events_treated}/{self.n_treated}", f"{self.events_control}/{self.n_control}"
        rows = [f"{self.study_id}: treated {t} vs control {c}; Fisher's exact p = {_fmt(self.fisher_p)}"]
        for name, est, ci, how in (("RR", self.risk_ratio, self.risk_ratio_ci, "Koopman score"),
                                   ("OR", self.odds_ratio, self.odds_ratio_ci, "exact conditional"),
                                   ("RD", self.risk_difference, self.risk_difference_ci, "Newcombe")):
            text = "undefined" if est is None else f"{_f(est)} [{_f(ci.low)}, {_f(ci.high)}]"
            rows.append(f"  {name} {text}  ({lvl} CI, {how})")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe flat view (keys rr, rr_ci_low, ..., or, ..., rd, ..., fisher_p)."""
        return {
            "study_id": self.study_id, "events_treated": self.events_treated, "n_treated": self.n_treated,
            "events_control": self.events_control, "n_control": self.n_control,
            "risk_treated": self.events_treated / self.n_treated,
            "risk_control": self.events_control / self.n_control, "double_zero": self.double_zero,
            "rr": _num(self.risk_ratio), "rr_ci_low": _num(self.risk_ratio_ci.low),
            "rr_ci_high": _num(self.risk_ratio_ci.high),
            "or": _num(self.odds_ratio), "or_ci_low": _num(self.odds_ratio_ci.low),
            "or_ci_high": _num(self.odds_ratio_ci.high),
            "or_conditional_mle": _num(self.odds_ratio_conditional_mle),
            "rd": _num(self.risk_difference), "rd_ci_low": _num(self.risk_difference_ci.low),
            "rd_ci_high": _num(self.risk_difference_ci.high),
            "fisher_p": _num(self.fisher_p), "confidence_level": self.confidence_level,
            "methods": {"rr": "koopman-score", "or": "exact-conditional", "rd": "newcombe-hybrid-score",
                        "p": "fisher-exact"},
        }
