"""The t(k - 2) prediction interval, the GLMM's Wald-Q degrees of freedom and the
profile-likelihood interval for the GLMM's tau^2."""

import numpy as np
import pytest
from scipy import stats

from analysis import pool_proportions
from analysis.stats.glmm import _gh_rule, _lchoose, _loglik
from analysis.stats.glmm_tau2_profile import tau2_ci_profile

CLEARANCE = ([2, 3, 1, 17, 33, 0], [5, 4, 1, 22, 43, 1])
HETERO = ([2, 17, 5, 9, 30], [5, 22, 9, 30, 33])


def test_hts_prediction_interval_is_t_k_minus_2():
    x, n = HETERO
    # options explicit (the defaults are now t intervals and the hts PI): z vs t(k-2)
    a = pool_proportions(x, n, model="random", tau2_method="reml", ci_method="wald", pi_method="metafor")
    b = pool_proportions(x, n, model="random", tau2_method="reml", ci_method="wald", pi_method="hts")
    k = len(x)
    half = stats.t.ppf(0.975, k - 2) * np.sqrt(a.se**2 + a.heterogeneity.tau2)
    # closed form on the same fit: only rounding separates the two computations
    assert b.pi.low == pytest.approx(a.estimate - half, abs=1e-12)
    assert b.pi.high == pytest.approx(a.estimate + half, abs=1e-12)
    assert b.pi.low < a.pi.low  # t(k-2) is wider than z
    assert (b.estimate, b.ci.low, b.ci.high) == (a.estimate, a.ci.low, a.ci.high)
    assert b.pi_method == "hts"
    assert b.methods()["pi_method"] == "hts"


def test_hts_prediction_interval_absent_for_two_studies():
    res = pool_proportions([2, 17], [5, 22], model="glmm", ci_method="t", pi_method="hts")
    assert res.pi is None
    assert res.proportion_pi is None
    assert any("k <= 2" in w for w in res.warnings)


def test_pi_method_is_checked():
    with pytest.raises(ValueError, match="pi_method"):
        pool_proportions([1, 2], [3, 4], pi_method="wide")


def test_glmm_wald_q_counts_informative_studies_only():
    res = pool_proportions(*CLEARANCE, model="glmm")
    h = res.heterogeneity
    # 2/5, 3/4, 17/22 and 33/43 are informative; 1/1 and 0/1 add nothing to the Wald Q
    assert h.df == 3
    assert h.q_lrt_df == 5
    assert h.q_pvalue == pytest.approx(stats.chi2.sf(h.q, 3), rel=1e-12)
    assert h.q_lrt_pvalue == pytest.approx(stats.chi2.sf(h.q_lrt, 5), rel=1e-12)


def brute_force_profile(x, n, tau, n_agq=7):
    """Profile log-likelihood by a grid over mu (a different path from minimize_scalar)."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    const = float(np.sum(_lchoose(x, n)))
    rule = _gh_rule(n_agq)

    def ll(mus):  # the batched log-likelihood, one row per mu
        r = mus.size
        return _loglik(mus, np.full(r, float(tau)), np.tile(x, (r, 1)), np.tile(n, (r, 1)),
                       np.full(r, const), rule)

    grid = np.linspace(-3, 5, 801)
    i = int(np.argmax(ll(grid)))
    fine = np.linspace(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)], 801)
    return float(np.max(ll(fine)))


@pytest.mark.parametrize("data", [CLEARANCE, HETERO], ids=["clearance", "heterogeneous"])
def test_profile_limits_sit_on_the_chi2_quantile(data):
    x, n = data
    res = pool_proportions(x, n, model="glmm")
    lo, hi = res.heterogeneity.tau2_ci.low, res.heterogeneity.tau2_ci.high
    assert hi is not None
    assert lo <= res.heterogeneity.tau2 <= hi
    tau_hat = np.sqrt(res.heterogeneity.tau2)
    ll_hat = brute_force_profile(x, n, tau_hat)
    crit = stats.chi2.ppf(0.95, 1)
    # at the upper limit the brute-force deviance equals the quantile; the grid step in mu
    # (2.5e-5 after refinement) bounds the error in the log-likelihood far below 1e-4
    dev_hi = 2 * (ll_hat - brute_force_profile(x, n, np.sqrt(hi)))
    assert dev_hi == pytest.approx(crit, abs=1e-4)
    if lo > 0:
        dev_lo = 2 * (ll_hat - brute_force_profile(x, n, np.sqrt(lo)))
        assert dev_lo == pytest.approx(crit, abs=1e-4)
    else:
        assert 2 * (ll_hat - brute_force_profile(x, n, 0.0)) <= crit


def test_profile_interval_zero_estimate_is_not_zero_width():
    res = pool_proportions(*CLEARANCE, model="glmm")
    assert res.heterogeneity.tau2 == 0.0
    assert res.heterogeneity.tau2_ci.low == 0.0
    assert res.heterogeneity.tau2_ci.high > 0.5  # the data allow sizeable heterogeneity


def test_profile_upper_limit_unbounded_when_data_cannot_bound_it():
    _lo, hi = tau2_ci_profile([0, 5, 0, 6], [5, 5, 6, 6], mu_hat=0.0, tau2_hat=20.0)
    assert hi is None
