"""``make demo``: eight schools, NUTS centred and non-centred, local mass of tau at 0.

Run as ``python -m pymc_localmass.demo --out demo_out``. The centred model's
draws stop short of ``tau = 0`` (divergences crowd there): its index row says
"sampler" and why. The non-centred fit reaches 0 and is the reference: it is
written to ``<out>/eight_schools.nc`` (posterior + ``local_mass`` groups) and
plotted; mean-field ADVI of the model is compared with it near ``tau = 0``
(with the ELBO-blindness bound), and ``<out>/report.html`` is written.
"""

import argparse
import os
import time

import numpy as np

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
SCHOOLS = ["Choate", "Deerfield", "Phillips Andover", "Phillips Exeter", "Hotchkiss", "Lawrenceville",
           "St. Paul's", "Mt. Hermon"]


def eight_schools_model(centered=True):
    """The eight-schools model: centred (the classic funnel) or non-centred (``theta`` a Deterministic)."""
    import pymc as pm

    with pm.Model(coords={"school": SCHOOLS}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        if centered:
            theta = pm.Normal("theta", mu, tau, dims="school")
        else:
            theta_t = pm.Normal("theta_t", 0.0, 1.0, dims="school")
            theta = pm.Deterministic("theta", mu + tau * theta_t, dims="school")
        pm.Normal("obs", theta, SIGMA, observed=Y, dims="school")
    return model


def _print_rows(df, cols):
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 3):
        print(df[cols])
    for (var, center), row in df.iterrows():
        if row["status"] != "ok":
            print(f"  {var} @ {center} [{row['status']}]: {row['note']}")


def run(out="demo_out", draws=1000, tune=1000, chains=4, seed=20261122):
    import pymc as pm

    import pymc_localmass as plm

    os.makedirs(out, exist_ok=True)
    cols = ["a", "a_lower", "a_upper", "b", "nearest", "r_resolved", "divergent_near", "status"]
    # the centred model: NUTS cannot enter the funnel's neck, and the index row says so
    model = eight_schools_model(centered=True)
    with model:
        centred = pm.sample(draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
                            random_seed=seed, progressbar=False, target_accept=0.9)
    n_div = int(np.asarray(centred["sample_stats"]["diverging"]).sum())
    print(f"centred eight schools, NUTS: {n_div} divergent transitions")
    _print_rows(plm.summary(centred, var_names=["tau"], centers={"tau": 0.0}), cols)
    # the non-centred model reaches tau = 0: the reference for the rest
    t0 = time.perf_counter()
    with eight_schools_model(centered=False):
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
                          random_seed=seed, progressbar=False, target_accept=0.9)
    t_sample = time.perf_counter() - t0
    print(f"\nnon-centred eight schools, NUTS (the reference): "
          f"{int(np.asarray(idata['sample_stats']['diverging']).sum())} divergent transitions")
    t0 = time.perf_counter()
    idata = plm.add_local_mass(idata, var_names=["tau", "theta"], centers={"tau": 0.0, "theta": "mean"})
    t_local = time.perf_counter() - t0
    path = os.path.join(out, "eight_schools.nc")
    tmp = path + ".tmp"
    idata.to_netcdf(tmp)
    os.replace(tmp, path)

    _print_rows(plm.summary(idata), cols)
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
    # the headline panel first: tau at 0, then the school effects at their means
    save_figure(plot_local_mass(idata, var_names=["tau", "theta"], **({"backend": "matplotlib"} if MODERN else {})),
                png, dpi=100)
    print(f"wrote {png}")
    # -- approximations and report (issue: compare/check/report): demo_out/report.html
    approx_report(idata, model, out, seed=seed)
    return idata


def fit_advi(model, n=20000, seed=20261122, method="advi"):
    """Mean-field (or ``method="fullrank_advi"``) ADVI of ``model`` with Adam (converges on eight schools)."""
    import warnings

    import pymc as pm

    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.fit(n, method=method, random_seed=seed, progressbar=False,
                      obj_optimizer=pm.adam(learning_rate=0.01))


def approx_report(idata, model, out, *, n_advi=20000, seed=20261122, radius=None):
    """ADVI mean-field next to NUTS: masses near tau = 0 and ``<out>/report.html``."""
    from .compare import compare_summary
    from .report import report

    t0 = time.perf_counter()
    advi = fit_advi(model, n=n_advi, seed=seed)
    t_fit = time.perf_counter() - t0
    fits = {"NUTS": idata, "ADVI": advi}  # NUTS: the non-centred fit, which reaches tau = 0
    from .check import check

    # the check's findings; the figures below are read at the finding's radius (the report's too)
    chk = check(idata, approximations={"ADVI": advi}, var_names=["tau", "theta", "mu"], reference_name="NUTS",
                warn=False)
    found = next((f for f in chk.findings if f.model == "ADVI" and f.variable == "tau" and f.center_value == 0.0),
                 None)
    cmp = chk.comparison  # the regions and radii the report uses too
    at = radius if radius is not None else (found.radius if found is not None else "smallest_resolved")
    summ = compare_summary(cmp, radius=at)
    ref = summ.loc[("NUTS", "tau @ 0")]
    adv = summ.loc[("ADVI", "tau @ 0")]
    which = "the finding's radius" if found is not None and radius is None else "the smallest NUTS resolves"
    print(f"\nmass near tau = 0 (radius {ref['radius']:.3g}, {which}):")
    print(f"  NUTS  P(tau <= {ref['radius']:.3g}) = {ref['ref_mass']:.2g} [{ref['ref_mass_lower']:.2g}, "
          f"{ref['ref_mass_upper']:.2g}]")
    print(f"  ADVI  P(tau <= {adv['radius']:.3g}) = {adv['mass']:.2g} (exact), ratio {adv['ratio']:.2g} "
          f"[{adv['ratio_lower']:.2g}, {adv['ratio_upper']:.2g}]; reverse-KL (ELBO) lower bound "
          f"phi(q, p) = {adv['phi_reverse']:.2g} nats")
    print("\nfindings (plm.check):" if chk.findings else "\nplm.check: no local-mass findings")
    for f in chk.findings:
        print(f"  - {f.message}\n    What to do: {f.advice}")
    path = report(fits, os.path.join(out, "report.html"), var_names=["tau", "theta", "mu"],
                  title="Eight schools: NUTS (non-centred) vs ADVI (mean-field)")
    print(f"ADVI {t_fit:.1f} s; wrote {path}")
    return cmp


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
