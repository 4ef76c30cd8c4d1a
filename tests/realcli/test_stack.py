"""This repository's stack under the real `pulumi` CLI, with the emulator as Pulumi Cloud.

Its own stack names and a config file in a temporary folder: the committed example stacks are
not used. The admin token goes in with `pulumi config set --secret` on stdin.
"""

from __future__ import annotations

import base64
import json
import re
import secrets

from pulumi_oidc_trust.provider.policy import closed_policies
from pulumi_oidc_trust.provider.wire import audience_for

from harness.pulumi_cli import ROOT

from .programtest import ProgramTest, Result, Step

GITHUB = "https://token.actions.githubusercontent.com"


def _org() -> str:
    return "org-" + secrets.token_hex(4)


def _issuers(emulator, org: str) -> list[dict]:
    """The organization's issuers ([] before its first: the emulator does not know it yet)."""
    return emulator.issuers(org)


def _paths_holding(value, secret: str, path: str = "") -> list[str]:
    """Where in a JSON value a secret occurs (paths only, so a failure never prints the secret)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths_holding(v, secret, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths_holding(v, secret, f"{path}/{i}")]
    return [path] if isinstance(value, str) and secret in value else []


def _no_secret_anywhere(test: ProgramTest, *secrets_: str) -> None:
    """No token in any CLI output, in the logs under PULUMI_HOME, or in plain text in the state."""
    shown = _state_without_the_engines_config_copy(test)
    for secret in secrets_:
        assert _paths_holding(shown, secret) == [], "a token is in the state (secrets shown)"
    texts = {"CLI output": test.all_output(), "logs": test.logs_text(), "state": json.dumps(test.export())}
    for where, text in texts.items():
        for secret in secrets_:
            assert secret not in text, f"a token is in the {where}"
        assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}\.", text), f"a JWT is in the {where}"


def _state_without_the_engines_config_copy(test: ProgramTest) -> dict:
    """The state with secrets decrypted, less the one place the engine itself keeps the token.

    The engine records the whole stack config as the inputs (and outputs) of the default
    `pulumi-python` provider, `oidc:accessToken` included, encrypted like every secret. Nothing of ours may hold it.
    """
    exported = test.export(show_secrets=True)
    for resource in exported["deployment"].get("resources", []):
        if resource["type"] == "pulumi:providers:pulumi-python":
            assert "oidc:accessToken" in resource["inputs"]
            for part in ("inputs", "outputs"):
                resource.get(part, {}).pop("oidc:accessToken", None)
    return exported


def _providers_are_small(test: ProgramTest) -> None:
    """Each `__provider` is a short reference to our module (read with the stack's secrets shown)."""
    exported = test.export(show_secrets=True)
    ours = [r for r in exported["deployment"]["resources"] if r["type"].startswith("pulumi-python:dynamic")]
    assert len(ours) == 2
    for resource in ours:
        provider = resource["inputs"]["__provider"]
        if isinstance(provider, dict):  # a secret, shown: {"<sig>": "...", "plaintext": "\"...\""}
            provider = json.loads(provider["plaintext"])
        assert len(provider) < 2048
        assert b"pulumi_oidc_trust.provider." in base64.b64decode(provider)


def _preview_ops(result: Result) -> dict[str, str]:
    """name -> op of a `pulumi preview --json`."""
    steps = json.loads(result.stdout)["steps"]
    return {step["urn"].rsplit("::", 1)[1]: step["op"] for step in steps}


def test_the_github_stack_through_preview_up_update_refresh_and_destroy(program_test, emulator):
    org = _org()
    test = program_test(ROOT, stack="realcli-github", config={
        "organization": org, "preset": "github", "githubOwner": "acme", "githubRepo": "infra",
        "githubOwnerId": "1234567", "githubRepoId": "7654321", "grantType": "team", "grantTeam": "platform",
        "oidc:apiUrl": emulator.base_url,
    })

    def no_issuer_yet(result: Result, _):
        assert "+ 4 to create" in result.stdout or "4 to create" in result.stdout, result
        assert _issuers(emulator, org) == []

    # Preview needs no credential: nothing is sent.
    test.steps([Step(["preview"], check=no_issuer_yet, name="preview without a credential")])
    test.set_secret("oidc:accessToken", emulator.access_token)

    def created(result: Result, t: ProgramTest):
        (issuer,) = _issuers(emulator, org)
        assert issuer["issuer"] == GITHUB and issuer["name"] == f"oidc-trust-{t.stack}"
        (policy,) = emulator.policy_of(issuer["id"], org)["policies"]
        assert policy["decision"] == "allow" and policy["tokenType"] == "team" and policy["teamName"] == "platform"
        assert policy["rules"]["sub"] == "repo:acme/infra:ref:refs/heads/main"
        assert t.outputs()["issuerId"] == issuer["id"]

    def only_the_policy_is_updated(result: Result, _):
        ops = _preview_ops(result)
        assert ops["trust-policy"] == "update", ops
        assert {name: op for name, op in ops.items() if name != "trust-policy"} == {
            name: "same" for name in ops if name != "trust-policy"
        }, ops

    def policy_now_for_ops(result: Result, _):
        (issuer,) = _issuers(emulator, org)
        (policy,) = emulator.policy_of(issuer["id"], org)["policies"]
        assert policy["teamName"] == "ops"

    def refused_with_rule_and_fix(result: Result, _):
        assert "OIDC003" in result.output and "Fix:" in result.output, result
        assert "repo:*" in result.output

    def issuer_dropped_from_state(result: Result, t: ProgramTest):
        ids = [r.get("id", "") for r in t.resources()]
        assert not any(i.endswith(issuer_before["id"]) for i in ids), ids

    issuer_before: dict = {}

    def delete_out_of_band(result: Result, _):
        (issuer,) = _issuers(emulator, org)
        issuer_before.update(issuer)
        assert emulator.delete(f"/api/orgs/{org}/oidc/issuers/{issuer['id']}").status_code in (200, 204)

    def recreated(result: Result, t: ProgramTest):
        (issuer,) = _issuers(emulator, org)
        assert issuer["id"] != issuer_before["id"]
        assert t.outputs()["issuerId"] == issuer["id"]

    test.steps([
        Step(["up", "--yes"], check=created),
        Step(["preview", "--expect-no-changes"]),
        Step(["refresh", "--yes", "--expect-no-changes"]),
        Step(["preview", "--json"], config={"grantTeam": "ops"}, check=only_the_policy_is_updated),
        Step(["up", "--yes"], check=policy_now_for_ops),
        Step(["preview", "--expect-no-changes"]),
        Step(["preview"], expect_failure=True, check=refused_with_rule_and_fix, name="a policy the linter refuses",
             config={"policies": [{"decision": "allow", "token_type": "team", "team_name": "ops",
                                   "rules": {"aud": audience_for(org), "sub": "repo:*"}}]}),
        Step(["preview", "--expect-no-changes"], remove_config=["policies"]),
        Step(["preview", "--expect-no-changes"], check=delete_out_of_band, name="then the issuer is deleted by hand"),
        Step(["refresh", "--yes"], check=issuer_dropped_from_state),
        Step(["up", "--yes"], check=recreated),
        Step(["preview", "--expect-no-changes"]),
    ])
    _providers_are_small(test)
    _no_secret_anywhere(test, emulator.access_token)
    test.steps([Step(["destroy", "--yes"], check=lambda r, t: (_issuers(emulator, org) == []) or None)])
    assert _issuers(emulator, org) == []


def test_the_kubernetes_stack_and_destroying_the_policy_alone_shuts_the_issuer(program_test, emulator):
    org = _org()
    test = program_test(ROOT, stack="realcli-kubernetes", config={
        "organization": org, "preset": "kubernetes", "issuerUrl": emulator.test_issuer_url,
        "k8sNamespace": "pulumi", "k8sServiceAccount": "deploy", "grantType": "team", "grantTeam": "platform",
        "oidc:apiUrl": emulator.base_url,
    }, secrets={"oidc:accessToken": emulator.access_token})
    token = emulator.mint({"sub": "system:serviceaccount:pulumi:deploy", "aud": audience_for(org)})

    def exchange_status() -> int:
        return emulator.exchange(token, org, token_type="team", scope="team:platform").status_code

    def trusted(result: Result, _):
        assert exchange_status() == 200

    def issuer_kept_and_shut(result: Result, t: ProgramTest):
        (issuer,) = _issuers(emulator, org)
        assert emulator.policy_of(issuer["id"], org)["policies"] == closed_policies(org)
        patches = [r for r in emulator.stats()["requests"] if r["method"] == "PATCH" and "auth/policies" in r["route"]]
        assert patches and patches[-1]["status"] == 200
        assert exchange_status() != 200
        assert not any(r["urn"].endswith("::trust-policy") for r in t.resources())

    test.steps([Step(["up", "--yes"], check=trusted)])
    policy_urn = next(r["urn"] for r in test.resources() if r["urn"].endswith("::trust-policy"))
    emulator.reset_stats()
    test.steps([
        Step(["destroy", "--yes", "--target", policy_urn], check=issuer_kept_and_shut),
        Step(["destroy", "--yes"], check=lambda r, t: None),
    ])
    assert _issuers(emulator, org) == []
    _no_secret_anywhere(test, emulator.access_token, token)
