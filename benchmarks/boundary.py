"""Calibration of the Mass Index at a support boundary (centre 0), from independent draws.

For each law: status counts over ``--replicates`` replicates of ``--chains`` x ``--draws``
independent draws, the "ok" rows whose interval excludes the true index (``ok_miss``), the "ok"
rows open above (``open``) and the median width of the "ok" intervals. Laws with ``a = inf``
(log-normal, inverse-gamma at 0) should never be read with a finite interval; laws with a log
factor (a product of uniforms or of half-normals: ``m(r) ~ r log(1/r)``) are a known weak spot.

Run: ``python benchmarks/boundary.py`` (40 replicates of 4 x 1000), or e.g.
``python benchmarks/boundary.py --replicates 10 --draws 40000 --laws gamma3.5,weibull1.5``.
"""

import argparse
import warnings

import numpy as np

import pymc_localmass as plm

LAWS = {
    "halfnormal": (1.0, lambda g, n: np.abs(g.normal(size=n))),
    "expon": (1.0, lambda g, n: g.exponential(size=n)),
    "gamma2": (2.0, lambda g, n: g.gamma(2.0, size=n)),
    "gamma3.5": (3.5, lambda g, n: g.gamma(3.5, size=n)),
    "beta0.5_2": (0.5, lambda g, n: g.beta(0.5, 2, size=n)),
    "uniform": (1.0, lambda g, n: g.random(n)),
    "halfcauchy": (1.0, lambda g, n: np.abs(g.standard_cauchy(n))),
    "weibull1.5": (1.5, lambda g, n: g.weibull(1.5, size=n)),
    "lognormal0.8": (np.inf, lambda g, n: np.exp(0.8 * g.normal(size=n))),
    "lognormal1": (np.inf, lambda g, n: np.exp(g.normal(size=n))),
    "lognormal1.2": (np.inf, lambda g, n: np.exp(1.2 * g.normal(size=n))),
    "invgamma3": (np.inf, lambda g, n: 1 / g.gamma(3.0, size=n)),
    "u1u2": (1.0, lambda g, n: g.random(n) * g.random(n)),
    "hnprod": (1.0, lambda g, n: np.abs(g.normal(size=n)) * np.abs(g.normal(size=n))),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=40)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--laws", default=",".join(LAWS))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{args.replicates} replicates of {args.chains} x {args.draws} independent draws, centre 0")
    print("| law | a | statuses | ok rows missing a | ok rows open above | median width (ok) |")
    print("|---|---|---|---|---|---|")
    for name in args.laws.split(","):
        truth, draw = LAWS[name]
        data = {f"e{i}": draw(np.random.default_rng(1000 * i + 7), (args.chains, args.draws))
                for i in range(args.replicates)}
        table = plm.summary(data, centers={k: 0.0 for k in data}, independent=True)
        ok = table[table.status == "ok"]
        miss = int(((ok.a_lower > truth) | (ok.a_upper < truth)).sum())
        width = np.median(ok.a_upper - ok.a_lower) if len(ok) else np.nan
        statuses = ", ".join(f"{k} {v}" for k, v in table.status.value_counts().items())
        print(f"| {name} | {truth} | {statuses} | {miss}/{len(ok)} | {int(np.isposinf(ok.a_upper).sum())}/{len(ok)} "
              f"| {width:.3g} |", flush=True)


if __name__ == "__main__":
    main()
