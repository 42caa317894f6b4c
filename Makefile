# `make run` serves the site on http://127.0.0.1:8000 on the embedded default (nothing else
# needed); `make test` runs the whole suite (PostgreSQL and Redis on 127.0.0.1 are used when
# they run; with CI=true they are required).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) chatsite.asgi:application

# The suite runs on TEST_WORKERS pytest-xdist workers, a whole file per worker at a time (a
# module's chromium and servers stay in one process); each worker has its own PostgreSQL
# database (a copy of one migrated template, emptied by DELETE after a transactional test,
# conftest.py) and Redis database, and forks its daphne and Celery processes from a fork
# server that has imported their packages (tests/servers.py). Part of the time is spent
# waiting on daphne, chromium and Redis, so more workers than cores pay: on two cores, 1,010
# tests under CI=true took 178 s with three workers, 156 s with four, 154 s with five (same
# machine, back to back), so four it is. The files run in conftest.py's order, longest first
# (xdist would otherwise reorder them by test count, which puts the few-test browser and
# benchmark files last). Every process of the suite runs tests/settings.py (the site's
# settings, passwords hashed with one round).
# `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 4
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	env -u REDIS_URL -u DATABASE_URL -u CELERY_BROKER_URL -u DJANGO_SETTINGS_MODULE \
		$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--durations=10 $(PYTEST_ARGS)

# Each benchmark starts its own servers on 127.0.0.1 (PostgreSQL and Redis must run) and
# stops them; see docs/benchmarks.md.
bench: $(VENV)/.installed
	$(PY) bench/relay.py
	$(PY) bench/matching.py
	$(PY) bench/memory.py
	$(PY) bench/scaling.py
	$(PY) bench/recovery.py
	$(PY) bench/filter_bench.py
	$(PY) bench/export_bench.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
