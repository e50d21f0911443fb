"""Effective sample sizes of ball indicators, from batch counts.

The indicator ``1{||theta_t - theta0|| <= r}`` of an MCMC chain is
autocorrelated. Its effective sample size is estimated with the multi-chain,
split-chain initial-monotone-sequence estimator (Geyer 1992; Vehtari et al.
2021) applied to the series of *batch means* of the indicator. Batching keeps
the long-run variance of the series unchanged, so the estimate stays
consistent, while it lets every radius of a grid be handled from one pass
over the draws (a histogram of the draws' radius bins per batch).
"""

import numpy as np
from scipy import fft as sp_fft

from ._accel import kernel


#: an ``ess`` of at least this stands for "exact" in a curve of a tier without draws (the model
#: tier's ceiling): no effective draws to count, nothing to reach
EXACT_ESS = 1e15

#: half chains of at most this many batches take the compiled direct sums (where numba imports)
MAX_DIRECT_BATCHES = 256


def _next_pow2(n):
    return 1 << int(np.ceil(np.log2(max(n, 1))))


def batch_means_ess(sums, sizes, draw_var=None):
    """ESS of the mean of the underlying draws, from per-batch sums.

    Parameters
    ----------
    sums : ndarray, shape (..., n_chains, n_batches)
        Sum of the indicator within each batch of consecutive draws.
    sizes : ndarray, shape (n_batches,) or broadcastable to ``sums``
        Number of draws in each batch (nearly equal sizes). Per-element and
        per-chain sizes (e.g. the finite draws of each batch when non-finite
        draws are left out) are allowed: a batch with no draws is given the
        overall mean (it adds nothing to the variances, which it lowers by
        about the fraction of batches that hold draws) and the ESS is scaled
        by the square of that fraction.
    draw_var : ndarray, shape (...), optional
        Variance of one draw of the underlying series. Default: ``p (1 - p)``
        with ``p`` the overall mean (a 0/1 indicator). Give it for any other
        series (e.g. a score) whose batch sums are passed.

    Returns
    -------
    ess : ndarray, shape (...)
        Effective sample size of the mean of the draws, capped at the number
        of draws. Where the series has no variance (all batches equal) the
        number of draws is returned.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = (rng.random((4, 1000)) < 0.3).astype(float)
    >>> sums = x.reshape(4, 100, 10).sum(-1)
    >>> bool(3000 < batch_means_ess(sums, np.full(100, 10)) <= 4000)
    True
    """
    sums = np.asarray(sums, dtype=float)
    sizes = np.asarray(sizes, dtype=float)
    # the direct sums cost chains x batches x lags: the FFT wins for long series
    # that stay correlated (the package's calls have at most 64 batches per half chain)
    compiled = kernel("_geyer_rows") if sums.shape[-1] <= 2 * MAX_DIRECT_BATCHES else None
    # the FFT path works in float32 (ample, and twice as fast); the compiled
    # path sums the autocovariances directly, in float64
    dtype = np.float64 if compiled is not None else np.float32
    if sizes.ndim == 1:
        n_total = sizes.sum() * sums.shape[-2]
        mean_all = sums.sum(axis=(-1, -2)) / n_total
        y = (sums * (1.0 / sizes)).astype(dtype, copy=False)
        filled = 1.0
    else:
        sizes = np.broadcast_to(sizes, np.broadcast_shapes(sizes.shape, sums.shape))
        n_total = sizes.sum(axis=(-1, -2))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_all = sums.sum(axis=(-1, -2)) / n_total
            y = np.where(sizes > 0, sums / sizes, mean_all[..., None, None]).astype(dtype, copy=False)
        filled = (sizes > 0).mean(axis=(-1, -2))
    n_b = y.shape[-1]
    half = n_b // 2
    if half < 2:
        raise ValueError("need at least 4 batches per chain to estimate an ESS")
    # split chains: first and last halves (drop the middle batch when odd)
    if n_b % 2:
        y = np.concatenate([y[..., :half], y[..., n_b - half:]], axis=-1)
    y = y.reshape(y.shape[:-2] + (2 * y.shape[-2], half))
    m, s = y.shape[-2], y.shape[-1]
    n_series = m * s
    if compiled is not None:
        lead = y.shape[:-2]
        tau, var_plus = compiled(np.require(y, dtype=float, requirements=["C", "W"]).reshape((-1, m, s)))
        tau, var_plus = tau.reshape(lead), var_plus.reshape(lead)
    else:
        tau, var_plus = _geyer_fft(y)
    ess_y = n_series / tau
    p = mean_all
    v_draw = p * (1 - p) if draw_var is None else np.asarray(draw_var, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = v_draw * ess_y / var_plus
    # an empty batch, given the mean, lowers the series' variance (and so
    # raises ess_y / var_plus) by about the fraction of batches filled, and the
    # draws are that fraction of the series: twice the factor
    ess = ess * filled**2
    ok = np.isfinite(ess) & (var_plus > 0)
    ess = np.where(ok, ess, n_total)
    return np.clip(ess, 1.0, n_total)


def _geyer_fft(y):
    """tau and var_plus of the series ``y`` (..., m split chains, s), autocovariances by FFT (float32)."""
    m, s = y.shape[-2], y.shape[-1]
    chain_mean = y.mean(axis=-1, keepdims=True)
    b_over_n = chain_mean[..., 0].astype(float).var(axis=-1, ddof=1)
    nfft = _next_pow2(2 * s)
    # the centred series, zero-padded to nfft in place (the transform's own
    # padding copies: slower, same numbers)
    centred = np.zeros(y.shape[:-1] + (nfft,), dtype=y.dtype)
    np.subtract(y, chain_mean, out=centred[..., :s])
    # mean over chains of the autocovariances = inverse FFT of the mean power
    # spectrum (one inverse transform per series group; float32 is ample here, and
    # scipy's transforms keep it single precision: twice as fast as numpy's)
    f = sp_fft.rfft(centred, axis=-1)
    power = (f.real**2 + f.imag**2).mean(axis=-2)
    mean_acov = sp_fft.irfft(power, n=nfft, axis=-1)[..., :s].astype(float) / s
    w = mean_acov[..., 0] * s / (s - 1)  # mean within-chain variance
    var_plus = (s - 1) / s * w + b_over_n
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (w[..., None] - mean_acov) / var_plus[..., None]
    rho[..., 0] = 1.0
    n_pairs = s // 2
    pairs = rho[..., 0 : 2 * n_pairs : 2] + rho[..., 1 : 2 * n_pairs : 2]
    positive = np.cumprod(pairs > 0, axis=-1).astype(bool)
    pairs = np.where(positive, pairs, 0.0)
    pairs = np.minimum.accumulate(np.where(positive, pairs, np.inf), axis=-1)
    pairs = np.where(positive, pairs, 0.0)
    tau = -1.0 + 2.0 * pairs.sum(axis=-1)
    tau = np.maximum(tau, 1.0 / np.log10(max(m * s, 10)))
    return tau, var_plus


def indicator_ess(indicator):
    """ESS of a 0/1 (or any) series of shape (..., chain, draw).

    Convenience wrapper over :func:`batch_means_ess` with batches of one draw
    when chains are short, and about 64 batches per chain otherwise.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> ind = rng.random((4, 500)) < 0.5
    >>> bool(1500 < indicator_ess(ind) <= 2000)
    True
    """
    x = np.asarray(indicator, dtype=float)
    n = x.shape[-1]
    n_b = min(n, 128)
    edges = (np.arange(n) * n_b) // n
    sums = np.stack([x[..., edges == j].sum(-1) for j in range(n_b)], axis=-1)
    sizes = np.bincount(edges, minlength=n_b)
    return batch_means_ess(sums, sizes)


def series_ess(x):
    """Effective sample size of the mean of a series of shape (chain, draw).

    Split-chain, initial-monotone-sequence estimator (Geyer 1992; Vehtari et
    al. 2021) for any real-valued series (the batched indicator version is
    :func:`batch_means_ess`). A constant series returns the number of
    draws.

    Parameters
    ----------
    x : array_like, shape (..., chain, draw)

    Returns
    -------
    ndarray, shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> bool(700 < series_ess(rng.normal(size=(4, 200))) <= 800)
    True
    >>> z = np.cumsum(rng.normal(size=(4, 200)), axis=1)   # a random walk: few effective draws
    >>> bool(series_ess(z) < 40)
    True
    """
    x = np.asarray(x, dtype=float)
    c, n = x.shape[-2:]
    total = c * n
    half = n // 2
    if half < 2:
        return np.full(x.shape[:-2], float(total))
    y = np.concatenate([x[..., :half], x[..., n - half:]], axis=-2)
    m, s = y.shape[-2:]
    cm = y.mean(axis=-1, keepdims=True)
    cen = y - cm
    w = (cen**2).sum(axis=-1).mean(axis=-1) / (s - 1)
    b = cm[..., 0].var(axis=-1, ddof=1)
    var_plus = (s - 1) / s * w + b
    nfft = 1 << int(np.ceil(np.log2(2 * s)))
    f = np.fft.rfft(cen, n=nfft, axis=-1)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=-1)[..., :s] / s
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (w[..., None] - acov.mean(axis=-2)) / var_plus[..., None]
    rho[..., 0] = 1.0
    k = s // 2
    pairs = rho[..., 0:2 * k:2] + rho[..., 1:2 * k:2]
    pos = np.cumprod(pairs > 0, axis=-1).astype(bool)
    pairs = np.minimum.accumulate(np.where(pos, pairs, np.inf), axis=-1)
    pairs = np.where(pos, pairs, 0.0)
    tau = np.maximum(-1.0 + 2.0 * pairs.sum(axis=-1), 1.0 / np.log10(max(m * s, 10)))
    ess = (m * s) / tau
    ok = np.isfinite(ess) & (var_plus > 0)
    return np.clip(np.where(ok, ess, total), 1.0, total)
