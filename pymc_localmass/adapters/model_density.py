"""Batched joint log density of a PyMC model in the constrained space.

The model-based tier integrates the model's density along coordinates and
over balls drawn in the space where the user's parameters live (a scale
parameter near 0, a probability near 1), so it needs the joint log density of
the *constrained* values, without the Jacobian of any sampling transform,
evaluated at many points at once.

:class:`ModelLogDensity` compiles that density once: value transforms are
removed from a copy of the model, the log-probability terms are vectorised
over a leading batch dimension with PyTensor's ``vectorize_graph`` and
compiled with PyMC's compile function; parameter checks are turned into
``-inf`` *per point* before vectorising (PyMC's own rewrite would reduce the
check over the whole batch). Points are flat float vectors with one column
per scalar element of every free variable; :attr:`ModelLogDensity.columns`
gives the ``(name, index)`` of each column.

Works with PyMC 5.2x (PyTensor 2.x) and PyMC 6.x (PyTensor 3.x).
"""

from dataclasses import dataclass

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Constant
from pytensor.graph.replace import vectorize_graph
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.graph.rewriting.utils import rewrite_graph
from pytensor.tensor.basic import Join, Split
from pytensor.tensor.blockwise import Blockwise

try:  # PyTensor >= 2.30
    from pytensor.graph.traversal import ancestors, graph_inputs
except ImportError:  # pragma: no cover
    from pytensor.graph.basic import ancestors, graph_inputs

from pymc.logprob.utils import CheckParameterValue
from pymc.model.transform.conditioning import remove_value_transforms
from pymc.pytensorf import compile as _pm_compile

from ..errors import InvalidInputError, UnknownNameError
from .pymc import is_discrete

__all__ = [
    "ModelLogDensity",
    "draws_outside_support",
    "VariableInfo",
    "model_log_density",
    "model_variables",
]

_POSITIVE_TRANSFORMS = ("LogTransform", "LogExpM1Transform")
_UNIT_TRANSFORMS = ("LogOddsTransform",)


@dataclass(frozen=True)
class VariableInfo:
    """What the model-based tier needs to know about one free variable.

    Attributes
    ----------
    name : str
    shape : tuple of int
    size : int
        Number of scalar elements (columns in a flat point).
    discrete : bool
        Integer-valued variable (not eligible for the conditional quadrature).
    transform : str or None
        Class name of the model's value transform (``"LogTransform"``,
        ``"Interval"``, ``"SimplexTransform"``, ...), None when untransformed.
    box_support : bool
        True when the support is a product of intervals (each element has
        its own lower and upper bound given the other variables); False for
        constrained vectors such as simplexes, zero-sum or ordered vectors,
        where an element cannot move alone.
    bounds_depend_on_values : bool
        True when a bound depends on other variables (e.g. ``Uniform(0, theta)``).
    """

    name: str
    shape: tuple
    size: int
    discrete: bool
    transform: str | None
    box_support: bool
    bounds_depend_on_values: bool


def _without_transforms(model):
    """``remove_value_transforms(model)``, also for a model with ``initval=`` on some variable.

    PyMC converts a model to a graph only without initial values
    (``NotImplementedError: Cannot convert models with non-default initial_values``,
    routine for ordered cutpoints and mixtures); they do not enter the density. The
    copy is made with the model's initial values set aside, and the model's own
    mapping is put back as it was, whatever happens.
    """
    given = model.rvs_to_initial_values
    if all(v is None for v in given.values()):
        return remove_value_transforms(model)
    model.rvs_to_initial_values = dict.fromkeys(given)
    try:
        return remove_value_transforms(model)
    finally:
        model.rvs_to_initial_values = given


@node_rewriter([CheckParameterValue])
def _check_to_ninf(fgraph, node):
    """CheckParameterValue(logp, *conds) -> switch(all(conds), logp, -inf), per point."""
    logp_expr, *conds = node.inputs
    cond = pt.all(conds[0]) if len(conds) == 1 else pt.all(pt.stack([pt.all(c) for c in conds]))
    out = pt.switch(cond, logp_expr, -np.inf)
    if out.dtype != node.outputs[0].dtype:
        out = pt.cast(out, node.outputs[0].dtype)
    return [out]


