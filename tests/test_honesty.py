"""Every Mass Index from draws says how far its evidence reaches (issue 11).

The cases are the ones a diagnostic is read in: a centre the draws never
reach, a sampler that stops short of a boundary, chains that disagree near
the centre, divergent transitions crowding there, a log factor the draws
cannot separate from the power. Each is checked against the truth it hides.
"""

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import pymc_localmass as plm
from pymc_localmass.core.curves import INDEX_STATS, STATUS_WORDS, local_mass_curves
from pymc_localmass.results import status_note

from conftest import make_container


def _row(x, center, **kw):
    _, idx = local_mass_curves(x, center=center, **kw)
    return dict(zip(INDEX_STATS, idx))


def _word(row):
    return STATUS_WORDS[int(row["status"])]


@pytest.fixture(scope="module")
def normal_draws():
    return np.random.default_rng(7).normal(size=(4, 1000))


@pytest.mark.parametrize("center", [5.0, 8.0, -6.0])
def test_far_center_is_unresolved_not_a_confident_index(normal_draws, center):
    # N(0, 1) has a positive density at every centre: the truth is a = 1. The draws
    # never come near 5, 8 or -6, so the honest answer is "no index", [0, inf]
    row = _row(normal_draws, center)
    assert _word(row) == "unresolved"
    assert np.isnan(row["a"]) and row["a_lower"] == 0 and np.isposinf(row["a_upper"])
    assert row["nearest"] == pytest.approx(np.abs(normal_draws - center).min())
    assert row["r_resolved"] > row["nearest"]
    assert row["n_near"] < 20


def test_far_center_before_the_fix_was_confidently_wrong(normal_draws):
    # guard: the interval must hold the truth a = 1 whatever the status
    for c in (3.0, 4.0, 5.0, 8.0):  # (just beyond the largest draw is a grey zone: docs/schema.md)
        row = _row(normal_draws, c)
        assert row["a_lower"] <= 1.0 <= row["a_upper"] or _word(row) != "ok", c


def test_center_near_the_mass_stays_ok():
    x = np.abs(np.random.default_rng(3).normal(size=(4, 1000)))
    row = _row(x, 0.0)
    assert _word(row) == "ok"
    assert row["a_lower"] <= 1.0 <= row["a_upper"]
    assert 0 < row["nearest"] < row["r_resolved"] < 0.05


def test_chains_cut_off_above_zero_are_unresolved():
    # a half-normal scale whose chains never go below 0.045 (a stuck sampler, imitated):
    # the draws start abruptly at a positive distance; before, a = 1300 "ok"
    rng = np.random.default_rng(2)
    h = np.abs(rng.normal(size=(4, 4000)))
    h = h[h > 0.045][:4000].reshape(4, 1000)
    row = _row(h, 0.0)
    assert _word(row) == "unresolved"
    assert np.isnan(row["a"]) and np.isposinf(row["a_upper"])
    assert "stop short" in status_note(row, "s", "0")


def test_smooth_decay_faster_than_any_power_is_still_inf():
    # InverseGamma(3) at 0: a = inf, and the draws do resolve the decay
    rng = np.random.default_rng(4)
    x = stats.invgamma(3).rvs((4, 1000), random_state=rng)
    row = _row(x, 0.0)
    assert np.isposinf(row["a"]) and _word(row) == "ok"


def test_one_chain_elsewhere_is_a_sampler_finding():
    rng = np.random.default_rng(5)
    x = np.abs(rng.normal(size=(4, 1000)))
    x[3] += 0.3  # one chain never comes within 0.3 of 0
    row = _row(x, 0.0)
    assert _word(row) == "sampler"
    assert row["chain_z"] > 4
    clean = _row(np.abs(rng.normal(size=(4, 1000))), 0.0)
    assert clean["chain_z"] < 4 and _word(clean) == "ok"


def test_agreeing_autocorrelated_chains_are_no_sampler_finding():
    # well-mixed stationary AR(0.9) chains, 4 x 500 draws of 100 elements each (an outside test's
    # random walk): the chains' shares near the mean were compared in "standard errors" whose variance
    # has 28 degrees of freedom, read as normal; 3 of these 600 elements read chain_z > 4, "sampler"
    zs, words = [], []
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        e = rng.standard_normal((4, 500, 100))
        x = np.empty_like(e)
        x[:, 0] = e[:, 0]
        for t in range(1, 500):
            x[:, t] = 0.9 * x[:, t - 1] + np.sqrt(1 - 0.9**2) * e[:, t]
        rows = plm.summary({"x": x})
        zs.extend(rows["chain_z"])
        words.extend(rows["status"])
    assert max(zs) < 4 and "sampler" not in words
    # (the normal deviate of the t's tail: about 1 in 100 above 3, as the max of four |N(0, 1)|)
    assert 0.002 < np.mean(np.array(zs) > 3) < 0.03


def test_a_bend_in_the_widest_window_only_is_no_thin_tail():
    # Gamma(0.5) at 1 (its 84th percentile, a smooth density, a = 1): Lepski's rule kept the widest
    # window, which reaches the pole at 0 and bends; every narrower window is steady and reads
    # a = 1, yet 18 of 20 replicates said "unresolved ... a thin tail, or a trough"
    data = {f"e{i}": np.random.default_rng(i).gamma(0.5, size=(4, 1000)) for i in range(20)}
    rows = plm.summary(data, centers={k: 1.0 for k in data}, independent=True)
    assert (rows.status == "ok").all()
    assert ((rows.a_lower <= 1) & (1 <= rows.a_upper)).sum() >= 18  # 94% intervals
    assert (rows.n_window < 1800).sum() >= 15  # read on a narrower window
    # a centre the draws barely reach stays unresolved (N(0, 1) at 3)
    far = {f"e{i}": np.random.default_rng(50 + i).normal(size=(4, 1000)) for i in range(10)}
    assert (plm.summary(far, centers={k: 3.0 for k in far}, independent=True).status == "unresolved").all()


def test_divergences_crowding_near_the_center_are_a_sampler_finding():
    rng = np.random.default_rng(6)
    x = np.abs(rng.normal(size=(4, 1000)))
    near = np.argsort(x.ravel())[:300]  # divergences among the 300 draws nearest 0
    div = np.zeros(4000, bool)
    div[rng.choice(near, 40, replace=False)] = True
    row = _row(x, 0.0, divergent=div.reshape(4, 1000))
    assert _word(row) == "sampler"
    assert row["n_divergent"] == 40 and row["divergent_near"] >= 3
    # the same number of divergences spread over the draws says nothing about the centre
    spread = np.zeros(4000, bool)
    spread[rng.choice(4000, 40, replace=False)] = True
    assert _word(_row(x, 0.0, divergent=spread.reshape(4, 1000))) == "ok"


