"""Quadrature for the model-based tier (numpy and scipy only).

Two engines work from an unnormalised log density given as a batched callable
``logp(points) -> values`` with ``points`` of shape ``(n_batch, n_eval, d)``
and values of shape ``(n_batch, n_eval)`` (``-inf`` outside the support):

* :func:`conditional_ball_mass`, the Rao-Blackwellised small-ball mass of a
  scalar coordinate: for each posterior draw, the conditional mass
  ``P(|theta_j - c| <= r | rest)`` as the ratio of two 1-D integrals of the
  joint density along coordinate ``j``. Both integrals come from one graded
  composite Gauss-Legendre rule, summed in log space, so radii far below what
  the draws resolve (1e-8 and below) and densities singular at the centre or at
  a support bound (horseshoe log singularity, ``Gamma(k < 1)`` at 0) are
  handled.
* :func:`qmc_ball_log_integral`, the integral of the unnormalised density over
  a d-dimensional ball (euclidean or max norm) by randomised Sobol
  quasi-Monte Carlo, with a standard error from the independent scramblings.

The rule of :func:`conditional_ball_mass`
-----------------------------------------
Along the coordinate, with ``u = theta_j - c``, the support ``[lo, hi]`` is
cut at breakpoints that are, for every draw:

* the centre ``u = 0`` and a geometric grid ``+-t0 * ratio**k`` around it,
  from far below the smallest radius to far beyond every scale of the problem;
* every radius ``+-r`` (so each ball is a union of whole panels);
* the finite support bounds with their own geometric grids toward them;
* a geometric cluster around the draw's own value ``x_j`` (an exact draw of
  the conditional, so its bulk lies near it), scaled by a width found by
  probing the log density around ``x_j``.

Each panel is integrated by ``n_nodes``-point Gauss-Legendre in log space.
The innermost panel next to the centre and to a finite bound, ``[a, a + t0]``,
is replaced by the sum of the geometric series that a local power law
``f(a + t) ~ A t**(k - 1)`` implies, with the exponent read off the next two
panels: this is exact for power-law behaviour and makes the first ``t0`` of a
weakly integrable singularity (``k`` near 0) count in full. Beyond the last
breakpoint of an unbounded side the tail is integrated after ``u -> 1/u``.
The ball integral of radius ``r`` is accumulated outward from the centre, so
it never comes from a difference of two nearly equal numbers.
"""

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = [
    "ConditionalBallMass",
    "QMCBallIntegral",
    "check_radii_precision",
    "conditional_ball_mass",
    "log_ball_volume",
    "qmc_ball_log_integral",
]

_EPS = np.finfo(float).eps
# smallest radius allowed, relative to |center|: the ball's ends must be
# representable with about 1e-4 relative precision
_RADIUS_PRECISION = 1e4 * _EPS
_TINY = 1e-290


@dataclass(frozen=True)
class ConditionalBallMass:
    """Result of :func:`conditional_ball_mass`.

    Attributes
    ----------
    radii : ndarray, shape (R,)
        The radii, as given.
    mass : ndarray, shape (R,)
        Mean conditional mass over the draws (weighted when weights were
        given): the Rao-Blackwellised estimate of ``m(r)``.
    mass_draws : ndarray, shape (n_draws, R)
        Conditional mass for each draw; their draw-to-draw variation and an
        effective sample size give the interval of ``mass``.
    log_mass_draws : ndarray, shape (n_draws, R)
        Natural log of ``mass_draws`` (accurate where ``mass_draws``
        underflows).
    log_normalizer : ndarray, shape (n_draws,)
        Log of the integral of the joint density along the coordinate.
    n_evaluations : int
        Number of log-density evaluations made.
    """

    radii: np.ndarray
    mass: np.ndarray
    mass_draws: np.ndarray
    log_mass_draws: np.ndarray
    log_normalizer: np.ndarray
    n_evaluations: int


@dataclass(frozen=True)
class QMCBallIntegral:
    """Result of :func:`qmc_ball_log_integral`.

    Attributes
    ----------
    radii : ndarray, shape (R,)
    log_integral : ndarray, shape (R,)
        Log of the integral of the unnormalised density over each ball
        (mean over the randomisations, taken on the linear scale).
    log_integral_se : ndarray, shape (R,)
        Standard error of ``log_integral`` (delta method: the standard error
        of the mean over randomisations divided by the mean).
    log_integral_reps : ndarray, shape (n_randomizations, R)
        One estimate per independent scrambling.
    log_volume : ndarray, shape (R,)
        Log volume of each ball (including ``scales``).
    n_points : int
        Points per randomisation (a power of two).
    """

    radii: np.ndarray
    log_integral: np.ndarray
    log_integral_se: np.ndarray
    log_integral_reps: np.ndarray
    log_volume: np.ndarray
    n_points: int


def _leggauss(n):
    x, w = np.polynomial.legendre.leggauss(int(n))
    return x, w


