"""The samples tier: local masses and Mass Indices from draws, through ``xarray.apply_ufunc``.

The numpy core (:mod:`pymc_localmass.core.curves`, via
:func:`pymc_localmass.core.rescale.rescaled_local_mass_curves`) is mapped
over the elements of each variable for each centre; dask-backed data flows
through, one chunk of elements at a time, or is streamed chunk by chunk of
draws (:mod:`pymc_localmass._streaming`). A joint ball stacks the selected
variables' elements into one distance per draw first.

This is the tier of :mod:`pymc_localmass.tiers` named ``"samples"``; its
:func:`compute` follows the tiers' interface.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr

from .._stack import user_stacklevel
from .. import _validate
from .._centers import normalise_centers

from .._progress import Progress
from .._radii import grid_rule, radii_for
from .._streaming import compute as dask_compute
from .._streaming import stream_dask
from ..adapters import SAMPLE_DIMS, select_coords, select_vars
from ..adapters.source import convert
from ..adapters.pymc import check_model_data, map_point
from ..core.curves import (CURVE_STATS, INDEX_STATS, STATUS_WORDS, MIN_DRAWS_PER_CHAIN, ConstantError, NonFiniteError,
                           constant_rows)
from ..core.distances import joint_distances
from ..core.index import window_sizes
from ..core.lattice import fine_grid, lattice, nearest_lattice_gap, never_varies, safe_std
from ..core.rescale import rescaled_local_mass_curves
from ..errors import InvalidInputError, UnknownNameError, _NonFiniteDraws
from ..results import base_attrs, element_labels, joint_center_label, merge_curves

_PROGRESS_THRESHOLD = 5e7  # element-draws above which a progress bar is shown by default


def _center_values(da, spec, var, *, model=None, map_cache=None):
    """Centre of each element as a DataArray over the element dims, or a keyword for the core.

    Parameters
    ----------
    da : xarray.DataArray
        The variable's draws, dims ``(chain, draw, *element dims)`` in any order.
    spec : str, number, array or DataArray
        One centre as :func:`pymc_localmass._centers.normalise_centers` gives it.
    var : str
        The variable's name (for errors).
    model : pymc.Model, optional
        For ``"map"``, and for ``"boundary"``: the support's end as the model's
        transform gives it (of an interval, the end nearer the draws' median); without a model,
        or for a variable that is not one of its free variables, 0 when
        the draws have one sign.
    map_cache : dict, optional
        Where the model's MAP point (and its supports) are kept between variables.

    Returns
    -------
    str, float or xarray.DataArray
    """
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    template_shape = tuple(da.sizes[d] for d in el_dims)
    if isinstance(spec, str):
        if spec in ("mean", "median", "mode"):
            return spec
        if spec == "boundary":
            if model is not None:  # the model's transforms give the supports of its free variables
                if "supports" not in map_cache:
                    from ..adapters.describe import _model_supports

                    map_cache["supports"] = {sup.name: sup for sup in _model_supports(model)}
                    map_cache["free"] = {rv.name for rv in model.free_RVs}
                sup = map_cache["supports"].get(var)
                if sup is not None:
                    ends = [float(np.unique(e)[0]) for e in (sup.lower, sup.upper)
                            if e is not None and np.unique(e).size == 1]
                    if len(ends) == 2:  # an interval: the end nearer the draws (rho of an AR(1) in (-1, 1)
                        # whose draws lie near 1 took -1, 50 sds away)
                        med = float(da.median())
                        return min(ends, key=lambda e: abs(e - med))
                    if ends:
                        return ends[0]
                elif var in map_cache["free"]:
                    raise InvalidInputError(
                        f"centre 'boundary' for variable {var!r}: its support in the model is unbounded (no "
                        "transform to a half-line or interval), so it has no support boundary; leave it out or "
                        "pass a centre as a number")
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
                check_model_data(model, map_cache.get("data"), "centre 'map'")
                map_cache["point"] = map_point(model)
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
            raise InvalidInputError(f"centre for variable {var!r} has dims {extra} that the variable lacks ({el_dims})")
        # matched by label where both carry coordinates (any order, a superset of the selected ones)
        for d in spec.dims:
            if d in spec.coords and d in da.coords:
                want = da[d].values
                missing = [v for v in want.tolist() if v not in set(spec[d].values.tolist())]
                if missing:
                    raise UnknownNameError(f"centre for variable {var!r} has no value for {d}={missing}")
                spec = spec.sel({d: want})
            elif spec.sizes[d] != da.sizes[d]:
                raise InvalidInputError(f"centre for variable {var!r} has {spec.sizes[d]} values along {d!r}, "
                                 f"the variable {da.sizes[d]}")
        if not np.isfinite(spec.values).all():
            raise InvalidInputError(f"centre for variable {var!r} contains NaN or inf")
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
        raise InvalidInputError(f"centre for variable {var!r} contains NaN or inf")
    return xr.DataArray(arr, dims=el_dims, coords={d: da[d] for d in el_dims if d in da.coords})


def _check_sample_dims(ds, var, independent=False):
    """Enough chains (2, unless the draws are independent) and draws per chain for intervals."""
    n_chain, n_draw = ds.sizes["chain"], ds.sizes["draw"]
    if n_chain < 2 and not independent:
        raise InvalidInputError(
            f"variable {var!r} has a single chain; local-mass intervals of MCMC draws need at least 2 chains "
            "(run more chains; for independent draws, e.g. an approximation's, pass independent=True to "
            "local_mass, mass_index or add_local_mass; for compare, check and report pass the approximation "
            "itself, e.g. the result of pm.fit, or draws in an xarray Dataset with attrs['independent'] = 1)"
        )
    if n_draw < MIN_DRAWS_PER_CHAIN:
        raise InvalidInputError(
            f"variable {var!r} has only {n_draw} draws per chain; need at least {MIN_DRAWS_PER_CHAIN}"
        )


def _element_name(da, flat_index):
    """``var[label, ...]`` of the element at ``flat_index`` of the element dims (for errors)."""
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    if not el_dims:
        return str(da.name)
    idx = np.unravel_index(flat_index, [da.sizes[d] for d in el_dims])
    labels = []
    for d, i in zip(el_dims, idx):
        labels.append(str(da[d].values[i]) if d in da.coords else str(i))
    return f"{da.name}[{', '.join(labels)}]"



def _streams(da, center):
    """Whether a variable is streamed chunk by chunk of draws (:mod:`._streaming`)."""
    if da.chunks is None or (isinstance(center, str) and center == "mode"):
        return False
    sizes = dict(zip(da.dims, da.chunks))
    return any(len(sizes[d]) > 1 for d in SAMPLE_DIMS)


def _as_element_array(value, el_dims):
    """A per-element value as a numpy array in ``el_dims`` order (a keyword, number or None as is)."""
    if value is None or isinstance(value, (str, float, int)):
        return value
    return np.asarray(value.transpose(*el_dims).values, float)


def _apply_streamed(da, center, *, scale, r_max, core_kwargs, progressbar):
    """The core over a dask-backed variable chunked along its draws, without gathering them."""
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
                progress, r_max=None, scale=None, divergent=None, independent=False, boundary=None,
                discrete=None):
    """apply_ufunc over the elements of one variable (or a joint distance) for one centre.

    ``boundary``: for a joint distance, whether the centre is on an edge of the draws;
    ``discrete``: whether its draws' support is a lattice the centre is not on (default: read
    from the draws).
    """
    R = n_radii if radii is None else len(radii)
    kwargs = dict(scaled=scaled, radii=radii, n_radii=R, ci_prob=ci_prob, min_ess=min_ess,
                  window=window, nan_policy=nan_policy, progress=progress, divergent=divergent,
                  independent=independent)
    if boundary is not None:
        kwargs["boundary"] = boundary
    if discrete is not None:
        kwargs["discrete"] = discrete
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
            curves, index = dask_compute([curves, index], dask_progress)
    except NonFiniteError as err:
        advice = ("that is with nan_policy='omit' (the non-finite draws left out)"
                  if nan_policy == "omit" else "pass nan_policy='omit' to leave them out")
        raise _NonFiniteDraws(
            f"variable {var!r} has non-finite draws (NaN or inf) at {_element_name(da, err.element)}: {err}", advice
        ) from None
    except ConstantError as err:
        raise _ConstantElements(
            f"variable {var!r} is constant (zero variance) at {_element_name(da, err.element)}; "
            "a local mass needs draws that vary"
        ) from None
    except ValueError as err:
        raise InvalidInputError(f"variable {var!r}: {err}") from None
    return curves, index


def _finite_std(x):
    """:func:`safe_std` along the last axis of the finite values (draws left out under ``nan_policy="omit"``)."""
    x = np.asarray(x, dtype=float)
    if np.all(np.isfinite(x)):
        return safe_std(x)
    out = np.empty(x.shape[:-1])
    for idx in np.ndindex(out.shape):
        row = x[idx]
        out[idx] = safe_std(row[np.isfinite(row)])
    return out


def _joint_inputs(ds, var_names, centers, norm, model, map_cache):
    """Stack the selected variables' elements into one coordinate axis."""
    parts, cparts, sd_parts = [], [], []
    labels, coord_names = [], []
    for var in var_names:
        da = ds[var]
        el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
        coord_names += [lab for _, lab in element_labels(da.isel({d: 0 for d in SAMPLE_DIMS}), drop=())]
        flat = da.stack(__coord__=el_dims) if el_dims else da.expand_dims(__coord__=[0])
        flat = flat.drop_vars([c for c in flat.coords if c not in SAMPLE_DIMS])
        flat = flat.transpose(*SAMPLE_DIMS, "__coord__")
        specs = centers[var]
        if len(specs) != 1:
            raise InvalidInputError(f"joint=True takes one centre per variable; {var!r} has {len(specs)}")
        label, spec = specs[0]
        labels.append(f"{var}={label}")
        c = _center_values(da, spec, var, model=model, map_cache=map_cache)
        if isinstance(c, str):
            if c not in ("mean", "median"):
                raise InvalidInputError("centre 'mode' is not available for joint balls; pass numbers or 'mean'")
            # (only the one asked for: dask has no median over several axes of a chunked array)
            src = da.compute() if da.chunks is not None and c == "median" else da
            c = src.mean(SAMPLE_DIMS) if c == "mean" else src.median(SAMPLE_DIMS)
        c = xr.DataArray(np.broadcast_to(np.asarray(c, float), [da.sizes[d] for d in el_dims])
                         .reshape(-1), dims="__coord__")
        if flat.chunks is not None:
            # a joint ball's distances need every coordinate of a draw at once: the joint of a few
            # variables is read into memory (streaming over dask chunks is for elementwise balls)
            flat = flat.compute()
        parts.append(flat.assign_coords(__coord__=np.arange(flat.sizes["__coord__"])))
        cparts.append(c)
        sd_parts.append(xr.apply_ufunc(_finite_std, flat.stack(__s__=SAMPLE_DIMS), input_core_dims=[["__s__"]],
                                       dask="parallelized", output_dtypes=[float]))
        flat_sd = np.asarray(sd_parts[-1].values)
        if (flat_sd <= 0).any():  # (int64 draws near 2**60 that vary, but not in float64)
            lost = np.asarray(_varies_beyond_float64(flat).values) & (flat_sd <= 0)
            if lost.any():
                at = int(np.argmax(lost))
                el = flat.isel(__coord__=at)
                raise InvalidInputError("joint ball: " + _float64_collapse_message(
                    var, coord_names[len(coord_names) - lost.size + at], el.min().values.item(),
                    el.max().values.item(), flat.dtype))
    X = xr.concat(parts, dim="__coord__", coords="minimal", compat="override")
    C = xr.concat(cparts, dim="__coord__")
    sd = xr.concat(sd_parts, dim="__coord__")
    if (sd <= 0).any():
        flat_names = [coord_names[i] for i in np.flatnonzero(np.asarray(sd.values) <= 0)]
        verb = "never varies" if len(flat_names) == 1 else "never vary"
        raise InvalidInputError(f"joint ball: {', '.join(flat_names)} {verb} in the draws (zero variance), "
                                "so the ball has no scale along them; leave them out (var_names= or coords=)")
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
    vals = np.asarray(X.transpose("__coord__", *SAMPLE_DIMS).values)  # (coordinate, chain, draw), read once
    unit, top = _principal_unit(vals, sdv, norm, scale)
    # the centre on an edge of the draws (every draw on one side of it in some coordinate: a
    # simplex's corner, a scale's 0 beside other variables): the density there is one-sided, and
    # the index fit models the boundary's curvature, c1 r (a Dirichlet(1, 2, 37) corner, whose
    # density ~ y (1 - x - y)^36, read 2.4 "ok" excluding a = 3 in 7 of 10 replicates)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (an all-NaN coordinate: caught elsewhere)
        lo, hi = np.nanmin(vals, axis=(1, 2)), np.nanmax(vals, axis=(1, 2))
    edge = bool(np.any((lo >= center_vec) | (hi <= center_vec)))
    jump, off_lattice = _lattice_jump(vals, center_vec, sdv, norm)
    return dist, scale, unit, top, joint_center_label(labels), center_vec, jump, off_lattice, edge


