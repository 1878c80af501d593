"""Figures from results: forest, sensitivity, leave-one-out, viral loads, appraisal, flow.

Every function draws what it is given (no statistics), builds its figure with
`matplotlib.figure.Figure` (never pyplot, so no global state is touched), never saves or
shows, and returns the `Figure`. Where it makes sense a function takes ``ax=`` and then
draws on it and returns ``ax.figure``. Two styles exist:

* ``"report"`` -- sized for an A4 or HTML page (about 8.5 in wide, 9-10 pt type);
* ``"slide"`` -- a 16:9 canvas (13.333 x 7.5 in), type of at least 18 pt and thick
  lines; some annotations are dropped so that nothing overlaps.

Saving, DPI and file formats are decided by the caller (``figures.py``), in one place.
Colours are the Okabe & Ito (2008) colour-blind-safe palette, defined once in ``_style``.

One module per figure family:

* ``forest`` -- ``forest_plot``;
* ``sensitivity`` -- ``sensitivity_plot`` and ``leave_one_out_plot``;
* ``viral_loads`` -- ``viral_load_plot``;
* ``rob`` -- ``rob_traffic_light``;
* ``prisma`` -- ``prisma_flow``;
* ``evidence`` -- ``evidence_map``;
* ``audit`` -- ``claims_audit_plot``;
* ``calibration`` -- ``calibration_plot``;
* ``bayes`` -- ``tau_posterior_plot``;

and three shared ones: ``_style`` (palette and sizes), ``_text`` (text measuring,
wrapping and number formats) and ``_axes`` (canvas, fit checks, titles and legends).
"""

from __future__ import annotations

# the constants are re-exported too (``X as X``), as the single module had them
from ._style import ANSWER_STYLE as ANSWER_STYLE
from ._style import DESIGN_COLOURS as DESIGN_COLOURS
from ._style import FIGURE_SIZES
from ._style import PALETTE as PALETTE
from ._style import SERIES_COLOURS as SERIES_COLOURS
from ._style import STYLES as STYLES
from ._style import VERDICT_COLOURS as VERDICT_COLOURS
from .audit import VERDICTS as VERDICTS
from .audit import claims_audit_plot
from .bayes import tau_posterior_plot
from .calibration import calibration_plot
from .evidence import DESIGN_ORDER as DESIGN_ORDER
from .evidence import OUTCOME_ORDER as OUTCOME_ORDER
from .evidence import UNVERIFIED as UNVERIFIED
from .evidence import evidence_map
from .forest import forest_plot
from .prisma import prisma_flow
from .rob import MURAD_ITEMS as MURAD_ITEMS
from .rob import rob_traffic_light
from .sensitivity import leave_one_out_plot, sensitivity_plot
from .viral_loads import viral_load_plot

__all__ = [
    "FIGURE_SIZES",
    "calibration_plot",
    "claims_audit_plot",
    "evidence_map",
    "forest_plot",
    "leave_one_out_plot",
    "prisma_flow",
    "rob_traffic_light",
    "sensitivity_plot",
    "tau_posterior_plot",
    "viral_load_plot",
]
