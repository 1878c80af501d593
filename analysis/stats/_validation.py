"""Closed method vocabularies and the argument checks shared by the public functions.

Every option of the public API is one of a closed set of lower-case, hyphenated names
(one spelling each, no aliases). `check_choice` rejects anything else with a
`ValueError` that lists the valid names, as scipy does.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

StudyCIMethod = Literal[
    "clopper-pearson", "wilson", "wilson-cc", "agresti-coull", "jeffreys", "wald"
]
Measure = Literal["logit", "freeman-tukey", "arcsine", "log", "raw"]
TwoGroupMeasure = Literal["log-odds-ratio", "log-risk-ratio", "risk-difference"]
Model = Literal["common", "random", "glmm", "bayes"]
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

    The message names the file (when known), the row (1-based data row, header not
    counted, or the study id) and the field, so a user can go straight to the cell.
    """

    def __init__(self, message: str, *, file: str | None = None, row: object = None,
                 field: str | None = None) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.reason = message
        where = []
        if file is not None:
            where.append(f"{file}")
        if row is not None:
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
