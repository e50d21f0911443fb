"""Optional compiled kernels (numba): the binned fit of :func:`.binned.fit_binned`
and the autocorrelation sums of :func:`.ess.batch_means_ess`.

The binned fit is a few dozen cells and at most a handful of parameters per
element; vectorised over elements with numpy, its Fisher-scoring tail (a few
slowly converging rows) is bound by Python overhead, not arithmetic. The same
algorithm run row by row in compiled code removes that overhead.

The ESS of batch means needs each series' autocovariances only up to the
lag where Geyer's initial positive sequence ends (a few lags for batch
means): computed lag by lag, in float64, they cost a fraction of the FFT of
the whole series.

numba is not a dependency: it comes with PyMC (pytensor needs it). This module
imports it, and :mod:`._accel` loads this module only when a kernel first
runs; where numba is missing, or ``PYMC_LOCALMASS_NUMBA=0`` is set (or
:func:`._accel.use_compiled` says so), the numpy paths run. Both give the same
numbers up to rounding (tests/test_compiled.py). The kernel is compiled on
first use (a few seconds, cached on disk where the package directory or
numba's user cache is writable) and releases the GIL, so the index fit's
slices run side by side in threads.
"""

import numba
import numpy as np


def _jit(func):
    """Compiled on first call, cached on disk where a cache location is writable; releases the GIL."""
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:  # pragma: no cover - no writable cache location
        return numba.njit(cache=False, nogil=True)(func)


# ----------------------------------------------------------------------------- the kernel
# Plain loops over one row at a time, the same steps as the numpy path in
# binned.fit_binned: Fisher scoring, a ridge of 1e-10, backtracking by halving
# (30 halvings at most) until the log likelihood does not fall by more than
# 1e-12, stop when the Newton decrement is at most ``tol``; at the end the
# inverse Fisher information (ridge 1e-12) where it is finite and positive definite.


@_jit
def _cells_row(theta, X, p, dp):
    """Cell probabilities p (B,) and their derivatives dp (B, P) of one row (written in place)."""
    B, P = X.shape
    prev_m = 0.0
    for b in range(B):
        s = 0.0
        for q in range(P):
            s += X[b, q] * theta[q]
        m = np.exp(s)
        p[b] = m - prev_m
        for q in range(P):  # the previous cell's M X, recomputed (the same product): no buffer per call
            dp[b, q] = m * X[b, q] - (prev_m * X[b - 1, q] if b > 0 else 0.0)
        prev_m = m


@_jit
def _loglik_row(theta, X, counts, p, dp):
    _cells_row(theta, X, p, dp)
    ll = 0.0
    for b in range(counts.shape[0]):
        pb = p[b]
        if not np.isfinite(pb):
            return -np.inf
        if pb > 0:
            if counts[b] > 0:
                ll += counts[b] * np.log(pb)
        elif counts[b] != 0:
            return -np.inf
    return ll


@_jit
def _lu_solve(A, rhs, out):
    """Solve A out = rhs by LU with partial pivoting (A is copied); returns det(A)."""
    P = A.shape[0]
    a = A.copy()
    x = rhs.copy()
    det = 1.0
    for k in range(P):
        piv = k
        big = abs(a[k, k])
        for i in range(k + 1, P):
            if abs(a[i, k]) > big:
                big = abs(a[i, k])
                piv = i
        if piv != k:
            det = -det
            for j in range(P):
                tmp = a[k, j]
                a[k, j] = a[piv, j]
                a[piv, j] = tmp
            tmp = x[k]
            x[k] = x[piv]
            x[piv] = tmp
        det *= a[k, k]
        if a[k, k] == 0.0:
            return 0.0
        for i in range(k + 1, P):
            f = a[i, k] / a[k, k]
            for j in range(k, P):
                a[i, j] -= f * a[k, j]
            x[i] -= f * x[k]
    for i in range(P - 1, -1, -1):
        s = x[i]
        for j in range(i + 1, P):
            s -= a[i, j] * out[j]
        out[i] = s / a[i, i]
    return det


@_jit
def _information(N, p, dp, ridge, info):
    B, P = dp.shape
    for q in range(P):
        for s in range(P):
            acc = 0.0
            for b in range(B):
                if p[b] > 0:
                    acc += dp[b, q] * dp[b, s] / p[b]
            info[q, s] = N * acc + (ridge if q == s else 0.0)


