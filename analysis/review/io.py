"""Files <-> rows: the Frictionless data package, count CSVs, and result JSON.

The loader reads each table through the Table Schema in ``data/datapackage.json``
(field names, types, ``required``, ``minimum``/``maximum``, ``enum``, ``pattern``,
``primaryKey``, ``foreignKeys``); there is no second hand-written copy of the column
types in Python. Rules that Table Schema cannot express (``events <= n``, arm sizes
consistent with the study, links between claims and data rows) are checked in
`check_package`. `load_package` reports every problem it finds in one pass (up to
`MAX_PROBLEMS`), each an `analysis.InputError` naming the file, the line (the file's
line number, header = line 1) with the record's key, and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from ..stats._validation import InputError
from .atomic import atomic_write_bytes, transaction
from .counts import (
    COUNTS_SINGLE,
    COUNTS_TWO_GROUP,
    MAX_LEAVE_ONE_OUT,
    MAX_STUDIES,
    read_counts_csv,
    read_two_group_csv,
)
from .problems import MAX_PROBLEMS, Problems, record_key, record_lines
from .rows import Table, present
from .schema import check_descriptor, read_resource
from .textio import read_csv_rows, read_text_file

# The counts reader (`analysis.review.counts`) and the schema reader (`analysis.review.schema`)
# live in their own modules; their public names are re-exported here, the one place callers
# import file handling from.
__all__ = [
    "COUNTS_SINGLE",
    "COUNTS_TWO_GROUP",
    "MAX_LEAVE_ONE_OUT",
    "MAX_PROBLEMS",
    "MAX_STUDIES",
    "DataPackage",
    "Problems",
    "Table",
    "dumps_json",
    "load_package",
    "read_counts_csv",
    "read_csv_rows",
    "read_text_file",
    "read_two_group_csv",
    "record_lines",
    "sha256_file",
    "transaction",
    "verify_hashes",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_text",
]


# ------------------------------------------------------------------------ data package


class DataPackage:
    """A loaded, validated data package: ``tables[name]`` (also ``pkg[name]``) are the
    typed rows of each table (`analysis.review.rows.Table`: namedtuples, missing cells
    None); ``pkg.frame(name)`` gives one as a pandas DataFrame."""

    def __init__(self, root: Path, descriptor: dict, tables: dict[str, Table],
                 lines: dict[str, list[int]] | None = None):
        self.root = root
        self.descriptor = descriptor
        self.tables = tables
        self.lines = lines or {}

    def rows(self, name: str) -> Table:
        """The rows of a table (the same as ``pkg[name]``)."""
        return self.tables[name]

    def frame(self, name: str):
        """A table as a pandas DataFrame (nullable ``Int64``/``Float64`` columns), for
        notebooks and users; the review itself works on the rows."""
        return self.tables[name].frame()

    def where(self, name: str, i: int) -> dict[str, Any]:
        """``line`` and ``row_id`` keywords of `InputError` for data row `i` (1-based) of a table."""
        lines = self.lines.get(name) or []
        line = lines[i - 1] if 0 < i <= len(lines) else i + 1
        return {"line": line, "row_id": record_key(self.resource(name), self.tables[name], i - 1)}

    def located(self, exc: InputError) -> InputError:
        """`exc` with its data row replaced by the file's line number (and key), when it can be mapped."""
        if exc.line is not None or not isinstance(exc.row, int):
            return exc
        for res in self.descriptor["resources"]:
            rows = self.lines.get(res["name"])
            if rows and exc.file == f"data/{res['path']}" and 1 <= exc.row <= len(rows):
                return InputError(exc.reason, file=exc.file, field=exc.field, **self.where(res["name"], exc.row))
        return exc

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def resource(self, name: str) -> dict:
        """The descriptor entry of a resource."""
        for r in self.descriptor["resources"]:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def hashes(self) -> dict[str, str]:
        """Resource path -> recorded hash, for the colophon."""
        return {
            r["path"]: r.get("hash", "")
            for r in self.descriptor["resources"]
            if "hash" in r
        }


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_hashes(descriptor_path: str | os.PathLike) -> list[str]:
    """Return one message per raw resource whose sha256 differs from the descriptor."""
    dp = Path(descriptor_path)
    desc = json.loads(dp.read_text(encoding="utf-8"))
    problems = []
    for r in desc["resources"]:
        if "hash" not in r:
            continue
        f = dp.parent / r["path"]
        want = r["hash"].removeprefix("sha256:")
        got = sha256_file(f) if f.is_file() else "missing"
        if got != want:
            problems.append(f"{r['path']}: sha256 {got} does not match datapackage.json {want}")
    return problems


