"""bkvn-ivig-evidence: evidence synthesis of IVIG for BK-virus viremia and nephropathy.

The public API (importing it has no side effects, and costs no numpy, pandas or scipy
until a name is used: PEP 562 lazy attributes)::

    from analysis import pool_proportions, proportion_ci, leave_one_out
    res = pool_proportions(events, n)             # the primary method (analysis.DEFAULTS)
    print(res.summary()); res.to_frame(); res.to_dict()
    fig = res.plot_forest()                       # or forest_plot(res); needs matplotlib

Layers: `analysis.stats` (the engine), `analysis.review` (this evidence review),
`analysis.present` (figures, report, slides); imports point down only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> module that defines it
_EXPORTS = {
    "InputError": "analysis.stats._validation",
    "DEFAULTS": "analysis.stats.options",
    "PoolingOptions": "analysis.stats.options",
    "forest_plot": "analysis.present.plotting",
    "effect_sizes": "analysis.stats.effects",
    "two_group_effect_sizes": "analysis.stats.two_group",
    "study_effects": "analysis.stats.two_group_study",
    "i_squared": "analysis.stats.heterogeneity",
    "i_squared_q": "analysis.stats.heterogeneity",
    "q_statistic": "analysis.stats.heterogeneity",
    "tau2": "analysis.stats.heterogeneity",
    "tau2_ci_qprofile": "analysis.stats.heterogeneity",
    "leave_one_out": "analysis.stats.pooling",
    "pool_proportions": "analysis.stats.pooling",
    "pool_proportions_many": "analysis.stats.pooling",
    "pool_two_group": "analysis.stats.two_group",
    "back_transform": "analysis.stats.proportions",
    "proportion_ci": "analysis.stats.proportions",
    "study_proportions": "analysis.stats.proportions",
    "transform_proportion": "analysis.stats.proportions",
    "ConfidenceInterval": "analysis.stats.results",
    "Heterogeneity": "analysis.stats.results",
    "LeaveOneOut": "analysis.stats.results",
    "PooledEffect": "analysis.stats.two_group_results",
    "StudyComparison": "analysis.stats.two_group_results",
    "PooledProportion": "analysis.stats.results",
    "ProportionEstimate": "analysis.stats.results",
}

__all__ = [
    "DEFAULTS",
    "ConfidenceInterval",
    "Heterogeneity",
    "InputError",
    "LeaveOneOut",
    "PooledEffect",
    "PooledProportion",
    "PoolingOptions",
    "ProportionEstimate",
    "StudyComparison",
    "__version__",
    "back_transform",
    "effect_sizes",
    "forest_plot",
    "i_squared",
    "i_squared_q",
    "leave_one_out",
    "pool_proportions",
    "pool_proportions_many",
    "pool_two_group",
    "proportion_ci",
    "q_statistic",
    "study_effects",
    "study_proportions",
    "tau2",
    "tau2_ci_qprofile",
    "transform_proportion",
    "two_group_effect_sizes",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # static checkers and IDEs see the real names
    from .present.plotting import forest_plot
    from .stats._validation import InputError
    from .stats.effects import effect_sizes
    from .stats.heterogeneity import i_squared, i_squared_q, q_statistic, tau2, tau2_ci_qprofile
    from .stats.options import DEFAULTS, PoolingOptions
    from .stats.pooling import leave_one_out, pool_proportions, pool_proportions_many
    from .stats.proportions import (
        back_transform,
        proportion_ci,
        study_proportions,
        transform_proportion,
    )
    from .stats.results import (
        ConfidenceInterval,
        Heterogeneity,
        LeaveOneOut,
        PooledProportion,
        ProportionEstimate,
    )
    from .stats.two_group import pool_two_group, two_group_effect_sizes
    from .stats.two_group_results import PooledEffect, StudyComparison
    from .stats.two_group_study import study_effects
