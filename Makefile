# `make run`: everything a developer needs, from a fresh clone.
# `make test`: the whole suite (uses DATABASE_URL / REDIS_URL when set).

VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
PORT ?= 8000
export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: install install-dev setup run test lint format bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

setup: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo

run: setup
	@echo
	@echo "Starting web ($(PUBLIC_BASE_URL)), Celery worker and beat, provider emulator. Ctrl-C stops them all."
	@echo "  Admin:    $(PUBLIC_BASE_URL)/admin/"
	@echo "  API docs: $(PUBLIC_BASE_URL)/api/docs"
	@echo "  Health:   $(PUBLIC_BASE_URL)/healthz"
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT) web worker beat emulator

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmark: the app beside a bare Django floor under wrk, on PostgreSQL and Redis.
bench: install-dev
	$(BIN)/python -m bench.run
