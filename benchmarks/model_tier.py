"""Model tier vs samples tier: draws and wall time for the same interval at m(r) ~ 1e-3.

For each case, one NUTS run gives the draws both tiers use. At the radius
where m(r) is about 1e-3:

* the model tier's relative interval half-width ``w_m`` from its n thinned
  draws;
* the samples tier, from all N draws: at m ~ 1e-3 only a handful of draws fall
  inside, so its width is extrapolated with the binomial law
  ``w = z sqrt((1 - m) / (m N eff))``, where ``eff`` = effective draws inside /
  draws inside is measured by the samples tier itself at a radius it resolves
  (m ~ 0.05): ``N_needed = z^2 (1 - m) / (m eff w_m^2)``. The direct
  extrapolation of its own (t-adjusted, few-draw) interval is printed too.

Printed ratios: draws (N_needed / n) and wall time. The accounting does not
favour the model tier: its n draws are thinned from the whole run, so it is
charged the whole NUTS run (tuning included) plus its quadrature (compilation
of the model's density included); the samples tier is charged one tuning
phase, the NUTS time of N_needed draws (per iteration, as measured), and its
own computation scaled to N_needed draws.

Cases: logistic regression of the reference experiment (Breast Cancer, seed 0;
coefficient beta[1] at its posterior mean: 1-D conditionals) and a sparse
regression with a horseshoe prior (a null coefficient at 0: 2-D pairs with
its local scale).

    python benchmarks/model_tier.py
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TARGET = 1e-3


TUNE = 1000  # tuning iterations per chain


def _sample(model, draws, seed):
    import pymc as pm

    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.time()
        idata = pm.sample(draws=draws, tune=TUNE, chains=4, cores=1, random_seed=seed, progressbar=False,
                          compute_convergence_checks=False, target_accept=0.95)
    return idata, time.time() - t0


def _rel_halfwidth(ds, var, sel):
    da = ds[var].isel(center=0)
    if sel:
        da = da.isel(sel)
    m = da.sel(local_stat="mass").values
    return m, (da.sel(local_stat="mass_upper").values - da.sel(local_stat="mass_lower").values) / (2 * m)


def case(name, model, var, element, center, n_model_draws, nuts_draws, seed, coords_key):
    import pymc_localmass as plm
    from pymc_localmass.tiers.model import model_local_mass

    idata, t_nuts = _sample(model, nuts_draws, seed)
    n_total = 4 * nuts_draws
    sel = {coords_key: element} if coords_key else {}
    coords = {coords_key: [element]} if coords_key else None
    # radius with m(r) ~ 1e-3, from a quick model-tier grid (not timed)
    grid = np.geomspace(1e-4, 1.0, 25)
    post = idata.posterior if hasattr(idata, "posterior") else idata["posterior"]
    sd = float(post[var].isel(sel).std())
    probe, _ = model_local_mass(idata, model, var_names=[var], coords=coords, centers={var: center},
                                radii=grid * sd, n_draws=16)
    pm_ = probe[var].isel(center=0).sel(local_stat="mass").values.reshape(-1)
    r = float(np.exp(np.interp(np.log(TARGET), np.log(pm_), np.log(grid * sd))))
    radii = np.array([r])
    # model tier, timed from scratch (compiles the density)
    t0 = time.time()
    cm, _ = model_local_mass(idata, model, var_names=[var], coords=coords, centers={var: center}, radii=radii,
                             n_draws=n_model_draws)
    t_model = time.time() - t0
    n_used = n_model_draws
    mm, wm = _rel_halfwidth(cm, var, {})
    # samples tier on all draws, at r and at a radius it resolves (m ~ 0.05)
    r_big = float(np.exp(np.interp(np.log(0.05), np.log(pm_), np.log(grid * sd))))
    t0 = time.time()
    cs = plm.local_mass(idata, var_names=[var], coords=coords, centers={var: center}, radii=[r, r_big])
    t_samples = time.time() - t0
    ms, ws = _rel_halfwidth(cs, var, {})
    da = cs[var].isel(center=0).sel(local_stat=["mass", "ess"]).values.reshape(2, 2)
    eff = float(da[1, 1] / (da[1, 0] * n_total))  # effective draws inside / draws inside, resolved radius
    mm, wm = float(np.ravel(mm)[0]), float(np.ravel(wm)[0])
    ms, ws = float(np.ravel(ms)[0]), float(np.ravel(ws)[0])
    from scipy import stats

    z = stats.norm.ppf(0.5 + cs.attrs["ci_prob"] / 2)
    n_needed = z**2 * (1 - mm) / (mm * eff * wm**2)
    n_direct = n_total * (ws / wm) ** 2
    per_draw = t_nuts / (n_total + 4 * TUNE)  # per NUTS iteration, tuning and draws alike
    t_tune = per_draw * 4 * TUNE
    wall_samples = t_tune + per_draw * n_needed + t_samples * n_needed / n_total
    wall_model = t_nuts + t_model  # the whole run its thinned draws came from
    print(f"\n== {name}: {var}[{element}] at {center}, r = {r:.3g} (m ~ 1e-3)")
    print(f"   NUTS: {4 * TUNE} tuning + {n_total} draws in {t_nuts:.1f} s ({per_draw * 1e3:.2f} ms/iteration)")
    print(f"   samples tier: m = {ms:.3g}, relative half-width {ws:.3f} from {n_total} draws "
          f"({t_samples:.2f} s)")
    print(f"   model tier:   m = {mm:.3g}, relative half-width {wm:.2e} from {n_used} draws thinned from "
          f"{n_total} ({t_model:.2f} s, {cm.attrs.get('pairs', 'none')})")
    print(f"   samples tier at m ~ 0.05: ESS efficiency of the ball indicator {eff:.2f}")
    print(f"   samples-tier draws for the model tier's width: {n_needed:.3g} (binomial law with that "
          f"efficiency; {n_direct:.3g} by extrapolating its few-draw interval)")
    print(f"   ratio of draws used (samples / model):    {n_needed / n_used:.3g}")
    print(f"   ratio of draws sampled (samples / model): {n_needed / n_total:.3g}")
    print(f"   ratio of wall time (samples / model): {wall_samples / wall_model:.3g} "
          f"({wall_samples:.3g} s vs {wall_model:.3g} s)")
    return n_needed / n_used, wall_samples / wall_model


def main():
    import pymc as pm
    import reproduce_reference as rr

    X, y = rr.design("Breast Cancer", 0)
    case("logistic regression (reference, Breast Cancer seed 0)", rr.logistic_model(X, y), "beta", 1,
         "mean", n_model_draws=100, nuts_draws=1000, seed=1, coords_key="beta_dim_0")

    rng = np.random.default_rng(1)
    n, p = 60, 8
    Xh = rng.normal(size=(n, p))
    yh = Xh[:, :2] @ np.array([2.0, -1.5]) + rng.normal(size=n)
    with pm.Model() as hs:
        tau = pm.HalfCauchy("tau", 1.0)
        lam = pm.HalfCauchy("lam", 1.0, shape=p)
        beta = pm.Normal("beta", 0.0, tau * lam, shape=p)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("y", pm.math.dot(Xh, beta), sigma, observed=yh)
    case("sparse regression, horseshoe prior", hs, "beta", 5, 0.0, n_model_draws=48, nuts_draws=1000, seed=2,
         coords_key="beta_dim_0")


if __name__ == "__main__":
    main()
