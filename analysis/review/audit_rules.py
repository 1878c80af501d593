"""Rules that compare a reported or claimed number with counts (used by the audit and the
percentage check of the extraction).

These are pure functions with stated rules, so the verdicts they feed are computed, not
typed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "PercentCheck",
    "check_percent",
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
