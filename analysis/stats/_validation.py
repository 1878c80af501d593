"""Closed method vocabularies and the argument checks shared by the public functions.

Every option of the public API is one of a closed set of lower-case, hyphenated names
(one spelling each, no aliases). `check_choice` rejects anything else with a
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
TwoGroupMeasure = Literal["log-odds-ratio", "log-risk-ratio", "risk-difference"]
Model = Literal["common", "random", "glmm"]
Tau2Method = Literal["dersimonian-laird", "reml", "paule-mandel", "ml"]
CIMethod = Literal["wald", "knapp-hartung"]
CorrectionPolicy = Literal["only0", "all", "if0all", "none"]

STUDY_CI_METHODS: tuple[str, ...] = get_args(StudyCIMethod)
MEASURES: tuple[str, ...] = get_args(Measure)
TWO_GROUP_MEASURES: tuple[str, ...] = get_args(TwoGroupMeasure)
MODELS: tuple[str, ...] = get_args(Model)
TAU2_METHODS: tuple[str, ...] = get_args(Tau2Method)
CI_METHODS: tuple[str, ...] = get_args(CIMethod)
CORRECTION_POLICIES: tuple[str, ...] = get_args(CorrectionPolicy)


class InputError(ValueError):
    """Bad input data, with the place it was found.

    The message names the file (when known), the place in it and the field, so a user can
    go straight to the cell. The place is ``line`` (the file's own 1-based line number, as
    an editor or spreadsheet shows it) when the value came from a file, else ``row`` (a
    1-based position or the study id).
    """

    def __init__(self, message: str, *, file: str | None = None, row: object = None,
                 field: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.line = line
        self.reason = message
        where = []
        if file is not None:
            where.append(f"{file}")
        if line is not None:  # a file's own line number (what an editor shows) wins over a row
            where.append(f"line {line}")
        elif row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return `value` if it is one of `choices`, else raise a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(f'"{c}"' for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


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
