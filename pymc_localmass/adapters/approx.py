"""Adapters for fitted approximations: PyMC ADVI and pymc-extras Laplace/DADVI/Pathfinder.

A Gaussian approximation (PyMC ``MeanField`` or ``FullRank`` from ``pm.fit``,
the Laplace and DADVI fits of pymc-extras) lives in the model's *unconstrained* space.
:func:`from_approximation` reads it into a :class:`GaussianApproximation`:
the mean and covariance of the flat unconstrained vector, and per free
variable its shape, dims, coordinates, the slice of the flat vector it
occupies and its value transform, mapped to the names of
:mod:`pymc_localmass.core.gaussian` (``log``, ``logodds``, ``interval`` with
bounds, ``lowerbound``/``upperbound``, ``log_exp_m1``, ``identity``).

Transforms that act on a whole vector (simplex, ordered, zero-sum, Cholesky
factors, chained transforms) and interval bounds that depend on other
variables are flagged ``transform=None`` with a reason: the exact tier cannot
integrate those elements in closed form; the estimators push quasi-Monte
Carlo points through the model's own transforms when the model is known,
and otherwise fall back to the approximation's draws
(:meth:`GaussianApproximation.sample`).

Approximations that are not Gaussian (pymc-extras Pathfinder, a mixture of
Gaussians along several paths) are read as draws only (``gaussian=False``).

pymc-extras is optional: nothing here imports it. Its fits are recognised by
their groups (``fit`` with ``mean_vector``/``covariance_matrix`` for
Laplace; ``optimizer_result`` whose ``x`` holds the means then the log sds
of the same rows for DADVI; ``pathfinder`` for Pathfinder).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy import optimize, stats

from .._compat import container_groups, get_group, is_datatree, is_inferencedata
from ..core.gaussian import _canonical_transform, _forward_transform, _inverse_transform, transform_support
from . import _as_chains
from ..errors import InvalidInputError, InvalidTypeError, UnknownNameError

__all__ = [
    "ApproxVariable",
    "GaussianApproximation",
    "from_approximation",
    "is_approximation",
    "transform_name",
]

#: PyMC transform class name -> transform name of core.gaussian
_SCALAR_TRANSFORMS = {
    "LogTransform": "log",
    "LogOddsTransform": "logodds",
    "LogExpM1": "log_exp_m1",           # PyMC's class name (5.x and 6.x)
    "LogExpM1Transform": "log_exp_m1",
}
_INTERVAL_CLASSES = ("Interval", "IntervalTransform")
#: value-variable name suffixes PyMC uses, for fits read without a model
_SUFFIX_TRANSFORMS = {"log": "log", "logodds": "logodds", "log_exp_m1": "log_exp_m1"}
_SUFFIX_RE = re.compile(r"^(?P<name>.+)_(?P<suffix>[a-z0-9_]+?)__$")
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(60)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


@dataclass(frozen=True)
class ApproxVariable:
    """One free variable of an approximation.

    Attributes
    ----------
    name : str
        Constrained name (as in the posterior, e.g. ``"tau"``).
    value_name : str
        Name of the unconstrained value (``"tau_log__"``).
    shape : tuple of int
    dims : tuple of str
        Dims of the variable (the model's dims, else ArviZ's ``name_dim_i``).
    coords : dict
        Coordinate values of each dim.
    index : slice
        Position of the variable's elements in the flat unconstrained vector
        (C order).
    transform : str or None
        Transform name of :mod:`pymc_localmass.core.gaussian`; None when the
        transform is not elementwise-scalar (see ``reason``).
    transform_class : str or None
        The PyMC transform class name (None for untransformed variables).
    lower, upper : ndarray or None
        Bounds of ``interval``/``lowerbound``/``upperbound`` transforms,
        broadcast to ``shape``.
    reason : str
        Why ``transform`` is None (empty otherwise).
    deterministic : bool
        A ``pm.Deterministic`` of the model, computed through the model's
        graph from the free variables (no slice of the flat vector).
    source : str or None
        For a scalar Deterministic of one scalar free variable: that
        variable's name (its mass is then exact through the monotone map,
        when the map is monotone).
    data : tuple of str
        For a Deterministic: the model's ``pm.Data`` it is computed with (it
        changes when ``pm.set_data`` does).
    """

    name: str
    value_name: str
    shape: tuple
    dims: tuple
    coords: dict
    index: slice
    transform: str | None
    transform_class: str | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    reason: str = ""
    deterministic: bool = False
    source: str | None = None
    data: tuple = ()

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=int))

    @property
    def supported(self):
        """True when the exact (analytic) tier can integrate each element."""
        return self.transform is not None

    def support(self):
        """Open support ``(low, high)`` of each element, arrays of ``shape``.

        Unknown (unsupported transform): ``(-inf, inf)``; a simplex's elements
        (a vector transform): ``(0, 1)``.
        """
        if self.transform is None:
            if self.transform_class == "SimplexTransform":  # stick-breaking: each element in (0, 1)
                return np.zeros(self.shape), np.ones(self.shape)
            return np.full(self.shape, -np.inf), np.full(self.shape, np.inf)
        lo, hi = transform_support(self.transform, self.lower, self.upper)
        return (np.broadcast_to(lo, self.shape).astype(float), np.broadcast_to(hi, self.shape).astype(float))

    def describe_transform(self):
        """Short text, e.g. ``"log"`` or ``"interval(0, 1)"``."""
        if self.transform is None:
            return f"{self.transform_class} (unsupported: {self.reason})"
        if self.transform in ("interval", "lowerbound", "upperbound"):
            lo = "" if self.lower is None else f"{np.unique(self.lower).tolist()}"
            hi = "" if self.upper is None else f"{np.unique(self.upper).tolist()}"
            return f"{self.transform}({lo}, {hi})"
        return self.transform


@dataclass
class GaussianApproximation:
    """A fitted approximation, read once, with what the estimators need.

    Attributes
    ----------
    kind : str
        ``"meanfield"``, ``"fullrank"``, ``"laplace"``, ``"dadvi"`` or ``"pathfinder"``.
    gaussian : bool
        Whether the approximation is a Gaussian in the unconstrained space
        (exact masses possible); False for Pathfinder (draws only).
    mean : ndarray (D,) or None
        Mean of the flat unconstrained vector.
    cov : ndarray (D, D) or None
        Its covariance (diagonal for mean-field).
    variables : dict of str to ApproxVariable
        Free variables in flat order.
    model : pymc.Model or None
    source : object
        The object the approximation was read from.
    draws : xarray.Dataset or None
        Stored draws (pymc-extras fits) with ``chain``/``draw`` dims.
    elbo_value, elbo_se : float or None
        ELBO reported by the fit (Pathfinder), if any; PyMC ADVI's ELBO is
        estimated on demand by :meth:`elbo`.
    """

    kind: str
    gaussian: bool
    mean: np.ndarray | None
    cov: np.ndarray | None
    variables: dict
    model: object = None
    source: object = None
    draws: xr.Dataset | None = None
    elbo_value: float | None = None
    elbo_se: float | None = None
    omitted: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def free_variables(self):
        """The free variables (slices of the flat vector), without Deterministics."""
        return {k: v for k, v in self.variables.items() if not v.deterministic}

    # ------------------------------------------------------------------ access
    @property
    def sd(self):
        """Standard deviations of the flat unconstrained vector."""
        return np.sqrt(np.diag(self.cov))

    @property
    def full_rank(self):
        """True for a full covariance (not diagonal)."""
        if self.cov is None:
            return False
        off = self.cov - np.diag(np.diag(self.cov))
        return bool(np.any(off != 0))

    def variable(self, name):
        """The :class:`ApproxVariable` of ``name``, with a clear error when unknown."""
        if name not in self.variables:
            raise UnknownNameError(f"variable {name!r} is not a free variable of the {self.kind} approximation; "
                           f"it has {list(self.variables)}")
        return self.variables[name]

    def marginal(self, name):
        """Unconstrained mean and sd of each element of ``name`` (arrays of its shape).

        Examples
        --------
        >>> import numpy as np, pymc as pm
        >>> with pm.Model():
        ...     s = pm.HalfNormal("s")
        ...     approx = pm.fit(500, progressbar=False, random_seed=1)
        >>> mu, sd = from_approximation(approx).marginal("s")   # of log(s), where the Gaussian lives
        >>> bool(np.shape(mu) == () and sd > 0)
        True
        """
        if not self.gaussian:
            raise InvalidInputError(f"the {self.kind} approximation is not Gaussian; no exact marginal of {name!r}")
        v = self.variable(name)
        return self.mean[v.index].reshape(v.shape), self.sd[v.index].reshape(v.shape)

    def constrained_moments(self, name):
        """Mean and sd of each element of ``name`` in the constrained space.

        Computed by 60-point Gauss-Hermite quadrature of the transformed
        Gaussian marginal (accurate to rounding for these smooth transforms
        unless the transform is far from linear over many sds).
        """
        v = self.variable(name)
        if not v.supported:
            raise InvalidInputError(f"variable {name!r}: transform {v.transform_class} is not elementwise ({v.reason})")
        mu, sd = self.marginal(name)
        tname, lo, hi = _canonical_transform(v.transform, v.lower, v.upper)
        y = mu[..., None] + sd[..., None] * _GH_NODES
        lo_ = None if lo is None else np.asarray(lo)[..., None]
        hi_ = None if hi is None else np.asarray(hi)[..., None]
        with np.errstate(over="ignore"):
            x = _forward_transform(tname, y, lo_, hi_)
        with np.errstate(over="ignore", invalid="ignore"):  # (an overflowing fit: inf or NaN moments, said later)
            m1 = np.sum(x * _GH_WEIGHTS, axis=-1)
            var = np.sum((x - m1[..., None]) ** 2 * _GH_WEIGHTS, axis=-1)
        return m1, np.sqrt(np.maximum(var, 0.0))

    def constrained_median(self, name):
        """Median of each element in the constrained space: ``g(mu)`` (monotone transforms)."""
        v = self.variable(name)
        mu, _ = self.marginal(name)
        tname, lo, hi = _canonical_transform(v.transform, v.lower, v.upper)
        return np.asarray(_forward_transform(tname, mu, lo, hi), dtype=float)

    def constrained_mode(self, name):
        """Mode of each element's constrained density (1-D maximisation per element)."""
        v = self.variable(name)
        mu, sd = self.marginal(name)
        tname, lo, hi = _canonical_transform(v.transform, v.lower, v.upper)
        if tname == "identity":
            return mu.copy()
        lo_b = None if lo is None else np.broadcast_to(lo, v.shape)
        hi_b = None if hi is None else np.broadcast_to(hi, v.shape)
        out = np.empty(v.shape)
        for idx in np.ndindex(*v.shape):
            lo_i = None if lo_b is None else float(lo_b[idx])
            hi_i = None if hi_b is None else float(hi_b[idx])
            m, s = float(mu[idx]), float(sd[idx])

            def neg_logf(y, m=m, s=s, lo_i=lo_i, hi_i=hi_i):
                # log f_X(g(y)) = log N(y) - log|g'(y)|, and -log|g'(y)| = logjac of g^{-1} at g(y)
                x = _forward_transform(tname, np.array([y]), lo_i, hi_i)
                _, lj = _inverse_transform(tname, x, lo_i, hi_i)
                val = 0.5 * ((y - m) / s) ** 2 - float(lj[0])
                return val if np.isfinite(val) else 1e300

            res = optimize.minimize_scalar(neg_logf, bracket=(m - 3 * s, m), method="brent")
            out[idx] = float(_forward_transform(tname, np.array([res.x]), lo_i, hi_i)[0])
        return out

    def block(self, names, selections=None):
        """Mean, covariance and per-coordinate transforms of a set of variables.

        Parameters
        ----------
        names : list of str
        selections : dict of str to ndarray of int, optional
            Flat element indices to keep per variable (default all).

        Returns
        -------
        mean : ndarray (d,)
        cov : ndarray (d, d)
        transforms : list of str
        lower, upper : ndarray (d,)
            NaN where unused.
        """
        idx, transforms, lower, upper = [], [], [], []
        for name in names:
            v = self.variable(name)
            if not v.supported:
                raise InvalidInputError(
                    f"variable {name!r}: transform {v.transform_class} is not elementwise ({v.reason})")
            flat = np.arange(v.index.start, v.index.stop)
            keep = np.arange(v.size) if selections is None or name not in selections else np.asarray(selections[name])
            idx.extend(flat[keep].tolist())
            transforms.extend([v.transform] * len(keep))
            lo = np.full(v.size, np.nan) if v.lower is None else np.broadcast_to(v.lower, v.shape).reshape(-1)
            hi = np.full(v.size, np.nan) if v.upper is None else np.broadcast_to(v.upper, v.shape).reshape(-1)
            lower.extend(np.asarray(lo, float)[keep].tolist())
            upper.extend(np.asarray(hi, float)[keep].tolist())
        idx = np.asarray(idx, dtype=int)
        return (self.mean[idx], self.cov[np.ix_(idx, idx)], transforms, np.asarray(lower), np.asarray(upper))

    # ------------------------------------------------------------------ draws
    def sample(self, n_draws=1000, n_chains=4, seed=None):
        """Independent draws of the constrained variables as a ``(chain, draw)`` Dataset.

        Gaussian fits are sampled directly (unconstrained normal draws pushed
        through each variable's transform; variables with unsupported
        transforms go through the model's own transform, or PyMC's
        ``approx.sample`` when that is not possible). Fits that only carry
        draws (Pathfinder, Laplace read without a model) return them,
        reshaped to ``n_chains`` chains when they come as a single chain.

        Parameters
        ----------
        n_draws : int
            Draws per chain.
        n_chains : int
            Independent draws are split into this many "chains" (the samples
            tier needs at least 2).
        seed : int, optional
        """
        key = ("sample", n_draws, n_chains, seed)
        if key in self._cache:
            return self._cache[key]
        if self.draws is not None and (not self.gaussian or self.model is None):
            ds = _as_chains(self.draws, n_chains)
        elif self.gaussian:
            ds = self._sample_gaussian(n_draws, n_chains, seed)
        else:  # pragma: no cover - no draws and not Gaussian
            raise InvalidInputError(f"the {self.kind} approximation carries neither a Gaussian nor draws")
        self._cache[key] = ds
        return ds

    def _sample_gaussian(self, n_draws, n_chains, seed):
        rng = np.random.default_rng(seed)
        n = int(n_draws) * int(n_chains)
        D = self.mean.size
        try:
            chol = np.linalg.cholesky(self.cov)
        except np.linalg.LinAlgError:
            w, vecs = np.linalg.eigh(self.cov)
            chol = vecs * np.sqrt(np.clip(w, 0, None))
        y = self.mean + rng.standard_normal((n, D)) @ chol.T
        out = {}
        unsupported = [v for v in self.variables.values() if not v.supported]
        back = self._model_backtransform(y, unsupported) if unsupported else {}
        for name, v in self.variables.items():
            if v.supported:
                yv = y[:, v.index].reshape((n,) + v.shape)
                tname, lo, hi = _canonical_transform(v.transform, v.lower, v.upper)
                with np.errstate(over="ignore"):
                    xv = _forward_transform(tname, yv, lo, hi)
            else:
                xv = back[name]
            xv = np.asarray(xv, dtype=float).reshape((int(n_chains), int(n_draws)) + xv.shape[1:])
            out[name] = xr.DataArray(xv, dims=("chain", "draw") + v.dims,
                                     coords={d: v.coords[d] for d in v.dims if d in v.coords})
        ds = xr.Dataset(out, coords={"chain": np.arange(n_chains), "draw": np.arange(n_draws)})
        ds.attrs["source"] = f"{self.kind} approximation (independent draws)"
        return ds

    def _model_backtransform(self, y, variables):
        """Constrained values of variables with vector transforms, through the model's own transforms.

        ``y`` is a batch of unconstrained points (n, D); the model's graph from
        its value variables to the constrained variables is vectorised over
        the batch (one compiled call per chunk of points, not one per point).
        """
        if self.model is None:
            raise InvalidInputError(
                "variables " + ", ".join(repr(v.name) for v in variables)
                + " have vector transforms and the approximation has no model to invert them; "
                "pass model=<pymc.Model>")
        y = np.asarray(y, dtype=float)
        fn, order, outs = self._backtransform_fn(tuple(sorted(v.name for v in variables)))
        res = {name: [] for name in outs}
        for s0 in range(0, y.shape[0], 8192):
            blk = y[s0:s0 + 8192]
            args = [blk[:, self.variables[name].index].reshape(
                        (blk.shape[0],) + self._value_shape(self.variables[name])) for name in order]
            for name, val in zip(outs, fn(*args)):
                res[name].append(np.asarray(val, dtype=float).reshape((blk.shape[0],) + self.variables[name].shape))
        return {k: np.concatenate(v) for k, v in res.items()}

    def _backtransform_fn(self, wanted):
        key = ("backtransform", wanted)
        if key in self._cache:
            return self._cache[key]
        import pytensor
        import pytensor.tensor as pt
        from pymc.util import get_default_varnames
        from pytensor.graph.replace import vectorize_graph

        from .model_density import _unbatched

        model = self.model
        outs = [o for o in get_default_varnames(model.unobserved_value_vars, include_transformed=False)
                if o.name in wanted]
        by_value = {vv.name: vv for vv in model.value_vars}
        order = [name for name, v in self.variables.items() if v.value_name in by_value]
        values = [by_value[self.variables[name].value_name] for name in order]
        batched = [pt.tensor(name=f"{v.name}__batch", shape=(None, *v.type.shape), dtype=v.dtype) for v in values]
        # (Join / Split as one op along a shifted axis, not a Python loop over the draws under PyTensor 2.x)
        vouts = _unbatched(vectorize_graph(outs, replace=dict(zip(values, batched))))
        fn = pytensor.function(batched, vouts, on_unused_input="ignore")
        self._cache[key] = (fn, order, [o.name for o in outs])
        return self._cache[key]

    def _value_shape(self, v):
        return tuple(self._cache.get(("value_shape", v.name), v.shape))

    # ------------------------------------------------------------------ ELBO
    def elbo(self, n=2000, seed=0):
        """Monte Carlo estimate of the ELBO, ``E_q[log p(y, data) - log q(y)]``, and its standard error.

        Uses the model's joint log density in the unconstrained space (with
        the transforms' Jacobians) at ``n`` independent draws of the
        approximation. Returns ``(None, None)`` when there is no model or
        the fit is not Gaussian (then a reported ELBO, if any, is returned).
        """
        if self.elbo_value is not None:
            return self.elbo_value, self.elbo_se
        if not self.gaussian or self.model is None:
            return None, None
        key = ("elbo", n, seed)
        if key in self._cache:
            return self._cache[key]
        rng = np.random.default_rng(seed)
        try:
            chol = np.linalg.cholesky(self.cov)
        except np.linalg.LinAlgError:
            return None, None
        z = rng.standard_normal((int(n), self.mean.size))
        y = self.mean + z @ chol.T
        logq = stats.multivariate_normal(self.mean, self.cov, allow_singular=False).logpdf(y)
        logp_fn = self.model.compile_logp(jacobian=True)
        free = list(self.free_variables.values())
        shapes = {v.value_name: self._value_shape(v) for v in free}
        logp = np.empty(int(n))
        for i in range(int(n)):
            point = {v.value_name: y[i, v.index].reshape(shapes[v.value_name]) for v in free}
            logp[i] = float(logp_fn(point))
        diff = logp - np.atleast_1d(logq)
        if np.any(np.isnan(diff) | np.isposinf(diff)):
            raise InvalidInputError(f"ELBO of the {self.kind} approximation: the log densities are not finite at "
                             f"{int(np.sum(np.isnan(diff) | np.isposinf(diff)))} of {diff.size} of its draws")
        if np.any(np.isneginf(diff)):  # q puts mass where the model has none: KL(q || p) = inf
            self._cache[key] = (-math.inf, 0.0)
            return self._cache[key]
        val = float(np.mean(diff))
        se = float(np.std(diff, ddof=1) / math.sqrt(diff.size))
        self._cache[key] = (val, se)
        return val, se


