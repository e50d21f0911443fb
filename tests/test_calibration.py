"""Calibration of the intervals, by replicates through the public path.

A green suite must mean that intervals are sized right, not only that point
values are. Every test here draws many independent replicates of a case with
an exact answer, as the elements of one variable (``{"x": (chain, draw, rep)}``:
elements are computed independently, so one call gives all replicates), and
checks, against the nominal ``ci_prob`` of the installed ArviZ (0.89 in 1.x,
0.94 in 0.2x, read from the results' attrs):

* coverage, two-sided, per band of radii (and per autocorrelation);
* interval width against the width the *exact* effective number of draws
  gives (so an interval cannot pass by being narrow and lucky, or wide);
* bias of the point estimate, where the estimator is unbiased or nearly so.

How the limits are set (the Monte Carlo error of the test itself). With ``n``
independent replicates, a coverage estimate at the nominal level ``p`` has
standard error ``sqrt(p (1 - p) / n)``; averaging over the radii of a band
(which are positively correlated within a replicate) can only lower it. Each
coverage limit is nominal +- 4 of those standard errors (a false alarm
probability below 1e-4 per check). Widths are compared through the median over
replicates of the ratio to the reference width: the ratio scatters by at most
about 15% between replicates, so with 1000 replicates the median is known to
about 1% and the limits 0.9 and 1.25 are statements about the interval: at
0.89 an interval 0.9x too narrow covers about 0.86, one 1.25x too wide about
0.95, i.e. about as far out as the coverage limits.

All draws are seeded; the suite is deterministic. Marked ``slow`` (still run by
``make test``); about 30-60 s in all per generation on 2 cores.
"""

import warnings

import numpy as np
import pytest
from scipy import special, stats

import pymc_localmass as plm

from cases import all_cases, gaussian_copula

pytestmark = pytest.mark.slow

CASES = {c.name: c for c in all_cases()}
CHAINS, DRAWS = 4, 1000


# ----------------------------------------------------------------------------- helpers
def _coverage_halfwidth(ci, n):
    """4 Monte Carlo standard errors of a coverage estimate from n replicates at level ci."""
    return 4.0 * np.sqrt(ci * (1.0 - ci) / n)


def _ar1(rng, reps, rho):
    """Standard normal chains (reps, chain, draw), stationary AR(1) with lag-1 autocorrelation rho."""
    z = rng.standard_normal((reps * CHAINS, DRAWS))
    if rho:
        s = np.sqrt(1.0 - rho**2)
        for t in range(1, DRAWS):
            z[:, t] = rho * z[:, t - 1] + s * z[:, t]
    return z.reshape(reps, CHAINS, DRAWS)


def _var_of_fraction(lo, hi, rho, chains=CHAINS, draws=DRAWS):
    """Exact variance of the fraction of draws with z in [lo, hi] (stationary Gaussian AR(1) chains).

    The lag-k covariance of the indicator is P(both in [lo, hi]) - p^2 under a
    bivariate normal with correlation rho^k, one Gauss-Legendre integral per lag.
    """
    p = special.ndtr(hi) - special.ndtr(lo)
    gamma = [p * (1.0 - p)]
    if rho:
        x, w = np.polynomial.legendre.leggauss(400)
        a, b = max(lo, -9.0), min(hi, 9.0)
        z = 0.5 * (b - a) * x + 0.5 * (b + a)
        w = 0.5 * (b - a) * w * stats.norm.pdf(z)
        for k in range(1, draws):
            r = rho**k
            if r < 1e-13:
                break
            s = np.sqrt(1.0 - r * r)
            both = np.sum(w * (special.ndtr((hi - r * z) / s) - special.ndtr((lo - r * z) / s)))
            gamma.append(both - p * p)
    gamma = np.asarray(gamma)
    lags = np.arange(gamma.size)
    total = draws * gamma[0] + 2.0 * np.sum((draws - lags[1:]) * gamma[1:])
    return total / draws**2 / chains, p


def _reference_width(lo, hi, rho, ci):
    """Width of the Jeffreys interval with the exact effective number of draws (scipy, not our code)."""
    var, p = _var_of_fraction(lo, hi, rho)
    n_eff = p * (1 - p) / var
    a, b = p * n_eff + 0.5, (1 - p) * n_eff + 0.5
    return stats.beta.ppf(0.5 + ci / 2, a, b) - stats.beta.ppf(0.5 - ci / 2, a, b)


