"""Forest plot of two-group comparisons: risk ratios study by study, grouped by design,
with a diamond for each design's pooled estimate (never across designs)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from ._axes import _new_figure, _tidy_axes
from ._style import PALETTE, _style

GROUP_TITLES = {"randomised": "Randomised", "non-randomised": "Non-randomised"}


def _fmt_rr(est, lo, hi) -> str:
    if est is None:
        return "undefined"
    if lo is None or hi is None:
        return f"{est:.2f} (CI n/a)"
    return f"{est:.2f} ({lo:.2f}\u2013{hi:.2f})"


def _layout(studies: list[dict], pooled: list[dict]) -> list[tuple[str, object]]:
    """Rows top to bottom: ('header', group), ('study', row), ('pooled', row)."""
    out: list[tuple[str, object]] = []
    for group in ("randomised", "non-randomised"):
        members = [s for s in studies if s["design_group"] == group]
        if not members:
            continue
        out.append(("header", group))
        out += [("study", s) for s in members]
        out += [("pooled", p) for p in pooled if p["design_group"] == group and p["estimate"] is not None]
    return out


def _limits(studies, pooled) -> tuple[float, float]:
    vals = [v for s in studies for v in (s.get("rr_ci_low"), s.get("rr_ci_high")) if v]
    vals += [v for p in pooled for v in (p.get("ci_low"), p.get("ci_high")) if v]
    vals = [v for v in vals if math.isfinite(v) and v > 0] or [0.5, 2.0]
    return max(min(min(vals) / 1.5, 0.5), 0.01), min(max(max(vals) * 1.5, 2.0), 100.0)


def comparative_forest_plot(studies: list[dict], pooled: list[dict], *, title: str = "",
                            intervention: str = "intervention", comparator: str = "comparator",
                            higher_is_better: bool = True, style: str = "report") -> Figure:
    """Risk ratios with 95% CIs (log axis) per study, grouped by design, with each design's
    pooled Mantel-Haenszel diamond.

    ``studies`` rows need ``label``, ``design_group``, ``events_1``, ``n_1``, ``events_0``,
    ``n_0``, ``rr``, ``rr_ci_low``, ``rr_ci_high``; ``pooled`` rows need ``design_group``,
    ``label``, ``estimate``, ``ci_low``, ``ci_high`` (ratio scale) and ``measure``.
    """
    st = _style(style)
    pooled = [p for p in pooled if p.get("measure", "rr") == "rr" and p.get("id", "mh-rr") == "mh-rr"]
    rows = _layout(studies, pooled)
    row_h = st["row"] * 1.25 if st["row"] else 0.5
    fig = _new_figure(st, height=1.5 + row_h * (len(rows) + 1))
    gs = fig.add_gridspec(1, 3, width_ratios=(3.2, 2.4, 2.2))
    ax_txt, ax, ax_val = fig.add_subplot(gs[0]), fig.add_subplot(gs[1]), fig.add_subplot(gs[2])
    lo_lim, hi_lim = _limits(studies, pooled)
    ys = np.arange(len(rows), 0, -1, dtype=float)
    for a in (ax_txt, ax, ax_val):
        a.set_ylim(0.3, len(rows) + 0.9)
    ax.set_xscale("log")
    ax.set_xlim(lo_lim, hi_lim)
    ax.axvline(1.0, color=PALETTE["grey"], lw=st["lw"] * 0.8, zorder=1)
    for y, (kind, item) in zip(ys, rows, strict=True):
        if kind == "header":
            ax_txt.text(0, y, GROUP_TITLES[item], fontsize=st["base"], fontweight="bold", va="center")
            continue
        if kind == "study":
            counts = f"{item['events_1']}/{item['n_1']} vs {item['events_0']}/{item['n_0']}"
            ax_txt.text(0.03, y, item["label"], fontsize=st["small"], va="center")
            ax_txt.text(1.0, y, counts, fontsize=st["small"], va="center", ha="right")
            est, lo, hi = item.get("rr"), item.get("rr_ci_low"), item.get("rr_ci_high")
            if est is not None and lo is not None and hi is not None:
                ax.plot([max(lo, lo_lim), min(hi, hi_lim)], [y, y], color=PALETTE["dark"], lw=st["lw"], gid="ci")
                size = st["ms"] * (0.8 + 0.6 * math.sqrt((item["n_1"] + item["n_0"]) / 60.0))
                ax.plot([est], [y], marker="s", ms=min(size, st["ms"] * 2), color=PALETTE["blue"], gid="point")
                text = _fmt_rr(est, lo, hi)
            else:
                text = "no events in either arm"
            ax_val.text(0.02, y, text, fontsize=st["small"], va="center")
        else:
            est, lo, hi = item["estimate"], item["ci_low"], item["ci_high"]
            ax_txt.text(0.03, y, f"Pooled, {item['label']}", fontsize=st["small"], fontweight="bold", va="center")
            ax.fill([lo, est, hi, est], [y, y + 0.3, y, y - 0.3], color=PALETTE["vermillion"], gid="diamond")
            ax_val.text(0.02, y, _fmt_rr(est, lo, hi), fontsize=st["small"], fontweight="bold", va="center")
    ax_txt.text(0, len(rows) + 0.6, "Study", fontsize=st["small"], fontweight="bold", va="center")
    ax_txt.text(1.0, len(rows) + 0.6, f"{intervention} vs {comparator}", fontsize=st["small"],
                fontweight="bold", va="center", ha="right")
    ax_val.text(0.02, len(rows) + 0.6, "RR (95% CI)", fontsize=st["small"], fontweight="bold", va="center")
    for a in (ax_txt, ax_val):
        a.set_xlim(0, 1)
        a.axis("off")
    _tidy_axes(ax, st)
    ticks = [t for t in (0.01, 0.03, 0.1, 0.25, 0.5, 1, 2, 4, 10, 30, 100) if lo_lim <= t <= hi_lim]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    better_low = not higher_is_better
    ax.set_xlabel(f"Risk ratio (log scale)\n\u2190 {'favours ' + intervention if better_low else 'favours ' + comparator}"
                  f"   |   {'favours ' + comparator if better_low else 'favours ' + intervention} \u2192",
                  fontsize=st["small"])
    if title:
        fig.suptitle(title, fontsize=st["title"], fontweight="bold", x=0.01, ha="left")
    return fig
