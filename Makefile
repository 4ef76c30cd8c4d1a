# `make test` and `make demo` set up everything they need in .venv (Python 3.10+ and make only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo bench venv clean pulumi lock k8s pulumi-kubernetes node runner-image wheelhouse

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

# The wheelhouse the real-CLI tests install fresh virtualenvs from (`pulumi install` with PIP_NO_INDEX
# and PIP_FIND_LINKS pointing here, so no test downloads): every package of requirements.lock at its
# locked version, hashes checked, plus pip and setuptools at .venv's versions and wheel (what the
# language host upgrades first in every virtualenv it installs, as Pulumi's does).
WHEELHOUSE := .wheelhouse
WHEELS     := $(WHEELHOUSE)/.complete
wheelhouse: $(WHEELS)

$(WHEELS): requirements.lock $(STAMP)
	rm -rf $(WHEELHOUSE)
	$(PY) -m pip download --quiet --require-hashes --no-deps -r requirements.lock -d $(WHEELHOUSE)
	$(PY) -m pip download --quiet --no-deps -d $(WHEELHOUSE) \
		"pip==$$($(PY) -c 'import pip; print(pip.__version__)')" \
		"setuptools==$$($(PY) -c 'import setuptools; print(setuptools.__version__)')" wheel
	touch $@

# Regenerate requirements.lock from pyproject's dependencies with pip-tools, in a throwaway
# virtualenv (the tool is not a dependency of the stack). Commit the result.
LOCK_VENV := .venv-lock
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet 'pip-tools>=7.4'
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
	rm -rf $(LOCK_VENV)

# The real Pulumi CLI (tools/pulumi/build.sh): built from Go modules into a per-user cache and linked
# at .tools/bin; seconds when cached. Without Go it links a pulumi already on PATH.
pulumi:
	bash tools/pulumi/build.sh

# The Kubernetes resource plugin (tools/pulumi-kubernetes/build.sh) that `pulumi up` of the runner
# component needs: built from Go modules into the same cache, linked at .tools/bin and installed in
# the plugin cache of $PULUMI_HOME at the version the Python SDK asks for. Not needed by `make demo`.
pulumi-kubernetes:
	bash tools/pulumi-kubernetes/build.sh

# A real kube-apiserver and etcd (tools/k8s/build.sh): built from Go modules into a per-user cache
# and linked at .tools/bin; seconds when cached. Needs Go.
k8s:
	bash tools/k8s/build.sh

# A real node for the runner's pod (tests/realnode): the container runtime from Debian's packages
# (installed when run as root), then the runner and pause images, built offline (tools/runner-image/).
# Without root it says what is missing and the node tests skip with that reason.
node:
	bash tools/node/install-runtime.sh
	@if [ "$$(id -u)" = 0 ] && command -v mmdebstrap >/dev/null 2>&1; then $(MAKE) --no-print-directory runner-image; \
	else echo "make node: not root, so no runner image (the node tests skip and say why)"; fi

runner-image:
	bash tools/runner-image/build.sh

# The real-CLI and real-cluster tests use .tools/bin; `make pulumi` and `make k8s` run first when
# Go is here (never inside pytest).
test: $(STAMP) $(WHEELS)
	@if command -v go >/dev/null 2>&1; then $(MAKE) --no-print-directory pulumi && OIDC_TRUST_PLUGIN_INSTALL=0 $(MAKE) --no-print-directory pulumi-kubernetes && $(MAKE) --no-print-directory k8s && $(MAKE) --no-print-directory node; \
	else echo "make test: no Go here, so neither the Pulumi CLI nor kube-apiserver/etcd is built (real-CLI tests use a pulumi on PATH or skip; real-cluster tests use binaries on PATH or skip)"; fi
	$(PY) -m pytest -q -n 2

# The main job runs through the real Pulumi CLI where one can be had (`make pulumi` where Go is).
demo: $(STAMP)
	@if command -v go >/dev/null 2>&1; then \
	  echo "make demo: first \`make pulumi\` (the real Pulumi CLI: about 9 minutes and 3.2 GB of Go caches the first time, seconds after)"; \
	  $(MAKE) --no-print-directory pulumi; fi
	$(PY) -m demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(LOCK_VENV) $(WHEELHOUSE) .pytest_cache .hypothesis
