"""Model-based tier: local masses from the PyMC model's own density.

``local_mass(data, method="model", model=model, ...)`` lands here
(:func:`compute`); :func:`model_local_mass` is the same with the tier's own
options (number of draws, pairing, quasi-Monte Carlo size, anchor).

Scalar elements (``joint=False``): Rao-Blackwellised conditional masses
-----------------------------------------------------------------------
For a scalar element ``theta_j`` and a thinned set of posterior draws, the
conditional mass ``P(|theta_j - c| <= r | rest)`` of every draw is a ratio of
two 1-D integrals of the model's joint density along ``theta_j``
(:func:`pymc_localmass.core.quadrature.conditional_ball_mass`, in the
constrained space, with the element's support bounds). Their mean over draws
estimates ``m(r)`` at radii far below anything the draws resolve; its
interval comes from the draw-to-draw variation and an effective sample size
of the thinned chains, plus a quadrature-error term measured by re-running a
few draws with a finer rule.

*Local-scale pairs.* When ``theta_j`` has a positive "local scale" parent
``lambda_j`` of its own (a horseshoe ``beta_j ~ N(0, tau * lambda_j)``, a
Student-t written as a scale mixture, ...), the conditional mass given
``lambda_j`` behaves like ``r / lambda_j`` and its mean over draws has
infinite variance whenever the posterior of ``lambda_j`` has a density
positive at 0 (``E[1 / lambda_j]`` diverges; about 12% relative error at
``r = 1e-6`` with hundreds of draws for the horseshoe). Such a pair is
integrated in two dimensions: the 1-D rule runs on the *collapsed* density::

    g(theta_j | rest) = int f(theta_j, lambda_j, rest) d lambda_j,

whose inner integral is a trapezoidal rule in ``t = log(lambda_j - lower)``
(or the logit for a bounded partner) over a range wide enough for the
log singularity of ``g`` at the centre. Each draw's conditional mass is then
``P(|theta_j - c| <= r | rest without lambda_j)``: finite variance, and exact
when nothing else is random (the horseshoe prior). Partners are found in the
model graph (:func:`pymc_localmass.adapters.model_density.scale_partners`): a
continuous free variable with a finite lower bound, a direct parent of the element's distribution, of the same size
(element by element) or scalar for a scalar element.

*Heavy tails and funnels.* Where the draws' conditional masses have a heavy
upper tail (Hill tail index above 0.7), or fewer than 20 draws carry any
mass, their mean is unreliable, and it only gets worse as the ball shrinks
(the mass concentrates on rarer draws: a hierarchical scale at 0 given its
group effects, whose conditional mass vanishes like ``exp(-S / 2 r^2)``
except in the funnel's neck). That radius and every smaller one are
flagged unresolved, exact zeros included, with the interval
``[0, upper end at the next trusted radius]`` that monotonicity gives, and a
warning says so.

Blocks and joint balls (``joint=True``): Sobol quasi-Monte Carlo
----------------------------------------------------------------
``I(r)``, the integral of the unnormalised density over the ball in the block's
coordinates, is computed by randomised Sobol points
(:func:`pymc_localmass.core.quadrature.qmc_ball_log_integral`). When the
density is normalised (the prior of a model whose free variables are all in
the block) ``m(r) = I(r)`` exactly up to the QMC error. Otherwise the
normalising constant is anchored on the samples-tier estimate at a radius
``r_a`` the draws resolve well::

    m(r) = m_samples(r_a) * E[ I_rest(r) / I_rest(r_a) | theta_block in B(r_a) ],

the expectation over the draws that fall inside the anchor ball (for a block
smaller than the model, each such draw's other coordinates fix ``rest``; for
the whole model there is no ``rest`` and one QMC run suffices). The anchor's
own log standard error is added to every radius and recorded in the attrs
(``anchor_radius``, ``anchor_mass``, ``anchor_log_se``); slopes do not depend
on it.

Prior vs posterior
------------------
``group="prior"`` uses the model's prior density (free variables' terms only)
and the draws of the ``prior`` group, or prior draws sampled from the model
when the data has none; the centre given is the same, so the two results are
directly comparable.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr
from scipy import special, stats

from .._stack import user_stacklevel
from .._centers import normalise_centers
from .._validate import check_ci_prob, check_nan_policy, check_radii_keys
from .._progress import Progress
from .._radii import radii_for, rule_for
from ..adapters import SAMPLE_DIMS, select_coords, select_vars
from ..adapters.pymc import check_model_data, map_point, prior_draws
from ..adapters.source import convert
from ..core.curves import CURVE_STATS, INDEX_STATS, STATUS_WORDS, no_draws_value
from ..core.distances import center_values, joint_distances
from ..core.ess import EXACT_ESS, series_ess
from ..core.index import fit_index_curve, fit_slopes, rise_without_bound, small_balls
from ..errors import InvalidInputError, InvalidTypeError, _NonFiniteDraws
from ..core.quadrature import check_radii_precision, conditional_ball_mass, qmc_ball_log_integral
from ..results import base_attrs, joint_center_label, merge_curves
from .samples import compute as samples_compute

__all__ = ["compute", "model_local_mass"]

#: thinned draws used per element for 1-D conditionals and for paired (2-D) ones
N_DRAWS_1D = 400
N_DRAWS_PAIR = 48
#: draws re-run with a finer rule to measure the quadrature error
N_CHECK_DRAWS = 4
#: step (in log lambda) of the inner trapezoidal rule of a local-scale pair
PAIR_STEP = 0.5
#: automatic radius grid of scalar elements: GRID_DECADES decades below GRID_TOP * scale
#: (the asymptotic region; radii near the element's own scale bias the index fit)
GRID_DECADES = 7.0
GRID_TOP = 0.1
_PROGRESS_EVALS = 2e7
_IMPROPER = ("Flat", "HalfFlat")


# ----------------------------------------------------------------------------- small numerics
def _tail_index(values):
    """Hill estimate of the upper tail index k (k >= 0.5: infinite variance)."""
    v = np.sort(np.asarray(values, float)[np.isfinite(values)])
    v = v[v > 0]
    n = v.size
    if n < 20:
        return np.nan
    mtop = max(5, int(np.ceil(0.2 * n)))
    thr = v[n - mtop - 1]
    if not thr > 0:
        return np.nan
    return float(np.mean(np.log(v[n - mtop:] / thr)))


def _robust_scale(x):
    x = np.asarray(x, float).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return 1.0
    q75, q25 = np.percentile(x, [75, 25])
    s = (q75 - q25) / 1.349
    if not s > 0:
        s = float(np.std(x, ddof=1))
    return float(s) if s > 0 else 1.0


def _is_proper_prior(model):
    for rv in model.free_RVs:
        op_name = type(rv.owner.op).__name__
        if any(tok in op_name for tok in _IMPROPER):
            return False
    return True


# ----------------------------------------------------------------------------- pair collapsing
class _PairCollapsed:
    """log of int f(x with column ``k`` = lambda) d lambda, for batched points.

    The partner column of every point still holds the draw's own value
    (the 1-D rule only moves the element's column), which fixes the origin of
    a per-row grid in ``t``: ``lambda = lo + exp(t)`` (or ``hi - exp(t)``, or
    ``lo + (hi - lo) expit(t)``). Nodes run from ``min(t_draw, log t_floor) - 4``
    to ``max(t_draw, log scale) + upper_margin`` with step ``step``; the trapezoidal rule
    converges geometrically for such smooth, decaying integrands. ``truncation``
    records the largest relative weight seen at the ends of the range.
    """

    def __init__(self, logp, k, lo, hi, t_floor, scale, step=None, upper_margin=20.0, block=2**17, column=None):
        self.logp, self.k = logp, int(k)
        self.column = column
        self.lo, self.hi = float(lo), float(hi)
        self.step = float(PAIR_STEP if step is None else step)
        self.block = int(block)
        if np.isfinite(self.lo) and np.isfinite(self.hi):
            self.kind = "logit"
            self.t_min_off, self.t_max_off = -40.0, 40.0
        elif np.isfinite(self.lo):
            self.kind = "lower"
        elif np.isfinite(self.hi):
            self.kind = "upper"
        else:  # pragma: no cover - excluded by scale_partners
            raise InvalidInputError("a local-scale partner needs a finite bound")
        self.log_floor = math.log(max(t_floor, 1e-300))
        self.log_scale = math.log(max(scale, 1e-300))
        self.upper_margin = float(upper_margin)
        self.truncation = 0.0
        self.n_nodes = 0

    def _t_of(self, lam):
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "lower":
                return np.log(lam - self.lo)
            if self.kind == "upper":
                return np.log(self.hi - lam)
            u = (lam - self.lo) / (self.hi - self.lo)
            return np.log(u) - np.log1p(-u)

    def _lam_logjac(self, t):
        if self.kind == "lower":
            return self.lo + np.exp(t), t
        if self.kind == "upper":
            return self.hi - np.exp(t), t
        width = self.hi - self.lo
        return self.lo + width * special.expit(t), np.log(width) + special.log_expit(t) + special.log_expit(-t)

    def nodes(self, lam_rows, reach=None):
        t_i = self._t_of(lam_rows)
        t_i = np.where(np.isfinite(t_i), t_i, 0.0)
        if self.kind == "logit":
            lo_end = np.minimum(t_i, self.log_floor) - 4.0
            hi_end = np.maximum(t_i, -self.log_floor) + 4.0
            lo_end = np.maximum(lo_end, -745.0)
            hi_end = np.minimum(hi_end, 745.0)
        else:
            lo_end = np.minimum(t_i, self.log_floor) - 4.0
            hi_end = np.maximum(t_i, self.log_scale) + self.upper_margin
            if reach is not None:  # a scale partner must also reach the element's farthest value
                hi_end = np.maximum(hi_end, reach + 8.0)
        n = int(np.ceil(np.max(hi_end - lo_end) / self.step)) + 1
        t = lo_end[:, None] + self.step * np.arange(n)[None, :]
        lam, logjac = self._lam_logjac(t)
        return lam, logjac

    def __call__(self, points):
        points = np.asarray(points, float)
        m, e, d = points.shape
        reach = None
        if self.column is not None and self.kind == "lower":
            with np.errstate(divide="ignore"):
                reach = np.log(np.max(np.abs(points[:, :, self.column]), axis=1) + 1e-300)
        lam, logjac = self.nodes(points[:, 0, self.k], reach)
        n = lam.shape[1]
        self.n_nodes = n
        out = np.empty((m, e))
        rows_per = max(1, self.block // max(e * n, 1))
        e_per = e if rows_per > 1 or e * n <= self.block else max(1, self.block // n)
        log_w = math.log(self.step)
        for r0 in range(0, m, rows_per):
            r1 = min(m, r0 + rows_per)
            for e0 in range(0, e, e_per):
                e1 = min(e, e0 + e_per)
                pts = np.repeat(points[r0:r1, e0:e1, None, :], n, axis=2)
                pts[..., self.k] = lam[r0:r1, None, :]
                vals = np.asarray(self.logp(pts.reshape(r1 - r0, -1, d)), float).reshape(r1 - r0, e1 - e0, n)
                vals = np.where(np.isnan(vals), -np.inf, vals) + logjac[r0:r1, None, :]
                tot = special.logsumexp(vals, axis=2)
                with np.errstate(invalid="ignore"):
                    ends = np.maximum(vals[..., 0], vals[..., -1]) - tot
                fin = np.isfinite(tot) & np.isfinite(ends)
                if fin.any():
                    self.truncation = max(self.truncation, float(np.exp(np.max(ends[fin]))))
                out[r0:r1, e0:e1] = tot + log_w
        return out


# ----------------------------------------------------------------------------- draws and structure
def _load(source, group, model, seed):
    """Draws of ``group`` (from the converted input); for "prior" without such a group, sampled from the model."""
    if group == "prior":
        try:
            return source.draws, "prior"
        except (KeyError, TypeError, ValueError):
            if model is None:
                raise
            return prior_draws(model, 1000, seed), "prior (sampled from the model)"
    return source.draws, group


def _check_model_matches(ds, dens, group):
    missing = [n for n in dens.names if n not in ds.data_vars]
    if missing:
        raise InvalidInputError(
            f"the model does not match group {group!r}: its free variable(s) {missing} have no draws there "
            f"(the group has {list(ds.data_vars)}); the model tier needs draws of every free variable"
        )
    for n in dens.names:
        shape = tuple(s for d, s in ds[n].sizes.items() if d not in SAMPLE_DIMS)
        if shape != tuple(dens.variables[n].shape):
            raise InvalidInputError(
                f"the model does not match group {group!r}: variable {n!r} has shape {shape} in the draws "
                f"but {tuple(dens.variables[n].shape)} in the model"
            )


def _select(ds, dens, var_names, filter_vars, group):
    """The variables the model tier integrates: the package's one selector, then the tier's own rules.

    By default every continuous free variable with a box support; a
    selection (:func:`pymc_localmass.adapters.select_vars`) may name only
    such variables.
    """
    if var_names is None:
        names = [n for n in dens.names if not dens.variables[n].discrete and dens.variables[n].box_support]
    else:
        names = select_vars(ds, var_names, filter_vars)
    for n in names:
        if n not in dens.variables:
            raise InvalidInputError(
                f"variable {n!r} is not a free variable of the model (free variables: {list(dens.names)}); "
                "the model tier integrates the model's density over free variables only "
                "(use method='samples' for deterministics)"
            )
        info = dens.variables[n]
        if info.discrete:
            raise InvalidInputError(
                f"variable {n!r} is discrete; the model tier integrates densities of continuous variables "
                "(use method='samples' for discrete variables: their atoms are exact ties)"
            )
        if not info.box_support:
            # (a simplex or a zero-sum vector lives on a lower-dimensional set; an ordered vector's
            # elements bound each other)
            kind = str(info.transform).lower()
            why = ("its elements bound each other" if "ordered" in kind else
                   "its density lives on a lower-dimensional set that a ball in its coordinates does not "
                   "integrate" if ("simplex" in kind or "zerosum" in kind) else
                   "its transform ties its elements together")
            raise InvalidInputError(
                f"variable {n!r} has a constrained support ({info.transform}) where an element cannot move alone "
                f"({why}); the model tier integrates neither its elements nor a joint ball over it: use "
                "method='samples' (its draws give elementwise and joint balls)"
            )
    if not names:
        raise InvalidInputError(f"no continuous free variables selected from group {group!r}")
    return names


def _thin_index(n_chain, n_draw, n_target):
    per = int(min(n_draw, max(4, int(np.ceil(n_target / n_chain)))))
    return np.unique(np.round(np.linspace(0, n_draw - 1, per)).astype(int))


def _flat_draws(ds, dens, nan_policy, group):
    arr = dens.flatten({n: ds[n].transpose(*SAMPLE_DIMS, ...).values for n in dens.names})
    bad = ~np.all(np.isfinite(arr), axis=-1)
    if bad.any():
        if nan_policy == "raise":
            raise _NonFiniteDraws(f"group {group!r} has {int(bad.sum())} draw(s) with NaN or inf in a free variable",
                                  "pass nan_policy='omit' to leave them out")
    # draws the model gives no density are not draws of this model (one batched evaluation)
    lp = dens.logp(arr[~bad])
    outside = ~np.isfinite(lp)
    if outside.any():
        first = np.flatnonzero(~bad.reshape(-1))[int(np.argmax(outside))]
        chain, draw = np.unravel_index(first, bad.shape)
        raise InvalidInputError(
            f"the model does not match group {group!r}: {int(outside.sum())} of {lp.size} draw(s) lie outside "
            f"the model's support (log density -inf; first at chain {chain}, draw {draw}); pass the model "
            "these draws came from"
        )
    return arr, bad


def _element_positions(ds_full, ds_sel, var):
    """Flat positions (in the full variable) of the selected elements, in ds_sel order."""
    da = ds_full[var]
    el_dims = [d for d in da.dims if d not in SAMPLE_DIMS]
    if not el_dims:
        return np.array([0]), []
    pos = xr.DataArray(np.arange(int(np.prod([da.sizes[d] for d in el_dims]))).reshape([da.sizes[d] for d in el_dims]),
                       dims=el_dims, coords={d: da[d] for d in el_dims if d in da.coords})
    sel = ds_sel[var]
    idx = {d: sel[d].values for d in el_dims if d in sel.coords and d in pos.coords}
    if idx:
        pos = pos.sel(idx)
    return pos.transpose(*[d for d in sel.dims if d not in SAMPLE_DIMS]).values.reshape(-1), el_dims


def _center_for(spec, label, draws_el, var, el_name, model, map_cache, dens, flat_pos):
    """Scalar centre of one element from a centre spec."""
    if isinstance(spec, str):
        if spec in ("mean", "median", "mode"):
            return float(center_values(draws_el.reshape(-1), spec))
        if spec == "boundary":
            lo, hi = float(np.min(draws_el)), float(np.max(draws_el))
            if lo >= 0 or hi <= 0:
                return 0.0
            raise InvalidInputError(
                f"centre 'boundary' for variable {var!r}: its draws take both signs, so no support "
                "boundary can be inferred; pass the boundary as a number"
            )
        if spec == "map":
            if "point" not in map_cache:
                map_cache["point"] = map_point(model)
            return float(np.asarray(map_cache["point"][var]).reshape(-1)[flat_pos])
        raise InvalidInputError(f"unknown centre keyword {spec!r}")
    if isinstance(spec, numbers.Number):
        if not np.isfinite(spec):
            raise InvalidInputError(f"centre for variable {var!r} must be finite, got {spec}")
        return float(spec)
    if isinstance(spec, xr.DataArray):
        spec = spec.values
    arr = np.asarray(spec, dtype=float)
    if arr.size == 1:
        return float(arr.reshape(-1)[0])
    return float(arr.reshape(-1)[flat_pos])


def _check_center_arrays(cmap, ds_sel):
    for var, specs in cmap.items():
        shape = tuple(s for d, s in ds_sel[var].sizes.items() if d not in SAMPLE_DIMS)
        size = int(np.prod(shape, dtype=int))
        for _, spec in specs:
            if isinstance(spec, (np.ndarray, list, tuple, xr.DataArray)) and not isinstance(spec, str):
                arr = np.asarray(spec.values if isinstance(spec, xr.DataArray) else spec, float)
                if arr.size not in (1, size):
                    raise InvalidInputError(
                        f"centre for variable {var!r} has shape {arr.shape}, expected {shape} "
                        "(the variable's element dims) or a scalar"
                    )
                if not np.all(np.isfinite(arr)):
                    raise InvalidInputError(f"centre for variable {var!r} contains NaN or inf")


# ----------------------------------------------------------------------------- curve statistics
def _mass_stats(mass_draws, chain_shape, radii, ci_prob, quad_rel, min_ess):
    """Mass, interval, slope, ess-equivalent and resolved flag from per-draw masses."""
    n, R = mass_draws.shape
    c, k = chain_shape
    good = np.all(np.isfinite(mass_draws), axis=1)
    md = np.where(good[:, None], mass_draws, np.nan)
    mass = np.nanmean(md, axis=0)
    n_good = int(good.sum())
    series = md.reshape(c, k, R)
    if not good.all():  # fill the few failed draws with the mean (a conservative ESS)
        series = np.where(np.isnan(series), mass[None, None, :], series)
    sd = np.nanstd(md, axis=0, ddof=1) if n_good > 1 else np.zeros(R)
    ess = series_ess(np.moveaxis(series, -1, 0))
    ess = np.minimum(ess, n_good)
    se_mc = sd / np.sqrt(np.maximum(ess, 1.0))
    se = np.sqrt(se_mc**2 + (quad_rel * mass) ** 2)
    q = 0.5 + ci_prob / 2
    tq = stats.t.ppf(q, np.maximum(ess - 1, 1.0))
    lo = np.maximum(mass - tq * se, 0.0)
    hi = np.minimum(mass + tq * se, 1.0)
    # slopes: log m(r_out) - log m(r_in) from the same draws, delta method per draw
    j_in = np.clip(np.arange(R) - 1, 0, R - 1)
    j_out = np.clip(np.arange(R) + 1, 0, R - 1)
    dlr = np.log(radii[j_out]) - np.log(radii[j_in])
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (np.log(mass[j_out]) - np.log(mass[j_in])) / dlr
        z = md[:, j_out] / mass[j_out] - md[:, j_in] / mass[j_in]
        zs = np.where(np.isnan(z), 0.0, z).reshape(c, k, R)
        with warnings.catch_warnings():  # all-NaN columns: zero masses, where the slope is undefined anyway
            warnings.simplefilter("ignore", RuntimeWarning)
            sd_z = np.nanstd(z, axis=0, ddof=1) if n_good > 1 else np.zeros(R)
        ess_z = np.minimum(series_ess(np.moveaxis(zs, -1, 0)), n_good)
        se_lr = np.sqrt(sd_z**2 / np.maximum(ess_z, 1.0) + (quad_rel[j_out] ** 2 + quad_rel[j_in] ** 2))
        s_lo = slope - tq * se_lr / dlr
        s_hi = slope + tq * se_lr / dlr
        undefined = ~(dlr > 0) | ~(mass[j_in] > 0)
        slope = np.where(undefined, np.nan, slope)
        s_lo = np.where(undefined, np.nan, s_lo)
        s_hi = np.where(undefined, np.nan, s_hi)
        # samples-tier equivalent: draws inside a ball that would give the same interval
        ess_in = np.where(se > 0, mass**2 * (1 - mass) / se**2, EXACT_ESS)
    ess_in = np.minimum(np.where(np.isfinite(ess_in), ess_in, EXACT_ESS), EXACT_ESS)
    k_tail = np.array([_tail_index(md[:, j]) for j in range(R)]) if n_good >= 20 else np.full(R, np.nan)
    n_pos = np.sum(md > 0, axis=0)
    # a mean carried by a few draws (fewer than 20 with any mass) is as unreliable as a heavy tail
    heavy = (k_tail > 0.7) | ((n_pos > 0) & (n_pos < min(20, n_good)))
    # and the tail only gets heavier as the ball shrinks (the mass concentrates on fewer
    # draws): every radius below a heavy one is unresolved too, zero masses included, since
    # the draws that would carry the mass there (a funnel's neck) are the ones missing
    heavy = np.flip(np.logical_or.accumulate(np.flip(heavy)))
    resolved = np.isfinite(mass) & (ess_in >= min_ess) & ~heavy & (ess >= 4)
    exact_zero = np.isfinite(mass) & (mass == 0) & ~heavy
    resolved = resolved | exact_zero
    if heavy.any():  # there the interval can only say what monotonicity does: [0, upper end further out]
        above = np.flatnonzero(~heavy)
        cap = hi[above[0]] if above.size else 1.0
        lo = np.where(heavy, 0.0, lo)
        hi = np.where(heavy, np.maximum(cap, mass), hi)
    return {
        "mass": mass, "mass_lower": lo, "mass_upper": hi, "slope": slope, "slope_lower": s_lo,
        "slope_upper": s_hi, "ess": ess_in, "resolved": resolved.astype(float),
        "tail_k": k_tail, "draw_ess": ess, "heavy": heavy, "n_positive": n_pos,
    }


def _fit_slopes_draws(radii, mass, md, chain_shape, quad_rel, use, scale, ci_prob):
    """Index (a, b) from the slopes of a model-tier curve, with their covariance from the draws.

    The slopes between consecutive radii are fitted by
    :func:`pymc_localmass.core.index.fit_slopes` (``s = a - b / (L + L0)``)
    with their full covariance, estimated from each draw's influence
    ``m_i(r) / m(r)`` (the level uncertainty that is common to all radii
    cancels in slopes), plus the quadrature error.
    """
    keep = np.flatnonzero(use & (mass > 0) & np.isfinite(mass))
    out = {}
    if keep.size < 3:
        return out
    r, m = radii[keep], mass[keep]
    good = np.all(np.isfinite(md[:, keep]), axis=1)
    Z = md[good][:, keep] / m[None, :]
    dlr = np.diff(np.log(r))
    s = np.diff(np.log(m)) / dlr
    U = np.diff(Z, axis=1) / dlr[None, :]
    n = U.shape[0]
    if n > 1:
        c, k = chain_shape
        full = np.zeros((md.shape[0], U.shape[1]))
        full[good] = U - U.mean(axis=0)
        ess = float(np.median(np.minimum(series_ess(np.moveaxis(full.reshape(c, k, -1), -1, 0)), n)))
        sig = np.cov(U, rowvar=False).reshape(U.shape[1], U.shape[1]) / max(ess, 1.0)
    else:
        ess, sig = 1.0, np.zeros((s.size, s.size))
    q = quad_rel[keep]
    sig = sig + np.diag((q[1:] ** 2 + q[:-1] ** 2) / dlr**2 + 1e-24)
    tq = stats.t.ppf(0.5 + ci_prob / 2, max(ess - 1.0, 1.0))
    out = fit_slopes(np.sqrt(r[1:] * r[:-1]), s, sig, scale, tq)
    for key in ("l0", "unit", "a_model"):
        out.pop(key)
    n_used = out.pop("n_used")
    out.update(n_window=float(n_used + 1), window=float(r[n_used]))
    return out


def _index_stats(radii, st, scale, ci_prob, center_value, draws=None):
    """Index row (INDEX_STATS order) from a curve of the model/qmc tier.

    ``draws = (mass_draws, chain_shape, quad_rel)`` selects the slope fit with
    the draws' covariance (scalar elements); without it the curve fit of
    :func:`pymc_localmass.core.index.fit_index_curve` is used (joint balls).
    """
    mass, res = st["mass"], st["resolved"] > 0.5
    out = {k: no_draws_value(k) for k in INDEX_STATS}

    def fit(mask):
        if draws is not None:
            return _fit_slopes_draws(radii, mass, draws[0], draws[1], draws[2], mask, scale, ci_prob)
        return {k: float(v) for k, v in fit_index_curve(radii, mass, st["mass_lower"], st["mass_upper"], mask,
                                                         scale, ci_prob=ci_prob).items()}

    # (read from small balls: radii where the mass saturates give no index, see core.index.small_balls)
    if np.sum(small_balls(mass[res])) >= 3:
        out.update(fit(res))  # with the window sensitivity of core.index.fit_slopes
    # exactly zero mass at small radii with mass further out: no mass near the centre at any power
    zero = res & (mass == 0)
    if (zero.any() and np.any(res & (mass > 0))) or (res.any() and np.all(res & (mass == 0))):
        out.update(a=np.inf, a_lower=np.inf, a_upper=np.inf, b=np.nan, b_lower=-np.inf, b_upper=np.inf)
    else:
        # decay faster than any power: slopes that keep growing as r shrinks
        sl = st["slope"][res & np.isfinite(st["slope"])]
        if sl.size >= 4 and sl[0] > 50 and sl[0] > 8 * max(sl[-1], 1e-9) and np.all(np.diff(sl) < 0):
            out.update(a=np.inf, a_lower=np.inf, a_upper=np.inf, b=np.nan, b_lower=-np.inf, b_upper=np.inf)
        elif np.isfinite(out["a"]):
            # slopes that keep rising towards the centre at an undiminished pace (a log-normal at 0,
            # whose slope is log(1/r) / sigma^2): at least the slope at the smallest radius, and more
            rises, lower = rise_without_bound(radii, mass, st["slope"], st["slope_lower"], st["slope_upper"], res)
            if bool(rises):
                out.update(a=np.inf, a_lower=float(lower), a_upper=np.inf, b=np.nan, b_lower=-np.inf,
                           b_upper=np.inf)
    out.update(atom=0.0, atom_lower=0.0, atom_upper=0.0, center_value=center_value, scale=scale)
    if not np.isfinite(out["a"]) and not np.isposinf(out["a"]):
        # too few resolved radii for a slope: every value the evidence allows
        out.update(status=float(STATUS_WORDS.index("unresolved")), a=np.nan, a_lower=0.0, a_upper=np.inf,
                   b=np.nan, b_lower=-np.inf, b_upper=np.inf)
    return np.array([out[k] for k in INDEX_STATS], float)


def _curve_block(radii_reported, st):
    block = np.empty((radii_reported.size, len(CURVE_STATS)))
    block[:, 0] = radii_reported
    for i, lab in enumerate(CURVE_STATS[1:], start=1):
        block[:, i] = st[lab]
    return block


def _precision(center, radii, where):
    try:
        check_radii_precision(center, radii)
    except ValueError as err:
        raise InvalidInputError(f"{where}: {err}") from None


# ----------------------------------------------------------------------------- scalar elements
def _scalar_element(dens, draws, col, center, radii, lower, upper, scale, partner, pair_scale, chain_shape,
                    ci_prob, min_ess, bar):
    """Per-draw conditional masses of one element and their statistics."""
    logp = dens.logp
    collapsed = None
    if partner is not None:
        k, plo, phi = partner
        t0 = min(float(radii.min()) * 1e-3, scale * 1e-12)
        collapsed = _PairCollapsed(dens.logp, k, plo, phi, t0 * 0.1, pair_scale, column=col)
        logp = collapsed
    chunk = 4 if partner is not None else 64
    done = [0]

    def progress(n_done, n_total):
        bar.update(n_done - done[0])
        done[0] = n_done

    res = conditional_ball_mass(logp, draws, col, center, radii, lower=lower, upper=upper, scale=scale,
                                chunk_size=chunk, progress=progress)
    # quadrature error: a few draws again with a finer rule (and a finer pair step)
    n_chk = min(N_CHECK_DRAWS, draws.shape[0])
    sub = np.unique(np.linspace(0, draws.shape[0] - 1, n_chk).round().astype(int))
    logp_fine = dens.logp
    if partner is not None:
        k, plo, phi = partner
        logp_fine = _PairCollapsed(dens.logp, k, plo, phi, t0 * 1e-3, pair_scale, step=PAIR_STEP * 0.6,
                                   upper_margin=30.0, column=col)
    fine = conditional_ball_mass(logp_fine, draws[sub], col, center, radii, lower=lower[sub], upper=upper[sub],
                                 scale=scale, n_nodes=12, ratio=3.0, chunk_size=chunk)
    bar.update(sub.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(fine.mass_draws - res.mass_draws[sub]) / np.maximum(fine.mass_draws, 1e-300)
    rel = np.where(np.isfinite(rel), rel, 0.0)
    quad_rel = np.maximum(rel.max(axis=0), 1e-9)
    st = _mass_stats(res.mass_draws, chain_shape, radii, ci_prob, quad_rel, min_ess)
    st["draws"] = (res.mass_draws, chain_shape, quad_rel)
    st["truncation"] = collapsed.truncation if collapsed is not None else 0.0
    st["n_evaluations"] = res.n_evaluations + fine.n_evaluations
    st["quad_rel"] = quad_rel
    return st


def _scalar_plan(ds_full, ds_sel, names, cmap, partners, n_draws):
    """The work of :func:`_compute_scalar`: one item per element and centre, and the draws each variable uses.

    Returns
    -------
    plan : list of tuple
        ``(var, element index, element position, centre label, centre spec)``.
    n_per : dict
        Thinned draws per variable (more for a variable integrated with a
        scale partner).
    """
    plan = []
    for var in names:
        positions, _ = _element_positions(ds_full, ds_sel, var)
        for e, pos in enumerate(positions):
            for label, spec in cmap[var]:
                plan.append((var, e, int(pos), label, spec))
    n_per = {}
    for var in names:
        n_per[var] = n_draws if n_draws is not None else (N_DRAWS_PAIR if var in partners else N_DRAWS_1D)
    return plan, n_per


def _thinned_rows(flat, bad, n_target, ndim):
    """``n_target`` draws thinned evenly per chain, dropping non-finite draws position-wise in every chain.

    Returns the rows ``(n, ndim)`` and the ``(chain, draw)`` shape they came from.
    """
    chains, n_draw = flat.shape[:2]
    idx = _thin_index(chains, n_draw, n_target)
    rows = flat[:, idx, :]
    ok = ~bad[:, idx]
    if not ok.all():  # omit: drop draws position-wise in every chain alike
        good_pos = np.all(ok, axis=0)
        rows = rows[:, good_pos, :]
    chain_shape = rows.shape[:2]
    return rows.reshape(-1, ndim), chain_shape


def _check_scalar_center(dens, rows, col, center, all_el, var, el_name):
    """The element's bounds at the draws ``rows``, after checking that ``center`` lies in its support.

    Raises ValueError for a centre outside the support (for every draw or
    for some), or, without bounding transforms, where the model's density is
    zero given every draw tried.
    """
    lower, upper = dens.bounds(rows)
    lo_c, hi_c = lower[:, col], upper[:, col]
    if np.all((center < lo_c) | (center > hi_c)):
        raise InvalidInputError(
            f"centre {center:g} of {el_name} lies outside its support "
            f"[{np.min(lo_c):g}, {np.max(hi_c):g}]; the model tier needs a centre in the support "
            "(its boundary is allowed)"
        )
    if np.any((center < lo_c) | (center > hi_c)):
        raise InvalidInputError(
            f"centre {center:g} of {el_name} lies outside the support for some draws (the bounds of "
            f"{var!r} depend on other variables); use method='samples' for such a centre"
        )
    if not (np.any(np.isfinite(lo_c)) or np.any(np.isfinite(hi_c))) and (
            center < np.min(all_el) or center > np.max(all_el)):
        # no transform gave bounds: ask the density itself, beyond the draws' range
        probe = rows[:64].copy()
        probe[:, col] = center
        if not np.any(np.isfinite(dens.logp(probe))):
            raise InvalidInputError(
                f"centre {center:g} of {el_name} lies outside its support: the model's density is zero "
                f"there given every draw tried (the variable has no bounding transform); the draws lie "
                f"in [{np.min(all_el):g}, {np.max(all_el):g}]"
            )
    return lo_c, hi_c


def _scalar_radii(radii, var, center, scale, scaled, n_radii):
    """The radii reported for one element: as given, else the automatic grid below ``GRID_TOP * scale``.

    The grid is in units of the posterior sd under a scaled norm, and starts
    above the float resolution at the centre.
    """
    r_user = radii_for(radii, var)
    if r_user is not None:
        return r_user
    r_rel = GRID_TOP * np.geomspace(10.0 ** (-GRID_DECADES), 1.0, int(n_radii)) * (1.0 if scaled else scale)
    floor_r = 2e4 * np.finfo(float).eps * max(abs(center), 1e-300)
    if r_rel[0] <= floor_r:
        r_rel = np.geomspace(floor_r * 10, max(r_rel[-1], floor_r * 1e3), int(n_radii))
    return r_rel


def _scale_partner(dens, partners, var, pos, rows, flat, bad):
    """``(partner, pair_scale)`` for :func:`_scalar_element`: the scale partner's column and bounds, or None."""
    if var not in partners:
        return None, 1.0
    pvar = partners[var]
    pinfo = dens.variables[pvar]
    pcol = (dens.column(pvar, np.unravel_index(pos, pinfo.shape)) if pinfo.size > 1
            else dens.slice(pvar).start)
    plo, phi = dens.bounds(rows[:1])
    partner = (pcol, float(plo[0, pcol]), float(phi[0, pcol]))
    return partner, _robust_scale(flat[..., pcol][~bad])


class HeavyTailWarning(RuntimeWarning):
    """The per-draw conditional masses of an element are heavy-tailed (or carried by few draws).

    Their mean is unreliable at the radii it names; :func:`~pymc_localmass.check` takes no
    reading from such an element (the slope just above those radii is a few draws' too).
    """


def _warn_heavy(st, el_name, label, r_report):
    """Warn when the element's per-draw conditional masses are heavy-tailed or carried by few draws."""
    if np.any(st["heavy"]):
        big = float(r_report[np.flatnonzero(st["heavy"])[-1]])
        k = float(np.nanmax(st["tail_k"]))
        # (the Hill index itself means little to a user: above about 5, a handful of draws carry the mean)
        share = ("a handful of draws carry nearly all of it" if k > 5 else
                 "a few draws carry much of it")
        why = (f"heavy-tailed ({share}: Hill tail index {k:.2g}, where above 0.7 their mean has no reliable "
               "error)" if np.any(st["tail_k"] > 0.7) else "carried by fewer than 20 draws")
        warnings.warn(
            f"{el_name} at centre {label!r}: the per-draw conditional masses are {why}, so their "
            f"mean is unreliable; radii up to {big:.3g} are flagged unresolved (the draws that would "
            "carry the mass there, such as a funnel's neck, are too rare). A local-scale parent that "
            "could be integrated with the element was not found; use the samples tier's radii, or a "
            "non-centred parameterisation if the model is centred.", HeavyTailWarning, stacklevel=user_stacklevel())


def _warn_no_index(st, el_name, label, r_report, idx_row):
    """Warn when a curve was asked for (three radii or more) but its Mass Index could not be fitted."""
    if np.isnan(idx_row[INDEX_STATS.index("a")]) and r_report.size >= 3:  # a curve was asked for
        n_res = int(np.sum(st["resolved"] > 0.5))
        n_small = int(np.sum(small_balls(st["mass"][st["resolved"] > 0.5])))
        pos_m = st["mass"][(st["resolved"] > 0.5) & (st["mass"] > 0)]
        hint = (f"; the largest radius holds mass {pos_m[-1]:.3g} only: pass larger radii"
                if pos_m.size and pos_m[-1] < 1e-6 else "; pass more radii where the mass is resolved")
        if n_res < 3:
            why = f"{n_res} of {r_report.size} radii are resolved, and the slope fit needs three or more"
        elif n_small < 3:
            why = (f"{n_small} of the {n_res} resolved radii are small balls (holding at most half of the mass "
                   "beyond the smallest ball's; the index is read from them, beyond them the mass saturates)")
            hint = "; pass radii nearer the centre"
        else:
            why = "the slope fit failed on the resolved radii"
        warnings.warn(f"{el_name} at centre {label!r}: no Mass Index (a, b are NaN): {why}{hint}",
                      RuntimeWarning, stacklevel=user_stacklevel())


def _compute_scalar(ds_full, ds_sel, names, dens, model, cmap, radii, n_radii, norm, ci_prob, min_ess,
                    n_draws, pair, group, nan_policy, progressbar, seed):
    """Each element's ball masses from the model's density, conditional on the other coordinates' draws.

    Returns ``{(var, element index, centre label): (curve block, index row,
    scale, statistics)}`` and the tier's extra attributes (pairs, largest
    tail index, pair truncation).
    """
    from ..adapters.model_density import scale_partners  # PyTensor: imported when a model is used

    flat, bad = _flat_draws(ds_full, dens, nan_policy, group)
    partners = scale_partners(model, dens.variables) if pair == "auto" else dict(pair or {})
    for v, p in partners.items():
        if p not in dens.variables:
            raise InvalidInputError(f"pair partner {p!r} of {v!r} is not a free variable of the model")
    scaled = norm in ("scaled", "scaled_max")
    map_cache = {}
    plan, n_per = _scalar_plan(ds_full, ds_sel, names, cmap, partners, n_draws)
    total = sum(n_per[v] + N_CHECK_DRAWS for v, *_ in plan)
    est_evals = sum(n_per[v] * (150 if v in partners else 1) * 2000 for v, *_ in plan)
    show = progressbar if progressbar is not None else est_evals > _PROGRESS_EVALS
    bar = Progress(total, bool(show), "local mass (model)", "draw", lazy=False)
    results = {}
    extra = {"pairs": ",".join(f"{v}~{partners[v]}" for v in names if v in partners) or "none",
             "max_tail_index": np.nan, "pair_truncation": 0.0}
    try:
        for var, e, pos, label, spec in plan:
            shape = dens.variables[var].shape
            col = dens.column(var, np.unravel_index(pos, shape)) if shape else dens.column(var)
            rows, chain_shape = _thinned_rows(flat, bad, n_per[var], dens.ndim)
            all_el = flat[..., col][~bad]
            el_name = f"{var}[{', '.join(str(i) for i in np.unravel_index(pos, shape))}]" if shape else var
            center = _center_for(spec, label, all_el, var, el_name, model, map_cache, dens, pos)
            lo_c, hi_c = _check_scalar_center(dens, rows, col, center, all_el, var, el_name)
            scale = _robust_scale(all_el)
            unit = float(np.std(all_el, ddof=1)) if scaled else 1.0
            if scaled and not unit > 0:
                raise InvalidInputError(f"{el_name} has zero variance; the scaled norm needs a posterior sd")
            r_report = _scalar_radii(radii, var, center, scale, scaled, n_radii)
            r_abs = r_report * unit
            _precision(center, r_abs, f"variable {var!r}, element {el_name}, centre {label!r}")
            partner, pair_scale = _scale_partner(dens, partners, var, pos, rows, flat, bad)
            st = _scalar_element(dens, rows, col, center, r_abs, lo_c, hi_c, scale * unit if scaled else scale,
                                 partner, pair_scale, chain_shape, ci_prob, min_ess, bar)
            _warn_heavy(st, el_name, label, r_report)
            extra["max_tail_index"] = float(np.nanmax([extra["max_tail_index"], np.nanmax(st["tail_k"])])) \
                if np.any(np.isfinite(st["tail_k"])) else extra["max_tail_index"]
            extra["pair_truncation"] = max(extra["pair_truncation"], st["truncation"])
            idx_row = _index_stats(r_report, st, 1.0 if scaled else scale, ci_prob, center, draws=st["draws"])
            _warn_no_index(st, el_name, label, r_report, idx_row)
            results[(var, e, label)] = (_curve_block(r_report, st), idx_row, scale, st)
    finally:
        bar.close()
    return results, extra


# ----------------------------------------------------------------------------- joint balls
def _joint_centers(ds_full, ds_sel, names, dens, model, cmap, flat, bad):
    """The block's columns, centre coordinates, posterior sds and centre labels (one centre per variable)."""
    cols, cvec, sds, labels = [], [], [], []
    map_cache = {}
    for var in names:
        positions, _ = _element_positions(ds_full, ds_sel, var)
        specs = cmap[var]
        if len(specs) != 1:
            raise InvalidInputError(f"joint=True takes one centre per variable; {var!r} has {len(specs)}")
        label, spec = specs[0]
        labels.append(label)
        info = dens.variables[var]
        for pos in positions:
            col = dens.column(var, np.unravel_index(int(pos), info.shape)) if info.shape else dens.column(var)
            cols.append(col)
            el = flat[..., col][~bad]
            if isinstance(spec, str) and spec == "mode":
                raise InvalidInputError("centre 'mode' is not available for joint balls; pass numbers or 'mean'")
            cvec.append(_center_for(spec, label, el, var, var, model, map_cache, dens, int(pos)))
            sds.append(float(np.std(el, ddof=1)))
    return np.asarray(cols), np.asarray(cvec), np.asarray(sds), labels


def _joint_norm(norm, sds):
    """``(qnorm, scales, unit)``: the QMC norm, the per-coordinate scales and the radii's unit for ``norm``."""
    qnorm = "max" if norm in ("max", "scaled_max") else "euclidean"
    scales = sds if norm in ("scaled", "scaled_max") else None
    if norm == "euclidean":
        unit = float(np.sqrt((sds**2).sum()))
    elif norm == "max":
        unit = float(sds.max())
    else:
        unit = float(np.sqrt(sds.size))
    return qnorm, scales, unit


def _check_joint_center(dens, flat, bad, cols, cvec, name):
    """Raise ValueError when the centre lies outside the support, whatever the other coordinates' draws.

    Its boundary is allowed; bounds may depend on other variables (checked
    at up to about 400 draws).
    """
    rows_all = flat[~bad]
    lo_all, hi_all = dens.bounds(rows_all[:: max(1, rows_all.shape[0] // 400)])
    lo_b, hi_b = lo_all[:, cols], hi_all[:, cols]
    out_some = (cvec[None, :] < lo_b) | (cvec[None, :] > hi_b)
    if out_some.any():
        j = int(np.argmax(out_some.any(axis=0)))
        every = bool(out_some[:, j].all())
        raise InvalidInputError(
            f"joint ball {name!r}: centre coordinate {j} ({cvec[j]:g}) lies outside its support "
            f"[{np.min(lo_b[:, j]):g}, {np.max(hi_b[:, j]):g}]"
            + ("" if every else " for some draws (its bounds depend on other variables)")
        )


def _is_full_block(dens, cols):
    """Whether the block holds every free coordinate of a model without discrete variables."""
    free_cont = [dens.column(n, idx) if dens.variables[n].shape else dens.column(n)
                 for n in dens.names
                 for idx in (np.ndindex(*dens.variables[n].shape) if dens.variables[n].shape else [()])]
    has_discrete = any(dens.variables[n].discrete for n in dens.names)
    return set(cols.tolist()) == set(free_cont) and not has_discrete


def _joint_stats(log_m, log_se, slope_reps, r_user, ci_prob, min_ess, anchor_log_se):
    """The curve statistics of a joint ball from its log masses, their standard errors and replicates.

    Slopes are central differences in log radius; their errors come from the
    replicates (scramblings or draws) when there are several, else from the
    log masses' errors less the anchor's shared part.
    """
    z = stats.norm.ppf(0.5 + ci_prob / 2)
    mass = np.exp(log_m)
    lo = np.exp(log_m - z * log_se)
    hi = np.minimum(np.exp(log_m + z * log_se), 1.0)
    R = r_user.size
    j_in = np.clip(np.arange(R) - 1, 0, R - 1)
    j_out = np.clip(np.arange(R) + 1, 0, R - 1)
    dlr = np.log(r_user[j_out]) - np.log(r_user[j_in])
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (log_m[j_out] - log_m[j_in]) / dlr
        if slope_reps is not None and slope_reps.shape[0] > 1:
            dd = slope_reps[:, j_out] - slope_reps[:, j_in]
            se_s = np.std(dd, axis=0, ddof=1) / math.sqrt(dd.shape[0]) / dlr
        else:
            se_s = np.sqrt(log_se[j_out] ** 2 + log_se[j_in] ** 2 - 2 * anchor_log_se ** 2) / dlr
        s_lo, s_hi = slope - z * se_s, slope + z * se_s
        undefined = ~(dlr > 0)
        slope, s_lo, s_hi = (np.where(undefined, np.nan, v) for v in (slope, s_lo, s_hi))
        ess_in = np.where(log_se > 0, (1 - mass) / log_se**2, EXACT_ESS)
    resolved = np.isfinite(log_m) & (log_se < 0.5) & (ess_in >= min_ess)
    return {"mass": mass, "mass_lower": lo, "mass_upper": hi, "slope": slope, "slope_lower": s_lo,
            "slope_upper": s_hi, "ess": np.minimum(ess_in, EXACT_ESS), "resolved": resolved.astype(float)}


def _compute_joint(ds_full, ds_sel, names, dens, model, cmap, radii, n_radii, norm, ci_prob, min_ess,
                   group, coords, centers, nan_policy, qmc_points, n_randomizations, anchor, n_draws,
                   seed, progressbar):
    """The mass of joint balls over the variables ``names`` from the model's density (tier "qmc").

    A full block of a proper prior is integrated exactly (normalised);
    otherwise the QMC integrals are anchored on the samples tier (see
    :func:`_anchored`). Returns the block's name, centre label, curve block,
    index row and attributes.
    """
    flat, bad = _flat_draws(ds_full, dens, nan_policy, group)
    cols, cvec, sds, labels = _joint_centers(ds_full, ds_sel, names, dens, model, cmap, flat, bad)
    d = cols.size
    if np.any(~(sds > 0)):
        raise InvalidInputError("joint ball: a coordinate has zero variance")
    qnorm, scales, unit = _joint_norm(norm, sds)
    name = "+".join(names)
    r_user = radii_for(radii, name if isinstance(radii, Mapping) else None) if radii is not None else None
    if r_user is None:
        r_user = np.geomspace(1e-3, 1.0, int(n_radii)) * unit
    # every coordinate must resolve the smallest ball around its own centre value
    # (a scaled norm stretches coordinate j by its sd)
    for j in range(d):
        _precision(cvec[j:j + 1], r_user * (1.0 if scales is None else float(scales[j])),
                   f"joint ball {name!r}, coordinate {j}")
    _check_joint_center(dens, flat, bad, cols, cvec, name)
    full = _is_full_block(dens, cols)
    rng = np.random.default_rng(seed)
    m_pow = int(round(math.log2(qmc_points)))
    attrs = {"qmc_points": int(2**m_pow), "n_randomizations": int(n_randomizations), "block_dim": int(d)}
    bar = Progress(1, bool(progressbar) and full, "local mass (qmc)", "draw", lazy=False)
    try:
        if full and group == "prior" and _is_proper_prior(model):
            res = qmc_ball_log_integral(_logp_of_block(dens, cols), cvec, r_user, norm=qnorm, scales=scales,
                                        m=m_pow, n_randomizations=n_randomizations, seed=rng)
            log_m = np.minimum(res.log_integral, 0.0)
            log_se = res.log_integral_se
            slope_reps = res.log_integral_reps
            attrs.update(normalisation="exact (normalised prior density)", anchor_radius=np.nan,
                         anchor_mass=np.nan, anchor_log_se=0.0)
        else:
            log_m, log_se, slope_reps, anchor_attrs = _anchored(
                ds_full, flat, bad, dens, model, names, cols, cvec, sds, scales, qnorm, r_user, norm, ci_prob,
                nan_policy, coords, centers, group, anchor, full, n_draws, m_pow, n_randomizations, rng, name,
                progressbar)
            attrs.update(anchor_attrs)
    finally:
        bar.update(1)
        bar.close()
    st = _joint_stats(log_m, log_se, slope_reps, r_user, ci_prob, min_ess, attrs.get("anchor_log_se", 0.0))
    curve = _curve_block(r_user, st)
    idx_row = _index_stats(r_user, st, unit, ci_prob, np.nan)
    label = joint_center_label([f"{v}={lab}" for v, lab in zip(names, labels)])
    attrs["center_values"] = ",".join(f"{v:.6g}" for v in cvec)
    attrs["joint_vars"] = ",".join(names)
    return name, label, curve, idx_row, attrs


def _logp_of_block(dens, cols, base=None):
    """The model's log density at points given in the block's coordinate order ``cols``.

    ``base`` fixes the other free coordinates (a draw); without it the block
    must hold every free coordinate, in any order (e.g. ``var_names`` listed
    differently from the model).
    """
    cols = np.asarray(cols)
    if base is None and np.array_equal(cols, np.arange(dens.ndim)):
        return dens.logp

    def logp(pts):
        if base is None:
            full_pts = np.empty(pts.shape[:-1] + (dens.ndim,))
        else:
            full_pts = np.broadcast_to(base, pts.shape[:-1] + (dens.ndim,)).copy()
        full_pts[..., cols] = pts
        return dens.logp(full_pts)

    return logp


def _anchor_candidates(dist_all, bad, anchor, name):
    """The candidate anchor radii: as given, else the 10%, 25% and 50% quantiles of the draws' distances."""
    if anchor is None:
        qs = np.quantile(dist_all[~bad], [0.1, 0.25, 0.5])
        cand = np.unique(qs[qs > 0])
    else:
        cand = np.unique(np.atleast_1d(np.asarray(anchor, float)))
    if cand.size == 0 or np.any(~(cand > 0)):
        raise InvalidInputError(f"joint ball {name!r}: no usable anchor radius (draws at the centre, or anchor <= 0)")
    return cand


def _anchor_masses(ds_full, names, coords, centers, cand, norm, model, ci_prob, nan_policy):
    """The samples tier's joint masses at the candidate radii and the standard errors of their logs."""
    samp, _ = samples_compute(ds_full[names], var_names=names, coords=coords, centers=centers, radii=cand,
                              norm=norm, joint=True, model=model, ci_prob=ci_prob,
                              nan_policy=nan_policy)
    sv = samp[list(samp.data_vars)[0]].isel(center=0)
    a_mass = sv.sel(local_stat="mass").values
    a_lo, a_hi = sv.sel(local_stat="mass_lower").values, sv.sel(local_stat="mass_upper").values
    z = stats.norm.ppf(0.5 + ci_prob / 2)
    with np.errstate(divide="ignore"):
        a_se = (np.log(np.maximum(a_hi, 1e-300)) - np.log(np.maximum(a_lo, 1e-300))) / (2 * z)
    return a_mass, a_se


def _block_integrals(flat, bad, dist_all, dens, cols, cvec, all_r, cand, qnorm, scales, n_draws, m_pow, rng,
                     name, progressbar):
    """Log integrals of the block's density over the balls, given each thinned draw inside the largest anchor.

    Each such draw fixes the rest of the model. Returns the log integrals
    ``(draws, radii)`` and those draws' distances to the centre.
    """
    chains, n_draw = flat.shape[:2]
    idx = _thin_index(chains, n_draw, n_draws or 4 * N_DRAWS_PAIR)
    rows = flat[:, idx, :].reshape(-1, dens.ndim)
    dsub = dist_all[:, idx].reshape(-1)
    inside = np.flatnonzero(~bad[:, idx].reshape(-1) & (dsub <= cand.max()))
    if inside.size < 10:
        raise InvalidInputError(
            f"joint ball {name!r}: only {inside.size} thinned draws inside the anchor ball; "
            "pass more draws (n_draws) or a larger anchor"
        )
    m_sub = max(8, m_pow - 2)
    logI = np.empty((inside.size, all_r.size))
    # one QMC integral per draw: long for big blocks, so a bar by default past ~30 s of work
    show = progressbar if progressbar is not None else inside.size * all_r.size * 2 ** m_sub > 5e7
    bar = Progress(inside.size, bool(show), f"local mass (qmc, {name})", "draw", lazy=False)
    try:
        for row_i, i in enumerate(inside):
            logI[row_i] = qmc_ball_log_integral(_logp_of_block(dens, cols, rows[i].copy()), cvec, all_r,
                                                norm=qnorm, scales=scales, m=m_sub, n_randomizations=2,
                                                seed=rng).log_integral
            bar.update(1)
    finally:
        bar.close()
    return logI, dsub[inside]


def _best_anchor(logI, din, cand, a_mass, a_se, R):
    """The anchor radius whose ratios give the smallest median total error, or None if none is resolved.

    Returns ``(score, anchor index, anchor radius, log ratios, relative
    errors, replicates used, ratios per replicate)``.
    """
    best = None
    for a_i, ra in enumerate(cand):
        ja = R + a_i
        use = np.ones(logI.shape[0], bool) if din is None else din <= ra
        if use.sum() < (2 if din is None else 5) or not a_mass[a_i] > 0:
            continue
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            rr = np.exp(logI[use] - logI[use, ja:ja + 1])  # per scrambling (full) or per draw (block)
            if din is None:  # ratio of means over scramblings
                top = logI[use].max(axis=0)
                lin = np.exp(logI[use] - top[None, :])
                ratio = lin.mean(axis=0) / lin[:, ja].mean() * np.exp(top - top[ja])
                infl = lin / lin.mean(axis=0)[None, :] - (lin[:, ja] / lin[:, ja].mean())[:, None]
                rel = infl.std(axis=0, ddof=1) / math.sqrt(use.sum())
            else:
                ratio = rr.mean(axis=0)
                rel = rr.std(axis=0, ddof=1) / math.sqrt(use.sum()) / np.maximum(ratio, 1e-300)
            lr = np.log(ratio)
        tot = np.sqrt(rel[:R] ** 2 + a_se[a_i] ** 2)
        score = float(np.nanmedian(tot))
        if best is None or score < best[0]:
            best = (score, a_i, ra, lr, rel, int(use.sum()), rr)
    return best


def _anchored(ds_full, flat, bad, dens, model, names, cols, cvec, sds, scales, qnorm, r_user, norm, ci_prob,
              nan_policy, coords, centers, group, anchor, full, n_draws, m_pow, n_randomizations, rng, name,
              progressbar=None):
    """log m(r) anchored on the samples tier: m_samples(r_a) * E[I(r) / I(r_a) | inside B(r_a)]."""
    dist_all = joint_distances(np.moveaxis(flat[..., cols], -1, 0), cvec, norm=norm, sd=sds)
    cand = _anchor_candidates(dist_all, bad, anchor, name)
    a_mass, a_se = _anchor_masses(ds_full, names, coords, centers, cand, norm, model, ci_prob, nan_policy)
    R = r_user.size
    all_r = np.concatenate([r_user, cand])
    if full:  # no rest: one QMC run with independent scramblings
        res = qmc_ball_log_integral(_logp_of_block(dens, cols), cvec, all_r, norm=qnorm, scales=scales, m=m_pow,
                                    n_randomizations=n_randomizations, seed=rng)
        logI = res.log_integral_reps  # (K, R + A): scramblings
        din = None
    else:  # each thinned draw inside the largest candidate fixes the rest of the model
        logI, din = _block_integrals(flat, bad, dist_all, dens, cols, cvec, all_r, cand, qnorm, scales, n_draws,
                                     m_pow, rng, name, progressbar)
    best = _best_anchor(logI, din, cand, a_mass, a_se, R)
    if best is None:
        raise InvalidInputError(f"joint ball {name!r}: the draws do not resolve any anchor radius")
    _, a_i, ra, lr, rel, n_used, rr = best
    log_m = np.minimum(lr[:R] + math.log(a_mass[a_i]), 0.0)
    log_se = np.sqrt(rel[:R] ** 2 + a_se[a_i] ** 2)
    with np.errstate(divide="ignore"):
        slope_reps = np.log(rr[:, :R]) if rr.shape[0] > 1 else None
    attrs = {"normalisation": "anchored on the samples tier", "anchor_radius": float(ra),
             "anchor_mass": float(a_mass[a_i]), "anchor_log_se": float(a_se[a_i]),
             "anchor_draws_inside": -1 if full else n_used}
    return log_m, log_se, slope_reps, attrs


# ----------------------------------------------------------------------------- public
def _check_model_args(model, norm, ci_prob, nan_policy, n_radii, group):
    """The checked ``ci_prob``, after checking the model tier's other arguments (ValueError, TypeError)."""
    if model is None:
        raise InvalidInputError("method='model' needs model=<pymc.Model>")
    if norm not in ("euclidean", "max", "scaled", "scaled_max"):
        raise InvalidInputError(f"norm must be one of ('euclidean', 'max', 'scaled', 'scaled_max'), got {norm!r}")
    ci_prob = check_ci_prob(ci_prob)
    check_nan_policy(nan_policy)
    if int(n_radii) < 2:
        raise InvalidInputError(f"n_radii must be at least 2, got {n_radii}")
    if not isinstance(group, str):
        raise InvalidTypeError(f"group must be a string, got {group!r}")
    return ci_prob


def _grid_rule(radii, n_radii, joint, names):
    """The ``grid_rule`` attribute: explicit radii, the automatic grid (joint balls, scalars), or which has which."""
    auto = (f"auto: {int(n_radii)} log-spaced radii from 1e-3 to 1 RMS posterior sd" if joint else
            f"auto: {int(n_radii)} log-spaced radii from {GRID_TOP * 10**-GRID_DECADES:g} to {GRID_TOP:g} "
            "robust scale (IQR/1.349)")
    return rule_for(radii, names, joint, auto)


def _joint_datasets(name, label, curve, idx_row):
    """The curves and index datasets of one joint ball (one centre)."""
    curves = xr.Dataset({name: (("center", "radius", "local_stat"), curve[None])},
                        coords={"center": [label], "radius": np.arange(curve.shape[0]),
                                "local_stat": list(CURVE_STATS)})
    index = xr.Dataset({name: (("center", "index_stat"), idx_row[None])},
                       coords={"center": [label], "index_stat": list(INDEX_STATS)})
    curves[name].attrs["index_scale"] = float(idx_row[INDEX_STATS.index("scale")])
    return curves, index


def _scalar_datasets(results, names, ds_sel, cmap):
    """The curves and index datasets of the scalar elements, from :func:`_compute_scalar`'s results."""
    curve_vars, index_vars = {}, {}
    for var in names:
        sel = ds_sel[var]
        el_dims = [d for d in sel.dims if d not in SAMPLE_DIMS]
        el_shape = [sel.sizes[d] for d in el_dims]
        labels = [lab for lab, _ in cmap[var]]
        n_el = int(np.prod(el_shape, dtype=int))
        R = next(iter(results[(var, 0, labels[0])][0].shape[:1]))
        cur = np.full((n_el, len(labels), R, len(CURVE_STATS)), np.nan)
        ind = np.full((n_el, len(labels), len(INDEX_STATS)), np.nan)
        scales = np.empty(n_el)
        for e in range(n_el):
            for c_i, lab in enumerate(labels):
                block, row, scale, _ = results[(var, e, lab)]
                cur[e, c_i] = block
                ind[e, c_i] = row
                scales[e] = scale
        el_coords = {d: sel[d].values for d in el_dims if d in sel.coords}
        curve_vars[var] = xr.DataArray(
            cur.reshape(el_shape + [len(labels), R, len(CURVE_STATS)]),
            dims=el_dims + ["center", "radius", "local_stat"],
            coords={**el_coords, "center": labels}, attrs={"index_scale": scales if n_el > 1 else float(scales[0])})
        index_vars[var] = xr.DataArray(
            ind.reshape(el_shape + [len(labels), len(INDEX_STATS)]),
            dims=el_dims + ["center", "index_stat"], coords={**el_coords, "center": labels})
    curves = merge_curves(curve_vars, combine_attrs="drop")
    for k, v in curve_vars.items():
        curves[k].attrs = dict(v.attrs)
    index = xr.merge([v.rename(k).to_dataset() for k, v in index_vars.items()], join="outer",
                     compat="no_conflicts")
    index = index.assign_coords(index_stat=list(INDEX_STATS))
    return curves, index


def model_local_mass(data, model, *, var_names=None, filter_vars=None, coords=None, group="posterior",
                     centers="mean", radii=None, n_radii=25, norm="euclidean", joint=False, ci_prob=None,
                     min_ess=10.0, nan_policy="raise", progressbar=None, n_draws=None, pair="auto",
                     qmc_points=2**12, n_randomizations=8, anchor=None, seed=0):
    """Local masses from a PyMC model's density (tiers "model" and "qmc").

    Same inputs and outputs as ``local_mass(..., method="model")``, with the
    tier's own options.

    Parameters
    ----------
    data : Source, DataTree, InferenceData, Dataset or dict of arrays
        Draws of every free variable of ``model`` (in group ``group``): a
        :class:`~pymc_localmass.adapters.source.Source` or an input
        :func:`~pymc_localmass.adapters.source.convert` takes.
    model : pymc.Model
    var_names, filter_vars, coords, group, centers, radii, n_radii, norm, joint, ci_prob, min_ess, \
nan_policy, progressbar
        As for :func:`pymc_localmass.local_mass`. ``radii=None`` gives
        ``n_radii`` log-spaced radii from ``1e-8`` to ``0.1`` times the element's
        robust scale (IQR / 1.349) for scalar elements, and from ``1e-3`` to
        ``1`` times the RMS posterior sd for joint balls. ``group="prior"``
        uses the model's prior density (and the ``prior`` group's draws, or
        draws sampled from the model when there is none).
    n_draws : int, optional
        Thinned draws per element (evenly over chains). Default 400, or 48 for
        an element integrated with a local-scale partner.
    pair : "auto", dict or None
        Local-scale partners integrated together with the element: found in
        the model graph (``"auto"``, see
        :func:`pymc_localmass.adapters.model_density.scale_partners`), given as
        ``{var: partner_var}``, or none (``None``: plain 1-D conditionals).
    qmc_points : int
        Sobol points per randomisation for joint balls (a power of two).
    n_randomizations : int
        Independent scramblings (their spread gives the QMC error).
    anchor : float or sequence, optional
        Candidate anchor radii for joint balls (default: the 10%, 25% and 50%
        quantiles of the draws' distances; the one with the smallest total
        error is used).
    seed : int

    Returns
    -------
    curves, index : xarray.Dataset
        The ``local_mass`` and ``local_mass_index`` groups (docs/schema.md),
        attrs ``tier="model"`` (scalar elements) or ``"qmc"`` (joint balls).
        Scalar curves' ``ess`` is the samples-tier equivalent: the number of
        draws inside the ball that would give the same interval,
        ``m^2 (1 - m) / se^2``.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pymc_localmass.tiers.model import model_local_mass
    >>> y = np.array([0.9, 1.4, 0.3, 2.1])
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     _ = pm.Normal("y", mu, 1.0, observed=y)
    >>> draws = {"mu": np.random.default_rng(0).normal(0.94, 0.447, size=(2, 50))}
    >>> curves, index = model_local_mass(draws, model, centers=0.0, radii=[1e-6, 1e-3], n_draws=8)
    >>> m = curves["mu"].sel(local_stat="mass").values[0]
    >>> from scipy.stats import norm
    >>> bool(np.allclose(m, 2 * np.array([1e-6, 1e-3]) * norm.pdf(0, 0.94, np.sqrt(0.2)), rtol=1e-3))
    True
    """
    from ..adapters.model_density import ModelLogDensity

    ci_prob = _check_model_args(model, norm, ci_prob, nan_policy, n_radii, group)
    check_model_data(model, data, "the model tier")
    ds_full, src = _load(convert(data, group=group, model=model), group, model, seed)
    dens = _cached_density(model, group == "prior", ModelLogDensity)
    _check_model_matches(ds_full, dens, group)
    if ds_full.sizes["chain"] < 2:
        raise InvalidInputError(
            f"group {group!r} has a single chain; the model tier's intervals need at least 2 chains "
            "(for independent draws, reshape them to (chain, draw))"
        )
    names = _select(ds_full, dens, var_names, filter_vars, group)
    if joint:  # (the scalar path reads a mapping by variable, as check() passes it)
        check_radii_keys(radii, names, joint)
    ds_sel = select_coords(ds_full[names], coords)
    cmap = normalise_centers(centers, names)
    _check_center_arrays(cmap, ds_sel)
    common = dict(norm=norm, ci_prob=ci_prob, grid_rule=_grid_rule(radii, n_radii, joint, names), source_group=src,
                  joint=joint, n_chains=int(ds_full.sizes["chain"]), n_draws=int(ds_full.sizes["draw"]),
                  min_ess=float(min_ess))
    if joint:
        name, label, curve, idx_row, extra = _compute_joint(
            ds_full, ds_sel, names, dens, model, cmap, radii, n_radii, norm, ci_prob, min_ess, group,
            coords, centers, nan_policy, qmc_points, n_randomizations, anchor, n_draws, seed, progressbar)
        curves, index = _joint_datasets(name, label, curve, idx_row)
        attrs = base_attrs(tier="qmc", index_method="curve-slope-fit", **common, **extra)
    else:
        results, extra = _compute_scalar(ds_full, ds_sel, names, dens, model, cmap, radii, n_radii, norm, ci_prob,
                                         min_ess, n_draws, pair, group, nan_policy, progressbar, seed)
        curves, index = _scalar_datasets(results, names, ds_sel, cmap)
        extra["thinned_draws"] = int(n_draws) if n_draws is not None else -1
        attrs = base_attrs(tier="model", index_method="curve-slope-fit (unit: robust posterior scale)",
                           **common, **extra)
    curves.attrs = dict(attrs)
    index.attrs = dict(attrs)
    return curves, index


#: the model densities built inside :func:`reuse_densities`, by (model, prior); None outside it
_DENSITIES = contextvars.ContextVar("pymc_localmass_model_densities", default=None)


@contextlib.contextmanager
def reuse_densities():
    """Inside: :func:`model_local_mass` builds each model's density once and reuses it.

    Building the density compiles the model's log density (about half a second);
    ``check()`` asks the model tier about many rows of one model in one call
    (a 200-element Deterministic's rows rebuilt it 452 times: 266 of 275 s). The
    cache lives for the ``with`` block only: a model changed after it (a
    variable added) is read afresh by the next call.
    """
    token = _DENSITIES.set({} if _DENSITIES.get() is None else _DENSITIES.get())
    try:
        yield
    finally:
        _DENSITIES.reset(token)


def _cached_density(model, prior, build):
    """The model's density, from :func:`reuse_densities`' cache where one is open."""
    cache = _DENSITIES.get()
    if cache is None:
        return build(model, prior=prior)
    key = (id(model), bool(prior))
    if key not in cache:
        # (the model is kept beside its density: its id cannot be reused while the cache lives)
        cache[key] = (model, build(model, prior=prior))
    return cache[key][1]


def compute(data, *, var_names=None, filter_vars=None, coords=None, group="posterior", centers="mean", radii=None,
            n_radii=25, norm="euclidean", joint=False, model=None, ci_prob=None, min_ess=10.0, window=None,
            nan_policy="raise", progressbar=None):
    """Entry point of ``local_mass(..., method="model")``: ``(curves, index)``.

    Delegates to :func:`model_local_mass` with the tier's default options
    (``window`` does not apply: the index is fitted on the whole resolved
    curve).

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_localmass as plm
    >>> with pm.Model() as model:
    ...     g = pm.Gamma("g", alpha=2.0, beta=1.0)
    >>> draws = {"g": np.random.default_rng(1).gamma(2.0, size=(2, 60))}
    >>> res = plm.local_mass(draws, method="model", model=model, centers=0.0, radii=[1e-4, 1e-2])
    >>> res.attrs["tier"]
    'model'
    >>> from scipy.special import gammainc
    >>> bool(np.allclose(res["g"].sel(local_stat="mass").values[0], gammainc(2.0, [1e-4, 1e-2]), rtol=1e-6))
    True
    """
    return model_local_mass(data, model, var_names=var_names, filter_vars=filter_vars, coords=coords, group=group,
                            centers=centers, radii=radii, n_radii=n_radii, norm=norm, joint=joint, ci_prob=ci_prob,
                            min_ess=min_ess, nan_policy=nan_policy, progressbar=progressbar)
