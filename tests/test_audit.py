"""The claims audit: verdict rules on constructed cases, and the shipped data end to end."""

import json

import pandas as pd
import pytest
from conftest import ROOT

from analysis.review.audit import audit_claims, summarise
from analysis.review.audit_rules import check_percent, compatible_counts, percent_matches_count
from analysis.review.io import load_package
from analysis.review.synthesis import build_results


@pytest.fixture(scope="module")
def shipped():
    pkg = load_package(ROOT / "data" / "datapackage.json")
    return pkg, build_results(pkg, package_hashes=pkg.hashes())


def with_claim(pkg, **claim):
    """A copy of the package tables with one extra claim (and optional table edits)."""
    tables = {k: v.copy() for k, v in pkg.tables.items()}
    base = dict.fromkeys(tables["claims"].columns)
    base.update({"claim_id": "c99", "section": "test", "claim": "constructed claim", "cited_refs": "",
                 "claim_type": "numeric"})
    base.update(claim)
    tables["claims"] = pd.DataFrame([base])
    return tables


def verdict_of(tables, results):
    return audit_claims(tables, results)[0]


# --- the percentage rule ------------------------------------------------------------

def test_a_percentage_consistent_with_its_count():
    assert percent_matches_count(96.7, 29, 30)
    assert percent_matches_count(88, 7, 8)  # 87.5 rounds half up to 88
    assert check_percent(90, 27, 30).consistent


def test_a_percentage_no_integer_count_can_produce():
    assert compatible_counts(97.4, 43) == []
    chk = check_percent(84, 33, 43)
    assert not chk.consistent
    assert "33/39" in chk.reason


# --- constructed claims -------------------------------------------------------------

def test_percent_claim_supported_by_a_matching_count(shipped):
    pkg, res = shipped
    t = with_claim(pkg, quantity="percent", claimed_value=77.3, unit="%", study_ids="kable2017",
                   outcome_rows="kable2017-ivig-viremia_clearance-end")
    assert verdict_of(t, res)["verdict"] == "supported"


def test_percent_claim_contradicted_by_the_count(shipped):
    pkg, res = shipped
    t = with_claim(pkg, quantity="percent", claimed_value=90, unit="%", study_ids="kable2017",
                   outcome_rows="kable2017-ivig-viremia_clearance-end")
    v = verdict_of(t, res)
    assert v["verdict"] == "discrepant"
    assert "17/22" in v["reason"]


def test_claim_whose_source_was_not_found_is_unverifiable_not_supported(shipped):
    pkg, res = shipped
    t = with_claim(pkg, quantity="percent", claimed_value=90, unit="%", study_ids="anonseries2015;accp2012",
                   outcome_rows="anonseries2015-ivig-viremia_clearance-end-claimed;accp2012-ivig-viremia_clearance-end")
    v = verdict_of(t, res)
    assert v["verdict"] == "unverifiable"
    assert "accp2012: 33/43" in v["reason"]


def test_range_combines_its_ends(shipped):
    pkg, res = shipped
    tables = {k: v.copy() for k, v in pkg.tables.items()}
    cols = tables["claims"].columns
    rows = []
    for cid, q, lo, hi, sid, link in (
        ("c01", "percent", 77.3, None, "kable2017", "kable2017-ivig-viremia_clearance-end"),
        ("c02", "percent", 40, None, "he_nd", "he_nd-ivig-viremia_clearance-3m"),
        ("c03", "range_percent", 40, 77.3, "he_nd;kable2017", ""),
    ):
        r = dict.fromkeys(cols)
        r.update(claim_id=cid, section="t", claim="x", claim_type="numeric", quantity=q, claimed_value=lo,
                 claimed_value_high=hi, study_ids=sid, outcome_rows=link or None)
        rows.append(r)
    tables["claims"] = pd.DataFrame(rows)
    out = {a["claim_id"]: a for a in audit_claims(tables, res)}
    assert out["c03"]["verdict"] == "supported"
    tables["claims"].loc[1, "claimed_value"] = 55  # he_nd printed 40%
    tables["claims"].loc[2, "claimed_value"] = 55
    out = {a["claim_id"]: a for a in audit_claims(tables, res)}
    assert out["c02"]["verdict"] == "discrepant"
    assert out["c03"]["verdict"] == "discrepant"


def test_dose_claim_contradicted_by_one_study(shipped):
    pkg, res = shipped
    t = with_claim(pkg, quantity="dose_g_per_kg", claimed_value=2, unit="g/kg", study_ids="magen2021;kable2017",
                   outcome_rows="arm:magen2021/ivig;arm:kable2017/ivig")
    v = verdict_of(t, res)
    assert v["verdict"] == "discrepant"
    assert "kable2017 1.01 g/kg" in v["reason"]


def test_unknown_recorded_verdict_is_refused(shipped):
    pkg, res = shipped
    t = with_claim(pkg, claim_type="qualitative", judgement="probably", judgement_reason="because")
    with pytest.raises(ValueError, match="c99: unknown verdict 'probably'"):
        audit_claims(t, res)


# --- the shipped data end to end -----------------------------------------------------

def test_shipped_audit_gives_the_verdicts_the_data_imply(shipped):
    pkg, res = shipped
    out = {a["claim_id"]: a for a in audit_claims(pkg, res)}
    assert out["c11"]["verdict"] == "unverifiable"  # 90% clearance: the 2015 series was not found
    assert out["c14"]["verdict"] == "unverifiable"  # 96.7% graft survival
    assert out["c29"]["verdict"] == "unverifiable"  # 88% graft survival (2006 series not found)
    assert out["c47"]["verdict"] == "unverifiable"  # the 88-96.7% range
    assert out["c17"]["verdict"] == "supported"  # three pediatric patients cleared
    assert out["c19"]["verdict"] == "supported"  # 2 g/kg in the pediatric series
    assert out["c34"]["verdict"] == "discrepant"  # "2 g/kg in all positive series"
    assert out["c11"]["basis"] == "computed"
    assert "33/43" in out["c11"]["reason"]
    assert out["c11"]["uncited_evidence"]  # the studies the answer left out are named


def test_audit_command_writes_what_the_function_returns(shipped, tmp_path):
    from analysis.cli import main
    from analysis.review.io import write_json

    pkg, res = shipped
    write_json(res, tmp_path / "results.json")
    path = tmp_path / "claims_audit.json"
    assert main(["audit", "--in", str(ROOT / "data" / "datapackage.json"), "--results",
                 str(tmp_path / "results.json"), "--out", str(path)]) == 0
    fresh = audit_claims(pkg, res)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert summarise(fresh) == saved["summary"]
    assert [a["verdict"] for a in fresh] == [a["verdict"] for a in saved["claims"]]