# ----------------------------------------------------------------------------- helpers
def _pymc_approximation_class():
    try:
        from pymc.variational.opvi import Approximation
    except ImportError:  # pragma: no cover
        return None
    return Approximation


def _container_kind(obj):
    """'laplace', 'pathfinder', 'dadvi' or None for a DataTree/InferenceData."""
    if not (is_datatree(obj) or is_inferencedata(obj)):
        return None
    groups = container_groups(obj)
    if "fit" in groups:
        fit = get_group(obj, "fit")
        if "mean_vector" in fit.data_vars:
            return "laplace"
    if "pathfinder" in groups or any(g.startswith("pathfinder") for g in groups):
        return "pathfinder"
    if "optimizer_result" in groups and _dadvi_labels(get_group(obj, "optimizer_result")) is not None:
        return "dadvi"
    return None


def _dadvi_labels(opt):
    """Row labels of a pymc-extras DADVI fit's ``optimizer_result``, or None if it is not one.

    DADVI optimises the means and log sds of a mean-field Gaussian in the
    unconstrained space: ``x`` holds the D means then the D log sds, both
    halves labelled with the same value-variable rows.
    """
    if "x" not in opt.data_vars or opt["x"].ndim != 1:
        return None
    dim = opt["x"].dims[0]
    if dim not in opt.coords or opt.sizes[dim] % 2 or opt.sizes[dim] == 0:
        return None
    labels = [str(v) for v in opt[dim].values]
    half = len(labels) // 2
    return labels[:half] if labels[:half] == labels[half:] else None


