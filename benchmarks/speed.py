"""Speed and memory benchmark against ArviZ's ESS on the same data, in the same run.

Posteriors (float64): 4 chains x 1,000 draws x 100 elements, 4 x 5,000 x 1,000 and
4 x 10,000 x 2,000 (640 MB) by default (``--sizes``), or one size given with
``--chains/--draws/--elements``.
Peer: ``arviz.ess`` (bulk ESS) over the same Dataset. Ours: the default
``pymc_localmass.add_local_mass`` (all elements, one centre, the default
25-radius grid, intervals and the Mass Index: one pass computes both groups)
on a container holding the same Dataset as its posterior.

Like with like: ``arviz.ess`` runs on one thread, while ours processes chunks
of elements in a thread pool over all CPUs (``os.cpu_count()``, see
``core/curves.py``). So ours is timed twice, on all CPUs (the default) and on
one thread (the same call with ``threads=1`` passed to the core), and both
ratios are printed with the thread count. The target (<= 0.25) applies to the
default call, as users run it; the one-thread ratio says how much of it is the
algorithm rather than the cores.

A second peer, for the "within 2x one sort" target: one sort of the distances
(``np.sort(|x - mean|)`` along the draws of every element, the cost of any method
that sorts them).

Prints the wall times (best of ``--repeat`` interleaved runs), the ratios, and the
peak memory allocated during our call as measured by tracemalloc (numpy reports its
buffers to it), relative to the posterior's size (target <= 2); a summary table
of the ratios at the end.

With the three sizes, a fourth row: a model-like posterior of 30 scalar
variables and one 8-vector (no target of its own; the samples tier computes
such small variables together, in one call of the core).

Run: ``python benchmarks/speed.py`` (the three sizes and the model-like row), or
``python benchmarks/speed.py --draws 10000 --elements 2000 --repeat 3`` (one size).
"""

import argparse
import contextlib
import functools
import os
import time
import tracemalloc
import warnings

import numpy as np
import xarray as xr

warnings.filterwarnings("ignore")


@contextlib.contextmanager
def one_thread():
    """Run ``local_mass_curves`` with ``threads=1`` inside the public call (benchmark only)."""
    from pymc_localmass.core import rescale  # the xarray layer calls the core through it

    original = rescale.local_mass_curves
    rescale.local_mass_curves = functools.partial(original, threads=1)
    try:
        yield
    finally:
        rescale.local_mass_curves = original


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--elements", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.draws is None and args.elements is None:
        sizes = SIZES
    else:
        sizes = [(args.chains, args.draws or 10_000, args.elements or 2_000)]
    rows = [run(c, d, e, args.repeat) for c, d, e in sizes]
    many = run_many(args.chains, args.draws or 1_000, args.repeat) if args.draws is None and \
        args.elements is None else None
    print()
    print("| posterior | ours / arviz.ess (all CPUs) | ours / arviz.ess (1 thread) | ours / one sort "
          "| peak memory / posterior |")
    print("|---|---|---|---|---|")
    for (c, d, e), (r_all, r_one, r_sort, mem) in zip(sizes, rows):
        print(f"| {c} x {d:,} x {e:,} | {r_all:.2f} | {r_one:.2f} | {r_sort:.2f} | {mem:.2f} |")
    if many is not None:
        r_all, r_one, r_sort, mem = many
        print(f"| {args.chains} x 1,000: {MANY_SCALARS} scalars and an 8-vector | {r_all:.2f} | {r_one:.2f} | "
              f"{r_sort:.2f} | {mem:.2f} |")


SIZES = [(4, 1_000, 100), (4, 5_000, 1_000), (4, 10_000, 2_000)]


#: the posterior of a typical PyMC model (no target of its own; the issue's sizes are one variable each):
#: this many scalar variables and one 8-vector (eight schools' theta), computed together in one call
MANY_SCALARS = 30


