"""Issue 12: the post-fit workflow on ordinary models (Deterministics, shared variables, independent
draws, ArviZ-like tables, plain findings, local_kl with atoms). The end-to-end model suite is in
tests/models/."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pymc_localmass as plm
from pymc_localmass._compat import get_group
from pymc_localmass.adapters.approx import from_approximation
from pymc_localmass.check import render_finding

pm = pytest.importorskip("pymc")


@pytest.fixture(scope="module")
def det_fit():
    """A model with Deterministics: a monotone one of a scalar (tau2 = tau**2), a vector one
    (theta = mu + tau * z) and one of data only; mean-field ADVI."""
    with pm.Model(coords={"g": ["a", "b", "c"]}) as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        tau = pm.HalfNormal("tau", 1.0)
        z = pm.Normal("z", 0.0, 1.0, dims="g")
        pm.Deterministic("theta", mu + tau * z, dims="g")
        pm.Deterministic("tau2", tau**2)
        pm.Deterministic("const", pm.math.constant(np.arange(3.0)))
        pm.Normal("y", mu + tau * z, 1.0, observed=np.array([0.5, -0.3, 1.2]), dims="g")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            approx = pm.fit(3000, progressbar=False, random_seed=3, obj_optimizer=pm.adam(learning_rate=0.02))
    return model, approx


# ----------------------------------------------------------------------------- 1. Deterministics
def test_deterministics_of_an_approximation(det_fit):
    model, approx = det_fit
    fit = from_approximation(approx)
    assert {"theta", "tau2"} <= set(fit.variables) and "const" not in fit.variables
    assert "data only" in fit.omitted["const"]
    assert fit.variables["tau2"].source == "tau" and fit.variables["theta"].source is None
    curves = plm.local_mass(approx, var_names=["tau2", "theta"], centers={"tau2": [0.0, "mean"]})
    assert curves.attrs["variable_tiers"] == "tau2:analytic,theta:qmc"
    assert curves.attrs["monotone_deterministics"] == "tau2" and "const" in curves.attrs["omitted"]
    # exact: the ball [0, r] of tau2 is tau <= sqrt(r), a log-normal's mass
    m_, s_ = (float(np.ravel(v)[0]) for v in fit.marginal("tau"))
    c = curves["tau2"].sel(center="0")
    r, mass = c.sel(local_stat="radius").values, c.sel(local_stat="mass").values
    np.testing.assert_allclose(mass, stats.norm.cdf((np.log(np.sqrt(r)) - m_) / s_), rtol=1e-9)
    index = plm.mass_index(approx, var_names=["tau2"], centers={"tau2": [0.0, "mean"]})
    a = index["tau2"].sel(index_stat="a")
    assert np.isposinf(float(a.sel(center="0")))  # tau2 = 0 is not attained: no mass at any power
    assert abs(float(a.sel(center="mean")) - 1.0) < 0.01  # a smooth, monotone map: a = 1
    # the Deterministic's draws are the model's: theta = mu + tau z
    draws = fit.sample(n_draws=200, n_chains=2, seed=1)
    np.testing.assert_allclose(draws["theta"].values, draws["mu"].values[..., None]
                               + draws["tau"].values[..., None] * draws["z"].values, rtol=1e-8)
    assert draws["theta"].dims[-1] == "g"
    # ELBO unchanged by the Deterministics (free variables only)
    assert np.isfinite(fit.elbo(n=200)[0])


def test_check_with_deterministics_and_named_variables(det_fit):
    model, approx = det_fit
    ref = approx.sample(2000, random_seed=5)  # draws with theta and tau2, one chain of independent draws
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(ref, approximations={"ADVI": approx}, warn=False)
        assert set(res.comparison["variable"].values) == {"mu", "tau", "z", "theta", "tau2"}
        res = plm.check(ref, approximations={"ADVI": approx}, var_names=["theta", "tau2"], warn=False)
        assert set(res.comparison["variable"].values) == {"theta", "tau2"}
    assert not [f for f in res.findings if f.kind == "approximation"]  # its own draws agree with it


# ----------------------------------------------------------------------------- 2. shared variables
def test_compare_uses_the_shared_variables(det_fit):
    _, approx = det_fit
    rng = np.random.default_rng(0)
    ref = {"mu": rng.normal(size=(2, 500)), "tau": np.abs(rng.normal(size=(2, 500))),
           "extra": rng.normal(size=(2, 500))}
    cmp = plm.compare({"NUTS": ref, "ADVI": approx}, centers="mean")
    assert set(cmp["variable"].values) == {"mu", "tau"}
    assert cmp.attrs["left_out"] == "extra: 'ADVI' lacks it (not a variable of that fit)"
    cmp = plm.compare({"NUTS": ref, "ADVI": approx}, var_names=["~mu"], centers={"tau": 0.0, "extra": "mean"})
    assert set(cmp["variable"].values) == {"tau"}
    with pytest.raises(ValueError, match="variable 'extra', which you named, cannot be compared: 'ADVI' lacks it"):
        plm.compare({"NUTS": ref, "ADVI": approx}, var_names=["tau", "extra"])
    res = plm.check(ref, approximations={"ADVI": approx}, warn=False)
    assert res.left_out == {"extra": "'ADVI' lacks it (not a variable of that fit)"}


@pytest.fixture
def data_fit():
    """A regression on pm.Data with a Deterministic of it: NUTS and mean-field ADVI on the same data."""
    rng = np.random.default_rng(1)
    xo = rng.normal(size=20)
    with pm.Model(coords={"obs": range(20)}) as model:
        x = pm.Data("x", xo, dims="obs")
        a, b = pm.Normal("a", 0, 5), pm.Normal("b", 0, 5)
        mu = pm.Deterministic("mu", a + b * x, dims="obs")
        pm.Normal("y", mu, 1.0, observed=1 + 2 * xo + rng.normal(size=20), shape=x.shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(300, tune=300, chains=2, progressbar=False, random_seed=1,
                              compute_convergence_checks=False)
            approx = pm.fit(3000, progressbar=False, random_seed=1)
    return model, idata, approx, xo


def test_set_data_after_fitting_leaves_graph_deterministics_out(data_fit):
    """pm.set_data after the fits (new data for predictions): an approximation's Deterministics are
    computed through the model with its *current* data, no longer the reference's quantities. Before,
    check() compared them anyway (a silent mismatch when the shape stayed; a plain ValueError about
    coordinates when it shrank)."""
    from pymc_localmass.errors import InvalidInputError

    model, idata, approx, xo = data_fit
    assert "x" in get_group(idata, "constant_data")
    fits = {"NUTS": idata, "ADVI": approx}
    with model:
        pm.set_data({"x": xo + 5.0})  # the same shape, other values
    res = plm.check(idata, approximations={"ADVI": approx}, model=model, warn=False)
    assert set(res.left_out) == {"mu"} and "['x'] differ" in res.left_out["mu"]
    assert "mu" not in set(res.comparison["variable"].values)
    assert {"a", "b"} <= set(res.comparison["variable"].values)
    with pytest.raises(InvalidInputError, match="variable 'mu', which you named.*pm.set_data"):
        plm.compare(fits, var_names=["mu"], model=model)
    with model:
        pm.set_data({"x": xo[:10]}, coords={"obs": range(10)})  # a shorter dimension
    with pytest.raises(InvalidInputError, match="different coordinates for 'mu'.*current data \\(x\\)"):
        # a reference without the data it was fitted with (its posterior group alone)
        plm.compare({"NUTS": get_group(idata, "posterior"), "ADVI": approx}, model=model)
    with model:
        pm.set_data({"x": xo}, coords={"obs": range(20)})  # the fitting data again: compared
    cmp = plm.compare(fits, model=model, centers="mean")
    assert "mu" in set(cmp["variable"].values) and not cmp.attrs.get("left_out")


def test_set_data_after_fitting_stops_the_models_density(data_fit):
    """After pm.set_data the model's density is another posterior than the draws': the model tier and
    centre "map" raised PyTensor's shape errors from deep inside (or, with the same shape, would
    integrate the wrong posterior); check(model=) now leaves its model tier out with a warning, and
    the reference-free check names the model's data."""
    from pymc_localmass.check import LocalMassWarning
    from pymc_localmass.errors import InvalidInputError

    model, idata, approx, xo = data_fit
    with model:
        pm.set_data({"x": xo + 1.0})  # same shape: silently another posterior before
    with pytest.raises(InvalidInputError, match="the model tier uses the model's density.*\\['x'\\] differ"):
        plm.mass_index(idata, model=model, method="model", var_names=["a"], centers={"a": 0.5})
    with pytest.raises(InvalidInputError, match="centre 'map'.*\\['x'\\] differ"):
        plm.summary(idata, model=model, var_names=["a"], centers="map")
    with pytest.warns(UserWarning, match="does not use the model tier") as rec:
        res = plm.check(idata, model=model, var_names=["a", "b"])
    # (about the call, not a finding: not a LocalMassWarning, which users may turn into errors)
    assert not any(isinstance(w.message, LocalMassWarning) and "does not use the model tier" in str(w.message)
                   for w in rec)
    assert "a" in set(res.table["variable"])
    with model:
        pm.set_data({"x": xo[:10]}, coords={"obs": range(10)})  # a shorter dimension
    with pytest.raises(InvalidInputError, match="log density cannot be evaluated with its current data"):
        plm.check(approximations={"ADVI": approx}, model=model, var_names=["a"])
    with model:
        pm.set_data({"x": xo}, coords={"obs": range(20)})  # the fitting data: the model is used again
    assert np.isfinite(float(plm.mass_index(idata, model=model, method="model", var_names=["a"],
                                            centers={"a": 0.5})["a"].sel(index_stat="a").squeeze()))


