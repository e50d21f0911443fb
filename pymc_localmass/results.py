"""The results schema (docs/schema.md): build, validate, attach, read back."""

import datetime as _dt
import itertools

import numpy as np
import xarray as xr

from . import __version__
from ._compat import attach_groups, container_groups, get_group
from .core.curves import CURVE_STATS, INDEX_STATS, STATUS_WORDS
from .errors import InvalidInputError, InvalidTypeError, SchemaError

CURVE_GROUP = "local_mass"
INDEX_GROUP = "local_mass_index"
REQUIRED_ATTRS = ("tier", "norm", "ci_prob", "grid_rule", "pymc_localmass_version", "created_at")
#: every attribute the package writes on the results groups (docs/schema.md); ``add_local_mass``
#: keeps the others, the user's own, when it merges or replaces the groups
OWN_ATTRS = frozenset(REQUIRED_ATTRS + (
    # every tier
    "source_group", "joint", "n_chains", "n_draws", "index_method", "min_ess",
    # samples tier
    "independent", "sample_selection", "index_window_cap",
    # joint balls
    "center_values", "joint_vars",
    # several groups along dim "group"
    "groups", "group_tiers",
    # approximations
    "approximation", "variable_tiers", "fallback_reason", "qmc_reason", "n_points", "n_randomizations",
    "monotone_deterministics", "omitted",
    # model tier and QMC through the model
    "pairs", "max_tail_index", "pair_truncation", "thinned_draws", "qmc_points", "block_dim", "normalisation",
    "anchor_radius", "anchor_mass", "anchor_log_se", "anchor_draws_inside",
))


def base_attrs(*, tier, norm, ci_prob, grid_rule, source_group, joint, n_chains, n_draws, **extra):
    """Attributes every results dataset carries (netCDF-safe types only)."""
    attrs = {
        "tier": str(tier),
        "norm": str(norm),
        "ci_prob": float(ci_prob),
        "grid_rule": str(grid_rule),
        "pymc_localmass_version": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source_group": str(source_group),
        "joint": int(bool(joint)),
        "n_chains": int(n_chains),
        "n_draws": int(n_draws),
    }
    for key, val in extra.items():
        attrs[key] = val if isinstance(val, (int, float, str)) else str(val)
    return attrs


def merge_curves(variables, combine_attrs="override"):
    """One ``local_mass`` dataset from per-variable curve arrays of any grid lengths.

    Each variable keeps its own number of radii; shorter grids are padded
    at the end with NaN (``resolved`` 0 there), as a centre a variable was
    not asked for is NaN.
    """
    parts = [v.rename(k).assign_coords(radius=np.arange(v.sizes["radius"]), local_stat=list(CURVE_STATS))
             .to_dataset() for k, v in variables.items()]
    if len(parts) == 1 and combine_attrs == "override":
        return parts[0]  # one variable: nothing to align or pad (tests/test_api.py: what merging it gives)
    return _merge_parts(parts, list(variables), combine_attrs)


def _merge_parts(parts, names, combine_attrs):
    """:func:`merge_curves` of several variables' datasets: aligned, padded with NaN, ``resolved`` 0 there."""
    ds = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs=combine_attrs)
    stat = {lab: i for i, lab in enumerate(CURVE_STATS)}
    for k in names:
        da = ds[k]
        # (by position: xarray's label selections cost about a millisecond a variable, in a model's dozens)
        values = np.moveaxis(np.asarray(da.values), [da.get_axis_num("radius"), da.get_axis_num("local_stat")],
                             [-2, -1])
        pad = np.isnan(values[..., stat["radius"]]) & ~np.all(np.isnan(values[..., stat["mass"]]), axis=-1,
                                                              keepdims=True)
        if pad.any():
            values = values.copy()
            values[..., stat["resolved"]][pad] = 0.0
            ds[k] = da.copy(data=np.moveaxis(values, [-2, -1], [da.get_axis_num("radius"),
                                                                da.get_axis_num("local_stat")]))
    return ds.assign_coords(radius=np.arange(ds.sizes["radius"]), local_stat=list(CURVE_STATS))


def stored_centers(index, names):
    """The centres of an index dataset, as a ``centers=`` mapping ``{var: {label: values}}``.

    Each label maps to the ``center_value`` DataArray over the variable's
    element dims; labels a variable was not asked for (all NaN) are left out.
    """
    out = {}
    for n in names:
        da = index[n].sel(index_stat="center_value", drop=True)
        out[n] = {}
        for c in da["center"].values:
            v = da.sel(center=c, drop=True)
            if not bool(np.all(np.isnan(v.values))):
                out[n][str(c)] = v
    return out


