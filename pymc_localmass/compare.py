"""Comparing fits region by region: masses, ratios, mass terms, ELBO blindness.

:func:`compare` evaluates every fit (posterior draws, PyMC ADVI, pymc-extras
Laplace/Pathfinder) on the *same* regions: balls around the same centre
values (resolved once, on the reference) with the same absolute radii (the
reference's grid). Per variable element, centre and radius it reports, for
each fit ``q`` against the reference ``p`` (THEORY.md sections 3-4):

- ``q(A)`` with its interval, and ``q(A)/p(A)`` with an interval;
- the mass terms ``phi(p(A), q(A))`` (the least the forward KL must register)
  and ``phi(q(A), p(A))`` (the least the reverse KL, i.e. the ELBO, must
  register: the *ELBO-blindness bound*, which stays below ``p(A)`` however
  small ``q(A)`` is);
- with a global bound ``K >= KL(q || p)`` (given, or the fit's ELBO against
  the reference's log evidence) the interval of reference masses compatible
  with ``K``, ``{y : phi(q(A), y) <= K}``.

Interval rule for ratios and mass terms: when both masses are estimated, each
enters at level ``1 - (1 - ci_prob)/2`` (Bonferroni), so the combined
interval covers with probability at least ``ci_prob``; an exact mass
(analytic tier) enters as a point. Mass terms take their extremes over the
rectangle of the two mass intervals (``phi`` is jointly convex).

:func:`local_kl` is the public local extended KL of two distributions on a
region, both directions, exact when both densities are known.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ._stack import user_stacklevel
from . import __version__
from ._api import CentersLike, Coords, FilterVars, RadiiLike, VarNames, public
from ._compat import get_group, single_fit_type
from .errors import InvalidInputError, InvalidTypeError, UnknownNameError, _NonFiniteDraws, _UnmeasurableError
from ._validate import check_ci_prob, named_fits
from .adapters import SAMPLE_DIMS, select_coords, select_vars
from .adapters.source import convert
from .results import stored_centers
from .core.lattice import never_varies
from .core.localkl import (Ball, Box, Tail, Where, local_kl_knn, local_kl_mc, local_kl_qmc, local_kl_quad, phi,
                           phi_interval_y)

__all__ = ["compare", "compare_summary", "local_kl", "Ball", "Box", "Tail", "Where", "COMPARE_VARS"]

EXACT_TIERS = ("analytic",)
#: data variables of a comparison dataset with dims (model, region, radius)
COMPARE_VARS = ("mass", "mass_lower", "mass_upper", "ratio", "ratio_lower", "ratio_upper", "phi_forward",
                "phi_forward_lower", "phi_forward_upper", "phi_reverse", "phi_reverse_lower", "phi_reverse_upper",
                "ref_compatible_lower", "ref_compatible_upper", "ref_compatible")


# ----------------------------------------------------------------------------- fits
class _Fit:
    """One entry of ``fits``: posterior draws or an approximation, read once.

    The entry is converted at the edge (:func:`~pymc_localmass.adapters.source.convert`);
    its draws or its approximation are read here, so that a fit that cannot
    be read fails when ``fits`` is opened, its message naming the fit.
    """

    def __init__(self, name, obj, *, group, model):
        self.name = name
        self.obj = obj
        self.group = group
        self.source = convert(obj, group=group, model=model)
        self.approx = None
        self.draws = None
        if self.source.kind == "approximation":
            try:
                self.approx = self.source.approximation
            except (TypeError, NotImplementedError) as err:
                raise InvalidInputError(f"fit {name!r}: {err}") from None
        else:
            try:
                self.draws = self.source.draws
            except (TypeError, KeyError, ValueError) as err:
                raise type(err)(f"fit {name!r}: {err}") from None

    @property
    def kind(self):
        return self.approx.kind if self.approx is not None else "draws"

    def variables(self):
        if self.approx is not None:
            return list(self.approx.variables)
        return [v for v in self.draws.data_vars if set(SAMPLE_DIMS) <= set(self.draws[v].dims)]

    def dims(self, var):
        if self.approx is not None:
            return tuple(self.approx.variables[var].dims)
        return tuple(d for d in self.draws[var].dims if d not in SAMPLE_DIMS)

    def coords(self, var):
        if self.approx is not None:
            v = self.approx.variables[var]
            return {d: np.asarray(v.coords[d]) for d in v.dims}
        da = self.draws[var]
        return {d: (da[d].values if d in da.coords else np.arange(da.sizes[d])) for d in self.dims(var)}

    def support(self, var):
        """(low, high) arrays over the variable's dims, or None when unknown (draws)."""
        if self.approx is None or not self.approx.gaussian:
            return None
        v = self.approx.variables[var]
        if not v.supported:
            return None
        return v.support()

    def draw_range(self, var):
        if self.draws is None:
            return None
        da = self.draws[var]
        return (da.min(SAMPLE_DIMS).values.astype(float), da.max(SAMPLE_DIMS).values.astype(float))

    def compute(self, **kw):
        from .estimators import _compute

        if self.approx is not None:
            from .tiers.analytic import compute

            return compute(self.approx, **kw)
        return _compute(self.source, method="samples", group=self.group, **kw)


def _names_given(var_names):
    """The variable names a user asked for by name (``~`` exclusions do not count)."""
    if var_names is None:
        return False
    items = [var_names] if isinstance(var_names, str) else list(var_names)
    return any(not str(v).startswith("~") for v in items)


def constant_variables(ds, names):
    """``{name: reason}`` for variables of the draws ``ds`` with an element that never varies.

    E.g. a Deterministic of data only, a pinned element: a local mass needs draws that vary.
    """
    out = {}
    for n in names:
        da = ds[n]
        if not np.issubdtype(da.dtype, np.number):
            continue
        flat = never_varies(np.asarray(da.min(SAMPLE_DIMS).values), np.asarray(da.max(SAMPLE_DIMS).values),
                            da.dtype).reshape(-1)
        if flat.all():
            out[n] = "constant in the draws (nothing to measure)"
    return out


def shared_variables(fits, names, *, strict=False):
    """The ``names`` every fit can give, and why each other one is left out.

    Parameters
    ----------
    fits : list of _Fit
        The reference first.
    names : list of str
        Variables selected on the reference.
    strict : bool
        The user named these variables: a fit that cannot give one is an
        error (naming the fit and the variable) instead of a note.

    Returns
    -------
    kept : list of str
    left_out : dict of str to str
        Variable -> reason (e.g. ``"'ADVI centred' lacks it (not a variable of that fit)"``).
    """
    kept, left_out = [], {}
    for n in names:
        why = []
        for f in fits[1:]:
            if n in f.variables():
                continue
            note = f.approx.omitted.get(n) if f.approx is not None else None
            why.append(f"{f.name!r} cannot give it ({note})" if note else
                       f"{f.name!r} lacks it (not a variable of that fit)")
        if not why:
            kept.append(n)
        elif strict:
            raise InvalidInputError(
                f"fits have different variables: variable {n!r}, which you named, cannot be compared: "
                + "; ".join(why) + f" (the reference {fits[0].name!r} has it); leave it out of var_names, or pass "
                "var_names=None to compare the variables all fits share")
        else:
            left_out[n] = "; ".join(why)
    return kept, left_out


def _check_same_variables(fits, names):
    ref = fits[0]
    for f in fits:
        have = set(f.variables())
        missing = [n for n in names if n not in have]
        if missing:
            raise InvalidInputError(f"fits have different variables: {f.name!r} lacks {missing} "
                             f"(the reference {ref.name!r} has them)")
    for n in names:
        d0 = ref.dims(n)
        c0 = ref.coords(n)
        for f in fits[1:]:
            d = f.dims(n)
            if d != d0:
                raise InvalidInputError(f"fits have different dims for {n!r}: {d0} in {ref.name!r}, {d} in "
                                        f"{f.name!r}{_graph_hint(f, n)}")
            c = f.coords(n)
            for dim in d0:
                a, b = np.asarray(c0[dim]), np.asarray(c[dim])
                if a.shape != b.shape or not np.all(a.astype(str) == b.astype(str)):
                    def show(x):
                        return f"{x.size} values {x.tolist()[:4]}{'...' if x.size > 4 else ''}"

                    raise InvalidInputError(f"fits have different coordinates for {n!r} along {dim!r}: "
                                            f"{show(a)} in {ref.name!r}, {show(b)} in {f.name!r}"
                                            f"{_graph_hint(f, n)}")


def _graph_hint(f, name):
    """A hint for a Deterministic an approximation computes through the model (its current data)."""
    var = f.approx.variables.get(name) if f.approx is not None else None
    if var is None or not var.deterministic:
        return ""
    data = f" ({', '.join(var.data)})" if var.data else ""
    return (f"; {f.name!r} computes {name!r} through the model with the model's current data{data}: if "
            "pm.set_data changed them since the reference was fitted, compare with the fitting data in the "
            f"model, or leave {name!r} out of var_names")


