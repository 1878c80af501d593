"""From the data package to every analysis of the report (orchestration, no new statistics).

`build_results(pkg)` returns one JSON-safe dict holding, for each outcome, the analysis
dataset, the primary GLMM fit, every other method side by side, the sensitivity
scenarios, leave-one-out, the GRADE row; plus the comparative (IVIG vs control) effects,
the evidence table, the percentage checks, the PRISMA counts and the risk-of-bias table.
Everything the report prints comes from this dict (written to ``data/derived``).

Decisions that the data cannot make by themselves are constants here, each with its
reason, so a reviewer can change one and re-run.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..stats.pooling import leave_one_out, pool_proportions, pool_two_group
from ..stats.proportions import proportion_ci
from .audit_rules import check_percent
from .grade import grade_outcome

# The two outcomes of the question, then every other outcome pooled when >= 2 studies
# report counts for it.
PRIMARY_OUTCOMES = ("viremia_clearance", "graft_survival")
OUTCOME_LABELS = {
    "viremia_clearance": "BK viremia clearance",
    "graft_survival": "Graft survival",
    "graft_loss": "Graft loss",
    "histologic_resolution": "Histologic resolution",
    "renal_function_stable": "Stable or improved graft function",
    "adverse_event": "Serious adverse events of IVIG",
    "viral_load_reduction": "BK viral load reduction",
    "bkvn_progression": "Progression to BKVN",
    "rejection": "Acute rejection",
    "patient_survival": "Patient survival",
    "viruria_clearance": "BK viruria clearance",
    "incident_viremia": "Incident BK viremia (prevention)",
}
VERIFIED = ("full_text", "abstract", "conference_abstract", "secondary_source")
# Within a group of overlapping reports one report represents the cohort: a journal
# article before a conference abstract, then the larger n, then the id (stable).
DESIGN_RANK = {"rct": 0, "prospective_cohort": 1, "retrospective_cohort": 2, "case_series": 3,
               "case_report": 4, "conference_abstract": 5, "review": 6, "guideline": 7}
# The GLMM's CI and PI use t quantiles with k - 1 df (metafor rma.glmm(test="t")): the
# calibration study (make calibration) shows normal quantiles under-cover with this
# evidence's study sizes (mean coverage about 88%) while t quantiles come close to 95%.
PRIMARY_OPTIONS = {"model": "glmm", "n_agq": 7, "ci_method": "knapp-hartung", "measure": "logit"}
# Every method shown side by side (label, options)
METHODS = [
    ("GLMM, ML, AGHQ-7, t intervals (primary)", {"model": "glmm", "n_agq": 7, "ci_method": "knapp-hartung"}),
    ("GLMM, ML, AGHQ-7, z intervals", {"model": "glmm", "n_agq": 7}),
    ("GLMM, ML, Laplace, t intervals", {"model": "glmm", "n_agq": 1, "ci_method": "knapp-hartung"}),
    ("RE logit, REML", {"model": "random", "measure": "logit", "tau2_method": "reml"}),
    ("RE logit, REML, Knapp-Hartung", {"model": "random", "measure": "logit", "tau2_method": "reml",
                                        "ci_method": "knapp-hartung"}),
    ("RE logit, DerSimonian-Laird", {"model": "random", "measure": "logit",
                                     "tau2_method": "dersimonian-laird"}),
    ("RE logit, Paule-Mandel", {"model": "random", "measure": "logit", "tau2_method": "paule-mandel"}),
    ("RE logit, ML", {"model": "random", "measure": "logit", "tau2_method": "ml"}),
    ("RE Freeman-Tukey, REML", {"model": "random", "measure": "freeman-tukey", "tau2_method": "reml"}),
    ("RE Freeman-Tukey, DL", {"model": "random", "measure": "freeman-tukey",
                              "tau2_method": "dersimonian-laird"}),
    ("RE arcsine, REML", {"model": "random", "measure": "arcsine", "tau2_method": "reml"}),
    ("RE raw proportion, REML", {"model": "random", "measure": "raw", "tau2_method": "reml"}),
    ("Common effect, logit", {"model": "common", "measure": "logit"}),
]


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
    names = {"accp2012": "ACCP abstract", "anonpeds2012": "Pediatric series",
             "anoncase2024": "Case report", "anonharm2014": "Harm case report",
             "ectrx2023": "Exp Clin Transplant RCT", "ivigprevention_nd": "AJT prevention study"}
    return f"{names.get(sid, sid)} {y}"


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
    """IVIG-arm rows of treatment studies with a count and a denominator for `outcome`.

    Graft survival is also derived from graft loss (survivors = n - lost) when a study
    reports only the loss; the row says so in ``derivation``.
    """
    st = pkg["studies"].set_index("study_id")
    arms = pkg["arms"]
    ivig_arms = {(a.study_id, a.arm_id) for a in arms.itertuples(index=False) if a.treatment == "ivig"}
    out = pkg["outcomes"]
    wanted = [outcome] + (["graft_loss"] if outcome == "graft_survival" else [])
    rows = []
    for r in out.itertuples(index=False):
        if r.outcome not in wanted or r.basis != basis:
            continue
        if (r.study_id, r.arm_id) not in ivig_arms or st.loc[r.study_id, "role"] != "treatment":
            continue
        if not (_present(r.events) and _present(r.n)):
            continue
        events, derivation = int(r.events), "as extracted"
        if r.outcome == "graft_loss" and outcome == "graft_survival":
            events, derivation = int(r.n) - int(r.events), "graft survival = n - grafts lost"
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


def _fit(df: pd.DataFrame, **opts):
    return pool_proportions(df.events.to_numpy(), df.n.to_numpy(), study_ids=df.study_id.tolist(), **opts)


def _summary_row(label, group, res, df, primary=False, note="") -> dict:
    d = res.to_dict()
    return {"label": label, "group": group, "estimate": d["estimate"], "ci_low": d["ci_low"],
            "ci_high": d["ci_high"], "pi_low": d["pi_low"], "pi_high": d["pi_high"],
            "tau2": d["tau2"], "i2": d["i2"], "k": d["k"], "n_patients": int(df.n.sum()),
            "events": int(df.events.sum()), "primary": primary, "studies": df.study_id.tolist(),
            "warnings": d["warnings"], "note": note}


def scenarios(pkg, outcome: str, groups, *, reported: pd.DataFrame | None = None,
              claimed: pd.DataFrame | None = None) -> list[tuple[str, pd.DataFrame, str]]:
    """Every sensitivity scenario: (label, dataset, note)."""
    st = pkg["studies"].set_index("study_id")
    if reported is None:
        reported = outcome_rows(pkg, outcome, basis="reported")
    if claimed is None:
        claimed = outcome_rows(pkg, outcome, basis="claimed")
    base, _ = resolve_overlaps(reported, groups)
    out = []
    if base.empty and claimed.empty:
        return out
    out.append(("All studies, reported counts (primary)", base, "one report per overlapping cohort"))
    cited_ids = {s for s in st.index if _present(st.loc[s, "answer_ref"])}
    cited_groups = {groups[s] for s in cited_ids}
    if not base.empty:
        cited = base[[groups[s] in cited_groups for s in base.study_id]]
        out.append(("Cited studies only (reported counts)", cited,
                    "the answer's references 3-7 or a report of the same cohort"))
    if not claimed.empty:
        cl = claimed.copy()
        out.append(("Cited studies, numbers as the answer claims them", cl,
                    "claimed counts rebuilt from the answer's percentages; not verified"))
        merged = pd.concat([base[[groups[s] not in {groups[c] for c in cl.study_id} for s in base.study_id]],
                            cl], ignore_index=True) if not base.empty else cl
        out.append(("All studies, answer's numbers replacing overlapping reports",
                    merged.sort_values("study_id").reset_index(drop=True),
                    "verified counts plus the answer's unverified counts for its own references"))
    if not base.empty:
        out.append(("Counts as printed (no counts computed from percentages)",
                    base[base.count_basis == "counted"], "drops counts rebuilt from a percentage"))
        out.append(("Without single-patient case reports", base[base.n > 1], "drops n = 1"))
        out.append(("Without conference abstracts", base[base.design != "conference_abstract"], ""))
        out.append(("Adults only (population reported as adult)", base[base.population == "adult"], ""))
        out.append(("Without pediatric studies", base[base.population != "pediatric"], ""))
        out.append(("Biopsy-proven BKVN only", base[base.setting == "biopsy_proven_bkvn"],
                    "the setting of the clinical question"))
        # each alternative choice within overlap groups (reported or claimed reports)
        pool = pd.concat([reported, claimed], ignore_index=True)
        for g in sorted({groups[s] for s in pool.study_id}):
            members = pool[[groups[s] == g for s in pool.study_id]]
            if members.study_id.nunique() < 2:
                continue
            chosen = base[[groups[s] == g for s in base.study_id]].study_id.tolist()
            for alt in sorted(set(members.study_id) - set(chosen)):
                alt_row = members[members.study_id == alt].iloc[[0]]
                rest = base[[groups[s] != g for s in base.study_id]]
                data = pd.concat([rest, alt_row], ignore_index=True).sort_values("study_id")
                out.append((f"Overlap choice: {alt} instead of {', '.join(chosen) or 'none'}",
                            data.reset_index(drop=True), "the other report of the same cohort"))
    return out


def analyse_outcome(pkg, outcome: str, groups, appraisal: pd.DataFrame) -> dict[str, Any] | None:
    """Primary fit, methods, scenarios, leave-one-out and GRADE for one outcome."""
    reported = outcome_rows(pkg, outcome, basis="reported")
    base, overlap_notes = resolve_overlaps(reported, groups)
    result: dict[str, Any] = {"outcome": outcome, "label": OUTCOME_LABELS.get(outcome, outcome),
                              "overlap_notes": overlap_notes}
    if base.empty:
        result.update(k=0, primary=None, methods=[], scenarios=[], leave_one_out=None, grade=None,
                      dataset=[])
        claimed = outcome_rows(pkg, outcome, basis="claimed")
        result["scenarios"] = [_summary_row(lbl, "Scenario", _fit(df, **PRIMARY_OPTIONS), df, note=note)
                               for lbl, df, note in scenarios(pkg, outcome, groups, reported=reported,
                                                              claimed=claimed)
                               if not df.empty] if not claimed.empty else []
        return result
    primary = _fit(base, **PRIMARY_OPTIONS)
    result["k"] = len(base)
    # The exact interval of the summed counts ignores heterogeneity; it is what can be said
    # when the logistic models have no finite estimate (every study at 0% or at 100%).
    crude = proportion_ci(int(base.events.sum()), int(base.n.sum()))
    result["crude"] = {"events": crude.events, "n": crude.n, "proportion": crude.proportion,
                       "ci_low": crude.ci.low, "ci_high": crude.ci.high, "method": crude.method}
    result["dataset"] = [{k: (v if not isinstance(v, np.integer) else int(v)) for k, v in rec.items()}
                         for rec in base.drop(columns=["first_author"]).to_dict(orient="records")]
    result["primary"] = primary.to_dict()
    result["primary_summary"] = primary.summary()
    result["methods"] = [
        _summary_row(lbl, "Method", _fit(base, **opts), base, primary=(i == 0))
        for i, (lbl, opts) in enumerate(METHODS)
    ]
    scen = []
    for i, (lbl, df, note) in enumerate(scenarios(pkg, outcome, groups, reported=reported)):
        if df.empty:
            scen.append({"label": lbl, "group": "Scenario", "k": 0, "note": note or "no study left",
                         "estimate": None, "ci_low": None, "ci_high": None, "pi_low": None,
                         "pi_high": None, "tau2": None, "i2": None, "n_patients": 0, "events": 0,
                         "primary": False, "studies": [], "warnings": []})
            continue
        scen.append(_summary_row(lbl, "Scenario", _fit(df, **PRIMARY_OPTIONS), df, primary=(i == 0),
                                 note=note))
    result["scenarios"] = scen
    if len(base) >= 2:
        loo = leave_one_out(base.events.to_numpy(), base.n.to_numpy(), study_ids=base.study_id.tolist(),
                            **PRIMARY_OPTIONS)
        result["leave_one_out"] = loo.to_dict()["leave_one_out"]
    else:
        result["leave_one_out"] = None
    result["grade"] = grade_outcome(result, base, appraisal)
    return result


def comparative(pkg) -> dict[str, Any]:
    """Per-study IVIG-versus-control risk ratios and differences; pooled only when >= 2
    studies of the same role and outcome exist (never across treatment and prevention)."""
    arms = pkg["arms"]
    out = pkg["outcomes"]
    st = pkg["studies"].set_index("study_id")
    rows = []
    for sid in sorted(set(arms.study_id)):
        a = arms[arms.study_id == sid]
        if not ({"ivig", "control"} <= set(a.treatment)):
            continue
        ivig_arm = a[a.treatment == "ivig"].arm_id.iloc[0]
        ctrl_arm = a[a.treatment == "control"].arm_id.iloc[0]
        o = out[(out.study_id == sid) & (out.basis == "reported")]
        for outcome in sorted(set(o.outcome)):
            oi = o[(o.outcome == outcome) & (o.arm_id == ivig_arm)]
            oc = o[(o.outcome == outcome) & (o.arm_id == ctrl_arm)]
            if oi.empty or oc.empty:
                continue
            ri, rc = oi.iloc[0], oc.iloc[0]
            printed = {"percent_1": float(ri.percent_reported) if _present(ri.percent_reported) else None,
                       "percent_0": float(rc.percent_reported) if _present(rc.percent_reported) else None}
            if not all(_present(v) for v in (ri.events, ri.n, rc.events, rc.n)):
                rows.append({"study_id": sid, "outcome": outcome, "role": st.loc[sid, "role"],
                             "design": st.loc[sid, "design"], "note": "a count or denominator is not reported",
                             "events_1": None, "n_1": None, "events_0": None, "n_0": None, **printed})
                continue
            rec = {"study_id": sid, "outcome": outcome, "role": st.loc[sid, "role"],
                   "design": st.loc[sid, "design"], "events_1": int(ri.events), "n_1": int(ri.n),
                   "events_0": int(rc.events), "n_0": int(rc.n), "note": "", **printed}
            for measure, key in (("log-risk-ratio", "rr"), ("risk-difference", "rd")):
                if measure == "log-risk-ratio" and ri.events == 0 and rc.events == 0:
                    rec.update({f"{key}": None, f"{key}_ci_low": None, f"{key}_ci_high": None})
                    rec["note"] = "no events in either arm: the risk ratio is undefined"
                    continue
                r = pool_two_group([ri.events], [ri.n], [rc.events], [rc.n], measure=measure,
                                   model="common")
                d = r.to_dict()
                rec.update({key: d["display_estimate"], f"{key}_ci_low": d["display_ci_low"],
                            f"{key}_ci_high": d["display_ci_high"]})
            rows.append(rec)
    pooled = []
    df = pd.DataFrame(rows)
    if not df.empty:
        usable = df[df.events_1.notna()]
        for (outcome, role), g in usable.groupby(["outcome", "role"]):
            if len(g) < 2:
                continue
            r = pool_two_group(g.events_1.astype(int), g.n_1.astype(int), g.events_0.astype(int),
                               g.n_0.astype(int), measure="log-risk-ratio", model="random",
                               study_ids=g.study_id.tolist())
            pooled.append({"outcome": outcome, "role": role, **r.to_dict()})
    caveat = ("IVIG-versus-control comparisons come from non-randomised cohorts and one small "
              "pilot trial whose arms differed at baseline; co-interventions (leflunomide, "
              "cidofovir, ciprofloxacin, immunosuppression reduction) were given in both arms. "
              "No outcome has two comparative studies of the same role, so nothing is pooled.")
    if pooled:
        caveat = caveat.replace("No outcome has two comparative studies of the same role, so nothing is pooled.",
                                "Pooled only within the same outcome and role.")
    return {"studies": [dict(r.items()) for r in rows], "pooled": pooled, "caveat": caveat}


def evidence_table(pkg) -> list[dict[str, Any]]:
    """One row per study: design, population, setting, n, regimen, co-interventions, follow-up."""
    st = pkg["studies"]
    arms = pkg["arms"]
    rows = []
    for r in st.itertuples(index=False):
        a = arms[arms.study_id == r.study_id]
        ivig = a[a.treatment == "ivig"]
        ctrl = a[a.treatment == "control"]
        n_ivig = int(ivig.n.dropna().sum()) if ivig.n.notna().any() else None
        dose = "; ".join(sorted({str(x) for x in ivig.ivig_dose_text.dropna()})) or (
            "; ".join(f"{float(x):g} g/kg" for x in ivig.ivig_dose_g_per_kg.dropna()) or "not reported")
        co = "; ".join(sorted({str(x) for x in ivig.co_interventions.dropna()})) or "not reported"
        fu = "; ".join(sorted({str(x) for x in a.follow_up_text.dropna()})) or "not reported"
        rows.append({"study_id": r.study_id, "label": study_label(r._asdict()), "citation": r.citation,
                     "year": None if not _present(r.year) else int(r.year), "design": r.design,
                     "population": r.population, "setting": r.setting, "role": r.role,
                     "answer_ref": None if not _present(r.answer_ref) else int(r.answer_ref),
                     "n_ivig": n_ivig, "n_control": int(ctrl.n.dropna().sum()) if ctrl.n.notna().any() else None,
                     "regimen": dose, "co_interventions": co, "follow_up": fu,
                     "verification": r.verification, "overlaps_with": r.overlaps_with or "",
                     "doi": r.doi or "", "pmid": r.pmid or "", "source_url": r.source_url})
    return rows


def percent_checks(pkg) -> list[dict[str, Any]]:
    """Every printed percentage recomputed from its count; mismatches flagged, not fixed."""
    out = []
    for r in pkg["outcomes"].itertuples(index=False):
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


def prisma_counts(pkg) -> dict[str, Any]:
    """PRISMA 2020 flow counts from the search log and the screening table.

    Records are identified per query; duplicates are records seen more than once (same
    normalised URL, DOI or PMID) or marked duplicate; a record's decision is "included" if
    any of its screenings included it.
    """
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

    sc = sc.assign(key=[key(r) for r in sc.itertuples(index=False)])
    identified = len(sc)
    unique = sc.groupby("key")
    decisions = unique.decision.agg(lambda d: "included" if (d == "included").any()
                                    else ("excluded" if (d == "excluded").any() else "duplicate"))
    reasons = unique.reason.agg(lambda r: next((x for x in r if _present(x)), "other"))
    n_unique = len(decisions)
    excluded = decisions[decisions == "excluded"]
    only_dup = decisions[decisions == "duplicate"]
    reason_counts: dict[str, int] = {}
    not_retrieved = 0
    for k in excluded.index:
        reason = str(reasons[k]).split(":")[0]
        if reason == "not_retrievable":
            not_retrieved += 1
            continue
        reason_counts[reason] = reason_counts.get(reason, 0) + 1
    screen_excl = sum(v for k, v in reason_counts.items()
                      if k in ("not_kidney_transplant", "not_ivig", "not_bk", "review_or_editorial", "other"))
    full_text_reasons = {k: v for k, v in reason_counts.items()
                         if k not in ("not_kidney_transplant", "not_ivig", "not_bk", "review_or_editorial", "other")}
    st = pkg["studies"].set_index("study_id")
    included_ids = sorted({s for s in sc[sc.decision == "included"].study_id.dropna()
                           if s in st.index and st.loc[s, "role"] != "guideline"})
    treat = [s for s in included_ids if st.loc[s, "role"] == "treatment"]
    groups = overlap_groups(pkg["studies"])
    sought = n_unique - len(only_dup) - screen_excl
    n_guidelines = len({s for s in sc[sc.decision == "included"].study_id.dropna()
                        if s in st.index and st.loc[s, "role"] == "guideline"})
    corpus_names = {"pages": "stored PubMed, PMC and journal pages", "docs": "documentation pages",
                    "issues": "issue threads", "code": "code repositories"}
    corpus_of = dict(zip(sl.query_id, sl.corpus, strict=True))
    by_source: dict[str, int] = {}
    for q in sc.query_id:
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


def rob_table(pkg) -> list[dict[str, Any]]:
    """The Murad et al. (2018) appraisal, item level, with study labels."""
    st = pkg["studies"].set_index("study_id")
    return [{"study_id": r.study_id, "label": study_label({"study_id": r.study_id, **st.loc[r.study_id].to_dict()}),
             "item": r.item, "domain": r.domain, "answer": r.answer, "reason": r.reason}
            for r in pkg["appraisal"].itertuples(index=False)]


def pooled_outcomes(pkg) -> list[str]:
    """The outcomes analysed, in report order: the two of the question, then every other
    outcome (graft loss aside, folded into graft survival) with counts from >= 2 rows."""
    have = sorted({r.outcome for r in pkg["outcomes"].itertuples(index=False)
                   if r.basis == "reported" and _present(r.events) and _present(r.n)})
    secondary = []
    for o in have:
        if o in PRIMARY_OUTCOMES or o == "graft_loss":
            continue
        if len(outcome_rows(pkg, o)) >= 2:
            secondary.append(o)
    return [*PRIMARY_OUTCOMES, *secondary]


def build_results(pkg, *, package_hashes: dict[str, str]) -> dict[str, Any]:
    """Every analysis of the report as one JSON-safe dict (see the module docstring)."""
    groups = overlap_groups(pkg["studies"])
    appraisal = pkg["appraisal"]
    outcomes = {o: analyse_outcome(pkg, o, groups, appraisal) for o in pooled_outcomes(pkg)}
    return {
        "generated_by": f"bkvn-ivig-evidence {__version__} (python -m analysis analyze)",
        "data_hashes": dict(sorted(package_hashes.items())),
        "primary_method": {"label": METHODS[0][0], **PRIMARY_OPTIONS,
                           "study_ci_method": "clopper-pearson", "confidence_level": 0.95},
        "outcomes": outcomes,
        "outcome_order": list(outcomes),
        "comparative": comparative(pkg),
        "evidence_table": evidence_table(pkg),
        "percent_checks": percent_checks(pkg),
        "prisma": prisma_counts(pkg),
        "risk_of_bias": rob_table(pkg),
        "viral_loads": [
            {k: (None if not _present(v) else v) for k, v in rec.items()}
            for rec in pkg["viral_loads"].astype(object).to_dict(orient="records")
        ],
    }
