"""Plots: assert on what was drawn (STYLE.md 2.6), never on image baselines.

Each figure is drawn with the Agg canvas into memory. `drawn_texts` records every text
that is actually drawn (with its font size), so the slide rule "at least 18 pt" is
checked on what a viewer sees, including tick labels and legends.
"""

from __future__ import annotations

import ast
import io
import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

from analysis.present import plotting as P

NBSP = "\u00a0"
SLIDE = (13.333, 7.5)

# ---------------------------------------------------------------- fixtures

IDS = ["anyaegbu2014", "kable2017", "sener2006", "vu2015", "peds2012", "case2024"]
LABELS = {"anyaegbu2014": "Anyaegbu 2014", "kable2017": "Kable 2017",
          "sener2006": "Series 2006", "vu2015": "Series 2015", "peds2012": "Peds series 2012",
          "case2024": "Case report 2024"}
DESIGNS = {"anyaegbu2014": "case series", "kable2017": "retro. cohort",
           "sener2006": "case series", "vu2015": "case series", "peds2012": "case series",
           "case2024": "case report"}
EVENTS = [3, 20, 7, 27, 0, 1]  # includes a study at 0% and one at 100%
N = [4, 50, 8, 30, 4, 1]
CI = [(0.194, 0.994), (0.264, 0.548), (0.473, 0.997), (0.735, 0.979), (0.0, 0.602),
      (0.025, 1.0)]


def pooled_dict(*, weights=None, pi=(0.069, 0.984), k=6, tau2=2.34, i2=79.4):
    """A PooledProportion.to_dict()-shaped dict (GLMM when weights is None)."""
    studies = []
    for j in range(k):
        i = j % 6
        studies.append({
            "study_id": IDS[i] if k <= 6 else f"s{j:02d}", "events": EVENTS[i], "n": N[i],
            "proportion": EVENTS[i] / N[i], "ci_low": CI[i][0], "ci_high": CI[i][1],
            "weight": None if weights is None else weights[j],
        })
    return {
        "estimate": 0.679, "ci_low": 0.32, "ci_high": 0.905,
        "pi_low": None if pi is None else pi[0], "pi_high": None if pi is None else pi[1],
        "tau2": tau2, "i2": i2, "k": k, "label": "GLMM logit (ML, AGHQ 7)",
        "methods": {"model": "glmm", "study_ci_method": "clopper-pearson"},
        "warnings": [], "studies": studies,
    }


WEIGHTS = [14.7, 26.1, 15.8, 22.2, 11.2, 10.0]


def sensitivity_rows():
    nan = float("nan")
    return pd.DataFrame([
        {"label": "GLMM logit (ML, AGHQ 7)", "group": "Method", "estimate": 0.78, "ci_low": 0.45,
             "ci_high": 0.94, "pi_low": 0.12, "pi_high": 0.99, "k": 6, "primary": True},
        {"label": "RE logit, REML", "group": "Method", "estimate": 0.74, "ci_low": 0.41,
             "ci_high": 0.92, "pi_low": 0.10, "pi_high": 0.99, "k": 6, "primary": False},
        {"label": "RE raw, DL", "group": "Method", "estimate": 0.70, "ci_low": 0.38, "ci_high": 1.0,
             "pi_low": nan, "pi_high": nan, "k": 6, "primary": False},
        {"label": "Cited studies only", "group": "Scenario", "estimate": 0.85, "ci_low": 0.62,
             "ci_high": 0.95, "pi_low": nan, "pi_high": nan, "k": 3, "primary": False},
        {"label": "Without case reports", "group": "Scenario", "estimate": 0.0, "ci_low": 0.0,
             "ci_high": 0.30, "pi_low": nan, "pi_high": nan, "k": 5, "primary": False},
    ])


def loo_rows():
    return pd.DataFrame({"omitted": IDS, "estimate": [0.75, 0.80, 0.76, 0.70, 0.85, 0.77],
                             "ci_low": [0.40, 0.50, 0.42, 0.35, 0.60, 0.44],
                             "ci_high": [0.93, 0.95, 0.93, 0.91, 0.96, 0.94]})


FULL = {"estimate": 0.78, "ci_low": 0.45, "ci_high": 0.94}


def viral_loads():
    rows = [("case2024", "p1", 3, 7.0e4, "eq", "individual"),
            ("case2024", "p1", 22, 1.0e6, "gt", "individual"),
            ("case2024", "p1", 52, 5.5e3, "eq", "individual"),
            ("case2024", "p1", float("nan"), 2.0e6, "gt", "individual"),  # no time: skipped
            ("anyaegbu2014", "p2", 0, 3.2e5, "eq", "individual"),
            ("anyaegbu2014", "p2", 6, 500, "lt", "individual"),
            ("anyaegbu2014", "p2", 2, 8.0e4, "eq", "individual"),
            ("vu2015", "", 0, 2.05e5, "eq", "mean"),
            ("vu2015", "", 12, 697, "eq", "mean")]
    return pd.DataFrame(rows, columns=["study_id", "patient_id", "time_months",
                                       "copies_per_ml", "bound", "statistic"])


