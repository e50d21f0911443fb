"""Exact small-ball masses of transformed Gaussians (pymc_localmass.core.gaussian).

Reference values come from scipy.stats CDFs (where the CDF difference is well
conditioned), closed-form series (tiny radii, where it is not), Monte Carlo
and, for joint balls, products of exact 1-D masses, chi2 and scipy's
multivariate normal CDF.
"""

import math

import numpy as np
import pytest
from scipy import special, stats

from pymc_localmass.core.gaussian import (
    gaussian_ball_log_mass,
    gaussian_ball_mass,
    gaussian_joint_ball_mass,
    gaussian_mass_index,
    transform_support,
)

# transform name, kwargs, support (lo, hi), CDF of the constrained variable given (mu, sigma)
CASES = {
    "identity": ({}, lambda t, m, s: stats.norm.cdf(t, m, s)),
    "log": ({}, lambda t, m, s: stats.lognorm.cdf(t, s, scale=np.exp(m))),
    "lowerbound": ({"lower": -2.0}, lambda t, m, s: stats.lognorm.cdf(t + 2.0, s, scale=np.exp(m))),
    "upperbound": ({"upper": 3.0}, lambda t, m, s: stats.lognorm.sf(3.0 - t, s, scale=np.exp(m))),
    "interval": ({"lower": -1.0, "upper": 4.0},
                 lambda t, m, s: stats.norm.cdf((special.logit((t + 1.0) / 5.0) - m) / s)),
    "logodds": ({}, lambda t, m, s: stats.norm.cdf((special.logit(t) - m) / s)),
    "log_exp_m1": ({}, lambda t, m, s: stats.norm.cdf((np.log(np.expm1(t)) - m) / s)),
}


def _forward(name, y, kw):
    lo, hi = kw.get("lower"), kw.get("upper")
    return {
        "identity": lambda: y,
        "log": lambda: np.exp(y),
        "lowerbound": lambda: lo + np.exp(y),
        "upperbound": lambda: hi - np.exp(y),
        "interval": lambda: lo + (hi - lo) * special.expit(y),
        "logodds": lambda: special.expit(y),
        "log_exp_m1": lambda: np.logaddexp(0.0, y),
    }[name]()


def _exact_mass(name, kw, mu, sigma, c, r):
    lo, hi = transform_support(name, **kw)
    cdf = CASES[name][1]
    a, b = max(c - r, float(lo)), min(c + r, float(hi))
    if b <= a:
        return 0.0
    fa = 0.0 if a == lo else cdf(a, mu, sigma)
    fb = 1.0 if b == hi else cdf(b, mu, sigma)
    return fb - fa


@pytest.mark.parametrize("name", list(CASES))
def test_masses_match_scipy_cdfs(name):
    kw = CASES[name][0]
    lo, hi = transform_support(name, **kw)
    # centres inside the support, near each end, and radii that reach past the ends
    span_lo = float(lo) if np.isfinite(lo) else -3.0
    span_hi = float(hi) if np.isfinite(hi) else 3.0
    centers = span_lo + (span_hi - span_lo) * np.array([0.02, 0.3, 0.6, 0.97])
    radii = np.array([0.01, 0.1, 0.5, 2.0])
    for mu, sigma in [(0.0, 1.0), (0.7, 0.4), (-1.0, 2.0)]:
        got = gaussian_ball_mass(mu, sigma, centers, radii, transform=name, **kw).mass  # (4 centres, 4 radii)
        for i, c in enumerate(centers):
            for j, r in enumerate(radii):
                exact = _exact_mass(name, kw, mu, sigma, c, r)
                # A difference of two CDF values: absolute error ~1e-16, so rtol 1e-9
                # is safe for masses above 1e-6 and a wrong transform misses by far more.
                if exact > 1e-6:
                    assert got[i, j] == pytest.approx(exact, rel=1e-9), (name, mu, sigma, c, r)
                else:
                    assert abs(got[i, j] - exact) < 1e-15


@pytest.mark.parametrize("name", list(CASES))
def test_masses_match_monte_carlo(name):
    kw = CASES[name][0]
    rng = np.random.default_rng(11)
    mu, sigma, n = 0.3, 0.8, 400_000
    x = _forward(name, rng.normal(mu, sigma, size=n), kw)
    lo, hi = transform_support(name, **kw)
    c = float(np.median(x))
    for r in [0.05 * np.std(x), 0.5 * np.std(x)]:
        m = gaussian_ball_mass(mu, sigma, c, r, transform=name, **kw).mass
        frac = np.mean(np.abs(x - c) <= r)
        # Binomial standard error sqrt(m(1-m)/n) <= 8e-4; a 5 s.e. band has a
        # false-failure probability < 1e-6 (the seed is fixed anyway), while a
        # wrong transform or a missing Jacobian shifts the mass by >> 5 s.e.
        se = math.sqrt(m * (1 - m) / n)
        assert abs(frac - m) < 5 * se, (name, r, frac, m)


