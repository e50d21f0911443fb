"""What the package asks of a PyMC model itself (beyond its draws): its MAP point, draws of its prior.

The model's log density and variables are in :mod:`pymc_localmass.adapters.model_density`,
its approximations in :mod:`pymc_localmass.adapters.approx`. PyMC is imported
only when a model is used (the optional ``pymc`` extra).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from . import SAMPLE_DIMS, to_dataset


def map_point(model):
    """The model's maximum a posteriori point, ``{free variable name: value}`` (``pm.find_MAP``).

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    dict of str to ndarray
    """
    import pymc as pm

    with model:
        return pm.find_MAP(progressbar=False)


def prior_draws(model, n, seed):
    """Draws of the model's free variables from its prior, as ``(chain, draw, ...)`` (4 chains).

    Parameters
    ----------
    model : pymc.Model
    n : int
        Number of draws wanted (at least 25 per chain are drawn).
    seed : int

    Returns
    -------
    xarray.Dataset
    """
    import pymc as pm

    n_chain = 4
    per = max(int(np.ceil(n / n_chain)), 25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp = pm.sample_prior_predictive(draws=n_chain * per, model=model, random_seed=seed)
    ds = to_dataset(pp, "prior")
    free = [rv.name for rv in model.free_RVs]
    ds = ds[[v for v in free if v in ds.data_vars]]
    out = {}
    for v in ds.data_vars:
        arr = ds[v].values.reshape((n_chain, per) + ds[v].shape[2:])
        out[v] = (list(SAMPLE_DIMS) + [d for d in ds[v].dims if d not in SAMPLE_DIMS], arr)
    coords = {d: ds[d].values for d in ds.dims if d not in SAMPLE_DIMS and d in ds.coords}
    return xr.Dataset(out, coords=coords)
