"""Mass curves and Mass Index by map-reduce over chunks of draws.

:func:`~.curves.local_mass_curves` needs all the draws of an element at once.
Everything it computes from them is a sum (counts in fixed cells, per-batch
counts inside each radius and index window, ties, finite draws), an extreme
(nearest and farthest distance, the ``k`` nearest ones) or a mean and
variance, so it can be computed chunk by chunk of draws and combined.
:class:`StreamPlan` runs a few passes over the chunks; each pass is a
:func:`partial` per chunk (pure numpy, picklable arguments) and a
:func:`combine` of two partial results, and the plan's ``finish`` turns the
combined result into what the next pass needs. The last pass yields the same
sufficient statistics as :func:`~.curves._summary_statistics`, and the curves
and index come from the same functions as in memory.

Passes (draws read once each):

1. ``center``: finite counts, sums, extremes and the first draws (lattice
   pre-check); the mean.
2. ``median_hist``, ``median_gather`` (centre ``"median"`` only): a histogram
   of each element's draws, then the draws in the cells holding the middle
   ranks: the exact median.
3. ``scale``: variance (Chan et al.'s parallel update), ties at the centre,
   nearest and farthest distances, the ``k`` nearest distances (the bottom of
   the automatic grid), the sides of the centre, the distinct values of
   elements that may lie on a lattice.
4. ``cells``: counts of the distances in the master cells of the index and,
   per chain and batch, in the radius grid.
5. ``windows``: per chain and batch counts inside each index window, the
   count, sum of ``log r`` and of ``log^2 r`` of the positive distances inside
   it (the power law's score, whose ESS sets the index's variance), and the
   divergent transitions near the centre.

Equality with the in-memory path: the counts, ties, extremes, nearest
distances and the median are exact (the same floating-point operations on
each draw), so for a numeric centre and explicit radii every count is equal
to the bit. The mean and the standard deviation are sums in another order
(relative differences of order 1e-16 per element); they move the automatic
grid's top and the index's unit by as much: the curves by about that
relative amount (tests: 1e-9), the index fits, which stop at a convergence
tolerance, by up to about 1e-6 relative (tests: 1e-5). The centre
``"mode"`` needs every draw at once and is not streamed.
"""

import numpy as np

from .curves import (CURVE_STATS, INDEX_STATS, MIN_DRAWS_PER_CHAIN, N_MASTER_CELLS, ConstantError,
                     NonFiniteError, _auto_grid, _batch_base, _curve_statistics, _element_options,
                     _explicit_bins, _finish_index, _grid_bins, _layout, _master_bins, _master_range,
                     _score_sums, _window_flat)
from .index import window_edges
from .lattice import (HEAD, _head_may_be_lattice, _row_lattice, fine_grid, never_varies, pow2_scale, resolution,
                      rounding_sd)
from .rescale import LENGTH_CURVE_STATS, LENGTH_INDEX_STATS, SAFE_RANGE

#: histogram cells per element for the streamed median (pass ``median_hist``)
MEDIAN_CELLS = 4096
#: a power of two that brings sums of draws near the float64 limit back into range
_SMALL = 2.0**-600

#: how two partial results combine, by key
RULES = {
    "n_fin": "sum", "sum": "sum", "sum_small": "sum", "min": "min", "max": "max", "head": "head",
    "valid_batches": "sum", "neg": "max",
    "hist": "sum", "gather": "concat",
    "chan": "chan", "dmin": "min", "dmax": "max", "ties": "sum", "tie_batches": "sum", "e0": "min",
    "top": "max", "topk": "topk", "uniques": "union", "nearest_value": "nearest",
    "master": "sum", "grid_counts": "sum",
    "window_counts": "sum", "pos_w": "sum", "div_near": "sum",
}


def _as_float(x):
    return np.asarray(x, dtype=np.float64)


def _batch_sums(values, lay, draws):
    """Per-(element, chain, batch) sums of ``values`` (e, c, n) over the draws ``draws`` (a slice)."""
    bt = lay["batch_of"][draws]
    starts = np.flatnonzero(np.r_[True, bt[1:] != bt[:-1]])
    out = np.zeros(values.shape[:2] + (lay["n_b"],))
    out[..., bt[starts]] = np.add.reduceat(values, starts, axis=-1)
    return out


