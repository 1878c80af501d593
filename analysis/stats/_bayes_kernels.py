"""Numerical kernels of the Bayesian random-effects models (internal; see `bayes`).

Everything here works on batches: arrays whose first axis is the replicate, R data sets
at once. The scalar fit in `analysis.stats.bayes` is a batch of one, so the scalar and
the simulation paths run the same code. No argument checking happens here.

Quadrature, all deterministic:

* tau: Fejer's first rule on Chebyshev points of the first kind, in a working variable
  ``u`` (``u = tau`` for the half-normal and uniform priors; ``u`` = the prior CDF for the
  half-Cauchy, which makes its heavy tail compact). The interval is narrowed (and, for
  the half-normal, widened) until the Chebyshev coefficients of ``p(u | y)`` have
  decayed, so concentrated posteriors (large k) are resolved as well as diffuse ones.
* normal likelihood: ``mu | tau, y`` is normal (conjugate), exactly (Roever 2020).
* binomial likelihood: ``mu | tau, y`` is log-concave. Per tau node its mode is found by
  Newton's method and the interval on which its log density lies within `DROP` of the
  mode by Newton steps on each side; `N_MU` Chebyshev points cover that interval. Each
  study's random intercept is integrated by adaptive Gauss-Hermite quadrature, with the
  rule of `analysis.stats.glmm`.
* distributions: CDFs are integrals of the Chebyshev interpolants (exact for them) and
  quantiles are found by bracketed Newton iterations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from .glmm import _gh_rule

_gauss_hermite = functools.cache(_gh_rule)  # glmm's rule (nodes, log weights + t^2), cached

N_TAU = {"normal": 48, "binomial": 32}   # Fejer nodes for tau (per refinement round)
N_MU = 16            # points for log p(mu | tau, y) (binomial); its density: twice as many
MAX_TAU = 192        # node counts double, where needed, up to these
MAX_MU = 256
N_RULE = (24, 12)    # Gauss rules of a study's likelihood shape: tau / sd < 2, >= 2
INNER = 4            # Newton steps for each study's conditional mode
N_Z = 8             # Gauss-Hermite nodes of the small-tau predictive convolution
DROP = 20.0          # mu | tau interval: log density within DROP of its maximum (e^-20 ~ 2e-9)
KEEP = 30.0          # tau where the log posterior is below max - KEEP is treated as empty
N_FINE = 64         # fine tau grid carrying the exact prior (product integration)
TAU_TOL = 2e-5       # resolved: estimated L1 error of p(u | y) below this (`_tau_error`)
MU_TOL = 1e-6        # and the last coefficients of each log p(mu | tau, y) times the
                     # node's weight; else the node count doubles
ROUNDS = 8           # at most this many interval refinements
_HN_TAIL = float(np.sqrt(2.0) * special.erfcinv(1e-12))  # half-normal mass beyond: 1e-12
_SQRT2 = float(np.sqrt(2.0))
_LOG_SQRT_2PI = float(0.5 * np.log(2.0 * np.pi))


@functools.cache
def chebyshev(n: int):
    """Chebyshev points of the first kind on [-1, 1] (ascending), Fejer-1 weights, the
    matrix from nodal values to Chebyshev coefficients, and the matrix from nodal values
    to the coefficients of the antiderivative that vanishes at -1 (degree n)."""
    theta = ((2 * np.arange(n) + 1) * np.pi / (2 * n))[::-1]
    x = np.cos(theta)
    m = np.arange(n)
    v2c = (2.0 / n) * np.cos(np.outer(m, theta))
    v2c[0] /= 2.0
    integral = np.where(m % 2 == 0, 2.0 / (1.0 - m**2 + (m % 2)), 0.0)
    weights = integral @ v2c
    anti = np.zeros((n + 1, n))
    for j in range(n):  # int T_0 = T_1; int T_1 = (T_2 + T_0) / 4; int T_j = T_{j+1}/2(j+1) - T_{j-1}/2(j-1)
        if j == 0:
            anti[1, 0] = 1.0
        elif j == 1:
            anti[2, 1] = anti[0, 1] = 0.25
        else:
            anti[j + 1, j] = 1.0 / (2 * (j + 1))
            anti[j - 1, j] -= 1.0 / (2 * (j - 1))
    anti[0] -= ((-1.0) ** np.arange(n + 1)) @ anti
    for a in (x, weights, v2c):
        a.setflags(write=False)
    cdf = anti @ v2c
    cdf.setflags(write=False)
    return x, weights, v2c, cdf


@functools.cache
def resample(n_from: int, n_to: int) -> np.ndarray:
    """Matrix from values at `n_from` Chebyshev points to the interpolant at `n_to` points."""
    x_to = chebyshev(n_to)[0]
    basis = np.cos(np.outer(np.arccos(x_to), np.arange(n_from)))
    out = basis @ chebyshev(n_from)[2]
    out.setflags(write=False)
    return out


def clenshaw(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sum of ``coef[..., m] * T_m(x)`` (coefficient axis last, broadcast against x)."""
    b1 = np.zeros(np.broadcast_shapes(coef.shape[:-1], np.shape(x)))
    b2 = np.zeros_like(b1)
    two_x = 2.0 * x
    for m in range(coef.shape[-1] - 1, 0, -1):
        b1, b2 = coef[..., m] + two_x * b1 - b2, b1
    return coef[..., 0] + x * b1 - b2


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow (faster than numpy's logaddexp)."""
    out = np.abs(x)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, 0.0)
    return out