def _check_foreign_keys(pkg: DataPackage, problems: Problems) -> None:
    desc, tables = pkg.descriptor, pkg.tables
    for res in desc["resources"]:
        if res["name"] not in tables:
            continue
        rows = tables[res["name"]]
        for fk in res.get("schema", {}).get("foreignKeys", []):
            fields = [fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"]
            ref = fk["reference"]
            if ref["resource"] not in tables:
                continue
            target = tables[ref["resource"]]
            rfields = [ref["fields"]] if isinstance(ref["fields"], str) else ref["fields"]
            valid = set(zip(*(target.column(f) for f in rfields), strict=True))
            for i, key in enumerate(zip(*(rows.column(f) for f in fields), strict=True), start=1):
                if not all(present(k) for k in key):
                    continue
                if key not in valid:
                    problems.add(InputError(
                        f"{'/'.join(fields)} {key if len(key) > 1 else key[0]!r} does not exist in "
                        f"{ref['resource']}",
                        file=f"data/{res['path']}", field="/".join(fields), **pkg.where(res["name"], i),
                    ))


def load_package(descriptor_path: str | os.PathLike, *, check_hashes: bool = True) -> DataPackage:
    """Load every tabular resource of a data package through its schema and validate it.

    Runs, in order: each table's schema, the foreign keys, `check_package`'s cross-table
    rules, and (when all of those pass) the sha256 of every raw file (optional). Every
    problem is collected (up to `MAX_PROBLEMS`) and raised together as one
    `analysis.stats._validation.InputErrors` (an `InputError`), each naming the file, line
    and field.
    """
    dp = Path(descriptor_path)
    name = str(descriptor_path)
    text = read_text_file(dp, kind="JSON")
    try:
        desc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, column {exc.colno})", file=name, line=exc.lineno) from None
    except RecursionError:
        raise InputError("not valid JSON (nested too deeply)", file=name) from None
    check_descriptor(desc, file=name)
    root = dp.parent
    problems = Problems()
    tables, lines = {}, {}
    for res in desc["resources"]:
        if "schema" in res and not res.get("compendium:generatedBy"):
            read = read_resource(root, res, problems)
            if read is not None:  # the lines come from the same parse as the rows
                tables[res["name"]], lines[res["name"]] = read
    pkg = DataPackage(root, desc, tables, lines)
    unreadable = len(tables) < sum(1 for r in desc["resources"]
                                   if "schema" in r and not r.get("compendium:generatedBy"))
    if unreadable or problems:  # cross-table rules need every table, every cell read
        problems.raise_if_any()
    _check_foreign_keys(pkg, problems)
    from .rules import check_package  # local import: rules live beside the loader

    check_package(pkg, problems)
    problems.raise_if_any()
    # hashes last, so a curator editing a table sees its schema errors first
    if check_hashes:
        for bad in verify_hashes(dp):
            problems.add(InputError(bad + " (a raw file changed: record why in data/README.md, "
                                    "then run `make update-hashes`)", file=str(descriptor_path)))
        problems.raise_if_any()
    return pkg


# ------------------------------------------------------------------------------ writers


def _is_na(o) -> bool:
    """pandas' NA (looked for only when pandas is loaded: the review's rows never hold it)."""
    pd = sys.modules.get("pandas")
    return pd is not None and o is pd.NA


def _json_default(o):
    np = sys.modules.get("numpy")  # numpy scalars exist only once numpy is loaded
    if np is not None:
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o) if math.isfinite(float(o)) else None
        if isinstance(o, np.bool_):
            return bool(o)
    if _is_na(o):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if _is_na(o):
        return None
    return o


def dumps_json(obj: Any) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, NaN/inf as null, trailing newline."""
    return json.dumps(_clean(obj), sort_keys=True, indent=2, default=_json_default, allow_nan=False) + "\n"


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write `dumps_json(obj)` atomically."""
    atomic_write_bytes(path, dumps_json(obj).encode("utf-8"))


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write bytes atomically."""
    atomic_write_bytes(path, data)


def write_csv(df, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame as CSV atomically (no index, LF line ends, 10 significant digits)."""
    text = df.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    atomic_write_bytes(path, text.encode("utf-8"))
