"""Cross-field and cross-table rules of the data package that Table Schema cannot express.

Each rule adds an `InputError` to a `Problems` collector (every problem in one pass),
naming the file, the line (header = line 1) with the record's key, and the field. The
risk-of-bias rules live in `rob.py`, the plan's in `plan.py` and the rules that keep
recorded audit judgements from contradicting the data in `audit_rules.py`; those raise
their first problem, which is collected with the rest.
"""

from __future__ import annotations

from ..stats._validation import InputError
from .audit_rules import check_recorded_judgements
from .plan import check_plan
from .prisma import PRISMA_ITEMS
from .rob import check_risk_of_bias
from .rows import present as _present
from .rows import split as _split

# Tables every package needs; the others (claims, screening, search log, risk of bias, viral
# loads, ...) are optional: a rule that reads an absent table does not run, and the report
# leaves out the section that table feeds, saying so.
REQUIRED_TABLES = ("studies", "arms", "outcomes", "analysis_plan")
# rule -> the tables it reads besides the required ones
_NEEDS = {"_check_viral_loads": ("viral_loads",), "_check_claims": ("claims",),
          "_check_screening": ("screening",), "_check_included_studies": ("screening",),
          "check_recorded_judgements": ("claims", "field_provenance"),
          "_check_provenance": ("field_provenance",), "_check_prisma": ("prisma_checklist",)}


def check_package(pkg, problems=None) -> None:
    """Run every cross-table rule on a loaded package.

    Problems go to `problems` (an `analysis.review.io.Problems`); without one, they are
    raised together at the end. A rule that cannot run because a cell already failed its
    schema check (and is empty) is skipped: that problem is reported already. A rule whose
    optional table the package does not have is skipped too (see `REQUIRED_TABLES`).
    """
    from .problems import Problems

    own = problems is None
    problems = Problems() if own else problems
    names = {r.get("name") for r in pkg.descriptor.get("resources", [])}
    missing = [t for t in REQUIRED_TABLES if t not in names]
    for name in missing:
        problems.add(InputError(f"the package has no {name!r} resource (every package needs "
                                f"{', '.join(REQUIRED_TABLES)})", file="datapackage.json", field="resources"))
    if missing:
        problems.raise_if_any()
    for rule in (_check_vocabulary, _check_studies, _check_outcomes, _check_viral_loads, _check_claims,
                 _check_screening, _check_included_studies, *RAISING_RULES):
        if not all(t in pkg.tables for t in _NEEDS.get(rule.__name__, ())):
            continue
        try:
            rule(pkg, problems)
        except (TypeError, KeyError, ValueError):
            if not problems:
                raise
    if own:
        problems.raise_if_any()


def _check_vocabulary(pkg, problems) -> None:
    """The outcome codes of outcomes.csv and the plan are the keys of question.toml's
    [outcomes] (the question file owns the vocabulary; the schema repeats it as an enum so
    each cell is checked where it is read)."""
    from .question import QUESTION_FILE, question_for

    try:
        keys = set(question_for(pkg).outcomes)
    except InputError as exc:
        problems.add(exc)
        return
    for name in ("outcomes", "analysis_plan"):
        field = next((f for f in pkg.resource(name)["schema"]["fields"] if f["name"] == "outcome"), None)
        enum = set((field or {}).get("constraints", {}).get("enum", []))
        if enum != keys:
            diff = sorted(enum ^ keys)
            problems.add(InputError(
                f"the outcome codes of {name} differ from the [outcomes] of {QUESTION_FILE} "
                f"({', '.join(diff[:5])}{'...' if len(diff) > 5 else ''}): keep the two lists equal",
                file="datapackage.json", field=f"{name}.outcome"))


def _at(pkg, name: str, i: int, field: str) -> dict:
    """InputError keywords for data row `i` (1-based) of table `name`."""
    return {"file": f"data/raw/{name}.csv", "field": field, **pkg.where(name, i)}


def _check_studies(pkg, problems) -> None:
    studies = pkg.tables["studies"]
    overlaps = {r.study_id: r.overlaps_with for r in studies}
    for i, row in enumerate(studies, start=1):
        for other in _split(row.overlaps_with):
            at = _at(pkg, "studies", i, "overlaps_with")
            if other not in overlaps:
                problems.add(InputError(f"overlaps_with names {other!r}, which is not a study", **at))
            elif other == row.study_id:
                problems.add(InputError("a study cannot overlap with itself", **at))
            elif row.study_id not in _split(overlaps[other]):
                problems.add(InputError(
                    f"overlap with {other!r} is not recorded in both directions "
                    f"(add {row.study_id!r} to {other!r}'s overlaps_with)", **at))


def _check_outcomes(pkg, problems) -> None:
    t = pkg.tables
    arms = t["arms"]
    arm_n = {(r.study_id, r.arm_id): r.n for r in arms}
    for i, r in enumerate(t["outcomes"], start=1):
        def add(message, field, i=i):
            problems.add(InputError(message, **_at(pkg, "outcomes", i, field)))

        has_e, has_n = _present(r.events), _present(r.n)
        if has_e and has_n and r.events > r.n:
            add(f"events ({r.events}) exceed n ({r.n})", "events")
        if has_e and not has_n and r.n_basis != "not_reported":
            add("events given without n (set n_basis to not_reported if the source gives no "
                "denominator)", "n")
        an = arm_n.get((r.study_id, r.arm_id))
        if has_n and _present(an) and r.n > an and r.basis == "reported":
            add(f"n ({r.n}) exceeds the arm size ({an}) of {r.study_id}/{r.arm_id}", "n")
        if r.verification == "not_found" and has_e:
            add("a not_found row holds a count", "events")
        if r.count_basis == "not_reported" and has_e:
            add("count_basis is not_reported but events is given", "count_basis")


