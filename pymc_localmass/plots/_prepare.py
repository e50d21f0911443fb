"""Input handling and plot geometry for :func:`pymc_localmass.plots.plot_local_mass`.

Backend-agnostic and generation-agnostic: this module turns whatever the user
passed (a container with results, results datasets, plain draws, a mapping of
fits, a list of groups) into one ``local_mass`` / ``local_mass_index`` pair with
an optional overlay dimension, and derives from those numbers the arrays that
are drawn (line coordinates, bands, reference lines, annotation text, axis
limits). Statistics are only ever obtained from the results schema or, when
results are absent, from the public estimators; nothing here estimates.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module

import numpy as np

from .._stack import user_stacklevel
from ..errors import InvalidInputError, InvalidTypeError, UnknownNameError
from ..results import STATUS_WORDS, status_word
import xarray as xr

from .._compat import get_group, is_datatree, is_draws_node, is_inferencedata
from ..results import CURVE_GROUP, INDEX_GROUP, read, read_current, validate

KINDS = ("mass", "slope", "both")
FIT_DIM = "model"
GROUP_DIM = "group"
_NO_OVERLAY = "__overlay__"
_EXTRA_DIMS = ("center", "radius", "local_stat", "index_stat", FIT_DIM, GROUP_DIM, _NO_OVERLAY)
N_FIT_POINTS = 40
N_ANCHOR = 3  # resolved radii the fitted-index line is anchored on
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class LocalMassComputedWarning(UserWarning):
    """Emitted when :func:`plot_local_mass` had to compute results on the fly."""


# ----------------------------------------------------------------------------- inputs
def _is_container(obj):
    return is_datatree(obj) or is_inferencedata(obj)


def _is_approximation(obj):
    """Whether ``obj`` is a fitted approximation (the estimators' own test; imports PyMC when called)."""
    from ..estimators import describe_fit

    return describe_fit(obj, draws=False).is_approximation


def _is_results_pair(obj):
    return (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], xr.Dataset)
            and (obj[1] is None or isinstance(obj[1], xr.Dataset)))


def _is_fit_mapping(data):
    """A mapping of fits (label -> container/results) rather than a dict of draws."""
    if not isinstance(data, Mapping) or _is_container(data) or isinstance(data, xr.Dataset):
        return False
    if not data:
        raise InvalidInputError("plot_local_mass got an empty mapping of fits")
    kinds = [_is_container(v) or isinstance(v, xr.Dataset) or _is_results_pair(v) or _is_approximation(v)
             for v in data.values()]
    if all(kinds):
        return True
    if any(kinds):
        bad = [k for k, ok in zip(data, kinds) if not ok]
        raise InvalidTypeError(
            f"mapping of fits: entries {bad} are not DataTree/InferenceData/Dataset objects or approximations "
            "(a dict of numpy arrays is read as draws of one fit, not as several fits)"
        )
    return False


def _as_list(value):
    if isinstance(value, (str, bytes)) or np.ndim(value) == 0:
        return [value]
    return list(value)


def _center_label(value):
    if isinstance(value, str):
        return value
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def select_names(available, var_names=None, filter_vars=None):
    """ArviZ-style selection among result variable names (``~`` excludes).

    Examples
    --------
    >>> select_names(["tau", "theta", "tau+theta"], "~tau+theta")
    ['tau', 'theta']
    >>> select_names(["tau", "theta", "tau+theta"], "ta", filter_vars="like")
    ['tau', 'theta', 'tau+theta']
    >>> select_names(["theta", "tau"], ["tau", "theta"])
    ['tau', 'theta']
    """
    import re

    available = [str(v) for v in available]
    if var_names is None:
        return available
    if filter_vars not in (None, "like", "regex"):
        raise InvalidInputError(f"filter_vars must be None, 'like' or 'regex', got {filter_vars!r}")
    var_names = [var_names] if isinstance(var_names, str) else list(var_names)
    negated = [v[1:] for v in var_names if v.startswith("~") and v not in available]
    positive = [v for v in var_names if not (v.startswith("~") and v not in available)]

    def match(pattern):
        if filter_vars is None:
            return [v for v in available if v == pattern]
        if filter_vars == "like":
            return [v for v in available if pattern in v]
        return [v for v in available if re.search(pattern, v)]

    missing = [p for p in positive if not match(p)]  # excluding what is not there is no error
    if missing:
        raise UnknownNameError(f"variable(s) {missing} not found in the local-mass results; available: {available}")
    # in the order asked for (panels follow var_names, as in ArviZ)
    chosen = list(dict.fromkeys(v for p in positive for v in match(p))) if positive else list(available)
    drop = {v for p in negated for v in match(p)}
    return [v for v in chosen if v not in drop]


def apply_coords(ds, coords):
    """Subset results with ArviZ ``coords`` (dims kept; centre labels may be given as numbers)."""
    if not coords:
        return ds
    unknown = [d for d in coords if d not in ds.dims]
    if unknown:
        raise UnknownNameError(f"coords refer to unknown dimension(s) {unknown}; the results have dims {list(ds.dims)}")
    sel = {}
    for dim, value in coords.items():
        values = _as_list(value)
        if dim == "center":
            values = [_center_label(v) for v in values]
        sel[dim] = values
    try:
        return ds.sel(sel)
    except KeyError as err:
        raise UnknownNameError(f"coords {coords} do not match the results' coordinates: {err}") from None


def _estimate(obj, group, est_kwargs, *, reason):
    """Public estimators on draws; returns ``(curves, index)`` and emits the on-the-fly note."""
    from .. import add_local_mass, local_mass, mass_index

    group = group or "posterior"
    warnings.warn(
        f"plot_local_mass: {reason}; computed local masses of group {group!r} on the fly with "
        "pymc_localmass.local_mass/mass_index (attach them once with plm.add_local_mass to reuse them)",
        LocalMassComputedWarning,
        stacklevel=user_stacklevel(),
    )
    kwargs = _selected_keys({k: v for k, v in est_kwargs.items() if v is not None})
    if _is_container(obj) and not is_draws_node(obj, group):
        out = add_local_mass(obj, group=group, merge=False, **kwargs)
        return read(out)
    return local_mass(obj, group=group, **kwargs), mass_index(obj, group=group, **kwargs)


def _selected_keys(kwargs):
    """Centres and radii mappings cut to the variables plotted, when they are named outright.

    (One mapping for the whole model, as check() and compare() take it, with var_names= picking
    what to plot: the estimators would call the other keys unknown.)
    """
    names = kwargs.get("var_names")
    names = [names] if isinstance(names, str) else names
    if not names or kwargs.get("filter_vars") is not None or any(str(n).startswith("~") for n in names) \
            or kwargs.get("joint"):
        return kwargs
    out = dict(kwargs)
    for key in ("centers", "radii"):
        if isinstance(out.get(key), Mapping):
            out[key] = {k: v for k, v in out[key].items() if k in names}
    return out


def _data_coords(coords):
    return {k: v for k, v in (coords or {}).items() if k != "center"} or None


def _stored(obj, group):
    """Stored ``(curves, index)`` of an object if it carries results for ``group``."""
    if _is_results_pair(obj):
        curves, index = obj
    elif isinstance(obj, xr.Dataset) and "local_stat" in obj.dims:
        curves, index = obj, None
    elif isinstance(obj, xr.Dataset) and "index_stat" in obj.dims:
        raise InvalidInputError(
            "plot_local_mass needs the local_mass curves (group 'local_mass'); got only a "
            "local_mass_index dataset"
        )
    elif _is_container(obj):
        got = read_current(obj, "computed again for the plot")
        if got is None:
            return None
        curves, index = got
        if group is not None and curves.attrs.get("source_group", "posterior") != group:
            return None
    else:
        return None
    validate(curves, CURVE_GROUP)
    if index is None:
        from .. import mass_index

        with warnings.catch_warnings():  # centres a variable was not analysed at are all-NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            index = mass_index(curves)
    else:
        validate(index, INDEX_GROUP)
    return curves, index