def _check_supports(fits, names):
    """Approximations must agree on each variable's support, and draws must lie inside it."""
    for n in names:
        known = [(f, f.support(n)) for f in fits if f.support(n) is not None]
        if len(known) >= 2:
            f0, (lo0, hi0) = known[0]
            for f, (lo, hi) in known[1:]:
                if not (np.array_equal(lo, lo0) and np.array_equal(hi, hi0)):
                    t0 = f0.approx.variables[n].describe_transform()
                    t1 = f.approx.variables[n].describe_transform()
                    raise InvalidInputError(
                        f"fits disagree on the transform/support of {n!r}: {f0.name!r} has {t0} "
                        f"(support {np.unique(lo0).tolist()}..{np.unique(hi0).tolist()}), {f.name!r} has {t1} "
                        f"(support {np.unique(lo).tolist()}..{np.unique(hi).tolist()}); they are not fits of one model")
        if known:
            f0, (lo0, hi0) = known[0]
            for f in fits:
                rng_ = f.draw_range(n)
                if rng_ is None:
                    continue
                mn, mx = rng_
                if np.any(mn < lo0) or np.any(mx > hi0):
                    raise InvalidInputError(
                        f"fits disagree on the support of {n!r}: draws of {f.name!r} range over "
                        f"[{np.min(mn):.4g}, {np.max(mx):.4g}] but {f0.name!r} transforms it with "
                        f"{f0.approx.variables[n].describe_transform()}; they are not fits of one model")


# ----------------------------------------------------------------------------- radii / centres
def _shared_radii(radii, names, fit_names):
    from ._radii import check_radii as _check_radii

    if radii is None:
        return None
    if isinstance(radii, Mapping):
        as_fits = [k for k in radii if k in fit_names and k not in names]
        if as_fits:
            raise InvalidInputError(
                f"mismatched radii: radii are shared by all fits (absolute radii, the same for every fit), "
                f"got a mapping keyed by fit name(s) {as_fits}; key it by variable or pass one array")
        unknown = [k for k in radii if k not in names]
        if unknown:
            raise UnknownNameError(f"radii given for unknown or unselected variable(s) {unknown}; selected: {names}")
        out = {}
        for k, v in radii.items():
            if np.ndim(v) != 1:
                raise InvalidInputError(
                    f"mismatched radii for {k!r}: need one 1-D array of absolute radii shared by all "
                                 f"elements and fits, got shape {np.shape(v)}")
            out[k] = _check_radii(v, k)
        return out
    if np.ndim(radii) != 1:
        raise InvalidInputError(f"mismatched radii: need one 1-D array of absolute radii shared by all fits, "
                         f"got shape {np.shape(radii)}")
    r = _check_radii(radii, "all variables")
    return {n: r for n in names}


def _log_evidence_arg(value):
    """``log_evidence=`` as ``(value, standard error)``: a number, or a pair."""
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = tuple(value.tolist())
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InvalidInputError(f"log_evidence must be a number or (value, standard error), got {value!r}")
        val, se = float(value[0]), float(value[1])
    else:
        val, se = float(value), 0.0
    if not np.isfinite(val) or not se >= 0:
        raise InvalidInputError(f"log_evidence must be finite with a standard error >= 0, got {value!r}")
    return val, se


def _log_evidence_of(fit):
    """Log evidence reported with draws, as ``(value, standard error)``.

    SMC's ``log_marginal_likelihood`` (sample_stats, one run per chain: the
    estimate pools the chains' evidences, its error is their spread over
    ``sqrt(n_chains)``) or a ``log_evidence`` attribute (error 0 unless a
    ``log_evidence_se`` attribute says otherwise).
    """
    if fit.draws is None:
        return None
    obj = fit.obj
    for attrs in (getattr(obj, "attrs", {}) or {}, fit.draws.attrs):
        for key in ("log_evidence", "log_marginal_likelihood"):
            if key in attrs:
                return float(attrs[key]), float(attrs.get("log_evidence_se", 0.0))
    if fit.source.container:
        try:
            ss = get_group(obj, "sample_stats")
        except KeyError:
            return None
        if "log_marginal_likelihood" in ss.data_vars:
            vals = np.asarray(ss["log_marginal_likelihood"].values, dtype=object)
            finals = []
            for chain in vals.reshape(vals.shape[0], -1) if vals.ndim >= 1 else [vals]:
                flat = np.concatenate([np.atleast_1d(np.asarray(x, float)).ravel() for x in np.atleast_1d(chain)])
                flat = flat[np.isfinite(flat)]
                if flat.size:
                    finals.append(flat[-1])
            if finals:
                finals = np.asarray(finals)
                val = float(np.log(np.mean(np.exp(finals - finals.max()))) + finals.max())
                se = float(finals.std(ddof=1) / math.sqrt(finals.size)) if finals.size > 1 else 0.0
                return val, se
    return None


# ----------------------------------------------------------------------------- flattening
def _flatten(curves, index, names, center_map):
    """Rows (region) of a fit's curves: labels and arrays (G, R, stat) / (G, index_stat)."""
    from .results import check_distinct_labels, element_labels

    rows, labels, meta = [], [], []
    irows = []
    for n in names:
        da = curves[n]
        ia = index[n]
        for sel, lab in element_labels(da):
            sub = da.sel(sel) if sel else da
            isub = ia.sel(sel) if sel else ia
            for c in center_map[n]:
                rows.append(sub.sel(center=c).transpose("radius", "local_stat").values)
                irows.append(isub.sel(center=c).values)
                labels.append(f"{lab} @ {c}")
                meta.append((n, lab, c, float(isub.sel(center=c, index_stat="center_value"))))
    check_distinct_labels([(n, lab) for n, lab, _, _ in meta])
    return labels, meta, np.stack(rows), np.stack(irows)


def _stat(arr, name, stats):
    return arr[..., list(stats).index(name)]


def _phi_box(x_lo, x_hi, y_lo, y_hi):
    """Range of phi(x, y) over the rectangle [x_lo, x_hi] x [y_lo, y_hi] (phi is jointly convex)."""
    corners = np.stack([phi(x_lo, y_lo), phi(x_lo, y_hi), phi(x_hi, y_lo), phi(x_hi, y_hi)])
    with np.errstate(invalid="ignore"):
        hi = np.nanmax(np.where(np.isnan(corners), -np.inf, corners), axis=0)
        overlap = (x_lo <= y_hi) & (y_lo <= x_hi)
        lo = np.where(overlap, 0.0, np.where(x_hi < y_lo, phi(x_hi, y_lo), phi(x_lo, y_hi)))
    # (no mass on one side, a region whose radii are undefined: no range, not [0, -inf])
    undefined = np.isnan(x_lo) | np.isnan(x_hi) | np.isnan(y_lo) | np.isnan(y_hi)
    return np.where(undefined, np.nan, lo), np.where(undefined, np.nan, hi)


# ----------------------------------------------------------------------------- compare
def _open_fits(fits, *, reference, norm, ci_prob, group, model, seed):
    """Check the call, pick the reference and read every fit once (:func:`compare`, its first step).

    Returns ``ci, fit_names, objs, model_ref, reference, order, F, ref``: the interval
    probability, the fits' names and objects, whether the reference is the model
    (no reference fit), its name, the fits' order (reference first), the read fits
    by name and the reference fit.
    """
    kind = single_fit_type(fits)
    if kind is not None:  # (a mapping of groups or variables, not of fits)
        raise InvalidTypeError(f"fits must be a mapping {{name: fit}} of the fits to compare, e.g. {{'NUTS': idata, "
                               f"'ADVI': approx}}; got one {kind}: pass {{'NUTS': <it>}} (one fit, to read its own "
                               "masses) or add the fits to compare with it")
    if not isinstance(fits, Mapping) or not fits:
        raise InvalidTypeError("fits must be a non-empty mapping {name: fit}")
    if norm not in ("euclidean", "max"):
        raise InvalidInputError(
            f"compare() evaluates the same absolute balls in every fit; norm={norm!r} would measure each "
            "fit's ball in its own posterior sd. Use norm='euclidean' with radii in the variables' units"
        )
    ci = check_ci_prob(ci_prob)
    objs = named_fits(fits)
    fit_names = list(objs)
    from .reference_free import REFERENCE_NAME, ModelReference, is_reference_free

    model_ref = is_reference_free(objs, reference, model)
    if model_ref:
        # no reference fit: the model's posterior, estimated from the approximations (importance sampling)
        if model is None:
            raise InvalidInputError("reference='model' needs model=<pymc.Model>")
        reference = REFERENCE_NAME
    elif reference is None:
        reference = next((k for k in fit_names if convert(objs[k]).kind != "approximation"), fit_names[0])
    if reference not in objs and not model_ref:
        raise UnknownNameError(f"reference {reference!r} is not one of the fits {fit_names}")
    order = [reference] + [k for k in fit_names if k != reference]
    F = {k: _Fit(k, objs[k], group=group, model=model) for k in order if not (model_ref and k == reference)}
    if model_ref:
        F[reference] = ModelReference(objs, model, group=group, seed=seed)
        F = {k: F[k] for k in order}
    ref = F[reference]
    if not model_ref:
        _drop_stale_deterministics(F, ref)
    return ci, fit_names, objs, model_ref, reference, order, F, ref


