"""Optional compiled kernels (numba): the binned fit of :func:`.binned.fit_binned`,
the autocorrelation sums of :func:`.ess.batch_means_ess`, and the fused
per-batch pass of the in-memory curves (``_batch_pass_rows``, see its section).

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
numbers up to rounding (the fused pass: to the last bit; tests/test_compiled.py). The kernel is compiled on
first use (a few seconds, cached on disk where the package directory or
numba's user cache is writable) and releases the GIL, so the index fit's
slices run side by side in threads.
"""

import numba
import numpy as np


def _jit(func=None, *, numpy_errors=False):
    """Compiled on first call, cached on disk where a cache location is writable; releases the GIL.

    ``numpy_errors``: a division by zero gives inf or nan, as in numpy, rather than raising.
    """
    if func is None:
        return lambda f: _jit(f, numpy_errors=numpy_errors)
    opts = {"nogil": True, "error_model": "numpy" if numpy_errors else "python"}
    try:
        return numba.njit(cache=True, **opts)(func)
    except RuntimeError:  # pragma: no cover - no writable cache location
        return numba.njit(cache=False, **opts)(func)


# ----------------------------------------------------------------------------- the kernel
# Plain loops over one row at a time, the same steps as the numpy path in
# binned.fit_binned: Fisher scoring, a ridge of 1e-10, backtracking by halving
# (30 halvings at most) until the log likelihood does not fall by more than
# 1e-12, stop (before the step) when the Newton decrement is at most ``tol``; at the end the
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
def _lu_solve(A, rhs, out, a, x):
    """Solve A out = rhs by LU with partial pivoting (in the scratch ``a`` (P, P), ``x`` (P,)); returns det(A)."""
    P = A.shape[0]
    a[:, :] = A
    x[:] = rhs
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
def _reciprocal(p, inv):
    """``1 / p`` where ``p > 0``, else 0 (a cell without probability adds nothing)."""
    for b in range(p.shape[0]):
        inv[b] = 1.0 / p[b] if p[b] > 0 else 0.0


@_jit
def _information(N, inv, dp, ridge, info):
    """Fisher information ``N sum_b dp_q dp_s / p`` (symmetric: the upper triangle, mirrored)."""
    B, P = dp.shape
    for q in range(P):
        for s in range(q, P):
            acc = 0.0
            for b in range(B):
                acc += dp[b, q] * dp[b, s] * inv[b]
            info[q, s] = N * acc + (ridge if q == s else 0.0)
            info[s, q] = info[q, s]


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
    inv = np.empty(B)
    grad = np.empty(P)
    step = np.empty(P)
    cand = np.empty(P)
    info = np.empty((P, P))
    lu_a = np.empty((P, P))
    lu_x = np.empty(P)
    unit = np.empty(P)
    col = np.empty(P)
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
            _reciprocal(p, inv)
            for q in range(P):
                g = 0.0
                for b in range(B):
                    g += ce[b] * inv[b] * dp[b, q]
                grad[q] = g
                if not np.isfinite(g):
                    fine = False
            _information(N, inv, dp, 1e-10, info)
            for q in range(P):
                for s in range(P):
                    if not np.isfinite(info[q, s]):
                        fine = False
            for q in range(P):
                step[q] = 0.0
            if fine:
                det = _lu_solve(info, grad, step, lu_a, lu_x)
                if not det > 0:
                    for q in range(P):
                        step[q] = 0.0
            dec = 0.0
            for q in range(P):
                dec += grad[q] * step[q]
            if not dec > tol:  # converged: the last (tiny) step is not taken
                break
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
                    # the candidate's cells become the current ones (the buffers trade places)
                    p, cp = cp, p
                    dp, cdp = cdp, dp
                    accepted = True
                    break
                t *= 0.5
            active = accepted
        ll[e] = cur
        # the inverse Fisher information at the estimate
        _reciprocal(p, inv)
        _information(N, inv, dp, 0.0, info)
        good = np.isfinite(cur)
        for q in range(P):
            for s in range(P):
                if not np.isfinite(info[q, s]):
                    good = False
        if good:
            for q in range(P):
                info[q, q] += 1e-12
            det = 1.0
            for s in range(P):
                unit[:] = 0.0
                unit[s] = 1.0
                det = _lu_solve(info, unit, col, lu_a, lu_x)
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
def _lag_acov_pair(cen, k):
    """``_lag_acov`` at lags k and k + 1 in one pass (each summed in the same order as alone)."""
    m, s = cen.shape
    acc_a = 0.0
    acc_b = 0.0
    for j in range(m):
        part_a = 0.0
        part_b = 0.0
        for t in range(s - k - 1):
            part_a += cen[j, t] * cen[j, t + k]
            part_b += cen[j, t] * cen[j, t + k + 1]
        part_a += cen[j, s - k - 1] * cen[j, s - 1]
        acc_a += part_a
        acc_b += part_b
    return acc_a / (s * m), acc_b / (s * m)


