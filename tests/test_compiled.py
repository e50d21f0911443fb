"""The compiled (numba) kernels against the numpy paths they replace.

The binned fit (core/binned.py):

Both run the same Fisher scoring and stop when the Newton decrement is at
most 1e-10: the log likelihood is then within about 1e-10 of its maximum and
each parameter within about sqrt(2e-10) = 1.4e-5 standard errors of the
optimum. Two runs that reach the optimum by paths that differ in rounding
therefore agree to 1e-4 standard errors (the tolerance below), and the
statuses, which compare estimates and likelihoods with thresholds of order
one standard error, agree on every row.

The ESS of batch means (core/ess.py): the numpy path computes the
autocovariances by FFT in float32, the kernel sums them directly in float64;
both feed the same Geyer sequence, so the ESS agrees to float32 rounding
(relative 1e-6 in the autocovariances; 1e-4 is allowed for its propagation
through the sequence), except where a pair sum lies within that rounding of
zero and the sequence stops one pair earlier or later in one of the paths.
"""

import numpy as np
import pytest

from pymc_localmass.core import _accel
from pymc_localmass.core._accel import kernel, use_compiled
from pymc_localmass.core.binned import bin_window, fit_binned
from pymc_localmass.core.curves import CURVE_STATS, INDEX_STATS, local_mass_curves
from pymc_localmass.core.ess import batch_means_ess

numba = pytest.importorskip("numba")


@pytest.fixture
def numpy_path():
    """Run a block on the numpy path, and restore the setting after."""
    before = _accel._STATE["switch"]
    yield lambda flag: use_compiled(flag)
    use_compiled(before)


