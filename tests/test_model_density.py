"""Batched constrained-space log density of PyMC models (pymc_localmass.adapters.model_density),
and the Rao-Blackwellised quadrature driven by it, against exact answers."""

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, special, stats

from pymc.model.transform.conditioning import remove_value_transforms
from pymc_localmass.core.quadrature import conditional_ball_mass, qmc_ball_log_integral
from pymc_localmass.adapters.model_density import ModelLogDensity, model_log_density, model_variables


def _normal_interval_mass(c, r, m, s):
    """P(|X - c| <= r) for X ~ N(m, s^2), stable for tiny r (Taylor) and large r."""
    c, r, m, s = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (c, r, m, s)))
    z = (c - m) / s
    small = 2 * r / s * stats.norm.pdf(z) * (1 + (r / s) ** 2 * (z**2 - 1) / 6)
    lo_z, hi_z = (c - r - m) / s, (c + r - m) / s
    big = np.where(z > 0, stats.norm.sf(lo_z) - stats.norm.sf(hi_z), stats.norm.cdf(hi_z) - stats.norm.cdf(lo_z))
    return np.where(r / s < 1e-4, small, big)


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


@pytest.fixture(scope="module")
def mixed_model():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 3))
    y = rng.integers(0, 2, size=40)
    with pm.Model(coords={"k": range(3)}) as model:
        lam = pm.HalfCauchy("lam", 1.0, dims="k")
        beta = pm.Normal("beta", 0.0, lam, dims="k")
        pm.Uniform("u", 0.0, lam[0])
        p = pm.Beta("p", 2.0, 3.0)
        n = pm.Poisson("n", 3.0)
        pm.Bernoulli("y", logit_p=X @ beta, observed=y)
        pm.Potential("pot", -0.5 * p**2 + 0.1 * n)
    return model


@pytest.fixture(scope="module")
def mixed_density(mixed_model):
    return ModelLogDensity(mixed_model), ModelLogDensity(mixed_model, prior=True)


def _mixed_points(rng, n=25):
    vals = {
        "lam": np.abs(rng.standard_cauchy((n, 3))),
        "beta": rng.normal(size=(n, 3)),
        "p": rng.uniform(size=n),
        "n": rng.poisson(3.0, size=n).astype(float),
    }
    vals["u"] = rng.uniform(size=n) * vals["lam"][:, 0]
    # outside the support: negative scale, u above its bound, p > 1
    vals["lam"][0, 1] = -0.5
    vals["u"][1] = vals["lam"][1, 0] + 0.1
    vals["p"][2] = 1.5
    return vals


def test_columns_and_variable_info(mixed_model, mixed_density):
    dens, _ = mixed_density
    assert dens.names == ("lam", "beta", "u", "p", "n")
    assert dens.ndim == 9
    assert dens.columns[:4] == [("lam", (0,)), ("lam", (1,)), ("lam", (2,)), ("beta", (0,))]
    assert dens.column("beta", 2) == 5 and dens.column("u") == 6 and dens.column("n", ()) == 8
    info = model_variables(mixed_model)
    assert info["lam"].transform == "LogTransform" and not info["lam"].discrete
    assert info["n"].discrete and info["u"].bounds_depend_on_values
    assert not info["beta"].bounds_depend_on_values and info["beta"].shape == (3,)
    with pytest.raises(KeyError, match="'sigma' is not a free variable"):
        dens.column("sigma")
    with pytest.raises(IndexError, match="not valid for variable 'beta'"):
        dens.column("beta", 3)
    with pytest.raises(ValueError, match=r"points must have shape \(\.\.\., 9\)"):
        dens.logp(np.zeros((2, 4)))


def test_batched_logp_matches_pymc(mixed_model, mixed_density, rng):
    dens, prior = mixed_density
    vals = _mixed_points(rng)
    pts = dens.flatten(vals)
    got = dens.logp(pts)
    plain = remove_value_transforms(mixed_model)
    ref_fn = plain.compile_logp(jacobian=False)
    ref = np.array([float(ref_fn({k: v[i] for k, v in vals.items()})) for i in range(pts.shape[0])])
    assert np.all(np.isneginf(got[:3])) and np.all(np.isneginf(ref[:3]))
    np.testing.assert_allclose(got[3:], ref[3:], rtol=1e-10)
    # batch shape is kept and the points are reshaped freely
    np.testing.assert_allclose(dens.logp(pts.reshape(5, 5, -1)), got.reshape(5, 5))
    # prior: the free variables' terms only, checked term by term with pm.logp
    i = 4
    terms = [
        pm.logp(pm.HalfCauchy.dist(1.0, shape=3), vals["lam"][i]).sum(),
        pm.logp(pm.Normal.dist(0.0, vals["lam"][i]), vals["beta"][i]).sum(),
        pm.logp(pm.Uniform.dist(0.0, vals["lam"][i, 0]), vals["u"][i]),
        pm.logp(pm.Beta.dist(2.0, 3.0), vals["p"][i]),
        pm.logp(pm.Poisson.dist(3.0), int(vals["n"][i])),
    ]
    np.testing.assert_allclose(prior.logp(pts[i]), float(sum(terms).eval()), rtol=1e-10)
    assert np.isneginf(prior.logp(pts[0]))


