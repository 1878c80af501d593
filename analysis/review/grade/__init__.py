"""GRADE certainty ratings with two paths, proposed by named rules for a review team.

* **Comparative effects** (intervention versus comparator) start high for randomised trials
  and for non-randomised studies assessed with ROBINS-I (Schunemann et al. 2019, GRADE 18)
  and are rated down by the five domains; imprecision is judged against the comparator's
  risk in the control arms (GRADE guidance 34 and 35, 2022).
* **Single-arm event rates** are the risk with the intervention (Iorio et al. 2015): very
  low by construction as evidence about its effect (Murad et al. 2018), every domain
  still judged and recorded.

The names in the reasons and the indirectness terms are the question file's
(`context.GradeWords`).

Each rule is a function in `domains` whose docstring cites its paper; each rating
records the judgement, the reason and the rule for every domain. `certainty_phrase`
gives the words a sentence should use for a set of ratings.
"""

from __future__ import annotations

from typing import Any

from .context import ControlRisk, GradeContext, grading_context
from .paths import (
    certainty_phrase,
    certainty_summary,
    rate_comparative,
    rate_comparative_sets,
    rate_single_arm,
)
from .types import LEVELS, CertaintyRating, DomainRating

__all__ = ["LEVELS", "CertaintyRating", "ControlRisk", "DomainRating", "GradeContext", "certainty_phrase",
           "certainty_summary", "grade_outcome", "grading_context", "rate_comparative", "rate_comparative_sets",
           "rate_single_arm"]


def grade_outcome(result: dict[str, Any], data, ctx: GradeContext) -> dict[str, Any]:
    """The single-arm rating of one pooled outcome as a plain dict (for the results file);
    `data` is its analysis dataset (``result["dataset"]``)."""
    return rate_single_arm(result, data, ctx).to_dict()
