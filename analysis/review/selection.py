"""Which outcome rows enter an analysis: labels, overlap groups and analysis datasets.

Shared by synthesis and the claims audit, so both apply the same overlap choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .rows import by_key
from .rows import present as _present
from .rows import split as _split

VERIFIED = ("full_text", "abstract", "conference_abstract", "secondary_source")
# Within a group of overlapping reports one report represents the cohort: a journal
# article before a conference abstract, then the larger n, then the id (stable).
DESIGN_RANK = {"rct": 0, "prospective_cohort": 1, "retrospective_cohort": 2, "case_series": 3,
               "case_report": 4, "conference_abstract": 5, "review": 6, "guideline": 7}
# descriptive names of records whose authors no source shows
DESCRIPTIVE_NAMES = {"accp2012": "ACCP abstract", "anonpeds2012": "Pediatric series",
                     "anoncase2024": "Case report", "anonharm2014": "Harm case report",
                     "ectrx2023": "Exp Clin Transplant RCT", "ivigprevention_nd": "AJT prevention study",
                     "ectrx2014": "ECT programme 1-year",
                     "ectrx2016": "ECT programme long-term",
                     "atccleveland2020": "ATC abstract (Cleveland)"}

# An analysis dataset is a list of dicts, one per study (the records results.json stores):
# study_id, row_id, events, n, timepoint, count_basis, n_basis, verification, derivation,
# source_url, source_locator, from_outcome, design, population, setting, answer_ref, year,
# label (and inference, or first_author, as noted below).
Dataset = list[dict[str, Any]]


def study_label(row) -> str:
    """Display label 'Author Year' (or a description for records without authors), from a
    studies row (a namedtuple) or a dict with its fields."""
    if hasattr(row, "_asdict"):
        row = row._asdict()
    sid = row["study_id"]
    author = row.get("first_author")
    year = row.get("year")
    y = str(int(year)) if _present(year) else "n.d."
    ref = row.get("answer_ref")
    if row.get("verification") == "not_found" and _present(ref):
        return f"Answer ref {int(ref)} ({y}, not found)"
    if _present(author) and not sid.startswith("anon"):
        return f"{author} {y}"
    return f"{DESCRIPTIVE_NAMES.get(sid, sid)} {y}"


def overlap_groups(studies: Iterable) -> dict[str, int]:
    """study_id -> group number; studies linked by ``overlaps_with`` share a group."""
    studies = list(studies)
    parent = {r.study_id: r.study_id for r in studies}

    def find(s):
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for r in studies:
        for o in _split(r.overlaps_with):
            if o in parent:
                parent[find(r.study_id)] = find(o)
    roots = sorted({find(s) for s in parent})
    number = {r: i for i, r in enumerate(roots)}
    return {s: number[find(s)] for s in parent}


def _count(r, outcome: str, derivation: str) -> tuple[int, str]:
    """(events, derivation) of an outcome row for `outcome`: a row of the complementary
    outcome counts the others (n - events)."""
    if r.outcome != outcome:
        return int(r.n) - int(r.events), derivation
    return int(r.events), "as extracted"


def _record(r, events: int, derivation: str) -> dict[str, Any]:
    return {"study_id": r.study_id, "row_id": r.row_id, "events": events, "n": int(r.n),
            "timepoint": r.timepoint if _present(r.timepoint) else "",
            "count_basis": r.count_basis, "n_basis": r.n_basis, "verification": r.verification,
            "derivation": derivation, "source_url": r.source_url, "source_locator": r.source_locator,
            "from_outcome": r.outcome}


def outcome_rows(pkg, outcome: str, *, basis: str = "reported") -> Dataset:
    """Intervention-arm rows of treatment studies with a count and a denominator for `outcome`,
    one per study (the outcome itself before a derived one, then the largest n), in study
    order; each also has ``first_author``.

    An outcome the question file derives from another (graft survival from graft loss:
    survivors = n - lost) also takes that outcome's rows when a study reports only those;
    the row says so in ``derivation``.
    """
    from .question import question_for

    st = by_key(pkg["studies"], "study_id")
    treated = question_for(pkg).arm_codes[0]
    ivig_arms = {(a.study_id, a.arm_id) for a in pkg["arms"] if a.treatment == treated}
    spec = question_for(pkg).outcomes.get(outcome)
    source = spec.derived_from if spec is not None else None
    wanted = [outcome] + ([source] if source else [])
    rows = []
    for r in pkg["outcomes"]:
        if r.outcome not in wanted or r.basis != basis:
            continue
        if (r.study_id, r.arm_id) not in ivig_arms or st[r.study_id].role != "treatment":
            continue
        if not (_present(r.events) and _present(r.n)):
            continue
        how = _derivation(pkg, outcome, source) if source and r.outcome == source else "as extracted"
        rows.append(_record(r, *_count(r, outcome, how)))
    # one row per study: prefer the outcome itself over a derived one, then the largest n
    rows.sort(key=lambda d: (d["study_id"], d["from_outcome"] != outcome, -d["n"]))
    out: Dataset = []
    for d in rows:
        if out and out[-1]["study_id"] == d["study_id"]:
            continue
        s = st[d["study_id"]]
        d.update(design=s.design, population=s.population, setting=s.setting, answer_ref=s.answer_ref,
                 first_author=s.first_author, year=s.year)
        d["label"] = study_label({"study_id": d["study_id"], "first_author": s.first_author, "year": s.year})
        out.append(d)
    return out


def _derivation(pkg, outcome: str, source: str) -> str:
    """'graft survival = n - graft loss' from the question file's short labels."""
    from .question import question_for

    outs = question_for(pkg).outcomes
    return f"{outs[outcome].short} = n - {outs[source].short}"


