"""Small-ball mass curves from draws (samples tier).

One pass over each element's draws gives, for every radius of a grid at
once, the mass estimate, an interval honest under MCMC autocorrelation, the
finite-radius slope with its interval, the effective number of draws inside,
a resolved flag, the atom at the centre and the Mass Index.
"""

import numpy as np
from scipy import stats

from .ess import batch_means_ess
from .index import fit_index_draws, master_counts, window_edges, window_sizes
from .distances import center_values
from .intervals import beta_interval

CURVE_STATS = ("radius", "mass", "mass_lower", "mass_upper", "slope", "slope_lower",
               "slope_upper", "ess", "resolved")
INDEX_STATS = ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "atom", "atom_lower",
               "atom_upper", "center_value", "scale", "window", "n_window")

MIN_DRAWS_PER_CHAIN = 20


class NonFiniteError(ValueError):
    """Draws contain NaN or inf (``element`` is the flat index of the first bad element)."""

    def __init__(self, msg, element):
        super().__init__(msg)
        self.element = element


class ConstantError(ValueError):
    """An element's draws have zero variance."""

    def __init__(self, msg, element):
        super().__init__(msg)
        self.element = element


def radius_grid(r_lo, r_hi, n_radii):
    """Log-spaced radii between ``r_lo`` and ``r_hi`` (per element).

    Examples
    --------
    >>> radius_grid(np.array([0.01]), np.array([1.0]), 3)
    array([[0.01, 0.1 , 1.  ]])
    """
    r_lo = np.asarray(r_lo, float)
    r_hi = np.asarray(r_hi, float)
    frac = np.linspace(0.0, 1.0, n_radii)
    grid = np.exp(np.log(r_lo)[..., None] * (1 - frac) + np.log(r_hi)[..., None] * frac)
    grid[..., 0] = r_lo  # exact ends: a radius equal to a draw's distance counts it
    grid[..., -1] = r_hi
    return grid


def _batch_layout(n_draws):
    n_b = int(min(n_draws, 128))
    n_b -= n_b % 2
    edges = (np.arange(n_draws) * n_b) // n_draws
    sizes = np.bincount(edges, minlength=n_b)
    return n_b, edges, sizes


def _counts(d, radii_sorted, edges, n_b):
    """Counts of draws within each radius, per chain and batch.

    d: (E, C, N); radii_sorted: (E, K) ascending. Returns (E, K, C, n_b).
    """
    E, C, N = d.shape
    K = radii_sorted.shape[1]
    bins = np.empty(d.shape, dtype=np.int32)
    for e in range(E):
        bins[e] = np.searchsorted(radii_sorted[e], d[e], side="left")
    # bin b means: d <= radii[b] (and > radii[b-1]); b == K is outside all
    flat = ((np.arange(E)[:, None, None] * C + np.arange(C)[None, :, None]) * n_b
            + edges[None, None, :]) * (K + 1) + bins
    counts = np.bincount(flat.ravel(), minlength=E * C * n_b * (K + 1)).reshape(E, C, n_b, K + 1)
    inside = np.cumsum(counts[..., :K], axis=-1)  # (E, C, n_b, K)
    return np.moveaxis(inside, -1, 1)


