"""Property-based tests (hypothesis): equivariance, monotonicity, order, chain permutation, and
that any finite float input either works or raises one of the package's documented errors.

Bounded by the "ci" profile registered in conftest.py (25 examples per test, derandomized).
"""

import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import pymc_localmass as plm  # noqa: E402
from pymc_localmass.errors import LocalMassError  # noqa: E402

FAMILIES = ("normal", "halfnormal", "gamma", "poisson", "mixture")


def draws(family, seed, shape=(2, 150)):
    rng = np.random.default_rng(seed)
    if family == "normal":
        return rng.normal(size=shape)
    if family == "halfnormal":
        return np.abs(rng.normal(size=shape))
    if family == "gamma":
        return rng.gamma(2.0, size=shape)
    if family == "poisson":  # a lattice, as floats
        return rng.poisson(3.0, size=shape).astype(float)
    return np.where(rng.uniform(size=shape) < 0.3, 0.0, rng.normal(size=shape))  # an atom at 0


def _curves(x, c, radii):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return plm.local_mass({"x": x}, centers=c, radii=radii), plm.mass_index({"x": x}, centers=c)


def _stat(ds, lab, dim="local_stat"):
    return np.asarray(ds["x"].sel({dim: lab}).values, float).ravel()


def _same_index(a1, a2):
    return (a1 == a2) or (np.isfinite(a1) and np.isfinite(a2) and abs(a1 - a2) <= 1e-6 * max(1.0, abs(a1)))


@given(family=st.sampled_from(FAMILIES), seed=st.integers(0, 2**16), log10_scale=st.floats(-150, 150),
       shift=st.floats(-3, 3), centre=st.floats(-1, 1))
def test_shift_and_scale_equivariance(family, seed, log10_scale, shift, centre):
    """Draws, centre and radii times s (plus a shift): the same masses and index, radii times s."""
    x = draws(family, seed)
    c = float(np.round(centre)) if family == "poisson" else centre
    radii = np.array([0.1, 0.3, 1.0])
    s = 10.0**log10_scale
    base_c, base_i = _curves(x, c, radii)
    # the shift is a whole number of lattice steps for a lattice, so the centre keeps its place
    t = float(np.round(shift)) if family == "poisson" else shift
    y = (x + t) * s
    assume(np.all(np.isfinite(y)))
    got_c, got_i = _curves(y, (c + t) * s, radii * s)
    m0, m1 = _stat(base_c, "mass"), _stat(got_c, "mass")
    # rounding of (x + t) * s can move a draw across a radius: at most a couple of draws
    assert np.all(np.abs(m0 - m1) <= 2.5 / x.size)
    r1 = _stat(got_c, "radius")
    np.testing.assert_allclose(r1, radii * s, rtol=1e-12)
    if family != "mixture" or t == 0:  # a shifted atom is no longer exactly at the centre
        a0, a1 = _stat(base_i, "a", "index_stat")[0], _stat(got_i, "a", "index_stat")[0]
        assert _same_index(a0, a1) or abs(a0 - a1) < 0.05, (a0, a1)
        np.testing.assert_allclose(_stat(got_i, "atom", "index_stat"), _stat(base_i, "atom", "index_stat"),
                                   atol=2.5 / x.size)


@given(family=st.sampled_from(FAMILIES), seed=st.integers(0, 2**16), log10_scale=st.floats(-150, 150))
def test_automatic_grid_scales(family, seed, log10_scale):
    """The automatic grid of s * x is s times the grid of x; masses and index unchanged."""
    x = draws(family, seed)
    s = 2.0 ** np.round(log10_scale * np.log2(10))  # a power of two: the scaled draws are exact
    base = plm.local_mass({"x": x}, centers=0.0)
    got = plm.local_mass({"x": x * s}, centers=0.0)
    r = _stat(base, "radius")
    np.testing.assert_allclose(_stat(got, "radius") / s, r, rtol=1e-9)
    # a radius within rounding of a draw's distance (lattices) may count it on one side only
    tie = np.isclose(r[:, None], np.abs(x).ravel()[None, :], rtol=1e-9, atol=0).any(axis=1)
    np.testing.assert_allclose(_stat(got, "mass")[~tie], _stat(base, "mass")[~tie], atol=1.5 / x.size)
    plm.validate(got)


@given(family=st.sampled_from(FAMILIES), seed=st.integers(0, 2**16), centre=st.floats(-2, 2),
       n_radii=st.integers(2, 12))
def test_monotone_masses_and_ordered_intervals(family, seed, centre, n_radii):
    x = draws(family, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = plm.local_mass({"x": x}, centers=centre, n_radii=n_radii)
        idx = plm.mass_index({"x": x}, centers=centre)
    plm.validate(res)
    plm.validate(idx, "local_mass_index")
    r, m = _stat(res, "radius"), _stat(res, "mass")
    lo, hi = _stat(res, "mass_lower"), _stat(res, "mass_upper")
    assert np.all(np.diff(r) > 0)
    assert np.all(np.diff(m) >= 0)
    assert np.all((0 <= lo) & (lo <= m) & (m <= hi) & (hi <= 1))
    for p in ("a", "b"):
        lo_, mid, hi_ = (_stat(idx, k, "index_stat")[0] for k in (f"{p}_lower", p, f"{p}_upper"))
        assert lo_ <= hi_
        if not np.isnan(mid):
            assert lo_ <= mid <= hi_ or (p == "a" and mid == 0.0)  # an atom's index is (0, 0) by definition


@given(family=st.sampled_from(FAMILIES), seed=st.integers(0, 2**16), perm_seed=st.integers(0, 100))
def test_chain_permutation_invariance(family, seed, perm_seed):
    x = draws(family, seed, shape=(4, 60))
    order = np.random.default_rng(perm_seed).permutation(4)
    radii = np.array([0.2, 0.6])
    c0, i0 = _curves(x, 0.0, radii)
    c1, i1 = _curves(x[order], 0.0, radii)
    # the same numbers up to the order of floating-point sums
    np.testing.assert_allclose(c1["x"].values, c0["x"].values, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(i1["x"].values, i0["x"].values, rtol=1e-6, atol=1e-12)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)  # the whole float64 range, subnormals too
#: mixtures of few values (lattices, ties, constants) and of any finite floats
values = st.one_of(
    hnp.arrays(np.float64, st.tuples(st.integers(2, 3), st.integers(20, 30)), elements=finite),
    hnp.arrays(np.float64, st.tuples(st.integers(2, 3), st.integers(20, 30)),
               elements=st.sampled_from([0.0, 1.0, -2.5, 1e-300, 3e250, 1.7e308, -1.7e308])),
)
centres = st.one_of(st.sampled_from(["mean", "median", "mode", "boundary"]), finite)


@given(x=values, centre=centres, n_radii=st.integers(2, 6))
def test_any_finite_input_works_or_raises_a_documented_error(x, centre, n_radii):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = plm.local_mass({"x": x}, centers=centre, n_radii=n_radii)
            idx = plm.mass_index({"x": x}, centers=centre)
        except LocalMassError:
            return
    plm.validate(res)
    plm.validate(idx, "local_mass_index")
