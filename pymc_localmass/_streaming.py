"""Dask driver of the streamed passes (:mod:`pymc_localmass.core.streaming`).

A variable held as a dask array chunked along ``draw`` (or ``chain``) is
never gathered into one chunk: each pass maps
:func:`~pymc_localmass.core.streaming.partial` over the array's blocks,
combines the partial results in a tree (``SPLIT_EVERY`` at a time) per block
of elements, and the small per-element summaries come back to the caller
between passes. A worker holds about one input block and a few partial
results at a time; the draws are read once per pass.

The graph holds only module-level functions and numpy arrays, so it pickles
for ``dask.distributed``. Progress: with a ``distributed.Client`` active, a
tqdm bar in the caller over the computed parts as they finish
(``distributed.as_completed``); otherwise ``dask.diagnostics.ProgressBar``
(a tqdm bar in the graph itself would not pickle).
"""

from __future__ import annotations

import itertools

import numpy as np

from ._progress import progress_bar
from .core.curves import NonFiniteError, ConstantError
from .core.streaming import StreamPlan, combine, partial

#: partial results combined per task of the reduction tree
SPLIT_EVERY = 4


def _combine_many(*parts):
    out = parts[0]
    for part in parts[1:]:
        out = combine(out, part)
    return out


def _tree(delayed, parts):
    """Reduce delayed partial results in a tree, ``SPLIT_EVERY`` per task."""
    while len(parts) > 1:
        parts = [delayed(_combine_many, pure=True)(*parts[i:i + SPLIT_EVERY]) if len(parts[i:i + SPLIT_EVERY]) > 1
                 else parts[i] for i in range(0, len(parts), SPLIT_EVERY)]
    return parts[0]


def active_client():
    """The active ``distributed.Client``, or None (no distributed installed or no client)."""
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


def compute(objs, progressbar=False):
    """``dask.compute`` on the active distributed client or the local scheduler, with dask's progress bar."""
    import dask

    client = active_client()
    if client is not None:
        futures = client.compute(list(objs))
        if progressbar:
            _follow(futures)
        return client.gather(futures)
    if progressbar:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return list(dask.compute(*objs))
    return list(dask.compute(*objs))


def _follow(futures):
    """A bar over the client's futures as they finish (tqdm, the ``progress`` extra; silent without it).

    (``distributed.progress`` opens its own connection to the scheduler and
    was seen to hang with Python 3.11's distributed under pytest-xdist;
    ``as_completed`` only reads the client's own futures.)
    """
    from distributed import as_completed

    bar = progress_bar(len(futures), "local mass (distributed)", "part")
    if bar is None:
        return
    try:
        for _ in as_completed(futures):
            bar.update(1)
    finally:
        bar.close()


def _bounds(chunks):
    ends = np.cumsum((0,) + tuple(chunks))
    return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]


def stream_dask(arr, *, center=None, scale=None, r_max=None, progressbar=False, **kwargs):
    """Curves and index of a dask array (..., chain, draw), pass by pass over its blocks.

    Parameters
    ----------
    arr : dask.array.Array
        Elements first, then chain and draw (any chunks).
    center : {"mean", "median"}, ndarray (...) or None
        Keyword, per-element values (numpy, the shape of the element axes)
        or None (``arr`` holds distances; ``scale`` then gives their unit).
    scale, r_max : ndarray (...), optional
    progressbar : bool
        dask's progress bar on each pass.
    **kwargs
        The other keywords of :class:`~pymc_localmass.core.streaming.StreamPlan`.

    Returns
    -------
    curves, index : ndarray, as :func:`~pymc_localmass.core.curves.local_mass_curves`.
    """
    import dask

    lead = arr.shape[:-2]
    blocks = arr.to_delayed()
    lead_bounds = [_bounds(c) for c in arr.chunks[:-2]]
    chain_bounds, draw_bounds = _bounds(arr.chunks[-2]), _bounds(arr.chunks[-1])

    def per_block(value, sl):
        if value is None or isinstance(value, str):
            return value
        v = np.broadcast_to(np.asarray(value, float), lead)
        return v[sl]

    plans = []
    for eb in itertools.product(*[range(len(b)) for b in lead_bounds]):
        sl = tuple(lead_bounds[k][i] for k, i in enumerate(eb))
        shape = tuple(s.stop - s.start for s in sl) + arr.shape[-2:]
        plan = StreamPlan(shape, arr.dtype, per_block(scale, sl), center=per_block(center, sl),
                          r_max=per_block(r_max, sl), **kwargs)
        plans.append((eb, sl, plan))
    while not all(plan.done for _, _, plan in plans):
        roots = []
        for eb, _, plan in plans:
            p = dask.delayed(plan.params(), pure=True, traverse=False)
            parts = [dask.delayed(partial, pure=True)(blocks[eb + (ci, di)], cs, ds, p)
                     for ci, cs in enumerate(chain_bounds) for di, ds in enumerate(draw_bounds)]
            roots.append(_tree(dask.delayed, parts))
        for (_, sl, plan), res in zip(plans, compute(roots, progressbar)):
            try:
                plan.finish(res)
            except (NonFiniteError, ConstantError) as err:
                raise type(err)(str(err), _flat_element(err.element, sl, lead)) from None
    results = [plan.result() for _, _, plan in plans]
    curves = np.empty(lead + results[0][0].shape[-2:])
    index = np.empty(lead + results[0][1].shape[-1:])
    for (_, sl, _), (cur, idx) in zip(plans, results):
        curves[sl] = cur
        index[sl] = idx
    return curves, index


def _flat_element(local, sl, lead):
    """Flat index within the whole variable of element ``local`` of the block ``sl``."""
    if not lead:
        return 0
    idx = np.unravel_index(local, tuple(s.stop - s.start for s in sl))
    return int(np.ravel_multi_index(tuple(s.start + i for s, i in zip(sl, idx)), lead))
