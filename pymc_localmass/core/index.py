"""Mass Index estimation: local likelihood on the nearest draws, curve fits.

The estimator for draws (:func:`fit_index_draws`) is a local likelihood for
the distances of the k draws nearest to the centre. Inside a window of radius
R the model is

    log m(r) - log m(R) = a log(r/R) + b log(L(r)/L(R)) + sum_j c_j ((r/R)^j - 1),

with L(r) = log(scale / r). The conditional density of a distance given that
it is at most R is m'(r)/m(R) = (m(r)/m(R)) h(r)/r with the local slope
h(r) = a - b/L(r) + sum_j j c_j (r/R)^j, so the log-likelihood is linear in
the parameters plus log h: it is concave and Newton's method with
backtracking finds its maximum reliably, vectorised over elements. Without
curvature or log terms it reduces to the Hill (Levina-Bickel) estimator; the
curvature term removes the first-order bias that makes Hill underestimate
``a`` (order r at a support boundary, order r^2 at interior points), which
allows a wider window and hence a smaller variance.

Decay faster than any power (``a = inf``) is detected with the extra term
lambda (1 - R/r), whose slope contribution lambda R / r grows without bound
as r -> 0; a likelihood-ratio test at a stringent level decides.
"""

import numpy as np
from scipy import stats

TERMS = ("a", "b", "c1", "c2", "lam")


def _features(r, R, scale, terms):
    """Design columns X (exponent) and Z (slope) for the requested terms."""
    t = r / R[:, None]
    xs, zs = [], []
    for term in terms:
        if term == "a":
            xs.append(np.log(t))
            zs.append(np.ones_like(t))
        elif term == "b":
            lr = np.log(scale[:, None] / r)
            lR = np.log(scale / R)[:, None]
            xs.append(np.log(lr / lR))
            zs.append(-1.0 / lr)
        elif term == "c1":
            xs.append(t - 1.0)
            zs.append(t)
        elif term == "c2":
            xs.append(t**2 - 1.0)
            zs.append(2.0 * t**2)
        elif term == "lam":
            xs.append(1.0 - 1.0 / t)
            zs.append(1.0 / t)
        else:  # pragma: no cover - internal
            raise ValueError(term)
    return np.stack(xs, axis=-1), np.stack(zs, axis=-1)


