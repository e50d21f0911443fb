"""Public API: adapters, selection, centres, results groups, round trips."""

import warnings

import numpy as np
import pytest
import xarray as xr

import pymc_localmass as plm
from conftest import make_container
from pymc_localmass._compat import MODERN, container_groups, default_ci_prob, get_group
from pymc_localmass.core.curves import CURVE_STATS, INDEX_STATS, STATUS_WORDS

REQUIRED_LOCAL = ["radius", "mass", "mass_lower", "mass_upper", "slope", "ess", "resolved"]
REQUIRED_INDEX = ["a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "atom", "atom_lower", "atom_upper",
                  "center_value", "scale"]


def test_labels_contract():
    assert all(lab in CURVE_STATS for lab in REQUIRED_LOCAL)
    assert all(lab in INDEX_STATS for lab in REQUIRED_INDEX)


def test_all_input_kinds_give_the_same_numbers(container, rng):
    post = get_group(container, "posterior")
    kw = dict(var_names=["theta"], radii=[0.1, 0.5], ci_prob=0.9)
    from_container = plm.local_mass(container, **kw)
    from_dataset = plm.local_mass(post, **kw)
    from_dict = plm.local_mass({"theta": post["theta"].values}, **kw)
    xr.testing.assert_allclose(from_container["theta"], from_dataset["theta"])
    np.testing.assert_allclose(from_dict["theta"].values, from_container["theta"].values)
    assert from_container.attrs["tier"] == "samples"
    assert from_container.attrs["ci_prob"] == 0.9


def test_default_ci_prob_follows_arviz(container):
    res = plm.local_mass(container, var_names="mu")
    assert res.attrs["ci_prob"] == default_ci_prob() == (0.89 if MODERN else 0.94)


def test_dims_preserved_and_coords_selection(rng):
    data = {"beta": rng.normal(size=(2, 200, 3, 2))}
    res = plm.local_mass(data, radii=[0.5])
    assert res["beta"].dims == ("beta_dim_0", "beta_dim_1", "center", "radius", "local_stat")
    sub = plm.local_mass(data, coords={"beta_dim_0": [1]}, radii=[0.5])
    assert sub["beta"].sizes["beta_dim_0"] == 1
    np.testing.assert_allclose(sub["beta"].values[0], res["beta"].values[1])


def test_var_names_filter_vars(container):
    assert set(plm.local_mass(container, var_names=["~theta"]).data_vars) == {"tau", "mu"}
    assert set(plm.local_mass(container, var_names="ta", filter_vars="like").data_vars) == {"tau", "theta"}
    assert set(plm.local_mass(container, var_names="^t", filter_vars="regex").data_vars) == {"tau", "theta"}


def test_other_groups(container):
    res = plm.local_mass(container, group="prior", var_names="mu", centers=0.0, radii=[0.2])
    # prior mu ~ N(0, 1): P(|mu| <= 0.2) = 0.159
    assert res["mu"].sel(local_stat="mass").values.item() == pytest.approx(0.159, abs=0.05)
    assert res.attrs["source_group"] == "prior"


def test_several_centers_and_mapping(container):
    res = plm.local_mass(container, centers={"tau": [0.0, "median"], "mu": {"two": 2.0, "mean": "mean"}},
                         var_names=["tau", "mu"])
    assert set(res["center"].values) == {"0", "median", "two", "mean"}
    tau = res["tau"]
    assert np.isnan(tau.sel(center="two").values).all()  # not requested for tau
    assert not np.isnan(tau.sel(center="0").values).any()
    idx = plm.mass_index(container, centers={"mu": {"two": 2.0}}, var_names="mu")
    assert idx["mu"].sel(center="two", index_stat="center_value").values.item() == 2.0


def test_per_element_array_center(container):
    res = plm.mass_index(container, var_names="theta", centers=np.array([0.0, 0.5, 1.0]))
    np.testing.assert_array_equal(res["theta"].sel(index_stat="center_value", center="(0, 0.5, 1)").values,
                                  [0.0, 0.5, 1.0])
    # a per-element array longer than a few numbers is labelled "array"
    long = plm.mass_index({"x": np.random.default_rng(1).normal(size=(2, 300, 6))}, centers=np.zeros(6))
    assert [str(v) for v in long["center"].values] == ["array"]


def test_mode_and_median_centers(rng):
    x = rng.gamma(3.0, size=(4, 2000))
    idx = plm.mass_index({"x": x}, centers=["mode", "median"])
    assert idx["x"].sel(center="median", index_stat="center_value").values.item() == pytest.approx(np.median(x))
    assert idx["x"].sel(center="mode", index_stat="center_value").values.item() == pytest.approx(2.0, abs=0.4)


def test_boundary_center(container):
    idx = plm.mass_index(container, var_names="tau", centers="boundary")
    assert idx["tau"].sel(index_stat="center_value").values.item() == 0.0


def test_explicit_radii_honoured_exactly(container):
    radii = np.array([0.013, 0.1, 0.77])
    res = plm.local_mass(container, var_names="theta", radii=radii)
    got = res["theta"].sel(local_stat="radius").values
    assert np.array_equal(got, np.broadcast_to(radii, got.shape))


def test_joint_norms(rng):
    z = rng.normal(size=(4, 1000, 3))
    data = {"z": z}
    r = np.array([0.5, 1.0])
    euc = plm.local_mass(data, joint=True, centers=0.0, radii=r)
    mx = plm.local_mass(data, joint=True, centers=0.0, radii=r, norm="max")
    assert euc["z"].dims == ("center", "radius", "local_stat")
    from scipy import special, stats

    exact_euc = stats.chi2.cdf(r**2, 3)
    exact_max = (2 * special.ndtr(r) - 1) ** 3
    np.testing.assert_allclose(euc["z"].sel(local_stat="mass").values[0], exact_euc, atol=0.02)
    np.testing.assert_allclose(mx["z"].sel(local_stat="mass").values[0], exact_max, atol=0.02)
    scaled = plm.local_mass({"z": z * np.array([1.0, 10.0, 100.0])}, joint=True, centers=0.0, radii=r,
                            norm="scaled")
    np.testing.assert_allclose(scaled["z"].sel(local_stat="mass").values[0], exact_euc, atol=0.02)
    two = plm.local_mass({"a": z[..., 0], "b": z[..., 1:]}, joint=True, centers=0.0, radii=r)
    assert list(two.data_vars) == ["a+b"]
    np.testing.assert_allclose(two["a+b"].sel(local_stat="mass").values, euc["z"].sel(local_stat="mass").values)


def test_joint_index_is_dimension(rng):
    z = rng.normal(size=(4, 1000, 3))
    idx = plm.mass_index({"z": z}, joint=True, centers=0.0)
    assert idx["z"].sel(index_stat="a").values.item() == pytest.approx(3.0, rel=0.15)


