"""The stack program (__main__.py) under mocks, with the example stacks' configuration, and the
pure config -> arguments translation (components/stack_config.py).

The configuration reaches the program the way the Pulumi CLI delivers it: Pulumi.yaml's
defaults first, then the stack file's values, every value a string (JSON for arrays and
objects), keys prefixed with the project name.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_oidc_trust.components.presets import GITHUB_ISSUER_URL, GITLAB_ISSUER_URL, Grant, circleci_issuer_url
from pulumi_oidc_trust.components.stack_config import CONFIG_TYPES, StackConfigError, stack_arguments
from tests.test_trust import ISSUER, JOB, POLICY, RUNNER, TRUST, check_failures, run_program

ROOT = Path(__file__).resolve().parents[1]
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
NAME = PROJECT["name"]
DECLARED = PROJECT["config"]


EXAMPLE_STACKS = ROOT / "examples" / "stacks"


def stack_file(stack: str) -> dict[str, Any]:
    """The `config:` of examples/stacks/Pulumi.<stack>.yaml, keys without the project prefix."""
    config = yaml.safe_load((EXAMPLE_STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert all(key.startswith(NAME + ":") for key in config), "example stacks set only this project's keys"
    return {key.split(":", 1)[1]: value for key, value in config.items()}


def effective_values(overrides: dict[str, Any]) -> dict[str, Any]:
    """Pulumi.yaml defaults overlaid with stack values, as Python values (what read_config yields)."""
    values = {key: spec["default"] for key, spec in DECLARED.items() if "default" in spec}
    values.update(overrides)
    missing = [key for key, spec in DECLARED.items() if "default" not in spec and key not in values]
    assert not missing, f"the CLI would refuse: missing configuration values {missing}"
    return values


def cli_config(values: dict[str, Any]) -> dict[str, str]:
    """The config map the CLI hands the program: project-prefixed keys, string values."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, dict)):
            return json.dumps(value)
        return str(value)

    return {f"{NAME}:{key}": text(value) for key, value in values.items()}


def run_stack(values: dict[str, Any], stack: str = "test"):
    return run_program(ROOT / "__main__.py", project=NAME, stack=stack, config=cli_config(effective_values(values)))


# --------------------------------------------------------------------------------------------
# Pulumi.yaml and the reader agree


def test_pulumi_yaml_keeps_the_project_and_runtime():
    assert NAME == "oidc-trust"
    assert PROJECT["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_every_declared_key_is_read_with_its_declared_type():
    declared = {key: spec["type"] for key, spec in DECLARED.items()}
    read = {key: kind for key, kind in CONFIG_TYPES.items() if kind != "object"}
    assert declared == read
    # Objects cannot be declared (Pulumi.yaml has no object type); neither can other namespaces.
    objects = {k for k, t in CONFIG_TYPES.items() if t == "object"}
    assert objects == {"policies", "lintWaivers", "issuerJwks"}
    # ... so Pulumi.yaml documents them in its comment, beside `policies`.
    comment = (ROOT / "Pulumi.yaml").read_text().split("\nconfig:")[0]
    assert all(f"#     {key} " in comment for key in objects), comment
    assert not any(":" in key for key in DECLARED)


def test_declared_keys_are_described_and_defaults_have_their_type():
    python_types = {"string": str, "integer": int, "boolean": bool, "array": list}
    for key, spec in DECLARED.items():
        assert spec.get("description"), key
        if "default" in spec:
            assert type(spec["default"]) is python_types[spec["type"]], key
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}, key
    assert [k for k, s in DECLARED.items() if "default" not in s] == ["organization", "preset"]


# --------------------------------------------------------------------------------------------
# The example stacks


def test_no_stack_configuration_is_committed_where_pulumi_stack_init_would_pick_it_up():
    """`pulumi stack init NAME` in the project directory adopts a Pulumi.NAME.yaml found there:
    a committed one would carry the example organization's trust into the user's stack. (Only
    committed files count: a user's own stack file there is how Pulumi is meant to work.)"""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "Pulumi.*.yaml"], capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot tell committed stack files from the user's own")
    assert listed.stdout.split() == []
    assert sorted(p.name for p in EXAMPLE_STACKS.glob("Pulumi.*.yaml")) == ["Pulumi.eks.yaml", "Pulumi.github.yaml"]


