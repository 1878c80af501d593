"""Coverage of each pooling method on simulated evidence bases, scenario by scenario.

`evaluate_scenario` draws one scenario's replicates (`analysis.stats.simulate`), fits
every method to all of them at once (`analysis.stats.batched`, the profile likelihood of
`analysis.stats.glmm_profile`, the Bayesian posteriors of `analysis.stats.bayes`) and
summarises each interval (Morris, White & Crowther 2019):

* ``coverage``: the share of **all** replicates whose interval contains the target. A
  replicate where the method gives no interval (no finite estimate, a failed or
  diverging fit) counts as a miss, never as dropped; ``failure_rate`` says how often.
* ``coverage_tau0``: the same among the replicates where the primary model's estimate
  of tau^2 is 0 (the binomial-normal GLMM, ML: a fit at the boundary), the datasets that
  look homogeneous, where a prediction interval collapses onto the CI;
  ``replicates_tau0`` says how many.
* ``mcse``, ``mcse_tau0``: Monte Carlo SEs ``sqrt(c (1 - c) / replicates)``.
* widths (median and mean) and biases of the point estimate over the replicates with an
  interval; ``degenerate_rate``: the method's own tau^2 estimate is 0.

Reference: Morris, T. P., White, I. R., & Crowther, M. J. (2019). Using simulation
studies to evaluate statistical methods. Statistics in Medicine, 38(11), 2074-2102.
https://doi.org/10.1002/sim.8086
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .batched import fit_glmm_batch, fit_iv_batch
from .bayes import posterior_batch
from .glmm_profile import profile_ci_batch
from .intervals import critical_value, wald_intervals
from .proportions import _ci_bounds
from .simulate import simulate

__all__ = ["BAYES_PRIOR", "CALIBRATION_METHODS", "DEFAULT_METHODS", "METHOD_LABELS",
           "evaluate_scenario"]

# method -> (family, measure, tau2 method, interval rule)
_SPECS: dict[str, tuple[str, str | None, str | None, str]] = {
    "glmm": ("glmm", "logit", None, "z"),
    "glmm-t": ("glmm", "logit", None, "t"),
    "glmm-profile": ("glmm", "logit", None, "profile"),
    "bayes-binomial": ("bayes", "logit", None, "binomial"),
    "bayes-normal": ("bayes", "logit", None, "normal"),
    "study-clopper-pearson": ("study", None, None, "exact"),
}
METHOD_LABELS: dict[str, str] = {
    "glmm": "GLMM (ML, AGHQ), Wald z interval",
    "glmm-t": "GLMM (ML, AGHQ), t interval with k - 1 df",
    "glmm-profile": "GLMM (ML, AGHQ), profile-likelihood interval",
    "bayes-binomial": "Bayesian binomial-normal, half-normal(0.5) prior on tau",
    "bayes-normal": "Bayesian normal-normal (logit), half-normal(0.5) prior on tau",
    "study-clopper-pearson": "Per-study exact (Clopper-Pearson) interval (reference)",
}
for _measure, _short, _name in (("logit", "logit", "logit"), ("freeman-tukey", "ft", "Freeman-Tukey")):
    _SPECS[f"common-{_short}"] = ("common", _measure, None, "wald")
    METHOD_LABELS[f"common-{_short}"] = f"Common effect, {_name}"
    for _t2, _t2short, _t2name in (("dersimonian-laird", "dl", "DerSimonian-Laird"),
                                   ("reml", "reml", "REML"), ("paule-mandel", "pm", "Paule-Mandel")):
        _SPECS[f"random-{_short}-{_t2short}"] = ("random", _measure, _t2, "wald")
        _SPECS[f"random-{_short}-{_t2short}-hk"] = ("random", _measure, _t2, "knapp-hartung")
        METHOD_LABELS[f"random-{_short}-{_t2short}"] = f"Random effects, {_name}, {_t2name}"
        METHOD_LABELS[f"random-{_short}-{_t2short}-hk"] = (f"Random effects, {_name}, {_t2name}, "
                                                           "Knapp-Hartung")

CALIBRATION_METHODS: tuple[str, ...] = tuple(_SPECS)
DEFAULT_METHODS: tuple[str, ...] = (
    "glmm", "glmm-t", "glmm-profile", "bayes-binomial", "bayes-normal", "random-logit-reml",
    "random-logit-dl", "random-logit-reml-hk", "random-ft-reml", "random-ft-dl",
    "common-logit", "study-clopper-pearson",
)
# The priors of the Bayesian candidates (Röver et al. 2021; Günhan, Röver & Friede 2020).
BAYES_PRIOR = {"tau_prior": ("half-normal", 0.5), "mu_prior": ("normal", 0.0, 10.0)}


def _glmm_intervals(rule, fit, profile, k, level):
    ok = fit["converged"]
    est = special.expit(fit["mu"])
    if rule == "profile":
        return {"est": est, "lo": special.expit(profile["low"]), "hi": special.expit(profile["high"]),
                "plo": None, "phi": None, "ok": ok & profile["ok"], "zero": fit["at_boundary"]}
    crit = critical_value(level, k - 1 if rule == "t" else None)
    with np.errstate(invalid="ignore"):
        lo, hi, plo, phi = wald_intervals(fit["mu"], fit["se"], fit["tau2"], crit)
    return {"est": est, "lo": special.expit(lo), "hi": special.expit(hi), "plo": special.expit(plo),
            "phi": special.expit(phi), "ok": ok, "zero": fit["at_boundary"]}


def _bayes_intervals(likelihood, events, n, level):
    post = posterior_batch(events, n, likelihood=likelihood, confidence_level=level, **BAYES_PRIOR)
    ok = np.asarray(post["ok"], dtype=bool)
    return {"est": post["estimate"], "lo": post["ci_low"], "hi": post["ci_high"],
            "plo": post["pi_low"], "phi": post["pi_high"], "ok": ok, "zero": None}


def _intervals(method, events, n, level, fits):
    """One method's estimates and intervals (proportion scale) for every replicate."""
    family, measure, tau2_method, rule = _SPECS[method]
    k = events.shape[1]
    if family == "glmm":
        if rule == "profile" and "profile" not in fits:
            fits["profile"] = profile_ci_batch(events, n, fits["glmm"], n_agq=fits["n_agq"],
                                              confidence_level=level)
        return _glmm_intervals(rule, fits["glmm"], fits.get("profile"), k, level)
    if family == "bayes":
        return _bayes_intervals(rule, events, n, level)
    fit = fit_iv_batch(events, n, measure=measure, model=family, tau2_method=tau2_method or "reml",
                       ci_method="knapp-hartung" if rule == "knapp-hartung" else "wald",
                       confidence_level=level)
    lo, hi = fit["proportion_ci_low"], fit["proportion_ci_high"]
    return {"est": fit["proportion"], "lo": lo, "hi": hi,
            "plo": None if family == "common" else fit["proportion_pi_low"],
            "phi": None if family == "common" else fit["proportion_pi_high"],
            "ok": np.isfinite(lo) & np.isfinite(hi),
            "zero": None if family == "common" else fit["tau2"] == 0.0}


