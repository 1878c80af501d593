"""Immutable, self-describing result objects.

Results hold what was computed and how (method names, confidence level, corrections);
they do no statistics beyond formatting. Each has three derived views: ``summary()``
(fixed-width text whose footer names the methods), ``to_frame()`` (one row per study
plus pooled rows) and ``to_dict()`` (JSON-safe; what ``make`` writes to
``data/derived``). A value that does not exist for a model is ``None``, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._citations import cite
from ._columns import cached_frame
from ._summary import _CI_NOTE, _ci_text, _fmt, _given, _heterogeneity_lines

# The records results are built from live in `result_types`; re-exported here (with the
# private helper `_num` that `two_group_results` uses).
from .result_types import (
    ConfidenceInterval,
    Heterogeneity,
    ProportionEstimate,
    _num,
)

if TYPE_CHECKING:
    import pandas as pd

    from ._columns import Columns

__all__ = [
    "ConfidenceInterval",
    "Heterogeneity",
    "LeaveOneOut",
    "PooledProportion",
    "ProportionEstimate",
]


@dataclass(frozen=True, slots=True, eq=False)
class PooledProportion:
    """A pooled proportion from `analysis.pool_proportions`.

    Estimates are held on the analysis scale (``estimate``, ``se``, ``ci``, ``pi``) and
    back-transformed to the proportion scale (``proportion``, ``proportion_ci``,
    ``proportion_pi``). ``studies`` is a DataFrame with one row per study: ``study_id``,
    ``events``, ``n``, ``proportion``, ``ci_low``, ``ci_high`` (per-study interval by
    ``study_ci_method``), ``effect``, ``variance`` (analysis scale, after any continuity
    correction), ``corrected`` and ``weight`` (percent; NaN where undefined, as for the
    GLMM and the Bayesian models). It is made from ``table`` (the same columns as
    arrays) when first read, so a fit that is only summarised never imports pandas.

    Bayesian fits (``model="bayes"``) fill the optional fields: ``likelihood``, ``prior``
    (text naming both priors), ``tau_median`` and ``tau_ci`` (posterior median and
    equal-tailed interval of tau, logit scale) and, with a ``threshold``, ``prob_above``
    = P(proportion > threshold | data). Their ``estimate`` is the posterior median of mu,
    ``se`` its posterior sd, ``ci`` the credible and ``pi`` the predictive interval, and
    ``heterogeneity.tau2`` is ``tau_median**2``.
    """

    model: str
    measure: str
    tau2_method: str | None
    ci_method: str
    confidence_level: float
    study_ci_method: str
    correction: float
    correction_policy: str
    n_agq: int | None
    estimate: float | None
    se: float | None
    ci: ConfidenceInterval
    pi: ConfidenceInterval | None
    proportion: float | None
    proportion_ci: ConfidenceInterval
    proportion_pi: ConfidenceInterval | None
    back_transform: str
    heterogeneity: Heterogeneity
    table: Columns
    warnings: tuple[str, ...] = field(default=())
    pi_method: str = "metafor"
    likelihood: str | None = None
    prior: str | None = None
    tau_median: float | None = None
    tau_ci: ConfidenceInterval | None = None
    threshold: float | None = None
    prob_above: float | None = None
    # the Bayesian priors as given to pool_proportions (for re-fits such as leave_one_out)
    prior_spec: tuple | None = None
    _frame: Any = field(default=None, init=False, repr=False)

    @property
    def studies(self) -> pd.DataFrame:
        """One row per study (see the class docstring), as a DataFrame made once."""
        return cached_frame(self)

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.table)

    def methods(self) -> dict[str, Any]:
        """The options that made this result (what a methods paragraph needs)."""
        return {
            "model": self.model,
            "measure": self.measure,
            "tau2_method": self.tau2_method,
            "ci_method": self.ci_method,
            "confidence_level": self.confidence_level,
            "study_ci_method": self.study_ci_method,
            "correction": self.correction,
            "correction_policy": self.correction_policy,
            "n_agq": self.n_agq,
            "back_transform": self.back_transform,
            "pi_method": self.pi_method,
        }

    def label(self) -> str:
        """Short human label of the method, e.g. 'GLMM (ML, AGHQ 7)' or 'RE logit REML'."""
        if self.model == "bayes":
            return f"Bayesian {self.likelihood}-normal ({self.prior})"
        if self.model == "glmm":
            quad = "Laplace" if self.n_agq == 1 else f"AGHQ {self.n_agq}"
            return f"GLMM logit (ML, {quad})"
        if self.model == "common":
            return f"Common effect, {self.measure}"
        ci = ", HK" if self.ci_method == "knapp-hartung" else ""
        tau = {"dersimonian-laird": "DL", "reml": "REML", "paule-mandel": "PM", "ml": "ML"}
        return f"Random effects, {self.measure}, {tau[self.tau2_method]}{ci}"

    def summary(self) -> str:
        """Fixed-width text table: studies, pooled row, heterogeneity, methods footer.

        The study column is as wide as the longest label (labels are never cut), and
        statistics that do not exist for the fit are left out rather than printed as NA.
        """
        lvl = f"{self.confidence_level:.0%}"
        rows = []
        for row in self.table.itertuples():
            w = "n/a" if not np.isfinite(row.weight) else f"{row.weight:.1f}%"
            rows.append((str(row.study_id), f"{row.events:d}", f"{row.n:d}",
                         f"{row.proportion:.3f}", _ci_text(row.ci_low, row.ci_high), w))
        p, c = self.proportion, self.proportion_ci
        pooled = ("pooled", f"{int(self.table.events.sum()):d}", f"{int(self.table.n.sum()):d}",
                  _fmt(p, 3), _ci_text(c.low, c.high), "")
        pi_row = None
        if self.proportion_pi is not None:
            pi_row = ("prediction interval", "", "", "",
                      _ci_text(self.proportion_pi.low, self.proportion_pi.high), "")
        head = ("study", "events", "n", "prop", f"{lvl} CI", "weight")
        table = [head, *rows, pooled] + ([pi_row] if pi_row else [])
        widths = [max(len(r[i]) for r in table) for i in range(len(head))]

        def line(r):
            return (f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  "
                    f"{r[3]:>{widths[3]}}  {r[4]:<{widths[4]}}  {r[5]:>{widths[5]}}").rstrip()

        rule = "-" * len(line(head))
        lines = [f"Pooled proportion: {self.label()}  (k = {self.k})", "", line(head), rule]
        lines += [line(r) for r in rows] + [rule, line(pooled)]
        if pi_row:
            lines.append(line(pi_row))
        lines.append("")
        if self.model == "bayes":
            t = self.tau_ci
            lines.append(f"Heterogeneity: tau (posterior median) = {_fmt(self.tau_median)} "
                         f"[{_fmt(t.low)}, {_fmt(t.high)}]; tau^2 = {_fmt(self.heterogeneity.tau2)}")
            if self.prob_above is not None:
                lines.append(f"P(proportion > {self.threshold:g}) = {_fmt(self.prob_above)}")
            lines += ["", "Methods: " + "; ".join(self._method_notes())]
            lines += [f"Warning: {w}" for w in self.warnings]
            return "\n".join(lines)
        lines += _heterogeneity_lines(self.heterogeneity, self.model)
        lines.append("")
        lines.append("Methods: " + "; ".join(self._method_notes()))
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

    def _method_notes(self) -> list[str]:
        """What was done, each with the paper that defines it; nothing that did not apply."""
        notes = []
        if self.model == "bayes":
            return [
                f"Bayesian {self.likelihood}-normal random effects, {self.prior}, exact "
                f"quadrature ({cite('bayes-' + str(self.likelihood))})",
                f"{self.confidence_level:.0%} equal-tailed credible and predictive intervals",
                f"study CIs {self.study_ci_method} ({cite(self.study_ci_method)})",
            ]
        if self.model == "glmm":
            notes.append(
                f"binomial-normal GLMM, ML, {'Laplace' if self.n_agq == 1 else 'adaptive Gauss-Hermite'}"
                f" with {self.n_agq} node(s) ({cite('glmm')})"
            )
        else:
            notes.append(f"{self.model}-effects inverse-variance on the {self.measure} scale "
                         f"({cite(self.measure)})")
            if self.tau2_method is not None:
                notes.append(f"tau^2 by {self.tau2_method} ({cite(self.tau2_method)})")
        # a pooled Wald interval is part of the model's definition: cite the model
        ci_key = self.model if self.ci_method == "wald" else self.ci_method
        notes.append(f"{_CI_NOTE.get(self.ci_method, self.ci_method + ' CI')} ({cite(ci_key)})")
        notes.append(f"study CIs {self.study_ci_method} ({cite(self.study_ci_method)})")
        notes.append(f"back-transform: {self.back_transform}")
        # the GLMM models the counts: no correction enters its estimate
        if self.model != "glmm" and self.correction_policy != "none" and self.correction > 0:
            notes.append(f"continuity correction {self.correction:g} ({self.correction_policy})")
        return notes

    def to_frame(self) -> pd.DataFrame:
        """One row per study plus a pooled row (and a prediction row where defined)."""
        import pandas as pd

        df = self.studies.copy()
        df.insert(0, "row", "study")
        pooled = {
            "row": "pooled",
            "study_id": "pooled",
            "events": int(self.table.events.sum()),
            "n": int(self.table.n.sum()),
            "proportion": self.proportion,
            "ci_low": self.proportion_ci.low,
            "ci_high": self.proportion_ci.high,
            "effect": self.estimate,
            "variance": None if self.se is None else self.se**2,
            "weight": 100.0 if self.model not in ("glmm", "bayes") else np.nan,
        }
        rows = [pooled]
        if self.proportion_pi is not None:
            rows.append(
                {
                    "row": "prediction",
                    "study_id": "prediction interval",
                    "proportion": self.proportion,
                    "ci_low": self.proportion_pi.low,
                    "ci_high": self.proportion_pi.high,
                }
            )
        extra = pd.DataFrame(rows)
        return pd.concat([df, extra], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view; the proportion-scale values are the flat top-level keys.

        Bayesian fits add ``tau_median``, ``tau_ci_low``, ``tau_ci_high``, ``prior``,
        ``likelihood`` and, with a threshold, ``threshold`` and ``prob_above``.
        """
        out = self._to_dict()
        if self.model == "bayes":
            out.update({
                "tau_median": _num(self.tau_median),
                "tau_ci_low": None if self.tau_ci is None else _num(self.tau_ci.low),
                "tau_ci_high": None if self.tau_ci is None else _num(self.tau_ci.high),
                "prior": self.prior,
                "likelihood": self.likelihood,
            })
            out["methods"].update({"likelihood": self.likelihood, "prior": self.prior})
            if self.threshold is not None:
                out.update({"threshold": self.threshold, "prob_above": _num(self.prob_above)})
        return out

    def _to_dict(self) -> dict[str, Any]:
        h = self.heterogeneity.to_dict()
        return {
            "estimate": _num(self.proportion),
            "ci_low": _num(self.proportion_ci.low),
            "ci_high": _num(self.proportion_ci.high),
            "pi_low": None if self.proportion_pi is None else _num(self.proportion_pi.low),
            "pi_high": None if self.proportion_pi is None else _num(self.proportion_pi.high),
            "tau2": h["tau2"],
            "tau2_ci_low": h["tau2_ci_low"],
            "tau2_ci_high": h["tau2_ci_high"],
            "i2": h["i2"],
            "i2_q": h["i2_q"],
            "h2": h["h2"],
            "q": h["q"],
            "q_pvalue": h["q_pvalue"],
            "q_lrt": h["q_lrt"],
            "q_lrt_pvalue": h["q_lrt_pvalue"],
            "k": self.k,
            "label": self.label(),
            "methods": self.methods(),
            "analysis_scale": {
                "estimate": _num(self.estimate),
                "se": _num(self.se),
                "ci_low": _num(self.ci.low),
                "ci_high": _num(self.ci.high),
                "pi_low": None if self.pi is None else _num(self.pi.low),
                "pi_high": None if self.pi is None else _num(self.pi.high),
            },
            "heterogeneity": h,
            "warnings": list(self.warnings),
            "studies": self.table.records(
                ["study_id", "events", "n", "proportion", "ci_low", "ci_high", "weight"]),
        }

    def plot_forest(self, ax=None, **kwargs):
        """Forest plot of this result (statsmodels' convention: returns the Figure).

        A thin wrapper of `analysis.present.plotting.forest_plot` (keyword arguments such
        as ``labels``, ``title`` or ``style`` are passed on). With ``ax`` the plot is drawn
        into that Axes and its Figure is returned; otherwise a new Figure is made. Needs
        matplotlib, which is imported only here.

        Examples
        --------
        >>> from analysis import pool_proportions
        >>> fig = pool_proportions([3, 5, 9], [4, 8, 12]).plot_forest()
        >>> type(fig).__name__
        'Figure'
        """
        # The one documented exception to "the engine never imports the present layer"
        # (tests/test_architecture.py): a lazy import, so the engine loads without matplotlib.
        from ..present.plotting import forest_plot

        return forest_plot(self, ax=ax, **kwargs)

    def __repr__(self) -> str:
        p = _fmt(self.proportion)
        c = self.proportion_ci
        return (
            f"PooledProportion({self.label()}, k={self.k}, "
            f"proportion={p} [{_fmt(c.low)}, {_fmt(c.high)}])"
        )


