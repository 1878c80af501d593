"""Simulation-based calibration: exact known answer, reproducibility, batch == one-at-a-time."""

import importlib.util
import json

import numpy as np
import pytest
from conftest import ROOT, assert_close
from scipy import special, stats

from analysis import pool_proportions
from analysis.cli import main
from analysis.stats.calibration import (
    _SPECS,
    CALIBRATION_METHODS,
    clopper_pearson_coverage,
    default_grid,
    describe_selection,
    fit_glmm_batch,
    fit_iv_batch,
    recommend,
    run_calibration,
    select_primary,
    simulate_counts,
)
from analysis.stats.glmm import fit_glmm
from analysis.stats.simulate import simulate

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


# ------------------------------------------------------------------ the redesign (#11)
def test_failed_fits_count_as_misses():
    # two studies of 1 and 2 patients at p = 0.95: most replicates are all at 100%, where
    # the GLMM has no finite estimate and gives no interval
    n, mu = [1, 2], float(special.logit(0.95))
    frame = run_calibration({"tiny": n}, mu_grid=[mu], tau2_grid=[0.0], replicates=400,
                            methods=["glmm", "random-logit-dl"], seed=3)
    ci = frame[(frame.method == "glmm") & (frame.interval == "ci")].iloc[0]
    assert ci.failure_rate > 0.5
    assert ci.replicates == 400
    assert ci.coverage <= 1.0 - ci.failure_rate + 1e-12  # a failure is never a hit
    # the same number from the replicates themselves, failures in the denominator
    events = simulate(n, {"model": "binomial-normal", "mu": mu, "tau2": 0.0}, 400,
                      np.random.SeedSequence([3, 0]))[0]
    fit = fit_glmm_batch(events, n)
    crit = stats.norm.ppf(0.975)
    with np.errstate(invalid="ignore"):
        hit = (fit["converged"] & (special.expit(fit["mu"] - crit * fit["se"]) <= 0.95)
               & (special.expit(fit["mu"] + crit * fit["se"]) >= 0.95))
    assert ci.coverage == hit.sum() / 400
    # dropping the failures instead would report a far higher coverage
    assert hit.sum() / fit["converged"].sum() > ci.coverage + 0.3


def test_coverage_given_tau2_hat_zero_is_over_the_glmm_boundary_fits():
    n, mu = [43, 1, 4, 1, 5, 22], float(special.logit(0.7))
    frame = run_calibration({"observed": n}, mu_grid=[mu], tau2_grid=[0.5], replicates=300,
                            methods=["glmm-t", "random-logit-reml"], seed=8)
    events, _, p_new, target = simulate(n, {"model": "binomial-normal", "mu": mu, "tau2": 0.5},
                                        300, np.random.SeedSequence([8, 0]))
    fit = fit_glmm_batch(events, n)
    zero = fit["converged"] & fit["at_boundary"]
    assert 30 < zero.sum() < 270
    iv = fit_iv_batch(events, n, tau2_method="reml")
    hit = (iv["proportion_ci_low"] <= target) & (target <= iv["proportion_ci_high"])
    row = frame[(frame.method == "random-logit-reml") & (frame.interval == "ci")].iloc[0]
    assert row.replicates_tau0 == zero.sum()
    assert row.coverage_tau0 == hit[zero].mean()
    assert row.coverage == hit.mean()
    pi_hit = (iv["proportion_pi_low"] <= p_new) & (p_new <= iv["proportion_pi_high"])
    pi = frame[(frame.method == "random-logit-reml") & (frame.interval == "pi")].iloc[0]
    assert pi.coverage_tau0 == pi_hit[zero].mean()


