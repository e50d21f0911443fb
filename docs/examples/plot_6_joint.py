"""
A joint ball over several variables
===================================

``joint=True`` measures one ball in the joint space of ``tau`` and ``mu``
(Euclidean norm by default), around their joint mean. The plot takes the
curves and the index as a pair.
"""
import pymc_localmass as plm
from gallery import synthetic

nuts, _ = synthetic()
curves = plm.local_mass(nuts, var_names=["tau", "mu"], joint=True)
index = plm.mass_index(nuts, var_names=["tau", "mu"], joint=True)
pc = plm.plot_local_mass((curves, index), kind="both", backend="matplotlib")
