"""The binomial-normal random-intercept logistic model (GLMM) for single proportions.

Model (Stijnen, Hamza & Ozdemir 2010; Hamza, van Houwelingen & Stijnen 2008):
``x_i ~ Binomial(n_i, expit(mu + tau * u_i))``, ``u_i ~ N(0, 1)``. It is fitted by
maximum likelihood, with each study's marginal likelihood integrated by adaptive
Gauss-Hermite quadrature (Pinheiro & Bates 1995): the nodes are centred at the
conditional mode of ``u_i`` and scaled by its conditional standard deviation, as lme4's
``glmer(nAGQ=)`` does (7 nodes by default, as metafor's ``rma.glmm``; 1 node is the
Laplace approximation). This is what metafor 3.8 computes through lme4, vectorised over
studies so that it is fast for large k.

The standard error of ``mu`` comes from the inverse of the Hessian of the
log-likelihood in ``(tau, mu)`` by central differences, as lme4's ``vcov`` for GLMMs
(which inverts the finite-difference Hessian of the deviance in ``(theta, beta)``).
At the boundary ``tau = 0`` the Hessian in ``mu`` alone is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

__all__ = ["GLMMFit", "common_logistic", "fit_glmm"]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True, slots=True)
class GLMMFit:
    """Raw output of the GLMM fit (analysis scale). Internal; see `PooledProportion`."""

    mu: float
    se: float
    tau2: float
    loglik: float
    converged: bool
    at_boundary: bool
    n_eval: int
    message: str


def _gh_rule(n_agq: int):
    t, w = np.polynomial.hermite.hermgauss(n_agq)
    return t, np.log(w) + t**2


def _lchoose(x, n):
    return special.gammaln(n + 1.0) - special.gammaln(x + 1.0) - special.gammaln(n - x + 1.0)


def _conditional_modes(x, n, mu, tau, u0):
    """Newton iterations for the mode of h(u) = log f(x | u) - u^2 / 2 (vectorised).

    h is strictly concave (h'' <= -1), so damped Newton converges from any start.
    Returns the mode and -h''(mode).
    """
    u = u0
    for _ in range(100):
        p = special.expit(mu + tau * u)
        grad = tau * (x - n * p) - u
        curv = tau * tau * n * p * (1.0 - p) + 1.0
        step = np.clip(grad / curv, -5.0, 5.0)
        u = u + step
        if np.max(np.abs(step)) < 1e-12:
            break
    p = special.expit(mu + tau * u)
    curv = tau * tau * n * p * (1.0 - p) + 1.0
    return u, curv


def _start_modes(x, n, mu, tau):
    if tau <= 0.0:
        return np.zeros_like(x)
    y = np.log((x + 0.5) / (n - x + 0.5))
    return np.clip((y - mu) / tau, -8.0, 8.0)


def _loglik(mu, tau, x, n, const, rule):
    """AGHQ approximation of the marginal log-likelihood (sum over studies)."""
    t, logw = rule
    tau = abs(tau)  # the likelihood is symmetric in tau
    if tau == 0.0:
        eta = np.full_like(x, mu)
        return float(np.sum(x * eta - n * np.logaddexp(0.0, eta)) + const)
    u, curv = _conditional_modes(x, n, mu, tau, _start_modes(x, n, mu, tau))
    s = 1.0 / np.sqrt(curv)
    nodes = u[:, None] + np.sqrt(2.0) * s[:, None] * t[None, :]
    eta = mu + tau * nodes
    h = x[:, None] * eta - n[:, None] * np.logaddexp(0.0, eta) - 0.5 * nodes**2
    li = np.log(np.sqrt(2.0) * s) - _LOG_SQRT_2PI + special.logsumexp(logw[None, :] + h, axis=1)
    return float(np.sum(li) + const)


def common_logistic(events, n):
    """Common-effect logistic model: ``(logit, se, loglik)``; logit is +-inf at 0%/100%."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    const = float(np.sum(_lchoose(x, m)))
    p = x.sum() / m.sum()
    if p <= 0.0 or p >= 1.0:
        return (-np.inf if p <= 0.0 else np.inf), np.inf, const
    mu = float(np.log(p / (1 - p)))
    se = float(1.0 / np.sqrt(m.sum() * p * (1 - p)))
    ll = float(np.sum(x * np.log(p) + (m - x) * np.log1p(-p)) + const)
    return mu, se, ll


