"""The claims audit: verdict rules on constructed cases, self-contradicting judgements the
loader must refuse, and the shipped data end to end."""

import json
import shutil

import pandas as pd
import pytest
from conftest import ROOT

from analysis import InputError
from analysis.review.audit import audit_claims, summarise
from analysis.review.audit_rules import check_percent, compatible_counts, percent_matches_count
from analysis.review.io import load_package
from analysis.review.rows import Table
from analysis.review.synthesis import build_results


@pytest.fixture(scope="module")
def shipped():
    pkg = load_package(ROOT / "data" / "datapackage.json")
    return pkg, build_results(pkg, package_hashes=pkg.hashes())


def with_claim(pkg, **claim):
    """The package tables with the claims table replaced by one constructed claim (the
    tables are immutable rows: the package itself is not changed)."""
    tables = dict(pkg.tables)
    base = {"claim_id": "c99", "section": "test", "claim": "constructed claim", "cited_refs": "",
            "claim_type": "numeric", "claimed_population": "bkvn"}
    base.update(claim)
    tables["claims"] = Table.from_records(pkg["claims"].columns, [base])
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
    # the context comes from the report the synthesis' overlap rule keeps for the cohort
    assert "accp2012, the report that stands for the same cohort in the synthesis" in v["reason"]
    assert "33/43" in v["reason"]


def test_a_percentage_of_another_study_never_decides_the_verdict(shipped):
    """Only the cited study's rows count: kable2017's 77.3% does not support a claim about he_nd."""
    pkg, res = shipped
    t = with_claim(pkg, quantity="percent", claimed_value=77.3, unit="%", study_ids="he_nd",
                   outcome_rows="kable2017-ivig-viremia_clearance-end")
    assert verdict_of(t, res)["verdict"] == "unverifiable"


def test_range_combines_its_ends(shipped):
    pkg, res = shipped
    tables = dict(pkg.tables)
    cols = tables["claims"].columns
    rows = []
    for cid, q, lo, hi, sid, link in (
        ("c01", "percent", 77.3, None, "kable2017", "kable2017-ivig-viremia_clearance-end"),
        ("c02", "percent", 40, None, "he_nd", "he_nd-ivig-viremia_clearance-3m"),
        ("c03", "range_percent", 40, 77.3, "he_nd;kable2017", ""),
    ):
        r = dict.fromkeys(cols)
        r.update(claim_id=cid, section="t", claim="x", claim_type="numeric", quantity=q, claimed_value=lo,
                 claimed_value_high=hi, study_ids=sid, outcome_rows=link or None, claimed_population="bkvn")
        rows.append(r)
    tables["claims"] = Table.from_records(cols, rows)
    out = {a["claim_id"]: a for a in audit_claims(tables, res)}
    assert out["c03"]["verdict"] == "supported"
    c01, c02, c03 = tables["claims"]
    # he_nd printed 40%
    tables["claims"] = tables["claims"].replace([c01, c02._replace(claimed_value=55), c03._replace(claimed_value=55)])
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


def test_a_dose_range_in_the_text_counts(shipped):
    """accp2012 records its regimen only as text ('0.5-1.0 gm/kg'): both ends are doses."""
    pkg, res = shipped
    t = with_claim(pkg, quantity="dose_g_per_kg", claimed_value=2, unit="g/kg", study_ids="accp2012",
                   outcome_rows="arm:accp2012/ivig")
    v = verdict_of(t, res)
    assert v["verdict"] == "discrepant"
    assert "accp2012 0.5 g/kg" in v["reason"]
    assert "accp2012 1 g/kg" in v["reason"]


def test_unknown_recorded_verdict_is_refused(shipped):
    pkg, res = shipped
    t = with_claim(pkg, claim_type="qualitative", judgement="probably", judgement_reason="because")
    with pytest.raises(ValueError, match="c99: unknown verdict 'probably'"):
        audit_claims(t, res)


# --- values matched on role, statistic, bound and time ------------------------------------

