"""Per-study effect sizes and sampling variances (the ``escalc`` step).

The continuity-correction policy is metafor's (Viechtbauer 2010): by default 1/2 is
added to the event and non-event counts of a study only when one of them is 0
("only0"), for the measures that need it (logit, log, raw; the two-group measures
are in `analysis.stats.two_group`); none is added for the arcsine and Freeman-Tukey
transforms, which are defined at 0% and 100%. The correction only feeds the inverse-variance models and the
I^2 of the GLMM: the GLMM itself fits the raw counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._columns import Columns
from ._validation import (
    CORRECTION_POLICIES,
    MEASURES,
    CorrectionPolicy,
    InputError,
    Measure,
    check_choice,
    check_counts,
)
from .proportions import transform_proportion

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["corrected_effects", "default_correction", "effect_sizes"]


def default_correction(measure: str) -> float:
    """metafor's default continuity correction: 0 for arcsine/Freeman-Tukey, else 1/2."""
    return 0.0 if measure in ("arcsine", "freeman-tukey") else 0.5


def _require_defined(y, v, ids, message) -> None:
    """Raise InputError for the first study whose effect or variance is not usable."""
    bad = ~(np.isfinite(y) & np.isfinite(v) & (v > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(message(i), row=ids[i], field="events")


def _needs_correction(zero: np.ndarray, policy: str) -> np.ndarray:
    """Which studies (last axis) get the correction, per row of a batch."""
    if policy == "none":
        return np.zeros_like(zero)
    if policy == "all":
        return np.ones_like(zero)
    if policy == "if0all":
        return np.broadcast_to(zero.any(axis=-1, keepdims=True), zero.shape).copy()
    return zero  # "only0"


def corrected_effects(x, m, *, measure: str, add: float, policy: str = "only0"):
    """Effects, variances and correction flags of counts (..., k), without checks.

    The kernel of `effect_sizes`, also used on batches of replicate evidence bases by
    `analysis.stats.batched`: ``add`` is added to the events and non-events of the
    studies `policy` selects, then `transform_proportion` is applied.
    """
    corrected = _needs_correction((x == 0) | (x == m), policy) & (add > 0)
    xc = x + np.where(corrected, add, 0.0)
    mc = m + np.where(corrected, 2 * add, 0.0)
    y, v = transform_proportion(xc, mc, measure=measure)
    return y, v, corrected


def effect_sizes(
    events,
    n,
    *,
    measure: Measure,
    correction: float | None = None,
    correction_policy: CorrectionPolicy = "only0",
    study_ids=None,
) -> pd.DataFrame:
    """Single-proportion effects on the analysis scale.

    Parameters
    ----------
    events, n : array_like of int
    measure : {"logit", "freeman-tukey", "arcsine", "log", "raw"}
        See `analysis.proportions.transform_proportion`.
    correction : float, optional
        Amount added to events and non-events; default `default_correction(measure)`.
    correction_policy : {"only0", "all", "if0all", "none"}
        Which studies get the correction: those with 0 or n events (metafor's
        ``to="only0"``, the default), all studies, all studies if any has 0 or n events,
        or none.

    Returns
    -------
    pandas.DataFrame
        ``study_id``, ``events``, ``n``, ``effect``, ``variance``, ``corrected``.

    Raises
    ------
    InputError
        If a study's effect or variance is not finite after the correction (e.g. the
        logit of a 0% study with ``correction_policy="none"``), naming the study.

    Examples
    --------
    >>> es = effect_sizes([0, 5], [10, 10], measure="logit")
    >>> es.corrected.tolist(), round(float(es.effect[0]), 4)
    ([True, False], -3.0445)
    """
    check_choice("measure", measure, MEASURES)
    check_choice("correction_policy", correction_policy, CORRECTION_POLICIES)
    x, m = check_counts(events, n, study_ids=study_ids)
    ids = list(study_ids) if study_ids is not None else [str(i + 1) for i in range(x.size)]
    return _effect_table(x, m, ids, measure, correction, correction_policy).frame()


def _effect_table(x, m, ids, measure: str, correction: float | None, policy: str) -> Columns:
    """The kernel of `effect_sizes` (checked counts and options) as a `Columns`."""
    add = default_correction(measure) if correction is None else float(correction)
    if add < 0:
        raise ValueError(f"correction must be >= 0; got {correction!r}")
    y, v, corrected = corrected_effects(x, m, measure=measure, add=add, policy=policy)
    _require_defined(y, v, ids, lambda i: (
        f"the {measure} effect of {x[i]}/{m[i]} is undefined without a continuity "
        "correction (use correction_policy='only0' or another measure)"))
    return Columns({"study_id": ids, "events": x.astype(np.int64), "n": m.astype(np.int64),
                  "effect": y, "variance": v, "corrected": corrected})

