# Two commands do everything: `make run` starts the whole system, `make test` runs every test.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The suite runs against real PostgreSQL and Redis; these defaults match a local install.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/drishtiksha
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test lint format system-tools clean

# The platform and the reference inference server (mlserver/, a distribution of its own) share
# one venv: `make run` starts the server from it and `make test` runs both suites.
$(STAMP): pyproject.toml mlserver/pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or python3 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -e './mlserver[test]' -e '.[dev]'
	@touch $@

system-tools:
	@bash scripts/ensure-system-tools.sh

run: $(STAMP) system-tools
	$(BIN)/python -m drishtiksha.runner

# The platform's suite (PYTEST_ARGS go to it), then the reference server's, from its own folder
# with its own pytest settings and no Django, whatever the first one's result. pytest exits 5
# when it collected nothing: that is a failure, not a pass. The first failure's code is the exit.
test: $(STAMP)
	@bash scripts/ensure-system-tools.sh test
	@DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		$(BIN)/python -m pytest $(PYTEST_ARGS); platform=$$?; \
		cd mlserver && $(abspath $(BIN))/python -m pytest; mlserver=$$?; \
		status=0; for rc in $$platform $$mlserver; do \
			if [ $$rc -eq 5 ]; then echo "No tests were collected: failing."; rc=1; fi; \
			if [ $$status -eq 0 ]; then status=$$rc; fi; \
		done; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
