"""Files <-> frames: the Frictionless data package, count CSVs, and result JSON.

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
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats._validation import COLUMN_ALIASES, InputError, check_identifier, parse_integer
from .atomic import atomic_write_bytes, transaction
from .problems import MAX_PROBLEMS, Problems, record_key, record_lines
from .textio import read_csv_rows, read_text_file

__all__ = [
    "COUNTS_SINGLE",
    "COUNTS_TWO_GROUP",
    "MAX_LEAVE_ONE_OUT",
    "MAX_PROBLEMS",
    "MAX_STUDIES",
    "DataPackage",
    "Problems",
    "load_package",
    "read_counts_csv",
    "read_csv_rows",
    "read_text_file",
    "read_two_group_csv",
    "record_lines",
    "sha256_file",
    "transaction",
    "verify_hashes",
    "write_csv",
    "write_json",
    "write_text",
]


# --------------------------------------------------------------------------- counts CSV

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
                    id_optional: bool = False) -> pd.DataFrame:
    """Read and validate a CSV of study counts: one id column and (events, total) pairs.

    The default reads ``study_id,events,n`` (the ``pool`` input); ``counts=
    COUNTS_TWO_GROUP`` reads ``study_id,events_treated,n_treated,events_control,
    n_control``. Other columns are ignored. Returns the id column and every count
    column (int64), one row per study, in file order.

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
    frame = pd.DataFrame({id_column: ids, **{c: np.asarray(v, dtype=np.int64) for c, v in values.items()}})
    return frame


_TWO_GROUP_COLUMNS = {"ai": "events_treated", "n1i": "n_treated", "ci": "events_control", "n2i": "n_control"}


def _metafor_column(name: str, header: list[str]) -> str:
    """A metafor column name as this package's, unless the package's own name is present."""
    key = name.strip().lower()
    ours = COLUMN_ALIASES.get(key) or _TWO_GROUP_COLUMNS.get(key)
    return ours if ours and ours not in header else name.strip()


