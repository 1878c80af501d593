"""Agreement with R metafor 3.8.1 / lme4 1.1.31 (pinned in tests/reference/metafor.json).

The JSON is written by tests/reference/make_metafor_reference.R (`make references`); it
keeps metafor's vocabulary, translated by the package's alias table (`canonical`).

Tolerances (the derivations; see tests/reference/README.md for the measurements):

* CLOSED_FORM (rtol 1e-10): escalc, EE and DL fits, per-study CIs are closed forms in
  both implementations; only floating-point rounding differs.
* ITERATIVE (rtol 1e-8): REML/ML/PM are solved to machine precision here and to
  ``threshold = tol = 1e-12`` in the R script; re-fits at 1e-15 moved metafor's values by
  < 1e-9 (relative). tau^2 at the boundary is reached as 1e-13..1e-16 by Fisher scoring,
  hence TAU2_ATOL = 1e-10 and I2_ATOL = 1e-5 (percent).
* crisafulli2020 on the raw scale has sampling variances ~1e-9, so metafor's absolute
  1e-12 stopping rule is coarse there (measured 1e-5..3e-3 relative): TINY_VARIANCE_RTOL.
* GLMM (lme4's optimiser, default glmerControl): different optimisers disagree by up to
  7e-6 in b and 4e-5..2e-4 in se, tau^2 and the prediction limits, and glmer's objective
  is good to ~1e-5. So GLMM_B_RTOL = 1e-4, GLMM_RTOL = 1e-3 (se, tau^2, I^2, H^2, CI and
  PI limits); Laplace (nAGQ = 1) differs by up to 2e-3 between optimisers:
  GLMM_LAPLACE_RTOL = 5e-3.
* The Wald-type Q of the saturated GLM is computed here in closed form; R's glm diverges
  for 0%/100% studies and leaves ~1e-6 of each in Q: QWALD_ATOL = 1e-3.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close

from analysis import (
    effect_sizes,
    leave_one_out,
    pool_proportions,
    pool_two_group,
    proportion_ci,
    two_group_effect_sizes,
)
from analysis.stats._validation import canonical

pytestmark = pytest.mark.reference

CLOSED_FORM = {"rtol": 1e-10, "atol": 1e-12}
ITERATIVE = {"rtol": 1e-8, "atol": 1e-12}
TAU2_ATOL = 1e-10
I2_ATOL = 1e-5
TINY_VARIANCE_RTOL = 5e-3
GLMM_B_RTOL = 1e-4
GLMM_RTOL = 1e-3
GLMM_LAPLACE_RTOL = 5e-3
QWALD_ATOL = 1e-3
# R glm() stops IRLS at a relative deviance change of 1e-8: its se agrees to ~1e-6.
GLM_RTOL = 1e-5

MEASURE = {"PLO": "logit", "PFT": "freeman-tukey", "PAS": "arcsine", "PLN": "log", "PR": "raw"}
METHOD = {"DL": "dersimonian-laird", "REML": "reml", "PM": "paule-mandel", "ML": "ml"}
TEST = {"z": "wald", "knha": "knapp-hartung", "t": "t"}
TWO_GROUP = {"OR": "or", "RR": "rr", "RD": "rd"}
# metafor's vocabulary ("PLO", "REML", "knha", ...) is translated by the package's own alias
# table, `canonical` (the one the API and the command line use), so these tests also pin
# that table to what metafor means.


def cases(ref, kind):
    return [c for c in ref["cases"] if c["kind"] == kind and "values" in c]


def ids_of(kind):
    import json

    from conftest import REFERENCE

    ref = json.loads((REFERENCE / "metafor.json").read_text(encoding="utf-8"))
    return [c["id"] for c in ref["cases"] if c["kind"] == kind and "values" in c]


def get_case(ref, case_id):
    return next(c for c in ref["cases"] if c["id"] == case_id)


def data(ref, case):
    d = ref["datasets"][case["dataset"]]
    return d["events"], d["n"]


def test_reference_covers_every_case(metafor_reference):
    kinds = {}
    for c in metafor_reference["cases"]:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    # the grid of the R script: 11 datasets x 5 measures x 5 methods x 2 tests (single: EE)
    assert kinds["rma.uni"] == 510
    assert kinds["escalc"] == 55
    assert kinds["rma.glmm"] == 39
    assert kinds["binom_ci"] == 18
    assert kinds["two_group"] == 30
    assert metafor_reference["source"]["metafor"].startswith("3.8")


@pytest.mark.parametrize("case_id", ids_of("escalc"))
def test_escalc(metafor_reference, case_id):
    case = get_case(metafor_reference, case_id)
    x, n = data(metafor_reference, case)
    es = effect_sizes(x, n, measure=canonical("measure", case["args"]["measure"]))
    v = case["values"]
    assert_close(es.effect, v["yi"], **CLOSED_FORM, what="yi")
    assert_close(es.variance, v["vi"], **CLOSED_FORM, what="vi")


# raw-scale cases whose sampling variances are ~1e-9..1e-5, where metafor's absolute
# stopping rules (threshold/tol = 1e-12) are coarse relative to the values
TINY_VARIANCE_CASES = {("crisafulli2020", "PR"), ("nielweise_treat", "PR"), ("nielweise_control", "PR")}


def _tiny(case):
    return (case["dataset"], case["args"]["measure"]) in TINY_VARIANCE_CASES


def _tol(case, iterative):
    if _tiny(case) and iterative:
        return {"rtol": TINY_VARIANCE_RTOL, "atol": 1e-15}
    return ITERATIVE if iterative else CLOSED_FORM


@pytest.mark.parametrize("case_id", ids_of("rma.uni"))
def test_rma_uni(metafor_reference, case_id):
    case = get_case(metafor_reference, case_id)
    a = case["args"]
    x, n = data(metafor_reference, case)
    model = "common" if a["method"] == "EE" else "random"
    res = pool_proportions(
        x, n, measure=canonical("measure", a["measure"]), model=model,
        tau2_method=canonical("tau2_method", a["method"]) if model == "random" else "reml",
        ci_method=canonical("ci_method", a["test"]), pi_method="metafor",
    )
    v = case["values"]
    tol = _tol(case, a["method"] in ("REML", "ML", "PM"))
    h = res.heterogeneity
    assert_close([res.estimate, res.se, res.ci.low, res.ci.high], [v["b"], v["se"], v["ci.lb"], v["ci.ub"]],
                 **tol, what="b, se, ci")
    assert_close(res.studies.weight, v["weights"], rtol=tol["rtol"], atol=1e-9, what="weights")
    if res.k > 1:
        assert_close([h.q, h.q_pvalue], [v["QE"], v["QEp"]], rtol=tol["rtol"], atol=1e-12, what="Q")
        assert_close([h.i2], [v["I2"]], rtol=tol["rtol"], atol=I2_ATOL, what="I2")
        assert_close([h.h2], [v["H2"]], rtol=tol["rtol"], atol=I2_ATOL, what="H2")
    if model == "random":
        assert_close([h.tau2], [v["tau2"]], rtol=tol["rtol"], atol=TAU2_ATOL, what="tau2")
        if res.k > 1:
            assert_close([res.pi.low, res.pi.high], [v["pi.lb"], v["pi.ub"]], **tol, what="PI")
        ci = v.get("confint_random")
        if ci and res.k > 1:
            qtol = _tol(case, True)["rtol"]
            lo, hi = ci["tau2"]["ci.lb"], ci["tau2"]["ci.ub"]
            if ci.get("ub.sign") == ">":
                # metafor stops its search at tau2.max (100) and prints "> 100"; the root
                # itself lies beyond it, which is what is reported here.
                assert h.tau2_ci.high >= hi
                assert_close([h.tau2_ci.low], [lo], rtol=max(qtol, 1e-7), atol=TAU2_ATOL, what="tau2 CI low")
            else:
                assert_close([h.tau2_ci.low, h.tau2_ci.high], [lo, hi], rtol=max(qtol, 1e-7),
                             atol=TAU2_ATOL, what="tau2 Q-profile CI")
                assert_close([h.i2_ci.low, h.i2_ci.high], [ci["I2"]["ci.lb"], ci["I2"]["ci.ub"]],
                             rtol=max(qtol, 1e-7), atol=I2_ATOL, what="I2 CI")
    t = v["transf"]
    expected = np.clip([t["estimate"], t["ci.lb"], t["ci.ub"]], 0, 1)
    assert_close([res.proportion, res.proportion_ci.low, res.proportion_ci.high], expected,
                 rtol=tol["rtol"], atol=1e-9, what="back-transformed")


# lme4's Laplace fit (nAGQ = 1) of pritz1997 stops at a point whose Laplace log-likelihood
# is 6e-6 below the maximum found here, and its finite-difference SE is 1% smaller than
# the SE at the maximum. Estimates agree within GLMM_LAPLACE_RTOL; the SE does not.
LAPLACE_SE_GAP = {"pritz1997/rma.glmm/PLO/ML/nAGQ1/z", "pritz1997/rma.glmm/PLO/ML/nAGQ1/t"}


def _glmm_case_ids():
    return [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="lme4 Laplace SE, see LAPLACE_SE_GAP"))
        if c in LAPLACE_SE_GAP else c
        for c in ids_of("rma.glmm")
    ]


@pytest.mark.parametrize("case_id", _glmm_case_ids())
def test_rma_glmm(metafor_reference, case_id):
    case = get_case(metafor_reference, case_id)
    a = case["args"]
    x, n = data(metafor_reference, case)
    v = case["values"]
    ci_method = canonical("ci_method", a["test"])
    if a["method"] == "EE":
        # metafor's equal-effects logistic model: the GLM with a common intercept
        from analysis.stats.glmm import common_logistic

        mu, se, _ = common_logistic(x, n)
        assert_close([mu, se], [v["b"], v["se"]], rtol=GLM_RTOL, atol=1e-12, what="EE GLMM")
        return
    res = pool_proportions(x, n, model="glmm", n_agq=a["nAGQ"], ci_method=ci_method, pi_method="metafor")
    laplace = a["nAGQ"] == 1
    brtol = GLMM_LAPLACE_RTOL if laplace else GLMM_B_RTOL
    rtol = GLMM_LAPLACE_RTOL if laplace else GLMM_RTOL
    assert_close([res.estimate], [v["b"]], rtol=brtol, atol=1e-6, what="b")
    assert_close([res.se, res.ci.low, res.ci.high], [v["se"], v["ci.lb"], v["ci.ub"]], rtol=rtol,
                 atol=1e-5, what="se, ci")
    h = res.heterogeneity
    assert_close([h.tau2], [v["tau2"]], rtol=rtol, atol=1e-6, what="tau2")
    if v["I2"] is not None:
        assert_close([h.i2, h.h2], [v["I2"], v["H2"]], rtol=rtol, atol=1e-4, what="I2, H2")
    assert_close([h.q_lrt], [v["QE.LRT"]], rtol=1e-6, atol=1e-8, what="LRT Q")
    assert h.q is not None
    assert abs(h.q - v["QE.Wld"]) <= QWALD_ATOL + 1e-6 * abs(v["QE.Wld"]), (h.q, v["QE.Wld"])
    assert_close([res.pi.low, res.pi.high], [v["pi.lb"], v["pi.ub"]], rtol=max(rtol, 2e-3), atol=1e-5,
                 what="PI")
    t = v["transf"]
    assert_close([res.proportion, res.proportion_ci.low, res.proportion_ci.high],
                 [t["estimate"], t["ci.lb"], t["ci.ub"]], rtol=rtol, atol=1e-6, what="proportion")


@pytest.mark.parametrize("case_id", ids_of("leave1out"))
def test_leave_one_out(metafor_reference, case_id):
    case = get_case(metafor_reference, case_id)
    x, n = data(metafor_reference, case)
    v = case["values"]
    glmm = "rma.glmm" in case_id
    opts = {"model": "glmm", "ci_method": "wald"} if glmm else {"model": "random", "tau2_method": "reml",
                                                                "ci_method": "wald"}
    loo = leave_one_out(x, n, **opts)
    est = [np.log(p / (1 - p)) if 0 < p < 1 else np.nan for p in loo.rows.estimate]
    key = "b" if glmm else "estimate"
    rtol = GLMM_RTOL if glmm else ITERATIVE["rtol"]
    exp = np.array([np.nan if e is None else e for e in v[key]], dtype=float)
    ok = np.isfinite(exp)
    assert ok.sum() >= len(exp) - 1
    assert_close(np.array(est)[ok], exp[ok], rtol=rtol, atol=1e-6, what="loo estimates")
    tau = np.array([np.nan if t is None else t for t in v["tau2"]], dtype=float)
    assert_close(np.array(loo.rows.tau2, dtype=float)[ok], tau[ok], rtol=rtol,
                 atol=1e-6 if glmm else TAU2_ATOL, what="loo tau2")


@pytest.mark.parametrize("case_id", ids_of("binom_ci"))
def test_per_study_intervals(metafor_reference, case_id):
    case = get_case(metafor_reference, case_id)
    a = case["args"]
    v = case["values"]
    for i, (x, n) in enumerate(zip(a["x"], a["n"], strict=True)):
        if a["method"] == "wilson-cc" and 2 * x == n:
            continue  # R's prop.test shrinks the correction at x = n/2 (documented)
        est = proportion_ci(x, n, method=a["method"], confidence_level=a["conf_level"])
        assert_close([est.ci.low, est.ci.high], [v["lower"][i], v["upper"][i]], rtol=1e-9, atol=1e-12,
                     what=f"{a['method']} {x}/{n}")


@pytest.mark.parametrize("case_id", ids_of("two_group"))
def test_two_group(metafor_reference, case_id):
    case = get_case(metafor_reference, case_id)
    a = case["args"]
    d = metafor_reference["datasets"][case["dataset"]]
    v = case["values"]
    measure = canonical("two_group_measure", a["measure"])
    if "/escalc/" in case_id:
        es = two_group_effect_sizes(d["ai"], d["n1i"], d["ci"], d["n2i"], measure=measure)
        assert_close(es.effect, v["yi"], **CLOSED_FORM, what="yi")
        assert_close(es.variance, v["vi"], **CLOSED_FORM, what="vi")
        return
    # rma.uni's default keeps double-zero tables (drop00=FALSE), hence drop_double_zero=False
    res = pool_two_group(d["ai"], d["n1i"], d["ci"], d["n2i"], measure=measure, method="inverse-variance",
                         model="random", tau2_method=METHOD[a["method"]], ci_method=TEST[a["test"]],
                         drop_double_zero=False)
    tol = ITERATIVE if a["method"] == "REML" else CLOSED_FORM
    assert_close([res.effect, res.se, res.effect_ci.low, res.effect_ci.high],
                 [v["b"], v["se"], v["ci.lb"], v["ci.ub"]], **tol, what="pooled")
    assert_close([res.heterogeneity.tau2], [v["tau2"]], rtol=tol["rtol"], atol=TAU2_ATOL, what="tau2")
    assert_close([res.effect_pi.low, res.effect_pi.high], [v["pi.lb"], v["pi.ub"]], **tol, what="PI")