def test_log_density_interval_holds_the_truth():
    # density (1/2) log(1/|x|) at 0: (a, b) = (1, 1). A power law over the draws reads
    # a = 0.8 with a tight interval; a's interval must hold every a compatible with b's
    rng = np.random.default_rng(8)
    u1, u2 = rng.random((2, 40, 4, 1000))
    x = u1 * u2 * np.where(rng.random((40, 4, 1000)) < 0.5, -1, 1)
    _, idx = local_mass_curves(x, center=0.0)
    lo, hi = idx[:, INDEX_STATS.index("a_lower")], idx[:, INDEX_STATS.index("a_upper")]
    cover = np.mean((lo <= 1) & (1 <= hi))
    # 40 replicates: at a true coverage of 0.89 the count is >= 30 with probability 0.99
    assert cover >= 0.75, cover



def test_log_density_interval_holds_the_truth_when_the_chosen_window_reaches_the_unit():
    # the same log singularity at 0 ((a, b) = (1, 1)), beside a bulk 0.25 away: the widest
    # window reaches about one sd, where no log term can be fitted, and its power law reads
    # a = 0.7 [0.55, 0.94]; before the narrower windows' log term entered the interval,
    # 8 of these 20 "ok" rows held a = 1 (a horseshoe coefficient from NUTS read
    # 0.61 [0.49, 0.75] the same way; core.index._log_term_from_narrower)
    def draws(seed):
        rng = np.random.default_rng(seed)
        spike = rng.choice([-1.0, 1.0], 4000) * rng.random(4000) * rng.random(4000) * 0.3
        return np.where(rng.random(4000) < 0.5, rng.normal(0.25, 0.08, 4000), spike).reshape(4, 1000)

    rows = plm.summary({f"s{k}": draws(k) for k in range(20)}, centers=0.0, independent=True)
    read = rows[rows.status.isin(["ok", "log-ambiguous"])]
    assert len(read) >= 18, rows.status.value_counts()
    held = int(((read.a_lower <= 1) & (read.a_upper >= 1)).sum())
    # at the nominal 0.89 about 18 of 20 hold it (17.8); the power law alone held 8
    assert held >= 16, read[["a", "a_lower", "a_upper", "b"]]

def test_summary_has_status_and_note_columns(normal_draws):
    df = plm.summary({"x": normal_draws}, centers=[0.0, 8.0])
    assert list(df.columns[-2:]) == ["status", "note"]
    far = df.loc[("x", "8")]
    assert far["status"] == "unresolved"
    assert "sd of x = 8" in far["note"] and "method='model'" in far["note"]
    for st, note in zip(df["status"], df["note"]):
        assert (st == "ok") == (note == "")


def test_status_survives_netcdf(tmp_path, normal_draws):
    idata = make_container(posterior={"x": normal_draws})
    out = plm.add_local_mass(idata, centers={"x": [0.0, 8.0]})
    path = tmp_path / "fit.nc"
    out.to_netcdf(str(path))
    import arviz as az

    back = az.from_netcdf(str(path))  # both generations read it back
    df = plm.summary(back)
    assert df.loc[("x", "8"), "status"] == "unresolved"
    assert np.isnan(df.loc[("x", "8"), "a"])
    plm.validate(plm.results.read(back)[1], "local_mass_index")


def test_validate_rejects_unknown_status_codes(normal_draws):
    idx = plm.mass_index({"x": normal_draws})
    bad = idx.copy(deep=True)
    bad["x"].loc[{"index_stat": "status"}] = 17.0
    with pytest.raises(ValueError, match="status"):
        plm.validate(bad, "local_mass_index")


def test_check_warns_on_unresolved_center(normal_draws):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = plm.check({"x": normal_draws}, centers={"x": [0.0, 8.0]})
    kinds = [f.kind for f in res.findings]
    assert kinds == ["unresolved"]
    assert any(isinstance(w.message, plm.LocalMassWarning) and "x near 8" in str(w.message) for w in rec)


def _hierarchical(centred, seed=3):
    """12 groups x 10 observations, true group sd 0.05: the centred model's funnel (NUTS seed ``seed``)."""
    import pymc as pm

    rng = np.random.default_rng(11)
    J, n = 12, 10
    g = np.repeat(np.arange(J), n)
    y = rng.normal(0, 0.05, J)[g] + rng.normal(0, 1, J * n)
    with pm.Model() as m:
        mu = pm.Normal("mu", 0, 1)
        sa = pm.HalfNormal("sigma_a", 1)
        if centred:
            a = pm.Normal("a", mu, sa, shape=J)
        else:
            z = pm.Normal("z", 0, 1, shape=J)
            a = pm.Deterministic("a", mu + sa * z)
        pm.Normal("y", a[g], 1, observed=y)
    with m, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(500, tune=500, chains=2, cores=1, random_seed=seed, progressbar=False,
                          compute_convergence_checks=False)
    return m, idata


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 1, 5])
def test_centred_hierarchy_is_a_sampler_finding_not_a_clean_index(seed):
    # (seed 5: the draws thin out towards 0 without an edge, a = inf [6.2, inf] read "ok"; 2 of its
    # 11 divergences lie among the nearest 5% of the draws, and a = inf with divergences leaning
    # towards the centre is now the sampler's reading)
    # NUTS on the centred model diverges in the funnel's neck and never reaches sigma_a
    # near 0 properly: no clean a = inf, and check() warns about sigma_a by default. (Seed 1's
    # nearest draw is 0.31 sd from 0, seed 3's 0.15: the default centres used to include 0
    # only within a quarter sd, so seed 1, like 10 of 12 seeds, had no finding at all.)
    model, idata = _hierarchical(centred=True, seed=seed)
    df = plm.summary(idata, var_names=["sigma_a"], centers={"sigma_a": 0.0})
    row = df.loc[("sigma_a", "0")]
    assert row["status"] in ("sampler", "unresolved")
    assert not (np.isposinf(row["a"]) and row["status"] == "ok")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = plm.check(idata, var_names=["sigma_a"])  # default centres: the boundary 0 included
    found = [f for f in res.findings if f.variable == "sigma_a" and f.kind in ("sampler", "unresolved")]
    assert found and "non-centred" in found[0].advice
    assert any(isinstance(w.message, plm.LocalMassWarning) and "sigma_a" in str(w.message) for w in rec)
    # with model= the model tier was read: the advice no longer says to run check(idata, model=model)
    res_m = plm.check(idata, model=model, var_names=["sigma_a"], warn=False)
    fm = [f for f in res_m.findings if f.variable == "sigma_a" and f.kind == "sampler"]
    assert fm and all("model=model" not in f.advice for f in fm)


