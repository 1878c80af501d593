"""The review question as configuration (``data/question.toml``).

Title, PICO, intervention and comparator names, and the outcomes with their labels and
which ones the question asks about. The report, slides, figures and calibration read
their words from here, so a second question of the same shape needs a new file, not new
code (see ``examples/``).
"""

from __future__ import annotations

import contextlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..stats._validation import InputError

DIRECTIONS = ("higher_is_better", "lower_is_better")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One outcome of the vocabulary."""

    key: str
    label: str
    short: str
    primary: bool = False
    direction: str = "higher_is_better"
    derived_from: str | None = None
    surrogate: str = ""  # what it stands in for (GRADE indirectness), e.g. "... stands in for survival"


@dataclass(frozen=True, slots=True)
class Question:
    """Everything the outputs say about the question, read from one TOML file."""

    title: str
    short_title: str
    subtitle: str
    question: str
    intervention: dict[str, str]
    comparator: dict[str, str]
    pico: dict[str, str]
    outcomes: dict[str, Outcome]
    answer: dict[str, str] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    grade: dict[str, Any] = field(default_factory=dict)
    prisma: dict[str, Any] = field(default_factory=dict)

    def set_label(self, set_id: str) -> str:
        """Short name of an analysis set of the plan (the id, spaced, when unnamed)."""
        return self.sets.get(set_id, set_id.replace("_", " "))

    @property
    def primary_outcomes(self) -> tuple[str, ...]:
        """The outcomes the question asks about, in file order."""
        return tuple(k for k, o in self.outcomes.items() if o.primary)

    def label(self, outcome: str) -> str:
        """Display label of an outcome code (the code itself when unknown)."""
        o = self.outcomes.get(outcome)
        return o.label if o else outcome

    def labels(self) -> dict[str, str]:
        """Outcome code -> label."""
        return {k: o.label for k, o in self.outcomes.items()}

    @property
    def arm_codes(self) -> tuple[str, str | None]:
        """arms.csv treatment codes of the intervention and the comparator (None: a
        single-arm question without a comparator)."""
        return self.intervention["arm_treatment"], (self.comparator or {}).get("arm_treatment")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view (written into results.json for the presentation layer)."""
        out = {
            "title": self.title, "short_title": self.short_title, "subtitle": self.subtitle,
            "question": self.question, "intervention": dict(self.intervention),
            "comparator": dict(self.comparator) if self.comparator else None, "pico": dict(self.pico),
            "answer": dict(self.answer), "sets": dict(self.sets),
            "outcomes": {k: {"label": o.label, "short": o.short, "primary": o.primary,
                             "direction": o.direction, "derived_from": o.derived_from}
                         for k, o in self.outcomes.items()},
            "primary_outcomes": list(self.primary_outcomes),
        }
        if self.report:  # the question's own words for the outputs (only when the file has them)
            out["report"] = dict(self.report)
        return out


# [comparator] may be left out: a single-arm question (the comparative sections are omitted)
_REQUIRED = ("title", "question", "intervention", "pico", "outcomes")
_KNOWN = {"title", "short_title", "subtitle", "question", "intervention", "comparator", "pico", "answer",
          "outcomes", "sets", "report", "grade", "prisma"}
# [report]: words of the outputs that belong to the question, not the code (all optional)
REPORT_KEYS = {"producer": str, "build_command": str, "verdict": str,
               "subgroups_intro": str, "comparative_caveat": str, "limitations": list,
               "viral_load_label": str, "viral_loads_note": str, "glmm_rationale": str}


def _need(table: dict, key: str, where: str, path: str, kind=str):
    if key not in table:
        raise InputError(f"missing required key {key!r} in [{where}]", file=path, field=key)
    value = table[key]
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise InputError(f"[{where}] {key} must be a non-empty {kind.__name__}", file=path, field=key)
    return value


