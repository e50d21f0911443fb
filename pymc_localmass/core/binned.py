"""Binned local likelihood for the Mass Index (vectorised over elements).

Inside a window of radius R the distances are binned on a geometric grid;
the cell probabilities follow from the model of the relative ball mass
``M(r) = m(r) / m(R) = exp(sum_p theta_p X_p(r))`` (see :mod:`.index`), and the
multinomial likelihood is maximised by Fisher scoring. With a few dozen
geometric cells the information lost to binning is negligible, and the cost
no longer grows with the number of draws in the window, so wide windows
(up to half of the draws) are cheap.
"""

import numpy as np

from ._accel import kernel

N_CELLS = 40


def _edge_features(edges, R, scale, terms):
    """X_p at the cell edges (E, B, P)."""
    t = edges / R[:, None]
    cols = []
    for term in terms:
        if term == "a":
            cols.append(np.log(t))
        elif term == "b":
            cols.append(np.log(np.log(scale[:, None] / edges) / np.log(scale / R)[:, None]))
        elif term == "c1":
            cols.append(t - 1.0)
        elif term == "c2":
            cols.append(t**2 - 1.0)
        elif term == "c4":
            cols.append(t**4 - 1.0)
        elif term == "lam":
            cols.append(1.0 - 1.0 / t)
        elif term == "lq":
            cols.append(np.log(t) ** 2)
        else:  # pragma: no cover
            raise ValueError(term)
    return np.stack(cols, axis=-1)


