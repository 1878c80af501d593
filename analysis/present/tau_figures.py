"""Figures of the posterior of tau: one per single-arm set (outcome or subgroup) whose
results carry Bayesian rows, under each prior of the report's sensitivity table.

The densities come from the engine (`analysis.stats.bayes.tau_posterior_density`, the
interpolant its quadrature integrates), the models and priors from the review's
`BAYES_PRIORS` (one list, so the figure shows exactly the table's rows), the drawing from
`analysis.present.plotting.bayes`. Names are stable: ``tau_posterior_<outcome>`` and
``tau_posterior_<outcome>_<set_id>`` for a subgroup set.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..review.single_arm import BAYES_PRIORS, MU_PRIOR
from ..stats.bayes import mu_prior, tau_posterior_density, tau_prior

TAU_AXIS_MAX = 3.0   # the axis ends here at most: a half-Cauchy posterior's tail runs far
N_POINTS = 301       # evaluation points on the axis (smooth at the report's width)


def axis_end(rows: list[dict]) -> float:
    """Right end of the tau axis: the largest 97.5% posterior quantile of the rows,
    rounded up to a multiple of 0.5, between 1 and `TAU_AXIS_MAX`.

    >>> axis_end([{"tau_ci_high": 1.12}, {"tau_ci_high": 2.2}]), axis_end([{"tau_ci_high": 6.9}])
    (2.5, 3.0)
    """
    highs = [r["tau_ci_high"] for r in rows if r.get("tau_ci_high") is not None]
    top = max(highs, default=TAU_AXIS_MAX)
    return float(min(max(math.ceil(2.0 * top) / 2.0, 1.0), TAU_AXIS_MAX))


def tau_posterior_curves(dataset: list[dict], rows: list[dict]) -> pd.DataFrame:
    """Posterior and prior densities of tau for every Bayesian row, on one tau grid
    (columns as `tau_posterior_plot` takes them)."""
    models = {key: (likelihood, prior) for key, likelihood, prior in BAYES_PRIORS}
    events = [d["events"] for d in dataset]
    n = [d["n"] for d in dataset]
    grid = np.linspace(0.0, axis_end(rows), N_POINTS)
    frames = []
    for row in rows:
        if row["studies"] != [d["study_id"] for d in dataset]:
            raise ValueError(f"Bayesian row {row['id']}: its studies are not the set's dataset")
        likelihood, spec = models[row["id"]]
        prior = tau_prior(spec)
        post = tau_posterior_density(events, n, grid, likelihood=likelihood, tau_prior=prior,
                                     mu_prior=mu_prior(MU_PRIOR))
        frames.append(pd.DataFrame({"prior": prior.label, "likelihood": likelihood, "tau": grid,
                                    "posterior": post, "prior_density": prior.density(grid)}))
    return pd.concat(frames, ignore_index=True)


def _caption(what: str, k: int, end: float) -> str:
    studies = "the one study says" if k == 1 else f"the {k} studies say"
    cut = (f" The axis ends at \u03c4 = {end:g}; the half-Cauchy prior and posterior continue "
           "beyond it." if end >= TAU_AXIS_MAX else "")
    return (f"Posterior density of \u03c4, the between-study standard deviation of the true log-odds of "
            f"{what}, under each prior of the Bayesian sensitivity table (\u03bc ~ normal(0, 10)): "
            "binomial-normal model thick coloured lines, normal-normal model on logits thin dark dashed; faint lines are the "
            f"prior densities. Where a posterior lies on its prior, {studies} little about "
            "heterogeneity. For scale: at \u03c4 = 0.5 the middle 95% of studies' true odds span a "
            f"7-fold range.{cut}")


def tau_posterior_specs(results: dict, *, style: str = "report") -> list[tuple]:
    """(name, title, caption, draw) per outcome and subgroup set with Bayesian rows."""
    from .figures import in_sentence
    from .plotting.bayes import tau_posterior_plot

    sets = [(o, f"tau_posterior_{o}", results["outcomes"][o], "") for o in results["outcome_order"]]
    sets += [(o, f"tau_posterior_{o}_{s['set_id']}", s, f" ({s['set_label']})")
             for o, subs in (results.get("subgroups") or {}).items() for s in subs]
    specs = []
    for _outcome, name, res, subset in sets:
        rows = res.get("bayes") or []
        if not rows or not res.get("dataset"):
            continue
        title = f"{res['label']}{subset}: posterior of the heterogeneity \u03c4"
        caption = _caption(in_sentence(res["label"]) + subset, len(res["dataset"]), axis_end(rows))
        specs.append((name, title, caption,
                      lambda res=res, rows=rows, title=title: tau_posterior_plot(
                          tau_posterior_curves(res["dataset"], rows), title=title, style=style)))
    return specs
