"""Forest plot of single proportions, laid out like a published prevalence forest plot.

The layout is measured first (texts, column widths in inches, rows in data units) into a
``_Forest`` record, then drawn: header and rule, one row per study, the pooled diamond and
prediction bar, the heterogeneity footer and the title.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.transforms import blended_transform_factory

from ._axes import _fits_rows, _percent_axis, _tidy_axes
from ._style import PALETTE, _style
from ._text import _ci_text, _label, _line_h, _missing, _pct, _text_width, _wrap


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
    f = _Forest(pooled, st, style == "slide", title)
    _measure_texts(f, labels or {}, designs or {})
    _measure_columns(f, ax)
    _measure_rows(f)
    fig, ax = _forest_axes(f, ax)
    put = _Writer(f, ax)
    _draw_table_head(f, ax, put)
    _draw_studies(f, ax, put)
    _draw_pooled(f, ax, put)
    _draw_footer(f, ax)
    return fig


class _Forest:
    """What is known about one forest plot before it is drawn: the texts, the column widths
    (inches) and the rows (data units, y growing downwards: header 0, studies 1..k, pooled,
    prediction interval). Filled in by the ``_measure_*`` helpers in turn."""

    def __init__(self, pooled: dict, st: dict, slide: bool, title: str) -> None:
        self.pooled, self.st, self.slide, self.title = pooled, st, slide, title
        self.studies = list(pooled.get("studies") or [])
        if not self.studies:
            raise ValueError("forest_plot: pooled['studies'] is empty")
        self.fs, self.fsb = (st["small"], st["small"]) if slide else (st["base"], st["base"])


def _measure_texts(f: _Forest, labels: dict, designs: dict) -> None:
    """Every text of the table: study names and designs, CI and weight columns, totals."""
    studies, pooled = f.studies, f.pooled
    f.names = [_label(labels, s["study_id"]) for s in studies]
    f.des = ["" if _missing(designs.get(s["study_id"])) else str(designs[s["study_id"]])
             for s in studies]
    f.weights = [None if _missing(s.get("weight")) else float(s["weight"]) for s in studies]
    f.has_w = any(w is not None for w in f.weights)
    f.has_pi = not _missing(pooled.get("pi_low")) and not _missing(pooled.get("pi_high"))
    f.ci_txt = [_ci_text(s["proportion"], s["ci_low"], s["ci_high"]) for s in studies]
    f.w_txt = ["n/a" if w is None else f"{w:.1f}%" for w in f.weights]
    f.pooled_ci = _ci_text(pooled["estimate"], pooled["ci_low"], pooled["ci_high"])
    f.pi_txt = (f"{_pct(pooled['pi_low']):.1f}\u2013{_pct(pooled['pi_high']):.1f}"
                if f.has_pi else "")
    f.tot_e = sum(int(s["events"]) for s in studies)
    f.tot_n = sum(int(s["n"]) for s in studies)


def _measure_columns(f: _Forest, ax) -> None:
    """Column widths, the figure width, and the pooled label (wrapped if it is too long)."""
    fs, fsb, st, slide = f.fs, f.fsb, f.st, f.slide
    f.gap = fs / 72.0 * 1.1

    def colw(items, head):
        return max([_text_width(x, fs) for x in items] + [_text_width(head, fsb, "bold")])

    f.w_study = colw(f.names + ["Prediction interval"], "Study")
    show_design = any(f.des)
    f.w_design = colw(f.des, "Design") if show_design else 0.0
    f.w_ev = colw([str(f.tot_e)], "Events")
    f.w_n = colw([str(f.tot_n)], "N")
    f.w_ci = colw(f.ci_txt + [f.pooled_ci, f.pi_txt], "% (95% CI)")
    f.w_w = colw(f.w_txt + ["100%"], "Weight")
    f.margin = 0.12 if not slide else 0.25
    f.right_w = f.gap + f.w_ci + f.gap + f.w_w + f.margin
    if ax is None:
        width = st["width"]
        min_panel = 2.6 if not slide else 3.2
        if slide and width - _left_width(f, show_design) - f.right_w < min_panel:
            show_design = False  # fewer columns so the panel keeps a readable width
        if not slide:
            width = min(max(width, _left_width(f, show_design) + f.right_w + min_panel), 9.5)
    else:
        width = ax.figure.get_figwidth()
    f.show_design, f.width = show_design, width
    f.left_w = _left_width(f, show_design)
    _measure_pooled_label(f)


def _left_width(f: _Forest, design: bool) -> float:
    """Inches left of the panel: Study (and Design) then Events and N."""
    return (f.margin + f.w_study + (f.gap + f.w_design if design else 0) + 2 * f.gap + f.w_ev
            + f.w_n + f.gap)


def _measure_pooled_label(f: _Forest) -> None:
    """"Pooled (label)" on one line if it fits the name columns, else bold "Pooled" and the
    model label wrapped under it; the study column widens if even that does not fit."""
    fs, fsb = f.fs, f.fsb
    block = f.w_study + (f.gap + f.w_design if f.show_design else 0)
    label = f.pooled.get("label")
    label = None if _missing(label) else label
    one_line = f"Pooled ({label})" if label else "Pooled"
    if _text_width(one_line, fsb, "bold") <= block:
        f.plines = [one_line]
    else:  # bold "Pooled", then the model label in regular weight, wrapped to the column
        f.plines = ["Pooled"] + _wrap(str(label), max(block, 0.3 * f.width - f.margin), fs)
    extra = max([_text_width(f.plines[0], fsb, "bold")]
                + [_text_width(x, fs) for x in f.plines[1:]])
    if extra - block > 0:  # widen the study column so the pooled label fits
        f.w_study += extra - block
        f.left_w += extra - block


def _measure_rows(f: _Forest) -> None:
    """Row height (inches) and the y of every row; on a slide the rows must fit at 18 pt."""
    st, fs = f.st, f.fs
    f.k = len(f.studies)
    f.y_st = np.arange(1, f.k + 1, dtype=float)
    f.y_cursor = f.k + 0.6
    f.n_foot = 1 if f.slide else 2
    f.title_h = (_line_h(st["title"]) + 0.12) if f.title else 0.12
    f.axis_h = _line_h(st["small"]) + _line_h(st["base"]) + 0.2
    f.foot_h = f.n_foot * _line_h(st["small"]) + 0.15
    if f.slide:
        avail = st["height"] - f.title_h - f.axis_h - f.foot_h
        row = _fits_rows(_rows_needed(f, 0.4)[1] + 0.5, avail, fs, "forest_plot")
        row = _fits_rows(_rows_needed(f, row)[1] + 0.5, avail, fs, "forest_plot")
    else:
        row = max(st["row"], _line_h(fs) * 1.25)
    f.row = row
    f.rows_per_line = _line_h(f.fsb) / row
    f.pooled_h = _rows_needed(f, row)[0]
    f.y_pool = f.y_cursor + f.pooled_h / 2
    f.y_pi = f.y_cursor + f.pooled_h + 0.5
    f.y_max = (f.y_pi if f.has_pi else f.y_pool + f.pooled_h / 2 - 0.5) + 0.5


def _rows_needed(f: _Forest, row_in: float) -> tuple[float, float]:
    """(rows taken by the pooled label, rows in all) at a row height of ``row_in``."""
    p_h = max(1.0, len(f.plines) * _line_h(f.fsb) / row_in + 0.3)
    return p_h, f.y_cursor + p_h + (1.0 if f.has_pi else 0.0) + 0.5


def _forest_axes(f: _Forest, ax):
    """The centre panel: a new figure sized to the table, or the caller's axes."""
    st = f.st
    if ax is None:
        width = f.width
        height = st.get("height") or (f.title_h + (f.y_max + 0.5) * f.row + f.axis_h + f.foot_h)
        fig = Figure(figsize=(width, height))
        panel = max(width - f.left_w - f.right_w, 1.0)
        used = (f.y_max + 0.5) * f.row
        ax = fig.add_axes((f.left_w / width, (height - f.title_h - used) / height, panel / width,
                           used / height))
    else:
        fig = ax.figure
    pos = ax.get_position()
    f.ax_w = pos.width * fig.get_figwidth()
    ax.set_ylim(f.y_max + 0.5, -0.5)
    _percent_axis(ax, st)
    _tidy_axes(ax, st)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    # column x positions, inches from the panel's left (negative) or right edge
    f.x_study = -(f.left_w - f.margin)
    f.x_design = f.x_study + f.w_study + f.gap
    f.x_ev = (f.x_design + f.w_design + f.gap if f.show_design
              else f.x_study + f.w_study + f.gap) + f.w_ev
    f.x_n = f.x_ev + f.gap + f.w_n
    f.x_ci = f.gap + f.w_ci
    f.x_w = f.x_ci + f.gap + f.w_w
    return fig, ax