def test_log_transform_mass_of_zero_ball_is_phi_of_log_r():
    radii = np.logspace(-300, 1, 60)
    for mu, sigma in [(0.0, 1.0), (-2.0, 0.5), (1.0, 3.0)]:
        res = gaussian_ball_mass(mu, sigma, 0.0, radii, transform="log")
        z = (np.log(radii) - mu) / sigma
        np.testing.assert_allclose(res.log_mass, special.log_ndtr(z), rtol=1e-13)
        np.testing.assert_allclose(res.mass, stats.norm.cdf(z), rtol=1e-13, atol=1e-300)
        assert np.all(res.mass[:5] == 0.0) and np.all(np.isfinite(res.log_mass))  # underflow kept in logs
    # same for lowerbound at its bound and upperbound at its bound
    lm = gaussian_ball_log_mass(0.5, 1.2, -2.0, 1e-30, transform="lowerbound", lower=-2.0)
    assert lm == pytest.approx(special.log_ndtr((math.log(1e-30) - 0.5) / 1.2), rel=1e-13)
    lm = gaussian_ball_log_mass(0.5, 1.2, 3.0, 1e-30, transform="upperbound", upper=3.0)
    assert lm == pytest.approx(special.log_ndtr((math.log(1e-30) - 0.5) / 1.2), rel=1e-13)


def test_tiny_radii_keep_relative_precision():
    # identity: int_{c-r}^{c+r} phi(t) dt = 2 r phi(c) (1 + r^2 (c^2-1)/6 + r^4 (c^4-6c^2+3)/120 + ...)
    for c in [0.0, 3.0, 40.0, -40.0]:
        for r in [1e-12, 1e-8, 1e-4]:
            exact = (math.log(2 * r) - c * c / 2 - 0.5 * math.log(2 * math.pi)
                     + math.log1p(r * r * (c * c - 1) / 6 + r**4 * (c**4 - 6 * c * c + 3) / 120))
            got = gaussian_ball_log_mass(0.0, 1.0, c, r)
            assert got == pytest.approx(exact, rel=0, abs=1e-12), (c, r)
    # the plain CDF difference loses these digits (the reason for the quadrature path)
    naive = math.log(stats.norm.cdf(3.0 + 1e-12) - stats.norm.cdf(3.0 - 1e-12))
    exact = math.log(2e-12) - 4.5 - 0.5 * math.log(2 * math.pi)
    assert abs(naive - exact) > 1e-6
    # transformed: m(r) = 2 r f_X(c) (1 + O(r^2)); at r = 1e-7 the O(r^2) term is < 1e-12
    r = 1e-7
    checks = [
        ("log", {}, 0.7, stats.lognorm.pdf(0.7, 0.8, scale=np.exp(0.3))),
        ("logodds", {}, 0.2, stats.norm.pdf((special.logit(0.2) - 0.3) / 0.8) / 0.8 / (0.2 * 0.8)),
        ("upperbound", {"upper": 3.0}, 2.5, stats.lognorm.pdf(0.5, 0.8, scale=np.exp(0.3))),
        ("log_exp_m1", {}, 0.4, stats.norm.pdf((np.log(np.expm1(0.4)) - 0.3) / 0.8) / 0.8 / -np.expm1(-0.4)),
    ]
    for name, kw, c, dens in checks:
        m = gaussian_ball_mass(0.3, 0.8, c, r, transform=name, **kw).mass
        assert m == pytest.approx(2 * r * dens, rel=1e-11), name


@pytest.mark.parametrize("name", list(CASES))
def test_exact_slope_matches_finite_difference(name):
    kw = CASES[name][0]
    lo, hi = transform_support(name, **kw)
    c = 0.5 if not np.isfinite(hi) else (float(lo) + 0.3 * (float(hi) - float(lo)) if np.isfinite(lo)
                                         else float(hi) - 0.5)
    radii = np.array([1e-3, 0.05, 0.3, 0.45])
    res = gaussian_ball_mass(0.2, 0.7, c, radii, transform=name, **kw)
    h = 1e-5  # central difference in log r: truncation error O(h^2) ~ 1e-10
    up = gaussian_ball_log_mass(0.2, 0.7, c, radii * math.exp(h), transform=name, **kw)
    dn = gaussian_ball_log_mass(0.2, 0.7, c, radii * math.exp(-h), transform=name, **kw)
    np.testing.assert_allclose(res.slope, (up - dn) / (2 * h), rtol=1e-6)


