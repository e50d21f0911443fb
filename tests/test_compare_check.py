"""compare(), local_kl() and check(): exact figures, directional bounds, findings, bad input."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from pymc_localmass._compat import MODERN, get_group
from pymc_localmass.adapters import to_dataset
from pymc_localmass.adapters.approx import from_approximation
from pymc_localmass.check import LocalMassWarning, check, default_centers
from pymc_localmass.errors import InvalidInputError
from pymc_localmass.compare import Ball, Box, Tail, compare, compare_summary, local_kl
from pymc_localmass.core.localkl import phi, reference_mass_interval
from pymc_localmass.report import report

from conftest import make_container

pm = pytest.importorskip("pymc")


@pytest.fixture(scope="module")
def halfnormal_advi():
    """ADVI of a HalfNormal(1) prior-only model: a log-normal with almost no mass near 0."""
    with pm.Model() as model:
        pm.HalfNormal("s", 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            approx = pm.fit(3000, method="advi", random_seed=1, progressbar=False,
                            obj_optimizer=pm.adam(learning_rate=0.03))
    return model, approx


@pytest.fixture(scope="module")
def normal_advi():
    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            approx = pm.fit(3000, method="advi", random_seed=2, progressbar=False,
                            obj_optimizer=pm.adam(learning_rate=0.03))
    return model, approx


@pytest.fixture(scope="module")
def halfnormal_draws():
    rng = np.random.default_rng(11)
    return {"s": np.abs(rng.normal(size=(4, 2000)))}


def test_compare_exact_figures(halfnormal_advi, halfnormal_draws):
    _, approx = halfnormal_advi
    r = np.array([0.05, 0.2, 0.5])
    cmp = compare({"NUTS": halfnormal_draws, "ADVI": approx}, reference="NUTS", centers={"s": 0.0}, radii=r,
                  kl_bound={"ADVI": 0.1}, ci_prob=0.9)
    assert list(cmp["model"].values) == ["NUTS", "ADVI"]
    assert list(cmp["tier"].values) == ["samples", "analytic"]
    assert list(cmp["region"].values) == ["s @ 0"]
    np.testing.assert_allclose(cmp["radius_value"].values[0], r)
    mu, sd = from_approximation(approx).marginal("s")
    q = stats.norm.cdf((np.log(r) - mu) / sd)
    a = cmp.sel(model="ADVI").isel(region=0)
    np.testing.assert_allclose(a["mass"].values, q, rtol=1e-10)
    p = cmp["ref_mass"].values[0]
    np.testing.assert_allclose(p, (halfnormal_draws["s"].ravel()[:, None] <= r).mean(0))
    np.testing.assert_allclose(a["ratio"].values, q / p, rtol=1e-12)
    # exact q: the ratio interval is q over the reference's interval (at ci_prob itself)
    np.testing.assert_allclose(a["ratio_lower"].values, q / cmp["ref_mass_upper"].values[0], rtol=1e-12)
    np.testing.assert_allclose(a["phi_reverse"].values, phi(q, p), rtol=1e-12)
    np.testing.assert_allclose(a["phi_forward"].values, phi(p, q), rtol=1e-12)
    # the ELBO-blindness bound stays below p(A) however large the ratio; the forward one does not
    assert np.all(a["phi_reverse"].values < p) and a["ratio"].values[0] < 0.01
    assert a["phi_forward"].values[0] > p[0] > a["phi_reverse"].values[0]
    lo, hi = reference_mass_interval(q, 0.1)
    np.testing.assert_allclose(a["ref_compatible_lower"].values, lo, rtol=1e-12)
    np.testing.assert_allclose(a["ref_compatible_upper"].values, np.minimum(hi, 1.0), rtol=1e-12)
    # a reference mass is a probability: a large K does not admit masses above 1
    big = compare({"NUTS": halfnormal_draws, "ADVI": approx}, reference="NUTS", centers={"s": 0.0}, radii=r,
                  kl_bound=50.0)
    assert np.all(big.sel(model="ADVI")["ref_compatible_upper"].values == 1.0)
    ref = cmp.sel(model="NUTS").isel(region=0)
    assert np.all(ref["ratio"].values == 1.0) and np.all(ref["phi_reverse"].values == 0.0)
    assert float(cmp["kl_bound"].sel(model="ADVI")) == 0.1
    assert str(cmp["kl_bound_source"].sel(model="ADVI").values) == "given"
    df = cmp.to_dataframe()
    assert df.shape[0] == 2 * 1 * 3 and {"mass", "ratio", "phi_reverse"} <= set(df.columns)
    summ = compare_summary(cmp, radius=2)
    assert summ.loc[("ADVI", "s @ 0"), "mass"] == pytest.approx(q[2], rel=1e-10)
    assert list(compare_summary(cmp, radius=2, fits="ADVI").index) == [("ADVI", "s @ 0")]
    with pytest.raises(KeyError, match=r"models \['Z'\] not in the comparison; its fits are \['NUTS', 'ADVI'\]"):
        compare_summary(cmp, fits=["Z"])


def test_compare_bonferroni_when_both_estimated():
    rng = np.random.default_rng(3)
    p = {"x": rng.normal(size=(4, 1000))}
    q = {"x": rng.normal(0.0, 2.0, size=(4, 1000))}
    cmp = compare({"p": p, "q": q}, centers=0.0, radii=[0.5, 1.0], ci_prob=0.9)
    qq = cmp.sel(model="q").isel(region=0)
    # ratio interval wider than the naive one built from the 0.9 intervals
    naive_lo = qq["mass_lower"].values / cmp["ref_mass_upper"].values[0]
    assert np.all(qq["ratio_lower"].values < naive_lo)
    assert np.all((qq["ratio_lower"].values < qq["ratio"].values) & (qq["ratio"].values < qq["ratio_upper"].values))
    assert "Bonferroni" in cmp.attrs["interval_rule"]


def test_compare_K_from_a_data_model_with_known_evidence(conjugate_advi):
    # y ~ N(mu, 1), mu ~ N(0, 1): log Z = log N(y; 0, I + 11'), and KL(q || p) = log Z - ELBO
    y, approx, logz = conjugate_advi
    rng = np.random.default_rng(2)
    post = rng.normal(y.sum() / 4, 0.5, size=(4, 1000))  # the exact posterior N(sum y / 4, 1/4)
    elbo, se = from_approximation(approx).elbo(n=1000, seed=0)
    z = stats.norm.ppf(0.5 + 0.5 * 0.9)
    # the evidence's own error widens K: given as (value, se) ...
    cmp = compare({"exact": {"mu": post}, "ADVI": approx}, centers=0.0, radii=[0.5], log_evidence=(logz, 0.05),
                  ci_prob=0.9)
    K = float(cmp["kl_bound"].sel(model="ADVI"))
    assert K == pytest.approx(logz - elbo + z * math.hypot(se, 0.05), rel=1e-9)
    assert z * 0.05 <= K < 0.2
    # ... or read from SMC-style sample_stats, one evidence per chain (spread / sqrt(4))
    runs = logz + np.array([-0.06, 0.02, 0.05, -0.01])
    lml = np.full((4, 1000), np.nan)
    lml[:, -1] = runs
    smc = make_container(posterior={"mu": post}, sample_stats={"log_marginal_likelihood": lml})
    cmp2 = compare({"SMC": smc, "ADVI": approx}, centers=0.0, radii=[0.5], ci_prob=0.9)
    pooled = float(np.log(np.mean(np.exp(runs))))
    assert cmp2.attrs["log_evidence"] == pytest.approx(pooled)
    assert cmp2.attrs["log_evidence_se"] == pytest.approx(runs.std(ddof=1) / 2)
    K2 = float(cmp2["kl_bound"].sel(model="ADVI"))
    assert K2 == pytest.approx(pooled - elbo + z * math.hypot(se, runs.std(ddof=1) / 2), rel=1e-9)
    with pytest.raises(ValueError, match="log_evidence must be a number or"):
        compare({"exact": {"mu": post}, "ADVI": approx}, centers=0.0, radii=[0.5], log_evidence=(1, 2, 3))


def test_compare_centers_are_resolved_on_the_reference(normal_advi):
    _, approx = normal_advi
    rng = np.random.default_rng(4)
    ref = {"x": rng.normal(3.0, 1.0, size=(4, 1000))}
    cmp = compare({"ref": ref, "ADVI": approx}, centers="mean", radii=[0.5])
    # the region sits at the reference's mean (3), not at the approximation's (0)
    assert float(cmp["center_value"].values[0]) == pytest.approx(ref["x"].mean())
    assert float(cmp.sel(model="ADVI")["ratio"].values[0, 0]) < 0.1


def test_compare_derives_K_from_elbo_and_log_evidence(normal_advi):
    _, approx = normal_advi
    rng = np.random.default_rng(5)
    ref = {"x": rng.normal(size=(4, 1000))}
    cmp = compare({"ref": ref, "ADVI": approx}, centers=0.0, radii=[0.5], log_evidence=0.0)
    K = float(cmp["kl_bound"].sel(model="ADVI"))
    assert str(cmp["kl_bound_source"].sel(model="ADVI").values) == "log_evidence - ELBO"
    elbo, se = from_approximation(approx).elbo(n=1000, seed=0)
    assert K == pytest.approx(max(-elbo + stats.norm.ppf(0.5 + 0.5 * cmp.attrs["ci_prob"]) * se, 0.0))
    assert 0 <= K < 0.05   # a Normal fitted to a Normal prior: KL about 0
    assert np.isfinite(cmp.sel(model="ADVI")["ref_compatible_upper"].values).all()
    nok = compare({"ref": ref, "ADVI": approx}, centers=0.0, radii=[0.5])
    assert np.isnan(float(nok["kl_bound"].sel(model="ADVI")))


def test_compare_bad_input(halfnormal_advi, normal_advi, halfnormal_draws):
    _, hn = halfnormal_advi
    _, nm = normal_advi
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match="the fits share no variable: s: 'ADVI' lacks it"):
        compare({"NUTS": halfnormal_draws, "ADVI": nm})
    with pytest.raises(ValueError, match="different variables: variable 's', which you named, cannot be compared: "
                                         "'ADVI' lacks it"):
        compare({"NUTS": halfnormal_draws, "ADVI": nm}, var_names=["s"])
    import xarray as xr

    arr = np.abs(rng.normal(size=(4, 100, 2)))
    other = xr.Dataset({"s": (("chain", "draw", "school"), arr)})
    with pytest.raises(ValueError, match="different dims for 's'.*'s_dim_0'.*'school'"):
        compare({"A": {"s": arr}, "B": other})
    other = xr.Dataset({"s": (("chain", "draw", "s_dim_0"), arr)}, coords={"s_dim_0": [5, 6]})
    with pytest.raises(ValueError, match="different coordinates for 's'"):
        compare({"A": {"s": arr}, "B": other})
    with pytest.raises(ValueError, match="disagree on the support of 's'"):
        compare({"draws": {"s": rng.normal(size=(4, 200))}, "ADVI": hn})
    with pytest.raises(ValueError, match="reaches neither a fit.s known support nor any fit.s draws"):
        compare({"NUTS": halfnormal_draws, "ADVI": hn}, centers={"s": -5.0}, radii=[0.5, 1.0])
    with pytest.raises(ValueError, match="mismatched radii.*keyed by fit name"):
        compare({"NUTS": halfnormal_draws, "ADVI": hn}, radii={"NUTS": [0.1], "ADVI": [0.2]})
    with pytest.raises(ValueError, match="mismatched radii"):
        compare({"NUTS": halfnormal_draws, "ADVI": hn}, radii=[[0.1, 0.2], [0.1, 0.3]])
    with pytest.raises(ValueError, match="> 0"):
        compare({"NUTS": halfnormal_draws, "ADVI": hn}, radii=[-0.1, 0.2])
    with pytest.raises(KeyError, match="reference 'HMC'"):
        compare({"NUTS": halfnormal_draws, "ADVI": hn}, reference="HMC")
    with pytest.raises(ValueError, match="same absolute balls in every fit; norm='scaled'"):
        compare({"NUTS": halfnormal_draws, "ADVI": hn}, norm="scaled")


def test_compare_transform_mismatch_between_approximations(halfnormal_advi):
    _, hn = halfnormal_advi
    with pm.Model():
        pm.Normal("s", 1.0, 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = pm.fit(200, method="advi", random_seed=1, progressbar=False)
    with pytest.raises(ValueError, match="disagree on the transform/support of 's'.*log.*identity"):
        compare({"A": hn, "B": other}, reference="A")


# ----------------------------------------------------------------------------- local_kl
def test_local_kl_directional_example():
    """p uniform on (-1, 1), q = |x|^(-1/2)/4 on (-1, 1), ball of radius r at 0."""
    r = 0.01

    def p_pdf(x):
        return 0.5 if -1 < x < 1 else 0.0

    def q_pdf(x):
        return 0.25 / math.sqrt(abs(x)) if 0 < abs(x) < 1 else 0.0

    res = local_kl(p_pdf, q_pdf, Ball(0.0, r))
    assert res.attrs["tier"] == "quadrature"
    fwd, rev = res.sel(direction="forward"), res.sel(direction="reverse")
    assert float(fwd["mu_mass"]) == pytest.approx(r, rel=1e-8)
    assert float(fwd["nu_mass"]) == pytest.approx(math.sqrt(r), rel=1e-8)
    assert float(fwd["shape"]) / math.sqrt(r) == pytest.approx(math.sqrt(r) * (math.log(2) - 0.5), rel=1e-6)
    assert float(rev["shape"]) / r == pytest.approx((1 - math.log(2)) / math.sqrt(r), rel=1e-6)
    assert float(fwd["mass_term"]) == pytest.approx(float(phi(r, math.sqrt(r))), rel=1e-8)
    assert float(rev["kl"]) == pytest.approx(float(rev["shape"] + rev["mass_term"]), rel=1e-12)


def test_local_kl_gaussians_exact_vs_knn():
    p, q = stats.norm(0.0, 1.0), stats.norm(0.5, 1.5)
    A = Box(-0.5, 1.0)
    exact = local_kl(p, q, A)
    pa, qa = p.cdf(1.0) - p.cdf(-0.5), q.cdf(1.0) - q.cdf(-0.5)
    assert float(exact.sel(direction="forward")["mu_mass"]) == pytest.approx(pa, rel=1e-9)
    assert float(exact.sel(direction="reverse")["mu_mass"]) == pytest.approx(qa, rel=1e-9)
    # integrand check: forward KL_A = int_A p log(p/q) - p(A) + q(A)
    from scipy import integrate

    integral = integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -0.5, 1.0)[0]
    assert float(exact.sel(direction="forward")["kl"]) == pytest.approx(integral - pa + qa, rel=1e-8)
    rng = np.random.default_rng(7)
    knn = local_kl(p.rvs(20000, random_state=rng), q.rvs(20000, random_state=rng), A, ci_prob=0.99)
    assert knn.attrs["tier"] == "knn"
    for d in ("forward", "reverse"):
        e = float(exact.sel(direction=d)["kl"])
        k = knn.sel(direction=d)
        assert float(k["kl_lower"]) - 0.01 <= e <= float(k["kl_upper"]) + 0.01


def test_local_kl_tail_and_approximation_density(normal_advi):
    _, approx = normal_advi
    res = local_kl(approx, stats.norm(0.0, 1.0), Tail(0.0, 2.0), var_names="x")
    fit = from_approximation(approx)
    mu, sd = fit.marginal("x")
    qa = stats.norm.cdf(-2, mu, sd) + stats.norm.sf(2, mu, sd)
    assert float(res.sel(direction="forward")["mu_mass"]) == pytest.approx(float(qa), rel=1e-7)
    assert float(res.sel(direction="forward")["kl"]) >= 0


def test_local_kl_boolean_region_and_multivariate_tail_with_known_densities():
    from pymc_localmass.compare import Where

    # a boolean region with both densities: Monte Carlo over draws of each side,
    # against quadrature of the same half-line
    p, q = stats.norm(0.0, 1.0), stats.norm(1.0, 2.0)
    res = local_kl(p, q, Where(lambda x: x[:, 0] > 0, dim=1), n_draws=40000, ci_prob=0.99)
    assert res.attrs["tier"] == "mc"
    exact = local_kl(p, q, Box(0.0, np.inf))
    for d in ("forward", "reverse"):
        e = float(exact.sel(direction=d)["kl"])
        assert float(res.sel(direction=d)["kl_lower"]) <= e <= float(res.sel(direction=d)["kl_upper"]), d
    # a tail in 2-D: the pieces over a ball and its complement add up to the global
    # KL(N(0, I) || N((1, 1), I)) = 1 (THEORY section 3)
    p2 = stats.multivariate_normal(np.zeros(2), np.eye(2))
    q2 = stats.multivariate_normal(np.ones(2), np.eye(2))
    ball = local_kl(p2, q2, Ball(np.zeros(2), 1.0), direction="forward")
    tail = local_kl(p2, q2, Tail(np.zeros(2), 1.0), direction="forward", n_draws=100000, ci_prob=0.99)
    assert ball.attrs["tier"] == "qmc" and tail.attrs["tier"] == "mc"
    total_lo = float(ball["kl_lower"].item()) + float(tail["kl_lower"].item())
    total_hi = float(ball["kl_upper"].item()) + float(tail["kl_upper"].item())
    assert total_lo <= 1.0 <= total_hi
    # a density without a sampler cannot take this route, and says why
    with pytest.raises(ValueError, match="neither draws nor a way to draw"):
        local_kl(lambda x: stats.norm.pdf(x), q, Where(lambda x: x[:, 0] > 0, dim=1))


def test_local_kl_atom_needs_regularisation():
    def p_pdf(x):
        return 0.7 * stats.norm.pdf(x)

    q = stats.norm(0.0, 1.0)
    with pytest.warns(RuntimeWarning, match=r"KL_A\(p \|\| q\) is infinite.*regularised local KL.*is finite"):
        plain = local_kl(p_pdf, q, Ball(0.0, 0.5), p_atoms={0.0: 0.3}, direction="forward")
    assert np.isinf(plain["kl"].item())
    reg = local_kl(p_pdf, q, Ball(0.0, 0.5), p_atoms={0.0: 0.3}, eps=0.1, direction="forward")
    assert np.isfinite(reg["kl"].item()) and reg["kl"].item() > 0
    with pytest.raises(ValueError, match="eps > 0.*needs both densities"):
        local_kl(np.zeros(100), np.ones(100), Ball(0.0, 0.5), eps=0.1)
    with pytest.raises(ValueError, match="outside the support of both"):
        local_kl(stats.expon(), stats.expon(scale=2.0), Box(-3.0, -1.0))
    with pytest.raises(ValueError, match="direction"):
        local_kl(q, q, Ball(0.0, 1.0), direction="sideways")


# ----------------------------------------------------------------------------- check
def test_check_flags_a_collapsed_approximation(halfnormal_advi, halfnormal_draws):
    model, approx = halfnormal_advi
    with pytest.warns(LocalMassWarning) as rec:
        res = check(halfnormal_draws, approximations={"ADVI": approx}, model=model)
    msgs = [str(w.message) for w in rec if issubclass(w.category, LocalMassWarning)]
    assert any(m.startswith("ADVI puts ") and " of its mass within " in m and " of s = 0; the posterior puts " in m
               and "the ELBO can miss this: the mismatch costs it as little as" in m and "What to do: " in m
               for m in msgs)
    f = next(f for f in res.findings if f.kind == "approximation")
    assert f.variable == "s" and f.center_value == 0.0 and f.model == "ADVI"
    assert f.figures["phi_reverse"] < f.figures["ref_mass"]
    assert f.figures["ratio_upper"] < 0.1
    assert not res.ok and ("ADVI", "s @ 0") in res.table.index
    assert res.table.loc[("ADVI", "s @ 0"), "flags"] == "approximation"
    # one radius per region across the table: the reference's row is read where the fits' are
    t = res.table
    for region in t.index.get_level_values("region").unique():
        rows = t.xs(region, level="region")
        assert rows["radius"].nunique() == 1, region
        ref_mass = rows.loc["ADVI", "ref_mass"]
        assert rows.loc["posterior", "mass"] == pytest.approx(ref_mass, rel=1e-12)


def test_check_is_silent_when_all_is_well(normal_advi):
    _, approx = normal_advi
    rng = np.random.default_rng(8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LocalMassWarning)
        res = check({"x": rng.normal(size=(4, 1000))}, approximations={"ADVI": approx})
    assert res.ok and res.findings == []
    assert "ok" in repr(res)


def test_check_atom_prior_index_and_unresolved():
    rng = np.random.default_rng(9)
    tau = np.abs(rng.normal(size=(4, 2000)))
    # an atom of weight 0.25 at 0, at independent positions (a block of zeros at the start of
    # every chain is honestly a far wider interval: the ties' ESS is then a few draws)
    tau[rng.random(tau.shape) < 0.25] = 0.0
    w = np.abs(rng.normal(size=(4, 2000)))    # posterior index a = 1 at 0
    prior_w = rng.gamma(3.0, size=(4, 2000))  # prior index a = 3 at 0
    data = make_container(posterior={"tau": tau, "w": w, "far": rng.normal(size=(4, 2000))},
                          prior={"w": prior_w})
    with pytest.warns(LocalMassWarning):
        res = check(data, centers={"tau": 0.0, "w": 0.0, "far": 40.0}, radii=[0.01, 0.1])
    kinds = {(f.kind, f.variable) for f in res.findings}
    assert ("atom", "tau") in kinds
    assert ("prior_index", "w") in kinds
    assert ("unresolved", "far") in kinds
    atom = next(f for f in res.findings if f.kind == "atom")
    assert atom.figures["atom_lower"] > 0.15 and atom.figures["atom_upper"] < 0.35


def test_a_discrete_variables_support_point_is_no_atom_finding():
    # a count's draws are atoms at every support point: its weight at 0 stays in the table (status
    # atom), but is no finding (three per model with a count, a flag and a rare count before); a
    # continuous variable's spike (a ReLU's 0) still is
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 1000))
    res = check({"k": rng.poisson(3, (4, 1000)), "flag": rng.binomial(1, 0.3, (4, 1000)),
                 "rare": rng.poisson(0.2, (4, 1000)).astype(float), "relu": np.maximum(x, 0.0)}, warn=False)
    assert [(f.kind, f.variable) for f in res.findings] == [("atom", "relu")]
    at0 = res.table.xs("posterior").loc[["k @ 0", "flag @ 0", "rare @ 0"]]
    assert (at0["status"] == "atom").all() and (at0["atom_lower"] > 0.04).all()
    # a centre asked for: the weight is the answer, said
    asked = check({"k": rng.poisson(3, (4, 1000))}, centers={"k": 3.0}, warn=False)
    assert [(f.kind, f.variable, f.center) for f in asked.findings] == [("atom", "k", "3")]


def test_default_centers_mean_and_boundary(halfnormal_advi):
    model, approx = halfnormal_advi
    rng = np.random.default_rng(10)
    c = default_centers({"s": np.abs(rng.normal(5, 1, size=(2, 100))) + 3}, approximations={"A": approx})
    assert c == {"s": {"mean": "mean", "0": 0.0}}
    c = default_centers({"s": np.abs(rng.normal(5, 1, size=(2, 100))) + 3})
    assert c == {"s": {"mean": "mean"}}
    c = default_centers({"s": np.abs(rng.normal(5, 1, size=(2, 100))) + 3}, model=model)
    assert c == {"s": {"mean": "mean", "0": 0.0}}
    # interval supports: both ends
    with pm.Model() as m2:
        pm.Beta("p", 2.0, 2.0)
        pm.Uniform("u", -1.0, 3.0)
    draws = {"p": rng.beta(2, 2, size=(2, 100)), "u": rng.uniform(-1, 3, size=(2, 100))}
    c = default_centers(draws, model=m2)
    assert c == {"p": {"mean": "mean", "0": 0.0, "1": 1.0}, "u": {"mean": "mean", "-1": -1.0, "3": 3.0}}
    # the model says a Normal coefficient is unbounded: no 0 for its one-signed draws (the
    # reference-free check made a finding there); a Deterministic and draws alone keep the rule
    with pm.Model() as m3:
        b = pm.Normal("b", 0.0, 2.0)
        pm.Deterministic("eb", pm.math.exp(b))
    bd = np.abs(rng.normal(0.6, 0.4, size=(2, 200))) + 0.05  # one-signed, within one sd of 0
    draws = {"b": bd, "eb": np.exp(bd) - 1.0}
    assert default_centers(draws, model=m3) == {"b": {"mean": "mean"}, "eb": {"mean": "mean", "0": 0.0}}
    assert default_centers(draws)["b"] == {"mean": "mean", "0": 0.0}
    # a simplex's elements: 0, where a category the data leave empty has its mass (the model said
    # nothing about a Dirichlet's support, and the check looked at its means only)
    with pm.Model() as m4:
        pm.Dirichlet("w", np.ones(4))
    draws = {"w": rng.dirichlet([31, 11, 6, 1], size=(2, 200))}
    assert default_centers(draws, model=m4) == {"w": {"mean": "mean", "0": 0.0}}


def _nuts_with_prior(model, n_prior):
    """NUTS (4 x 1000) and PyMC's own prior draws (one chain) of ``model`` in one container."""
    with model:
        prior = pm.sample_prior_predictive(n_prior, random_seed=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(1000, tune=500, chains=4, cores=1, random_seed=1, progressbar=False,
                              compute_convergence_checks=False)
    if MODERN:
        idata["prior"] = prior["prior"]
    else:
        idata.extend(prior)
    return idata


def test_check_prior_index_from_pm_sample_prior_predictive():
    # PyMC's prior draws come as one chain of independent draws: the adapter splits
    # them into chains, so the prior/posterior comparison runs on a real workflow.
    # Gamma(3) prior (a = 3 at 0) and a Poisson likelihood with 9 counts: the
    # posterior is Gamma(12, 4), index a = 12 at 0
    with pm.Model() as model:
        w = pm.Gamma("w", 3.0, 1.0)
        pm.Poisson("k", w, observed=[2, 3, 4])
    idata = _nuts_with_prior(model, 2000)
    assert get_group(idata, "prior").sizes["chain"] == 1
    assert to_dataset(idata, "prior").sizes["chain"] == 4
    with pytest.warns(LocalMassWarning, match=r"w near 0: posterior Mass Index a = "):
        res = check(idata, model=model)
    f = next(f for f in res.findings if f.kind == "prior_index")
    assert f.figures["prior_a_lower"] <= 3.0 <= f.figures["prior_a_upper"]
    assert f.figures["a_lower"] <= 12.0 <= f.figures["a_upper"]
    assert get_group(idata, "prior").sizes["chain"] == 1  # the user's data is untouched


def test_check_says_when_the_prior_cannot_be_analysed():
    rng = np.random.default_rng(4)
    data = make_container(posterior={"w": np.abs(rng.normal(size=(4, 500)))},
                          prior={"w": np.full((4, 500), 2.0)})  # constant draws: nothing to analyse
    with pytest.warns(RuntimeWarning, match="prior group could not be analysed.*zero variance"):
        check(data, centers={"w": 0.0})


def test_check_takes_draws_as_approximations(rng):
    ref = {"s": np.abs(rng.normal(size=(4, 1000)))}
    other = {"s": np.abs(rng.normal(size=(4, 1000)))}
    res = check(ref, approximations={"other sampler": other}, warn=False)
    assert res.ok and ("other sampler", "s @ mean") in res.table.index


def test_compare_grid_keeps_each_regions_resolution(rng):
    # tau's draws crowd its mean but are sparse at 0: one grid over both centres keeps
    # as many points over 0's own span as that centre's automatic grid has
    tau = {"tau": np.abs(rng.standard_cauchy(size=(4, 1000))) + 0.5}
    one = compare({"p": tau, "q": tau}, reference="p", centers={"tau": 1.0})
    two = compare({"p": tau, "q": tau}, reference="p", centers={"tau": {"a": 1.0, "b": 30.0}})
    assert one.sizes["radius"] == 25 and two.sizes["radius"] > 25
    r1 = one["radius_value"].values[0]
    r2 = two["radius_value"].sel(region=[g for g in two["region"].values if g.endswith("@ a")][0]).values
    inside = r2[(r2 >= r1.min()) & (r2 <= r1.max())]
    assert inside.size >= 24


def test_local_kl_arguments_and_dimensions_checked():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2000, 1)), rng.normal(0.3, 1.0, size=(2000, 1))
    with pytest.raises(ValueError, match="k .neighbours of the kNN estimator. must be an integer >= 1"):
        local_kl(x, y, Ball(0.0, 1.0), k=0)
    with pytest.raises(ValueError, match="k = 100000 neighbours needs more draws"):
        local_kl(x, y, Ball(0.0, 1.0), k=100000)
    with pytest.raises(ValueError, match="ci_prob must be in"):
        local_kl(x, y, Ball(0.0, 1.0), ci_prob=2.0)
    x2 = rng.normal(size=(2000, 2))
    with pytest.raises(ValueError, match="region is 1-dimensional but p is 2-dimensional"):
        local_kl(x2, x2 + 0.1, Ball(0.0, 1.0))
    with pytest.raises(ValueError, match="region is 2-dimensional but p is 1-dimensional"):
        local_kl(stats.norm(), stats.norm(0, 2), Ball([0.0, 0.0], 1.0))


