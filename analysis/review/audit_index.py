"""The data package indexed for the claims audit (`analysis.review.audit`): rows by id,
arms by (study, arm), the overlap groups and cited studies, and which cells were copied
from the answer; with the small cell helpers the audit's modules share."""

from __future__ import annotations

import pandas as pd

from .audit_rules import answer_origin
from .selection import cited_study_ids, overlap_groups, resolve_overlaps

__all__ = ["VERIFIED"]

# the verification levels whose rows count as evidence (an answer's own claim never does)
VERIFIED = ("full_text", "abstract", "conference_abstract", "secondary_source")
# how a claimed or reported bound is printed before its value
_BOUND = {"eq": "", "gt": ">", "lt": "<"}


def _present(v) -> bool:
    return v is not None and v is not pd.NA and not (isinstance(v, float) and pd.isna(v))


def _split(cell) -> list[str]:
    return [p.strip() for p in str(cell).split(";") if p.strip()] if _present(cell) else []


def _fmt(x) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


class _Index:
    """Lookups into the data package for the audit (built once per `audit_claims`)."""

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
