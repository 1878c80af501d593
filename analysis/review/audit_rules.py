"""Rules that compare a reported or claimed number with counts (used by the audit and the
percentage check of the extraction).

These are pure functions with stated rules, so the verdicts they feed are computed, not
typed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .rows import by_key
from .rows import present as _has
from .rows import split as _cells

__all__ = [
    "PercentCheck",
    "answer_origin",
    "arm_doses",
    "check_percent",
    "check_recorded_judgements",
    "compatible_counts",
    "percent_matches_count",
    "printed_decimals",
    "values_match",
]


def printed_decimals(value: float) -> int:
    """Decimals a percentage was printed with (96.7 -> 1, 88 -> 0, 97.40 -> 1).

    Examples
    --------
    >>> printed_decimals(96.7), printed_decimals(88.0)
    (1, 0)
    """
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


def _round_half_up(x: float, decimals: int) -> float:
    q = 10.0**decimals
    return math.floor(x * q + 0.5 + 1e-9) / q


def percent_matches_count(percent: float, events: int, n: int, decimals: int | None = None) -> bool:
    """True if ``100 * events / n`` rounds (half up, or down, to `decimals`) to `percent`.

    Both rounding conventions are accepted because papers differ (87.5 -> 88 or 87).

    Examples
    --------
    >>> percent_matches_count(88, 7, 8)
    True
    >>> percent_matches_count(84, 33, 43)
    False
    """
    d = printed_decimals(percent) if decimals is None else decimals
    exact = 100.0 * events / n
    q = 10.0**d
    candidates = {_round_half_up(exact, d), math.floor(exact * q + 1e-9) / q, round(exact, d)}
    return any(abs(c - percent) < 0.5 / q * 1e-6 + 1e-9 for c in candidates)


def compatible_counts(percent: float, n: int, decimals: int | None = None) -> list[int]:
    """Every integer count out of `n` whose percentage is printed as `percent`.

    Examples
    --------
    >>> compatible_counts(96.7, 30)
    [29]
    >>> compatible_counts(97.4, 43)
    []
    """
    return [k for k in range(n + 1) if percent_matches_count(percent, k, n, decimals)]


def compatible_denominators(percent: float, events: int, n_max: int = 1000) -> list[int]:
    """Denominators n (events <= n <= n_max) for which ``events / n`` prints as `percent`.

    Examples
    --------
    >>> compatible_denominators(84, 33)[:3]
    [39]
    """
    return [n for n in range(max(events, 1), n_max + 1) if percent_matches_count(percent, events, n)]


@dataclass(frozen=True, slots=True)
class PercentCheck:
    """Result of checking a printed percentage against a count."""

    consistent: bool
    recomputed: float | None
    reason: str


def check_percent(percent: float | None, events: int | None, n: int | None) -> PercentCheck:
    """Check a printed percentage against its count and denominator.

    Rule: consistent if ``events / n`` rounds to the printed percentage at its printed
    precision. If only n is known, say which counts would print so (none means no integer
    count out of n can give that percentage).

    Examples
    --------
    >>> check_percent(84, 33, 43).consistent
    False
    >>> check_percent(96.7, None, 30).reason
    'no count printed; 29/30 would print as 96.7%'
    """
    if percent is None:
        rec = None if (events is None or n is None) else 100.0 * events / n
        return PercentCheck(True, rec, "no percentage printed")
    if n is None:
        return PercentCheck(True, None, "no denominator to check against")
    if events is None:
        ks = compatible_counts(percent, n)
        if not ks:
            return PercentCheck(False, None, f"no integer count out of {n} prints as {percent:g}%")
        return PercentCheck(True, None, "no count printed; " + " or ".join(f"{k}/{n}" for k in ks)
                            + f" would print as {percent:g}%")
    rec = 100.0 * events / n
    if percent_matches_count(percent, events, n):
        return PercentCheck(True, rec, f"{events}/{n} = {rec:.1f}% matches the printed {percent:g}%")
    ks = compatible_counts(percent, n)
    dens = compatible_denominators(percent, events, n_max=max(2 * n, 100))
    alt = []
    if ks:
        alt.append("count " + " or ".join(f"{k}/{n}" for k in ks))
    if dens:
        alt.append("denominator " + " or ".join(f"{events}/{d}" for d in dens[:3]))
    tail = f" ({'; '.join(alt)} would match)" if alt else ""
    return PercentCheck(False, rec, f"{events}/{n} = {rec:.1f}%, not the printed {percent:g}%{tail}")


def values_match(claimed: float, reported: float, *, rel: float = 0.005) -> bool:
    """Two magnitudes agree within `rel` relative difference (0.5% by default).

    Examples
    --------
    >>> values_match(205314, 205314), values_match(2_000_000, 1_000_000)
    (True, False)
    """
    if reported == 0:
        return claimed == 0
    return abs(claimed - reported) <= rel * abs(reported)


# ----------------------------------------------- recorded judgements vs the data package

_NO_RCT = re.compile(r"\bno\s+(?:rcts?|randomi[sz]ed(?:\s+controlled)?\s+(?:clinical\s+)?trials?)\b", re.IGNORECASE)
_UNIVERSAL = re.compile(r"\b(?:all|every)\b", re.IGNORECASE)
_DOSE = re.compile(r"(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*gm?/kg", re.IGNORECASE)
_SUSTAINED = re.compile(r"\bsustained\b|\bclear(?:ed|ance)\b", re.IGNORECASE)
_POSITIVE = ("supported", "partly_supported")
FOUND = ("full_text", "abstract", "conference_abstract", "secondary_source")


def answer_origin(provenance) -> set[tuple[str, str, str]]:
    """(resource, row_key, field) of every cell whose value came from the AI answer."""
    return {(r.resource, r.row_key, r.field) for r in provenance if r.origin == "answer"}


def arm_doses(arm, key: str, from_answer: set) -> list[float]:
    """Every IVIG dose in g/kg an arm records (the numeric field, and each number of a
    range in the dose text such as '0.5-1.0 gm/kg'), leaving out answer-only cells."""
    doses = []
    if _has(arm.ivig_dose_g_per_kg) and ("arms", key, "ivig_dose_g_per_kg") not in from_answer:
        doses.append(float(arm.ivig_dose_g_per_kg))
    if _has(arm.ivig_dose_text) and ("arms", key, "ivig_dose_text") not in from_answer:
        for lo, hi in _DOSE.findall(str(arm.ivig_dose_text)):
            doses += [float(lo)] + ([float(hi)] if hi else [])
    return sorted(set(doses))


def _refuted(c, t, found: set, from_answer: set, rcts: list[str]) -> str | None:
    """Why the data package refutes this recorded judgement (None if it does not); `rcts`
    are the found studies of design ``rct``."""
    if rcts and _NO_RCT.search(str(c.judgement_reason or "")):
        return f"its reason asserts there is no RCT, but {', '.join(rcts)} are randomised trials (design=rct)"
    if rcts and c.judgement in _POSITIVE and _NO_RCT.search(c.claim):
        return (f"it is {c.judgement} although the claim denies randomised trials and {', '.join(rcts)} are "
                "randomised trials (design=rct)")
    sids = _cells(c.study_ids)
    if c.judgement != "unverifiable" and sids and sids[0] not in found:
        return f"its cited study {sids[0]} was not found, so the only consistent verdict is unverifiable"
    if c.judgement not in _POSITIVE:
        return None
    links = _cells(c.outcome_rows)
    m = _DOSE.search(c.claim)
    if m and _UNIVERSAL.search(c.claim):
        claimed = float(m.group(1))
        arms = by_key(t["arms"], "study_id", "arm_id")
        for link in (x[4:] for x in links if x.startswith("arm:")):
            s, a = link.split("/")
            arm = arms[(s, a)]
            if s not in found:
                continue
            other = [d for d in arm_doses(arm, link, from_answer) if abs(d - claimed) > 1e-9]
            if other:
                return f"the claim says all used {claimed:g} g/kg but arm {link} records {', '.join(map(str, other))} g/kg"
            if re.search(r"\bsingle\b", c.claim, re.IGNORECASE) and _has(arm.ivig_courses) and int(arm.ivig_courses) > 1:
                return f"the claim says a single dose but arm {link} records {int(arm.ivig_courses)} courses"
    if _SUSTAINED.search(c.claim):
        out = by_key(t["outcomes"], "row_id")
        for link in links:
            if link in out:
                r = out[link]
                if (r.outcome == "viremia_clearance" and r.basis == "reported" and r.verification in FOUND
                        and _has(r.events) and int(r.events) == 0):
                    return f"the linked row {link} codes the patient(s) as not cleared (0/{int(r.n)})"
    return None


def check_recorded_judgements(t) -> None:
    """Loader rule: a recorded (qualitative) verdict must not assert what the package refutes.

    It fails, naming the claim, when the reason says there is no RCT while ``design=rct``
    studies were found, or the claim denies randomised trials and is still judged
    (partly) supported; when the cited study (the first ``study_ids``) was not found but
    the verdict is not ``unverifiable``; when a claim about what "all" reports used is
    (partly) supported although a linked arm records another dose or several courses of
    a "single" dose; and when a claim of sustained response or clearance is (partly)
    supported although a linked clearance row codes the patient as not cleared.
    """
    from ..stats._validation import InputError

    found = {r.study_id for r in t["studies"] if r.verification in FOUND}
    from_answer = answer_origin(t["field_provenance"])
    design = {r.study_id: r.design for r in t["studies"]}
    rcts = sorted(s for s in found if design[s] == "rct")
    for i, c in enumerate(t["claims"], start=1):
        if c.claim_type != "qualitative" or not _has(c.judgement):
            continue
        why = _refuted(c, t, found, from_answer, rcts)
        if why:
            raise InputError(f"claim {c.claim_id}: the recorded judgement contradicts the data package: {why}",
                             file="data/raw/claims.csv", row=i, field="judgement")