def test_centers_for_some_variables_keep_the_defaults_of_the_others(tmp_path):
    """check(centers={"mu": ...}) named mu's centres only; tau fell back to its mean and lost the
    default centre at its boundary 0, where a scale's findings are."""
    rng = np.random.default_rng(0)
    data = {"tau": np.abs(rng.normal(size=(4, 1000))), "mu": rng.normal(5, 1, size=(4, 1000))}
    res = plm.check(data, centers={"mu": 5.0}, warn=False)
    assert set(res.table.index.get_level_values("region")) == {"tau @ 0", "tau @ mean", "mu @ 5"}
    # a named centre the draws cannot resolve is a finding (requested); the defaults are not requested
    res = plm.check(data, centers={"mu": 50.0}, warn=False)
    assert [(f.kind, f.variable) for f in res.findings] == [("unresolved", "mu")]
    # the report compares the same regions
    html = tmp_path / "r.html"
    plm.report({"A": data, "B": {k: v[:, ::-1] for k, v in data.items()}}, html, centers={"mu": 5.0})
    assert "tau @ 0" in html.read_text()


def test_a_variable_with_some_constant_elements_is_compared():
    # an LKJ correlation matrix (outside check): its unit diagonal never varies, its off-diagonals do;
    # check() left the whole variable out ("1 of its 9 elements is constant ... summary and
    # add_local_mass measure the others"). The varying elements are compared; a pinned element at its
    # own value is no finding (before: an atom finding per diagonal entry, had it been compared)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 1000, 3)), rng.normal(size=(4, 1000, 3))
    x[..., 0] = y[..., 0] = 1.0
    res = plm.check({"x": x}, approximations={"B": {"x": y}}, warn=False)
    assert not res.left_out and not res.findings
    regions = set(res.table.loc["B"].index)
    assert {"x[1] @ mean", "x[2] @ mean"} <= regions
    assert np.isfinite(res.table.loc[("B", "x[1] @ mean"), "ratio"])
    # a variable that never varies at all is still left out, with the reason
    res = plm.check({"x": x, "c": np.ones((4, 1000))}, warn=False)
    assert "constant in the draws" in res.left_out["c"]
    # NUTS's unit diagonal of an LKJ correlation matrix reads 1 and 1 - 1.1e-16 (rounding): it never
    # varies (before: "a point mass at 1: 0.48 [0.45, 0.5] of the draws are exactly there")
    x[..., 0] = np.where(rng.random((4, 1000)) < 0.5, 1.0, 1.0 - 1.1e-16)
    row = plm.summary({"x": x}).loc[("x[0]", "mean")]
    assert row["status"] == "atom" and row["atom"] == 1.0 and row["atom_lower"] == 1.0
    assert not plm.check({"x": x}, warn=False).findings


