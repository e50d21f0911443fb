# pymc-localmass: two commands do all set-up.
#   make demo   -> creates the modern environment if missing, runs the eight-schools demo
#   make test   -> creates the environments if missing, lints (ruff), runs the full suite in both generations
#                  (and the pymc-extras adapters in a third environment)
#   make docs   -> creates .venv-docs if missing, builds the documentation site (warnings are errors)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY_MODERN ?= $(shell sh tools/find-python.sh 3.12)
PY_LEGACY ?= $(shell sh tools/find-python.sh 3.11)
VENV_MODERN := .venv-modern
VENV_LEGACY := .venv-legacy
VENV_EXTRAS := .venv-extras
VENV_DOCS := .venv-docs
PYTEST_ARGS ?=
PIP_FLAGS ?= --quiet --disable-pip-version-check
# the package's extras each environment installs (pymc and tqdm are optional for the package itself)
EXTRAS_TEST := test,plots,pymc,progress
EXTRAS_MODERN := $(EXTRAS_TEST),docs
EXTRAS_DOCS := plots,pymc,progress,docs

.PHONY: help demo lint test test-modern test-legacy test-extras envs clean bench docs docs-fast dist

help:
	@echo "make demo   - eight-schools demo (modern stack), writes demo_out/"
	@echo "make test   - lint (ruff), then the full test suite in both stack generations, plus the pymc-extras adapters"
	@echo "make lint   - ruff (pyproject.toml [tool.ruff]): pyflakes, pycodestyle, numpydoc docstrings of the public API"
	@echo "make bench  - accuracy and speed benchmarks (modern stack)"
	@echo "make docs   - the documentation site (Sphinx, notebooks executed and cached), warnings are errors -> docs/_build/html"
	@echo "make dist   - wheel and sdist in dist/, checked with twine"

# $(call make-venv,<venv dir>,<python>,<requirements file>,<label>,<extras>)
define make-venv
	@test -n "$(2)" || { echo "Python for the $(4) stack not found (see README prerequisites)"; exit 1; }
	@echo ">> creating $(1) ($(4) stack) with $(2)"
	$(2) -m venv $(1)
	$(1)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(1)/bin/python -m pip install $(PIP_FLAGS) -r $(3) -e ".[$(5)]"
	@touch $(1)/.installed
endef

$(VENV_MODERN)/.installed: pyproject.toml requirements/modern.txt
	$(call make-venv,$(VENV_MODERN),$(PY_MODERN),requirements/modern.txt,modern,$(EXTRAS_MODERN))

$(VENV_LEGACY)/.installed: pyproject.toml requirements/legacy.txt
	$(call make-venv,$(VENV_LEGACY),$(PY_LEGACY),requirements/legacy.txt,legacy,$(EXTRAS_TEST))

$(VENV_EXTRAS)/.installed: pyproject.toml requirements/modern.txt requirements/extras.txt
	$(call make-venv,$(VENV_EXTRAS),$(PY_MODERN),requirements/extras.txt,modern + pymc-extras,$(EXTRAS_TEST))

$(VENV_DOCS)/.installed: pyproject.toml requirements/modern.txt requirements/docs.txt
	$(call make-venv,$(VENV_DOCS),$(PY_MODERN),requirements/docs.txt,modern + docs,$(EXTRAS_DOCS))

envs: $(VENV_MODERN)/.installed $(VENV_LEGACY)/.installed $(VENV_EXTRAS)/.installed

demo: $(VENV_MODERN)/.installed
	$(VENV_MODERN)/bin/python -m pymc_localmass.demo --out demo_out

# ruff comes with the test extra; its configuration is pyproject.toml's [tool.ruff]
lint: $(VENV_MODERN)/.installed
	$(VENV_MODERN)/bin/python -m ruff check .

test-modern: $(VENV_MODERN)/.installed lint
	@echo "== modern stack: $$($(VENV_MODERN)/bin/python -c 'import sys,pymc,arviz;print("Python",sys.version.split()[0],"PyMC",pymc.__version__,"ArviZ",arviz.__version__)')"
	$(VENV_MODERN)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

test-legacy: $(VENV_LEGACY)/.installed
	@echo "== legacy stack: $$($(VENV_LEGACY)/bin/python -c 'import sys,pymc,arviz;print("Python",sys.version.split()[0],"PyMC",pymc.__version__,"ArviZ",arviz.__version__)')"
	$(VENV_LEGACY)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

# the optional pymc-extras adapters, against real Laplace and Pathfinder fits
test-extras: $(VENV_EXTRAS)/.installed
	@echo "== modern stack + pymc-extras: $$($(VENV_EXTRAS)/bin/python -c 'import sys,pymc,arviz,pymc_extras;print("Python",sys.version.split()[0],"PyMC",pymc.__version__,"ArviZ",arviz.__version__,"pymc-extras",pymc_extras.__version__)')"
	$(VENV_EXTRAS)/bin/python -m pytest -n 2 $(PYTEST_ARGS) tests/test_pymc_extras.py tests/test_approx.py

test: test-modern test-legacy test-extras

bench: $(VENV_MODERN)/.installed
	$(VENV_MODERN)/bin/python benchmarks/accuracy.py
	$(VENV_MODERN)/bin/python benchmarks/speed.py

# the site: -W (warnings are errors), --keep-going (report them all); notebooks run once and are
# cached in docs/_build/.jupyter_cache (myst-nb "cache" mode), rerun only when their code changes
docs: $(VENV_DOCS)/.installed
	$(VENV_DOCS)/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# the same site without executing the notebooks (what the test suite checks)
docs-fast: $(VENV_DOCS)/.installed
	$(VENV_DOCS)/bin/python -m sphinx -W --keep-going -b html -D nb_execution_mode=off docs docs/_build/html-fast

# build and twine come with the test extra
dist: $(VENV_MODERN)/.installed
	rm -rf dist
	$(VENV_MODERN)/bin/python -m build
	$(VENV_MODERN)/bin/python -m twine check --strict dist/*

clean:
	rm -rf $(VENV_MODERN) $(VENV_LEGACY) $(VENV_EXTRAS) $(VENV_DOCS) demo_out *.egg-info dist build docs/_build docs/auto_examples docs/api/generated
