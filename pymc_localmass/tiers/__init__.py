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

    compute(source, *, var_names, filter_vars, coords, group, centers, radii, n_radii, norm, joint,
            model, ci_prob, min_ess, window, nan_policy, progressbar, **options) -> (curves, index)

taking the input converted at the edge (a
:class:`~pymc_localmass.adapters.source.Source`; anything
:func:`~pymc_localmass.adapters.source.convert` takes is converted at once,
for callers such as tests and benchmarks) and the keyword arguments of
:func:`pymc_localmass.local_mass` (already checked by it), and returning the
``local_mass`` and ``local_mass_index`` results datasets (docs/schema.md)
with ``attrs["tier"]`` set. A tier reads what it needs from the source
(``source.draws``, ``source.independent``, ``source.divergent``,
``source.approximation``) and never asks what the user passed. The tier's own
options are extra keywords: ``independent`` (samples), ``method`` (analytic:
``"auto"``, ``"analytic"`` or ``"samples"``). :data:`TIERS` maps a tier's
name to its module; :mod:`pymc_localmass.estimators` picks one and calls it.

The tiers share the centre and radii rules (:mod:`pymc_localmass._centers`,
:mod:`pymc_localmass._radii`) and never import the public estimators back;
a tier that falls back on draws calls :func:`.samples.compute` itself.
"""

from . import analytic, model, samples

#: tier name -> module with ``compute(source, **keywords) -> (curves, index)``
TIERS = {"samples": samples, "analytic": analytic, "model": model}

__all__ = ["TIERS", "analytic", "model", "samples"]