def approximation_kind(obj):
    """The family of a fitted approximation: ``"meanfield"``, ``"fullrank"``, ``"laplace"``, ``"dadvi"``,
    ``"pathfinder"``, or None (not one, or another family), without reading it.

    Examples
    --------
    >>> import numpy as np
    >>> approximation_kind({"x": np.zeros((2, 10))}) is None
    True
    """
    if isinstance(obj, GaussianApproximation):
        return obj.kind
    cls = _pymc_approximation_class()
    if cls is not None and isinstance(obj, cls):
        return {"MeanField": "meanfield", "FullRank": "fullrank"}.get(type(obj).__name__)
    return _container_kind(obj)


def is_approximation(obj):
    """Whether ``obj`` is a fitted approximation rather than posterior draws.

    True for PyMC approximations (``MeanField``, ``FullRank``, any
    ``pymc.variational.opvi.Approximation``), for a
    :class:`GaussianApproximation`, and for pymc-extras fits: a container
    with a ``fit`` group holding ``mean_vector`` (Laplace), a DADVI
    ``optimizer_result`` or a ``pathfinder`` group.

    Examples
    --------
    >>> import numpy as np
    >>> is_approximation({"x": np.zeros((2, 10))})
    False
    """
    if isinstance(obj, GaussianApproximation):
        return True
    cls = _pymc_approximation_class()
    if cls is not None and isinstance(obj, cls):
        return True
    try:
        return _container_kind(obj) is not None
    except Exception:  # pragma: no cover - unusual containers
        return False


