"""Numerical core of pymc-localmass.

Pure functions on numpy arrays: distances, small-ball mass curves with
intervals honest under MCMC autocorrelation, Mass Index fitting, atoms.
This package imports neither xarray nor ArviZ nor PyMC; the layers above it
map these functions over variables and elements.
"""

from .curves import CURVE_STATS, INDEX_STATS, local_mass_curves, radius_grid
from .distances import center_values, joint_distances
from .index import fit_index_curve, fit_index_draws, hill_estimator, finite_difference_slopes
from .intervals import beta_interval
from .ess import indicator_ess

__all__ = [
    "CURVE_STATS",
    "INDEX_STATS",
    "beta_interval",
    "center_values",
    "finite_difference_slopes",
    "fit_index_curve",
    "fit_index_draws",
    "hill_estimator",
    "indicator_ess",
    "joint_distances",
    "local_mass_curves",
    "radius_grid",
]
