"""
Finite-radius slope
===================

``kind="slope"``: the slope ``d log m / d log r`` against ``r``, with its
interval, and the Mass Index ``a`` as a horizontal line. The slope tends to
``a`` as ``r -> 0``; an atom (``beta`` at 0) drives it to 0.
"""
import pymc_localmass as plm
from gallery import synthetic

nuts, _ = synthetic()
nuts = plm.add_local_mass(nuts, var_names=["tau", "beta"],
                          centers={"tau": 0.0, "beta": 0.0})
pc = plm.plot_local_mass(nuts, var_names=["tau", "beta"], kind="slope",
                         backend="matplotlib")
