"""The public functions' signatures: explicit keywords, numpydoc, type hints, old names.

``help()``, ``inspect.signature`` and IDEs must show every option (issue 14):
no ``**kwargs`` checked at run time against a private function, options
keyword-only, the ArviZ names (``data``, ``var_names``, ``filter_vars``,
``coords``, ``group``, ``ci_prob``), and a numpydoc docstring with
Parameters, Returns, See Also and Examples. Renamed arguments still work,
with a ``FutureWarning``.
"""

import inspect
import re
import typing
import warnings
from pathlib import Path

import numpy as np
import pytest

import pymc_localmass as plm
from pymc_localmass.estimators import _compute_one

#: the public estimators, tables, comparisons and plots (everything callable in ``__all__``
#: but the result and warning classes and the schema check ``validate(ds, kind)``)
PUBLIC = ["local_mass", "mass_index", "add_local_mass", "summary", "compare", "compare_summary", "local_kl",
          "check", "report", "plot_local_mass"]

#: positional parameters each function takes (its data; nothing else is positional)
POSITIONAL = {
    "local_mass": ["data"], "mass_index": ["data"], "add_local_mass": ["data"], "summary": ["data"],
    "check": ["data"], "compare_summary": ["data"], "compare": ["fits"], "report": ["fits", "path"],
    "local_kl": ["p", "q", "region"], "plot_local_mass": ["data"],
}

#: ``**pc_kwargs`` is arviz-plots' own convention for plot functions (passed to the PlotCollection),
#: the one VAR_KEYWORD allowed: ``az.plot_local_mass`` is called like ``azp.plot_dist``
VAR_KEYWORD_ALLOWED = {"plot_local_mass": "pc_kwargs"}

#: the estimators' options are the computation's: a new option of the computation must reach the signatures
ESTIMATOR_OPTIONS = set(inspect.signature(_compute_one).parameters) - {"data"}


def _sig(name):
    return inspect.signature(getattr(plm, name))


def test_every_public_callable_is_covered():
    callables = {n for n in plm.__all__ if callable(getattr(plm, n)) and not isinstance(getattr(plm, n), type)}
    assert callables - {"validate"} == set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_no_hidden_keywords(name):
    params = _sig(name).parameters
    var_kw = [p.name for p in params.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert var_kw == ([VAR_KEYWORD_ALLOWED[name]] if name in VAR_KEYWORD_ALLOWED else [])
    assert not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())


