"""Quadrature of the model-based tier (pymc_localmass.core.quadrature).

Conditional (Rao-Blackwellised) ball masses are checked against exact answers:
closed forms (erf, gammainc, the power and log densities of THEORY section 2),
the conjugate normal posterior, a uniform with a per-draw upper bound, and the
horseshoe marginal, whose density is exp(b^2/2) E1(b^2/2) / sqrt(2 pi^3), so
that m(r) ~ r log(1/r) at 0. Sobol quadrature is checked against chi2 and erf.
"""

import numpy as np
import pytest
from scipy import integrate, special, stats

from pymc_localmass.core.quadrature import (
    check_radii_precision,
    conditional_ball_mass,
    log_ball_volume,
    qmc_ball_log_integral,
)

RADII = np.geomspace(1e-10, 10.0, 12)


def _normal_interval_mass(c, r, m, s):
    """P(|X - c| <= r) for X ~ N(m, s^2), stable for tiny r (Taylor) and large r."""
    c, r, m, s = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (c, r, m, s)))
    z = (c - m) / s
    small = 2 * r / s * stats.norm.pdf(z) * (1 + (r / s) ** 2 * (z**2 - 1) / 6)
    lo_z, hi_z = (c - r - m) / s, (c + r - m) / s
    big = np.where(z > 0, stats.norm.sf(lo_z) - stats.norm.sf(hi_z), stats.norm.cdf(hi_z) - stats.norm.cdf(lo_z))
    return np.where(r / s < 1e-4, small, big)


def _iid_normal_logp(x):
    return -0.5 * (x**2).sum(axis=-1)


def test_standard_normal_coordinate_all_scales(rng):
    draws = rng.normal(size=(20, 3))
    res = conditional_ball_mass(_iid_normal_logp, draws, 1, 0.0, RADII)
    exact = special.erf(RADII / np.sqrt(2))
    np.testing.assert_allclose(res.mass, exact, rtol=1e-8)
    np.testing.assert_allclose(res.mass_draws, np.broadcast_to(exact, (20, RADII.size)), rtol=1e-8)
    assert res.mass_draws.shape == res.log_mass_draws.shape == (20, RADII.size)
    assert np.all(np.diff(res.mass) > 0)
    others = np.delete(draws, 1, axis=1)
    log_z = res.log_normalizer + 0.5 * (others**2).sum(axis=1)  # the other coordinates' factor
    np.testing.assert_allclose(np.exp(log_z), np.sqrt(2 * np.pi), rtol=1e-7)


def test_correlated_normal_per_draw_conditionals(rng):
    rho = 0.9
    prec = np.linalg.inv(np.array([[1.0, rho], [rho, 1.0]]))

    def logp(x):
        return -0.5 * np.einsum("...i,ij,...j->...", x, prec, x)

    draws = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=30)
    center, radii = 0.4, np.geomspace(1e-9, 2.0, 10)
    res = conditional_ball_mass(logp, draws, 0, center, radii)
    cond_mean = rho * draws[:, 1:2]
    cond_sd = np.sqrt(1 - rho**2)
    exact = _normal_interval_mass(center, radii[None, :], cond_mean, cond_sd)
    np.testing.assert_allclose(res.mass_draws, exact, rtol=1e-7)


@pytest.mark.parametrize("center", [0.0, 0.65, -1.0])
def test_conjugate_normal_posterior(center):
    # mu ~ N(0, 1), y_i ~ N(mu, 1), i = 1..3: mu | y ~ N(sum(y) / 4, 1 / 4)
    y = np.array([0.9, 1.4, 0.3])

    def logp(x):
        mu = x[..., 0]
        return -0.5 * mu**2 - 0.5 * ((y[None, None, :] - mu[..., None]) ** 2).sum(axis=-1)

    radii = np.geomspace(1e-8, 1.0, 17)
    draws = np.array([[0.5], [0.7], [0.2]])
    res = conditional_ball_mass(logp, draws, 0, center, radii)
    exact = _normal_interval_mass(center, radii, y.sum() / 4, 0.5)
    np.testing.assert_allclose(res.mass, exact, rtol=1e-6)


