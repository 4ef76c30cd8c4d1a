"""The whole flow with real parts only, but for the kubelet: the runner's entrypoint script as
the API server stores it in the ConfigMap, run by bash with the real Pulumi CLI, with the token
the TokenRequest API mints for a pod of the Job, against the emulator, which verifies that token
with the API server's own discovery document and JWKS (trust provisioned from ``OidcTrust``).
"""

from __future__ import annotations

import secrets
import subprocess

from harness.pulumi_cli import cli_environment
from pulumi_oidc_trust.components import OidcLoginJobArgs
from pulumi_oidc_trust.components.runner_manifests import (
    PROJECTED_TOKEN_PATH,
    SCRIPT_KEY,
    entrypoint_script,
    runner_spec,
)

from .conftest import pod_token, provision, start_runner, trust_inputs

ORG = "acme"


def test_the_stored_entrypoint_logs_in_with_the_real_cli_and_the_pods_real_token(
    pulumi_cli, kube, cluster, start_emulator, tmp_path
):
    cloud = start_emulator("--issuer-ca", cluster.ca_path)
    namespace = kube.namespace("flow")
    args = dict(namespace=namespace, team="platform", expiration="15m", commands=["pulumi whoami -v"],
                api_url=cloud.base_url)  # fmt: skip
    issuer_inputs, policy_inputs, trust = trust_inputs(
        organization=ORG, issuer_url=cluster.issuer, policies=[], runner=OidcLoginJobArgs("pulumi-login", **args)
    )
    provision(cloud, issuer_inputs, policy_inputs)
    spec = trust.runner.spec
    job, pod = start_runner(kube, spec)

    stored = kube.core.read_namespaced_config_map(spec.names.config_map_name, namespace).data[SCRIPT_KEY]
    assert stored == entrypoint_script(spec)
    token_path = tmp_path / "pod" / "token"
    token_path.parent.mkdir()
    script = entrypoint_script(runner_spec("pulumi-login", organization=ORG, token=str(token_path), **args))
    # The pod's script, but for the token's path.
    assert script != stored and script.replace(str(token_path), PROJECTED_TOKEN_PATH) == stored
    (tmp_path / "entrypoint.sh").write_text(script)

    def run(token: str) -> subprocess.CompletedProcess:
        token_path.write_text(token)
        home = tmp_path / f"home-{secrets.token_hex(3)}"
        home.mkdir()
        env = cli_environment(pulumi_cli, home, home / ".pulumi")
        return subprocess.run(["/bin/bash", str(tmp_path / "entrypoint.sh")], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=180)  # fmt: skip

    token = pod_token(kube, spec, job, pod)
    ran = run(token)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Organizations: acme" in ran.stdout and "Token type: team: platform" in ran.stdout, ran.stdout
    assert token not in ran.stdout + ran.stderr
    assert cloud.stats()["counts"].get("POST /api/oauth/token") == 1

    # Another service account in the same namespace, the same audience: refused.
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "intruder", "namespace": namespace}})
    other = kube.token_for(namespace, "intruder", audience=spec.names.audience, expiration_seconds=3600)
    refused = run(other)
    assert refused.returncode != 0
    assert "Token type" not in refused.stdout
    assert "no authorization policy" in refused.stderr.lower(), refused.stderr
    assert other not in refused.stdout + refused.stderr
