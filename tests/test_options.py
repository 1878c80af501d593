"""One constant for the defaults (engine = CLI = report's primary method), honest interval
names (t versus Knapp-Hartung), and summaries that print only what applies to the fit."""

import inspect
import warnings

import numpy as np
import pytest
from conftest import PRITZ_N, PRITZ_X, assert_close
from scipy import stats

from analysis import DEFAULTS, PoolingOptions, leave_one_out, pool_proportions
from analysis.review import synthesis
from analysis.stats._citations import cite

# Same data, same code path, different options: the numbers may differ only by rounding.
SAME = {"rtol": 1e-12, "atol": 1e-15}


def test_pool_proportions_defaults_are_the_constant():
    # model-dependent options default to None in the signature, which means DEFAULTS for
    # the default model: the fit with no options is the fit with DEFAULTS spelled out
    sig = inspect.signature(pool_proportions)
    for name, value in DEFAULTS.as_kwargs().items():
        assert sig.parameters[name].default in (None, value), name
    spelled = {k: v for k, v in DEFAULTS.as_kwargs().items() if v is not None}
    if DEFAULTS.model == "bayes":  # the Bayesian model takes no frequentist options
        spelled = {k: spelled[k] for k in ("model", "likelihood", "tau_prior", "mu_prior",
                                           "confidence_level", "study_ci_method")}
    plain = pool_proportions(PRITZ_X, PRITZ_N)
    assert plain.to_dict() == pool_proportions(PRITZ_X, PRITZ_N, **spelled).to_dict()
    assert plain.model == DEFAULTS.model


def test_a_named_model_keeps_its_own_defaults_not_the_primary_methods():
    # e.g. a Freeman-Tukey primary method must not push its measure onto model="random":
    # the primary method is what you get by naming no model
    for model in ("glmm", "random", "common", "bayes"):
        res = pool_proportions(PRITZ_X, PRITZ_N, model=model)
        assert res.measure == "logit", model
    assert pool_proportions(PRITZ_X, PRITZ_N).measure == DEFAULTS.measure


def test_the_report_primary_method_is_the_constant():
    # the method itself is the calibration rule's choice (tests/test_primary_method.py)
    assert DEFAULTS.replace(**synthesis.PRIMARY_OPTIONS) == DEFAULTS
    assert pool_proportions(PRITZ_X, PRITZ_N).to_dict() == pool_proportions(
        PRITZ_X, PRITZ_N, **synthesis.PRIMARY_OPTIONS).to_dict()


def test_options_are_frozen_and_replaceable():
    opts = PoolingOptions()
    with pytest.raises(AttributeError):
        opts.model = "random"  # type: ignore[misc]
    other = opts.replace(model="random", measure="freeman-tukey")
    assert (other.model, other.measure, opts.model) == ("random", "freeman-tukey", "glmm")
    res = pool_proportions(PRITZ_X, PRITZ_N, **other.as_kwargs())
    assert res.model == "random"


def test_the_glmm_defaults_to_t_quantiles():
    res = pool_proportions(PRITZ_X, PRITZ_N, model="glmm")
    z = pool_proportions(PRITZ_X, PRITZ_N, model="glmm", ci_method="wald")
    assert (res.model, res.ci_method) == ("glmm", "t")
    k = len(PRITZ_X)
    # the same fit; only the quantile differs: half-widths scale by t(k-1) / z
    assert_close([res.estimate, res.se], [z.estimate, z.se], **SAME, what="same fit")
    ratio = stats.t.ppf(0.975, k - 1) / stats.norm.ppf(0.975)
    assert_close([(res.ci.high - res.ci.low) / (z.ci.high - z.ci.low)], [ratio], **SAME, what="t / z")


def test_t_for_inverse_variance_models_is_metafors_test_t_not_knapp_hartung():
    kw = {"model": "random", "measure": "logit", "tau2_method": "reml", "pi_method": "metafor"}
    t = pool_proportions(PRITZ_X, PRITZ_N, ci_method="t", **kw)
    z = pool_proportions(PRITZ_X, PRITZ_N, ci_method="wald", **kw)
    hk = pool_proportions(PRITZ_X, PRITZ_N, ci_method="knapp-hartung", **kw)
    k = len(PRITZ_X)
    crit = stats.t.ppf(0.975, k - 1)
    # metafor test="t": unadjusted SE, t(k-1) quantile, for the CI and the prediction interval
    assert_close([t.estimate, t.se], [z.estimate, z.se], **SAME, what="same SE as Wald")
    assert_close([t.ci.low, t.ci.high], [t.estimate - crit * t.se, t.estimate + crit * t.se], **SAME, what="CI")
    half = crit * np.sqrt(t.se**2 + t.heterogeneity.tau2)
    assert_close([t.pi.low, t.pi.high], [t.estimate - half, t.estimate + half], **SAME, what="PI")
    assert abs(hk.se - t.se) > 1e-6, "Knapp-Hartung adjusts the SE; t does not"
    assert "HK" in hk.label()
    assert "HK" not in t.label()


