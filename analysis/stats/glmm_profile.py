"""Profile-likelihood confidence interval for the GLMM's mean logit mu.

The interval is ``{mu : 2 (ll_hat - pl(mu)) <= chi2_1(level)}`` with the profile
log-likelihood ``pl(mu) = max over tau >= 0 of ll(mu, tau)`` (Venzon & Moolgavkar 1988),
on the AGHQ log-likelihood of `analysis.stats.glmm`. It is what lme4's
``confint(glmer(...), method = "profile")`` gives for the intercept. Unlike the Wald
interval it needs no standard error and follows the skewness of the likelihood, which
matters when the studies sit near 0% or 100%.

Each limit is found, for all rows (replicates) at once, by Venzon & Moolgavkar's (1988)
Newton iteration on the pair of equations ``ll(mu, tau) = target`` and
``d ll / d tau = 0``, started at the Wald limit; a solution is accepted when tau is a
maximum over tau there and beats ``tau = 0``. Rows where that fails fall back to a
nested, safeguarded Newton iteration on ``pl(mu) - target``, whose derivative is
``d ll / d mu`` at the inner maximum (the envelope theorem), with the inner maximisation
over tau done by `analysis.stats.batched.ascend` with mu held fixed and compared with
the boundary ``tau = 0``. `glmm_profile_ci` is the same code on a batch of one. A limit
is infinite (0 or 1 on the proportion scale) when the profile has not fallen to the
target at +-`_MU_CAP` logits.

Reference: Venzon, D. J., & Moolgavkar, S. H. (1988). A method for computing
profile-likelihood-based confidence intervals. Journal of the Royal Statistical
Society C, 37(1), 87-94. https://doi.org/10.2307/2347496
"""

from __future__ import annotations

import numpy as np

from ._dist import chi2_ppf
from ._validation import check_confidence_level, check_counts
from .batched import ascend
from .glmm import _gh_rule, _lchoose, _loglik, fit_glmm

__all__ = ["glmm_profile_ci", "profile_ci_batch", "profile_limits"]

# Stop when the profile is within this of its target (log-likelihood units; the limit
# is then within about 1e-9 / |d pl / d mu| of the root) or the bracket is this narrow.
_PL_TOL = 1e-9
_MU_TOL = 1e-10
# A limit beyond +-15 logits (a proportion within 3.1e-7 of 0 or 1) is reported as
# infinite: the profile of data at or near 100% (or 0%) can stay above its target for
# tens of logits while tau grows without bound, and no coverage depends on the difference.
_MU_CAP = 15.0
_MAXITER = 100
# Venzon-Moolgavkar: at most this many joint Newton steps; converged when the profile is
# within _PL_TOL of its target and |d ll / d tau| below _VM_GTOL; its limit is accepted
# when it is a maximum over tau and beats tau = 0 (within _CHECK_TOL).
_VM_MAXITER = 30
_VM_GTOL = 1e-7
_CHECK_TOL = 1e-7
# The inner ascent over tau starts at least here (tau = 0 is a stationary point of the
# likelihood, even in tau, so an ascent started there cannot leave it).
_TAU_START = 0.25


def _profile_at(x, m, const, rule, mu, tau_start):
    """pl(mu), the maximising tau and d pl / d mu for each row."""
    theta, ll, g, _ = ascend(x, m, const, rule, mu, np.maximum(np.abs(tau_start), _TAU_START),
                             free_mu=False)
    ll0, _, g0 = _loglik(mu, np.zeros_like(mu), x, m, const, rule, gradient=True)
    zero = ~(ll > ll0)
    return (np.where(zero, ll0, ll), np.where(zero, 0.0, np.abs(theta[:, 1])),
            np.where(zero, g0[:, 0], g[:, 0]))


