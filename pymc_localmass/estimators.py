"""The xarray layer: local masses and Mass Indices per variable, element and centre.

Thin wrappers that map the numpy core over variables and elements with
``xarray.apply_ufunc`` (dask-backed data flows through, one chunk of elements
at a time) and build the results datasets of docs/schema.md.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from . import _validate
from ._api import CentersLike, Coords, DataLike, FilterVars, Group, Method, Norm, RadiiLike, VarNames, given, public
from ._compat import default_ci_prob, is_datatree, is_inferencedata
from .adapters import INDEPENDENT_GROUPS, SAMPLE_DIMS, divergences, select_coords, select_vars, to_dataset
from .core.curves import (CURVE_STATS, INDEX_STATS, STATUS_WORDS, ConstantError, NonFiniteError,
                          no_draws_value)
from .core.distances import NORMS, joint_distances
from .core.index import fit_index_curve
from .core.lattice import lattice, nearest_lattice_gap, safe_std
from .core.rescale import rescaled_local_mass_curves
from .errors import InvalidInputError, InvalidTypeError, UnknownNameError
from .results import (CURVE_GROUP, attach, base_attrs, joint_center_label, merge_curves, read,
                      stored_centers, validate)

CENTER_KEYWORDS = ("mean", "median", "mode", "boundary", "map")
METHODS = ("auto", "samples", "analytic", "model")
#: modules providing the other estimator tiers; each exposes
#: ``compute(data, **same keywords as _compute) -> (curves, index)``
TIER_MODULES = {"analytic": "pymc_localmass.approx_tier", "model": "pymc_localmass.model_tier"}
_PROGRESS_THRESHOLD = 5e7  # element-draws above which a progress bar is shown by default


# ----------------------------------------------------------------------------- centres
def _center_label(spec):
    if isinstance(spec, str):
        return spec
    if isinstance(spec, numbers.Number):
        return f"{float(spec):g}"
    return "array"


def _normalise_centers(centers, var_names):
    """{var: [(label, spec), ...]} from the many accepted forms of ``centers``."""

    def several(spec):
        if isinstance(spec, Mapping):
            return [(str(k), v) for k, v in spec.items()]
        if isinstance(spec, (list, tuple)):
            out = []
            for item in spec:
                out.extend(several(item))
            return out
        if isinstance(spec, str) and spec not in CENTER_KEYWORDS:
            raise InvalidInputError(f"unknown centre keyword {spec!r}; expected a number, an array or one of "
                                    f"{CENTER_KEYWORDS}")
        if not isinstance(spec, (str, numbers.Number, np.ndarray, xr.DataArray)):
            raise InvalidTypeError(f"centers: cannot use {type(spec).__name__} as a centre")
        return [(_center_label(spec), spec)]

    if isinstance(centers, Mapping):
        unknown = [k for k in centers if k not in var_names]
        if unknown:
            raise UnknownNameError(
                f"centers given for unknown or unselected variable(s) {unknown}; selected: {var_names} "
                "(a mapping of centres is keyed by variable; label several centres with a nested "
                "mapping, e.g. {'tau': {'zero': 0.0, 'mean': 'mean'}})"
            )
        out = {v: several(centers.get(v, "mean")) for v in var_names}
    else:
        specs = several(centers)
        out = {v: specs for v in var_names}
    for v, specs in out.items():
        labels = [lab for lab, _ in specs]
        if len(set(labels)) != len(labels):
            # disambiguate repeated labels such as two arrays
            seen = {}
            fixed = []
            for lab, spec in specs:
                seen[lab] = seen.get(lab, 0) + 1
                fixed.append((lab if seen[lab] == 1 else f"{lab}{seen[lab]}", spec))
            out[v] = fixed
    return out


def _map_point(model):
    import pymc as pm

    with model:
        return pm.find_MAP(progressbar=False)


def _center_values(da, spec, var, *, model=None, map_cache=None):
    """Centre of each element as a DataArray over the element dims, or a keyword for the core."""
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    template_shape = tuple(da.sizes[d] for d in el_dims)
    if isinstance(spec, str):
        if spec in ("mean", "median", "mode"):
            return spec
        if spec == "boundary":
            lo = float(da.min())
            hi = float(da.max())
            if lo >= 0:
                return 0.0
            if hi <= 0:
                return 0.0
            raise InvalidInputError(
                f"centre 'boundary' for variable {var!r}: its draws take both signs, so no support "
                "boundary can be inferred; pass the boundary as a number"
            )
        if spec == "map":
            if model is None:
                raise InvalidInputError(f"centre 'map' for variable {var!r} needs model=<pymc.Model>")
            if "point" not in map_cache:
                map_cache["point"] = _map_point(model)
            if var not in map_cache["point"]:
                raise UnknownNameError(f"centre 'map' for variable {var!r}: not a free variable of the model "
                                       f"(no MAP value); its free variables: {sorted(map_cache['point'])}")
            val = np.asarray(map_cache["point"][var], float)
            if val.shape != template_shape:
                raise InvalidInputError(
                    f"centre 'map' for variable {var!r}: the model's MAP has shape {val.shape}, the draws' "
                    f"elements {template_shape} (dims {el_dims}); pass the model that produced these draws")
            return xr.DataArray(val, dims=el_dims)
    if isinstance(spec, numbers.Number):
        if not np.isfinite(spec):
            raise InvalidInputError(f"centre for variable {var!r} must be finite, got {spec}")
        return float(spec)
    if isinstance(spec, xr.DataArray):
        extra = [d for d in spec.dims if d not in el_dims]
        if extra:
            raise ValueError(f"centre for variable {var!r} has dims {extra} that the variable lacks ({el_dims})")
        # matched by label where both carry coordinates (any order, a superset of the selected ones)
        for d in spec.dims:
            if d in spec.coords and d in da.coords:
                want = da[d].values
                missing = [v for v in want.tolist() if v not in set(spec[d].values.tolist())]
                if missing:
                    raise KeyError(f"centre for variable {var!r} has no value for {d}={missing}")
                spec = spec.sel({d: want})
            elif spec.sizes[d] != da.sizes[d]:
                raise ValueError(f"centre for variable {var!r} has {spec.sizes[d]} values along {d!r}, "
                                 f"the variable {da.sizes[d]}")
        if not np.isfinite(spec.values).all():
            raise ValueError(f"centre for variable {var!r} contains NaN or inf")
        return spec.astype(float)
    arr = np.asarray(spec, dtype=float)
    try:
        arr = np.broadcast_to(arr, template_shape)
    except ValueError:
        raise InvalidInputError(
            f"centre for variable {var!r} has shape {np.shape(spec)}, expected {template_shape} "
            f"(the variable's element dims {el_dims}) or a shape that broadcasts to it"
        ) from None
    if not np.isfinite(arr).all():
        raise ValueError(f"centre for variable {var!r} contains NaN or inf")
    return xr.DataArray(arr, dims=el_dims, coords={d: da[d] for d in el_dims if d in da.coords})


# ----------------------------------------------------------------------------- helpers
def _check_radii(radii, var):
    if radii is None:
        return None
    r = np.asarray(radii, dtype=float)
    if r.ndim != 1 or r.size == 0:
        raise InvalidInputError(f"radii for {var!r} must be a non-empty 1-D array of absolute radii, got shape {r.shape}")
    if not np.isfinite(r).all():
        raise InvalidInputError(f"radii for {var!r} must be finite")
    if (r <= 0).any():
        raise InvalidInputError(f"radii for {var!r} must be > 0, got {r[r <= 0][:3].tolist()}")
    if np.unique(r).size != r.size:
        raise InvalidInputError(f"radii for {var!r} contain duplicates")
    return np.sort(r)


def _radii_for(radii, var):
    if isinstance(radii, Mapping):
        return _check_radii(radii.get(var), var)
    return _check_radii(radii, var)


def _grid_rule(radii, names, joint, n_radii, min_ess):
    """The ``grid_rule`` attribute: explicit radii, the automatic grid, or which variables have which."""
    auto = f"auto: {int(n_radii)} log-spaced radii from the {min_ess:g}-th nearest draw to one posterior sd"
    if radii is None:
        return auto
    if not isinstance(radii, Mapping):
        return "explicit"
    given = [n for n in (["+".join(names)] if joint else names) if n in radii]
    if len(given) == (1 if joint else len(names)):
        return "explicit"
    if not given:
        return auto
    return f"explicit for {', '.join(given)}; {auto} for the others"


def _check_sample_dims(ds, var, independent=False):
    n_chain, n_draw = ds.sizes["chain"], ds.sizes["draw"]
    if n_chain < 2 and not independent:
        raise InvalidInputError(
            f"variable {var!r} has a single chain; local-mass intervals of MCMC draws need at least 2 chains "
            "(run more chains; for independent draws, e.g. an approximation's, pass independent=True)"
        )
    from .core.curves import MIN_DRAWS_PER_CHAIN

    if n_draw < MIN_DRAWS_PER_CHAIN:
        raise InvalidInputError(
            f"variable {var!r} has only {n_draw} draws per chain; need at least {MIN_DRAWS_PER_CHAIN}"
        )


def _element_name(da, flat_index):
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    if not el_dims:
        return str(da.name)
    idx = np.unravel_index(flat_index, [da.sizes[d] for d in el_dims])
    labels = []
    for d, i in zip(el_dims, idx):
        labels.append(str(da[d].values[i]) if d in da.coords else str(i))
    return f"{da.name}[{', '.join(labels)}]"


class _Progress:
    """A tqdm bar over elements, opened at the first update (dask-backed work shows dask's own instead)."""

    def __init__(self, total, enabled):
        self.bar = None
        self.total = total
        self.enabled = bool(enabled)

    def __call__(self, n):
        if self.enabled and self.bar is None:
            from ._compat import progress_bar

            self.bar = progress_bar(self.total, "local mass", "element")
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _streams(da, center):
    """Whether a variable is streamed chunk by chunk of draws (:mod:`._streaming`)."""
    if da.chunks is None or (isinstance(center, str) and center == "mode"):
        return False
    sizes = dict(zip(da.dims, da.chunks))
    return any(len(sizes[d]) > 1 for d in SAMPLE_DIMS)


def _as_element_array(value, el_dims):
    if value is None or isinstance(value, (str, float, int)):
        return value
    return np.asarray(value.transpose(*el_dims).values, float)


def _apply_streamed(da, center, *, scale, r_max, core_kwargs, progressbar):
    """The core over a dask-backed variable chunked along its draws, without gathering them."""
    from ._streaming import stream_dask

    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    arr = da.transpose(*el_dims, *SAMPLE_DIMS).data
    kwargs = {k: v for k, v in core_kwargs.items() if k not in ("progress", "center")}
    curves, index = stream_dask(arr, center=_as_element_array(center, el_dims),
                                scale=_as_element_array(scale, el_dims), r_max=_as_element_array(r_max, el_dims),
                                progressbar=progressbar, **kwargs)
    coords = {k: v for k, v in da.coords.items() if set(v.dims) <= set(el_dims)}
    return (xr.DataArray(curves, dims=[*el_dims, "radius", "local_stat"], coords=coords),
            xr.DataArray(index, dims=[*el_dims, "index_stat"], coords=coords))


def _apply_core(da, center, *, var, scaled, radii, n_radii, ci_prob, min_ess, window, nan_policy,
                progress, r_max=None, scale=None, divergent=None, independent=False):
    """apply_ufunc over the elements of one variable (or a joint distance) for one centre."""
    R = n_radii if radii is None else len(radii)
    kwargs = dict(scaled=scaled, radii=radii, n_radii=R, ci_prob=ci_prob, min_ess=min_ess,
                  window=window, nan_policy=nan_policy, progress=progress, divergent=divergent,
                  independent=independent)
    if isinstance(center, str):
        kwargs["center"] = center
        args = [da]
        core_dims = [list(SAMPLE_DIMS)]

        def func(x):
            return rescaled_local_mass_curves(x, **kwargs)
    elif center is None:  # joint distances
        args = [da, scale]
        core_dims = [list(SAMPLE_DIMS), []]

        def func(x, s):
            return rescaled_local_mass_curves(x, s, r_max=r_max, **kwargs)
    else:
        args = [da, xr.DataArray(center) if not isinstance(center, xr.DataArray) else center]
        core_dims = [list(SAMPLE_DIMS), []]

        def func(x, c):
            return rescaled_local_mass_curves(x, center=c, **kwargs)

    dask_progress = False
    if da.chunks is not None:
        # a tqdm bar in the task graph would not pickle (dask.distributed): dask's own bar instead
        dask_progress = bool(getattr(progress, "enabled", False))
        kwargs["progress"] = None
        if not _streams(da, center):
            args[0] = da.chunk({"chain": -1, "draw": -1})
    try:
        if _streams(da, center):
            return _apply_streamed(da, center, scale=scale, r_max=r_max, core_kwargs=kwargs,
                                   progressbar=dask_progress)
        curves, index = xr.apply_ufunc(
            func,
            *args,
            input_core_dims=core_dims,
            output_core_dims=[["radius", "local_stat"], ["index_stat"]],
            dask="parallelized",
            output_dtypes=[float, float],
            dask_gufunc_kwargs={"output_sizes": {"radius": R, "local_stat": len(CURVE_STATS),
                                                 "index_stat": len(INDEX_STATS)}},
        )
        if curves.chunks is not None:
            from ._streaming import compute

            curves, index = compute([curves, index], dask_progress)
    except NonFiniteError as err:
        advice = ("that is with nan_policy='omit' (the non-finite draws left out)"
                  if nan_policy == "omit" else "pass nan_policy='omit' to leave them out")
        raise InvalidInputError(
            f"variable {var!r} has non-finite draws (NaN or inf) at {_element_name(da, err.element)}: {err}; "
            f"{advice}"
        ) from None
    except ConstantError as err:
        raise InvalidInputError(
            f"variable {var!r} is constant (zero variance) at {_element_name(da, err.element)}; "
            "a local mass needs draws that vary"
        ) from None
    except ValueError as err:
        raise InvalidInputError(f"variable {var!r}: {err}") from None
    return curves, index


def _joint_inputs(ds, var_names, centers, norm, model, map_cache):
    """Stack the selected variables' elements into one coordinate axis."""
    parts, cparts, sd_parts = [], [], []
    labels = []
    for var in var_names:
        da = ds[var]
        el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
        flat = da.stack(__coord__=el_dims) if el_dims else da.expand_dims(__coord__=[0])
        flat = flat.drop_vars([c for c in flat.coords if c not in SAMPLE_DIMS])
        flat = flat.transpose(*SAMPLE_DIMS, "__coord__")
        specs = centers[var]
        if len(specs) != 1:
            raise ValueError(f"joint=True takes one centre per variable; {var!r} has {len(specs)}")
        label, spec = specs[0]
        labels.append(f"{var}={label}")
        c = _center_values(da, spec, var, model=model, map_cache=map_cache)
        if isinstance(c, str):
            c = {"mean": da.mean(SAMPLE_DIMS), "median": da.median(SAMPLE_DIMS)}.get(c)
            if c is None:
                raise ValueError("centre 'mode' is not available for joint balls; pass numbers or 'mean'")
        c = xr.DataArray(np.broadcast_to(np.asarray(c, float), [da.sizes[d] for d in el_dims])
                         .reshape(-1), dims="__coord__")
        parts.append(flat.assign_coords(__coord__=np.arange(flat.sizes["__coord__"])))
        cparts.append(c)
        sd_parts.append(xr.apply_ufunc(safe_std, flat.stack(__s__=SAMPLE_DIMS), input_core_dims=[["__s__"]],
                                       dask="parallelized", output_dtypes=[float]))
    X = xr.concat(parts, dim="__coord__", coords="minimal", compat="override")
    C = xr.concat(cparts, dim="__coord__")
    sd = xr.concat(sd_parts, dim="__coord__")
    if (sd <= 0).any():
        raise InvalidInputError("joint ball: a coordinate has zero variance")
    Xc = X.chunk({"__coord__": -1}) if X.chunks is not None else X
    dist = xr.apply_ufunc(
        lambda x, c, s: joint_distances(np.moveaxis(x, -1, 0), c, norm=norm, sd=s),
        Xc, C.drop_vars(list(C.coords)), sd.drop_vars(list(sd.coords)),
        input_core_dims=[["__coord__"], ["__coord__"], ["__coord__"]],
        dask="parallelized", output_dtypes=[float],
    )
    d = X.sizes["__coord__"]
    sdv = sd.values
    if norm == "euclidean":
        top = float(sdv.max())  # sqrt(sum sd^2) without overflow or underflow
        scale = top * float(np.sqrt(((sdv / top) ** 2).sum()))
    elif norm == "max":
        scale = float(sdv.max())
    elif norm == "scaled":
        scale = float(np.sqrt(d))
    else:
        scale = 1.0
    center_vec = np.concatenate([np.asarray(c.values).reshape(-1) for c in cparts])
    return dist, scale, joint_center_label(labels), center_vec, _lattice_jump(X, center_vec, sdv, norm)


def _lattice_jump(X, centre, sd, norm):
    """Smallest radius at which a lattice coordinate's next lattice point enters the ball.

    There the joint mass jumps (a discrete coordinate's next value), which no
    smooth local model of log m(r) spans; None without integer coordinates.
    """
    vals = np.asarray(X.transpose("__coord__", *SAMPLE_DIMS).values)
    spacing, offset = lattice(vals.reshape(vals.shape[0], -1), integer=vals.dtype.kind in "iub")
    integer = np.isfinite(spacing)
    if not integer.any():
        return None
    jump = nearest_lattice_gap(centre[integer], spacing[integer], offset[integer])
    if norm in ("scaled", "scaled_max"):
        jump = jump / sd[integer]
    return float(np.min(jump))


# ----------------------------------------------------------------------------- public API
def _is_approximation(data):
    """A fitted approximation object (PyMC ADVI, pymc-extras Laplace/DADVI/Pathfinder), not draws."""
    try:
        from .adapters.approx import is_approximation
    except ImportError:
        return False
    return is_approximation(data)


def independent_draws(data, group, ds=None):
    """Whether a group holds independent draws (ESS = number of draws, one chain is enough).

    True for forward-sampled groups (``prior``, ``prior_predictive``), for a
    Dataset whose attrs say ``independent = 1`` (or True), and for a
    container's single-chain group without sampler statistics (an empty or
    absent ``sample_stats``) written by PyMC, which is what ``approx.sample()``
    returns. ``pm.sample`` always writes sampler statistics, so one chain of
    MCMC stays an error.
    """
    if isinstance(group, str) and group in INDEPENDENT_GROUPS:
        return True
    attrs = getattr(ds, "attrs", None) or getattr(data, "attrs", None) or {}
    flag = attrs.get("independent", attrs.get("independent_draws"))
    if flag is not None and str(flag).lower() in ("1", "true"):
        return True
    if (is_datatree(data) or is_inferencedata(data)) and ds is not None and ds.sizes.get("chain", 0) == 1 \
            and str(attrs.get("inference_library", "")).lower() == "pymc":
        from ._compat import container_groups, get_group

        if "sample_stats" not in container_groups(data):
            return True
        stats = get_group(data, "sample_stats")
        return not any(set(SAMPLE_DIMS) <= set(stats[v].dims) for v in stats.data_vars)
    return False


def _compute(data, *, group="posterior", **kwargs):
    if isinstance(group, str):
        return _compute_one(data, group=group, **kwargs)
    return _compute_groups(data, group, **kwargs)


def _compute_groups(data, groups, *, centers="mean", radii=None, n_radii=25, joint=False, **kwargs):
    """Several groups (e.g. prior and posterior) at the same centres and radii, along dim ``group``.

    Centres given as keywords are resolved on the first group, and the radii
    are the first group's (explicit radii as given; the automatic grid as one
    log-spaced grid per variable spanning the first group's), so every group
    is evaluated on the same balls.
    """
    groups = [str(g) for g in groups] if isinstance(groups, (list, tuple)) else None
    if not groups or len(set(groups)) != len(groups):
        raise ValueError(f"group must be a group name or a list of distinct group names, got {groups!r}")
    if joint and not _all_numeric(centers):
        raise ValueError("several groups with joint=True need numeric centres (a keyword such as 'mean' would "
                         "be resolved on each group's own draws)")
    one = dict(n_radii=n_radii, joint=joint, **kwargs)
    first = _compute_one(data, group=groups[0], centers=centers, radii=radii, **one)
    clash = [n for n, da in first[0].data_vars.items() if "group" in da.dims]
    if clash:
        raise ValueError(f"variable(s) {clash} have a dimension 'group', the dim that several groups are "
                         "stacked along; rename it, or analyse one group at a time")
    if radii is None:  # one grid per variable spanning the first group's, and the first group on it
        radii = spanning_grids(first[0], list(first[0].data_vars), int(n_radii))
        first = _compute_one(data, group=groups[0], centers=centers, radii=radii, **one)
    if not joint:  # the first group's centre values, for every group
        centers = stored_centers(first[1], list(first[1].data_vars))
    parts = [first] + [_compute_one(data, group=g, centers=centers, radii=radii, **one) for g in groups[1:]]
    # the new dim comes first in every variable: (group, *dims, center, ..., stat)
    dim = xr.DataArray(list(groups), dims="group", name="group")
    curves = xr.concat([c for c, _ in parts], dim=dim, combine_attrs="override")
    index = xr.concat([i for _, i in parts], dim=dim, combine_attrs="override")
    for ds in (curves, index):
        ds.attrs = dict(parts[0][0].attrs)
        ds.attrs["groups"] = ",".join(groups)
        ds.attrs["source_group"] = ",".join(groups)
        ds.attrs["group_tiers"] = ",".join(f"{g}:{c.attrs.get('tier', '')}" for g, (c, _) in zip(groups, parts))
        for key in ("n_chains", "n_draws"):  # each group's own, in the order of `groups`
            if all(key in c.attrs for c, _ in parts):
                ds.attrs[key] = np.array([int(c.attrs[key]) for c, _ in parts])
    return curves, index


#: a variable's shared grid has at most this many times n_radii points
MAX_GRID_FACTOR = 4


def spanning_grids(curves, names, n_radii):
    """One log-spaced grid per variable spanning the reference's automatic grids.

    The regions of a variable (elements x centres) have their own automatic
    grids; the shared grid spans them all, with as many points as keep every
    region's resolution (``n_radii`` over the narrowest region's span: a
    centre the draws crowd, such as the mean, otherwise coarsens the grid at
    a sparse one, such as a boundary), at most ``MAX_GRID_FACTOR * n_radii``;
    the same number for every variable.
    """
    bounds, counts = {}, []
    for n in names:
        r = np.asarray(curves[n].sel(local_stat="radius").values, float)
        rows = r.reshape(-1, r.shape[-1])
        spans = []
        for row in rows:
            row = row[np.isfinite(row) & (row > 0)]
            if row.size >= 2 and row.max() > row.min():
                spans.append(math.log(row.max() / row.min()))
        flat = r[np.isfinite(r) & (r > 0)]
        lo, hi = float(flat.min()), float(flat.max())
        bounds[n] = (lo, hi)
        if spans and hi > lo:
            counts.append(math.ceil(n_radii * math.log(hi / lo) / min(spans) - 1e-9))
    k = int(min(max([n_radii, *counts]), MAX_GRID_FACTOR * n_radii))
    return {n: np.geomspace(lo, hi, k) for n, (lo, hi) in bounds.items()}


def _all_numeric(centers):
    if isinstance(centers, Mapping):
        return all(_all_numeric(v) for v in centers.values())
    if isinstance(centers, (list, tuple)):
        return all(_all_numeric(v) for v in centers)
    return not isinstance(centers, str)


def _compute_one(data, *, var_names=None, filter_vars=None, coords=None, group="posterior", centers="mean",
                 radii=None, n_radii=25, norm="euclidean", joint=False, method="auto", model=None,
                 ci_prob=None, min_ess=10.0, window=None, nan_policy="raise", progressbar=None,
                 independent=None):
    _validate.check_arguments(n_radii=n_radii, min_ess=min_ess, model=model, centers=centers, radii=radii)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    tier = method
    extra = {}
    if _is_approximation(data):
        # every method of an approximation is the approximation tier's: exact where it
        # can be ("analytic" insists), or its own draws ("samples")
        if method == "model":
            raise ValueError("method='model' integrates a PyMC model's density over posterior draws; "
                             "for an approximation use method='auto', 'analytic' or 'samples'")
        tier, extra = "analytic", {"method": method}
    elif method == "auto":
        tier = "samples"
    elif method == "analytic":
        raise ValueError(f"method='analytic' needs a fitted Gaussian approximation (pm.fit(method='advi' or "
                         f"'fullrank_advi'), a pymc-extras Laplace or DADVI fit); got {type(data).__name__}. "
                         "For posterior draws use method='samples' or 'model'")
    if tier != "samples":
        import importlib

        try:
            module = importlib.import_module(TIER_MODULES[tier])
        except ImportError as err:  # pragma: no cover - depends on the installation
            raise NotImplementedError(f"method={tier!r} is not available: {err}") from None
        return module.compute(data, var_names=var_names, filter_vars=filter_vars, coords=coords, group=group,
                              centers=centers, radii=radii, n_radii=n_radii, norm=norm, joint=joint,
                              model=model, ci_prob=ci_prob, min_ess=min_ess, window=window,
                              nan_policy=nan_policy, progressbar=progressbar, **extra)
    ci_prob = default_ci_prob() if ci_prob is None else float(ci_prob)
    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be in (0, 1), got {ci_prob}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    if int(n_radii) < 2:
        raise ValueError(f"n_radii must be at least 2, got {n_radii}")
    ds = to_dataset(data, group)
    independent = independent_draws(data, group, ds) if independent is None else bool(independent)
    names = select_vars(ds, var_names, filter_vars)
    if not names:
        raise ValueError(f"no variables selected from group {group!r}")
    _validate.check_draws(ds, names, group)
    _validate.check_mapping_keys(radii, names + (["+".join(names)] if joint else []), "radii")
    ds = select_coords(ds[names], coords)
    for var in names:
        _check_sample_dims(ds, var, independent)
    cmap = _normalise_centers(centers, names)
    map_cache = {}
    n_chain, n_draw = ds.sizes["chain"], ds.sizes["draw"]
    total = sum(int(np.prod([ds[v].sizes[d] for d in ds[v].dims if d not in SAMPLE_DIMS], dtype=int))
                * len(cmap[v]) for v in names)
    show = progressbar if progressbar is not None else total * n_chain * n_draw > _PROGRESS_THRESHOLD
    progress = _Progress(total if not joint else 1, bool(show))
    curves_vars, index_vars = {}, {}
    scaled = norm in ("scaled", "scaled_max")
    common = dict(n_radii=int(n_radii), ci_prob=ci_prob, min_ess=min_ess, window=window,
                  nan_policy=nan_policy, progress=progress, independent=independent,
                  divergent=None if independent else divergences(data, group, ds))
    extra_attrs = {"independent": int(independent)}
    try:
        if joint:
            name = "+".join(names)
            if any(ds[v].isnull().any() for v in names) and nan_policy == "raise":
                bad = [v for v in names if ds[v].isnull().any()]
                raise ValueError(f"variable(s) {bad} have non-finite draws; pass nan_policy='omit'")
            dist, scale, label, cvec, jump = _joint_inputs(ds, names, cmap, norm, model, map_cache)
            r = _radii_for(radii, name if isinstance(radii, Mapping) else None)
            jcommon = dict(common)
            if jump is not None and window is None:
                # the index is fitted below the first lattice jump of a discrete coordinate
                from .core.index import window_sizes

                n_total = int(dist.sizes["chain"] * dist.sizes["draw"])
                k_cap = int((dist < jump).sum())
                sizes = [k for k in window_sizes(n_total) if k <= k_cap]
                jcommon["window"] = sizes or [max(k_cap, 5)]
                extra_attrs["index_window_cap"] = jump
            cur, idx = _apply_core(dist, None, var=name, scaled=False, radii=r, scale=scale,
                                   r_max=scale, **jcommon)
            curves_vars[name] = cur.expand_dims(center=[label]).transpose("center", "radius", "local_stat")
            index_vars[name] = idx.expand_dims(center=[label]).transpose("center", "index_stat")
            extra_attrs["center_values"] = ",".join(f"{v:.6g}" for v in cvec)
            extra_attrs["joint_vars"] = ",".join(names)
        else:
            for var in names:
                da = ds[var]
                r = _radii_for(radii, var)
                cur_list, idx_list = [], []
                for label, spec in cmap[var]:
                    c = _center_values(da, spec, var, model=model, map_cache=map_cache)
                    cur, idx = _apply_core(da, c, var=var, scaled=scaled, radii=r, **common)
                    cur_list.append(cur.expand_dims(center=[label]))
                    idx_list.append(idx.expand_dims(center=[label]))
                el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
                curves_vars[var] = xr.concat(cur_list, "center").transpose(*el_dims, "center", "radius", "local_stat")
                index_vars[var] = xr.concat(idx_list, "center").transpose(*el_dims, "center", "index_stat")
    finally:
        progress.close()
    attrs = base_attrs(tier="samples", norm=norm, ci_prob=ci_prob,
                       grid_rule=_grid_rule(radii, names, joint, n_radii, min_ess),
                       source_group=group if isinstance(group, str) else "posterior",
                       joint=joint, n_chains=n_chain, n_draws=n_draw, index_method="local-likelihood",
                       **extra_attrs)
    curves = merge_curves(curves_vars)
    index = xr.merge([v.rename(k).to_dataset() for k, v in index_vars.items()], join="outer",
                     compat="no_conflicts")
    index = index.assign_coords(index_stat=list(INDEX_STATS))
    curves.attrs = dict(attrs)
    index.attrs = dict(attrs)
    return curves, index


_PARAMS_DOC = """
    Parameters
    ----------
    data : DataTree, InferenceData, Dataset or dict of arrays
        Draws with ``chain`` and ``draw`` dims (a dict maps names to arrays
        shaped ``(chain, draw, *shape)``).
    var_names : str or list of str, optional
        Variables to analyse (ArviZ conventions: ``~`` excludes).
    filter_vars : {None, "like", "regex"}, optional
    coords : dict, optional
        Subset of coordinates, e.g. ``{"school": ["Choate"]}``.
    group : str, default "posterior"
    centers : str, number, array, list or mapping, default "mean"
        ``"mean"``, ``"median"``, ``"mode"``, ``"boundary"`` (0 for a
        one-signed variable), ``"map"`` (needs ``model``), a number, an array
        of per-element values, a list/tuple of any of these (several centres
        along dim ``center``), or a mapping ``{var: spec}`` where ``spec`` may
        itself be a mapping ``{label: value}``. Variables missing from a
        mapping use ``"mean"``.
    radii : array_like or mapping, optional
        Absolute radii, honoured exactly (sorted ascending). Default: 25
        log-spaced radii from the distance of the ``min_ess``-th nearest draw
        to one posterior sd.
    n_radii : int, default 25
    norm : {"euclidean", "max", "scaled", "scaled_max"}
        Norm of joint balls; the scaled norms divide each coordinate by its
        posterior sd (radii are then in sd units, elementwise too).
    joint : bool, default False
        One ball over all selected variables' elements together.
    method : {"auto", "samples", "analytic", "model"}
        Estimator tier. ``"auto"``: exact for a Gaussian approximation
        (``pm.fit``, Laplace), else the draws. ``"samples"``: the draws (of
        an approximation: its own). ``"analytic"``: exact masses of an
        approximation, refusing any fallback. ``"model"``: the PyMC model's
        density integrated over posterior draws (needs ``model``), which
        resolves radii far below what the draws can.
    model : pymc.Model, optional
        The model (``method="model"``; ``centers="map"``; transforms of
        pymc-extras fits).
    ci_prob : float, optional
        Interval probability; default the installed ArviZ's
        ``rcParams["stats.ci_prob"]``.
    min_ess : float, default 10
        Effective draws inside a ball below which a radius is unresolved.
    window : int or sequence of int, optional
        Numbers of nearest draws the Mass Index may be fitted on (each from 5
        to the number of draws less 2; several are nested windows, of which
        Lepski's rule picks one per element). Default: 5% to 50% of the draws.
    nan_policy : {"raise", "omit"}
    progressbar : bool, optional
        Default: shown for large inputs (needs ``tqdm``, the ``progress`` extra;
        without it no bar is shown).
    independent : bool, optional
        The draws are independent (not a Markov chain): one chain is
        accepted and the ESS of every ball indicator is the number of draws.
        Default: True for ``prior`` groups and for a container group with one
        chain and no sampler statistics (``approx.sample()``), False
        otherwise (MCMC: at least 2 chains). E.g.
        ``plm.local_mass(approx.sample(2000))`` works as is, and
        ``plm.local_mass({"x": draws[None]}, independent=True)`` for your own
        independent draws shaped ``(1, n)``.
"""


@public()
def local_mass(data: DataLike, *, var_names: VarNames = None, filter_vars: FilterVars = None, coords: Coords = None,
               group: Group = "posterior", centers: CentersLike = "mean", radii: RadiiLike = None,
               n_radii: int = 25, norm: Norm = "euclidean", joint: bool = False, method: Method = "auto",
               model: Any = None, ci_prob: float | None = None, min_ess: float = 10.0,
               window: int | Sequence[int] | None = None, nan_policy: Literal["raise", "omit"] = "raise",
               progressbar: bool | None = None, independent: bool | None = None) -> xr.Dataset:
    """Small-ball mass curves with intervals, per variable element and centre.

    The mass ``m(r) = P(|theta - theta0| <= r)`` is estimated from the draws
    at each radius, with an interval whose width uses the effective sample
    size of the ball indicator (honest under MCMC autocorrelation), the
    finite-radius slope ``d log m / d log r`` with its interval, and a
    resolved flag.
    {params}

    Returns
    -------
    xarray.Dataset
        The ``local_mass`` group of docs/schema.md: each variable with dims
        ``(*dims, center, radius, local_stat)``.

    See Also
    --------
    mass_index : The Mass Index (a, b) and atom weight from the same draws or from these curves.
    add_local_mass : Attach both results to a DataTree or InferenceData.
    summary : One table row per variable element and centre.
    plot_local_mass : Plot the curves, slopes and index.

    Examples
    --------
    >>> import numpy as np, pymc_localmass as plm
    >>> rng = np.random.default_rng(0)
    >>> res = plm.local_mass({{"tau": np.abs(rng.normal(size=(4, 500)))}}, centers={{"tau": 0.0}},
    ...                      radii=[0.1, 0.5])
    >>> res["tau"].sel(local_stat="mass").round(1).values.tolist()   # 2 Phi(r) - 1 = 0.08, 0.38
    [[0.1, 0.4]]
    """
    kwargs = given(local_mass, locals())
    if is_results(data, "local_stat"):
        return _select_results(data, kwargs, "local_mass")
    return _compute(data, **kwargs)[0]


def is_results(data, stat_dim):
    """A results dataset (``local_stat`` or ``index_stat`` axis, no draws), not draws."""
    return isinstance(data, xr.Dataset) and stat_dim in data.dims and not set(SAMPLE_DIMS) <= set(data.dims)


#: what a results dataset passed back in can still be asked: a selection
_RESULT_SELECTION = ("var_names", "filter_vars", "coords")


def _select_results(ds, kwargs, fname, also=()):
    """Select variables/coords of a results dataset; anything else cannot apply to computed results."""
    bad = [k for k in kwargs if k not in _RESULT_SELECTION + tuple(also)]
    if bad:
        raise TypeError(
            f"{fname}() got a results dataset (already computed), to which {', '.join(map(repr, bad))} cannot "
            f"apply; it takes only {', '.join(_RESULT_SELECTION + tuple(also))} here. Call {fname}() on the data "
            "for other centres, radii or settings")
    names = select_vars(ds, kwargs.get("var_names"), kwargs.get("filter_vars"), sample_dims=())
    return select_coords(ds[names], kwargs.get("coords"))


@public()
def mass_index(data: DataLike, *, var_names: VarNames = None, filter_vars: FilterVars = None, coords: Coords = None,
               group: Group = "posterior", centers: CentersLike = "mean", radii: RadiiLike = None,
               n_radii: int = 25, norm: Norm = "euclidean", joint: bool = False, method: Method = "auto",
               model: Any = None, ci_prob: float | None = None, min_ess: float = 10.0,
               window: int | Sequence[int] | None = None, nan_policy: Literal["raise", "omit"] = "raise",
               progressbar: bool | None = None, independent: bool | None = None) -> xr.Dataset:
    """Mass Index (a, b) with intervals and the atom weight, per element and centre.

    From draws, ``a`` and ``b`` come from a local likelihood on the nearest
    draws with a curvature correction (see :mod:`pymc_localmass.core.index`);
    from a ``local_mass`` results dataset (any tier), from a weighted fit of
    its finite-radius slopes. A container with a stored ``local_mass_index``
    group, asked with no settings or only a selection (``var_names``,
    ``filter_vars``, element ``coords``) that the stored results hold entirely,
    returns them; otherwise everything asked is computed from the draws.
    {params}

    Returns
    -------
    xarray.Dataset
        The ``local_mass_index`` group: each variable with dims
        ``(*dims, center, index_stat)``.

    See Also
    --------
    local_mass : The mass curves the index summarises.
    add_local_mass : Attach both results to a DataTree or InferenceData.
    summary : The index as a table, with a status word and note per row.

    Examples
    --------
    >>> import numpy as np, pymc_localmass as plm
    >>> rng = np.random.default_rng(1)
    >>> idx = plm.mass_index({{"x": rng.gamma(2.0, size=(4, 1000))}}, centers=0.0)
    >>> bool(1.4 < float(idx["x"].sel(index_stat="a").item()) < 2.6)
    True
    """
    kwargs = given(mass_index, locals())
    if is_results(data, "local_stat"):
        return _index_from_curves(_select_results(data, kwargs, "mass_index", also=("ci_prob",)),
                                  ci_prob=kwargs.get("ci_prob"))
    if is_results(data, "index_stat"):
        return _select_results(data, kwargs, "mass_index")
    if (is_datatree(data) or is_inferencedata(data)) and set(kwargs) <= set(_RESULT_SELECTION):
        # stored results answer a call that only selects among them (variables, element
        # coords); a variable they lack, or a selection of draws, is computed from the draws
        got = read(data)
        stored = got[1] if got is not None else None
        if stored is not None and set(kwargs.get("coords") or {}) <= set(stored.dims):
            try:
                return _select_results(stored, kwargs, "mass_index")
            except KeyError:
                pass
    return _compute(data, **kwargs)[1]


def _curve_scale(da, radius):
    """Unit of radius for the log term of a curve's index: the tier's own
    (``attrs["index_scale"]``, one per element) when it fits the curve's
    elements, else the largest radius."""
    shape = radius.shape[:-1]  # (*element dims, center)
    given = da.attrs.get("index_scale")
    if given is not None:
        given = np.asarray(given, float).reshape(-1)
        n_el = int(np.prod(shape[:-1], dtype=int))
        if given.size in (1, n_el) and np.all(given > 0):
            return np.broadcast_to(given.reshape(shape[:-1] + (1,)) if given.size == n_el else given[0], shape).copy()
    with np.errstate(all="ignore"), warnings.catch_warnings():  # all-NaN rows: centres not asked for
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(radius, axis=-1)


#: a log index whose interval is wider than this is not identified by the curve
B_UNIDENTIFIED = 50.0


def _curve_atoms(values, mass, lo, hi, resolved):
    """Atom and index conventions for an index fitted on curves (in place).

    A curve that stays flat down to its smallest resolved radius (``a``'s
    interval reaches 0 and ``a < 0.5``) shows an atom: its weight is the
    mass at the smallest resolved radius, with that interval (an upper
    bound's worth of continuous mass included), and the index is (0, 0).
    Otherwise the atom is 0. ``a`` is never below 0, and a ``b`` interval
    wider than ``B_UNIDENTIFIED`` is reported as unidentified ([-inf, inf]).
    """
    I = {lab: i for i, lab in enumerate(INDEX_STATS)}  # noqa: E741
    a = values[..., I["a"]]
    flat = np.isfinite(a) & (a < 0.5) & (values[..., I["a_lower"]] <= 0.0)
    first = np.argmax(resolved, axis=-1)[..., None]
    pick = lambda arr: np.take_along_axis(np.asarray(arr, float), first, axis=-1)[..., 0]  # noqa: E731
    w, wl, wh = pick(mass), pick(lo), pick(hi)
    values[..., I["atom"]] = np.where(flat, w, 0.0)
    values[..., I["atom_lower"]] = np.where(flat, wl, 0.0)
    values[..., I["atom_upper"]] = np.where(flat, wh, 0.0)
    for key in ("a", "a_lower", "a_upper", "b"):
        values[..., I[key]] = np.where(flat, 0.0, values[..., I[key]])
    values[..., I["a"]] = np.maximum(values[..., I["a"]], 0.0)
    wide = ~flat & ((values[..., I["b_upper"]] - values[..., I["b_lower"]]) > B_UNIDENTIFIED)
    values[..., I["b"]] = np.where(wide, 0.0, values[..., I["b"]])
    values[..., I["b_lower"]] = np.where(wide | flat, -np.inf, values[..., I["b_lower"]])
    values[..., I["b_upper"]] = np.where(wide | flat, np.inf, values[..., I["b_upper"]])
    # exactly no mass at any resolved radius: none near the centre at any power
    m = np.asarray(mass, float)
    none = np.any(resolved, axis=-1) & np.all(~resolved | (m == 0), axis=-1)
    for key, val in (("a", np.inf), ("a_lower", np.inf), ("a_upper", np.inf), ("b", np.nan),
                     ("b_lower", -np.inf), ("b_upper", np.inf)):
        values[..., I[key]] = np.where(none, val, values[..., I[key]])


def _index_from_curves(curves, ci_prob=None):
    validate(curves, CURVE_GROUP)
    ci = float(curves.attrs.get("ci_prob", default_ci_prob())) if ci_prob is None else float(ci_prob)
    out = {}
    for name, da in curves.data_vars.items():
        def stat(label):
            return da.sel(local_stat=label).values

        radius = stat("radius")
        scale = _curve_scale(da, radius)
        fit = fit_index_curve(radius, stat("mass"), stat("mass_lower"), stat("mass_upper"),
                              stat("resolved") > 0.5, scale, ci_prob=ci)
        rest = da.isel(radius=0, local_stat=0, drop=True)
        values = np.full(rest.shape + (len(INDEX_STATS),), np.nan)
        for i, lab in enumerate(INDEX_STATS):
            values[..., i] = fit[lab] if lab in fit else no_draws_value(lab)
        # no slope from the curve (fewer than three resolved radii): unresolved
        values[..., INDEX_STATS.index("status")] = np.where(
            np.isnan(values[..., INDEX_STATS.index("a")]), float(STATUS_WORDS.index("unresolved")), 0.0)
        values[..., INDEX_STATS.index("scale")] = scale
        _curve_atoms(values, stat("mass"), stat("mass_lower"), stat("mass_upper"), stat("resolved") > 0.5)
        out[name] = xr.DataArray(values, dims=rest.dims + ("index_stat",),
                                 coords={**{k: v for k, v in rest.coords.items()}, "index_stat": list(INDEX_STATS)})
    ds = xr.Dataset(out)
    ds.attrs = dict(curves.attrs, index_method="curve-slope-fit")
    return ds


@public(renamed={"idata": "data"})
def add_local_mass(data: DataLike, *, inplace: bool = False, merge: bool = True, var_names: VarNames = None,
                   filter_vars: FilterVars = None, coords: Coords = None, group: Group = "posterior",
                   centers: CentersLike = "mean", radii: RadiiLike = None, n_radii: int = 25,
                   norm: Norm = "euclidean", joint: bool = False, method: Method = "auto", model: Any = None,
                   ci_prob: float | None = None, min_ess: float = 10.0, window: int | Sequence[int] | None = None,
                   nan_policy: Literal["raise", "omit"] = "raise", progressbar: bool | None = None,
                   independent: bool | None = None) -> Any:
    """Compute local masses and Mass Indices and attach them as groups.

    Returns the same container type (DataTree or InferenceData) with groups
    ``local_mass`` and ``local_mass_index``; the input is left untouched
    unless ``inplace=True``.

    With ``merge=True`` (the default) results already attached for other
    variables stay beside the new ones when they were computed alike (same
    tier, norm, ci_prob, joint flag, group and number of radii); variables
    computed again are replaced. Otherwise, or with ``merge=False``, the new
    results replace the groups (with a warning naming what is dropped,
    unless ``merge=False``).

    Parameters
    ----------
    data : DataTree or InferenceData
        The container to attach the results to (its draws are analysed).
        Formerly ``idata=``, still accepted with a ``FutureWarning``.
    inplace : bool, default False
        Attach the groups to ``data`` itself instead of a copy.
    merge : bool, default True
        Keep earlier results of other variables when they were computed alike.
    var_names, filter_vars, coords, group, centers, radii, n_radii
        As in :func:`local_mass`.
    norm, joint, method, model, ci_prob, min_ess, window, nan_policy, progressbar, independent
        As in :func:`local_mass`.

    Returns
    -------
    DataTree or InferenceData
        The same container type with groups ``local_mass`` and
        ``local_mass_index`` (``data`` itself when ``inplace=True``).

    See Also
    --------
    local_mass : The curves alone, as a Dataset.
    mass_index : The index alone, as a Dataset.
    pymc_localmass.results.read : Read the attached groups back.

    Examples
    --------
    >>> import numpy as np, arviz as az, pymc_localmass as plm
    >>> rng = np.random.default_rng(2)
    >>> draws = {{"tau": np.abs(rng.normal(size=(4, 300)))}}
    >>> from pymc_localmass._compat import MODERN
    >>> # ArviZ 1.x: a DataTree; ArviZ 0.2x: an InferenceData
    >>> idata = az.from_dict({{"posterior": draws}}) if MODERN else az.from_dict(posterior=draws)
    >>> out = plm.add_local_mass(idata, centers={{"tau": 0.0}})
    >>> plm.results.read(out)[0].attrs["tier"]
    'samples'
    >>> plm.results.read(idata) is None   # the input is untouched
    True
    """
    kwargs = {k: v for k, v in given(add_local_mass, locals()).items() if k not in ("inplace", "merge")}
    if not (is_datatree(data) or is_inferencedata(data)):
        raise TypeError(
            f"add_local_mass needs a DataTree or InferenceData, got {type(data).__name__}; "
            "for a Dataset or dict of arrays use local_mass() and mass_index()"
        )
    curves, index = _compute(data, **kwargs)
    if merge:
        curves, index = _merge_with_existing(read(data), curves, index)
    return attach(data, curves, index, inplace=inplace)


#: attributes that must agree for new results to join earlier ones in the same groups
_MERGE_KEYS = ("tier", "norm", "ci_prob", "joint", "source_group")


def _merge_with_existing(old, curves, index):
    """Earlier results of other variables stay beside the new ones when they are alike.

    Alike: the same tier, norm, ci_prob, joint flag and source group, and the
    same number of radii. Variables computed again are replaced. Otherwise
    the new results replace the old groups, with a warning naming what is
    dropped.
    """
    if old is None or old[1] is None:
        return curves, index
    old_c, old_i = old
    keep = [v for v in old_c.data_vars if v not in curves.data_vars and v in old_i.data_vars]
    if not keep:
        return curves, index
    alike = (all(str(old_c.attrs.get(k)) == str(curves.attrs.get(k)) for k in _MERGE_KEYS)
             and old_c.sizes.get("radius") == curves.sizes.get("radius"))
    if not alike:
        why = [k for k in _MERGE_KEYS if str(old_c.attrs.get(k)) != str(curves.attrs.get(k))] or ["radius"]
        warnings.warn(
            f"add_local_mass: the earlier results for {keep} differ in {', '.join(why)} from the new ones and "
            "are replaced (compute them in one call, or with the same settings, to keep both)",
            UserWarning, stacklevel=3)
        return curves, index
    merged = []
    for new, prev in ((curves, old_c), (index, old_i)):
        ds = xr.merge([prev[keep], new], join="outer", compat="no_conflicts", combine_attrs="override")
        ds = ds[keep + list(new.data_vars)]
        used = [c for c in ds["center"].values
                if any(not bool(ds[v].sel(center=c).isnull().all()) for v in ds.data_vars)]
        ds = ds.sel(center=used)
        ds.attrs = dict(new.attrs)
        merged.append(ds)
    return merged[0], merged[1]


local_mass.__doc__ = local_mass.__doc__.format(params=_PARAMS_DOC.rstrip("\n"))
mass_index.__doc__ = mass_index.__doc__.format(params=_PARAMS_DOC.rstrip("\n"))
add_local_mass.__doc__ = add_local_mass.__doc__.format()


def describe_fit(obj, **kwargs):
    """Facts about a raw fit for the readers (check, report, plots), who do not import the adapters.

    See :func:`pymc_localmass.adapters.describe.describe` for the options and
    the returned :class:`~pymc_localmass.adapters.describe.FitFacts`.
    """
    from .adapters.describe import describe

    return describe(obj, **kwargs)
