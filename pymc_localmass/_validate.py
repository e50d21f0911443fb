"""Argument and input checks at the entrances, each error naming what is wrong.

Called first by the estimators (and ``check``, ``local_kl``): after these,
the numerics see only values they can compute a right answer on. Every
error is one of :mod:`pymc_localmass.errors`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._compat import default_ci_prob
from .errors import InvalidInputError, InvalidTypeError, UnknownNameError

#: coordinate names of the results datasets: a variable may not be called so
RESULT_COORDS = ("center", "radius", "local_stat", "index_stat")
#: dims the package uses internally while reshaping: draws may not use them
INTERNAL_DIMS = ("__coord__", "__el__", "__s__")


def _is_real_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_arguments(*, n_radii=25, min_ess=10.0, model=None, centers=None, radii=None, window=None):
    """Scalar arguments and the kinds of ``centers``, ``radii``, ``window`` and ``model``."""
    if window is not None:
        sizes = list(window) if isinstance(window, (list, tuple, np.ndarray)) else [window]
        if not sizes or any(isinstance(w, bool) or not isinstance(w, numbers.Real) or not float(w).is_integer()
                            for w in sizes):
            raise InvalidInputError(f"window must be whole numbers of nearest draws (one, or a list), got {window!r}")
    if isinstance(n_radii, bool) or not isinstance(n_radii, numbers.Real) or not float(n_radii).is_integer():
        raise InvalidInputError(f"n_radii must be a whole number of radii (at least 2), got {n_radii!r}")
    if int(n_radii) < 2:
        raise InvalidInputError(f"n_radii must be at least 2, got {n_radii}")
    if not _is_real_number(min_ess) or not np.isfinite(min_ess) or not min_ess > 0:
        raise InvalidInputError(f"min_ess must be a finite number > 0 (effective draws inside a resolved "
                                f"ball), got {min_ess!r}")
    if model is not None:
        check_model(model)
    _check_center_kinds(centers)
    _check_radii_kinds(radii)


def check_ci_prob(ci_prob):
    """The interval probability to use: ``ci_prob`` as a float in (0, 1), or ArviZ's default for None.

    Parameters
    ----------
    ci_prob : float or None
        As given to a public function; None means the installed ArviZ's
        ``rcParams["stats.ci_prob"]``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``ci_prob`` is not strictly between 0 and 1.

    Examples
    --------
    >>> check_ci_prob(0.9)
    0.9
    """
    if ci_prob is None:
        return default_ci_prob()
    if isinstance(ci_prob, (str, bytes, bool, np.bool_)) or not isinstance(ci_prob, numbers.Real):
        raise InvalidTypeError(f"ci_prob must be a number in (0, 1), got {type(ci_prob).__name__} {ci_prob!r}")
    ci = float(ci_prob)
    if not 0 < ci < 1:
        raise InvalidInputError(f"ci_prob must be in (0, 1), got {ci}")
    return ci


def check_nan_policy(nan_policy):
    """``nan_policy`` is ``"raise"`` or ``"omit"``."""
    if nan_policy not in ("raise", "omit"):
        raise InvalidInputError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")


def check_model(model, argument="model"):
    """``model`` must be a ``pymc.Model``."""
    try:
        import pymc as pm
    except ImportError as err:  # pymc is the optional `pymc` extra
        raise ImportError(f"{argument}= needs PyMC, which is not installed: "
                          "pip install 'pymc-localmass[pymc]'") from err

    if not isinstance(model, pm.Model):
        raise InvalidTypeError(f"{argument} must be a pymc.Model (the model that produced the draws), "
                               f"got {type(model).__name__} {model!r:.40}")


def check_model_matches(model, ds, group="posterior"):
    """``model`` is a ``pymc.Model`` some of whose variables the draws hold."""
    check_model(model)
    names = [rv.name for rv in list(model.free_RVs) + list(model.deterministics)]
    if not set(names) & set(ds.data_vars):
        raise UnknownNameError(f"model: none of the model's variables {names[:10]} is in group {group!r} "
                               f"(which holds {list(ds.data_vars)[:10]}); pass the model that produced the draws")
    from .adapters.model_density import draws_outside_support

    outside = draws_outside_support(model, ds)
    if outside:
        raise InvalidInputError(f"model: the draws of group {group!r} are not this model's: {'; '.join(outside)}. "
                                "Pass the model that produced the draws (or draws stored in the model's own "
                                "space, not a transformed one)")


def _check_center_kinds(spec, where="centers"):
    if spec is None or isinstance(spec, str):
        return
    if isinstance(spec, Mapping):
        for k, v in spec.items():
            _check_center_kinds(v, f"{where}[{k!r}]")
        return
    if isinstance(spec, (list, tuple)):
        for v in spec:
            _check_center_kinds(v, where)
        return
    if isinstance(spec, numbers.Complex) and not isinstance(spec, numbers.Real):
        raise InvalidTypeError(f"{where}: {spec!r} is complex; a centre is a real number, an array of them or "
                               "a keyword")
    kind = getattr(getattr(spec, "dtype", None), "kind", None)
    if kind is not None and kind not in "iuf":
        raise InvalidTypeError(f"{where}: an array of dtype {spec.dtype}; a centre array holds real numbers")


def _check_radii_kinds(radii, where="radii"):
    if radii is None:
        return
    if isinstance(radii, Mapping):
        for k, v in radii.items():
            _check_radii_kinds(v, f"radii[{k!r}]")
        return
    if isinstance(radii, str):
        raise InvalidTypeError(f"{where} must be absolute radii (positive numbers), got the string {radii!r}")
    try:
        arr = np.asarray(radii)
    except (TypeError, ValueError):
        raise InvalidTypeError(f"{where} must be a 1-D sequence of absolute radii (positive numbers), "
                               f"got {radii!r:.60}") from None
    if arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
        raise InvalidTypeError(f"{where} must be absolute radii (positive real numbers), got {radii!r:.60} "
                               f"(dtype {arr.dtype})")


def named_fits(fits, argument="fits"):
    """``{str(name): fit}`` of a mapping of fits; names that coincide as text are an error.

    (``{1: a, "1": b}`` would otherwise lose one fit without a word.)
    """
    out = {}
    for k, v in fits.items():
        name = str(k)
        if name in out:
            raise InvalidInputError(f"{argument}: the fit names {name!r} collide once written as text (the results "
                                    "label each fit by its name as a string); give the fits distinct names")
        out[name] = v
    return out


def check_mapping_keys(mapping, allowed, argument):
    """A mapping argument keyed by variable (``radii``, ``centers``) names only selected variables."""
    if not isinstance(mapping, Mapping):
        return
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise UnknownNameError(f"{argument} given for unknown or unselected variable(s) {unknown}; "
                               f"selected: {list(allowed)}")


def check_radii_keys(radii, names, joint):
    """``radii`` keyed by the selected variables, or for a joint ball by its ``"a+b"`` name only."""
    if not joint:
        check_mapping_keys(radii, names, "radii")
        return
    ball = "+".join(names)
    members = [k for k in radii if k in names and k != ball] if isinstance(radii, Mapping) else []
    if members:
        raise InvalidInputError(f"radii for the joint ball of {list(names)} are keyed by its name {ball!r} (or given "
                                f"as one grid); got radii for {members}, which the joint ball would not use")
    check_mapping_keys(radii, [ball], "radii")


def check_draws(ds, names, group="posterior"):
    """Draws the estimators can use: real dtypes, names and dims that do not clash, unique labels."""
    for var in names:
        da = ds[var]
        kind = da.dtype.kind
        if kind == "c":
            raise InvalidTypeError(f"variable {var!r} has complex draws ({da.dtype}); local masses need real "
                                   f"draws: pass the real and imaginary parts as two variables")
        if kind not in "iufb":
            raise InvalidTypeError(f"variable {var!r} has draws of dtype {da.dtype}; local masses need real "
                                   "numbers (convert it, e.g. with .astype(float))")
        if var in RESULT_COORDS:
            raise InvalidInputError(f"variable {var!r} has the name of a coordinate of the results "
                                    f"({', '.join(RESULT_COORDS)}); rename it, e.g. data.rename({{{var!r}: "
                                    f"{var + '_'!r}}})")
        for dim in da.dims:
            if dim in INTERNAL_DIMS:
                raise InvalidInputError(f"variable {var!r} has a dimension named {dim!r}, a name pymc-localmass "
                                        f"uses internally ({', '.join(INTERNAL_DIMS)}); rename it")
            if da.sizes[dim] == 0 and dim not in ("chain", "draw"):  # (the draws' own sizes: checked later)
                raise InvalidInputError(f"variable {var!r} has no elements: its dimension {dim!r} has length 0 "
                                        "(a coords= selection that kept nothing?)")
    check_unique_labels(ds, names)


def check_unique_labels(ds, names):
    """Each element dim's labels are unique: results and tables are keyed by them."""
    import pandas as pd

    seen = set()
    for var in names:
        for dim in ds[var].dims:
            if dim in ("chain", "draw") or dim in seen or dim not in ds.coords:
                continue
            seen.add(dim)
            idx = pd.Index(np.asarray(ds[dim].values).ravel())
            if not idx.is_unique:
                rep = idx[idx.duplicated()].unique().tolist()[:5]
                raise InvalidInputError(f"dimension {dim!r} (of variable {var!r}) has repeated labels {rep}; "
                                        f"results and tables are keyed by label: make them unique, e.g. "
                                        f"data.assign_coords({dim}=[...])")
            # (rows read "theta[1]": 1 and "1" would be one row; only mixed, object labels can collide so)
            text = pd.Index([str(v) for v in idx]) if idx.dtype == object else idx
            if not text.is_unique:
                rep = [v for v in idx if str(v) in set(text[text.duplicated()])][:5]
                raise InvalidInputError(f"dimension {dim!r} (of variable {var!r}) has labels {rep} that differ as "
                                        f"values but read the same as text; results and tables name elements by "
                                        f"their labels' text: make them distinct, e.g. data.assign_coords({dim}=[...])")


