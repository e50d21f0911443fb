"""Exact small-ball masses of Gaussian approximations (numpy/scipy only).

A Gaussian approximation (ADVI mean-field or full-rank, Laplace) lives in the
*unconstrained* space of a model; the ball whose mass we want is drawn in the
*constrained* space, where the variable has its natural units. For a scalar
element with a scalar transform ``x = g(y)``, ``y ~ N(mu, sigma)``, the ball
``[c - r, c + r]`` intersected with the support of ``x`` maps to an interval
``[y_lo, y_hi]`` and its mass is ``Phi((y_hi - mu)/sigma) - Phi((y_lo - mu)/sigma)``
(THEORY.md section 5, tier 2, "analytic"). Everything here is computed in log
space so that masses such as 1e-300, or far smaller, keep their relative
precision, and narrow intervals (tiny radii) are integrated by Gauss-Legendre
quadrature of the normal density instead of by a difference of two CDFs.

Joint balls over several coordinates (full covariance, any mix of scalar
transforms) are integrated by randomised quasi-Monte Carlo (scrambled Sobol
points, several independent randomisations for an interval); the result says
so in its ``tier`` field (``"qmc"``).

Supported scalar transforms (names follow PyMC's):

============== ==================================== =================
name           constrained value x                  support
============== ==================================== =================
``identity``   ``y``                                ``(-inf, inf)``
``log``        ``exp(y)``                           ``(0, inf)``
``lowerbound`` ``lower + exp(y)``                   ``(lower, inf)``
``upperbound`` ``upper - exp(y)``                   ``(-inf, upper)``
``interval``   ``lower + (upper-lower)*sigmoid(y)`` ``(lower, upper)``
``logodds``    ``sigmoid(y)``                       ``(0, 1)``
``log_exp_m1`` ``log(1 + exp(y))`` (softplus)       ``(0, inf)``
============== ==================================== =================

``interval`` with ``upper=None`` is ``lowerbound`` and with ``lower=None`` is
``upperbound`` (this is how PyMC's ``Interval`` transform behaves).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import linalg, special, stats
from scipy.stats import qmc

__all__ = [
    "TRANSFORMS",
    "GaussianBallMass",
    "GaussianMassIndex",
    "QMCBallMass",
    "gaussian_ball_log_mass",
    "gaussian_ball_mass",
    "gaussian_mass_index",
    "gaussian_joint_ball_mass",
    "transform_support",
]

TRANSFORMS = ("identity", "log", "lowerbound", "upperbound", "interval", "logodds", "log_exp_m1")

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)
_LOG_GL_WEIGHTS = np.log(_GL_WEIGHTS)


class GaussianBallMass(NamedTuple):
    """Exact small-ball masses of a transformed scalar Gaussian.

    Attributes
    ----------
    mass : ndarray
        ``P(|x - c| <= r)``.
    log_mass : ndarray
        Its natural logarithm (``-inf`` where the mass is exactly zero); keeps
        full relative precision where ``mass`` underflows.
    slope : ndarray
        Exact finite-radius slope ``d log m / d log r``.
    tier : str
        ``"analytic"``.
    """

    mass: np.ndarray
    log_mass: np.ndarray
    slope: np.ndarray
    tier: str = "analytic"


class GaussianMassIndex(NamedTuple):
    """Exact Mass Index ``(a, b)`` of a transformed Gaussian, and its atom weight.

    ``b`` is NaN where ``a`` is infinite (no power law to refine).
    """

    a: np.ndarray
    b: np.ndarray
    atom: np.ndarray


class QMCBallMass(NamedTuple):
    """Joint-ball masses of a Gaussian by randomised quasi-Monte Carlo.

    Attributes
    ----------
    mass, log_mass : ndarray, shape (..., R)
        Mean over the randomisations.
    mass_lower, mass_upper : ndarray
        Student-t interval at ``ci_prob`` from the spread of the independent
        randomisations (clipped to [0, 1]).
    std_error : ndarray
        Standard error of ``mass``.
    method : ndarray of str
        Per radius, which integral gave the estimate: ``"indicator"`` (ball
        indicator under the Gaussian) or ``"ball"`` (density integrated over
        the ball with points uniform in it; accurate for tiny balls).
    n_points, n_randomizations : int
    tier : str
        ``"qmc"``.
    """

    mass: np.ndarray
    log_mass: np.ndarray
    mass_lower: np.ndarray
    mass_upper: np.ndarray
    std_error: np.ndarray
    method: np.ndarray
    n_points: int
    n_randomizations: int
    tier: str = "qmc"


# ---------------------------------------------------------------------------
# helpers


def _canonical_transform(transform, lower, upper):
    """Return (name, lower, upper) with PyMC's aliases resolved."""
    name = "identity" if transform is None else str(transform).lower()
    aliases = {"none": "identity", "softplus": "log_exp_m1", "lower_bound": "lowerbound",
               "upper_bound": "upperbound", "logit": "logodds"}
    name = aliases.get(name, name)
    if name == "interval":
        if lower is None and upper is None:
            raise ValueError("transform 'interval' needs `lower` and/or `upper`")
        if upper is None:
            name = "lowerbound"
        elif lower is None:
            name = "upperbound"
    if name == "log":
        name, lower = "lowerbound", 0.0
    elif name == "logodds":
        name, lower, upper = "interval", 0.0, 1.0
    if name not in ("identity", "lowerbound", "upperbound", "interval", "log_exp_m1"):
        raise ValueError(f"unknown transform {transform!r}; expected one of {TRANSFORMS}")
    if name in ("lowerbound", "interval") and lower is None:
        raise ValueError(f"transform {transform!r} needs `lower`")
    if name in ("upperbound", "interval") and upper is None:
        raise ValueError(f"transform {transform!r} needs `upper`")
    lo = None if lower is None else np.asarray(lower, dtype=float)
    hi = None if upper is None else np.asarray(upper, dtype=float)
    for label, v in (("lower", lo), ("upper", hi)):
        if v is not None and not np.all(np.isfinite(v)):
            raise ValueError(f"`{label}` must be finite for transform {transform!r}")
    if name == "interval" and np.any(hi <= lo):
        raise ValueError("transform 'interval' needs upper > lower")
    return name, lo, hi


