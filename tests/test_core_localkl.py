"""Local KL, its regularised form and the phi bounds (pymc_localmass.core.localkl).

Reference values: closed forms (global Gaussian KL, the directional example of
the reference code, an atom against a density), direct quadrature written out
here independently of the module, and Lambert W formulas.
"""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from pymc_localmass.core.localkl import (
    Ball,
    Box,
    Tail,
    Where,
    elbo_blindness_bound,
    local_kl_knn,
    local_kl_mc,
    local_kl_qmc,
    local_kl_quad,
    phi,
    phi_interval_x,
    phi_interval_y,
    reference_mass_interval,
)

P, Q = stats.norm(0.0, 1.0), stats.norm(1.0, 2.0)
KL_PQ = math.log(2.0) + (1.0 + 1.0) / (2 * 4.0) - 0.5  # KL(N(0,1) || N(1,2^2))
KL_QP = -math.log(2.0) + (4.0 + 1.0) / 2.0 - 0.5  # KL(N(1,2^2) || N(0,1))


# ---------------------------------------------------------------------------
# phi


def test_phi_values_and_limits():
    assert phi(0.0, 0.3) == 0.3
    assert phi(0.0, 0.0) == 0.0
    assert phi(0.2, 0.0) == np.inf
    assert phi(0.4, 0.4) == 0.0
    assert phi(0.5, 0.2) == pytest.approx(0.5 * math.log(2.5) - 0.5 + 0.2, rel=1e-14)
    assert np.isnan(phi(-0.1, 0.2))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, 1000), rng.uniform(0, 1, 1000)
    v = phi(x, y)
    assert v.shape == (1000,) and np.all(v >= 0)
    np.testing.assert_allclose(v, x * np.log(x / y) - x + y, rtol=1e-9, atol=1e-15)
    assert phi(np.ones((2, 1)), np.ones(3)).shape == (2, 3)


def test_phi_keeps_precision_near_the_diagonal():
    y = 0.3
    for d in [1e-3, 1e-6, -1e-6, 1e-9]:
        x = y * (1 + d)
        d_exact = (x - y) / y  # the d actually represented
        exact = y * (d_exact**2 / 2 - d_exact**3 / 6 + d_exact**4 / 12)
        assert phi(x, y) == pytest.approx(exact, rel=1e-10)
    naive = (y * (1 + 1e-9)) * math.log(1 + 1e-9) - y * 1e-9  # the textbook formula loses it
    assert abs(naive / (y * 1e-18 / 2) - 1) > 1e-3


# ---------------------------------------------------------------------------
# Lambert W sub-level sets


@pytest.mark.parametrize("x", [1e-300, 1e-9, 1e-3, 0.2, 1.0])
def test_phi_interval_y_ends_solve_the_equation_and_are_monotone(x):
    kappas = np.logspace(-8, 4, 25)  # K / x
    K = kappas * x
    lo, hi = phi_interval_y(x, K)
    ok = lo > 0  # the lower end y <= x exp(-K/x) may underflow to 0, and only then
    assert np.all(ok | (x * np.exp(-kappas) < 1e-300))
    # Relative residual 1e-10. (For K/x < 1e-8 the residual is limited by the
    # rounding of y itself: d phi / d y = 1 - x/y ~ sqrt(2K/x), see docstring.)
    np.testing.assert_allclose(phi(x, hi), K, rtol=1e-10)
    np.testing.assert_allclose(phi(x, lo[ok]), K[ok], rtol=1e-10)
    assert np.all(np.diff(hi) > 0) and np.all(np.diff(lo[ok]) < 0)
    assert np.all((lo <= x) & (x <= hi))
    # points inside the interval satisfy phi < K, outside phi > K
    assert np.all(phi(x, 0.5 * (lo + x)) < K) and np.all(phi(x, hi * 1.01) > K)
    # the closed form through both Lambert W branches
    mid = (kappas > 1e-3) & (kappas < 300)
    z = -np.exp(-1 - kappas[mid])
    np.testing.assert_allclose(lo[mid], -x * special.lambertw(z, 0).real, rtol=1e-9)
    np.testing.assert_allclose(hi[mid], -x * special.lambertw(z, -1).real, rtol=1e-9)


