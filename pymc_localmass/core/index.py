"""Mass Index estimation: local likelihood on the nearest draws, curve fits.

The estimator for draws (:func:`fit_index_draws`) is a local likelihood for
the distances of the draws nearest to the centre. Inside a window of radius
R the model is

    log m(r) - log m(R) = a log(r/R) + b log(L(r)/L(R)) + sum_j c_j ((r/R)^j - 1),

with L(r) = log(scale / r). The conditional density of a distance given that
it is at most R is m'(r)/m(R) = (m(r)/m(R)) h(r)/r with the local slope
h(r) = a - b/L(r) + sum_j j c_j (r/R)^j, and the distances are binned on a
fine geometric grid (:mod:`.binned`; the cost does not grow with the window).
Without curvature or log terms it is the Hill (Levina-Bickel) estimator; the
curvature term removes the first-order bias that makes Hill underestimate
``a`` (order r at a support boundary, order r^2 at interior points), which
allows much wider windows and hence a much smaller variance. The window is
chosen per element by Lepski's rule: the widest of a nested sequence whose
estimate agrees, within its sampling error, with every narrower window's.

Decay faster than any power (``a = inf``) is detected with the extra term
lambda (1 - R/r), whose slope contribution lambda R / r grows without bound
as r -> 0; a likelihood-ratio test at a stringent level on the widest
window decides, and the rise must persist among the nearest draws (a
one-sided test on the narrowest window with enough effective draws);
otherwise ``a`` stays finite with an interval open above.
"""

import numpy as np
from scipy import special, stats

from .binned import N_CELLS, fit_binned, score
from .ess import EXACT_ESS


WINDOW_FRACTIONS = (0.05, 0.1, 0.2, 0.35, 0.5)
#: leading curvature terms: order r at a support boundary, r^2 at interior
#: points (symmetric balls). A second boundary term (r^2) removes a few percent
#: of bias at wide windows but doubles the variance (benchmarks/accuracy.py).
BOUNDARY_TERMS = ("c1",)
INTERIOR_TERMS = ("c2",)
N_MASTER = 400