@_jit
def _fit_rows(X, counts, theta0, max_iter, tol):
    E, B, P = X.shape
    theta = theta0.copy()
    ll = np.empty(E)
    cov = np.full((E, P, P), np.inf)
    p = np.empty(B)
    dp = np.empty((B, P))
    cp = np.empty(B)
    cdp = np.empty((B, P))
    grad = np.empty(P)
    step = np.empty(P)
    cand = np.empty(P)
    info = np.empty((P, P))
    for e in range(E):
        th = theta[e]
        Xe = X[e]
        ce = counts[e]
        N = 0.0
        for b in range(B):
            N += ce[b]
        cur = _loglik_row(th, Xe, ce, p, dp)
        active = np.isfinite(cur)
        for _ in range(max_iter):
            if not active:
                break
            fine = True
            for q in range(P):
                g = 0.0
                for b in range(B):
                    if p[b] > 0:
                        g += ce[b] * dp[b, q] / p[b]
                grad[q] = g
                if not np.isfinite(g):
                    fine = False
            _information(N, p, dp, 1e-10, info)
            for q in range(P):
                for s in range(P):
                    if not np.isfinite(info[q, s]):
                        fine = False
            for q in range(P):
                step[q] = 0.0
            if fine:
                det = _lu_solve(info, grad, step)
                if not det > 0:
                    for q in range(P):
                        step[q] = 0.0
            dec = 0.0
            for q in range(P):
                dec += grad[q] * step[q]
            t = 1.0
            accepted = False
            for _bt in range(30):
                for q in range(P):
                    cand[q] = th[q] + t * step[q]
                cll = _loglik_row(cand, Xe, ce, cp, cdp)
                if cll >= cur - 1e-12:
                    for q in range(P):
                        th[q] = cand[q]
                    cur = cll
                    p[:] = cp
                    dp[:, :] = cdp
                    accepted = True
                    break
                t *= 0.5
            active = (dec > tol) and accepted
        ll[e] = cur
        # the inverse Fisher information at the estimate
        _information(N, p, dp, 0.0, info)
        good = np.isfinite(cur)
        for q in range(P):
            for s in range(P):
                if not np.isfinite(info[q, s]):
                    good = False
        if good:
            for q in range(P):
                info[q, q] += 1e-12
            unit = np.zeros(P)
            col = np.empty(P)
            det = 1.0
            for s in range(P):
                unit[:] = 0.0
                unit[s] = 1.0
                det = _lu_solve(info, unit, col)
                if not det > 0:
                    break
                for q in range(P):
                    cov[e, q, s] = col[q]
            if not det > 0:
                cov[e] = np.inf
        else:
            for q in range(P):
                th[q] = np.nan
    return theta, cov, ll


# ----------------------------------------------------------------------------- ESS of batch means
@_jit
def _lag_acov(cen, k):
    """Mean over chains of the lag-k autocovariance (divided by the series length)."""
    m, s = cen.shape
    acc = 0.0
    for j in range(m):
        part = 0.0
        for t in range(s - k):
            part += cen[j, t] * cen[j, t + k]
        acc += part
    return acc / (s * m)


@_jit
def _geyer_rows(y):
    """Split-chain initial-monotone-sequence tau and var_plus of each series group.

    ``y`` (G, m, s): m split chains of s batch means per group. The same
    estimator as the FFT path of :func:`.ess.batch_means_ess`, with each
    autocovariance summed directly, only up to the lag where the sequence of
    pair sums first stops being positive.
    """
    G, m, s = y.shape
    tau = np.empty(G)
    var_plus = np.empty(G)
    cen = np.empty((m, s))
    means = np.empty(m)
    floor = 1.0 / np.log10(float(max(m * s, 10)))
    for g in range(G):
        for j in range(m):
            acc = 0.0
            for t in range(s):
                acc += y[g, j, t]
            mu = acc / s
            means[j] = mu
            for t in range(s):
                cen[j, t] = y[g, j, t] - mu
        grand = 0.0
        for j in range(m):
            grand += means[j]
        grand /= m
        b = 0.0
        for j in range(m):
            b += (means[j] - grand) ** 2
        b /= m - 1
        w = _lag_acov(cen, 0) * s / (s - 1)  # mean within-chain variance
        vp = (s - 1) / s * w + b
        var_plus[g] = vp
        total = 0.0
        if vp > 0:
            low = np.inf
            for i in range(s // 2):
                r0 = 1.0 if i == 0 else 1.0 - (w - _lag_acov(cen, 2 * i)) / vp
                r1 = 1.0 - (w - _lag_acov(cen, 2 * i + 1)) / vp
                pair = r0 + r1
                if not pair > 0:
                    break
                if pair < low:
                    low = pair
                total += low
        tau[g] = max(-1.0 + 2.0 * total, floor)
    return tau, var_plus