def transform_support(transform="identity", lower=None, upper=None):
    """Support ``(low, high)`` of the constrained variable under a transform.

    Parameters
    ----------
    transform : str
        One of :data:`TRANSFORMS`.
    lower, upper : array_like, optional
        Bounds for ``lowerbound``, ``upperbound`` and ``interval``.

    Returns
    -------
    low, high : ndarray
        Open support ``(low, high)``; infinite ends are ``-inf``/``inf``.

    Examples
    --------
    >>> transform_support("log")
    (array(0.), array(inf))
    """
    name, lo, hi = _canonical_transform(transform, lower, upper)
    low = lo if name in ("lowerbound", "interval") else np.asarray(0.0 if name == "log_exp_m1" else -np.inf)
    high = hi if name in ("upperbound", "interval") else np.asarray(np.inf)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def _log1mexp(x):
    """log(1 - exp(x)) for x <= 0, accurate in both regimes."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _log_normal_interval(za, zb, width):
    """log(Phi(zb) - Phi(za)) for za <= zb, with ``width = zb - za`` given accurately.

    Narrow intervals (``width * max(1, |z|) <= 1``) are integrated by 24-point
    Gauss-Legendre quadrature of the log density, which is exact to rounding
    there (the integrand is entire and varies by at most a factor e^1.1 over
    the interval); wide ones use erf (interval around 0) or a difference of
    ``log_ndtr`` values on the tail side, both free of cancellation.
    """
    za, zb, width = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (za, zb, width)))
    out = np.full(za.shape, -np.inf)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        flip = (za + zb) > 0
        a = np.where(flip, -zb, za)
        b = np.where(flip, -za, zb)
        valid = (b > a) & (width > 0)
        scale = np.maximum(1.0, np.abs(a))
        narrow = valid & np.isfinite(width) & np.isfinite(a) & (width * scale <= 1.0)
        if np.any(narrow):
            w = width[narrow]
            mid = 0.5 * (a[narrow] + b[narrow])
            t = mid[:, None] + 0.5 * w[:, None] * _GL_NODES[None, :]
            logf = -0.5 * t * t - _LOG_SQRT_2PI + _LOG_GL_WEIGHTS[None, :]
            out[narrow] = np.log(0.5 * w) + special.logsumexp(logf, axis=-1)
        straddle = valid & ~narrow & (b > 0)
        if np.any(straddle):
            # 1 - (both tails) when the tails are small (mass near 1), else erf sum
            tails = special.ndtr(a[straddle]) + special.ndtr(-b[straddle])
            s = 0.5 * (special.erf(b[straddle] / math.sqrt(2.0)) + special.erf(-a[straddle] / math.sqrt(2.0)))
            out[straddle] = np.where(tails < 0.5, np.log1p(-tails), np.log(s))
        tail = valid & ~narrow & ~straddle
        if np.any(tail):
            lb = special.log_ndtr(b[tail])
            la = special.log_ndtr(a[tail])
            out[tail] = lb + _log1mexp(la - lb)
    return out


def _endpoints(name, c, r, lo, hi):
    """Map the ball [c - r, c + r] (cut to the support) to unconstrained space.

    Returns ``y_lo, y_hi, width, logjac_lo, logjac_hi, empty``; ``width`` is
    ``y_hi - y_lo`` computed without cancellation and ``logjac_*`` is
    ``log |dy/dx|`` at the two ball ends (``-inf`` where that end lies outside
    the open support, so it does not move the mass as r changes).
    """
    ninf = -np.inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if name == "identity":
            zero = np.zeros(np.broadcast(c, r).shape)
            return c - r, c + r, 2.0 * r + zero, zero, zero, zero.astype(bool)
        if name in ("lowerbound", "log_exp_m1"):
            dc = c - (lo if name == "lowerbound" else 0.0)
            d_lo, d_hi = dc - r, dc + r
            empty = d_hi <= 0
            clipped = d_lo <= 0
            if name == "lowerbound":
                y_lo = np.where(clipped, ninf, np.log(d_lo))
                y_hi = np.log(d_hi)
                width = np.where(clipped, np.inf, np.log1p(2.0 * r / d_lo))
                lj_lo = np.where(clipped, ninf, -np.log(d_lo))
                lj_hi = -np.log(d_hi)
            else:  # softplus: y = x + log(1 - exp(-x))
                y_lo = np.where(clipped, ninf, d_lo + np.log(-np.expm1(-d_lo)))
                y_hi = d_hi + np.log(-np.expm1(-d_hi))
                width = np.where(clipped, np.inf, 2.0 * r + np.log1p(-np.expm1(-2.0 * r) / np.expm1(d_lo)))
                lj_lo = np.where(clipped, ninf, -np.log(-np.expm1(-d_lo)))
                lj_hi = -np.log(-np.expm1(-d_hi))
            return y_lo, y_hi, width, lj_lo, lj_hi, empty
        if name == "upperbound":  # y = log(upper - x), decreasing in x
            ec = hi - c
            e_lo, e_hi = ec - r, ec + r  # distances of c + r and c - r from upper
            empty = e_hi <= 0
            clipped = e_lo <= 0
            y_lo = np.where(clipped, ninf, np.log(e_lo))
            y_hi = np.log(e_hi)
            width = np.where(clipped, np.inf, np.log1p(2.0 * r / e_lo))
            lj_a = np.where(clipped, ninf, -np.log(e_lo))
            lj_b = -np.log(e_hi)
            return y_lo, y_hi, width, lj_a, lj_b, empty
        # interval: y = log(x - lower) - log(upper - x)
        dc, ec = c - lo, hi - c
        logw = np.log(hi - lo)
        empty = (dc + r <= 0) | (ec + r <= 0)
        clip_lo = dc - r <= 0
        clip_hi = ec - r <= 0
        y_lo = np.where(clip_lo, ninf, np.log(dc - r) - np.log(ec + r))
        y_hi = np.where(clip_hi, np.inf, np.log(dc + r) - np.log(ec - r))
        width = np.where(clip_lo | clip_hi, np.inf,
                         np.log1p(2.0 * r / (dc - r)) + np.log1p(2.0 * r / (ec - r)))
        lj_lo = np.where(clip_lo, ninf, logw - np.log(dc - r) - np.log(ec + r))
        lj_hi = np.where(clip_hi, ninf, logw - np.log(dc + r) - np.log(ec - r))
        return y_lo, y_hi, width, lj_lo, lj_hi, empty


def _prepare(mu, sigma, center, radius, transform, lower, upper):
    name, lo, hi = _canonical_transform(transform, lower, upper)
    mu = np.asarray(mu, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    center = np.asarray(center, dtype=float)
    radius = np.asarray(radius, dtype=float)
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError("`mu` and `sigma` must be finite")
    if np.any(sigma <= 0):
        raise ValueError("`sigma` must be > 0")
    if not np.all(np.isfinite(center)):
        raise ValueError("`center` must be finite")
    if np.any(~(radius > 0)) or not np.all(np.isfinite(radius)):
        raise ValueError("`radius` must be finite and > 0")
    lead = [mu, sigma, center] + [v for v in (lo, hi) if v is not None]
    if radius.ndim > 0:
        lead = [v[..., None] for v in lead]
    mu, sigma, center = lead[:3]
    k = 3
    if lo is not None:
        lo = lead[k]
        k += 1
    if hi is not None:
        hi = lead[k]
    return name, mu, sigma, center, radius, lo, hi


def _ball(mu, sigma, center, radius, transform, lower, upper, want_slope):
    name, mu, sigma, c, r, lo, hi = _prepare(mu, sigma, center, radius, transform, lower, upper)
    shape = np.broadcast_shapes(mu.shape, sigma.shape, c.shape, r.shape,
                                *(v.shape for v in (lo, hi) if v is not None))
    y_lo, y_hi, width, lj_lo, lj_hi, empty = _endpoints(name, c, r, lo, hi)
    with np.errstate(invalid="ignore"):
        z_lo = (y_lo - mu) / sigma
        z_hi = (y_hi - mu) / sigma
    logm = _log_normal_interval(z_lo, z_hi, width / sigma)
    logm = np.where(np.broadcast_to(empty, shape), -np.inf, np.broadcast_to(logm, shape))
    if not want_slope:
        return logm, None
    # m'(r) = sum over the ball's ends inside the support of f_X(end)
    with np.errstate(invalid="ignore", divide="ignore"):
        lf_lo = -0.5 * z_lo**2 - _LOG_SQRT_2PI - np.log(sigma) + lj_lo
        lf_hi = -0.5 * z_hi**2 - _LOG_SQRT_2PI - np.log(sigma) + lj_hi
        lf_lo = np.where(np.isfinite(z_lo), lf_lo, -np.inf)
        lf_hi = np.where(np.isfinite(z_hi), lf_hi, -np.inf)
        log_dm = np.logaddexp(lf_lo, lf_hi)
        slope = np.exp(np.log(r) + log_dm - logm)
    slope = np.where(np.isfinite(logm), np.broadcast_to(slope, shape), np.nan)
    return logm, slope


# ---------------------------------------------------------------------------
# public: scalar balls


def gaussian_ball_log_mass(mu, sigma, center, radius, *, transform="identity", lower=None, upper=None):
    """Log of the exact mass of ``[c - r, c + r]`` under a transformed Gaussian.

    Parameters
    ----------
    mu, sigma : array_like
        Mean and standard deviation (``> 0``) of the Gaussian in the
        unconstrained space; broadcast against each other, ``center`` and the
        bounds (the "leading" shape ``S``).
    center : array_like
        Ball centre ``c`` in the constrained space.
    radius : array_like
        Radii ``r > 0``. A scalar gives output shape ``S``; an array of shape
        ``(R,)`` (or broadcastable to ``S + (R,)``) adds a trailing radius axis.
    transform : str, default "identity"
        One of :data:`TRANSFORMS` (see the module docstring).
    lower, upper : array_like, optional
        Bounds of ``lowerbound``/``upperbound``/``interval`` transforms.

    Returns
    -------
    ndarray
        ``log P(|g(Y) - c| <= r)``, ``-inf`` where the ball misses the support.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import log_ndtr
    >>> lm = gaussian_ball_log_mass(0.0, 1.0, 0.0, 1e-200, transform="log")
    >>> bool(np.isclose(lm, log_ndtr(np.log(1e-200))))
    True
    """
    return _ball(mu, sigma, center, radius, transform, lower, upper, False)[0]


def gaussian_ball_mass(mu, sigma, center, radius, *, transform="identity", lower=None, upper=None):
    """Exact small-ball masses of a transformed scalar Gaussian, with slopes.

    Same arguments as :func:`gaussian_ball_log_mass`.

    Returns
    -------
    GaussianBallMass
        ``mass``, ``log_mass`` and the exact finite-radius ``slope``
        ``d log m / d log r`` (NaN where the mass is zero), all of shape
        ``S`` or ``S + (R,)``; ``tier`` is ``"analytic"``.

    Notes
    -----
    The ball is cut to the support of the constrained variable; the mass is
    ``Phi(z_hi) - Phi(z_lo)`` of the standardised ends of its image. E.g. for
    the ``log`` transform at ``c = 0`` the mass of ``[0, r]`` is
    ``Phi((log r - mu) / sigma)``, which decays faster than any power of ``r``
    (Mass Index ``a = inf``).

    Examples
    --------
    >>> import numpy as np
    >>> res = gaussian_ball_mass(0.0, 1.0, 0.0, np.array([0.5, 1.0]))
    >>> np.round(res.mass, 4)
    array([0.3829, 0.6827])
    >>> res.tier
    'analytic'
    """
    logm, slope = _ball(mu, sigma, center, radius, transform, lower, upper, True)
    return GaussianBallMass(np.exp(logm), logm, slope)


def gaussian_mass_index(mu, sigma, center, *, transform="identity", lower=None, upper=None):
    """Exact Mass Index of a transformed scalar Gaussian at ``center``.

    The constrained variable has a density that is continuous and positive
    on the open support, so an interior centre has index ``(1, 0)``. Every
    supported transform pushes the support's finite ends to infinity in the
    unconstrained space, where the Gaussian tail makes the mass of ``[c, c + r]``
    decay faster than every power of ``r``: a centre on the boundary (or
    outside the support) has ``a = inf`` (and ``b`` undefined, NaN). A
    non-degenerate Gaussian has no atom.

    Parameters
    ----------
    mu, sigma : array_like
        Only their shape matters (``sigma`` must be > 0).
    center : array_like
    transform, lower, upper
        As in :func:`gaussian_ball_mass`.

    Returns
    -------
    GaussianMassIndex
        Arrays ``a``, ``b``, ``atom`` of the broadcast shape.

    Examples
    --------
    >>> gaussian_mass_index(0.0, 1.0, [0.0, 2.0], transform="log").a
    array([inf,  1.])
    """
    name, lo, hi = _canonical_transform(transform, lower, upper)
    sigma = np.asarray(sigma, dtype=float)
    if np.any(sigma <= 0):
        raise ValueError("`sigma` must be > 0")
    c = np.asarray(center, dtype=float)
    low, high = transform_support(name, lo, hi)
    shape = np.broadcast_shapes(np.shape(mu), sigma.shape, c.shape, low.shape, high.shape)
    interior = np.broadcast_to((c > low) & (c < high), shape)
    a = np.where(interior, 1.0, np.inf)
    b = np.where(interior, 0.0, np.nan)
    return GaussianMassIndex(a, b, np.zeros(shape))


# ---------------------------------------------------------------------------
# public: joint balls by randomised QMC


def _inverse_transform(name, x, lo, hi):
    """y = g^{-1}(x) and log|dy/dx| for an array of constrained values."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if name == "identity":
            return x, np.zeros_like(x)
        if name == "lowerbound":
            d = x - lo
            return np.log(d), -np.log(d)
        if name == "upperbound":
            d = hi - x
            return np.log(d), -np.log(d)
        if name == "log_exp_m1":
            t = -np.expm1(-x)
            return x + np.log(t), -np.log(t)
        d, e = x - lo, hi - x
        return np.log(d) - np.log(e), np.log(hi - lo) - np.log(d) - np.log(e)


