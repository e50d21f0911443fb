"""Small-ball mass curves from draws (samples tier).

One pass over each element's draws gives, for every radius of a grid at
once, the mass estimate, an interval honest under MCMC autocorrelation, the
finite-radius slope with its interval, the effective number of draws inside,
a resolved flag, the atom at the centre and the Mass Index.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import special, stats

from ._accel import kernel
from .ess import batch_means_ess
from .index import REACH_ESS, fit_index_draws, window_edges, window_sizes
from .distances import center_values
from .intervals import beta_interval, t_adjusted_n
from .lattice import fine_grid, lattice, never_varies, resolution, rounding_sd

CURVE_STATS = ("radius", "mass", "mass_lower", "mass_upper", "slope", "slope_lower",
               "slope_upper", "ess", "resolved")
INDEX_STATS = ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "atom", "atom_lower",
               "atom_upper", "center_value", "scale", "window", "n_window",
               # how far the evidence reaches (see docs/schema.md)
               "nearest", "r_resolved", "n_near", "n_near_draws", "rhat", "chain_z", "n_divergent", "divergent_near",
               "resolution", "status")
#: status words, by code (stored as the ``status`` index stat); when several apply
#: the highest code wins
STATUS_WORDS = ("ok", "atom", "lattice", "log-ambiguous", "unresolved", "sampler")
#: index stats of tiers without draws (exact, QMC, model): no draws-based evidence
NO_DRAWS_DEFAULTS = {"status": 0.0, "n_divergent": 0.0, "divergent_near": 0.0, "resolution": 0.0}


def no_draws_value(label):
    """Default of an index stat that a tier without draws does not compute (NaN, or 0 for status/counts)."""
    return NO_DRAWS_DEFAULTS.get(label, np.nan)


#: a chain whose share of draws in the narrowest index window differs from the
#: other chains' by more than this many standard errors (autocorrelation-aware)
CHAIN_Z = 4.0
#: batches per chain for the within-chain variance behind ``chain_z``
CHAIN_BATCHES = 8
#: ties at the centre are an atom only beyond what rounding the draws to their
#: floating-point grid produces (a Poisson upper tail at this level)
ROUNDING_TIES_LEVEL = 1e-3
#: the index window must span more than this many units in the last place of the
#: draws' own floating-point type at the centre (finer, the rounding grid shapes
#: the distances the index is read from)
PRECISION_ULPS = 64
#: divergent transitions crowd near the centre at this one-sided binomial level
DIVERGENT_LEVEL = 1e-3
#: an unresolved row's divergences lean towards the centre at this one-sided binomial level
LEAN_LEVEL = 0.1
#: ... and where no draws come within one sd of it (a far centre)
FAR_LEAN_LEVEL = 0.01

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


def _deviation_sd(xs, mean):
    """Sample sd of each row from deviations about its mean (no cancellation)."""
    dev = xs - mean[:, None]
    return np.sqrt(np.einsum("ij,ij->i", dev, dev) / (xs.shape[1] - 1))


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


N_MASTER_CELLS = 800
#: the index fits run in slices side by side, each of at least this many elements (below,
#: their fixed Python cost outweighs the second core: benchmarks/speed.py's 4 x 1,000 x 100
#: on 2 cores took 22 ms in one slice, 25 ms in two; 300 elements 66 ms in one, 43 ms in two)
MIN_FIT_SLICE = 80
#: phase-1 work is done on sub-chunks of about this many bytes of draws, and of at
#: most SUB_ROWS elements (benchmarks/speed.py on 2 cores: 2 MiB was 7-13% faster
#: than 1 MiB at 4 x 5,000 x 1,000 and 4 x 10,000 x 2,000, 3-4 MiB slower; with the
#: fused per-batch pass, 16 rows of short chains were faster than 32 or 8 at
#: 4 x 1,000 x 100, and kept its peak memory below 2x the posterior: 1.9x, against 3.0x)
CACHE_BYTES = 2**21
SUB_ROWS = 16


def _contiguous_copy(src, block=512, out=None):
    """C-contiguous float64 copy of a 2-D view, cache-blocked along the draws.

    The draws of an element are far apart in the usual (chain, draw, element)
    layout; copying a few hundred draws at a time keeps both sides in cache,
    which makes the transposition several times faster than one big copy.
    ``out``: an optional C-contiguous float64 array of ``src``'s shape to copy into.
    """
    if src.flags.c_contiguous and src.dtype == np.float64:
        if out is None:
            return np.array(src)
        np.copyto(out, src)
        return out
    out = np.empty(src.shape, dtype=np.float64) if out is None else out
    for j in range(0, src.shape[1], block):
        out[:, j:j + block] = src[:, j:j + block]
    return out


def _batch_layout(n_draws):
    n_b = int(min(n_draws, 128))
    n_b -= n_b % 2
    edges = (np.arange(n_draws) * n_b) // n_draws
    sizes = np.bincount(edges, minlength=n_b)
    return n_b, edges, sizes


def _grid_bins(d, logd, grid):
    """#{j: grid_j < d} for the automatic log-spaced grid.

    Arithmetic on log distances; exact at the grid's first radius, which is
    itself a draw's distance (a radius equal to a distance counts it). Away
    from the ends, only a distance within rounding (1e-15 relative) of a
    radius could land in the neighbouring bin.
    """
    s, R = grid.shape
    lo, inv_step = _grid_scale(grid)
    t = logd - lo[:, None]
    t *= inv_step[:, None]
    np.clip(t, -1.0, R, out=t)
    np.ceil(t, out=t)
    b = t.astype(np.int64)
    np.maximum(b, 0, out=b)
    for i in range(s):
        b[i][d[i] == grid[i, 0]] = 0
        b[i][d[i] == grid[i, -1]] = R - 1
    return b


def _grid_scale(grid):
    """The automatic grid's log first radius and inverse log step, per row (see :func:`_grid_bins`)."""
    R = grid.shape[1]
    lo = np.log(grid[:, 0])
    step = (np.log(grid[:, -1]) - lo) / max(R - 1, 1)
    return lo, 1.0 / np.where(step > 0, step, 1.0)


def _explicit_bins(d, grid):
    out = np.empty(d.shape, dtype=np.int64)
    for i in range(d.shape[0]):
        out[i] = np.searchsorted(grid[i], d[i], side="left")
    return out


def _is_geometric(grid):
    if grid.shape[1] < 3:
        return True
    lg = np.log(grid)
    dl = np.diff(lg, axis=1)
    return bool(np.allclose(dl, dl[:, :1], rtol=1e-9, atol=1e-12))


