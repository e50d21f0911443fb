"""Adapters: the only code that knows the kinds of input.

Every input (``xarray.DataTree``, ``arviz.InferenceData``, ``xarray.Dataset``
with ``chain``/``draw`` dims, a dict of numpy arrays) becomes an
``xarray.Dataset`` of draws with dims ``(chain, draw, *var_dims)``.
"""

import re

import numpy as np
import xarray as xr

from .._compat import container_groups, get_group, is_datatree, is_draws_node, is_inferencedata
from .._validate import check_coords
from ..errors import InvalidInputError, InvalidTypeError, UnknownNameError

SAMPLE_DIMS = ("chain", "draw")
#: dims of the results groups; draws must not use them
RESULT_DIMS = ("center", "radius", "local_stat", "index_stat")


#: groups whose draws are independent (forward sampling), and how many chains
#: a single chain of them is split into
INDEPENDENT_GROUPS = ("prior", "prior_predictive")
PRIOR_CHAINS = 4


def to_dataset(data, group="posterior", sample_dims=SAMPLE_DIMS):
    """Draws of one group as an ``xarray.Dataset`` with ``chain`` and ``draw`` dims.

    Parameters
    ----------
    data : DataTree, InferenceData, Dataset or dict of array_like
        A dict maps variable names to arrays shaped ``(chain, draw, *shape)``
        (``(*sample_dims, *shape)``: as many leading axes as ``sample_dims``).
    group : str
        Group to read from containers (ignored for a Dataset or dict). A
        single chain of a ``prior`` group (``pm.sample_prior_predictive``
        draws independently) is split into 4 chains.
    sample_dims : tuple of str, default ("chain", "draw")
        The dims of the draws: two (chain-like, draw-like) are renamed
        ``chain`` and ``draw``; one (e.g. ``("sample",)``) is one sequence
        of draws, renamed ``draw`` beside a ``chain`` dim of length 1.

    Examples
    --------
    >>> import numpy as np
    >>> ds = to_dataset({"x": np.zeros((2, 50, 3))})
    >>> dict(ds["x"].sizes)
    {'chain': 2, 'draw': 50, 'x_dim_0': 3}
    """
    if is_datatree(data) and not data.children and data.has_data and SAMPLE_DIMS[0] in data.dims:
        ds = data.to_dataset()  # a group node itself (idata.posterior, idata["posterior"])
    elif is_datatree(data) or is_inferencedata(data):
        if not isinstance(group, str):
            raise InvalidTypeError(f"group must be a string, got {group!r}")
        ds = get_group(data, group)
    elif isinstance(data, xr.Dataset):
        ds = data
    elif isinstance(data, xr.DataArray):
        ds = data.to_dataset(name=data.name or "x")
    elif isinstance(data, dict):
        arrays = {}
        n_lead = len(sample_dims)
        for name, value in data.items():
            if isinstance(value, np.ma.MaskedArray):
                value = _unmasked(name, value)
            arr = np.asarray(value)
            if arr.ndim < n_lead:
                raise InvalidInputError(
                    f"variable {name!r}: arrays in a dict need shape ({', '.join(sample_dims)}, ...), got shape "
                    f"{arr.shape}"
                )
            dims = list(sample_dims) + [f"{name}_dim_{i}" for i in range(arr.ndim - n_lead)]
            arrays[name] = (dims, arr)
        lead = {name: arr.shape[:n_lead] for name, (_, arr) in arrays.items()}
        if len(set(lead.values())) > 1:
            raise InvalidInputError(
                f"the arrays in the dict have different ({', '.join(sample_dims)}) sizes: {lead}; every variable "
                "needs the same chains and draws")
        ds = xr.Dataset(arrays)
    else:
        raise InvalidTypeError(
            "data must be a DataTree, InferenceData, Dataset or dict of arrays, "
            f"got {type(data).__name__}"
        )
    ds = rename_sample_dims(ds, sample_dims, group)
    for dim in SAMPLE_DIMS:
        if dim not in ds.dims:
            hint = ("; name the dims of the draws with sample_dims=, e.g. sample_dims=('sample',), "
                    "independent=True for draws stacked by az.extract" if ds.dims else "")
            raise InvalidInputError(f"group {group!r} has no {dim!r} dimension (dims: {list(ds.dims)}){hint}")
    taken = [d for d in RESULT_DIMS if d in ds.dims]
    if taken:
        raise InvalidInputError(
            f"the draws have dimension(s) {taken}, names the results use for their own axes "
            f"({', '.join(RESULT_DIMS)}); rename them first, e.g. ds.rename({{{taken[0]!r}: {taken[0] + '_'!r}}})")
    if analysed_layout(group, ds.sizes["chain"], ds.sizes["draw"]) != (ds.sizes["chain"], ds.sizes["draw"]) \
            and (is_datatree(data) or is_inferencedata(data)):
        # pm.sample_prior_predictive draws independently, into one chain: split it
        # so that intervals can compare chains (the draws' order carries nothing)
        ds = _as_chains(ds, PRIOR_CHAINS)
    return ds


