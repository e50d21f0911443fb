"""plot_local_mass: what is drawn equals the results' numbers, in both ArviZ generations.

Modern (ArviZ 1.x): the PlotCollection's ``viz`` tree gives each visual's
artist per variable/element/centre; matplotlib, bokeh and plotly are checked.
Legacy (ArviZ 0.2x): matplotlib axes; every artist carries its visual's name
as ``gid``.
"""

import re
import warnings

import matplotlib

matplotlib.use("Agg")

import arviz as az  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import pymc_localmass as plm  # noqa: E402
import pymc_localmass.plots as plots  # noqa: E402
from pymc_localmass._compat import MODERN  # noqa: E402
from pymc_localmass.plots import LocalMassComputedWarning, plot_local_mass  # noqa: E402
from pymc_localmass.errors import InvalidInputError, UnknownNameError  # noqa: E402
from conftest import make_container  # noqa: E402

SCHOOLS = ["a", "b", "c"]
modern_only = pytest.mark.skipif(not MODERN, reason="ArviZ 1.x (arviz-plots) only")
legacy_only = pytest.mark.skipif(MODERN, reason="ArviZ 0.2x only")


def _container(seed=0, draws=200, shift=0.0, with_prior=True):
    rng = np.random.default_rng(seed)
    post = {
        "tau": np.abs(rng.normal(size=(2, draws))),
        "theta": rng.normal(shift, 1.0, size=(2, draws, len(SCHOOLS))),
    }
    groups = {"posterior": post}
    if with_prior:
        groups["prior"] = {"tau": np.abs(rng.normal(0, 3, size=(2, draws))),
                           "theta": rng.normal(0, 3, size=(2, draws, len(SCHOOLS)))}
    kw = dict(coords={"school": SCHOOLS}, dims={"theta": ["school"]})
    return az.from_dict(groups, **kw) if MODERN else az.from_dict(**groups, **kw)


@pytest.fixture(scope="module")
def fitted():
    idata = _container()
    return plm.add_local_mass(idata, var_names=["tau", "theta"], centers={"tau": 0.0, "theta": "mean"})


@pytest.fixture(scope="module")
def results(fitted):
    return plm.results.read(fitted)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- helpers
def _panel_title(var, sel):
    return plots._prepare.panel_title(var, sel)


def _artists(out, visual, var, sel, overlay=None):
    """The artists of one visual in one panel (a list: several for overlays/reference lines)."""
    if MODERN:
        da = out.viz[visual][var]
        sub = da.sel(sel) if sel else da
        if overlay is not None:
            sub = sub.sel(overlay)
        return [a for a in np.ravel(sub.values) if a is not None]
    axes = [ax for ax in np.ravel(out) if ax.get_title() == _panel_title(var, sel)]
    if visual.startswith("slope") or visual.startswith("asymptote"):
        axes = axes[-1:]
    else:
        axes = axes[:1]
    found = []
    for ax in axes:
        found += [a for a in ax.get_children() if a.get_gid() == visual]
    if overlay is not None:  # curves are labelled with their overlay entry
        (label,) = overlay.values()
        found = [a for a in found if a.get_label() == label]
    return found


def _n_panels(out):
    if MODERN:
        return sum(int(np.sum([p is not None for p in np.ravel(da.values)]))
                   for da in out.viz["plot"].dataset.data_vars.values())
    return np.size(out)


def _figure(out):
    return out.get_viz("figure") if MODERN else np.ravel(out)[0].figure


def _expected_mass(da):
    """(x, y) of the resolved mass line and the set of unresolved radii, from the results."""
    r = da.sel(local_stat="radius").values
    m = da.sel(local_stat="mass").values
    res = da.sel(local_stat="resolved").values > 0.5
    solid = res & (m > 0)
    return np.where(solid, r, np.nan), np.where(solid, m, np.nan), r[~res & (m > 0)]


def _xy(line):
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def _kw():
    return {"backend": "matplotlib"} if MODERN else {}