def test_check_and_compare_argument_forms(halfnormal_advi, halfnormal_draws):
    _, approx = halfnormal_advi
    with pytest.raises(TypeError, match="approximations must be a mapping"):
        check(halfnormal_draws, approximations=[approx])
    # log_evidence as (value, se) in any sequence form, a numpy pair included
    a = compare({"NUTS": halfnormal_draws, "ADVI": approx}, reference="NUTS", centers={"s": 0.0}, radii=[0.2],
                log_evidence=np.array([-3.0, 0.1]))
    b = compare({"NUTS": halfnormal_draws, "ADVI": approx}, reference="NUTS", centers={"s": 0.0}, radii=[0.2],
                log_evidence=(-3.0, 0.1))
    assert float(a["kl_bound"].sel(model="ADVI")) == float(b["kl_bound"].sel(model="ADVI"))


def test_check_prior_index_in_a_far_tail_says_so():
    # a smooth Gaussian posterior, a centre 7 sd from its mean: the nearest draws are
    # 4 sd away and rise like r^12. The draws do not reach the centre, so the check
    # says exactly that (issue 11) instead of comparing an index the draws cannot support
    rng = np.random.default_rng(0)
    data = make_container(posterior={"mu": rng.normal(1.0, 0.14, size=(4, 1000))},
                          prior={"mu": rng.normal(0.0, 10.0, size=(4, 1000))})
    with pytest.warns(LocalMassWarning, match=r"mu near 0 \[unresolved\]: no draw within \d\.\d sd of mu = 0"):
        res = check(data, centers={"mu": 0.0})
    assert [f.kind for f in res.findings] == ["unresolved"]
    assert "method='model'" in res.findings[0].advice
    # the Gamma(12, 4) posterior at 0 (3.5 sd): no draw within one sd either
    rng = np.random.default_rng(1)
    near = make_container(posterior={"w": rng.gamma(12.0, 0.25, size=(4, 1000))},
                          prior={"w": rng.gamma(3.0, 1.0, size=(4, 1000))})
    with pytest.warns(LocalMassWarning, match=r"w near 0 \[unresolved\]"):
        res = check(near, centers={"w": 0.0})
    assert not [f for f in res.findings if f.kind == "prior_index"]


