"""``make demo``: the whole flow on a laptop, offline.

A local Pulumi Cloud emulator stands in for Pulumi Cloud and a test OIDC issuer stands in for a
Kubernetes cluster's. Where a Pulumi CLI can be had (``make pulumi`` builds one where Go is, or a
``pulumi`` on PATH), the main job runs through it: a real ``pulumi up``, ``pulumi login
--oidc-token`` and ``pulumi destroy`` (demo/cli.py). Otherwise, or with ``--host``, trust is
provisioned through the SDK's dynamic-provider host (the path ``pulumi up`` takes), step by
step, and the Job's login exchange is performed by our client. Every process started here is
stopped on success, failure or Ctrl-C. No token is ever printed.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from pulumi_oidc_trust.components.presets import login_job
from pulumi_oidc_trust.components.runner_manifests import manifests_to_yaml, render_manifests, runner_spec
from harness.dynamic_host import ROOT, DynamicProviderHost, EngineError, Resource, rpc
from pulumi_oidc_trust.provider import lint as linter
from pulumi_oidc_trust.provider.client import PulumiCloudClient
from pulumi_oidc_trust.provider.exchange import ExchangeError, exchange
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider
from pulumi_oidc_trust.provider.simulate import render_text, simulate

ORG = "demo-org"
RUNNER = dict(organization=ORG, namespace="pulumi", team="platform", expiration="1h",
              commands=["pulumi whoami -v", "pulumi stack ls"])
OUT = ROOT / "demo-output"


def say(step: int, text: str) -> None:
    print(f"\n[{step}] {text}", flush=True)


def detail(text: str) -> None:
    for line in text.splitlines():
        print(f"    {line}", flush=True)


def start_emulator(stack: ExitStack, admin_token: str, state: Path) -> str:
    """Start ``python -m pulumi_oidc_trust.emulator``; the ExitStack stops it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulumi_oidc_trust.emulator", "--port", "0", "--state", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PULUMI_EMULATOR_ACCESS_TOKEN": admin_token},  # never on argv
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()

    stack.callback(stop)
    base = proc.stdout.readline().strip()
    if not base.startswith("http"):
        raise RuntimeError("the emulator did not start")
    return base


def mint_pod_token(base: str, subject: str, audience: str) -> str:
    """What the kubelet would project into the runner's pod: sub, aud and kubernetes.io claims."""
    import requests

    namespace, service_account = subject.split(":")[2:4]
    claims = {"sub": subject, "aud": [audience],
              "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account},
                                "pod": {"name": f"{RUNNER['namespace']}-login-abcde"}}}
    r = requests.post(f"{base}/test-issuer/token", json=claims, timeout=10)
    r.raise_for_status()
    return r.json()["token"]


def render_runner():
    """Step 2 of both demos: the runner's manifests to demo-output/runner.yaml; its RunnerSpec."""
    say(2, "Rendering the Kubernetes runner: ServiceAccount + ConfigMap (login script) + Job.")
    spec = runner_spec("deploy", **RUNNER)
    (OUT / "runner.yaml").write_text(manifests_to_yaml(render_manifests("deploy", **RUNNER)))
    detail(f"wrote {(OUT / 'runner.yaml').relative_to(ROOT)}\n"
           f"the pod's token will say sub={spec.names.subject} aud={spec.names.audience}")
    return spec


def intruder_is_refused(intruder: str, base: str) -> bool:
    """Exchanges another service account's token for the runner's team; says what the service
    answered. True when it was refused (as it must be)."""
    try:
        exchange(oidc_token=intruder, organization=ORG, team=RUNNER["team"], api_url=base)
    except ExchangeError as e:
        detail(f"the intruder's exchange is refused: {e.message}")
        return True
    detail("UNEXPECTED: the intruder's token was accepted")
    return False


