"""Per-study columns of a fit, held as plain arrays (internal).

The engine's results show their per-study rows as pandas DataFrames (``res.studies``,
``study_proportions``, ``effect_sizes``), which is what users read and what metafor's
``escalc`` tables look like. Inside a fit, though, a DataFrame is pure overhead for a
handful of studies, and importing pandas costs a pipeline step 0.2 s. So the kernels
build a `Columns` (named columns, one NumPy array each) and a DataFrame is made only
where one is asked for (`Columns.frame`, which imports pandas then).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .result_types import _num


def _column(values) -> np.ndarray:
    """One column as a 1-d array. Numbers become a numeric array; a column with text,
    None or other objects (e.g. tuples of warnings) keeps them, one Python object per
    row (as a DataFrame's object column)."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "biuf":
        return values
    values = list(values)
    if all(isinstance(v, int | float | np.number | np.bool_) for v in values):
        return np.asarray(values)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


class Columns:
    """Named, equal-length columns (NumPy arrays), in order; immutable by convention.

    Columns read as attributes or items (``t.effect``, ``t["effect"]``); `assign` returns
    a new table; `records` gives JSON-safe rows; `frame` the pandas DataFrame.

    Examples
    --------
    >>> t = Columns({"study_id": ["a", "b"], "events": [1, 2]})
    >>> len(t), t.events.tolist(), t.assign(n=[4, 5]).records(["study_id", "n"])
    (2, [1, 2], [{'study_id': 'a', 'n': 4}, {'study_id': 'b', 'n': 5}])
    """

    __slots__ = ("_cols",)

    def __init__(self, columns: Mapping[str, Any]):
        cols = {name: _column(values) for name, values in columns.items()}
        sizes = {len(v) for v in cols.values()}
        if len(sizes) > 1:
            raise ValueError(f"columns differ in length: {sorted(sizes)}")
        object.__setattr__(self, "_cols", cols)

    @classmethod
    def from_records(cls, rows: list[dict[str, Any]]) -> Columns:
        """Rows (dicts with the same keys, in the same order) to columns."""
        names = list(rows[0]) if rows else []
        return cls({name: [r[name] for r in rows] for name in names})

    def __len__(self) -> int:
        return len(next(iter(self._cols.values()))) if self._cols else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self._cols[name]

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self._cols[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("Columns is immutable: use assign()")

    @property
    def columns(self) -> list[str]:
        return list(self._cols)

    def assign(self, **columns) -> Columns:
        """A new table with these columns added (or replaced, in place)."""
        return Columns({**self._cols, **columns})

    def row(self, i: int) -> dict[str, Any]:
        """Row `i` as a dict of Python values (as stored: NaN stays NaN)."""
        return {name: v[i].item() if isinstance(v[i], np.generic) else v[i] for name, v in self._cols.items()}

    def itertuples(self) -> Iterator[Any]:
        """Rows as namedtuples of Python scalars (as ``DataFrame.itertuples(index=False)``)."""
        from collections import namedtuple

        row = namedtuple("Row", self.columns, rename=True)
        for values in zip(*(v.tolist() for v in self._cols.values()), strict=True):
            yield row(*values)

    def records(self, columns: list[str] | None = None) -> list[dict[str, Any]]:
        """JSON-safe rows: Python numbers, None for NaN and infinities."""
        names = self.columns if columns is None else columns
        values = [self._cols[n].tolist() for n in names]
        return [{n: _num(v) for n, v in zip(names, row, strict=True)} for row in zip(*values, strict=True)]

    def frame(self):
        """The columns as a pandas DataFrame (pandas is imported here, not before)."""
        import pandas as pd

        return pd.DataFrame({name: (list(v) if v.dtype == object else v) for name, v in self._cols.items()})

    def __repr__(self) -> str:
        return f"Columns({len(self)} rows: {', '.join(self.columns)})"


def cached_frame(result) -> Any:
    """``result.table`` as a DataFrame, made on first read and kept in ``result._frame``
    (the result dataclasses are frozen; this is their one lazily filled field)."""
    if result._frame is None:
        object.__setattr__(result, "_frame", result.table.frame())
    return result._frame
