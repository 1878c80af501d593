"""Text pieces of the results' ``summary()`` tables: numbers, intervals, heterogeneity lines.

Only what exists for a fit is printed: a statistic that a model does not define is left
out, never shown as "NA%", and an interval that does not exist reads "CI n/a".
"""

from __future__ import annotations

import math
from typing import Any

__all__: list[str] = []


def _fmt(x: float | None, digits: int = 4) -> str:
    return "NA" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _given(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _ci_text(low: float | None, high: float | None, digits: int = 3) -> str:
    """'[0.123, 0.456]', or 'CI n/a' where no interval exists (never '[NA, NA]')."""
    if not (_given(low) and _given(high)):
        return "CI n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _heterogeneity_lines(h: Any, model: str) -> list[str]:
    """Heterogeneity lines (`analysis.stats.results.Heterogeneity` h) with only the
    statistics that exist for this fit."""
    parts = []
    if _given(h.tau2):
        ci = f" {_ci_text(h.tau2_ci.low, h.tau2_ci.high, 4)}" if h.tau2_ci is not None else ""
        parts.append(f"tau^2 = {_fmt(h.tau2)}{ci}")
    for name, value, digits, unit in (("I^2", h.i2, 1, "%"), ("I^2(Q)", h.i2_q, 1, "%"),
                                      ("H^2", h.h2, 2, "")):
        if _given(value):
            parts.append(f"{name} = {_fmt(value, digits)}{unit}")
    if not parts and not _given(h.q):
        return [f"Heterogeneity: not estimable with k = {h.k}"]
    lines = ["Heterogeneity: " + "; ".join(parts)] if parts else []
    if _given(h.q):
        q_label = "Q (Wald)" if model == "glmm" else "Q"
        lines.append(f"{q_label}({h.df}) = {_fmt(h.q)}, p = {_fmt(h.q_pvalue)}")
    if _given(h.q_lrt):
        lines.append(f"Q (LRT)({h.q_lrt_df}) = {_fmt(h.q_lrt)}, p = {_fmt(h.q_lrt_pvalue)}")
    return lines


# What each pooled-CI rule is, and who defines it (method -> text, citation key).
_CI_NOTE = {
    "wald": "Wald CI (normal quantiles)",
    "t": "t(k-1) CI, as metafor test=\"t\"",
    "knapp-hartung": "Knapp-Hartung CI, t(k-1) with adjusted variance",
}
