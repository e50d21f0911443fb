"""ESS of ball indicators and the resulting intervals (core)."""

import numpy as np
import pytest
from scipy import special, stats

from pymc_localmass.core.ess import batch_means_ess, indicator_ess
from pymc_localmass.core.intervals import beta_interval


def ar1(rng, shape, rho):
    z = rng.standard_normal(shape)
    out = np.empty(shape)
    out[..., 0] = z[..., 0]
    s = np.sqrt(1 - rho**2)
    for t in range(1, shape[-1]):
        out[..., t] = rho * out[..., t - 1] + s * z[..., t]
    return out


def test_iid_indicator_ess_near_n(rng):
    ind = rng.random((200, 4, 1000)) < 0.3
    ess = indicator_ess(ind)
    # the estimator is unbiased to a few percent for independent draws
    assert 0.9 * 4000 < np.median(ess) <= 4000


def test_ar1_indicator_ess_matches_exact_variance(rng):
    # ESS such that var(p_hat) = p(1-p)/ESS: compare with the Monte Carlo variance of p_hat
    z = ar1(rng, (400, 4, 1000), 0.9)
    ind = z > 0.5
    p_hat = ind.mean(axis=(1, 2))
    p = 1 - special.ndtr(0.5)
    ess_true = p * (1 - p) / p_hat.var()
    ess = indicator_ess(ind)
    assert ess_true < 1500  # strongly autocorrelated: far below 4000
    assert np.median(ess) == pytest.approx(ess_true, rel=0.2)


def test_batch_means_ess_rejects_too_few_batches():
    with pytest.raises(ValueError, match="at least 4 batches"):
        batch_means_ess(np.ones((2, 3)), np.ones(3))


def test_beta_interval_properties():
    lo, hi = beta_interval(np.array([0.0, 0.2, 1.0]), np.array([100.0, 100.0, 100.0]), 0.9)
    assert lo[0] == 0 and hi[2] == 1
    assert lo[1] < 0.2 < hi[1]
    # wider with fewer effective draws
    lo2, hi2 = beta_interval(0.2, 25.0, 0.9)
    assert hi2 - lo2 > hi[1] - lo[1]


def test_interval_coverage_autocorrelated(rng):
    # coverage of the mass interval for AR(1) chains, at a ball of exact mass P(|Z| <= 0.3);
    # a unit check of beta_interval at indicator_ess: the public path (batch_means_ess ->
    # t_adjusted_n -> beta_interval in local_mass) is checked in tests/test_calibration.py
    z = ar1(rng, (300, 4, 1000), 0.9)
    ind = np.abs(z) <= 0.3
    p = stats.chi2.cdf(0.09, 1)
    ess = indicator_ess(ind)
    lo, hi = beta_interval(ind.mean(axis=(1, 2)), ess, 0.9)
    cover = np.mean((lo <= p) & (p <= hi))
    # 300 replicates: Monte Carlo s.e. of a 0.9 coverage is 0.017; allow 3 s.e.
    assert abs(cover - 0.9) < 0.055