def test_add_local_mass_returns_new_container(container):
    before = container_groups(container)
    out = plm.add_local_mass(container, var_names=["tau"], centers={"tau": 0.0})
    assert container_groups(container) == before  # input untouched
    assert {"local_mass", "local_mass_index"} <= set(container_groups(out))
    assert type(out) is type(container)
    plm.validate(get_group(out, "local_mass"), "local_mass")
    plm.validate(get_group(out, "local_mass_index"), "local_mass_index")
    # re-running with other variables keeps the earlier results beside the new ones
    again = plm.add_local_mass(out, var_names=["mu"])
    curves = get_group(again, "local_mass")
    assert list(curves.data_vars) == ["tau", "mu"]
    plm.validate(curves.to_dataset() if hasattr(curves, "to_dataset") else curves, "local_mass")
    first = get_group(out, "local_mass")["tau"].sel(center="0")
    np.testing.assert_array_equal(curves["tau"].sel(center="0").values, first.values)
    assert curves["mu"].sel(center="0").isnull().all()  # mu was not asked at 0
    table = plm.summary(again)
    assert set(table.index) == {("tau", "0"), ("mu", "mean")}
    # the same variable again is replaced; other settings replace everything, with a warning
    assert list(get_group(plm.add_local_mass(again, var_names=["mu"], centers=1.0), "local_mass")
                ["mu"]["center"].values) == ["0", "1"]  # the union of centres: tau's 0, mu's 1
    with pytest.warns(UserWarning, match=r"earlier results for \['tau'\] differ in norm.*replaced"):
        other = plm.add_local_mass(out, var_names=["mu"], norm="max")
    assert list(get_group(other, "local_mass").data_vars) == ["mu"]


def test_add_local_mass_inplace(container):
    out = plm.add_local_mass(container, var_names=["tau"], inplace=True)
    assert out is container
    assert "local_mass" in container_groups(container)


def test_attrs_recorded(container):
    res = plm.local_mass(container, var_names="tau")
    for key in ("tier", "norm", "ci_prob", "grid_rule", "pymc_localmass_version", "created_at"):
        assert key in res.attrs
    assert res.attrs["pymc_localmass_version"] == plm.__version__
    assert "auto" in res.attrs["grid_rule"]


@pytest.mark.parametrize("engine", ["netcdf4", "h5netcdf"])
def test_netcdf_round_trip_keeps_other_groups(container, tmp_path, engine):
    out = plm.add_local_mass(container, var_names=["tau", "theta"], centers={"tau": 0.0})
    path = tmp_path / "fit.nc"
    out.to_netcdf(path, engine=engine)
    if MODERN:
        back = xr.open_datatree(path, engine=engine)
    else:
        import arviz as az

        back = az.from_netcdf(path, engine=engine)
    for group in ("posterior", "prior"):
        xr.testing.assert_identical(get_group(back, group).load(), get_group(container, group))
    for group in ("local_mass", "local_mass_index"):
        got = get_group(back, group).load()
        want = get_group(out, group)
        xr.testing.assert_allclose(got, want)
        assert got.attrs["tier"] == want.attrs["tier"]
        plm.validate(got, group)


def test_zarr_round_trip(container, tmp_path):
    out = plm.add_local_mass(container, var_names=["tau"], centers={"tau": 0.0})
    path = str(tmp_path / "fit.zarr")
    # ArviZ 0.2x writes zarr only through its DataTree conversion (zarr >= 3)
    tree = out if MODERN else out.to_datatree()
    tree.to_zarr(path)
    back = xr.open_datatree(path, engine="zarr")
    if not MODERN:
        import arviz as az

        back = az.InferenceData.from_datatree(back)
    xr.testing.assert_allclose(get_group(back, "local_mass").load(), get_group(out, "local_mass"))
    xr.testing.assert_identical(get_group(back, "posterior").load(), get_group(container, "posterior"))


def test_summary_table(container):
    out = plm.add_local_mass(container, var_names=["tau", "theta"], centers={"tau": 0.0})
    df = plm.summary(out)
    assert list(df.index.names) == ["variable", "center"]
    assert df.shape[0] == 1 + 3
    for col in REQUIRED_INDEX:
        assert col in df.columns
    assert ("tau", "0") in df.index
    only = plm.summary(out, var_names="tau")
    assert only.shape[0] == 1
    # summary of draws directly gives the same numbers
    direct = plm.summary(container, var_names=["tau"], centers={"tau": 0.0})
    num = [c for c in only.columns if c not in ("status", "note")]
    np.testing.assert_allclose(direct[num].values.astype(float), only[num].values.astype(float))
    assert (direct["status"] == only["status"]).all()


def test_mass_index_from_curves(rng):
    x = np.sqrt(rng.random((4, 5000)))  # m(r) = r^2
    res = plm.local_mass({"x": x}, centers=0.0, radii=np.geomspace(0.03, 0.5, 12))
    idx = plm.mass_index(res)
    assert idx.attrs["index_method"] == "curve-slope-fit"
    row = idx["x"].isel(center=0)
    # the fit models a smooth density's curvature (curves of draws reach the sd): over 40 replicates
    # of this curve its a has mean 1.94 and sd 0.21, so within 3 sd (coverage: test_calibration.py)
    assert float(row.sel(index_stat="a")) == pytest.approx(2.0, abs=0.65)


def test_public_api_names():
    # DESIGN.md's public API is reachable from the top level, and nothing else
    # in the arviz namespace changes but the registered plot
    import arviz as az

    for name in ("local_mass", "mass_index", "add_local_mass", "summary", "validate", "compare", "local_kl",
                 "check", "report", "plot_local_mass"):
        assert callable(getattr(plm, name)), name
        assert name in plm.__all__, name
    assert issubclass(plm.LocalMassWarning, UserWarning)
    assert az.plot_local_mass is plm.plot_local_mass
    from pymc_localmass.check import check
    from pymc_localmass.compare import compare

    assert plm.check is check and plm.compare is compare


