# Two set-up commands for a fresh machine (see README):
#   make demo   installs into .venv and runs the default model on the bundled examples
#   make test   installs into .venv and runs the whole test suite on CPU
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lock bench clean

# Installs come from the lock file (exact versions); pyproject.toml keeps the ranges a library user needs.
$(BIN)/.installed: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q "$$(grep '^pip==' requirements.lock)"
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/openbanana demo --out out/demo

test: install
	$(BIN)/python -m pytest -q --durations=15

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# Refresh requirements.lock: the newest releases pyproject.toml allows, in a fresh venv. Run `make test` after.
lock:
	rm -rf .lock-venv
	$(PY) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip setuptools wheel
	.lock-venv/bin/pip install -q torch==2.13.0
	.lock-venv/bin/pip install -q -e ".[all]"
	{ echo "# Every package and version that \`make\` and CI install, for Python 3.11 on x86_64 (torch: the CPU build)."; \
	  echo "# Refresh with \`make lock\` (a fresh venv, the newest releases pyproject.toml allows), then run \`make test\`."; \
	  .lock-venv/bin/pip freeze --all --exclude-editable; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) out