@pytest.mark.parametrize("y", [1e-12, 1e-3, 0.2, 1.0])
def test_phi_interval_x_ends_solve_the_equation(y):
    K = y * np.logspace(-8, 3, 23)
    lo, hi = phi_interval_x(y, K)
    np.testing.assert_allclose(phi(hi, y), K, rtol=1e-10)
    inner = K < y
    np.testing.assert_allclose(phi(lo[inner], y), K[inner], rtol=1e-10)
    assert np.all(lo[~inner] == 0.0)  # phi(0, y) = y <= K
    assert np.all(np.diff(hi) > 0) and np.all(np.diff(lo[inner]) < 0)
    np.testing.assert_allclose(hi, y * np.exp(1 + special.lambertw((K / y - 1) / math.e, 0).real), rtol=1e-9)


def test_phi_interval_degenerate_inputs():
    assert phi_interval_y(0.0, 0.2) == (0.0, 0.2)
    assert phi_interval_y(0.3, 0.0) == (0.3, 0.3)
    assert phi_interval_x(0.0, 0.2) == (0.0, 0.0)
    with pytest.raises(ValueError):
        phi_interval_y(-0.1, 0.2)


def test_reference_mass_interval_contains_truth_and_elbo_blindness():
    A = Ball(0.0, 0.1)
    pA = P.cdf(0.1) - P.cdf(-0.1)
    qA = Q.cdf(0.1) - Q.cdf(-0.1)
    lo, hi = reference_mass_interval(qA, KL_QP)
    assert lo <= pA <= hi
    tight = float(phi(qA, pA)) * 0.999  # a bound below phi(q(A), p(A)) must exclude p(A)
    lo2, hi2 = reference_mass_interval(qA, tight)
    assert not (lo2 <= pA <= hi2)
    assert local_kl_quad(Q.pdf, P.pdf, A).kl <= KL_QP
    # ELBO blindness: a deficit of any ratio costs the reverse KL at most p(A)
    p_mass = 0.08
    q_mass = np.array([0.04, 1e-3, 1e-6, 1e-12, 0.0])
    rev = elbo_blindness_bound(q_mass, p_mass)
    assert np.all(rev <= p_mass) and np.all(np.diff(rev) > 0) and rev[-1] == p_mass
    fwd = phi(p_mass, q_mass)  # the forward direction's bound grows without limit
    assert np.all(np.diff(fwd) > 0) and fwd[-2] > 1.0 and fwd[-1] == np.inf


# ---------------------------------------------------------------------------
# exact local KL by quadrature


def _direct_local_kl(f, g, a, b):
    """int_a^b f log(f/g) - F(A) + G(A), written out independently."""
    val = integrate.quad(lambda x: f(x) * math.log(f(x) / g(x)), a, b, epsabs=1e-14, epsrel=1e-12)[0]
    fa = integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-12)[0]
    ga = integrate.quad(g, a, b, epsabs=1e-14, epsrel=1e-12)[0]
    return val - fa + ga, fa, ga


def test_quadrature_matches_direct_integration_and_decomposes():
    for a, b in [(-0.5, 0.3), (1.0, 2.5), (-3.0, 3.0)]:
        res = local_kl_quad(P.pdf, Q.pdf, Box(a, b))
        exact, fa, ga = _direct_local_kl(P.pdf, Q.pdf, a, b)
        assert res.tier == "quadrature"
        assert res.kl == pytest.approx(exact, rel=1e-9, abs=1e-13)
        assert res.mu_mass == pytest.approx(fa, rel=1e-12) and res.nu_mass == pytest.approx(ga, rel=1e-12)
        # shape term = mu(A) KL(mu_A || nu_A), from the normalised densities
        kl_norm = integrate.quad(lambda x: P.pdf(x) / fa * math.log((P.pdf(x) / fa) / (Q.pdf(x) / ga)), a, b,
                                 epsabs=1e-14, epsrel=1e-12)[0]
        assert res.shape == pytest.approx(fa * kl_norm, rel=1e-8, abs=1e-13)
        assert res.mass_term == pytest.approx(float(phi(fa, ga)), rel=1e-12)
        assert res.kl == pytest.approx(res.shape + res.mass_term, rel=1e-14)
        assert res.kl_lower <= res.kl <= res.kl_upper
        # log densities give the same
        res_log = local_kl_quad(P.logpdf, Q.logpdf, (a, b), log_density=True)
        assert res_log.kl == pytest.approx(res.kl, rel=1e-9)