def local_mass_curves(x, scale=None, *, center=None, scaled=False, radii=None, n_radii=25,
                      r_max=None, boundary=None, discrete=None, ci_prob=0.94, min_ess=10.0,
                      window=None, nan_policy="raise", progress=None, chunk_bytes=64 * 2**20):
    """Mass curves and Mass Index from distances to a centre.

    Parameters
    ----------
    x : ndarray, shape (..., chain, draw)
        Draws of scalar elements when ``center`` is given; otherwise
        non-negative distances of each draw to the centre (joint balls).
    scale : ndarray, shape (...), optional
        Unit of radius (posterior sd, or RMS distance for joint balls): used
        for the log term of the index and as the default top of the grid.
        Default: the standard deviation of ``x`` over chain and draw.
    center : {"mean", "median", "mode"} or ndarray (...), optional
        Centre of the balls, per element; distances are ``|x - center|``.
        Computed chunk by chunk, so the distances never exist in full.
    scaled : bool
        Divide distances (and so radii) by ``scale``.
    radii : ndarray, shape (R,) or (..., R), optional
        Absolute radii, honoured exactly. Default: ``n_radii`` log-spaced radii
        from the distance of the ``min_ess``-th nearest draw to ``r_max``.
    r_max : ndarray (...), optional
        Top of the automatic grid; default ``scale``.
    boundary : ndarray (...) of bool, optional
        Whether the centre is at an edge of the draws (affects the index's
        curvature term only).
    discrete : bool or ndarray (...) of bool, optional
        Whether the draws are integer-valued.
    nan_policy : {"raise", "omit"}
        ``omit`` leaves non-finite draws out of every ball and of the count.
    ci_prob : float
    min_ess : float
        A radius is resolved when at least this many effective draws fall
        inside it.
    window : int or sequence of int, optional
        Nested numbers of nearest draws the index may be fitted on (default
        :func:`~.index.window_sizes`: 2% to 50% of the draws); Lepski's
        rule picks one per element.
    progress : callable, optional
        Called with the number of elements finished after each chunk.

    Returns
    -------
    curves : ndarray (..., R, len(CURVE_STATS))
    index : ndarray (..., len(INDEX_STATS))

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 1000))
    >>> curves, index = local_mass_curves(x, 1.0, center=0.0, radii=np.array([0.5]))
    >>> round(float(curves[0, 1]), 2)   # P(|Z| <= 0.5) = 0.383
    0.38
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError("draws need (chain, draw) as their last two axes")
    lead = x.shape[:-2]
    C, N = x.shape[-2:]
    if C < 2:
        raise ValueError(f"only {C} chain; need at least 2 chains for intervals that check "
                         "between-chain agreement")
    if N < MIN_DRAWS_PER_CHAIN:
        raise ValueError(f"too few draws per chain ({N}); need at least {MIN_DRAWS_PER_CHAIN}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    E = int(np.prod(lead, dtype=int))
    n_total = C * N
    x_all = x.reshape(E, C, N)

    def per_element(value, dtype=float):
        if value is None:
            return None
        return np.broadcast_to(np.asarray(value, dtype), lead).reshape(E)

    keyword = center if isinstance(center, str) else None
    if keyword is not None and keyword not in ("mean", "median", "mode"):
        raise ValueError(f"unknown centre keyword {keyword!r}")
    cval_all = None if (center is None or keyword is not None) else per_element(center)
    scale_all = per_element(scale)
    rmax_all = per_element(r_max)
    bnd_all = per_element(boundary, bool)
    disc_all = per_element(discrete, bool)
    if radii is not None:
        radii = np.asarray(radii, float)
        R = radii.shape[-1]
        radii = np.broadcast_to(radii, lead + (R,)).reshape(E, R)
    else:
        R = int(n_radii)
    if window is None:
        k_list = window_sizes(n_total)
    else:
        k_list = sorted({int(w) for w in np.atleast_1d(window)})
    k_list = [k for k in k_list if 5 <= k <= n_total - 2] or [max(5, n_total // 2)]
    k_max = k_list[-1]
    k_lo = int(max(1, min(min_ess, n_total - 1)))
    n_b, edges, sizes = _batch_layout(N)
    z = stats.norm.ppf(0.5 + ci_prob / 2)

    curves = np.empty((E, R, len(CURVE_STATS)))
    index = np.empty((E, len(INDEX_STATS)))
    ce = max(1, int(chunk_bytes // max(1, n_total * 8 * 3)))
    for start in range(0, E, ce):
        sl = slice(start, min(E, start + ce))
        xc = np.asarray(x_all[sl], dtype=float)
        e_n = xc.shape[0]
        xf = xc.reshape(e_n, n_total)
        finite = np.isfinite(xf)
        n_valid = finite.sum(axis=1)
        if nan_policy == "raise" and (n_valid < n_total).any():
            bad = int(np.argmax(n_valid < n_total)) + start
            raise NonFiniteError(f"{n_total - n_valid.min()} non-finite draw(s) (element {bad})", bad)
        if (n_valid < MIN_DRAWS_PER_CHAIN * 2).any():
            raise NonFiniteError("too few finite draws", int(np.argmax(n_valid < 2 * MIN_DRAWS_PER_CHAIN)) + start)
        xm = np.where(finite, xf, np.nan)
        if keyword == "mean":
            cv = np.nanmean(xm, axis=1)
        elif keyword == "median":
            cv = np.nanmedian(xm, axis=1)
        elif keyword == "mode":
            cv = np.array([center_values(row[np.isfinite(row)], "mode") for row in xm])
        elif cval_all is not None:
            cv = cval_all[sl]
        else:
            cv = None
        sd = np.nanstd(xm, axis=1, ddof=1) if scale_all is None else scale_all[sl]
        if cv is not None and not (sd > 0).all():
            bad = int(np.argmax(~(sd > 0))) + start
            raise ConstantError("zero variance (constant draws)", bad)
        if cv is not None:
            d = np.abs(xm - cv[:, None])
            if scaled:
                d /= sd[:, None]
            bnd = (np.nanmin(xm, axis=1) >= cv) | (np.nanmax(xm, axis=1) <= cv) if bnd_all is None else bnd_all[sl]
            disc = np.all((xm == np.round(xm)) | ~finite, axis=1) if disc_all is None else disc_all[sl]
        else:
            d = xm
            if (d < 0).any():
                raise ValueError("distances must be non-negative")
            bnd = np.zeros(e_n, bool) if bnd_all is None else bnd_all[sl]
            disc = np.zeros(e_n, bool) if disc_all is None else disc_all[sl]
        del xm
        unit = np.ones(e_n) if scaled else sd
        d = np.where(np.isfinite(d), d, np.inf)
        flat = d
        d = d.reshape(e_n, C, N)
        ties = (flat == 0).sum(axis=1)
        pos = np.where(flat > 0, flat, np.inf)
        part = np.partition(pos, sorted({k_lo - 1, k_max}), axis=1)
        near = part[:, :k_max]  # the k_max smallest positive distances, unsorted (inf padded)
        top = part[:, k_max]
        r_lo = part[:, k_lo - 1]
        del pos, part
        finite_near = np.where(np.isfinite(near), near, 0.0)
        largest = finite_near.max(axis=1)
        e0 = np.where(np.isfinite(near), near, np.inf).min(axis=1)
        e0 = np.where(np.isfinite(e0), e0, 1.0)
        R_max = np.where(np.isfinite(top), top, np.maximum(largest, e0))
        master, medges = master_counts(near, e0, np.maximum(R_max, e0 * (1 + 1e-9)))
        del near, finite_near
        g_win = window_edges(master, medges, k_list)
        window_r = np.take_along_axis(medges, g_win, axis=1)  # (e, W)
        if radii is None:
            r_lo = np.where(np.isfinite(r_lo), r_lo, np.maximum(largest, e0))
            top = unit if rmax_all is None else rmax_all[sl]
            r_hi = np.maximum(top, 4 * r_lo)
            grid = radius_grid(r_lo, r_hi, R)
        else:
            grid = radii[sl]
        n_w = window_r.shape[1]
        internal = np.concatenate([np.zeros((e_n, 1)), window_r, grid], axis=1)
        order = np.argsort(internal, axis=1, kind="stable")
        inside = _counts(d, np.take_along_axis(internal, order, axis=1), edges, n_b)
        inv = np.argsort(order, axis=1)
        inside = np.take_along_axis(inside, inv[:, :, None, None], axis=1)  # (e, K, C, n_b)
        mass = inside.sum(axis=(-1, -2)) / n_valid[:, None]
        ess = batch_means_ess(inside, sizes)
        lo, hi = beta_interval(mass, ess, ci_prob)
        atom_m, win_m, grid_m = mass[:, 0], mass[:, 1:1 + n_w], mass[:, 1 + n_w:]
        atom_ess, win_ess, grid_ess = ess[:, 0], ess[:, 1:1 + n_w], ess[:, 1 + n_w:]
        grid_lo, grid_hi = lo[:, 1 + n_w:], hi[:, 1 + n_w:]

        # finite-radius slope: centred difference on the grid (one-sided at ends)
        j_in = np.clip(np.arange(R) - 1, 0, R - 1)
        j_out = np.clip(np.arange(R) + 1, 0, R - 1)
        if R == 1:
            slope = np.full((e_n, 1), np.nan)
            s_lo = s_hi = slope
        else:
            m_in, m_out = grid_m[:, j_in], grid_m[:, j_out]
            dlr = np.log(grid[:, j_out]) - np.log(grid[:, j_in])
            with np.errstate(divide="ignore", invalid="ignore"):
                q = np.where(m_out > 0, m_in / m_out, np.nan)
                n_cond = m_out * np.minimum(grid_ess[:, j_in], grid_ess[:, j_out])
                q_lo, q_hi = beta_interval(np.nan_to_num(q), np.maximum(n_cond, 1e-12), ci_prob)
                slope = -np.log(q) / dlr
                s_lo = -np.log(q_hi) / dlr
                s_hi = -np.log(q_lo) / dlr
            undefined = ~(m_out > 0) | ~(dlr > 0)
            slope = np.where(undefined, np.nan, slope)
            s_lo = np.where(undefined, np.nan, s_lo)
            s_hi = np.where(undefined, np.nan, s_hi)
        ess_inside = grid_m * grid_ess
        resolved = (ess_inside >= min_ess) & (grid_m * n_total >= min_ess)
        block = curves[sl]
        block[..., 0] = grid
        block[..., 1] = grid_m
        block[..., 2] = grid_lo
        block[..., 3] = grid_hi
        block[..., 4] = slope
        block[..., 5] = s_lo
        block[..., 6] = s_hi
        block[..., 7] = ess_inside
        block[..., 8] = resolved

        # atoms: exact ties at the centre (a single tie may be the centre itself)
        has_atom = ties >= 2
        a_lo_atom, a_hi_atom = beta_interval(atom_m, atom_ess, ci_prob)
        atom = np.where(has_atom, atom_m, 0.0)
        atom_lo = np.where(has_atom, a_lo_atom, 0.0)
        atom_hi = np.where(has_atom, a_hi_atom, beta_interval(0.0, atom_ess, ci_prob)[1])

        inflation = np.where(win_m * (1 - win_m) > 0, n_total * 1.0 / np.maximum(win_ess, 1.0), 1.0)
        fit = fit_index_draws(master, medges, k_list, unit, boundary=bnd, inflation=inflation,
                              ci_prob=ci_prob, n_total=n_total)
        idx_block = index[sl]
        for name in ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "window", "n_window"):
            idx_block[:, INDEX_STATS.index(name)] = fit[name]
        # discrete variable, centre not a support point: nothing closer than the gap
        gap = disc & ~has_atom
        idx_block[gap, 0:3] = np.inf
        idx_block[gap, 3] = 0.0
        idx_block[gap, 4] = -np.inf
        idx_block[gap, 5] = np.inf
        # an atom: index (0, 0) by definition
        idx_block[has_atom, 0:6] = 0.0
        idx_block[:, 6] = atom
        idx_block[:, 7] = atom_lo
        idx_block[:, 8] = atom_hi
        idx_block[:, 9] = np.nan if cv is None else cv
        idx_block[:, 10] = unit
        if progress is not None:
            progress(e_n)
    return curves.reshape(lead + (R, len(CURVE_STATS))), index.reshape(lead + (len(INDEX_STATS),))
