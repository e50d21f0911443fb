"""Self-normalised importance sampling of a region's probability, with local Pareto k-hats.

Pure numpy/scipy. Given draws ``theta_i`` of an approximation ``q`` and
log-weights ``log w_i = log p~(theta_i) - log q(theta_i)`` (``p~`` an
unnormalised target density), the self-normalised estimate of the target's
probability of a region ``A`` is

    p^(A) = sum_i w_i 1_A(theta_i) / sum_i w_i.

Its error is driven by the terms ``w_i (1_A(theta_i) - p^(A))`` (delta
method), so two *local* Pareto k-hats say whether it can be trusted: the
tail shape of the weights of the draws that land in ``A``, and that of the
terms ``|w_i (1_A(theta_i) - p^(A))|``. A k-hat above 0.7 means the estimate's
variance is (practically) infinite: the number must not be trusted whatever
interval the draws suggest.

:func:`rao_blackwell_probability` is the same with the indicator replaced by
a conditional probability ``m_i = P(A | rest_i)`` (each a ratio of two 1-D
integrals of the target density): then ``w_i`` is the unnormalised marginal
density of the other parameters over q's exact marginal of them.

The Pareto smoothing itself comes from a maintained implementation passed
in as ``psis`` (``psis(log_w) -> (smoothed_log_w, khat)``, khat a float):
this module fits no Pareto tails of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from .intervals import beta_interval

__all__ = ["ImportanceEstimate", "kish_ess", "importance_probability", "rao_blackwell_probability",
           "normalized_weights", "KHAT_MAX", "MIN_TAIL_DRAWS"]

#: k-hat above which an importance-sampling estimate is not trusted (Vehtari et al. 2024)
KHAT_MAX = 0.7
#: fewest draws a Pareto tail is fitted to; fewer and the local k-hat is +inf (unknown)
MIN_TAIL_DRAWS = 30
#: log-weights spanning less than this are equal up to rounding or quadrature error (weights within
#: 0.001% of each other; a Pareto fit to that noise is meaningless)
FLAT_LOG_SPREAD = 1e-5


@dataclass(frozen=True)
class ImportanceEstimate:
    """An importance-sampling estimate of a probability, with its reliability figures.

    Attributes
    ----------
    estimate, lower, upper : ndarray
        The estimate and its interval (shape of the regions/radii asked for).
    ess : float
        Kish effective sample size of the (smoothed) weights, ``1 / sum wbar_i^2``.
    khat : float
        Pareto k-hat of all the weights.
    khat_inside : ndarray
        Pareto k-hat of the weights of the draws inside the region (``inf``
        when fewer than :data:`MIN_TAIL_DRAWS` land there); for the
        Rao-Blackwellised estimate, of the weights times the conditional
        probabilities.
    khat_product : ndarray
        Pareto k-hat of the estimate's error terms ``|w_i (h_i - p^)|``
        (``h_i`` the indicator or conditional probability).
    n_inside : ndarray
        Draws inside the region (with a positive conditional probability for
        the Rao-Blackwellised estimate).
    reliable : ndarray of bool
        Every k-hat at most ``khat_max``, ``ess`` at least ``min_ess`` and
        at least :data:`MIN_TAIL_DRAWS` draws inside.
    raw_lower, raw_upper : ndarray
        The interval the draws alone suggest, before ``reliable`` widens it to
        [0, 1]: only for cross-checking two estimates, never for reporting.
    """

    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ess: float
    khat: float
    khat_inside: np.ndarray
    khat_product: np.ndarray
    n_inside: np.ndarray
    reliable: np.ndarray
    raw_lower: np.ndarray = None
    raw_upper: np.ndarray = None


def kish_ess(log_w):
    """Kish effective sample size ``(sum w)^2 / sum w^2`` of log-weights.

    Examples
    --------
    >>> round(float(kish_ess(np.zeros(100))), 6)
    100.0
    >>> round(float(kish_ess(np.array([0.0, 0.0, -np.inf, -np.inf]))), 6)
    2.0
    """
    lw = np.asarray(log_w, dtype=float)
    lw = lw[np.isfinite(lw)]
    if lw.size == 0:
        return 0.0
    lw = lw - lw.max()
    return float(np.exp(2 * special.logsumexp(lw) - special.logsumexp(2 * lw)))


def normalized_weights(log_w):
    """``w_i / sum w`` from log-weights (``-inf`` -> 0); raises when no weight is finite."""
    lw = np.asarray(log_w, dtype=float)
    finite = np.isfinite(lw)
    if not finite.any():
        raise ValueError("no draw has a finite log-weight: the target density is zero (or undefined) at every "
                         "draw of the approximation")
    lw = np.where(finite, lw, -np.inf)
    return np.exp(lw - special.logsumexp(lw[finite]))


def _khat(psis, log_w, zero_terms_exact=False):
    """Pareto k-hat of a set of log-weights (``inf`` when too few to fit a tail).

    With ``zero_terms_exact`` (error terms), all terms exactly 0 mean no error
    at all: k-hat ``-inf``.
    """
    lw = np.asarray(log_w, dtype=float)
    lw = lw[np.isfinite(lw)]
    if lw.size == 0 and zero_terms_exact:
        return -np.inf
    if lw.size < MIN_TAIL_DRAWS:
        return np.inf
    if np.ptp(lw) < FLAT_LOG_SPREAD:
        return -np.inf  # constant weights (up to rounding): no tail at all
    k = float(psis(lw)[1])
    return k if np.isfinite(k) else np.inf


def _check(log_w, psis):
    lw = np.asarray(log_w, dtype=float)
    if lw.ndim != 1 or lw.size < 2:
        raise ValueError(f"log_w must be a 1-D array of at least 2 draws, got shape {lw.shape}")
    if np.isnan(lw).any() or np.isposinf(lw).any():
        raise ValueError("log_w holds NaN or +inf: the target or the approximation density failed at some draw")
    if not callable(psis):
        raise TypeError(f"psis must be a callable psis(log_w) -> (smoothed_log_w, khat), got {type(psis).__name__}")
    return lw


def _smooth(psis, lw):
    finite = np.isfinite(lw)
    out = np.full(lw.shape, -np.inf)
    if finite.any() and np.ptp(lw[finite]) < FLAT_LOG_SPREAD:
        out[finite] = lw[finite]
        return out, -np.inf  # equal weights (up to rounding): nothing to smooth, no tail
    if finite.sum() >= MIN_TAIL_DRAWS:
        sm, k = psis(lw[finite])
        out[finite] = np.asarray(sm, dtype=float)
        return out, (float(k) if np.isfinite(k) else np.inf)
    out[finite] = lw[finite]
    return out, np.inf


def importance_probability(log_w, inside, *, psis, ci_prob=0.94, min_ess=100.0, khat_max=KHAT_MAX):
    """Pareto-smoothed self-normalised importance sampling of ``P(A)`` for one or more regions.

    Parameters
    ----------
    log_w : array_like, shape (n,)
        ``log p~(theta_i) - log q(theta_i)`` at draws of ``q`` (``-inf`` where
        the target density is 0).
    inside : array_like of bool, shape (n,) or (n, R)
        Whether each draw lies in each region.
    psis : callable
        ``psis(log_w) -> (smoothed_log_w, khat)``: a maintained PSIS implementation.
    ci_prob : float
    min_ess : float, default 100
        Least Kish ESS of the weights for a reliable estimate.
    khat_max : float, default 0.7

    Returns
    -------
    ImportanceEstimate
        Interval: the delta-method variance ``v = sum wbar_i^2 (1_i - p^)^2``
        turned into an effective count ``p^(1 - p^)/v`` of a Jeffreys interval
        (so it stays in [0, 1] and is asymmetric for small probabilities).
        With no draw inside, the estimate is 0, the interval ``[0, 1]`` and
        ``reliable`` False: the draws say nothing about a region they miss.

    Examples
    --------
    Draws of q = N(0, 2^2) reweighted to p = N(0, 1); ``P(|x| <= 1) = 0.6827``:

    >>> from scipy import stats
    >>> def psis(lw):  # a stand-in without smoothing (the package passes arviz's psislw)
    ...     return lw - np.logaddexp.reduce(lw), 0.0
    >>> x = stats.norm(0, 2).rvs(20000, random_state=1)
    >>> lw = stats.norm.logpdf(x) - stats.norm(0, 2).logpdf(x)
    >>> est = importance_probability(lw, np.abs(x) <= 1, psis=psis, ci_prob=0.99)
    >>> bool(est.lower < 0.6827 < est.upper), bool(est.reliable)
    (True, True)
    """
    lw = _check(log_w, psis)
    ins = np.asarray(inside, dtype=bool)
    if ins.shape[0] != lw.size:
        raise ValueError(f"inside has {ins.shape[0]} rows for {lw.size} log-weights")
    single = ins.ndim == 1
    ins = ins.reshape(lw.size, -1)
    sm, khat = _smooth(psis, lw)
    wbar = normalized_weights(sm)
    ess = float(1.0 / np.sum(wbar**2))
    R = ins.shape[1]
    est, lo, hi = np.zeros(R), np.zeros(R), np.ones(R)
    k_in, k_pr = np.full(R, np.inf), np.full(R, np.inf)
    n_in = ins.sum(axis=0)
    for j in range(R):
        h = ins[:, j]
        if not h.any():
            continue
        p = float(np.sum(wbar[h]))
        est[j] = p
        var = float(np.sum(wbar**2 * (h - p) ** 2))
        if p >= 1.0 or var <= 0:
            n_eff = ess
        else:
            n_eff = p * (1 - p) / var
        lo[j], hi[j] = beta_interval(p, max(n_eff, 1.0), ci_prob)
        k_in[j] = _khat(psis, lw[h])
        with np.errstate(divide="ignore"):
            k_pr[j] = _khat(psis, lw + np.log(np.abs(h - p)), True)
    reliable = (n_in >= MIN_TAIL_DRAWS) & (k_in <= khat_max) & (k_pr <= khat_max) & (ess >= min_ess) \
        & (khat <= khat_max)
    raw_lo, raw_hi = lo, hi
    lo = np.where(reliable, lo, 0.0)
    hi = np.where(reliable, hi, 1.0)
    out = [est, lo, hi, k_in, k_pr, n_in, reliable, raw_lo, raw_hi]
    if single:
        out = [x[0] for x in out]
    e, l, u, ki, kp, ni, rel, rl, ru = out
    return ImportanceEstimate(e, l, u, ess, khat, ki, kp, ni, rel, rl, ru)


def rao_blackwell_probability(log_w, cond, *, psis, ci_prob=0.94, rel_error=None, min_ess=100.0,
                              khat_max=KHAT_MAX):
    """Importance-reweighted mean of conditional probabilities: the Rao-Blackwellised ``P(A)``.

    ``P(A) = E_p[P(A | rest)]`` with the expectation over the target's
    marginal of the other parameters, estimated from q's draws of them:
    ``sum_i w_i m_i / sum_i w_i`` with ``w_i`` the target's unnormalised
    marginal density of ``rest_i`` over q's marginal density of it.

    Parameters
    ----------
    log_w : array_like, shape (n,)
    cond : array_like, shape (n,) or (n, R)
        Conditional probabilities ``m_i`` in [0, 1] (NaN where a draw's
        conditional could not be integrated: that draw is dropped, and counted
        against reliability).
    psis : callable
    ci_prob : float
    rel_error : array_like, shape (R,), optional
        Relative error of the conditional probabilities themselves (quadrature),
        widening the interval.
    min_ess, khat_max
        As in :func:`importance_probability`.

    Returns
    -------
    ImportanceEstimate
        Interval: ``p^ * exp(+-z se/p^)`` with the delta-method standard error
        ``se^2 = sum wbar_i^2 (m_i - p^)^2`` (plus ``rel_error``), clipped to
        [0, 1]; ``[0, 1]`` when not reliable.

    Examples
    --------
    Independent coordinates, q's marginal equal to p's: every weight is 1 and
    the estimate is the mean conditional probability:

    >>> def psis(lw):
    ...     return lw - np.logaddexp.reduce(lw), 0.0
    >>> m = np.full((500, 1), 0.25)
    >>> est = rao_blackwell_probability(np.zeros(500), m, psis=psis)
    >>> round(float(est.estimate[0]), 12), bool(est.reliable[0])
    (0.25, True)
    """
    lw = _check(log_w, psis)
    m = np.asarray(cond, dtype=float)
    if m.shape[0] != lw.size:
        raise ValueError(f"cond has {m.shape[0]} rows for {lw.size} log-weights")
    single = m.ndim == 1
    m = m.reshape(lw.size, -1)
    ok = np.all(np.isfinite(m), axis=1) & np.isfinite(lw)
    n_bad = int(lw.size - ok.sum())
    R = m.shape[1]
    est, lo, hi = np.zeros(R), np.zeros(R), np.ones(R)
    k_in, k_pr = np.full(R, np.inf), np.full(R, np.inf)
    n_in = np.zeros(R, dtype=int)
    if ok.sum() < 2:
        rel = np.zeros(R, dtype=bool)
        return ImportanceEstimate(*(x[0] if single else x for x in (est, lo, hi)), 0.0, np.inf,
                                  *(x[0] if single else x for x in (k_in, k_pr, n_in, rel, lo, hi)))
    lw_ok, m_ok = lw[ok], np.clip(m[ok], 0.0, 1.0)
    sm, khat = _smooth(psis, lw_ok)
    wbar = normalized_weights(sm)
    ess = float(1.0 / np.sum(wbar**2))
    z = stats.norm.ppf(0.5 + ci_prob / 2)
    rel_err = np.zeros(R) if rel_error is None else np.broadcast_to(np.asarray(rel_error, float), (R,))
    for j in range(R):
        mj = m_ok[:, j]
        n_in[j] = int(np.sum(mj > 0))
        p = float(np.sum(wbar * mj))
        est[j] = p
        if p <= 0:
            continue
        se = float(np.sqrt(np.sum(wbar**2 * (mj - p) ** 2) + (rel_err[j] * p) ** 2))
        s = se / p
        lo[j], hi[j] = p * np.exp(-z * s), min(p * np.exp(z * s), 1.0)
        with np.errstate(divide="ignore"):
            k_in[j] = _khat(psis, lw_ok + np.log(mj))
            # conditional probabilities equal up to quadrature error: the estimate is that value whatever
            # the weights (its error terms vanish)
            flat = np.ptp(mj) <= FLAT_LOG_SPREAD * p
            k_pr[j] = -np.inf if flat else _khat(psis, lw_ok + np.log(np.abs(mj - p)), True)
    # a draw whose conditional failed biases the mean by an unknown amount: allow at most 1%
    reliable = (khat <= khat_max) & (ess >= min_ess) & (k_in <= khat_max) & (k_pr <= khat_max) \
        & (n_in >= MIN_TAIL_DRAWS) & (n_bad <= 0.01 * lw.size)
    raw_lo, raw_hi = lo, hi
    lo = np.where(reliable, lo, 0.0)
    hi = np.where(reliable, hi, 1.0)
    out = [est, lo, hi, k_in, k_pr, n_in, reliable, raw_lo, raw_hi]
    if single:
        out = [x[0] for x in out]
    e, l, u, ki, kp, ni, rel, rl, ru = out
    return ImportanceEstimate(e, l, u, ess, khat, ki, kp, ni, rel, rl, ru)