@pytest.mark.parametrize("c, t", [(0.0, 0.1), (0.2, 0.7), (1.5, 2.0)])
def test_partition_adds_up_to_global_kl_and_bounds_hold(c, t):
    for f, g, total in [(P, Q, KL_PQ), (Q, P, KL_QP)]:
        inner = local_kl_quad(f.pdf, g.pdf, Ball(c, t))
        outer = local_kl_quad(f.logpdf, g.logpdf, Tail(c, t), log_density=True)
        outer_pdf = local_kl_quad(f.pdf, g.pdf, Tail(c, t))  # tails where P's pdf underflows
        assert outer_pdf.kl == pytest.approx(outer.kl, rel=1e-9)
        assert inner.kl + outer.kl == pytest.approx(total, rel=1e-9)
        for part in (inner, outer):
            assert part.mass_term <= part.kl <= total  # phi <= KL_A <= KL
            assert part.shape >= 0
    three = [local_kl_quad(P.pdf, Q.pdf, iv).kl for iv in [(-np.inf, -1.0), (-1.0, 0.5), (0.5, np.inf)]]
    assert sum(three) == pytest.approx(KL_PQ, rel=1e-9)
    union = local_kl_quad(P.pdf, Q.pdf, [(-np.inf, -1.0), (0.5, np.inf)]).kl
    assert union == pytest.approx(three[0] + three[2], rel=1e-10)


def test_regularised_kl_tends_to_local_kl():
    A = Ball(0.3, 0.5)
    base = local_kl_quad(P.pdf, Q.pdf, A).kl
    gaps = np.array([abs(local_kl_quad(P.pdf, Q.pdf, A, eps=e).kl - base) for e in [1e-1, 1e-2, 1e-4, 1e-6]])
    assert np.all(np.diff(gaps) < 0)
    assert gaps[-1] < 1e-5 and gaps[0] > 1e-3  # O(eps): regularisation does move the value


def test_atom_in_p_that_q_lacks():
    w = 0.3
    f = lambda x: (1 - w) * P.pdf(x)  # noqa: E731  continuous part of p = w delta_0 + (1-w) N(0,1)
    A = Ball(0.0, 0.5)
    G = P.cdf(0.5) - P.cdf(-0.5)
    assert local_kl_quad(f, P.pdf, A, mu_atoms={0.0: w}).kl == np.inf
    vals = []
    for eps in [1e-1, 1e-3, 1e-6, 1e-9]:
        res = local_kl_quad(f, P.pdf, A, mu_atoms={0.0: w}, eps=eps)
        # closed form: nu + eps mu has density (1 + eps (1-w)) N(0,1) and an atom eps w at 0
        muA, nuA = w + (1 - w) * G, G + eps * (w + (1 - w) * G)
        exact = (1 - w) * G * math.log((1 - w) / (1 + eps * (1 - w))) + w * math.log(1 / eps) - muA + nuA
        assert np.isfinite(res.kl) and res.kl == pytest.approx(exact, rel=1e-9)
        assert res.nu_mass == pytest.approx(nuA, rel=1e-12)
        vals.append(res.kl)
    assert np.all(np.diff(vals) > 0)  # grows like w log(1/eps): only the regularised form is finite
    # the atom outside the region does not matter; one that q also has is fine
    assert np.isfinite(local_kl_quad(f, P.pdf, Box(1.0, 2.0), mu_atoms={0.0: w}).kl)
    shared = local_kl_quad(f, lambda x: 0.9 * P.pdf(x), A, mu_atoms={0.0: w}, nu_atoms={0.0: 0.1})
    assert np.isfinite(shared.kl) and shared.kl > 0


