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
    assert set(pkg.tables) == {"studies", "arms", "outcomes", "viral_loads", "claims", "murad", "rob2",
                               "robins_i", "search_log", "screening", "publication_bias", "field_provenance",
                               "prisma_checklist", "analysis_plan", "hazard_ratios"}
    assert pkg.frame("outcomes").events.dtype == "Int64"
    # the review reads typed rows: an integer is an int, a number a float, a missing cell None
    r = {r.row_id: r for r in pkg["outcomes"]}["accp2012-ivig-viremia_clearance-end"]
    assert (r.events, r.n, r.percent_reported, r.timepoint_months, r.alternative_to) == (33, 43, 84.0, None, None)
    assert (type(r.events), type(r.n), type(r.percent_reported)) == (int, int, float)
    assert all(type(p.written_after_data) is bool for p in pkg["analysis_plan"])
    assert pkg["outcomes"].columns == tuple(pkg.frame("outcomes").columns)


def _found_treatment_studies():
    st = pd.read_csv(ROOT / "data" / "raw" / "studies.csv", dtype=str, keep_default_na=False)
    return sorted(st[(st.role != "guideline") & (st.verification != "not_found")].study_id)


@pytest.mark.parametrize("study_id", _found_treatment_studies())
def test_each_found_study_has_located_numbers(pkg, study_id):
    arms = pkg.frame("arms")[pkg.frame("arms").study_id == study_id]
    assert len(arms) >= 1, "every study has at least one arm"
    assert arms.source_url.str.startswith("http").all()
    assert (arms.source_locator.str.len() > 3).all()
    rows = pkg.frame("outcomes")[(pkg.frame("outcomes").study_id == study_id) & (pkg.frame("outcomes").basis == "reported")]
    assert len(rows) >= 1, "every found study reports at least one outcome row (or a not_found row)"
    assert rows.source_url.str.startswith("http").all()
    assert (rows.source_locator.str.len() > 3).all()
    counted = rows[rows.events.notna()]
    assert (counted.verification != "not_found").all()


def test_not_found_studies_hold_no_reported_counts(pkg):
    st = pkg.frame("studies")
    missing = set(st[st.verification == "not_found"].study_id)
    rows = pkg.frame("outcomes")[pkg.frame("outcomes").study_id.isin(missing) & (pkg.frame("outcomes").basis == "reported")]
    assert rows.events.isna().all()