def test_several_groups_share_centers_and_radii(container):
    from pymc_localmass._radii import variable_rules

    # prior and posterior at the posterior's mean and on its radii, along dim "group"
    res = plm.local_mass(container, var_names=["tau", "mu"], group=["posterior", "prior"], centers="mean")
    assert res["mu"].dims == ("group", "center", "radius", "local_stat")
    r = res["mu"].sel(local_stat="radius").isel(center=0)
    np.testing.assert_array_equal(r.sel(group="posterior").values, r.sel(group="prior").values)
    # the shared grids are the automatic grid's (they are passed on as radii; the rule said "explicit")
    assert res.attrs["grid_rule"].startswith("auto: one log-spaced grid per variable spanning group 'posterior'")
    given = plm.local_mass(container, var_names=["mu"], group=["posterior", "prior"], radii=[0.1, 0.2, 0.4])
    assert given.attrs["grid_rule"] == "explicit"
    # a mapping naming some variables: the others share a spanning grid too (each group had its own
    # automatic grid, so the prior's and the posterior's masses of tau were at different radii)
    part = plm.local_mass(container, var_names=["tau", "mu"], group=["posterior", "prior"], centers="mean",
                          radii={"mu": [0.1, 0.2, 0.4]})
    rt = part["tau"].sel(local_stat="radius").isel(center=0)
    np.testing.assert_array_equal(rt.sel(group="posterior").values, rt.sel(group="prior").values)
    rules = variable_rules(part.attrs["grid_rule"], ["tau", "mu"])
    assert rules["mu"] == "explicit" and rules["tau"].startswith("auto: one log-spaced grid"), rules
    idx = plm.mass_index(container, var_names=["mu"], group=["posterior", "prior"], centers="mean")
    cv = idx["mu"].sel(index_stat="center_value").isel(center=0)
    post_mean = float(get_group(container, "posterior")["mu"].mean())
    np.testing.assert_allclose(cv.values, [post_mean, post_mean])
    plm.validate(res)
    with pytest.raises(ValueError, match="distinct group names"):
        plm.local_mass(container, group=["posterior", "posterior"])
    with pytest.raises(ValueError, match="joint=True need numeric centres"):
        plm.local_mass(container, var_names=["tau", "mu"], joint=True, group=["posterior", "prior"])


def test_summary_takes_arviz_selection(container):
    out = plm.add_local_mass(container, var_names=["tau", "mu"])
    assert set(plm.summary(out, var_names=["~tau"]).index.get_level_values("variable")) == {"mu"}
    assert set(plm.summary(out, var_names="ta", filter_vars="like").index.get_level_values("variable")) == {"tau"}
    drawn = plm.summary(container, var_names=["~theta", "~mu"])  # computed from the draws
    assert set(drawn.index.get_level_values("variable")) == {"tau"}
    with pytest.raises(KeyError, match="'nope'"):
        plm.summary(out, var_names="nope")


def test_radii_mapping_of_different_lengths(container):
    res = plm.local_mass(container, var_names=["tau", "mu"], radii={"tau": [0.5, 1.0], "mu": [0.5, 1.0, 2.0]})
    plm.validate(res)
    r = res["tau"].sel(center="mean", local_stat="radius").values
    np.testing.assert_array_equal(r[:2], [0.5, 1.0])
    assert np.isnan(r[2]) and res["tau"].sel(center="mean", local_stat="resolved").values[2] == 0.0
    np.testing.assert_array_equal(res["mu"].sel(center="mean", local_stat="radius").values, [0.5, 1.0, 2.0])
    # a mapping for some variables: the others get the automatic grid
    part = plm.local_mass(container, var_names=["tau", "mu"], radii={"tau": [0.5, 1.0]})
    assert part.sizes["radius"] == 25 and np.isnan(part["tau"].sel(local_stat="radius").values[0, 2])
    out = plm.add_local_mass(container, var_names=["tau", "mu"], radii={"tau": [0.5, 1.0], "mu": [0.5, 1.0, 2.0]})
    assert plm.summary(out).shape[0] == 2


def test_index_of_curves_atoms_and_no_mass(rng):
    # 30% exact zeros: the curve of nested balls stays flat at 0.3 down to the smallest radius
    z = np.where(rng.random((4, 1000)) < 0.3, 0.0, np.abs(rng.normal(size=(4, 1000))))
    curves = plm.local_mass({"z": z, "x": rng.normal(size=(4, 1000))}, centers=0.0)
    idx = plm.mass_index(curves)
    zi = idx["z"].sel(center="0")
    assert zi.sel(index_stat="atom_lower") <= 0.3 <= zi.sel(index_stat="atom_upper")
    assert float(zi.sel(index_stat="a")) == 0.0 and float(zi.sel(index_stat="b")) == 0.0
    # the row says atom, and its intervals hold what a flat curve allows: no atom at all
    # (continuous mass of a small index) up to all of the smallest ball's mass
    assert float(zi.sel(index_stat="status")) == STATUS_WORDS.index("atom")
    assert float(zi.sel(index_stat="atom_lower")) == 0.0 and float(zi.sel(index_stat="a_upper")) > 0.0
    row = plm.summary(idx).loc[("z", "0")]
    assert row["status"] == "atom" and "curve" in row["note"]
    xi = idx["x"].sel(center="0")
    assert float(xi.sel(index_stat="atom")) == 0.0
    assert xi.sel(index_stat="a_lower") <= 1.0 <= xi.sel(index_stat="a_upper")
    for v in ("z", "x"):  # never below its own interval
        a = idx[v].sel(index_stat=["a", "a_lower", "a_upper"]).values
        assert np.all((a[..., 0] >= a[..., 1]) & (a[..., 0] <= a[..., 2]))
    # exactly no mass at every resolved radius (an exact tier's curve): a = inf
    none = curves.copy(deep=True)
    none["x"].loc[{"local_stat": ["mass", "mass_lower", "mass_upper"]}] = 0.0
    ni = plm.mass_index(none)["x"].sel(center="0")
    assert np.isposinf(float(ni.sel(index_stat="a"))) and np.isposinf(float(ni.sel(index_stat="a_lower")))


def test_rows_of_centres_not_requested_say_nothing(rng):
    # centres per variable: the Dataset pads the other variables' rows with NaN, which
    # summary() leaves out and whose status word is no "ok"
    idx = plm.mass_index({"mu": rng.normal(size=(4, 500)), "tau": np.abs(rng.normal(size=(4, 500)))},
                         centers={"mu": [0.0], "tau": ["mean"]})
    pad = dict(zip(idx.index_stat.values, idx["mu"].sel(center="mean").values))
    assert np.all(np.isnan(list(pad.values())))
    assert plm.results.status_word(pad) == "unresolved"
    assert "not requested" in plm.results.status_note(pad, "mu", "mean")
    assert list(plm.summary(idx).index) == [("mu", "0"), ("tau", "mean")]
    # the index of the curves pads them alike: no row for a centre not requested (an empty curve
    # read "unresolved", or "lattice" with "an atom of weight up to nan" for discrete draws)
    data = {"mu": rng.normal(size=(4, 500)), "k": rng.poisson(3.0, size=(4, 500)).astype(float)}
    curves = plm.local_mass(data, centers={"mu": [0.0], "k": ["mean"]})
    summ = plm.summary(plm.mass_index(curves))
    assert list(summ.index) == [("mu", "0"), ("k", "mean")]
    assert not summ["note"].str.contains("nan").any()