# ----------------------------------------------------------------------------- registration
def test_register_sets_only_plot_local_mass():
    assert plots.register() is plots.plot_local_mass
    assert az.plot_local_mass is plots.plot_local_mass
    # importing the package (in a fresh interpreter) adds that one name to arviz and
    # changes no other attribute
    import subprocess
    import sys

    code = (
        "import arviz as az\n"
        "before = dict(vars(az))\n"
        "import pymc_localmass as plm\n"
        "after = vars(az)\n"
        "added = sorted(set(after) - set(before))\n"
        "changed = sorted(k for k in before if after.get(k) is not before[k])\n"
        "assert az.plot_local_mass is plm.plot_local_mass\n"
        "print(added, changed)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "['plot_local_mass'] []"


# ----------------------------------------------------------------------------- matplotlib artists
def test_mass_lines_equal_results(fitted, results):
    curves, _ = results
    out = plot_local_mass(fitted, **_kw())
    panels = [("tau", {"center": "0"})] + [("theta", {"school": s, "center": "mean"}) for s in SCHOOLS]
    assert _n_panels(out) == len(panels)  # theta @ "0" and tau @ "mean" are all-NaN: no panel
    for var, sel in panels:
        da = curves[var].sel(sel)
        ex, ey, unresolved = _expected_mass(da)
        (line,) = _artists(out, "mass", var, sel)
        x, y = _xy(line)
        np.testing.assert_allclose(x, ex, equal_nan=True)
        np.testing.assert_allclose(y, ey, equal_nan=True)
        dashed = _artists(out, "mass_unresolved", var, sel)
        if unresolved.size:
            (dline,) = dashed
            dx, dy = _xy(dline)
            assert set(np.round(unresolved, 12)) <= set(np.round(dx[np.isfinite(dx)], 12))
            assert dline.get_alpha() < 1 and dline.get_linestyle() in ("--", "dashed")
        # the band spans the interval at resolved radii: its upper edge holds their mass_upper
        # values, and it stops where the draws stop resolving (the dashed line takes over)
        (band,) = _artists(out, "mass_band", var, sel)
        verts = np.concatenate([p.vertices for p in band.get_paths()])
        hi = da.sel(local_stat="mass_upper").values
        r = da.sel(local_stat="radius").values
        ok = (da.sel(local_stat="resolved").values > 0.5) & (da.sel(local_stat="mass").values > 0)
        assert np.isin(np.round(hi[ok], 10), np.round(verts[:, 1], 10)).all()
        assert verts[:, 0].min() >= r[ok].min() * (1 - 1e-9)
        ax = line.axes
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert ax.get_title() == _panel_title(var, sel)
        assert ax.get_xlabel() == "radius r" and ax.get_ylabel() == "mass m(r)"
    # one reference line (slope 1) and the fitted index through the curve in an elementwise panel
    ref = _artists(out, "reference", "tau", {"center": "0"})
    assert len(ref) == 1
    rx, ry = _xy(ref[0])
    np.testing.assert_allclose(np.diff(np.log(ry)) / np.diff(np.log(rx)), 1.0)
    (fit,) = _artists(out, "fit", "tau", {"center": "0"})
    assert np.isfinite(_xy(fit)[1]).all()


def test_index_annotation_reads_the_index(fitted, results):
    _, index = results
    out = plot_local_mass(fitted, var_names="tau", **_kw())
    (text,) = _artists(out, "index_text", "tau", {"center": "0"})
    st = index["tau"].sel(center="0")
    a, alo, ahi = (float(st.sel(index_stat=k)) for k in ("a", "a_lower", "a_upper"))
    assert text.get_text().splitlines()[0] == f"a = {a:.2f} [{alo:.2f}, {ahi:.2f}]".replace("-", "−")
    assert "b" in text.get_text().splitlines()[1]


def test_a_lattice_gap_is_labelled_as_one(rng):
    # a = inf at a centre between a discrete variable's support points is its gap (no mass nearer
    # than the next point), not a decay faster than any power
    from conftest import make_container

    data = make_container(posterior={"k": rng.poisson(3, (4, 500))})
    data = plm.add_local_mass(data, centers={"k": 2.5})
    assert plm.summary(data)["status"].tolist() == ["lattice"]
    out = plot_local_mass(data, kind="both", **_kw())
    texts = [t.get_text() for ax in _figure(out).axes for t in ax.texts]
    assert "a = ∞ (no mass within the lattice gap)" in texts  # the slope view
    assert any(t.startswith("a = ∞ (no mass within the lattice gap)\n") for t in texts)  # the mass view
    assert not any("faster than any power" in t for t in texts)


@pytest.mark.parametrize("kind", ["slope", "both"])
def test_a_constant_element_has_no_panel_and_no_asymptote(rng, kind):
    # an LKJ correlation's unit diagonal beside a varying entry: the constant element reads atom
    # (a = 0) with no curve, so it has no panel; its asymptote was drawn on a missing panel (crash)
    x = rng.normal(size=(4, 300))
    data = plm.add_local_mass(make_container(posterior={"corr": np.stack([np.ones_like(x), np.tanh(x)], -1)}))
    assert plm.summary(data)["status"].tolist() == ["atom", "ok"]
    out = plot_local_mass(data, kind=kind, **_kw())
    assert _n_panels(out) == (2 if kind == "both" else 1)
    texts = [t.get_text() for ax in _figure(out).axes for t in ax.texts]
    assert any(t.startswith("a = 0.") or t.startswith("a = 1.") for t in texts)


def test_slope_view_equals_results(fitted, results):
    curves, index = results
    out = plot_local_mass(fitted, var_names="theta", coords={"school": ["b"]}, kind="slope", **_kw())
    sel = {"school": "b", "center": "mean"}
    assert _n_panels(out) == 1
    da = curves["theta"].sel(sel)
    (line,) = _artists(out, "slope", "theta", sel)
    x, y = _xy(line)
    s = da.sel(local_stat="slope").values
    res = da.sel(local_stat="resolved").values > 0.5
    np.testing.assert_allclose(y, np.where(res & np.isfinite(s), s, np.nan), equal_nan=True)
    (hl,) = _artists(out, "asymptote", "theta", sel)
    np.testing.assert_allclose(_xy(hl)[1], float(index["theta"].sel(sel).sel(index_stat="a")))
    assert line.axes.get_ylabel() == "slope d log m / d log r" and line.axes.get_yscale() == "linear"


@pytest.mark.parametrize(
    "kwargs, n",
    [
        ({"var_names": "theta"}, 3),
        ({"var_names": ["theta"], "coords": {"school": ["a", "c"]}}, 2),
        ({"var_names": "~theta"}, 1),
        ({"coords": {"center": ["mean"]}}, 3),
        ({"var_names": "th", "filter_vars": "like", "kind": "both"}, 6),
    ],
)
def test_panel_count_follows_selection(fitted, kwargs, n):
    out = plot_local_mass(fitted, **kwargs, **_kw())
    assert _n_panels(out) == n


def test_png_has_drawn_pixels(fitted, tmp_path):
    out = plot_local_mass(fitted, var_names="tau", kind="both", **_kw())
    path = tmp_path / "lm.png"
    _figure(out).savefig(path, dpi=60)
    img = plt.imread(path)[..., :3]
    assert img.shape[0] > 100 and img.shape[1] > 200
    # the default C0 blue of the curves is present, not just axes and text
    blue = (np.abs(img[..., 0] - 0.12) < 0.12) & (np.abs(img[..., 2] - 0.71) < 0.15) & (img[..., 1] < 0.6)
    assert blue.sum() > 50


# ----------------------------------------------------------------------------- inputs
def test_plain_posterior_is_computed_with_a_note():
    idata = _container(seed=3, with_prior=False)
    with pytest.warns(LocalMassComputedWarning, match="computed"):
        out = plot_local_mass(idata, var_names="tau", stats={"local_mass": {"centers": {"tau": 0.0}}}, **_kw())
    expected = plm.local_mass(idata, var_names="tau", centers={"tau": 0.0})
    (line,) = _artists(out, "mass", "tau", {"center": "0"})
    ex, ey, _ = _expected_mass(expected["tau"].sel(center="0"))
    np.testing.assert_allclose(_xy(line)[1], ey, equal_nan=True)
    assert plm.results.read(idata) is None  # the input is untouched


def test_overlay_with_a_vanishing_mass_keeps_a_readable_axis():
    # outside check: ADVI's exact mass of a scale at 0 (a log-normal) was 1e-300 and less: the axis
    # limits overflowed (OverflowError from the log ticks), and 300 decades would flatten every curve
    rng = np.random.default_rng(0)
    cur = plm.local_mass({"x": np.abs(rng.normal(size=(4, 500)))}, centers=0.0)
    tiny = cur.copy(deep=True)
    vals = tiny["x"].values
    labels = [str(s) for s in tiny["local_stat"].values]
    for lab in ("mass", "mass_lower", "mass_upper"):
        vals[..., labels.index(lab)] *= 1e-315  # (subnormal)
    tiny["x"] = (tiny["x"].dims, vals)
    out = plot_local_mass({"A": cur, "B": tiny}, **_kw())
    ax = _figure(out).axes[0]
    lo, hi = ax.get_ylim()
    assert hi / lo <= 10.0 ** 17.5  # at most 16 decades below the top (1.6 x) of the drawn masses
    assert lo < float(cur["x"].sel(local_stat="mass").min()) / 2  # the other fit's curve still all shown


def test_stats_take_estimator_options_only():
    # outside check: stats={'local_mass': {'inplace': True}} attached results to the user's container;
    # {'group': ...} raised a bare TypeError from add_local_mass, a typo named add_local_mass
    idata = _container(seed=3, with_prior=False)
    with pytest.raises(InvalidInputError, match="never changes its input"):
        plot_local_mass(idata, var_names="tau", stats={"local_mass": {"inplace": True}}, **_kw())
    assert plm.results.read(idata) is None
    with pytest.raises(InvalidInputError, match="group is plot_local_mass's own argument; pass group="):
        plot_local_mass(idata, var_names="tau", stats={"local_mass": {"group": "prior"}}, **_kw())
    with pytest.raises(UnknownNameError, match="unknown option 'bogus'; the estimators' options are .*'centers'"):
        plot_local_mass(idata, var_names="tau", stats={"local_mass": {"bogus": 1}}, **_kw())
    # one centres mapping for the whole model (as check() takes it), var_names= picking what to plot
    with pytest.warns(LocalMassComputedWarning):
        out = plot_local_mass(idata, var_names="tau", stats={"local_mass": {"centers": {"tau": 0.0, "theta": 1.0}}},
                              **_kw())
    assert _n_panels(out) == 1 and _artists(out, "mass", "tau", {"center": "0"})


def test_estimator_options_for_stored_results_are_said_to_be_ignored(fitted):
    # outside check: stats={'local_mass': {'centers': 3.0}} on a container with stored results drew
    # the stored centre (tau @ 0) and said nothing
    with pytest.warns(UserWarning, match=r"option\(s\) \['centers'\] ignored for the stored local_mass results "
                                         r"of \['tau'\].*plm\.add_local_mass\(idata, centers=\.\.\.\)"):
        out = plot_local_mass(fitted, var_names="tau", stats={"local_mass": {"centers": 3.0}}, **_kw())
    assert _artists(out, "mass", "tau", {"center": "0"})  # the stored centre, as the warning says
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # without stats: nothing to say
        plot_local_mass(fitted, var_names="tau", **_kw())


def test_results_dataset_and_dict_of_draws(results):
    curves, _ = results
    out = plot_local_mass(curves, var_names="tau", **_kw())  # index fitted from the curves
    assert _n_panels(out) == 1
    rng = np.random.default_rng(5)
    with pytest.warns(LocalMassComputedWarning):
        out = plot_local_mass({"x": rng.normal(size=(2, 150))}, **_kw())
    assert _n_panels(out) == 1


def test_overlay_of_fits_shares_radii_and_has_legend(fitted, results):
    curves, index = results
    other = _container(seed=7, shift=0.3, with_prior=False)
    with pytest.warns(LocalMassComputedWarning, match="reference"):
        out = plot_local_mass({"NUTS": fitted, "ADVI": other}, var_names="theta", coords={"school": ["a"]},
                              **_kw())
    sel = {"school": "a", "center": "mean"}
    ref_r = curves["theta"].sel(sel).sel(local_stat="radius").values
    centre = float(index["theta"].sel(sel).sel(index_stat="center_value"))
    expected = plm.local_mass(other, var_names="theta", coords={"school": ["a"]},
                              centers={"theta": {"mean": np.array([centre])}}, radii=ref_r)
    ex, ey, _ = _expected_mass(expected["theta"].sel(sel))
    lines = {}
    for label in ("NUTS", "ADVI"):
        (line,) = _artists(out, "mass", "theta", sel, overlay={"model": label})
        lines[label] = line
    np.testing.assert_allclose(_xy(lines["ADVI"])[1], ey, equal_nan=True)
    xs = [_xy(line)[0] for line in lines.values()]
    # both fits are drawn at the reference's absolute radii
    for x in xs:
        np.testing.assert_allclose(x[np.isfinite(x)], ref_r[np.isfinite(x)])
    assert lines["NUTS"].get_color() != lines["ADVI"].get_color()
    legend_texts = [t.get_text() for leg in _figure(out).legends + [a.get_legend() for a in _figure(out).axes]
                    if leg is not None for t in leg.get_texts()]
    assert {"NUTS", "ADVI"} <= set(legend_texts)


def test_overlay_with_an_approximation_draws_its_exact_masses(fitted, results):
    # an ADVI fit beside the draws, as compare/report take them: exact masses at the reference's radii
    import pymc as pm

    with pm.Model():
        pm.HalfNormal("tau", 1.0)
        advi = pm.fit(1000, progressbar=False, random_seed=3)
    curves, _ = results
    # (the warning said "from group 'posterior'" for an approximation's analytic masses)
    with pytest.warns(LocalMassComputedWarning, match="from the approximation itself"):
        out = plot_local_mass({"NUTS": fitted, "ADVI": advi}, var_names="tau", **_kw())
    sel = {"center": "0"}
    ref_r = curves["tau"].sel(sel).sel(local_stat="radius").values
    expected = plm.local_mass(advi, var_names="tau", centers={"tau": 0.0}, radii=ref_r)
    assert expected.attrs["tier"] == "analytic"
    (line,) = _artists(out, "mass", "tau", sel, overlay={"model": "ADVI"})
    _, ey, _ = _expected_mass(expected["tau"].sel(sel))
    np.testing.assert_allclose(_xy(line)[1], ey, equal_nan=True)
    # the approximation as the first (reference) entry, or alone: its exact masses on its own grid
    with pytest.warns(LocalMassComputedWarning):
        first = plot_local_mass({"ADVI": advi, "NUTS": fitted}, var_names="tau", **_kw())
    own = plm.local_mass(advi, var_names="tau")
    (line,) = _artists(first, "mass", "tau", {"center": "mean"}, overlay={"model": "ADVI"})
    ex, ey, _ = _expected_mass(own["tau"].sel(center="mean"))
    np.testing.assert_allclose(_xy(line)[0], ex, equal_nan=True)
    np.testing.assert_allclose(_xy(line)[1], ey, equal_nan=True)
    with pytest.warns(LocalMassComputedWarning):
        assert _n_panels(plot_local_mass(advi, **_kw())) == 1
    # exact a = inf at the log transform's boundary: no asymptote line, but its text in the slope view
    with pytest.warns(LocalMassComputedWarning):
        both = plot_local_mass({"NUTS": fitted, "ADVI": advi}, var_names="tau", kind="both", **_kw())
    fig = _figure(both)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "ADVI: a = ∞ (faster than any power)" in texts


def test_prior_posterior_overlay(fitted, results):
    curves, _ = results
    with pytest.warns(LocalMassComputedWarning):
        out = plot_local_mass(fitted, group=["prior", "posterior"], var_names="tau", kind="both", **_kw())
    assert _n_panels(out) == 2
    sel = {"center": "0"}
    post = _artists(out, "mass", "tau", sel, overlay={"group": "posterior"})[0]
    prior = _artists(out, "mass", "tau", sel, overlay={"group": "prior"})[0]
    ex, ey, _ = _expected_mass(curves["tau"].sel(sel))
    np.testing.assert_allclose(_xy(post)[1], ey, equal_nan=True)
    r = curves["tau"].sel(sel).sel(local_stat="radius").values
    px = _xy(prior)[0]
    np.testing.assert_allclose(px[np.isfinite(px)], r[np.isfinite(px)])
    legend_texts = [t.get_text() for leg in _figure(out).legends for t in leg.get_texts()]
    assert {"prior", "posterior"} <= set(legend_texts)


def test_results_with_a_group_dim_overlay_their_groups():
    # add_local_mass(..., group=[...]) stores the groups along dim "group": one panel per
    # element and centre, one curve per group, and a legend naming them
    idata = _container()
    both = plm.add_local_mass(idata, var_names=["tau"], group=["posterior", "prior"], centers={"tau": 0.0})
    curves, _ = plm.results.read(both)
    out = plot_local_mass(both, **_kw())
    assert _n_panels(out) == 1
    sel = {"center": "0"}
    for g in ("posterior", "prior"):
        (line,) = _artists(out, "mass", "tau", sel, overlay={"group": g})
        _, ey, _ = _expected_mass(curves["tau"].sel(sel).sel(group=g))
        np.testing.assert_allclose(_xy(line)[1], ey, equal_nan=True)
    legend_texts = [t.get_text() for leg in _figure(out).legends for t in leg.get_texts()]
    assert {"prior", "posterior"} <= set(legend_texts)
    # asking for a subset of the stored groups selects them, without recomputing
    with warnings.catch_warnings():
        warnings.simplefilter("error", LocalMassComputedWarning)
        sub = plot_local_mass(both, group=["prior"], **_kw())
    assert _n_panels(sub) == 1 and len(_artists(sub, "mass", "tau", sel)) == 1


def test_joint_ball_reference_slopes(fitted):
    joint = plm.local_mass(fitted, var_names=["tau", "theta"], joint=True)
    jindex = plm.mass_index(fitted, var_names=["tau", "theta"], joint=True)
    out = plot_local_mass((joint, jindex), **_kw())
    assert _n_panels(out) == 1
    refs = _artists(out, "reference", "tau+theta", {"center": "mean"})
    slopes = sorted(round(float(np.diff(np.log(_xy(r)[1]))[0] / np.diff(np.log(_xy(r)[0]))[0]), 6) for r in refs)
    assert slopes == [1.0, 2.0, 3.0, 4.0]  # d = 1 (tau) + 3 (theta) coordinates


def test_errors(fitted):
    with pytest.raises(ValueError, match="kind"):
        plot_local_mass(fitted, kind="dense")
    with pytest.raises(KeyError, match="nope"):
        plot_local_mass(fitted, var_names="nope")
    with pytest.raises(KeyError, match="group"):
        plot_local_mass(fitted, group=["prior", "nowhere"])
    with pytest.raises(ValueError, match="visuals"):
        plot_local_mass(fitted, visuals={"masss": False}, **_kw())


def test_visuals_can_hide_elements(fitted):
    out = plot_local_mass(fitted, var_names="tau", visuals={"fit": False, "reference": False, "key": False},
                          **_kw())
    assert not _artists(out, "fit", "tau", {"center": "0"}) if not MODERN else "fit" not in out.viz.children
    assert len(_artists(out, "mass", "tau", {"center": "0"})) == 1
    # the line-style key leaves out what is not drawn
    out = plot_local_mass(fitted, var_names="tau", visuals={"fit": False, "reference": False}, **_kw())
    fig = _figure(out)
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    texts = {t.get_text() for leg in legends for t in leg.get_texts()}
    assert "resolved" in texts and "fitted index (a, b)" not in texts
    assert not any(t.startswith("reference slope") for t in texts)
    # an entry stays while its style is drawn in the other view (the asymptote has the fit's style)
    out = plot_local_mass(fitted, var_names="tau", kind="both", visuals={"fit": False}, **_kw())
    fig = _figure(out)
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert "fitted index (a, b)" in {t.get_text() for leg in legends for t in leg.get_texts()}


# ----------------------------------------------------------------------------- legacy specifics
@legacy_only
def test_legacy_ax_and_figsize(fitted):
    fig, axes = plt.subplots(2, 3, figsize=(9, 5))
    out = plot_local_mass(fitted, ax=axes)
    assert out.shape == (4,) and out[0] is axes[0, 0]
    out = plot_local_mass(fitted, var_names="tau", kind="both", figsize=(7, 3))
    assert out.shape == (1, 2)
    np.testing.assert_allclose(out[0, 0].figure.get_size_inches(), (7, 3))
    # figsize inside backend_kwargs, as ArviZ 0.2x takes it
    out = plot_local_mass(fitted, var_names="tau", backend_kwargs={"figsize": (4, 3)})
    np.testing.assert_allclose(out[0].figure.get_size_inches(), (4, 3))
    with pytest.warns(UserWarning, match="with ax= they are ignored"):
        plot_local_mass(fitted, ax=axes, figsize=(3, 3))
    with pytest.raises(ValueError, match="axes"):
        plot_local_mass(fitted, ax=axes[0, :2])
    with pytest.raises(TypeError, match="ArviZ 1.x"):
        plot_local_mass(fitted, plot_collection=object())


# ----------------------------------------------------------------------------- modern specifics
@modern_only
def test_modern_returns_plot_collection_and_rejects_legacy_args(fitted):
    from arviz_plots import PlotCollection

    pc = plot_local_mass(fitted, var_names="tau", backend="matplotlib")
    assert isinstance(pc, PlotCollection)
    with pytest.raises(TypeError, match="0.2x"):
        plot_local_mass(fitted, ax=object())


@modern_only
def test_modern_plot_collection_reuse_and_aes(fitted):
    pc = plot_local_mass(fitted, var_names="tau", backend="matplotlib")
    again = plot_local_mass(fitted, var_names="tau", plot_collection=pc, visuals={"key": False})
    assert again is pc
    assert len(_artists(pc, "mass", "tau", {"center": "0"})) == 1
    other = _container(seed=9, with_prior=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalMassComputedWarning)
        pc = plot_local_mass({"A": fitted, "B": other}, var_names="tau", backend="matplotlib",
                             aes_by_visuals={"fit": []})
    fits = _artists(pc, "fit", "tau", {"center": "0"})
    assert len({f.get_color() for f in fits}) == 1  # fit lines ignore the overlay colour
    assert len(fits) == 2 and all(np.ndim(f.get_xdata()) == 1 for f in fits)  # but one line per fit
    # drawing the same overlay into the collection again adds no second legend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalMassComputedWarning)
        plot_local_mass({"A": fitted, "B": other}, var_names="tau", plot_collection=pc)
    fig = pc.get_viz("figure")
    titled = [leg for leg in list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
              if leg.get_title().get_text() == "model"]
    assert len(titled) == 1


@modern_only
def test_bokeh_data_sources_and_html(fitted, results, tmp_path):
    from bokeh.embed import file_html
    from bokeh.models import LogScale
    from bokeh.resources import INLINE

    curves, _ = results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalMassComputedWarning)
        pc = plot_local_mass({"A": fitted, "B": _container(seed=11, with_prior=False)},
                             var_names="theta", coords={"school": ["a", "b"]}, kind="both", backend="bokeh")
    assert _n_panels(pc) == 4
    sel = {"school": "b", "center": "mean"}
    ex, ey, _ = _expected_mass(curves["theta"].sel(sel))
    (glyph,) = _artists(pc, "mass", "theta", sel, overlay={"model": "A"})
    data = glyph.data_source.data
    np.testing.assert_allclose(np.asarray(data["x"], float), ex, equal_nan=True)
    np.testing.assert_allclose(np.asarray(data["y"], float), ey, equal_nan=True)
    fig = pc.get_viz("plot", "theta", dict(sel, panel="mass"))
    assert isinstance(fig.x_scale, LogScale) and isinstance(fig.y_scale, LogScale)
    assert fig.title.text == "theta[b] @ mean"
    slope_fig = pc.get_viz("plot", "theta", dict(sel, panel="slope"))
    assert not isinstance(slope_fig.y_scale, LogScale)
    labels = [item.label.value for leg in fig.select({"type": __import__("bokeh.models").models.Legend})
              for item in leg.items]
    labels += [item.label.value for p in np.ravel(pc.viz["plot"]["theta"].values) if p is not None
               for leg in p.legend for item in leg.items]
    assert {"A", "B"} <= set(labels)
    html = file_html(pc.get_viz("figure"), INLINE, "local mass")
    path = tmp_path / "lm_bokeh.html"
    path.write_text(html)
    assert path.stat().st_size > 10_000 and "theta[b] @ mean" in html
    # save_figure writes the same self-contained page (bokeh's JS inline, no CDN)
    saved = plots.save_figure(pc, tmp_path / "saved_bokeh.html")
    text = open(saved, encoding="utf-8").read()
    assert "theta[b] @ mean" in text and len(text) > 500_000
    assert not re.search(r"<script[^>]+src=[\"']https?://", text)  # nothing fetched from the network


