"""examples/reuse under the real CLI: another stack, in its own virtualenv, with this package
installed from its path (not editable, so the stack sees exactly what a wheel holds).

The virtualenv takes its third-party dependencies from the test virtualenv (a plain path line,
so nothing is downloaded and our editable install there is not active); this project goes in
with `pip install PATH`. Here the example runs with `deployRunner: false` (the runner's trust
stays, no cluster needed); tests/realcluster/test_engine_runner.py deploys its runner to a real API
server with the Kubernetes plugin that `make pulumi-kubernetes` builds.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from pulumi_oidc_trust.components.presets import GITHUB_ISSUER_URL, gke_issuer_url

from harness.pulumi_cli import ROOT
from tests.test_package import source_copy

from .programtest import Step

EXAMPLE = ROOT / "examples" / "reuse"


def _stack_with_its_own_virtualenv(where: Path) -> Path:
    shutil.copytree(EXAMPLE, where, ignore=shutil.ignore_patterns("venv", "__pycache__", "Pulumi.*.yaml"))
    venv.create(where / "venv", with_pip=False)
    python = where / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", site, str(source_copy(where.parent / "source"))],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return python


def test_the_reuse_example_goes_up_and_down_in_its_own_virtualenv(program_test, emulator, tmp_path):
    stack_dir = tmp_path / "reuse"
    python = _stack_with_its_own_virtualenv(stack_dir)
    where = subprocess.run([str(python), "-c", "import pulumi_oidc_trust; print(pulumi_oidc_trust.__file__)"],
                           cwd=stack_dir, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(stack_dir / "venv")), where

    org = "org-" + secrets.token_hex(4)
    test = program_test(stack_dir, stack="reuse", config={
        "organization": org, "deployRunner": False, "oidc:apiUrl": emulator.base_url,
    }, secrets={"oidc:accessToken": emulator.access_token})

    def both_trusts_exist(result, t):
        issuers = emulator.get(f"/api/orgs/{org}/oidc/issuers").json()["oidcIssuers"]
        assert sorted(i["issuer"] for i in issuers) == sorted(
            [GITHUB_ISSUER_URL, gke_issuer_url("acme-prod", "us-central1", "prod")]
        )
        assert t.outputs()["runnerSubject"] == "system:serviceaccount:pulumi:env-audit"

    def nothing_left(result, _):
        assert emulator.get(f"/api/orgs/{org}/oidc/issuers").json()["oidcIssuers"] == []

    test.steps([
        Step(["up", "--yes"], check=both_trusts_exist),
        Step(["preview", "--expect-no-changes"]),
        Step(["destroy", "--yes"], check=nothing_left),
    ])


def test_no_plugin_is_looked_for_under_this_packages_name(program_test, emulator, tmp_path):
    """The engine asks the language host for the stack's packages and tries to install a plugin
    for each; our distribution ships pulumi-plugin.json {"resource": false}, so it is never one.

    Plugin acquisition stays off: on, the engine would try to download the kubernetes and
    cloud-sdk plugins from hosts this machine cannot reach. The list it would fetch is the list
    it considers, which the -v=7 log shows either way.
    """
    stack_dir = tmp_path / "reuse"
    _stack_with_its_own_virtualenv(stack_dir)
    org = "org-" + secrets.token_hex(4)
    test = program_test(stack_dir, stack="plugins", config={
        "organization": org, "deployRunner": False, "oidc:apiUrl": emulator.base_url,
    }, secrets={"oidc:accessToken": emulator.access_token})
    result = test.run(["preview", "-v=7", "--logtostderr"])
    assert result.returncode == 0, result
    log = result.stderr

    def plugins_considered(name: str) -> list[str]:
        pattern = re.compile(rf"GetPluginPath\(resource, {name}[,)]|install plugin: plugin {name} |considering {name}-")
        return [line for line in log.splitlines() if pattern.search(line)]

    # The step is in the log: pulumi-kubernetes ships a real plugin, and pulumi-cloud-sdk (a test
    # dependency here) is a distribution named pulumi-* without pulumi-plugin.json, so the engine
    # takes it for a plugin named cloud-sdk: the very thing ours must not cause.
    assert plugins_considered("kubernetes") and plugins_considered("cloud-sdk"), "no plugin step in the log"
    assert plugins_considered("oidc-trust") == [] and plugins_considered("pulumi-oidc-trust") == []
