"""The Laplace and Pathfinder fits of pymc-extras, as pymc-extras itself writes them.

pymc-extras is an optional extra (it pins PyMC below the newest release), so
these tests run in their own environment (``make test-extras``: Python 3.12,
the newest PyMC that pymc-extras allows); tests/conftest.py leaves this file
out where pymc-extras is not installed. The layouts the adapters read are
also covered, without pymc-extras, by tests/test_approx.py.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

import pymc_localmass as plm
from pymc_localmass.adapters.approx import from_approximation, is_approximation

pm = pytest.importorskip("pymc")
pmx = pytest.importorskip("pymc_extras")

Y = np.array([0.3, -0.2, 0.8, 0.5, 1.1, 0.1])


@pytest.fixture(scope="module")
def model():
    with pm.Model() as m:
        mu = pm.Normal("mu", 0.0, 1.0)
        s = pm.HalfNormal("s", 1.0)
        pm.Normal("y", mu, s, observed=Y)
    return m


@pytest.fixture(scope="module")
def laplace(model):
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pmx.fit(method="laplace", progressbar=False, random_seed=1)


@pytest.fixture(scope="module")
def pathfinder(model):
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pmx.fit(method="pathfinder", progressbar=False, random_seed=1)


def test_laplace_fit_is_exact_through_the_log_transform(laplace, model):
    assert is_approximation(laplace)
    # the fit group as pymc-extras writes it: unconstrained mean and covariance
    fit_ds = laplace["fit"].to_dataset()
    rows = [str(r) for r in fit_ds["rows"].values]
    i = rows.index("s_log__")
    mean, var = float(fit_ds["mean_vector"].values[i]), float(fit_ds["covariance_matrix"].values[i, i])
    r = np.array([0.1, 0.5, 1.0])
    want = stats.norm.cdf((np.log(r) - mean) / np.sqrt(var))  # P(s <= r), s = exp(N(mean, var))
    for m in (model, None):  # with the model, and read from the value names alone
        read = from_approximation(laplace, model=m)
        assert read.kind == "laplace" and read.gaussian and read.variables["s"].transform == "log"
        res = plm.local_mass(laplace, model=m, var_names="s", centers={"s": 0.0}, radii=r)
        assert res.attrs["tier"] == "analytic"
        np.testing.assert_allclose(res["s"].sel(center="0", local_stat="mass").values, want, rtol=1e-9)
    idx = plm.mass_index(laplace, model=model, var_names="s", centers={"s": 0.0})
    assert np.isposinf(float(idx["s"].sel(center="0", index_stat="a")))


def test_laplace_in_compare_and_check(laplace, model):
    rng = np.random.default_rng(3)
    # a reference with mass near s = 0 that the Laplace fit (Gaussian in log s) lacks
    ref = {"mu": rng.normal(0.4, 0.3, size=(4, 1000)), "s": np.abs(rng.normal(0.0, 0.6, size=(4, 1000)))}
    cmp = plm.compare({"ref": ref, "Laplace": laplace}, reference="ref", var_names="s", centers={"s": 0.0},
                      radii=[0.1, 0.3], model=model)
    assert str(cmp["tier"].sel(model="Laplace").values) == "analytic"
    ratio = cmp["ratio"].sel(model="Laplace").values[0]
    assert ratio[0] < 1e-3 and ratio[0] < ratio[1] < 1  # the deficit grows as the ball shrinks
    with pytest.warns(plm.LocalMassWarning, match="Laplace puts .* of its mass within .* of s = 0.*What to do:"):
        res = plm.check(ref, approximations={"Laplace": laplace}, var_names="s", model=model)
    assert any(f.kind == "approximation" and f.model == "Laplace" for f in res.findings)


def test_pathfinder_fit_is_read_as_its_draws_with_its_elbo(pathfinder, model):
    assert is_approximation(pathfinder)
    read = from_approximation(pathfinder, model=model)
    assert read.kind == "pathfinder" and not read.gaussian
    pf = pathfinder["pathfinder"].to_dataset()
    elbo, _ = read.elbo()
    assert elbo == pytest.approx(float(pf["logP_mean"]) - float(pf["logQ_mean"]))
    res = plm.local_mass(pathfinder, model=model, var_names="s", centers={"s": 0.0}, radii=[0.2, 0.6])
    assert res.attrs["tier"] == "samples-of-approximation"
    assert "not a single Gaussian" in res.attrs["fallback_reason"]
    draws = pathfinder["posterior"].to_dataset()["s"].values.ravel()  # one chain, split into 4 by the adapter
    np.testing.assert_allclose(res["s"].sel(center="0", local_stat="mass").values,
                               [(draws <= 0.2).mean(), (draws <= 0.6).mean()])
    assert res.attrs["n_chains"] == 4


@pytest.fixture(scope="module")
def dadvi(model):
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pmx.fit(method="dadvi", n_draws=4000, progressbar=False, random_seed=1)


def test_dadvi_fit_is_a_mean_field_gaussian_read_exactly(dadvi, model):
    # DADVI's optimizer_result x: the unconstrained means, then the log sds, of the same rows
    assert is_approximation(dadvi)
    opt = dadvi["optimizer_result"].to_dataset()
    labels = [str(v) for v in opt["variables"].values]
    D = len(labels) // 2
    i = labels.index("s_log__")
    mean, sd = float(opt["x"].values[i]), float(np.exp(opt["x"].values[D + i]))
    r = np.array([0.1, 0.5, 1.0])
    for m in (model, None):  # with the model, and from the value names alone
        read = from_approximation(dadvi, model=m)
        assert read.kind == "dadvi" and read.gaussian and not read.full_rank
        assert read.variables["s"].transform == "log"
        res = plm.local_mass(dadvi, model=m, var_names="s", centers={"s": 0.0}, radii=r)
        assert res.attrs["tier"] == "analytic" and res.attrs["approximation"] == "dadvi"
        np.testing.assert_allclose(res["s"].sel(center="0", local_stat="mass").values,
                                   stats.norm.cdf((np.log(r) - mean) / sd), rtol=1e-9)
    # the exact masses agree with DADVI's own draws of the same Gaussian
    own = dadvi["posterior"].to_dataset()["s"].values.ravel()
    emp = (own[:, None] <= r).mean(axis=0)
    exact = stats.norm.cdf((np.log(r) - mean) / sd)
    assert np.all(np.abs(emp - exact) < 4 * np.sqrt(exact * (1 - exact) / own.size) + 1e-3)
    # and a DADVI fit takes part in compare like any Gaussian approximation
    rng = np.random.default_rng(3)
    ref = {"mu": rng.normal(0.4, 0.3, size=(4, 1000)), "s": np.abs(rng.normal(0.0, 0.6, size=(4, 1000)))}
    cmp = plm.compare({"ref": ref, "DADVI": dadvi}, reference="ref", var_names="s", centers={"s": 0.0},
                      radii=[0.1, 0.3], model=model)
    assert str(cmp["tier"].sel(model="DADVI").values) == "analytic"
    assert np.all(cmp["ratio"].sel(model="DADVI").values[0] < 1)


def test_deterministics_of_pymc_extras_fits():
    # a model with Deterministics: Laplace and DADVI compute them through the model's graph
    # (exact for s2 = s**2, QMC for the vector one); Pathfinder's draws carry them
    with pm.Model(coords={"g": ["a", "b"]}) as m:
        mu = pm.Normal("mu", 0.0, 1.0)
        s = pm.HalfNormal("s", 1.0)
        pm.Deterministic("s2", s**2)
        pm.Deterministic("theta", mu + s * np.array([-1.0, 1.0]), dims="g")
        pm.Normal("y", mu, s, observed=Y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = {"Laplace": pmx.fit(method="laplace", progressbar=False, random_seed=1),
                    "Pathfinder": pmx.fit(method="pathfinder", progressbar=False, random_seed=1)}
    for name, fit in fits.items():
        res = plm.local_mass(fit, model=m, var_names=["s2", "theta"], centers={"s2": 0.0, "theta": "mean"})
        tiers = res.attrs["variable_tiers"]
        if name == "Laplace":
            assert tiers == "s2:analytic,theta:qmc"
            assert np.isposinf(float(plm.mass_index(fit, model=m, var_names="s2", centers={"s2": 0.0})["s2"]
                                     .sel(center="0", index_stat="a")))
        else:
            assert set(tiers.split(",")) == {"s2:samples-of-approximation", "theta:samples-of-approximation"}
    ref = fits["Pathfinder"]["posterior"].to_dataset()  # one chain of independent draws, Deterministics included
    ref.attrs["independent"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(ref, approximations={"Laplace": fits["Laplace"]}, model=m, warn=False)
    assert {"s2", "theta", "mu", "s"} == set(res.comparison["variable"].values)


def test_collapsed_laplace_fit_is_reported_not_a_crash():
    # eight schools, non-centred: the Laplace fit's log tau has a huge variance (tau collapses
    # towards 0, the mass spreads over the whole float range). summary and check must report
    # it: tau holds about half its mass at any small radius; theta = mu + tau * theta_t
    # overflows in the fit's transform and its draws, so check leaves it out, saying why
    y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
    s = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])
    with pm.Model(coords={"school": list("ABCDEFGH")}) as m:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        th = pm.Normal("theta_t", 0, 1, dims="school")
        pm.Deterministic("theta", mu + tau * th, dims="school")
        pm.Normal("obs", mu + tau * th, s, observed=y, dims="school")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(300, tune=300, chains=2, cores=1, random_seed=7, progressbar=False,
                              target_accept=0.95, compute_convergence_checks=False)
            lap = pmx.fit(method="laplace", progressbar=False, random_seed=1)
    post = lap.posterior if hasattr(lap, "posterior") else lap["posterior"]
    assert float(np.var(np.log(post["tau"].values[np.isfinite(np.log(post["tau"].values))]))) > 1e3  # collapsed
    with pytest.warns(UserWarning, match="sd is not finite"):
        curves = plm.local_mass(lap, var_names=["tau"], centers={"tau": 0.0}, model=m)
    mass = curves["tau"].sel(local_stat="mass").values.ravel()
    assert np.all(np.isfinite(mass)) and np.all((mass > 0.45) & (mass < 0.55))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(idata, approximations={"Laplace": lap}, model=m, warn=False)
    assert "theta" in res.left_out and "non-finite" in res.left_out["theta"]
    assert any(f.kind == "approximation" and f.variable == "tau" for f in res.findings)
    # local_kl against the collapsed fit (its draws of tau reach 0 and inf in float) is a reading,
    # not an error: forward finite; reverse infinite (the fit's underflowed draws are an atom at 0
    # NUTS lacks), with the mass term as its lower end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kl = plm.local_kl(idata, lap, (0.0, 0.5), var_names="tau", model=m)
    fwd, rev = kl.sel(direction="forward"), kl.sel(direction="reverse")
    assert np.isfinite(float(fwd["kl"])) and float(fwd["kl_lower"]) <= float(fwd["kl"]) <= float(fwd["kl_upper"])
    assert float(fwd["mass_term"]) > 0.1  # NUTS holds ~0.1 in (0, 0.5), the fit ~0.5
    assert float(rev["nu_mass"]) < 0.3 < float(rev["mu_mass"])  # the fit holds far more mass near 0
    assert np.isposinf(float(rev["kl"])) and float(rev["kl_lower"]) == pytest.approx(float(rev["mass_term"]))
