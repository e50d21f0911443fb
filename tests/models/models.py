"""Real PyMC models for the end-to-end suite: each built, fitted small and seeded, once per session.

Every entry of :data:`MODELS` builds a model and says how to fit it: NUTS (2
chains x 400 draws after 400 tuning steps, one core), PyMC's prior draws, and
mean-field ADVI (Adam, a few thousand steps) where the model allows it
(continuous free variables only).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

SCHOOLS = ["Choate", "Deerfield", "Phillips Andover", "Phillips Exeter", "Hotchkiss", "Lawrenceville",
           "St. Paul's", "Mt. Hermon"]
Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
S8 = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_centred():
    import pymc as pm

    with pm.Model(coords={"school": SCHOOLS}) as m:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        theta = pm.Normal("theta", mu, tau, dims="school")
        pm.Normal("obs", theta, S8, observed=Y8, dims="school")
    return m


def eight_schools_noncentred():
    import pymc as pm

    with pm.Model(coords={"school": SCHOOLS}) as m:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        theta_tilde = pm.Normal("theta_tilde", 0.0, 1.0, dims="school")
        theta = pm.Deterministic("theta", mu + tau * theta_tilde, dims="school")
        pm.Normal("obs", theta, S8, observed=Y8, dims="school")
    return m


def radon():
    """Varying intercepts by county (simulated radon-like data), a common slope for the floor."""
    import pymc as pm

    rng = np.random.default_rng(11)
    n_county, n = 12, 120
    county = rng.integers(0, n_county, n)
    floor = rng.integers(0, 2, n).astype(float)
    a_true = rng.normal(1.5, 0.3, n_county)
    y = a_true[county] - 0.7 * floor + rng.normal(0, 0.7, n)
    with pm.Model(coords={"county": [f"c{i}" for i in range(n_county)]}) as m:
        mu_a = pm.Normal("mu_a", 0.0, 5.0)
        sigma_a = pm.HalfNormal("sigma_a", 1.0)
        a = pm.Normal("a", mu_a, sigma_a, dims="county")
        b = pm.Normal("b", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("log_radon", a[county] + b * floor, sigma, observed=y)
    return m


def horseshoe():
    """Sparse regression: horseshoe prior, coefficients as a Deterministic of the raw draws."""
    import pymc as pm

    rng = np.random.default_rng(12)
    n, p = 60, 6
    X = rng.normal(size=(n, p))
    beta_true = np.array([2.0, -1.5, 0.0, 0.0, 0.0, 0.0])
    y = X @ beta_true + rng.normal(0, 1.0, n)
    with pm.Model(coords={"coef": [f"x{i}" for i in range(p)]}) as m:
        tau = pm.HalfCauchy("tau", 1.0)
        lam = pm.HalfCauchy("lam", 1.0, dims="coef")
        z = pm.Normal("z", 0.0, 1.0, dims="coef")
        beta = pm.Deterministic("beta", z * tau * lam, dims="coef")
        intercept = pm.Normal("intercept", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("y", intercept + pm.math.dot(X, beta), sigma, observed=y)
    return m


def mixture():
    """Two Gaussian components, ordered means, Dirichlet weights."""
    import pymc as pm

    rng = np.random.default_rng(13)
    y = np.concatenate([rng.normal(-2.0, 1.0, 70), rng.normal(2.5, 1.0, 50)])
    with pm.Model() as m:
        w = pm.Dirichlet("w", np.ones(2))
        mu = pm.Normal("mu", np.array([-1.0, 1.0]), 5.0, transform=pm.distributions.transforms.ordered,
                       initval=np.array([-1.0, 1.0]))
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.NormalMixture("y", w=w, mu=mu, sigma=sigma, observed=y)
    return m


def logistic():
    """A well-identified logistic regression (400 observations, 3 coefficients)."""
    import pymc as pm

    rng = np.random.default_rng(14)
    n = 400
    X = rng.normal(size=(n, 2))
    eta = 0.3 + X @ np.array([1.0, -0.8])
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-eta))
    with pm.Model(coords={"coef": ["x0", "x1"]}) as m:
        alpha = pm.Normal("alpha", 0.0, 2.0)
        beta = pm.Normal("beta", 0.0, 2.0, dims="coef")
        pm.Bernoulli("y", logit_p=alpha + pm.math.dot(X, beta), observed=y.astype(int))
    return m


def dirichlet():
    """Category shares with a simplex: Dirichlet prior, multinomial counts."""
    import pymc as pm

    counts = np.array([50, 30, 20])
    with pm.Model(coords={"category": ["a", "b", "c"]}) as m:
        p = pm.Dirichlet("p", np.ones(3), dims="category")
        pm.Multinomial("counts", n=int(counts.sum()), p=p, observed=counts, dims="category")
    return m


def integer_latent():
    """An integer variable: the number of events k ~ Poisson(3) behind a noisy measurement."""
    import pymc as pm

    with pm.Model() as m:
        k = pm.Poisson("k", 3.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", k, sigma, observed=np.array([2.1, 1.8, 2.3]))
    return m


def ar1():
    """An AR(1) series with its coefficient bounded in (-1, 1), data near the unit root."""
    import pymc as pm

    rng = np.random.default_rng(15)
    T, rho_true = 150, 0.9
    x = np.zeros(T)
    for t in range(1, T):
        x[t] = rho_true * x[t - 1] + rng.normal(0, 1.0)
    with pm.Model() as m:
        rho = pm.Uniform("rho", -1.0, 1.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("x", rho * x[:-1], sigma, observed=x[1:])
    return m


@dataclass
class Fitted:
    name: str
    model: object
    idata: object
    approx: object = None


MODELS = {
    "eight_schools_centred": eight_schools_centred,
    "eight_schools_noncentred": eight_schools_noncentred,
    "radon": radon,
    "horseshoe": horseshoe,
    "mixture": mixture,
    "logistic": logistic,
    "dirichlet": dirichlet,
    "integer_latent": integer_latent,
    "ar1": ar1,
}
#: models without ADVI (a discrete free variable)
NO_ADVI = ("integer_latent",)


def fit(name, *, draws=400, tune=400, n_advi=6000, seed=2026):
    """NUTS (2 chains) with the prior's draws, and mean-field ADVI where possible."""
    import pymc as pm

    model = MODELS[name]()
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(draws=draws, tune=tune, chains=2, cores=1, random_seed=seed, progressbar=False,
                  compute_convergence_checks=False)
        if name.startswith("eight_schools") or name == "horseshoe":
            kw["target_accept"] = 0.95
        idata = pm.sample(**kw)
        prior = pm.sample_prior_predictive(500, random_seed=seed)
        if hasattr(idata, "extend"):  # InferenceData (ArviZ 0.2x)
            idata.extend(prior)
        else:  # DataTree (ArviZ 1.x)
            idata["prior"] = prior["prior"]
        approx = None
        if name not in NO_ADVI:
            approx = pm.fit(n_advi, method="advi", random_seed=seed, progressbar=False,
                            obj_optimizer=pm.adam(learning_rate=0.02))
    return Fitted(name, model, idata, approx)
