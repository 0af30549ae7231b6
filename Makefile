# Mayfly: the two set-up commands are `make run` and `make test`; both install
# what they need (virtual environment, Python packages, PostgreSQL, the test
# control plane) on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PACKAGES := controller anonymizer sim capacity loadtests
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test lint bench venv postgres k8s-bins clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(VENV)/bin/mayfly blueprint check examples/blueprint.yaml
	$(VENV)/bin/mayfly routes --blueprint examples/blueprint.yaml --changed orders --mode affected

postgres:
	@scripts/ensure-postgres

k8s-bins:
	@scripts/k8s-test-bins

test: venv postgres k8s-bins
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict $(wildcard $(PACKAGES))
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) benchmarks/core.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