def joint_center_label(labels):
    """Centre label of a joint ball from its ``var=label`` parts: the common label, else all of them."""
    common = {lab.split("=", 1)[1] for lab in labels}
    return labels[0].split("=", 1)[1] if len(common) == 1 else ",".join(labels)


def validate(ds: xr.Dataset, kind: str = CURVE_GROUP) -> xr.Dataset:
    """Check a results dataset against docs/schema.md; one error lists every violation.

    Enforced: the stat dimension with every required label (extra labels are
    allowed: tiers and later versions add their own), each variable's dims
    with the stat dim last, the required attributes and ``ci_prob`` in
    (0, 1); for ``local_mass`` curves, radii finite, > 0 and increasing along
    ``radius`` (NaN only where a centre was not asked for, or as padding),
    masses present at every radius, ``0 <= mass_lower <= mass <= mass_upper
    <= 1``, masses non-decreasing in r and ``resolved`` 0 or 1; for
    ``local_mass_index``, ordered intervals of ``a`` and ``b`` and ``0 <=
    atom_lower <= atom <= atom_upper <= 1``.

    Parameters
    ----------
    ds : xarray.Dataset
    kind : {"local_mass", "local_mass_index"}

    Returns
    -------
    xarray.Dataset
        The same dataset, for chaining.

    Raises
    ------
    pymc_localmass.errors.SchemaError
        (a ``ValueError``) listing every violation in ``violations``.

    See Also
    --------
    read : The results groups of a container.
    pymc_localmass.local_mass : Build a ``local_mass`` results dataset.

    Examples
    --------
    >>> import numpy as np, pymc_localmass as plm
    >>> res = plm.local_mass({"x": np.random.default_rng(0).normal(size=(2, 200))})
    >>> validate(res) is res
    True
    """
    if not isinstance(ds, xr.Dataset):
        raise InvalidTypeError(f"validate: expected an xarray.Dataset, got {type(ds).__name__}")
    if kind == CURVE_GROUP:
        stat_dim, labels, extra_dims = "local_stat", CURVE_STATS, ("center", "radius")
    elif kind == INDEX_GROUP:
        stat_dim, labels, extra_dims = "index_stat", INDEX_STATS, ("center",)
    else:
        raise InvalidInputError(f"kind must be {CURVE_GROUP!r} or {INDEX_GROUP!r}, got {kind!r}")
    problems, good = _structure_problems(ds, kind, stat_dim, labels, extra_dims)
    if good:
        check = _curve_problems if kind == CURVE_GROUP else _index_problems
        position = {str(lab): i for i, lab in enumerate(ds[stat_dim].values)}
        for name in good:
            problems.extend(check(name, ds.variables[name], position))
    if problems:
        raise SchemaError(kind, problems)
    return ds


#: stats added after results were first written: results without them are still valid
#: (``resolution``: not recorded, read as 0)
OPTIONAL_STATS = ("resolution",)

#: tolerance of the order checks (rounding of stored floats)
_TOL = 1e-9


def _structure_problems(ds, kind, stat_dim, labels, extra_dims):
    """Violations of dims, labels and attrs; and the variables whose values can be checked."""
    problems = []
    if stat_dim not in ds.dims:
        return [f"missing dimension {stat_dim!r}"], []
    have = [str(v) for v in ds[stat_dim].values]
    missing = [lab for lab in labels if lab not in have and lab not in OPTIONAL_STATS]
    if missing:
        problems.append(f"{stat_dim} lacks labels {missing}")
    repeated = sorted({lab for lab in have if have.count(lab) > 1})
    if repeated:
        problems.append(f"{stat_dim} repeats labels {repeated}")
    if "center" in ds.dims:
        centres = [str(v) for v in ds["center"].values]
        twice = sorted({lab for lab in centres if centres.count(lab) > 1})
        if twice:
            problems.append(f"center repeats labels {twice}")
    for attr in REQUIRED_ATTRS:
        if attr not in ds.attrs:
            problems.append(f"missing attribute {attr!r}")
    if "ci_prob" in ds.attrs:
        try:
            ok = 0 < float(ds.attrs["ci_prob"]) < 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(f"ci_prob must be in (0, 1), got {ds.attrs['ci_prob']!r}")
    good = []
    for name in ds.data_vars:
        da = ds.variables[name]  # (the Variable: building DataArrays costs more than the checks)
        lacking = [dim for dim in extra_dims + (stat_dim,) if dim not in da.dims]
        if lacking:
            problems.append(f"variable {name!r} lacks dimension(s) {lacking}")
        elif da.dims[-1] != stat_dim:
            problems.append(f"variable {name!r} must have {stat_dim!r} last, has {da.dims}")
        elif da.dtype.kind not in "fiu":
            problems.append(f"variable {name!r} is not numeric (dtype {da.dtype})")
        elif not missing and not repeated:
            good.append(name)
    return problems, good


