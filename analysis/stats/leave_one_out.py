"""Leave-one-out re-fits of any pooled model (metafor ``leave1out``)."""

from __future__ import annotations

import numpy as np

from ._columns import Columns
from ._validation import canonical, check_counts
from .options import DEFAULTS
from .pooling import _glmm_ci_method, pool_proportions
from .results import LeaveOneOut, PooledProportion

__all__ = ["leave_one_out"]


def leave_one_out(fit, n=None, *, study_ids=None, **options) -> LeaveOneOut:
    """Re-fit without each study in turn (any model, GLMM included), as metafor's
    ``leave1out(res)``.

    ``fit`` is a `PooledProportion`: its studies and options are reused, so the full fit
    is not computed again. The older form ``leave_one_out(events, n, **options)`` fits
    first. Needs at least two studies.

    Examples
    --------
    >>> res = pool_proportions([16, 10, 4], [17, 12, 8], model="random")
    >>> leave_one_out(res).rows.omitted.tolist()
    ['1', '2', '3']
    """
    if isinstance(fit, PooledProportion):
        if n is not None or study_ids is not None or options:
            raise ValueError("leave_one_out(fit) takes no counts or options: they come from the fit")
        full = fit
        x = full.table.events
        m = full.table.n
        ids = [str(s) for s in full.table.study_id]
        options = {k: v for k, v in full.methods().items() if k != "back_transform"}
        if full.model == "bayes":
            options = {"model": "bayes", "confidence_level": full.confidence_level,
                       "study_ci_method": full.study_ci_method, "likelihood": full.likelihood,
                       "tau_prior": full.prior_spec[0], "mu_prior": full.prior_spec[1]}
        elif full.model != "random":
            options.pop("tau2_method")
        if full.model not in ("glmm", "bayes"):
            options.pop("n_agq")
        if x.size < 2:
            raise ValueError("leave-one-out needs at least two studies")
    else:
        x, m = check_counts(fit, n, study_ids=study_ids)
        ids = [str(s) for s in study_ids] if study_ids is not None else [str(i + 1) for i in range(x.size)]
        if x.size < 2:
            raise ValueError("leave-one-out needs at least two studies")
        model = canonical("model", options.get("model", DEFAULTS.model))
        if "ci_method" in options:  # warn once here, not once per re-fit
            options = {**options, "ci_method": _glmm_ci_method(
                model, canonical("ci_method", options["ci_method"]), stacklevel=3)}
        full = pool_proportions(x, m, study_ids=ids, **options)
    rows = []
    for i, sid in enumerate(ids):
        keep = np.arange(x.size) != i
        r = pool_proportions(x[keep], m[keep], study_ids=[s for j, s in enumerate(ids) if j != i],
                             tau2_ci=False, **options)
        rows.append(
            {
                "omitted": sid,
                "estimate": r.proportion,
                "ci_low": r.proportion_ci.low,
                "ci_high": r.proportion_ci.high,
                "tau2": r.heterogeneity.tau2,
                "i2": r.heterogeneity.i2,
                "warnings": r.warnings,
            }
        )
    return LeaveOneOut(full=full, table=Columns.from_records(rows))
