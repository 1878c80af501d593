"""The two GRADE paths: single-arm event rates (risk with the intervention) and comparative
effects (intervention versus comparator; the names are the question file's). Each assembles the domain rules of `domains.py` into a
`CertaintyRating`; `certainty_summary` turns the ratings into the bottom line's words."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ...stats.pooling import pool_proportions
from ...stats.proportions import proportion_ci
from . import domains as D
from .context import GradeContext
from .types import LEVELS, CertaintyRating, final_level

__all__ = ["certainty_phrase", "certainty_summary", "rate_comparative", "rate_single_arm"]


def _tau2(events: list[int], n: list[int]) -> tuple[float | None, tuple[float, float] | None]:
    """tau^2 and its Q-profile 95% CI from the logit random-effects model (REML)."""
    if len(n) < 2:
        return None, None
    d = pool_proportions(events, n, model="random", measure="logit", tau2_method="reml").to_dict()
    ci = (d["tau2_ci_low"], d["tau2_ci_high"]) if d["tau2_ci_low"] is not None else None
    return d["tau2"], ci


def _imprecision_interval(events: list[int], n: list[int]) -> tuple[float, float, float, str]:
    """The interval imprecision is judged on: the GLMM's 95% CI with normal quantiles
    (the primary t(k-1) interval is inflated for small k, which would count the number of
    studies, not the information, as imprecision), or, when the GLMM has no finite
    estimate (every study at 0% or 100%) or a single study, the exact interval of the
    summed counts."""
    if len(n) >= 2:
        d = pool_proportions(events, n, model="glmm", n_agq=7).to_dict()
        if d["ci_low"] is not None:
            return d["estimate"], d["ci_low"], d["ci_high"], "GLMM 95% CI, normal quantiles"
    c = proportion_ci(sum(events), sum(n))
    return c.proportion, float(c.ci.low), float(c.ci.high), "exact 95% CI of the summed counts"


def _dataset(data) -> list[dict[str, Any]]:
    """The analysis dataset's records (a pandas DataFrame of them is accepted too)."""
    return data.to_dict(orient="records") if hasattr(data, "to_dict") else list(data)


def rate_single_arm(result: dict[str, Any], data, ctx: GradeContext) -> CertaintyRating:
    """GRADE for a pooled single-arm proportion (risk with the intervention): very low by
    construction, every domain judged and recorded (see `domains`). `data` is the analysis
    dataset (``result["dataset"]``: one dict per study with study_id, events and n)."""
    outcome = result["outcome"]
    w = ctx.words
    data = _dataset(data)
    ids = [d["study_id"] for d in data]
    ev, n = [int(d["events"]) for d in data], [int(d["n"]) for d in data]
    patients = dict(zip(ids, n, strict=True))
    control = ctx.control.get((outcome, "treatment"))
    threshold = None if control is None else control.risk
    cis = {s: proportion_ci(e, m).ci for s, e, m in zip(ids, ev, n, strict=True)}
    points = [(s, e / m, float(cis[s].low), float(cis[s].high)) for s, e, m in zip(ids, ev, n, strict=True) if m > 1]
    tau2, tau2_ci = _tau2(ev, n)
    est, lo, hi, interval = _imprecision_interval(ev, n)
    start, start_reason, start_rule = D.start_single_arm(w)
    doms = (D.risk_of_bias_single_arm(patients, ctx),
            D.inconsistency_from_spread(points, threshold=threshold, tau2=tau2, tau2_ci=tau2_ci,
                                        scale=f"the {w.risk_without}"),
            D.indirectness(patients, outcome, ctx),
            D.imprecision_single_arm(est, lo, hi, interval, control, w),
            D.publication_bias(outcome, "single_arm", len(data), ctx))
    p = result["primary"]
    if p is None:  # no pool allowed by the plan: the summed counts' exact interval is rated
        p = {"estimate": est, "ci_low": lo, "ci_high": hi}
    effect = {"measure": f"proportion of {w.patients} ({w.risk_with})", "estimate": p["estimate"],
              "ci_low": p["ci_low"], "ci_high": p["ci_high"],
              "interval": "primary GLMM, t(k-1) quantiles" if result["primary"] is not None else interval,
              "imprecision_estimate": est, "imprecision_ci_low": lo, "imprecision_ci_high": hi,
              "imprecision_interval": interval}
    return CertaintyRating(
        outcome=outcome, label=result["label"], path="single_arm", role="treatment",
        question_type=f"{w.risk_with} (single-arm event rate; non-comparative)", start=start,
        start_reason=start_reason, start_rule=start_rule, certainty=final_level(start, doms), domains=doms,
        studies=tuple(ids), k=len(data), patients=sum(n), effect=effect,
        threshold=None if control is None else control.to_dict())