def test_misspecified_scenarios_and_their_targets():
    frame = run_calibration({"a": [10, 20, 5]}, mu_grid=[0.0], tau2_grid=[0.0], replicates=50,
                            methods=["random-logit-dl"],
                            misspecified=[{"model": "mixture", "p": [0.4, 0.75], "weight": 0.5,
                                           "tau2": 0.25},
                                          {"model": "size-dependent", "p": 0.3, "slope": -0.5,
                                           "tau2": 0.5}])
    ci = frame[frame.interval == "ci"].set_index("model")
    assert ci.loc["mixture", "true_p"] == pytest.approx(
        special.expit(0.5 * special.logit(0.4) + 0.5 * special.logit(0.75)), abs=1e-12)
    assert ci.loc["size-dependent", "true_p"] == pytest.approx(0.3, abs=1e-12)
    # the mixture's study proportions come from the two populations
    _, p_study, _, _ = simulate([10, 20, 5], {"model": "mixture", "mus": (special.logit(0.4),
                                special.logit(0.75)), "weight": 0.5, "tau2": 0.0}, 400, 1)
    assert set(np.round(np.unique(p_study), 12)) == {0.4, 0.75}
    # the size-dependent model: smaller studies have higher proportions when slope < 0
    _, p_study, _, _ = simulate([1, 10, 100], {"model": "size-dependent", "mu": 0.0,
                                               "slope": -0.5, "tau2": 0.0}, 5, 1)
    assert (np.diff(p_study, axis=1) < 0).all()


def _rows(spec):
    """A constructed coverage frame: method -> (coverage per scenario, mean width)."""
    import pandas as pd

    return pd.DataFrame([
        {"scenario": s, "sizes": "d", "scenario_label": f"s{s}", "method": m, "interval": "ci",
         "coverage": c, "mean_width": w, "failure_rate": 0.0, "replicates": 2000,
         "replicates_tau0": 100, "coverage_tau0": c}
        for m, (covs, w) in spec.items() for s, c in enumerate(covs)])


def test_selection_rule_picks_the_narrowest_method_whose_minimum_coverage_qualifies():
    frame = _rows({"narrow-undercovers": ([0.95, 0.92], 0.10),   # min 92.0% < 92.5%
                   "wide": ([0.99, 0.98], 0.40),
                   "at-threshold": ([0.925, 0.96], 0.30),           # min exactly 92.5%
                   "study-clopper-pearson": ([0.99, 0.99], 0.01)})  # a reference, never picked
    sel = select_primary(frame)
    assert sel["qualified"] == ["wide", "at-threshold"]
    assert sel["chosen"] == "at-threshold"
    assert not sel["fallback_used"]
    assert sel["replicates_sufficient"]
    assert "92.5%" in sel["rule"]
    assert "2,000" in sel["rule"]
    assert "after the results" in sel["post_hoc"]
    text = describe_selection(sel)
    assert text.startswith("By the rule, the primary method is at-threshold")
    assert "narrow-undercovers (minimum 92.0% at d, s1)" in text


def test_selection_rule_falls_back_to_the_narrowest_of_the_safest():
    # 2,000 replicates: the band is 2 sqrt(0.85 * 0.15 / 2000) = 1.6 points below b's 85%
    frame = _rows({"a": ([0.90, 0.80], 0.10), "b": ([0.91, 0.85], 0.30),
                   "c": ([0.84, 0.95], 0.20)})
    sel = select_primary(frame)
    assert sel["qualified"] == []
    assert sel["fallback_used"]
    assert sel["fallback_band"] == pytest.approx(2 * (0.85 * 0.15 / 2000) ** 0.5, rel=1e-12)
    assert sel["fallback_tied"] == ["b", "c"]  # c's 84% is within 1.6 points of 85%
    assert sel["chosen"] == "c"                 # and narrower than b
    text = describe_selection(sel)
    assert text.startswith("No method keeps its coverage within 2.5 points")
    assert "Equally safe but wider: b, minimum 85.0%" in text
    # outside the band the highest minimum wins, however wide
    sel = select_primary(_rows({"a": ([0.90, 0.80], 0.10), "b": ([0.91, 0.85], 0.30)}))
    assert sel["chosen"] == "b" and sel["fallback_tied"] == ["b"]
    # equal minima: the narrower
    sel = select_primary(_rows({"wide": ([0.85, 0.9], 0.5), "narrow": ([0.9, 0.85], 0.2)}))
    assert sel["chosen"] == "narrow"


