"""Bad input: a specific error naming what is wrong, the user's object untouched."""

import copy

import numpy as np
import pytest
import xarray as xr

import pymc_localmass as plm
from conftest import make_container
from pymc_localmass._compat import container_groups, get_group


def _snapshot(container):
    return {g: get_group(container, g).copy(deep=True) for g in container_groups(container)}


def _unchanged(container, snap):
    assert container_groups(container) == list(snap)
    for g, ds in snap.items():
        xr.testing.assert_identical(get_group(container, g), ds)


def test_unknown_variable(container):
    snap = _snapshot(container)
    with pytest.raises(KeyError, match="'nope'"):
        plm.add_local_mass(container, var_names=["nope"])
    _unchanged(container, snap)


def test_missing_group(container):
    with pytest.raises(KeyError, match="group 'posterior_predictive' not found"):
        plm.local_mass(container, group="posterior_predictive")


def test_nan_draws_named_and_omit(rng):
    x = rng.normal(size=(4, 200, 3))
    x[1, 5, 2] = np.nan
    data = make_container(posterior={"beta": x})
    snap = _snapshot(data)
    with pytest.raises(ValueError, match=r"variable 'beta' has non-finite draws.*beta\[2\]"):
        plm.add_local_mass(data)
    _unchanged(data, snap)
    res = plm.local_mass(data, nan_policy="omit", radii=[1.0])
    assert np.isfinite(res["beta"].sel(local_stat="mass").values).all()


def test_all_nan_draws_with_omit_say_so(rng):
    with pytest.raises(ValueError, match="too few finite draws; that is with nan_policy='omit'"):
        plm.local_mass({"x": np.full((4, 100), np.nan)}, nan_policy="omit")


def test_misspelt_keyword_named_with_the_nearest(container):
    with pytest.raises(TypeError, match=r"local_mass\(\) got an unexpected keyword argument 'centres' "
                                        r"\(did you mean 'centers'\?\)"):
        plm.local_mass(container, centres=0.0)
    with pytest.raises(TypeError, match=r"add_local_mass\(\) got an unexpected keyword argument 'var_name'"):
        plm.add_local_mass(container, var_name="tau")


def test_draw_dims_named_like_the_results_axes(rng):
    for dim in ("center", "radius", "local_stat", "index_stat"):
        ds = xr.Dataset({"x": (("chain", "draw", dim), rng.normal(size=(2, 100, 3)))})
        with pytest.raises(ValueError, match=rf"dimension\(s\) \['{dim}'\], names the results use"):
            plm.local_mass(ds)
    # a dim called "group" is fine, except when several groups are stacked along "group"
    assert "x" in plm.local_mass(xr.Dataset({"x": (("chain", "draw", "group"), rng.normal(size=(2, 100, 3)))}))
    import arviz as az
    from pymc_localmass._compat import MODERN

    post, prior = {"x": rng.normal(size=(2, 100, 3))}, {"x": rng.normal(size=(2, 100, 3))}
    dims = {"x": ["group"]}
    two = (az.from_dict({"posterior": post, "prior": prior}, dims=dims) if MODERN
           else az.from_dict(posterior=post, prior=prior, dims=dims))
    with pytest.raises(ValueError, match="dimension or a name 'group', the dim that several groups are stacked along"):
        plm.local_mass(two, group=["posterior", "prior"])


def test_results_datasets_take_only_a_selection(rng):
    res = plm.local_mass({"x": rng.normal(size=(4, 300)), "y": rng.normal(size=(4, 300))}, centers=0.0)
    assert list(plm.local_mass(res, var_names="~x").data_vars) == ["y"]
    assert list(plm.mass_index(res, var_names=["x"]).data_vars) == ["x"]
    with pytest.raises(TypeError, match=r"mass_index\(\) got a results dataset .* 'centers' cannot apply"):
        plm.mass_index(res, centers=5.0)
    with pytest.raises(TypeError, match=r"local_mass\(\) got a results dataset .* 'radii' cannot apply"):
        plm.local_mass(res, radii=[1.0])