#: above this many coordinates the joint ball's unit uses the smallest sd, not the covariance's spectrum
PRINCIPAL_MAX_DIM = 200
#: a joint ball is anisotropic (its windows stop at the smallest principal scale, its unit is the
#: volume-equivalent one) where that scale is below this share of the RMS unit
ANISOTROPY = 0.8


def _principal_unit(vals, sdv, norm, scale):
    """The index's unit and its windows' top for a joint ball: ``(scale, inf)`` for an isotropic posterior.

    A ball's mass grows like ``r^d`` only below the posterior's smallest
    principal scale; above it the narrow directions are filled and the slope
    falls towards the number of wide ones. With ``lambda`` the eigenvalues of
    the coordinates' covariance (the correlation matrix for the scaled norms)
    that are not degenerate (a simplex's sum-to-one direction is), ``d'`` of
    them, the windows stop at ``sqrt(d' lambda_min)`` (``sqrt(lambda_min)`` for
    the max norms), and the unit is the isotropic one of the same volume,
    ``sqrt(d')`` times the geometric mean of ``sqrt(lambda)``: a quarter of it
    holds the same share of the draws near a mode as a quarter of an isotropic
    posterior's unit (:data:`~pymc_localmass.core.index.INTERIOR_REACH`).
    N(0, diag(1, 4, 9, 16, 25)) at its mean read a = 3.9 [3.4, 4.4] "ok" (truth
    5) in 15 of 20 replicates with the RMS unit and no top. Only where the
    posterior is anisotropic (the top below :data:`ANISOTROPY` of ``scale``:
    the smallest sample eigenvalue is low by about ``(1 - sqrt(d / n))^2``
    even when all are equal) does either change. Above
    :data:`PRINCIPAL_MAX_DIM` coordinates the sds stand in for the spectrum
    (correlations are not seen).
    """
    d = sdv.size
    if d < 2:
        return scale, np.inf
    scaled = norm in ("scaled", "scaled_max")
    # (in units of the largest sd, so that draws of any magnitude keep their eigenvalues)
    sd_max = 1.0 if scaled else float(np.max(sdv))
    if d > PRINCIPAL_MAX_DIM:
        ev = np.ones(d) if scaled else (sdv / sd_max) ** 2
    else:
        Y = np.asarray(vals, float).reshape(d, -1).T
        Y = Y[np.all(np.isfinite(Y), axis=1)]  # (draws left out under nan_policy="omit")
        Y = (Y - Y.mean(axis=0)) / (sdv if scaled else sd_max)
        ev = np.linalg.svd(Y, compute_uv=False) ** 2 / max(Y.shape[0] - 1, 1)
        ev = ev[ev > 1e-10 * ev.max()]
    euclid = norm in ("euclidean", "scaled")
    width = np.sqrt(ev.size) if euclid else 1.0
    top = sd_max * width * float(np.sqrt(ev.min()))
    if top >= ANISOTROPY * scale:
        return scale, np.inf
    unit = sd_max * width * float(np.exp(0.5 * np.mean(np.log(ev))))
    return min(unit, scale), top