# --------------------------------------------------------------------------- priors on u
def tau_of_u(kind: str, scale: float, u):
    """tau from the working variable u."""
    if kind == "half-cauchy":
        return scale * np.tan(0.5 * np.pi * u)
    return u


def log_prior_u(kind: str, scale: float, u):
    """Log prior density of u, up to a constant (the half-Cauchy is uniform in u)."""
    if kind == "half-normal":
        return -0.5 * (u / scale) ** 2
    return np.zeros_like(u)


def u_limit(kind: str, scale: float) -> float:
    """Upper end of the initial u interval (the half-normal's is widened when needed)."""
    if kind == "half-normal":
        return scale * _HN_TAIL
    if kind == "uniform":
        return scale
    return 1.0


# ----------------------------------------------------------------- normal likelihood
def normal_conditional(y, v, tau, mu_mean, mu_prec):
    """Conjugate step of the normal-normal model, for every tau node.

    y, v: (R, k); tau: (R, T). Returns log p(y | tau) up to a constant, and the mean and
    sd of mu | tau, y, each (R, T). ``mu_prec = 0`` is the flat prior (Roever 2020, eq. 7).
    """
    w = 1.0 / (v[:, None, :] + tau[..., None] ** 2)
    prec = w.sum(-1) + mu_prec
    m = ((w * y[:, None, :]).sum(-1) + mu_prec * mu_mean) / prec
    resid = (w * (y[:, None, :] - m[..., None]) ** 2).sum(-1) + mu_prec * (m - mu_mean) ** 2
    loglik = 0.5 * np.log(w).sum(-1) - 0.5 * np.log(prec) - 0.5 * resid
    return loglik, m, 1.0 / np.sqrt(prec)


# --------------------------------------------------------------- binomial likelihood
_RULE_CACHE: dict[tuple[int, float, float], tuple[np.ndarray, np.ndarray]] = {}


def _logit_beta_rules(a: np.ndarray, b: np.ndarray, n_nodes: int, size: int = 1201):
    """Gauss rules with `n_nodes` nodes for theta = logit(B), B ~ Beta(a, b), row by row.

    By the discretised Stieltjes procedure (Gautschi 2004, sec. 2.2.3) on `size` points
    covering the density down to ~e^-46 of its mode (trapezoid sums, spectrally accurate
    for these smooth densities), then Golub-Welsch. Returns nodes and weights (P, N_RULE).
    """
    sd = np.sqrt(special.polygamma(1, a) + special.polygamma(1, b))
    mean = special.digamma(a) - special.digamma(b)
    mode = np.log(a / b)
    lo = mode - np.maximum(46.0 / a, 12.0 * sd)
    hi = mode + np.maximum(46.0 / b, 12.0 * sd)
    z = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, size)
    logd = a[:, None] * z - (a + b)[:, None] * softplus(z)
    q = np.exp(logd - logd.max(axis=1, keepdims=True))
    q[:, [0, -1]] *= 0.5
    q /= q.sum(axis=1, keepdims=True)
    zs = (z - mean[:, None]) / sd[:, None]
    alpha = np.zeros((a.size, n_nodes))
    beta = np.zeros((a.size, n_nodes))
    p_prev, p = np.zeros_like(zs), np.ones_like(zs)
    for j in range(n_nodes):  # monic recurrence, rescaled by the norm at every step
        norm = (q * p * p).sum(axis=1)
        alpha[:, j] = (q * zs * p * p).sum(axis=1) / norm
        beta[:, j] = norm
        p_next = (zs - alpha[:, j, None]) * p - (beta[:, j, None] * p_prev if j else 0.0)
        scale = np.sqrt(norm)[:, None]
        p_prev, p = p / scale, p_next / scale
    jac = np.zeros((a.size, n_nodes, n_nodes))
    i = np.arange(n_nodes)
    jac[:, i, i] = alpha
    jac[:, i[:-1], i[1:]] = jac[:, i[1:], i[:-1]] = np.sqrt(beta[:, 1:])
    val, vec = np.linalg.eigh(jac)
    return mean[:, None] + sd[:, None] * val, vec[:, 0, :] ** 2


