"""pymc-localmass: local-mass diagnostics for PyMC and ArviZ.

Small-ball masses, finite-radius slopes, Mass Indices and atoms of posterior
draws (and, in later tiers, of approximations and of the model's density), as
results groups that travel with an ArviZ container.

Typical use after sampling with PyMC::

    import pymc_localmass as plm
    idata = plm.add_local_mass(idata)       # groups local_mass, local_mass_index
    plm.summary(idata)                      # one row per variable element and centre
"""

__version__ = "0.1.0"

from . import results  # noqa: E402
from .estimators import add_local_mass, local_mass, mass_index  # noqa: E402
from .results import validate  # noqa: E402
from .summary import summary  # noqa: E402
from .plots import plot_local_mass, register as _register_plots  # noqa: E402
from .compare import compare, compare_summary, local_kl  # noqa: E402
from .check import CheckResult, LocalMassWarning, check  # noqa: E402
from .report import report  # noqa: E402

_register_plots()  # az.plot_local_mass is plm.plot_local_mass; nothing else in arviz changes

__all__ = [
    "__version__",
    "CheckResult",
    "LocalMassWarning",
    "add_local_mass",
    "check",
    "compare",
    "compare_summary",
    "local_kl",
    "report",
    "local_mass",
    "mass_index",
    "plot_local_mass",
    "results",
    "summary",
    "validate",
]