def window_sizes(n_total):
    """Nested window sizes (numbers of nearest draws) for ``n_total`` draws.

    Examples
    --------
    >>> window_sizes(4000)
    [200, 400, 800, 1400, 2000]
    """
    ks = sorted({int(round(f * n_total)) for f in WINDOW_FRACTIONS if f * n_total >= 25})
    return ks or [max(5, n_total // 2)]


def master_counts(near, e0, R_max, n_cells=N_MASTER):
    """Counts of (unsorted) distances in fine geometric cells from e0 to R_max.

    Returns counts (E, G) and upper edges (E, G); cell 0 is [0, e0].
    """
    delta = np.log(R_max / e0) / (n_cells - 1)
    delta = np.where(delta > 0, delta, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.ceil(np.log(near / e0[:, None]) / delta[:, None] - 1e-9)
    valid = np.isfinite(near) & (near <= R_max[:, None])
    j = np.where(valid, np.clip(np.nan_to_num(j, nan=0.0), 0, n_cells - 1), n_cells).astype(np.int64)
    E = near.shape[0]
    flat = (np.arange(E)[:, None] * (n_cells + 1) + j).ravel()
    counts = np.bincount(flat, minlength=E * (n_cells + 1)).reshape(E, n_cells + 1)[:, :n_cells]
    edges = e0[:, None] * np.exp(delta[:, None] * np.arange(n_cells)[None, :])
    edges[:, -1] = R_max
    return counts.astype(float), edges


def _chi2_ppf(q, df):
    """``scipy.stats.chi2.ppf(q, df)`` for 0 < q < 1 (the same expression, without its argument checks).

    The index's thresholds are quantiles of one call's levels; scipy's
    distribution wrapper costs 0.2 ms a call, more than the fits it guards.
    """
    return 2 * special.gammaincinv(df / 2, q)


def window_edges(counts, edges, k_targets):
    """Index of the master edge at which each window closes (>= k_target draws inside)."""
    cum = np.cumsum(counts, axis=1)
    out = np.empty((counts.shape[0], len(k_targets)), dtype=np.int64)
    for w, k in enumerate(k_targets):
        g = (cum < k).sum(axis=1)
        out[:, w] = np.clip(g, 1, counts.shape[1] - 1)
    return out


def _aggregate(counts, edges, g, n_cells=N_CELLS, cum=None):
    """Cells of one window: master cells 0..g merged into at most ``n_cells`` cells.

    ``cum``: ``np.cumsum(counts, axis=1)``, when the caller has it.
    """
    B = n_cells
    cum = np.cumsum(counts, axis=1) if cum is None else cum
    step = np.maximum(1, np.ceil((g + 1) / B)).astype(np.int64)
    # cell upper-edge indices: g, g - step, g - 2 step, ... (B of them, clipped at 0)
    idx = g[:, None] - step[:, None] * np.arange(B - 1, -1, -1)[None, :]
    first = idx < 0
    idx = np.maximum(idx, 0)
    # leading cells that would fall below edge 0 collapse to (almost) zero width
    # and hold nothing, so the first real cell holds everything below its edge
    up = np.where(first, 0.0, np.take_along_axis(cum, idx, axis=1))
    c = np.diff(up, axis=1, prepend=0.0)
    e = np.take_along_axis(edges, idx, axis=1)
    e = np.where(first, edges[:, :1] * 1e-12 * (1 + np.arange(B))[None, :], e)
    return c, e, first


#: the log-term fit joins ``a``'s interval when ``|b| > HULL_Z * se(b)`` (b's 90%
#: interval excludes 0): a fixed level, so that ``a``'s interval grows with
#: ``ci_prob`` (deciding at the interval's own level made it shrink from 0.89 to 0.94)
HULL_Z = float(stats.norm.ppf(0.95))

#: the bend's lower end (:data:`BEND_LIMIT`) is read at this fixed normal quantile (that of an 89%
#: interval), not at ``ci_prob``'s: at 94% a rise the draws show clearly was read as no rise, and a
#: Student-t's nu at 0 (a about 50, the slope 4.6 at r = 2.7 and 18 at 0.54) read
#: 3.1 [0, 257] "ok" at 94% where 89% gave [0, inf]; a wider interval must never be narrower
BEND_Z = float(stats.norm.ppf(0.5 + 0.89 / 2))

#: offsets c of the log's unit tried at the chosen window, L(r) = log(scale / r) + c
LOG_UNIT_OFFSETS = (1.0, 2.0, 4.0)


def _profile_log_unit(master, edges, g, R, scale, boundary, infl, ll_r, b_level, cum=None):
    """Refit the log term at one window per element with the unit offset profiled.

    Returns per element ``b, sb, af, sf`` (b and a of the best fit with the log
    term and their standard errors, inflated for autocorrelation), ``use``
    (the likelihood-ratio test against the power law, with one degree of
    freedom more for the offset, passes at ``b_level``) and ``done`` (a fit
    with the log term exists).
    """
    E = master.shape[0]
    out = {k: np.full(E, np.nan) for k in ("b", "sb", "af", "sf", "ll")}
    c, e, _ = _aggregate(master, edges, g, cum=cum)
    for curv_terms in (BOUNDARY_TERMS, INTERIOR_TERMS):
        grp = np.flatnonzero(boundary == (curv_terms is BOUNDARY_TERMS))
        grp = grp[np.isfinite(ll_r[grp]) & (np.log(scale[grp] / R[grp]) > 0.25)]
        if grp.size == 0:
            continue
        # at a boundary both curvature orders: a folded density (f'(0) = 0, e.g. a
        # half-Cauchy scale at 0) curves like r^2, and a log term must not stand in for it
        terms = ["a", "b", *curv_terms] if curv_terms is INTERIOR_TERMS else ["a", "b", "c1", "c2"]
        for off in (0.0, *LOG_UNIT_OFFSETS):
            th, cov, ll = fit_binned(c[grp], e[grp], R[grp], scale[grp] * np.exp(off), terms)
            # (a at or near 0 is allowed: m = (log 1/r)^b with b < 0 has a = 0; a
            # below 0 by more than its noise is no ball mass)
            with np.errstate(invalid="ignore"):
                near_zero = th[:, 0] > -3.0 * np.sqrt(np.maximum(cov[:, 0, 0], 0))
            good = (np.isfinite(ll) & (cov[:, 1, 1] > 0) & np.isfinite(cov[:, 0, 0]) & near_zero
                    & ~(ll <= out["ll"][grp]))
            i = grp[good]
            out["ll"][i] = ll[good]
            out["b"][i] = th[good, 1]
            out["sb"][i] = np.sqrt(cov[good, 1, 1] * infl[i])
            out["af"][i] = np.maximum(th[good, 0], 0.0)
            out["sf"][i] = np.sqrt(np.maximum(cov[good, 0, 0], 0) * infl[i])
    done = np.isfinite(out["ll"])
    with np.errstate(invalid="ignore"):
        lr = 2 * (out["ll"] - ll_r) / infl
    out["use"] = done & np.isfinite(lr) & (lr > _chi2_ppf(b_level, 2))
    out["done"] = done
    return out


def _lambda_test(master, edges, g, R, scale, cum=None):
    """One-sided likelihood-ratio test of ``lambda > 0`` in ``log m = a log(r/R) + lambda (1 - R/r)``.

    Returns ``(lr, a, ll)`` per row of ``master``, on the window closing at master
    edge ``g``: the likelihood-ratio statistic (0 where the fit has
    ``lambda <= 0``), not yet divided by the autocorrelation inflation, the
    ``a`` of the fit with ``lambda`` (nan where it was not fitted) and the
    largest log likelihood of the two fits (for :func:`_edge_test`). ``cum``:
    the cumulative master counts, when the caller has them.
    """
    c, e, _ = _aggregate(master, edges, g, cum=cum)
    th0, _, ll0 = fit_binned(c, e, R, scale, ["a"])
    start = np.column_stack([th0[:, 0], np.zeros(len(R))])
    # score test at lam = 0: where the likelihood falls as lam grows, its
    # maximum over lam >= 0 is at 0 (no evidence), so only the others are fitted
    rising = np.isfinite(ll0) & (score(c, e, R, scale, ["a", "lam"], start)[:, 1] > 0)
    lr = np.zeros(len(R))
    lam = np.zeros(len(R))
    a1 = np.full(len(R), np.nan)
    ll_best = ll0.copy()
    if rising.any():
        th1, _, ll1 = fit_binned(c[rising], e[rising], R[rising], scale[rising], ["a", "lam"],
                                 theta0=start[rising])
        lr[rising] = 2 * (ll1 - ll0[rising])
        lam[rising] = th1[:, 1]
        a1[rising] = th1[:, 0]
        ll_best[rising] = np.fmax(ll0[rising], ll1)
    return np.where(np.isfinite(lr) & (lam > 0), lr, 0.0), a1, ll_best


def _rise_persists(cand, master, edges, g_all, R_w, n_w, infl, scale, level, min_ess):
    """Which candidates for ``a = inf`` keep a rising slope among the nearest draws.

    ``cand`` (E,) marks the elements whose widest window calls for decay
    faster than any power. Each is tested again on its narrowest window with
    at least ``min_ess`` effective draws (the widest, already tested, when
    none has). Returns ``(is_inf, open_upper)``: confirmed, and not confirmed
    (finite ``a`` whose interval stays open above).
    """
    E, W = n_w.shape
    is_inf = cand.copy()
    idx = np.flatnonzero(cand)
    if idx.size == 0 or W == 1:
        return is_inf, np.zeros(E, bool)
    eff = n_w[idx] / infl[idx]
    near = np.where((eff >= min_ess).any(axis=1), np.argmax(eff >= min_ess, axis=1), W - 1)
    crit = _chi2_ppf(2 * level - 1, 1)
    for w in np.unique(near[near < W - 1]):
        rows = idx[near == w]
        lr, _, _ = _lambda_test(master[rows], edges[rows], g_all[rows, w], R_w[rows, w], scale[rows])
        is_inf[rows] = lr / infl[rows, w] > crit
    return is_inf, cand & ~is_inf


#: a row's index needs at least this many effective draws within one ``scale`` (the
#: element's sd) of the centre; fewer, and the draws do not reach the centre: the
#: index is unresolved (a far centre, a sampler that stops short)
REACH_ESS = 20.0
#: at a centre with draws on both sides, the REACH_ESS effective draws must lie within
#: this fraction of ``scale``: a centre in a thin tail (N(0, 1) at 3) shows the tail's
#: steep slope over the radii the draws reach, not the local index (a = 1)
INTERIOR_REACH = 0.25
#: at a boundary centre, effective draws needed within ``INTERIOR_REACH`` of the unit (sd)
#: of it: fewer, and the slope read (finite, or rising faster than any power) is the rise of
#: a tail that may level off below the draws. The degrees of freedom nu of a Student-t
#: (``nu + 2``, ``nu ~ Exponential(0.1)``, 200 normal data) have a positive density at 0
#: (``a = 1``, P(nu < 2) = 8e-5): 4 x 1000 draws read it "ok" in 10 of 10 replicates, ``a =
#: inf`` in 6 and 5.1-6.2 [0.9-4.6, inf] in 4; now unresolved in all. Gamma(3.5) at 0 (about
#: 25 independent draws within a quarter sd of 4,000) keeps its reading in 38 of 40
#: replicates; from AR(0.9) draws (about 2 effective draws there) it is unresolved
BOUNDARY_REACH_ESS = 10.0
#: the hard-edge test: likelihood-ratio level, largest edge exponent, smallest edge
#: position (as a fraction of the nearest distance) that count as "the draws stop
#: abruptly short of the centre"
EDGE_LEVEL = 0.999
EDGE_MAX_GAMMA = 2.0
EDGE_FRACTIONS = (0.5, 0.7, 0.85, 0.93, 0.97, 0.99, 0.997)
#: the hard-edge test runs on the narrowest windows up to this many (5%, 10%, 20% of the draws)
EDGE_WINDOWS = 3
#: a's interval widened this much by the log-term fit makes the row "log-ambiguous"
LOG_AMBIGUOUS_WIDEN = 1.5

#: b's lean (in standard errors) above which a's estimate leaves the wide-window power law
LOG_LEAN = 0.5


def _edge_test(master, edges, g, R, nearest, ll_smooth, infl, cum=None):
    """Do the nearest draws start abruptly at a positive distance (a hard edge)?

    On the window closing at master edge ``g``, the model
    ``M(r) = ((r - e) / (R - e))^gamma`` for ``r > e`` (no mass nearer than
    ``e``; ``gamma = 1``: a density that stays positive up to the edge, as
    when a sampler never goes beyond it, or a support that ends there) is
    fitted with ``e`` profiled over fractions of the nearest distance, and
    compared with the best smooth model from the centre (``ll_smooth``: a
    power law, with curvature or with decay faster than any power). Returns
    ``(edge, lr, e_hat)``: the edge model fits better at ``EDGE_LEVEL`` with
    ``gamma <= EDGE_MAX_GAMMA``, the likelihood ratio (divided by the
    autocorrelation inflation ``infl``) and the edge's position.
    """
    E = master.shape[0]
    c, e, _ = _aggregate(master, edges, g, cum=cum)
    best = np.full(E, -np.inf)
    gam = np.full(E, np.nan)
    pos = np.full(E, np.nan)
    start = np.ones((E, 1))
    for f in EDGE_FRACTIONS:
        sh = f * nearest
        with np.errstate(divide="ignore", invalid="ignore"):
            X = np.log(np.maximum(e - sh[:, None], 1e-300 * R[:, None]) / (R - sh)[:, None])[..., None]
        th, _, ll = fit_binned(c, e, R, np.ones(E), ["gamma"], theta0=start, features=X)
        # the next edge's fit starts at this one's estimate (the maximum moves little)
        start = np.where(np.isfinite(th) & (th > 0), th, 1.0)
        take = np.isfinite(ll) & (ll > best) & np.isfinite(th[:, 0])
        best = np.where(take, ll, best)
        gam = np.where(take, th[:, 0], gam)
        pos = np.where(take, sh, pos)
    with np.errstate(invalid="ignore"):
        lr = 2 * (best - ll_smooth) / infl
    edge = np.isfinite(lr) & (lr > _chi2_ppf(EDGE_LEVEL, 1)) & (gam <= EDGE_MAX_GAMMA)
    return edge, np.where(np.isfinite(lr), lr, 0.0), pos


def _reach(cum, edges, n_w, infl, unit, min_ess):
    """Smallest resolved radius and effective draws within ``unit`` of the centre.

    ``cum`` holds the master cells' cumulative counts. ``r_resolved`` is the
    radius holding ``min_ess`` effective draws (the ``min_ess * n / ESS``-th
    nearest distance, the ESS of the narrowest window's ball indicator);
    ``n_near`` the number of draws within ``unit`` divided by the inflation of
    the window closest to that radius. Returns ``r_resolved``, ``n_near``, its
    counterpart within ``INTERIOR_REACH * unit``, and the draws within ``unit``
    themselves (not divided).
    """
    k_res = min_ess * infl[:, 0]
    j = np.minimum((cum < k_res[:, None]).sum(axis=1), cum.shape[1] - 1)
    r_res = np.take_along_axis(edges, j[:, None], axis=1)[:, 0]
    r_res = np.where(cum[:, -1] >= k_res, r_res, np.inf)
    out = [r_res]
    for u in (unit, INTERIOR_REACH * unit):
        inside = np.where(edges <= u[:, None], cum, 0.0).max(axis=1)
        w = np.argmin(np.abs(np.log(np.maximum(n_w, 1.0) / np.maximum(inside, 1.0)[:, None])), axis=1)
        out.append(inside / np.take_along_axis(infl, w[:, None], axis=1)[:, 0])
        if u is unit:
            raw = inside
    return (*out, raw)


def curve_reach(radius, ess_inside, resolved, unit):
    """How far a mass curve built from draws reaches: effective draws within ``unit``, smallest resolved radius.

    The curve's counterpart of the draws' ``n_near`` and ``r_resolved``
    (:func:`_reach`): ``n_near`` is the ESS inside the largest radius at
    most ``unit`` or, when every radius is larger, inside the smallest one
    (an upper bound on the draws within ``unit``); NaN where the curve
    carries no ESS (exact curves, no draws: ``ess`` infinite or at least
    :data:`~.ess.EXACT_ESS`).

    Parameters
    ----------
    radius, ess_inside : ndarray (..., R)
    resolved : ndarray (..., R) of bool
    unit : ndarray (...)

    Returns
    -------
    n_near, r_resolved : ndarray (...)

    Examples
    --------
    >>> r = np.array([[7.0, 10.0, 20.0]])
    >>> n, rr = curve_reach(r, np.array([[9.0, 300.0, 3000.0]]), np.ones((1, 3), bool), np.array([1.0]))
    >>> float(n[0]), float(rr[0])   # a far centre: no radius within one unit, 9 draws at the smallest
    (9.0, 7.0)
    """
    radius, ess = np.asarray(radius, float), np.asarray(ess_inside, float)
    unit = np.asarray(unit, float)[..., None]
    known = np.isfinite(ess) & (ess < EXACT_ESS) & np.isfinite(radius)
    within = known & (radius <= unit)
    n_within = np.where(within, ess, -np.inf).max(axis=-1)
    smallest = np.argmin(np.where(known, radius, np.inf), axis=-1)[..., None]
    n_smallest = np.take_along_axis(ess, smallest, axis=-1)[..., 0]
    n_near = np.where(within.any(axis=-1), n_within, np.where(known.any(axis=-1), n_smallest, np.nan))
    res = np.asarray(resolved, bool) & np.isfinite(radius)
    r_resolved = np.where(res.any(axis=-1), np.where(res, radius, np.inf).min(axis=-1), np.inf)
    return n_near, r_resolved


def fit_index_draws(master, edges, k_targets, scale, *, boundary=None, inflation=None, shape_inflation=None,
                    ci_prob=0.94, b_level=0.999, inf_level=0.999, inf_near_level=0.7, inf_near_ess=45,
                    lepski=2.5, n_total=None, nearest=None, min_ess=10.0):
    """Mass Index (a, b) from binned nearest distances, with Lepski window choice.

    Parameters
    ----------
    master, edges : ndarray (E, G)
        Fine geometric cell counts of the nearest positive distances and the
        cells' upper edges (:func:`master_counts`).
    k_targets : list of int
        Nested window sizes (numbers of draws), ascending.
    scale : ndarray (E,)
        Unit of radius for the log term.
    boundary : ndarray (E,) of bool
        Centre at an edge of the draws: linear curvature term, else quadratic.
    shape_inflation : ndarray (E, W), optional
        Variance inflation of the slope fits per window (n / ESS of the power
        law's score in the window); default ``inflation``. It scales the
        standard errors of ``a`` and ``b`` and the likelihood-ratio test of
        the log term and the edge test; ``inflation`` (the ball indicator's)
        keeps counting effective draws and the ``a = inf`` tests.
    inflation : ndarray (E, W)
        Variance inflation per window for autocorrelated draws (n / ESS of
        the window indicator), >= 1.
    ci_prob : float
    b_level : float
        Likelihood-ratio level above which the log term is kept for ``a``.
    inf_level : float
        Level of the test for decay faster than any power, on the widest window.
    inf_near_level, inf_near_ess : float
        ``a = inf`` also needs the slope to keep rising among the nearest
        draws: a one-sided test of ``lambda > 0`` at ``inf_near_level`` on the
        narrowest window holding ``inf_near_ess`` effective draws. A steep
        stretch of a power law (a 5-D ball at a funnel's centre: slope 6.6 at
        the resolved radii, 5 below them) raises the slope over the wide
        window but levels off among the nearest draws; there ``a`` stays
        finite and its upper end is ``inf``.
    lepski : float
        Agreement threshold of Lepski's rule: window w is kept when for every
        narrower window v, |a_w - a_v| <= lepski * sqrt(se_v^2 + se_w^2).
    nearest : ndarray (E,), optional
        Distance of the nearest draw (default: read off the cells).
    min_ess : float
        Effective draws that make a radius resolved (for ``r_resolved``).

    Returns
    -------
    dict of ndarray (E,): ``a, a_lower, a_upper, b, b_lower, b_upper, window, n_window, is_inf``,
    ``unit`` (the unit of ``log(1/r)`` used: ``scale``, capped at 1/0.674
    times the median distance to the centre), and the evidence:
    ``r_resolved`` (radius holding ``min_ess`` effective draws), ``n_near``
    (effective draws within ``unit``), ``n_close`` (within ``INTERIOR_REACH *
    unit``), ``edge`` (the draws start abruptly at a positive distance:
    :func:`_edge_test`), ``unresolved`` (``n_near < REACH_ESS``, an edge, or
    a centre with draws on both sides and ``n_close < REACH_ESS``: a thin
    tail; then ``a`` is NaN in ``[0, inf]``, ``b`` NaN in ``[-inf, inf]``) and ``log_ambiguous`` (the log-term
    fit widened ``a``'s
    interval by more than ``LOG_AMBIGUOUS_WIDEN``).
    """
    ctx = _index_context(master, edges, k_targets, scale, boundary=boundary, inflation=inflation,
                         shape_inflation=shape_inflation, ci_prob=ci_prob)
    fits = _window_fits(ctx, b_level=b_level, inf_level=inf_level)
    chosen = _lepski_choice(fits["a"], fits["se"], lepski)
    chosen, curved, quartic = _local_window(ctx, fits, chosen)
    chosen = _unbent_window(ctx, fits, chosen)
    rising = _log_rise(ctx, fits)
    est = _chosen_estimates(ctx, fits, chosen, b_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        bend = _pick(fits["bend"], chosen) / np.abs(_pick(fits["a"], chosen))
    is_inf, inf_open = _rise_persists(fits["inf_wide"], master, edges, ctx["g_all"], ctx["R_w"], ctx["n_w"],
                                      ctx["infl"], ctx["scale"], inf_near_level, inf_near_ess)
    a, a_lo, a_hi, log_amb = _log_term_hull(ctx, est)
    a_lo, a_hi = _curvature_order_hull(ctx, fits, chosen, a_lo, a_hi, quartic)
    a, a_lo, window, n_window, steep = _steep_lower_end(ctx, a, a_lo, chosen, is_inf, inf_open)
    reach = _evidence_reach(ctx, fits["ll"], nearest, min_ess)
    return _index_result(ctx, est, reach, a=a, a_lo=a_lo, a_hi=a_hi, log_amb=log_amb, steep=steep,
                         is_inf=is_inf, window=window, n_window=n_window, bent=(bend > BEND_LIMIT) | curved | rising)


def _index_context(master, edges, k_targets, scale, *, boundary, inflation, shape_inflation, ci_prob):
    """The arrays every step of :func:`fit_index_draws` reads, checked and broadcast.

    Returns a dict: the cells (``master``, ``edges``), the windows' cells,
    radii and counts (``g_all``, ``R_w``, ``n_w``, each (E, W)), the unit of
    ``log(1/r)`` (``scale``), ``boundary``, the inflations (``infl``,
    ``infl_s``) and the normal quantile ``z`` of ``ci_prob``.
    """
    E = master.shape[0]
    W = len(k_targets)
    scale = np.asarray(scale, float) * np.ones(E)
    # the unit of log(1/r): the given scale (the sd), but no more than 1/0.674 times
    # the median distance to the centre (the sd of a Gaussian at its mean), so that
    # heavy tails, whose sd says nothing about the region near the centre, do not
    # squeeze log(1/r) into a narrow band where a log term stands in for curvature
    cum = np.cumsum(master, axis=1)
    half = np.argmax(cum >= 0.5 * cum[:, -1:], axis=1)
    median_dist = np.take_along_axis(edges, half[:, None], axis=1)[:, 0]
    scale = np.where(np.isfinite(median_dist) & (median_dist > 0), np.minimum(scale, median_dist / 0.674), scale)
    boundary = np.zeros(E, bool) if boundary is None else np.asarray(boundary, bool)
    infl = np.ones((E, W)) if inflation is None else np.maximum(np.asarray(inflation, float), 1.0)
    infl_s = infl if shape_inflation is None else np.maximum(np.asarray(shape_inflation, float), 1.0)
    z = special.ndtri(0.5 + ci_prob / 2)
    g_all = window_edges(master, edges, k_targets)
    return {"master": master, "edges": edges, "g_all": g_all, "R_w": np.take_along_axis(edges, g_all, axis=1),
            "n_w": np.take_along_axis(cum, g_all, axis=1), "cum": cum, "scale": scale,
            "boundary": boundary, "infl": infl, "infl_s": infl_s, "z": z}


def _window_fits(ctx, *, b_level, inf_level):
    """The power law (and, where kept, the log-term fit) on every window of every element.

    Returns a dict of (E, W) arrays: ``a`` and its ``se`` (NaN where the fit
    failed), ``b`` and ``sb`` (0 and inf without a log term), the log-term
    fit's ``af`` and ``sf``, the power law's log likelihood ``ll``; and
    ``inf_wide`` (E,): the widest window calls for decay faster than any power.
    """
    master, edges, g_all, R_w, n_w = (ctx[k] for k in ("master", "edges", "g_all", "R_w", "n_w"))
    boundary, scale, infl = ctx["boundary"], ctx["scale"], ctx["infl"]
    E, W = g_all.shape
    fits = {"a": np.full((E, W), np.nan), "se": np.full((E, W), np.nan), "b": np.zeros((E, W)),
            "sb": np.full((E, W), np.inf),
            "af": np.full((E, W), np.nan), "sf": np.full((E, W), np.nan),  # a of the model with the log term, its se
            "ll": np.full((E, W), np.nan),  # log likelihood of the power-law fit
            # the slope's rise across the window towards the centre, its lower end: -2 c (interior), -c1 (boundary)
            "bend": np.full((E, W), np.nan),
            "inf_wide": np.zeros(E, bool)}  # the widest window calls for decay faster than any power
    i_inf = W - 1
    for w in range(W):
        c, e, first = _aggregate(master, edges, g_all[:, w], cum=ctx["cum"])
        R = R_w[:, w]
        ok = n_w[:, w] >= 5
        for curv_terms in (BOUNDARY_TERMS, INTERIOR_TERMS):
            grp = np.flatnonzero(ok & (boundary == (curv_terms is BOUNDARY_TERMS)))
            if grp.size == 0:
                continue
            _fit_window_group(fits, ctx, w, grp, c[grp], e[grp], R[grp], curv_terms, b_level)
        if w == i_inf:
            grp = np.flatnonzero(ok)
            lr, a1, _ = _lambda_test(master[grp], edges[grp], g_all[grp, w], R[grp], scale[grp],
                                     cum=ctx["cum"][grp])
            fits["inf_wide"][grp] = (a1 <= 0) & (lr / infl[grp, w] > _chi2_ppf(inf_level, 1))
    return fits


def _fit_window_group(fits, ctx, w, grp, cg, eg, Rg, curv_terms, b_level):
    """Fill window ``w`` of elements ``grp`` (one kind of curvature term) in ``fits`` (:func:`_window_fits`).

    The power law with the curvature term; where ``log(scale / R)`` leaves
    room for it, the fit with the log term too, which becomes the window's
    ``a`` when the likelihood-ratio test at ``b_level`` keeps it and its
    ``a`` is compatible with the power law's.
    """
    sg, infl_s, z = ctx["scale"][grp], ctx["infl_s"], ctx["z"]
    th_r, cov_r, ll_r = fit_binned(cg, eg, Rg, sg, ["a", *curv_terms])
    a = th_r[:, 0]
    fits["ll"][grp, w] = ll_r
    if curv_terms is INTERIOR_TERMS:  # log M = a log t + c (t^2 - 1): the slope is a + 2 c t^2
        # (its lower end at the interval's level: few draws fit c loosely, and a chance rise is no bend)
        sc = np.sqrt(np.maximum(cov_r[:, 1, 1], 0) * infl_s[grp, w])
        fits["bend"][grp, w] = 2.0 * (th_r[:, 1] - BEND_Z * sc)
    else:  # log M = a log t + c1 (t - 1): the slope is a + c1 t; it rises towards the centre by -c1
        sc = np.sqrt(np.maximum(cov_r[:, 1, 1], 0) * infl_s[grp, w])
        fits["bend"][grp, w] = -(th_r[:, 1] + BEND_Z * sc)
    va = np.maximum(cov_r[:, 0, 0], 0) * infl_s[grp, w]
    can_b = np.log(sg / Rg) > 0.25
    if can_b.any():
        gb = np.flatnonzero(can_b)
        th_f, cov_f, ll_f = fit_binned(cg[gb], eg[gb], Rg[gb], sg[gb], ["a", "b", *curv_terms],
                                       theta0=np.column_stack([a[gb], np.zeros(gb.size), th_r[gb, 1:]]))
        good = (np.isfinite(ll_f) & (cov_f[:, 1, 1] > 0) & np.isfinite(cov_f[:, 0, 0])
                & (th_f[:, 0] > 0))
        fits["b"][grp[gb[good]], w] = th_f[good, 1]
        fits["sb"][grp[gb[good]], w] = np.sqrt(cov_f[good, 1, 1] * infl_s[grp[gb[good]], w])
        fits["af"][grp[gb[good]], w] = th_f[good, 0]
        fits["sf"][grp[gb[good]], w] = np.sqrt(np.maximum(cov_f[good, 0, 0], 0) * infl_s[grp[gb[good]], w])
        lr = 2 * (ll_f - ll_r[gb]) / infl_s[grp[gb], w]
        use = good & np.isfinite(lr) & (lr > _chi2_ppf(b_level, 1))
        # (and a compatible with the power law's: see the same rule after the window choice)
        with np.errstate(invalid="ignore"):
            s_f = np.sqrt(np.maximum(cov_f[:, 0, 0], 0) * infl_s[grp[gb], w])
            s_r = np.sqrt(va[gb])
            use &= np.abs(th_f[:, 0] - a[gb]) <= z * (s_f + s_r)
        a[gb[use]] = th_f[use, 0]
        va[gb[use]] = np.maximum(cov_f[use, 0, 0], 0) * infl_s[grp[gb[use]], w]
    fine = np.isfinite(a) & np.isfinite(va) & (a > 0)
    fits["a"][grp[fine], w] = a[fine]
    fits["se"][grp[fine], w] = np.sqrt(va[fine])


#: at an interior centre, the slope of the chosen window's power law (a + 2 c (r / R)^2) may rise
#: across the window by at most this share of a (the lower end of 2c at the interval's level);
#: beyond, the window is not local: the mass comes from further out (a trough, a thin tail). A
#: slope that falls (the mode of a normal in d dimensions: a + 2c = d - R^2 d / (d + 2)) is the
#: bulk's own curvature, not this. Over 200 replicates each of regular interior cases (normal at
#: its mean and 1.5 sd out, Cauchy, t3, sqrt- and log-singular densities, independent and AR(0.9),
#: 4 x 1000 draws) no row turns unresolved by it (2 x 300 draws: 0 to 2.8%, as before it); at a
#: trough between modes 2.5-3 sd apart or 2.5 sd out in a normal's tail, "ok" rows that read a
#: about 2 where it is 1 fall from 16-47% of replicates to 4-20%
BEND_LIMIT = 0.5


#: level of the likelihood-ratio test of a quartic term (slope a + 2 c t^2 + 4 d t^4) against
#: the interior power law with its quadratic term, on the chosen window: where it calls for
#: the quartic, the slope's change across the window is not the local curvature of a smooth
#: density (a trough between modes, a centre far out in a tail: the slope rises like
#: cosh, from a at the centre to the shoulder's), and the window steps in; where even the
#: narrowest fitted window calls for it, the draws do not reach the radii where the local
#: index shows (unresolved, like a thin tail). Over 200 replicates each (4 x 1000 draws), "ok"
#: rows excluding a = 1 at a trough between modes 3 sd from it fall from 14% to 3% (2.5 sd:
#: 9.5% to 2%); regular interior cases (normal at its mean and 1.5 sd out, Cauchy, t3, a
#: sqrt-singular density, AR(0.9)) keep every reading (2 x 300 draws: normal 1.5 sd out
#: unresolved in 4.5%, was 2.5%)
CURVE_LEVEL = 0.95


def _unbent_window(ctx, fits, chosen):
    """Step an interior centre's chosen window in to the widest narrower one whose slope does not bend.

    Lepski's rule keeps the widest window whose ``a`` agrees with the narrower ones'; its slope
    may still change across it by more than ``BEND_LIMIT`` of ``a`` while every narrower window's
    is steady (Gamma(0.5) at 1, its 84th percentile: the widest window reaches the density's pole
    at 0; every window read a = 1, yet the bend of the widest made 18 of 20 replicates
    "unresolved", as a thin tail). A window is read only where its own slope is steady; where
    none narrower is, the chosen one stays (and its bend leaves the row unresolved).
    Boundary centres are left as they are (their bend opens the interval above).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        steady = (fits["bend"] / np.abs(fits["a"]) <= BEND_LIMIT) & np.isfinite(fits["ll"])
    W = steady.shape[1]
    narrower = np.arange(W)[None, :] < chosen[:, None]
    cand = np.where(steady & narrower, np.arange(W)[None, :], -1).max(axis=1)
    step = ~ctx["boundary"] & ~_pick(steady, chosen) & (cand >= 0)
    return np.where(step, cand, chosen)


def _local_window(ctx, fits, chosen):
    """Step each interior centre's chosen window in until its quadratic curvature describes it.

    At the chosen window (and, stepping in, at each narrower one) the power law
    with the interior curvature term is tested against the same with a quartic
    term (:data:`CURVE_LEVEL`, the likelihood ratio divided by the window's
    inflation). Boundary centres and windows without a fit are left as they are.

    Returns ``(chosen, curved, quartic)``: the window to read, ``curved`` (E,)
    where even the narrowest fitted window calls for the quartic term, and
    ``quartic`` (E, 2): ``a`` of the fit with the quartic term at the window
    read and its standard error (NaN where not fitted).
    """
    E = chosen.size
    curved = np.zeros(E, bool)
    quartic = np.full((E, 2), np.nan)
    chosen = chosen.copy()
    todo = np.flatnonzero(~ctx["boundary"] & np.isfinite(_pick(fits["ll"], chosen)))
    crit = _chi2_ppf(CURVE_LEVEL, 1)
    first_ok = np.argmax(np.isfinite(fits["ll"]), axis=1)
    while todo.size:
        w = chosen[todo]
        c, e, R = _window_cells(ctx, todo, w)
        th4, cov4, ll4 = fit_binned(c, e, R, ctx["scale"][todo], ["a", "c2", "c4"])
        quartic[todo, 0] = th4[:, 0]
        quartic[todo, 1] = np.sqrt(np.maximum(cov4[:, 0, 0], 0) * ctx["infl_s"][todo, w])
        with np.errstate(invalid="ignore"):
            lr = 2 * (ll4 - fits["ll"][todo, w]) / ctx["infl_s"][todo, w]
            # (only where the quartic puts the slope at the centre below the window's a:
            # a falling slope that flattens, the mode of a normal, reads a little low, not high)
            bad = np.isfinite(lr) & (lr > crit) & (th4[:, 0] < fits["a"][todo, w])
        last = w <= first_ok[todo]
        curved[todo[bad & last]] = True
        step = bad & ~last
        chosen[todo[step]] -= 1
        todo = todo[step]
        quartic[todo] = np.nan  # (stepped in: fitted again at the narrower window, or not at all)
        todo = todo[np.isfinite(fits["ll"][todo, chosen[todo]])]
    return chosen, curved, quartic


#: level of the one-sided likelihood-ratio test, at a boundary centre, of a term ``kappa log(t)^2``
#: (``kappa < 0``, ``t = r / R``) beside the power law with linear and quadratic curvature on
#: the widest window: the slope ``a + c1 t + 2 c2 t^2 - 2 kappa log(1/t)`` keeps rising towards
#: the centre in ``log(1/t)``, without the limit a density analytic in ``r`` gives it. A
#: log-normal at 0 (``a = inf``) decays only like ``exp(-log(r)^2 / 2 sigma^2)``: over the radii
#: the draws reach its slope looks like a power's, and the draws cannot bound ``a`` from above.
#: Where the test calls for the term, ``a_upper = inf`` (see :func:`_index_result`'s ``bent``).
#: Over 20 replicates each (4,000 independent draws; 32,768 in brackets) "ok" rows with a
#: finite interval at a log-normal's 0 fall from 5 (11) to 5 (5) at sigma = 0.8, 15 (20) to 7 (0)
#: at 1.2, 18 (20) to 3 (0) at 1.6 and 19 (20) to 1 (0) at 2; over 40 replicates each of
#: half-normal, exponential, Gamma(2), Gamma(3.5), Beta(0.5, 2), uniform, half-Cauchy,
#: inverse-gamma and Weibull(1.5) at 0 (4 x 1000 draws) one row (half-Cauchy) turns open above
LOG_RISE_LEVEL = 0.99

#: the same test on a window of about :data:`LOG_RISE_DRAWS` draws (the fitted window nearest that
#: count, narrower than the widest), beside the power law with linear curvature only, at this
#: level: a log-normal's log-quadratic decay is scale-free, so a window of a fixed count keeps its
#: power as the draws grow, while the second-order terms of a regular boundary law (which the
#: quadratic term absorbs on the widest window) shrink with the window's radius. The
#: widest-window test alone left "ok" rows with a finite interval, excluding a = inf, at a
#: log-normal's 0: over 40 replicates of 4 x 1000 independent draws (``benchmarks/boundary.py``)
#: 9 of 24 "ok" rows at sigma = 0.8, 11 of 21 at 1 and 6 of 21 at 1.2; with this test 5 of 20,
#: 1 of 14 and 1 of 18 (the others open above or unresolved). It changed no row of half-normal,
#: exponential, Gamma(2), Gamma(3.5), Beta(0.5, 2), uniform, half-Cauchy and Weibull(1.5) at 0,
#: at 4 x 1000 (40 replicates each), 4 x 10,000 (20) and 4 x 40,000 draws (10, not uniform and
#: half-Cauchy). On the widest window without the quadratic term its likelihood ratio grew with
#: the draws for such laws (Gamma(3.5): up to 18 at 4 x 40,000), hence the fixed count
LOG_RISE_NEAR_LEVEL = 0.995
LOG_RISE_DRAWS = 1400


def _log_rise(ctx, fits):
    """Boundary centres whose slope keeps rising towards the centre in ``log(1/r)``.

    On the widest fitted window the power law with linear and quadratic
    curvature is tested against the same with ``kappa log(r / R)^2``,
    one-sided (only ``kappa < 0``: a slope that rises towards the centre),
    the likelihood ratio divided by the window's inflation
    (:data:`LOG_RISE_LEVEL`); where it does not call for the term, on the
    narrower window nearest :data:`LOG_RISE_DRAWS` draws, beside linear
    curvature only (:data:`LOG_RISE_NEAR_LEVEL`). Returns (E,) bool.
    """
    ll_w = fits["ll"]
    E, W = ll_w.shape
    rising = np.zeros(E, bool)
    fitted = np.isfinite(ll_w)
    rows = np.flatnonzero(ctx["boundary"] & fitted.any(axis=1))
    if rows.size == 0:
        return rising
    wide = W - 1 - np.argmax(fitted[rows, ::-1], axis=1)  # the widest window with a fit
    rising[rows] = _log_rise_test(ctx, rows, wide, ["a", "c1", "c2"], LOG_RISE_LEVEL)
    # a window of about LOG_RISE_DRAWS draws, narrower than the widest: linear curvature only
    n_w = np.where(fitted[rows], ctx["n_w"][rows], np.inf)
    near = np.argmin(np.abs(n_w - LOG_RISE_DRAWS), axis=1)
    near = np.where(near < wide, near, np.maximum(wide - 1, 0))
    sub = np.flatnonzero(~rising[rows] & (near < wide) & fitted[rows, near])
    if sub.size:
        rising[rows[sub]] = _log_rise_test(ctx, rows[sub], near[sub], ["a", "c1"], LOG_RISE_NEAR_LEVEL)
    return rising


def _log_rise_test(ctx, rows, w, terms, level):
    """One-sided likelihood-ratio test of ``kappa log(r / R)^2`` (``kappa < 0``) beside ``terms`` on window ``w``."""
    c, e, R = _window_cells(ctx, rows, w)
    th0, _, ll0 = fit_binned(c, e, R, ctx["scale"][rows], terms)
    start = np.column_stack([np.where(np.isfinite(th0), th0, 0.0), np.zeros(rows.size)])
    th, _, ll = fit_binned(c, e, R, ctx["scale"][rows], [*terms, "lq"], theta0=start)
    with np.errstate(invalid="ignore"):
        lr = 2 * (ll - ll0) / ctx["infl_s"][rows, w]
        return np.isfinite(lr) & (lr > _chi2_ppf(2 * level - 1, 1)) & (th[:, -1] < 0)


def _window_cells(ctx, rows, w):
    """Cells, their edges and the radius of window ``w`` (per row, or one for all) of elements ``rows``."""
    c, e, _ = _aggregate(ctx["master"][rows], ctx["edges"][rows], ctx["g_all"][rows, w], cum=ctx["cum"][rows])
    return c, e, ctx["R_w"][rows, w]


def _lepski_choice(a_w, se_w, lepski):
    """Lepski's rule: per element, the widest window whose ``a`` agrees with every narrower window's.

    Elements whose narrowest window failed start from the first that worked.
    """
    E, W = a_w.shape
    chosen = np.zeros(E, dtype=np.int64)
    for w in range(1, W):
        agree = np.ones(E, bool)
        for v in range(w):
            diff = np.abs(a_w[:, w] - a_w[:, v])
            tol = lepski * np.sqrt(se_w[:, v] ** 2 + se_w[:, w] ** 2)
            agree &= (diff <= tol) | ~np.isfinite(a_w[:, v]) | ~np.isfinite(tol)
        agree &= np.isfinite(a_w[:, w])
        chosen = np.where(agree & (chosen == w - 1), w, chosen)
    # elements whose narrowest window failed start from the first that worked
    first_ok = np.argmax(np.isfinite(a_w), axis=1)
    return np.maximum(chosen, first_ok)


def _pick(arr, chosen):
    """``arr[e, chosen[e]]`` for every element ``e``."""
    return np.take_along_axis(arr, chosen[:, None], axis=1)[:, 0]


def _chosen_estimates(ctx, fits, chosen, b_level):
    """``a``, ``b`` and their standard errors at the chosen window, with the window drift in the errors.

    The log's natural unit is profiled there (:func:`_profile_log_unit`);
    the log-term fit becomes the estimate where the test keeps it and its
    ``a`` is compatible with the power law's (``use``). Returns a dict with
    ``a, se, b, sb, af, sf, use``.
    """
    z = ctx["z"]
    a = _pick(fits["a"], chosen)
    se = _pick(fits["se"], chosen)
    # honest about window bias: add the change from narrower windows
    # (the drift over the last two widenings, so a slow systematic drift counts)
    prev = np.take_along_axis(fits["a"], np.maximum(chosen - 2, 0)[:, None], axis=1)[:, 0]
    shift = np.where((chosen > 0) & np.isfinite(prev), a - prev, 0.0)
    se = np.sqrt(se**2 + shift**2)
    b = _pick(fits["b"], chosen)
    sb = _pick(fits["sb"], chosen)
    af, sf = _pick(fits["af"], chosen), _pick(fits["sf"], chosen)
    # the log's natural unit is unknown (m = C r^a (log(1/r) + c)^b): at the
    # chosen window, profile the offset c over a grid by likelihood
    E = a.shape[0]
    refit = _profile_log_unit(ctx["master"], ctx["edges"], ctx["g_all"][np.arange(E), chosen],
                              _pick(ctx["R_w"], chosen), ctx["scale"], ctx["boundary"],
                              _pick(ctx["infl_s"], chosen), _pick(fits["ll"], chosen), b_level, cum=ctx["cum"])
    for key, arr in (("b", b), ("sb", sb), ("af", af), ("sf", sf)):
        np.copyto(arr, refit[key], where=refit["done"])
    use = refit["done"] & refit["use"]
    # the log-term fit becomes the estimate only where its a is compatible with the power
    # law's (intervals that overlap): at a narrow window a and b trade off, and a fit with
    # b = 16 and a = 4 for m = r log(1/r) passed the likelihood-ratio test under
    # autocorrelation. Elsewhere the power law stays the estimate and the hull below
    # gives a's interval every value the log-term fit allows.
    with np.errstate(invalid="ignore"):
        use &= (af - z * sf <= a + z * se) & (a - z * se <= af + z * sf)
    a = np.where(use, af, a)
    se = np.where(use, np.hypot(sf, shift), se)
    # as for a: b's drift over the last widening is part of its error (a log term
    # that only stands in for curvature the model lacks moves with the window)
    b_prev = np.take_along_axis(fits["b"], np.maximum(chosen - 1, 0)[:, None], axis=1)[:, 0]
    sb_prev = np.take_along_axis(fits["sb"], np.maximum(chosen - 1, 0)[:, None], axis=1)[:, 0]
    b_here = _pick(fits["b"], chosen)
    drift_b = np.where((chosen > 0) & np.isfinite(sb_prev) & np.isfinite(_pick(fits["sb"], chosen)),
                       b_here - b_prev, 0.0)
    sb = np.hypot(sb, drift_b)
    narrower = _log_term_from_narrower(ctx, fits, chosen, b, sb, af, sf, b_level)
    return {"a": a, "se": se, "b": b, "sb": sb, "af": af, "sf": sf, "use": use, "narrower": narrower}


def _log_term_from_narrower(ctx, fits, chosen, b, sb, af, sf, b_level):
    """Where the chosen window leaves no room for the log term, take it from the widest narrower window that has.

    A window reaching about one unit of ``log(1/r)`` cannot fit ``b``
    (``log(scale / R) <= 0.25``), yet the slope of ``m = r log(1/r)`` is
    ``1 - 1 / log(1/r)`` there: a horseshoe coefficient at 0 read
    0.61 [0.49, 0.75] from such a window (a = 1, b = 1). The log term the
    narrower windows allow then enters ``b`` and, through the hull of
    :func:`_log_term_hull`, ``a``'s interval (0.61 [0.49, 1.38] at 89% now); the
    estimate stays the chosen window's power law and the row is not
    "log-ambiguous" on this evidence alone. (Restricting the window choice to
    windows with room cost accuracy: benchmarks/accuracy.py's RMSE ratio rose
    from 0.64 to 0.80; letting the narrower fit move the estimate too, as a
    lean does at the chosen window, raised the RMSE of Gamma(3.5) at 0 from
    0.069 to 0.093 and of Beta(0.5) from 0.034 to 0.051.) ``b``'s error holds
    its drift to the window before. Fills ``b, sb, af, sf`` in place; returns
    the rows filled (E,) bool.
    """
    E, W = fits["b"].shape
    lacks = ~(np.isfinite(sb) & np.isfinite(af) & np.isfinite(sf))
    has = np.isfinite(fits["sb"]) & np.isfinite(fits["af"]) & np.isfinite(fits["sf"])
    has &= np.arange(W)[None, :] < chosen[:, None]
    filled = lacks & has.any(axis=1)
    rows = np.flatnonzero(filled)
    if rows.size == 0:
        return filled
    w = W - 1 - np.argmax(has[rows, ::-1], axis=1)  # the widest such window
    # with the log's unit profiled there, as at a chosen window (m = r log(e/r) at a
    # boundary, U1 U2 at 0, fits b = -1.2 with the unit the sd and b = 1 with its own)
    refit = _profile_log_unit(ctx["master"][rows], ctx["edges"][rows], ctx["g_all"][rows, w],
                              ctx["R_w"][rows, w], ctx["scale"][rows], ctx["boundary"][rows],
                              ctx["infl_s"][rows, w], fits["ll"][rows, w], b_level, cum=ctx["cum"][rows])
    b_w = np.where(refit["done"], refit["b"], fits["b"][rows, w])
    sb_w = np.where(refit["done"], refit["sb"], fits["sb"][rows, w])
    af_w = np.where(refit["done"], refit["af"], fits["af"][rows, w])
    sf_w = np.where(refit["done"], refit["sf"], fits["sf"][rows, w])
    # (only where that window leans towards a log term that raises the density near the
    # centre, b > LOG_LEAN se(b), the one that biases the wide window's power law low: a
    # narrow window's loose fit would otherwise widen every such interval, a half-normal's
    # at 0 from [0.93, 1.2] to [0, 1.2] with b = -2.9 [-17, 11])
    lean = b_w > LOG_LEAN * sb_w
    filled[rows[~lean]] = False
    rows, w, b_w, sb_w, af_w, sf_w = rows[lean], w[lean], b_w[lean], sb_w[lean], af_w[lean], sf_w[lean]
    wp = np.maximum(w - 1, 0)
    b_p, sb_p = fits["b"][rows, wp], fits["sb"][rows, wp]
    # (the drift between the two windows' fits with the unit the scale, as at a chosen window)
    drift = np.where((w > 0) & np.isfinite(sb_p), fits["b"][rows, w] - b_p, 0.0)
    b[rows], sb[rows] = b_w, np.hypot(sb_w, drift)
    af[rows], sf[rows] = af_w, sf_w
    return filled


def _log_term_hull(ctx, est):
    """The estimate of ``a`` and its interval when the draws cannot separate ``b`` from ``a``.

    Returns ``a, a_lower, a_upper`` and the ``log_ambiguous`` flag.
    """
    n_w, scale = ctx["n_w"], ctx["scale"]
    z = ctx["z"]
    a, se, b, sb, af, sf, use = (est[k] for k in ("a", "se", "b", "sb", "af", "sf", "use"))
    a_lo, a_hi = a - z * se, a + z * se
    # a and b trade off over a finite range of radii: dropping a log term
    # biases a by about -b / log(1/r). When the draws point to a log term (b's
    # interval excludes 0) but the likelihood-ratio test kept the power law
    # for the estimate, the interval of a also holds the fit with the log
    # term. Otherwise a's interval is that of the power law (b = 0), and b's
    # interval says how large a log term the draws cannot rule out.
    # When the draws cannot separate b from a, a's interval holds every value
    # compatible with b's interval: the hull of the power law's interval and the
    # log-term fit's (the projection of the joint (a, b) region on a). Where that
    # widens a's interval by more than LOG_AMBIGUOUS_WIDEN the row is
    # "log-ambiguous", and the estimate is the hull's midpoint (the power law alone
    # is biased by about -b / log(1/r): m = r log(1/r) reads as a = 0.8).
    hull = np.isfinite(sb) & np.isfinite(af) & np.isfinite(sf) & ~use
    width_p = a_hi - a_lo
    h_lo = np.where(hull, np.minimum(a_lo, af - z * sf), a_lo)
    h_hi = np.where(hull, np.maximum(a_hi, af + z * sf), a_hi)
    # "log-ambiguous": the hull matters (it widens a's interval by more than
    # LOG_AMBIGUOUS_WIDEN) and the draws lean towards a log term (b's 90% interval
    # excludes 0).
    with np.errstate(invalid="ignore"):
        log_amb = hull & ((h_hi - h_lo) > LOG_AMBIGUOUS_WIDEN * width_p) & (np.abs(b) > HULL_Z * sb)
    # (a log term from a narrower window than the chosen one widens the interval only)
    log_amb &= ~est["narrower"]
    # Where the draws lean towards a log term that raises the density near the
    # centre (b > LOG_LEAN * se(b): horseshoe-type and log-singular densities), the
    # power law over a wide window is biased low by about b / log(1/r) (m = r log(1/r)
    # reads as a = 0.8). The estimate is then the inverse-variance mean of the two
    # fits that carry less of that bias: the plain power law on the nearest draws
    # (the Hill estimator's local slope, binned) and the fit with the log term. Its
    # interval stays the hull. (benchmarks/accuracy.py: RMSE of a for m = r log(1/r)
    # 0.13 against Hill's 0.15, where the wide-window power law gave 0.18; for a
    # normal mean 0.07 against Hill's 0.09.)
    with np.errstate(invalid="ignore", divide="ignore"):
        lean = hull & ~est["narrower"] & (n_w[:, 0] >= 5) & (b > LOG_LEAN * sb) & np.isfinite(af) & (sf > 0)
    ga = np.flatnonzero(lean)
    if ga.size:
        c0, e0_, R0 = _window_cells(ctx, ga, 0)
        th0, cov0, _ = fit_binned(c0, e0_, R0, scale[ga], ["a"])
        v0 = np.maximum(cov0[:, 0, 0], 0) * ctx["infl_s"][ga, 0]
        # (only where it lies inside the hull: a failed or wild narrow fit keeps the power law)
        ok0 = (np.isfinite(th0[:, 0]) & (v0 > 0) & (th0[:, 0] > np.maximum(h_lo[ga], 0.0))
               & (th0[:, 0] < h_hi[ga]))
        w0, wf = 1.0 / v0[ok0], 1.0 / sf[ga[ok0]] ** 2
        a[ga[ok0]] = (w0 * th0[ok0, 0] + wf * af[ga[ok0]]) / (w0 + wf)
    a_lo, a_hi = np.minimum(h_lo, a), np.maximum(h_hi, a)
    return a, a_lo, a_hi, log_amb


def _curvature_order_hull(ctx, fits, chosen, a_lo, a_hi, quartic):
    """``a``'s interval also holds the fit with the next curvature order at the chosen window.

    The windows are fixed shares of the draws, so the bias of a curvature
    order the fit lacks stays while the standard error shrinks; the draws
    cannot tell the orders apart, so the interval holds both (the estimate
    stays the lower order's: taking the higher order's where its likelihood
    ratio is significant raised the RMSE of Gamma(3.5) at 0 from 0.067 to
    0.17).

    - At a boundary centre the fit's curvature is ``c1 r``, but a folded
      density (``f'(0) = 0``: a half-normal, a half-Cauchy scale at 0) curves
      like ``r^2``, and a Gamma(2) at 0 like both: the interval holds the fit
      with ``c1 r + c2 r^2``. At 4 x 10,000 draws the half-normal's interval
      excluded 1 in 13-19% of replicates and the Gamma(2)'s excluded 2 in
      18-28% (nominal 11%); about 4% now, for intervals 25-35% wider.
    - At an interior centre the fit's curvature is ``c2 r^2``; the interval
      holds the fit with the quartic term too (``quartic``, from
      :func:`_local_window`). A normal 1.5 sd out and a mixture's slope
      (0.3 N(-1.5, 1) + 0.7 N(1.5, 1) at 0), whose slopes rise like cosh,
      missed 1 in 13.5-14.5% of 400 replicates; 4-6% now, for intervals 3-12%
      wider (a normal at its mean: 0.5%).
    """
    a_lo, a_hi = a_lo.copy(), a_hi.copy()
    z = ctx["z"]
    gi = np.flatnonzero(ctx["boundary"] & np.isfinite(_pick(fits["ll"], chosen)))
    if gi.size:
        w = chosen[gi]
        c, e, R = _window_cells(ctx, gi, w)
        th, cov, _ = fit_binned(c, e, R, ctx["scale"][gi], ["a", "c1", "c2"])
        a2 = np.full((a_lo.size, 2), np.nan)
        a2[gi, 0] = th[:, 0]
        a2[gi, 1] = np.sqrt(np.maximum(cov[:, 0, 0], 0) * ctx["infl_s"][gi, w])
        quartic = np.where(ctx["boundary"][:, None], a2, quartic)
    h = np.isfinite(quartic[:, 0]) & np.isfinite(quartic[:, 1])
    a_lo[h] = np.minimum(a_lo[h], quartic[h, 0] - z * quartic[h, 1])
    a_hi[h] = np.maximum(a_hi[h], quartic[h, 0] + z * quartic[h, 1])
    return a_lo, a_hi


def _steep_lower_end(ctx, a, a_lo, chosen, is_inf, inf_open):
    """Where the slope rises without bound (``a = inf`` or not confirmed): the local slope of the nearest draws.

    Returns ``a, a_lower, window, n_window`` and the ``steep`` flag.
    """
    R_w, n_w, scale = ctx["R_w"], ctx["n_w"], ctx["scale"]
    E = a.shape[0]
    # a = inf is a statement about the resolved radii (the draws cannot tell
    # decay faster than any power from a steep power law below them): its
    # interval starts at the local slope of the nearest draws, the plain power
    # law on the narrowest window (slopes that rise as r shrinks make it low,
    # the right side for a lower end). Where the wide window's rise is not
    # confirmed among the nearest draws (inf_open), that local slope is the
    # estimate, and the interval stays open above.
    window, n_window = _pick(R_w, chosen), _pick(n_w, chosen)
    steep = is_inf | inf_open
    gi = np.flatnonzero(steep & (n_w[:, 0] >= 5))
    if gi.size:
        c0, e0, R0 = _window_cells(ctx, gi, 0)
        th_n, cov_n, _ = fit_binned(c0, e0, R0, scale[gi], ["a"])
        near_lo = th_n[:, 0] - ctx["z"] * np.sqrt(np.maximum(cov_n[:, 0, 0], 0) * ctx["infl_s"][gi, 0])
        a_lo[gi] = np.where(np.isfinite(near_lo), near_lo, 0.0)
        near_ok = inf_open[gi] & np.isfinite(th_n[:, 0])
        a[gi[near_ok]] = th_n[near_ok, 0]
        window[gi[near_ok]], n_window[gi[near_ok]] = R_w[gi[near_ok], 0], n_w[gi[near_ok], 0]
    a_lo = np.where(steep & ~np.isin(np.arange(E), gi), 0.0, a_lo)
    return a, a_lo, window, n_window, steep


def _evidence_reach(ctx, ll_w, nearest, min_ess):
    """How far the evidence reaches: nearest draw, smallest resolved radius, draws near the centre, an edge.

    Returns a dict with ``nearest, r_resolved, n_near, n_near_draws, n_close, edge, edge_position``.
    """
    master, edges, g_all, R_w, n_w, scale = (ctx[k] for k in ("master", "edges", "g_all", "R_w", "n_w", "scale"))
    E, W = g_all.shape
    # how far the evidence reaches: the smallest resolved radius, the effective
    # draws within one unit of the centre, and whether the draws stop abruptly
    # short of it; where they do not reach it, no index is claimed
    if nearest is None:
        nearest = edges[:, 0] ** 2 / np.maximum(edges[:, 1], edges[:, 0])
    nearest = np.asarray(nearest, float) * np.ones(E)
    r_res, n_near, n_close, n_near_draws = _reach(ctx["cum"], edges, n_w, ctx["infl"], scale, min_ess)
    edge = np.zeros(E, bool)
    edge_pos = np.full(E, np.nan)
    # on the windows up to EDGE_WINDOWS (the edge shows best a little away from it,
    # where a smooth law would have to flatten again)
    for w in range(min(EDGE_WINDOWS, W)):
        gi = np.flatnonzero((n_w[:, w] >= 5) & (nearest > 0) & ~edge)
        if gi.size == 0:
            continue
        cum = ctx["cum"][gi]
        _, _, ll_lam = _lambda_test(master[gi], edges[gi], g_all[gi, w], R_w[gi, w], scale[gi], cum=cum)
        ll_smooth = np.fmax(ll_lam, ll_w[gi, w])
        edge[gi], _, edge_pos[gi] = _edge_test(master[gi], edges[gi], g_all[gi, w], R_w[gi, w], nearest[gi],
                                               ll_smooth, ctx["infl_s"][gi, w], cum=cum)
    return {"nearest": nearest, "r_resolved": r_res, "n_near": n_near, "n_near_draws": n_near_draws,
            "n_close": n_close, "edge": edge, "edge_position": edge_pos}


def _index_result(ctx, est, reach, *, a, a_lo, a_hi, log_amb, steep, is_inf, window, n_window, bent=None):
    """The dict :func:`fit_index_draws` returns; no index is claimed where the evidence does not reach.

    ``bent``: the chosen window's slope changes across it by more than ``BEND_LIMIT`` of the
    index. At an interior centre (rising away from it) the window is not local (a thin tail,
    a trough between modes), and the draws do not reach the radii where the slope settles:
    unresolved like a thin tail. At a boundary centre (rising towards it) the slope has not
    settled at the radii the draws reach: they bound ``a`` from below only (``a_upper = inf``).
    A log-normal at 0, whose mass decays faster than any power but only like
    ``exp(-log(r)^2 / 2 sigma^2)``, read "ok" with a finite interval at sigma = 0.8 in 10 of 10
    replicates (4 x 1000 draws), 0 now; Gamma(3.5) at 0 (a = 3.5) keeps its reading with the
    interval open above in about a quarter of replicates.
    """
    z, b, sb = ctx["z"], est["b"], est["sb"]
    log_amb = log_amb & ~steep
    thin_tail = reach["n_close"] < np.where(ctx["boundary"], BOUNDARY_REACH_ESS, REACH_ESS)
    open_top = np.zeros_like(is_inf)
    if bent is not None:
        thin_tail |= ~ctx["boundary"] & bent & ~is_inf
        open_top = ctx["boundary"] & bent & ~is_inf
    no_b = steep | open_top | ~np.isfinite(sb)
    # (no radius holds min_ess effective draws: nothing is resolved at all; or no window's fit
    # gave an index, as where a joint ball's window holds a handful of draws: a = NaN is no
    # reading, and "ok" beside it would say the draws support one)
    unresolved = (reach["n_near"] < REACH_ESS) | reach["edge"] | thin_tail | ~np.isfinite(reach["r_resolved"])
    unresolved |= ~is_inf & ~(np.isfinite(a) & np.isfinite(a_lo) & ~np.isnan(a_hi))
    # (an interval [0, inf] allows every index: the draws resolve none, whatever the fit's estimate;
    # a Student-t's nu at 0, a about 50, read 3.1 [0, inf] "ok" from draws that stop at 1.7)
    with np.errstate(invalid="ignore"):
        unresolved |= ~is_inf & ~(a_lo > 0) & (steep | open_top | np.isposinf(a_hi))
    a = np.where(is_inf, np.inf, a)
    return {
        "a": np.where(unresolved, np.nan, a),
        "a_lower": np.where(unresolved, 0.0, np.maximum(a_lo, 0.0)),
        "a_upper": np.where(steep | unresolved | open_top, np.inf, a_hi),
        "b": np.where(unresolved, np.nan, np.where(no_b, 0.0, b)),
        "b_lower": np.where(no_b | unresolved, -np.inf, b - z * sb),
        "b_upper": np.where(no_b | unresolved, np.inf, b + z * sb),
        "window": window,
        "n_window": n_window,
        "is_inf": is_inf & ~unresolved,
        # the draws thin out faster than any power towards the centre, but too few reach it
        "inf_unreached": is_inf & unresolved,
        "unit": ctx["scale"],
        "nearest": reach["nearest"],
        "r_resolved": reach["r_resolved"],
        "n_near": reach["n_near"],
        "n_near_draws": reach["n_near_draws"],
        "edge": reach["edge"],
        "edge_position": reach["edge_position"],
        "unresolved": unresolved,
        "n_close": reach["n_close"],
        "log_ambiguous": log_amb & ~unresolved,
    }


def hill_estimator(sorted_r, k):
    """Levina-Bickel (Hill) estimator of the local dimension.

    Uses the ``k`` nearest distances: ``1 / mean(log(r_k / r_j), j < k)``.

    Parameters
    ----------
    sorted_r : ndarray (..., >= k)
        Positive distances in increasing order.
    k : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = np.sort(rng.random(100000) ** 0.5)   # m(r) = r^2 on [0, 1]
    >>> bool(abs(hill_estimator(r, 1000) - 2) < 0.15)
    True
    """
    r = np.asarray(sorted_r, dtype=float)[..., :k]
    logs = np.log(r[..., -1:] / r[..., :-1])
    return (k - 1) / logs.sum(axis=-1)


def finite_difference_slopes(radius, mass):
    """Finite-radius slopes d log m / d log r between consecutive radii.

    This is what the paper's reference code plots (Figure 2): slopes at the
    geometric midpoints of the radius grid.

    Returns
    -------
    mid_radius, slope : ndarray (..., R-1)

    Examples
    --------
    >>> r = np.array([0.1, 0.2, 0.4])
    >>> finite_difference_slopes(r, r**3)[1]
    array([3., 3.])
    """
    lr = np.log(np.asarray(radius, dtype=float))
    with np.errstate(divide="ignore"):
        lm = np.log(np.asarray(mass, dtype=float))
    slope = np.diff(lm, axis=-1) / np.diff(lr, axis=-1)
    mid = np.exp(0.5 * (lr[..., 1:] + lr[..., :-1]))
    return mid, slope


#: fractions of the slopes (innermost first) in the nested windows of fit_slopes
SLOPE_WINDOWS = (0.25, 0.4, 0.6, 0.8, 1.0)
MIN_WINDOW_SLOPES = 6
#: differences of a below this (relative) count as agreement in the window choice: the
#: log unit's profiled offset is found on a grid, which precise slopes would otherwise resolve
WINDOW_AGREE_REL = 0.01


def fit_slopes(radius, slope, cov, scale, quantile, *, fit_b=True, b_level=0.999, sensitivity=True,
               lepski=2.5, curvature=False, _in_window=False, _unit=None, _l0=None, _a_model=None):
    """Index (a, b) by weighted least squares on finite-radius slopes.

    The slopes ``s_j`` at the radii ``radius`` (geometric midpoints of
    consecutive balls) are fitted by the power law ``s = a`` and, where the
    log term can be fitted (every ``L > 0.25`` and at least three slopes), by
    ``s = a - b / (L + L0)``, ``L = log(unit / r)``: the exact slope of
    ``m = C r^a (log(1/r) + c)^b``. The offset ``L0`` of the logarithm's
    natural unit is profiled over a grid when the range of ``L`` is wide (five
    slopes or more, ``max L > 2 min L``; always inside the window choice
    below); the unit is then ``max(scale, 2 max(radius))`` (the offset
    absorbs the rest), otherwise ``scale``.

    The estimate of ``a`` is the log-term fit's when the drop in the weighted
    residual sum of squares passes a chi-square test at ``b_level`` (scaled
    by the residual dispersion), else the power law's; its interval also holds
    the log-term fit's whenever ``b``'s 90% interval excludes 0 (a and b trade off
    over a finite range of radii). Covariances are sandwiches with the slopes'
    covariance ``cov`` (``L0`` included, through the Jacobian), scaled up by
    the residual dispersion when the fit is worse than that precision.

    Window sensitivity: the model has no ``r^k`` terms, so with five slopes
    or more the fit is repeated on the inner half (the smallest radii), once
    with the same unit, offset ``L0`` and model for ``a`` (power law or log
    term) and once chosen afresh, and the larger change of ``a`` and of ``b``
    is added to their interval half-widths (in quadrature): the bias that the
    outer radii and the choice of the log's unit bring, which precise curves
    (model tier) would otherwise hide.

    Window: with eight slopes or more the fit is made on nested windows of the
    innermost 25, 40, 60, 80 and 100% of them (at least six), and the widest
    window whose ``a`` agrees with every narrower one's within ``lepski``
    combined standard errors (or 1%) is kept (Lepski's rule, as for draws): outer
    radii whose curvature the model lacks are dropped instead of biasing the
    fit. ``n_used`` says how many slopes (the innermost) the result uses.

    Parameters
    ----------
    radius, slope : ndarray (S,)
    cov : ndarray (S,) or (S, S)
        Variances (independent slopes) or the full covariance of the slopes.
    scale : float
        Unit of radius for the log term.
    quantile : float
        Multiplier of the standard errors for the interval ends (a normal or
        t quantile).
    fit_b : bool, default True
        Fit the log index; False fits ``a`` alone.
    b_level : float, default 0.999
        Level of the test that makes the log-term fit the estimate of ``a``.
    sensitivity : bool, default True
        Widen the intervals by the inner-half refit (see above).
    lepski : float or None, default 2.5
        Agreement threshold of the window choice; None fits all the slopes.
    curvature : bool, default False
        Add ``c1 r + c2 r^2`` to the model (five slopes or more): the
        curvature of a smooth density over radii up to its sd (a curve of
        draws), linear at a boundary or a sloped density, quadratic at an
        interior centre. Without it, near-exact curves at radii far below
        the sd (model tier) are fitted as before.

    Returns
    -------
    dict with ``a, a_lower, a_upper, b, b_lower, b_upper`` (b = 0 with an
    infinite interval when it is not fitted), ``l0``, ``unit``, ``a_model``
    (``"power"`` or ``"log"``: which fit gave ``a``) and ``n_used``.

    Examples
    --------
    >>> r = np.geomspace(1e-8, 1e-2, 30)
    >>> m = r * (2 + np.log(1 / r))
    >>> mid = np.sqrt(r[1:] * r[:-1])
    >>> s = np.diff(np.log(m)) / np.diff(np.log(r))
    >>> res = fit_slopes(mid, s, np.full(s.size, 1e-6), 1.0, 2.0)
    >>> bool(abs(res["a"] - 1) < 1e-3 and abs(res["b"] - 1) < 1e-2)
    True
    """
    s = np.asarray(slope, float)
    rmid = np.asarray(radius, float)
    sig = np.asarray(cov, float)
    sig = np.diag(sig) if sig.ndim == 1 else sig
    if lepski is not None and s.size >= 8:
        return _slopes_by_window(rmid, s, sig, scale, quantile, fit_b=fit_b, b_level=b_level,
                                 sensitivity=sensitivity, lepski=lepski, curvature=curvature)
    out = _slopes_fit(rmid, s, sig, scale, quantile, fit_b=fit_b, b_level=b_level, in_window=_in_window,
                      unit=_unit, l0=_l0, a_model=_a_model, curvature=curvature)
    if sensitivity:
        _widen_by_inner_half(out, rmid, s, sig, scale, quantile, fit_b, b_level, curvature)
    out["a_lower"] = max(out["a_lower"], 0.0)
    return out


def _slopes_by_window(rmid, s, sig, scale, quantile, *, fit_b, b_level, sensitivity, lepski, curvature=False):
    """:func:`fit_slopes` on nested windows of the innermost slopes, the widest that agrees kept (Lepski).

    Parameters
    ----------
    rmid, s : ndarray (S,)
        Radii and slopes.
    sig : ndarray (S, S)
        Covariance of the slopes.
    scale, quantile, fit_b, b_level, sensitivity, lepski, curvature
        As in :func:`fit_slopes`.

    Returns
    -------
    dict
        As :func:`fit_slopes` returns.
    """
    order = np.argsort(rmid)
    sizes = sorted({max(MIN_WINDOW_SLOPES, int(round(f * s.size))) for f in SLOPE_WINDOWS})
    fits = []
    for n in sizes:
        sub = order[:n]
        fits.append(fit_slopes(rmid[sub], s[sub], sig[np.ix_(sub, sub)], scale, quantile, fit_b=fit_b,
                               b_level=b_level, sensitivity=False, lepski=None, curvature=curvature,
                               _in_window=True))
    se = [max(f["a_upper"] - f["a"], f["a"] - f["a_lower"]) / quantile for f in fits]
    chosen = 0
    for w_ in range(1, len(sizes)):
        ok = np.isfinite(fits[w_]["a"]) and all(
            abs(fits[w_]["a"] - fits[v]["a"]) <= max(lepski * np.hypot(se[v], se[w_]),
                                                       WINDOW_AGREE_REL * abs(fits[v]["a"]))
            for v in range(w_)
            if np.isfinite(fits[v]["a"]) and np.isfinite(se[v]))
        if not ok:
            break
        chosen = w_
    sub = order[:sizes[chosen]]  # the chosen window's fit is done: only its sensitivity is left
    out = fits[chosen]
    if sensitivity:
        # from the window fit's own interval (its a_lower was cut at 0 after the fit, as below)
        out["a_lower"] = out.pop("_a_lower_raw")
        _widen_by_inner_half(out, rmid[sub], s[sub], sig[np.ix_(sub, sub)], scale, quantile, fit_b, b_level,
                             curvature)
    out.pop("_a_lower_raw", None)
    out["a_lower"] = max(out["a_lower"], 0.0)
    return out


def _weighted_ls(s, w, cols):
    """Weighted least squares of ``s`` on a constant and ``cols``: the coefficients and the weighted RSS."""
    A = np.column_stack([np.ones_like(s)] + cols)
    AtW = A.T * w
    coef = np.linalg.pinv(AtW @ A) @ (AtW @ s)
    return coef, float(((s - A @ coef) ** 2 * w).sum())


def _sandwich(J, ssr, s, w, sig):
    """Sandwich covariance of a weighted fit with Jacobian ``J`` (scaled up by the dispersion) and the dispersion."""
    JtW = J.T * w
    M = np.linalg.pinv(JtW @ J)
    dof = max(s.size - J.shape[1], 1)
    return M @ (JtW @ sig @ JtW.T) @ M * max(1.0, ssr / dof), max(1.0, ssr / dof)


def _slopes_fit(rmid, s, sig, scale, quantile, *, fit_b, b_level, in_window, unit, l0, a_model, curvature=False):
    """One fit of :func:`fit_slopes` on all the slopes given (no window choice, no sensitivity).

    ``unit``, ``l0`` and ``a_model`` fix the log's unit, its offset and the
    model for ``a`` (a sensitivity refit keeps its parent's); None chooses.
    Inside a window choice (``in_window``) the offset is always profiled and
    the uncut lower end of ``a`` is kept as ``_a_lower_raw``.
    """
    w = 1.0 / np.diag(sig)
    wide = s.size >= 5
    # curvature of a smooth density over the radii (fit_slopes' curvature=): r and r^2, in the unit of
    # the largest radius (the same model in any unit; the sd of heavy tails would make the columns tiny)
    curv = [rmid / rmid.max(), (rmid / rmid.max()) ** 2] if curvature and wide else []
    unit = unit if unit is not None else (max(scale, 2.0 * rmid.max()) if wide else scale)
    L = np.log(unit / rmid)
    use_b = fit_b and bool(np.all(L > 0.25)) and s.size >= 3
    # inside the window choice the offset is always profiled (a narrow range of L then
    # leaves it, and hence a, loosely determined, which the standard errors carry);
    # a sensitivity refit keeps its parent's
    use_l0 = use_b and l0 is None and wide and (L.max() > 2 * L.min() or in_window)
    coef_r, ssr_r = _weighted_ls(s, w, curv)
    cov_r, _ = _sandwich(np.column_stack([np.ones_like(s)] + curv), ssr_r, s, w, sig)
    a, sa = float(coef_r[0]), float(np.sqrt(max(cov_r[0, 0], 0.0)))
    a_lo, a_hi = a - quantile * sa, a + quantile * sa
    out = {"b": 0.0, "b_lower": -np.inf, "b_upper": np.inf, "l0": 0.0, "unit": float(unit), "a_model": "power",
           "rise_lower": np.nan}
    if curv:  # the power law's slope rise from r = 0 to the largest radius (c1 + c2), its lower end
        rise = float(coef_r[1] + coef_r[2])
        v_rise = float(cov_r[1, 1] + cov_r[2, 2] + 2 * cov_r[1, 2])
        out["rise_lower"] = rise - quantile * np.sqrt(max(v_rise, 0.0))
    if use_b:
        l0 = 0.0 if l0 is None else float(l0)
        if use_l0:
            l0 = _profile_slope_offset(s, w, L, curv)
        coef, ssr = _weighted_ls(s, w, [-1.0 / (L + l0)] + curv)
        u = L + l0
        # d s / d(a, b, curvature terms, L0)
        J = np.column_stack([np.ones_like(s), -1.0 / u] + curv + ([coef[1] / u**2] if use_l0 else []))
        cov_f, disp = _sandwich(J, ssr, s, w, sig)
        af, sf = float(coef[0]), float(np.sqrt(max(cov_f[0, 0], 0.0)))
        b, sb = float(coef[1]), float(np.sqrt(max(cov_f[1, 1], 0.0)))
        out.update(b=b, b_lower=b - quantile * sb, b_upper=b + quantile * sb, l0=l0)
        n_extra = 2 if use_l0 else 1
        log_model = ((ssr_r - ssr) / disp > _chi2_ppf(b_level, n_extra)) if a_model is None \
            else a_model == "log"
        if log_model:
            a, a_lo, a_hi = af, af - quantile * sf, af + quantile * sf
            out["a_model"] = "log"
        elif abs(b) > HULL_Z * sb:
            a_lo, a_hi = min(a_lo, af - quantile * sf), max(a_hi, af + quantile * sf)
    out.update(a=a, a_lower=a_lo, a_upper=a_hi, n_used=int(s.size))
    if in_window:
        out["_a_lower_raw"] = a_lo
    return out


def _profile_slope_offset(s, w, L, curv=()):
    """The offset ``L0`` of the log's unit that fits the slopes best (beside the columns ``curv``).

    A coarse grid (denser near 0), then refined between the best point's neighbours.
    """
    def best(grid):
        ssr_g = [_weighted_ls(s, w, [-1.0 / (L + g)] + list(curv))[1] for g in grid]
        k = int(np.argmin(ssr_g))
        return grid, k

    grid, k = best(np.concatenate([np.linspace(-0.5 * L.min(), 0.0, 8, endpoint=False),
                                   np.geomspace(0.02, 25.0, 40)]))
    grid, k = best(np.linspace(grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)], 21))
    return float(grid[k])


def _widen_by_inner_half(out, rmid, s, sig, scale, quantile, fit_b, b_level, curvature=False):
    """Add the inner-half refits' change of a and b to their intervals (in place; five slopes or more)."""
    if s.size < 5:
        return
    inner = np.argsort(rmid)[: s.size // 2 + 1]
    args = (rmid[inner], s[inner], sig[np.ix_(inner, inner)], scale, quantile)
    kw = dict(fit_b=fit_b, b_level=b_level, sensitivity=False, lepski=None, curvature=curvature, _in_window=True)
    halves = (fit_slopes(*args, **kw, _unit=out["unit"], _l0=out["l0"], _a_model=out["a_model"]),
              fit_slopes(*args, **kw))
    for key in ("a", "b"):
        lo, hi = out[f"{key}_lower"], out[f"{key}_upper"]
        moved = [abs(h[key] - out[key]) for h in halves if np.isfinite(h[key])]
        if moved and np.isfinite(lo) and np.isfinite(hi):
            shift = max(moved)
            out[f"{key}_lower"] = out[key] - float(np.hypot(out[key] - lo, shift))
            out[f"{key}_upper"] = out[key] + float(np.hypot(hi - out[key], shift))


def _flat_curves(radius, mass, mass_lower, mass_upper, resolved, scale):
    """Curves (..., R) as rows (n, R): ``shape`` (the leading dims), ``r, m, lo, hi``,
    ``res`` (resolved with positive mass) and ``scale`` (n,)."""
    radius = np.asarray(radius, float)
    shape = radius.shape[:-1]
    R = radius.shape[-1]
    flat = lambda x: np.broadcast_to(np.asarray(x), shape + (R,)).reshape(-1, R)  # noqa: E731
    r, m, lo, hi = flat(radius), flat(mass), flat(mass_lower), flat(mass_upper)
    res = flat(resolved).astype(bool) & (m > 0)
    return shape, r, m, lo, hi, res, np.broadcast_to(np.asarray(scale, float), shape).reshape(-1)


def _curve_slopes(rr, mm, lo, hi, z):
    """Finite-radius slopes of a curve's resolved radii: midpoints, slopes and their variances.

    The standard error of each log mass is read off its interval (``z`` its
    normal quantile); increments of nested balls are nearly independent,
    with the variance of a log-ratio about ``se_inner^2 - se_outer^2``
    (conditional binomial), at least a quarter of the inner one's.
    """
    with np.errstate(divide="ignore"):
        se = (np.log(np.maximum(hi, 1e-300)) - np.log(np.maximum(lo, 1e-300))) / (2 * z)
    se = np.maximum(se, 1e-12)
    dlr = np.diff(np.log(rr))
    s = np.diff(np.log(mm)) / dlr
    var_s = np.maximum(se[:-1] ** 2 - se[1:] ** 2, 0.25 * se[:-1] ** 2) / dlr**2
    return np.sqrt(rr[1:] * rr[:-1]), s, var_s


def curve_steepens(radius, mass, mass_lower, mass_upper, resolved, scale, *, ci_prob=0.94, level=EDGE_LEVEL):
    """Does a mass curve from draws steepen without bound towards its smallest resolved radius?

    The curve's counterpart of the draws' edge and ``lambda`` tests
    (:func:`_edge_test`, :func:`_lambda_test`): the finite-radius slopes
    ``s_j`` (as :func:`fit_index_curve` forms them, with its variances) are
    fitted by ``s = a + c r / scale - b / L + lambda r_1 / r`` (``r_1`` the
    smallest slope radius, ``L = 1 + log(u / r)`` with ``u`` the larger of
    ``scale`` and twice the largest radius), the slope of
    ``m = C r^a L^b exp(c r / scale - lambda r_1 / r)`` (the log term where
    ``L`` spans more than a factor 2);
    ``lambda > 0`` at one-sided ``level`` says that the mass collapses faster
    than any power as the radius shrinks to the smallest resolved one: the
    draws stop short of the centre (a gap) or decay faster than any power
    there, and no finite index is supported by the curve. A power law with
    curvature and a log factor (a smooth density at an interior or boundary
    centre, a horseshoe's spike) has ``lambda = 0``.

    Parameters
    ----------
    radius, mass, mass_lower, mass_upper : ndarray (..., R)
    resolved : ndarray (..., R) of bool
    scale : ndarray (...)
    ci_prob : float
        Level of the mass intervals (their width gives the slopes' variances).
    level : float

    Returns
    -------
    steep : ndarray (...) of bool
    z : ndarray (...)
        ``lambda`` over its standard error (NaN with fewer than five slopes).

    Examples
    --------
    >>> r = np.geomspace(0.01, 1.0, 20)
    >>> gap = np.clip(r - 0.009, 0, None) / 0.991          # no mass within 0.009
    >>> steep, z = curve_steepens(r, gap, gap * 0.95, gap * 1.05, gap > 0, 1.0)
    >>> bool(steep)
    True
    >>> steep, z = curve_steepens(r, r, r * 0.95, r * 1.05, np.ones(20, bool), 1.0)   # m = r
    >>> bool(steep)
    False
    """
    shape, r, m, lo, hi, res, sc = _flat_curves(radius, mass, mass_lower, mass_upper, resolved, scale)
    zq = special.ndtri(0.5 + ci_prob / 2)
    crit = special.ndtri(level)
    z_out = np.full(r.shape[0], np.nan)
    for e in range(r.shape[0]):
        keep = np.flatnonzero(res[e])
        if keep.size < 6:
            continue
        rmid, s, var_s = _curve_slopes(r[e, keep], m[e, keep], lo[e, keep], hi[e, keep], zq)
        unit = sc[e] if np.isfinite(sc[e]) and sc[e] > 0 else rmid.max()
        # null: a power law with curvature and a log factor (m = C r^a (log(u / r))^b e^(c r)),
        # whose slopes move with r and 1 / log(1 / r); lambda's r_1 / r rises far faster
        # (where log(1 / r) spans a wide range, as fit_slopes profiles its offset; over a
        # narrow one 1 / L and r_1 / r are nearly collinear and the log term would take the rise)
        L = np.log(max(unit, 2.0 * rmid.max()) / rmid) + 1.0
        cols = [rmid / unit] + ([-1.0 / L] if L.max() > 2 * L.min() else []) + [rmid.min() / rmid]
        J = np.column_stack([np.ones_like(s)] + cols)
        w = 1.0 / var_s
        coef, ssr = _weighted_ls(s, w, cols)
        cov, _ = _sandwich(J, ssr, s, w, np.diag(var_s))
        if cov[-1, -1] > 0:
            z_out[e] = coef[-1] / np.sqrt(cov[-1, -1])
    steep = np.isfinite(z_out) & (z_out > crit)
    return steep.reshape(shape), z_out.reshape(shape)


#: a near-exact curve's slope that still rises towards the centre over the smaller half of its radii,
#: per unit of log(1/r), at least this share of the pace it rose over the larger half, is decay faster
#: than any power (:func:`rise_without_bound`); a log factor's rise slows like 1/log(1/r)^2
RISE_PACE = 0.5
#: ... and the rise over that smaller half is at least this share of the slope at the smallest radius
#: (a slowly varying correction to a power law is no such rise)
RISE_SHARE = 0.1
#: ... read on at least this many resolved small balls
RISE_MIN_RADII = 6


def rise_without_bound(radius, mass, slope, slope_lower, slope_upper, resolved):
    """Whether a near-exact curve's slope rises towards the centre without levelling off.

    A power law with a log factor, ``m = C r^a (log 1/r)^b``, has the slope
    ``a - b / log(1/r)``: it settles, its rise per unit of ``log(1/r)``
    falling like ``1 / log(1/r)^2``. A mass that decays faster than any
    power only like ``exp(-log(r)^2 / (2 sigma^2))`` (a log-normal at 0) has
    the slope ``log(1/r) / sigma^2``, rising at the same pace however small
    the radii; over any finite range a slope fit with curvature and log terms
    extrapolates it to a finite index with a narrow interval (the model
    tier's LogNormal(0, 1) at 0 read ``a = 44 [29, 59]`` "ok"). Here the
    resolved small balls (mass at most ``LOCAL_MASS``, finite slopes) are
    split into their smaller and larger halves; the slope rises without
    bound where, over the smaller half, its rise towards the centre exceeds
    the slopes' intervals (the lower end at the smallest radius above the
    upper end at the half's largest), is at least ``RISE_SHARE`` of the slope
    there, and keeps at least ``RISE_PACE`` of the larger half's pace (per
    unit of ``log(1/r)``, least squares).

    Parameters
    ----------
    radius, mass, slope, slope_lower, slope_upper : ndarray (..., R)
        A curve's columns (ascending radii).
    resolved : ndarray (..., R) of bool

    Returns
    -------
    rises : ndarray (...) of bool
    lower : ndarray (...)
        Where it rises: the slope's lower end at the smallest radius (the
        index is at least that); NaN elsewhere.

    Examples
    --------
    >>> from scipy import stats
    >>> r = np.geomspace(1e-8, 1e-1, 25)
    >>> m = stats.norm.cdf(np.log(r))                       # log-normal(0, 1) at 0: a = inf
    >>> s = np.gradient(np.log(m), np.log(r))
    >>> bool(rise_without_bound(r, m, s, s - 0.01, s + 0.01, np.ones(25, bool))[0])
    True
    >>> m = r * np.log(1 / r) ** 3                         # a = 1, b = 3: the slope settles
    >>> s = np.gradient(np.log(m), np.log(r))
    >>> bool(rise_without_bound(r, m, s, s - 0.01, s + 0.01, np.ones(25, bool))[0])
    False
    """
    r, m, s, lo, hi = (np.asarray(a, float) for a in (radius, mass, slope, slope_lower, slope_upper))
    shape = r.shape[:-1]
    R = r.shape[-1]
    r, m, s, lo, hi = (a.reshape(-1, R) for a in (r, m, s, lo, hi))
    res = np.asarray(resolved, bool).reshape(-1, R)
    rises = np.zeros(r.shape[0], bool)
    lower = np.full(r.shape[0], np.nan)
    for e in range(r.shape[0]):
        with np.errstate(invalid="ignore"):
            ok = res[e] & np.isfinite(r[e]) & (r[e] > 0) & np.isfinite(s[e]) & np.isfinite(lo[e]) & np.isfinite(hi[e])
            ok &= (m[e] > 0) & (m[e] <= LOCAL_MASS)
        k = np.flatnonzero(ok)
        if k.size < RISE_MIN_RADII:
            continue
        k = k[np.argsort(r[e, k])]
        half = k.size // 2
        small, large = k[:half], k[half:]
        L = -np.log(r[e])
        pace_small = np.polyfit(L[small], s[e, small], 1)[0]
        pace_large = np.polyfit(L[large], s[e, large], 1)[0]
        top, mid = k[0], small[-1]
        beyond_noise = lo[e, top] > hi[e, mid]
        material = s[e, top] - s[e, mid] >= RISE_SHARE * abs(s[e, top])
        if beyond_noise and material and pace_small > 0 and pace_small >= RISE_PACE * max(pace_large, 0.0):
            rises[e], lower[e] = True, lo[e, top]
    return rises.reshape(shape), lower.reshape(shape)


#: an index fitted from a curve of draws reads the balls holding at most this share of the mass
LOCAL_MASS = 0.5
#: ... and at least this many of its smallest resolved radii
LOCAL_MIN_RADII = 8
#: an index fitted from a near-exact curve (model, QMC and exact tiers) leaves out the balls
#: holding more than this share of the mass (beyond the smallest ball's)
SATURATED_MASS = 0.9


def small_balls(mass, share=LOCAL_MASS):
    """Which of a curve's resolved masses (ascending radii) are small balls.

    Those holding at most ``share`` of the mass beyond the smallest ball's (an
    atom's curve starts at its weight): the index is read from them, beyond
    them the mass saturates.

    Examples
    --------
    >>> small_balls(np.array([0.01, 0.1, 0.4, 0.7, 1.0])).tolist()
    [True, True, True, False, False]
    """
    mass = np.asarray(mass, dtype=float)
    m0 = mass[0] if mass.size else 0.0
    return mass - m0 <= share * (1.0 - m0)


def fit_index_curve(radius, mass, mass_lower, mass_upper, resolved, scale, *, ci_prob=0.94,
                    fit_b=True, curvature=False):
    """Mass Index from a mass curve (any tier), by weighted least squares on slopes.

    Consecutive log-mass increments of nested balls are nearly independent,
    so the finite-radius slopes between consecutive resolved radii are fitted
    by :func:`fit_slopes` with variances from the mass intervals.

    Parameters
    ----------
    radius, mass, mass_lower, mass_upper : ndarray (..., R)
    resolved : ndarray (..., R) of bool
    scale : ndarray (...)
    ci_prob : float
    fit_b : bool
    curvature : bool
        Model the curvature of a smooth density (see :func:`fit_slopes`) on
        the balls holding at most ``LOCAL_MASS`` of the mass (at least
        ``LOCAL_MIN_RADII`` radii): for curves of draws, whose radii reach the
        sd, where heavy tails' balls hold nearly all of it.

    Returns
    -------
    dict of ndarray (...): ``a, a_lower, a_upper, b, b_lower, b_upper, n_window, window``

    Examples
    --------
    >>> r = np.geomspace(1e-8, 1e-2, 30)
    >>> m = r * (1 + np.log(1 / r))
    >>> res = fit_index_curve(r, m, m * 0.999, m * 1.001, np.ones(30, bool), 1.0)
    >>> bool(abs(res["b"] - 1) < 0.2 and abs(res["a"] - 1) < 0.05)
    True
    """
    shape, r, m, lo, hi, res, sc = _flat_curves(radius, mass, mass_lower, mass_upper, resolved, scale)
    z = special.ndtri(0.5 + ci_prob / 2)
    keys = ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "n_window", "window", "rise_lower")
    out = {key: np.full(r.shape[0], np.nan) for key in keys}
    for e in range(r.shape[0]):
        keep = np.flatnonzero(res[e])
        # the index is read from small balls: where fewer than three hold at most half the mass,
        # the radii given reach only where the mass saturates (a model-tier curve over 0.3-1.5
        # of N(0.2, 0.14) read a = 12.5 "ok", or an atom where the slope fell to 0); with three
        # or more, the slope fit's window choice (fit_slopes) weighs the wider radii
        local = keep[small_balls(m[e, keep])]
        if local.size < 3:
            continue
        if not curvature:
            # (near-exact curves: the balls that hold nearly all the mass have slopes near 0,
            # which pulled a model-tier fit of a Laplace coefficient's 1e-3 to 1 to a = 2.9 [0, 6.8]
            # where every small-radius slope read 1.0)
            keep = keep[small_balls(m[e, keep], SATURATED_MASS)]
        elif keep.size > LOCAL_MIN_RADII:
            # (curves of draws: the balls holding at most half the mass, at least LOCAL_MIN_RADII of
            # them; beyond, the mass saturates, as Cauchy draws' balls up to their sd do)
            keep = local if local.size >= LOCAL_MIN_RADII else keep[:LOCAL_MIN_RADII]

        rr = r[e, keep]
        rmid, s, var_s = _curve_slopes(rr, m[e, keep], lo[e, keep], hi[e, keep], z)
        fit = fit_slopes(rmid, s, var_s, sc[e], z, fit_b=fit_b, curvature=curvature)
        for key in ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper"):
            out[key][e] = fit[key]
        out["n_window"][e] = fit["n_used"] + 1  # radii of the slopes used (the innermost)
        out["rise_lower"][e] = fit.get("rise_lower", np.nan)
        out["window"][e] = rr[fit["n_used"]]
    return {key: val.reshape(shape) for key, val in out.items()}
