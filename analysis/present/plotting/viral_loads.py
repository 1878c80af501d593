"""Viral load trajectories on a log scale, one line per study/patient series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._axes import _new_figure, _require, _tidy_axes, _title
from ._style import PALETTE, SERIES_COLOURS, _style
from ._text import _label

_BOUND_MARKERS = {"eq": "o", "gt": "^", "lt": "v"}


def viral_load_plot(loads: pd.DataFrame, *, labels: dict | None = None, title: str = "",
                    lloq: float | None = None, style: str = "report", ax=None,
                    ylabel: str = "Viral load (copies/mL)") -> Figure:
    """Viral load trajectories on a log scale, one line per study/patient series.

    Each series (study, patient, statistic) is sorted by time and drawn as a line with
    markers; group means and medians are dashed. Values reported only as a bound are
    drawn as triangles: up for "greater than" (the true value is higher), down for "less
    than". Rows without a time or a value are skipped. The legend sits below the axes so it never
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
    ylabel : str
        The y-axis label (name the virus, e.g. "BK viral load (copies/mL)").

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(loads, ["study_id", "patient_id", "time_months", "copies_per_ml", "bound",
                     "statistic"], "viral_load_plot")
    df = _timed_loads(loads)
    own = ax is None
    if own:
        fig = _new_figure(st, 4.6)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.set_yscale("log")
    handles = _draw_series(ax, st, df, labels or {})
    _draw_lloq_and_limits(ax, st, df, lloq)
    ax.set_ylabel(ylabel, fontsize=st["base"])
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


def _timed_loads(loads: pd.DataFrame) -> pd.DataFrame:
    """The rows with a time and a value, numeric, with empty patient ids and statistics and
    "eq" bounds filled in."""
    df = loads.copy()
    df = df[pd.to_numeric(df["time_months"], errors="coerce").notna()
            & pd.to_numeric(df["copies_per_ml"], errors="coerce").notna()]
    df = df.assign(time_months=pd.to_numeric(df["time_months"]),
                   copies_per_ml=pd.to_numeric(df["copies_per_ml"]),
                   patient_id=df["patient_id"].fillna("").astype(str),
                   statistic=df["statistic"].fillna("").astype(str),
                   bound=df["bound"].fillna("eq").astype(str))
    bad = set(df["bound"]) - {"eq", "gt", "lt"}
    if bad:
        raise ValueError(f"viral_load_plot: bound must be eq, gt or lt; got {sorted(bad)}")
    return df


def _draw_series(ax, st: dict, df: pd.DataFrame, labels: dict) -> list:
    """One line per (study, patient, statistic), markers by bound; returns legend handles."""
    keys = list(dict.fromkeys(zip(df["study_id"], df["patient_id"], df["statistic"],
                                  strict=True)))
    handles = []
    marker = _BOUND_MARKERS
    for i, (sid, pid, stat) in enumerate(keys):
        sub = df[(df["study_id"] == sid) & (df["patient_id"] == pid) & (df["statistic"] == stat)]
        sub = sub.sort_values(["time_months", "copies_per_ml"], kind="mergesort")
        colour = PALETTE[SERIES_COLOURS[i % len(SERIES_COLOURS)]]
        ls = "--" if stat in ("mean", "median") else "-"
        label = _label(labels, sid) + (f", patient {pid}" if pid else "")
        label += f" ({stat})" if stat not in ("individual", "") else ""
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
    return handles


def _draw_lloq_and_limits(ax, st: dict, df: pd.DataFrame, lloq: float | None) -> None:
    """The LLOQ line if given; axis limits padded to whole decades and a little time."""
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
