"""What the package asks of a PyMC model itself (beyond its draws): its MAP point.

The model's log density and variables are in :mod:`pymc_localmass.adapters.model_density`,
its approximations in :mod:`pymc_localmass.adapters.approx`. PyMC is imported
only when a model is used (the optional ``pymc`` extra).
"""

from __future__ import annotations


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
