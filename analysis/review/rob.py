"""Design-specific risk of bias: which tool applies to a study, the rules its table must
obey, and the per-study summaries the figures and the GRADE rules read.

Three tools, one table each in ``data/raw``:

* **RoB 2** (Sterne et al. 2019, BMJ 366:l4898, doi:10.1136/bmj.l4898) for randomised
  trials: five domains and an overall judgement, each ``low``, ``some_concerns``,
  ``high`` or ``no_information``.
* **ROBINS-I** (Sterne et al. 2016, BMJ 355:i4919, doi:10.1136/bmj.i4919) for
  non-randomised comparative studies (a cohort with a control arm): seven domains and an
  overall judgement, each ``low``, ``moderate``, ``serious``, ``critical`` or
  ``no_information``.
* **Murad et al. 2018** (BMJ EBM 23:60-63, doi:10.1136/bmjebm-2017-110853) for case series,
  case reports, single-arm cohorts and conference abstracts of them: eight items in four
  domains, each ``yes``, ``no``, ``unclear`` (the source does not say) or
  ``not_applicable``.

"No information" (``no_information``; ``unclear`` for Murad) is never read as high risk: it
says that the stored source (mostly an abstract) does not show enough to judge.
"""

from __future__ import annotations

from typing import Any

from ..stats._validation import InputError
from .rows import Table

TOOLS = ("rob2", "robins_i", "murad")
TOOL_NAMES = {"rob2": "RoB 2 (randomised trials)", "robins_i": "ROBINS-I (non-randomised comparative studies)",
              "murad": "Murad et al. 2018 (case series and case reports)"}
TOOL_CITATIONS = {"rob2": "Sterne et al. 2019", "robins_i": "Sterne et al. 2016", "murad": "Murad et al. 2018"}
# domain code -> label, in the order the tools list them
DOMAINS = {
    "rob2": {"d1_randomisation": "D1 Randomisation process",
             "d2_deviations": "D2 Deviations from intended interventions",
             "d3_missing_outcome_data": "D3 Missing outcome data",
             "d4_outcome_measurement": "D4 Measurement of the outcome",
             "d5_reported_result": "D5 Selection of the reported result",
             "overall": "Overall"},
    "robins_i": {"d1_confounding": "D1 Confounding",
                 "d2_selection": "D2 Selection of participants",
                 "d3_classification": "D3 Classification of interventions",
                 "d4_deviations": "D4 Deviations from intended interventions",
                 "d5_missing_data": "D5 Missing data",
                 "d6_outcome_measurement": "D6 Measurement of outcomes",
                 "d7_reported_result": "D7 Selection of the reported result",
                 "overall": "Overall"},
    "murad": {"q1": "Q1 Whole experience",
              "q2": "Q2 Exposure ascertained",
              "q3": "Q3 Outcome ascertained",
              "q4": "Q4 Other causes ruled out",
              "q5": "Q5 Challenge/rechallenge",
              "q6": "Q6 Dose-response",
              "q7": "Q7 Follow-up long enough",
              "q8": "Q8 Enough detail"},
}
MURAD_DOMAIN = {"q1": "selection", "q2": "ascertainment", "q3": "ascertainment", "q4": "causality",
                "q5": "causality", "q6": "causality", "q7": "causality", "q8": "reporting"}
# severity order of the judgements (no_information stands apart: it is not a severity)
SEVERITY = {"rob2": {"low": 0, "some_concerns": 1, "high": 2},
            "robins_i": {"low": 0, "moderate": 1, "serious": 2, "critical": 3}}
NO_INFORMATION = "no_information"
# Murad items that decide whether a single-arm event rate is at risk of bias: selection
# (q1), outcome ascertainment (q3) and alternative causes (q4)
MURAD_KEY_ITEMS = ("q1", "q3", "q4")
COMPARATIVE_DESIGNS = ("retrospective_cohort", "prospective_cohort")

__all__ = ["DOMAINS", "TOOLS", "check_risk_of_bias", "rob_tables", "study_concern", "tool_for"]


def tool_for(design: str, has_control_arm: bool) -> str:
    """The risk-of-bias tool for a study: RoB 2 for an RCT, ROBINS-I for a cohort with a
    control arm, Murad 2018 otherwise (case series and reports, single-arm cohorts,
    conference abstracts).

    Examples
    --------
    >>> tool_for("rct", False), tool_for("retrospective_cohort", True), tool_for("case_report", True)
    ('rob2', 'robins_i', 'murad')
    """
    if design == "rct":
        return "rob2"
    if design in COMPARATIVE_DESIGNS and has_control_arm:
        return "robins_i"
    return "murad"


