"""One table of the data package read through its Table Schema (``datapackage.json``):
types, ``required``, ``minimum``/``maximum``, ``enum``, ``pattern`` and the primary key, each
problem an `InputError` naming the file, the line with the record's key, and the field; and the
parts of the descriptor the loader relies on. `analysis.review.io.load_package` uses both."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ..stats._validation import InputError, parse_integer
from .problems import Problems
from .rows import Table
from .textio import read_csv_rows, read_text_file

__all__ = ["check_descriptor", "read_resource"]

_TRUE = {"true", "TRUE", "True", "1", "yes"}
_FALSE = {"false", "FALSE", "False", "0", "no"}


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


def read_resource(root: Path, res: dict, problems: Problems | None = None
                   ) -> tuple[Table, list[int]] | None:
    """One table through its schema, with the file line where each of its rows starts;
    cell problems go to `problems` (None: raise the first).

    Returns None when the table cannot be read at all (the problem is recorded).
    """
    if problems is None:
        problems = Problems()
        read = read_resource(root, res, problems)
        problems.raise_if_any()
        return read
    try:
        return _read_table(root, res, problems)
    except InputError as exc:  # the file as a whole is unusable
        problems.add(exc)
        return None


def _read_table(root: Path, res: dict, problems: Problems) -> tuple[Table, list[int]]:
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
    table = Table.from_records(names, records, {f["name"]: f.get("type", "string") for f in fields})
    if keys:
        seen: set[tuple] = set()
        at = [names.index(k) for k in keys]
        for i, r in enumerate(table):
            val = tuple(r[j] for j in at)
            if val in seen:
                problems.add(InputError(
                    f"duplicate primary key {val if len(val) > 1 else val[0]!r}",
                    file=file, line=lines[i] if i < len(lines) else i + 2, field="/".join(keys),
                ))
            seen.add(val)
    return table, lines


_FIELD_TYPES = {"string", "integer", "number", "boolean", "date", "year", "any"}


def check_descriptor(desc: Any, *, file: str) -> None:
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
