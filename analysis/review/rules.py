"""Cross-field and cross-table rules of the data package that Table Schema cannot express.

Each rule raises `InputError` naming the file, the data row (1-based) and the field.
The risk-of-bias rules live in `rob.py` and the rules that keep recorded audit
judgements from contradicting the data in `audit_rules.py`; `check_package` runs them all.
"""

from __future__ import annotations

import pandas as pd

from ..stats._validation import InputError
from .audit_rules import check_recorded_judgements
from .plan import check_plan
from .prisma import PRISMA_ITEMS
from .rob import check_risk_of_bias


def _split(cell) -> list[str]:
    if cell is None or (isinstance(cell, float) and pd.isna(cell)) or cell is pd.NA:
        return []
    return [p.strip() for p in str(cell).split(";") if p.strip()]


def _present(v) -> bool:
    return v is not None and v is not pd.NA and not (isinstance(v, float) and pd.isna(v))


def check_package(pkg) -> None:
    """Run every cross-table rule on a loaded package (first failure raises)."""
    t = pkg.tables
    studies = t["studies"]
    ids = set(studies.study_id)
    f_st = "data/raw/studies.csv"
    for i, row in enumerate(studies.itertuples(index=False), start=1):
        for other in _split(row.overlaps_with):
            if other not in ids:
                raise InputError(
                    f"overlaps_with names {other!r}, which is not a study", file=f_st, row=i,
                    field="overlaps_with",
                )
            if other == row.study_id:
                raise InputError("a study cannot overlap with itself", file=f_st, row=i,
                                 field="overlaps_with")
            back = _split(studies.loc[studies.study_id == other, "overlaps_with"].iloc[0])
            if row.study_id not in back:
                raise InputError(
                    f"overlap with {other!r} is not recorded in both directions "
                    f"(add {row.study_id!r} to {other!r}'s overlaps_with)",
                    file=f_st, row=i, field="overlaps_with",
                )
    arms = t["arms"]
    arm_n = {(r.study_id, r.arm_id): r.n for r in arms.itertuples(index=False)}
    f_out = "data/raw/outcomes.csv"
    for i, r in enumerate(t["outcomes"].itertuples(index=False), start=1):
        has_e, has_n = _present(r.events), _present(r.n)
        if has_e and has_n and r.events > r.n:
            raise InputError(f"events ({r.events}) exceed n ({r.n}) in {r.row_id}", file=f_out,
                             row=i, field="events")
        if has_e and not has_n and r.n_basis != "not_reported":
            raise InputError(f"events given without n in {r.row_id} (set n_basis to not_reported "
                             "if the source gives no denominator)", file=f_out, row=i, field="n")
        an = arm_n.get((r.study_id, r.arm_id))
        if has_n and _present(an) and r.n > an and r.basis == "reported":
            raise InputError(
                f"n ({r.n}) exceeds the arm size ({an}) of {r.study_id}/{r.arm_id} in {r.row_id}",
                file=f_out, row=i, field="n",
            )
        if r.verification == "not_found" and has_e:
            raise InputError(f"a not_found row holds a count ({r.row_id})", file=f_out, row=i,
                             field="events")
        if r.count_basis == "not_reported" and has_e:
            raise InputError(f"count_basis is not_reported but events is given ({r.row_id})",
                             file=f_out, row=i, field="count_basis")
    _check_row_use(t["outcomes"])
    f_vl = "data/raw/viral_loads.csv"
    for i, r in enumerate(t["viral_loads"].itertuples(index=False), start=1):
        if _present(r.arm_id) and (r.study_id, r.arm_id) not in arm_n:
            raise InputError(f"arm {r.study_id}/{r.arm_id} does not exist in arms", file=f_vl,
                             row=i, field="arm_id")
    check_risk_of_bias(t)
    _check_claims(t, ids)
    check_plan(pkg)
    check_recorded_judgements(t)
    _check_provenance(t)
    _check_prisma(t)
    f_sc = "data/raw/screening.csv"
    for i, r in enumerate(t["screening"].itertuples(index=False), start=1):
        if r.decision == "included":
            if not _present(r.study_id) or r.study_id not in ids:
                raise InputError(
                    f"an included record must name an existing study_id (got {r.study_id!r})",
                    file=f_sc, row=i, field="study_id",
                )
        elif not _present(r.reason):
            raise InputError(f"a record marked {r.decision} needs a reason", file=f_sc, row=i,
                             field="reason")


