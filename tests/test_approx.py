"""Approximation adapters and the exact (analytic) tier, against closed forms."""

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy import special, stats

import pymc_localmass as plm
from pymc_localmass._compat import MODERN
from pymc_localmass.adapters.approx import from_approximation, is_approximation
from pymc_localmass.tiers.analytic import compute

pm = pytest.importorskip("pymc")

Y = np.array([0.3, -0.2, 0.8, 0.5, 1.1, 0.1])


def _model():
    with pm.Model(coords={"g": ["a", "b", "c"]}) as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        s = pm.HalfNormal("s", 1.0)
        pm.Beta("p", 2.0, 3.0)
        pm.Uniform("u", -1.0, 2.0, dims="g")
        pm.Dirichlet("d", np.ones(3))
        pm.Normal("y", mu, s, observed=Y)
    return model


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def advi(model):
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.fit(1500, method="advi", random_seed=1, progressbar=False)


@pytest.fixture(scope="module")
def fullrank(model):
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.fit(1500, method="fullrank_advi", random_seed=2, progressbar=False)


def _flat_params(approx, value_name):
    group = approx.groups[0]
    sl = group.ordering[value_name][1]
    return np.asarray(group.mean.eval())[sl], np.asarray(group.std.eval())[sl]


def test_adapter_reads_transforms_shapes_and_dims(advi):
    assert is_approximation(advi)
    assert not is_approximation({"x": np.zeros((2, 30))})
    fit = from_approximation(advi)
    assert fit.kind == "meanfield" and fit.gaussian and not fit.full_rank
    v = fit.variables
    assert (v["mu"].transform, v["s"].transform, v["p"].transform) == ("identity", "log", "logodds")
    assert v["u"].transform == "interval" and v["u"].dims == ("g",) and v["u"].shape == (3,)
    np.testing.assert_array_equal(v["u"].lower, [-1.0] * 3)
    np.testing.assert_array_equal(v["u"].upper, [2.0] * 3)
    assert list(v["u"].coords["g"]) == ["a", "b", "c"]
    assert v["d"].transform is None and "whole vector" in v["d"].reason
    mu, sd = fit.marginal("s")
    m_ref, s_ref = _flat_params(advi, "s_log__")
    np.testing.assert_allclose([mu, sd], [m_ref[0], s_ref[0]], rtol=1e-12)


