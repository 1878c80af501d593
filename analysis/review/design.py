"""The calibration design of this review: study sizes, grid and methods, never counts.

`calibration_design(pkg, question)` reads from the data package only what the simulation
needs: the study sizes (n) of each single-arm analysis set of the analysis plan (the
primary population and each subgroup, after the plan's selection and overlap rules),
never their events. So the calibration target, which depends on this design file alone,
is not rerun when a count is corrected. The designs are:

* ``observed``: every treated arm with a count for the question's first primary outcome,
  over all the plan's single-arm sets (what a pool of "all treated patients" would use;
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

from ..stats.coverage import BAYES_PRIOR, DEFAULT_METHODS, RULE_REPLICATES
from ..stats.simulate import default_grid
from .plan import POOLED_KINDS, select
from .selection import dataset_from_rows

SEED = 20261123
FEW_STUDY_DESIGNS = (2, 3, 4)


def _plan_sets(pkg) -> list[tuple[str, str, str, list[int]]]:
    """``(plan_id, outcome, description, sizes)`` of every single-arm set with a study."""
    sets = []
    for p in pkg["analysis_plan"].itertuples(index=False):
        if p.comparison != "single_arm" or p.set_kind not in POOLED_KINDS:
            continue
        df = dataset_from_rows(pkg, select(pkg, p.plan_id).pooled, p.outcome)
        if not df.empty:
            sets.append((p.plan_id, p.outcome, f"plan row {p.plan_id} ({p.outcome}, "
                                                f"{p.set_kind} {p.set_id})", [int(v) for v in df.n]))
    return sets


def calibration_design(pkg, question=None, *, seed: int = SEED) -> dict[str, Any]:
    """The design file's content (JSON-safe, deterministic); see the module docstring."""
    sets = _plan_sets(pkg)
    if not sets:
        raise ValueError("calibration design: the analysis plan has no single-arm set with a study")
    primary = (question.primary_outcomes[0] if question is not None and question.primary_outcomes
               else sets[0][1])
    observed = sorted((n for _, o, _, sizes in sets if o == primary for n in sizes), reverse=True)
    if not observed:
        primary = sets[0][1]
        observed = sorted((n for _, o, _, sizes in sets if o == primary for n in sizes), reverse=True)
    designs: dict[str, list[int]] = {}
    sources = {"observed": (f"every treated arm with a {primary} count in the plan's single-arm "
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
