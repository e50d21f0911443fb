"""Estimator tiers: the ways a local mass is computed, behind one interface.

=============  ===================================================  =======================
name           computes from                                        module
=============  ===================================================  =======================
``samples``    draws (any container), through ``apply_ufunc``        :mod:`.samples`
``analytic``   a Gaussian approximation: exact masses, randomised   :mod:`.analytic`
               QMC, or the approximation's own draws
``model``      a PyMC model's density integrated over the draws     :mod:`.model`
=============  ===================================================  =======================

The interface
-------------
Each tier module has a function ::

    compute(data, *, var_names, filter_vars, coords, group, centers, radii, n_radii, norm, joint,
            model, ci_prob, min_ess, window, nan_policy, progressbar, **options) -> (curves, index)

taking the keyword arguments of :func:`pymc_localmass.local_mass` (already
checked by it) and returning the ``local_mass`` and ``local_mass_index``
results datasets (docs/schema.md) with ``attrs["tier"]`` set. The tier's own
options are extra keywords: ``independent`` (samples), ``method`` (analytic:
``"auto"``, ``"analytic"`` or ``"samples"``). :data:`TIERS` maps a tier's
name to its module; :mod:`pymc_localmass.estimators` picks one and calls it.

The tiers share the centre and radii rules (:mod:`pymc_localmass._centers`,
:mod:`pymc_localmass._radii`) and never import the public estimators back;
a tier that falls back on draws calls :func:`.samples.compute` itself.
"""

from . import analytic, model, samples

#: tier name -> module with ``compute(data, **keywords) -> (curves, index)``
TIERS = {"samples": samples, "analytic": analytic, "model": model}

__all__ = ["TIERS", "analytic", "model", "samples"]
