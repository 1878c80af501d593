"""Coverage of confidence and prediction intervals by method, from a simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._axes import _fits_rows, _new_figure, _require, _tidy_axes
from ._style import PALETTE, SERIES_COLOURS, _style
from ._text import _str

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
    rows = rows.assign(method=[_str(m) for m in rows["method"]],
                       scenario=[_str(s) for s in rows["scenario"]])
    kinds = [k for k in ("ci", "pi") if (rows["interval"] == k).any()]
    methods = list(dict.fromkeys(rows["method"]))
    scenarios = list(dict.fromkeys(rows["scenario"]))
    fig, axes = _calibration_axes(st, ax, kinds, len(methods), len(scenarios), style)
    nsc = len(scenarios)
    offs = np.linspace(-0.28, 0.28, nsc) if nsc > 1 else np.zeros(1)
    lows = [100 * nominal]
    for a, kind in zip(axes, kinds, strict=True):
        lows += _draw_panel(a, st, rows[rows["interval"] == kind], kind, methods, scenarios,
                            offs, nominal)
    lo = max(0.0, 5 * math.floor(min(lows) / 5) - 2)
    for a in axes:
        a.set_xlim(lo, 101)
    axes[0].set_yticks(range(len(methods)), [str(m) for m in methods])
    axes[0].set_ylim(len(methods) - 0.5, -0.5)
    _calibration_legend(fig, axes, st, scenarios, nominal)
    return fig


def _calibration_axes(st: dict, ax, kinds: list[str], n_methods: int, n_scenarios: int,
                      style: str):
    """(figure, one axes per interval type): new side-by-side panels, or the caller's."""
    if ax is None:
        if style == "slide":
            _fits_rows(n_methods, st["height"] - 2.6, st["small"], "calibration_plot")
        fig = _new_figure(st, 1.9 + 0.34 * n_methods * max(1, n_scenarios / 3))
        axes = list(fig.subplots(1, len(kinds), sharey=True, squeeze=False)[0])
    else:
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != len(kinds):
            raise ValueError(f"calibration_plot: need {len(kinds)} axes, one per interval "
                             f"type {kinds}")
        fig = axes[0].figure
    return fig, axes


def _scenario_style(j: int) -> tuple[str, str]:
    """(marker, colour) of the ``j``-th scenario."""
    return (_SCENARIO_MARKERS[j % len(_SCENARIO_MARKERS)],
            PALETTE[SERIES_COLOURS[j % len(SERIES_COLOURS)]])


def _draw_panel(a, st: dict, sub: pd.DataFrame, kind: str, methods: list, scenarios: list,
                offs, nominal: float) -> list[float]:
    """One interval type's panel; returns the lowest coverage - 1.96 MCSE per scenario."""
    lows = []
    a.axvline(100 * nominal, color=PALETTE["grey"], ls="--", lw=st["lw"] * 0.8,
              zorder=1, gid="nominal")
    for j, sc in enumerate(scenarios):
        s = sub[sub["scenario"] == sc]
        if s.empty:
            continue
        y = np.array([methods.index(m) for m in s["method"]]) + offs[j]
        cov = 100 * s["coverage"].to_numpy(float)
        err = 196 * s["mcse"].to_numpy(float)
        if np.isfinite(cov - err).any():  # all missing: nothing drawn, no bound
            lows.append(float(np.nanmin(cov - err)))
        marker, colour = _scenario_style(j)
        a.errorbar(cov, y, xerr=err, fmt=marker, color=colour, ms=st["ms"] * 0.9,
                   lw=st["lw"] * 0.8, capsize=0, zorder=3, label=str(sc), gid=f"scenario-{j}")
    a.set_title({"ci": "Confidence interval", "pi": "Prediction interval"}[kind],
                fontsize=st["base"], fontweight="bold", loc="left")
    a.set_xlabel("Coverage (%)", fontsize=st["base"])
    _tidy_axes(a, st, left=True)
    a.grid(True, axis="x", color=PALETTE["light"], lw=0.6)
    a.set_axisbelow(True)
    a.tick_params(axis="y", length=0)
    for y in np.arange(len(methods) - 1) + 0.5:
        a.axhline(y, color=PALETTE["light"], lw=0.8, zorder=0)
    return lows


def _calibration_legend(fig, axes: list, st: dict, scenarios: list, nominal: float) -> None:
    handles = [Line2D([], [], ls="none", marker=_scenario_style(j)[0], ms=st["ms"],
                      color=_scenario_style(j)[1], label=str(sc))
               for j, sc in enumerate(scenarios)]
    handles.append(Line2D([], [], color=PALETTE["grey"], ls="--", lw=st["lw"] * 0.8,
                          label=f"nominal {100 * nominal:g}%"))
    if fig.get_layout_engine() is not None:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(scenarios) + 1, 4),
                   frameon=False, fontsize=st["small"])
    else:
        axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1),
                        frameon=False, fontsize=st["small"])
