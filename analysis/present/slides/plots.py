"""The figure slides: forest plots, how the answer moves, and the claims audit, drawn by
``analysis.present.plotting`` in its slide style between the slide's title and footer."""

from __future__ import annotations

import pandas as pd

from ..figures import labels_and_designs
from ._layout import (
    FOOT_BAND,
    MARGIN,
    SLIDE_H,
    SLIDE_W,
    TOP_BAND,
    _embed_report_figure,
    _line,
    _new_slide,
)

# Rows of the "how the answer moves" slide (at most ~12 fit in slide type): one method of
# each family, keyed on the methods' stable ids in results.json (the primary method's row is
# marked), then the scenarios that change verification, setting or overlap choice.
SLIDE_METHODS = {
    "glmm-t": "GLMM, t intervals",
    "glmm-z": "GLMM, normal intervals",
    "re-logit-reml": "Inverse variance, logit, REML",
    "re-ft-reml": "Inverse variance, Freeman-Tukey, REML",
    "ce-logit": "Common effect, logit",
    "bayes-binomial-hn05": "Bayesian binomial-normal, half-normal(0.5)",
}
SLIDE_SCENARIOS = {
    "Cited studies, numbers as the answer claims them": "The answer's own numbers (unverified)",
    "Counts as printed (no counts computed from percentages)": "Only counts printed in the source",
    "Without conference abstracts": "Without conference abstracts",
    "Without single-patient case reports": "Without single-patient case reports",
    "Biopsy-proven BKVN only": "Biopsy-proven BKVN only",
    "Overlap choice:": "Overlap: the cohort's other report",
}


def _forest(results: dict, outcome: str):
    """The slide-style forest plot between title and footer (report style as an image if it
    cannot fit in slide type).

    Drawn twice: once on its own canvas, to learn the column widths the plotting function
    chooses, then into an axes placed with those widths plus the slide's side margins (its
    text columns sit at fixed offsets from the panel, so they keep their spacing)."""
    from matplotlib.text import Text

    from .. import plotting

    labels, designs = labels_and_designs(results)
    pooled = results["outcomes"][outcome]["primary"]
    try:
        probe = plotting.forest_plot(pooled, labels=labels, designs=designs, style="slide")
        if probe.get_figheight() > SLIDE_H - TOP_BAND - FOOT_BAND:  # its rows would overlap when squeezed
            raise ValueError("forest_plot: too many studies for slide type")
    except ValueError:
        slide = _new_slide()
        _embed_report_figure(slide, plotting.forest_plot(pooled, labels=labels, designs=designs))
        return slide
    pos = probe.axes[0].get_position()
    width = probe.get_figwidth()
    left, right = pos.x0 * width, (1 - pos.x1) * width
    if not any(t.get_text() == "Design" for t in probe.findobj(Text)):
        designs = None  # the first pass dropped the column to keep the panel readable
    st = 18.0  # the slide style's small type: x tick labels, then the axis label and footer
    below = _line(st, 1.3) + _line(20.0, 1.3) + 0.2 + _line(st, 1.3) + 0.15
    bottom, top = FOOT_BAND + below + 0.05, SLIDE_H - TOP_BAND - 0.1
    fig = _new_slide()
    ax = fig.add_axes(((left + 0.2) / SLIDE_W, bottom / SLIDE_H,
                       (SLIDE_W - left - right - 0.5) / SLIDE_W, (top - bottom) / SLIDE_H))
    plotting.forest_plot(pooled, labels=labels, designs=designs, style="slide", ax=ax)
    return fig


def _sensitivity_rows(results: dict, outcome: str) -> pd.DataFrame:
    res = results["outcomes"][outcome]
    rows = []
    for m in res["methods"]:
        if m["id"] in SLIDE_METHODS:
            shown = SLIDE_METHODS[m["id"]] + (" (primary)" if m["primary"] else "")
            rows.append({**m, "group": "Pooling method (all studies)", "label": shown})
    for s in res["scenarios"]:
        if s["primary"] or not s["k"]:
            continue
        for prefix, shown in SLIDE_SCENARIOS.items():
            if s["label"].startswith(prefix):
                rows.append({**s, "group": "Data choice (primary method)", "label": shown})
                break
    df = pd.DataFrame(rows)
    for c in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def _slide_sensitivity(results: dict, outcome: str):
    from .. import plotting

    rows = _sensitivity_rows(results, outcome)
    try:
        fig = plotting.sensitivity_plot(rows, style="slide")
    except ValueError:
        slide = _new_slide()
        _embed_report_figure(slide, plotting.sensitivity_plot(rows))
        return slide
    fig.set_size_inches(SLIDE_W, SLIDE_H)
    # constrained layout inside the band between title and footer; the legend, which the
    # layout puts at the bottom edge, then moves up to sit just above the footer
    legend_h = 0.5
    bottom = FOOT_BAND + legend_h
    fig.get_layout_engine().set(rect=(MARGIN / SLIDE_W, bottom / SLIDE_H, 1 - 2 * MARGIN / SLIDE_W,
                                      (SLIDE_H - TOP_BAND - bottom) / SLIDE_H))
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    for leg in fig.legends:
        leg.set_bbox_to_anchor((0.5, (FOOT_BAND - 0.05) / SLIDE_H), transform=fig.transFigure)
    return fig


def _slide_claims(audit: dict):
    from .. import plotting

    fig = _new_slide()
    # the plotting function cuts each claim to the slide's width, with an ellipsis
    aud = pd.DataFrame([{"claim_id": a["claim_id"], "verdict": a["verdict"], "short": a["claim"]}
                        for a in audit["claims"]])
    top = SLIDE_H - TOP_BAND - 0.15
    bar_h = 0.6
    bar = fig.add_axes((MARGIN / SLIDE_W, (top - bar_h) / SLIDE_H, 1 - 2 * MARGIN / SLIDE_W,
                        bar_h / SLIDE_H))
    list_top = top - bar_h - 1.05
    list_bottom = FOOT_BAND + 0.05
    lst = fig.add_axes((MARGIN / SLIDE_W, list_bottom / SLIDE_H, 1 - 2 * MARGIN / SLIDE_W,
                        (list_top - list_bottom) / SLIDE_H))
    plotting.claims_audit_plot(aud, style="slide", ax=(bar, lst))
    bar.set_title("", loc="left")  # the slide title says it
    return fig