def appraisal():
    answers = {
        "vu2015": ["yes", "unclear", "yes", "no", "not_applicable", "not_applicable", "yes",
                   "no"],
        "case2024": ["unclear", "yes", "yes", "no", "unclear", "not_applicable", "yes",
                     "unclear"],
        "peds2012": ["unclear", "yes", "unclear", "no", "not_applicable", "not_applicable",
                     "unclear", "unclear"],
    }
    domain = {"q1": "selection", "q2": "ascertainment", "q3": "ascertainment",
              "q4": "causality", "q5": "causality", "q6": "causality", "q7": "causality",
              "q8": "reporting"}
    rows = [(sid, f"q{j + 1}", domain[f"q{j + 1}"], a) for sid, ans in answers.items()
            for j, a in enumerate(ans)]
    return pd.DataFrame(rows, columns=["study_id", "item", "domain", "answer"])


COUNTS = {
    "identified": 336, "by_source": {"PubMed": 120, "Embase": 98, "Web pages": 118},
    "duplicates": 4, "screened": 332, "excluded_screening": 290, "sought": 42, "not_retrieved": 3,
    "assessed": 39, "excluded_full_text": 33,
    "exclusion_reasons": {"not_ivig": 17, "review_or_editorial": 9, "not_bk": 1,
                       "other:uncited_ivig_bk_study_listed_in_staging_cited_uncited_seen": 6},
    "studies_included": 6, "reports_included": 7,
    "included_notes": ["of which pooled for viremia clearance: 4"],
}


def evidence_studies():
    return pd.DataFrame([
        {"study_id": "kable2017", "label": "Kable 2017", "design": "retrospective_cohort", "n": 50,
             "outcomes": "viremia_clearance;graft_loss", "verification": "full_text",
             "role": "treatment"},
        {"study_id": "vu2015", "label": "Series 2015", "design": "case_series", "n": 30,
             "outcomes": "viremia_clearance;graft_survival",
             "verification": "claimed_by_answer_only", "role": "treatment"},
        {"study_id": "case2024", "label": "Case report 2024", "design": "case_report", "n": 1,
             "outcomes": "viremia_clearance", "verification": "abstract", "role": "treatment"},
        {"study_id": "harm2014", "label": "Harm case 2014", "design": "case_report", "n": np.nan,
             "outcomes": "adverse_event", "verification": "not_found", "role": "harm"},
        {"study_id": "peds2012", "label": "Peds series 2012", "design": "case_series", "n": 4,
             "outcomes": "viremia_clearance;histologic_resolution", "verification": "abstract",
             "role": "treatment"},
    ])


VERDICT_CYCLE = ["supported", "partly_supported", "discrepant", "unverifiable",
                 "discrepant"]


def claims(n=50):
    return pd.DataFrame({
        "claim_id": [f"c{i + 1:02d}" for i in range(n)],
        "short": [f"Claim number {i + 1} about IVIG and BK viremia clearance" for i in range(n)],
        "verdict": [VERDICT_CYCLE[i % 5] for i in range(n)]})


def calibration_rows():
    rows = []
    for i, m in enumerate(["GLMM", "RE logit REML", "RE logit DL"]):
        for j, sc in enumerate(["k=5", "k=10"]):
            for itv in ("ci", "pi"):
                cov = 0.95 - 0.03 * i - 0.02 * j
                rows.append({"method": m, "scenario": sc, "interval": itv, "coverage": cov,
                                 "mcse": math.sqrt(cov * (1 - cov) / 1000), "median_width": 0.3})
    return pd.DataFrame(rows)


def tau_curves():
    """Two priors, the first also under the normal likelihood (hand-made shapes)."""
    tau = np.linspace(0.0, 2.5, 51)
    hn05 = np.sqrt(2 / np.pi) / 0.5 * np.exp(-0.5 * (tau / 0.5) ** 2)
    hc05 = 2 / (np.pi * 0.5 * (1 + (tau / 0.5) ** 2))
    rows = [("half-normal(0.5)", "binomial", 1.1 * hn05 * np.exp(-0.2 * tau), hn05),
            ("half-Cauchy(0.5)", "binomial", 0.9 * hc05, hc05),
            ("half-normal(0.5)", "normal", hn05, hn05)]
    return pd.concat([pd.DataFrame({"prior": p, "likelihood": lk, "tau": tau, "posterior": post,
                                    "prior_density": prior}) for p, lk, post, prior in rows],
                     ignore_index=True)