def _unmasked(name, value):
    """The data of a numpy masked array with no masked value; one with some is refused (the mask is not read)."""
    n_masked = int(np.count_nonzero(np.ma.getmaskarray(value)))
    if n_masked:
        fill = "filled(np.nan)" if value.dtype.kind in "fc" else "astype(float).filled(np.nan)"
        raise InvalidInputError(
            f"variable {name!r} is a numpy masked array with {n_masked} masked value(s): the mask is not "
            f"honoured (the masked draws would be used); pass x.{fill} with nan_policy='omit' to leave "
            "them out")
    return np.ma.getdata(value)


def independent_draws(data, group, ds=None, sample_dims=SAMPLE_DIMS):
    """Whether a group holds independent draws (ESS = number of draws, one chain is enough).

    True for forward-sampled groups (``prior``, ``prior_predictive``), for a
    Dataset whose attrs say ``independent = 1`` (or True), and for a
    container's single-chain group without sampler statistics (an empty or
    absent ``sample_stats``) written by PyMC, which is what ``approx.sample()``
    returns. ``pm.sample`` always writes sampler statistics, so one chain of
    MCMC stays an error. A group on its own (a DataTree node such as
    ``idata.posterior``, or a Dataset) cannot show whether sampler statistics
    came with it: its single chain is MCMC unless its attrs say otherwise.
    """
    if isinstance(group, str) and group in INDEPENDENT_GROUPS:
        return True
    attrs = getattr(ds, "attrs", None) or getattr(data, "attrs", None) or {}
    flag = attrs.get("independent", attrs.get("independent_draws"))
    if flag is not None and str(flag).lower() in ("1", "true"):
        return True
    if (is_datatree(data) or is_inferencedata(data)) and ds is not None and ds.sizes.get("chain", 0) == 1 \
            and str(attrs.get("inference_library", "")).lower() == "pymc":
        groups = container_groups(data)
        if group not in groups:  # the group itself (idata.posterior), not a container holding it
            return False
        if "sample_stats" not in groups:
            return True
        stats = get_group(data, "sample_stats")
        return not any(set(sample_dims) <= set(stats[v].dims) for v in stats.data_vars)
    return False


def check_sample_dims(sample_dims):
    """``sample_dims`` as a tuple of one or two distinct dim names.

    Examples
    --------
    >>> check_sample_dims(["c", "d"])
    ('c', 'd')
    """
    dims = (sample_dims,) if isinstance(sample_dims, str) else sample_dims
    try:
        dims = tuple(dims)
    except TypeError:
        raise InvalidTypeError(f"sample_dims must be a tuple of dim names, got {sample_dims!r}") from None
    if not 1 <= len(dims) <= 2 or not all(isinstance(d, str) for d in dims) or len(set(dims)) != len(dims):
        raise InvalidInputError(
            f"sample_dims must name one or two distinct dims of the draws: (chain, draw)-like, e.g. "
            f"('chain', 'draw'), or one sequence of independent draws, e.g. ('sample',); got {sample_dims!r}")
    return dims


def rename_sample_dims(ds, sample_dims, group="posterior"):
    """The draws with their sample dims called ``chain`` and ``draw`` (the names everything past the edge uses).

    Two dims ``(c, d)`` are renamed ``chain`` and ``draw``; one dim ``s``
    (one sequence of draws, no chains) is renamed ``draw`` and a ``chain``
    dim of length 1 is added in front. ``("chain", "draw")`` leaves the
    draws as they are.

    Examples
    --------
    >>> import numpy as np
    >>> ds = xr.Dataset({"x": (("sample",), np.zeros(30))})
    >>> dict(rename_sample_dims(ds, ("sample",))["x"].sizes)
    {'chain': 1, 'draw': 30}
    """
    sample_dims = check_sample_dims(sample_dims)
    if sample_dims == SAMPLE_DIMS:
        return ds
    absent = [d for d in sample_dims if d not in ds.dims]
    if absent:
        raise UnknownNameError(
            f"sample_dims {sample_dims}: group {group!r} has no dim(s) {absent} (its dims: {list(ds.dims)}); "
            "name the dims that index the draws")
    target = SAMPLE_DIMS if len(sample_dims) == 2 else SAMPLE_DIMS[1:]
    clash = [t for s, t in zip(sample_dims, target) if s != t and t in ds.dims]
    if len(sample_dims) == 1 and SAMPLE_DIMS[0] in ds.dims:
        clash.append(SAMPLE_DIMS[0])
    if clash:
        raise InvalidInputError(
            f"sample_dims {sample_dims}: the draws also have dim(s) {clash}, the names the sample dims are given "
            "internally; rename those first")
    # a stacked sample index (az.extract: a MultiIndex over chain and draw) and coordinates
    # already named like the internal dims would clash with the renamed dims: dropped
    stale = [s for s in sample_dims if s in ds.coords]
    stale += [lvl for s in sample_dims if s in ds.indexes for lvl in (getattr(ds.indexes[s], "names", None) or [])
              if lvl in ds.coords]
    stale += [c for c in SAMPLE_DIMS if c in ds.coords and c not in ds.dims]
    ds = ds.drop_vars(list(dict.fromkeys(stale)), errors="ignore")
    ds = ds.rename({s: t for s, t in zip(sample_dims, target) if s != t})
    if len(sample_dims) == 1:
        ds = ds.expand_dims({SAMPLE_DIMS[0]: 1}).transpose(SAMPLE_DIMS[0], ...)
        ds = ds.drop_vars(SAMPLE_DIMS[0], errors="ignore")
    return ds