def _default_coords(ds):
    """Integer coordinates (0, 1, ...) for element dims that have none, as ArviZ's converters give."""
    missing = {d: np.arange(n) for d, n in ds.sizes.items() if d not in ds.coords and d not in _EXTRA_DIMS}
    return ds.assign_coords(missing) if missing else ds


def results_of(obj, *, group, var_names, filter_vars, coords, est_kwargs):
    """Selected ``(curves, index)`` of one input, computing them if they are absent."""
    stored = _stored(obj, group)
    base = dict(est_kwargs, filter_vars=filter_vars, coords=_data_coords(coords))
    if stored is None:
        if isinstance(obj, xr.Dataset) or _is_container(obj) or isinstance(obj, Mapping) or _is_approximation(obj):
            what = "no local_mass results" if group is None else f"no local_mass results for group {group!r}"
            curves, index = _estimate(obj, group, dict(base, var_names=var_names), reason=f"the input has {what}")
        else:
            raise InvalidTypeError(
                "plot_local_mass needs a DataTree/InferenceData (with or without local_mass groups), a "
                "local_mass results Dataset, a Dataset or dict of draws, or a mapping of fits; "
                f"got {type(obj).__name__}"
            )
    else:
        curves, index = stored
        computed = []
        if var_names is not None and filter_vars is None and _is_container(obj):
            wanted = [v for v in ([var_names] if isinstance(var_names, str) else var_names) if not v.startswith("~")]
            missing = [v for v in wanted if v not in curves.data_vars]
            source = curves.attrs.get("source_group", group or "posterior")
            draws = get_group(obj, source).data_vars if source in _groups(obj) else {}
            unknown = [v for v in missing if v not in draws]
            if unknown:
                raise UnknownNameError(
                    f"variable(s) {unknown} not found in the local-mass results ({list(curves.data_vars)}) "
                    f"nor in group {source!r} ({list(draws)})"
                )
            if missing:
                more = _estimate(obj, source, dict(base, var_names=missing),
                                 reason=f"variable(s) {missing} have no stored local_mass results")
                curves = xr.merge([curves, more[0]], join="outer", combine_attrs="override")
                index = xr.merge([index, more[1]], join="outer", combine_attrs="override")
                computed = missing
    names = select_names(list(curves.data_vars), var_names, filter_vars)
    if stored is not None and est_kwargs:
        _warn_stats_ignored(est_kwargs, [n for n in names if n not in computed], computed)
    curves, index = _default_coords(curves[names]), _default_coords(index[[n for n in names if n in index.data_vars]])
    curves = apply_coords(curves, coords)
    index = apply_coords(index, coords)
    missing_idx = [n for n in names if n not in index.data_vars]
    if missing_idx:
        raise InvalidInputError(f"the local_mass_index results lack variable(s) {missing_idx}")
    return curves, index


def _warn_stats_ignored(est_kwargs, stored_vars, computed):
    """Say that ``stats={"local_mass": ...}`` does not apply to stored results (they are plotted as stored)."""
    if not stored_vars:
        return
    keys = sorted(str(k) for k in est_kwargs)
    example = ", ".join(f"{k}=..." for k in keys)
    used = (f"; they apply only to variable(s) {computed}, computed here for want of stored results"
            if computed else "")
    warnings.warn(
        f"plot_local_mass: stats={{'local_mass': ...}} option(s) {keys} ignored for the stored local_mass results "
        f"of {list(stored_vars)}, which are plotted as stored{used}. To plot with them, compute the results "
        f"with them first, e.g. plm.add_local_mass(idata, {example}) (or pass plm.local_mass(draws, {example}))",
        UserWarning, stacklevel=user_stacklevel())


def _valid_centers(da):
    """Centre labels at which a curve variable has data."""
    other = [d for d in da.dims if d != "center"]
    keep = da.notnull().any(other).values
    return [str(c) for c, k in zip(da["center"].values, keep) if k]


def _same_radii(ref_da, other_da):
    try:
        a = ref_da.sel(local_stat="radius")
        b = other_da.sel(local_stat="radius").sel({d: a[d] for d in a.dims if d in a.coords and d != "radius"})
        a, b = xr.align(a, b, join="exact")
    except (KeyError, ValueError):
        return False
    av, bv = a.values, b.values
    both = np.isfinite(av)
    return bool(both.any() and np.array_equal(both, np.isfinite(bv)) and np.allclose(av[both], bv[both]))


def _element_selections(da):
    el_dims = [d for d in da.dims if d not in _EXTRA_DIMS]
    if not el_dims:
        return el_dims, [{}]
    sizes = [da.sizes[d] for d in el_dims]
    out = []
    for idx in np.ndindex(*sizes):
        out.append({d: da[d].values[i] for d, i in zip(el_dims, idx)})
    return el_dims, out


def _joint_centers(obj, group, curves, var_names):
    """Per-variable centre arrays of a joint reference ball, from attrs ``center_values``."""
    from ..estimators import describe_fit

    values = np.array([float(v) for v in str(curves.attrs.get("center_values", "")).split(",") if v != ""])
    ds = describe_fit(obj, group=group or "posterior").draws
    out, start = {}, 0
    for var in var_names:
        if var not in ds.data_vars:
            raise UnknownNameError(f"variable {var!r} of the joint reference ball is missing in the other fit")
        shape = tuple(ds[var].sizes[d] for d in ds[var].dims if d not in ("chain", "draw"))
        n = int(np.prod(shape, dtype=int))
        out[var] = values[start:start + n].reshape(shape) if shape else float(values[start])
        start += n
    if start != values.size:
        raise InvalidInputError(
            f"the joint reference ball has {values.size} coordinates, the other fit's variables {var_names} "
            f"have {start}"
        )
    return out