def test_slope_at_interior_tends_to_one_and_diverges_at_log_boundary():
    small = gaussian_ball_mass(0.0, 1.0, 0.4, 1e-6, transform="log").slope
    assert small == pytest.approx(1.0, abs=1e-6)
    s = gaussian_ball_mass(0.0, 1.0, 0.0, np.array([1e-1, 1e-3, 1e-6, 1e-12]), transform="log").slope
    assert np.all(np.diff(s) > 0) and s[-1] > 20  # no finite power law: a = inf


def test_ball_outside_support_has_zero_mass():
    res = gaussian_ball_mass(0.0, 1.0, -1.0, 0.5, transform="log")
    assert res.mass == 0.0 and res.log_mass == -np.inf
    res = gaussian_ball_mass(0.0, 1.0, 1.5, 0.25, transform="logodds")
    assert res.mass == 0.0
    # straddling the boundary: only the part inside counts
    m = gaussian_ball_mass(0.0, 1.0, -1.0, 1.5, transform="log").mass
    assert m == pytest.approx(stats.lognorm.cdf(0.5, 1.0), rel=1e-12)


def test_mass_index():
    idx = gaussian_mass_index(0.0, 1.0, np.array([0.0, 0.3, -1.0]), transform="log")
    np.testing.assert_array_equal(idx.a, [np.inf, 1.0, np.inf])
    assert np.isnan(idx.b[0]) and idx.b[1] == 0.0 and np.all(idx.atom == 0)
    idx = gaussian_mass_index(0.0, 1.0, np.array([-1.0, 0.0, 2.0, 4.0]), transform="interval", lower=-1.0, upper=4.0)
    np.testing.assert_array_equal(idx.a, [np.inf, 1.0, 1.0, np.inf])
    assert gaussian_mass_index(0.0, 1.0, 123.0).a == 1.0
    assert gaussian_mass_index(np.zeros((2, 3)), 1.0, 0.0).a.shape == (2, 3)
    # a = inf is what the exact masses show: log m(r) / log r grows without bound
    r = np.array([1e-4, 1e-16, 1e-64])
    ratio = gaussian_ball_log_mass(0.0, 1.0, 0.0, r, transform="log") / np.log(r)
    assert np.all(np.diff(ratio) > 0) and ratio[-1] > 50


def test_broadcasting_shapes():
    mu = np.zeros((3, 1))
    sigma = np.ones((1, 2))
    out = gaussian_ball_mass(mu, sigma, 0.0, np.array([0.1, 0.2, 0.3, 0.4])).mass
    assert out.shape == (3, 2, 4)
    assert np.all(np.diff(out, axis=-1) > 0)  # monotone in r
    assert gaussian_ball_mass(0.0, 1.0, 0.0, 0.1).mass.shape == ()
    per_elem = gaussian_ball_mass(np.zeros(2), 1.0, 0.0, np.array([[0.1, 0.2], [0.3, 0.4]])).mass
    assert per_elem[1, 0] == pytest.approx(gaussian_ball_mass(0.0, 1.0, 0.0, 0.3).mass)
    lo = np.array([0.0, -1.0])
    out = gaussian_ball_mass(0.0, 1.0, lo, np.array([0.5, 1.0]), transform="lowerbound", lower=lo).mass
    np.testing.assert_allclose(out[0], out[1])  # equivariant to shifting centre and bound together


def test_bad_input_raises():
    with pytest.raises(ValueError, match="sigma"):
        gaussian_ball_mass(0.0, 0.0, 0.0, 0.1)
    with pytest.raises(ValueError, match="radius"):
        gaussian_ball_mass(0.0, 1.0, 0.0, np.array([0.1, -0.1]))
    with pytest.raises(ValueError, match="unknown transform"):
        gaussian_ball_mass(0.0, 1.0, 0.0, 0.1, transform="circular")
    with pytest.raises(ValueError, match="lower"):
        gaussian_ball_mass(0.0, 1.0, 0.0, 0.1, transform="lowerbound")
    with pytest.raises(ValueError, match="upper > lower"):
        gaussian_ball_mass(0.0, 1.0, 0.0, 0.1, transform="interval", lower=1.0, upper=0.0)
    with pytest.raises(ValueError, match="cov"):
        gaussian_joint_ball_mass(np.zeros(2), np.eye(3), np.zeros(2), [0.1])


