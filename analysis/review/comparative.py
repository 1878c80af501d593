"""Intervention versus comparator: study by study first, pooled only within a design.

`analyse_comparative` executes one comparative row of the analysis plan. Each study gives
its risk ratio, odds ratio and risk difference with intervals that need no continuity
correction (`analysis.stats.two_group`); studies are pooled only with studies of the same
design (randomised apart from non-randomised) and only when two or more share the
outcome, overlapping reports counting once (the plan's selection already chose one per
cohort). The summary-of-findings row gives, per study, the risk without the intervention
(its own control arm), the risk with it, the relative effect and the effect per 1,000.
"""

from __future__ import annotations

from typing import Any

from ..stats import two_group
from ..stats.two_group_study import study_effects
from .plan import window
from .question import arm_codes
from .rows import by_key
from .rows import present as _present
from .selection import study_label

DESIGN_GROUP = {"rct": "randomised"}
# Pooled methods, in the order shown; the first is the headline (Mantel-Haenszel risk
# ratio: no continuity correction needed for single-zero studies, robust with sparse data).
POOLED_METHODS = [
    ("mh-rr", "Mantel-Haenszel RR (common effect)", {"measure": "rr", "method": "mantel-haenszel"}),
    ("iv-rr-reml", "Inverse-variance RR, random effects (REML)", {"measure": "rr", "method": "inverse-variance",
                                                                   "model": "random", "tau2_method": "reml"}),
    ("mh-or", "Mantel-Haenszel OR (common effect)", {"measure": "or", "method": "mantel-haenszel"}),
    ("peto-or", "Peto OR", {"measure": "or", "method": "peto"}),
    ("mh-rd", "Mantel-Haenszel RD (common effect)", {"measure": "rd", "method": "mantel-haenszel"}),
]


def design_group(design: str) -> str:
    """'randomised' for RCTs, 'non-randomised' for every other comparative design."""
    return DESIGN_GROUP.get(design, "non-randomised")


EFFECT_KEYS = ("rr", "rr_ci_low", "rr_ci_high", "or", "or_ci_low", "or_ci_high", "rd", "rd_ci_low",
               "rd_ci_high", "fisher_p", "double_zero")


def _effects(a: int, n1: int, c: int, n0: int) -> dict[str, Any]:
    """RR (Koopman score), OR (exact conditional), RD (Newcombe) and Fisher's p of one study."""
    eff = study_effects(a, n1, c, n0)
    eff = eff.to_dict() if hasattr(eff, "to_dict") else eff
    return {k: eff.get(k) for k in EFFECT_KEYS}


def _text(row, field: str) -> str:
    """A cell as text, '' when missing (or when the table has no such column)."""
    v = getattr(row, field, None)
    return str(v) if _present(v) else ""


def _study_row(s, treated_row, control_row) -> dict[str, Any]:
    """One study's comparison: `s` its studies row, then the two outcome rows."""
    a, n1, c, n0 = int(treated_row.events), int(treated_row.n), int(control_row.events), int(control_row.n)
    eff = _effects(a, n1, c, n0)
    return {"study_id": treated_row.study_id, "label": study_label(s),
            "design": s.design, "design_group": design_group(s.design),
            "row_id": treated_row.row_id, "control_row_id": control_row.row_id,
            "outcome": treated_row.outcome, "events_1": a, "n_1": n1, "events_0": c, "n_0": n0,
            "risk_1": a / n1, "risk_0": c / n0,
            "timepoint": _text(treated_row, "timepoint"), "inference": _text(treated_row, "inference"),
            **eff}


def _pool(rows: list[dict], group: str) -> list[dict]:
    out = []
    for key, label, opts in POOLED_METHODS:
        try:
            res = two_group.pool_two_group([r["events_1"] for r in rows], [r["n_1"] for r in rows],
                                           [r["events_0"] for r in rows], [r["n_0"] for r in rows],
                                           study_ids=[r["study_id"] for r in rows], **opts)
        except ValueError as exc:  # e.g. every study double-zero: nothing to pool
            out.append({"id": key, "label": label, "design_group": group, "estimate": None, "ci_low": None,
                        "ci_high": None, "note": str(exc)})
            continue
        d = res.to_dict()
        out.append({"id": key, "label": label, "design_group": group, "measure": opts["measure"],
                    "estimate": d["estimate"], "ci_low": d["ci_low"], "ci_high": d["ci_high"],
                    "tau2": d.get("tau2"), "q": d.get("q"), "k": d.get("k"), "pvalue": d.get("pvalue"),
                    "dropped": d.get("dropped", []), "studies": [r["study_id"] for r in rows], "note": ""})
    return out