def check_radii_precision(center, radii):
    """Raise when radii are too small to be resolved around ``center``.

    A ball ``[c - r, c + r]`` can be integrated in double precision only when
    ``c + r`` differs from ``c`` by many units in the last place. The rule used
    is ``r > 1e4 * eps * |c|`` (about ``2.2e-12 |c|``), which keeps the ends of
    the ball to about 1e-4 relative precision; at ``c = 0`` any positive
    radius above 1e-290 is accepted.

    Parameters
    ----------
    center : float or array_like
        Centre(s); the largest magnitude is used.
    radii : array_like
        Radii (> 0).

    Raises
    ------
    ValueError
        If a radius is not finite and positive, or is below the precision
        limit.

    Examples
    --------
    >>> check_radii_precision(0.0, [1e-12, 1e-3])
    >>> check_radii_precision(1e6, [1e-9])
    Traceback (most recent call last):
    ...
    ValueError: radius 1e-09 is too small for double precision around a centre of magnitude 1e+06: radii must exceed 2.22e-06 (1e4 * machine epsilon * |center|)
    """  # noqa: E501 (a doctest's output line)
    radii = np.asarray(radii, dtype=float)
    if radii.size == 0:
        raise ValueError("radii must not be empty")
    if not np.all(np.isfinite(radii)) or np.any(radii <= 0):
        raise ValueError("radii must be finite and > 0")
    cmax = float(np.max(np.abs(np.asarray(center, dtype=float))))
    limit = max(_RADIUS_PRECISION * cmax, _TINY)
    rmin = float(radii.min())
    if rmin <= limit:
        raise ValueError(
            f"radius {rmin:.3g} is too small for double precision around a centre of "
            f"magnitude {cmax:.3g}: radii must exceed {limit:.3g} "
            "(1e4 * machine epsilon * |center|)"
        )


def _as_per_draw(value, n, name):
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    arr = arr.reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{name} must be a scalar or have one value per draw ({n}), got shape {np.shape(value)}")
    return arr.copy()


def _eval_offsets(logp, rows, column, center, offsets):
    """Log density at ``rows`` with ``rows[:, column] = center + offsets``.

    ``rows`` (m, d), ``offsets`` (m, E) -> (m, E); NaN is read as -inf.
    """
    m, e = offsets.shape
    pts = np.repeat(rows[:, None, :], e, axis=1)
    pts[:, :, column] = center + offsets
    vals = np.asarray(logp(pts), dtype=float)
    if vals.shape != (m, e):
        vals = vals.reshape(m, e)
    return np.where(np.isnan(vals), -np.inf, vals)


def _probe_widths(logp, rows, column, center, u_draw, lo, hi, scale):
    """Width of the conditional around each draw's value, by probing.

    For steps ``h = scale * 10**k`` (k = -6..6) the log density is compared
    with its value at the draw; the width is the largest step whose drop
    stays below 2 on both sides (clamped to the probed range).
    """
    steps = scale * 10.0 ** np.arange(-6, 7, dtype=float)
    u = u_draw[:, None]
    offs = np.concatenate([u, u + steps[None, :], u - steps[None, :]], axis=1)
    # probes at or beyond a bound are not informative: put them on the draw
    offs = np.where((offs > lo[:, None]) & (offs < hi[:, None]), offs, u)
    vals = _eval_offsets(logp, rows, column, center, offs)
    k = steps.size
    l0 = vals[:, :1]
    with np.errstate(invalid="ignore"):
        drop = np.maximum(l0 - vals[:, 1 : 1 + k], l0 - vals[:, 1 + k :])
    ok = drop < 2.0
    ok = np.where(np.isnan(drop), False, ok)
    # largest step such that all smaller steps are ok
    first_bad = np.where(ok.all(axis=1), k, np.argmin(ok, axis=1))
    width = np.where(first_bad == 0, steps[0], steps[np.maximum(first_bad - 1, 0)])
    width = np.where(np.isfinite(l0[:, 0]), width, scale)
    return width, offs.shape[1]


