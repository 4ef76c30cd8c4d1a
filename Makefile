# `make test` and `make demo` set up everything they need in .venv (Python 3.10+ and make only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo demo-cli bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2

demo: $(STAMP)
	$(PY) -m demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Opt-in: a real `pulumi up` / `pulumi destroy` against the emulator (needs the Pulumi CLI on PATH).
demo-cli: $(STAMP)
	$(PY) -m demo.cli
