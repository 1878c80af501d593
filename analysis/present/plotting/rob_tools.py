"""Risk-of-bias traffic-light figure for any of the three tools (RoB 2, ROBINS-I, Murad 2018).

Draws what it is given (no judgement is made here) with the style helpers of
`plotting`: rows are studies (or study x outcome when a tool judged outcomes apart),
columns the tool's domains in its order, the overall judgement last behind a rule. Each
judgement is a coloured pill with a symbol, so the figure reads in grey scale too; "no
information" has its own colour and "?" and is never drawn as high risk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.path import Path
from matplotlib.transforms import Affine2D, blended_transform_factory

from ._axes import _fits_rows, _new_figure, _offset, _title
from ._style import PALETTE, _style
from ._text import _line_h, _text_width, _wrap

__all__ = ["JUDGEMENT_STYLES", "rob_traffic_light_tool"]

_NI = (PALETTE["sky"], "?", "black", "no information")
# tool -> judgement -> (colour, symbol, symbol colour, legend text), in legend order
JUDGEMENT_STYLES = {
    "rob2": {"low": (PALETTE["green"], "+", "white", "low"),
             "some_concerns": (PALETTE["yellow"], "!", "black", "some concerns"),
             "high": (PALETTE["vermillion"], "\u2212", "white", "high"),
             "no_information": _NI},
    "robins_i": {"low": (PALETTE["green"], "+", "white", "low"),
                 "moderate": (PALETTE["yellow"], "\u2212", "black", "moderate"),
                 "serious": (PALETTE["vermillion"], "\u00d7", "white", "serious"),
                 "critical": (PALETTE["black"], "!", "white", "critical"),
                 "no_information": _NI},
    "murad": {"yes": (PALETTE["green"], "+", "white", "yes"),
              "no": (PALETTE["vermillion"], "\u2212", "white", "no"),
              "unclear": (PALETTE["sky"], "?", "black", "unclear (no information)"),
              "not_applicable": ("#C8C8C8", "NA", "black", "not applicable")},
}
# Murad items under their domain headers (first and last column of each)
_MURAD_SPANS = (("Selection", "q1", "q1"), ("Ascertainment", "q2", "q3"), ("Causality", "q4", "q7"),
                ("Reporting", "q8", "q8"))


def _row_keys(rows: pd.DataFrame, labels: dict) -> tuple[list[tuple], list[str]]:
    has_outcome = "outcome" in rows.columns
    keys = list(dict.fromkeys(zip(rows.study_id, rows.outcome if has_outcome else [""] * len(rows), strict=True)))
    text = [str(labels.get(s, s)) + (f" ({o.replace('_', ' ')})" if o and o != "all" else "") for s, o in keys]
    return keys, text


def _check_rows(rows: pd.DataFrame, tool: str) -> dict:
    """The tool's judgement styles; ValueError for an unknown tool, column or judgement."""
    if tool not in JUDGEMENT_STYLES:
        raise ValueError(f"rob_traffic_light_tool: unknown tool {tool!r}; valid: {', '.join(JUDGEMENT_STYLES)}")
    styles = JUDGEMENT_STYLES[tool]
    for col in ("study_id", "domain", "judgement"):
        if col not in rows.columns:
            raise ValueError(f"rob_traffic_light_tool: missing column {col}")
    bad = sorted(set(rows.judgement) - set(styles))
    if bad:
        raise ValueError(f"rob_traffic_light_tool: unknown judgement(s) {bad} for {tool}; valid: {', '.join(styles)}")
    return styles


def _draw_pills(ax, rows: pd.DataFrame, keys: list, domains: list[str], styles: dict, tool: str, pill, pill_h: float,
                fs: float) -> None:
    """One scatter per judgement (gid ``rob-<tool>-<judgement>``) and its symbol in each pill."""
    has_outcome = "outcome" in rows.columns
    cell = {((r.study_id, r.outcome if has_outcome else ""), r.domain): r.judgement for r in rows.itertuples(index=False)}
    for judgement, (colour, sym, tcol, _) in styles.items():
        pts = [(domains.index(d), keys.index(k)) for (k, d), j in cell.items() if j == judgement and d in domains]
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        ax.scatter(xs, ys, s=(pill_h * 1.45) ** 2, marker=pill, color=colour, edgecolors="white", linewidths=0.8,
                   zorder=2, gid=f"rob-{tool}-{judgement}")
        for x, y in pts:
            ax.text(x, y, sym, ha="center", va="center_baseline", fontsize=fs, fontweight="bold", color=tcol, zorder=3)


