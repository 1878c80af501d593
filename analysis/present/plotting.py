"""Figures from results: forest, sensitivity, leave-one-out, viral loads, appraisal, flow.

Every function draws what it is given (no statistics), builds its figure with
`matplotlib.figure.Figure` (never pyplot, so no global state is touched), never saves or
shows, and returns the `Figure`. Where it makes sense a function takes ``ax=`` and then
draws on it and returns ``ax.figure``. Two styles exist:

* ``"report"`` -- sized for an A4 or HTML page (about 8.5 in wide, 9-10 pt type);
* ``"slide"`` -- a 16:9 canvas (13.333 x 7.5 in), type of at least 18 pt and thick
  lines; some annotations are dropped so that nothing overlaps.

Saving, DPI and file formats are decided by the caller (``cli.py``), in one place.
Colours are the Okabe & Ito (2008) colour-blind-safe palette, defined once below.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle
from matplotlib.path import Path
from matplotlib.textpath import TextToPath
from matplotlib.transforms import Affine2D, ScaledTranslation, blended_transform_factory

from ..stats._validation import check_choice

__all__ = [
    "FIGURE_SIZES",
    "calibration_plot",
    "claims_audit_plot",
    "evidence_map",
    "forest_plot",
    "leave_one_out_plot",
    "prisma_flow",
    "rob_traffic_light",
    "sensitivity_plot",
    "viral_load_plot",
]

# Okabe & Ito (2008) palette; every colour in this module comes from here.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
    "dark": "#333333",
    "light": "#E8E8E8",
    "pale_blue": "#D6EAF8",
    "pale_vermillion": "#F9E0CC",
}
SERIES_COLOURS = ("blue", "vermillion", "green", "orange", "purple", "sky", "black", "yellow")
VERDICT_COLOURS = {
    "supported": PALETTE["green"],
    "partly_supported": PALETTE["yellow"],
    "discrepant": PALETTE["vermillion"],
    "unverifiable": PALETTE["grey"],
}
ANSWER_STYLE = {  # Murad et al. (2018) judgements: colour, symbol, text colour, legend text
    "yes": (PALETTE["green"], "+", "white", "yes"),
    "no": (PALETTE["vermillion"], "\u2212", "white", "no"),
    "unclear": (PALETTE["yellow"], "?", "black", "unclear"),
    "not_applicable": ("#C8C8C8", "NA", "black", "not applicable"),
}
MURAD_ITEMS = {
    "q1": ("selection", "Q1 whole experience"),
    "q2": ("ascertainment", "Q2 exposure ascertained"),
    "q3": ("ascertainment", "Q3 outcome ascertained"),
    "q4": ("causality", "Q4 other causes ruled out"),
    "q5": ("causality", "Q5 challenge/rechallenge"),
    "q6": ("causality", "Q6 dose-response"),
    "q7": ("causality", "Q7 follow-up long enough"),
    "q8": ("reporting", "Q8 enough detail"),
}
DESIGN_ORDER = ("rct", "prospective_cohort", "retrospective_cohort", "case_series",
                "case_report", "conference_abstract", "guideline")
DESIGN_COLOURS = {"rct": "black", "prospective_cohort": "purple",
                  "retrospective_cohort": "blue", "case_series": "green",
                  "case_report": "orange", "conference_abstract": "vermillion",
                  "guideline": "grey"}
OUTCOME_ORDER = ("viremia_clearance", "viral_load_reduction", "histologic_resolution",
                 "graft_survival", "graft_loss", "rejection", "patient_survival",
                 "adverse_event")
UNVERIFIED = {"claimed_by_answer_only", "not_found"}

# (width, height) in inches; a report figure's height grows with its rows (None)
FIGURE_SIZES = {"report": (8.5, None), "slide": (13.333, 7.5)}
_STYLES: dict[str, dict[str, float]] = {
    # base: body text; small: dense tables and legends; lw/thick: lines; row: inches
    "report": {"width": 8.5, "base": 9.5, "small": 9.0, "title": 10.5, "lw": 1.3, "thick": 2.4, "ms": 6.0,
                   "row": 0.27},
    "slide": {"width": 13.333, "height": 7.5, "base": 20.0, "small": 18.0, "title": 24.0, "lw": 3.0,
                  "thick": 6.0, "ms": 13.0, "row": 0.0},
}
STYLES = tuple(_STYLES)


def _style(style: str) -> dict[str, float]:
    """Sizes for ``style`` ("report" or "slide"): fonts (pt), lines (pt), rows (in)."""
    check_choice("style", style, STYLES)
    return dict(_STYLES[style])


def _text_width(s: str, size: float, weight: str = "normal") -> float:
    """Width in inches of ``s`` (widest line) set in the default font at ``size`` pt."""
    return max((_line_width(line, size, weight) for line in str(s).split("\n") if line.strip()),
               default=0.0)


@functools.lru_cache(maxsize=8192)
def _line_width(line: str, size: float, weight: str) -> float:
    # FreeType advance width through TextToPath (no path outlines): ~100x faster than
    # the extents of a TextPath, which the wrapping loops call thousands of times
    prop = FontProperties(weight=weight, size=size)
    width, _, _ = _TEXT_TO_PATH.get_text_width_height_descent(line.replace("$", "S"), prop, ismath=False)
    return width / 72.0 * 1.04


_TEXT_TO_PATH = TextToPath()


def _wrap(s: str, width_in: float, size: float, weight: str = "normal", *,
          break_words: bool = True) -> list[str]:
    """Greedy word wrap of ``s`` into lines no wider than ``width_in`` inches.

    Lines break at spaces and after "-" or "/". A piece still wider than the line is
    broken with a hyphen unless ``break_words`` is False (it then overhangs).
    """
    lines: list[str] = []
    for para in str(s).split("\n"):
        pieces: list[tuple[str, str]] = []  # (separator before, text)
        for i, word in enumerate(para.split(" ")):
            parts = re.findall(r"[^-/]*[-/]|[^-/]+", word) or [""]
            pieces += [(" " if (i and j == 0) else "", part) for j, part in enumerate(parts)]
        cur = ""
        for sep, piece in pieces:
            trial = f"{cur}{sep}{piece}" if cur else piece
            if _text_width(trial, size, weight) <= width_in or not cur:
                cur = trial
            else:
                lines.append(cur)
                cur = piece
            while (break_words and _text_width(cur, size, weight) > width_in
                   and len(cur) > 1):
                cut = len(cur) - 1  # a single piece wider than the box: break it
                while cut > 1 and _text_width(cur[:cut] + "-", size, weight) > width_in:
                    cut -= 1
                lines.append(cur[:cut] + "-")
                cur = cur[cut:]
        lines.append(cur)
    return lines


def _line_h(size: float) -> float:
    """Line height in inches for ``size`` pt text."""
    return size * 1.3 / 72.0


def _new_figure(st: dict, height: float | None = None) -> Figure:
    """A constrained-layout figure: the slide canvas, or the report width x ``height``."""
    return Figure(figsize=(st["width"], st.get("height") or height), layout="constrained")


def _fits_rows(n_rows: float, avail_in: float, size: float, what: str) -> float:
    """Row height for a slide; ValueError if ``n_rows`` rows of ``size`` pt do not fit."""
    row = avail_in / max(n_rows, 1.0)
    if row < size * 1.2 / 72.0:
        raise ValueError(
            f"{what}: {n_rows:g} rows do not fit on a 16:9 slide at {size:g} pt; "
            'use style="report" (its height grows with the rows)'
        )
    return row


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x)) or x is pd.NA


def _pct(x: float) -> float:
    return 100.0 * float(x)


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    miss = [c for c in cols if c not in df.columns]
    if miss:
        raise ValueError(f"{what}: missing column(s) {', '.join(miss)}")


def _tidy_axes(ax, st: dict, *, left: bool = False) -> None:
    ax.tick_params(labelsize=st["small"], width=st["lw"] * 0.7, which="both")
    for side in ("top", "right") + (("left",) if not left else ()):
        ax.spines[side].set_visible(False)
    for side in ("bottom", "left"):
        ax.spines[side].set_linewidth(st["lw"] * 0.7)


def _percent_axis(ax, st: dict, label: str = "Proportion (%)") -> None:
    ax.set_xlim(-2, 102)
    ax.set_xticks(range(0, 101, 20 if st["base"] < 15 else 25))
    ax.spines["bottom"].set_bounds(0, 100)
    ax.set_xlabel(label, fontsize=st["base"])


def _ci_text(est: float, lo: float, hi: float, digits: int = 1) -> str:
    if _missing(lo) or _missing(hi):  # no interval exists (e.g. every study at 0%)
        return f"{_pct(est):.{digits}f} (CI n/a)"
    return f"{_pct(est):.{digits}f} ({_pct(lo):.{digits}f}\u2013{_pct(hi):.{digits}f})"


# --------------------------------------------------------------------------- forest


def _as_result_dict(pooled):
    """A result object (anything with ``to_dict()``, e.g. `PooledProportion`) -> its dict."""
    return pooled.to_dict() if hasattr(pooled, "to_dict") and not isinstance(pooled, dict) else pooled


def forest_plot(pooled, *, labels: dict | None = None, designs: dict | None = None,
                title: str = "", style: str = "report", ax=None) -> Figure:
    """Forest plot of single proportions with the pooled diamond and prediction bar.

    Draws the layout of a published prevalence forest plot: text columns Study, Design,
    Events and N on the left; a 0-100 % panel with each study's point and confidence
    interval (squares sized by weight when weights exist, equal markers when they do not,
    as for the GLMM); the pooled diamond spanning its CI; a "Prediction interval" bar when
    one was computed; "% (95% CI)" and "Weight" columns on the right (``n/a`` where a
    weight is undefined) and a heterogeneity footer. There is no line of no effect: a
    single proportion has no null value. Row height is fixed, so the report figure grows
    with the number of studies.

    Parameters
    ----------
    pooled : PooledProportion or dict
        A result of `analysis.pool_proportions`, or its ``to_dict()``: ``estimate``,
        ``ci_low``, ``ci_high``, ``pi_low``/``pi_high`` (None when undefined), ``tau2``, ``i2``, ``k``, ``label``,
        ``methods`` and ``studies`` (``study_id``, ``events``, ``n``, ``proportion``,
        ``ci_low``, ``ci_high``, ``weight`` in percent or None), proportions in 0-1.
    labels : dict, optional
        ``study_id`` -> display label (e.g. "Anyaegbu 2014"); the id is used otherwise.
    designs : dict, optional
        ``study_id`` -> short design text; the Design column is drawn only if given.
    title : str
        Figure title ("" for none).
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes for the centre panel; the text columns are drawn outside it, so leave room
        on both sides. The figure size is then not changed.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ValueError
        If ``pooled`` has no studies, or (slide) the rows do not fit at 18 pt.

    Examples
    --------
    >>> res = {"estimate": 0.5, "ci_low": 0.2, "ci_high": 0.8, "pi_low": None,
    ...        "pi_high": None, "tau2": 0.1, "i2": 20.0, "k": 1, "label": "GLMM",
    ...        "studies": [{"study_id": "a", "events": 2, "n": 4, "proportion": 0.5,
    ...                     "ci_low": 0.07, "ci_high": 0.93, "weight": None}]}
    >>> fig = forest_plot(res)
    >>> [round(v) for v in fig.get_axes()[0].get_xlim()]
    [-2, 102]
    """
    pooled = _as_result_dict(pooled)
    st = _style(style)
    studies = list(pooled.get("studies") or [])
    if not studies:
        raise ValueError("forest_plot: pooled['studies'] is empty")
    labels, designs = labels or {}, designs or {}
    slide = style == "slide"
    fs, fsb = (st["small"], st["small"]) if slide else (st["base"], st["base"])
    names = [str(labels.get(s["study_id"], s["study_id"])) for s in studies]
    des = [str(designs.get(s["study_id"], "")) for s in studies]
    weights = [None if _missing(s.get("weight")) else float(s["weight"]) for s in studies]
    has_w = any(w is not None for w in weights)
    has_pi = not _missing(pooled.get("pi_low")) and not _missing(pooled.get("pi_high"))
    ci_txt = [_ci_text(s["proportion"], s["ci_low"], s["ci_high"]) for s in studies]
    w_txt = ["n/a" if w is None else f"{w:.1f}%" for w in weights]
    pooled_ci = _ci_text(pooled["estimate"], pooled["ci_low"], pooled["ci_high"])
    pi_txt = (f"{_pct(pooled['pi_low']):.1f}\u2013{_pct(pooled['pi_high']):.1f}"
              if has_pi else "")
    tot_e = sum(int(s["events"]) for s in studies)
    tot_n = sum(int(s["n"]) for s in studies)

    gap = fs / 72.0 * 1.1

    def colw(items, head):
        return max([_text_width(x, fs) for x in items] + [_text_width(head, fsb, "bold")])

    w_study = colw(names + ["Prediction interval"], "Study")
    show_design = any(des)
    w_design = colw(des, "Design") if show_design else 0.0
    w_ev = colw([str(tot_e)], "Events")
    w_n = colw([str(tot_n)], "N")
    w_ci = colw(ci_txt + [pooled_ci, pi_txt], "% (95% CI)")
    w_w = colw(w_txt + ["100%"], "Weight")
    margin = 0.12 if not slide else 0.25

    def left_width(design: bool) -> float:
        return margin + w_study + (gap + w_design if design else 0) + 2 * gap + w_ev + w_n + gap

    right_w = gap + w_ci + gap + w_w + margin
    if ax is None:
        width = st["width"]
        min_panel = 2.6 if not slide else 3.2
        if slide and width - left_width(show_design) - right_w < min_panel:
            show_design = False  # fewer columns so the panel keeps a readable width
        if not slide:
            width = min(max(width, left_width(show_design) + right_w + min_panel), 9.5)
    else:
        width = ax.figure.get_figwidth()
    left_w = left_width(show_design)
    block = w_study + (gap + w_design if show_design else 0)
    label = pooled.get("label")
    one_line = f"Pooled ({label})" if label else "Pooled"
    if _text_width(one_line, fsb, "bold") <= block:
        plines = [one_line]
    else:  # bold "Pooled", then the model label in regular weight, wrapped to the column
        plines = ["Pooled"] + _wrap(str(label), max(block, 0.3 * width - margin), fs)
    extra = max([_text_width(plines[0], fsb, "bold")] + [_text_width(x, fs) for x in plines[1:]])
    if extra - block > 0:  # widen the study column so the pooled label fits
        w_study += extra - block
        left_w += extra - block
        block = extra

    # rows (data units, y grows downwards): header 0, studies 1..k, pooled, PI
    k = len(studies)
    y_st = np.arange(1, k + 1, dtype=float)
    y_cursor = k + 0.6
    n_foot = 1 if slide else 2
    title_h = (_line_h(st["title"]) + 0.12) if title else 0.12
    axis_h = _line_h(st["small"]) + _line_h(st["base"]) + 0.2
    foot_h = n_foot * _line_h(st["small"]) + 0.15

    def rows_needed(row_in: float) -> tuple[float, float]:
        p_h = max(1.0, len(plines) * _line_h(fsb) / row_in + 0.3)
        return p_h, y_cursor + p_h + (1.0 if has_pi else 0.0) + 0.5

    if slide:
        avail = st["height"] - title_h - axis_h - foot_h
        row = _fits_rows(rows_needed(0.4)[1] + 0.5, avail, fs, "forest_plot")
        row = _fits_rows(rows_needed(row)[1] + 0.5, avail, fs, "forest_plot")
    else:
        row = max(st["row"], _line_h(fs) * 1.25)
    rows_per_line = _line_h(fsb) / row
    pooled_h = rows_needed(row)[0]
    y_pool = y_cursor + pooled_h / 2
    y_pi = y_cursor + pooled_h + 0.5
    y_max = (y_pi if has_pi else y_pool + pooled_h / 2 - 0.5) + 0.5

    if ax is None:
        height = st.get("height") or (title_h + (y_max + 0.5) * row + axis_h + foot_h)
        fig = Figure(figsize=(width, height))
        panel = max(width - left_w - right_w, 1.0)
        used = (y_max + 0.5) * row
        ax = fig.add_axes((left_w / width, (height - title_h - used) / height, panel / width,
                           used / height))
    else:
        fig = ax.figure
    pos = ax.get_position()
    ax_w = pos.width * fig.get_figwidth()
    ax.set_ylim(y_max + 0.5, -0.5)
    _percent_axis(ax, st)
    _tidy_axes(ax, st)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    tr = blended_transform_factory(ax.transAxes, ax.transData)

    def put(x_in, y, s, *, right=False, bold=False, ha=None, size=None, **kw):
        x = (1.0 + x_in / ax_w) if right else (x_in / ax_w)
        ax.text(x, y, s, transform=tr, ha=ha or "left", va="center", clip_on=False,
                fontsize=size or (fsb if bold else fs), fontweight="bold" if bold else "normal",
                **kw)

    # column x positions, inches from the panel's left (negative) or right edge
    x_study = -(left_w - margin)
    x_design = x_study + w_study + gap
    x_ev = (x_design + w_design + gap if show_design else x_study + w_study + gap) + w_ev
    x_n = x_ev + gap + w_n
    x_ci = gap + w_ci
    x_w = x_ci + gap + w_w
    heads = [(x_study, "Study", "left", False), (x_ev, "Events", "right", False),
             (x_n, "N", "right", False), (x_ci, "% (95% CI)", "right", True),
             (x_w, "Weight", "right", True)]
    if show_design:
        heads.insert(1, (x_design, "Design", "left", False))
    for x, s, ha, right in heads:
        put(x, 0, s, right=right, bold=True, ha=ha)
    rule = Line2D([x_study / ax_w, 1 + x_w / ax_w], [0.5, 0.5], transform=tr,
                  color=PALETTE["dark"], lw=st["lw"] * 0.6, clip_on=False)
    ax.add_line(rule)

    for i, s in enumerate(studies):
        y = y_st[i]
        put(x_study, y, names[i])
        if show_design:
            put(x_design, y, des[i], color=PALETTE["dark"])
        put(x_ev, y, str(int(s["events"])), ha="right")
        put(x_n, y, str(int(s["n"])), ha="right")
        put(x_ci, y, ci_txt[i], right=True, ha="right")
        put(x_w, y, w_txt[i], right=True, ha="right")
        ax.plot([_pct(s["ci_low"]), _pct(s["ci_high"])], [y, y], color=PALETTE["dark"],
                lw=st["lw"], solid_capstyle="butt", gid="study-ci", clip_on=False, zorder=2)
    max_side = min(row * 72 * 0.85, st["ms"] * 2.2)
    if has_w:
        wmax = max(w for w in weights if w is not None)
        sides = [st["ms"] if w is None else max(max_side * math.sqrt(w / wmax), st["ms"] * 0.5)
                 for w in weights]
    else:
        sides = [st["ms"]] * k
    ax.scatter([_pct(s["proportion"]) for s in studies], y_st, s=np.square(sides), marker="s",
               color=PALETTE["blue"], edgecolors="none", zorder=3, clip_on=False,
               gid="study-points")

    for j, line in enumerate(plines):
        put(x_study, y_pool + (j - (len(plines) - 1) / 2) * rows_per_line, line, bold=j == 0)
    put(x_ev, y_pool, str(tot_e), ha="right", bold=True)
    put(x_n, y_pool, str(tot_n), ha="right", bold=True)
    put(x_ci, y_pool, pooled_ci, right=True, ha="right", bold=True)
    if has_w:
        put(x_w, y_pool, "100%", right=True, ha="right", bold=True)
    half = min(0.38, 0.45 * pooled_h)
    est = _pct(pooled["estimate"])
    ax.add_patch(Polygon(
        [(_pct(pooled["ci_low"]), y_pool), (est, y_pool - half),
         (_pct(pooled["ci_high"]), y_pool), (est, y_pool + half)],
        closed=True, facecolor=PALETTE["vermillion"], edgecolor=PALETTE["vermillion"],
        gid="pooled-diamond", zorder=3, clip_on=False))
    if has_pi:
        put(x_study, y_pi, "Prediction interval")
        put(x_ci, y_pi, pi_txt, right=True, ha="right")
        lo, hi = _pct(pooled["pi_low"]), _pct(pooled["pi_high"])
        ax.add_patch(Rectangle((lo, y_pi - 0.16), hi - lo, 0.32, facecolor=PALETTE["vermillion"],
                               alpha=0.55, edgecolor="none", gid="prediction-interval",
                               clip_on=False))

    foot = []
    if not _missing(pooled.get("tau2")):
        foot.append(f"\u03c4\u00b2 = {pooled['tau2']:.3g}")
    if not _missing(pooled.get("i2")):
        foot.append(f"I\u00b2 = {pooled['i2']:.1f}%")
    foot.append(f"k = {pooled.get('k', k)}")
    lines = ["Heterogeneity: " + "; ".join(foot)]
    if not slide:
        m = pooled.get("methods") or {}
        note = []
        if m.get("study_ci_method"):
            note.append(f"Study CIs: {m['study_ci_method']}")
        if not has_w:
            note.append("study weights are not defined for this model (n/a)")
        if note:
            lines.append("; ".join(note)[:1].upper() + "; ".join(note)[1:])
    for j, line in enumerate(lines[:n_foot]):
        ax.annotate(line, xy=(x_study / ax_w, 0), xycoords="axes fraction",
                    xytext=(0, -(axis_h * 72 + j * _line_h(st["small"]) * 72)),
                    textcoords="offset points", va="top", ha="left", fontsize=st["small"],
                    color=PALETTE["dark"], annotation_clip=False)
    if title:
        ax.annotate(title, xy=(x_study / ax_w, 1), xycoords="axes fraction", xytext=(0, 4),
                    textcoords="offset points", va="bottom", ha="left", fontsize=st["title"],
                    fontweight="bold", annotation_clip=False)
    return fig


# ------------------------------------------------------------- interval dot plots


def _interval_rows(ax, st, ys, est, lo, hi, *, colours, markers, sizes, zorder=3):
    for y, e, a, b, c, m, s in zip(ys, est, lo, hi, colours, markers, sizes, strict=True):
        ax.plot([a, b], [y, y], color=PALETTE["dark"], lw=st["lw"], solid_capstyle="butt",
                zorder=zorder - 1, gid="ci")
        ax.plot([e], [y], marker=m, ms=s, color=c, ls="none", zorder=zorder, gid="point",
                clip_on=False)


def _right_labels(ax, st, ys, texts, header=None):
    twin = ax.twinx()
    if header:
        twin.annotate(header, xy=(1, 1), xycoords="axes fraction", xytext=(3.5, 2),
                      textcoords="offset points", ha="left", va="bottom",
                      fontsize=st["small"], fontweight="bold")
    twin.set_ylim(ax.get_ylim())
    twin.set_yticks(ys, texts)
    twin.tick_params(length=0, labelsize=st["small"])
    for sp in twin.spines.values():
        sp.set_visible(False)
    return twin


def sensitivity_plot(rows: pd.DataFrame, *, title: str = "", style: str = "report",
                     ax=None) -> Figure:
    """Dot plot of the pooled proportion under every method and scenario.

    One row per analysis, grouped under bold group headers (e.g. "Method",
    "Scenario"): point and confidence interval, a lighter thin prediction interval
    where one exists, the primary analysis highlighted, a faint dashed reference line at
    the primary estimate, and "xx% (xx-xx), k = .." on the right.

    Parameters
    ----------
    rows : pandas.DataFrame
        Columns ``label``, ``group``, ``estimate``, ``ci_low``, ``ci_high``, ``pi_low``,
        ``pi_high`` (proportions 0-1; the PI may be NaN), ``k`` and ``primary`` (bool).
        Groups and rows are drawn in the order given.
    title : str
        Figure title.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (a twin axis carries the right-hand text).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(rows, ["label", "group", "estimate", "ci_low", "ci_high", "pi_low", "pi_high",
                    "k", "primary"], "sensitivity_plot")
    if rows.empty:
        raise ValueError("sensitivity_plot: rows is empty")
    groups = list(dict.fromkeys(rows["group"]))
    ys, ylabels, bold, y = [], [], [], 0.0
    entries = []
    for g in groups:
        ys.append(y)
        ylabels.append(str(g))
        bold.append(True)
        y += 1
        for r in rows[rows["group"] == g].itertuples(index=False):
            entries.append((y, r))
            ys.append(y)
            ylabels.append(str(r.label))
            bold.append(bool(r.primary))
            y += 1
        y += 0.3
    n_rows = y - 0.3
    slide = style == "slide"
    own = ax is None
    if own:
        if slide:
            _fits_rows(n_rows, st["height"] - 2.4, st["small"], "sensitivity_plot")
        fig = _new_figure(st, 1.6 + n_rows * st["row"] + (_line_h(st["title"]) if title else 0))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.set_ylim(n_rows - 0.5, -0.7)
    prim = [r for _, r in entries if bool(r.primary)]
    if prim:
        p = _pct(prim[0].estimate)
        ax.axvline(p, color=PALETTE["grey"], ls="--", lw=st["lw"] * 0.8, zorder=1,
                   gid="primary-line")
        ax.text(p, -0.7, "primary", ha="center", va="bottom", fontsize=st["small"],
                color=PALETTE["dark"])
    for yy, r in entries:
        if bool(r.primary):
            ax.axhspan(yy - 0.45, yy + 0.45, color=PALETTE["pale_vermillion"], zorder=0,
                       lw=0)
        if not (_missing(r.pi_low) or _missing(r.pi_high)):
            ax.plot([_pct(r.pi_low), _pct(r.pi_high)], [yy, yy], color=PALETTE["sky"],
                    lw=st["lw"] * 0.8, solid_capstyle="butt", zorder=1, gid="pi")
    _interval_rows(
        ax, st, [e[0] for e in entries], [_pct(r.estimate) for _, r in entries],
        [_pct(r.ci_low) for _, r in entries], [_pct(r.ci_high) for _, r in entries],
        colours=[PALETTE["vermillion"] if bool(r.primary) else PALETTE["blue"]
                 for _, r in entries],
        markers=["D" if bool(r.primary) else "o" for _, r in entries],
        sizes=[st["ms"] * (1.25 if bool(r.primary) else 1.0) for _, r in entries])
    ax.set_yticks(ys, ylabels)
    for lab, b in zip(ax.get_yticklabels(), bold, strict=True):
        lab.set_fontweight("bold" if b else "normal")
    _percent_axis(ax, st)
    _tidy_axes(ax, st)
    ax.tick_params(axis="y", length=0)
    right = [(f"{_pct(r.estimate):.0f}% (CI n/a)" if _missing(r.ci_low) or _missing(r.ci_high) else
              f"{_pct(r.estimate):.0f}% ({_pct(r.ci_low):.0f}\u2013{_pct(r.ci_high):.0f})")
             + f", k = {int(r.k)}" for _, r in entries]
    _right_labels(ax, st, [e[0] for e in entries], right, header="% (95% CI)")
    handles = [Line2D([], [], color=PALETTE["dark"], lw=st["lw"], marker="o",
                      mfc=PALETTE["blue"], mec=PALETTE["blue"], ms=st["ms"] * 0.8,
                      label="estimate, 95% CI"),
               Line2D([], [], color=PALETTE["sky"], lw=st["lw"] * 0.8,
                      label="95% prediction interval"),
               Line2D([], [], color=PALETTE["vermillion"], marker="D", ls="none",
                      ms=st["ms"], label="primary analysis")]
    _legend_below(fig, ax, handles, st, ncols=3, own=own)
    if title:
        _title(fig, ax, title, st, own=own)
    return fig