def _one_side(x, m, const, rule, mu_hat, tau_hat, target, start, side, outer0=None):
    """Safeguarded Newton on pl(mu) - target, with tau maximised at every mu (nested)."""
    nrow = mu_hat.size
    mu, tau = start.copy(), tau_hat.copy()
    inner = mu_hat.copy()  # pl > target at inner, < at outer (once known)
    outer = np.full(nrow, np.nan) if outer0 is None else np.array(outer0, dtype=float)
    limit = np.full(nrow, np.nan)
    active = np.arange(nrow)
    for _ in range(_MAXITER):
        if active.size == 0:
            break
        a = active
        pl, tau[a], slope = _profile_at(x[a], m[a], const[a], rule, mu[a], tau[a])
        d = pl - target[a]
        inside = d > 0
        inner[a] = np.where(inside, mu[a], inner[a])
        outer[a] = np.where(inside, outer[a], mu[a])
        width = np.abs(outer[a] - inner[a])
        conv = (np.abs(d) < _PL_TOL) | (width < _MU_TOL)
        far = inside & np.isnan(outer[a]) & (side * mu[a] >= _MU_CAP)
        limit[a[conv]] = mu[a[conv]]
        limit[a[far & ~conv]] = side * np.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            trial = mu[a] - d / slope
        lo_b = np.where(np.isnan(outer[a]), inner[a], np.minimum(inner[a], outer[a]))
        hi_b = np.where(np.isnan(outer[a]), inner[a], np.maximum(inner[a], outer[a]))
        bracketed = ~np.isnan(outer[a])
        valid = np.isfinite(trial) & np.where(
            bracketed, (trial > lo_b) & (trial < hi_b), side * (trial - inner[a]) > 0)
        expand = inner[a] + side * np.maximum(2.0 * np.abs(inner[a] - mu_hat[a]), 1.0)
        fallback = np.where(bracketed, 0.5 * (inner[a] + outer[a]), expand)
        mu[a] = np.minimum(side * np.where(valid, trial, fallback), _MU_CAP) * side
        active = a[~(conv | far)]
    return limit


def _vm_side(x, m, const, rule, mu_hat, tau_hat, target, start, side):
    """Venzon & Moolgavkar's Newton iteration for one limit of every row.

    Solves ``ll(mu, tau) = target`` and ``d ll / d tau = 0`` jointly, with the analytic
    gradient and one finite difference of it in tau per step (the Hessian is symmetric).
    Returns (mu, |tau|, ok); rows that fail or leave their side are not ok.
    """
    mu, tau = start.copy(), np.maximum(tau_hat, _TAU_START)
    ok = np.zeros(mu.size, dtype=bool)
    idx = np.arange(mu.size)
    for _ in range(_VM_MAXITER):
        if idx.size == 0:
            break
        xi, mi, ci = x[idx], m[idx], const[idx]
        ll, ui, g = _loglik(mu[idx], tau[idx], xi, mi, ci, rule, gradient=True)
        h = 1e-5 * np.maximum(1.0, np.abs(tau[idx]))
        g2 = _loglik(mu[idx], tau[idx] + h, xi, mi, ci, rule, ui, gradient=True)[2]
        hmt, htt = (g2[:, 0] - g[:, 0]) / h, (g2[:, 1] - g[:, 1]) / h
        f1, f2 = ll - target[idx], g[:, 1]
        # converged, at a maximum over tau (tau = 0 is a stationary point by symmetry)
        conv = (np.abs(f1) < _PL_TOL) & (np.abs(f2) < _VM_GTOL)
        ok[idx[conv & ((htt < 0) | ((np.abs(tau[idx]) < 1e-4) & (htt <= 0)))]] = True
        det = g[:, 0] * htt - f2 * hmt
        dmu = -(htt * f1 - g[:, 1] * f2) / det
        dtau = -(g[:, 0] * f2 - hmt * f1) / det
        # where tau is not at a maximum over tau (htt >= 0; e.g. heading for the stationary
        # point tau = 0), step mu alone and move |tau| up by 0.5
        climb = ~(htt < 0) & ~conv
        dmu = np.where(climb, -f1 / g[:, 0], dmu)
        dtau = np.where(climb, 0.5, dtau)
        cap = np.maximum(1.0, np.maximum(np.abs(dmu), np.abs(dtau)))
        new_mu, new_tau = mu[idx] + dmu / cap, tau[idx] + dtau / cap
        # stay on this side of the estimate (the other limit solves the same equations)
        # and at tau >= 0: halve the distance to the estimate, or to tau = 0, instead
        new_mu = np.where(side * (new_mu - mu_hat[idx]) > 0, new_mu, 0.5 * (mu[idx] + mu_hat[idx]))
        new_tau = np.where(new_tau >= 0, new_tau, 0.5 * tau[idx])
        bad = (~np.isfinite(new_mu) | ~np.isfinite(new_tau) | (side * new_mu > _MU_CAP)) & ~conv
        step = ~conv & ~bad
        mu[idx[step]], tau[idx[step]] = new_mu[step], new_tau[step]
        idx = idx[step]
    return mu, np.abs(tau), ok