@_jit
def _geyer_one(yg, cen, means, floor):
    """tau and var_plus of one series group ``yg`` (m split chains, s); ``cen``, ``means``: scratch."""
    m, s = yg.shape
    for j in range(m):
        acc = 0.0
        for t in range(s):
            acc += yg[j, t]
        mu = acc / s
        means[j] = mu
        for t in range(s):
            cen[j, t] = yg[j, t] - mu
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
    total = 0.0
    if vp > 0:
        low = np.inf
        for i in range(s // 2):
            if i == 0:
                r0 = 1.0
                r1 = 1.0 - (w - _lag_acov(cen, 1)) / vp
            else:  # (the two lags of a pair in one pass over the series)
                acov_0, acov_1 = _lag_acov_pair(cen, 2 * i)
                r0 = 1.0 - (w - acov_0) / vp
                r1 = 1.0 - (w - acov_1) / vp
            pair = r0 + r1
            if not pair > 0:
                break
            if pair < low:
                low = pair
            total += low
    return max(-1.0 + 2.0 * total, floor), vp


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
        tau[g], var_plus[g] = _geyer_one(y[g], cen, means, floor)
    return tau, var_plus


# ----------------------------------------------------------------------------- per-batch counts and their ESS
# The in-memory curve pass (core/curves.py, ``fused``): each element's draws are
# counted per (chain, batch) into its radius cells and index windows, made
# cumulative, and reduced to the ESS of every ball's indicator and of the power
# law's score at once, row by row. The per-batch arrays of one element live
# only in this kernel's scratch (the numpy path holds them for a whole chunk of
# elements), and the same float operations, in the same order, as
# ``np.bincount`` + ``_cumsum_windows`` + :func:`.ess.batch_means_ess` +
# ``_shape_inflation`` give the same numbers, bit for bit (tests/test_compiled.py).


@_jit
def _pairwise_leaf(a, lo, n):
    """numpy's pairwise sum of a block of at most 128: eight running sums, then the rest in order."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_jit
def _pairwise_sum(a, lo, n):
    """numpy's pairwise summation of ``a[lo:lo + n]`` (the order ``np.sum`` uses on a contiguous block).

    Blocks above 128 split in two (the first half a multiple of 8) and add
    their sums. The tree is walked with an explicit stack: numba's on-disk
    cache does not load recursive functions safely.
    """
    if n <= 128:
        return _pairwise_leaf(a, lo, n)
    s_lo = np.empty(64, np.int64)
    s_n = np.empty(64, np.int64)
    s_stage = np.zeros(64, np.int64)
    s_left = np.empty(64)
    top = 0
    s_lo[0], s_n[0] = lo, n
    ret = 0.0
    while top >= 0:
        m = s_n[top]
        if m <= 128:  # a leaf: its sum goes back to its parent
            ret = _pairwise_leaf(a, s_lo[top], m)
            top -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if s_stage[top] == 0:  # the left half first
            s_stage[top] = 1
            top += 1
            s_lo[top], s_n[top], s_stage[top] = s_lo[top - 1], n2, 0
        elif s_stage[top] == 1:  # the left half's sum is back: the right half
            s_left[top] = ret
            s_stage[top] = 2
            top += 1
            s_lo[top], s_n[top], s_stage[top] = s_lo[top - 1] + n2, m - n2, 0
        else:  # both halves back
            ret = s_left[top] + ret
            top -= 1
    return ret


@_jit(numpy_errors=True)
def _batch_ess(sums, inv_sizes, n_total, v_draw, y, cen, means):
    """:func:`.ess.batch_means_ess` of one series' batch sums ``sums`` (C * n_b, chain-major), 1-D sizes.

    ``v_draw``: the variance of one draw; ``y`` (2 C, n_b / 2), ``cen`` (the
    same shape) and ``means`` (2 C,): scratch.
    """
    m, half = y.shape
    n_b = 2 * half
    for c in range(m // 2):
        for b in range(half):
            y[2 * c, b] = sums[c * n_b + b] * inv_sizes[b]
            y[2 * c + 1, b] = sums[c * n_b + half + b] * inv_sizes[half + b]
    tau, var_plus = _geyer_one(y, cen, means, 1.0 / np.log10(float(max(m * half, 10))))
    ess_y = (m * half) / tau
    ess = v_draw * ess_y / var_plus
    ess = ess * 1.0
    if not (np.isfinite(ess) and var_plus > 0):
        ess = n_total
    return min(max(ess, 1.0), n_total)


@_jit
def _master_cell(lg, dv, le0, inv_dm, G, special):
    """The master cell of one distance ``dv`` (log ``lg``), as ``curves._master_cells`` computes it.

    ``G`` for a tie at the centre or a left-out draw (``special``: there may be such).
    """
    if special and (dv == 0 or not np.isfinite(dv)):
        return G
    tt = (lg - le0) * inv_dm
    if special and not np.isfinite(tt):
        tt = -1.0
    if tt < -1.0:  # np.clip(t, -1, G - 1), then truncation as astype(int64)
        tt = -1.0
    elif tt > G - 1:
        tt = float(G - 1)
    return int(tt)


@_jit
def _master_counts_rows(logd, d, le0, inv_dm, G, special, master):
    """Draws per master cell of each row (the first ``G`` cells; ties at the centre are not counted).

    The counts of ``curves._master_cells``' cells, without their (ns, n) array;
    ``master`` (ns, G) float64 is written.
    """
    ns, n = logd.shape
    for i in range(ns):
        for g in range(G):
            master[i, g] = 0.0
        for t in range(n):
            m = _master_cell(logd[i, t], d[i, t], le0[i], inv_dm[i], G, special)
            if m < G:
                master[i, m] += 1.0


@_jit
def _grid_cell(lg, dv, lo, inv_step, g0, g_top, R):
    """The automatic grid's cell of one distance, as ``curves._grid_bins`` computes it."""
    tt = (lg - lo) * inv_step
    if tt != tt:  # (NaN: numpy's cast gives the minimum integer, clipped to 0 below)
        b = 0
    else:
        if tt < -1.0:
            tt = -1.0
        elif tt > R:
            tt = float(R)
        b = int(np.ceil(tt))
        if b < 0:
            b = 0
    if dv == g0:
        b = 0
    if dv == g_top:
        b = R - 1
    return b


@_jit(numpy_errors=True)
def _cumulative_ess(counts, tot_row, ess_row, run, inv_sizes, n_total, y, cen, means):
    """Balls of the first k + 1 cells of ``counts`` (C * n_b, K + 1), for k < K: draws inside and their ESS.

    ``tot_row``, ``ess_row`` (K,) are written; ``run`` (C * n_b,) and the rest: as in :func:`_batch_ess`.
    """
    CB = counts.shape[0]
    for j in range(CB):
        run[j] = 0.0
    for k in range(tot_row.shape[0]):
        s = 0.0
        for j in range(CB):
            run[j] += counts[j, k]
            s += run[j]
        tot_row[k] = s
        p = s / n_total
        ess_row[k] = _batch_ess(run, inv_sizes, n_total, p * (1 - p), y, cen, means)


@_jit(numpy_errors=True)
def _batch_pass_rows(auto, bins, lo, inv_step, g0, g_top, d, logd, le0, inv_dm, G, special, g_sub, logR, cb,
                     sizes, n_valid, tot, ess, tot_w, e_w, e_z, z_fine, in_0):
    """Per-batch counts of each row's draws and the ESS they give (see the section's comment).

    Each draw's radius cell: on the automatic grid (``auto``), from its log
    distance and the grid's ``lo``, ``inv_step``, first and last radius
    ``g0``, ``g_top`` (ns,) (``curves._grid_bins``); otherwise given in
    ``bins`` (ns, n) (``R``: outside every radius). Its master cell from
    ``d``, ``logd`` (ns, n) and the master grid's ``le0``, ``inv_dm`` (ns,)
    (``G``: a tie at the centre; ``special``: there may be ties or left-out
    draws). g_sub (ns, W): each index window's closing master cell; logR (ns,
    W): the log of each window's radius; cb (n,): chain * n_b + batch of each
    draw; sizes (n_b,): draws per batch; n_valid (ns,). Written: tot, ess
    (ns, R): draws inside each radius and their indicator's ESS; tot_w, e_w
    (ns, W): the same per window; e_z, z_fine (ns, W): the ESS of the power
    law's score and where it is defined; in_0 (ns, C, n_b): per-batch counts
    in the narrowest window.
    """
    ns, n = logd.shape
    R = tot.shape[1]
    W = g_sub.shape[1]
    C, n_b = in_0.shape[1], in_0.shape[2]
    CB = C * n_b
    inv_sizes = 1.0 / sizes
    s_tot = 0.0
    for b in range(n_b):
        s_tot += sizes[b]
    n_total = s_tot * C
    cnt = np.zeros((CB, R + 1), np.int64)
    cw = np.zeros((CB, W + 1), np.int64)
    pc = np.zeros((CB, W + 1), np.int64)
    p1 = np.zeros((CB, W + 1))
    p2 = np.zeros((CB, W + 1))
    run = np.empty(CB)
    r1 = np.empty(CB)
    r2 = np.empty(CB)
    sl = np.empty(CB)
    sl2 = np.empty(CB)
    zs = np.empty(CB)
    zq = np.empty(CB)
    y = np.empty((2 * C, n_b // 2))
    cen = np.empty((2 * C, n_b // 2))
    means = np.empty(2 * C)
    table = np.empty(G + 1, np.int64)
    for i in range(ns):
        cnt[:, :] = 0
        cw[:, :] = 0
        pc[:, :] = 0
        p1[:, :] = 0.0
        p2[:, :] = 0.0
        g_max = g_sub[i, 0]
        for w in range(W):
            if g_sub[i, w] > g_max:
                g_max = g_sub[i, w]
        # windows a draw in master cell g is outside of (a tie at the centre: none)
        for g in range(G + 1):
            k = 0
            for w in range(W):
                if g > g_sub[i, w]:
                    k += 1
            table[g] = k
        table[G] = 0
        for t in range(n):
            j = cb[t]
            lg = logd[i, t]
            if auto:
                cnt[j, _grid_cell(lg, d[i, t], lo[i], inv_step[i], g0[i], g_top[i], R)] += 1
            else:
                cnt[j, bins[i, t]] += 1
            m = _master_cell(lg, d[i, t], le0[i], inv_dm[i], G, special)
            wk = table[m]
            cw[j, wk] += 1
            if m <= g_max:  # a positive distance inside the widest window: the score's sums
                pc[j, wk] += 1
                p1[j, wk] += lg
                p2[j, wk] += lg * lg
        # the curve: cumulative over the radii, the ESS of each ball's indicator;
        # the index windows: the same for each ball, and the power law's score
        _cumulative_ess(cnt, tot[i], ess[i], run, inv_sizes, n_total, y, cen, means)
        _cumulative_ess(cw, tot_w[i], e_w[i], run, inv_sizes, n_total, y, cen, means)
        for c in range(C):  # the narrowest window's per-batch counts
            for b in range(n_b):
                in_0[i, c, b] = cw[c * n_b + b, 0]
        for j in range(CB):
            run[j] = 0.0
            r1[j] = 0.0
            r2[j] = 0.0
        for w in range(W):
            lr = logR[i, w]
            npos_sum = 0.0
            for j in range(CB):
                if w == 0:
                    run[j] = float(pc[j, 0])
                    r1[j] = p1[j, 0]
                    r2[j] = p2[j, 0]
                else:
                    run[j] = run[j] + float(pc[j, w])
                    r1[j] = r1[j] + p1[j, w]
                    r2[j] = r2[j] + p2[j, w]
                npos_sum += run[j]
                sl[j] = run[j] * lr - r1[j]
                sl2[j] = run[j] * (lr * lr) - (2 * lr) * r1[j] + r2[j]
            a = npos_sum / _pairwise_sum(sl, 0, CB)
            for j in range(CB):
                zs[j] = run[j] - a * sl[j]
                zq[j] = run[j] - (2 * a) * sl[j] + (a * a) * sl2[j]
            zm = _pairwise_sum(zs, 0, CB) / n_valid[i]
            v = _pairwise_sum(zq, 0, CB) / n_valid[i] - zm * zm
            fine = np.isfinite(a) and a > 0 and np.isfinite(v) and v > 0
            z_fine[i, w] = fine
            e_z[i, w] = _batch_ess(zs, inv_sizes, n_total, v, y, cen, means) if fine else n_total