@pytest.mark.parametrize("name", PUBLIC)
def test_options_are_keyword_only(name):
    params = _sig(name).parameters
    positional = [p.name for p in params.values()
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    assert positional == POSITIONAL[name]
    kw_only = [p for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert kw_only, f"{name} has no keyword-only options"
    assert all(p.default is not inspect.Parameter.empty for p in kw_only), "options have defaults"


@pytest.mark.parametrize("name", PUBLIC)
def test_arviz_names(name):
    params = _sig(name).parameters
    for old in ("var_name", "models", "idata", "ds", "centre", "centres", "hdi_prob"):
        assert old not in params, f"{name}({old}=...): the ArviZ/API name is used instead"
    if "var_names" in params and name != "local_kl":
        assert "filter_vars" in params or name in ("check", "report"), name
    if name in ("local_mass", "mass_index", "add_local_mass", "summary", "compare", "check", "report", "local_kl"):
        assert {"var_names", "coords", "group", "ci_prob"} <= set(params), name
        assert params["group"].default == "posterior"
        assert params["ci_prob"].default is None  # ArviZ's rcParams["stats.ci_prob"]


@pytest.mark.parametrize("name", ["local_mass", "mass_index", "add_local_mass", "summary"])
def test_estimator_options_match_the_computation(name):
    params = _sig(name).parameters
    assert ESTIMATOR_OPTIONS <= set(params)
    for key in ESTIMATOR_OPTIONS:
        assert params[key].default == inspect.signature(_compute_one).parameters[key].default, (name, key)


@pytest.mark.parametrize("name", PUBLIC)
def test_type_hints_resolve(name):
    hints = typing.get_type_hints(getattr(plm, name))
    assert "return" in hints
    assert set(_sig(name).parameters) <= set(hints), "every parameter is annotated"


def _sections(doc):
    return set(re.findall(r"^\s*([A-Z][A-Za-z ]+)\n\s*-{3,}\s*$", doc, flags=re.M))


@pytest.mark.parametrize("name", PUBLIC)
def test_numpydoc_sections(name):
    doc = inspect.getdoc(getattr(plm, name))
    sections = _sections(doc)
    assert {"Parameters", "Returns", "See Also", "Examples"} <= sections, sections
    order = ["Parameters", "Returns", "Raises", "Warns", "See Also", "Notes", "References", "Examples"]
    found = [s for s in re.findall(r"^([A-Z][A-Za-z ]+)\n-{3,}$", doc, flags=re.M) if s in order]
    assert found == sorted(found, key=order.index), f"numpydoc section order: {found}"
    assert ">>>" in doc.split("Examples")[-1]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_parameter_documented(name):
    doc = inspect.getdoc(getattr(plm, name))
    params_block = doc.split("Parameters\n----------\n", 1)[1]
    params_block = re.split(r"^\w[\w ]+\n-{3,}$", params_block, maxsplit=1, flags=re.M)[0]
    documented = set()
    for line in params_block.splitlines():
        if line and not line.startswith(" "):
            head = line.split(" : ")[0]
            documented.update(n.strip().lstrip("*") for n in head.split(","))
    missing = set(_sig(name).parameters) - documented
    assert not missing, f"{name}: parameters not in the docstring: {sorted(missing)}"


def test_py_typed_shipped():
    assert (Path(plm.__file__).parent / "py.typed").is_file()


# ----------------------------------------------------------------------------- old names still work


@pytest.fixture
def draws():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(4, 300))}


def _container(draws):
    import arviz as az
    from pymc_localmass._compat import MODERN

    return az.from_dict({"posterior": draws}) if MODERN else az.from_dict(posterior=draws)


def test_add_local_mass_idata_still_accepted(draws):
    idata = _container(draws)
    with pytest.warns(FutureWarning, match="'idata' is now called 'data'"):
        old = plm.add_local_mass(idata=idata, centers=0.0, radii=[0.5])
    new = plm.add_local_mass(idata, centers=0.0, radii=[0.5])
    np.testing.assert_array_equal(plm.results.read(old)[0]["x"].values, plm.results.read(new)[0]["x"].values)
    with pytest.raises(TypeError, match="got both 'idata'"):
        plm.add_local_mass(idata, idata=idata)


def test_check_idata_and_positional_options_still_accepted(draws):
    with pytest.warns(FutureWarning, match="'idata' is now called 'data'"):
        assert plm.check(idata=draws, warn=False).ok
    with pytest.warns(FutureWarning, match="passing approximations, prior by position is deprecated"):
        res = plm.check(draws, None, False, warn=False)
    assert res.ok


def test_compare_summary_old_names_still_accepted(draws):
    rng = np.random.default_rng(1)
    cmp = plm.compare({"p": draws, "q": {"x": rng.normal(size=(4, 300))}}, centers=0.0, radii=[0.5, 1.0])
    new = plm.compare_summary(cmp, fits="q", radius=1)
    with pytest.warns(FutureWarning, match="'models' is now called 'fits'"):
        old = plm.compare_summary(cmp, models="q", radius=1)
    with pytest.warns(FutureWarning, match="'ds' is now called 'data'"):
        old_ds = plm.compare_summary(ds=cmp, fits="q", radius=1)
    with pytest.warns(FutureWarning, match="passing radius by position"):
        old_pos = plm.compare_summary(cmp, 1, fits="q")
    for other in (old, old_ds, old_pos):
        assert other.equals(new)


