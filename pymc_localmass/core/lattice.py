"""Lattice detection and scale-safe moments (numpy only).

Draws on a lattice ``{o + k h}`` are discrete: a ball around a centre that is
not a lattice point holds no draw below the distance to the nearest one, so
its Mass Index is ``a = inf``. Detection is scale-free: what counts is that
the draws sit at whole multiples of a spacing the floating-point numbers
resolve, not that they happen to be whole numbers (every float64 above 2**53
is a whole number; ``1e20 * x`` is no lattice, ``31.6 * poisson`` is one).
"""

import warnings

import numpy as np

#: a lattice spans at most this many times as many positions as there are draws;
#: sparser, the draws do not resolve its spacing (they look continuous at it)
SPAN_FACTOR = 4
#: positions (v - v0) / h must lie this close to whole numbers
POSITION_TOL = 1e-6
#: draws looked at first: a row whose first draws are no lattice is rejected cheaply
HEAD = 64
#: a lattice's spacing must exceed this many units in the last place of the draws'
#: own floating-point type (float32 draws near 5000 sit 4.9e-4 apart: rounding, not a lattice)
DTYPE_ULPS = 64


def _gcd(diffs, floor):
    """Approximate greatest common divisor of positive spacings, or 0 once it falls below ``floor``."""
    g = 0.0
    for d in diffs:
        a, b = (g, d) if g >= d else (d, g)
        while b > floor * 1e-3:
            a, b = b, np.fmod(a, b)
            if b > a - floor * 1e-3:  # remainder within rounding of the divisor: it divides
                b = 0.0
        g = a
        if g < floor:
            return 0.0
    return g


def resolution(values, dtype):
    """The rounding grid of the draws near ``values``: units in the last place in their ``dtype`` (0 for integers).

    Examples
    --------
    >>> float(resolution(1e15, np.float64)), float(resolution(5000.0, np.float32)), float(resolution(3.0, np.int64))
    (0.125, 0.00048828125, 0.0)
    """
    v = np.abs(np.asarray(values, dtype=float))
    if dtype is None or np.dtype(dtype).kind != "f":
        return np.zeros(v.shape) if v.ndim else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.spacing(v.astype(dtype)).astype(float)
    return out if v.ndim else float(out)


#: draws whose extremes differ by at most this many units in the last place never vary: their
#: spread is rounding (an LKJ correlation matrix's unit diagonal reads 1 and 1 - 1.1e-16)
CONSTANT_ULPS = 4


