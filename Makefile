# GridGov developer commands. `make run` and `make test` do all the set-up on a fresh Debian 12.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

# The embedded cluster's URLs, unless the caller gives their own database.
EMBEDDED := $(if $(DATABASE_URL),,yes)
EMBEDDED_TEST := $(if $(TEST_DATABASE_URL),,yes)
DATABASE_URL ?= $(shell scripts/pg.sh url gridgov)
# Database roles (issue 19, docs/operations.md "Database roles"): the embedded cluster's app role
# (gridgov, above) owns nothing; its owner role (gridgov_owner) runs the migrations and the test
# suite (which drops and creates the schema); tests/ops/test_app_role.py runs as the app role.
# An outside DATABASE_URL without a MIGRATION_DATABASE_URL migrates as its own role (the empty value
# also hides .env's, which names the embedded cluster).
MIGRATION_DATABASE_URL ?= $(if $(EMBEDDED),$(shell scripts/pg.sh owner-url gridgov))
TEST_DATABASE_URL ?= $(shell scripts/pg.sh owner-url gridgov_test)
TEST_APP_DATABASE_URL ?= $(if $(EMBEDDED_TEST),$(shell scripts/pg.sh url gridgov_test))
export DATABASE_URL TEST_DATABASE_URL TEST_APP_DATABASE_URL
# Sign-in throttling counts across workers: the embedded set-up's private Redis (scripts/pg.sh starts
# it with the cluster), unless RATELIMIT_STORAGE_URI is given. An outside DATABASE_URL without one
# keeps the app's memory:// default (README: set Redis for several workers).
RATELIMIT_STORAGE_URI ?= $(if $(EMBEDDED),$(shell scripts/pg.sh redis-url))
export RATELIMIT_STORAGE_URI

.PHONY: help run test lint format bench soak stop system-deps venv db db-test sweep screenshots

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

system-deps: ## install missing Debian packages (PostgreSQL 15, PostGIS 3, venv, Redis)
	@scripts/system-deps.sh

$(BIN)/.installed: requirements.txt requirements-dev.txt | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing Python requirements into $(VENV)"
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: system-deps $(BIN)/.installed

db: venv ## start the embedded PostgreSQL and write .env, so that `.venv/bin/flask ...` works
	@$(if $(EMBEDDED),scripts/pg.sh start,true)
	@scripts/dev-secrets.sh $(if $(EMBEDDED),'$(DATABASE_URL)' '$(MIGRATION_DATABASE_URL)')

db-test: venv
	@$(if $(EMBEDDED_TEST),scripts/pg.sh start,true)

# The `flask` commands read .env themselves (python-dotenv); gunicorn gets it through
# `dotenv run --no-override`. Either way a variable already in the environment wins.
# Migrations as the owner role (MIGRATION_DATABASE_URL; .env has it too); the demo seed, the
# sweep, the worker and gunicorn as the app role. A signed audit checkpoint on every sweep.
run: db ## set up, migrate, load the demo county, serve on http://127.0.0.1:$(PORT) (+ the worker)
	@DB_STATEMENT_TIMEOUT_MS=0 MIGRATION_DATABASE_URL='$(MIGRATION_DATABASE_URL)' \
	    $(BIN)/flask db upgrade && \
	  DB_STATEMENT_TIMEOUT_MS=0 $(BIN)/flask seed demo && \
	  mkdir -p var && \
	  $(BIN)/flask cases sweep && \
	  $(BIN)/flask audit checkpoint && \
	  { ( while sleep $${SWEEP_SECONDS:-300}; do $(BIN)/flask cases sweep >/dev/null 2>&1; \
	      $(BIN)/flask warnings scan >/dev/null 2>&1; \
	      $(BIN)/flask audit checkpoint >/dev/null 2>&1; done ) & \
	    sweeper=$$!; \
	    $(BIN)/flask notify worker >var/notify-worker.log 2>&1 & \
	    worker=$$!; trap 'kill $$sweeper 2>/dev/null; kill -TERM $$worker 2>/dev/null' EXIT INT TERM; \
	    echo "==> GridGov on http://127.0.0.1:$(PORT)  (Ctrl-C stops; 'make stop' stops the database)"; \
	    $(BIN)/dotenv --file .env run --no-override \
	      $(BIN)/gunicorn --config python:app.ops.gunicorn_conf --bind 127.0.0.1:$(PORT) wsgi:app; }

