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

from typing import Any

# The audit is in four modules: this one (the rules above, the numeric dispatch and the
# audit table), `audit_index` (the package's lookups), `audit_verdicts` (rules 1-6, by
# quantity) and `audit_context` (the uncited evidence shown beside a verdict).
from .audit_context import POPULATION_SETTINGS, _uncited_context
from .audit_index import _BOUND, VERIFIED, _fmt, _Index
from .audit_verdicts import RESPONSE_OUTCOMES, _months, _not_found, _verdict_cited, _viral_load
from .rows import present as _present
from .rows import split as _split

VERDICTS = ("supported", "partly_supported", "discrepant", "unverifiable")

__all__ = ["POPULATION_SETTINGS", "RESPONSE_OUTCOMES", "VERDICTS", "VERIFIED", "audit_claims", "summarise"]


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


def audit_claims(pkg, results: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per claim, numeric ones computed by the module's rules."""
    ix = _Index(pkg)
    done: dict[str, dict] = {}
    order = sorted(pkg["claims"], key=lambda c: (c.quantity == "range_percent", c.claim_id))
    for c in order:
        if c.claim_type == "numeric":
            verdict, reason, evidence = _verdict_numeric(c, ix, done)
            basis = "computed"
            sources = sorted({ix.studies[s].source_url for s in _split(c.study_ids) if ix.found(s)})
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
            "cited_refs": c.cited_refs, "claim_type": c.claim_type,
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