def _rr_from_percents(c: dict) -> float | None:
    p1, p0 = c.get("percent_1"), c.get("percent_0")
    return None if p1 is None or not p0 else p1 / p0


def rate_comparative(comp: dict[str, Any], ctx: GradeContext, labels: dict[str, str]) -> list[CertaintyRating]:
    """GRADE for every comparative outcome (per outcome and role): intervention versus comparator from
    the studies with counts in both arms; studies that print only percentages inform the
    consistency judgement. Effects are the single study's, or the pooled random-effects
    risk ratio where two or more studies of the same role report the outcome."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for c in comp["studies"]:
        groups.setdefault((c["outcome"], c["role"]), []).append(c)
    pooled = {(p["outcome"], p["role"]): p for p in comp.get("pooled", [])}
    out = []
    for (outcome, role), rows in sorted(groups.items()):
        body = [c for c in rows if c.get("events_1") is not None]
        if not body:
            continue
        patients = {c["study_id"]: c["n_1"] + c["n_0"] for c in body}
        pts = [(c["study_id"], c["rr"], c["rr_ci_low"], c["rr_ci_high"]) for c in body if c.get("rr") is not None]
        pts += [(f"{c['study_id']} (printed percentages)", _rr_from_percents(c), -math.inf, math.inf)
                for c in rows if c.get("events_1") is None and _rr_from_percents(c) is not None]
        pool = pooled.get((outcome, role))
        main = body[0] if pool is None else {**body[0], "rr": pool["display_estimate"],
                                             "rr_ci_low": pool["display_ci_low"], "rr_ci_high": pool["display_ci_high"]}
        tau2_ci = None if pool is None or pool.get("tau2_ci_low") is None else (pool["tau2_ci_low"],
                                                                                 pool["tau2_ci_high"])
        start, start_reason, start_rule = D.start_comparative(list(patients), ctx)
        doms = (D.risk_of_bias_comparative(patients, ctx),
                D.inconsistency_from_spread(pts, threshold=1.0, tau2=None if pool is None else pool.get("tau2"),
                                            tau2_ci=tau2_ci, scale="RR", fmt=lambda x: f"{x:.2f}"),
                D.indirectness({c["study_id"]: c["n_1"] for c in body}, outcome, ctx),
                D.imprecision_comparative(main, ctx.words),
                D.publication_bias(outcome, "comparative", len(body), ctx))
        control = ctx.control.get((outcome, role))
        versus = f"{ctx.words.intervention} vs {ctx.words.comparator}"
        effect = {"measure": f"risk ratio, {versus}", "estimate": main.get("rr"),
                  "ci_low": main.get("rr_ci_low"), "ci_high": main.get("rr_ci_high"),
                  "risk_difference": main.get("rd"), "rd_ci_low": main.get("rd_ci_low"),
                  "rd_ci_high": main.get("rd_ci_high"), "events_1": main["events_1"], "n_1": main["n_1"],
                  "events_0": main["events_0"], "n_0": main["n_0"],
                  "interval": "Wald 95% CI" + (" (random-effects pool)" if pool else " (single study)")}
        out.append(CertaintyRating(
            outcome=outcome, label=f"{labels.get(outcome, outcome)}: {versus}", path="comparative",
            role=role, question_type=f"comparative effect ({role})", start=start, start_reason=start_reason,
            start_rule=start_rule, certainty=final_level(start, doms), domains=doms, studies=tuple(patients),
            k=len(body), patients=sum(patients.values()), effect=effect,
            threshold=None if control is None else control.to_dict()))
    return out


def rate_comparative_sets(comparisons: dict[str, list[dict]], ctx: GradeContext,
                          labels: dict[str, str]) -> list[CertaintyRating]:
    """GRADE for every comparative set of the analysis plan with studies: intervention
    versus comparator in that set's population. The rated effect is the Mantel-Haenszel risk ratio of
    the design group with most studies where a pool exists, else the single study's."""
    out = []
    for outcome, sets in comparisons.items():
        for cset in sets:
            body = cset["studies"]
            if not body:
                continue
            patients = {c["study_id"]: c["n_1"] + c["n_0"] for c in body}
            pts = [(c["study_id"], c["rr"], c["rr_ci_low"], c["rr_ci_high"]) for c in body if c.get("rr") is not None]
            mh = [p for p in cset["pooled"] if p["id"] == "mh-rr" and p["estimate"] is not None]
            pool = max(mh, key=lambda p: len(p["studies"])) if mh else None
            members = body if pool is None else [c for c in body if c["study_id"] in pool["studies"]]
            main = dict(members[0])
            if pool is not None:
                main.update(rr=pool["estimate"], rr_ci_low=pool["ci_low"], rr_ci_high=pool["ci_high"],
                            events_1=sum(c["events_1"] for c in members), n_1=sum(c["n_1"] for c in members),
                            events_0=sum(c["events_0"] for c in members), n_0=sum(c["n_0"] for c in members))
                rd = next((p for p in cset["pooled"] if p["id"] == "mh-rd" and p["design_group"] == pool["design_group"]),
                          None)
                main.update(rd=None if rd is None else rd["estimate"], rd_ci_low=None if rd is None else rd["ci_low"],
                            rd_ci_high=None if rd is None else rd["ci_high"])
            iv = next((p for p in cset["pooled"] if p["id"] == "iv-rr-reml" and pool is not None
                       and p["design_group"] == pool["design_group"]), None)
            start, start_reason, start_rule = D.start_comparative(list(patients), ctx)
            doms = (D.risk_of_bias_comparative(patients, ctx),
                    D.inconsistency_from_spread(pts, threshold=1.0, tau2=None if iv is None else iv.get("tau2"),
                                                tau2_ci=None, scale="RR", fmt=lambda x: f"{x:.2f}"),
                    D.indirectness({c["study_id"]: c["n_1"] for c in body}, outcome, ctx),
                    D.imprecision_comparative(main, ctx.words),
                    D.publication_bias(outcome, "comparative", len(body), ctx))
            control = ctx.control.get((outcome, "treatment"))
            versus = f"{ctx.words.intervention} vs {ctx.words.comparator}"
            effect = {"measure": f"risk ratio, {versus}", "estimate": main.get("rr"),
                      "ci_low": main.get("rr_ci_low"), "ci_high": main.get("rr_ci_high"),
                      "risk_difference": main.get("rd"), "rd_ci_low": main.get("rd_ci_low"),
                      "rd_ci_high": main.get("rd_ci_high"), "events_1": main["events_1"], "n_1": main["n_1"],
                      "events_0": main["events_0"], "n_0": main["n_0"],
                      "interval": ("Mantel-Haenszel 95% CI (pooled within a design)" if pool
                                   else "score 95% CI (single study)")}
            out.append(CertaintyRating(
                outcome=outcome, label=f"{labels.get(outcome, outcome)}: {versus} ({cset.get('set_label', cset['set_id'])})",
                path="comparative", role="treatment", question_type=f"comparative effect ({cset['set_id']})",
                start=start, start_reason=start_reason, start_rule=start_rule, certainty=final_level(start, doms),
                domains=doms, studies=tuple(patients), k=len(body), patients=sum(patients.values()), effect=effect,
                threshold=None if control is None else control.to_dict(),
                extra={"plan_id": cset["plan_id"], "set_id": cset["set_id"], "set_kind": cset["set_kind"]}))
    return out


