# iops — one entry point for humans. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash

NAB_DATA ?= ../shared/data/nab-full
# The corpora `make eval-all` scores: all of NAB and the operations corpora.
CORPORA ?= ../shared/data/nab-full $(wildcard ../shared/data/ops/*/)
TABULAR_DATA ?= ../shared/data/tabular
FUZZ_SECONDS ?= 30

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

.PHONY: test
test: ## Run the whole suite: fmt check, clippy -D warnings, all tests (scripts/test.sh)
	./scripts/test.sh

.PHONY: py
py: ## Build the Python package (python/, maturin, into .venv) and run its pytest suite
	./scripts/test.sh python

.PHONY: lint
lint: ## Check formatting and run clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: fmt
fmt: ## Format all Rust code
	cargo fmt --all

.PHONY: bench
ops: ## The runbook scripts' tests (ops/): unit tests, and end to end against moto's server
	.venv/bin/python -m pytest -q ops/tests

bench: ## Run the criterion benches
	cargo bench -p iops-benches -- --noplot

.PHONY: bench-peers
bench-peers: ## Streaming cost per sample, ours vs river, side by side in one run
	./scripts/bench-peers.sh

.PHONY: soak
soak: ## 1,000 hosts (single and batched) through iops serve for 10 minutes: RSS flat, p99 stable
	./scripts/soak.sh 10m 60s

.PHONY: bench-forest
bench-forest: ## Isolation forest fit/score/load, ours vs scikit-learn, in the same run (ratios)
	./scripts/bench-forest-peers.sh

.PHONY: bench-sagemaker
bench-sagemaker: ## Load test (wrk) of the SageMaker server vs the Flask + scikit-learn container, same run
	./scripts/bench-sagemaker.sh

.PHONY: bench-serve
bench-serve: ## Load test of iops serve (release, temp db, synchronous FULL): iops loadgen 10 s, 50 hosts, 32 connections
	./scripts/bench-serve.sh

.PHONY: bench-dashboard
bench-dashboard: ## Dashboard first paint in headless Chromium (50 hosts x 1 day of minute data, seeded by iops demo)
	./scripts/bench-dashboard.sh

.PHONY: fuzz-smoke
fuzz-smoke: ## Run each fuzz target for FUZZ_SECONDS (default 30) with cargo-fuzz
	./scripts/fuzz-smoke.sh $(FUZZ_SECONDS)

.PHONY: eval
eval: ## Score the engine on one NAB-layout corpus (NAB_DATA, default ../shared/data/nab-full); JSON
	cargo run --release -p iops-cli -- eval nab --data $(NAB_DATA)

.PHONY: eval-all
eval-all: ## Every corpus (CORPORA: NAB and ../shared/data/ops/*), every category, 3 profiles, the mean; table
	cargo run --release -p iops-cli -- eval corpora --format table $(CORPORA)

.PHONY: eval-tabular
eval-tabular: ## Isolation forest ROC AUC / average precision on the tabular sets vs scikit-learn's
	cargo run --release -p iops-cli -- eval tabular --data $(TABULAR_DATA)

.PHONY: demo
demo: ## Run iops on a synthetic fleet and show what it finds
	cargo run --release -p iops-cli -- demo
