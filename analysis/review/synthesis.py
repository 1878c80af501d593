"""From the data package to every analysis of the report: executes the analysis plan.

`build_results(pkg, question=...)` runs each row of ``data/raw/analysis_plan.csv``:
comparative sets (`analysis.review.comparative`) study by study and pooled within a
design; single-arm sets (`analysis.review.single_arm`) for the primary population, each
subgroup apart, and the narrative-only rows listed with their reasons. It adds the
evidence table, percentage checks, PRISMA counts and risk of bias (`analysis.review.tables`)
and returns one JSON-safe dict, written to ``data/derived``. The synthesis takes no
decision of its own: the plan, the question file and the constants named here do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._version import __version__
from ..stats.options import DEFAULTS, METHOD_OPTIONS, PRIMARY_METHOD
from .comparative import analyse_comparative, other_comparisons
from .grade import certainty_summary, grade_outcome, grading_context, rate_comparative_sets
from .grade.context import can_grade
from .plan import select
from .prisma import prisma_checklist
from .rob import rob_tables
from .selection import _present, dataset_from_rows, overlap_groups, study_label
from .single_arm import BAYES_PRIORS, CALIBRATION_ROWS, METHODS, analyse_set, bayes_fits
from .tables import evidence_table, percent_checks, prisma_counts

# The primary single-arm method is the one the calibration's written rule picked
# (analysis.stats.options.PRIMARY_METHOD, recorded in data/decisions/primary_method.json);
# the engine's defaults are the same method. PRIMARY_OPTIONS are the options that select it
# (the others keep their defaults), PRIMARY_ID its row in the methods table.
PRIMARY_OPTIONS = dict(METHOD_OPTIONS[PRIMARY_METHOD])
PRIMARY_ID = CALIBRATION_ROWS[PRIMARY_METHOD]
PRIMARY_LABEL = next(lbl for k, lbl, _ in METHODS if k == PRIMARY_ID) if any(
    k == PRIMARY_ID for k, _, _ in METHODS) else next(
    f"Bayesian {lik}-normal, tau ~ {tp[0]}({tp[1]:g}); mu ~ normal(0, 10)"
    for k, lik, tp in BAYES_PRIORS if k == PRIMARY_ID)
OUTCOME_LABELS: dict[str, str] = {}
# What the comparative section always says; the question file adds what its studies share
# (question.toml [report] comparative_caveat, written before this sentence).
CAVEAT = "Studies are pooled only with studies of the same design, and only when two or more share an outcome."


def hazard_ratios(pkg, labels: dict[str, str]) -> list[dict[str, Any]]:
    """Published hazard ratios, as reported (never recomputed or pooled)."""
    if "hazard_ratios" not in pkg.tables:
        return []
    return [{**{k: (v if _present(v) else None) for k, v in r._asdict().items()},
             "label": labels.get(r.study_id, r.study_id), "outcome_label": _label(r.outcome)}
            for r in pkg["hazard_ratios"]]


def _label(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome)


def _plan_order(plan, question) -> list:
    primary = list(question.primary_outcomes) if question is not None else []
    rank = {o: i for i, o in enumerate(primary)}
    kinds = {"primary_pool": 0, "subgroup": 1, "narrative_only": 2, "out_of_scope": 3}
    return sorted(plan,
                  key=lambda r: (rank.get(r.outcome, len(rank)), r.role != "primary", r.outcome,
                                 kinds.get(r.set_kind, 9), r.plan_id))


def _caveat(question) -> str:
    lead = (question.report.get("comparative_caveat", "") if question is not None else "").strip()
    return f"{lead} {CAVEAT}" if lead else CAVEAT


# the repository this package is installed from (editable): package paths are shown
# relative to it, so the results read the same wherever a build runs
_REPO = Path(__file__).resolve().parents[2]


def package_info(pkg) -> dict[str, str]:
    """The data package's name and descriptor path (relative to the repository when inside
    it: ``data/datapackage.json``), which the outputs name as their source."""
    descriptor = (Path(pkg.root) / "datapackage.json").resolve()
    try:
        shown = descriptor.relative_to(_REPO).as_posix()
    except ValueError:
        shown = str(descriptor)
    return {"name": str(pkg.descriptor.get("name", "")), "descriptor": shown}


def _optional(pkg, name: str) -> list[dict[str, Any]]:
    """The records of an optional table (viral loads, ...), JSON-safe; none when absent."""
    if name not in pkg.tables:
        return []
    return [{k: (None if not _present(v) else v) for k, v in rec.items()} for rec in pkg[name].records()]


def _single_arm_data(pkg, plan) -> tuple[dict, dict]:
    """Each single-arm plan set's analysis dataset, and the Bayesian fits of the non-empty
    ones, computed together (one batch per prior), by plan_id."""
    data = {p.plan_id: dataset_from_rows(pkg, sel.pooled, p.outcome)
            for p, sel in plan if p.comparison != "comparative"}
    ids = [plan_id for plan_id, d in data.items() if d]
    return data, dict(zip(ids, bayes_fits([data[i] for i in ids]), strict=True))


def build_results(pkg, *, package_hashes: dict[str, str], question=None) -> dict[str, Any]:
    """Every analysis of the report as one JSON-safe dict (see the module docstring).

    Tables the package does not have leave their part empty (``None`` or ``[]``): no
    certainty without risk-of-bias and publication-bias judgements, no PRISMA counts
    without a search log, no viral loads, and so on; the report says what is left out."""
    if question is not None:
        OUTCOME_LABELS.update(question.labels())
    groups = overlap_groups(pkg["studies"])
    # what the GRADE rules read (risk of bias, control risks, ...), when the package has it
    ctx = grading_context(pkg) if can_grade(pkg) else None
    outcomes: dict[str, Any] = {}
    subgroups: dict[str, list] = {}
    narrative_sets: list[dict] = []
    comparisons: dict[str, list] = {}
    pairs: set = set()
    plan = [(p, select(pkg, p.plan_id)) for p in _plan_order(pkg["analysis_plan"], question)]
    data, bayes = _single_arm_data(pkg, plan)
    for p, sel in plan:
        if p.comparison == "comparative":
            res = analyse_comparative(pkg, p, sel)
            res["label"] = _label(p.outcome)
            res["set_label"] = question.set_label(p.set_id) if question is not None else p.set_id
            pairs |= set(sel.pooled)
            comparisons.setdefault(p.outcome, []).append(res)
            continue
        res = analyse_set(pkg, p, sel, groups, options=PRIMARY_OPTIONS, primary_id=PRIMARY_ID,
                          data=data[p.plan_id], bayes=bayes.get(p.plan_id))
        res["label"] = _label(p.outcome)
        res["set_label"] = question.set_label(p.set_id) if question is not None else p.set_id
        if p.set_kind == "primary_pool":
            res["grade"] = (grade_outcome(res, res["dataset"], ctx)
                            if res["dataset"] and ctx is not None else None)
            outcomes[p.outcome] = res
        elif p.set_kind == "subgroup":
            subgroups.setdefault(p.outcome, []).append(res)
        else:
            narrative_sets.append(res)
    flat = [{**s, "role": "treatment", "plan_id": c["plan_id"], "set_id": c["set_id"]}
            for sets in comparisons.values() for c in sets for s in c["studies"]]
    labels = {r.study_id: study_label(r) for r in pkg["studies"]}
    ratings = rate_comparative_sets(comparisons, ctx, OUTCOME_LABELS) if ctx is not None else []
    producer = (question.report.get("producer") if question is not None else None) or "evsynth"
    return {
        "generated_by": f"{producer} {__version__} (python -m analysis analyze)",
        "question": question.to_dict() if question is not None else None,
        "package": package_info(pkg),
        "data_hashes": dict(sorted(package_hashes.items())),
        "plan": [{k: (v if _present(v) else None) for k, v in r._asdict().items()} for r in pkg["analysis_plan"]],
        "primary_method": {"id": PRIMARY_ID, "label": PRIMARY_LABEL, **DEFAULTS.as_kwargs(),
                           "calibration_id": PRIMARY_METHOD},
        "outcomes": outcomes,
        "outcome_order": list(outcomes),
        "subgroups": subgroups,
        "narrative_sets": narrative_sets,
        "comparative": {"outcomes": comparisons, "outcome_order": list(comparisons), "studies": flat,
                        "hazard_ratios": hazard_ratios(pkg, labels),
                        "other": other_comparisons(pkg, pairs), "caveat": _caveat(question)},
        "evidence_table": evidence_table(pkg),
        "percent_checks": percent_checks(pkg),
        "certainty": certainty_summary(outcomes, ratings, ctx) if ctx is not None else None,
        "prisma": prisma_counts(pkg),
        "prisma_checklist": prisma_checklist(pkg) if "prisma_checklist" in pkg.tables else None,
        "risk_of_bias": rob_tables(pkg, labels),
        "viral_loads": _optional(pkg, "viral_loads"),
    }
