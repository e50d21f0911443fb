"""What the package asks of a PyMC model itself (beyond its draws): its MAP point, draws of its prior.

The model's log density and variables are in :mod:`pymc_localmass.adapters.model_density`,
its approximations in :mod:`pymc_localmass.adapters.approx`. PyMC is imported
only when a model is used (the optional ``pymc`` extra).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .._stack import user_stacklevel
from . import SAMPLE_DIMS, to_dataset


def fitting_data(data):
    """The data a container's draws were fitted with (its ``constant_data`` group): name -> array, {} if none.

    Plain arrays, Datasets and approximations keep no such record: {}.
    """
    from .._compat import container_groups, get_group
    from .source import Source

    if isinstance(data, Source):  # (converted at the edge: its raw input)
        data = data.raw
    try:
        if "constant_data" not in container_groups(data):
            return {}
        ds = get_group(data, "constant_data")
    except (TypeError, AttributeError, KeyError, ValueError):
        return {}
    return {str(k): np.asarray(v.values) for k, v in ds.data_vars.items()}


def changed_data(model, then):
    """The model's ``pm.Data`` whose current value differs (in shape or value) from ``then`` (name -> array).

    ``then``: :func:`fitting_data` of the fitted container. Data it does not record are not compared.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as model:
    ...     x = pm.Data("x", np.arange(3.0))
    >>> changed_data(model, {"x": np.arange(3.0)}), changed_data(model, {"x": np.arange(4.0)})
    ([], ['x'])
    """
    out = []
    for dv in getattr(model, "data_vars", None) or []:
        if dv.name not in then:
            continue
        now, old = np.asarray(dv.get_value()), np.asarray(then[dv.name])
        if now.shape != old.shape or not np.array_equal(now, old, equal_nan=now.dtype.kind == "f"):
            out.append(dv.name)
    return out


def check_model_data(model, data, what):
    """Raise :class:`~pymc_localmass.errors.InvalidInputError` when the model's data changed since ``data`` was fitted.

    ``what`` names the use of the model's density (e.g. ``"the model tier"``). After
    ``pm.set_data`` (new data for predictions) the model's density is another posterior
    than the one the draws come from: its masses, or its MAP, would be of that one (or
    PyTensor fails on the new shapes deep inside).
    """
    changed = changed_data(model, fitting_data(data)) if model is not None else []
    if changed:
        from ..errors import InvalidInputError

        raise InvalidInputError(
            f"{what} uses the model's density with its current data, and the data {changed} differ from those "
            "the draws were fitted with (their constant_data; pm.set_data since?): restore the fitting data "
            "(pm.set_data with the original values) to use the model, or leave model= out")


def check_model_shapes(model, draws, group="posterior"):
    """Raise :class:`~pymc_localmass.errors.InvalidInputError` when a free variable's shape differs in ``draws``.

    The model tier makes this check itself; ``check(model=)`` makes it before it
    uses the model (for centres and the model tier), where a model of another
    shape was silently left unused.
    """
    for rv in getattr(model, "free_RVs", []):
        if rv.name not in draws:
            continue
        try:
            want = tuple(int(k) for k in rv.shape.eval())
        except Exception:  # pragma: no cover - a shape PyTensor cannot evaluate on its own
            continue
        got = tuple(size for dim, size in draws[rv.name].sizes.items() if dim not in SAMPLE_DIMS)
        if got != want:
            from ..errors import InvalidInputError

            raise InvalidInputError(
                f"model= does not match group {group!r}: variable {rv.name!r} has shape {got} in the draws but "
                f"{want} in the model; pass the model the draws were sampled from")


def is_discrete(rv):
    """Whether a PyMC random variable takes whole-number (or boolean) values.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as m:
    ...     k, x = pm.Poisson("k", 2.0), pm.Normal("x")
    >>> is_discrete(k), is_discrete(x)
    (True, False)
    """
    return str(rv.dtype).startswith(("int", "uint", "bool"))


def map_point(model):
    """The model's maximum a posteriori point, ``{free variable name: value}`` (``pm.find_MAP``).

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    dict of str to ndarray
    """
    import inspect
    import warnings

    import pymc as pm

    # PyMC 6 announces new defaults (a jittered start, an InferenceData result) with
    # FutureWarnings: the start is the current one, said explicitly, and the dict the result
    # this function returns (its notice is for find_MAP's callers, not ours; PyMC 5 has neither)
    params = inspect.signature(pm.find_MAP).parameters
    explicit = {"jitter": False} if "jitter" in params else {}
    # find_MAP optimises the continuous variables only: a discrete one stays at the model's
    # initial point (a DiscreteUniform switch point at the middle of its support, 1906 where
    # the draws lie in 1883-1898), and the others' MAP is conditional on it
    discrete = [rv.name for rv in model.free_RVs if is_discrete(rv)]
    if discrete:
        warnings.warn(
            f"centers='map': pm.find_MAP does not optimise the discrete variable(s) {discrete}; they stay at "
            "the model's initial point and the continuous variables' MAP is conditional on it. For "
            "discrete variables use centers='mode' (the draws' most frequent value).",
            UserWarning, stacklevel=user_stacklevel())
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`find_MAP` will return an `InferenceData`",
                                category=FutureWarning)
        return pm.find_MAP(progressbar=False, **explicit)


def prior_draws(model, n, seed):
    """Draws of the model's free variables from its prior, as ``(chain, draw, ...)`` (4 chains).

    Parameters
    ----------
    model : pymc.Model
    n : int
        Number of draws wanted (at least 25 per chain are drawn).
    seed : int

    Returns
    -------
    xarray.Dataset
    """
    import pymc as pm

    n_chain = 4
    per = max(int(np.ceil(n / n_chain)), 25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp = pm.sample_prior_predictive(draws=n_chain * per, model=model, random_seed=seed)
    ds = to_dataset(pp, "prior")
    free = [rv.name for rv in model.free_RVs]
    ds = ds[[v for v in free if v in ds.data_vars]]
    out = {}
    for v in ds.data_vars:
        arr = ds[v].values.reshape((n_chain, per) + ds[v].shape[2:])
        out[v] = (list(SAMPLE_DIMS) + [d for d in ds[v].dims if d not in SAMPLE_DIMS], arr)
    coords = {d: ds[d].values for d in ds.dims if d not in SAMPLE_DIMS and d in ds.coords}
    return xr.Dataset(out, coords=coords)