# Every function, called with realistic data, for the generic (style) tests.
CALLS = {
    "forest_plot": lambda style: P.forest_plot(pooled_dict(weights=WEIGHTS), labels=LABELS,
                                               designs=DESIGNS, title="Viremia clearance",
                                               style=style),
    "sensitivity_plot": lambda style: P.sensitivity_plot(sensitivity_rows(), title="Sens",
                                                         style=style),
    "leave_one_out_plot": lambda style: P.leave_one_out_plot(loo_rows(), full=FULL,
                                                             labels=LABELS, title="LOO",
                                                             style=style),
    "viral_load_plot": lambda style: P.viral_load_plot(viral_loads(), labels=LABELS,
                                                       lloq=500, title="VL", style=style),
    "rob_traffic_light": lambda style: P.rob_traffic_light(appraisal(), labels=LABELS,
                                                           title="RoB", style=style),
    "prisma_flow": lambda style: P.prisma_flow(COUNTS, style=style),
    "evidence_map": lambda style: P.evidence_map(evidence_studies(), style=style),
    "claims_audit_plot": lambda style: P.claims_audit_plot(claims(), style=style),
    "calibration_plot": lambda style: P.calibration_plot(calibration_rows(), style=style),
    "tau_posterior_plot": lambda style: P.tau_posterior_plot(tau_curves(), title="Tau",
                                                             style=style),
}


# ---------------------------------------------------------------- helpers


def drawn_texts(fig: Figure) -> list[tuple[str, float]]:
    """(text, font size) of every non-empty text actually drawn when the figure renders."""
    seen: dict[int, tuple[str, float]] = {}  # a layout pass may draw a text twice
    original = Text.draw

    def spy(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen[id(self)] = (self.get_text().replace(NBSP, " "), self.get_fontsize())
        return original(self, renderer)

    Text.draw = spy
    try:
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    finally:
        Text.draw = original
    return list(seen.values())


def strings(fig: Figure) -> list[str]:
    return [t for t, _ in drawn_texts(fig)]


def by_gid(fig: Figure, gid: str) -> list:
    return list(fig.findobj(lambda a: a.get_gid() == gid))


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


def vertical_lines(ax) -> list[Line2D]:
    out = []
    for line in ax.lines:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        if x.size >= 2 and np.all(x == x[0]) and np.ptp(y) > 0:
            out.append(line)
    return out


# ---------------------------------------------------------------- generic


@pytest.mark.parametrize("name", sorted(CALLS))
def test_slide_figures_are_16_to_9_with_type_of_at_least_18_pt(name):
    fig = CALLS[name]("slide")
    np.testing.assert_allclose(fig.get_size_inches(), SLIDE, rtol=0, atol=1e-9)
    texts = drawn_texts(fig)
    assert texts, "nothing was drawn"
    small = [(t, s) for t, s in texts if s < 18]
    assert not small, f"{name}: texts below 18 pt on a slide: {small[:5]}"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_report_figures_fit_a_page_with_9_to_11_pt_type(name):
    fig = CALLS[name]("report")
    w, h = fig.get_size_inches()
    assert 7.5 <= w <= 9.5
    assert h > 1.5
    sizes = [s for _, s in drawn_texts(fig)]
    assert min(sizes) >= 9, min(sizes)
    assert max(sizes) <= 11, max(sizes)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_figures_are_deterministic(name):
    assert png_bytes(CALLS[name]("report")) == png_bytes(CALLS[name]("report"))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_unknown_style_is_rejected(name):
    with pytest.raises(ValueError, match='style must be one of "report", "slide"'):
        CALLS[name]("poster")


ON_AXES = {
    "sensitivity_plot": lambda ax: P.sensitivity_plot(sensitivity_rows(), ax=ax),
    "leave_one_out_plot": lambda ax: P.leave_one_out_plot(loo_rows(), full=FULL, ax=ax),
    "viral_load_plot": lambda ax: P.viral_load_plot(viral_loads(), ax=ax),
    "rob_traffic_light": lambda ax: P.rob_traffic_light(appraisal(), ax=ax),
    "prisma_flow": lambda ax: P.prisma_flow(COUNTS, ax=ax),
    "evidence_map": lambda ax: P.evidence_map(evidence_studies(), ax=ax),
    "tau_posterior_plot": lambda ax: P.tau_posterior_plot(tau_curves(), ax=ax),
}


@pytest.mark.parametrize("name", sorted(ON_AXES))
def test_draws_on_a_given_axes_and_returns_its_figure(name):
    fig = Figure(figsize=(8.5, 9))
    ax = fig.add_axes((0.3, 0.25, 0.5, 0.65))
    before = len(ax.get_children())
    assert ON_AXES[name](ax) is fig
    assert len(ax.get_children()) > before
    assert fig.get_size_inches().tolist() == [8.5, 9]


def test_multi_panel_plots_draw_on_given_axes():
    fig = Figure(figsize=(9, 12))
    bar_ax, list_ax = fig.add_axes((0.05, 0.9, 0.9, 0.05)), fig.add_axes((0.05, 0.05, 0.9, 0.8))
    assert P.claims_audit_plot(claims(20), ax=(bar_ax, list_ax)) is fig
    assert len(by_gid(fig, "chip")) == 20
    fig2 = Figure(figsize=(9, 4))
    axes = fig2.subplots(1, 2)
    assert P.calibration_plot(calibration_rows(), ax=list(axes)) is fig2
    with pytest.raises(ValueError, match="need 2 axes"):
        P.calibration_plot(calibration_rows(), ax=axes[0])


def test_plotting_imports_only_numpy_pandas_matplotlib_and_layer_0():
    paths = [ROOT / "analysis" / "present" / "plotting.py",
             *(ROOT / "analysis" / "present" / "plotting").glob("*.py")]
    external, internal = set(), set()
    for node in (n for path in paths if path.is_file()
                 for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))):
        if isinstance(node, ast.Import):
            external.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                internal.add((node.module or "").split(".")[-1])
            else:
                external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Attribute):
            assert node.attr not in {"savefig", "show"}, "plotting must never save or show"
    assert external <= {"__future__", "functools", "math", "re", "collections", "typing", "numpy",
                        "pandas", "matplotlib"}, external
    # the engine's vocabulary and result types, and plotting's own sibling modules
    assert internal <= {"results", "_validation", "", "_base", "_text"} | {
        p.stem for p in (ROOT / "analysis" / "present" / "plotting").glob("*.py")}, internal