def _forward_transform(name, y, lo, hi):
    if name == "identity":
        return y
    if name == "lowerbound":
        return lo + np.exp(y)
    if name == "upperbound":
        return hi - np.exp(y)
    if name == "log_exp_m1":
        return np.logaddexp(0.0, y)
    return lo + (hi - lo) * special.expit(y)


def _sobol(dim, n, rng):
    u = qmc.Sobol(dim, scramble=True, seed=rng).random(n)
    return np.clip(u, 1e-300, 1.0 - 2.0**-53)


def gaussian_joint_ball_mass(mean, cov, center, radius, *, transforms=None, lower=None, upper=None,
                             norm="euclidean", scale=None, method="auto", n_points=2**12,
                             n_randomizations=8, ci_prob=0.94, seed=None):
    """Mass of a joint ball under a (transformed) multivariate Gaussian, by RQMC.

    Parameters
    ----------
    mean : array_like, shape (d,)
        Mean of the Gaussian in the unconstrained space.
    cov : array_like, shape (d, d)
        Its covariance (positive semi-definite); pass ``np.diag(sigma**2)``
        for a mean-field fit.
    center : array_like, shape (..., d)
        Ball centre(s) in the constrained space.
    radius : array_like, shape (R,)
        Radii ``> 0``.
    transforms : str or sequence of str, optional
        Per-coordinate transform (one of :data:`TRANSFORMS`); default identity.
    lower, upper : array_like, shape (d,), optional
        Per-coordinate bounds (NaN or None where not used).
    norm : {"euclidean", "max"}
        Ball norm, applied to ``(x - c) / scale``.
    scale : array_like, shape (d,), optional
        Per-coordinate unit of distance (default 1).
    method : {"auto", "indicator", "ball"}
        ``"indicator"``: fraction of Gaussian QMC points that land in the ball
        (good for balls holding a fair share of the mass). ``"ball"``: points
        uniform in the ball, density of the constrained variable (Gaussian
        times the transforms' Jacobian) averaged and multiplied by the ball's
        volume (good for small balls, where hardly any Gaussian point lands).
        ``"auto"`` takes, per radius, the one with the smaller relative
        standard error.
    n_points : int
        Sobol points per randomisation (a power of 2).
    n_randomizations : int
        Independent scramblings (>= 2); their spread gives the interval.
    ci_prob : float
        Probability of the Student-t interval.
    seed : int or numpy Generator, optional

    Returns
    -------
    QMCBallMass
        Fields of shape ``(..., R)``; ``tier`` is ``"qmc"``.

    Notes
    -----
    The ``indicator`` estimate of a ball no point reached in any randomisation
    is 0 with upper end ``1 - (1 - ci_prob)**(1 / N)`` (``N`` points in all),
    the zero-count binomial bound.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import chi2
    >>> res = gaussian_joint_ball_mass(np.zeros(3), np.eye(3), np.zeros(3), [0.01, 1.0], seed=1)
    >>> bool(np.allclose(res.mass, chi2.cdf(np.array([0.01, 1.0])**2, 3), rtol=1e-2))
    True
    >>> res.tier
    'qmc'
    """
    mean, cov, center, radius, scale, specs = _checked_joint_args(
        mean, cov, center, radius, transforms=transforms, lower=lower, upper=upper, norm=norm, scale=scale,
        method=method, n_randomizations=n_randomizations)
    d = mean.shape[0]
    chol, full_rank, logdet = _factor_covariance(cov)
    rng = np.random.default_rng(seed)
    lead = center.shape[:-1]
    cflat = center.reshape(-1, d)
    R, K, n = radius.size, int(n_randomizations), int(n_points)
    use_ball = method in ("auto", "ball") and full_rank
    if method == "ball" and not use_ball:
        raise ValueError("method='ball' needs a non-singular `cov`")
    ind, logball = _randomizations(mean, chol, logdet, specs, cflat, radius, scale, norm=norm, n=n, K=K, rng=rng,
                                   indicator=method in ("auto", "indicator"), use_ball=use_ball)
    mass, log_m, lo_ci, hi_ci, se, meth = _pick_estimates(ind, logball, method=method, use_ball=use_ball,
                                                          ci_prob=ci_prob, n=n)
    shp = lead + (R,)
    return QMCBallMass(mass.reshape(shp), log_m.reshape(shp), lo_ci.reshape(shp), hi_ci.reshape(shp),
                       se.reshape(shp), meth.reshape(shp), n, K)


