# `make test` and `make demo` set up everything they need in .venv (Python 3.10+ and make only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo bench venv clean pulumi k8s

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

# A real kube-apiserver and etcd (tools/k8s/build.sh): built from Go modules into a per-user cache
# and linked at .tools/bin; seconds when cached. Needs Go.
k8s:
	bash tools/k8s/build.sh

# The real-CLI and real-cluster tests use .tools/bin; `make pulumi` and `make k8s` run first when
# Go is here (never inside pytest).
test: $(STAMP)
	@if command -v go >/dev/null 2>&1; then $(MAKE) --no-print-directory pulumi && $(MAKE) --no-print-directory k8s; \
	else echo "make test: no Go here, so neither the Pulumi CLI nor kube-apiserver/etcd is built (real-CLI tests use a pulumi on PATH or skip; real-cluster tests use binaries on PATH or skip)"; fi
	$(PY) -m pytest -q -n 2

# The main job runs through the real Pulumi CLI where one can be had (`make pulumi` where Go is).
demo: $(STAMP)
	@if command -v go >/dev/null 2>&1; then \
	  echo "make demo: first \`make pulumi\` (the real Pulumi CLI: about 7 minutes and 3.5 GB of Go caches the first time, seconds after)"; \
	  $(MAKE) --no-print-directory pulumi; fi
	$(PY) -m demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
