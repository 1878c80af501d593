"""Single proportions: per-study confidence intervals, transformations and their inverses.

Per-study intervals do not depend on the pooling scale: a forest plot shows the exact
(Clopper-Pearson) interval of each study whatever model pooled them, as R's meta does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from ._columns import Columns
from ._dist import norm_ppf
from ._validation import (
    MEASURES,
    STUDY_CI_METHODS,
    Measure,
    StudyCIMethod,
    check_choice,
    check_confidence_level,
    check_counts,
)
from .results import ConfidenceInterval, ProportionEstimate

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "back_transform",
    "ft_harmonic_mean_n",
    "proportion_ci",
    "study_proportions",
    "transform_proportion",
]


def _ci_bounds(x: np.ndarray, n: np.ndarray, method: str, level: float):
    """Vectorised interval kernel; x, n int arrays; returns (low, high) clipped to [0, 1]."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - level
    z = norm_ppf(1.0 - alpha / 2.0)
    p = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "clopper-pearson":
            # Beta-quantile form of Clopper & Pearson (1934), as R's binom.test.
            low = np.where(x == 0, 0.0, special.betaincinv(x, n - x + 1.0, alpha / 2.0))
            high = np.where(x == n, 1.0, special.betaincinv(x + 1.0, n - x, 1.0 - alpha / 2.0))
        elif method == "jeffreys":
            # Equal-tailed Beta(x + 1/2, n - x + 1/2) interval, with the boundary rule of
            # Brown, Cai & DasGupta (2001, sec. 4.1.2): low = 0 at x = 0, high = 1 at x = n.
            low = np.where(x == 0, 0.0, special.betaincinv(x + 0.5, n - x + 0.5, alpha / 2.0))
            high = np.where(
                x == n, 1.0, special.betaincinv(x + 0.5, n - x + 0.5, 1.0 - alpha / 2.0)
            )
        elif method == "wilson":
            centre = (x + z**2 / 2.0) / (n + z**2)
            half = z * np.sqrt(x * (n - x) / n + z**2 / 4.0) / (n + z**2)
            low, high = centre - half, centre + half
        elif method == "wilson-cc":
            # Newcombe (1998), method 4 (continuity-corrected score interval).
            q = 1.0 - p
            low = (
                2 * n * p + z**2 - 1 - z * np.sqrt(z**2 - 2 - 1 / n + 4 * p * (n * q + 1))
            ) / (2 * (n + z**2))
            high = (
                2 * n * p + z**2 + 1 + z * np.sqrt(z**2 + 2 - 1 / n + 4 * p * (n * q - 1))
            ) / (2 * (n + z**2))
            low = np.where(x == 0, 0.0, low)
            high = np.where(x == n, 1.0, high)
        elif method == "agresti-coull":
            nt = n + z**2
            pt = (x + z**2 / 2.0) / nt
            half = z * np.sqrt(pt * (1 - pt) / nt)
            low, high = pt - half, pt + half
        else:  # "wald"
            half = z * np.sqrt(p * (1 - p) / n)
            low, high = p - half, p + half
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)


