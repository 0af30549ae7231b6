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

.PHONY: run test lint bench venv postgres pgext k8s-bins crds clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The main job: the capacity simulation of 500 engineers in 40 teams (no cluster needed).
run: venv
	$(VENV)/bin/mayfly blueprint check examples/blueprint.yaml
	$(VENV)/bin/mayfly simulate --engineers 500 --teams 40 --days 5 --seed 1 \
		--json out/run/summary.json --out out/run
	@echo "figures and per-environment records: out/run/ (summary: out/run/summary.json)"

postgres:
	@scripts/ensure-postgres

# The anonymizer's C masking functions (PGXS; apt's postgresql-server-dev-NN).
pgext: postgres
	@anonymizer/pgext/ensure

k8s-bins:
	@scripts/k8s-test-bins

test: venv postgres pgext k8s-bins
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict $(wildcard $(PACKAGES))
	$(VENV)/bin/lint-imports
	$(PY) -m controller.k8s.crds --check

# Regenerate deploy/crds/ from the core's dataclasses.
crds: venv
	$(PY) -m controller.k8s.crds

# Benchmarks; results are written to benchmarks/results/.
bench: venv postgres pgext k8s-bins
	$(PY) benchmarks/core.py
	$(PY) benchmarks/sim_bench.py
	$(PY) benchmarks/migrations.py
	$(PY) benchmarks/masking.py
	$(PY) benchmarks/clone.py
	$(PY) benchmarks/capacity_sweep.py
	$(PY) benchmarks/controller_burst.py
	$(PY) benchmarks/loadtest_intake.py
	$(PY) benchmarks/loadtest_burst.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
