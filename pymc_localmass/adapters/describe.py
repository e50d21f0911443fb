"""Facts about a raw fit, for the readers (check, report, plots).

The readers read results; when they are handed a raw fit they need a few
facts about it that only the adapters can tell (is it an approximation or
draws, which groups a container holds, which variables it has, which
variables are bounded and where). :func:`describe` answers them in one
small frozen :class:`FitFacts`, so that no reader imports the adapters: they
reach it through :func:`pymc_localmass.estimators.describe_fit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._compat import container_groups, is_datatree, is_inferencedata
from . import select_vars, to_dataset
from .approx import approximation_kind, from_approximation, is_approximation, transform_name
from .pymc import is_discrete

__all__ = ["Support", "FitFacts", "describe"]


@dataclass(frozen=True)
class Support:
    """The finite ends of one bounded variable's support, as its transform gives them.

    Attributes
    ----------
    name : str
        The (constrained) variable's name.
    transform : str or None
        The transform's name (:data:`pymc_localmass.core.gaussian.TRANSFORMS`).
    lower, upper : float, ndarray or None
        The support's ends (broadcast to the variable's shape for an
        approximation); None when that end is infinite or unknown.
    """

    name: str
    transform: str | None
    lower: Any = None
    upper: Any = None


@dataclass(frozen=True)
class FitFacts:
    """What a reader may need to know about a raw fit.

    Attributes
    ----------
    is_approximation : bool
        A fitted approximation (PyMC ``pm.fit`` result, pymc-extras Laplace,
        DADVI or Pathfinder fit) rather than draws.
    is_container : bool
        A DataTree or InferenceData (a pymc-extras fit is both).
    is_model : bool
        A PyMC model (``supports`` then come from its transforms).
    groups : tuple of str
        The container's groups (empty for anything else).
    var_names : tuple of str
        The variables with draws in ``draws`` (selected by ``var_names=``);
        for a sampled approximation its free variables present in the sample.
    draws : xarray.Dataset or None
        The draws of ``group`` with ``chain``/``draw`` dims (for an
        approximation with ``n_draws=``: a seeded sample of it); None when
        not asked for (``draws=False``) or for a model.
    supports : tuple of Support
        With ``transforms=True``: the bounded variables' support ends, in
        the model's or the approximation's order (empty otherwise).
    kind : str or None
        An approximation's family (``"meanfield"``, ``"fullrank"``, ``"laplace"``,
        ``"dadvi"``, ``"pathfinder"``); None otherwise.
    unbounded : tuple of str
        With ``transforms=True``: the variables the fit says have no finite support end
        (a model's continuous free variables without a bounding transform; an
        approximation's variables whose support is the line).
    """

    is_approximation: bool
    is_container: bool
    is_model: bool = False
    groups: tuple = ()
    var_names: tuple = ()
    draws: xr.Dataset | None = None
    supports: tuple = ()
    kind: str | None = None
    unbounded: tuple = ()


def _is_model(obj):
    return hasattr(obj, "free_RVs")


def _model_supports(model):
    """Support ends of a PyMC model's free variables from their value transforms."""
    out = []
    for rv in model.free_RVs:
        tname, lo, hi, _ = transform_name(model.rvs_to_transforms.get(rv), rv, model)
        if tname in ("log", "log_exp_m1"):
            out.append(Support(rv.name, tname, 0.0, None))
        elif tname == "logodds":
            out.append(Support(rv.name, tname, 0.0, 1.0))
        elif tname in ("lowerbound", "interval", "upperbound"):
            out.append(Support(rv.name, tname, lo, hi))
        elif type(model.rvs_to_transforms.get(rv)).__name__ == "SimplexTransform":
            # (each element in (0, 1); its 1 needs every other element at 0, its 0 a category the data
            # leave empty: the end worth a centre)
            out.append(Support(rv.name, "simplex", 0.0, None))
    return tuple(out)


def _fit_supports(fit):
    """Support ends of an approximation's variables (those the exact tier integrates)."""
    out = []
    for name, v in fit.variables.items():
        if not v.supported:
            continue
        lo, hi = v.support()
        out.append(Support(name, v.transform, lo if np.all(np.isfinite(lo)) else None,
                           hi if np.all(np.isfinite(hi)) else None))
    return tuple(out)


def describe(obj: Any, *, group: str = "posterior", var_names: Any = None, model: Any = None, draws: bool = True,
             n_draws: int | None = None, transforms: bool = False) -> FitFacts:
    """Facts about a raw fit (draws, approximation, container or PyMC model).

    Parameters
    ----------
    obj : object
        A DataTree, InferenceData, Dataset or dict of draws, a fitted
        approximation, or a PyMC model.
    group : str, default "posterior"
        The group whose draws are read.
    var_names : str or list of str, optional
        Selection among the draws' variables (ArviZ-style; unknown names raise).
    model : pymc.Model, optional
        The model, to read a pymc-extras fit's transforms.
    draws : bool, default True
        Read the draws of ``group`` (errors as the estimators raise them).
        An approximation is sampled instead when ``n_draws`` is given.
    n_draws : int, optional
        Draws per chain (4 chains, seed 0) of an approximation's sample.
    transforms : bool, default False
        Read the bounded variables' transforms and support ends (of a model,
        or of an approximation).

    Returns
    -------
    FitFacts

    Examples
    --------
    >>> import numpy as np
    >>> facts = describe({"x": np.zeros((2, 10))})
    >>> facts.is_approximation, facts.var_names
    (False, ('x',))
    """
    if _is_model(obj):
        if not transforms:
            return FitFacts(False, False, True)
        sup = _model_supports(obj)
        listed = {x.name for x in sup}
        free = tuple(rv.name for rv in obj.free_RVs if not is_discrete(rv) and rv.name not in listed)
        return FitFacts(False, False, True, supports=sup, unbounded=free)
    approx = is_approximation(obj)
    container = is_datatree(obj) or is_inferencedata(obj)
    groups = tuple(container_groups(obj)) if container else ()
    fit = from_approximation(obj, model=model, group=group) if approx and (transforms or n_draws) else None
    ds, names = None, ()
    if draws and fit is not None and n_draws:
        ds = fit.sample(n_draws=n_draws, n_chains=4, seed=0)
        names = tuple(n for n in fit.free_variables if n in ds.data_vars)
    elif draws:
        ds = to_dataset(obj, group)
        names = tuple(select_vars(ds, var_names))
    supports = _fit_supports(fit) if transforms and fit is not None else ()
    return FitFacts(approx, container, False, groups, names, ds, supports,
                    approximation_kind(obj) if approx else None,
                    tuple(x.name for x in supports if x.lower is None and x.upper is None))