def test_support_mismatch_is_infinite_unless_regularised():
    p = lambda x: 0.5 if -1 < x < 1 else 0.0  # noqa: E731  U(-1, 1)
    q = lambda x: 0.5 if 0 < x < 2 else 0.0  # noqa: E731  U(0, 2)
    assert local_kl_quad(p, q, Box(-0.5, 0.5), breakpoints=[0.0]).kl == np.inf
    assert local_kl_quad(p, q, Box(0.2, 0.5)).kl == pytest.approx(0.0, abs=1e-14)  # same density there
    eps = 1e-3
    res = local_kl_quad(p, q, Box(-0.5, 0.5), breakpoints=[0.0], eps=eps)
    # [-0.5, 0): 0.5 * 0.5 log(1/eps) ; [0, 0.5]: 0.5 * 0.5 log(1/(1+eps)); minus mu(A) plus (nu+eps mu)(A)
    exact = 0.25 * math.log(1 / eps) + 0.25 * math.log(1 / (1 + eps)) - 0.5 + (0.25 + eps * 0.5)
    assert res.kl == pytest.approx(exact, rel=1e-10)


def test_directional_example_of_reference_code():
    """p = U(-1, 1), q = (1/4)|x|^(-1/2) on (-1, 1), balls at 0.

    p(B_r) = r and q(B_r) = sqrt(r); the shape terms are r (log 2 - 1/2) for
    p||q and sqrt(r) (1 - log 2) for q||p. Normalised as in the reference code
    (each divergence divided by the mass of its *second* argument):
    sqrt(r)(log 2 - 1/2) for p||q and (1 - log 2)/sqrt(r) for q||p -- the
    labelling of the issue is right.
    """
    p = lambda x: 0.5 if -1 < x < 1 else 0.0  # noqa: E731
    q = lambda x: 0.25 / math.sqrt(abs(x)) if (-1 < x < 1 and x != 0) else 0.0  # noqa: E731
    for r in [0.3, 1e-2, 1e-4, 1e-6]:
        pq = local_kl_quad(p, q, Ball(0.0, r), breakpoints=[0.0])
        qp = local_kl_quad(q, p, Ball(0.0, r), breakpoints=[0.0])
        assert pq.mu_mass == pytest.approx(r, rel=1e-10) and pq.nu_mass == pytest.approx(math.sqrt(r), rel=1e-10)
        assert pq.shape / pq.nu_mass == pytest.approx(math.sqrt(r) * (math.log(2) - 0.5), rel=1e-8)
        assert qp.shape / qp.nu_mass == pytest.approx((1 - math.log(2)) / math.sqrt(r), rel=1e-8)
        # normalised by their own first-argument mass, both are r-free constants KL(mu_A || nu_A)
        assert pq.shape / pq.mu_mass == pytest.approx(math.log(2) - 0.5, rel=1e-8)
        assert qp.shape / qp.mu_mass == pytest.approx(1 - math.log(2), rel=1e-8)
        # and swapping the labels would be wrong
        assert abs(pq.shape / pq.nu_mass - (1 - math.log(2)) / math.sqrt(r)) > 0.1


# ---------------------------------------------------------------------------
# d-dimensional boxes by QMC