def local_mass_curves(x, scale=None, *, center=None, scaled=False, radii=None, n_radii=25,
                      r_max=None, boundary=None, discrete=None, ci_prob=0.94, min_ess=10.0,
                      window=None, nan_policy="raise", progress=None, chunk_bytes=64 * 2**20,
                      threads=None, divergent=None, independent=False):
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
        :func:`~.index.window_sizes`: 5% to 50% of the draws); Lepski's
        rule picks one per element.
    progress : callable, optional
        Called with the number of elements finished after each chunk.
    threads : int, optional
        Chunks of elements processed side by side (default: the number of
        CPUs; the results do not depend on it).
    divergent : ndarray (chain, draw) of bool, optional
        The sampler's divergent transitions; where they fall relative to the
        centre enters ``divergent_near`` and the ``sampler`` status.
    independent : bool, default False
        The draws are independent (an approximation's draws, forward
        sampling): one chain is enough and every ESS is the number of
        (finite) draws. MCMC draws keep False: at least 2 chains, ESS from
        the batch means.

    Returns
    -------
    curves : ndarray (..., R, len(CURVE_STATS))
    index : ndarray (..., len(INDEX_STATS))

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 1000))
    >>> curves, index = local_mass_curves(x, 1.0, center=0.0, radii=np.array([0.5]))
    >>> bool(abs(curves[0, 1] - 0.383) < 0.03)   # P(|Z| <= 0.5) = 0.383
    True
    """
    x = np.asarray(x)
    lay = _layout(x.shape, x.dtype, independent=independent, nan_policy=nan_policy, radii=radii,
                  n_radii=n_radii, window=window, min_ess=min_ess, divergent=divergent)
    opts = _element_options(lay, center=center, scale=scale, r_max=r_max, boundary=boundary,
                            discrete=discrete, radii=radii)
    curves, parts, n_threads = _chunked_passes(
        x.reshape(lay["E"], lay["n_total"]), lay, opts, scaled=scaled, nan_policy=nan_policy, ci_prob=ci_prob,
        min_ess=min_ess, independent=independent, progress=progress, chunk_bytes=chunk_bytes, threads=threads)
    index = _finish_index(parts, lay, ci_prob=ci_prob, min_ess=min_ess, threads=n_threads)
    lead, R = lay["lead"], lay["R"]
    return curves.reshape(lead + (R, len(CURVE_STATS))), index.reshape(lead + (len(INDEX_STATS),))


def constant_rows(value, center, *, n_divergent=0.0):
    """Index rows (E, len(INDEX_STATS)) of elements whose draws never vary: a point mass at ``value``.

    At a centre equal to the value: an atom of weight 1, index (0, 0). At
    any other centre: no mass nearer than ``|center - value|``, and nothing
    to fit: "unresolved", ``a`` NaN in ``[0, inf]``. ``scale`` is 0 (the
    draws' sd).

    Examples
    --------
    >>> rows = constant_rows(np.array([3.0, 3.0]), np.array([3.0, 1.0]))
    >>> [STATUS_WORDS[int(s)] for s in rows[:, INDEX_STATS.index("status")]]
    ['atom', 'unresolved']
    """
    value, center = np.broadcast_arrays(np.asarray(value, float), np.asarray(center, float))
    value, center = value.reshape(-1), center.reshape(-1)
    at = center == value
    rows = np.full((value.size, len(INDEX_STATS)), np.nan)
    col = INDEX_STATS.index
    for key, on, off in (("a", 0.0, np.nan), ("a_lower", 0.0, 0.0), ("a_upper", 0.0, np.inf), ("b", 0.0, np.nan),
                         ("b_lower", 0.0, -np.inf), ("b_upper", 0.0, np.inf), ("atom", 1.0, 0.0),
                         ("atom_lower", 1.0, 0.0), ("atom_upper", 1.0, 0.0), ("n_near", np.nan, 0.0),
                         ("n_near_draws", np.nan, 0.0),
                         ("r_resolved", np.nan, np.inf)):
        rows[:, col(key)] = np.where(at, on, off)
    rows[:, col("center_value")] = center
    rows[:, col("scale")] = 0.0
    rows[:, col("nearest")] = np.abs(center - value)
    rows[:, col("chain_z")] = 0.0
    rows[:, col("n_divergent")] = n_divergent
    rows[:, col("divergent_near")] = 0.0
    rows[:, col("status")] = np.where(at, STATUS_WORDS.index("atom"), STATUS_WORDS.index("unresolved"))
    return rows


def _element_buffers(E, W):
    """Per-element arrays the chunks fill, for :func:`_finish_index`.

    Parameters
    ----------
    E : int
        Number of elements.
    W : int
        Number of index windows.

    Returns
    -------
    keep : dict
        Pieces copied from the sufficient statistics (:func:`_summary_statistics`).
    extra : dict
        Pieces copied from the curve statistics (:func:`_curve_statistics`).
    """
    keep = {"master": np.empty((E, N_MASTER_CELLS)), "medges": np.empty((E, N_MASTER_CELLS)),
            "unit": np.empty(E), "bnd": np.zeros(E, bool), "nearest": np.full(E, np.nan),
            "div_near": np.zeros(E), "cv": np.full(E, np.nan), "ulp": np.zeros(E)}
    extra = {"infl": np.empty((E, W)), "infl_shape": np.empty((E, W)), "chain_z": np.zeros(E),
             "rhat": np.full(E, np.nan),
             "q0": np.zeros(E), "atom": np.zeros(E), "atom_lower": np.zeros(E), "atom_upper": np.zeros(E),
             "gap": np.zeros(E, bool), "has_atom": np.zeros(E, bool)}
    return keep, extra


def _chunked_passes(x_all, lay, opts, *, scaled, nan_policy, ci_prob, min_ess, independent, progress,
                    chunk_bytes, threads):
    """The curves and the index's per-element pieces, chunk of elements by chunk (side by side).

    Parameters
    ----------
    x_all : ndarray, shape (E, chain * draw)
        Draws (or distances) of every element.
    lay, opts : dict
        From :func:`_layout` and :func:`_element_options`.
    scaled, nan_policy, ci_prob, min_ess, independent, progress, chunk_bytes, threads
        As in :func:`local_mass_curves`.

    Returns
    -------
    curves : ndarray, shape (E, R, len(CURVE_STATS))
    parts : dict
        Per-element pieces of the index, for :func:`_finish_index`.
    n_threads : int
        Chunks run side by side.
    """
    E, R = lay["E"], lay["R"]
    lay = _fused_layout(lay, nan_policy)
    curves = np.empty((E, R, len(CURVE_STATS)))
    keep, extra = _element_buffers(E, len(lay["k_list"]))
    n_threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
    # big chunks: at most ~chunk_bytes of draws, and at least one chunk for every thread
    big = max(1, min(E, int(chunk_bytes // max(1, lay["n_total"] * 8)), 64, -(-E // n_threads)))

    # each thread's chunk-sized arrays, allocated once and reused chunk after chunk:
    # fresh large arrays cost page faults and, in threads side by side, TLB shootdowns
    local = threading.local()

    # (the master cells are written in place into the index's arrays)
    direct = ("master", "medges")

    def _chunk(start):
        stop = min(E, start + big)
        if not hasattr(local, "reuse"):
            local.reuse = _summary_buffers(lay, big, big_only=True, skip=direct)
            local.x = np.empty((_sub_rows(lay["n_total"]), lay["n_total"]))
        n = stop - start
        reuse = {k: v[:n] for k, v in local.reuse.items()}
        reuse.update({k: keep[k][start:stop] for k in direct})
        summ = _summary_statistics(x_all[start:stop], start, lay, opts, scaled=scaled, nan_policy=nan_policy,
                                   progress=progress, reuse=reuse, sub_buffer=local.x)
        block, ext = _curve_statistics(summ, lay, ci_prob=ci_prob, min_ess=min_ess, independent=independent)
        curves[start:stop] = block
        for key, arr in keep.items():
            if key not in direct:
                arr[start:stop] = summ[key]
        for key, arr in extra.items():
            arr[start:stop] = ext[key]

    starts = list(range(0, E, big))
    if min(len(starts), n_threads) > 1:
        # numpy releases the GIL in the heavy passes: chunks run side by side
        with ThreadPoolExecutor(min(len(starts), n_threads)) as pool:
            for fut in [pool.submit(_chunk, st) for st in starts]:
                fut.result()
    else:
        for st in starts:
            _chunk(st)
    return curves, {**keep, **extra}, n_threads


# ----------------------------------------------------------------------------- the pieces
def _fused_layout(lay, nan_policy):
    """``lay`` with ``fused`` set where the compiled per-batch pass applies (see ``_batch_pass_rows``).

    It applies to MCMC draws (not ``independent``) that must all be finite
    (``nan_policy="raise"``), where numba loads. Elsewhere, and in the
    streamed passes, the per-batch arrays are kept for whole chunks (the numpy
    path); both give the same numbers.
    """
    if lay["independent"] or nan_policy != "raise" or kernel("_batch_pass_rows") is None:
        return lay
    # each draw's (chain, batch) slot: the offsets of _batch_base with one cell per batch
    cb = _batch_base(lay, 0).astype(np.int64)
    return {**lay, "fused": True, "cb": cb, "sizes_f": lay["sizes"].astype(float)}


def _layout(shape, dtype, *, independent, nan_policy, radii, n_radii, window, min_ess, divergent):
    """Constants of one call that depend only on shapes and options (checked here)."""
    if len(shape) < 2:
        raise ValueError("draws need (chain, draw) as their last two axes")
    lead = tuple(shape[:-2])
    C, N = shape[-2:]
    if C < 2 and not independent:
        raise ValueError(f"only {C} chain; need at least 2 chains for intervals that check "
                         "between-chain agreement (independent draws: independent=True)")
    if N < MIN_DRAWS_PER_CHAIN:
        raise ValueError(f"too few draws per chain ({N}); need at least {MIN_DRAWS_PER_CHAIN}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    E = int(np.prod(lead, dtype=int))
    n_total = C * N
    R = int(np.shape(radii)[-1]) if radii is not None else int(n_radii)
    if window is None:
        k_list = window_sizes(n_total)
    else:
        given = np.atleast_1d(np.asarray(window))
        if given.size == 0 or not np.issubdtype(given.dtype, np.integer) and not np.all(
                np.isfinite(given.astype(float)) & (given.astype(float) == np.round(given.astype(float)))):
            raise ValueError(f"window must be whole numbers of nearest draws, got {window!r}")
        k_list = sorted({int(w) for w in given})
        bad = [k for k in k_list if not 5 <= k <= n_total - 2]
        if bad:
            raise ValueError(f"window {bad} outside the {n_total} draws: each window holds 5 to {n_total - 2} "
                             "nearest draws")
    k_list = [k for k in k_list if 5 <= k <= n_total - 2] or [max(5, n_total // 2)]
    n_b, batch_of, sizes = _batch_layout(N)
    div_flat = None
    if divergent is not None:
        dv = np.asarray(divergent)
        if dv.shape != (C, N):
            raise ValueError(f"divergent must have shape (chain, draw) = {(C, N)}, got {dv.shape}")
        div_flat = np.flatnonzero(dv.astype(bool).reshape(-1))
    return {"lead": lead, "E": E, "C": C, "N": N, "n_total": n_total, "R": R, "k_list": k_list,
            "k_lo": int(max(1, min(min_ess, n_total - 1))), "n_b": n_b, "batch_of": batch_of, "sizes": sizes,
            "integer": np.dtype(dtype).kind in "iub", "dtype": np.dtype(dtype), "explicit": radii is not None,
            "div_flat": div_flat, "n_div": 0 if div_flat is None else int(div_flat.size),
            "independent": bool(independent), "fused": False}


def _element_options(lay, *, center, scale, r_max, boundary, discrete, radii):
    """Per-element options, flattened to (E,) (or (E, R) for radii); None where not given."""
    lead, E = lay["lead"], lay["E"]

    def per_element(value, dtype=float):
        if value is None:
            return None
        return np.broadcast_to(np.asarray(value, dtype), lead).reshape(E)

    keyword = center if isinstance(center, str) else None
    if keyword is not None and keyword not in ("mean", "median", "mode"):
        raise ValueError(f"unknown centre keyword {keyword!r}")
    if radii is not None:
        radii = np.broadcast_to(np.asarray(radii, float), lead + (lay["R"],)).reshape(E, lay["R"])
    return {"keyword": keyword, "joint": center is None,
            "cval": None if (center is None or keyword is not None) else per_element(center),
            "scale": per_element(scale), "rmax": per_element(r_max), "bnd": per_element(boundary, bool),
            "disc": per_element(discrete, bool), "radii": radii}


def _batch_base(lay, n_cells, chains=None, draws=None):
    """Flat bincount offsets of (chain, batch, cell) for the draws of ``chains`` x ``draws``."""
    n_b = lay["n_b"]
    ch = np.arange(lay["C"]) if chains is None else np.asarray(chains)
    bt = lay["batch_of"] if draws is None else lay["batch_of"][np.asarray(draws)]
    return ((ch[:, None] * n_b + bt[None, :]) * (n_cells + 1)).reshape(-1)


def _master_bins(d, logd, e0, top, any_zero, all_finite):
    """Master cell of each distance (G for a tie at the centre or a left-out draw), and the cell edges."""
    scale, me = _master_grid(e0, top)
    return _master_cells(d, logd, scale, any_zero or not all_finite), me


def _master_grid(e0, top):
    """The master grid of positive distances: geometric cells [e0 e^(j dm), e0 e^((j+1) dm)).

    Returns ``(log e0, 1 / dm)`` (what a distance's cell is computed from,
    :func:`_master_cells` and the fused pass) and the cells' upper edges (e, G).
    """
    G = N_MASTER_CELLS
    dm = np.log(top / e0) / (G - 0.5)
    return (np.log(e0), 1.0 / dm), e0[:, None] * np.exp(dm[:, None] * np.arange(1, G + 1)[None, :])


def _master_cells(d, logd, scale, special):
    """Master cell of each distance from the grid's ``scale`` = ``(log e0, 1 / dm)`` (:func:`_master_grid`).

    ``special``: there may be ties at the centre or left-out draws (cell G).
    """
    G = N_MASTER_CELLS
    le0, inv_dm = scale
    t = logd - le0[:, None]
    t *= inv_dm[:, None]
    if special:
        t = np.where(np.isfinite(t), t, -1.0)
    np.clip(t, -1.0, G - 1, out=t)
    mb = t.astype(np.int64)  # truncation = floor for t >= 0; -0.x -> 0
    if special:
        mb[(d == 0) | ~np.isfinite(d)] = G  # not a positive finite distance
    return mb


def _window_flat(mb, g_sub, n_win, slot, d, all_finite):
    """Per draw: the element's slot offset plus the number of index windows the draw is outside of."""
    G = N_MASTER_CELLS
    ns = mb.shape[0]
    # window w closes at master cell g_w: a draw is inside when its cell is <= g_w
    # (ties at the centre too); cell G (a tie at the centre) is inside all
    table = (np.arange(G + 1)[None, :, None] > g_sub[:, None, :]).sum(axis=2)
    table[:, G] = 0
    table += (np.arange(ns) * slot)[:, None]
    flat = np.empty(mb.shape, dtype=table.dtype)
    for i in range(ns):  # row by row: several times faster than take_along_axis
        table[i].take(mb[i], out=flat[i])
    if not all_finite:  # a left-out draw is in no ball
        flat = np.where(np.isfinite(d), flat, (np.arange(ns) * slot)[:, None] + n_win)
    return flat


def _score_sums(flat, d, logd, ns, slot, C, n_b, n_win, inside=None):
    """Per (element, chain, batch) and index window: count, sum of log r and of log^2 r of the positive
    distances inside.

    ``flat`` is :func:`_window_flat`'s slot of each draw (with the batch
    offsets added). Returns shape (ns, 3, n_win, C, n_b): the sums the power
    law's score needs for its effective sample size (:func:`_shape_inflation`).

    Only the positive finite distances inside the widest window add to the
    sums (the others add +0 or fall in the discarded slot past the widest
    window), so only they are binned, in their original order: the sums are
    the same, bit for bit. ``inside`` (ns, n), optional, marks the draws in
    the widest window (they must be positive and finite: master cells up to
    the widest window's); default from ``flat``, ``d`` and ``logd``.
    """
    if inside is None:
        inside = np.isfinite(logd) & (d > 0) & (flat % (n_win + 1) < n_win)
    sel = np.flatnonzero(inside)
    idx = flat.take(sel)
    lw = logd.take(sel)
    out = np.empty((ns, 3, n_win, C, n_b))
    for j, wts in enumerate((None, lw, lw * lw)):
        sw = np.bincount(idx, weights=wts, minlength=ns * slot)
        if wts is None:
            sw = sw.astype(float)
        _cumsum_windows(sw.reshape(ns, C, n_b, n_win + 1), out[:, j])
    return out


def _cumsum_windows(counts, out):
    """``out[:, w] = sum of counts[..., :w + 1]`` (cumulative over the last axis, moved to axis 1).

    The same sequential additions as ``np.cumsum`` (bit for bit), written in place.
    """
    out[:, 0] = counts[..., 0]
    for w in range(1, out.shape[1]):
        np.add(out[:, w - 1], counts[..., w], out=out[:, w])
    return out


def _shape_inflation(pos_w, r_w, n_valid, sizes, fallback):
    """n / ESS of the power law's score in each index window (the index fit's own inflation).

    The score of the power law at the window's radius ``R`` is
    ``1{r < R} (1 - a log(R / r))`` with ``a = n_R / sum log(R / r)`` (its MLE
    there). Slopes read the shape of the distances inside the ball, which a
    chain's lingering correlates far less than the ball's indicator (at lag-1
    0.9 the indicator's inflation doubled ``a``'s standard error; the
    score's is about right). Where the score is degenerate, ``fallback``
    (the indicator's inflation).
    """
    npos, s1_, s2_ = pos_w[:, 0], pos_w[:, 1], pos_w[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        logR = np.log(r_w)[:, :, None, None]
        sum_l = npos * logR - s1_  # sum of log(R / r) per batch
        sum_l2 = npos * logR**2 - 2 * logR * s1_ + s2_
        a_pl = npos.sum(axis=(-1, -2)) / sum_l.sum(axis=(-1, -2))
        a4 = a_pl[:, :, None, None]
        z_sums = npos - a4 * sum_l
        z2 = (npos - 2 * a4 * sum_l + a4**2 * sum_l2).sum(axis=(-1, -2))
        v_draw = z2 / n_valid[:, None] - (z_sums.sum(axis=(-1, -2)) / n_valid[:, None]) ** 2
    fine = np.isfinite(a_pl) & (a_pl > 0) & np.isfinite(v_draw) & (v_draw > 0)
    e_z = batch_means_ess(np.where(fine[..., None, None], z_sums, 0.0), sizes,
                          draw_var=np.where(fine, v_draw, 1.0))
    return np.where(fine, n_valid[:, None] / np.maximum(e_z, 1.0), fallback)


def _sub_rows(n_total):
    """Elements per in-cache sub-chunk: about ``CACHE_BYTES`` of draws, at most ``SUB_ROWS``."""
    return max(1, min(SUB_ROWS, int(CACHE_BYTES // (n_total * 8))))


def _summary_statistics(xb, g0, lay, opts, *, scaled, nan_policy, progress=None, reuse=None, sub_buffer=None):
    """Sufficient statistics of a chunk of elements (all their draws), for :func:`_curve_statistics`.

    ``xb`` (e, chain * draw) holds the draws of elements ``g0 .. g0 + e``.
    Returns a dict of per-element arrays: finite counts, ties at the centre,
    centre and unit, boundary and lattice flags, the nearest distance, the
    master cells of the positive distances (counts and edges), per-batch
    counts inside each radius of the curve's grid and inside each index
    window, per-batch ties, and divergent transitions near the centre.
    :mod:`.streaming` builds the same dict from chunks of draws. ``reuse``:
    optional arrays for the large entries (``_summary_buffers(..., big_only=True)``
    of ``e`` rows), every element of which is written here.

    ``xb`` may be a strided view (the draws of an element far apart, as in
    the usual (chain, draw, element) layout): each sub-chunk is copied into
    C-contiguous float64 rows just before its passes read it, while it is
    in cache (into ``sub_buffer``, (at least :func:`_sub_rows`, chain *
    draw), where given). Contiguous float64 rows are read in place.
    """
    e_n = xb.shape[0]
    out = _summary_buffers(lay, e_n, reuse=reuse)
    sub = _sub_rows(lay["n_total"])
    in_place = xb.dtype == np.float64 and xb.strides[1] == 8
    # in-cache passes over each sub-chunk's draws -> compact summaries
    for s0 in range(0, e_n, sub):
        s1 = min(e_n, s0 + sub)
        if in_place:
            xs = xb[s0:s1]
        else:
            xs = _contiguous_copy(xb[s0:s1], out=None if sub_buffer is None else sub_buffer[:s1 - s0])
        _summarize_rows(out, xs, s0, g0, lay, opts, scaled=scaled, nan_policy=nan_policy)
        if progress is not None:
            progress(s1 - s0)
    return out


def _summary_buffers(lay, e_n, big_only=False, reuse=None, skip=()):
    """The empty dict of :func:`_summary_statistics` for ``e_n`` elements.

    ``big_only``: only its large per-batch and master-cell entries (which the
    passes overwrite in full); ``reuse``: such entries, given rather than
    allocated; ``skip``: large entries left out (to be given in ``reuse``).
    """
    C, R, n_b, G = lay["C"], lay["R"], lay["n_b"], N_MASTER_CELLS
    n_win = len(lay["k_list"])
    if reuse is not None:
        big = dict(reuse)
    elif lay["fused"]:  # the per-batch counts reduced row by row (_batch_pass_rows): what they give
        big = {"master": np.empty((e_n, G)), "medges": np.empty((e_n, G)),
               "tot": np.empty((e_n, R)), "ess": np.empty((e_n, R)), "tot_w": np.empty((e_n, n_win)),
               "e_w": np.empty((e_n, n_win)), "e_z": np.empty((e_n, n_win)),
               "z_fine": np.empty((e_n, n_win), bool), "in_0": np.empty((e_n, C, n_b))}
    else:
        big = {"inside": np.empty((e_n, R, C, n_b)), "inside_w": np.empty((e_n, n_win, C, n_b)),
               "master": np.empty((e_n, G)), "medges": np.empty((e_n, G))}
        if not lay["independent"]:  # the power law's score per window (its ESS sets the index's variance)
            big["pos_w"] = np.empty((e_n, 3, n_win, C, n_b))
    big = {k: v for k, v in big.items() if k not in skip}
    if big_only:
        return big
    out = {"grid": np.empty((e_n, R)), **big, "ties": np.zeros(e_n, np.int64), "n_valid": np.empty(e_n),
           "valid_sizes": None, "cv": np.full(e_n, np.nan), "unit": np.empty(e_n), "bnd": np.zeros(e_n, bool),
           "disc": np.zeros(e_n, bool), "nearest": np.full(e_n, np.nan), "div_near": np.zeros(e_n),
           "ulp": np.zeros(e_n), "atom_sums": {}}
    if not lay["independent"]:
        out["r_w"] = np.empty((e_n, n_win))
    return out


def _summarize_rows(out, xs, s0, g0, lay, opts, *, scaled, nan_policy):
    """Fill rows ``s0 .. s0 + len(xs)`` of ``out`` (:func:`_summary_statistics`) from one in-cache sub-chunk.

    ``xs`` (ns, chain * draw) holds the draws of elements ``g0 + s0`` on.
    """
    s1 = s0 + xs.shape[0]
    e_lo, e_hi = g0 + s0, g0 + s1
    with np.errstate(invalid="ignore", over="ignore"):  # (inf + -inf: a probe for non-finite draws, said below)
        total = xs.sum(axis=1)
    all_finite = bool(np.isfinite(total).all())
    xs = _count_finite(out, xs, s0, e_lo, all_finite, lay, nan_policy)
    cv = _row_centers(xs, total, all_finite, e_lo, e_hi, lay, opts)
    if cv is not None:
        d, sd, top = _center_distances(out, xs, total, cv, s0, e_lo, all_finite, lay, opts, scaled=scaled)
    else:
        d, sd, top = _given_distances(out, xs, s0, e_lo, all_finite, opts)
    out["unit"][s0:s1] = 1.0 if scaled else sd
    if not all_finite:
        d = np.where(np.isfinite(d), d, np.inf)
    pos, tz, logd, me, top, cells, g_sub = _master_and_windows(out, d, top, s0, all_finite, lay)
    _grid_counts(out, d, logd, pos, me, top, tz, s0, e_lo, lay, opts, cells, g_sub)


def _count_finite(out, xs, s0, e_lo, all_finite, lay, nan_policy):
    """Finite draws per element (``n_valid``, ``valid_sizes`` of ``out``); the draws with NaN for non-finite ones.

    Raises :class:`NonFiniteError` under ``nan_policy="raise"`` or when too
    few finite draws remain.
    """
    n_total, C, N, n_b, batch_of, sizes = (lay[k] for k in ("n_total", "C", "N", "n_b", "batch_of", "sizes"))
    ns, s1 = xs.shape[0], s0 + xs.shape[0]
    e_n = out["n_valid"].shape[0]
    if all_finite:
        nv = np.full(ns, n_total)
    else:
        finite = np.isfinite(xs)
        nv = finite.sum(axis=1)
        if nan_policy == "raise" and (nv < n_total).any():
            bad = int(np.argmax(nv < n_total)) + e_lo
            raise NonFiniteError(f"{n_total - int(nv.min())} non-finite draw(s)", bad)
        if (nv < 2 * MIN_DRAWS_PER_CHAIN).any():
            raise NonFiniteError("too few finite draws", int(np.argmax(nv < 2 * MIN_DRAWS_PER_CHAIN)) + e_lo)
        xs = np.where(finite, xs, np.nan)
        if out["valid_sizes"] is None:
            out["valid_sizes"] = np.broadcast_to(sizes.astype(float), (e_n, C, n_b)).copy()
        out["valid_sizes"][s0:s1] = finite.reshape(ns, C, N).astype(float) @ (
            batch_of[:, None] == np.arange(n_b)[None, :])
    out["n_valid"][s0:s1] = nv
    return xs


def _row_centers(xs, total, all_finite, e_lo, e_hi, lay, opts):
    """Centre of each element's balls (None when the draws are distances already)."""
    keyword, cval_all = opts["keyword"], opts["cval"]
    if keyword == "mean":
        return total / lay["n_total"] if all_finite else np.nanmean(xs, axis=1)
    if keyword == "median":
        return (np.median if all_finite else np.nanmedian)(xs, axis=1)
    if keyword == "mode":
        return np.array([center_values(row[np.isfinite(row)], "mode") for row in xs])
    if cval_all is not None:
        return _snap_to_ties(xs, cval_all[e_lo:e_hi])
    return None


def _snap_to_ties(xs, cv):
    """Centres within rounding (``CONSTANT_ULPS``) of a value several draws share are that value.

    A lattice point written as a literal is often a few units in the last
    place off the draws' own value (0.3 against ``0.1 * 3`` =
    0.30000000000000004): 23% of the draws tied there, yet the centre read
    "a = inf, no mass within 5.6e-17". Values one draw alone takes are left
    alone (a continuous draw near the centre is no support point).
    """
    cv = np.asarray(cv, float)
    with np.errstate(invalid="ignore"):
        dist = np.abs(xs - cv[:, None])
    near = np.isfinite(dist).any(axis=1)
    if not near.any():
        return cv
    j = np.argmin(np.where(np.isfinite(dist), dist, np.inf), axis=1)
    v = xs[np.arange(xs.shape[0]), j]
    close = near & (v != cv) & never_varies(np.minimum(cv, v), np.maximum(cv, v))
    if not close.any():
        return cv
    out = cv.copy()
    for i in np.flatnonzero(close):
        if np.count_nonzero(xs[i] == v[i]) >= 2:
            out[i] = v[i]
    return out


def _center_distances(out, xs, total, cv, s0, e_lo, all_finite, lay, opts, *, scaled):
    """Distances of the draws to their centre, the unit ``sd`` and the farthest distance (or None).

    Also fills the centre, boundary and lattice flags of ``out``. Raises
    :class:`ConstantError` on constant draws.
    """
    n_total, integer = lay["n_total"], lay["integer"]
    scale_all, bnd_all, disc_all = opts["scale"], opts["bnd"], opts["disc"]
    s1 = s0 + xs.shape[0]
    e_hi = e_lo + xs.shape[0]
    top = None  # the farthest distance, when the signed extremes give it
    d = xs - cv[:, None]  # signed, for sd and sides; made absolute below
    if scale_all is None:
        if all_finite:
            m1 = (total - n_total * cv) / n_total
            ss = np.einsum("ij,ij->i", d, d) / n_total
            sd = np.sqrt(np.maximum(ss - m1**2, 0.0) * n_total / (n_total - 1))
            far = m1**2 > 1e4 * sd**2  # centre far from the draws: E d^2 - m1^2 cancels
            if far.any():
                sd[far] = _deviation_sd(xs[far], total[far] / n_total)
        else:
            sd = np.nanstd(xs, axis=1, ddof=1)
    else:
        sd = scale_all[e_lo:e_hi]
    if scale_all is None:
        # constant draws whose mean rounds 1 ulp off their value (0.1 repeated): d is that ulp
        # everywhere and sd a rounding residue; such rows tie, or differ by rounding (never_varies)
        tiny = np.flatnonzero(rounding_sd(sd, cv))
        if tiny.size:
            rows = xs[tiny]
            sd[tiny[never_varies(np.nanmin(rows, axis=1), np.nanmax(rows, axis=1), lay["dtype"])]] = 0.0
    if not (sd > 0).all():
        raise ConstantError("zero variance (constant draws)", int(np.argmax(~(sd > 0))) + e_lo)
    out["cv"][s0:s1] = cv
    # the draws' rounding grid at the centre (in the distances' unit)
    out["ulp"][s0:s1] = resolution(cv, lay["dtype"]) / (sd if scaled else 1.0)
    # the draws' extremes, once: x - c rounds monotonically in x, so
    # min(x) - c and max(x) - c are the extremes of d, exactly
    need = all_finite and (bnd_all is None or disc_all is None)
    ext = (xs.min(axis=1), xs.max(axis=1)) if need else None
    if bnd_all is None:
        if all_finite:
            mn, mx = ext[0] - cv, ext[1] - cv
        else:
            mn, mx = np.nanmin(d, axis=1), np.nanmax(d, axis=1)
        out["bnd"][s0:s1] = (mn >= 0) | (mx <= 0)
        if all_finite and not scaled:
            top = np.maximum(mx, -mn)  # = max |d|, exactly
    else:
        out["bnd"][s0:s1] = bnd_all[e_lo:e_hi]
    if disc_all is None:  # draws on a resolved lattice (scale-free; see core.lattice)
        spacing = lattice(xs, integer=integer, extremes=ext, dtype=lay["dtype"])[0]
        # (a lattice with many positions per sd is rounding: its spacing is the draws' resolution)
        fine = fine_grid(spacing, sd, integer)
        out["disc"][s0:s1] = np.isfinite(spacing) & ~fine
        if fine.any():
            out["ulp"][s0:s1] = np.where(fine, np.fmax(out["ulp"][s0:s1], spacing / (sd if scaled else 1.0)),
                                         out["ulp"][s0:s1])
    else:
        out["disc"][s0:s1] = disc_all[e_lo:e_hi]
    np.abs(d, out=d)
    if scaled:
        d /= sd[:, None]
    return d, sd, top


def _given_distances(out, xs, s0, e_lo, all_finite, opts):
    """The draws as distances (joint balls): checked, their unit ``sd``; the farthest is not known (None)."""
    scale_all, bnd_all, disc_all = opts["scale"], opts["bnd"], opts["disc"]
    s1 = s0 + xs.shape[0]
    e_hi = e_lo + xs.shape[0]
    d = np.array(xs, dtype=float)
    if (d < 0).any():
        raise ValueError("distances must be non-negative")
    sd = scale_all[e_lo:e_hi] if scale_all is not None else (
        np.std if all_finite else np.nanstd)(xs, axis=1, ddof=1)
    if bnd_all is not None:
        out["bnd"][s0:s1] = bnd_all[e_lo:e_hi]
    if disc_all is not None:
        out["disc"][s0:s1] = disc_all[e_lo:e_hi]
    return d, sd, None


def _master_and_windows(out, d, top, s0, all_finite, lay):
    """Ties at the centre, nearest distance, master cells and index windows of rows ``s0`` on of ``out``.

    Returns the positive distances (``inf`` at ties), the tie counts, the
    log distances, the master cells' edges, the farthest distance (as the
    master grid's top), the draws' master cells (``cells``: their array
    ``mb``, or on the ``fused`` path what the kernel computes them from) and
    each window's closing cell. (On the ``fused`` path the per-batch window
    counts are left to :func:`_grid_counts`.)
    """
    C, n_b, k_list, div_flat = lay["C"], lay["n_b"], lay["k_list"], lay["div_flat"]
    G, n_win = N_MASTER_CELLS, len(k_list)
    ns = d.shape[0]
    s1 = s0 + ns
    e0 = d.min(axis=1)
    any_zero = not bool((e0 > 0).all())
    if any_zero:  # ties at the centre: the nearest positive distance
        tz = np.count_nonzero(d == 0, axis=1)
        pos = np.where(d == 0, np.inf, d)
        e0 = pos.min(axis=1)
    else:  # (no draw at the centre: the nearest distance is positive)
        tz = np.zeros(ns, np.int64)
        pos = d
    out["ties"][s0:s1] = tz
    out["nearest"][s0:s1] = np.where(np.isfinite(e0), e0, np.nan)
    if top is None:
        top = (d.max(axis=1) if all_finite else np.where(np.isfinite(d), d, -np.inf).max(axis=1))
    e0, top = _master_range(e0, top)
    with np.errstate(divide="ignore"):
        logd = np.log(d)
    special = any_zero or not all_finite
    scale, me = _master_grid(e0, top)
    cells = {"le0": scale[0], "inv_dm": scale[1], "special": special}
    if lay["fused"]:  # the cells' counts in a compiled pass, without each draw's cell
        kernel("_master_counts_rows")(logd, d, scale[0], scale[1], G, special, out["master"][s0:s1])
    else:
        cells["mb"] = mb = _master_cells(d, logd, scale, special)
        mc = np.bincount((np.arange(ns)[:, None] * (G + 1) + mb).ravel(), minlength=ns * (G + 1))
        out["master"][s0:s1] = mc.reshape(ns, G + 1)[:, :G]
    out["medges"][s0:s1] = me
    g_sub = window_edges(out["master"][s0:s1], me, k_list)
    if not lay["independent"]:
        out["r_w"][s0:s1] = np.take_along_axis(me, g_sub, axis=1)
    if div_flat is not None and div_flat.size:
        mb_div = (cells["mb"][:, div_flat] if "mb" in cells else
                  _master_cells(d[:, div_flat], logd[:, div_flat], scale, special))
        near_d = (mb_div <= g_sub[:, :1]) | (d[:, div_flat] == 0)
        out["div_near"][s0:s1] = near_d.sum(axis=1)
    if lay["fused"]:
        return pos, tz, logd, me, top, cells, g_sub
    slot = C * n_b * (n_win + 1)
    flat = _window_flat(mb, g_sub, n_win, slot, d, all_finite)
    flat += _batch_base(lay, n_win)
    cw = np.bincount(flat.ravel(), minlength=ns * slot).reshape(ns, C, n_b, n_win + 1)
    _cumsum_windows(cw, out["inside_w"][s0:s1])
    if not lay["independent"]:
        out["pos_w"][s0:s1] = _score_sums(flat, d, logd, ns, slot, C, n_b, n_win,
                                          inside=mb <= g_sub.max(axis=1)[:, None])
    return pos, tz, logd, me, top, cells, g_sub


def _grid_counts(out, d, logd, pos, me, top, tz, s0, e_lo, lay, opts, cells, g_sub):
    """The curve's grid of rows ``s0`` on of ``out``, per-batch counts inside each radius, per-batch ties.

    On the ``fused`` path, the per-batch counts of the radii and the index
    windows are reduced row by row (``_batch_pass_rows``) to what the curves
    and the index need of them.
    """
    C, N, R, n_b, batch_of, k_lo = (lay[k] for k in ("C", "N", "R", "n_b", "batch_of", "k_lo"))
    G = N_MASTER_CELLS
    ns = d.shape[0]
    s1, e_hi = s0 + ns, e_lo + ns
    # grid: from the k_lo-th nearest positive distance to about one sd
    fused = lay["fused"]
    if lay["explicit"]:
        gr = opts["radii"][e_lo:e_hi]
        bins = _explicit_bins(d, gr)
    else:
        cum = np.cumsum(out["master"][s0:s1], axis=1)
        cell = np.minimum((cum < k_lo).sum(axis=1), G - 1)
        r_lo = np.empty(ns)
        for i in range(ns):
            cand = pos[i][pos[i] < me[i, cell[i]]]
            cand.sort()
            r_lo[i] = cand[min(k_lo, cand.size) - 1] if cand.size else top[i]
        top_r = out["unit"][s0:s1] if opts["rmax"] is None else opts["rmax"][e_lo:e_hi]
        gr = _auto_grid(r_lo, top_r, R)
        # (on the fused path the kernel computes each draw's grid cell as _grid_bins does)
        bins = None if fused else _grid_bins(d, logd, gr)
    out["grid"][s0:s1] = gr
    if fused:
        with np.errstate(divide="ignore"):
            log_rw = np.log(out["r_w"][s0:s1])
        auto = bins is None
        lo, inv_step = _grid_scale(gr) if auto else (np.zeros(ns), np.zeros(ns))
        kernel("_batch_pass_rows")(
            auto, np.zeros((0, 0), np.int64) if auto else bins, lo, inv_step, np.ascontiguousarray(gr[:, 0]),
            np.ascontiguousarray(gr[:, -1]), d, logd, cells["le0"], cells["inv_dm"], G, cells["special"],
            g_sub.astype(np.int64), log_rw, lay["cb"], lay["sizes_f"], out["n_valid"][s0:s1],
            *(out[k][s0:s1] for k in ("tot", "ess", "tot_w", "e_w", "e_z", "z_fine", "in_0")))
    else:
        size = C * n_b * (R + 1)
        bins += _batch_base(lay, R)
        bins += (np.arange(ns) * size)[:, None]
        counts = np.bincount(bins.ravel(), minlength=ns * size).reshape(ns, C, n_b, R + 1)
        _cumsum_windows(counts, out["inside"][s0:s1])
    for i in np.flatnonzero(tz >= 2).tolist():
        # per-batch tie counts (float: a boolean matmul gives 0/1 per batch, not counts)
        out["atom_sums"][s0 + i] = (d[i] == 0).reshape(C, N).astype(float) @ (
            batch_of[:, None] == np.arange(n_b)[None, :])


def _master_range(e0, top):
    """Ends of the master grid: the nearest positive distance (1 if none) and the farthest (above e0)."""
    e0 = np.where(np.isfinite(e0), e0, 1.0)
    top = np.where(top > e0, top, e0 * (1 + 1e-9))
    return e0, top


def _auto_grid(r_lo, top_r, R):
    """The automatic grid: from the ``k_lo``-th nearest positive distance to ``max(top_r, 4 r_lo)``."""
    return radius_grid(r_lo, np.maximum(top_r, 4 * r_lo), R)


def _curve_statistics(s, lay, *, ci_prob, min_ess, independent):
    """Curves of a chunk of elements from their sufficient statistics (:func:`_summary_statistics`).

    Returns the curves (e, R, len(CURVE_STATS)) and per-element pieces of
    the index: autocorrelation inflation of each index window, chain
    agreement (``chain_z``, ``rhat``), the narrowest window's mass ``q0``,
    the atom and its interval, and the ``gap`` / ``has_atom`` flags.
    """
    block = _curve_block(s, lay, ci_prob=ci_prob, min_ess=min_ess, independent=independent)
    ext = _atom_pieces(s, lay, ci_prob=ci_prob, independent=independent)
    ext.update(_window_pieces(s, lay, independent=independent))
    return block, ext


def _batch_sizes(s, lay):
    """Finite draws per batch: the layout's sizes, or per element when draws were left out."""
    return lay["sizes"] if s["valid_sizes"] is None else s["valid_sizes"][:, None]


def _curve_block(s, lay, *, ci_prob, min_ess, independent):
    """The curves (e, R, len(CURVE_STATS)): mass, its interval, slopes, ESS inside, resolved."""
    grid, n_valid = s["grid"], s["n_valid"]
    if "tot" in s:  # reduced row by row already (the fused path)
        mass, ess = s["tot"] / n_valid[:, None], s["ess"]
    else:
        inside = s["inside"]
        mass = inside.sum(axis=(-1, -2)) / n_valid[:, None]
        # left-out draws are neither inside nor outside: the ESS is of the finite draws' indicator
        if independent:  # independent draws: the ESS of any indicator is the number of draws
            ess = np.broadcast_to(n_valid[:, None].astype(float), inside.shape[:2])
        else:
            ess = batch_means_ess(inside, _batch_sizes(s, lay))
    n_adj = t_adjusted_n(mass, ess, ci_prob)
    lo, hi = beta_interval(mass, n_adj, ci_prob)
    slope, s_lo, s_hi = _finite_slopes(mass, grid, n_adj, ci_prob)
    ess_inside = mass * ess
    resolved = (ess_inside >= min_ess) & (mass * n_valid[:, None] >= min_ess)
    block = np.empty((mass.shape[0], lay["R"], len(CURVE_STATS)))
    for i, val in enumerate((grid, mass, lo, hi, slope, s_lo, s_hi, ess_inside, resolved)):
        block[..., i] = val
    return block


def _finite_slopes(mass, grid, n_adj, ci_prob):
    """Finite-radius slopes of ``log mass`` in ``log r`` (between neighbouring radii) and their intervals."""
    e_n, R = mass.shape
    j_in = np.clip(np.arange(R) - 1, 0, R - 1)
    j_out = np.clip(np.arange(R) + 1, 0, R - 1)
    if R == 1:
        slope = s_lo = s_hi = np.full((e_n, 1), np.nan)
        return slope, s_lo, s_hi
    m_in, m_out = mass[:, j_in], mass[:, j_out]
    dlr = np.log(grid[:, j_out]) - np.log(grid[:, j_in])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(m_out > 0, m_in / m_out, np.nan)
        n_cond = m_out * np.minimum(n_adj[:, j_in], n_adj[:, j_out])
        q_lo, q_hi = beta_interval(np.nan_to_num(q), np.maximum(n_cond, 1e-12), ci_prob)
        slope = -np.log(q) / dlr
        s_lo = -np.log(q_hi) / dlr
        s_hi = -np.log(q_lo) / dlr
    undefined = ~(m_out > 0) | ~(dlr > 0)
    slope = np.where(undefined, np.nan, slope)
    s_lo = np.where(undefined, np.nan, s_lo)
    s_hi = np.where(undefined, np.nan, s_hi)
    return slope, s_lo, s_hi


def _atom_pieces(s, lay, *, ci_prob, independent):
    """The atom at the centre (exact ties; a single tie may be the centre itself), its interval and flags."""
    ties, n_valid, valid_sizes, sizes = s["ties"], s["n_valid"], s["valid_sizes"], lay["sizes"]
    has_atom = ties >= 2
    atom_ess = np.full(ties.shape[0], float(lay["n_total"]))
    for i, sums in ({} if independent else s["atom_sums"]).items():
        # a chain that rejects its proposals repeats a draw: ties in one run of
        # consecutive batches may be one visit (one effective draw, e.g. Metropolis
        # at a median or mode centre), not an atom; a continuous law is never
        # visited twice at the same point, so an atom needs ties in two runs
        hit = np.asarray(sums) > 0
        has_atom[i] = int(hit[:, 0].sum() + (hit[:, 1:] & ~hit[:, :-1]).sum()) >= 2
        atom_ess[i] = batch_means_ess(sums[None].astype(float),
                                      sizes if valid_sizes is None else valid_sizes[i][None])[0]
    ulp = s.get("ulp")
    if ulp is not None and has_atom.any() and np.any(ulp[has_atom] > 0):
        # draws within half a unit in the last place of the centre round to it:
        # ties a continuous law gives at its density near the centre are no atom
        lam = _rounding_ties(s["master"], s["medges"], ulp)
        by_rounding = (lam > 0) & (stats.poisson.sf(ties - 1, np.where(lam > 0, lam, 1.0)) >= ROUNDING_TIES_LEVEL)
        has_atom &= ~by_rounding
    atom = np.where(has_atom, ties / n_valid, 0.0)
    a_n = t_adjusted_n(atom, atom_ess, ci_prob)
    a_lo_atom, a_hi_atom = beta_interval(atom, a_n, ci_prob)
    return {"atom": atom, "atom_lower": np.where(has_atom, a_lo_atom, 0.0),
            "atom_upper": np.where(has_atom, a_hi_atom, beta_interval(0.0, atom_ess, ci_prob)[1]),
            "has_atom": has_atom, "gap": s["disc"] & ~has_atom}  # discrete draws, centre not a support point


def _rounding_ties(master, medges, ulp, k=10):
    """Expected ties at the centre from rounding to a grid of spacing ``ulp``, at the density near it.

    The positive distances' density near the centre is read from the
    nearest master cells holding at least ``k`` of them: ``c`` distances
    within ``r`` give ``c / r`` per unit of distance, and the distances below
    ``ulp / 2`` round to 0: ``c ulp / (2 r)`` expected ties.
    """
    cum = np.cumsum(master, axis=1)
    j = np.minimum((cum < k).sum(axis=1), master.shape[1] - 1)
    rows = np.arange(master.shape[0])
    c, r = cum[rows, j], medges[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = c * ulp / (2.0 * r)
    return np.where(np.isfinite(lam) & (c > 0), lam, 0.0)


def _window_pieces(s, lay, *, independent):
    """Index pieces of each window: inflation, the narrowest window's mass ``q0``, chain agreement.

    The autocorrelation inflation ``n / ESS`` of each window's ball
    indicator (``infl``) and of the power law's score (``infl_shape``).
    """
    n_valid = s["n_valid"]
    fused = "tot_w" in s  # reduced row by row already
    if fused:
        m_w, e_w, in_0 = s["tot_w"] / n_valid[:, None], s["e_w"], s["in_0"]
    else:
        inside_w = s["inside_w"]
        m_w, in_0 = inside_w.sum(axis=(-1, -2)) / n_valid[:, None], inside_w[:, 0]
        e_w = (np.broadcast_to(n_valid[:, None].astype(float), inside_w.shape[:2]) if independent else
               batch_means_ess(inside_w, _batch_sizes(s, lay)))
    ext = {"infl": np.where((m_w > 0) & (m_w < 1), n_valid[:, None] / np.maximum(e_w, 1.0), 1.0)}
    if independent:
        ext["infl_shape"] = np.ones_like(ext["infl"])
    elif fused:
        ext["infl_shape"] = np.where(s["z_fine"], n_valid[:, None] / np.maximum(s["e_z"], 1.0), ext["infl"])
    else:
        ext["infl_shape"] = _shape_inflation(s["pos_w"], s["r_w"], n_valid, _batch_sizes(s, lay), ext["infl"])
    ext["q0"] = m_w[:, 0]
    ext["chain_z"], ext["rhat"] = _chain_agreement(in_0, m_w[:, 0], s["valid_sizes"], lay,
                                                   independent=independent)
    return ext


def _chain_agreement(in_0, p0, valid_sizes, lay, *, independent):
    """``chain_z`` and ``rhat`` of the ball indicator of the narrowest index window.

    Chains near the centre: each chain's share of draws in the narrowest
    window against the other chains', in standard errors from the
    indicator's ESS (per chain: the pooled ESS over the chains); and the
    classical R-hat of the indicator. ``in_0`` (e, chain, batch) counts the
    draws inside, ``p0`` (e,) is the pooled share.
    """
    C, n_b, sizes = lay["C"], lay["n_b"], lay["sizes"]
    e_n = in_0.shape[0]
    n_c = (np.broadcast_to(sizes, (C, n_b)) if valid_sizes is None else valid_sizes).sum(axis=-1)
    in_c = in_0.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):  # (a chain whose draws were all left out: NaN)
        p_c = in_c / n_c
    # within-chain variance of the indicator times its autocorrelation time, from
    # batch means about each chain's own mean (a chain elsewhere does not inflate it)
    # (CHAIN_BATCHES long batches per chain: short ones underestimate the variance of a
    # strongly autocorrelated indicator, which made chains look different by chance)
    sz = np.broadcast_to(sizes, (e_n, C, n_b)) if valid_sizes is None else valid_sizes
    grp = np.minimum(np.arange(n_b) * CHAIN_BATCHES // n_b, CHAIN_BATCHES - 1)
    onehot = (grp[:, None] == np.arange(CHAIN_BATCHES)[None, :]).astype(float)
    cnt_g = in_0 @ onehot
    sz_g = sz @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        bm = cnt_g / sz_g
        s2tau = (sz_g * (bm - p_c[..., None]) ** 2).sum(axis=(1, 2)) / max(C * (CHAIN_BATCHES - 1), 1)
    s2tau = np.maximum(s2tau, p0 * (1 - p0))  # no less than independent draws
    rest = (in_c.sum(axis=1, keepdims=True) - in_c) / np.maximum(n_c.sum(axis=-1, keepdims=True) - n_c, 1)
    n_rest = np.maximum(n_c.sum(axis=-1, keepdims=True) - n_c, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        zc = (p_c - rest) / np.sqrt(s2tau[:, None] * (1 / n_c + 1 / n_rest))
        chain_z = np.where(np.isfinite(zc), np.abs(zc), 0.0).max(axis=1)
    # the variance has C (CHAIN_BATCHES - 1) degrees of freedom: z is a Student t, reported as the
    # normal deviate of the same tail probability (4 x 500 AR(0.9) draws of 100 elements: raw, one
    # element in 200 read |z| > 4 with chains that agree, 20 times the normal rate)
    df = max(C * (CHAIN_BATCHES - 1), 1)
    chain_z = np.where(chain_z > 0, -special.ndtri(np.clip(stats.t.sf(chain_z, df), 1e-300, 0.5)), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the classical R-hat of the ball indicator (between- over within-chain variance)
        n_bar = n_c.mean(axis=-1) if n_c.ndim > 1 else np.full(e_n, n_c.mean())
        w_var = (p_c * (1 - p_c)).mean(axis=1) * n_bar / np.maximum(n_bar - 1, 1)
        b_var = p_c.var(axis=1, ddof=1) if C > 1 else np.zeros(e_n)  # (one chain: no R-hat, below)
        rh = np.sqrt(((n_bar - 1) / n_bar * w_var + b_var) / w_var)
        rhat = np.where(w_var > 0, rh, np.nan)
    if C < 2 or independent:  # no chains to compare (independent draws: their order carries nothing)
        chain_z = np.zeros(e_n)
        rhat = np.full(e_n, np.nan)
    return chain_z, rhat


def _finish_index(p, lay, *, ci_prob, min_ess, threads=1):
    """The index rows (E, len(INDEX_STATS)) from the per-element pieces.

    ``p`` holds the master cells (``master``, ``medges``), ``unit``,
    ``bnd``, ``nearest``, ``cv``, ``div_near`` (:func:`_summary_statistics`)
    and the pieces of :func:`_curve_statistics`.
    """
    E = p["master"].shape[0]
    k_list, n_total, n_div = lay["k_list"], lay["n_total"], lay["n_div"]
    index = np.empty((E, len(INDEX_STATS)))
    # the index: vectorised fits over the elements' binned nearest distances,
    # in as many slices as threads (numpy releases the GIL in the heavy parts;
    # each element's fit is independent of the slicing)
    n_fit = max(1, min(threads, E // MIN_FIT_SLICE))
    cuts = np.linspace(0, E, n_fit + 1).astype(int)

    def _fit(lo, hi):
        return fit_index_draws(p["master"][lo:hi], p["medges"][lo:hi], k_list, p["unit"][lo:hi],
                               boundary=p["bnd"][lo:hi], inflation=p["infl"][lo:hi],
                               shape_inflation=p["infl_shape"][lo:hi], ci_prob=ci_prob,
                               n_total=n_total, nearest=p["nearest"][lo:hi], min_ess=min_ess)

    if n_fit > 1:
        with ThreadPoolExecutor(n_fit) as pool:
            parts = list(pool.map(_fit, cuts[:-1], cuts[1:]))
    else:
        parts = [_fit(0, E)]
    fit = {key: np.concatenate([p_[key] for p_ in parts]) for key in parts[0]}
    col = INDEX_STATS.index
    for name in ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "window", "n_window"):
        index[:, col(name)] = fit[name]
    index[:, col("atom")] = p["atom"]
    index[:, col("atom_lower")] = p["atom_lower"]
    index[:, col("atom_upper")] = p["atom_upper"]
    index[:, col("center_value")] = p["cv"]
    index[:, col("scale")] = fit["unit"]
    gap_all, atom_flag_all = p["gap"], p["has_atom"]
    # discrete draws, centre not a support point: nothing closer than the gap
    index[gap_all, 0:3] = np.inf
    index[gap_all, 3] = 0.0
    index[gap_all, 4] = -np.inf
    index[gap_all, 5] = np.inf
    index[atom_flag_all, 0:6] = 0.0  # an atom: index (0, 0) by definition
    # how far the evidence reaches, and what the row has to say
    index[:, col("nearest")] = p["nearest"]
    index[:, col("r_resolved")] = fit["r_resolved"]
    index[:, col("n_near")] = fit["n_near"]
    index[:, col("n_near_draws")] = fit["n_near_draws"]
    index[:, col("rhat")] = p["rhat"]
    index[:, col("chain_z")] = p["chain_z"]
    index[:, col("n_divergent")] = n_div
    index[:, col("divergent_near")] = p["div_near"]
    ulp = p.get("ulp")
    index[:, col("resolution")] = 0.0 if ulp is None else ulp
    status = np.zeros(E)
    status[atom_flag_all] = STATUS_WORDS.index("atom")
    status[gap_all] = STATUS_WORDS.index("lattice")
    plain = ~(atom_flag_all | gap_all)
    status[plain & fit["log_ambiguous"]] = STATUS_WORDS.index("log-ambiguous")
    status[plain & fit["unresolved"]] = STATUS_WORDS.index("unresolved")
    if ulp is not None:
        # the draws' rounding grid is coarse at the window's scale: the distances are
        # multiples of it, and the index cannot be read (1e15 + N(0, 1) in float64)
        coarse = plain & (PRECISION_ULPS * ulp >= fit["window"]) & (ulp > 0)
        index[coarse, 0] = np.nan
        index[coarse, 1], index[coarse, 2] = 0.0, np.inf
        index[coarse, 3], index[coarse, 4], index[coarse, 5] = np.nan, -np.inf, np.inf
        status[coarse] = STATUS_WORDS.index("unresolved")
    # (lattice and atom rows keep their exact reading, a = inf or a = 0, written above)
    sampler = p["chain_z"] > CHAIN_Z
    if n_div:
        div_near, q0 = p["div_near"], p["q0"]
        # P(at least div_near of the n_div divergences near the centre | its share of draws q0)
        p_near = stats.binom.sf(div_near - 1, n_div, np.clip(q0, 1e-12, 1.0))
        crowd = (p_near < DIVERGENT_LEVEL) & (div_near >= 3)
        # the draws do not reach the centre and the divergences lean towards it: more
        # of them near it than its share of draws makes likely (one of 13 where 0.65
        # are expected is no lean); not a lattice or an atom, whose reading is exact
        # (at least two: one divergence near an unresolved default centre, 1 of 1 in a run, made an
        # unbounded Deterministic whose draws happen to be positive a "sampler" finding at 0)
        leans = (div_near > q0 * n_div) & (div_near >= 2)
        # (a centre far beyond the draws, none within one sd, has the draws' tail nearest, where
        # divergences from anything correlated with it fall too: a noise scale's 0, ten sd below
        # its draws, read "sampler" for 2 of a non-centred model's 6 divergences, p = 0.03;
        # there the lean must be stronger, FAR_LEAN_LEVEL)
        level = np.where(fit["n_near"] >= REACH_ESS, LEAN_LEVEL, FAR_LEAN_LEVEL)
        lean = plain & fit["unresolved"] & leans & (p_near < level)
        # a = inf (the draws thin out faster than any power towards the centre) is what a
        # sampler that cannot enter a funnel's neck shows: with divergences among the nearest
        # draws, more than their share, the reading is the sampler's as much as the posterior's
        # (the centred hierarchy's scale at 0, NUTS seed 5: a = inf [6.2, inf] "ok", 2 of 11
        # divergences among the nearest 5% of the draws, 6 of 11 among the nearest 10%)
        # (and where too few draws reach the centre for any index, BOUNDARY_REACH_ESS, the same
        # thinning faster than any power the fit saw there)
        thinning = (np.isposinf(fit["a"]) & ~fit["unresolved"]) | fit.get("inf_unreached", False)
        # (at a far centre a thinning is a tail's, as in any posterior that rules the centre out: the
        # lean must pass FAR_LEAN_LEVEL there too; a quasi-separated logistic coefficient's 0, none
        # of its draws within 4 of it, read "sampler" for 2 of 7 divergences at ranks 34 and 92)
        inf_lean = plain & thinning & leans & ((fit["n_near"] >= REACH_ESS) | (p_near < FAR_LEAN_LEVEL))
        sampler |= crowd | lean | inf_lean
    # a lattice row's reading (no mass within the gap to the nearest support point, a = inf)
    # holds whatever the sampler did: divergences crowding near it (k = floor(2 mu) of the
    # centred eight schools, 9 of 45 at the value holding 5% of the draws) stay in
    # divergent_near, and the sampler finding belongs to the continuous variables
    sampler &= ~gap_all
    status[sampler] = STATUS_WORDS.index("sampler")
    index[:, col("status")] = status
    return index
