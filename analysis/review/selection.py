"""Which outcome rows enter an analysis: labels, overlap groups and analysis datasets.

Shared by synthesis and the claims audit, so both apply the same overlap choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def _present(v) -> bool:
    return v is not None and v is not pd.NA and not (isinstance(v, float) and np.isnan(v))


def _split(cell) -> list[str]:
    return [p.strip() for p in str(cell).split(";") if p.strip()] if _present(cell) else []


def study_label(row) -> str:
    """Display label 'Author Year' (or a description for records without authors)."""
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


def overlap_groups(studies: pd.DataFrame) -> dict[str, int]:
    """study_id -> group number; studies linked by ``overlaps_with`` share a group."""
    parent = {s: s for s in studies.study_id}

    def find(s):
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for r in studies.itertuples(index=False):
        for o in _split(r.overlaps_with):
            if o in parent:
                parent[find(r.study_id)] = find(o)
    roots = sorted({find(s) for s in parent})
    number = {r: i for i, r in enumerate(roots)}
    return {s: number[find(s)] for s in parent}


def outcome_rows(pkg, outcome: str, *, basis: str = "reported") -> pd.DataFrame:
    """Intervention-arm rows of treatment studies with a count and a denominator for `outcome`.

    An outcome the question file derives from another (graft survival from graft loss:
    survivors = n - lost) also takes that outcome's rows when a study reports only those;
    the row says so in ``derivation``.
    """
    from .question import question_for

    st = pkg["studies"].set_index("study_id")
    arms = pkg["arms"]
    treated = question_for(pkg).arm_codes[0]
    ivig_arms = {(a.study_id, a.arm_id) for a in arms.itertuples(index=False) if a.treatment == treated}
    out = pkg["outcomes"]
    spec = question_for(pkg).outcomes.get(outcome)
    source = spec.derived_from if spec is not None else None
    wanted = [outcome] + ([source] if source else [])
    rows = []
    for r in out.itertuples(index=False):
        if r.outcome not in wanted or r.basis != basis:
            continue
        if (r.study_id, r.arm_id) not in ivig_arms or st.loc[r.study_id, "role"] != "treatment":
            continue
        if not (_present(r.events) and _present(r.n)):
            continue
        events, derivation = int(r.events), "as extracted"
        if source and r.outcome == source:
            events, derivation = int(r.n) - int(r.events), _derivation(pkg, outcome, source)
        rows.append({"study_id": r.study_id, "row_id": r.row_id, "events": events, "n": int(r.n),
                     "timepoint": r.timepoint if _present(r.timepoint) else "",
                     "count_basis": r.count_basis, "n_basis": r.n_basis,
                     "verification": r.verification, "derivation": derivation,
                     "source_url": r.source_url, "source_locator": r.source_locator,
                     "from_outcome": r.outcome})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    # one row per study: prefer the outcome itself over a derived one, then the largest n
    df["pref"] = (df.from_outcome != outcome).astype(int)
    df = df.sort_values(["study_id", "pref", "n"], ascending=[True, True, False])
    df = df.drop_duplicates("study_id").drop(columns="pref")
    meta = st.loc[df.study_id]
    for col in ("design", "population", "setting", "answer_ref", "first_author", "year"):
        df[col] = meta[col].to_numpy()
    df["label"] = [study_label({"study_id": s, "first_author": a, "year": y})
                   for s, a, y in zip(df.study_id, df.first_author, df.year, strict=True)]
    return df.reset_index(drop=True)


def _derivation(pkg, outcome: str, source: str) -> str:
    """'graft survival = n - graft loss' from the question file's short labels."""
    from .question import question_for

    outs = question_for(pkg).outcomes
    return f"{outs[outcome].short} = n - {outs[source].short}"


def cited_study_ids(studies: pd.DataFrame, groups: dict[str, int]) -> set[str]:
    """Studies the answer cites, and every report of the same cohort (its overlap group):
    the one notion of "cited" that the synthesis scenarios and the audit's context share."""
    cited = {groups[r.study_id] for r in studies.itertuples(index=False) if _present(r.answer_ref)}
    return {s for s, g in groups.items() if g in cited}


def resolve_overlaps(df: pd.DataFrame, groups: dict[str, int]) -> tuple[pd.DataFrame, list[str]]:
    """Keep one report per overlap group (DESIGN_RANK, larger n, id); say what was dropped."""
    if df.empty:
        return df, []
    df = df.assign(group=[groups[s] for s in df.study_id],
                   rank=[DESIGN_RANK.get(d, 9) for d in df.design])
    df = df.sort_values(["group", "rank", "n", "study_id"], ascending=[True, True, False, True])
    keep = df.drop_duplicates("group")
    dropped = df[~df.index.isin(keep.index)]
    notes = [f"{r.study_id} dropped: overlaps with {keep[keep.group == r.group].study_id.iloc[0]}"
             for r in dropped.itertuples(index=False)]
    return keep.drop(columns=["group", "rank"]).sort_values("study_id").reset_index(drop=True), notes


def dataset_from_rows(pkg, row_ids, outcome: str) -> pd.DataFrame:
    """The analysis dataset of the outcome rows ``row_ids`` (one per study), in study order.

    A row of the complementary outcome (graft loss for graft survival) is converted as
    ``events = n - events``; the ``derivation`` column says so.
    """
    out = pkg["outcomes"].set_index("row_id", drop=False)
    st = pkg["studies"].set_index("study_id")
    rows = []
    for rid in row_ids:
        r = out.loc[rid]
        events, derivation = int(r.events), "as extracted"
        if r.outcome != outcome:
            events, derivation = int(r.n) - int(r.events), f"{outcome} = n - {r.outcome}"
        s = st.loc[r.study_id]
        rows.append({"study_id": r.study_id, "row_id": rid, "events": events, "n": int(r.n),
                     "timepoint": r.timepoint if _present(r.timepoint) else "",
                     "count_basis": r.count_basis, "n_basis": r.n_basis, "verification": r.verification,
                     "derivation": derivation, "source_url": r.source_url, "source_locator": r.source_locator,
                     "from_outcome": r.outcome,
                     "inference": r.get("inference") if _present(r.get("inference")) else "",
                     "design": s.design, "population": s.population, "setting": s.setting,
                     "answer_ref": s.answer_ref, "year": s.year,
                     "label": study_label({"study_id": r.study_id, **s.to_dict()})})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.sort_values("study_id").reset_index(drop=True)


def records(df: pd.DataFrame) -> list[dict]:
    """JSON-safe records of a dataset frame."""
    return [{k: (int(v) if isinstance(v, np.integer) else (None if not _present(v) else v))
             for k, v in rec.items()} for rec in df.to_dict(orient="records")]
