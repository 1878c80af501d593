"""Rules 1-6 of the claims audit (`analysis.review.audit`, whose docstring states them):
the verdict on one numeric claim about the study the answer cites, by quantity."""

from __future__ import annotations

import re

from .audit_index import _BOUND, VERIFIED, _fmt, _Index, _present
from .audit_rules import (
    arm_doses,
    check_percent,
    percent_matches_count,
    printed_decimals,
    values_match,
)

__all__: list[str] = []

RESPONSE_OUTCOMES = ("viral_load_reduction", "viremia_clearance")


def _vl_text(r) -> str:
    return f"{_BOUND[r.bound]}{_fmt(r.copies_per_ml)} copies/mL ({r.statistic}, {r.role}: {r.timepoint})"


def _not_found(c, ix: _Index, cited: str, outs, vls, arms) -> tuple[str, str, list[str]]:
    """Rule 1: unverifiable, with what the report standing for the same cohort shows."""
    rep = ix.representative(cited)
    reason = f"the cited study ({cited}) was not found in any source"
    if rep is None:
        return "unverifiable", reason, []
    ctx, evidence = [], []
    for rid, r in outs:
        if r.study_id == rep and r.basis == "reported" and r.verification in VERIFIED:
            ev = f"{int(r.events)}/{int(r.n)}" if _present(r.events) and _present(r.n) else "no count"
            pr = f", printed {r.percent_reported:g}%" if _present(r.percent_reported) else ""
            ctx.append(f"{ev}{pr}")
            evidence.append(rid)
    for rid, r in vls:
        if r.study_id == rep and r.verification in VERIFIED:
            role = (f"; the claim gives it as the {c.claimed_role}" if _present(c.claimed_role)
                    and c.claimed_role != r.role else "")
            ctx.append(_vl_text(r) + role)
            evidence.append("vl:" + rid)
    for s, a, r in arms:
        if s == rep and c.quantity == "sample_size" and _present(r.n) and not ix.copied("arms", f"{s}/{a}", "n"):
            ctx.append(f"n = {int(r.n)}")
            evidence.append(f"arm:{s}/{a}")
    if c.quantity == "year" and _present(ix.studies[rep].year) and not ix.copied("studies", rep, "year"):
        origin = ix.origin.get(("studies", rep, "year"))
        how = {"url_path": "read from its URL path", "doi": "read from its DOI", "inferred": "inferred"}
        ctx.append(f"{int(ix.studies[rep].year)}" + (f" ({how[origin]})" if origin in how else ""))
    reason += (f"; {rep}, the report that stands for the same cohort in the synthesis (overlap rule), shows "
               + "; ".join(ctx)) if ctx else f"; {rep} stands for the same cohort in the synthesis"
    return "unverifiable", reason, evidence


def _viral_load(c, value: float, cited: str, vls) -> tuple[str, str, list[str]]:
    """Rule 5: role, statistic and bound as well as the value."""
    rows = [(rid, r) for rid, r in vls if r.verification in VERIFIED and r.study_id == cited]
    if not rows:
        return "unverifiable", "no reported viral load", []
    evidence = ["vl:" + rid for rid, _ in rows]
    bound = c.claimed_bound if _present(c.claimed_bound) else "eq"

    def same_value(r) -> bool:
        return r.bound == bound and values_match(value, float(r.copies_per_ml))

    def same_kind(r) -> bool:
        return ((not _present(c.claimed_role) or r.role == c.claimed_role)
                and (not _present(c.claimed_statistic) or r.statistic == c.claimed_statistic))

    kind = [r for _, r in rows if same_kind(r)]
    hit = [r for r in kind if same_value(r)]
    f"{_BOUND[bound]}{_fmt(value)}"
    if hit:
        r = hit[0]
        if _present(c.claimed_time_months) and not _present(r.time_months):
            return "partly_supported", (f"{cited} reports {_vl_text(r)}, but not the time the claim gives "
                                        f"(month {c.claimed_time_months:g})"), evidence
        if _present(c.claimed_time_months) and float(r.time_months) != float(c.claimed_time_months):
            return "discrepant", (f"{cited} reports {_vl_text(r)} at month {r.time_months:g}, not month "
                                  f"{c.claimed_time_months:g}"), evidence
        return "supported", f"{cited} reports {_vl_text(r)}", evidence
    elsewhere = [r for _, r in rows if values_match(value, float(r.copies_per_ml)) and not same_kind(r)]
    tail = ("; " + "; ".join(f"{_fmt(value)} copies/mL is the source's {r.role} value ({r.timepoint})"
                             for r in elsewhere)) if elsewhere else ""
    if kind:
        return "discrepant", ("the source gives " + "; ".join(_vl_text(r) for r in kind) + tail), evidence
    return "discrepant", (f"the source gives no {c.claimed_role} value; it reports "
                          + "; ".join(_vl_text(r) for _, r in rows) + tail), evidence


