"""Intervals for proportions estimated from correlated draws."""

import numpy as np
from scipy import special


def beta_interval(p_hat, n_eff, ci_prob):
    """Jeffreys interval for a proportion with an effective sample size.

    The draws behind ``p_hat`` may be autocorrelated; ``n_eff`` is the
    effective sample size of the indicator, so the interval treats
    ``x = p_hat * n_eff`` successes out of ``n_eff`` trials with the Jeffreys
    prior Beta(1/2, 1/2). Ends are clamped to 0 and 1 exactly when ``p_hat``
    is 0 or 1.

    Parameters
    ----------
    p_hat : array_like
        Estimated proportions in [0, 1].
    n_eff : array_like
        Effective sample sizes (> 0), broadcast against ``p_hat``.
    ci_prob : float
        Probability mass of the interval, in (0, 1).

    Returns
    -------
    lower, upper : ndarray

    Examples
    --------
    >>> lo, hi = beta_interval(0.1, 1000, 0.9)
    >>> bool(lo < 0.1 < hi)
    True
    """
    p_hat = np.asarray(p_hat, dtype=float)
    n_eff = np.asarray(n_eff, dtype=float)
    alpha = 1.0 - ci_prob
    x = p_hat * n_eff
    a = x + 0.5
    b = n_eff - x + 0.5
    with np.errstate(invalid="ignore"):
        lower = np.where(p_hat <= 0, 0.0, special.betaincinv(a, b, alpha / 2))
        upper = np.where(p_hat >= 1, 1.0, special.betaincinv(a, b, 1 - alpha / 2))
    return lower, upper


def t_adjusted_n(p_hat, n_eff, ci_prob):
    """Effective sample size shrunk for the uncertainty of an estimated ESS.

    An interval built from an *estimated* ESS is too narrow when that estimate
    is noisy, as it is for a rare event under autocorrelation: its precision
    is governed by the number of effective draws on the rarer side,
    ``df = min(p, 1 - p) * n_eff``. As with Student's t, the ESS is shrunk by
    ``(z / t_df)^2`` at the interval's quantile; the shrinkage vanishes as
    ``df`` grows.

    Examples
    --------
    >>> float(t_adjusted_n(0.5, 1e6, 0.9)) > 0.999e6
    True
    >>> float(t_adjusted_n(0.01, 500, 0.9)) < 450
    True
    """
    p_hat = np.asarray(p_hat, dtype=float)
    n_eff = np.asarray(n_eff, dtype=float)
    q = 0.5 + ci_prob / 2
    df = np.maximum(np.minimum(p_hat, 1 - p_hat) * n_eff, 1.0)
    # (scipy.stats' norm.ppf and t.ppf compute exactly these, after checks df >= 1 and
    # 0 < q < 1 pass here anyway; called per chunk, their checks cost more than the values)
    factor = (special.ndtri(q) / special.stdtrit(df, q)) ** 2
    return n_eff * factor