def _static_checks_to_ninf(graphs):
    # clone=False: PyTensor 2.x would otherwise clone the value variables too;
    # the graphs belong to a private copy of the model
    return rewrite_graph(graphs, include=(), custom_rewrite=in2out(_check_to_ninf), clone=False)


def _constant_core(var, core_ndim):
    """The core value of a constant batched only along length-1 dimensions, or None.

    (A graph of constants only, such as an axis normalised symbolically, is
    evaluated.)
    """
    if isinstance(var, pt.TensorConstant):
        data = np.asarray(var.data)
    elif all(isinstance(v, Constant) for v in graph_inputs([var])):  # (e.g. a normalised axis)
        data = np.asarray(pytensor.function([], var, mode="FAST_COMPILE")())
    else:
        return None
    if data.ndim < core_ndim or any(n != 1 for n in data.shape[: data.ndim - core_ndim]):
        return None
    return data.reshape(data.shape[data.ndim - core_ndim:])


@node_rewriter([Blockwise])
def _unbatch_join_split(fgraph, node):
    """Blockwise Join / Split over the batch of points -> one Join / Split along the shifted axis.

    PyTensor 2.x vectorises these (a random walk's ``init`` joined to its
    innovations and split again) as Blockwise ops that loop over the points
    in Python, 10-30x slower than the same graph under PyTensor 3.x, whose
    vectorisation shifts the axis instead; this does that for a constant
    axis (and constant split sizes), the only case the model's graphs hold.
    """
    core, ins = node.op.core_op, node.inputs
    sig = node.op.inputs_sig
    if isinstance(core, Split) and len(ins) == 3:
        x, axis, splits = ins
        axis_v, splits_v = _constant_core(axis, len(sig[1])), _constant_core(splits, len(sig[2]))
        core_ndim = len(sig[0])
        if axis_v is None or splits_v is None or axis_v.ndim != 0 or x.ndim < core_ndim:
            return None
        ax = int(axis_v)
        if not -core_ndim <= ax < core_ndim:
            return None
        batch_ndim = x.ndim - core_ndim
        out = Split(core.len_splits)(x, ax % core_ndim + batch_ndim, pt.as_tensor_variable(splits_v))
        return list(out) if isinstance(out, list | tuple) else [out]
    if isinstance(core, Join) and len(ins) >= 2:
        axis, *tensors = ins
        axis_v = _constant_core(axis, len(sig[0]))
        core_ndim = len(sig[1])
        out_var = node.outputs[0]
        batch_ndim = out_var.ndim - core_ndim
        if axis_v is None or axis_v.ndim != 0 or batch_ndim < 0 or not -core_ndim <= int(axis_v) < core_ndim:
            return None
        batch_shape = tuple(out_var.shape[:batch_ndim])
        parts = []
        for t, t_sig in zip(tensors, sig[1:]):
            if len(t_sig) != core_ndim:
                return None
            lead = t.ndim - core_ndim  # (Blockwise lets an input carry fewer batch dims)
            t = pt.shape_padleft(t, batch_ndim - lead) if lead < batch_ndim else t
            parts.append(pt.broadcast_to(t, (*batch_shape, *tuple(t.shape[batch_ndim:]))))
        out = pt.join(int(axis_v) % core_ndim + batch_ndim, *parts)
        if out.dtype != out_var.dtype:
            out = pt.cast(out, out_var.dtype)
        return [out]
    return None


#: PyTensor 2.x runs Blockwise ops in a Python loop over the points (3.x compiles the loop)
_LOOPING_BLOCKWISE = int(pytensor.__version__.split(".")[0]) < 3