def test_colliding_element_labels_are_named(tmp_path):
    # variable "x[0]" beside element 0 of "x": every table keys on "x[0] @ 0"
    rng = np.random.default_rng(2)
    fit = {"x": rng.normal(size=(2, 400, 2)), "x[0]": rng.normal(size=(2, 400))}
    other = {"x": rng.normal(size=(2, 400, 2)), "x[0]": rng.normal(size=(2, 400))}
    msg = r"label 'x\[0\]' names an element of variable 'x' and of variable 'x\[0\]'; rename one"
    with pytest.raises(ValueError, match=msg):
        check(fit, centers=0.0)
    with pytest.raises(ValueError, match=msg):
        compare({"A": fit, "B": other}, centers=0.0)
    with pytest.raises(ValueError, match=msg):
        report({"A": fit, "B": other}, tmp_path / "r.html", centers=0.0)
    assert list(tmp_path.iterdir()) == []


def test_check_with_the_model_settles_a_far_tail_index():
    # mu ~ N(0, 10), 50 observations around 1: the posterior N(1, 0.14) puts its
    # centre 0 about 7 sd out. From draws the index there looks huge (the tail's
    # slope); with model= the model tier reads the index below the draws' radii,
    # finds the prior's a = 1, and the check stays silent
    rng = np.random.default_rng(0)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("y", mu, 1.0, observed=rng.normal(1.0, 1.0, 50))
    idata = _nuts_with_prior(model, 1000)
    with pytest.warns(LocalMassWarning, match=r"\[unresolved\]: no draw within"):
        check(idata, centers={"mu": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error", LocalMassWarning)
        res = check(idata, model=model, centers={"mu": 0.0})
    assert res.ok
    row = res.table.loc[("posterior", "mu @ 0")]
    assert row["model_a_lower"] <= 1.0 <= row["model_a_upper"]


def test_check_with_the_model_confirms_a_power_log_shift_far_out():
    # Gamma(3) prior, Poisson counts summing to 50: the posterior Gamma(53, 6) has
    # index 3 + 50 = 53 at 0, about 7 sd below its mean. The draws see a slope of
    # about 18 there; the model tier confirms the shift with the exact index
    with pm.Model() as model:
        w = pm.Gamma("w", 3.0, 1.0)
        pm.Poisson("k", w, observed=[10, 9, 11, 10, 10])
    idata = _nuts_with_prior(model, 2000)
    with pytest.warns(LocalMassWarning, match="confirmed by the model tier below the draws' radii"):
        res = check(idata, model=model, centers={"w": 0.0})
    (f,) = [f for f in res.findings if f.kind == "prior_index"]
    row = res.table.loc[("posterior", "w @ 0")]
    # within 1% (the slope fit over six decades of radii; its interval, +-0.25, is a little optimistic here)
    assert abs(row["model_a"] - 53.0) < 0.5 and row["model_a_upper"] - row["model_a_lower"] < 2
    assert f.figures["prior_a_lower"] <= 3.0 <= f.figures["prior_a_upper"]


def _grid_draws(log_dens, hi, rng, shape):
    """Draws of a 1-D density on (0, hi) by inverse CDF on a fine grid (exact up to the grid's error)."""
    x = np.linspace(0.0, hi, 200001)[1:]
    w = np.exp(log_dens(x) - log_dens(x).max())
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(x))])
    return np.interp(rng.random(shape) * cdf[-1], cdf, x)


