"""The descriptive tables of the review: evidence table, percentage checks, PRISMA flow
counts and the risk-of-bias table (no statistics beyond counting)."""

from __future__ import annotations

import re
from typing import Any

from .audit_rules import check_percent
from .rows import by_key
from .selection import _present, overlap_groups, study_label


def _column(rows, name: str) -> list:
    """A column's non-missing values; none when the package's table has no such column
    (the dose and follow-up columns are optional)."""
    return [v for v in (getattr(r, name, None) for r in rows) if _present(v)]


def _total(rows) -> int | None:
    """The summed arm sizes, None when no arm gives one."""
    ns = _column(rows, "n")
    return int(sum(ns)) if ns else None


def evidence_table(pkg) -> list[dict[str, Any]]:
    """One row per study: design, population, setting, n, regimen, co-interventions, follow-up.

    ``n_ivig`` and ``n_control`` are the patients of the intervention and comparator arms
    (the key names predate the question file and stay for the derived files' readers)."""
    from .question import arm_codes

    treated, control = arm_codes(pkg)
    arms: dict[str, list] = {}
    for x in pkg["arms"]:
        arms.setdefault(x.study_id, []).append(x)
    rows = []
    for r in pkg["studies"]:
        a = arms.get(r.study_id, [])
        ivig = [x for x in a if x.treatment == treated]
        ctrl = [x for x in a if x.treatment == control]
        dose = "; ".join(sorted({str(x) for x in _column(ivig, "ivig_dose_text")})) or (
            "; ".join(f"{float(x):g} g/kg" for x in _column(ivig, "ivig_dose_g_per_kg")) or "not reported")
        co = "; ".join(sorted({str(x) for x in _column(ivig, "co_interventions")})) or "not reported"
        fu = "; ".join(sorted({str(x) for x in _column(a, "follow_up_text")})) or "not reported"
        rows.append({"study_id": r.study_id, "label": study_label(r), "citation": r.citation,
                     "year": None if not _present(r.year) else int(r.year), "design": r.design,
                     "population": r.population, "setting": r.setting, "role": r.role,
                     "answer_ref": None if not _present(r.answer_ref) else int(r.answer_ref),
                     "n_ivig": _total(ivig), "n_control": _total(ctrl),
                     "regimen": dose, "co_interventions": co, "follow_up": fu,
                     "verification": r.verification, "overlaps_with": r.overlaps_with,
                     "doi": r.doi, "pmid": r.pmid, "source_url": r.source_url})
    return rows


def percent_checks(pkg) -> list[dict[str, Any]]:
    """Every printed percentage recomputed from its count; mismatches flagged, not fixed."""
    out = []
    for r in pkg["outcomes"]:
        if not _present(r.percent_reported):
            continue
        ev = int(r.events) if _present(r.events) else None
        n = int(r.n) if _present(r.n) else None
        chk = check_percent(float(r.percent_reported), ev, n)
        out.append({"row_id": r.row_id, "study_id": r.study_id, "outcome": r.outcome, "basis": r.basis,
                    "percent_reported": float(r.percent_reported), "events": ev, "n": n,
                    "recomputed": chk.recomputed, "consistent": chk.consistent, "reason": chk.reason,
                    "count_basis": r.count_basis})
    return out


# exclusion reasons that act at title/abstract screening whatever the question; the question
# file adds its own (question.toml [prisma] screening_reasons: off-topic population, ...)
SCREENING_REASONS = ("review_or_editorial", "other")


def _screening_reasons(pkg) -> tuple[str, ...]:
    from .question import question_for

    return tuple(question_for(pkg).prisma.get("screening_reasons", ())) + SCREENING_REASONS


def prisma_counts(pkg) -> dict[str, Any] | None:
    """PRISMA 2020 flow counts from the search log and the screening table (None when the
    package logs no search: no flow diagram is drawn).

    Records are identified per query; duplicates are records seen more than once (same
    normalised URL, DOI or PMID) or marked duplicate; a record's decision is "included" if
    any of its screenings included it.
    """
    if "screening" not in pkg.tables or "search_log" not in pkg.tables:
        return None
    sc = pkg["screening"]
    sl = pkg["search_log"]

    def key(r):
        if _present(r.pmid):
            return f"pmid:{r.pmid}"
        if _present(r.doi):
            return f"doi:{str(r.doi).lower()}"
        url = str(r.url or r.citation).lower()
        url = re.sub(r"^https?://(www\.)?", "", url).split("?")[0].rstrip("/")
        return f"url:{url}"

    identified = len(sc)
    unique: dict[str, list] = {}
    for r in sc:
        unique.setdefault(key(r), []).append(r)
    decisions = {k: "included" if any(r.decision == "included" for r in rs)
                 else ("excluded" if any(r.decision == "excluded" for r in rs) else "duplicate")
                 for k, rs in sorted(unique.items())}
    n_unique = len(decisions)
    only_dup = [k for k, d in decisions.items() if d == "duplicate"]
    reason_counts: dict[str, int] = {}
    not_retrieved = 0
    for k in (k for k, d in decisions.items() if d == "excluded"):
        reason = str(next((r.reason for r in unique[k] if _present(r.reason)), "other")).split(":")[0]
        if reason == "not_retrievable":
            not_retrieved += 1
            continue
        reason_counts[reason] = reason_counts.get(reason, 0) + 1
    at_screening = _screening_reasons(pkg)
    screen_excl = sum(v for k, v in reason_counts.items() if k in at_screening)
    full_text_reasons = {k: v for k, v in reason_counts.items() if k not in at_screening}
    st = by_key(pkg["studies"], "study_id")
    included = {r.study_id for r in sc if r.decision == "included" and _present(r.study_id) and r.study_id in st}
    included_ids = sorted(s for s in included if st[s].role != "guideline")
    treat = [s for s in included_ids if st[s].role == "treatment"]
    groups = overlap_groups(pkg["studies"])
    sought = n_unique - len(only_dup) - screen_excl
    n_guidelines = len({s for s in included if st[s].role == "guideline"})
    corpus_names = {"pages": "stored PubMed, PMC and journal pages", "docs": "documentation pages",
                    "issues": "issue threads", "code": "code repositories"}
    corpus_of = {r.query_id: r.corpus for r in sl}
    by_source: dict[str, int] = {}
    for r in sc:
        q = r.query_id
        name = corpus_names.get(corpus_of.get(q, ""), corpus_of.get(q, "other"))
        by_source[name] = by_source.get(name, 0) + 1
    return {
        "queries": len(sl),
        "by_source": dict(sorted(by_source.items())),
        "identified": identified,
        "duplicates": identified - n_unique + len(only_dup),
        "screened": n_unique - len(only_dup),
        "excluded_screening": int(screen_excl),
        "sought": int(sought),
        "not_retrieved": int(not_retrieved),
        "assessed": int(sought - not_retrieved),
        "excluded_full_text": int(sum(full_text_reasons.values())) + n_guidelines,
        "exclusion_reasons": dict(sorted({**full_text_reasons,
                                          **({"guideline (context for the audit, not a study)": n_guidelines}
                                             if n_guidelines else {})}.items())),
        "reports_included": len(included_ids),
        "studies_included": len({groups[s] for s in included_ids}),
        "guidelines_included": n_guidelines,
        "treatment_reports": len(treat),
        "note": ("Reports were judged on the stored abstract or page (full texts were not "
                 "available to the search tool), so 'assessed for eligibility' means the "
                 "abstract-level assessment."),
    }
