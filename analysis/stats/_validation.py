"""Closed method vocabularies, metafor's spellings of them, and the shared argument checks.

Every option of the public API has one canonical lower-case, hyphenated name per method.
R metafor's spellings (``"PLO"``, ``"REML"``, ``"knha"``, ...) are accepted too, case-
insensitively, through the one alias table `ALIASES` (used by the API and the command
line alike; `canonical` applies it). `check_choice` rejects anything else with a
`ValueError` that lists the valid names, as scipy does.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal, get_args

import numpy as np

StudyCIMethod = Literal[
    "clopper-pearson", "wilson", "wilson-cc", "agresti-coull", "jeffreys", "wald"
]
Measure = Literal["logit", "freeman-tukey", "arcsine", "log", "raw"]
TwoGroupMeasure = Literal["or", "rr", "rd"]
TwoGroupMethod = Literal["mantel-haenszel", "peto", "inverse-variance", "glmm-umfs", "glmm-cmel"]
TwoGroupCIMethod = Literal["wald", "knapp-hartung", "t"]
Model = Literal["common", "random", "glmm", "bayes"]
Tau2Method = Literal["dersimonian-laird", "reml", "paule-mandel", "ml"]
CIMethod = Literal["wald", "t", "knapp-hartung"]
CorrectionPolicy = Literal["only0", "all", "if0all", "none"]
PIMethod = Literal["metafor", "hts"]

STUDY_CI_METHODS: tuple[str, ...] = get_args(StudyCIMethod)
MEASURES: tuple[str, ...] = get_args(Measure)
TWO_GROUP_MEASURES: tuple[str, ...] = get_args(TwoGroupMeasure)
TWO_GROUP_METHODS: tuple[str, ...] = get_args(TwoGroupMethod)
TWO_GROUP_CI_METHODS: tuple[str, ...] = get_args(TwoGroupCIMethod)
MODELS: tuple[str, ...] = get_args(Model)
TAU2_METHODS: tuple[str, ...] = get_args(Tau2Method)
CI_METHODS: tuple[str, ...] = get_args(CIMethod)
PI_METHODS: tuple[str, ...] = get_args(PIMethod)
CORRECTION_POLICIES: tuple[str, ...] = get_args(CorrectionPolicy)

# metafor's spelling (lower case) -> this package's canonical name, per option. Canonical
# names map to themselves implicitly; matching is case-insensitive. The README's
# "metafor <-> this package" table is this table.
ALIASES: dict[str, dict[str, str]] = {
    "measure": {"plo": "logit", "pft": "freeman-tukey", "pas": "arcsine", "pr": "raw",
                "pln": "log"},
    "two_group_measure": {"or": "or", "rr": "rr", "rd": "rd"},
    # metafor's method= names the model (EE/FE/CE) or the tau^2 estimator (REML, DL, ...)
    "model": {"ee": "common", "fe": "common", "ce": "common", "re": "random"},
    "tau2_method": {"dl": "dersimonian-laird", "reml": "reml", "pm": "paule-mandel", "ml": "ml"},
    # test=: "z" normal quantiles, "t" t(k - p) quantiles, "knha" Knapp-Hartung
    "ci_method": {"z": "wald", "t": "t", "knha": "knapp-hartung"},
    "correction_policy": {},
    "study_ci_method": {},
}
# metafor's data-column names -> this package's (the CSV reader of `evsynth pool`)
COLUMN_ALIASES: dict[str, str] = {"xi": "events", "ni": "n", "slab": "study_id"}
_VOCABULARY = {"measure": MEASURES, "two_group_measure": TWO_GROUP_MEASURES, "model": MODELS,
               "tau2_method": TAU2_METHODS, "ci_method": CI_METHODS,
               "correction_policy": CORRECTION_POLICIES, "study_ci_method": STUDY_CI_METHODS}


class InputError(ValueError):
    """Bad input data, with the place it was found, as one line.

    The message names the file (when known), the place in it -- ``line`` (the file's line
    number, header = line 1) with the record's key (``row_id``, e.g. its primary key), or
    ``row`` (1-based data row, or the study id) -- and the field, so a user can go
    straight to the cell.

    Examples
    --------
    >>> str(InputError("exceeds n", file="o.csv", line=6, row_id="row_id o5", field="events"))
    "o.csv, line 6 (row_id o5), field 'events': exceeds n"
    """

    def __init__(self, message: str, *, file: str | None = None, row: object = None,
                 field: str | None = None, line: int | None = None,
                 row_id: str | None = None) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.line = line
        self.row_id = row_id
        self.reason = message
        where = []
        if file is not None:
            where.append(f"{file}")
        if line is not None:
            where.append(f"line {line}" + (f" ({row_id})" if row_id else ""))
        elif row_id:
            where.append(row_id)
        if row is not None and line is None:  # a file's own line number wins over a data row
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class InputErrors(InputError):
    """Several problems found in one pass over the input (``errors``: `InputError`s).

    ``str()`` is the first problem and how many more there are; the command line prints
    every one of ``errors``, one per line. ``more`` counts problems beyond the cap that
    were found but not kept.
    """

    def __init__(self, errors: list[InputError], *, more: int = 0) -> None:
        if not errors:
            raise ValueError("InputErrors needs at least one error")
        self.errors = list(errors)
        self.more = more
        if more:
            self.errors.append(InputError(f"... and {more} more problems not shown (fix these first)"))
        first = errors[0]
        self.file, self.row, self.field = first.file, first.row, first.field
        self.line, self.row_id, self.reason = first.line, first.row_id, first.reason
        total = len(errors) + more
        ValueError.__init__(self, str(first) if total == 1 else f"{first} (and {total - 1} more problems)")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return `value` if it is one of `choices`, else raise a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(f'"{c}"' for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def canonical(option: str, value: object) -> object:
    """The canonical name of `value` for `option` (a metafor alias or any letter case).

    Values that are not strings, or strings that match nothing, are returned unchanged, so
    the caller's `check_choice` still names the option and lists the valid names.

    Examples
    --------
    >>> canonical("measure", "PLO"), canonical("tau2_method", "DL"), canonical("model", "RE")
    ('logit', 'dersimonian-laird', 'random')
    >>> canonical("ci_method", "knha"), canonical("measure", "Freeman-Tukey")
    ('knapp-hartung', 'freeman-tukey')
    """
    if not isinstance(value, str):
        return value
    key = value.strip().lower()
    table = ALIASES.get(option, {})
    if key in table:
        return table[key]
    return key if key in _VOCABULARY.get(option, ()) else value


def aliases_of(option: str, name: str) -> list[str]:
    """metafor spellings that mean `name` for `option` (for help texts and the README)."""
    return [a.upper() if option != "ci_method" else a
            for a, n in ALIASES.get(option, {}).items() if n == name and a != name]


def parse_level(value: object) -> float:
    """A confidence level given as a fraction (0.95) or, as metafor allows, a percentage (95).

    Examples
    --------
    >>> parse_level("95"), parse_level(0.9), parse_level("99.5")
    (0.95, 0.9, 0.995)
    """
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"confidence level must be a number such as 0.95 or 95; got {value!r}") from None
    if 1.0 < x < 100.0:
        x = round(x / 100.0, 12)
    if not 0.0 < x < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), or a percentage in (1, 100); got {value!r}")
    return x


def check_confidence_level(confidence_level: float) -> float:
    """Return the level as float if 0 < level < 1, else raise ValueError."""
    try:
        level = float(confidence_level)
    except (TypeError, ValueError):
        raise ValueError(
            f"confidence_level must be a number in (0, 1); got {confidence_level!r}"
        ) from None
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level!r}")
    return level


def check_counts(events, n, *, study_ids=None, allow_empty: bool = False):
    """Validate binomial counts and return them as read-only int64 arrays.

    Raises
    ------
    InputError
        Naming the offending study (by id when given, else 1-based position) and field,
        for: a non-integer or negative count, ``n < 1``, ``events > n``, unequal lengths,
        no studies, or duplicate study ids.
    """
    ev = np.atleast_1d(np.asarray(events, dtype=object))
    nn = np.atleast_1d(np.asarray(n, dtype=object))
    if ev.ndim != 1 or nn.ndim != 1:
        raise InputError("events and n must be one-dimensional")
    if ev.shape != nn.shape:
        raise InputError(
            f"events and n must have the same length; got {ev.size} and {nn.size}"
        )
    if ev.size == 0 and not allow_empty:
        raise InputError("no studies: at least one (events, n) pair is needed")
    ids = list(study_ids) if study_ids is not None else [i + 1 for i in range(ev.size)]
    if len(ids) != ev.size:
        raise InputError("study_ids must have one entry per study")
    seen: set = set()
    for sid in ids:
        if sid in seen:
            raise InputError(f"duplicate study_id {sid!r}", row=sid, field="study_id")
        seen.add(sid)
    # fast path: numeric arrays of whole, non-negative numbers with 1 <= n and events <= n;
    # anything else falls through to the element loop, which names the first bad cell
    try:
        fe = np.asarray(ev, dtype=float)
        fn = np.asarray(nn, dtype=float)
        ok = (np.isfinite(fe).all() and np.isfinite(fn).all() and (fe == np.floor(fe)).all()
              and (fn == np.floor(fn)).all() and (fe >= 0).all() and (fn >= 1).all() and (fe <= fn).all()
              and not any(isinstance(v, bool | np.bool_) for v in ev[:1]))
    except (TypeError, ValueError):
        ok = False
    if ok:
        out_e, out_n = fe.astype(np.int64), fn.astype(np.int64)
    else:
        out_e = np.empty(ev.size, dtype=np.int64)
        out_n = np.empty(ev.size, dtype=np.int64)
        for i, (e, m) in enumerate(zip(ev, nn, strict=True)):
            for field, value, target in (("events", e, out_e), ("n", m, out_n)):
                target[i] = _as_count(value, row=ids[i], field=field)
            if out_n[i] < 1:
                raise InputError(f"n must be at least 1; got {out_n[i]}", row=ids[i], field="n")
            if out_e[i] > out_n[i]:
                raise InputError(
                    f"events ({out_e[i]}) exceed n ({out_n[i]})", row=ids[i], field="events"
                )
    out_e.setflags(write=False)
    out_n.setflags(write=False)
    return out_e, out_n


def _as_count(value, *, row, field) -> int:
    if isinstance(value, bool | np.bool_):
        raise InputError(f"must be a whole number; got {value!r}", row=row, field=field)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"must be a whole number; got {value!r}", row=row, field=field
        ) from None
    if not np.isfinite(x) or x != np.floor(x):
        raise InputError(f"must be a whole number; got {value!r}", row=row, field=field)
    if x < 0:
        raise InputError(f"must not be negative; got {value!r}", row=row, field=field)
    return int(x)


# ---------------------------------------------------------------- cells read from text files

# The engine computes with counts as float64: n + 0.5 (a continuity correction) stops being
# exact near 2**52 = 4.5e15, and the GLMM's finite-difference Hessian loses all precision
# before that. 10**12 keeps three orders of magnitude in hand and is far above any count of
# patients; a larger number is refused as "too large" instead of overflowing or rounding.
MAX_COUNT = 10**12
MAX_ID_LENGTH = 200
_DIGITS = re.compile(r"[0-9]+")
_GROUPED = re.compile(r"[0-9]{1,3}([,.' _\u00a0\u202f])[0-9]{3}(?:\1[0-9]{3})*")


def _shown(text: str, limit: int = 40) -> str:
    """`text` quoted for a one-line message, shortened if long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_integer(text: str, *, file: str | None = None, line: int | None = None,
                  field: str | None = None, allow_negative: bool = False) -> int:
    """A whole number written in ASCII digits (optionally ``-`` first), else an InputError.

    Stricter than ``int()`` on purpose: ``1,000``, ``1.000`` and ``1 000`` (thousands
    separators), ``+5`` (a sign), ``5.0`` and ``1e3`` (not integers as written),
    ``1_000`` and non-ASCII digits are refused with a message saying what to write
    instead, and anything above `MAX_COUNT` is "too large". The message names the file,
    line and field given.

    >>> parse_integer(" 42 ")
    42
    >>> parse_integer("1,000", field="n")
    Traceback (most recent call last):
    ...
    analysis.stats._validation.InputError: field 'n': '1,000' has a thousands separator; write the number with digits only (1000)
    """
    where = {"file": file, "line": line, "field": field}
    s = text.strip()
    if s == "":
        raise InputError("empty cell: a whole number is required", **where)
    negative = s.startswith("-") and _DIGITS.fullmatch(s[1:]) is not None
    digits = s[1:] if negative else s
    if _DIGITS.fullmatch(digits):
        significant = digits.lstrip("0")
        if len(significant) > len(str(MAX_COUNT)) or int(significant or "0") > MAX_COUNT:
            raise InputError(f"{_shown(s)} is too large (the limit is {MAX_COUNT:,}, within which "
                             "the double-precision arithmetic of the engine stays exact)", **where)
        value = int(digits)
        if negative and value:
            if not allow_negative:
                raise InputError(f"must not be negative: {_shown(s)}", **where)
            return -value
        return value
    raise InputError(_why_not_integer(s), **where)


