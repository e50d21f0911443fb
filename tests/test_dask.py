"""Dask-backed posteriors give the same numbers, chunk by chunk."""

import numpy as np
import pytest
import xarray as xr

import pymc_localmass as plm

dask = pytest.importorskip("dask")


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


def test_dask_processes_one_chunk_at_a_time(rng):
    # every call of the core sees at most one chunk of elements
    from pymc_localmass import estimators

    seen = []
    orig = estimators.rescaled_local_mass_curves  # the core, on a rescaled copy when needed

    def spy(x, *args, **kwargs):
        seen.append(x.shape)
        return orig(x, *args, **kwargs)

    estimators.rescaled_local_mass_curves = spy
    try:
        x = rng.normal(size=(4, 300, 8))
        ds = xr.Dataset({"x": (("chain", "draw", "k"), x)}).chunk({"k": 2, "draw": 100})
        plm.local_mass(ds)
    finally:
        estimators.rescaled_local_mass_curves = orig
    assert seen and all(s[0] <= 2 for s in seen if len(s) == 3)
    assert all(s[-2:] == (4, 300) for s in seen)
