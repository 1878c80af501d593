"""The claims audit at a glance: verdict counts and one chip per claim."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from ._axes import _require
from ._style import VERDICT_COLOURS, _style
from ._text import _line_h, _shortened_text, _str, _text_width

VERDICTS = ("supported", "partly_supported", "discrepant", "unverifiable")
_DARK_TEXT = ("partly_supported", "unverifiable")  # light fills: black text on them


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
        Columns ``claim_id``, ``short`` (the claim; text wider than its row is cut with
        an ellipsis and kept whole as the text's label, an SVG tooltip once saved by
        ``figures.save_figure``) and ``verdict`` (one of the four verdicts above).
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
    counts = {v: int((audit["verdict"] == v).sum()) for v in VERDICTS}
    shown, n_flag = _shown_claims(audit, slide)
    if ax is None:
        fig, bar_ax, list_ax = _audit_axes(st, len(shown), slide)
    else:
        bar_ax, list_ax = ax
        fig = bar_ax.figure
    _draw_verdict_bar(fig, bar_ax, st, counts)
    _draw_claim_list(fig, list_ax, st, shown, slide, n_flag)
    return fig


def _shown_claims(audit: pd.DataFrame, slide: bool) -> tuple[pd.DataFrame, int]:
    """(the claims listed, how many are flagged): on a slide the first ten discrepant or
    partly supported claims, discrepant first; in a report every claim."""
    if not slide:
        return audit, 0
    order = {"discrepant": 0, "partly_supported": 1}
    shown = audit[audit["verdict"].isin(list(order))].copy()
    shown["_o"] = shown["verdict"].map(order)
    shown = shown.sort_values(["_o", "claim_id"], kind="mergesort")
    return shown.head(10), len(shown)


def _audit_axes(st: dict, n: int, slide: bool):
    """A new figure with the bar axes on top and the list axes below, sized to ``n`` rows."""
    fs = st["small"]
    bar_h = 0.5 if not slide else 0.75
    head_h = _line_h(st["title"]) + 0.12
    head2_h = _line_h(st["base"] if not slide else fs) + 0.12
    above = 0.15 + head_h + bar_h + _line_h(fs) + 0.3 + head2_h
    width = st["width"]
    row = min((st["height"] - above - 0.2) / max(n, 1), 0.55) if slide else _line_h(fs) * 1.35
    height = st.get("height") or (above + n * row + 0.15)
    fig = Figure(figsize=(width, height))
    top = height - 0.15 - head_h
    bar_ax = fig.add_axes((0.03, (top - bar_h) / height, 0.94, bar_h / height))
    list_top = height - above
    list_ax = fig.add_axes((0.03, (list_top - max(n, 1) * row) / height, 0.94,
                            max(n, 1) * row / height))
    return fig, bar_ax, list_ax


def _draw_verdict_bar(fig, bar_ax, st: dict, counts: dict) -> None:
    """The stacked bar of verdict counts (a count printed where it fits), title, legend."""
    fs = st["small"]
    total = sum(counts.values())
    left = 0
    for v in VERDICTS:
        c = counts[v]
        if c == 0:
            continue
        bar_ax.barh([0], [c], left=left, color=VERDICT_COLOURS[v], edgecolor="white",
                    height=0.8, gid=f"bar-{v}")
        dark_txt = v in _DARK_TEXT
        if c / max(total, 1) * 0.94 * fig.get_figwidth() > _text_width(str(c), fs) + 0.1:
            bar_ax.text(left + c / 2, 0, str(c), ha="center", va="center", fontsize=fs,
                        fontweight="bold", color="black" if dark_txt else "white")
        left += c
    bar_ax.set_xlim(0, max(total, 1))
    bar_ax.set_ylim(-0.5, 0.5)
    bar_ax.set_axis_off()
    bar_ax.set_title(f"Claims audit: {total} claim{'' if total == 1 else 's'}", loc="left", fontsize=st["title"],
                     fontweight="bold", pad=6)
    handles = [Rectangle((0, 0), 1, 1, color=VERDICT_COLOURS[v],
                         label=f"{v.replace('_', ' ')} ({counts[v]})") for v in VERDICTS]
    bar_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.05), ncols=4,
                  frameon=False, fontsize=fs, handlelength=1.2, borderaxespad=0)


def _draw_claim_list(fig, list_ax, st: dict, shown: pd.DataFrame, slide: bool,
                     n_flag: int) -> None:
    """One row per claim: verdict chip, claim id, and its text (cut to the width with an
    ellipsis if need be)."""
    fs = st["small"]
    n = len(shown)
    list_w = list_ax.get_position().width * fig.get_figwidth()
    list_ax.set_xlim(0, list_w)
    list_ax.set_ylim(max(n, 1) - 0.5, -0.5)
    list_ax.set_axis_off()
    chip_w = max(_text_width(v.replace("_", " "), fs) for v in VERDICTS) + 0.2
    id_w = max([_text_width(_str(c), fs, "bold") for c in shown["claim_id"]] + [0]) + 0.15
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
        dark_txt = v in _DARK_TEXT
        list_ax.text(chip_w / 2, i, v.replace("_", " "), ha="center", va="center",
                     fontsize=fs, color="black" if dark_txt else "white")
        list_ax.text(chip_w + 0.1, i, _str(r.claim_id), ha="left", va="center", fontsize=fs,
                     fontweight="bold")
        _shortened_text(list_ax, chip_w + 0.1 + id_w, i, _str(r.short), text_w, fs, ha="left",
                        va="center", gid="claim-text")
