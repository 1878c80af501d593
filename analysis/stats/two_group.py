"""Treated-versus-control effects: the escalc step and `pool_two_group`, the one entry point.

Group 1 is the treated arm (``a`` events of ``n1``), group 0 the control arm (``c`` of
``n0``). The pooling methods and the metafor function each one reproduces:

==================  =========  =============  ======================================
method              measures   models         metafor 3.8
==================  =========  =============  ======================================
mantel-haenszel     or rr rd   common         ``rma.mh``
peto                or         common         ``rma.peto``
inverse-variance    or rr rd   common random  ``rma.uni`` on ``escalc`` (EE, DL, REML..)
glmm-umfs           or         common random  ``rma.glmm(model="UM.FS")`` (EE, ML)
glmm-cmel           or         common random  ``rma.glmm(model="CM.EL")`` (EE, ML)
==================  =========  =============  ======================================

Zero cells as metafor's defaults: the inverse-variance effects get 1/2 added to every
cell of a table with a zero cell (``add=1/2, to="only0"``); Mantel-Haenszel, Peto and
the GLMMs use the raw counts. Double-zero tables (no events, or only events, in both
arms) carry no information about an OR or RR: they are dropped from the GLMMs and from
every per-study ``effect``/``variance`` (metafor's ``drop00=TRUE``), and from the
inverse-variance fit unless ``drop_double_zero=False`` (metafor's ``rma.uni`` default);
Mantel-Haenszel and Peto keep them in their sums, as metafor does (they contribute
nothing there, except weight to the MH risk difference). The dropped studies are listed
in the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._columns import Columns
from ._dist import chi2_sf, norm_isf, norm_sf, t_isf, t_sf
from ._validation import (
    CORRECTION_POLICIES,
    MODELS,
    TAU2_METHODS,
    TWO_GROUP_CI_METHODS,
    TWO_GROUP_MEASURES,
    TWO_GROUP_METHODS,
    CorrectionPolicy,
    InputError,
    Tau2Method,
    TwoGroupCIMethod,
    TwoGroupMeasure,
    TwoGroupMethod,
    canonical,
    check_choice,
    check_confidence_level,
    check_counts,
)
from .heterogeneity import h_squared, i_squared, i_squared_q
from .pooling import pool_effects_iv
from .results import ConfidenceInterval, Heterogeneity
from .two_group_glmm import fit_two_group_glmm
from .two_group_mh import mantel_haenszel, peto
from .two_group_results import PooledEffect, display
from .two_group_study import _study_effects_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["pool_two_group", "two_group_effect_sizes"]

_MEASURES_OF = {"mantel-haenszel": ("or", "rr", "rd"), "peto": ("or",), "inverse-variance": ("or", "rr", "rd"),
                "glmm-umfs": ("or",), "glmm-cmel": ("or",)}
_GLMM = ("glmm-umfs", "glmm-cmel")
_COMMON_ONLY = ("mantel-haenszel", "peto")


def _needs_correction(zero: np.ndarray, policy: str) -> np.ndarray:
    if policy == "none":
        return np.zeros_like(zero)
    if policy == "all":
        return np.ones_like(zero)
    if policy == "if0all":
        return np.full_like(zero, zero.any())
    return zero  # "only0"


def _ids(study_ids, k):
    return [str(s) for s in study_ids] if study_ids is not None else [str(i + 1) for i in range(k)]


def _counts(events_treated, n_treated, events_control, n_control, study_ids):
    a, n1 = check_counts(events_treated, n_treated, study_ids=study_ids)
    c, n0 = check_counts(events_control, n_control, study_ids=study_ids)
    if a.size != c.size:
        raise InputError(f"the two arms must have the same number of studies; got {a.size} and {c.size}")
    return a, n1, c, n0


def two_group_effect_sizes(
    events_treated, n_treated, events_control, n_control, *,
    measure: TwoGroupMeasure, correction: float = 0.5, correction_policy: CorrectionPolicy = "only0",
    drop_double_zero: bool = False, study_ids=None,
) -> pd.DataFrame:
    """Per-study effects and sampling variances, as metafor's ``escalc``.

    * "or": ``log(a d / (b c))``, ``1/a + 1/b + 1/c + 1/d``
    * "rr": ``log((a / n1) / (c / n0))``, ``1/a - 1/n1 + 1/c - 1/n0``
    * "rd": ``a / n1 - c / n0``, ``p1 (1 - p1) / n1 + p0 (1 - p0) / n0``

    With ``correction_policy="only0"`` the correction is added to all four cells of a
    table that has a zero cell. ``drop_double_zero=True`` sets ``effect`` and
    ``variance`` to NaN for double-zero tables (metafor's ``drop00=TRUE``).

    Returns
    -------
    pandas.DataFrame
        ``study_id``, ``events_treated``, ``n_treated``, ``events_control``,
        ``n_control``, ``effect``, ``variance``, ``corrected``, ``double_zero``.

    Examples
    --------
    >>> es = two_group_effect_sizes([8], [10], [3], [9], measure="rr")
    >>> round(float(es.effect[0]), 4)
    0.8755
    """
    check_choice("measure", measure, TWO_GROUP_MEASURES)
    check_choice("correction_policy", correction_policy, CORRECTION_POLICIES)
    a, n1, c, n0 = _counts(events_treated, n_treated, events_control, n_control, study_ids)
    ids = _ids(study_ids, a.size)
    return _effect_table(a, n1, c, n0, ids, measure, correction, correction_policy,
                         drop_double_zero).frame()


def _effect_table(a, n1, c, n0, ids, measure, correction, correction_policy,
                  drop_double_zero) -> Columns:
    """The kernel of `two_group_effect_sizes` (checked counts and options) as a `Columns`."""
    b, d = n1 - a, n0 - c
    double = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    corrected = _needs_correction(zero, correction_policy) & (correction > 0)
    if drop_double_zero:
        corrected = corrected & ~double
    add = np.where(corrected, float(correction), 0.0)
    af, bf, cf, df_ = a + add, b + add, c + add, d + add
    m1, m0 = af + bf, cf + df_
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "or":
            y = np.log(af * df_ / (bf * cf))
            v = 1 / af + 1 / bf + 1 / cf + 1 / df_
        elif measure == "rr":
            y = np.log((af / m1) / (cf / m0))
            v = 1 / af - 1 / m1 + 1 / cf - 1 / m0
        else:
            p1, p0 = af / m1, cf / m0
            y = p1 - p0
            v = p1 * (1 - p1) / m1 + p0 * (1 - p0) / m0
    if drop_double_zero:
        y, v = np.where(double, np.nan, y), np.where(double, np.nan, v)
    bad = ~(np.isfinite(y) & np.isfinite(v) & (v > 0)) & ~(double & drop_double_zero)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"the {measure} of study {ids[i]} is undefined (zero variance or zero cell "
                         "without continuity correction)", row=ids[i], field="events_treated")
    return Columns({
        "study_id": ids, "events_treated": a.astype(np.int64), "n_treated": n1.astype(np.int64),
        "events_control": c.astype(np.int64), "n_control": n0.astype(np.int64),
        "effect": y, "variance": v, "corrected": corrected, "double_zero": double,
    })


def _check_options(measure, method, model, tau2_method, ci_method, n_agq):
    check_choice("measure", measure, TWO_GROUP_MEASURES)
    check_choice("method", method, TWO_GROUP_METHODS)
    check_choice("ci_method", ci_method, TWO_GROUP_CI_METHODS)
    if measure not in _MEASURES_OF[method]:
        raise ValueError(f'method="{method}" supports measure ' + ", ".join(f'"{m}"' for m in _MEASURES_OF[method])
                         + f'; got measure="{measure}"')
    if model is None:
        model = "common" if method in _COMMON_ONLY else "random"
    check_choice("model", model, tuple(m for m in MODELS if m != "glmm"))
    if method in _COMMON_ONLY and model != "common":
        raise ValueError(f'method="{method}" is a common-effect method: model must be "common"; got "{model}"')
    if tau2_method is not None:
        check_choice("tau2_method", tau2_method, TAU2_METHODS)
        if not (method == "inverse-variance" and model == "random"):
            raise ValueError("tau2_method applies only to method=\"inverse-variance\" with model=\"random\" "
                             f'(the GLMMs estimate tau^2 by ML); got tau2_method="{tau2_method}"')
    elif method == "inverse-variance" and model == "random":
        tau2_method = "reml"
    if ci_method == "knapp-hartung" and method != "inverse-variance":
        raise ValueError('ci_method="knapp-hartung" applies only to method="inverse-variance"'
                         + ('; the GLMMs offer ci_method="t" (t quantiles)' if method in _GLMM else ""))
    if ci_method == "t" and method not in _GLMM:
        raise ValueError('ci_method="t" applies only to the GLMMs; use "knapp-hartung" with inverse-variance')
    if not isinstance(n_agq, int | np.integer) or not 1 <= int(n_agq) <= 50:
        raise ValueError(f"n_agq must be an integer between 1 and 50; got {n_agq!r}")
    return model, tau2_method


def pool_two_group(
    events_treated, n_treated, events_control, n_control, *,
    measure: TwoGroupMeasure = "or",
    method: TwoGroupMethod = "mantel-haenszel",
    model: str | None = None,
    tau2_method: Tau2Method | None = None,
    ci_method: TwoGroupCIMethod = "wald",
    confidence_level: float = 0.95,
    drop_double_zero: bool = True,
    n_agq: int = 7,
    study_ids=None,
) -> PooledEffect:
    """Pool treated-versus-control 2x2 tables (see the module docstring for the methods).

    Parameters
    ----------
    events_treated, n_treated, events_control, n_control : array_like of int
    measure : {"or", "rr", "rd"}
        Odds ratio, risk ratio or risk difference (ratios pooled on the log scale).
    method : {"mantel-haenszel", "peto", "inverse-variance", "glmm-umfs", "glmm-cmel"}
    model : {"common", "random"}, optional
        Default: "common" for Mantel-Haenszel and Peto (the only model they have),
        "random" otherwise.
    tau2_method : {"reml", "dersimonian-laird", "paule-mandel", "ml"}, optional
        Inverse-variance random effects only (default "reml").
    ci_method : {"wald", "knapp-hartung", "t"}
        "knapp-hartung" (inverse variance: Knapp & Hartung 2003, metafor ``test="knha"``);
        "t" (GLMMs: t(k - 1) quantiles, metafor ``test="t"``).
    confidence_level : float
    drop_double_zero : bool
        Drop double-zero tables from the inverse-variance fit (default, as the other
        methods); False keeps them with 1/2 added, as ``rma.uni``'s default.
    n_agq : int
        Quadrature nodes of "glmm-umfs" (7, as metafor/lme4; 1 = Laplace).
    study_ids : sequence, optional

    Returns
    -------
    PooledEffect

    Raises
    ------
    ValueError
        An unknown option or an invalid combination (e.g. Peto with "rr", a GLMM with
        "rd", Mantel-Haenszel with model="random"), bad counts (`analysis.InputError`),
        or no study with an event in some arm (every table double-zero).

    Examples
    --------
    >>> res = pool_two_group([4, 6], [123, 306], [11, 29], [139, 303], measure="rr")
    >>> res.method, res.model, round(res.estimate, 4)
    ('mantel-haenszel', 'common', 0.2588)
    """
    measure = canonical("two_group_measure", measure)
    model = None if model is None else canonical("model", model)
    tau2_method = None if tau2_method is None else canonical("tau2_method", tau2_method)
    ci_method = canonical("ci_method", ci_method)
    model, tau2_method = _check_options(measure, method, model, tau2_method, ci_method, n_agq)
    level = check_confidence_level(confidence_level)
    a, n1, c, n0 = _counts(events_treated, n_treated, events_control, n_control, study_ids)
    ids = _ids(study_ids, a.size)
    drop = drop_double_zero or method != "inverse-variance"
    es = _effect_table(a, n1, c, n0, ids, measure, 0.5, "only0", drop)
    double = es.double_zero
    if double.all() and drop:
        raise ValueError("no study has events in one arm and not the other: every table is double-zero "
                         "(no events, or only events, in both arms), so no effect can be pooled; "
                         "report the studies' risk differences with their Newcombe intervals")
    rows = _study_effects_table(a, n1, c, n0, level, ids, (measure,))
    in_model = ~double if (method in _GLMM or (method == "inverse-variance" and drop_double_zero)) \
        else np.ones(a.size, bool)
    fit = _FITTERS[method](a, n1, c, n0, es, in_model, measure=measure, model=model, tau2_method=tau2_method,
                           ci_method=ci_method, level=level, n_agq=int(n_agq))
    studies = Columns({
        "study_id": ids, "events_treated": a.astype(np.int64), "n_treated": n1.astype(np.int64),
        "events_control": c.astype(np.int64), "n_control": n0.astype(np.int64), "double_zero": double,
        "in_model": in_model, "study_estimate": rows[measure].astype(float),
        "study_ci_low": rows[f"{measure}_ci_low"].astype(float),
        "study_ci_high": rows[f"{measure}_ci_high"].astype(float),
        "fisher_p": rows["fisher_p"].astype(float), "effect": es.effect,
        "variance": es.variance, "weight": fit["weights"],
    })
    return _assemble(fit, studies, measure, method, model, tau2_method, ci_method, level,
                     tuple(s for s, keep in zip(ids, in_model, strict=True) if not keep), int(n_agq))


def _crit_and_p(est, se, level, use_t, df):
    alpha = 1 - level
    if est is None or se is None or not se > 0:
        return None, None
    if use_t:
        return float(t_isf(alpha / 2, df)), float(2 * t_sf(abs(est / se), df))
    return float(norm_isf(alpha / 2)), float(2 * norm_sf(abs(est / se)))


def _q_het(k, q, df, tau2=None, v=None, q_lrt=None, q_lrt_df=None):
    has_q = q is not None and df >= 1
    i2 = h2 = None
    if tau2 is not None and v is not None and v.size > 1:
        i2, h2 = i_squared(tau2, v), h_squared(tau2, v)
    elif tau2 is None and has_q:
        i2, h2 = i_squared_q(q, df), q / df
    return Heterogeneity(
        k=k, q=q if has_q else None, df=df, q_pvalue=float(chi2_sf(q, df)) if has_q else None,
        tau2=tau2, tau2_ci=None, i2=i2, i2_ci=None, i2_q=i_squared_q(q, df) if has_q else None, h2=h2,
        q_lrt=q_lrt, q_lrt_pvalue=float(chi2_sf(q_lrt, q_lrt_df)) if q_lrt is not None and q_lrt_df else None,
    )


def _fit_iv(a, n1, c, n0, es, in_model, *, measure, model, tau2_method, ci_method, level, n_agq):
    y, v = es.effect[in_model], es.variance[in_model]
    r = pool_effects_iv(y, v, model=model, tau2_method=tau2_method or "reml", ci_method=ci_method,
                        confidence_level=level)
    k = int(y.size)
    use_t = ci_method == "knapp-hartung" and k > 1
    _, p = _crit_and_p(r["estimate"], r["se"], level, use_t, k - 1)
    weights = np.full(a.size, np.nan)
    weights[in_model] = r["weights"]
    return {"effect": r["estimate"], "se": r["se"], "ci": r["ci"], "pi": r["pi"], "pvalue": p, "k": k,
            "heterogeneity": r["heterogeneity"], "weights": weights, "q_lrt_df": None, "warnings": []}


def _fit_mh(a, n1, c, n0, es, in_model, *, measure, level, **_):
    est, se, weights = mantel_haenszel(a, n1 - a, c, n0 - c, measure=measure)
    warnings = []
    if est is None:
        warnings.append(f"the Mantel-Haenszel {measure.upper()} is 0 or infinite (no events in one arm of "
                        "every study): no finite estimate or interval exists")
    crit, p = _crit_and_p(est, se, level, False, 0)
    ci = (est - crit * se, est + crit * se) if crit is not None else (None, None)
    if est is not None and crit is None:
        warnings.append("the Sato-Greenland-Robins variance is 0 (no events in any study): no interval or "
                        "p-value; read the studies' Newcombe intervals")
    y, v = es.effect, es.variance
    ok = np.isfinite(y)
    q = float(np.sum((y[ok] - est) ** 2 / v[ok])) if est is not None and ok.sum() > 1 else None
    return {"effect": est, "se": se, "ci": ci, "pi": None, "pvalue": p, "k": int(a.size),
            "heterogeneity": _q_het(int(a.size), q, int(ok.sum()) - 1), "weights": weights,
            "q_lrt_df": None, "warnings": warnings}


def _fit_peto(a, n1, c, n0, es, in_model, *, level, **_):
    est, se, q, k_pos, weights = peto(a, n1 - a, c, n0 - c)
    crit, p = _crit_and_p(est, se, level, False, 0)
    return {"effect": est, "se": se, "ci": (est - crit * se, est + crit * se), "pi": None, "pvalue": p,
            "k": int(a.size), "heterogeneity": _q_het(int(a.size), q if k_pos > 1 else None, k_pos - 1),
            "weights": weights, "q_lrt_df": None, "warnings": []}


def _fit_glmm(a, n1, c, n0, es, in_model, *, model, ci_method, level, n_agq, method, **_):
    k = int(in_model.sum())
    fit = fit_two_group_glmm(a[in_model], n1[in_model], c[in_model], n0[in_model], model=method,
                             random=model == "random", n_agq=n_agq)
    warnings = []
    tau2 = fit.tau2 if model == "random" else None
    if fit.estimate is None:
        warnings.append("every study has its treated count at the same extreme given its margins "
                        "(separation): the log OR has no finite maximum-likelihood estimate")
    elif model == "random" and k == 1:
        warnings.append("only one study: the random-effects GLMM is not identifiable (metafor stops); the "
                        "estimate is the study's common-effect fit and tau^2 is None")
    elif model == "random" and fit.at_boundary:
        warnings.append("the ML estimate of tau^2 is 0: the random-effects GLMM coincides with the "
                        "common-effect model")
    if fit.estimate is not None and not fit.converged:
        warnings.append(f"GLMM optimiser did not report convergence: {fit.message}")
    use_t = ci_method == "t" and k > 1
    crit, p = _crit_and_p(fit.estimate, fit.se, level, use_t, k - 1)
    ci = (fit.estimate - crit * fit.se, fit.estimate + crit * fit.se) if crit is not None else (None, None)
    pi = None
    if tau2 is not None and crit is not None:
        half = crit * np.sqrt(fit.se**2 + tau2)
        pi = (fit.estimate - half, fit.estimate + half)
    v = es.variance[in_model]
    het = _q_het(k, fit.q_wald, fit.q_wald_df, tau2=tau2, v=v if tau2 is not None else None,
                 q_lrt=fit.q_lrt, q_lrt_df=k - 1)
    return {"effect": fit.estimate, "se": fit.se, "ci": ci, "pi": pi, "pvalue": p, "k": k,
            "heterogeneity": het, "weights": np.full(a.size, np.nan), "q_lrt_df": k - 1, "warnings": warnings}


_FITTERS = {"inverse-variance": _fit_iv, "mantel-haenszel": _fit_mh, "peto": _fit_peto,
            "glmm-umfs": lambda *a, **kw: _fit_glmm(*a, method="glmm-umfs", **kw),
            "glmm-cmel": lambda *a, **kw: _fit_glmm(*a, method="glmm-cmel", **kw)}


def _assemble(fit, studies, measure, method, model, tau2_method, ci_method, level, dropped, n_agq):
    warnings = list(fit["warnings"])
    k = fit["k"]
    if model == "random" and k == 2:
        warnings.append("only two studies: tau^2 and the random-effects interval are very imprecise")
    lo, hi = fit["ci"]
    eci = ConfidenceInterval(lo, hi, level)
    epi = None if fit["pi"] is None else ConfidenceInterval(*fit["pi"], level)
    return PooledEffect(
        measure=measure, method=method, model=model, tau2_method=tau2_method, ci_method=ci_method,
        confidence_level=level, estimate=display(measure, fit["effect"]),
        ci=ConfidenceInterval(display(measure, lo), display(measure, hi), level),
        pi=None if epi is None else ConfidenceInterval(display(measure, epi.low), display(measure, epi.high), level),
        effect=fit["effect"], se=fit["se"], effect_ci=eci, effect_pi=epi, pvalue=fit["pvalue"], k=k,
        heterogeneity=fit["heterogeneity"], q_lrt_df=fit["q_lrt_df"], dropped=dropped, table=studies,
        n_agq=n_agq if method == "glmm-umfs" else None, warnings=tuple(warnings),
    )