@node_rewriter([Blockwise])
def _unbatch_linalg(fgraph, node):
    """Blockwise Cholesky / SolveTriangular (PyTensor 2.x) -> one batched NumPy call (:mod:`._batched_linalg`)."""
    from pytensor.tensor.slinalg import Cholesky, SolveTriangular

    from ._batched_linalg import BatchedCholesky, BatchedSolveTriangular

    core, out = node.op.core_op, node.outputs[0]
    if type(core) is Cholesky and len(node.inputs) == 1:
        new = BatchedCholesky(lower=core.lower)(node.inputs[0])
    elif type(core) is SolveTriangular and len(node.inputs) == 2 and not getattr(core, "trans", 0):
        new = BatchedSolveTriangular(out.type, lower=core.lower, unit_diagonal=core.unit_diagonal,
                                     b_ndim=core.b_ndim)(*node.inputs)
    else:
        return None
    return [out.type.filter_variable(new)] if new.type != out.type else [new]


def _unbatched(graphs):
    rewrites = [_unbatch_join_split] + ([_unbatch_linalg] if _LOOPING_BLOCKWISE else [])
    return rewrite_graph(graphs, include=(), custom_rewrite=in2out(*rewrites), clone=False)


def _variable_shapes(model):
    try:
        shapes = model.eval_rv_shapes()
    except Exception:  # pragma: no cover - fallback for unusual models
        point = model.initial_point()
        shapes = {k: np.shape(v) for k, v in point.items()}
    return shapes


def _transform_kind(transform):
    if transform is None:
        return None
    return type(transform).__name__


def _symbolic_bounds(transform, rv):
    """(lower, upper) graphs (or None) of a free RV from its value transform."""
    kind = _transform_kind(transform)
    if kind is None:
        return None, None, True
    if kind in _POSITIVE_TRANSFORMS:
        return pt.as_tensor_variable(0.0), None, True
    if kind in _UNIT_TRANSFORMS:
        return pt.as_tensor_variable(0.0), pt.as_tensor_variable(1.0), True
    if hasattr(transform, "args_fn"):  # Interval and its subclasses
        lower, upper = transform.args_fn(*rv.owner.inputs)
        return lower, upper, True
    if kind == "CircularTransform":
        return pt.as_tensor_variable(-np.pi), pt.as_tensor_variable(np.pi), True
    # simplex, zero-sum, ordered, sum-to-1, Cholesky ...: not a box
    return None, None, False


def draws_outside_support(model, ds):
    """Free variables whose draws leave the support the model gives them, as sentences.

    Only supports that are constants are checked (a HalfNormal's ``[0, inf)``, a
    Beta's ``[0, 1]``, a Uniform's ends; not a Uniform(0, lam)'s, which moves with
    ``lam``); draws at an end are inside. Draws outside are not draws of this
    model's posterior: another model's, or values stored in a transformed space.

    Examples
    --------
    >>> import pymc as pm, xarray as xr
    >>> with pm.Model() as m:
    ...     tau = pm.HalfNormal("tau", 1.0)
    >>> ds = xr.Dataset({"tau": (("chain", "draw"), [[0.5, -0.2, 1.0]])})
    >>> draws_outside_support(m, ds)
    ["'tau': 1 of 3 draws lie below its support's lower end 0 (the lowest -0.2)"]
    """
    out, checks = [], []
    for rv in model.free_RVs:
        if rv.name not in ds.data_vars:
            continue
        lower, upper, box = _symbolic_bounds(model.rvs_to_transforms.get(rv), rv)
        graphs = [(side, g) for side, g in (("lower", lower), ("upper", upper)) if g is not None]
        if box and graphs and all(isinstance(v, Constant) for v in graph_inputs([g for _, g in graphs])):
            checks.extend((rv.name, side, pt.as_tensor_variable(g)) for side, g in graphs)
    if not checks:
        return out
    # (one small function for every variable's ends: a compilation each would cost seconds in a large model)
    ends_all = pytensor.function([], [g for _, _, g in checks], mode="FAST_COMPILE")()
    for name in dict.fromkeys(n for n, _, _ in checks):
        da = ds[name]
        core = tuple(s for d, s in da.sizes.items() if d not in ("chain", "draw"))
        values = np.asarray(da.values, dtype=float)
        for (_, side, _), end in [(c, e) for c, e in zip(checks, ends_all) if c[0] == name]:
            end = np.asarray(end, dtype=float)
            try:
                end = np.broadcast_to(end, core)
            except ValueError:
                continue  # (the draws' shape differs from the model's: another check says so)
            bad = values < end if side == "lower" else values > end
            if bad.any():
                worst = values[bad].min() if side == "lower" else values[bad].max()
                where = "below" if side == "lower" else "above"
                limit = f"{float(end.flat[0]):g}" if np.all(end == end.flat[0]) else "(per element)"
                out.append(f"{name!r}: {int(bad.sum())} of {values.size} draws lie {where} its support's {side} "
                           f"end {limit} (the {'lowest' if side == 'lower' else 'highest'} {worst:.3g})")
    return out


