"""Dask-backed posteriors give the same numbers, chunk by chunk of elements or of draws."""

import numpy as np
import pytest
import xarray as xr

import pymc_localmass as plm
from pymc_localmass.errors import InvalidInputError

dask = pytest.importorskip("dask")


def assert_results_close(eager, lazy, rtol=1e-9):
    """Equal to float noise (docs/scale.md: the mean and sd are sums in another order; the index
    fits converge to a tolerance, so their results are compared with rtol=1e-5)."""
    assert set(eager.data_vars) == set(lazy.data_vars)
    for name in eager.data_vars:
        xr.testing.assert_allclose(eager[name], lazy[name], rtol=rtol, atol=0)


def test_dask_same_numbers(rng):
    x = rng.gamma(2.0, size=(4, 400, 6))
    ds = xr.Dataset({"x": (("chain", "draw", "k"), x)})
    eager = plm.local_mass(ds, centers=[0.0, "mean"])
    eager_idx = plm.mass_index(ds, centers=[0.0, "mean"])
    lazy_ds = ds.chunk({"k": 2})
    assert lazy_ds["x"].chunks is not None
    lazy = plm.local_mass(lazy_ds, centers=[0.0, "mean"])
    lazy_idx = plm.mass_index(lazy_ds, centers=[0.0, "mean"])
    xr.testing.assert_allclose(eager, lazy)
    xr.testing.assert_allclose(eager_idx, lazy_idx)


@pytest.mark.parametrize("chunks", [{"draw": 100}, {"draw": 64, "k": 2}, {"chain": 1, "draw": 150, "k": 4}])
def test_chunked_along_draw_same_numbers(rng, chunks):
    x = rng.gamma(2.0, size=(4, 300, 5))
    x[..., 4] = np.round(x[..., 4])  # a lattice element
    ds = xr.Dataset({"x": (("chain", "draw", "k"), x), "mu": (("chain", "draw"), rng.normal(size=(4, 300)))},
                    coords={"k": list("abcde")})
    centers = [0.0, "mean", "median"]
    eager = plm.local_mass(ds, centers=centers)
    eager_idx = plm.mass_index(ds, centers=centers)
    lazy = plm.local_mass(ds.chunk(chunks), centers=centers)
    lazy_idx = plm.mass_index(ds.chunk(chunks), centers=centers)
    # counts inside each ball: to the bit
    np.testing.assert_array_equal(eager["x"].sel(local_stat="mass").values, lazy["x"].sel(local_stat="mass").values)
    assert_results_close(eager, lazy)
    assert_results_close(eager_idx, lazy_idx, rtol=1e-5)
    assert lazy.attrs.keys() == eager.attrs.keys()


def test_explicit_radii_and_container(rng):
    from conftest import make_container

    post = {"theta": rng.normal(size=(4, 200, 3))}
    idata = make_container(posterior=post)
    from pymc_localmass._compat import get_group

    r = np.geomspace(0.05, 1.0, 6)
    eager = plm.local_mass(idata, radii=r, centers=[0.2])
    lazy_ds = get_group(idata, "posterior").to_dataset() if hasattr(get_group(idata, "posterior"), "to_dataset") \
        else get_group(idata, "posterior")
    lazy = plm.local_mass(lazy_ds.chunk({"draw": 50}), radii=r, centers=[0.2])
    np.testing.assert_array_equal(eager["theta"].values, lazy["theta"].values)


def test_streams_one_block_at_a_time(rng):
    """No task sees more than one input block: the draw axis is never gathered into one chunk."""
    from pymc_localmass import _streaming

    seen = []
    orig = _streaming.partial

    def spy(x, chains, draws, p):
        seen.append(np.shape(x))
        return orig(x, chains, draws, p)

    x = rng.normal(size=(4, 300, 8))
    ds = xr.Dataset({"x": (("chain", "draw", "k"), x)}).chunk({"k": 2, "draw": 100})
    _streaming.partial = spy
    try:
        lazy = plm.local_mass(ds)
    finally:
        _streaming.partial = orig
    # every pass maps over every block: 4 element blocks x 3 draw blocks, 4 passes (mean centre)
    assert len(seen) == 4 * 3 * 4
    assert all(s == (2, 4, 100) for s in seen)
    xr.testing.assert_allclose(plm.local_mass(ds.compute()), lazy, rtol=1e-9, atol=0)