def cited_study_ids(studies: Iterable, groups: dict[str, int]) -> set[str]:
    """Studies the answer cites, and every report of the same cohort (its overlap group):
    the one notion of "cited" that the synthesis scenarios and the audit's context share."""
    cited = {groups[r.study_id] for r in studies if _present(r.answer_ref)}
    return {s for s, g in groups.items() if g in cited}


def resolve_overlaps(rows: list[Mapping[str, Any]], groups: dict[str, int]) -> tuple[list, list[str]]:
    """Keep one report per overlap group (DESIGN_RANK, larger n, id); say what was dropped.

    `rows` are dicts with at least ``study_id``, ``design`` and ``n``; the kept ones are
    returned in study order."""
    ranked = sorted(rows, key=lambda d: (groups[d["study_id"]], DESIGN_RANK.get(d["design"], 9), -d["n"],
                                         d["study_id"]))
    keep: dict[int, Mapping[str, Any]] = {}
    notes = []
    for d in ranked:
        g = groups[d["study_id"]]
        if g in keep:
            notes.append(f"{d['study_id']} dropped: overlaps with {keep[g]['study_id']}")
        else:
            keep[g] = d
    return sorted(keep.values(), key=lambda d: d["study_id"]), notes


def dataset_from_rows(pkg, row_ids, outcome: str) -> Dataset:
    """The analysis dataset of the outcome rows ``row_ids`` (one per study), in study order
    (JSON-safe dicts; a missing cell is None).

    A row of the complementary outcome (graft loss for graft survival) is converted as
    ``events = n - events``; the ``derivation`` column says so.
    """
    out = by_key(pkg["outcomes"], "row_id")
    st = by_key(pkg["studies"], "study_id")
    rows = []
    for rid in row_ids:
        r = out[rid]
        rec = _record(r, *_count(r, outcome, f"{outcome} = n - {r.outcome}"))
        s = st[r.study_id]
        inference = getattr(r, "inference", None)
        rec.update(inference=inference if _present(inference) else "", design=s.design, population=s.population,
                   setting=s.setting, answer_ref=s.answer_ref, year=s.year, label=study_label(s))
        rows.append(rec)
    return sorted(rows, key=lambda d: d["study_id"])