def _stat(res, label):
    return res["x"].isel(center=0).sel(local_stat=label).values  # (rep, radius)


def _istat(idx, label):
    return idx["x"].isel(center=0).sel(index_stat=label).values  # (rep,)


# ----------------------------------------------------------------------------- mass intervals (samples tier)
MASS_LEVELS = np.array([0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7])
BANDS = {"rare (m <= 0.02)": MASS_LEVELS <= 0.02,
         "middle (0.05-0.2)": (MASS_LEVELS >= 0.05) & (MASS_LEVELS <= 0.2),
         "bulk (m >= 0.35)": MASS_LEVELS >= 0.35}
MASS_REPS = 1000


def _mass_case(case, rng, rho):
    """Draws (rep, chain, draw) of a 1-D case, its radii for MASS_LEVELS and the z-interval of each ball."""
    z = _ar1(rng, MASS_REPS, rho)
    if case == "normal_center":  # N(0, 1) at its centre: the ball is a central z-interval
        q = special.ndtri(0.5 + MASS_LEVELS / 2)
        return z, q, [(-v, v) for v in q]
    # half-normal at its end 0 (a boundary): the ball [0, r] is the lower z-tail z <= Phi^-1(m)
    x = special.ndtri(0.5 + special.ndtr(z) / 2)
    radii = special.ndtri(0.5 + MASS_LEVELS / 2)
    return x, radii, [(-np.inf, special.ndtri(m)) for m in MASS_LEVELS]


@pytest.mark.parametrize("rho", [0.0, 0.9])
@pytest.mark.parametrize("case", ["normal_center", "halfnormal_end"])
def test_mass_interval_coverage_and_width(case, rho):
    # 1000 replicates of 4 chains x 1000 draws, one local_mass call; exact masses
    # at nine radii in three bands (20 to 2800 draws inside)
    rng = np.random.default_rng([18, int(rho * 10), len(case)])
    x, radii, zint = _mass_case(case, rng, rho)
    res = plm.local_mass({"x": np.moveaxis(x, 0, -1)}, centers=0.0, radii=radii)
    ci = res.attrs["ci_prob"]
    lo, hi, m = _stat(res, "mass_lower"), _stat(res, "mass_upper"), _stat(res, "mass")
    np.testing.assert_array_equal(_stat(res, "radius")[0], radii)
    covered = (lo <= MASS_LEVELS) & (MASS_LEVELS <= hi)
    tol = _coverage_halfwidth(ci, MASS_REPS)  # 0.040 at 0.89, 0.030 at 0.94
    for band, sel in BANDS.items():
        cov = covered[:, sel].mean()
        assert abs(cov - ci) <= tol, f"{case}, rho {rho}, {band}: coverage {cov:.3f}, nominal {ci} +- {tol:.3f}"
    # width against the exact effective-draw binomial width, radius by radius
    ref = np.array([_reference_width(a, b, rho, ci) for a, b in zint])
    ratio = np.median((hi - lo) / ref, axis=0)
    assert np.all(ratio >= 0.9), f"{case}, rho {rho}: median width / effective-draw width {np.round(ratio, 3)}"
    assert np.all(ratio <= 1.25), f"{case}, rho {rho}: median width / effective-draw width {np.round(ratio, 3)}"
    # the mass estimate is unbiased: its mean over replicates is within 4 standard errors
    se = np.sqrt(np.array([_var_of_fraction(a, b, rho)[0] for a, b in zint]) / MASS_REPS)
    assert np.all(np.abs(m.mean(axis=0) - MASS_LEVELS) <= 4 * se)