def _log_panel_integrals(logp, rows, column, center, left, right, xg, log_wg, safe):
    """log of the Gauss-Legendre integral over each panel [left, right].

    Nodes of empty panels are moved to ``safe`` (one offset per row) so that
    the density is never asked for at a (possibly singular) breakpoint.
    """
    half = 0.5 * (right - left)
    mid = 0.5 * (right + left)
    m, p = left.shape
    offs = mid[:, :, None] + half[:, :, None] * xg[None, None, :]
    offs = np.where(half[:, :, None] > 0, offs, safe[:, None, None]).reshape(m, -1)
    vals = _eval_offsets(logp, rows, column, center, offs).reshape(m, p, xg.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = vals + log_wg[None, None, :] + np.log(half)[:, :, None]
        terms = np.where(half[:, :, None] > 0, terms, -np.inf)
        out = special.logsumexp(terms, axis=2)
    return np.where(np.isnan(out), -np.inf, out), offs.shape[1]


def _log_power_remainder(l1, l2):
    """log of sum_{k>=1} I1 q**-k with q = I2 / I1 (geometric series inward).

    With I1 the integral over [t, rho t] and I2 over [rho t, rho^2 t] of a
    local power law, the integral over [0, t] is I1 / (q - 1). Returns +inf
    when q <= 1 (not integrable at the anchor) and -inf when both vanish.
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        dl = l2 - l1
        out = l1 - np.log(np.expm1(dl))
    out = np.where(np.isneginf(l1) & np.isneginf(l2), -np.inf, out)
    out = np.where(np.isfinite(l1) & (dl <= 1e-12), np.inf, out)
    return np.where(np.isnan(out), -np.inf, out)


def _descent(logp, rows, column, center, a, sgn, t, floor, ratio, xg, log_wg, safe):
    """log of the integral over (a, a + sgn t] by geometric panels down to ``floor``.

    Below the deepest panel the power-law remainder is added (+inf when the
    density is not integrable there).
    """
    count = int(np.ceil(np.max(np.log(np.maximum(t / floor, 1.0))) / np.log(ratio))) + 2
    k = np.arange(count, dtype=float)[None, :]
    outer = np.maximum(t[:, None] * ratio ** (-k), floor[:, None])
    inner = np.maximum(t[:, None] * ratio ** (-k - 1), floor[:, None])
    e_in = a[:, None] + sgn * inner
    e_out = a[:, None] + sgn * outer
    lpan, ne = _log_panel_integrals(
        logp, rows, column, center, np.minimum(e_in, e_out), np.maximum(e_in, e_out), xg, log_wg, safe
    )
    total = special.logsumexp(lpan, axis=1)
    # the two deepest panels that still have width
    f = floor
    e = [a + sgn * f * ratio**j for j in range(3)]
    sub_l = np.stack([np.minimum(e[0], e[1]), np.minimum(e[1], e[2])], axis=1)
    sub_r = np.stack([np.maximum(e[0], e[1]), np.maximum(e[1], e[2])], axis=1)
    lsub, ne2 = _log_panel_integrals(logp, rows, column, center, sub_l, sub_r, xg, log_wg, safe)
    deep = _log_power_remainder(lsub[:, 0], lsub[:, 1])
    # ``total`` covers [floor, t], ``deep`` the rest down to the anchor
    out = np.logaddexp(total, deep)
    return np.where(np.isnan(out), -np.inf, out), (ne + ne2) * rows.shape[0]


def conditional_ball_mass(
    logp,
    draws,
    column,
    center,
    radii,
    *,
    lower=-np.inf,
    upper=np.inf,
    scale=None,
    weights=None,
    n_nodes=8,
    ratio=4.0,
    chunk_size=None,
    progress=None,
):
    """Rao-Blackwellised conditional small-ball mass of one scalar coordinate.

    For each draw ``theta`` (a row of ``draws``) the conditional mass

        m_i(r) = int_{|x - c| <= r} p(x | theta_-j) dx
               = int_{[c-r, c+r] & [lower, upper]} f_i(x) dx / int_lower^upper f_i(x) dx

    is computed, where ``f_i(x)`` is the joint density at ``theta`` with
    coordinate ``column`` replaced by ``x``. Averaging ``m_i(r)`` over
    posterior draws estimates the marginal small-ball mass ``m(r)`` with far
    less variance than counting draws, and at radii no draw reaches.

    Parameters
    ----------
    logp : callable
        Batched unnormalised log density: ``logp(points)`` with ``points`` of
        shape ``(n_batch, n_eval, d)`` returns ``(n_batch, n_eval)``; ``-inf``
        (or NaN) outside the support.
    draws : array_like, shape (n_draws, d)
        Draws of the full parameter vector; only the other coordinates are
        used (and the draw's own value of coordinate ``column`` to place
        breakpoints).
    column : int
        Index of the coordinate.
    center : float
        Centre ``c`` of the balls; must lie in ``[lower, upper]`` for every
        draw.
    radii : array_like, shape (R,)
        Radii (> 0), honoured exactly.
    lower, upper : float or array_like, shape (n_draws,)
        Support of the coordinate given the others (per draw when the bounds
        depend on other parameters). Singularities of the density are
        expected only at the centre and at finite bounds.
    scale : float, optional
        Typical spread of the coordinate; default: from the draws (IQR/1.349,
        else the standard deviation, else 1).
    weights : array_like, shape (n_draws,), optional
        Non-negative weights of the draws for the mean (e.g. importance or
        quadrature weights); default equal weights.
    n_nodes : int, default 8
        Gauss-Legendre nodes per panel.
    ratio : float, default 4.0
        Growth factor of the geometric grids around the centre and bounds.
    chunk_size : int, optional
        Draws processed per batch of log-density calls; default keeps each
        call below about 4 million coordinates.
    progress : callable, optional
        Called as ``progress(n_done, n_draws)`` after each batch.

    Returns
    -------
    ConditionalBallMass
        ``mass`` (R,), ``mass_draws`` and ``log_mass_draws`` (n_draws, R),
        ``log_normalizer`` (n_draws,), ``n_evaluations``.

    Raises
    ------
    ValueError
        Bad shapes, radii not positive or below double precision around the
        centre (see :func:`check_radii_precision`), non-finite draws, or a
        centre outside the support of some draw.

    Notes
    -----
    A draw whose conditional density is not integrable (or vanishes
    everywhere the rule looks) gets NaN masses; the mean skips NaN draws.

    Examples
    --------
    A standard normal coordinate, independent of a second one:

    >>> def logp(x):
    ...     return -0.5 * (x ** 2).sum(axis=-1)
    >>> draws = np.random.default_rng(0).normal(size=(5, 2))
    >>> res = conditional_ball_mass(logp, draws, 0, 0.0, [1e-8, 1.0])
    >>> from scipy.special import erf
    >>> np.allclose(res.mass, erf(np.array([1e-8, 1.0]) / np.sqrt(2)), rtol=1e-9)
    True

    A Gamma(0.5) coordinate at its boundary 0, where the density is singular:

    >>> from scipy.special import gammainc
    >>> def logp_g(x):
    ...     return -0.5 * np.log(x[..., 0]) - x[..., 0]
    >>> res = conditional_ball_mass(logp_g, np.ones((1, 1)), 0, 0.0, [1e-10, 1e-3], lower=0.0)
    >>> np.allclose(res.mass, gammainc(0.5, [1e-10, 1e-3]), rtol=1e-7)
    True
    """
    draws, radii, lower, upper, weights = _checked_conditional_args(draws, column, center, radii, lower, upper,
                                                                    weights, ratio, n_nodes)
    n, d = draws.shape
    column, center, ratio, n_nodes = int(column), float(center), float(ratio), int(n_nodes)
    scale = _coordinate_scale(draws[:, column], scale)
    log_mass, log_norm, n_eval = _conditional_chunks(logp, draws, column, center, radii, lower, upper, scale,
                                                     ratio=ratio, n_nodes=n_nodes, chunk_size=chunk_size,
                                                     progress=progress)
    mass_draws, mass = _mean_mass(log_mass, weights)
    return ConditionalBallMass(
        radii=radii.copy(),
        mass=mass,
        mass_draws=mass_draws,
        log_mass_draws=log_mass,
        log_normalizer=log_norm,
        n_evaluations=int(n_eval),
    )


def _conditional_chunks(logp, draws, column, center, radii, lower, upper, scale, *, ratio, n_nodes, chunk_size,
                        progress):
    """Log conditional masses of every draw, batch by batch (:func:`_conditional_chunk`).

    Returns the log masses (n_draws, R), the log normalisers (n_draws,) and
    the number of density evaluations.
    """
    n, d = draws.shape
    n_rad = radii.size
    rmin, rmax = float(radii.min()), float(radii.max())
    xg, wg = _leggauss(n_nodes)
    log_wg = np.log(wg)
    # lower end of the centre's geometric grid: well below the smallest radius
    # (nodes near the centre carry absolute rounding errors of about eps*|c|,
    # so the analytic inner remainder takes over below 1e6*eps*|c|)
    t0_base = max(min(rmin * 1e-3, scale * 1e-12), 1e6 * _EPS * abs(center))
    t0_base = max(min(t0_base, rmin / (2.0 * ratio**2)), _TINY)
    eval_per_draw_est = (2 * n_rad + 200) * n_nodes
    if chunk_size is None:
        chunk_size = max(1, int(4e6 // (eval_per_draw_est * max(d, 1))))
    chunk_size = int(max(1, chunk_size))

    log_mass = np.empty((n, n_rad))
    log_norm = np.empty(n)
    n_eval = 0
    for start in range(0, n, chunk_size):
        sl = slice(start, min(n, start + chunk_size))
        lm, lz, ne = _conditional_chunk(
            logp, draws[sl], column, center, radii, lower[sl] - center, upper[sl] - center,
            scale, t0_base, rmax, ratio, xg, log_wg,
        )
        log_mass[sl] = lm
        log_norm[sl] = lz
        n_eval += ne
        if progress is not None:
            progress(sl.stop, n)
    return log_mass, log_norm, n_eval


def _checked_conditional_args(draws, column, center, radii, lower, upper, weights, ratio, n_nodes):
    """Check the arguments of :func:`conditional_ball_mass`; the draws, radii, bounds and weights as arrays."""
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2:
        raise ValueError(f"draws must have shape (n_draws, d), got {draws.shape}")
    n, d = draws.shape
    if n == 0:
        raise ValueError("draws must contain at least one draw")
    column = int(column)
    if not 0 <= column < d:
        raise ValueError(f"column {column} out of range for {d} coordinates")
    if not np.all(np.isfinite(draws)):
        raise ValueError("draws contain NaN or infinite values")
    center = float(center)
    if not np.isfinite(center):
        raise ValueError("center must be finite")
    radii = np.asarray(radii, dtype=float)
    if radii.ndim != 1:
        raise ValueError("radii must be one-dimensional")
    check_radii_precision(center, radii)
    lower = _as_per_draw(lower, n, "lower")
    upper = _as_per_draw(upper, n, "upper")
    if np.any(np.isnan(lower)) or np.any(np.isnan(upper)) or np.any(lower >= upper):
        raise ValueError("lower and upper must be non-NaN with lower < upper")
    outside = (center < lower) | (center > upper)
    if np.any(outside):
        raise ValueError(
            f"center {center!r} lies outside the support [lower, upper] for "
            f"{int(outside.sum())} of {n} draws"
        )
    if weights is not None:
        weights = _as_per_draw(weights, n, "weights")
        if np.any(weights < 0) or not np.all(np.isfinite(weights)) or weights.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
    ratio = float(ratio)
    if not ratio > 1.5:
        raise ValueError("ratio must exceed 1.5")
    n_nodes = int(n_nodes)
    if n_nodes < 2:
        raise ValueError("n_nodes must be at least 2")
    return draws, radii, lower, upper, weights


def _coordinate_scale(xcol, scale):
    """Typical spread of the coordinate: ``scale``, else IQR/1.349 of the draws, else their sd, else 1."""
    n = xcol.shape[0]
    if scale is None:
        if n > 1:
            q75, q25 = np.percentile(xcol, [75, 25])
            scale = (q75 - q25) / 1.349
            if not scale > 0:
                scale = float(np.std(xcol))
        else:
            scale = 0.0
        if not scale > 0:
            scale = 1.0
    return float(scale)


def _mean_mass(log_mass, weights):
    """The masses of each draw and their (weighted) mean over the draws whose masses are finite."""
    n_rad = log_mass.shape[1]
    with np.errstate(over="ignore"):
        mass_draws = np.exp(log_mass)
    good = np.all(np.isfinite(mass_draws), axis=1)
    if weights is None:
        w = good.astype(float)
    else:
        w = np.where(good, weights, 0.0)
    if w.sum() > 0:
        mass = (w[:, None] * np.where(good[:, None], mass_draws, 0.0)).sum(axis=0) / w.sum()
    else:
        mass = np.full(n_rad, np.nan)
    return mass_draws, mass


def _geometric(start, ratio, count):
    """start[:, None] * ratio**k, k = 0..count-1."""
    return start[:, None] * ratio ** np.arange(count, dtype=float)[None, :]


def _conditional_chunk(logp, rows, column, center, radii, lo, hi, scale, t0_base, rmax, ratio, xg, log_wg):
    """Log conditional ball masses of a chunk of draws (:func:`conditional_ball_mass`, one batch).

    Offsets ``u = x - center`` run over ``[lo, hi]`` (per row). Returns the
    log masses (m, R), the log normalisers (m,) and the number of density
    evaluations.
    """
    m = rows.shape[0]
    u_draw = np.clip(rows[:, column] - center, lo, hi)
    n_eval = 0

    width, ne = _probe_widths(logp, rows, column, center, u_draw, lo, hi, scale)
    n_eval += ne * m
    big = np.maximum.reduce([np.full(m, scale), np.full(m, rmax), np.abs(u_draw), width])
    t_far = 1e6 * big  # end of the finite grid on an unbounded side
    right_end = np.where(np.isfinite(hi), hi, t_far)
    left_end = np.where(np.isfinite(lo), lo, -t_far)
    anchors, t0_pos, t0_neg = _chunk_anchors(center, lo, hi, t0_base, ratio)
    grid = _chunk_grid(anchors, t0_pos, t0_neg, t0_base, t_far, ratio, width, u_draw, radii, left_end, right_end)

    left, right = grid[:, :-1], grid[:, 1:]
    lpan, ne = _log_panel_integrals(logp, rows, column, center, left, right, xg, log_wg, u_draw)
    n_eval += ne * m
    lpan, ne = _anchor_remainders(logp, rows, column, center, anchors, lpan, left, right, ratio, xg, log_wg, u_draw)
    n_eval += ne
    tails, ne = _tail_integrals(logp, rows, column, center, grid, lo, hi, xg, log_wg, u_draw)
    n_eval += ne
    log_mass, log_z = _ball_log_mass(lpan, tails, grid, radii, lo, hi)
    return log_mass, log_z, n_eval


def _chunk_anchors(center, lo, hi, t0_base, ratio):
    """Anchors of the geometric grids: the centre (two sides) and finite bounds away from it.

    Returns the anchors as ``(anchor, direction, inner width, active)``
    tuples of per-row arrays, and the centre's inner widths on each side.
    """
    m = lo.shape[0]
    t0_pos = np.where(hi > 0, np.minimum(t0_base, hi / ratio**4), 0.0)
    t0_neg = np.where(lo < 0, np.minimum(t0_base, -lo / ratio**4), 0.0)
    has_lo = np.isfinite(lo) & (lo < 0)
    has_hi = np.isfinite(hi) & (hi > 0)
    # offsets near a bound are rounded to about eps*max(|c|, |bound|)
    with np.errstate(invalid="ignore"):
        mag_lo = 1e6 * _EPS * np.maximum(abs(center), np.where(has_lo, np.abs(lo + center), 0.0))
        mag_hi = 1e6 * _EPS * np.maximum(abs(center), np.where(has_hi, np.abs(hi + center), 0.0))
        tb_lo = np.where(has_lo, np.minimum(np.maximum(-lo * 1e-12, mag_lo), -lo / ratio**4), 0.0)
        tb_hi = np.where(has_hi, np.minimum(np.maximum(hi * 1e-12, mag_hi), hi / ratio**4), 0.0)
    tb_lo = np.maximum(tb_lo, np.where(has_lo, _TINY, 0.0))
    tb_hi = np.maximum(tb_hi, np.where(has_hi, _TINY, 0.0))
    # (anchor, direction, inner width, active)
    anchors = [
        (np.zeros(m), 1.0, t0_pos, hi > 0),
        (np.zeros(m), -1.0, t0_neg, lo < 0),
        (np.where(has_lo, lo, 0.0), 1.0, tb_lo, has_lo),
        (np.where(has_hi, hi, 0.0), -1.0, tb_hi, has_hi),
    ]
    return anchors, t0_pos, t0_neg


def _chunk_grid(anchors, t0_pos, t0_neg, t0_base, t_far, ratio, width, u_draw, radii, left_end, right_end):
    """Panel breakpoints per row: geometric grids at the anchors, points around the draw, the radii.

    Sorted, clipped to ``[left_end, right_end]``, without duplicates (rows
    padded with their last value); the inner panel of every anchor is kept
    free of other points.
    """
    m = u_draw.shape[0]
    with np.errstate(divide="ignore"):
        span = np.log(np.maximum(t_far, 1.0) / np.maximum(np.minimum(t0_pos, t0_neg), _TINY))
        span = np.where(np.isfinite(span), span, 0.0)
    k_center = int(np.ceil(np.max(span) / np.log(ratio))) + 2
    pieces = []
    safe_pos = np.where(t0_pos > 0, t0_pos, t0_base)
    safe_neg = np.where(t0_neg > 0, t0_neg, t0_base)
    pieces.append(_geometric(safe_pos, ratio, k_center))
    pieces.append(-_geometric(safe_neg, ratio, k_center))
    for a, sgn, tb, act in anchors[2:]:
        dist = np.where(act, np.abs(a), 0.0)
        kb = int(np.ceil(np.log(max(np.max(dist / np.where(act, tb, 1.0)), 1.0)) / np.log(ratio))) + 1
        pts = a[:, None] + sgn * _geometric(np.where(act, tb, 0.0), ratio, kb)
        pts = np.where(act[:, None], pts, 0.0)
        pieces.append(pts)
    deltas = _geometric(width / 16.0, 2.0, 18)
    pieces.append(u_draw[:, None] + deltas)
    pieces.append(u_draw[:, None] - deltas)
    pieces.append(u_draw[:, None])
    others = np.concatenate(pieces, axis=1)
    # keep the inner panel [a, a + t] of every anchor free of other points
    for a, sgn, t, act in anchors:
        inside = act[:, None] & (sgn * (others - a[:, None]) > 0) & (sgn * (others - a[:, None]) < t[:, None])
        others = np.where(inside, a[:, None], others)
    inner = [np.where(act, a + sgn * t, 0.0)[:, None] for a, sgn, t, act in anchors]
    radius_pts = np.concatenate([np.broadcast_to(radii, (m, radii.size)), -np.broadcast_to(radii, (m, radii.size))],
                                axis=1)
    grid = np.concatenate(
        [np.zeros((m, 1)), left_end[:, None], right_end[:, None], radius_pts, others] + inner, axis=1
    )
    grid = np.clip(grid, left_end[:, None], right_end[:, None])
    grid = np.sort(grid, axis=1)
    # compact: drop duplicates (keep one), pad rows with their last value
    dup = np.zeros_like(grid, dtype=bool)
    dup[:, 1:] = grid[:, 1:] == grid[:, :-1]
    grid = np.sort(np.where(dup, np.inf, grid), axis=1)
    keep = int(np.max(np.sum(np.isfinite(grid), axis=1)))
    grid = grid[:, :keep]
    return np.where(np.isfinite(grid), grid, np.max(np.where(np.isfinite(grid), grid, -np.inf), axis=1, keepdims=True))


def _anchor_remainders(logp, rows, column, center, anchors, lpan, left, right, ratio, xg, log_wg, u_draw):
    """The inner panel of each anchor: a power-law remainder from the next two panels.

    Where the density is not a clean power law next to the anchor the
    panel is integrated inward (:func:`_descent`). Returns the panel log
    integrals with the inner panels replaced, and the evaluations made.
    """
    m = rows.shape[0]
    n_eval = 0
    sub_l, sub_r = [], []
    for a, sgn, t, act in anchors:
        for k in (0, 1):
            e1 = a + sgn * t * ratio**k
            e2 = a + sgn * t * ratio ** (k + 1)
            lo_e, hi_e = np.minimum(e1, e2), np.maximum(e1, e2)
            sub_l.append(np.where(act, lo_e, 0.0))
            sub_r.append(np.where(act, hi_e, 0.0))
    sub_l = np.stack(sub_l, axis=1)
    sub_r = np.stack(sub_r, axis=1)
    lsub, ne = _log_panel_integrals(logp, rows, column, center, sub_l, sub_r, xg, log_wg, u_draw)
    n_eval += ne * m
    for i, (a, sgn, t, act) in enumerate(anchors):
        l1, l2 = lsub[:, 2 * i], lsub[:, 2 * i + 1]
        rem = _log_power_remainder(l1, l2)
        # not a clean power law next to the anchor (a peak narrower than t,
        # or a density vanishing there): integrate inward panel by panel
        floor = np.maximum(256 * _EPS * np.abs(a + center), _TINY)
        with np.errstate(invalid="ignore"):
            flag = act & ~((l2 - l1) > 0.01 * np.log(ratio)) & (t > floor * ratio**2)
        if np.any(flag):
            # a density that is exactly zero next to the anchor (a conditional
            # far from the centre) needs no descent: look once at a few depths
            idx = np.flatnonzero(flag)
            depths = np.maximum(t[idx, None] * 10.0 ** (-20.0 * np.arange(1, 16))[None, :], floor[idx, None])
            pv = _eval_offsets(logp, rows[idx], column, center, a[idx, None] + sgn * depths)
            n_eval += pv.size
            empty = np.isneginf(l1[idx]) & np.isneginf(l2[idx]) & np.all(np.isneginf(pv), axis=1)
            idx = idx[~empty]
        if np.any(flag) and idx.size:
            rem_d, ne = _descent(
                logp, rows[idx], column, center, a[idx], sgn, t[idx], floor[idx], ratio, xg, log_wg, u_draw[idx]
            )
            rem[idx] = rem_d
            n_eval += ne
        if sgn > 0:
            mask = (left == a[:, None]) & (right == (a + t)[:, None])
        else:
            mask = (left == (a - t)[:, None]) & (right == a[:, None])
        mask &= act[:, None]
        lpan = np.where(mask, rem[:, None], lpan)
    return lpan, n_eval


def _tail_integrals(logp, rows, column, center, grid, lo, hi, xg, log_wg, u_draw):
    """Log integrals of the tails beyond the finite grid on unbounded sides (``u = +-1/v``), and the evaluations."""
    m = rows.shape[0]
    n_eval = 0
    tails = []
    for sgn, end, active in ((1.0, grid[:, -1], ~np.isfinite(hi)), (-1.0, grid[:, 0], ~np.isfinite(lo))):
        if not np.any(active):
            tails.append(np.full(m, -np.inf))
            continue
        with np.errstate(divide="ignore"):
            v_end = np.where(active, sgn / end, 1.0)
        half = 0.5 * v_end
        vv = half[:, None] * (xg[None, :] + 1.0)
        offs = np.where(active[:, None], sgn / vv, u_draw[:, None])
        vals = _eval_offsets(logp, rows, column, center, offs)
        n_eval += offs.shape[1] * m
        with np.errstate(divide="ignore"):
            terms = vals + log_wg[None, :] + np.log(half)[:, None] - 2.0 * np.log(vv)
        lt = special.logsumexp(terms, axis=1)
        lt = np.where(np.isnan(lt), -np.inf, lt)
        tails.append(np.where(active, lt, -np.inf))
    return tails, n_eval


def _ball_log_mass(lpan, tails, grid, radii, lo, hi):
    """Log masses of the balls (cumulative integrals outward from the centre) and the log normalisers."""
    log_z = special.logsumexp(np.concatenate([lpan, np.stack(tails, axis=1)], axis=1), axis=1)
    kidx = np.arange(lpan.shape[1])[None, :]
    i0 = np.sum(grid < 0.0, axis=1)[:, None]  # index of u = 0 in grid
    c_right = np.logaddexp.accumulate(np.where(kidx >= i0, lpan, -np.inf), axis=1)
    c_left = np.logaddexp.accumulate(np.where(kidx < i0, lpan, -np.inf)[:, ::-1], axis=1)[:, ::-1]
    v_r = np.minimum(radii[None, :], hi[:, None])
    v_l = np.maximum(-radii[None, :], lo[:, None])
    idx_r = np.sum(grid[:, None, :] < v_r[:, :, None], axis=2) - 1
    idx_l = np.sum(grid[:, None, :] < v_l[:, :, None], axis=2)
    take_r = np.take_along_axis(c_right, np.clip(idx_r, 0, lpan.shape[1] - 1), axis=1)
    take_l = np.take_along_axis(c_left, np.clip(idx_l, 0, lpan.shape[1] - 1), axis=1)
    take_r = np.where(idx_r >= i0, take_r, -np.inf)
    take_l = np.where(idx_l < i0, take_l, -np.inf)
    log_ball = np.logaddexp(take_r, take_l)
    with np.errstate(invalid="ignore"):
        log_mass = np.minimum(log_ball - log_z[:, None], 0.0)
    bad = ~np.isfinite(log_z)
    log_mass[bad] = np.nan
    return log_mass, log_z


def log_ball_volume(d, radii, norm="euclidean", scales=None):
    """Log volume of a d-dimensional ball of radius r.

    Parameters
    ----------
    d : int
        Dimension.
    radii : array_like
        Radii (> 0).
    norm : {"euclidean", "max"}
        Euclidean ball ``pi^(d/2) r^d / Gamma(d/2 + 1)`` or cube ``(2r)^d``.
    scales : array_like, shape (d,), optional
        Per-coordinate scales (the ball becomes an ellipsoid or box with
        half-widths ``r * scales``); multiplies the volume by their product.

    Returns
    -------
    ndarray
        Log volumes, shaped like ``radii``.

    Examples
    --------
    >>> float(np.exp(log_ball_volume(2, 1.0)))  # doctest: +ELLIPSIS
    3.14159...
    >>> float(np.exp(log_ball_volume(3, 0.5, norm="max")))
    1.0
    """
    radii = np.asarray(radii, dtype=float)
    d = int(d)
    if norm == "euclidean":
        base = 0.5 * d * np.log(np.pi) - special.gammaln(0.5 * d + 1.0)
    elif norm == "max":
        base = d * np.log(2.0)
    else:
        raise ValueError(f"norm must be 'euclidean' or 'max', got {norm!r}")
    if scales is not None:
        base = base + float(np.sum(np.log(np.asarray(scales, dtype=float))))
    return base + d * np.log(radii)


def _unit_ball_points(u, norm):
    """Map points of [0, 1)^(d+1) (euclidean) or [0, 1)^d (max) into the unit ball."""
    if norm == "max":
        return 2.0 * u - 1.0
    d = u.shape[1] - 1
    uc = np.clip(u, 1e-15, 1.0 - 1e-15)
    z = stats.norm.ppf(uc[:, 1:])
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    rad = uc[:, :1] ** (1.0 / d)
    return z * rad


def qmc_ball_log_integral(
    logp,
    center,
    radii,
    *,
    norm="euclidean",
    scales=None,
    m=12,
    n_randomizations=8,
    seed=None,
    chunk_size=None,
):
    """Integral of an unnormalised density over d-dimensional balls by Sobol RQMC.

    ``I(r) = int_{||x - c|| <= r} exp(logp(x)) dx`` is estimated as the ball's
    volume times the mean of ``exp(logp)`` at ``2**m`` scrambled Sobol points
    spread uniformly over the ball; ``n_randomizations`` independent
    scramblings give the standard error. The same points (rescaled) serve all
    radii, so the curve is smooth in ``r``. Points outside the support have
    ``logp = -inf`` and count as zero.

    Parameters
    ----------
    logp : callable
        ``logp(points)`` with points of shape ``(n_batch, n_eval, d)`` returns
        ``(n_batch, n_eval)``.
    center : array_like, shape (d,)
    radii : array_like, shape (R,)
        Radii (> 0).
    norm : {"euclidean", "max"}
        Euclidean ball (uniform points: Gaussian directions from the inverse
        normal CDF of d Sobol coordinates and radius ``U**(1/d)`` from one
        more) or max-norm cube.
    scales : array_like, shape (d,), optional
        Per-coordinate scales: the ball is ``||(x - c) / scales|| <= r``
        (use for the "scaled" norms).
    m : int, default 12
        ``2**m`` points per randomisation.
    n_randomizations : int, default 8
        Independent scramblings (at least 2 for a standard error).
    seed : int or numpy.random.Generator, optional
    chunk_size : int, optional
        Points per log-density call (default about 4 million coordinates).

    Returns
    -------
    QMCBallIntegral
        ``log_integral`` (R,), ``log_integral_se`` (R,),
        ``log_integral_reps`` (n_randomizations, R), ``log_volume`` (R,),
        ``n_points``.

    Examples
    --------
    Mass of the standard bivariate normal in the unit disc, 1 - exp(-1/2):

    >>> def logp(x):
    ...     return -0.5 * (x ** 2).sum(axis=-1) - np.log(2 * np.pi)
    >>> res = qmc_ball_log_integral(logp, np.zeros(2), [1.0], m=10, seed=1)
    >>> bool(abs(np.exp(res.log_integral[0]) - (1 - np.exp(-0.5))) < 1e-3)
    True
    """
    center, radii, scales = _checked_qmc_args(center, radii, norm=norm, scales=scales)
    d = center.size
    m = int(m)
    n_randomizations = int(n_randomizations)
    if n_randomizations < 1:
        raise ValueError("n_randomizations must be >= 1")
    rng = np.random.default_rng(seed)
    n_pts = 2**m
    dim = d + 1 if norm == "euclidean" else d
    if chunk_size is None:
        chunk_size = max(1, int(4e6 // max(d, 1)))
    log_vol = log_ball_volume(d, radii, norm=norm, scales=scales)
    reps = np.empty((n_randomizations, radii.size))
    for k in range(n_randomizations):
        sob = stats.qmc.Sobol(d=dim, scramble=True, seed=rng)
        unit = _unit_ball_points(sob.random_base2(m), norm)
        if scales is not None:
            unit = unit * scales[None, :]
        reps[k] = _ball_log_sum(logp, center, radii, unit, chunk_size) - np.log(n_pts) + log_vol
    log_int, se = _combine_randomizations(reps)
    return QMCBallIntegral(
        radii=radii.copy(),
        log_integral=log_int,
        log_integral_se=se,
        log_integral_reps=reps,
        log_volume=log_vol,
        n_points=n_pts,
    )


def _checked_qmc_args(center, radii, *, norm, scales):
    """Check the ball of :func:`qmc_ball_log_integral`; ``center``, ``radii`` and ``scales`` as arrays."""
    center = np.asarray(center, dtype=float).reshape(-1)
    d = center.size
    if d == 0 or not np.all(np.isfinite(center)):
        raise ValueError("center must be a non-empty finite vector")
    radii = np.asarray(radii, dtype=float)
    if radii.ndim != 1 or radii.size == 0 or not np.all(np.isfinite(radii)) or np.any(radii <= 0):
        raise ValueError("radii must be a non-empty 1-D array of finite values > 0")
    if norm not in ("euclidean", "max"):
        raise ValueError(f"norm must be 'euclidean' or 'max', got {norm!r}")
    if scales is not None:
        scales = np.asarray(scales, dtype=float).reshape(-1)
        if scales.size != d or np.any(~np.isfinite(scales)) or np.any(scales <= 0):
            raise ValueError(f"scales must have {d} finite positive values")
    check_radii_precision(center, radii)
    return center, radii, scales


def _ball_log_sum(logp, center, radii, unit, chunk_size):
    """``log sum exp(logp)`` over the points ``center + r * unit`` of each radius, in chunks of points."""
    n_pts = unit.shape[0]
    acc = np.full(radii.size, -np.inf)
    step = max(1, chunk_size // radii.size)
    for s in range(0, n_pts, step):
        block = unit[s : s + step]
        pts = center[None, None, :] + radii[:, None, None] * block[None, :, :]
        vals = np.asarray(logp(pts), dtype=float).reshape(radii.size, block.shape[0])
        vals = np.where(np.isnan(vals), -np.inf, vals)
        acc = np.logaddexp(acc, special.logsumexp(vals, axis=1))
    return acc


def _combine_randomizations(reps):
    """Log of the mean integral over the randomisations (rows of ``reps``) and its relative standard error."""
    n_randomizations = reps.shape[0]
    top = np.max(reps, axis=0)
    safe_top = np.where(np.isfinite(top), top, 0.0)
    lin = np.exp(reps - safe_top[None, :])
    mean = lin.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_int = np.log(mean) + safe_top
        if n_randomizations > 1:
            se = lin.std(axis=0, ddof=1) / np.sqrt(n_randomizations) / mean
        else:
            se = np.full(reps.shape[1], np.nan)
    log_int = np.where(np.isfinite(top), log_int, -np.inf)
    se = np.where(np.isfinite(top), se, np.nan)
    return log_int, se