def _lattice_jump(vals, centre, sd, norm):
    """Smallest radius at which a lattice coordinate's next lattice point enters the ball.

    There the joint mass jumps (a discrete coordinate's next value), which no
    smooth local model of log m(r) spans; None without integer coordinates.
    """
    is_int = vals.dtype.kind in "iub"
    spacing, offset = lattice(vals.reshape(vals.shape[0], -1), integer=is_int)
    # (a float grid of many positions per sd is the digits the draws were written with: continuous)
    integer = np.isfinite(spacing) & ~fine_grid(spacing, sd, integer=is_int)
    if not integer.any():
        return None, False
    jump = nearest_lattice_gap(centre[integer], spacing[integer], offset[integer])
    if norm in ("scaled", "scaled_max"):
        jump = jump / sd[integer]
    # a centre off a lattice coordinate's points (the mean of a switch point, 1890.16): no draw
    # lies nearer than its distance to them, and the joint ball holds no mass within it
    t = (centre[integer] - offset[integer]) / spacing[integer]
    off = bool(np.any(np.abs(t - np.round(t)) > OFF_LATTICE_TOL))
    return float(np.min(jump)), off


#: a joint centre's coordinate further than this share of its lattice's spacing from a lattice
#: point is off the lattice (closer: a point written with rounding, 0.3 for 3 x 0.1)
OFF_LATTICE_TOL = 1e-9