def test_qmc_box_matches_product_of_quadratures():
    p1, p2 = stats.norm(0, 1), stats.norm(0, 1)
    q1, q2 = stats.norm(0.5, 1.5), stats.norm(-0.3, 0.8)
    lo, hi = np.array([-1.0, -0.5]), np.array([0.5, 1.5])
    # product measures: int_A f log(f/g) = P2(A2) I1 + P1(A1) I2
    r1 = local_kl_quad(p1.pdf, q1.pdf, (lo[0], hi[0]))
    r2 = local_kl_quad(p2.pdf, q2.pdf, (lo[1], hi[1]))
    I1, I2 = r1.kl + r1.mu_mass - r1.nu_mass, r2.kl + r2.mu_mass - r2.nu_mass
    muA, nuA = r1.mu_mass * r2.mu_mass, r1.nu_mass * r2.nu_mass
    exact = r2.mu_mass * I1 + r1.mu_mass * I2 - muA + nuA
    lp = lambda x: p1.logpdf(x[:, 0]) + p2.logpdf(x[:, 1])  # noqa: E731
    lq = lambda x: q1.logpdf(x[:, 0]) + q2.logpdf(x[:, 1])  # noqa: E731
    res = local_kl_qmc(lp, lq, Box(lo, hi), seed=4)
    assert res.tier == "qmc"
    # RQMC with 8 x 8192 points: errors ~1e-8 here; 5 s.e. plus 1e-6 relative slack
    assert abs(res.kl - exact) <= 5 * res.details["kl_se"] + 1e-6 * exact
    assert res.kl_lower <= exact <= res.kl_upper or abs(res.kl - exact) < 1e-7
    assert res.mu_mass == pytest.approx(muA, rel=1e-5) and res.nu_mass == pytest.approx(nuA, rel=1e-5)
    assert res.kl == pytest.approx(res.shape + res.mass_term, rel=1e-14)
    # a boolean region inside the box: the half x0 > 0 of [-1,1]^2 equals the box [0,1]x[-1,1]
    half = local_kl_qmc(lp, lq, Box([-1, -1], [1, 1]), region=Where(lambda x: x[:, 0] > 0), seed=1,
                        n_points=2**14)
    box = local_kl_qmc(lp, lq, Box([0, -1], [1, 1]), seed=1)
    assert half.kl == pytest.approx(box.kl, rel=2e-3)


# ---------------------------------------------------------------------------
# k-nearest neighbours from draws


def test_knn_estimate_agrees_with_quadrature():
    rng = np.random.default_rng(7)
    x, y = rng.normal(0, 1, 20000), rng.normal(1, 2, 20000)
    for region in [Ball(0.2, 0.7), Tail(0.2, 0.7), Box(-np.inf, 0.0)]:
        exact = local_kl_quad(P.pdf, Q.pdf, region)
        res = local_kl_knn(x, y, region)
        assert res.tier == "knn" and res.details["ties"] == 0
        # kNN s.e. here is ~0.005-0.01 (batch spread); 0.03 is >3 s.e. while a
        # wrong direction or a missing mass term misses by > 0.05.
        assert abs(res.kl - exact.kl) < 0.03, (region, res.kl, exact.kl)
        assert res.kl_lower - 0.01 <= exact.kl <= res.kl_upper + 0.01
        assert res.mu_mass == pytest.approx(exact.mu_mass, abs=0.015)
        assert res.kl == pytest.approx(res.shape + res.mass_term, rel=1e-12)
    # same distribution: ~0; 2-D with the global KL of a shifted Gaussian
    same = local_kl_knn(x, rng.normal(0, 1, 20000), Ball(0.0, 1.0))
    assert abs(same.kl) < 0.02
    # KL_A >= 0: the interval ends at 0 however the estimate falls
    assert same.kl_lower >= 0.0 and same.kl_upper > 0.0
    x2 = rng.normal(size=(8000, 2))
    y2 = rng.normal(size=(8000, 2)) + np.array([1.0, 0.0])
    res2 = local_kl_knn(x2, y2)  # 2-D: no warning (see the high-dimension test)
    assert res2.kl == pytest.approx(0.5, abs=0.06)  # KL(N(0,I)||N(m,I)) = |m|^2 / 2