@modern_only
def test_plotly_traces_and_html(fitted, results, tmp_path):
    pytest.importorskip("webcolors", reason="arviz-plots' plotly backend needs webcolors")
    curves, index = results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalMassComputedWarning)
        pc = plot_local_mass(fitted, group=["prior", "posterior"], var_names="tau", kind="both", backend="plotly")
    assert _n_panels(pc) == 2
    sel = {"center": "0"}
    ex, ey, _ = _expected_mass(curves["tau"].sel(sel))
    (trace,) = _artists(pc, "mass", "tau", sel, overlay={"group": "posterior"})
    np.testing.assert_allclose(np.asarray(trace.x, float), ex, equal_nan=True)
    np.testing.assert_allclose(np.asarray(trace.y, float), ey, equal_nan=True)
    fig = pc.get_viz("figure")
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis2.type in (None, "linear", "-")
    assert "tau @ 0" in [a.text for a in fig.layout.annotations]
    names = {t.name for t in fig.data if t.showlegend}
    assert {"prior", "posterior"} <= names
    path = tmp_path / "lm_plotly.html"
    fig.write_html(path)
    assert path.stat().st_size > 10_000
    saved = plots.save_figure(pc, tmp_path / "saved_plotly.html")
    text = open(saved, encoding="utf-8").read()
    assert "tau @ 0" in text and len(text) > 1_000_000  # plotly.js inline
    assert not re.search(r"<script[^>]+src=[\"']https?://", text)


