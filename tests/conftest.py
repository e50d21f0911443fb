import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

from pymc_localmass._compat import MODERN  # noqa: E402


def make_container(**groups):
    """A DataTree (modern) or InferenceData (legacy) from dicts of arrays."""
    import arviz as az

    if MODERN:
        return az.from_dict({name: val for name, val in groups.items()})
    return az.from_dict(**groups)


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