def model_variables(model):
    """Free variables of a PyMC model with shapes, supports and transforms.

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    dict of str to VariableInfo
        In the model's order of free variables.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as m:
    ...     s = pm.HalfNormal("s")
    ...     k = pm.Poisson("k", 3.0, shape=2)
    >>> info = model_variables(m)
    >>> info["s"].transform, info["k"].discrete, info["k"].shape
    ('LogTransform', True, (2,))
    """
    shapes = _variable_shapes(model)
    out = {}
    basic = set(model.basic_RVs)
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        transform = model.rvs_to_transforms.get(rv)
        shape = tuple(int(s) for s in shapes.get(rv.name, shapes.get(value.name, ())))
        lower, upper, box = _symbolic_bounds(transform, rv)
        graphs = [g for g in (lower, upper) if g is not None]
        depends = bool(graphs) and any(a in basic for a in ancestors(graphs))
        out[rv.name] = VariableInfo(
            name=rv.name,
            shape=shape,
            size=int(np.prod(shape, dtype=int)),
            discrete=is_discrete(rv),
            transform=_transform_kind(transform),
            box_support=box,
            bounds_depend_on_values=depends,
        )
    return out


class ModelLogDensity:
    """Compiled, batched joint log density of a PyMC model (constrained space).

    Parameters
    ----------
    model : pymc.Model
    prior : bool, default False
        If True, only the free variables' own log-probability terms (the
        prior); observed variables and ``pm.Potential`` terms are left out.
    chunk_size : int, default 16384
        Points per call of the compiled function (bounds memory for models
        with many observations).

    Attributes
    ----------
    names : tuple of str
        Free variables, in column order.
    variables : dict of str to VariableInfo
    columns : list of (str, tuple)
        ``(name, index)`` of each column of a flat point.
    ndim : int
        Number of columns.

    Notes
    -----
    The density is the model's joint log probability of the constrained
    values with no Jacobian terms: the density with respect to Lebesgue (or
    counting) measure in the space where balls are drawn. Points outside the
    support (and parameter values failing the distributions' checks) give
    ``-inf``. Discrete columns are rounded to integers before evaluation.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> with pm.Model() as m:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     s = pm.HalfNormal("s", 1.0)
    ...     y = pm.Normal("y", mu, s, observed=[0.1, -0.3])
    >>> dens = ModelLogDensity(m)
    >>> dens.columns
    [('mu', ()), ('s', ())]
    >>> pts = np.array([[0.0, 1.0], [0.5, -1.0]])
    >>> vals = dens.logp(pts)
    >>> bool(np.isfinite(vals[0])), bool(vals[1] == -np.inf)
    (True, True)
    >>> lo, hi = dens.bounds(pts)
    >>> lo[0].tolist(), hi[0].tolist()
    ([-inf, 0.0], [inf, inf])
    """

    def __init__(self, model, *, prior=False, chunk_size=16384):
        self.prior = bool(prior)
        self.chunk_size = int(chunk_size)
        self.variables = model_variables(model)
        self.names = tuple(self.variables)
        if not self.names:
            raise InvalidInputError("the model has no free random variables")
        self._slices = {}
        self.columns = []
        start = 0
        for name in self.names:
            info = self.variables[name]
            self._slices[name] = slice(start, start + info.size)
            self.columns.extend((name, idx) for idx in np.ndindex(*info.shape))
            start += info.size
        self.ndim = start

        plain = _without_transforms(model)
        free = [plain[name] for name in self.names]
        values = [plain.rvs_to_values[rv] for rv in free]
        if self.prior:
            terms = plain.logp(vars=free, jacobian=False, sum=False)
        else:
            terms = plain.logp(jacobian=False, sum=False)
        terms = _static_checks_to_ninf(list(terms))
        batched = [
            pt.tensor(name=f"{v.name}__batch", shape=(None, *v.type.shape), dtype=v.dtype) for v in values
        ]
        replace = dict(zip(values, batched))
        vterms = _unbatched(vectorize_graph(terms, replace=replace))
        total = None
        for core, t in zip(terms, vterms):
            core, t = pt.as_tensor_variable(core), pt.as_tensor_variable(t)
            if t.ndim == core.ndim + 1:  # batched: sum the core dimensions
                s = t if t.ndim == 1 else t.sum(axis=tuple(range(1, t.ndim)))
            else:  # term that does not depend on the values
                s = pt.alloc(t.sum(), batched[0].shape[0])
            total = s if total is None else total + s
        self._inputs = batched
        self._logp_fn = _pm_compile(batched, total, on_unused_input="ignore")

        # bounds, per element, as functions of the (batched) values
        self._const_bounds = {}
        bound_outputs, self._bound_names = [], []
        const_graphs, const_names = [], []
        for name, rv, value in zip(self.names, free, values):
            info = self.variables[name]
            transform = model.rvs_to_transforms.get(model[name])
            lower, upper, _ = _symbolic_bounds(transform, rv)
            lo_hi = []
            for g, default in ((lower, -np.inf), (upper, np.inf)):
                if g is None:
                    lo_hi.append(pt.as_tensor_variable(np.float64(default)))
                else:
                    lo_hi.append(pt.as_tensor_variable(g).astype("float64"))
            lo_hi = plain.replace_rvs_by_values(lo_hi)
            if info.bounds_depend_on_values:
                shape = tuple(info.shape)
                for g in lo_hi:
                    bound_outputs.append(pt.broadcast_to(g, shape) if shape else g)
                self._bound_names.append(name)
            else:
                const_graphs.extend(lo_hi)
                const_names.append(name)
        if const_graphs:  # one cheap evaluation for all bounds that are constants
            vals = pytensor.function([], const_graphs, mode="FAST_COMPILE", on_unused_input="ignore")()
            for i, name in enumerate(const_names):
                shape = self.variables[name].shape
                lo_v, hi_v = (np.broadcast_to(np.asarray(v, dtype=float), shape) for v in vals[2 * i : 2 * i + 2])
                self._const_bounds[name] = (lo_v.reshape(-1).copy(), hi_v.reshape(-1).copy())
        self._bounds_fn = None
        if bound_outputs:
            vb = _unbatched(vectorize_graph(bound_outputs, replace=replace))
            vb = [pt.as_tensor_variable(v) for v in vb]
            self._bounds_fn = _pm_compile(batched, vb, on_unused_input="ignore")

    # ------------------------------------------------------------------ columns
    def column(self, name, index=()):
        """Column of element ``index`` of variable ``name`` in a flat point.

        Examples
        --------
        >>> import pymc as pm
        >>> with pm.Model() as m:
        ...     a = pm.Normal("a", shape=(2, 3))
        ...     b = pm.Normal("b")
        >>> ModelLogDensity(m).column("a", (1, 0)), ModelLogDensity(m).column("b")
        (3, 6)
        """
        if name not in self._slices:
            raise UnknownNameError(
                f"variable {name!r} is not a free variable of the model; free variables: {list(self.names)}")
        info = self.variables[name]
        index = (int(index),) if np.ndim(index) == 0 and not isinstance(index, tuple) else tuple(int(i) for i in index)
        if len(index) != len(info.shape) or any(not 0 <= i < s for i, s in zip(index, info.shape)):
            raise IndexError(f"index {index} is not valid for variable {name!r} of shape {info.shape}")
        flat = int(np.ravel_multi_index(index, info.shape)) if info.shape else 0
        return self._slices[name].start + flat

    def slice(self, name):
        """Columns of variable ``name`` as a slice."""
        if name not in self._slices:
            raise UnknownNameError(
                f"variable {name!r} is not a free variable of the model; free variables: {list(self.names)}")
        return self._slices[name]

    def flatten(self, values):
        """Flat points from a mapping of variable name to array.

        Parameters
        ----------
        values : mapping of str to array_like
            Every free variable, each of shape ``(*batch, *var_shape)`` with the
            same batch shape.

        Returns
        -------
        ndarray, shape (*batch, ndim)

        Examples
        --------
        >>> import pymc as pm
        >>> with pm.Model() as m:
        ...     a = pm.Normal("a", shape=2)
        ...     b = pm.HalfNormal("b")
        >>> ModelLogDensity(m).flatten({"a": np.zeros((4, 2)), "b": np.ones(4)}).shape
        (4, 3)
        """
        missing = [n for n in self.names if n not in values]
        if missing:
            raise UnknownNameError(f"values are missing free variable(s) {missing}")
        parts, batch = [], None
        for name in self.names:
            info = self.variables[name]
            arr = np.asarray(values[name], dtype=float)
            nd = len(info.shape)
            if nd and tuple(arr.shape[arr.ndim - nd :]) != info.shape:
                raise InvalidInputError(
                    f"variable {name!r}: trailing shape {arr.shape[arr.ndim - nd:]} != {info.shape}")
            b = arr.shape[: arr.ndim - nd]
            if batch is None:
                batch = b
            elif b != batch:
                raise InvalidInputError(f"variable {name!r} has batch shape {b}, expected {batch}")
            parts.append(arr.reshape(*b, info.size))
        return np.concatenate(parts, axis=-1)

    def unflatten(self, points):
        """Mapping of variable name to array from flat points ``(..., ndim)``."""
        points = np.asarray(points, dtype=float)
        self._check_points(points)
        batch = points.shape[:-1]
        return {n: points[..., self._slices[n]].reshape(*batch, *self.variables[n].shape) for n in self.names}

    def _check_points(self, points):
        if points.ndim < 1 or points.shape[-1] != self.ndim:
            raise InvalidInputError(
                f"points must have shape (..., {self.ndim}) (columns {self.columns[:4]}...), got {points.shape}"
            )

    def _split(self, flat):
        out = []
        for name, inp in zip(self.names, self._inputs):
            info = self.variables[name]
            arr = flat[:, self._slices[name]].reshape(flat.shape[0], *info.shape)
            if info.discrete:
                arr = np.rint(arr)
            out.append(np.ascontiguousarray(arr, dtype=inp.dtype))
        return out

    # ------------------------------------------------------------------ density
    def logp(self, points):
        """Joint log density at flat points.

        Parameters
        ----------
        points : array_like, shape (..., ndim)

        Returns
        -------
        ndarray, shape (...)
            ``-inf`` outside the support; never NaN.
        """
        points = np.asarray(points, dtype=float)
        self._check_points(points)
        batch = points.shape[:-1]
        flat = points.reshape(-1, self.ndim)
        out = np.empty(flat.shape[0])
        for s in range(0, flat.shape[0], self.chunk_size):
            block = flat[s : s + self.chunk_size]
            try:
                val = self._logp_fn(*self._split(block))
            except (ValueError, AssertionError) as err:  # PyTensor's shape checks, deep inside
                raise InvalidInputError(
                    f"the model's log density cannot be evaluated with its current data ({type(err).__name__}: "
                    f"{str(err).splitlines()[0][:200]}); if pm.set_data changed the data since the fit, restore "
                    "the fitting data") from err
            out[s : s + block.shape[0]] = np.asarray(val, dtype=float)
        out[np.isnan(out)] = -np.inf
        return out.reshape(batch)

    __call__ = logp

    def bounds(self, points):
        """Support bounds of every column given the other coordinates.

        Parameters
        ----------
        points : array_like, shape (..., ndim)

        Returns
        -------
        lower, upper : ndarray, shape (..., ndim)
            ``-inf`` / ``inf`` for unbounded sides; for variables without a
            box support (``VariableInfo.box_support`` False) both are infinite.
        """
        points = np.asarray(points, dtype=float)
        self._check_points(points)
        batch = points.shape[:-1]
        flat = points.reshape(-1, self.ndim)
        lower = np.empty_like(flat)
        upper = np.empty_like(flat)
        for name, (lo, hi) in self._const_bounds.items():
            lower[:, self._slices[name]] = lo
            upper[:, self._slices[name]] = hi
        if self._bounds_fn is not None:
            for s in range(0, flat.shape[0], self.chunk_size):
                block = flat[s : s + self.chunk_size]
                res = self._bounds_fn(*self._split(block))
                for i, name in enumerate(self._bound_names):
                    sl = self._slices[name]
                    n = block.shape[0]
                    size = sl.stop - sl.start
                    for j, target in ((0, lower), (1, upper)):
                        val = np.asarray(res[2 * i + j], dtype=float)
                        if val.ndim < 1 + len(self.variables[name].shape):  # not batched
                            val = np.broadcast_to(val.reshape(-1), (n, size))
                        target[s : s + n, sl] = val.reshape(n, size)
        return lower.reshape(*batch, self.ndim), upper.reshape(*batch, self.ndim)