def _drop_stale_deterministics(F, ref):
    """Leave out an approximation's Deterministics computed with data that changed since the reference ran.

    An approximation's Deterministics are computed through the model's graph with the
    model's *current* ``pm.Data``; after ``pm.set_data`` (new data for predictions) they
    are no longer the quantities the reference's draws hold. Where the reference keeps
    the data it was fitted with (an InferenceData's ``constant_data``), a Deterministic
    whose data differ in shape or value is left out of that fit, with the reason
    (``shared_variables`` then leaves it out of the comparison, or names it in the
    error when the user asked for it). The approximation object is ours (read from the
    user's fit), not the user's.
    """
    from .adapters.pymc import changed_data, fitting_data

    then = fitting_data(ref.obj)
    if not then:
        return
    for f in F.values():
        if f is ref or f.approx is None or getattr(f.approx, "model", None) is None:
            continue
        changed = changed_data(f.approx.model, then)
        for name, var in list(f.approx.variables.items()):
            hit = [d for d in var.data if d in changed]
            if var.deterministic and hit:
                del f.approx.variables[name]
                f.approx.omitted[name] = (
                    f"a Deterministic computed through the model with its current data, and the data "
                    f"{hit} differ from those {ref.name!r} was fitted with (pm.set_data since?); compare "
                    "with the fitting data in the model")


def _select_variables(F, order, ref, model_ref, *, var_names, filter_vars, centers, radii):
    """The variables every fit can give, checked to agree across fits (:func:`compare`, its second step).

    Returns ``names, left_out, centers, radii, fl``: the variables kept, those left out
    (name -> reason), ``centers`` and ``radii`` without the left-out ones, and the fits
    in order (reference first).
    """
    # variable selection on the reference, applied to all
    if ref.draws is not None:
        names = select_vars(ref.draws, var_names, filter_vars)
    else:
        from .tiers.analytic import _template

        names = select_vars(_template(ref.approx), var_names, filter_vars)
    if not names:
        raise InvalidInputError("no variables selected")
    fl = [F[k] for k in order]
    # by default the variables every fit gives (Deterministics included); a named one a fit lacks: error
    names, left_out = shared_variables(fl, names, strict=_names_given(var_names))
    if model_ref:  # without a reference fit, the free variables' masses only (no Deterministics)
        free = set(ref.variables())
        extra = [n for n in names if n not in free]
        if extra and _names_given(var_names):
            raise InvalidInputError(f"without a reference fit only the model's free variables are compared; {extra} "
                             "are not (Deterministics): leave them out of var_names")
        left_out.update({n: "'model': not a free variable (the model's posterior is estimated for free "
                            "variables only)" for n in extra})
        names = [n for n in names if n in free]
    if not _names_given(var_names):  # by default, variables that never vary are left out too
        for f in fl:
            if f.draws is not None:
                const = constant_variables(f.draws, names)
                names = [n for n in names if n not in const]
                left_out.update({n: f"{f.name!r}: {why}" for n, why in const.items()})
    if not names:
        raise InvalidInputError("the fits share no variable: " + "; ".join(f"{n}: {w}" for n, w in left_out.items()))
    if left_out:
        if isinstance(centers, Mapping):
            centers = {k: v for k, v in centers.items() if k not in left_out}
        if isinstance(radii, Mapping):
            radii = {k: v for k, v in radii.items() if k not in left_out}
    _check_same_variables(fl, names)
    _check_supports(fl, names)
    return names, left_out, centers, radii, fl


@contextlib.contextmanager
def _naming_the_fit(name):
    """Non-finite draws in one fit: the error names the fit, and what to do here.

    The estimators' advice, ``nan_policy='omit'``, is an option of ``local_mass`` that a
    comparison does not take: every fit is compared on all its draws. (An approximation's
    overflowing transform, :class:`_UnmeasurableError`, is another error: compare leaves it out.)
    """
    try:
        yield
    except _NonFiniteDraws as err:
        raise InvalidInputError(f"fit {name!r}: {err.finding}; a comparison or check reads every draw: select the "
                                "finite draws first (e.g. idata.sel(chain=...) or .sel(draw=...)), or analyse that "
                                "fit alone with local_mass(..., nan_policy='omit')") from None


def _evaluate_fits(F, order, ref, fl, names, *, fit_names, centers, radii, coords, norm, n_radii, ci, n_draws,
                   seed, model):
    """Every fit on the same regions: centres (and default radii) fixed on the reference (:func:`compare`).

    Returns ``per_fit`` (name -> curves, index, curves at the Bonferroni level, tier),
    the centres by variable and the rule of the radii.
    """
    shared = _shared_radii(radii, names, fit_names)
    common = dict(var_names=names, coords=coords, norm=norm, n_radii=int(n_radii))
    # 1. the reference fixes centres (and, by default, radii)
    # (the model's posterior without a reference: its regions only, when it is computed again on
    # the shared grid below; its estimates are the slow part of such a comparison)
    first = {"grid_only": True} if shared is None and getattr(ref, "kind", None) == "model" else {}
    with _naming_the_fit(ref.name):
        ref_c0, ref_i0 = ref.compute(centers=centers, radii=shared, ci_prob=ci, **common, **first)
    center_map = stored_centers(ref_i0, names)
    if shared is None:
        from .estimators import spanning_grids

        shared = spanning_grids(ref_c0, names, int(n_radii))
    radii_rule = "explicit" if radii is not None else "reference's automatic grid, one log-spaced grid per variable"
    # 2. region outside every fit's support?
    _check_regions(fl, names, center_map, shared, coords)
    # 3. every fit on the same regions
    ci2 = 1.0 - (1.0 - ci) / 2.0
    per_fit = {}
    for k in order:
        f = F[k]
        kw = dict(common, centers=center_map, radii=shared)
        if f.approx is not None:
            kw.update(n_draws=n_draws, seed=seed, model=model)
        try:
            with _naming_the_fit(k):
                c, i = f.compute(ci_prob=ci, **kw)
        except _UnmeasurableError as err:
            err.fit = k
            raise
        tier = c.attrs.get("tier", "samples")
        c2 = c if tier in EXACT_TIERS else f.compute(ci_prob=ci2, **kw)[0]
        per_fit[k] = (c, i, c2, tier)
    return per_fit, center_map, radii_rule


def _reference_rows(per_fit, reference, names, center_map):
    """The reference's masses per region: labels, metadata, rows and the mass intervals (:func:`compare`)."""
    from .core.curves import CURVE_STATS

    labels, meta, ref_rows, _ = _flatten(per_fit[reference][0], per_fit[reference][1], names, center_map)
    _, _, ref_rows2, _ = _flatten(per_fit[reference][2], per_fit[reference][1], names, center_map)
    p = _stat(ref_rows, "mass", CURVE_STATS)
    pl, pu = _stat(ref_rows, "mass_lower", CURVE_STATS), _stat(ref_rows, "mass_upper", CURVE_STATS)
    pl2, pu2 = _stat(ref_rows2, "mass_lower", CURVE_STATS), _stat(ref_rows2, "mass_upper", CURVE_STATS)
    ref_exact = per_fit[reference][3] in EXACT_TIERS
    return {"labels": labels, "meta": meta, "rows": ref_rows, "p": p, "pl": pl, "pu": pu, "pl2": pl2, "pu2": pu2,
            "exact": ref_exact}


