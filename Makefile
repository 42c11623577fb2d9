# One command each, on a fresh clone: `make demo` and `make test`.
# The venv is rebuilt only when pyproject.toml changes (the stamp file), so both are idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test bench lint typecheck check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The headline run against the simulator: context limits of the GPU matrix.
demo: $(STAMP)
	$(BIN)/pytest suites/context_limits -m gpu --engine sim --sim-speed 200
	@echo "Report: $(CURDIR)/reports/latest/report.html"

test: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/pytest tests/benchmarks --benchmark-enable --benchmark-only -q

lint: $(STAMP)
	$(BIN)/ruff check harness suites tests
	$(BIN)/ruff format --check harness suites tests

typecheck: $(STAMP)
	$(BIN)/mypy harness

check: lint typecheck test

clean:
	rm -rf $(VENV) reports/runs reports/latest .pytest_cache .mypy_cache .ruff_cache
