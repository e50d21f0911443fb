"""The approximation tier: exact local masses of Gaussian approximations.

``local_mass(approx)`` (``method="auto"`` with an approximation, or
``method="analytic"``) lands here through :mod:`pymc_localmass.estimators`.
For each scalar element of a variable whose value transform is elementwise
(identity, log, logodds, interval, lower/upper bound, softplus) the mass of
the ball ``[c - r, c + r]`` in the constrained space is an exact integral of
the unconstrained Gaussian marginal (:func:`~pymc_localmass.core.gaussian.gaussian_ball_mass`):
the result has ``tier="analytic"``, intervals of zero width
(``mass_lower = mass = mass_upper``), exact slopes and the exact Mass Index
(``a = inf`` at a support boundary that the transform sends to infinity).

Joint balls (``joint=True``) are integrated by randomised quasi-Monte Carlo
over the full (or diagonal) covariance (``tier="qmc"``, intervals from the
spread of independent scramblings). Variables whose transform acts on a
whole vector (simplex, ordered, ...) or whose bounds depend on other
variables are integrated by the same QMC, the points pushed through the
model's own transforms (elementwise balls and joint balls alike;
``qmc_reason`` says why). The elementwise index is then exact where the
transform is known (simplex, ordered, zero-sum: ``a = 1`` inside the
support, ``inf`` at its ends); otherwise, and for joint balls, it is the
samples tier's local likelihood on the QMC points read as independent draws
(with its rules for centres the points do not reach). Approximations that
are not Gaussian (Pathfinder), and vector transforms without a model to
invert them, fall back to independent draws of the approximation through
the samples tier (``tier="samples-of-approximation"``); the attributes
``variable_tiers`` and ``fallback_reason`` say which variables and why.

Radius grid when ``radii`` is None: ``n_radii`` log-spaced radii from
1e-3 to 1 constrained sd of the approximation (per element); joint balls
from 1e-2 to 1 times the RMS scale. The ``ess`` statistic is ``inf`` for
exact masses and ``n_points * n_randomizations`` for QMC ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy import stats

from .._stack import user_stacklevel
from .._centers import normalise_centers
from .._validate import check_ci_prob
from .._radii import radii_for, rule_for
from ..adapters import SAMPLE_DIMS, select_coords, select_vars
from ..adapters.approx import _GH_NODES, _GH_WEIGHTS
from ..adapters.source import convert
from ..adapters.pymc import map_point
from ..core.curves import CURVE_STATS, INDEX_STATS, STATUS_WORDS, constant_rows, local_mass_curves, no_draws_value
from ..core.distances import NORMS, center_values
from ..core.gaussian import (gaussian_ball_mass, gaussian_joint_ball_mass, gaussian_mass_index, gaussian_qmc_sample,
                             randomized_qmc_mass, transform_support)
from ..core.index import fit_index_curve
from ..core.lattice import never_varies
from ..errors import InvalidInputError, _UnmeasurableError
from ..results import base_attrs, joint_center_label, merge_curves
from .samples import compute as samples_compute

__all__ = ["compute", "TIER_ORDER"]

#: tiers from most to least exact; a dataset's ``tier`` is its least exact variable's
TIER_ORDER = ("analytic", "qmc", "samples-of-approximation")
AUTO_DECADES = 3.0
AUTO_DECADES_JOINT = 2.0


def _template(fit):
    """A tiny Dataset whose values are flat element indices, for ArviZ-style selection."""
    out = {}
    for name, v in fit.variables.items():
        vals = np.arange(v.size).reshape((1, 1) + v.shape)
        out[name] = xr.DataArray(vals, dims=SAMPLE_DIMS + v.dims,
                                 coords={d: v.coords[d] for d in v.dims if d in v.coords})
    return xr.Dataset(out)


def _element_dims(da):
    return [d for d in da.dims if d not in SAMPLE_DIMS]


def _center_array(fit, name, spec, label, idx, el_shape, el_dims, el_coords, model):
    """Centre values (constrained space) of the selected elements, shape ``el_shape``."""
    v = fit.variable(name)
    flat = idx.reshape(-1)

    def pick(arr):
        return np.asarray(arr, dtype=float).reshape(-1)[flat].reshape(el_shape)

    if isinstance(spec, str):
        if spec == "mean":
            mean = pick(fit.constrained_moments(name)[0])
            if not np.all(np.isfinite(mean)):
                raise InvalidInputError(
                    f"centre 'mean' for variable {name!r}: the approximation's mean is not finite at "
                    f"{int((~np.isfinite(mean)).sum())} element(s) (its mass spreads over the whole "
                    "floating-point range: a degenerate fit, e.g. a Laplace fit whose optimum runs to a "
                    "support's edge, such as a scale's 0); pass the centre as a number, or centre 'median'")
            return mean
        if spec == "median":
            return pick(fit.constrained_median(name))
        if spec == "mode":
            return pick(fit.constrained_mode(name))
        if spec == "boundary":
            lo, hi = v.support()
            lo, hi = pick(lo), pick(hi)
            if np.all(np.isfinite(lo)):
                return lo
            if np.all(np.isfinite(hi)):
                return hi
            raise InvalidInputError(f"centre 'boundary' for variable {name!r}: its support under transform "
                             f"{v.describe_transform()} has no finite end; pass the centre as a number")
        if spec == "map":
            m = model if model is not None else fit.model
            if m is None:
                raise InvalidInputError(f"centre 'map' for variable {name!r} needs model=<pymc.Model>")
            point = map_point(m)
            return pick(np.broadcast_to(np.asarray(point[name], float), v.shape))
        raise InvalidInputError(f"unknown centre keyword {spec!r} for variable {name!r}")
    if isinstance(spec, xr.DataArray):
        extra = [d for d in spec.dims if d not in el_dims]
        if extra:
            raise InvalidInputError(
                f"centre for variable {name!r} has dims {extra} that the variable lacks ({el_dims})")
        template = xr.DataArray(np.zeros(el_shape), dims=el_dims, coords=el_coords)
        arr = spec.astype(float).broadcast_like(template).transpose(*el_dims).values
    else:
        try:
            arr = np.broadcast_to(np.asarray(spec, dtype=float), el_shape)
        except ValueError:
            raise InvalidInputError(
                f"centre for variable {name!r} has shape {np.shape(spec)}, expected {el_shape} "
                f"(the variable's element dims {el_dims}) or a shape that broadcasts to it") from None
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"centre for variable {name!r} must be finite")
    return np.asarray(arr, dtype=float)


def _as_dataarrays(curves, indices, labels, el_shape, el_dims, el_coords):
    """Per-centre arrays (E, R, stat) and (E, stat) as the tier's (curves, index) DataArrays."""
    R = curves[0].shape[1]
    cur = xr.concat([xr.DataArray(c.reshape(el_shape + (R, len(CURVE_STATS))),
                                  dims=tuple(el_dims) + ("radius", "local_stat"), coords=el_coords)
                     .expand_dims(center=[lab]) for c, lab in zip(curves, labels)], "center")
    ind = xr.concat([xr.DataArray(i.reshape(el_shape + (len(INDEX_STATS),)),
                                  dims=tuple(el_dims) + ("index_stat",), coords=el_coords)
                     .expand_dims(center=[lab]) for i, lab in zip(indices, labels)], "center")
    return (cur.transpose(*el_dims, "center", "radius", "local_stat"),
            ind.transpose(*el_dims, "center", "index_stat"))


