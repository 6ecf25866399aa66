# Two entry points a new machine needs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-servers lint check index bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/learncity run

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# The same suite with PostgreSQL and the Chroma server required (installs PostgreSQL if missing).
test-servers: $(BIN)/.installed
	bash .ci/postgres
	LEARNCITY_REQUIRE_SERVERS=1 $(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy learncity retrieval flows reminders partners bot terminal app bot_api_emulator

check: $(BIN)/.installed
	$(BIN)/learncity check

index: $(BIN)/.installed
	$(BIN)/learncity index

clean:
	rm -rf $(VENV) data .pytest_cache