@pytest.mark.slow
def test_noncentred_hierarchy_is_ok_and_holds_the_truth():
    # the same data non-centred: NUTS reaches sigma_a = 0, whose index is 1 (HalfNormal prior,
    # a likelihood smooth and positive there)
    model, idata = _hierarchical(centred=False)
    row = plm.summary(idata, var_names=["sigma_a"], centers={"sigma_a": 0.0}).loc[("sigma_a", "0")]
    assert row["status"] == "ok"
    assert row["a_lower"] <= 1.0 <= row["a_upper"]
    res = plm.check(idata, model=model, var_names=["sigma_a"], centers={"sigma_a": 0.0}, warn=False)
    assert res.ok


# ----------------------------------------------------------------------------- outside findings (2026-12-05)
def test_nothing_resolved_is_unresolved():
    # min_ess above every ball's effective draws: no radius is resolved (r_resolved = inf),
    # so no index is claimed, and the note says why
    row = _row(np.random.default_rng(0).normal(size=(4, 1000)), 0.0, min_ess=1e9)
    assert np.isposinf(row["r_resolved"])
    assert _word(row) == "unresolved"
    assert np.isnan(row["a"]) and row["a_lower"] == 0 and np.isposinf(row["a_upper"])
    assert "resolve no radius" in status_note(row, "x", "0")


def _metropolis(rng, n, step):
    """Random-walk Metropolis on N(0, 1): rejected proposals repeat the current draw."""
    out, cur = np.empty(n), 0.0
    for t in range(n):
        prop = cur + step * rng.standard_normal()
        if np.log(rng.random()) < 0.5 * (cur * cur - prop * prop):
            cur = prop
        out[t] = cur
    return out


@pytest.mark.parametrize("center", ["median", "mode"])
def test_repeated_draws_of_one_visit_are_no_atom(center):
    # a wide step rejects often: the median or mode centre is a repeated draw, but
    # its ties come from one run (one effective draw); N(0, 1) has no atom, a = 1
    hits = 0
    for seed in range(4):
        rng = np.random.default_rng(seed)
        x = np.stack([_metropolis(rng, 2000, 8.0) for _ in range(4)])
        row = _row(x, center)
        hits += _word(row) == "atom"
        assert row["atom"] == 0.0
    assert hits == 0


def test_an_atom_visited_again_and_again_stays_an_atom():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 1000))
    x[rng.random((4, 1000)) < 0.05] = 0.0  # 5% at 0, visited throughout every chain
    row = _row(x, 0.0)
    assert _word(row) == "atom"
    assert row["atom_lower"] <= np.mean(x == 0) <= row["atom_upper"]


def test_index_from_curves_of_a_far_center_is_unresolved(normal_draws):
    # the curve path (mass_index of local_mass's curves) has no draws to test for a
    # gap, but it knows how many effective draws its balls hold within one sd
    curves = plm.local_mass({"x": normal_draws}, centers={"x": [10.0]})
    idx = plm.mass_index(curves)["x"].sel(center="10").to_series().to_dict()
    assert _word(idx) == "unresolved"
    assert np.isnan(idx["a"]) and idx["a_lower"] == 0 and np.isposinf(idx["a_upper"])
    assert idx["n_near"] < 20 and idx["r_resolved"] > 5
    assert "within one sd" in status_note(idx, "x", "10")
    # at the mean the curve reaches the centre: an index with an interval holding a = 1
    curves = plm.local_mass({"x": normal_draws}, centers={"x": ["mean"]})
    idx = plm.mass_index(curves)["x"].sel(center="mean").to_series().to_dict()
    assert _word(idx) in ("ok", "log-ambiguous")
    assert idx["a_lower"] <= 1.0 <= idx["a_upper"] and idx["n_near"] > 1000


def test_one_divergence_near_a_far_center_is_no_sampler_finding(normal_draws):
    # 13 divergences spread over the draws; one falls among the nearest to x = 30
    # (about 0.65 are expected there): the row is unresolved, not a sampler warning
    x = normal_draws
    order = np.argsort(np.abs(x - 30.0).ravel())
    div = np.zeros(x.size, bool)
    div[order[0]] = True
    div[np.random.default_rng(2).choice(order[2000:], 12, replace=False)] = True
    row = _row(x, 30.0, divergent=div.reshape(x.shape))
    assert row["divergent_near"] >= 1
    assert _word(row) == "unresolved"
    # many divergences near the unreached centre still lean towards it
    many = np.zeros(x.size, bool)
    many[order[:30]] = True
    many[np.random.default_rng(3).choice(order[2000:], 10, replace=False)] = True
    assert _word(_row(x, 30.0, divergent=many.reshape(x.shape))) == "sampler"


def test_lattice_with_divergences_at_their_share_stays_a_lattice():
    # from a NUTS run (outside testing): k = floor(2 theta), 2 chains x 500 draws, 58
    # divergences, 18 of them at the nearest value 0 that holds 308 of the 1000 draws
    # (no excess): the row is the lattice's exact reading, not a sampler warning
    from pathlib import Path

    data = np.load(Path(__file__).parent / "data" / "lattice_divergences.npz")
    k, div = data["k"], data["div"]
    assert div.sum() == 58
    assert _word(_row(k, "mean")) == "lattice"
    assert _word(_row(k, "mean", divergent=div)) == "lattice"
    # divergences crowding at the nearest value (all 58 there: far beyond its share) are
    # recorded, but the lattice's reading is exact whatever the sampler did: still a lattice
    crowd = div | (k == k.flat[np.argmin(np.abs(k - k.mean()).ravel())])
    row = _row(k, "mean", divergent=crowd)
    assert row["divergent_near"] >= 0.5 * crowd.sum() and _word(row) == "lattice"
    assert np.isposinf(row["a"])


@pytest.mark.parametrize("gap", [0.05, 0.2])
def test_index_from_curves_of_draws_with_a_gap_is_unresolved(gap):
    # N(0, 1) draws with nothing within `gap` of 0: the curve path read a = 1.03 [0.65, 1.4]
    # ("ok") at a 0.05 gap and a = 40 [0, 1040] at 0.2 (its slopes rise as the radius shrinks
    # to the smallest resolved one); the draws path says unresolved (an edge). Now both do
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 4000))
    z = np.where(np.abs(z) < gap, np.sign(z) * gap + z, z)
    for idx in (plm.mass_index(plm.local_mass({"x": z}, centers={"x": [0.0]})), plm.mass_index({"x": z},
                                                                                              centers={"x": [0.0]})):
        row = idx["x"].sel(center="0").to_series().to_dict()
        assert _word(row) == "unresolved"
        assert np.isnan(row["a"]) and row["a_lower"] == 0 and np.isposinf(row["a_upper"])
        assert row["r_resolved"] >= gap
    note = status_note(plm.mass_index(plm.local_mass({"x": z}, centers={"x": [0.0]}))["x"]
                       .sel(center="0").to_series().to_dict(), "x", "0")
    assert "steepens without bound" in note and "nan" not in note


