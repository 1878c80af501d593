"""Response with the intervention, without a comparison: one analysis set of the plan.

`analyse_set` executes one single-arm row of ``data/raw/analysis_plan.csv`` (selected by
`analysis.review.plan.select`): the studies, a pooled estimate only when the plan allows it
(k at or above its minimum, not mostly at 0% or 100%), every method side by side, the
sensitivity analyses the data call for, leave-one-out, and the Bayesian few-study model
with its prior sensitivity. Where no pool is allowed the studies are shown alone, with
the Bayesian posterior as the only pooled number, labelled with its prior.
"""

from __future__ import annotations

from typing import Any

from ..stats.pooling import leave_one_out, pool_proportions, pool_proportions_many
from ..stats.proportions import proportion_ci
from .plan import window
from .rows import by_key
from .rows import present as _present
from .selection import Dataset, cited_study_ids, dataset_from_rows, outcome_rows, resolve_overlaps

# Every frequentist method shown side by side: (stable id, label, options). The primary
# method's row is the primary fit itself.
METHODS = [
    ("glmm-t", "GLMM, ML, AGHQ-7, t intervals", {"model": "glmm", "n_agq": 7, "ci_method": "t"}),
    ("glmm-z", "GLMM, ML, AGHQ-7, z intervals", {"model": "glmm", "n_agq": 7, "ci_method": "wald"}),
    ("glmm-laplace-t", "GLMM, ML, Laplace, t intervals", {"model": "glmm", "n_agq": 1, "ci_method": "t"}),
    ("re-logit-reml", "RE logit, REML", {"model": "random", "measure": "logit", "tau2_method": "reml", "ci_method": "wald"}),
    ("re-logit-reml-hk", "RE logit, REML, Knapp-Hartung", {"model": "random", "measure": "logit",
                                                           "tau2_method": "reml", "ci_method": "knapp-hartung"}),
    ("re-logit-dl", "RE logit, DerSimonian-Laird", {"model": "random", "measure": "logit",
                                                    "tau2_method": "dersimonian-laird", "ci_method": "wald"}),
    ("re-logit-pm", "RE logit, Paule-Mandel", {"model": "random", "measure": "logit", "tau2_method": "paule-mandel", "ci_method": "wald"}),
    ("re-logit-ml", "RE logit, ML", {"model": "random", "measure": "logit", "tau2_method": "ml", "ci_method": "wald"}),
    ("re-ft-reml", "RE Freeman-Tukey, REML", {"model": "random", "measure": "freeman-tukey", "tau2_method": "reml", "ci_method": "wald"}),
    ("re-ft-dl", "RE Freeman-Tukey, DL", {"model": "random", "measure": "freeman-tukey",
                                          "tau2_method": "dersimonian-laird", "ci_method": "wald"}),
    ("re-arcsine-reml", "RE arcsine, REML", {"model": "random", "measure": "arcsine", "tau2_method": "reml", "ci_method": "wald"}),
    ("re-raw-reml", "RE raw proportion, REML", {"model": "random", "measure": "raw", "tau2_method": "reml", "ci_method": "wald"}),
    ("ce-logit", "Common effect, logit", {"model": "common", "measure": "logit", "ci_method": "wald"}),
]
# Methods that need a continuity correction or mishandle 0% / 100% studies: shown with a
# note, never as the summary, where studies sit at the boundary.
BOUNDARY_SENSITIVE = {"re-logit-reml", "re-logit-reml-hk", "re-logit-dl", "re-logit-pm", "re-logit-ml",
                      "re-ft-reml", "re-ft-dl", "re-arcsine-reml", "re-raw-reml", "ce-logit"}
# The Bayesian binomial-normal model and its prior sensitivity (Röver et al. 2021; Friede
# et al. 2017): the first row is the one the report shows beside the GLMM, and the only
# pooled number where the plan allows no pool.
BAYES_PRIORS = [
    ("bayes-binomial-hn05", "binomial", ("half-normal", 0.5)),
    ("bayes-binomial-hn10", "binomial", ("half-normal", 1.0)),
    ("bayes-binomial-hc05", "binomial", ("half-cauchy", 0.5)),
    ("bayes-normal-hn05", "normal", ("half-normal", 0.5)),
]
MU_PRIOR = ("normal", 0.0, 10.0)
# The calibration study's candidate ids (analysis.stats.options.METHOD_OPTIONS) -> the id
# of the same method's row here, so the rule's choice marks its row as the primary one.
CALIBRATION_ROWS = {
    "glmm-t": "glmm-t", "glmm": "glmm-z", "random-logit-reml": "re-logit-reml",
    "random-logit-reml-hk": "re-logit-reml-hk", "random-logit-dl": "re-logit-dl",
    "random-logit-pm": "re-logit-pm", "random-ft-reml": "re-ft-reml", "random-ft-dl": "re-ft-dl",
    "common-logit": "ce-logit", "bayes-binomial": "bayes-binomial-hn05",
    "bayes-normal": "bayes-normal-hn05",
}