def _exact_variable(fit, name, da_idx, specs, *, radii, n_radii, scaled, model):
    """Curves and index DataArrays of one variable, exact tier."""
    v = fit.variable(name)
    el_dims = _element_dims(da_idx)
    idx = np.asarray(da_idx.values[0, 0], dtype=int)
    el_shape = idx.shape
    el_coords = {d: da_idx[d].values for d in el_dims if d in da_idx.coords}
    flat = idx.reshape(-1)
    E = flat.size
    mu_all, sd_all = fit.marginal(name)
    mu = mu_all.reshape(-1)[flat]
    sd = sd_all.reshape(-1)[flat]
    csd = fit.constrained_moments(name)[1].reshape(-1)[flat]
    wild = ~(np.isfinite(csd) & (csd > 0))
    if wild.any():
        # the approximation spreads over the whole float range (e.g. a Laplace fit whose log
        # scale has variance 1e7): no finite sd to measure radii in; they are in units of 1
        warnings.warn(f"{name}: the approximation's sd is not finite at {int(wild.sum())} element(s) (its mass "
                      "spreads over the whole floating-point range): radii there are in units of 1",
                      UserWarning, stacklevel=user_stacklevel())
        csd = np.where(wild, 1.0, csd)
    lower = None if v.lower is None else np.broadcast_to(v.lower, v.shape).reshape(-1)[flat]
    upper = None if v.upper is None else np.broadcast_to(v.upper, v.shape).reshape(-1)[flat]
    r = radii_for(radii, name)
    if r is None:
        units = np.logspace(-AUTO_DECADES, 0.0, int(n_radii))
        grid_units = np.broadcast_to(units, (E, units.size))
    else:
        grid_units = np.broadcast_to(r, (E, r.size))
    # absolute radii (the scaled norms measure radii in constrained sds)
    if scaled:
        absolute = grid_units * csd[:, None]
        stored = grid_units
    elif r is None:
        absolute = grid_units * csd[:, None]
        stored = absolute
    else:
        absolute = stored = grid_units
    R = absolute.shape[1]
    cur_list, idx_list = [], []
    for label, spec in specs:
        c = _center_array(fit, name, spec, label, idx, el_shape, el_dims, el_coords, model).reshape(-1)
        res = gaussian_ball_mass(mu, sd, c, absolute, transform=v.transform, lower=lower, upper=upper)
        mass = np.clip(res.mass, 0.0, 1.0)
        slope = res.slope
        curves = np.empty((E, R, len(CURVE_STATS)))
        put = {"radius": stored, "mass": mass, "mass_lower": mass, "mass_upper": mass, "slope": slope,
               "slope_lower": slope, "slope_upper": slope, "ess": np.full((E, R), np.inf),
               "resolved": np.ones((E, R))}
        for i, lab in enumerate(CURVE_STATS):
            curves[..., i] = put[lab]
        ind = gaussian_mass_index(mu, sd, c, transform=v.transform, lower=lower, upper=upper)
        index = np.full((E, len(INDEX_STATS)), np.nan)
        inf_a = np.isposinf(ind.a)  # b undefined: NaN, its interval [-inf, inf] (docs/schema.md)
        vals = {"a": ind.a, "a_lower": ind.a, "a_upper": ind.a, "b": ind.b,
                "b_lower": np.where(inf_a, -np.inf, ind.b), "b_upper": np.where(inf_a, np.inf, ind.b),
                "atom": ind.atom, "atom_lower": ind.atom, "atom_upper": ind.atom, "center_value": c,
                "scale": csd, "window": np.max(stored, axis=1), "n_window": np.full(E, float(R))}
        for i, lab in enumerate(INDEX_STATS):
            index[:, i] = vals.get(lab, no_draws_value(lab))
        cur_list.append(curves)
        idx_list.append(index)
    return _as_dataarrays(cur_list, idx_list, [lab for lab, _ in specs], el_shape, el_dims, el_coords)


def _qmc_vector_variable(fit, name, da_idx, specs, *, radii, n_radii, scaled, ci_prob, model, n_points,
                         n_randomizations, seed):
    """Curves and index of a variable whose transform is not elementwise (simplex, sum-to-zero, ...).

    Randomised Sobol points of the whole unconstrained Gaussian are pushed
    through the model's own transforms (one vectorised graph), and each
    element's ball masses are the points' fractions inside, with a Student t
    interval over the randomisations (tier ``qmc``). The index: exact for a known
    transform (:func:`_exact_vector_rows`), else from the points as draws
    (:func:`_qmc_curve_and_index`).
    """
    el_dims = _element_dims(da_idx)
    idx = np.asarray(da_idx.values[0, 0], dtype=int)
    el_shape = idx.shape
    el_coords = {d: da_idx[d].values for d in el_dims if d in da_idx.coords}
    flat = idx.reshape(-1)
    E = flat.size
    pts = _model_qmc_points(fit, [name], {name: flat}, n_points, n_randomizations, seed)
    pooled = pts.reshape(-1, E)
    csd = pooled.std(axis=0, ddof=1)
    r = radii_for(radii, name)
    units = np.logspace(-AUTO_DECADES, 0.0, int(n_radii)) if r is None else np.asarray(r, float)
    units = np.broadcast_to(units, (E, units.size))
    absolute = units * csd[:, None] if (scaled or r is None) else units
    stored = units if scaled else absolute
    cur_list, idx_list = [], []
    for label, spec in specs:
        if isinstance(spec, str) and spec in ("mean", "median", "mode"):
            c = _pooled_centers(pooled, spec)
        else:
            c = _center_array(fit, name, spec, label, idx, el_shape, el_dims, el_coords, model).reshape(-1)
        curves, index = _qmc_curve_and_index(pts, c, absolute, stored, csd, c, ci_prob)
        _exact_vector_rows(index, fit, name, c, flat, csd)
        cur_list.append(curves)
        idx_list.append(index)
    return _as_dataarrays(cur_list, idx_list, [lab for lab, _ in specs], el_shape, el_dims, el_coords)