def _loglik(theta, X, Z, mask):
    h = np.einsum("ekp,ep->ek", Z, theta)
    bad = mask & ~(h > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.where(mask, np.einsum("ekp,ep->ek", X, theta) + np.log(np.where(h > 0, h, 1.0)), 0.0)
    out = ll.sum(axis=1)
    out[bad.any(axis=1)] = -np.inf
    return out, h


def _maximise(X, Z, mask, theta0, max_iter=60, tol=1e-9):
    """Newton ascent with backtracking for the concave local likelihood."""
    theta = theta0.copy()
    ll, h = _loglik(theta, X, Z, mask)
    w = mask.astype(float)
    active = np.isfinite(ll)
    for _ in range(max_iter):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        Xa, Za, wa, ha = X[idx], Z[idx], w[idx], h[idx]
        hs = np.where(wa > 0, ha, 1.0)
        grad = (wa[..., None] * (Xa + Za / hs[..., None])).sum(axis=1)
        hess = -np.einsum("ek,ekp,ekq->epq", wa / hs**2, Za, Za)
        hess -= 1e-12 * np.eye(hess.shape[-1])
        try:
            step = np.linalg.solve(-hess, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(-hess[0], grad[0], rcond=None)[0][None] if len(idx) == 1 else grad * 0
        dec = (grad * step).sum(axis=1)
        t = np.ones(len(idx))
        new_theta = theta[idx].copy()
        new_ll = ll[idx].copy()
        todo = np.ones(len(idx), bool)
        for _bt in range(40):
            cand = theta[idx][todo] + t[todo, None] * step[todo]
            cll, _ = _loglik(cand, Xa[todo], Za[todo], mask[idx][todo])
            ok = cll >= ll[idx][todo] - 1e-12
            sub = np.flatnonzero(todo)
            new_theta[sub[ok]] = cand[ok]
            new_ll[sub[ok]] = cll[ok]
            todo[sub[ok]] = False
            t[todo] *= 0.5
            if not todo.any():
                break
        theta[idx] = new_theta
        ll[idx] = new_ll
        _, h_new = _loglik(theta[idx], Xa, Za, mask[idx])
        h[idx] = h_new
        active[idx] = dec > tol
    return theta, ll, h


def _information(Z, h, mask):
    hs = np.where(mask, h, 1.0)
    w = mask / hs**2
    return np.einsum("ek,ekp,ekq->epq", w, Z, Z)


def fit_local(r, R, scale, terms, mask=None, theta0=None):
    """Maximum local likelihood for one model (a row of ``terms``).

    Parameters
    ----------
    r : ndarray (E, k)
        Positive distances inside the window, any order.
    R : ndarray (E,)
        Window radius (all ``r`` must be < R... <= R).
    scale : ndarray (E,)
        Unit of radius for the log term.
    terms : sequence of str
        Subset of ``TERMS``; must start with ``"a"``.
    mask : ndarray (E, k) of bool, optional
        Which entries of ``r`` are data.

    Returns
    -------
    theta : ndarray (E, P)
    cov : ndarray (E, P, P)
        Inverse observed information.
    loglik : ndarray (E,)
    """
    r = np.asarray(r, dtype=float)
    if mask is None:
        mask = np.isfinite(r) & (r > 0)
    r = np.where(mask, r, R[:, None] * 0.5)
    X, Z = _features(r, R, scale, terms)
    if theta0 is None:
        u = np.where(mask, np.log(r / R[:, None]), 0.0)
        k = mask.sum(axis=1)
        hill = k / np.maximum(-u.sum(axis=1), 1e-300)
        theta0 = np.zeros(r.shape[:1] + (len(terms),))
        theta0[:, 0] = hill
    theta, ll, h = _maximise(X, Z, mask, theta0)
    info = _information(Z, h, mask)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(info)
    return theta, cov, ll


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
    >>> abs(hill_estimator(r, 1000) - 2) < 0.15
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


def fit_index_draws(sorted_r, scale, *, boundary=None, inflation=None, ci_prob=0.94,
                    k=None, b_level=0.99, inf_level=0.999):
    """Mass Index (a, b) from the nearest draws' distances.

    Parameters
    ----------
    sorted_r : ndarray (E, K)
        The K + 1 smallest positive distances of each element, ascending
        (``inf`` where an element has fewer positive distances). The first
        ``k`` are the data; the ``(k+1)``-th is the window radius.
    scale : ndarray (E,)
        Unit of radius (the element's posterior sd) for the log term.
    boundary : ndarray (E,) of bool, optional
        True where the centre lies at an edge of the draws (all on one side):
        the curvature term is then linear in r, else quadratic.
    inflation : ndarray (E,), optional
        Variance inflation for autocorrelated draws (n / ESS of the window
        indicator); 1 for independent draws.
    ci_prob : float
    k : int, optional
        Window size; default ``K - 1``.
    b_level : float
        Level of the likelihood-ratio test that decides whether the log term
        is needed for the reported ``a`` (the reported ``b`` always comes
        from the model that includes it).
    inf_level : float
        Level of the test for decay faster than any power.

    Returns
    -------
    dict of ndarray (E,)
        ``a, a_lower, a_upper, b, b_lower, b_upper, window, n_window, is_inf``.
    """
    sorted_r = np.asarray(sorted_r, dtype=float)
    E, K = sorted_r.shape
    if k is None:
        k = K - 1
    scale = np.asarray(scale, dtype=float) * np.ones(E)
    boundary = np.zeros(E, bool) if boundary is None else np.asarray(boundary, bool)
    infl = np.ones(E) if inflation is None else np.maximum(np.asarray(inflation, float), 1.0)
    R = sorted_r[:, k]
    r = sorted_r[:, :k]
    finite_R = np.isfinite(R)
    R = np.where(finite_R, R, np.nanmax(np.where(np.isfinite(r), r, 0), axis=1) * 1.0000001 + 1e-300)
    mask = np.isfinite(r) & (r > 0) & (r < R[:, None])
    n_window = mask.sum(axis=1)
    z = stats.norm.ppf(0.5 + ci_prob / 2)
    out = {key: np.full(E, np.nan) for key in ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper")}
    out["window"] = R
    out["n_window"] = n_window.astype(float)
    out["is_inf"] = np.zeros(E, bool)
    ok = n_window >= 5
    if not ok.any():
        return out
    sel = np.flatnonzero(ok)
    for curv in ("c1", "c2"):
        grp = sel[boundary[sel] == (curv == "c1")]
        if grp.size == 0:
            continue
        rr, RR, ss, mm, inf_g = r[grp], R[grp], scale[grp], mask[grp], infl[grp]
        th_r, cov_r, ll_r = fit_local(rr, RR, ss, ["a", curv], mm)
        a = th_r[:, 0]
        sa = np.sqrt(np.maximum(cov_r[:, 0, 0], 0) * inf_g)
        # log term: only where the window lies inside the unit (L(R) > 0)
        can_b = np.log(ss / RR) > 0.25
        b = np.zeros(grp.size)
        blo = np.full(grp.size, -np.inf)
        bhi = np.full(grp.size, np.inf)
        if can_b.any():
            gb = np.flatnonzero(can_b)
            th_f, cov_f, ll_f = fit_local(rr[gb], RR[gb], ss[gb], ["a", "b", curv], mm[gb],
                                          theta0=np.column_stack([a[gb], np.zeros(gb.size), th_r[gb, 1]]))
            sb = np.sqrt(np.maximum(cov_f[:, 1, 1], 0) * inf_g[gb])
            b[gb] = th_f[:, 1]
            blo[gb] = th_f[:, 1] - z * sb
            bhi[gb] = th_f[:, 1] + z * sb
            lr_stat = 2 * (ll_f - ll_r[gb]) / inf_g[gb]
            use_full = np.isfinite(lr_stat) & (lr_stat > stats.chi2.ppf(b_level, 1))
            idx = gb[use_full]
            a[idx] = th_f[use_full, 0]
            sa[idx] = np.sqrt(np.maximum(cov_f[use_full, 0, 0], 0) * inf_g[idx])
        # decay faster than any power
        th_l, _, ll_l = fit_local(rr, RR, ss, ["a", "lam", curv], mm,
                                  theta0=np.column_stack([a, np.zeros(grp.size), th_r[:, 1]]))
        lr_inf = 2 * (ll_l - ll_r) / inf_g
        is_inf = (th_l[:, 1] > 0) & np.isfinite(lr_inf) & (lr_inf > stats.chi2.ppf(inf_level, 1))
        a_lo = np.maximum(a - z * sa, 0.0)
        a_hi = a + z * sa
        out["a"][grp] = np.where(is_inf, np.inf, a)
        out["a_lower"][grp] = a_lo
        out["a_upper"][grp] = np.where(is_inf, np.inf, a_hi)
        out["b"][grp] = np.where(is_inf, 0.0, b)
        out["b_lower"][grp] = np.where(is_inf, -np.inf, blo)
        out["b_upper"][grp] = np.where(is_inf, np.inf, bhi)
        out["is_inf"][grp] = is_inf
    return out


def fit_index_curve(radius, mass, mass_lower, mass_upper, resolved, scale, *, ci_prob=0.94,
                    fit_b=True):
    """Mass Index from a mass curve (any tier), by weighted least squares on slopes.

    Consecutive log-mass increments of nested balls are nearly independent,
    so the finite-radius slopes s_j between consecutive resolved radii are
    regressed on ``s = a - b / log(scale / r)`` with weights from the mass
    intervals. The covariance is scaled up by the residual dispersion when
    the fit is worse than the stated precision.

    Parameters
    ----------
    radius, mass, mass_lower, mass_upper : ndarray (..., R)
    resolved : ndarray (..., R) of bool
    scale : ndarray (...)
    ci_prob : float
    fit_b : bool

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
    radius = np.asarray(radius, float)
    shape = radius.shape[:-1]
    R = radius.shape[-1]
    flat = lambda x: np.broadcast_to(np.asarray(x), shape + (R,)).reshape(-1, R)  # noqa: E731
    r, m, lo, hi = flat(radius), flat(mass), flat(mass_lower), flat(mass_upper)
    res = flat(resolved).astype(bool) & (m > 0)
    sc = np.broadcast_to(np.asarray(scale, float), shape).reshape(-1)
    z = stats.norm.ppf(0.5 + ci_prob / 2)
    out = {key: np.full(r.shape[0], np.nan) for key in ("a", "a_lower", "a_upper", "b", "b_lower", "b_upper", "n_window", "window")}
    for e in range(r.shape[0]):
        keep = np.flatnonzero(res[e])
        if keep.size < 3:
            continue
        rr, mm = r[e, keep], m[e, keep]
        with np.errstate(divide="ignore"):
            se = (np.log(np.maximum(hi[e, keep], 1e-300)) - np.log(np.maximum(lo[e, keep], 1e-300))) / (2 * z)
        se = np.maximum(se, 1e-12)
        dlr = np.diff(np.log(rr))
        s = np.diff(np.log(mm)) / dlr
        # increments of nested balls: var of log-ratio ~ se_inner^2 - se_outer^2 (conditional binomial)
        var_s = np.maximum(se[:-1] ** 2 - se[1:] ** 2, 0.25 * se[:-1] ** 2) / dlr**2
        rmid = np.exp(0.5 * (np.log(rr[1:]) + np.log(rr[:-1])))
        L = np.log(sc[e] / rmid)
        use_b = fit_b and np.all(L > 0.25) and s.size >= 3
        cols = [np.ones_like(s)] + ([-1.0 / L] if use_b else [])
        A = np.column_stack(cols)
        W = 1.0 / var_s
        AtW = A.T * W
        cov = np.linalg.pinv(AtW @ A)
        coef = cov @ (AtW @ s)
        resid = s - A @ coef
        dof = max(s.size - A.shape[1], 1)
        disp = max(1.0, float((resid**2 * W).sum() / dof))
        cov = cov * disp
        out["a"][e] = coef[0]
        sa = np.sqrt(cov[0, 0])
        out["a_lower"][e], out["a_upper"][e] = max(coef[0] - z * sa, 0.0), coef[0] + z * sa
        if use_b:
            sb = np.sqrt(cov[1, 1])
            out["b"][e], out["b_lower"][e], out["b_upper"][e] = coef[1], coef[1] - z * sb, coef[1] + z * sb
        else:
            out["b"][e], out["b_lower"][e], out["b_upper"][e] = 0.0, -np.inf, np.inf
        out["n_window"][e] = keep.size
        out["window"][e] = rr[-1]
    return {key: val.reshape(shape) for key, val in out.items()}
