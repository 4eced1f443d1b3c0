# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
# `make run PORT=8001` serves on 127.0.0.1:8001.
PORT ?= 8000

.PHONY: run test test-pg lint complexity format schema serve worker migrate clean faults stack

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Local development server on SQLite; DEBUG only for this local run.
run: $(VENV)/.installed
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Production-style: gunicorn on the same settings (DEBUG off: SECRET_KEY must be set).
serve: $(VENV)/.installed
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/gunicorn -c config/gunicorn.py config.wsgi:application --bind $${BIND:-127.0.0.1:8000} \
		--workers $${WEB_CONCURRENCY:-2} --access-logfile - --error-logfile -

# Two Celery workers, as in production (docs/deployment.md): one with the
# embedded scheduler (beat) for the periodic tasks (sweep, reminders, the
# waitlist's pass-on) on CELERY_QUEUE, one for webhook deliveries on
# CELERY_QUEUE.webhooks, so a slow receiver never delays the periodic tasks.
# Needs Redis; `make run` works without it (events wait in the outbox). Ctrl-C
# stops both. Local receivers: WEBHOOK_ALLOW_HTTP=1 WEBHOOK_ALLOW_PRIVATE=1.
worker: $(VENV)/.installed
	@export DEBUG=1 CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$${REDIS_URL:-redis://127.0.0.1:6379/0}}; \
	q=$${CELERY_QUEUE:-quickmed}; trap 'kill 0' EXIT; \
	$(BIN)/celery -A config worker -Q $$q.webhooks -n webhooks@%h --loglevel=info & \
	$(BIN)/celery -A config worker --beat -Q $$q -n periodic@%h --loglevel=info

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput

# The whole suite on the configured database (SQLite unless DATABASE_URL says otherwise).
# Local Redis (127.0.0.1:6379), where it answers: database 7 for the list cache
# tests (their own keys only, TEST_LIST_CACHE_REDIS_URL) and 15 for the throttle
# tests (emptied with FLUSHDB, TEST_REDIS_URL); without Redis those skip.
# test-pg adds database 5, the Celery broker of tests/test_worker.py (its own
# queue's keys only), and Redis is required there. .ci/worker uses 11 (FLUSHDB).
test: $(VENV)/.installed-dev
	@echo "make test: local Redis databases 7 and 15 (15 is flushed); tests needing Redis skip without it"
	$(BIN)/python -m pytest

# The same suite on PostgreSQL, where the race tests must run, not skip.
test-pg: $(VENV)/.installed-dev
	@echo "make test-pg: on $(PG_URL); local Redis databases 5, 7 and 15 (15 is flushed)"
	DATABASE_URL=$(PG_URL) REQUIRE_POSTGRES=1 $(BIN)/python -m pytest

# Fails on any schema error or warning (CI runs it).
schema: $(VENV)/.installed-dev
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --settings tests.settings --file /dev/null

# PostgreSQL restarted and gunicorn workers SIGKILLed under booking load, on a
# throwaway PostgreSQL cluster of its own (needs PostgreSQL 15's binaries; ~1 min).
faults: $(VENV)/.installed-dev
	bash .ci/faults

# deploy/ checked (nginx -t, systemd-analyze verify) and run end to end: nginx with
# TLS, two gunicorns, PgBouncer in transaction pooling, worker and beat (~2 min;
# installs nginx and pgbouncer with apt when run as root and they are missing).
stack: $(VENV)/.installed-dev
	bash .ci/stack

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory complexity

# Fails when any function is above cyclomatic complexity 10 (radon grade C or
# worse); radon lists the offenders but exits 0 itself, hence the check on its output.
COMPLEX_PATHS := accounts calendars config doctor events idempotency listcache notifications bench drills audit desk schedules
complexity: $(VENV)/.installed-dev
	@out=$$($(BIN)/radon cc -n C -s $(COMPLEX_PATHS)) || exit 1; \
	if [ -n "$$out" ]; then \
		echo "$$out"; echo "complexity: functions above 10 (split them up)"; exit 1; \
	fi

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