def bin_window(sorted_r, k, n_cells=N_CELLS):
    """Counts of the k nearest distances in geometric cells up to R = r_(k+1).

    Returns counts (E, B), upper edges (E, B) (last edge = R) and R (E,).
    Cell 0 is [0, e_0] with e_0 the nearest distance.
    """
    r = sorted_r[:, :k]
    R = sorted_r[:, k]
    e0 = sorted_r[:, 0]
    e0 = np.minimum(e0, R * np.exp(-1e-9))
    delta = np.log(R / e0) / (n_cells - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.ceil(np.log(r / e0[:, None]) / delta[:, None] - 1e-9)
    j = np.clip(np.nan_to_num(j, nan=0.0), 0, n_cells - 1).astype(np.int64)
    E = r.shape[0]
    flat = (np.arange(E)[:, None] * n_cells + j).ravel()
    counts = np.bincount(flat, minlength=E * n_cells).reshape(E, n_cells).astype(float)
    edges = e0[:, None] * np.exp(delta[:, None] * np.arange(n_cells)[None, :])
    edges[:, -1] = R
    return counts, edges, R


def _cells(theta, X):
    """Cell probabilities and their derivatives."""
    with np.errstate(over="ignore", invalid="ignore"):
        M = np.exp(np.einsum("ebp,ep->eb", X, theta))
        MX = M[..., None] * X
        # trial steps can overflow (inf - inf); _loglik rejects non-finite cells
        p = _diff_from_zero(M)
        dp = _diff_from_zero(MX)
    return p, dp


def _diff_from_zero(a):
    """``np.diff(a, axis=1, prepend=0.0)`` without the concatenated copy (the same numbers)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 0]
    np.subtract(a[:, 1:], a[:, :-1], out=out[:, 1:])
    return out


def _loglik(theta, X, counts, zero=None, has=None):
    """Binned log likelihood (-inf where a cell with draws has no probability), cells and derivatives.

    ``zero`` and ``has`` (``counts == 0`` and ``counts > 0``) may be passed when known.
    """
    p, dp = _cells(theta, X)
    zero = counts == 0 if zero is None else zero
    has = counts > 0 if has is None else has
    positive = p > 0
    ok = np.all((positive | zero) & np.isfinite(p), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.where(has, counts * np.log(np.where(positive, p, 1.0)), 0.0).sum(axis=1)
    return np.where(ok, ll, -np.inf), p, dp


def score(counts, edges, R, scale, terms, theta):
    """Gradient of the binned log likelihood at ``theta`` (E, P).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = np.sort(rng.random((1, 5001)) ** 0.5, axis=1)   # m(r) = r^2
    >>> c, e, R = bin_window(r, 5000)
    >>> th, _, _ = fit_binned(c, e, R, np.ones(1), ["a"])
    >>> bool(abs(score(c, e, R, np.ones(1), ["a"], th)[0, 0]) < 1e-6)
    True
    """
    p, dp = _cells(np.asarray(theta, float), _edge_features(edges, R, scale, terms))
    safe = np.where(p > 0, p, np.inf)
    return (counts[..., None] * dp / safe[..., None]).sum(axis=1)


def fit_binned(counts, edges, R, scale, terms, theta0=None, max_iter=80, tol=1e-10, features=None):
    """Maximum binned local likelihood by Fisher scoring with backtracking.

    Parameters
    ----------
    counts : ndarray (E, B)
    edges : ndarray (E, B)
        Upper cell edges; the last is the window radius R.
    R, scale : ndarray (E,)
    terms : sequence of str
        Model terms, starting with ``"a"`` (see :mod:`.index`).
    theta0 : ndarray (E, P), optional
    features : ndarray (E, B, P), optional
        The model's features at the cell edges, given directly (then ``terms``
        only names them); default from ``terms``.

    Returns
    -------
    theta (E, P), cov (E, P, P) (inverse Fisher information), loglik (E,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = np.sort(rng.random((1, 5001)) ** 0.5, axis=1)   # m(r) = r^2
    >>> c, e, R = bin_window(r, 5000)
    >>> th, cov, ll = fit_binned(c, e, R, np.ones(1), ["a"])
    >>> bool(abs(th[0, 0] - 2) < 0.1)
    True
    """
    E = counts.shape[0]
    X = _edge_features(edges, R, scale, terms) if features is None else np.asarray(features, float)
    N = counts.sum(axis=1)
    if theta0 is None:
        theta0 = np.zeros((E, len(terms)))
        # Hill-type start from the binned data
        # (the cells' geometric midpoints in logs: edges near 1e-279 underflow as products)
        with np.errstate(divide="ignore"):
            log_e = np.log(edges)
        log_mid = np.concatenate([log_e[:, :1] + np.log(0.5), 0.5 * (log_e[:, 1:] + log_e[:, :-1])], axis=1)
        with np.errstate(invalid="ignore"):
            s = np.where(counts > 0, counts * (np.log(R)[:, None] - log_mid), 0.0).sum(axis=1)
        theta0[:, 0] = np.where(s > 0, N / np.maximum(s, 1e-300), 1.0)
    compiled = kernel("_fit_rows")
    if compiled is not None:  # the same steps row by row, compiled (core/_compiled.py)
        # (the kernel does not check bounds: the shapes are checked here, as numpy would)
        if counts.shape != X.shape[:2] or np.shape(theta0) != (E, X.shape[2]):
            raise ValueError(f"fit_binned: counts {counts.shape}, features {X.shape} and start "
                             f"{np.shape(theta0)} do not match (E, B), (E, B, P), (E, P)")
        # one signature: C-contiguous, writable float64 (a read-only array would compile another)
        arrays = [np.require(a, dtype=float, requirements=["C", "W"]) for a in (X, counts, theta0)]
        return compiled(*arrays, int(max_iter), float(tol))
    theta = np.array(theta0, dtype=float)
    zero, has = counts == 0, counts > 0
    ll, p, dp = _loglik(theta, X, counts, zero, has)
    active = np.isfinite(ll)
    P = len(terms)
    eye = np.eye(P)
    ridge = 1e-10 * eye
    for _ in range(max_iter):
        if not active.any():
            break
        ia = np.flatnonzero(active)
        # (all rows active: the arrays themselves rather than copies)
        pa, dpa, ca = (p, dp, counts) if ia.size == E else (p[ia], dp[ia], counts[ia])
        safe = np.where(pa > 0, pa, np.inf)
        with np.errstate(over="ignore", invalid="ignore"):
            grad = (ca[..., None] * dpa / safe[..., None]).sum(axis=1)
            info = N[ia, None, None] * np.einsum("eb,ebp,ebq->epq", 1.0 / safe, dpa, dpa)
        info += ridge
        fine = np.all(np.isfinite(info), axis=(1, 2)) & np.all(np.isfinite(grad), axis=1)
        fine &= np.linalg.det(np.where(fine[:, None, None], info, eye)) > 0
        if fine.all():  # (each matrix is solved on its own: no copies needed)
            step = np.linalg.solve(info, grad[..., None])[..., 0]
        else:
            step = np.zeros_like(grad)
            if fine.any():
                step[fine] = np.linalg.solve(info[fine], grad[fine][..., None])[..., 0]
        dec = (grad * step).sum(axis=1)
        # converged rows (Newton decrement at most tol) stop before the step: it is tiny
        # (about sqrt(tol) standard errors) and its trial would cost a likelihood evaluation
        go = dec > tol
        t = np.ones(ia.size)
        todo = go.copy()
        new_theta = theta[ia].copy()
        for _bt in range(30):
            if not todo.any():
                break
            sub = np.flatnonzero(todo)
            cand = theta[ia[sub]] + t[sub, None] * step[sub]
            rows = ia[sub]
            if rows.size == E:
                cll, cp, cdp = _loglik(cand, X, counts, zero, has)
            else:
                cll, cp, cdp = _loglik(cand, X[rows], counts[rows], zero[rows], has[rows])
            ok = cll >= ll[ia[sub]] - 1e-12
            new_theta[sub[ok]] = cand[ok]
            ll[ia[sub[ok]]] = cll[ok]
            p[ia[sub[ok]]] = cp[ok]
            dp[ia[sub[ok]]] = cdp[ok]
            todo[sub[ok]] = False
            t[todo] *= 0.5
            if not todo.any():
                break
        theta[ia] = new_theta
        active[ia] = go & ~todo
    safe = np.where(p > 0, p, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        info = N[:, None, None] * np.einsum("eb,ebp,ebq->epq", 1.0 / safe, dp, dp)
    good = np.all(np.isfinite(info), axis=(1, 2)) & np.isfinite(ll)
    cov = np.full_like(info, np.inf)
    if good.any():
        gi = info[good] + 1e-12 * np.eye(P)
        det_ok = np.linalg.det(gi) > 0
        inv = np.full_like(gi, np.inf)
        if det_ok.any():
            inv[det_ok] = np.linalg.inv(gi[det_ok])
        cov[good] = inv
    theta[~good] = np.nan
    return theta, cov, ll
