"""Model-based tier (pymc_localmass.tiers.model) against exact answers.

Draws come from exact numpy samplers wrapped as ArviZ containers of the
installed generation, so every number below has a closed form or a 1-D
quadrature to compare with:

* horseshoe prior beta ~ N(0, lambda), lambda ~ HalfCauchy(1): the marginal
  density is exp(b^2/2) E1(b^2/2) / sqrt(2 pi^3), m(r) ~ r log(1/r), index (1, 1);
  and the posterior of one observation y ~ N(beta, 1) under that prior;
* a conjugate normal model (posterior N(sum y / (n + 1), 1 / (n + 1)));
* a Gamma posterior at 0 (Poisson likelihood, Gamma prior): index = shape;
* the power-log shift of THEORY section 2: Beta prior, Binomial likelihood with
  k successes; the index at p = 0 moves from alpha to alpha + k;
* joint balls: a normalised prior (exact, noncentral chi2) and a Gaussian
  posterior (anchored on the samples tier).
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import integrate, special, stats

import pymc_localmass as plm
from pymc_localmass._compat import MODERN
from pymc_localmass.core.ess import series_ess
from pymc_localmass.adapters.model_density import scale_partners
from pymc_localmass.tiers.model import model_local_mass

from conftest import make_container


def _mass(res, var, center=0):
    return res[var].sel(local_stat="mass").isel(center=center).values


def _stat(res, var, label, center=0):
    return res[var].sel(local_stat=label).isel(center=center).values


def _index(idx, var, label, center=0):
    return float(idx[var].sel(index_stat=label).isel(center=center))


def _hs_density(b):
    x = np.asarray(0.5 * b * b, float)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.where(x < 500, np.exp(np.minimum(x, 500)) * special.exp1(np.minimum(x, 500)),
                          (1 - 1 / x + 2 / x**2 - 6 / x**3) / x)  # exp(x) E1(x), asymptotic for large x
    return scaled / np.sqrt(2 * np.pi**3)


def horseshoe_mass(r, like=None):
    """m(r) of the horseshoe prior marginal (or of the posterior with likelihood ``like``)."""

    def ball(r):
        def integrand(s):  # b = r exp(-s): resolves the log singularity at 0
            b = r * np.exp(-s)
            out = _hs_density(b) * b
            return out * (like(b) + like(-b)) if like is not None else 2 * out

        return integrate.quad(integrand, 0, 80, epsabs=0, epsrel=1e-12, limit=400)[0]

    if like is None:
        return np.array([ball(x) for x in r])
    z = ball(1.0) + 2 * integrate.quad(lambda b: _hs_density(b) * (like(b) + like(-b)) / 2, 1.0, np.inf,
                                       epsabs=0, epsrel=1e-12, limit=400)[0]
    return np.array([ball(x) for x in r]) / z


@pytest.fixture(scope="module")
def horseshoe():
    with pm.Model() as model:
        lam = pm.HalfCauchy("lam", 1.0)
        pm.Normal("beta", 0.0, lam)
    rng = np.random.default_rng(5)
    lam = np.abs(rng.standard_cauchy((4, 200)))
    post = {"lam": lam, "beta": rng.normal(size=lam.shape) * lam}
    return model, make_container(posterior=post)


def test_horseshoe_prior_within_one_percent_and_log_index(horseshoe):
    model, idata = horseshoe
    radii = np.geomspace(1e-6, 1e-1, 16)
    out = plm.add_local_mass(idata, method="model", model=model, var_names=["beta"], centers={"beta": 0.0},
                             radii=radii)
    curves, index = plm.results.read(out)
    assert curves.attrs["tier"] == "model" and curves.attrs["pairs"] == "beta~lam"
    m = _mass(curves, "beta")
    exact = horseshoe_mass(radii)
    np.testing.assert_allclose(m, exact, rtol=0.01)
    np.testing.assert_allclose(m, exact, rtol=1e-4)  # far better than asked
    assert np.all(_stat(curves, "beta", "mass_lower") <= exact * (1 + 1e-6))
    assert np.all(_stat(curves, "beta", "mass_upper") >= exact * (1 - 1e-6))
    assert np.all(_stat(curves, "beta", "resolved") == 1)
    # the log index: b identifiable, a = 1
    idx = plm.mass_index(out)  # the index stored by the tier
    assert 0.8 <= _index(idx, "beta", "b") <= 1.2
    assert _index(idx, "beta", "b_lower") > 0.5
    assert abs(_index(idx, "beta", "a") - 1) < 0.05
    # the intervals hold the exact (a, b) = (1, 1): they carry the bias of the
    # outer radii, not only the quadrature's precision
    for key in ("a", "b"):
        assert _index(idx, "beta", f"{key}_lower") <= 1.0 <= _index(idx, "beta", f"{key}_upper"), key
    # finite-radius slopes drift toward 1 as r shrinks: the signature of b != 0
    s = _stat(curves, "beta", "slope")
    assert np.all(s < 1) and s[0] > s[-1]


def test_horseshoe_default_grid_is_asymptotic(horseshoe):
    model, idata = horseshoe
    res, idx = model_local_mass(idata, model, var_names=["beta"], centers=0.0, n_radii=14)
    r = _stat(res, "beta", "radius")
    scale = _index(idx, "beta", "scale")
    np.testing.assert_allclose([r[0], r[-1]], [1e-8 * scale, 0.1 * scale])
    np.testing.assert_allclose(_mass(res, "beta"), horseshoe_mass(r), rtol=1e-3)
    assert 0.8 <= _index(idx, "beta", "b") <= 1.2
    np.testing.assert_allclose(res["beta"].attrs["index_scale"], scale)


@pytest.mark.parametrize("radii", [None, np.geomspace(1e-8, 1e-1, 20)])
def test_horseshoe_mass_index_refitted_from_the_curve(horseshoe, radii):
    model, idata = horseshoe
    res = plm.local_mass(idata, method="model", model=model, var_names=["beta"], centers=0.0, radii=radii)
    idx = plm.mass_index(res)
    assert 0.8 <= _index(idx, "beta", "b") <= 1.2
    for key in ("a", "b"):
        assert _index(idx, "beta", f"{key}_lower") <= 1.0 <= _index(idx, "beta", f"{key}_upper"), key


def test_horseshoe_posterior_one_observation(horseshoe):
    model0, idata = horseshoe
    y = 1.3
    with pm.Model() as model:
        lam = pm.HalfCauchy("lam", 1.0)
        beta = pm.Normal("beta", 0.0, lam)
        pm.Normal("y", beta, 1.0, observed=y)
    radii = np.geomspace(1e-6, 1e-1, 6)
    # any draws serve: nothing but the pair is random, so each draw's mass is exact
    res = plm.local_mass(idata, method="model", model=model, var_names=["beta"], centers=0.0, radii=radii)
    exact = horseshoe_mass(radii, like=lambda b: stats.norm.pdf(y, b, 1.0))
    np.testing.assert_allclose(_mass(res, "beta"), exact, rtol=1e-3)


def test_unpaired_horseshoe_is_flagged_heavy_tailed(horseshoe):
    model, idata = horseshoe
    # (said in words: "tail index 113.19 > 0.7" alone meant nothing to a user)
    with pytest.warns(RuntimeWarning, match="heavy-tailed \\(a (handful of|few) draws carry .*Hill tail index"):
        res, _ = model_local_mass(idata, model, var_names=["beta"], centers=0.0, radii=[1e-6, 1e-3], pair=None)
    assert np.all(_stat(res, "beta", "resolved") == 0)


def test_scale_partners_found_in_graph():
    with pm.Model() as m:
        tau = pm.HalfCauchy("tau", 1.0)
        lam = pm.HalfCauchy("lam", 1.0, shape=3)
        pm.Normal("beta", 0.0, tau * lam)
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("theta", mu, tau, shape=4)  # size differs from tau's: no pairing
    assert scale_partners(m) == {"beta": "lam"}


def test_conjugate_normal_within_half_a_percent():
    y = np.array([0.9, 1.4, 0.3, 2.1])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu, 1.0, observed=y)
    pm_, ps = y.sum() / (y.size + 1), np.sqrt(1 / (y.size + 1))
    draws = np.random.default_rng(1).normal(pm_, ps, size=(4, 300))
    idata = make_container(posterior={"mu": draws})
    radii = np.geomspace(1e-6, 1.0, 13)
    res = plm.local_mass(idata, method="model", model=model, centers={"mu": {"zero": 0.0, "mean": "mean"}},
                         radii=radii)
    assert list(res.center.values) == ["zero", "mean"]
    for c, center in enumerate((0.0, float(draws.mean()))):
        exact = stats.norm.cdf(center + radii, pm_, ps) - stats.norm.cdf(center - radii, pm_, ps)
        small = radii < 1e-4
        exact[small] = 2 * radii[small] * stats.norm.pdf(center, pm_, ps)
        np.testing.assert_allclose(_mass(res, "mu", c), exact, rtol=0.005)
        np.testing.assert_allclose(_mass(res, "mu", c), exact, rtol=1e-5)
        assert np.all(_stat(res, "mu", "mass_lower", c) <= exact * (1 + 1e-7))
        assert np.all(_stat(res, "mu", "mass_upper", c) >= exact * (1 - 1e-7))
    plm.validate(res)


def test_model_with_initial_values_reads_its_density_and_keeps_them():
    # initval= (routine for ordered cutpoints and mixtures) stopped PyMC's model-to-graph copy
    # (NotImplementedError), and check(model=) dropped its model tier without a word; the initial
    # values do not enter the density, and the model keeps them
    alpha, rate, yobs = 0.7, 1.0, np.array([0, 1, 0])
    with pm.Model() as model:
        lam = pm.Gamma("lam", alpha=alpha, beta=rate, initval=0.5)
        pm.Normal("z", 0.0, 1.0, initval=0.1)
        pm.Poisson("y", lam, observed=yobs)
    given = model.rvs_to_initial_values
    before = dict(given)
    shape, post_rate = alpha + yobs.sum(), rate + yobs.size
    rng = np.random.default_rng(2)
    idata = make_container(posterior={"lam": rng.gamma(shape, 1 / post_rate, size=(4, 250)),
                                      "z": rng.normal(size=(4, 250))})
    radii = np.geomspace(1e-10, 1e-2, 12)
    res = plm.local_mass(idata, method="model", model=model, var_names=["lam"], centers=0.0, radii=radii)
    np.testing.assert_allclose(_mass(res, "lam"), special.gammainc(shape, post_rate * radii), rtol=1e-5)
    assert model.rvs_to_initial_values is given and given == before
    assert model.initial_point()["z"] == pytest.approx(0.1)
    chk = plm.check(idata, model=model, warn=False)
    assert chk.table.loc[("posterior", "lam @ 0"), "model_a"] == pytest.approx(shape, abs=0.05)
    assert chk.notes == []


def test_gamma_posterior_at_zero_index_is_shape():
    alpha, rate, yobs = 0.7, 1.0, np.array([0, 1, 0])
    with pm.Model() as model:
        lam = pm.Gamma("lam", alpha=alpha, beta=rate)
        pm.Poisson("y", lam, observed=yobs)
    shape, post_rate = alpha + yobs.sum(), rate + yobs.size
    draws = np.random.default_rng(2).gamma(shape, 1 / post_rate, size=(4, 250))
    idata = make_container(posterior={"lam": draws})
    radii = np.geomspace(1e-10, 1e-2, 12)
    out = plm.add_local_mass(idata, method="model", model=model, centers=0.0, radii=radii)
    curves, index = plm.results.read(out)
    np.testing.assert_allclose(_mass(curves, "lam"), special.gammainc(shape, post_rate * radii), rtol=1e-5)
    a_lo, a_hi = _index(index, "lam", "a_lower"), _index(index, "lam", "a_upper")
    assert a_lo <= shape <= a_hi and a_hi - a_lo < 0.05
    assert _index(index, "lam", "atom") == 0.0
    # refitted from the curve: the same index, and no effective draws or resolved radius (there are no
    # draws; the curve's "exact" ESS, 1e15, read as n_near = 1e15)
    again = plm.mass_index(curves)
    assert abs(_index(again, "lam", "a") - _index(index, "lam", "a")) < 0.05
    for stat in ("n_near", "r_resolved", "nearest"):
        assert np.isnan(_index(index, "lam", stat)) and np.isnan(_index(again, "lam", stat)), stat


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_log_normal_at_zero_decays_faster_than_any_power(sigma):
    # m(r) = Phi(log(r) / sigma): the slope log(1/r) / sigma^2 rises without levelling off, so a = inf;
    # a slope fit over radii down to 1e-8 extrapolated it to a finite "ok" reading (44 [29, 59] at
    # sigma = 1), on the direct path and refitted from the curve alike
    with pm.Model() as model:
        pm.LogNormal("x", 0.0, sigma)
    idata = make_container(posterior={"x": np.exp(np.random.default_rng(3).normal(0, sigma, (4, 250)))})
    radii = np.geomspace(1e-8, 1e-1, 25)
    out = plm.add_local_mass(idata, method="model", model=model, centers=0.0, radii=radii)
    curves, index = plm.results.read(out)
    # (masses down to 1e-276 at sigma = 0.5, to the quadrature's 0.3%)
    np.testing.assert_allclose(_mass(curves, "x"), stats.norm.cdf(np.log(radii) / sigma), rtol=1e-2)
    for idx in (index, plm.mass_index(curves)):
        a, a_lo, a_hi = (_index(idx, "x", k) for k in ("a", "a_lower", "a_upper"))
        assert np.isposinf(a) and np.isposinf(a_hi)
        # its lower end: the slope at the smallest radius, log(1e8) / sigma^2 (a little less)
        assert 0.8 * np.log(1e8) / sigma**2 < a_lo <= np.log(1e8) / sigma**2 + 1.0
        assert _index(idx, "x", "status") == plm.results.STATUS_WORDS.index("ok")


def test_inverse_gamma_at_zero_from_its_curve_is_no_mass_near_it():
    # the model's mass underflows to 0 below r = 1e-3: no mass near 0 at any power, a = inf exactly,
    # refitted from the curve as on the direct path (it read 344 [327, 344] "ok" from the curve)
    with pm.Model() as model:
        pm.InverseGamma("x", 3.0, 1.0)
    draws = 1.0 / np.random.default_rng(4).gamma(3.0, 1.0, (4, 250))
    out = plm.add_local_mass(make_container(posterior={"x": draws}), method="model", model=model, centers=0.0)
    curves, index = plm.results.read(out)
    for idx in (index, plm.mass_index(curves)):
        assert np.isposinf(_index(idx, "x", "a")) and np.isposinf(_index(idx, "x", "a_lower"))


def test_power_log_shift_binomial():
    a0, b0, n, k = 1.5, 2.0, 10, 3
    with pm.Model() as model:
        p = pm.Beta("p", a0, b0)
        pm.Binomial("y", n=n, p=p, observed=k)
    rng = np.random.default_rng(3)
    idata = make_container(posterior={"p": rng.beta(a0 + k, b0 + n - k, size=(4, 250))},
                           prior={"p": rng.beta(a0, b0, size=(4, 250))})
    radii = np.geomspace(1e-9, 1e-3, 10)
    _, prior_idx = model_local_mass(idata, model, group="prior", centers=0.0, radii=radii)
    curves, post_idx = model_local_mass(idata, model, centers=0.0, radii=radii)
    assert curves.attrs["source_group"] == "posterior" and prior_idx.attrs["source_group"] == "prior"
    a_prior = _index(prior_idx, "p", "a")
    assert abs(a_prior - a0) < 0.02
    assert _index(post_idx, "p", "a_lower") <= a_prior + k <= _index(post_idx, "p", "a_upper")
    np.testing.assert_allclose(_mass(curves, "p"), stats.beta.cdf(radii, a0 + k, b0 + n - k), rtol=1e-4)


def test_prior_and_posterior_in_the_same_results():
    # Gamma(3) prior, Poisson counts 2 and 3: posterior Gamma(8, 3); one call gives
    # both at the same centre and radii, along a leading dim "group"; the prior is
    # drawn from the model itself (the container has no prior group)
    with pm.Model() as model:
        w = pm.Gamma("w", 3.0, 1.0)
        pm.Poisson("k", w, observed=[2, 3])
    rng = np.random.default_rng(0)
    idata = make_container(posterior={"w": rng.gamma(8.0, 1 / 3.0, size=(4, 300))})
    radii = np.geomspace(1e-6, 1e-2, 6)
    out = plm.add_local_mass(idata, method="model", model=model, group=["posterior", "prior"],
                             centers={"w": 0.0}, radii=radii)
    curves, index = plm.results.read(out)
    assert curves["w"].dims == ("group", "center", "radius", "local_stat")
    assert curves.attrs["groups"] == "posterior,prior" and "prior:model" in curves.attrs["group_tiers"]
    m = curves["w"].sel(center="0", local_stat="mass")
    np.testing.assert_allclose(m.sel(group="posterior").values, stats.gamma(8, scale=1 / 3).cdf(radii), rtol=1e-4)
    np.testing.assert_allclose(m.sel(group="prior").values, stats.gamma(3).cdf(radii), rtol=1e-4)
    a = index["w"].sel(center="0", index_stat="a")
    assert abs(float(a.sel(group="prior")) - 3) < 0.02 and abs(float(a.sel(group="posterior")) - 8) < 0.05
    table = plm.summary(out)
    assert {"w[posterior]", "w[prior]"} <= set(table.index.get_level_values("variable"))


def test_prior_group_sampled_from_the_model_when_absent():
    with pm.Model() as model:
        s = pm.HalfNormal("s", 2.0)
        pm.Normal("y", 0.0, s, observed=[0.5, -1.0])
    idata = make_container(posterior={"s": np.abs(np.random.default_rng(4).normal(1, 0.3, size=(2, 50)))})
    res, _ = model_local_mass(idata, model, group="prior", centers=0.0, radii=[1e-4, 1e-2], n_draws=8)
    np.testing.assert_allclose(_mass(res, "s"), 2 * stats.norm.cdf([1e-4, 1e-2], 0, 2) - 1, rtol=1e-6)
    assert res.attrs["source_group"].startswith("prior")


def test_joint_ball_prior_exact_and_posterior_anchored():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 2.0, shape=3)
        pm.Normal("obs", a.sum(), 1.0, observed=[3.0])
    rng = np.random.default_rng(6)
    prec = np.eye(3) / 4 + np.ones((3, 3))
    cov = np.linalg.inv(prec)
    mean = cov @ np.full(3, 3.0)
    idata = make_container(posterior={"a": rng.multivariate_normal(mean, cov, size=(4, 500))},
                           prior={"a": rng.normal(0, 2, size=(4, 100, 3))})
    radii = np.geomspace(1e-3, 1.0, 8)
    pri = plm.local_mass(idata, method="model", model=model, group="prior", joint=True, centers={"a": mean},
                         radii=radii)
    assert pri.attrs["tier"] == "qmc" and pri.attrs["normalisation"].startswith("exact")
    exact = stats.ncx2.cdf((radii / 2) ** 2, 3, mean @ mean / 4)
    np.testing.assert_allclose(_mass(pri, "a"), exact, rtol=1e-3)
    post, idx = model_local_mass(idata, model, joint=True, centers={"a": mean}, radii=radii)
    # exact: ||X - mean||^2 = l1 Z1^2 + l2 (Z2^2 + Z3^2) for the eigenvalues l1 < l2 = l3 = 4 of the
    # posterior covariance; the second part is exponential (mean 2 l2), so one 1-D integral
    lam = np.linalg.eigvalsh(cov)
    assert np.allclose(lam[1:], 4.0)

    def exact_mass(r):
        f = lambda t: np.exp(-t / (2 * lam[2])) / (2 * lam[2]) * (2 * stats.norm.cdf(np.sqrt((r * r - t) / lam[0])) - 1)  # noqa: E731,E501
        return integrate.quad(f, 0, r * r, epsabs=0, epsrel=1e-12, limit=200)[0]

    ref = np.log([exact_mass(r) for r in radii])
    log_m = np.log(_mass(post, "a"))
    z = stats.norm.ppf(0.5 + post.attrs["ci_prob"] / 2)
    half = np.log(_stat(post, "a", "mass_upper")) - log_m
    assert np.all(np.abs(log_m - ref) <= half)  # within the stated interval (which holds the anchor's error)
    assert np.all(np.abs(log_m - ref) < 0.02)
    assert post.attrs["anchor_radius"] > 0 and 0 < post.attrs["anchor_log_se"] < 0.1
    assert np.all(half >= z * post.attrs["anchor_log_se"] * 0.999)
    assert abs(_index(idx, "a", "a") - 3) < 0.1


def test_joint_ball_center_follows_var_names_not_model_order():
    # the model declares s2 before mu; the ball is asked for in the order (mu, s2).
    # The quadrature used to read the centre in the model's order: a ball around
    # the swapped point, up to 80x off with tight intervals
    y = np.array([1.1, 0.4, 2.3, 1.7, 0.9, 1.5])
    a0, b0 = 3.0, 2.0
    with pm.Model() as model:
        s2 = pm.InverseGamma("s2", a0, b0)
        pm.Normal("mu", 0.0, sigma=pm.math.sqrt(s2))
    with pm.Model() as post_model:
        s2 = pm.InverseGamma("s2", a0, b0)
        mu = pm.Normal("mu", 0.0, sigma=pm.math.sqrt(s2))
        pm.Normal("y", mu, pm.math.sqrt(s2), observed=y)
    n = y.size
    kn, mn, an = 1 + n, y.sum() / (1 + n), a0 + n / 2
    bn = b0 + 0.5 * ((y - y.mean()) ** 2).sum() + n * y.mean() ** 2 / (2 * kn)

    def exact(r, c_mu, c_s2, a, b, k, m):  # ball around (mu, s2) = (c_mu, c_s2)
        def f(v):
            w = np.sqrt(max(r * r - (v - c_s2) ** 2, 0.0))
            sd = np.sqrt(v / k)
            return stats.invgamma(a, scale=b).pdf(v) * (stats.norm.cdf((c_mu + w - m) / sd)
                                                       - stats.norm.cdf((c_mu - w - m) / sd))
        return integrate.quad(f, max(c_s2 - r, 0.0), c_s2 + r, epsrel=1e-10, limit=200)[0]

    rng = np.random.default_rng(11)
    s2_prior = stats.invgamma(a0, scale=b0).rvs(size=(4, 500), random_state=rng)
    s2_post = stats.invgamma(an, scale=bn).rvs(size=(4, 1000), random_state=rng)
    idata = make_container(
        prior={"mu": rng.normal(0.0, np.sqrt(s2_prior)), "s2": s2_prior},
        posterior={"mu": rng.normal(mn, np.sqrt(s2_post / kn)), "s2": s2_post})
    radii = np.array([0.05, 0.15, 0.3])
    pri = plm.local_mass(idata, model=model, method="model", group="prior", joint=True,
                         var_names=["mu", "s2"], centers={"mu": 0.5, "s2": 0.8}, radii=radii)
    ref = [exact(r, 0.5, 0.8, a0, b0, 1.0, 0.0) for r in radii]
    np.testing.assert_allclose(_mass(pri, "mu+s2"), ref, rtol=0.02)
    post = plm.local_mass(idata, model=post_model, method="model", joint=True, var_names=["mu", "s2"],
                          centers={"mu": mn, "s2": 0.3}, radii=radii)
    ref = np.array([exact(r, mn, 0.3, an, bn, kn, mn) for r in radii])
    lo, hi = _stat(post, "mu+s2", "mass_lower"), _stat(post, "mu+s2", "mass_upper")
    assert np.all((lo <= ref) & (ref <= hi))
    np.testing.assert_allclose(_mass(post, "mu+s2"), ref, rtol=0.1)


def test_unfittable_index_is_announced_not_silently_nan():
    # s2 at 0 under an inverse-gamma posterior: the default grid's masses
    # underflow or are flagged unresolved below its top radius, so no slope can
    # be fitted; the NaN index comes with a warning that says why and what to pass
    y = np.array([1.1, 0.4, 2.3, 1.7, 0.9, 1.5])
    with pm.Model() as model:
        s2 = pm.InverseGamma("s2", 3.0, 2.0)
        mu = pm.Normal("mu", 0.0, sigma=pm.math.sqrt(s2))
        pm.Normal("y", mu, pm.math.sqrt(s2), observed=y)
    n = y.size
    kn, mn, an = 1 + n, y.sum() / (1 + n), 3.0 + n / 2
    bn = 2.0 + 0.5 * ((y - y.mean()) ** 2).sum() + n * y.mean() ** 2 / (2 * kn)
    rng = np.random.default_rng(4)
    s2_d = stats.invgamma(an, scale=bn).rvs(size=(4, 500), random_state=rng)
    idata = make_container(posterior={"s2": s2_d, "mu": rng.normal(mn, np.sqrt(s2_d / kn))})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, idx = model_local_mass(idata, model, var_names=["s2"], centers={"s2": 0.0})
    said = [str(w.message) for w in caught if "no Mass Index" in str(w.message)]
    assert np.isnan(_index(idx, "s2", "a"))
    assert len(said) == 1 and "s2 at centre '0'" in said[0] and "pass larger radii" in said[0]


def test_series_ess_matches_independent_draws():
    rng = np.random.default_rng(7)
    assert 700 < float(series_ess(rng.normal(size=(4, 200)))) <= 800
    assert float(series_ess(np.ones((4, 50)))) == 200


def test_results_round_trip_netcdf(tmp_path, horseshoe):
    model, idata = horseshoe
    out = plm.add_local_mass(idata, method="model", model=model, var_names=["beta"], centers={"beta": 0.0},
                             radii=[1e-4, 1e-2])
    path = tmp_path / "hs.nc"
    out.to_netcdf(path)
    curves = plm.results.read(out)[0]
    if MODERN:
        back = xr.open_datatree(path)["local_mass"].to_dataset()
    else:
        back = xr.open_dataset(path, group="local_mass")
    np.testing.assert_allclose(back["beta"].values, curves["beta"].values)
    assert back.attrs["tier"] == "model"


# ----------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    with pm.Model() as model:
        s = pm.HalfNormal("s", 1.0)
        pm.Poisson("k", 3.0)
        mu = pm.Normal("mu", 0.0, s)
        pm.Normal("y", mu, 1.0, observed=[0.2, 0.4])
    rng = np.random.default_rng(8)
    post = {"s": np.abs(rng.normal(size=(2, 30))) + 0.1, "k": rng.poisson(3.0, size=(2, 30)).astype(float),
            "mu": rng.normal(size=(2, 30))}
    return model, post


def test_bad_model_not_matching_the_posterior(small):
    model, post = small
    with pytest.raises(ValueError, match=r"does not match group 'posterior'.*\['s'\]"):
        plm.local_mass(make_container(posterior={k: v for k, v in post.items() if k != "s"}), method="model",
                       model=model, var_names=["mu"])
    wrong = dict(post, mu=np.zeros((2, 30, 3)))
    with pytest.raises(ValueError, match="variable 'mu' has shape"):
        plm.local_mass(make_container(posterior=wrong), method="model", model=model, var_names=["mu"])
    with pytest.raises(plm.errors.InvalidInputError, match="'extra' is not a free variable"):
        plm.local_mass(make_container(posterior=dict(post, extra=post["mu"])), method="model", model=model,
                       var_names=["extra"])
    with pytest.raises(ValueError, match="needs model="):
        plm.local_mass(make_container(posterior=post), method="model", var_names=["mu"])
    # draws the model gives no density (a negative HalfNormal scale): not this model's draws
    outside = dict(post, s=post["s"] - 0.5)
    for joint in (False, True):
        with pytest.raises(ValueError, match=r"does not match group 'posterior': \d+ of 60 draw\(s\) lie outside"):
            plm.local_mass(make_container(posterior=outside), method="model", model=model, var_names=["mu"],
                           joint=joint)


def test_bad_discrete_variable(small):
    model, post = small
    with pytest.raises(plm.errors.InvalidInputError, match="variable 'k' is discrete"):
        plm.local_mass(make_container(posterior=post), method="model", model=model, var_names=["k"])


def test_bad_center_outside_support(small):
    model, post = small
    with pytest.raises(ValueError, match=r"centre -1 of s lies outside its support \[0, inf\]"):
        plm.local_mass(make_container(posterior=post), method="model", model=model, var_names=["s"],
                       centers=-1.0, radii=[0.1])


def test_bad_center_outside_support_without_a_transform():
    # no transform gives bounds, so the density itself says the centre is outside
    with pm.Model() as model:
        pm.HalfNormal("s", 1.0, default_transform=None)
    post = {"s": np.abs(np.random.default_rng(2).normal(size=(2, 40))) + 0.05}
    with pytest.raises(ValueError, match=r"centre -1 of s lies outside its support: the model's density is zero"):
        plm.local_mass(make_container(posterior=post), method="model", model=model, centers=-1.0, radii=[0.1])
    # the boundary itself is fine (finite density at 0)
    res = plm.local_mass(make_container(posterior=post), method="model", model=model, centers=0.0,
                         radii=[1e-3])
    np.testing.assert_allclose(_mass(res, "s"), 2 * stats.norm.cdf(1e-3) - 1, rtol=1e-6)


def test_bad_radii_too_small_for_double_precision(small):
    model, post = small
    with pytest.raises(ValueError, match="variable 'mu'.*too small for double precision"):
        plm.local_mass(make_container(posterior=post), method="model", model=model, var_names=["mu"],
                       centers=1e6, radii=[1e-12, 1e-3])
    with pytest.raises(ValueError, match="radii for .mu. must be > 0"):
        plm.local_mass(make_container(posterior=post), method="model", model=model, var_names=["mu"],
                       radii=[0.0, 1e-3])


@pytest.fixture(scope="module")
def normal_gamma():
    """Conjugate normal-gamma model: the posterior marginal of mu is a Student t."""
    y = np.array([0.3, 1.1, -0.4, 0.8, 1.6, 0.2, 0.9])
    a0, b0, m0, k0 = 2.0, 1.0, 0.0, 1.0
    kn = k0 + y.size
    mn = (k0 * m0 + y.sum()) / kn
    an = a0 + y.size / 2
    bn = b0 + 0.5 * ((y - y.mean()) ** 2).sum() + k0 * y.size * (y.mean() - m0) ** 2 / (2 * kn)
    with pm.Model() as model:
        tau = pm.Gamma("tau", alpha=a0, beta=b0)
        mu = pm.Normal("mu", m0, sigma=1 / pm.math.sqrt(k0 * tau))
        pm.Normal("y", mu, sigma=1 / pm.math.sqrt(tau), observed=y)
    marginal = stats.t(2 * an, loc=mn, scale=np.sqrt(bn / (an * kn)))

    def draws(seed):  # exact posterior draws: tau ~ Gamma(an, bn), mu | tau ~ N(mn, 1 / (kn tau))
        rng = np.random.default_rng(seed)
        tau_d = rng.gamma(an, 1 / bn, size=(4, 100))
        return make_container(posterior={"tau": tau_d, "mu": rng.normal(mn, 1 / np.sqrt(kn * tau_d))})

    return model, marginal, mn, draws


def test_rao_blackwell_average_over_draws_is_calibrated(normal_gamma):
    # unpaired, every draw of tau gives a different conditional (normal) mass of mu;
    # their average estimates the Student-t marginal's mass with an interval from the
    # draws' spread and ESS. 6 seeds x 2 centres x 3 radii at ci_prob 0.89: coverage
    # below 0.6 has probability < 0.01 for calibrated intervals (the radii of one run
    # are nearly perfectly correlated, so the effective count is 12)
    model, marginal, mn, draws = normal_gamma
    radii = np.array([1e-6, 1e-3, 0.1])
    covered, relerr = [], []
    for seed in range(6):
        for c in (0.0, mn):
            res, _ = model_local_mass(draws(seed), model, var_names=["mu"], centers=c, radii=radii, pair=None,
                                      ci_prob=0.89)
            exact = marginal.cdf(c + radii) - marginal.cdf(c - radii)
            lo, hi = _stat(res, "mu", "mass_lower"), _stat(res, "mu", "mass_upper")
            covered.append((lo <= exact) & (exact <= hi))
            relerr.append(_mass(res, "mu") / exact - 1)
    # (a smoke check; coverage per band and width against the exact sd over 160
    # replicates: tests/test_calibration.py::test_model_tier_rao_blackwell_coverage_and_width)
    assert np.mean(covered) >= 0.6
    assert np.max(np.abs(relerr)) < 0.15 and np.median(np.abs(relerr)) < 0.05
    # integrating tau with mu (the automatic pair) removes the draw-to-draw noise
    res, _ = model_local_mass(draws(0), model, var_names=["mu"], centers=0.0, radii=radii)
    assert res.attrs["pairs"] == "mu~tau"
    exact = marginal.cdf(radii) - marginal.cdf(-radii)
    np.testing.assert_allclose(_mass(res, "mu"), exact, rtol=2e-3)
    assert np.all((_stat(res, "mu", "mass_lower") <= exact) & (exact <= _stat(res, "mu", "mass_upper")))


def test_rao_blackwell_heavy_tailed_conditionals_are_unresolved(normal_gamma):
    # far in the tail (mu = 2.5) a few small-tau draws carry the mean: the per-draw
    # masses are heavy-tailed, so the tier warns and flags the radii unresolved
    model, _, _, draws = normal_gamma
    with pytest.warns(RuntimeWarning, match="heavy-tailed"):
        res, _ = model_local_mass(draws(0), model, var_names=["mu"], centers=2.5, radii=[1e-3, 0.1], pair=None)
    assert np.all(_stat(res, "mu", "resolved") == 0)


def test_funnel_scale_at_zero_is_unresolved_not_zero():
    # tau ~ HalfCauchy(5), theta_j ~ N(0, tau): exact draws of the joint (no data), so
    # P(tau <= r) = (2/pi) arctan(r/5). Given the thetas, tau's conditional mass near 0
    # vanishes like exp(-S/(2 r^2)): almost every draw says 0, and the mass is carried
    # by the rare draws with all thetas near 0 (the funnel's neck). The estimator cannot
    # see them: those radii must be unresolved, with an interval that does not exclude
    # the truth, and never an exact resolved 0.
    with pm.Model() as model:
        tau = pm.HalfCauchy("tau", 5.0)
        pm.Normal("theta", 0.0, tau, shape=8)
    rng = np.random.default_rng(5)
    t = np.abs(5.0 * rng.standard_cauchy(size=(4, 250)))
    th = rng.normal(size=(4, 250, 8)) * t[..., None]
    idata = make_container(posterior={"tau": t, "theta": th})
    radii = np.array([1e-3, 1e-2, 0.1, 1.0, 5.0])
    with pytest.warns(RuntimeWarning, match=r"tau at centre '0': the per-draw conditional masses are .* flagged "
                                            "unresolved"):
        res = plm.local_mass(idata, model=model, method="model", var_names="tau", centers=0.0, radii=radii)
    exact = 2 / np.pi * np.arctan(radii / 5.0)
    m, lo, hi = (_stat(res, "tau", k) for k in ("mass", "mass_lower", "mass_upper"))
    ok = _stat(res, "tau", "resolved") > 0.5
    assert not ok[0] and not ok[1]  # the neck: nothing to see from these draws
    assert np.all(lo <= exact) and np.all(exact <= hi)
    assert np.all(hi[~ok] > 0)
    idx = plm.mass_index(res)["tau"].sel(center="0")
    assert not np.isposinf(float(idx.sel(index_stat="a")))  # zeros it could not see are not "no mass"


def test_model_tier_row_without_resolved_radii_allows_every_value():
    # (outside testing: tau of the centred eight schools at 0, every radius unresolved) the
    # row is "unresolved" with a in [0, inf] and b in [-inf, inf], as docs/schema.md says
    from pymc_localmass.core.curves import INDEX_STATS, STATUS_WORDS
    from pymc_localmass.results import status_note
    from pymc_localmass.tiers.model import _index_stats

    r = np.geomspace(1e-3, 0.3, 12)
    st = {"mass": np.zeros(12), "mass_lower": np.zeros(12), "mass_upper": np.full(12, 0.05),
          "resolved": np.zeros(12), "slope": np.full(12, np.nan)}
    row = dict(zip(INDEX_STATS, _index_stats(r, st, 1.0, 0.94, 0.0)))
    assert STATUS_WORDS[int(row["status"])] == "unresolved"
    assert np.isnan(row["a"]) and row["a_lower"] == 0.0 and np.isposinf(row["a_upper"])
    assert np.isneginf(row["b_lower"]) and np.isposinf(row["b_upper"])
    assert "method='model'" not in status_note(row, "tau", "0")


def test_radii_where_the_mass_saturates_give_no_index(horseshoe):
    # outside check: a model-tier curve over radii 0.3-1.5 of N(0.2, 0.14) (masses 0.7-1)
    # read a = 12.5 [0, 356] "ok", and a Laplace regression's an atom: the index is read from
    # balls holding at most half the mass (LOCAL_MASS); fewer than three, and no slope
    from pymc_localmass.core.index import fit_index_curve
    from pymc_localmass.results import status_note

    r = np.geomspace(0.3, 1.5, 12)
    m = stats.norm.cdf((r - 0.2) / 0.14) - stats.norm.cdf((-r - 0.2) / 0.14)
    fit = fit_index_curve(r, m, m * 0.999, np.minimum(m * 1.001, 1), np.ones(12, bool), 0.14)
    assert np.isnan(fit["a"])
    model, idata = horseshoe
    radii = np.geomspace(1e3, 1e6, 8)  # beta's balls hold nearly all its (half-Cauchy scale) mass
    with pytest.warns(RuntimeWarning, match="1 of the 8 resolved radii are small balls"):
        out = plm.add_local_mass(idata, method="model", model=model, var_names=["beta"], centers={"beta": 0.0},
                                 radii=radii)
    row = plm.summary(out).loc[("beta", "0")]
    assert row["status"] == "unresolved" and np.isnan(row["a"])
    assert row["a_lower"] == 0 and np.isposinf(row["a_upper"])  # every value: not NaN
    assert "fewer than three of its radii are resolved and hold at most half the mass" in row["note"]
    assert "no slope" not in status_note({"status": 0.0}, "x", "0")


def test_check_says_why_the_model_tier_gave_no_reading(monkeypatch):
    # s of 100 N(0, s) observations at 0: no draw near it, and the posterior's mass there underflows
    # on every radius the model tier tries: a = inf [inf, inf], no mass near 0 at any power, which
    # stands in for the draws' unresolved row (check() took it for no reading, and said so)
    import sys

    rng = np.random.default_rng(0)
    with pm.Model() as m:
        s = pm.HalfNormal("s", 2)
        pm.Normal("y", 0, s, observed=rng.normal(0, 1, 100))
    draws = {"s": np.abs(1 + 0.07 * rng.standard_normal((4, 500)))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(draws, model=m, centers={"s": 0.0}, warn=False)
    assert res.findings == [] and np.isposinf(res.table.loc[("posterior", "s @ 0"), "a"])
    # where the tier's masses give no index at all, the finding's body says so, and why (it said
    # "could not resolve it" only in the note's tail, which the finding cut off at the advice)
    tier = sys.modules["pymc_localmass.tiers.model"]
    real = tier.model_local_mass

    def no_index(*args, **kwargs):  # (the tier's reading with its a erased: NaN)
        curves, index = real(*args, **kwargs)
        return curves, index.copy(data={n: index[n].where(index[n]["index_stat"] != "a").values
                                        for n in index.data_vars})

    monkeypatch.setattr(tier, "model_local_mass", no_index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(draws, model=m, centers={"s": 0.0}, warn=False)
    (f,) = [f for f in res.findings if f.variable == "s"]
    assert f.kind == "unresolved"
    assert "the model tier could not resolve it either" in f.message
    assert "give no index (unresolved)" in f.message


def test_check_builds_the_models_density_once(monkeypatch):
    # check(model=) asks the model tier about each unresolved row; it rebuilt the model's density
    # (a compiled log density, about half a second) for each, twice per row: a 200-element
    # Deterministic took 154 s where the free variables alone took 5
    from pymc_localmass.adapters import model_density

    built = []

    class Counting(model_density.ModelLogDensity):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(model_density, "ModelLogDensity", Counting)
    rng = np.random.default_rng(0)
    with pm.Model() as m:
        b = pm.Normal("b", 3.0, 0.3)
        pm.Deterministic("mu", pm.math.exp(b + 0.1 * np.arange(6)))
    bd = rng.normal(3.0, 0.3, (4, 500))
    draws = {"b": bd, "mu": np.exp(bd[..., None] + 0.1 * np.arange(6))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(draws, model=m, centers={"b": 0.0, "mu": 0.0}, warn=False)
    # (b's 0 the model tier resolves, 10 sd out; mu's six elements it cannot: a Deterministic)
    asked = [f for f in res.findings if f.kind == "unresolved"]
    assert sorted(f.variable for f in asked) == [f"mu[{i}]" for i in range(6)]
    assert all("the model tier does not integrate Deterministics" in f.advice for f in asked)
    assert len(built) == 1
    # outside check() every call builds its own (a model changed in between is read afresh)
    plm.local_mass(draws, method="model", model=m, var_names="b", centers=0.0, radii=[1e-3, 1e-2])
    assert len(built) == 2


def test_check_says_the_model_tier_cannot_take_a_simplex_element_and_does_not_advise_it():
    # a Dirichlet element's unresolved 0: the model tier refuses simplex elements (they cannot move
    # alone); the finding blamed "a funnel's neck, or a discrete variable" and advised
    # local_mass(..., method='model'), which raises the same error
    rng = np.random.default_rng(0)
    with pm.Model() as m:
        pm.Dirichlet("w", np.array([30.0, 30.0, 1.0]))
    draws = {"w": rng.dirichlet([30.0, 30.0, 1.0], size=(4, 500))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(draws, model=m, centers={"w": 0.0}, warn=False)
    (f,) = [f for f in res.findings if f.variable == "w[0]" and f.kind == "unresolved"]
    assert "the model tier cannot read this element: it raised InvalidInputError" in f.message
    assert "funnel" not in f.message and "method='model'" not in f.advice
    # the refusal quoted whole (cut at 200 characters it ended "...: use meth")
    assert f.message.endswith("use method='samples' (its draws give elementwise and joint balls)")


def test_simplex_refusal_does_not_advise_what_it_refuses():
    # the model tier refused a simplex element advising "use joint=True over the variable", which
    # raised the same error (outside test: a Dirichlet-multinomial's weights)
    rng = np.random.default_rng(0)
    with pm.Model() as m:
        pm.Dirichlet("w", np.ones(3))
    draws = {"w": rng.dirichlet(np.ones(3), size=(4, 300))}
    for joint in (False, True):
        with pytest.raises(plm.errors.InvalidInputError, match="SimplexTransform") as err:
            plm.local_mass(draws, model=m, method="model", var_names=["w"], joint=joint)
        assert "use method='samples'" in str(err.value) and "use joint=True" not in str(err.value)
    # what it advises works
    assert plm.local_mass(draws, var_names=["w"], joint=True).sizes["radius"] > 0
    # an ordered vector's density is full-dimensional: its elements bound each other
    with pm.Model() as m2:
        pm.Normal("mu", 0.0, 5.0, shape=2, transform=pm.distributions.transforms.ordered,
                  initval=np.array([-1.0, 1.0]))
    ordered = {"mu": np.sort(rng.normal(size=(4, 300, 2)), axis=-1)}
    with pytest.raises(plm.errors.InvalidInputError, match=r"\(its elements bound each other\)"):
        plm.local_mass(ordered, model=m2, method="model", var_names=["mu"])


def test_check_takes_no_reading_from_heavy_tailed_per_draw_masses():
    # a switch-point model's late rate at 0: given the switch point sp its index is 1 + sum(y[sp + 1:]),
    # 33 to 50 over the sampled sp; the model tier's per-draw masses are heavy-tailed there (a few
    # draws carry the mean), and check() took the slope above those radii, 22.5 [18, 27]
    r = np.random.default_rng(5)
    y = np.concatenate([r.poisson(3, 40), r.poisson(1, 60)])
    with pm.Model() as model:
        sp = pm.DiscreteUniform("sp", 0, 99)
        e, late = pm.Exponential("early", 1.0), pm.Exponential("late", 1.0)
        pm.Poisson("y", pm.math.switch(sp >= np.arange(100), e, late), observed=y)
    # (Metropolis draws of this model, pm.sample(500, tune=500, chains=4, random_seed=1), as saved: the
    # reading needs the chains' own sticking to few switch points, which independent draws lack)
    saved = np.load(Path(__file__).parent / "data" / "switch_point_posterior.npz")
    draws = {k: saved[k] for k in ("sp", "early", "late")}
    # the smallest index given a sampled switch point: every reading of the mixture is at least this
    lowest = 1 + y[draws["sp"].max() + 1:].sum()
    assert lowest == 33
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(make_container(posterior=draws), model=model, warn=False)
    row = res.table.loc[("posterior", "late @ 0")]
    assert row["status"] == "unresolved" and np.isnan(row["a"]) and row["a_lower"] == 0 and np.isposinf(row["a_upper"])
    # no model reading is taken (it was 22.5 [18, 27], below lowest), none stands in for the row
    assert np.isnan(row.get("model_a", np.nan)) and row.get("a_source") != "model"


def test_check_names_a_far_centre_not_a_funnel_when_the_model_tier_fails_there():
    # outside check: a linear regression's slope at 0, 6 sd beyond its draws; the model tier's
    # per-draw masses there are heavy-tailed (the few draws nearest 0 carry them), and the finding
    # blamed "a funnel's neck, or a discrete variable"
    rng = np.random.default_rng(9)
    x = rng.normal(size=50)
    with pm.Model() as model:
        a, b = pm.Normal("a", 0, 2), pm.Normal("b", 0, 2)
        pm.Normal("y", a + b * x, pm.HalfNormal("s", 1), observed=1 + 0.5 * x + rng.normal(0, 0.5, 50))
        idata = pm.sample(500, tune=500, chains=2, cores=1, random_seed=2, progressbar=False,
                          compute_convergence_checks=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(idata, model=model, centers={"b": 0.0}, warn=False)
    (f,) = [f for f in res.findings if f.variable == "b" and f.center == "0"]
    assert f.kind == "unresolved" and "funnel" not in f.message
    assert re.search(r"the model tier could not resolve it either \(the centre lies \d+ sd beyond the nearest "
                     r"draw", f.message)


def test_check_does_not_settle_a_centred_hierarchy_scale_with_the_conditional_a_inf():
    # outside check: 40 groups that differ, the centred model; the true marginal density of tau at 0
    # is positive (a = 1: theta and mu integrated out), but the draws never bring the effects
    # together and, given any of their draws, tau's mass at 0 decays like exp(-SS / 2 r^2): the model
    # tier read a = inf [inf, inf] and check() took it in place of the unresolved row, no finding
    J = 40
    y = 2.5 * np.linspace(-1, 1, J)
    with pm.Model() as model:
        mu, tau = pm.Normal("mu", 0, 5), pm.HalfNormal("tau", 5)
        theta = pm.Normal("theta", mu, tau, shape=J)
        pm.Normal("y", theta, 1.0, observed=y)
        idata = pm.sample(500, tune=500, chains=2, cores=1, random_seed=1, progressbar=False, target_accept=0.95,
                          compute_convergence_checks=False)
    assert float(idata.posterior["tau"].min()) > 0.3  # (the draws stay away from 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(idata, model=model, centers={"tau": 0.0}, var_names=["tau"], warn=False)
    (f,) = [f for f in res.findings if f.variable == "tau" and f.center == "0"]
    assert f.kind == "unresolved" and "the model's own density gives a = inf" in f.message
    assert "given the draws of the variables it parameterises" in f.message and "non-centred" in f.advice
    # a variable that parameterises no other free variable keeps the model's reading: the noise sd
    # of a regression at 0 (no slope and intercept make the residuals vanish: a = inf indeed)
    from pymc_localmass.check import _parents_of_free

    assert _parents_of_free(model) == {"mu", "tau"}
