# Two commands do everything: `make run` starts the whole system, `make test` runs every test.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The suite runs against real PostgreSQL and Redis; these defaults match a local install.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/drishtiksha
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test lint format system-tools clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or python3 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $@

system-tools:
	@bash scripts/ensure-system-tools.sh

run: $(STAMP) system-tools
	$(BIN)/python -m drishtiksha.runner

# pytest exits 5 when it collected nothing: that is a failure, not a pass.
test: $(STAMP)
	@bash scripts/ensure-system-tools.sh test
	@DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "No tests were collected: failing."; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
