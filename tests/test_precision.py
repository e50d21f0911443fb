"""Draws whose floating-point grid is coarse near the centre: rounding is not a lattice, nor an atom.

float32 draws near 5000 are multiples of 2**-11 = 4.9e-4 apart (ties are
common: 4,000 N(5000, 1) draws take about 3,100 values); float64 draws near
1e15 are multiples of 0.125. Before these checks the first read as a lattice
(a = inf: "no mass within 0.00024") and the second as an atom of weight 0.05
at the mean. The exact answers: a = 1 (a density in one dimension); the
second's index cannot be read at all from draws rounded to 0.125 with sd 1.
"""

import numpy as np
import pytest

import pymc_localmass as plm
from pymc_localmass.core.curves import INDEX_STATS, local_mass_curves
from pymc_localmass.core.lattice import is_lattice, resolution
from pymc_localmass.core.rescale import rescaled_local_mass_curves
from pymc_localmass.core.streaming import stream_local_mass_curves

col = INDEX_STATS.index


@pytest.fixture
def f32(rng):
    return (5000.0 + rng.standard_normal((4, 1000))).astype(np.float32)


def test_resolution_of_the_draws_own_type():
    assert resolution(5000.0, np.float32) == 2.0**-11
    assert resolution(1e15, np.float64) == 0.125
    assert resolution(3.0, np.int64) == 0.0
    assert resolution(np.array([1.0, 1e15]), np.float64).tolist() == [2.0**-52, 0.125]


def test_float32_rounding_is_no_lattice_but_float32_counts_are(rng, f32):
    assert np.unique(f32).size < 0.9 * f32.size  # ties by rounding
    k = rng.poisson(3.0, size=(4, 1000)).astype(np.float32)
    assert is_lattice(np.stack([f32.ravel(), k.ravel()])).tolist() == [False, True]
    # the same values as a float64 copy are a lattice unless told the draws' type
    assert is_lattice(f32.astype(float).ravel()[None], dtype=np.float32).tolist() == [False]


def test_float32_draws_read_as_a_density(f32):
    _, idx = local_mass_curves(f32, center="mean")
    assert idx[col("status")] == 0  # ok
    assert idx[col("a_lower")] <= 1.0 <= idx[col("a_upper")]
    assert idx[col("resolution")] == 2.0**-11


def test_rounding_ties_at_a_draw_are_no_atom(f32):
    vals, counts = np.unique(f32, return_counts=True)
    near = np.abs(vals - 5000.0) < 0.2
    center = float(vals[near][np.argmax(counts[near])])  # a value several draws share by rounding
    assert counts[near].max() >= 2
    _, idx = local_mass_curves(f32, center=center)
    assert idx[col("atom")] == 0.0 and idx[col("status")] != 1
    # a float64 copy of them (read back from a float32 store) sits on the same fine grid,
    # 2**-11 apart with 2,000 positions per sd: rounding too (core.lattice.FINE_GRID_STEPS;
    # before it, an atom)
    _, idx64 = local_mass_curves(f32.astype(float), center=center)
    assert idx64[col("atom")] == 0.0 and idx64[col("status")] != 1
    assert idx64[col("resolution")] == 2.0**-11


def _six_digits(x):
    """``x`` written with 6 significant digits and read back (CmdStan's CSV)."""
    return np.array([float(f"{v:.6g}") for v in x.ravel()]).reshape(x.shape)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_draws_written_with_six_digits_are_no_atom_or_lattice(seed):
    # N(1.5, 0.001) with 6 significant digits sits on a grid of 1e-5 (100 positions per sd):
    # it read "a = inf, lattice" at the mean and atoms of 0.4-0.7% at the median and mode
    rng = np.random.default_rng(seed)
    x = _six_digits(1.5 + 0.001 * rng.standard_normal((4, 1000)))
    s = plm.summary({"x": x}, centers={"x": ["mean", "median", "mode", 1.5]})
    assert not s["status"].isin(["atom", "lattice"]).any(), s[["a", "atom", "status"]]
    assert (s["atom"] == 0).all()
    read = s[s["status"] != "unresolved"]
    assert ((read["a_lower"] <= 1) & (read["a_upper"] >= 1)).mean() >= 0.5, read[["a", "a_lower", "a_upper"]]
    grid = s[s["status"] == "unresolved"]["note"]
    assert grid.str.contains("rounded to a grid of 1e-05").all()
    # streamed, the same reading
    a = rescaled_local_mass_curves(x, center=1.5)[1]
    b = stream_local_mass_curves(x, center=1.5, draw_chunk=300)[1]
    np.testing.assert_array_equal(a[..., col("status")], b[..., col("status")])
    np.testing.assert_array_equal(a[..., col("resolution")], b[..., col("resolution")])