@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_slope_interval_coverage(rho):
    # the finite-radius slope between r_(j-1) and r_(j+1) against the exact finite
    # difference of log m (N(0, 1) at 0). Independent draws: two-sided, nominal +- 4
    # s.e. Under lag-1 autocorrelation 0.9 the slope intervals are conservative
    # (coverage 0.93-1.0 at nominal 0.89: the ESS of the ball indicator stands in for
    # that of the ratio m_in / m_out, which is larger): only the lower limit holds
    rng = np.random.default_rng([18, 7, int(rho * 10)])
    z = _ar1(rng, MASS_REPS, rho)
    radii = special.ndtri(0.5 + MASS_LEVELS / 2)
    res = plm.local_mass({"x": np.moveaxis(z, 0, -1)}, centers=0.0, radii=radii)
    ci = res.attrs["ci_prob"]
    j = np.arange(1, MASS_LEVELS.size - 1)
    exact = (np.log(MASS_LEVELS[j + 1]) - np.log(MASS_LEVELS[j - 1])) / (np.log(radii[j + 1]) - np.log(radii[j - 1]))
    s, s_lo, s_hi = (_stat(res, k)[:, j] for k in ("slope", "slope_lower", "slope_upper"))
    covered = (s_lo <= exact) & (exact <= s_hi)
    tol = _coverage_halfwidth(ci, MASS_REPS)
    for band, sel in BANDS.items():
        cov = covered[:, sel[j]].mean()
        assert cov >= ci - tol, f"rho {rho}, {band}: slope coverage {cov:.3f}, nominal {ci} - {tol:.3f}"
        if rho == 0:
            assert cov <= ci + tol, f"rho {rho}, {band}: slope coverage {cov:.3f}, nominal {ci} + {tol:.3f}"
    # the point slope: the median over replicates within 4 of its standard errors
    # (1.2533 sd / sqrt(n) for a median) of the exact finite difference
    se_med = 1.2533 * s.std(axis=0) / np.sqrt(MASS_REPS)
    assert np.all(np.abs(np.median(s, axis=0) - exact) <= 4 * se_med)


# ----------------------------------------------------------------------------- atoms
@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_atom_weight_coverage_bias_and_width(rho):
    # w delta_0 + (1 - w) N(0, 1), w = 0.3: the atom's indicator is the central
    # z-interval of probability 0.3, so its exact effective draws are known.
    # (Lag-1 autocorrelation 0.9 found the atom's ESS computed from 0/1 per batch
    # instead of tie counts: coverage 0.63 at nominal 0.89.)
    case = CASES["atom0.3_normal"]
    w = case.atom
    rng = np.random.default_rng([18, 3, int(rho * 10)])
    u = special.ndtr(_ar1(rng, MASS_REPS, rho))
    x = case.ppf(u)
    idx = plm.mass_index({"x": np.moveaxis(x, 0, -1)}, centers=0.0)
    ci = idx.attrs["ci_prob"]
    at, lo, hi = _istat(idx, "atom"), _istat(idx, "atom_lower"), _istat(idx, "atom_upper")
    assert np.all(_istat(idx, "a") == 0)
    cov = np.mean((lo <= w) & (w <= hi))
    tol = _coverage_halfwidth(ci, MASS_REPS)
    assert abs(cov - ci) <= tol, f"rho {rho}: atom coverage {cov:.3f}, nominal {ci} +- {tol:.3f}"
    zlo, zhi = special.ndtri((1 - w) / 2), special.ndtri((1 + w) / 2)
    var, _ = _var_of_fraction(zlo, zhi, rho)
    # unbiased (the fraction of ties): mean within 4 exact standard errors (0.0002 / 0.0004),
    # so a 6% bias (0.018) is far outside
    assert abs(at.mean() - w) <= 4 * np.sqrt(var / MASS_REPS)
    ratio = np.median((hi - lo) / _reference_width(zlo, zhi, rho, ci))
    assert 0.9 <= ratio <= 1.25, f"rho {rho}: median atom width / effective-draw width {ratio:.3f}"


# ----------------------------------------------------------------------------- the polynomial index a
A_CASES = ["normal_1d_mean", "normal_3d_mean", "normal_3d_offmean", "gamma1.5_zero", "sqrt_density_zero",
           "uniform_end", "beta0.5_zero",
           pytest.param("gamma3.5_zero", marks=pytest.mark.xfail(
               strict=True, reason="known: at 4000 independent draws a of Gamma(3.5) at 0 is 5% low (its "
                                   "interval, with both curvature orders, holds 3.5 in 97% of replicates)"))]
A_REPS = 600
# the estimator's own finite-sample bias at 4000 draws, measured over 400-1000 replicates:
# at most 1.7% (normal_3d_mean, gamma1.5_zero); the allowance is 2% plus 4 Monte Carlo
# standard errors of the median of A_REPS replicates (about 0.2% each)
A_BIAS_ALLOWANCE = 0.02