def vl_claim(pkg, value, role, bound="eq", statistic="individual", time=None):
    links = ";".join(f"vl:{r}" for r in pkg["viral_loads"].column("row_id") if r.startswith("anoncase2024"))
    return with_claim(pkg, quantity="viral_load_copies_per_ml", claimed_value=value, unit="copies/mL",
                      study_ids="anoncase2024", outcome_rows=links, claimed_role=role, claimed_bound=bound,
                      claimed_statistic=statistic, claimed_time_months=time)


def test_a_value_is_matched_on_its_role_not_only_its_number(shipped):
    pkg, res = shipped
    # 2 million is the source's peak AFTER IVIG: as a starting (baseline) value it is wrong
    v = verdict_of(vl_claim(pkg, 2_000_000, "baseline", bound="gt"), res)
    assert v["verdict"] == "discrepant"
    assert ">1,000,000 copies/mL (individual, baseline" in v["reason"]
    assert "2,000,000 copies/mL is the source's peak value" in v["reason"]
    assert verdict_of(vl_claim(pkg, 2_000_000, "peak"), res)["verdict"] == "supported"


def test_the_bound_is_part_of_the_value(shipped):
    pkg, res = shipped
    assert verdict_of(vl_claim(pkg, 1_000_000, "baseline", bound="gt"), res)["verdict"] == "supported"
    assert verdict_of(vl_claim(pkg, 1_000_000, "baseline", bound="eq"), res)["verdict"] == "discrepant"


def test_the_statistic_is_part_of_the_value(shipped):
    pkg, res = shipped
    assert verdict_of(vl_claim(pkg, 5500, "follow_up", statistic="mean"), res)["verdict"] == "discrepant"
    assert verdict_of(vl_claim(pkg, 5500, "follow_up", time=52), res)["verdict"] == "supported"


def test_a_time_the_source_does_not_fix_is_only_partly_supported(shipped):
    pkg, res = shipped
    v = verdict_of(vl_claim(pkg, 2_000_000, "peak", time=25), res)
    assert v["verdict"] == "partly_supported"
    assert "month 25" in v["reason"]


def test_months_of_dosing_are_compared_with_the_regimen_only(shipped):
    """52 is a follow-up time point of the 2024 case, not a dosing time: no support."""
    pkg, res = shipped
    t = with_claim(pkg, quantity="months", claimed_value=22, claimed_value_high=52, unit="months",
                   study_ids="anoncase2024", claimed_role="dose_timing",
                   outcome_rows="arm:anoncase2024/ivig;anoncase2024-ivig-viral_load_reduction-52m")
    v = verdict_of(t, res)
    assert v["verdict"] == "discrepant"
    assert "22, 33 months" in v["reason"]


# --- provenance: what came from the answer never supports it ------------------------------

def test_a_year_copied_from_the_answer_is_unverifiable(shipped):
    pkg, res = shipped
    t = with_claim(pkg, quantity="year", claimed_value=2024, unit="year", study_ids="anoncase2024")
    v = verdict_of(t, res)
    assert v["verdict"] == "unverifiable"
    assert "copied from the answer" in v["reason"]
    t["field_provenance"] = t["field_provenance"].replace(r for r in t["field_provenance"]
                                                          if r.row_key != "anoncase2024")
    assert verdict_of(t, res)["verdict"] == "supported"  # the rule, not the data, made the difference


# --- context only from the same population and outcome -------------------------------------

def test_uncited_context_comes_only_from_the_claims_population(shipped):
    pkg, res = shipped
    t = with_claim(pkg, claim_type="qualitative", judgement="unverifiable", judgement_reason="not found",
                   study_ids="anonharm2014", outcome_rows="anonharm2014-ivig-bkvn_progression-end-claimed",
                   claimed_population="rejection_treatment", claim="harm after IVIG for rejection")
    assert verdict_of(t, res)["uncited_evidence"] == ""  # not the 0/18 of viremia-only patients
    t["claims"] = t["claims"].replace([t["claims"][0]._replace(claimed_population="viremia_only")])
    ctx = verdict_of(t, res)["uncited_evidence"]
    assert "he_nd (rct): 0/5 with IVIG vs 0/9" in ctx  # the trial, with its control arm
    assert "magen2021 0/13" in ctx


