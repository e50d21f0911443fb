"""Reproduce the reference experiment (THEORY.md section 6) with this project's API.

Bayesian logistic regression on scikit-learn's bundled Breast Cancer, Iris
(classes 0 vs 1) and Wine (classes 0 vs 1) data, seeds 0-4: a stratified 70%
training split with the seed, standardised, 4 PCA covariates plus an
intercept (d = 5), prior N(0, 2^2 I). The MAP (trust-region Newton) gives the
Laplace posterior N(theta0, H^-1); theta0 is the centre of every ball.

Ball masses on the 24 radii of ``figure2_metadata.json`` come from the
model tier's Sobol quadrature (``pymc_localmass.tiers.model.model_local_mass``
with ``joint=True``, 2^12 points x 8 scramblings = 2^15 points):

* prior: the PyMC model's own prior density (normalised: exact);
* Laplace posterior: a PyMC model ``beta ~ MvNormal(theta0, H^-1)``, whose
  prior *is* the Laplace posterior (normalised: exact);
* exact posterior (``--exact``): NUTS draws of the logistic model, the
  model's unnormalised posterior density, anchored on the samples tier.

The script prints, per run, the largest difference in log mass from
``figure2_runs_long.csv`` (tolerance 0.02), then the mean slopes over the 15
runs against ``figure2_slope_summary.csv`` (tolerance: its standard error);
with ``--exact`` it also prints Laplace vs exact posterior and saves a figure.

Usage::

    python benchmarks/reproduce_reference.py                 # prior + Laplace, 15 runs (about 1-2 min)
    python benchmarks/reproduce_reference.py --exact         # + NUTS posterior and the figure (longer)
    python benchmarks/reproduce_reference.py --runs "Iris 0 vs 1:0"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.environ.get("PLM_REFERENCE_DIR", os.path.join(HERE, "..", "..", "shared", "reference"))
if not os.path.isdir(REFERENCE):  # pragma: no cover - layout of the checkout
    REFERENCE = "/work/shared/reference"
DATASETS = ("Breast Cancer", "Iris 0 vs 1", "Wine 0 vs 1")
PRIOR_SD = 2.0
QMC_POINTS, QMC_RANDOMIZATIONS = 2**12, 8


def load_reference():
    """(metadata dict, runs DataFrame, slope summary DataFrame) of the reference data."""
    import pandas as pd

    with open(os.path.join(REFERENCE, "figure2_metadata.json")) as fh:
        meta = json.load(fh)
    runs = pd.read_csv(os.path.join(REFERENCE, "figure2_runs_long.csv"))
    slopes = pd.read_csv(os.path.join(REFERENCE, "figure2_slope_summary.csv"))
    return meta, runs, slopes


def design(dataset, seed):
    """Training design matrix (intercept + 4 PCA covariates) and labels."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if dataset == "Breast Cancer":
        bunch = load_breast_cancer()
        X, y = bunch.data, bunch.target
    elif dataset in ("Iris 0 vs 1", "Wine 0 vs 1"):
        bunch = load_iris() if dataset.startswith("Iris") else load_wine()
        keep = bunch.target < 2
        X, y = bunch.data[keep], bunch.target[keep]
    else:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    X_tr, _, y_tr, _ = train_test_split(X, y, train_size=0.7, random_state=seed, stratify=y)
    Z = PCA(n_components=4).fit_transform(StandardScaler().fit_transform(X_tr))
    return np.column_stack([np.ones(len(Z)), Z]), y_tr.astype(float)


def laplace(X, y):
    """MAP, objective (negative log posterior without constants), Hessian, optimiser result."""
    from scipy import optimize, special

    def obj(t):
        z = X @ t
        return np.sum(np.logaddexp(0.0, z) - y * z) + t @ t / (2 * PRIOR_SD**2)

    def grad(t):
        return X.T @ (special.expit(X @ t) - y) + t / PRIOR_SD**2

    def hess(t):
        p = special.expit(X @ t)
        return X.T @ (X * (p * (1 - p))[:, None]) + np.eye(X.shape[1]) / PRIOR_SD**2

    res = optimize.minimize(obj, np.zeros(X.shape[1]), jac=grad, hess=hess, method="trust-exact",
                            options={"gtol": 1e-12})
    return res.x, float(res.fun), hess(res.x), res


