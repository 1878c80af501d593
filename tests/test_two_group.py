"""The two-group engine against R metafor 3.8.1 (tests/reference/metafor_two_group.json),
against statsmodels, and against published values.

The JSON is written by tests/reference/make_two_group_reference.R (`make references`).
metafor's codes are translated by the dicts below. Tolerances (derivations):

* CLOSED_FORM (rtol 1e-10): escalc, EE and DL fits, Mantel-Haenszel, Peto, Wilson and
  Newcombe limits, Fisher's p are closed forms in both implementations; only rounding
  differs.
* ITERATIVE (rtol 1e-8): REML/ML/PM tau^2 solved to machine precision here and to
  threshold = tol = 1e-12 in R (as tests/test_against_metafor.py); the tight exact
  conditional OR limits and conditional MLEs are roots found to 1e-13 in log OR by R's
  uniroot and by brentq here.
* FISHER_TEST_ATOL (2.5e-4): R's own fisher.test() finds its limits and MLE with uniroot's
  default tol = .Machine$double.eps^0.25 = 1.2e-4 on t = ncp (ncp < 1) or t = 1/ncp, so its
  values are good to ~1.2e-4 absolute on that (0, 1) scale (twice that allowed); the tight
  R values above pin the same definition at ITERATIVE.
* UM.FS (lme4 glmer, default glmerControl; nAGQ = 7): lme4's optimiser stops where its
  gradient is below 2e-3 (nielweise2007 fit warns "failed to converge with max|grad| =
  0.0089"); measured differences from the exact optimum of the same AGHQ-7 likelihood
  found here are <= 3.5e-4 in b and <= 9e-4 in tau^2 (nielweise2007), <= 3e-5 elsewhere,
  the same order as tests/test_against_metafor.py's GLMM tolerances: UMFS_RTOL = 2e-3.
* CM.EL (nlminb on a likelihood integrated by integrate(rel.tol = 1.2e-4) of BiasedUrn
  densities, precision 1e-10): b and tau^2 agree to <= 2e-6 (CMEL_B_RTOL = 1e-5). The SE
  comes from numDeriv's Hessian of that noisy function: with density errors ~1e-10 and
  steps ~1e-4 its second derivatives carry ~1e-2 relative noise; measured SE differences
  are up to 2.9e-3 (CMEL_SE_RTOL = 5e-3). The closed-form conditional information at
  metafor's own EE estimate (R, from dhyper) pins the EE SE at ITERATIVE.
* GLMM Wald-type Q: metafor fits the saturated model numerically (glm, or nlminb with a
  numerical Hessian for CM.EL) and leaves ~1e-6 per zero-cell study (UM.FS) or more;
  here it is Cochran's Q of the studies' own ML log ORs in closed form. UM.FS: QWALD_ATOL
  = 1e-3 (as test_against_metafor.py). CM.EL: metafor's numerical Hessian is far off for
  large tables (bcg: 268.6 against 163.1 here and 163.2 for UM.FS), so CM.EL's Q is
  pinned to the closed form computed in R (QE.Wld.exact) at ITERATIVE, and metafor's
  own value is compared only where its Hessian is usable (small tables).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import REFERENCE, assert_close

from analysis import PooledEffect, pool_two_group, study_effects, two_group_effect_sizes
from analysis.stats.two_group_study import (
    fisher_exact_test,
    koopman_interval,
    newcombe_interval,
    or_exact_interval,
)

pytestmark = pytest.mark.reference

CLOSED_FORM = {"rtol": 1e-10, "atol": 1e-12}
ITERATIVE = {"rtol": 1e-8, "atol": 1e-10}
TAU2_ATOL = 1e-10
I2_ATOL = 1e-5
FISHER_TEST_ATOL = 2.5e-4
UMFS_RTOL = 2e-3
CMEL_B_RTOL = 1e-5
CMEL_SE_RTOL = 5e-3
QWALD_ATOL = 1e-3

MEASURE = {"OR": "or", "RR": "rr", "RD": "rd"}
TAU2 = {"DL": "dersimonian-laird", "REML": "reml", "PM": "paule-mandel", "ML": "ml"}
GLMM = {"UM.FS": "glmm-umfs", "CM.EL": "glmm-cmel"}

REF = json.loads((REFERENCE / "metafor_two_group.json").read_text(encoding="utf-8"))


def ids(kind):
    return [c["id"] for c in REF["cases"] if c["kind"] == kind]


def case(case_id):
    return next(c for c in REF["cases"] if c["id"] == case_id)


def data(c):
    d = REF["datasets"][c["dataset"]]
    return d["ai"], d["n1i"], d["ci"], d["n2i"], d["study_id"]


def nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_reference_records_versions_and_covers_every_case():
    src = REF["source"]
    assert src["metafor"].startswith("3.8")
    assert src["lme4"]
    assert src["BiasedUrn"]
    assert src["R"]
    kinds = {}
    for c in REF["cases"]:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    # 9 data sets x 3 measures; rma.uni x 2 tests: bcg and nielweise2007 5 methods (60), the
    # other k > 1 sets 3 (54), k = 1 sets EE only (24), plus nielweise2007 REML keep00 (3)
    assert kinds == {"escalc": 27, "rma.uni": 141, "rma.mh": 27, "rma.peto": 9, "rma.glmm": 40,
                     "study": 11}


# ----------------------------------------------------------------------------- escalc
@pytest.mark.parametrize("case_id", ids("escalc"))
def test_escalc(case_id):
    c = case(case_id)
    a, n1, ci, n0, sid = data(c)
    es = two_group_effect_sizes(a, n1, ci, n0, measure=MEASURE[c["args"]["measure"]],
                                drop_double_zero=c["args"]["drop00"], study_ids=sid)
    v = c["values"]
    assert_close(es.effect, nan(v["yi"]), **CLOSED_FORM, what="yi")
    assert_close(es.variance, nan(v["vi"]), **CLOSED_FORM, what="vi")


# ----------------------------------------------------------------------------- rma.uni
@pytest.mark.parametrize("case_id", ids("rma.uni"))
def test_inverse_variance(case_id):
    c = case(case_id)
    a, n1, ci, n0, sid = data(c)
    arg = c["args"]
    opts = {"measure": MEASURE[arg["measure"]], "method": "inverse-variance",
            "model": "common" if arg["method"] == "EE" else "random",
            "tau2_method": TAU2.get(arg["method"]),
            "ci_method": "knapp-hartung" if arg["test"] == "knha" else "wald",
            "drop_double_zero": arg["drop00"], "study_ids": sid}
    if "error" in c:
        # every table double-zero (review_zero): metafor stops at k = 0; so do we
        with pytest.raises(ValueError, match="double-zero"):
            pool_two_group(a, n1, ci, n0, **opts)
        return
    res = pool_two_group(a, n1, ci, n0, **opts)
    v = c["values"]
    tol = ITERATIVE if arg["method"] in ("REML", "ML", "PM") else CLOSED_FORM
    assert res.k == v["k"]
    assert_close([res.effect, res.se, res.effect_ci.low, res.effect_ci.high, res.pvalue],
                 [v["b"], v["se"], v["ci.lb"], v["ci.ub"], v["pval"]], **tol, what="b, se, ci, p")
    t = v["transf"]
    assert_close([res.estimate, res.ci.low, res.ci.high], [t["estimate"], t["ci.lb"], t["ci.ub"]], **tol,
                 what="display scale")
    w = res.studies.weight.to_numpy()
    assert_close(w[np.isfinite(w)], nan(v["weights"])[np.isfinite(nan(v["weights"]))], rtol=tol["rtol"],
                 atol=1e-9, what="weights")
    h = res.heterogeneity
    if res.k > 1:
        assert_close([h.q, h.q_pvalue], [v["QE"], v["QEp"]], rtol=tol["rtol"], atol=1e-12, what="Q")
        assert_close([h.i2, h.h2], [v["I2"], v["H2"]], rtol=tol["rtol"], atol=I2_ATOL, what="I2, H2")
    if opts["model"] == "random":
        assert_close([h.tau2], [v["tau2"]], rtol=tol["rtol"], atol=TAU2_ATOL, what="tau2")
        assert_close([res.effect_pi.low, res.effect_pi.high], [v["pi.lb"], v["pi.ub"]], **tol, what="PI")
    else:
        assert res.tau2 is None
        assert res.pi is None


# ----------------------------------------------------------------------------- MH, Peto
@pytest.mark.parametrize("case_id", ids("rma.mh") + ids("rma.peto"))
def test_mantel_haenszel_and_peto(case_id):
    c = case(case_id)
    a, n1, ci, n0, sid = data(c)
    method = "peto" if c["kind"] == "rma.peto" else "mantel-haenszel"
    measure = MEASURE[c["args"]["measure"]]
    if c["dataset"] == "review_zero":
        # 0/5 vs 0/9 only: metafor returns NA (MH OR, RR), stops (Peto) or gives RD 0 with
        # SE 0 and the interval [0, 0] (MH RD). We refuse to pool a double-zero-only set and
        # point to the study's Newcombe interval instead.
        with pytest.raises(ValueError, match="double-zero"):
            pool_two_group(a, n1, ci, n0, measure=measure, method=method, study_ids=sid)
        return
    res = pool_two_group(a, n1, ci, n0, measure=measure, method=method, study_ids=sid)
    v = c["values"]
    assert res.model == "common"
    assert res.tau2 is None
    assert res.k == v["k"]
    assert_close([res.effect, res.se, res.effect_ci.low, res.effect_ci.high, res.pvalue],
                 [v["b"], v["se"], v["ci.lb"], v["ci.ub"], v["pval"]], **CLOSED_FORM, what="estimate")
    assert_close(res.studies.weight, nan(v["weights"]), rtol=1e-10, atol=1e-9, what="weights")
    h = res.heterogeneity
    if v["k.yi"] > 1:
        assert h.df == v["k.yi"] - 1
        assert_close([h.q, h.q_pvalue, h.i2, h.h2], [v["QE"], v["QEp"], v["I2"], v["H2"]], rtol=1e-10,
                     atol=1e-12, what="Q")
    else:  # metafor reports Q = 0, p = 1 with one informative table; none is computed here
        assert h.q is None
        assert v["QE"] == 0


# ----------------------------------------------------------------------------- GLMMs
@pytest.mark.parametrize("case_id", ids("rma.glmm"))
def test_glmm(case_id):
    c = case(case_id)
    a, n1, ci, n0, sid = data(c)
    arg = c["args"]
    model = "random" if arg["method"] == "ML" else "common"
    opts = {"measure": "or", "method": GLMM[arg["model"]], "model": model,
            "ci_method": "t" if arg["test"] == "t" else "wald", "study_ids": sid}
    if c["dataset"] == "review_zero":  # metafor: "Processing terminated since k = 0"
        with pytest.raises(ValueError, match="double-zero"):
            pool_two_group(a, n1, ci, n0, **opts)
        return
    res = pool_two_group(a, n1, ci, n0, **opts)
    if "error" in c:
        # metafor stops (k = 1: more parameters than studies; CM.EL on k2/graft2: nlminb
        # does not converge because the ML tau^2 is 0 and log(tau^2) runs to -inf). We return
        # the common-effect fit, which is the ML fit at tau^2 = 0, with a warning: compare it
        # with metafor's EE fit of the same model.
        ee = case(case_id.replace("/ML/", "/EE/"))["values"]
        k1 = res.k == 1
        assert (res.tau2 is None) if k1 else (res.tau2 == 0.0)
        assert any(("only one study" if k1 else "tau^2 is 0") in w for w in res.warnings)
        assert_close([res.effect], [ee["b"]], rtol=CMEL_B_RTOL, atol=1e-8, what="b (as EE)")
        return
    v = c["values"]
    assert res.k == v["k"]
    umfs = arg["model"] == "UM.FS"
    brtol = UMFS_RTOL if umfs else CMEL_B_RTOL
    sertol = UMFS_RTOL if umfs else CMEL_SE_RTOL
    assert_close([res.effect], [v["b"]], rtol=brtol, atol=1e-8, what="b")
    assert_close([res.se], [v["se"]], rtol=sertol, atol=1e-8, what="se")
    # limits can sit near 0: allow the estimate's own absolute error as well
    lim_atol = sertol * max(1.0, abs(v["b"]))
    assert_close([res.effect_ci.low, res.effect_ci.high], [v["ci.lb"], v["ci.ub"]], rtol=sertol, atol=lim_atol,
                 what="ci")
    h = res.heterogeneity
    if model == "random":
        assert_close([h.tau2], [v["tau2"]], rtol=UMFS_RTOL if umfs else CMEL_B_RTOL, atol=1e-6, what="tau2")
        assert_close([h.i2], [v["I2"]], rtol=UMFS_RTOL, atol=1e-4, what="I2")
        assert_close([res.effect_pi.low, res.effect_pi.high], [v["pi.lb"], v["pi.ub"]], rtol=sertol,
                     atol=lim_atol, what="PI")
    else:
        assert res.tau2 is None
        if not umfs:  # closed-form conditional information at metafor's EE estimate
            assert_close([res.se], [v["se.at.b.exact"]], rtol=1e-6, atol=1e-12, what="EE se (exact)")
    if res.k > 1:
        assert_close([h.q_lrt], [v["QE.LRT"]], rtol=1e-6, atol=1e-8, what="LRT Q")
        assert res.q_lrt_df == v["QE.df"]
        if umfs:
            assert abs(h.q - v["QE.Wld"]) <= QWALD_ATOL + 1e-6 * v["QE.Wld"], (h.q, v["QE.Wld"])
        else:
            assert_close([h.q], [v["QE.Wld.exact"]], **ITERATIVE, what="CM.EL Wald Q (closed form in R)")
            assert h.df == v["QE.Wld.exact.df"]
        # the Wald Q's df counts the studies with a finite ML log OR (metafor reports k - 1)
        assert h.df <= res.k - 1


def test_cmel_wald_q_metafor_hessian_is_off_for_large_tables():
    # documented above: metafor's CM.EL Wald Q for bcg comes from a numerical Hessian of
    # BiasedUrn densities of tables with ~1e5 subjects; the closed form agrees with UM.FS.
    v = case("bcg/rma.glmm/OR/CM.EL/ML/z")["values"]
    u = case("bcg/rma.glmm/OR/UM.FS/ML/z")["values"]
    assert abs(v["QE.Wld"] - v["QE.Wld.exact"]) > 50
    assert abs(v["QE.Wld.exact"] - u["QE.Wld"]) < 0.5


# ----------------------------------------------------------------------------- per study
@pytest.mark.parametrize("case_id", ids("study"))
def test_study_intervals(case_id):
    c = case(case_id)
    a, n1, ci, n0, _sid = data(c)
    level = c["args"]["conf_level"]
    v = {k: nan(x) for k, x in c["values"].items() if k != "warnings"}
    for i in range(len(a)):
        p = fisher_exact_test(a[i], n1[i], ci[i], n0[i])
        assert_close([p], [v["fisher_p"][i]], rtol=1e-10, atol=1e-14, what="Fisher p")
        cmle, lo, hi = or_exact_interval(a[i], n1[i], ci[i], n0[i], confidence_level=level)
        got = np.array([cmle, lo, hi])
        tight = np.array([v["tight_est"][i], v["tight_lo"][i], v["tight_hi"][i]])
        if np.isnan(tight).all():  # double-zero: undefined (fisher.test gives [0, Inf])
            assert np.isnan(got).all()
            continue
        fin = np.isfinite(tight)  # R's Inf is written as null, read here as NaN
        assert np.array_equal(np.isfinite(got), fin)
        assert np.all(np.isposinf(got[~fin]))
        assert_close(got[fin], tight[fin], **ITERATIVE, what="exact OR (tight)")
        ft = np.array([v["fisher_est"][i], v["fisher_lo"][i], v["fisher_hi"][i]])
        # fisher.test's uniroot works on t = ncp (ncp < 1) or t = 1/ncp (ncp > 1), t in (0, 1)
        fold = lambda x: np.minimum(x, 1 / x)
        ok = fin & (ft > 0)
        assert_close(fold(got[ok]), fold(ft[ok]), rtol=0, atol=FISHER_TEST_ATOL, what="fisher.test")
        lo, hi = newcombe_interval(a[i], n1[i], ci[i], n0[i], confidence_level=level)
        assert_close([lo, hi], [v["newcombe_lo"][i], v["newcombe_hi"][i]], **CLOSED_FORM, what="Newcombe")


# Newcombe (1998) Table II, method 10, examples (a)-(h), 4 decimals. Transcribed from the
# test suite of capeconomics/mergeron-extra (tests/test_proportions_tests.py, "Examples from
# Newcombe (1998), Table II"); the same values appear in several independent public test
# suites; not checked against the printed paper. Half a unit of the 4th decimal: 5e-5.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)), ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)), ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)), ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)), ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE_II)
def test_newcombe_table_ii(counts, expected):
    lo, hi = newcombe_interval(*counts)
    assert_close([lo, hi], expected, rtol=0, atol=5e-5 + 1e-12, what=f"Newcombe {counts}")


def test_study_intervals_agree_with_statsmodels():
    from statsmodels.stats.proportion import confint_proportions_2indep

    rng = np.random.default_rng(7)
    for _ in range(200):
        n1, n0 = rng.integers(1, 60, 2)
        a, c = rng.integers(0, n1 + 1), rng.integers(0, n0 + 1)
        lo, hi = newcombe_interval(a, n1, c, n0)
        ref = confint_proportions_2indep(a, n1, c, n0, method="newcomb", compare="diff")
        assert_close([lo, hi], ref, rtol=1e-12, atol=1e-13, what="Newcombe vs statsmodels")
        # statsmodels' closed form (Nam's cubic) fails when an arm is at 100% (see below)
        if 0 < a < n1 and 0 < c < n0:
            klo, khi = koopman_interval(a, n1, c, n0)
            ref = confint_proportions_2indep(a, n1, c, n0, method="score", compare="ratio", correction=False)
            # statsmodels solves Nam's (1995) cubic with numpy.roots: ~1e-12 relative
            assert_close([klo, khi], ref, rtol=1e-9, atol=0, what=f"Koopman {a}/{n1} vs {c}/{n0}")


def test_koopman_at_100_percent_arm_solves_the_score_equation():
    # 27/54 vs 1/1: statsmodels returns a lower limit of 0.509, but the RR estimate is 0.5,
    # inside its own interval; the constrained MLE sits on p0 = 1 there. Check the limit by
    # brute force: the Pearson statistic with the constrained MLE found on a grid equals
    # the chi-square(1) 95% quantile at our lower limit.
    from scipy import stats

    lo, hi = koopman_interval(27, 54, 1, 1)
    assert lo < 0.5 < hi
    p0 = np.linspace(1e-9, min(1.0, 1 / lo), 2_000_001)
    ll = 27 * np.log(lo * p0) + 27 * np.log1p(-lo * p0) + np.log(p0)
    p0 = p0[np.argmax(ll)]
    assert p0 == 1.0
    u = (27 - 54 * lo * p0) ** 2 / (54 * lo * p0 * (1 - lo * p0))
    assert_close([u], [stats.chi2.isf(0.05, 1)], rtol=1e-9, atol=0, what="score statistic at the limit")


def test_published_examples():
    # Koopman (1984) example as in statsmodels' test_score_confint_koopman_nam
    # (36/40 vs 16/80: 2.940 to 7.152, three decimals)
    assert_close(koopman_interval(36, 40, 16, 80), [2.940, 7.152], rtol=0, atol=5e-4, what="Koopman 1984")
    # Fagerland, Lydersen & Laake (2015) tables for 7/34 vs 1/34, as quoted in statsmodels'
    # test_confint_2indep: Newcombe 0.019 to 0.34; Koopman 1.21 to 43; Cornfield exact
    # conditional 0.97 to 397 (printed to 2-3 significant digits)
    assert_close(newcombe_interval(7, 34, 1, 34), [0.019, 0.34], rtol=0, atol=0.005, what="Newcombe")
    assert_close(koopman_interval(7, 34, 1, 34), [1.21, 43], rtol=0.013, atol=0, what="Koopman")
    assert_close(or_exact_interval(7, 34, 1, 34)[1:], [0.97, 397], rtol=0.006, atol=0, what="Cornfield")


def test_review_comparisons_study_by_study():
    z = study_effects(0, 5, 0, 9)  # the double-zero comparison: RD 0, never 3.3%
    assert z.risk_difference == 0.0
    assert z.risk_ratio is None
    assert z.odds_ratio is None
    assert z.fisher_p == 1.0
    assert z.risk_difference_ci.low < 0 < z.risk_difference_ci.high
    g = study_effects(6, 22, 15, 28).to_dict()  # graft loss: the Newcombe interval includes 0
    assert g["rd_ci_low"] < 0 < g["rd_ci_high"]
    assert 0.05 < g["fisher_p"] < 0.1
    assert g["rr_ci_low"] < 1 < g["rr_ci_high"]
    assert g["or_ci_low"] < 1 < g["or_ci_high"]
    one = study_effects(3, 10, 0, 8)  # a zero control arm: RR, OR unbounded above
    assert one.risk_ratio == math.inf
    assert one.to_dict()["rr"] is None
    assert one.to_dict()["rr_ci_high"] is None
    assert one.risk_ratio_ci.low > 0
    assert "undefined" in z.summary()
    json.dumps(g, allow_nan=False)


# ----------------------------------------------------------------------------- API
BCG = case("bcg/rma.mh/OR")


@pytest.mark.parametrize(("opts", "match"), [
    ({"measure": "rr", "method": "peto"}, 'method="peto" supports measure "or"'),
    ({"measure": "rd", "method": "glmm-umfs"}, 'method="glmm-umfs" supports measure "or"'),
    ({"method": "mantel-haenszel", "model": "random"}, "common-effect method"),
    ({"method": "peto", "tau2_method": "reml"}, "tau2_method applies only"),
    ({"method": "mantel-haenszel", "ci_method": "knapp-hartung"}, "knapp-hartung"),
    ({"method": "glmm-cmel", "ci_method": "knapp-hartung"}, 'offer ci_method="t"'),
    ({"method": "inverse-variance", "ci_method": "t"}, 'ci_method="t" applies only'),
    ({"measure": "hr"}, "measure must be one of"),
    ({"method": "bayes"}, "method must be one of"),
    ({"confidence_level": 95}, "confidence_level"),
])
def test_invalid_options_are_named(opts, match):
    a, n1, c, n0, _ = data(BCG)
    with pytest.raises(ValueError, match=match):
        pool_two_group(a, n1, c, n0, **opts)


def test_result_views_are_json_safe_and_complete():
    a, n1, c, n0, sid = data(case("sparse/rma.mh/OR"))
    res = pool_two_group(a, n1, c, n0, method="glmm-umfs", study_ids=sid)
    assert isinstance(res, PooledEffect)
    assert res.dropped == ("3",)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    for key in ("estimate", "ci_low", "ci_high", "tau2", "q", "k", "pvalue", "studies", "dropped"):
        assert key in d
    assert d["k"] == 4
    assert len(d["studies"]) == 5
    assert d["studies"][2]["in_model"] is False
    assert "dropped: double zero" in res.summary()
    frame = res.to_frame()
    assert list(frame.row) == ["study"] * 5 + ["pooled", "prediction"]
    assert math.isclose(d["estimate"], math.exp(d["analysis_scale"]["effect"]))
    with pytest.raises(AttributeError):
        res.k = 3  # frozen


# ----------------------------------------------------------------------------- CLI
def _write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_cli_compare_json_agrees_with_metafor(tmp_path, capsys):
    from analysis.cli import main

    a, n1, c, n0, sid = data(case("bcg/rma.mh/OR"))
    rows = "\n".join(f"{s},{x},{m},{y},{k}" for s, x, m, y, k in zip(sid, a, n1, c, n0, strict=True))
    path = _write(tmp_path, "study_id,events_treated,n_treated,events_control,n_control\n" + rows + "\n")
    for cid, opts in (("bcg/rma.mh/OR", []),
                      ("bcg/rma.uni/RR/DL/knha/drop00", ["--measure", "rr", "--method", "inverse-variance",
                                                         "--tau2-method", "dersimonian-laird",
                                                         "--ci-method", "knapp-hartung"])):
        assert main(["compare", path, "--json", *opts]) == 0
        out = json.loads(capsys.readouterr().out)
        v = case(cid)["values"]
        t = v["transf"]
        assert_close([out["estimate"], out["ci_low"], out["ci_high"], out["q"], out["pvalue"]],
                     [t["estimate"], t["ci.lb"], t["ci.ub"], v["QE"], v["pval"]], **CLOSED_FORM, what=cid)
        assert out["k"] == 13
        assert len(out["studies"]) == 13
        assert (out["tau2"] is None) == (cid.startswith("bcg/rma.mh"))


def test_cli_compare_accepts_metafor_spelling_and_prints_a_summary(tmp_path, capsys):
    from analysis.cli import main

    path = _write(tmp_path, "ai,n1i,ci,n2i\n4,123,11,139\n6,306,29,303\n0,10,0,12\n")
    assert main(["compare", path, "--method", "peto"]) == 0
    text = capsys.readouterr().out
    assert "Peto" in text
    assert "Dropped" not in text  # Peto keeps the double-zero table in its sums (metafor)


@pytest.mark.parametrize(("text", "where"), [
    ("study_id,events_treated,n_treated,events_control\nA,1,2,3\n", "field 'n_control'"),
    ("study_id,ai,n1i,ci,n2i\nA,1,10,x,12\n", "line 2, field 'ci'"),
    ("study_id,ai,n1i,ci,n2i\nA,1,10,2,12\nB,11,10,2,12\n", "line 3, field 'ai'"),
    ("study_id,ai,n1i,ci,n2i\nA,1,10,2,12\nA,1,10,2,12\n", "line 3, field 'study_id'"),
])
def test_cli_compare_bad_input_is_one_line_exit_2(tmp_path, capsys, text, where):
    from analysis.cli import main

    path = _write(tmp_path, text)
    assert main(["compare", path]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert path in err
    assert where in err
    assert "Traceback" not in err


def test_cli_compare_invalid_combination_exits_2(tmp_path, capsys):
    from analysis.cli import main

    path = _write(tmp_path, "ai,n1i,ci,n2i\n4,123,11,139\n6,306,29,303\n")
    assert main(["compare", path, "--method", "glmm-umfs", "--measure", "rd"]) == 2
    assert 'measure "or"' in capsys.readouterr().err
