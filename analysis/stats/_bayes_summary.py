"""Summaries of a quadrature posterior (internal; see `bayes`): medians, equal-tailed
credible and predictive intervals, tail probabilities, and the marginal of tau, for a
batch of data sets (first axis = replicate), from `analysis.stats._bayes_posterior`."""

from __future__ import annotations

import numpy as np
from scipy import special

from . import _bayes_kernels as K
from ._bayes_posterior import _NARROW, Posterior


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
        pdf = np.where(np.abs(x) < 1.0, K.clenshaw(pdf_c[rows], xc), 0.0)
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
    cx, cw, _, _ = K.chebyshev(g.dens.shape[-1])
    half = 0.5 * (g.hi - g.lo)
    mu = (0.5 * (g.hi + g.lo))[..., None] + half[..., None] * cx
    wq = half[..., None] * cw * g.dens
    narrow = tau < _NARROW * (2.0 * half) / (2.0 * np.sqrt(2.0 * K.DROP))
    zt, zw = np.polynomial.hermite.hermgauss(K.N_Z)
    zt, zw = np.sqrt(2.0) * zt, zw / np.sqrt(np.pi)

    def fun(q, rows):
        t = q[:, None]
        cdf = np.empty(tau[rows].shape)
        pdf = np.empty(tau[rows].shape)
        r, j = np.nonzero(~narrow[rows])
        if r.size:
            rr = rows[r]
            zz = (t[r] - mu[rr, j]) / tau[rr, j][:, None]
            cdf[r, j] = (wq[rr, j] * special.ndtr(zz)).sum(-1)
            pdf[r, j] = (wq[rr, j] * np.exp(-0.5 * zz * zz)).sum(-1) / (
                np.sqrt(2 * np.pi) * tau[rr, j])
        r, j = np.nonzero(narrow[rows])
        if r.size:
            rr = rows[r]
            pts = t[r] - tau[rr, j][:, None] * zt
            lo, hi = g.lo[rr, j][:, None], g.hi[rr, j][:, None]
            x = (2.0 * pts - lo - hi) / (hi - lo)
            xc = np.clip(x, -1.0, 1.0)
            cdf[r, j] = K.clenshaw(cdf_c[rr, j][:, None, :], xc) @ zw
            inside = np.abs(x) < 1.0
            pdf[r, j] = np.where(inside, K.clenshaw(pdf_c[rr, j][:, None, :], xc), 0.0) @ zw
        return (w[rows] * cdf).sum(1), (w[rows] * pdf).sum(1)
    return fun


def _coefficients(post: Posterior):
    """Chebyshev coefficients of each conditional density of mu and of its CDF."""
    if post.grid is None:
        return None
    g = post.grid
    _, _, v2c, cdfm = K.chebyshev(g.dens.shape[-1])
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
    tau_mean, tau_sq = _tau_moments(post)
    mu_fun = _mu_cdf(post, coefs)
    lo, hi = _bracket(post, predictive=False)
    mu_q = _quantiles(mu_fun, probs, lo, hi, mean + z * sd)
    pred_fun = _pred_cdf(post, coefs)
    lo, hi = _bracket(post, predictive=True)
    pred_sd = np.sqrt(sd**2 + tau_sq)
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
    """Quantiles of the marginal posterior of tau (Chebyshev CDF of the fine density of u,
    then tau(u)); starting values interpolate the cumulative fine weights."""
    n_fine = post.dens_u.shape[1]
    fx, fw, v2c, cdfm = K.chebyshev(n_fine)
    half = 0.5 * (post.u_hi - post.u_lo)
    mid = 0.5 * (post.u_lo + post.u_hi)
    cdf_c = half[:, None] * (post.dens_u @ cdfm.T)
    pdf_c = post.dens_u @ v2c.T

    def fun(u, rows):
        x = np.clip((u - mid[rows]) / half[rows], -1.0, 1.0)
        return K.clenshaw(cdf_c[rows], x), K.clenshaw(pdf_c[rows], x)
    u_fine = mid[:, None] + half[:, None] * fx
    cum = np.cumsum(half[:, None] * fw * post.dens_u, axis=1)
    start = np.array([[np.interp(p, c, u) for c, u in zip(cum, u_fine, strict=True)]
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
    v2c = K.chebyshev(post.dens_u.shape[1])[2]
    lo, hi = post.u_lo[0], post.u_hi[0]
    x = (2.0 * u - lo - hi) / (hi - lo)
    inside = (np.abs(x) <= 1.0) & (tau >= 0)
    val = K.clenshaw(post.dens_u[0] @ v2c.T, np.clip(x, -1.0, 1.0))
    return np.where(inside, np.maximum(val, 0.0), 0.0) * du


def _tau_moments(post: Posterior):
    """E[tau] and E[tau^2] on the fine grid (exact tau(u), not interpolated)."""
    fx, fw, _, _ = K.chebyshev(post.dens_u.shape[1])
    half = 0.5 * (post.u_hi - post.u_lo)
    tau = K.tau_of_u(post.tau_kind, post.tau_scale,
                     (0.5 * (post.u_hi + post.u_lo))[:, None] + half[:, None] * fx)
    w = half[:, None] * fw * post.dens_u
    return (w * tau).sum(1), (w * tau * tau).sum(1)


def _mu_moments(post: Posterior):
    w = post.weight
    if post.likelihood == "normal":
        mean = (w * post.m).sum(1)
        second = (w * (post.s**2 + post.m**2)).sum(1)
    else:
        g = post.grid
        cx, cw, _, _ = K.chebyshev(g.dens.shape[-1])
        half = 0.5 * (g.hi - g.lo)
        mu = (0.5 * (g.hi + g.lo))[..., None] + half[..., None] * cx
        wq = half[..., None] * cw * g.dens
        mean = (w * (wq * mu).sum(-1)).sum(1)
        second = (w * (wq * mu * mu).sum(-1)).sum(1)
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))