def saturated_loglik(events, n) -> float:
    """Log-likelihood of the saturated model (each study its own proportion)."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    p = x / m
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = special.xlogy(x, p) + special.xlogy(m - x, 1 - p)
    return float(np.sum(ll) + np.sum(_lchoose(x, m)))


def fit_glmm(events, n, *, n_agq: int = 7, start: tuple[float, float] | None = None) -> GLMMFit:
    """Maximum-likelihood fit of the binomial-normal model; see the module docstring.

    Requires at least two studies and a pooled proportion strictly inside (0, 1)
    (`analysis.pooling` checks both before calling).
    """
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    const = float(np.sum(_lchoose(x, m)))
    rule = _gh_rule(n_agq)
    mu0, _, _ = common_logistic(x, m)
    if start is None:
        y = np.log((x + 0.5) / (m - x + 0.5))
        tau0 = max(float(np.std(y)), 0.5)
        start = (mu0, tau0)
    counter = [0]

    def negll(theta):
        counter[0] += 1
        return -_loglik(theta[0], theta[1], x, m, const, rule)

    # tau enters the likelihood only through tau * u with u ~ N(0, 1), so the likelihood
    # is symmetric in tau and its slope is 0 at tau = 0: a bound at 0 lets a quasi-Newton
    # method stop there although a positive maximum exists. Optimise over unrestricted
    # tau and report |tau|; then compare with the boundary fit explicitly.
    res = optimize.minimize(
        negll,
        np.array(start, dtype=float),
        method="BFGS",  # unconstrained (|tau| is used); 4x faster here than L-BFGS-B
        options={"gtol": 1e-8, "maxiter": 500},
    )
    mu, tau = float(res.x[0]), abs(float(res.x[1]))
    ll_b = -negll(np.array([mu0, 0.0]))
    at_boundary = tau < 1e-6 or ll_b >= -res.fun - 1e-10
    if at_boundary:
        mu, tau = mu0, 0.0
    ll = -negll(np.array([mu, tau]))
    se = _se_mu(mu, tau, x, m, const, rule, at_boundary)
    return GLMMFit(
        mu=mu,
        se=se,
        tau2=tau * tau,
        loglik=ll,
        # BFGS reports "precision loss" when the line search cannot improve on an optimum
        # found to rounding error; a vanishing gradient is what convergence means here.
        converged=bool(res.success) or bool(np.max(np.abs(res.jac)) < 1e-4),
        at_boundary=bool(at_boundary),
        n_eval=counter[0],
        message=str(res.message),
    )


def _se_mu(mu, tau, x, m, const, rule, at_boundary) -> float:
    """SE of mu from the finite-difference Hessian of -loglik (lme4's use.hessian)."""
    f = lambda a, b: -_loglik(a, b, x, m, const, rule)
    hm = 1e-4 * max(1.0, abs(mu))
    f0 = f(mu, tau)
    d2mu = (f(mu + hm, tau) - 2 * f0 + f(mu - hm, tau)) / hm**2
    if at_boundary:
        return float(1.0 / np.sqrt(d2mu)) if d2mu > 0 else float("nan")
    ht = 1e-4 * max(1.0, tau)
    d2t = (f(mu, tau + ht) - 2 * f0 + f(mu, tau - ht)) / ht**2
    d2mt = (
        f(mu + hm, tau + ht) - f(mu + hm, tau - ht) - f(mu - hm, tau + ht) + f(mu - hm, tau - ht)
    ) / (4 * hm * ht)
    det = d2mu * d2t - d2mt**2
    var = d2t / det if det != 0 else float("nan")
    if not np.isfinite(var) or var <= 0:
        var = 1.0 / d2mu if d2mu > 0 else float("nan")
    # counts in the millions with studies near 0% and 100% can leave the finite-difference
    # Hessian flat or indefinite at rounding level: no SE then (NaN), never a crash
    return float(np.sqrt(var)) if var > 0 else float("nan")