def load_question(path: str | Path) -> Question:
    """Read and validate ``question.toml``; errors name the file and the key."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", file=str(p)) from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(f"not a UTF-8 text file ({exc.__class__.__name__})", file=str(p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=str(p)) from None
    for key in _REQUIRED:
        _need(raw, key, "top level", str(p), dict if key in ("intervention", "comparator", "pico",
                                                              "outcomes") else str)
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:  # a misspelt table would otherwise be ignored without a word
        raise InputError(f"unknown table or key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})",
                         file=str(p), field=unknown[0])
    comparator = raw.get("comparator")
    if comparator is not None and not isinstance(comparator, dict):
        raise InputError("[comparator] must be a table", file=str(p), field="comparator")
    for key in ("name", "long_name", "arm_treatment"):
        _need(raw["intervention"], key, "intervention", str(p))
        if comparator is not None:
            _need(comparator, key, "comparator", str(p))
    for key in ("population", "intervention", "comparison", "outcomes"):
        _need(raw["pico"], key, "pico", str(p))
    outcomes = {}
    for key, spec in raw["outcomes"].items():
        if not isinstance(spec, dict):
            raise InputError(f"[outcomes.{key}] must be a table", file=str(p), field=key)
        label = _need(spec, "label", f"outcomes.{key}", str(p))
        direction = spec.get("direction", "higher_is_better")
        if direction not in DIRECTIONS:
            raise InputError(f"[outcomes.{key}] direction must be one of {', '.join(DIRECTIONS)}; "
                             f"got {direction!r}", file=str(p), field="direction")
        derived = spec.get("derived_from")
        outcomes[key] = Outcome(key=key, label=label, short=spec.get("short", label.lower()),
                                primary=bool(spec.get("primary", False)), direction=direction,
                                derived_from=derived, surrogate=str(spec.get("surrogate", "")))
    for o in outcomes.values():
        if o.derived_from is not None and o.derived_from not in outcomes:
            raise InputError(f"[outcomes.{o.key}] derived_from names an unknown outcome "
                             f"{o.derived_from!r}", file=str(p), field="derived_from")
    if not any(o.primary for o in outcomes.values()):
        raise InputError("no outcome is marked primary = true", file=str(p), field="outcomes")
    report = _table(raw.get("report", {}), "report", REPORT_KEYS, str(p))
    return Question(
        title=raw["title"], short_title=raw.get("short_title", raw["title"]),
        subtitle=raw.get("subtitle", ""), question=" ".join(raw["question"].split()),
        intervention=dict(raw["intervention"]), comparator=dict(comparator) if comparator else {},
        pico=dict(raw["pico"]), outcomes=outcomes, answer=dict(raw.get("answer", {})),
        sets={str(k): str(v) for k, v in raw.get("sets", {}).items()}, report=dict(report),
        grade=_table(raw.get("grade", {}), "grade", GRADE_KEYS, str(p)),
        prisma=_table(raw.get("prisma", {}), "prisma", PRISMA_KEYS, str(p)),
    )


# [grade]: the indirectness rule's terms and the words of the single-arm rating (optional)
GRADE_KEYS = {"population": str, "alternatives": str, "distant": str, "matching_settings": list,
              "matching_prior": list, "distant_settings": list}


# [prisma]: screening_reasons = the exclusion reasons of screening.csv that act at title and
# abstract screening (the others count as full-text exclusions)
PRISMA_KEYS = {"screening_reasons": list}


def _table(table, name: str, known: dict[str, type], path: str) -> dict[str, Any]:
    """An optional table of the question file, each key known and of its type."""
    if not isinstance(table, dict):
        raise InputError(f"[{name}] must be a table", file=path, field=name)
    for key, value in table.items():
        kind = known.get(key)
        if kind is None:
            raise InputError(f"[{name}] {key} is not a known key (known: {', '.join(known)})", file=path,
                             field=key)
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            raise InputError(f"[{name}] {key} must be a {'list of strings' if kind is list else 'string'}",
                             file=path, field=key)
    return dict(table)


QUESTION_FILE = "question.toml"


def question_for(pkg) -> Question:
    """The question file beside a loaded data package (``<package>/question.toml``).

    The review code reads the arm codes and outcome words from it, so nothing in the code
    names an intervention. Loaded once per package object.
    """
    cached = getattr(pkg, "_question", None)
    if cached is None:
        cached = load_question(Path(pkg.root) / QUESTION_FILE)
        with contextlib.suppress(AttributeError):  # an object without attribute storage: reload each time
            pkg._question = cached
    return cached


def arm_codes(pkg) -> tuple[str, str | None]:
    """(intervention, comparator) treatment codes of the package's arms.csv."""
    return question_for(pkg).arm_codes