def _count(mask, what, name):
    n = int(np.count_nonzero(mask))
    return [f"variable {name!r}: {what} ({n} value{'s' if n != 1 else ''})"] if n else []


def _stat_reader(var, position, last_but_one=None):
    """``stat(label)``: one stat's values of ``var`` as float, read by position (the stat dimension is last).

    ``var``: an ``xarray.Variable``; ``position``: each stat label's position;
    ``last_but_one``: a dimension moved just before the stat dimension first.
    (Positions rather than ``.sel``: validation runs on every results write.)
    """
    values = np.asarray(var.values)
    if last_but_one is not None:
        values = np.moveaxis(values, var.dims.index(last_but_one), -2)

    def stat(lab):
        return np.asarray(values[..., position[lab]], float)

    return stat


def _curve_problems(name, var, position):
    """Violations of the curve invariants of one ``local_mass`` variable (an ``xarray.Variable``)."""
    stat = _stat_reader(var, position, last_but_one="radius")

    r, m, lo, hi, res = (stat(k) for k in ("radius", "mass", "mass_lower", "mass_upper", "resolved"))
    out = []
    has_r = ~np.isnan(r)
    out += _count(has_r & ~np.isfinite(r), "infinite radii", name)
    out += _count(has_r & np.isfinite(r) & ~(r > 0), "radii <= 0", name)
    with np.errstate(invalid="ignore"):
        dr = np.diff(r, axis=-1)
        out += _count(~np.isnan(dr) & ~(dr > 0), "radii not increasing along 'radius'", name)
        for lab, v in (("mass", m), ("mass_lower", lo), ("mass_upper", hi)):
            out += _count(has_r & np.isnan(v), f"{lab} NaN at a given radius", name)
        out += _count((m < -_TOL) | (m > 1 + _TOL), "masses outside [0, 1]", name)
        out += _count((lo < -_TOL) | (hi > 1 + _TOL), "mass interval ends outside [0, 1]", name)
        out += _count(lo > hi + _TOL, "mass_lower > mass_upper", name)
        out += _count((m < lo - _TOL) | (m > hi + _TOL), "mass outside [mass_lower, mass_upper]", name)
        dm = np.diff(m, axis=-1)
        out += _count(dm < -(_TOL + 1e-6 * np.abs(m[..., 1:])), "masses decreasing in r", name)
        out += _count(has_r & ~np.isin(res, (0.0, 1.0)), "resolved not 0 or 1", name)
    return out


def _index_problems(name, var, position):
    """Violations of the interval order of one ``local_mass_index`` variable (an ``xarray.Variable``)."""
    stat = _stat_reader(var, position)

    out = []
    with np.errstate(invalid="ignore"):
        for p in ("a", "b"):
            lo, hi = stat(f"{p}_lower"), stat(f"{p}_upper")
            out += _count(lo > hi, f"{p}_lower > {p}_upper", name)
        w, wl, wh = stat("atom"), stat("atom_lower"), stat("atom_upper")
        out += _count((wl < -_TOL) | (wh > 1 + _TOL) | (w < -_TOL) | (w > 1 + _TOL), "atom outside [0, 1]", name)
        out += _count((wl > w + _TOL) | (w > wh + _TOL), "atom outside [atom_lower, atom_upper]", name)
        code = stat("status")
        out += _count(np.isinf(code) | (np.isfinite(code) & ~np.isin(code, np.arange(len(STATUS_WORDS)))),
                      f"status codes outside 0..{len(STATUS_WORDS) - 1} "
                      f"({', '.join(f'{i}: {w}' for i, w in enumerate(STATUS_WORDS))})", name)
    return out



