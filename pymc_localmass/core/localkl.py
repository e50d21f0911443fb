"""Local (set-localised) KL, its regularised form, and the bounds users need.

numpy/scipy only. Notation of THEORY.md sections 3-4: for finite measures
``mu``, ``nu`` and a region ``A``::

    KL_A(mu || nu) = int_A log(dmu/dnu) dmu - mu(A) + nu(A)
                   = mu(A) * KL(mu_A || nu_A) + phi(mu(A), nu(A))      (shape + mass)
    phi(x, y)      = x log(x / y) - x + y
    RE-KL_{A,eps}(mu || nu) = KL_A(mu || nu + eps * mu).

Three ways to compute ``KL_A`` (each result records its ``tier``):

* :func:`local_kl_quad` -- exact, by adaptive 1-D quadrature of two known
  densities (plus atoms) over an interval, a ball, a tail or a union of
  intervals, split at the densities' singular points;
* :func:`local_kl_qmc` -- d-dimensional boxes (optionally cut by a boolean
  function) by randomised quasi-Monte Carlo, with an interval;
* :func:`local_kl_knn` -- from draws of both measures only: a k-nearest-
  neighbour estimator (Wang, Kulkarni and Verdu 2009) restricted to ``A``,
  with a batch-based interval.

And the closed forms of section 4: :func:`phi`, the sub-level sets of
``phi`` through the Lambert W function (:func:`phi_interval_y`,
:func:`phi_interval_x`, :func:`reference_mass_interval`) and the
"ELBO blindness" bound :func:`elbo_blindness_bound`.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy import integrate, special, stats
from scipy.spatial import cKDTree
from scipy.stats import qmc

from ._errors import InvalidInputError, InvalidTypeError

__all__ = [
    "Ball",
    "Box",
    "LocalKL",
    "Tail",
    "Where",
    "elbo_blindness_bound",
    "local_kl_knn",
    "local_kl_mc",
    "local_kl_qmc",
    "local_kl_quad",
    "phi",
    "phi_interval_x",
    "phi_interval_y",
    "reference_mass_interval",
]


# ---------------------------------------------------------------------------
# phi


def _h_near_one(d):
    """(1 + d) log(1 + d) - d, accurate for all d > -1 (series for small |d|)."""
    d = np.asarray(d, dtype=float)
    small = np.abs(d) < 0.05
    with np.errstate(invalid="ignore", divide="ignore"):
        direct = special.xlog1py(1.0 + d, d) - d
    ds = np.where(small, d, 0.0)
    series = np.zeros_like(ds)
    p = ds * ds
    for k in range(2, 16):  # sum_{k>=2} (-1)^k d^k / (k (k - 1))
        series = series + ((-1.0) ** k) * p / (k * (k - 1))
        p = p * ds
    return np.where(small, series, direct)


def phi(x, y):
    """The mass term ``phi(x, y) = x log(x / y) - x + y`` (>= 0), vectorised.

    Parameters
    ----------
    x, y : array_like
        Non-negative masses (broadcast together).

    Returns
    -------
    ndarray
        ``phi(x, y)`` with its limits: ``phi(0, y) = y``; ``phi(x, 0) = inf``
        for ``x > 0``; NaN for negative or NaN input. Accurate to rounding
        also where ``x`` is close to ``y`` (``phi ~ (x - y)^2 / (2 y)``).

    Examples
    --------
    >>> phi([0.0, 0.5, 1.0], [0.2, 0.0, 1.0])
    array([0.2, inf, 0. ])
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    out = np.full(x.shape, np.nan)
    ok = (x >= 0) & (y >= 0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        general = special.rel_entr(x, y) - x + y  # x log(x/y) - x + y with the limits
        general = np.where(np.isposinf(x) | np.isposinf(y), np.nan, general)
        d = (x - y) / y
        near = ok & (y > 0) & (x > 0) & (np.abs(d) < 1.0)
        out = np.where(ok, general, out)
        out = np.where(near, y * _h_near_one(np.where(near, d, 0.0)), out)
    out = np.where(ok & (x == 0), y, out)
    return out[()] if out.ndim == 0 else out


# ---------------------------------------------------------------------------
# sub-level sets of phi through Lambert W


def _expm1_minus_t(t):
    """exp(t) - 1 - t with full relative precision (series near 0)."""
    t = np.asarray(t, dtype=float)
    small = np.abs(t) < 0.1
    with np.errstate(over="ignore"):
        direct = np.expm1(t) - t
    ts = np.where(small, t, 0.0)
    series = np.zeros_like(ts)
    term = ts * ts / 2.0
    for k in range(3, 20):
        series = series + term
        term = term * ts / k
    return np.where(small, series, direct)


def _expm1_t_minus(v):
    """exp(v) (v - 1) + 1 with full relative precision (series near 0)."""
    v = np.asarray(v, dtype=float)
    small = np.abs(v) < 0.1
    with np.errstate(over="ignore", invalid="ignore"):
        direct = np.exp(v) * (v - 1.0) + 1.0
    vs = np.where(small, v, 0.0)
    series = np.zeros_like(vs)
    p = vs * vs
    fact = 2.0
    for k in range(2, 20):  # sum_{k>=2} (k - 1) v^k / k!
        series = series + (k - 1) * p / fact
        p = p * vs
        fact = fact * (k + 1)
    return np.where(small, series, direct)


def _safe_newton(f, fprime, lo, hi, t0, increasing, n_iter=200):
    """Vectorised Newton iteration safeguarded by bisection on a bracket.

    ``f`` is monotone on ``[lo, hi]`` with a sign change there (increasing or
    decreasing as told); a Newton step leaving the current bracket is
    replaced by bisection, so the iteration always converges.
    """
    lo, hi, t = (np.array(v, dtype=float) for v in np.broadcast_arrays(lo, hi, t0))
    t = np.where(np.isfinite(t) & (t >= lo) & (t <= hi), t, 0.5 * (lo + hi))
    done = np.zeros(t.shape, dtype=bool)
    for _ in range(n_iter):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ft = f(t)
            left = (ft < 0) if increasing else (ft > 0)
            lo = np.where(left & ~done, t, lo)
            hi = np.where(~left & ~done, t, hi)
            tn = t - ft / fprime(t)
            bad = ~np.isfinite(tn) | (tn <= lo) | (tn >= hi)
            tn = np.where(bad, 0.5 * (lo + hi), tn)
            tn = np.where(done | (ft == 0), t, tn)
        done |= np.abs(tn - t) <= 4e-16 * np.maximum(1.0, np.abs(t))
        t = tn
        if np.all(done):
            break
    return t


def _solve_log_ratio_y(kappa, branch):
    """t = log(y/x) solving exp(t) - 1 - t = kappa (branch -1: t <= 0, +1: t >= 0).

    Lambert W gives the start, ``y/x = -W_k(-exp(-1 - kappa))`` with k = 0
    for the lower and k = -1 for the upper end; safeguarded Newton steps on
    the cancellation-free form then polish it to rounding (the W value alone
    loses digits near the branch point, i.e. for small ``kappa``).
    """
    kappa = np.asarray(kappa, dtype=float)
    kap = np.where(np.isfinite(kappa), kappa, 0.0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        s = -special.lambertw(-np.exp(-1.0 - kap), 0 if branch < 0 else -1).real
        t0 = np.where(kap < 1e-6, branch * np.sqrt(2.0 * kap), np.log(s))
        if branch < 0:
            lo, hi = -1.0 - kap, np.zeros_like(kap)
        else:
            lo, hi = np.zeros_like(kap), np.log(2.0 * (1.0 + kap))
        t = _safe_newton(lambda t: _expm1_minus_t(t) - kap, np.expm1, lo, hi, t0, branch > 0)
    t = np.where(kap == 0, 0.0, t)
    return np.where(np.isposinf(kappa), branch * np.inf, t)


def _solve_log_ratio_x(lam, branch):
    """v = log(x/y) solving exp(v)(v - 1) + 1 = lam (branch -1: v <= 0, +1: v >= 0).

    Start from ``x/y = exp(1 + W_k((lam - 1)/e))`` (k = -1 lower, k = 0 upper),
    then safeguarded Newton on the cancellation-free form. The lower end is
    ``-inf`` (x = 0) when ``lam >= 1``.
    """
    lam = np.asarray(lam, dtype=float)
    la = np.where(np.isfinite(lam), lam, 0.0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if branch < 0:
            la = np.where(la >= 1, 0.5, la)  # placeholder, replaced below
        v0 = 1.0 + special.lambertw((la - 1.0) / math.e, -1 if branch < 0 else 0).real
        v0 = np.where(la < 1e-6, branch * np.sqrt(2.0 * la), v0)
        if branch < 0:
            lo, hi = 2.0 * np.log((1.0 - la) / 1.22), np.zeros_like(la)
        else:
            lo, hi = np.zeros_like(la), 1.0 + np.log1p(la)
        v = _safe_newton(lambda v: _expm1_t_minus(v) - la, lambda v: v * np.exp(v), lo, hi, v0, branch > 0)
    v = np.where(la == 0, 0.0, v)
    if branch < 0:
        v = np.where(lam >= 1, -np.inf, v)
    return np.where(np.isposinf(lam), branch * np.inf, v)


def phi_interval_y(x, bound):
    """Ends of ``{y >= 0 : phi(x, y) <= K}`` for given ``x`` and ``K = bound``.

    With ``y = x s`` the boundary solves ``s - log s = 1 + K/x``, so
    ``s = -W_k(-exp(-1 - K/x))``: branch ``k = 0`` gives the lower end
    (``s <= 1``), branch ``k = -1`` the upper end (``s >= 1``). Newton steps
    polish the Lambert W values, so ``phi(x, end) = K`` to rounding even for
    tiny or huge ``K/x``. For ``x = 0`` the set is ``[0, K]``.

    Parameters
    ----------
    x : array_like
        Mass of the first measure, ``>= 0`` (e.g. ``q(A)`` of an approximation).
    bound : array_like
        ``K >= 0`` (a global KL bound); broadcast with ``x``.

    Returns
    -------
    lower, upper : ndarray
        Interval ends (``lower`` may underflow to 0 when ``K/x`` > ~700).

    Examples
    --------
    >>> lo, hi = phi_interval_y(0.1, 0.05)
    >>> bool(np.allclose(phi(0.1, [lo, hi]), 0.05, rtol=1e-12))
    True
    """
    x, K = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(bound, dtype=float))
    if np.any(x < 0) or np.any(K < 0) or np.any(np.isnan(x)) or np.any(np.isnan(K)):
        raise InvalidInputError("phi_interval_y needs x >= 0 and bound >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(x > 0, K / np.where(x > 0, x, 1.0), 0.0)
    t_lo = _solve_log_ratio_y(kappa, -1)
    t_hi = _solve_log_ratio_y(kappa, +1)
    with np.errstate(over="ignore", invalid="ignore"):
        lower = np.where(x > 0, x * np.exp(t_lo), 0.0)
        upper = np.where(x > 0, x * np.exp(t_hi), K)
    lower = np.where(np.isposinf(x), np.nan, lower)
    upper = np.where(np.isposinf(x), np.nan, upper)
    return (lower[()], upper[()]) if lower.ndim == 0 else (lower, upper)


def phi_interval_x(y, bound):
    """Ends of ``{x >= 0 : phi(x, y) <= K}`` for given ``y`` and ``K = bound``.

    With ``x = y u`` the boundary solves ``u log u - u + 1 = K/y``, so
    ``u = exp(1 + W_k((K/y - 1)/e))``: ``k = 0`` gives the upper end; the
    lower end is 0 when ``K >= y`` (``phi(0, y) = y``) and otherwise comes
    from ``k = -1``. Newton steps polish both. For ``y = 0`` the set is
    ``{0}``.

    Parameters
    ----------
    y : array_like
        Mass of the second measure, ``>= 0``.
    bound : array_like
        ``K >= 0``.

    Returns
    -------
    lower, upper : ndarray

    Examples
    --------
    >>> lo, hi = phi_interval_x(0.1, 0.05)
    >>> bool(np.allclose(phi([lo, hi], 0.1), 0.05, rtol=1e-12))
    True
    """
    y, K = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(bound, dtype=float))
    if np.any(y < 0) or np.any(K < 0) or np.any(np.isnan(y)) or np.any(np.isnan(K)):
        raise InvalidInputError("phi_interval_x needs y >= 0 and bound >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(y > 0, K / np.where(y > 0, y, 1.0), 0.0)
    v_lo = _solve_log_ratio_x(lam, -1)
    v_hi = _solve_log_ratio_x(lam, +1)
    with np.errstate(over="ignore", invalid="ignore"):
        lower = np.where(y > 0, y * np.exp(v_lo), 0.0)
        upper = np.where(y > 0, y * np.exp(v_hi), 0.0)
    return (lower[()], upper[()]) if lower.ndim == 0 else (lower, upper)


def reference_mass_interval(q_mass, kl_bound):
    """Reference masses ``p(A)`` compatible with ``q(A)`` and ``KL(q || p) <= K``.

    Since ``phi(q(A), p(A)) <= KL_A(q || p) <= KL(q || p) <= K``, ``p(A)``
    lies in ``{y : phi(q(A), y) <= K}`` (THEORY.md section 4); this is
    :func:`phi_interval_y` with ``x = q(A)``. A large ``K``-interval next to
    the measured ``p(A)`` shows how little a global (ELBO-type) bound says
    about a small region.

    Parameters
    ----------
    q_mass : array_like
        Approximation's mass of the region.
    kl_bound : array_like
        Bound on the reverse KL ``KL(q || p)`` in nats.

    Returns
    -------
    lower, upper : ndarray

    Examples
    --------
    >>> lo, hi = reference_mass_interval(1e-6, 0.08)
    >>> bool(lo == 0.0 or lo < 1e-30), bool(0.08 < hi < 0.09)
    (True, True)
    """
    return phi_interval_y(q_mass, kl_bound)


def elbo_blindness_bound(q_mass, p_mass):
    """Least reverse KL a local mass deficit must cost: ``phi(q(A), p(A))``.

    ``KL(q || p) >= KL_A(q || p) >= phi(q(A), p(A))``; when ``q(A) <= p(A)``
    this is at most ``p(A)`` (it tends to ``p(A)`` as ``q(A) -> 0``), so a
    small ball's collapse -- any ratio ``p(A)/q(A)`` -- may cost the ELBO as
    little as ``p(A)`` nats. The forward direction's bound,
    ``phi(p(A), q(A))``, grows without limit instead.

    Parameters
    ----------
    q_mass, p_mass : array_like
        Approximation's and reference's masses of the region.

    Returns
    -------
    ndarray
        ``phi(q_mass, p_mass)``.

    Examples
    --------
    >>> float(elbo_blindness_bound(1e-9, 0.08)) < 0.08
    True
    """
    return phi(q_mass, p_mass)


# ---------------------------------------------------------------------------
# regions


class Box:
    """Closed box ``lower <= x <= upper`` (an interval in 1-D); ends may be infinite.

    Examples
    --------
    >>> Box(-1.0, 2.0).intervals()
    [(-1.0, 2.0)]
    """

    def __init__(self, lower, upper):
        self.lower = _region_array("Box", "lower", lower)
        self.upper = _region_array("Box", "upper", upper)
        if self.lower.shape != self.upper.shape or np.any(self.upper < self.lower) or np.isnan(self.lower).any() \
                or np.isnan(self.upper).any():
            raise InvalidInputError(f"Box needs lower <= upper of the same shape, got lower={lower!r}, "
                                    f"upper={upper!r}")

    @property
    def dim(self):
        return self.lower.size

    def contains(self, x):
        x = _as_points(x, self.dim)
        return np.all((x >= self.lower) & (x <= self.upper), axis=1)

    def intervals(self):
        _need_1d(self)
        return [(float(self.lower[0]), float(self.upper[0]))]


class Ball:
    """Closed ball ``||x - center|| <= radius`` (norm "euclidean" or "max").

    Examples
    --------
    >>> Ball(0.0, 0.5).intervals()
    [(-0.5, 0.5)]
    """

    _size = "radius"

    def __init__(self, center, radius, norm="euclidean"):
        kind = type(self).__name__
        self.center = _region_array(kind, "center", center)
        if not np.all(np.isfinite(self.center)):
            raise InvalidInputError(f"{kind} center must be finite, got {center!r}")
        try:
            self.radius = float(radius)
        except (TypeError, ValueError):
            raise InvalidTypeError(f"{kind} {self._size} must be a number, got {radius!r}") from None
        if not self.radius > 0:
            raise InvalidInputError(f"{kind} {self._size} must be > 0, got {radius!r}")
        if norm not in ("euclidean", "max"):
            raise InvalidInputError(f"{kind} norm must be 'euclidean' or 'max', got {norm!r}")
        self.norm = norm

    @property
    def dim(self):
        return self.center.size

    def _dist(self, x):
        diff = _as_points(x, self.dim) - self.center
        if self.norm != "euclidean":
            return np.max(np.abs(diff), axis=1)
        with np.errstate(over="ignore"):  # (beyond 1e154 the square is inf: the point is far, as it is)
            return np.sqrt(np.sum(diff * diff, axis=1))

    def contains(self, x):
        return self._dist(x) <= self.radius

    def intervals(self):
        _need_1d(self)
        c = float(self.center[0])
        return [(c - self.radius, c + self.radius)]


class Tail(Ball):
    """Tail ``||x - center|| > threshold``: the complement of ``Ball(center, threshold)``.

    Examples
    --------
    >>> Tail(0.0, 1.0).intervals()
    [(-inf, -1.0), (1.0, inf)]
    """

    _size = "threshold"

    def __init__(self, center, threshold, norm="euclidean"):
        super().__init__(center, threshold, norm)

    def contains(self, x):
        return self._dist(x) > self.radius

    def intervals(self):
        _need_1d(self)
        c = float(self.center[0])
        return [(-np.inf, c - self.radius), (c + self.radius, np.inf)]


class Where:
    """Region given by a boolean function of points ``(n, d) -> (n,)``.

    Usable by :func:`local_kl_knn`, and by :func:`local_kl_qmc` inside a box.

    Examples
    --------
    >>> Where(lambda x: x[:, 0] > 0).contains(np.array([[-1.0], [1.0]]))
    array([False,  True])
    """

    def __init__(self, func, dim=None):
        self.func = func
        self.dim = dim

    def contains(self, x):
        x = _as_points(x, self.dim)
        return np.asarray(self.func(x), dtype=bool).reshape(x.shape[0])


def _region_array(kind, name, value):
    """``value`` as a 1-D float array, or a package error naming the region's argument."""
    try:
        return np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InvalidTypeError(f"{kind} {name} must be a number or an array of numbers, got {value!r}") from None


def _as_points(x, dim):
    x = np.asarray(x, dtype=float)
    if x.ndim <= 1:
        x = x.reshape(-1, 1) if (dim in (None, 1)) else x.reshape(1, -1)
    return x


def _need_1d(region):
    if region.dim != 1:
        raise InvalidInputError(f"{type(region).__name__} of dimension {region.dim}: quadrature needs 1-D regions")


def _intervals_of(region):
    """A 1-D region as a list of disjoint (lo, hi) intervals."""
    if isinstance(region, (Box, Ball)):
        return region.intervals()
    if isinstance(region, tuple) and len(region) == 2 and np.ndim(region[0]) == 0:
        return Box(region[0], region[1]).intervals()
    if isinstance(region, list) and all(isinstance(iv, tuple) and len(iv) == 2 for iv in region):
        ivs = sorted((float(a), float(b)) for a, b in region)
        for (a0, b0), (a1, b1) in zip(ivs[:-1], ivs[1:]):
            if a1 < b0:
                raise InvalidInputError("intervals of a region must not overlap")
        return ivs
    raise InvalidTypeError("region must be a Box, Ball, Tail, a (lo, hi) tuple or a list of them")


def _contains_1d(region, points):
    points = np.asarray(points, dtype=float)
    if isinstance(region, (Box, Ball)):
        return region.contains(points.reshape(-1, 1))
    ivs = _intervals_of(region)
    return np.array([any(a <= p <= b for a, b in ivs) for p in points], dtype=bool)


# ---------------------------------------------------------------------------
# result


class LocalKL(NamedTuple):
    """Local extended KL ``KL_A(mu || nu_eps)`` with its shape/mass split.

    Attributes
    ----------
    kl : float
        ``KL_A(mu || nu + eps mu)`` (``eps = 0``: the plain local KL).
    shape : float
        ``mu(A) * KL(mu_A || nu_A)``.
    mass_term : float
        ``phi(mu(A), nu(A))``.
    mu_mass, nu_mass : float
        ``mu(A)`` and ``(nu + eps mu)(A)``, the masses entering ``phi``.
    eps : float
    kl_lower, kl_upper : float
        Interval on ``kl`` (quadrature: +- the reported absolute error;
        QMC, Monte Carlo and kNN: Student-t / normal interval at ``ci_prob``;
        from draws it stops at 0 and keeps its half-width above 0, while the
        estimate ``kl`` itself, unbiased, may fall slightly below 0).
    tier : str
        ``"quadrature"``, ``"qmc"``, ``"mc"`` or ``"knn"``.
    details : dict
        Tier-specific extras (errors, counts, per-batch values).
    """

    kl: float
    shape: float
    mass_term: float
    mu_mass: float
    nu_mass: float
    eps: float
    kl_lower: float
    kl_upper: float
    tier: str
    details: dict


# ---------------------------------------------------------------------------
# exact: 1-D quadrature


def _atoms(atoms):
    if atoms is None:
        return {}
    items = atoms.items() if isinstance(atoms, dict) else atoms
    out = {}
    for loc, w in items:
        w = float(w)
        if w < 0 or not np.isfinite(w):
            raise InvalidInputError("atom weights must be finite and >= 0")
        out[float(loc)] = out.get(float(loc), 0.0) + w
    return out


def _quad_pieces(intervals, breakpoints):
    pieces = []
    for a, b in intervals:
        cuts = sorted({p for p in breakpoints if a < p < b})
        ends = [a, *cuts, b]
        pieces.extend((lo, hi) for lo, hi in zip(ends[:-1], ends[1:]) if hi > lo)
    return pieces


def _quad(func, pieces, epsabs, epsrel, limit):
    total, err = 0.0, 0.0
    for a, b in pieces:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            val, e = integrate.quad(func, a, b, epsabs=epsabs, epsrel=epsrel, limit=limit)
        total += val
        err += e
    return total, err


_UNDERFLOW_LOG = -115.0  # log(1e-50): a plain density below this, where nu's underflows, counts as 0


def local_kl_quad(mu, nu, region, *, eps=0.0, mu_atoms=None, nu_atoms=None, breakpoints=(),
                  log_density=False, epsrel=1e-10, limit=200):
    """Exact local KL of two 1-D measures by adaptive quadrature.

    Parameters
    ----------
    mu, nu : callable
        Densities (of the absolutely continuous parts) ``f(x) -> float``,
        or log densities with ``log_density=True``; they may be 0 (or
        ``-inf``) outside their supports and singular at ``breakpoints``.
    region : Box, Ball, Tail, (lo, hi) tuple or list of disjoint tuples
        One-dimensional region ``A``; ``Box``/``Ball`` are closed, ``Tail`` is
        ``|x - c| > t``, so ``Ball(c, t)`` and ``Tail(c, t)`` partition R.
    eps : float, default 0
        ``eps > 0`` computes the regularised ``RE-KL_{A,eps} = KL_A(mu || nu + eps mu)``.
    mu_atoms, nu_atoms : dict or sequence of (location, weight), optional
        Point masses of either measure.
    breakpoints : sequence of float
        Points where a density is singular or jumps; each interval of ``A``
        is split there so that the quadrature meets the singularity at an
        end point (QUADPACK's QAGS extrapolates integrable end-point
        singularities such as ``|x|^(-1/2)`` and ``log|x|``).
    log_density : bool
        Whether ``mu``/``nu`` return log densities (recommended for tails:
        with plain densities, points where ``nu``'s density is 0 while
        ``mu``'s is below 1e-50 are taken as floating-point underflow in a
        far tail and contribute 0; where ``mu``'s is larger they are a
        support mismatch and make the result infinite).
    epsrel, limit : float, int
        Passed to :func:`scipy.integrate.quad`.

    Returns
    -------
    LocalKL
        ``tier="quadrature"``; ``kl`` is ``inf`` when ``mu`` restricted to
        ``A`` is not absolutely continuous with respect to ``nu`` (and
        ``eps = 0``), e.g. an atom of ``mu`` in ``A`` that ``nu`` lacks.

    Notes
    -----
    The masses ``mu(A)``, ``nu(A)`` are integrated first; the shape term is
    then integrated directly as ``int_A log((dmu/mu(A)) / (dnu/nu(A))) dmu``
    (no cancellation between large terms), and ``kl = shape + phi``.

    Examples
    --------
    >>> from scipy import stats
    >>> res = local_kl_quad(stats.norm(0, 1).pdf, stats.norm(0, 1).pdf, Ball(0.0, 1.0))
    >>> abs(res.kl) < 1e-12
    True
    """
    eps = float(eps)
    if not eps >= 0:
        raise InvalidInputError("`eps` must be >= 0")
    intervals = _intervals_of(region)
    mu_at, nu_at = _atoms(mu_atoms), _atoms(nu_atoms)
    pieces = _quad_pieces(intervals, [float(b) for b in breakpoints])
    mu_A, nu_A, mu_in, details = _quad_masses(mu, nu, region, pieces, mu_at, nu_at, eps=eps, log_density=log_density,
                                              epsrel=epsrel, limit=limit)
    if mu_A == 0:
        shape, e3 = 0.0, 0.0
    elif nu_A == 0:
        shape, e3 = math.inf, 0.0
    else:
        shape, e3 = _quad_shape(mu, nu, pieces, mu_A, nu_A, eps=eps, log_density=log_density, epsrel=epsrel,
                                limit=limit)
        for loc in mu_in:
            w = mu_at[loc]
            v = nu_at.get(loc, 0.0) + eps * w
            shape = math.inf if v == 0 else shape + w * (math.log(w / mu_A) - math.log(v / nu_A))
    details["shape_error"] = e3
    mterm = float(phi(mu_A, nu_A))
    kl = shape + mterm
    err = details["mu_mass_error"] + details["nu_mass_error"] + e3
    return LocalKL(kl, shape, mterm, mu_A, nu_A, eps, kl - err, kl + err, "quadrature", details)


def _log_value(func, x, log_density):
    """``log f(x)`` of a density or log density ``func`` (``-inf`` where the density is 0)."""
    with np.errstate(divide="ignore"):
        v = float(func(x))
        return v if log_density else (math.log(v) if v > 0 else -math.inf)


def _quad_masses(mu, nu, region, pieces, mu_at, nu_at, *, eps, log_density, epsrel, limit):
    """``mu(A)`` and the (regularised) ``nu(A)`` by quadrature plus the atoms in ``A`` (:func:`local_kl_quad`).

    Returns ``mu(A)``, ``nu(A)``, the locations of ``mu``'s atoms in ``A``
    and the details so far (the masses' quadrature errors, the
    unregularised ``nu(A)``).
    """
    def dens(func):
        return lambda x: math.exp(_log_value(func, x, log_density))

    mu_c, e1 = _quad(dens(mu), pieces, 0.0, epsrel, limit)
    nu_c, e2 = _quad(dens(nu), pieces, 0.0, epsrel, limit)

    def in_region(locs):
        return _contains_1d(region, np.array(locs)) if locs else np.array([], dtype=bool)

    mu_locs = [loc for loc, w in mu_at.items() if w > 0]
    mu_in = [loc for loc, inside in zip(mu_locs, in_region(mu_locs)) if inside]
    nu_locs = list(nu_at)
    nu_in = {loc for loc, inside in zip(nu_locs, in_region(nu_locs)) if inside}
    mu_A = mu_c + sum(mu_at[loc] for loc in mu_in)
    nu_A0 = nu_c + sum(nu_at[loc] for loc in nu_in)
    nu_A = nu_A0 + eps * mu_A
    return mu_A, nu_A, mu_in, {"mu_mass_error": e1, "nu_mass_error": e2, "nu_mass_unregularised": nu_A0}


def _quad_shape(mu, nu, pieces, mu_A, nu_A, *, eps, log_density, epsrel, limit):
    """The shape term of the continuous parts, ``int_A log((dmu/mu(A)) / (dnu/nu(A))) dmu``, and its error."""
    log_ratio_masses = math.log(nu_A) - math.log(mu_A)
    log_eps = math.log(eps) if eps > 0 else -math.inf

    def integrand(x):
        lf = _log_value(mu, x, log_density)
        if lf == -math.inf:
            return 0.0
        lg = _log_value(nu, x, log_density)
        lg = np.logaddexp(lg, log_eps + lf) if eps > 0 else lg
        if lg == -math.inf:
            # nu's density is 0 where mu's is not: a support mismatch, unless
            # both are far in a tail where the densities underflow
            return 0.0 if lf < _UNDERFLOW_LOG else math.inf
        return math.exp(lf) * (lf - lg + log_ratio_masses)

    shape, e3 = _quad(integrand, pieces, 1e-13 * mu_A, epsrel, limit)
    if not np.isfinite(shape):
        shape = math.inf
    return shape, e3


# ---------------------------------------------------------------------------
# d-dimensional boxes: randomised QMC


def local_kl_qmc(mu_logpdf, nu_logpdf, box, *, region=None, eps=0.0, n_points=2**13,
                 n_randomizations=8, ci_prob=0.94, seed=None):
    """Local KL over a d-dimensional box (optionally cut by a region) by RQMC.

    Parameters
    ----------
    mu_logpdf, nu_logpdf : callable
        Vectorised log densities ``(n, d) -> (n,)`` (``-inf`` outside the
        support).
    box : Box
        Finite box to integrate over (the region ``A`` itself, or a box
        containing it when ``region`` is given).
    region : Ball, Tail or Where, optional
        Restricts ``A`` to ``box`` intersected with ``region``.
    eps : float, default 0
        Regularisation, as in :func:`local_kl_quad`.
    n_points : int
        Sobol points per randomisation (a power of 2).
    n_randomizations : int
        Independent scramblings (>= 2) for the interval.
    ci_prob : float
    seed : int or numpy Generator, optional

    Returns
    -------
    LocalKL
        ``tier="qmc"``; means over the randomisations; ``details`` holds the
        standard errors of ``kl``, ``shape``, ``mu_mass`` and ``nu_mass``.

    Notes
    -----
    Atoms are not supported here (use :func:`local_kl_quad` in 1-D). A
    density singular inside the box makes the estimator's variance large;
    the interval then widens accordingly but QMC converges slowly.

    Examples
    --------
    >>> from scipy import stats
    >>> lp = stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf
    >>> res = local_kl_qmc(lp, lp, Box([-1, -1], [1, 1]), seed=0)
    >>> abs(res.kl) < 1e-12
    True
    """
    if not isinstance(box, Box):
        raise InvalidTypeError("`box` must be a Box")
    if not (np.all(np.isfinite(box.lower)) and np.all(np.isfinite(box.upper))):
        raise InvalidInputError("local_kl_qmc needs a finite box")
    if n_randomizations < 2:
        raise InvalidInputError("`n_randomizations` must be >= 2")
    eps = float(eps)
    d = box.dim
    width = box.upper - box.lower
    logvol = float(np.sum(np.log(width)))
    rng = np.random.default_rng(seed)
    K = int(n_randomizations)
    est = np.zeros((K, 4))  # kl, shape, mu_A, nu_A
    log_eps = math.log(eps) if eps > 0 else -math.inf
    for k in range(K):
        u = qmc.Sobol(d, scramble=True, seed=rng).random(int(n_points))
        est[k] = _qmc_kl_estimate(mu_logpdf, nu_logpdf, box.lower + u * width, region, eps=eps, log_eps=log_eps,
                                  logvol=logvol)
    mean = est.mean(axis=0)
    with np.errstate(invalid="ignore"):
        se = est.std(axis=0, ddof=1) / math.sqrt(K)
    tq = stats.t.ppf(0.5 + 0.5 * ci_prob, K - 1)
    mean, se = [float(v) for v in mean], [float(v) for v in se]
    details = {"kl_se": se[0], "shape_se": se[1], "mu_mass_se": se[2], "nu_mass_se": se[3],
               "n_points": int(n_points), "n_randomizations": K}
    mterm = float(phi(mean[2], mean[3]))
    return LocalKL(mean[0], mean[0] - mterm, mterm, mean[2], mean[3], eps,
                   mean[0] - tq * se[0], mean[0] + tq * se[0], "qmc", details)


def _qmc_kl_estimate(mu_logpdf, nu_logpdf, x, region, *, eps, log_eps, logvol):
    """One randomisation of :func:`local_kl_qmc` on points ``x`` uniform in the box (log volume ``logvol``).

    Returns ``(kl, shape, mu(A), nu(A))``.
    """
    inside = np.ones(x.shape[0], dtype=bool) if region is None else region.contains(x)
    lf = np.where(inside, np.asarray(mu_logpdf(x), dtype=float), -np.inf)
    lg = np.where(inside, np.asarray(nu_logpdf(x), dtype=float), -np.inf)
    if eps > 0:
        lg = np.logaddexp(lg, log_eps + lf)
    vol = math.exp(logvol)
    f = np.exp(lf)
    mu_A = vol * f.mean()
    nu_A = vol * np.exp(lg).mean()
    with np.errstate(invalid="ignore"):
        pos = f > 0
        if np.any(pos & ~(lg > -np.inf)):
            integral = math.inf
        else:
            integral = vol * np.sum(f[pos] * (lf[pos] - lg[pos])) / f.size
    kl = integral - mu_A + nu_A
    return (kl, kl - float(phi(mu_A, nu_A)), mu_A, nu_A)


# ---------------------------------------------------------------------------
# draws only: k-nearest neighbours


def _kth_positive_distance(tree, pts, k, exclude_self):
    """Distance from each point to its k-th neighbour at positive distance.

    Exact ties (repeated draws) are skipped; returns the distances and the
    number of query points that had ties.
    """
    n_tree = tree.n
    extra = 1 if exclude_self else 0
    kk = min(n_tree, k + extra + 8)
    while True:
        # (in one dimension the max norm is |x - y| itself: the Euclidean norm's square
        # would underflow below 1e-154 and overflow above 1e154, as a collapsed fit's draws reach)
        dist, _ = tree.query(pts, k=kk, p=np.inf if pts.shape[1] == 1 else 2)
        dist = dist.reshape(pts.shape[0], -1)
        pos = dist > 0
        n_pos = np.sum(pos & np.isfinite(dist), axis=1)
        if np.all(n_pos >= k) or kk >= n_tree:
            break
        kk = min(n_tree, 2 * kk)
    ties = int(np.sum(np.sum(dist == 0, axis=1) > extra))
    if np.any(n_pos < k):
        raise InvalidInputError("too few distinct draws in the region for the kNN estimator")
    srt = np.sort(np.where(pos, dist, np.inf), axis=1)
    return srt[:, k - 1], ties


def _wkv_terms(x, y, k):
    """Per-draw log density-ratio estimates ``log f(x_i)/g(x_i)`` (Wang-Kulkarni-Verdu).

    ``d log(nu_k(i) / rho_k(i)) + log(m / (n - 1))``, with ``rho_k`` the
    distance from ``x_i`` to its k-th neighbour among the other x's and
    ``nu_k`` to its k-th neighbour among the y's. Their average over all x
    is the WKV estimate of ``KL(P || Q)``.
    """
    n, d = x.shape
    m = y.shape[0]
    # infinite draws (a transform that overflowed: mass beyond the float range) count
    # in n and m but are nobody's neighbour; their own terms are NaN (see local_kl_knn)
    fx = np.all(np.isfinite(x), axis=1)
    fy = np.all(np.isfinite(y), axis=1)
    terms = np.full(n, np.nan)
    if not fx.any():
        return terms, 0
    xf, yf = x[fx], y[fy]
    if yf.shape[0] < k:
        raise InvalidInputError(f"too few finite draws of the second distribution for the kNN estimator "
                         f"({yf.shape[0]} of {m}; k = {k})")
    rho, t1 = _kth_positive_distance(cKDTree(xf), xf, k, exclude_self=True)
    nu, t2 = _kth_positive_distance(cKDTree(yf), xf, k, exclude_self=False)
    terms[fx] = d * (np.log(nu) - np.log(rho)) + math.log(m / (n - 1))
    return terms, t1 + t2


def _unmatched_atoms(x, y, region, min_count=10, min_fraction=0.01):
    """Atoms of the draws ``x`` in ``region`` (a point repeated at least ``min_count`` times and in at
    least ``min_fraction`` of the draws) at which ``y`` has no draw: ``{point tuple: weight}``."""
    inx = np.ones(x.shape[0], bool) if region is None else region.contains(x)
    if inx.sum() < min_count:
        return {}
    vals, counts = np.unique(x[inx], axis=0, return_counts=True)
    big = counts >= max(min_count, min_fraction * x.shape[0])
    out = {}
    for v, c in zip(vals[big], counts[big]):
        if not np.any(np.all(y == v, axis=1)):
            out[tuple(float(t) for t in v)] = float(c / x.shape[0])
    return out


def local_kl_knn(x, y, region=None, *, k=5, n_batches=10, ci_prob=0.94):
    """k-nearest-neighbour estimate of ``KL_A(mu || nu)`` from draws of both.

    ``mu(A)`` and ``nu(A)`` are the fractions of the draws in ``A``, and

        int_A log(dmu/dnu) dmu ~ (1/n) sum_{i : x_i in A} [d log(nu_k(i) / rho_k(i)) + log(m / (n - 1))]

    the Wang-Kulkarni-Verdu log density-ratio estimates summed over the
    draws of ``mu`` that fall in ``A`` (``rho_k``: distance from ``x_i`` to its
    k-th neighbour among the other x's; ``nu_k``: to its k-th neighbour among
    the y's). The neighbours are searched among *all* draws, so the
    boundary of ``A`` does not bias the density ratio. Then
    ``KL_A = sum - mu(A) + nu(A)`` and the shape term is ``KL_A - phi``.

    Parameters
    ----------
    x : array_like, shape (n,) or (n, d)
        Draws of ``mu`` (in chain order if MCMC: batches are contiguous).
    y : array_like, shape (m,) or (m, d)
        Draws of ``nu``.
    region : Box, Ball, Tail or Where, optional
        ``A``; the whole space if omitted.
    k : int
        Neighbour order.
    n_batches : int
        The draws are cut into this many contiguous batches; the spread of
        the per-batch estimates, divided by ``sqrt(n_batches)``, is the
        standard error of the full estimate (Student-t interval). Contiguous
        batches keep the interval honest under moderate autocorrelation.
    ci_prob : float

    Returns
    -------
    LocalKL
        ``tier="knn"``, ``eps = 0``; ``details`` has ``n_mu_in``, ``n_nu_in``,
        ``ties`` (count of points with exact ties: a possible atom, which this
        tier cannot represent), ``kl_se``, ``bias_allowance`` (the gap between
        the batches' mean and the full estimate, added to the interval's
        half-width in quadrature) and the per-batch ``batch_kl``. In 3 or
        more dimensions a RuntimeWarning says that the bias may exceed it.

    Notes
    -----
    The estimator is consistent for densities but biased at finite sizes
    (more so in higher dimension); the estimated shape term can come out
    negative; it is then raised to the mass term ``phi(mu(A), nu(A))``, a
    lower bound of ``KL_A``, so that the estimate is never negative and always
    lies in its interval. An atom of ``mu`` in ``A`` (a point repeated in
    at least 1% of its draws, and 10 times) where ``nu`` has no draw makes
    ``KL_A(mu || nu)`` infinite: ``kl = inf`` with interval
    ``[phi(mu(A), nu(A)), inf]`` (``details["atoms"]``). Regions holding few draws give wide intervals.

    Where ``nu``'s density is unseen, the interval is open above: a share
    of at least :data:`UNCOVERED_SHARE` of ``mu``'s draws in ``A`` beyond the
    range of ``nu``'s draws (with a ``RuntimeWarning``: the estimate is
    biased low), or no draw of ``nu`` in ``A``. In the latter case ``nu(A)``
    is only known to lie below the Jeffreys upper end of a mass none of its
    draws fell in (``details["nu_mass_bound"]``; its effective number of
    draws, by batch means in the order given), and the mass term (and the
    floor of the estimate) is taken there, not at the plug-in 0, which made
    it infinite: a half-normal against a log-normal collapsed away from 0
    read ``inf [inf, inf]`` on [0, 0.1], whose ``KL_A`` is 8.5; now 0.39
    [0.24, inf]. Such an estimate is a lower one.

    Infinite draws (a transform that overflowed, as a collapsed Laplace
    fit's ``exp`` of a huge log scale gives) are mass beyond the float range:
    they count in ``n`` and ``m`` and in the masses of ``A``, but are
    nobody's neighbour (``details["n_mu_infinite"]``, ``"n_nu_infinite"``).
    Where draws of ``mu`` at infinity lie in ``A`` (a tail), their density
    ratio is unknown: ``kl`` is NaN with interval ``[phi(mu(A), nu(A)), inf]``
    and a RuntimeWarning. NaN draws raise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=4000), rng.normal(size=4000)
    >>> res = local_kl_knn(x, y, Box(-1.0, 1.0))
    >>> abs(res.kl) < 0.05
    True
    """
    x, y = _knn_draws(x, y, k=k, n_batches=n_batches)
    if x.shape[1] >= 3:
        warnings.warn(
            f"local_kl from draws in {x.shape[1]} dimensions: the nearest-neighbour estimator is biased "
            "(typically low) and its interval allows only for the bias visible between batch and full "
            "estimates; with known densities use quadrature/QMC instead", RuntimeWarning, stacklevel=2)
    kl, shape, mu_A, nu_A, ties = _knn_estimate(x, y, region, k)
    atoms = _unmatched_atoms(x, y, region)
    uncovered = _uncovered_fraction(x, y, region)
    if uncovered >= UNCOVERED_SHARE:
        warnings.warn(
            f"local_kl from draws: {uncovered:.1%} of the first distribution's draws in the region lie beyond "
            "the range of the second's, where the nearest-neighbour estimator cannot see how small the second "
            "density is: the estimate is biased low, and the interval is open above; with known densities use "
            "quadrature/QMC instead", RuntimeWarning, stacklevel=2)
    bx = np.array_split(np.arange(x.shape[0]), n_batches)
    by = np.array_split(np.arange(y.shape[0]), n_batches)
    batch = np.array([_knn_estimate(x[i], y[j], region, k)[0] for i, j in zip(bx, by)])
    # (no draw of nu in A: the plug-in nu(A) = 0 makes the mass term infinite, but nu(A) is only
    # below what y.shape[0] draws can see; the floor uses that bound: a finite lower end)
    nu_floor = _unseen_mass_bound(_effective_draws(y), ci_prob) if nu_A == 0 < mu_A else nu_A
    kl, shape, se, bias, lo, hi = _knn_interval(batch, kl, shape, mu_A, nu_floor, ci_prob)
    if nu_floor != nu_A and math.isfinite(kl):  # (the shape term beside the mass term reported, not the plug-in's)
        shape = kl - float(phi(mu_A, nu_floor))
    if uncovered >= UNCOVERED_SHARE or nu_A == 0 < mu_A:
        # nu's density is unseen where mu's draws lie (beyond nu's draws, or no draw of nu in A):
        # log(dmu/dnu) there is only bounded below, and the draws allow any KL above the lower end
        hi = math.inf
    beyond_float = _infinite_in_region(x, region)
    if beyond_float and not atoms:
        # draws of mu at infinity inside A (an overflowed transform, a Tail region): their
        # density ratio is unknown, so the draws allow every value from the mass term up
        warnings.warn(
            f"local_kl from draws: {beyond_float} of the first distribution's draws in the region are "
            "infinite (beyond the float range, as an overflowing transform gives); the nearest-neighbour "
            "estimator cannot weigh them: the estimate is NaN and its interval [phi(mu(A), nu(A)), inf]",
            RuntimeWarning, stacklevel=2)
        kl, shape, hi = math.nan, math.nan, math.inf
        lo = float(phi(mu_A, nu_A))
    if atoms:
        # an atom of mu (exact ties in A) at a point where nu has no draw: dmu/dnu is infinite on
        # a set of positive mu-mass, so KL_A(mu || nu) = inf (the regularised form is finite)
        kl, shape, hi = math.inf, math.inf, math.inf
        lo = float(phi(mu_A, nu_A))
    n_in_x = int(x.shape[0] if region is None else region.contains(x).sum())
    n_in_y = int(y.shape[0] if region is None else region.contains(y).sum())
    details = {"n_mu_in": n_in_x, "n_nu_in": n_in_y, "ties": ties, "kl_se": se, "bias_allowance": bias,
               "batch_kl": batch, "k": k, "uncovered_fraction": uncovered, "atoms": atoms,
               "n_mu_infinite": int((~np.isfinite(x).all(axis=1)).sum()),
               "n_nu_infinite": int((~np.isfinite(y).all(axis=1)).sum())}
    # (the mass term at nu(A)'s upper end where no draw of nu lies in A: its plug-in is infinite)
    details["nu_mass_bound"] = nu_floor
    return LocalKL(kl, shape, float(phi(mu_A, nu_floor)), float(mu_A), float(nu_A), 0.0, lo, hi, "knn", details)


#: share of ``mu``'s draws in ``A`` beyond the range of ``nu``'s draws above which the kNN estimate
#: is said to be biased low and its interval is open above. KL_A(p || q) of a half-normal p and a
#: log-normal q (log-sd 0.25: an approximation collapsed away from 0) on [0, 0.6] is 14.6; from
#: 4,000 draws of each the estimate read 2.3 [1.5, 3.1] (20,000: 2.8 [2.0, 3.6]), q's draws nearest
#: 0 at 0.4: the draws cannot see how small q's density is below them
UNCOVERED_SHARE = 0.01


def _effective_draws(y):
    """Effective number of the draws ``y`` (m, d), in their order: the smallest batch-means ESS of a coordinate.

    Autocorrelated draws (MCMC, in chain order) see a region less often than their number says;
    at most ``m``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> iid = rng.normal(size=(4000, 1))
    >>> ar = np.empty(4000); ar[0] = 0.0
    >>> for t in range(1, 4000): ar[t] = 0.95 * ar[t - 1] + rng.normal()
    >>> bool(_effective_draws(iid) > 2000), bool(_effective_draws(ar[:, None]) < 400)
    (True, True)
    """
    from .ess import batch_means_ess

    y = y[np.all(np.isfinite(y), axis=1)]
    m = y.shape[0]
    if m < 4:
        return float(max(m, 1))
    n_b = min(m, 128)
    edges = (np.arange(m) * n_b) // m
    sizes = np.bincount(edges, minlength=n_b)
    ess = []
    for j in range(y.shape[1]):
        col = y[:, j]
        var = float(col.var())
        if var > 0:
            sums = np.bincount(edges, weights=col, minlength=n_b)[None, :]
            ess.append(float(batch_means_ess(sums, sizes, draw_var=np.asarray(var))))
    return float(min(ess)) if ess else float(m)


def _unseen_mass_bound(m, ci_prob):
    """Upper end of a mass none of ``m`` independent draws fell in (Jeffreys, at ``ci_prob``).

    Examples
    --------
    >>> round(_unseen_mass_bound(4000, 0.94), 5)
    0.00059
    """
    return float(special.betaincinv(0.5, m + 0.5, 0.5 + 0.5 * ci_prob))


def _knn_draws(x, y, *, k, n_batches):
    """The draws of :func:`local_kl_knn` as (n, d) and (m, d) arrays, checked (with ``k`` and ``n_batches``)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x = x.reshape(-1, 1) if x.ndim == 1 else x
    y = y.reshape(-1, 1) if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise InvalidInputError("`x` and `y` must be (n, d) and (m, d) with the same d")
    for side, arr in (("x (the first distribution)", x), ("y (the second distribution)", y)):
        if np.isnan(arr).any():
            raise InvalidInputError(f"draws of {side} contain NaN ({int(np.isnan(arr).any(axis=1).sum())} of "
                             f"{arr.shape[0]}); infinite draws (an overflowed transform) are allowed, NaN is not")
    if n_batches < 2:
        raise InvalidInputError("`n_batches` must be >= 2")
    smallest = min(x.shape[0], y.shape[0]) // n_batches
    if not 1 <= k < smallest:
        raise InvalidInputError(f"k = {k} neighbours needs more draws: each of the {n_batches} batches has "
                         f"{smallest} (k must be at least 1 and below that)")
    return x, y


def _infinite_in_region(x, region):
    """How many of the draws ``x`` are infinite (in some coordinate) and lie in ``region``."""
    inf = ~np.all(np.isfinite(x), axis=1)
    if not inf.any():
        return 0
    inx = inf if region is None else inf & region.contains(x)  # (NaN draws were refused)
    return int(inx.sum())


def _uncovered_fraction(x, y, region):
    """The fraction of ``mu``'s draws in ``A`` that lie beyond the range of ``nu``'s draws.

    There ``nu``'s density is unseen (only bounded by the nearest ``nu``
    draws), so ``log(dmu/dnu)`` is underestimated, often badly.
    """
    inx_all = np.ones(x.shape[0], bool) if region is None else region.contains(x)
    yf = y[np.all(np.isfinite(y), axis=1)]  # (infinite draws show no density anywhere)
    if yf.shape[0] == 0:
        return 1.0 if inx_all.any() else 0.0
    beyond = np.any((x < yf.min(axis=0)) | (x > yf.max(axis=0)), axis=1) & inx_all
    return float(beyond.sum() / max(int(inx_all.sum()), 1))


def _knn_estimate(xb, yb, region, k):
    """The kNN estimate on one set of draws: ``kl, shape, mu(A), nu(A)`` and the count of tied points."""
    inx = np.ones(xb.shape[0], bool) if region is None else region.contains(xb)
    iny = np.ones(yb.shape[0], bool) if region is None else region.contains(yb)
    mu_A, nu_A = float(inx.mean()), float(iny.mean())
    mterm = float(phi(mu_A, nu_A))
    if inx.sum() == 0:
        return mterm, 0.0, mu_A, nu_A, 0
    if np.isfinite(xb).all(axis=1).sum() <= k or np.isfinite(yb).all(axis=1).sum() < k:
        return math.nan, math.nan, mu_A, nu_A, 0
    terms, ties = _wkv_terms(xb, yb, k)
    kl = float(np.sum(terms[inx]) / xb.shape[0]) - mu_A + nu_A
    return kl, kl - mterm, mu_A, nu_A, ties


def _knn_interval(batch, kl, shape, mu_A, nu_A, ci_prob):
    """The interval of the kNN estimate from its batches' spread, with a bias allowance.

    An estimate below the mass term ``phi(mu(A), nu(A))`` (a lower bound of
    ``KL_A``) is raised to it. Returns ``kl, shape, se, bias, lower, upper``
    (NaN interval with fewer than two finite batches).
    """
    good = np.isfinite(batch)
    if good.sum() >= 2:
        se = float(batch[good].std(ddof=1) / math.sqrt(good.sum()))
        tq = float(stats.t.ppf(0.5 + 0.5 * ci_prob, good.sum() - 1))
        # the nearest-neighbour estimator is biased, more so in more dimensions and
        # on fewer draws: the batches' (n / n_batches draws each) mean departs from
        # the full estimate by more than the full estimate's own bias, so that gap
        # is a conservative bias allowance, added to the half-width in quadrature
        bias = abs(float(batch[good].mean()) - kl)
        half = math.hypot(tq * se, bias)
        # KL_A >= phi(mu(A), nu(A)) >= 0: a (biased) estimate below the mass term is raised to
        # it, and the interval keeps its half-width and always holds the estimate
        mterm = float(phi(mu_A, nu_A))
        if kl < mterm:
            kl, shape = mterm, 0.0
        lo, hi = min(max(kl - half, 0.0), kl), max(kl + half, half)
    else:
        se, bias, lo, hi = math.nan, math.nan, math.nan, math.nan
    return kl, shape, se, bias, lo, hi


def local_kl_mc(mu_logpdf, nu_logpdf, x_mu, x_nu, region, *, eps=0.0, ci_prob=0.94):
    """Local KL with both densities known, by Monte Carlo over draws of each side.

    For regions without a finite bounding box (tails, boolean regions):
    ``int_A log(dmu/dnu) dmu`` and ``mu(A)`` are averages over draws of
    ``mu``, ``nu(A)`` over draws of ``nu``; the interval is the normal one
    from the draws' variances (independent draws).

    Parameters
    ----------
    mu_logpdf, nu_logpdf : callable
        Vectorised log densities ``(n, d) -> (n,)``.
    x_mu, x_nu : ndarray (n, d), (m, d)
        Independent draws of ``mu`` and of ``nu``.
    region : Box, Ball, Tail or Where
    eps : float, default 0
        Regularisation: ``nu`` is replaced by ``nu + eps mu``.
    ci_prob : float

    Returns
    -------
    LocalKL
        ``tier="mc"``; ``details`` has the standard error ``kl_se`` and the
        draw counts.

    Examples
    --------
    >>> from scipy import stats
    >>> rng = np.random.default_rng(0)
    >>> P, Q = stats.norm(0, 1), stats.norm(0, 2)
    >>> res = local_kl_mc(lambda x: P.logpdf(x[:, 0]), lambda x: Q.logpdf(x[:, 0]),
    ...                   P.rvs(200000, random_state=rng)[:, None], Q.rvs(200000, random_state=rng)[:, None],
    ...                   Tail(0.0, 1.0))
    >>> exact = local_kl_quad(P.pdf, Q.pdf, Tail(0.0, 1.0)).kl
    >>> bool(res.kl_lower <= exact <= res.kl_upper)
    True
    """
    x_mu = np.asarray(x_mu, dtype=float)
    x_nu = np.asarray(x_nu, dtype=float)
    x_mu = x_mu.reshape(-1, 1) if x_mu.ndim == 1 else x_mu
    x_nu = x_nu.reshape(-1, 1) if x_nu.ndim == 1 else x_nu
    eps = float(eps)
    if not eps >= 0:
        raise InvalidInputError("`eps` must be >= 0")
    n, m = x_mu.shape[0], x_nu.shape[0]
    if n < 2 or m < 2:
        raise InvalidInputError("need at least 2 draws of each side")
    inx = region.contains(x_mu)
    iny = region.contains(x_nu)
    lmu = np.asarray(mu_logpdf(x_mu[inx]), dtype=float)
    lnu = np.asarray(nu_logpdf(x_mu[inx]), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lnu_eps = np.logaddexp(lnu, math.log(eps) + lmu) if eps > 0 else lnu
        lr = lmu - lnu_eps
    if np.any(np.isposinf(lr)) or np.any(np.isnan(lr)):
        # mu has mass where nu has none: infinite unless regularised
        kl = math.inf
        return LocalKL(kl, math.inf, math.inf, float(inx.mean()), float(iny.mean()), eps, math.inf, math.inf,
                       "mc", {"kl_se": math.nan, "n_mu": n, "n_nu": m})
    # KL_A = E_mu[1_A (log ratio - 1 + eps)] + nu(A), as nu_eps(A) = nu(A) + eps mu(A)
    f = np.zeros(n)
    f[inx] = lr - 1.0 + eps
    mu_A = float(inx.mean())
    nu_A = float(iny.mean()) + eps * mu_A
    kl = float(f.mean()) + float(iny.mean())
    var = f.var(ddof=1) / n + iny.var(ddof=1) / m
    se = math.sqrt(max(var, 0.0))
    z = float(stats.norm.ppf(0.5 + 0.5 * ci_prob))
    mterm = float(phi(mu_A, nu_A))
    return LocalKL(kl, kl - mterm, mterm, mu_A, nu_A, eps, max(kl - z * se, 0.0), max(kl + z * se, z * se), "mc",
                   {"kl_se": se, "n_mu": n, "n_nu": m})
