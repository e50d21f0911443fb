"""Scale benchmark: posteriors larger than a worker's memory, streamed on a dask.distributed cluster.

For each size, writes a posterior (chains x draws x elements, AR(1) chains so the
ESS is not trivial) to a zarr store in a temporary directory (removed at the end),
opens it lazily with ``xarray.open_zarr`` (chunked along ``draw`` and the elements),
and on a ``LocalCluster`` of 2 worker processes (1 thread each, a memory limit per
worker well below the posterior's size) times:

- ours: the default ``pymc_localmass.local_mass`` (curves and index, one centre),
  streamed pass by pass over the zarr chunks (``pymc_localmass._streaming``);
- the peer: ArviZ's bulk ESS (``arviz_stats``' array function, the one ``arviz.ess``
  calls) on the same dask data, mapped with ``xarray.apply_ufunc(dask="parallelized")``
  (it needs each element's draws in one chunk, so it is rechunked along ``draw``, as
  ArviZ's own dask support does, with few enough elements per chunk that a block is
  about 16 MB).

and the peak resident memory of each worker during each call (sampled every
0.2 s with psutil through ``Client.run``). Prints one row per size.

Run: ``python benchmarks/scale.py`` (sizes up to 4 x 100,000 x 1,000 float64 = 3 GB;
several minutes) or ``python benchmarks/scale.py --quick`` (small sizes, about a minute).
"""

import argparse
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

warnings.filterwarnings("ignore")

FULL = [(4, 10_000, 1_000), (4, 50_000, 1_000), (4, 100_000, 1_000)]
QUICK = [(4, 5_000, 100), (4, 20_000, 200), (4, 40_000, 200)]


def write_posterior(path, chains, draws, elements, draw_chunk, element_chunk, seed=0):
    """An AR(1) posterior (lag-1 correlation 0.5), written chunk by chunk to a zarr store."""
    import dask.array as da

    rs = da.random.default_rng(seed)
    shape, chunks = (chains, draws, elements), (chains, draw_chunk, element_chunk)
    # AR(1) within each chunk of draws (chunks start fresh: a short burn-in, irrelevant here)
    eps = rs.standard_normal(shape, chunks=chunks)

    def ar1(block):
        out = np.empty_like(block)
        out[:, 0] = block[:, 0]
        for t in range(1, block.shape[1]):
            out[:, t] = 0.5 * out[:, t - 1] + np.sqrt(0.75) * block[:, t]
        return out

    x = eps.map_blocks(ar1, dtype=float)
    xr.Dataset({"x": (("chain", "draw", "k"), x)}).to_zarr(path, mode="w")


class PeakRSS:
    """Peak resident memory of each worker while the block runs (sampled through Client.run)."""

    def __init__(self, client, every=0.2):
        self.client, self.every, self.peak = client, every, {}
        self._stop = threading.Event()

    @staticmethod
    def _rss():
        import psutil

        return psutil.Process().memory_info().rss

    def _poll(self):
        while not self._stop.is_set():
            try:
                for worker, rss in self.client.run(self._rss).items():
                    self.peak[worker] = max(self.peak.get(worker, 0), rss)
            except Exception:  # a worker restarting; keep sampling
                pass
            self._stop.wait(self.every)

    def __enter__(self):
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def arviz_ess(ds):
    """ArviZ's bulk ESS (arviz_stats' array function) over dask data, one task per element chunk."""
    try:
        from arviz_stats.base import array_stats

        def ess(x):
            return array_stats.ess(x, chain_axis=-2, draw_axis=-1)
    except ImportError:  # ArviZ 0.2x
        from arviz.stats.diagnostics import _ess_bulk

        def ess(x):
            flat = x.reshape(-1, *x.shape[-2:])
            return np.array([_ess_bulk(row) for row in flat]).reshape(x.shape[:-2])

    # all of an element's draws in one chunk (what ArviZ's ESS needs), elements few enough per chunk
    # that a block stays about 16 MB (larger blocks kill 400 MB workers in ArviZ's own temporaries)
    n = ds.sizes["chain"] * ds.sizes["draw"] * 8
    k = max(1, int(16 * 2**20 // n))
    return xr.apply_ufunc(ess, ds.chunk({"chain": -1, "draw": -1, "k": k}), input_core_dims=[["chain", "draw"]],
                          dask="parallelized", output_dtypes=[float]).compute()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--memory-limit", default=None,
                        help="per worker (default: 1 GB, or 400 MB with --quick)")
    parser.add_argument("--draw-chunk", type=int, default=None, help="zarr chunk along draw")
    parser.add_argument("--element-chunk", type=int, default=100, help="zarr chunk along the elements")
    parser.add_argument("--workdir", default=None, help="where the temporary zarr stores go")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    import pymc_localmass as plm

    sizes = QUICK if args.quick else FULL
    limit = args.memory_limit or ("400MB" if args.quick else "1GB")
    tmp = Path(tempfile.mkdtemp(prefix="plm-scale-", dir=args.workdir))
    rows = []
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=limit,
                          dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:
            print(f"cluster: 2 workers x 1 thread, memory limit {limit} per worker")
            for chains, draws, elements in sizes:
                draw_chunk = args.draw_chunk or min(draws, 10_000)
                store = tmp / f"post_{chains}x{draws}x{elements}.zarr"
                t0 = time.perf_counter()
                write_posterior(store, chains, draws, elements, draw_chunk, min(args.element_chunk, elements))
                t_write = time.perf_counter() - t0
                ds = xr.open_zarr(store)
                size = ds["x"].nbytes
                client.run(__import__("gc").collect)
                with PeakRSS(client) as m_ours:
                    t0 = time.perf_counter()
                    out = plm.local_mass(ds, progressbar=False)
                    t_ours = time.perf_counter() - t0
                assert out["x"].sizes["k"] == elements
                client.run(__import__("gc").collect)
                with PeakRSS(client) as m_ess:
                    t0 = time.perf_counter()
                    ess = arviz_ess(ds)
                    t_ess = time.perf_counter() - t0
                assert ess["x"].sizes["k"] == elements
                rows.append((chains, draws, elements, size, t_ours, max(m_ours.peak.values()), t_ess,
                             max(m_ess.peak.values()), t_write))
                print(f"  {chains} x {draws} x {elements}: {size / 2**20:.0f} MiB, written in {t_write:.0f} s; "
                      f"ours {t_ours:.1f} s, arviz ess {t_ess:.1f} s", flush=True)
                shutil.rmtree(store, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("| posterior (chain x draw x element, float64) | size | ours: time | ours: peak RSS per worker "
          "| arviz ess: time | arviz ess: peak RSS per worker | time ratio ours / ess |")
    print("|---|---|---|---|---|---|---|")
    for c, d, e, size, t_o, m_o, t_e, m_e, _ in rows:
        print(f"| {c} x {d:,} x {e:,} | {size / 2**20:,.0f} MiB | {t_o:.1f} s | {m_o / 2**20:.0f} MiB "
              f"| {t_e:.1f} s | {m_e / 2**20:.0f} MiB | {t_o / t_e:.2f} |")


if __name__ == "__main__":
    main()
