"""`pool_proportions_many`: the same fits as `pool_proportions`, several data sets at once."""

import math

import pytest

from analysis import pool_proportions, pool_proportions_many
from analysis.stats.bayes import posterior_many, posterior_proportions

# The review's Bayesian data sets (k = 1 and k = 2) and a larger one, in mixed order so the
# grouping by k must put each result back in its place.
DATASETS = [([0], [43]), ([18, 16], [19, 22]), ([33], [43]), ([4], [4]), ([2, 2], [4, 5]),
            ([3], [4]), ([17], [22]), ([16, 10, 4, 43, 9], [17, 12, 8, 58, 20])]
PRIORS = [("binomial", ("half-normal", 0.5)), ("binomial", ("half-cauchy", 0.5)),
          ("normal", ("half-normal", 1.0))]
# Batched and one-at-a-time fits run the same quadrature: every data set's node counts
# follow from its own error estimates (analysis.stats._bayes_posterior.posterior), so only
# rounding differs (vectorised sums and BLAS kernels for another batch size group terms
# differently), and through it where the quantile iterations stop. Measured: at most
# 3e-13 (logit scale). 1e-11 allows that; a data set refined differently in a batch (the
# bug this guards against: node counts set by the batch's worst member) moved results by
# up to 2e-5, and a mixed-up data set by far more.
TOL = 1e-11


@pytest.mark.parametrize(("likelihood", "tau_prior"), PRIORS)
def test_batched_posteriors_equal_one_at_a_time(likelihood, tau_prior):
    many = posterior_many(DATASETS, likelihood=likelihood, tau_prior=tau_prior, threshold=0.5)
    assert len(many) == len(DATASETS)
    for (x, n), got in zip(DATASETS, many, strict=True):
        one = posterior_proportions(x, n, likelihood=likelihood, tau_prior=tau_prior, threshold=0.5)
        assert got.keys() == one.keys()
        for key in one:
            assert math.isclose(got[key], one[key], rel_tol=0, abs_tol=TOL), (x, n, key)


def test_pool_many_returns_the_same_results_in_order():
    fits = pool_proportions_many(DATASETS, model="bayes", tau_prior=("half-normal", 0.5))
    for (x, n), fit in zip(DATASETS, fits, strict=True):
        one = pool_proportions(x, n, model="bayes", tau_prior=("half-normal", 0.5))
        assert fit.k == len(x)
        assert fit.table.events.tolist() == x
        assert fit.prior == one.prior
        assert fit.warnings == one.warnings
        for a, b in [(fit.proportion, one.proportion), (fit.proportion_ci.low, one.proportion_ci.low),
                     (fit.proportion_ci.high, one.proportion_ci.high), (fit.tau_median, one.tau_median)]:
            assert math.isclose(a, b, rel_tol=0, abs_tol=TOL)


def test_pool_many_takes_study_ids_and_fits_other_models_one_by_one():
    data = [([3, 4, 9], [5, 6, 10], ["a", "b", "c"]), ([1, 2], [4, 4])]
    fits = pool_proportions_many(data, model="random", tau2_method="DL")
    assert fits[0].table.study_id.tolist() == ["a", "b", "c"]
    assert fits[1].table.study_id.tolist() == ["1", "2"]
    one = pool_proportions([3, 4, 9], [5, 6, 10], model="random", tau2_method="DL")
    assert fits[0].proportion == one.proportion  # the same code path: identical
    assert fits[0].tau2_method == "dersimonian-laird"


def test_pool_many_checks_every_data_set_and_option():
    with pytest.raises(ValueError, match="events"):
        pool_proportions_many([([3], [5]), ([7], [5])], model="bayes")
    with pytest.raises(ValueError, match="only appl"):
        pool_proportions_many([([3], [5])], model="random", tau_prior=("half-normal", 0.5))
    with pytest.raises(ValueError, match="no proper posterior"):
        pool_proportions_many([([3], [5]), ([0, 0], [4, 5])], model="bayes", mu_prior="flat")


def test_studies_frame_is_made_on_first_read_only():
    fit = pool_proportions([3, 4], [5, 6], model="random")
    assert fit._frame is None  # a fit that is only summarised never builds a DataFrame
    frame = fit.studies
    assert fit.studies is frame
    assert frame.columns.tolist() == fit.table.columns
    assert frame.events.tolist() == [3, 4]