def test_knn_interval_carries_a_bias_allowance_and_warns_in_high_dimension():
    # KL(N(0, I) || N(m, I)) = 1/2 for |m| = 1; in 3-D at 4000 draws the estimator
    # is biased low by about 0.04, more than its batch standard error (about 0.008)
    rng = np.random.default_rng(1)
    m = np.array([1.0, 0.0, 0.0])
    covered = []
    for _ in range(12):
        with pytest.warns(RuntimeWarning, match="biased"):
            res = local_kl_knn(rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3)) + m)
        assert res.details["bias_allowance"] > 0
        half = (res.kl_upper - res.kl_lower) / 2
        assert half > 1.5 * res.details["kl_se"]  # wider than the noise alone
        covered.append(res.kl_lower <= 0.5 <= res.kl_upper)
    # without the allowance the coverage here is about 0.65; with it about 0.8
    assert np.mean(covered) >= 0.5


def test_knn_tolerates_ties_and_reports_them():
    rng = np.random.default_rng(3)
    # a few repeated draws (an MCMC chain staying put) are ties, not an atom: finite
    x = np.concatenate([np.full(5, 0.1), rng.normal(size=3000)])
    res = local_kl_knn(x, rng.normal(size=3000), Ball(0.0, 0.5))
    assert res.details["ties"] >= 4 and np.isfinite(res.kl) and not res.details["atoms"]
    assert res.kl_lower <= res.kl <= res.kl_upper


def test_knn_atom_of_mu_that_nu_lacks_is_infinite():
    # 200 of 3200 draws exactly at 0 (an atom of weight 0.0625) that nu's draws lack: KL_A(mu || nu) = inf,
    # reported as inf with the mass term as its lower end (was a finite, even negative, number)
    rng = np.random.default_rng(3)
    x = np.concatenate([np.zeros(200), rng.normal(size=3000)])
    res = local_kl_knn(x, rng.normal(size=3000), Ball(0.0, 0.5))
    assert res.details["ties"] >= 199 and np.isposinf(res.kl) and np.isposinf(res.kl_upper)
    assert res.details["atoms"] == {(0.0,): pytest.approx(200 / 3200)}
    assert res.kl_lower == pytest.approx(res.mass_term) and res.kl_lower <= res.kl


def test_knn_estimate_always_inside_its_interval():
    # the biased kNN estimate could fall below 0 and outside [lo, hi]; it is raised to the mass term
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x, y = rng.normal(size=600), rng.normal(0.05, 1.0, size=600)
        res = local_kl_knn(x, y, Box(-0.2, 0.2))
        assert res.mass_term <= res.kl and res.kl_lower <= res.kl <= res.kl_upper and res.shape >= 0


def test_region_helpers_and_bad_input():
    assert Tail(1.0, 0.5).intervals() == [(-np.inf, 0.5), (1.5, np.inf)]
    assert list(Ball(np.zeros(2), 1.0).contains(np.array([[0.5, 0.5], [1.0, 1.0]]))) == [True, False]
    assert list(Ball(np.zeros(2), 1.0, norm="max").contains(np.array([[1.0, 1.0]]))) == [True]
    with pytest.raises(ValueError):
        Ball(0.0, 0.0)
    with pytest.raises(ValueError, match="1-D"):
        local_kl_quad(P.pdf, Q.pdf, Box([0, 0], [1, 1]))
    with pytest.raises(ValueError, match="overlap"):
        local_kl_quad(P.pdf, Q.pdf, [(0.0, 1.0), (0.5, 2.0)])
    with pytest.raises(ValueError, match="eps"):
        local_kl_quad(P.pdf, Q.pdf, Box(0, 1), eps=-1.0)
    with pytest.raises(ValueError, match="finite box"):
        local_kl_qmc(P.logpdf, Q.logpdf, Box(-np.inf, 0.0))
    with pytest.raises(ValueError, match="same d"):
        local_kl_knn(np.zeros((10, 2)), np.zeros((10, 3)))


