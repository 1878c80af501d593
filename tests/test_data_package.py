"""The data package: hashes, schema, per-study provenance, and corrupt copies that must fail."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT

from analysis import InputError
from analysis.review.io import load_package, verify_hashes

DESCRIPTOR = ROOT / "data" / "datapackage.json"


@pytest.fixture(scope="module")
def pkg():
    return load_package(DESCRIPTOR)


def test_raw_files_match_their_recorded_sha256():
    assert verify_hashes(DESCRIPTOR) == []


def test_every_raw_file_is_described_with_a_schema_and_hash():
    desc = json.loads(DESCRIPTOR.read_text(encoding="utf-8"))
    described = {r["path"] for r in desc["resources"]}
    on_disk = {f"raw/{p.name}" for p in (ROOT / "data" / "raw").glob("*.csv")}
    assert on_disk == described
    for r in desc["resources"]:
        assert r["hash"].startswith("sha256:")
        assert r["schema"]["fields"]
        assert "primaryKey" in r["schema"]


def test_package_loads_through_its_schema(pkg):
    assert set(pkg.tables) == {"studies", "arms", "outcomes", "viral_loads", "claims", "appraisal",
                               "search_log", "screening"}
    assert pkg["outcomes"].events.dtype == "Int64"


def _found_treatment_studies():
    st = pd.read_csv(ROOT / "data" / "raw" / "studies.csv", dtype=str, keep_default_na=False)
    return sorted(st[(st.role != "guideline") & (st.verification != "not_found")].study_id)


@pytest.mark.parametrize("study_id", _found_treatment_studies())
def test_each_found_study_has_located_numbers(pkg, study_id):
    arms = pkg["arms"][pkg["arms"].study_id == study_id]
    assert len(arms) >= 1, "every study has at least one arm"
    assert arms.source_url.str.startswith("http").all()
    assert (arms.source_locator.str.len() > 3).all()
    rows = pkg["outcomes"][(pkg["outcomes"].study_id == study_id) & (pkg["outcomes"].basis == "reported")]
    assert len(rows) >= 1, "every found study reports at least one outcome row (or a not_found row)"
    assert rows.source_url.str.startswith("http").all()
    assert (rows.source_locator.str.len() > 3).all()
    counted = rows[rows.events.notna()]
    assert (counted.verification != "not_found").all()


def test_not_found_studies_hold_no_reported_counts(pkg):
    st = pkg["studies"]
    missing = set(st[st.verification == "not_found"].study_id)
    rows = pkg["outcomes"][pkg["outcomes"].study_id.isin(missing) & (pkg["outcomes"].basis == "reported")]
    assert rows.events.isna().all()


def test_claimed_numbers_are_marked_as_claims(pkg):
    claimed = pkg["outcomes"][pkg["outcomes"].basis == "claimed"]
    assert len(claimed) > 0
    assert (claimed.verification == "claimed_by_answer_only").all()


# ---------------------------------------------------------------- corrupt copies

def corrupt(tmp_path, table, edit):
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("derived"))
    path = dst / "raw" / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = edit(df)
    df.to_csv(path, index=False)
    return dst / "datapackage.json"


def set_cell(row, field, value):
    def edit(df):
        df.loc[row, field] = value
        return df
    return edit


CASES = {
    "count above n": ("outcomes", lambda df: set_cell(df.index[df.events.ne("") & df.n.ne("")][0], "events", "999")(df),
                      "field 'events'", "exceed"),
    "unknown outcome": ("outcomes", set_cell(0, "outcome", "cure"), "field 'outcome'", "unknown value 'cure'"),
    "dangling foreign key": ("arms", set_cell(0, "study_id", "nobody2020"), "field 'study_id'", "does not exist"),
    "duplicate id": ("studies", lambda df: pd.concat([df, df.iloc[[0]]], ignore_index=True),
                     "field 'study_id'", "duplicate primary key"),
    "missing required field": ("outcomes", set_cell(1, "source_url", ""), "field 'source_url'", "required"),
    "missing column": ("arms", lambda df: df.drop(columns=["n"]), "field 'n'", "missing column"),
    "non-numeric count": ("outcomes", set_cell(0, "n", "many"), "field 'n'", "not an integer"),
    "claim to missing row": ("claims", lambda df: set_cell(df.index[df.outcome_rows.ne("")][0], "outcome_rows", "nope-row")(df),
                             "field 'outcome_rows'", "does not exist"),
    "unknown verdict": ("claims", lambda df: set_cell(df.index[df.judgement.ne("")][0], "judgement", "true")(df),
                        "field 'judgement'", "unknown value 'true'"),
    "overlap to missing study": ("studies", set_cell(0, "overlaps_with", "ghost2000"), "field 'overlaps_with'",
                                 "not a study"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupt_copy_fails_naming_file_row_and_field(tmp_path, case):
    table, edit, field, reason = CASES[case]
    desc = corrupt(tmp_path, table, edit)
    with pytest.raises(InputError) as err:
        load_package(desc, check_hashes=False)
    msg = str(err.value)
    assert f"data/raw/{table}.csv" in msg
    assert field in msg
    assert reason in msg
    if case not in ("missing column",):
        assert "line " in msg


def test_a_changed_raw_file_fails_the_hash_check(tmp_path):
    desc = corrupt(tmp_path, "arms", set_cell(0, "notes", "edited without a log entry"))
    with pytest.raises(InputError, match="sha256"):
        load_package(desc)


def test_check_data_exits_2_without_traceback_and_writes_nothing(tmp_path):
    desc = corrupt(tmp_path, "outcomes", set_cell(0, "outcome", "cure"))
    out = tmp_path / "validated.json"
    r = subprocess.run([sys.executable, "-m", "analysis", "check-data", "--in", str(desc), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, check=False)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "field 'outcome'" in r.stderr
    assert not out.exists()


def test_empty_table_is_reported(tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("derived"))
    (dst / "raw" / "appraisal.csv").write_text("")
    with pytest.raises(InputError, match="appraisal.csv: the file is empty"):
        load_package(dst / "datapackage.json", check_hashes=False)