class _Writer:
    """Puts a table text at ``x_in`` inches from the panel's left (or, with ``right``, its
    right) edge and at row ``y`` in data units."""

    def __init__(self, f: _Forest, ax) -> None:
        self.f, self.ax = f, ax
        self.tr = blended_transform_factory(ax.transAxes, ax.transData)

    def __call__(self, x_in, y, s, *, right=False, bold=False, ha=None, size=None, **kw):
        f = self.f
        x = (1.0 + x_in / f.ax_w) if right else (x_in / f.ax_w)
        self.ax.text(x, y, s, transform=self.tr, ha=ha or "left", va="center", clip_on=False,
                     fontsize=size or (f.fsb if bold else f.fs),
                     fontweight="bold" if bold else "normal", **kw)


def _draw_table_head(f: _Forest, ax, put: _Writer) -> None:
    heads = [(f.x_study, "Study", "left", False), (f.x_ev, "Events", "right", False),
             (f.x_n, "N", "right", False), (f.x_ci, "% (95% CI)", "right", True),
             (f.x_w, "Weight", "right", True)]
    if f.show_design:
        heads.insert(1, (f.x_design, "Design", "left", False))
    for x, s, ha, right in heads:
        put(x, 0, s, right=right, bold=True, ha=ha)
    rule = Line2D([f.x_study / f.ax_w, 1 + f.x_w / f.ax_w], [0.5, 0.5], transform=put.tr,
                  color=PALETTE["dark"], lw=f.st["lw"] * 0.6, clip_on=False)
    ax.add_line(rule)


