"""The analysis plan in data (``data/raw/analysis_plan.csv``): its rules and the selection it specifies.

A plan row names an outcome, a comparison (``single_arm`` or ``comparative``), an analysis set
(``primary_pool``, ``subgroup``, ``narrative_only``, ``out_of_scope``) and the filters that define
the set: study population, setting and role codes, the intervention arm's ``other_antivirals`` code, one
time window, a minimum arm size, a minimum number of studies and the largest share of studies
at 0% or 100% for which a pool is still run. `select` applies one plan row to the package and
says, row by row, what is pooled, what is narrative only (and why) and which sensitivity
analyses the inferred counts call for. The rules are written out in data/EXTRACTION_SPEC.md.

`check_plan` holds the cross-table rules Table Schema cannot express (codes that exist in the
vocabularies they refer to, a window that is not reversed, analysis sets of one outcome that do
not overlap, every reported outcome planned). Errors name the file, row and field.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stats._validation import InputError
from .question import arm_codes, question_for
from .rows import present as _present

F_PLAN = "data/raw/analysis_plan.csv"
ANY = "*"
POOLED_KINDS = ("primary_pool", "subgroup")
# plan field -> (resource, field) whose enumeration its codes must come from
CODE_FIELDS = {
    "study_populations": ("studies", "population"),
    "study_settings": ("studies", "setting"),
    "study_roles": ("studies", "role"),
    "arm_other_antivirals": ("arms", "other_antivirals"),
}
UNUSABLE_VERIFICATION = ("not_found", "claimed_by_answer_only")
# A filter column the package's plan leaves out (with the arms column it refers to) means
# "any"; a plan without window columns, or with them empty, sets no time window.


def complements(pkg) -> dict[str, str]:
    """Outcome -> its complement (survivors = n - lost), both ways, from the question file's
    ``derived_from``; rows of the complement are selected too and listed in
    Selection.derived, for the caller to convert."""
    out: dict[str, str] = {}
    for o in question_for(pkg).outcomes.values():
        if o.derived_from:
            out[o.key], out[o.derived_from] = o.derived_from, o.key
    return out

__all__ = ["Selection", "check_plan", "codes", "select"]


def codes(cell) -> frozenset[str] | None:
    """The codes of a ';'-separated plan cell; ``None`` means any (``*``)."""
    if not _present(cell):
        return None
    text = str(cell).strip()
    if text == ANY:
        return None
    return frozenset(p.strip() for p in text.split(";") if p.strip())


def _enum(pkg, resource: str, name: str) -> list[str]:
    for f in pkg.resource(resource)["schema"]["fields"]:
        if f["name"] == name:
            return list(f.get("constraints", {}).get("enum", []))
    raise KeyError(f"{resource}.{name}")


def _filter(p, name: str) -> frozenset[str] | None:
    """The codes of plan row `p`'s filter `name`; None (any) when the plan has no such column."""
    return codes(getattr(p, name, ANY))


def window(p) -> tuple[float, float] | None:
    """The plan row's time window in months, or None when it sets none."""
    lo, hi = getattr(p, "window_min_months", None), getattr(p, "window_max_months", None)
    if not (_present(lo) and _present(hi)):
        return None
    return float(lo), float(hi)


def _overlaps(a, b) -> bool:
    """Two plan rows select a common outcome row when every filter intersects."""
    for name in CODE_FIELDS:
        ca, cb = _filter(a, name), _filter(b, name)
        if ca is not None and cb is not None and not (ca & cb):
            return False
    return True