def _full_chains(part, lay, chains):
    """Place a (e, chains in the block, ...) array into the (e, C, ...) array of all chains."""
    out = np.zeros((part.shape[0], lay["C"]) + part.shape[2:], dtype=part.dtype)
    out[:, chains] = part
    return out


def _distances(x, p):
    """|x - centre| (or the given distances), scaled, with left-out draws at +inf."""
    xs = x / p["f"][:, None, None] if p["rescale"] else x
    d = xs if p["cv"] is None else np.abs(xs - p["cv"][:, None, None])
    if p.get("sd") is not None:
        d = d / p["sd"][:, None, None]
    return np.where(np.isfinite(d), d, np.inf)


#: a chunk is processed this many bytes of draws at a time (the temporaries stay a few times this)
SUB_BYTES = 4 * 2**20
#: the per-element parameters of a pass (sliced with the elements)
PER_ELEMENT = ("f", "cv", "cval", "sd", "e0", "top", "grid", "g_sub", "lattice_candidates", "lo", "width", "cells")


def _concat(parts, starts):
    """Partial results of consecutive slices of elements, joined along the elements."""
    out = {}
    for key, first in parts[0].items():
        vals = [part[key] for part in parts]
        if isinstance(first, tuple) and key == "head":
            out[key] = (np.concatenate([v[0] for v in vals]), first[1])
        elif isinstance(first, tuple):
            out[key] = tuple(np.concatenate(items) for items in zip(*vals))
        elif isinstance(first, list):
            out[key] = [item for v in vals for item in v]
        elif isinstance(first, dict):
            out[key] = {i + s0: u for v, s0 in zip(vals, starts) for i, u in v.items()}
        else:
            out[key] = np.concatenate(vals)
    return out