def _kl_bounds(F, order, objs, fit_names, ref, reference, *, kl_bound, log_evidence, elbo_draws, seed, ci):
    """The global bound ``K >= KL(q || p)`` of each fit, given or ``log Z - ELBO``, and its source (:func:`compare`).

    Returns ``K, K_src, logz, logz_se`` (the log evidence and its error, None when unknown).
    """
    logz_se = _log_evidence_arg(log_evidence) if log_evidence is not None else _log_evidence_of(ref)
    logz, logz_se = (None, None) if logz_se is None else logz_se
    K = np.full(len(order), np.nan)
    K_src = [""] * len(order)
    for m, k in enumerate(order):
        given = kl_bound.get(k) if isinstance(kl_bound, Mapping) else kl_bound
        if isinstance(kl_bound, Mapping):
            unknown = [x for x in kl_bound if x not in objs]
            if unknown:
                raise UnknownNameError(f"kl_bound given for unknown fit(s) {unknown}; fits: {fit_names}")
        if given is not None:
            if not float(given) >= 0:
                raise InvalidInputError(f"kl_bound for {k!r} must be >= 0, got {given}")
            K[m], K_src[m] = float(given), "given"
        elif k != reference and logz is not None and F[k].approx is not None:
            elbo, se = F[k].approx.elbo(n=elbo_draws, seed=seed)
            if elbo is not None:
                from scipy import stats

                z = stats.norm.ppf(0.5 + 0.5 * ci)
                # an upper bound on KL(q || p) = log Z - ELBO, with both estimates' errors
                K[m] = max(float(logz) - elbo + z * math.hypot(se or 0.0, logz_se), 0.0)
                K_src[m] = "log_evidence - ELBO"
    return K, K_src, logz, logz_se


def _compare_arrays(per_fit, order, reference, names, center_map, rr, K):
    """Masses, ratios, mass terms and compatible reference masses of every fit (:func:`compare`).

    ``rr`` is the reference's :func:`_reference_rows`. Returns the
    :data:`COMPARE_VARS` arrays (model, region, radius), ``a`` with its
    interval (model, region, 3) and the fits' tiers.
    """
    from .core.curves import CURVE_STATS, INDEX_STATS

    M, (G, R) = len(order), rr["p"].shape
    out = {v: np.full((M, G, R), np.nan) for v in COMPARE_VARS}
    a_arr = np.full((M, G, 3), np.nan)
    tiers = []
    for m, k in enumerate(order):
        c, i, c2, tier = per_fit[k]
        tiers.append(tier)
        _, _, rows, irows = _flatten(c, i, names, center_map)
        _, _, rows2, _ = _flatten(c2, i, names, center_map)
        q = _stat(rows, "mass", CURVE_STATS)
        ql, qu = _stat(rows, "mass_lower", CURVE_STATS), _stat(rows, "mass_upper", CURVE_STATS)
        ql2, qu2 = _stat(rows2, "mass_lower", CURVE_STATS), _stat(rows2, "mass_upper", CURVE_STATS)
        exact = tier in EXACT_TIERS
        if exact:
            ql = qu = ql2 = qu2 = q
        out["mass"][m], out["mass_lower"][m], out["mass_upper"][m] = q, ql, qu
        a_arr[m] = np.stack([irows[:, INDEX_STATS.index(s)] for s in ("a", "a_lower", "a_upper")], axis=-1)
        if k == reference:
            out["ratio"][m] = out["ratio_lower"][m] = out["ratio_upper"][m] = np.where(rr["p"] > 0, 1.0, np.nan)
            for v in ("phi_forward", "phi_forward_lower", "phi_forward_upper", "phi_reverse",
                      "phi_reverse_lower", "phi_reverse_upper"):
                out[v][m] = np.where(np.isnan(rr["p"]), np.nan, 0.0)  # (no mass where no radius is defined)
        else:
            _ratio_and_phi(out, m, rr, q=q, ql=ql, qu=qu, ql2=ql2, qu2=qu2, exact=exact)
        if np.isfinite(K[m]):
            lo, _ = phi_interval_y(np.clip(ql, 0, None), K[m])
            _, hi = phi_interval_y(np.clip(qu, 0, None), K[m])
            # a reference mass is a probability: the set phi <= K is cut at 1
            hi = np.minimum(hi, 1.0)
            out["ref_compatible_lower"][m], out["ref_compatible_upper"][m] = np.minimum(lo, 1.0), hi
            out["ref_compatible"][m] = ((rr["pl"] <= hi) & (rr["pu"] >= lo)).astype(float)
    return out, a_arr, tiers


def _ratio_and_phi(out, m, rr, *, q, ql, qu, ql2, qu2, exact):
    """Fill row ``m`` of ``out`` (:func:`_compare_arrays`): ``q(A)/p(A)`` and the mass terms, with intervals.

    Intervals at ``ci_prob`` when one side is exact, Bonferroni (each side
    at ``1 - (1 - ci_prob)/2``) when both are estimated.
    """
    p, pl, pu, pl2, pu2 = rr["p"], rr["pl"], rr["pu"], rr["pl2"], rr["pu2"]
    # intervals at ci when one side is exact, Bonferroni (ci2 each) when both are estimated
    if rr["exact"]:
        xl, xu, yl, yu = ql, qu, p, p
    elif exact:
        xl, xu, yl, yu = q, q, pl, pu
    else:
        xl, xu, yl, yu = ql2, qu2, pl2, pu2
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"][m] = q / p
        out["ratio_lower"][m] = xl / yu
        out["ratio_upper"][m] = np.where(np.isnan(yl) | np.isnan(xu), np.nan,
                                         np.where(yl > 0, xu / np.where(yl > 0, yl, 1.0), np.inf))
    out["phi_forward"][m] = phi(p, q)
    out["phi_forward_lower"][m], out["phi_forward_upper"][m] = _phi_box(yl, yu, xl, xu)
    out["phi_reverse"][m] = phi(q, p)
    out["phi_reverse_lower"][m], out["phi_reverse_upper"][m] = _phi_box(xl, xu, yl, yu)


def _compare_dataset(rr, out, a_arr, tiers, K, K_src, *, order, ref, reference, model_ref, ci, norm, radii_rule,
                     logz, logz_se, left_out):
    """The comparison as an :class:`xarray.Dataset` (:func:`compare`, its last step)."""
    from .core.curves import CURVE_STATS

    labels, meta, ref_rows = rr["labels"], rr["meta"], rr["rows"]
    R = ref_rows.shape[1]
    coords_ = {
        "model": order, "region": labels, "radius": np.arange(R),
        "tier": ("model", tiers), "kl_bound_source": ("model", K_src),
        "variable": ("region", [x[0] for x in meta]), "element": ("region", [x[1] for x in meta]),
        "center": ("region", [x[2] for x in meta]), "center_value": ("region", [x[3] for x in meta]),
    }
    data = {
        "radius_value": (("region", "radius"), _stat(ref_rows, "radius", CURVE_STATS)),
        "resolved": (("region", "radius"), _stat(ref_rows, "resolved", CURVE_STATS)),
        "ref_mass": (("region", "radius"), rr["p"]),
        "ref_mass_lower": (("region", "radius"), rr["pl"]),
        "ref_mass_upper": (("region", "radius"), rr["pu"]),
        "kl_bound": (("model",), K),
        "a": (("model", "region"), a_arr[..., 0]),
        "a_lower": (("model", "region"), a_arr[..., 1]),
        "a_upper": (("model", "region"), a_arr[..., 2]),
    }
    for v in COMPARE_VARS:
        data[v] = (("model", "region", "radius"), out[v])
    if model_ref:
        from .reference_free import diagnostics_arrays

        for k, arr in diagnostics_arrays(ref, labels, ci, R).items():
            data[k] = (("region", "radius"), arr)
    ds = xr.Dataset(data, coords=coords_)
    ds.attrs = {
        "reference": reference, "ci_prob": ci, "norm": norm, "radii_rule": radii_rule,
        "interval_rule": "ratio and phi: Bonferroni (each estimated mass at 1-(1-ci_prob)/2), exact masses as points",
        "log_evidence": float(logz) if logz is not None else np.nan,
        "log_evidence_se": float(logz_se) if logz_se is not None else np.nan,
        "pymc_localmass_version": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        # variables of the reference left out because a fit cannot give them ("" when none)
        "left_out": "\n".join(f"{n}: {why}" for n, why in left_out.items()),
    }
    if model_ref:
        ds.attrs.update(reference_kind="the model (importance sampling)",
                        proposals=",".join(p.name for p in ref.proposals))
    return ds



