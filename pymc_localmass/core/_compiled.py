"""Optional compiled kernel for :func:`.binned.fit_binned` (numba).

The binned fit is a few dozen cells and at most a handful of parameters per
element; vectorised over elements with numpy, its Fisher-scoring tail (a few
slowly converging rows) is bound by Python overhead, not arithmetic. The same
algorithm run row by row in compiled code removes that overhead.

numba is not a dependency: it comes with PyMC (pytensor needs it). This module
imports it, and :mod:`.binned` imports this module only when the fit first
runs; where numba is missing, or ``PYMC_LOCALMASS_NUMBA=0`` is set (or
:func:`.binned.use_compiled` says so), the numpy path runs. Both give the same
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
    prev_mx = np.zeros(P)
    for b in range(B):
        s = 0.0
        for q in range(P):
            s += X[b, q] * theta[q]
        m = np.exp(s)
        p[b] = m - prev_m
        prev_m = m
        for q in range(P):
            mx = m * X[b, q]
            dp[b, q] = mx - prev_mx[q]
            prev_mx[q] = mx


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