def partial(x, chains, draws, p):
    """One pass's statistics of one chunk of draws.

    Parameters
    ----------
    x : ndarray (..., c, n)
        The draws of some elements, chains ``chains`` and draws ``draws``
        (slices of the full chain and draw axes).
    chains, draws : slice
    p : dict
        The pass's parameters (:meth:`StreamPlan.params`).

    Returns
    -------
    dict of arrays, combined over chunks by :func:`combine`.
    """
    x = np.asarray(x)
    e = int(np.prod(x.shape[:-2], dtype=int))
    x = x.reshape(e, x.shape[-2], x.shape[-1])
    step = max(1, int(SUB_BYTES // max(1, x.shape[1] * x.shape[2] * 8)))
    if e <= step:
        return _partial(_as_float(x), chains, draws, p)
    starts = list(range(0, e, step))
    parts = []
    for s0 in starts:
        sl = slice(s0, min(e, s0 + step))
        ps = {k: (v[sl] if k in PER_ELEMENT and v is not None else v) for k, v in p.items()}
        parts.append(_partial(_as_float(x[sl]), chains, draws, ps))
    return _concat(parts, starts)


def _partial_center(x, chains, draws, p):
    """Pass "center": finite counts, sums, extremes and sign per element, and the first draws (``head``)."""
    lay = p["lay"]
    e = x.shape[0]
    fin = np.isfinite(x)
    xf = np.where(fin, x, 0.0)
    out = {"n_fin": fin.sum(axis=(1, 2)), "sum": xf.sum(axis=(1, 2)),
           "sum_small": (xf * _SMALL).sum(axis=(1, 2)),
           "min": np.where(fin, x, np.inf).min(axis=(1, 2)),
           "max": np.where(fin, x, -np.inf).max(axis=(1, 2)),
           "neg": (np.where(fin, x, 0.0) < 0).any(axis=(1, 2)),
           "valid_batches": _full_chains(_batch_sums(fin.astype(float), lay, draws), lay, chains)}
    # the first draws in the flat (chain, draw) order, for the lattice pre-check
    N = lay["N"]
    ch = np.arange(lay["C"])[chains]
    dr = np.arange(N)[draws]
    pos = ch[:, None] * N + dr[None, :]
    take = pos < HEAD
    head = np.full((e, HEAD), np.nan)
    if take.any():
        head[:, pos[take]] = np.where(fin, x, np.nan)[:, take]
    out["head"] = (head, np.isin(np.arange(HEAD), pos[take]))
    if p.get("cval") is not None:  # the value nearest a given centre, and how many draws take it
        flat = x.reshape(e, -1)
        with np.errstate(invalid="ignore"):
            dist = np.where(np.isfinite(flat), np.abs(flat - p["cval"][:, None]), np.inf)
        if flat.shape[1]:
            j = np.argmin(dist, axis=1)
            rows = np.arange(e)
            v = flat[rows, j]
            out["nearest_value"] = (dist[rows, j], v, np.count_nonzero(flat == v[:, None], axis=1))
        else:
            out["nearest_value"] = (np.full(e, np.inf), np.full(e, np.nan), np.zeros(e, np.int64))
    return out


def _partial_median(x, p, gather):
    """Passes "median_hist" (histogram of the draws' cells) and "median_gather" (the draws in the median's cells)."""
    e = x.shape[0]
    xs = x / p["f"][:, None, None] if p["rescale"] else x
    b = _median_cell(xs, p)
    if gather:
        sel = (b >= p["cells"][:, :1, None]) & (b <= p["cells"][:, 1:, None])
        return {"gather": [xs[i][sel[i]] for i in range(e)]}
    G = MEDIAN_CELLS
    flat = (np.arange(e)[:, None, None] * (G + 1) + b).ravel()
    return {"hist": np.bincount(flat, minlength=e * (G + 1)).reshape(e, G + 1)[:, :G]}


def _partial_scale(x, chains, draws, p):
    """Pass "scale": moments, distance extremes, ties at the centre, the smallest distances and lattice values."""
    lay = p["lay"]
    e = x.shape[0]
    xs = x / p["f"][:, None, None] if p["rescale"] else x
    fin = np.isfinite(xs)
    n = fin.sum(axis=(1, 2)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(fin, xs, 0.0).sum(axis=(1, 2)) / n
        dev = np.where(fin, xs - mean[:, None, None], 0.0)
    m2 = np.einsum("ecn,ecn->e", dev, dev)
    out = {"chan": (n, np.where(n > 0, mean, 0.0), m2)}
    if p["cv"] is not None:
        sd_ = xs - p["cv"][:, None, None]
        out["dmin"] = np.where(fin, sd_, np.inf).min(axis=(1, 2))
        out["dmax"] = np.where(fin, sd_, -np.inf).max(axis=(1, 2))
    d = _distances(x, dict(p, sd=None))
    zero = d == 0
    out["ties"] = zero.sum(axis=(1, 2))
    out["tie_batches"] = _full_chains(_batch_sums(zero.astype(float), lay, draws), lay, chains)
    pos = np.where(zero, np.inf, d).reshape(e, -1)
    out["e0"] = pos.min(axis=1) if pos.shape[1] else np.full(e, np.inf)
    out["top"] = np.where(np.isfinite(d), d, -np.inf).max(axis=(1, 2))
    k = p["k_lo"]
    if pos.shape[1] > k:
        pos = np.partition(pos, k - 1, axis=1)[:, :k]
    elif pos.shape[1] < k:
        pos = np.concatenate([pos, np.full((e, k - pos.shape[1]), np.inf)], axis=1)
    out["topk"] = np.sort(pos, axis=1)
    cand = np.flatnonzero(p["lattice_candidates"])
    out["uniques"] = {int(i): np.unique(xs[i][fin[i]]) for i in cand}
    return out


def _partial_cells(dd, logd, mb, ch, dr, chains, p):
    """Pass "cells": counts in the master cells and in each (chain, batch, radius) cell of the grid."""
    lay = p["lay"]
    e = dd.shape[0]
    G = N_MASTER_CELLS
    mc = np.bincount((np.arange(e)[:, None] * (G + 1) + mb).ravel(), minlength=e * (G + 1))
    R = lay["R"]
    bins = _explicit_bins(dd, p["grid"]) if lay["explicit"] else _grid_bins(dd, logd, p["grid"])
    base = _batch_base(lay, R, chains=ch, draws=dr)
    size = lay["C"] * lay["n_b"] * (R + 1)
    counts = np.bincount((np.arange(e)[:, None] * size + base[None, :] + bins).ravel(),
                         minlength=e * size).reshape(e, lay["C"], lay["n_b"], R + 1)
    return {"master": mc.reshape(e, G + 1)[:, :G], "grid_counts": counts[..., :R].astype(np.int32)}


def _partial_windows(dd, logd, mb, ch, dr, chains, draws, all_finite, p):
    """Pass "windows": counts in the windows' radii per (chain, batch), score sums and divergences near the centre."""
    lay = p["lay"]
    e = dd.shape[0]
    g_sub = p["g_sub"]
    n_win = g_sub.shape[1]
    slot = lay["C"] * lay["n_b"] * (n_win + 1)
    flat = _window_flat(mb, g_sub, n_win, slot, dd, all_finite)
    flat += _batch_base(lay, n_win, chains=ch, draws=dr)
    cw = np.bincount(flat.ravel(), minlength=e * slot).reshape(e, lay["C"], lay["n_b"], n_win + 1)
    out = {"window_counts": cw[..., :n_win].astype(np.int32), "div_near": np.zeros(e)}
    if not lay["independent"]:
        out["pos_w"] = _score_sums(flat, dd, logd, e, slot, lay["C"], lay["n_b"], n_win,
                                   inside=mb <= g_sub.max(axis=1)[:, None])
    div = p.get("divergent")
    if div is not None:
        dv = np.asarray(div, bool)[chains, draws].reshape(-1)
        if dv.any():
            near = (mb[:, dv] <= g_sub[:, :1]) | (dd[:, dv] == 0)
            out["div_near"] = near.sum(axis=1).astype(float)
    return out


def _partial(x, chains, draws, p):
    """One pass's statistics of one slice of elements (float draws ``(e, c, n)``): see :func:`partial`.

    The passes that bin distances ("cells", "windows") share the distances
    and their master cells.
    """
    name = p["pass"]
    if name == "center":
        return _partial_center(x, chains, draws, p)
    if name in ("median_hist", "median_gather"):
        return _partial_median(x, p, gather=name == "median_gather")
    if name == "scale":
        return _partial_scale(x, chains, draws, p)
    lay = p["lay"]
    e = x.shape[0]
    d = _distances(x, p)
    dd = d.reshape(e, -1)
    with np.errstate(divide="ignore"):
        logd = np.log(dd)
    any_zero = bool((dd == 0).any())
    all_finite = bool(np.isfinite(dd).all())
    mb, _ = _master_bins(dd, logd, p["e0"], p["top"], any_zero, all_finite)
    ch = np.arange(lay["C"])[chains]
    dr = np.arange(lay["N"])[draws]
    if name == "cells":
        return _partial_cells(dd, logd, mb, ch, dr, chains, p)
    if name == "windows":
        return _partial_windows(dd, logd, mb, ch, dr, chains, draws, all_finite, p)
    raise ValueError(f"unknown pass {name!r}")  # pragma: no cover


def _median_cell(xs, p):
    """Histogram cell of each finite draw between the element's extremes (MEDIAN_CELLS, left-out: MEDIAN_CELLS)."""
    lo, width = p["lo"][:, None, None], p["width"][:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (xs - lo) / width * MEDIAN_CELLS
    t = np.where(np.isfinite(t), t, MEDIAN_CELLS)
    b = np.clip(t, 0, MEDIAN_CELLS - 1).astype(np.int64)
    b[~np.isfinite(xs)] = MEDIAN_CELLS
    return b


def _chan(a, b):
    """Parallel update of (count, mean, sum of squared deviations) (Chan, Golub and LeVeque 1979)."""
    na, ma, sa = a
    nb, mb, sb = b
    n = na + nb
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = mb - ma
        wb = np.where(n > 0, nb / n, 0.0)
        mean = ma + delta * wb
        m2 = sa + sb + delta**2 * na * wb
    return n, np.where(n > 0, mean, 0.0), np.where(n > 0, m2, 0.0)


def combine(a, b):
    """Combine two partial results of the same pass (associative; :data:`RULES`)."""
    out = {}
    for key, va in a.items():
        vb = b[key]
        rule = RULES[key]
        if rule == "sum":
            out[key] = va + vb
        elif rule == "min":
            out[key] = np.minimum(va, vb)
        elif rule == "max":
            out[key] = np.maximum(va, vb) if va.dtype != bool else va | vb
        elif rule == "head":
            out[key] = (np.where(vb[1][None, :], vb[0], va[0]), va[1] | vb[1])
        elif rule == "concat":
            out[key] = [np.concatenate([u, v]) for u, v in zip(va, vb)]
        elif rule == "chan":
            out[key] = _chan(va, vb)
        elif rule == "topk":
            k = va.shape[1]
            out[key] = np.sort(np.concatenate([va, vb], axis=1), axis=1)[:, :k]
        elif rule == "nearest":  # (distance, value, count): the nearer value; counts of one value add up
            (da, xa, ca), (db, xb, cb) = va, vb
            same = xa == xb
            take_b = ~same & ((db < da) | ((db == da) & (xb < xa)))
            out[key] = (np.minimum(da, db), np.where(take_b, xb, xa), np.where(same, ca + cb, np.where(take_b, cb, ca)))
        elif rule == "union":
            out[key] = {i: np.union1d(va[i], vb[i]) for i in va}
        else:  # pragma: no cover
            raise ValueError(rule)
    return out


def combine_all(parts):
    """Combine a sequence of partial results (pairwise, as a tree)."""
    parts = list(parts)
    if not parts:
        raise ValueError("no chunks to combine")
    while len(parts) > 1:
        parts = [combine(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


class StreamPlan:
    """The passes of one call of :func:`~.curves.local_mass_curves` over chunks of draws.

    Same arguments as :func:`~.curves.local_mass_curves`, with the draws'
    ``shape`` (..., chain, draw) and ``dtype`` instead of the draws. Use::

        plan = StreamPlan(x.shape, x.dtype, center="mean")
        while not plan.done:
            p = plan.params()
            plan.finish(combine_all(partial(x[..., c, d], c, d, p) for c, d in chunks))
        curves, index = plan.result()

    (:func:`stream_local_mass_curves` does exactly this for a numpy array.)
    Only per-element summaries are held between passes: the memory of a pass
    is that of one chunk of draws and its partial result.
    """

    def __init__(self, shape, dtype, scale=None, *, center=None, scaled=False, radii=None, n_radii=25,
                 r_max=None, boundary=None, discrete=None, ci_prob=0.94, min_ess=10.0, window=None,
                 nan_policy="raise", divergent=None, independent=False, threads=1):
        if isinstance(center, str) and center == "mode":
            raise ValueError("the centre 'mode' needs every draw of an element at once; it is not streamed")
        self.lay = _layout(shape, dtype, independent=independent, nan_policy=nan_policy, radii=radii,
                           n_radii=n_radii, window=window, min_ess=min_ess, divergent=divergent)
        self.opts = _element_options(self.lay, center=center, scale=scale, r_max=r_max, boundary=boundary,
                                     discrete=discrete, radii=radii)
        self.divergent = None if divergent is None else np.asarray(divergent, bool)
        self.scaled, self.nan_policy, self.independent = bool(scaled), nan_policy, bool(independent)
        self.ci_prob, self.min_ess, self.threads = float(ci_prob), float(min_ess), int(threads)
        self.state = {}
        self.stage = "center"

    @property
    def done(self):
        return self.stage == "done"

    def params(self):
        """Parameters of the next pass (small per-element arrays; picklable)."""
        st = self.state
        p = {"pass": self.stage, "lay": self.lay, "rescale": bool(st.get("rescale", False)),
             "f": st.get("f"), "cv": st.get("cv")}
        if self.stage == "center":
            if self.opts["cval"] is not None and self.opts["keyword"] is None and not self.opts["joint"]:
                p["cval"] = np.broadcast_to(np.asarray(self.opts["cval"], float), (self.lay["E"],))
            return p
        if self.stage in ("median_hist", "median_gather"):
            p.update(lo=st["mlo"], width=st["mwidth"], cells=st.get("mcells"))
            return p
        if self.stage == "scale":
            p.update(k_lo=self.lay["k_lo"], lattice_candidates=st["candidates"])
            return p
        p.update(sd=st["sd_scaled"], e0=st["e0"], top=st["top"])
        if self.stage == "cells":
            p["grid"] = st["grid"]
        else:
            p.update(g_sub=st["g_sub"], divergent=self.divergent)
        return p

    # ---------------------------------------------------------------- finishing each pass
    def finish(self, res):
        """Take the combined result of the current pass and move to the next."""
        getattr(self, "_finish_" + self.stage)(res)

    def _finish_center(self, res):
        lay, opts, st = self.lay, self.opts, self.state
        n_total = lay["n_total"]
        nv = res["n_fin"]
        if self.nan_policy == "raise" and (nv < n_total).any():
            bad = int(np.argmax(nv < n_total))
            raise NonFiniteError(f"{n_total - int(nv[bad])} non-finite draw(s)", bad)
        if (nv < 2 * MIN_DRAWS_PER_CHAIN).any():
            raise NonFiniteError("too few finite draws", int(np.argmax(nv < 2 * MIN_DRAWS_PER_CHAIN)))
        if opts["joint"] and res["neg"].any():
            raise ValueError("distances must be non-negative")
        st["n_valid"] = nv.astype(float)
        st["valid_sizes"] = None if (nv == n_total).all() else res["valid_batches"]
        lo_v, hi_v = res["min"], res["max"]
        # the in-memory path's rescaling (core.rescale): a power of two near the largest magnitude
        f = np.ones(lay["E"])
        if not lay["integer"]:
            big = np.fmax(np.abs(lo_v), np.abs(hi_v))
            big = np.where(np.isfinite(big), big, 0.0)
            if opts["cval"] is not None:
                big = np.maximum(big, np.abs(opts["cval"]))
            mag = pow2_scale(big[:, None])
            need = (mag > SAFE_RANGE[1]) | (mag < SAFE_RANGE[0])
            f = np.where(need, mag, 1.0)
        st["f"], st["rescale"] = f, bool((f != 1).any())
        with np.errstate(invalid="ignore", over="ignore"):
            mean = np.where(np.isfinite(res["sum"]), res["sum"] / nv, res["sum_small"] / nv / _SMALL)
        st["xmin"], st["xmax"] = lo_v / f, hi_v / f
        keyword = opts["keyword"]
        if keyword == "mean":
            st["cv"] = mean / f
        elif opts["cval"] is not None:
            cval = np.broadcast_to(np.asarray(opts["cval"], float), (lay["E"],))
            if "nearest_value" in res:  # a centre within rounding of a tied value is that value (in memory too)
                _, v, count = res["nearest_value"]
                with np.errstate(invalid="ignore"):
                    close = (np.isfinite(v) & (v != cval) & never_varies(np.fmin(cval, v), np.fmax(cval, v))
                             & (count >= 2))
                cval = np.where(close, v, cval)
            st["cv"] = cval / f
        else:
            st["cv"] = None
        # lattice: the in-memory pre-check on the first draws, with the floor of all draws
        cand = np.zeros(lay["E"], bool)
        if opts["disc"] is None and not opts["joint"]:
            span = st["xmax"] - st["xmin"]
            floor = np.zeros(lay["E"]) if lay["integer"] else span / (4 * np.maximum(nv, 1))
            cand = (nv >= 2) & (st["xmax"] > st["xmin"])
            if not lay["integer"] and cand.any():
                idx = np.flatnonzero(cand)
                cand[idx] = _head_may_be_lattice(res["head"][0][idx] / f[idx, None], floor[idx])
            st["floor"] = floor
        st["candidates"] = cand
        if keyword == "median":
            width = st["xmax"] - st["xmin"]
            st["mlo"], st["mwidth"] = st["xmin"], np.where(width > 0, width, 1.0)
            self.stage = "median_hist"
        else:
            self.stage = "scale"

    def _finish_median_hist(self, res):
        st = self.state
        nv = st["n_valid"].astype(np.int64)
        cum = np.cumsum(res["hist"], axis=1)
        ranks = np.stack([(nv - 1) // 2, nv // 2], axis=1)
        cells = np.stack([(cum <= ranks[:, :1]).sum(axis=1), (cum <= ranks[:, 1:]).sum(axis=1)], axis=1)
        cells = np.minimum(cells, MEDIAN_CELLS - 1)
        below = np.where(cells[:, 0] > 0, np.take_along_axis(cum, np.maximum(cells[:, :1] - 1, 0), axis=1)[:, 0], 0)
        st["mcells"], st["mbelow"], st["mranks"] = cells, below, ranks
        self.stage = "median_gather"

    def _finish_median_gather(self, res):
        st = self.state
        cv = np.empty(self.lay["E"])
        for i, vals in enumerate(res["gather"]):
            v = np.sort(vals)
            a, b = v[st["mranks"][i] - st["mbelow"][i]]
            cv[i] = a if st["mranks"][i, 0] == st["mranks"][i, 1] else (a + b) / 2.0
        st["cv"] = cv
        self.stage = "scale"

    def _finish_scale(self, res):
        lay, opts, st = self.lay, self.opts, self.state
        E = lay["E"]
        n, _, m2 = res["chan"]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd_data = np.sqrt(m2 / (n - 1))
        scale_all = None if opts["scale"] is None else opts["scale"] / st["f"]
        sd = sd_data if scale_all is None else scale_all
        if scale_all is None and st["cv"] is not None:
            # draws that differ by rounding only never vary, as in memory (curves._center_distances)
            sd = np.where(rounding_sd(sd, st["cv"]) & never_varies(st["xmin"], st["xmax"], lay["dtype"]), 0.0, sd)
        if st["cv"] is not None and not (sd > 0).all():
            raise ConstantError("zero variance (constant draws)", int(np.argmax(~(sd > 0))))
        bnd = np.zeros(E, bool)
        disc = np.zeros(E, bool)
        if opts["bnd"] is not None:
            bnd = opts["bnd"].copy()
        elif st["cv"] is not None:
            bnd = (res["dmin"] >= 0) | (res["dmax"] <= 0)
        if opts["disc"] is not None:
            disc = opts["disc"].copy()
        fine = np.zeros(E, bool)
        spacing = np.full(E, np.nan)
        if opts["disc"] is None and st["cv"] is not None:
            for i, u in res["uniques"].items():
                spacing[i] = _row_lattice(u, st["floor"][i], lay["dtype"])[0]
            # (a lattice with many positions per sd is rounding, as in memory: curves._center_distances)
            fine = fine_grid(spacing, sd_data, lay["integer"])
            disc = np.isfinite(spacing) & ~fine
        scaled = self.scaled and st["cv"] is not None
        st["sd_scaled"] = sd if scaled else None
        st["unit"] = np.ones(E) if self.scaled else sd
        div = sd if scaled else 1.0
        e0 = res["e0"] / div
        top = res["top"] / div
        topk = res["topk"] / (sd[:, None] if scaled else 1.0)
        st["nearest"] = np.where(np.isfinite(e0), e0, np.nan)
        st["e0"], st["top"] = _master_range(e0, top)
        st["ties"], st["bnd"], st["disc"] = res["ties"], bnd, disc
        st["ulp"] = (np.zeros(E) if st["cv"] is None else
                     resolution(st["cv"], lay["dtype"]) / (sd if scaled else 1.0))
        st["ulp"] = np.where(fine, np.fmax(st["ulp"], spacing / (sd if scaled else 1.0)), st["ulp"])
        st["tie_batches"] = res["tie_batches"]
        if lay["explicit"]:
            st["grid"] = opts["radii"] / st["f"][:, None]
        else:
            n_pos = np.isfinite(topk).sum(axis=1)
            k = np.minimum(lay["k_lo"], n_pos)
            r_lo = np.where(n_pos > 0, np.take_along_axis(topk, np.maximum(k - 1, 0)[:, None], axis=1)[:, 0],
                            st["top"])
            top_r = st["unit"] if opts["rmax"] is None else opts["rmax"] / st["f"]
            st["grid"] = _auto_grid(r_lo, top_r, lay["R"])
        self.stage = "cells"

    def _finish_cells(self, res):
        st = self.state
        st["master"] = res["master"].astype(float)
        G = N_MASTER_CELLS
        st["medges"] = st["e0"][:, None] * np.exp((np.log(st["top"] / st["e0"]) / (G - 0.5))[:, None]
                                                  * np.arange(1, G + 1)[None, :])
        st["inside"] = np.ascontiguousarray(np.moveaxis(np.cumsum(res["grid_counts"], axis=-1), -1, 1), dtype=float)
        st["g_sub"] = window_edges(st["master"], st["medges"], self.lay["k_list"])
        st["r_w"] = np.take_along_axis(st["medges"], st["g_sub"], axis=1)
        self.stage = "windows"

    def _finish_windows(self, res):
        st = self.state
        st["inside_w"] = np.ascontiguousarray(np.moveaxis(np.cumsum(res["window_counts"], axis=-1), -1, 1), dtype=float)
        st["div_near"] = res["div_near"]
        st["pos_w"] = res.get("pos_w")
        self.stage = "done"

    # ---------------------------------------------------------------- results
    def summary(self):
        """The sufficient statistics, as :func:`~.curves._summary_statistics` returns them."""
        st = self.state
        cv = st["cv"] if st["cv"] is not None else np.full(self.lay["E"], np.nan)
        return {"grid": st["grid"], "inside": st["inside"], "inside_w": st["inside_w"], "master": st["master"],
                "medges": st["medges"], "ties": st["ties"], "n_valid": st["n_valid"],
                "valid_sizes": st["valid_sizes"], "cv": cv, "unit": st["unit"], "bnd": st["bnd"],
                "disc": st["disc"], "nearest": st["nearest"], "div_near": st["div_near"], "ulp": st["ulp"],
                "atom_sums": {int(i): st["tie_batches"][i] for i in np.flatnonzero(st["ties"] >= 2)},
                "pos_w": st["pos_w"], "r_w": st["r_w"]}

    def result(self):
        """Curves (..., R, len(CURVE_STATS)) and index (..., len(INDEX_STATS)), as in memory."""
        if not self.done:
            raise RuntimeError(f"the plan still has passes to run (next: {self.stage!r})")
        lay = self.lay
        summ = self.summary()
        curves, ext = _curve_statistics(summ, lay, ci_prob=self.ci_prob, min_ess=self.min_ess,
                                        independent=self.independent)
        index = _finish_index({**summ, **ext}, lay, ci_prob=self.ci_prob, min_ess=self.min_ess,
                              threads=self.threads)
        f = self.state["f"]
        if self.state["rescale"]:
            with np.errstate(over="ignore"):
                for lab in LENGTH_CURVE_STATS:
                    curves[..., CURVE_STATS.index(lab)] *= f[:, None]
            if not lay["explicit"] and not np.all(np.isfinite(curves[..., CURVE_STATS.index("radius")])):
                raise ValueError("the automatic radius grid (up to 4 times the draws' distances to the centre) "
                                 "exceeds the float64 range; pass radii= explicitly")
            if lay["explicit"]:
                curves[..., CURVE_STATS.index("radius")] = self.opts["radii"]
            for lab in LENGTH_INDEX_STATS:
                index[:, INDEX_STATS.index(lab)] *= f
        lead, R = lay["lead"], lay["R"]
        return curves.reshape(lead + (R, len(CURVE_STATS))), index.reshape(lead + (len(INDEX_STATS),))


def draw_chunks(n_chains, n_draws, draw_chunk):
    """(chains, draws) slices covering all chains and draws, ``draw_chunk`` draws at a time."""
    return [(slice(0, n_chains), slice(d0, min(n_draws, d0 + draw_chunk)))
            for d0 in range(0, n_draws, max(1, int(draw_chunk)))]


def stream_local_mass_curves(x, scale=None, *, draw_chunk=1000, **kwargs):
    """:func:`~.curves.local_mass_curves` computed chunk by chunk of draws (in memory).

    The reference implementation of the streamed passes for a numpy array;
    the dask driver (``pymc_localmass._streaming``) runs the same passes over
    the blocks of a dask array.

    Examples
    --------
    >>> from pymc_localmass.core.curves import local_mass_curves
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((3, 4, 500))
    >>> c1, i1 = local_mass_curves(x, center=0.0)
    >>> c2, i2 = stream_local_mass_curves(x, center=0.0, draw_chunk=128)
    >>> bool(np.array_equal(c1[..., 1], c2[..., 1]))   # the masses, to the bit
    True
    """
    x = np.asarray(x)
    plan = StreamPlan(x.shape, x.dtype, scale, **kwargs)
    chunks = draw_chunks(x.shape[-2], x.shape[-1], draw_chunk)
    while not plan.done:
        p = plan.params()
        plan.finish(combine_all(partial(x[..., c, d], c, d, p) for c, d in chunks))
    return plan.result()