def never_varies(lo, hi, dtype=np.float64):
    """Whether draws with extremes ``lo``, ``hi`` are constant up to rounding (:data:`CONSTANT_ULPS`).

    Examples
    --------
    >>> bool(never_varies(1.0 - 1.1e-16, 1.0)), bool(never_varies(1e15 - 2.0, 1e15 + 2.0))
    (True, False)
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    grid = resolution(np.maximum(np.abs(lo), np.abs(hi)), dtype)
    with np.errstate(invalid="ignore"):
        return (hi - lo) <= CONSTANT_ULPS * grid


def rounding_sd(sd, center):
    """Where a positive sd is a rounding residue at ``center`` (at most ``CONSTANT_ULPS`` units in the last place).

    Such rows are constant when their extremes also differ by rounding only (:func:`never_varies`);
    the cheap test on ``sd`` says which rows need their extremes.
    """
    sd = np.asarray(sd, float)
    return (sd > 0) & (sd <= CONSTANT_ULPS * resolution(np.abs(center) + sd, np.float64))


def _row_lattice(v, floor, dtype=None):
    """(spacing, offset) of a lattice of spacing >= ``floor`` holding values ``v``, else (nan, nan).

    ``dtype``: the floating-point type the draws came in, when narrower than
    float64 (its rounding grid is no lattice).
    """
    u = np.unique(v)
    if u.size < 2:
        return np.nan, np.nan
    h = _gcd(np.unique(np.diff(u)), floor)
    big = np.max(np.abs(u))
    # (float64 draws: the float64 spacing, 1e6 times; narrower floats: their own, DTYPE_ULPS times)
    if not h >= floor or not h > 1e6 * float(np.spacing(big)) or not h > DTYPE_ULPS * resolution(big, dtype):
        return np.nan, np.nan
    pos = (u - u[0]) / h
    if float(np.max(np.abs(pos - np.round(pos)))) > POSITION_TOL:
        return np.nan, np.nan
    return h, float(u[0])


def lattice(x, integer=False, extremes=None, dtype=None):
    """Spacing and offset of the lattice each row's finite values lie on.

    A row is on a lattice when its values are whole multiples of one spacing
    apart and that spacing is resolved: the lattice spans at most
    ``SPAN_FACTOR`` times as many positions as there are draws, and the
    spacing is far above the float resolution of the values.

    Parameters
    ----------
    x : ndarray (..., n)
    integer : bool
        The draws came with an integer (or boolean) dtype: a lattice whatever
        its span.
    extremes : (ndarray, ndarray), optional
        Each row's minimum and maximum, when the caller has them and every
        value is finite (saves passes over the draws).
    dtype : numpy dtype, optional
        The floating-point type the draws came in, when ``x`` is a float64
        copy of narrower floats: a spacing of a few units in the last place
        of that type is its rounding, not a lattice. Default: ``x``'s own.

    Returns
    -------
    spacing, offset : ndarray (...)
        NaN where the row is no lattice (or has fewer than 2 distinct values).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> k = rng.poisson(2.0, size=(1, 200)).astype(float)
    >>> h, o = lattice(np.concatenate([k, 31.6 * k, 1e20 * rng.normal(size=(1, 200))]))
    >>> h.round(1).tolist()[:2], bool(np.isnan(h[2]))
    ([1.0, 31.6], True)
    """
    x = np.asarray(x)
    dtype = x.dtype if dtype is None else dtype
    x = np.asarray(x, dtype=float)
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    h = np.full(flat.shape[0], np.nan)
    o = np.full(flat.shape[0], np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without finite values
        fin = None if extremes is not None else np.isfinite(flat)
        if extremes is not None:
            lo, hi = (np.asarray(v, float).reshape(-1) for v in extremes)
            n_fin = np.full(flat.shape[0], flat.shape[1])
        elif fin.all():  # (the usual case: the same extremes without the masked copies)
            lo, hi = np.min(flat, axis=1), np.max(flat, axis=1)
            n_fin = np.full(flat.shape[0], flat.shape[1])
        else:
            lo = np.min(np.where(fin, flat, np.inf), axis=1)
            hi = np.max(np.where(fin, flat, -np.inf), axis=1)
            n_fin = fin.sum(axis=1)
    floor = np.zeros(flat.shape[0]) if integer else (hi - lo) / (SPAN_FACTOR * np.maximum(n_fin, 1))
    cand = np.flatnonzero((n_fin >= 2) & (hi > lo))
    if not integer and cand.size:  # the first draws of a lattice row lie on it too: a cheap, sound reject
        cand = cand[_head_may_be_lattice(flat[cand, :HEAD], floor[cand])]
    for i in cand:
        row = flat[i] if fin is None else flat[i][fin[i]]
        h[i], o[i] = _row_lattice(row, floor[i], dtype)
    return h.reshape(lead), o.reshape(lead)


#: a lattice of float draws with at least this many positions per sd is read as a rounding
#: grid, not as discrete values: draws written with 6 significant digits (CmdStan's CSV:
#: N(1.5, 0.001) sits on a grid of 1e-5, 100 positions per sd) or stored in float32 and read
#: back as float64 (N(1000, 0.01): 164 per sd) read as atoms of 0.4% at their median and mode
#: and "a = inf" at their mean; a discrete variable scaled by a power of ten (0.1 Poisson(3):
#: 1.7 per sd; counts over 1000 of Binomial(1000, 0.3): 14.5) stays a lattice. Integer draws
#: are a lattice whatever their spread.
FINE_GRID_STEPS = 20


def fine_grid(spacing, sd, integer=False):
    """Where a float lattice of ``spacing`` is a rounding grid (:data:`FINE_GRID_STEPS` positions per ``sd``).

    Such draws are continuous rounded to the grid: its spacing is their
    resolution (the index cannot be read at radii a few spacings wide), and
    ties at the centre are rounding unless they exceed what the grid explains.

    Examples
    --------
    >>> fine_grid(np.array([1e-5, 0.1, np.nan]), np.array([1e-3, 0.17, 1.0])).tolist()
    [True, False, False]
    """
    spacing, sd = np.asarray(spacing, float), np.asarray(sd, float)
    if integer:
        return np.zeros(np.broadcast(spacing, sd).shape, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.isfinite(spacing) & (spacing > 0) & (sd >= FINE_GRID_STEPS * spacing)


def _head_may_be_lattice(head, floor):
    """Rows whose values' spacings have a common divisor >= ``floor`` (vectorised Euclid)."""
    d = np.diff(np.sort(head, axis=1), axis=1)
    d = np.where(np.isfinite(d), d, 0.0)
    tol = floor * 1e-3
    g = np.zeros(head.shape[0])
    alive = np.ones(head.shape[0], bool)
    for j in range(d.shape[1]):
        a, b = np.maximum(g, d[:, j]), np.minimum(g, d[:, j])
        for _ in range(200):
            act = alive & (b > tol)
            if not act.any():
                break
            r = np.fmod(a, np.where(act, b, 1.0))
            r = np.where(r > b - tol, 0.0, r)  # within rounding of the divisor: it divides
            a, b = np.where(act, b, a), np.where(act, r, 0.0)
        g = a
        alive &= (g == 0) | (g >= floor)  # g == 0: no spacing seen yet
        if not alive.any():
            break
    return alive