def _check_claims(t, ids) -> None:
    f_cl = "data/raw/claims.csv"
    out_rows = set(t["outcomes"].row_id)
    vl_rows = set(t["viral_loads"].row_id)
    arm_keys = {f"{r.study_id}/{r.arm_id}" for r in t["arms"].itertuples(index=False)}
    for i, r in enumerate(t["claims"].itertuples(index=False), start=1):
        for sid in _split(r.study_ids):
            if sid not in ids:
                raise InputError(f"claim {r.claim_id} links study {sid!r}, which does not exist",
                                 file=f_cl, row=i, field="study_ids")
        for link in _split(r.outcome_rows):
            if link.startswith("arm:"):
                ok = link[4:] in arm_keys
            elif link.startswith("vl:"):
                ok = link[3:] in vl_rows
            else:
                ok = link in out_rows
            if not ok:
                raise InputError(
                    f"claim {r.claim_id} links data row {link!r}, which does not exist",
                    file=f_cl, row=i, field="outcome_rows",
                )
        if r.claim_type == "numeric":
            if not _present(r.quantity) or not _present(r.claimed_value):
                raise InputError(f"numeric claim {r.claim_id} needs quantity and claimed_value",
                                 file=f_cl, row=i, field="claimed_value")
        elif not _present(r.judgement) or not _present(r.judgement_reason):
            raise InputError(
                f"qualitative claim {r.claim_id} needs a judgement and a judgement_reason",
                file=f_cl, row=i, field="judgement",
            )


def _check_row_use(out) -> None:
    """row_use, inference and alternative_to agree with the counts they describe."""
    f_out = "data/raw/outcomes.csv"
    rows = {r.row_id: r for r in out.itertuples(index=False)}
    for i, r in enumerate(out.itertuples(index=False), start=1):
        has_e, has_n = _present(r.events), _present(r.n)
        if r.row_use in ("count", "alternative") and not (has_e and has_n):
            raise InputError(f"row_use {r.row_use} needs events and n ({r.row_id})", file=f_out, row=i,
                             field="row_use")
        if r.row_use == "missing" and has_e:
            raise InputError(f"row_use missing but events is given ({r.row_id})", file=f_out, row=i,
                             field="row_use")
        if r.verification == "not_found" and r.row_use != "missing":
            raise InputError(f"a not_found row must have row_use missing ({r.row_id})", file=f_out, row=i,
                             field="row_use")
        if _present(r.inference) and not _present(r.inference_note):
            raise InputError(f"inference {r.inference} needs an inference_note ({r.row_id})", file=f_out,
                             row=i, field="inference_note")
        if (r.row_use == "alternative") != _present(r.alternative_to):
            raise InputError(f"alternative_to is set exactly when row_use is alternative ({r.row_id})",
                             file=f_out, row=i, field="alternative_to")
        if _present(r.alternative_to):
            target = rows.get(r.alternative_to)
            if target is None:
                raise InputError(f"alternative_to names {r.alternative_to!r}, which is not a row",
                                 file=f_out, row=i, field="alternative_to")
            same = (target.study_id, target.arm_id, target.outcome) == (r.study_id, r.arm_id, r.outcome)
            if not same or target.row_use != "count":
                raise InputError(f"alternative_to must name a count row of the same study, arm and outcome "
                                 f"({r.alternative_to!r})", file=f_out, row=i, field="alternative_to")
_KEYS = {"studies": lambda r: r.study_id, "arms": lambda r: f"{r.study_id}/{r.arm_id}",
         "outcomes": lambda r: r.row_id, "viral_loads": lambda r: r.row_id}


def _check_provenance(t) -> None:
    """Each provenance row names an existing cell; a year shown for a study that was not
    found can only have come from the answer, so it must be recorded as such."""
    f_pv = "data/raw/field_provenance.csv"
    keys = {res: {_KEYS[res](r) for r in t[res].itertuples(index=False)} for res in _KEYS}
    recorded = set()
    for i, r in enumerate(t["field_provenance"].itertuples(index=False), start=1):
        if r.row_key not in keys[r.resource]:
            raise InputError(f"{r.resource} has no row {r.row_key!r}", file=f_pv, row=i, field="row_key")
        if r.field not in t[r.resource].columns:
            raise InputError(f"{r.resource} has no column {r.field!r}", file=f_pv, row=i, field="field")
        recorded.add((r.resource, r.row_key, r.field, r.origin))
    for i, r in enumerate(t["studies"].itertuples(index=False), start=1):
        if r.verification == "not_found" and _present(r.year) and \
                ("studies", r.study_id, "year", "answer") not in recorded:
            raise InputError(f"{r.study_id} was not found, so its year can only come from the answer: record it in "
                             "field_provenance.csv with origin 'answer'", file="data/raw/studies.csv", row=i,
                             field="year")


def _check_prisma(t) -> None:
    """Every PRISMA 2020 item is listed; a reported item names where, one that does not
    apply says why (the reason is the required how_addressed text)."""
    f_pr = "data/raw/prisma_checklist.csv"
    df = t["prisma_checklist"]
    for i, r in enumerate(df.itertuples(index=False), start=1):
        if r.status != "not_applicable" and not _present(r.location):
            raise InputError(f"item {r.item} is {r.status} but names no report section", file=f_pr, row=i,
                             field="location")
    missing = [item for item in PRISMA_ITEMS if item not in set(df["item"])]
    if missing:
        raise InputError(f"PRISMA 2020 item(s) {', '.join(missing)} missing", file=f_pr, field="item")
