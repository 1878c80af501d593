"""Simulation-based calibration: exact known answer, reproducibility, batch == one-at-a-time."""

import numpy as np
import pytest
from conftest import assert_close
from scipy import special, stats

from analysis import pool_proportions
from analysis.stats.calibration import (
    _SPECS,
    CALIBRATION_METHODS,
    clopper_pearson_coverage,
    default_grid,
    fit_glmm_batch,
    fit_iv_batch,
    recommend,
    run_calibration,
    simulate_counts,
)
from analysis.stats.glmm import fit_glmm

# A simulated coverage is accepted within this many Monte Carlo SEs of its exact value
# (two-sided normal tail 6e-5: a false failure about once in 16,000 runs; the seed is
# fixed, so in practice the test is deterministic).
MC_Z = 4.0
# Batch GLMM vs fit_glmm where both reach the same maximum: the target (~1e-5).
# Measured on these replicates: |d mu| < 1e-6, |d tau2| < 2e-6.
GLMM_ATOL = 1e-5
# Both SEs come from the same central-difference Hessian (h = 1e-4) of log-likelihoods
# that agree to ~1e-12, so they agree to about 1e-12 / h^2 relative to the curvature.
GLMM_SE_RTOL = 1e-4
# "Same maximum": fit_glmm's log-likelihood within this of the batch's. fit_glmm's
# L-BFGS-B can stop at the tau = 0 bound, where d loglik / d tau = 0 by symmetry even
# when tau = 0 is not the maximum; those replicates are counted, not compared.
SAME_MAX_LL = 1e-9
# Closed forms (DL, common effect, Wald/KH intervals) and tau^2 roots found to adjacent
# floats by bisection versus brentq(xtol=1e-15): both at machine precision; measured
# worst case 5e-15 over every inverse-variance method.
IV_RTOL = 1e-10
IV_ATOL = 1e-12

FIVE = [4, 8, 12, 20, 30]
OBSERVED = [43, 4, 1, 3, 22, 28, 5]


def test_clopper_pearson_coverage_is_the_exact_binomial_sum():
    n, p = 10, 0.3
    exact = sum(
        stats.binom.pmf(x, n, p)
        for x in range(n + 1)
        if (ci := stats.binomtest(x, n).proportion_ci(method="exact")).low <= p <= ci.high
    )
    assert exact >= 0.95
    assert_close(clopper_pearson_coverage(n, p), exact, rtol=1e-12, atol=0.0, what="exact")


def test_simulated_clopper_pearson_coverage_matches_exact_known_answer():
    # tau^2 = 0: every study's true proportion is expit(mu) = 0.3, so the coverage of the
    # per-study exact interval is the binomial sum above, >= 0.95 by construction.
    mu = float(special.logit(0.3))
    frame = run_calibration({"tens": [10] * 5}, mu_grid=[mu], tau2_grid=[0.0],
                            replicates=2000, methods=["study-clopper-pearson"])
    row = frame.iloc[0]
    exact = clopper_pearson_coverage(10, float(special.expit(mu)))
    assert exact >= 0.95
    assert row.replicates_ok == 10_000
    assert abs(row.coverage - exact) <= MC_Z * row.mcse, (row.coverage, exact, row.mcse)


def test_same_seed_gives_byte_identical_frames():
    grid = {"n_sizes": {"a": [3, 9, 20], "b": [1, 5]}, "mu_grid": [0.5, 2.0],
            "tau2_grid": [0.0, 1.0], "replicates": 60}
    one = run_calibration(**grid, seed=11).to_csv(index=False)
    two = run_calibration(**grid, seed=11).to_csv(index=False)
    other = run_calibration(**grid, seed=12).to_csv(index=False)
    assert one == two
    assert one != other
    a = simulate_counts(FIVE, mu=1.0, tau2=0.5, replicates=20, seed=3)
    np.testing.assert_array_equal(a, simulate_counts(FIVE, mu=1.0, tau2=0.5, replicates=20,
                                                     seed=np.random.SeedSequence(3)))


def test_frame_layout_and_sort_order():
    frame = run_calibration({"x": FIVE}, mu_grid=[1.0], tau2_grid=[0.0, 0.5], replicates=40,
                            methods=["common-logit", "glmm", "study-clopper-pearson"])
    assert frame.scenario.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert frame.method.tolist()[:4] == ["common-logit", "glmm", "glmm", "study-clopper-pearson"]
    assert frame.interval.tolist()[:4] == ["ci", "ci", "pi", "ci"]
    assert {"coverage", "mcse", "median_width", "bias", "mean_bias", "failure_rate",
            "degenerate_rate", "replicates", "replicates_ok"} <= set(frame.columns)


def test_batch_glmm_agrees_with_fit_glmm_one_at_a_time():
    events = simulate_counts(FIVE, mu=float(special.logit(0.8)), tau2=0.5, replicates=50,
                             seed=2026)
    batch = fit_glmm_batch(events, FIVE)
    compared = 0
    for i, x in enumerate(events):
        if x.sum() in (0, sum(FIVE)):
            assert not batch["converged"][i]
            continue
        one = fit_glmm(x, FIVE)
        # the batch optimum is never worse than the one-at-a-time fit
        assert batch["loglik"][i] >= one.loglik - SAME_MAX_LL
        if not (one.converged and batch["converged"][i]):
            continue
        if batch["loglik"][i] - one.loglik > SAME_MAX_LL:
            continue  # fit_glmm stopped at the tau = 0 bound (see SAME_MAX_LL)
        compared += 1
        np.testing.assert_allclose(batch["mu"][i], one.mu, rtol=0, atol=GLMM_ATOL)
        np.testing.assert_allclose(batch["tau2"][i], one.tau2, rtol=0, atol=GLMM_ATOL)
        np.testing.assert_allclose(batch["se"][i], one.se, rtol=GLMM_SE_RTOL, atol=0)
        assert bool(batch["at_boundary"][i]) == one.at_boundary
    assert compared >= 45


