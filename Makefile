# The two commands of the README: `make demo` (the main job) and `make test` (the suite).
# Both do all set-up on a fresh machine: a virtualenv with the project, then the local stack.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint stack-up stack-down bench clean faults audit cluster

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crisis-radar needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,sqlcheck]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/crisis-radar demo

test: setup
	$(BIN)/crisis-radar stack up
	$(BIN)/crisis-radar stack test-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy detectors schemas radar_base
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy detectors schemas radar_base

stack-up: setup
	$(BIN)/crisis-radar stack up

stack-down: setup
	$(BIN)/crisis-radar stack down

bench: setup
	$(BIN)/python -m bench

# Fault injection on throw-away Kafka/ClickHouse instances (docs/reliability.md), ~5 min.
faults: setup
	$(BIN)/crisis-radar stack up
	$(BIN)/pytest -m faults -rsx

# Only the tests on local clusters (three Kafka brokers started once on free ports; `make test`
# runs them too, in its one pytest run): docs/scaling.md.
cluster: setup
	$(BIN)/crisis-radar stack up
	$(BIN)/pytest -m cluster -rsx

# pip-audit when installed and online; otherwise the test skips and says why.
audit: setup
	$(BIN)/pytest -m faults -k pip_audit -rs

clean:
	-$(BIN)/crisis-radar stack down
	rm -rf $(VENV) .stack