@pytest.mark.parametrize("case", ["normal@0", "normal@1", "halfnormal@0", "gamma8@0", "uniform@0.01",
                                  "cauchy@0", "ar0.9@0"])
def test_index_from_curves_of_smooth_draws_does_not_steepen(case):
    # the steepening test keeps its level on smooth densities (interior, boundary, steep power,
    # heavy tail, autocorrelated draws): lambda's z stays below the 0.999 quantile
    from pymc_localmass.core.index import curve_steepens

    rng = np.random.default_rng(11)
    z = rng.standard_normal((4, 4000))
    x, c = {"normal@0": (z, 0.0), "normal@1": (z, 1.0), "halfnormal@0": (np.abs(z), 0.0),
            "gamma8@0": (rng.gamma(8.0, size=(4, 4000)), 0.0), "uniform@0.01": (rng.random((4, 4000)), 0.01),
            "cauchy@0": (rng.standard_cauchy((4, 4000)), 0.0), "ar0.9@0": (None, 0.0)}[case]
    if x is None:
        x = np.zeros((4, 4000))
        for t in range(1, 4000):
            x[:, t] = 0.9 * x[:, t - 1] + np.sqrt(0.19) * z[:, t]
    cur = plm.local_mass({"x": x}, centers={"x": [c]})["x"].isel(center=0)
    g = lambda s: cur.sel(local_stat=s).values  # noqa: E731
    steep, zz = curve_steepens(g("radius"), g("mass"), g("mass_lower"), g("mass_upper"), g("resolved") > 0.5,
                               float(np.std(x)))
    assert not steep and np.isfinite(zz) and zz < 2.5


def test_trough_between_modes_is_not_a_confident_index():
    # 0.5 N(-3, 1) + 0.5 N(3, 0.5) at 0: the density there is positive (a = 1), but the
    # narrowest window (5% of the draws) reaches 1.7 out, into the modes' shoulders, where the
    # slope rises to 3. It read "ok" with a near 2 and an interval excluding 1 in 47% of
    # replicates (outside check); the rising slope now makes it unresolved. The guard must
    # leave smooth interior centres alone (normal at its mean, 1.5 sd out, Cauchy: their
    # slopes fall or barely rise across the window)
    rng = np.random.default_rng(14)
    R = 100

    def rows(x, c):
        idx = plm.mass_index({"x": x}, centers=c)["x"].isel(center=0)
        return {k: idx.sel(index_stat=k).values for k in ("a", "a_lower", "a_upper", "status")}

    pick = rng.random((4, 1000, R)) < 0.5
    mix = np.where(pick, rng.normal(-3, 1, (4, 1000, R)), rng.normal(3, 0.5, (4, 1000, R)))
    r = rows(mix, 0.0)
    ok = r["status"] == STATUS_WORDS.index("ok")
    wrong = ok & ((r["a_upper"] < 1.0) | (r["a_lower"] > 1.0))
    assert wrong.mean() <= 0.1, f"{wrong.mean():.2f} of troughs read ok and exclude a = 1"
    # the index fitted from the curves (mass_index(local_mass(...))): the trough's smallest balls
    # hold a dozen draws, flat within their noise, and the curvature fit took the rising slopes
    # to 0: "atom" in 86% of replicates; its slope's rise across the radii now says unresolved
    idx = plm.mass_index(plm.local_mass({"x": mix}, centers=0.0))["x"].isel(center=0)
    st, lo, hi = (idx.sel(index_stat=k).values for k in ("status", "a_lower", "a_upper"))
    assert np.mean(st == STATUS_WORDS.index("atom")) <= 0.1
    assert np.mean((st != STATUS_WORDS.index("unresolved")) & ((hi < 1.0) | (lo > 1.0))) <= 0.1
    # symmetric modes +-3 and +-2.5 sd from the trough: the slope rises like cosh across every
    # window, from 1 at the centre to 2.5-3 on the shoulders, and the quadratic curvature term
    # bends too little to show it. "ok" excluding a = 1 in 12% of replicates pooled (14% and
    # 9.5% at 200 each); the quartic term's test (CURVE_LEVEL) steps the window in and, at the
    # narrowest, leaves the row unresolved: 2.5% (expected about 5 of these 200)
    sym = []
    for m in (3.0, 2.5):
        pick = rng.random((4, 1000, R)) < 0.5
        z = rng.normal(size=(4, 1000, R))
        r = rows(np.where(pick, -m + z, m + z), 0.0)
        ok = r["status"] == STATUS_WORDS.index("ok")
        sym.append(ok & ((r["a_upper"] < 1.0) | (r["a_lower"] > 1.0)))
    assert np.mean(sym) <= 0.06, f"{np.mean(sym):.3f} of symmetric troughs read ok and exclude a = 1"
    for x, c in ((rng.normal(size=(4, 1000, R)), 0.0), (rng.normal(size=(4, 1000, R)), 1.5),
                 (rng.standard_cauchy(size=(4, 1000, R)), 0.0)):
        r = rows(x, c)
        assert np.mean(r["status"] == STATUS_WORDS.index("unresolved")) <= 0.05
        ok = r["status"] == STATUS_WORDS.index("ok")
        assert np.mean(ok & ((r["a_upper"] < 1.0) | (r["a_lower"] > 1.0))) <= 0.2


def test_joint_ball_in_many_dimensions_says_why_it_is_unresolved():
    # at the mode of N(0, I_5), 4000 draws put the nearest 0.2-0.5 from it and few within a
    # quarter of the unit (sqrt(5)): the row is unresolved (the index is not claimed), but the
    # one-dimensional notes said "thin tail or trough" or "the draws stop abruptly", neither true
    rng = np.random.default_rng(5)
    ds = {"x": rng.normal(size=(4, 1000, 5))}
    row = plm.summary(ds, centers={"x": 0.0}, joint=True).iloc[0]
    assert row["status"] == "unresolved"
    assert "5 coordinates" in row["note"] and "abruptly" not in row["note"]
    assert "even a mode's neighbourhood holds few draws" in row["note"]
    # a one-dimensional row keeps its own note
    one = plm.summary({"x": rng.normal(size=(4, 1000))}, centers={"x": 3.2}).iloc[0]
    assert one["status"] == "unresolved" and "coordinates" not in one["note"]


