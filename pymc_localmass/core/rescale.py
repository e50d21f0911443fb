"""Mass curves at any float64 scale: compute on a copy rescaled by a power of two.

Masses, slopes, effective draws and the Mass Index do not change when the
draws, the centre and the radii are multiplied by one number; sums and
squares of the draws do overflow (draws near 1e160) or underflow (near
1e-200). :func:`local_mass_curves` therefore runs here on a copy of each
element's draws divided by a power of two near their magnitude (exact: no
rounding), and the lengths among the results are multiplied back. Draws of
ordinary magnitude are passed through untouched.
"""

import warnings

import numpy as np

from .curves import CURVE_STATS, INDEX_STATS, local_mass_curves
from .lattice import pow2_scale

#: magnitudes of draws (and centres) computed on as they are
SAFE_RANGE = (2.0**-200, 2.0**200)
#: labels of the results that are lengths (multiplied back); every other label is scale-free
LENGTH_CURVE_STATS = ("radius",)
LENGTH_INDEX_STATS = ("center_value", "scale", "window", "nearest", "r_resolved", "resolution")


def _largest_magnitude(x):
    """Largest finite ``|x|`` over the last two axes, without a full-size temporary."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN elements
        big = np.fmax(np.abs(np.nanmax(x, axis=(-2, -1))), np.abs(np.nanmin(x, axis=(-2, -1))))
    bad = ~np.isfinite(big)
    if np.any(bad):  # infinite draws (left out with nan_policy="omit"), or none finite
        rows = x[bad]
        big = np.array(big, dtype=float)
        big[bad] = np.max(np.where(np.isfinite(rows), np.abs(rows), 0.0), axis=(-2, -1))
    return np.asarray(big, dtype=float)


def rescaled_local_mass_curves(x, scale=None, *, center=None, radii=None, r_max=None, **kwargs):
    """:func:`~.curves.local_mass_curves` without overflow or underflow anywhere in float64.

    Same arguments and results. An element whose draws (or numeric centre)
    exceed ``SAFE_RANGE`` in magnitude is computed on ``x / f``, with the
    centre, radii, ``scale`` and ``r_max`` divided by the same power of two
    ``f``, and its lengths (:data:`LENGTH_CURVE_STATS`,
    :data:`LENGTH_INDEX_STATS`) multiplied by ``f`` after.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 500))
    >>> c1, i1 = rescaled_local_mass_curves(x, center=0.0, radii=np.array([0.5]))
    >>> c2, i2 = rescaled_local_mass_curves(x * 1e200, center=0.0, radii=np.array([0.5e200]))
    >>> bool(np.allclose(c1[..., 1:], c2[..., 1:], equal_nan=True)), bool(np.isclose(i1[0], i2[0]))
    (True, True)
    """
    x = np.asarray(x)
    if x.dtype.kind in "iub" or x.ndim < 2:
        return local_mass_curves(x, scale, center=center, radii=radii, r_max=r_max, **kwargs)
    lead = x.shape[:-2]
    numeric = center is not None and not isinstance(center, str)
    big = _largest_magnitude(x)
    if numeric:  # the largest magnitude among the draws and the centre
        big = np.maximum(big, np.abs(np.broadcast_to(np.asarray(center, float), lead)))
    mag = pow2_scale(big[..., None])
    lo, hi = SAFE_RANGE
    need = (mag > hi) | (mag < lo)
    if not np.any(need):
        return local_mass_curves(x, scale, center=center, radii=radii, r_max=r_max, **kwargs)
    f = np.where(need, mag, 1.0)

    def div(value, extra=0):
        if value is None:
            return None
        v = np.asarray(value, float)
        return v / f.reshape(f.shape + (1,) * extra) if v.ndim or f.ndim else v / f

    xs = x / f[..., None, None]
    if radii is not None:
        radii = np.broadcast_to(np.asarray(radii, float), lead + (np.shape(radii)[-1],))
    curves, index = local_mass_curves(xs, div(scale), center=div(center) if numeric else center,
                                      radii=div(radii, 1), r_max=div(r_max), **kwargs)
    with np.errstate(over="ignore"):
        for lab in LENGTH_CURVE_STATS:
            curves[..., CURVE_STATS.index(lab)] *= f[..., None]
    if radii is None and not np.all(np.isfinite(curves[..., CURVE_STATS.index("radius")])):
        raise ValueError("the automatic radius grid (up to 4 times the draws' distances to the centre) exceeds "
                         "the float64 range; pass radii= explicitly")
    if radii is not None:  # explicit radii are honoured exactly
        curves[..., CURVE_STATS.index("radius")] = radii
    for lab in LENGTH_INDEX_STATS:
        index[..., INDEX_STATS.index(lab)] *= f
    return curves, index