def test_importing_plotting_does_not_touch_pyplot():
    code = "import sys, analysis.present.plotting; print('matplotlib.pyplot' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, cwd=ROOT)
    assert r.stdout.strip() == "False"


NAN = float("nan")


def _with(df, **cells):
    """A copy of ``df`` with row 0 of each named column set (object dtype, so None fits)."""
    df = df.astype(object)
    for col, value in cells.items():
        df.loc[0, col] = value
    return df


# Missing values in every field a figure prints: none may print as "nan" (or "None").
MISSING = {
    "forest_plot": lambda: P.forest_plot(
        {**pooled_dict(), "estimate": None, "ci_low": None, "ci_high": None, "label": NAN,
         "k": None, "studies": [{**pooled_dict()["studies"][0], "proportion": NAN}]},
        labels={IDS[0]: NAN}, designs={IDS[0]: None}),
    "sensitivity_plot": lambda: P.sensitivity_plot(_with(
        sensitivity_rows(), label=NAN, estimate=NAN, ci_low=NAN, ci_high=NAN, k=NAN)),
    "leave_one_out_plot": lambda: P.leave_one_out_plot(
        _with(loo_rows(), estimate=NAN), full={"estimate": 0.7, "ci_low": None, "ci_high": None},
        labels={IDS[1]: NAN}),
    "viral_load_plot": lambda: P.viral_load_plot(
        _with(viral_loads(), statistic=NAN, copies_per_ml=NAN), labels={"case2024": NAN}),
    "rob_traffic_light": lambda: P.rob_traffic_light(_with(appraisal(), answer=NAN),
                                                     labels={"vu2015": NAN}),
    "prisma_flow": lambda: P.prisma_flow({**COUNTS, "duplicates": NAN,
                                          "exclusion_reasons": {"not_ivig": NAN}}),
    "evidence_map": lambda: P.evidence_map(_with(evidence_studies(), label=NAN, design=NAN)),
    "claims_audit_plot": lambda: P.claims_audit_plot(_with(claims(5), short=NAN, claim_id=None)),
    "calibration_plot": lambda: P.calibration_plot(
        calibration_rows().assign(coverage=NAN, method=[NAN] * 12)),
    "tau_posterior_plot": lambda: P.tau_posterior_plot(tau_curves().assign(prior=NAN)),
}


@pytest.mark.parametrize("name", sorted(MISSING))
def test_missing_values_print_as_n_a_never_nan(name):
    fig = MISSING[name]()
    texts = strings(fig)
    assert texts
    printed = [t for t in texts if re.search(r"\b(nan|None)\b", t, flags=re.IGNORECASE)]
    assert not printed, printed


# ---------------------------------------------------------------- forest


def test_forest_plot_draws_one_ci_line_and_marker_per_study():
    fig = P.forest_plot(pooled_dict(weights=WEIGHTS), labels=LABELS, designs=DESIGNS)
    assert len(by_gid(fig, "study-ci")) == 6
    (points,) = by_gid(fig, "study-points")
    assert len(points.get_offsets()) == 6
    texts = strings(fig)
    for lab in LABELS.values():
        assert lab in texts
    assert "case report" in texts
    assert "Design" in texts
    assert "0.0 (0.0\u201360.2)" in texts
    assert "100.0 (2.5\u2013100.0)" in texts
    assert len(by_gid(fig, "pooled-diamond")) == 1
    assert "Pooled (GLMM logit (ML, AGHQ 7))" in texts or "Pooled" in texts


