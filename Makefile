# One command each for what a new user does first. Both create .venv/ when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROMPT ?= classify handwritten digits
DATA ?= sklearn:digits

.PHONY: setup demo test test-slow lint bench clean

$(BIN)/mlflowctl: pyproject.toml setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU build of torch first: an unpinned torch may pull several GB of CUDA packages
	$(BIN)/python -m pip install -q "torch==2.13.0" || $(BIN)/python -m pip install -q torch
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(BIN)/mlflowctl

setup: $(BIN)/mlflowctl

## the main job: a requirement to a registered @champion
demo: setup
	$(BIN)/mlflowctl run "$(PROMPT)" --data $(DATA)

## the default test suite (what CI runs)
test: setup
	$(BIN)/python -m pytest

## slow tests: quality floors and long pipelines
test-slow: setup
	$(BIN)/python -m pytest -m slow

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src/

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf builds mlflow.db mlartifacts .mlflowctl
