"""PRISMA 2020 flow diagram (Page et al. 2021) for a new review of databases only."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ._style import PALETTE, _style
from ._text import _line_h, _missing, _str, _text_width, _wrap

_PRISMA_KEYS = ("identified", "duplicates", "screened", "excluded_screening", "sought",
                "not_retrieved", "assessed", "excluded_full_text", "studies_included",
                "reports_included")
# stage label, first and last row of the main column it spans
_STAGES = (("Identification", 0, 0), ("Screening", 1, 3), ("Included", 4, 4))


def _nn(v: Any) -> str:
    """"(n = v)" with non-breaking spaces, so wrapping never splits it."""
    return f"(n\u00a0=\u00a0{_str(v)})"


def _prisma_boxes(counts: dict, compact: int) -> list[tuple[list[str], list[str]]]:
    """The text of each row (main box lines, side box lines); ``compact`` 0-2.

    A line starting with an em space is an indented list item (wrapped with a hanging
    indent by the caller).
    """
    c = counts
    src = dict(c.get("by_source") or {})
    reasons = {_str(k).replace("_", " "): v for k, v in (c.get("exclusion_reasons") or {}).items()}
    ident = [f"Records identified {_nn(c['identified'])}"]
    if src:
        parts = [f"{_str(k)} {_nn(v)}" for k, v in src.items()]
        ident += (["from: " + "; ".join(parts)] if compact else
                  ["from:"] + [f"\u2003{p}" for p in parts])
    excl = [f"Reports excluded {_nn(c['excluded_full_text'])}:"]
    if reasons:
        items = list(reasons.items())
        if compact >= 2 and len(items) > 4:  # keep the largest reasons, sum the rest
            items = sorted(items, key=lambda kv: -kv[1] if not _missing(kv[1]) else 0)
            rest = items[3:]
            items = items[:3] + [(f"{len(rest)} other reasons",
                                  sum(v for _, v in rest if not _missing(v)))]
        parts = [f"{k} {_nn(v)}" for k, v in items]
        excl += (["; ".join(parts)] if compact else [f"\u2003{p}" for p in parts])
    included = [f"Studies included in review {_nn(c['studies_included'])}",
                f"Reports of included studies {_nn(c['reports_included'])}"]
    included += [str(x) for x in c.get("included_notes", [])]
    return [
        (ident, ([] if compact else ["Records removed before screening:"])
         + [f"Duplicate records removed {_nn(c['duplicates'])}"]),
        ([f"Records screened {_nn(c['screened'])}"],
         [f"Records excluded {_nn(c['excluded_screening'])}"]),
        ([f"Reports sought for retrieval {_nn(c['sought'])}"],
         [f"Reports not retrieved {_nn(c['not_retrieved'])}"]),
        ([f"Reports assessed for eligibility {_nn(c['assessed'])}"], excl),
        (included, []),
    ]


def prisma_flow(counts: dict, *, style: str = "report", ax=None) -> Figure:
    """PRISMA 2020 flow diagram for a new review that searched databases only.

    Follows the Page et al. (2021) template: a header box, stage labels on the left
    (Identification, Screening, Included), the main column of boxes joined by arrows and,
    to the right, the records or reports removed at each step with their reasons. Long
    text is wrapped to the box width and each box grows to fit its text. On a slide the
    per-source and per-reason lines are run together (and only the three largest reasons
    kept, the rest summed) if that is what it takes to fit the canvas.

    Parameters
    ----------
    counts : dict
        ``identified``, ``duplicates``, ``screened``, ``excluded_screening``, ``sought``,
        ``not_retrieved``, ``assessed``, ``excluded_full_text``, ``studies_included``,
        ``reports_included``; optional ``by_source`` (name -> n), ``exclusion_reasons``
        (reason -> n; underscores are shown as spaces) and ``included_notes`` (extra
        lines for the Included box).
    style : {"report", "slide"}
        Page or 16:9 slide sizing.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; its width sets the layout and it should be tall enough for the
        diagram (the figure size is not changed).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ValueError
        If a required count is missing, or (slide) the diagram cannot fit at 18 pt.
    """
    st = _style(style)
    miss = [k for k in _PRISMA_KEYS if k not in counts]
    if miss:
        raise ValueError(f"prisma_flow: counts is missing {', '.join(miss)}")
    slide = style == "slide"
    width = st["width"] if ax is None else ax.get_position().width * ax.figure.get_figwidth()
    g = _Geometry(st, slide, width)
    for compact in (0, 1, 2) if slide else (0,):
        rows, total = g.layout(counts, compact)
        if not slide or total <= st["height"]:
            break
    else:
        raise ValueError("prisma_flow: the diagram does not fit a 16:9 slide at 18 pt; "
                         'use style="report"')
    if ax is None:
        fig = Figure(figsize=(width, st.get("height") or total))
        ax = fig.add_axes((0, 0, 1, 1))
        height = fig.get_figheight()
    else:
        fig = ax.figure
        height = ax.get_position().height * fig.get_figheight()
    ax.set_xlim(0, width)
    ax.set_ylim(max(height, total), 0)
    ax.set_axis_off()
    y = ((height - total) / 2 if height > total else 0.0) + 0.1
    tops, bottoms = _draw_boxes(ax, g, rows, y)
    for name, a, b in _STAGES:
        ax.add_patch(FancyBboxPatch((g.band_x, tops[a]), g.band_w, bottoms[b] - tops[a],
                                    boxstyle="round,pad=0,rounding_size=0.06",
                                    facecolor=PALETTE["sky"], edgecolor="none", gid="stage"))
        ax.text(g.band_x + g.band_w / 2, (tops[a] + bottoms[b]) / 2, name, rotation=90,
                ha="center", va="center", fontsize=g.fs, fontweight="bold", color="black")
    return fig


class _Geometry:
    """Type size, columns (inches from the left) and box text of the diagram."""

    def __init__(self, st: dict, slide: bool, width: float) -> None:
        self.st = st
        self.fs = fs = st["small"] if slide else st["base"]
        self.lh = _line_h(fs)
        self.pad = 0.09
        self.band_x, self.band_w = 0.1, (0.36 if not slide else 0.6)
        self.main_x = self.band_x + self.band_w + (0.2 if not slide else 0.3)
        arrow_gap = 0.45 if not slide else 0.6
        self.main_w = (width - self.main_x - arrow_gap - 0.1) * 0.47
        self.side_x = self.main_x + self.main_w + arrow_gap
        self.side_w = width - self.side_x - 0.1
        self.vgap = 0.3 if not slide else 0.24
        self.head_h = self.lh + 2 * self.pad
        self.indent = _text_width("\u2003", fs) + 0.02
        self.label_h = {name: _text_width(name, fs, "bold") + 0.2 for name, _, _ in _STAGES}

    def wrap_box(self, lines: list[str], w: float) -> list[str]:
        """Box lines wrapped to a box ``w`` wide; list items get a hanging indent."""
        out = []
        for line in lines:
            if line.startswith("\u2003"):  # list item: hanging indent
                out += ["\u2003" + x for x in _wrap(line[1:], w - 2.5 * self.pad - self.indent,
                                                   self.fs)]
            else:
                out += _wrap(line, w - 2.5 * self.pad, self.fs)
        return out

    def layout(self, counts: dict, compact: int):
        """([main lines, side lines, main h, side h, row h] per row, total height)."""
        rows = []
        lh, pad, vgap = self.lh, self.pad, self.vgap
        for main, side in _prisma_boxes(counts, compact):
            m, s = self.wrap_box(main, self.main_w), self.wrap_box(side, self.side_w)
            hm = max(len(m), 1) * lh + 2 * pad
            hs = len(s) * lh + 2 * pad if s else 0.0
            rows.append([m, s, hm, hs, max(hm, hs)])
        # single-row stages must be tall enough for their rotated label (Identification's
        # band also runs alongside the header box)
        rows[0][4] = max(rows[0][4], self.label_h["Identification"] - self.head_h - vgap)
        rows[4][4] = max(rows[4][4], self.label_h["Included"])
        total = 0.1 + self.head_h + vgap + sum(r[4] for r in rows) + vgap * (len(rows) - 1) + 0.1
        return rows, total


def _box(ax, g: _Geometry, x, yy, w, h, lines, *, face="white", gid="box") -> None:
    ax.add_patch(FancyBboxPatch((x, yy), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                                facecolor=face, edgecolor=PALETTE["dark"],
                                lw=g.st["lw"] * 0.7, gid=gid))
    for j, line in enumerate(lines):
        ax.text(x + g.pad, yy + g.pad + (j + 0.5) * g.lh, line, ha="left", va="center",
                fontsize=g.fs, gid="box-text")


def _draw_boxes(ax, g: _Geometry, rows: list, y: float) -> tuple[list[float], list[float]]:
    """The header, then each row's main and side boxes and arrows; returns the top and
    bottom of each row (the first row's top is the header's, for the stage band)."""
    head_top = y
    arrow = {"arrowstyle": "-|>", "mutation_scale": g.fs * 1.2, "lw": g.st["lw"] * 0.8,
             "color": PALETTE["dark"], "shrinkA": 0, "shrinkB": 0}
    right = g.side_x + g.side_w
    _box(ax, g, g.main_x, y, right - g.main_x, g.head_h, [], face=PALETTE["pale_blue"],
         gid="header")
    ax.text((g.main_x + g.side_x + g.side_w) / 2, y + g.head_h / 2,
            "Identification of studies via databases and registers", ha="center",
            va="center", fontsize=g.fs, fontweight="bold")
    y += g.head_h + g.vgap
    tops, bottoms, prev_bottom = [], [], None
    main_x, main_w = g.main_x, g.main_w
    for i, (m, s, hm, hs, h) in enumerate(rows):
        mid = y + h / 2
        _box(ax, g, main_x, mid - hm / 2, main_w, hm, m, gid=f"main-{i}")
        if s:
            _box(ax, g, g.side_x, mid - hs / 2, g.side_w, hs, s, gid=f"side-{i}")
            ax.add_patch(FancyArrowPatch((main_x + main_w, mid), (g.side_x, mid), **arrow))
        if prev_bottom is not None:
            ax.add_patch(FancyArrowPatch((main_x + main_w / 2, prev_bottom),
                                         (main_x + main_w / 2, mid - hm / 2), **arrow))
        prev_bottom = mid + hm / 2
        tops.append(y)
        bottoms.append(y + h)
        y += h + g.vgap
    tops[0] = head_top
    return tops, bottoms