def test_a_scaled_discrete_variable_stays_a_lattice(rng):
    # 0.1 Poisson(3) (1.7 positions per sd) and Binomial(1000, 0.3) / 1000 (14.5): discrete
    for x, atom_at in ((0.1 * rng.poisson(3.0, (4, 1000)), 0.1 * 3), (rng.binomial(1000, 0.3, (4, 1000)) / 1000, 0.3)):
        s = plm.summary({"x": x}, centers={"x": [atom_at]})
        assert s["status"].iloc[0] == "atom", s[["atom", "status"]]
        assert s["atom"].iloc[0] > 0


def test_a_real_atom_in_float32_stays_an_atom(rng):
    x = np.where(rng.random((4, 1000)) < 0.05, 5000.0, 5000.0 + rng.standard_normal((4, 1000))).astype(np.float32)
    _, idx = local_mass_curves(x, center=5000.0)
    assert idx[col("status")] == 1
    assert idx[col("atom_lower")] <= 0.05 <= idx[col("atom_upper")]


def test_coarse_float64_grid_is_unresolved_with_its_note(rng):
    x = 1e15 + rng.standard_normal((4, 1000))
    _, idx = rescaled_local_mass_curves(x, center="mean")
    assert idx[col("status")] == 4  # unresolved
    assert np.isnan(idx[col("a")]) and idx[col("a_lower")] == 0 and idx[col("a_upper")] == np.inf
    assert idx[col("atom")] == 0.0  # the mean's 5% ties are rounding
    assert idx[col("resolution")] == 0.125  # in the draws' unit, through the rescaling
    s = plm.summary({"big": x})
    assert s["status"].iloc[0] == "unresolved"
    assert "rounded to a grid of 0.12" in s["note"].iloc[0]


def test_streamed_passes_agree(rng, f32):
    x = np.stack([f32.astype(np.float32), (5000 + rng.standard_normal((4, 1000))).astype(np.float32)])
    for center in ("mean", 5000.0):
        a = rescaled_local_mass_curves(x, center=center)
        b = stream_local_mass_curves(x, center=center, draw_chunk=300)
        np.testing.assert_array_equal(a[1][..., col("status")], b[1][..., col("status")])
        np.testing.assert_array_equal(a[1][..., col("resolution")], b[1][..., col("resolution")])
        np.testing.assert_allclose(b[1], a[1], rtol=1e-5, equal_nan=True)
    big = 1e15 + rng.standard_normal((2, 4, 500))
    a, b = rescaled_local_mass_curves(big, center="mean"), stream_local_mass_curves(big, center="mean", draw_chunk=128)
    np.testing.assert_array_equal(a[1][..., col("status")], b[1][..., col("status")])
    assert (b[1][..., col("status")] == 4).all()


def test_results_written_before_the_resolution_stat_still_validate(f32):
    from pymc_localmass.results import validate

    idx = plm.mass_index({"x": f32.astype(float)})
    old = idx.drop_sel(index_stat="resolution")
    assert validate(old, "local_mass_index") is old


@pytest.mark.parametrize("center", [0.3, 0.7])
def test_a_lattice_point_written_as_a_literal_is_that_point(rng, center):
    # 0.1 * 3 = 0.30000000000000004 and 0.1 * 7 = 0.7000000000000001: the literal is a few
    # ulps off the draws' value, and read "a = inf, no mass within 5.6e-17" (23% tie there)
    k = rng.poisson(3.0, (4, 1000))
    x = 0.1 * k
    assert not (x == center).any()
    a = rescaled_local_mass_curves(x, center=center)[1]
    b = stream_local_mass_curves(x, center=center, draw_chunk=300)[1]
    share = np.mean(k == round(center * 10))
    for idx in (a, b):
        assert idx[col("status")] == 1  # atom
        assert idx[col("atom_lower")] <= share <= idx[col("atom_upper")]
    np.testing.assert_allclose(b, a, rtol=1e-9, equal_nan=True)


def test_a_continuous_draw_within_rounding_of_the_centre_is_not_snapped(rng):
    # one draw alone takes the value: no support point, the centre stays where it was asked
    x = rng.standard_normal((4, 1000))
    x[0, 0] = np.nextafter(0.5, 1.0)
    _, idx = local_mass_curves(x, center=0.5)
    assert idx[col("center_value")] == 0.5 and idx[col("atom")] == 0.0