@dataclass
class Studies:
    """Per-study data of the binomial likelihood, arrays (R, k) (rules: (R, k, N_RULE)).

    ``kind`` is 0 for 0 < x < n, 1 for x = 0 and 2 for x = n; ``rules`` holds, for each
    size in N_RULE, the Gauss rule (nodes, weights: (R, k, size)) of the study's
    likelihood shape: logit-Beta(x, n - x) (kind 0), logit-Beta(1, n) (kind 1) or
    logit-Beta(n, 1) (kind 2); ``sd`` is its standard deviation; ``lognorm`` = log
    B(x, n - x) for kind 0 (0 otherwise).
    """

    x: np.ndarray
    n: np.ndarray
    y: np.ndarray
    v: np.ndarray
    kind: np.ndarray
    sd: np.ndarray
    lognorm: np.ndarray
    rules: tuple

    def take(self, index) -> Studies:
        """The same studies for a subset of replicates (first axis)."""
        fields = [getattr(self, f)[index] for f in self.__dataclass_fields__ if f != "rules"]
        return Studies(*fields, tuple((nd[index], wt[index]) for nd, wt in self.rules))


def studies(x, n, y, v) -> Studies:
    """Per-study data and likelihood rules for counts x, n (arrays (R, k))."""
    kind = np.where(x == 0, 1, np.where(x == n, 2, 0))
    a = np.where(kind == 0, x, np.where(kind == 1, 1.0, n))
    b = np.where(kind == 0, n - x, np.where(kind == 1, n, 1.0))
    pairs, inverse = np.unique(np.stack([a.ravel(), b.ravel()], axis=1), axis=0,
                               return_inverse=True)
    rules = []
    for size in N_RULE:
        missing = [i for i, (pa, pb) in enumerate(pairs) if (size, pa, pb) not in _RULE_CACHE]
        if missing:
            nodes, weights = _logit_beta_rules(pairs[missing, 0], pairs[missing, 1], size)
            for j, i in enumerate(missing):
                _RULE_CACHE[(size, pairs[i, 0], pairs[i, 1])] = (nodes[j], weights[j])
        table = [_RULE_CACHE[(size, pa, pb)] for pa, pb in pairs]
        rules.append(tuple(np.stack([t[c] for t in table])[inverse].reshape(*x.shape, size)
                           for c in (0, 1)))
    sd = np.sqrt(special.polygamma(1, a) + special.polygamma(1, b))
    lognorm = np.where(kind == 0, special.betaln(a, b), 0.0)
    return Studies(x, n, y, v, kind, sd, lognorm, tuple(rules))