def transform_name(transform, rv=None, model=None):
    """Map a PyMC value transform to ``(name, lower, upper, reason)``.

    ``name`` is one of :data:`pymc_localmass.core.gaussian.TRANSFORMS`, or
    None for transforms that are not elementwise-scalar (``reason`` says
    which and why). Interval bounds are evaluated when they are constants;
    bounds that depend on other random variables give None.

    Examples
    --------
    >>> transform_name(None)
    ('identity', None, None, '')
    """
    if transform is None:
        return "identity", None, None, ""
    kind = type(transform).__name__
    if kind in _SCALAR_TRANSFORMS:
        return _SCALAR_TRANSFORMS[kind], None, None, ""
    if kind in _INTERVAL_CLASSES and hasattr(transform, "args_fn") and rv is not None:
        lower, upper = transform.args_fn(*rv.owner.inputs)
        vals = []
        for g in (lower, upper):
            if g is None:
                vals.append(None)
                continue
            val = _constant_value(g, model)
            if val is None:
                return None, None, None, "its bounds depend on other random variables"
            vals.append(val)
        lo, hi = vals
        if lo is None and hi is None:
            return "identity", None, None, ""
        if hi is None:
            return "lowerbound", lo, None, ""
        if lo is None:
            return "upperbound", None, hi, ""
        return "interval", lo, hi, ""
    if kind == "CircularTransform":
        return None, None, None, f"{kind} wraps the line onto an angle (not one-to-one)"
    return None, None, None, f"{kind} acts on the whole vector (not elementwise)"


