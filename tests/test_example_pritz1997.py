"""dat.pritz1997 worked example, printed by metadat's rendered reference page.

Source: https://wviechtb.github.io/metadat/reference/dat.pritz1997.html (printed to 4
decimals; tolerances from `published(4)`). Values marked "local" in METHODS.md 3.1 were
recomputed with metafor 3.8-1 and are checked in test_against_metafor.py instead.
"""

import pytest
from conftest import PRITZ_N, PRITZ_X, assert_close, published

from analysis import pool_proportions, proportion_ci

P4 = published(4)
# The published intervals use metafor's default normal quantiles (test="z"); this
# package's default is t (the report's primary method), so each fit asks for "wald".


def test_binom_test_exact_ci_of_the_pooled_counts():
    # binom.test(246, 326): 0.7546012, CP CI 0.7041627-0.8003469 (printed to 7 decimals)
    est = proportion_ci(246, 326)
    assert_close([est.proportion, est.ci.low, est.ci.high], [0.7546012, 0.7041627, 0.8003469],
                 **published(7), what="binom.test(246, 326)")


def test_glmm_matches_rma_glmm():
    # rma.glmm(measure="PLO"): 0.7984 [0.6924, 0.8746], PI [0.4426, 0.9518]
    res = pool_proportions(PRITZ_X, PRITZ_N, model="glmm", ci_method="wald", pi_method="metafor")
    got = [res.proportion, res.proportion_ci.low, res.proportion_ci.high,
           res.proportion_pi.low, res.proportion_pi.high]
    assert_close(got, [0.7984, 0.6924, 0.8746, 0.4426, 0.9518], **P4, what="GLMM")


def test_glmm_common_effect_heterogeneity_tests():
    # rma.glmm(PLO, method="EE"): Wld(13) = 25.0979, LRT(13) = 42.2324
    res = pool_proportions(PRITZ_X, PRITZ_N, model="glmm", ci_method="wald", pi_method="metafor")
    h = res.heterogeneity
    # metafor prints Wld(13); two of the 14 studies sit at 100% and add a parameter but no
    # information to the Wald test of the saturated model, so this package uses 11 df
    # (issue 15). The statistic itself is metafor's; the LRT keeps k - 1 = 13 df.
    assert sum(1 for x, n in zip(PRITZ_X, PRITZ_N, strict=True) if 0 < x < n) - 1 == h.df == 11
    assert h.q_lrt_df == 13
    assert_close([h.q, h.q_lrt], [25.0979, 42.2324], **P4, what="Wald and LRT Q")


def test_random_effects_logit_reml():
    # RE logit PLO (REML): 0.7575 [0.6605, 0.8337], PI [0.4661, 0.9179]
    res = pool_proportions(PRITZ_X, PRITZ_N, model="random", measure="logit", ci_method="wald", pi_method="metafor")
    got = [res.proportion, res.proportion_ci.low, res.proportion_ci.high,
           res.proportion_pi.low, res.proportion_pi.high]
    assert_close(got, [0.7575, 0.6605, 0.8337, 0.4661, 0.9179], **P4, what="PLO REML")


def test_random_effects_raw_reml_prediction_interval_is_clipped_and_flagged():
    # RE raw PR (REML): 0.7968, se 0.0423, CI 0.7138-0.8797, PI 0.5306-1.0629 (printed)
    res = pool_proportions(PRITZ_X, PRITZ_N, model="random", measure="raw", ci_method="wald", pi_method="metafor")
    assert_close([res.proportion, res.se, res.proportion_ci.low, res.proportion_ci.high,
                  res.pi.low, res.pi.high],
                 [0.7968, 0.0423, 0.7138, 0.8797, 0.5306, 1.0629], **P4, what="PR REML")
    assert res.proportion_pi.high == 1.0
    assert any("beyond [0, 1]" in w for w in res.warnings)


def test_common_effect_raw_q_and_i2_from_q():
    # EE with vtype="AV" printed Q(13) = 37.3750 and I^2 65.22%; our raw measure uses
    # vtype "LS" (as metafor's default), so check the I^2-from-Q definition on the
    # printed Q instead.
    from analysis import i_squared_q

    assert_close(i_squared_q(37.3750, 13), 65.22, **published(2), what="I2 from Q")


@pytest.mark.parametrize("method", ["dersimonian-laird", "reml", "paule-mandel", "ml"])
def test_logit_estimate_lies_between_extremes(method):
    res = pool_proportions(PRITZ_X, PRITZ_N, model="random", tau2_method=method, ci_method="wald", pi_method="metafor")
    assert 0.5 < res.proportion < 0.95
