# The README's two commands: `make demo` (the main job on embedded defaults) and `make test`.
# Both create .venv and install everything on first use (scripts/bootstrap.sh).
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# the default run on every CPU (pytest-xdist; tests/conftest.py gives each worker its own CPUs)
XDIST ?= -n auto --dist worksteal

.PHONY: install demo test test-slow coverage lint bench clean

install:
	@bash scripts/bootstrap.sh

demo: install
	$(BIN)/synthneg demo

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-slow: install
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# line coverage of src/synthneg by the default test run (tests that run synthneg in a child process do not count)
coverage: install
	$(BIN)/python -m pytest --cov=synthneg --cov-report=term:skip-covered --cov-report=json:coverage.json $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
