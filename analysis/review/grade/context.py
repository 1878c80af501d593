"""What the GRADE rules read from the data package, gathered once: study facts, each
study's risk of bias, the comparator's risk in the control arms, and the recorded
publication-bias judgements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...stats.proportions import proportion_ci
from ..question import question_for
from ..rob import has_risk_of_bias, study_concern, study_tools, tool_table
from ..rows import by_key
from ..rows import present as _present

VERIFIED = ("full_text", "abstract", "conference_abstract", "secondary_source")

__all__ = ["ControlRisk", "GradeContext", "GradeWords", "can_grade", "grade_words", "grading_context"]


@dataclass(frozen=True, slots=True)
class ControlRisk:
    """The risk without the intervention: summed counts of the control arms, with the exact 95% CI."""

    outcome: str
    role: str
    events: int
    n: int
    ci_low: float
    ci_high: float
    studies: tuple[str, ...]

    @property
    def risk(self) -> float:
        """events / n."""
        return self.events / self.n

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {"outcome": self.outcome, "role": self.role, "events": self.events, "n": self.n,
                "risk": self.risk, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "studies": list(self.studies), "ci_method": "clopper-pearson"}


@dataclass(frozen=True, slots=True)
class GradeWords:
    """What the rules say about this question, from question.toml ([intervention],
    [comparator], the outcomes' ``surrogate`` and the [grade] table): the names in each
    reason, and the indirectness rule's idea of the question's population."""

    intervention: str = "the intervention"
    comparator: str = "no intervention"
    patients: str = "treated patients"
    # what a single-arm rate cannot separate the intervention from
    alternatives: str = "co-interventions or the natural course"
    # indirectness (GRADE 8): the question's population, and how a study matches it
    population: str = "the question's population"
    matching_settings: tuple[str, ...] = ()
    matching_prior: tuple[str, ...] = ()
    distant_settings: tuple[str, ...] = ()
    distant: str = ""
    surrogates: dict[str, str] = field(default_factory=dict)

    @property
    def risk_with(self) -> str:
        """'risk with IVIG'."""
        return f"risk with {self.intervention}"

    @property
    def risk_without(self) -> str:
        """'no-IVIG risk': the comparator's risk (its name hyphenated as an adjective)."""
        return f"{self.comparator.replace(' ', '-')} risk"


def grade_words(question) -> GradeWords:
    """The words of a loaded `analysis.review.question.Question`."""
    g = question.grade
    iv = question.intervention["name"]
    return GradeWords(
        intervention=iv, comparator=(question.comparator or {}).get("name", f"no {iv}"),
        patients=question.intervention.get("patients", f"patients given {iv}"),
        alternatives=g.get("alternatives", GradeWords.alternatives),
        population=g.get("population", GradeWords.population),
        matching_settings=tuple(g.get("matching_settings", ())), matching_prior=tuple(g.get("matching_prior", ())),
        distant_settings=tuple(g.get("distant_settings", ())),
        distant=g.get("distant", "").replace("{intervention}", iv),
        surrogates={k: o.surrogate for k, o in question.outcomes.items() if o.surrogate})


@dataclass(frozen=True, slots=True)
class GradeContext:
    """Everything the rules need besides the pooled result itself."""

    studies: dict[str, dict[str, Any]]  # study_id -> design, setting, role, prior therapies, ...
    co_interventions: dict[str, tuple[str, ...]]  # study_id -> co-interventions of its intervention arms
    concern: dict[str, tuple[str, str]]  # study_id -> (low|some|high|no_information, text)
    tool: dict[str, str]  # study_id -> rob2 | robins_i | murad
    overall: dict[str, tuple[str, str]]  # study_id -> (RoB 2 / ROBINS-I overall judgement, support)
    control: dict[tuple[str, str], ControlRisk]  # (outcome, role) -> the comparator's risk
    publication_bias: dict[tuple[str, str], tuple[str, str]]  # (outcome or "all", path) -> (judgement, reason)
    definitions: dict[tuple[str, str], str]  # (study_id, outcome) -> the study's own definition
    words: GradeWords = GradeWords()  # the question's names and indirectness terms

    def pub_bias(self, outcome: str, path: str) -> tuple[str, str] | None:
        """The recorded judgement for an outcome and path (the outcome's row, else 'all')."""
        return self.publication_bias.get((outcome, path)) or self.publication_bias.get(("all", path))


def can_grade(pkg) -> bool:
    """Whether the package holds what the GRADE rules read: a risk-of-bias table and the
    recorded publication-bias judgements. Without them no certainty is rated (the report
    says so) rather than a rating made up from missing judgements."""
    return has_risk_of_bias(pkg.tables) and "publication_bias" in pkg.tables


def _control_arms(arms, treated: str, control: str | None) -> dict[str, str]:
    """study_id -> its control arm: the first control arm listed, the choice the
    comparative analysis makes (synthesis.comparative)."""
    out: dict[str, str] = {}
    for r in arms:
        if control is not None and r.treatment == control:
            out.setdefault(r.study_id, r.arm_id)
    have_treated = {r.study_id for r in arms if r.treatment == treated}
    return {s: a for s, a in out.items() if s in have_treated}


def control_risks(pkg) -> dict[tuple[str, str], ControlRisk]:
    """The comparator's risk per (outcome, role) from the control arms of comparative studies:
    summed reported counts; graft survival is also derived from graft loss (n - lost)
    and graft loss from graft survival, as the single-arm analysis does."""
    st = by_key(pkg["studies"], "study_id")
    ctrl = _control_arms(pkg["arms"], *question_for(pkg).arm_codes)
    acc: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    from ..plan import complements

    mirror = complements(pkg)
    for r in pkg["outcomes"]:
        if (r.basis != "reported" or ctrl.get(r.study_id) != r.arm_id or r.verification not in VERIFIED
                or not (_present(r.events) and _present(r.n))):
            continue
        role = st[r.study_id].role
        acc.setdefault((r.outcome, role), []).append((r.study_id, int(r.events), int(r.n)))
        if r.outcome in mirror:
            acc.setdefault((mirror[r.outcome], role), []).append((r.study_id, int(r.n) - int(r.events), int(r.n)))
    out = {}
    for (outcome, role), rows in sorted(acc.items()):
        seen: dict[str, tuple[int, int]] = {}
        for sid, e, n in rows:
            seen.setdefault(sid, (e, n))  # a study's own row before one derived from the mirror outcome
        e, n = sum(v[0] for v in seen.values()), sum(v[1] for v in seen.values())
        ci = proportion_ci(e, n)
        out[(outcome, role)] = ControlRisk(outcome, role, e, n, float(ci.ci.low), float(ci.ci.high),
                                           tuple(sorted(seen)))
    return out


def grading_context(pkg) -> GradeContext:
    """Gather the rules' inputs from a loaded data package."""
    st = pkg["studies"]
    arms = pkg["arms"]
    studies = {r.study_id: {"design": r.design, "setting": r.setting, "role": r.role, "population": r.population,
                            "prior_therapies_failed": r.prior_therapies_failed or "",
                            "verification": r.verification} for r in st}
    co: dict[str, list[str]] = {}
    treated = question_for(pkg).arm_codes[0]
    for r in arms:
        if r.treatment == treated and _present(getattr(r, "co_interventions", None)):
            co.setdefault(r.study_id, []).append(str(r.co_interventions))
    tools = study_tools(st, arms, question_for(pkg).arm_codes[1])
    overall = {}
    for tool in ("rob2", "robins_i"):
        for r in tool_table(pkg.tables, tool):
            if r.domain == "overall":
                overall[r.study_id] = (r.judgement, r.support)
    pub = {(r.outcome, r.path): (r.judgement, r.reason) for r in pkg["publication_bias"]}
    defs = {}
    for r in pkg["outcomes"]:
        if r.basis == "reported" and _present(r.definition):
            defs.setdefault((r.study_id, r.outcome), str(r.definition))
    return GradeContext(studies=studies, co_interventions={k: tuple(sorted(set(v))) for k, v in co.items()},
                        concern={s: study_concern(pkg, s) for s in tools}, tool=tools, overall=overall,
                        control=control_risks(pkg), publication_bias=pub, definitions=defs,
                        words=grade_words(question_for(pkg)))