def model_log_density(model, *, prior=False, chunk_size=16384):
    """Compile the batched constrained-space log density of ``model``.

    Shorthand for :class:`ModelLogDensity`.

    Parameters
    ----------
    model : pymc.Model
    prior : bool, default False
        Only the free variables' terms (no likelihood, no potentials).
    chunk_size : int, default 16384

    Returns
    -------
    ModelLogDensity

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> with pm.Model() as m:
    ...     lam = pm.HalfCauchy("lam", 1.0)
    ...     beta = pm.Normal("beta", 0.0, lam)
    >>> dens = model_log_density(m)
    >>> x = np.array([[0.3, 2.0]])  # columns: lam, beta
    >>> ref = pm.logp(pm.HalfCauchy.dist(1.0), 0.3) + pm.logp(pm.Normal.dist(0.0, 0.3), 2.0)
    >>> bool(np.allclose(dens.logp(x), ref.eval()))
    True
    """
    return ModelLogDensity(model, prior=prior, chunk_size=chunk_size)


def scale_partners(model, variables=None):
    """Local-scale partner of each free variable, from the model graph.

    A partner of variable ``X`` is a continuous free variable ``P`` with a
    finite lower bound that does not depend on other variables, that is a
    direct parent of ``X``'s distribution (no other random variable in
    between; deterministic expressions such as ``tau * lam`` are looked
    through), and whose elements map one to one to ``X``'s (same size), or
    a scalar ``P`` for a scalar ``X``. When several qualify, one with ``X``'s
    size is preferred, then the first in model order.

    Parameters
    ----------
    model : pymc.Model
    variables : dict of str to VariableInfo, optional
        From :func:`model_variables`.

    Returns
    -------
    dict of str to str
        Variable name to partner name (variables without one are absent).

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as m:
    ...     tau = pm.HalfCauchy("tau", 1.0)
    ...     lam = pm.HalfCauchy("lam", 1.0, shape=3)
    ...     beta = pm.Normal("beta", 0.0, tau * lam)
    ...     mu = pm.Normal("mu", 0.0, tau)
    >>> scale_partners(m)
    {'beta': 'lam', 'mu': 'tau'}
    """
    info = model_variables(model) if variables is None else variables
    free = {rv.name: rv for rv in model.free_RVs}
    basic = list(model.basic_RVs)
    blockers = set(basic)
    out = {}
    for name, rv in free.items():
        if info[name].discrete or not info[name].box_support:
            continue
        parents = [a for a in ancestors(list(rv.owner.inputs), blockers=blockers) if a in blockers and a is not rv]
        cands = []
        for p in parents:
            pname = p.name
            if pname not in free or pname == name:
                continue
            pi = info[pname]
            if pi.discrete or not pi.box_support or pi.bounds_depend_on_values:
                continue
            if pi.transform not in ("LogTransform", "LogExpM1Transform", "Interval", "IntervalTransform",
                                    "LogOddsTransform"):
                continue
            if pi.size == info[name].size or (pi.size == 1 and info[name].size == 1):
                cands.append(pname)
        if cands:
            same = [c for c in cands if info[c].shape == info[name].shape]
            out[name] = (same or cands)[0]
    return out