def test_batch_glmm_accepts_per_replicate_sizes():
    events = np.array([[3, 5, 9], [1, 7, 2]])
    sizes = np.array([[4, 8, 12], [2, 9, 5]])
    batch = fit_glmm_batch(events, sizes)
    for i in range(2):
        one = fit_glmm(events[i], sizes[i])
        np.testing.assert_allclose(batch["mu"][i], one.mu, rtol=0, atol=GLMM_ATOL)


IV_METHODS = [m for m in CALIBRATION_METHODS if _SPECS[m][0] in ("common", "random")]


@pytest.mark.parametrize("method", IV_METHODS)
def test_batch_iv_agrees_with_pool_proportions(method):
    family, measure, tau2_method, rule = _SPECS[method]
    options = {"measure": measure, "model": family, "tau2_method": tau2_method or "reml",
               "ci_method": "knapp-hartung" if rule == "knapp-hartung" else "wald"}
    events = np.vstack([simulate_counts(OBSERVED, mu=mu, tau2=1.5, replicates=4, seed=5)
                        for mu in (0.0, 1.5, 3.0)])
    batch = fit_iv_batch(events, OBSERVED, **options)
    keys = ["estimate", "se", "ci_low", "ci_high", "proportion", "proportion_ci_low",
            "proportion_ci_high"]
    if family == "random":
        keys += ["tau2", "pi_low", "pi_high", "proportion_pi_low", "proportion_pi_high"]
    for i, x in enumerate(events):
        # the batch's PI is metafor's (crit * sqrt(se^2 + tau^2)), not the default t(k - 2)
        res = pool_proportions(x, OBSERVED, **options, pi_method="metafor")
        ref = {"estimate": res.estimate, "se": res.se, "ci_low": res.ci.low,
               "ci_high": res.ci.high, "proportion": res.proportion,
               "proportion_ci_low": res.proportion_ci.low,
               "proportion_ci_high": res.proportion_ci.high}
        if family == "random":
            ref |= {"tau2": res.heterogeneity.tau2, "pi_low": res.pi.low, "pi_high": res.pi.high,
                    "proportion_pi_low": res.proportion_pi.low,
                    "proportion_pi_high": res.proportion_pi.high}
        for key in keys:
            np.testing.assert_allclose(batch[key][i], ref[key], rtol=IV_RTOL, atol=IV_ATOL,
                                       err_msg=f"{method} {key} replicate {i}")


def test_replicates_without_finite_mle_are_failures_not_crashes():
    fit = fit_glmm_batch([[0, 0, 0], [4, 8, 12], [1, 2, 3], [0, 8, 12]], [4, 8, 12])
    assert fit["converged"].tolist() == [False, False, True, False]
    assert np.isnan(fit["mu"][[0, 1, 3]]).all()
    frame = run_calibration({"tiny": [1, 2, 3]}, mu_grid=[-6.0], tau2_grid=[0.0],
                            replicates=200, methods=["glmm"])
    ci = frame[frame.interval == "ci"].iloc[0]
    assert ci.failure_rate > 0.9
    assert ci.replicates_ok == round(200 * (1 - ci.failure_rate))


def test_dask_and_local_give_identical_frames():
    pytest.importorskip("distributed")
    grid = {"n_sizes": {"a": [3, 9, 20]}, "mu_grid": [0.5, 2.0], "tau2_grid": [0.0, 1.0],
            "replicates": 50, "methods": ["glmm", "random-logit-reml"]}
    local = run_calibration(**grid)
    remote = run_calibration(**grid, executor="dask")
    assert local.to_csv(index=False) == remote.to_csv(index=False)


def test_recommend_names_a_method_with_computed_numbers():
    grid = default_grid(OBSERVED)
    grid["replicates"] = 100
    frame = run_calibration(**grid, methods=["glmm-t", "random-logit-dl", "common-logit"])
    text = recommend(frame)
    assert text.startswith("For the observed study sizes (k = 7)")
    obs = frame[(frame.sizes == "observed") & (frame.interval == "ci")]
    mean_cov = obs.groupby("method").coverage.mean()
    assert any(f"mean coverage {c:.3f}" in text for c in mean_cov)


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        run_calibration({"a": FIVE}, mu_grid=[0.0], tau2_grid=[0.0], methods=["glmm-z"])
    with pytest.raises(ValueError, match="executor must be one of"):
        run_calibration({"a": FIVE}, mu_grid=[0.0], tau2_grid=[0.0], executor="spark")
    with pytest.raises(ValueError, match="at least two studies"):
        run_calibration({"a": [5]}, mu_grid=[0.0], tau2_grid=[0.0])
    with pytest.raises(ValueError, match="tau2 must be >= 0"):
        simulate_counts(FIVE, mu=0.0, tau2=-1.0, replicates=2, seed=1)
