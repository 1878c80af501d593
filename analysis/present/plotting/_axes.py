"""Figure and axes helpers shared by the figure families: canvas, fit checks, axis
styling, titles and legends placed outside the data."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    miss = [c for c in cols if c not in df.columns]
    if miss:
        raise ValueError(f"{what}: missing column(s) {', '.join(miss)}")


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


def _offset(fig, dx_pt: float, dy_pt: float) -> ScaledTranslation:
    """A translation by (dx, dy) points, for placing artists next to an axes."""
    return ScaledTranslation(dx_pt / 72.0, dy_pt / 72.0, fig.dpi_scale_trans)
