"""The calibration design of this review: study sizes, grid and methods, never counts.

`calibration_design(pkg, question)` reads from the data package only what the simulation
needs: the study sizes (n) of each single-arm analysis set of the analysis plan (the
primary population and each subgroup, after the plan's selection and overlap rules),
never their events. So the calibration target, which depends on this design file alone,
is not rerun when a count is corrected. The designs are:

* ``observed``: every treated arm with a count for the question's first primary outcome
  that has two studies or more (else the outcome with most), over all the plan's single-arm sets (what a pool of "all treated patients" would use;
  the AI answer's own pool was of this kind);
* ``k = 2``, ``k = 3``, ``k = 4``: the few-study designs, each the first single-arm set
  of the plan (in plan order) with that many studies, or, if none has, the k largest
  observed studies. The source of each is recorded.

The grid (true proportions, tau^2, misspecified models), the candidate methods, the
replicate count the selection rule asks for and the seed come from the engine's
defaults (`analysis.stats.simulate.default_grid`, `analysis.stats.coverage`).
"""

from __future__ import annotations

from typing import Any

from ..stats._validation import InputError
from ..stats.coverage import BAYES_PRIOR, DEFAULT_METHODS, RULE_REPLICATES
from ..stats.simulate import default_grid
from .plan import POOLED_KINDS, select
from .selection import dataset_from_rows

SEED = 20261123
FEW_STUDY_DESIGNS = (2, 3, 4)


def _plan_sets(pkg, question=None) -> list[tuple[str, str, str, list[int]]]:
    """``(plan_id, outcome, description, sizes)`` of every single-arm set with a study."""
    sets = []
    for p in pkg["analysis_plan"]:
        if p.comparison != "single_arm" or p.set_kind not in POOLED_KINDS:
            continue
        df = dataset_from_rows(pkg, select(pkg, p.plan_id).pooled, p.outcome)
        if df:
            label = question.label(p.outcome) if question is not None else p.outcome
            group = question.set_label(p.set_id) if question is not None else p.set_id
            sets.append((p.plan_id, p.outcome, f"plan row {p.plan_id}: {label}, {group}",
                         [int(d["n"]) for d in df]))
    return sets


def calibration_design(pkg, question=None, *, seed: int = SEED) -> dict[str, Any]:
    """The design file's content (JSON-safe, deterministic); see the module docstring."""
    sets = _plan_sets(pkg, question)
    if not sets:
        raise InputError("the analysis plan has no single-arm set with a study: no design to "
                         "simulate", file="analysis_plan.csv")
    def sizes(outcome):
        return sorted((n for _, o, _, ns in sets if o == outcome for n in ns), reverse=True)

    # the question's first primary outcome with two studies or more, else the outcome with most
    primaries = list(question.primary_outcomes) if question is not None else []
    primary = next((o for o in primaries if len(sizes(o)) >= 2),
                   max(dict.fromkeys(o for _, o, _, _ in sets), key=lambda o: len(sizes(o))))
    observed = sizes(primary)
    if len(observed) < 2:
        raise InputError("fewer than two studies report any outcome in the plan's single-arm sets: "
                         "no design to simulate", file="analysis_plan.csv")
    designs: dict[str, list[int]] = {}
    word = question.label(primary) if question is not None else primary
    sources = {"observed": (f"every treated arm with a count of {word} in the plan's single-arm "
                            "sets", primary)}
    for k in FEW_STUDY_DESIGNS:
        name = f"k = {k}"
        src = next((s for s in sets if len(s[3]) == k), None)
        if src is not None:
            designs[name] = src[3]
            sources[name] = (src[2], src[1])
        else:
            designs[name] = observed[:k]
            sources[name] = (f"the {k} largest observed studies (no plan set has {k})", None)
    grid = default_grid(observed, designs=designs)
    grid["replicates"] = RULE_REPLICATES
    # a list, so the designs keep their order in the (key-sorted) JSON file
    grid["designs"] = [{"name": name, "n": n, "source": sources[name][0],
                        "outcome": sources[name][1]} for name, n in grid.pop("n_sizes").items()]
    return {
        "about": "Calibration design written by `python -m analysis design` from the data "
                 "package: study sizes only (no counts), grid, methods and seed.",
        **grid,
        "methods": list(DEFAULT_METHODS),
        "bayes_prior": {k: list(v) for k, v in BAYES_PRIOR.items()},
        "confidence_level": 0.95,
        "n_agq": 7,
        "seed": int(seed),
    }