#: unconstrained z range searched when inverting a monotone Deterministic (Phi(-38) ~ 3e-316)
_Z_MAX = 38.0


def _monotone_map(fit, name):
    """``h(z)``: a scalar Deterministic as a function of its scalar free variable's standardised
    unconstrained value, through the model's compiled, vectorised graph; None when ``h`` is not
    strictly monotone (or not finite) on a grid of +-12 sd."""
    v = fit.variable(name)
    src = fit.variable(v.source)
    mu, sd = (float(np.ravel(a)[0]) for a in fit.marginal(src.name))

    def h(z):
        z = np.asarray(z, dtype=float)
        y = np.broadcast_to(fit.mean, (z.size, fit.mean.size)).copy()
        y[:, src.index.start] = mu + sd * z.reshape(-1)
        with np.errstate(all="ignore"):
            return np.asarray(fit._model_backtransform(y, [v])[name], float).reshape(z.shape)

    grid = h(np.linspace(-12.0, 12.0, 481))
    if not np.all(np.isfinite(grid)):
        return None, 0
    d = np.diff(grid)
    if np.all(d > 0):
        return h, 1
    if np.all(d < 0):
        return h, -1
    return None, 0


def _invert_monotone(h, sign, targets, n_iter=64):
    """z with h(z) = target (bisection over [-_Z_MAX, _Z_MAX], vectorised; ends outside the range)."""
    t = np.asarray(targets, dtype=float)
    lo = np.full(t.shape, -_Z_MAX)
    hi = np.full(t.shape, _Z_MAX)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        below = (h(mid) - t) * sign < 0  # h(mid) on the low side of the target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _normal_interval_mass(z1, z2):
    """Phi(z2) - Phi(z1), accurate in both tails."""
    z1, z2 = np.minimum(z1, z2), np.maximum(z1, z2)
    upper = z1 > 0
    return np.where(upper, stats.norm.sf(z1) - stats.norm.sf(z2), stats.norm.cdf(z2) - stats.norm.cdf(z1))


def _monotone_variable(fit, name, da_idx, specs, *, radii, n_radii, scaled, ci_prob, model):
    """Exact curves and index of a scalar Deterministic that is a monotone map of one scalar free variable.

    The ball ``[c - r, c + r]`` is the image of an interval of the free
    variable's unconstrained value; its Gaussian mass is exact (the ends
    found by bisection through the model's graph). The index is fitted on
    the exact curve at radii 1e-8 to 1e-2 sd. Returns None when the map is
    not monotone (the caller then integrates by QMC). A centre the map does
    not attain (an end of its range, such as 0 for ``tau**2``) has
    ``a = inf``: the ball's preimage runs off to infinity, where the Gaussian
    mass decays faster than any power of r.
    """

    h, sign = _monotone_map(fit, name)
    if h is None:
        return None
    el_dims = _element_dims(da_idx)
    idx = np.asarray(da_idx.values[0, 0], dtype=int)
    el_shape = idx.shape
    el_coords = {d: da_idx[d].values for d in el_dims if d in da_idx.coords}
    gh = h(_GH_NODES)
    mean = float(np.sum(_GH_WEIGHTS * gh))
    csd = float(np.sqrt(max(np.sum(_GH_WEIGHTS * (gh - mean) ** 2), 0.0)))
    if not csd > 0:
        return None
    r = radii_for(radii, name)
    units = np.logspace(-AUTO_DECADES, 0.0, int(n_radii)) if r is None else np.asarray(r, float)
    absolute = units * csd if (scaled or r is None) else units
    stored = units if scaled else absolute
    fine = csd * np.geomspace(1e-8, 1e-2, 30)
    cur_list, idx_list = [], []
    for label, spec in specs:
        if isinstance(spec, str) and spec in ("mean", "median", "mode"):
            if spec == "mode":
                return None
            c = mean if spec == "mean" else float(h(np.zeros(1))[0])
        else:
            c = float(_center_array(fit, name, spec, label, idx, el_shape, el_dims, el_coords, model).reshape(-1)[0])

        def mass_of(rad):
            z1 = _invert_monotone(h, sign, c - rad)
            z2 = _invert_monotone(h, sign, c + rad)
            return np.clip(_normal_interval_mass(z1, z2), 0.0, 1.0)

        m = mass_of(absolute)
        R = absolute.size
        lr = np.log(absolute)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.gradient(np.log(m), lr) if R > 1 else np.full(R, np.nan)
        slope = np.where(np.isfinite(slope), slope, np.nan)
        put = {"radius": stored, "mass": m, "mass_lower": m, "mass_upper": m, "slope": slope,
               "slope_lower": slope, "slope_upper": slope, "ess": np.full(R, np.inf), "resolved": np.ones(R)}
        curves = np.stack([np.asarray(put[lab], float) for lab in CURVE_STATS], axis=-1)[None]
        mf = mass_of(fine)
        fitd = fit_index_curve(fine, mf, mf * (1 - 1e-6), mf * (1 + 1e-6), mf > 0, csd, ci_prob=ci_prob)
        vals = {k: float(np.ravel(v)[0]) for k, v in fitd.items()}
        zc = _invert_monotone(h, sign, np.array([c]))[0]
        if not np.any(mf > 0) or abs(zc) > _Z_MAX - 1e-6:
            # c is not attained (an end of the Deterministic's range, e.g. tau**2 at 0): the ball's
            # preimage runs off to infinity and its Gaussian mass decays faster than any power, as
            # for a variable's log transform at 0 in the analytic tier
            vals.update(a=np.inf, a_lower=np.inf, a_upper=np.inf, b=np.nan, b_lower=-np.inf, b_upper=np.inf)
        vals.update(atom=0.0, atom_lower=0.0, atom_upper=0.0, center_value=c, scale=csd)
        index = np.array([[float(vals.get(lab, no_draws_value(lab))) for lab in INDEX_STATS]])
        cur_list.append(curves)
        idx_list.append(index)
    return _as_dataarrays(cur_list, idx_list, [lab for lab, _ in specs], el_shape, el_dims, el_coords)