def test_results_without_coordinates_plot_with_integer_labels(rng):
    # a dict of arrays gives dims without coordinate values: panels are labelled 0, 1, 2 as ArviZ would
    res = plm.local_mass({"v": rng.normal(size=(4, 500, 3))}, centers=0.0)
    out = plot_local_mass(res, **_kw())
    assert _n_panels(out) == 3
    (line,) = _artists(out, "mass", "v", {"v_dim_0": 2, "center": "0"})
    ex, ey, _ = _expected_mass(res["v"].isel(v_dim_0=2).sel(center="0"))
    x, y = _xy(line)
    np.testing.assert_allclose(x, ex, equal_nan=True)
    np.testing.assert_allclose(y, ey, equal_nan=True)
    assert _n_panels(plot_local_mass(res, coords={"v_dim_0": [1]}, **_kw())) == 1
    assert "v_dim_0" not in res.coords  # the user's results are not changed


def test_fit_line_with_a_log_term_only_where_the_law_rises(rng):
    # m = C r^a log(scale/r)^b with b > 0 falls where log(scale/r) < b/a: the line stops
    # while its slope is still a/2, so it never runs against a mass curve that rises
    res = plm.local_mass({"x": rng.normal(size=(4, 1000))}, centers=0.0)
    idx = plm.mass_index(res)
    idx["x"].loc[{"index_stat": "b"}] = 1.5
    idx["x"].loc[{"index_stat": "b_lower"}] = 0.5
    idx["x"].loc[{"index_stat": "b_upper"}] = 2.5
    out = plot_local_mass((res, idx), **_kw())
    (line,) = _artists(out, "fit", "x", {"center": "0"})
    x, y = _xy(line)
    ok = np.isfinite(x) & np.isfinite(y)
    assert ok.sum() > 10 and np.all(np.diff(np.log(y[ok])) / np.diff(np.log(x[ok])) > 0)
    a = float(idx["x"].sel(center="0", index_stat="a"))
    scale = float(idx["x"].sel(center="0", index_stat="scale"))
    assert x[ok].max() <= scale * np.exp(-2 * 1.5 / a) * (1 + 1e-9)


