"""Risk-of-bias traffic-light grid for the Murad et al. (2018) case-series tool."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.path import Path
from matplotlib.transforms import Affine2D, blended_transform_factory

from ._axes import _fits_rows, _new_figure, _offset, _require, _title
from ._style import ANSWER_STYLE, PALETTE, _style
from ._text import _label, _line_h, _text_width, _wrap

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
# (domain header, first and last item column)
_DOMAIN_SPANS = [("Selection", 0, 0), ("Ascertainment", 1, 2), ("Causality", 3, 6),
                 ("Reporting", 7, 7)]
_SHORT_DOMAINS = {"Selection": "Select.", "Ascertainment": "Ascert.", "Reporting": "Report."}


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
    judged = appraisal[appraisal["answer"].notna()]  # a missing judgement: an empty cell
    bad = set(judged["answer"]) - set(ANSWER_STYLE)
    if bad:
        raise ValueError(f"rob_traffic_light: unknown answer(s) {sorted(bad)}; valid: "
                         + ", ".join(ANSWER_STYLE))
    labels = labels or {}
    studies = list(dict.fromkeys(appraisal["study_id"]))
    items = list(MURAD_ITEMS)
    n = len(studies)
    fs = st["small"]
    own = ax is None
    ylab = [_label(labels, s) for s in studies]
    if own and style != "slide":
        st["width"] = 9.0  # eight item columns need the room
    width = st["width"] if own else ax.figure.get_figwidth()
    label_w = max(_text_width(x, st["base"]) for x in ylab) + 0.3
    col_in = max((width - label_w - 0.4) / len(items), 0.4)
    item_labels = _item_labels(items, col_in, fs, style == "slide")
    n_lines = max(lab.count("\n") + 1 for lab in item_labels)
    head_off = 4 + n_lines * fs * 1.25 + 6  # points above the axes for the domain rules
    fig, ax, row_h = _rob_axes(st, ax, n, head_off, title, style == "slide")
    ax.set_xlim(-0.5, len(items) - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    pill_h = max(min(row_h * 0.8, col_in * 0.55) * 72, fs * 1.15)
    pill = Path.unit_circle().transformed(Affine2D().scale(1.45, 1.0))
    _draw_judgements(ax, judged, studies, items, pill, pill_h, fs)
    ax.set_yticks(range(n), ylab, fontsize=st["base"])
    ax.tick_params(axis="y", length=0, labelsize=st["base"])
    ax.xaxis.tick_top()
    ax.set_xticks(range(len(items)), item_labels)
    ax.tick_params(axis="x", length=0, labelsize=fs, pad=4)
    for sp in ax.spines.values():
        sp.set_visible(False)
    for y in np.arange(n - 1) + 0.5:
        ax.axhline(y, color=PALETTE["light"], lw=0.8, zorder=0)
    _draw_domains(fig, ax, st, col_in, head_off)
    _rob_legend(fig, ax, pill, fs, own=own)
    if title:
        _title(fig, ax, title, st, own=own, pad=head_off + fs * 1.6 + 8)
    return fig


def _item_labels(items: list[str], col_in: float, fs: float, slide: bool) -> list[str]:
    """Column heads: the item text wrapped to its column; item numbers only on a slide."""
    if slide:  # fewer annotations: item numbers only, under the domain headers
        return [MURAD_ITEMS[i][1].split(" ")[0] for i in items]
    return ["\n".join(_wrap(MURAD_ITEMS[i][1], col_in * 0.92, fs, break_words=False))
            for i in items]


def _rob_axes(st: dict, ax, n: int, head_off: float, title: str, slide: bool):
    """(figure, axes, row height in inches): a new figure tall enough for the column heads,
    the rows, the legend and the title, or the caller's axes."""
    fs = st["small"]
    if ax is not None:
        fig = ax.figure
        return fig, ax, ax.get_position().height * fig.get_figheight() / max(n, 1)
    head_in = (head_off + fs * 1.6 + 6) / 72
    legend_in = _line_h(fs) + 0.35
    title_in = _line_h(st["title"]) + 0.1 if title else 0.0
    if slide:
        row_h = _fits_rows(n, st["height"] - head_in - legend_in - title_in - 0.35, fs,
                           "rob_traffic_light")
    else:
        row_h = 0.3
    fig = _new_figure(st, head_in + legend_in + title_in + 0.3 + n * row_h)
    return fig, fig.add_subplot(), row_h


def _draw_judgements(ax, appraisal: pd.DataFrame, studies: list, items: list, pill, pill_h: float,
                     fs: float) -> None:
    """One pill per judgement, coloured by answer, with its symbol inside."""
    lookup = {(r.study_id, r.item): r.answer for r in appraisal.itertuples(index=False)}
    for answer, (colour, sym, tcol, _) in ANSWER_STYLE.items():
        pts = [(items.index(it), studies.index(sid)) for (sid, it), a in lookup.items()
               if a == answer and it in items]
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        ax.scatter(xs, ys, s=(pill_h * 1.45) ** 2, marker=pill, color=colour,
                   edgecolors="white", linewidths=0.8, zorder=2, gid=f"rob-{answer}")
        for x, y in pts:
            ax.text(x, y, sym, ha="center", va="center_baseline", fontsize=fs,
                    fontweight="bold", color=tcol, zorder=3)


def _draw_domains(fig, ax, st: dict, col_in: float, head_off: float) -> None:
    """Bold domain headers over rules spanning their items (abbreviated if any is too wide)."""
    fs = st["small"]
    spans = _DOMAIN_SPANS
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    if any(_text_width(name, fs, "bold") > (b - a + 0.9) * col_in for name, a, b in spans):
        spans = [(_SHORT_DOMAINS.get(name, name), a, b) for name, a, b in spans]
    for name, a, b in spans:
        ax.annotate(name, xy=((a + b) / 2, 1), xycoords=tr, xytext=(0, head_off + 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=fs,
                    fontweight="bold", annotation_clip=False)
        ax.plot([a - 0.42, b + 0.42], [1, 1], transform=tr + _offset(fig, 0, head_off),
                color=PALETTE["dark"], lw=st["lw"] * 0.8, clip_on=False, gid="domain-rule")


def _rob_legend(fig, ax, pill, fs: float, *, own: bool) -> None:
    handles = [Line2D([], [], ls="none", marker=pill, ms=fs * 1.2, color=c,
                      label=f"{sym}  {text}") for c, sym, _, text in ANSWER_STYLE.values()]
    if own:
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False,
                   fontsize=fs)
    else:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), ncols=4,
                  frameon=False, fontsize=fs)
