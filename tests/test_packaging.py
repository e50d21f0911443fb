"""Release readiness: the core imports without PyMC or tqdm; the version has one source; the wheel
and sdist build, pass ``twine check`` and the wheel, installed into a fresh virtual environment, runs
the demo."""

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import pymc_localmass

ROOT = Path(__file__).resolve().parents[1]

BLOCK = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ImportError("blocked for this test: " + name)
    sys.meta_path.insert(0, Block())
""")


def _run_blocked(code, blocked=("pymc", "pytensor", "tqdm")):
    src = BLOCK.format(blocked=set(blocked)) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_core_works_without_pymc_and_tqdm():
    """PyMC (extra `pymc`) and tqdm (extra `progress`) are optional: draws need neither."""
    proc = _run_blocked("""
        import numpy as np
        import pymc_localmass as plm
        x = {"x": np.abs(np.random.default_rng(0).normal(size=(2, 800)))}
        idx = plm.mass_index(x, centers=0.0)
        plm.summary(idx)
        plm.local_mass(x, centers=0.0, progressbar=True)   # no tqdm: no bar, no error
        plm.check(x, warn=False)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor", "tqdm"))
        a = float(idx["x"].sel(index_stat="a").item())
        print("loaded:", loaded, "a near 1:", 0.7 < a < 1.3)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "loaded: [] a near 1: True" in proc.stdout


def test_model_argument_without_pymc_says_which_extra():
    proc = _run_blocked("""
        import numpy as np
        import pymc_localmass as plm
        try:
            plm.local_mass({"x": np.zeros((2, 10)) + np.arange(10)}, model=object())
        except ImportError as err:
            print("ImportError:", err)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "pymc-localmass[pymc]" in proc.stdout


def _installed(dist_name):
    """Installed as a distribution (a module search would also find e.g. a ``build/`` directory)."""
    try:
        importlib.metadata.version(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel, built once, without network (setuptools of this environment)."""
    out = tmp_path_factory.mktemp("dist")
    # a copy of the sources: setuptools writes build/ and *.egg-info/ next to them
    src = tmp_path_factory.mktemp("src") / "pymc-localmass"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv-*", "_build", "build", "dist", "*.egg-info", "__pycache__", "demo_out", "auto_examples",
        ".pytest_cache", ".hypothesis", "benchmarks"))
    setuptools_ok = False
    if importlib.util.find_spec("setuptools"):
        import setuptools

        setuptools_ok = int(setuptools.__version__.split(".")[0]) >= 77
    if _installed("build") and setuptools_ok:
        cmd = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)]
    elif setuptools_ok:  # no `build`: a wheel through pip
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)]
    else:  # an old setuptools here (the test extra pins a recent one): pip builds in isolation
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    wheels = list(out.glob("pymc_localmass-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    assert wheels[0].name.startswith(f"pymc_localmass-{pymc_localmass.__version__}-py3-none-any")
    return out


@pytest.mark.slow
def test_twine_check(dist):
    if not _installed("twine"):
        pytest.skip("twine is not installed (it comes with the test extra)")
    files = sorted(str(p) for p in dist.iterdir() if p.suffix in (".whl", ".gz"))
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == len(files)


@pytest.mark.slow
def test_wheel_in_fresh_venv_runs_the_demo(dist, tmp_path):
    """Install the wheel (no deps, no index) into a new venv that sees this environment's packages
    (PyMC, ArviZ ...) but not this checkout, and run ``python -m pymc_localmass.demo`` from it."""
    import venv

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    py = env / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # this environment's site-packages as a plain path (its own .pth files, e.g. the editable
    # install of this checkout, are not processed): like --system-site-packages, for a venv
    Path(site, "running_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(dist.glob("*.whl"))
    proc = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    envvars = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    envvars["MPLBACKEND"] = "Agg"
    where = subprocess.run([str(py), "-c", "import pymc_localmass as p; print(p.__file__, p.__version__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=envvars)
    assert where.stdout.startswith(site), where.stdout + where.stderr  # the wheel's copy, not the checkout
    out = tmp_path / "demo_out"
    proc = subprocess.run([str(py), "-m", "pymc_localmass.demo", "--out", str(out), "--draws", "150",
                           "--tune", "150", "--chains", "2"],
                          capture_output=True, text=True, timeout=1200, cwd=tmp_path, env=envvars)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "status" in proc.stdout and "P(tau <=" in proc.stdout
    for name in ("eight_schools.nc", "local_mass.png", "report.html"):
        assert (out / name).stat().st_size > 1000, name


def _wheel_metadata(dist):
    import email
    import zipfile

    wheel = next(dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


def test_wheel_ships_py_typed(dist):
    """PEP 561: the wheel carries ``pymc_localmass/py.typed`` (the public API is typed)."""
    import zipfile

    with zipfile.ZipFile(next(dist.glob("*.whl"))) as zf:
        assert "pymc_localmass/py.typed" in zf.namelist()


def test_version_has_one_source(dist):
    """``pymc_localmass.__version__`` is the only version: pyproject reads it (setuptools dynamic)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _wheel_metadata(dist)["Version"] == pymc_localmass.__version__


def test_metadata_classifiers_urls_extras(dist):
    meta = _wheel_metadata(dist)
    classifiers = meta.get_all("Classifier")
    for v in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {v}" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Homepage", "Documentation", "Source"}
    requires = meta.get_all("Requires-Dist")
    core = sorted(re.split(r"[<>=;\[ ]", r)[0] for r in requires if "extra ==" not in r)
    assert core == ["arviz", "numpy", "pandas", "scipy", "xarray"]  # pymc and tqdm are extras
    assert {"pymc", "progress", "plots", "fast", "all"} <= set(meta.get_all("Provides-Extra"))
    assert meta["Description-Content-Type"] == "text/markdown"
