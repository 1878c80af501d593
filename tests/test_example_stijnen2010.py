"""Published worked examples for sparse data and k = 2.

* Stijnen, Hamza & Ozdemir (2010), Stat Med 29:3046-3067, Table II (p. 3050), as
  reproduced in metafor's test_analysis_example_stijnen2010.r: dat.nielweise2007, normal-
  normal (PLO, REML) versus binomial-normal (GLMM) per arm; printed to 4 decimals.
* R meta issue #35 (https://github.com/guido-s/meta/issues/35): metaprop(c(5, 116),
  c(119, 170), method="GLMM") printed "0.2355 [0.0191; 0.8297]" and study CP CIs.
The data of nielweise2007 are read from the pinned metafor reference file (metadat).
"""

import pytest
from conftest import assert_close, published

from analysis import pool_proportions, proportion_ci

P4 = published(4)
# The published intervals use normal quantiles (metafor's default test="z"); this
# package's default is t (the report's primary method), so each fit asks for "wald".


@pytest.mark.parametrize(
    ("arm", "nn", "glmm"),
    [
        ("nielweise_control", (-3.3018, 0.2378, 0.6629, 0.0355, 0.0226, 0.0554),
         (-3.4964, 0.2570, 0.8124, 0.0294, 0.0180, 0.0478)),
        ("nielweise_treat", (-4.2604, 0.2589, 0.3928, 0.0139, 0.0084, 0.0229),
         (-4.8121, 0.3555, 0.8265, 0.0081, 0.0040, 0.0161)),
    ],
)
def test_stijnen2010_table_2(metafor_reference, arm, nn, glmm):
    d = metafor_reference["datasets"][arm]
    iv = pool_proportions(d["events"], d["n"], model="random", measure="logit", tau2_method="reml",
                          ci_method="wald", pi_method="metafor")
    got = [iv.estimate, iv.se, iv.heterogeneity.tau2, iv.proportion, iv.proportion_ci.low,
           iv.proportion_ci.high]
    assert_close(got, nn, **P4, what=f"{arm} normal-normal")
    gm = pool_proportions(d["events"], d["n"], model="glmm", ci_method="wald", pi_method="metafor")
    got = [gm.estimate, gm.se, gm.heterogeneity.tau2, gm.proportion, gm.proportion_ci.low,
           gm.proportion_ci.high]
    assert_close(got, glmm, **P4, what=f"{arm} binomial-normal")


def test_meta_issue_35_glmm_with_two_studies():
    res = pool_proportions([5, 116], [119, 170], model="glmm", ci_method="wald", pi_method="metafor")
    assert_close([res.proportion, res.proportion_ci.low, res.proportion_ci.high],
                 [0.2355, 0.0191, 0.8297], **P4, what="GLMM k=2")
    a, b = proportion_ci(5, 119), proportion_ci(116, 170)
    assert_close([a.proportion, a.ci.low, a.ci.high, b.proportion, b.ci.low, b.ci.high],
                 [0.0420, 0.0138, 0.0953, 0.6824, 0.6067, 0.7515], **P4, what="study CP CIs")


def test_degenerate_glmm_cases_warn_instead_of_switching_silently():
    one = pool_proportions([3], [10], model="glmm", ci_method="wald", pi_method="metafor")
    assert one.heterogeneity.tau2 is None
    assert one.proportion_pi is None
    assert any("only one study" in w for w in one.warnings)
    zeros = pool_proportions([0, 0, 0], [4, 1, 7], model="glmm", ci_method="wald", pi_method="metafor")
    assert zeros.proportion == 0.0
    assert zeros.proportion_ci.low is None
    assert any("0% events" in w for w in zeros.warnings)
    homog = pool_proportions([5, 10, 15], [10, 20, 30], model="glmm", ci_method="wald", pi_method="metafor")
    assert homog.heterogeneity.tau2 == 0.0
    assert any("tau^2 is 0" in w for w in homog.warnings)
    assert_close([homog.proportion], [0.5], rtol=1e-10, atol=0, what="common logistic")


def test_single_case_reports_are_pooled_by_the_glmm():
    res = pool_proportions([1, 0, 1, 3], [1, 1, 1, 4], model="glmm", ci_method="wald", pi_method="metafor")
    assert 0 < res.proportion < 1
    assert res.proportion_ci.low < res.proportion < res.proportion_ci.high