def _aghq(mu, tau, x, n, y, v, n_agq, derivs):
    """log p(x | mu, tau) + log sqrt(2 pi) per element by adaptive Gauss-Hermite.

    mu: (E, M); tau, x, n, y, v: (E, 1). The intercept is ``theta = mu + tau u``, ``u ~
    N(0, 1)``; nodes are centred at the conditional mode of u and scaled by its curvature
    (Pinheiro & Bates 1995). The mode is found by Newton steps from the normal
    approximation ``u0 = tau (y - mu) / (tau^2 + v)``, safeguarded by bisection: the score
    ``tau (x - n p) - u`` decreases in u and changes sign in ``[tau (x - n), tau x]``.
    """
    t, logw = _gauss_hermite(n_agq)
    tau2 = tau * tau
    lo, hi = tau * (x - n), tau * x
    u = np.clip(tau * (y - mu) / (tau2 + v), lo, hi)
    for _ in range(INNER):
        p = special.expit(mu + tau * u)
        grad = tau * (x - n * p) - u
        lo = np.where(grad > 0, u, lo)
        hi = np.where(grad > 0, hi, u)
        u = u + grad / (tau2 * n * p * (1.0 - p) + 1.0)
        u = np.where((u >= lo) & (u <= hi), u, 0.5 * (lo + hi))
    p = special.expit(mu + tau * u)
    scale = _SQRT2 / np.sqrt(tau2 * n * p * (1.0 - p) + 1.0)
    nodes = scale[..., None] * t          # in-place arithmetic below: these arrays are big
    nodes += u[..., None]
    eta = tau[..., None] * nodes
    eta += mu[..., None]
    h = np.square(nodes)
    h *= -0.5
    h += logw
    h += x[..., None] * eta
    h -= n[..., None] * softplus(eta)
    hmax = h.max(axis=-1, keepdims=True)
    h -= hmax
    e = np.exp(h, out=h)
    total = e.sum(axis=-1)
    ll = np.log(scale) + hmax[..., 0] + np.log(total)
    if not derivs:
        return (ll,)
    pe = special.expit(eta)
    e /= total[..., None]
    ep = (e * pe).sum(axis=-1)
    ep2 = (e * pe * pe).sum(axis=-1)
    d1 = x - n * ep
    d2 = -n * (ep - ep2) + n * n * np.maximum(ep2 - ep * ep, 0.0)
    return ll, d1, d2


def _likelihood_rule(mu, tau, kind, lognorm, nodes, weights, derivs):
    """log p(x | mu, tau) + log sqrt(2 pi) per element from the likelihood's Gauss rule.

    mu: (E, M); tau, lognorm: (E,); nodes, weights: (E, size); all of one ``kind``.
    For 0 < x < n, ``p(x | mu, tau) = B(x, n-x) E[phi_tau(Theta - mu)]`` with Theta ~
    logit-Beta(x, n - x); for x = 0, integrating by parts, ``E[Phi((W - mu) / tau)]``
    with W ~ logit-Beta(1, n); for x = n, ``E[Phi((mu - W) / tau)]``, W ~ logit-Beta(n, 1).
    Accurate when tau is not small against the likelihood's width (the normal factor is
    then smooth on the rule's scale).
    """
    sign = -1.0 if kind == 2 else 1.0
    itau = (1.0 / tau)[:, None, None]
    z = sign * (nodes[:, None, :] - mu[..., None]) * itau
    if not derivs:  # fast path without logarithms; rows that underflow are redone below
        if kind == 0:
            kern = np.square(z, out=z)
            kern *= -0.5
            np.exp(kern, out=kern)
        else:
            kern = special.ndtr(z, out=z)
        total = np.matmul(kern, weights[:, :, None])[..., 0]
        shift = np.log(itau[..., 0]) if kind == 0 else _LOG_SQRT_2PI
        with np.errstate(divide="ignore"):
            ll = lognorm[:, None] + shift + np.log(total)
        tiny = total < 1e-280
        if tiny.any():
            r = np.nonzero(tiny.any(axis=1))[0]
            ll[r] = _likelihood_rule(mu[r], tau[r], kind, lognorm[r], nodes[r], weights[r],
                                     True)[0]
        return (ll,)
    logk = -0.5 * z * z + np.log(itau) if kind == 0 else special.log_ndtr(z) + _LOG_SQRT_2PI
    top = logk.max(axis=-1, keepdims=True)
    e = weights[:, None, :] * np.exp(logk - top)
    total = e.sum(axis=-1)
    ll = lognorm[:, None] + top[..., 0] + np.log(total)
    if not derivs:
        return (ll,)
    e /= total[..., None]
    if kind == 0:  # d/dmu of the kernel over the kernel: z / tau, and (z^2 - 1) / tau^2
        g1, g2 = z, z * z - 1.0
    else:          # -sign phi(z) / (Phi(z) tau), and -z phi(z) / (Phi(z) tau^2)
        mills = np.exp(-0.5 * z * z - logk)
        g1, g2 = -sign * mills, -z * mills
    d1 = (e * g1).sum(axis=-1) * itau[..., 0]
    d2 = (e * g2).sum(axis=-1) * itau[..., 0] ** 2 - d1 * d1
    return ll, d1, d2