def attach(container, curves, index, inplace=False):
    """Attach results to a DataTree/InferenceData as groups ``local_mass`` and ``local_mass_index``."""
    validate(curves, CURVE_GROUP)
    validate(index, INDEX_GROUP)
    return attach_groups(container, {CURVE_GROUP: curves, INDEX_GROUP: index}, inplace=inplace)


def read(container):
    """The ``(local_mass, local_mass_index)`` datasets of a container, or None when absent."""
    try:
        groups = container_groups(container)
    except TypeError:
        return None
    if CURVE_GROUP not in groups:
        return None
    curves = get_group(container, CURVE_GROUP)
    index = get_group(container, INDEX_GROUP) if INDEX_GROUP in groups else None
    return curves, index


def stale_reason(container, results):
    """Why stored results no longer describe the container's draws, or None.

    The results keep the chain and draw counts they were computed from
    (``attrs["n_chains"]``, ``attrs["n_draws"]``); the groups have no chain or
    draw dims, so a selection of the container (``idata.sel(chain=[0, 1, 2])``,
    dropping a stuck chain) keeps them as they were, about draws it no longer
    holds. (Results computed from a ``coords=`` selection of chains or draws,
    ``attrs["sample_selection"]``, are not checked.)

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> res = xr.Dataset(attrs={"n_chains": 4, "n_draws": 400, "source_group": "posterior"})
    >>> post = {"posterior": xr.Dataset({"x": (("chain", "draw"), np.zeros((3, 400)))})}
    >>> stale_reason(xr.DataTree.from_dict(post), res).split("from ")[-1]
    "4 x 400 (chain, draw) draws of group 'posterior', which now has 3 x 400"
    """
    g = str(results.attrs.get("source_group", "posterior"))
    n_c, n_d = results.attrs.get("n_chains"), results.attrs.get("n_draws")
    # (computed from a coords= selection of chains or draws: the counts are the selection's)
    if n_c is None or n_d is None or "," in g or int(results.attrs.get("sample_selection", 0)) \
            or np.ndim(n_c) or np.ndim(n_d):  # (several groups: one count per group)
        return None
    if int(n_c) <= 0 or int(n_d) <= 0:  # (an approximation's exact tier: no draws counted)
        return None
    try:
        ds = get_group(container, g)
    except (KeyError, AttributeError, TypeError, ValueError):
        return None
    if "chain" not in ds.dims or "draw" not in ds.dims:
        return None
    from .adapters import analysed_layout

    now = (int(ds.sizes["chain"]), int(ds.sizes["draw"]))
    # (one chain of prior draws is analysed split into chains: compared as analysed)
    if analysed_layout(g, *now) != (int(n_c), int(n_d)):
        return (f"the stored local-mass results were computed from {int(n_c)} x {int(n_d)} (chain, draw) draws "
                f"of group {g!r}, which now has {now[0]} x {now[1]}")
    gone = [m for m in source_variables(results) if m not in ds.data_vars]
    if gone:
        return (f"the stored local-mass results describe variable(s) {gone} that group {g!r} no longer holds "
                f"(its variables: {list(ds.data_vars)[:10]})")
    return None


def read_current(container, what="analysed again"):
    """:func:`read`, or None (with a ``UserWarning``) where the stored results describe other draws.

    See :func:`stale_reason`; ``what`` says what happens instead, in the warning.
    """
    got = read(container)
    if got is None:
        return None
    why = stale_reason(container, got[0])
    if why is None:
        return got
    warn_stale(why, what)
    return None


def warn_stale(why, what="analysed again"):
    """The ``UserWarning`` for results of other draws (``why``: :func:`stale_reason`), and what happens instead."""
    import warnings

    from ._stack import user_stacklevel

    warnings.warn(f"{why} (a selection of chains or draws since?): {what}", UserWarning,
                  stacklevel=user_stacklevel())


def check_distinct_labels(pairs):
    """Raise when two variables give an element the same label.

    E.g. ``x[0]`` the variable and element 0 of ``x``: tables and findings key on the label.
    """
    seen = {}
    for var, lab in pairs:
        if seen.setdefault(lab, var) != var:
            raise InvalidInputError(
                f"label {lab!r} names an element of variable {seen[lab]!r} and of variable {var!r}; "
                             "rename one of the variables")