def _index_replicates(case, rho, reps=A_REPS):
    rng = np.random.default_rng([18, 11, int(rho * 10), len(case.name)])
    u = gaussian_copula(rng, (reps, case.dim, CHAINS, DRAWS), rho)
    X = case.ppf(u)
    if case.dim == 1:  # the public path: replicates are the elements of one variable
        idx = plm.mass_index({"x": np.moveaxis(X[:, 0], 0, -1)}, centers=float(case.center[0]))
        return {k: _istat(idx, k) for k in ("a", "a_lower", "a_upper")}, idx.attrs["ci_prob"]
    # joint balls: the distances of each replicate, as local_mass(joint=True) computes them
    from pymc_localmass._compat import default_ci_prob
    from pymc_localmass.core.curves import INDEX_STATS, local_mass_curves

    c = np.asarray(case.center, float).reshape(1, -1, 1, 1)
    d = np.sqrt(((X - c) ** 2).sum(axis=1))
    scale = np.sqrt(X.var(axis=(2, 3), ddof=1).sum(axis=1))
    ci = default_ci_prob()
    _, idx = local_mass_curves(d, scale, boundary=np.zeros(reps, bool), ci_prob=ci)
    return {k: idx[:, INDEX_STATS.index(k)] for k in ("a", "a_lower", "a_upper")}, ci


@pytest.mark.parametrize("name", A_CASES)
def test_polynomial_index_bias_and_two_sided_coverage(name):
    # independent chains, 600 replicates of 4 x 1000 draws. The intervals of a are
    # conservative by design (they hold the window choice and the log term), so
    # coverage is above nominal (0.93-0.97 at 0.89); what must hold is each tail:
    # the interval misses low, and misses high, no more often than (1 - ci) / 2 + 4 s.e.
    # A shifted estimate (a 5% bias) shows up in one tail and in the median.
    case = CASES[name]
    est, ci = _index_replicates(case, 0.0)
    a, a_lo, a_hi = est["a"], est["a_lower"], est["a_upper"]
    # (a replicate whose interval is [0, inf] is unresolved, a = NaN: Gamma(1.5) at 0 had one of
    # 600 "ok" with a = 1.7 [0, inf]; such rows hold the truth, and the bias is of the others)
    read = np.isfinite(a)
    assert read.mean() >= 0.99 and np.all((a_lo[~read] == 0) & np.isposinf(a_hi[~read]))
    a = a[read]
    tail = (1 - ci) / 2
    tol = 4 * np.sqrt(tail * (1 - tail) / A_REPS)  # 0.037 at 0.89, 0.028 at 0.94
    miss_low, miss_high = np.mean(a_hi < case.a), np.mean(a_lo > case.a)
    assert miss_low <= tail + tol, f"{name}: a's interval below a = {case.a} in {miss_low:.3f}"
    assert miss_high <= tail + tol, f"{name}: a's interval above a = {case.a} in {miss_high:.3f}"
    rel = a / case.a - 1
    iqr = np.subtract(*np.percentile(rel, [75, 25]))
    se_median = 1.2533 * iqr / 1.349 / np.sqrt(A_REPS)
    bias = np.median(rel)
    assert abs(bias) <= A_BIAS_ALLOWANCE + 4 * se_median, \
        f"{name}: median relative error of a {bias:+.4f} (limit {A_BIAS_ALLOWANCE + 4 * se_median:.4f})"


@pytest.mark.parametrize("name", ["normal_1d_mean", "gamma3.5_zero", "uniform_end", "beta0.5_zero"])
def test_polynomial_index_coverage_autocorrelated(name):
    # lag-1 autocorrelation 0.9: the intervals are wider still (coverage 0.98-1.0 at
    # 0.89, while the estimate's spread is about that of independent draws); each
    # tail's miss rate must stay within its nominal share + 4 s.e.
    case = CASES[name]
    est, ci = _index_replicates(case, 0.9, reps=300)
    tail = (1 - ci) / 2
    tol = 4 * np.sqrt(tail * (1 - tail) / 300)
    assert np.mean(est["a_upper"] < case.a) <= tail + tol
    assert np.mean(est["a_lower"] > case.a) <= tail + tol