def _one_variable(da, var, specs, *, radii, scaled, model, map_cache, common):
    """Curves and index of one variable's elements at each of its centres (dims ``(*dims, center, ...)``)."""
    r = radii_for(radii, var)
    cur_list, idx_list = [], []
    const = None  # the constant elements, once the first centre finds some (then reused)
    for label, spec in specs:
        c = _center_values(da, spec, var, model=model, map_cache=map_cache)
        cur, idx, const = _apply_with_constants(da, c, const, var=var, scaled=scaled, radii=r, **common)
        cur_list.append(cur.expand_dims(center=[label]))
        idx_list.append(idx.expand_dims(center=[label]))
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    curves = _stack_centers(cur_list).transpose(*el_dims, "center", "radius", "local_stat")
    index = _stack_centers(idx_list).transpose(*el_dims, "center", "index_stat")
    _unit_attr(curves, index)
    _lattice_attr(curves, index, da)
    return curves, index


#: variables of at most this many elements (times their centres) are computed together, one call of
#: the core for all of them (per dtype, kind of centre and radii): a model's many scalars and short
#: vectors each paid the core's and xarray's fixed cost (about 7 ms) in a call of their own
TOGETHER_MAX_ELEMENTS = 256


def _together(ds, names, cmap, *, radii, scaled, model, map_cache, common):
    """Curves and index of the small in-memory variables, computed in one core call per group.

    A group is the variables' centres that share the draws' dtype, the kind
    of centre (a keyword, or values) and the radii; their elements are
    stacked along one axis and the core runs once. Every element is computed
    on its own draws alone, so the numbers are those of a call per variable
    (``tests/test_samples_together.py`` checks they are identical). Left to
    the call per variable (not in the returned dict): dask-backed
    variables, larger ones, ones with a constant element (answered exactly
    there) or non-finite draws, per-element radii, and every variable of a
    group whose call raises (there the error names the variable).

    Returns
    -------
    dict
        ``{var: (curves, index)}``: ``xarray.Variable`` s with the dims of
        :func:`_one_variable`'s DataArrays (for :func:`_assemble`).
    """
    n_chain, n_draw = ds.sizes["chain"], ds.sizes["draw"]
    jobs, groups = {}, {}
    for var in names:
        da = ds[var]
        el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
        shape = tuple(da.sizes[d] for d in el_dims)
        n_el = int(np.prod(shape, dtype=int))
        specs = cmap[var]
        if da.chunks is not None or n_el == 0 or n_el * len(specs) > TOGETHER_MAX_ELEMENTS:
            continue
        r = radii_for(radii, var)
        if r is not None and np.ndim(r) != 1:
            continue
        x = np.asarray(da.transpose(*el_dims, *SAMPLE_DIMS).values).reshape(n_el, n_chain, n_draw)
        # (non-finite draws, left out under nan_policy="omit", switch the core's sums for a whole
        # sub-chunk of elements to their NaN-aware forms, which round differently in the last bits:
        # such a variable runs alone, as before, and the others keep their numbers)
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if np.any(never_varies(x.min(axis=(1, 2)), x.max(axis=(1, 2)), dtype=x.dtype)):
                continue
        cvals = []
        for _, spec in specs:
            try:
                c = _center_values(da, spec, var, model=model, map_cache=map_cache)
            except Exception:  # (raised again by the call per variable, in the variables' order)
                break
            if isinstance(c, xr.DataArray):
                if not set(c.coords) <= set(da.coords):
                    break
                c = c.expand_dims({d: da.sizes[d] for d in el_dims if d not in c.dims}).transpose(*el_dims)
                c = np.asarray(c.values, float).reshape(n_el)
            elif not isinstance(c, str):
                c = np.full(n_el, float(c))
            cvals.append(c)
        else:
            jobs[var] = (len(specs), el_dims, shape, x)
            rkey = None if r is None else tuple(np.asarray(r, float).tolist())
            for i, c in enumerate(cvals):
                key = (x.dtype.str, c if isinstance(c, str) else "values", rkey)
                groups.setdefault(key, []).append((var, i, x, c, r))
    results = {}
    for (_, kind, _), members in groups.items():
        if len(members) < 2:
            continue
        r = members[0][4]
        # (the bar moves once the call is through: a call that raises is run again per variable)
        kw = {k: common[k] for k in ("ci_prob", "min_ess", "window", "nan_policy", "independent", "divergent")}
        center = kind if kind != "values" else np.concatenate([m[3] for m in members])
        try:
            cur, idx = rescaled_local_mass_curves(
                np.concatenate([m[2] for m in members]), center=center, scaled=scaled, radii=r,
                n_radii=common["n_radii"] if r is None else len(r), **kw)
        except ValueError:  # (constant, non-finite, too few draws: the call per variable says which)
            continue
        common["progress"](cur.shape[0])
        start = 0
        for var, i, x, _, _ in members:
            results.setdefault(var, {})[i] = (cur[start:start + x.shape[0]], idx[start:start + x.shape[0]])
            start += x.shape[0]
    out = {}
    for var, (n_specs, el_dims, shape, x) in jobs.items():
        got = results.get(var, {})
        if len(got) != n_specs:
            continue
        cur = np.stack([got[i][0] for i in range(n_specs)], axis=1)
        idx = np.stack([got[i][1] for i in range(n_specs)], axis=1).reshape(shape + (n_specs, len(INDEX_STATS)))
        attrs = {**_unit_attrs(idx), **_lattice_attrs(idx, lambda x=x: x.reshape(x.shape[0], -1))}
        out[var] = (xr.Variable([*el_dims, "center", "radius", "local_stat"], cur.reshape(shape + cur.shape[1:]),
                                attrs),
                    xr.Variable([*el_dims, "center", "index_stat"], idx))
    return out