def check_plan(pkg) -> None:
    """Cross-table rules of the analysis plan (first failure raises `InputError`)."""
    plan = pkg.tables.get("analysis_plan")
    if plan is None:
        return
    vocab = set(_enum(pkg, "outcomes", "outcome"))
    allowed = {k: set(_enum(pkg, *ref)) for k, ref in CODE_FIELDS.items() if k in plan.columns}
    seen: dict[tuple, int] = {}
    primary: dict[tuple, int] = {}
    rows = list(plan)
    for i, r in enumerate(rows, start=1):
        if r.outcome not in vocab:
            raise InputError(f"outcome {r.outcome!r} is not in the outcome vocabulary of outcomes.csv",
                             file=F_PLAN, row=i, field="outcome")
        for name, ok in allowed.items():
            bad = sorted((codes(getattr(r, name)) or set()) - ok)
            if bad:
                raise InputError(f"unknown code {bad[0]!r} (allowed: {', '.join(sorted(ok))} or *)",
                                 file=F_PLAN, row=i, field=name)
        if (_present(getattr(r, "window_min_months", None)) != _present(getattr(r, "window_max_months", None))):
            raise InputError("give both window_min_months and window_max_months, or neither (no window)",
                             file=F_PLAN, row=i, field="window_min_months")
        if window(r) is not None and r.window_min_months > r.window_max_months:
            raise InputError(f"window_min_months ({r.window_min_months:g}) is after window_max_months "
                             f"({r.window_max_months:g})", file=F_PLAN, row=i, field="window_min_months")
        key = (r.outcome, r.comparison, r.set_id)
        if key in seen:
            raise InputError(f"{r.outcome}/{r.comparison}/{r.set_id} is planned twice (first at row {seen[key]})",
                             file=F_PLAN, row=i, field="set_id")
        seen[key] = i
        if r.set_kind == "primary_pool":
            pk = (r.outcome, r.comparison)
            if pk in primary:
                raise InputError(f"a second primary pool for {r.outcome} ({r.comparison}); the first is row "
                                 f"{primary[pk]}", file=F_PLAN, row=i, field="set_kind")
            primary[pk] = i
        if r.comparison == "comparative" and r.set_kind in POOLED_KINDS and r.min_studies < 2:
            raise InputError("a comparative pool needs min_studies >= 2", file=F_PLAN, row=i, field="min_studies")
        for j, other in enumerate(rows[: i - 1], start=1):
            if (other.outcome, other.comparison) == (r.outcome, r.comparison) \
                    and r.set_kind in POOLED_KINDS and other.set_kind in POOLED_KINDS and _overlaps(r, other):
                raise InputError(f"set {r.set_id!r} overlaps set {other.set_id!r} (row {j}): an outcome row "
                                 "could fall in both", file=F_PLAN, row=i, field="set_id")
    planned = set(plan.column("outcome"))
    out = pkg.tables["outcomes"]
    for i, r in enumerate(out, start=1):
        if r.basis == "reported" and _present(r.outcome) and r.outcome not in planned:
            raise InputError(f"outcome {r.outcome!r} ({r.row_id}) has no row in the analysis plan",
                             file="data/raw/outcomes.csv", row=i, field="outcome")


# ------------------------------------------------------------------------ selection

@dataclass(frozen=True)
class Selection:
    """What one plan row selects.

    ``pooled`` holds row_ids (single-arm) or ``(ivig_row_id, control_row_id)`` pairs
    (comparative), one per overlap group; ``narrative`` holds ``(row_id, reason)``;
    ``sensitivity`` holds ``(kind, row_id, alternative_row_id_or_None)`` with kind
    ``without`` (drop the row), ``replace`` (use the alternative row instead) or
    ``no_time`` (drop the rows without a stated time point). ``derived`` lists the
    row_ids of the complementary outcome used (e.g. graft loss for graft survival:
    survivors = n - events).
    """

    plan_id: str
    set_kind: str
    pooled: tuple
    narrative: tuple
    sensitivity: tuple
    derived: tuple
    k: int
    pool: bool
    reason: str


def _study_ok(st, p) -> bool:
    for name, col in (("study_populations", "population"), ("study_settings", "setting"), ("study_roles", "role")):
        allowed = _filter(p, name)
        if allowed is not None and getattr(st, col) not in allowed:
            return False
    return True