def test_forest_plot_x_limits_contain_every_ci():
    fig = P.forest_plot(pooled_dict(weights=WEIGHTS), labels=LABELS)
    lo, hi = fig.axes[0].get_xlim()
    for line in by_gid(fig, "study-ci"):
        x = line.get_xdata()
        assert lo <= min(x)
        assert max(x) <= hi
    assert lo <= 0
    assert hi >= 100


def test_forest_plot_without_weights_prints_na_and_equal_markers():
    fig = P.forest_plot(pooled_dict(weights=None), labels=LABELS)
    texts = strings(fig)
    assert texts.count("n/a") == 6
    (points,) = by_gid(fig, "study-points")
    assert np.ptp(points.get_sizes()) == 0


def test_forest_plot_marker_area_follows_weight():
    fig = P.forest_plot(pooled_dict(weights=WEIGHTS), labels=LABELS)
    (points,) = by_gid(fig, "study-points")
    assert list(np.argsort(points.get_sizes())) == list(np.argsort(WEIGHTS))
    texts = strings(fig)
    assert "26.1%" in texts
    assert "n/a" not in texts
    assert "100%" in texts


def test_forest_plot_has_no_line_of_no_effect():
    fig = P.forest_plot(pooled_dict(weights=WEIGHTS), labels=LABELS)
    ax = fig.axes[0]
    assert vertical_lines(ax) == []
    for line in ax.lines:  # nothing drawn at the 0 % or 50 % "null"
        assert not (np.all(np.asarray(line.get_xdata()) == 50.0))


def test_forest_plot_draws_prediction_bar_only_when_given():
    fig = P.forest_plot(pooled_dict(weights=WEIGHTS), labels=LABELS)
    (bar,) = by_gid(fig, "prediction-interval")
    np.testing.assert_allclose([bar.get_x(), bar.get_x() + bar.get_width()], [6.9, 98.4],
                               rtol=0, atol=1e-9)
    assert "Prediction interval" in strings(fig)
    fig2 = P.forest_plot(pooled_dict(weights=WEIGHTS, pi=None), labels=LABELS)
    assert by_gid(fig2, "prediction-interval") == []
    assert "Prediction interval" not in strings(fig2)


def test_forest_plot_footer_skips_missing_heterogeneity():
    texts = strings(P.forest_plot(pooled_dict(), labels=LABELS))
    assert "Heterogeneity: \u03c4\u00b2 = 2.34; I\u00b2 = 79.4%; k = 6" in texts
    one = pooled_dict(k=1, tau2=None, i2=None, pi=None)
    texts = strings(P.forest_plot(one, labels=LABELS))
    assert "Heterogeneity: k = 1" in texts
    assert "Anyaegbu 2014" in texts


def test_forest_plot_height_grows_linearly_with_k():
    h = [P.forest_plot(pooled_dict(k=k)).get_figheight() for k in (10, 20, 30)]
    assert h[0] < h[1] < h[2]
    np.testing.assert_allclose(h[2] - h[1], h[1] - h[0], rtol=0, atol=1e-9)
    k1 = P.forest_plot(pooled_dict(k=1, pi=None))
    assert k1.get_figheight() < h[0]


def test_forest_plot_draws_on_a_given_axes():
    fig = Figure(figsize=(9, 4))
    ax = fig.add_axes((0.4, 0.3, 0.3, 0.6))
    out = P.forest_plot(pooled_dict(weights=WEIGHTS), labels=LABELS, ax=ax)
    assert out is fig
    assert len(by_gid(fig, "study-ci")) == 6


def test_forest_plot_refuses_a_slide_it_cannot_fit():
    with pytest.raises(ValueError, match="do not fit on a 16:9 slide"):
        P.forest_plot(pooled_dict(k=30), style="slide")


def test_forest_plot_rejects_empty_studies():
    with pytest.raises(ValueError, match="empty"):
        P.forest_plot({**pooled_dict(), "studies": []})


# ---------------------------------------------------------------- sensitivity / LOO


