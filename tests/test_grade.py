"""GRADE with two paths: each named rule on constructed inputs (each can fail), and the
shipped ratings, whose reasons must agree with their data."""

import math

import pytest
from conftest import ROOT
from scipy.stats import norm

from analysis.review.grade import certainty_phrase, grading_context
from analysis.review.grade import domains as D
from analysis.review.grade.context import ControlRisk, GradeContext, grade_words
from analysis.review.grade.types import DomainRating, final_level
from analysis.review.io import load_package
from analysis.review.question import load_question
from analysis.review.synthesis import build_results


def study(setting="biopsy_proven_bkvn", prior="immunosuppression reduction; cidofovir", role="treatment",
          design="case_series"):
    return {"design": design, "setting": setting, "role": role, "population": "adult",
            "prior_therapies_failed": prior, "verification": "abstract"}


# the main question's names and indirectness terms (data/question.toml)
WORDS = grade_words(load_question(ROOT / "data" / "question.toml"))


def ctx(**kw):
    base = {"studies": {}, "co_interventions": {}, "concern": {}, "tool": {}, "overall": {}, "control": {},
                "publication_bias": {("all", "single_arm"): ("strongly_suspected", "small reports"),
                                  ("all", "comparative"): ("undetected", "nothing points to it")},
                "definitions": {}, "words": WORDS}
    base.update(kw)
    return GradeContext(**base)


# ---------------------------------------------------------------- start of each path

def test_single_arm_rates_are_very_low_by_construction():
    level, reason, rule = D.start_single_arm(WORDS)
    assert level == "very low"
    assert rule == "start_single_arm"
    assert "risk with IVIG" in reason
    assert "risk with the intervention" in D.start_single_arm()[1]  # a question without words
    ok = DomainRating("imprecision", "not serious", 0, "", "r", "c")
    assert final_level(level, (ok,)) == "very low"  # nothing can lift it


def test_comparative_evidence_starts_high_with_rob2_or_robins_i_else_low():
    c = ctx(studies={"t": study(design="rct"), "c": study(design="retrospective_cohort"),
                     "r": study(design="case_report")},
            tool={"t": "rob2", "c": "robins_i", "r": "murad"})
    assert D.start_comparative(["t"], c)[0] == "high"
    assert D.start_comparative(["t", "c"], c)[0] == "high"
    assert D.start_comparative(["t", "r"], c)[0] == "low"


# ---------------------------------------------------------------- risk of bias

def test_no_information_is_not_counted_as_high_risk():
    c = ctx(concern={"a": ("no_information", "Murad: no information on q1"), "b": ("high", "Murad: 'no' on q4")})
    r = D.risk_of_bias_single_arm({"a": 30, "b": 10}, c)
    assert r.levels == 0
    assert "no information, not counted as high" in r.reason
    r = D.risk_of_bias_single_arm({"a": 10, "b": 30}, c)
    assert r.levels == 1
    assert "30 of 40 patients" in r.reason


def test_comparative_risk_of_bias_follows_robins_i_and_rob2():
    c = ctx(tool={"k": "robins_i", "h": "rob2"}, overall={"k": ("serious", "confounding"),
                                                          "h": ("some_concerns", "concealment")})
    assert D.risk_of_bias_comparative({"k": 50}, c).levels == 2
    assert D.risk_of_bias_comparative({"h": 14}, c).levels == 1
    assert D.risk_of_bias_comparative({"k": 50, "h": 14}, c).levels == 2  # most patients at serious risk
    c2 = ctx(tool={"n": "rob2"}, overall={"n": ("no_information", "abstract silent")})
    assert D.risk_of_bias_comparative({"n": 16}, c2).levels == 1  # not high risk, but not low either


# ---------------------------------------------------------------- inconsistency

def test_inconsistency_never_fires_on_width_alone():
    """Two small studies at tau^2-hat = 0 with a huge prediction interval, both above the
    threshold: consistent, not rated down (the width is imprecision)."""
    pts = [("a", 0.75, 0.19, 0.99), ("b", 0.80, 0.28, 0.99)]
    r = D.inconsistency_from_spread(pts, threshold=0.4, tau2=0.0, tau2_ci=(0.0, 30.0), scale="no-IVIG risk")
    assert r.levels == 0
    assert "no prediction interval used" in r.reason


def test_inconsistency_when_estimates_straddle_the_threshold():
    pts = [("trial", 0.40, 0.05, 0.85), ("cohort", 0.77, 0.55, 0.92)]
    r = D.inconsistency_from_spread(pts, threshold=0.444, tau2=0.0, tau2_ci=(0.0, 4.47), scale="no-IVIG risk")
    assert r.levels == 1
    assert "trial below and cohort above" in r.reason
    assert D.inconsistency_from_spread(pts, threshold=0.444, tau2=0.8, tau2_ci=(0.1, 4.47),
                                       scale="x").levels == 2  # the tau^2 interval excludes 0
    assert D.inconsistency_from_spread(pts, threshold=0.444, tau2=0.0, tau2_ci=(0.0, 0.0),
                                       scale="x").levels == 0  # the tau^2 interval excludes heterogeneity
    assert D.inconsistency_from_spread(pts[:1], threshold=0.444, tau2=None, tau2_ci=None,
                                       scale="x").judgement == "not assessable"


