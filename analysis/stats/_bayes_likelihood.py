"""Each study's likelihood integrated over its random intercept (internal; binomial model).

``p(x_i | mu, tau) = int Binomial(x_i | n_i, expit(theta)) N(theta | mu, tau^2) dtheta`` by
the rule that is accurate for the ratio r = tau / sd of tau to the width (sd) of the
study's likelihood in theta: adaptive Gauss-Hermite quadrature (Pinheiro & Bates 1995;
the rule of `analysis.stats.glmm`) when tau is small, else a Gauss rule built for the
likelihood's own logit-Beta shape, after integrating by parts for studies at 0% or 100%.
Over random (x, n, mu, tau) the largest error in the log-likelihood is about 4e-6
(tests/test_bayes.py checks the parts that matter through the posteriors).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from .glmm import _gh_rule

N_RULE = (24, 12)    # Gauss rules of a study's likelihood shape: tau / sd < 2, >= 2
INNER = 4            # Newton steps for each study's conditional mode
_SQRT2 = float(np.sqrt(2.0))
_LOG_SQRT_2PI = float(0.5 * np.log(2.0 * np.pi))
_gauss_hermite = functools.cache(_gh_rule)  # glmm's rule (nodes, log weights + t^2), cached


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow (faster than numpy's logaddexp)."""
    out = np.abs(x)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, 0.0)
    return out


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


@dataclass
class Plan:
    """Which rule integrates each (replicate, tau node, study), grouped by rule, with each
    group's data gathered once (the same for every mu: see `study_loglik`)."""

    shape: tuple          # (R, T, k)
    groups: list          # (code, r, t, i, data) per rule; data as the rule takes it


def loglik_plan(tau, s: Studies) -> Plan:
    """The rule of every (replicate, tau node, study) by its ratio ``r = tau / sd`` of tau
    to the width of the study's likelihood: adaptive Gauss-Hermite with 9 nodes (r < 0.4)
    or 15 nodes (r < 1), else the likelihood's own Gauss rule (`_likelihood_rule`) with 24
    nodes (r < 2) or 12. tau: (R, T), studies (R, k)."""
    ratio = tau[:, :, None] / s.sd[:, None, :]
    regime = np.where(ratio < 0.4, 0, np.where(ratio < 1.0, 1, 2))
    # 2, 3, 4: the 24-node rule by kind (1 <= r < 2); 5, 6, 7: the 12-node rule (r >= 2)
    regime = np.where(regime == 2, 2 + s.kind[:, None, :] + 3 * (ratio >= 2.0), regime)
    groups = []
    for code in np.unique(regime):
        r, t, i = np.nonzero(regime == code)
        if code < 2:
            data = (tau[r, t][:, None], *(a[r, i][:, None] for a in (s.x, s.n, s.y, s.v)))
        else:
            nodes, weights = s.rules[(code - 2) // 3]
            data = (tau[r, t], s.lognorm[r, i], nodes[r, i], weights[r, i])
        groups.append((int(code), r, t, i, data))
    return Plan(ratio.shape, groups)


def study_loglik(mu, tau, s: Studies, *, derivs: bool = False, active=None, plan=None):
    """Sum over studies of log p(x_i | mu, tau), without the binomial coefficients.

    mu: (R, T, M) (M mu values per tau node), tau: (R, T), studies (R, k). Each
    study's integral over its random intercept uses the rule `loglik_plan` picks for its
    ratio of tau to the width of its likelihood. The choice depends on (replicate, tau
    node, study) only, so data are gathered once per triple (pass the ``plan`` to reuse
    it across calls with the same tau) and broadcast over the mu values. With ``derivs``
    also the first and second derivatives in mu. Returns arrays (R, T, M); where the
    optional mask ``active`` (R, T) is False nothing is computed (zeros).
    """
    plan = loglik_plan(tau, s) if plan is None else plan
    out = np.zeros((3 if derivs else 1, *plan.shape, mu.shape[2]))
    for code, r, t, i, data in plan.groups:
        if active is not None:
            keep = active[r, t]
            if not keep.any():
                continue
            if not keep.all():
                r, t, i = r[keep], t[keep], i[keep]
                data = tuple(a[keep] for a in data)
        if code < 2:
            res = _aghq(mu[r, t], *data, (9, 15)[code], derivs)
        else:
            res = _likelihood_rule(mu[r, t], data[0], (code - 2) % 3, *data[1:], derivs)
        for j, val in enumerate(res):
            out[j, r, t, i] = val
    summed = out.sum(axis=3)
    return summed[0] if not derivs else tuple(summed)