def _constant_value(graph, model):
    """Value of a bound graph when it depends on no random variable, else None."""
    if graph is None:
        return None
    if not hasattr(graph, "owner"):  # a plain number or array (Interval(-0.5, 0.5) keeps them as given)
        try:
            return np.asarray(graph, dtype=float)
        except (TypeError, ValueError):
            return None
    try:
        from pytensor.graph.traversal import ancestors
    except ImportError:  # pragma: no cover
        from pytensor.graph.basic import ancestors
    if model is not None:
        rvs = set(model.basic_RVs) | set(getattr(model, "potentials", []))
        if any(a in rvs for a in ancestors([graph])):
            return None
    from pytensor.tensor.random.op import RandomVariable

    if any(a.owner is not None and isinstance(a.owner.op, RandomVariable) for a in ancestors([graph])):
        return None
    try:
        return np.asarray(graph.eval(), dtype=float)
    except Exception:
        return None


def _dims_coords(model, name, shape):
    dims = None
    if model is not None:
        dims = model.named_vars_to_dims.get(name)
    if not dims or len(dims) != len(shape):
        dims = tuple(f"{name}_dim_{i}" for i in range(len(shape)))
        coords = {d: np.arange(s) for d, s in zip(dims, shape)}
    else:
        dims = tuple(dims)
        coords = {}
        for d, s in zip(dims, shape):
            vals = model.coords.get(d)
            coords[d] = np.arange(s) if vals is None else np.asarray(list(vals))
    return dims, coords