def test_graph_holds_no_full_draw_axis(rng):
    """The graph of a pass reads the input's own blocks (no rechunk) and its largest partial is small."""
    import dask.array as da

    from pymc_localmass._streaming import SPLIT_EVERY, _tree
    from pymc_localmass.core.streaming import StreamPlan, partial

    arr = da.from_array(rng.normal(size=(8, 4, 1000)), chunks=(4, 4, 100))
    plan = StreamPlan((4, 4, 1000), arr.dtype, center=0.0)
    blocks = arr.to_delayed()
    parts = [dask.delayed(partial)(blocks[0, 0, j], slice(0, 4), slice(100 * j, 100 * (j + 1)),
                                   plan.params()) for j in range(10)]
    root = _tree(dask.delayed, parts)
    graph = dict(root.__dask_graph__())
    assert not any("rechunk" in str(k) for k in graph)
    # the tree: 10 partials, combined SPLIT_EVERY at a time
    n_combine = sum("_combine_many" in str(k) for k in graph)
    assert n_combine == int(np.ceil(10 / SPLIT_EVERY)) + 1
    # each partial result is a fixed size per element (counts per chain, batch and cell), whatever the draws
    x = blocks[0, 0, 0].compute()
    while plan.stage != "cells":
        plan.finish(partial(arr[:4].compute(), slice(0, 4), slice(0, 1000), plan.params()))
    out = partial(x, slice(0, 4), slice(0, 100), plan.params())
    lay = plan.lay
    per_element = lay["C"] * lay["n_b"] * lay["R"] * 4 + 800 * 8
    assert sum(v.nbytes for v in out.values()) <= 4 * per_element


def test_mode_center_and_errors_on_chunked_draws(rng):
    x = rng.normal(size=(4, 200, 3))
    ds = xr.Dataset({"x": (("chain", "draw", "k"), x)}, coords={"k": ["p", "q", "r"]})
    eager = plm.mass_index(ds, centers="mode")
    lazy = plm.mass_index(ds.chunk({"draw": 50}), centers="mode")  # gathered per element block (documented)
    xr.testing.assert_allclose(eager, lazy)
    bad = x.copy()
    bad[1, 120, 2] = np.nan
    lazy_bad = xr.Dataset({"x": (("chain", "draw", "k"), bad)}, coords={"k": ["p", "q", "r"]}).chunk({"draw": 50})
    with pytest.raises(InvalidInputError, match=r"x\[r\]"):
        plm.local_mass(lazy_bad)
    omitted = plm.local_mass(lazy_bad, nan_policy="omit")
    eager_omit = plm.local_mass(lazy_bad.compute(), nan_policy="omit")
    xr.testing.assert_allclose(eager_omit, omitted, rtol=1e-9, atol=0)
    const = xr.Dataset({"x": (("chain", "draw", "k"), np.ones((4, 200, 3)))}).chunk({"draw": 50})
    with pytest.raises(InvalidInputError, match="constant"):
        plm.local_mass(const)


def test_user_data_untouched(rng):
    x = rng.normal(size=(4, 200, 2))
    ds = xr.Dataset({"x": (("chain", "draw", "k"), x)}).chunk({"draw": 50})
    before = ds.copy(deep=True)
    plm.local_mass(ds, centers=["mean", 0.0])
    xr.testing.assert_identical(ds, before)
    assert ds["x"].chunks == before["x"].chunks


def test_joint_ball_of_dask_chunked_draws_equals_in_memory():
    # outside check: joint=True on draws chunked along `draw` failed inside xarray (a core
    # dimension in several chunks); the joint's coordinates are read into memory
    import pymc_localmass as plm

    rng = np.random.default_rng(7)
    ds = xr.Dataset({"mu": (("chain", "draw"), rng.normal(0, 1, (4, 1000))),
                     "tau": (("chain", "draw"), np.abs(rng.normal(0, 1, (4, 1000))))})
    mem = plm.mass_index(ds, joint=True, centers=0.0)
    lazy = plm.mass_index(ds.chunk({"draw": 250}), joint=True, centers=0.0)
    np.testing.assert_allclose(lazy["mu+tau"].values, mem["mu+tau"].values, rtol=1e-10, equal_nan=True)


def test_joint_ball_of_dask_chunked_draws_at_their_mean_and_median():
    # joint=True at centre "mean" on dask draws computed the median too, which dask cannot do over
    # (chain, draw) of a chunked array (NotImplementedError); each centre is computed alone now
    import pymc_localmass as plm

    rng = np.random.default_rng(8)
    ds = xr.Dataset({"mu": (("chain", "draw"), rng.normal(0, 1, (4, 1000))),
                     "k": (("chain", "draw"), rng.poisson(3, (4, 1000)))})
    for centre in ("mean", "median"):
        mem = plm.mass_index(ds, joint=True, centers=centre)
        lazy = plm.mass_index(ds.chunk({"draw": 250}), joint=True, centers=centre)
        np.testing.assert_allclose(lazy["mu+k"].values, mem["mu+k"].values, rtol=1e-10, equal_nan=True)
    # (the mean of a Poisson count is off its lattice: no mass within the gap)
    assert plm.summary(ds.chunk({"draw": 250}), joint=True).iloc[0].status == "lattice"