def results_like(obj, ref, *, label, group, coords, est_kwargs):
    """Results of another fit or group at the reference's centres and absolute radii.

    Stored results are used when they cover the same variables at the same radii;
    otherwise the public estimators are called with ``radii=`` (and numeric
    centres) taken from the reference.
    """
    ref_curves, ref_index = ref
    stored = _stored(obj, group)
    if stored is not None:
        curves, index = stored
        names = list(ref_curves.data_vars)
        missing = [n for n in names if n not in curves.data_vars or n not in index.data_vars]
        if not missing and all(_same_radii(ref_curves[n], curves[n]) for n in names):
            return apply_coords(curves[names], coords), apply_coords(index[names], coords)
        group = group or curves.attrs.get("source_group", "posterior")
        if not _has_draws(obj, group):
            if missing:
                raise InvalidInputError(f"fit {label!r} has no local-mass results for variable(s) {missing}")
            warnings.warn(
                f"plot_local_mass: fit {label!r} has stored results at other radii than the reference and "
                "no draws to recompute them; it is drawn at its own radii", UserWarning, stacklevel=user_stacklevel())
            return apply_coords(curves[names], coords), apply_coords(index[names], coords)
    if not (_is_container(obj) or isinstance(obj, (xr.Dataset, Mapping)) or _is_approximation(obj)):
        raise InvalidTypeError(f"fit {label!r}: cannot read draws from {type(obj).__name__}")
    source = ("from the approximation itself" if _is_approximation(obj)
              else f"from group {group or 'posterior'!r}")
    warnings.warn(
        f"plot_local_mass: {label!r} has no local_mass results at the reference radii; computing them "
        f"on the fly {source} with pymc_localmass.local_mass/mass_index at the "
        "reference's centres and absolute radii",
        LocalMassComputedWarning,
        stacklevel=user_stacklevel(),
    )
    base = {k: v for k, v in est_kwargs.items() if k not in ("centers", "radii", "joint", "var_names", "coords")}
    base["norm"] = ref_curves.attrs.get("norm", base.get("norm", "euclidean"))
    parts_c, parts_i = [], []
    joint = bool(int(ref_curves.attrs.get("joint", 0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalMassComputedWarning)
        for var, da in ref_curves.data_vars.items():
            for clabel in _valid_centers(da):
                rc = da.sel(center=clabel)
                if joint:
                    jvars = str(ref_curves.attrs.get("joint_vars", var.replace("+", ","))).split(",")
                    centers = {v: {clabel: c} for v, c in _joint_centers(obj, group, ref_curves, jvars).items()}
                    radii = rc.sel(local_stat="radius").values
                    c, i = _call(obj, group, dict(base, var_names=jvars, joint=True, centers=centers,
                                                  radii=radii[np.isfinite(radii)]))
                    c = c.rename({list(c.data_vars)[0]: var})
                    i = i.rename({list(i.data_vars)[0]: var})
                    parts_c.append(_pad_radius(c, rc.sizes["radius"]))
                    parts_i.append(i)
                    continue
                cval = ref_index[var].sel(center=clabel, index_stat="center_value")
                radii = rc.sel(local_stat="radius")
                el_dims, sels = _element_selections(radii)
                flat = radii.values.reshape(-1, radii.sizes["radius"]) if el_dims else radii.values[None]
                if np.allclose(flat, flat[0], equal_nan=True):
                    r = flat[0][np.isfinite(flat[0])]
                    centers = {var: {clabel: cval.drop_vars([k for k in cval.coords if k not in el_dims])}}
                    c, i = _call(obj, group, dict(base, var_names=[var], centers=centers, radii=r,
                                                  coords={d: list(radii[d].values) for d in el_dims} or None))
                    parts_c.append(_pad_radius(c, rc.sizes["radius"]))
                    parts_i.append(i)
                    continue
                for sel in sels:
                    r = radii.sel(sel).values
                    r = r[np.isfinite(r)]
                    cv = float(cval.sel(sel))
                    c, i = _call(obj, group, dict(base, var_names=[var], centers={var: {clabel: cv}}, radii=r,
                                                  coords={d: [v] for d, v in sel.items()} or None))
                    parts_c.append(_pad_radius(c, rc.sizes["radius"]))
                    parts_i.append(i)
    curves = xr.merge(parts_c, join="outer", compat="no_conflicts", combine_attrs="override")
    index = xr.merge(parts_i, join="outer", compat="no_conflicts", combine_attrs="override")
    return apply_coords(curves, coords), apply_coords(index, coords)


def _has_draws(obj, group):
    if _is_container(obj):
        return (group or "posterior") in _groups(obj)
    if isinstance(obj, xr.Dataset):
        return "chain" in obj.dims and "draw" in obj.dims
    return isinstance(obj, Mapping) and not _is_results_pair(obj)


def _groups(obj):
    from .._compat import container_groups

    return container_groups(obj)


def _pad_radius(ds, n):
    if ds.sizes["radius"] == n:
        return ds
    return ds.reindex(radius=np.arange(n))


def _call(obj, group, kwargs):
    from .. import add_local_mass, local_mass, mass_index

    group = group or "posterior"
    if _is_container(obj) and not is_draws_node(obj, group):
        return read(add_local_mass(obj, group=group, merge=False, **kwargs))
    return local_mass(obj, group=group, **kwargs), mass_index(obj, group=group, **kwargs)


# ----------------------------------------------------------------------------- collected data
@dataclass
class PlotData:
    """Results ready to draw: always carries an overlay dim (``overlay``) of size >= 1."""

    curves: xr.Dataset
    index: xr.Dataset
    overlay: str
    labels: list
    is_overlay: bool
    attrs: dict = field(default_factory=dict)
    dims_d: dict = field(default_factory=dict)
    ref_index: int = 0  # position of the reference along the overlay (its radii and reference lines)

    def panels(self):
        """``[(var_name, sel), ...]`` of panels (element x centre with data), in plotting order."""
        out = []
        for var, da in self.curves.data_vars.items():
            present = da.notnull().any([self.overlay, "radius", "local_stat"])
            pdims = list(present.dims)
            if not pdims:
                if bool(present):
                    out.append((var, {}))
                continue
            for idx in np.ndindex(*present.shape):
                if bool(present.values[idx]):
                    out.append((var, {d: present[d].values[i] for d, i in zip(pdims, idx)}))
        return out


def max_subplots():
    """ArviZ's ``rcParams["plot.max_subplots"]`` (40 by default; 40 where neither generation has it)."""
    for module in ("arviz_base", "arviz"):
        try:
            return int(import_module(module).rcParams["plot.max_subplots"])
        except (ImportError, KeyError, AttributeError, TypeError, ValueError):
            continue
    return 40


def cap_panels(pdata, kind):
    """The first panels only, as ArviZ plots do, with a warning: at most ``plot.max_subplots`` axes.

    A PyMC 6 OrderedLogistic adds an 800-element Deterministic; its plot (0.2 s a panel) ran for
    18 minutes. Panels past the limit get no data (so no panel); the results are copies.
    """
    per_panel = 2 if kind == "both" else 1
    most = max_subplots()
    limit = max(1, most // per_panel)
    panels = pdata.panels()
    if len(panels) <= limit:
        return pdata
    warnings.warn(f"plot_local_mass: {len(panels)} panels ({len(panels) * per_panel} plots); showing the first "
                  f"{limit} (ArviZ's rcParams['plot.max_subplots'] = {most}): select with var_names= "
                  "or coords=, or raise the limit", UserWarning, stacklevel=user_stacklevel())
    curves = pdata.curves.copy(deep=True)
    for var, sel in panels[limit:]:
        da = curves[var]
        curves[var] = da.where(~_is_panel(da, sel))
    return dataclasses.replace(pdata, curves=curves)


def _is_panel(da, sel):
    """True over the cells of ``da`` that belong to the panel ``sel`` (element coordinates and centre)."""
    mask = xr.ones_like(da, dtype=bool)
    for d, v in sel.items():
        mask = mask & (da[d] == v)
    return mask


#: the plot's own arguments, which ``stats={"local_mass": ...}`` may not override
_PLOT_OWN = ("var_names", "filter_vars", "coords", "group")


def _check_stats_keys(est_kwargs):
    """Estimator options only: the plot's own arguments and options that would change the input are errors."""
    import inspect

    from .. import local_mass

    allowed = [k for k in inspect.signature(local_mass).parameters if k not in ("data", *_PLOT_OWN)]
    for key in est_kwargs:
        if key in _PLOT_OWN:
            raise InvalidInputError(f"stats={{'local_mass': {{{key!r}: ...}}}}: {key} is plot_local_mass's own "
                                    f"argument; pass {key}= to plot_local_mass")
        if key in ("inplace", "merge"):
            raise InvalidInputError(f"stats={{'local_mass': {{{key!r}: ...}}}}: plot_local_mass never changes its "
                                    "input; attach results with plm.add_local_mass(data, inplace=True) first")
        if key not in allowed:
            raise UnknownNameError(f"stats={{'local_mass': {{{key!r}: ...}}}}: unknown option {key!r}; the "
                                   f"estimators' options are {allowed}")


def collect(data, *, var_names=None, filter_vars=None, coords=None, group=None, stats=None):
    """Turn any accepted input into a :class:`PlotData`.

    The overlay is a mapping of fits (dim ``model``), a list of groups (dim ``group``), or the
    ``group`` dim of results computed for several groups; the other entries are read (or computed)
    at the reference's centres and absolute radii (:func:`results_like`).
    """
    if stats is not None and (not isinstance(stats, Mapping) or set(stats) - {"local_mass"}):
        unknown = sorted(set(stats) - {"local_mass"}) if isinstance(stats, Mapping) else stats
        raise UnknownNameError(f"stats takes the key 'local_mass' (keyword arguments of the estimators, e.g. "
                               f"{{'local_mass': {{'centers': {{'tau': 0.0}}}}}}); got {unknown!r}")
    est_kwargs = dict((stats or {}).get("local_mass", {}) or {})
    _check_stats_keys(est_kwargs)
    if coords is not None and not isinstance(coords, Mapping):
        raise InvalidTypeError(f"coords must be a mapping of dimension -> value(s), got {type(coords).__name__}")
    sel_kw = dict(var_names=var_names, filter_vars=filter_vars, coords=coords, est_kwargs=est_kwargs)
    # results that already carry several groups along dim "group" (local_mass(..., group=[...])):
    # that dim is the overlay
    wanted = [str(g) for g in group] if isinstance(group, (list, tuple)) else None
    if (group is None or wanted) and _has_group_dim(data, wanted):
        curves, index = results_of(data, group=None, **sel_kw)
        if wanted is not None:
            curves, index = curves.sel({GROUP_DIM: wanted}), index.sel({GROUP_DIM: wanted})
        return _group_dim_data(curves, index)
    groups = None
    if isinstance(group, (list, tuple)):
        groups, chosen = _group_overlay(data, group, var_names, filter_vars)
        items = [(g, data, g) for g in groups]
        overlay = GROUP_DIM
        sel_kw.update(var_names=chosen, filter_vars=None)
    elif isinstance(data, Mapping) and _is_fit_mapping(data):
        items = [(str(k), v, group) for k, v in data.items()]
        overlay = FIT_DIM
    else:
        if group is not None and not isinstance(group, str):
            raise InvalidTypeError(f"group must be a string or a list of strings, got {group!r}")
        items = [(None, data, group)]
        overlay = None
    ref_pos = 0
    if overlay == GROUP_DIM:
        stored = read(data)
        if stored is not None and stored[0].attrs.get("source_group", "posterior") in groups:
            ref_pos = groups.index(stored[0].attrs.get("source_group", "posterior"))
    _, obj0, group0 = items[ref_pos]
    ref = results_of(obj0, group=group0, **sel_kw)
    entries = []
    for pos, (label, obj, grp) in enumerate(items):
        entries.append(ref if pos == ref_pos else
                       results_like(obj, ref, label=label, group=grp, coords=coords, est_kwargs=est_kwargs))
    labels = [lab for lab, _, _ in items] if overlay else ["_"]
    return _assemble(ref, entries, labels, overlay=overlay, ref_pos=ref_pos)


def _has_group_dim(data, wanted):
    """Whether ``data`` carries results with a ``group`` dim holding every group ``wanted`` (all when None)."""
    stored = _stored(data, None) if (_is_container(data) or isinstance(data, xr.Dataset)
                                     or _is_results_pair(data)) else None
    # (results computed for several groups say so, attrs["groups"]; a dim named "group" without it is
    # the user's, e.g. a hierarchical model's coords={"group": [...]})
    if stored is None or GROUP_DIM not in stored[0].dims or "groups" not in stored[0].attrs:
        return False
    have = [str(g) for g in stored[0][GROUP_DIM].values]
    return wanted is None or all(g in have for g in wanted)


def _group_overlay(data, group, var_names, filter_vars):
    """The groups of a ``group=[...]`` overlay, checked, and the variables to draw.

    Variables: among those every group has, the ones asked (by default: those with stored
    results, else all); a variable asked by name must be in every group.
    """
    if _is_fit_mapping(data) if isinstance(data, Mapping) else False:
        raise InvalidInputError("overlay either a mapping of fits or a list of groups, not both")
    groups = [str(g) for g in group]
    if len(groups) == 0:
        raise InvalidInputError("group is an empty list")
    if len(set(groups)) != len(groups):
        raise InvalidInputError(f"group has repeated entries: {groups}")
    if not _is_container(data):
        raise InvalidTypeError("group=[...] overlays need a DataTree or InferenceData with those groups")
    have = _groups(data)
    missing = [g for g in groups if g not in have]
    if missing:
        raise UnknownNameError(f"group(s) {missing} not found; the data has groups {have}")
    have_vars = {g: list(get_group(data, g).data_vars) for g in groups}
    first = next((g for g in ("posterior", *groups) if g in have_vars), groups[0])
    common = [v for v in have_vars[first] if all(v in have_vars[g] for g in groups)]
    if var_names is not None and filter_vars is None:
        for g in groups:
            lacking = [v for v in _as_list(var_names) if not str(v).startswith("~") and v not in have_vars[g]]
            if lacking:
                raise UnknownNameError(f"variable(s) {lacking} not in group {g!r} (it has {have_vars[g]})")
    if var_names is None:
        stored = read(data)
        in_store = [v for v in (stored[0].data_vars if stored is not None else []) if v in common]
        chosen = in_store or common
    else:
        chosen = select_names(common, var_names, filter_vars)
    if not chosen:
        raise InvalidInputError(f"groups {groups} share no variable to overlay")
    return groups, chosen


def _assemble(ref, entries, labels, *, overlay, ref_pos):
    """One :class:`PlotData` of the entries' results concatenated along the overlay dim (reference's order)."""
    import pandas as pd

    dim = overlay or _NO_OVERLAY
    entries = [(_flat_stacked(_own_dims(c)), _flat_stacked(_own_dims(i))) for c, i in entries]
    ref = entries[ref_pos]
    names = list(ref[0].data_vars)
    for label, (c, i) in zip(labels[1:], entries[1:]):
        missing = [n for n in names if n not in c.data_vars or n not in i.data_vars]
        if missing:
            raise InvalidInputError(f"fit {label!r} has no local-mass results for variable(s) {missing}")
    idx = pd.Index(labels, name=dim)
    curves = xr.concat([c[names] for c, _ in entries], dim=idx, join="outer", combine_attrs="override",
                       coords="minimal", compat="override")
    index = xr.concat([i[names] for _, i in entries], dim=idx, join="outer", combine_attrs="override",
                      coords="minimal", compat="override")
    # the outer joins sort coordinates: put elements back in the reference's order
    for d_ in [d_ for d_ in curves.dims if d_ in ref[0].coords and d_ not in _EXTRA_DIMS]:
        first = list(ref[0][d_].values)
        order = first + [v for v in curves[d_].values if v not in first]
        curves, index = curves.reindex({d_: order}), (index.reindex({d_: order}) if d_ in index.dims else index)
    curves = xr.Dataset({n: _order(curves[n], dim, ("radius", "local_stat")) for n in names}, attrs=ref[0].attrs)
    index = xr.Dataset({n: _order(index[n], dim, ("index_stat",)) for n in names}, attrs=ref[1].attrs)
    attrs = dict(ref[0].attrs)
    dims_d = {n: _ball_dimension(ref[0], n) for n in names}
    return PlotData(curves=curves, index=index, overlay=dim, labels=labels, is_overlay=overlay is not None,
                    attrs=attrs, dims_d=dims_d, ref_index=ref_pos)


def _own_dims(ds):
    """``ds`` with an element dim named like an overlay dim (``group``, ``model``) renamed ``group_``, ``model_``.

    The overlay dims are the plot's own (several fits, several groups); a variable's dim of that name
    (a hierarchical model's ``coords={"group": [...]}``) is an element dim like any other. Titles
    read the labels, not the dim's name.
    """
    clash = {d: f"{d}_" for d in ds.dims if d in (FIT_DIM, GROUP_DIM, _NO_OVERLAY)}
    return ds.rename(clash) if clash else ds


def _flat_stacked(ds):
    """``ds`` with each stacked (MultiIndex) dim labelled by text, ``r1.1``, as summary labels its elements."""
    import pandas as pd

    for d in list(ds.dims):
        idx = ds.indexes.get(d) if d in ds.coords else None
        if isinstance(idx, pd.MultiIndex):
            ds = ds.reset_index(d, drop=True).assign_coords({d: [".".join(map(str, key)) for key in idx]})
    return ds


def _group_dim_data(curves, index):
    """PlotData of results with a ``group`` dim: the groups are the overlay."""
    curves, index = _flat_stacked(curves), _flat_stacked(index)
    names = list(curves.data_vars)
    labels = [str(g) for g in curves[GROUP_DIM].values]
    curves = xr.Dataset({n: _order(curves[n], GROUP_DIM, ("radius", "local_stat")) for n in names},
                        attrs=curves.attrs)
    index = xr.Dataset({n: _order(index[n], GROUP_DIM, ("index_stat",)) for n in names}, attrs=index.attrs)
    dims_d = {n: _ball_dimension(curves, n) for n in names}
    return PlotData(curves=curves, index=index, overlay=GROUP_DIM, labels=labels, is_overlay=True,
                    attrs=dict(curves.attrs), dims_d=dims_d)


def _order(da, overlay, tail):
    lead = [d for d in da.dims if d not in (overlay, "center") + tuple(tail)]
    return da.transpose(*lead, "center", overlay, *tail)


def _ball_dimension(curves, name):
    """d of the reference lines: 1 elementwise, number of coordinates of a joint ball."""
    if not int(curves.attrs.get("joint", 0)):
        return 1
    values = [v for v in str(curves.attrs.get("center_values", "")).split(",") if v.strip()]
    return max(len(values), 1)


# ----------------------------------------------------------------------------- geometry
def _nan_reduce(func, arr, axis):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(arr, axis=axis)


def _fmt(x, digits=2):
    if not np.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "n/a")
    if x != 0 and (abs(x) < 10 ** -digits or abs(x) >= 1e4):
        return f"{x:.{digits}g}".replace("-", "−")
    return f"{x:.{digits}f}".replace("-", "−")


def index_text(stats, label=None):
    """Annotation of one Mass Index: ``a`` and ``b`` with intervals, the atom when > 0.

    Examples
    --------
    >>> st = dict(a=1.0, a_lower=0.9, a_upper=1.1, b=0.0, b_lower=-np.inf, b_upper=np.inf,
    ...           atom=0.0, atom_lower=0.0, atom_upper=0.01)
    >>> print(index_text(st))
    a = 1.00 [0.90, 1.10]
    b not separable from a
    >>> print(index_text(dict(st, a=np.inf, a_lower=2.5, a_upper=np.inf)).splitlines()[0])
    a = ∞ [2.50, ∞]: steeper than any power
    >>> print(index_text(dict(st, a=np.inf, a_lower=np.inf, a_upper=np.inf, status=2.0)).splitlines()[0])
    a = ∞ (no mass within the lattice gap)
    """
    a, alo, ahi = stats["a"], stats["a_lower"], stats["a_upper"]
    if np.isnan(a):
        line_a = "a = n/a"
    elif np.isinf(a) and np.isinf(alo):
        line_a = f"a = ∞ ({_exact_inf_reason('status' in stats and status_word(stats) == 'lattice')})"
    elif np.isinf(a):  # from draws: a statement about the resolved radii
        line_a = f"a = ∞ [{_fmt(alo)}, ∞]: steeper than any power"
    else:
        line_a = f"a = {_fmt(a)} [{_fmt(alo)}, {_fmt(ahi)}]"
    b, blo, bhi = stats["b"], stats["b_lower"], stats["b_upper"]
    if np.isnan(b):
        line_b = "b = n/a"
    elif not (np.isfinite(blo) and np.isfinite(bhi)):
        line_b = "b not separable from a"
    else:
        line_b = f"b = {_fmt(b)} [{_fmt(blo)}, {_fmt(bhi)}]"
    lines = [line_a, line_b]
    atom = stats.get("atom", np.nan)
    if np.isfinite(atom) and atom > 0:
        lines.append(f"atom = {_fmt(atom, 3)} [{_fmt(stats['atom_lower'], 3)}, {_fmt(stats['atom_upper'], 3)}]")
    word = status_word(stats) if "status" in stats else "ok"
    if word != "ok":  # what the draws support (docs/schema.md): shown on the panel, not only in tables
        lines.append(f"status: {word}" + (" (draws do not reach the centre)" if word == "unresolved" else
                                          " (the sampler may not reach it)" if word == "sampler" else ""))
    if label is not None:
        lines[0] = f"{label}: {lines[0]}"
    return "\n".join(lines)


def _exact_inf_reason(lattice):
    """Why an exact ``a = ∞`` holds: a lattice's gap (no mass nearer than the next support point) or decay."""
    return "no mass within the lattice gap" if lattice else "faster than any power"


def reference_label(k):
    """Text of the slope-k reference line, e.g. ``∝ r²``."""
    return "∝ r" if k == 1 else "∝ r" + str(k).translate(_SUPERSCRIPTS)


def _log_pos(lo, hi, frac):
    return np.exp(np.log(lo) + frac * (np.log(hi) - np.log(lo)))


LINE_FRAC = 0.075  # height of one text line, as a fraction of the panel's height
CHAR_FRAC = 0.016  # width of one character of annotation text, as a fraction of the panel's width
MARGIN_FRAC = 0.03


def _frac(v, lo, hi):
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.log(v) - np.log(lo)) / (np.log(hi) - np.log(lo))


def _drawn_points(pix, r, m, pos, fit, ref, ref_txt, x_lo, x_hi, y_lo, y_hi):
    """Points (in axes fractions) of what is drawn in a mass panel, to keep text off them."""
    lo_hi = (x_lo[pix], x_hi[pix], y_lo[pix], y_hi[pix])
    xs = [np.where(pos[pix], r[pix], np.nan).ravel(), fit[pix][..., 0].ravel()]
    ys = [np.where(pos[pix], m[pix], np.nan).ravel(), fit[pix][..., 1].ravel()]
    t = np.linspace(0.0, 1.0, 25)
    for line in ref[pix]:
        if np.isfinite(line).all():
            xs.append(np.exp(np.log(line[0, 0]) + t * (np.log(line[1, 0]) - np.log(line[0, 0]))))
            ys.append(np.exp(np.log(line[0, 1]) + t * (np.log(line[1, 1]) - np.log(line[0, 1]))))
    for txt in ref_txt[pix]:
        if np.isfinite(txt).all():
            xs.append(np.exp(np.log(txt[0]) - np.linspace(0, 0.12, 4) * np.log(lo_hi[1] / lo_hi[0])))
            ys.append(np.full(4, txt[1]))
    x = _frac(np.concatenate(xs), *lo_hi[:2])
    y = _frac(np.concatenate(ys), *lo_hi[2:])
    ok = np.isfinite(x) & np.isfinite(y)
    return np.stack([x[ok], y[ok]], axis=-1)


def geometry(pdata):
    """Everything drawn, per variable, as Datasets keyed by visual name.

    Each returned Dataset has one data variable per result variable with dims
    ``(*element dims, center, overlay, ...)`` (panel-level items lack the
    overlay dim): line data carry ``radius`` and ``plot_axis`` (``x``, ``y``),
    bands ``radius`` and ``kwarg`` (``x``, ``y_bottom``, ``y_top``), text
    positions ``plot_axis`` with the strings in ``*_str`` datasets, limits
    ``lim`` (``x_lo``, ``x_hi``, ``y_lo``, ``y_hi``).
    """
    out = {}
    dim = pdata.overlay
    for name in pdata.curves.data_vars:
        parts = _geometry_one(pdata.curves[name], pdata.index[name], pdata.dims_d[name], dim,
                              pdata.labels if pdata.is_overlay else None, ref_o=pdata.ref_index)
        for key, da in parts.items():
            out.setdefault(key, {})[name] = da
    return {key: xr.Dataset(vals) for key, vals in out.items()}


@dataclass
class _Arrays:
    """The numbers of one variable's panels, as arrays shaped ``(*P, O[, radius])``.

    ``P`` are the panel dims (elements, centre), ``O`` the overlay entries. Curves: radius ``r``,
    mass ``m`` and its interval, slope ``s`` and its interval, the masks of resolved radii
    (solid) and the rest (dashed, extended by one point to join the solid part); limits per
    panel; the index ``a`` with its interval (``a_fin``: the value a line is drawn at).
    """

    r: np.ndarray
    m: np.ndarray
    mlo: np.ndarray
    mhi: np.ndarray
    s: np.ndarray
    slo: np.ndarray
    shi: np.ndarray
    res: np.ndarray
    rok: np.ndarray
    pos: np.ndarray
    sok: np.ndarray
    m_solid: np.ndarray
    m_dashed: np.ndarray
    s_solid: np.ndarray
    s_dashed: np.ndarray
    P: tuple
    O: int
    x_lo: np.ndarray = None
    x_hi: np.ndarray = None
    y_lo: np.ndarray = None
    y_hi: np.ndarray = None
    sy_lo: np.ndarray = None
    sy_hi: np.ndarray = None
    a: np.ndarray = None
    alo: np.ndarray = None
    ahi: np.ndarray = None
    a_fin: np.ndarray = None
    lattice: np.ndarray = None


def _geometry_one(cur, idx, d, odim, labels, ref_o=0):
    """Everything drawn for one variable (see :func:`geometry`), as DataArrays keyed by visual name.

    ``cur`` and ``idx`` are its curves and index with dims ``(*P, overlay, radius, local_stat)`` and
    ``(*P, overlay, index_stat)``; ``d`` the number of reference lines; ``labels`` the overlay's
    labels (None without an overlay); ``ref_o`` the reference's position along the overlay.
    """
    lead_dims = list(cur.dims[:-2])  # (*P, O)

    def istat(label):
        return idx.sel(index_stat=label).transpose(*lead_dims).values.astype(float)

    x = _curve_arrays(cur)
    _set_limits(x, istat, d)
    if "status" in [str(v) for v in idx["index_stat"].values]:  # (a lattice's a = inf is its gap)
        x.lattice = istat("status") == STATUS_WORDS.index("lattice")
    band, sband = _bands(x)
    fit = _fit_lines(x, istat)
    ref, ref_txt, ref_str = _reference_lines(x, d, ref_o)
    texts, tpos, halign, valign = _index_blocks(x, idx, istat, labels, fit, ref, ref_txt)
    a_str, a_pos = _asymptote_texts(x, labels)
    slope_refs = np.array([float(k) for k in range(1, d + 1)])
    sref = np.broadcast_to(slope_refs, x.P + (d,)).copy()
    sref[(sref < x.sy_lo[..., None]) | (sref > x.sy_hi[..., None])] = np.nan
    sref[~x.rok.any(axis=(-2, -1))] = np.nan
    limits = np.stack([x.x_lo, x.x_hi, x.y_lo, x.y_hi, x.sy_lo, x.sy_hi], axis=-1)
    limits[~x.rok.any(axis=(-2, -1))] = np.nan  # centres a variable was not analysed at: no panel

    coords = {k: v for k, v in cur.coords.items() if set(v.dims) <= set(lead_dims)}
    L, pdims = lead_dims, lead_dims[:-1]
    rad = ["radius"]
    pa = {"plot_axis": ["x", "y"]}

    def xy(mask, y):
        return np.stack([np.where(mask, x.r, np.nan), np.where(mask, y, np.nan)], axis=-1)

    def da(values, dims, extra=None):
        cc = {k: v for k, v in coords.items() if set(v.dims) <= set(dims)}
        cc.update(extra or {})
        return xr.DataArray(values, dims=dims, coords=cc)

    return {
        "mass": da(xy(x.m_solid, x.m), L + rad + ["plot_axis"], pa),
        "mass_unresolved": da(xy(x.m_dashed, x.m), L + rad + ["plot_axis"], pa),
        "mass_band": da(band, L + rad + ["kwarg"], {"kwarg": ["x", "y_bottom", "y_top"]}),
        "slope": da(xy(x.s_solid, x.s), L + rad + ["plot_axis"], pa),
        "slope_unresolved": da(xy(x.s_dashed, x.s), L + rad + ["plot_axis"], pa),
        "slope_band": da(sband, L + rad + ["kwarg"], {"kwarg": ["x", "y_bottom", "y_top"]}),
        "fit": da(fit, L + ["fit_point", "plot_axis"], pa),
        "reference": da(ref, pdims + ["ref", "ref_point", "plot_axis"], dict(pa, ref=np.arange(1, d + 1))),
        "reference_text": da(ref_txt, pdims + ["ref", "plot_axis"], dict(pa, ref=np.arange(1, d + 1))),
        "reference_str": da(ref_str, pdims + ["ref"], {"ref": np.arange(1, d + 1)}),
        "index_text": da(tpos, L + ["plot_axis"], pa),
        "index_str": da(texts, L),
        "index_align": da(np.stack([halign, valign], axis=-1), pdims + ["align"],
                          {"align": ["horizontal", "vertical"]}),
        "asymptote": da(x.a_fin, L),
        "asymptote_text": da(a_pos, L + ["plot_axis"], pa),
        "asymptote_str": da(a_str, L),
        "slope_reference": da(sref, pdims + ["ref"], {"ref": np.arange(1, d + 1)}),
        "limits": da(limits, pdims + ["lim"], {"lim": ["x_lo", "x_hi", "y_lo", "y_hi", "slope_lo", "slope_hi"]}),
    }


def _curve_arrays(cur):
    """The curve arrays and masks of one variable (an :class:`_Arrays` without limits or index yet)."""
    def stat(label):
        return cur.sel(local_stat=label).values.astype(float)

    r, m = stat("radius"), stat("mass")
    mlo, mhi = stat("mass_lower"), stat("mass_upper")
    s, slo, shi = stat("slope"), stat("slope_lower"), stat("slope_upper")
    res = stat("resolved") > 0.5
    rok = np.isfinite(r) & (r > 0)
    pos = rok & np.isfinite(m) & (m > 0)

    def split(valid):
        solid = res & valid
        dashed = ~res & valid
        ext = dashed.copy()
        ext[..., 1:] |= dashed[..., :-1] & valid[..., 1:]
        ext[..., :-1] |= dashed[..., 1:] & valid[..., :-1]
        return solid, ext

    m_solid, m_dashed = split(pos)
    sok = rok & np.isfinite(s)
    s_solid, s_dashed = split(sok)
    return _Arrays(r=r, m=m, mlo=mlo, mhi=mhi, s=s, slo=slo, shi=shi, res=res, rok=rok, pos=pos, sok=sok,
                   m_solid=m_solid, m_dashed=m_dashed, s_solid=s_solid, s_dashed=s_dashed, P=r.shape[:-2],
                   O=r.shape[-2])


#: the mass axis spans at most this many decades below the largest mass drawn
MASS_DECADES = 16


def _set_limits(x, istat, d):
    """Panel limits over overlays and radii: the mass view's, and the slope view's from what the draws resolve.

    The slope view's limits also hold the index ``a`` (its lower end when ``a`` is infinite) and
    leave room above for the asymptote labels; ``d`` is the default top without data.
    """
    red = (-2, -1)
    r, m, rok, pos = x.r, x.m, x.rok, x.pos
    x.x_lo = _nan_reduce(np.nanmin, np.where(rok, r, np.nan), red) / 1.15
    x.x_hi = _nan_reduce(np.nanmax, np.where(rok, r, np.nan), red) * 1.15
    y_lo = _nan_reduce(np.nanmin, np.where(pos, m, np.nan), red) / 2.5
    # an atom's weight is the mass of every ball smaller than the nearest other draw: on the axis
    # (on a lattice the curve starts at the lattice gap, above the atom)
    atom = istat("atom")
    atom_lvl = _nan_reduce(np.nanmin, np.where(np.isfinite(atom) & (atom > 0), atom, np.nan)[..., None], red)
    y_lo = np.fmin(y_lo, atom_lvl / 2.5)
    has_atom = np.isfinite(atom_lvl)
    x.x_lo = np.where(has_atom, x.x_lo / 3.0, x.x_lo)
    top = _nan_reduce(np.nanmax, np.where(pos & np.isfinite(x.mhi), np.fmax(x.mhi, m), np.nan), red)
    # at most MASS_DECADES decades below the top: an approximation's exact mass of 1e-273 (a
    # log-normal at a scale's 0) would flatten every other curve (it leaves the axis at the bottom)
    y_lo = np.fmax(y_lo, top * 10.0 ** -MASS_DECADES)
    y_hi = np.minimum(np.fmax(top * 1.6, y_lo * 20), 1.05)  # a probability axis ends just above 1
    x.y_lo = np.where(np.isfinite(y_lo), y_lo, 1e-3)
    x.y_hi = np.where(np.isfinite(y_hi), y_hi, 1.0)

    x.a, x.alo, x.ahi = istat("a"), istat("a_lower"), istat("a_upper")
    s_band_ok = x.res & x.sok & np.isfinite(x.slo) & np.isfinite(x.shi)
    # limits from what the draws resolve (unresolved spikes may leave the axis) and from a
    x.a_fin = np.where(np.isfinite(x.a), x.a, np.where(np.isinf(x.a) & np.isfinite(x.alo), x.alo, np.nan))
    # (no line where the entry has no curve: a constant element, an LKJ correlation's unit diagonal,
    # reads atom, a = 0, but has no panel to draw it on)
    x.a_fin = np.where(np.isfinite(x.m).any(axis=-1), x.a_fin, np.nan)
    s_vals = np.concatenate([np.where(s_band_ok, x.slo, np.nan), np.where(s_band_ok, x.shi, np.nan),
                             np.where(x.sok & x.res, x.s, np.nan), x.a_fin[..., None]], axis=-1)
    sy_lo = _nan_reduce(np.nanmin, s_vals, red)
    sy_hi = _nan_reduce(np.nanmax, s_vals, red)
    span = np.where(sy_hi - sy_lo > 0.2, sy_hi - sy_lo, 0.2)
    sy_lo, sy_hi = sy_lo - 0.08 * span, sy_hi + (0.1 + LINE_FRAC * x.O) * span  # room for the asymptote labels
    x.sy_lo = np.where(np.isfinite(sy_lo), sy_lo, 0.0)
    x.sy_hi = np.where(np.isfinite(sy_hi), sy_hi, float(d) + 1.0)


def _bands(x):
    """The mass and slope interval bands ``(x, y_bottom, y_top)``, over resolved radii only.

    At unresolved radii the dashed line says "not resolved"; a band clipped to the axis floor
    would read as information.
    """
    ylo_b = x.y_lo[..., None]
    band_ok = x.rok & x.res & x.pos & np.isfinite(x.mhi) & (x.mhi > 0)
    band = np.stack([x.r, np.fmax(x.mlo, ylo_b[..., None]), x.mhi], axis=-1)
    band[~band_ok] = np.nan
    sband = np.stack([x.r, x.slo, x.shi], axis=-1)
    sband[~(x.rok & x.res & np.isfinite(x.slo) & np.isfinite(x.shi))] = np.nan  # slope intervals: resolved radii
    return band, sband


def _fit_lines(x, istat):
    """The fitted index line through each curve: ``m = C r^a (log(scale/r))^b``.

    Anchored on the smallest resolved radii of the fit window (the law is asymptotic, r -> 0).
    The log factor is drawn only when b is identified (finite interval excluding 0); otherwise
    the line has slope a.
    """
    b, blo, bhi = istat("b"), istat("b_lower"), istat("b_upper")
    scale, window = istat("scale"), istat("window")
    fit = np.full(x.P + (x.O, N_FIT_POINTS, 2), np.nan)
    atom = istat("atom")
    for ix in np.ndindex(*(x.P + (x.O,))):
        ai, sc, win = x.a[ix], scale[ix], window[ix]
        if not np.isfinite(ai):
            continue
        if ai == 0 and np.isfinite(atom[ix]) and atom[ix] > 0:
            # an atom, index (0, 0): its weight, up to the smallest radius of the curve
            ok = np.flatnonzero(x.rok[ix])
            x_end = x.r[ix][ok[0]] if ok.size else x.x_hi[ix[:-1]]
            if x_end > x.x_lo[ix[:-1]]:
                xs = np.geomspace(x.x_lo[ix[:-1]], x_end, N_FIT_POINTS)
                fit[ix] = np.stack([xs, np.full(N_FIT_POINTS, atom[ix])], axis=-1)
            continue
        use_b = bool(np.isfinite(b[ix]) and np.isfinite(blo[ix]) and np.isfinite(bhi[ix])
                     and (blo[ix] > 0 or bhi[ix] < 0) and np.isfinite(sc))
        bi = float(b[ix]) if use_b else 0.0
        # the law's slope a - b / log(scale/r) falls to 0 at scale e^(-b/a) when b > 0, and grows
        # without bound towards scale when b < 0 (theta[Hotchkiss] of eight schools, b = -1.26: the
        # line ran 4 times above the curve at r = 0.6): it stops where the log term has moved the
        # slope by a / 2 (and at scale / e, where log log ends)
        r_cap = sc / np.e if use_b else np.inf
        if use_b and bi != 0 and ai > 0:
            r_cap = min(r_cap, sc * np.exp(-2.0 * abs(bi) / ai))
        rr, mm = x.r[ix], x.m[ix]
        pts = x.m_solid[ix] & ((rr <= win * (1 + 1e-9)) if np.isfinite(win) else True)
        if use_b:
            pts &= rr < r_cap
        if not pts.any():
            pts = x.m_solid[ix] & ((rr < r_cap) if use_b else True)
        if not pts.any():
            continue
        pts[np.flatnonzero(pts)[N_ANCHOR:]] = False
        logl = np.log(np.log(sc / rr[pts])) if use_b else 0.0
        c0 = np.mean(np.log(mm[pts]) - ai * np.log(rr[pts]) - bi * logl)
        pix = ix[:-1]
        x_end = x.x_hi[pix]
        if np.isfinite(win):
            x_end = min(x_end, max(win, rr[pts].max()))
        if use_b:
            x_end = min(x_end, r_cap)
        if not x_end > x.x_lo[pix]:
            continue
        xs = np.geomspace(x.x_lo[pix], x_end, N_FIT_POINTS)
        ys = np.exp(c0 + ai * np.log(xs) + (bi * np.log(np.log(sc / xs)) if use_b else 0.0))
        fit[ix] = np.stack([xs, ys], axis=-1)
    return fit


def _reference_lines(x, d, ref_o):
    """Reference lines of slope 1..d through the reference curve's smallest resolved radius, and their labels.

    With d = 1 the key legend names the single line; joint balls label the extremes (and 2 when d = 3).
    """
    ref = np.full(x.P + (d, 2, 2), np.nan)
    ref_txt = np.full(x.P + (d, 2), np.nan)
    ref_str = np.full(x.P + (d,), "", dtype=object)
    label_ks = set() if d == 1 else (set(range(1, d + 1)) if d <= 3 else {1, d})
    for pix in np.ndindex(*x.P):
        ok = x.m_solid[pix + (ref_o,)]
        if not ok.any():
            ok = x.pos[pix + (ref_o,)]
        if not ok.any():
            continue
        j = int(np.argmax(ok))
        r0, m0 = x.r[pix + (ref_o, j)], x.m[pix + (ref_o, j)]
        for k in range(1, d + 1):
            x_end = min(x.x_hi[pix], r0 * (x.y_hi[pix] / m0) ** (1.0 / k))
            x_st = x.x_lo[pix]
            ref[pix + (k - 1,)] = [[x_st, m0 * (x_st / r0) ** k], [x_end, m0 * (x_end / r0) ** k]]
            if k in label_ks:
                ref_txt[pix + (k - 1,)] = [x_end / 1.02, m0 * (x_end / r0) ** k / 1.12]
                ref_str[pix + (k - 1,)] = reference_label(k)
    return ref, ref_txt, ref_str


def _index_blocks(x, idx, istat, labels, fit, ref, ref_txt):
    """The index annotation blocks (one per overlay entry), in the corner the drawn lines leave emptiest.

    Returns the texts and positions ``(*P, O)`` and the panels' horizontal and vertical alignment.
    """
    P, O = x.P, x.O
    texts = np.full(P + (O,), "", dtype=object)
    tpos = np.full(P + (O, 2), np.nan)
    halign = np.full(P, "left", dtype=object)
    valign = np.full(P, "top", dtype=object)
    st_names = ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "atom", "atom_lower", "atom_upper")
    if "status" in [str(v) for v in idx["index_stat"].values]:
        st_names += ("status",)
    st_vals = {k: istat(k) for k in st_names}
    for pix in np.ndindex(*P):
        blocks = []
        for o in range(O):
            ix = pix + (o,)
            # an unresolved row (a NaN in [0, inf]) is annotated with its status; a centre
            # not asked for (everything NaN) is not
            if np.isnan(st_vals["a"][ix]) and np.isnan(st_vals.get("status", st_vals["a"])[ix]):
                continue
            blocks.append((o, index_text({k: v[ix] for k, v in st_vals.items()}, labels[o] if labels else None)))
        if not blocks or not np.isfinite(x.x_lo[pix]):
            continue
        ha, va = _emptiest_corner(x, pix, blocks, fit, ref, ref_txt)
        halign[pix], valign[pix] = ha, va
        offset = MARGIN_FRAC
        for o, txt in (blocks if va == "top" else blocks[::-1]):
            xf = MARGIN_FRAC if ha == "left" else 1 - MARGIN_FRAC
            yf = 1 - offset if va == "top" else offset
            texts[pix + (o,)] = txt
            tpos[pix + (o,)] = [_log_pos(x.x_lo[pix], x.x_hi[pix], xf), _log_pos(x.y_lo[pix], x.y_hi[pix], yf)]
            offset += LINE_FRAC * (txt.count("\n") + 1) + 0.02
    return texts, tpos, halign, valign


