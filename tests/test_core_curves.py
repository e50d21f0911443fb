"""Mass curves from draws against exact masses and properties (core)."""

import numpy as np
import pytest
from scipy import special, stats

from pymc_localmass.core.curves import CURVE_STATS, INDEX_STATS, local_mass_curves, radius_grid

S = {name: i for i, name in enumerate(CURVE_STATS)}
I = {name: i for i, name in enumerate(INDEX_STATS)}


def test_gaussian_masses_match_chi2(rng):
    x = rng.standard_normal((4, 5000))
    radii = np.array([0.05, 0.2, 0.5, 1.0])
    curves, _ = local_mass_curves(x, center=0.0, radii=radii, ci_prob=0.99)
    exact = stats.chi2.cdf(radii**2, 1)
    assert np.array_equal(curves[:, S["radius"]], radii)  # explicit radii honoured exactly
    assert np.all(curves[:, S["mass_lower"]] <= exact)
    assert np.all(exact <= curves[:, S["mass_upper"]])
    # binomial s.e. at n=20000 is <= 0.0036: 4 s.e.
    assert np.allclose(curves[:, S["mass"]], exact, atol=0.015)


def test_mass_monotone_and_slope_of_power_law(rng):
    # m(r) = r^2 on [0, 1] (|X| = sqrt(U)): slope 2 everywhere
    x = np.sqrt(rng.random((4, 20000)))
    curves, _ = local_mass_curves(x, center=0.0, radii=np.geomspace(0.05, 0.5, 8))
    m = curves[:, S["mass"]]
    assert np.all(np.diff(m) >= 0)
    assert np.allclose(m, np.geomspace(0.05, 0.5, 8) ** 2, rtol=0.1, atol=0.002)
    s = curves[1:-1, S["slope"]]
    # the slope at r_j is log(n_(j+1) / n_(j-1)) / log(r_(j+1) / r_(j-1)) from the counts
    # inside the two balls; for nested balls of independent draws the log ratio has
    # variance 1 / n_(j-1) - 1 / n_(j+1): 4 of those s.e. (0.36 at the smallest radius,
    # where 200 of the 80,000 draws are inside, down to 0.04 at the largest)
    r = curves[:, S["radius"]]
    n_in = 80_000 * r[:-2] ** 2
    n_out = 80_000 * r[2:] ** 2
    se = np.sqrt(1 / n_in - 1 / n_out) / np.log(r[2:] / r[:-2])
    assert np.all(np.abs(s - 2.0) <= 4 * se)
    assert np.all(curves[:, S["slope_lower"]] <= curves[:, S["slope"]])
    assert np.all(curves[:, S["slope"]] <= curves[:, S["slope_upper"]])


def test_invariant_to_draw_order_and_equivariant(rng):
    x = rng.gamma(2.0, size=(4, 1000))
    radii = np.array([0.1, 0.3, 1.0])
    base, _ = local_mass_curves(x, center=1.0, radii=radii)
    perm = rng.permuted(x.reshape(-1)).reshape(4, 1000)
    shuffled, _ = local_mass_curves(perm, center=1.0, radii=radii)
    assert np.array_equal(base[:, S["mass"]], shuffled[:, S["mass"]])
    shifted, _ = local_mass_curves(3.0 * x - 7.0, center=3.0 * 1.0 - 7.0, radii=3.0 * radii)
    assert np.allclose(base[:, S["mass"]], shifted[:, S["mass"]])


def test_auto_grid_spans_resolved_to_sd(rng):
    x = rng.standard_normal((4, 1000))
    curves, index = local_mass_curves(x, center="mean")
    r = curves[:, S["radius"]]
    assert np.all(np.diff(r) > 0)
    sd = x.std(ddof=1)
    assert r[-1] == pytest.approx(sd)
    dist = np.sort(np.abs(x - x.mean()).ravel())
    assert r[0] == pytest.approx(dist[9])  # the 10th nearest draw
    assert curves[-1, S["resolved"]] == 1.0
    assert index[I["center_value"]] == pytest.approx(x.mean())
    assert index[I["scale"]] == pytest.approx(sd)


