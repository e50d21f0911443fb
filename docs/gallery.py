"""Gallery of ``plot_local_mass``: one PNG per plot kind, drawn with matplotlib.

Run from the repository root with either environment::

    .venv-modern/bin/python docs/gallery.py            # writes docs/_gallery/*.png
    .venv-legacy/bin/python docs/gallery.py --out /tmp/gallery-legacy

The draws are synthetic (a few seconds in all) and shaped like the centered
eight-schools posterior: a hierarchical scale ``tau`` with mass near 0, school
effects ``theta``, a sparse coefficient ``beta`` with an atom at 0, an
"ADVI-like" Gaussian fit in ``log tau`` (no mass near 0) and a prior group.
"""

import argparse
import os
import warnings

import numpy as np

SCHOOLS = ["Choate", "Deerfield", "Phillips Andover", "Phillips Exeter"]


def synthetic(seed=20261122, chains=2, draws=600):
    """Posterior, prior and approximation draws as ArviZ containers (either generation)."""
    import arviz as az

    from pymc_localmass._compat import MODERN

    rng = np.random.default_rng(seed)
    shape = (chains, draws)
    # "NUTS": tau half-normal-like near 0 (a ~ 1 at 0), theta = mu + tau z
    tau = np.abs(rng.normal(0.0, 3.0, shape))
    mu = rng.normal(4.0, 3.0, shape)
    theta = mu[..., None] + tau[..., None] * rng.normal(size=shape + (len(SCHOOLS),))
    beta = np.where(rng.random(shape) < 0.25, 0.0, rng.normal(0.0, 1.0, shape))  # 25% atom at 0
    # "ADVI": Gaussian in log tau, so almost no mass near tau = 0
    tau_advi = np.exp(rng.normal(0.6, 0.45, shape))
    theta_advi = 4.0 + tau_advi[..., None] * rng.normal(size=shape + (len(SCHOOLS),)) * 0.8
    # prior: tau ~ HalfCauchy(5), theta ~ N(mu, tau)
    tau_prior = np.abs(5.0 * rng.standard_cauchy(shape))
    mu_prior = rng.normal(0.0, 5.0, shape)
    theta_prior = mu_prior[..., None] + tau_prior[..., None] * rng.normal(size=shape + (len(SCHOOLS),))

    coords = {"school": SCHOOLS}
    dims = {"theta": ["school"]}
    post = {"tau": tau, "mu": mu, "theta": theta, "beta": beta}
    prior = {"tau": tau_prior, "mu": mu_prior, "theta": theta_prior, "beta": rng.normal(0.0, 2.0, shape)}
    approx = {"tau": tau_advi, "mu": rng.normal(4.0, 2.0, shape), "theta": theta_advi,
              "beta": rng.normal(0.0, 0.7, shape)}
    if MODERN:
        nuts = az.from_dict({"posterior": post, "prior": prior}, coords=coords, dims=dims)
        advi = az.from_dict({"posterior": approx}, coords=coords, dims=dims)
    else:
        nuts = az.from_dict(posterior=post, prior=prior, coords=coords, dims=dims)
        advi = az.from_dict(posterior=approx, coords=coords, dims=dims)
    return nuts, advi


def save(result, path):
    """Save a PlotCollection (ArviZ 1.x) or the figure of an axes array (ArviZ 0.2x)."""
    import matplotlib.pyplot as plt

    from pymc_localmass.plots import save_figure

    save_figure(result, path, dpi=110)
    plt.close("all")
    return path


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import pymc_localmass as plm
    from pymc_localmass._compat import MODERN
    from pymc_localmass.plots import LocalMassComputedWarning, plot_local_mass

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gallery"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    extra = {"backend": "matplotlib"} if MODERN else {}

    nuts, advi = synthetic()
    centers = {"tau": 0.0, "theta": "mean", "beta": 0.0}
    nuts = plm.add_local_mass(nuts, var_names=["tau", "theta", "beta"], centers=centers)
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalMassComputedWarning)
        out = plot_local_mass(nuts, coords={"school": SCHOOLS[:2]}, **extra)
        written.append(save(out, os.path.join(args.out, "mass.png")))
        out = plot_local_mass(nuts, var_names=["tau", "beta"], kind="slope", **extra)
        written.append(save(out, os.path.join(args.out, "slope.png")))
        out = plot_local_mass(nuts, var_names="tau", kind="both", **extra)
        written.append(save(out, os.path.join(args.out, "both.png")))
        out = plot_local_mass({"NUTS": nuts, "ADVI": advi}, var_names="tau", kind="both", **extra)
        written.append(save(out, os.path.join(args.out, "overlay_fits.png")))
        out = plot_local_mass(nuts, group=["prior", "posterior"], var_names="tau", kind="both", **extra)
        written.append(save(out, os.path.join(args.out, "prior_posterior.png")))
        joint = plm.local_mass(nuts, var_names=["tau", "mu"], joint=True)
        joint_index = plm.mass_index(nuts, var_names=["tau", "mu"], joint=True)
        out = plot_local_mass((joint, joint_index), kind="both", **extra)
        written.append(save(out, os.path.join(args.out, "joint.png")))
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