def _assemble(ds, cmap, curves_vars, index_vars, general=False):
    """The ``local_mass`` and ``local_mass_index`` datasets of the variables' results, in their order.

    Results of :func:`_together` (``xarray.Variable``) and of
    :func:`_one_variable` (DataArrays) alike. Where every variable has the
    same centres and number of radii, the datasets are built at once from
    the variables (xarray's merge and alignment cost about a millisecond a
    variable, in a model's dozens); otherwise by :func:`merge_curves` and an
    outer merge, which pad what a variable lacks with NaN (``general=True``:
    always; both give the same datasets where both apply).
    """
    labels = {var: (v["center"].values.tolist() if isinstance(v, xr.DataArray) else [lab for lab, _ in cmap[var]])
              for var, v in curves_vars.items()}
    n_radii = {v.sizes["radius"] for v in curves_vars.values()}
    if not general and len({tuple(lab) for lab in labels.values()}) == 1 and len(n_radii) == 1:
        coords = {}
        for var, v in curves_vars.items():
            # (a joint ball's DataArray carries its own coordinates; a Variable, its variable's in ds)
            for k, c in (v if isinstance(v, xr.DataArray) else ds[var]).coords.items():
                if k not in ("center", "radius", "local_stat") and not set(c.dims) & set(SAMPLE_DIMS):
                    coords.setdefault(k, c.variable)
        first = next(iter(labels.values()))
        coords.update(center=np.asarray(first), radius=np.arange(n_radii.pop()), local_stat=list(CURVE_STATS))
        curves = xr.Dataset({v: getattr(curves_vars[v], "variable", curves_vars[v]) for v in curves_vars},
                            coords=coords)
        coords = {k: c for k, c in coords.items() if k not in ("radius", "local_stat")}
        coords["index_stat"] = list(INDEX_STATS)
        index = xr.Dataset({v: getattr(index_vars[v], "variable", index_vars[v]) for v in index_vars},
                           coords=coords)
        return curves, index

    def as_array(var, v):
        if isinstance(v, xr.DataArray):
            return v
        coords = {k: c for k, c in ds[var].coords.items() if not set(c.dims) & set(SAMPLE_DIMS)}
        return xr.DataArray(v, coords={**coords, "center": labels[var]}, name=var)

    curves = merge_curves({k: as_array(k, v) for k, v in curves_vars.items()})
    index = xr.merge([as_array(k, v).rename(k).to_dataset() for k, v in index_vars.items()],
                     join="outer", compat="no_conflicts")
    return curves, index.assign_coords(index_stat=list(INDEX_STATS))


def _stack_centers(parts):
    """The centres' results along ``center`` (one centre: itself, what concatenating it gives)."""
    return parts[0] if len(parts) == 1 else xr.concat(parts, "center")


class _ConstantElements(InvalidInputError):
    """An element of the variable never varies (the core cannot measure it)."""


class ConstantVariableError(InvalidInputError):
    """Every element of a variable is constant in the draws: nothing to measure."""