def test_check_prior_index_where_the_posterior_has_no_mass_near_the_centre():
    # tau ~ HalfNormal(1) and 30 observations of sd 1: the data rule out tau = 0, the posterior's
    # a = inf (the model tier's, the draws being unresolved there) against the prior's a = 1. The
    # user guide's own example of this finding, yet check() was silent: the comparison skipped
    # every row with an infinite interval end
    rng = np.random.default_rng(0)
    y = rng.normal(0.0, 1.0, 30)
    with pm.Model() as model:
        tau = pm.HalfNormal("tau", 1.0)
        pm.Normal("y", 0.0, tau, observed=y)
    post = _grid_draws(lambda t: -t**2 / 2 - y.size * np.log(t) - (y**2).sum() / (2 * t**2), 4.0, rng, (4, 1000))
    data = make_container(posterior={"tau": post}, prior={"tau": np.abs(rng.normal(size=(4, 1000)))})
    with pytest.warns(LocalMassWarning, match=r"tau near 0: posterior Mass Index a = inf \[inf, inf\] differs"):
        res = check(data, model=model, centers={"tau": 0.0})
    (f,) = [f for f in res.findings if f.kind == "prior_index"]
    assert abs(f.figures["prior_a"] - 1.0) < 0.2 and np.isposinf(f.figures["a_lower"])
    # at a default centre (not asked for) a noise sd's 0 the data rule out is no finding by itself
    res = check(data, model=model, warn=False)
    assert ("posterior", "tau @ 0") in res.table.index
    assert not [f for f in res.findings if f.kind == "prior_index"]


