"""The GLMM's profile-likelihood CI and the shared kernels of the scalar and batched fits.

The profile-likelihood interval is pinned to lme4 (tests/reference/glmm_profile.json,
written by tests/reference/make_profile_reference.R): metafor's rma.glmm has no such
interval, and lme4 is the engine metafor calls for it.
"""

import json

import numpy as np
import pytest
from conftest import REFERENCE, assert_close
from scipy import optimize, special, stats

from analysis.stats._roots import brentq_rows
from analysis.stats.batched import fit_glmm_batch
from analysis.stats.glmm import (
    _conditional_modes,
    _gh_rule,
    _lchoose,
    _loglik,
    _logsumexp,
    fit_glmm,
)
from analysis.stats.glmm_profile import glmm_profile_ci, profile_ci_batch
from analysis.stats.simulate import simulate_counts

# Against limits solved on lme4's own deviance function with optimize()/uniroot() at
# tol = 1e-12: both sides maximise the same AGHQ likelihood; the largest difference
# measured over the AGHQ-7 cases is 3.9e-6 (the k = 2 lower limit, where the profile is
# flat in tau near 0 and R's optimize() stops earlier), so 2e-5.
PL_DEVFUN_ATOL = 2e-5
# The Laplace case: lme4's Laplace ML differs from ours by 6e-5 in mu already (see
# GLMM_LAPLACE_RTOL in test_against_metafor.py), and the limits move with it.
PL_LAPLACE_ATOL = 2e-4
# lme4's confint(profile()) interpolates the profile with splines: its limits move by up to
# 1e-4 when delta.cutoff goes from 1/32 to 1/128 (measured), so 2e-4.
PL_CONFINT_ATOL = 2e-4
# Brute-force profile below: nested scipy optimisers at xtol 1e-10 on the same kernel.
PL_BRUTE_ATOL = 1e-7


def _reference():
    return json.loads((REFERENCE / "glmm_profile.json").read_text(encoding="utf-8"))


@pytest.mark.reference
@pytest.mark.parametrize("case", _reference()["cases"], ids=lambda c: c["name"])
def test_profile_ci_matches_lme4(case):
    low, high = glmm_profile_ci(case["x"], case["n"], n_agq=case["nAGQ"])
    atol = PL_DEVFUN_ATOL if case["nAGQ"] > 1 else PL_LAPLACE_ATOL
    assert_close([low, high], case["devfun"], rtol=0.0, atol=atol, what=f"{case['name']} devfun")
    assert_close([low, high], case["lme4_confint"], rtol=0.0, atol=max(atol, PL_CONFINT_ATOL),
                 what=f"{case['name']} confint")


def _brute_profile_ci(x, n, level=0.95):
    """pl(mu) by a bounded scalar maximisation over tau on a grid-seeded bracket, then brentq."""
    x = np.asarray(x, float)[None]
    n = np.asarray(n, float)[None]
    const, rule = np.sum(_lchoose(x, n), -1), _gh_rule(7)

    def ll(mu, tau):
        return float(_loglik(np.array([mu]), np.array([tau]), x, n, const, rule)[0])

    def pl(mu):
        grid = np.linspace(0.0, 10.0, 101)
        vals = [ll(mu, t) for t in grid]
        i = int(np.argmax(vals))
        res = optimize.minimize_scalar(lambda t: -ll(mu, t), method="bounded",
                                       bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 100)]),
                                       options={"xatol": 1e-10})
        return max(-res.fun, vals[i])

    fit = fit_glmm(x[0], n[0])
    target = fit.loglik - 0.5 * stats.chi2.ppf(level, 1)
    return tuple(optimize.brentq(lambda m: pl(m) - target, *sorted((fit.mu, fit.mu + 10 * s)),
                                 xtol=1e-10) for s in (-1, 1))


