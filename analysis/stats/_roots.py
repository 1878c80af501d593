"""Brent's root finder on many brackets at once (one per row), as scipy's brentq.

`brentq_rows` runs Brent's (1973) method on B brackets in lock step with numpy arrays:
each row follows exactly the steps of ``scipy.optimize.brentq`` (scipy's C
implementation by Charles Harris: inverse quadratic interpolation or secant when the
step is short enough, bisection otherwise), so a batch of one returns the same bits as
scipy, and the scalar and the simulation's batched tau^2 estimators are one code path.
Rows stop independently; a row's root does not depend on the other rows.

Reference: Brent, R. P. (1973). Algorithms for Minimization Without Derivatives,
ch. 3-4. Englewood Cliffs, NJ: Prentice-Hall.
"""

from __future__ import annotations

import numpy as np

_EPS = float(np.finfo(float).eps)


def brentq_rows(f, a, b, args=(), *, xtol: float = 2e-12, rtol: float = 4 * _EPS,
                maxiter: int = 100) -> np.ndarray:
    """Roots of ``f`` in the brackets ``[a_r, b_r]``, shape (B,).

    ``f(x, *args)`` takes x of shape (m,) and the rows of `args` (arrays whose first axis
    is B) selected for those m brackets, and returns m values. ``f(a)`` and ``f(b)`` must
    differ in sign (or one be 0). Raises RuntimeError when a row has not converged after
    `maxiter` iterations, as brentq does.
    """
    xpre = np.array(a, dtype=float)
    xcur = np.array(b, dtype=float)
    fpre = np.asarray(f(xpre, *args), dtype=float)
    fcur = np.asarray(f(xcur, *args), dtype=float)
    if np.any(fpre * fcur > 0) or np.isnan(fpre).any() or np.isnan(fcur).any():
        raise ValueError("f(a) and f(b) must have different signs")
    root = np.where(fpre == 0, xpre, np.where(fcur == 0, xcur, np.nan))
    done = (fpre == 0) | (fcur == 0)
    xblk, fblk = np.zeros_like(xpre), np.zeros_like(xpre)
    spre, scur = np.zeros_like(xpre), np.zeros_like(xpre)
    for _ in range(maxiter):
        if done.all():
            return root
        flip = fpre * fcur < 0
        xblk, fblk = np.where(flip, xpre, xblk), np.where(flip, fpre, fblk)
        spre = np.where(flip, xcur - xpre, spre)
        scur = np.where(flip, xcur - xpre, scur)
        swap = np.abs(fblk) < np.abs(fcur)
        xpre, xcur, xblk = (np.where(swap, xcur, xpre), np.where(swap, xblk, xcur),
                            np.where(swap, xcur, xblk))
        fpre, fcur, fblk = (np.where(swap, fcur, fpre), np.where(swap, fblk, fcur),
                            np.where(swap, fcur, fblk))
        delta = (xtol + rtol * np.abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        conv = ~done & ((fcur == 0) | (np.abs(sbis) < delta))
        root = np.where(conv, xcur, root)
        done = done | conv
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            interp = -fcur * (xcur - xpre) / (fcur - fpre)
            dpre = (fpre - fcur) / (xpre - xcur)
            dblk = (fblk - fcur) / (xblk - xcur)
            extrap = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
        stry = np.where(xpre == xblk, interp, extrap)
        limit = np.abs(spre)
        other = 3 * np.abs(sbis) - delta
        limit = np.where(limit < other, limit, other)
        short = (np.abs(spre) > delta) & (np.abs(fcur) < np.abs(fpre)) & (2 * np.abs(stry) < limit)
        spre, scur = np.where(short, scur, sbis), np.where(short, stry, sbis)
        xpre, fpre = xcur, fcur
        xcur = xcur + np.where(np.abs(scur) > delta, scur, np.where(sbis > 0, delta, -delta))
        idx = np.flatnonzero(~done)
        if idx.size:
            fcur = fcur.copy()
            fcur[idx] = f(xcur[idx], *(arg[idx] for arg in args))
    if not done.all():
        raise RuntimeError(f"brentq_rows: {int((~done).sum())} root(s) not converged "
                           f"after {maxiter} iterations")
    return root