def _title(fig, ax, title: str, st: dict, *, own: bool, pad: float = 6.0) -> None:
    """Figure title at the top left; above the axes when drawing on a caller's axes."""
    if own:
        fig.suptitle(title, x=0.01, ha="left", fontsize=st["title"], fontweight="bold")
    else:
        ax.set_title(title, loc="left", fontsize=st["title"], fontweight="bold", pad=pad)


def _legend_below(fig, ax, handles, st, *, ncols: int, own: bool):
    """A frameless legend under the axes (outside the data, so it never covers it)."""
    kw = {"handles": handles, "fontsize": st["small"], "frameon": False, "ncols": ncols,
          "handlelength": 1.8, "columnspacing": 1.4}
    if own:
        return fig.legend(loc="outside lower center", **kw)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), **kw)


def leave_one_out_plot(rows: pd.DataFrame, *, full: dict, labels: dict | None = None,
                       title: str = "", style: str = "report", ax=None) -> Figure:
    """Leave-one-out plot: the pooled proportion re-fitted without each study.

    One row "Omitting <label>" per re-fit (point and CI), a final bold "All studies" row
    drawn as a diamond, and a shaded band over the full-data confidence interval so a
    reader sees at once whether any single study moves the estimate out of it.

    Parameters
    ----------
    rows : pandas.DataFrame
        Columns ``omitted`` (study id), ``estimate``, ``ci_low``, ``ci_high`` (0-1).
    full : dict
        The all-studies fit: ``estimate``, ``ci_low``, ``ci_high`` (0-1).
    labels : dict, optional
        ``study_id`` -> display label.
    title : str
        Figure title.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(rows, ["omitted", "estimate", "ci_low", "ci_high"], "leave_one_out_plot")
    labels = labels or {}
    k = len(rows)
    n_rows = k + 1.4
    own = ax is None
    if own:
        if style == "slide":
            _fits_rows(n_rows, st["height"] - 2.0, st["small"], "leave_one_out_plot")
        fig = _new_figure(st, 1.3 + n_rows * st["row"] + (_line_h(st["title"]) if title else 0))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ys = list(np.arange(k, dtype=float)) + [k + 0.4]
    ax.set_ylim(k + 1.0, -0.6)
    lo, hi, est = _pct(full["ci_low"]), _pct(full["ci_high"]), _pct(full["estimate"])
    ax.axvspan(lo, hi, color=PALETTE["pale_vermillion"], zorder=0, lw=0, gid="full-ci-band")
    ax.axvline(est, color=PALETTE["vermillion"], lw=st["lw"] * 0.7, ls=":", zorder=1)
    _interval_rows(ax, st, ys[:k], [_pct(v) for v in rows["estimate"]],
                   [_pct(v) for v in rows["ci_low"]], [_pct(v) for v in rows["ci_high"]],
                   colours=[PALETTE["blue"]] * k, markers=["s"] * k, sizes=[st["ms"]] * k)
    yd = ys[-1]
    ax.add_patch(Polygon([(lo, yd), (est, yd - 0.33), (hi, yd), (est, yd + 0.33)],
                         facecolor=PALETTE["vermillion"], edgecolor="none", zorder=3,
                         gid="pooled-diamond"))
    ylabels = [f"Omitting {labels.get(s, s)}" for s in rows["omitted"]] + ["All studies"]
    ax.set_yticks(ys, ylabels)
    ax.get_yticklabels()[-1].set_fontweight("bold")
    _percent_axis(ax, st)
    _tidy_axes(ax, st)
    ax.tick_params(axis="y", length=0)
    right = [_ci_text(r.estimate, r.ci_low, r.ci_high) for r in rows.itertuples(index=False)]
    right.append(_ci_text(full["estimate"], full["ci_low"], full["ci_high"]))
    twin = _right_labels(ax, st, ys, right, header="% (95% CI)")
    twin.get_yticklabels()[-1].set_fontweight("bold")
    if title:
        _title(fig, ax, title, st, own=own)
    return fig


# -------------------------------------------------------------------- viral loads


def viral_load_plot(loads: pd.DataFrame, *, labels: dict | None = None, title: str = "",
                    lloq: float | None = None, style: str = "report", ax=None) -> Figure:
    """BK viral load trajectories on a log scale, one line per study/patient series.

    Each series (study, patient, statistic) is sorted by time and drawn as a line with
    markers; group means and medians are dashed. Values reported only as a bound are
    drawn as triangles: up for "greater than" (the true value is higher), down for "less
    than". Rows without a time are skipped. The legend sits below the axes so it never
    covers data.

    Parameters
    ----------
    loads : pandas.DataFrame
        Columns ``study_id``, ``patient_id`` (may be empty), ``time_months`` (NaN rows
        are skipped), ``copies_per_ml``, ``bound`` ("eq", "gt", "lt") and ``statistic``
        ("individual", "mean", "median").
    labels : dict, optional
        ``study_id`` -> display label.
    title : str
        Figure title.
    lloq : float, optional
        A common lower limit of quantification (copies/mL), drawn as a dotted line.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the legend is then placed to its right).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(loads, ["study_id", "patient_id", "time_months", "copies_per_ml", "bound",
                     "statistic"], "viral_load_plot")
    labels = labels or {}
    df = loads.copy()
    df = df[pd.to_numeric(df["time_months"], errors="coerce").notna()]
    df = df.assign(time_months=pd.to_numeric(df["time_months"]),
                   copies_per_ml=pd.to_numeric(df["copies_per_ml"]),
                   patient_id=df["patient_id"].fillna("").astype(str),
                   bound=df["bound"].fillna("eq").astype(str))
    bad = set(df["bound"]) - {"eq", "gt", "lt"}
    if bad:
        raise ValueError(f"viral_load_plot: bound must be eq, gt or lt; got {sorted(bad)}")
    own = ax is None
    if own:
        fig = _new_figure(st, 4.6)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.set_yscale("log")
    keys = list(dict.fromkeys(zip(df["study_id"], df["patient_id"], df["statistic"],
                                  strict=True)))
    handles = []
    marker = {"eq": "o", "gt": "^", "lt": "v"}
    for i, (sid, pid, stat) in enumerate(keys):
        sub = df[(df["study_id"] == sid) & (df["patient_id"] == pid) & (df["statistic"] == stat)]
        sub = sub.sort_values(["time_months", "copies_per_ml"], kind="mergesort")
        colour = PALETTE[SERIES_COLOURS[i % len(SERIES_COLOURS)]]
        ls = "--" if stat in ("mean", "median") else "-"
        label = str(labels.get(sid, sid)) + (f", patient {pid}" if pid else "")
        label += f" ({stat})" if stat != "individual" else ""
        ax.plot(sub["time_months"], sub["copies_per_ml"], ls=ls, color=colour,
                lw=st["lw"], zorder=2, gid="series")
        for b, m in marker.items():
            pts = sub[sub["bound"] == b]
            if len(pts):
                ax.plot(pts["time_months"], pts["copies_per_ml"], ls="none", marker=m,
                        ms=st["ms"] * (1.3 if b != "eq" else 1.0), color=colour,
                        mec="white", mew=0.6, zorder=3, gid=f"points-{b}", clip_on=False)
        handles.append(Line2D([], [], color=colour, ls=ls, lw=st["lw"], marker="o",
                              ms=st["ms"] * 0.8, label=label))
    for b, text in (("gt", "reported as > value"), ("lt", "reported as < value")):
        if (df["bound"] == b).any():
            handles.append(Line2D([], [], ls="none", marker=marker[b], ms=st["ms"] * 1.2,
                                  color=PALETTE["dark"], label=text))
    if lloq is not None:
        ax.axhline(lloq, color=PALETTE["grey"], ls=":", lw=st["lw"], zorder=1, gid="lloq")
        ax.annotate(f"LLOQ {lloq:,.0f} copies/mL", xy=(1, lloq),
                    xycoords=("axes fraction", "data"), xytext=(-2, 3),
                    textcoords="offset points", ha="right", va="bottom",
                    fontsize=st["small"], color=PALETTE["dark"])
    if len(df):
        vals = df["copies_per_ml"].to_numpy(float)
        lo = min(vals.min(), lloq if lloq else np.inf)
        ax.set_ylim(10 ** math.floor(math.log10(lo) - 0.3),
                    10 ** math.ceil(math.log10(vals.max()) + 0.3))
        t = df["time_months"].to_numpy(float)
        pad = max(1.0, 0.04 * (t.max() - t.min()))
        ax.set_xlim(t.min() - pad, t.max() + pad)
    ax.set_ylabel("BK viral load (copies/mL)", fontsize=st["base"])
    ax.set_xlabel("Time (months)", fontsize=st["base"])
    _tidy_axes(ax, st, left=True)
    ax.grid(True, which="major", axis="y", color=PALETTE["light"], lw=0.6)
    ax.set_axisbelow(True)
    ncols = 2 if style == "report" else 3
    if own:
        fig.legend(handles=handles, loc="outside lower center", fontsize=st["small"],
                   frameon=False, ncols=ncols)
    else:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1),
                  fontsize=st["small"], frameon=False)
    if title:
        _title(fig, ax, title, st, own=own)
    return fig