def divergences(data, group, ds, sample_dims=SAMPLE_DIMS):
    """The sampler's divergent transitions matching the draws of ``ds`` (chain, draw), or None.

    Read from the container's ``sample_stats`` (``diverging``, as PyMC and
    ArviZ name it) for the ``posterior`` group only; None for other groups,
    plain Datasets or dicts, or when the shapes do not match.

    Examples
    --------
    >>> import numpy as np
    >>> divergences({"x": np.zeros((2, 50))}, "posterior", to_dataset({"x": np.zeros((2, 50))})) is None
    True
    """
    if group != "posterior" or not (is_datatree(data) or is_inferencedata(data)):
        return None
    # a DataTree node holding the posterior's draws (idata.posterior): its sampler statistics
    # are its sibling's (the whole tree's divergences were read as none)
    parent = getattr(data, "parent", None)
    if is_draws_node(data, ("posterior", "sample_stats")) and parent is not None \
            and "sample_stats" in parent.children:
        data = parent
    try:
        stats = get_group(data, "sample_stats")
    except (KeyError, AttributeError):
        return None
    if "diverging" not in stats:
        return None
    dv = stats["diverging"]
    if tuple(sample_dims) != SAMPLE_DIMS:
        try:
            dv = rename_sample_dims(dv.to_dataset(name="diverging"), sample_dims, "sample_stats")["diverging"]
        except (KeyError, ValueError):
            return None
    if set(dv.dims) != set(SAMPLE_DIMS):
        return None
    for dim in SAMPLE_DIMS:  # the draws may be a selection of chains and draws
        if dim in ds.coords and dim in dv.coords:
            try:
                dv = dv.sel({dim: ds[dim].values})
            except (KeyError, IndexError, ValueError):
                return _unmatched(dv, f"the posterior's {dim} labels are not all in sample_stats")
    dv = dv.transpose(*SAMPLE_DIMS)
    if dv.shape != (ds.sizes[SAMPLE_DIMS[0]], ds.sizes[SAMPLE_DIMS[1]]):
        return _unmatched(dv, f"sample_stats has {dv.shape[0]} x {dv.shape[1]} (chain, draw), the posterior "
                              f"{ds.sizes[SAMPLE_DIMS[0]]} x {ds.sizes[SAMPLE_DIMS[1]]}")
    flags = np.asarray(dv.values)
    if flags.dtype.kind == "f":  # (padded with NaN where a draw has no statistics: not a divergence)
        flags = np.nan_to_num(flags, nan=0.0)
    return flags.astype(bool)


def _unmatched(dv, reason):
    """None, with a warning where divergences are left out because they cannot be matched to the draws."""
    import warnings

    from .._stack import user_stacklevel

    n = int(np.asarray(dv.values).astype(bool).sum())
    if n:
        # (said, not silent: a centred hierarchy's "sampler" finding at tau = 0 turned "unresolved"
        # when the posterior's chains were relabelled)
        warnings.warn(f"sample_stats' {n} divergent transitions are left out: {reason}; select the same "
                      "chains and draws in sample_stats as in the posterior to use them", UserWarning,
                      stacklevel=user_stacklevel())
    return None


def analysed_layout(group, n_chain, n_draw):
    """The (chain, draw) counts a container's group of ``n_chain`` x ``n_draw`` draws is analysed as.

    One chain of a group of independent draws (``INDEPENDENT_GROUPS``) is
    split into ``PRIOR_CHAINS`` chains; others are analysed as they are.

    Examples
    --------
    >>> analysed_layout("prior", 1, 1000), analysed_layout("posterior", 4, 250)
    ((4, 250), (4, 250))
    """
    if group in INDEPENDENT_GROUPS and int(n_chain) == 1:
        return PRIOR_CHAINS, int(n_draw) // PRIOR_CHAINS
    return int(n_chain), int(n_draw)