def _varies_beyond_float64(da):
    """Per element: the draws vary in their own dtype (int64, uint64, longdouble), though float64 may not see it.

    All False for dtypes float64 holds exactly (their spread is float64's).
    """
    dt = np.dtype(da.dtype)
    if not (dt.kind in "iu" and dt.itemsize >= 8) and not (dt.kind == "f" and dt.itemsize > 8):
        return xr.zeros_like(da.isel({d: 0 for d in SAMPLE_DIMS}, drop=True), dtype=bool)
    return da.max(SAMPLE_DIMS) != da.min(SAMPLE_DIMS)


def _float64_collapse_message(var, where, lo, hi, dtype):
    return (f"variable {var!r} varies at {where} (its draws run from {lo} to {hi}, {dtype}), but not within "
            "float64 precision: they are equal after conversion to float64, in which the distances are "
            "computed; subtract an offset first (e.g. x - x.min())")


def _check_float64_collapse(da, const, var):
    """Refuse elements read as constant whose draws do vary in their own dtype (int64 near 2**60)."""
    lost = const & _varies_beyond_float64(da)
    if not bool(lost.any()):
        return
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    flat = np.asarray(lost.transpose(*el_dims).values).reshape(-1)
    at = int(np.argmax(flat))
    el = da.stack(__el__=el_dims).isel(__el__=at) if el_dims else da
    lo, hi = el.min().values.item(), el.max().values.item()
    raise InvalidInputError(_float64_collapse_message(var, _element_name(da, at), lo, hi, da.dtype)) from None


def _apply_with_constants(da, center, const, *, var, radii, **kw):
    """:func:`_apply_core`, with the elements that never vary answered exactly.

    A constant element (a Deterministic of data only, a pinned entry) is a
    point mass at its value ``v``: at a centre equal to ``v`` (its mean,
    median and mode) an atom of weight 1 with index (0, 0); at any other
    centre no mass nearer than ``|c - v|``, an unresolved row. Its curve is
    left empty (NaN): the draws give it no radii. The other elements are
    computed as usual. Raises :class:`ConstantVariableError` when every
    element is constant.

    ``const`` is the mask of constant elements when an earlier centre found
    it (None before: the core finds out, at no cost when none is constant).
    Returns the curves, the index and that mask.
    """
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    if const is None:
        progress, counted = kw.get("progress"), []
        first = kw
        if progress is not None and da.chunks is None:  # (what the bar counted of a call that stops at a
            # constant element is redone; dask-backed draws show dask's own bar)
            first = {**kw, "progress": lambda n: (counted.append(n), progress(n))}
        try:
            return (*_apply_core(da, center, var=var, radii=radii, **first), None)
        except _ConstantElements as err:
            if hasattr(progress, "rewind"):
                progress.rewind(sum(counted))
            const = xr.apply_ufunc(never_varies, da.min(SAMPLE_DIMS), da.max(SAMPLE_DIMS),
                                   kwargs={"dtype": da.dtype}, dask="parallelized", output_dtypes=[bool])
            _check_float64_collapse(da, const, var)
            if not bool(const.any()):
                # (the draws vary, but not as float64 distances: a centre of 1e308 beside draws near 3,
                # or int64 draws of 2**60 + a count; the message said the variable was constant)
                raise InvalidInputError(
                    f"variable {var!r}: its draws vary, but their distances to the centre are all equal in "
                    "float64: the centre, or the draws' own magnitude, is too large for their spread to show "
                    "(e.g. a centre far beyond the draws, or int64 values near 2**60); choose a centre nearer "
                    "the draws, or subtract an offset from them") from None
            if bool(const.all()) or not el_dims or np.ndim(radii) > 1:
                raise ConstantVariableError(str(err)) from None
    stacked = da.stack(__el__=el_dims)
    keep = ~const.stack(__el__=el_dims).values
    sub = stacked.isel(__el__=np.flatnonzero(keep))
    sub_center = center
    if isinstance(center, xr.DataArray) and set(el_dims) <= set(center.dims):
        sub_center = center.stack(__el__=el_dims).isel(__el__=np.flatnonzero(keep))
    cur, idx = _apply_core(sub, sub_center, var=var, radii=radii, **kw)
    if kw.get("progress") is not None:  # (the constant elements are done too)
        kw["progress"](int(np.count_nonzero(~keep)))
    cur = cur.transpose("__el__", "radius", "local_stat")
    idx = idx.transpose("__el__", "index_stat")
    E = keep.size
    cur_np = np.full((E,) + cur.shape[1:], np.nan)
    cur_np[keep] = cur.values
    idx_np = np.full((E, len(INDEX_STATS)), np.nan)
    idx_np[keep] = idx.values
    value = stacked.max(SAMPLE_DIMS).values[~keep]
    if isinstance(center, str):
        cval = value
    else:
        cv = center.stack(__el__=el_dims) if isinstance(center, xr.DataArray) and set(el_dims) <= set(
            center.dims) else center
        cval = np.broadcast_to(np.asarray(getattr(cv, "values", cv), float), keep.shape)[~keep]
    idx_np[~keep] = constant_rows(value, cval, n_divergent=_n_divergent(kw.get("divergent")))
    coords = {"__el__": stacked["__el__"]}
    cur_da = xr.DataArray(cur_np, dims=("__el__", "radius", "local_stat"), coords=coords).unstack("__el__")
    idx_da = xr.DataArray(idx_np, dims=("__el__", "index_stat"), coords=coords).unstack("__el__")
    return cur_da.transpose(*el_dims, "radius", "local_stat"), idx_da.transpose(*el_dims, "index_stat"), const


