"""``oidc-trust import`` under the real CLI: the imported program's first ``pulumi up`` writes
nothing to the service (the emulator's request log shows GETs only), and ``pulumi preview
--expect-no-changes`` passes after it.

The program runs exactly as `import` wrote it: `pulumi install` makes its own virtualenv from its
requirements.txt and finds the Kubernetes plugin where `make pulumi-kubernetes` installs it (this project by the direct reference `import` wrote), with pip pointed at the
wheelhouse `make wheelhouse` built (through the environment, never by editing the program).
The emulator starts from a state file holding the seeded organization (tests/audit_seed.py).
"""

from __future__ import annotations

import subprocess
import sys

from harness.pulumi_cli import ROOT, find_kubernetes_plugin, find_wheelhouse, install_plugin, offline_pip
from tests.required_tools import required_tool

from .. import audit_seed
from .programtest import Result, Step


def test_the_imported_program_adopts_everything_without_a_write(program_test, start_emulator, tmp_path):
    state = tmp_path / "seeded-state.json"
    audit_seed.write_state_file(state)
    emulator = start_emulator(state=state)
    before = emulator.get(f"/api/orgs/{audit_seed.ORG}/oidc/issuers").json()

    program = tmp_path / "imported"
    proc = subprocess.run(
        [sys.executable, "-m", "pulumi_oidc_trust.cli", "import", "--org", audit_seed.ORG,
         "--api-url", emulator.base_url, "--out", str(program)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PULUMI_ACCESS_TOKEN": emulator.access_token, "PULUMI_HOME": str(tmp_path / "ph")},
    )
    assert proc.returncode == 0, proc.stderr
    written = {path.name: path.read_bytes() for path in program.iterdir()}
    wheelhouse = required_tool(*find_wheelhouse(), "OIDC_TRUST_REQUIRE_CLI")

    test = program_test(program, stack="imported", config={"oidc:apiUrl": emulator.base_url},
                        secrets={"oidc:accessToken": emulator.access_token}, env=offline_pip(wheelhouse))
    # `pulumi install` also installs the plugins of the program's packages (pulumi-kubernetes comes
    # with this project): here the one `make pulumi-kubernetes` built, as it installs it for a user.
    install_plugin(test.pulumi_home, required_tool(*find_kubernetes_plugin(), "OIDC_TRUST_REQUIRE_CLI"))
    installed = test.run(["install"], stack_args=False, timeout=600)
    assert installed.returncode == 0, installed
    assert {name: (program / name).read_bytes() for name in written} == written  # nothing edited

    def no_write(result: Result, _):
        writes = {k: n for k, n in emulator.stats()["counts"].items() if not k.startswith("GET ")}
        assert writes == {}, (writes, result)

    emulator.reset_stats()
    test.steps([
        Step(["preview"]),
        Step(["up", "--yes"], check=no_write),
        Step(["preview", "--expect-no-changes"], check=no_write),
    ])
    assert emulator.get(f"/api/orgs/{audit_seed.ORG}/oidc/issuers").json() == before
    resources = [r for r in test.resources() if r["type"].startswith("pulumi-python:dynamic")]
    assert len(resources) == 9  # five issuers, four policy documents (not the service's default)
    assert emulator.access_token not in test.all_output()