@public(positional=("reference",))
def compare(fits: Mapping[str, Any], *, reference: str | None = None, var_names: VarNames = None,
            filter_vars: FilterVars = None, coords: Coords = None, group: str = "posterior",
            centers: CentersLike = "mean", radii: RadiiLike = None, n_radii: int = 25,
            norm: Literal["euclidean", "max"] = "euclidean", kl_bound: float | Mapping[str, float] | None = None,
            log_evidence: float | tuple[float, float] | None = None, model: Any = None, n_draws: int = 1000,
            elbo_draws: int = 1000, seed: int = 0, ci_prob: float | None = None) -> xr.Dataset:
    """Compare fits region by region against a reference.

    Parameters
    ----------
    fits : mapping of str to fit
        Each fit: a DataTree / InferenceData / Dataset / dict of posterior
        draws, a PyMC approximation (``pm.fit``), or a pymc-extras Laplace
        or Pathfinder fit.
    reference : str, optional
        Key of the reference fit ``p`` (default: the first fit given as draws,
        else the first fit). ``"model"`` (the default when every fit is an
        approximation and ``model`` is given): no reference fit; the model's
        posterior mass of each region is estimated from the approximations by
        importance sampling (:mod:`pymc_localmass.reference_free`), with the
        per region and radius reliability figures ``ref_route``,
        ``ref_khat_is``, ``ref_n_inside``, ``ref_ess_is``,
        ``ref_khat_conditional``, ``ref_ess_conditional`` and
        ``ref_unreliable_estimate`` (region, radius) added to the result;
        an unreliable mass is NaN with the interval [0, 1] and ``resolved`` 0.
    var_names, filter_vars, coords
        Variable and coordinate selection (ArviZ conventions), applied to
        every fit. By default (and with only ``~`` exclusions) the variables
        every fit can give, Deterministics included (an approximation
        computes them through the model's graph); the others are left out
        and listed, one ``"name: reason"`` line each, in ``attrs["left_out"]``, so that two
        parameterisations of one model compare on their shared names
        (``tau``, ``mu``, ``theta``). A variable named here that a fit
        cannot give is an error.
    centers : str, number, array, list or mapping, default "mean"
        As in :func:`pymc_localmass.local_mass`. Keywords (``"mean"``,
        ``"boundary"`` ...) are resolved once, on the reference, so every fit
        is evaluated on the same regions.
    radii : array_like or mapping of variable to array_like, optional
        Absolute radii shared by all fits (1-D per variable). Default: a
        log-spaced grid per variable spanning the reference's automatic
        grids, with ``n_radii`` points over the narrowest region's span (at
        most four times ``n_radii`` in all).
    n_radii : int, default 25
        Points of the automatic grids (see ``radii``).
    norm : {"euclidean", "max"}
        Elementwise balls are intervals either way; the scaled norms are
        refused (they would measure each fit's ball in its own sd).
    kl_bound : float or mapping of fit name to float, optional
        A global bound ``K >= KL(q || p)`` (nats) per fit. Missing entries
        are derived as ``log Z - ELBO`` (plus the ELBO's Monte Carlo error
        at ``ci_prob``) when the fit reports or allows an ELBO (PyMC ADVI,
        Pathfinder) and the reference a log evidence (``log_evidence``, an
        SMC ``log_marginal_likelihood``, or a ``log_evidence`` attribute).
    log_evidence : float or (float, float), optional
        Log evidence of the model, ``log p(data)``, for deriving ``K``; a
        pair gives its standard error too (carried into ``K``).
    ci_prob : float, optional
        Interval probability; default ArviZ's ``rcParams["stats.ci_prob"]``.
    model : pymc.Model, optional
        For pymc-extras fits read without their model; with approximations
        only, the model whose posterior is the reference (``reference="model"``).
    group : str
        Group holding the draws of draws-based fits.
    n_draws : int
        Draws per chain (4 chains) when an approximation must fall back to draws.
    elbo_draws : int
        Monte Carlo draws for an ELBO estimate.
    seed : int

    Returns
    -------
    xarray.Dataset
        Dims ``model``, ``region`` (variable element x centre) and ``radius``
        (grid position). Coordinates: ``model`` with ``tier`` and
        ``kl_bound_source``; ``region`` with ``variable``, ``element``,
        ``center``, ``center_value``; ``region_tier`` (model, region): the tier
        of each fit's masses there (``tier`` is the fit's least exact). Data: ``radius_value``, ``resolved``
        and ``ref_mass``/``_lower``/``_upper`` (region, radius); the
        :data:`COMPARE_VARS` (model, region, radius); ``a``, ``a_lower``,
        ``a_upper`` (model, region); ``kl_bound`` (model). ``to_dataframe()``
        gives one row per model, region and radius;
        :func:`compare_summary` one row per model and region.

    Raises
    ------
    ValueError
        Fits with different variables, dims, coordinates or supports
        (transforms); mismatched radii; a region outside the support of every
        fit; an unknown reference.

    See Also
    --------
    compare_summary : One row per fit and region at one radius.
    local_kl : The local KL of two distributions on a region.
    pymc_localmass.check : Findings from a comparison, with what to do.
    pymc_localmass.report : The comparison as an HTML page.

    Examples
    --------
    >>> import numpy as np
    >>> import pymc_localmass as plm
    >>> rng = np.random.default_rng(0)
    >>> p = {"x": rng.normal(size=(4, 1000))}
    >>> q = {"x": rng.normal(0.0, 2.0, size=(4, 1000))}
    >>> cmp = plm.compare({"p": p, "q": q}, reference="p", centers=0.0, radii=[0.5])
    >>> float(cmp["ratio"].sel(model="q").squeeze()) < 0.7       # q is more spread: less mass near 0
    True

    Without a reference fit: an approximation and its model (posterior N(2/3, 1/3) here):

    >>> import pymc as pm
    >>> with pm.Model() as m:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     y = pm.Normal("y", mu, 1.0, observed=[0.5, 1.5])
    ...     approx = pm.fit(3000, progressbar=False, random_seed=1)
    >>> cmp = plm.compare({"ADVI": approx}, model=m, centers={"mu": 0.0}, radii=[0.5])
    >>> cmp.attrs["reference"], abs(float(cmp["ref_mass"].squeeze()) - 0.3648) < 0.02   # exact: 0.3648
    ('model', True)
    """
    ci, fit_names, objs, model_ref, reference, order, F, ref = _open_fits(
        fits, reference=reference, norm=norm, ci_prob=ci_prob, group=group, model=model, seed=seed)
    names, left_out, centers, radii, fl = _select_variables(F, order, ref, model_ref, var_names=var_names,
                                                            filter_vars=filter_vars, centers=centers, radii=radii)
    while True:
        try:
            per_fit, center_map, radii_rule = _evaluate_fits(
                F, order, ref, fl, names, fit_names=fit_names, centers=centers, radii=radii, coords=coords,
                norm=norm, n_radii=n_radii, ci=ci, n_draws=n_draws, seed=seed, model=model)
            break
        except _UnmeasurableError as err:
            # an approximation that cannot give a variable (non-finite through its transform and
            # in its draws, e.g. a collapsed Laplace fit): the variable is left out, saying why
            drop = [n for n in err.variables if n in names]
            if not drop or len(drop) == len(names) or _names_given(var_names):
                raise
            for n in drop:
                left_out[n] = f"{err.fit!r}: non-finite values in its transform and its draws (overflow)"
            names = [n for n in names if n not in drop]
            centers = {k_: v for k_, v in centers.items() if k_ not in drop} if isinstance(centers, Mapping) \
                else centers
            radii = {k_: v for k_, v in radii.items() if k_ not in drop} if isinstance(radii, Mapping) else radii
    rr = _reference_rows(per_fit, reference, names, center_map)
    K, K_src, logz, logz_se = _kl_bounds(F, order, objs, fit_names, ref, reference, kl_bound=kl_bound,
                                         log_evidence=log_evidence, elbo_draws=elbo_draws, seed=seed, ci=ci)
    if model_ref:
        # the model's posterior is estimated, never exact: intervals as for a reference of draws
        rr["exact"] = False
    out, a_arr, tiers = _compare_arrays(per_fit, order, reference, names, center_map, rr, K)
    ds = _compare_dataset(rr, out, a_arr, tiers, K, K_src, order=order, ref=ref, reference=reference,
                          model_ref=model_ref, ci=ci, norm=norm, radii_rule=radii_rule, logz=logz,
                          logz_se=logz_se, left_out=left_out)
    # each region's own tier (an ADVI fit is "qmc" overall when one variable needs QMC, while its
    # scalar variables' masses are exact: the report printed "qmc" beside "(exact)")
    region_tier = [[_tier_of(per_fit[k], str(v)) for v in ds["variable"].values] for k in order]
    if model_ref:  # the model's row is importance-sampled from the approximation, never its exact masses
        tier_of_model = dict(zip(ds["model"].values.tolist(), ds["tier"].values.tolist()))
        region_tier = [[str(tier_of_model[k])] * len(row) if k == reference else row
                       for k, row in zip(order, region_tier)]
    return ds.assign_coords(region_tier=(("model", "region"), np.asarray(region_tier, dtype=str)))


def _tier_of(fit_result, name):
    """The tier that computed variable ``name`` of one fit's curves (its ``variable_tiers``, else its tier)."""
    from .estimators import _variable_tier

    return _variable_tier(fit_result[0].attrs, name)


