"""Numerical kernels of the Bayesian random-effects models (internal; see `bayes`).

Everything here works on batches: arrays whose first axis is the replicate, R data sets
at once. The scalar fit in `analysis.stats.bayes` is a batch of one, so the scalar and
the simulation paths run the same code. No argument checking happens here.

Quadrature, all deterministic:

* tau: a working variable ``u`` (``u = tau`` for the half-normal and uniform priors; ``u``
  = the prior CDF for the half-Cauchy, which makes its heavy tail compact). The costly
  ``p(y | tau)`` is computed at `N_TAU` Chebyshev points of an interval of u and
  interpolated; its product with the exact prior is integrated on `N_FINE` points and the
  fine weights are folded back onto the coarse nodes (product integration). The interval
  shrinks to where the posterior lives (large k) and, for the half-normal, widens when the
  data push tau beyond the prior's 1e-12 tail point.
* normal likelihood: ``mu | tau, y`` is normal (conjugate), exactly (Roever 2020).
* binomial likelihood: ``mu | tau, y`` is log-concave. Per tau node its mode is found by
  Newton's method and the interval on which its log density lies within `DROP` of the
  mode by Newton steps on each side; the log density is computed at `N_MU` Chebyshev
  points of that interval and interpolated to twice as many density nodes. Each study's
  integral over its random intercept: `analysis.stats._bayes_likelihood`.
* accuracy: error estimates (the tau quadrature's change when its last Chebyshev terms
  are dropped; the last coefficients of each log p(mu | tau, y)) are held below TAU_TOL
  and MU_TOL by doubling node counts for the replicates that need it; observed errors
  against the brute-force reference are about 1e-6.
* distributions: CDFs are integrals of the Chebyshev interpolants (exact for them) and
  quantiles are found by bracketed Newton iterations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from ._bayes_likelihood import Studies, loglik_plan, studies, study_loglik

__all__ = ["Studies", "studies", "study_loglik"]  # re-exported for _bayes_posterior

N_TAU = {"normal": 48, "binomial": 32}   # Fejer nodes for tau (per refinement round)
N_MU = 16            # points for log p(mu | tau, y) (binomial); its density: twice as many
MAX_TAU = 192        # node counts double, where needed, up to these
MAX_MU = 256
N_Z = 8             # Gauss-Hermite nodes of the small-tau predictive convolution
DROP = 20.0          # mu | tau interval: log density within DROP of its maximum (e^-20 ~ 2e-9)
KEEP = 30.0          # tau where the log posterior is below max - KEEP is treated as empty
N_FINE = 64         # fine tau grid carrying the exact prior (product integration)
TAU_TOL = 2e-5       # resolved: estimated L1 error of p(u | y) below this (`_tau_error`)
MU_TOL = 1e-6        # and the last coefficients of each log p(mu | tau, y) times the
                     # node's weight; else the node count doubles
ROUNDS = 8           # at most this many interval refinements
_HN_TAIL = float(np.sqrt(2.0) * special.erfcinv(1e-12))  # half-normal mass beyond: 1e-12


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
    """Sum of ``coef[..., m] * T_m(x)`` (coefficient axis last, broadcast against x).

    The recurrence ``b_m = c_m + 2 x b_(m+1) - b_(m+2)`` runs on contiguous coefficient
    slices into preallocated buffers (a third faster than fresh arrays for the small
    batches of a single fit; the same operations in the same order, so the same bits).
    """
    shape = np.broadcast_shapes(coef.shape[:-1], np.shape(x))
    c = np.moveaxis(coef, -1, 0)  # coefficient axis first, batch axes aligned right
    c = c.reshape((c.shape[0],) + (1,) * (len(shape) - c.ndim + 1) + c.shape[1:])
    c = np.ascontiguousarray(np.broadcast_to(c, (c.shape[0], *shape)))
    two_x = np.broadcast_to(2.0 * x, shape)
    b1, b2, t = np.zeros(shape), np.zeros(shape), np.empty(shape)
    for m in range(coef.shape[-1] - 1, 0, -1):
        np.multiply(two_x, b1, out=t)
        t += c[m]
        t -= b2
        b1, b2, t = t, b1, b2
    return c[0] + x * b1 - b2


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


def _log_post_mu(mu, tau, d: Studies, mu_mean, mu_prec, derivs=False, active=None, plan=None):
    """log p(mu) + sum_i log p(x_i | mu, tau), and optionally its derivatives in mu.

    mu: (R, T) or (R, T, M); tau: (R, T); returns arrays shaped like mu.
    """
    flat = mu.ndim == 2
    out = study_loglik(mu[..., None] if flat else mu, tau, d, derivs=derivs, active=active,
                       plan=plan)
    if flat:
        out = out[..., 0] if not derivs else tuple(o[..., 0] for o in out)
    lp = -0.5 * mu_prec * (mu - mu_mean) ** 2
    if not derivs:
        return out + lp
    ll, d1, d2 = out
    return ll + lp, d1 - mu_prec * (mu - mu_mean), d2 - mu_prec


def _mode_mu(d, tau, start, mu_mean, mu_prec, plan=None):
    """Mode of the log-concave mu | tau, y by damped Newton steps (vectorised; only the
    elements not yet converged are evaluated). Returns the mode, the log density there
    and the curvature sd."""
    m = start.copy()
    g0, g1, g2 = (np.zeros_like(m) for _ in range(3))
    active = np.ones(m.shape, dtype=bool)
    for _ in range(60):
        new = _log_post_mu(m, tau, d, mu_mean, mu_prec, derivs=True, active=active, plan=plan)
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


def _drop_point(d, tau, mode, sd, target, side, mu_mean, mu_prec, plan=None):
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
        g0, g1, _ = _log_post_mu(z, tau, d, mu_mean, mu_prec, derivs=True, active=active,
                                 plan=plan)
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
    plan = loglik_plan(tau, s)  # each study's rule per tau node, shared by every call below
    mode, top, sd = _mode_mu(s, tau, start, mu_mean, mu_prec, plan)
    lo = _drop_point(s, tau, mode, sd, top - DROP, -1.0, mu_mean, mu_prec, plan)
    hi = _drop_point(s, tau, mode, sd, top - DROP, 1.0, mu_mean, mu_prec, plan)
    half = 0.5 * (hi - lo)
    mu = (0.5 * (hi + lo))[..., None] + half[..., None] * chebyshev(n_log)[0]
    g = _log_post_mu(mu, tau, s, mu_mean, mu_prec, plan=plan) - top[..., None]
    tail = np.abs(g @ chebyshev(n_log)[2][-2:].T).max(axis=-1)
    dens = np.exp(g @ resample(n_log, 2 * n_log).T)
    z = half * (dens @ chebyshev(2 * n_log)[1])
    dens /= z[..., None]
    return BinomialGrid(lo=lo, hi=hi, dens=dens, log_z=top + np.log(z), tail=tail)


# ------------------------------------------------------------------------- solving
_LAST_STEP = 1e-7


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
        # a Newton step from |gap| < 1e-7 leaves |gap| ~ |F''| / (2 f^2) * 1e-14, far below
        # tol for these smooth CDFs: take it as final instead of evaluating F once more
        # just to confirm (same result; saves about one evaluation in five)
        last = ~bad & (np.abs(gap) < _LAST_STEP)
        done = hit | last | (np.abs(new - q[rows]) < width) | (hi[rows] - lo[rows] < width)
        q[rows] = np.where(hit, q[rows], new)
        rows = rows[~done]
    return q