def _columns(data: Dataset) -> tuple[list, list, list]:
    return [d["events"] for d in data], [d["n"] for d in data], [d["study_id"] for d in data]


def _fit(data: Dataset, **opts):
    events, n, ids = _columns(data)
    return pool_proportions(events, n, study_ids=ids, **opts)


def summary_row(key: str, label: str, res, data: Dataset, *, primary: bool = False, note: str = "",
                d: dict | None = None) -> dict:
    """One row of a methods or scenarios table (JSON-safe); ``d`` is ``res.to_dict()``
    when the caller has it already."""
    d = res.to_dict() if d is None else d
    row = {"id": key, "label": label, "estimate": d["estimate"], "ci_low": d["ci_low"], "ci_high": d["ci_high"],
           "pi_low": d["pi_low"], "pi_high": d["pi_high"], "tau2": d["tau2"], "i2": d["i2"], "k": d["k"],
           "n_patients": sum(r["n"] for r in data), "events": sum(r["events"] for r in data), "primary": primary,
           "studies": [r["study_id"] for r in data], "warnings": d["warnings"], "note": note}
    for extra in ("prior", "tau_median", "tau_ci_low", "tau_ci_high", "prob_above"):
        if extra in d:
            row[extra] = d[extra]
    return row


def bayes_fits(datasets: list[Dataset]) -> list[list]:
    """The Bayesian model under each prior of `BAYES_PRIORS` for every data set, as
    ``fits[data set][prior]``: each prior's posteriors are computed in one batch
    (`pool_proportions_many`; the same numbers as one fit at a time, several times faster)."""
    if not datasets:
        return []
    per_prior = [pool_proportions_many([_columns(d) for d in datasets], model="bayes",
                                       likelihood=likelihood, tau_prior=tau_prior,
                                       mu_prior=MU_PRIOR, threshold=0.5)
                 for _, likelihood, tau_prior in BAYES_PRIORS]
    return [list(fits) for fits in zip(*per_prior, strict=True)]


def bayes_rows(df: Dataset, primary_id: str | None = None, fits: list | None = None) -> list[dict]:
    """The Bayesian model under each prior; the row `primary_id` is marked primary.
    ``fits`` are this data set's fits from `bayes_fits`, when computed in a batch."""
    fits = bayes_fits([df])[0] if fits is None else fits
    rows = []
    for (key, likelihood, tau_prior), res in zip(BAYES_PRIORS, fits, strict=True):
        d = res.to_dict()
        label = f"Bayesian {likelihood}-normal, {d.get('prior', tau_prior[0])}"
        rows.append(summary_row(key, label, res, df, primary=(key == primary_id), d=d))
    return rows


def _extreme(data: Dataset) -> int:
    return sum(1 for d in data if d["events"] == 0 or d["events"] == d["n"])


def methods_table(df: Dataset, primary, primary_id: str) -> list[dict]:
    """Every method on the same data; boundary-sensitive rows carry a note."""
    n_ext = _extreme(df)
    rows = []
    for key, label, opts in METHODS:
        res = primary if key == primary_id else _fit(df, tau2_ci=False, **opts)
        note = ""
        if n_ext and key in BOUNDARY_SENSITIVE:
            note = (f"{n_ext} of {len(df)} studies at 0% or 100%: needs a continuity correction or "
                    "mishandles the boundary; not used as the summary")
        rows.append(summary_row(key, label, res, df, primary=(key == primary_id), note=note))
    return rows


def _note(row) -> str:
    """An outcome row's inference note ('' when it has none)."""
    note = getattr(row, "inference_note", None)
    return str(note) if _present(note) else ""


