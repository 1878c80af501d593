"""The counts CSV that ``evsynth pool`` and ``evsynth compare`` read: one id column and
(events, total) pairs, every cell checked, errors naming the file, line and field."""

from __future__ import annotations

import os

from ..stats._validation import COLUMN_ALIASES, InputError, check_identifier, parse_integer
from .textio import read_csv_rows, read_text_file

__all__ = ["COUNTS_SINGLE", "COUNTS_TWO_GROUP", "MAX_LEAVE_ONE_OUT", "MAX_STUDIES", "read_counts_csv",
           "read_two_group_csv"]


# Limits of the counts reader, far above any real meta-analysis: 50,000 studies pool in about
# 20 s within 400 MB (GLMM); leave-one-out refits once per study, so it has its own limit
# (1,000 studies take minutes). Above either, the file is refused with a message.
MAX_STUDIES = 50_000
MAX_LEAVE_ONE_OUT = 1_000
COUNTS_SINGLE: tuple[tuple[str, str], ...] = (("events", "n"),)
COUNTS_TWO_GROUP: tuple[tuple[str, str], ...] = (("events_treated", "n_treated"),
                                                 ("events_control", "n_control"))


def read_counts_csv(path: str | os.PathLike, *,
                    counts: tuple[tuple[str, str], ...] = COUNTS_SINGLE,
                    id_column: str = "study_id", max_rows: int = MAX_STUDIES,
                    limit_reason: str = "the limit for one file",
                    id_optional: bool = False):
    """Read and validate a CSV of study counts: one id column and (events, total) pairs.

    The default reads ``study_id,events,n`` (the ``pool`` input); ``counts=
    COUNTS_TWO_GROUP`` reads ``study_id,events_treated,n_treated,events_control,
    n_control``. Other columns are ignored. Returns a pandas DataFrame of the id column and
    every count column (int64), one row per study, in file order (pandas is imported here,
    not when the module is: the data package loader shares this module).

    metafor's names ``slab``, ``xi`` and ``ni`` are accepted for the three columns (and
    ``ai``, ``n1i``, ``ci``, ``n2i`` for the two-group counts); messages name a column as
    the file spells it. With ``id_optional``, a file without the id column numbers its
    studies 1, 2, ... (metafor needs no study labels).

    Raises
    ------
    InputError
        Naming the file, its line and the field: everything `read_text_file` and
        `read_csv_rows` refuse, a missing column, no data rows, more than `max_rows`
        studies (``limit_reason`` says why), an empty, duplicate or unprintable id, a count that is not a whole
        number in plain digits (`parse_integer`) or is too large, a total below 1, and
        events above their total.
    """
    name = str(path)
    header, rows = read_csv_rows(read_text_file(path), file=name)
    # metafor's column names (slab, xi, ni; ai, n1i, ci, n2i) are read as this package's
    spelled = {_metafor_column(c, header): c.strip() for c in header}
    header = list(spelled)
    wanted = [id_column] + [c for pair in counts for c in pair]
    for col in wanted:
        if col not in header and not (col == id_column and id_optional):
            raise InputError(f"missing column (the header has: {', '.join(spelled.values())[:80]})",
                             file=name, line=1, field=col)
    if not rows:
        raise InputError(f"no data rows below the header (expected {','.join(wanted)})", file=name)
    if len(rows) > max_rows:
        raise InputError(f"{len(rows):,} rows: more than {max_rows:,} studies, {limit_reason}", file=name)
    idx = {c: header.index(c) for c in wanted if c in header}
    seen: dict[str, int] = {}
    ids: list[str] = []
    values: dict[str, list[int]] = {c: [] for c in wanted[1:]}
    for number, (line, rec) in enumerate(rows, start=1):
        id_field = spelled.get(id_column, id_column)
        sid = (check_identifier(rec[idx[id_column]], file=name, line=line, field=id_field)
               if id_column in idx else str(number))
        if sid in seen:
            raise InputError(f"duplicate {id_field} {sid!r} (first on line {seen[sid]})",
                             file=name, line=line, field=id_field)
        seen[sid] = line
        ids.append(sid)
        for ev_col, n_col in counts:
            ev_name, n_name = spelled[ev_col], spelled[n_col]
            e = parse_integer(rec[idx[ev_col]], file=name, line=line, field=ev_name)
            m = parse_integer(rec[idx[n_col]], file=name, line=line, field=n_name)
            if m < 1:
                raise InputError(f"{n_name} must be at least 1 (study {sid!r}); got {m}",
                                 file=name, line=line, field=n_name)
            if e > m:
                raise InputError(f"{ev_name} ({e}) exceed {n_name} ({m}) for study {sid!r}",
                                 file=name, line=line, field=ev_name)
            values[ev_col].append(e)
            values[n_col].append(m)
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({id_column: ids, **{c: np.asarray(v, dtype=np.int64) for c, v in values.items()}})
    return frame


_TWO_GROUP_COLUMNS = {"ai": "events_treated", "n1i": "n_treated", "ci": "events_control", "n2i": "n_control"}


def _metafor_column(name: str, header: list[str]) -> str:
    """A metafor column name as this package's, unless the package's own name is present."""
    key = name.strip().lower()
    ours = COLUMN_ALIASES.get(key) or _TWO_GROUP_COLUMNS.get(key)
    return ours if ours and ours not in header else name.strip()


def read_two_group_csv(path: str | os.PathLike):
    """Read a CSV of 2x2 tables: ``study_id,events_treated,n_treated,events_control,n_control``
    (metafor's ``slab,ai,n1i,ci,n2i`` accepted; without a study_id column the studies are
    numbered 1, 2, ...); the hardened `read_counts_csv` with ``counts=COUNTS_TWO_GROUP``."""
    return read_counts_csv(path, counts=COUNTS_TWO_GROUP, id_optional=True)