def test_compare_reference_by_position_still_accepted(draws):
    fits = {"p": draws, "q": draws}
    with pytest.warns(FutureWarning, match="passing reference by position"):
        old = plm.compare(fits, "q", centers=0.0, radii=[0.5])
    assert old.attrs["reference"] == "q"


def test_local_kl_var_name_still_accepted():
    from scipy import stats

    rng = np.random.default_rng(2)
    draws = {"x": rng.normal(size=(4, 500))}
    new = plm.local_kl(draws, stats.norm(0, 1), (-0.5, 0.5), var_names="x", direction="forward", seed=0)
    with pytest.warns(FutureWarning, match="'var_name' is now called 'var_names'"):
        old = plm.local_kl(draws, stats.norm(0, 1), (-0.5, 0.5), var_name="x", direction="forward", seed=0)
    assert float(old["kl"].item()) == float(new["kl"].item())
    listed = plm.local_kl(draws, stats.norm(0, 1), (-0.5, 0.5), var_names=["x"], direction="forward", seed=0)
    assert float(listed["kl"].item()) == float(new["kl"].item())
    with pytest.raises(ValueError, match="takes one variable"):
        plm.local_kl(draws, stats.norm(0, 1), (-0.5, 0.5), var_names=["x", "y"])


def test_misspelt_keywords_are_named_everywhere(draws):
    with pytest.raises(TypeError, match=r"summary\(\) got an unexpected keyword argument 'centres' "
                                        r"\(did you mean 'centers'\?\)"):
        plm.summary(draws, centres=0.0)
    with pytest.raises(TypeError, match=r"compare\(\) got an unexpected keyword argument 'var_name' "
                                        r"\(did you mean 'var_names'\?\)"):
        plm.compare({"p": draws}, var_name="x")
    with pytest.raises(TypeError, match=r"takes 1 positional argument\(s\) but 2 were given"):
        plm.local_mass(draws, "mean")


def test_explicit_defaults_are_no_settings(draws):
    """Passing an option at its default is the same as leaving it out (a results dataset takes it)."""
    res = plm.local_mass(draws, centers=0.0, radii=[0.5, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plm.local_mass(res, centers=None, n_radii=25).identical(res)
    # (the default centre is None, "mean" for draws: "mean" asks for the mean, which results cannot give)
    with pytest.raises(TypeError, match="'centers' cannot apply"):
        plm.local_mass(res, centers="mean")
    with pytest.raises(TypeError, match="'centers' cannot apply"):
        plm.local_mass(res, centers=0.0)


def _flags(func):
    """The options of ``func`` declared ``bool`` (False) or ``bool | None`` (True)."""
    return {p.name: "None" in str(p.annotation) for p in inspect.signature(func).parameters.values()
            if str(p.annotation).replace(" ", "") in ("bool", "bool|None")}


@pytest.mark.parametrize("name", [n for n in PUBLIC if _flags(getattr(plm, n))])
def test_bool_options_refuse_truthy_strings(name):
    # independent="no", joint="false" or inplace="no" acted as True, silently; every option declared
    # bool (or bool | None) now takes only True, False (or None)
    func = getattr(plm, name)
    flags = _flags(func)
    draws = {"x": np.random.default_rng(0).normal(size=(2, 100))}
    args = {"compare": ({"a": draws},), "report": ({"a": draws}, "never_written.html"),
            "local_kl": (draws, draws, (-0.5, 0.5))}.get(name, (draws,))
    for flag, none_ok in flags.items():
        allowed = "True, False or None" if none_ok else "True or False"
        with pytest.raises(plm.errors.InvalidTypeError, match=rf"{name}\(\): {flag} must be {allowed}, got 'no'"):
            func(*args, **{flag: "no"})
    assert not Path("never_written.html").exists()
