"""The claims audit: a verdict for every checkable claim of the AI answer.

Verdicts: ``supported``, ``partly_supported``, ``discrepant``, ``unverifiable``.
Numeric claims get computed verdicts by these rules (the evidence is a row of the data
package whose verification is full text, abstract, conference abstract or secondary
source; rows that only record what the answer claims never count as evidence):

1. The claim is about the study the answer cites (the first of ``study_ids``). If that
   study was not found in any source, the verdict is **unverifiable**, whatever other
   reports say; what an overlapping report of the same cohort shows is given as context.
2. ``percent``: supported if a reported percentage equals the claim at the claim's
   printed precision, or if a reported count out of its n prints as the claimed
   percentage (both roundings accepted); discrepant otherwise.
3. ``count``, ``sample_size``, ``year``, ``doses``: supported if equal, else discrepant.
4. ``dose_g_per_kg``: supported if every linked IVIG arm with a dose in g/kg used the
   claimed dose; discrepant if any used another; unverifiable if no dose is reported.
5. ``viral_load_copies_per_ml``: supported if a reported viral load is within 0.5% of
   the claim, discrepant if reported loads exist and none is.
6. ``months``: supported if every claimed month appears in the linked regimen timing or
   time points; unverifiable otherwise (other time points are listed).
7. ``range_percent``: combines the verdicts of the claims for each end of the range:
   supported if both are, discrepant if either is, unverifiable if both are, partly
   supported otherwise.

Qualitative claims carry the judgement recorded in ``claims.csv`` with its reason and
sources. Every verdict comes with a one-line reason and its evidence rows.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .audit_rules import check_percent, percent_matches_count, printed_decimals, values_match

VERDICTS = ("supported", "partly_supported", "discrepant", "unverifiable")
VERIFIED = ("full_text", "abstract", "conference_abstract", "secondary_source")

__all__ = ["VERDICTS", "audit_claims", "summarise"]


def _present(v) -> bool:
    return v is not None and v is not pd.NA and not (isinstance(v, float) and pd.isna(v))


def _split(cell) -> list[str]:
    return [p.strip() for p in str(cell).split(";") if p.strip()] if _present(cell) else []


def _in_sentence(label: str) -> str:
    """``label`` inside a sentence: first letter lower-cased unless the first word is an
    acronym ("Graft survival" -> "graft survival"; "BK viremia clearance" is kept)."""
    first = label.split(" ", 1)[0]
    return label if sum(ch.isupper() for ch in first) > 1 else label[:1].lower() + label[1:]


def _fmt(x) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


# count units in the plural, and their singular for a claimed value of exactly 1
_SINGULAR = {"patients": "patient", "doses": "dose", "months": "month", "studies": "study"}


def _claimed_text(value: float, high: float | None, unit: str | None) -> str:
    """The claimed value as the answer says it: "1 patient" (not "1 patients"), a dose
    below 0.1 g/kg in mg/kg ("1 mg/kg", not "0.001 g/kg"), a range as "22-33 months".

    >>> _claimed_text(1, None, "patients"), _claimed_text(0.001, None, "g/kg")
    ('1 patient', '1 mg/kg')
    >>> _claimed_text(22, 33, "months"), _claimed_text(2, None, "g/kg")
    ('22-33 months', '2 g/kg')
    """
    if unit == "g/kg" and max(value, high if high is not None else value) < 0.1:
        value, high, unit = value * 1000, (high * 1000 if high is not None else None), "mg/kg"
    text = _fmt(value) + (f"-{_fmt(high)}" if high is not None else "")
    if unit is None:
        return text
    return f"{text} {_SINGULAR.get(unit, unit) if high is None and value == 1 else unit}"


class _Index:
    def __init__(self, pkg):
        self.studies = pkg["studies"].set_index("study_id")
        self.out = pkg["outcomes"].set_index("row_id")
        self.vl = pkg["viral_loads"].set_index("row_id")
        self.arms = pkg["arms"].set_index(["study_id", "arm_id"])

    def found(self, sid) -> bool:
        return sid in self.studies.index and self.studies.loc[sid, "verification"] in VERIFIED

    def rows(self, links):
        outs, vls, arms = [], [], []
        for link in links:
            if link.startswith("arm:"):
                s, a = link[4:].split("/")
                arms.append((s, a, self.arms.loc[(s, a)]))
            elif link.startswith("vl:"):
                vls.append((link[3:], self.vl.loc[link[3:]]))
            else:
                outs.append((link, self.out.loc[link]))
        return outs, vls, arms


def _verdict_numeric(c, ix: _Index, done: dict[str, dict]) -> tuple[str, str, list[str]]:
    q = c.quantity
    value = float(c.claimed_value)
    sids = _split(c.study_ids)
    links = _split(c.outcome_rows)
    outs, vls, arms = ix.rows(links)
    cited = sids[0] if sids else None
    evidence: list[str] = []
    if q == "range_percent":
        lo, hi = value, float(c.claimed_value_high)
        ends = []
        for end in (lo, hi):
            match = [d for d in done.values() if d["quantity"] == "percent" and d["claimed_value"] == end]
            ends.append(match[0]["verdict"] if match else "unverifiable")
            evidence += [f"{m['claim_id']}: {m['verdict']}" for m in match]
        if all(v == "supported" for v in ends):
            return "supported", "both ends of the range are supported", evidence
        if any(v == "discrepant" for v in ends):
            return "discrepant", "an end of the range is contradicted by its source", evidence
        if all(v == "unverifiable" for v in ends):
            return "unverifiable", (f"neither {lo:g}% nor {hi:g}% could be checked: their studies were not "
                                    "found"), evidence
        return "partly_supported", "one end of the range is supported, the other not checkable", evidence
    if cited is not None and not ix.found(cited):
        ctx = []
        for rid, r in outs:
            if r.basis == "reported" and r.verification in VERIFIED and r.study_id != cited:
                ev = f"{int(r.events)}/{int(r.n)}" if _present(r.events) and _present(r.n) else "no count"
                pr = f", printed {r.percent_reported:g}%" if _present(r.percent_reported) else ""
                ctx.append(f"{r.study_id}: {ev}{pr}")
                evidence.append(rid)
        for rid, r in vls:
            if r.verification in VERIFIED and r.study_id != cited:
                ctx.append(f"{r.study_id}: {_fmt(r.copies_per_ml)} copies/mL ({r.timepoint})")
                evidence.append("vl:" + rid)
        for s in sids[1:]:
            if q == "year" and ix.found(s) and _present(ix.studies.loc[s, "year"]):
                ctx.append(f"{s} ({int(ix.studies.loc[s, 'year'])})")
        for s, a, r in arms:
            if s != cited and ix.found(s) and q == "sample_size" and _present(r.n):
                ctx.append(f"{s}: n = {int(r.n)}")
                evidence.append(f"arm:{s}/{a}")
        reason = f"the cited study ({cited}) was not found in any source"
        if ctx:
            reason += "; an overlapping report shows " + "; ".join(ctx)
        return "unverifiable", reason, evidence
    if q == "percent":
        for rid, r in outs:
            if r.basis != "reported" or r.verification not in VERIFIED:
                continue
            evidence.append(rid)
            dec = printed_decimals(value)
            if _present(r.percent_reported) and round(float(r.percent_reported), dec) == value:
                return "supported", f"{r.study_id} prints {r.percent_reported:g}%", evidence
            if _present(r.events) and _present(r.n) and percent_matches_count(value, int(r.events), int(r.n)):
                return "supported", f"{int(r.events)}/{int(r.n)} prints as {value:g}%", evidence
        if evidence:
            r = ix.out.loc[evidence[0]]
            chk = check_percent(float(r.percent_reported) if _present(r.percent_reported) else None,
                                int(r.events) if _present(r.events) else None,
                                int(r.n) if _present(r.n) else None)
            return "discrepant", f"the source gives {chk.reason}, not {value:g}%", evidence
        return "unverifiable", "no reported count or percentage for this outcome", evidence
    if q in ("count",):
        for rid, r in outs:
            if r.basis == "reported" and r.verification in VERIFIED and _present(r.events):
                evidence.append(rid)
                if int(r.events) == int(value):
                    return "supported", f"{r.study_id} reports {int(r.events)}", evidence
                return "discrepant", f"{r.study_id} reports {int(r.events)}, not {int(value)}", evidence
        return "unverifiable", "no reported count", evidence
    if q == "sample_size":
        for s, a, r in arms:
            if s == cited and _present(r.n) and r.verification in VERIFIED:
                evidence.append(f"arm:{s}/{a}")
                if int(r.n) == int(value):
                    return "supported", f"{s} treated {int(r.n)} patients", evidence
                return "discrepant", f"{s} treated {int(r.n)} patients, not {int(value)}", evidence
        return "unverifiable", "the arm size is not reported", evidence
    if q == "year":
        y = ix.studies.loc[cited, "year"] if cited in ix.studies.index else None
        if _present(y):
            if int(y) == int(value):
                return "supported", f"{cited} was published in {int(y)}", [cited]
            return "discrepant", f"{cited} was published in {int(y)}, not {int(value)}", [cited]
        return "unverifiable", "the publication year is not shown by the source", [cited]
    if q == "dose_g_per_kg":
        doses = []
        for s, a, r in arms:
            if ix.found(s) and _present(r.ivig_dose_g_per_kg):
                doses.append((s, float(r.ivig_dose_g_per_kg)))
                evidence.append(f"arm:{s}/{a}")
        if not doses:
            return "unverifiable", "no linked source reports a dose in g/kg", evidence
        other = [f"{s} {d:g} g/kg" for s, d in doses if abs(d - value) > 1e-9]
        if other:
            return "discrepant", "other doses were used: " + "; ".join(other), evidence
        return "supported", "every linked IVIG arm used " + f"{value:g} g/kg", evidence
    if q == "viral_load_copies_per_ml":
        reported = [(rid, r) for rid, r in vls if r.verification in VERIFIED]
        for rid, r in reported:
            evidence.append("vl:" + rid)
            if values_match(value, float(r.copies_per_ml)):
                return "supported", f"{r.study_id} reports {_fmt(r.copies_per_ml)} copies/mL ({r.timepoint})", evidence
        if reported:
            shown = "; ".join(f"{_fmt(r.copies_per_ml)} ({r.timepoint})" for _, r in reported)
            return "discrepant", f"the source reports {shown}", evidence
        return "unverifiable", "no reported viral load", evidence
    if q in ("months", "doses"):
        numbers = set()
        for s, a, r in arms:
            for text in (r.ivig_timing, r.ivig_courses):
                if _present(text):
                    numbers.update(float(x) for x in re.findall(r"\d+(?:\.\d+)?", str(text)))
            evidence.append(f"arm:{s}/{a}")
        for _rid, r in outs:
            if _present(r.timepoint_months):
                numbers.add(float(r.timepoint_months))
        for _rid, r in vls:
            if _present(r.time_months):
                numbers.add(float(r.time_months))
        claimed = [value] + ([float(c.claimed_value_high)] if _present(c.claimed_value_high) else [])
        if q == "doses":
            courses = [r.ivig_courses for _, _, r in arms if _present(r.ivig_courses)]
            found = [float(x) for t in courses for x in re.findall(r"\d+", str(t))]
            if found:
                if value in found:
                    return "supported", f"the regimen records {int(value)} course(s)", evidence
                return "discrepant", f"the regimen records {', '.join(map(str, courses))}", evidence
            return "unverifiable", "the number of courses is not reported", evidence
        if all(v in numbers for v in claimed):
            return "supported", "the sources give " + " and ".join(f"{v:g}" for v in claimed) + " months", evidence
        shown = ", ".join(f"{v:g}" for v in sorted(numbers)) or "none"
        return "unverifiable", f"the sources give other time points (months: {shown})", evidence
    return "unverifiable", f"no rule for quantity {q!r}", evidence


def _uncited_context(c, results: dict[str, Any], ix: _Index) -> str:
    """What the studies the answer did not cite add to this claim (empty if nothing)."""
    links = _split(c.outcome_rows)
    outcomes = {ix.out.loc[link, "outcome"] for link in links if link in ix.out.index}
    if "graft_survival" in outcomes:
        outcomes.add("graft_survival")
    notes = []
    for o in sorted(outcomes & set(results["outcomes"])):
        res = results["outcomes"][o]
        if res.get("primary"):
            p = res["primary"]
            cited = {s for s in ix.studies.index if _present(ix.studies.loc[s, "answer_ref"])}
            unc = [d["study_id"] for d in res["dataset"] if d["study_id"] not in cited]
            if p["ci_low"] is None:
                ev = sum(d["events"] for d in res["dataset"])
                nn = sum(d["n"] for d in res["dataset"])
                notes.append(f"all {p['k']} studies found (uncited: {', '.join(unc) or 'none'}) report "
                             f"{ev}/{nn} patients with {_in_sentence(res['label'])}")
            else:
                notes.append(f"all {p['k']} studies found (uncited: {', '.join(unc) or 'none'}) pool to "
                             f"{p['estimate']:.0%} ({p['ci_low']:.0%} to {p['ci_high']:.0%}) "
                             f"{_in_sentence(res['label'])}")
        for comp in results["comparative"]["studies"]:
            if comp["outcome"] in (o, "graft_loss" if o == "graft_survival" else o) and comp.get("rr") is not None:
                notes.append(f"{comp['study_id']} ({comp['design']}): {comp['events_1']}/{comp['n_1']} with IVIG vs "
                             f"{comp['events_0']}/{comp['n_0']} without, RR {comp['rr']:.2f} "
                             f"({comp['rr_ci_low']:.2f} to {comp['rr_ci_high']:.2f})")
    text = c.claim.lower()
    if c.claim_type == "qualitative" and ("randomi" in text or ("only" in text and "case" in text)):
        designs = sorted({f"{s} ({ix.studies.loc[s, 'design']})" for s in ix.studies.index
                          if ix.studies.loc[s, "design"] in ("rct", "retrospective_cohort", "prospective_cohort")
                          and ix.found(s)})
        if designs:
            notes.append("controlled studies the answer did not cite: " + ", ".join(designs))
    return "; ".join(notes)


def audit_claims(pkg, results: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per claim, numeric ones computed by the module's rules."""
    ix = _Index(pkg)
    claims = pkg["claims"]
    done: dict[str, dict] = {}
    order = sorted(claims.itertuples(index=False), key=lambda c: (c.quantity == "range_percent", c.claim_id))
    for c in order:
        if c.claim_type == "numeric":
            verdict, reason, evidence = _verdict_numeric(c, ix, done)
            basis = "computed"
            sources = sorted({ix.studies.loc[s, "source_url"] for s in _split(c.study_ids)
                              if s in ix.studies.index and ix.found(s)})
        else:
            verdict, reason, evidence = c.judgement, c.judgement_reason, _split(c.outcome_rows)
            basis = "recorded judgement"
            sources = _split(str(c.judgement_sources).replace(" ", ";")) if _present(c.judgement_sources) else []
        if verdict not in VERDICTS:
            raise ValueError(f"claim {c.claim_id}: unknown verdict {verdict!r} (allowed: {', '.join(VERDICTS)})")
        claimed = ""
        if _present(c.claimed_value) and c.quantity == "year":
            claimed = str(int(c.claimed_value))
        elif _present(c.claimed_value):
            claimed = _claimed_text(float(c.claimed_value),
                                    float(c.claimed_value_high) if _present(c.claimed_value_high) else None,
                                    str(c.unit) if _present(c.unit) else None)
        done[c.claim_id] = {
            "claim_id": c.claim_id, "section": c.section, "claim": c.claim,
            "cited_refs": c.cited_refs or "", "claim_type": c.claim_type,
            "quantity": c.quantity if _present(c.quantity) else None,
            "claimed_value": float(c.claimed_value) if _present(c.claimed_value) else None,
            "claimed": claimed.strip(), "verdict": verdict, "basis": basis, "reason": reason,
            "evidence": evidence, "sources": sources,
            "uncited_evidence": _uncited_context(c, results, ix),
        }
    return [done[k] for k in sorted(done)]


def summarise(audit: list[dict[str, Any]]) -> dict[str, int]:
    """Count of claims per verdict (every verdict listed, zeros included)."""
    return {v: sum(1 for a in audit if a["verdict"] == v) for v in VERDICTS}