# ----------------------------------------------------------------------------- 3. independent draws
def test_independent_draws_work_with_one_chain(det_fit):
    _, approx = det_fit
    draws = approx.sample(2000, random_seed=1)
    assert get_group(draws, "posterior").sizes["chain"] == 1
    curves = plm.local_mass(draws, var_names="tau", centers={"tau": 0.0})
    assert curves.attrs["independent"] == 1
    c = curves["tau"].sel(center="0")
    # ESS of independent draws is the draw count: the effective draws inside are mass x 2000
    np.testing.assert_allclose(c.sel(local_stat="ess").values, 2000 * c.sel(local_stat="mass").values)
    rng = np.random.default_rng(1)
    one = {"x": rng.normal(size=(1, 1000))}
    with pytest.raises(ValueError, match="single chain.*MCMC.*independent=True"):
        plm.local_mass(one)
    res = plm.local_mass(one, independent=True, centers=0.0, radii=[0.5])
    lo, m, hi = (float(res["x"].sel(local_stat=s).squeeze()) for s in ("mass_lower", "mass", "mass_upper"))
    assert lo < stats.norm.cdf(0.5) - stats.norm.cdf(-0.5) < hi and lo < m < hi
    assert float(res["x"].sel(local_stat="ess").squeeze()) == pytest.approx(1000 * m)


