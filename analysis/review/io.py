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
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..stats._validation import COLUMN_ALIASES, InputError
from .problems import MAX_PROBLEMS, Problems, record_key, record_lines

__all__ = [
    "MAX_PROBLEMS",
    "DataPackage",
    "Problems",
    "load_package",
    "read_counts_csv",
    "read_two_group_csv",
    "record_lines",
    "sha256_file",
    "verify_hashes",
    "write_csv",
    "write_json",
    "write_text",
]


# --------------------------------------------------------------------------- counts CSV


def _read_engine_csv(path: str | os.PathLike, header: str) -> pd.DataFrame:
    """Read a small CSV as strings (BOM allowed), or raise InputError naming the file."""
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", file=name)
    text = p.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise InputError(f"the file is empty (expected a header '{header}')", file=name)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV file ({exc})", file=name) from None
    df.columns = [c.strip() for c in df.columns]
    if len(df) == 0:
        raise InputError("no data rows below the header", file=name)
    return df


def read_counts_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV with columns ``study_id,events,n`` (others ignored) and validate it.

    metafor's names ``slab``, ``xi`` and ``ni`` are accepted for the three columns.

    Raises
    ------
    InputError
        Empty file, missing column, empty or non-numeric cell, a negative or
        fractional count, ``n = 0``, ``events > n`` or a duplicate ``study_id``;
        the message names the file, the data row and the field.
    """
    name = str(path)
    df = _read_engine_csv(path, "study_id,events,n")
    # metafor's column names (slab, xi, ni) are read as study_id, events, n
    df = df.rename(columns={c: COLUMN_ALIASES[c.lower()] for c in df.columns
                            if c.lower() in COLUMN_ALIASES and COLUMN_ALIASES[c.lower()] not in df.columns})
    for col in ("study_id", "events", "n"):
        if col not in df.columns:
            raise InputError(
                f"missing column (found: {', '.join(df.columns) or 'none'})", file=name, field=col
            )
    seen: dict[str, int] = {}
    events, ns = [], []
    for i, rec in enumerate(df[["study_id", "events", "n"]].itertuples(index=False), start=1):
        sid = rec.study_id.strip()
        if not sid:
            raise InputError("empty study_id", file=name, row=i, field="study_id")
        if sid in seen:
            raise InputError(
                f"duplicate study_id {sid!r} (first at row {seen[sid]})",
                file=name, row=i, field="study_id",
            )
        seen[sid] = i
        e = _parse_count(rec.events, file=name, row=i, field="events", sid=sid)
        m = _parse_count(rec.n, file=name, row=i, field="n", sid=sid)
        if m < 1:
            raise InputError(f"n must be at least 1 (study {sid!r}); got {m}", file=name, row=i, field="n")
        if e > m:
            raise InputError(
                f"events ({e}) exceed n ({m}) for study {sid!r}", file=name, row=i, field="events"
            )
        events.append(e)
        ns.append(m)
    return pd.DataFrame(
        {"study_id": [s.strip() for s in df.study_id], "events": events, "n": ns}
    ).astype({"events": "int64", "n": "int64"})


# metafor's argument names for the same four counts
_TWO_GROUP_ALIASES = {"events_treated": "ai", "n_treated": "n1i", "events_control": "ci", "n_control": "n2i"}


def read_two_group_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV of 2x2 tables and validate it.

    Columns ``study_id,events_treated,n_treated,events_control,n_control`` (metafor's
    ``ai,n1i,ci,n2i`` are accepted for the counts; ``study_id`` is optional and defaults
    to the row number). Raises InputError naming the file, data row and field for a
    missing column, an empty, non-numeric, negative or fractional count, ``n = 0``,
    events above n or a duplicate ``study_id``.
    """
    name = str(path)
    df = _read_engine_csv(path, "study_id,events_treated,n_treated,events_control,n_control")
    cols = {}
    for field, alias in _TWO_GROUP_ALIASES.items():
        if field in df.columns:
            cols[field] = field
        elif alias in df.columns:
            cols[field] = alias
        else:
            raise InputError(f"missing column, or metafor's '{alias}' (found: {', '.join(df.columns) or 'none'})",
                             file=name, field=field)
    ids = [s.strip() for s in df["study_id"]] if "study_id" in df.columns else [str(i + 1) for i in range(len(df))]
    out: dict[str, list[int]] = {}
    seen: dict[str, int] = {}
    for i, sid in enumerate(ids, start=1):
        if not sid:
            raise InputError("empty study_id", file=name, row=i, field="study_id")
        if sid in seen:
            raise InputError(f"duplicate study_id {sid!r} (first at row {seen[sid]})", file=name, row=i,
                             field="study_id")
        seen[sid] = i
        rec = {f: _parse_count(df[c].iloc[i - 1], file=name, row=i, field=c, sid=sid) for f, c in cols.items()}
        for arm in ("treated", "control"):
            e, m = rec[f"events_{arm}"], rec[f"n_{arm}"]
            if m < 1:
                raise InputError(f"n must be at least 1 (study {sid!r}); got {m}", file=name, row=i,
                                 field=cols[f"n_{arm}"])
            if e > m:
                raise InputError(f"events ({e}) exceed n ({m}) for study {sid!r}", file=name, row=i,
                                 field=cols[f"events_{arm}"])
        for f, value in rec.items():
            out.setdefault(f, []).append(value)
    return pd.DataFrame({"study_id": ids, **out}).astype(dict.fromkeys(out, "int64"))


