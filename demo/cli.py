"""``make demo-cli``: the trust part with a real ``pulumi up`` / ``pulumi destroy``.

Opt-in, and only where the Pulumi CLI (3.216 or newer) is on PATH: a local file backend, the
emulator as Pulumi Cloud, this repository's own stack program with the kubernetes preset. It
checks with the emulator that the issuer and its policy exist and admit the runner's token, then
destroys the stack. Nothing is written into the repository: the backend, the stack's config file
and the emulator's state live in a temporary folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import yaml

from demo.__main__ import mint_pod_token, start_emulator
from harness.dynamic_host import ROOT
from pulumi_oidc_trust.provider.client import PulumiCloudClient
from pulumi_oidc_trust.provider.exchange import ExchangeError, exchange
from pulumi_oidc_trust.provider.wire import audience_for

ORG = "demo-org"
STACK = "demo"


def pulumi(args: list[str], env: dict[str, str], config_file: Path) -> None:
    command = ["pulumi", *args, "--stack", STACK, "--config-file", str(config_file), "--non-interactive"]
    print("$ " + " ".join(command[:2] + [a for a in args[1:]]), flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def main() -> int:
    if shutil.which("pulumi") is None:
        print("make demo-cli needs the Pulumi CLI (3.216 or newer) on PATH, and it is not installed here.\n"
              "`make demo` shows the same flow through the SDK's dynamic-provider host without it.", file=sys.stderr)
        return 2
    admin = "pul-" + secrets.token_hex(20)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="oidc-trust-demo-cli-") as tmp:
        work = Path(tmp)
        base = start_emulator(stack, admin, work / "emulator-state.json")
        env = {k: v for k, v in os.environ.items() if k != "PULUMI_ACCESS_TOKEN"}
        env.update(PULUMI_BACKEND_URL=f"file://{work}", PULUMI_CONFIG_PASSPHRASE="demo-cli",
                   PULUMI_SKIP_UPDATE_CHECK="true")
        config_file = work / f"Pulumi.{STACK}.yaml"
        config_file.write_text(yaml.safe_dump({"config": {
            "oidc-trust:organization": ORG, "oidc-trust:preset": "kubernetes",
            "oidc-trust:issuerUrl": f"{base}/test-issuer",
            "oidc-trust:k8sNamespace": "pulumi", "oidc-trust:k8sServiceAccount": "deploy",
            "oidc-trust:grantType": "team", "oidc-trust:grantTeam": "platform",
            "oidc:apiUrl": base,
        }}))
        subprocess.run(["pulumi", "stack", "init", STACK, "--non-interactive"], cwd=ROOT, env=env, check=True)
        # The admin token goes in as a secret, on stdin, never on argv.
        subprocess.run(["pulumi", "config", "set", "--secret", "oidc:accessToken", "--stack", STACK,
                        "--config-file", str(config_file)], cwd=ROOT, env=env, input=admin, text=True, check=True)
        try:
            pulumi(["up", "--yes"], env, config_file)
            issuers = PulumiCloudClient(base, admin).list_issuers(ORG)
            print(f"issuers registered by `pulumi up`: {[i['name'] for i in issuers]}")
            token = mint_pod_token(base, "system:serviceaccount:pulumi:deploy", audience_for(ORG))
            result = exchange(oidc_token=token, organization=ORG, team="platform", api_url=base)
            print(f"the pod's token is exchanged for a {result.token_type} token ({result.expires_in} s)")
        finally:
            pulumi(["destroy", "--yes"], env, config_file)
            subprocess.run(["pulumi", "stack", "rm", STACK, "--yes", "--non-interactive"], cwd=ROOT, env=env, check=False)
        try:
            exchange(oidc_token=token, organization=ORG, team="platform", api_url=base)
            print("UNEXPECTED: the exchange still works after `pulumi destroy`", file=sys.stderr)
            return 1
        except ExchangeError:
            print("after `pulumi destroy` the issuer is gone and the exchange is refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