def _checked_joint_args(mean, cov, center, radius, *, transforms, lower, upper, norm, scale, method,
                        n_randomizations):
    """Check the arguments of :func:`gaussian_joint_ball_mass`.

    Returns ``mean, cov, center, radius, scale`` as arrays and the
    canonical transform of each coordinate.
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    d = mean.shape[0]
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (d, d):
        raise ValueError(f"`cov` must have shape ({d}, {d}), got {cov.shape}")
    center = np.asarray(center, dtype=float)
    if center.shape[-1:] != (d,):
        raise ValueError(f"`center` must end with a dimension of size {d}, got shape {center.shape}")
    radius = np.atleast_1d(np.asarray(radius, dtype=float))
    if radius.ndim != 1 or np.any(~(radius > 0)) or not np.all(np.isfinite(radius)):
        raise ValueError("`radius` must be a 1-D array of finite values > 0")
    if norm not in ("euclidean", "max"):
        raise ValueError("`norm` must be 'euclidean' or 'max'")
    if method not in ("auto", "indicator", "ball"):
        raise ValueError("`method` must be 'auto', 'indicator' or 'ball'")
    if n_randomizations < 2:
        raise ValueError("`n_randomizations` must be >= 2 for an interval")
    scale = np.ones(d) if scale is None else np.broadcast_to(np.asarray(scale, dtype=float), (d,))
    if np.any(~(scale > 0)):
        raise ValueError("`scale` must be > 0")
    if transforms is None or isinstance(transforms, str):
        transforms = [transforms] * d
    if len(transforms) != d:
        raise ValueError(f"`transforms` must have {d} entries")
    lower = [None] * d if lower is None else list(np.broadcast_to(np.asarray(lower, dtype=float), (d,)))
    upper = [None] * d if upper is None else list(np.broadcast_to(np.asarray(upper, dtype=float), (d,)))
    specs = []
    for j in range(d):
        lo = None if lower[j] is None or np.isnan(lower[j]) else float(lower[j])
        hi = None if upper[j] is None or np.isnan(upper[j]) else float(upper[j])
        specs.append(_canonical_transform(transforms[j], lo, hi))
    return mean, cov, center, radius, scale, specs


def _factor_covariance(cov):
    """A factor ``L`` with ``L L' = cov``, whether it is of full rank, and ``log det cov`` (NaN when singular).

    Cholesky when ``cov`` is definite, else from its eigendecomposition
    (semi-definite allowed).
    """
    # factor the covariance (semi-definite allowed; the ball method needs it definite)
    try:
        chol = np.linalg.cholesky(cov)
        full_rank = True
        logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        if np.min(w) < -1e-10 * max(1.0, np.max(np.abs(w))):
            raise ValueError("`cov` is not positive semi-definite") from None
        chol = v * np.sqrt(np.clip(w, 0, None))
        full_rank = False
        logdet = np.nan
    return chol, full_rank, logdet


def _randomizations(mean, chol, logdet, specs, cflat, radius, scale, *, norm, n, K, rng, indicator, use_ball):
    """Each randomisation's ``indicator`` and ``ball`` estimates, arrays (K, centres, R).

    An estimate not asked for stays 0 (indicator) or ``-inf`` (ball).
    """
    d = mean.shape[0]
    R = radius.size
    ind = np.zeros((K, cflat.shape[0], R))
    logball = np.full((K, cflat.shape[0], R), -np.inf)
    if norm == "euclidean":
        logvol_unit = 0.5 * d * math.log(math.pi) - special.gammaln(0.5 * d + 1.0)
    else:
        logvol_unit = d * math.log(2.0)
    logvol_unit += float(np.sum(np.log(scale)))
    for k in range(K):
        if indicator:
            ind[k] = _indicator_fractions(mean, chol, specs, cflat, radius, scale, norm, n, rng)
        if use_ball:
            logball[k] = _ball_log_masses(mean, chol, logdet, specs, cflat, radius, scale, norm, n, rng,
                                          logvol_unit)
    return ind, logball


def _indicator_fractions(mean, chol, specs, cflat, radius, scale, norm, n, rng):
    """One randomisation of the ``indicator`` estimate: the fraction of Gaussian QMC points in each ball.

    Returns an array (centres, R).
    """
    d = mean.shape[0]
    out = np.zeros((cflat.shape[0], radius.size))
    z = special.ndtri(_sobol(d, n, rng))
    y = mean + z @ chol.T
    x = np.column_stack([_forward_transform(s[0], y[:, j], s[1], s[2]) for j, s in enumerate(specs)])
    for i, c in enumerate(cflat):
        diff = np.abs(x - c) / scale
        dist = np.sqrt(np.sum(diff * diff, axis=1)) if norm == "euclidean" else np.max(diff, axis=1)
        out[i] = np.searchsorted(np.sort(dist), radius, side="right") / n
    return out


def _ball_log_masses(mean, chol, logdet, specs, cflat, radius, scale, norm, n, rng, logvol_unit):
    """One randomisation of the ``ball`` estimate: log of the ball's volume times the mean density in it.

    Points uniform in the ball; the density of the constrained variable is
    the Gaussian's times the transforms' Jacobian. Returns an array
    (centres, R).
    """
    d = mean.shape[0]
    out = np.full((cflat.shape[0], radius.size), -np.inf)
    if norm == "euclidean" and d > 1:
        u = _sobol(d + 1, n, rng)
        g = special.ndtri(u[:, :d])
        v = g / np.linalg.norm(g, axis=1, keepdims=True) * u[:, d:] ** (1.0 / d)
    else:
        v = 2.0 * _sobol(d, n, rng) - 1.0
    for i, c in enumerate(cflat):
        for ir, r in enumerate(radius):
            x = c + (r * scale) * v
            y = np.empty_like(x)
            lj = np.zeros(n)
            for j, s in enumerate(specs):
                y[:, j], lj_j = _inverse_transform(s[0], x[:, j], s[1], s[2])
                lj = lj + lj_j
            # points of the ball outside the support (part of a ball that crosses a
            # boundary) have no preimage: density 0 there
            outside = ~np.all(np.isfinite(y), axis=1) | ~np.isfinite(lj)
            y = np.where(outside[:, None], mean, y)
            sol = linalg.solve_triangular(chol, (y - mean).T, lower=True).T
            with np.errstate(invalid="ignore"):
                logf = -0.5 * np.sum(sol * sol, axis=1) - d * _LOG_SQRT_2PI - 0.5 * logdet + lj
            logf = np.where(np.isnan(logf) | outside, -np.inf, logf)
            out[i, ir] = logvol_unit + d * math.log(r) + special.logsumexp(logf) - math.log(n)
    return out


def _pick_estimates(ind, logball, *, method, use_ball, ci_prob, n):
    """Per ball, the estimate (``indicator`` or ``ball``) with the smaller relative error, and its interval.

    ``ind`` and ``logball`` (K, centres, R) hold each randomisation's
    estimates. Returns ``mass, log_mass, lower, upper, std_error, method``.
    """
    K = ind.shape[0]
    tq = stats.t.ppf(0.5 + 0.5 * ci_prob, K - 1)
    # indicator summary
    m_ind = ind.mean(axis=0)
    se_ind = ind.std(axis=0, ddof=1) / math.sqrt(K)
    # ball summary in log space
    with np.errstate(invalid="ignore", divide="ignore"):
        top = np.max(logball, axis=0)
        top_safe = np.where(np.isfinite(top), top, 0.0)
        rel = np.exp(logball - top_safe)
        log_m_ball = top_safe + np.log(rel.mean(axis=0))
        log_m_ball = np.where(np.isfinite(top), log_m_ball, -np.inf)
        rse_ball = rel.std(axis=0, ddof=1) / math.sqrt(K) / rel.mean(axis=0)
        rse_ind = se_ind / m_ind
    if method == "indicator" or not use_ball:
        pick_ball = np.zeros(m_ind.shape, dtype=bool)
    elif method == "ball":
        pick_ball = np.ones(m_ind.shape, dtype=bool)
    else:
        pick_ball = ~(rse_ind <= rse_ball) | (m_ind == 0)
        pick_ball &= np.isfinite(log_m_ball) | (m_ind == 0)
    with np.errstate(divide="ignore"):
        log_m = np.where(pick_ball, log_m_ball, np.log(m_ind))
    mass = np.exp(log_m)
    se = np.where(pick_ball, np.nan_to_num(rse_ball) * mass, se_ind)
    lo_ci = np.clip(mass - tq * se, 0.0, 1.0)
    hi_ci = np.clip(mass + tq * se, 0.0, 1.0)
    zero = ~pick_ball & (m_ind == 0)
    hi_ci = np.where(zero, 1.0 - (1.0 - ci_prob) ** (1.0 / (n * K)), hi_ci)
    meth = np.where(pick_ball, "ball", "indicator")
    return mass, log_m, lo_ci, hi_ci, se, meth


def gaussian_qmc_sample(mean, cov, n_points, rng):
    """One randomisation of scrambled-Sobol points of N(mean, cov), shape (n_points, d).

    Examples
    --------
    >>> y = gaussian_qmc_sample(np.zeros(2), np.eye(2), 2**12, np.random.default_rng(0))
    >>> bool(np.allclose(y.mean(0), 0.0, atol=0.01) and np.allclose(np.cov(y.T), np.eye(2), atol=0.02))
    True
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    cov = np.asarray(cov, dtype=float)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        chol = v * np.sqrt(np.clip(w, 0, None))
    return mean + special.ndtri(_sobol(mean.size, int(n_points), rng)) @ chol.T