def _why_not(r, arm_n, p) -> str:
    """Reason a count row cannot enter the pool of plan row `p`, or '' if it can."""
    if r.row_use != "count":
        return "not a proportion (row_use " + r.row_use + ")"
    tm = r.timepoint_months
    win = window(p)
    if _present(tm) and win is not None and not (win[0] <= tm <= win[1]):
        return f"outside the window {win[0]:g}-{win[1]:g} months"
    if not _present(tm) and p.timepoint_missing == "exclude":
        return "no time point stated"
    if _present(arm_n) and int(r.n) != int(arm_n):
        return "denominator is not every treated patient of the arm"
    if int(r.n) < p.min_arm_n:
        return f"n = {int(r.n)} is below the minimum of {p.min_arm_n}"
    return ""


def _groups(studies) -> dict[str, str]:
    parent = {r.study_id: r.study_id for r in studies}

    def find(s):
        while parent[s] != s:
            s = parent[s]
        return s

    for r in studies:
        for o in str(r.overlaps_with or "").split(";"):
            if o.strip() in parent:
                a, b = sorted((find(r.study_id), find(o.strip())))
                parent[b] = a
    return {s: find(s) for s in parent}


def _candidates(pkg, p, outcome_codes):
    arms = {(a.study_id, a.arm_id): a for a in pkg["arms"]}
    st = {r.study_id: r for r in pkg["studies"]}
    av = _filter(p, "arm_other_antivirals")
    treated = arm_codes(pkg)[0]
    for r in pkg["outcomes"]:
        if r.outcome not in outcome_codes or r.basis != "reported" or r.verification in UNUSABLE_VERIFICATION:
            continue
        arm = arms[(r.study_id, r.arm_id)]
        if arm.treatment != treated or not _study_ok(st[r.study_id], p):
            continue
        if av is not None and arm.other_antivirals not in av:
            continue
        yield r, arm


def select(pkg, plan_id: str) -> Selection:
    """Apply plan row `plan_id` to the package (rules in data/EXTRACTION_SPEC.md)."""
    p = next((r for r in pkg["analysis_plan"] if r.plan_id == plan_id), None)
    if p is None:
        raise KeyError(f"no plan row {plan_id!r} in {F_PLAN}")
    if p.comparison == "comparative":
        return _select_comparative(pkg, p)
    comp = complements(pkg)
    own = {p.outcome} | ({comp[p.outcome]} if p.outcome in comp else set())
    narrative, chosen = [], {}
    alts = {r.alternative_to: r.row_id for r in pkg["outcomes"] if r.row_use == "alternative"}
    for r, arm in _candidates(pkg, p, own):
        if r.row_use == "alternative":
            continue
        why = "" if p.set_kind in POOLED_KINDS else f"plan set is {p.set_kind}"
        why = why or _why_not(r, arm.n, p)
        if why:
            narrative.append((r.row_id, why))
            continue
        rank = (r.outcome != p.outcome, -(r.timepoint_months if _present(r.timepoint_months) else -1), r.row_id)
        if r.study_id not in chosen or rank < chosen[r.study_id][0]:
            if r.study_id in chosen:
                narrative.append((chosen[r.study_id][1].row_id, "another row of the same study is used"))
            chosen[r.study_id] = (rank, r)
        else:
            narrative.append((r.row_id, "another row of the same study is used"))
    return _finish(pkg, p, [r for _, r in chosen.values()], narrative, alts)


def _finish(pkg, p, rows, narrative, alts) -> Selection:
    groups = _groups(pkg["studies"])
    best: dict[str, object] = {}
    for r in sorted(rows, key=lambda r: (-int(r.n), r.study_id)):
        g = groups[r.study_id]
        if g in best:
            narrative.append((r.row_id, f"overlaps {best[g].study_id}, which represents the cohort"))
        else:
            best[g] = r
    kept = sorted(best.values(), key=lambda r: r.study_id)
    return _summary(p, kept, narrative, _row_sensitivity(kept, alts), extreme=[
        int(r.events) in (0, int(r.n)) for r in kept], pooled=tuple(r.row_id for r in kept),
        derived=tuple(r.row_id for r in kept if r.outcome != p.outcome))