def proportion_ci(
    events: int,
    n: int,
    *,
    method: StudyCIMethod = "clopper-pearson",
    confidence_level: float = 0.95,
) -> ProportionEstimate:
    """Confidence interval for one binomial proportion ``events / n``.

    The exact Clopper & Pearson (1934) interval by default: it inverts two one-sided
    binomial tests, so its coverage is at least `confidence_level` for every true
    proportion, which is what a reader of a single small case series should be shown.
    Brown, Cai & DasGupta (2001) compare the alternatives.

    Parameters
    ----------
    events, n : int
        Number of patients with the outcome and number of patients (``0 <= events <= n``,
        ``n >= 1``).
    method : {"clopper-pearson", "wilson", "wilson-cc", "agresti-coull", "jeffreys", "wald"}
        * "clopper-pearson" -- exact Beta-quantile interval [1]_; the default.
        * "wilson" -- score interval [2]_ (R ``prop.test(correct=FALSE)``).
        * "wilson-cc" -- score interval with continuity correction, Newcombe (1998)
          method 4 [3]_.
        * "agresti-coull" -- adjusted Wald interval [4]_.
        * "jeffreys" -- equal-tailed Beta(x + 1/2, n - x + 1/2) interval [5]_.
        * "wald" -- normal approximation; poor for small n, offered for comparison.
    confidence_level : float
        Two-sided nominal coverage, in (0, 1).

    Returns
    -------
    ProportionEstimate

    Raises
    ------
    ValueError
        Unknown `method`, `confidence_level` outside (0, 1), or invalid counts.

    Notes
    -----
    Every interval is clipped to [0, 1]. At ``events = 0`` the lower limit of the
    Clopper-Pearson, Jeffreys and Wilson-cc intervals is exactly 0, and at
    ``events = n`` the upper limit is exactly 1. R's ``prop.test`` shrinks its Yates
    correction to ``|x - n/2|`` when that is below 1/2, so "wilson-cc" differs from
    ``prop.test(correct=TRUE)`` only when ``x = n / 2``.

    References
    ----------
    .. [1] Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial
       limits illustrated in the case of the binomial. Biometrika, 26(4), 404-413.
       https://doi.org/10.1093/biomet/26.4.404
    .. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. JASA, 22(158), 209-212.
       https://doi.org/10.1080/01621459.1927.10502953
    .. [3] Newcombe, R. G. (1998). Two-sided confidence intervals for the single
       proportion: comparison of seven methods. Statistics in Medicine, 17(8), 857-872.
       https://doi.org/10.1002/(SICI)1097-0258(19980430)17:8<857::AID-SIM777>3.0.CO;2-E
    .. [4] Agresti, A., & Coull, B. A. (1998). Approximate is better than "exact" for
       interval estimation of binomial proportions. The American Statistician, 52(2),
       119-126. https://doi.org/10.1080/00031305.1998.10480550
    .. [5] Brown, L. D., Cai, T. T., & DasGupta, A. (2001). Interval estimation for a
       binomial proportion. Statistical Science, 16(2), 101-133.
       https://doi.org/10.1214/ss/1009213286

    Examples
    --------
    >>> est = proportion_ci(7, 50)
    >>> round(est.ci.low, 4), round(est.ci.high, 4)
    (0.0582, 0.2674)
    >>> proportion_ci(0, 20, method="wilson").ci.low
    0.0
    """
    check_choice("method", method, STUDY_CI_METHODS)
    level = check_confidence_level(confidence_level)
    x, m = check_counts([events], [n])
    low, high = _ci_bounds(x, m, method, level)
    return ProportionEstimate(
        events=int(x[0]),
        n=int(m[0]),
        proportion=float(x[0] / m[0]),
        ci=ConfidenceInterval(float(low[0]), float(high[0]), level),
        method=method,
    )