def _parse_count(text: str, *, file, row, field, sid) -> int:
    s = str(text).strip()
    if s == "":
        raise InputError(f"empty cell (study {sid!r})", file=file, row=row, field=field)
    try:
        x = float(s)
    except ValueError:
        raise InputError(
            f"not a number: {s!r} (study {sid!r})", file=file, row=row, field=field
        ) from None
    if not math.isfinite(x) or x != math.floor(x):
        raise InputError(
            f"must be a whole number: {s!r} (study {sid!r})", file=file, row=row, field=field
        )
    if x < 0:
        raise InputError(f"must not be negative: {s!r} (study {sid!r})", file=file, row=row, field=field)
    return int(x)


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


def _cast(value: str, field: dict, *, file: str, row: int) -> Any:
    name = field["name"]
    ftype = field.get("type", "string")
    cons = field.get("constraints", {})
    missing = value.strip() == ""
    if missing:
        if cons.get("required"):
            raise InputError("required value is missing", file=file, row=row, field=name)
        return None
    v = value.strip()
    if ftype == "integer":
        try:
            x = float(v)
        except ValueError:
            raise InputError(f"not an integer: {v!r}", file=file, row=row, field=name) from None
        if x != math.floor(x):
            raise InputError(f"not a whole number: {v!r}", file=file, row=row, field=name)
        out: Any = int(x)
    elif ftype == "number":
        try:
            out = float(v)
        except ValueError:
            raise InputError(f"not a number: {v!r}", file=file, row=row, field=name) from None
        if not math.isfinite(out):
            raise InputError(f"not a finite number: {v!r}", file=file, row=row, field=name)
    elif ftype == "boolean":
        if v in _TRUE:
            out = True
        elif v in _FALSE:
            out = False
        else:
            raise InputError(f"not a boolean: {v!r}", file=file, row=row, field=name)
    else:
        out = v
    if "minimum" in cons and out < cons["minimum"]:
        raise InputError(f"{out!r} is below the minimum {cons['minimum']}", file=file, row=row, field=name)
    if "maximum" in cons and out > cons["maximum"]:
        raise InputError(f"{out!r} is above the maximum {cons['maximum']}", file=file, row=row, field=name)
    if "enum" in cons and out not in cons["enum"]:
        allowed = ", ".join(map(str, cons["enum"]))
        raise InputError(f"unknown value {out!r} (allowed: {allowed})", file=file, row=row, field=name)
    if "pattern" in cons and not re.fullmatch(cons["pattern"], str(out)):
        raise InputError(
            f"{out!r} does not match the pattern {cons['pattern']}", file=file, row=row, field=name
        )
    return out