def test_knn_warns_where_the_second_draws_do_not_reach():
    # KL_A(q || p) on the tails |x| > 1.5, q = N(0.5, 2), p = N(0, 1): many of q's tail draws
    # lie beyond all of p's, where p's density is unseen: the estimate is biased low, said
    from pymc_localmass.compare import Tail
    from pymc_localmass.core.localkl import local_kl_knn

    rng = np.random.default_rng(0)
    x, y = rng.normal(0.5, 2.0, size=(20000, 1)), rng.normal(0.0, 1.0, size=(20000, 1))
    with pytest.warns(RuntimeWarning, match="lie beyond the range of the second's.*biased low"):
        res = local_kl_knn(x, y, Tail(0.0, 1.5))
    assert res.details["uncovered_fraction"] > 0.05
    # where p's density is unseen the draws allow any KL above the lower end: open above
    assert np.isposinf(res.kl_upper) and res.kl_lower <= res.kl < np.inf
    # the forward direction on the same region is covered: no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fwd = local_kl_knn(y, x, Tail(0.0, 1.5))
    assert fwd.details["uncovered_fraction"] < 0.01


def test_interval_from_draws_stays_at_or_above_zero():
    # p = q: KL_A = 0; the Monte Carlo estimate scatters around 0, and its
    # interval used to end below 0 (or be inverted: [0, -0.007])
    for seed in range(40):
        rng = np.random.default_rng(seed)
        lp = lambda x: P.logpdf(x[:, 0])  # noqa: E731
        res = local_kl_mc(lp, lp, rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1)), Ball(0.0, 1.0))
        assert 0.0 <= res.kl_lower < res.kl_upper
        # an estimate below 0 (noise around 0) still gets an interval of its own width above 0
        half = 0.5 * (res.details["kl_se"] * 2 * stats.norm.ppf(0.97))
        assert res.kl_upper >= half * (1 - 1e-12)


def test_knn_infinite_draws_are_mass_beyond_the_float_range():
    # a collapsed fit's transform overflows: some draws are +-inf. They count in n and m and
    # in the masses of A, are nobody's neighbour, and so give exactly what draws at a huge finite
    # value give (never a neighbour of a point in A, outside A); this raised "draws must be finite"
    rng = np.random.default_rng(5)
    x = rng.normal(size=3000)
    y = rng.normal(0.2, 1.0, size=3000)
    y_inf, y_big = y.copy(), y.copy()
    y_inf[::7], y_big[::7] = np.inf, 1e300
    y_inf[3::11], y_big[3::11] = -np.inf, -1e300
    for region in (Box(-1.0, 1.0), Ball(0.5, 0.3)):
        for a, b in ((x, y_inf), (y_inf, x)):
            res = local_kl_knn(a, b, region)
            ref = local_kl_knn(a, np.where(np.isinf(b), np.sign(b) * 1e300, b) if b is y_inf else b,
                               region) if a is x else local_kl_knn(y_big, x, region)
            assert res.kl == ref.kl and res.kl_lower == ref.kl_lower and res.kl_upper == ref.kl_upper
            assert np.isfinite(res.kl) and res.kl_lower <= res.kl <= res.kl_upper
    res = local_kl_knn(x, y_inf, Box(-1.0, 1.0))
    assert res.details["n_nu_infinite"] == int(np.isinf(y_inf).sum()) and res.details["n_mu_infinite"] == 0
    # the masses of A count the infinite draws in the total
    assert res.nu_mass == pytest.approx(np.mean((y_inf >= -1) & (y_inf <= 1)))
    # NaN is not a value: refused, naming the side
    with pytest.raises(ValueError, match="y \\(the second distribution\\) contain NaN"):
        local_kl_knn(x, np.where(np.arange(3000) == 4, np.nan, y), Box(-1.0, 1.0))


