"""Design-specific risk of bias: the tool each study needs, the rules its table obeys
(corrupt copies that must fail), the per-study summary GRADE reads, and the figure."""

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from matplotlib.figure import Figure

from analysis import InputError
from analysis.present.plotting.rob_tools import JUDGEMENT_STYLES, rob_traffic_light_tool
from analysis.review.io import load_package
from analysis.review.rob import DOMAINS, study_concern, study_tools, tool_for


@pytest.fixture(scope="module")
def pkg():
    return load_package(ROOT / "data" / "datapackage.json")


def test_each_design_gets_its_tool():
    assert tool_for("rct", has_control_arm=False) == "rob2"  # ectrx2023: IVIG in both arms, still an RCT
    assert tool_for("retrospective_cohort", has_control_arm=True) == "robins_i"
    assert tool_for("retrospective_cohort", has_control_arm=False) == "murad"  # a single-arm "cohort"
    for design in ("case_series", "case_report", "conference_abstract"):
        assert tool_for(design, has_control_arm=True) == "murad"


def test_every_included_study_is_in_exactly_the_table_of_its_tool(pkg):
    tools = study_tools(pkg["studies"], pkg["arms"])
    assert tools["he_nd"] == "rob2"
    assert tools["ectrx2023"] == "rob2"
    assert tools["kable2017"] == "robins_i"
    assert tools["ivigprevention_nd"] == "robins_i"
    assert tools["mendezchacon2015"] == "murad"  # a case report with a non-IVIG case
    for tool in ("rob2", "robins_i", "murad"):
        assert set(pkg.frame(tool).study_id) == {s for s, t in tools.items() if t == tool}
    guidelines = set(pkg.frame("studies").study_id[pkg.frame("studies").role == "guideline"])
    assert not guidelines & set(tools)


def test_every_judgement_carries_its_reason_and_locator(pkg):
    for tool in ("rob2", "robins_i", "murad"):
        df = pkg.frame(tool)
        assert df.support.str.len().min() > 10
        assert df.source_url.str.startswith("http").all()
        assert (df.source_locator.str.len() > 3).all()


def test_no_information_is_not_high_risk(pkg):
    # sharma2008: "unclear" on q1 and q4, no "no": not counted as high risk
    assert study_concern(pkg, "sharma2008")[0] == "no_information"
    assert study_concern(pkg, "accp2012")[0] == "high"  # a "no" on q4
    assert study_concern(pkg, "he_nd") == ("some", "RoB 2 overall: some concerns")
    assert study_concern(pkg, "kable2017") == ("high", "ROBINS-I overall: serious")


# ---------------------------------------------------------------- corrupt copies

def corrupt(tmp_path, table, edit):
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("derived"))
    path = dst / "raw" / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = edit(df)
    df.to_csv(path, index=False)
    return dst / "datapackage.json"


def set_where(study, domain, field, value):
    def edit(df):
        col = "item" if "item" in df.columns else "domain"
        df.loc[(df.study_id == study) & (df[col] == domain), field] = value
        return df
    return edit


def move_to_murad(df):
    rows = pd.DataFrame([{"study_id": "he_nd", "item": f"q{i}", "domain": d, "judgement": "unclear",
                          "support": "placeholder judgement", "source_url": "https://example.org/x",
                          "source_locator": "Abstract"}
                         for i, d in enumerate(["selection", "ascertainment", "ascertainment", "causality",
                                                "causality", "causality", "causality", "reporting"], start=1)])
    return pd.concat([df, rows], ignore_index=True)


CASES = {
    "an RCT appraised with the case-series tool": ("murad", move_to_murad, "murad.csv", "RoB 2"),
    "an included study without rows": ("robins_i", lambda df: df[df.study_id != "kable2017"], "robins_i.csv",
                                       "kable2017 has no rows"),
    "a domain missing": ("rob2", lambda df: df[~((df.study_id == "he_nd") & (df.domain == "d3_missing_outcome_data"))],
                         "rob2.csv", "lacks domain d3_missing_outcome_data"),
    "overall milder than a domain": ("robins_i", set_where("kable2017", "overall", "judgement", "moderate"),
                                     "robins_i.csv", "less severe than its worst domain"),
    "overall low despite no information": (
        "rob2", lambda df: set_where("ectrx2023", "overall", "judgement", "low")(
            set_where("ectrx2023", "d1_randomisation", "judgement", "low")(df)),
        "rob2.csv", "overall 'low' although a domain has no information"),
    "overall no information despite a concern": ("rob2", set_where("he_nd", "overall", "judgement", "no_information"),
                                                 "rob2.csv", "overall 'no_information'"),
    "a Murad item in the wrong domain": ("murad", set_where("accp2012", "q4", "domain", "selection"), "murad.csv",
                                         "belongs to domain 'causality'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_broken_risk_of_bias_table_fails_naming_file_and_field(tmp_path, case):
    table, edit, file, reason = CASES[case]
    with pytest.raises(InputError) as err:
        load_package(corrupt(tmp_path, table, edit), check_hashes=False)
    msg = str(err.value)
    assert f"data/raw/{file}" in msg
    assert "field '" in msg
    assert reason in msg


# ---------------------------------------------------------------- the figure

def rob2_rows():
    doms = list(DOMAINS["rob2"])
    j = ["low", "some_concerns", "high", "no_information", "low", "high"]
    return pd.DataFrame([{"study_id": s, "outcome": "all", "domain": d, "judgement": j[(i + k) % len(j)]}
                         for k, s in enumerate(["trial_a", "trial_b"]) for i, d in enumerate(doms)])


def test_one_pill_per_judgement_and_no_information_apart_from_high():
    rows = rob2_rows()
    fig = rob_traffic_light_tool(rows, tool="rob2", domains=list(DOMAINS["rob2"]),
                                 domain_labels=DOMAINS["rob2"], labels={"trial_a": "Trial A"}, title="RoB 2")
    assert isinstance(fig, Figure)
    counts = rows.judgement.value_counts()
    for judgement, n in counts.items():
        (pts,) = [a for a in fig.axes[0].collections if a.get_gid() == f"rob-rob2-{judgement}"]
        assert len(pts.get_offsets()) == n
    colours = {k: v[0] for k, v in JUDGEMENT_STYLES["rob2"].items()}
    assert colours["no_information"] != colours["high"]
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert "?  no information" in texts
    assert "\u2212  high" in texts
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Trial A", "trial_b"]
    assert any(line.get_gid() == "overall-rule" for line in fig.axes[0].lines)
    fig.canvas.draw()


def test_outcome_specific_rows_get_their_own_line():
    rows = pd.concat([rob2_rows().assign(outcome="graft_loss"), rob2_rows().assign(outcome="all")])
    fig = rob_traffic_light_tool(rows, tool="rob2", domains=list(DOMAINS["rob2"]), domain_labels=DOMAINS["rob2"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["trial_a (graft loss)", "trial_b (graft loss)", "trial_a", "trial_b"]


def test_slide_style_and_unknown_judgement():
    fig = rob_traffic_light_tool(rob2_rows(), tool="rob2", domains=list(DOMAINS["rob2"]),
                                 domain_labels=DOMAINS["rob2"], style="slide")
    assert np.allclose(fig.get_size_inches(), (13.333, 7.5))
    with pytest.raises(ValueError, match="unknown judgement"):
        rob_traffic_light_tool(rob2_rows().assign(judgement="unclear"), tool="rob2",
                               domains=list(DOMAINS["rob2"]), domain_labels=DOMAINS["rob2"])