def _rate(covered, where=None):
    """Coverage and its Monte Carlo SE among the replicates `where` (all by default)."""
    c = covered if where is None else covered[where]
    if c.size == 0:
        return float("nan"), float("nan"), 0
    p = float(np.mean(c))
    return p, float(np.sqrt(p * (1 - p) / c.size)), int(c.size)


def _summary(covered, width, err, ok, zero, tau0):
    """The statistics of one interval; `covered` already counts failures as misses."""
    n_ok = int(ok.sum())
    cov, mcse, total = _rate(covered)
    cov0, mcse0, n0 = _rate(covered, tau0) if tau0 is not None else (float("nan"),) * 2 + (0,)

    def over_ok(f, values):
        return float(f(values[ok])) if n_ok else float("nan")

    return {
        "coverage": cov, "mcse": mcse,
        "coverage_tau0": cov0, "mcse_tau0": mcse0, "replicates_tau0": n0,
        "median_width": over_ok(np.median, width), "mean_width": over_ok(np.mean, width),
        "bias": over_ok(np.median, err), "mean_bias": over_ok(np.mean, err),
        "failure_rate": 1.0 - n_ok / total,
        "degenerate_rate": float(np.mean(zero[ok])) if (n_ok and zero is not None) else float("nan"),
        "replicates": total, "replicates_ok": n_ok,
    }