def test_sensitivity_plot_rows_groups_intervals_and_primary_line():
    rows = sensitivity_rows()
    fig = P.sensitivity_plot(rows)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["Method", *rows.label[:3], "Scenario", *rows.label[3:]]
    bold = {t.get_text(): t.get_fontweight() for t in ax.get_yticklabels()}
    assert bold["Method"] == "bold"
    assert bold["GLMM logit (ML, AGHQ 7)"] == "bold"
    assert len(by_gid(fig, "ci")) == 5
    assert len(by_gid(fig, "pi")) == 2  # NaN prediction intervals are not drawn
    (prim,) = by_gid(fig, "primary-line")
    assert prim.get_xdata()[0] == pytest.approx(78.0, abs=1e-9)
    assert prim.get_linestyle() == "--"
    texts = strings(fig)
    assert "primary" in texts
    assert "78% (45\u201394), k = 6" in texts
    lo, hi = ax.get_xlim()
    assert lo <= 0
    assert hi >= 100


def test_sensitivity_plot_requires_its_columns():
    with pytest.raises(ValueError, match="missing column"):
        P.sensitivity_plot(sensitivity_rows().drop(columns=["primary"]))


def test_leave_one_out_plot_rows_band_and_all_studies_row():
    fig = P.leave_one_out_plot(loo_rows(), full=FULL, labels=LABELS)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == [f"Omitting {LABELS[s]}" for s in IDS] + ["All studies"]
    assert len(by_gid(fig, "ci")) == 6
    assert len(by_gid(fig, "pooled-diamond")) == 1
    (band,) = by_gid(fig, "full-ci-band")
    np.testing.assert_allclose([band.get_x(), band.get_x() + band.get_width()], [45.0, 94.0],
                               rtol=0, atol=1e-9)
    assert "78.0 (45.0\u201394.0)" in strings(fig)


# ---------------------------------------------------------------- viral loads


def test_viral_load_plot_log_axis_bounds_and_skipped_rows():
    fig = P.viral_load_plot(viral_loads(), labels=LABELS, lloq=500, ylabel="BK viral load (copies/mL)")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "BK viral load (copies/mL)"  # the virus is the caller's word
    assert P.viral_load_plot(viral_loads()).axes[0].get_ylabel() == "Viral load (copies/mL)"
    assert len(by_gid(fig, "series")) == 3  # case p1, anyaegbu p2, vu mean
    n_points = sum(len(ln.get_xdata()) for g in ("points-eq", "points-gt", "points-lt")
                   for ln in by_gid(fig, g))
    assert n_points == 8  # the row without a time is skipped
    (gt,) = by_gid(fig, "points-gt")
    (lt,) = by_gid(fig, "points-lt")
    assert gt.get_marker() == "^"
    assert lt.get_marker() == "v"
    assert list(gt.get_xdata()) == [22]
    series = {ln.get_linestyle() for ln in by_gid(fig, "series")}
    assert series == {"-", "--"}
    (mean,) = [ln for ln in by_gid(fig, "series") if ln.get_linestyle() == "--"]
    assert list(mean.get_xdata()) == [0, 12]
    case = next(ln for ln in by_gid(fig, "series") if 52 in list(ln.get_xdata()))
    assert list(case.get_xdata()) == [3, 22, 52]  # sorted by time
    texts = strings(fig)
    assert "Series 2015 (mean)" in texts
    assert "Case report 2024, patient p1" in texts
    assert "LLOQ 500 copies/mL" in texts
    assert by_gid(fig, "lloq")


def test_viral_load_plot_legend_does_not_cover_the_data():
    fig = P.viral_load_plot(viral_loads(), labels=LABELS)
    png_bytes(fig)  # lay out
    renderer = fig._get_renderer()
    ax_box = fig.axes[0].get_window_extent(renderer)
    (legend,) = fig.legends
    assert legend.get_window_extent(renderer).y1 <= ax_box.y0
    assert by_gid(fig, "lloq") == []


def test_viral_load_plot_rejects_unknown_bound():
    bad = viral_loads().assign(bound="approx")
    with pytest.raises(ValueError, match="bound must be eq, gt or lt"):
        P.viral_load_plot(bad)


# ---------------------------------------------------------------- risk of bias