def write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def run() -> int:
    OUT.mkdir(exist_ok=True)
    admin = "pul-" + secrets.token_hex(20)
    with ExitStack() as stack:
        say(1, "Starting a local Pulumi Cloud emulator (it also serves a test OIDC issuer).")
        base = start_emulator(stack, admin, OUT / "emulator-state.json")
        issuer_url = f"{base}/test-issuer"
        detail(f"API: {base}\nissuer: {issuer_url} (stands in for your cluster's OIDC issuer)")

        spec = render_runner()

        say(3, "Provisioning the OIDC issuer through the dynamic-provider host (Check, then Create).")
        config = {"oidc:apiUrl": base, "oidc:accessToken": rpc.wrap_rpc_secret(admin)}
        host = stack.enter_context(DynamicProviderHost(config))
        issuer = Resource(host, OidcIssuerProvider(), "dynamic/oidc:OidcIssuer", "cluster")
        outs = issuer.create({"organization": ORG, "url": issuer_url, "name": "cluster", "max_expiration_seconds": 7200})
        detail(f"issuer id {issuer.id}; tokens it mints are capped at {int(outs['max_expiration_seconds'])} s")

        say(4, "Building the trust policy from the runner's own subject and audience, and linting it.")
        policies = login_job(spec)
        report = linter.lint(policies, issuer_url=issuer_url, organization=ORG)
        for f in linter.lint_issuer(issuer_url) + list(report.active):
            detail(f"{f.id} {f.severity}: {f.message}")
        detail(f"{len(report.errors)} error(s): {'nothing blocks' if not report.errors else 'preview would fail'}")

        say(5, "Provisioning the policy (the whole ordered list, one document).")
        policy = Resource(host, OidcIssuerPolicyProvider(), "dynamic/oidc:OidcIssuerPolicy", "cluster-policy")
        pouts = policy.create({"organization": ORG, "issuer_id": outs["issuer_id"], "issuer_url": issuer_url,
                               "policies": [p.to_python() for p in policies]})
        detail(f"policy {pouts['policy_id']} now at version {int(pouts['version'])}")

        say(6, "Minting the token a pod of the runner would hold (written to a 0600 file, never shown).")
        token_file = OUT / "pod-token"
        write_secret(token_file, mint_pod_token(base, spec.names.subject, spec.names.audience))
        intruder = mint_pod_token(base, "system:serviceaccount:pulumi:intruder", spec.names.audience)
        detail(f"token file: {token_file.relative_to(ROOT)}")

        say(7, "Simulating both tokens against the policy before trying them.")
        from pulumi_oidc_trust.provider.policy import Request
        from pulumi_oidc_trust.provider.simulate import decode_token

        request = Request("team", RUNNER["team"])
        for label, tok in (("runner pod", token_file.read_text()), ("intruder pod", intruder)):
            claims = decode_token(tok).claims
            detail(f"--- {label}")
            detail(render_text(simulate(policies, claims, request), policies, request))

        say(8, "Exchanging the token exactly as the Job's `pulumi login --oidc-token file://...` does.")
        result = exchange(oidc_token=f"file://{token_file}", organization=ORG, team=RUNNER["team"],
                          expiration="1h", api_url=base)
        me = PulumiCloudClient(base, result.access_token).current_user()
        detail(f"got a {result.token_type} token valid {result.expires_in} s; "
               f"GET /api/user says: {me['githubLogin']} in {[o['githubLogin'] for o in me['organizations']]}")
        if not intruder_is_refused(intruder, base):
            return 1

        say(9, "Tearing down: deleting the policy closes the issuer, then the issuer goes.")
        policy.delete()
        try:
            exchange(oidc_token=f"file://{token_file}", organization=ORG, team=RUNNER["team"], api_url=base)
            detail("UNEXPECTED: the closed issuer still accepted the token")
            return 1
        except ExchangeError as e:
            detail(f"after the policy is deleted the runner's exchange is refused too: {e.message}")
        issuer.delete()
        detail(f"issuers left in {ORG}: {len(PulumiCloudClient(base, admin).list_issuers(ORG))}")
        token_file.unlink()

        say(10, "Stopping the emulator and the provider host.")
    print(f"\nDone. The runner's manifests are in {OUT.relative_to(ROOT)}/runner.yaml. "
          "Try `.venv/bin/oidc-trust --help` next, or read the README to use this against Pulumi Cloud.")
    return 0


def main(argv: list[str] | None = None) -> int:
    # SIGTERM behaves like Ctrl-C: unwind, so every started process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    argv = sys.argv[1:] if argv is None else argv
    from harness.pulumi_cli import find_cli

    cli, why = (None, "--host was given") if "--host" in argv else find_cli()
    if cli is None:
        print(f"Running through the SDK's dynamic-provider host, not the Pulumi CLI ({why}).", flush=True)
    try:
        if cli is not None:
            from demo import cli as real

            return real.run(cli)
        return run()
    except KeyboardInterrupt:
        print("\nInterrupted: everything started by the demo has been stopped.", file=sys.stderr)
        return 130
    except (EngineError, ExchangeError, RuntimeError, OSError, subprocess.CalledProcessError) as e:
        print(f"\nThe demo failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
