"""Posterior assembly and summaries for the Bayesian models (internal; see `bayes`).

`posterior` computes the quadrature representation of ``p(mu, tau | y)`` for a batch of
data sets (first axis = replicate); `analysis.stats._bayes_summary` turns it into
medians, equal-tailed intervals, predictive intervals and tail probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _bayes_kernels as K

_NARROW = 0.5  # below this tau / sd of mu | tau, the predictive is integrated over z


@dataclass
class Posterior:
    """Quadrature representation of the joint posterior of (mu, tau), per replicate."""

    likelihood: str
    tau_kind: str
    tau_scale: float
    u_lo: np.ndarray       # (R,) interval of the working variable u
    u_hi: np.ndarray
    tau: np.ndarray        # (R, T) tau nodes
    dens_u: np.ndarray     # (R, N_FINE) normalised posterior density of u, fine grid
    weight: np.ndarray     # (R, T) product-integration weights of the tau nodes (sum 1)
    m: np.ndarray | None = None      # normal: mean and sd of mu | tau, y  (R, T)
    s: np.ndarray | None = None
    grid: K.BinomialGrid | None = None  # binomial: mu | tau, y on Chebyshev points

    def take(self, index) -> Posterior:
        """The posterior of a subset of the replicates."""
        def sub(a):
            return None if a is None else a[index]
        grid = None if self.grid is None else K.BinomialGrid(
            *(getattr(self.grid, f)[index] for f in ("lo", "hi", "dens", "log_z", "tail")))
        return Posterior(self.likelihood, self.tau_kind, self.tau_scale, self.u_lo[index],
                         self.u_hi[index], self.tau[index], self.dens_u[index],
                         self.weight[index], sub(self.m), sub(self.s), grid)


def posterior(likelihood, data, tau_kind, tau_scale, mu_mean, mu_prec):
    """Joint posteriors of all replicates, as a list of ``(rows, Posterior)`` groups.

    ``data`` holds ``y``, ``v`` (logit effects; the normal likelihood and the binomial
    starting values) and, for the binomial likelihood, ``x``, ``n``; each (R, k). Every
    replicate starts with `N_TAU` tau nodes (and `N_MU` mu nodes); replicates whose
    densities are not resolved (error estimates above TAU_TOL or MU_TOL) are recomputed
    with two or four times the nodes, up to `MAX_TAU` and `MAX_MU`.
    """
    studies = None
    if likelihood == "binomial":
        studies = K.studies(data["x"], data["n"], data["y"], data["v"])
    groups = []
    # (rows, tau nodes, mu nodes) still to compute; each replicate's node counts follow
    # from its own error estimates only, so a data set gets the same quadrature alone as
    # in any batch (`posterior_many`, the calibration)
    todo = [(np.arange(data["y"].shape[0]), K.N_TAU[likelihood], K.N_MU)]
    while todo:
        rows, n_tau, n_mu = todo.pop(0)
        sub = {key: val[rows] for key, val in data.items()}
        post, tau_err, mu_err = _posterior_fixed(
            likelihood, sub, None if studies is None else studies.take(rows), tau_kind,
            tau_scale, mu_mean, mu_prec, n_tau, n_mu)
        tau_ok = (tau_err <= K.TAU_TOL) | (n_tau >= K.MAX_TAU)
        mu_ok = (mu_err <= K.MU_TOL) | (n_mu >= K.MAX_MU)
        done = tau_ok & mu_ok
        if done.any():
            groups.append((rows[done], post.take(done)))
        # not resolved: double the nodes, or quadruple them where far from resolved
        f_tau = np.where(tau_ok, 1, np.where(tau_err > 100 * K.TAU_TOL, 4, 2))
        f_mu = np.where(mu_ok, 1, np.where(mu_err > 1e3 * K.MU_TOL, 4, 2))
        for ft, fm in sorted({(int(a), int(b)) for a, b in zip(f_tau[~done], f_mu[~done], strict=True)}):
            sel = ~done & (f_tau == ft) & (f_mu == fm)
            todo.append((rows[sel], n_tau * ft, n_mu * fm))
    return groups


def _posterior_fixed(likelihood, data, studies, tau_kind, tau_scale, mu_mean, mu_prec,
                     n_tau, n_mu):
    """Posterior with fixed node counts; refines each replicate's tau interval.

    Product integration in tau: the expensive ``log p(y | tau)`` (and every conditional
    of mu) is computed at `n_tau` Chebyshev points of u; its interpolant times the exact
    prior is integrated on `N_FINE` points, and the fine weights are folded back onto
    the coarse nodes (``weight = w_fine @ resample``), so the prior's shape costs
    nothing. Returns the posterior and, per replicate, whether log p(y | tau) and (for
    the binomial likelihood) every mu | tau, y with weight are resolved by their
    Chebyshev series.
    """
    y, v = data["y"], data["v"]
    n_rep = y.shape[0]
    cx, _, v2c, _ = K.chebyshev(n_tau)
    fw = K.chebyshev(K.N_FINE)[1]
    interp = K.resample(n_tau, K.N_FINE)
    lo = np.zeros(n_rep)
    hi = np.full(n_rep, K.u_limit(tau_kind, tau_scale))
    shape = (n_rep, n_tau)
    out = {"ll": np.empty(shape), "m": np.empty(shape), "s": np.empty(shape)}
    grid = None
    if likelihood == "binomial":
        grid = K.BinomialGrid(np.empty(shape), np.empty(shape),
                              np.empty((*shape, 2 * n_mu)), np.empty(shape), np.empty(shape))
    rows = np.arange(n_rep)
    for _ in range(K.ROUNDS):
        half = 0.5 * (hi[rows] - lo[rows])
        u = (0.5 * (hi[rows] + lo[rows]))[:, None] + half[:, None] * cx
        tau = K.tau_of_u(tau_kind, tau_scale, u)
        ll, m, s = K.normal_conditional(y[rows], v[rows], tau, mu_mean, mu_prec)
        if likelihood == "binomial":
            g = _binomial_chunks(studies.take(rows), tau, m, mu_mean, mu_prec, n_mu)
            for name in ("lo", "hi", "dens", "log_z", "tail"):
                getattr(grid, name)[rows] = getattr(g, name)
            ll = g.log_z
        out["ll"][rows], out["m"][rows], out["s"][rows] = ll, m, s
        rows, lo, hi = _refine(rows, ll, lo, hi, tau_kind, tau_scale, interp)
        if rows.size == 0:
            break
    half = 0.5 * (hi - lo)
    rel = _fine_density(out["ll"], lo, hi, tau_kind, tau_scale, interp)
    dens_u = rel / (half * (rel @ fw))[:, None]
    weight = (half[:, None] * fw * dens_u) @ interp
    weight /= weight.sum(axis=1, keepdims=True)
    tau = K.tau_of_u(tau_kind, tau_scale, (0.5 * (hi + lo))[:, None] + half[:, None] * cx)
    tau_err = _tau_error(out["ll"], lo, hi, tau_kind, tau_scale, rel, v2c)
    if likelihood == "normal":
        post = Posterior(likelihood, tau_kind, tau_scale, lo, hi, tau, dens_u, weight,
                         m=out["m"], s=out["s"])
        return post, tau_err, np.zeros(n_rep)
    mu_err = (np.abs(weight) * grid.tail).max(axis=1)
    post = Posterior(likelihood, tau_kind, tau_scale, lo, hi, tau, dens_u, weight, grid=grid)
    return post, tau_err, mu_err


def _tail(values, v2c):
    """Largest of the last three Chebyshev coefficients over the largest (last axis)."""
    coef = np.abs(values @ v2c.T)
    return coef[..., -3:].max(axis=-1) / coef.max(axis=-1)


def _binomial_chunks(studies, tau, start, mu_mean, mu_prec, n_mu, size=64):
    """`binomial_conditional` in chunks of replicates (bounded memory, cache-friendly).

    64 replicates per chunk: measured fastest of 16, 64 and 256 (k = 5: 15% less CPU than
    16, where per-call overhead dominates); results do not depend on it (bitwise)."""
    parts = [K.binomial_conditional(studies.take(slice(i, i + size)), tau[i:i + size],
                                    start[i:i + size], mu_mean, mu_prec, n_mu)
             for i in range(0, tau.shape[0], size)]
    return K.BinomialGrid(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("lo", "hi", "dens", "log_z", "tail")))


def _likelihood_values(ll, tau_kind):
    """What is interpolated in u: log p(y | tau) (smooth in tau, near-quadratic when the
    data are informative), or for the half-Cauchy p(y | tau) / max, because there
    ``u`` is the prior CDF and log p(y | tau) ~ -a log tan(pi u / 2) is singular at 1."""
    ll = ll - ll.max(axis=1, keepdims=True)
    return np.exp(ll) if tau_kind == "half-cauchy" else ll


def _fine_density(ll, lo, hi, tau_kind, tau_scale, interp, values=False):
    """Unnormalised posterior density of u on the fine grid: the exact prior times the
    interpolated likelihood (see `_likelihood_values`; ``values``: ll already is it)."""
    u = (0.5 * (hi + lo))[:, None] + (0.5 * (hi - lo))[:, None] * K.chebyshev(K.N_FINE)[0]
    lp = K.log_prior_u(tau_kind, tau_scale, u)
    vals = (ll if values else _likelihood_values(ll, tau_kind)) @ interp.T
    if tau_kind == "half-cauchy":
        return np.exp(lp - lp.max(axis=1, keepdims=True)) * np.maximum(vals, 0.0)
    lp += vals
    return np.exp(lp - lp.max(axis=1, keepdims=True))


def _tau_error(ll, lo, hi, tau_kind, tau_scale, rel, v2c):
    """Error estimate of the tau quadrature: the L1 change of the normalised posterior
    of u when the last three Chebyshev coefficients of the interpolated likelihood are
    dropped (the interpolation error weighted by where the posterior has mass)."""
    n_tau = v2c.shape[0]
    coef = _likelihood_values(ll, tau_kind) @ v2c.T
    coef[:, -3:] = 0.0
    trunc = _fine_density(coef @ np.linalg.inv(v2c).T, lo, hi, tau_kind, tau_scale,
                          K.resample(n_tau, K.N_FINE), values=True)
    fw = K.chebyshev(K.N_FINE)[1]
    full = rel / (rel @ fw)[:, None]
    trunc = trunc / (trunc @ fw)[:, None]
    return np.abs(full - trunc) @ fw


def _refine(rows, ll, lo, hi, tau_kind, tau_scale, interp):
    """Rows whose tau interval must change, with the new intervals.

    On the fine grid the log posterior (prior + interpolated log p(y | tau)) is cheap:
    the interval shrinks to where it is within KEEP of its maximum (plus one fine node
    each side) when that is under half the interval, which resolves concentrated
    posteriors (large k). A half-normal posterior that is not negligible at the top of
    its interval (the prior's 1e-12 tail point) has been pushed there by the data: its
    interval is doubled.
    """
    fx = K.chebyshev(K.N_FINE)[0]
    half = 0.5 * (hi[rows] - lo[rows])
    u = (0.5 * (hi[rows] + lo[rows]))[:, None] + half[:, None] * fx
    with np.errstate(divide="ignore"):
        lp = np.log(_fine_density(ll, lo[rows], hi[rows], tau_kind, tau_scale, interp))
    lp -= lp.max(axis=1, keepdims=True)
    keep = lp > -K.KEEP
    first = np.argmax(keep, axis=1)
    last = K.N_FINE - 1 - np.argmax(keep[:, ::-1], axis=1)
    idx = np.arange(u.shape[0])
    new_lo = np.where(first > 0, u[idx, np.maximum(first - 1, 0)], lo[rows])
    new_hi = np.where(last < K.N_FINE - 1, u[idx, np.minimum(last + 1, K.N_FINE - 1)], hi[rows])
    widen = (tau_kind == "half-normal") & (lp[:, -1] > -23.0)
    new_hi = np.where(widen, 2.0 * hi[rows], new_hi)
    new_lo = np.where(widen, lo[rows], new_lo)
    again = widen | ((new_hi - new_lo) < 0.5 * (hi[rows] - lo[rows]))
    lo, hi = lo.copy(), hi.copy()
    lo[rows[again]], hi[rows[again]] = new_lo[again], new_hi[again]
    return rows[again], lo, hi