def test_check_prior_index_read_from_the_models_narrower_interval():
    # a Poisson rate lam ~ HalfNormal(1) with counts [1, 0]: the posterior ~ lam e^(-2 lam - lam^2/2)
    # has a = 2 at 0, the prior a = 1. The draws' interval (about [0.5, 4.6]) holds 1; the model's
    # own reading of the row (check()'s cross-check, a = 2.01 [2, 2.02]) does not, and was not used
    # (4 x 250 draws, so that the draws' interval holds the prior's index, as NUTS draws' did)
    rng = np.random.default_rng(0)
    with pm.Model() as model:
        lam = pm.HalfNormal("lam", 1.0)
        pm.Poisson("y", lam, observed=[1, 0])
    post = _grid_draws(lambda t: np.log(t) - 2 * t - t**2 / 2, 8.0, rng, (4, 250))
    data = make_container(posterior={"lam": post}, prior={"lam": np.abs(rng.normal(size=(4, 1000)))})
    with pytest.warns(LocalMassWarning, match=r"lam near 0: posterior Mass Index a = 2\.\d+ \[.*\] by the model's "
                                              r"own density \(the draws: "):
        res = check(data, model=model, centers={"lam": 0.0})
    (f,) = [f for f in res.findings if f.kind == "prior_index"]
    assert f.figures["model_a_lower"] <= 2.0 <= f.figures["model_a_upper"]
    assert f.figures["a_lower"] <= f.figures["prior_a_upper"]  # the draws alone could not tell
    assert "2.0" in f.reading or "2.01" in f.reading


