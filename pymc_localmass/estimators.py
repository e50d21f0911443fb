"""The public estimators: local masses and Mass Indices per variable, element and centre.

:func:`local_mass`, :func:`mass_index` and :func:`add_local_mass` check
their arguments, pick an estimator tier (:mod:`pymc_localmass.tiers`) for the
input and ``method``, and return (or attach) the results datasets of
docs/schema.md. Several groups are computed on the same balls and stacked
along dim ``group``; a Mass Index of a ``local_mass`` results dataset is
fitted on its curves here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from ._stack import user_stacklevel
from . import _validate, tiers
from ._api import (CentersLike, Coords, DataLike, FilterVars, Group, Method, Norm, RadiiLike, SampleDims, VarNames,
                   given, public)
from ._compat import default_ci_prob, is_draws_node
from ._radii import EXPLICIT, combine_rules, variable_rules
from .adapters import SAMPLE_DIMS, select_coords, select_vars
from .adapters.source import convert, is_results  # noqa: F401 (is_results: for summary)
from .core.curves import INDEX_STATS, STATUS_WORDS, no_draws_value
from .core.distances import NORMS
from .core.index import BEND_LIMIT, REACH_ESS, curve_reach, curve_steepens, fit_index_curve, rise_without_bound
from .errors import InvalidInputError, InvalidTypeError, UnknownNameError
from .results import (CURVE_GROUP, OWN_ATTRS, attach, read, read_current, source_variables, stale_reason,
                      stored_centers, validate, warn_stale)

#: the estimator tiers ``local_mass(method=...)`` names (``"auto"`` picks one from the input)
METHODS = ("auto", "samples", "analytic", "model")


def _compute(data, *, group="posterior", model=None, sample_dims=SAMPLE_DIMS, independent=None, **kwargs):
    """``(curves, index)`` of the input for one group or several.

    The input is a :class:`~pymc_localmass.adapters.source.Source`, or anything
    :func:`~pymc_localmass.adapters.source.convert` takes, converted here.
    """
    source = convert(data, group=group, model=model, sample_dims=sample_dims, independent=independent)
    kwargs.update(model=model, sample_dims=source.sample_dims, independent=source.independent_given)
    if isinstance(group, str):
        return _compute_one(source, group=group, **kwargs)
    return _compute_groups(source, group, **kwargs)


def _compute_groups(data, groups, *, centers="mean", radii=None, n_radii=25, joint=False, **kwargs):
    """Several groups (e.g. prior and posterior) at the same centres and radii, along dim ``group``.

    Centres given as keywords are resolved on the first group, and the radii
    are the first group's (explicit radii as given; the automatic grid, also
    for the variables a radii mapping does not name, as one log-spaced grid
    per variable spanning the first group's), so every group is evaluated on
    the same balls.
    """
    centers = "mean" if centers is None else centers
    groups = [str(g) for g in groups] if isinstance(groups, (list, tuple)) else None
    if not groups or len(set(groups)) != len(groups):
        raise InvalidInputError(f"group must be a group name or a list of distinct group names, got {groups!r}")
    if joint and not _all_numeric(centers):
        raise InvalidInputError("several groups with joint=True need numeric centres (a keyword such as 'mean' would "
                         "be resolved on each group's own draws)")
    one = dict(n_radii=n_radii, joint=joint, **kwargs)
    first = _compute_one(data, group=groups[0], centers=centers, radii=radii, **one)
    clash = [n for n, da in first[0].data_vars.items() if "group" in da.dims or n == "group"]
    if clash:
        raise InvalidInputError(f"variable(s) {clash} have a dimension or a name 'group', the dim that several groups "
                                "are stacked along; rename it, or analyse one group at a time")
    rule = None
    names = list(first[0].data_vars)
    # the variables on the automatic grid (all, or those a radii mapping does not name): one grid
    # per variable spanning the first group's, and the first group on it (each group's own grid
    # would put the groups' masses at different radii)
    auto = names if radii is None else [n for n in names if n not in radii] if isinstance(radii, Mapping) else []
    if auto:
        own = variable_rules(first[0].attrs.get("grid_rule", ""), names)
        shared = (f"auto: one log-spaced grid per variable spanning group {groups[0]!r}'s automatic grids "
                  f"({own[auto[0]]}), shared by every group")
        rule = combine_rules({n: shared if n in auto else EXPLICIT for n in names})
        radii = {**(radii or {}), **spanning_grids(first[0], auto, int(n_radii))}
        first = _compute_one(data, group=groups[0], centers=centers, radii=radii, **one)
    if not joint:  # the first group's centre values, for every group
        centers = stored_centers(first[1], list(first[1].data_vars))
    wanted = source_variables(first[0])
    for g in groups[1:]:  # (else the error would blame the shared radii, which name the first group's variables)
        try:
            draws = data.for_group(g).draws
        except UnknownNameError:  # (a group the data lack: the model tier may draw it from the model)
            continue
        lacking = [n for n in wanted if draws is not None and n not in draws.data_vars]
        if lacking:
            raise UnknownNameError(f"variable(s) {lacking} of group {groups[0]!r} are not in group {g!r} (its "
                                   f"variables: {list(draws.data_vars)}); several groups are compared variable by "
                                   "variable: pass var_names= with the variables they share")
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
        if rule is not None:  # (the shared grids were passed on as radii: not the user's explicit ones)
            ds.attrs["grid_rule"] = rule
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


def _compute_one(data, *, var_names=None, filter_vars=None, coords=None, group="posterior",
                 sample_dims=SAMPLE_DIMS, centers=None, radii=None, n_radii=25, norm="euclidean", joint=False,
                 method="auto", model=None, ci_prob=None, min_ess=10.0, window=None, nan_policy="raise",
                 progressbar=None, independent=None):
    """One group: check the arguments, pick the tier for ``method`` and the input, and run it.

    Every approximation goes to the ``"analytic"`` tier (exact where it can
    be, ``method="analytic"`` insisting; ``"samples"``: its own draws), draws
    to the ``"samples"`` tier unless ``method="model"``. ``data`` is a
    :class:`~pymc_localmass.adapters.source.Source` (converted at the
    entrance) or anything :func:`~pymc_localmass.adapters.source.convert`
    takes.
    """
    source = convert(data, group=group, model=model, sample_dims=sample_dims, independent=independent)
    if source.group != group:
        source = source.for_group(group)
    centers = "mean" if centers is None else centers
    _validate.check_arguments(n_radii=n_radii, min_ess=min_ess, model=model, centers=centers, radii=radii,
                              window=window)
    if norm not in NORMS:
        raise InvalidInputError(f"norm must be one of {NORMS}, got {norm!r}")
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}, got {method!r}")
    tier = method
    extra = {}
    if source.kind == "approximation":
        # every method of an approximation is the approximation tier's: exact where it
        # can be ("analytic" insists), or its own draws ("samples")
        if method == "model":
            raise InvalidInputError("method='model' integrates a PyMC model's density over posterior draws; "
                             "for an approximation use method='auto', 'analytic' or 'samples'")
        tier, extra = "analytic", {"method": method}
    elif method == "auto":
        tier = "samples"
    elif method == "analytic":
        raise InvalidInputError(f"method='analytic' needs a fitted Gaussian approximation (pm.fit(method='advi' or "
                         f"'fullrank_advi'), a pymc-extras Laplace or DADVI fit); got {source.type_name}. "
                         "For posterior draws use method='samples' or 'model'")
    return tiers.TIERS[tier].compute(source, var_names=var_names, filter_vars=filter_vars, coords=coords,
                                     group=group, centers=centers, radii=radii, n_radii=n_radii, norm=norm,
                                     joint=joint, model=model, ci_prob=ci_prob, min_ess=min_ess, window=window,
                                     nan_policy=nan_policy, progressbar=progressbar, **extra)


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
    group : str or list of str, default "posterior"
        The group of a container to analyse; a list of groups (e.g.
        ``["prior", "posterior"]``) is analysed at the same centres and
        radii, stacked along dim ``group``.
    sample_dims : tuple of str, default ("chain", "draw")
        The dims that index the draws. Two name the (chain-like, draw-like)
        dims, e.g. ``("c", "d")``: the results are those of the draws with
        the dims renamed ``chain`` and ``draw``. One names a single sequence
        of draws without chains, e.g. ``("sample",)``: it is analysed as one
        chain, which needs independent draws (``independent=True``). For a
        dict of arrays the leading axes are the sample dims, one per name.
    centers : str, number, array, list or mapping, optional
        Default (``None``): ``"mean"``; for stored results, their centres.
        ``"mean"``, ``"median"``, ``"mode"`` (the half-sample mode, its halving
        stopped at an eighth of the draws: see ``core.distances.MODE_STOP_FRACTION``),
        ``"boundary"`` (with ``model``
        the support's end from the model's transform, of an interval the end nearer the draws;
        otherwise 0 for a one-signed variable), ``"map"`` (needs ``model``), a number, an array
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
               group: Group = "posterior", sample_dims: SampleDims = SAMPLE_DIMS, centers: CentersLike | None = None,
               radii: RadiiLike = None,
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
    source = convert(data, group=group, model=model, sample_dims=sample_dims, independent=independent)
    if source.kind == "curves":
        return _select_results(source.results, kwargs, "local_mass")
    return _compute(source, **kwargs)[0]


#: what a results dataset passed back in can still be asked: a selection
_RESULT_SELECTION = ("var_names", "filter_vars", "coords")


def _select_results(ds, kwargs, fname, also=()):
    """Select variables/coords of a results dataset; anything else cannot apply to computed results."""
    bad = [k for k in kwargs if k not in _RESULT_SELECTION + tuple(also)]
    if bad:
        raise InvalidTypeError(
            f"{fname}() got a results dataset (already computed), to which {', '.join(map(repr, bad))} cannot "
            f"apply; it takes only {', '.join(_RESULT_SELECTION + tuple(also))} here. Call {fname}() on the data "
            "for other centres, radii or settings")
    names = select_vars(ds, kwargs.get("var_names"), kwargs.get("filter_vars"), sample_dims=())
    return select_coords(ds[names], kwargs.get("coords"))


@public()
def mass_index(data: DataLike, *, var_names: VarNames = None, filter_vars: FilterVars = None, coords: Coords = None,
               group: Group = "posterior", sample_dims: SampleDims = SAMPLE_DIMS, centers: CentersLike | None = None,
               radii: RadiiLike = None,
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
    source = convert(data, group=group, model=model, sample_dims=sample_dims, independent=independent)
    if source.kind == "curves":
        return _index_from_curves(_select_results(source.results, kwargs, "mass_index", also=("ci_prob",)),
                                  ci_prob=kwargs.get("ci_prob"))
    if source.kind == "index":
        return _select_results(source.results, kwargs, "mass_index")
    if source.container and set(kwargs) <= set(_RESULT_SELECTION):
        # stored results answer a call that only selects among them (variables, element
        # coords); a variable they lack, or a selection of draws, is computed from the draws
        got = read_current(source.raw)
        stored = got[1] if got is not None else None
        if stored is not None and set(kwargs.get("coords") or {}) <= set(stored.dims):
            try:
                return _select_results(stored, kwargs, "mass_index")
            except KeyError:
                pass
    return _compute(source, **kwargs)[1]


def _curve_scale(da, radius):
    """Unit of radius for the log term of a curve's index.

    The tier's own (``attrs["index_scale"]``, one per element) when it fits
    the curve's elements, else the largest radius.
    """
    given = _curve_element_attr(da, "index_scale", radius.shape[:-1], float)
    if given is not None and np.all(given > 0):
        return given
    with np.errstate(all="ignore"), warnings.catch_warnings():  # all-NaN rows: centres not asked for
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(radius, axis=-1)


def _curve_element_attr(da, key, shape, dtype):
    """A per-element attribute of the curves (``attrs[key]``: one per element, or one) as rows of ``shape``.

    ``shape`` is ``(*element dims, center)``. None where the curves carry
    none, or one that does not fit their elements (curves selected after
    they were computed).
    """
    given = da.attrs.get(key)
    if given is None:
        return None
    given = np.asarray(given).astype(dtype).reshape(-1)
    if given.size == 1:
        return np.full(shape, given[0], dtype=dtype)
    if given.size != int(np.prod(shape[:-1], dtype=int)):
        return None
    return np.broadcast_to(given.reshape(shape[:-1] + (1,)), shape).copy()


#: a curve reads as an atom only where its smallest ball's mass interval spans at most this
#: factor (about 30 effective draws)
FLAT_PRECISION = 2.0

#: a log index whose interval is wider than this is not identified by the curve
B_UNIDENTIFIED = 50.0


def _curve_atoms(values, mass, lo, hi, resolved):
    """Atom and index conventions for an index fitted on curves (in place).

    A curve that stays flat down to its smallest resolved radius (``a``'s
    interval reaches 0 and ``a < 0.5``, that ball's mass known within a factor
    ``FLAT_PRECISION``) reads as an atom, status "atom": its
    weight is the mass at the smallest resolved radius, with the interval
    ``[0, upper end of that mass]`` (a curve cannot tell an atom from
    continuous mass of an index too small to tell from 0: that mass is
    included in the weight, and the atom may be all of it or none), and the
    index is 0 within ``[0, a_upper]`` of the fit. Otherwise the atom is 0.
    ``a`` is never below 0, and a ``b`` interval wider than
    ``B_UNIDENTIFIED`` is reported as unidentified ([-inf, inf]).
    """
    I = {lab: i for i, lab in enumerate(INDEX_STATS)}  # noqa: E741
    a = values[..., I["a"]]
    flat = np.isfinite(a) & (a < 0.5) & (values[..., I["a_lower"]] <= 0.0)
    first = np.argmax(resolved, axis=-1)[..., None]
    pick = lambda arr: np.take_along_axis(np.asarray(arr, float), first, axis=-1)[..., 0]  # noqa: E731
    w, wh = pick(mass), pick(hi)
    # ... and the smallest ball's mass known within a factor FLAT_PRECISION: a dozen draws (a
    # trough between modes, 10 to 14 over three radii) are as flat as an atom within their noise
    with np.errstate(divide="ignore", invalid="ignore"):
        flat &= wh / pick(lo) <= FLAT_PRECISION
    values[..., I["atom"]] = np.where(flat, w, 0.0)
    values[..., I["atom_lower"]] = 0.0
    values[..., I["atom_upper"]] = np.where(flat, wh, 0.0)
    for key in ("a", "a_lower", "b"):
        values[..., I[key]] = np.where(flat, 0.0, values[..., I[key]])
    values[..., I["a_upper"]] = np.where(flat, np.maximum(values[..., I["a_upper"]], 0.0), values[..., I["a_upper"]])
    values[..., I["a"]] = np.maximum(values[..., I["a"]], 0.0)
    values[..., I["status"]] = np.where(flat, float(STATUS_WORDS.index("atom")), values[..., I["status"]])
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


def _curve_lattice(values, radius, mass, mass_upper, on):
    """The index of a curve whose draws lie on a lattice (in place; ``on`` per row).

    Discrete draws make the curve a staircase: its slopes say nothing about
    a power of the radius. Where some radius holds no draw at all, nothing
    of the variable lies that close to the centre (it is not a support
    point): ``a = inf``, status "lattice", as the draws read it. Otherwise
    the smallest radius holds support points, and the curve cannot tell
    whether the centre is one of them: ``a`` is 0 (an atom) or inf, reported
    NaN in ``[0, inf]``, the atom within ``[0, upper end of the mass at the
    smallest radius]``, status "lattice"; the index of the draws
    (``mass_index`` on the draws) tells which.
    """
    if not np.any(on):
        return
    I = {lab: i for i, lab in enumerate(INDEX_STATS)}  # noqa: E741
    has_r = np.isfinite(radius)
    empty = np.any(has_r & (np.asarray(mass, float) == 0.0), axis=-1)
    first = np.argmin(np.where(has_r, radius, np.inf), axis=-1)[..., None]
    top = np.take_along_axis(np.asarray(mass_upper, float), first, axis=-1)[..., 0]
    gap, open_ = on & empty, on & ~empty
    for key, g, o in (("a", np.inf, np.nan), ("a_lower", np.inf, 0.0), ("a_upper", np.inf, np.inf),
                      ("b", 0.0, np.nan), ("b_lower", -np.inf, -np.inf), ("b_upper", np.inf, np.inf),
                      ("atom", 0.0, 0.0), ("atom_lower", 0.0, 0.0)):
        values[..., I[key]] = np.where(gap, g, np.where(open_, o, values[..., I[key]]))
    values[..., I["atom_upper"]] = np.where(gap, 0.0, np.where(open_, top, values[..., I["atom_upper"]]))
    values[..., I["status"]] = np.where(on, float(STATUS_WORDS.index("lattice")), values[..., I["status"]])


def _curve_reach(values, radius, ess_inside, resolved, mass_upper, scale, steep=None):
    """No index claimed where a curve from draws does not reach the centre (in place).

    The curve's ``n_near`` (ESS within one unit of the centre) and
    ``r_resolved`` (:func:`~.core.index.curve_reach`) are written; where
    fewer than ``REACH_ESS`` effective draws lie within a unit (a far centre:
    every radius of the curve is many units wide), or where the curve
    steepens without bound towards its smallest resolved radius (``steep``,
    :func:`~.core.index.curve_steepens`: the draws stop short of the centre,
    a gap), the row is "unresolved"
    with the interval ``[0, inf]`` for ``a``, ``b`` unidentified, and no atom
    claimed (its upper bound is the smallest ball's mass). Curves without an
    ESS (exact tiers) are left as they are.
    """
    I = {lab: i for i, lab in enumerate(INDEX_STATS)}  # noqa: E741
    n_near, r_res = curve_reach(radius, ess_inside, resolved, scale)
    draws = np.isfinite(n_near)
    values[..., I["n_near"]] = np.where(draws, n_near, values[..., I["n_near"]])
    values[..., I["r_resolved"]] = np.where(draws, r_res, values[..., I["r_resolved"]])
    far = draws & (n_near < REACH_ESS)
    if steep is not None:
        far |= draws & steep & np.isfinite(values[..., I["a"]])
    first = np.argmin(np.where(np.isfinite(radius), radius, np.inf), axis=-1)[..., None]
    top = np.take_along_axis(np.asarray(mass_upper, float), first, axis=-1)[..., 0]
    for key, val in (("a", np.nan), ("a_lower", 0.0), ("a_upper", np.inf), ("b", np.nan), ("b_lower", -np.inf),
                     ("b_upper", np.inf), ("atom", 0.0), ("atom_lower", 0.0), ("atom_upper", top)):
        values[..., I[key]] = np.where(far, val, values[..., I[key]])
    values[..., I["status"]] = np.where(far, float(STATUS_WORDS.index("unresolved")), values[..., I["status"]])


def _exact_curve_inf(values, radius, stat):
    """Decay faster than any power on a near-exact curve (model, QMC and exact tiers), as those tiers read it.

    No mass at resolved radii below positive mass further out: ``a = inf``
    exactly. Slopes that rise towards the centre without levelling off
    (:func:`~.core.index.rise_without_bound`): ``a = inf``, at least the
    slope at the smallest radius. (Fitted from such curves, InverseGamma(3, 1)
    at 0 read ``a = 344 [327, 344]`` and LogNormal(0, 1) ``44 [29, 59]``, both "ok".)
    In place, on finite readings only.
    """
    I = {lab: i for i, lab in enumerate(INDEX_STATS)}  # noqa: E741
    res, mass = stat("resolved") > 0.5, stat("mass")
    finite = np.isfinite(values[..., I["a"]])
    zero = finite & np.any(res & (mass == 0), axis=-1) & np.any(res & (mass > 0), axis=-1)
    rises, lower = rise_without_bound(radius, mass, stat("slope"), stat("slope_lower"), stat("slope_upper"), res)
    rises &= finite & ~zero
    for key, z, r in (("a", np.inf, np.inf), ("a_lower", np.inf, lower), ("a_upper", np.inf, np.inf),
                      ("b", np.nan, np.nan), ("b_lower", -np.inf, -np.inf), ("b_upper", np.inf, np.inf)):
        values[..., I[key]] = np.where(zero, z, np.where(rises, r, values[..., I[key]]))


def _variable_tier(attrs, name):
    """The tier that computed variable ``name`` (``attrs["variable_tiers"]`` where given, else ``attrs["tier"]``)."""
    per = dict(item.split(":", 1) for item in str(attrs.get("variable_tiers", "")).split(",") if ":" in item)
    return str(per.get(name, attrs.get("tier", "samples")))


def _index_from_curves(curves, ci_prob=None):
    validate(curves, CURVE_GROUP)
    ci = float(curves.attrs.get("ci_prob", default_ci_prob())) if ci_prob is None else float(ci_prob)
    out = {}
    for name, da in curves.data_vars.items():
        def stat(label):
            return da.sel(local_stat=label).values

        radius = stat("radius")
        scale = _curve_scale(da, radius)
        # (curves of draws reach the sd, where a smooth density's curvature biases a plain fit:
        # the slope of N(0, 1) at its mean is 1 - r^2 / 3; model-tier curves reach far below it)
        draws = _variable_tier(curves.attrs, name).startswith("samples")
        fit = fit_index_curve(radius, stat("mass"), stat("mass_lower"), stat("mass_upper"),
                              stat("resolved") > 0.5, scale, ci_prob=ci, curvature=draws)
        rest = da.isel(radius=0, local_stat=0, drop=True)
        values = np.full(rest.shape + (len(INDEX_STATS),), np.nan)
        for i, lab in enumerate(INDEX_STATS):
            values[..., i] = fit[lab] if lab in fit else no_draws_value(lab)
        # no slope from the curve (fewer than three resolved radii): unresolved
        no_slope = np.isnan(values[..., INDEX_STATS.index("a")])
        values[..., INDEX_STATS.index("status")] = np.where(no_slope, float(STATUS_WORDS.index("unresolved")), 0.0)
        for lab, val in (("a_lower", 0.0), ("a_upper", np.inf), ("b_lower", -np.inf), ("b_upper", np.inf)):
            values[..., INDEX_STATS.index(lab)] = np.where(no_slope, val, values[..., INDEX_STATS.index(lab)])
        values[..., INDEX_STATS.index("scale")] = scale
        _curve_atoms(values, stat("mass"), stat("mass_lower"), stat("mass_upper"), stat("resolved") > 0.5)
        # (curves counted from draws only: the model tier's near-exact curves carry an
        # importance ESS, but no gap to find, and their precision would test the slope model)
        steep = None
        if draws:
            steep, _ = curve_steepens(radius, stat("mass"), stat("mass_lower"), stat("mass_upper"),
                                      stat("resolved") > 0.5, scale, ci_prob=ci)
            # the slope rises across the radii by more than BEND_LIMIT of a (its lower end): the
            # radii are not local (a trough between modes, a thin tail), as the draws' index reads it
            # (not an atom's curve: flat, then rising as the continuous mass comes in)
            with np.errstate(invalid="ignore"):
                bent = fit["rise_lower"] > BEND_LIMIT * np.maximum(np.abs(fit["a"]), 0.5)
            steep = steep | (bent & (values[..., INDEX_STATS.index("status")] != STATUS_WORDS.index("atom")))
        if not draws:
            _exact_curve_inf(values, radius, stat)
        _curve_reach(values, radius, stat("ess"), stat("resolved") > 0.5, stat("mass_upper"), scale, steep=steep)
        lat = _curve_element_attr(da, "lattice", radius.shape[:-1], bool)
        if lat is not None:
            _curve_lattice(values, radius, stat("mass"), stat("mass_upper"), lat)
        # an empty curve (a centre not requested for this variable, or a constant element: no radii)
        # gives no row, all NaN, as the draws' index pads it (summary leaves it out)
        values[np.all(np.isnan(radius), axis=-1)] = np.nan
        out[name] = xr.DataArray(values, dims=rest.dims + ("index_stat",),
                                 coords={**{k: v for k, v in rest.coords.items()}, "index_stat": list(INDEX_STATS)})
    ds = xr.Dataset(out)
    ds.attrs = dict(curves.attrs, index_method="curve-slope-fit")
    return ds


@public(renamed={"idata": "data"})
def add_local_mass(data: DataLike, *, inplace: bool = False, merge: bool = True, var_names: VarNames = None,
                   filter_vars: FilterVars = None, coords: Coords = None, group: Group = "posterior",
                   sample_dims: SampleDims = SAMPLE_DIMS, centers: CentersLike | None = None, radii: RadiiLike = None,
                   n_radii: int = 25,
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
    tier, norm, ci_prob, joint flag, group, ``min_ess`` and number of radii;
    not a second joint ball); variables computed again are replaced, and
    ``grid_rule`` says which variables have explicit radii. Otherwise, or
    with ``merge=False``, the new results replace the groups (with a warning
    naming what is dropped, unless ``merge=False``). Attributes you put on
    the groups (any key not among the package's own,
    ``pymc_localmass.results.OWN_ATTRS``) are kept unless ``merge=False``.

    Parameters
    ----------
    data : DataTree or InferenceData
        The container to attach the results to (its draws are analysed).
        Formerly ``idata=``, still accepted with a ``FutureWarning``.
    inplace : bool, default False
        Attach the groups to ``data`` itself instead of a copy.
    merge : bool, default True
        Keep earlier results of other variables when they were computed alike.
    var_names, filter_vars, coords, group, sample_dims, centers, radii, n_radii
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
    source = convert(data, group=group, model=model, sample_dims=sample_dims, independent=independent)
    if not source.container:
        raise InvalidTypeError(
            f"add_local_mass needs a DataTree or InferenceData, got {source.type_name}; "
            "for a Dataset or dict of arrays use local_mass() and mass_index()"
        )
    if is_draws_node(data, group):
        # a node holding the draws itself (idata.posterior): the groups would nest inside it, where
        # neither summary() nor a later call finds them
        raise InvalidInputError(
            f"add_local_mass attaches its groups beside {group!r}: pass the whole tree (idata), not a node "
            f"holding the draws itself (idata.{group}); for the node's draws alone use local_mass() and "
            "mass_index()")
    curves, index = _compute(source, **kwargs)
    if merge:
        # (read once: stale results, of other draws, are replaced, but the user's attrs on them stay)
        stored = read(data)
        why = stale_reason(data, stored[0]) if stored is not None else None
        if why:
            warn_stale(why, "replaced")
        curves, index = _merge_with_existing(None if why else stored, curves, index)
        curves, index = _keep_user_attrs(stored, curves, index)
    return attach(data, curves, index, inplace=inplace)


def _keep_user_attrs(stored, curves, index):
    """The new groups with the attributes the user put on the stored ones (keys not in ``OWN_ATTRS``)."""
    if stored is None:
        return curves, index
    out = []
    for new, old in zip((curves, index), stored):
        mine = {k: v for k, v in (old.attrs if old is not None else {}).items()
                if k not in OWN_ATTRS and k not in new.attrs}
        if mine:
            new = new.copy(deep=False)
            new.attrs = {**new.attrs, **mine}
        out.append(new)
    return out[0], out[1]


#: attributes that must agree for new results to join earlier ones in the same groups
_MERGE_KEYS = ("tier", "norm", "ci_prob", "joint", "source_group", "min_ess")


def _merge_with_existing(old, curves, index):
    """Earlier results of other variables stay beside the new ones when they are alike.

    Alike: the same tier, norm, ci_prob, joint flag, source group and
    ``min_ess`` (it sets ``r_resolved`` and the resolved radii), and the
    same number of radii; and not joint balls (the groups' attrs describe
    one). Variables computed again are replaced. Otherwise the new results
    replace the old groups, with a warning naming what is dropped. The
    merged ``grid_rule`` says which variables have explicit radii and which
    the automatic grid (:func:`~pymc_localmass._radii.combine_rules`).
    """
    if old is None or old[1] is None:
        return curves, index
    old_c, old_i = old
    keep = [v for v in old_c.data_vars if v not in curves.data_vars and v in old_i.data_vars]
    if not keep:
        return curves, index
    why = [k for k in _MERGE_KEYS if str(old_c.attrs.get(k)) != str(curves.attrs.get(k))]
    if not why and old_c.sizes.get("radius") != curves.sizes.get("radius"):
        why = ["radius"]
    if why:
        warnings.warn(
            f"add_local_mass: the earlier results for {keep} differ in {', '.join(why)} from the new ones and "
            "are replaced (compute them in one call, or with the same settings, to keep both)",
            UserWarning, stacklevel=user_stacklevel())
        return curves, index
    if int(curves.attrs.get("joint", 0) or 0):
        # (a joint ball's centre and coordinates are attrs of the groups, center_values and joint_vars:
        # the groups describe one ball)
        warnings.warn(
            f"add_local_mass: the earlier joint ball {keep} is replaced by the new one {list(curves.data_vars)} "
            "(the groups hold one joint ball, whose centre is in their attrs: compute the balls into separate "
            "containers, or with local_mass(..., joint=True), to keep both)",
            UserWarning, stacklevel=user_stacklevel())
        return curves, index
    # each variable's radius grid as it was computed: explicit radii for some, the automatic grid for others
    rules = variable_rules(old_c.attrs.get("grid_rule", ""), list(old_c.data_vars))
    rules.update(variable_rules(curves.attrs.get("grid_rule", ""), list(curves.data_vars)))
    rule = combine_rules({v: rules[v] for v in keep + list(curves.data_vars)})
    merged = []
    for new, prev in ((curves, old_c), (index, old_i)):
        ds = xr.merge([prev[keep], new], join="outer", compat="no_conflicts", combine_attrs="override")
        ds = ds[keep + list(new.data_vars)]
        used = [c for c in ds["center"].values
                if any(not bool(ds[v].sel(center=c).isnull().all()) for v in ds.data_vars)]
        ds = ds.sel(center=used)
        ds.attrs = dict(new.attrs, grid_rule=rule)
        # the earlier results may come from a file: its encodings (a '<U1' centre label
        # dtype, chunking) would cut or reshape the merged values when written again
        ds = ds.copy(deep=False)  # (new variable objects: the user's container keeps its own)
        for var in ds.variables.values():
            var.encoding = {}
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


def changed_model_data(model, data):
    """The model's ``pm.Data`` that differ from those ``data``'s draws were fitted with (its ``constant_data``).

    For :func:`~pymc_localmass.check.check`, which reads fits through this module: after
    ``pm.set_data`` the model's density is another posterior than the draws'. Empty
    without a model, without PyMC data, or when ``data`` keeps no record of them.
    """
    if model is None:
        return []
    from .adapters.pymc import changed_data, fitting_data

    return changed_data(model, fitting_data(data))


def check_model_shapes(model, draws, group="posterior"):
    """Raise when a free variable of ``model`` has another shape in ``draws`` (for check(), see adapters.pymc)."""
    from .adapters.pymc import check_model_shapes as _check

    _check(model, draws, group)