def _model_qmc_points(fit, names, sel, n_points, n_randomizations, seed):
    """Randomised Sobol points of the unconstrained Gaussian through the model's transforms.

    Returns (K, n, d): per randomisation, the selected elements ``sel[name]``
    of each variable's constrained value, concatenated in ``names`` order.
    """
    variables = [fit.variable(n) for n in names]
    rng = np.random.default_rng(seed)
    K, n = int(n_randomizations), int(n_points)
    pts = []
    for _ in range(K):
        back = fit._model_backtransform(gaussian_qmc_sample(fit.mean, fit.cov, n, rng), variables)
        pts.append(np.concatenate([back[name].reshape(n, -1)[:, sel[name]] for name in names], axis=1))
    pts = np.stack(pts)
    _check_finite_points(pts, "+".join(names))
    return pts


def _pooled_centers(pooled, spec):
    """A centre keyword ("mean", "median", "mode") per column of the pooled QMC points."""

    return np.array([center_values(pooled[:, e], spec) for e in range(pooled.shape[1])], dtype=float)


def _qmc_curve_and_index(pts, centre, absolute, stored, scale, center_value, ci_prob, distances=False):
    """Curves (E, R, stat) and index (E, stat) of QMC points' balls.

    The curve: each ball's fraction of the points, with a Student t interval over the
    randomisations. The index: the samples tier's local likelihood on the pooled points,
    read as independent draws of the approximation (:func:`~pymc_localmass.core.curves.local_mass_curves`
    with ``independent=True``: conservative, as scrambled Sobol points vary less than
    independent ones), so the draws' honesty rules apply: a centre the points do not reach,
    a thin tail or a hard edge is ``unresolved``, decay faster than any power ``a = inf``.
    (A slope fit on the curve read a log-normal Cholesky diagonal of full-rank ADVI at 0,
    whose index is inf, as 4.1 [3.7, 4.6] "ok"; an element that never varies, a correlation
    matrix's unit diagonal, as -0.14 [0, 0.04] "ok".) Elements that never vary (to a few
    units in the last place) are point masses (:func:`~pymc_localmass.core.curves.constant_rows`).
    ``distances``: ``pts`` are distances to the centre (a joint ball), not values.
    """

    E, R = absolute.shape
    res = randomized_qmc_mass(pts, centre, absolute, ci_prob=ci_prob)
    resolved = (res["mass"] > 0) & np.isfinite(res["rel_se"]) & (res["rel_se"] < 0.25)
    put = dict(res, radius=stored, ess=np.full((E, R), float(pts.shape[0] * pts.shape[1])),
               resolved=resolved.astype(float))
    curves = np.stack([np.asarray(put[lab], float) for lab in CURVE_STATS], axis=-1)
    flat = np.ascontiguousarray(np.moveaxis(pts.reshape(-1, E), -1, 0))  # (E, K n)
    scale = np.broadcast_to(np.asarray(scale, float), (E,))
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    const = never_varies(lo, hi)
    index = np.empty((E, len(INDEX_STATS)))
    if const.any():
        value = np.median(flat[const], axis=1)
        c = np.zeros(int(const.sum())) if distances else np.asarray(centre, float)[const]
        # (a centre within a few ulps of the value is at it: a mean of 1.0 and 1 - 1e-16)
        c = np.where(never_varies(np.minimum(c, value), np.maximum(c, value)), value, c)
        index[const] = constant_rows(value, c)
    vary = ~const
    if vary.any():
        x = flat[vary][:, None, :]
        if distances:
            _, idx = local_mass_curves(x, scale[vary], independent=True)
        else:
            _, idx = local_mass_curves(x, scale[vary], center=np.asarray(centre, float)[vary], independent=True)
        index[vary] = idx
    index[:, INDEX_STATS.index("center_value")] = center_value
    return curves, index


#: vector transforms under which each element of a non-degenerate Gaussian has a smooth, positive
#: marginal density inside its support (stick-breaking onto the simplex, the ordered map, the
#: zero-sum basis); others (e.g. a correlation matrix's Cholesky map, with constant diagonal
#: elements) are read from the QMC points as draws
SMOOTH_VECTOR_TRANSFORMS = ("SimplexTransform", "Ordered", "ZeroSumTransform")


def _vector_exact(fit, name):
    """Whether :func:`_exact_vector_rows` applies: a known vector transform of a non-degenerate Gaussian block."""
    v = fit.variables[name]
    if v.transform_class not in SMOOTH_VECTOR_TRANSFORMS or fit.cov is None:
        return False
    block = np.asarray(fit.cov, float)[v.index, v.index]
    if not (np.all(np.isfinite(block)) and np.all(np.isfinite(np.asarray(fit.mean, float)[v.index]))):
        return False
    try:
        np.linalg.cholesky(block)
    except np.linalg.LinAlgError:
        return False
    return True


def _exact_vector_rows(index, fit, name, centre, flat, csd):
    """The exact index of a vector-transformed variable's elements, where the transform is known.

    A non-degenerate Gaussian pushed through one of ``SMOOTH_VECTOR_TRANSFORMS`` gives each
    element (that varies) a smooth, positive density inside its open support: ``a = 1``
    (``b = 0``) exactly at an interior centre, whatever radii the QMC points resolve (a
    simplex element of mean-field ADVI at 0.002, inside but near its edge, read 4.2 [3.8,
    4.6] "ok" from the curve). The support's ends are reached only as the unconstrained
    value runs to infinity, so a ball's mass there decays faster than any power: ``a = inf``
    (the log-normal's reading at 0, for a vector transform). Other rows keep the points' reading.
    """
    if not _vector_exact(fit, name):
        return
    v = fit.variables[name]
    low, high = (arr.reshape(-1)[flat] for arr in v.support())
    col = INDEX_STATS.index
    end = (centre <= low) | (centre >= high)
    inside = ~end & (csd > 0)
    for rows, a, b in ((end, np.inf, np.nan), (inside, 1.0, 0.0)):
        if not rows.any():
            continue
        index[rows, col("a")] = index[rows, col("a_lower")] = index[rows, col("a_upper")] = a
        index[rows, col("b")] = b
        index[rows, col("b_lower")] = -np.inf if np.isnan(b) else b
        index[rows, col("b_upper")] = np.inf if np.isnan(b) else b
        index[rows, col("status")] = STATUS_WORDS.index("ok")


def _check_finite_points(pts, what):
    """QMC points pushed through a transform must be finite (a NaN distance would count as outside)."""
    bad = ~np.all(np.isfinite(pts), axis=-1)
    if bad.any():
        raise InvalidInputError(
            f"{what}: the model's transform gives non-finite values at {int(bad.sum())} of {bad.size} "
            "quasi-Monte Carlo points of the approximation (overflow far in its tails); the QMC tier cannot "
            "integrate it: use method='samples'")