def _variable_from_model(model, value_name, index, value_shape):
    """ApproxVariable for the value variable ``value_name`` of ``model``."""
    rv = None
    for r, val in model.rvs_to_values.items():
        if val.name == value_name:
            rv = r
            break
    if rv is None:
        raise UnknownNameError(f"value variable {value_name!r} not found in the model")
    transform = model.rvs_to_transforms.get(rv)
    name = rv.name
    shapes = _rv_shapes(model)
    shape = tuple(int(s) for s in shapes.get(name, value_shape))
    tname, lo, hi, reason = transform_name(transform, rv, model)
    if tname is not None and tuple(value_shape) != shape:
        tname, reason = None, "the value has a different shape from the variable"
    if lo is not None:
        lo = np.broadcast_to(lo, shape).astype(float)
    if hi is not None:
        hi = np.broadcast_to(hi, shape).astype(float)
    dims, coords = _dims_coords(model, name, shape)
    return ApproxVariable(name=name, value_name=value_name, shape=shape, dims=dims, coords=coords, index=index,
                          transform=tname, transform_class=None if transform is None else type(transform).__name__,
                          lower=lo, upper=hi, reason=reason)


def _rv_shapes(model):
    try:
        return {k: tuple(v) for k, v in model.eval_rv_shapes().items()}
    except Exception:  # pragma: no cover
        return {k: np.shape(v) for k, v in model.initial_point().items()}


def _from_pymc(approx):
    groups = list(approx.groups)
    if len(groups) != 1:
        raise NotImplementedError(
            f"approximations with several groups ({len(groups)}) are not supported; fit one group "
            "(pm.fit(method='advi') or 'fullrank_advi')")
    group = groups[0]
    kind_name = type(approx).__name__
    kind = {"MeanField": "meanfield", "FullRank": "fullrank"}.get(kind_name)
    if kind is None:
        raise NotImplementedError(
            f"{kind_name} approximations are not Gaussian; use approx.sample() draws with method='samples'")
    model = group.model
    mean = np.asarray(group.mean.eval(), dtype=float)
    cov = np.asarray(group.cov.eval(), dtype=float)
    cov = 0.5 * (cov + cov.T)
    variables = {}
    out = GaussianApproximation(kind=kind, gaussian=True, mean=mean, cov=cov, variables=variables,
                                model=model, source=approx)
    for value_name, info in group.ordering.items():
        sl, vshape = info[1], tuple(int(s) for s in info[2])
        v = _variable_from_model(model, value_name, sl, vshape)
        variables[v.name] = v
        out._cache[("value_shape", v.name)] = vshape
    _add_deterministics(out)
    return out


