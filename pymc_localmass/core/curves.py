"""Small-ball mass curves from draws (samples tier).

One pass over each element's draws gives, for every radius of a grid at
once, the mass estimate, an interval honest under MCMC autocorrelation, the
finite-radius slope with its interval, the effective number of draws inside,
a resolved flag, the atom at the centre and the Mass Index.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import stats

from .ess import batch_means_ess
from .index import fit_index_draws, window_edges, window_sizes
from .distances import center_values
from .intervals import beta_interval, t_adjusted_n
from .lattice import is_lattice

CURVE_STATS = ("radius", "mass", "mass_lower", "mass_upper", "slope", "slope_lower",
               "slope_upper", "ess", "resolved")
INDEX_STATS = ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "atom", "atom_lower",
               "atom_upper", "center_value", "scale", "window", "n_window",
               # how far the evidence reaches (see docs/schema.md)
               "nearest", "r_resolved", "n_near", "rhat", "chain_z", "n_divergent", "divergent_near",
               "status")
#: status words, by code (stored as the ``status`` index stat); when several apply
#: the highest code wins
STATUS_WORDS = ("ok", "atom", "lattice", "log-ambiguous", "unresolved", "sampler")
#: index stats of tiers without draws (exact, QMC, model): no draws-based evidence
NO_DRAWS_DEFAULTS = {"status": 0.0, "n_divergent": 0.0, "divergent_near": 0.0}


def no_draws_value(label):
    """Default of an index stat that a tier without draws does not compute (NaN, or 0 for status/counts)."""
    return NO_DRAWS_DEFAULTS.get(label, np.nan)


#: a chain whose share of draws in the narrowest index window differs from the
#: other chains' by more than this many standard errors (autocorrelation-aware)
CHAIN_Z = 4.0
#: batches per chain for the within-chain variance behind ``chain_z``
CHAIN_BATCHES = 8
#: divergent transitions crowd near the centre at this one-sided binomial level
DIVERGENT_LEVEL = 1e-3

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
CACHE_BYTES = 2**20  # phase-1 work is done on sub-chunks of about this size (in cache)


def _contiguous_copy(src, block=512):
    """C-contiguous float64 copy of a 2-D view, cache-blocked along the draws.

    The draws of an element are far apart in the usual (chain, draw, element)
    layout; copying a few hundred draws at a time keeps both sides in cache,
    which makes the transposition several times faster than one big copy.
    """
    if src.flags.c_contiguous and src.dtype == np.float64:
        return np.array(src)
    out = np.empty(src.shape, dtype=np.float64)
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
    lo = np.log(grid[:, 0])
    step = (np.log(grid[:, -1]) - lo) / max(R - 1, 1)
    t = logd - lo[:, None]
    t *= (1.0 / np.where(step > 0, step, 1.0))[:, None]
    np.clip(t, -1.0, R, out=t)
    np.ceil(t, out=t)
    b = t.astype(np.int64)
    np.maximum(b, 0, out=b)
    for i in range(s):
        b[i][d[i] == grid[i, 0]] = 0
        b[i][d[i] == grid[i, -1]] = R - 1
    return b


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
    integer = x.dtype.kind in "iub"  # an integer dtype is a lattice whatever its values
    if x.ndim < 2:
        raise ValueError("draws need (chain, draw) as their last two axes")
    lead = x.shape[:-2]
    C, N = x.shape[-2:]
    if C < 2 and not independent:
        raise ValueError(f"only {C} chain; need at least 2 chains for intervals that check "
                         "between-chain agreement (independent draws: independent=True)")
    if N < MIN_DRAWS_PER_CHAIN:
        raise ValueError(f"too few draws per chain ({N}); need at least {MIN_DRAWS_PER_CHAIN}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    E = int(np.prod(lead, dtype=int))
    n_total = C * N
    x_all = x.reshape(E, n_total)

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
    explicit = radii is not None
    if explicit:
        radii = np.asarray(radii, float)
        R = radii.shape[-1]
        radii = np.broadcast_to(radii, lead + (R,)).reshape(E, R)
    else:
        R = int(n_radii)
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
    k_lo = int(max(1, min(min_ess, n_total - 1)))
    n_b, batch_of, sizes = _batch_layout(N)
    G = N_MASTER_CELLS
    # flat bincount offsets for (chain, batch, bin)
    base = ((np.arange(C)[:, None] * n_b + batch_of[None, :]) * (R + 1)).reshape(-1)

    curves = np.empty((E, R, len(CURVE_STATS)))
    index = np.empty((E, len(INDEX_STATS)))
    master_all = np.empty((E, G))
    medges_all = np.empty((E, G))
    infl_all = np.empty((E, len(k_list)))
    infl_shape_all = np.empty((E, len(k_list)))
    unit_all = np.empty(E)
    bnd_all_out = np.zeros(E, bool)
    nearest_all = np.full(E, np.nan)
    div_near_all = np.zeros(E)
    chain_z_all = np.zeros(E)
    rhat_all = np.full(E, np.nan)
    q0_all = np.zeros(E)
    div_flat = None
    if divergent is not None:
        dv = np.asarray(divergent)
        if dv.shape != (C, N):
            raise ValueError(f"divergent must have shape (chain, draw) = {(C, N)}, got {dv.shape}")
        div_flat = np.flatnonzero(dv.astype(bool).reshape(-1))
    n_div = 0 if div_flat is None else int(div_flat.size)
    gap_all = np.zeros(E, bool)
    atom_flag_all = np.zeros(E, bool)
    # big chunks: one contiguous (transposing) copy of at most ~chunk_bytes
    big = max(1, min(E, int(chunk_bytes // max(1, n_total * 8)), 64))
    sub = max(1, int(CACHE_BYTES // (n_total * 8)))
    def _chunk(start):
        stop = min(E, start + big)
        e_n = stop - start
        xb = _contiguous_copy(x_all[start:stop])
        grid = np.empty((e_n, R))
        inside = np.empty((e_n, R, C, n_b))
        # per-batch counts inside each index window's ball (its own ESS, whatever the curve's grid)
        n_win = len(k_list)
        inside_w = np.empty((e_n, n_win, C, n_b))
        # and the positive distances inside it: count, sum of log r and of log^2 r (for the
        # autocorrelation of the power law's score, which sets the index fit's variance)
        pos_w = np.empty((e_n, 3, n_win, C, n_b))
        r_w = np.empty((e_n, n_win))
        base_w = ((np.arange(C)[:, None] * n_b + batch_of[None, :]) * (n_win + 1)).reshape(-1)
        master = master_all[start:stop]
        medges = medges_all[start:stop]
        ties = np.zeros(e_n, np.int64)
        n_valid = np.empty(e_n)
        # finite draws per (element, chain, batch), only where some were left out
        valid_sizes = None
        cv_out = np.full(e_n, np.nan)
        unit = unit_all[start:stop]
        bnd = bnd_all_out[start:stop]
        disc = np.zeros(e_n, bool)
        atom_sums = {}
        # ---- phase 1: in-cache passes over each sub-chunk's draws -> compact summaries
        for s0 in range(0, e_n, sub):
            s1 = min(e_n, s0 + sub)
            ns = s1 - s0
            g0 = start + s0
            xs = xb[s0:s1]
            total = xs.sum(axis=1)
            all_finite = bool(np.isfinite(total).all())
            if all_finite:
                nv = np.full(ns, n_total)
            else:
                finite = np.isfinite(xs)
                nv = finite.sum(axis=1)
                if nan_policy == "raise" and (nv < n_total).any():
                    bad = int(np.argmax(nv < n_total)) + g0
                    raise NonFiniteError(f"{n_total - int(nv.min())} non-finite draw(s)", bad)
                if (nv < 2 * MIN_DRAWS_PER_CHAIN).any():
                    raise NonFiniteError("too few finite draws", int(np.argmax(nv < 2 * MIN_DRAWS_PER_CHAIN)) + g0)
                xs = np.where(finite, xs, np.nan)
                if valid_sizes is None:
                    valid_sizes = np.broadcast_to(sizes.astype(float), (e_n, C, n_b)).copy()
                valid_sizes[s0:s1] = finite.reshape(ns, C, N).astype(float) @ (
                    batch_of[:, None] == np.arange(n_b)[None, :])
            n_valid[s0:s1] = nv
            if keyword == "mean":
                cv = total / n_total if all_finite else np.nanmean(xs, axis=1)
            elif keyword == "median":
                cv = (np.median if all_finite else np.nanmedian)(xs, axis=1)
            elif keyword == "mode":
                cv = np.array([center_values(row[np.isfinite(row)], "mode") for row in xs])
            elif cval_all is not None:
                cv = cval_all[g0:start + s1]
            else:
                cv = None
            if cv is not None:
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
                    sd = scale_all[g0:start + s1]
                if not (sd > 0).all():
                    raise ConstantError("zero variance (constant draws)", int(np.argmax(~(sd > 0))) + g0)
                cv_out[s0:s1] = cv
                if bnd_all is None:
                    mn = (np.min if all_finite else np.nanmin)(d, axis=1)
                    mx = (np.max if all_finite else np.nanmax)(d, axis=1)
                    bnd[s0:s1] = (mn >= 0) | (mx <= 0)
                else:
                    bnd[s0:s1] = bnd_all[g0:start + s1]
                if disc_all is None:  # draws on a resolved lattice (scale-free; see core.lattice)
                    disc[s0:s1] = is_lattice(xs, integer=integer)
                else:
                    disc[s0:s1] = disc_all[g0:start + s1]
                np.abs(d, out=d)
                if scaled:
                    d /= sd[:, None]
            else:
                d = np.array(xs, dtype=float)
                if (d < 0).any():
                    raise ValueError("distances must be non-negative")
                sd = scale_all[g0:start + s1] if scale_all is not None else (
                    np.std if all_finite else np.nanstd)(xs, axis=1, ddof=1)
                if bnd_all is not None:
                    bnd[s0:s1] = bnd_all[g0:start + s1]
                if disc_all is not None:
                    disc[s0:s1] = disc_all[g0:start + s1]
            unit[s0:s1] = 1.0 if scaled else sd
            if not all_finite:
                d = np.where(np.isfinite(d), d, np.inf)
            tz = np.count_nonzero(d == 0, axis=1)
            ties[s0:s1] = tz
            any_zero = bool(tz.any())
            pos = np.where(d == 0, np.inf, d) if any_zero else d
            e0 = pos.min(axis=1)
            nearest_all[g0:start + s1] = np.where(np.isfinite(e0), e0, np.nan)
            top = (d.max(axis=1) if all_finite else np.where(np.isfinite(d), d, -np.inf).max(axis=1))
            e0 = np.where(np.isfinite(e0), e0, 1.0)
            top = np.where(top > e0, top, e0 * (1 + 1e-9))
            with np.errstate(divide="ignore"):
                logd = np.log(d)
            # master grid of positive distances: geometric cells [e0 e^(j dm), e0 e^((j+1) dm))
            dm = np.log(top / e0) / (G - 0.5)
            t = logd - np.log(e0)[:, None]
            t *= (1.0 / dm)[:, None]
            if any_zero or not all_finite:
                t = np.where(np.isfinite(t), t, -1.0)
            np.clip(t, -1.0, G - 1, out=t)
            mb = t.astype(np.int64)  # truncation = floor for t >= 0; -0.x -> 0
            if any_zero or not all_finite:
                mb[(d == 0) | ~np.isfinite(d)] = G  # not a positive finite distance
            mc = np.bincount((np.arange(ns)[:, None] * (G + 1) + mb).ravel(), minlength=ns * (G + 1))
            master[s0:s1] = mc.reshape(ns, G + 1)[:, :G]
            me = e0[:, None] * np.exp(dm[:, None] * np.arange(1, G + 1)[None, :])
            medges[s0:s1] = me
            # window w closes at master cell g_w: a draw is inside when its cell is <= g_w
            # (ties at the centre too); count the windows a draw is outside of
            g_sub = window_edges(master[s0:s1], me, k_list)
            slot = C * n_b * (n_win + 1)
            # per element, master cell -> number of windows the cell lies outside of,
            # offset by the element's slot; cell G (a tie at the centre) is inside all
            table = (np.arange(G + 1)[None, :, None] > g_sub[:, None, :]).sum(axis=2)
            table[:, G] = 0
            table += (np.arange(ns) * slot)[:, None]
            flat = np.take_along_axis(table, mb, axis=1)
            if not all_finite:  # a left-out draw is in no ball
                flat = np.where(np.isfinite(d), flat, (np.arange(ns) * slot)[:, None] + n_win)
            flat += base_w
            cw = np.bincount(flat.ravel(), minlength=ns * slot).reshape(ns, C, n_b, n_win + 1)
            inside_w[s0:s1] = np.moveaxis(np.cumsum(cw[..., :n_win], axis=-1), -1, 1)
            if not independent:
                r_w[s0:s1] = np.take_along_axis(me, g_sub, axis=1)
                positive = np.isfinite(logd) & (d > 0)
                lw = np.where(positive, logd, 0.0).ravel()
                for j, wts in enumerate((positive.ravel().astype(float), lw, lw * lw)):
                    sw = np.bincount(flat.ravel(), weights=wts, minlength=ns * slot).reshape(ns, C, n_b, n_win + 1)
                    pos_w[s0:s1, j] = np.moveaxis(np.cumsum(sw[..., :n_win], axis=-1), -1, 1)
            if n_div:
                near_d = (mb[:, div_flat] <= g_sub[:, :1]) | (d[:, div_flat] == 0)
                div_near_all[g0:start + s1] = near_d.sum(axis=1)
            # grid: from the k_lo-th nearest positive distance to about one sd
            if explicit:
                gr = radii[g0:start + s1]
                bins = _explicit_bins(d, gr)
            else:
                cum = np.cumsum(master[s0:s1], axis=1)
                cell = np.minimum((cum < k_lo).sum(axis=1), G - 1)
                r_lo = np.empty(ns)
                for i in range(ns):
                    cand = pos[i][pos[i] < me[i, cell[i]]]
                    cand.sort()
                    r_lo[i] = cand[min(k_lo, cand.size) - 1] if cand.size else top[i]
                top_r = unit[s0:s1] if rmax_all is None else rmax_all[g0:start + s1]
                r_hi = np.maximum(top_r, 4 * r_lo)
                gr = radius_grid(r_lo, r_hi, R)
                bins = _grid_bins(d, logd, gr)
            grid[s0:s1] = gr
            for i in range(ns):
                counts = np.bincount(base + bins[i], minlength=C * n_b * (R + 1)).reshape(C, n_b, R + 1)
                inside[s0 + i] = np.moveaxis(np.cumsum(counts[..., :R], axis=-1), -1, 0)
                if tz[i] >= 2:
                    # per-batch tie counts (float: a boolean matmul gives 0/1 per batch, not counts)
                    atom_sums[s0 + i] = (d[i] == 0).reshape(C, N).astype(float) @ (
                        batch_of[:, None] == np.arange(n_b)[None, :])
            if progress is not None:
                progress(ns)
        # ---- phase 2: statistics on the summaries, vectorised over elements
        mass = inside.sum(axis=(-1, -2)) / n_valid[:, None]
        # left-out draws are neither inside nor outside: the ESS is of the finite draws' indicator
        if independent:  # independent draws: the ESS of any indicator is the number of draws
            ess = np.broadcast_to(n_valid[:, None].astype(float), inside.shape[:2])
        else:
            ess = batch_means_ess(inside, sizes if valid_sizes is None else valid_sizes[:, None])
        n_adj = t_adjusted_n(mass, ess, ci_prob)
        lo, hi = beta_interval(mass, n_adj, ci_prob)

        j_in = np.clip(np.arange(R) - 1, 0, R - 1)
        j_out = np.clip(np.arange(R) + 1, 0, R - 1)
        if R == 1:
            slope = s_lo = s_hi = np.full((e_n, 1), np.nan)
        else:
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
        ess_inside = mass * ess
        resolved = (ess_inside >= min_ess) & (mass * n_valid[:, None] >= min_ess)
        block = curves[start:stop]
        for i, val in enumerate((grid, mass, lo, hi, slope, s_lo, s_hi, ess_inside, resolved)):
            block[..., i] = val

        # atoms: exact ties at the centre (a single tie may be the centre itself)
        has_atom = ties >= 2
        atom = np.where(has_atom, ties / n_valid, 0.0)
        atom_ess = np.full(e_n, float(n_total))
        for i, sums in ({} if independent else atom_sums).items():
            atom_ess[i] = batch_means_ess(sums[None].astype(float),
                                          sizes if valid_sizes is None else valid_sizes[i][None])[0]
        a_n = t_adjusted_n(atom, atom_ess, ci_prob)
        a_lo_atom, a_hi_atom = beta_interval(atom, a_n, ci_prob)
        atom_lo = np.where(has_atom, a_lo_atom, 0.0)
        atom_hi = np.where(has_atom, a_hi_atom, beta_interval(0.0, atom_ess, ci_prob)[1])

        # index: windows on the master grid; autocorrelation inflation n / ESS of
        # each window's ball indicator
        m_w = inside_w.sum(axis=(-1, -2)) / n_valid[:, None]
        e_w = (np.broadcast_to(n_valid[:, None].astype(float), inside_w.shape[:2]) if independent else
               batch_means_ess(inside_w, sizes if valid_sizes is None else valid_sizes[:, None]))
        infl_all[start:stop] = np.where((m_w > 0) & (m_w < 1), n_valid[:, None] / np.maximum(e_w, 1.0), 1.0)
        # the fit's own inflation: n / ESS of the power law's score in each window,
        # 1{r < R} (1 - a log(R / r)) with a = n_R / sum log(R / r) (its MLE there).
        # Slopes read the shape of the distances inside the ball, which a chain's
        # lingering correlates far less than the ball's indicator (at lag-1 0.9 the
        # indicator's inflation doubled a's standard error; the score's is about right)
        if independent:
            infl_shape_all[start:stop] = 1.0
        else:
            npos, s1_, s2_ = pos_w[:, 0], pos_w[:, 1], pos_w[:, 2]
            logR = np.log(r_w)[:, :, None, None]
            sum_l = npos * logR - s1_  # sum of log(R / r) per batch
            sum_l2 = npos * logR**2 - 2 * logR * s1_ + s2_
            with np.errstate(invalid="ignore", divide="ignore"):
                a_pl = npos.sum(axis=(-1, -2)) / sum_l.sum(axis=(-1, -2))
                a4 = a_pl[:, :, None, None]
                z_sums = npos - a4 * sum_l
                z2 = (npos - 2 * a4 * sum_l + a4**2 * sum_l2).sum(axis=(-1, -2))
                v_draw = z2 / n_valid[:, None] - (z_sums.sum(axis=(-1, -2)) / n_valid[:, None]) ** 2
            fine = np.isfinite(a_pl) & (a_pl > 0) & np.isfinite(v_draw) & (v_draw > 0)
            e_z = batch_means_ess(np.where(fine[..., None, None], z_sums, 0.0),
                                  sizes if valid_sizes is None else valid_sizes[:, None],
                                  draw_var=np.where(fine, v_draw, 1.0))
            infl_shape_all[start:stop] = np.where(fine, n_valid[:, None] / np.maximum(e_z, 1.0),
                                                  infl_all[start:stop])
        # chains near the centre: each chain's share of draws in the narrowest
        # window against the other chains', in standard errors from the
        # indicator's ESS (per chain: the pooled ESS over the chains)
        n_c = (np.broadcast_to(sizes, (C, n_b)) if valid_sizes is None else valid_sizes).sum(axis=-1)
        in_c = inside_w[:, 0].sum(axis=-1)
        p_c = in_c / n_c
        p0 = m_w[:, 0]
        q0_all[start:stop] = p0
        # within-chain variance of the indicator times its autocorrelation time, from
        # batch means about each chain's own mean (a chain elsewhere does not inflate it)
        # (CHAIN_BATCHES long batches per chain: short ones underestimate the variance of a
        # strongly autocorrelated indicator, which made chains look different by chance)
        sz = np.broadcast_to(sizes, (e_n, C, n_b)) if valid_sizes is None else valid_sizes
        grp = np.minimum(np.arange(n_b) * CHAIN_BATCHES // n_b, CHAIN_BATCHES - 1)
        onehot = (grp[:, None] == np.arange(CHAIN_BATCHES)[None, :]).astype(float)
        cnt_g = inside_w[:, 0] @ onehot
        sz_g = sz @ onehot
        with np.errstate(divide="ignore", invalid="ignore"):
            bm = cnt_g / sz_g
            s2tau = (sz_g * (bm - p_c[..., None]) ** 2).sum(axis=(1, 2)) / max(C * (CHAIN_BATCHES - 1), 1)
        s2tau = np.maximum(s2tau, p0 * (1 - p0))  # no less than independent draws
        rest = (in_c.sum(axis=1, keepdims=True) - in_c) / np.maximum(n_c.sum(axis=-1, keepdims=True) - n_c, 1)
        n_rest = np.maximum(n_c.sum(axis=-1, keepdims=True) - n_c, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            zc = (p_c - rest) / np.sqrt(s2tau[:, None] * (1 / n_c + 1 / n_rest))
            chain_z_all[start:stop] = np.where(np.isfinite(zc), np.abs(zc), 0.0).max(axis=1)
            # the classical R-hat of the ball indicator (between- over within-chain variance)
            n_bar = n_c.mean(axis=-1) if n_c.ndim > 1 else np.full(e_n, n_c.mean())
            w_var = (p_c * (1 - p_c)).mean(axis=1) * n_bar / np.maximum(n_bar - 1, 1)
            b_var = p_c.var(axis=1, ddof=1)
            rh = np.sqrt(((n_bar - 1) / n_bar * w_var + b_var) / w_var)
            rhat_all[start:stop] = np.where(w_var > 0, rh, np.nan)
        if C < 2 or independent:  # no chains to compare (independent draws: their order carries nothing)
            chain_z_all[start:stop] = 0.0
            rhat_all[start:stop] = np.nan
        idx_block = index[start:stop]
        gap = disc & ~has_atom  # discrete draws, centre not a support point
        gap_all[start:stop] = gap
        atom_flag_all[start:stop] = has_atom
        idx_block[:, 6] = atom
        idx_block[:, 7] = atom_lo
        idx_block[:, 8] = atom_hi
        idx_block[:, 9] = cv_out
        idx_block[:, 10] = unit
    starts = list(range(0, E, big))
    n_threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
    if min(len(starts), n_threads) > 1:
        # numpy releases the GIL in the heavy passes: chunks run side by side
        with ThreadPoolExecutor(min(len(starts), n_threads)) as pool:
            for fut in [pool.submit(_chunk, st) for st in starts]:
                fut.result()
    else:
        for st in starts:
            _chunk(st)

    # the index: vectorised fits over the elements' binned nearest distances,
    # in as many slices as threads (numpy releases the GIL in the heavy parts;
    # each element's fit is independent of the slicing)
    n_fit = max(1, min(n_threads if E >= 256 else 1, E))
    cuts = np.linspace(0, E, n_fit + 1).astype(int)

    def _fit(lo, hi):
        return fit_index_draws(master_all[lo:hi], medges_all[lo:hi], k_list, unit_all[lo:hi],
                               boundary=bnd_all_out[lo:hi], inflation=infl_all[lo:hi],
                               shape_inflation=infl_shape_all[lo:hi], ci_prob=ci_prob,
                               n_total=n_total, nearest=nearest_all[lo:hi], min_ess=min_ess)

    if n_fit > 1:
        with ThreadPoolExecutor(n_fit) as pool:
            parts = list(pool.map(_fit, cuts[:-1], cuts[1:]))
    else:
        parts = [_fit(0, E)]
    fit = {key: np.concatenate([p_[key] for p_ in parts]) for key in parts[0]}
    for name in ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "window", "n_window"):
        index[:, INDEX_STATS.index(name)] = fit[name]
    index[:, INDEX_STATS.index("scale")] = fit["unit"]
    # discrete draws, centre not a support point: nothing closer than the gap
    index[gap_all, 0:3] = np.inf
    index[gap_all, 3] = 0.0
    index[gap_all, 4] = -np.inf
    index[gap_all, 5] = np.inf
    index[atom_flag_all, 0:6] = 0.0  # an atom: index (0, 0) by definition
    # how far the evidence reaches, and what the row has to say
    col = INDEX_STATS.index
    for name in ("nearest", "r_resolved", "n_near"):
        index[:, col(name)] = fit[name] if name != "nearest" else nearest_all
    index[:, col("rhat")] = rhat_all
    index[:, col("chain_z")] = chain_z_all
    index[:, col("n_divergent")] = n_div
    index[:, col("divergent_near")] = div_near_all
    status = np.zeros(E)
    status[atom_flag_all] = STATUS_WORDS.index("atom")
    status[gap_all] = STATUS_WORDS.index("lattice")
    plain = ~(atom_flag_all | gap_all)
    status[plain & fit["log_ambiguous"]] = STATUS_WORDS.index("log-ambiguous")
    status[plain & fit["unresolved"]] = STATUS_WORDS.index("unresolved")
    # (lattice and atom rows keep their exact reading, a = inf or a = 0, written above)
    sampler = chain_z_all > CHAIN_Z
    if n_div:
        crowd = stats.binom.sf(div_near_all - 1, n_div, np.clip(q0_all, 1e-12, 1.0)) < DIVERGENT_LEVEL
        crowd &= div_near_all >= 3
        # the draws do not reach the centre and the divergences lean towards it
        lean = fit["unresolved"] & (div_near_all > q0_all * n_div) & (div_near_all >= 1)
        sampler |= crowd | lean
    status[sampler] = STATUS_WORDS.index("sampler")
    index[:, col("status")] = status
    return curves.reshape(lead + (R, len(CURVE_STATS))), index.reshape(lead + (len(INDEX_STATS),))