def _emptiest_corner(x, pix, blocks, fit, ref, ref_txt):
    """``(horizontal, vertical)`` alignment of the corner of a mass panel holding fewest drawn points.

    Ties go to the first (upper left).
    """
    n_lines = sum(t.count("\n") + 1 for _, t in blocks)
    height = n_lines * LINE_FRAC + 0.02 * (len(blocks) - 1) + MARGIN_FRAC
    width = min(0.95, CHAR_FRAC * max(len(line) for _, t in blocks for line in t.split("\n")) + MARGIN_FRAC)
    pts = _drawn_points(pix, x.r, x.m, x.pos, fit, ref, ref_txt, x.x_lo, x.x_hi, x.y_lo, x.y_hi)
    corners = {  # (x from, x to, y from, y to) in axes fractions
        ("left", "top"): (0, width, 1 - height, 1),
        ("right", "bottom"): (1 - width, 1, 0, height),
        ("right", "top"): (1 - width, 1, 1 - height, 1),
        ("left", "bottom"): (0, width, 0, height),
    }
    counts = {key: int(((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)).sum())
              for key, (x0, x1, y0, y1) in corners.items()}
    return min(counts, key=lambda key: counts[key])


def _asymptote_texts(x, labels):
    """Texts and positions of the asymptote ``a`` in the slope view, one row per overlay entry.

    From draws, a = inf is drawn at the interval's lower end (the slope the nearest draws support);
    an exact tier's a = inf gets no line, only the text.
    """
    a, alo, ahi, a_fin = x.a, x.alo, x.ahi, x.a_fin
    a_str = np.full(x.P + (x.O,), "", dtype=object)
    a_pos = np.full(x.P + (x.O, 2), np.nan)
    for pix in np.ndindex(*x.P):
        row = 0
        for o in range(x.O):
            ix = pix + (o,)
            exact_inf = bool(np.isposinf(a[ix]) and np.isposinf(alo[ix]))  # exact tiers: no line, the text
            if not (np.isfinite(a_fin[ix]) or exact_inf) or not np.isfinite(x.sy_lo[pix] + x.sy_hi[pix]):
                continue
            pref = f"{labels[o]}: " if labels else ""
            if exact_inf:
                a_str[ix] = f"{pref}a = ∞ ({_exact_inf_reason(x.lattice is not None and bool(x.lattice[ix]))})"
            elif np.isinf(a[ix]):
                a_str[ix] = f"{pref}a = ∞ [{_fmt(alo[ix])}, ∞] (line: lower end)"
            else:
                a_str[ix] = f"{pref}a = {_fmt(a[ix])} [{_fmt(alo[ix])}, {_fmt(ahi[ix])}]"
            yf = 1 - MARGIN_FRAC - row * LINE_FRAC
            a_pos[ix] = [_log_pos(x.x_lo[pix], x.x_hi[pix], 1 - MARGIN_FRAC),
                         x.sy_lo[pix] + yf * (x.sy_hi[pix] - x.sy_lo[pix])]
            row += 1
    return a_str, a_pos