def _check_regions(fits, names, center_map, shared, coords):
    """Raise when a region (ball at its largest radius) misses the support of every fit."""
    for n in names:
        rmax = float(np.max(shared[n]))
        for label, cv in center_map[n].items():
            c = np.asarray(cv.values, dtype=float)
            reach = np.zeros(c.shape, dtype=bool)
            for f in fits:
                sup = f.support(n)
                if sup is not None:
                    lo, hi = sup
                    da_lo = _sel_like(f, n, lo, coords)
                    da_hi = _sel_like(f, n, hi, coords)
                    reach |= (c + rmax > da_lo) & (c - rmax < da_hi)
                    continue
                rng_ = f.draw_range(n) if f.draws is not None else None
                if rng_ is None:
                    reach |= True
                    continue
                mn, mx = (_sel_like(f, n, x, coords) for x in rng_)
                reach |= (c + rmax >= mn) & (c - rmax <= mx)
            if not np.any(reach):
                raise InvalidInputError(
                    f"region {n} @ {label} (centre {np.asarray(c)[~reach].ravel()[:3].tolist()}, radius up to "
                    f"{rmax:.4g}) reaches neither a fit's known support nor any fit's draws: no fit puts "
                    "(visible) mass there; use larger radii, or an approximation or model whose support is known")


def _sel_like(f, n, arr, coords):
    """Apply ``coords`` selection to an array over the variable's dims."""
    dims = f.dims(n)
    da = xr.DataArray(np.asarray(arr, float), dims=dims, coords=f.coords(n))
    if coords:
        da = da.sel({k: v for k, v in coords.items() if k in dims})
    return da.values


# ----------------------------------------------------------------------------- summary
@public(renamed={"ds": "data", "models": "fits"}, positional=("radius",))
def compare_summary(data: xr.Dataset, *, fits: str | Sequence[str] | None = None,
                    radius: Literal["smallest_resolved", "largest"] | int | float = "smallest_resolved"
                    ) -> pd.DataFrame:
    """One row per fit and region at one radius: the comparison table.

    Parameters
    ----------
    data : xarray.Dataset
        Output of :func:`compare` (formerly ``ds=``, still accepted with a
        ``FutureWarning``).
    fits : str or list of str, optional
        Restrict to these fits (default all, the reference first); formerly
        ``models=`` (still accepted with a ``FutureWarning``).
    radius : "smallest_resolved", "largest", int or float
        Which radius per region: the smallest the reference resolves (the
        default; the largest radius when none is resolved), the largest, a
        grid position (int) or the grid radius nearest to a value (float).

    Returns
    -------
    pandas.DataFrame
        Index ``(model, region)``; columns ``tier``, ``radius``,
        ``ref_mass`` (with ``_lower``/``_upper``), ``mass``, ``mass_lower``,
        ``mass_upper``, ``ratio`` (with interval), ``phi_reverse`` (the
        ELBO-blindness bound, with interval), ``phi_forward``, ``kl_bound``,
        ``ref_compatible_lower``/``_upper`` and ``resolved``.

    See Also
    --------
    compare : The comparison this table reads.
    pymc_localmass.summary : The Mass Index table of one fit.

    Examples
    --------
    >>> import numpy as np
    >>> import pymc_localmass as plm
    >>> rng = np.random.default_rng(0)
    >>> cmp = plm.compare({"p": {"x": rng.normal(size=(4, 500))}, "q": {"x": rng.normal(size=(4, 500))}},
    ...                   centers=0.0, radii=[0.5, 1.0])
    >>> plm.compare_summary(cmp).index.names
    FrozenList(['model', 'region'])
    """
    ds, models = data, fits
    if not isinstance(ds, xr.Dataset) or "region" not in ds.dims or "model" not in ds.dims:
        raise InvalidTypeError("compare_summary needs the Dataset returned by compare()")
    res = ds["resolved"].values > 0.5
    pos = _summary_positions(ds, res, radius)
    fits = [str(m) for m in ds["model"].values]
    models = fits if models is None else ([models] if isinstance(models, str) else list(models))
    unknown = [m for m in models if m not in fits]
    if unknown:
        raise UnknownNameError(f"models {unknown} not in the comparison; its fits are {fits}")
    rows, keys = _summary_rows(ds, models, pos, res)
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(keys, names=["model", "region"]))


def _summary_positions(ds, res, radius):
    """The grid position of the radius :func:`compare_summary` reads, per region (``res``: resolved flags)."""
    R = ds.sizes["radius"]
    pos = np.empty(ds.sizes["region"], dtype=int)
    for g in range(ds.sizes["region"]):
        if radius == "smallest_resolved":
            pos[g] = int(np.argmax(res[g])) if res[g].any() else R - 1
        elif radius == "largest":
            pos[g] = R - 1
        elif isinstance(radius, (bool, np.bool_)):
            raise InvalidInputError(f"radius must be 'smallest_resolved', 'largest', a grid position (int) or a "
                                    f"radius (float), got {radius!r}")
        elif isinstance(radius, (int, np.integer)):
            if not -R <= int(radius) < R:
                raise InvalidInputError(f"radius position {radius} outside the grid of {R} radii (0 to {R - 1}, "
                                        "or a float: the grid radius nearest it)")
            pos[g] = int(radius) % R
        elif isinstance(radius, (float, np.floating)):
            radius = float(radius)  # (float32 too)
            if g == 0:
                # (regions have their own grids, and a radius read for all of them is the nearest grid
                # radius of each: report() reads every region at one finding's radius; a radius beyond
                # every grid, or not positive, is a mistake)
                rv_all = ds["radius_value"].values
                lo_r, hi_r = np.nanmin(rv_all), np.nanmax(rv_all)
                if not (radius > 0 and lo_r / 1.5 <= radius <= hi_r * 1.5):
                    raise InvalidInputError(
                        f"radius {radius:g} is outside every region's grid (together {lo_r:.3g} to {hi_r:.3g}); "
                        "give a radius within them (each region reads its grid radius nearest it), or "
                        "compare(..., radii=...) with the radii you want")
            pos[g] = int(np.argmin(np.abs(np.log(ds["radius_value"].values[g]) - math.log(radius))))
        else:
            raise InvalidInputError(f"radius must be 'smallest_resolved', 'largest', an int or a float, got {radius!r}")
    return pos


#: the values of each row of :func:`compare_summary`
_SUMMARY_VALUES = ("ref_mass", "ref_mass_lower", "ref_mass_upper", "mass", "mass_lower", "mass_upper", "ratio",
                   "ratio_lower", "ratio_upper", "phi_reverse", "phi_reverse_lower", "phi_reverse_upper",
                   "phi_forward", "kl_bound", "ref_compatible_lower", "ref_compatible_upper")


def _summary_rows(ds, models, pos, res):
    """The rows of :func:`compare_summary` (one per fit and region, at ``pos``) and their keys."""
    # (each variable read once as an array, (model, region, radius) as it has them: a label
    # selection per value cost half a millisecond, 0.6 s for a model's 39 regions and two fits)
    order = ("model", "region", "radius")
    arrays = {}
    for v in _SUMMARY_VALUES:
        da = ds[v]
        arrays[v] = (np.asarray(da.transpose(*[d for d in order if d in da.dims]).values, float),
                     [d for d in order if d in da.dims])
    model_pos = {str(m): i for i, m in enumerate(ds["model"].values)}
    rows, keys = [], []
    for mname in models:
        mi = model_pos[str(mname)]
        dm = ds.sel(model=mname) if "region_tier" in ds.coords else None
        for g, region in enumerate(ds["region"].values):
            j = pos[g]
            at = {"model": mi, "region": g, "radius": j}
            if dm is not None:
                tier = str(dm["region_tier"].values[g])
            else:
                tier = str(ds["tier"].values[mi] if "model" in ds["tier"].dims else ds["tier"].values)
            row = {"tier": tier, "radius": float(ds["radius_value"].values[g, j])}
            for v in _SUMMARY_VALUES:
                arr, dims = arrays[v]
                row[v] = float(arr[tuple(at[d] for d in dims)])
            row["resolved"] = bool(res[g, j])
            rows.append(row)
            keys.append((str(mname), str(region)))
    return rows, keys


# ----------------------------------------------------------------------------- local KL
class _Operand:
    """One side of local_kl: a log density and/or draws (rows = points)."""

    def __init__(self, logpdf=None, draws=None, sampler=None, atoms=None, label=""):
        self.logpdf, self.draws, self.sampler, self.atoms, self.label = logpdf, draws, sampler, atoms, label

    def get_draws(self, n, seed):
        if self.draws is not None:
            return self.draws
        if self.sampler is None:
            raise InvalidInputError(
                f"{self.label}: neither draws nor a way to draw; give draws or a density for both sides")
        return np.asarray(self.sampler(n, seed), dtype=float).reshape(n, -1)