def test_boundary_index_keeps_its_coverage_with_many_draws():
    # the windows are fixed shares of the draws, so a curvature order the fit lacks biases a by
    # the same amount at any number of draws while the standard error shrinks: at 4 x 10,000
    # draws the half-normal at 0 (curving like r^2) read intervals excluding 1 in 19% of
    # replicates and Gamma(2) at 0 excluded 2 in 28% (pooled 23.5%, nominal 11%). The interval
    # now holds the fit with both orders too (core.index._boundary_order_hull): about 4%, so
    # the nominal 11% is 5 standard errors away (old: 13-28%, 2-8 standard errors above it)
    rng = np.random.default_rng(21)
    reps = 150
    miss = []
    for draw, truth in ((lambda s: np.abs(rng.normal(size=s)), 1.0), (lambda s: rng.gamma(2.0, size=s), 2.0)):
        idx = plm.mass_index({"x": draw((4, 10_000, reps))}, centers=0.0)["x"].isel(center=0)
        lo, hi = idx.sel(index_stat="a_lower").values, idx.sel(index_stat="a_upper").values
        miss.append((lo > truth) | (hi < truth))
    rate = np.mean(miss)
    assert rate <= 0.11, f"boundary intervals miss in {rate:.3f} (nominal 0.11)"


def test_interior_index_keeps_its_coverage_where_the_slope_rises():
    # off the mode the ball's slope rises like cosh (1 + (m^2 - 1) r^2 / 3 + ..., m sds from the
    # mode), more than the quadratic term follows over the wide windows: a normal 1.5 sd out and
    # 0.3 N(-1.5, 1) + 0.7 N(1.5, 1) at 0 missed a = 1 in 13.5-14.5% of 400 replicates (nominal
    # 11%). The interval now holds the fit with the quartic term too: 4-6%
    rng = np.random.default_rng(23)
    reps = 200
    miss = []
    for center, draw in ((1.5, lambda s: rng.normal(size=s)),
                         (0.0, lambda s: np.where(rng.random(s) < 0.3, -1.5, 1.5) + rng.normal(size=s))):
        idx = plm.mass_index({"x": draw((4, 1000, reps))}, centers=center)["x"].isel(center=0)
        lo, hi = idx.sel(index_stat="a_lower").values, idx.sel(index_stat="a_upper").values
        ok = idx.sel(index_stat="status").values == 0
        miss.append(ok & ((lo > 1.0) | (hi < 1.0)))
    rate = np.mean(miss)
    assert rate <= 0.11, f"interior intervals miss in {rate:.3f} (nominal 0.11)"


CURVE_CASES = [("normal_1d_mean", 0.9), ("normal_1d_mean", 0.0), ("uniform_end", 0.0), ("beta0.5_zero", 0.9),
               ("gamma1.5_zero", 0.0)]
CURVE_REPS = 200
#: the curve fit's own bias, measured over 100-200 replicates: at most 1.6% (normal at its
#: mean, autocorrelated); the allowance is 3% plus 4 Monte Carlo standard errors of the median
CURVE_BIAS_ALLOWANCE = 0.03


@pytest.mark.parametrize("name,rho", CURVE_CASES)
def test_index_of_curves_of_draws_bias_and_coverage(name, rho):
    # mass_index(local_mass(...)): the index fitted from the curves of draws, whose radii
    # reach one sd. Before the fit modelled a smooth density's curvature it read N(0, 1) at
    # its mean 6% low under autocorrelation 0.9 (interval below 1 in 45% of replicates) and
    # Gamma(2) at 0 as 2.9; each tail's miss rate must stay within its nominal share + 4 s.e.
    case = CASES[name]
    rng = np.random.default_rng([25, 12, int(rho * 10), len(case.name)])
    X = case.ppf(gaussian_copula(rng, (CURVE_REPS, 1, CHAINS, DRAWS), rho))[:, 0]
    curves = plm.local_mass({"x": np.moveaxis(X, 0, -1)}, centers=float(case.center[0]))
    idx = plm.mass_index(curves)
    a, a_lo, a_hi = (_istat(idx, k) for k in ("a", "a_lower", "a_upper"))
    assert np.all(np.isfinite(a))
    tail = (1 - idx.attrs["ci_prob"]) / 2
    tol = 4 * np.sqrt(tail * (1 - tail) / CURVE_REPS)
    assert np.mean(a_hi < case.a) <= tail + tol, f"{name}: below a = {case.a} in {np.mean(a_hi < case.a):.3f}"
    assert np.mean(a_lo > case.a) <= tail + tol, f"{name}: above a = {case.a} in {np.mean(a_lo > case.a):.3f}"
    rel = a / case.a - 1
    se_median = 1.2533 * np.subtract(*np.percentile(rel, [75, 25])) / 1.349 / np.sqrt(CURVE_REPS)
    assert abs(np.median(rel)) <= CURVE_BIAS_ALLOWANCE + 4 * se_median, f"{name}: median bias {np.median(rel):+.4f}"


