"""Problems found while checking the data package: collected, capped, and located by line.

`load_package` (``analysis.review.io``) and the cross-table rules (``rules``) add every
problem to one `Problems` collector, so ``make check-data`` lists them all in one run.
Locations are the file's line numbers (header = line 1), counted by the csv module so a
quoted cell spanning lines is still right, with the record's primary key.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..stats._validation import InputError, InputErrors
from .rows import present

__all__ = ["MAX_PROBLEMS", "Problems", "record_key", "record_lines"]

# `check-data` lists at most this many problems (then says how many more there are).
MAX_PROBLEMS = 50


class Problems:
    """Collects `InputError`s instead of raising the first; `raise_if_any` raises them all."""

    def __init__(self, cap: int = MAX_PROBLEMS) -> None:
        self.errors: list[InputError] = []
        self.more = 0
        self.cap = cap

    def add(self, error: InputError) -> None:
        """Keep `error` (or only count it, beyond the cap)."""
        if len(self.errors) < self.cap:
            self.errors.append(error)
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raise one `InputErrors` holding every problem found so far."""
        if self.errors:
            raise InputErrors(self.errors, more=self.more)


def record_lines(path: Path) -> list[int]:
    """File line number (header = 1) where each data record starts, blank lines skipped.

    Counted with the csv module, so a quoted cell spanning several lines is still right.
    """
    starts = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        end = 0
        for i, rec in enumerate(reader):
            start, end = end + 1, reader.line_num
            if i > 0 and any(cell.strip() for cell in rec):
                starts.append(start)
    return starts


def record_key(res: dict, rows, i: int) -> str | None:
    """'row_id o12' / 'study_id/item x/q1': the primary key of data row `i` (0-based) of a
    table's rows (`analysis.review.rows.Table`)."""
    pk = res.get("schema", {}).get("primaryKey")
    if not pk:
        return None
    keys = [pk] if isinstance(pk, str) else list(pk)
    columns = getattr(rows, "columns", None)
    vals = [rows[i][columns.index(k)] for k in keys] if columns is not None and 0 <= i < len(rows) else []
    if not vals or any(not present(v) for v in vals):
        return None
    return f"{'/'.join(keys)} {'/'.join(map(str, vals))}"