def test_group_overlay_takes_the_variables_every_group_has(rng):
    data = make_container(posterior={"mu": rng.normal(size=(4, 500)), "extra": rng.normal(size=(4, 500))},
                          prior={"mu": rng.normal(0, 3, size=(4, 500))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalMassComputedWarning)
        for groups in (["prior", "posterior"], ["posterior", "prior"]):
            out = plot_local_mass(data, group=groups, **_kw())
            assert _n_panels(out) == 1 and len(_artists(out, "mass", "mu", {"center": "mean"})) == 2
        with pytest.raises(KeyError, match=r"variable\(s\) \['extra'\] not in group 'prior'"):
            plot_local_mass(data, group=["posterior", "prior"], var_names=["mu", "extra"], **_kw())
        # exclusions and patterns apply among the shared variables
        assert _n_panels(plot_local_mass(data, group=["posterior", "prior"], var_names="~extra", **_kw())) == 1
        assert _n_panels(plot_local_mass(data, group=["posterior", "prior"], var_names="m", filter_vars="like",
                                         **_kw())) == 1
        # stored results for some variables: those are the ones overlaid
        both = make_container(posterior={"mu": rng.normal(size=(4, 500)), "tau": rng.normal(size=(4, 500))},
                              prior={"mu": rng.normal(size=(4, 500)), "tau": rng.normal(size=(4, 500))})
        stored = plm.add_local_mass(both, var_names="mu", centers={"mu": 0.0})
        out = plot_local_mass(stored, group=["posterior", "prior"], **_kw())
        assert _n_panels(out) == 1 and len(_artists(out, "mass", "mu", {"center": "0"})) == 2


def test_atom_on_a_lattice_is_drawn_at_its_weight():
    # Poisson draws at 3: the atom (22% of the draws) is the mass of every ball smaller than the
    # lattice gap, where the curve cannot start; its (0, 0) line is drawn at the weight, on the axis
    rng = np.random.default_rng(0)
    post = {"k": rng.poisson(3.0, size=(2, 500))}
    data = az.from_dict({"posterior": post}) if MODERN else az.from_dict(posterior=post)
    out = plm.add_local_mass(data, centers={"k": 3.0})
    atom = float(plm.summary(out)["atom"].iloc[0])
    assert atom == pytest.approx((post["k"] == 3).mean())
    res = plot_local_mass(out, **_kw())
    (fit,) = _artists(res, "fit", "k", {"center": "3"})
    fx, fy = _xy(fit)
    np.testing.assert_allclose(fy, atom)
    ax = fit.axes
    assert ax.get_ylim()[0] < atom and fx.max() <= 1.0 + 1e-9  # up to the lattice gap, on the axis


@pytest.mark.skipif(not MODERN, reason="ArviZ 1.x (DataTree nodes) only")
def test_plot_of_a_node_holding_the_draws():
    # outside check: plot_local_mass(idata.posterior) raised add_local_mass's refusal of a node
    import xarray as xr

    rng = np.random.default_rng(0)
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"x": (("chain", "draw"), rng.normal(size=(2, 300)))})})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = plm.plot_local_mass(tree["posterior"], backend="matplotlib")
    assert out is not None and "local_mass" not in tree["posterior"].children


