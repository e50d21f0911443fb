"""
Prior against posterior
=======================

``group=["prior", "posterior"]`` overlays the groups of one container: a change
of the Mass Index between prior and posterior means the likelihood changes the
local dimension there (``check`` reports it as a ``prior_index`` finding).
"""
import pymc_localmass as plm
from gallery import synthetic

import warnings

from pymc_localmass.plots import LocalMassComputedWarning

nuts, _ = synthetic()
nuts = plm.add_local_mass(nuts, var_names=["tau"], centers={"tau": 0.0})
# the prior has no results yet: the plot computes them at the posterior's
# centres and radii, and warns that it did
warnings.simplefilter("ignore", LocalMassComputedWarning)
pc = plm.plot_local_mass(nuts, group=["prior", "posterior"], var_names="tau",
                         kind="both", backend="matplotlib")