def test_github_stack():
    exports, monitor = run_stack(stack_file("github"), stack="github")
    assert exports == {
        "issuerId": "issuer-1",
        "policyId": "policy-1",
        "issuerUrl": GITHUB_ISSUER_URL,
        "runnerJobName": None,
        "runnerSubject": None,
    }
    assert sorted(r.type for r in monitor.registrations) == sorted([TRUST, ISSUER, POLICY])
    issuer = monitor.one(ISSUER).inputs
    assert (issuer["url"], issuer["name"], issuer["max_expiration_seconds"]) == (GITHUB_ISSUER_URL, "oidc-trust-github", 3600)
    policy = monitor.one(POLICY).inputs
    assert [p["token_type"] for p in policy["policies"]] == ["team", "personal"]
    assert policy["policies"][0] == {
        "decision": "allow", "token_type": "team", "team_name": "platform", "authorized_permissions": [],
        "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main",
                  "repository_owner_id": "1234567", "repository_id": "7654321"},
    }  # fmt: skip
    assert policy["policies"][1]["user_login"] == "release-bot"
    assert policy["issuer_url"] == GITHUB_ISSUER_URL
    assert check_failures(policy) == []  # what `pulumi preview` checks


def test_eks_stack():
    exports, monitor = run_stack(stack_file("eks"), stack="eks")
    url = stack_file("eks")["issuerUrl"]
    assert exports == {
        "issuerId": "issuer-1",
        "policyId": "policy-1",
        "issuerUrl": url,
        "runnerJobName": "pulumi-login",
        "runnerSubject": "system:serviceaccount:pulumi:pulumi-login",
    }
    policy = monitor.one(POLICY)
    assert policy.inputs["policies"] == [
        {"decision": "allow", "token_type": "team", "team_name": "platform", "authorized_permissions": [],
         "rules": {"aud": "urn:pulumi:org:acme", "sub": "system:serviceaccount:pulumi:pulumi-login"}}
    ]  # fmt: skip
    assert check_failures(policy.inputs) == []
    job = monitor.one(JOB)
    assert policy.urn in job.dependencies
    assert monitor.one(RUNNER).parent == monitor.one(TRUST).urn
    projected = [v for v in job.inputs["spec"]["template"]["spec"]["volumes"] if "projected" in v]
    assert projected[0]["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "urn:pulumi:org:acme"


def test_eks_stack_with_the_irsa_token_fails_preview_until_waived():
    values = stack_file("eks") | {"runnerToken": "eks", "runnerRoleArn": "arn:aws:iam::123456789012:role/pulumi"}
    _exports, monitor = run_stack(values)
    assert any("OIDC010" in message for _, message in check_failures(monitor.one(POLICY).inputs))
    values["lintWaivers"] = {"OIDC010": "the IRSA token is shared with AWS on purpose", "OIDC012": "AWS's fixed audience"}
    _exports, monitor = run_stack(values)
    assert check_failures(monitor.one(POLICY).inputs) == []


# --------------------------------------------------------------------------------------------
# stack_arguments: config -> OidcTrust arguments (pure)


def arguments(**values: Any):
    return stack_arguments(effective_values({"organization": "acme", **values}), default_name="oidc-trust-dev")


def test_gitlab_and_circleci_presets_derive_their_issuer_urls():
    args = arguments(preset="gitlab", gitlabProjectPath="acme/infra", gitlabNamespaceId="42", grantType="team", grantTeam="platform")
    assert args.issuer_url == GITLAB_ISSUER_URL
    assert args.policies[0].rules["sub"] == "project_path:acme/infra:ref_type:branch:ref:main"
    org_id, project_id = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    args = arguments(preset="circleci", circleciOrgId=org_id, circleciProjectId=project_id, grantType="personal", grantUser="alice")
    assert args.issuer_url == circleci_issuer_url(org_id)
    assert args.policies[0].user_login == "alice"


def test_self_managed_gitlab_uses_issuer_url():
    args = arguments(preset="gitlab", issuerUrl="https://gitlab.example.com", gitlabProjectPath="acme/infra",
                     gitlabNamespaceId="42", grantType="organization", grantRoleId="deployer")  # fmt: skip
    assert args.issuer_url == "https://gitlab.example.com"
    assert args.policies[0].role_id == "deployer"


def test_preset_none_takes_explicit_policies_and_the_defaults_reach_the_trust():
    policy = {"decision": "allow", "tokenType": "team", "teamName": "platform",
              "rules": {"aud": "urn:pulumi:org:acme", "sub": "system:serviceaccount:ci:deployer"}}  # fmt: skip
    args = arguments(preset="none", issuerUrl="https://oidc.example.com", policies=[policy])
    kwargs = args.trust_kwargs()
    assert kwargs["policies"][0].team_name == "platform"
    assert (kwargs["name"], kwargs["max_expiration_seconds"], kwargs["adopt"], kwargs["runner"]) == ("oidc-trust-dev", 3600, False, None)


def test_organization_runner_takes_the_organization_grant():
    args = arguments(preset="kubernetes", issuerUrl="https://oidc.example.com", deployRunner=True,
                     grantType="organization", grantAdmin=True)  # fmt: skip
    assert args.runner_grant == Grant.organization(admin=True)
    assert args.runner.namespace == "default" and list(args.runner.commands) == ["pulumi whoami"]


@pytest.mark.parametrize(
    "values, key, message",
    [
        (dict(preset="travis"), "preset", "'travis' is not one of"),
        (dict(preset="github", githubOwner="acme", githubRepo="infra", githubOwnerId="1"), "grantType", "is not set"),
        (dict(preset="github", githubRepo="infra", githubOwnerId="1", grantType="team", grantTeam="t"), "githubOwner", "is not set"),
        (dict(preset="github", githubOwner="acme", githubRepo="infra", githubOwnerId="x1", grantType="team", grantTeam="t"),
         "githubOwnerId", "not a numeric id"),
        (dict(preset="github", githubOwner="acme", githubRepo="infra", githubOwnerId="1", grantType="team"), "grantTeam", "is not set"),
        (dict(preset="github", githubOwner="acme", githubRepo="infra", githubOwnerId="1", grantType="organization"),
         "grantRoleId", "exactly one of a custom role id and admin"),
        (dict(preset="github", githubOwner="acme", githubRepo="infra", githubOwnerId="1", grantType="owner"), "grantType", "'owner'"),
        (dict(preset="kubernetes"), "issuerUrl", "is not set"),
        (dict(preset="kubernetes", issuerUrl="https://oidc.example.com"), "policies", "nothing to trust"),
        (dict(preset="kubernetes", issuerUrl="https://oidc.example.com", k8sNamespace="CI", k8sServiceAccount="x",
              grantType="team", grantTeam="t"), "k8sNamespace", "not a valid Kubernetes name"),
        (dict(preset="kubernetes", issuerUrl="https://oidc.example.com", deployRunner=True, runnerTeam="t",
              runnerNamespace="Bad"), "runnerNamespace", "not a valid namespace"),
        (dict(preset="kubernetes", issuerUrl="https://oidc.example.com", deployRunner=True), "grantType", "is not set"),
        (dict(preset="kubernetes", issuerUrl="https://oidc.example.com", deployRunner=True, grantType="team", grantTeam="t"),
         "runnerTeam", "organization token"),
        (dict(preset="github", githubOwner="acme", githubRepo="infra", githubOwnerId="1", grantType="team", grantTeam="t",
              deployRunner=True), "deployRunner", "another issuer"),
        (dict(preset="none", issuerUrl="https://oidc.example.com", policies=[{"decision": "maybe"}]), "policies", "decision"),
        (dict(preset="none", issuerUrl="https://oidc.example.com", policies=[]), "policies", "at least one policy"),
        (dict(preset="none", issuerUrl="https://oidc.example.com", deployRunner=True, runnerTeam="t", lintWaivers=["OIDC010"]),
         "lintWaivers", "reason"),
    ],
)
def test_config_errors_name_the_key(values, key, message):
    with pytest.raises(StackConfigError, match=f"^config {key}: .*{message}") as caught:
        arguments(**values)
    assert caught.value.key == key


def test_the_runner_keys_defaults_are_the_components_defaults():
    """A runner* key's declared default is the argument's default in RunnerArgs (one value), except
    runnerExpiration: the stack asks for 1h where the component leaves the CLI's 2h."""
    from pulumi_oidc_trust.components.runner_args import RunnerArgs
    from pulumi_oidc_trust.provider.phrasing import CONFIG_KEYS

    for argument, key in CONFIG_KEYS["runner"].items():
        declared = DECLARED[key].get("default")
        if argument not in RunnerArgs.names() or declared in ("", None) or key == "runnerExpiration":
            continue
        default = getattr(RunnerArgs, argument)
        assert (list(default) if isinstance(default, tuple) else default) == declared, key
    args = arguments(preset="kubernetes", issuerUrl="https://oidc.example.com", deployRunner=True,
                     runnerTeam="platform", runnerNamespace="", runnerToken="", runnerCommands=None)  # fmt: skip
    assert (args.runner.namespace, args.runner.token, args.runner.commands) == (
        RunnerArgs.namespace, RunnerArgs.token, RunnerArgs.commands
    ), "an unset key leaves the argument to the component"
