"""Colours and sizes shared by every figure family.

Colours are the Okabe & Ito (2008) colour-blind-safe palette, defined once here; every
colour a figure uses comes from this module. Sizes come in two styles, "report" (an A4 or
HTML page) and "slide" (a 16:9 canvas with type of at least 18 pt).
"""

from __future__ import annotations

from ...stats._validation import check_choice

# Okabe & Ito (2008) palette; every colour in this package comes from here.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
    "dark": "#333333",
    "light": "#E8E8E8",
    "pale_blue": "#D6EAF8",
    "pale_vermillion": "#F9E0CC",
}
SERIES_COLOURS = ("blue", "vermillion", "green", "orange", "purple", "sky", "black", "yellow")
VERDICT_COLOURS = {
    "supported": PALETTE["green"],
    "partly_supported": PALETTE["yellow"],
    "discrepant": PALETTE["vermillion"],
    "unverifiable": PALETTE["grey"],
}
ANSWER_STYLE = {  # Murad et al. (2018) judgements: colour, symbol, text colour, legend text
    "yes": (PALETTE["green"], "+", "white", "yes"),
    "no": (PALETTE["vermillion"], "\u2212", "white", "no"),
    "unclear": (PALETTE["yellow"], "?", "black", "unclear"),
    "not_applicable": ("#C8C8C8", "NA", "black", "not applicable"),
}
DESIGN_COLOURS = {"rct": "black", "prospective_cohort": "purple",
                  "retrospective_cohort": "blue", "case_series": "green",
                  "case_report": "orange", "conference_abstract": "vermillion",
                  "guideline": "grey"}

# (width, height) in inches; a report figure's height grows with its rows (None)
FIGURE_SIZES = {"report": (8.5, None), "slide": (13.333, 7.5)}
_STYLES: dict[str, dict[str, float]] = {
    # base: body text; small: dense tables and legends; lw/thick: lines; row: inches
    "report": {"width": 8.5, "base": 9.5, "small": 9.0, "title": 10.5, "lw": 1.3, "thick": 2.4, "ms": 6.0,
                   "row": 0.27},
    "slide": {"width": 13.333, "height": 7.5, "base": 20.0, "small": 18.0, "title": 24.0, "lw": 3.0,
                  "thick": 6.0, "ms": 13.0, "row": 0.0},
}
STYLES = tuple(_STYLES)


def _style(style: str) -> dict[str, float]:
    """Sizes for ``style`` ("report" or "slide"): fonts (pt), lines (pt), rows (in)."""
    check_choice("style", style, STYLES)
    return dict(_STYLES[style])
