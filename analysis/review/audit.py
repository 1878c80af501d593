"""The claims audit: a verdict for every checkable claim of the AI answer.

Verdicts: ``supported``, ``partly_supported``, ``discrepant``, ``unverifiable``.
Numeric claims get computed verdicts by these rules (the evidence is a row of the data
package whose verification is full text, abstract, conference abstract or secondary
source; rows that only record what the answer claims never count as evidence, and
neither does a cell that ``field_provenance.csv`` says was copied from the answer):

1. The claim is about the study the answer cites (the first of ``study_ids``). If that
   study was not found in any source, the verdict is **unverifiable**, whatever other
   reports say. The report that stands for the same cohort in the synthesis (chosen by
   `selection.resolve_overlaps`, the one overlap rule) is named and its data shown as
   context.
2. ``percent``: supported if the cited study prints the percentage at the claim's printed
   precision, or a count out of its n prints as it; discrepant otherwise.
3. ``count``, ``sample_size``, ``year``, ``doses``: supported if equal, else discrepant; a
   year or size copied from the answer is unverifiable.
4. ``dose_g_per_kg``: supported if every linked IVIG arm records the claimed dose (each
   number of a range counts); discrepant if any records another; unverifiable if none.
5. ``viral_load_copies_per_ml``: matched on role (diagnosis, baseline, peak, follow-up),
   statistic (individual, mean, median) and bound (">") as well as value (0.5%):
   supported if a row of the same role matches; partly supported if it matches but the
   source does not fix the time the claim gives; discrepant if the rows of that role give
   another value (or the value belongs to another role); unverifiable without rows.
6. ``months``: by role. Dose timing is compared with the regimen's timing only; time to
   response with the time points of response outcomes only (a hedged "may take" claim is
   supported by a response time in its range, otherwise unverifiable).
7. ``range_percent``: combines the verdicts of the claims for each end of the range.

Qualitative claims carry the judgement recorded in ``claims.csv``; the loader refuses a
recorded judgement that the data package contradicts (`audit_rules.check_recorded_judgements`).
The "uncited evidence" context lists only studies of the claim's population and outcome.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .audit_rules import (
    answer_origin,
    arm_doses,
    check_percent,
    percent_matches_count,
    printed_decimals,
    values_match,
)
from .selection import cited_study_ids, overlap_groups, resolve_overlaps

VERDICTS = ("supported", "partly_supported", "discrepant", "unverifiable")
VERIFIED = ("full_text", "abstract", "conference_abstract", "secondary_source")
# the settings each claimed population shares (context is shown only from these)
POPULATION_SETTINGS = {"bkvn": ("biopsy_proven_bkvn", "presumptive_bkvn"), "viremia_only": ("viremia_only",),
                       "mixed_bkvn_viremia": ("mixed_bkvn_viremia",), "prevention": ("prevention",),
                       "rejection_treatment": ("rejection_treatment",), "any": ()}
RESPONSE_OUTCOMES = ("viral_load_reduction", "viremia_clearance")
_BOUND = {"eq": "", "gt": ">", "lt": "<"}

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
        self.pkg = pkg
        self.studies = pkg["studies"].set_index("study_id")
        self.out = pkg["outcomes"].set_index("row_id")
        self.vl = pkg["viral_loads"].set_index("row_id")
        self.arms = pkg["arms"].set_index(["study_id", "arm_id"])
        self.groups = overlap_groups(pkg["studies"])
        self.cited = cited_study_ids(pkg["studies"], self.groups)
        self.from_answer = answer_origin(pkg["field_provenance"])
        self.origin = {(r.resource, r.row_key, r.field): r.origin
                       for r in pkg["field_provenance"].itertuples(index=False)}

    def found(self, sid) -> bool:
        return sid in self.studies.index and self.studies.loc[sid, "verification"] in VERIFIED

    def copied(self, resource: str, key: str, field: str) -> bool:
        return (resource, key, field) in self.from_answer

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

    def representative(self, sid: str) -> str | None:
        """The found report that stands for `sid`'s cohort, by the synthesis' overlap rule."""
        members = [s for s, g in self.groups.items() if g == self.groups.get(sid) and s != sid and self.found(s)]
        if not members:
            return None
        n = [int(self.pkg["arms"][(self.pkg["arms"].study_id == s) & (self.pkg["arms"].treatment == "ivig")]
                 .n.dropna().sum()) for s in members]
        frame = pd.DataFrame({"study_id": members, "design": [self.studies.loc[s, "design"] for s in members],
                              "n": n})
        keep, _ = resolve_overlaps(frame, self.groups)
        return str(keep.study_id.iloc[0])


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
    if c.quantity == "year" and _present(ix.studies.loc[rep, "year"]) and not ix.copied("studies", rep, "year"):
        origin = ix.origin.get(("studies", rep, "year"))
        how = {"url_path": "read from its URL path", "doi": "read from its DOI", "inferred": "inferred"}
        ctx.append(f"{int(ix.studies.loc[rep, 'year'])}" + (f" ({how[origin]})" if origin in how else ""))
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


def _verdict_numeric(c, ix: _Index, done: dict[str, dict]) -> tuple[str, str, list[str]]:
    q = c.quantity
    value = float(c.claimed_value)
    sids = _split(c.study_ids)
    outs, vls, arms = ix.rows(_split(c.outcome_rows))
    cited = sids[0] if sids else None
    if q == "range_percent":
        lo, hi = value, float(c.claimed_value_high)
        ends, evidence = [], []
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
        return _not_found(c, ix, cited, outs, vls, arms)
    if q == "viral_load_copies_per_ml":
        return _viral_load(c, value, cited, vls)
    if q == "months":
        return _months(c, ix, outs, arms)
    return _verdict_cited(c, value, ix, cited, outs, arms)


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
            r = ix.out.loc[evidence[0]]
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
        y = ix.studies.loc[cited, "year"] if cited in ix.studies.index else None
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


def _unpooled_reports(outcome: str, settings, ix: _Index, *, skip: set[str]) -> list[str]:
    """Uncited IVIG-arm counts of an outcome that no single-arm set of the plan pools."""
    same = []
    for _, r in ix.out.iterrows():
        sid = r.study_id
        if (r.outcome != outcome or r.basis != "reported" or r.row_use != "count" or sid in ix.cited
                or sid in skip or ix.studies.loc[sid, "setting"] not in settings
                or ix.arms.loc[(sid, r.arm_id), "treatment"] != "ivig"):
            continue
        same.append(f"{sid} {int(r.events)}/{int(r.n)}")
    if not same:
        return []
    return [f"uncited studies of the same population reporting {outcome.replace('_', ' ')} (not pooled): "
            + ", ".join(same)]


def _uncited_context(c, results: dict[str, Any], ix: _Index) -> str:
    """What studies the answer did not cite (nor any report of a cited cohort) add to this
    claim: only studies of the claim's population and outcome."""
    settings = POPULATION_SETTINGS.get(c.claimed_population, ())  # unknown population: no context
    outcomes = {ix.out.loc[x, "outcome"] for x in _split(c.outcome_rows) if x in ix.out.index}
    if "graft_loss" in outcomes:
        outcomes.add("graft_survival")
    notes = []
    sets: dict[str, list[dict]] = {}
    for o, res in results["outcomes"].items():
        sets.setdefault(o, []).append(res)
    for o, subs in (results.get("subgroups") or {}).items():
        sets.setdefault(o, []).extend(subs)
    for o in sorted(outcomes):
        for res in sets.get(o, []):
            same = [d for d in res.get("dataset") or [] if d["study_id"] not in ix.cited and d["setting"] in settings]
            if same:
                notes.append(f"uncited studies of the same population reporting {_in_sentence(res['label'])}: "
                             + ", ".join(f"{d['study_id']} {d['events']}/{d['n']}" for d in same))
        want = "graft_loss" if o == "graft_survival" else o
        compared = {comp["study_id"] for comp in results["comparative"]["studies"] if comp["outcome"] == want}
        if not sets.get(o):  # no single-arm set of the plan: the reported IVIG-arm counts themselves
            notes += _unpooled_reports(o, settings, ix, skip=compared)
        for comp in results["comparative"]["studies"]:
            if (comp["outcome"] != want or comp["study_id"] in ix.cited
                    or ix.studies.loc[comp["study_id"], "setting"] not in settings):
                continue
            effect = (f"RR {comp['rr']:.2f} ({comp['rr_ci_low']:.2f} to {comp['rr_ci_high']:.2f})"
                      if comp.get("rr") is not None and comp.get("rr_ci_low") is not None
                      and comp.get("rr_ci_high") is not None
                      else "no events in either arm" if comp["events_1"] == comp["events_0"] == 0 else "RR undefined")
            notes.append(f"{comp['study_id']} ({comp['design'].replace('_', ' ')}): {comp['events_1']}/"
                         f"{comp['n_1']} with IVIG vs {comp['events_0']}/{comp['n_0']} without "
                         f"{comp['outcome'].replace('_', ' ')}, {effect}")
    text = c.claim.lower()
    if c.claim_type == "qualitative" and ("randomi" in text or ("only" in text and "case" in text)):
        designs = sorted(f"{s} ({ix.studies.loc[s, 'design'].replace('_', ' ')}, "
                         f"{ix.studies.loc[s, 'setting'].replace('_', ' ')})" for s in ix.studies.index
                         if ix.studies.loc[s, "design"] in ("rct", "retrospective_cohort", "prospective_cohort")
                         and ix.found(s) and s not in ix.cited)
        if designs:
            notes.append("controlled studies the answer did not cite: " + ", ".join(designs))
    return "; ".join(dict.fromkeys(notes))


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
            bound = _BOUND.get(c.claimed_bound, "") if _present(c.claimed_bound) else ""
            claimed = bound + _claimed_text(float(c.claimed_value),
                                            float(c.claimed_value_high) if _present(c.claimed_value_high) else None,
                                            str(c.unit) if _present(c.unit) else None)
        done[c.claim_id] = {
            "claim_id": c.claim_id, "section": c.section, "claim": c.claim,
            "cited_refs": c.cited_refs or "", "claim_type": c.claim_type,
            "quantity": c.quantity if _present(c.quantity) else None,
            "claimed_value": float(c.claimed_value) if _present(c.claimed_value) else None,
            "claimed_role": c.claimed_role if _present(c.claimed_role) else None,
            "claimed": claimed.strip(), "verdict": verdict, "basis": basis, "reason": reason,
            "evidence": evidence, "sources": sources,
            "uncited_evidence": _uncited_context(c, results, ix),
        }
    return [done[k] for k in sorted(done)]


def summarise(audit: list[dict[str, Any]]) -> dict[str, int]:
    """Count of claims per verdict (every verdict listed, zeros included)."""
    return {v: sum(1 for a in audit if a["verdict"] == v) for v in VERDICTS}
