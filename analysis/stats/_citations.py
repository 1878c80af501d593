"""Method name -> (short citation, BibTeX key): the single source of truth.

`summary()` prints the short citation; the report's methods paragraph emits the key,
which must exist in ``report/references.bib`` (a test checks both directions).
"""

from __future__ import annotations

CITATIONS: dict[str, tuple[str, str]] = {
    # per-study confidence intervals
    "clopper-pearson": ("Clopper & Pearson (1934)", "clopper1934"),
    "wilson": ("Wilson (1927)", "wilson1927"),
    "wilson-cc": ("Newcombe (1998)", "newcombe1998"),
    "agresti-coull": ("Agresti & Coull (1998)", "agresti1998"),
    "jeffreys": ("Brown, Cai & DasGupta (2001)", "brown2001"),
    "wald": ("Brown, Cai & DasGupta (2001)", "brown2001"),
    # measures
    "logit": ("Sweeting, Sutton & Lambert (2004)", "sweeting2004"),
    "freeman-tukey": ("Freeman & Tukey (1950); Miller (1978)", "freeman1950"),
    "arcsine": ("Barendregt et al. (2013)", "barendregt2013"),
    "log": ("Viechtbauer (2010)", "viechtbauer2010"),
    "raw": ("Viechtbauer (2010)", "viechtbauer2010"),
    "log-odds-ratio": ("Viechtbauer (2010)", "viechtbauer2010"),
    "log-risk-ratio": ("Viechtbauer (2010)", "viechtbauer2010"),
    "risk-difference": ("Viechtbauer (2010)", "viechtbauer2010"),
    # models and estimators
    "common": ("Borenstein et al. (2010)", "borenstein2010"),
    "random": ("Borenstein et al. (2010)", "borenstein2010"),
    "glmm": ("Stijnen, Hamza & Ozdemir (2010)", "stijnen2010"),
    "bayes": ("Röver (2020)", "roever2020"),
    "bayes-normal": ("Röver (2020)", "roever2020"),
    "credible": ("Röver (2020)", "roever2020"),
    "bayes-binomial": ("Günhan, Röver & Friede (2020)", "gunhan2020"),
    "bayes-few-studies": ("Friede et al. (2017)", "friede2017"),
    "bayes-tau-prior": ("Röver et al. (2021)", "roever2021"),
    "dersimonian-laird": ("DerSimonian & Laird (1986)", "dersimonian1986"),
    "reml": ("Viechtbauer (2005)", "viechtbauer2005"),
    "paule-mandel": ("Paule & Mandel (1982)", "paule1982"),
    "ml": ("Viechtbauer (2005)", "viechtbauer2005"),
    "knapp-hartung": ("Knapp & Hartung (2003)", "knapp2003"),
    "q-profile": ("Viechtbauer (2007)", "viechtbauer2007"),
    "i2": ("Higgins & Thompson (2002)", "higgins2002"),
    "prediction-interval": ("Riley, Higgins & Deeks (2011)", "riley2011"),
    "adaptive-gauss-hermite": ("Pinheiro & Bates (1995)", "pinheiro1995"),
    "miller-harmonic-mean": ("Miller (1978)", "miller1978"),
    "murad2018": ("Murad et al. (2018)", "murad2018"),
    "grade": ("Guyatt et al. (2011)", "guyatt2011"),
    "prisma2020": ("Page et al. (2021)", "page2021"),
    "metafor": ("Viechtbauer (2010)", "viechtbauer2010"),
    "lme4": ("Bates et al. (2015)", "bates2015"),
    "freeman-tukey-pitfall": ("Schwarzer et al. (2019)", "schwarzer2019"),
}


def cite(method: str) -> str:
    """Short author-year citation of a method name (KeyError if unknown)."""
    return CITATIONS[method][0]


def bib_key(method: str) -> str:
    """BibTeX key of a method name (KeyError if unknown)."""
    return CITATIONS[method][1]