def _limit(x, m, const, rule, mu_hat, tau_hat, target, start, side):
    """One limit per row: Venzon-Moolgavkar, checked by the nested profile, else nested."""
    mu, tau, ok = _vm_side(x, m, const, rule, mu_hat, tau_hat, target, start, side)
    limit = np.full(mu.size, np.nan)
    rows = np.flatnonzero(ok)
    if rows.size:  # a local maximum over tau must also beat the boundary tau = 0
        ll0 = _loglik(mu[rows], np.zeros(rows.size), x[rows], m[rows], const[rows], rule)
        good = ll0 <= target[rows] + _CHECK_TOL
        limit[rows[good]] = mu[rows[good]]
    rest = np.flatnonzero(np.isnan(limit))
    if rest.size:  # the nested iteration, after a look at the cap
        cap = np.full(rest.size, side * _MU_CAP)
        pl, _, _ = _profile_at(x[rest], m[rest], const[rest], rule, cap, tau[rest])
        beyond = pl > target[rest]
        limit[rest[beyond]] = side * np.inf
        r2 = rest[~beyond]
        if r2.size:
            limit[r2] = _one_side(x[r2], m[r2], const[r2], rule, mu_hat[r2], tau_hat[r2],
                                  target[r2], start[r2], side, outer0=cap[~beyond])
    return limit


def profile_limits(x, m, const, rule, mu_hat, tau_hat, ll_hat, se, confidence_level):
    """Profile-likelihood limits (logit scale) for each row of a fitted batch.

    ``x``, ``m`` (R, k); ``const`` the log binomial coefficients per row; ``mu_hat``,
    ``tau_hat``, ``ll_hat`` and the Wald ``se`` from the ML fit (R,), which start the
    iteration at the Wald limits. Returns ``(low, high)``, NaN where a limit was not
    found, +-inf where the profile stays above the target.
    """
    q = float(chi2_ppf(confidence_level, 1))
    target = ll_hat - 0.5 * q
    z = np.sqrt(q)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        return tuple(_limit(x, m, const, rule, mu_hat, tau_hat, target,
                            mu_hat + side * z * se, side) for side in (-1.0, 1.0))


def glmm_profile_ci(events, n, *, n_agq: int = 7, confidence_level: float = 0.95):
    """Profile-likelihood CI of the GLMM's mu (logit scale): ``(low, high)``.

    Fits the model by `analysis.stats.glmm.fit_glmm`, then profiles tau out; see the
    module docstring. Needs at least two studies and a pooled proportion strictly inside
    (0, 1).

    Examples
    --------
    >>> low, high = glmm_profile_ci([16, 10, 4, 43], [17, 12, 8, 58])
    >>> bool(low < high)
    True
    """
    level = check_confidence_level(confidence_level)
    xi, mi = check_counts(events, n)
    if xi.size < 2 or xi.sum() in (0, mi.sum()):
        raise ValueError("the profile-likelihood CI needs at least two studies and a pooled "
                         "proportion strictly between 0 and 1")
    fit = fit_glmm(xi, mi, n_agq=n_agq)
    x, m = xi[None, :].astype(float), mi[None, :].astype(float)
    const = np.sum(_lchoose(x, m), axis=-1)
    low, high = profile_limits(x, m, const, _gh_rule(n_agq), np.array([fit.mu]),
                               np.array([np.sqrt(fit.tau2)]), np.array([fit.loglik]),
                               np.array([fit.se]), level)
    return float(low[0]), float(high[0])


def profile_ci_batch(events, n, fit: dict, *, n_agq: int = 7,
                     confidence_level: float = 0.95) -> dict[str, np.ndarray]:
    """Profile-likelihood limits (logit scale) for every replicate of a batched GLMM fit.

    `fit` is `analysis.stats.batched.fit_glmm_batch` of the same events; replicates it
    did not fit get NaN limits and ``ok = False``. Returns ``low``, ``high`` and ``ok``.
    """
    level = check_confidence_level(confidence_level)
    x = np.atleast_2d(np.asarray(events, dtype=float))
    m = np.broadcast_to(np.asarray(n, dtype=float), x.shape)
    nrow = x.shape[0]
    low, high = np.full(nrow, np.nan), np.full(nrow, np.nan)
    rows = np.flatnonzero(fit["converged"])
    if rows.size:
        xr, mr = x[rows], np.ascontiguousarray(m[rows])
        const = np.sum(_lchoose(xr, mr), axis=-1)
        low[rows], high[rows] = profile_limits(
            xr, mr, const, _gh_rule(int(n_agq)), fit["mu"][rows], np.sqrt(fit["tau2"][rows]),
            fit["loglik"][rows], fit["se"][rows], level)
    return {"low": low, "high": high, "ok": ~np.isnan(low) & ~np.isnan(high)}