def _per_1000(x: float | None) -> float | None:
    """A risk per 1,000, capped at 1,000 (a risk-ratio limit times the control risk can pass 1)."""
    return None if x is None else min(1000.0 * x, 1000.0)


def sof_rows(rows: list[dict]) -> list[dict]:
    """Summary of findings, study by study: risk without and with the intervention per 1,000
    (GRADE summary-of-findings layout; the risk with it is the control risk times the RR)."""
    out = []
    for r in rows:
        rr, lo, hi = r.get("rr"), r.get("rr_ci_low"), r.get("rr_ci_high")
        base = r["risk_0"]
        out.append({"study_id": r["study_id"], "label": r["label"], "design_group": r["design_group"],
                    "risk_without": base, "risk_with": r["risk_1"], "rr": rr, "rr_ci_low": lo, "rr_ci_high": hi,
                    "per_1000_without": 1000 * base,
                    "per_1000_with": None if rr is None else _per_1000(base * rr),
                    "per_1000_with_low": None if lo is None else _per_1000(base * lo),
                    "per_1000_with_high": None if hi is None else _per_1000(base * hi),
                    "rd": r.get("rd"), "rd_ci_low": r.get("rd_ci_low"), "rd_ci_high": r.get("rd_ci_high")})
    return out


def analyse_comparative(pkg, plan_row, selection) -> dict[str, Any]:
    """Execute one comparative plan row (see the module docstring)."""
    out = by_key(pkg["outcomes"], "row_id")
    st = by_key(pkg["studies"], "study_id")
    rows = [_study_row(st[out[i].study_id], out[i], out[c]) for i, c in selection.pooled]
    order = {"randomised": 0, "non-randomised": 1}
    rows.sort(key=lambda r: (order[r["design_group"]], r["study_id"]))
    pooled = []
    for group in ("randomised", "non-randomised"):
        members = [r for r in rows if r["design_group"] == group]
        if len(members) >= max(2, int(plan_row.min_studies)) and selection.pool:
            pooled += _pool(members, group)
    narrative = [{"row_id": rid, "study_id": out[rid].study_id, "arm_id": out[rid].arm_id,
                  "label": study_label(st[out[rid].study_id]), "reason": why, "row_use": out[rid].row_use,
                  "note": _text(out[rid], "notes"), "source_locator": out[rid].source_locator}
                 for rid, why in selection.narrative]
    return {"plan_id": plan_row.plan_id, "outcome": plan_row.outcome, "set_kind": plan_row.set_kind,
            "set_id": plan_row.set_id, "population_label": plan_row.population_label,
            "window": list(window(plan_row)) if window(plan_row) else None,
            "definition": plan_row.definition, "k": len(rows), "studies": rows, "pooled": pooled,
            "sof": sof_rows(rows), "narrative": narrative,
            "not_pooled_reason": "" if pooled else (selection.reason or
                                                     "fewer than two studies of the same design")}


def other_comparisons(pkg, selected_pairs: set[tuple[str, str]]) -> list[dict]:
    """Two-arm studies outside every comparative plan set (prevention, other populations):
    listed apart, never pooled with the treatment question."""
    st = by_key(pkg["studies"], "study_id")
    used = {i for i, _ in selected_pairs}
    treated, control = arm_codes(pkg)
    arms: dict[str, list] = {}
    for a in pkg["arms"]:
        arms.setdefault(a.study_id, []).append(a)
    rows = []
    for sid in sorted(arms):
        a = arms[sid]
        if control is None or not ({treated, control} <= {x.treatment for x in a}):
            continue
        iv = next(x.arm_id for x in a if x.treatment == treated)
        ct = next(x.arm_id for x in a if x.treatment == control)
        o = [r for r in pkg["outcomes"] if r.study_id == sid and r.basis == "reported"]
        for r in (r for r in o if r.arm_id == iv):
            if r.row_id in used:
                continue
            c = [x for x in o if x.arm_id == ct and x.outcome == r.outcome]
            s = st[sid]
            rec = {"study_id": sid, "label": study_label(s), "role": s.role, "design": s.design,
                   "outcome": r.outcome, "row_id": r.row_id}
            if not c or not _present(r.events) or not _present(c[0].events):
                rec.update(events_1=None, n_1=None, events_0=None, n_0=None,
                           note="a count or denominator is not reported")
            else:
                cr = c[0]
                rec.update(events_1=int(r.events), n_1=int(r.n), events_0=int(cr.events), n_0=int(cr.n), note="",
                           **_effects(int(r.events), int(r.n), int(cr.events), int(cr.n)))
            rows.append(rec)
    return rows