def check_coords(ds, coords):
    """``coords`` select existing labels (or positions of unlabelled dims), and something."""
    if not coords:
        return
    if not isinstance(coords, Mapping):
        raise InvalidTypeError(f"coords must be a mapping {{dim: value(s)}}, got {type(coords).__name__}")
    unknown = [d for d in coords if d not in ds.dims]
    if unknown:
        raise UnknownNameError(f"coords refer to unknown dimension(s) {unknown}; dims are {list(ds.dims)}")
    for dim, want in coords.items():
        if dim in ("chain", "draw") or isinstance(want, slice):  # (a slice: xarray's own selection)
            continue
        index = ds.indexes.get(dim) if dim in ds.coords else None
        if isinstance(index, pd.MultiIndex):  # (a stacked dim: its labels are tuples)
            values = [tuple(v) for v in want] if isinstance(want, list) else [tuple(want)]
            missing = [v for v in values if v not in index]
            if not values or missing:
                raise UnknownNameError(f"coords: dimension {dim!r} has no label(s) {missing or values}; its labels "
                                       f"are {list(index)[:10]}")
            continue
        values = np.atleast_1d(np.asarray(want, dtype=object)).ravel().tolist()
        if not values:
            raise InvalidInputError(f"coords select nothing along {dim!r} (an empty list); give at least one "
                                    "label")
        if dim in ds.coords:
            if ds[dim].dtype.kind in "Mm":  # dates: xarray's own label matching (strings, partial dates)
                continue
            labels = np.asarray(ds[dim].values).ravel().tolist()
            have = set(labels)
            missing = [v for v in values if v not in have]
            if missing:
                # (in the dimension's own order: sorted as strings, 0..14 read [0, 1, 10, 11, ...])
                more = f" ... ({len(labels)} in all)" if len(labels) > 10 else ""
                raise UnknownNameError(f"coords: dimension {dim!r} has no label(s) {missing}; its labels are "
                                       f"{labels[:10]}{more}")
        else:
            n = ds.sizes[dim]
            bad = [v for v in values if not (isinstance(v, numbers.Integral) and -n <= int(v) < n)]
            if bad:
                raise UnknownNameError(f"coords: dimension {dim!r} has no labels, so its values are positions "
                                       f"0..{n - 1}; got {bad}")


