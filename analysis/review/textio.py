"""Text files in: UTF-8 checks and CSV rows that keep their line numbers.

Every reader of user files (the counts CSVs of ``pool`` and ``compare``, the tables and
descriptor of the data package) goes through here, so each refuses the same malformed
inputs with the same one-line `InputError` naming the file, the line and the field.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
from pathlib import Path

from ..stats._validation import InputError

__all__ = ["MAX_FILE_BYTES", "decode_utf8", "read_csv_rows", "read_text_file"]


# A file is read whole, so its size is capped: memory stays bounded whatever a user passes.
MAX_FILE_BYTES = 64 * 2**20


def read_text_file(path: str | os.PathLike, *, kind: str = "CSV") -> str:
    """The UTF-8 text of a file, or an InputError naming it.

    Refused, each with one message: a missing path, a directory, an unreadable file, a
    file above `MAX_FILE_BYTES`, UTF-16/UTF-32 text (byte-order mark), binary data (NUL
    bytes) and bytes that are not UTF-8 (Latin-1, Windows-1252), the last two with the
    line where they occur. A UTF-8 byte-order mark is dropped.
    """
    name = str(path)
    p = Path(path)
    if p.is_dir():
        raise InputError(f"is a directory, not a {kind} file", file=name)
    if not p.exists():
        raise InputError("no such file", file=name)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", file=name) from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"larger than {MAX_FILE_BYTES // 2**20} MiB, the limit for an input file",
                         file=name)
    return decode_utf8(data, file=name, kind=kind)


def decode_utf8(data: bytes, *, file: str, kind: str = "CSV") -> str:
    """`data` decoded as UTF-8 (byte-order mark dropped), or an InputError saying what it is."""
    save_as = f"save it as UTF-8 ({kind} UTF-8 in a spreadsheet)"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise InputError(f"is UTF-32 text, not UTF-8: {save_as}", file=file)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"is UTF-16 text, not UTF-8: {save_as}", file=file)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"contains NUL bytes, so it is binary or UTF-16 data, not {kind} text: {save_as}",
                         file=file, line=data.count(b"\n", 0, nul) + 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02X} at column {column}, as Latin-1 or "
                         f"Windows-1252 would write it): {save_as}", file=file, line=line) from None


def read_csv_rows(text: str, *, file: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Split CSV text into (header, [(line, fields), ...]) with every row as wide as the header.

    ``line`` is the 1-based line of the file where the row starts. Blank lines are
    skipped. Refused: no header, an empty or duplicate column name, bad quoting, a field
    over `csv.field_size_limit()`, and a row with more or fewer fields than the header
    (named as such, with the first missing column or the first extra value), so a stray
    comma is never read as a shifted column.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for rec in reader:
            line, start = start, reader.line_num + 1
            if len(rec) == 0 or (len(rec) == 1 and not rec[0].strip()):
                continue
            if header is None:
                header = _check_header(rec, file=file, line=line)
            elif len(rec) != len(header):
                raise _ragged(rec, header, file=file, line=line)
            else:
                rows.append((line, rec))
    except csv.Error as exc:
        raise InputError(f"not a readable CSV file ({exc})", file=file, line=reader.line_num) from None
    if header is None:
        raise InputError("the file is empty (no header row)", file=file)
    return header, rows


def _check_header(rec: list[str], *, file: str, line: int) -> list[str]:
    header = [c.strip() for c in rec]
    seen: set[str] = set()
    for c in header:
        if c in seen and c:
            raise InputError("the header names this column twice", file=file, line=line, field=c)
        seen.add(c)
    return header


def _ragged(rec: list[str], header: list[str], *, file: str, line: int) -> InputError:
    cols = ",".join(header)
    cols = cols if len(cols) <= 60 else cols[:60] + "..."
    if len(rec) < len(header):
        return InputError(f"this row has {len(rec)} fields but the header has {len(header)} ({cols}): "
                          "the value for this column and those after it are missing",
                          file=file, line=line, field=header[len(rec)])
    extra = rec[len(header)]
    hint = ""
    for a, b in itertools.pairwise(rec):
        if re.fullmatch(r"[0-9]{1,3}", a.strip()) and re.fullmatch(r"[0-9]{3}", b.strip()):
            hint = f"; if '{a.strip()},{b.strip()}' is one number, write it without the comma"
            break
    return InputError(f"this row has {len(rec)} fields but the header has {len(header)} ({cols}): "
                      f"extra value {extra[:30]!r} in column {len(header) + 1}{hint}",
                      file=file, line=line)