def test_index_of_curves_of_discrete_draws_is_no_slope(rng, tmp_path):
    # Poisson(3) draws: each curve is a staircase (flat between support points), whose
    # slopes fitted as a power read a ~ 0.5-0.7 "ok" before the curves carried the flag
    k = rng.poisson(3.0, size=(4, 1000)).astype(float)
    x = np.maximum(rng.normal(size=(4, 1000)), 0.0)  # an atom at 0 of continuous draws: no lattice
    data = {"k": k, "x": x}
    curves = plm.local_mass(data, centers={"k": ["mean", 3.0], "x": [0.0]})
    assert curves["k"].attrs["lattice"] == 1 and "lattice" not in curves["x"].attrs
    summ = plm.summary(plm.mass_index(curves))
    for c in ("mean", "3"):  # the smallest ball holds support points: atom (a = 0) or not (a = inf)
        row = summ.loc[("k", c)]
        assert row["status"] == "lattice" and np.isnan(row["a"])
        assert (row["a_lower"], row["a_upper"]) == (0.0, np.inf) and row["atom_lower"] == 0.0
        assert row["atom_upper"] >= float((k == 3.0).mean())  # the atom at 3 within its interval
        assert "cannot tell" in row["note"]
    assert summ.loc[("x", "0"), "status"] == "atom"  # (the flat curve of a continuous law's atom)
    # radii below the gap from the mean to the nearest support point: no draw there, a = inf
    gap = float(np.min(np.abs(np.unique(k) - k.mean())))
    near = plm.local_mass(data, var_names="k", centers="mean", radii=np.geomspace(gap / 8, 4.0, 12))
    row = plm.summary(plm.mass_index(near)).loc[("k", "mean")]
    assert row["status"] == "lattice" and np.isposinf(row["a"]) and row["atom_upper"] == 0.0
    assert "not a support point" in row["note"]
    # the flag survives netCDF with the curves (an index fitted from stored curves later)
    path = tmp_path / "k.nc"
    plm.local_mass(data, var_names="k", centers=3.0).to_netcdf(path)
    with xr.open_dataset(path) as back:
        again = plm.summary(plm.mass_index(back.load()))
    assert again.loc[("k", "3"), "status"] == "lattice"


def test_joint_ball_with_a_discrete_coordinate_fits_below_its_first_jump(rng):
    # (x, k) with k ~ Poisson(2) at (0, 0): m(r) = P(k = 0) P(|x| <= r) for r < 1, then a
    # jump as k = 1 enters; the index (1) is fitted on the draws inside r < 1 only
    d = {"x": rng.normal(size=(4, 1000)), "k": rng.poisson(2, size=(4, 1000)).astype(float)}
    idx = plm.mass_index(d, joint=True, centers=0.0)
    row = idx["x+k"].isel(center=0)
    assert idx.attrs["index_window_cap"] == 1.0
    assert float(row.sel(index_stat="window")) < 1.0
    assert row.sel(index_stat="a_lower") <= 1.0 <= row.sel(index_stat="a_upper")
    # an explicit window is honoured as given
    wide = plm.mass_index(d, joint=True, centers=0.0, window=1400)
    assert float(wide["x+k"].isel(center=0).sel(index_stat="window")) > 1.0


@pytest.mark.parametrize("norm", ["euclidean", "scaled", "max"])
def test_joint_ball_centred_off_a_discrete_coordinates_lattice_holds_no_mass(rng, norm):
    # a switch point (whole years) and a rate, at their mean (1890.6, 3.0): no draw lies within
    # 0.4 of the centre's year, so the joint ball holds no mass there: a = inf, "lattice"
    # (fitted on the handful of draws beyond the gap it read a = NaN or 18 [0, 12964] "ok")
    d = {"sp": rng.choice(np.arange(1885, 1897), size=(2, 1000)), "rate": rng.gamma(30, 0.1, size=(2, 1000))}
    row = plm.summary(d, joint=True, norm=norm).iloc[0]
    assert row.status == "lattice"
    assert np.isposinf(row.a) and np.isposinf(row.a_lower)
    assert "a coordinate of the joint ball takes discrete values" in row.note
    # on a lattice point of it the ball holds the rate's mass there, one coordinate: a = 1
    on = plm.summary(d, joint=True, norm=norm, centers={"sp": 1890.0, "rate": "mean"}).iloc[0]
    assert on.status != "lattice" and on.a_lower <= 1.0 <= on.a_upper
    # continuous coordinates written with four decimals are no lattice: a = 2
    x = np.round(rng.normal(size=(2, 1000, 2)) * 1e4) / 1e4
    two = plm.summary({"u": x[..., 0], "v": x[..., 1]}, joint=True, norm=norm).iloc[0]
    assert two.status == "ok" and two.a_lower <= 2.0 <= two.a_upper


def test_summary_with_other_settings_keeps_the_stored_centers(container):
    out = plm.add_local_mass(container, var_names=["tau"], centers={"tau": 0.0})
    again = plm.summary(out, ci_prob=0.5)
    assert list(again.index) == [("tau", "0")]
    stored = plm.summary(out)
    assert float(again["a_upper"].iloc[0] - again["a_lower"].iloc[0]) < float(
        stored["a_upper"].iloc[0] - stored["a_lower"].iloc[0])  # a 50% interval is narrower


def test_selection_of_stored_results_with_other_settings(container):
    # a selection plus another setting: recomputed at the stored centres of the
    # selected variables only (the other variables' centres used to be passed on)
    out = plm.add_local_mass(container, var_names=["tau", "mu"], centers={"tau": 0.0, "mu": "mean"})
    again = plm.summary(out, var_names="tau", ci_prob=0.5)
    assert list(again.index) == [("tau", "0")]
    wide = plm.summary(out, var_names="tau")
    assert float(again["a_upper"].iloc[0] - again["a_lower"].iloc[0]) < float(
        wide["a_upper"].iloc[0] - wide["a_lower"].iloc[0])


def test_mass_index_selection_reads_the_stored_results(container):
    out = plm.add_local_mass(container, var_names=["tau", "mu"], centers={"tau": 0.0, "mu": "mean"}, ci_prob=0.5)
    stored = get_group(out, "local_mass_index")
    sel = plm.mass_index(out, var_names="tau")
    assert list(sel.data_vars) == ["tau"] and sel.attrs["ci_prob"] == 0.5
    xr.testing.assert_identical(sel["tau"], stored["tau"])
    # a variable without stored results is computed from the draws
    fresh = plm.mass_index(out, var_names="theta")
    assert list(fresh.data_vars) == ["theta"] and fresh.attrs["ci_prob"] == default_ci_prob()
    with pytest.raises(KeyError, match="'nope'"):
        plm.mass_index(out, var_names="nope")
    # a selection of draws is computed from those draws
    some = plm.mass_index(out, var_names="mu", coords={"draw": list(range(250))})
    assert some.attrs["n_draws"] == 250 and some.attrs["ci_prob"] == default_ci_prob()