def element_labels(da, drop=("center", "local_stat", "index_stat", "radius")):
    """ArviZ-style labels ``name[coord, coord]`` for the elements of a results variable."""
    dims = [d for d in da.dims if d not in drop]
    name = str(da.name)
    if not dims:
        return [((), name)]
    # (each dim's labels, in order, without stacking: a stacked dim's labels are tuples, and a
    # MultiIndex cannot be stacked again; an unlabelled dim's are its positions)
    labels = [list(da.indexes[d]) if d in da.indexes else list(range(da.sizes[d])) for d in dims]
    out = []
    for key in itertools.product(*labels):
        out.append((dict(zip(dims, key)), f"{name}[{', '.join(_label_text(k) for k in key)}]"))
    return out


def _label_text(key):
    """One element label's text: a stacked dim's tuple as its parts joined by a dot (``r1.1``)."""
    return ".".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


#: what to do about each status (the last sentence of its note)
STATUS_ADVICE = {
    "unresolved": "check(idata, model=model) or local_mass(..., method='model') integrate the model's "
                  "density below the draws",
    "sampler": "if the model is centred, try a non-centred parameterisation; otherwise a higher "
               "target_accept or more tuning; confirm with check(idata, model=model)",
    "log-ambiguous": "local_mass(..., method='model') resolves smaller radii and separates b from a",
}

#: what to do about a "sampler" row whose chains disagree near the centre with no divergences there
#: (a mixture's label switching read "try a non-centred parameterisation")
SAMPLER_CHAINS_ADVICE = ("several modes (a mixture's components switching labels: order them, e.g. an ordered "
                         "transform on their means) or chains stuck apart: run more or longer chains and look at "
                         "their traces; confirm with check(idata, model=model)")


def sampler_advice(row):
    """What to do about a "sampler" row: its divergences', or its disagreeing chains' advice.

    Chains that disagree in a run without any divergence point at several modes (a
    mixture's label switching) or stuck chains; with divergences in the run (a centred
    funnel, whose chains also disagree near its neck) the sampler advice stands.

    Examples
    --------
    >>> sampler_advice({"chain_z": 6.0, "n_divergent": 0.0, "divergent_near": 0.0})[:14]
    'several modes '
    """
    from .core.curves import CHAIN_Z

    get = lambda k: float(row.get(k, np.nan))  # noqa: E731
    if not get("n_divergent") > 0 and get("chain_z") > CHAIN_Z:
        return SAMPLER_CHAINS_ADVICE
    return STATUS_ADVICE["sampler"]


def _g(x):
    """A figure in two significant digits."""
    x = float(x)
    if not np.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return f"{x:.2g}"


def status_word(row):
    """The status word of an index row (a mapping of ``index_stat`` labels to values).

    ``status`` may be the stored code or the word itself (a row of :func:`summary`).
    A row without one (NaN: a centre not requested for this variable, whose
    row of a Dataset is all NaN) says nothing: "unresolved".

    Examples
    --------
    >>> status_word({"status": 4.0}), status_word({"status": "sampler"}), status_word({"status": float("nan")})
    ('unresolved', 'sampler', 'unresolved')
    """
    code = row.get("status", np.nan)
    if isinstance(code, str):
        if code not in STATUS_WORDS:
            raise InvalidInputError(f"unknown status {code!r}; one of {list(STATUS_WORDS)}")
        return code
    code = float(code)
    if not np.isfinite(code):
        return "unresolved"
    return STATUS_WORDS[int(code)] if 0 <= int(code) < len(STATUS_WORDS) else "ok"


def source_variables(results):
    """The variables of the draws that results describe: a joint ball's members (attrs ``joint_vars``), else its own.

    Examples
    --------
    >>> import xarray as xr
    >>> source_variables(xr.Dataset({"x+y": 0.0}, attrs={"joint": 1, "joint_vars": "x,y"}))
    ['x', 'y']
    >>> source_variables(xr.Dataset({"tau": 0.0, "mu": 0.0}))
    ['tau', 'mu']
    """
    if int(results.attrs.get("joint", 0) or 0) and results.attrs.get("joint_vars"):
        return str(results.attrs["joint_vars"]).split(",")
    return [str(n) for n in results.data_vars]


def joint_dim(attrs):
    """Coordinates of the joint ball of results with these attributes (1 when not joint).

    Examples
    --------
    >>> joint_dim({"joint": 1, "center_values": "0,0,0"}), joint_dim({"joint": 0})
    (3, 1)
    """
    if not int(attrs.get("joint", 0) or 0):
        return 1
    return max(1, len(str(attrs.get("center_values", "")).split(",")))