def test_approximation_finding_names_whose_mean_the_centre_is():
    # "ADVI puts ... of sigma = 0.783 (its mean)": 0.783 was the posterior's mean, ADVI's was 1.75
    from pymc_localmass.check import render_finding

    figs = dict(radius=0.07, mass=4.8e-11, ref_mass=0.13, ref_mass_lower=0.07, ref_mass_upper=0.2, ratio=3.7e-10,
                ratio_lower=2e-10, ratio_upper=7e-10, phi_reverse=0.13)
    m, _, _ = render_finding("approximation", "sigma", 0.783, figs, model="ADVI", reference="NUTS",
                             center_label="mean")
    assert "within 0.07 of sigma = 0.783 (NUTS's mean)" in m
    m, _, _ = render_finding("approximation", "sigma", 0.783, figs, model="ADVI", center_label="mean")
    assert "(the posterior's mean)" in m and "(its mean)" not in m


def test_describe_fit_tells_readers_what_a_raw_fit_is(halfnormal_advi, container):
    # the readers (check, report, plots) ask estimators.describe_fit instead of importing the adapters
    from pymc_localmass.estimators import describe_fit

    model, approx = halfnormal_advi
    facts = describe_fit(approx, draws=False, transforms=True)
    assert facts.is_approximation and not facts.is_container and facts.draws is None
    (sup,) = facts.supports
    assert (sup.name, sup.transform, float(sup.lower), sup.upper) == ("s", "log", 0.0, None)
    sampled = describe_fit(approx, n_draws=50)
    assert sampled.var_names == ("s",) and dict(sampled.draws["s"].sizes) == {"chain": 4, "draw": 50}
    facts = describe_fit(model, transforms=True)
    assert facts.is_model and [(s.name, s.transform, s.lower, s.upper) for s in facts.supports] == \
        [("s", "log", 0.0, None)]
    facts = describe_fit(container, var_names=["~theta"])
    assert facts.is_container and not facts.is_approximation
    assert set(facts.groups) >= {"posterior", "prior"} and facts.var_names == ("tau", "mu")
    assert describe_fit(container, group="prior").var_names == ("tau", "mu")


def test_check_with_a_model_of_other_shapes_raises():
    # outside check: check(ds, model=m) with theta (8,) in the draws and (5,) in the model
    # returned "ok: no findings", while the model tier itself raised
    import pymc as pm
    import xarray as xr

    from pymc_localmass.errors import InvalidInputError

    with pm.Model() as m5:
        pm.Normal("theta", 0, 1, shape=5)
        pm.HalfNormal("tau", 1)
    rng = np.random.default_rng(0)
    ds = xr.Dataset({"theta": (("chain", "draw", "theta_dim_0"), rng.normal(size=(4, 500, 8))),
                     "tau": (("chain", "draw"), np.abs(rng.normal(size=(4, 500))))})
    with pytest.raises(InvalidInputError, match=r"variable 'theta' has shape \(8,\) in the draws but \(5,\)"):
        check(ds, model=m5)


def test_unresolved_deterministic_advice_does_not_send_to_the_model_tier():
    # outside check: with model=, an unresolved Deterministic was advised "local_mass(...,
    # method='model', radii=...)", which raises for a Deterministic
    with pm.Model() as m:
        mu = pm.Normal("mu", 0, 1)
        pm.Deterministic("d", mu + 10.0)
    rng = np.random.default_rng(0)
    mu_d = rng.normal(size=(4, 500))
    data = make_container(posterior={"mu": mu_d, "d": mu_d + 10.0})
    res = check(data, model=m, centers={"d": 0.0}, warn=False)
    found = [f for f in res.findings if f.variable == "d" and f.kind == "unresolved"]
    assert found, res
    assert "method='model'" not in found[0].advice and "Deterministics" in found[0].advice