def test_summary_with_other_settings_keeps_the_stored_elements(container):
    out = plm.add_local_mass(container, var_names=["theta"], coords={"theta_dim_0": [1, 2]}, centers=0.0)
    again = plm.summary(out, ci_prob=0.5)
    assert list(again.index) == [("theta[1]", "0"), ("theta[2]", "0")]


def test_several_groups_record_each_groups_draws(rng, tmp_path):
    post = {"mu": rng.normal(size=(4, 500))}
    prior = {"mu": rng.normal(size=(2, 300))}
    data = make_container(posterior=post, prior=prior)
    out = plm.add_local_mass(data, group=["posterior", "prior"], centers=0.0)
    curves = get_group(out, "local_mass")
    assert curves.attrs["groups"] == "posterior,prior"
    assert list(curves.attrs["n_draws"]) == [500, 300] and list(curves.attrs["n_chains"]) == [4, 2]
    path = tmp_path / "groups.nc"
    out.to_netcdf(path)
    import arviz as az

    back = (xr.open_datatree(path) if MODERN else az.from_netcdf(path))
    assert list(get_group(back, "local_mass_index").attrs["n_draws"]) == [500, 300]


def test_labelled_center_matched_by_label(rng):
    import arviz as az

    th = rng.normal(size=(4, 500, 4)) + np.array([0.0, 10.0, 20.0, 30.0])
    kw = dict(coords={"school": ["A", "B", "C", "D"]}, dims={"theta": ["school"]})
    data = az.from_dict({"posterior": {"theta": th}}, **kw) if MODERN else az.from_dict(posterior={"theta": th}, **kw)
    c = xr.DataArray([30.0, 0.0, 10.0, 20.0], dims="school", coords={"school": ["D", "A", "B", "C"]})
    res = plm.mass_index(data, centers={"theta": c})
    np.testing.assert_array_equal(res["theta"].sel(index_stat="center_value").values.ravel(), [0, 10, 20, 30])
    sub = plm.mass_index(data, centers={"theta": c}, coords={"school": ["C", "D"]})
    np.testing.assert_array_equal(sub["theta"].sel(index_stat="center_value").values.ravel(), [20, 30])
    # the ball is around the labelled value: m(1) of N(centre, 1) draws is about 0.68 for every school
    m = plm.local_mass(data, centers={"theta": c}, radii=[1.0])["theta"].sel(local_stat="mass").values.ravel()
    assert np.all(np.abs(m - 0.683) < 0.05)
    with pytest.raises(KeyError, match=r"no value for school=\['B', 'C', 'D'\]"):
        plm.mass_index(data, centers={"theta": xr.DataArray([1.0, 2.0], dims="school", coords={"school": ["A", "Z"]})})
    with pytest.raises(ValueError, match="has 3 values along 'school', the variable 4"):
        plm.mass_index(data, centers={"theta": xr.DataArray([1.0, 2.0, 3.0], dims="school")})


def test_center_labels_survive_merge_after_a_netcdf_round_trip(tmp_path):
    # an earlier file's centre coordinate is stored as '<U1' ("0"); the merged
    # results must not inherit that encoding and cut "mean" to "m" when written again
    import arviz as az

    from pymc_localmass._compat import MODERN, get_group

    rng = np.random.default_rng(0)
    post = {"tau": np.abs(rng.normal(size=(2, 500))), "theta": rng.normal(size=(2, 500, 2))}
    idata = az.from_dict({"posterior": post}) if MODERN else az.from_dict(posterior=post)
    out = plm.add_local_mass(idata, var_names=["tau"], centers={"tau": 0.0})
    out.to_netcdf(tmp_path / "a.nc")
    back = az.from_netcdf(tmp_path / "a.nc")
    enc_before = dict(get_group(back, "local_mass")["center"].encoding)
    out2 = plm.add_local_mass(back, var_names=["theta"], centers={"theta": "mean"})
    assert dict(get_group(back, "local_mass")["center"].encoding) == enc_before  # the input is untouched
    out2.to_netcdf(tmp_path / "b.nc")
    back2 = az.from_netcdf(tmp_path / "b.nc")
    for group in ("local_mass", "local_mass_index"):
        assert sorted(get_group(back2, group)["center"].values.tolist()) == ["0", "mean"]
    assert plm.summary(back2).index.tolist() == [("tau", "0"), ("theta[0]", "mean"), ("theta[1]", "mean")]


def test_one_variable_curves_are_what_merging_them_gives(rng, monkeypatch):
    # merge_curves returns a single variable's dataset as it is, and one centre's results are
    # not concatenated: the same as the general merge and concatenation
    from pymc_localmass import results
    from pymc_localmass.tiers import samples

    seen = []

    def both(variables, combine_attrs="override"):
        fast = results.merge_curves(variables, combine_attrs)
        parts = [v.rename(k).assign_coords(radius=np.arange(v.sizes["radius"]), local_stat=list(CURVE_STATS))
                 .to_dataset() for k, v in variables.items()]
        xr.testing.assert_identical(fast, results._merge_parts(parts, list(variables), combine_attrs))
        seen.append(len(variables))
        return fast

    def stack(parts):
        fast = real_stack(parts)
        xr.testing.assert_identical(fast, xr.concat(parts, "center"))
        return fast

    def assemble(*args):
        # the datasets built at once (one set of centres and radii) are the general merge's
        fast = real_assemble(*args)
        for a, b in zip(fast, real_assemble(*args, general=True)):
            xr.testing.assert_identical(a, b)
        return fast

    real_stack, real_assemble = samples._stack_centers, samples._assemble
    monkeypatch.setattr(samples, "merge_curves", both)
    monkeypatch.setattr(samples, "_stack_centers", stack)
    monkeypatch.setattr(samples, "_assemble", assemble)
    monkeypatch.setattr(samples, "TOGETHER_MAX_ELEMENTS", 0)  # (each variable in a call of its own)
    ds = xr.Dataset({"x": (("chain", "draw", "e"), rng.standard_normal((4, 300, 3))),
                     "s": (("chain", "draw"), rng.standard_normal((4, 300)))})
    plm.local_mass(ds, var_names=["x"])
    plm.local_mass(ds, var_names=["s"], centers={"s": {"zero": 0.0, "one": 1.0}})
    plm.local_mass(ds, var_names=["x"], radii=[0.1, 0.2, 0.5])
    plm.local_mass(ds)
    plm.local_mass(ds, centers={"s": [0.0, "mean"]})  # centres that differ: the general merge only
    assert seen == [1, 1, 1, 2, 2, 2]