def _as_chains(ds, n_chains):
    """Draws with at least 2 chains: a single chain of independent draws is split."""
    if ds.sizes.get("chain", 1) >= 2:
        return ds
    n = ds.sizes["draw"] * ds.sizes.get("chain", 1)
    per = n // int(n_chains)
    if per < 1:
        raise InvalidInputError(f"too few draws ({n}) to split into {n_chains} chains")
    stacked = ds.stack(__s__=("chain", "draw")).isel(__s__=slice(0, per * int(n_chains)))
    stacked = stacked.drop_vars(["chain", "draw", "__s__"], errors="ignore")
    out = {}
    for name, da in stacked.data_vars.items():
        other = [d for d in da.dims if d != "__s__"]
        arr = da.transpose("__s__", *other).values.reshape((int(n_chains), per) + tuple(da.sizes[d] for d in other))
        out[name] = xr.DataArray(arr, dims=("chain", "draw", *other),
                                 coords={d: ds[d].values for d in other if d in ds.coords})
    return xr.Dataset(out, coords={"chain": np.arange(int(n_chains)), "draw": np.arange(per)}, attrs=ds.attrs)


def select_vars(ds, var_names=None, filter_vars=None, *, sample_dims=SAMPLE_DIMS):
    """ArviZ-style variable selection.

    ``var_names`` is a name or list of names; a leading ``~`` excludes.
    ``filter_vars`` is None (exact names), ``"like"`` (substring) or
    ``"regex"``. Unknown names raise a KeyError that names them. Only
    variables with all of ``sample_dims`` are candidates (``()`` for
    results datasets).

    Examples
    --------
    >>> import numpy as np
    >>> ds = to_dataset({"mu": np.zeros((2, 20)), "mu_sd": np.zeros((2, 20))})
    >>> select_vars(ds, "~mu_sd")
    ['mu']
    """
    all_vars = [v for v in ds.data_vars if set(sample_dims) <= set(ds[v].dims)]
    if var_names is None:
        # PyMC's missing data: "y" joins the observed values (constants) and the imputed entries,
        # which are the free variable "y_unobserved": one atom row per observed value, and the
        # imputed ones twice; left out by default, with a word
        joins = [v for v in all_vars if f"{v}_unobserved" in all_vars] if sample_dims else []
        if joins:
            import warnings

            from .._stack import user_stacklevel

            warnings.warn(f"left out variable(s) {joins}: PyMC's join of observed data and imputed entries, which "
                          f"are analysed as {[f'{v}_unobserved' for v in joins]}; pass var_names= to analyse them",
                          UserWarning, stacklevel=user_stacklevel())
            return [v for v in all_vars if v not in joins]
        return all_vars
    if isinstance(var_names, str):
        var_names = [var_names]
    if not isinstance(var_names, (list, tuple)) or not all(isinstance(v, str) for v in var_names):
        raise InvalidTypeError(f"var_names must be a name or a list of names, got {var_names!r}")
    if filter_vars not in (None, "like", "regex"):
        raise InvalidInputError(f"filter_vars must be None, 'like' or 'regex', got {filter_vars!r}")
    negated = [v[1:] for v in var_names if v.startswith("~")]
    positive = [v for v in var_names if not v.startswith("~")]
    if filter_vars == "regex":
        for pattern in positive + negated:
            try:
                re.compile(pattern)
            except re.error as err:
                raise InvalidInputError(f"var_names: {pattern!r} is not a regular expression (filter_vars='regex'): "
                                        f"{err}") from None

    def match(pattern):
        if filter_vars is None:
            return [v for v in all_vars if v == pattern]
        if filter_vars == "like":
            return [v for v in all_vars if pattern in v]
        return [v for v in all_vars if re.search(pattern, v)]

    missing = [p for p in positive + negated if not match(p)]
    if missing:
        raise UnknownNameError(f"variable(s) {missing} not found; available: {all_vars}")
    chosen = [v for v in all_vars if any(v in match(p) for p in positive)] if positive else list(all_vars)
    drop = {v for p in negated for v in match(p)}
    return [v for v in chosen if v not in drop]


def select_coords(ds, coords):
    """Apply ArviZ-style ``coords`` (dim -> value(s)), naming unknown dims."""
    if not coords:
        return ds
    check_coords(ds, coords)  # unknown dims or labels, positions out of range, empty lists
    unlabelled = {d: v for d, v in coords.items() if d not in ds.coords}
    labelled = {d: v for d, v in coords.items() if d in ds.coords}
    try:
        out = ds.sel(labelled) if labelled else ds
        return out.isel(unlabelled) if unlabelled else out
    except KeyError as err:
        raise UnknownNameError(f"coords {coords} do not match the data's coordinates: {err}") from None
