"""
Several fits overlaid
=====================

A mapping of fits draws one curve per fit: here NUTS-like draws against an
ADVI-like Gaussian in ``log tau``, which has almost no mass near ``tau = 0``.
For real PyMC approximations (``pm.fit``) the approximation's masses are exact.
"""
import pymc_localmass as plm
from gallery import synthetic

import warnings

from pymc_localmass.plots import LocalMassComputedWarning

nuts, advi = synthetic()
nuts = plm.add_local_mass(nuts, var_names=["tau"], centers={"tau": 0.0})
# the ADVI draws have no results yet: the plot computes them at NUTS' centres
# and radii, and warns that it did
warnings.simplefilter("ignore", LocalMassComputedWarning)
pc = plm.plot_local_mass({"NUTS": nuts, "ADVI": advi}, var_names="tau",
                         kind="both", backend="matplotlib")