def test_numeric_centre_labels_never_collide():
    # outside check: centres [1, 1, 12] were labelled ['1', '12', '12'] (the repeat took a
    # suffix "2"), 0.1 and 0.1000001 both '0.1', 1e-7 and 1.00000001e-7 '1e-07' and '1e-072',
    # and summary() returned two '12' rows with center_value NaN; validate() passed them
    from pymc_localmass.errors import InvalidInputError, SchemaError

    d = {"x": np.random.default_rng(0).normal(0, 5, (2, 500))}
    res = plm.mass_index(d, centers=[1.0, 12.0, 0.1, 0.1000001, 1e-7, 1.00000001e-7])
    labels = [str(v) for v in res["center"].values]
    assert labels == ["1", "12", "0.1", "0.1000001", "1e-07", "1.00000001e-07"]
    np.testing.assert_array_equal(res["x"].sel(index_stat="center_value").values,
                                  [1.0, 12.0, 0.1, 0.1000001, 1e-7, 1.00000001e-7])
    with pytest.raises(InvalidInputError, match="'x' is given the centre 1 twice"):
        plm.mass_index(d, centers=[1.0, 1.0, 12.0])
    # short arrays are labelled by their values; two long ones take a suffix no number reads as
    two = plm.mass_index(d, centers=[np.array(0.0), np.array(1.0)])
    assert [str(v) for v in two["center"].values] == ["(0)", "(1)"]
    d6 = {"x": np.random.default_rng(0).normal(0, 5, (2, 500, 6))}
    two = plm.mass_index(d6, centers=[np.zeros(6), np.ones(6)])
    assert [str(v) for v in two["center"].values] == ["array", "array#2"]
    bad = res.assign_coords(center=["1", "12", "12", "0.1", "a", "b"])
    with pytest.raises(SchemaError, match=r"center repeats labels \['12'\]"):
        plm.validate(bad, kind="local_mass_index")


def test_add_local_mass_on_a_node_holding_the_draws_is_refused():
    # outside check: add_local_mass(idata.posterior) nested the groups inside the posterior node
    # (and inplace=True wrote /posterior/local_mass into the user's tree), where summary()
    # then recomputed at default centres
    from pymc_localmass._compat import MODERN
    from pymc_localmass.errors import InvalidInputError, InvalidTypeError

    rng = np.random.default_rng(0)
    ds = xr.Dataset({"x": (("chain", "draw"), rng.normal(size=(2, 300)))})
    if MODERN:
        tree = xr.DataTree.from_dict({"posterior": ds})
        with pytest.raises(InvalidInputError, match=r"pass the whole tree \(idata\), not a node"):
            plm.add_local_mass(tree["posterior"], inplace=True)
        assert set(tree.children) == {"posterior"} and not tree["posterior"].children
    with pytest.raises(InvalidTypeError, match="needs a DataTree or InferenceData"):
        plm.add_local_mass(ds)


def test_summary_notes_give_a_keyword_centres_value():
    # outside check: "k = mean is not one of them" without the mean's value
    k = np.random.default_rng(0).poisson(3, size=(4, 500)).astype(float)
    note = plm.summary({"k": k}).loc[("k", "mean"), "note"]
    assert f"k = mean ({k.mean():.3g}) is not one of them" in note


@pytest.mark.skipif(not MODERN, reason="ArviZ 0.x groups are plain Datasets, with no sibling to read")
def test_a_node_holding_the_posterior_reads_its_siblings_divergences():
    # outside check: summary(idata.posterior) gave n_divergent 0 where the tree had 177
    rng = np.random.default_rng(1)
    tau = np.abs(rng.normal(size=(2, 300)))
    div = np.zeros((2, 300), bool)
    div.flat[np.argsort(tau, axis=None)[:6]] = True
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"tau": (("chain", "draw"), tau)}),
                                  "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), div)})})
    whole = plm.summary(tree, centers=0.0, round_to="none").iloc[0]
    node = plm.summary(tree["posterior"], centers=0.0, round_to="none").iloc[0]
    assert whole["n_divergent"] == node["n_divergent"] == 6


@pytest.mark.parametrize("coords", [{"chain": [0, 2]}, {"draw": slice(100, None)}])
def test_coords_on_the_sample_dims_select_the_divergences_too(coords):
    # coords={"chain": [0, 1]} (ArviZ's way to leave a chain out) worked on draws alone but raised
    # on a container with sample_stats: its divergences kept every chain ("divergent must have shape")
    from conftest import make_container

    rng = np.random.default_rng(2)
    div = np.zeros((4, 300), bool)
    div[0, 50], div[1, 60], div[2, 150], div[3, 210] = True, True, True, True
    data = make_container(posterior={"tau": np.abs(rng.normal(size=(4, 300)))}, sample_stats={"diverging": div})
    row = plm.summary(data, centers=0.0, coords=coords, round_to="none").iloc[0]
    kept = div[[0, 2]] if "chain" in coords else div[:, 100:]
    assert row["n_divergent"] == kept.sum() == 2
    same = plm.summary(plm.add_local_mass(data, centers=0.0, coords=coords), round_to="none").iloc[0]
    assert same["n_divergent"] == 2 and same["a"] == row["a"]
    assert plm.check(data, coords=coords, warn=False).table.loc[("posterior", "tau @ 0"), "a"] == row["a"]


def test_summary_of_stored_results_follows_what_is_asked():
    # outside check: summary(out, centers="mean") returned the stored rows at 0 (an explicit default
    # counted as not given), and summary(out, var_names="mu") raised "not found" for a posterior
    # variable the stored results lack
    from conftest import make_container

    rng = np.random.default_rng(3)
    data = make_container(posterior={"tau": np.abs(rng.normal(size=(4, 400))), "mu": rng.normal(size=(4, 400))})
    out = plm.add_local_mass(data, var_names=["tau"], centers={"tau": 0.0})
    assert list(plm.summary(out).index) == [("tau", "0")]
    assert list(plm.summary(out, centers="mean").index) == [("tau", "mean"), ("mu", "mean")]
    mu = plm.summary(out, var_names="mu", round_to="none")
    assert list(mu.index) == [("mu", "mean")]
    assert mu.iloc[0]["a"] == plm.summary(data, var_names="mu", round_to="none").iloc[0]["a"]
    assert list(plm.summary(out, var_names=["tau", "mu"]).index) == [("tau", "0"), ("mu", "mean")]


