"""The data package indexed for the claims audit (`analysis.review.audit`): rows by id,
arms by (study, arm), the overlap groups and cited studies, and which cells were copied
from the answer; with the small cell helpers the audit's modules share."""

from __future__ import annotations

from .audit_rules import answer_origin
from .rows import by_key
from .rows import present as _present
from .selection import cited_study_ids, overlap_groups, resolve_overlaps

__all__ = ["VERIFIED"]

# the verification levels whose rows count as evidence (an answer's own claim never does)
VERIFIED = ("full_text", "abstract", "conference_abstract", "secondary_source")
# how a claimed or reported bound is printed before its value
_BOUND = {"eq": "", "gt": ">", "lt": "<"}


def _fmt(x) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


class _Index:
    """Lookups into the data package for the audit (built once per `audit_claims`): the
    rows of studies by study_id, outcomes and viral loads by row_id, arms by (study, arm)."""

    def __init__(self, pkg):
        self.pkg = pkg
        self.studies = by_key(pkg["studies"], "study_id")
        self.out = by_key(pkg["outcomes"], "row_id")
        self.vl = by_key(pkg["viral_loads"], "row_id")
        self.arms = by_key(pkg["arms"], "study_id", "arm_id")
        self.groups = overlap_groups(pkg["studies"])
        self.cited = cited_study_ids(pkg["studies"], self.groups)
        self.from_answer = answer_origin(pkg["field_provenance"])
        self.origin = {(r.resource, r.row_key, r.field): r.origin for r in pkg["field_provenance"]}

    def found(self, sid) -> bool:
        return sid in self.studies and self.studies[sid].verification in VERIFIED

    def copied(self, resource: str, key: str, field: str) -> bool:
        return (resource, key, field) in self.from_answer

    def rows(self, links):
        outs, vls, arms = [], [], []
        for link in links:
            if link.startswith("arm:"):
                s, a = link[4:].split("/")
                arms.append((s, a, self.arms[(s, a)]))
            elif link.startswith("vl:"):
                vls.append((link[3:], self.vl[link[3:]]))
            else:
                outs.append((link, self.out[link]))
        return outs, vls, arms

    def representative(self, sid: str) -> str | None:
        """The found report that stands for `sid`'s cohort, by the synthesis' overlap rule."""
        members = [s for s, g in self.groups.items() if g == self.groups.get(sid) and s != sid and self.found(s)]
        if not members:
            return None
        n = {s: sum(int(a.n) for a in self.arms.values() if a.study_id == s and a.treatment == "ivig"
                    and _present(a.n)) for s in members}
        keep, _ = resolve_overlaps([{"study_id": s, "design": self.studies[s].design, "n": n[s]} for s in members],
                                   self.groups)
        return str(keep[0]["study_id"])