def study_tools(studies, arms, control_code: str | None = "control") -> dict[str, str]:
    """study_id -> tool for every study that is not a guideline (``control_code``: the
    arms.csv treatment code of a comparator arm; None for a question without one)."""
    control = {a.study_id for a in arms if a.treatment == control_code} if control_code else set()
    return {r.study_id: tool_for(r.design, r.study_id in control) for r in studies if r.role != "guideline"}


def _file(tool: str) -> str:
    return f"data/raw/{tool}.csv"


def _check_tool_membership(t: dict[str, Table], tools: dict[str, str]) -> None:
    for tool in TOOLS:
        for i, sid in enumerate(t[tool].column("study_id"), start=1):
            want = tools.get(sid)
            if want is None:
                raise InputError(f"{sid} is a guideline: guidelines are not appraised for risk of bias",
                                 file=_file(tool), row=i, field="study_id")
            if want != tool:
                raise InputError(f"{sid} must be appraised with {TOOL_NAMES[want]} (data/raw/{want}.csv), "
                                 f"not here", file=_file(tool), row=i, field="study_id")
    for sid, tool in sorted(tools.items()):
        if not any(r.study_id == sid for r in t[tool]):
            raise InputError(f"included study {sid} has no rows; add its {TOOL_NAMES[tool]} judgements",
                             file=_file(tool), field="study_id")


def _groups(rows: Table, keys: list[str]) -> list[tuple[tuple, list[tuple[int, Any]]]]:
    """Rows grouped by the values of `keys`, groups in key order, each row with its 1-based
    number in the table (what pandas' ``groupby(keys, sort=True)`` gives)."""
    out: dict[tuple, list[tuple[int, Any]]] = {}
    for i, r in enumerate(rows, start=1):
        out.setdefault(tuple(getattr(r, k) for k in keys), []).append((i, r))
    return sorted(out.items(), key=lambda kv: kv[0])


def _check_complete(rows: Table, tool: str, keys: list[str], domain_field: str) -> None:
    want = set(DOMAINS[tool])
    for key, g in _groups(rows, keys):
        have = {getattr(r, domain_field) for _, r in g}
        if have != want:
            missing = ", ".join(sorted(want - have))
            raise InputError(f"{'/'.join(map(str, key))} lacks {domain_field} {missing}", file=_file(tool),
                             row=g[0][0], field=domain_field)


def _check_overall(rows: Table, tool: str) -> None:
    """The overall judgement is at least as severe as the worst domain, is never ``low``
    when a domain has no information, and is ``no_information`` only when no domain has a
    concern (RoB 2 and ROBINS-I algorithms, Sterne 2019 and 2016)."""
    sev = SEVERITY[tool]
    for (sid, outcome), g in _groups(rows, ["study_id", "outcome"]):
        dom = [r.judgement for _, r in g if r.domain != "overall"]
        row, ov = next((i, r) for i, r in g if r.domain == "overall")
        worst = max((sev[j] for j in dom if j != NO_INFORMATION), default=0)
        any_ni = NO_INFORMATION in dom
        if ov.judgement == NO_INFORMATION:
            if worst > 0:
                raise InputError(f"{sid}/{outcome}: overall 'no_information' although a domain is judged "
                                 "worse than low", file=_file(tool), row=row, field="judgement")
            continue
        if sev[ov.judgement] < worst:
            raise InputError(f"{sid}/{outcome}: overall {ov.judgement!r} is less severe than its worst domain",
                             file=_file(tool), row=row, field="judgement")
        if ov.judgement == "low" and any_ni:
            raise InputError(f"{sid}/{outcome}: overall 'low' although a domain has no information",
                             file=_file(tool), row=row, field="judgement")


_COLUMNS = {"rob2": ("study_id", "outcome", "domain", "judgement", "support", "source_url", "source_locator"),
            "robins_i": ("study_id", "outcome", "domain", "judgement", "support", "source_url", "source_locator"),
            "murad": ("study_id", "item", "domain", "judgement", "support", "source_url", "source_locator")}