def test_knapp_hartung_for_the_glmm_is_a_deprecated_alias_of_t():
    with pytest.warns(DeprecationWarning, match='use ci_method="t"'):
        old = pool_proportions(PRITZ_X, PRITZ_N, model="glmm", ci_method="knapp-hartung")
    new = pool_proportions(PRITZ_X, PRITZ_N, model="glmm", ci_method="t")
    assert old.ci_method == "t"
    assert old.to_dict() == new.to_dict()


def test_leave_one_out_warns_once_not_once_per_refit():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loo = leave_one_out(PRITZ_X[:4], PRITZ_N[:4], model="glmm", ci_method="knapp-hartung")
    assert [w.category for w in caught] == [DeprecationWarning]
    assert caught[0].filename == __file__, "the warning points at the caller"
    assert loo.full.ci_method == "t"


def test_no_option_warns_at_the_defaults():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pool_proportions(PRITZ_X, PRITZ_N)
        leave_one_out(PRITZ_X[:4], PRITZ_N[:4])


# ---------------------------------------------------------------- what summary() prints
def test_glmm_summary_says_nothing_about_a_continuity_correction():
    text = pool_proportions([0, 3, 5], [4, 6, 5], model="glmm").summary()
    assert "continuity correction" not in text
    iv = pool_proportions([0, 3, 5], [4, 6, 5], model="random", measure="logit",
                          ci_method="wald").summary()
    assert "continuity correction 0.5 (only0)" in iv


@pytest.mark.parametrize(("ci_method", "model", "cited", "not_cited"), [
    ("t", "glmm", cite("t"), "Knapp"),
    ("wald", "glmm", cite("glmm"), "Brown"),
    ("wald", "random", cite("random"), "Brown"),
    ("knapp-hartung", "random", "Knapp & Hartung (2003)", "Brown"),
])
def test_each_pooled_interval_cites_what_defines_it(ci_method, model, cited, not_cited):
    text = pool_proportions(PRITZ_X, PRITZ_N, model=model, ci_method=ci_method).summary()
    methods = next(line for line in text.splitlines() if line.startswith("Methods:"))
    interval = next(part for part in methods.split("; ") if " CI" in part and "study" not in part)
    assert cited in interval
    assert not_cited not in interval


def test_one_study_summary_prints_no_na_for_what_does_not_exist():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = pool_proportions([3], [10], model="glmm").summary()
    assert "NA%" not in text
    assert "= NA" not in text
    assert "None" not in text
    assert "Heterogeneity: not estimable with k = 1" in text


def test_no_interval_prints_ci_na_not_na_na():
    text = pool_proportions([0, 0, 0], [4, 1, 7], model="glmm").summary()
    assert "[NA, NA]" not in text
    assert "CI n/a" in text


def test_long_labels_are_printed_whole_and_columns_stay_aligned():
    ids = ["a", "a_study_label_much_longer_than_twenty_four_characters_2024", "c"]
    res = pool_proportions([3, 5, 9], [4, 8, 12], study_ids=ids, model="random", ci_method="wald")
    lines = res.summary().splitlines()
    assert any(line.startswith(ids[1] + " ") for line in lines)
    table = [line for line in lines[2:] if line and not line.startswith("-")][:5]
    ends = {len(line) for line in table[:4] if "%" in line}
    assert len(ends) == 1, table  # the weight column ends at one position
    loo = leave_one_out([3, 5, 9], [4, 8, 12], study_ids=ids, model="random", ci_method="wald")
    rows = [line for line in loo.summary().splitlines()[2:] if line and not line.startswith("-")]
    assert any(line.startswith(ids[1] + " ") for line in rows)
    assert len({line.index("[") for line in rows[1:]}) == 1, rows  # CI column aligned
    assert len({len(line) for line in rows[1:]}) == 1, rows  # and I^2 column ends aligned
    assert rows[-1].startswith("(none)")
