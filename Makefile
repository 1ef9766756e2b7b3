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
BENCH_STATE_KAFKA_PORT ?= 29095
NEMESIS_KAFKA_PORT ?= 29097
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

# The delivery checks' tools that are not Python packages, at the versions scripts/install-tools.sh
# pins. The targets below use these builds, never whatever helm is first on PATH (another version
# words its errors differently, and a helm built without the Kubernetes version renders for 1.20).
# The script is idempotent: a second run takes a second.
.PHONY: tools tools-go
tools: ## The delivery checks' tools: pinned helm and actionlint (.tools/bin), promtool, ShellCheck, Chromium (Debian; root or sudo)
	scripts/install-tools.sh

tools-go: ## Only the pinned helm and actionlint, built with Go into .tools/bin (no root needed)
	scripts/install-tools.sh helm actionlint

MODEL_SOURCES := $(shell find scoring training -name '*.py' -o -name '*.yaml' -o -name '*.csv')

# Retrained whenever the code or data it comes from changes (training is deterministic).
$(MODEL_DIR)/model_card.json: $(BIN)/.installed $(MODEL_SOURCES)
	$(BIN)/loan-scorer train --out $(MODEL_DIR)

.PHONY: model
model: $(MODEL_DIR)/model_card.json ## Train the default model into build/model if absent or its sources changed

.PHONY: docs-pages
docs-pages: install ## Write the generated part of docs/contracts.md again from schemas/json (commit it)
	$(BIN)/python -m docsite.hooks

.PHONY: docs
docs: install model ## Build the documentation site (MkDocs Material, strict) into build/site
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

.PHONY: report
report: install model ## The impact report of the default model on the held-out test split: build/impact-report.html
	$(BIN)/loan-scorer report --from-dataset --out build/impact-report.html

.PHONY: lint
lint: install ## ruff lint and format check; the import-linter contracts (the rooms' layering)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

.PHONY: typecheck
typecheck: install ## mypy --strict over every package and the tests
	$(BIN)/mypy

.PHONY: test
test: install tools-go lint typecheck model ## Lint, type-check and run every test against a real Kafka broker
	scripts/with-kafka.sh $(BIN)/pytest --cov --cov-report=term -m "not soak"

.PHONY: bench
bench: install model ## Throughput, latency and cost on a broker of its own (port 29092; 5-8 min); BENCH_ARGS=--quick
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(BENCH_KAFKA_PORT) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.bench --model-dir $(MODEL_DIR) $(BENCH_ARGS)

.PHONY: bench-state
bench-state: install model ## The state store at 10 M ids: RSS, disk, restarts, cold restore (own broker, port 29095; its controller 29096); BENCH_ARGS="--ids 300000"
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(BENCH_STATE_KAFKA_PORT) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.state_bench --model-dir $(MODEL_DIR) $(BENCH_ARGS)

.PHONY: soak-rss
.PHONY: challenger bench-shadow bench-tracing
challenger: $(BIN)/.installed ## Train the demo's shadow challenger into build/challenger (seed 43) if absent
	test -f build/challenger/model_card.json || $(BIN)/loan-scorer train --out build/challenger --seed 43

bench-shadow: install model challenger ## Champion alone against champion + one shadow challenger: pipeline cost and end-to-end latency (about 5 min)
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(BENCH_KAFKA_PORT) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.shadow --model-dir $(MODEL_DIR) $(BENCH_ARGS)

bench-tracing: install model ## Tracing off against on (OTLP to a local sink), traced inputs or not: throughput, 4 variants x 3 rounds (about 6 min)
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(BENCH_KAFKA_PORT) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.tracing --model-dir $(MODEL_DIR) $(BENCH_ARGS)

soak-rss: install model ## The scorer's RSS over a 10-minute steady run must stay flat (growth < 5 %)
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(BENCH_KAFKA_PORT) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.soak --model-dir $(MODEL_DIR)

.PHONY: soak
soak: install model ## The fault suite (tests/faults) with 20,000 events per fault; rows in build/fault-report.json
	FAULT_EVENTS=$${FAULT_EVENTS:-20000} FAULT_REPORT=build/fault-report.json \
		$(BIN)/pytest tests/faults -v -o timeout=1800

.PHONY: nemesis
nemesis: install model ## Seeded random faults on 3 scorers for 10 min (own broker, port 29097; its controller 29098); NEMESIS_ARGS="--minutes 2 --seed 7"
	env -u LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS KAFKA_PORT=$(NEMESIS_KAFKA_PORT) \
		KAFKA_CONTROLLER_PORT=$$(($(NEMESIS_KAFKA_PORT) + 1)) \
		scripts/with-kafka.sh $(BIN)/python -m benchmarks.nemesis --model-dir $(MODEL_DIR) $(NEMESIS_ARGS)

.PHONY: demo
demo: install model ## The main job end to end: broker, scorer, real applications replayed, summary
	KAFKA_PORT=$(KAFKA_PORT) scripts/with-kafka.sh scripts/demo.sh

.PHONY: kafka-up
kafka-up: ## Start a single-node Kafka broker on 127.0.0.1:9092 (KAFKA_PORT=... to change the port)
	KAFKA_PORT=$(KAFKA_PORT) scripts/kafka-local.sh up

.PHONY: kafka-down
kafka-down: ## Stop the broker started by kafka-up and delete its data
	KAFKA_PORT=$(KAFKA_PORT) scripts/kafka-local.sh down

# The images are built on the engine DOCKER_HOST names, else on the private one
# scripts/docker-engine.sh starts (root; never the machine's default socket).
PRIVATE_DOCKER_HOST := unix:///run/loan-scorer-docker/docker.sock

.PHONY: engine-up
engine-up: ## Start the private Docker Engine (installs Debian's docker.io; root) on /run/loan-scorer-docker
	scripts/docker-engine.sh up

.PHONY: engine-down
engine-down: ## Stop the private Docker Engine started by engine-up (its images stay cached)
	scripts/docker-engine.sh down

.PHONY: image
image: ## Build the scorer image loan-scorer:local (on an offline Debian base when no registry answers)
	@if [[ -z "$${DOCKER_HOST:-}" ]]; then scripts/docker-engine.sh up >/dev/null; fi
	DOCKER_HOST=$${DOCKER_HOST:-$(PRIVATE_DOCKER_HOST)} scripts/build-image.sh scorer

.PHONY: images
images: ## The scorer image plus the registry-free Kafka and Prometheus images the compose stack can use
	@if [[ -z "$${DOCKER_HOST:-}" ]]; then scripts/docker-engine.sh up >/dev/null; fi
	DOCKER_HOST=$${DOCKER_HOST:-$(PRIVATE_DOCKER_HOST)} scripts/build-image.sh all
.PHONY: cluster-check
cluster-check: install tools-go ## Install, upgrade and roll back the chart on a local Kubernetes API (first build ~10 min)
	scripts/cluster-local.sh build
	$(BIN)/pytest tests/delivery/test_cluster.py -v

.PHONY: cluster-up
cluster-up: ## Start the local Kubernetes API (etcd, apiserver, controllers, 2 kwok nodes); KUBECONFIG in .cluster-local
	scripts/cluster-local.sh up

.PHONY: cluster-down
cluster-down: ## Stop the local Kubernetes API started by cluster-up and delete its state
	scripts/cluster-local.sh down
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