def _distances(rng, E=60, n=4001):
    """Sorted distances of three kinds: m(r) = r^2 (uniform in a disc), |N(0, 1)|, and a far centre."""
    r = np.empty((E, n))
    r[: E // 3] = rng.random((E // 3, n)) ** 0.5
    r[E // 3: 2 * E // 3] = np.abs(rng.standard_normal((E // 3, n)))
    r[2 * E // 3:] = np.abs(3.0 + rng.standard_normal((E - 2 * E // 3, n)))
    return np.sort(r, axis=1)


@pytest.mark.parametrize("terms", [["a"], ["a", "b"], ["a", "c1", "c2"], ["a", "b", "c1"], ["a", "lam"]])
def test_compiled_fit_matches_numpy(rng, numpy_path, terms):
    counts, edges, R = bin_window(_distances(rng), 1500)
    scale = np.full(counts.shape[0], 3.0)
    numpy_path(False)
    th0, cov0, ll0 = fit_binned(counts, edges, R, scale, terms)
    numpy_path(True)
    assert kernel("_fit_rows") is not None
    th1, cov1, ll1 = fit_binned(counts, edges, R, scale, terms)
    assert th1.shape == th0.shape and cov1.shape == cov0.shape and ll1.shape == ll0.shape
    np.testing.assert_array_equal(np.isnan(th0), np.isnan(th1))
    np.testing.assert_array_equal(np.isfinite(cov0), np.isfinite(cov1))
    se = np.sqrt(np.diagonal(cov0, axis1=1, axis2=2))
    fine = np.isfinite(se)
    assert fine.sum() > 0.8 * se.size  # the comparison covers most rows
    np.testing.assert_array_less(np.abs(th1 - th0)[fine], 1e-4 * se[fine])
    np.testing.assert_allclose(ll1, ll0, rtol=0, atol=1e-8 * np.abs(ll0).max())
    np.testing.assert_allclose(cov1[np.isfinite(cov0)], cov0[np.isfinite(cov0)], rtol=1e-4)


def test_compiled_fit_given_features_and_start(rng, numpy_path):
    """The edge test's call: features given, a start given, rows that cannot start (-inf) stay NaN."""
    counts, edges, R = bin_window(_distances(rng, E=30), 800)
    X = np.log(edges / R[:, None])[..., None]  # the power law, given as a feature
    theta0 = np.ones((30, 1))
    theta0[:5] = -1.0  # M(r) = (r / R)^-1 falls outward: negative cell probabilities, no start
    out = []
    for flag in (False, True):
        numpy_path(flag)
        out.append(fit_binned(counts, edges, R, np.ones(30), ["gamma"], theta0=theta0, features=X))
    (th0, cov0, ll0), (th1, cov1, ll1) = out
    assert np.isnan(th0[:5]).all() and np.isnan(th1[:5]).all()
    assert np.isneginf(ll1[:5]).all() and np.isinf(cov1[:5]).all()
    se = np.sqrt(cov0[5:, 0, 0])
    np.testing.assert_array_less(np.abs(th1[5:, 0] - th0[5:, 0]), 1e-4 * se)
    # the start is not changed in place
    assert (theta0[:5] == -1.0).all() and (theta0[5:] == 1.0).all()


def test_compiled_fit_recovers_power_law(rng, numpy_path):
    """m(r) = r^2 exactly: a is 2 within its interval (the kernel on its own, not only against numpy)."""
    numpy_path(True)
    r = np.sort(rng.random((20, 20001)) ** 0.5, axis=1)
    counts, edges, R = bin_window(r, 10000)
    th, cov, _ = fit_binned(counts, edges, R, np.ones(20), ["a"])
    z = (th[:, 0] - 2.0) / np.sqrt(cov[:, 0, 0])
    assert np.all(np.abs(z) < 4.5)  # 20 rows: |z| < 4.5 fails with probability 1e-4 in all
    assert 0.2 < np.std(z) < 2.0


def test_index_rows_match_numpy(rng, numpy_path):
    """The whole index (every window, test and status) on the numpy and the compiled paths."""
    x = np.stack([rng.standard_normal((4, 1000)), np.abs(rng.standard_normal((4, 1000))),
                  rng.gamma(0.5, size=(4, 1000)), rng.standard_t(2, size=(4, 1000)),
                  rng.random((4, 1000)), np.concatenate([rng.normal(-3, 1, (4, 500)),
                                                         rng.normal(3, 1, (4, 500))], axis=1)])
    runs = []
    for flag in (False, True):
        numpy_path(flag)
        runs.append(local_mass_curves(x, center=np.zeros(6), threads=1))
    (c0, i0), (c1, i1) = runs
    cc = CURVE_STATS.index
    for name in ("radius", "mass", "slope", "resolved"):  # no ESS in these
        np.testing.assert_array_equal(c1[..., cc(name)], c0[..., cc(name)])
    for name in ("ess", "mass_lower", "mass_upper", "slope_lower", "slope_upper"):
        np.testing.assert_allclose(c1[..., cc(name)], c0[..., cc(name)], rtol=1e-4, atol=1e-12)
    col = INDEX_STATS.index
    np.testing.assert_array_equal(i1[:, col("status")], i0[:, col("status")])
    np.testing.assert_array_equal(i1[:, col("window")], i0[:, col("window")])
    for name in ("a", "a_lower", "a_upper"):
        v0, v1 = i0[:, col(name)], i1[:, col(name)]
        np.testing.assert_array_equal(np.isfinite(v0), np.isfinite(v1))
        width = (i0[:, col("a_upper")] - i0[:, col("a_lower")])[np.isfinite(v0)]
        np.testing.assert_array_less(np.abs(v1 - v0)[np.isfinite(v0)], 1e-3 * width + 1e-12)


def _ar1_batch_sums(rng, phi, lead, n=2000, n_b=128):
    """Per-batch sums of indicators 1{z < threshold} of AR(1) chains (4 chains), thresholds over lead[-1]."""
    z = np.empty(lead + (4, n))
    z[..., 0] = rng.standard_normal(lead + (4,))
    noise = rng.standard_normal(lead + (4, n)) * np.sqrt(1 - phi**2)
    for t in range(1, n):
        z[..., t] = phi * z[..., t - 1] + noise[..., t]
    thr = np.linspace(-2.0, 2.0, lead[-1]).reshape((1,) * (len(lead) - 1) + (lead[-1], 1, 1))
    batch = (np.arange(n) * n_b) // n
    sums = np.add.reduceat((z < thr).astype(float), np.searchsorted(batch, np.arange(n_b)), axis=-1)
    return sums, np.bincount(batch, minlength=n_b).astype(float)


@pytest.mark.parametrize("phi", [0.0, 0.9, 0.99])
def test_compiled_ess_matches_fft(rng, numpy_path, phi):
    sums, sizes = _ar1_batch_sums(rng, phi, (8, 12))
    numpy_path(False)
    e0 = batch_means_ess(sums, sizes)
    numpy_path(True)
    assert kernel("_geyer_rows") is not None
    e1 = batch_means_ess(sums, sizes)
    assert e1.shape == e0.shape == (8, 12)
    np.testing.assert_allclose(e1, e0, rtol=1e-4)
    # per-element sizes (left-out draws), an empty batch, a constant series
    sizes2 = np.broadcast_to(sizes, sums.shape).copy()
    sizes2[0, 0, 1, 5] = 0.0
    sums2 = sums.copy()
    sums2[0, 0, 1, 5] = 0.0
    sums2[1, 1] = sizes  # every draw inside: no variance, the number of draws
    out = []
    for flag in (False, True):
        numpy_path(flag)
        out.append(batch_means_ess(sums2, sizes2))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-4)
    assert out[1][1, 1] == sizes.sum() * 4


def test_compiled_ess_reads_autocorrelation(rng, numpy_path):
    """The kernel on its own: independent draws give about n, AR(1) at 0.9 about n (1 - 0.9) / (1 + 0.9) or more."""
    numpy_path(True)
    s0, sizes = _ar1_batch_sums(rng, 0.0, (1, 40))
    s9, _ = _ar1_batch_sums(rng, 0.9, (1, 40))
    n = 4 * 2000
    e0, e9 = batch_means_ess(s0, sizes)[0], batch_means_ess(s9, sizes)[0]
    assert 0.7 * n < np.median(e0) <= n
    # an indicator of an AR(1) chain mixes at least as fast as the chain itself
    assert n * 0.1 / 1.9 * 0.7 < np.median(e9) < 0.5 * n


def test_switch_follows_environment(monkeypatch, numpy_path):
    monkeypatch.setenv("PYMC_LOCALMASS_NUMBA", "0")
    numpy_path(None)
    assert kernel("_fit_rows") is None
    monkeypatch.setenv("PYMC_LOCALMASS_NUMBA", "1")
    numpy_path(None)
    assert kernel("_fit_rows") is not None
    numpy_path(False)
    assert kernel("_fit_rows") is None and use_compiled(True) is False


def _both(numpy_path, func):
    out = []
    for flag in (False, True):
        numpy_path(flag)
        out.append(func())
    return out


def test_compiled_fit_guards(rng, numpy_path):
    """Rows the fit cannot use come out as the numpy path leaves them: NaN counts, singular information."""
    counts, edges, R = bin_window(_distances(rng, E=12), 600)
    counts[0, 3] = np.nan  # a NaN count: no likelihood
    X = np.log(edges / R[:, None])[..., None]
    X2 = np.concatenate([X, X], axis=-1)  # duplicated feature: singular information
    for feats, start in ((X, np.ones((12, 1))), (X2, np.full((12, 2), 0.5))):
        (th0, cov0, ll0), (th1, cov1, ll1) = _both(
            numpy_path, lambda: fit_binned(counts, edges, R, np.ones(12), ["g"] * feats.shape[-1],
                                           theta0=start, features=feats))
        np.testing.assert_array_equal(np.isnan(th1), np.isnan(th0))
        np.testing.assert_array_equal(np.isfinite(cov1), np.isfinite(cov0))
        np.testing.assert_array_equal(np.isfinite(ll1), np.isfinite(ll0))
        assert np.isnan(th1[0]).all()
        # the sum of the duplicated pair is what the data fix (each half only by the ridge)
        np.testing.assert_allclose(th1[1:].sum(axis=1), th0[1:].sum(axis=1), rtol=1e-6)
    # max_iter is honoured: one Fisher step from a far start is not the optimum
    far = np.full((12, 1), 8.0)
    (a0, _, _), (a1, _, _) = _both(numpy_path, lambda: fit_binned(counts, edges, R, np.ones(12), ["g"],
                                                                   theta0=far, features=X, max_iter=1))
    np.testing.assert_allclose(a1[1:], a0[1:], rtol=1e-9)
    (b1, _, _) = fit_binned(counts, edges, R, np.ones(12), ["g"], theta0=far, features=X)
    assert np.all(np.abs(b1[1:] - a1[1:]) > 1e-3)


def test_compiled_fit_checks_shapes(rng, numpy_path):
    counts, edges, R = bin_window(_distances(rng, E=12), 600)
    numpy_path(True)
    with pytest.raises(ValueError, match="do not match"):
        fit_binned(counts, edges, R, np.ones(12), ["a"], theta0=np.ones((7, 1)))
    with pytest.raises(ValueError, match="do not match"):
        fit_binned(counts[:, :30], edges, R, np.ones(12), ["a"], theta0=np.ones((12, 1)),
                   features=np.log(edges / R[:, None])[..., None])
    # read-only inputs: the same answer (and no new signature for them)
    ro = counts.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(fit_binned(ro, edges, R, np.ones(12), ["a"])[0],
                                  fit_binned(counts, edges, R, np.ones(12), ["a"])[0])
    assert len(kernel("_fit_rows").signatures) == 1


def test_compiled_ess_guards(rng, numpy_path):
    """Negative autocorrelation (the tau floor), 2-D input, no series, a constant series."""
    alt = np.tile([3.0, 7.0], 64)[None, :].repeat(4, axis=0)  # alternating batch sums: tau at its floor
    alt = alt + rng.integers(0, 2, size=alt.shape)
    sizes = np.full(128, 10.0)
    e0, e1 = _both(numpy_path, lambda: batch_means_ess(alt, sizes))
    assert np.shape(e1) == () and e1 == pytest.approx(e0, rel=1e-4)
    assert e1 == 4 * 128 * 10  # capped at the number of draws (a floor of tau makes it larger)
    z0, z1 = _both(numpy_path, lambda: batch_means_ess(np.zeros((0, 3, 4, 128)), sizes))
    assert z1.shape == z0.shape == (0, 3)
    c0, c1 = _both(numpy_path, lambda: batch_means_ess(np.full((2, 4, 128), 5.0), sizes))
    np.testing.assert_array_equal(c1, c0)
    np.testing.assert_array_equal(c1, 4 * 128 * 10)


def test_switching_off_does_not_load_numba():
    import subprocess
    import sys

    code = ("import sys; from pymc_localmass.core._accel import use_compiled, kernel; use_compiled(False); "
            "kernel('_fit_rows'); print('pymc_localmass.core._compiled' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _fused_cases(rng):
    """Posteriors that take every branch of the fused per-batch pass (see curves._fused_layout)."""
    x = rng.standard_normal((9, 4, 700))
    atom = x.copy()
    atom[2, :, :90] = 0.0  # ties at the centre (an atom) in one element
    ar = np.empty((6, 3, 1000))  # three chains, strongly autocorrelated (the score's ESS matters)
    ar[..., 0] = rng.standard_normal((6, 3))
    for t in range(1, 1000):
        ar[..., t] = 0.95 * ar[..., t - 1] + np.sqrt(1 - 0.95**2) * rng.standard_normal((6, 3))
    return {
        "mean": (x, {"center": "mean"}),
        "atom": (atom, {"center": 0.0}),
        "far centre": (x, {"center": 6.0}),
        "one tie": (x, {"center": x[:, 1, 7]}),  # the centre is a draw: one distance 0, no atom
        "ar, 3 chains": (ar, {"center": "median"}),
        "short chains": (x[:, :, :97], {"center": "mean"}),  # 96 batches of about one draw
        "many chains": (rng.standard_normal((4, 40, 150)), {"center": "mean"}),  # pairwise sums over 4,000 cells
        "lattice": (rng.poisson(2.0, (4, 4, 700)).astype(float), {"center": "mean"}),
        "radii": (x, {"center": "mean", "radii": np.geomspace(0.02, 1.0, 7)}),
        "joint": (np.abs(x), {"center": None}),
        "divergences": (np.abs(x), {"center": 0.0, "divergent": rng.random((4, 700)) < 0.03}),
        # the usual (chain, draw, element) layout: each sub-chunk is copied from a strided view
        "strided, scaled": (np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0),
                            {"center": "mean", "scaled": True}),
        "float32": (x.astype(np.float32), {"center": "mean"}),
    }


@pytest.mark.parametrize("case", ["mean", "atom", "far centre", "one tie", "ar, 3 chains", "short chains",
                                  "many chains", "lattice", "radii", "joint", "divergences", "strided, scaled",
                                  "float32"])
def test_fused_batch_pass_matches_per_batch_arrays(rng, monkeypatch, case):
    """The compiled per-batch pass gives the numpy per-batch arrays' numbers, bit for bit.

    It replays the same additions in the same order (bincount's running sums,
    the cumulative windows, numpy's pairwise sums over chain x batch, the
    same Geyer kernel), so equality is exact, not a tolerance.
    """
    from pymc_localmass.core import curves

    x, kw = _fused_cases(rng)[case]
    assert kernel("_batch_pass_rows") is not None
    seen = []
    real = curves._fused_layout
    monkeypatch.setattr(curves, "_fused_layout", lambda lay, pol: seen.append(real(lay, pol)) or seen[-1])
    fused = local_mass_curves(x, threads=2, **kw)
    assert seen and seen[-1]["fused"]  # the fused path ran
    monkeypatch.setattr(curves, "_fused_layout", lambda lay, pol: lay)  # the per-batch arrays, in numpy
    plain = local_mass_curves(x, threads=2, **kw)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


def test_pairwise_sum_is_numpys(rng):
    from pymc_localmass.core import _compiled

    for n in [1, 7, 8, 9, 127, 128, 129, 256, 300, 512, 1000, 4096, 5001]:
        a = rng.standard_normal(n + 3) * 10.0 ** rng.uniform(-6, 6, n + 3)
        assert _compiled._pairwise_sum(a, 3, n) == a[3:].sum()