def _row_sensitivity(kept, alts) -> list:
    sens = []
    for r in kept:
        if _present(r.inference):
            sens.append(("without", r.row_id, None))
        if r.row_id in alts:
            sens.append(("replace", r.row_id, alts[r.row_id]))
    timed = [_present(r.timepoint_months) for r in kept]
    if any(timed) and not all(timed):  # dropping the untimed rows leaves some, and differs
        sens.append(("no_time", "", None))
    return sens


def _summary(p, kept, narrative, sens, *, extreme, pooled, derived) -> Selection:
    k = len(kept)
    if p.set_kind not in POOLED_KINDS:
        reason = f"{p.set_kind}: listed, never pooled"
    elif k < p.min_studies:
        reason = f"k = {k} is below the minimum of {p.min_studies}: studies shown without a pooled estimate"
    elif sum(extreme) / k > p.max_share_extreme:
        reason = f"{sum(extreme)} of {k} studies at 0% or 100%: narrative only"
    else:
        reason = ""
    return Selection(p.plan_id, p.set_kind, pooled, tuple(sorted(narrative)), tuple(sens), derived, k,
                     not reason, reason)


def _select_comparative(pkg, p) -> Selection:
    out = pkg["outcomes"]
    arms = pkg["arms"]
    comp = complements(pkg)
    own = {p.outcome} | ({comp[p.outcome]} if p.outcome in comp else set())
    narrative, chosen = [], {}
    control = arm_codes(pkg)[1]
    controls: dict[str, object] = {}  # study_id -> its first control arm (by arm_id)
    for a in sorted(arms, key=lambda a: a.arm_id):
        if a.treatment == control:
            controls.setdefault(a.study_id, a)
    for r, arm in _candidates(pkg, p, own):
        c_arm = controls.get(r.study_id)
        if c_arm is None or r.row_use == "alternative":
            continue
        if p.set_kind not in POOLED_KINDS:
            narrative.append((r.row_id, f"plan set is {p.set_kind}"))
            continue
        c = next((o for o in out if o.study_id == r.study_id and o.arm_id == c_arm.arm_id and o.outcome == r.outcome
                  and o.basis == "reported" and o.row_use == "count"), None)
        why = _why_not(r, arm.n, p) or ("control arm has no count" if c is None else _why_not(c, c_arm.n, p))
        if why:
            narrative.append((r.row_id, why))
            continue
        rank = (r.outcome != p.outcome, r.row_id)
        if r.study_id in chosen and chosen[r.study_id][0] <= rank:
            narrative.append((r.row_id, "another row of the same study is used"))
            continue
        if r.study_id in chosen:
            narrative.append((chosen[r.study_id][1].row_id, "another row of the same study is used"))
        chosen[r.study_id] = (rank, r, c)
    groups = _groups(pkg["studies"])
    best: dict[str, tuple] = {}
    for _, r, c in sorted(chosen.values(), key=lambda x: (-(int(x[1].n) + int(x[2].n)), x[1].study_id)):
        g = groups[r.study_id]
        if g in best:
            narrative.append((r.row_id, f"overlaps {best[g][0].study_id}, which represents the cohort"))
        else:
            best[g] = (r, c)
    kept = sorted(best.values(), key=lambda rc: rc[0].study_id)
    sens = [("without", r.row_id, None) for r, c in kept if _present(r.inference) or _present(c.inference)]
    timed = [_present(r.timepoint_months) for r, _ in kept]
    if any(timed) and not all(timed):
        sens.append(("no_time", "", None))
    extreme = [(r.events == 0 and c.events == 0) or (r.events == r.n and c.events == c.n) for r, c in kept]
    return _summary(p, kept, narrative, sens, extreme=extreme,
                    pooled=tuple((r.row_id, c.row_id) for r, c in kept),
                    derived=tuple(r.row_id for r, _ in kept if r.outcome != p.outcome))