def is_lattice(x, integer=False, extremes=None, dtype=None):
    """Whether each row's finite values lie on a resolved lattice (see :func:`lattice`).

    Examples
    --------
    >>> is_lattice(np.array([[0.0, 2.0, 5.0, 1.0], [0.1, 0.35, 0.2, 0.9]])).tolist()
    [True, False]
    >>> rng = np.random.default_rng(0)
    >>> is_lattice(np.stack([5000 + rng.normal(size=2000), rng.poisson(3.0, 2000)]).astype(np.float32)).tolist()
    [False, True]
    """
    return np.isfinite(lattice(x, integer=integer, extremes=extremes, dtype=dtype)[0])


def nearest_lattice_gap(center, spacing, offset):
    """Distance from ``center`` to the nearest lattice point other than itself.

    Examples
    --------
    >>> float(nearest_lattice_gap(1.5, 1.0, 0.0)), float(nearest_lattice_gap(2.0, 1.0, 0.0))
    (0.5, 1.0)
    """
    t = (np.asarray(center, float) - offset) / spacing
    frac = t - np.floor(t)
    return spacing * np.where(frac == 0, 1.0, np.minimum(frac, 1.0 - frac))


def pow2_scale(x, axis=-1):
    """A power of two near the largest finite ``|x|`` along ``axis`` (1 where there is none).

    Dividing by it is exact and brings the values to about 1, so sums and
    squares neither overflow nor underflow.

    Examples
    --------
    >>> pow2_scale(np.array([[3.0, -1.0], [0.0, 0.0], [1.7e308, 0.0]])).tolist()
    [2.0, 1.0, 8.98846567431158e+307]
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        big = np.max(np.where(np.isfinite(x), np.abs(x), 0.0), axis=axis)
    _, e = np.frexp(np.where(big > 0, big, 1.0))
    return np.where(big > 0, np.ldexp(1.0, e - 1), 1.0)  # 2**(e-1) <= big < 2**e: finite up to 1.8e308


def safe_std(x, axis=-1, ddof=1):
    """Standard deviation without overflow or underflow anywhere in the float64 range.

    Two passes (deviations from the mean, not ``E x^2 - (E x)^2``) on a copy
    rescaled by a power of two.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> float(safe_std(x * 1e200) / 1e200), float(safe_std(x * 1e-200) * 1e200)
    (1.0, 1.0)
    """
    x = np.asarray(x, dtype=float)
    s = np.expand_dims(pow2_scale(x, axis=axis), axis)
    y = x / s
    dev = y - np.mean(y, axis=axis, keepdims=True)
    n = x.shape[axis]
    return np.sqrt(np.sum(dev * dev, axis=axis) / max(n - ddof, 1)) * np.squeeze(s, axis)
