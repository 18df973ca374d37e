# Two set-up commands for a fresh machine (see README):
#   make demo   installs into .venv and runs the default model on the bundled examples
#   make test   installs into .venv and runs the whole test suite on CPU
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[all]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/openbanana demo --out out/demo

test: install
	$(BIN)/python -m pytest -q -x --durations=15

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) out