def _read_resource(root: Path, res: dict, problems: Problems | None = None) -> pd.DataFrame | None:
    """One table through its schema; cell problems go to `problems` (None: raise the first).

    Returns None when the table cannot be read at all (the problem is recorded).
    """
    if problems is None:
        problems = Problems()
        df = _read_resource(root, res, problems)
        problems.raise_if_any()
        return df
    try:
        return _read_table(root, res, problems)
    except InputError as exc:  # the file as a whole is unusable
        problems.add(exc)
        return None


def _read_table(root: Path, res: dict, problems: Problems) -> pd.DataFrame:
    rel = res["path"]
    path = root / rel
    file = f"data/{rel}"
    if not path.is_file():
        raise InputError("file listed in datapackage.json is missing", file=file)
    if path.stat().st_size == 0:
        raise InputError("the file is empty", file=file)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV file ({exc})", file=file) from None
    fields = res["schema"]["fields"]
    names = [f["name"] for f in fields]
    bad_columns = [InputError("missing column", file=file, field=f) for f in names if f not in raw.columns]
    bad_columns += [InputError(f"column not in the schema: {c!r}", file=file, field=c)
                    for c in raw.columns if c not in names]
    if bad_columns:
        for err in bad_columns[:-1]:
            problems.add(err)
        raise bad_columns[-1]
    lines = record_lines(path)
    pk = res["schema"].get("primaryKey")
    keys = [pk] if isinstance(pk, str) else list(pk or [])
    records = []
    for i, rec in enumerate(raw[names].itertuples(index=False), start=1):
        out = {}
        for f, val in zip(fields, rec, strict=True):
            try:
                out[f["name"]] = _cast(val, f, file=file, row=i)
            except InputError as exc:
                out[f["name"]] = None
                key = "/".join(str(getattr(rec, k)).strip() for k in keys) if keys else ""
                problems.add(InputError(exc.reason, file=file, field=exc.field,
                                        line=lines[i - 1] if i <= len(lines) else i + 1,
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
    return df


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


def load_package(descriptor_path: str | os.PathLike, *, check_hashes: bool = True) -> DataPackage:
    """Load every tabular resource of a data package through its schema and validate it.

    Runs, in order: each table's schema, the foreign keys, `check_package`'s cross-table
    rules, and (when all of those pass) the sha256 of every raw file (optional). Every
    problem is collected (up to `MAX_PROBLEMS`) and raised together as one
    `analysis.stats._validation.InputErrors` (an `InputError`), each naming the file, line
    and field.
    """
    dp = Path(descriptor_path)
    if not dp.is_file():
        raise InputError("no such file", file=str(descriptor_path))
    try:
        desc = json.loads(dp.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", file=str(descriptor_path)) from None
    root = dp.parent
    problems = Problems()
    tables, lines = {}, {}
    for res in desc["resources"]:
        if "schema" in res and not res.get("compendium:generatedBy"):
            df = _read_resource(root, res, problems)
            if df is not None:
                tables[res["name"]] = df
                lines[res["name"]] = record_lines(root / res["path"])
    pkg = DataPackage(root, desc, tables, lines)
    unreadable = len(tables) < sum(1 for r in desc["resources"]
                                   if "schema" in r and not r.get("compendium:generatedBy"))
    if unreadable:  # cross-table rules need every table
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


def _atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; built artefacts are meant to be shared
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    _atomic_write_bytes(path, dumps_json(obj).encode("utf-8"))


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write UTF-8 text atomically."""
    _atomic_write_bytes(path, text.encode("utf-8"))


def write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write bytes atomically."""
    _atomic_write_bytes(path, data)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a frame as CSV atomically (no index, LF line ends, 10 significant digits)."""
    text = df.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    _atomic_write_bytes(path, text.encode("utf-8"))
