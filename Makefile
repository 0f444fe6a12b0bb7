# The two commands of the README: `make run` and `make test`. Each builds .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fuzz clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/execplanner serve --cloud sim

# The lint step: style and formatting (ruff), the dependency rule (pyproject.toml [tool.importlinter]), types (mypy, [tool.mypy]),
# and no function over cyclomatic complexity 15 (tools/complexity.py).
lint: $(STAMP)
	$(BIN)/ruff check execplanner tests bench tools
	$(BIN)/ruff format --check execplanner tests bench tools
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python tools/complexity.py execplanner

# The suite on two worker processes (pytest-xdist; a module's tests stay on one worker, `@pytest.mark.alone` tests
# run beside none): PYTEST_WORKERS=0 runs it serially in one process (docs/testing.md).
PYTEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile

# Hostile-input fuzzing at scheduled size (not part of `make test`, which runs a small sample of the first half):
# hypothesis offer-set documents (2 dialects x 3 formats) and 2022-note questions (3 formats), FUZZ_EXAMPLES each
# (12,000+ cases at the default), then schemathesis against /openapi.yaml. Pass: no 5xx anywhere.
FUZZ_EXAMPLES ?= 1500
fuzz: $(STAMP)
	$(BIN)/pip install -q -e '.[fuzz]'
	EXECPLANNER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q tests/fuzz
	$(BIN)/python tests/fuzz/openapi_run.py 200

# One table of every benchmark beside its same-run baseline (bench/run.py); needs Debian's wrk for the offer path.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) build *.egg-info
