import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

from pymc_localmass._compat import MODERN  # noqa: E402


def make_container(dims=None, coords=None, **groups):
    """A DataTree (modern) or InferenceData (legacy) from dicts of arrays (``dims``/``coords`` as ArviZ's)."""
    import arviz as az

    extra = {k: v for k, v in (("dims", dims), ("coords", coords)) if v is not None}
    if MODERN:
        return az.from_dict({name: val for name, val in groups.items()}, **extra)
    return az.from_dict(**groups, **extra)


@pytest.fixture(scope="session")
def conjugate_advi():
    """y ~ N(mu, 1), mu ~ N(0, 1), three observations: mean-field ADVI and the exact log evidence.

    The posterior is Gaussian, so ADVI's family holds it: KL(q || p) = log Z - ELBO is about 0.
    """
    import pymc as pm
    from scipy import stats

    y = np.array([0.5, 1.5, 1.0])
    with pm.Model():
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("obs", mu, 1.0, observed=y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            approx = pm.fit(3000, method="advi", random_seed=5, progressbar=False,
                            obj_optimizer=pm.adam(learning_rate=0.03))
    logz = float(stats.multivariate_normal(np.zeros(3), np.eye(3) + np.ones((3, 3))).logpdf(y))
    return y, approx, logz


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


@pytest.fixture
def container(rng):
    post = {
        "tau": np.abs(rng.normal(size=(4, 500))),
        "theta": rng.normal(size=(4, 500, 3)),
        "mu": rng.normal(2.0, 0.5, size=(4, 500)),
    }
    prior = {"tau": np.abs(rng.normal(size=(4, 500))), "mu": rng.normal(size=(4, 500))}
    return make_container(posterior=post, prior=prior)

# pymc-extras is an optional extra with its own environment (make test-extras)
import importlib.util  # noqa: E402

collect_ignore = [] if importlib.util.find_spec("pymc_extras") else ["test_pymc_extras.py"]

# property-based tests (tests/test_properties.py): a bounded profile by default so the suite
# stays fast; HYPOTHESIS_PROFILE=thorough for a longer local run
try:  # noqa: E402
    from hypothesis import HealthCheck, settings

    settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    settings.register_profile("thorough", max_examples=300, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    pass