def test_inconsistency_without_threshold_uses_interval_overlap():
    pts = [("a", 0.1, 0.02, 0.3), ("b", 0.9, 0.7, 0.98)]
    assert D.inconsistency_from_spread(pts, threshold=None, tau2=1.0, tau2_ci=(0.0, 9.0), scale="x").levels == 1
    pts = [("a", 0.4, 0.1, 0.8), ("b", 0.6, 0.3, 0.9)]
    assert D.inconsistency_from_spread(pts, threshold=None, tau2=1.0, tau2_ci=(0.0, 9.0), scale="x").levels == 0


# ---------------------------------------------------------------- indirectness

def test_indirectness_at_least_serious_when_population_intervention_or_outcome_differ():
    c = ctx(studies={"m": study(), "p": study(setting="presumptive_bkvn"), "v": study(setting="viremia_only"),
                     "k": study(prior="none required (IVIG adjuvant); both groups received IV cidofovir")},
            co_interventions={"m2": ("leflunomide",)})
    assert D.indirectness({"m": 5}, "graft_survival", c).levels == 0  # the question's population, no co-therapy
    assert D.indirectness({"m": 5, "p": 10}, "graft_survival", c).levels == 1
    assert D.indirectness({"k": 22}, "graft_loss", c).levels == 1  # cidofovir given alongside, not failed
    assert D.indirectness({"m": 5, "v": 10}, "graft_survival", c).levels == 2  # mostly viremia only
    r = D.indirectness({"m": 5}, "viremia_clearance", c)
    assert r.levels == 2
    assert "surrogate" in r.reason


# ---------------------------------------------------------------- imprecision

CTRL = ControlRisk("viremia_clearance", "treatment", 4, 9, 0.137, 0.788, ("trial",))


def test_imprecision_is_judged_against_the_no_ivig_risk():
    inside = D.imprecision_single_arm(0.46, 0.40, 0.52, "GLMM 95% CI", CTRL, WORDS)
    assert inside.levels == 1
    assert "no-IVIG risk 4/9 = 44.4%" in inside.reason
    assert "the interval contains it" in inside.reason
    wide = D.imprecision_single_arm(0.5, 0.1, 0.9, "GLMM 95% CI", CTRL)
    assert wide.levels == 2  # spans 33.3% and 55.6% (25% relative either way)
    tight = ControlRisk("x", "treatment", 40, 100, 0.30, 0.50, ("big",))
    clear = D.imprecision_single_arm(0.8, 0.7, 0.9, "GLMM 95% CI", tight)
    assert clear.levels == 0
    vague = D.imprecision_single_arm(0.8, 0.7, 0.9, "GLMM 95% CI", CTRL)  # the threshold's own CI reaches 78.8%
    assert vague.levels == 1
    assert "own interval overlaps" in vague.reason
    none = D.imprecision_single_arm(0.8, 0.7, 0.9, "GLMM 95% CI", None)
    assert none.levels == 1
    assert "no control arm" in none.reason


def test_zero_event_outcomes_use_their_exact_interval(pkg_results):
    _, res = pkg_results
    g = res["outcomes"]["adverse_event"]["grade"]
    imp = next(d for d in g["domains"] if d["domain"] == "imprecision")
    assert "exact 95% CI of the summed counts 0.0% to" in imp["reason"]
    assert "undefined" not in imp["reason"]


def test_optimal_information_size_matches_the_textbook_formula():
    p0, p1 = 0.366, 0.366 * 0.75
    z = norm.ppf(0.975) + norm.ppf(0.80)
    per_arm = math.ceil(z**2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p0 - p1) ** 2)
    assert D.optimal_information_size(p0) == 2 * per_arm
    assert D.optimal_information_size(0.5) == 488  # 244 per arm


def test_comparative_imprecision():
    base = {"events_1": 2, "n_1": 5, "events_0": 4, "n_0": 9, "rd": -0.04, "rd_ci_low": -0.58, "rd_ci_high": 0.49}
    assert D.imprecision_comparative({**base, "rr": 0.9, "rr_ci_low": 0.25, "rr_ci_high": 3.3}).levels == 2
    assert D.imprecision_comparative({**base, "rr": 0.5, "rr_ci_low": 0.24, "rr_ci_high": 1.09}).levels == 1
    none = D.imprecision_comparative({**base, "events_1": 0, "events_0": 0, "rr": None})
    assert none.levels == 2
    assert "no event in either arm" in none.reason
    big = {"events_1": 300, "n_1": 1000, "events_0": 500, "n_0": 1000, "rd": -0.2, "rd_ci_low": -0.24,
           "rd_ci_high": -0.16, "rr": 0.6, "rr_ci_low": 0.54, "rr_ci_high": 0.67}
    assert D.imprecision_comparative(big).levels == 0  # excludes 1 and reaches the OIS
    small = {**big, "n_1": 44, "events_1": 3, "n_0": 41, "events_0": 15}
    assert D.imprecision_comparative(small).levels == 1  # excludes 1 but far below the OIS


