"""Checking an approximation without a reference fit: the model's posterior by importance sampling.

When an approximation ``q`` (PyMC ADVI mean-field or full-rank, a
pymc-extras Laplace or DADVI fit) and its ``model`` are given but no
reference draws, :func:`~pymc_localmass.compare` and
:func:`~pymc_localmass.check` estimate the true posterior's mass ``p(A)`` of
each region ``A`` from ``q`` and the model's own density. Two routes, each
with its own reliability figure:

1. **Pareto-smoothed importance sampling** from ``q``'s draws: log-weights
   ``log p~(theta) - log q(theta)`` (the model's joint density in the
   constrained space, vectorised over draws as the model tier does, over
   ``q``'s exact density there), smoothed by the installed ArviZ generation's
   PSIS (:func:`pymc_localmass._compat.psis_smooth`), and the self-normalised
   estimate of ``P(A)`` (:func:`pymc_localmass.core.importance.importance_probability`)
   with its **local** k-hats: of the weights landing in ``A`` and of the
   estimate's error terms.
2. **Rao-Blackwellised importance sampling**, for regions where ``q`` puts
   (almost) no draws: for a scalar element ``theta_j``, each draw's
   conditional probability ``P(A | rest)`` is a ratio of two 1-D integrals of
   the model's density along ``theta_j``
   (:func:`pymc_localmass.core.quadrature.conditional_ball_mass`, the model
   tier's quadrature); its denominator is the unnormalised marginal density of
   the other parameters, so the weights are that marginal over ``q``'s exact
   marginal of them (:func:`pymc_localmass.core.importance.rao_blackwell_probability`).

Per region and radius the reliable estimate with the narrowest interval is
kept (reliable: every k-hat at most ``KHAT_INTERVAL`` = 0.5, a Kish ESS of at
least 100 and at least 30 draws contributing; where the two routes' intervals
do not overlap, only a route with k-hat at most 0.3 stays trusted). The usual
PSIS threshold 0.7 guards a point estimate; an interval built from the
estimate's variance needs that variance finite, k < 0.5 (Vehtari et al. 2024),
and ``benchmarks/reference_free.py`` shows what 0.7 allows: on the centred eight
schools at ``tau = 0``, estimates with k-hat 0.6-0.7 whose 90% intervals missed a
long NUTS run's value every time. Where neither route is reliable the mass is
reported as unknown (NaN, interval [0, 1], ``resolved`` 0) and
:func:`~pymc_localmass.check` says so with a finding of kind
``"unreliable"`` that recommends a reference fit: never a tight number.

Scope: Gaussian approximations whose free variables all have elementwise
transforms (what the analytic tier integrates exactly), and models whose free
variables are continuous. Balls are elementwise (``joint=False``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import special

from ._compat import default_ci_prob, psis_smooth
from .adapters.approx import from_approximation
from .adapters.source import convert
from .core.curves import INDEX_STATS, STATUS_WORDS
from .core.gaussian import _canonical_transform
from .core.importance import MIN_TAIL_DRAWS, importance_probability, rao_blackwell_probability
from .core.quadrature import conditional_ball_mass
from .errors import InvalidInputError, InvalidTypeError
from .results import element_labels
from .tiers.analytic import _template
from .tiers.analytic import compute as analytic

__all__ = ["ModelReference", "REFERENCE_NAME", "ROUTES", "DIAGNOSTICS", "diagnostics_arrays", "is_reference_free"]

#: the key of the model's posterior among the fits of a comparison
REFERENCE_NAME = "model"
#: codes of ``ref_route``: which estimate a region and radius reports
ROUTES = ("none", "importance", "conditional")
#: per (region, radius) diagnostics added to a comparison whose reference is the model
DIAGNOSTICS = ("ref_route", "ref_khat_is", "ref_n_inside", "ref_ess_is", "ref_khat_conditional",
               "ref_ess_conditional", "ref_unreliable_estimate")
#: draws of each approximation for route 1, and (the first ones) for route 2
N_DRAWS = 4000
N_CONDITIONAL = 2000
MIN_ESS = 100.0
#: relative error allowed for the 1-D conditional quadrature (its rule is far more accurate on smooth
#: conditionals; the model tier measures about 1e-7 and below): keeps an exact route's interval non-empty
QUAD_REL = 1e-6
#: k-hat a route needs to stay trusted where the two routes disagree
KHAT_AGREE = 0.3
#: k-hat at most which an estimate's variance-based interval is trusted (finite variance needs k < 0.5)
KHAT_INTERVAL = 0.5
#: the widened component of the defensive proposal: q with its covariance scaled by this squared
DEFENSIVE_SCALE = 2.0


def _logjac(name, y, lo, hi):
    """log |d g^{-1}(x) / dx| at x = g(y), written in y (exact where x itself would round to a bound)."""
    if name == "identity":
        return np.zeros_like(y)
    if name in ("lowerbound", "upperbound"):
        return -y
    if name == "log_exp_m1":
        return -special.log_expit(y)
    return -np.log(hi - lo) - special.log_expit(y) - special.log_expit(-y)


def _forward(name, y, lo, hi):
    if name == "identity":
        return y
    if name == "lowerbound":
        return lo + np.exp(y)
    if name == "upperbound":
        return hi - np.exp(y)
    if name == "log_exp_m1":
        return np.logaddexp(0.0, y)
    return lo + (hi - lo) * special.expit(y)


def _mvn_logpdf(y, mean, cov):
    """Log density of N(mean, cov) at the rows of y (Cholesky; cov positive definite)."""
    d = y - mean
    L = np.linalg.cholesky(cov)
    z = np.linalg.solve(L, d.T).T
    return -0.5 * np.sum(z**2, axis=1) - np.sum(np.log(np.diag(L))) - 0.5 * mean.size * np.log(2 * np.pi)


class _Proposal:
    """One Gaussian approximation as an importance-sampling proposal in the model's column order."""

    def __init__(self, name, fit, dens, n_draws, seed, defensive=True):
        self.name = name
        self.fit = fit
        names = list(dens.names)
        missing = [n for n in names if n not in fit.variables]
        if missing:
            raise InvalidInputError(f"approximation {name!r} lacks the model's free variable(s) {missing}; "
                                    "is it a fit of this model?")
        for n in names:
            v = fit.variables[n]
            if tuple(v.shape) != tuple(dens.variables[n].shape):
                raise InvalidInputError(f"approximation {name!r}: variable {n!r} has shape {v.shape}, the model's "
                                        f"has {dens.variables[n].shape}; is it a fit of this model?")
            if not v.supported:
                raise InvalidInputError(
                    f"approximation {name!r}: variable {n!r} has the transform {v.transform_class}, which is not "
                    f"elementwise ({v.reason}); checking without a reference needs elementwise transforms: "
                    "pass a reference fit (posterior draws) instead")
        mean, cov, transforms, lower, upper = fit.block(names)
        self.mean, self.cov = mean, cov
        self.specs = [_canonical_transform(t, None if np.isnan(lo) else lo, None if np.isnan(hi) else hi)
                      for t, lo, hi in zip(transforms, lower, upper)]
        rng = np.random.default_rng(seed)
        L = np.linalg.cholesky(cov)
        n = int(n_draws)
        # a defensive mixture: q itself, and q widened by DEFENSIVE_SCALE (interleaved, so that the
        # first draws of route 2 hold both); its density is exact, so the weights stay exact
        z = rng.standard_normal((n, mean.size))
        self.wide = (np.arange(n) % 2 == 1) if defensive else np.zeros(n, bool)
        y = mean + np.where(self.wide[:, None], DEFENSIVE_SCALE, 1.0) * (z @ L.T)
        self.defensive = bool(defensive)
        self.y = y
        self.x = np.column_stack([_forward(s[0], y[:, j], s[1], s[2]) for j, s in enumerate(self.specs)])
        over = ~np.isfinite(self.x[~self.wide]).all(axis=0) if (~self.wide).any() else np.zeros(mean.size, bool)
        if over.any():
            cols = sorted({dens.columns[j][0] for j in np.flatnonzero(over)})
            raise InvalidInputError(
                f"approximation {name!r}: its own draws of {cols} overflow to non-finite values (its "
                "mass spreads over the whole floating-point range there: a degenerate fit, e.g. a Laplace fit "
                "whose optimum runs to a support's edge, such as a scale's 0); the model's posterior cannot "
                "be estimated from it: use another approximation or a reference fit (pm.sample)")
        self.logjac = np.column_stack([_logjac(s[0], y[:, j], s[1], s[2]) for j, s in enumerate(self.specs)])
        self.log_q = self._log_mix(y, np.ones(mean.size, bool)) + self.logjac.sum(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            self.log_p = dens.logp(self.x)
        self.log_w = self.log_p - self.log_q
        if np.isnan(self.log_w).any() or np.isposinf(self.log_w).any():
            raise InvalidInputError(f"approximation {name!r}: the model's density or the approximation's is not "
                                    "finite at some of its draws")
        if not np.isfinite(self.log_w).any():
            raise InvalidInputError(f"approximation {name!r}: the model's density is zero at every draw of the "
                                    "approximation; is it a fit of this model?")
        self._conditional = {}

    def _log_mix(self, y, keep):
        """Log density (unconstrained) of the proposal's marginal of the ``keep`` columns."""
        mean, cov = self.mean[keep], self.cov[np.ix_(keep, keep)]
        lq = _mvn_logpdf(y, mean, cov)
        if not self.defensive:
            return lq
        lw = _mvn_logpdf(y, mean, cov * DEFENSIVE_SCALE**2)
        return np.logaddexp(lq, lw) - np.log(2.0)

    def log_q_others(self, col, rows):
        """log of the proposal's exact marginal density of every column but ``col`` (constrained space)."""
        keep = np.arange(self.mean.size) != col
        return self._log_mix(self.y[rows][:, keep], keep) + self.logjac[rows][:, keep].sum(axis=1)

    def conditional(self, dens, col, center, radii, n_conditional):
        """Per-draw conditional masses (n, R) and log-weights (n,) of route 2, cached."""
        key = (col, float(center), tuple(np.round(np.asarray(radii, float), 15)))
        if key not in self._conditional:
            rows = np.arange(min(int(n_conditional), self.x.shape[0]))
            draws = self.x[rows]
            lo, hi = dens.bounds(draws)
            lo, hi = lo[:, col], hi[:, col]
            if np.any(center < lo) or np.any(center > hi):
                self._conditional[key] = None
            else:
                res = conditional_ball_mass(dens.logp, draws, col, float(center), np.asarray(radii, float),
                                            lower=lo, upper=hi)
                log_w = res.log_normalizer - self.log_q_others(col, rows)
                log_w = np.where(np.isnan(log_w), -np.inf, log_w)
                self._conditional[key] = (res.mass_draws, log_w)
        return self._conditional[key]


class ModelReference:
    """The model's posterior, estimated from approximations, as :func:`compare`'s reference fit.

    Parameters
    ----------
    approximations : mapping of str to fit
        Gaussian approximations of ``model`` (proposals).
    model : pymc.Model
    group : str
        Group of pymc-extras fits holding their draws.
    n_draws : int, default 4000
        Draws of each approximation (route 1).
    n_conditional : int, default 2000 (``N_CONDITIONAL``)
        Draws whose conditional masses route 2 integrates.
    min_ess : float, default 100
    khat_max : float, default 0.5 (``KHAT_INTERVAL``)
    seed : int

    Notes
    -----
    It offers what :func:`compare` asks of a fit: ``variables()``, ``dims()``,
    ``coords()``, ``support()``, ``draw_range()`` and ``compute()``, the
    last returning the ``local_mass`` / ``local_mass_index`` datasets of the
    analytic tier's layout with the estimated masses (``tier="importance"``),
    and recording per region the :data:`DIAGNOSTICS` in ``diagnostics``.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as m:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     y = pm.Normal("y", mu, 1.0, observed=[0.5, 1.5])
    ...     approx = pm.fit(3000, progressbar=False, random_seed=1)
    >>> ref = ModelReference({"ADVI": approx}, m)
    >>> curves, index = ref.compute(var_names=["mu"], centers=0.0, radii=[0.5], ci_prob=0.94)
    >>> curves.attrs["tier"]
    'importance'
    >>> p = float(curves["mu"].sel(local_stat="mass").squeeze())   # exact: N(2/3, 1/3) on [-0.5, 0.5]
    >>> abs(p - 0.3805) < 0.02
    True
    """

    kind = "model"
    draws = None
    obj = None

    def __init__(self, approximations, model, *, group="posterior", n_draws=N_DRAWS, n_conditional=N_CONDITIONAL,
                 min_ess=MIN_ESS, khat_max=KHAT_INTERVAL, seed=0):
        from .adapters.model_density import ModelLogDensity

        if model is None or not hasattr(model, "free_RVs"):
            raise InvalidTypeError(f"checking without a reference needs model=<pymc.Model>, got "
                                   f"{type(model).__name__}")
        self.name = REFERENCE_NAME
        self.group = group
        self.model = model
        self.n_conditional = int(n_conditional)
        self.min_ess = float(min_ess)
        self.khat_max = float(khat_max)
        self.dens = ModelLogDensity(model)
        discrete = [n for n, v in self.dens.variables.items() if v.discrete]
        if discrete:
            raise InvalidInputError(f"checking without a reference needs continuous free variables; the model's "
                                    f"{discrete} are discrete: pass a reference fit (posterior draws) instead")
        self.proposals = []
        skipped = {}
        for name, obj in approximations.items():
            fit = from_approximation(obj, model=model, group=group)
            if not fit.gaussian:
                skipped[name] = f"the {fit.kind} approximation is not one Gaussian (no exact density)"
                continue
            self.proposals.append(_Proposal(name, fit, self.dens, n_draws, seed + len(self.proposals)))
        if not self.proposals:
            raise InvalidInputError(
                "checking without a reference needs a Gaussian approximation (pm.fit ADVI / full-rank ADVI, a "
                "Laplace or DADVI fit) as the importance-sampling proposal: "
                + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
        self.skipped = skipped
        self.approx = self.proposals[0].fit
        self.diagnostics = {}

    # ---------------------------------------------------------------- compare's fit interface
    def variables(self):
        return [n for n in self.dens.names if n in self.approx.variables]

    def dims(self, var):
        return tuple(self.approx.variables[var].dims)

    def coords(self, var):
        v = self.approx.variables[var]
        return {d: np.asarray(v.coords[d]) for d in v.dims}

    def support(self, var):
        return self.approx.variables[var].support()

    def draw_range(self, var):
        return None

    # ---------------------------------------------------------------- estimates
    def _estimate(self, col, center, radii, ci_prob):
        """Best reliable estimate per radius over proposals and routes, and the diagnostics.

        Both routes run for every proposal (route 2 unless route 1 is reliable
        with k-hat at most ``KHAT_AGREE`` at every radius); where both have at least
        ``MIN_TAIL_DRAWS`` contributing draws and their intervals (as the
        draws suggest them, reliable or not) do not overlap, two estimates of
        one number disagree: a route stays trusted there only with a k-hat
        of at most ``KHAT_AGREE`` (0.3).
        """
        R = radii.size
        best = {"mass": np.full(R, np.nan), "lower": np.zeros(R), "upper": np.ones(R), "ess": np.zeros(R),
                "route": np.zeros(R), "width": np.full(R, np.inf), "hint": np.zeros(R)}
        diag = {k: np.full(R, np.inf) for k in DIAGNOSTICS}
        diag["ref_route"] = np.zeros(R)
        diag["ref_n_inside"] = np.zeros(R)
        diag["ref_ess_is"] = np.zeros(R)
        diag["ref_ess_conditional"] = np.zeros(R)
        for prop in self.proposals:
            inside = np.abs(prop.x[:, col][:, None] - center) <= radii[None, :]
            est = importance_probability(prop.log_w, inside, psis=psis_smooth, ci_prob=ci_prob,
                                         min_ess=self.min_ess, khat_max=self.khat_max)
            k1 = np.maximum(np.maximum(est.khat_inside, est.khat_product), est.khat)
            cand = [(1, est, est.reliable.copy())]
            better = k1 <= diag["ref_khat_is"]
            diag["ref_khat_is"] = np.where(better, k1, diag["ref_khat_is"])
            diag["ref_ess_is"] = np.where(better, est.ess, diag["ref_ess_is"])
            diag["ref_n_inside"] = np.maximum(diag["ref_n_inside"], est.n_inside)
            # route 2 where route 1 is not clearly reliable (its k-hat at most KHAT_AGREE everywhere)
            clear = bool(np.all(est.reliable & (k1 <= KHAT_AGREE)))
            got = None if clear else prop.conditional(self.dens, col, center, radii, self.n_conditional)
            if got is not None and np.isfinite(got[1]).sum() >= 2:
                mass_draws, log_w = got
                est2 = rao_blackwell_probability(log_w, mass_draws, psis=psis_smooth, ci_prob=ci_prob,
                                                 rel_error=QUAD_REL, min_ess=self.min_ess, khat_max=self.khat_max)
                k2 = np.maximum(np.maximum(est2.khat_inside, est2.khat_product), est2.khat)
                better = k2 <= diag["ref_khat_conditional"]
                diag["ref_khat_conditional"] = np.where(better, k2, diag["ref_khat_conditional"])
                diag["ref_ess_conditional"] = np.where(better, est2.ess, diag["ref_ess_conditional"])
                rel1, rel2 = est.reliable.copy(), est2.reliable.copy()
                both = (est.n_inside >= MIN_TAIL_DRAWS) & (est2.n_inside >= MIN_TAIL_DRAWS)
                # the two routes' intervals (as the draws suggest them) must overlap where both have evidence
                apart = both & ((est2.raw_upper < est.raw_lower) | (est.raw_upper < est2.raw_lower))
                # where they disagree only a route whose k-hat is well inside the safe range stays trusted
                # (an interval misses now and then; a k-hat near 0.5 is where estimates go quietly wrong)
                rel1 &= ~(apart & (k1 > KHAT_AGREE))
                rel2 &= ~(apart & (k2 > KHAT_AGREE))
                cand = [(1, est, rel1), (2, est2, rel2)]
            for route, e, rel in cand:
                best["hint"] = np.maximum(best["hint"], e.estimate)
                with np.errstate(divide="ignore", invalid="ignore"):
                    width = np.log(e.upper) - np.log(e.lower)
                take = rel & (width < best["width"])
                best["mass"] = np.where(take, e.estimate, best["mass"])
                best["lower"] = np.where(take, e.lower, best["lower"])
                best["upper"] = np.where(take, e.upper, best["upper"])
                best["ess"] = np.where(take, e.ess, best["ess"])
                best["route"] = np.where(take, route, best["route"])
                best["width"] = np.where(take, width, best["width"])
        diag["ref_route"] = best["route"]
        # the largest (unreliable) estimate, for a finding's wording only: never reported as a mass
        diag["ref_unreliable_estimate"] = np.where(best["route"] > 0, np.nan, best["hint"])
        return best, diag

    def compute(self, *, var_names=None, coords=None, centers="mean", radii=None, n_radii=25, norm="euclidean",
                ci_prob=None, joint=False, grid_only=False, **_):
        """Curves and index of the model's posterior on the regions of the first approximation's analytic tier.

        Centre keywords (``"mean"``...) resolve on the first approximation;
        the automatic radius grid is its (1e-3 to 1 constrained sd).
        ``grid_only``: the regions only (centres and radii, the masses NaN and
        unresolved), without estimating anything: what :func:`compare` needs
        of its reference to fix the shared grid, before the estimates on it
        (route 2 integrates every draw's conditional density at every radius:
        most of the time a check without a reference takes).
        """
        if joint:
            raise InvalidInputError("checking without a reference estimates elementwise balls only (joint=False)")
        ci = default_ci_prob() if ci_prob is None else float(ci_prob)
        curves, index = analytic(self.approx, var_names=var_names, coords=coords, centers=centers, radii=radii,
                                 n_radii=n_radii, norm=norm, ci_prob=ci, method="analytic", model=self.model)
        template = _template(self.approx)
        diags = self.diagnostics.setdefault(ci, {})
        out_c, out_i = {}, {}
        for n in curves.data_vars:
            if n not in self.dens.names:
                raise InvalidInputError(f"variable {n!r} is not a free variable of the model; without a reference "
                                        "only free variables are compared (pass var_names=)")
            cur = curves[n].copy(deep=True)
            ind = index[n].copy(deep=True)
            shape = self.dens.variables[n].shape
            for sel, lab in element_labels(cur):
                flat = int(np.asarray(template[n].sel(sel).values).reshape(-1)[0]) if sel else 0
                col = self.dens.column(n, np.unravel_index(flat, shape) if shape else ())
                for c in cur["center"].values:
                    csub = cur.loc[dict(sel, center=c)] if sel else cur.loc[dict(center=c)]
                    r = np.asarray(csub.sel(local_stat="radius").values, float)
                    ivals = ind.loc[dict(sel, center=c)] if sel else ind.loc[dict(center=c)]
                    cv = float(ivals.sel(index_stat="center_value"))
                    if not np.isfinite(cv):
                        continue
                    ok = np.isfinite(r) & (r > 0)  # variables' grids differ in length: NaN padding
                    if grid_only:
                        best0 = {"mass": np.full(ok.sum(), np.nan), "lower": np.zeros(ok.sum()),
                                 "upper": np.ones(ok.sum()), "ess": np.zeros(ok.sum()), "route": np.zeros(ok.sum())}
                        diag0 = {}
                    else:
                        best0, diag0 = self._estimate(col, cv, r[ok], ci)
                    best, diag = {}, {}
                    for src, dst in ((best0, best), (diag0, diag)):
                        for k, v in src.items():
                            full = np.full(r.shape, np.nan)
                            full[ok] = v
                            dst[k] = full
                    best["route"] = np.nan_to_num(best["route"])
                    put = {"mass": best["mass"], "mass_lower": best["lower"], "mass_upper": best["upper"],
                           "slope": np.nan, "slope_lower": np.nan, "slope_upper": np.nan, "ess": best["ess"],
                           "resolved": (best["route"] > 0).astype(float)}
                    for stat, val in put.items():
                        loc = dict(sel, center=c, local_stat=stat)
                        cur.loc[loc] = val
                    for stat in INDEX_STATS:
                        if stat in ("center_value", "scale"):
                            continue
                        val = float(STATUS_WORDS.index("unresolved" if not np.any(best["route"] > 0) else "ok")) \
                            if stat == "status" else np.nan
                        ind.loc[dict(sel, center=c, index_stat=stat)] = val
                    if not grid_only:
                        diags[f"{lab} @ {c}"] = diag
            out_c[n], out_i[n] = cur, ind
        attrs = dict(curves.attrs)
        attrs.update(tier="importance", reference="model", source_group="the model (importance sampling)",
                     proposals=",".join(p.name for p in self.proposals), index_method="none")
        c_ds = xr.Dataset(out_c, attrs=attrs)
        i_ds = xr.Dataset(out_i, attrs=attrs)
        return c_ds, i_ds


def diagnostics_arrays(ref, labels, ci, R):
    """The :data:`DIAGNOSTICS` of ``ref`` as (region, radius) arrays in the order of ``labels``."""
    got = ref.diagnostics.get(ci, {})
    out = {k: np.full((len(labels), R), np.nan) for k in DIAGNOSTICS}
    for g, lab in enumerate(labels):
        d = got.get(lab)
        if d is None:
            continue
        for k in DIAGNOSTICS:
            out[k][g] = d[k]
    return out


def is_reference_free(fits, reference, model):
    """Whether :func:`compare` should take the model's posterior as its reference."""
    if reference == REFERENCE_NAME and REFERENCE_NAME not in fits:
        return True
    return reference is None and model is not None and all(convert(v).kind == "approximation" for v in fits.values())