@pytest.mark.parametrize("k", [0.05, 0.5, 1.0, 2.5, 10.0])
def test_gamma_at_its_boundary(k):
    def logp(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (k - 1) * np.log(x[..., 0]) - x[..., 0]

    radii = np.geomspace(1e-12, 20.0, 14)
    res = conditional_ball_mass(logp, np.full((2, 1), k), 0, 0.0, radii, lower=0.0)
    np.testing.assert_allclose(res.mass, special.gammainc(k, radii), rtol=1e-6)
    np.testing.assert_allclose(np.exp(res.log_normalizer), special.gamma(k), rtol=1e-6)


def test_gamma_interior_center_with_singular_bound():
    k, c = 0.1, 0.7

    def logp(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (k - 1) * np.log(x[..., 0]) - x[..., 0]

    radii = np.geomspace(1e-9, 0.5, 8)
    res = conditional_ball_mass(logp, np.array([[0.3]]), 0, c, radii, lower=0.0)
    exact = [
        integrate.quad(lambda t: stats.gamma.pdf(t, k), c - r, c + r, epsabs=0, epsrel=1e-12)[0] for r in radii
    ]
    np.testing.assert_allclose(res.mass, exact, rtol=1e-6)


def test_theory_table_power_and_log_densities():
    radii = np.geomspace(1e-9, 0.9, 10)

    def logp_sqrt(x):  # (1/4)|x|^(-1/2) on (-1, 1)
        with np.errstate(divide="ignore"):
            return -0.5 * np.log(np.abs(x[..., 0]))

    def logp_log(x):  # (1/2) log(1/|x|) on (-1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(-np.log(np.abs(x[..., 0])))

    draw = np.array([[0.3]])
    r1 = conditional_ball_mass(logp_sqrt, draw, 0, 0.0, radii, lower=-1.0, upper=1.0)
    np.testing.assert_allclose(r1.mass, np.sqrt(radii), rtol=1e-7)
    r2 = conditional_ball_mass(logp_log, draw, 0, 0.0, radii, lower=-1.0, upper=1.0)
    np.testing.assert_allclose(r2.mass, radii * (1 + np.log(1 / radii)), rtol=1e-4)


def test_heavy_tail_normaliser():
    def logp(x):
        return -np.log1p(x[..., 0] ** 2)

    res = conditional_ball_mass(logp, np.array([[0.2], [50.0]]), 0, 0.0, RADII)
    np.testing.assert_allclose(res.mass, 2 / np.pi * np.arctan(RADII), rtol=1e-8)


def test_narrow_conditional_far_from_center():
    # the conditional N(5, 0.001^2) only shows up near the draw's own value
    def logp(x):
        return -0.5 * ((x[..., 0] - 5.0) / 1e-3) ** 2

    draws = np.column_stack([5 + 1e-3 * np.array([-1.2, 0.1, 2.0]), np.zeros(3)])
    radii = np.geomspace(1e-9, 1e-2, 8)
    res = conditional_ball_mass(logp, draws, 0, 5.0005, radii, scale=1.0)
    np.testing.assert_allclose(res.mass, _normal_interval_mass(5.0005, radii, 5.0, 1e-3), rtol=1e-6)


def test_conditional_far_narrower_than_the_inner_grid():
    # N(0, 1e-20) at 0: all of the mass sits far inside the smallest radius
    def logp(x):
        return -0.5 * (x[..., 0] / 1e-20) ** 2

    res = conditional_ball_mass(logp, np.array([[1e-20]]), 0, 0.0, [1e-8, 1.0], scale=1.0)
    np.testing.assert_allclose(res.mass, 1.0, rtol=1e-10)


def test_per_draw_upper_bound():
    # x | theta ~ Uniform(0, theta): mass of [0, r] is min(r / theta, 1)
    theta = np.array([0.5, 1.0, 3.0])

    def logp(x):
        th = x[..., 1]
        inside = (x[..., 0] > 0) & (x[..., 0] < th)
        return np.where(inside, -np.log(np.abs(th)), -np.inf)

    draws = np.column_stack([theta / 2, theta])
    radii = np.geomspace(1e-10, 5.0, 9)
    res = conditional_ball_mass(logp, draws, 0, 0.0, radii, lower=0.0, upper=theta)
    np.testing.assert_allclose(res.mass_draws, np.minimum(radii[None, :] / theta[:, None], 1.0), rtol=1e-10)


def _horseshoe_logp(x):
    b, lam = x[..., 0], x[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -0.5 * (b / lam) ** 2 - np.log(lam) - np.log1p(lam**2)
    return np.where(lam > 0, out, -np.inf)


def horseshoe_exact_mass(r):
    """m(r) of the horseshoe marginal p(b) = exp(b^2/2) E1(b^2/2) / sqrt(2 pi^3)."""

    def integrand(s):  # b = r exp(-s), db = b ds
        b = r * np.exp(-s)
        x = 0.5 * b * b
        return np.exp(x) * special.exp1(x) * b / np.sqrt(2 * np.pi**3)

    return 2 * integrate.quad(integrand, 0, 80, epsabs=0, epsrel=1e-12, limit=400)[0]


def horseshoe_lambda_nodes(step=0.5, lo=-50.0, hi=25.0, n=8):
    """Quadrature 'draws' of lambda ~ HalfCauchy(1): nodes and weights on log lambda."""
    xg, wg = np.polynomial.legendre.leggauss(n)
    edges = np.arange(lo, hi + 1e-9, step)
    v = ((edges[:-1] + edges[1:]) / 2)[:, None] + (step / 2) * xg[None, :]
    w = (step / 2) * np.broadcast_to(wg, v.shape)
    lam = np.exp(v.ravel())
    return lam, w.ravel() * (2 / np.pi) * lam / (1 + lam**2)


def test_horseshoe_marginal_mass_log_index():
    lam, wts = horseshoe_lambda_nodes()
    draws = np.column_stack([lam * 0.3, lam])
    radii = np.geomspace(1e-6, 1e-1, 11)
    res = conditional_ball_mass(_horseshoe_logp, draws, 0, 0.0, radii, weights=wts)
    exact = np.array([horseshoe_exact_mass(r) for r in radii])
    np.testing.assert_allclose(res.mass, exact, rtol=0.01)
    # the quadrature itself is far better than the 1% asked for
    np.testing.assert_allclose(res.mass, exact, rtol=1e-5)
    # each conditional is exact: erf(r / (lambda sqrt 2))
    cond = special.erf(radii[None, :] / (lam[:, None] * np.sqrt(2)))
    np.testing.assert_allclose(res.mass_draws, cond, rtol=1e-5)
    # the log index shows: m(r) / r grows like log(1/r)
    ratio = res.mass / radii
    assert np.all(np.diff(ratio) < 0)


def test_horseshoe_with_random_exact_draws_is_unbiased(rng):
    lam = np.abs(rng.standard_cauchy(2000))
    draws = np.column_stack([rng.normal(size=lam.size) * lam, lam])
    r = 0.05
    res = conditional_ball_mass(_horseshoe_logp, draws, 0, 0.0, [r])
    se = res.mass_draws[:, 0].std(ddof=1) / np.sqrt(lam.size)
    assert abs(res.mass[0] - horseshoe_exact_mass(r)) < 4 * se


def test_weights_draw_order_and_progress(rng):
    draws = rng.normal(size=(7, 2))
    draws[:, 1] = np.abs(draws[:, 1]) + 0.5
    radii = np.array([1e-6, 0.1, 1.0])
    calls = []
    res = conditional_ball_mass(
        _horseshoe_logp, draws, 0, 0.0, radii, chunk_size=3, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(3, 7), (6, 7), (7, 7)]
    perm = rng.permutation(7)
    res_p = conditional_ball_mass(_horseshoe_logp, draws[perm], 0, 0.0, radii)
    np.testing.assert_allclose(res_p.mass_draws, res.mass_draws[perm], rtol=1e-12)
    np.testing.assert_allclose(res_p.mass, res.mass, rtol=1e-12)
    w = rng.uniform(size=7)
    res_w = conditional_ball_mass(_horseshoe_logp, draws, 0, 0.0, radii, weights=w)
    np.testing.assert_allclose(res_w.mass, (w[:, None] * res.mass_draws).sum(0) / w.sum(), rtol=1e-12)
    assert res.n_evaluations > 0


def test_non_integrable_density_gives_nan():
    def logp(x):  # |x|^(-3/2) near 0: not integrable
        with np.errstate(divide="ignore"):
            return -1.5 * np.log(np.abs(x[..., 0])) - x[..., 0] ** 2

    res = conditional_ball_mass(logp, np.array([[0.5]]), 0, 0.0, [0.1, 1.0])
    assert np.all(np.isnan(res.mass))


def test_bad_input():
    draws = np.zeros((3, 2))
    with pytest.raises(ValueError, match="outside the support"):
        conditional_ball_mass(_iid_normal_logp, draws, 0, -1.0, [0.1], lower=0.0)
    with pytest.raises(ValueError, match="too small for double precision"):
        conditional_ball_mass(_iid_normal_logp, draws, 0, 1e6, [1e-12])
    with pytest.raises(ValueError, match="radii must be finite and > 0"):
        conditional_ball_mass(_iid_normal_logp, draws, 0, 0.0, [0.0, 1.0])
    with pytest.raises(ValueError, match="column 2 out of range"):
        conditional_ball_mass(_iid_normal_logp, draws, 2, 0.0, [0.1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        conditional_ball_mass(_iid_normal_logp, np.array([[np.nan, 0.0]]), 0, 0.0, [0.1])
    with pytest.raises(ValueError, match="shape"):
        conditional_ball_mass(_iid_normal_logp, np.zeros(3), 0, 0.0, [0.1])
    with pytest.raises(ValueError, match="one value per draw"):
        conditional_ball_mass(_iid_normal_logp, draws, 0, 0.0, [0.1], upper=[1.0, 2.0])
    check_radii_precision(0.0, [1e-280])
    with pytest.raises(ValueError, match="too small"):
        check_radii_precision(1.0, [1e-13])


# ---------------------------------------------------------------- Sobol QMC


def test_log_ball_volume():
    np.testing.assert_allclose(np.exp(log_ball_volume(1, [0.5, 2.0])), [1.0, 4.0])
    np.testing.assert_allclose(np.exp(log_ball_volume(3, 2.0)), 4 / 3 * np.pi * 8)
    np.testing.assert_allclose(np.exp(log_ball_volume(2, 1.0, norm="max", scales=[1.0, 3.0])), 12.0)


def test_qmc_euclidean_normal_chi2():
    d = 5
    radii = np.geomspace(1e-8, 3.0, 9)
    res = qmc_ball_log_integral(_iid_normal_logp, np.zeros(d), radii, m=11, n_randomizations=8, seed=3)
    exact = np.log(stats.chi2.cdf(radii**2, d)) + 0.5 * d * np.log(2 * np.pi)
    err = np.abs(res.log_integral - exact)
    assert np.all(err < 5 * res.log_integral_se + 1e-9)
    assert err[0] < 1e-9  # flat density at tiny radii: essentially exact
    assert res.log_integral_reps.shape == (8, radii.size)
    assert res.n_points == 2**11


def test_qmc_max_norm_scales_and_offset_center():
    d = 3
    c = np.array([0.5, -0.2, 0.0])
    scales = np.array([1.0, 2.0, 0.5])
    radii = np.array([1e-4, 0.3, 1.0])
    res = qmc_ball_log_integral(_iid_normal_logp, c, radii, norm="max", scales=scales, m=11, seed=4)
    half = radii[:, None] * scales[None, :]
    exact = np.log(stats.norm.cdf(c + half) - stats.norm.cdf(c - half)).sum(axis=1) + 0.5 * d * np.log(2 * np.pi)
    assert np.all(np.abs(res.log_integral - exact) < 5 * res.log_integral_se + 1e-8)


def test_qmc_density_zero_outside_support():
    # half-normal in both coordinates: a quarter of each disc at the corner
    def logp(x):
        return np.where(np.all(x > 0, axis=-1), -0.5 * (x**2).sum(axis=-1), -np.inf)

    radii = np.array([0.1, 1.0])
    res = qmc_ball_log_integral(logp, np.zeros(2), radii, m=12, seed=5)
    exact = np.log(stats.chi2.cdf(radii**2, 2) * 2 * np.pi / 4)
    assert np.all(np.abs(res.log_integral - exact) < 5 * res.log_integral_se + 1e-3)


def test_qmc_bad_input():
    with pytest.raises(ValueError, match="norm"):
        qmc_ball_log_integral(_iid_normal_logp, np.zeros(2), [0.1], norm="l1")
    with pytest.raises(ValueError, match="scales"):
        qmc_ball_log_integral(_iid_normal_logp, np.zeros(2), [0.1], scales=[1.0])
    with pytest.raises(ValueError, match="radii"):
        qmc_ball_log_integral(_iid_normal_logp, np.zeros(2), [-0.1])