# ---------------------------------------------------------------- publication bias

def test_publication_bias_is_the_recorded_judgement_without_funnel_statistics():
    r = D.publication_bias("viremia_clearance", "single_arm", 6, ctx())
    assert r.judgement == "strongly suspected"
    assert r.levels == 1
    assert "small reports" in r.reason
    assert "fewer than 10, so no funnel plot" in r.reason
    assert D.publication_bias("graft_loss", "comparative", 1, ctx()).levels == 0
    with pytest.raises(ValueError, match="publication_bias.csv"):
        D.publication_bias("x", "single_arm", 2, ctx(publication_bias={}))


# ---------------------------------------------------------------- words

def test_the_bottom_line_words_come_from_the_ratings():
    assert certainty_phrase(["very low"] * 3) == "very low certainty"
    assert certainty_phrase(["low", "very low", "moderate"]) == "very low to moderate certainty"
    with pytest.raises(ValueError, match="no ratings"):
        certainty_phrase([])


# ---------------------------------------------------------------- the shipped ratings

@pytest.fixture(scope="module")
def pkg_results():
    pkg = load_package(ROOT / "data" / "datapackage.json")
    return pkg, build_results(pkg, package_hashes=pkg.hashes())


def test_every_outcome_follows_the_path_of_its_evidence(pkg_results):
    _, res = pkg_results
    rated = [o for o in res["outcome_order"] if res["outcomes"][o]["dataset"]]
    assert "viremia_clearance" in rated
    for o in res["outcome_order"]:
        g = res["outcomes"][o]["grade"]
        if o not in rated:  # the plan selected no study for this outcome: nothing to rate
            assert g is None, o
            continue
        assert (g["path"], g["start"], g["start_rule"]) == ("single_arm", "very low", "start_single_arm")
        assert [d["domain"] for d in g["domains"]] == ["risk of bias", "inconsistency", "indirectness",
                                                       "imprecision", "publication bias"]
        assert all(d["rule"] and d["citation"] and d["reason"] for d in g["domains"])
    comp = res["certainty"]["comparative"]
    assert {(c["outcome"], c["role"]) for c in comp} >= {("viremia_clearance", "treatment"),
                                                          ("graft_loss", "treatment")}
    for c in comp:
        assert c["path"] == "comparative"
        assert c["start"] == "high"


def test_reasons_agree_with_the_ratings(pkg_results):
    _, res = pkg_results
    ratings = [res["outcomes"][o]["grade"] for o in res["outcome_order"]
               if res["outcomes"][o]["grade"]] + res["certainty"]["comparative"]
    for g in ratings:
        for d in g["domains"]:
            if d["domain"] == "indirectness" and "0 of" in d["reason"].split(";")[0]:
                assert d["levels"] >= 1, (g["label"], d["reason"])  # population differs: at least serious
            assert "prediction interval" not in d["reason"].replace("no prediction interval used", "")
    clearance = {d["domain"]: d for d in res["outcomes"]["viremia_clearance"]["grade"]["domains"]}
    # the plan's primary clearance set holds one study: consistency cannot be judged
    assert (clearance["inconsistency"]["levels"], clearance["inconsistency"]["judgement"]) == (0, "not assessable")
    assert clearance["indirectness"]["judgement"] == "very serious"  # a surrogate outcome
    assert "no-IVIG risk 4/9" in clearance["imprecision"]["reason"]
    assert res["certainty"]["bottom_line"]["phrase"] == certainty_phrase(
        [r["certainty"] for r in res["certainty"]["bottom_line"]["ratings"] if r.get("role", "treatment") == "treatment"])


def test_the_control_risk_comes_from_the_control_arms(pkg_results):
    pkg, _ = pkg_results
    c = grading_context(pkg).control
    assert (c[("viremia_clearance", "treatment")].events, c[("viremia_clearance", "treatment")].n) == (4, 9)
    # ectrx2014 13 of 14, kable2017 28 - 15 lost, mendezchacon2015 0 of 1
    gs = c[("graft_survival", "treatment")]
    assert (gs.events, gs.n, gs.studies) == (26, 43, ("ectrx2014", "kable2017", "mendezchacon2015"))
    assert ("incident_viremia", "prevention") in c
    assert ("incident_viremia", "treatment") not in c