def _add_deterministics(fit):
    """Add the model's ``pm.Deterministic`` variables to ``fit.variables``.

    Each is computed through the model's own graph from the free variables
    (``transform=None``, ``deterministic=True``); a scalar Deterministic of
    a single scalar free variable records it as ``source`` (exact masses
    when the map is monotone). A Deterministic that depends on no free
    variable of the fit (data only), or that the fit cannot give, is left
    out with the reason in ``fit.omitted``.
    """
    model = fit.model
    dets = list(getattr(model, "deterministics", None) or [])
    if not dets:
        return
    try:
        from pytensor.graph.traversal import ancestors
    except ImportError:  # pragma: no cover
        from pytensor.graph.basic import ancestors
    by_value = {vv.name: vv for vv in model.value_vars}
    free = {v.value_name: v for v in fit.variables.values() if v.value_name in by_value}
    fit_values = {by_value[k] for k in free}
    other_values = set(model.value_vars) - fit_values
    graphs = model.replace_rvs_by_values(dets)
    data_vars = set(getattr(model, "data_vars", None) or [])
    shapes = {}
    unknown = [d for d, g in zip(dets, graphs) if any(s is None for s in g.type.shape)]
    if unknown:
        import pytensor

        fn = pytensor.function(list(model.value_vars), [g for d, g in zip(dets, graphs) if d in unknown],
                               on_unused_input="ignore")
        ip = model.initial_point()
        vals = fn(*[ip[vv.name] for vv in model.value_vars])
        shapes = {d.name: tuple(int(n) for n in np.shape(val)) for d, val in zip(unknown, vals)}
    for d, g in zip(dets, graphs):
        shape = shapes[d.name] if d.name in shapes else tuple(int(n) for n in g.type.shape)
        parents = [a for a in ancestors([g]) if a in fit_values]
        if any(a in other_values for a in ancestors([g])):
            fit.omitted[d.name] = "Deterministic of variables outside the fit"
            continue
        if not parents:
            fit.omitted[d.name] = "Deterministic of data only (no free variable): constant"
            continue
        source = None
        if shape == () and len(parents) == 1:
            pv = free[parents[0].name]
            if pv.size == 1:
                source = pv.name
        dims, coords = _dims_coords(model, d.name, shape)
        data = tuple(sorted({a.name for a in ancestors([g]) if a in data_vars and a.name}))
        fit.variables[d.name] = ApproxVariable(
            name=d.name, value_name=d.name, shape=shape, dims=dims, coords=coords, index=slice(0, 0),
            transform=None, transform_class="Deterministic",
            reason="Deterministic: computed through the model's graph", deterministic=True, source=source,
            data=data)


def _base_label(label):
    return str(label).split("[", 1)[0]


def _from_laplace(obj, model=None, group="posterior"):
    fit = get_group(obj, "fit")
    mean_da = fit["mean_vector"]
    row_dim = mean_da.dims[0]
    labels = [str(x) for x in mean_da[row_dim].values] if row_dim in mean_da.coords else None
    mean = np.asarray(mean_da.values, dtype=float)
    if "covariance_matrix" not in fit.data_vars:
        raise InvalidInputError("the Laplace fit has no covariance_matrix in its 'fit' group")
    cov = np.asarray(fit["covariance_matrix"].values, dtype=float)
    cov = 0.5 * (cov + cov.T)
    if labels is None:
        raise InvalidInputError("the Laplace fit's mean_vector has no row labels: cannot tell which variable is which")
    return _from_flat_gaussian(obj, "laplace", mean, cov, labels, model=model, group=group)


def _from_dadvi(obj, model=None, group="posterior"):
    opt = get_group(obj, "optimizer_result")
    labels = _dadvi_labels(opt)
    x = np.asarray(opt["x"].values, dtype=float)
    D = len(labels)
    mean, log_sd = x[:D], x[D:]
    if not np.all(np.isfinite(x)):
        raise InvalidInputError("the DADVI fit's optimizer_result x has non-finite means or log sds")
    return _from_flat_gaussian(obj, "dadvi", mean, np.diag(np.exp(2.0 * log_sd)), labels, model=model,
                               group=group)


def _from_flat_gaussian(obj, kind, mean, cov, labels, *, model=None, group="posterior"):
    """A Gaussian over labelled rows of the unconstrained space (Laplace, DADVI)."""
    try:
        draws = get_group(obj, group)
    except KeyError:
        draws = None
    # consecutive runs of the same base name
    runs = []
    for i, lab in enumerate(labels):
        base = _base_label(lab)
        if runs and runs[-1][0] == base:
            runs[-1][2] = i + 1
        else:
            runs.append([base, i, i + 1])
    variables = {}
    out = GaussianApproximation(kind=kind, gaussian=True, mean=mean, cov=cov, variables=variables,
                                model=model, source=obj, draws=draws)
    if model is not None:
        initial = model.initial_point()
        value_names = {val.name for val in model.rvs_to_values.values()}
    for base, start, stop in runs:
        sl = slice(start, stop)
        if model is not None:
            if base not in value_names:
                raise UnknownNameError(f"the {kind} fit's row {base!r} is not a value variable of the model")
            # the value's own shape (a simplex of K has K - 1 unconstrained rows)
            vshape = tuple(int(n) for n in initial[base].shape)
            v = _variable_from_model(model, base, sl, vshape)
            out._cache[("value_shape", v.name)] = vshape
        else:
            v = _variable_from_names(base, sl, draws)
        variables[v.name] = v
    if model is not None:
        _add_deterministics(out)
    elif draws is not None:  # without the model: the fit's own draws of the other variables (Deterministics)
        for name, da in draws.data_vars.items():
            if name in variables or not {"chain", "draw"} <= set(da.dims):
                continue
            dims = tuple(d for d in da.dims if d not in ("chain", "draw"))
            shape = tuple(int(da.sizes[d]) for d in dims)
            coords = {d: (da[d].values if d in da.coords else np.arange(da.sizes[d])) for d in dims}
            variables[name] = ApproxVariable(
                name=name, value_name=name, shape=shape, dims=dims, coords=coords, index=slice(0, 0),
                transform=None, transform_class="Deterministic",
                reason="Deterministic read from the fit's draws (pass model= to compute it through the graph)",
                deterministic=True)
    return out


