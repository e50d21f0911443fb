"""Speed and memory benchmark against ArviZ's ESS on the same data, in the same run.

Posterior: 4 chains x 10,000 draws x 2,000 scalar elements (float64, 640 MB).
Peer: ``arviz.ess`` (bulk ESS) over the same Dataset. Ours: the default
``pymc_localmass.add_local_mass`` (all elements, one centre, the default
25-radius grid, intervals and the Mass Index: one pass computes both groups)
on a container holding the same Dataset as its posterior.

Prints both wall times (best of ``--repeat`` interleaved runs), their ratio
(target <= 0.25), and the peak memory
allocated during our call as measured by tracemalloc (numpy reports its
buffers to it), relative to the posterior's size (target <= 2).

Run: ``python benchmarks/speed.py [--elements 2000] [--draws 10000]``.
"""

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import xarray as xr

warnings.filterwarnings("ignore")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--elements", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import arviz as az

    import pymc_localmass as plm
    from pymc_localmass._compat import MODERN, get_group

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.chains, args.draws, args.elements))
    ds = xr.Dataset({"x": (("chain", "draw", "element"), x)})
    size = x.nbytes
    if MODERN:
        container = xr.DataTree.from_dict({"posterior": ds})
    else:
        container = az.InferenceData(posterior=ds)
    print(f"posterior: {args.chains} chains x {args.draws} draws x {args.elements} elements "
          f"({size / 2**20:.0f} MiB)")

    # interleaved repeats, best of each: the shared machine's load drifts, and
    # the ratio should compare the two under the same conditions
    t_ess, t_ours = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        az.ess(ds)
        t_ess.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = plm.add_local_mass(container, progressbar=False)
        t_ours.append(time.perf_counter() - t0)
    curves, index = get_group(out, "local_mass"), get_group(out, "local_mass_index")
    del out
    tracemalloc.start()
    plm.add_local_mass(container, progressbar=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    te, to = min(t_ess), min(t_ours)
    print(f"arviz.ess:       {te:7.2f} s")
    print(f"local mass:      {to:7.2f} s  (curves {dict(curves['x'].sizes)}, index {dict(index['x'].sizes)})")
    print(f"time ratio ours / arviz.ess = {to / te:.3f} (target <= 0.25): {'OK' if to / te <= 0.25 else 'MISSED'}")
    print(f"peak memory during local mass = {peak / 2**20:.0f} MiB = {peak / size:.2f} x the posterior "
          f"(target <= 2): {'OK' if peak / size <= 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