def test_random_walk_logp_is_vectorised_without_python_loops(rng):
    """A random walk joins its init to its innovations and splits them again. PyTensor 2.x
    vectorises Join / Split as Blockwise ops that loop over the points in Python (15x slower);
    the compiled density holds none, and its values equal PyMC's point by point."""
    from pytensor.tensor.blockwise import Blockwise

    with pm.Model() as model:
        s = pm.HalfNormal("s", 1.0)
        pm.GaussianRandomWalk("x", sigma=s, init_dist=pm.Normal.dist(0.0, 1.0), steps=9)
        pm.Normal("y", model["x"], 1.0, observed=rng.normal(size=10))
    dens = ModelLogDensity(model)
    loops = [n.op for n in dens._logp_fn.maker.fgraph.apply_nodes if isinstance(n.op, Blockwise)]
    assert loops == []
    vals = {"s": np.abs(rng.normal(size=12)) + 0.1, "x": rng.normal(size=(12, 10))}
    vals["s"][0] = -1.0  # outside the support: -inf at that point only
    got = dens.logp(dens.flatten(vals))
    ref_fn = remove_value_transforms(model).compile_logp(jacobian=False)
    ref = np.array([float(ref_fn({"s": vals["s"][i], "x": vals["x"][i]})) for i in range(12)])
    assert np.isneginf(got[0]) and np.isneginf(ref[0])
    np.testing.assert_allclose(got[1:], ref[1:], rtol=1e-12)


def test_batched_linalg_matches_lapack_matrix_by_matrix(rng):
    from scipy import linalg

    from pymc_localmass.adapters._batched_linalg import batched_cholesky, batched_solve_triangular

    m = 4
    g = rng.normal(size=(6, 3, m, m))
    a = g @ np.swapaxes(g, -1, -2) + 0.1 * np.eye(m)
    a[2, 1] = -np.eye(m)  # not positive definite: NaN, as the core op gives
    for lower in (True, False):
        got = batched_cholesky(a, lower=lower)
        for idx in np.ndindex(6, 3):
            if idx == (2, 1):
                assert np.isnan(got[idx]).all()
            else:
                np.testing.assert_allclose(got[idx], linalg.cholesky(a[idx], lower=lower), rtol=1e-12, atol=1e-12)
    L = np.tril(rng.normal(size=(6, 1, m, m))) + 3 * np.eye(m)
    L[4, 0, 2, 2] = 0.0  # singular: NaN
    for lower, tri in ((True, L), (False, np.swapaxes(L, -1, -2))):
        for b_ndim, b in ((1, rng.normal(size=(6, 3, m))), (2, rng.normal(size=(6, 3, m, 2)))):
            for unit in (False, True):
                x = batched_solve_triangular(tri, b, lower=lower, unit_diagonal=unit, b_ndim=b_ndim)
                for i, j in np.ndindex(6, 3):
                    if i == 4 and not unit:
                        assert np.isnan(x[i, j]).all()
                        continue
                    ref = linalg.solve_triangular(tri[i, 0], b[i, j], lower=lower, unit_diagonal=unit)
                    np.testing.assert_allclose(x[i, j], ref, rtol=1e-10, atol=1e-12)


def test_lkj_density_is_vectorised_without_python_loops(rng):
    """An LKJ covariance's density factors and solves per point: under PyTensor 2.x Blockwise
    Cholesky / SolveTriangular looped in Python (47x slower); one batched call now, same values."""
    from pytensor.tensor.blockwise import Blockwise

    from pymc_localmass.adapters.model_density import _LOOPING_BLOCKWISE

    with pm.Model() as model:
        chol, _, _ = pm.LKJCholeskyCov("c", n=3, eta=2.0, sd_dist=pm.Exponential.dist(1.0), compute_corr=True)
        mu = pm.Normal("mu", 0.0, 1.0, shape=3)
        pm.MvNormal("y", mu, chol=chol, observed=rng.normal(size=(20, 3)))
    dens = ModelLogDensity(model)
    if _LOOPING_BLOCKWISE:
        assert not [n for n in dens._logp_fn.maker.fgraph.apply_nodes if isinstance(n.op, Blockwise)]
    packed = np.array([1.0, 0.3, 1.2, -0.2, 0.1, 0.9])  # the Cholesky factor, packed (lower, by row)
    vals = {"c": packed + 0.05 * rng.normal(size=(10, 6)), "mu": rng.normal(size=(10, 3))}
    vals["c"][0, 2] = 0.0  # a zero on the factor's diagonal: the point is outside the support
    got = dens.logp(dens.flatten(vals))
    ref_fn = remove_value_transforms(model).compile_logp(jacobian=False)
    ref = np.array([float(ref_fn({"c": vals["c"][i], "mu": vals["mu"][i]})) for i in range(10)])
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
    np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-9)


