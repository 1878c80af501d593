"""Per-study intervals: Newcombe (1998) Table I, boundary rules, and invariants."""

import numpy as np
import pytest
from conftest import assert_close, published
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import proportion_ci, study_proportions
from analysis.stats._validation import STUDY_CI_METHODS

# Newcombe (1998) Table I (Stat Med 17:857-872), methods 5 (exact) and 3 (score), as
# reproduced in METHODS.md 3.6, printed to 4 decimals.
NEWCOMBE = [
    (81, 263, (0.2527, 0.3676), (0.2553, 0.3662)),
    (15, 148, (0.0578, 0.1617), (0.0624, 0.1605)),
    (0, 20, (0.0000, 0.1684), (0.0000, 0.1611)),
    (1, 29, (0.0009, 0.1776), (0.0061, 0.1718)),
]


@pytest.mark.parametrize(("x", "n", "exact", "score"), NEWCOMBE)
def test_newcombe_table_1(x, n, exact, score):
    cp = proportion_ci(x, n, method="clopper-pearson")
    wi = proportion_ci(x, n, method="wilson")
    assert_close([cp.ci.low, cp.ci.high, wi.ci.low, wi.ci.high], [*exact, *score],
                 **published(4), what=f"{x}/{n}")


def test_scipy_binomtest_example_in_style_guide():
    # scipy.stats.binomtest(7, 50).proportion_ci(): (0.0582, 0.2674), 4 decimals
    est = proportion_ci(7, 50)
    assert_close([est.ci.low, est.ci.high], [0.0582, 0.2674], **published(4), what="7/50")


@pytest.mark.parametrize("method", STUDY_CI_METHODS)
def test_boundaries_are_exact(method):
    low0 = proportion_ci(0, 12, method=method).ci.low
    high_n = proportion_ci(12, 12, method=method).ci.high
    assert low0 == 0.0
    assert high_n == 1.0


def test_unknown_method_lists_the_choices():
    with pytest.raises(ValueError, match='"clopper-pearson", "wilson"'):
        proportion_ci(1, 2, method="beta")


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, "x"])
def test_confidence_level_outside_unit_interval_is_rejected(level):
    with pytest.raises(ValueError, match="confidence_level"):
        proportion_ci(1, 2, confidence_level=level)


@pytest.mark.parametrize(("x", "n", "field"), [(3, 2, "events"), (-1, 2, "events"),
                                                 (1.5, 2, "events"), (0, 0, "n")])
def test_bad_counts_name_the_field(x, n, field):
    with pytest.raises(ValueError, match=f"field '{field}'"):
        proportion_ci(x, n)


counts = st.integers(min_value=1, max_value=400).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


@settings(max_examples=150, deadline=None)
@given(counts, st.sampled_from(STUDY_CI_METHODS), st.floats(min_value=0.5, max_value=0.995))
def test_interval_contains_estimate_within_unit_interval(xn, method, level):
    x, n = xn
    est = proportion_ci(x, n, method=method, confidence_level=level)
    assert 0.0 <= est.ci.low <= est.ci.high <= 1.0
    if method != "agresti-coull":  # the AC interval is centred on the adjusted p
        assert est.ci.low <= est.proportion + 1e-12
        assert est.proportion - 1e-12 <= est.ci.high


@settings(max_examples=150, deadline=None)
@given(counts, st.sampled_from(STUDY_CI_METHODS))
def test_interval_mirrors_under_relabelling(xn, method):
    x, n = xn
    a = proportion_ci(x, n, method=method).ci
    b = proportion_ci(n - x, n, method=method).ci
    np.testing.assert_allclose([a.low, a.high], [1 - b.high, 1 - b.low], rtol=0, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(counts, st.sampled_from(STUDY_CI_METHODS))
def test_interval_widens_with_confidence_level(xn, method):
    x, n = xn
    narrow = proportion_ci(x, n, method=method, confidence_level=0.8).ci
    wide = proportion_ci(x, n, method=method, confidence_level=0.99).ci
    assert wide.low <= narrow.low + 1e-12
    assert wide.high >= narrow.high - 1e-12


def test_study_proportions_frame_columns():
    df = study_proportions([1, 2], [3, 4], study_ids=["a", "b"])
    assert list(df.columns) == ["study_id", "events", "n", "proportion", "ci_low", "ci_high"]


# statsmodels' proportion_confint as a second, independent implementation of the
# closed-form intervals (beta = Clopper-Pearson; normal = Wald). statsmodels does not clip
# Wald/Agresti-Coull limits to [0, 1] and its Jeffreys limits at x = 0 or n are the
# Beta quantiles, so those are compared after the same clipping/boundary rules.
STATSMODELS = {"clopper-pearson": "beta", "wilson": "wilson", "agresti-coull": "agresti_coull",
               "jeffreys": "jeffreys", "wald": "normal"}


@pytest.mark.parametrize("method", sorted(STATSMODELS))
@pytest.mark.parametrize(("x", "n"), [(81, 263), (15, 148), (0, 20), (1, 29), (7, 50), (27, 30), (3, 3)])
def test_agrees_with_statsmodels_proportion_confint(method, x, n):
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(x, n, alpha=0.05, method=STATSMODELS[method])
    lo, hi = float(np.clip(lo, 0, 1)), float(np.clip(hi, 0, 1))
    if method == "jeffreys":
        lo, hi = (0.0 if x == 0 else lo), (1.0 if x == n else hi)
    est = proportion_ci(x, n, method=method)
    np.testing.assert_allclose([est.ci.low, est.ci.high], [lo, hi], rtol=1e-9, atol=1e-12)


def test_light_distribution_functions_are_scipy_stats_bit_for_bit():
    # analysis.stats._dist replaces scipy.stats (3x the import time) with the scipy.special
    # calls scipy.stats makes itself: equal to the last bit, so no result moves
    from scipy import stats

    from analysis.stats import _dist

    q = np.linspace(0.0005, 0.9995, 401)
    x = np.linspace(0.0, 40.0, 401)
    for df in (1, 2, 3, 5, 12, 100):
        assert np.array_equal(_dist.t_ppf(q, df), stats.t.ppf(q, df))
        assert np.array_equal(_dist.t_isf(q, df), stats.t.isf(q, df))
        assert np.array_equal(_dist.t_sf(x, df), stats.t.sf(x, df))
        assert np.array_equal(_dist.chi2_sf(x, df), stats.chi2.sf(x, df))
        assert np.array_equal(_dist.chi2_ppf(q, df), stats.chi2.ppf(q, df))
        assert np.array_equal(_dist.chi2_isf(q, df), stats.chi2.isf(q, df))
    assert np.array_equal(_dist.norm_ppf(q), stats.norm.ppf(q))
    assert np.array_equal(_dist.norm_isf(q), stats.norm.isf(q))
    assert np.array_equal(_dist.norm_sf(x), stats.norm.sf(x))