def _study_rows(events, n, p_study, level):
    nn = np.broadcast_to(n, events.shape).ravel()
    low, high = _ci_bounds(events.ravel(), nn, "clopper-pearson", level)
    ps = p_study.ravel()
    ok = np.ones(ps.size, dtype=bool)
    return {"ci": _summary((low <= ps) & (ps <= high), high - low, events.ravel() / nn - ps, ok,
                           None, None)}


def _method_rows(res, target, p_new, tau0):
    ok = np.asarray(res["ok"], dtype=bool)
    with np.errstate(invalid="ignore"):
        covered = ok & (res["lo"] <= target) & (target <= res["hi"])
        err = res["est"] - target
        out = {"ci": _summary(covered, res["hi"] - res["lo"], err, ok, res["zero"], tau0)}
        if res["plo"] is not None:
            covered_pi = ok & (res["plo"] <= p_new) & (p_new <= res["phi"])
            out["pi"] = _summary(covered_pi, res["phi"] - res["plo"], err, ok, res["zero"], tau0)
    return out


def evaluate_scenario(index, spec, replicates, seed, methods, level, n_agq):
    """Every method on one scenario: a list of row dicts. Pure: same inputs, same rows.

    `spec` is one of `analysis.stats.simulate.scenarios`; replicates are drawn from
    ``SeedSequence([seed, index])``.
    """
    m = np.asarray(spec["n"], dtype=np.int64)
    events, p_study, p_new, target = simulate(m, spec, replicates,
                                              np.random.SeedSequence([seed, index]))
    fits = {"glmm": fit_glmm_batch(events, m, n_agq=n_agq), "n_agq": n_agq}
    tau0 = fits["glmm"]["converged"] & fits["glmm"]["at_boundary"]
    base = {"scenario": index, "sizes": spec["sizes"], "k": int(m.size),
            "model": spec.get("model", "binomial-normal"), "scenario_label": spec.get("label", ""),
            "true_p": round(target, 12), "mu": float(spec["mu"]), "tau2": float(spec["tau2"])}
    rows = []
    for method in methods:
        if _SPECS[method][0] == "study":
            res = _study_rows(events, m, p_study, level)
            res["ci"]["replicates"] = int(replicates)  # R evidence bases, R * k study intervals
        else:
            res = _method_rows(_intervals(method, events, m, level, fits), target, p_new, tau0)
        for interval, stats_ in res.items():
            rows.append({**base, "method": method, "interval": interval, **stats_})
    return rows


# ---------------------------------------------------------------------- the written rule
# The summaries of coverage given tau^2-hat = 0 (not the rule) use the scenarios with at
# least this many such replicates (Monte Carlo SE <= 7 points): a scenario where the GLMM
# estimates tau^2 = 0 twice has a conditional coverage of 0, 50 or 100%.
TAU0_MIN_REPLICATES = 50
RULE_NOMINAL = 0.95
RULE_MARGIN = 0.025
RULE_REPLICATES = 2000
RULE = (
    "The primary method was picked by a rule written in code "
    "(analysis.stats.coverage.select_primary): among the candidate pooling methods, the one "
    "with the narrowest confidence interval (mean CI width on the proportion scale, averaged "
    "over the scenarios of the grid) among those whose minimum CI coverage over every "
    "scenario of the grid (every design, true proportion, tau^2 and misspecified model) is "
    "within {margin:g} percentage points of nominal, i.e. at least {floor:.1%} for {nominal:.0%} "
    "intervals, estimated from {required:,} replicates per scenario, a failed or degenerate "
    "fit counting as a miss."
)
FALLBACK_RULE = (
    "If no method qualifies, the methods whose minimum coverage lies within two Monte Carlo "
    "standard errors of the highest minimum coverage are taken as equally safe (a smaller "
    "difference is simulation noise) and the narrowest of them is chosen."
)
POST_HOC = (
    "This rule was written after the results of the simulation had been seen, so the choice "
    "of the primary method is post hoc, not pre-specified."
)


