# Two commands a new user needs: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test setup lint migrate demo browser-deps bench-deps worker clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(BIN)/python manage.py migrate --noinput

# Loads the demo once (skipped when sending lists exist) and creates the admin user (admin / admin).
demo: migrate
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py ensure_admin

run: demo
	@echo "Serving on http://$(HOST):$(PORT)/ (admin: admin / admin — see README)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

worker: setup
	$(BIN)/celery -A config worker -B -l info

# Browser tests drive Debian's chromium (never `playwright install`: it downloads a browser).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install -y chromium"; exit 1; fi; }

# bench/api_bench.py drives gunicorn with wrk (a C load generator) when it is installed: on a small
# machine a Python driver takes much of the CPU the server needs.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is missing: sudo apt-get install -y wrk"; exit 1; fi; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

test: setup browser-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3* media staticfiles test-artifacts .pytest_cache .ruff_cache
