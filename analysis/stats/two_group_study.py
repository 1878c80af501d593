"""One study's 2x2 table: RR, OR and RD with intervals that need no continuity correction.

Group 1 is the treated arm (``a`` events of ``n1``), group 0 the control arm (``c`` of
``n0``); ``b = n1 - a`` and ``d = n0 - c``. The intervals are chosen so that a zero cell
never calls for an added 1/2:

* risk difference -- Newcombe's hybrid score interval, method 10 of Newcombe (1998) [1]_:
  from each arm's Wilson (1927) score interval ``(l, u)``,
  ``RD - sqrt((p1 - l1)^2 + (u0 - p0)^2)`` to ``RD + sqrt((u1 - p1)^2 + (p0 - l0)^2)``.
  It is defined for every table, the double-zero one included (RD = 0).
* risk ratio -- Koopman's (1984) asymptotic score interval [2]_: the values of
  ``theta = p1 / p0`` whose Pearson statistic with the constrained maximum-likelihood
  proportions stays below the chi-square(1) quantile. Chosen over Katz's log interval
  because Katz's variance ``1/a - 1/n1 + 1/c - 1/n0`` is infinite with a zero cell (it
  needs the 1/2) while the score interval is finite on its open side (``a = 0`` gives
  ``[0, U]``, ``c = 0`` gives ``[L, inf)``), and because Fagerland, Lydersen & Laake
  (2015) [3]_ recommend it for small samples. Undefined when ``a = c = 0``.
* odds ratio -- the exact conditional interval (Cornfield 1956; Fisher), as R's
  ``fisher.test``: the non-central hypergeometric distribution of ``a`` given the
  margins, each limit solving a one-sided tail probability equal to ``alpha / 2``. It
  is conservative (coverage at least the nominal level). This module does not offer
  the mid-p variant. The reported OR is the sample OR ``ad / bc``; the conditional MLE
  (R's ``fisher.test`` estimate) is given beside it. Undefined for double-zero tables
  (no events, or only events, in both arms).
* Fisher's exact test, two-sided, as R's ``fisher.test`` (tables whose probability is
  at most the observed one times ``1 + 1e-7``).

Infinite limits are returned as ``inf`` (and written to JSON as null; a null limit of a
defined estimate means "unbounded").

References
----------
.. [1] Newcombe, R. G. (1998). Interval estimation for the difference between
   independent proportions: comparison of eleven methods. Statistics in Medicine,
   17(8), 873-890. https://doi.org/10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I
.. [2] Koopman, P. A. R. (1984). Confidence intervals for the ratio of two binomial
   proportions. Biometrics, 40(2), 513-517. https://doi.org/10.2307/2531405
.. [3] Fagerland, M. W., Lydersen, S., & Laake, P. (2015). Recommended confidence
   intervals for two independent binomial proportions. Statistical Methods in Medical
   Research, 24(2), 224-254. https://doi.org/10.1177/0962280211415469
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from ._columns import Columns
from ._dist import chi2_isf, norm_isf
from ._roots import brentq_rows
from ._validation import InputError, check_confidence_level, check_counts
from .results import ConfidenceInterval
from .two_group_results import StudyComparison

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "fisher_exact_test",
    "koopman_interval",
    "newcombe_interval",
    "or_exact_interval",
    "study_effects",
    "study_effects_frame",
    "wilson_interval",
]

_FISHER_REL_ERR = 1.0 + 1e-7  # R's fisher.test: ties within this factor count as "as extreme"
_LOG_PSI_MAX = 700.0


def wilson_interval(events, n, *, confidence_level: float = 0.95):
    """Wilson (1927) score interval without continuity correction (vectorised).

    Exactly 0 at ``events = 0`` and exactly 1 at ``events = n``.
    """
    level = check_confidence_level(confidence_level)
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    z = norm_isf((1 - level) / 2)
    p = x / m
    denom = 1 + z * z / m
    centre = (p + z * z / (2 * m)) / denom
    half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / denom
    lo = np.where(x == 0, 0.0, centre - half)
    hi = np.where(x == m, 1.0, centre + half)
    return lo, hi


def newcombe_interval(a, n1, c, n0, *, confidence_level: float = 0.95):
    """Newcombe (1998) method 10 interval for ``a/n1 - c/n0`` (vectorised)."""
    a, n1, c, n0 = (np.asarray(v, dtype=float) for v in (a, n1, c, n0))
    p1, p0 = a / n1, c / n0
    l1, u1 = wilson_interval(a, n1, confidence_level=confidence_level)
    l0, u0 = wilson_interval(c, n0, confidence_level=confidence_level)
    rd = p1 - p0
    return rd - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), rd + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def _pearson_term(x, n, p):
    num = (x - n * p) ** 2
    if num == 0.0:
        return 0.0
    den = n * p * (1.0 - p)
    return math.inf if den <= 0.0 else num / den


def _koopman_statistic(log_theta: float, a: int, n1: int, c: int, n0: int) -> float:
    """Pearson chi-square at ``p1 = theta p0`` with the constrained MLEs (Koopman 1984)."""
    theta = math.exp(log_theta)
    big_n = n1 + n0
    qa = theta * big_n
    qb = -(theta * (n1 + c) + a + n0)
    qc = a + c
    disc = max(qb * qb - 4.0 * qa * qc, 0.0)
    p0 = 2.0 * qc / (-qb + math.sqrt(disc))  # the smaller root, in a stable form
    p0 = min(p0, 1.0, 1.0 / theta)
    return _pearson_term(a, n1, theta * p0) + _pearson_term(c, n0, p0)


def _root_outward(f, start: float, step: float) -> float:
    """Root of f (f(start) < 0, f growing outward) moving from `start` by doubling steps."""
    inner, outer = start, start + step
    while f(outer) < 0.0:
        inner, outer = outer, outer + step
        step *= 2.0
        if abs(outer) > _LOG_PSI_MAX:
            return math.copysign(math.inf, step)
    # Brent's method as scipy's brentq, step for step (analysis.stats._roots), without
    # importing scipy.optimize (its import costs more than the whole interval)
    root = brentq_rows(lambda x: np.array([f(float(v)) for v in x]), [min(inner, outer)],
                       [max(inner, outer)], xtol=1e-14, rtol=1e-15)
    return float(root[0])


def koopman_interval(a: int, n1: int, c: int, n0: int, *, confidence_level: float = 0.95):
    """Koopman (1984) score interval for ``(a/n1) / (c/n0)``; (nan, nan) if a = c = 0."""
    level = check_confidence_level(confidence_level)
    if a == 0 and c == 0:
        return math.nan, math.nan
    crit = chi2_isf(1 - level, 1)

    def f(s):
        return _koopman_statistic(s, a, n1, c, n0) - crit

    # a point inside the interval: the estimate, or far out on its open side
    start = math.log((a / n1) / (c / n0)) if a > 0 and c > 0 else (-40.0 if a == 0 else 40.0)
    lo = 0.0 if a == 0 else math.exp(_root_outward(f, start, -1.0))
    hi = math.inf if c == 0 else math.exp(_root_outward(f, start, 1.0))
    return lo, hi


def _nchg(a: int, n1: int, c: int, n0: int):
    """Support of ``a`` given the margins and the central log-probabilities (log C terms)."""
    t = a + c
    support = np.arange(max(0, t - n0), min(n1, t) + 1, dtype=float)
    logc = (special.gammaln(n1 + 1) - special.gammaln(support + 1) - special.gammaln(n1 - support + 1)
            + special.gammaln(n0 + 1) - special.gammaln(t - support + 1) - special.gammaln(n0 - t + support + 1))
    return support, logc


def _lse(w) -> float:
    """log(sum(exp(w))) of a small 1-d array (scipy's logsumexp costs ~1 ms a call)."""
    m = float(np.max(w))
    return m + math.log(float(np.sum(np.exp(w - m))))


def _log_pmf(support, logc, log_psi: float):
    w = logc + support * log_psi
    return w - _lse(w)


def fisher_exact_test(a: int, n1: int, c: int, n0: int) -> float:
    """Two-sided p-value of Fisher's exact test, as R's ``fisher.test``."""
    support, logc = _nchg(a, n1, c, n0)
    logp = _log_pmf(support, logc, 0.0)
    obs = logp[int(a - support[0])]
    keep = logp <= obs + math.log(_FISHER_REL_ERR)
    return float(min(1.0, math.exp(_lse(logp[keep]))))


def or_exact_interval(a: int, n1: int, c: int, n0: int, *, confidence_level: float = 0.95):
    """Exact conditional (Cornfield/Fisher) interval and conditional MLE of the OR.

    Returns ``(cmle, low, high)``; ``(nan, nan, nan)`` for a double-zero table. Each
    limit solves its tail equation in log OR by safeguarded Newton steps (the tails and
    the mean are monotone in log OR, with derivatives from the same pmf).
    """
    level = check_confidence_level(confidence_level)
    support, logc = _nchg(a, n1, c, n0)
    if support.size == 1:
        return math.nan, math.nan, math.nan
    log_half_alpha = math.log((1.0 - level) / 2)
    upper, lower = support >= a, support <= a

    def upper_tail(s):  # log P(X >= a) - log(alpha/2), increasing in s
        lp = _log_pmf(support, logc, s)
        p = np.exp(lp)
        tail = _lse(lp[upper])
        mean_all = float(np.sum(p * support))
        mean_tail = float(np.sum(p[upper] * support[upper]) / math.exp(tail))
        return tail - log_half_alpha, mean_tail - mean_all

    def lower_tail(s):  # log(alpha/2) - log P(X <= a), increasing in s
        lp = _log_pmf(support, logc, s)
        p = np.exp(lp)
        tail = _lse(lp[lower])
        mean_all = float(np.sum(p * support))
        mean_tail = float(np.sum(p[lower] * support[lower]) / math.exp(tail))
        return log_half_alpha - tail, mean_all - mean_tail

    def mean_gap(s):
        p = np.exp(_log_pmf(support, logc, s))
        m = float(np.sum(p * support))
        return m - a, float(np.sum(p * support * support)) - m * m

    start = math.log(max(a, 0.5) * max(n0 - c, 0.5) / (max(n1 - a, 0.5) * max(c, 0.5)))
    at_low, at_high = a == support[0], a == support[-1]
    low = 0.0 if at_low else math.exp(_newton_root(upper_tail, start))
    high = math.inf if at_high else math.exp(_newton_root(lower_tail, start))
    cmle = 0.0 if at_low else (math.inf if at_high else math.exp(_newton_root(mean_gap, start)))
    return cmle, low, high


def _newton_root(f, start: float) -> float:
    """Root of an increasing function of log psi: Newton steps kept inside a bracket
    that is first found by doubling steps from `start` (bisection when a step leaves it)."""
    lo, hi, step = start, start, 1.0
    while f(lo)[0] > 0.0:
        lo -= step
        step *= 2.0
    step = 1.0
    while f(hi)[0] < 0.0:
        hi += step
        step *= 2.0
    x = 0.5 * (lo + hi)
    for _ in range(200):
        val, slope = f(x)
        if val > 0.0:
            hi = x
        else:
            lo = x
        nxt = x - val / slope if slope > 0 else math.nan
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        if abs(nxt - x) < 1e-13 * max(1.0, abs(x)) or hi - lo < 1e-13:
            return nxt
        x = nxt
    return x


def _sample_ratios(a: int, n1: int, c: int, n0: int):
    b, d = n1 - a, n0 - c
    double = (a == 0 and c == 0) or (b == 0 and d == 0)
    rr = math.nan if (a == 0 and c == 0) else (math.inf if c == 0 else (a / n1) / (c / n0))
    if double:
        odds = math.nan
    elif b * c == 0:
        odds = math.inf
    else:
        odds = (a * d) / (b * c)
    return rr, odds, double


def study_effects(events_treated, n_treated, events_control, n_control, *,
                  confidence_level: float = 0.95, study_id=None) -> StudyComparison:
    """RR, OR and RD of one 2x2 table with the intervals above and Fisher's exact p.

    Returns
    -------
    StudyComparison
        ``to_dict()`` gives the flat JSON row for a results table: ``rr, rr_ci_low,
        rr_ci_high, or, or_ci_low, or_ci_high, or_conditional_mle, rd, rd_ci_low,
        rd_ci_high, fisher_p`` (None where undefined or unbounded) and the counts.

    Examples
    --------
    >>> r = study_effects(0, 5, 0, 9)
    >>> r.risk_difference, r.risk_ratio, r.odds_ratio, r.double_zero
    (0.0, None, None, True)
    >>> d = r.to_dict()
    >>> round(d["rd_ci_low"], 4), round(d["rd_ci_high"], 4), d["fisher_p"]
    (-0.2991, 0.4345, 1.0)
    """
    level = check_confidence_level(confidence_level)
    a, n1, c, n0, ids = _checked([events_treated], [n_treated], [events_control], [n_control],
                                 None if study_id is None else [study_id])
    row = _study_effects_table(a, n1, c, n0, level, ids).row(0)

    def est(x):
        return None if math.isnan(x) else float(x)

    def ci(name):
        return ConfidenceInterval(est(row[f"{name}_ci_low"]), est(row[f"{name}_ci_high"]), level)

    return StudyComparison(
        study_id=str(row["study_id"]), events_treated=int(row["events_treated"]),
        n_treated=int(row["n_treated"]), events_control=int(row["events_control"]),
        n_control=int(row["n_control"]), double_zero=bool(row["double_zero"]),
        risk_ratio=est(row["rr"]), risk_ratio_ci=ci("rr"), odds_ratio=est(row["or"]), odds_ratio_ci=ci("or"),
        odds_ratio_conditional_mle=est(row["or_conditional_mle"]), risk_difference=float(row["rd"]),
        risk_difference_ci=ci("rd"), fisher_p=float(row["fisher_p"]), confidence_level=level,
    )


def study_effects_frame(events_treated, n_treated, events_control, n_control, *,
                        confidence_level: float = 0.95, study_ids=None,
                        measures: tuple[str, ...] = ("rr", "or", "rd")) -> pd.DataFrame:
    """`study_effects` for many studies: one row each (infinite limits kept as inf).

    ``measures`` limits the (slower) iterative intervals to the ones needed.
    """
    level = check_confidence_level(confidence_level)
    a, n1, c, n0, ids = _checked(events_treated, n_treated, events_control, n_control, study_ids)
    return _study_effects_table(a, n1, c, n0, level, ids, measures).frame()


def _checked(events_treated, n_treated, events_control, n_control, study_ids):
    a, n1 = check_counts(events_treated, n_treated, study_ids=study_ids)
    c, n0 = check_counts(events_control, n_control, study_ids=study_ids)
    if a.size != c.size:
        raise InputError(f"the two arms must have the same number of studies; got {a.size} and {c.size}")
    ids = [str(s) for s in study_ids] if study_ids is not None else [str(i + 1) for i in range(a.size)]
    return a, n1, c, n0, ids


def _study_effects_table(a, n1, c, n0, level, ids, measures=("rr", "or", "rd")) -> Columns:
    """The kernel of `study_effects_frame` (checked counts) as a `Columns`."""
    rows = []
    rd_lo, rd_hi = newcombe_interval(a, n1, c, n0, confidence_level=level)
    for i in range(a.size):
        ai, n1i, ci, n0i = int(a[i]), int(n1[i]), int(c[i]), int(n0[i])
        rr, odds, double = _sample_ratios(ai, n1i, ci, n0i)
        row = {"study_id": ids[i], "events_treated": ai, "n_treated": n1i, "events_control": ci,
               "n_control": n0i, "risk_treated": ai / n1i, "risk_control": ci / n0i, "double_zero": double}
        if "rr" in measures:
            lo, hi = koopman_interval(ai, n1i, ci, n0i, confidence_level=level)
            row.update(rr=rr, rr_ci_low=lo, rr_ci_high=hi)
        if "or" in measures:
            cmle, lo, hi = or_exact_interval(ai, n1i, ci, n0i, confidence_level=level)
            row.update({"or": odds, "or_ci_low": lo, "or_ci_high": hi, "or_conditional_mle": cmle})
        if "rd" in measures:
            row.update(rd=ai / n1i - ci / n0i, rd_ci_low=float(rd_lo[i]), rd_ci_high=float(rd_hi[i]))
        row["fisher_p"] = fisher_exact_test(ai, n1i, ci, n0i)
        rows.append(row)
    return Columns.from_records(rows)