def scenarios(pkg, outcome: str, df: Dataset, selection, groups, primary, options) -> list[dict]:
    """Sensitivity analyses of the primary dataset, each a labelled re-fit."""
    out_rows = by_key(pkg["outcomes"], "row_id")
    sets: list[tuple[str, str, Dataset, str]] = [("primary", "Primary population (the plan)", df, "")]
    for kind, row_id, alt in selection.sensitivity:
        rest = [d for d in df if d["row_id"] != row_id]
        if kind == "without":
            what = out_rows[row_id]
            sets.append((f"without-{row_id}", f"Without {what.study_id} (its count is inferred)", rest,
                         _note(what)))
        elif kind == "replace":
            swapped = sorted(rest + dataset_from_rows(pkg, [alt], outcome), key=lambda d: d["study_id"])
            sets.append((f"replace-{row_id}", f"{out_rows[row_id].study_id} with its alternative count", swapped,
                         _note(out_rows[alt])))
        elif kind == "no_time":
            sets.append(("no-time", "Only rows with a stated time point",
                         [d for d in df if str(d["timepoint"]) != ""], "drops rows whose time point is not reported"))
    if any(d["design"] == "conference_abstract" for d in df):
        sets.append(("no-abstracts", "Without conference abstracts",
                     [d for d in df if d["design"] != "conference_abstract"], ""))
    cited_ids = cited_study_ids(pkg["studies"], groups)
    refs = _cited_refs(pkg["studies"])
    if refs:  # only a question that appraises an answer citing studies
        sets.append(("cited-only", "Studies the answer cites", [d for d in df if d["study_id"] in cited_ids],
                     f"the answer's references {refs} that were found"))
    everyone, _ = resolve_overlaps(outcome_rows(pkg, outcome), groups)
    if everyone and {d["row_id"] for d in everyone} != {d["row_id"] for d in df}:  # else it repeats the primary
        sets.append(("all-treated", "Every treated patient, any population (not the plan)", everyone,
                     "the earlier pool of all single-arm data, for comparison only"))
    claimed = outcome_rows(pkg, outcome, basis="claimed")
    if claimed:
        sets.append(("claimed", "Cited studies, numbers as the answer claims them", claimed,
                     "claimed counts rebuilt from the answer's percentages; not verified"))
    rows = []
    for key, label, data, note in sets:
        if not data:
            rows.append({"id": key, "label": label, "k": 0, "note": note or "no study left", "estimate": None,
                         "ci_low": None, "ci_high": None, "pi_low": None, "pi_high": None, "tau2": None,
                         "i2": None, "n_patients": 0, "events": 0, "primary": False, "studies": [],
                         "warnings": []})
            continue
        res = primary if key == "primary" else _fit(data, tau2_ci=False, **options)
        rows.append(summary_row(key, label, res, data, primary=(key == "primary"), note=note))
    return rows


def _cited_refs(studies) -> str:
    """The answer's reference numbers of studies (not guidelines): '3-7', or '3, 5' when not
    consecutive; '' when the answer cites none."""
    refs = sorted({int(r.answer_ref) for r in studies if r.role != "guideline" and _present(r.answer_ref)})
    if not refs:
        return ""
    if len(refs) > 1 and refs == list(range(refs[0], refs[-1] + 1)):
        return f"{refs[0]}-{refs[-1]}"
    return ", ".join(map(str, refs))


def crude(data: Dataset) -> dict[str, Any]:
    """Exact interval of the summed counts (ignores heterogeneity)."""
    c = proportion_ci(sum(d["events"] for d in data), sum(d["n"] for d in data))
    return {"events": c.events, "n": c.n, "proportion": c.proportion, "ci_low": c.ci.low,
            "ci_high": c.ci.high, "method": c.method}


def narrative_rows(pkg, selection) -> list[dict]:
    """The rows the plan keeps out of the pool, each with its reason."""
    out = by_key(pkg["outcomes"], "row_id")
    rows = []
    for row_id, reason in selection.narrative:
        r = out[row_id]
        rows.append({"row_id": row_id, "study_id": r.study_id, "outcome": r.outcome,
                     "events": int(r.events) if _present(r.events) else None,
                     "n": int(r.n) if _present(r.n) else None,
                     "percent_reported": float(r.percent_reported) if _present(r.percent_reported) else None,
                     "timepoint": str(r.timepoint) if _present(r.timepoint) else "", "reason": reason,
                     "row_use": r.row_use, "note": str(r.notes) if _present(r.notes) else "",
                     "source_locator": r.source_locator})
    return rows


def analyse_set(pkg, plan_row, selection, groups, *, options: dict, primary_id: str,
                data: Dataset | None = None, bayes: list | None = None) -> dict[str, Any]:
    """Execute one single-arm plan row (see the module docstring). ``data`` (the set's
    analysis dataset) and ``bayes`` (its `bayes_fits`) may be computed beforehand."""
    outcome = plan_row.outcome
    df = dataset_from_rows(pkg, selection.pooled, outcome) if data is None else data
    result: dict[str, Any] = {
        "plan_id": plan_row.plan_id, "outcome": outcome, "set_kind": plan_row.set_kind,
        "set_id": plan_row.set_id, "population_label": plan_row.population_label,
        "window": list(window(plan_row)) if window(plan_row) else None,
        "definition": plan_row.definition, "k": len(df), "pooled": bool(selection.pool),
        "not_pooled_reason": selection.reason, "narrative": narrative_rows(pkg, selection),
        "dataset": df, "primary": None, "primary_summary": "",
        "methods": [], "scenarios": [], "leave_one_out": None, "bayes": [], "crude": None,
    }
    if not df:
        return result
    result["crude"] = crude(df)
    result["bayes"] = bayes_rows(df, primary_id if selection.pool else None, bayes)
    if not selection.pool:
        return result
    primary = _fit(df, **options)
    result["primary"] = primary.to_dict()
    result["primary_summary"] = primary.summary()
    result["methods"] = methods_table(df, primary, primary_id) + result["bayes"]
    result["scenarios"] = scenarios(pkg, outcome, df, selection, groups, primary, options)
    result["leave_one_out"] = leave_one_out(primary).to_dict()["leave_one_out"] if len(df) >= 2 else None
    return result