def test_knn_infinite_draws_of_mu_inside_the_region_allow_every_value():
    # mu's draws at infinity inside a tail: their density ratio is unknown, so the estimate is
    # NaN and its interval [phi(mu(A), nu(A)), inf], said in a warning (not a confident number)
    rng = np.random.default_rng(6)
    x = rng.normal(size=3000)
    x[::50] = np.inf  # 60 draws at +inf, 60 at -inf: 2% each, so atoms (>= 10 repeats, >= 1%)
    x[1::50] = -np.inf
    with pytest.warns(RuntimeWarning, match="beyond the range"):
        res = local_kl_knn(x, rng.normal(size=3000), Tail(0.0, 2.0))
    # repeated infinite values are atoms nu lacks: KL_A = inf, with the mass term as the lower end
    assert res.details["atoms"] == {(np.inf,): pytest.approx(0.02), (-np.inf,): pytest.approx(0.02)}
    assert np.isposinf(res.kl) and np.isposinf(res.kl_upper) and res.kl_lower == pytest.approx(res.mass_term)
    x2 = rng.normal(size=3000)
    x2[:3] = [np.inf, -np.inf, np.inf]  # too few to be an atom
    with pytest.warns(RuntimeWarning, match="3 of the first distribution's draws in the region are infinite"):
        res2 = local_kl_knn(x2, rng.normal(size=3000), Tail(0.0, 2.0))
    assert np.isnan(res2.kl) and np.isposinf(res2.kl_upper) and res2.kl_lower == pytest.approx(res2.mass_term)


def test_knn_one_dimension_reaches_the_whole_float_range():
    # distances in one dimension are |x - y| (the squared norm under- and overflowed: draws at
    # 1e-300 were "ties" and draws at 1e200 had no finite neighbour, which raised)
    rng = np.random.default_rng(7)
    base = rng.normal(size=2000)
    for scale in (1e-300, 1e200):
        x, y = base * scale, rng.normal(size=2000) * scale
        res = local_kl_knn(x, y, Box(-scale, scale))
        ref = local_kl_knn(base, y / scale, Box(-1.0, 1.0))
        # scale-free estimator: the same number up to rounding of the scaled draws
        assert res.kl == pytest.approx(ref.kl, rel=1e-9, abs=1e-12)


def test_knn_interval_holds_the_kl_where_the_second_draws_do_not_reach_the_region():
    # p = half-normal, q = log-normal with log-sd 0.25 (an approximation collapsed away from 0):
    # KL_A(p || q) on [0, 0.6] is 14.6, and q's draws begin near 0.4. From 4,000 draws of each the
    # kNN tier read 2.3 [1.5, 3.1], and on [0, 0.1] and [0, 0.3], holding no draw of q, "inf [inf,
    # inf]" (the mass term at the plug-in q(A) = 0), though KL_A is 8.5 and 12.9. The draws bound
    # it from below only: every interval holds the exact value, and is open above
    from scipy import stats as st

    import warnings

    p, q = st.halfnorm(), st.lognorm(s=0.25, scale=np.exp(0.3))
    rng = np.random.default_rng(0)
    x, y = p.rvs(4000, random_state=rng), q.rvs(4000, random_state=rng)
    for hi in (0.1, 0.3, 0.6):
        exact = local_kl_quad(p.pdf, q.pdf, Box(0.0, hi)).kl
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = local_kl_knn(x, y, Box(0.0, hi))
        assert 0 < res.kl_lower <= exact and np.isposinf(res.kl_upper), (hi, exact, res)
        assert res.kl_lower <= res.kl < np.inf and np.isfinite(res.mass_term) and np.isfinite(res.shape)
        assert res.kl == pytest.approx(res.shape + res.mass_term)
    # autocorrelated draws of q (AR(0.95), the same log-normal marginal) see [0, 0.1] less often than
    # their number says: the bound on q's mass there is wider, the lower end lower, and still below
    z = np.empty(4000)
    z[0] = 0.0
    for t in range(1, 4000):
        z[t] = 0.95 * z[t - 1] + np.sqrt(1 - 0.95**2) * rng.normal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        iid = local_kl_knn(x, y, Box(0.0, 0.1))
        ar = local_kl_knn(x, np.exp(0.3 + 0.25 * z), Box(0.0, 0.1))
    assert ar.details["nu_mass_bound"] > 5 * iid.details["nu_mass_bound"]
    assert ar.mass_term < iid.mass_term and 0 < ar.kl_lower <= 8.5 and np.isposinf(ar.kl_upper)
    # a region both sides' draws cover keeps a closed interval
    same = local_kl_knn(x, p.rvs(4000, random_state=rng), Box(0.0, 0.6))
    assert np.isfinite(same.kl_upper) and same.kl_lower <= 0.05