def test_fullrank_reads_covariance(fullrank):
    fit = from_approximation(fullrank)
    assert fit.kind == "fullrank" and fit.full_rank
    L = fullrank.groups[0].L.eval()
    np.testing.assert_allclose(fit.cov, L @ L.T, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("which", ["advi", "fullrank"])
def test_log_transform_mass_is_phi_of_log_radius(which, request):
    approx = request.getfixturevalue(which)
    mu, sd = _flat_params(approx, "s_log__")
    r = np.array([1e-6, 1e-3, 0.05, 0.3, 1.0])
    res = plm.local_mass(approx, var_names="s", centers={"s": 0.0}, radii=r)
    assert res.attrs["tier"] == "analytic"
    cur = res["s"].sel(center="0")
    expected = stats.norm.cdf((np.log(r) - mu[0]) / sd[0])
    np.testing.assert_allclose(cur.sel(local_stat="mass").values, expected, rtol=1e-10)
    # exact: intervals of zero width, every radius resolved
    np.testing.assert_array_equal(cur.sel(local_stat="mass_lower").values, cur.sel(local_stat="mass").values)
    np.testing.assert_array_equal(cur.sel(local_stat="mass_upper").values, cur.sel(local_stat="mass").values)
    assert (cur.sel(local_stat="resolved").values == 1).all()
    # exact slope d log Phi(z) / d log r = phi(z) / (sd Phi(z))
    z = (np.log(r) - mu[0]) / sd[0]
    slope = np.exp(stats.norm.logpdf(z) - stats.norm.logcdf(z)) / sd[0]
    np.testing.assert_allclose(cur.sel(local_stat="slope").values, slope, rtol=1e-8)


def test_exact_index_inf_at_log_boundary_and_one_inside(advi):
    idx = plm.mass_index(advi, var_names=["s"], centers={"s": [0.0, "mean"]})
    a = idx["s"].sel(index_stat="a")
    assert np.isinf(float(a.sel(center="0"))) and float(a.sel(center="mean")) == 1.0
    assert float(idx["s"].sel(center="mean", index_stat="atom")) == 0.0
    assert float(idx["s"].sel(center="0", index_stat="center_value")) == 0.0
    # with a = inf, b is undefined: NaN, its interval [-inf, inf] (docs/schema.md)
    at0 = idx["s"].sel(center="0")
    assert np.isnan(float(at0.sel(index_stat="b")))
    assert float(at0.sel(index_stat="b_lower")) == -np.inf and float(at0.sel(index_stat="b_upper")) == np.inf
    assert float(idx["s"].sel(center="mean", index_stat="b_lower")) == 0.0


def test_interval_and_logodds_transforms_exact(advi):
    fit = from_approximation(advi)
    mu_u, sd_u = fit.marginal("u")
    c, r = 0.4, 0.25
    res = plm.local_mass(advi, var_names=["u", "p"], centers={"u": c, "p": c}, radii=[r])
    got_u = res["u"].sel(center=f"{c:g}", local_stat="mass").values[:, 0]
    lo_y = special.logit((c - r + 1.0) / 3.0)
    hi_y = special.logit((c + r + 1.0) / 3.0)
    want_u = stats.norm.cdf((hi_y - mu_u) / sd_u) - stats.norm.cdf((lo_y - mu_u) / sd_u)
    np.testing.assert_allclose(got_u, want_u, rtol=1e-9)
    assert list(res["u"]["g"].values) == ["a", "b", "c"]
    mu_p, sd_p = fit.marginal("p")
    want_p = (stats.norm.cdf((special.logit(c + r) - mu_p) / sd_p)
              - stats.norm.cdf((special.logit(c - r) - mu_p) / sd_p))
    np.testing.assert_allclose(float(res["p"].sel(center=f"{c:g}", local_stat="mass").values[0]), want_p,
                               rtol=1e-9)


def test_exact_mass_agrees_with_the_approximations_own_draws(advi):
    r = np.array([0.2, 0.5])
    exact = plm.local_mass(advi, var_names="s", centers={"s": 0.3}, radii=r)["s"].sel(center="0.3")
    draws = advi.sample(8000, random_seed=3, return_inferencedata=False)
    s = np.asarray(draws["s"]).reshape(4, 2000)
    emp = plm.local_mass({"s": s}, centers=0.3, radii=r)["s"].sel(center="0.3")
    m = exact.sel(local_stat="mass").values
    se = np.sqrt(m * (1 - m) / s.size)
    assert np.all(np.abs(emp.sel(local_stat="mass").values - m) < 4 * se)


def test_constrained_moments_match_draws(advi):
    fit = from_approximation(advi)
    mean, sd = fit.constrained_moments("s")
    ds = fit.sample(n_draws=5000, n_chains=4, seed=1)
    assert set(ds["u"].dims) == {"chain", "draw", "g"}
    x = ds["s"].values.ravel()
    assert abs(x.mean() - mean) < 4 * sd / np.sqrt(x.size)
    # the simplex is pushed through the model's own transform: rows sum to one
    np.testing.assert_allclose(ds["d"].values.sum(-1), 1.0, rtol=1e-10)


def test_vector_transform_by_qmc_through_the_models_transform(advi):
    # the simplex's elementwise balls: scrambled Sobol points of the Gaussian pushed
    # through the model's own transform (tier qmc), not the approximation's draws
    res = plm.local_mass(advi, var_names=["s", "d"], centers="mean", radii=[0.02, 0.1])
    assert res.attrs["tier"] == "qmc"
    assert "s:analytic" in res.attrs["variable_tiers"] and "d:qmc" in res.attrs["variable_tiers"]
    assert "SimplexTransform" in res.attrs["qmc_reason"] and res.attrs["fallback_reason"] == ""
    plm.validate(res)
    got = res["d"].sel(center="mean")
    m = got.sel(local_stat="mass").values
    lo, hi = got.sel(local_stat="mass_lower").values, got.sel(local_stat="mass_upper").values
    # against 200,000 independent draws of the same Gaussian through the same transform
    fit = from_approximation(advi)
    x = fit.sample(n_draws=50_000, n_chains=4, seed=11)["d"].values.reshape(-1, 3)
    centre = plm.mass_index(advi, var_names="d", centers="mean")["d"].sel(center="mean", index_stat="center_value")
    emp = np.stack([(np.abs(x - centre.values) <= r).mean(axis=0) for r in (0.02, 0.1)], axis=-1)
    se = np.sqrt(emp * (1 - emp) / x.shape[0])
    assert np.all(np.abs(emp - m) < 4 * np.hypot(se, (hi - lo) / 2))
    assert np.all((hi - lo) / m < 0.1)  # QMC: a few percent at 8 x 4096 points
    # method="samples" asks for draws throughout
    drawn = plm.local_mass(advi, var_names=["d"], method="samples")
    assert drawn.attrs["tier"] == "samples-of-approximation"
    assert "method='samples'" in drawn.attrs["fallback_reason"]


def test_vector_transform_index_is_exact_where_the_transform_is_known(advi, fullrank):
    # a Gaussian pushed through stick-breaking: each element's density is smooth and positive
    # inside (0, 1), so a = 1 exactly at any interior centre, and a ball at an end of (0, 1)
    # (reached only as the unconstrained value runs off) decays faster than any power: a = inf.
    # The fit on the QMC curve read a = NaN with status "ok" at 0 (no point near it) and
    # 4.2 [3.8, 4.6] "ok" at 0.002 (its radii reach the edge)
    from pymc_localmass.core.curves import STATUS_WORDS

    for fit in (advi, fullrank):
        res = plm.mass_index(fit, var_names=["d"], centers={"d": ["mean", 0.002, 0.0, 1.0]})
        assert res.attrs["index_method"] == "exact (transformed Gaussian)"
        a = res["d"].sel(index_stat="a")
        np.testing.assert_array_equal(a.sel(center="mean").values, 1.0)
        np.testing.assert_array_equal(a.sel(center="0.002").values, 1.0)
        assert np.isposinf(a.sel(center="0").values).all() and np.isposinf(a.sel(center="1").values).all()
        for stat in ("a_lower", "a_upper"):
            np.testing.assert_array_equal(res["d"].sel(index_stat=stat, center="0.002").values, 1.0)
        status = res["d"].sel(index_stat="status").values.astype(int)
        assert {STATUS_WORDS[k] for k in status.ravel()} == {"ok"}
    # the simplex's support: its "boundary" centre is 0
    bnd = plm.mass_index(advi, var_names=["d"], centers={"d": "boundary"})["d"]
    np.testing.assert_array_equal(bnd.sel(index_stat="center_value").values, 0.0)


def test_qmc_index_where_the_points_do_not_reach_is_unresolved():
    # where the index is not exact (a transform not known to be smooth), it is read from the QMC
    # points as draws: a centre they do not reach is unresolved with [0, inf], never a = NaN with
    # status "ok" (a slope fit on the curve gave that)
    from pymc_localmass.core.curves import INDEX_STATS, STATUS_WORDS
    from pymc_localmass.tiers.analytic import _qmc_curve_and_index

    rng = np.random.default_rng(0)
    pts = rng.normal(size=(8, 512, 2))
    radii = np.broadcast_to(np.geomspace(1e-3, 1.0, 12), (2, 12))
    centre = np.array([0.0, 30.0])  # the second: no point within 25
    _, index = _qmc_curve_and_index(pts, centre, radii, radii, np.ones(2), centre, 0.89)
    col = INDEX_STATS.index
    assert STATUS_WORDS[int(index[1, col("status")])] == "unresolved"
    assert np.isnan(index[1, col("a")]) and index[1, col("a_lower")] == 0 and np.isposinf(index[1, col("a_upper")])
    assert STATUS_WORDS[int(index[0, col("status")])] == "ok"
    assert index[0, col("a_lower")] < 1 < index[0, col("a_upper")]


def test_lkj_cholesky_under_full_rank_advi():
    # LKJCholeskyCov (a transform the QMC tier does not know): full-rank ADVI's Cholesky diagonals
    # and L_stds are log-normal, a = inf at 0; a slope fit on the QMC curve read 4.1 [3.7, 4.6]
    # "ok" (outside check). The correlation matrix's unit diagonal never varies: an atom (it read
    # -0.14 [0, 0.04] "ok")
    from pymc_localmass.core.curves import STATUS_WORDS

    rng = np.random.default_rng(2)
    y = rng.multivariate_normal([0, 0, 0], [[1, 0.5, 0], [0.5, 1, 0], [0, 0, 1]], 50)
    with pm.Model():
        chol, _, _ = pm.LKJCholeskyCov("L", n=3, eta=2.0, sd_dist=pm.Exponential.dist(1.0), compute_corr=True)
        pm.MvNormal("y", mu=np.zeros(3), chol=chol, observed=y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # (converged: its log-sds are 0.4-0.5; at 4000 iterations, 0.8 and more, the points at 0 read
            # like any draws of a log-normal there: "ok" with a finite interval, a known limit of the
            # draws' reading of decay that is faster than any power only log-quadratically)
            fr = pm.fit(10000, method="fullrank_advi", random_seed=1, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.mass_index(fr, var_names=["L_stds", "L_corr"], centers={"L_stds": 0.0, "L_corr": "mean"})
    assert res.attrs["tier"] == "qmc"
    st = res["L_stds"].sel(center="0")
    for k in range(3):
        row = {s: float(st.sel(index_stat=s).isel(L_stds_dim_0=k)) for s in ("a", "a_lower", "a_upper", "status")}
        word = STATUS_WORDS[int(row["status"])]
        assert word == "unresolved" or (np.isposinf(row["a_upper"]) and row["a_lower"] > 2), row
    corr = res["L_corr"].sel(center="mean")
    diag = np.array([[int(corr.sel(index_stat="status").values[i, i])] for i in range(3)]).ravel()
    assert [STATUS_WORDS[k] for k in diag] == ["atom"] * 3
    off = corr.sel(index_stat="a").values[0, 1], corr.sel(index_stat="a_lower").values[0, 1], \
        corr.sel(index_stat="a_upper").values[0, 1]
    assert off[1] <= 1.0 <= off[2]  # an off-diagonal's smooth density at its mean


def test_compare_names_each_regions_own_tier(advi):
    # an ADVI fit is "qmc" overall when its simplex needs QMC, while its scalar variables' masses are
    # exact: the report's table printed tier "qmc" beside "(exact)" on every row
    ref = from_approximation(advi).sample(n_draws=500, n_chains=4, seed=2)
    cmp = plm.compare({"ref": {k: ref[k].values for k in ("s", "d")}, "ADVI": advi}, centers="mean")
    assert str(cmp["tier"].sel(model="ADVI").values) == "qmc"
    tiers = plm.compare_summary(cmp)["tier"]
    assert tiers[("ADVI", "s @ mean")] == "analytic" and tiers[("ADVI", "d[0] @ mean")] == "qmc"
    assert tiers[("ref", "s @ mean")] == "samples"


def test_joint_ball_with_a_simplex_by_qmc_through_the_models_transform(advi):
    # a joint ball over s and the simplex d: Sobol points of the whole Gaussian through
    # the model's transforms, distances in the constrained space (tier qmc, not draws)
    joint = plm.local_mass(advi, var_names=["s", "d"], joint=True, centers={"s": 0.6, "d": "mean"})
    assert joint.attrs["tier"] == "qmc" and joint.attrs["fallback_reason"] == ""
    assert "SimplexTransform" in joint.attrs["qmc_reason"]
    assert joint.attrs["index_method"] == "local likelihood on the QMC points (as independent draws)"
    plm.validate(joint)
    q = joint["s+d"].isel(center=0)
    r = q.sel(local_stat="radius").values
    m, lo, hi = (q.sel(local_stat=k).values for k in ("mass", "mass_lower", "mass_upper"))
    # against 200,000 independent draws of the approximation, same centre, same norm
    c = np.array([float(x) for x in joint.attrs["center_values"].split(",")])
    assert c[0] == 0.6 and c[1:].sum() == pytest.approx(1.0, abs=1e-3)  # the simplex mean is on the simplex
    ds = from_approximation(advi).sample(n_draws=50_000, n_chains=4, seed=5)
    x = np.column_stack([ds["s"].values.reshape(-1), ds["d"].values.reshape(-1, 3)])
    emp = (np.sqrt(((x - c) ** 2).sum(axis=1))[:, None] <= r).mean(axis=0)
    se = np.sqrt(emp * (1 - emp) / x.shape[0])
    ok = emp > 1e-3
    assert ok.sum() >= 8
    assert np.all(np.abs(emp - m)[ok] < 4 * np.hypot(se, (hi - lo) / 2)[ok])
    # the image of (s, d) is 3-dimensional (the simplex has two free coordinates), centre interior
    idx = plm.mass_index(joint)["s+d"].isel(center=0)
    assert idx.sel(index_stat="a_lower") <= 3.0 <= idx.sel(index_stat="a_upper")
    assert idx.sel(index_stat="a_upper") - idx.sel(index_stat="a_lower") < 1.0
    # method='samples' still asks for the approximation's draws
    drawn = plm.local_mass(advi, var_names=["s", "d"], joint=True, method="samples")
    assert drawn.attrs["tier"] == "samples-of-approximation"
    assert drawn.attrs["n_chains"] == 4 and drawn.attrs["n_draws"] == 1000


def test_non_finite_transformed_points_are_an_error(advi, monkeypatch):
    # a NaN distance would silently count as outside the ball: refused, with the count
    from pymc_localmass.adapters.approx import GaussianApproximation

    real = GaussianApproximation._model_backtransform

    def overflowing(self, y, variables):
        out = real(self, y, variables)
        out["d"][:3] = np.inf
        return out

    monkeypatch.setattr(GaussianApproximation, "_model_backtransform", overflowing)
    # three points in each of the 8 randomisations of 4096
    with pytest.raises(ValueError, match=r"d: the model's transform gives non-finite values at 24 of 32768 quasi"):
        plm.local_mass(advi, var_names="d", radii=[0.1])
    with pytest.raises(ValueError, match=r"s\+d: the model's transform gives non-finite values"):
        plm.local_mass(advi, var_names=["s", "d"], joint=True, radii=[0.1])


def test_exact_tier_refused_where_impossible(advi):
    with pytest.raises(ValueError, match="exact .analytic. local mass is impossible.*SimplexTransform"):
        compute(advi, var_names="d", method="analytic")
    with pytest.raises(ValueError, match="needs a fitted Gaussian approximation"):
        plm.local_mass({"x": np.zeros((2, 50))}, method="analytic")
    # the public entry point passes the method on: analytic refuses, model does not apply
    with pytest.raises(ValueError, match="exact .analytic. local mass is impossible.*SimplexTransform"):
        plm.local_mass(advi, var_names="d", method="analytic")
    with pytest.raises(ValueError, match="method='model' integrates a PyMC model's density"):
        plm.local_mass(advi, var_names="s", method="model")


def test_joint_ball_qmc_against_draws(fullrank):
    r = np.array([0.6, 1.2])
    res = plm.local_mass(fullrank, var_names=["mu", "s"], joint=True, centers={"mu": 0.4, "s": 0.6}, radii=r)
    assert res.attrs["tier"] == "qmc" and "mu+s" in res.data_vars
    q = res["mu+s"].isel(center=0)
    fit = from_approximation(fullrank)
    ds = fit.sample(n_draws=20000, n_chains=2, seed=4)
    dist = np.hypot(ds["mu"].values - 0.4, ds["s"].values - 0.6).ravel()
    emp = (dist[:, None] <= r).mean(0)
    se = np.sqrt(emp * (1 - emp) / dist.size)
    np.testing.assert_array_less(np.abs(q.sel(local_stat="mass").values - emp), 4 * se + 1e-3)
    idx = plm.mass_index(fullrank, var_names=["mu", "s"], joint=True, centers={"mu": 0.4, "s": 0.6}, radii=r)
    assert float(idx["mu+s"].isel(center=0).sel(index_stat="a")) == 2.0


def test_joint_ball_crossing_a_boundary(fullrank):
    """A ball that reaches past s = 0 integrates only the part inside the support."""
    res = plm.local_mass(fullrank, var_names=["mu", "s"], joint=True, centers={"mu": 0.4, "s": 0.05},
                         radii=[0.02, 0.3])
    m = res["mu+s"].isel(center=0).sel(local_stat="mass").values
    assert np.all(np.isfinite(m)) and m[0] < m[1] < 1


def _laplace_like(post, fit_ds):
    """A container laid out as pymc-extras' Laplace fits: ``posterior`` draws and a ``fit`` group."""
    import arviz as az

    if MODERN:
        lap = az.from_dict({"posterior": post})
        lap["fit"] = xr.DataTree(dataset=fit_ds)
        return lap
    lap = az.from_dict(posterior=post)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lap.add_groups({"fit": fit_ds})
    return lap


def _laplace_container(fit, posterior):
    """A pymc-extras Laplace fit in its documented layout: a ``fit`` group with the mean and covariance."""
    rows = []
    for v in fit.variables.values():
        rows += [v.value_name] if v.shape == () else [f"{v.value_name}[{i}]" for i in range(v.size)]
    keep = [i for v in fit.variables.values() if v.supported for i in range(v.index.start, v.index.stop)]
    labels = [rows[i] for i in keep]
    fit_ds = xr.Dataset({"mean_vector": (("rows",), fit.mean[keep]),
                         "covariance_matrix": (("rows", "columns"), fit.cov[np.ix_(keep, keep)])},
                        coords={"rows": labels, "columns": labels})
    post = {k: posterior[k].values for k in ("mu", "s", "p")}
    return _laplace_like(post, fit_ds)


def test_laplace_layout_without_and_with_model(advi, model):
    fit = from_approximation(advi)
    draws = fit.sample(200, 2, seed=0)
    lap = _laplace_container(fit, draws)
    assert is_approximation(lap)
    read = from_approximation(lap)
    assert read.kind == "laplace"
    assert read.variables["s"].transform == "log" and read.variables["p"].transform == "logodds"
    mu, sd = fit.marginal("s")
    res = plm.local_mass(lap, var_names="s", centers={"s": 0.0}, radii=[0.1])
    np.testing.assert_allclose(float(res["s"].sel(center="0", local_stat="mass").values[0]),
                               stats.norm.cdf((np.log(0.1) - mu) / sd), rtol=1e-10)
    with_model = from_approximation(lap, model=model)
    assert with_model.variables["s"].transform == "log"


def test_degenerate_laplace_fit_is_named():
    # a Laplace fit whose optimum runs to a scale's 0 (pymc-extras, non-centred hierarchy): the log
    # scale's variance was 1.3e6, its constrained mean and draws overflow; check() and compare()
    # raised "`center` must be finite" and "draws contain NaN or infinite values" from the core
    from pymc_localmass.errors import InvalidInputError

    with pm.Model() as m:
        pm.Normal("mu", 0.0, 5.0)
        pm.HalfCauchy("tau", 5.0)
        pm.Normal("y", 0.0, 1.0, observed=Y)
    labels = ["mu", "tau_log__"]
    fit_ds = xr.Dataset({"mean_vector": (("rows",), np.array([0.5, -3.0])),
                         "covariance_matrix": (("rows", "columns"), np.diag([1.0, 1.3e6]))},
                        coords={"rows": labels, "columns": labels})
    rng = np.random.default_rng(0)
    post = {"mu": rng.normal(size=(1, 200)), "tau": np.exp(rng.normal(-3, 5, size=(1, 200)))}
    lap = _laplace_like(post, fit_ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InvalidInputError, match="centre 'mean' for variable 'tau'.*not finite.*degenerate"):
            plm.summary(lap, model=m)
        with pytest.raises(InvalidInputError, match="'LA': its own draws of \\['tau'\\] overflow.*degenerate"):
            plm.check(approximations={"LA": lap}, model=m)
        ok = plm.summary(lap, model=m, var_names=["mu"])  # the other variable is read as usual
    assert list(ok["status"]) == ["ok"] and float(ok["a"].iloc[0]) == 1.0


def test_laplace_layout_with_a_simplex(advi, model):
    # every row, the simplex's K - 1 = 2 unconstrained ones included, as pymc-extras labels them
    fit = from_approximation(advi)
    labels = []
    for v in fit.variables.values():
        n = v.index.stop - v.index.start
        labels += [v.value_name] if v.shape == () else [f"{v.value_name}[{i}]" for i in range(n)]
    fit_ds = xr.Dataset({"mean_vector": (("rows",), fit.mean), "covariance_matrix": (("rows", "columns"), fit.cov)},
                        coords={"rows": labels, "columns": labels})
    post = {k: v.values for k, v in fit.sample(200, 2, seed=0).data_vars.items()}
    lap = _laplace_like(post, fit_ds)
    # with the model: the simplex through the model's transform, same numbers as the ADVI fit itself
    r = [0.02, 0.1]
    got = plm.local_mass(lap, model=model, var_names="d", centers={"d": 0.3}, radii=r)
    want = plm.local_mass(advi, var_names="d", centers={"d": 0.3}, radii=r)
    assert got.attrs["tier"] == "qmc" and got.attrs["approximation"] == "laplace"
    np.testing.assert_allclose(got["d"].values, want["d"].values, rtol=1e-10)
    joint = plm.local_mass(lap, model=model, var_names=["s", "d"], joint=True, centers={"s": 0.6, "d": "mean"})
    assert joint.attrs["tier"] == "qmc"
    # without it, the vector transform cannot be undone: said, naming the variable
    with pytest.raises(ValueError, match="'d' has the transform 'simplex'.*pass model="):
        from_approximation(lap)


def test_elbo_of_an_exact_family_reaches_the_log_evidence(conjugate_advi):
    _, approx, logz = conjugate_advi
    elbo, se = from_approximation(approx).elbo(n=1000, seed=1)
    assert se < 0.02
    assert logz - 0.02 - 4 * se <= elbo <= logz + 4 * se   # KL(q || p) = log Z - ELBO, about 0 here


def test_pathfinder_layout_is_read_as_draws():
    """A pymc-extras Pathfinder fit (posterior + ``pathfinder`` group) is a mixture: draws tier, ELBO read."""
    import arviz as az

    rng = np.random.default_rng(0)
    post = {"s": np.abs(rng.normal(size=(1, 2000)))}
    pf = xr.Dataset({"logP_mean": ((), -3.0), "logQ_mean": ((), -2.5)})
    if MODERN:
        obj = az.from_dict({"posterior": post})
        obj["pathfinder"] = xr.DataTree(dataset=pf)
    else:
        obj = az.from_dict(posterior=post)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj.add_groups({"pathfinder": pf})
    assert is_approximation(obj)
    fit = from_approximation(obj)
    assert fit.kind == "pathfinder" and not fit.gaussian and fit.elbo() == (-0.5, None)
    res = plm.local_mass(obj, centers={"s": 0.0}, radii=[0.5])
    assert res.attrs["tier"] == "samples-of-approximation" and res.attrs["n_chains"] == 4
    np.testing.assert_allclose(float(res["s"].sel(center="0", local_stat="mass").values[0]),
                               (post["s"] <= 0.5).mean())
    with pytest.raises(ValueError, match="impossible.*not a single Gaussian"):
        compute(obj, method="analytic")


def test_softplus_transform_is_exact_on_a_real_model():
    # PyMC's LogExpM1 (the softplus transform): the Gaussian lives on log(expm1(x))
    with pm.Model():
        pm.HalfNormal("sp", 1.0, default_transform=pm.distributions.transforms.log_exp_m1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            approx = pm.fit(2000, method="advi", random_seed=1, progressbar=False)
    r = np.array([0.1, 0.3])
    res = plm.local_mass(approx, centers={"sp": 0.5}, radii=r)
    assert res.attrs["tier"] == "analytic"
    assert from_approximation(approx).variables["sp"].transform == "log_exp_m1"
    mu, sd = from_approximation(approx).marginal("sp")
    inv = lambda x: np.log(np.expm1(x))  # noqa: E731
    want = stats.norm.cdf((inv(0.5 + r) - mu) / sd) - stats.norm.cdf((inv(0.5 - r) - mu) / sd)
    np.testing.assert_allclose(res["sp"].sel(local_stat="mass").values[0], want, rtol=1e-9)


def test_interval_transform_with_numeric_bounds():
    # pm.distributions.transforms.Interval(-0.5, 0.5) keeps its bounds as plain numbers
    with pm.Model() as m:
        pm.Normal("lb", 0.0, 1.0, transform=pm.distributions.transforms.Interval(-0.5, 0.5))
        pm.Beta("q", 2.0, 3.0)
    with m, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        approx = pm.fit(1500, progressbar=False, random_seed=1)
    fit = from_approximation(approx)
    v = fit.variables["lb"]
    assert (v.transform, v.lower, v.upper) == ("interval", -0.5, 0.5)
    res = plm.local_mass(approx, var_names=["lb", "q"], centers={"lb": -0.5, "q": 0.0}, radii=[0.1])
    assert res.attrs["tier"] == "analytic"
    mu, sd = fit.marginal("lb")  # logit((x + 0.5) / 1) ~ N(mu, sd): P(x <= -0.4) = Phi((logit(0.1) - mu) / sd)
    want = stats.norm.cdf((special.logit(0.1) - mu) / sd)
    assert float(res["lb"].sel(center="-0.5", local_stat="mass").values[0]) == pytest.approx(want, rel=1e-9)


def test_analytic_refuses_joint_balls(fullrank):
    with pytest.raises(ValueError, match="joint ball has no closed-form mass"):
        plm.local_mass(fullrank, var_names=["mu", "s"], joint=True, method="analytic")


def test_a_radii_mapping_naming_some_variables_says_which_have_which(model, advi):
    # radii={"mu": [...]} gives mu explicit radii and the others the automatic grid; the exact
    # tier (and the model tier) wrote grid_rule "explicit" for all of them
    import pymc_localmass as plm
    from pymc_localmass._radii import variable_rules

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curves = plm.local_mass(advi, var_names=["mu", "s"], radii={"mu": [0.05, 0.1, 0.2]})
    rules = variable_rules(curves.attrs["grid_rule"], ["mu", "s"])
    assert rules["mu"] == "explicit" and rules["s"].startswith("auto:"), curves.attrs["grid_rule"]
    with pm.Model() as two:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu, pm.HalfNormal("s", 1.0), observed=Y)
    draws = {"mu": np.random.default_rng(0).normal(0.4, 0.3, (4, 200)),
             "s": np.abs(np.random.default_rng(1).normal(0.5, 0.2, (4, 200)))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curves = plm.local_mass(draws, model=two, method="model", var_names=["mu", "s"],
                                   radii={"s": [0.05, 0.1, 0.2]})
    rules = variable_rules(curves.attrs["grid_rule"], ["mu", "s"])
    assert rules["s"] == "explicit" and rules["mu"].startswith("auto:"), curves.attrs["grid_rule"]
