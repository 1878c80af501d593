"""`python -m analysis pool` on malformed input: exit 2 with one line naming file, line and
field, never a traceback; and no traceback in ordinary use (closed pipe, Ctrl-C, cwd).

Most checks call `main(argv)` in the same process with stdout/stderr captured (fast, so
hypothesis can try hundreds of files); a few run the real command in a subprocess.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cli import main
from analysis.review.io import COUNTS_TWO_GROUP, MAX_STUDIES, read_counts_csv
from analysis.stats._validation import MAX_COUNT, InputError

HEADER = "study_id,events,n\n"


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def assert_one_line_error(rc: int, out: str, err: str, *parts: str) -> None:
    """Exit 2, nothing on stdout, exactly one line on stderr containing every part."""
    assert rc == 2, (rc, err)
    assert out == ""
    assert err.endswith("\n"), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)


def pool_bytes(tmp_path: Path, data: bytes, *opts: str) -> tuple[str, tuple[int, str, str]]:
    p = tmp_path / "in.csv"
    p.write_bytes(data)
    return str(p), run_main("pool", str(p), *opts)


# ------------------------------------------------------------------- each input class, named

CASES = {
    # name: (file bytes, the parts the one-line message must contain)
    "UTF-16 with BOM": (codecs.BOM_UTF16_LE + (HEADER + "a,1,2\n").encode("utf-16-le"), ["UTF-16"]),
    "UTF-16 big-endian with BOM": (codecs.BOM_UTF16_BE + (HEADER + "a,1,2\n").encode("utf-16-be"),
                                   ["UTF-16"]),
    "UTF-16 without BOM": ((HEADER + "a,1,2\n").encode("utf-16-le"), ["NUL bytes", "line 1"]),
    "Latin-1": ((HEADER + "a,1,2\nM\xfcller2004,3,4\n").encode("latin-1"), ["not UTF-8", "line 3", "0xFC"]),
    "binary": (bytes(range(256)) * 4, ["NUL bytes"]),
    "empty file": (b"", ["empty"]),
    "blank lines only": (b"\n\n  \n", ["empty"]),
    "header only": (HEADER.encode(), ["no data rows"]),
    "header without n": (b"study_id,events\na,1\n", ["line 1", "field 'n'", "missing column"]),
    "header names a column twice": (b"study_id,events,n,n\na,1,2,3\n", ["line 1", "field 'n'", "twice"]),
    "fewer fields": ((HEADER + "a,1,2\nb,3\n").encode(), ["line 3", "field 'n'", "2 fields", "header has 3"]),
    "more fields": ((HEADER + "a,1,2\nb,3,4,5\n").encode(), ["line 3", "4 fields", "header has 3", "'5'"]),
    "unquoted thousands": ((HEADER + "a,1,000,2000\n").encode(),
                           ["line 2", "4 fields", "'1,000' is one number"]),
    "quoted thousands": ((HEADER + 'a,1,"1,000"\n').encode(),
                         ["line 2", "field 'n'", "thousands separator", "(1000)"]),
    "dot thousands": ((HEADER + "a,1,1.000\n").encode(), ["line 2", "field 'n'", "thousands separator"]),
    "plus sign": ((HEADER + "a,+5,10\n").encode(), ["line 2", "field 'events'", "sign", "(5)"]),
    "minus sign": ((HEADER + "a,-3,10\n").encode(), ["line 2", "field 'events'", "negative"]),
    "decimal point": ((HEADER + "a,5.0,10\n").encode(), ["line 2", "field 'events'", "whole number"]),
    "exponent": ((HEADER + "a,1e3,2000\n").encode(), ["line 2", "field 'events'", "whole number"]),
    "underscore": ((HEADER + "a,1_000,2000\n").encode(), ["line 2", "field 'events'"]),
    "integer too large for int64": ((HEADER + f"a,1,{'9' * 30}\n").encode(), ["line 2", "field 'n'", "too large"]),
    "integer of 5000 digits": ((HEADER + f"a,1,{'9' * 5000}\n").encode(), ["line 2", "field 'n'", "too large"]),
    "integer just above the limit": ((HEADER + f"a,1,{MAX_COUNT + 1}\n").encode(), ["field 'n'", "too large"]),
    "non-ASCII digits": ((HEADER + "a,\uff15,10\n").encode(), ["line 2", "field 'events'", "ASCII"]),
    "empty study id": ((HEADER + "a,1,2\n ,1,2\n").encode(), ["line 3", "field 'study_id'", "empty"]),
    "duplicate study id": ((HEADER + "a,1,2\nb,1,2\na,1,3\n").encode(),
                           ["line 4", "field 'study_id'", "duplicate", "first on line 2"]),
    "control character in id": ((HEADER + 'a,1,2\n"b\x1b[31m",1,2\n').encode(), ["line 3", "field 'study_id'"]),
    "newline inside quoted id": ((HEADER + 'a,1,2\n"b\nc",1,2\n').encode(), ["line 3", "field 'study_id'"]),
    "bad quoting": ((HEADER + 'a,1,2\n"b"x,1,2\n').encode(), ["line 3", "not a readable CSV"]),
    "unterminated quote": ((HEADER + 'a,1,2\n"b,1,2\n').encode(), ["not a readable CSV"]),
    "events above n": ((HEADER + "a,7,5\n").encode(), ["line 2", "field 'events'", "exceed"]),
    "n zero": ((HEADER + "a,0,0\n").encode(), ["line 2", "field 'n'", "at least 1"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_malformed_input_gives_one_line_naming_the_file(tmp_path, case):
    data, parts = CASES[case]
    name, (rc, out, err) = pool_bytes(tmp_path, data, "--json")
    assert_one_line_error(rc, out, err, name, *parts)


def test_a_line_number_counts_the_header_and_blank_lines(tmp_path):
    name, (rc, out, err) = pool_bytes(tmp_path, (HEADER + "\na,1,2\n\nb,x,2\n").encode())
    assert_one_line_error(rc, out, err, f"{name}, line 5, field 'events'")


def test_utf8_byte_order_mark_and_crlf_are_accepted(tmp_path):
    data = codecs.BOM_UTF8 + (HEADER + "a,1,2\r\nb,3,4\r\n").encode()
    _, (rc, out, err) = pool_bytes(tmp_path, data, "--json", "--model", "random")
    assert rc == 0, err
    assert json.loads(out)["k"] == 2


def test_a_directory_is_named_as_such(tmp_path):
    rc, out, err = run_main("pool", str(tmp_path))
    assert_one_line_error(rc, out, err, str(tmp_path), "is a directory")


def test_a_file_of_200000_studies_is_refused_with_the_limit(tmp_path):
    p = tmp_path / "many.csv"
    p.write_text(HEADER + "".join(f"s{i},1,2\n" for i in range(200_000)))
    rc, out, err = run_main("pool", str(p), "--json")
    assert_one_line_error(rc, out, err, str(p), "200,000 rows", f"{MAX_STUDIES:,} studies")


def test_leave_one_out_has_its_own_lower_limit(tmp_path):
    p = tmp_path / "loo.csv"
    p.write_text(HEADER + "".join(f"s{i},1,2\n" for i in range(1001)))
    rc, out, err = run_main("pool", str(p), "--leave-one-out")
    assert_one_line_error(rc, out, err, str(p), "1,000", "leave-one-out")


def test_a_file_above_the_size_limit_is_refused_before_reading_it_all(tmp_path, monkeypatch):
    from analysis.review import textio

    monkeypatch.setattr(textio, "MAX_FILE_BYTES", 100)
    _, (rc, out, err) = pool_bytes(tmp_path, (HEADER + "a,1,2\n" * 30).encode())
    assert_one_line_error(rc, out, err, "MiB")


def test_the_reader_is_generic_over_the_count_columns(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text("study_id,events_treated,n_treated,events_control,n_control,notes\n"
                 "a,1,10,2,12,x\nb,0,5,0,6,\n")
    df = read_counts_csv(p, counts=COUNTS_TWO_GROUP)
    assert list(df.columns) == ["study_id", "events_treated", "n_treated", "events_control", "n_control"]
    assert df.n_control.tolist() == [12, 6]
    assert str(df.events_treated.dtype) == "int64"
    p.write_text("study_id,events_treated,n_treated,events_control,n_control\na,1,10,13,12\n")
    with pytest.raises(InputError, match=r"line 2, field 'events_control': events_control \(13\) exceed n_control"):
        read_counts_csv(p, counts=COUNTS_TWO_GROUP)


# ------------------------------------------------------------------------- property-based fuzz

def _check_outcome(path: str, rc: int, out: str, err: str) -> None:
    """Either a result (exit 0, one JSON object, quiet stderr) or one line naming the file."""
    if rc == 0:
        doc = json.loads(out)
        assert isinstance(doc, dict)
        assert doc["k"] >= 1
        assert err == ""
    else:
        assert_one_line_error(rc, out, err, path)


FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data):
    with tempfile.TemporaryDirectory() as d:
        path, (rc, out, err) = pool_bytes(Path(d), data, "--json")
        _check_outcome(path, rc, out, err)


_GOOD_COUNT = st.integers(0, 40).map(str)
_BAD_COUNT = st.sampled_from(["", " ", "-3", "+5", "1,000", '"1,000"', "1.5", "5.0", "1e3", "nan", "inf",
                              "x", "0x10", "1_0", "\uff15", str(MAX_COUNT), str(MAX_COUNT + 1), "9" * 25,
                              "007", " 3 ", "'4'", '"2"'])
_ID = st.one_of(st.sampled_from(["a", "b", "c", "", " ", "a ", "Müller2004", '"x,y"', '"q""q"', "é"]),
                st.text(alphabet=st.characters(codec="utf-8"), max_size=6).map(lambda s: s.replace(",", "")))


@st.composite
def near_valid_csv(draw) -> bytes:
    cols = draw(st.sampled_from([["study_id", "events", "n"], ["n", "study_id", "events"],
                                 ["study_id", "events", "n", "notes"], ["study_id", "events"],
                                 ["Study_ID", "events", "n"], ["study_id", " events ", "n"]]))
    lines = [",".join(cols)]
    for _ in range(draw(st.integers(0, 6))):
        cells = {"study_id": draw(_ID), "notes": "note"}
        n = draw(st.integers(1, 40))
        cells["n"] = str(n)
        cells["events"] = str(draw(st.integers(0, n)))
        for c in ("events", "n"):
            if draw(st.integers(0, 9)) == 0:
                cells[c] = draw(st.one_of(_GOOD_COUNT, _BAD_COUNT))
        row = [cells.get(c.strip().lower(), "1") for c in cols]
        shape = draw(st.integers(0, 14))
        if shape == 0:
            row = row[:-1]
        elif shape == 1:
            row = [*row, "extra"]
        elif shape == 2:
            row = []
        lines.append(",".join(row))
    sep = draw(st.sampled_from(["\n", "\r\n"]))
    text = sep.join(lines) + draw(st.sampled_from(["", sep, sep + sep]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


@FUZZ
@given(near_valid_csv(), st.sampled_from([[], ["--model", "random"], ["--model", "common", "--measure", "raw"],
                                          ["--leave-one-out", "--model", "random"]]))
def test_near_valid_csvs_give_json_or_one_line(data, opts):
    with tempfile.TemporaryDirectory() as d:
        path, (rc, out, err) = pool_bytes(Path(d), data, "--json", *opts)
        _check_outcome(path, rc, out, err)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 10**7)), min_size=1, max_size=5),
       st.sampled_from(["glmm", "random", "common"]))
def test_any_valid_counts_up_to_ten_million_pool_without_error(pairs, model):
    rows = "".join(f"s{i},{min(e, n)},{n}\n" for i, (e, n) in enumerate(pairs))
    with tempfile.TemporaryDirectory() as d:
        path, (rc, out, err) = pool_bytes(Path(d), (HEADER + rows).encode(), "--json", "--model", model)
        assert rc == 0, err
        _check_outcome(path, rc, out, err)


# ----------------------------------------------------------------- ordinary use, no traceback

def test_keyboard_interrupt_exits_130_with_one_line(tmp_path, monkeypatch):
    import analysis.review.io as rio

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(rio, "read_counts_csv", interrupted)
    p = tmp_path / "x.csv"
    p.write_text(HEADER + "a,1,2\n")
    rc, _out, err = run_main("pool", str(p))
    assert rc == 130
    assert err == "interrupted\n"


def test_an_internal_error_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    from analysis.stats import pooling

    def broken(*a, **k):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(pooling, "pool_proportions", broken)
    p = tmp_path / "x.csv"
    p.write_text(HEADER + "a,1,2\n")
    rc, _out, err = run_main("pool", str(p))
    assert rc == 1
    assert err.count("\n") == 1
    assert "internal error: ZeroDivisionError" in err
    monkeypatch.setenv("ANALYSIS_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        run_main("pool", str(p))


def _subprocess(*args, cwd=ROOT, **kw):
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True,
                          cwd=cwd, check=False, **kw)


def test_subprocess_utf16_and_directory_exit_2_without_traceback(tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes(codecs.BOM_UTF16_LE + (HEADER + "a,1,2\n").encode("utf-16-le"))
    for target in (p, tmp_path):
        r = _subprocess("pool", str(target))
        assert_one_line_error(r.returncode, r.stdout, r.stderr, str(target))


def test_output_closed_early_exits_quietly(tmp_path):
    p = tmp_path / "many.csv"
    p.write_text(HEADER + "".join(f"study{i},{i % 7},{7 + i % 5}\n" for i in range(3000)))
    cmd = f"set -o pipefail; {sys.executable} -m analysis pool {p} --model common --measure raw | head -1"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT, check=False)
    assert r.stdout.count("\n") == 1
    assert r.stderr == "", r.stderr  # no BrokenPipeError, no "Exception ignored"
    assert r.returncode in (0, 1)


def test_cite_works_from_another_folder(tmp_path):
    r = _subprocess("cite", "--style", "text", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "bkvn-ivig-evidence" in r.stdout