def test_profile_ci_matches_a_brute_force_profile():
    x, n = [2, 8, 15, 20, 1], [10, 12, 20, 25, 9]  # tau clearly > 0
    assert_close(glmm_profile_ci(x, n), _brute_profile_ci(x, n), rtol=0.0, atol=PL_BRUTE_ATOL,
                 what="profile CI")


def test_batched_profile_equals_the_scalar_one_and_contains_the_estimate():
    n = [43, 1, 4, 1, 5, 22]
    events = simulate_counts(n, mu=float(special.logit(0.8)), tau2=0.5, replicates=12, seed=4)
    fit = fit_glmm_batch(events, n)
    batch = profile_ci_batch(events, n, fit)
    for i, x in enumerate(events):
        if not fit["converged"][i]:
            assert not batch["ok"][i]
            continue
        low, high = glmm_profile_ci(x, n)
        assert_close([batch["low"][i], batch["high"][i]], [low, high], rtol=0.0,
                     atol=PL_DEVFUN_ATOL, what=f"replicate {i}")
        assert low < fit["mu"][i] < high


def test_profile_limit_is_infinite_when_the_profile_stays_above_the_target():
    low, high = glmm_profile_ci([1, 1, 1, 1], [1, 1, 1, 4])
    assert np.isfinite(low)
    assert high == np.inf  # reported as a proportion of 1


def test_profile_ci_rejects_data_without_a_finite_estimate():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        glmm_profile_ci([3, 4], [3, 4])


# ------------------------------------------------------------------ shared kernels
def test_vectorised_brent_takes_the_same_steps_as_scipy():
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(300, 4))

    def f(x, c0, c1, c2, c3):  # polynomial: the same bits scalar or vectorised
        return c0 + c1 * x + c2 * x * x * x + c3 * x * x * x * x * x

    keep = np.array([f(-5.0, *c) * f(5.0, *c) < 0 for c in coef])
    coef = coef[keep]
    ours = brentq_rows(f, np.full(len(coef), -5.0), np.full(len(coef), 5.0), tuple(coef.T),
                       xtol=1e-15, maxiter=500)
    ref = [optimize.brentq(f, -5.0, 5.0, args=tuple(c), xtol=1e-15, maxiter=500) for c in coef]
    assert len(coef) > 100
    np.testing.assert_array_equal(ours, ref)


def test_logsumexp_has_the_bits_of_scipy():
    a = np.random.default_rng(1).normal(size=(50, 6, 7)) * 30
    a[0, 0, :2] = a[0, 0, 2]  # ties of the maximum
    np.testing.assert_array_equal(_logsumexp(a), special.logsumexp(a, axis=-1))


def test_conditional_modes_converge_where_plain_newton_cycles():
    # plain Newton from u = 0 cycles between 0 and -5 for the 1/4 study at mu 11, tau 6
    x, n = np.array([[43.0, 1, 1, 1, 5, 22]]), np.array([[43.0, 1, 4, 1, 5, 22]])
    mu, tau = np.array([[11.0]]), np.array([[6.0]])
    u, p, _ = _conditional_modes(x, n, mu, tau, np.zeros((1, 6)))
    grad = tau * (x - n * p) - u
    assert np.max(np.abs(grad)) < 1e-9
    assert u[0, 2] == pytest.approx(-1.9504, abs=1e-4)


def test_scalar_fit_is_a_batch_of_one():
    # fit_glmm and fit_glmm_batch share the log-likelihood, boundary rule and SE; only the
    # optimiser differs (BFGS vs Newton), so they meet at the same maximum.
    x, n = [2, 8, 15, 20, 1], [10, 12, 20, 25, 9]
    one, batch = fit_glmm(x, n), fit_glmm_batch([x], n)
    assert_close(batch["mu"][0], one.mu, rtol=0.0, atol=1e-5, what="mu")
    assert_close(batch["loglik"][0], one.loglik, rtol=0.0, atol=1e-9, what="loglik")
