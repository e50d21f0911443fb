"""The layer contract of docs (DESIGN.md "Shape of the code"), read from the source's imports.

Every import is read with ``ast``, at module level and inside functions, plus
``importlib.import_module("...")`` / ``__import__("...")`` with a literal name;
relative imports are resolved. The rules:

1. ``pymc_localmass/core/**`` is numpy/scipy only: no xarray, arviz, arviz-*
   (arviz_base, arviz_stats, arviz_plots), pymc or pytensor, and nothing of
   the package outside ``core`` (nothing below knows what is above). The one
   exception is the optional compiled kernel ``core/_compiled.py`` (numba),
   which only it imports and which is loaded on first use, not on import.
2. ``plots/`` and ``report.py`` import no PyMC (pymc, pytensor).
3. ``plots/``, ``report.py`` and ``check.py`` read results and call the public
   estimators; they do not reach into ``adapters`` (the one edge where input
   is converted).
4. The estimator tiers (``tiers/``) and the adapters (``adapters/``) do not
   import the public estimators (``estimators.py``) back: the estimators call
   the tiers, and the tiers share their rules through private modules
   (``_centers``, ``_radii``, ``_progress``, ``_validate``).

Rule 3 is met: ``KNOWN_VIOLATIONS`` is empty, and may only stay so (the
test fails on a violation not in it, and on an entry that no longer
occurs).
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pymc_localmass"

NUMERIC_ONLY_FORBIDDEN = ("xarray", "arviz", "pymc", "pytensor")
PYMC = ("pymc", "pytensor")

#: (importing module, imported module) pairs that break rule 3 today; this list may only shrink (empty: the
#: readers ask the estimators, ``estimators.describe_fit``, for the few facts about a raw fit they need)
KNOWN_VIOLATIONS = {}


def _module_name(path):
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(dotted):
    rel = dotted.split(".")[1:]
    if dotted.split(".")[0] != "pymc_localmass":
        return False
    base = PKG.joinpath(*rel) if rel else PKG
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path):
    """``{(imported module, line)}`` of one source file (absolute dotted names)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add((module, node.lineno))
            for alias in node.names:  # `from . import adapters`: the submodule itself
                if _is_module(f"{module}.{alias.name}"):
                    found.add((f"{module}.{alias.name}", node.lineno))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__"):
                found.add((node.args[0].value, node.lineno))
    return found


def _sources(sub=""):
    return sorted((PKG / sub).rglob("*.py")) if sub else sorted(PKG.rglob("*.py"))


def _top(dotted):
    return dotted.split(".")[0]


def test_the_scanner_sees_imports():
    """Not vacuous: module-level, function-local, relative and import_module() imports are all read."""
    est = {m for m, _ in imports_of(PKG / "estimators.py")}
    assert {"xarray", "pymc_localmass.adapters", "pymc_localmass.tiers", "pymc_localmass.core.index"} <= est
    check = {m for m, _ in imports_of(PKG / "check.py")}
    assert "pymc_localmass.tiers.model" in check  # imported inside a function
    assert any(_top(m) == "pymc" for p in _sources() for m, _ in imports_of(p))


@pytest.mark.parametrize("path", _sources("core"), ids=lambda p: p.name)
def test_core_is_numpy_and_scipy_only(path):
    bad = sorted((m, line) for m, line in imports_of(path)
                 if _top(m) in NUMERIC_ONLY_FORBIDDEN or _top(m).startswith("arviz_")
                 or (_top(m) == "pymc_localmass" and not (m + ".").startswith("pymc_localmass.core.")))
    assert not bad, f"{_module_name(path)} imports {bad} (core is numpy/scipy only)"


@pytest.mark.parametrize("path", _sources("core"), ids=lambda p: p.name)
def test_numba_only_in_the_compiled_kernel(path):
    uses = [line for m, line in imports_of(path) if _top(m) == "numba"]
    assert bool(uses) == (path.name == "_compiled.py"), f"{_module_name(path)} imports numba at {uses}"


def test_compiled_kernel_not_loaded_on_import():
    """Importing the package (and its core) does not load the kernel, nor so numba: it loads on first use.

    (ArviZ 0.2x imports numba itself where it is installed; the check is on our module.)
    """
    import subprocess
    import sys

    code = ("import sys, pymc_localmass, pymc_localmass.core.curves; "
            "print('pymc_localmass.core._compiled' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("path", _sources("plots") + [PKG / "report.py"], ids=lambda p: _module_name(p))
def test_plots_and_report_import_no_pymc(path):
    bad = sorted((m, line) for m, line in imports_of(path) if _top(m) in PYMC)
    assert not bad, f"{_module_name(path)} imports {bad}"


def _adapter_imports():
    readers = _sources("plots") + [PKG / "report.py", PKG / "check.py"]
    found = {}
    for path in readers:
        for module, line in imports_of(path):
            if (module + ".").startswith("pymc_localmass.adapters."):
                found.setdefault((_module_name(path), module), []).append(line)
    return found


def test_readers_do_not_reach_into_adapters():
    found = _adapter_imports()
    new = {k: v for k, v in found.items() if k not in KNOWN_VIOLATIONS}
    assert not new, (f"new layer violations (plots/report/check importing adapters): {new}; read results or "
                     "call the public estimators instead")
    gone = sorted(set(KNOWN_VIOLATIONS) - set(found))
    assert not gone, f"fixed, so remove from KNOWN_VIOLATIONS in tests/test_layers.py: {gone}"


@pytest.mark.parametrize("path", _sources("tiers") + _sources("adapters"), ids=lambda p: _module_name(p))
def test_tiers_and_adapters_do_not_import_the_estimators(path):
    bad = sorted((m, line) for m, line in imports_of(path) if m == "pymc_localmass.estimators")
    assert not bad, f"{_module_name(path)} imports {bad} (the estimators call the tiers, not the reverse)"