def _transformed_logpdf(fit, var_name, coords):
    """Exact log density (constrained space) of selected elements of an approximation."""
    from scipy import stats

    from .tiers.analytic import _template
    from .core.gaussian import _canonical_transform, _inverse_transform

    v = fit.variable(var_name)
    if not fit.gaussian or not v.supported:
        return None, None
    t = select_coords(_template(fit)[[var_name]], coords)[var_name]
    idx = np.asarray(t.values[0, 0], dtype=int).reshape(-1)
    mean, cov, transforms, lower, upper = fit.block([var_name], {var_name: idx})
    specs = [_canonical_transform(tr, None if np.isnan(lo) else lo, None if np.isnan(hi) else hi)
             for tr, lo, hi in zip(transforms, lower, upper)]
    mvn = stats.multivariate_normal(mean, cov)

    def logpdf(x):
        x = np.asarray(x, dtype=float).reshape(-1, len(specs))
        y = np.empty_like(x)
        lj = np.zeros(x.shape[0])
        for j, s in enumerate(specs):
            y[:, j], l_j = _inverse_transform(s[0], x[:, j], s[1], s[2])
            lj = lj + l_j
        bad = ~np.all(np.isfinite(y), axis=1) | ~np.isfinite(lj)
        y = np.where(bad[:, None], mean, y)
        out = np.atleast_1d(mvn.logpdf(y)) + lj
        return np.where(bad, -np.inf, out)

    def sampler(n, seed):
        ds = fit.sample(n_draws=int(math.ceil(n / 2)), n_chains=2, seed=seed)
        return _draws_matrix(ds, var_name, coords)[:n]

    return logpdf, sampler


def _draws_matrix(ds, var_name, coords):
    """The draws of ``var_name`` (elements ``coords``) in ``ds``, one row per draw."""
    if var_name not in ds.data_vars:
        raise UnknownNameError(f"variable {var_name!r} not found; available: {list(ds.data_vars)}")
    da = select_coords(ds[[var_name]], coords)[var_name]
    el = [d for d in da.dims if d not in SAMPLE_DIMS]
    flat = da.stack(__s__=SAMPLE_DIMS).transpose("__s__", *el).values
    return np.asarray(flat, dtype=float).reshape(flat.shape[0], -1)


def _operand(obj, label, *, var_name, coords, group, log_density, atoms, model):
    if isinstance(obj, _Operand):
        return obj
    if hasattr(obj, "logpdf") and hasattr(obj, "rvs"):  # scipy frozen distribution
        def logpdf(x, obj=obj):
            x = np.asarray(x, dtype=float)
            if getattr(obj, "dim", None) is not None or x.ndim == 2 and x.shape[1] > 1:
                return np.atleast_1d(obj.logpdf(x))
            return np.atleast_1d(obj.logpdf(x.reshape(-1)))

        def sampler(n, seed, obj=obj):
            return obj.rvs(size=n, random_state=np.random.default_rng(seed))

        return _Operand(logpdf, None, sampler, atoms, label)
    src = convert(obj, group=group, model=model)
    if callable(obj) and src.kind != "approximation":
        def logpdf(x, obj=obj):
            x = np.asarray(x, dtype=float)
            vals = np.array([float(obj(xi if xi.size > 1 else float(xi[0]))) for xi in x.reshape(x.shape[0], -1)])
            if log_density:
                return vals
            with np.errstate(divide="ignore"):
                return np.log(vals)

        return _Operand(logpdf, None, None, atoms, label)
    if src.kind == "approximation":
        if var_name is None:
            raise InvalidInputError(
                f"{label} is an approximation: pass var_names= (one variable; coords= for one element)")
        fit = src.approximation
        lp, sampler = _transformed_logpdf(fit, var_name, coords)
        if lp is None:
            ds = fit.sample(n_draws=1000, n_chains=4, seed=0)
            return _Operand(None, _draws_matrix(ds, var_name, coords), None, atoms, label)
        return _Operand(lp, None, sampler, atoms, label)
    if isinstance(obj, np.ndarray) or isinstance(obj, (list, tuple)):
        arr = np.asarray(obj, dtype=float)
        return _Operand(None, arr.reshape(arr.shape[0], -1), None, atoms, label)
    if var_name is None:
        raise InvalidInputError(f"{label}: pass var_names= to take draws of one variable from a container")
    draws = obj if isinstance(obj, xr.Dataset) else src.draws
    return _Operand(None, _draws_matrix(draws, var_name, coords), None, atoms, label)


def _operand_dim(side, seed):
    """Dimension of one side of local_kl (from its draws, or two drawn points), None if unknown."""
    if side.draws is not None:
        return int(side.draws.shape[1])
    if side.sampler is not None:
        try:
            return int(np.asarray(side.sampler(2, seed), dtype=float).reshape(2, -1).shape[1])
        except Exception:  # a sampler that cannot draw two points says nothing here
            return None
    return None


def _bounding_box(region):
    if isinstance(region, Box):
        return region, None
    if isinstance(region, Ball) and not isinstance(region, Tail):
        c, r = region.center, region.radius
        return Box(c - r, c + r), region
    if isinstance(region, tuple) and len(region) == 2:
        return Box(region[0], region[1]), None
    raise InvalidInputError("the exact multivariate local KL needs a finite region: a Box or a Ball "
                     f"(got {type(region).__name__}); use draws (kNN) for tails and boolean regions")


def _dim_of(region):
    if isinstance(region, (Box, Ball)):
        return region.dim
    if isinstance(region, Where):
        return region.dim
    if isinstance(region, tuple) or (isinstance(region, list) and region and isinstance(region[0], tuple)):
        return 1
    raise InvalidTypeError("region must be a Box, Ball, Tail, Where, a (lo, hi) tuple or a list of them")