def test_rob_traffic_light_one_symbol_per_judgement():
    data = appraisal()
    fig = P.rob_traffic_light(data, labels=LABELS)
    ax = fig.axes[0]
    counts = data.answer.value_counts()
    for answer in counts.index:
        (pts,) = by_gid(fig, f"rob-{answer}")
        assert len(pts.get_offsets()) == counts[answer]
    texts = strings(fig)
    assert texts.count("+") == counts["yes"]
    assert "+  yes" in texts
    assert "\u2212  no" in texts
    assert texts.count("?") == counts["unclear"]
    assert texts.count("NA") == counts["not_applicable"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Series 2015", "Case report 2024", "Peds series 2012"]
    items = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
    assert [i.split(" ")[0] for i in items] == [f"Q{j}" for j in range(1, 9)]
    for head in ("Selection", "Ascertainment", "Causality", "Reporting"):
        assert head in texts
    assert any("not applicable" in t for t in texts)


def test_rob_traffic_light_rejects_unknown_answer():
    bad = appraisal().assign(answer="maybe")
    with pytest.raises(ValueError, match="unknown answer"):
        P.rob_traffic_light(bad)


# ---------------------------------------------------------------- PRISMA


def test_prisma_flow_prints_every_count_and_reason():
    fig = P.prisma_flow(COUNTS)
    text = "\n".join(strings(fig))
    for line in ("Records identified (n = 336)", "PubMed (n = 120)",
                 "Duplicate records removed (n = 4)", "Records screened (n = 332)",
                 "Records excluded (n = 290)", "Reports sought for retrieval (n = 42)",
                 "Reports not retrieved (n = 3)", "Reports assessed for eligibility (n = 39)",
                 "Reports excluded (n = 33):", "not ivig (n = 17)",
                 "Studies included in review (n = 6)", "Reports of included studies (n = 7)",
                 "of which pooled for viremia clearance: 4", "Identification", "Screening",
                 "Included"):
        assert line in text, line
    arrows = [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 8  # four down the main column, four to the side boxes


@pytest.mark.parametrize("style", ["report", "slide"])
def test_prisma_flow_text_stays_inside_its_box(style):
    fig = P.prisma_flow(COUNTS, style=style)
    png_bytes(fig)
    renderer = fig._get_renderer()
    boxes = [p.get_window_extent(renderer) for p in fig.axes[0].patches
             if isinstance(p, FancyBboxPatch) and str(p.get_gid()).startswith(("main", "side"))]
    texts = [t for t in fig.axes[0].texts if t.get_gid() == "box-text"]
    assert len(boxes) == 9
    assert texts
    for t in texts:
        e = t.get_window_extent(renderer)
        assert any(b.x0 <= e.x0 and e.x1 <= b.x1 and b.y0 <= e.y0 and e.y1 <= b.y1
                   for b in boxes), t.get_text()


def test_prisma_flow_names_a_missing_count():
    counts = {k: v for k, v in COUNTS.items() if k != "sought"}
    with pytest.raises(ValueError, match="missing sought"):
        P.prisma_flow(counts)


# ---------------------------------------------------------------- evidence map


def test_evidence_map_one_bubble_per_study_outcome_with_area_by_n():
    data = evidence_studies()
    fig = P.evidence_map(data)
    ax = fig.axes[0]
    bubbles = by_gid(fig, "bubble")
    assert len(bubbles) == sum(len(o.split(";")) for o in data.outcomes)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    # sorted by design (cohort, series, reports), then in the order given
    assert ticks == ["Kable 2017", "Series 2015", "Peds series 2012", "Case report 2024",
                     "Harm case 2014 [harm]"]
    x_labels = [t.get_text() for t in ax.get_xticklabels()]
    assert x_labels[0] == "viremia clearance"
    assert "adverse event" in x_labels
    kable = [b for b in bubbles if b.get_offsets()[0][1] == 0]
    peds = [b for b in bubbles if b.get_offsets()[0][1] == 2]
    ratio = kable[0].get_sizes()[0] / peds[0].get_sizes()[0]
    assert ratio == pytest.approx(50 / 4, rel=1e-12)
    vu = [b for b in bubbles if b.get_offsets()[0][1] == 1]
    assert all(b.get_facecolors().shape[0] == 0 or b.get_facecolors()[0][3] == 0 for b in vu)
    assert kable[0].get_facecolors()[0][3] > 0
    texts = strings(fig)
    assert "Patients (n)" in texts
    assert "answer only / not found" in texts


def test_evidence_map_names_outcomes_by_the_labels_given():
    data = evidence_studies()
    fig = P.evidence_map(data, outcome_labels={"viremia_clearance": "BK viremia clearance"})
    x_labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert x_labels[0] == "BK viremia clearance"  # not "bk viremia clearance"
    assert "adverse event" in x_labels  # no label given: the name, spaced


# ---------------------------------------------------------------- claims audit


def test_claims_audit_report_lists_every_claim_with_a_chip():
    data = claims(50)
    fig = P.claims_audit_plot(data)
    assert len(by_gid(fig, "chip")) == 50
    claim_texts = [t.get_text() for t in fig.findobj(Text) if t.get_gid() == "claim-text"]
    assert len(claim_texts) == 50
    texts = strings(fig)
    for cid in ("c01", "c25", "c50"):
        assert cid in texts
    counts = data.verdict.value_counts()
    assert f"discrepant ({counts['discrepant']})" in texts
    widths = {v: sum(p.get_width() for p in by_gid(fig, f"bar-{v}")) for v in counts.index}
    assert widths == {v: counts[v] for v in counts.index}
    assert fig.get_figheight() > 8  # tall, so 50 rows stay readable


def test_claims_audit_cuts_long_claims_visibly_and_keeps_them_whole(tmp_path):
    from analysis.present.figures import save_figure

    long = "A claim long enough that it cannot fit on one row of the figure, " * 3
    fig = P.claims_audit_plot(claims(3).assign(short=[long, "Short claim", long]))
    texts = [t for t in fig.findobj(Text) if t.get_gid() == "claim-text"]
    assert texts[0].get_text().endswith("\u2026")  # cut, and the cut shows
    assert long.startswith(texts[0].get_text()[:-1])
    assert texts[0].get_label() == long  # the whole claim stays with the text
    assert texts[1].get_text() == "Short claim"
    save_figure(fig, tmp_path / "audit.svg", title="t", caption="c")
    svg = (tmp_path / "audit.svg").read_text(encoding="utf-8")
    assert svg.count(f"<title>{long}</title>") == 2  # the tooltip of each cut claim
    assert [t.get_gid() for t in texts] == ["claim-text"] * 3  # saving changed no gid


def test_claims_audit_slide_shows_top_ten_flagged_claims():
    data = claims(50)
    fig = P.claims_audit_plot(data, style="slide")
    chips = by_gid(fig, "chip")
    assert len(chips) == 10
    texts = strings(fig)
    shown = [t for t in texts if t in set(data.claim_id)]
    flagged = data[data.verdict.isin(["discrepant", "partly_supported"])]
    expected = list(flagged[flagged.verdict == "discrepant"].claim_id)[:10]
    assert shown == expected


def test_claims_audit_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="unknown verdict"):
        P.claims_audit_plot(claims(3).assign(verdict="true"))


# ---------------------------------------------------------------- calibration


def test_calibration_plot_panels_points_and_nominal_line():
    rows = calibration_rows()
    fig = P.calibration_plot(rows, nominal=0.95)
    panels = [a for a in fig.axes if a.get_title(loc="left")]
    assert [a.get_title(loc="left") for a in panels] == ["Confidence interval",
                                                          "Prediction interval"]
    for a in panels:
        (nom,) = [ln for ln in a.lines if ln.get_gid() == "nominal"]
        assert nom.get_xdata()[0] == pytest.approx(95.0, abs=1e-9)
        pts = [ln for ln in a.lines if str(ln.get_gid()).startswith("scenario")]
        assert sum(len(ln.get_xdata()) for ln in pts) == 6  # 3 methods x 2 scenarios
        lo, hi = a.get_xlim()
        assert lo <= 100 * (rows.coverage - 1.96 * rows.mcse).min()
        assert hi >= 100
    assert [t.get_text() for t in panels[0].get_yticklabels()] == [
        "GLMM", "RE logit REML", "RE logit DL"]
    texts = strings(fig)
    assert "k=5" in texts
    assert "k=10" in texts
    assert "nominal 95%" in texts


def test_calibration_plot_rejects_unknown_interval():
    with pytest.raises(ValueError, match="interval must be"):
        P.calibration_plot(calibration_rows().assign(interval="ti"))


def test_tau_posterior_plot_one_line_per_curve_and_faint_priors():
    curves = tau_curves()
    fig = P.tau_posterior_plot(curves)
    (ax,) = fig.axes
    binomial = by_gid(fig, "posterior-binomial")
    normal = by_gid(fig, "posterior-normal")
    priors = by_gid(fig, "prior")
    assert (len(binomial), len(normal), len(priors)) == (2, 1, 2)  # one prior line per prior
    assert all(p.get_alpha() < 1 for p in priors)
    assert all(p.get_alpha() is None for p in binomial + normal)
    assert normal[0].get_linestyle() == "--"
    assert binomial[0].get_color() == priors[0].get_color() != binomial[1].get_color()
    first = curves[(curves.prior == "half-normal(0.5)") & (curves.likelihood == "binomial")]
    np.testing.assert_array_equal(binomial[0].get_ydata(), first.posterior.to_numpy())
    assert ax.get_xlim() == (0.0, 2.5)
    assert ax.get_ylim()[1] >= curves[["posterior", "prior_density"]].to_numpy().max()
    texts = strings(fig)
    for text in ("\u03c4 ~ half-normal(0.5)", "\u03c4 ~ half-Cauchy(0.5)",
                 "\u03c4 ~ half-normal(0.5), normal-normal model", "prior densities (faint)"):
        assert text in texts
    assert any(t.startswith("\u03c4, between-study SD") for t in texts)
    assert "Density" in texts


def test_tau_posterior_plot_rejects_empty_or_unknown_likelihood():
    with pytest.raises(ValueError, match="curves is empty"):
        P.tau_posterior_plot(tau_curves().iloc[:0])
    with pytest.raises(ValueError, match="likelihood must be"):
        P.tau_posterior_plot(tau_curves().assign(likelihood="poisson"))
    with pytest.raises(ValueError, match="missing column"):
        P.tau_posterior_plot(tau_curves().drop(columns="prior_density"))