def _per_method(ci, candidates):
    rows = []
    for method in candidates:
        sub = ci[ci.method == method]
        worst = sub.sort_values(["coverage", "scenario"], kind="mergesort").iloc[0]
        tau0 = sub[sub.replicates_tau0 >= TAU0_MIN_REPLICATES]
        rows.append({
            "method": method, "label": METHOD_LABELS.get(method, method),
            "min_coverage": float(sub.coverage.min()), "mean_coverage": float(sub.coverage.mean()),
            "worst_scenario": int(worst.scenario),
            "worst_at": f"{worst.sizes}, {worst.scenario_label}" if "scenario_label" in sub
            else str(worst.sizes),
            "mean_width": float(sub.mean_width.mean()),
            "failure_rate": float(sub.failure_rate.mean()),
            "min_coverage_tau0": float(tau0.coverage_tau0.min()) if len(tau0) else float("nan"),
            "mean_coverage_tau0": float(tau0.coverage_tau0.mean()) if len(tau0) else float("nan"),
        })
    return rows


def select_primary(frame, *, nominal: float = RULE_NOMINAL, margin: float = RULE_MARGIN,
                   required_replicates: int = RULE_REPLICATES, candidates=None) -> dict:
    """Apply the written selection rule (`RULE`, then `FALLBACK_RULE`) to a coverage frame.

    Candidates are every method of `frame` but the per-study reference, unless given.
    Returns a JSON-safe dict: the rule's text with its numbers (``rule``,
    ``fallback_rule``, ``post_hoc``), ``chosen``, whether the fallback was used, the
    methods that qualify, the replicates used against the ``required_replicates`` the
    rule asks for, and one summary row per candidate (minimum and mean coverage overall
    and conditional on tau^2-hat = 0, over the scenarios with at least
    `TAU0_MIN_REPLICATES` such replicates, mean width, failure rate).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [{"scenario": s, "sizes": "a", "method": m, "interval": "ci", "coverage": c,
    ...          "mean_width": w, "failure_rate": 0.0, "replicates": 2000,
    ...          "replicates_tau0": 0, "coverage_tau0": float("nan")}
    ...         for m, c, w in (("wide", 0.97, 0.5), ("narrow", 0.90, 0.2)) for s in (0, 1)]
    >>> select_primary(pd.DataFrame(rows))["chosen"]
    'wide'
    """
    ci = frame[(frame.interval == "ci") & (frame.method != "study-clopper-pearson")]
    if candidates is None:
        candidates = list(dict.fromkeys(ci.method))
    if not candidates:
        raise ValueError("select_primary: no candidate method in the frame")
    table = _per_method(ci, candidates)
    floor = nominal - margin
    order = {m: i for i, m in enumerate(candidates)}
    qualified = [r for r in table if r["min_coverage"] >= floor - 1e-12]
    for r in table:
        r["qualifies"] = r in qualified
    if qualified:
        chosen = min(qualified, key=lambda r: (r["mean_width"], order[r["method"]]))
    used = int(ci.replicates.min())
    best = max(r["min_coverage"] for r in table)
    band = 2.0 * float(np.sqrt(best * (1.0 - best) / used))
    tied = [r for r in table if r["min_coverage"] >= best - band - 1e-12]
    if not qualified:
        chosen = min(tied, key=lambda r: (r["mean_width"], order[r["method"]]))
    return {
        "rule": RULE.format(margin=100 * margin, floor=floor, nominal=nominal,
                            required=required_replicates),
        "fallback_rule": FALLBACK_RULE, "post_hoc": POST_HOC,
        "nominal": nominal, "margin": margin, "threshold": floor,
        "replicates_required": int(required_replicates), "replicates_used": used,
        "replicates_sufficient": used >= required_replicates,
        "scenarios": int(ci.scenario.nunique()),
        "qualified": [r["method"] for r in qualified],
        "chosen": chosen["method"], "chosen_label": chosen["label"],
        "fallback_used": not qualified,
        "fallback_band": band, "fallback_tied": [] if qualified else [r["method"] for r in tied],
        "methods": table,
    }