def study_proportions(
    events,
    n,
    *,
    study_ids=None,
    method: StudyCIMethod = "clopper-pearson",
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Per-study proportions and intervals as a frame.

    Columns: ``study_id``, ``events``, ``n``, ``proportion``, ``ci_low``, ``ci_high``.
    See `proportion_ci` for the methods.

    Examples
    --------
    >>> study_proportions([0, 3], [1, 3], study_ids=["a", "b"]).ci_high.round(3).tolist()
    [0.975, 1.0]
    """
    check_choice("method", method, STUDY_CI_METHODS)
    level = check_confidence_level(confidence_level)
    x, m = check_counts(events, n, study_ids=study_ids)
    ids = list(study_ids) if study_ids is not None else [str(i + 1) for i in range(x.size)]
    return _study_table(x, m, ids, method, level).frame()


def _study_table(x, m, ids, method: str, level: float) -> Columns:
    """The kernel of `study_proportions` (checked counts) as a `Columns`."""
    low, high = _ci_bounds(x, m, method, level)
    return Columns({"study_id": ids, "events": x.astype(np.int64), "n": m.astype(np.int64),
                  "proportion": x / m, "ci_low": low, "ci_high": high})


def transform_proportion(events, n, *, measure: Measure):
    """Effect and sampling variance of proportions on an analysis scale (metafor escalc).

    No continuity correction is applied here (see `analysis.effects.effect_sizes`, which
    applies the correction policy and then calls this). Formulas as metafor's
    ``escalc`` (Viechtbauer 2010), with ``p = x / n``:

    * "raw": ``p``, ``p (1 - p) / n``
    * "log": ``log p``, ``1 / x - 1 / n``
    * "logit": ``log(p / (1 - p))``, ``1 / x + 1 / (n - x)``
    * "arcsine": ``asin(sqrt(p))``, ``1 / (4 n)``
    * "freeman-tukey": ``(asin(sqrt(x / (n + 1))) + asin(sqrt((x + 1) / (n + 1)))) / 2``,
      ``1 / (4 n + 2)`` (Freeman & Tukey 1950, halved as in metafor and meta).

    Counts may be non-integer (after a continuity correction).

    Examples
    --------
    >>> y, v = transform_proportion([3.0], [11.0], measure="freeman-tukey")
    >>> round(float(y[0]), 4), round(float(v[0]), 4)
    (0.5695, 0.0217)
    """
    check_choice("measure", measure, MEASURES)
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    p = x / m
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "raw":
            return p, p * (1 - p) / m
        if measure == "log":
            return np.log(p), 1.0 / x - 1.0 / m
        if measure == "logit":
            return np.log(p / (1 - p)), 1.0 / x + 1.0 / (m - x)
        if measure == "arcsine":
            return np.arcsin(np.sqrt(p)), 1.0 / (4.0 * m)
        y = 0.5 * (np.arcsin(np.sqrt(x / (m + 1))) + np.arcsin(np.sqrt((x + 1) / (m + 1))))
        return y, 1.0 / (4.0 * m + 2.0)


def ft_harmonic_mean_n(n) -> float:
    """Harmonic mean of study sizes, the n used to back-transform pooled FT values.

    For a 2-d array, one harmonic mean per row (replicate evidence bases).

    Examples
    --------
    >>> round(ft_harmonic_mean_n([11, 17, 21, 6]), 5)
    10.98846
    """
    m = np.asarray(n, dtype=float)
    out = 1.0 / np.mean(1.0 / m, axis=-1)
    return float(out) if m.ndim == 1 else out


def _ipft(t, n):
    """Miller (1978) inverse of the (halved) Freeman-Tukey transform, as metafor."""
    t = np.asarray(t, dtype=float)
    n = np.broadcast_to(np.asarray(n, dtype=float), t.shape)
    s = np.sin(2.0 * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1.0 - (s + (s - 1.0 / s) / n) ** 2
        p = 0.5 * (1.0 - np.sign(np.cos(2.0 * t)) * np.sqrt(np.clip(inner, 0.0, None)))
    lo = transform_proportion(np.zeros_like(n), n, measure="freeman-tukey")[0]
    hi = transform_proportion(n.copy(), n, measure="freeman-tukey")[0]
    p = np.where(t < lo, 0.0, p)
    p = np.where(t > hi, 1.0, p)
    return p


def back_transform(value, *, measure: Measure, n=None):
    """Map values from the analysis scale back to the proportion scale, clipped to [0, 1].

    Inverse logit, exp, sin^2 and identity for "logit", "log", "arcsine" and "raw";
    for "freeman-tukey" the Miller (1978) inverse, which needs a sample size `n`
    (each study's own n for study values; the harmonic mean of the study sizes for a
    pooled value, see `ft_harmonic_mean_n`).

    Examples
    --------
    >>> float(back_transform(0.0, measure="logit"))
    0.5
    >>> y, _ = transform_proportion([3.0], [11.0], measure="freeman-tukey")
    >>> round(float(back_transform(y, measure="freeman-tukey", n=11)[0]), 6)
    0.272727
    """
    check_choice("measure", measure, MEASURES)
    v = np.asarray(value, dtype=float)
    if measure == "logit":
        out = special.expit(v)
    elif measure == "log":
        out = np.exp(v)
    elif measure == "raw":
        out = v
    elif measure == "arcsine":
        out = np.sin(np.clip(v, 0.0, np.pi / 2)) ** 2
    else:
        if n is None:
            raise ValueError("back_transform(measure='freeman-tukey') needs n")
        out = _ipft(v, n)
    return np.clip(out, 0.0, 1.0)