def _selected_divergent(source, coords):
    """The divergences of the draws ``coords`` keeps (``coords={"chain": [0, 1]}`` selects them too)."""
    dv = source.divergent
    picked = {d: v for d, v in (coords or {}).items() if d in SAMPLE_DIMS}
    if dv is None or not picked:
        return dv
    full = source.draws
    flags = xr.Dataset({"divergent": (SAMPLE_DIMS, dv)},
                       coords={d: full[d].values for d in SAMPLE_DIMS if d in full.coords})
    return np.asarray(select_coords(flags, picked)["divergent"].values)


def _n_divergent(divergent):
    return 0.0 if divergent is None else float(np.count_nonzero(divergent))


def _unit_attr(curves, index):
    """Record the index's unit (the draws' sd, per element) on the curves, for an index fitted from them later.

    ``attrs["index_scale"]``: one value per element, as the model tier
    writes it; :func:`~pymc_localmass.mass_index` on these curves reads how
    far the draws reach in this unit.
    """
    curves.attrs.update(_unit_attrs(np.asarray(index.transpose(..., "center", "index_stat").values)))


def _unit_attrs(index):
    """:func:`_unit_attr`'s attribute from an index array (..., center, index_stat): a dict, empty or one entry."""
    unit = np.asarray(index[..., 0, INDEX_STATS.index("scale")], float).reshape(-1)
    if unit.size and np.all(np.isfinite(unit) & (unit > 0)):
        return {"index_scale": float(unit[0]) if unit.size == 1 else unit}
    return {}


def _lattice_attr(curves, index, da):
    """Record which elements' draws lie on a lattice on their curves, for an index fitted from them later.

    ``attrs["lattice"]``: one 1/0 per element (in the curves' element order),
    written only where some element is a lattice. A curve of discrete draws
    is a staircase whose slopes are no index; :func:`~pymc_localmass.mass_index`
    on these curves reads the flag. An element whose row is "lattice" at some
    centre is one; one read as an atom everywhere (a centre on its support,
    or an atom of continuous draws) is checked on its draws.
    """
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]

    def rows():
        r = da.stack(__s__=SAMPLE_DIMS)
        r = r.stack(__el__=el_dims) if el_dims else r.expand_dims(__el__=[0])
        return np.asarray(r.transpose("__el__", "__s__").values)

    curves.attrs.update(_lattice_attrs(np.asarray(index.transpose(*el_dims, "center", "index_stat").values), rows))


def _lattice_attrs(index, rows):
    """:func:`_lattice_attr`'s attribute from an index array (*element dims, center, index_stat).

    ``rows()`` gives the draws as (element, chain * draw), read only where an atom needs a look.
    """
    status = np.asarray(index[..., INDEX_STATS.index("status")], float)
    status = status.reshape(-1, status.shape[-1])  # (element, center)
    flag = np.any(status == STATUS_WORDS.index("lattice"), axis=-1)
    check = np.flatnonzero(~flag & np.any(status == STATUS_WORDS.index("atom"), axis=-1))
    if check.size:
        vals = rows()[check]
        spacing, _ = lattice(vals, integer=vals.dtype.kind in "iub")
        flag[check] = np.isfinite(spacing)
    if flag.any():
        return {"lattice": flag.astype(np.int8) if flag.size > 1 else int(flag[0])}
    return {}


def _joint_ball(ds, names, cmap, curves_vars, index_vars, extra_attrs, *, radii, norm, model, map_cache, nan_policy,
                window, common):
    """The joint ball over all selected variables (into ``curves_vars``, ``index_vars`` and ``extra_attrs``).

    With a discrete (lattice) coordinate and no ``window`` given, the index
    is fitted on the draws below its first lattice jump.
    """
    name = "+".join(names)
    if any(ds[v].isnull().any() for v in names) and nan_policy == "raise":
        bad = [v for v in names if ds[v].isnull().any()]
        raise _NonFiniteDraws(f"variable(s) {bad} have non-finite draws", "pass nan_policy='omit'")
    dist, scale, unit, top, label, cvec, jump, off_lattice, edge = _joint_inputs(ds, names, cmap, norm, model,
                                                                                 map_cache)
    r = radii_for(radii, name if isinstance(radii, Mapping) else None)
    jcommon = dict(common)
    # the index is fitted below the first lattice jump of a discrete coordinate, and below the
    # principal scale (where a narrow direction fills, the slope falls towards the wide ones'):
    # without that top, sds (1, 5) read "ok" excluding a = 2 in 7 of 30 replicates (1, 2, 4: 10 of
    # 30); with it none, though intervals widen where the narrow direction fills inside the windows
    cap = min(jump if jump is not None else np.inf, top)
    if np.isfinite(cap) and window is None:
        n_total = int(dist.sizes["chain"] * dist.sizes["draw"])
        k_cap = int((dist < cap).sum())
        sizes = [k for k in window_sizes(n_total) if k <= k_cap]
        jcommon["window"] = sizes or [max(k_cap, 5)]
        extra_attrs["index_window_cap"] = cap
    # (a centre off a discrete coordinate's lattice: no mass within the gap, a = inf, "lattice";
    # fitted on the handful of draws beyond the gap it read a = NaN or 18 [0, 12964] "ok")
    cur, idx = _apply_core(dist, None, var=name, scaled=False, radii=r, scale=unit, r_max=scale, boundary=edge,
                           discrete=True if off_lattice else None, **jcommon)
    curves_vars[name] = cur.expand_dims(center=[label]).transpose("center", "radius", "local_stat")
    index_vars[name] = idx.expand_dims(center=[label]).transpose("center", "index_stat")
    _unit_attr(curves_vars[name], index_vars[name])
    extra_attrs["center_values"] = ",".join(f"{v:.6g}" for v in cvec)
    extra_attrs["joint_vars"] = ",".join(names)


