"""The "uncited evidence" beside each verdict of the claims audit: what studies the
answer did not cite add to a claim, only from studies of its population and outcome."""

from __future__ import annotations

from typing import Any

from .audit_index import _Index
from .rows import split as _split

__all__ = ["POPULATION_SETTINGS"]

# the settings each claimed population shares (context is shown only from these)
POPULATION_SETTINGS = {"bkvn": ("biopsy_proven_bkvn", "presumptive_bkvn"), "viremia_only": ("viremia_only",),
                       "mixed_bkvn_viremia": ("mixed_bkvn_viremia",), "prevention": ("prevention",),
                       "rejection_treatment": ("rejection_treatment",), "any": ()}


def _in_sentence(label: str) -> str:
    """``label`` inside a sentence: first letter lower-cased unless the first word is an
    acronym ("Graft survival" -> "graft survival"; "BK viremia clearance" is kept)."""
    first = label.split(" ", 1)[0]
    return label if sum(ch.isupper() for ch in first) > 1 else label[:1].lower() + label[1:]


def _unpooled_reports(outcome: str, settings, ix: _Index, *, skip: set[str]) -> list[str]:
    """Uncited IVIG-arm counts of an outcome that no single-arm set of the plan pools."""
    same = []
    for r in ix.out.values():
        sid = r.study_id
        if (r.outcome != outcome or r.basis != "reported" or r.row_use != "count" or sid in ix.cited
                or sid in skip or ix.studies[sid].setting not in settings
                or ix.arms[(sid, r.arm_id)].treatment != "ivig"):
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
    outcomes = {ix.out[x].outcome for x in _split(c.outcome_rows) if x in ix.out}
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
                    or ix.studies[comp["study_id"]].setting not in settings):
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
        designs = sorted(f"{s} ({r.design.replace('_', ' ')}, {r.setting.replace('_', ' ')})"
                         for s, r in ix.studies.items()
                         if r.design in ("rct", "retrospective_cohort", "prospective_cohort")
                         and ix.found(s) and s not in ix.cited)
        if designs:
            notes.append("controlled studies the answer did not cite: " + ", ".join(designs))
    return "; ".join(dict.fromkeys(notes))