def _months(c, ix: _Index, outs, arms) -> tuple[str, str, list[str]]:
    """Rule 6: dose timing against the regimen; time to response against response outcomes."""
    claimed = [float(c.claimed_value)] + ([float(c.claimed_value_high)] if _present(c.claimed_value_high) else [])
    if c.claimed_role == "dose_timing":
        numbers, evidence = set(), []
        for s, a, r in arms:
            for field in ("ivig_timing", "ivig_dose_text"):
                text = getattr(r, field)
                if ix.found(s) and _present(text) and not ix.copied("arms", f"{s}/{a}", field):
                    numbers.update(float(x) for x in re.findall(r"(\d+(?:\.\d+)?)\s*(?:and|months|,)", str(text)))
                    evidence.append(f"arm:{s}/{a}")
        if not numbers:
            return "unverifiable", "the regimen's timing is not reported", evidence
        if all(v in numbers for v in claimed):
            return "supported", "the regimen was given at " + " and ".join(f"{v:g}" for v in claimed) + " months", \
                evidence
        return "discrepant", "the regimen timing gives " + ", ".join(f"{v:g}" for v in sorted(numbers)) + " months", \
            evidence
    if c.claimed_role == "time_to_response":
        times = [(rid, r) for rid, r in outs if r.outcome in RESPONSE_OUTCOMES and r.basis == "reported"
                 and r.verification in VERIFIED and _present(r.timepoint_months)]
        lo, hi = min(claimed), max(claimed)
        inside = [(rid, r) for rid, r in times if lo <= float(r.timepoint_months) <= hi]
        shown = "; ".join(f"{r.study_id} {r.timepoint_months:g} month{'' if r.timepoint_months == 1 else 's'} "
                          f"({r.outcome.replace('_', ' ')}: {r.timepoint})" for _, r in times) or "none"
        if inside:
            return "supported", f"a response is reported within {lo:g}-{hi:g} months: {shown}", [i for i, _ in inside]
        return "unverifiable", (f"no source reports a response within {lo:g}-{hi:g} months (response time points: "
                                f"{shown})"), [i for i, _ in times]
    return "unverifiable", "no role recorded for this months claim", []


def _verdict_cited(c, value: float, ix: _Index, cited: str, outs, arms) -> tuple[str, str, list[str]]:
    """Rules 2-4 for a study that was found: percent, count, sample size, year, dose, doses."""
    q = c.quantity
    mine = [(rid, r) for rid, r in outs if r.study_id == cited and r.basis == "reported" and r.verification in VERIFIED]
    if q == "percent":
        evidence = []
        for rid, r in mine:
            evidence.append(rid)
            if _present(r.percent_reported) and round(float(r.percent_reported), printed_decimals(value)) == value:
                return "supported", f"{r.study_id} prints {r.percent_reported:g}%", evidence
            if _present(r.events) and _present(r.n) and percent_matches_count(value, int(r.events), int(r.n)):
                return "supported", f"{int(r.events)}/{int(r.n)} prints as {value:g}%", evidence
        if evidence:
            r = ix.out[evidence[0]]
            chk = check_percent(float(r.percent_reported) if _present(r.percent_reported) else None,
                                int(r.events) if _present(r.events) else None, int(r.n) if _present(r.n) else None)
            return "discrepant", f"the source gives {chk.reason}, not {value:g}%", evidence
        return "unverifiable", "no reported count or percentage for this outcome", evidence
    if q == "count":
        for rid, r in mine:
            if _present(r.events):
                if int(r.events) == int(value):
                    return "supported", f"{r.study_id} reports {int(r.events)}", [rid]
                return "discrepant", f"{r.study_id} reports {int(r.events)}, not {int(value)}", [rid]
        return "unverifiable", "no reported count", []
    if q == "sample_size":
        for s, a, r in arms:
            if s == cited and _present(r.n) and r.verification in VERIFIED and not ix.copied("arms", f"{s}/{a}", "n"):
                if int(r.n) == int(value):
                    return "supported", f"{s} treated {int(r.n)} patients", [f"arm:{s}/{a}"]
                return "discrepant", f"{s} treated {int(r.n)} patients, not {int(value)}", [f"arm:{s}/{a}"]
        return "unverifiable", "the arm size is not reported", []
    if q == "year":
        y = ix.studies[cited].year if cited in ix.studies else None
        if ix.copied("studies", cited, "year"):
            return "unverifiable", (f"the year recorded for {cited} ({int(y)}) was copied from the answer "
                                    "(field_provenance.csv), so it cannot support the answer; no source shows "
                                    "the publication year"), [cited]
        if _present(y):
            if int(y) == int(value):
                return "supported", f"{cited} was published in {int(y)}", [cited]
            return "discrepant", f"{cited} was published in {int(y)}, not {int(value)}", [cited]
        return "unverifiable", "the publication year is not shown by the source", [cited]
    if q == "dose_g_per_kg":
        doses, evidence = [], []
        for s, a, r in arms:
            got = arm_doses(r, f"{s}/{a}", ix.from_answer) if ix.found(s) else []
            if got:
                doses += [(s, d) for d in got]
                evidence.append(f"arm:{s}/{a}")
        if not doses:
            return "unverifiable", "no linked source reports a dose in g/kg", evidence
        other = [f"{s} {d:g} g/kg" for s, d in doses if abs(d - value) > 1e-9]
        if other:
            return "discrepant", "other doses were used: " + "; ".join(other), evidence
        return "supported", "every linked IVIG arm used " + f"{value:g} g/kg", evidence
    if q == "doses":
        courses = [(s, a, r.ivig_courses) for s, a, r in arms
                   if ix.found(s) and _present(r.ivig_courses) and not ix.copied("arms", f"{s}/{a}", "ivig_courses")]
        evidence = [f"arm:{s}/{a}" for s, a, _ in courses]
        if not courses:
            return "unverifiable", "the number of courses is not reported", evidence
        if any(int(k) == int(value) for _, _, k in courses):
            return "supported", f"the regimen records {int(value)} course(s)", evidence
        return "discrepant", "the regimen records " + ", ".join(str(int(k)) for _, _, k in courses), evidence
    return "unverifiable", f"no rule for quantity {q!r}", []
