# pymc-localmass: two commands do all set-up.
#   make demo   -> creates the modern environment if missing, runs the eight-schools demo
#   make test   -> creates both environments if missing, runs the full suite in both
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY_MODERN ?= $(shell sh tools/find-python.sh 3.12)
PY_LEGACY ?= $(shell sh tools/find-python.sh 3.11)
VENV_MODERN := .venv-modern
VENV_LEGACY := .venv-legacy
PYTEST_ARGS ?=
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: help demo test test-modern test-legacy envs clean bench

help:
	@echo "make demo   - eight-schools demo (modern stack), writes demo_out/"
	@echo "make test   - full test suite in both stack generations"
	@echo "make bench  - accuracy and speed benchmarks (modern stack)"

$(VENV_MODERN)/.installed: pyproject.toml requirements/modern.txt
	@test -n "$(PY_MODERN)" || { echo "Python 3.12 not found (see README prerequisites)"; exit 1; }
	@echo ">> creating $(VENV_MODERN) with $(PY_MODERN)"
	$(PY_MODERN) -m venv $(VENV_MODERN)
	$(VENV_MODERN)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV_MODERN)/bin/python -m pip install $(PIP_FLAGS) -r requirements/modern.txt -e ".[test,plots]"
	@touch $@

$(VENV_LEGACY)/.installed: pyproject.toml requirements/legacy.txt
	@test -n "$(PY_LEGACY)" || { echo "Python 3.11 not found (see README prerequisites)"; exit 1; }
	@echo ">> creating $(VENV_LEGACY) with $(PY_LEGACY)"
	$(PY_LEGACY) -m venv $(VENV_LEGACY)
	$(VENV_LEGACY)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV_LEGACY)/bin/python -m pip install $(PIP_FLAGS) -r requirements/legacy.txt -e ".[test,plots]"
	@touch $@

envs: $(VENV_MODERN)/.installed $(VENV_LEGACY)/.installed

demo: $(VENV_MODERN)/.installed
	$(VENV_MODERN)/bin/python -m pymc_localmass.demo --out demo_out

test-modern: $(VENV_MODERN)/.installed
	@echo "== modern stack: $$($(VENV_MODERN)/bin/python -c 'import sys,pymc,arviz;print("Python",sys.version.split()[0],"PyMC",pymc.__version__,"ArviZ",arviz.__version__)')"
	$(VENV_MODERN)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

test-legacy: $(VENV_LEGACY)/.installed
	@echo "== legacy stack: $$($(VENV_LEGACY)/bin/python -c 'import sys,pymc,arviz;print("Python",sys.version.split()[0],"PyMC",pymc.__version__,"ArviZ",arviz.__version__)')"
	$(VENV_LEGACY)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

test: test-modern test-legacy

bench: $(VENV_MODERN)/.installed
	$(VENV_MODERN)/bin/python benchmarks/accuracy.py
	$(VENV_MODERN)/bin/python benchmarks/speed.py

clean:
	rm -rf $(VENV_MODERN) $(VENV_LEGACY) demo_out *.egg-info
