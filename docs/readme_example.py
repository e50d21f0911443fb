"""The README's example, as a script: writes docs/figures/readme_local_mass.png (modern stack).

Run from the repository root: ``.venv-modern/bin/python docs/readme_example.py``.
tests/test_docs.py checks that the README shows this code.
"""
import os

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
# --- README example ---
import numpy as np
import xarray as xr
import pymc_localmass as plm

rng = np.random.default_rng(0)
nuts = xr.Dataset({"tau": (("chain", "draw"), 3 * np.abs(rng.standard_cauchy((4, 1000))))})  # mass near 0
advi = xr.Dataset({"tau": (("chain", "draw"), np.exp(rng.normal(0.6, 0.45, (4, 1000))))})   # log-normal fit
print(plm.summary(nuts, centers={"tau": 0.0})[["a", "a_lower", "a_upper", "r_resolved", "status"]])
pc = plm.plot_local_mass({"NUTS": nuts, "ADVI": advi}, kind="both", backend="matplotlib",
                         stats={"local_mass": {"centers": {"tau": 0.0}}})
pc.savefig("readme_local_mass.png", dpi=90)
# --- end ---