def study_loglik(mu, tau, s: Studies, *, derivs: bool = False, active=None):
    """Sum over studies of log p(x_i | mu, tau), without the binomial coefficients.

    mu: (R, T, M) (M mu values per tau node), tau: (R, T), studies (R, k). Each
    study's integral over its random intercept uses the rule that is accurate for its
    ratio ``r = tau / sd`` of tau to the width of its likelihood: adaptive Gauss-Hermite
    with 9 nodes (r < 0.4) or 15 nodes (r < 1), else the likelihood's own Gauss rule
    (`_likelihood_rule`) with 24 nodes (r < 2) or 12. The choice depends on (replicate, tau node, study) only, so
    data are gathered once per triple and broadcast over the mu values. With ``derivs``
    also the first and second derivatives in mu. Returns arrays (R, T, M); where the
    optional mask ``active`` (R, T) is False nothing is computed (zeros).
    """
    ratio = tau[:, :, None] / s.sd[:, None, :]
    regime = np.where(ratio < 0.4, 0, np.where(ratio < 1.0, 1, 2))
    # 2, 3, 4: the 24-node rule by kind (1 <= r < 2); 5, 6, 7: the 12-node rule (r >= 2)
    regime = np.where(regime == 2, 2 + s.kind[:, None, :] + 3 * (ratio >= 2.0), regime)
    if active is not None:
        regime = np.where(active[:, :, None], regime, -1)
    out = np.zeros((3 if derivs else 1, *ratio.shape, mu.shape[2]))
    for code in np.unique(regime[regime >= 0]):
        r, t, i = np.nonzero(regime == code)
        if code < 2:
            cols = [a[r, i][:, None] for a in (s.x, s.n, s.y, s.v)]
            res = _aghq(mu[r, t], tau[r, t][:, None], *cols, (9, 15)[code], derivs)
        else:
            nodes, weights = s.rules[(code - 2) // 3]
            res = _likelihood_rule(mu[r, t], tau[r, t], (code - 2) % 3, s.lognorm[r, i],
                                   nodes[r, i], weights[r, i], derivs)
        for j, val in enumerate(res):
            out[j, r, t, i] = val
    summed = out.sum(axis=3)
    return summed[0] if not derivs else tuple(summed)


def _log_post_mu(mu, tau, d: Studies, mu_mean, mu_prec, derivs=False, active=None):
    """log p(mu) + sum_i log p(x_i | mu, tau), and optionally its derivatives in mu.

    mu: (R, T) or (R, T, M); tau: (R, T); returns arrays shaped like mu.
    """
    flat = mu.ndim == 2
    out = study_loglik(mu[..., None] if flat else mu, tau, d, derivs=derivs, active=active)
    if flat:
        out = out[..., 0] if not derivs else tuple(o[..., 0] for o in out)
    lp = -0.5 * mu_prec * (mu - mu_mean) ** 2
    if not derivs:
        return out + lp
    ll, d1, d2 = out
    return ll + lp, d1 - mu_prec * (mu - mu_mean), d2 - mu_prec


def _mode_mu(d, tau, start, mu_mean, mu_prec):
    """Mode of the log-concave mu | tau, y by damped Newton steps (vectorised; only the
    elements not yet converged are evaluated). Returns the mode, the log density there
    and the curvature sd."""
    m = start.copy()
    g0, g1, g2 = (np.zeros_like(m) for _ in range(3))
    active = np.ones(m.shape, dtype=bool)
    for _ in range(60):
        new = _log_post_mu(m, tau, d, mu_mean, mu_prec, derivs=True, active=active)
        for g, val in zip((g0, g1, g2), new, strict=True):
            g[active] = val[active]
        curv = np.minimum(g2, -1e-12)
        step = np.clip(-g1 / curv, -8.0, 8.0)
        done = np.abs(step) * np.sqrt(-curv) < 1e-6
        m = np.where(active & ~done, m + step, m)
        active &= ~done
        if not active.any():
            break
    return m, g0, np.sqrt(-1.0 / np.minimum(g2, -1e-12))


def _drop_point(d, tau, mode, sd, target, side, mu_mean, mu_prec):
    """Point beyond which log p(mu | tau, y) < target, by Newton steps (side = -1 or +1).

    The log density is concave, so Newton steps from outside the interval approach the
    crossing monotonically and stay outside; from inside they overshoot, so steps are
    capped by a bound that doubles at every iteration (2, 4, 8, ... conditional sds).
    Elements stop (at an evaluated point outside) once the step is below sd / 4.
    """
    z = mode + side * np.sqrt(2.0 * DROP) * sd
    cap = 2.0 * sd
    active = np.ones(z.shape, dtype=bool)
    for _ in range(24):
        g0, g1, _ = _log_post_mu(z, tau, d, mu_mean, mu_prec, derivs=True, active=active)
        falling = side * g1 < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = -(g0 - target) / g1
        step = np.clip(np.where(falling & np.isfinite(newton), newton, side * cap), -cap, cap)
        done = (g0 <= target) & (np.abs(step) < 0.25 * sd)
        z = np.where(active & ~done, z + step, z)
        active &= ~done
        cap = 2.0 * cap
        if not active.any():
            break
    return z


@dataclass
class BinomialGrid:
    """mu | tau, y on Chebyshev points of [lo, hi] for every tau node (R, T, ...)."""

    lo: np.ndarray     # (R, T) interval ends
    hi: np.ndarray
    dens: np.ndarray   # (R, T, 2 L) normalised conditional density at the nodes
    log_z: np.ndarray  # (R, T) log of p(x | tau) up to a constant
    tail: np.ndarray   # (R, T) last Chebyshev coefficients of the log density (L points)


def binomial_conditional(s: Studies, tau, start, mu_mean, mu_prec, n_log) -> BinomialGrid:
    """mu | tau, y for the binomial-normal model, for every tau node (tau: (R, T)).

    The log density of mu | tau, y (smooth and log-concave) is evaluated at `n_log`
    Chebyshev points of its interval and its interpolant evaluated exactly at twice as
    many points, where the density is exponentiated and normalised by Fejer's rule;
    ``tail`` (its last coefficients) tells whether `n_log` points resolve it.
    """
    mode, top, sd = _mode_mu(s, tau, start, mu_mean, mu_prec)
    lo = _drop_point(s, tau, mode, sd, top - DROP, -1.0, mu_mean, mu_prec)
    hi = _drop_point(s, tau, mode, sd, top - DROP, 1.0, mu_mean, mu_prec)
    half = 0.5 * (hi - lo)
    mu = (0.5 * (hi + lo))[..., None] + half[..., None] * chebyshev(n_log)[0]
    g = _log_post_mu(mu, tau, s, mu_mean, mu_prec) - top[..., None]
    tail = np.abs(g @ chebyshev(n_log)[2][-2:].T).max(axis=-1)
    dens = np.exp(g @ resample(n_log, 2 * n_log).T)
    z = half * (dens @ chebyshev(2 * n_log)[1])
    dens /= z[..., None]
    return BinomialGrid(lo=lo, hi=hi, dens=dens, log_z=top + np.log(z), tail=tail)


# ------------------------------------------------------------------------- solving
def solve_increasing(fun, target, lo, hi, x0, *, tol=1e-11, max_iter=100):
    """Solve F(q) = target for increasing F, row by row: bracketed Newton iterations.

    ``fun(q, rows) -> (F, f)`` evaluates F and its derivative for the given rows.
    ``F(lo) <= target <= F(hi)`` must hold. Rows are dropped as they converge.
    """
    q = np.clip(x0, lo, hi).astype(float)
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    rows = np.arange(q.size)
    target = np.broadcast_to(target, q.shape)
    for _ in range(max_iter):
        if rows.size == 0:
            break
        f_val, f_der = fun(q[rows], rows)
        gap = f_val - target[rows]
        below = gap < 0
        lo[rows] = np.where(below, q[rows], lo[rows])
        hi[rows] = np.where(below, hi[rows], q[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            new = q[rows] - gap / f_der
        bad = ~np.isfinite(new) | (new <= lo[rows]) | (new >= hi[rows])
        new = np.where(bad, 0.5 * (lo[rows] + hi[rows]), new)
        width = 1e-13 * (1.0 + np.abs(new))
        hit = np.abs(gap) < tol
        done = hit | (np.abs(new - q[rows]) < width) | (hi[rows] - lo[rows] < width)
        q[rows] = np.where(hit, q[rows], new)
        rows = rows[~done]
    return q