def _draw_spans(fig, ax, spans, domains: list[str], col_in: float, head_off: float, fs: float, st: dict) -> None:
    """Domain headers with a rule over their items (the Murad tool)."""
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    for name, a, b in spans:
        ia, ib = domains.index(a), domains.index(b)
        text = name if _text_width(name, fs, "bold") <= (ib - ia + 0.9) * col_in else name[:6] + "."
        ax.annotate(text, xy=((ia + ib) / 2, 1), xycoords=tr, xytext=(0, head_off + 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize=fs, fontweight="bold", annotation_clip=False)
        ax.plot([ia - 0.42, ib + 0.42], [1, 1], transform=tr + _offset(fig, 0, head_off), color=PALETTE["dark"],
                lw=st["lw"] * 0.8, clip_on=False, gid="domain-rule")


def rob_traffic_light_tool(rows: pd.DataFrame, *, tool: str, domains: list[str], domain_labels: dict[str, str],
                           labels: dict | None = None, title: str = "", style: str = "report", ax=None) -> Figure:
    """Traffic-light grid of one risk-of-bias tool.

    Parameters
    ----------
    rows : pandas.DataFrame
        Columns ``study_id``, ``domain`` (a domain code, or the Murad item) and
        ``judgement``; optional ``outcome`` (one row of the grid per study and outcome).
    tool : {"rob2", "robins_i", "murad"}
        Sets the judgement colours and symbols (`JUDGEMENT_STYLES`).
    domains : list of str
        Column order; a column named ``overall`` is set apart by a rule.
    domain_labels : dict
        Domain code -> column heading.
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
    styles = _check_rows(rows, tool)
    keys, ylab = _row_keys(rows, labels or {})
    n, m = len(keys), len(domains)
    slide, own, fs = style == "slide", ax is None, st["small"]
    if own and not slide:
        st["width"] = 9.0
    width = st["width"] if own else ax.figure.get_figwidth()
    label_w = max(_text_width(x, st["base"]) for x in ylab) + 0.3
    col_in = max((width - label_w - 0.4) / m, 0.45)
    heads = ([domain_labels[d].split(" ")[0] for d in domains] if slide else
             ["\n".join(_wrap(domain_labels[d], col_in * 0.95, fs, break_words=False)) for d in domains])
    n_lines = max(h.count("\n") + 1 for h in heads)
    spans = _MURAD_SPANS if tool == "murad" else ()
    head_off = 4 + n_lines * fs * 1.25 + 6
    head_in = (head_off + (fs * 1.6 + 6 if spans else 0)) / 72
    legend_in = 2 * _line_h(fs) + 0.35
    title_in = _line_h(st["title"]) + 0.1 if title else 0.0
    if own:
        row_h = (_fits_rows(n, st["height"] - head_in - legend_in - title_in - 0.35, fs, "rob_traffic_light_tool")
                 if slide else 0.3)
        fig = _new_figure(st, head_in + legend_in + title_in + 0.3 + n * row_h)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
        row_h = ax.get_position().height * fig.get_figheight() / max(n, 1)
    ax.set_xlim(-0.5, m - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    pill = Path.unit_circle().transformed(Affine2D().scale(1.45, 1.0))
    _draw_pills(ax, rows, keys, domains, styles, tool, pill, max(min(row_h * 0.8, col_in * 0.55) * 72, fs * 1.15), fs)
    ax.set_yticks(range(n), ylab, fontsize=st["base"])
    ax.tick_params(axis="y", length=0, labelsize=st["base"])
    ax.xaxis.tick_top()
    ax.set_xticks(range(m), heads)
    ax.tick_params(axis="x", length=0, labelsize=fs, pad=4)
    for tick, d in zip(ax.get_xticklabels(), domains, strict=True):
        if d == "overall":
            tick.set_fontweight("bold")
    for sp in ax.spines.values():
        sp.set_visible(False)
    for y in np.arange(n - 1) + 0.5:
        ax.axhline(y, color=PALETTE["light"], lw=0.8, zorder=0)
    if "overall" in domains:
        ax.axvline(domains.index("overall") - 0.5, color=PALETTE["dark"], lw=st["lw"] * 0.8, zorder=1,
                   gid="overall-rule")
    _draw_spans(fig, ax, spans, domains, col_in, head_off, fs, st)
    handles = [Line2D([], [], ls="none", marker=pill, ms=fs * 1.2, color=c, label=f"{sym}  {text}")
               for c, sym, _, text in styles.values()]
    ncols = min(len(handles), 3 if slide else 5)
    if own:
        fig.legend(handles=handles, loc="outside lower center", ncols=ncols, frameon=False, fontsize=fs)
    else:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), ncols=ncols, frameon=False,
                  fontsize=fs)
    if title:
        _title(fig, ax, title, st, own=own, pad=head_off + (fs * 1.6 + 8 if spans else 6))
    return fig