def test_stored_results_of_other_draws_are_computed_again_with_a_warning():
    # outside check: after idata.sel(chain=[0, 1, 2]) (dropping a stuck chain) the stored groups, which
    # have no chain dim, kept the 4-chain verdict ("sampler"), and summary() printed it; check() did not
    rng = np.random.default_rng(4)
    mu = rng.normal(size=(4, 400))
    mu[3] = 10 + 0.01 * mu[3]
    from conftest import make_container

    out = plm.add_local_mass(make_container(posterior={"mu": mu}))
    assert plm.summary(out)["status"].tolist() == ["sampler"]
    good = out.sel(chain=[0, 1, 2])
    with pytest.warns(UserWarning, match=r"computed from 4 x 400 \(chain, draw\) draws of group 'posterior', "
                                         r"which now has 3 x 400"):
        row = plm.summary(good, round_to="none").iloc[0]
    fresh = plm.summary(make_container(posterior={"mu": mu[:3]}), round_to="none").iloc[0]
    assert row["status"] == "ok" and row["a"] == fresh["a"]
    with pytest.warns(UserWarning, match="which now has 3 x 400"):
        assert plm.mass_index(good)["mu"].sel(index_stat="a").item() == fresh["a"]
    with pytest.warns(UserWarning, match="replaced"):
        again = plm.add_local_mass(good, var_names=["mu"])
    assert plm.summary(again, round_to="none").iloc[0]["a"] == fresh["a"]


def test_a_stacked_element_dim_and_a_slice_in_coords():
    # outside check: a MultiIndex dim (ds.stack(cell=("row", "col"))) broke summary (xarray cannot stack
    # it again), a tuple label in coords was "not found", and a slice in coords was refused
    import xarray as xr

    rng = np.random.default_rng(0)
    ds = xr.Dataset({"x": (("chain", "draw", "row", "col"), rng.normal(size=(4, 300, 2, 3)))},
                    coords={"row": ["r1", "r2"], "col": [1, 2, 3]}).stack(cell=("row", "col"))
    rows = plm.summary(ds, centers=0.0, round_to="none")
    assert [v for v, _ in rows.index] == ["x[r1.1]", "x[r1.2]", "x[r1.3]", "x[r2.1]", "x[r2.2]", "x[r2.3]"]
    one = plm.summary(ds, centers=0.0, coords={"cell": [("r2", 3)]}, round_to="none")
    assert one.shape[0] == 1 and one.iloc[0]["a"] == rows.loc[("x[r2.3]", "0"), "a"]
    with pytest.raises(plm.errors.UnknownNameError, match=r"dimension 'cell' has no label\(s\) \[\('r3', 1\)\]"):
        plm.summary(ds, coords={"cell": [("r3", 1)]})
    flat = xr.Dataset({"y": (("chain", "draw", "k"), rng.normal(size=(4, 300, 5)))}, coords={"k": [10, 20, 30, 40, 50]})
    part = plm.summary(flat, coords={"k": slice(20, 40)})
    assert [v for v, _ in part.index] == ["y[20]", "y[30]", "y[40]"]


def test_nan_padded_divergence_flags_count_as_none():
    # sample_stats stored as float with NaN where a draw has no statistics: NaN read as True
    from conftest import make_container

    rng = np.random.default_rng(6)
    div = np.zeros((4, 300))
    div[0, 10] = div[2, 20] = 1.0
    div[:, 3] = np.nan
    data = make_container(posterior={"tau": np.abs(rng.normal(size=(4, 300)))}, sample_stats={"diverging": div})
    assert plm.summary(data, centers=0.0, round_to="none").iloc[0]["n_divergent"] == 2


def test_stale_check_skips_results_without_draws_and_selections():
    # an approximation's exact tier records no draws (n_chains = n_draws = 0, its source "laplace
    # approximation"), and a coords= selection records the selection's counts: neither is stale
    import xarray as xr

    from pymc_localmass.results import stale_reason

    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"x": (("chain", "draw"), np.zeros((1, 500)))})})
    for attrs in ({"n_chains": 0, "n_draws": 0, "source_group": "posterior"},
                  {"n_chains": 0, "n_draws": 0, "source_group": "laplace approximation"},
                  {"n_chains": 4, "n_draws": 100, "source_group": "posterior", "sample_selection": 1},
                  {"n_chains": 1, "n_draws": 500, "source_group": "posterior"}):
        assert stale_reason(tree, xr.Dataset(attrs=attrs)) is None, attrs
    assert "1 x 500" in stale_reason(tree, xr.Dataset(attrs={"n_chains": 4, "n_draws": 500}))


def test_results_of_one_chain_of_prior_draws_are_not_stale():
    # pm.sample_prior_predictive writes one chain; it is analysed split into 4 chains, and the results
    # recorded 4 x 250 draws: summary(group="prior") then said they were stale and analysed it again
    from conftest import make_container

    from pymc_localmass.results import stale_reason

    rng = np.random.default_rng(8)
    data = make_container(prior={"tau": np.abs(rng.normal(size=(1, 1000)))})
    out = plm.add_local_mass(data, group="prior", centers={"tau": 0.0})
    index = plm.results.read(out)[1]
    assert (index.attrs["n_chains"], index.attrs["n_draws"]) == (4, 250)
    assert stale_reason(out, index) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = plm.summary(out, group="prior")
    assert rows.loc[("tau", "0"), "status"] == "ok"
    # a selection of its draws since is still stale
    assert "1 x 500" in stale_reason(out.isel(draw=slice(0, 500)), index)


def test_results_of_another_min_ess_are_not_merged_in_silence():
    # min_ess sets r_resolved and the resolved radii; results computed with 200 merged with results
    # computed with 10, and nothing recorded which was which
    from conftest import make_container

    rng = np.random.default_rng(8)
    data = make_container(posterior={"tau": np.abs(rng.normal(size=(4, 400))), "mu": rng.normal(size=(4, 400))})
    first = plm.add_local_mass(data, var_names=["tau"], centers={"tau": 0.0}, min_ess=200)
    assert plm.results.read(first)[1].attrs["min_ess"] == 200.0
    with pytest.warns(UserWarning, match=r"the earlier results for \['tau'\] differ in min_ess"):
        both = plm.add_local_mass(first, var_names=["mu"])
    assert list(plm.results.read(both)[1].data_vars) == ["mu"] and plm.results.read(both)[1].attrs["min_ess"] == 10.0
    same = plm.add_local_mass(first, var_names=["mu"], min_ess=200)
    assert set(plm.results.read(same)[1].data_vars) == {"tau", "mu"}


def test_grid_rules_read_back_names_holding_a_comma():
    # PyMC names may hold ", ": the merged rule "explicit for a, b; auto: ... for the others" read
    # "a, b" as two names, and the next merge gave the explicit variable the automatic grid's rule
    from pymc_localmass._radii import combine_rules, variable_rules

    rules = {"a, b": "explicit", "c": "auto: 25 radii", "d": "auto: 25 radii"}
    assert variable_rules(combine_rules(rules), list(rules)) == rules
    two = {"a": "explicit", "a, b": "explicit", "c": "auto: 25 radii"}
    assert variable_rules(combine_rules(two), list(two)) == two


