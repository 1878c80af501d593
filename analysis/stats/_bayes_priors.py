"""The priors of the Bayesian models (see `analysis.stats.bayes`, which re-exports them):
a half-normal, half-Cauchy or uniform prior on tau and a normal (or flat) prior on mu,
both on the logit scale, given as tuples such as ``("half-normal", 0.5)`` or as text
such as ``"half-normal(0.5)"``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

TauPriorKind = Literal["half-normal", "half-cauchy", "uniform"]
TAU_PRIOR_KINDS: tuple[str, ...] = get_args(TauPriorKind)


@dataclass(frozen=True, slots=True)
class TauPrior:
    """Prior on the between-study sd tau (logit scale).

    ``scale`` is the half-normal or half-Cauchy scale, or the upper limit of the uniform.
    """

    kind: str
    scale: float

    @property
    def label(self) -> str:
        """Text such as 'half-normal(0.5)'."""
        if self.kind == "uniform":
            return f"uniform(0, {self.scale:g})"
        name = "half-Cauchy" if self.kind == "half-cauchy" else "half-normal"
        return f"{name}({self.scale:g})"

    def density(self, tau) -> np.ndarray:
        """Prior density of tau at the given points (0 below 0; for figures).

        >>> TauPrior("half-normal", 0.5).density([0.0, -1.0]).round(4).tolist()
        [1.5958, 0.0]
        """
        t = np.asarray(tau, dtype=float)
        s = self.scale
        if self.kind == "half-normal":
            d = np.sqrt(2.0 / np.pi) / s * np.exp(-0.5 * (t / s) ** 2)
        elif self.kind == "half-cauchy":
            d = 2.0 / (np.pi * s * (1.0 + (t / s) ** 2))
        else:
            d = np.where(t <= s, 1.0 / s, 0.0)
        return np.where(t >= 0.0, d, 0.0)


@dataclass(frozen=True, slots=True)
class MuPrior:
    """Normal prior on mu (logit scale); ``sd = inf`` is the flat (improper) prior."""

    mean: float
    sd: float

    @property
    def precision(self) -> float:
        """1 / sd^2 (0 for the flat prior)."""
        return 0.0 if math.isinf(self.sd) else 1.0 / self.sd**2

    @property
    def label(self) -> str:
        """Text such as 'normal(0, 10)' or 'flat'."""
        return "flat" if math.isinf(self.sd) else f"normal({self.mean:g}, {self.sd:g})"


def _parts(spec, option: str) -> list:
    if isinstance(spec, str):
        return spec.strip().split(":")
    if isinstance(spec, tuple | list):
        return list(spec)
    raise ValueError(f"{option}: expected a tuple or a string such as 'half-normal:0.5'; got {spec!r}")


def _number(value, option: str, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{option}: {what} must be a number; got {value!r}") from None
    if math.isnan(x):
        raise ValueError(f"{option}: {what} must be a number; got {value!r}")
    return x


def tau_prior(spec, *, option: str = "tau_prior") -> TauPrior:
    """Parse and validate a tau prior: ``("half-normal", 0.5)``, ``"half-cauchy:1"``,
    ``("uniform", 5)`` (upper limit) or a `TauPrior`. Raises ValueError naming `option`."""
    if isinstance(spec, TauPrior):
        return spec
    parts = _parts(spec, option)
    kinds = ", ".join(TAU_PRIOR_KINDS)
    if len(parts) != 2 or parts[0] not in TAU_PRIOR_KINDS:
        raise ValueError(f"{option}: expected KIND:SCALE with KIND one of {kinds}; got {spec!r}")
    scale = _number(parts[1], option, "the scale (uniform: the upper limit)")
    if not 0.0 < scale < math.inf:
        raise ValueError(f"{option}: the scale must be positive and finite; got {parts[1]!r}")
    return TauPrior(parts[0], scale)


def mu_prior(spec, *, option: str = "mu_prior") -> MuPrior:
    """Parse and validate a mu prior: ``("normal", 0.0, 10.0)``, ``"normal:0:10"``,
    ``("flat",)``, ``"flat"``, ``("normal", 0, inf)`` or a `MuPrior`."""
    if isinstance(spec, MuPrior):
        return spec
    parts = _parts(spec, option)
    if parts == ["flat"]:
        return MuPrior(0.0, math.inf)
    if len(parts) != 3 or parts[0] != "normal":
        raise ValueError(f"{option}: expected normal:MEAN:SD or flat; got {spec!r}")
    mean = _number(parts[1], option, "the mean")
    sd = _number(parts[2], option, "the sd")
    if not math.isfinite(mean) or not sd > 0.0:
        raise ValueError(f"{option}: the mean must be finite and the sd positive; got {spec!r}")
    return MuPrior(mean, sd)


def prior_label(tau: TauPrior, mu: MuPrior) -> str:
    """'tau ~ half-normal(0.5); mu ~ normal(0, 10)' (logit scale)."""
    return f"tau ~ {tau.label}; mu ~ {mu.label}"