def axis_labels(pdata):
    """x label, mass y label, slope y label (with units)."""
    norm = pdata.attrs.get("norm", "euclidean")
    xlabel = "radius r"
    if norm in ("scaled", "scaled_max"):
        xlabel += " [posterior sd]"
    if int(pdata.attrs.get("joint", 0)):
        xlabel += f" ({norm} norm)"
    return xlabel, "mass m(r)", "slope d log m / d log r"


def panel_title(var_name, sel, isel=None, labeller=None):
    """ArviZ-style title ``theta[Choate] @ mean`` (the labeller formats the element part).

    Examples
    --------
    >>> panel_title("theta", {"school": "Choate", "center": "mean"})
    'theta[Choate] @ mean'
    """
    el_sel = {k: v for k, v in sel.items() if k not in _EXTRA_DIMS and k != "panel"}
    if labeller is None:
        if el_sel:
            base = f"{var_name}[{', '.join(str(v) for v in el_sel.values())}]"
        else:
            base = str(var_name)
    else:
        el_isel = {k: (isel or {}).get(k, 0) for k in el_sel}
        base = labeller.make_label_flat(var_name, el_sel, el_isel)
    center = sel.get("center")
    return base if center is None else f"{base} @ {center}"


#: the visuals each line-style key entry stands for, in the mass and the slope view (an
#: entry is left out when none of them is drawn)
KEY_VISUALS = (("mass", "slope"), ("mass_unresolved", "slope_unresolved"), ("mass_band", "slope_band"),
               ("fit", "asymptote"), ("reference", "slope_reference"))


def key_kept(visuals, kind):
    """Which of the five key entries stay: one of their visuals is drawn in the views of ``kind``.

    Examples
    --------
    >>> key_kept({"fit": False}, "both")
    [True, True, True, True, True]
    >>> key_kept({"fit": False}, "mass")
    [True, True, True, False, True]
    """
    views = ("mass", "slope") if kind == "both" else (kind,)
    return [any((visuals or {}).get(v, True) is not False for v, view in zip(pair, ("mass", "slope"))
                if view in views) for pair in KEY_VISUALS]


def check_kind(kind):
    if kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def as_sequence(value):
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value]
    return list(value)
