"""Interval dot plots beside the forest plot: the pooled proportion under every method and
scenario (sensitivity) and re-fitted without each study (leave-one-out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

from ._axes import (
    _fits_rows,
    _legend_below,
    _new_figure,
    _percent_axis,
    _require,
    _tidy_axes,
    _title,
)
from ._style import PALETTE, _style
from ._text import _ci_text, _label, _line_h, _missing, _pct, _str


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


# ------------------------------------------------------------------- sensitivity


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
    ys, ylabels, bold, entries, n_rows = _grouped_rows(rows)
    own = ax is None
    if own:
        if style == "slide":
            _fits_rows(n_rows, st["height"] - 2.4, st["small"], "sensitivity_plot")
        fig = _new_figure(st, 1.6 + n_rows * st["row"] + (_line_h(st["title"]) if title else 0))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.set_ylim(n_rows - 0.5, -0.7)
    _draw_sensitivity_marks(ax, st, entries)
    ax.set_yticks(ys, ylabels)
    for lab, b in zip(ax.get_yticklabels(), bold, strict=True):
        lab.set_fontweight("bold" if b else "normal")
    _percent_axis(ax, st)
    _tidy_axes(ax, st)
    ax.tick_params(axis="y", length=0)
    right = [_estimate_k_text(r) for _, r in entries]
    _right_labels(ax, st, [e[0] for e in entries], right, header="% (95% CI)")
    _legend_below(fig, ax, _sensitivity_handles(st), st, ncols=3, own=own)
    if title:
        _title(fig, ax, title, st, own=own)
    return fig


def _estimate_k_text(r) -> str:
    """"74% (59\u201385), k = 6"; "n/a" for whatever is missing."""
    if _missing(r.estimate):
        est = "n/a"
    elif _missing(r.ci_low) or _missing(r.ci_high):
        est = f"{_pct(r.estimate):.0f}% (CI n/a)"
    else:
        est = f"{_pct(r.estimate):.0f}% ({_pct(r.ci_low):.0f}\u2013{_pct(r.ci_high):.0f})"
    return est + f", k = {'n/a' if _missing(r.k) else int(r.k)}"


def _grouped_rows(rows: pd.DataFrame):
    """(tick ys, tick labels, bold flags, (y, row) entries, rows in all): each group is a
    bold header row followed by its analyses, with a small gap between groups."""
    groups = list(dict.fromkeys(rows["group"]))
    ys, ylabels, bold, y = [], [], [], 0.0
    entries = []
    for g in groups:
        ys.append(y)
        ylabels.append(_str(g))
        bold.append(True)
        y += 1
        for r in rows[rows["group"] == g].itertuples(index=False):
            entries.append((y, r))
            ys.append(y)
            ylabels.append(_str(r.label))
            bold.append(bool(r.primary))
            y += 1
        y += 0.3
    return ys, ylabels, bold, entries, y - 0.3


def _draw_sensitivity_marks(ax, st: dict, entries: list) -> None:
    """Primary line and band, prediction intervals, then every point and CI."""
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


def _sensitivity_handles(st: dict) -> list:
    return [Line2D([], [], color=PALETTE["dark"], lw=st["lw"], marker="o",
                   mfc=PALETTE["blue"], mec=PALETTE["blue"], ms=st["ms"] * 0.8,
                   label="estimate, 95% CI"),
            Line2D([], [], color=PALETTE["sky"], lw=st["lw"] * 0.8,
                   label="95% prediction interval"),
            Line2D([], [], color=PALETTE["vermillion"], marker="D", ls="none",
                   ms=st["ms"], label="primary analysis")]


# ----------------------------------------------------------------- leave-one-out


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
    has_ci = not (_missing(full["ci_low"]) or _missing(full["ci_high"]))
    if has_ci:
        ax.axvspan(lo, hi, color=PALETTE["pale_vermillion"], zorder=0, lw=0, gid="full-ci-band")
    if not _missing(full["estimate"]):
        ax.axvline(est, color=PALETTE["vermillion"], lw=st["lw"] * 0.7, ls=":", zorder=1)
    _interval_rows(ax, st, ys[:k], [_pct(v) for v in rows["estimate"]],
                   [_pct(v) for v in rows["ci_low"]], [_pct(v) for v in rows["ci_high"]],
                   colours=[PALETTE["blue"]] * k, markers=["s"] * k, sizes=[st["ms"]] * k)
    yd = ys[-1]
    if has_ci and not _missing(full["estimate"]):
        ax.add_patch(Polygon([(lo, yd), (est, yd - 0.33), (hi, yd), (est, yd + 0.33)],
                             facecolor=PALETTE["vermillion"], edgecolor="none", zorder=3,
                             gid="pooled-diamond"))
    ylabels = [f"Omitting {_label(labels, s)}" for s in rows["omitted"]] + ["All studies"]
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