# ----------------------------------------------------------------------------- model tier
MODEL_RADII = np.array([1e-4, 0.3, 1.0, 2.5])
MODEL_BANDS = {"small (r <= 0.3)": MODEL_RADII <= 0.3, "large (r >= 1)": MODEL_RADII >= 1.0}


def test_model_tier_rao_blackwell_coverage_and_width():
    # tau_k ~ Gamma(3, 2), mu_k ~ N(0, 1 / sqrt(tau_k)), k = 1..40 independent copies
    # (no data): each mu_k's marginal is Student t(6, scale sqrt(2/3)), and, unpaired,
    # the tier averages the conditional masses g(tau) = 2 Phi(r sqrt(tau)) - 1 over
    # 4 x 25 independent draws of tau. The estimator's exact sd is
    # sd_tau(g) / sqrt(100) (one Gamma integral). 4 calls x 40 elements = 160 replicates:
    # coverage per band within nominal +- 4 s.e. (0.099 at 0.89), the median width
    # within 0.85-1.2 of 2 z sd (the t quantile at ~99 df adds 1%; the estimated sd
    # scatters by ~10% per replicate, so the median of 160 is known to ~1%)
    import pymc as pm

    from conftest import make_container
    from pymc_localmass.tiers.model import model_local_mass

    K, n_calls, nd = 40, 4, 25
    a0, b0 = 3.0, 2.0
    with pm.Model() as model:
        tau = pm.Gamma("tau", alpha=a0, beta=b0, shape=K)
        pm.Normal("mu", 0.0, sigma=1 / pm.math.sqrt(tau), shape=K)
    marginal = stats.t(2 * a0, scale=np.sqrt(b0 / a0))
    exact = marginal.cdf(MODEL_RADII) - marginal.cdf(-MODEL_RADII)
    gam = stats.gamma(a0, scale=1 / b0)
    second = np.array([gam.expect(lambda t, r=r: (2 * special.ndtr(r * np.sqrt(t)) - 1) ** 2) for r in MODEL_RADII])
    sd_exact = np.sqrt((second - exact**2) / (4 * nd))
    rng = np.random.default_rng(1806)
    lo, hi, m = [], [], []
    for _ in range(n_calls):
        t = rng.gamma(a0, 1 / b0, size=(4, nd, K))
        idata = make_container(posterior={"tau": t, "mu": rng.normal(size=t.shape) / np.sqrt(t)})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res, _ = model_local_mass(idata, model, var_names=["mu"], centers=0.0, radii=MODEL_RADII, pair=None,
                                      progressbar=False)
        ci = res.attrs["ci_prob"]
        v = res["mu"].isel(center=0)
        lo.append(v.sel(local_stat="mass_lower").values)
        hi.append(v.sel(local_stat="mass_upper").values)
        m.append(v.sel(local_stat="mass").values)
    lo, hi, m = (np.concatenate(v) for v in (lo, hi, m))
    n = lo.shape[0]
    covered = (lo <= exact) & (exact <= hi)
    tol = _coverage_halfwidth(ci, n)
    for band, sel in MODEL_BANDS.items():
        cov = covered[:, sel].mean()
        assert abs(cov - ci) <= tol, f"model tier, {band}: coverage {cov:.3f}, nominal {ci} +- {tol:.3f}"
    z = stats.norm.ppf(0.5 + ci / 2)
    ratio = np.median((hi - lo) / (2 * z * sd_exact), axis=0)
    assert np.all((ratio >= 0.85) & (ratio <= 1.2)), f"model tier: median width / exact {np.round(ratio, 3)}"
    # unbiased: the mean over replicates within 4 standard errors
    assert np.all(np.abs(m.mean(axis=0) - exact) <= 4 * sd_exact / np.sqrt(n))