def test_claimed_numbers_are_marked_as_claims(pkg):
    claimed = pkg.frame("outcomes")[pkg.frame("outcomes").basis == "claimed"]
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
    "unknown antiviral code": ("arms", set_cell(0, "other_antivirals", "some"), "field 'other_antivirals'",
                               "unknown value 'some'"),
    "count row without events": ("outcomes", lambda df: set_cell(_first(df, "row_use", "count"), "events", "")(df),
                                 "field 'row_use'", "needs events and n"),
    "inference without a note": ("outcomes", lambda df: set_cell(df.index[df.inference.ne("")][0], "inference_note", "")(df),
                                 "field 'inference_note'", "needs an inference_note"),
    "dangling alternative": ("outcomes", lambda df: set_cell(_first(df, "row_use", "alternative"), "alternative_to",
                                                             "nope-row")(df), "field 'alternative_to'", "not a row"),
    "alternative to another outcome": ("outcomes", lambda df: set_cell(_first(df, "row_use", "alternative"), "alternative_to",
                                                                       "he_nd-ivig-viremia_clearance-3m")(df),
                                       "field 'alternative_to'", "same study, arm and outcome"),
    "plan: unknown outcome": ("analysis_plan", set_cell(0, "outcome", "cure"), "field 'outcome'", "unknown value 'cure'"),
    "plan: unknown population code": ("analysis_plan", set_cell(0, "study_populations", "adult;elderly"),
                                      "field 'study_populations'", "unknown code 'elderly'"),
    "plan: malformed code list": ("analysis_plan", set_cell(0, "study_settings", "biopsy proven"),
                                  "field 'study_settings'", "does not match the pattern"),
    "plan: reversed window": ("analysis_plan", set_cell(0, "window_min_months", "30"), "field 'window_min_months'",
                              "is after window_max_months"),
    "plan: overlapping subgroups": ("analysis_plan", set_cell(1, "study_populations", "adult;pediatric"),
                                    "field 'set_id'", "overlaps set"),
    "plan: second primary pool": ("analysis_plan", set_cell(1, "set_kind", "primary_pool"), "field 'set_kind'",
                                  "a second primary pool"),
    "plan: not marked post hoc or not": ("analysis_plan", set_cell(0, "written_after_data", "maybe"),
                                         "field 'written_after_data'", "not a boolean"),
    "plan: duplicate id": ("analysis_plan", set_cell(1, "plan_id", "p01"), "field 'plan_id'", "duplicate primary key"),
    "unknown RoB 2 judgement": ("rob2", set_cell(0, "judgement", "unclear"), "field 'judgement'",
                                "unknown value 'unclear'"),
    "judgement without a locator": ("robins_i", set_cell(0, "source_locator", ""), "field 'source_locator'",
                                    "required"),
    "judgement without its reason": ("murad", set_cell(0, "support", ""), "field 'support'", "required"),
    "PRISMA item without a location": ("prisma_checklist", set_cell(0, "location", ""), "field 'location'",
                                       "names no report section"),
    "PRISMA item missing": ("prisma_checklist", lambda df: df[df["item"] != "13a"], "field 'item'", "13a"),
}


def _first(df, column, value):
    return df.index[df[column] == value][0]


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
    if case not in ("missing column", "PRISMA item missing"):
        assert "line " in msg or "row " in msg


def test_a_year_of_a_study_not_found_must_be_recorded_as_the_answers(tmp_path):
    desc = corrupt(tmp_path, "field_provenance",
                   lambda df: df[~((df.row_key == "anonseries2015") & (df.field == "year"))])
    with pytest.raises(InputError, match=r"data/raw/studies.csv.*field 'year'.*can only come from the answer"):
        load_package(desc, check_hashes=False)


def test_a_provenance_row_must_name_an_existing_cell(tmp_path):
    desc = corrupt(tmp_path, "field_provenance", set_cell(0, "row_key", "nobody2020/ivig"))
    with pytest.raises(InputError, match=r"field_provenance.csv, line 2 .*field 'row_key'"):
        load_package(desc, check_hashes=False)


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
    (dst / "raw" / "murad.csv").write_text("")
    with pytest.raises(InputError, match="murad.csv: the file is empty"):
        load_package(dst / "datapackage.json", check_hashes=False)


def test_an_unplanned_outcome_fails_naming_the_outcome_row(tmp_path):
    desc = corrupt(tmp_path, "analysis_plan", lambda df: df[df.outcome != "rejection"])
    with pytest.raises(InputError, match=r"data/raw/outcomes.csv, line \d+ .*field 'outcome'.*no row in the analysis plan"):
        load_package(desc, check_hashes=False)


# ---------------------------------------------------------------- issue 15: the widened search

NEW_STUDIES = ("ectrx2014", "ectrx2016", "atccleveland2020")


@pytest.mark.parametrize("study_id", NEW_STUDIES)
def test_each_new_study_has_a_source_and_a_locator_for_every_row(pkg, study_id):
    st = pkg.frame("studies").set_index("study_id").loc[study_id]
    assert st.source_url.startswith("http")
    assert len(st.source_locator) > 10
    for table in ("arms", "outcomes"):
        rows = pkg.frame(table)[pkg.frame(table).study_id == study_id]
        assert len(rows) >= 1
        assert rows.source_url.str.startswith("http").all()
        assert (rows.source_locator.str.len() > 10).all()
        assert rows.verification.isin(["abstract", "conference_abstract", "not_found"]).all()
    screened = pkg.frame("screening")[pkg.frame("screening").study_id == study_id]
    assert (screened.decision == "included").sum() == 1