# ---------------------------------------------------------------------------
# joint balls by randomised QMC


def test_qmc_standard_normal_ball_is_chi2():
    radii = np.array([1e-3, 0.03, 0.3, 1.0, 2.0, 4.0])
    res = gaussian_joint_ball_mass(np.zeros(3), np.eye(3), np.zeros(3), radii, seed=3)
    exact = stats.chi2.cdf(radii**2, 3)
    assert res.tier == "qmc" and res.n_randomizations == 8
    # RQMC error is a few standard errors at most; with 8 randomisations of 4096
    # points the relative errors here are ~1e-5, so 1e-3 catches any real bias.
    np.testing.assert_allclose(res.mass, exact, rtol=1e-3)
    assert np.all(np.abs(res.mass - exact) <= 5 * res.std_error + 1e-15)
    assert np.all((res.mass_lower < res.mass) & (res.mass < res.mass_upper))
    t = stats.t.ppf(0.97, 7)  # 94% Student-t interval from 8 randomisations
    width, expected = res.mass_upper - res.mass_lower, 2 * t * res.std_error
    assert np.all(np.abs(width - expected) <= 1e-6 * expected + 4 * np.spacing(res.mass))  # up to rounding
    assert res.method[0] == "ball"  # tiny ball: no Gaussian point lands inside


def test_qmc_mean_field_box_is_product_of_exact_masses():
    names = ["log", "identity", "logodds"]
    mean, sd = np.array([0.2, -0.5, 0.4]), np.array([0.6, 1.2, 0.9])
    c = np.array([1.0, 0.0, 0.55])
    scale = np.array([1.0, 2.0, 0.3])
    radii = np.array([0.002, 0.05, 0.2, 0.4])
    res = gaussian_joint_ball_mass(mean, np.diag(sd**2), c, radii, transforms=names, norm="max",
                                   scale=scale, seed=5)
    exact = np.prod([gaussian_ball_mass(mean[j], sd[j], c[j], radii * scale[j], transform=names[j]).mass
                     for j in range(3)], axis=0)
    np.testing.assert_allclose(res.mass, exact, rtol=2e-3)
    assert np.all(np.abs(res.mass - exact) <= 5 * res.std_error + 1e-15)


def test_qmc_full_covariance_box_matches_mvn_cdf():
    mean = np.array([0.3, -0.2])
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    c = np.array([0.5, 0.5])
    radii = np.array([0.1, 0.5, 1.5])
    res = gaussian_joint_ball_mass(mean, cov, c, radii, norm="max", seed=2)
    mvn = stats.multivariate_normal(mean, cov, abseps=1e-10, releps=1e-10)
    exact = np.array([mvn.cdf(c + r, lower_limit=c - r) for r in radii])
    np.testing.assert_allclose(res.mass, exact, rtol=1e-3)


def test_qmc_indicator_zero_count_gives_upper_bound():
    res = gaussian_joint_ball_mass(np.zeros(4), np.eye(4), np.zeros(4), [1e-3, 1.0], method="indicator",
                                   n_points=1024, n_randomizations=4, seed=0)
    assert res.mass[0] == 0.0 and 0 < res.mass_upper[0] < 1e-3
    assert res.method[0] == "indicator"
    assert res.mass[1] == pytest.approx(stats.chi2.cdf(1.0, 4), rel=0.05)


def test_qmc_mass_of_a_ball_holding_no_point_is_a_bound_not_zero():
    # a ball no randomisation puts a point in (radius 1e-7 of N(0, 1): mass 8e-8, below what
    # 8 x 4096 points resolve) read [0, 0], an exact zero; its interval is now the Jeffreys
    # interval of 0 among all the points, and a well-resolved ball keeps its QMC interval
    from pymc_localmass.core.gaussian import gaussian_qmc_sample, randomized_qmc_mass

    rng = np.random.default_rng(1)
    pts = np.stack([gaussian_qmc_sample(np.zeros(1), np.eye(1), 2**12, rng) for _ in range(8)])
    out = randomized_qmc_mass(pts, np.zeros(1), np.array([[1e-7, 0.5]]), ci_prob=0.89)
    assert out["mass"][0, 0] == 0 and out["mass_lower"][0, 0] == 0
    assert 1e-5 < out["mass_upper"][0, 0] < 1e-4  # about 1.9 / (8 x 4096)
    assert out["mass_upper"][0, 1] - out["mass_lower"][0, 1] < 1e-3  # QMC's own, far below 1 / sqrt(n)
