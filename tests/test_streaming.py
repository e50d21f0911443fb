"""The streamed passes (core.streaming) give the in-memory numbers, chunk by chunk of draws."""

import numpy as np
import pytest

from pymc_localmass.core.curves import CURVE_STATS, INDEX_STATS
from pymc_localmass.core.rescale import rescaled_local_mass_curves
from pymc_localmass.core.streaming import StreamPlan, combine, partial, stream_local_mass_curves

MASS = CURVE_STATS.index("mass")
#: documented tolerances (docs/scale.md): the mean and sd are sums in another order (about 1e-16
#: relative); the curves move by about as much, the index fits by up to their convergence tolerance
RTOL = 1e-9
INDEX_RTOL = 1e-5


def assert_same(a, b, exact_counts=True):
    (ca, ia), (cb, ib) = a, b
    if exact_counts:  # counts inside each ball: to the bit
        np.testing.assert_array_equal(ca[..., MASS], cb[..., MASS])
    np.testing.assert_allclose(ca, cb, rtol=RTOL, atol=0, equal_nan=True)
    np.testing.assert_allclose(ib, ia, rtol=INDEX_RTOL, atol=0, equal_nan=True)


@pytest.fixture
def draws(rng):
    x = rng.standard_normal((6, 4, 300))
    x[1] = np.round(x[1] * 3)          # a lattice
    x[2, 0, :40] = 0.0                 # an atom at 0
    x[3] = rng.gamma(0.5, size=(4, 300))  # a boundary at 0
    return x


@pytest.mark.parametrize("center", ["mean", "median", 0.0, np.linspace(-0.2, 0.2, 6)])
@pytest.mark.parametrize("draw_chunk", [300, 64, 29])
def test_equal_to_memory(draws, center, draw_chunk):
    a = rescaled_local_mass_curves(draws, center=center)
    b = stream_local_mass_curves(draws, center=center, draw_chunk=draw_chunk)
    assert_same(a, b)


def test_equal_options(draws, rng):
    div = rng.random((4, 300)) < 0.05
    for kw in (dict(center=0.0, divergent=div), dict(center=0.1, radii=np.geomspace(0.01, 1.0, 9)),
               dict(center="mean", scaled=True), dict(center="mean", ci_prob=0.8, min_ess=20.0, window=[30, 90]),
               dict(center=0.0, independent=True)):
        assert_same(rescaled_local_mass_curves(draws, **kw), stream_local_mass_curves(draws, draw_chunk=50, **kw))


def test_explicit_radii_numeric_center_counts_bit_equal(draws):
    r = np.geomspace(0.01, 1.0, 9)
    a = rescaled_local_mass_curves(draws, center=0.3, radii=r)
    b = stream_local_mass_curves(draws, center=0.3, radii=r, draw_chunk=37)
    for lab in ("radius", "mass", "ess", "mass_lower", "mass_upper", "resolved"):
        j = CURVE_STATS.index(lab)
        np.testing.assert_array_equal(a[0][..., j], b[0][..., j])
    for lab in ("nearest", "atom", "atom_lower", "atom_upper", "n_window", "rhat", "chain_z", "status"):
        j = INDEX_STATS.index(lab)
        np.testing.assert_array_equal(a[1][..., j], b[1][..., j])


def test_joint_distances_and_integer_draws(rng):
    d = np.abs(rng.standard_normal((3, 4, 200)))
    kw = dict(scale=d.std(axis=(-1, -2)))
    assert_same(rescaled_local_mass_curves(d, **kw), stream_local_mass_curves(d, draw_chunk=33, **kw))
    k = rng.poisson(3.0, size=(2, 4, 200))
    assert_same(rescaled_local_mass_curves(k, center=2.5), stream_local_mass_curves(k, center=2.5, draw_chunk=33))
    _, idx = stream_local_mass_curves(k, center=2.5, draw_chunk=33)
    assert np.all(idx[:, INDEX_STATS.index("a")] == np.inf)  # a lattice, centre off it


def test_left_out_draws(draws):
    x = draws.copy()
    x[0, 1, 5] = np.nan
    x[4, 2, 100:103] = np.inf
    a = rescaled_local_mass_curves(x, center="mean", nan_policy="omit")
    b = stream_local_mass_curves(x, center="mean", nan_policy="omit", draw_chunk=64)
    assert_same(a, b)
    with pytest.raises(ValueError, match="non-finite"):
        stream_local_mass_curves(x, center="mean", draw_chunk=64)


def test_extreme_magnitudes(draws):
    for f in (1e250, 1e-250):
        x = draws * f
        assert_same(rescaled_local_mass_curves(x, center="mean"), stream_local_mass_curves(x, center="mean",
                                                                                       draw_chunk=64))


def test_constant_and_mode_refused(rng):
    x = np.ones((2, 4, 100))
    with pytest.raises(ValueError, match="zero variance"):
        stream_local_mass_curves(x, center="mean")
    with pytest.raises(ValueError, match="mode"):
        StreamPlan((2, 4, 100), float, center="mode")


def test_combine_is_associative_and_order_free(draws):
    """Partial results combine in any grouping: the counts do not depend on the chunking."""
    plan = StreamPlan(draws.shape, draws.dtype, center=0.0)
    while plan.stage != "cells":
        p = plan.params()
        plan.finish(partial(draws, slice(0, 4), slice(0, 300), p))
    p = plan.params()
    parts = [partial(draws[..., d0:d0 + 60], slice(0, 4), slice(d0, d0 + 60), p) for d0 in range(0, 300, 60)]
    left = combine(combine(combine(combine(parts[0], parts[1]), parts[2]), parts[3]), parts[4])
    right = combine(parts[4], combine(parts[3], combine(parts[2], combine(parts[1], parts[0]))))
    whole = partial(draws, slice(0, 4), slice(0, 300), p)
    for key in whole:
        np.testing.assert_array_equal(left[key], whole[key])
        np.testing.assert_array_equal(right[key], whole[key])


def test_chunks_processed_in_slices_of_elements(draws, monkeypatch):
    """A large chunk is processed a few elements at a time (bounded temporaries), with the same numbers."""
    from pymc_localmass.core import streaming

    whole = stream_local_mass_curves(draws, center="median", draw_chunk=100)
    monkeypatch.setattr(streaming, "SUB_BYTES", 2 * 4 * 100 * 8)  # two elements at a time
    sliced = stream_local_mass_curves(draws, center="median", draw_chunk=100)
    for a, b in zip(whole, sliced):
        np.testing.assert_array_equal(a, b)