def location_text(x):
    """A centre's value in a sentence: three significant digits, and every digit before the point.

    A switch point's centres 1890, 1890.5 and 1891 read ``1.89e+03`` alike at
    three significant digits; a location keeps its whole part and one decimal
    beyond it.

    Examples
    --------
    >>> [location_text(v) for v in (6.9512, 1890.5, 1890.16, 1906.0, 0.000123, -42.0, 0.0)]
    ['6.95', '1890.5', '1890.2', '1906', '0.000123', '-42', '0']
    """
    x = float(x)
    if not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    whole = int(np.floor(np.log10(abs(x)))) + 1  # digits before the point (<= 0 below 1)
    return f"{x:.{min(max(3, whole + 1), 17)}g}"


def center_text(label, value):
    """A centre in a sentence: its value where the label is that number, else ``label (value)``.

    Examples
    --------
    >>> center_text("mean", 6.9512), center_text("0", 0.0), center_text("mode", 1891.0)
    ('mean (6.95)', '0', 'mode (1891)')
    """
    try:
        if float(label) == value:
            return f"{value:g}"
    except ValueError:
        pass
    return f"{label} ({location_text(value)})" if np.isfinite(value) else label


#: what to do where the chains move too slowly near the centre for an index (:func:`slow_chains`)
SLOW_CHAINS_ADVICE = "run longer chains or reparameterise (a centred hierarchy: non-centred), and see R-hat and ESS"


def slow_chains(row, independent=False):
    """An index row whose draws lie at the centre but carry too few effective draws for an index.

    The nearest draw within a quarter ``scale`` of the centre and fewer than ``REACH_ESS``
    effective draws within one, though the draws there number ``REACH_ESS`` or more
    (``n_near_draws``): the chains mix too slowly there, whatever the distance. Never
    for ``independent`` draws, nor where few draws lie within one ``scale`` at all (3
    draws, 3 effective: a thin tail the chains rarely visit, not slow chains).

    Examples
    --------
    >>> slow_chains({"nearest": 0.001, "scale": 1.0, "n_near": 6.0, "n_near_draws": 60.0})
    True
    >>> slow_chains({"nearest": 0.001, "scale": 1.0, "n_near": 3.0, "n_near_draws": 3.0})
    False
    >>> slow_chains({"nearest": 4.0, "scale": 1.0, "n_near": 0.0, "n_near_draws": 0.0})
    False
    """
    from .core.index import REACH_ESS

    if independent:
        return False
    near, sc, n_near = (float(row.get(k, np.nan)) for k in ("nearest", "scale", "n_near"))
    raw = float(row.get("n_near_draws", np.nan))
    if np.isfinite(raw) and raw < REACH_ESS:  # (few draws, however many effective: not the chains' speed)
        return False
    return bool(np.isfinite(near) and sc > 0 and near < 0.25 * sc and n_near < REACH_ESS)


