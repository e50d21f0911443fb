"""The catalogue of bad (and awkward) inputs: each with the right answer or the specific error it must get.

Shared by tests/test_bad_inputs.py (one test per entry) and
scripts/error_catalogue.py (which writes docs/errors.md from it and counts
tried / right answer / specific error), so the table cannot drift from the
tests.

An entry is ``Case(id, input, call, expect)``: ``call()`` runs the input;
``expect`` is ``Raises(class name in pymc_localmass.errors, regex)`` or
``Answer(description, check)`` where ``check(result)`` returns True for the
right answer. ``issue`` marks the reproducers of issue #13.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import xarray as xr


@dataclass
class Raises:
    error: str  # class name in pymc_localmass.errors
    match: str


@dataclass
class Answer:
    what: str
    check: Callable


@dataclass
class Case:
    id: str
    input: str
    call: Callable
    expect: object
    issue: bool = False
    needs_pymc_model: bool = field(default=False)


def _x():
    return np.random.default_rng(0).normal(size=(4, 500))


def _poisson():
    return np.random.default_rng(0).poisson(2.0, size=(2, 20)).astype(float)


def _a(idx, var="x"):
    return float(np.asarray(idx[var].sel(index_stat="a").values).ravel()[0])


def _a_ref():
    import pymc_localmass as plm

    return _a(plm.mass_index({"x": _x()}, centers=0.0))


def _close(v, ref, tol=1e-6):
    return np.isfinite(v) and abs(v - ref) <= tol * abs(ref)


def _lm(*args, **kw):
    import pymc_localmass as plm

    return plm.local_mass(*args, **kw)


def _mi(*args, **kw):
    import pymc_localmass as plm

    return plm.mass_index(*args, **kw)


def _results():
    return _lm({"x": _x()}, centers=0.0)


def _broken(edit):
    """A valid local_mass result edited by ``edit(curve array (center, radius, local_stat), labels)``."""
    import pymc_localmass as plm

    res = _results().copy(deep=True)
    vals = res["x"].values
    labels = [str(s) for s in res["local_stat"].values]
    edit(vals, labels)
    res["x"] = (res["x"].dims, vals)
    return plm.validate(res)


def _set(label, fn):
    def edit(vals, labels):
        i = labels.index(label)
        vals[..., i] = fn(vals[..., i])
    return edit


def _theta_repeated():
    return xr.Dataset({"theta": (("chain", "draw", "school"), np.random.default_rng(0).normal(size=(4, 500, 3)))},
                      coords={"school": ["a", "a", "b"]})


def _y():
    return {"y": np.random.default_rng(0).normal(size=(4, 500, 3))}


def _summary(*args, **kw):
    import pymc_localmass as plm

    return plm.summary(*args, **kw)


def _local_kl(region):
    from scipy import stats

    import pymc_localmass as plm

    return plm.local_kl(stats.norm(0, 1), stats.norm(0.1, 1), region)


def _local_kl_draws(region):
    import pymc_localmass as plm

    rng = np.random.default_rng(0)
    return plm.local_kl(rng.normal(size=2000), rng.normal(0.1, 1, size=2000), region)


def _plm():
    import pymc_localmass as plm

    return plm


def _two_fits():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(4, 300))}, {"x": rng.normal(0.2, 1.0, size=(4, 300))}


def _report_to(path):
    a, b = _two_fits()
    return _plm().report({"A": a, "B": b}, path, centers=0.0)


def _scalar_model():
    import pymc as pm

    with pm.Model() as m:
        pm.Normal("x", 0.0, 1.0)
    return m


def _check_model_mismatch():
    import pymc_localmass as plm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return plm.check({"other": _x()}, model=_scalar_model(), warn=False)


def _check_outside_support():
    import pymc as pm

    import pymc_localmass as plm

    with pm.Model() as m:
        pm.HalfNormal("tau", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return plm.check({"tau": _x()}, model=m, warn=False)


def _advi(model, n=300):
    import pymc as pm

    with model:
        return pm.fit(n, progressbar=False, random_seed=0)


def _check_ref_free(approximations, model):
    import pymc_localmass as plm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return plm.check(approximations=approximations, model=model, warn=False)


def _ref_free_no_model():
    return _check_ref_free({"ADVI": _advi(_scalar_model())}, None)


def _ref_free_draws_as_approximation():
    return _check_ref_free({"NUTS": {"x": _x()}}, _scalar_model())


def _ref_free_other_model():
    return _check_ref_free({"ADVI": _advi(_scalar_model_named("y"))}, _scalar_model())


def _ref_free_discrete():
    import pymc as pm

    with pm.Model() as m:
        pm.Normal("x", 0.0, 1.0)
        pm.Poisson("k", 2.0)
    with pm.Model() as cont:
        pm.Normal("x", 0.0, 1.0)
    return _check_ref_free({"ADVI": _advi(cont)}, m)


def _map_shape_mismatch():
    return _lm(_y() | {}, var_names="y", centers="map", model=_scalar_model_named("y"))


def _scalar_model_named(name):
    import pymc as pm

    with pm.Model() as m:
        pm.Normal(name, 0.0, 1.0)
    return m


def _grid_rule_partial():
    x = _x()
    res = _lm({"tau": np.abs(x), "mu": x}, radii={"tau": [0.1, 0.5]})
    return res.attrs["grid_rule"]


def _idx_auto_1e300():
    import pymc_localmass as plm

    res = plm.local_mass({"x": _x() * 1e300}, centers=0.0)
    plm.validate(res)
    return res


def _finite_radii_scaled(res, s):
    import pymc_localmass as plm

    r = res["x"].sel(local_stat="radius").values
    ref = plm.local_mass({"x": _x()}, centers=0.0)["x"].sel(local_stat="radius").values
    m = res["x"].sel(local_stat="mass").values
    mref = plm.local_mass({"x": _x()}, centers=0.0)["x"].sel(local_stat="mass").values
    return bool(np.isfinite(r).all() and np.allclose(r / s, ref, rtol=1e-9) and np.allclose(m, mref))


# ------------------------------------------------------------------------------------------------ catalogue
CASES = [
    # --- silently wrong answers (issue #13) -> the right answer
    Case("scale-1e20", "mass_index({'x': x * 1e20}, centers=0.0)",
         lambda: _a(_mi({"x": _x() * 1e20}, centers=0.0)),
         Answer("a as at scale 1 (1.04), not a lattice's inf", lambda a: _close(a, _a_ref())), issue=True),
    Case("shift-1e300", "mass_index({'x': 1e300 + x * 1e290}, centers=1e300)",
         lambda: _a(_mi({"x": 1e300 + _x() * 1e290}, centers=1e300)),
         Answer("a as at scale 1 (within rounding of the shifted draws)",
                lambda a: np.isfinite(a) and abs(a - _a_ref()) < 0.01), issue=True),
    Case("lattice-scaled", "Poisson(2) draws (2 x 20) and centre 1.5, both times 10**1.5",
         lambda: _a(_mi({"x": _poisson() * 10**1.5}, centers=1.5 * 10**1.5)),
         Answer("a = inf (the centre is no lattice point), as at scale 1", lambda a: a == np.inf), issue=True),
    Case("lattice-unit", "Poisson(2) draws (2 x 20) at centre 1.5",
         lambda: _a(_mi({"x": _poisson()}, centers=1.5)),
         Answer("a = inf", lambda a: a == np.inf)),
    Case("lattice-int-dtype", "Poisson(2) draws as int64 at centre 1.5",
         lambda: _a(_mi({"x": _poisson().astype(np.int64)}, centers=1.5)),
         Answer("a = inf", lambda a: a == np.inf)),
    Case("scale-1e-200", "mass_index({'x': x * 1e-200}, centers=0.0)",
         lambda: _a(_mi({"x": _x() * 1e-200}, centers=0.0)),
         Answer("a as at scale 1, not 'constant'", lambda a: _close(a, _a_ref())), issue=True),
    Case("scale-1e160", "mass_index({'x': x * 1e160}, centers=0.0)",
         lambda: _a(_mi({"x": _x() * 1e160}, centers=0.0)),
         Answer("a as at scale 1, not 'constant'", lambda a: _close(a, _a_ref())), issue=True),
    Case("scale-1e300-auto-grid", "local_mass({'x': x * 1e300}, centers=0.0) (automatic grid)",
         _idx_auto_1e300,
         Answer("finite radii 1e300 times those at scale 1, the same masses; validate passes",
                lambda res: _finite_radii_scaled(res, 1e300)), issue=True),
    Case("joint-scale-1e-200", "mass_index({'x': x * 1e-200, 'y': y * 1e-200}, joint=True, centers=0.0)",
         lambda: _mi({"x": _x() * 1e-200, "y": _x()[::-1] * 1e-200}, joint=True, centers=0.0),
         Answer("a finite joint index and scale ~ 1.4e-200",
                lambda r: 1e-201 < float(r["x+y"].sel(index_stat="scale").values.ravel()[0]) < 1e-199)),
    Case("far-centre", "mass_index({'x': x * 1e-5}, centers=1e5) (centre 1e10 sds away)",
         lambda: _mi({"x": _x() * 1e-5}, centers=1e5),
         Answer("computed (sd 1e-5 found without cancellation), not 'constant'; 'unresolved', a in [0, inf]",
                lambda r: float(r["x"].sel(index_stat="status").values.ravel()[0]) == 4.0
                and np.isposinf(float(r["x"].sel(index_stat="a_upper").values.ravel()[0])))),
    Case("radii-partial-mapping", "radii={'tau': [...]} with variables tau and mu",
         _grid_rule_partial,
         Answer("grid_rule says which variables have explicit radii", lambda g: g.startswith("explicit for tau;"))),
    # --- validate accepted broken results
    Case("validate-lower-above-upper", "validate: mass_lower = 2 > mass_upper",
         lambda: _broken(_set("mass_lower", lambda v: v * 0 + 2.0)),
         Raises("SchemaError", r"mass_lower > mass_upper"), issue=True),
    Case("validate-descending-radii", "validate: radii in descending order",
         lambda: _broken(_set("radius", lambda v: v[..., ::-1])),
         Raises("SchemaError", r"radii not increasing"), issue=True),
    Case("validate-decreasing-mass", "validate: masses decreasing in r",
         lambda: _broken(_set("mass", lambda v: v[..., ::-1])),
         Raises("SchemaError", r"masses decreasing in r"), issue=True),
    Case("validate-all-nan-mass", "validate: all masses NaN",
         lambda: _broken(_set("mass", lambda v: v * np.nan)),
         Raises("SchemaError", r"mass NaN at a given radius"), issue=True),
    Case("validate-inf-radii", "validate: infinite radii",
         lambda: _broken(_set("radius", lambda v: v * np.inf)),
         Raises("SchemaError", r"infinite radii"), issue=True),
    Case("validate-several", "validate: radii <= 0 and masses above 1 at once",
         lambda: _broken(lambda v, lab: (v.__setitem__((..., lab.index("radius")), -1.0),
                                         v.__setitem__((..., lab.index("mass")), 2.0))),
         Raises("SchemaError", r"(?s)radii <= 0.*masses outside \[0, 1\]")),
    Case("validate-not-dataset", "validate(a dict)", lambda: __import__("pymc_localmass").validate({}),
         Raises("InvalidTypeError", r"expected an xarray.Dataset")),
    # --- dtypes
    Case("complex-draws", "local_mass({'x': x + 100j})", lambda: _lm({"x": _x() + 100j}),
         Raises("InvalidTypeError", r"variable 'x' has complex draws"), issue=True),
    Case("object-draws", "local_mass({'x': x.astype(object)})", lambda: _lm({"x": _x().astype(object)}),
         Raises("InvalidTypeError", r"variable 'x' has draws of dtype object")),
    Case("string-draws", "local_mass({'x': x.astype(str)})", lambda: _lm({"x": _x().astype(str)}),
         Raises("InvalidTypeError", r"variable 'x' has draws of dtype <U")),
    # --- misspelt keys
    Case("radii-unknown-key", "radii={'tua': [0.1, 0.5]} for variable tau",
         lambda: _lm({"tau": np.abs(_x())}, radii={"tua": [0.1, 0.5]}),
         Raises("UnknownNameError", r"radii given for unknown or unselected variable\(s\) \['tua'\]"), issue=True),
    Case("centers-unknown-key", "centers={'tua': 0.0} for variable tau",
         lambda: _lm({"tau": np.abs(_x())}, centers={"tua": 0.0}),
         Raises("UnknownNameError", r"centers given for unknown or unselected variable\(s\) \['tua'\]"),
         issue=True),
    # --- fits of compare/check/report, plot kinds
    Case("compare-unknown-reference", "compare({'A': draws}, reference='B')",
         lambda: __import__("pymc_localmass").compare({"A": {"x": _x()}}, reference="B"),
         Raises("UnknownNameError", r"reference 'B' is not one of the fits \['A'\]")),
    Case("compare-one-container", "compare(idata) (one fit's DataTree/InferenceData, a mapping of groups)",
         lambda: __import__("pymc_localmass").compare(__import__("conftest").make_container(
             posterior={"x": _x()}, sample_stats={"diverging": np.zeros((4, 500), bool)})),
         Raises("InvalidTypeError", r"fits must be a mapping \{name: fit\} of the fits to compare.*got one "
                                    r"(DataTree|InferenceData)")),
    Case("check-approximations-list", "check(draws, approximations=[draws])",
         lambda: __import__("pymc_localmass").check({"x": _x()}, approximations=[{"x": _x()}]),
         Raises("InvalidTypeError", r"approximations must be a mapping \{name: fit\}.*got list")),
    Case("plot-unknown-kind", "plot_local_mass(draws, kind='nope')",
         lambda: __import__("pymc_localmass").plot_local_mass({"x": _x()}, kind="nope", backend="matplotlib"),
         Raises("InvalidInputError", r"kind must be one of \('mass', 'slope', 'both'\), got 'nope'")),
    # --- model
    Case("check-model-mismatch", "check({'other': ...}, model=<model with x>)", _check_model_mismatch,
         Raises("UnknownNameError", r"model: none of the model's variables \['x'\]"), issue=True,
         needs_pymc_model=True),
    Case("check-draws-outside-support", "check({'tau': normal draws}, model=<tau ~ HalfNormal>)",
         _check_outside_support,
         Raises("InvalidInputError", r"model: the draws of group 'posterior' are not this model's: 'tau': \d+ of 2000 "
                                     r"draws lie below its support's lower end 0"),
         needs_pymc_model=True),
    # --- checking without a reference fit (importance sampling from the approximation and the model)
    Case("ref-free-no-model", "check(approximations={'ADVI': approx}) without model=", _ref_free_no_model,
         Raises("InvalidTypeError", r"without a reference fit \(idata=None\) needs model=<pymc.Model>"),
         needs_pymc_model=True),
    Case("ref-free-draws", "check(approximations={'NUTS': {'x': draws}}, model=m)", _ref_free_draws_as_approximation,
         Raises("InvalidInputError", r"approximations \['NUTS'\] are posterior draws: pass the draws as idata="),
         needs_pymc_model=True),
    Case("ref-free-other-model", "ADVI of a model with y, checked with model=<model with x>", _ref_free_other_model,
         Raises("InvalidInputError", r"approximation 'ADVI' lacks the model's free variable\(s\) \['x'\]"),
         needs_pymc_model=True),
    Case("ref-free-discrete", "check without a reference, a model with a discrete free variable",
         _ref_free_discrete, Raises("InvalidInputError", r"needs continuous free variables; the model's \['k'\]"),
         needs_pymc_model=True),
    Case("map-shape-mismatch", "centers='map' for a (3,) variable, model's is scalar", _map_shape_mismatch,
         Raises("InvalidInputError", r"centre 'map' for variable 'y': the model's MAP has shape \(\)"),
         issue=True, needs_pymc_model=True),
    Case("model-not-a-model", "local_mass(..., model='m')", lambda: _lm({"x": _x()}, model="m", centers="map"),
         Raises("InvalidTypeError", r"model must be a pymc.Model"), issue=True),
    # --- labels
    Case("repeated-labels-local-mass", "school = ['a', 'a', 'b']: local_mass", lambda: _lm(_theta_repeated()),
         Raises("InvalidInputError", r"dimension 'school' .* repeated labels \['a'\]"), issue=True),
    Case("repeated-labels-summary", "school = ['a', 'a', 'b']: summary", lambda: _summary(_theta_repeated()),
         Raises("InvalidInputError", r"dimension 'school' .* repeated labels \['a'\]"), issue=True),
    Case("repeated-labels-coords", "school = ['a', 'a', 'b']: coords={'school': ['a']}",
         lambda: _lm(_theta_repeated(), coords={"school": ["a"]}),
         Raises("InvalidInputError", r"repeated labels"), issue=True),
    Case("repeated-labels-array-centre", "school = ['a', 'a', 'b']: a DataArray centre over school",
         lambda: _lm(_theta_repeated(), centers=xr.DataArray([0.0, 0.0, 0.0], dims="school",
                                                              coords={"school": ["a", "a", "b"]})),
         Raises("InvalidInputError", r"repeated labels"), issue=True),
    # --- coords
    Case("coords-empty", "coords={'y_dim_0': []}", lambda: _lm(_y(), coords={"y_dim_0": []}),
         Raises("InvalidInputError", r"coords select nothing along 'y_dim_0'"), issue=True),
    Case("coords-position-out-of-range", "coords={'y_dim_0': [7]} (3 elements, no labels)",
         lambda: _lm(_y(), coords={"y_dim_0": [7]}),
         Raises("UnknownNameError", r"dimension 'y_dim_0' has no labels, so its values are positions 0..2; got \[7\]"),
         issue=True),
    Case("coords-unknown-label", "coords={'school': ['z']}",
         lambda: _lm(xr.Dataset({"t": (("chain", "draw", "school"), _y()["y"])}, coords={"school": ["a", "b", "c"]}),
                     coords={"school": ["z"]}),
         Raises("UnknownNameError", r"dimension 'school' has no label\(s\) \['z'\]")),
    Case("coords-unknown-integer-label", "coords={'k': [999]}, labels 0..14",
         lambda: _lm(xr.Dataset({"t": (("chain", "draw", "k"), np.zeros((2, 100, 15)) + _x()[:2, :100, None])},
                                coords={"k": np.arange(15)}), coords={"k": [999]}),
         Raises("UnknownNameError", r"no label\(s\) \[999\]; its labels are \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\] "
                                    r"\.\.\. \(15 in all\)")),
    Case("coords-unknown-dim", "coords={'school': [0]} on data without that dim",
         lambda: _lm({"x": _x()}, coords={"school": [0]}),
         Raises("UnknownNameError", r"unknown dimension\(s\) \['school'\]")),
    # --- scalar arguments
    Case("min-ess-zero", "min_ess=0", lambda: _lm({"x": _x()}, min_ess=0),
         Raises("InvalidInputError", r"min_ess must be a finite number > 0"), issue=True),
    Case("min-ess-negative", "min_ess=-1", lambda: _lm({"x": _x()}, min_ess=-1),
         Raises("InvalidInputError", r"min_ess must be a finite number > 0"), issue=True),
    Case("min-ess-nan", "min_ess=nan", lambda: _lm({"x": _x()}, min_ess=float("nan")),
         Raises("InvalidInputError", r"min_ess must be a finite number > 0")),
    Case("n-radii-fraction", "n_radii=2.7", lambda: _lm({"x": _x()}, n_radii=2.7),
         Raises("InvalidInputError", r"n_radii must be a whole number"), issue=True),
    Case("n-radii-one", "n_radii=1", lambda: _lm({"x": _x()}, n_radii=1),
         Raises("InvalidInputError", r"n_radii must be at least 2")),
    Case("n-radii-string", "n_radii='5'", lambda: _lm({"x": _x()}, n_radii="5"),
         Raises("InvalidInputError", r"n_radii must be a whole number")),
    # --- radii and centres of the wrong kind
    Case("radii-strings", "radii=['a', 'b']", lambda: _lm({"x": _x()}, radii=["a", "b"]),
         Raises("InvalidTypeError", r"radii must be absolute radii"), issue=True),
    Case("radii-string", "radii='0.1'", lambda: _lm({"x": _x()}, radii="0.1"),
         Raises("InvalidTypeError", r"radii must be absolute radii")),
    Case("radii-zero", "radii=[0.0, 0.1]", lambda: _lm({"x": _x()}, radii=[0.0, 0.1]),
         Raises("InvalidInputError", r"radii for 'x' must be > 0")),
    Case("radii-duplicates", "radii=[0.1, 0.1]", lambda: _lm({"x": _x()}, radii=[0.1, 0.1]),
         Raises("InvalidInputError", r"duplicates")),
    Case("radii-inf", "radii=[0.1, inf]", lambda: _lm({"x": _x()}, radii=[0.1, np.inf]),
         Raises("InvalidInputError", r"radii for 'x' must be finite")),
    Case("radii-2d", "radii=[[0.1, 0.2]]", lambda: _lm({"x": _x()}, radii=[[0.1, 0.2]]),
         Raises("InvalidInputError", r"non-empty 1-D array")),
    Case("centers-complex", "centers=1j", lambda: _lm({"x": _x()}, centers=1j),
         Raises("InvalidTypeError", r"centers: 1j is complex"), issue=True),
    Case("centers-complex-array", "centers=np.array([1j])", lambda: _lm({"x": _x()}, centers=np.array([1j])),
         Raises("InvalidTypeError", r"centers: an array of dtype complex128")),
    Case("centers-keyword", "centers='middle'", lambda: _lm({"x": _x()}, centers="middle"),
         Raises("InvalidInputError", r"unknown centre keyword 'middle'")),
    Case("centers-nan", "centers=nan", lambda: _lm({"x": _x()}, centers=float("nan")),
         Raises("InvalidInputError", r"centre for variable 'x' must be finite")),
    Case("centers-shape", "centers=np.zeros(2) for a (3,) variable", lambda: _lm(_y(), centers=np.zeros(2)),
         Raises("InvalidInputError", r"centre for variable 'y' has shape \(2,\), expected \(3,\)")),
    Case("centers-object", "centers=object()", lambda: _lm({"x": _x()}, centers=object()),
         Raises("InvalidTypeError", r"centers: cannot use object as a centre")),
    Case("centers-map-no-model", "centers='map' without model", lambda: _lm({"x": _x()}, centers="map"),
         Raises("InvalidInputError", r"needs model=")),
    Case("centers-boundary-two-signed", "centers='boundary' for draws of both signs",
         lambda: _lm({"x": _x()}, centers="boundary"), Raises("InvalidInputError", r"no support boundary")),
    # --- names that clash
    Case("variable-named-radius", "a variable named 'radius'", lambda: _lm({"radius": _x()}),
         Raises("InvalidInputError", r"variable 'radius' has the name of a coordinate of the results"), issue=True),
    Case("variable-named-center", "a variable named 'center'", lambda: _lm({"center": _x()}),
         Raises("InvalidInputError", r"variable 'center' has the name of a coordinate of the results"), issue=True),
    Case("dim-named-coord", "an element dim named '__coord__' (joint=True)",
         lambda: _lm(xr.Dataset({"x": (("chain", "draw", "__coord__"), _y()["y"])}), joint=True),
         Raises("InvalidInputError", r"dimension named '__coord__', a name pymc-localmass uses internally"),
         issue=True),
    Case("dim-named-el", "an element dim named '__el__' (summary)",
         lambda: _summary(xr.Dataset({"x": (("chain", "draw", "__el__"), _y()["y"])})),
         Raises("InvalidInputError", r"dimension named '__el__'"), issue=True),
    Case("dim-named-like-results", "an element dim named 'radius'",
         lambda: _lm(xr.Dataset({"x": (("chain", "draw", "radius"), _y()["y"])})),
         Raises("InvalidInputError", r"dimension\(s\) \['radius'\], names the results use")),
    # --- outside check of 2026-12-07
    Case("centers-empty", "centers=[]", lambda: _lm({"x": _x()}, centers=[]),
         Raises("InvalidInputError", r"centers is empty")),
    Case("centers-nested-keyword", "centers={'x': {'zero': 'zeros'}}",
         lambda: _lm({"x": _x()}, centers={"x": {"zero": "zeros"}}),
         Raises("InvalidInputError", r"unknown centre keyword 'zeros'")),
    Case("centers-repeated", "centers=[1.0, 1.0, 12.0]", lambda: _lm({"x": _x()}, centers=[1.0, 1.0, 12.0]),
         Raises("InvalidInputError", r"'x' is given the centre 1 twice")),
    Case("centers-bool", "centers=True", lambda: _lm({"x": _x()}, centers=True),
         Raises("InvalidTypeError", r"cannot use bool as a centre")),
    Case("var-names-int", "var_names=3", lambda: _lm({"x": _x()}, var_names=3),
         Raises("InvalidTypeError", r"var_names must be a name or a list of names, got 3")),
    Case("dict-draw-sizes", "{'x': (4, 500), 'y': (4, 499)}",
         lambda: _lm({"x": _x(), "y": _x()[:, :499]}),
         Raises("InvalidInputError", r"different \(chain, draw\) sizes")),
    Case("local-kl-region-string", "local_kl(p, q, region='all')",
         lambda: __import__("pymc_localmass").local_kl({"x": _x()}, {"x": _x()}, "all", var_names="x"),
         Raises("InvalidTypeError", r"region must be a Box, Ball, Tail, Where")),
    Case("ball-negative-radius", "Ball(0.0, -1.0)",
         lambda: __import__("importlib").import_module("pymc_localmass.compare").Ball(0.0, -1.0),
         Raises("InvalidInputError", r"Ball radius must be > 0, got -1")),
    Case("tail-zero-threshold", "Tail(0.0, 0.0)",
         lambda: __import__("importlib").import_module("pymc_localmass.compare").Tail(0.0, 0.0),
         Raises("InvalidInputError", r"Tail threshold must be > 0, got 0")),
    Case("box-reversed", "Box(1.0, 0.0)",
         lambda: __import__("importlib").import_module("pymc_localmass.compare").Box(1.0, 0.0),
         Raises("InvalidInputError", r"Box needs lower <= upper")),
    Case("ball-string-center", "Ball('a', 1.0)",
         lambda: __import__("importlib").import_module("pymc_localmass.compare").Ball("a", 1.0),
         Raises("InvalidTypeError", r"Ball center must be a number")),
    Case("plot-unknown-backend", "plot_local_mass(draws, backend='ggplot')",
         lambda: __import__("pymc_localmass").plot_local_mass({"x": _x()}, backend="ggplot"),
         Raises("InvalidInputError", r"backend must be 'matplotlib', 'bokeh' or 'plotly', got 'ggplot'")),
    Case("report-max-panels-zero", "report(fits, path, max_panels=0)",
         lambda: __import__("pymc_localmass").report({"A": {"x": _x()}, "B": {"x": _x()}}, "r.html",
                                                     max_panels=0),
         Raises("InvalidInputError", r"max_panels must be an integer >= 1, got 0")),
    Case("report-path-directory", "report(fits, path=<a directory>)",
         lambda: __import__("pymc_localmass").report({"A": {"x": _x()}, "B": {"x": _x()}}, "."),
         Raises("InvalidInputError", r"is a directory; give the HTML file to write")),
    Case("joint-nan-omit", "joint ball, one NaN draw, nan_policy='omit'",
         lambda: _a(_mi({"x": np.where(np.arange(2000).reshape(4, 500) == 5, np.nan, _x()), "y": _x() * 2},
                        joint=True, centers=0.0, nan_policy="omit"), "x+y"),
         Answer("an index (the NaN draw left out), not an SVD failure", lambda v: np.isfinite(v) and 1 < v < 3)),
    Case("compare-summary-radius-beyond-grid", "compare_summary(cmp, radius=50.0) beyond the grid",
         lambda: __import__("pymc_localmass").compare_summary(
             __import__("pymc_localmass").compare({"A": {"x": _x()}, "B": {"x": _x()}}, centers=0.0), radius=50.0),
         Raises("InvalidInputError", r"radius 50 is outside every region's grid")),
    Case("plot-stats-typo", "plot_local_mass(draws, stats={'local_mas': {...}})",
         lambda: __import__("pymc_localmass").plot_local_mass({"x": _x()}, backend="matplotlib",
                                                              stats={"local_mas": {"centers": 0.0}}),
         Raises("UnknownNameError", r"stats takes the key 'local_mass'.*got \['local_mas'\]")),
    Case("joint-nan-omit-scaled", "joint ball, norm='scaled', one NaN coordinate, nan_policy='omit'",
         lambda: _a(_mi({"x": np.where(np.arange(2000).reshape(4, 500) == 5, np.nan, _x()), "y": _x() * 2},
                        joint=True, norm="scaled", centers=0.0, nan_policy="omit"), "x+y"),
         Answer("an index (the NaN draw left out of the sds too)", lambda v: np.isfinite(v) and 1 < v < 3)),
    # --- draws
    Case("nan-draws", "a NaN draw", lambda: _lm({"x": np.where(np.arange(500) == 3, np.nan, _x())}),
         Raises("InvalidInputError", r"variable 'x' has non-finite draws")),
    Case("nan-draws-compare", "a NaN draw in the second fit of compare()",
         lambda: __import__("pymc_localmass").compare({"a": {"x": _x()}, "b": {"x": np.where(
             np.arange(2000).reshape(4, 500) == 3, np.nan, _x())}}),
         Raises("InvalidInputError", r"fit 'b': variable 'x' has non-finite draws .*a comparison or check reads "
                                     r"every draw: select the finite draws first")),
    Case("nan-draws-check", "a NaN draw in check()'s reference",
         lambda: __import__("pymc_localmass").check({"x": np.where(np.arange(2000).reshape(4, 500) == 3, np.nan,
                                                                   _x())}, warn=False),
         Raises("InvalidInputError", r"fit 'posterior': variable 'x' has non-finite draws .*local_mass\(\.\.\., "
                                     r"nan_policy='omit'\)")),
    Case("inf-draws", "an inf draw", lambda: _lm({"x": np.where(np.arange(500) == 3, np.inf, _x())}),
         Raises("InvalidInputError", r"variable 'x' has non-finite draws")),
    Case("constant-draws", "constant draws", lambda: _lm({"x": np.full((4, 100), 3.0)}),
         Raises("InvalidInputError", r"variable 'x' is constant")),
    Case("single-chain", "one chain", lambda: _lm({"x": _x()[:1]}), Raises("InvalidInputError", r"single chain")),
    Case("few-draws", "10 draws per chain", lambda: _lm({"x": _x()[:, :10]}),
         Raises("InvalidInputError", r"only 10 draws per chain")),
    Case("draws-1d", "a 1-D array in a dict", lambda: _lm({"x": np.zeros(10)}),
         Raises("InvalidInputError", r"shape \(chain, draw, \.\.\.\)")),
    Case("data-list", "data=[1, 2, 3]", lambda: _lm([1, 2, 3]), Raises("InvalidTypeError", r"data must be")),
    Case("unknown-variable", "var_names=['nope']", lambda: _lm({"x": _x()}, var_names=["nope"]),
         Raises("UnknownNameError", r"variable\(s\) \['nope'\] not found")),
    Case("unknown-group", "group='posterior_predictive' of a container without it",
         lambda: _lm(__import__("conftest").make_container(posterior={"x": _x()}), group="posterior_predictive"),
         Raises("UnknownNameError", r"group 'posterior_predictive' not found")),
    Case("joint-constant-element", "joint=True over a vector with one constant element",
         lambda: _mi({"theta": np.stack([_x(), np.full((4, 500), 2.5), _x()], axis=-1)}, joint=True, centers=0.0),
         Raises("InvalidInputError", r"joint ball: theta\[1\] never varies in the draws \(zero variance\).*leave "
                                     r"them out")),
    Case("regex-invalid", "var_names='[' with filter_vars='regex'", lambda: _mi({"x": _x()}, var_names="[",
                                                                               filter_vars="regex"),
         Raises("InvalidInputError", r"var_names: '\[' is not a regular expression \(filter_vars='regex'\)")),
    Case("centers-decimal", "centers=Decimal('0.5')",
         lambda: _mi({"x": _x()}, centers=__import__("decimal").Decimal("0.5")),
         Answer("the centre 0.5 (was called complex)", lambda idx: float(idx["x"].sel(index_stat="center_value")
                                                                        .values.ravel()[0]) == 0.5)),
    Case("centers-fraction", "centers=Fraction(1, 2)",
         lambda: _mi({"x": _x()}, centers=__import__("fractions").Fraction(1, 2)),
         Answer("the centre 0.5 (a raw numpy TypeError before)", lambda idx: float(
             idx["x"].sel(index_stat="center_value").values.ravel()[0]) == 0.5)),
    Case("centers-beyond-precision", "centers=1e308 for draws near 1",
         lambda: _mi({"x": _x()}, centers=1e308),
         Raises("InvalidInputError", r"variable 'x': its draws vary, but their distances to the centre are all "
                                     r"equal in float64")),
    Case("centers-negative-zero", "centers=[0.0, -0.0]", lambda: _mi({"x": _x()}, centers=[0.0, -0.0]),
         Raises("InvalidInputError", r"centers: 'x' is given the centre 0 twice")),
    Case("centers-negative-zero-alone", "centers=-0.0", lambda: _mi({"x": _x()}, centers=-0.0),
         Answer("the centre 0, labelled '0' (was '-0', beside '0')",
                lambda idx: [str(c) for c in idx["center"].values] == ["0"] and _close(_a(idx), _a_ref()))),
    Case("masked-array", "a numpy masked array with masked draws, in a dict",
         lambda: _lm({"x": np.ma.masked_array(_x(), mask=_x() > 1.0)}),
         Raises("InvalidInputError", r"variable 'x' is a numpy masked array with \d+ masked value\(s\): the mask "
                                     r"is not honoured .*x\.filled\(np\.nan\) with nan_policy='omit'")),
    Case("masked-array-nothing-masked", "a numpy masked array with no masked value",
         lambda: _mi({"x": np.ma.masked_array(_x())}, centers=0.0),
         Answer("the plain array's numbers", lambda idx: _close(_a(idx), _a_ref()))),
    Case("int64-beyond-float64", "int64 draws 2**60 + Poisson(3) (they vary, but not in float64)",
         lambda: _mi({"k": 2**60 + np.random.default_rng(0).poisson(3, (4, 300)).astype(np.int64)}),
         Raises("InvalidInputError", r"variable 'k' varies at k \(its draws run from 1152921504606846976 to .*int64\), "
                                     r"but not within float64 precision: they are equal after conversion to float64")),
    Case("int64-beyond-float64-joint", "joint=True with int64 draws 2**60 + Poisson(3)",
         lambda: _mi({"x": _x()[:, :300], "k": 2**60 + np.random.default_rng(0).poisson(3, (4, 300)).astype(np.int64)},
                     joint=True, centers=0.0),
         Raises("InvalidInputError", r"joint ball: variable 'k' varies at k .*but not within float64 precision")),
    Case("window-string", "window='auto'", lambda: _mi({"x": _x()}, window="auto"),
         Raises("InvalidInputError", r"window must be whole numbers of nearest draws \(one, or a list\), got 'auto'")),
    Case("variable-named-group", "a variable named 'group', group=['posterior', 'prior']",
         lambda: _mi(__import__("conftest").make_container(posterior={"group": _x()}, prior={"group": _x()}),
                     group=["posterior", "prior"], centers=0.0),
         Raises("InvalidInputError", r"variable\(s\) \['group'\] have a dimension or a name 'group'")),
    Case("zero-length-dim", "an element dim of length 0",
         lambda: _mi(xr.Dataset({"t": (("chain", "draw", "k"), np.zeros((4, 300, 0)))}), centers=0.0),
         Raises("InvalidInputError", r"variable 't' has no elements: its dimension 'k' has length 0")),
    Case("flag-string", "independent='no' (a truthy string for a bool option)",
         lambda: _lm({"x": _x()}, independent="no"),
         Raises("InvalidTypeError", r"local_mass\(\): independent must be True, False or None, got 'no' \(str\)")),
    Case("flag-string-joint", "joint='false'", lambda: _mi({"x": _x(), "y": _x()}, joint="false"),
         Raises("InvalidTypeError", r"mass_index\(\): joint must be True or False, got 'false'")),
    Case("grid-beyond-float64", "draws of +-1.7e308 (automatic grid)",
         lambda: _lm({"x": np.where(np.arange(40).reshape(2, 20) % 2 == 0, 1.7e308, -1.7e308)}, centers=0.0),
         Raises("InvalidInputError", r"variable 'x': the automatic radius grid .* exceeds the float64 range; "
                                     r"pass radii=")),
    # --- outside hardening check (session of 2026-12-08)
    Case("compare-names-collide", "compare({1: fit, '1': other}): names equal as text",
         lambda: _plm().compare(dict(zip([1, "1"], _two_fits())), centers=0.0),
         Raises("InvalidInputError", r"fits: the fit names '1' collide once written as text")),
    Case("joint-radii-member", "joint=True with radii={'x': [...]} (keyed by a member, not by 'x+y')",
         lambda: _lm({"x": _x(), "y": _x()}, joint=True, centers=0.0, radii={"x": [0.1, 1.0]}),
         Raises("InvalidInputError", r"radii for the joint ball of \['x', 'y'\] are keyed by its name 'x\+y'")),
    Case("groups-lack-variable", "group=['posterior', 'prior'] where the prior lacks 'mu'",
         lambda: _lm(__import__("conftest").make_container(posterior={"tau": np.abs(_x()), "mu": _x()},
                                                          prior={"tau": np.abs(_x())}),
                     group=["posterior", "prior"], centers=0.0),
         Raises("UnknownNameError", r"variable\(s\) \['mu'\] of group 'posterior' are not in group 'prior'")),
    Case("centers-nested-empty", "centers={'x': {}}", lambda: _mi({"x": _x()}, centers={"x": {}}),
         Raises("InvalidInputError", r"centers is empty")),
    Case("labels-same-text", "element labels [1, '1', 2] (distinct values, the same text)",
         lambda: _mi(xr.Dataset({"t": (("chain", "draw", "k"), np.random.default_rng(0).normal(size=(4, 300, 3)))},
                                coords={"k": np.array([1, "1", 2], dtype=object)}), centers=0.0),
         Raises("InvalidInputError", r"dimension 'k' \(of variable 't'\) has labels \[1, '1'\] that differ as "
                                     r"values but read the same as text")),
    Case("compare-summary-bool-radius", "compare_summary(result, radius=True)",
         lambda: _plm().compare_summary(_plm().compare(dict(zip("AB", _two_fits())), centers=0.0), radius=True),
         Raises("InvalidInputError", r"radius must be .* a grid position \(int\) or a radius \(float\), got True")),
    Case("report-empty-path", "report(fits, '')", lambda: _report_to(""),
         Raises("InvalidInputError", r"path is empty")),
    Case("report-bytes-path", "report(fits, b'r.html')", lambda: _report_to(b"r.html"),
         Raises("InvalidTypeError", r"path must be a str or os.PathLike .*, got bytes")),
    Case("report-under-a-file", "report(fits, 'a_file/r.html') where a_file is a file",
         lambda: _report_to(__file__ + "/r.html"),
         Raises("InvalidInputError", r"lies under .*, which is a file, not a folder")),
    Case("local-kl-nan-draws", "local_kl(draws with a NaN, draws, region)",
         lambda: _plm().local_kl(np.r_[_x()[0], np.nan], _x()[1], (-0.5, 0.5)),
         Raises("InvalidInputError", r"draws of x \(the first distribution\) contain NaN \(1 of 501\)")),
    Case("summary-of-compare", "summary(compare(...))",
         lambda: _summary(_plm().compare(dict(zip("AB", _two_fits())), centers=0.0)),
         Raises("InvalidInputError", r"this is the result of compare\(\) .*plm\.compare_summary\(result\)")),
    # --- local_kl regions
    Case("local-kl-reversed", "local_kl(norm, norm, region=(0.5, -0.5))", lambda: _local_kl((0.5, -0.5)),
         Raises("InvalidInputError", r"region \(0.5, -0.5\) has its lower end above its upper end"), issue=True),
    Case("local-kl-reversed-draws", "local_kl(draws, draws, region=(0.5, -0.5))",
         lambda: _local_kl_draws((0.5, -0.5)),
         Raises("InvalidInputError", r"lower end above its upper end"), issue=True),
    Case("local-kl-nan", "local_kl(norm, norm, region=(nan, 0.5))", lambda: _local_kl((np.nan, 0.5)),
         Raises("InvalidInputError", r"region \(nan, 0.5\) has a NaN end"), issue=True),
]