def test_joint_ball_with_unequal_scales_is_not_a_confident_index():
    # N(0, diag(1, 4, 9, 16, 25)) at its mean: the index is 5 only below the smallest principal
    # scale; above it the narrow directions are filled and the slope falls towards the wide
    # ones'. The unit was sqrt(sum of variances) = 7.4, whose quarter reaches far past sd 1, and
    # 15 of 20 replicates read "ok" near 3.9 with an interval excluding 5; the unit is now the
    # principal one, sqrt(5 lambda_min), and the windows stop below it
    bad = 0
    for seed in range(8):
        x = np.random.default_rng(seed).normal(size=(4, 1000, 5)) * np.arange(1, 6)
        for norm in ("euclidean", "max"):
            row = plm.summary({"b": x}, joint=True, norm=norm).iloc[0]
            bad += row["status"] == "ok" and not (row["a_lower"] <= 5 <= row["a_upper"])
    assert bad <= 1
    # strongly correlated coordinates under the scaled norm (the correlation matrix's smallest
    # eigenvalue, 0.1): a = inf "ok" in 13 of 20 replicates before
    cov = np.full((5, 5), 0.9) + 0.1 * np.eye(5)
    x = np.random.default_rng(3).multivariate_normal(np.zeros(5), cov, size=(4, 1000))
    row = plm.summary({"b": x}, joint=True, norm="scaled").iloc[0]
    assert not (row["status"] == "ok" and np.isinf(row["a"]))
    # two coordinates with sds 1 and 5 still read a = 2 (the windows stop below the unit)
    ok = 0
    for seed in range(8):
        x = np.random.default_rng(seed).normal(size=(4, 1000, 2)) * np.array([1.0, 5.0])
        row = plm.summary({"b": x}, joint=True).iloc[0]
        ok += row["status"] in ("ok", "log-ambiguous") and row["a_lower"] <= 2 <= row["a_upper"]
    assert ok >= 6


def test_check_warns_once_for_many_elements_with_the_same_finding():
    # a variable of 12 elements, every one far from the mass at the requested centre: 12
    # "unresolved" findings, but one warning line that names how many more (CheckResult.findings
    # keeps each); a variable with 2 such elements keeps one line each
    rng = np.random.default_rng(0)
    data = {"h": rng.normal(size=(4, 500, 12)), "g": rng.normal(size=(4, 500, 2))}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = plm.check(data, centers={"h": 9.0, "g": 9.0})
    lines = [str(w.message) for w in rec if isinstance(w.message, plm.LocalMassWarning)]
    assert sum(f.variable.startswith("h[") for f in res.findings) == 12
    h_lines = [s for s in lines if "h[" in s and "g[" not in s]
    assert len(h_lines) == 1 and "11 more elements of h" in h_lines[0]
    assert sum(s.startswith("g[") for s in lines) == 2


def test_sampler_note_leaves_out_an_undefined_rhat():
    # a chain with no draw in the ball leaves the ball indicator's R-hat undefined: the note
    # printed "R-hat of the ball indicator nan"
    from pymc_localmass.results import status_note

    row = {"status": "sampler", "chain_z": 31.6, "rhat": float("nan"), "a": 1.0, "n_divergent": 0.0,
           "divergent_near": 0.0}
    note = status_note(row, "h[2]", "0")
    assert "differs from the others' by 31.6 standard errors" in note and "nan" not in note
    assert "R-hat of the ball indicator 1.200" in status_note({**row, "rhat": 1.2}, "h[2]", "0")


def test_joint_ball_over_many_coordinates_uses_the_sds_for_its_scales():
    # above PRINCIPAL_MAX_DIM coordinates the spectrum is not computed: the sds stand in for it
    # (correlations unseen). 250 coordinates of sd 1 and 3: computed, and unresolved (no
    # confident index where 4,000 draws cannot reach a 250-dimensional ball's small radii)
    from pymc_localmass.tiers import samples

    assert samples.PRINCIPAL_MAX_DIM < 250
    x = np.random.default_rng(2).normal(size=(4, 1000, 250)) * np.where(np.arange(250) % 2, 1.0, 3.0)
    ds = plm.mass_index({"b": x}, joint=True)
    row = ds["b"].isel(center=0)
    assert STATUS_WORDS[int(row.sel(index_stat="status"))] == "unresolved"
    assert np.isfinite(float(row.sel(index_stat="scale")))
    assert float(ds.attrs["index_window_cap"]) < float(row.sel(index_stat="scale"))


def test_one_divergence_does_not_make_an_unresolved_centre_a_sampler_finding():
    # an unbounded quantity whose draws happen to be positive (mu + sd z far from 0): check()'s
    # default centre 0 is unresolved there, and one divergence in the whole run, among the
    # nearest draws, read "sampler" ("1 of 1 divergent transitions ..."). Two near the centre,
    # more than its share, still do
    from conftest import make_container

    rng = np.random.default_rng(4)
    x = 3.0 + 0.5 * rng.normal(size=(2, 500))
    for n_near, want in ((1, "unresolved"), (2, "sampler")):
        div = np.zeros((2, 500), bool)
        div.flat[np.argsort(x, axis=None)[:n_near]] = True  # the draws nearest 0
        data = make_container(posterior={"g": x}, sample_stats={"diverging": div})
        row = plm.summary(data, centers={"g": 0.0}).iloc[0]
        assert row["status"] == want, (n_near, row["status"], row["note"])


def test_approximation_advice_does_not_send_the_user_to_doubtful_draws():
    # the centred hierarchy under ADVI: check() found the posterior's draws unreliable near tau = 0
    # (divergences crowd there) and, for ADVI's miss at the same region, advised "rely on the
    # posterior draws, not ADVI"
    from conftest import make_container

    rng = np.random.default_rng(3)
    tau = np.abs(rng.normal(size=(4, 1000)))
    div = np.zeros((4, 1000), bool)
    div.flat[np.argsort(tau, axis=None)[:12]] = True  # the draws nearest 0
    ref = make_container(posterior={"tau": tau}, sample_stats={"diverging": div})
    approx = {"tau": rng.lognormal(0.3, 0.25, size=(4, 1000))}  # almost no mass near 0
    # (factor 3: with none of the approximation's 4000 draws inside, its mass's upper end is loose
    # at ArviZ 0.x's ci_prob 0.94)
    res = plm.check(ref, approximations={"ADVI": approx}, warn=False, factor=3.0)
    kinds = {(f.kind, f.center): f for f in res.findings}
    assert ("sampler", "0") in kinds and ("approximation", "0") in kinds
    advice = kinds[("approximation", "0")].advice
    assert "rely on" not in advice and "not reliable near tau = 0" in advice
    # where the reference's draws do not reach the centre: no sampler advice either
    from pymc_localmass.check import render_finding

    # (the finding's radius is resolved by them, the smaller balls are not: rely on them down to it)
    figs = dict(kinds[("approximation", "0")].figures, reference_doubt="unresolved")
    _, _, adv = render_finding("approximation", "tau", 0.0, figs, model="ADVI")
    r = f"{figs['radius']:.3g}"
    assert f"rely on them, not ADVI, at radii of {r} and above" in adv and "sampler" not in adv
    assert "not the smaller balls around tau = 0" in adv and "plm.check(..., model=model)" in adv
    # outside check: with model= given, the advice asked for model= again
    _, _, adv = render_finding("approximation", "tau", 0.0, dict(figs, model_tried=True), model="ADVI")
    assert "model=model" not in adv and "the model's density could not read it either" in adv
    # where the reference is sound (its mean), the usual advice
    clean = plm.check({"tau": tau}, approximations={"ADVI": approx}, warn=False, factor=3.0)
    miss = [f for f in clean.findings if f.kind == "approximation" and f.center == "0"]
    assert miss and "rely on the posterior draws" in miss[0].advice