def test_a_stacked_element_dim_is_plotted_with_summary_labels(rng):
    import xarray as xr

    ds = xr.Dataset({"x": (("chain", "draw", "row", "col"), rng.normal(size=(4, 300, 2, 2)))},
                    coords={"row": ["r1", "r2"], "col": [1, 2]}).stack(cell=("row", "col"))
    with pytest.warns(LocalMassComputedWarning):
        out = plot_local_mass(ds, **_kw())
    assert _n_panels(out) == 4
    titles = sorted(ax.get_title() for ax in _figure(out).axes if ax.get_title())
    assert titles == ["x[r1.1] @ mean", "x[r1.2] @ mean", "x[r2.1] @ mean", "x[r2.2] @ mean"]


@pytest.mark.parametrize("dim", ["group", "model"])
def test_an_element_dim_named_like_an_overlay_dim(rng, dim):
    # a hierarchical model's coords={"group": [...]}: the plot took the dim for its own overlay of
    # several groups and raised ("Dimensions {'group'} do not exist"); it is an element dim
    draws = {"a": rng.normal(size=(4, 300, 3)), "b": rng.normal(size=(4, 300))}
    data = plm.add_local_mass(make_container(posterior=draws, dims={"a": [dim]}, coords={dim: ["A", "B", "C"]}))
    out = plot_local_mass(data, **_kw())
    titles = sorted(ax.get_title() for ax in _figure(out).axes if ax.get_title())
    assert titles == ["a[A] @ mean", "a[B] @ mean", "a[C] @ mean", "b @ mean"]


@pytest.mark.parametrize("kind, shown", [("mass", 40), ("both", 20)])
def test_panels_beyond_arviz_max_subplots_are_left_out_with_a_warning(rng, kind, shown):
    # an 800-element Deterministic (PyMC 6's OrderedLogistic adds one) drew 0.2 s a panel, for minutes;
    # as ArviZ's plots, at most rcParams["plot.max_subplots"] (40) plots, the first panels
    data = plm.add_local_mass(make_container(posterior={"p": rng.normal(size=(4, 200, 45))}))
    before = plm.results.read(data)[0].copy(deep=True)
    with pytest.warns(UserWarning, match=rf"45 panels \(\d+ plots\); showing the first {shown}"):
        out = plot_local_mass(data, kind=kind, **_kw())
    assert _n_panels(out) == shown * (2 if kind == "both" else 1)
    titles = [ax.get_title() for ax in _figure(out).axes if ax.get_title()]
    assert "p[0] @ mean" in titles and f"p[{shown - 1}] @ mean" in titles and f"p[{shown}] @ mean" not in titles
    assert plm.results.read(data)[0].identical(before)  # (the stored results are not touched)
