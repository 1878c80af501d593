"""The calibration design of this review: study sizes, grid and methods, never counts.

`calibration_design(pkg)` reads from the data package only what the simulation needs:
the study sizes (n) of each pooled outcome's analysis dataset (after the overlap rule),
never its events. So the calibration target, which depends on this design file alone,
is not rerun when a count is corrected. The designs are:

* ``observed``: the sizes of the primary outcome (BK viremia clearance);
* ``k = 2``, ``k = 3``, ``k = 4``: the designs with few studies that the report pools,
  each the first pooled outcome (in report order) with that many studies, or, if none
  has, the k largest observed studies. The source of each is recorded.

The grid (true proportions, tau^2, misspecified models), the candidate methods, the
replicate count the selection rule asks for and the seed come from the engine's
defaults (`analysis.stats.simulate.default_grid`, `analysis.stats.coverage`).
"""

from __future__ import annotations

from typing import Any

from ..stats.coverage import BAYES_PRIOR, DEFAULT_METHODS, RULE_REPLICATES
from ..stats.simulate import default_grid
from .synthesis import (
    OUTCOME_LABELS,
    PRIMARY_OUTCOMES,
    outcome_rows,
    overlap_groups,
    pooled_outcomes,
    resolve_overlaps,
)

SEED = 20261123
FEW_STUDY_DESIGNS = (2, 3, 4)


def _sizes(pkg, outcome: str, groups) -> list[int]:
    base, _ = resolve_overlaps(outcome_rows(pkg, outcome), groups)
    return [] if base.empty else [int(v) for v in base.n]


def calibration_design(pkg, *, seed: int = SEED) -> dict[str, Any]:
    """The design file's content (JSON-safe, deterministic); see the module docstring."""
    groups = overlap_groups(pkg["studies"])
    sizes = {o: _sizes(pkg, o, groups) for o in pooled_outcomes(pkg)}
    primary = PRIMARY_OUTCOMES[0]
    observed = sizes[primary]
    designs: dict[str, list[int]] = {}
    sources = {"observed": (OUTCOME_LABELS.get(primary, primary), primary)}
    for k in FEW_STUDY_DESIGNS:
        name = f"k = {k}"
        src = next((o for o, n in sizes.items() if len(n) == k), None)
        if src is not None:
            designs[name] = sizes[src]
            sources[name] = (OUTCOME_LABELS.get(src, src), src)
        else:
            designs[name] = sorted(observed, reverse=True)[:k]
            sources[name] = (f"the {k} largest observed studies (no outcome has {k})", None)
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
