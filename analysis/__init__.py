"""bkvn-ivig-evidence: evidence synthesis of IVIG for BK-virus viremia and nephropathy.

The public API (importing it has no side effects)::

    from analysis import pool_proportions, proportion_ci, leave_one_out, forest_plot
    res = pool_proportions(events, n)             # the report's primary method (GLMM, t CIs)
    print(res.summary()); res.to_frame(); res.to_dict()
    fig = res.plot_forest()                       # or forest_plot(res); needs matplotlib

``forest_plot`` is imported on first use, so ``import analysis`` does not load matplotlib.
"""

from ._version import __version__
from .stats._validation import InputError
from .stats.effects import effect_sizes, two_group_effect_sizes
from .stats.heterogeneity import i_squared, i_squared_q, q_statistic, tau2, tau2_ci_qprofile
from .stats.options import DEFAULTS, PoolingOptions
from .stats.pooling import leave_one_out, pool_proportions, pool_two_group
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
    PooledEffect,
    PooledProportion,
    ProportionEstimate,
)

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
    "__version__",
    "back_transform",
    "effect_sizes",
    "forest_plot",
    "i_squared",
    "i_squared_q",
    "leave_one_out",
    "pool_proportions",
    "pool_two_group",
    "proportion_ci",
    "q_statistic",
    "study_proportions",
    "tau2",
    "tau2_ci_qprofile",
    "transform_proportion",
    "two_group_effect_sizes",
]


def __getattr__(name: str):
    """Lazy exports: ``forest_plot`` imports matplotlib, so only when first used (PEP 562)."""
    if name == "forest_plot":
        from .present.plotting import forest_plot

        return forest_plot
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