def test_unresolved_radii_are_flagged(rng):
    x = rng.standard_normal((4, 250))
    curves, _ = local_mass_curves(x, center=0.0, radii=np.array([1e-5, 1e-3, 0.5]))
    assert curves[0, S["resolved"]] == 0.0
    assert curves[2, S["resolved"]] == 1.0


def test_atom_weight_and_index_zero(rng):
    n = (4, 2000)
    x = np.where(rng.random(n) < 0.3, 0.0, rng.standard_normal(n))
    curves, index = local_mass_curves(x, center=0.0)
    # 8000 independent draws: the tie fraction has s.e. sqrt(0.3 * 0.7 / 8000) = 0.0051; 4 s.e.
    se = np.sqrt(0.3 * 0.7 / 8000)
    assert abs(index[I["atom"]] - 0.3) <= 4 * se
    # the interval holds its estimate and is no narrower than the binomial one at these
    # draws (coverage over replicates: tests/test_calibration.py)
    assert index[I["atom_lower"]] < index[I["atom"]] < index[I["atom_upper"]]
    z = stats.norm.ppf(0.5 + 0.94 / 2)  # local_mass_curves' default ci_prob
    assert index[I["atom_upper"]] - index[I["atom_lower"]] >= 0.95 * 2 * z * se
    assert index[I["a"]] == 0.0 and index[I["b"]] == 0.0
    # every ball contains the atom
    assert np.all(curves[:, S["mass"]] >= index[I["atom"]])


def test_atom_interval_uses_the_ess_of_the_ties(rng):
    # autocorrelated chains (lag-1 0.9 through a Gaussian copula): the atom's interval is
    # the Jeffreys interval at the ESS of the tie indicator. The per-batch tie counts came
    # from a boolean matmul (0/1 per batch), so the ESS fell back to the raw draw count:
    # intervals half as wide as the ties' ESS allows, coverage 0.63 at nominal 0.89
    from cases import gaussian_copula
    from pymc_localmass.core.ess import indicator_ess
    from pymc_localmass.core.intervals import beta_interval, t_adjusted_n

    u = gaussian_copula(rng, (4, 1000), 0.9)
    x = np.where(np.abs(u - 0.5) <= 0.15, 0.0, special.ndtri(u))  # atom of weight 0.3 at 0
    _, index = local_mass_curves(x, center=0.0, ci_prob=0.89)
    atom = index[I["atom"]]
    ess = indicator_ess(x == 0)
    assert ess < 2000  # strongly autocorrelated: far below the 4000 draws
    lo, hi = beta_interval(atom, t_adjusted_n(atom, ess, 0.89), 0.89)
    assert index[I["atom_lower"]] == pytest.approx(float(lo), rel=1e-9)
    assert index[I["atom_upper"]] == pytest.approx(float(hi), rel=1e-9)


def test_integer_valued_draws(rng):
    x = rng.poisson(3.0, size=(4, 1000)).astype(float)
    _, at_support = local_mass_curves(x, center=2.0)
    assert at_support[I["atom"]] == pytest.approx(stats.poisson.pmf(2, 3.0), abs=0.03)
    assert at_support[I["a"]] == 0.0
    _, off_support = local_mass_curves(x, center=2.5)
    assert off_support[I["atom"]] == 0.0
    assert np.isinf(off_support[I["a"]])


def test_inverse_gamma_reports_inf(rng):
    x = stats.invgamma(3.0).rvs(size=(4, 1000), random_state=rng)
    _, index = local_mass_curves(x, center=0.0)
    assert np.isinf(index[I["a"]]) and index[I["a"]] > 0


def test_radius_grid_log_spaced():
    g = radius_grid(np.array([1e-3]), np.array([1.0]), 4)
    assert np.allclose(g, [[1e-3, 1e-2, 1e-1, 1.0]])