def certainty_phrase(levels: Iterable[str]) -> str:
    """The words for a sentence from the ratings: ``"very low certainty"`` when every
    rating agrees, ``"very low to low certainty"`` when they span levels.

    Examples
    --------
    >>> certainty_phrase(["very low", "very low"]), certainty_phrase(["low", "very low"])
    ('very low certainty', 'very low to low certainty')
    """
    found = sorted(set(levels), key=LEVELS.index)
    if not found:
        raise ValueError("certainty_phrase: no ratings given")
    return f"{found[0]} certainty" if len(found) == 1 else f"{found[0]} to {found[-1]} certainty"


def certainty_summary(outcomes: dict[str, dict], comparative: list[CertaintyRating],
                      ctx: GradeContext) -> dict[str, Any]:
    """Every rating of the treatment question and the bottom line's certainty words.

    The bottom line reads the ratings of the treatment role on both paths (prevention
    answers another question and is listed but not counted)."""
    single = {o: r["grade"] for o, r in outcomes.items() if r.get("grade")}
    rows = [{"path": "single_arm", "outcome": o, "certainty": g["certainty"]} for o, g in single.items()]
    rows += [{"path": "comparative", "outcome": c.outcome, "role": c.role, "certainty": c.certainty}
             for c in comparative]
    treat = [r["certainty"] for r in rows if r.get("role", "treatment") == "treatment"]
    return {"comparative": [c.to_dict() for c in comparative],
            "bottom_line": {"phrase": certainty_phrase(treat), "ratings": rows,
                            "note": "from every rating of the treatment question (single-arm and comparative); "
                                    "prevention ratings are listed but not counted"},
            "thresholds": [c.to_dict() for _, c in sorted(ctx.control.items())]}
