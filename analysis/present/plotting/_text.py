"""Text measuring, wrapping and the number formats the figures print.

Widths are measured with FreeType in inches, so layouts can be computed before anything
is drawn; a figure's columns, boxes and wraps all come from these measurements.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import pandas as pd
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath


def _text_width(s: str, size: float, weight: str = "normal") -> float:
    """Width in inches of ``s`` (widest line) set in the default font at ``size`` pt."""
    return max((_line_width(line, size, weight) for line in str(s).split("\n") if line.strip()),
               default=0.0)


@functools.lru_cache(maxsize=8192)
def _line_width(line: str, size: float, weight: str) -> float:
    # FreeType advance width through TextToPath (no path outlines): ~100x faster than
    # the extents of a TextPath, which the wrapping loops call thousands of times
    prop = FontProperties(weight=weight, size=size)
    width, _, _ = _TEXT_TO_PATH.get_text_width_height_descent(line.replace("$", "S"), prop, ismath=False)
    return width / 72.0 * 1.04


_TEXT_TO_PATH = TextToPath()


def _wrap(s: str, width_in: float, size: float, weight: str = "normal", *,
          break_words: bool = True) -> list[str]:
    """Greedy word wrap of ``s`` into lines no wider than ``width_in`` inches.

    Lines break at spaces and after "-" or "/". A piece still wider than the line is
    broken with a hyphen unless ``break_words`` is False (it then overhangs).
    """
    lines: list[str] = []
    for para in str(s).split("\n"):
        pieces: list[tuple[str, str]] = []  # (separator before, text)
        for i, word in enumerate(para.split(" ")):
            parts = re.findall(r"[^-/]*[-/]|[^-/]+", word) or [""]
            pieces += [(" " if (i and j == 0) else "", part) for j, part in enumerate(parts)]
        cur = ""
        for sep, piece in pieces:
            trial = f"{cur}{sep}{piece}" if cur else piece
            if _text_width(trial, size, weight) <= width_in or not cur:
                cur = trial
            else:
                lines.append(cur)
                cur = piece
            while (break_words and _text_width(cur, size, weight) > width_in
                   and len(cur) > 1):
                cut = len(cur) - 1  # a single piece wider than the box: break it
                while cut > 1 and _text_width(cur[:cut] + "-", size, weight) > width_in:
                    cut -= 1
                lines.append(cur[:cut] + "-")
                cur = cur[cut:]
        lines.append(cur)
    return lines


def _fit(s: str, width_in: float, size: float, weight: str = "normal") -> str:
    """``s`` if it fits in ``width_in`` inches, else its longest start that fits with an
    ellipsis ("\u2026") appended, so a cut is always visible."""
    if _text_width(s, size, weight) <= width_in:
        return s
    lo, hi = 0, len(s)  # s[:hi] + ellipsis is too wide; s[:lo] + ellipsis fits (or lo is 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _text_width(s[:mid].rstrip() + "\u2026", size, weight) <= width_in:
            lo = mid
        else:
            hi = mid
    return s[:lo].rstrip() + "\u2026"


def _shortened_text(ax, x, y, s: str, width_in: float, size: float, **kw):
    """``ax.text`` of ``s`` cut to ``width_in`` inches by ``_fit``; a cut text keeps its
    full wording as the artist's label, which ``figures.save_figure`` writes into an SVG
    as a tooltip (``<title>``)."""
    shown = _fit(s, width_in, size, kw.get("fontweight", "normal"))
    t = ax.text(x, y, shown, fontsize=size, **kw)
    if shown != s:
        t.set_label(s)
    return t


def _line_h(size: float) -> float:
    """Line height in inches for ``size`` pt text."""
    return size * 1.3 / 72.0


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x)) or x is pd.NA


def _str(x: Any) -> str:
    """``str(x)``, or "n/a" where the value is missing: a figure never prints "nan"."""
    return "n/a" if _missing(x) else str(x)


def _label(labels: dict, key: Any) -> str:
    """The display label of ``key`` (e.g. a study id), or the key itself if it has none."""
    lab = labels.get(key)
    return _str(key) if _missing(lab) else str(lab)


def _pct(x: float | None) -> float:
    """Percent from a proportion; NaN where missing (matplotlib leaves NaN undrawn)."""
    return math.nan if _missing(x) else 100.0 * float(x)


def _ci_text(est: float, lo: float, hi: float, digits: int = 1) -> str:
    if _missing(est):
        return "n/a"
    if _missing(lo) or _missing(hi):  # no interval exists (e.g. every study at 0%)
        return f"{_pct(est):.{digits}f} (CI n/a)"
    return f"{_pct(est):.{digits}f} ({_pct(lo):.{digits}f}\u2013{_pct(hi):.{digits}f})"
