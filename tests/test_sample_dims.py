"""``sample_dims``: draws indexed by dims of other names give the same results (renamed at the edge)."""

import numpy as np
import pytest
import xarray as xr

import pymc_localmass as plm
from conftest import make_container
from pymc_localmass._compat import MODERN, container_groups, get_group
from pymc_localmass.errors import InvalidInputError, UnknownNameError

KW = dict(centers=[0.0, "mean"], radii=[0.1, 0.3, 0.6, 1.0])


def _same(a, b):
    """Identical results but for the creation time."""
    a, b = a.copy(), b.copy()
    for ds in (a, b):
        ds.attrs.pop("created_at", None)
    xr.testing.assert_identical(a, b)


def _renamed(container, names):
    groups = {g: get_group(container, g).rename({k: v for k, v in names.items() if k in get_group(container, g).dims})
              for g in container_groups(container)}
    if MODERN:
        return xr.DataTree.from_dict(groups)
    import arviz as az

    return az.InferenceData(**groups)


@pytest.fixture
def draws(rng):
    return xr.Dataset({"tau": (("chain", "draw"), np.abs(rng.normal(size=(4, 300)))),
                       "beta": (("chain", "draw", "k"), rng.normal(size=(4, 300, 2)))},
                      coords={"k": ["a", "b"]})


def test_renamed_dims_give_the_same_numbers(draws):
    renamed = draws.rename(chain="c", draw="d")
    _same(plm.local_mass(renamed, sample_dims=("c", "d"), **KW), plm.local_mass(draws, **KW))
    _same(plm.mass_index(renamed, sample_dims=("c", "d"), **KW), plm.mass_index(draws, **KW))
    _same(plm.local_mass(renamed, sample_dims=("c", "d"), joint=True, centers=0.0),
          plm.local_mass(draws, joint=True, centers=0.0))


def test_renamed_dims_of_a_container_keep_its_divergences(rng):
    post = {"x": rng.normal(size=(4, 300))}
    div = np.zeros((4, 300), bool)
    div[0, :30] = True
    container = make_container(posterior=post, sample_stats={"diverging": div})
    renamed = _renamed(container, {"chain": "c", "draw": "d"})
    _same(plm.mass_index(renamed, sample_dims=("c", "d"), **KW), plm.mass_index(container, **KW))
    out = plm.add_local_mass(renamed, sample_dims=("c", "d"), **KW)
    _same(plm.results.read(out)[1], plm.results.read(plm.add_local_mass(container, **KW))[1])


def test_a_dict_takes_one_leading_axis_per_sample_dim(rng):
    x = rng.normal(size=(4, 300))
    _same(plm.local_mass({"x": x}, sample_dims=("c", "d"), **KW), plm.local_mass({"x": x}, **KW))


def test_one_sample_dim_is_one_chain_of_independent_draws(rng):
    x = rng.normal(size=600)
    flat = xr.Dataset({"x": (("sample",), x)})
    _same(plm.local_mass(flat, sample_dims=("sample",), independent=True, **KW),
          plm.local_mass({"x": x[None]}, independent=True, **KW))
    _same(plm.local_mass({"x": x}, sample_dims=("sample",), independent=True, **KW),
          plm.local_mass({"x": x[None]}, independent=True, **KW))


def test_one_sample_dim_of_dependent_draws_is_refused(rng):
    flat = xr.Dataset({"x": (("sample",), rng.normal(size=600))})
    with pytest.raises(InvalidInputError, match=r"sample_dims=\('sample',\).*independent=True"):
        plm.local_mass(flat, sample_dims=("sample",))


def test_an_absent_sample_dim_is_named(draws):
    with pytest.raises(UnknownNameError, match=r"no dim\(s\) \['iteration'\]"):
        plm.local_mass(draws, sample_dims=("chain", "iteration"))
    with pytest.raises(UnknownNameError, match="sample_dims"):
        plm.mass_index(draws, sample_dims=("sample",), independent=True)


def test_bad_sample_dims(draws):
    with pytest.raises(InvalidInputError, match="one or two distinct dims"):
        plm.local_mass(draws, sample_dims=("chain", "draw", "x"))
    with pytest.raises(InvalidInputError, match="one or two distinct dims"):
        plm.local_mass(draws, sample_dims=("chain", "chain"))
    with pytest.raises(InvalidInputError, match="rename those first"):  # 'draw' is taken by another dim
        plm.local_mass(draws.rename(chain="c"), sample_dims=("c", "k"))


def test_the_default_is_chain_and_draw(draws):
    _same(plm.local_mass(draws, sample_dims=("chain", "draw"), **KW), plm.local_mass(draws, **KW))


def test_draws_stacked_by_az_extract():
    # az.extract stacks chain and draw into one 'sample' dim with a MultiIndex: the
    # stacked draws are read with sample_dims=("sample",), independent=True, and the
    # default call says how
    import arviz as az

    rng = np.random.default_rng(0)
    post = {"tau": np.abs(rng.normal(size=(2, 500)))}
    idata = az.from_dict({"posterior": post}) if MODERN else az.from_dict(posterior=post)
    ex = az.extract(idata)
    with pytest.raises(InvalidInputError, match=r"sample_dims=\('sample',\), independent=True"):
        plm.mass_index(ex, centers={"tau": 0.0})
    got = plm.mass_index(ex, centers={"tau": 0.0}, sample_dims=("sample",), independent=True)["tau"]
    flat = {"tau": post["tau"].reshape(1, -1)}
    want = plm.mass_index(flat, centers={"tau": 0.0}, independent=True)["tau"]
    np.testing.assert_array_equal(got.values, want.values)


def test_divergences_that_do_not_match_the_draws_are_left_out_with_a_warning(rng):
    # the posterior's chains relabelled (sample_stats untouched): a centred hierarchy's
    # "sampler" finding at tau = 0 turned "unresolved" without a word
    import arviz as az

    div = np.zeros((4, 300), bool)
    div[0, :30] = True
    container = make_container(posterior={"x": rng.normal(size=(4, 300))}, sample_stats={"diverging": div})
    post = get_group(container, "posterior").assign_coords(chain=[10, 11, 12, 13])
    if MODERN:
        moved = container.copy()
        moved["posterior"] = post
    else:
        moved = az.InferenceData(posterior=post, sample_stats=get_group(container, "sample_stats"))
    with pytest.warns(UserWarning, match=r"30 divergent transitions are left out: the posterior's chain labels"):
        idx = plm.mass_index(moved, **KW)
    assert float(idx["x"].sel(index_stat="n_divergent").max()) == 0
    # matched, they count
    assert float(plm.mass_index(container, **KW)["x"].sel(index_stat="n_divergent").max()) == 30
