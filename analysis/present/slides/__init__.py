"""The journal-club deck (``make slides``): a 16:9 PDF built from the same derived results
as the report, plus each figure slide as PNG and SVG to paste into other slide software.

One page per slide (13.333 x 7.5 in, i.e. 960 x 540 pt): the question, the evidence at a
glance, the comparison with no IVIG (one slide per outcome of the question with comparative
studies, the report's comparative forest plot), single-arm forest plots and how the answer
moves only where the analysis plan allows a pooled estimate, the claims audit, the GRADE
summary of findings, the bottom line (`narrative.bottom_line`, the report's wording) and the
references. Every number is read from
``results.json``, ``claims_audit.json`` or ``calibration.json`` and formatted here; none is
typed. Titles are 32 pt, body text at least 20 pt (the bottom line shrinks to fit, never below
14 pt; 18 pt inside the plotting functions'
slide style), and every slide has a 14 pt source and citation footer.

The output is byte-for-byte deterministic: PDF pages carry no dates, SVG ids are salted
with a fixed string (``figures.save_figure``), PNG is written by Agg at a fixed DPI, and no
input path or time enters a file.

Modules: ``_layout`` (canvas, type, text placement, chrome and the layout check),
``text_slides`` (question, evidence, bottom line), ``plots`` (forest, sensitivity and
claims-audit slides), ``sof`` (GRADE summary of findings), ``references`` (references
slide and footers), ``deck`` (the slide specs and the PDF assembly) and ``command`` (the
``slides`` command, which loads the deck only when it runs).
"""

from __future__ import annotations

from typing import Any

from .command import add_slides_command

__all__ = ["TITLE_PT", "add_slides_command", "build_slides", "slide_specs"]

# the deck and its layout import matplotlib and the figures: loaded on first use (PEP 562),
# so registering the command (`add_slides_command`) for the command line costs none of it
_LAZY = {"SLIDE_H": "._layout", "SLIDE_W": "._layout", "TITLE_PT": "._layout",
         "build_slides": ".deck", "slide_specs": ".deck"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
