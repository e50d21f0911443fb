"""What differs between the two stack generations, in one place.

Only version facts live here: which container type the installed ArviZ
uses (DataTree or InferenceData) and how its groups are read and attached,
its default interval probability, and its PSIS implementation. What an
input *is* is decided once, at the edge (:mod:`pymc_localmass.adapters.source`).
"""

import warnings

import arviz
import numpy as np
import xarray as xr
from scipy.special import logsumexp

from .errors import UnknownNameError

ARVIZ_MAJOR = int(arviz.__version__.split(".")[0])
#: True with ArviZ 1.x (DataTree containers, arviz-plots), False with 0.2x.
MODERN = ARVIZ_MAJOR >= 1
DataTree = getattr(xr, "DataTree", None)

if MODERN:  # pragma: no cover - depends on generation
    InferenceData = None
else:  # pragma: no cover
    from arviz import InferenceData


def default_ci_prob():
    """The installed ArviZ's default interval probability (0.89 in 1.x, 0.94 in 0.2x)."""
    return float(arviz.rcParams["stats.ci_prob"])


def is_datatree(obj):
    return DataTree is not None and isinstance(obj, DataTree)


def is_inferencedata(obj):
    return InferenceData is not None and isinstance(obj, InferenceData)


def single_fit_type(obj):
    """The type name of ``obj`` when it is one fit's container (a DataTree, InferenceData or Dataset), else None.

    All three are mappings (of groups, or of variables), so a function taking a mapping
    ``{name: fit}`` would read them as several fits.
    """
    if is_datatree(obj) or is_inferencedata(obj) or isinstance(obj, xr.Dataset):
        return type(obj).__name__
    return None


def is_draws_node(obj, groups=("posterior",)):
    """A DataTree node holding draws itself (``idata.posterior``), not a tree with a child of ``groups``."""
    groups = [groups] if isinstance(groups, str) else list(groups)
    return (is_datatree(obj) and not set(groups) & set(obj.children)
            and bool(len(getattr(obj, "data_vars", {}))))


def container_groups(obj):
    """Names of the groups of a DataTree or InferenceData."""
    if is_datatree(obj):
        return list(obj.children)
    if is_inferencedata(obj):
        return list(obj.groups())
    raise TypeError(f"expected a DataTree or InferenceData, got {type(obj).__name__}")


def get_group(obj, group):
    """The Dataset of one group of a container, with a specific error when missing."""
    groups = container_groups(obj)
    if group not in groups:
        raise UnknownNameError(f"group {group!r} not found; the data has groups {groups}")
    if is_datatree(obj):
        return obj[group].to_dataset()
    return getattr(obj, group)


def attach_groups(obj, datasets, inplace=False):
    """Return the container with ``datasets`` (name -> Dataset) attached as groups.

    Existing groups of the same names are replaced; no other group is touched.
    The input is modified only when ``inplace`` is true.
    """
    if is_datatree(obj):
        out = obj if inplace else obj.copy(deep=False)
        for name, ds in datasets.items():
            if name in out.children:
                del out[name]
            out[name] = DataTree(dataset=ds)
        return out
    if is_inferencedata(obj):
        if inplace:
            for name in datasets:
                if name in obj.groups():
                    delattr(obj, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                obj.add_groups(datasets)
            return obj
        keep = {g: getattr(obj, g) for g in obj._groups_all if g not in datasets}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out = InferenceData(attrs=dict(getattr(obj, "attrs", {}) or {}), **keep)
            out.add_groups(datasets)
        return out
    raise TypeError(
        f"add_local_mass needs a DataTree or InferenceData, got {type(obj).__name__}; "
        "for a Dataset or dict of arrays use local_mass() and mass_index()"
    )


def psis_smooth(log_weights):
    """Pareto-smoothed log-weights and the Pareto k-hat of a 1-D array of log importance weights.

    The maintained implementation of the installed generation: arviz-stats'
    ``psislw`` (ArviZ 1.x), which takes the *negated* log-weights (log-ratios
    in the LOO sense: it smooths ``-ary``), or ``arviz.psislw`` (0.2x), which
    takes the log-weights themselves. Returns ``(smoothed, khat)`` with the
    smoothed log-weights normalised (their exponentials sum to 1).
    """
    lw = np.asarray(log_weights, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample and k-hat warnings: the caller judges k-hat itself
        try:
            if MODERN:  # pragma: no cover - depends on generation
                from arviz_stats.base import array_stats

                smoothed, khat = array_stats.psislw(-lw)
            else:  # pragma: no cover
                smoothed, khat = arviz.psislw(lw)
        except ValueError as err:
            if "n_draws_tail" in str(err):  # too few draws to fit a tail: k-hat unknown
                return lw - logsumexp(lw), np.inf
            if "tail values are the same" not in str(err):
                raise
            # the largest weights are all equal: a bounded tail, nothing to smooth
            return lw - logsumexp(lw), -np.inf
    return np.asarray(smoothed, dtype=float), float(khat)
