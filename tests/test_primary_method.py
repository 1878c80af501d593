"""The primary method follows the written rule (issue 11 item 7, issue 13 item 2).

The chain is: the data package -> the calibration design (study sizes only) -> the
calibration at the rule's 2,000 replicates -> the rule's choice, recorded in
data/decisions/primary_method.json -> analysis.stats.options.PRIMARY_METHOD -> DEFAULTS
(the engine's and the CLI's defaults) -> the report's primary analysis. Each link is
checked here; a failure says which command restores the chain.
"""

import hashlib
import json

import pandas as pd
import pytest
from conftest import ROOT

from analysis.review.design import calibration_design
from analysis.review.io import dumps_json, load_package
from analysis.review.question import load_question
from analysis.review.single_arm import BAYES_PRIORS, CALIBRATION_ROWS, METHODS
from analysis.review.synthesis import PRIMARY_ID, PRIMARY_OPTIONS
from analysis.stats.coverage import DEFAULT_METHODS, select_primary
from analysis.stats.options import DEFAULTS, METHOD_OPTIONS, PRIMARY_METHOD, PoolingOptions

DECISION = ROOT / "data" / "decisions" / "primary_method.json"


@pytest.fixture(scope="module")
def decision():
    return json.loads(DECISION.read_text(encoding="utf-8"))


def test_the_decision_was_made_on_the_current_design(decision):
    pkg = load_package(ROOT / "data" / "datapackage.json")
    design = dumps_json(calibration_design(pkg, load_question(ROOT / "data" / "question.toml")))
    assert hashlib.sha256(design.encode("utf-8")).hexdigest() == decision["design_sha256"], (
        "the study sizes, grid or candidate methods changed since the primary method was chosen: "
        "run `make calibration-rule` (under two minutes) and set PRIMARY_METHOD to its choice")


def test_the_decision_used_the_replicates_the_rule_asks_for(decision):
    sel = decision["selection"]
    assert decision["replicates"] == sel["replicates_required"] == 2000
    assert sel["replicates_sufficient"]


def test_the_recorded_choice_is_what_the_rule_gives_on_the_recorded_summaries(decision):
    # re-apply the rule to the per-method summaries the record keeps: a frame with each
    # method's minimum coverage as one scenario and its mean width reproduces the choice
    sel = decision["selection"]
    rows = [{"scenario": 0, "sizes": "-", "scenario_label": "", "method": r["method"],
             "interval": "ci", "coverage": r["min_coverage"], "mean_width": r["mean_width"],
             "failure_rate": r["failure_rate"], "replicates": sel["replicates_used"],
             "replicates_tau0": 0, "coverage_tau0": float("nan")} for r in sel["methods"]]
    again = select_primary(pd.DataFrame(rows), nominal=sel["nominal"], margin=sel["margin"],
                           required_replicates=sel["replicates_required"])
    assert again["chosen"] == sel["chosen"] == decision["primary_method"]


def test_the_engine_default_is_the_decision(decision):
    assert decision["primary_method"] == PRIMARY_METHOD, (
        "data/decisions/primary_method.json chose another method: set "
        "analysis.stats.options.PRIMARY_METHOD to it")
    assert decision["options"] == METHOD_OPTIONS[PRIMARY_METHOD]
    assert PoolingOptions(**METHOD_OPTIONS[PRIMARY_METHOD]) == DEFAULTS


def test_the_report_primary_analysis_is_the_decision():
    assert METHOD_OPTIONS[PRIMARY_METHOD] == PRIMARY_OPTIONS
    assert CALIBRATION_ROWS[PRIMARY_METHOD] == PRIMARY_ID
    rows = {k: o for k, _, o in METHODS}
    if PRIMARY_ID in rows:  # its row in the methods table is fitted with the same options
        assert {k: DEFAULTS.as_kwargs()[k] for k in rows[PRIMARY_ID]} == rows[PRIMARY_ID]
    else:
        assert PRIMARY_ID in {k for k, _, _ in BAYES_PRIORS}


def test_every_candidate_the_engine_can_fit_has_options_and_a_row():
    for method in DEFAULT_METHODS:
        if method in ("study-clopper-pearson", "glmm-profile"):
            continue  # a reference, and an interval pool_proportions does not give
        assert method in METHOD_OPTIONS, method
        assert method in CALIBRATION_ROWS, method
