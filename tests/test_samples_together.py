"""The samples tier computes a model's small variables together, in one core call per group.

Every element is computed on its own draws alone, so the results must be
identical, value for value and attribute for attribute, to a call per
variable; and the datasets built at once must be what the general merge
gives.
"""

import numpy as np
import pytest
import xarray as xr

import pymc_localmass as plm
from pymc_localmass.errors import InvalidInputError
from pymc_localmass.tiers import samples


def _posterior(rng):
    d = {f"v{i}": (("chain", "draw"), rng.standard_normal((4, 400)) * 10.0**i) for i in range(3)}
    d["sigma"] = (("chain", "draw"), np.abs(rng.standard_normal((4, 400))))
    d["tiny"] = (("chain", "draw"), rng.standard_normal((4, 400)) * 1e-250)  # rescaled in the core
    d["theta"] = (("chain", "draw", "school"), rng.standard_normal((4, 400, 8)))
    d["k"] = (("chain", "draw"), rng.integers(0, 5, (4, 400)))
    d["k2"] = (("chain", "draw"), rng.integers(0, 3, (4, 400)))
    d["f32"] = (("chain", "draw"), rng.standard_normal((4, 400)).astype(np.float32))
    d["g32"] = (("chain", "draw", "two"), rng.gamma(2.0, size=(4, 400, 2)).astype(np.float32))
    d["spike"] = (("chain", "draw"), np.where(rng.random((4, 400)) < 0.3, 0.0, rng.standard_normal((4, 400))))
    d["m"] = (("chain", "draw", "r", "c"), rng.gamma(2.0, size=(4, 400, 2, 3)))
    d["big"] = (("chain", "draw", "e"), rng.standard_normal((4, 400, samples.TOGETHER_MAX_ELEMENTS + 1)))
    const = rng.standard_normal((4, 400, 2))
    const[..., 1] = 2.5  # a pinned entry: left to the call per variable, which answers it exactly
    d["pinned"] = (("chain", "draw", "p"), const)
    ds = xr.Dataset(d, coords={"school": list("abcdefgh")})
    return ds.assign_coords(region=("school", list("xxyyzzww")))


def _without_time(pair):
    for part in pair:
        part.attrs.pop("created_at", None)
    return pair


@pytest.mark.parametrize("kwargs", [
    {},
    {"centers": {"v0": ["mean", 0.0], "sigma": [0.0, "median"], "theta": "mode", "m": [1.0, "mean"],
                 "spike": 0.0}},
    {"centers": 0.0, "radii": [0.1, 0.2, 0.5]},
    {"radii": {"v0": [0.1, 0.5], "theta": [0.2, 0.4, 0.8]}},
    {"independent": True, "ci_prob": 0.8},
])
def test_together_is_a_call_per_variable(rng, monkeypatch, kwargs):
    ds = _posterior(rng)
    calls = []
    real = samples.rescaled_local_mass_curves

    def counted(x, *args, **kw):
        calls.append(np.shape(x)[:-2])
        return real(x, *args, **kw)

    monkeypatch.setattr(samples, "rescaled_local_mass_curves", counted)
    together = _without_time(samples.compute(ds, progressbar=False, **kwargs))
    n_together, calls[:] = len(calls), []
    monkeypatch.setattr(samples, "TOGETHER_MAX_ELEMENTS", 0)
    alone = _without_time(samples.compute(ds, progressbar=False, **kwargs))
    for a, b in zip(together, alone):
        xr.testing.assert_identical(a, b)
        assert list(a.data_vars) == list(b.data_vars) == list(ds.data_vars)
    # (and the variables did run together: fewer calls of the core, each over several variables)
    assert n_together < len(calls) - 5


def test_together_with_divergences(rng, monkeypatch):
    from conftest import make_container

    ds = _posterior(rng)
    div = rng.random((4, 400)) < 0.02
    data = make_container(posterior={k: v.values for k, v in ds.data_vars.items() if k != "theta"},
                          sample_stats={"diverging": div})
    together = _without_time((plm.local_mass(data, progressbar=False), plm.mass_index(data, progressbar=False)))
    monkeypatch.setattr(samples, "TOGETHER_MAX_ELEMENTS", 0)
    alone = _without_time((plm.local_mass(data, progressbar=False), plm.mass_index(data, progressbar=False)))
    for a, b in zip(together, alone):
        xr.testing.assert_identical(a, b)
    assert float(together[1]["v0"].sel(index_stat="n_divergent").max()) == div.sum()