def logistic_model(X, y):
    import pymc as pm

    with pm.Model() as model:
        beta = pm.Normal("beta", 0.0, PRIOR_SD, shape=X.shape[1])
        pm.Bernoulli("y", logit_p=pm.math.dot(X, beta), observed=y)
    return model


def gaussian_model(mean, cov):
    import pymc as pm

    with pm.Model() as model:
        pm.MvNormal("beta", mu=mean, cov=cov, shape=mean.size)
    return model


def _empty_prior(d):
    """A container with a placeholder prior group (only the variable's shape is read)."""
    from pymc_localmass._compat import MODERN
    import arviz as az

    draws = np.random.default_rng(0).normal(size=(2, 25, d))
    return az.from_dict({"prior": {"beta": draws}}) if MODERN else az.from_dict(prior={"beta": draws})


def ball_log_mass(model, center, radii, *, group="prior", data=None, seed=0):
    """log m(r) and its standard error (joint Euclidean balls) via the model/qmc tier."""
    from pymc_localmass.tiers.model import model_local_mass

    data = _empty_prior(center.size) if data is None else data
    curves, _ = model_local_mass(data, model, group=group, joint=True, centers={"beta": center}, radii=radii,
                                 qmc_points=QMC_POINTS, n_randomizations=QMC_RANDOMIZATIONS, seed=seed)
    da = curves["beta"].isel(center=0)
    m = da.sel(local_stat="mass").values
    hi = da.sel(local_stat="mass_upper").values
    z = _z(curves.attrs["ci_prob"])
    return np.log(m), (np.log(hi) - np.log(m)) / z, curves.attrs


def _z(ci):
    from scipy import stats

    return float(stats.norm.ppf(0.5 + ci / 2))


def density_ratio_at_mode(X, y, theta0, cov, seed, n=200_000):
    """log p(theta0) / q(theta0), exact posterior over Laplace, by importance sampling from q.

    An independent check of the small-radius gap: as r -> 0 the ratio of ball
    masses tends to the ratio of densities, and ``Z_p = E_q[p~ / q]`` needs no
    ball at all. Returns (log ratio, its standard error).
    """
    from scipy import special, stats

    rng = np.random.default_rng(seed + 999)
    q = stats.multivariate_normal(theta0, cov)
    draws = q.rvs(size=n, random_state=rng)

    def log_ptilde(t):
        z = t @ X.T
        return -(np.logaddexp(0.0, z) - y * z).sum(-1) - (t**2).sum(-1) / (2 * PRIOR_SD**2)

    lw = log_ptilde(draws) - q.logpdf(draws)
    log_z = special.logsumexp(lw) - np.log(n)
    w = np.exp(lw - lw.max())
    se = w.std(ddof=1) / np.sqrt(n) / w.mean()
    return float(log_ptilde(theta0[None])[0] - q.logpdf(theta0) - log_z), float(se)


def slopes(log_m, radii):
    """Finite-radius slopes at radius midpoints (as in figure2_slope_summary.csv)."""
    return np.diff(log_m) / np.diff(np.log(radii))


def run_one(dataset, seed, radii, *, exact=False, draws=1000, chains=4, verbose=False):
    """All curves of one run; returns a dict of arrays and facts."""
    X, y = design(dataset, seed)
    theta0, fun, H, opt = laplace(X, y)
    cov = np.linalg.inv(H)
    out = {"dataset": dataset, "seed": seed, "n_train": len(y), "objective": fun, "theta0": theta0,
           "theta0_norm": float(np.linalg.norm(theta0)), "cov_eig": np.linalg.eigvalsh(cov)}
    model = logistic_model(X, y)
    out["prior"], out["prior_se"], _ = ball_log_mass(model, theta0, radii, seed=seed)
    out["laplace"], out["laplace_se"], _ = ball_log_mass(gaussian_model(theta0, cov), theta0, radii, seed=seed + 100)
    if exact:
        import pymc as pm

        wide = np.concatenate([radii, np.geomspace(radii[-1], 3.0, 9)[1:]])
        out["wide_radii"] = wide
        out["laplace_wide"], _, _ = ball_log_mass(gaussian_model(theta0, cov), theta0, wide, seed=seed + 100)
        t0 = time.time()
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(draws=draws, tune=1000, chains=chains, cores=1, random_seed=seed,
                              progressbar=False, compute_convergence_checks=False)
        out["nuts_seconds"] = time.time() - t0
        log_m, se, attrs = ball_log_mass(model, theta0, wide, group="posterior", data=idata, seed=seed + 200)
        out["exact_wide"], out["exact_wide_se"] = log_m, se
        out["exact"], out["exact_se"] = log_m[: radii.size], se[: radii.size]
        out["anchor_radius"], out["anchor_log_se"] = attrs["anchor_radius"], attrs["anchor_log_se"]
        out["is_log_ratio"], out["is_se"] = density_ratio_at_mode(X, y, theta0, cov, seed)
        post = idata.posterior if hasattr(idata, "posterior") else idata["posterior"]
        b = post["beta"].values.reshape(-1, theta0.size)
        out["posterior_mean_shift"] = float(np.linalg.norm(b.mean(0) - theta0))
    if verbose:
        print(f"  {dataset} seed {seed}: done", flush=True)
    return out