def test_disagreeing_chains_are_not_advised_a_non_centred_model():
    # a mixture's label switching (outside check: PyMC NormalMixture, 4 chains): one chain's
    # share of draws near the centre differs, with no divergence anywhere; the sampler advice
    # read "try a non-centred parameterisation" (still given where the run has divergences: the
    # centred funnel's chains disagree near its neck too, test above)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 1000))
    x[3] = rng.normal(2.5, 1.0, 1000)  # one chain in another mode
    row = plm.summary({"m": x}, centers={"m": 0.0}).iloc[0]
    assert row["status"] == "sampler" and row["chain_z"] > 3
    assert "chains do not agree" in row["note"] and "several modes" in row["note"]
    assert "non-centred" not in row["note"]
    res = plm.check({"m": x}, centers={"m": 0.0}, warn=False)
    assert [f.kind for f in res.findings] == ["sampler"]
    assert res.findings[0].advice.startswith("several modes") and "non-centred" not in res.findings[0].advice
    # divergences crowding near the centre keep the sampler advice
    div = np.zeros((4, 1000), bool)
    div.flat[np.argsort(np.abs(x).ravel())[:12]] = True
    from conftest import make_container

    res = plm.check(make_container(posterior={"m": x}, sample_stats={"diverging": div}), centers={"m": 0.0},
                    warn=False)
    assert "non-centred" in res.findings[0].advice


def test_joint_ball_at_an_edge_of_the_draws_models_the_boundary():
    # a joint ball at a simplex's corner (outside check): Dirichlet(1, 2, 37)'s first two coordinates
    # have density ~ y (1 - x - y)^36 near (0, 0), so m(r) ~ r^3; the windows' radii see the
    # (1 - x - y)^36 factor as a slope falling like c1 r, which the interior fit (c2 r^2) cannot
    # model: 2.4 "ok" excluding 3 in 19 of 30 replicates; Dirichlet(1, 1, 20) excluded its 2 in 11
    for alpha, truth in (((1, 2, 37), 3.0), ((1, 1, 20), 2.0)):
        wrong = 0
        for seed in range(10):
            d = np.random.default_rng(100 + seed).dirichlet(alpha, size=(4, 1000))
            r = plm.summary({"x": d[..., 0], "y": d[..., 1]}, joint=True, centers=0.0, independent=True).iloc[0]
            wrong += r["status"] == "ok" and not r["a_lower"] <= truth <= r["a_upper"]
        assert wrong <= 2, (alpha, wrong)  # about 3% expected; 4-6 of 10 before


def test_log_normal_at_zero_is_bounded_below_only():
    # a log-normal's mass at 0 decays faster than any power (a = inf), but only like
    # exp(-log(r)^2 / 2 sigma^2): at sigma = 0.8 the slope still rises towards 0 across every window
    # 4 x 1000 draws resolve, and the boundary fit's linear curvature extrapolated it to a finite
    # a = 2.8-6 with a finite interval, "ok", in 10 of 10 replicates. Such a rise (more than half
    # the index across the chosen window) leaves the interval open above
    # (the rise's lower end at the interval's level: ArviZ 0.x's 0.94 leaves one replicate closed)
    closed = []
    for seed in range(10):
        x = np.random.default_rng(seed).lognormal(0.5, 0.8, size=(4, 1000))
        r = plm.summary({"x": x}, centers=0.0, independent=True).iloc[0]
        if not (r["status"] == "unresolved" or np.isposinf(r["a_upper"])):
            closed.append((seed, r["a"], r["a_upper"]))
    assert len(closed) <= 1, closed
    # a boundary centre whose slope settles keeps its finite interval (half-normal, exponential at 0)
    for gen in (lambda g: np.abs(g.normal(size=(4, 1000))), lambda g: g.exponential(size=(4, 1000))):
        r = plm.summary({"x": gen(np.random.default_rng(1))}, centers=0.0, independent=True).iloc[0]
        assert r["status"] == "ok" and r["a_lower"] <= 1.0 <= r["a_upper"] < np.inf


@pytest.mark.parametrize("sigma", [1.2, 2.0])
def test_log_normal_at_zero_with_a_wide_log_sd_is_not_bounded_above(sigma):
    # at a log-sd of 1.2 or more the slope rises too slowly across a window to cross
    # BEND_LIMIT: with 32,768 independent draws every replicate read "ok" with a finite
    # interval (a about 2 [0.8, 12] at sigma 1.2, 1.2 [0.3, 4.3] at 2), though a = inf. The
    # one-sided test of a kappa log(r / R)^2 term on the widest window (LOG_RISE_LEVEL) sees
    # the slope still rising in log(1/r): open above in every replicate
    closed = []
    for seed in range(6):
        x = np.random.default_rng(seed).lognormal(0.5, sigma, size=(4, 8192))
        r = plm.summary({"x": x}, centers=0.0, independent=True).iloc[0]
        if not (r["status"] == "unresolved" or np.isposinf(r["a_upper"])):
            closed.append((seed, r["a"], r["a_upper"]))
    assert len(closed) <= 1, closed
    # densities analytic in r at 0 keep a finite upper end (Gamma(2): a = 2; Weibull(1.5): 1.5)
    for gen, truth in ((lambda g: g.gamma(2.0, size=(4, 8192)), 2.0),
                       (lambda g: g.weibull(1.5, size=(4, 8192)), 1.5)):
        r = plm.summary({"x": gen(np.random.default_rng(3))}, centers=0.0, independent=True).iloc[0]
        assert r["status"] == "ok" and r["a_lower"] <= truth <= r["a_upper"] < np.inf, r