def _why_not_integer(s: str) -> str:
    if s[0] in "+-" and _DIGITS.fullmatch(s[1:]):
        return f"{_shown(s)} has a sign; write the number with digits only ({s[1:]})"
    if _GROUPED.fullmatch(s):
        plain = re.sub(r"[^0-9]", "", s)
        return f"{_shown(s)} has a thousands separator; write the number with digits only ({plain})"
    if not s.isascii():
        return f"not a whole number in ASCII digits: {_shown(s)}"
    try:
        x = float(s)
    except ValueError:
        return f"not a whole number: {_shown(s)}"
    if np.isfinite(x) and x == int(x):
        return f"{_shown(s)} is not written as a whole number; write digits only ({int(x)})"
    return f"must be a whole number: {_shown(s)}"


def check_identifier(text: str, *, file: str | None = None, line: int | None = None,
                     field: str | None = None) -> str:
    """An identifier cell stripped of surrounding blanks: non-empty, printable, at most
    `MAX_ID_LENGTH` characters; else an InputError naming file, line and field."""
    where = {"file": file, "line": line, "field": field}
    s = text.strip()
    if not s:
        raise InputError("empty identifier: every row needs one", **where)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in s):
        raise InputError(f"identifier contains a control or invisible character: {_shown(s)}", **where)
    if len(s) > MAX_ID_LENGTH:
        raise InputError(f"identifier longer than {MAX_ID_LENGTH} characters: {_shown(s)}", **where)
    return s
