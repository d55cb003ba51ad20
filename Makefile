# Two commands on a fresh machine: `make demo` (main job on synthetic data) and `make test`.
# Both create the virtual environment when it is missing.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.defectlab-installed

.PHONY: venv demo test clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m shared.suite.framework_guard
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/defectlab demo

# the linter and the docs build first: seconds, where the test suite takes minutes; two pytest workers, each
# test file whole on one of them (its module fixtures built once): about 1.6 times as fast on two cores
test: venv
	$(BIN)/ruff check .
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest -n 2 --dist loadfile

clean:
	rm -rf runs .pytest_cache .site