def test_inf_draws(rng):
    x = rng.normal(size=(4, 200))
    x[0, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        plm.local_mass({"x": x})


def test_radius_not_positive(container):
    with pytest.raises(ValueError, match="must be > 0"):
        plm.local_mass(container, var_names="tau", radii=[0.0, 0.1])
    with pytest.raises(ValueError, match="must be > 0"):
        plm.local_mass(container, var_names="tau", radii=[-1.0])
    with pytest.raises(ValueError, match="duplicates"):
        plm.local_mass(container, var_names="tau", radii=[0.1, 0.1])


def test_center_of_wrong_shape(container):
    with pytest.raises(ValueError, match=r"centre for variable 'theta' has shape \(2,\), expected \(3,\)"):
        plm.local_mass(container, var_names="theta", centers=np.zeros(2))


def test_unknown_center_keyword_and_variable(container):
    with pytest.raises(ValueError, match="unknown centre keyword 'middle'"):
        plm.local_mass(container, centers="middle")
    with pytest.raises(KeyError, match="unknown or unselected variable"):
        plm.local_mass(container, var_names="tau", centers={"mu": 0.0})
    with pytest.raises(ValueError, match="needs model="):
        plm.local_mass(container, var_names="tau", centers="map")
    with pytest.raises(ValueError, match="no support boundary"):
        plm.local_mass(container, var_names="theta", centers="boundary")


def test_constant_variable(rng):
    from pymc_localmass.core.curves import INDEX_STATS, STATUS_WORDS

    data = {"c": np.full((4, 100), 3.0), "x": rng.normal(size=(4, 100))}
    # asked for by name: a specific error
    with pytest.raises(ValueError, match="variable 'c' is constant"):
        plm.local_mass(data, var_names=["c"])
    # by default (e.g. a constant Deterministic beside the parameters): left out, with a warning
    with pytest.warns(UserWarning, match=r"left out variable\(s\) \['c'\]: constant"):
        out = plm.local_mass(data)
    assert list(out.data_vars) == ["x"]
    with pytest.raises(ValueError, match="variable 'c' is constant"):  # nothing else to measure
        plm.local_mass({"c": data["c"]})
    # one constant element among several: a point mass, answered exactly; the others as usual
    y = rng.normal(size=(4, 100, 3))
    y[..., 1] = 0.5
    idx = plm.mass_index({"y": y}, centers={"y": {"mean": "mean", "zero": 0.0}})["y"]
    row = dict(zip(INDEX_STATS, idx.sel(y_dim_0=1, center="mean").values))
    assert STATUS_WORDS[int(row["status"])] == "atom" and row["atom"] == row["atom_lower"] == 1.0
    assert row["a"] == row["a_upper"] == 0.0 and row["center_value"] == 0.5
    row = dict(zip(INDEX_STATS, idx.sel(y_dim_0=1, center="zero").values))
    assert STATUS_WORDS[int(row["status"])] == "unresolved" and row["nearest"] == 0.5 and row["atom"] == 0.0
    assert np.isnan(row["a"]) and row["a_lower"] == 0.0 and np.isposinf(row["a_upper"])
    alone = plm.mass_index({"y": y[..., [0, 2]]}, centers={"y": {"mean": "mean", "zero": 0.0}})["y"]
    np.testing.assert_array_equal(idx.sel(y_dim_0=[0, 2]).values, alone.values)  # the others are unchanged
    curves = plm.local_mass({"y": y})["y"]
    assert curves.sel(y_dim_0=1).isnull().all() and curves.sel(y_dim_0=0).notnull().all()


def test_boundary_centre_from_the_model(rng):
    # centers="boundary" with model=: the support's end from the model's transform (the
    # Uniform(2, 5)'s 2, whose draws the sign rule cannot place), and a specific error for
    # a variable the model leaves unbounded (it used to say "its draws take both signs")
    pm = pytest.importorskip("pymc")
    with pm.Model() as m:
        pm.Normal("mu", 0, 1)
        pm.HalfNormal("sd", 1)
        pm.Uniform("p", 2, 5)
        pm.Uniform("rho", -1, 1)
    draws = {"sd": np.abs(rng.normal(size=(4, 500))), "p": 2 + 3 * rng.beta(1, 4, size=(4, 500)),
             "mu": rng.normal(size=(4, 500)), "rho": 1 - 0.5 * rng.beta(1, 3, size=(4, 500))}
    idx = plm.mass_index(draws, var_names=["sd", "p", "rho"], centers="boundary", model=m)
    assert float(idx["p"].sel(center="boundary", index_stat="center_value")) == 2.0
    # an interval's end nearer the draws (an AR(1)'s rho near 1 took -1, 50 sds away)
    assert float(idx["rho"].sel(center="boundary", index_stat="center_value")) == 1.0
    assert float(idx["sd"].sel(center="boundary", index_stat="center_value")) == 0.0
    with pytest.raises(ValueError, match="'mu': its support in the model is unbounded"):
        plm.mass_index(draws, centers="boundary", model=m)
    # without the model, the sign rule: one-signed draws put the boundary at 0
    plain = plm.mass_index(draws, var_names=["p"], centers="boundary")
    assert float(plain["p"].sel(center="boundary", index_stat="center_value")) == 0.0


@pytest.mark.parametrize("value", [0.1, 0.3, -0.084359])
def test_constant_whose_mean_rounds_off_its_value(rng, value):
    # 4000 copies of 0.1 sum to a mean 1.4e-17 above 0.1 (a pm.Deterministic of pm.Data): the
    # draws still never vary. It read "unresolved" with advice about rounding grids, while
    # -0.084359 (whose mean rounds exactly) was constant; now every value is
    from pymc_localmass.core.curves import INDEX_STATS, STATUS_WORDS

    c = np.full((4, 1000), value)
    with pytest.raises(ValueError, match="variable 'c' is constant"):
        plm.local_mass({"c": c}, var_names=["c"])
    with pytest.warns(UserWarning, match=r"left out variable\(s\) \['c'\]: constant"):
        plm.local_mass({"c": c, "x": rng.normal(size=(4, 1000))})
    y = np.stack([c, rng.normal(size=(4, 1000))], axis=-1)
    row = dict(zip(INDEX_STATS, plm.mass_index({"y": y})["y"].sel(y_dim_0=0, center="mean").values))
    assert STATUS_WORDS[int(row["status"])] == "atom" and row["atom"] == 1.0
    # 1e15 + N(0, 1): an sd of 8 units in the last place is variation, not rounding of a constant
    big = plm.mass_index({"x": 1e15 + rng.normal(size=(4, 1000))})["x"].sel(center="mean")
    assert STATUS_WORDS[int(big.sel(index_stat="status"))] != "atom"


def test_single_chain_and_few_draws(rng):
    with pytest.raises(ValueError, match="single chain"):
        plm.local_mass({"x": rng.normal(size=(1, 1000))})
    with pytest.raises(ValueError, match="only 10 draws per chain"):
        plm.local_mass({"x": rng.normal(size=(4, 10))})


def test_bad_arguments(container):
    with pytest.raises(ValueError, match="norm must be one of"):
        plm.local_mass(container, norm="l3")
    with pytest.raises(ValueError, match="ci_prob must be in"):
        plm.local_mass(container, ci_prob=1.5)
    with pytest.raises(ValueError, match="nan_policy"):
        plm.local_mass(container, nan_policy="ignore")
    with pytest.raises(ValueError, match="method must be one of"):
        plm.local_mass(container, method="magic")
    # the package's own errors (still ValueError / TypeError), and no string taken for a number
    from pymc_localmass.errors import InvalidInputError, InvalidTypeError

    for kw in (dict(norm="l3"), dict(ci_prob=1.5), dict(nan_policy="ignore"), dict(method="magic")):
        with pytest.raises(InvalidInputError):
            plm.local_mass(container, **kw)
    for bad in ("0.9", True):
        with pytest.raises(InvalidTypeError, match="ci_prob must be a number"):
            plm.local_mass(container, ci_prob=bad)
    with pytest.raises(ValueError, match="filter_vars"):
        plm.local_mass(container, var_names="t", filter_vars="glob")
    with pytest.raises(KeyError, match="unknown dimension"):
        plm.local_mass(container, coords={"school": [0]})


def test_bad_containers(rng):
    with pytest.raises(TypeError, match="DataTree, InferenceData, Dataset or dict"):
        plm.local_mass([1, 2, 3])
    with pytest.raises(ValueError, match=r"shape \(chain, draw, \.\.\.\)"):
        plm.local_mass({"x": np.zeros(10)})
    with pytest.raises(TypeError, match="add_local_mass needs a DataTree or InferenceData"):
        plm.add_local_mass({"x": rng.normal(size=(2, 50))})
    with pytest.raises(ValueError, match="no 'chain' dimension"):
        plm.local_mass(xr.Dataset({"x": ("draw", np.zeros(5))}))


def test_dict_input_not_mutated(rng):
    x = rng.normal(size=(4, 100))
    data = {"x": x}
    keep = copy.deepcopy(data)
    plm.local_mass(data, centers=0.0)
    np.testing.assert_array_equal(data["x"], keep["x"])


def test_validate_rejects_broken_results(container):
    res = plm.local_mass(container, var_names="tau")
    bad = res.drop_sel(local_stat="mass")
    with pytest.raises(ValueError, match=r"lacks labels \['mass'\]"):
        plm.validate(bad)
    no_attr = res.copy()
    del no_attr.attrs["tier"]
    with pytest.raises(ValueError, match="missing attribute 'tier'"):
        plm.validate(no_attr)


@pytest.mark.parametrize("window", [0, -5, 3, 1999, 10**6])
def test_window_outside_the_draws(window, rng):
    # 4 x 500 draws: a window holds 5 to 1998 nearest draws (was silently replaced)
    with pytest.raises(ValueError, match=r"variable 'x': window \[.*\] outside the 2000 draws: each window holds 5 "
                                         r"to 1998"):
        plm.mass_index({"x": rng.normal(size=(4, 500))}, centers=0.0, window=window)


def test_window_not_whole_numbers(rng):
    with pytest.raises(ValueError, match="window must be whole numbers"):
        plm.mass_index({"x": rng.normal(size=(4, 500))}, centers=0.0, window=2.5)


def test_window_honoured(rng):
    idx = plm.mass_index({"x": rng.normal(size=(4, 500))}, centers=0.0, window=[100, 1998])
    assert float(idx["x"].sel(center="0", index_stat="n_window")) in (100, 1998)
