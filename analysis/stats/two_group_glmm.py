"""Binomial GLMMs for the odds ratio, as metafor's ``rma.glmm(measure="OR")``.

Two models (Stijnen, Hamza & Ozdemir 2010; Jackson et al. 2018), both on 2x2 tables
from which double-zero tables have been dropped (metafor's ``drop00 = TRUE``; they carry
no information about the OR):

* "glmm-umfs" -- unconditional model with fixed study effects (``model="UM.FS"``):
  ``logit p_i1 = alpha_i + theta + b_i / 2``, ``logit p_i0 = alpha_i - b_i / 2``,
  ``b_i ~ N(0, tau^2)``. As metafor, which calls ``lme4::glmer(cbind(x, n - x) ~ group +
  study + (group12 - 1 | study), nAGQ = 7)``: the marginal likelihood of each study is
  integrated by adaptive Gauss-Hermite quadrature (nodes centred at the conditional mode
  of ``u = b / tau`` and scaled by its Laplace standard deviation, as lme4 does). The
  ``k`` study intercepts are profiled out study by study (each study's likelihood
  depends on its own intercept only), so the outer maximisation is over ``(theta, tau)``
  whatever ``k``.
* "glmm-cmel" -- conditional model, exact likelihood (``model="CM.EL"``): given its
  total number of events, the treated count of study i follows Fisher's non-central
  hypergeometric distribution with odds ratio ``exp(theta + b_i)``. metafor integrates
  over ``b_i`` with R's ``integrate()``; here the integral is taken by adaptive
  Gauss-Hermite quadrature with `CMEL_NODES` nodes (the integrand is log-concave in
  ``b_i``, so this is accurate to near machine precision; see the tests).

The standard error of ``theta`` comes from the inverse Hessian of the (profile)
log-likelihood in ``(theta, tau)`` by central differences, as lme4's and numDeriv's
Hessians (the ``theta`` block of the inverse is the same in every parameterisation of
``tau`` at the optimum). At ``tau = 0`` the curvature in ``theta`` alone is used.

The common-effect versions (``method="EE"`` in metafor) are the logistic regression with
study intercepts (UM.FS) and the conditional logistic regression (CM.EL), both exact.

Heterogeneity: ``q_lrt`` is the likelihood-ratio test of the saturated model (each study
its own OR) against the common-effect model, on ``k - 1`` df. The Wald-type ``q`` is
Cochran's Q of the studies' own ML log ORs with their inverse information as variance
(unconditional for UM.FS, conditional for CM.EL), which is what metafor's saturated-model
Wald test computes; a study with a zero cell has an infinite ML log OR, contributes 0
(metafor's diverging fit leaves ~1e-6), and is not counted in its df.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .glmm import _LOG_SQRT_2PI, _gh_rule, _lchoose
from .heterogeneity import q_statistic

__all__ = ["CMEL_NODES", "GLMMTwoGroupFit", "fit_two_group_glmm"]

CMEL_NODES = 41


@dataclass(frozen=True, slots=True)
class GLMMTwoGroupFit:
    """Raw fit on the log-OR scale (internal; see `analysis.PooledEffect`)."""

    estimate: float | None  # None when no finite MLE exists (separation)
    se: float | None
    tau2: float | None  # None for the common-effect model
    loglik: float | None
    q_wald: float | None
    q_wald_df: int
    q_lrt: float | None
    converged: bool
    at_boundary: bool
    message: str


def separation(a, n1, c, n0) -> int:
    """-1 (+1) if every table has the treated count at its smallest (largest) value
    given the margins, so that the common log OR has no finite MLE; 0 otherwise."""
    t = a + c
    lo = np.maximum(0, t - n0)
    hi = np.minimum(n1, t)
    if np.all(a == lo):
        return -1
    if np.all(a == hi):
        return 1
    return 0


# ---------------------------------------------------------------- UM.FS
def _umfs_h(alpha, theta, tau, a, n1, c, n0):
    def h(u):
        al = alpha if u.ndim == 1 else alpha[:, None]
        aa, m1, cc, m0 = (v if u.ndim == 1 else v[:, None] for v in (a, n1, c, n0))
        e1 = al + theta + 0.5 * tau * u
        e0 = al - 0.5 * tau * u
        p1, p0 = special.expit(e1), special.expit(e0)
        ll = aa * e1 - m1 * np.logaddexp(0.0, e1) + cc * e0 - m0 * np.logaddexp(0.0, e0)
        g = 0.5 * tau * ((aa - m1 * p1) - (cc - m0 * p0)) - u
        hh = -0.25 * tau * tau * (m1 * p1 * (1 - p1) + m0 * p0 * (1 - p0)) - 1.0
        return ll - 0.5 * u * u, g, hh
    return h


def _umfs_study_ll(alpha, theta, tau, a, n1, c, n0, n_agq):
    """Per-study AGHQ log-likelihoods (without binomial constants), vectorised."""
    if tau == 0.0:
        e1, e0 = alpha + theta, alpha
        return a * e1 - n1 * np.logaddexp(0.0, e1) + c * e0 - n0 * np.logaddexp(0.0, e0)
    hfun = _umfs_h(alpha, theta, tau, a, n1, c, n0)
    u = np.zeros(a.size)
    for _ in range(100):
        _, g, hh = hfun(u)
        step = np.clip(-g / hh, -5.0, 5.0)
        u = u + step
        if np.max(np.abs(step)) < 1e-11:
            break
    _, _, hh = hfun(u)
    s = 1.0 / np.sqrt(-hh)
    if n_agq == 1:
        h0, _, _ = hfun(u)
        return np.log(s) + h0
    t, logw = _gh_rule(n_agq)
    nodes = u[:, None] + np.sqrt(2.0) * s[:, None] * t[None, :]
    h, _, _ = hfun(nodes)
    out = np.log(np.sqrt(2.0) * s) - _LOG_SQRT_2PI + special.logsumexp(logw[None, :] + h, axis=1)
    return out


def _umfs_profile(theta, tau, a, n1, c, n0, n_agq, alpha0):
    """Maximise each study's likelihood over its intercept (vectorised Newton with
    central differences); returns (profile loglik, alphas)."""
    alpha = alpha0.copy()
    hstep = 1e-4
    for _ in range(60):
        f0 = _umfs_study_ll(alpha, theta, tau, a, n1, c, n0, n_agq)
        fp = _umfs_study_ll(alpha + hstep, theta, tau, a, n1, c, n0, n_agq)
        fm = _umfs_study_ll(alpha - hstep, theta, tau, a, n1, c, n0, n_agq)
        d1 = (fp - fm) / (2 * hstep)
        d2 = (fp - 2 * f0 + fm) / hstep**2
        step = np.clip(-d1 / np.minimum(d2, -1e-8), -2.0, 2.0)
        alpha = alpha + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(np.sum(_umfs_study_ll(alpha, theta, tau, a, n1, c, n0, n_agq))), alpha


def _umfs_common(a, n1, c, n0):
    """Logistic regression with study intercepts: (theta, se, loglik, alphas)."""
    theta = 0.0
    alpha = np.log((c + 0.5) / (n0 - c + 0.5))
    for _ in range(200):
        for _ in range(50):  # intercepts given theta
            p1, p0 = special.expit(alpha + theta), special.expit(alpha)
            g = (a - n1 * p1) + (c - n0 * p0)
            w = n1 * p1 * (1 - p1) + n0 * p0 * (1 - p0)
            step = np.clip(g / w, -5, 5)
            alpha = alpha + step
            if np.max(np.abs(step)) < 1e-13:
                break
        p1, p0 = special.expit(alpha + theta), special.expit(alpha)
        w1, w0 = n1 * p1 * (1 - p1), n0 * p0 * (1 - p0)
        info = float(np.sum(w1 * w0 / (w1 + w0)))
        step = float(np.sum(a - n1 * p1)) / info
        theta += float(np.clip(step, -5, 5))
        if abs(step) < 1e-13:
            break
    e1, e0 = alpha + theta, alpha
    ll = float(np.sum(a * e1 - n1 * np.logaddexp(0, e1) + c * e0 - n0 * np.logaddexp(0, e0)))
    return theta, float(1 / np.sqrt(info)), ll, alpha


def _binom_saturated(x, n):
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(special.xlogy(x, x / n) + special.xlogy(n - x, 1 - x / n)))


# ---------------------------------------------------------------- CM.EL
class _Hypergeo:
    """Padded supports of the conditional distributions of the treated counts."""

    def __init__(self, a, n1, c, n0):
        t = a + c
        lo = np.maximum(0, t - n0)
        hi = np.minimum(n1, t)
        size = int(np.max(hi - lo)) + 1
        j = np.arange(size)[None, :]
        self.support = (lo[:, None] + j).astype(float)
        valid = j <= (hi - lo)[:, None]
        sup = np.where(valid, self.support, 0.0)
        logc = _lchoose(sup, n1[:, None]) + _lchoose(t[:, None] - sup, n0[:, None])
        self.logc = np.where(valid, logc, -np.inf)
        self.a = a.astype(float)
        self.log_ca = _lchoose(self.a, n1) + _lchoose(t - self.a, n0)

    def window(self, x_lo, x_hi, nats: float = 50.0):
        """Supports and log C terms trimmed to the values within `nats` of the largest
        term for some log OR in [x_lo, x_hi] (per study). The terms are log-concave in the
        support and their maximiser moves up with x, so every dropped term is below
        exp(-nats) times the largest for every x in the range."""
        keep = np.zeros(self.logc.shape, bool)
        for x in (x_lo, x_hi):
            w = self.logc + self.support * x[:, None]
            keep |= w >= np.max(w, axis=1, keepdims=True) - nats
        first = np.argmax(keep, axis=1)
        last = keep.shape[1] - 1 - np.argmax(keep[:, ::-1], axis=1)
        width = int(np.max(last - first)) + 1
        idx = np.minimum(first[:, None] + np.arange(width)[None, :], keep.shape[1] - 1)
        valid = np.arange(width)[None, :] <= (last - first)[:, None]
        sup = np.take_along_axis(self.support, idx, axis=1)
        logc = np.where(valid, np.take_along_axis(self.logc, idx, axis=1), -np.inf)
        return sup, logc

    def moments(self, x, trimmed=None):
        """log P(a | x), E[X | x], Var[X | x] for log ORs x of shape (k,) or (k, m)."""
        sup, logc = (self.support, self.logc) if trimmed is None else trimmed
        extra = (slice(None),) + (None,) * (x.ndim - 1)
        logc = logc[extra]
        sup = sup[extra]
        w = logc + sup * x[..., None]
        top = np.max(w, axis=-1)
        lse = top + np.log(np.sum(np.exp(w - top[..., None]), axis=-1))
        pr = np.exp(w - lse[..., None])
        m = np.sum(pr * sup, axis=-1)
        v = np.maximum(np.sum(pr * sup * sup, axis=-1) - m * m, 0.0)
        a = self.a if x.ndim == 1 else self.a[:, None]
        log_ca = self.log_ca if x.ndim == 1 else self.log_ca[:, None]
        return log_ca + a * x - lse, m, v


def _cmel_loglik(theta, tau, hg: _Hypergeo, n_nodes):
    """AGHQ log-likelihood and its gradient in (theta, tau).

    The gradient is that of the integral (the nodes held fixed), which equals the
    derivative of the quadrature up to the quadrature error.
    """
    k = hg.a.size
    if tau == 0.0:
        lp, m, _ = hg.moments(np.full(k, theta))
        return float(np.sum(lp)), np.array([float(np.sum(hg.a - m)), 0.0])
    u = np.zeros(k)
    for _ in range(100):
        _, m, v = hg.moments(theta + tau * u)
        g, hh = tau * (hg.a - m) - u, -tau * tau * v - 1.0
        step = np.clip(-g / hh, -5.0, 5.0)
        u = u + step
        if np.max(np.abs(step)) < 1e-11:
            break
    _, _, v = hg.moments(theta + tau * u)
    s = 1.0 / np.sqrt(tau * tau * v + 1.0)
    t, logw = _gh_rule(n_nodes)
    nodes = u[:, None] + np.sqrt(2.0) * s[:, None] * t[None, :]
    x = theta + tau * nodes
    lp, m, _ = hg.moments(x, hg.window(x[:, 0], x[:, -1]))
    z = logw[None, :] + lp - 0.5 * nodes * nodes
    lse = special.logsumexp(z, axis=1)
    pr = np.exp(z - lse[:, None])
    resid = hg.a[:, None] - m
    grad = np.array([float(np.sum(pr * resid)), float(np.sum(pr * resid * nodes))])
    ll = float(np.sum(np.log(np.sqrt(2.0) * s) - _LOG_SQRT_2PI + lse))
    return ll, grad


def _cmel_common(hg: _Hypergeo):
    x = 0.0
    for _ in range(200):
        _, m, v = hg.moments(np.full(hg.a.size, x))
        step = float(np.clip(np.sum(hg.a - m) / np.sum(v), -5, 5))
        x += step
        if abs(step) < 1e-13:
            break
    lp, _, v = hg.moments(np.full(hg.a.size, x))
    return x, float(1 / np.sqrt(np.sum(v))), float(np.sum(lp))


def _cmel_saturated(hg: _Hypergeo, inner):
    """Each study's conditional MLE log OR and information (inner studies only) and the
    saturated log-likelihood (boundary studies contribute log 1 = 0)."""
    x = np.zeros(hg.a.size)
    for _ in range(200):
        _, m, v = hg.moments(x)
        step = np.where(inner, np.clip((hg.a - m) / np.maximum(v, 1e-300), -5, 5), 0.0)
        x = x + step
        if np.max(np.abs(step)) < 1e-13:
            break
    lp, _, v = hg.moments(x)
    return x, v, float(np.sum(np.where(inner, lp, 0.0)))


# ---------------------------------------------------------------- driver
def fit_two_group_glmm(a, n1, c, n0, *, model: str, random: bool, n_agq: int = 7) -> GLMMTwoGroupFit:
    """Fit "glmm-umfs" or "glmm-cmel" to tables without double zeros (see module doc)."""
    from scipy import optimize  # lazily: its import costs more than most fits

    a, n1, c, n0 = (np.asarray(v, dtype=float) for v in (a, n1, c, n0))
    k = a.size
    sep = separation(a, n1, c, n0)
    inner = (a > 0) & (a < n1) & (c > 0) & (c < n0)
    if model == "glmm-umfs":
        const = float(np.sum(_lchoose(a, n1) + _lchoose(c, n0)))
        ll_sat = _binom_saturated(a, n1) + _binom_saturated(c, n0) + const
        ai, bi, ci, di = a[inner], (n1 - a)[inner], c[inner], (n0 - c)[inner]
        y = np.log(ai * di / (bi * ci))
        v = 1 / ai + 1 / bi + 1 / ci + 1 / di
    else:
        hg = _Hypergeo(a, n1, c, n0)
        xs, info, ll_sat = _cmel_saturated(hg, inner)
        y, v = xs[inner], 1.0 / info[inner]
    q_wald = q_statistic(y, v) if y.size >= 2 else (0.0 if k > 1 else None)
    q_df = max(int(y.size) - 1, 0)
    if sep != 0:
        return GLMMTwoGroupFit(None, None, None, None, q_wald, q_df, None,
                               False, False, "no finite maximum-likelihood estimate (separation)")
    if model == "glmm-umfs":
        mu0, se0, ll0, alpha0 = _umfs_common(a, n1, c, n0)
        ll0 += const
    else:
        mu0, se0, ll0 = _cmel_common(hg)
    q_lrt = max(0.0, 2 * (ll_sat - ll0)) if k > 1 else None
    if not random or k == 1:
        return GLMMTwoGroupFit(mu0, se0, None, ll0, q_wald, q_df, q_lrt, True, False, "common effect")

    if model == "glmm-umfs":
        state = {"alpha": alpha0}

        def negll(p):
            ll, state["alpha"] = _umfs_profile(p[0], abs(p[1]), a, n1, c, n0, n_agq, state["alpha"])
            return -(ll + const)
        jac = None
    else:
        def negll(p):
            return -_cmel_loglik(p[0], abs(p[1]), hg, CMEL_NODES)[0]

        def jac(p):
            g = _cmel_loglik(p[0], abs(p[1]), hg, CMEL_NODES)[1]
            return -np.array([g[0], g[1] * (1.0 if p[1] >= 0 else -1.0)])

    tau0 = max(float(np.std(y)) if y.size > 1 else 0.3, 0.3)
    res = optimize.minimize(negll, np.array([mu0, tau0]), jac=jac, method="BFGS",
                            options={"gtol": 1e-8, "maxiter": 400})
    mu, tau = float(res.x[0]), abs(float(res.x[1]))
    at_boundary = tau < 1e-5 or ll0 >= -res.fun - 1e-10
    if at_boundary:
        mu, tau = mu0, 0.0
        return GLMMTwoGroupFit(mu, se0, 0.0, ll0, q_wald, q_df, q_lrt, True, True, str(res.message))
    ll = -negll(np.array([mu, tau]))
    se = _se_theta(negll, mu, tau) if jac is None else _se_theta_grad(jac, mu, tau)
    converged = bool(res.success) or bool(np.max(np.abs(res.jac)) < 1e-4)
    return GLMMTwoGroupFit(mu, se, tau * tau, ll, q_wald, q_df, q_lrt, converged, False, str(res.message))


def _se_theta(negll, mu, tau) -> float:
    hm = 1e-4 * max(1.0, abs(mu))
    ht = 1e-4 * max(1.0, tau)
    f0 = negll(np.array([mu, tau]))
    f = lambda x, y: negll(np.array([x, y]))
    d2m = (f(mu + hm, tau) - 2 * f0 + f(mu - hm, tau)) / hm**2
    d2t = (f(mu, tau + ht) - 2 * f0 + f(mu, tau - ht)) / ht**2
    d2mt = (f(mu + hm, tau + ht) - f(mu + hm, tau - ht) - f(mu - hm, tau + ht)
            + f(mu - hm, tau - ht)) / (4 * hm * ht)
    var = d2t / (d2m * d2t - d2mt**2)
    if not np.isfinite(var) or var <= 0:
        var = 1.0 / d2m
    return float(np.sqrt(var))


def _se_theta_grad(jac, mu, tau) -> float:
    """SE of theta from the central-difference Hessian of an analytic gradient."""
    hm, ht = 1e-5 * max(1.0, abs(mu)), 1e-5 * max(1.0, tau)
    col_m = (jac(np.array([mu + hm, tau])) - jac(np.array([mu - hm, tau]))) / (2 * hm)
    col_t = (jac(np.array([mu, tau + ht])) - jac(np.array([mu, tau - ht]))) / (2 * ht)
    hess = np.array([[col_m[0], 0.5 * (col_m[1] + col_t[0])], [0.5 * (col_m[1] + col_t[0]), col_t[1]]])
    var = hess[1, 1] / np.linalg.det(hess)
    if not np.isfinite(var) or var <= 0:
        var = 1.0 / hess[0, 0]
    return float(np.sqrt(var))
