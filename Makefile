# loan-scorer: the day-to-day commands. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

POETRY_VERSION ?= 2.5.1
POETRY ?= $(shell command -v poetry 2>/dev/null || echo $(HOME)/.local/bin/poetry)
VENV := .venv
BIN := $(VENV)/bin
MODEL_DIR ?= build/model
KAFKA_PORT ?= 9092
BENCH_KAFKA_PORT ?= 29092
REGISTRY_PORT ?= 8081
BENCH_ARGS ?=

export POETRY_VIRTUALENVS_IN_PROJECT := true

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(POETRY):
	python3 -m pip install --user --quiet "poetry==$(POETRY_VERSION)"

$(BIN)/.installed: pyproject.toml poetry.lock | $(POETRY)
	$(POETRY) install --no-interaction
	@touch $@

.PHONY: install
install: $(BIN)/.installed ## Install Poetry if missing, then the project and its dev tools into .venv

MODEL_SOURCES := $(shell find scoring training -name '*.py' -o -name '*.yaml' -o -name '*.csv')

# Retrained whenever the code or data it comes from changes (training is deterministic).
$(MODEL_DIR)/model_card.json: $(BIN)/.installed $(MODEL_SOURCES)
	$(BIN)/loan-scorer train --out $(MODEL_DIR)

.PHONY: model
model: $(MODEL_DIR)/model_card.json ## Train the default model into build/model if absent or its sources changed

.PHONY: docs
docs: install model ## Build the documentation site (MkDocs Material, strict) into build/site
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

.PHONY: report
report: install model ## The impact report of the default model on the held-out test split: build/impact-report.html
	$(BIN)/loan-scorer report --from-dataset --out build/impact-report.html

.PHONY: lint
lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: typecheck
typecheck: install ## mypy --strict over every package and the tests
	$(BIN)/mypy

.PHONY: test
test: install lint typecheck model ## Lint, type-check and run every test against a real Kafka broker
	scripts/with-kafka.sh $(BIN)/pytest --cov --cov-report=term -m "not soak"

.PHONY: bench
bench: install model ## Throughput, latency and cost on a broker of its own (port 29092; 5-8 min); BENCH_ARGS=--quick
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(BENCH_KAFKA_PORT) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.bench --model-dir $(MODEL_DIR) $(BENCH_ARGS)

.PHONY: soak-rss
soak-rss: install model ## The scorer's RSS over a 10-minute steady run must stay flat (growth < 5 %)
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(BENCH_KAFKA_PORT) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.soak --model-dir $(MODEL_DIR)

.PHONY: soak
soak: install model ## The fault suite (tests/faults) with 20,000 events per fault; rows in build/fault-report.json
	FAULT_EVENTS=$${FAULT_EVENTS:-20000} FAULT_REPORT=build/fault-report.json \
		$(BIN)/pytest tests/faults -v -o timeout=1800

.PHONY: demo
demo: install model ## The main job end to end: broker, scorer, real applications replayed, summary
	KAFKA_PORT=$(KAFKA_PORT) scripts/with-kafka.sh scripts/demo.sh

.PHONY: kafka-up
kafka-up: ## Start a single-node Kafka broker on 127.0.0.1:9092 (KAFKA_PORT=... to change the port)
	KAFKA_PORT=$(KAFKA_PORT) scripts/kafka-local.sh up

.PHONY: kafka-down
kafka-down: ## Stop the broker started by kafka-up and delete its data
	KAFKA_PORT=$(KAFKA_PORT) scripts/kafka-local.sh down

.PHONY: registry-up
registry-up: ## Start a schema registry (Apicurio, Confluent-compatible API) on 127.0.0.1:8081 (REGISTRY_PORT=...)
	REGISTRY_PORT=$(REGISTRY_PORT) scripts/registry-local.sh up
	@echo "LOAN_SCORER_SCHEMA_REGISTRY_URL=$$(REGISTRY_PORT=$(REGISTRY_PORT) scripts/registry-local.sh url)"

.PHONY: registry-down
registry-down: ## Stop the schema registry started by registry-up (its storage is in memory)
	REGISTRY_PORT=$(REGISTRY_PORT) scripts/registry-local.sh down

.PHONY: clean
clean: ## Remove build outputs and caches (not the venv)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
