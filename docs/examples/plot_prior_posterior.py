"""
Prior against posterior
=======================

``group=["prior", "posterior"]`` overlays the groups of one container: a change
of the Mass Index between prior and posterior means the likelihood changes the
local dimension there (``check`` reports it as a ``prior_index`` finding).
"""
import pymc_localmass as plm
from gallery import synthetic

nuts, _ = synthetic()
nuts = plm.add_local_mass(nuts, var_names=["tau"], centers={"tau": 0.0})
# the prior's curves are computed at the posterior's centres and radii (with a warning saying so)
pc = plm.plot_local_mass(nuts, group=["prior", "posterior"], var_names="tau", kind="both",
                         backend="matplotlib")