def test_selection_says_when_fewer_replicates_than_the_rule_asks_for():
    frame = _rows({"a": ([0.96, 0.97], 0.1)}).assign(replicates=500)
    sel = select_primary(frame)
    assert sel["replicates_used"] == 500
    assert not sel["replicates_sufficient"]
    assert "fewer than the 2,000 the rule asks for" in describe_selection(sel)


def _small_design(path, methods=("glmm-t", "glmm-profile", "bayes-binomial", "random-logit-reml")):
    design = {"designs": [{"name": "observed", "n": [43, 1, 4, 1, 5, 22], "source": "x"},
                          {"name": "k = 2", "n": [1, 22], "source": "y"}],
              "mu_grid": [1.0], "tau2_grid": [0.5],
              "misspecified": [{"model": "mixture", "p": [0.4, 0.75], "weight": 0.5, "tau2": 0.25}],
              "methods": list(methods), "confidence_level": 0.95, "n_agq": 7,
              "replicates": 2000, "seed": 5}
    path.write_text(json.dumps(design), encoding="utf-8")
    return path


def test_calibrate_output_is_byte_identical_across_runs_processes_and_dask(tmp_path):
    design = _small_design(tmp_path / "design.json")
    outs = []
    for i, extra in enumerate([[], [], ["--jobs", "2"], ["--executor", "dask"]]):
        if "dask" in extra and importlib.util.find_spec("distributed") is None:
            continue
        out = tmp_path / f"cal{i}.json"
        assert main(["calibrate", "--design", str(design), "--replicates", "40", "--quiet",
                     "--out", str(out), *extra]) == 0
        outs.append(out.read_bytes())
    assert len(set(outs)) == 1
    cal = json.loads(outs[0])
    assert {"design", "observed_n", "recommendation", "rows", "selection", "methods",
            "designs", "design_sha256", "conditional"} <= set(cal)
    assert cal["selection"]["replicates_used"] == 40
    assert {r["model"] for r in cal["rows"]} == {"binomial-normal", "mixture"}


def _package_copy(tmp_path):
    import shutil

    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("derived"))
    return dst


def _edit_outcome(data, row_id, field, value):
    import csv

    path = data / "raw" / "outcomes.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0])
    for r in rows:
        if r["row_id"] == row_id:
            r[field] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    assert main(["update-hashes", "--in", str(data / "datapackage.json")]) == 0


def test_design_file_depends_on_study_sizes_not_counts(tmp_path):
    data = _package_copy(tmp_path)
    pkg = str(data / "datapackage.json")
    design = tmp_path / "calibration_design.json"
    assert main(["design", "--in", pkg, "--out", str(design)]) == 0
    before = design.read_bytes()
    stamp = design.stat().st_mtime_ns
    d = json.loads(before)
    assert d["designs"][0]["name"] == "observed"
    assert [x["name"] for x in d["designs"]] == ["observed", "k = 2", "k = 3", "k = 4"]
    assert [len(x["n"]) for x in d["designs"][1:]] == [2, 3, 4]
    row = "accp2012-ivig-viremia_clearance-end"  # 33 of 43 cleared
    _edit_outcome(data, row, "events", "30")
    assert main(["design", "--in", pkg, "--out", str(design)]) == 0
    assert design.read_bytes() == before
    assert design.stat().st_mtime_ns == stamp  # not rewritten: make sees no change
    _edit_outcome(data, row, "n", "42")
    assert main(["design", "--in", pkg, "--out", str(design)]) == 0
    # a size changed: the design changes (here the plan's selection also moves the row, whose
    # n no longer matches its arm's, out of the pooled sets, so 43 leaves the observed design)
    after = json.loads(design.read_bytes())["designs"][0]["n"]
    assert after != d["designs"][0]["n"] and 43 not in after