# The suite runs in TEST_WORKERS processes (pytest-xdist; 0 runs it in one process), a test module at a
# time on one worker (--dist loadfile: the browser journeys share state within their module, the fuzz
# its database). xdist's loadgroup does not group under this pytest (tests landed on both workers).
# --no-loadscope-reorder keeps the collection order, which puts the slowest files first
# (tests/conftest.py SLOW_FILES_FIRST); xdist's own order (most tests first) left the one-test soak
# to start last, alone.
TEST_WORKERS ?= 2
test: db-test ## set up a test database and run the whole suite
	@DATABASE_URL="$(TEST_DATABASE_URL)" MIGRATION_DATABASE_URL= $(BIN)/python -m pytest \
	  $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder) \
	  --durations=30 $(PYTEST_ARGS)

screenshots: db-test ## regenerate docs/screenshots/ (main pages, phone and desktop)
	@$(BIN)/python scripts/screenshots.py

sweep: db ## run the case sweep once (warnings, escalation policy)
	@$(BIN)/flask cases sweep

lint: venv ## ruff check + format check
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: venv ## apply ruff's fixes and formatting
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

bench: db ## county-scale benchmarks (bench/RESULTS.md)
	@test -x bench/.venv/bin/python || $(PYTHON) -m venv bench/.venv
	@bench/.venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
	@bench/.venv/bin/python bench/run.py $(BENCH_ARGS)

soak: venv ## soak with faults: 200 users, 10 min, DB restarts + a network cut (bench/RESULTS.md)
	@$(BIN)/python bench/soak.py $(SOAK_ARGS)

stop: ## stop the embedded database (and its private Redis)
	@scripts/pg.sh stop

print-%: # the value make uses for a variable: make -s print-RATELIMIT_STORAGE_URI
	@echo '$($*)'

# High availability (issue 20; docs/operations.md "High availability"): a pg_auto_failover formation
# in .ha/ (scripts/ha.sh), beside the embedded cluster. Not part of `make run` or `make test`.
HA_DEBS := postgresql-15-auto-failover pg-auto-failover-cli
.PHONY: ha ha-stop soak-ha ha-deps

ha-deps: venv
	@EXTRA_DEBS="$(HA_DEBS)" scripts/system-deps.sh

ha: ha-deps ## pg_auto_failover: monitor + primary + sync standby (.ha/), migrated, demo loaded
	@scripts/ha.sh start
	@scripts/dev-secrets.sh
	@owner="$$(scripts/ha.sh owner-url)" && url="$$(scripts/ha.sh url)" && \
	  DATABASE_URL="$$url" MIGRATION_DATABASE_URL="$$owner" DB_STATEMENT_TIMEOUT_MS=0 $(BIN)/flask db upgrade && \
	  { test -f .ha/seeded || { DATABASE_URL="$$url" MIGRATION_DATABASE_URL="$$owner" DB_STATEMENT_TIMEOUT_MS=0 $(BIN)/flask seed demo && \
	    touch .ha/seeded; }; } && \
	  echo "==> HA formation up; serve on it with DATABASE_URL='$$(scripts/ha.sh url)'"

ha-stop: ## stop the pg_auto_failover formation (monitor and both nodes)
	@scripts/ha.sh stop

soak-ha: ha-deps ## soak with the primary killed mid-run and back as standby (bench/RESULTS.md)
	@$(BIN)/python bench/soak_ha.py $(SOAK_HA_ARGS)