def test_one_chain_of_mcmc_stays_an_error():
    with pm.Model():
        pm.Normal("x")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(100, tune=100, chains=1, progressbar=False, random_seed=1,
                              compute_convergence_checks=False)
    with pytest.raises(ValueError, match="single chain; local-mass intervals of MCMC draws need at least 2"):
        plm.local_mass(idata)
    # the posterior group on its own (a DataTree node, idata.posterior): no sample_stats beside it
    # to show it is MCMC, which read as independent draws (one chain of NUTS, rhat NaN, "ok")
    from pymc_localmass._compat import MODERN

    node = idata.posterior if MODERN else get_group(idata, "posterior")
    with pytest.raises(ValueError, match="single chain; local-mass intervals of MCMC draws need at least 2"):
        plm.local_mass(node)
    assert plm.local_mass(node, independent=True).attrs["independent"] == 1


# ----------------------------------------------------------------------------- 4. tables, sentences
def test_summary_round_to_and_fmt():
    rng = np.random.default_rng(2)
    data = {"x": rng.normal(size=(4, 500, 2))}
    raw = plm.summary(data, round_to="none")
    auto = plm.summary(data)
    np.testing.assert_array_equal(auto.to_numpy(), raw.to_numpy())  # raw numbers, printed rounded
    assert "0.99887" not in repr(auto) and f"{raw['a'].iloc[0]:.3g}" in repr(auto)
    two = plm.summary(data, round_to=2)
    for v, w in zip(two["a_lower"], raw["a_lower"]):
        assert v == float(f"{w:.2g}")
    long = plm.summary(data, fmt="long")
    assert list(long.index.names) == ["variable", "center", "stat"] and list(long.columns) == ["value"]
    assert long.shape[0] == raw.size
    assert float(long.loc[("x[0]", "mean", "a"), "value"]) == raw.loc[("x[0]", "mean"), "a"]
    with pytest.raises(ValueError, match="fmt must be one of"):
        plm.summary(data, fmt="xarray")
    with pytest.raises(ValueError, match="round_to must be"):
        plm.summary(data, round_to=-1)
    # other columns (e.g. a status word) pass through the rounding
    auto["status"] = "ok"
    assert "ok" in repr(auto)
    # subnormal and huge figures (a resolution of 1e-310) round without an overflow or a NaN
    from pymc_localmass.summary import _round_sig

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _round_sig(np.array([5e-324, 1.23456e-310, 1.23456e306, -1.23456, 0.0, np.inf, np.nan]), 3)
    np.testing.assert_array_equal(got[:5], [5e-324, 1.23e-310, 1.23e306, -1.23, 0.0])
    assert np.isposinf(got[5]) and np.isnan(got[6])


