"""The GRADE rules, one named function per judgement, each citing the paper it follows.

Every function returns a `DomainRating` (or a start level) with its reason in words that
quote the data it read. The thresholds they use are GRADE's published defaults, named
below; nothing here is a home-made cut-off. They are proposals for a review team.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...stats._dist import norm_ppf
from .context import ControlRisk, GradeContext
from .types import DomainRating

CITE = {
    "grade1": "Guyatt et al. 2011 (GRADE 1), J Clin Epidemiol 64:383-394, doi:10.1016/j.jclinepi.2010.04.026",
    "grade4": "Guyatt et al. 2011 (GRADE 4), J Clin Epidemiol 64:407-415",
    "grade5": "Guyatt et al. 2011 (GRADE 5), J Clin Epidemiol 64:1277-1282, doi:10.1016/j.jclinepi.2011.01.011",
    "grade6": "Guyatt et al. 2011 (GRADE 6), J Clin Epidemiol 64:1283-1293",
    "grade7": "Guyatt et al. 2011 (GRADE 7), J Clin Epidemiol 64:1294-1302, doi:10.1016/j.jclinepi.2011.03.017",
    "grade8": "Guyatt et al. 2011 (GRADE 8), J Clin Epidemiol 64:1303-1310, doi:10.1016/j.jclinepi.2011.04.014",
    "grade18": "Schunemann et al. 2019 (GRADE 18), J Clin Epidemiol 111:105-114, doi:10.1016/j.jclinepi.2018.01.012",
    "grade34": "GRADE guidance 34 (2022), J Clin Epidemiol 150:216-224, doi:10.1016/j.jclinepi.2022.07.014",
    "grade35": "Schunemann et al. 2022 (GRADE guidance 35), J Clin Epidemiol, October 2022",
    "iorio2015": "Iorio et al. 2015, BMJ 350:h870, doi:10.1136/bmj.h870",
    "murad2018": "Murad et al. 2018, BMJ EBM 23:60-63, doi:10.1136/bmjebm-2017-110853",
    "sterne2011": "Sterne et al. 2011, BMJ 343:d4002, doi:10.1136/bmj.d4002",
}
# GRADE 6 default for an appreciable effect when no minimal important difference is
# given: a relative risk reduction or increase of 25% (RR 0.75 / 1.25); the optimal
# information size (OIS) uses the same 25%, two-sided alpha 0.05 and power 0.80.
APPRECIABLE_RR = (0.75, 1.25)
OIS_RRR, OIS_ALPHA, OIS_POWER = 0.25, 0.05, 0.80
# funnel plots and asymmetry tests need at least 10 studies (Sterne et al. 2011)
FUNNEL_MIN_STUDIES = 10
# outcomes that stand in for what patients care about (graft survival, graft function
# as lived, adverse events): GRADE 8 rates surrogates down
SURROGATE_OUTCOMES = {"viremia_clearance": "BK viremia clearance stands in for graft survival",
                      "viruria_clearance": "viruria clearance stands in for graft survival",
                      "viral_load_reduction": "a fall in viral load stands in for graft survival",
                      "histologic_resolution": "histological resolution stands in for graft survival",
                      "renal_function_stable": "stable creatinine stands in for graft survival",
                      "incident_viremia": "new viremia stands in for BK nephropathy and graft loss"}
QUESTION = ("biopsy-proven BKVN progressing after maximal immunosuppression reduction, with cidofovir or "
            "foscarnet contraindicated or failed")
_JUDGEMENT = {0: "not serious", 1: "serious", 2: "very serious", 3: "very serious"}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _rating(domain: str, levels: int, reason: str, rule: str, cite: str) -> DomainRating:
    return DomainRating(domain, _JUDGEMENT[levels], levels, reason, rule, CITE[cite])


# ------------------------------------------------------------------------------ start


def start_single_arm() -> tuple[str, str, str]:
    """Single-arm event rates are the "risk with intervention" (Iorio et al. 2015): what
    happened to IVIG-treated patients. Without a comparison they cannot separate IVIG
    from immunosuppression reduction, co-interventions or spontaneous clearance, so as
    evidence about the effect of IVIG they are very low certainty by construction
    (Murad et al. 2018). Returns (level, reason, rule)."""
    return ("very low",
            "single-arm event rates (risk with IVIG): without a comparison group they cannot separate IVIG from "
            "immunosuppression reduction, co-interventions or spontaneous clearance, so as evidence about the "
            "effect of IVIG they are very low certainty by construction; the domains below are recorded but "
            "cannot lower it further", "start_single_arm")


def start_comparative(study_ids: Sequence[str], ctx: GradeContext) -> tuple[str, str, str]:
    """Comparative effects start high when every study is a randomised trial assessed with
    RoB 2 or a non-randomised study assessed with ROBINS-I (Schunemann et al. 2019, GRADE
    18: ROBINS-I places both on the same scale, and its judgement then rates down);
    otherwise (an observational comparison appraised with another tool) they start low
    (Guyatt et al. 2011, GRADE 1). Returns (level, reason, rule)."""
    tools = {s: ctx.tool.get(s, "murad") for s in study_ids}
    names = "; ".join(f"{s}: {ctx.studies[s]['design'].replace('_', ' ')}, "
                      f"{'RoB 2' if t == 'rob2' else 'ROBINS-I' if t == 'robins_i' else 'Murad 2018'}"
                      for s, t in tools.items())
    if all(t in ("rob2", "robins_i") for t in tools.values()):
        return "high", f"comparative evidence assessed with RoB 2 or ROBINS-I starts high ({names})", \
            "start_comparative"
    return "low", f"observational comparison not assessed with ROBINS-I starts low ({names})", "start_comparative"


# ---------------------------------------------------------------------- risk of bias


def risk_of_bias_single_arm(patients: dict[str, int], ctx: GradeContext) -> DomainRating:
    """Serious when most patients (more than half) are in studies at high risk of bias
    (Guyatt et al. 2011, GRADE 4: rate down when most of the evidence comes from such
    studies; never average). High risk: a "no" on Murad q1, q3 or q4 (Murad et al. 2018),
    RoB 2 high, ROBINS-I serious or critical. "No information" is listed apart and never
    counted as high."""
    total = sum(patients.values())
    by = {lvl: [s for s in patients if ctx.concern.get(s, ("no_information", ""))[0] == lvl]
          for lvl in ("high", "some", "no_information", "low")}
    high = sum(patients[s] for s in by["high"])
    parts = [f"{high} of {total} patients are in studies at high risk of bias"
             + (" (" + "; ".join(f"{s}: {ctx.concern[s][1]}" for s in by["high"]) + ")" if by["high"] else "")]
    for lvl, words in (("some", "some concerns"), ("no_information", "no information, not counted as high")):
        if by[lvl]:
            parts.append(f"{words}: " + "; ".join(f"{s} ({ctx.concern[s][1]})" for s in by[lvl]))
    return _rating("risk of bias", 1 if high > total / 2 else 0, "; ".join(parts), "risk_of_bias_single_arm",
                   "grade4")


_OVERALL_LEVELS = {"low": 0, "some_concerns": 1, "high": 2, "moderate": 1, "serious": 2, "critical": 3,
                   "no_information": 1}


def risk_of_bias_comparative(patients: dict[str, int], ctx: GradeContext) -> DomainRating:
    """Rate down by the overall RoB 2 / ROBINS-I judgement of the studies holding most
    patients (Schunemann et al. 2019, GRADE 18): RoB 2 some concerns or ROBINS-I moderate
    -1, RoB 2 high or ROBINS-I serious -2, ROBINS-I critical -3. An overall "no
    information" rates down one level: it is not high risk, but low risk cannot be
    assumed. Studies appraised with Murad 2018 count as high risk (-2)."""
    levels = {}
    words = []
    for s in patients:
        if s in ctx.overall:
            j, why = ctx.overall[s]
            levels[s] = _OVERALL_LEVELS[j]
            words.append(f"{s} ({'RoB 2' if ctx.tool[s] == 'rob2' else 'ROBINS-I'} overall "
                         f"{j.replace('_', ' ')}: {why})")
        else:
            levels[s] = 2 if ctx.concern.get(s, ("high", ""))[0] == "high" else 1
            words.append(f"{s} ({ctx.concern.get(s, ('', 'not appraised'))[1]})")
    total = sum(patients.values())
    lvl = 0
    for cand in sorted(set(levels.values()), reverse=True):  # the worst level that most patients reach
        if sum(patients[s] for s in levels if levels[s] >= cand) > total / 2:
            lvl = cand
            break
    return _rating("risk of bias", lvl, "; ".join(words), "risk_of_bias_comparative", "grade18")


# --------------------------------------------------------------------- inconsistency


def inconsistency_from_spread(points: Sequence[tuple[str, float, float, float]], *, threshold: float | None,
                              tau2: float | None, tau2_ci: tuple[float, float] | None, scale: str,
                              fmt=_pct) -> DomainRating:
    """Judge inconsistency from the spread of the point estimates and the tau^2 interval
    (Guyatt et al. 2011, GRADE 7: similarity of point estimates, overlap of intervals,
    heterogeneity statistics), never from a prediction interval, which at tau^2-hat = 0
    only restates the confidence interval and would count imprecision twice.

    `points` are (study, estimate, ci_low, ci_high) of the informative studies. With a
    decision threshold, the estimates differ in a way that matters when they fall on both
    sides of it; without one, when two studies' intervals do not overlap. Such
    differences rate down one level unless the tau^2 interval excludes heterogeneity
    (upper bound 0), two levels when the tau^2 interval excludes 0. Fewer than two
    informative studies: not assessable, not rated down.
    """
    if len(points) < 2:
        return DomainRating("inconsistency", "not assessable", 0,
                            "fewer than two studies with more than one patient: consistency cannot be judged "
                            "(a single source is reflected under imprecision)", "inconsistency_from_spread",
                            CITE["grade7"])
    ests = sorted(points, key=lambda p: p[1])
    spread = f"point estimates {fmt(ests[0][1])} ({ests[0][0]}) to {fmt(ests[-1][1])} ({ests[-1][0]})"
    if threshold is not None:
        below = [p[0] for p in points if p[1] < threshold]
        above = [p[0] for p in points if p[1] > threshold]
        differ = bool(below and above)
        where = (f"{', '.join(below)} below and {', '.join(above)} above {scale} {fmt(threshold)}" if differ
                 else f"none on the other side of {scale} {fmt(threshold)} from the rest")
    else:
        pairs = [(a[0], b[0]) for i, a in enumerate(points) for b in points[i + 1:]
                 if a[3] < b[2] or b[3] < a[2]]
        differ = bool(pairs)
        where = ("non-overlapping intervals: " + ", ".join(f"{a} vs {b}" for a, b in pairs) if differ
                 else "every pair of study intervals overlaps")
    if tau2_ci is None:
        het = "the tau^2 interval cannot be estimated"
    else:
        het = f"tau^2 = {tau2:.2f} (95% CI {tau2_ci[0]:.2f} to {tau2_ci[1]:.2f}, Q-profile, logit scale)"
    if not differ:
        lvl = 0
    elif tau2_ci is not None and tau2_ci[1] <= 0:
        lvl = 0
        het += ", which excludes heterogeneity"
    elif tau2_ci is not None and tau2_ci[0] > 0:
        lvl = 2
        het += ", which excludes 0"
    else:
        lvl = 1
        het += ("" if tau2_ci is None else ", which does not exclude differences of that size")
    return _rating("inconsistency", lvl, f"{spread}; {where}; {het}; no prediction interval used",
                   "inconsistency_from_spread", "grade7")


# ---------------------------------------------------------------------- indirectness


def _matches_question(info: dict) -> bool:
    """Biopsy-proven BKVN treated after cidofovir or foscarnet failed: the study's setting,
    and ``prior_therapies_failed`` naming either drug (a text starting "none" records that
    nothing had to fail first, whatever it lists as given alongside)."""
    prior = str(info.get("prior_therapies_failed", "")).strip().lower()
    return (info["setting"] == "biopsy_proven_bkvn" and info["role"] == "treatment"
            and not prior.startswith("none") and ("cidofovir" in prior or "foscarnet" in prior))


def indirectness(patients: dict[str, int], outcome: str, ctx: GradeContext) -> DomainRating:
    """At least serious whenever the population, intervention or outcome is not the
    question's; very serious when most patients had viremia only or IVIG as prevention,
    or when the outcome is a surrogate (Guyatt et al. 2011, GRADE 8). The question's
    population is biopsy-proven BKVN after maximal immunosuppression reduction with
    cidofovir or foscarnet contraindicated or failed; a study matches it when its setting
    is biopsy-proven BKVN and cidofovir or foscarnet is among the therapies that failed."""
    total = sum(patients.values())
    match = [s for s in patients if _matches_question(ctx.studies[s])]
    vir = [s for s in patients if ctx.studies[s]["setting"] in ("viremia_only", "prevention")]
    n_match, n_vir = sum(patients[s] for s in match), sum(patients[s] for s in vir)
    co = {s: ctx.co_interventions[s] for s in patients if s in ctx.co_interventions}
    parts = [f"population: {n_match} of {total} patients come from studies matching the question ({QUESTION})"
             + (f": {', '.join(match)}" if match else "")]
    if vir:
        parts.append(f"{n_vir} of {total} had viremia only or received IVIG as prevention ({', '.join(vir)})")
    if co:
        parts.append("intervention: IVIG given with " + "; ".join(f"{s}: {', '.join(v)}" for s, v in co.items()))
    if outcome in SURROGATE_OUTCOMES:
        parts.append(f"outcome: surrogate ({SURROGATE_OUTCOMES[outcome]})")
    differs = n_match < total or bool(co) or outcome in SURROGATE_OUTCOMES
    very = n_vir > total / 2 or outcome in SURROGATE_OUTCOMES
    return _rating("indirectness", 2 if very else 1 if differs else 0, "; ".join(parts), "indirectness", "grade8")


# ----------------------------------------------------------------------- imprecision


def _threshold_text(c: ControlRisk) -> str:
    return (f"no-IVIG risk {c.events}/{c.n} = {_pct(c.risk)} (control arms of {', '.join(c.studies)}; exact 95% "
            f"CI {_pct(c.ci_low)} to {_pct(c.ci_high)})")


def imprecision_single_arm(est: float, lo: float, hi: float, interval: str,
                           control: ControlRisk | None) -> DomainRating:
    """Judge the interval of the risk with IVIG against the no-IVIG risk of the control
    arms (GRADE guidance 34, 2022: the confidence-interval approach against a threshold;
    Schunemann et al. 2022, GRADE 35: the uncertainty of the baseline risk counts too).

    Serious if the interval contains the no-IVIG risk, or if that risk's own exact
    interval overlaps it (the threshold is too uncertain to be cleared); very serious if
    the interval contains both an appreciable benefit and an appreciable harm (a 25%
    relative change either way, the GRADE 6 default). Without any control arm for the
    outcome: serious, because no threshold exists (a review team must set one).
    """
    ci = f"{_pct(est)} ({interval} {_pct(lo)} to {_pct(hi)})"
    if control is None:
        return _rating("imprecision", 1, f"risk with IVIG {ci}; no control arm reports this outcome, so there is no "
                       "no-IVIG risk to judge it against (a review team must set a decision threshold)",
                       "imprecision_single_arm", "grade35")
    p0 = control.risk
    text = f"risk with IVIG {ci} judged against the {_threshold_text(control)}"
    lvl = 0
    if lo <= p0 <= hi:
        lvl, text = 1, text + ": the interval contains it"
    elif not (control.ci_high < lo or control.ci_low > hi):
        lvl, text = 1, text + ": that risk's own interval overlaps the interval with IVIG"
    else:
        text += ": the interval lies clear of it"
    if 0 < p0 < 1:
        harm, benefit = p0 * APPRECIABLE_RR[0], min(1.0, p0 * APPRECIABLE_RR[1])
        if lo <= harm and hi >= benefit:
            lvl = 2
            text += f", and it spans both {_pct(harm)} and {_pct(benefit)} (25% relative change either way)"
    return _rating("imprecision", lvl, text, "imprecision_single_arm", "grade34")


def optimal_information_size(p0: float) -> int:
    """Patients needed in total (two equal arms) to detect a 25% relative risk reduction
    from control risk `p0` with two-sided alpha 0.05 and power 0.80 (Guyatt et al. 2011,
    GRADE 6).

    Examples
    --------
    >>> optimal_information_size(0.5)
    488
    """
    p1 = p0 * (1 - OIS_RRR)
    z = norm_ppf(1 - OIS_ALPHA / 2) + norm_ppf(OIS_POWER)
    per_arm = z**2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p0 - p1) ** 2
    return 2 * math.ceil(per_arm)


def imprecision_comparative(c: dict) -> DomainRating:
    """Judge a comparative effect against the null (risk equal to the no-IVIG risk; GRADE
    guidance 34, 2022, minimally contextualised): serious when the risk-ratio interval
    contains 1, very serious when it also contains both an appreciable benefit and harm
    (RR 0.75 and 1.25, GRADE 6 default) or when no event occurred in either arm (no
    relative effect exists); when it excludes 1, serious unless the patients reach the
    optimal information size (GRADE 6, GRADE 34)."""
    e1, n1, e0, n0 = c["events_1"], c["n_1"], c["events_0"], c["n_0"]
    counts = f"{e1}/{n1} with IVIG vs {e0}/{n0} without (no-IVIG risk {_pct(e0 / n0)})"
    rd = (f"RD {_pct(c['rd'])} (95% CI {_pct(c['rd_ci_low'])} to {_pct(c['rd_ci_high'])})"
          if c.get("rd") is not None else "")
    if c.get("rr") is None:
        return _rating("imprecision", 2, f"{counts}: no event in either arm, so no relative effect can be estimated; "
                       f"{rd}; threshold RR 1 (no difference from the no-IVIG risk)", "imprecision_comparative",
                       "grade34")
    lo, hi = c["rr_ci_low"], c["rr_ci_high"]
    text = f"{counts}: RR {c['rr']:.2f} (95% CI {lo:.2f} to {hi:.2f}); {rd}; threshold RR 1 (RD 0)"
    if lo <= 1 <= hi:
        if lo < APPRECIABLE_RR[0] and hi > APPRECIABLE_RR[1]:
            return _rating("imprecision", 2, text + ": the interval contains 1 and both RR 0.75 and 1.25",
                           "imprecision_comparative", "grade34")
        return _rating("imprecision", 1, text + ": the interval contains 1", "imprecision_comparative", "grade34")
    ois = optimal_information_size(e0 / n0) if 0 < e0 < n0 else None
    if ois is not None and n1 + n0 >= ois:
        return _rating("imprecision", 0, text + f": excludes 1 and {n1 + n0} patients reach the optimal information "
                       f"size ({ois})", "imprecision_comparative", "grade6")
    return _rating("imprecision", 1, text + f": excludes 1, but {n1 + n0} patients fall short of the optimal "
                   f"information size ({ois if ois else 'not computable'}; 25% relative reduction, alpha 0.05, "
                   "power 0.80)", "imprecision_comparative", "grade6")


# ------------------------------------------------------------------ publication bias


def publication_bias(outcome: str, path: str, k: int, ctx: GradeContext) -> DomainRating:
    """The recorded judgement of ``data/raw/publication_bias.csv`` with its reason
    (Guyatt et al. 2011, GRADE 5): "strongly suspected" rates down one level. With fewer
    than 10 studies no funnel plot or asymmetry test is used (Sterne et al. 2011)."""
    rec = ctx.pub_bias(outcome, path)
    if rec is None:
        raise ValueError(f"data/raw/publication_bias.csv: no judgement for {outcome!r} on the {path} path "
                         "(add a row, or an 'all' row for the path)")
    judgement, reason = rec
    funnel = (f"{k} {'study' if k == 1 else 'studies'}, fewer than {FUNNEL_MIN_STUDIES}, so no funnel plot or "
              "asymmetry test" if k < FUNNEL_MIN_STUDIES else
              f"{k} studies: a funnel plot could be examined (not done; the judgement is recorded)")
    return DomainRating("publication bias", judgement.replace("_", " "), 1 if judgement == "strongly_suspected"
                        else 0, f"{reason}; {funnel} (recorded judgement)", "publication_bias", CITE["grade5"])