@pytest.mark.slow
def test_check_reads_the_model_below_a_steep_tail_at_a_boundary():
    # outside check: a Student-t's degrees of freedom nu (nu + 2, nu ~ Exponential(0.1)) have a
    # positive density at 0 (a = 1) that rises steeply above it; the draws' nearest is about 2
    # away. The model tier on radii from the draws' smallest resolved radius down mixed the
    # rise with the density below it: a = -0.32 in [0, 1.2]; a sound reading now comes from a
    # tenth of that radius down
    y = np.random.default_rng(3).normal(size=200)
    with pm.Model() as m:
        nu = pm.Exponential("nu", 0.1)
        pm.StudentT("y", nu=nu + 2, mu=0, sigma=1, observed=y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(1000, tune=500, chains=4, cores=1, random_seed=[1, 2, 3, 4], progressbar=False,
                              compute_convergence_checks=False)
    res = check(idata, model=m, centers={"nu": 0.0}, warn=False)
    row = res.table.loc[("posterior", "nu @ 0")]
    assert row["status"] == "unresolved"  # the draws alone do not reach 0
    assert 0 <= row["model_a_lower"] <= row["model_a"] <= row["model_a_upper"]
    assert row["model_a_lower"] <= 1.0 <= row["model_a_upper"]


def test_comparison_where_the_reference_has_no_mass_is_undefined_not_impossible():
    # a constant element (the unit diagonal of an LKJ correlation): the reference's radii, and so
    # its mass, are undefined (NaN), while an exact tier gives the fit mass 1. The row read
    # ratio NaN [NaN, inf] and phi_reverse NaN [NaN, -inf]; phi is never negative
    from pymc_localmass.compare import COMPARE_VARS, _phi_box, _ratio_and_phi

    lo, hi = _phi_box(np.array([1.0]), np.array([1.0]), np.array([np.nan]), np.array([np.nan]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    out = {v: np.full((2, 2), -7.0) for v in COMPARE_VARS}
    nan_ok = np.array([np.nan, 0.2])
    rr = {"p": nan_ok, "pl": nan_ok - 0.05, "pu": nan_ok + 0.05, "pl2": nan_ok - 0.06, "pu2": nan_ok + 0.06,
          "exact": False}
    one = np.array([1.0, 0.1])
    _ratio_and_phi(out, 1, rr, q=one, ql=one, qu=one, ql2=one, qu2=one, exact=True)
    for v in ("ratio", "ratio_lower", "ratio_upper", "phi_reverse", "phi_reverse_lower", "phi_reverse_upper",
              "phi_forward", "phi_forward_lower", "phi_forward_upper"):
        assert np.isnan(out[v][1, 0]), v
        assert np.isfinite(out[v][1, 1]), v  # the region with a reference mass is compared as before
    assert 0 <= out["phi_reverse_lower"][1, 1] <= out["phi_reverse"][1, 1] <= out["phi_reverse_upper"][1, 1]


def test_check_reports_chains_too_slow_for_an_index_at_a_default_centre():
    # a badly mixed run (AR(0.999) chains, about 6 effective draws near the mean): its mean is
    # unresolved, which at a default centre was no finding, and check() said "ok"
    rng = np.random.default_rng(3)
    e = rng.standard_normal((4, 1000))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0]
    for t in range(1, 1000):
        x[:, t] = 0.999 * x[:, t - 1] + np.sqrt(1 - 0.999**2) * e[:, t]
    res = check({"s": 5.0 + x}, warn=False)
    found = [f for f in res.findings if f.variable == "s" and f.center == "mean"]
    assert len(found) == 1 and found[0].kind == "unresolved"
    assert "the chains move too slowly" in found[0].message
    # its advice is the note's (the model tier was advised, which is no cure for slow chains),
    # said once: not also at the end of the message
    assert found[0].advice.startswith("run longer chains or reparameterise") and "method='model'" not in \
        found[0].advice and "run longer chains" not in found[0].message
    # well-mixed draws: no finding
    assert not check({"s": 5.0 + e}, warn=False).findings


def test_check_with_model_reads_the_model_below_an_ok_boundary_row():
    # a log-normal's mass at 0 decays faster than any power, but 4,000 draws read its slope at the
    # radii they reach: 2.3 [1.6, 9.3] "ok" here. With model=, the model tier's a = inf [16, inf]
    # below those radii is a finding; without it, nothing can tell
    import pymc_localmass as plm

    with pm.Model() as ln:
        pm.LogNormal("x", 0.0, 1.0)
    idata = make_container(posterior={"x": np.exp(np.random.default_rng(1).normal(0, 1, (4, 1000)))})
    row = plm.summary(idata, centers={"x": 0.0}).iloc[0]
    assert row.status == "ok" and np.isfinite(row.a_upper)
    assert plm.check(idata, warn=False).findings == []
    res = plm.check(idata, model=ln, warn=False)
    assert [(f.kind, f.variable, f.center) for f in res.findings] == [("model_index", "x", "0")]
    f = res.findings[0]
    assert np.isposinf(f.figures["model_a"]) and f.figures["model_a_lower"] > row.a_upper
    assert "method='model'" in f.advice
    # a Gamma(2) at 0 (a = 2): the model agrees with the draws, no finding (nor at the mean)
    with pm.Model() as gm:
        pm.Gamma("x", 2.0, 1.0)
    for seed in range(4):
        idata = make_container(posterior={"x": np.random.default_rng(seed).gamma(2.0, size=(4, 1000))})
        assert plm.check(idata, model=gm, warn=False).findings == []


def test_check_says_which_ok_rows_the_model_cross_check_left_out():
    # the cross-check reads the model at the first max_model_checks "ok" rows only: the rest are
    # named in a note (and the repr), not left out in silence
    import pymc_localmass as plm

    with pm.Model() as gm:
        pm.Gamma("x", 2.0, 1.0, shape=3)
    idata = make_container(posterior={"x": np.random.default_rng(0).gamma(2.0, size=(4, 1000, 3))})
    full = plm.check(idata, model=gm, warn=False)
    checked = full.table["model_a"].notna().sum()
    assert checked == 3 and full.notes == []
    res = plm.check(idata, model=gm, warn=False, max_model_checks=1)
    assert res.table["model_a"].notna().sum() == 1
    assert len(res.notes) == 1 and "2 more were read from the draws alone" in res.notes[0]
    assert "x[1] @ 0" in res.notes[0] and "x[2] @ 0" in res.notes[0]
    assert "(note: the model's density cross-checked the first 1 " in repr(res)
    assert "max_model_checks=None" in res.notes[0]
    assert plm.check(idata, model=gm, warn=False, max_model_checks=None).table["model_a"].notna().sum() == 3
    none = plm.check(idata, model=gm, warn=False, max_model_checks=0)
    assert "model_a" not in none.table.columns and "3 more" in none.notes[0]
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(InvalidInputError, match="max_model_checks"):
            plm.check(idata, model=gm, warn=False, max_model_checks=bad)


def test_check_says_where_the_model_cross_check_failed(monkeypatch):
    # a row the model tier cannot read stays the draws' reading, and the result says so
    import sys

    import pymc_localmass as plm

    module = sys.modules["pymc_localmass.check"]  # (pymc_localmass.check is the function)
    with pm.Model() as gm:
        pm.Gamma("x", 2.0, 1.0, shape=2)
    idata = make_container(posterior={"x": np.random.default_rng(0).gamma(2.0, size=(4, 1000, 2))})
    monkeypatch.setattr(module, "_model_tier_index", lambda *a, **k: {"failed": "radii too small for float64"})
    res = plm.check(idata, model=gm, warn=False)
    assert res.findings == [] and "model_a" not in res.table.columns
    assert res.notes == ["the model tier could not read x[0] @ 0, x[1] @ 0 (radii too small for float64): these "
                         "rows stand on the draws alone"]
    # an unresolved row at a default centre (no finding by itself) where the model tier raised: said too
    monkeypatch.setattr(module, "_model_tier_index",
                        lambda *a, **k: {"failed": "it raised NotImplementedError: no graph", "refused": True})
    far = make_container(posterior={"x": 10.0 + np.random.default_rng(1).normal(size=(4, 1000, 2))})
    res = plm.check(far, model=gm, warn=False)
    assert res.findings == [] and list(res.table["status"]) == ["ok", "unresolved", "ok", "unresolved"]
    assert res.notes == ["the model tier could not read x[0] @ 0, x[1] @ 0 (it raised NotImplementedError: no "
                         "graph): these rows stand on the draws alone"]


def test_check_keeps_the_model_tiers_a_inf():
    # a noise sd's 0 under 50 observations: the model tier reads a = inf [inf, inf] (its mass, like
    # exp(-SS / 2 sigma^2), underflows to 0), which check() took for "no index" and reported the
    # requested centre unresolved, "the model tier could not resolve it either"
    import pymc_localmass as plm

    y = np.random.default_rng(0).normal(1.0, 1.0, 50)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        sigma = pm.HalfNormal("sigma", 2)
        pm.Normal("y", mu, sigma, observed=y)
    rng = np.random.default_rng(1)
    post = {"mu": rng.normal(y.mean(), y.std() / np.sqrt(50), (4, 500)),
            "sigma": y.std() * np.sqrt(50 / rng.chisquare(49, (4, 500)))}
    res = plm.check(make_container(posterior=post), model=model, var_names=["sigma"], centers={"sigma": 0.0},
                    warn=False)
    assert res.findings == []
    row = res.table.loc[("posterior", "sigma @ 0")]
    assert row["status"] == "unresolved" and row["a_source"] == "model"
    assert np.isposinf(row["a"]) and np.isposinf(row["a_lower"]) and np.isposinf(row["model_a"])


def test_model_density_clears_a_sampler_row_whose_divergences_start_near_a_boundary():
    # NUTS on a HalfNormal(1) prior alone (pm.sample(1000, tune=1000, chains=4, random_seed=1), as
    # saved) diverges 46 times at its steep upper side, in the log space it samples, on trajectories
    # from its long lower tail: 15 of the 46 divergent draws lie among those nearest 0, and the draws
    # alone read "sampler" there (4 to 7 of 10 NUTS runs of a HalfNormal, Gamma(0.5) or truncated
    # normal did). The model's density (exact there: x depends on no other variable) gives the same
    # index and the same mass at the draws' smallest resolved radius: check(model=) raises no
    # finding and says why in its notes
    from pathlib import Path

    import pymc_localmass as plm

    saved = np.load(Path(__file__).parent / "data" / "halfnormal_nuts_divergent.npz")
    idata = make_container(posterior={"x": saved["x"]}, sample_stats={"diverging": saved["diverging"]})
    row = plm.summary(idata, centers={"x": 0.0}).iloc[0]
    assert row.status == "sampler" and row.n_divergent == 46 and row.divergent_near == 15
    with pm.Model() as m:
        pm.HalfNormal("x", 1.0)
    res = plm.check(idata, model=m, centers={"x": 0.0}, warn=False)
    assert res.findings == [], res
    assert any("x @ 0" in note and "confirms the draws" in note for note in res.notes), res.notes
    assert res.table.loc[("posterior", "x @ 0"), "model_a"] == pytest.approx(1.0, abs=0.01)
    # without model= the row stays a finding (nothing can confirm the draws)
    assert [(f.kind, f.center) for f in plm.check(idata, centers={"x": 0.0}, warn=False).findings] == [("sampler", "0")]


def test_a_funnel_neck_is_not_cleared_by_the_model_density_averaged_over_the_sampler_draws():
    # a centred funnel (v ~ N(0, 2), x ~ N(0, exp(v / 2)); NUTS, pm.sample(1000, tune=1000, chains=4,
    # random_seed=1), as saved, 215 divergences): the draws under-visit x = 0 (0.006 within 0.0089
    # where the exact mass is 0.0117), and so does the model tier, whose conditional masses are
    # averaged over the sampler's equally biased draws of v (0.0099 [0.0081, 0.0116]). The two agreed
    # and check(model=) cleared the sampler finding (outside review); a mass that depends on the
    # sampler's other draws confirms nothing, and the finding stands
    from pathlib import Path

    import pymc_localmass as plm

    saved = np.load(Path(__file__).parent / "data" / "funnel_nuts_divergent.npz")
    idata = make_container(posterior={"x": saved["x"], "v": saved["v"]}, sample_stats={"diverging": saved["diverging"]})
    with pm.Model() as m:
        v = pm.Normal("v", 0, 2.0)
        pm.Normal("x", 0, pm.math.exp(v / 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(idata, model=m, var_names=["x"], centers={"x": 0.0}, warn=False)
    assert [(f.kind, f.variable, f.center) for f in res.findings] == [("sampler", "x", "0")], res
    assert not any("confirms the draws" in note for note in res.notes)
    assert "non-centred" in res.findings[0].advice  # (v parameterises x: a hierarchy to reparameterise)
    # outside check: a model with no hierarchy (a truncated normal) was advised a non-centred
    # parameterisation too; the same draws against a model where x depends on nothing
    # (its density puts more mass near 0 than the draws: nothing confirms them, the finding stands)
    with pm.Model() as flat:
        pm.Normal("v", 0, 2.0)
        pm.Normal("x", 0, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.check(idata, model=flat, var_names=["x"], centers={"x": 0.0}, warn=False)
    (f,) = [f for f in res.findings if f.kind == "sampler"]
    assert "non-centred" not in f.advice and "no hierarchy" in f.advice


def test_model_density_confirms_draws_only_with_agreeing_chains_index_and_mass():
    from pymc_localmass.check import _MASS_TOP, _model_confirms_draws

    mt = {"a": 1.0, "a_lower": 0.99, "a_upper": 1.01, _MASS_TOP: (0.02, 0.0155, 0.0155, 0.0155)}
    irow = {"a": 1.1, "a_lower": 0.0, "a_upper": 4.5, "chain_z": 1.1, "n_divergent": 46.0, "r_resolved": 0.02}
    drawn = (0.0105, 0.006, 0.017)
    assert _model_confirms_draws(mt, irow, drawn)
    # the draws reach the centre less often than the density says: the finding stands
    assert not _model_confirms_draws(mt, irow, (0.004, 0.002, 0.008))
    # chains that disagree there, no divergences (the status is the chains'), a thinning (a = inf)
    assert not _model_confirms_draws(mt, dict(irow, chain_z=5.0), drawn)
    assert not _model_confirms_draws(mt, dict(irow, n_divergent=0.0), drawn)
    assert not _model_confirms_draws(dict(mt, a=np.inf, a_lower=16.0, a_upper=np.inf), dict(irow, a=np.inf), drawn)
    # a model mass averaged over the sampler's draws of other variables (not exact): it inherits their bias
    assert not _model_confirms_draws(dict(mt, **{_MASS_TOP: (0.02, 0.0155, 0.0140, 0.0170)}), irow, drawn)
    # indices that disagree; a model reading below the draws' resolved radius (the tier's fallback)
    assert not _model_confirms_draws(dict(mt, a=3.0, a_lower=2.9, a_upper=3.1), dict(irow, a_upper=2.0), drawn)
    assert not _model_confirms_draws(dict(mt, **{_MASS_TOP: (0.002, 0.0016, 0.0016, 0.0016)}), irow, drawn)


def test_compare_with_a_pinned_element_and_colliding_names():
    # outside check: one element that never varies (a pinned entry, a constant Deterministic) made
    # compare() and report() raise for the whole variable ("reaches neither a fit's known support ...");
    # and fits named 1 and "1" were compared as one, without a word
    import xarray as xr

    rng = np.random.default_rng(8)
    th = rng.normal(size=(4, 300, 3))
    th[..., 1] = 2.5
    d = xr.Dataset({"theta": (("chain", "draw", "k"), th)}, coords={"k": ["a", "b", "c"]})
    th2 = rng.normal(size=(4, 300, 3)) * 1.1
    th2[..., 1] = 2.5
    d2 = xr.Dataset({"theta": (("chain", "draw", "k"), th2)}, coords={"k": ["a", "b", "c"]})
    cmp = compare({"A": d, "B": d2}, centers=0.0)
    assert cmp["region"].values.tolist() == ["theta[a] @ 0", "theta[b] @ 0", "theta[c] @ 0"]
    row = compare_summary(cmp).loc[("B", "theta[b] @ 0")]
    assert not row["resolved"] and np.isnan(row["ratio"])  # no draw within reach: nothing to compare
    assert compare_summary(cmp).loc[("B", "theta[a] @ 0"), "resolved"]
    # a variable no element of which any fit reaches is still an error
    with pytest.raises(ValueError, match="reaches neither a fit.s known support nor any fit.s draws"):
        compare({"A": d, "B": d2}, centers=40.0, radii=[0.5, 1.0])
    with pytest.raises(ValueError, match="the fit names '1' collide once written as text"):
        compare({1: d, "1": d2}, centers=0.0)