def test_datasets_built_at_once_are_the_general_merge(rng, monkeypatch):
    real, seen = samples._assemble, []

    def both(*args):
        fast = real(*args)
        general = real(*args, general=True)
        for a, b in zip(fast, general):
            xr.testing.assert_identical(a, b)
        seen.append(len(fast[0].data_vars))
        return fast

    monkeypatch.setattr(samples, "_assemble", both)
    ds = _posterior(rng).drop_vars(["big", "pinned"])
    samples.compute(ds, progressbar=False)
    samples.compute(ds, progressbar=False, centers=[0.0, "mean"])
    assert seen == [len(ds.data_vars)] * 2


def test_an_error_in_a_group_names_its_variable(rng):
    ds = _posterior(rng).drop_vars(["big", "pinned"])
    bad = ds["v1"].values.copy()
    bad[2, 7] = np.nan
    ds["v1"] = (("chain", "draw"), bad)
    with pytest.raises(InvalidInputError, match="variable 'v1' has non-finite draws"):
        samples.compute(ds, progressbar=False)
    # omitted: the group runs together, and v1's ball counts its 1599 finite draws
    res = plm.mass_index(ds, nan_policy="omit", progressbar=False)
    assert np.isfinite(float(res["v1"].sel(index_stat="a", center="mean")))


def test_non_finite_draws_do_not_change_the_other_variables(rng, monkeypatch):
    # under nan_policy="omit" a sub-chunk holding a NaN switches the core's sums to their NaN-aware
    # forms (last bits): a variable with non-finite draws runs alone, and a clean one computed beside
    # it keeps the numbers of its own call (found by an outside check: 'a' beside 'b' with one NaN)
    a = rng.standard_normal((4, 500, 8)) * 3 + 1
    b = rng.standard_normal((4, 500, 120))
    b[0, 3, 0] = np.nan
    together = plm.mass_index({"a": a, "b": b}, nan_policy="omit", progressbar=False)
    own = plm.mass_index({"a": a}, progressbar=False)
    xr.testing.assert_identical(together["a"], own["a"])
    monkeypatch.setattr(samples, "TOGETHER_MAX_ELEMENTS", 0)
    alone = plm.mass_index({"a": a, "b": b}, nan_policy="omit", progressbar=False)
    xr.testing.assert_identical(together["b"], alone["b"])


def test_the_first_bad_variable_is_the_one_named(rng):
    # two bad variables: the error names the first, as a call per variable does ('a' has a NaN; 'b'
    # is asked for a 'boundary' its draws cannot give; and a large 'a' with a wrong-shaped centre)
    a = rng.standard_normal((4, 300))
    a[1, 7] = np.nan
    b = rng.standard_normal((4, 300))
    with pytest.raises(InvalidInputError, match="variable 'a' has non-finite draws"):
        samples.compute({"a": a, "b": b}, centers={"b": "boundary"}, progressbar=False)
    big = rng.standard_normal((4, 300, samples.TOGETHER_MAX_ELEMENTS + 1))
    with pytest.raises(InvalidInputError, match="centre for variable 'a' has shape"):
        samples.compute({"a": big, "b": b}, centers={"a": np.zeros(7), "b": "boundary"}, progressbar=False)


def test_progress_counts_every_element_once(rng, monkeypatch):
    counts = []

    class Bar:
        def __init__(self, total, enabled, *args, **kwargs):
            self.total, self.enabled, self.done = total, enabled, 0

        def __call__(self, n):
            self.done += n

        def rewind(self, n):
            self.done -= n

        def close(self):
            counts.append((self.total, self.done))

    monkeypatch.setattr(samples, "Progress", Bar)
    ds = _posterior(rng).drop_vars(["big"])
    samples.compute(ds, progressbar=True, centers=[0.0, "mean"])
    total, done = counts[0]
    assert total == done == 2 * sum(int(np.prod([ds[v].sizes[d] for d in ds[v].dims[2:]], dtype=int))
                                    for v in ds.data_vars)


def test_a_constant_variable_is_left_out_unless_named(rng):
    # a Deterministic of data only is constant: left out with a warning when the selection excludes
    # others ("~mu") as when there is none; named, it is an error
    data = {"mu": rng.standard_normal((4, 300)), "x": rng.standard_normal((4, 300)), "prec": np.full((4, 300), 2.0)}
    with pytest.warns(UserWarning, match="left out variable"):
        res = plm.local_mass(data, var_names=["~mu"], progressbar=False)
    assert list(res.data_vars) == ["x"]
    with pytest.raises(InvalidInputError, match="constant"):
        plm.local_mass(data, var_names=["x", "prec"], progressbar=False)