@public(renamed={"var_name": "var_names"})
def local_kl(p: Any, q: Any, region: Any, *, var_names: str | Sequence[str] | None = None, coords: Coords = None,
             group: str = "posterior", eps: float = 0.0, direction: Literal["both", "forward", "reverse"] = "both",
             log_density: bool = False, p_atoms: Mapping[float, float] | None = None,
             q_atoms: Mapping[float, float] | None = None, breakpoints: Sequence[float] = (), k: int = 5,
             n_batches: int = 10, n_draws: int = 4000, n_points: int = 2**13, model: Any = None, seed: int = 0,
             ci_prob: float | None = None) -> xr.Dataset:
    """Local extended KL of two distributions on a region, split into shape and mass terms.

    ``KL_A(mu || nu) = int_A log(dmu/dnu) dmu - mu(A) + nu(A)
    = mu(A) KL(mu_A || nu_A) + phi(mu(A), nu(A))`` (THEORY.md section 3), in
    the forward direction ``(mu, nu) = (p, q)`` and the reverse ``(q, p)``;
    with ``eps > 0`` the regularised ``KL_A(mu || nu + eps mu)``, finite even
    when ``mu`` has an atom ``nu`` lacks.

    Exact when both densities are known: adaptive quadrature in one
    dimension (``tier="quadrature"``), randomised QMC over a box or ball in
    several (``tier="qmc"``); for a boolean region, or a tail in several
    dimensions, Monte Carlo over draws of each side with both densities
    (``tier="mc"``, needs a sampler for each). Otherwise a k-nearest-neighbour estimator on
    draws of both, restricted to the region, with a batch interval
    (``tier="knn"``; draws are taken from a side that only has a density
    and a sampler).

    Parameters
    ----------
    p, q : distribution, callable, approximation, draws or container
        A scipy.stats frozen distribution; a callable density (log density
        with ``log_density=True``); a PyMC approximation (``var_names``, and
        ``coords`` to pick elements: its exact transformed-Gaussian
        density); an array of draws ``(n,)`` or ``(n, d)``; or a container /
        Dataset / dict of draws (``var_names``, ``coords``, ``group``).
    region : Box, Ball, Tail, Where, (lo, hi) or list of (lo, hi)
        The region ``A`` (see :mod:`pymc_localmass.core.localkl`).
    var_names : str or list of one str, optional
        The variable of an approximation or container (formerly
        ``var_name=``, still accepted with a ``FutureWarning``).
    coords : dict, optional
        Elements of that variable.
    group : str, default "posterior"
        Group of a container's draws.
    eps : float, default 0
        Regularisation (exact tiers only).
    direction : {"both", "forward", "reverse"}
    log_density : bool, default False
        A callable ``p`` or ``q`` returns the log density.
    p_atoms, q_atoms : dict of location to weight, optional
        Point masses (1-D exact tier).
    breakpoints : sequence of float
        Singular points of a density (1-D quadrature splits there); the
        centre of a ``Ball`` and the ends of a ``Box`` are added.
    k, n_batches
        kNN neighbour order and number of batches for its interval.
    n_draws : int
        Draws taken from a side given as a distribution, when kNN is needed.
    n_points : int
        Sobol points per randomisation (multivariate exact tier).
    ci_prob : float, optional
    model : pymc.Model, optional
    seed : int

    Returns
    -------
    xarray.Dataset
        Dim ``direction`` (``"forward"``: KL_A(p||q), ``"reverse"``:
        KL_A(q||p)); data ``kl``, ``kl_lower``, ``kl_upper``, ``shape``,
        ``mass_term``, ``mu_mass`` (mass of the first measure of the
        direction), ``nu_mass`` (of the second, regularised when ``eps > 0``);
        attrs ``tier``, ``eps``, ``region``.

    Raises
    ------
    ValueError
        ``eps > 0`` with draws only; a multivariate exact KL on a region
        without a bounding box; a region where neither side has mass.

    Warns
    -----
    RuntimeWarning
        A direction is infinite (``eps = 0`` and the first measure has mass
        the second lacks, e.g. an atom of ``p`` at a point where ``q`` has
        none, found in the draws or given as ``p_atoms``); the warning
        points to the regularised form, which is finite. The estimate
        always lies inside its interval (from draws, ``kl >= phi(mu(A),
        nu(A))``; infinite with interval ``[phi, inf]``).

    See Also
    --------
    compare : Masses and mass ratios of fits region by region, with the
        ELBO-blindness bound.
    pymc_localmass.core.localkl : The estimators, on arrays and densities.

    Examples
    --------
    >>> from scipy import stats
    >>> import pymc_localmass as plm
    >>> from pymc_localmass.compare import Ball
    >>> res = plm.local_kl(stats.norm(0, 1), stats.norm(0, 2), Ball(0.0, 0.5))
    >>> res.attrs["tier"], bool((res["kl"] >= 0).all())
    ('quadrature', True)
    """
    from ._validate import check_region

    check_region(region)  # ends reversed or NaN: named here, not "outside the support" later
    if direction not in ("both", "forward", "reverse"):
        raise InvalidInputError(f"direction must be 'both', 'forward' or 'reverse', got {direction!r}")
    ci = check_ci_prob(ci_prob)
    eps = float(eps)
    if not eps >= 0:
        raise InvalidInputError(f"eps must be >= 0, got {eps}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidInputError(f"k (neighbours of the kNN estimator) must be an integer >= 1, got {k!r}")
    P, Q, dim = _kl_operands(p, q, region, var_names=var_names, coords=coords, group=group,
                             log_density=log_density, model=model, p_atoms=p_atoms, q_atoms=q_atoms, seed=seed)
    dirs = ["forward", "reverse"] if direction == "both" else [direction]
    results, region = _kl_by_tier(P, Q, region, dim, dirs, eps=eps, ci=ci, breakpoints=breakpoints, k=k,
                                  n_batches=n_batches, n_draws=n_draws, n_points=n_points, seed=seed)
    if all(r.mu_mass == 0 and r.nu_mass == 0 for r in results):
        raise InvalidInputError("the region lies outside the support of both distributions (no mass in it)")
    _warn_infinite(dirs, results, eps)
    fields = ("kl", "kl_lower", "kl_upper", "shape", "mass_term", "mu_mass", "nu_mass")
    data = {f: (("direction",), np.array([float(getattr(r, f)) for r in results])) for f in fields}
    ds = xr.Dataset(data, coords={"direction": dirs})
    ds.attrs = {"tier": results[0].tier, "eps": eps, "region": _region_text(region),
                "forward": "KL_A(p || q)", "reverse": "KL_A(q || p)", "ci_prob": ci}
    return ds


def _kl_operands(p, q, region, *, var_names, coords, group, log_density, model, p_atoms, q_atoms, seed):
    """Both sides of :func:`local_kl` read as operands, and the region's dimension (checked against theirs)."""
    var_name = var_names
    if isinstance(var_names, (list, tuple)):
        if len(var_names) != 1:
            raise InvalidInputError(f"local_kl() takes one variable, got var_names={list(var_names)!r}")
        var_name = var_names[0]
    kw = dict(var_name=var_name, coords=coords, group=group, log_density=log_density, model=model)
    P = _operand(p, "p", atoms=p_atoms, **kw)
    Q = _operand(q, "q", atoms=q_atoms, **kw)
    dim = _dim_of(region)
    for side in (P, Q):  # the region's dimension must be the distributions'
        d_side = _operand_dim(side, seed)
        if d_side is not None and dim is not None and d_side != dim:
            raise InvalidInputError(f"the region is {dim}-dimensional but {side.label} is {d_side}-dimensional "
                             f"(give a region of dimension {d_side}, or select elements with coords=)")
    return P, Q, dim


def _kl_by_tier(P, Q, region, dim, dirs, *, eps, ci, breakpoints, k, n_batches, n_draws, n_points, seed):
    """The local KL in each direction, by the tier the operands and region allow (:func:`local_kl`).

    Monte Carlo with both densities where there is no box to integrate
    over, quadrature in one dimension, randomised QMC in several, kNN on
    draws otherwise. Returns the results and the region (intervals become
    a :class:`Where` for kNN).
    """
    results = []
    exact = P.logpdf is not None and Q.logpdf is not None
    if not exact and (P.atoms or Q.atoms):
        raise InvalidInputError("atoms are only supported when both densities are known (exact tier)")
    if not exact and eps > 0:
        raise InvalidInputError("the regularised local KL (eps > 0) needs both densities (exact tier); "
                         "with draws only, use eps=0")
    no_box = isinstance(region, (Tail, Where)) or (dim not in (None, 1) and not isinstance(region, (Box, Ball)))
    if exact and no_box and (dim not in (None, 1) or isinstance(region, Where)):
        # known densities but no finite box to integrate over: Monte Carlo over draws of each side
        for i, d in enumerate(dirs):
            mu, nu = (P, Q) if d == "forward" else (Q, P)
            results.append(local_kl_mc(mu.logpdf, nu.logpdf, mu.get_draws(n_draws, seed + 2 * i),
                                       nu.get_draws(n_draws, seed + 2 * i + 1), region, eps=eps, ci_prob=ci))
    elif exact and (dim in (None, 1)):
        bps = list(breakpoints)
        if isinstance(region, Ball):
            bps.append(float(region.center[0]))
        for d in dirs:
            mu, nu = (P, Q) if d == "forward" else (Q, P)

            def lf(fn):
                return lambda x, fn=fn: float(fn(np.array([[x]]))[0])

            results.append(local_kl_quad(lf(mu.logpdf), lf(nu.logpdf), region, eps=eps, mu_atoms=mu.atoms,
                                         nu_atoms=nu.atoms, breakpoints=bps, log_density=True))
    elif exact:
        if P.atoms or Q.atoms:
            raise InvalidInputError("atoms are only supported in one dimension")
        box, sub = _bounding_box(region)
        for i, d in enumerate(dirs):
            mu, nu = (P, Q) if d == "forward" else (Q, P)
            results.append(local_kl_qmc(mu.logpdf, nu.logpdf, box, region=sub, eps=eps, n_points=n_points,
                                        ci_prob=ci, seed=seed + i))
    else:
        x = P.get_draws(n_draws, seed)
        y = Q.get_draws(n_draws, seed + 1)
        if region is not None and not isinstance(region, (Box, Ball, Where)):
            ivs = region if isinstance(region, list) else [region]
            region = Where(lambda pts, ivs=ivs: np.any([(pts[:, 0] >= a) & (pts[:, 0] <= b) for a, b in ivs],
                                                       axis=0), dim=1)
        for d in dirs:
            a, b = (x, y) if d == "forward" else (y, x)
            results.append(local_kl_knn(a, b, region, k=k, n_batches=n_batches, ci_prob=ci))
    return results, region


def _warn_infinite(dirs, results, eps):
    """Warn (from :func:`local_kl`'s caller) about each infinite direction, pointing to the regularised form."""
    for d, r in zip(dirs, results):
        if np.isposinf(r.kl) and eps == 0:
            first, second = ("p", "q") if d == "forward" else ("q", "p")
            atoms = (getattr(r, "details", None) or {}).get("atoms") or {}
            where = "".join(f" (an atom at {k[0] if len(k) == 1 else list(k)} of weight {w:.2g})"
                            for k, w in atoms.items())
            warnings.warn(
                f"local_kl: KL_A({first} || {second}) is infinite: {first} has mass in the region that {second} "
                f"lacks{where}. The regularised local KL, KL_A({first} || {second} + eps {first}) with eps > 0 "
                f"(local_kl(..., eps=1e-3)), is finite; it needs both densities (scipy distributions or "
                f"callables, with the atom as p_atoms=/q_atoms=)", RuntimeWarning, stacklevel=user_stacklevel())


def _region_text(region):
    if isinstance(region, Tail):
        return f"Tail(center={region.center.tolist()}, threshold={region.radius})"
    if isinstance(region, Ball):
        return f"Ball(center={region.center.tolist()}, radius={region.radius})"
    if isinstance(region, Box):
        return f"Box({region.lower.tolist()}, {region.upper.tolist()})"
    if isinstance(region, Where):
        return "Where(<function>)"
    return str(region)
