"""The documentation site: every public name has an API page, and the site builds with warnings as
errors (a fast variant: notebooks not executed) and loads in headless Chromium without console errors.

``make docs`` is the full build (notebooks executed and cached); this is the guard against rot.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pymc_localmass as plm

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: modules whose public names (their ``__all__``, or the listed names) belong in the API reference
PUBLIC_MODULES = {
    "pymc_localmass.errors": None,
    "pymc_localmass.results": ["validate", "read", "attach", "status_word", "status_note"],
    "pymc_localmass.compare": ["compare", "compare_summary", "local_kl", "Ball", "Box", "Tail", "Where"],
    "pymc_localmass.check": ["check", "CheckResult", "LocalMassWarning"],
}
#: public but not API entries: the version string, the results module (its functions are listed),
#: and errors.DOCUMENTED_ERRORS (a tuple for the tests)
NOT_PAGES = {"__version__", "results", "DOCUMENTED_ERRORS"}


def public_names():
    """Dotted names (relative to ``pymc_localmass``) of everything public."""
    names = {n for n in plm.__all__ if n not in NOT_PAGES}
    for mod_name, listed in PUBLIC_MODULES.items():
        mod = importlib.import_module(mod_name)
        short = mod_name.split(".", 1)[1]
        for n in listed if listed is not None else mod.__all__:
            if n in NOT_PAGES:
                continue
            # names the package re-exports are documented at the top level
            names.add(n if getattr(plm, n, None) is getattr(mod, n) else f"{short}.{n}")
    return names


def api_entries():
    text = (DOCS / "api" / "index.rst").read_text()
    entries = set()
    for block in re.findall(r"\.\. autosummary::\n((?:   .*\n|\n)+)", text):
        entries |= {ln.strip() for ln in block.splitlines() if ln.strip() and not ln.strip().startswith(":")}
    return entries


def test_every_public_name_has_an_api_entry():
    missing = public_names() - api_entries()
    assert not missing, f"add to docs/api/index.rst: {sorted(missing)}"
    for entry in api_entries():  # and each entry resolves to a documented object
        mod, _, name = f"pymc_localmass.{entry}".rpartition(".")
        try:
            obj = getattr(importlib.import_module(mod), name)  # the module, even where a function shadows it
        except AttributeError:  # a submodule the package does not import itself (reference_free)
            obj = importlib.import_module(f"pymc_localmass.{entry}")
        assert (obj.__doc__ or "").strip(), f"{entry} has no docstring"


def test_site_pages_are_in_the_toctree():
    index = (DOCS / "index.md").read_text()
    for page in ("install", "quickstart", "user_guide", "auto_examples/index", "theory", "api/index", "schema",
                 "errors", "changelog"):
        assert f"\n{page}\n" in index, page
    gallery = sorted(p.stem for p in (DOCS / "examples").glob("plot_*.py"))
    assert gallery == ["plot_1_mass", "plot_2_slope", "plot_3_both", "plot_4_overlay_fits", "plot_5_prior_posterior",
                       "plot_6_joint"]  # every kind of plot_local_mass (mass, slope, both; overlays; joint)
    guide = (DOCS / "user_guide.md").read_text()
    from pymc_localmass.core.curves import STATUS_WORDS

    for word in STATUS_WORDS:  # every status is explained
        assert f"\n`{word}`\n: " in guide, word


def build_site(tmp_path):
    """The site, built from a copy of docs/ and notebooks/ (sphinx-gallery and autosummary write into
    the source tree), with warnings as errors and the notebooks not executed (``make docs`` executes
    and caches them)."""
    pytest.importorskip("sphinx")
    for mod in ("pydata_sphinx_theme", "numpydoc", "myst_nb", "sphinx_gallery", "sphinx_copybutton"):
        pytest.importorskip(mod)
    src = tmp_path / "src"
    shutil.copytree(DOCS, src / "docs", symlinks=True, ignore=shutil.ignore_patterns(
        "_build", "auto_examples", "generated", "__pycache__"))
    shutil.copytree(ROOT / "notebooks", src / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy2(ROOT / "CHANGELOG.md", src / "CHANGELOG.md")  # docs/changelog.md includes it
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
           "-D", "nb_execution_mode=off", str(src / "docs"), str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return out


PAGES_TO_RENDER = ["index", "quickstart", "api/generated/pymc_localmass.local_mass",
                   "auto_examples/plot_4_overlay_fits"]


@pytest.mark.slow
def test_docs_build_pages_and_render(tmp_path):
    """One test (the build is shared; under pytest-xdist a fixture would be built once per worker)."""
    site = build_site(tmp_path)
    for name in public_names():
        assert (site / "api" / "generated" / f"pymc_localmass.{name}.html").exists(), name
    for page in ("index", "install", "quickstart", "user_guide", "theory", "schema", "errors", "changelog",
                 "auto_examples/index", "notebooks/advi_collapse"):
        assert (site / f"{page}.html").exists(), page
    # each gallery page carries its image and its code
    for example in (DOCS / "examples").glob("plot_*.py"):
        html = (site / "auto_examples" / f"{example.stem}.html").read_text()
        assert f"sphx_glr_{example.stem}_001.png" in html and "plot_local_mass" in html, example.stem
    browser = _chromium()
    for page in PAGES_TO_RENDER:
        _render(browser, site / f"{page}.html", tmp_path / page.replace("/", "_"))


def _chromium():
    proc = subprocess.run(["bash", str(ROOT / "tools" / "ensure-chromium.sh")], capture_output=True, text=True)
    if proc.returncode == 2:
        pytest.skip(f"headless Chromium unavailable: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _local_refs_missing(page):
    """Local files a page refers to (scripts, styles, images, links) that do not exist."""
    html = page.read_text()
    missing = []
    for ref in re.findall(r'(?:src|href)="([^"#?]+)', html):
        if re.match(r"[a-z]+:", ref) or ref.startswith("//"):
            continue
        if not (page.parent / ref).exists():
            missing.append(ref)
    return missing


def _render(browser, path, work):
    """Load a page in headless Chromium: no console message, no missing local file, not blank."""
    assert not _local_refs_missing(path), path
    png = work / "page.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={work / 'profile'}", "--enable-logging=stderr", "--v=0",
           f"--screenshot={png}", "--window-size=1280,1600", path.as_uri()]
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=work)
    # Chromium prints every console message (log, warning, error, uncaught exception) as a CONSOLE line,
    # without its level; the pages must print none but the theme's own "[PST]" status lines
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln and '] "[PST]' not in ln]
    assert not console, (path, console)
    assert png.exists() and png.stat().st_size > 20000, path
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    assert img.shape[:2] == (1600, 1280) and img.std() > 0.05, path  # not a blank page


def test_readme_example_is_the_script_that_draws_its_figure():
    readme = (ROOT / "README.md").read_text()
    script = (DOCS / "readme_example.py").read_text()
    code = script.split("# --- README example ---\n")[1].split("# --- end ---")[0]
    assert f"```python\n{code}```" in readme
    assert "(docs/figures/readme_local_mass.png)" in readme and (DOCS / "figures" / "readme_local_mass.png").exists()
    for target in re.findall(r"\]\(((?:docs|notebooks)/[^)]*)\)", readme):  # the links to the site's pages
        assert (ROOT / target).exists(), target


def test_changelog_has_one_source():
    """CHANGELOG.md (root) is the changelog; the site's page includes it; its newest entry is this version."""
    page = (DOCS / "changelog.md").read_text()
    assert "```{include} ../CHANGELOG.md" in page and len(page.splitlines()) <= 4, "docs/changelog.md only includes"
    text = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## (\S+)", text, flags=re.M)
    assert versions and versions[0] == plm.__version__, versions[:1]