def _variable_from_names(base, sl, draws):
    """Infer a variable and its transform from the value name alone (no model)."""
    m = _SUFFIX_RE.match(base)
    name, tname, reason, tclass = base, "identity", "", None
    if m and draws is not None and m.group("name") in draws.data_vars:
        name = m.group("name")
        suffix = m.group("suffix")
        tclass = suffix
        tname = _SUFFIX_TRANSFORMS.get(suffix)
        if tname is None:
            reason = f"transform {suffix!r} needs the model to know its bounds (pass model=)"
    if draws is not None and name in draws.data_vars:
        da = draws[name]
        dims = tuple(d for d in da.dims if d not in ("chain", "draw"))
        shape = tuple(int(da.sizes[d]) for d in dims)
        coords = {d: (da[d].values if d in da.coords else np.arange(da.sizes[d])) for d in dims}
    else:
        n = sl.stop - sl.start
        shape = () if n == 1 else (n,)
        dims = tuple(f"{name}_dim_{i}" for i in range(len(shape)))
        coords = {d: np.arange(s) for d, s in zip(dims, shape)}
    if int(np.prod(shape, dtype=int)) != sl.stop - sl.start and m and m.group("suffix") not in _SUFFIX_TRANSFORMS:
        raise InvalidInputError(f"{name!r} has the transform {m.group('suffix')!r}, which acts on the whole vector "
                         f"({sl.stop - sl.start} unconstrained rows for shape {shape}): pass model=<pymc.Model> "
                         "to read it through the model's own transform")
    if int(np.prod(shape, dtype=int)) != sl.stop - sl.start:
        raise InvalidInputError(f"the fit has {sl.stop - sl.start} rows for {base!r} but the draws of "
                         f"{name!r} have shape {shape}")
    return ApproxVariable(name=name, value_name=base, shape=shape, dims=dims, coords=coords, index=sl,
                          transform=tname, transform_class=tclass, reason=reason)


def _from_pathfinder(obj, group="posterior"):
    draws = get_group(obj, group)
    pf_groups = [g for g in container_groups(obj) if g.startswith("pathfinder")]
    elbo = None
    if pf_groups:
        pf = get_group(obj, pf_groups[0])
        if "logP_mean" in pf.data_vars and "logQ_mean" in pf.data_vars:
            elbo = float(pf["logP_mean"].values) - float(pf["logQ_mean"].values)
    variables = {}
    for name, da in draws.data_vars.items():
        dims = tuple(d for d in da.dims if d not in ("chain", "draw"))
        shape = tuple(int(da.sizes[d]) for d in dims)
        coords = {d: (da[d].values if d in da.coords else np.arange(da.sizes[d])) for d in dims}
        variables[name] = ApproxVariable(name=name, value_name=name, shape=shape, dims=dims, coords=coords,
                                         index=slice(0, 0), transform=None, transform_class="pathfinder",
                                         reason="Pathfinder is a mixture over paths, not one Gaussian")
    return GaussianApproximation(kind="pathfinder", gaussian=False, mean=None, cov=None, variables=variables,
                                 source=obj, draws=draws, elbo_value=elbo, elbo_se=None)


def from_approximation(obj, model=None, group="posterior"):
    """Read a fitted approximation into a :class:`GaussianApproximation`.

    Parameters
    ----------
    obj : pymc Approximation, GaussianApproximation, DataTree or InferenceData
        ``pm.fit(method="advi")`` / ``"fullrank_advi"`` results, or a
        pymc-extras Laplace (``fit`` group), DADVI or Pathfinder fit.
    model : pymc.Model, optional
        For pymc-extras fits: the model, to read the exact transforms and
        bounds (without it, ``log``/``logodds`` transforms are recognised
        from the value names and interval transforms fall back to draws).
    group : str
        Group of a pymc-extras fit holding its draws.

    Returns
    -------
    GaussianApproximation

    Raises
    ------
    TypeError
        ``obj`` is not an approximation.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model():
    ...     s = pm.HalfNormal("s")
    ...     approx = pm.fit(1000, progressbar=False, random_seed=1)
    >>> from_approximation(approx).variables["s"].transform
    'log'
    """
    if isinstance(obj, GaussianApproximation):
        return obj
    cls = _pymc_approximation_class()
    if cls is not None and isinstance(obj, cls):
        return _from_pymc(obj)
    kind = _container_kind(obj)
    if kind == "laplace":
        return _from_laplace(obj, model=model, group=group)
    if kind == "pathfinder":
        return _from_pathfinder(obj, group=group)
    if kind == "dadvi":
        return _from_dadvi(obj, model=model, group=group)
    raise InvalidTypeError(
        f"expected a fitted approximation (pm.fit result, pymc-extras Laplace, DADVI or Pathfinder fit), "
        f"got {type(obj).__name__}")