def compute(data, *, var_names=None, filter_vars=None, coords=None, group="posterior", centers="mean",
            radii=None, n_radii=25, norm="euclidean", joint=False, model=None, ci_prob=None, min_ess=10.0,
            window=None, nan_policy="raise", progressbar=None, independent=None):
    """Local mass curves and Mass Index from draws (the tiers' interface, tier ``"samples"``).

    Parameters
    ----------
    data : Source, or DataTree, InferenceData, Dataset or dict of arrays
        The draws (:class:`~pymc_localmass.adapters.source.Source` of kind
        "draws", or an input :func:`~pymc_localmass.adapters.source.convert`
        takes, converted here with ``group``, ``model`` and ``independent``).
    var_names, filter_vars, coords, group, centers, radii, n_radii, norm, joint, model, ci_prob, min_ess, \
window, nan_policy, progressbar, independent
        As :func:`pymc_localmass.local_mass` (already checked at the entrance).

    Returns
    -------
    curves, index : xarray.Dataset
        The ``local_mass`` and ``local_mass_index`` groups, ``attrs["tier"] == "samples"``.
    """
    ci_prob = _validate.check_ci_prob(ci_prob)
    _validate.check_nan_policy(nan_policy)
    if int(n_radii) < 2:
        raise InvalidInputError(f"n_radii must be at least 2, got {n_radii}")
    source = convert(data, group=group, model=model, independent=independent)
    group = source.group
    ds = source.draws
    independent = source.independent
    names = select_vars(ds, var_names, filter_vars)
    if not names:
        raise InvalidInputError(f"no variables selected from group {group!r}")
    _validate.check_draws(ds, names, group)
    _validate.check_radii_keys(radii, names, joint)
    ds = select_coords(ds[names], coords)
    for var in names:
        _check_sample_dims(ds, var, independent)
    cmap = normalise_centers(centers, names)
    map_cache = {"data": source.raw}  # (the fitted container: centre "map" checks the model's data against it)
    n_chain, n_draw = ds.sizes["chain"], ds.sizes["draw"]
    total = sum(int(np.prod([ds[v].sizes[d] for d in ds[v].dims if d not in SAMPLE_DIMS], dtype=int))
                * len(cmap[v]) for v in names)
    show = progressbar if progressbar is not None else total * n_chain * n_draw > _PROGRESS_THRESHOLD
    progress = Progress(total if not joint else 1, bool(show), "local mass", "element")
    curves_vars, index_vars = {}, {}
    scaled = norm in ("scaled", "scaled_max")
    common = dict(n_radii=int(n_radii), ci_prob=ci_prob, min_ess=min_ess, window=window,
                  nan_policy=nan_policy, progress=progress, independent=independent,
                  divergent=_selected_divergent(source, coords))
    extra_attrs = {"independent": int(independent), "min_ess": float(min_ess)}
    if set(coords or {}) & set(SAMPLE_DIMS):  # (n_chains, n_draws: a selection's, not the group's)
        extra_attrs["sample_selection"] = 1
    try:
        if joint:
            _joint_ball(ds, names, cmap, curves_vars, index_vars, extra_attrs, radii=radii, norm=norm, model=model,
                        map_cache=map_cache, nan_policy=nan_policy, window=window, common=common)
        else:
            skipped, first = [], None
            together = _together(ds, names, cmap, radii=radii, scaled=scaled, model=model, map_cache=map_cache,
                                 common=common)
            for var in names:
                if var in together:
                    curves_vars[var], index_vars[var] = together[var]
                    continue
                try:
                    curves_vars[var], index_vars[var] = _one_variable(
                        ds[var], var, cmap[var], radii=radii, scaled=scaled, model=model, map_cache=map_cache,
                        common=common)
                except ConstantVariableError as err:
                    # asked for by name: say so (not one selected by excluding others, "~mu", or by a pattern)
                    named = [var_names] if isinstance(var_names, str) else list(var_names or [])
                    if filter_vars is None and var in named:
                        raise
                    skipped.append(var)
                    first = first or err
            if skipped and not curves_vars:
                others = f" (so is every other variable: {skipped})" if len(skipped) > 1 else ""
                raise ConstantVariableError(f"{first}{others}")
            if skipped:
                warnings.warn(f"left out variable(s) {skipped}: constant in the draws (nothing to measure; "
                              "e.g. a Deterministic of data only)", UserWarning, stacklevel=user_stacklevel())
    finally:
        progress.close()
    attrs = base_attrs(tier="samples", norm=norm, ci_prob=ci_prob,
                       grid_rule=grid_rule(radii, names, joint, n_radii, min_ess),
                       source_group=group if isinstance(group, str) else "posterior",
                       joint=joint, n_chains=n_chain, n_draws=n_draw, index_method="local-likelihood",
                       **extra_attrs)
    curves, index = _assemble(ds, cmap, curves_vars, index_vars)
    curves.attrs = dict(attrs)
    index.attrs = dict(attrs)
    return curves, index