@dataclass(frozen=True, slots=True, eq=False)
class LeaveOneOut:
    """Leave-one-out re-fits of a pooled proportion.

    ``rows`` (a DataFrame, made from ``table`` when first read) has one row per omitted
    study: ``omitted``, ``estimate``, ``ci_low``, ``ci_high`` (proportion scale),
    ``tau2``, ``i2`` and ``warnings``.
    """

    full: PooledProportion
    table: Columns
    _frame: Any = field(default=None, init=False, repr=False)

    @property
    def rows(self) -> pd.DataFrame:
        """One row per omitted study, as a DataFrame made once."""
        return cached_frame(self)

    def summary(self) -> str:
        """Fixed-width table of the re-fits under the full-data estimate (columns aligned)."""
        lvl = f"{self.full.confidence_level:.0%} CI"

        def cells(name, est, lo, hi, t2, i2):
            return (str(name), _fmt(est, 3), _ci_text(lo, hi), _fmt(t2, 3) if _given(t2) else "",
                    f"{_fmt(i2, 1)}%" if _given(i2) else "")

        f = self.full
        h = f.heterogeneity
        table = [("omitted", "estimate", lvl, "tau^2", "I^2")]
        table += [cells(r.omitted, r.estimate, r.ci_low, r.ci_high, r.tau2, r.i2)
                  for r in self.table.itertuples()]
        table.append(cells("(none)", f.proportion, f.proportion_ci.low, f.proportion_ci.high,
                           h.tau2, h.i2))
        widths = [max(len(r[i]) for r in table) for i in range(5)]

        def line(r):
            return (f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  "
                    f"{r[3]:>{widths[3]}}  {r[4]:>{widths[4]}}").rstrip()

        rule = "-" * len(line(table[0]))
        lines = [f"Leave-one-out: {f.label()}", "", line(table[0]), rule]
        lines += [line(r) for r in table[1:-1]] + [rule, line(table[-1])]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The re-fits, one row per omitted study."""
        return self.rows.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe list of re-fits."""
        out = self.table.records([c for c in self.table.columns if c != "warnings"])
        for rec, w in zip(out, self.table.warnings, strict=True):
            rec["warnings"] = list(w)
        return {"full": self.full.to_dict(), "leave_one_out": out}
