"""Mantel-Haenszel and Peto pooling of 2x2 tables, as metafor's ``rma.mh`` and ``rma.peto``.

Both are common-effect estimators computed from the raw counts: no continuity
correction enters the estimate, and double-zero tables stay in (they add nothing to the
OR and RR sums, and add weight to the MH risk difference), as metafor does
(``drop00 = c(TRUE, FALSE)``: dropped from the per-study ``yi``/``vi`` only).

* Mantel & Haenszel (1959) OR with the Robins, Breslow & Greenland (1986) variance of
  its log; MH RR with the Greenland & Robins (1985) variance; MH RD with the Sato,
  Greenland & Robins (1989) variance.
* Peto's one-step OR (Yusuf et al. 1985): ``sum(O - E) / sum(V)``, variance
  ``1 / sum(V)``.

Heterogeneity as metafor: for MH, Cochran's Q of the escalc effects (1/2 added to tables
with a zero cell, double-zero tables dropped) around the MH estimate; for Peto,
``sum((O - E)^2 / V) - (sum(O - E))^2 / sum(V)``; I^2 from Q in both.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mantel_haenszel", "peto"]


def mantel_haenszel(a, b, c, d, *, measure: str):
    """MH estimate on the analysis scale (log for OR/RR), its SE and the weights (%).

    Returns ``(estimate, se, weights)``; estimate and se are None when the MH ratio is 0
    or infinite (metafor returns NA there).
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    n1, n0 = a + b, c + d
    big_n = n1 + n0
    if measure == "or":
        p, q = (a + d) / big_n, (b + c) / big_n
        r, s = a * d / big_n, b * c / big_n
        weights = b * c / big_n
        rs, ss = r.sum(), s.sum()
        if rs == 0 or ss == 0:
            return None, None, _pct(weights)
        var = 0.5 * (np.sum(p * r) / rs**2 + np.sum(p * s + q * r) / (rs * ss) + np.sum(q * s) / ss**2)
        return float(np.log(rs / ss)), float(np.sqrt(var)), _pct(weights)
    if measure == "rr":
        r, s = a * n0 / big_n, c * n1 / big_n
        weights = c * n1 / big_n
        if a.sum() == 0 or c.sum() == 0:
            return None, None, _pct(weights)
        var = np.sum(n1 * n0 * (a + c) / big_n**2 - a * c / big_n) / (r.sum() * s.sum())
        return float(np.log(r.sum() / s.sum())), float(np.sqrt(var)), _pct(weights)
    weights = n1 * n0 / big_n
    sw = weights.sum()
    rd = float(np.sum(a * n0 / big_n - c * n1 / big_n) / sw)
    num = rd * np.sum(c * (n1 / big_n) ** 2 - a * (n0 / big_n) ** 2 + (n1 / big_n) * (n0 / big_n) * (n0 - n1) / 2)
    num += np.sum(a * (n0 - c) / big_n + c * (n1 - a) / big_n) / 2
    var = float(num / sw**2)
    return rd, float(np.sqrt(max(var, 0.0))), _pct(weights)


def peto(a, b, c, d):
    """Peto's log OR, its SE, Q, the number of informative tables and the weights (%).

    Returns ``(estimate, se, q, k_informative, weights)``; ``k_informative`` counts the
    tables with ``V > 0`` (neither double-zero nor double-all). Raises ValueError if no
    table is informative (metafor stops there too).
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    n1, n0 = a + b, c + d
    big_n = n1 + n0
    xt, yt = a + c, b + d
    e = xt * n1 / big_n
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(big_n > 1, xt * yt * (n1 / big_n) * (n0 / big_n) / (big_n - 1), 0.0)
    if v.sum() == 0:
        raise ValueError("Peto's method needs events and non-events: one of the two outcomes "
                         "never occurs in any study")
    est = float(np.sum(a - e) / v.sum())
    se = float(1.0 / np.sqrt(v.sum()))
    pos = v > 0
    q = float(max(0.0, np.sum((a - e)[pos] ** 2 / v[pos]) - np.sum(a - e) ** 2 / v.sum()))
    return est, se, q, int(pos.sum()), _pct(v)


def _pct(w):
    w = np.asarray(w, dtype=float)
    total = w.sum()
    return 100.0 * w / total if total > 0 else np.full(w.shape, np.nan)
