"""Profile-likelihood interval for the GLMM's between-study variance.

A tau^2 estimate of 0 from two to six small studies says "no power", not "no
heterogeneity": the profile-likelihood interval shows how large tau^2 could be. The
profile log-likelihood at a fixed ``tau`` is the binomial-normal marginal likelihood
(AGHQ, `analysis.stats.glmm`; the profile interval of
the mean is `analysis.stats.glmm_profile`) maximised over the mean ``mu``; the interval holds every
``tau^2`` whose deviance from the maximum is below the chi-square(1) quantile
(Hardy & Thompson 1996, Stat Med 15(6):619-629; metafor's ``confint(..., type="PL")``
for ``rma.uni`` is the same construction on the normal model).

The lower limit is 0 when the deviance at ``tau = 0`` is below the quantile; the upper
limit is searched up to ``tau^2 = TAU2_SEARCH_MAX`` and reported as None beyond it
(the data cannot bound tau^2 from above, which happens when studies sit at 0% or 100%).
"""

from __future__ import annotations

import numpy as np

from ._dist import chi2_ppf
from .glmm import _gh_rule, _lchoose, _loglik

TAU2_SEARCH_MAX = 100.0


def _ll(mu, tau, x, m, const, rule) -> float:
    """The AGHQ log-likelihood at one (mu, tau): `_loglik` on a batch of one row."""
    return float(_loglik(np.array([mu]), np.array([tau]), x[None, :], m[None, :],
                         np.array([const]), rule)[0])


def _profile(tau, x, m, const, rule, mu_start):
    from scipy import optimize  # lazily: its import costs more than most fits

    res = optimize.minimize_scalar(
        lambda mu: -_ll(mu, tau, x, m, const, rule),
        bracket=(mu_start - 1.0, mu_start + 1.0),
        tol=1e-10,
    )
    return -float(res.fun), float(res.x)


def tau2_ci_profile(events, n, *, mu_hat: float, tau2_hat: float, n_agq: int = 7,
                    confidence_level: float = 0.95) -> tuple[float | None, float | None]:
    """``(lower, upper)`` profile-likelihood limits for the GLMM's tau^2.

    ``mu_hat`` and ``tau2_hat`` are the ML fit (`analysis.stats.glmm.fit_glmm`);
    ``upper`` is None when the deviance stays below the quantile up to
    ``TAU2_SEARCH_MAX``.
    """
    from scipy import optimize  # lazily: its import costs more than most fits

    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    const = float(np.sum(_lchoose(x, m)))
    rule = _gh_rule(n_agq)
    tau_hat = float(np.sqrt(max(tau2_hat, 0.0)))
    ll_hat, _ = _profile(tau_hat, x, m, const, rule, mu_hat)
    crit = float(chi2_ppf(confidence_level, 1))

    def excess(tau):
        return 2.0 * (ll_hat - _profile(tau, x, m, const, rule, mu_hat)[0]) - crit

    if tau_hat == 0.0 or excess(0.0) <= 0.0:
        lower = 0.0
    else:
        lower = float(optimize.brentq(excess, 0.0, tau_hat, xtol=1e-10)) ** 2
    tau_max = float(np.sqrt(TAU2_SEARCH_MAX))
    if excess(tau_max) <= 0.0:
        return lower, None
    upper = float(optimize.brentq(excess, max(tau_hat, 1e-8), tau_max, xtol=1e-10)) ** 2
    return lower, upper
