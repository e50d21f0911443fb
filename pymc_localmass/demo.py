"""``make demo``: the centered eight-schools model, NUTS, local mass of tau at 0.

Run as ``python -m pymc_localmass.demo --out demo_out``. Writes
``<out>/eight_schools.nc`` (posterior + ``local_mass`` groups) and prints the
Mass Index summary. Later steps (plots, approximation comparison, report)
plug in at the marked places below.
"""

import argparse
import os
import time

import numpy as np

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
SCHOOLS = ["Choate", "Deerfield", "Phillips Andover", "Phillips Exeter", "Hotchkiss", "Lawrenceville",
           "St. Paul's", "Mt. Hermon"]


def eight_schools_model():
    """The centered eight-schools model (the classic funnel)."""
    import pymc as pm

    with pm.Model(coords={"school": SCHOOLS}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        theta = pm.Normal("theta", mu, tau, dims="school")
        pm.Normal("obs", theta, SIGMA, observed=Y, dims="school")
    return model


def run(out="demo_out", draws=1000, tune=1000, chains=4, seed=20261122):
    import pymc as pm

    import pymc_localmass as plm

    os.makedirs(out, exist_ok=True)
    model = eight_schools_model()
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
                          random_seed=seed, progressbar=False, target_accept=0.9)
    t_sample = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata = plm.add_local_mass(idata, var_names=["tau", "theta"], centers={"tau": 0.0, "theta": "mean"})
    t_local = time.perf_counter() - t0
    path = os.path.join(out, "eight_schools.nc")
    tmp = path + ".tmp"
    idata.to_netcdf(tmp)
    os.replace(tmp, path)

    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 3):
        print(plm.summary(idata)[["a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "atom",
                                  "center_value", "scale"]])
    tau = idata["local_mass"]["tau"] if hasattr(idata, "children") else idata.local_mass["tau"]
    tau = tau.sel(center="0")
    res = tau.sel(local_stat="resolved").values > 0.5
    r = tau.sel(local_stat="radius").values
    m = tau.sel(local_stat="mass").values
    lo = tau.sel(local_stat="mass_lower").values
    hi = tau.sel(local_stat="mass_upper").values
    if res.any():
        j = int(np.argmax(res))
        print(f"\nP(tau <= {r[j]:.3g}) = {m[j]:.4f} [{lo[j]:.4f}, {hi[j]:.4f}] at the smallest resolved radius")
    print(f"sampling {t_sample:.1f} s, local mass {t_local:.2f} s; wrote {path}")
    from ._compat import MODERN
    from .plots import plot_local_mass, save_figure

    png = os.path.join(out, "local_mass.png")
    save_figure(plot_local_mass(idata, **({"backend": "matplotlib"} if MODERN else {})), png, dpi=100)
    print(f"wrote {png}")
    # -- approximations and report (issue: compare/check/report) plug in here: demo_out/report.html
    return idata


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    args = parser.parse_args(argv)
    run(args.out, draws=args.draws, tune=args.tune, chains=args.chains)


if __name__ == "__main__":
    main()