def test_merged_grid_rule_describes_every_variable():
    # outside check: merging mu (automatic grid) into results of tau (explicit radii) rewrote the
    # groups' grid_rule to the automatic grid's, though tau's radii were still the explicit ones
    from pymc_localmass._radii import variable_rules

    rng = np.random.default_rng(9)
    data = make_container(posterior={"tau": np.abs(rng.normal(size=(4, 300))), "mu": rng.normal(size=(4, 300)),
                                     "nu": rng.normal(size=(4, 300))})
    first = plm.add_local_mass(data, var_names=["tau"], centers={"tau": 0.0}, radii=np.geomspace(0.1, 1, 25))
    assert plm.results.read(first)[0].attrs["grid_rule"] == "explicit"
    both = plm.add_local_mass(first, var_names=["mu"])
    auto = plm.local_mass(data, var_names="mu").attrs["grid_rule"]
    assert auto.startswith("auto")
    for ds in plm.results.read(both):
        assert ds.attrs["grid_rule"] == f"explicit for tau; {auto} for the others"
        assert variable_rules(ds.attrs["grid_rule"], list(ds.data_vars)) == {"tau": "explicit", "mu": auto}
    # a third variable with explicit radii joins tau's list; recomputing tau on the automatic grid
    # leaves every variable's on it
    three = plm.add_local_mass(both, var_names=["nu"], radii=np.geomspace(0.1, 1, 25))
    assert plm.results.read(three)[0].attrs["grid_rule"] == f"explicit for tau, nu; {auto} for the others"
    again = plm.add_local_mass(three, var_names=["tau", "nu"])
    assert plm.results.read(again)[1].attrs["grid_rule"] == auto


def test_merge_keeps_the_users_attrs():
    # outside check: out["local_mass"].attrs["my_note"] = "x" was dropped by the next add_local_mass
    from pymc_localmass.results import OWN_ATTRS

    rng = np.random.default_rng(10)
    data = make_container(posterior={"tau": np.abs(rng.normal(size=(4, 300))), "mu": rng.normal(size=(4, 300))})
    out = plm.add_local_mass(data, var_names=["tau"], centers={"tau": 0.0})
    out["local_mass"].attrs["my_note"] = "keep me"
    out["local_mass_index"].attrs["reviewed"] = 1
    out["local_mass"].attrs["sample_selection"] = 1  # (the package's own key: describes the results it came with)
    merged = plm.add_local_mass(out, var_names=["mu"])
    new_c, new_i = plm.results.read(merged)
    assert new_c.attrs["my_note"] == "keep me" and new_i.attrs["reviewed"] == 1
    assert "sample_selection" not in new_c.attrs and "my_note" not in new_i.attrs
    # kept when the same variable is computed again, and when other settings replace the groups
    assert plm.results.read(plm.add_local_mass(merged, var_names=["mu"]))[0].attrs["my_note"] == "keep me"
    with pytest.warns(UserWarning, match="differ in norm"):
        other = plm.add_local_mass(merged, var_names=["mu"], norm="max")
    assert plm.results.read(other)[0].attrs["my_note"] == "keep me"
    # merge=False replaces the groups as they are
    assert "my_note" not in plm.results.read(plm.add_local_mass(merged, var_names=["mu"], merge=False))[0].attrs
    # every key the package writes is one of its own (else it would be kept as the user's)
    several = make_container(posterior={"tau": np.abs(rng.normal(size=(4, 300)))},
                             prior={"tau": np.abs(rng.normal(size=(4, 300)))})
    for ds in (plm.local_mass(data, centers=0.0), plm.local_mass(data, joint=True, centers=0.0, radii=[0.5, 1.0]),
               plm.mass_index(data, coords={"chain": [0, 1]}),
               plm.mass_index(plm.local_mass(data)),
               plm.local_mass(several, group=["posterior", "prior"], centers=0.0)):
        assert set(ds.attrs) <= OWN_ATTRS, set(ds.attrs) - OWN_ATTRS


def test_a_second_joint_ball_replaces_the_first_with_a_warning():
    # the groups' attrs center_values and joint_vars describe one joint ball: a second one merged
    # beside the first left the first described by the second's centre and coordinates
    rng = np.random.default_rng(11)
    data = make_container(posterior={"mu": rng.normal(size=(4, 300)), "tau": np.abs(rng.normal(size=(4, 300))),
                                     "nu": rng.normal(5, 1, size=(4, 300))})
    first = plm.add_local_mass(data, var_names=["mu", "tau"], joint=True, centers=0.0)
    with pytest.warns(UserWarning, match=r"the earlier joint ball \['mu\+tau'\] is replaced"):
        second = plm.add_local_mass(first, var_names=["nu"], joint=True, centers=5.0)
    curves = plm.results.read(second)[0]
    assert list(curves.data_vars) == ["nu"] and curves.attrs["joint_vars"] == "nu"
    assert curves.attrs["center_values"] == "5"


def test_negative_zero_is_the_centre_zero():
    # outside check: centers=[0.0, -0.0] gave two centres '0' and '-0' (exact repeats are refused)
    from pymc_localmass.errors import InvalidInputError

    d = {"x": np.random.default_rng(12).normal(size=(4, 300))}
    res = plm.mass_index(d, centers=-0.0)
    assert [str(c) for c in res["center"].values] == ["0"]
    assert not np.signbit(res["x"].sel(index_stat="center_value").values).any()
    for centers in ([0.0, -0.0], [-0.0, 0], [np.float32(-0.0), 0.0]):
        with pytest.raises(InvalidInputError, match="'x' is given the centre 0 twice"):
            plm.mass_index(d, centers=centers)
    assert [str(c) for c in plm.mass_index(d, centers=[np.array(-0.0), np.array(1.0)])["center"].values] == [
        "(0)", "(1)"]


def test_results_of_a_variable_since_dropped_are_stale():
    # outside check: after add_local_mass, dropping theta from the posterior (and shifting tau) left
    # summary() printing the stored rows of both, with no word
    from conftest import make_container

    rng = np.random.default_rng(5)
    post = {"tau": np.abs(rng.normal(size=(4, 300))), "theta": rng.normal(size=(4, 300, 3))}
    out = plm.add_local_mass(make_container(posterior=post), centers=0.0)
    from pymc_localmass._compat import attach_groups

    # the stored groups beside a posterior that no longer holds theta
    now = attach_groups(make_container(posterior={"tau": post["tau"] + 5.0}),
                        dict(zip(("local_mass", "local_mass_index"), plm.results.read(out))))
    assert "['theta'] that group 'posterior' no longer holds" in plm.results.stale_reason(now, plm.results.read(now)[0])
    with pytest.warns(UserWarning, match=r"variable\(s\) \['theta'\] that group 'posterior' no longer holds"):
        rows = plm.summary(now, round_to="none")
    assert rows.index.get_level_values("variable").tolist() == ["tau"]  # the draws held now, analysed again
    assert rows.loc[("tau", "0"), "nearest"] == pytest.approx(5.0 + post["tau"].min())
