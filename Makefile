# Runyard: `make demo` runs the quickstart pipeline on the embedded workspace; `make test` runs everything.
# Every install step lives here (CI runs `make test` on a clean clone).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install demo test lint typecheck unit bench bench-server clean services browser

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: install
	@$(PY) examples/quickstart/pipeline.py
	@$(PY) -c "from runyard.settings import get_settings as s; print(f'\nWorkspace: {s().home_path}')"
	@echo "Dashboard: run '$(VENV)/bin/runyard up' and open http://127.0.0.1:8080/ (runs, DAGs, logs, artifacts)"

services:
	@pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start

# Browser tests drive Debian's Chromium headless (never a downloaded browser build).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples

typecheck: install
	$(VENV)/bin/mypy src/runyard

unit: install services browser
	$(VENV)/bin/pytest tests -q -n 2 -p no:cacheprovider
	@echo "Pipelines again, through the local workspace service (the default users get):"
	RUNYARD_TEST_LOCAL_SERVICE=1 $(VENV)/bin/pytest tests/e2e tests/execution tests/sdk tests/orchestrators -q -n 2 -p no:cacheprovider

test: lint typecheck unit

bench: install
	$(PY) benchmarks/run.py

# The Workspace Server at 1,000,000 runs on PostgreSQL, with ZenML's server beside it (about an hour);
# load from wrk when installed (Debian: apt-get install -y wrk), else from an async httpx client.
bench-server: install services
	$(PY) benchmarks/server_bench.py

clean:
	rm -rf $(VENV) .bench .pytest_cache .mypy_cache .ruff_cache