def test_log_normal_at_zero_rises_on_a_window_of_fixed_count():
    # at log-sds 1 and 1.2 (4 x 1000 independent draws) the widest-window log-rise test left a
    # finite interval, excluding a = inf, in 15 of 40 replicates (read, not unresolved); the
    # same test on the window nearest LOG_RISE_DRAWS draws, beside linear curvature only, opens
    # them above: 7 of 40 stay closed (a bound of 8 leaves one replicate of slack between the
    # stacks, and fails the old rule by 7)
    closed = 0
    for sigma in (1.0, 1.2):
        data = {f"x{s}": np.random.default_rng(s).lognormal(0.5, sigma, size=(4, 1000)) for s in range(20)}
        t = plm.summary(data, centers={k: 0.0 for k in data}, independent=True)
        closed += int(((t.status != "unresolved") & np.isfinite(t.a_upper)).sum())
    assert closed <= 8, closed
    # regular boundary laws keep a closed interval that holds their index (half-normal: a = 1;
    # Gamma(2): 2; Weibull(1.5): 1.5), 20 replicates each
    for gen, truth in ((lambda g: np.abs(g.normal(size=(4, 1000))), 1.0),
                       (lambda g: g.gamma(2.0, size=(4, 1000)), 2.0),
                       (lambda g: g.weibull(1.5, size=(4, 1000)), 1.5)):
        data = {f"x{s}": gen(np.random.default_rng(s)) for s in range(20)}
        t = plm.summary(data, centers={k: 0.0 for k in data}, independent=True)
        assert not np.isposinf(t.a_upper).any(), t[np.isposinf(t.a_upper)]
        assert ((t.a_lower <= truth) & (truth <= t.a_upper)).sum() >= 18, t


def test_approximation_advice_names_a_family_richer_than_the_fits():
    # "try a family richer than Pathfinder's (mean-field, then full-rank ADVI, then Pathfinder ...)"
    # (outside check: Pathfinder and mean-field ADVI were told to try their own family)
    from pymc_localmass.check import render_finding

    figs = dict(radius=0.1, mass=1e-4, ref_mass=0.05, ref_mass_lower=0.03, ref_mass_upper=0.08, ratio=2e-3,
                ratio_lower=1e-3, ratio_upper=4e-3, phi_reverse=0.04)
    said = {k: render_finding("approximation", "mu", 4.5, dict(figs, fit_kind=k), model="Q")[2]
            for k in ("meanfield", "fullrank", "pathfinder", "laplace", None)}
    assert "full-rank ADVI" in said["meanfield"] and "mean-field" not in said["meanfield"]
    assert "full-rank" not in said["fullrank"] and "normalizing flow" in said["fullrank"]
    assert "more Pathfinder paths" in said["pathfinder"] and "ADVI" not in said["pathfinder"]
    assert "full-rank ADVI" in said["laplace"] and "richer family" in said[None]


def test_an_approximation_with_no_point_near_a_centre_is_given_a_bound():
    # the QMC tier's mass of a ball none of its points fall in is 0 with an upper end: the
    # finding said "puts 0 of its mass ... (where it has none)", as if exact
    from pymc_localmass.check import render_finding

    figs = dict(radius=1.4e-6, mass=0.0, mass_upper=5.6e-5, ref_mass=0.008, ref_mass_lower=0.0046,
                ref_mass_upper=0.013, ratio=0.0, ratio_lower=0.0, ratio_upper=0.019, phi_reverse=0.008)
    msg, _, _ = render_finding("approximation", "w[3]", 0.0, figs, model="ADVI", reference="posterior")
    assert "less than 5.6e-05 of its mass" in msg and "at least 53 times more" in msg
    assert "where it has none" not in msg
    exact = dict(figs, mass_upper=0.0, ratio_upper=0.0)
    msg, _, _ = render_finding("approximation", "w[3]", 0.0, exact, model="ADVI", reference="posterior")
    assert "puts 0 of its mass" in msg and "where it has none" in msg


def test_warnings_point_at_the_users_line():
    # the public wrapper, check() and the tiers nest to different depths; fixed stack levels
    # pointed every check() warning at pymc_localmass/_api.py ("return func(*args, **kwargs)")
    rng = np.random.default_rng(0)
    data = {"h": rng.normal(size=(4, 500)), "c": np.full((4, 500), 0.1)}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        plm.check(data, centers={"h": 9.0})
        plm.summary(data)
    assert rec and {w.filename for w in rec} == {__file__}


def test_sampler_note_does_not_say_the_draws_miss_a_centre_they_reach():
    # a sampler row without an index, but with 758 effective draws within one sd: the note said
    # "the draws do not reach scaled[0] = mean (1e+03 effective draws within one sd, ...)"
    from pymc_localmass.results import status_note

    row = {"status": "sampler", "a": float("nan"), "n_near": 758.0, "nearest": 0.0063, "chain_z": 0.6,
           "rhat": 1.0, "n_divergent": 133.0, "divergent_near": 9.0}
    note = status_note(row, "scaled[0]", "mean")
    assert "do not reach" not in note and "no index is read at scaled[0] = mean" in note
    assert "do not reach" in status_note({**row, "n_near": 3.0}, "scaled[0]", "mean")


def test_index_at_the_mode_is_not_biased_by_choosing_the_centre_from_the_draws():
    # outside check: the half-sample mode halved down to the tightest three draws, and the
    # index read at that cluster saw its chance excess of near draws as mass: "ok" intervals
    # held a = 1 in 54-65% of elements at the modes of a normal, a uniform and a half-normal
    # (a about 0.8-0.93). Halving stops at an eighth of the draws (MODE_STOP_FRACTION)
    rng = np.random.default_rng(3)
    for draws in (rng.normal(size=(4, 1000, 60)), np.abs(rng.normal(size=(4, 1000, 60)))):
        ds = xr.Dataset({"x": (("chain", "draw", "e"), draws)})
        s = plm.summary(ds, centers="mode", independent=True, round_to="none")
        read = s[s["status"].isin(["ok", "log-ambiguous"])]
        assert len(read) >= 50
        cover = ((read["a_lower"] <= 1) & (read["a_upper"] >= 1)).mean()
        assert cover >= 0.9, cover  # 0.97-1.0 now; 0.55-0.73 before
        assert abs(read["a"].median() - 1.0) < 0.05