def _draw_studies(f: _Forest, ax, put: _Writer) -> None:
    """One row per study: its texts, its CI line, and squares sized by weight if any."""
    st = f.st
    for i, s in enumerate(f.studies):
        y = f.y_st[i]
        put(f.x_study, y, f.names[i])
        if f.show_design:
            put(f.x_design, y, f.des[i], color=PALETTE["dark"])
        put(f.x_ev, y, str(int(s["events"])), ha="right")
        put(f.x_n, y, str(int(s["n"])), ha="right")
        put(f.x_ci, y, f.ci_txt[i], right=True, ha="right")
        put(f.x_w, y, f.w_txt[i], right=True, ha="right")
        ax.plot([_pct(s["ci_low"]), _pct(s["ci_high"])], [y, y], color=PALETTE["dark"],
                lw=st["lw"], solid_capstyle="butt", gid="study-ci", clip_on=False, zorder=2)
    max_side = min(f.row * 72 * 0.85, st["ms"] * 2.2)
    if f.has_w:
        wmax = max(w for w in f.weights if w is not None)
        sides = [st["ms"] if w is None else max(max_side * math.sqrt(w / wmax), st["ms"] * 0.5)
                 for w in f.weights]
    else:
        sides = [st["ms"]] * f.k
    ax.scatter([_pct(s["proportion"]) for s in f.studies], f.y_st, s=np.square(sides),
               marker="s", color=PALETTE["blue"], edgecolors="none", zorder=3, clip_on=False,
               gid="study-points")


