"""bkvn-ivig-evidence: evidence synthesis of IVIG for BK-virus viremia and nephropathy.

The public API (importing it has no side effects)::

    from analysis import pool_proportions, proportion_ci, leave_one_out
    res = pool_proportions(events, n)             # GLMM, the primary model
    print(res.summary()); res.to_frame(); res.to_dict()
"""

from ._version import __version__
from .stats._validation import InputError
from .stats.effects import effect_sizes
from .stats.heterogeneity import i_squared, i_squared_q, q_statistic, tau2, tau2_ci_qprofile
from .stats.pooling import leave_one_out, pool_proportions
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

__all__ = [
    "ConfidenceInterval",
    "Heterogeneity",
    "InputError",
    "LeaveOneOut",
    "PooledEffect",
    "PooledProportion",
    "ProportionEstimate",
    "StudyComparison",
    "__version__",
    "back_transform",
    "effect_sizes",
    "i_squared",
    "i_squared_q",
    "leave_one_out",
    "pool_proportions",
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