def test_centres_are_shown_with_every_digit_before_the_point():
    # a switch point's centres 1890, 1890.5 and its mode 1891 all showed "1890.0" and "1.89e+03"
    # (three significant digits), so an atom row and a lattice row seemed to be at one point
    rng = np.random.default_rng(0)
    years = {"sp": rng.choice([1886, 1889, 1890, 1891, 1896], size=(2, 1000), p=[0.1, 0.2, 0.2, 0.3, 0.2])}
    s = plm.summary(years, centers={"sp": {"y1890": 1890.0, "half": 1890.5, "mode": "mode"}})
    shown = repr(s[["center_value", "status"]])
    assert "1890.5" in shown and "1891.0" in shown
    assert "(1890.5)" in s.loc[("sp", "half"), "note"] and "(1891)" in s.loc[("sp", "mode"), "note"]
    assert "e+03" not in " ".join(s["note"])
    assert s.loc[("sp", "mode"), "center_value"] == 1891.0


def test_finding_sentence_and_what_to_do():
    figs = dict(radius=0.07, mass=4.8e-11, ref_mass=0.13, ref_mass_lower=0.07, ref_mass_upper=0.2,
                ratio=3.7e-10, ratio_lower=2e-10, ratio_upper=7e-10, phi_reverse=0.1299)
    msg, reading, advice = render_finding("approximation", "sigma_a", 0.0, figs, model="ADVI", reference="NUTS")
    assert msg.startswith("ADVI puts 4.8e-11 of its mass within 0.07 of sigma_a = 0; NUTS puts 0.13 [0.07, 0.2] "
                          "there")
    assert "the ELBO can miss this: the mismatch costs it as little as 0.13 nats." in msg
    assert "rely on NUTS draws, not ADVI" in advice
    rng = np.random.default_rng(3)
    x = np.where(rng.random((4, 1000)) < 0.3, 0.0, rng.normal(size=(4, 1000)))
    with pytest.warns(plm.LocalMassWarning, match=r"x has a point mass at 0: 0.3\d* \[.*What to do: report"):
        res = plm.check({"x": x}, centers={"x": 0.0})
    assert "What to do:" in repr(res)


# ----------------------------------------------------------------------------- 5. local_kl
def test_local_kl_atom_is_infinite_and_estimate_in_interval():
    rng = np.random.default_rng(0)
    n = 4000
    p = np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n))
    with pytest.warns(RuntimeWarning, match=r"KL_A\(p \|\| q\) is infinite.*atom at 0.*eps"):
        res = plm.local_kl(p, stats.norm(0, 1), region=(-0.1, 0.1))
    fwd = res.sel(direction="forward")
    assert np.isposinf(float(fwd["kl"])) and float(fwd["kl_lower"]) > 0
    for d in ("forward", "reverse"):
        r = res.sel(direction=d)
        assert float(r["kl_lower"]) <= float(r["kl"]) <= float(r["kl_upper"]) and float(r["kl"]) >= 0
    # the regularised form, with the densities, is finite
    reg = plm.local_kl(stats.norm(0, 1), stats.norm(0, 1), (-0.1, 0.1), p_atoms={0.0: 0.3}, eps=1e-3,
                       direction="forward")
    assert np.isfinite(float(reg["kl"].squeeze())) and float(reg["kl"].squeeze()) > 0


