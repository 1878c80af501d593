"""Shared fixtures and tolerance helpers.

Tolerances are never typed inline: published values use `published(decimals)`
(half a unit in the last printed decimal), software values use the named constants in
`test_against_metafor.py`. `assert_close` refuses an absolute tolerance as large as the
largest expected value, so a test cannot pass vacuously (STYLE.md anti-pattern 14).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ZERO_LIKE = 1e-5
ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"


def published(decimals: int) -> dict:
    """Tolerance for a value printed to `decimals` decimals: atol = 0.5 * 10**-decimals."""
    return {"rtol": 0.0, "atol": 0.5 * 10.0**-decimals}


def assert_close(actual, expected, *, rtol: float, atol: float, what: str = "") -> None:
    """`numpy.testing.assert_allclose` with both tolerances named and a vacuity guard."""
    exp = np.asarray(expected, dtype=float)
    nonzero = np.abs(exp[np.isfinite(exp) & (exp != 0)])
    # An expected value below ZERO_LIKE is a boundary value (e.g. tau^2 = 0 reached as 1e-13
    # by Fisher scoring): only an absolute tolerance can compare it, and it must stay small.
    if nonzero.size and nonzero.max() < ZERO_LIKE:
        if atol > 1e-4:
            raise AssertionError(f"atol {atol} too large for a zero-like expectation: {what}")
    elif nonzero.size and atol >= nonzero.max():
        raise AssertionError(f"atol {atol} is as large as the expected values ({nonzero.max()}): {what}")
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), exp, rtol=rtol, atol=atol, err_msg=what
    )


@pytest.fixture(scope="session")
def metafor_reference() -> dict:
    path = REFERENCE / "metafor.json"
    return json.loads(path.read_text(encoding="utf-8"))


# dat.pritz1997 (metadat; Zhou et al. 1999): 14 case series
PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
