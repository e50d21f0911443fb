"""
Small-ball mass curves
======================

``kind="mass"`` (the default): the mass ``m(r)`` of the ball of radius ``r``
around each centre, on log-log axes, with its interval; radii the draws do not
resolve are drawn faint. ``tau`` at 0 rises with slope about 1, ``beta`` at 0
is flat (an atom), the school effects ``theta`` at their means rise with slope 1.
"""
import pymc_localmass as plm
from gallery import SCHOOLS, synthetic

nuts, _ = synthetic()
nuts = plm.add_local_mass(nuts, var_names=["tau", "theta", "beta"],
                          centers={"tau": 0.0, "theta": "mean", "beta": 0.0})
pc = plm.plot_local_mass(nuts, coords={"school": SCHOOLS[:2]},
                         backend="matplotlib")
