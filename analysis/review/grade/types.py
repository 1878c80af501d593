"""Typed GRADE results: one `DomainRating` per domain, one `CertaintyRating` per outcome
and evidence path. Immutable, with ``to_dict()`` for the results file and ``summary()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LEVELS = ("very low", "low", "moderate", "high")
Path = Literal["single_arm", "comparative"]
DOMAINS = ("risk of bias", "inconsistency", "indirectness", "imprecision", "publication bias")
NOTE = ("Proposed by the named rules in analysis/review/grade/ (each cites its GRADE paper); "
        "a review team confirms or changes every judgement.")


@dataclass(frozen=True, slots=True)
class DomainRating:
    """One GRADE domain: the judgement, how many levels it rates down, why, and which rule."""

    domain: str
    judgement: str  # "not serious" | "serious" | "very serious" | "not assessable"; publication bias:
    # "undetected" | "strongly suspected"
    levels: int  # levels rated down (0, 1 or 2; 3 for critical risk of bias)
    reason: str
    rule: str  # name of the function that made the judgement
    citation: str  # the GRADE (or tool) paper the rule follows

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe)."""
        return {"domain": self.domain, "judgement": self.judgement, "levels": self.levels,
                "reason": self.reason, "rule": self.rule, "citation": self.citation}


@dataclass(frozen=True, slots=True)
class CertaintyRating:
    """The proposed certainty of one outcome on one evidence path, with every domain."""

    outcome: str
    label: str
    path: Path
    role: str  # "treatment" or "prevention"
    question_type: str
    start: str
    start_reason: str
    start_rule: str
    certainty: str
    domains: tuple[DomainRating, ...]
    studies: tuple[str, ...]
    k: int
    patients: int
    effect: dict[str, Any]  # what is rated: measure, estimate, ci_low, ci_high, interval method
    threshold: dict[str, Any] | None  # the comparator's risk the imprecision rule judged against
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def phrase(self) -> str:
        """The certainty words for a sentence, e.g. ``"very low certainty"``."""
        return f"{self.certainty} certainty"

    def summary(self) -> str:
        """A few readable lines."""
        head = f"{self.label} ({self.path.replace('_', '-')}, {self.role}): {self.phrase} (start {self.start})"
        lines = [head] + [f"  {d.domain}: {d.judgement}" + (f" (-{d.levels})" if d.levels else "") + f". {d.reason}"
                          for d in self.domains]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the results file. ``downgrades`` repeats ``domains`` under the
        key earlier readers use (each with domain, levels and reason)."""
        doms = [d.to_dict() for d in self.domains]
        return {"outcome": self.outcome, "label": self.label, "path": self.path, "role": self.role,
                "question_type": self.question_type, "start": self.start, "start_reason": self.start_reason,
                "start_rule": self.start_rule, "certainty": self.certainty, "phrase": self.phrase,
                "domains": doms, "downgrades": doms, "studies": list(self.studies), "k": self.k,
                "patients": self.patients, "effect": dict(self.effect),
                "estimate": self.effect.get("estimate"), "ci_low": self.effect.get("ci_low"),
                "ci_high": self.effect.get("ci_high"), "threshold": self.threshold, **self.extra, "note": NOTE}


def final_level(start: str, domains: tuple[DomainRating, ...]) -> str:
    """Start level minus every level rated down, floored at very low (Guyatt et al. 2011,
    GRADE 1, J Clin Epidemiol 64:383-394).

    Examples
    --------
    >>> final_level("high", (DomainRating("imprecision", "serious", 1, "", "r", "c"),))
    'moderate'
    """
    return LEVELS[max(0, LEVELS.index(start) - sum(d.levels for d in domains))]
