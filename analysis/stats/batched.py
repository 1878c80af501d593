"""Pooling fits of many replicate evidence bases at once, for simulation studies.

Each function fits R evidence bases of k studies (arrays of shape (R, k)) with the
kernels of the scalar engine, so a replicate gets what `pool_proportions` would give:

* `fit_glmm_batch`: the binomial-normal GLMM of `analysis.stats.glmm` (same AGHQ
  log-likelihood, start, boundary rule and standard error), maximised for all replicates
  together by the damped Newton ascent `ascend` (the scalar fit uses BFGS on the same
  log-likelihood; both reach its maximum).
* `fit_iv_batch`: the inverse-variance models of `analysis.stats.pooling` (effects by
  `analysis.stats.effects.corrected_effects`, tau^2 by
  `analysis.stats.heterogeneity.tau2_rows`, intervals by
  `analysis.stats.intervals.iv_pool`).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_choice, check_confidence_level
from .effects import corrected_effects, default_correction
from .glmm import _finish, _gh_rule, _lchoose, _loglik, _pooled_logit, _start_tau
from .heterogeneity import tau2_rows
from .intervals import iv_pool
from .proportions import back_transform, ft_harmonic_mean_n

__all__ = ["ascend", "fit_glmm_batch", "fit_iv_batch"]

# Newton on (mu, tau): stop when every coordinate of the step is below this (logit
# units); the gradient is analytic, so the optimum is located to ~1e-12.
_NEWTON_XTOL = 1e-10
_NEWTON_MAXITER = 200
_TAU_NEAR_ZERO = 1e-4
# A replicate whose |tau| exceeds this is diverging (ML tau -> infinity, e.g. every
# study at 0% or 100% but not all on the same side): not converged.
TAU_MAX = 30.0


def _hessian(th, xi, ni, ci, rule, ui, gi, cols):
    """Hessian (m, 2, 2) by forward differences of the analytic gradient in `cols`."""
    hstep = 1e-5 * np.maximum(1.0, np.abs(th))
    hess = np.zeros((th.shape[0], 2, 2))
    hess[:, 0, 0] = -1.0  # a placeholder when mu is held fixed (its step is then 0)
    for j in cols:
        tj = th.copy()
        tj[:, j] += hstep[:, j]
        gj = _loglik(tj[:, 0], tj[:, 1], xi, ni, ci, rule, ui, gradient=True)[2]
        hess[:, :, j] = (gj - gi) / hstep[:, j : j + 1]
    if len(cols) == 1:
        hess[:, 0, 1] = hess[:, 1, 0] = 0.0
    return hess


def _newton_step(hess, gs, limit):
    """Newton step on a Hessian shifted to be negative definite, at most `limit` (R, 2)."""
    a, b, c = hess[:, 0, 0], 0.5 * (hess[:, 0, 1] + hess[:, 1, 0]), hess[:, 1, 1]
    lam = 0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b * b)
    shift = np.where(lam > -1e-8, lam + np.maximum(1e-2, 1e-3 * (np.abs(a) + np.abs(c))), 0.0)
    a, c = a - shift, c - shift
    det = a * c - b * b
    step = -np.stack([c * gs[:, 0] - b * gs[:, 1], a * gs[:, 1] - b * gs[:, 0]], -1) / det[:, None]
    step /= np.maximum(1.0, np.max(np.abs(step) / limit, axis=-1))[:, None]
    return step, shift


def ascend(x, n, const, rule, mu0, tau0, *, free_mu: bool = True):
    """Damped Newton ascent of the GLMM's AGHQ log-likelihood, every row at once.

    Over (mu, tau), or over tau alone with mu held at `mu0` (``free_mu=False``: the
    profile likelihood). Analytic gradient, Hessian by forward differences of it, shifted
    to be negative definite, and a backtracking (Armijo) line search. The likelihood is
    even in tau, so tau runs over R and may come back negative (use |tau|).

    Returns ``theta`` (R, 2), ``loglik`` (R,), the full gradient (R, 2) and ``ok`` (R,):
    converged (step and gradient vanish; |tau| below `TAU_MAX`).
    """
    theta = np.stack([np.asarray(mu0, float), np.asarray(tau0, float)], axis=-1)
    ll, u, g = _loglik(theta[:, 0], theta[:, 1], x, n, const, rule, gradient=True)
    free = np.array([1.0 if free_mu else 0.0, 1.0])
    cols = (0, 1) if free_mu else (1,)
    done = np.zeros(len(theta), dtype=bool)
    ok = np.zeros(len(theta), dtype=bool)
    for _ in range(_NEWTON_MAXITER):
        idx = np.flatnonzero(~done)
        if idx.size == 0:
            break
        th, xi, ni, ci, ui, gi, lli = theta[idx], x[idx], n[idx], const[idx], u[idx], g[idx], ll[idx]
        gs = gi * free
        # steps of at most 1 logit in mu, and 1 or half of |tau| in tau
        limit = np.stack([np.ones(len(th)), np.maximum(1.0, 0.5 * np.abs(th[:, 1]))], axis=-1)
        step, shift = _newton_step(_hessian(th, xi, ni, ci, rule, ui, gi, cols), gs, limit)
        slope = np.sum(step * gs, axis=-1)
        alpha = np.ones(idx.size)
        accepted = np.zeros(idx.size, dtype=bool)
        new_th, new_ll, new_u, new_g = th.copy(), lli.copy(), ui.copy(), gi.copy()
        for _ls in range(40):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            trial = th[todo] + alpha[todo, None] * step[todo]
            lt, ut, gt = _loglik(trial[:, 0], trial[:, 1], xi[todo], ni[todo], ci[todo], rule,
                                 ui[todo], gradient=True)
            good = np.isfinite(lt) & (lt >= lli[todo] + 1e-4 * alpha[todo] * slope[todo])
            sel = todo[good]
            new_th[sel], new_ll[sel], new_u[sel], new_g[sel] = trial[good], lt[good], ut[good], gt[good]
            accepted[sel] = True
            alpha[todo[~good]] *= 0.5
        moved = np.max(np.abs(alpha[:, None] * step), axis=-1)
        stalled = ~accepted  # no ascent possible at this precision: at the optimum
        # tau -> 0 where the curvature in tau vanishes converges only linearly; there the
        # likelihood differs from the boundary's by ~tau^4 < 1e-16, so glmm._finish's
        # boundary rule decides: stop once mu has settled
        at_zero = (accepted & (np.abs(new_th[:, 1]) < _TAU_NEAR_ZERO)
                   & (np.abs(alpha * step[:, 0]) < _NEWTON_XTOL))
        finished = (accepted & (moved < _NEWTON_XTOL) & (shift == 0.0)) | stalled | at_zero
        theta[idx], ll[idx], u[idx], g[idx] = new_th, new_ll, new_u, new_g
        scale = np.maximum(1.0, np.abs(lli))
        ok[idx] = finished & (np.max(np.abs(new_g * free), axis=-1) < 1e-6 * scale)
        diverged = np.abs(new_th[:, 1]) > TAU_MAX
        done[idx] = finished | diverged
        ok[idx[diverged]] = False
    return theta, ll, g, ok


def _as_batch(events, n):
    x = np.atleast_2d(np.asarray(events, dtype=float))
    m = np.broadcast_to(np.asarray(n, dtype=float), x.shape)
    return x, m


def fit_glmm_batch(events, n, *, n_agq: int = 7) -> dict[str, np.ndarray]:
    """Fit the binomial-normal GLMM to many replicate evidence bases at once.

    The model and approximation of `analysis.stats.glmm.fit_glmm` (Stijnen, Hamza &
    Ozdemir 2010): maximum likelihood over ``(mu, tau >= 0)`` with each study's
    likelihood integrated by adaptive Gauss-Hermite quadrature centred at the
    conditional mode and scaled by the conditional SD (Pinheiro & Bates 1995), from
    fit_glmm's start, then fit_glmm's check against the ``tau = 0`` boundary and its
    standard error (the same functions, on all rows). The optimiser is `ascend`.

    Parameters
    ----------
    events : array_like of int, shape (R, k)
        Events per replicate and study (``k >= 2``).
    n : array_like of int, shape (k,) or (R, k)
        Study sizes.
    n_agq : int
        Quadrature nodes (7 as metafor/lme4; 1 = Laplace).

    Returns
    -------
    dict of numpy.ndarray, each of shape (R,)
        ``mu`` (logit scale), ``se``, ``tau2``, ``loglik``, ``converged`` and
        ``at_boundary``. Failed replicates have ``converged = False`` and NaN estimates.

    Notes
    -----
    A replicate with every study at 0% (or every study at 100%) has no finite ML
    estimate and is marked not converged without being fitted; so is one whose tau
    diverges (``|tau| > 30``) or whose gradient does not vanish.

    Examples
    --------
    >>> fit = fit_glmm_batch([[3, 5, 9], [0, 0, 0]], [4, 8, 12])
    >>> fit["converged"].tolist()
    [True, False]
    """
    x, m = _as_batch(events, n)
    if x.shape[1] < 2:
        raise ValueError("fit_glmm_batch needs at least two studies per replicate")
    if not isinstance(n_agq, int | np.integer) or not 1 <= int(n_agq) <= 50:
        raise ValueError(f"n_agq must be an integer between 1 and 50; got {n_agq!r}")
    nrep = x.shape[0]
    out = {key: np.full(nrep, np.nan) for key in ("mu", "se", "tau2", "loglik")}
    out["converged"] = np.zeros(nrep, dtype=bool)
    out["at_boundary"] = np.zeros(nrep, dtype=bool)
    tot_x, tot_n = x.sum(1), m.sum(1)
    fit = np.flatnonzero((tot_x > 0) & (tot_x < tot_n))
    if fit.size == 0:
        return out
    xf, mf = x[fit], np.ascontiguousarray(m[fit])
    rule = _gh_rule(int(n_agq))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        const = np.sum(_lchoose(xf, mf), axis=1)
        mu0 = _pooled_logit(xf, mf)
        theta, ll, _, ok = ascend(xf, mf, const, rule, mu0, _start_tau(xf, mf))
        mu, tau, ll, se, bound = _finish(xf, mf, const, rule, mu0, theta[:, 0],
                                         np.abs(theta[:, 1]), ll)
    ok = (ok | bound) & np.isfinite(mu) & np.isfinite(se) & (tau <= TAU_MAX)
    for key, val in (("mu", mu), ("se", se), ("tau2", tau * tau), ("loglik", ll)):
        out[key][fit] = np.where(ok, val, np.nan)
    out["converged"][fit] = ok
    out["at_boundary"][fit] = bound & ok
    return out


def fit_iv_batch(events, n, *, measure="logit", model="random", tau2_method="reml",
                 ci_method="wald", confidence_level=0.95) -> dict[str, np.ndarray]:
    """Inverse-variance pooling of many replicate evidence bases at once.

    What `analysis.stats.pooling.pool_proportions` computes for ``model="random"`` or
    ``"common"`` (metafor ``rma.uni``) with its default continuity correction (1/2 for
    0% and 100% studies on the logit scale, none for Freeman-Tukey and arcsine), by the
    same kernels: tau^2 by DerSimonian & Laird (1986), REML, ML (Viechtbauer 2005) or
    Paule & Mandel (1982); Wald or Knapp & Hartung (2003) intervals; the prediction
    interval ``mu +- crit sqrt(se^2 + tau2)``. Pooled Freeman-Tukey values are
    back-transformed by Miller (1978) with the harmonic-mean n.

    Parameters
    ----------
    events : array_like of int, shape (R, k)
    n : array_like of int, shape (k,) or (R, k)
    measure : {"logit", "freeman-tukey", "arcsine", "raw"}
    model : {"random", "common"}
    tau2_method : {"dersimonian-laird", "reml", "paule-mandel", "ml"}
    ci_method : {"wald", "knapp-hartung"}
    confidence_level : float

    Returns
    -------
    dict of numpy.ndarray, each of shape (R,)
        ``estimate``, ``se``, ``tau2``, ``ci_low``, ``ci_high``, ``pi_low``, ``pi_high``
        on the analysis scale; ``proportion``, ``proportion_ci_low``, ... on the
        proportion scale. The PI is NaN for the common-effect model.

    Examples
    --------
    >>> fit = fit_iv_batch([[3, 5, 9]], [4, 8, 12], tau2_method="dersimonian-laird")
    >>> bool(fit["proportion_ci_low"][0] < fit["proportion"][0] < fit["proportion_ci_high"][0])
    True
    """
    check_choice("measure", measure, ("logit", "freeman-tukey", "arcsine", "raw"))
    check_choice("model", model, ("random", "common"))
    check_choice("tau2_method", tau2_method, ("dersimonian-laird", "reml", "paule-mandel", "ml"))
    check_choice("ci_method", ci_method, ("wald", "knapp-hartung"))
    level = check_confidence_level(confidence_level)
    x, m = _as_batch(events, n)
    k = x.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        y, v, _ = corrected_effects(x, m, measure=measure, add=default_correction(measure))
        t2 = np.zeros(x.shape[0]) if model == "common" else tau2_rows(y, v, method=tau2_method)
        out = iv_pool(y, v, t2, ci_method=ci_method, confidence_level=level)
    del out["weights"]
    out["tau2"] = t2
    if model == "common" or k < 2:
        out["pi_low"] = out["pi_high"] = np.full(x.shape[0], np.nan)
    back_n = ft_harmonic_mean_n(m) if measure == "freeman-tukey" else None
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        bt = back_transform(out[key], measure=measure, n=back_n)
        name = "proportion" if key == "estimate" else f"proportion_{key}"
        out[name] = np.where(np.isnan(out[key]), np.nan, bt)
    return out
