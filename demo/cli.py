"""The demo's main job through the real Pulumi CLI: a real ``pulumi up`` and ``pulumi destroy`` of
this repository's stack (kubernetes preset), a real ``pulumi login --oidc-token``, against the
emulator. ``python -m demo`` runs this whenever a CLI can be had (``harness.pulumi_cli``).

Nothing is written into the repository: the file backend, the stack's config file, the CLI's
home and the emulator's state live in a temporary folder. The engine's own output is shown.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path


from harness.pulumi_cli import ROOT, Cli, cli_environment, init_stack
from pulumi_oidc_trust.provider.client import PulumiCloudClient
from pulumi_oidc_trust.provider.exchange import ExchangeError, exchange

from .__main__ import (ORG, OUT, RUNNER, detail, intruder_is_refused, mint_pod_token, render_runner, say,
                       start_emulator, write_secret)

STACK = "demo"
PASSPHRASE = "demo-passphrase"  # protects the throw-away stack's secrets in its temporary backend


def run(cli: Cli) -> int:
    OUT.mkdir(exist_ok=True)
    admin = "pul-" + secrets.token_hex(20)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="oidc-trust-demo-") as tmp:
        work = Path(tmp)
        say(1, f"Starting a local Pulumi Cloud emulator; the Pulumi CLI is {cli.version} from {cli.bin_dir}.")
        base = start_emulator(stack, admin, work / "emulator-state.json")
        issuer_url = f"{base}/test-issuer"
        detail(f"API: {base}\nissuer: {issuer_url} (stands in for your cluster's OIDC issuer)")

        env = cli_environment(cli, work / "home", work / "pulumi-home", {
            "PULUMI_BACKEND_URL": f"file://{work / 'state'}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        })
        (work / "home").mkdir()
        (work / "state").mkdir()
        config_file = work / f"Pulumi.{STACK}.yaml"

        def pulumi(*args: str, stdin: str | None = None, check: bool = True) -> int:
            command = [str(cli.bin_dir / "pulumi"), *args, "--non-interactive"]
            if args[0] not in ("stack",):
                command += ["--stack", STACK, "--config-file", str(config_file)]
            print(f"    $ pulumi {' '.join(args)}", flush=True)
            done = subprocess.run(command, cwd=ROOT, env=env, input=stdin, text=True)
            if check and done.returncode != 0:
                raise RuntimeError(f"`pulumi {' '.join(args)}` failed (exit {done.returncode})")
            return done.returncode

        spec = render_runner()

        say(3, "A stack of this repository (preset kubernetes) trusting that issuer for the runner's account.")
        print(f"    $ pulumi stack init {STACK}", flush=True)
        init_stack(cli, ROOT, STACK, config_file, env)
        # Each setting with the command a person would type, shown, so the demo can be repeated by hand.
        for key, value in {
            "organization": ORG, "preset": "kubernetes", "issuerUrl": issuer_url,
            "k8sNamespace": spec.names.namespace, "k8sServiceAccount": spec.names.service_account_name,
            "grantType": "team", "grantTeam": RUNNER["team"], "oidc:apiUrl": base,
        }.items():
            pulumi("config", "set", key, value)
        # The admin token goes in as a secret, on stdin, never on argv.
        print("    (the admin token goes in on stdin: pulumi config set --secret oidc:accessToken < FILE)", flush=True)
        pulumi("config", "set", "--secret", "oidc:accessToken", stdin=admin)

        say(4, "`pulumi up`: the engine checks (and lints) the policy, then registers issuer and policy.")
        pulumi("up", "--yes")
        (issuer,) = PulumiCloudClient(base, admin).list_issuers(ORG)
        detail(f"the emulator now trusts {issuer['issuer']} in {ORG}")

        say(5, "The runner pod's login, with the real CLI: `pulumi login --oidc-token file://...`.")
        token_file = work / "pod-token"
        write_secret(token_file, mint_pod_token(base, spec.names.subject, spec.names.audience))
        pod = cli_environment(cli, work / "pod-home", work / "pod-home" / ".pulumi")
        (work / "pod-home").mkdir()
        login = [str(cli.bin_dir / "pulumi"), "login", base, "--oidc-token", f"file://{token_file}",
                 "--oidc-org", ORG, "--oidc-team", RUNNER["team"], "--oidc-expiration", "15m", "--non-interactive"]
        print("    $ pulumi login ... --oidc-token file://pod-token --oidc-org demo-org --oidc-team platform", flush=True)
        subprocess.run(login, env=pod, check=True)
        subprocess.run([str(cli.bin_dir / "pulumi"), "whoami", "-v", "--non-interactive"], env=pod, check=True)
        detail("(the CLI leaves `as platform ()` and `Backend URL:` empty: they name Pulumi Cloud's web console, "
               "which it derives only for an api.* host, and the emulator has none)")

        say(6, "An intruder's pod (another service account) is refused.")
        intruder = mint_pod_token(base, "system:serviceaccount:pulumi:intruder", spec.names.audience)
        if not intruder_is_refused(intruder, base):
            return 1

        say(7, "`pulumi destroy`: the policy is closed first, then the issuer is removed.")
        pulumi("destroy", "--yes")
        pulumi("stack", "rm", STACK, "--yes", check=False)
        try:
            exchange(oidc_token=f"file://{token_file}", organization=ORG, team=RUNNER["team"], api_url=base)
            detail("UNEXPECTED: the exchange still works after `pulumi destroy`")
            return 1
        except ExchangeError:
            detail(f"after `pulumi destroy` the runner's exchange is refused; issuers left in {ORG}: "
                   f"{len(PulumiCloudClient(base, admin).list_issuers(ORG))}")
        say(8, "Stopping the emulator; the temporary backend and homes are removed.")
    print(f"\nDone. The runner's manifests are in {OUT.relative_to(ROOT)}/runner.yaml. "
          "`python -m demo --host` shows the same flow step by step through the dynamic-provider host.")
    return 0
