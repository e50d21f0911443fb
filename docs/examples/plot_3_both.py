"""
Mass and slope together
=======================

``kind="both"``: the mass curve above its slope, for one variable at one centre.
"""
import pymc_localmass as plm
from gallery import synthetic

nuts, _ = synthetic()
nuts = plm.add_local_mass(nuts, var_names=["tau"], centers={"tau": 0.0})
pc = plm.plot_local_mass(nuts, var_names="tau", kind="both",
                         backend="matplotlib")
