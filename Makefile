# Wildlens developer entry points. `make run` and `make test` are all a fresh machine needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROJECTS := libs/common/pyproject.toml $(wildcard services/*/pyproject.toml)
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install install-dev panoptes-aggregation-venv run test test-embedded bench proto lint format migration clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt $(PROJECTS)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-converters.txt requirements-reference.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-converters.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-reference.txt
	touch $@

# panoptes-aggregation pins older numpy, scikit-learn and lxml than the platform: it lives in
# an environment of its own, which the citsci tests and bench/citsci.py call as a subprocess.
# --no-compile: only the modules the survey extractor and reducer import are byte-compiled, on
# first use, instead of all of scipy and scikit-learn up front (half the install time).
PANOPTES_VENV ?= .venv-panoptes

$(PANOPTES_VENV)/.installed: requirements-panoptes.txt
	$(PYTHON) -m venv $(PANOPTES_VENV)
	$(PANOPTES_VENV)/bin/pip install --quiet --no-compile -r requirements-panoptes.txt
	touch $@

## install: the platform into .venv
install: $(VENV)/.installed

## install-dev: the platform plus test, lint and code-generation tools
install-dev: $(VENV)/.installed-dev

## panoptes-aggregation-venv: Zooniverse's panoptes-aggregation in .venv-panoptes (for tests and bench)
panoptes-aggregation-venv: $(PANOPTES_VENV)/.installed

## run: serve the whole platform embedded on $(HOST):$(PORT)
run: install
	$(BIN)/wildlens up --host $(HOST) --port $(PORT)

## test: the embedded suite, and the real-backend suite where PostgreSQL and RabbitMQ answer
test: install-dev panoptes-aggregation-venv
	$(BIN)/pytest

## test-embedded: only what needs no PostgreSQL, RabbitMQ or S3 server
test-embedded: install-dev
	$(BIN)/pytest -m "not backends and not processes"

## bench: the benchmarks in bench/ (figures, not pass/fail)
bench: install-dev panoptes-aggregation-venv
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

## proto: regenerate the event contracts' Python from proto/
proto: install-dev
	$(BIN)/python -m wildlens.common.events.codegen proto

## lint: ruff, mypy, and the import contracts (pyproject.toml: layers, no cycles, no service in another)
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/common/wildlens services tests
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## migration: autogenerate a revision, e.g. make migration SERVICE=catalogue MESSAGE="add taxa"
migration: install-dev
	$(BIN)/python -m wildlens.common.db.revision $(SERVICE) "$(MESSAGE)"

clean:
	rm -rf $(VENV) $(PANOPTES_VENV) .pytest_cache .mypy_cache .ruff_cache