#: below this many quasi-Monte Carlo points inside a ball (over all randomisations) its mass
#: interval also holds the points' Jeffreys interval (:func:`randomized_qmc_mass`)
QMC_FEW_POINTS = 20


def randomized_qmc_mass(points, center, radius, ci_prob=0.94):
    """Elementwise ball masses from K independent randomisations of QMC points.

    Parameters
    ----------
    points : ndarray (K, n, E)
        Points of a distribution (e.g. a Gaussian pushed through a transform),
        K independent randomisations of n points each, E scalar elements.
    center : ndarray (E,)
    radius : ndarray (E, R)
        Absolute radii, ascending per element.
    ci_prob : float

    Returns
    -------
    dict of ndarray (E, R): ``mass, mass_lower, mass_upper`` (Student t over the
    K randomisations), ``slope, slope_lower, slope_upper`` (centred differences
    of log m with the randomisations' spread of the log ratio), ``rel_se``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> pts = np.stack([gaussian_qmc_sample(np.zeros(1), np.eye(1), 2**12, rng) for _ in range(8)])
    >>> out = randomized_qmc_mass(pts, np.zeros(1), np.array([[0.5, 1.0]]))
    >>> bool(np.allclose(out["mass"], [[0.3829, 0.6827]], atol=2e-3))
    True
    """
    points = np.asarray(points, dtype=float)
    K, n, E = points.shape
    radius = np.asarray(radius, dtype=float)
    R = radius.shape[1]
    frac = np.empty((K, E, R))
    for k in range(K):
        dist = np.sort(np.abs(points[k] - center[None, :]), axis=0)  # (n, E)
        for e in range(E):
            frac[k, e] = np.searchsorted(dist[:, e], radius[e], side="right") / n
    mass = frac.mean(axis=0)
    se = frac.std(axis=0, ddof=1) / math.sqrt(K)
    tq = stats.t.ppf(0.5 + 0.5 * ci_prob, K - 1)
    lo, hi = np.clip(mass - tq * se, 0.0, 1.0), np.clip(mass + tq * se, 0.0, 1.0)
    # few points inside the ball: the randomisations' spread says little (none inside any of
    # them gave the interval [0, 0], "exact" zero mass for a simplex's ball of radius 1.4e-6), so
    # the interval also holds the Jeffreys interval of the count among all K n points
    count = frac * n
    few = count.sum(axis=0) < QMC_FEW_POINTS
    if few.any():
        from .intervals import beta_interval

        j_lo, j_hi = beta_interval(mass[few], np.full(int(few.sum()), float(K * n)), ci_prob)
        lo[few], hi[few] = np.minimum(lo[few], j_lo), np.maximum(hi[few], j_hi)
    j_in = np.clip(np.arange(R) - 1, 0, R - 1)
    j_out = np.clip(np.arange(R) + 1, 0, R - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dlr = np.log(radius[:, j_out]) - np.log(radius[:, j_in])
        ratio_k = np.log(frac[:, :, j_out]) - np.log(frac[:, :, j_in])  # per randomisation
        slope = (np.log(mass[:, j_out]) - np.log(mass[:, j_in])) / dlr
        se_s = ratio_k.std(axis=0, ddof=1) / math.sqrt(K) / dlr
        rel_se = se / mass
    bad = ~np.isfinite(slope) | ~(dlr > 0)
    slope = np.where(bad, np.nan, slope)
    se_s = np.where(bad | ~np.isfinite(se_s), np.nan, se_s)
    return {"mass": mass, "mass_lower": lo, "mass_upper": hi, "slope": slope, "slope_lower": slope - tq * se_s,
            "slope_upper": slope + tq * se_s, "rel_se": rel_se}