def compare(results, runs_df, slopes_df, radii):
    """Print the comparison with the reference data; return (max log-mass error, slopes within sem)."""
    worst = 0.0
    print(f"{'dataset':<14} {'seed':>4} {'n':>4} {'objective':>10} {'ref obj':>10} "
          f"{'max|dlog m| prior':>18} {'max|dlog m| Laplace':>20}")
    for res in results:
        ref = runs_df[(runs_df.dataset == res["dataset"]) & (runs_df.seed == res["seed"])].sort_values("radius")
        np.testing.assert_allclose(ref.radius.values, radii)
        dp = np.max(np.abs(res["prior"] - ref.prior_log_mass.values))
        dl = np.max(np.abs(res["laplace"] - ref.posterior_log_mass.values))
        worst = max(worst, dp, dl)
        res["ref_prior"], res["ref_laplace"] = ref.prior_log_mass.values, ref.posterior_log_mass.values
        print(f"{res['dataset']:<14} {res['seed']:>4} {res['n_train']:>4} {res['objective']:>10.5f} "
              f"{res.get('ref_objective', np.nan):>10.5f} {dp:>18.2e} {dl:>20.2e}")
    print(f"largest |difference| in log mass: {worst:.2e} (tolerance 0.02) -> {'OK' if worst < 0.02 else 'FAIL'}")
    ok = True
    if len(results) == len(runs_df.groupby(["dataset", "seed"])):
        sp = np.array([slopes(r["prior"], radii) for r in results])
        sl = np.array([slopes(r["laplace"], radii) for r in results])
        print(f"\n{'r mid':>7} {'prior mean':>11} {'ref':>11} {'|d|/sem':>8} {'Laplace mean':>13} {'ref':>11} "
              f"{'|d|/sem':>8}")
        for j, row in slopes_df.iterrows():
            zp = abs(sp[:, j].mean() - row.prior_slope_mean) / row.prior_slope_sem
            zl = abs(sl[:, j].mean() - row.posterior_slope_mean) / row.posterior_slope_sem
            ok &= bool(zp < 1 and zl < 1)
            print(f"{row.radius_midpoint:>7.4f} {sp[:, j].mean():>11.6f} {row.prior_slope_mean:>11.6f} {zp:>8.3f} "
                  f"{sl[:, j].mean():>13.6f} {row.posterior_slope_mean:>11.6f} {zl:>8.3f}")
        print(f"slope means within one standard error of the reference: {'OK' if ok else 'FAIL'}")
    return worst, ok


