"""`make check-data` on broken raw tables, and builds that fail halfway.

Every malformed input class of the engine's reader (tests/test_input_hardening.py) is
applied to each raw table of a copy of data/: the check exits 2 with one line naming the
file (and its line and field where there is one), never a traceback. A step that fails
halfway, by an error or by Ctrl-C, leaves no partial or temporary file and every
previous output byte for byte (and mtime) as it was.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cli import main

DATA = ROOT / "data"
DESC = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
TABLES = sorted(r["name"] for r in DESC["resources"] if "schema" in r)
INT_FIELD = {r["name"]: next((f["name"] for f in r["schema"]["fields"] if f.get("type") == "integer"), None)
             for r in DESC["resources"] if "schema" in r}


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def copy_data(dst: Path) -> Path:
    shutil.copytree(DATA, dst / "data", ignore=shutil.ignore_patterns("derived"))
    return dst / "data"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _set_int(value: str):
    def edit(raw: bytes, table: str) -> bytes:
        rows = _rows(raw.decode())
        j = rows[0].index(INT_FIELD[table])
        rows[1][j] = value
        return _csv(rows).encode()
    return edit


def _latin1_in_row_1(raw: bytes, table: str) -> bytes:
    first_nl = raw.index(b"\n")
    return raw[:first_nl + 1] + b"M\xfcller," + raw[first_nl + 1:]


def _ragged(delta: int):
    def edit(raw: bytes, table: str) -> bytes:
        rows = _rows(raw.decode())
        rows[2] = rows[2][:-1] if delta < 0 else [*rows[2], "extra"]
        return _csv(rows).encode()
    return edit


# class -> (edit(raw bytes, table) -> bytes, parts of the message; "{file}" is the table's path)
CLASSES = {
    "UTF-16 with BOM": (lambda raw, t: codecs.BOM_UTF16_LE + raw.decode().encode("utf-16-le"), ["UTF-16"]),
    "Latin-1 byte": (_latin1_in_row_1, ["not UTF-8", "line 2", "0xFC"]),
    "binary": (lambda raw, t: b"\x89PNG\r\n\x1a\n\x00\x00" + raw, ["NUL bytes", "line 3"]),  # PNG magic
    "empty file": (lambda raw, t: b"", ["empty"]),
    "fewer fields": (_ragged(-1), ["line 3", "fields but the header has"]),
    "more fields": (_ragged(+1), ["line 3", "fields but the header has", "'extra'"]),
    "bad quoting": (lambda raw, t: raw + b'"x"y\n', ["not a readable CSV"]),
    "huge integer": (_set_int("9" * 30), ["line 2", "too large"]),
    "integer of 5000 digits": (_set_int("9" * 5000), ["line 2", "too large"]),
    "thousands separator": (_set_int("1,000"), ["line 2", "thousands separator"]),
    "plus sign": (_set_int("+5"), ["line 2", "sign"]),
    "decimal point": (_set_int("5.0"), ["line 2", "whole number"]),
}
CASES = [(t, c) for t in TABLES for c in sorted(CLASSES) if INT_FIELD[t] or not c.startswith(
    ("huge", "integer", "thousands", "plus", "decimal"))]


def assert_one_line_error(rc, out, err, *parts):
    """Exit 2; one line per problem (check-data lists every problem it finds, issue 13), each
    a one-line 'error: file, line, field: message'; no traceback."""
    assert rc == 2, (rc, err)
    assert err.endswith("\n"), err
    lines = err.splitlines()
    assert lines, err
    assert all(line.startswith("error: ") for line in lines), err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)


@pytest.mark.parametrize(("table", "case"), CASES, ids=[f"{t}-{c}" for t, c in CASES])
def test_check_data_reports_each_broken_table_in_one_line(tmp_path, table, case):
    data = copy_data(tmp_path)
    path = data / "raw" / f"{table}.csv"
    edit, parts = CLASSES[case]
    path.write_bytes(edit(path.read_bytes(), table))
    out = tmp_path / "validated.json"
    rc, stdout, err = run_main("check-data", "--in", str(data / "datapackage.json"), "--out", str(out))
    field = f"field '{INT_FIELD[table]}'" if case.startswith(("huge", "integer", "thousands", "plus", "decimal")) else ""
    assert_one_line_error(rc, stdout, err, f"data/raw/{table}.csv", field, *parts)
    assert not out.exists()


@pytest.mark.parametrize("table", TABLES)
def test_check_data_names_a_directory_in_place_of_a_table(tmp_path, table):
    data = copy_data(tmp_path)
    path = data / "raw" / f"{table}.csv"
    path.unlink()
    path.mkdir()
    rc, out, err = run_main("check-data", "--in", str(data / "datapackage.json"))
    assert_one_line_error(rc, out, err, f"data/raw/{table}.csv", "is a directory")


DESCRIPTORS = {
    "UTF-16": (lambda raw: codecs.BOM_UTF16_LE + raw.decode().encode("utf-16-le"), ["UTF-16"]),
    "invalid JSON": (lambda raw: raw[:200], ["not valid JSON", "line "]),
    "not a package": (lambda raw: b"[1, 2]", ["resources"]),
    "resource without path": (lambda raw: json.dumps({"resources": [{"name": "x"}]}).encode(), ["'path'"]),
    "path outside the package": (lambda raw: json.dumps({"resources": [{"name": "x", "path": "../x.csv"}]}).encode(),
                                 ["inside the package"]),
    "deeply nested": (lambda raw: b"[" * 100_000 + b"]" * 100_000, ["JSON"]),
}


@pytest.mark.parametrize("table", TABLES)
def test_check_data_on_a_header_only_table_fails_in_one_line(tmp_path, table):
    data = copy_data(tmp_path)
    path = data / "raw" / f"{table}.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    rc, out, err = run_main("check-data", "--in", str(data / "datapackage.json"))
    assert_one_line_error(rc, out, err, "data/")  # a dangling reference elsewhere, or the hash


@pytest.mark.parametrize("case", sorted(DESCRIPTORS))
def test_check_data_reports_a_broken_descriptor_in_one_line(tmp_path, case):
    data = copy_data(tmp_path)
    desc = data / "datapackage.json"
    edit, parts = DESCRIPTORS[case]
    desc.write_bytes(edit(desc.read_bytes()))
    rc, out, err = run_main("check-data", "--in", str(desc))
    assert_one_line_error(rc, out, err, str(desc), *parts)


def test_check_data_on_a_directory(tmp_path):
    rc, out, err = run_main("check-data", "--in", str(tmp_path))
    assert_one_line_error(rc, out, err, str(tmp_path), "is a directory")


_EDITS = st.lists(st.tuples(st.floats(0, 1), st.sampled_from([b",", b'"', b"\n", b"\r", b"\x00", b"\xe9", b"9",
                                                              b"-", b"+", b"", b"\xef\xbb\xbf", b"1,000"]),
                            st.integers(0, 3)), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TABLES), _EDITS)
def test_randomly_damaged_tables_never_crash_check_data(table, edits):
    with tempfile.TemporaryDirectory() as d:
        data = copy_data(Path(d))
        path = data / "raw" / f"{table}.csv"
        raw = path.read_bytes()
        for where, insert, delete in edits:
            i = int(where * len(raw))
            raw = raw[:i] + insert + raw[i + delete:]
        path.write_bytes(raw)
        rc, _out, err = run_main("check-data", "--in", str(data / "datapackage.json"))
        if rc == 0:
            assert err == ""
        else:
            assert_one_line_error(rc, "", err, "data")


# ------------------------------------------------------------------ a build that fails halfway

def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root (hidden ones too): its bytes and modification time."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("built")
    desc = str(DATA / "datapackage.json")
    steps = [["analyze", "--in", desc, "--out", f"{d}/derived/results.json"],
             ["audit", "--in", desc, "--results", f"{d}/derived/results.json", "--out",
              f"{d}/derived/claims_audit.json"],
             ["design", "--in", desc, "--out", f"{d}/derived/calibration_design.json"],
             ["calibrate", "--design", f"{d}/derived/calibration_design.json", "--replicates", "20",
              "--out", f"{d}/derived/calibration.json"],
             ["tables", "--results", f"{d}/derived/results.json", "--audit", f"{d}/derived/claims_audit.json",
              "--calibration", f"{d}/derived/calibration.json", "--outdir", f"{d}/derived", "--manifest",
              f"{d}/derived/tables.json"],
             ["figures", "--results", f"{d}/derived/results.json", "--audit", f"{d}/derived/claims_audit.json",
              "--outdir", f"{d}/figures", "--manifest", f"{d}/figures/manifest.json"]]
    for step in steps:
        assert run_main(*step)[0] == 0, step
    return d, steps


def _fail_on_call(monkeypatch, module, name, k, exc):
    """Let `module.name` run k times, then raise `exc`."""
    real = getattr(module, name)
    calls = []

    def wrapper(*a, **kw):
        calls.append(1)
        if len(calls) > k:
            raise exc
        return real(*a, **kw)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize(("exc", "status"), [(RuntimeError("disk on fire"), 1), (KeyboardInterrupt(), 130),
                                             (OSError(28, "No space left on device"), 2)])
def test_figures_failing_halfway_leave_previous_outputs_untouched(built, monkeypatch, exc, status):
    from analysis.present import figures

    d, steps = built
    before = snapshot(d)
    calls = _fail_on_call(monkeypatch, figures, "save_figure", 3, exc)
    rc, _, err = run_main(*steps[5])
    assert rc == status, err
    assert len(calls) == 4  # three files replaced before the failure
    assert err.count("\n") == 1
    assert snapshot(d) == before  # no .partial/.previous file, every old file as it was


def test_tables_failing_halfway_leave_previous_outputs_untouched(built, monkeypatch):
    import analysis.review.io as rio

    d, steps = built
    before = snapshot(d)
    _fail_on_call(monkeypatch, rio, "atomic_write_bytes", 2, RuntimeError("boom"))
    rc, _, _ = run_main(*steps[4])
    assert rc == 1
    assert snapshot(d) == before


def test_a_corrupt_input_after_a_build_leaves_the_derived_results(built, tmp_path):
    d, _steps = built
    before = snapshot(d)
    data = copy_data(tmp_path)
    outcomes = data / "raw" / "outcomes.csv"
    outcomes.write_bytes(_ragged(-1)(outcomes.read_bytes(), "outcomes"))
    rc, _, err = run_main("analyze", "--in", str(data / "datapackage.json"), "--out", f"{d}/derived/results.json")
    assert_one_line_error(rc, "", err, "data/raw/outcomes.csv, line 3")
    assert snapshot(d) == before


def test_a_new_output_is_removed_when_its_step_fails(built, tmp_path, monkeypatch):
    from analysis.present import figures

    _fail_on_call(monkeypatch, figures, "write_text", 1, RuntimeError("boom"))
    results = built[0] / "derived" / "results.json"
    rc, _, _ = run_main("figures", "--only", "outcomes", "--results", str(results), "--outdir", str(tmp_path),
                        "--manifest", str(tmp_path / "m.json"))
    assert rc == 1
    assert list(tmp_path.iterdir()) == []
