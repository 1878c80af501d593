"""Typed rows of the data package: each table a `Table` of namedtuples, missing cells None.

The loader (`analysis.review.io.load_package`) types every cell through the Table Schema
(integers as ``int``, numbers as ``float``, booleans as ``bool``, the rest as ``str``), so
the review works on plain Python rows: for tables of tens to hundreds of rows a lookup in
a dict costs a microsecond where a pandas operation costs a hundred. `Table.frame` gives
the same table as a pandas DataFrame (nullable ``Int64`` / ``Float64`` columns) for
notebooks; pandas is imported only then.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Table", "by_key", "present", "split"]


def present(v: Any) -> bool:
    """Whether a cell holds a value (not None, not NaN, not pandas' NA)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return False
    return type(v).__name__ != "NAType"


def split(cell: Any) -> list[str]:
    """The parts of a ';'-separated cell, stripped; none for a missing cell."""
    return [p.strip() for p in str(cell).split(";") if p.strip()] if present(cell) else []


class Table(tuple):
    """The rows of one table, in file order, each a namedtuple whose fields are the
    table's columns; ``columns`` names them (also when there are no rows) and ``types``
    holds their Table Schema types."""

    columns: tuple[str, ...]
    types: dict[str, str]
    row: type

    def __new__(cls, columns: Iterable[str], rows: Iterable = (), types: Mapping[str, str] | None = None):
        self = super().__new__(cls, rows)
        self.columns = tuple(columns)
        self.types = dict(types or {})
        self.row = row_type(self.columns)
        return self

    def __getnewargs__(self):  # copy and pickle rebuild the columns and types too
        return self.columns, tuple(self), self.types

    @classmethod
    def from_records(cls, columns: Iterable[str], records: Iterable[Mapping[str, Any]],
                     types: Mapping[str, str] | None = None) -> Table:
        """A table from dicts (a column a record leaves out is None)."""
        columns = tuple(columns)
        make = row_type(columns)
        return cls(columns, [make(*(rec.get(c) for c in columns)) for rec in records], types)

    def replace(self, rows: Iterable) -> Table:
        """The same columns and types with other rows."""
        return Table(self.columns, rows, self.types)

    def column(self, name: str) -> list:
        """The values of one column, in row order."""
        i = self.columns.index(name)
        return [r[i] for r in self]

    def records(self) -> list[dict[str, Any]]:
        """Each row as a dict of column -> value."""
        return [dict(zip(self.columns, r, strict=True)) for r in self]

    def frame(self):
        """The table as a pandas DataFrame: integer and number columns as the nullable
        ``Int64`` and ``Float64`` dtypes, missing cells as pandas' NA."""
        import pandas as pd

        df = pd.DataFrame.from_records([tuple(r) for r in self], columns=list(self.columns))
        for name, kind in self.types.items():
            if kind == "integer":
                df[name] = df[name].astype("Int64")
            elif kind == "number":
                df[name] = df[name].astype("Float64")
        return df


_ROW_TYPES: dict[tuple[str, ...], type] = {}


def row_type(columns: tuple[str, ...]) -> type:
    """The namedtuple class of rows with these columns (one class per column list; a name
    that is not an identifier gets a positional field name, as pandas' ``itertuples``)."""
    if columns not in _ROW_TYPES:
        _ROW_TYPES[columns] = namedtuple("Row", columns, rename=True)
    return _ROW_TYPES[columns]


def by_key(rows: Iterable, *fields: str) -> dict:
    """Rows by the value of one field (or a tuple of several); a repeated key keeps its
    first row."""
    out: dict = {}
    for r in rows:
        key = getattr(r, fields[0]) if len(fields) == 1 else tuple(getattr(r, f) for f in fields)
        out.setdefault(key, r)
    return out