def has_risk_of_bias(tables) -> bool:
    """Whether the package appraises risk of bias at all (has any of the three tables)."""
    return any(tool in tables for tool in TOOLS)


def tool_table(tables, tool: str) -> Table:
    """A tool's table, or an empty one with its columns when the package has no such table
    (a package that appraises with one tool need not carry the other two files)."""
    return tables[tool] if tool in tables else Table(_COLUMNS[tool])


def check_risk_of_bias(t: dict[str, Table], control_code: str | None = "control") -> None:
    """Loader rules for the three risk-of-bias tables (first failure raises `InputError`).

    Every included study (every role but guideline) has rows in exactly the table of its
    tool (`tool_for`); every study/outcome has each domain of its tool once; Murad items sit
    in their domain; the overall RoB 2 / ROBINS-I judgement agrees with its domains. Types,
    vocabularies, the judgement text and the source locator are required by the schema.
    A package with none of the three tables does not appraise risk of bias (the report
    says so); one with any of them must appraise every study.
    """
    if not has_risk_of_bias(t):
        return
    t = {**t, **{tool: tool_table(t, tool) for tool in TOOLS}}
    tools = study_tools(t["studies"], t["arms"], control_code)
    _check_tool_membership(t, tools)
    for tool in ("rob2", "robins_i"):
        _check_complete(t[tool], tool, ["study_id", "outcome"], "domain")
        _check_overall(t[tool], tool)
    mu = t["murad"]
    for i, r in enumerate(mu, start=1):
        if MURAD_DOMAIN[r.item] != r.domain:
            raise InputError(f"item {r.item} belongs to domain {MURAD_DOMAIN[r.item]!r}, not {r.domain!r}",
                             file=_file("murad"), row=i, field="domain")
    _check_complete(mu, "murad", ["study_id"], "item")


def study_concern(pkg, study_id: str) -> tuple[str, str]:
    """One study's risk of bias on a common scale, for the GRADE rules.

    Returns ``(level, text)`` with level ``"high"`` (Murad: a "no" on q1, q3 or q4; RoB 2
    high; ROBINS-I serious or critical), ``"some"`` (RoB 2 some concerns; ROBINS-I
    moderate), ``"no_information"`` (Murad: "unclear" on a key item and no "no"; an
    overall no-information judgement) or ``"low"``.
    """
    t = pkg.tables
    for tool in ("rob2", "robins_i"):
        ov = [r.judgement for r in tool_table(t, tool) if r.study_id == study_id and r.domain == "overall"]
        if ov:
            j = ov[0]
            level = {"low": "low", "some_concerns": "some", "moderate": "some", "high": "high",
                     "serious": "high", "critical": "high"}.get(j, "no_information")
            return level, f"{'RoB 2' if tool == 'rob2' else 'ROBINS-I'} overall: {j.replace('_', ' ')}"
    items = [r for r in tool_table(t, "murad") if r.study_id == study_id and r.item in MURAD_KEY_ITEMS]
    no = sorted(r.item for r in items if r.judgement == "no")
    unclear = sorted(r.item for r in items if r.judgement == "unclear")
    if no:
        return "high", f"Murad 2018: 'no' on {', '.join(no)}"
    if unclear:
        return "no_information", f"Murad 2018: no information on {', '.join(unclear)}"
    return ("low", "Murad 2018: yes on q1, q3 and q4") if len(items) else ("no_information", "not appraised")


def rob_tables(pkg, labels: dict[str, str]) -> dict[str, Any]:
    """The three tables for the results file: rows with study labels, plus each tool's
    domain order and labels (what the traffic-light figures draw)."""
    out: dict[str, Any] = {"tools": {}}
    for tool in TOOLS:
        col = "item" if tool == "murad" else "domain"
        rows = []
        for r in tool_table(pkg.tables, tool):
            rec = {"study_id": r.study_id, "label": labels.get(r.study_id, r.study_id), "domain": getattr(r, col),
                   "judgement": r.judgement, "support": r.support, "source_url": r.source_url,
                   "source_locator": r.source_locator}
            if tool == "murad":
                rec["murad_domain"] = r.domain
            else:
                rec["outcome"] = r.outcome
            rows.append(rec)
        out[tool] = rows
        out["tools"][tool] = {"name": TOOL_NAMES[tool], "citation": TOOL_CITATIONS[tool],
                              "domains": list(DOMAINS[tool]), "domain_labels": DOMAINS[tool]}
    return out