def report_exact(results, radii, fig_path=None):
    """Laplace vs exact posterior: print the differences and draw the figure."""
    rows = [r for r in results if "exact" in r]
    if not rows:
        return
    wide = rows[0]["wide_radii"]
    j1 = int(np.argmin(np.abs(wide - 1.0)))
    print("\nexact posterior (NUTS + model tier, anchored) minus Laplace, log mass; IS = importance-sampling "
          "check of the r -> 0 limit")
    print(f"{'dataset':<14} {'seed':>4} {'r=0.03':>8} {'(se)':>6} {'IS r->0':>8} {'r=0.45':>8} "
          f"{'r=%.2f' % wide[j1]:>8} {'r=3.0':>8} {'slope L/ex 0.42':>16} {'anchor r':>9}")
    for r in rows:
        d = r["exact_wide"] - r["laplace_wide"]
        sl, se = slopes(r["laplace"], radii)[-1], slopes(r["exact"], radii)[-1]
        print(f"{r['dataset']:<14} {r['seed']:>4} {d[0]:>8.3f} {r['exact_se'][0]:>6.3f} {r['is_log_ratio']:>8.3f} "
              f"{d[radii.size - 1]:>8.3f} {d[j1]:>8.3f} {d[-1]:>8.3f} {sl:>8.2f}/{se:<7.2f} {r['anchor_radius']:>9.3f}")
    for ds in DATASETS:
        sub = [r for r in rows if r["dataset"] == ds]
        if sub:
            d = np.array([r["exact_wide"] - r["laplace_wide"] for r in sub])
            print(f"{ds}: mean over {len(sub)} seeds: exact - Laplace = {d[:, 0].mean():+.3f} at r=0.03, "
                  f"{d[:, radii.size - 1].mean():+.3f} at r=0.45, {d[:, -1].mean():+.3f} at r=3; IS limit "
                  f"{np.mean([r['is_log_ratio'] for r in sub]):+.3f}; mean slope at 0.42: Laplace "
                  f"{np.mean([slopes(r['laplace'], radii)[-1] for r in sub]):.3f}, exact "
                  f"{np.mean([slopes(r['exact'], radii)[-1] for r in sub]):.3f}")
    if fig_path is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True)
    rmid = np.sqrt(wide[1:] * wide[:-1])
    for c, ds in enumerate(DATASETS):
        sub = [r for r in rows if r["dataset"] == ds]
        for k, r in enumerate(sub):
            col = f"C{k}"
            d = r["exact_wide"] - r["laplace_wide"]
            axes[0, c].plot(wide, d, color=col, lw=1.2, label=f"seed {r['seed']}")
            axes[0, c].fill_between(wide, d - 2 * r["exact_wide_se"], d + 2 * r["exact_wide_se"], color=col,
                                    alpha=0.15, lw=0)
            axes[0, c].plot([wide[0] * 0.8], [r["is_log_ratio"]], marker="<", color=col, ms=6)
            axes[1, c].plot(rmid, slopes(r["laplace_wide"], wide), color=col, lw=1)
            axes[1, c].plot(rmid, slopes(r["exact_wide"], wide), color=col, lw=1, ls="--")
        axes[0, c].axhline(0, color="0.5", lw=0.8)
        axes[0, c].axvline(radii[-1], color="0.7", lw=0.8, ls=":")
        axes[1, c].axvline(radii[-1], color="0.7", lw=0.8, ls=":")
        axes[0, c].set_title(ds)
        axes[0, c].set_xscale("log")
        axes[1, c].set_xlabel("radius r (dotted: end of the reference grid)")
    axes[0, 0].set_ylabel("log m_exact(r) - log m_Laplace(r)")
    axes[1, 0].set_ylabel("slope d log m / d log r\n(solid Laplace, dashed exact)")
    axes[0, 0].legend(fontsize=8, title="band: +-2 se; <: IS limit r->0", title_fontsize=8)
    fig.suptitle("Balls around the Laplace mean: exact posterior (NUTS + model tier) vs Laplace approximation")
    fig.tight_layout()
    os.makedirs(os.path.dirname(fig_path), exist_ok=True)
    fig.savefig(fig_path, dpi=110)
    print(f"figure: {fig_path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exact", action="store_true", help="also NUTS + model tier for the exact posterior")
    parser.add_argument("--runs", default=None, help='subset, e.g. "Iris 0 vs 1:0,Wine 0 vs 1:3"')
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--figure",
                        default=os.path.join(HERE, "..", "docs", "figures", "reference_laplace_vs_exact.png"))
    args = parser.parse_args(argv)
    meta, runs_df, slopes_df = load_reference()
    radii = np.asarray(meta["radius_grid"], float)
    objectives = {(r["dataset"], r["seed"]): r["objective_value"] for r in meta["runs"]}
    todo = [(d, s) for d in meta["datasets"] for s in meta["seeds"]]
    if args.runs:
        todo = [(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in args.runs.split(",")]
    t0 = time.time()
    results = []
    for ds, seed in todo:
        res = run_one(ds, seed, radii, exact=args.exact, draws=args.draws)
        res["ref_objective"] = objectives[(ds, seed)]
        results.append(res)
    print(f"computed {len(results)} runs in {time.time() - t0:.0f} s "
          f"(Sobol: {QMC_POINTS} points x {QMC_RANDOMIZATIONS} scramblings per curve)\n")
    worst, ok = compare(results, runs_df, slopes_df, radii)
    if args.exact:
        report_exact(results, radii, os.path.abspath(args.figure))
    return 0 if (worst < 0.02 and ok) else 1


if __name__ == "__main__":
    sys.exit(main())
