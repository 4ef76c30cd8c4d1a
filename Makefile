# `make test` and `make demo` set up everything they need in .venv (Python 3.10+ and make only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo demo-cli bench venv clean lock

venv: $(STAMP)

# .venv is also the stack's `pulumi up` virtualenv (Pulumi.yaml): its runtime dependencies are
# installed first from requirements.lock (exact versions, hashes required), then this project
# and the test tools; pip keeps the locked versions, which satisfy pyproject's ranges.
$(STAMP): pyproject.toml requirements.txt requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Regenerate requirements.lock from pyproject's dependencies with pip-tools, in a throwaway
# virtualenv (the tool is not a dependency of the stack). Commit the result.
LOCK_VENV := .venv-lock
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet 'pip-tools>=7.4'
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
	rm -rf $(LOCK_VENV)

test: $(STAMP)
	$(PY) -m pytest -q -n 2

demo: $(STAMP)
	$(PY) -m demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .hypothesis

# Opt-in: a real `pulumi up` / `pulumi destroy` against the emulator (needs the Pulumi CLI on PATH).
demo-cli: $(STAMP)
	$(PY) -m demo.cli