def test_centre_map_says_nothing_of_pymcs_future_defaults():
    """PyMC 6's find_MAP announces new defaults (a jittered start, an InferenceData result) with
    FutureWarnings; centre "map" passed them on to the user for every variable."""
    from pymc_localmass.adapters.pymc import map_point

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu, 1.0, observed=np.array([0.3, 0.5]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        point = map_point(model)
    assert abs(float(point["mu"]) - 0.8 / 3) < 1e-4  # (0.3 + 0.5) / (2 + 1)


def test_centre_map_warns_that_find_map_leaves_discrete_variables_unoptimised():
    # find_MAP optimises continuous variables only: a switch point stayed at its initial point
    # (the middle of its support, far from the draws) without a word, and the rate's "map" was
    # conditional on it
    rng = np.random.default_rng(0)
    with pm.Model() as model:
        k = pm.DiscreteUniform("k", 0, 40)
        rate = pm.Exponential("rate", 1.0)
        pm.Poisson("y", rate, observed=rng.poisson(3.0, 30))
        pm.Potential("near_ten", -0.5 * (k - 10.0) ** 2)
    draws = {"k": rng.integers(8, 13, (2, 300)), "rate": rng.gamma(90, 1 / 30, (2, 300))}
    with pytest.warns(UserWarning, match=r"does not optimise the discrete variable\(s\) \['k'\].*centers='mode'"):
        s = plm.summary(draws, model=model, centers="map")
    assert s.loc[("k", "map"), "center_value"] == 20.0  # the initial point, as find_MAP leaves it


def test_sampler_note_on_an_atom_says_its_weight_is_in_doubt_not_that_it_is_unreached():
    # max(theta - 10, 0) of the centred eight schools: 79% of the draws sit at 0 and every
    # divergence with them; the note said "the sampler may not reach" a point most draws are at
    from pymc_localmass.core.curves import STATUS_WORDS
    from pymc_localmass.results import status_note

    row = {"status": float(STATUS_WORDS.index("sampler")), "atom": 0.79, "atom_lower": 0.77, "atom_upper": 0.81,
           "a": 0.0, "a_lower": 0.0, "a_upper": 0.0, "n_divergent": 133.0, "divergent_near": 133.0,
           "chain_z": 0.5, "n_near": 3000.0, "nearest": 0.0, "scale": 3.0}
    note = status_note(row, "scaled[0]", "0")
    assert note.startswith("133 of 133 divergent transitions fall among the draws nearest scaled[0] = 0")
    assert "the draws reach the atom at scaled[0] = 0 (0.79 of them)" in note and "may not reach" not in note
    assert "may not reach" in status_note(dict(row, atom=0.0, a=1.0), "x", "0")


def test_unresolved_note_blames_few_effective_draws_not_distance_when_draws_are_near():
    # a badly mixed chain (a centred random walk's sd): draws lie at the mean but carry about six
    # effective draws; the note said "no draw within 0.0011 sd of sigma = mean"
    from pymc_localmass.core.curves import STATUS_WORDS
    from pymc_localmass.results import status_note

    row = {"status": float(STATUS_WORDS.index("unresolved")), "a": np.nan, "a_lower": 0.0, "a_upper": np.inf,
           "nearest": 0.0011, "scale": 1.0, "n_near": 6.0, "r_resolved": 0.4, "window": 0.3}
    note = status_note(row, "sigma", "mean (0.21)")
    assert note.startswith("only 6 effective draws lie within one sd of sigma = mean (0.21)")
    assert "chains move too slowly" in note and "no draw within" not in note
    far = status_note(dict(row, nearest=4.0), "sigma", "0")
    assert far.startswith("no draw within 4 sd of sigma = 0")


def test_independent_draws_in_a_thin_tail_are_not_called_slow_chains():
    # independent N(0, 1) draws at 3.5: 19 draws within one sd, the nearest 0.12 sd away; the note
    # said "the chains move too slowly ... run longer chains or reparameterise" (outside test)
    x = np.random.default_rng(700001).standard_normal((4, 1000))
    row = plm.summary({"x": x}, centers={"x": 3.5}, independent=True).iloc[0]
    assert row.status == "unresolved" and row.n_near < 40 and row.nearest < 0.25 * row.scale
    assert "chains" not in row.note and row.note.startswith("no draw within 0.12 sd of x = 3.5")
    # as MCMC draws, too few effective draws among many draws near the centre are slow chains;
    # among as few draws (19 of them, 19 effective) a thin tail still
    from pymc_localmass.results import status_note

    assert row.n_near_draws == pytest.approx(row.n_near, rel=0.2) and row.n_near_draws < 20
    assert "chains" not in status_note(row.to_dict(), "x", "3.5")
    assert "chains move too slowly" in status_note(dict(row.to_dict(), n_near_draws=190.0), "x", "3.5")


def test_a_far_tail_visited_by_few_draws_is_not_called_slow_chains():
    # outside check: well-mixed chains (a mixture's minor component; here three draws near 0 among
    # 2000 at 1.5 +- 0.2): "only 3 effective draws ... the chains move too slowly ... reparameterise"
    rng = np.random.default_rng(0)
    x = rng.normal(1.5, 0.2, (2, 1000))
    x[1, [100, 500, 900]] = [0.02, -0.05, 0.11]
    row = plm.summary({"mu": x}, centers={"mu": 0.0}, round_to="none").iloc[0]
    assert row.status == "unresolved" and row.n_near_draws == 3
    assert "chains" not in row.note and row.note.startswith("no draw within 0.096 sd of mu = 0")


def test_a_constant_discrete_element_at_another_centre_is_said_plainly():
    # a Categorical assignment that is 0 in every draw, asked about at 1: the finding read "z[0] is
    # constant in the draws, 1 from z[0] = 1" (as if it were 1) and advised "more draws"
    rng = np.random.default_rng(0)
    z = np.stack([np.zeros((4, 500), int), rng.integers(0, 2, (4, 500))], axis=-1)
    res = plm.check({"z": z}, centers={"z": 1}, warn=False)
    (f,) = [f for f in res.findings if f.variable == "z[0]"]
    assert f.kind == "unresolved"
    assert "every draw of z[0] takes one value, at distance 1 from the centre z[0] = 1" in f.message
    assert "more draws" not in f.advice and "stuck" in f.advice


def test_model_tier_row_that_resolves_no_radius_is_not_sent_to_the_model_tier():
    # a model-tier curve whose radii are all unresolved: its note advised check(model=) or
    # local_mass(..., method='model'), the very call that produced it
    from pymc_localmass.core.curves import STATUS_WORDS
    from pymc_localmass.results import status_note

    row = {"status": float(STATUS_WORDS.index("unresolved")), "a": np.nan, "a_lower": 0.0, "a_upper": np.inf,
           "nearest": np.nan, "scale": 13.0, "n_near": 1e15, "r_resolved": np.inf, "window": np.nan}
    note = status_note(row, "nu", "0", tier="model")
    assert note.startswith("the model's density resolves no radius") and "method='model'" not in note
    assert "method='model'" in status_note(row, "nu", "0", tier="samples")


def test_printed_intervals_hold_their_estimate_and_the_raw_interval():
    # a model-tier row 36.07 [35.99, 36.15] printed as 36.1 [36.0, 36.0]: the ends at two significant
    # digits, to nearest. They are rounded outward now, with a digit more where they would print alike
    from pymc_localmass.summary import SummaryDataFrame, _rounded

    raw = pd.DataFrame({"a": [36.074179, 1.0213, 2.3, np.inf, 0.5], "a_lower": [35.99483, 0.9312, 1.6, 4.5, 0.5],
                        "a_upper": [36.153529, 1.234, 9.3, np.inf, 0.5]})
    shown = _rounded(SummaryDataFrame(raw))
    np.testing.assert_array_equal(shown["a_lower"], [35.9, 0.93, 1.6, 4.5, 0.5])
    np.testing.assert_array_equal(shown["a_upper"], [36.2, 1.3, 9.3, np.inf, 0.5])
    assert np.all(shown["a_lower"] <= raw["a_lower"]) and np.all(shown["a_upper"] >= raw["a_upper"])
    assert np.all((shown["a_lower"] <= shown["a"]) & (shown["a"] <= shown["a_upper"]))
    rng = np.random.default_rng(7)
    table = plm.summary({"x": rng.gamma(2.0, size=(4, 500, 30))}, centers=0.0)
    shown, raw = _rounded(table), pd.DataFrame(table)
    ok = np.isfinite(raw["a"])
    assert np.all(shown["a_lower"][ok] <= raw["a_lower"][ok]) and np.all(shown["a_upper"][ok] >= raw["a_upper"][ok])


def test_missing_data_join_is_left_out_by_default_with_a_word():
    # outside checks (twice): a masked observation's "y" joins the observed values (constants) and
    # the imputed entries ("y_unobserved"): the table held one atom row per observed value and
    # compare() read NUTS NaN against ADVI's mass 1 there
    rng = np.random.default_rng(1)
    y = rng.normal(1, 2, 30)
    y[[3, 7, 11]] = np.nan
    with pm.Model():
        mu = pm.Normal("mu", 0, 5)
        pm.Normal("y", mu, pm.HalfNormal("s", 3), observed=np.ma.masked_invalid(y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(300, tune=300, chains=2, cores=1, progressbar=False, random_seed=1,
                              compute_convergence_checks=False)
    with pytest.warns(UserWarning, match=r"left out variable\(s\) \['y'\]: PyMC's join of observed data and imputed "
                                         r"entries, which are analysed as \['y_unobserved'\]"):
        rows = plm.summary(idata)
    assert sorted({v.split("[")[0] for v in rows.index.get_level_values("variable")}) == ["mu", "s", "y_unobserved"]
    assert plm.summary(idata, var_names=["y"]).shape[0] == 30  # asked for: every element, as before
