"""Sphinx configuration of the pymc-localmass site (``make docs``; warnings are errors there)."""

import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the package of this checkout, not an installed copy
sys.path.insert(0, str(DOCS))  # docs/gallery.py: the synthetic draws the gallery examples share

import pymc_localmass  # noqa: E402

project = "pymc-localmass"
author = "pymc-localmass developers"
copyright = "2026, pymc-localmass developers"
version = release = pymc_localmass.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "figures",
    "examples/README.txt", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
    "auto_examples/*.md5", "auto_examples/*.codeobj.json", "sg_execution_times.rst",
]
templates_path = ["_templates"]

# -- API reference: one generated page per public name (docs/api/index.rst) -------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- notebooks (myst-nb): executed once and cached; rerun only when their code changes ---
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- gallery (sphinx-gallery): one page per plot kind, with its image and code ----------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
}

# -- cross-references ---------------------------------------------------------------------
intersphinx_mapping = {}  # offline builds: no inventories are fetched
suppress_warnings = ["config.cache"]  # sphinx-gallery's conf holds callables; rebuilds are full anyway

# -- HTML: the theme of ArviZ, PyMC and xarray -----------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"pymc-localmass {release}"
html_static_path = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}  # an explicit mode (none makes the theme log an error)
html_sidebars = {"index": [], "install": [], "quickstart": [], "changelog": []}
html_show_sourcelink = False

warnings.filterwarnings("ignore", category=DeprecationWarning)
