# `make run`: everything a developer needs, from a fresh clone.
# `make test`: the whole suite (uses DATABASE_URL / REDIS_URL when set).
# `make test-pooled`: the API and worker tests again, through PgBouncer in transaction mode.

VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# What the last `make run` used is kept in .env (config/settings.py reads it): PORT
# comes from there unless given, and a variable given always wins.
PORT ?= $(or $(shell sed -n 's/^PORT=//p' .env 2>/dev/null),8000)
export PORT
export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# The emulators' ports follow PORT, so two `make run` with different PORTs both start:
# the provider of the PROVIDER_HTTP_* settings, and a second one whose URL and
# credentials the demo's second http service keeps as its own.
export PROVIDER_EMULATOR_PORT ?= $(shell echo $$(($(PORT) + 765)))
export PROVIDER_EMULATOR_2_PORT ?= $(shell echo $$(($(PORT) + 766)))

.PHONY: install install-dev setup check-ports run test test-pooled screenshots lint format bench

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
	$(BIN)/python manage.py database_create
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo

# One clear line instead of a traceback that stops every process.
check-ports:
	@$(PYTHON) -c "import socket, sys; taken = [p for p in ($(PORT), $(PROVIDER_EMULATOR_PORT), $(PROVIDER_EMULATOR_2_PORT)) if socket.socket().connect_ex(('127.0.0.1', p)) == 0]; taken and sys.exit(f'Port {taken[0]} is taken: run make run PORT=<another port> (the provider emulators take PORT + 765 and PORT + 766, or PROVIDER_EMULATOR_PORT and PROVIDER_EMULATOR_2_PORT).')"

# Every setting this run uses goes to .env first, so `manage.py` in another shell,
# the worker and the server all work on one database.
RUN_SETTINGS := PORT PUBLIC_BASE_URL PROVIDER_EMULATOR_PORT PROVIDER_EMULATOR_2_PORT DATABASE_URL REDIS_URL

run: check-ports install
	@$(BIN)/python manage.py env_file_save $(RUN_SETTINGS)
	@$(MAKE) --no-print-directory setup
	@echo
	@echo "Starting web ($(PUBLIC_BASE_URL)), Celery worker and beat, provider emulators ($(PROVIDER_EMULATOR_PORT), $(PROVIDER_EMULATOR_2_PORT)). Ctrl-C stops them all."
	@echo "  Admin:    $(PUBLIC_BASE_URL)/admin/"
	@echo "  API docs: $(PUBLIC_BASE_URL)/api/docs"
	@echo "  Health:   $(PUBLIC_BASE_URL)/healthz"
	@echo
	@# A worker of threads: honcho stops every process group with SIGTERM and kills it
	@# 5 s later, and a prefork pool's children die of that SIGTERM, logged as errors,
	@# before their parent's warm shutdown is done.
	PATH="$(CURDIR)/$(BIN):$$PATH" WORKER_POOL=$${WORKER_POOL:-threads} \
		$(BIN)/honcho start --port $(PORT) web worker beat emulator emulator2

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The tests of the API, the state machine's races and the workers, through a
# transaction-mode pooler: `.ci/start-pgbouncer` starts one on port 6432 (as .ci/run
# does). DB_TRANSACTION_POOLER=1 is how the app is set up behind one; with
# TEST_THROUGH_POOLER=1 tests/test_database_pooler.py proves the run went through it.
POOLED_DATABASE_URL ?= postgres://postgres@127.0.0.1:6432/coma_pooled
POOLED_TESTS := tests/test_database_pooler.py tests/invoices/test_api_*.py \
	tests/invoices/test_invoice_create.py tests/invoices/test_combined_writes.py \
	tests/invoices/test_state_machine_races.py tests/invoices/test_polling_and_expiry.py \
	tests/invoices/test_callbacks.py tests/invoices/test_callbacks_with_worker.py \
	tests/invoices/test_confirm_with_worker.py tests/test_celery_worker.py \
	tests/invoices/test_second_chance.py \
	tests/checkout/test_read_models.py tests/test_read_after_move.py

test-pooled: install-dev
	DATABASE_URL=$(POOLED_DATABASE_URL) DB_TRANSACTION_POOLER=1 TEST_THROUGH_POOLER=1 \
		$(BIN)/python -m pytest $(POOLED_TESTS)

# The pages as docs/screenshots/ shows them (the browser tests write var/screenshots/).
screenshots: install-dev
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/browser/test_display_kinds.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmark: the app beside a bare Django floor under wrk, on PostgreSQL and Redis.
bench: install-dev
	$(BIN)/python -m bench.run