# -------------------------------------------------------------- risk of bias grid


def rob_traffic_light(appraisal: pd.DataFrame, *, labels: dict | None = None, title: str = "",
                      style: str = "report", ax=None) -> Figure:
    """Risk-of-bias traffic-light grid for the Murad et al. (2018) case-series tool.

    Rows are studies, columns the eight items q1-q8 under their domain headers
    (Selection q1; Ascertainment q2-q3; Causality q4-q7; Reporting q8). Each judgement is
    a circle with its symbol inside: yes = green "+", no = red "-", unclear = yellow "?",
    not applicable = grey "NA". A missing judgement leaves the cell empty.

    Parameters
    ----------
    appraisal : pandas.DataFrame
        Columns ``study_id``, ``item`` (q1..q8), ``domain`` and ``answer`` ("yes", "no",
        "unclear", "not_applicable"). Studies are drawn in the order given.
    labels : dict, optional
        ``study_id`` -> display label.
    title : str
        Figure title.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(appraisal, ["study_id", "item", "answer"], "rob_traffic_light")
    bad = set(appraisal["answer"]) - set(ANSWER_STYLE)
    if bad:
        raise ValueError(f"rob_traffic_light: unknown answer(s) {sorted(bad)}; valid: "
                         + ", ".join(ANSWER_STYLE))
    labels = labels or {}
    studies = list(dict.fromkeys(appraisal["study_id"]))
    items = list(MURAD_ITEMS)
    n = len(studies)
    slide = style == "slide"
    fs = st["small"]
    own = ax is None
    ylab = [str(labels.get(s, s)) for s in studies]
    if own and not slide:
        st["width"] = 9.0  # eight item columns need the room
    width = st["width"] if own else ax.figure.get_figwidth()
    label_w = max(_text_width(x, st["base"]) for x in ylab) + 0.3
    col_in = max((width - label_w - 0.4) / len(items), 0.4)
    if slide:  # fewer annotations: item numbers only, under the domain headers
        item_labels = [MURAD_ITEMS[i][1].split(" ")[0] for i in items]
    else:
        item_labels = ["\n".join(_wrap(MURAD_ITEMS[i][1], col_in * 0.92, fs,
                                        break_words=False)) for i in items]
    n_lines = max(lab.count("\n") + 1 for lab in item_labels)
    head_off = 4 + n_lines * fs * 1.25 + 6  # points above the axes for the domain rules
    head_in = (head_off + fs * 1.6 + 6) / 72
    legend_in = _line_h(fs) + 0.35
    title_in = _line_h(st["title"]) + 0.1 if title else 0.0
    if own:
        if slide:
            row_h = _fits_rows(n, st["height"] - head_in - legend_in - title_in - 0.35, fs,
                               "rob_traffic_light")
        else:
            row_h = 0.3
        fig = _new_figure(st, head_in + legend_in + title_in + 0.3 + n * row_h)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
        row_h = ax.get_position().height * fig.get_figheight() / max(n, 1)
    ax.set_xlim(-0.5, len(items) - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    pill_h = max(min(row_h * 0.8, col_in * 0.55) * 72, fs * 1.15)
    pill = Path.unit_circle().transformed(Affine2D().scale(1.45, 1.0))
    lookup = {(r.study_id, r.item): r.answer for r in appraisal.itertuples(index=False)}
    for answer, (colour, sym, tcol, _) in ANSWER_STYLE.items():
        pts = [(items.index(it), studies.index(sid)) for (sid, it), a in lookup.items()
               if a == answer and it in items]
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        ax.scatter(xs, ys, s=(pill_h * 1.45) ** 2, marker=pill, color=colour,
                   edgecolors="white", linewidths=0.8, zorder=2, gid=f"rob-{answer}")
        sym_fs = fs
        for x, y in pts:
            ax.text(x, y, sym, ha="center", va="center_baseline", fontsize=sym_fs,
                    fontweight="bold", color=tcol, zorder=3)
    ax.set_yticks(range(n), ylab, fontsize=st["base"])
    ax.tick_params(axis="y", length=0, labelsize=st["base"])
    ax.xaxis.tick_top()
    ax.set_xticks(range(len(items)), item_labels)
    ax.tick_params(axis="x", length=0, labelsize=fs, pad=4)
    for sp in ax.spines.values():
        sp.set_visible(False)
    for y in np.arange(n - 1) + 0.5:
        ax.axhline(y, color=PALETTE["light"], lw=0.8, zorder=0)
    spans = [("Selection", 0, 0), ("Ascertainment", 1, 2), ("Causality", 3, 6),
             ("Reporting", 7, 7)]
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    short = {"Selection": "Select.", "Ascertainment": "Ascert.", "Reporting": "Report."}
    if any(_text_width(name, fs, "bold") > (b - a + 0.9) * col_in for name, a, b in spans):
        spans = [(short.get(name, name), a, b) for name, a, b in spans]
    for name, a, b in spans:
        ax.annotate(name, xy=((a + b) / 2, 1), xycoords=tr, xytext=(0, head_off + 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=fs,
                    fontweight="bold", annotation_clip=False)
        ax.plot([a - 0.42, b + 0.42], [1, 1], transform=tr + _offset(fig, 0, head_off),
                color=PALETTE["dark"], lw=st["lw"] * 0.8, clip_on=False, gid="domain-rule")
    handles = [Line2D([], [], ls="none", marker=pill, ms=fs * 1.2, color=c,
                      label=f"{sym}  {text}") for c, sym, _, text in ANSWER_STYLE.values()]
    if own:
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False,
                   fontsize=fs)
    else:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), ncols=4,
                  frameon=False, fontsize=fs)
    if title:
        _title(fig, ax, title, st, own=own, pad=head_off + fs * 1.6 + 8)
    return fig


def _offset(fig, dx_pt: float, dy_pt: float) -> ScaledTranslation:
    """A translation by (dx, dy) points, for placing artists next to an axes."""
    return ScaledTranslation(dx_pt / 72.0, dy_pt / 72.0, fig.dpi_scale_trans)


# ------------------------------------------------------------------------ PRISMA

_PRISMA_KEYS = ("identified", "duplicates", "screened", "excluded_screening", "sought",
                "not_retrieved", "assessed", "excluded_full_text", "studies_included",
                "reports_included")


def _nn(v: Any) -> str:
    """"(n = v)" with non-breaking spaces, so wrapping never splits it."""
    return f"(n\u00a0=\u00a0{v})"


def _prisma_boxes(counts: dict, compact: int) -> list[tuple[list[str], list[str]]]:
    """The text of each row (main box lines, side box lines); ``compact`` 0-2.

    A line starting with an em space is an indented list item (wrapped with a hanging
    indent by the caller).
    """
    c = counts
    src = dict(c.get("by_source") or {})
    reasons = {str(k).replace("_", " "): v for k, v in (c.get("exclusion_reasons") or {}).items()}
    ident = [f"Records identified {_nn(c['identified'])}"]
    if src:
        parts = [f"{k} {_nn(v)}" for k, v in src.items()]
        ident += (["from: " + "; ".join(parts)] if compact else
                  ["from:"] + [f"\u2003{p}" for p in parts])
    excl = [f"Reports excluded {_nn(c['excluded_full_text'])}:"]
    if reasons:
        items = list(reasons.items())
        if compact >= 2 and len(items) > 4:  # keep the largest reasons, sum the rest
            items = sorted(items, key=lambda kv: -kv[1])
            rest = items[3:]
            items = items[:3] + [(f"{len(rest)} other reasons", sum(v for _, v in rest))]
        parts = [f"{k} {_nn(v)}" for k, v in items]
        excl += (["; ".join(parts)] if compact else [f"\u2003{p}" for p in parts])
    included = [f"Studies included in review {_nn(c['studies_included'])}",
                f"Reports of included studies {_nn(c['reports_included'])}"]
    included += [str(x) for x in c.get("included_notes", [])]
    return [
        (ident, ([] if compact else ["Records removed before screening:"])
         + [f"Duplicate records removed {_nn(c['duplicates'])}"]),
        ([f"Records screened {_nn(c['screened'])}"],
         [f"Records excluded {_nn(c['excluded_screening'])}"]),
        ([f"Reports sought for retrieval {_nn(c['sought'])}"],
         [f"Reports not retrieved {_nn(c['not_retrieved'])}"]),
        ([f"Reports assessed for eligibility {_nn(c['assessed'])}"], excl),
        (included, []),
    ]


def prisma_flow(counts: dict, *, style: str = "report", ax=None) -> Figure:
    """PRISMA 2020 flow diagram for a new review that searched databases only.

    Follows the Page et al. (2021) template: a header box, stage labels on the left
    (Identification, Screening, Included), the main column of boxes joined by arrows and,
    to the right, the records or reports removed at each step with their reasons. Long
    text is wrapped to the box width and each box grows to fit its text. On a slide the
    per-source and per-reason lines are run together (and only the three largest reasons
    kept, the rest summed) if that is what it takes to fit the canvas.

    Parameters
    ----------
    counts : dict
        ``identified``, ``duplicates``, ``screened``, ``excluded_screening``, ``sought``,
        ``not_retrieved``, ``assessed``, ``excluded_full_text``, ``studies_included``,
        ``reports_included``; optional ``by_source`` (name -> n), ``exclusion_reasons``
        (reason -> n; underscores are shown as spaces) and ``included_notes`` (extra
        lines for the Included box).
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; its width sets the layout and it should be tall enough for the
        diagram (the figure size is not changed).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ValueError
        If a required count is missing, or (slide) the diagram cannot fit at 18 pt.
    """
    st = _style(style)
    miss = [k for k in _PRISMA_KEYS if k not in counts]
    if miss:
        raise ValueError(f"prisma_flow: counts is missing {', '.join(miss)}")
    slide = style == "slide"
    fs = st["small"] if slide else st["base"]
    lh = _line_h(fs)
    pad = 0.09
    width = st["width"] if ax is None else ax.get_position().width * ax.figure.get_figwidth()
    band_x, band_w = 0.1, (0.36 if not slide else 0.6)
    main_x = band_x + band_w + (0.2 if not slide else 0.3)
    arrow_gap = 0.45 if not slide else 0.6
    main_w = (width - main_x - arrow_gap - 0.1) * 0.47
    side_x = main_x + main_w + arrow_gap
    side_w = width - side_x - 0.1
    vgap = 0.3 if not slide else 0.24
    head_h = lh + 2 * pad

    indent = _text_width("\u2003", fs) + 0.02
    stages = (("Identification", 0, 0), ("Screening", 1, 3), ("Included", 4, 4))
    label_h = {name: _text_width(name, fs, "bold") + 0.2 for name, _, _ in stages}

    def wrap_box(lines, w):
        out = []
        for line in lines:
            if line.startswith("\u2003"):  # list item: hanging indent
                out += ["\u2003" + x for x in _wrap(line[1:], w - 2.5 * pad - indent, fs)]
            else:
                out += _wrap(line, w - 2.5 * pad, fs)
        return out

    def layout(compact):
        rows = []
        for main, side in _prisma_boxes(counts, compact):
            m, s = wrap_box(main, main_w), wrap_box(side, side_w)
            hm = max(len(m), 1) * lh + 2 * pad
            hs = len(s) * lh + 2 * pad if s else 0.0
            rows.append([m, s, hm, hs, max(hm, hs)])
        # single-row stages must be tall enough for their rotated label (Identification's
        # band also runs alongside the header box)
        rows[0][4] = max(rows[0][4], label_h["Identification"] - head_h - vgap)
        rows[4][4] = max(rows[4][4], label_h["Included"])
        total = 0.1 + head_h + vgap + sum(r[4] for r in rows) + vgap * (len(rows) - 1) + 0.1
        return rows, total

    for compact in (0, 1, 2) if slide else (0,):
        rows, total = layout(compact)
        if not slide or total <= st["height"]:
            break
    else:
        raise ValueError("prisma_flow: the diagram does not fit a 16:9 slide at 18 pt; "
                         'use style="report"')
    if ax is None:
        fig = Figure(figsize=(width, st.get("height") or total))
        ax = fig.add_axes((0, 0, 1, 1))
        height = fig.get_figheight()
    else:
        fig = ax.figure
        height = ax.get_position().height * fig.get_figheight()
    ax.set_xlim(0, width)
    ax.set_ylim(max(height, total), 0)
    ax.set_axis_off()
    y = ((height - total) / 2 if height > total else 0.0) + 0.1
    head_top = y
    arrow = {"arrowstyle": "-|>", "mutation_scale": fs * 1.2, "lw": st["lw"] * 0.8,
                 "color": PALETTE["dark"], "shrinkA": 0, "shrinkB": 0}

    def box(x, yy, w, h, lines, *, face="white", gid="box"):
        ax.add_patch(FancyBboxPatch((x, yy), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                                    facecolor=face, edgecolor=PALETTE["dark"],
                                    lw=st["lw"] * 0.7, gid=gid))
        for j, line in enumerate(lines):
            ax.text(x + pad, yy + pad + (j + 0.5) * lh, line, ha="left", va="center",
                    fontsize=fs, gid="box-text")

    box(main_x, y, side_x + side_w - main_x, head_h, [], face=PALETTE["pale_blue"], gid="header")
    ax.text((main_x + side_x + side_w) / 2, y + head_h / 2,
            "Identification of studies via databases and registers", ha="center",
            va="center", fontsize=fs, fontweight="bold")
    y += head_h + vgap
    tops, bottoms, prev_bottom = [], [], None
    for i, (m, s, hm, hs, h) in enumerate(rows):
        mid = y + h / 2
        box(main_x, mid - hm / 2, main_w, hm, m, gid=f"main-{i}")
        if s:
            box(side_x, mid - hs / 2, side_w, hs, s, gid=f"side-{i}")
            ax.add_patch(FancyArrowPatch((main_x + main_w, mid), (side_x, mid), **arrow))
        if prev_bottom is not None:
            ax.add_patch(FancyArrowPatch((main_x + main_w / 2, prev_bottom),
                                         (main_x + main_w / 2, mid - hm / 2), **arrow))
        prev_bottom = mid + hm / 2
        tops.append(y)
        bottoms.append(y + h)
        y += h + vgap
    tops[0] = head_top
    for name, a, b in stages:
        ax.add_patch(FancyBboxPatch((band_x, tops[a]), band_w, bottoms[b] - tops[a],
                                    boxstyle="round,pad=0,rounding_size=0.06",
                                    facecolor=PALETTE["sky"], edgecolor="none", gid="stage"))
        ax.text(band_x + band_w / 2, (tops[a] + bottoms[b]) / 2, name, rotation=90,
                ha="center", va="center", fontsize=fs, fontweight="bold", color="black")
    return fig


# ------------------------------------------------------------------ evidence map


def _design_colour(design: str, seen: list[str]) -> str:
    if design in DESIGN_COLOURS:
        return PALETTE[DESIGN_COLOURS[design]]
    spare = [c for c in SERIES_COLOURS if c not in DESIGN_COLOURS.values()] or ["grey"]
    return PALETTE[spare[seen.index(design) % len(spare)]]


def evidence_map(studies: pd.DataFrame, *, style: str = "report", ax=None) -> Figure:
    """Evidence map: which study reports which outcome, its design and its size.

    A bubble chart with outcomes on the x axis and studies on the y axis (sorted by
    design, then in the order given); bubble area is proportional to the number of
    patients (a small diamond when n is not reported), colour shows the design, and
    hollow markers flag studies known only from the appraised answer or not found.
    Studies whose role is not "treatment" carry it in brackets after their label.

    Parameters
    ----------
    studies : pandas.DataFrame
        Columns ``study_id``, ``label``, ``design``, ``n`` (may be NaN), ``outcomes``
        (";"-separated outcome names), ``verification`` and ``role``.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the legend is placed to its right).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(studies, ["study_id", "label", "design", "n", "outcomes", "verification",
                       "role"], "evidence_map")
    df = studies.reset_index(drop=True).copy()
    rank = {d: i for i, d in enumerate(DESIGN_ORDER)}
    df["_r"] = [rank.get(str(d), len(rank)) for d in df["design"]]
    df = df.sort_values(["_r"], kind="mergesort").reset_index(drop=True)
    outs_per = [[o.strip() for o in str(v).split(";") if o.strip()]
                if not _missing(v) else [] for v in df["outcomes"]]
    seen = list(dict.fromkeys(o for os_ in outs_per for o in os_))
    outcomes = [o for o in OUTCOME_ORDER if o in seen] + [o for o in seen
                                                         if o not in OUTCOME_ORDER]
    nstud = len(df)
    slide = style == "slide"
    own = ax is None
    if own:
        if slide:
            _fits_rows(nstud, st["height"] - 2.6, st["small"], "evidence_map")
        fig = _new_figure(st, 1.9 + 0.42 * nstud)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    nvals = pd.to_numeric(df["n"], errors="coerce")
    nmax = float(nvals.max()) if nvals.notna().any() else 1.0
    amax = (st["row"] * 72 * 1.25) ** 2 if not slide else (0.5 * 72) ** 2

    def area(n):
        return max(amax * n / nmax, st["ms"] ** 2 * 0.35)

    designs = list(dict.fromkeys(str(d) for d in df["design"]))
    for i, r in enumerate(df.itertuples(index=False)):
        colour = _design_colour(str(r.design), designs)
        hollow = str(r.verification) in UNVERIFIED
        n = nvals.iloc[i]
        for o in outs_per[i]:
            x = outcomes.index(o)
            ax.scatter([x], [i], s=[st["ms"] ** 2 * 1.2 if pd.isna(n) else area(float(n))],
                       marker="D" if pd.isna(n) else "o",
                       facecolors="none" if hollow else colour, edgecolors=colour,
                       linewidths=st["lw"] * (1.2 if hollow else 0.5), alpha=0.9, zorder=3,
                       gid="bubble")
    ylab = []
    for r in df.itertuples(index=False):
        role = "" if _missing(r.role) or str(r.role) == "treatment" else f" [{r.role}]"
        ylab.append(f"{r.label}{role}")
    ax.set_yticks(range(nstud), ylab)
    ax.set_ylim(nstud - 0.5, -0.5)
    ax.set_xticks(range(len(outcomes)), [o.replace("_", " ") for o in outcomes],
                  rotation=35, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(outcomes) - 0.4)
    ax.grid(True, color=PALETTE["light"], lw=0.7)
    ax.set_axisbelow(True)
    _tidy_axes(ax, st, left=True)
    ax.tick_params(length=0)
    ax.set_xlabel("Outcome reported", fontsize=st["base"])

    def head(text):
        return Line2D([], [], ls="none", label=text)

    handles = [head("Design")]
    handles += [Line2D([], [], ls="none", marker="o", ms=st["ms"] * 1.3,
                       color=_design_colour(d, designs), label=d.replace("_", " "))
                for d in designs]
    handles.append(head("Source"))
    handles.append(Line2D([], [], ls="none", marker="o", ms=st["ms"] * 1.3,
                          color=PALETTE["dark"], label="found and read"))
    handles.append(Line2D([], [], ls="none", marker="o", ms=st["ms"] * 1.3, mfc="none",
                          mec=PALETTE["dark"], mew=st["lw"], label="answer only / not found"))
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                    frameon=False, fontsize=st["small"], borderaxespad=0, handletextpad=0.6)
    for text, h in zip(leg.get_texts(), handles, strict=True):
        if h.get_marker() in (None, "None", ""):
            text.set_fontweight("bold")
    ax.add_artist(leg)
    refs = [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if v <= nmax]
    refs = sorted({refs[0], refs[len(refs) // 2], refs[-1]}) if refs else []
    sizes = [Line2D([], [], ls="none", marker="o", ms=math.sqrt(area(v)),
                    mfc=PALETTE["grey"], mec=PALETTE["grey"], label=f"{v}") for v in refs]
    if nvals.isna().any():
        sizes.append(Line2D([], [], ls="none", marker="D", ms=st["ms"] * 1.1,
                            color=PALETTE["grey"], label="not\nreported"))
    ax.legend(handles=sizes, loc="lower left", bbox_to_anchor=(1.02, 0.0), frameon=False,
              fontsize=st["small"], title="Patients (n)", title_fontsize=st["small"],
              alignment="left", ncols=max(len(sizes), 1), borderaxespad=0,
              handletextpad=0.3, columnspacing=0.9, handleheight=1.5)
    ax.get_legend().get_title().set_fontweight("bold")
    return fig


# ------------------------------------------------------------------ claims audit

VERDICTS = ("supported", "partly_supported", "discrepant", "unverifiable")


def claims_audit_plot(audit: pd.DataFrame, *, style: str = "report", ax=None) -> Figure:
    """The claims audit at a glance: verdict counts and one chip per claim.

    Top: one horizontal stacked bar of the verdict counts (supported, partly supported,
    discrepant, unverifiable) with the counts printed. Below: one row per claim, its
    coloured verdict chip, id and short text. On a slide only the bar and the first ten
    discrepant or partly supported claims are shown (discrepant first, then in claim
    order).

    Parameters
    ----------
    audit : pandas.DataFrame
        Columns ``claim_id``, ``short`` (60 characters or fewer; longer text is cut with
        an ellipsis) and ``verdict`` (one of the four verdicts above).
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : sequence of two matplotlib.axes.Axes, optional
        ``(bar_ax, list_ax)`` to draw on.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(audit, ["claim_id", "short", "verdict"], "claims_audit_plot")
    bad = set(audit["verdict"]) - set(VERDICTS)
    if bad:
        raise ValueError(f"claims_audit_plot: unknown verdict(s) {sorted(bad)}; valid: "
                         + ", ".join(VERDICTS))
    slide = style == "slide"
    fs = st["small"]
    counts = {v: int((audit["verdict"] == v).sum()) for v in VERDICTS}
    if slide:
        order = {"discrepant": 0, "partly_supported": 1}
        shown = audit[audit["verdict"].isin(list(order))].copy()
        shown["_o"] = shown["verdict"].map(order)
        shown = shown.sort_values(["_o", "claim_id"], kind="mergesort")
        n_flag = len(shown)
        shown = shown.head(10)
    else:
        shown = audit
    n = len(shown)
    bar_h = 0.5 if not slide else 0.75
    head_h = _line_h(st["title"]) + 0.12
    head2_h = _line_h(st["base"] if not slide else fs) + 0.12
    above = 0.15 + head_h + bar_h + _line_h(fs) + 0.3 + head2_h
    if ax is None:
        width = st["width"]
        row = min((st["height"] - above - 0.2) / max(n, 1), 0.55) if slide else _line_h(fs) * 1.35
        height = st.get("height") or (above + n * row + 0.15)
        fig = Figure(figsize=(width, height))
        top = height - 0.15 - head_h
        bar_ax = fig.add_axes((0.03, (top - bar_h) / height, 0.94, bar_h / height))
        list_top = height - above
        list_ax = fig.add_axes((0.03, (list_top - max(n, 1) * row) / height, 0.94,
                                max(n, 1) * row / height))
    else:
        bar_ax, list_ax = ax
        fig = bar_ax.figure
    total = sum(counts.values())
    left = 0
    for v in VERDICTS:
        c = counts[v]
        if c == 0:
            continue
        bar_ax.barh([0], [c], left=left, color=VERDICT_COLOURS[v], edgecolor="white",
                    height=0.8, gid=f"bar-{v}")
        dark_txt = v in ("partly_supported", "unverifiable")
        if c / max(total, 1) * 0.94 * fig.get_figwidth() > _text_width(str(c), fs) + 0.1:
            bar_ax.text(left + c / 2, 0, str(c), ha="center", va="center", fontsize=fs,
                        fontweight="bold", color="black" if dark_txt else "white")
        left += c
    bar_ax.set_xlim(0, max(total, 1))
    bar_ax.set_ylim(-0.5, 0.5)
    bar_ax.set_axis_off()
    bar_ax.set_title(f"Claims audit: {total} claims", loc="left", fontsize=st["title"],
                     fontweight="bold", pad=6)
    handles = [Rectangle((0, 0), 1, 1, color=VERDICT_COLOURS[v],
                         label=f"{v.replace('_', ' ')} ({counts[v]})") for v in VERDICTS]
    bar_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.05), ncols=4,
                  frameon=False, fontsize=fs, handlelength=1.2, borderaxespad=0)

    list_w = list_ax.get_position().width * fig.get_figwidth()
    list_ax.set_xlim(0, list_w)
    list_ax.set_ylim(max(n, 1) - 0.5, -0.5)
    list_ax.set_axis_off()
    chip_w = max(_text_width(v.replace("_", " "), fs) for v in VERDICTS) + 0.2
    id_w = max([_text_width(str(c), fs, "bold") for c in shown["claim_id"]] + [0]) + 0.15
    text_w = list_w - chip_w - id_w - 0.2
    head = ("Discrepant and partly supported claims"
            + (f" (first 10 of {n_flag})" if slide and n_flag > 10 else "")
            if slide else "Claims and verdicts")
    list_ax.set_title(head, loc="left", fontsize=st["base"] if not slide else fs,
                      fontweight="bold", pad=6)
    for i, r in enumerate(shown.itertuples(index=False)):
        v = str(r.verdict)
        list_ax.add_patch(FancyBboxPatch((0.02, i - 0.36), chip_w - 0.04, 0.72,
                                         boxstyle="round,pad=0,rounding_size=0.08",
                                         facecolor=VERDICT_COLOURS[v], edgecolor="none",
                                         gid="chip"))
        dark_txt = v in ("partly_supported", "unverifiable")
        list_ax.text(chip_w / 2, i, v.replace("_", " "), ha="center", va="center",
                     fontsize=fs, color="black" if dark_txt else "white")
        list_ax.text(chip_w + 0.1, i, str(r.claim_id), ha="left", va="center", fontsize=fs,
                     fontweight="bold")
        text = str(r.short)
        while _text_width(text, fs) > text_w and len(text) > 2:
            text = text[:-2].rstrip() + "\u2026"
        list_ax.text(chip_w + 0.1 + id_w, i, text, ha="left", va="center", fontsize=fs,
                     gid="claim-text")
    return fig


# ------------------------------------------------------------------- calibration

_SCENARIO_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")


def calibration_plot(rows: pd.DataFrame, *, nominal: float = 0.95, style: str = "report",
                     ax=None) -> Figure:
    """Coverage of confidence and prediction intervals by method, from a simulation.

    One panel per interval type (confidence, then prediction), side by side. Each method
    is a row; each scenario a marker shape and colour, dodged vertically, with bars of
    +/- 1.96 Monte Carlo standard errors; a dashed vertical line marks the nominal
    coverage. ``median_width`` is not drawn.

    Parameters
    ----------
    rows : pandas.DataFrame
        Columns ``method``, ``scenario``, ``interval`` ("ci" or "pi"), ``coverage`` and
        ``mcse`` (0-1) and ``median_width``.
    nominal : float
        Nominal coverage (0-1), drawn as the reference line.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes or sequence of Axes, optional
        One Axes per interval type present, in the order ci, pi.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(rows, ["method", "scenario", "interval", "coverage", "mcse"], "calibration_plot")
    bad = set(rows["interval"]) - {"ci", "pi"}
    if bad:
        raise ValueError(f"calibration_plot: interval must be 'ci' or 'pi'; got {sorted(bad)}")
    kinds = [k for k in ("ci", "pi") if (rows["interval"] == k).any()]
    methods = list(dict.fromkeys(rows["method"]))
    scenarios = list(dict.fromkeys(rows["scenario"]))
    if ax is None:
        if style == "slide":
            _fits_rows(len(methods), st["height"] - 2.6, st["small"], "calibration_plot")
        fig = _new_figure(st, 1.9 + 0.34 * len(methods) * max(1, len(scenarios) / 3))
        axes = list(fig.subplots(1, len(kinds), sharey=True, squeeze=False)[0])
    else:
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != len(kinds):
            raise ValueError(f"calibration_plot: need {len(kinds)} axes, one per interval "
                             f"type {kinds}")
        fig = axes[0].figure
    nsc = len(scenarios)
    offs = np.linspace(-0.28, 0.28, nsc) if nsc > 1 else np.zeros(1)
    lows = [100 * nominal]
    for a, kind in zip(axes, kinds, strict=True):
        sub = rows[rows["interval"] == kind]
        a.axvline(100 * nominal, color=PALETTE["grey"], ls="--", lw=st["lw"] * 0.8,
                  zorder=1, gid="nominal")
        for j, sc in enumerate(scenarios):
            s = sub[sub["scenario"] == sc]
            if s.empty:
                continue
            y = np.array([methods.index(m) for m in s["method"]]) + offs[j]
            cov = 100 * s["coverage"].to_numpy(float)
            err = 196 * s["mcse"].to_numpy(float)
            lows.append(float(np.nanmin(cov - err)))
            a.errorbar(cov, y, xerr=err, fmt=_SCENARIO_MARKERS[j % len(_SCENARIO_MARKERS)],
                       color=PALETTE[SERIES_COLOURS[j % len(SERIES_COLOURS)]],
                       ms=st["ms"] * 0.9, lw=st["lw"] * 0.8, capsize=0, zorder=3,
                       label=str(sc), gid=f"scenario-{j}")
        a.set_title({"ci": "Confidence interval", "pi": "Prediction interval"}[kind],
                    fontsize=st["base"], fontweight="bold", loc="left")
        a.set_xlabel("Coverage (%)", fontsize=st["base"])
        _tidy_axes(a, st, left=True)
        a.grid(True, axis="x", color=PALETTE["light"], lw=0.6)
        a.set_axisbelow(True)
        a.tick_params(axis="y", length=0)
        for y in np.arange(len(methods) - 1) + 0.5:
            a.axhline(y, color=PALETTE["light"], lw=0.8, zorder=0)
    lo = max(0.0, 5 * math.floor(min(lows) / 5) - 2)
    for a in axes:
        a.set_xlim(lo, 101)
    axes[0].set_yticks(range(len(methods)), [str(m) for m in methods])
    axes[0].set_ylim(len(methods) - 0.5, -0.5)
    handles = [Line2D([], [], ls="none", marker=_SCENARIO_MARKERS[j % len(_SCENARIO_MARKERS)],
                      ms=st["ms"], color=PALETTE[SERIES_COLOURS[j % len(SERIES_COLOURS)]],
                      label=str(sc)) for j, sc in enumerate(scenarios)]
    handles.append(Line2D([], [], color=PALETTE["grey"], ls="--", lw=st["lw"] * 0.8,
                          label=f"nominal {100 * nominal:g}%"))
    if fig.get_layout_engine() is not None:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(nsc + 1, 4),
                   frameon=False, fontsize=st["small"])
    else:
        axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1),
                        frameon=False, fontsize=st["small"])
    return fig