def test_flatten_unflatten_and_bounds(mixed_density, rng):
    dens, _ = mixed_density
    vals = _mixed_points(rng, n=6)
    pts = dens.flatten(vals)
    back = dens.unflatten(pts)
    for k in vals:
        np.testing.assert_array_equal(back[k], vals[k])
    lower, upper = dens.bounds(pts)
    assert lower.shape == upper.shape == pts.shape
    np.testing.assert_array_equal(lower[:, dens.slice("lam")], 0.0)
    np.testing.assert_array_equal(upper[:, dens.slice("lam")], np.inf)
    np.testing.assert_array_equal(lower[:, dens.slice("beta")], -np.inf)
    np.testing.assert_array_equal(lower[:, dens.column("u")], 0.0)
    np.testing.assert_array_equal(upper[:, dens.column("u")], vals["lam"][:, 0])  # depends on lam[0]
    np.testing.assert_array_equal(upper[:, dens.column("p")], 1.0)
    with pytest.raises(KeyError, match="missing free variable"):
        dens.flatten({"lam": vals["lam"]})


def test_non_box_supports_are_flagged():
    with pm.Model() as model:
        pm.Dirichlet("w", np.ones(3))
        pm.ZeroSumNormal("z", shape=3)
        pm.Normal("x")
    info = model_variables(model)
    assert not info["w"].box_support and not info["z"].box_support and info["x"].box_support
    dens = ModelLogDensity(model)
    x = np.array([0.2, 0.3, 0.5, 1.0, -1.0, 0.0, 0.4])
    ref = (
        pm.logp(pm.Dirichlet.dist(np.ones(3)), x[:3])
        + pm.logp(pm.ZeroSumNormal.dist(shape=3), x[3:6])
        + pm.logp(pm.Normal.dist(), x[6])
    ).eval()
    np.testing.assert_allclose(dens.logp(x), ref, rtol=1e-10)


def test_conjugate_normal_model_rao_blackwell():
    y = np.array([0.9, 1.4, 0.3, 2.1])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu, 1.0, observed=y)
    dens = model_log_density(model)
    post_mean, post_sd = y.sum() / (y.size + 1), np.sqrt(1 / (y.size + 1))
    draws = np.random.default_rng(2).normal(post_mean, post_sd, size=(5, 1))
    radii = np.geomspace(1e-6, 1.0, 13)
    for center in (0.0, post_mean):
        res = conditional_ball_mass(dens.logp, draws, dens.column("mu"), center, radii)
        exact = _normal_interval_mass(center, radii, post_mean, post_sd)
        np.testing.assert_allclose(res.mass, exact, rtol=0.005)
        np.testing.assert_allclose(res.mass, exact, rtol=1e-6)


def test_horseshoe_model_rao_blackwell():
    with pm.Model() as model:
        lam = pm.HalfCauchy("lam", 1.0)
        pm.Normal("beta", 0.0, lam)
    dens = model_log_density(model)
    lam_nodes, wts = horseshoe_lambda_nodes(step=1.0, n=10)
    draws = dens.flatten({"lam": lam_nodes, "beta": 0.3 * lam_nodes})
    radii = np.geomspace(1e-6, 1e-1, 6)
    j = dens.column("beta")
    lower, upper = dens.bounds(draws)
    res = conditional_ball_mass(dens.logp, draws, j, 0.0, radii, lower=lower[:, j], upper=upper[:, j], weights=wts)
    exact = np.array([horseshoe_exact_mass(r) for r in radii])
    np.testing.assert_allclose(res.mass, exact, rtol=0.01)


def test_gamma_model_at_zero():
    k = 0.4
    with pm.Model() as model:
        pm.Gamma("g", alpha=k, beta=1.0)
    dens = model_log_density(model)
    j = dens.column("g")
    draws = np.array([[0.5]])
    lower, upper = dens.bounds(draws)
    assert lower[0, j] == 0.0 and upper[0, j] == np.inf
    radii = np.geomspace(1e-10, 5.0, 12)
    res = conditional_ball_mass(dens.logp, draws, j, 0.0, radii, lower=lower[:, j], upper=upper[:, j])
    np.testing.assert_allclose(res.mass, special.gammainc(k, radii), rtol=1e-6)


def test_prior_density_is_normalised_for_qmc():
    with pm.Model() as model:
        pm.Normal("a", 0.0, 2.0, shape=2)
        pm.Normal("obs", 0.0, 1.0, observed=[5.0])  # excluded from the prior
    prior = model_log_density(model, prior=True)
    radii = np.array([1e-6, 0.5, 2.0])
    res = qmc_ball_log_integral(prior.logp, np.zeros(2), radii, m=10, seed=0)
    exact = np.log(-np.expm1(-(radii**2) / 8))  # chi2(2) cdf of (r / 2)^2
    assert np.all(np.abs(res.log_integral - exact) < 5 * res.log_integral_se + 1e-8)
