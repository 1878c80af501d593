"""Posterior of the heterogeneity tau under each prior of a Bayesian sensitivity analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._axes import _legend_below, _new_figure, _require, _tidy_axes, _title
from ._style import PALETTE, SERIES_COLOURS, _style
from ._text import _line_h, _str

# line style of a posterior by likelihood: the binomial-normal model solid, the
# normal-normal (on logits) dashed
_DASH = {"binomial": "-", "normal": (0, (4.0, 2.0))}
_PRIOR_ALPHA = 0.45


def tau_posterior_plot(curves: pd.DataFrame, *, title: str = "", style: str = "report",
                       ax=None) -> Figure:
    """Posterior densities of tau, one line per (prior, likelihood), priors drawn faintly.

    Each prior has one colour (in the order the curves give them): its posterior under
    the binomial-normal model is a thick solid line and the prior density a thin faint
    line of the same colour, so where a posterior lies on its prior the eye sees that the
    data say little about tau. Posteriors under the normal-normal model are thin dark
    dashed lines, drawn on top (visible even where the two models agree).

    Parameters
    ----------
    curves : pandas.DataFrame
        Long format, columns ``prior`` (legend text of the prior, e.g.
        "half-normal(0.5)"), ``likelihood`` ("binomial" or "normal"), ``tau`` (logit
        scale, >= 0), ``posterior`` and ``prior_density`` (densities per unit tau).
        Rows of one (prior, likelihood) pair are one curve, drawn in the order given.
    title : str
        Figure title.
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the legend then goes below it).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    st = _style(style)
    _require(curves, ["prior", "likelihood", "tau", "posterior", "prior_density"],
             "tau_posterior_plot")
    if curves.empty:
        raise ValueError("tau_posterior_plot: curves is empty")
    bad = set(curves["likelihood"]) - set(_DASH)
    if bad:
        raise ValueError(f"tau_posterior_plot: likelihood must be 'binomial' or 'normal'; got {sorted(bad)}")
    curves = curves.assign(prior=[_str(p) for p in curves["prior"]])
    own = ax is None
    if own:
        fig = _new_figure(st, 3.3 + (_line_h(st["title"]) if title else 0))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    colours = {p: PALETTE[SERIES_COLOURS[j % len(SERIES_COLOURS)]]
               for j, p in enumerate(dict.fromkeys(curves["prior"]))}
    handles = _draw_curves(ax, st, curves, colours)
    tau = curves["tau"].to_numpy(float)
    top = np.nanmax(curves[["posterior", "prior_density"]].to_numpy(float))
    ax.set_xlim(0.0, float(np.nanmax(tau)))
    ax.set_ylim(0.0, 1.06 * top if np.isfinite(top) and top > 0 else 1.0)
    ax.set_xlabel("\u03c4, between-study SD of the true log-odds", fontsize=st["base"])
    ax.set_ylabel("Density", fontsize=st["base"])
    _tidy_axes(ax, st, left=True)
    ax.grid(True, axis="x", color=PALETTE["light"], lw=0.6)
    ax.set_axisbelow(True)
    _legend_below(fig, ax, handles, st, ncols=2 if style == "slide" else 3, own=own)
    if title:
        _title(fig, ax, title, st, own=own)
    return fig


def _draw_curves(ax, st: dict, curves: pd.DataFrame, colours: dict) -> list:
    """Faint priors (once per prior), then the posteriors; returns the legend handles."""
    handles = []
    for prior, rows in curves.groupby("prior", sort=False):
        first = rows[rows["likelihood"] == rows["likelihood"].iloc[0]]
        ax.plot(first["tau"], first["prior_density"], color=colours[prior], lw=st["lw"] * 0.8,
                alpha=_PRIOR_ALPHA, zorder=2, gid="prior")
    for (prior, like), rows in curves.groupby(["prior", "likelihood"], sort=False):
        # the normal-normal curve: dark, thinner and on top, so that it stays visible where
        # it lies on the binomial-normal curve of the same prior
        kw = ({"color": colours[prior], "lw": st["thick"] * 0.8, "zorder": 3} if like == "binomial"
              else {"color": PALETTE["dark"], "lw": st["lw"], "zorder": 4})
        ax.plot(rows["tau"], rows["posterior"], ls=_DASH[like], gid=f"posterior-{like}", **kw)
        text = f"\u03c4 ~ {prior}" + ("" if like == "binomial" else ", normal-normal model")
        kw.pop("zorder")
        handles.append(Line2D([], [], ls=_DASH[like], label=text, **kw))
    handles.append(Line2D([], [], color=PALETTE["dark"], lw=st["lw"] * 0.8, alpha=_PRIOR_ALPHA,
                          label="prior densities (faint)"))
    return handles
