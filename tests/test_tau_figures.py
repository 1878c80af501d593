"""The figures of the posterior of tau (analysis/present/tau_figures.py): which sets get
one, under which stable names, and that the curves drawn are the engine's densities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from analysis.present.tau_figures import (
    TAU_AXIS_MAX,
    axis_end,
    tau_posterior_curves,
    tau_posterior_specs,
)
from analysis.review.single_arm import BAYES_PRIORS, bayes_rows
from analysis.stats.bayes import TauPrior, tau_posterior_density

COUNTS = pd.DataFrame({"study_id": ["a", "b"], "events": [18, 16], "n": [19, 22]})


@pytest.fixture(scope="module")
def rows():
    return bayes_rows(COUNTS.to_dict(orient="records"))  # an analysis dataset: one dict per study


@pytest.fixture(scope="module")
def dataset():
    return COUNTS.to_dict(orient="records")


def test_tau_prior_densities_integrate_to_one_on_the_half_line():
    # quad's own error estimate is below 1e-9 here; 1e-7 leaves room and still fails any
    # missing factor (a half-normal without its 2 integrates to 0.5)
    for prior, upper in ((TauPrior("half-normal", 0.5), np.inf), (TauPrior("half-cauchy", 0.5), np.inf),
                         (TauPrior("uniform", 2.0), 3.0)):
        total = integrate.quad(lambda t, p=prior: float(p.density(t)), 0.0, upper, limit=200)[0]
        assert total == pytest.approx(1.0, abs=1e-7), prior
        assert float(prior.density(-0.1)) == 0.0


def test_curves_are_the_engines_densities_for_every_prior_of_the_table(rows, dataset):
    curves = tau_posterior_curves(dataset, rows)
    assert len(rows) == len(BAYES_PRIORS)
    pairs = list(dict.fromkeys(zip(curves.prior, curves.likelihood, strict=True)))
    assert pairs == [("half-normal(0.5)", "binomial"), ("half-normal(1)", "binomial"),
                     ("half-Cauchy(0.5)", "binomial"), ("half-normal(0.5)", "normal")]
    one = curves[(curves.prior == "half-Cauchy(0.5)")]
    direct = tau_posterior_density([18, 16], [19, 22], one.tau.to_numpy(), likelihood="binomial",
                                   tau_prior=("half-cauchy", 0.5))
    np.testing.assert_array_equal(one.posterior.to_numpy(), direct)
    np.testing.assert_array_equal(one.prior_density.to_numpy(),
                                  TauPrior("half-cauchy", 0.5).density(one.tau.to_numpy()))
    assert curves.tau.max() == axis_end(rows)


def test_posterior_mass_on_the_axis_matches_the_reported_tau_quantile(rows, dataset):
    """The curve drawn integrates (trapezoid on the 301 points) to the posterior mass below
    the axis end, which the reported 97.5% quantile bounds: >= 0.975 where that quantile
    lies on the axis. 2e-3 covers the trapezoid error of these smooth curves (spacing 0.01)."""
    curves = tau_posterior_curves(dataset, rows)
    for row, (_, c) in zip(rows, curves.groupby(["prior", "likelihood"], sort=False), strict=True):
        mass = np.trapezoid(c.posterior, c.tau)
        if row["tau_ci_high"] <= c.tau.max():
            assert mass >= 0.975 - 2e-3, row["id"]
        assert mass <= 1.0 + 2e-3, row["id"]


def test_axis_end_rounds_up_and_is_bounded():
    assert axis_end([{"tau_ci_high": 0.3}]) == 1.0
    assert axis_end([{"tau_ci_high": 1.01}, {"tau_ci_high": None}]) == 1.5
    assert axis_end([{"tau_ci_high": 40.0}]) == TAU_AXIS_MAX
    assert axis_end([]) == TAU_AXIS_MAX


def test_one_figure_per_set_with_bayesian_rows_under_stable_names(rows, dataset):
    with_rows = {"label": "Clearance", "dataset": dataset, "bayes": rows}
    results = {
        "outcome_order": ["clearance", "graft"],
        "outcomes": {"clearance": with_rows, "graft": {"label": "Graft", "dataset": [], "bayes": []}},
        "subgroups": {"clearance": [{**with_rows, "set_id": "children", "set_label": "children"},
                                    {"label": "Clearance", "set_id": "none", "set_label": "none",
                                     "dataset": [], "bayes": []}]},
    }
    specs = tau_posterior_specs(results)
    assert [s[0] for s in specs] == ["tau_posterior_clearance", "tau_posterior_clearance_children"]
    assert specs[1][1] == "Clearance (children): posterior of the heterogeneity \u03c4"
    for _, _, caption, _ in specs:
        assert "\u03bc ~ normal(0, 10)" in caption
        assert "the 2 studies say little" in caption
        assert "faint lines are the prior densities" in caption


def test_a_row_fitted_on_other_studies_is_refused(rows, dataset):
    other = [{**r, "studies": ["a"]} for r in rows]
    with pytest.raises(ValueError, match="its studies are not the set's dataset"):
        tau_posterior_curves(dataset, other)