def test_nan_policy(rng):
    x = rng.standard_normal((4, 500))
    x[0, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        local_mass_curves(x, center=0.0)
    curves, _ = local_mass_curves(x, center=0.0, radii=np.array([1.0]), nan_policy="omit")
    assert curves[0, S["mass"]] == pytest.approx(special.erf(1 / np.sqrt(2)), abs=0.05)


def test_omitted_draws_are_not_counted_as_outside_the_ball(rng):
    # a block of 100 non-finite draws at the start of every chain: the ESS is
    # that of the 1600 finite (independent) draws, not of a series with a long
    # run of zeros (which read as strong autocorrelation: ESS 21 at r = 2)
    x = rng.standard_normal((2, 4, 500))
    x[0, :, :100] = np.nan
    r = np.array([0.5, 1.0, 2.0])
    curves, _ = local_mass_curves(x, center=0.0, radii=r, nan_policy="omit")
    exact = special.erf(r / np.sqrt(2))
    for e, n in ((0, 1600), (1, 2000)):
        ess_total = curves[e, :, S["ess"]] / curves[e, :, S["mass"]]
        # independent draws: the estimated ESS is within about 20% of n
        assert np.all((ess_total > 0.75 * n) & (ess_total <= n + 1e-9))
        width = curves[e, :, S["mass_upper"]] - curves[e, :, S["mass_lower"]]
        binomial = 2 * stats.norm.ppf(0.97) * np.sqrt(exact * (1 - exact) / n)
        assert np.all(width < 1.5 * binomial)
        assert np.all((curves[e, :, S["mass_lower"]] <= exact) & (exact <= curves[e, :, S["mass_upper"]]))


def test_omitted_block_of_autocorrelated_draws_gives_the_ess_of_the_rest(rng):
    # lag-1 autocorrelation 0.9, the first 400 draws of every chain left out: the
    # ESS is that of the remaining 4 x 600 draws (computed on them alone), not
    # 1 / 0.6 times it (an empty batch, given the mean, lowers the variance too)
    r = np.array([0.5, 1.0, 2.0])
    ratios = []
    for _ in range(5):
        e = rng.standard_normal((4, 1000))
        z = np.empty_like(e)
        z[:, 0] = e[:, 0]
        for t in range(1, 1000):
            z[:, t] = 0.9 * z[:, t - 1] + np.sqrt(0.19) * e[:, t]
        omitted = z.copy()
        omitted[:, :400] = np.nan
        c1, _ = local_mass_curves(omitted[None], center=0.0, radii=r, nan_policy="omit")
        c2, _ = local_mass_curves(z[None, :, 400:], center=0.0, radii=r)
        ratios.append((c1[0, :, S["ess"]] / c1[0, :, S["mass"]]) / (c2[0, :, S["ess"]] / c2[0, :, S["mass"]]))
    ratios = np.array(ratios)
    # the two see the same draws in different batches: the ratio scatters by ~10% around 1
    assert 0.85 < ratios.mean() < 1.15
    assert np.all((ratios > 0.6) & (ratios < 1.5))


@pytest.mark.parametrize("omit", [False, True])
def test_threads_and_chunks_do_not_change_the_numbers(rng, omit):
    # chunks of elements run side by side, reuse each thread's buffers chunk after
    # chunk, and the index fits run in slices: none of it may change a number
    x = rng.standard_normal((70, 4, 300))
    x[5, 1, :40] = 0.0  # ties at the centre (an atom) in one element
    kw = {"center": 0.0}
    if omit:
        x[9, 2, 17] = np.nan
        kw["nan_policy"] = "omit"
    one = local_mass_curves(x, threads=1, **kw)
    # tiny chunks: every thread reuses its buffers many times, the last chunk is partial
    for threads, chunk_bytes in ((2, 64 * 2**20), (2, 3 * 1200 * 8), (3, 1200 * 8)):
        other = local_mass_curves(x, threads=threads, chunk_bytes=chunk_bytes, **kw)
        for a, b in zip(one, other):
            if omit:  # (per-batch sizes of the left-out draws: a matrix product, rounding may differ)
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
            else:
                np.testing.assert_array_equal(a, b)