def read_two_group_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV of 2x2 tables: ``study_id,events_treated,n_treated,events_control,n_control``
    (metafor's ``slab,ai,n1i,ci,n2i`` accepted; without a study_id column the studies are
    numbered 1, 2, ...); the hardened `read_counts_csv` with ``counts=COUNTS_TWO_GROUP``."""
    return read_counts_csv(path, counts=COUNTS_TWO_GROUP, id_optional=True)


# ------------------------------------------------------------------------ data package

_TRUE = {"true", "TRUE", "True", "1", "yes"}
_FALSE = {"false", "FALSE", "False", "0", "no"}


class DataPackage:
    """A loaded, validated data package: ``tables[name]`` are typed DataFrames."""

    def __init__(self, root: Path, descriptor: dict, tables: dict[str, pd.DataFrame],
                 lines: dict[str, list[int]] | None = None):
        self.root = root
        self.descriptor = descriptor
        self.tables = tables
        self.lines = lines or {}

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

    def __getitem__(self, name: str) -> pd.DataFrame:
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


def _cast(value: str, field: dict, *, file: str, line: int) -> Any:
    name = field["name"]
    ftype = field.get("type", "string")
    cons = field.get("constraints", {})
    missing = value.strip() == ""
    if missing:
        if cons.get("required"):
            raise InputError("required value is missing", file=file, line=line, field=name)
        return None
    v = value.strip()
    where = {"file": file, "line": line, "field": name}
    if ftype == "integer":
        try:
            out: Any = parse_integer(v, allow_negative=True, **where)
        except InputError as exc:
            raise InputError(f"not an integer: {exc.reason}", **where) from None
    elif ftype == "number":
        try:
            out = float(v) if len(v) <= 100 else float("nan")
        except ValueError:
            raise InputError(f"not a number: {v[:40]!r}", **where) from None
        if not math.isfinite(out):
            raise InputError(f"not a finite number: {v[:40]!r}", **where)
    elif ftype == "boolean":
        if v in _TRUE:
            out = True
        elif v in _FALSE:
            out = False
        else:
            raise InputError(f"not a boolean: {v[:40]!r}", **where)
    else:
        out = v
    if "minimum" in cons and out < cons["minimum"]:
        raise InputError(f"{out!r} is below the minimum {cons['minimum']}", **where)
    if "maximum" in cons and out > cons["maximum"]:
        raise InputError(f"{out!r} is above the maximum {cons['maximum']}", **where)
    if "enum" in cons and out not in cons["enum"]:
        allowed = ", ".join(map(str, cons["enum"]))
        raise InputError(f"unknown value {out!r} (allowed: {allowed})", **where)
    if "pattern" in cons and not re.fullmatch(cons["pattern"], str(out)):
        raise InputError(f"{out!r} does not match the pattern {cons['pattern']}", **where)
    return out


def _read_resource(root: Path, res: dict, problems: Problems | None = None
                   ) -> tuple[pd.DataFrame, list[int]] | None:
    """One table through its schema, with the file line where each of its rows starts;
    cell problems go to `problems` (None: raise the first).

    Returns None when the table cannot be read at all (the problem is recorded).
    """
    if problems is None:
        problems = Problems()
        read = _read_resource(root, res, problems)
        problems.raise_if_any()
        return read
    try:
        return _read_table(root, res, problems)
    except InputError as exc:  # the file as a whole is unusable
        problems.add(exc)
        return None


def _read_table(root: Path, res: dict, problems: Problems) -> tuple[pd.DataFrame, list[int]]:
    rel = res["path"]
    path = root / rel
    file = f"data/{rel}"
    if not path.exists():
        raise InputError("file listed in datapackage.json is missing", file=file)
    text = read_text_file(path)  # UTF-8 only, not a directory, not binary, size-capped
    if not text.strip():
        raise InputError("the file is empty", file=file)
    header, rows = read_csv_rows(text, file=file)  # ragged rows refused naming their line
    if not rows:  # every other table's links to it would dangle: report the cause once
        raise InputError("no data rows below the header", file=file)
    fields = res["schema"]["fields"]
    names = [f["name"] for f in fields]
    bad_columns = [InputError("missing column", file=file, line=1, field=f) for f in names if f not in header]
    bad_columns += [InputError(f"column not in the schema: {c!r}", file=file, line=1, field=c)
                    for c in header if c not in names]
    if bad_columns:
        for err in bad_columns[:-1]:
            problems.add(err)
        raise bad_columns[-1]
    pos = {n: header.index(n) for n in names}
    lines = [line for line, _ in rows]
    pk = res["schema"].get("primaryKey")
    keys = [pk] if isinstance(pk, str) else list(pk or [])
    records = []
    for line, rec in rows:
        out = {}
        for f in fields:
            val = rec[pos[f["name"]]]
            try:
                out[f["name"]] = _cast(val, f, file=file, line=line)
            except InputError as exc:
                out[f["name"]] = None
                key = "/".join(str(rec[pos[k]]).strip() for k in keys) if keys else ""
                problems.add(InputError(exc.reason, file=file, field=exc.field, line=line,
                                        row_id=f"{'/'.join(keys)} {key}" if key.strip("/") else None))
        records.append(out)
    df = pd.DataFrame.from_records(records, columns=names)
    for f in fields:
        if f.get("type") == "integer":
            df[f["name"]] = df[f["name"]].astype("Int64")
        elif f.get("type") == "number":
            df[f["name"]] = df[f["name"]].astype("Float64")
    if keys:
        dup = df.duplicated(subset=keys, keep="first")
        for i in np.flatnonzero(dup.to_numpy()):
            val = tuple(df.loc[int(i), keys])
            problems.add(InputError(
                f"duplicate primary key {val if len(val) > 1 else val[0]!r}",
                file=file, line=lines[int(i)] if int(i) < len(lines) else int(i) + 2, field="/".join(keys),
            ))
    return df, lines


def _check_foreign_keys(pkg: DataPackage, problems: Problems) -> None:
    desc, tables = pkg.descriptor, pkg.tables
    for res in desc["resources"]:
        if res["name"] not in tables:
            continue
        df = tables[res["name"]]
        for fk in res.get("schema", {}).get("foreignKeys", []):
            fields = [fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"]
            ref = fk["reference"]
            if ref["resource"] not in tables:
                continue
            target = tables[ref["resource"]]
            rfields = [ref["fields"]] if isinstance(ref["fields"], str) else ref["fields"]
            valid = set(map(tuple, target[rfields].astype(object).to_numpy().tolist()))
            for i, key in enumerate(map(tuple, df[fields].astype(object).to_numpy().tolist()), start=1):
                if any(k is None or (isinstance(k, float) and math.isnan(k)) for k in key):
                    continue
                if key not in valid:
                    problems.add(InputError(
                        f"{'/'.join(fields)} {key if len(key) > 1 else key[0]!r} does not exist in "
                        f"{ref['resource']}",
                        file=f"data/{res['path']}", field="/".join(fields), **pkg.where(res["name"], i),
                    ))


_FIELD_TYPES = {"string", "integer", "number", "boolean", "date", "year", "any"}


def _check_descriptor(desc: Any, *, file: str) -> None:
    """The parts of datapackage.json the loader relies on, each checked before use."""
    if not isinstance(desc, dict) or not isinstance(desc.get("resources"), list):
        raise InputError("not a data package descriptor (no 'resources' list)", file=file, field="resources")
    names = set()
    for i, res in enumerate(desc["resources"]):
        where = {"file": file, "field": f"resources[{i}]"}
        if not isinstance(res, dict) or not isinstance(res.get("name"), str) or not isinstance(res.get("path"), str):
            raise InputError("every resource needs a 'name' and a 'path' (strings)", **where)
        rel = Path(res["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise InputError(f"path {res['path']!r} must stay inside the package folder", **where)
        if res["name"] in names:
            raise InputError(f"resource name {res['name']!r} is used twice", **where)
        names.add(res["name"])
        if not isinstance(res.get("hash", ""), str):
            raise InputError("'hash' must be a string like 'sha256:...'", **where)
        if "schema" not in res:
            continue
        fields = res["schema"].get("fields") if isinstance(res["schema"], dict) else None
        if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("name"), str)
                                                   for f in fields):
            raise InputError("schema.fields must be a list of objects with a 'name'", **where)
        for f in fields:
            if f.get("type", "string") not in _FIELD_TYPES or not isinstance(f.get("constraints", {}), dict):
                raise InputError(f"field {f['name']!r}: unknown type or malformed constraints", **where)


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
    _check_descriptor(desc, file=name)
    root = dp.parent
    problems = Problems()
    tables, lines = {}, {}
    for res in desc["resources"]:
        if "schema" in res and not res.get("compendium:generatedBy"):
            read = _read_resource(root, res, problems)
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


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o) if math.isfinite(float(o)) else None
    if isinstance(o, np.bool_):
        return bool(o)
    if o is pd.NA:
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if o is pd.NA:
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


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a frame as CSV atomically (no index, LF line ends, 10 significant digits)."""
    text = df.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    atomic_write_bytes(path, text.encode("utf-8"))