def run_many(chains, draws, repeat):
    """The ratios on a model-like posterior of many small variables."""
    rng = np.random.default_rng(1)
    data = {f"s{i}": (("chain", "draw"), rng.standard_normal((chains, draws))) for i in range(MANY_SCALARS)}
    data["theta"] = (("chain", "draw", "school"), rng.standard_normal((chains, draws, 8)))
    print(f"\nmodel-like posterior: {MANY_SCALARS} scalars and an 8-vector, {chains} x {draws}")
    return run(chains, draws, None, repeat, ds=xr.Dataset(data), targets=False)


def run(chains, draws, elements, repeat, ds=None, targets=True):
    args = argparse.Namespace(chains=chains, draws=draws, elements=elements, repeat=repeat)

    import arviz as az

    import pymc_localmass as plm
    from pymc_localmass._compat import MODERN, get_group

    rng = np.random.default_rng(0)
    if ds is None:
        x = rng.standard_normal((args.chains, args.draws, args.elements))
        ds = xr.Dataset({"x": (("chain", "draw", "element"), x)})
    else:  # (the sort peer: all variables' elements side by side)
        x = np.concatenate([v.values.reshape(chains, draws, -1) for v in ds.data_vars.values()], axis=-1)
    size = x.nbytes
    if MODERN:
        container = xr.DataTree.from_dict({"posterior": ds})
    else:
        container = az.InferenceData(posterior=ds)
    print(f"posterior: {args.chains} chains x {args.draws} draws x {x.shape[-1]} elements "
          f"({size / 2**20:.1f} MiB)")

    # interleaved repeats, best of each: the shared machine's load drifts, and
    # the ratios should compare the runs under the same conditions
    n_threads = os.cpu_count() or 1
    t_ess, t_ours, t_one, t_sort = [], [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        # one sort of the distances: each element's chain x draw distances to its mean
        np.sort(np.abs(x - x.mean(axis=(0, 1))).reshape(-1, x.shape[-1]).T, axis=1)
        t_sort.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        az.ess(ds)
        t_ess.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = plm.add_local_mass(container, progressbar=False)
        t_ours.append(time.perf_counter() - t0)
        with one_thread():
            t0 = time.perf_counter()
            one = plm.add_local_mass(container, progressbar=False)
            t_one.append(time.perf_counter() - t0)
    curves, index = get_group(out, "local_mass"), get_group(out, "local_mass_index")
    # the thread count does not change the results
    same = all(np_equal(get_group(one, g)[v].values, get_group(out, g)[v].values)
               for g in ("local_mass", "local_mass_index") for v in ds.data_vars)
    del out, one
    tracemalloc.start()
    plm.add_local_mass(container, progressbar=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    te, to, t1, ts = min(t_ess), min(t_ours), min(t_one), min(t_sort)
    print(f"threads: ours uses {n_threads} (os.cpu_count()); arviz.ess uses 1")
    print(f"arviz.ess (1 thread):          {te:7.2f} s")
    first = next(iter(ds.data_vars))
    print(f"local mass ({n_threads} threads):        {to:7.2f} s  (curves {dict(curves[first].sizes)}, "
          f"index {dict(index[first].sizes)})")
    print(f"local mass (1 thread):         {t1:7.2f} s  (same results: {same})")
    def verdict(ok):
        return ("OK" if ok else "MISSED") if targets else "no target for this posterior"

    print(f"time ratio ours ({n_threads} threads) / arviz.ess = {to / te:.3f} (target <= 0.25): "
          f"{verdict(to / te <= 0.25)}")
    print(f"time ratio ours (1 thread) / arviz.ess = {t1 / te:.3f} (like with like; no target)")
    print(f"one sort of the distances:     {ts:7.2f} s; ours ({n_threads} threads) / one sort = {to / ts:.2f} "
          f"(target <= 2): {verdict(to / ts <= 2)}")
    print(f"peak memory during local mass = {peak / 2**20:.0f} MiB = {peak / size:.2f} x the posterior "
          f"(target <= 2): {verdict(peak / size <= 2)}")
    return to / te, t1 / te, to / ts, peak / size


def np_equal(a, b):
    return bool(np.array_equal(a, b, equal_nan=True))


if __name__ == "__main__":
    main()
