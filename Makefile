# One command each for what a new user does first. Both create .venv/ when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROMPT ?= classify handwritten digits
DATA ?= sklearn:digits
TORCH_INDEX ?=

.PHONY: setup demo test test-heavy test-slow lint bench bench-quick clean

$(BIN)/mlflowctl: pyproject.toml setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch may pull several GB of CUDA packages. PyPI's Linux
	# wheel is the CUDA build; TORCH_INDEX=https://download.pytorch.org/whl/cpu gets the CPU one.
	$(BIN)/python -m pip install -q "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) || $(BIN)/python -m pip install -q torch
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(BIN)/mlflowctl

setup: $(BIN)/mlflowctl

## the main job: a requirement to a registered @champion
demo: setup
	$(BIN)/mlflowctl run "$(PROMPT)" --data $(DATA)

## the default test suite (what CI runs)
test: setup
	$(BIN)/python -m pytest --durations=20

## heavy tests: end-to-end pipelines of 15 s or more each (CI runs them after `make test`)
test-heavy: setup
	$(BIN)/python -m pytest -m "heavy and not slow and not gpu" --durations=10

## slow tests: quality floors and long pipelines
test-slow: setup
	$(BIN)/python -m pytest -m slow

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src/

## every benchmark, side by side: benchmarks/RESULTS.md and benchmarks/out/results.json
bench: setup
	$(BIN)/python benchmarks/all.py

## the same with short runs (checks the machinery, not the long-run targets)
bench-quick: setup
	$(BIN)/python benchmarks/all.py --quick

clean:
	rm -rf builds mlflow.db mlartifacts .mlflowctl
