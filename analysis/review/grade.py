"""GRADE summary-of-findings row for a pooled single-arm proportion (Guyatt et al. 2011).

The rules below turn the numbers into a proposed rating with a reason for every
downgrade. They pre-fill what a review team would then confirm; each threshold is a
named constant so a reviewer can see and change it.

* Start: uncontrolled case series of an intervention start at LOW (observational
  evidence), as GRADE does for non-randomised studies; the question type is recorded.
* Risk of bias (Murad et al. 2018 items): serious if studies holding at least
  ``ROB_SHARE`` of the patients have a "no" or "unclear" on selection (Q1), outcome
  ascertainment (Q3) or alternative causes (Q4); very serious if all do.
* Inconsistency: serious if metafor's I^2 of the GLMM exceeds ``I2_SERIOUS`` percent or
  the prediction interval spans more than ``PI_WIDTH_SERIOUS`` (proportion scale).
* Indirectness: serious if fewer than ``DIRECT_SHARE`` of the patients come from
  studies of biopsy-proven BKVN; always noted that no study restricted IVIG to BKVN
  refractory to maximal immunosuppression reduction with cidofovir failed or
  contraindicated, and that co-interventions were given.
* Imprecision: serious if the 95% CI spans more than ``CI_WIDTH_SERIOUS`` or fewer than
  ``OIS_PATIENTS`` patients; very serious if both.
* Publication bias: strongly suspected (one level) when at least ``SMALL_SHARE`` of the
  studies are case reports, small case series or conference abstracts, because such
  reports are published selectively when the outcome is good.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

LEVELS = ["very low", "low", "moderate", "high"]
ROB_SHARE = 0.5
I2_SERIOUS = 50.0
PI_WIDTH_SERIOUS = 0.5
DIRECT_SHARE = 0.5
CI_WIDTH_SERIOUS = 0.30
OIS_PATIENTS = 100
SMALL_SHARE = 0.5

__all__ = ["LEVELS", "grade_outcome"]


def _share(df: pd.DataFrame, mask) -> float:
    total = df.n.sum()
    return float(df.n[mask].sum() / total) if total else 0.0


def grade_outcome(result: dict[str, Any], data: pd.DataFrame, appraisal: pd.DataFrame) -> dict[str, Any]:
    """Proposed GRADE row for one outcome (see the module docstring for the rules)."""
    p = result["primary"]
    downgrades = []
    # risk of bias
    key = appraisal[appraisal.item.isin(["q1", "q3", "q4"])]
    bad_ids = set(key[key.answer.isin(["no", "unclear"])].study_id)
    high = data.study_id.isin(bad_ids)
    share = _share(data, high)
    if share >= 1.0 - 1e-12:
        downgrades.append(("risk of bias", 2, f"every study ({share:.0%} of patients) has a 'no' or "
                           "'unclear' on selection, outcome ascertainment or alternative causes "
                           "(Murad 2018 Q1/Q3/Q4)"))
    elif share >= ROB_SHARE:
        downgrades.append(("risk of bias", 1, f"{share:.0%} of patients are in studies with a 'no' or "
                           "'unclear' on selection, ascertainment or alternative causes"))
    # inconsistency
    i2 = p.get("i2")
    pi_w = None if p.get("pi_low") is None else p["pi_high"] - p["pi_low"]
    if (i2 is not None and i2 > I2_SERIOUS) or (pi_w is not None and pi_w > PI_WIDTH_SERIOUS):
        why = []
        if i2 is not None:
            why.append(f"I^2 = {i2:.0f}%")
        if pi_w is not None:
            why.append(f"95% prediction interval {p['pi_low']:.0%} to {p['pi_high']:.0%}")
        downgrades.append(("inconsistency", 1, "; ".join(why)))
    elif result["k"] < 2:
        downgrades.append(("inconsistency", 1, "a single study: consistency cannot be judged"))
    # indirectness
    direct = _share(data, data.setting == "biopsy_proven_bkvn")
    reason = (f"{direct:.0%} of patients come from biopsy-proven BKVN; no study restricted IVIG to BKVN "
              "refractory to maximal immunosuppression reduction with cidofovir failed or "
              "contraindicated, and co-interventions (leflunomide, cidofovir, quinolones) were common")
    downgrades.append(("indirectness", 1 if direct < DIRECT_SHARE else 0, reason))
    # imprecision
    ci_w = None if p.get("ci_low") is None else p["ci_high"] - p["ci_low"]
    n_total = int(data.n.sum())
    wide = ci_w is None or ci_w > CI_WIDTH_SERIOUS
    few = n_total < OIS_PATIENTS
    if wide and few:
        downgrades.append(("imprecision", 2, f"95% CI {'undefined' if ci_w is None else f'{ci_w:.0%} wide'}"
                           f" and only {n_total} patients"))
    elif wide or few:
        downgrades.append(("imprecision", 1, f"95% CI {'undefined' if ci_w is None else f'{ci_w:.0%} wide'};"
                           f" {n_total} patients"))
    # publication bias
    small = data.design.isin(["case_report", "case_series", "conference_abstract"])
    frac = float(small.mean()) if len(data) else 0.0
    if frac >= SMALL_SHARE:
        downgrades.append(("publication bias", 1, f"{small.sum()} of {len(data)} studies are case reports, "
                           "case series or conference abstracts, published selectively"))
    start = 1  # LOW
    total = sum(d[1] for d in downgrades)
    final = max(0, start - total)
    return {
        "question_type": "intervention effect from single-arm studies",
        "start": LEVELS[start],
        "certainty": LEVELS[final],
        "k": int(result["k"]),
        "patients": n_total,
        "estimate": p.get("estimate"),
        "ci_low": p.get("ci_low"),
        "ci_high": p.get("ci_high"),
        "downgrades": [{"domain": d, "levels": lv, "reason": r} for d, lv, r in downgrades],
        "note": "Proposed by stated rules (analysis/grade.py); a review team confirms or changes each.",
    }
