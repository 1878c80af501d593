"""Miller (1978) Freeman-Tukey example, as in metafor's test_analysis_example_miller1978.r.

Page: https://www.metafor-project.org/doku.php/analyses:miller1978 (4 decimals).
"""

import numpy as np
from conftest import assert_close, published

from analysis import back_transform, effect_sizes, pool_proportions
from analysis.stats.pooling import pool_effects_iv
from analysis.stats.proportions import ft_harmonic_mean_n

X = [3, 6, 10, 1]
N = [11, 17, 21, 6]


def test_escalc_pft_values():
    es = effect_sizes(X, N, measure="freeman-tukey")
    assert not es.corrected.any()
    assert_close(es.effect, [0.5695, 0.6444, 0.7626, 0.4758], **published(4), what="yi")
    assert_close(es.variance, [0.0217, 0.0143, 0.0116, 0.0385], **published(4), what="vi")


def test_back_transform_with_own_n_recovers_the_proportions():
    es = effect_sizes(X, N, measure="freeman-tukey")
    got = back_transform(es.effect.to_numpy(), measure="freeman-tukey", n=np.array(N))
    assert_close(got, np.array(X) / np.array(N), rtol=1e-10, atol=1e-12, what="ipft")


def test_harmonic_mean_and_weighted_common_effect():
    # Harmonic mean n = 10.98846 (5 decimals); EE weighted 2*b = 1.3093 -> 0.3595
    assert_close(ft_harmonic_mean_n(N), 10.98846, **published(5), what="n_hm")
    res = pool_proportions(X, N, model="common", measure="freeman-tukey")
    assert_close([2 * res.estimate, res.proportion], [1.3093, 0.3595], **published(4),
                 what="EE weighted")


def test_unweighted_common_effect():
    # EE unweighted: 2*b = 1.2262 -> transf.ipft.hm 0.3164 (4 decimals)
    es = effect_sizes(X, N, measure="freeman-tukey")
    b = float(np.mean(es.effect))
    p = float(back_transform(b, measure="freeman-tukey", n=ft_harmonic_mean_n(N)))
    assert_close([2 * b, p], [1.2262, 0.3164], **published(4), what="EE unweighted")


def test_boundary_back_transformations_are_exact():
    # xi = (0, 4, 9, 16, 20), ni = (10, 10, 15, 20, 20): ipft gives 0, .4, .6, .8, 1 exactly;
    # EE back-transformed 0.6886 [0.5734, 0.7943]
    x, n = [0, 4, 9, 16, 20], [10, 10, 15, 20, 20]
    es = effect_sizes(x, n, measure="freeman-tukey")
    got = back_transform(es.effect.to_numpy(), measure="freeman-tukey", n=np.array(n))
    np.testing.assert_allclose(got, [0.0, 0.4, 0.6, 0.8, 1.0], rtol=0, atol=1e-12)
    fit = pool_effects_iv(es.effect, es.variance, model="common")
    nhm = ft_harmonic_mean_n(n)
    vals = back_transform([fit["estimate"], *fit["ci"]], measure="freeman-tukey", n=nhm)
    assert_close(vals, [0.6886, 0.5734, 0.7943], **published(4), what="EE boundary")
    both = effect_sizes([0, 10], [10, 10], measure="freeman-tukey").effect.to_numpy()
    np.testing.assert_array_equal(back_transform(both, measure="freeman-tukey", n=np.array([10, 10])), [0.0, 1.0])
