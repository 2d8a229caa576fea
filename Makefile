# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PROTOS := $(shell find protos -name '*.proto')

.PHONY: venv protos run test migrate bench lint clean

# The services' pinned dependencies and the development tools (pyproject.toml: `.[dev]`).
$(BIN)/.installed: pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/pip install --quiet ".[dev]"
	@touch $@

venv: $(BIN)/.installed

gen/.built: $(BIN)/.installed $(PROTOS)
	@rm -rf gen && mkdir -p gen
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=gen --grpc_python_out=gen --pyi_out=gen $(PROTOS)
	@touch $@

protos: gen/.built

migrate: protos
	$(BIN)/python -m servicekit migrate all

run: protos
	$(BIN)/python -m deploy.local.run

test: protos
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff over the repository; mypy over servicekit/ and gateway/ (pyproject.toml [tool.mypy]; it
# reads gen/, and keeps its cache in .mypy_cache).
lint: protos
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: protos
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf gen var .pytest_cache .mypy_cache .ruff_cache
