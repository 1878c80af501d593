"""The few distribution functions the engine needs, from `scipy.special` alone.

`scipy.stats` costs about three times the import time of `scipy.special`, and every
pipeline step and CLI call pays it; these are the functions `scipy.stats` itself calls
for the same quantities (scipy 1.17: ``norm._ppf`` is ``ndtri``, ``t._ppf`` is
``stdtrit``, ``chi2._sf`` is ``chdtrc``, ``chi2._ppf`` is ``2 gammaincinv(df / 2, q)``,
...), so the results are bit-identical (tests/test_proportions.py checks them against
`scipy.stats` on a grid).
"""

from __future__ import annotations

from scipy import special

__all__ = ["chi2_isf", "chi2_ppf", "chi2_sf", "norm_isf", "norm_ppf", "norm_sf", "t_isf",
           "t_ppf", "t_sf"]


def norm_ppf(q):
    return special.ndtri(q)


def norm_isf(q):
    return -special.ndtri(q)


def norm_sf(x):
    return special.ndtr(-x)


def t_ppf(q, df):
    return special.stdtrit(df, q)


def t_isf(q, df):
    return -special.stdtrit(df, q)


def t_sf(x, df):
    return special.stdtr(df, -x)


def chi2_sf(x, df):
    return special.chdtrc(df, x)


def chi2_ppf(q, df):
    return 2.0 * special.gammaincinv(df / 2.0, q)


def chi2_isf(q, df):
    return 2.0 * special.gammainccinv(df / 2.0, q)