def test_a_boundary_centre_few_draws_reach_is_unresolved():
    # outside check: nu ~ Exponential(0.1) as a Student-t's degrees of freedom (nu + 2) has a
    # positive density at nu = 0 (a = 1), but falls towards it steeply; NUTS's nearest draw was
    # 1.9 away, and the draws read 4.6 [4.0, inf] "ok", the tail's rise. Here: a density
    # rising like r^4 from 0.5, positive below (a = 1), with 4 x 1000 AR(0.9) draws: fewer
    # than BOUNDARY_REACH_ESS effective draws within a quarter sd of 0
    from pymc_localmass.core.index import BOUNDARY_REACH_ESS

    assert BOUNDARY_REACH_ESS == 10.0
    wrong = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        e = rng.standard_normal((4, 1000))
        z = np.empty_like(e)
        z[:, 0] = e[:, 0]
        for t in range(1, 1000):
            z[:, t] = 0.9 * z[:, t - 1] + np.sqrt(1 - 0.81) * e[:, t]
        u = stats.norm.cdf(z)
        # a mixture: 0.2% uniform on [0, 0.5] (density positive at 0), the rest 0.5 + Gamma(4)
        x = np.where(u < 0.002, u / 0.002 * 0.5, 0.5 + stats.gamma(4).ppf(np.clip((u - 0.002) / 0.998, 1e-12, 1)))
        r = plm.summary({"x": x}, centers=0.0).iloc[0]
        wrong += r["status"] in ("ok", "log-ambiguous") and not r["a_lower"] <= 1.0 <= r["a_upper"]
    assert wrong == 0
    # a boundary the draws do reach keeps its reading (Gamma(2) at 0, AR(0.9) draws: a = 2)
    rng = np.random.default_rng(1)
    e = rng.standard_normal((4, 1000))
    z = np.empty_like(e)
    z[:, 0] = e[:, 0]
    for t in range(1, 1000):
        z[:, t] = 0.9 * z[:, t - 1] + np.sqrt(1 - 0.81) * e[:, t]
    r = plm.summary({"x": stats.gamma(2).ppf(stats.norm.cdf(z))}, centers=0.0).iloc[0]
    assert r["status"] == "ok" and r["a_lower"] <= 2.0 <= r["a_upper"]


def test_a_few_divergences_toward_a_far_centre_are_no_sampler_finding():
    # outside check: a noise scale's 0, ten sd below its draws (none within one sd), read
    # "sampler" ("try a non-centred parameterisation") for 2 of a non-centred model's 6
    # divergences among its nearest draws (p = 0.03 at its share); far centres need
    # FAR_LEAN_LEVEL. All of a run's divergences there (2 of 2, p = 0.0025) still lean
    from conftest import make_container

    rng = np.random.default_rng(4)
    x = 3.0 + 0.5 * rng.normal(size=(2, 500))
    order = np.argsort(x, axis=None)
    div = np.zeros((2, 500), bool)
    div.flat[order[:2]] = True  # 2 among the nearest draws ...
    div.flat[order[-4:]] = True  # ... and 4 elsewhere
    row = plm.summary(make_container(posterior={"g": x}, sample_stats={"diverging": div}),
                      centers={"g": 0.0}).iloc[0]
    assert row["status"] == "unresolved", row["note"]


def test_a_tails_thinning_with_two_divergences_toward_a_far_centre_is_no_sampler_finding():
    # outside check, a NUTS run kept in tests/data: a quasi-separated logistic regression's
    # coefficient at 0 (none of its 2000 draws within 4.17, 10 effective draws within one sd); its
    # draws thin out towards 0 faster than any power, as any tail does where the data rule a value
    # out, and 2 of its 7 divergences (distance ranks 34 and 92) made it "sampler" with advice to
    # reparameterise. At a far centre that lean must pass FAR_LEAN_LEVEL, as an unresolved one does
    from pathlib import Path

    from conftest import make_container

    data = np.load(Path(__file__).parent / "data" / "separated_logistic_divergences.npz")
    b0, div = data["beta0"], data["diverging"]
    assert div.sum() == 7 and np.abs(b0).min() > 4
    row = plm.summary(make_container(posterior={"b": b0}, sample_stats={"diverging": div}),
                      centers={"b": 0.0}).iloc[0]
    assert row["divergent_near"] == 2 and row["n_near"] < 20
    assert row["status"] == "unresolved", row["note"]
    # all seven there would still lean (p < FAR_LEAN_LEVEL)
    near = np.zeros_like(div)
    near.flat[np.argsort(np.abs(b0), axis=None)[:7]] = True
    crowd = plm.summary(make_container(posterior={"b": b0}, sample_stats={"diverging": near}),
                        centers={"b": 0.0}).iloc[0]
    assert crowd["status"] == "sampler"


def test_log_ambiguous_note_says_which_interval_the_lean_is_tested_at():
    # outside check: at ci_prob 0.94 the note printed b's interval holding 0 beside the verdict
    # that the draws lean towards a log factor (tested at a fixed 90%, HULL_Z)
    from pymc_localmass.core.curves import STATUS_WORDS

    row = {"status": float(STATUS_WORDS.index("log-ambiguous")), "a_lower": 0.78, "a_upper": 1.8, "b": 0.9,
           "b_lower": -0.36, "b_upper": 2.1}
    note = status_note(row, "x", "0")
    assert "b = 0.9, whose 90% interval excludes 0" in note and "for b in [-0.36, 2.1]" in note


def test_mass_decaying_like_one_over_log_is_read_without_overflow_warnings():
    # X = exp(-1/U): P(X <= r) ~ 1 / log(1/r) at 0, (a, b) = (0, -1); the nearest draws lie near
    # 1e-279, and the fit's start (the cells' midpoints as products) underflowed: numpy warnings
    # and a = 1.0 [0, 17000] "ok"
    x = np.exp(-1 / np.random.default_rng(500).uniform(0.0015, 1, size=(4, 1000)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        row = plm.summary({"x": x}, centers=0.0).iloc[0]
    assert row.status in ("ok", "log-ambiguous")
    assert row.a_lower <= 0.02 and row.a_upper < 0.1, row[["a", "a_lower", "a_upper"]]
    assert row.b_lower <= -1 <= row.b_upper, row[["b", "b_lower", "b_upper"]]


def test_an_interval_that_allows_every_index_is_unresolved_and_wider_intervals_never_narrow():
    # draws like a Student-t's nu at 0 (log-normal, median 17: the slope rises without bound
    # towards 0 and the draws stop near 1.7): 6 of these 12 replicates read "ok" with a in [0, inf]
    # (one a = 50), and at 94% the bend's test, read at the interval's own level, gave
    # 3.1 [0, 257] where 89% gave [0, inf]. [0, inf] is no reading (unresolved), and the bend is
    # read at a fixed level, so a wider ci_prob never narrows the interval
    for seed in range(12):
        x = np.exp(np.random.default_rng(seed).normal(np.log(17.0), 0.75, (4, 500)))
        rows = [plm.summary({"nu": x}, centers={"nu": 0.0}, ci_prob=ci).iloc[0] for ci in (0.89, 0.94)]
        for r in rows:
            assert not (r.status == "ok" and r.a_lower <= 0 and np.isposinf(r.a_upper)), (seed, r.a)
        narrow, wide = rows
        assert wide.a_lower <= narrow.a_lower and wide.a_upper >= narrow.a_upper, seed