def describe_selection(sel: dict) -> str:
    """One paragraph of the selection's outcome, every number from `sel`."""
    by = {r["method"]: r for r in sel["methods"]}
    c = by[sel["chosen"]]
    n = sel["scenarios"]
    if sel["fallback_used"]:
        tied = [by[m] for m in sel["fallback_tied"] if m != c["method"]]
        text = (f"No method keeps its coverage within {100 * sel['margin']:g} points of nominal "
                f"in all {n} scenarios; by the fallback rule the primary method is "
                f"{c['label']} ({c['method']}), the narrowest of the methods whose minimum "
                f"coverage is within two Monte Carlo SEs ({100 * sel['fallback_band']:.1f} points) "
                f"of the highest; its minimum coverage is {c['min_coverage']:.1%}")
        tied_text = (" Equally safe but wider: " + "; ".join(
            f"{r['method']}, minimum {r['min_coverage']:.1%}, width {r['mean_width']:.3f}"
            for r in tied) + ".") if tied else ""
    else:
        tied_text = ""
        text = (f"By the rule, the primary method is {c['label']} ({c['method']}): minimum "
                f"coverage {c['min_coverage']:.1%} over {n} scenarios")
    text += (f" (lowest at {c['worst_at']}), mean coverage {c['mean_coverage']:.1%}, mean CI "
             f"width {c['mean_width']:.3f}, no interval in {c['failure_rate']:.1%} of replicates."
             + tied_text)
    if c["mean_coverage_tau0"] == c["mean_coverage_tau0"]:
        text += (f" In the replicates where the GLMM estimates tau^2 = 0 (data that look "
                 f"homogeneous) it covers {c['mean_coverage_tau0']:.1%} on average (lowest "
                 f"{c['min_coverage_tau0']:.1%}).")
    others = [r for r in sel["methods"] if r["method"] != c["method"]]
    if sel["qualified"] and len(sel["qualified"]) > 1:
        text += " Also qualifying, but wider: " + "; ".join(
            f"{by[m]['method']} (width {by[m]['mean_width']:.3f})"
            for m in sel["qualified"] if m != c["method"]) + "."
    fail = [r for r in others if not r["qualifies"] and r["method"] not in sel["fallback_tied"]]
    if fail:
        text += " Below the threshold: " + "; ".join(
            f"{r['method']} (minimum {r['min_coverage']:.1%} at {r['worst_at']})"
            for r in sorted(fail, key=lambda r: -r["min_coverage"])) + "."
    if not sel["replicates_sufficient"]:
        mcse = 100 * (sel["nominal"] * (1 - sel["nominal"]) / sel["replicates_used"]) ** 0.5
        text += (f" This build simulated {sel['replicates_used']:,} replicates per scenario, fewer "
                 f"than the {sel['replicates_required']:,} the rule asks for: each coverage has a "
                 f"Monte Carlo SE of about {mcse:.1f} points near nominal, so the minimum over "
                 f"{n} scenarios is pulled down by noise and the rule is stricter than intended.")
    return text