def check_region(region, argument="region"):
    """A (lo, hi) region (or a list of them) has ordered, non-NaN ends."""
    if isinstance(region, (str, bytes, int, float)) or region is None:
        raise InvalidTypeError(f"{argument} must be a Box, Ball, Tail, Where, a (lo, hi) tuple or a list of them, "
                               f"got {region!r}")
    pairs = []
    if isinstance(region, tuple) and len(region) == 2:
        pairs = [region]
    elif isinstance(region, list) and all(isinstance(iv, tuple) and len(iv) == 2 for iv in region):
        pairs = region
    for lo, hi in pairs:
        try:
            lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        except (TypeError, ValueError):
            raise InvalidTypeError(f"{argument} ends must be numbers, got {(lo, hi)!r}") from None
        if np.isnan(lo_a).any() or np.isnan(hi_a).any():
            raise InvalidInputError(f"{argument} {(lo, hi)!r} has a NaN end; ends are numbers (or +-inf)")
        if np.any(lo_a > hi_a):
            raise InvalidInputError(f"{argument} {(lo, hi)!r} has its lower end above its upper end; "
                                    "give (lower, upper)")
    lower = getattr(region, "lower", None)
    upper = getattr(region, "upper", None)
    if lower is not None and upper is not None and (np.isnan(lower).any() or np.isnan(upper).any()):
        raise InvalidInputError(f"{argument} has a NaN bound")
    radius = getattr(region, "radius", None)
    if radius is not None and not float(radius) >= 0:
        raise InvalidInputError(f"{argument}: a ball's radius must be >= 0, got {radius}")
    center = getattr(region, "center", None)
    if center is not None and np.isnan(np.asarray(center, dtype=float)).any():
        raise InvalidInputError(f"{argument}: a ball's centre contains NaN")