def test_reports_of_a_cited_cohort_are_not_uncited(shipped):
    """accp2012 stands for answer ref 3's cohort (overlap group), as in the synthesis."""
    pkg, res = shipped
    out = {a["claim_id"]: a for a in audit_claims(pkg, res)}
    assert "accp2012" not in out["c11"]["uncited_evidence"]
    assert "kable2017 17/22" in out["c11"]["uncited_evidence"]


# --- recorded judgements that contradict the data fail validation -------------------------

def corrupt_claims(tmp_path, edit):
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("derived"))
    path = dst / "raw" / "claims.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(df)
    df.to_csv(path, index=False)
    return dst / "datapackage.json"


def set_claim(cid, **values):
    def edit(df):
        for k, v in values.items():
            df.loc[df.claim_id == cid, k] = v
    return edit


CONTRADICTIONS = {
    # the old c02: "no RCT" while the package holds design=rct studies
    "no RCT in the reason": (set_claim("c02", judgement="partly_supported",
                                       judgement_reason="No RCT seen; a controlled cohort exists"),
                             "c02", "no RCT"),
    "claim denying RCTs judged supported": (set_claim("c02", judgement="supported",
                                                      judgement_reason="the guideline says trials are lacking"),
                                            "c02", "randomised trials"),
    # "all ... 2 g/kg" although a linked arm used 0.5-1.0 g/kg, and a single dose although two were given
    "all while an arm differs": (set_claim("c34", judgement="supported", judgement_reason="as the answer says"),
                                 "c34", "records"),
    # "sustained" response although the linked outcome codes the patient as not cleared
    "sustained while not cleared": (set_claim("c40", judgement="partly_supported",
                                              judgement_reason="decline, not clearance"), "c40", "not cleared"),
    # a claim about a study that was not found cannot be (partly) supported
    "supported although not found": (set_claim("c15", judgement="partly_supported",
                                               judgement_reason="the overlapping abstract says so"),
                                     "c15", "was not found"),
}


@pytest.mark.parametrize("case", sorted(CONTRADICTIONS))
def test_a_judgement_the_data_refute_fails_validation_naming_the_claim(tmp_path, case):
    edit, claim, why = CONTRADICTIONS[case]
    with pytest.raises(InputError) as err:
        load_package(corrupt_claims(tmp_path, edit), check_hashes=False)
    msg = str(err.value)
    assert "data/raw/claims.csv" in msg
    assert "field 'judgement'" in msg
    assert f"claim {claim}:" in msg
    assert why in msg


def test_the_shipped_judgements_pass_the_same_rules():
    load_package(ROOT / "data" / "datapackage.json")  # raises if any recorded judgement is refuted


# --- the shipped data end to end -----------------------------------------------------

EXPECTED = {
    "c02": "discrepant",  # "no randomised trials": he_nd and ectrx2023 are RCTs
    "c11": "unverifiable",  # 90% clearance: the 2015 series was not found
    "c14": "unverifiable",  # 96.7% graft survival
    "c15": "unverifiable",  # a statement about the 2015 series, which was not found
    "c17": "supported",  # three pediatric patients cleared
    "c19": "supported",  # 2 g/kg in the pediatric series
    "c21": "unverifiable",  # the year 2024 came from the answer itself
    "c22": "discrepant",  # ">2 million" at the start: the source gives >1 million before IVIG
    "c23": "supported",  # 5,500 copies/mL at 52 months
    "c29": "unverifiable",  # 88% graft survival (2006 series not found)
    "c34": "discrepant",  # "2 g/kg in all positive series"
    "c36": "partly_supported",  # headache is reported (magen2021)
    "c39": "supported",  # doses at 22 and 33 months
    "c40": "discrepant",  # "sustained virologic response": coded not cleared
    "c43": "partly_supported",  # the peak, but which dose it followed is ambiguous
    "c44": "unverifiable",  # "benefit may take 6-12 months": no response time in that range
    "c47": "unverifiable",  # the 88-96.7% range
}


def test_shipped_audit_gives_the_verdicts_the_data_imply(shipped):
    pkg, res = shipped
    out = {a["claim_id"]: a for a in audit_claims(pkg, res)}
    assert {c: out[c]["verdict"] for c in EXPECTED} == EXPECTED
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