def _draw_pooled(f: _Forest, ax, put: _Writer) -> None:
    """The pooled row (label, totals, diamond) and the prediction-interval row."""
    pooled, plines = f.pooled, f.plines
    for j, line in enumerate(plines):
        put(f.x_study, f.y_pool + (j - (len(plines) - 1) / 2) * f.rows_per_line, line,
            bold=j == 0)
    put(f.x_ev, f.y_pool, str(f.tot_e), ha="right", bold=True)
    put(f.x_n, f.y_pool, str(f.tot_n), ha="right", bold=True)
    put(f.x_ci, f.y_pool, f.pooled_ci, right=True, ha="right", bold=True)
    if f.has_w:
        put(f.x_w, f.y_pool, "100%", right=True, ha="right", bold=True)
    half = min(0.38, 0.45 * f.pooled_h)
    est, y_pool = _pct(pooled["estimate"]), f.y_pool
    if not any(_missing(pooled[c]) for c in ("estimate", "ci_low", "ci_high")):
        ax.add_patch(Polygon(
            [(_pct(pooled["ci_low"]), y_pool), (est, y_pool - half),
             (_pct(pooled["ci_high"]), y_pool), (est, y_pool + half)],
            closed=True, facecolor=PALETTE["vermillion"], edgecolor=PALETTE["vermillion"],
            gid="pooled-diamond", zorder=3, clip_on=False))
    if f.has_pi:
        put(f.x_study, f.y_pi, "Prediction interval")
        put(f.x_ci, f.y_pi, f.pi_txt, right=True, ha="right")
        lo, hi = _pct(pooled["pi_low"]), _pct(pooled["pi_high"])
        ax.add_patch(Rectangle((lo, f.y_pi - 0.16), hi - lo, 0.32,
                               facecolor=PALETTE["vermillion"], alpha=0.55, edgecolor="none",
                               gid="prediction-interval", clip_on=False))


def _footer_lines(f: _Forest) -> list[str]:
    """Heterogeneity line, then (report only) the study-CI method and a weights note."""
    pooled = f.pooled
    foot = []
    if not _missing(pooled.get("tau2")):
        foot.append(f"\u03c4\u00b2 = {pooled['tau2']:.3g}")
    if not _missing(pooled.get("i2")):
        foot.append(f"I\u00b2 = {pooled['i2']:.1f}%")
    foot.append(f"k = {f.k if _missing(pooled.get('k')) else pooled['k']}")
    lines = ["Heterogeneity: " + "; ".join(foot)]
    if not f.slide:
        m = pooled.get("methods") or {}
        note = []
        if m.get("study_ci_method"):
            note.append(f"Study CIs: {m['study_ci_method']}")
        if not f.has_w:
            note.append("study weights are not defined for this model (n/a)")
        if note:
            lines.append("; ".join(note)[:1].upper() + "; ".join(note)[1:])
    return lines


def _draw_footer(f: _Forest, ax) -> None:
    """The footer lines under the axis label, and the title above the table."""
    st = f.st
    for j, line in enumerate(_footer_lines(f)[:f.n_foot]):
        ax.annotate(line, xy=(f.x_study / f.ax_w, 0), xycoords="axes fraction",
                    xytext=(0, -(f.axis_h * 72 + j * _line_h(st["small"]) * 72)),
                    textcoords="offset points", va="top", ha="left", fontsize=st["small"],
                    color=PALETTE["dark"], annotation_clip=False)
    if f.title:
        ax.annotate(f.title, xy=(f.x_study / f.ax_w, 1), xycoords="axes fraction",
                    xytext=(0, 4), textcoords="offset points", va="bottom", ha="left",
                    fontsize=st["title"], fontweight="bold", annotation_clip=False)
