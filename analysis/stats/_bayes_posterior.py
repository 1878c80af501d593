"""Posterior assembly and summaries for the Bayesian models (internal; see `bayes`).

`posterior` computes the quadrature representation of ``p(mu, tau | y)`` for a batch of
data sets; `summarise` turns it into medians, equal-tailed intervals, predictive
intervals and tail probabilities. Both work on batches (first axis = replicate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from . import _bayes_kernels as K


@dataclass
class Posterior:
    """Quadrature representation of the joint posterior of (mu, tau), per replicate."""

    likelihood: str
    tau_kind: str
    tau_scale: float
    u_lo: np.ndarray       # (R,) interval of the working variable u
    u_hi: np.ndarray
    tau: np.ndarray        # (R, T) tau nodes
    dens_u: np.ndarray     # (R, T) normalised posterior density of u at the nodes
    weight: np.ndarray     # (R, T) quadrature weights of p(tau | y), summing to 1
    m: np.ndarray | None = None      # normal: mean and sd of mu | tau, y  (R, T)
    s: np.ndarray | None = None
    grid: K.BinomialGrid | None = None  # binomial: mu | tau, y on Chebyshev points


def posterior(likelihood, data, tau_kind, tau_scale, mu_mean, mu_prec) -> Posterior:
    """Joint posterior for every replicate, refining the tau interval until resolved.

    ``data`` holds ``y``, ``v`` (logit effects; the normal likelihood and the binomial
    starting values) and, for the binomial likelihood, ``x``, ``n``; each (R, k).
    """
    y, v = data["y"], data["v"]
    n_rep = y.shape[0]
    t_nodes = K.N_TAU[likelihood]
    cx, cw, v2c, _ = K.chebyshev(t_nodes)
    lo = np.zeros(n_rep)
    hi = np.full(n_rep, K.u_limit(tau_kind, tau_scale))
    shape = (n_rep, t_nodes)
    out = {"u": np.empty(shape), "lp": np.empty(shape), "m": np.empty(shape),
           "s": np.empty(shape)}
    grid = studies = None
    if likelihood == "binomial":
        studies = K.studies(data["x"], data["n"], y, v)
        grid = K.BinomialGrid(np.empty(shape), np.empty(shape),
                              np.empty((*shape, K.N_MU)), np.empty(shape))
    rows = np.arange(n_rep)
    for _ in range(K.ROUNDS):
        half = 0.5 * (hi[rows] - lo[rows])
        u = (0.5 * (hi[rows] + lo[rows]))[:, None] + half[:, None] * cx
        tau = K.tau_of_u(tau_kind, tau_scale, u)
        ll, m, s = K.normal_conditional(y[rows], v[rows], tau, mu_mean, mu_prec)
        if likelihood == "binomial":
            g = _binomial_chunks(studies.take(rows), tau, m, mu_mean, mu_prec)
            for name in ("lo", "hi", "dens", "log_z"):
                getattr(grid, name)[rows] = getattr(g, name)
            ll = g.log_z
        out["u"][rows], out["m"][rows], out["s"][rows] = u, m, s
        out["lp"][rows] = K.log_prior_u(tau_kind, tau_scale, u) + ll
        rows, lo, hi = _refine(rows, out["u"][rows], out["lp"][rows], lo, hi, tau_kind,
                               tau_scale, v2c)
        if rows.size == 0:
            break
    half = 0.5 * (hi - lo)
    rel = np.exp(out["lp"] - out["lp"].max(axis=1, keepdims=True))
    mass = half * (rel @ cw)
    dens_u = rel / mass[:, None]
    weight = half[:, None] * cw * dens_u
    weight /= weight.sum(axis=1, keepdims=True)
    tau = K.tau_of_u(tau_kind, tau_scale, out["u"])
    if likelihood == "normal":
        return Posterior(likelihood, tau_kind, tau_scale, lo, hi, tau, dens_u, weight,
                         m=out["m"], s=out["s"])
    return Posterior(likelihood, tau_kind, tau_scale, lo, hi, tau, dens_u, weight, grid=grid)


def _binomial_chunks(studies, tau, start, mu_mean, mu_prec, size=96):
    """`binomial_conditional` in chunks of replicates (bounded memory, cache-friendly)."""
    parts = [K.binomial_conditional(studies.take(slice(i, i + size)), tau[i:i + size],
                                    start[i:i + size], mu_mean, mu_prec)
             for i in range(0, tau.shape[0], size)]
    return K.BinomialGrid(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("lo", "hi", "dens", "log_z")))


def _refine(rows, u, lp, lo, hi, tau_kind, tau_scale, v2c):
    """Rows whose p(u | y) is not yet resolved on its interval, with the new intervals.

    Unresolved means the last Chebyshev coefficients of the density exceed COEF_TOL
    times the largest; the interval then shrinks to the nodes where the log density is
    within KEEP of its maximum (plus one node each side). A half-normal posterior that
    is not negligible at the top of its interval (the prior's 1e-12 tail point) has
    been pushed there by the data: its interval is doubled.
    """
    lp = lp - lp.max(axis=1, keepdims=True)
    coef = np.exp(lp) @ v2c.T
    tail = np.abs(coef[:, -3:]).max(axis=1) / np.abs(coef).max(axis=1)
    keep = lp > -K.KEEP
    t_nodes = u.shape[1]
    first = np.argmax(keep, axis=1)
    last = t_nodes - 1 - np.argmax(keep[:, ::-1], axis=1)
    new_lo = np.where(first > 0, u[np.arange(u.shape[0]), np.maximum(first - 1, 0)], lo[rows])
    new_hi = np.where(last < t_nodes - 1, u[np.arange(u.shape[0]), np.minimum(last + 1, t_nodes - 1)],
                      hi[rows])
    widen = (tau_kind == "half-normal") & (lp[:, -1] > -23.0)
    new_hi = np.where(widen, 2.0 * hi[rows], new_hi)
    new_lo = np.where(widen, lo[rows], new_lo)
    shrinks = (new_hi - new_lo) < 0.9 * (hi[rows] - lo[rows])
    again = widen | ((tail > K.COEF_TOL) & shrinks)
    lo, hi = lo.copy(), hi.copy()
    lo[rows[again]], hi[rows[again]] = new_lo[again], new_hi[again]
    return rows[again], lo, hi


# --------------------------------------------------------------------- mixture CDFs
def _mu_cdf(post: Posterior, coefs):
    """F and f of the marginal posterior of mu, as a function of (q, rows)."""
    w = post.weight
    if post.likelihood == "normal":
        def fun(q, rows):
            z = (q[:, None] - post.m[rows]) / post.s[rows]
            return ((w[rows] * special.ndtr(z)).sum(1),
                    (w[rows] * np.exp(-0.5 * z * z) / post.s[rows]).sum(1) / np.sqrt(2 * np.pi))
        return fun
    g = post.grid
    pdf_c, cdf_c = coefs

    def fun(q, rows):
        lo, hi = g.lo[rows], g.hi[rows]
        x = (2.0 * q[:, None] - lo - hi) / (hi - lo)
        xc = np.clip(x, -1.0, 1.0)
        cdf = K.clenshaw(cdf_c[rows], xc)
        pdf = np.where(np.abs(x) < 1.0, K.clenshaw(pdf_c[rows], xc), 0.0) * 2.0 / (hi - lo)
        return (w[rows] * cdf).sum(1), (w[rows] * pdf).sum(1)
    return fun


def _pred_cdf(post: Posterior, coefs):
    """F and f of the posterior predictive of a new study's theta, as (q, rows) -> (F, f).

    Normal likelihood: a normal mixture. Binomial: for each tau node the convolution of
    mu | tau, y with N(0, tau^2); where tau is at least half the conditional sd of mu it
    is integrated over the mu nodes (Fejer), otherwise over z by Gauss-Hermite with the
    conditional CDF, F(t) = E[F_mu(t - tau z)].
    """
    w, tau = post.weight, post.tau
    if post.likelihood == "normal":
        sd = np.sqrt(post.s**2 + tau**2)

        def fun(q, rows):
            z = (q[:, None] - post.m[rows]) / sd[rows]
            return ((w[rows] * special.ndtr(z)).sum(1),
                    (w[rows] * np.exp(-0.5 * z * z) / sd[rows]).sum(1) / np.sqrt(2 * np.pi))
        return fun
    g = post.grid
    pdf_c, cdf_c = coefs
    cx, cw, _, _ = K.chebyshev(K.N_MU)
    half = 0.5 * (g.hi - g.lo)
    mu = (0.5 * (g.hi + g.lo))[..., None] + half[..., None] * cx
    wq = half[..., None] * cw * g.dens
    narrow = tau < 0.8 * (2.0 * half) / (2.0 * np.sqrt(2.0 * K.DROP))
    zt, zw = np.polynomial.hermite.hermgauss(K.N_Z)
    zt, zw = np.sqrt(2.0) * zt, zw / np.sqrt(np.pi)

    def fun(q, rows):
        t = q[:, None]
        zz = (t[..., None] - mu[rows]) / tau[rows][..., None]
        cdf = (wq[rows] * special.ndtr(zz)).sum(-1)
        pdf = (wq[rows] * np.exp(-0.5 * zz * zz)).sum(-1) / (np.sqrt(2 * np.pi) * tau[rows])
        r, j = np.nonzero(narrow[rows])
        if r.size:
            rr = rows[r]
            pts = t[r] - tau[rr, j][:, None] * zt
            lo, hi = g.lo[rr, j][:, None], g.hi[rr, j][:, None]
            x = (2.0 * pts - lo - hi) / (hi - lo)
            xc = np.clip(x, -1.0, 1.0)
            cdf[r, j] = K.clenshaw(cdf_c[rr, j][:, None, :], xc) @ zw
            inside = np.abs(x) < 1.0
            pdf[r, j] = (np.where(inside, K.clenshaw(pdf_c[rr, j][:, None, :], xc), 0.0)
                         * 2.0 / (hi - lo)) @ zw
        return (w[rows] * cdf).sum(1), (w[rows] * pdf).sum(1)
    return fun


def _coefficients(post: Posterior):
    """Chebyshev coefficients of each conditional density of mu and of its CDF."""
    if post.grid is None:
        return None
    _, _, v2c, cdfm = K.chebyshev(K.N_MU)
    g = post.grid
    return g.dens @ v2c.T, (0.5 * (g.hi - g.lo))[..., None] * (g.dens @ cdfm.T)


def _bracket(post: Posterior, predictive: bool):
    """(lo, hi) with F(lo) = 0 and F(hi) = 1 to rounding, for every replicate."""
    if post.likelihood == "normal":
        sd = np.sqrt(post.s**2 + post.tau**2) if predictive else post.s
        return (post.m - 40.0 * sd).min(1), (post.m + 40.0 * sd).max(1)
    g = post.grid
    pad = 40.0 * post.tau if predictive else 0.0
    return (g.lo - pad).min(1), (g.hi + pad).max(1)


def _quantiles(fun, probs, lo, hi, start):
    """Quantiles ``probs`` of every replicate in one stacked solve -> (len(probs), R)."""
    n_rep = lo.size
    rep = np.tile(np.arange(n_rep), len(probs))
    target = np.repeat(np.asarray(probs, dtype=float), n_rep)
    q = K.solve_increasing(lambda q, rows: fun(q, rep[rows]), target, lo[rep], hi[rep],
                           np.asarray(start).reshape(-1))
    return q.reshape(len(probs), n_rep)


def summarise(post: Posterior, confidence_level: float, threshold=None) -> dict:
    """Medians, equal-tailed intervals and tail probabilities (analysis scale).

    Quantiles start from the normal approximation with the posterior mean and sd.
    """
    alpha = 0.5 * (1.0 - confidence_level)
    probs = np.array([alpha, 0.5, 1.0 - alpha])
    z = special.ndtri(probs)[:, None]
    coefs = _coefficients(post)
    mean, sd = _mu_moments(post)
    tau_mean = (post.weight * post.tau).sum(1)
    mu_fun = _mu_cdf(post, coefs)
    lo, hi = _bracket(post, predictive=False)
    mu_q = _quantiles(mu_fun, probs, lo, hi, mean + z * sd)
    pred_fun = _pred_cdf(post, coefs)
    lo, hi = _bracket(post, predictive=True)
    pred_sd = np.sqrt(sd**2 + (post.weight * post.tau**2).sum(1))
    pred_q = _quantiles(pred_fun, probs[[0, 2]], lo, hi, mean + z[[0, 2]] * pred_sd)
    tau_q = tau_quantiles(post, probs)
    out = {"mu_low": mu_q[0], "mu_median": mu_q[1], "mu_high": mu_q[2],
           "pred_low": pred_q[0], "pred_high": pred_q[1],
           "tau_low": tau_q[0], "tau_median": tau_q[1], "tau_high": tau_q[2],
           "tau_mean": tau_mean, "mu_mean": mean, "mu_sd": sd}
    if threshold is not None:
        q = np.full(mean.size, float(threshold))
        out["prob_above"] = 1.0 - mu_fun(q, np.arange(q.size))[0]
    return out


def tau_quantiles(post: Posterior, probs) -> np.ndarray:
    """Quantiles of the marginal posterior of tau (Chebyshev CDF in u, then tau(u)).

    Starting values interpolate the cumulative quadrature weights.
    """
    t_nodes = post.tau.shape[1]
    _, _, v2c, cdfm = K.chebyshev(t_nodes)
    half = 0.5 * (post.u_hi - post.u_lo)
    cdf_c = half[:, None] * (post.dens_u @ cdfm.T)
    pdf_c = post.dens_u @ v2c.T
    mid = 0.5 * (post.u_lo + post.u_hi)

    def fun(u, rows):
        x = np.clip((u - mid[rows]) / half[rows], -1.0, 1.0)
        return K.clenshaw(cdf_c[rows], x), K.clenshaw(pdf_c[rows], x)
    u_nodes = (mid[:, None] + half[:, None] * K.chebyshev(t_nodes)[0])
    cum = np.cumsum(post.weight, axis=1)
    start = np.array([[np.interp(p, c, u) for c, u in zip(cum, u_nodes, strict=True)]
                      for p in probs])
    u = _quantiles(fun, probs, post.u_lo, post.u_hi, start)
    return K.tau_of_u(post.tau_kind, post.tau_scale, u)


def tau_density(post: Posterior, tau: np.ndarray) -> np.ndarray:
    """Marginal posterior density of tau at the given points (replicate 0)."""
    tau = np.asarray(tau, dtype=float)
    if post.tau_kind == "half-cauchy":
        u = 2.0 / np.pi * np.arctan(tau / post.tau_scale)
        du = 2.0 / np.pi * post.tau_scale / (post.tau_scale**2 + tau**2)
    else:
        u, du = tau, np.ones_like(tau)
    _, _, v2c, _ = K.chebyshev(post.tau.shape[1])
    lo, hi = post.u_lo[0], post.u_hi[0]
    x = (2.0 * u - lo - hi) / (hi - lo)
    inside = (np.abs(x) <= 1.0) & (tau >= 0)
    val = K.clenshaw(post.dens_u[0] @ v2c.T, np.clip(x, -1.0, 1.0))
    return np.where(inside, np.maximum(val, 0.0), 0.0) * du


def _mu_moments(post: Posterior):
    w = post.weight
    if post.likelihood == "normal":
        mean = (w * post.m).sum(1)
        second = (w * (post.s**2 + post.m**2)).sum(1)
    else:
        g = post.grid
        cx, cw, _, _ = K.chebyshev(K.N_MU)
        half = 0.5 * (g.hi - g.lo)
        mu = (0.5 * (g.hi + g.lo))[..., None] + half[..., None] * cx
        wq = half[..., None] * cw * g.dens
        mean = (w * (wq * mu).sum(-1)).sum(1)
        second = (w * (wq * mu * mu).sum(-1)).sum(1)
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))