def _joint_grid(norm, csd, radii, n_radii, joint_name):
    """Scale S of a joint ball (RMS sd, largest sd, sqrt(d) or 1 by norm) and its radius grid."""
    if norm == "euclidean":
        S = float(np.sqrt(np.sum(csd**2)))
    elif norm == "max":
        S = float(np.max(csd))
    elif norm == "scaled":
        S = math.sqrt(csd.size)
    else:
        S = 1.0
    r = radii_for(radii, joint_name if isinstance(radii, Mapping) else None)
    grid = S * np.logspace(-AUTO_DECADES_JOINT, 0.0, int(n_radii)) if r is None else np.asarray(r, float)
    return S, grid


def _qmc_joint(fit, names, tsel, cmap, *, radii, n_radii, norm, ci_prob, model, n_points, n_randomizations,
               seed):
    """Joint ball over the selected elements of ``names`` by randomised QMC."""
    selections, centres, csds, labels = {}, [], [], []
    for name in names:
        da = tsel[name]
        el_dims = _element_dims(da)
        idx = np.asarray(da.values[0, 0], dtype=int)
        selections[name] = idx.reshape(-1)
        specs = cmap[name]
        if len(specs) != 1:
            raise InvalidInputError(f"joint=True takes one centre per variable; {name!r} has {len(specs)}")
        label, spec = specs[0]
        labels.append(f"{name}={label}")
        el_coords = {d: da[d].values for d in el_dims if d in da.coords}
        centres.append(_center_array(fit, name, spec, label, idx, idx.shape, el_dims, el_coords, model).reshape(-1))
        csds.append(fit.constrained_moments(name)[1].reshape(-1)[idx.reshape(-1)])
    mean, cov, transforms, lower, upper = fit.block(names, selections)
    cvec = np.concatenate(centres)
    csd = np.concatenate(csds)
    d = cvec.size
    scaled = norm in ("scaled", "scaled_max")
    core_norm = "max" if norm in ("max", "scaled_max") else "euclidean"
    scale_vec = csd if scaled else np.ones(d)
    joint_name = "+".join(names)
    S, grid = _joint_grid(norm, csd, radii, n_radii, joint_name)
    res = gaussian_joint_ball_mass(mean, cov, cvec, grid, transforms=transforms, lower=lower, upper=upper,
                                   norm=core_norm, scale=scale_vec, n_points=n_points,
                                   n_randomizations=n_randomizations, ci_prob=ci_prob, seed=seed)
    R = grid.size
    mass = np.clip(res.mass, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lm = np.log(mass)
        rse = res.std_error / mass
        lr = np.log(grid)
        slope = np.gradient(lm, lr) if R >= 2 else np.full(R, np.nan)
        # error of a centred difference from the relative errors at its two ends
        se_s = np.full(R, np.nan)
        if R >= 3:
            se_s[1:-1] = np.sqrt(rse[2:] ** 2 + rse[:-2] ** 2) / (lr[2:] - lr[:-2])
        se_s[0] = np.sqrt(rse[0] ** 2 + rse[1] ** 2) / (lr[1] - lr[0])
        se_s[-1] = np.sqrt(rse[-1] ** 2 + rse[-2] ** 2) / (lr[-1] - lr[-2])
    tq = stats.t.ppf(0.5 + 0.5 * ci_prob, max(int(n_randomizations) - 1, 1))
    resolved = (mass > 0) & np.isfinite(rse) & (rse < 0.25)
    put = {"radius": grid, "mass": mass, "mass_lower": res.mass_lower, "mass_upper": res.mass_upper,
           "slope": slope, "slope_lower": slope - tq * se_s, "slope_upper": slope + tq * se_s,
           "ess": np.full(R, float(res.n_points * res.n_randomizations)), "resolved": resolved.astype(float)}
    curves = np.stack([np.asarray(put[lab], float) for lab in CURVE_STATS], axis=-1)
    # exact index of a non-degenerate Gaussian pushed through bijections: d inside, inf on a boundary
    lows, highs = [], []

    for t, lo_j, hi_j in zip(transforms, lower, upper):
        lo_, hi_ = transform_support(t, None if np.isnan(lo_j) else lo_j, None if np.isnan(hi_j) else hi_j)
        lows.append(float(lo_))
        highs.append(float(hi_))
    interior = bool(np.all((cvec > np.array(lows)) & (cvec < np.array(highs))))
    try:
        np.linalg.cholesky(cov)
        a = float(d) if interior else np.inf
        b = 0.0 if interior else np.nan
    except np.linalg.LinAlgError:
        a = b = np.nan
    vals = {"a": a, "a_lower": a, "a_upper": a, "b": b, "b_lower": -np.inf if np.isposinf(a) else b,
            "b_upper": np.inf if np.isposinf(a) else b, "atom": 0.0,
            "atom_lower": 0.0, "atom_upper": 0.0, "center_value": np.nan, "scale": S, "window": float(grid[-1]),
            "n_window": float(R)}
    index = np.array([vals.get(lab, no_draws_value(lab)) for lab in INDEX_STATS], dtype=float)
    label = joint_center_label(labels)
    cur = xr.DataArray(curves[None], dims=("center", "radius", "local_stat"), coords={"center": [label]})
    ind = xr.DataArray(index[None], dims=("center", "index_stat"), coords={"center": [label]})
    extra = {"center_values": ",".join(f"{x:.6g}" for x in cvec), "joint_vars": ",".join(names),
             "n_points": int(res.n_points), "n_randomizations": int(res.n_randomizations)}
    return joint_name, cur, ind, extra


def _qmc_joint_through_model(fit, names, tsel, cmap, *, radii, n_radii, norm, ci_prob, model, n_points,
                             n_randomizations, seed):
    """Joint ball over variables one of which has a vector transform (simplex, ordered, ...).

    Randomised Sobol points of the whole unconstrained Gaussian are pushed
    through the model's own transforms (one vectorised graph for all the
    variables), their distances to the joint centre taken in the constrained
    space, and the ball masses are the fractions inside, with a Student t
    interval over the randomisations (tier ``qmc``). The index is read from
    the points' distances as draws (:func:`_qmc_curve_and_index`): a vector
    transform's image can be a lower-dimensional set (the simplex), so the
    dimension count of ``_qmc_joint`` does not apply.
    """
    sel = {}
    for name in names:
        sel[name] = np.asarray(tsel[name].values[0, 0], dtype=int).reshape(-1)
        if len(cmap[name]) != 1:
            raise InvalidInputError(f"joint=True takes one centre per variable; {name!r} has {len(cmap[name])}")
    pts = _model_qmc_points(fit, names, sel, n_points, n_randomizations, seed)  # (K, n, d)
    K, n = pts.shape[:2]
    pooled = pts.reshape(-1, pts.shape[-1])
    csd = pooled.std(axis=0, ddof=1)
    centres, labels, start = [], [], 0
    for name in names:
        label, spec = cmap[name][0]
        labels.append(f"{name}={label}")
        da = tsel[name]
        el_dims = _element_dims(da)
        idx = np.asarray(da.values[0, 0], dtype=int)
        if isinstance(spec, str) and spec in ("mean", "median", "mode"):
            centres.append(_pooled_centers(pooled[:, start:start + sel[name].size], spec))
        else:
            el_coords = {dd: da[dd].values for dd in el_dims if dd in da.coords}
            centres.append(_center_array(fit, name, spec, label, idx, idx.shape, el_dims, el_coords,
                                         model).reshape(-1))
        start += sel[name].size
    cvec = np.concatenate(centres)
    scaled = norm in ("scaled", "scaled_max")
    diff = (pts - cvec) / (csd if scaled else 1.0)
    dist = np.max(np.abs(diff), axis=-1) if norm in ("max", "scaled_max") else np.sqrt(np.sum(diff**2, axis=-1))
    joint_name = "+".join(names)
    S, grid = _joint_grid(norm, csd, radii, n_radii, joint_name)
    curves, index = _qmc_curve_and_index(dist[..., None], np.zeros(1), grid[None, :], grid[None, :], np.array([S]),
                                         np.full(1, np.nan), ci_prob, distances=True)  # one ball: the centre axis
    label = joint_center_label(labels)
    cur = xr.DataArray(curves, dims=("center", "radius", "local_stat"), coords={"center": [label]})
    ind = xr.DataArray(index, dims=("center", "index_stat"), coords={"center": [label]})
    extra = {"center_values": ",".join(f"{x:.6g}" for x in cvec), "joint_vars": ",".join(names),
             "n_points": int(n), "n_randomizations": int(K)}
    return joint_name, cur, ind, extra


def _index_method(tiers, curve_fitted):
    """How each variable's index was found: exact, from the QMC points as draws, or from draws."""
    how = {k: ("local likelihood on the QMC points (as independent draws)" if k in curve_fitted else
               "local-likelihood" if t == "samples-of-approximation" else "exact (transformed Gaussian)")
           for k, t in tiers.items()}
    kinds = set(how.values())
    return kinds.pop() if len(kinds) == 1 else ",".join(f"{k}:{v}" for k, v in how.items())


def _restrict(spec, names):
    if isinstance(spec, Mapping):
        return {k: v for k, v in spec.items() if k in names}
    return spec


def compute(data, *, var_names=None, filter_vars=None, coords=None, group="posterior", centers="mean",
            radii=None, n_radii=25, norm="euclidean", joint=False, model=None, ci_prob=None, min_ess=10.0,
            window=None, nan_policy="raise", progressbar=None, method="auto", n_draws=1000, n_chains=4,
            seed=0, n_points=2**12, n_randomizations=8):
    """Local mass curves and Mass Index of a fitted approximation (docs/schema.md).

    Parameters
    ----------
    data : Source, PyMC approximation, pymc-extras fit, or GaussianApproximation
        A :class:`~pymc_localmass.adapters.source.Source` of kind
        "approximation", or what it converts: ``pm.fit(method="advi" |
        "fullrank_advi")``, a Laplace fit (``fit`` group) or a Pathfinder fit.
    var_names, filter_vars, coords, centers, radii, n_radii, norm, joint, ci_prob,
    min_ess, window, nan_policy, progressbar
        As in :func:`pymc_localmass.local_mass`; ``min_ess``, ``window``,
        ``nan_policy`` and ``progressbar`` only matter for the draws fallback.
    group : str
        Group of a pymc-extras fit that holds its draws.
    model : pymc.Model, optional
        For pymc-extras fits (exact transforms and bounds) and ``"map"`` centres.
    method : {"auto", "analytic", "samples"}
        ``"analytic"`` refuses the draws fallback (raises instead);
        ``"samples"`` uses the approximation's draws throughout.
    n_draws, n_chains, seed
        Draws of the approximation for the fallback (independent draws split
        into ``n_chains`` groups).
    n_points, n_randomizations
        Sobol points per randomisation and number of randomisations (joint balls).

    Returns
    -------
    curves, index : xarray.Dataset
        The ``local_mass`` and ``local_mass_index`` groups. ``attrs["tier"]``
        is ``"analytic"``, ``"qmc"`` or ``"samples-of-approximation"`` (the
        least exact tier used); ``attrs["variable_tiers"]`` gives each
        variable's, ``attrs["fallback_reason"]`` why draws were used.

    Raises
    ------
    ValueError
        ``data`` is not an approximation; ``method="analytic"`` where the
        exact tier is impossible; bad centres or radii.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_localmass as plm
    >>> with pm.Model():
    ...     tau = pm.HalfNormal("tau")
    ...     approx = pm.fit(2000, progressbar=False, random_seed=1)
    >>> res = plm.local_mass(approx, centers={"tau": 0.0}, radii=[0.1])
    >>> res.attrs["tier"]
    'analytic'
    """
    fit, ci_prob = _check_request(data, group=group, model=model, method=method, norm=norm, ci_prob=ci_prob,
                                  n_radii=n_radii)
    scaled = norm in ("scaled", "scaled_max")
    plan = _plan(fit, var_names=var_names, filter_vars=filter_vars, coords=coords, centers=centers, radii=radii,
                 n_radii=n_radii, scaled=scaled, joint=joint, method=method, ci_prob=ci_prob, model=model)
    opts = dict(radii=radii, n_radii=n_radii, ci_prob=ci_prob, model=model, n_points=n_points,
                n_randomizations=n_randomizations, seed=seed)
    parts = _exact_and_qmc(fit, plan, joint=joint, norm=norm, scaled=scaled, **opts)
    n_used = _from_draws(fit, plan, parts, coords=coords, centers=centers, radii=radii, n_radii=n_radii, norm=norm,
                         joint=joint, model=model, ci_prob=ci_prob, min_ess=min_ess, window=window,
                         nan_policy=nan_policy, progressbar=progressbar, n_draws=n_draws, n_chains=n_chains,
                         seed=seed)
    attrs = _attrs(fit, plan, parts, n_used, radii=radii, n_radii=n_radii, norm=norm, joint=joint, ci_prob=ci_prob)
    return _assemble(parts, attrs)


@dataclass
class _Plan:
    """Which way each selected variable's mass is computed (the steps of :func:`compute` read it).

    Attributes
    ----------
    names : list of str
        The selected variables (Deterministics without a closed form left
        out under ``method="analytic"`` by default).
    tsel : xarray.Dataset
        The approximation's template of them, ``coords`` applied.
    cmap : dict
        Their centres (:func:`pymc_localmass._centers.normalise_centers`).
    monotone : dict of str to (DataArray, DataArray)
        Scalar Deterministics computed exactly through a monotone map.
    reasons : dict of str to str or None
        Why a variable cannot be exact (None: it can).
    via_qmc : list of str
        Elementwise balls integrated by QMC through the model's transform.
    joint_via_model : bool
        The joint ball is integrated by QMC through the model's transforms.
    qmc_reasons : list of str
        Why the joint ball goes through the model.
    fallback : list of str
        Variables computed from the approximation's draws.
    """

    names: list
    tsel: xr.Dataset
    cmap: dict
    monotone: dict
    reasons: dict
    via_qmc: list
    joint_via_model: bool
    qmc_reasons: list
    fallback: list


@dataclass
class _Parts:
    """Per-variable results as the steps of :func:`compute` produce them, and the attrs they add."""

    curves: dict = field(default_factory=dict)
    index: dict = field(default_factory=dict)
    tiers: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    qmc_errors: dict = field(default_factory=dict)
    joint_name: str | None = None

    def add(self, name, cur, ind, tier):
        """Record one variable's (or the joint ball's) curves and index, computed by ``tier``."""
        self.curves[name], self.index[name] = cur, ind
        self.tiers[name] = tier


def _check_request(data, *, group, model, method, norm, ci_prob, n_radii):
    """The approximation of the (converted) input and the interval probability, after the tier's checks.

    Returns
    -------
    fit : GaussianApproximation
    ci_prob : float
    """
    if method not in ("auto", "analytic", "samples"):
        raise InvalidInputError(f"method must be 'auto', 'analytic' or 'samples' for approximations, got {method!r}")
    source = convert(data, group=group, model=model)
    if source.kind != "approximation":
        raise InvalidInputError(
            "method='analytic' needs a fitted Gaussian approximation (pm.fit(method='advi' or "
            f"'fullrank_advi'), a pymc-extras Laplace fit); got {source.type_name}. "
            "For posterior draws use method='samples'")
    if norm not in NORMS:
        raise InvalidInputError(f"norm must be one of {NORMS}, got {norm!r}")
    ci_prob = check_ci_prob(ci_prob)
    if int(n_radii) < 2:
        raise InvalidInputError(f"n_radii must be at least 2, got {n_radii}")
    return source.approximation, ci_prob


def _plan(fit, *, var_names, filter_vars, coords, centers, radii, n_radii, scaled, joint, method, ci_prob, model):
    """Select the variables and decide, for each, exact, monotone, QMC or draws (a :class:`_Plan`).

    The exact masses of scalar Deterministics monotone in one free variable
    are computed here (they decide the plan). ``method="analytic"`` refuses
    anything that is not exact.
    """
    template = _template(fit)
    names = select_vars(template, var_names, filter_vars)
    if not names:
        raise InvalidInputError("no variables selected from the approximation")
    tsel = select_coords(template[names], coords)
    cmap = normalise_centers(centers, names)

    def why_not(name):
        if method == "samples":
            return "method='samples' asked for draws"
        if not fit.gaussian:
            return f"the {fit.kind} approximation is not a single Gaussian"
        v = fit.variable(name)
        if not v.supported:
            return f"{v.name}: {v.reason}"
        return None

    # a scalar Deterministic, monotone in one scalar free variable: exact through the monotone map
    monotone = {}
    if fit.gaussian and fit.model is not None and not joint and method in ("auto", "analytic"):
        for n in names:
            v = fit.variable(n)
            if v.deterministic and v.source is not None:
                got = _monotone_variable(fit, n, tsel[n], cmap[n], radii=radii, n_radii=n_radii, scaled=scaled,
                                         ci_prob=ci_prob, model=model)
                if got is not None:
                    monotone[n] = got
    if method == "analytic" and var_names is None:  # the default selection: what has an exact mass
        for n in [n for n in names if fit.variable(n).deterministic and n not in monotone]:
            fit.omitted[n] = "Deterministic without a closed-form mass (method='analytic')"
            names.remove(n)
        tsel = tsel[names]
    reasons = {n: (None if n in monotone else why_not(n)) for n in names}
    via_qmc = []  # elementwise balls of a variable with a vector transform: QMC through the model's transform
    if fit.gaussian and fit.model is not None and not joint and method == "auto":
        via_qmc = [n for n in names if reasons[n] and not fit.variable(n).supported and n not in monotone]
    # a joint ball with a vector-transform variable: QMC through the model's transforms too
    joint_via_model = (joint and method == "auto" and fit.gaussian and fit.model is not None
                       and any(reasons.values())
                       and all(not fit.variable(n).supported for n in names if reasons[n]))
    qmc_reasons = [reasons[n] for n in names if reasons[n]] if joint_via_model else []
    if joint_via_model:
        reasons = {n: None for n in names}
    if joint and any(reasons.values()):
        reasons = {n: reasons[n] or "joint ball with a variable that needs draws" for n in names}
    fallback = [n for n in names if reasons[n] and n not in via_qmc]
    if method == "analytic" and joint:
        raise InvalidInputError("a joint ball has no closed-form mass (method='analytic'); use method='auto', which "
                         "integrates it by randomised quasi-Monte Carlo (tier 'qmc', with intervals)")
    if method == "analytic" and (fallback or via_qmc):
        bad = fallback + via_qmc
        raise InvalidInputError(
            "an exact (analytic) local mass is impossible for " + "; ".join(reasons[n] for n in bad)
            + "; use method='auto' (quasi-Monte Carlo through the transform, or the approximation's draws)")
    return _Plan(names, tsel, cmap, monotone, reasons, via_qmc, joint_via_model, qmc_reasons, fallback)


def _exact_and_qmc(fit, plan, *, joint, norm, scaled, radii, n_radii, ci_prob, model, n_points, n_randomizations,
                   seed):
    """Every variable the approximation gives without draws: monotone, QMC through the model, joint QMC, exact.

    A variable whose QMC through the model meets non-finite values moves to
    ``plan.fallback`` (the draws are the last resort), with the reason.
    """
    parts = _Parts()
    for name in plan.monotone:
        parts.add(name, *plan.monotone[name], "analytic")
    if plan.monotone:
        parts.extra["monotone_deterministics"] = ",".join(plan.monotone)
    if fit.omitted:
        parts.extra["omitted"] = "; ".join(f"{k}: {v}" for k, v in fit.omitted.items())
    qmc = dict(radii=radii, n_radii=n_radii, ci_prob=ci_prob, model=model, n_points=n_points,
               n_randomizations=n_randomizations, seed=seed)
    for name in list(plan.via_qmc):
        try:
            cur, ind = _qmc_vector_variable(fit, name, plan.tsel[name], plan.cmap[name], scaled=scaled, **qmc)
        except ValueError as err:  # non-finite values through the graph: the draws are the last resort
            if "non-finite values" not in str(err):
                raise
            plan.via_qmc.remove(name)
            plan.fallback.append(name)
            parts.qmc_errors[name] = str(err)
            plan.reasons[name] = f"{plan.reasons[name]}; QMC through the model failed: {err}"
            continue
        parts.add(name, cur, ind, "qmc")
    if plan.via_qmc:
        parts.extra.update(n_points=int(n_points), n_randomizations=int(n_randomizations),
                           qmc_reason="; ".join(plan.reasons[n] for n in plan.via_qmc))
    if joint and plan.joint_via_model:
        jname, cur, ind, parts.extra = _qmc_joint_through_model(fit, plan.names, plan.tsel, plan.cmap, norm=norm,
                                                                **qmc)
        parts.extra["qmc_reason"] = "; ".join(dict.fromkeys(plan.qmc_reasons))
        parts.add(jname, cur, ind, "qmc")
        parts.joint_name = jname
    elif joint and not plan.fallback:
        jname, cur, ind, parts.extra = _qmc_joint(fit, plan.names, plan.tsel, plan.cmap, norm=norm, **qmc)
        parts.add(jname, cur, ind, "qmc")
    elif not joint:
        for name in plan.names:
            if name in plan.fallback or name in plan.via_qmc or name in plan.monotone:
                continue
            cur, ind = _exact_variable(fit, name, plan.tsel[name], plan.cmap[name], radii=radii, n_radii=n_radii,
                                       scaled=scaled, model=model)
            parts.add(name, cur, ind, "analytic")
    return parts


def _from_draws(fit, plan, parts, *, coords, centers, radii, n_radii, norm, joint, model, ci_prob, min_ess, window,
                nan_policy, progressbar, n_draws, n_chains, seed):
    """The ``plan.fallback`` variables from the approximation's own draws (the samples tier, independent draws).

    Returns
    -------
    (int, int)
        The numbers of chains and draws per chain used (0, 0 without a fallback).
    """
    if not plan.fallback:
        return 0, 0
    fallback = plan.fallback
    draws = fit.sample(n_draws=n_draws, n_chains=n_chains, seed=seed)
    fb_centers = _restrict(centers, fallback)
    if isinstance(fb_centers, Mapping):
        fb_centers = {k: v for k, v in fb_centers.items()}
    try:
        c2, i2 = samples_compute(draws, var_names=fallback, coords=coords, centers=fb_centers,
                                 radii=_restrict(radii, fallback + ["+".join(fallback)]), n_radii=n_radii,
                                 norm=norm, joint=joint, model=model if model is not None
                                 else fit.model, ci_prob=ci_prob, min_ess=min_ess, window=window,
                                 nan_policy=nan_policy, progressbar=progressbar, independent=True)
    except ValueError as err:
        if parts.qmc_errors:  # the last resort failed too: say why QMC could not, then why the draws cannot
            raise _UnmeasurableError("; ".join(parts.qmc_errors.values()) + f"; its draws cannot either: {err}",
                                     list(parts.qmc_errors)) from None
        raise
    for k in c2.data_vars:
        parts.add(k, c2[k], i2[k], "samples-of-approximation")
    for key in ("center_values", "joint_vars"):
        if key in c2.attrs:
            parts.extra[key] = c2.attrs[key]
    return int(draws.sizes["chain"]), int(draws.sizes["draw"])


def _attrs(fit, plan, parts, n_used, *, radii, n_radii, norm, joint, ci_prob):
    """The results' attributes: the least exact tier used, each variable's, the grid rule and why draws were used."""
    tiers = parts.tiers
    tier = max(tiers.values(), key=TIER_ORDER.index)
    if any(t == "samples-of-approximation" for t in tiers.values()) and not joint:
        auto = (f"auto: analytic variables {int(n_radii)} log-spaced radii from 1e-3 to 1 constrained sd; "
                "variables from draws as in the samples tier")
    elif joint:
        auto = f"auto: {int(n_radii)} log-spaced radii from 1e-2 to 1 RMS scale"
    else:
        auto = f"auto: {int(n_radii)} log-spaced radii from 1e-3 to 1 constrained sd of the approximation"
    # (a radii mapping may name some variables only: the rule says which have which)
    grid_rule = rule_for(radii, list(plan.tsel), joint, auto)
    curve_fitted = ([n for n in plan.via_qmc if not _vector_exact(fit, n)]
                    + ([parts.joint_name] if parts.joint_name is not None else []))
    return base_attrs(
        tier=tier, norm=norm, ci_prob=ci_prob, grid_rule=grid_rule,
        source_group=f"{fit.kind} approximation", joint=joint, n_chains=n_used[0], n_draws=n_used[1],
        index_method=_index_method(tiers, curve_fitted),
        approximation=fit.kind,
        variable_tiers=",".join(f"{k}:{v}" for k, v in tiers.items()),
        fallback_reason="; ".join(dict.fromkeys(plan.reasons[n] for n in plan.fallback)) if plan.fallback else "",
        **parts.extra,
    )


def _assemble(parts, attrs):
    """The ``local_mass`` and ``local_mass_index`` datasets, variables in the order they were computed."""
    curves = merge_curves(parts.curves)
    index = xr.merge([v.rename(k).to_dataset() for k, v in parts.index.items()], join="outer",
                     compat="no_conflicts")
    index = index.assign_coords(index_stat=list(INDEX_STATS))
    order = [n for n in list(parts.curves) if n in curves.data_vars]
    curves = curves[order]
    index = index[order]
    curves.attrs = dict(attrs)
    index.attrs = dict(attrs)
    return curves, index


def approximation_of(obj, model=None):
    """The :class:`~pymc_localmass.adapters.approx.GaussianApproximation` behind ``obj`` (or None)."""
    source = convert(obj, model=model)
    return source.approximation if source.kind == "approximation" else None
