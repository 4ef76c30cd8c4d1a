# `make test` and `make demo` set up everything they need in .venv (Python 3.10+ and make only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo demo-cli bench venv clean pulumi

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The real Pulumi CLI (tools/pulumi/build.sh): built from Go modules into a per-user cache and linked
# at .tools/bin; seconds when cached. Without Go it links a pulumi already on PATH.
pulumi:
	bash tools/pulumi/build.sh

# The real-CLI tests use .tools/bin; `make pulumi` runs first when Go is here (never inside pytest).
test: $(STAMP)
	@if command -v go >/dev/null 2>&1; then $(MAKE) --no-print-directory pulumi; \
	else echo "make test: no Go here, so the Pulumi CLI is not built (real-CLI tests use a pulumi on PATH or skip)"; fi
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