def test_the_programme_is_one_cohort_reported_twice(pkg):
    st = pkg.frame("studies").set_index("study_id")
    assert st.loc["ectrx2014", "overlaps_with"] == "ectrx2016"
    assert st.loc["ectrx2016", "overlaps_with"] == "ectrx2014"
    assert st.loc["ectrx2016", "pmid"] == "26862825"
    arms = pkg.frame("arms").set_index(["study_id", "arm_id"]).n
    assert (arms["ectrx2014", "ivig"], arms["ectrx2014", "control"]) == (19, 14)
    assert (arms["ectrx2016", "ivig"], arms["ectrx2016", "control"]) == (22, 33)
    out = pkg.frame("outcomes").set_index("row_id")
    loss = out.loc[["ectrx2014-ivig-graft_loss-12m", "ectrx2014-control-graft_loss-12m"]]
    assert loss.events.tolist() == [1, 1]
    assert loss.n.tolist() == [19, 14]
    # the long-term report prints a direction and a P value, no counts: narrative, never a count
    narr = out.loc[["ectrx2016-ivig-graft_survival-end", "ectrx2016-control-graft_survival-end"]]
    assert (narr.row_use == "narrative").all()
    assert narr.events.isna().all()


def test_inferred_counts_are_flagged_for_sensitivity_analyses(pkg):
    out = pkg.frame("outcomes").set_index("row_id")
    assert out.loc["kable2017-ivig-viremia_clearance-end", "inference"] == "arm_inferred"
    assert out.loc["anonpeds2012-ivig-viremia_clearance-end", "inference"] == "denominator_inferred"
    accp = out.loc["accp2012-ivig-viremia_clearance-end"]
    alt = out.loc["accp2012-ivig-viremia_clearance-end-alt39"]
    assert (accp.events, accp.n, accp.inference) == (33, 43, "percent_mismatch")
    assert (alt.events, alt.n, alt.row_use, alt.alternative_to) == (33, 39, "alternative", accp.name)
    assert out.loc["accp2012-ivig-graft_survival-12m", "row_use"] == "narrative"
    flagged = out[out.inference.notna()]
    assert flagged.inference_note.str.len().min() > 40


def test_the_plan_is_marked_post_hoc_and_selects_as_specified(pkg):
    from analysis.review.plan import select

    plan = pkg.frame("analysis_plan")
    assert plan.written_after_data.all()
    assert (plan.plan_date == "2026-12-01").all()
    loss = select(pkg, "p07")  # comparative graft loss: the programme (once) and Kable 2017
    assert loss.pool
    assert loss.k == 2
    assert ("ectrx2014-ivig-graft_loss-12m", "ectrx2014-control-graft_loss-12m") in loss.pooled
    assert ("ectrx2016-ivig-graft_survival-end", "not a proportion (row_use narrative)") in loss.narrative
    clear = select(pkg, "p01")  # single-arm clearance, primary population: ACCP only
    assert clear.pooled == ("accp2012-ivig-viremia_clearance-end",)
    assert not clear.pool
    assert ("replace", "accp2012-ivig-viremia_clearance-end", "accp2012-ivig-viremia_clearance-end-alt39") in clear.sensitivity
    vl = select(pkg, "p18")
    assert not vl.pool
    assert vl.pooled == ()
    assert len(vl.narrative) >= 3


def test_every_query_of_the_widened_search_has_its_new_records_screened(pkg):
    sl = pkg.frame("search_log").set_index("query_id")
    sl = sl[sl.index.str.startswith("w")]
    assert len(sl) >= 40
    sc = pkg.frame("screening")
    for qid, row in sl.iterrows():
        mine = sc[sc.query_id == qid]
        assert (mine.decision == "included").sum() == row.records_new_included, qid
        assert (mine.decision != "included").sum() == row.records_excluded, qid