def _check_viral_loads(pkg, problems) -> None:
    arm_keys = {(r.study_id, r.arm_id) for r in pkg.tables["arms"]}
    for i, r in enumerate(pkg.tables["viral_loads"], start=1):
        if _present(r.arm_id) and (r.study_id, r.arm_id) not in arm_keys:
            problems.add(InputError(f"arm {r.study_id}/{r.arm_id} does not exist in arms",
                                    **_at(pkg, "viral_loads", i, "arm_id")))


def _check_screening(pkg, problems) -> None:
    ids = set(pkg.tables["studies"].column("study_id"))
    for i, r in enumerate(pkg.tables["screening"], start=1):
        if r.decision == "included":
            if not _present(r.study_id) or r.study_id not in ids:
                problems.add(InputError(
                    f"an included record must name an existing study_id (got {r.study_id!r})",
                    **_at(pkg, "screening", i, "study_id")))
        elif _present(r.decision) and not _present(r.reason):
            problems.add(InputError(f"a record marked {r.decision} needs a reason",
                                    **_at(pkg, "screening", i, "reason")))


def _check_included_studies(pkg, problems) -> None:
    """Every found study has a screening record (its risk-of-bias rows are checked by
    `rob.check_risk_of_bias`). Without it the PRISMA counts would silently leave it out.
    """
    t = pkg.tables
    screened = {r.study_id for r in t["screening"] if r.decision == "included" and _present(r.study_id)}
    for i, r in enumerate(t["studies"], start=1):
        if r.verification != "not_found" and r.study_id not in screened:
            problems.add(InputError(
                f"study {r.study_id} has no included record in data/raw/screening.csv (add the "
                "screening record that found it, with decision included and this study_id)",
                **_at(pkg, "studies", i, "study_id")))


def _check_claims(pkg, problems) -> None:
    t = pkg.tables
    ids = set(t["studies"].column("study_id"))
    out_rows = set(t["outcomes"].column("row_id"))
    vl_rows = set(t["viral_loads"].column("row_id")) if "viral_loads" in t else set()
    arm_keys = {f"{r.study_id}/{r.arm_id}" for r in t["arms"]}
    for i, r in enumerate(t["claims"], start=1):
        def add(message, field, i=i):
            problems.add(InputError(message, **_at(pkg, "claims", i, field)))

        for sid in _split(r.study_ids):
            if sid not in ids:
                add(f"claim {r.claim_id} links study {sid!r}, which does not exist", "study_ids")
        for link in _split(r.outcome_rows):
            if link.startswith("arm:"):
                ok = link[4:] in arm_keys
            elif link.startswith("vl:"):
                ok = link[3:] in vl_rows
            else:
                ok = link in out_rows
            if not ok:
                add(f"claim {r.claim_id} links data row {link!r}, which does not exist", "outcome_rows")
        if r.claim_type == "numeric":
            if not _present(r.quantity) or not _present(r.claimed_value):
                add(f"numeric claim {r.claim_id} needs quantity and claimed_value", "claimed_value")
        elif not _present(r.judgement) or not _present(r.judgement_reason):
            add(f"qualitative claim {r.claim_id} needs a judgement and a judgement_reason", "judgement")


def _check_row_use(out) -> None:
    """row_use, inference and alternative_to agree with the counts they describe."""
    f_out = "data/raw/outcomes.csv"
    rows = {r.row_id: r for r in out}
    for i, r in enumerate(out, start=1):
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
    keys = {res: {_KEYS[res](r) for r in t[res]} for res in _KEYS if res in t}
    recorded = set()
    for i, r in enumerate(t["field_provenance"], start=1):
        if r.row_key not in keys.get(r.resource, ()):
            raise InputError(f"{r.resource} has no row {r.row_key!r}", file=f_pv, row=i, field="row_key")
        if r.field not in t[r.resource].columns:
            raise InputError(f"{r.resource} has no column {r.field!r}", file=f_pv, row=i, field="field")
        recorded.add((r.resource, r.row_key, r.field, r.origin))
    for i, r in enumerate(t["studies"], start=1):
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
    for i, r in enumerate(df, start=1):
        if r.status != "not_applicable" and not _present(r.location):
            raise InputError(f"item {r.item} is {r.status} but names no report section", file=f_pr, row=i,
                             field="location")
    missing = [item for item in PRISMA_ITEMS if item not in set(df.column("item"))]
    if missing:
        raise InputError(f"PRISMA 2020 item(s) {', '.join(missing)} missing", file=f_pr, field="item")


def _comparator_code(pkg) -> str | None:
    from .question import arm_codes

    return arm_codes(pkg)[1]


def _raising(fn, table_arg: bool, name: str = ""):
    """Adapt a rule that raises its first `InputError` to the collector."""
    def rule(pkg, problems) -> None:
        try:
            fn(pkg.tables if table_arg else pkg)
        except InputError as exc:
            problems.add(pkg.located(exc))
    rule.__name__ = name or fn.__name__
    return rule


RAISING_RULES = (
    _raising(lambda t: _check_row_use(t["outcomes"]), True),
    _raising(lambda pkg: check_risk_of_bias(pkg.tables, _comparator_code(pkg)), False, "check_risk_of_bias"),
    _raising(check_plan, False),
    _raising(check_recorded_judgements, True),
    _raising(_check_provenance, True),
    _raising(_check_prisma, True),
)