def status_note(row, name="the variable", center="the centre", dim=1, tier=None, independent=False):
    """One plain line saying what an index row's evidence supports (empty when "ok").

    Parameters
    ----------
    row : mapping
        ``index_stat`` label -> value of one row (e.g. a row of :func:`summary`).
    name, center : str
        How to call the variable and the centre in the sentence.
    dim : int, default 1
        Coordinates of the ball (a joint ball's, from the results' ``center_values``).
    tier : str, optional
        The results' tier (attrs ``tier``): a model-tier row that resolves no radius is not
        sent to the model tier.
    independent : bool, default False
        The draws are independent (attrs ``independent``): few draws near the centre are a
        thin tail, never slow chains.

    Examples
    --------
    >>> row = {"status": 4.0, "nearest": 4.3, "scale": 1.0, "n_near": 0.0, "r_resolved": 5.0,
    ...        "n_divergent": 0.0, "divergent_near": 0.0}
    >>> print(status_note(row, "x", "8"))  # doctest: +ELLIPSIS
    no draw within 4.3 sd of x = 8 (0 effective draws within one sd); the draws say nothing below r = 5; ...
    """
    word = status_word(row)
    get = lambda k: float(row.get(k, np.nan))  # noqa: E731
    at = f"{name} = {center}"
    code = row.get("status", np.nan)
    if not isinstance(code, str) and not np.isfinite(float(code)):
        return f"no index was computed at {at} (a centre not requested for this variable)"
    if word == "ok":
        return ""
    if word == "atom" and not np.isfinite(get("nearest")):  # an index fitted from a curve
        return (f"the curve stays flat down to its smallest resolved radius around {at}: an atom of weight up "
                f"to {_g(get('atom_upper'))}, or continuous mass of an index below {_g(get('a_upper'))} (a curve "
                "cannot tell them apart; exact ties in the draws can: mass_index on the draws)")
    if word == "atom":
        return (f"an atom at {at}: {_g(get('atom'))} [{_g(get('atom_lower'))}, {_g(get('atom_upper'))}] of the "
                "draws equal it exactly; the index of an atom is (0, 0)")
    if word == "lattice" and not np.isfinite(get("nearest")):  # an index fitted from a curve
        if not np.isnan(get("a")):
            return (f"the draws take discrete values (a lattice) and the curve's smallest balls around {at} hold "
                    "none of them: it is not a support point, a = inf")
        return (f"the draws take discrete values (a lattice): the curve is a staircase whose slopes are no index, "
                f"and its smallest ball holds support points; it cannot tell whether {at} is one (an atom of "
                f"weight up to {_g(get('atom_upper'))}, a = 0) or not (a = inf): mass_index on the draws tells which")
    if word == "lattice" and dim > 1:
        return (f"a coordinate of the joint ball takes discrete values (a lattice) and {at} is off its points: "
                f"no mass within {_g(get('nearest'))}, a = inf")
    if word == "lattice":
        return (f"the draws take discrete values (a lattice) and {at} is not one of them: no mass within "
                f"{_g(get('nearest'))}, a = inf")
    if word == "log-ambiguous":
        # (the lean is tested at a fixed 90%, core.index.HULL_Z, so that a's interval grows with ci_prob;
        # b's interval is at ci_prob and may hold 0 where ci_prob > 0.9)
        # (a test at 90%: among many elements of a plain density, about one in ten reads this by chance,
        # which the note says, lest a GP's 50 Gaussian elements seem to hold five log factors)
        return (f"the draws lean towards a log factor (b = {_g(get('b'))}, whose 90% interval excludes 0, as it "
                "does by chance for about one element in ten without one) that "
                f"they cannot separate from the power at {at}: a is in [{_g(get('a_lower'))}, {_g(get('a_upper'))}] "
                f"for b in [{_g(get('b_lower'))}, {_g(get('b_upper'))}]; " + STATUS_ADVICE[word])
    if word == "unresolved":
        n_near, sc, near = get("n_near"), get("scale"), get("nearest")
        no_slope = (f"the curve around {at} gives no slope: fewer than three of its radii are resolved and hold "
                    "at most half the mass beyond the smallest ball's (the index is read from small balls); radii= "
                    "where the mass is resolved, and nearer the centre where it saturates, may give one")
        if sc == 0:  # a constant element
            return (f"every draw of {name} takes one value, at distance {_g(near)} from the centre {at}: the "
                    "draws put no mass nearer, and there is nothing to fit")
        from .core.curves import PRECISION_ULPS

        res = get("resolution")
        if res > 0 and PRECISION_ULPS * res >= get("window"):
            return (f"the draws are rounded to a grid of {_g(res)} near {at} (their floating-point type, or the "
                    f"digits they were written with), too coarse for the radii the index needs (up to "
                    f"{_g(get('window'))}): the index cannot be read; subtract the variable's location before "
                    "sampling, or store its draws in a wider floating-point type or with more digits")
        if not np.isfinite(n_near):
            return no_slope
        if not np.isfinite(get("r_resolved")) and tier == "model":
            # (its advice would be to run what produced the row)
            return (f"the model's density resolves no radius of the curve around {at} (its masses are too "
                    "small for their quadrature error, or too few radii were asked for): give radii= nearer "
                    "the draws, or where the mass is larger")
        if not np.isfinite(get("r_resolved")):
            return (f"no ball around {at} holds min_ess effective draws: the draws resolve no radius; "
                    + STATUS_ADVICE[word])
        from .core.index import REACH_ESS

        if n_near < REACH_ESS and not np.isfinite(near):  # an index fitted from a curve of draws
            return (f"the curve holds at most {n_near:.0f} effective draws within one sd of {at} (its smallest "
                    f"resolved radius is {_g(get('r_resolved'))}): too few to tell how the mass decays near it; "
                    + STATUS_ADVICE[word])
        if not np.isfinite(near) and not np.isfinite(get("window")):  # a curve that gave no slope fit
            return no_slope
        if slow_chains(row, independent):
            # (draws lie near the centre but carry few effective draws: the chains' autocorrelation, not
            # the distance; a badly mixed random walk's sd at its mean read "no draw within 0.0011 sd")
            return (f"only {n_near:.0f} effective draws lie within one sd of {at}, though the nearest draw is "
                    f"{_g(near / sc)} sd from it: the chains move too slowly (few effective draws) for an index; "
                    + SLOW_CHAINS_ADVICE)
        if n_near < REACH_ESS:
            return (f"no draw within {_g(near / sc)} sd of {at} ({n_near:.0f} effective draws within one sd); "
                    f"the draws say nothing below r = {_g(get('r_resolved'))}; " + STATUS_ADVICE[word])
        if not np.isfinite(near):  # an index fitted from a curve of draws whose slope moves fast
            return (f"the slope of the curve around {at} moves fast: it steepens without bound towards its "
                    f"smallest resolved radius {_g(get('r_resolved'))} (the draws stop short of the centre, a "
                    "gap, or the mass decays faster than any power), or it rises steeply across the radii (a "
                    "trough between modes, a thin tail); no finite index is supported; " + STATUS_ADVICE[word])
        if dim > 1:  # a joint ball: the one-dimensional thin-tail and edge readings do not carry over
            sparse = f"in {dim} dimensions even a mode's neighbourhood holds few draws; " if dim >= 4 else ""
            return (f"the joint ball around {at} spans {dim} coordinates, and its draws do not reach radii "
                    f"small enough for an index: the nearest is {_g(near)} away and few lie within a quarter "
                    f"of the unit {_g(sc)} ({sparse}a thin tail, a trough, a narrow direction or a hard edge "
                    "look the same from distances alone); a joint index needs more draws, fewer coordinates, or "
                    "the model's density; " + STATUS_ADVICE[word])
        if near < 0.5 * get("r_resolved"):
            return (f"{at} lies where the density changes fast (a thin tail, or a trough between modes): too "
                    "few effective draws lie within a quarter sd of it, or the slope of its mass rises steeply "
                    "across every window the draws resolve, so the local index cannot be told from the "
                    f"surrounding slope; the draws say nothing below r = {_g(get('r_resolved'))}; "
                    + STATUS_ADVICE[word])
        return (f"the draws stop short of {at}: none is nearer than {_g(near)}; either the posterior has no "
                "mass there (they stop abruptly), or its density falls steeply towards it and may level off "
                "below the draws (a thin tail at a boundary), or the sampler did not reach it; "
                + STATUS_ADVICE[word])
    # sampler
    parts = []
    n_div, near_div = get("n_divergent"), get("divergent_near")
    if n_div > 0 and near_div > 0:
        parts.append(f"{near_div:.0f} of {n_div:.0f} divergent transitions fall among the draws nearest {at}")
    from .core.curves import CHAIN_Z

    if get("chain_z") > CHAIN_Z:
        # (R-hat is NaN where some chain has no draw in the ball: nothing to print then)
        rhat = f" (R-hat of the ball indicator {get('rhat'):.3f})" if np.isfinite(get("rhat")) else ""
        parts.append(f"one chain's share of draws near {at} differs from the others' by {get('chain_z'):.1f} "
                     f"standard errors{rhat}")
    from .core.index import REACH_ESS

    if not np.isfinite(get("a")) and not get("n_near") >= REACH_ESS:
        parts.append(f"the draws do not reach {at} ({_g(get('n_near'))} effective draws within one sd, "
                     f"none nearer than {_g(get('nearest'))})")
    elif not np.isfinite(get("a")):  # the draws are there, but no index is read from them
        parts.append(f"no index is read at {at}: too few effective draws lie within a quarter sd of it, or "
                     "their slope moves across the radii they resolve")
    advice = sampler_advice(row)
    if advice is SAMPLER_CHAINS_ADVICE:
        return "; ".join(parts) + f": the chains do not agree near {at}; " + advice
    if get("atom") > 0:
        # (an atom the draws sit on is reached: what is in doubt is its weight; max(theta - 10, 0)
        # of the centred eight schools holds 79% of the draws at 0, and all its divergences)
        return ("; ".join(parts) + f": the draws reach the atom at {at} ({_g(get('atom'))} of them), but the "
                "sampler's weight on it may be off; " + advice)
    return "; ".join(parts) + f": the sampler may not reach {at}; " + advice
