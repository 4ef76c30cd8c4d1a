"""OidcTrust under pulumi.runtime.set_mocks: the issuer and policy it registers, the runner's
rule, and the runner Job's dependency on the policy.

Dependencies are read from the RegisterResource requests the SDK sends to the mock monitor
(``RecordingMonitor`` keeps ``request.dependencies``): exactly what the engine would receive.
The helpers here (``TrustMocks``, ``install``, ``run_program``) are shared with the stack and
example tests.
"""

from __future__ import annotations

import asyncio
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as runtime_settings

from pulumi_oidc_trust.components import OidcLoginJob, OidcLoginJobArgs, OidcTrust, runner_spec
from pulumi_oidc_trust.components.presets import GITHUB_ISSUER_URL, Grant, PresetError, eks_issuer_url, github_actions, login_job
from pulumi_oidc_trust.provider import issuer_policy
from pulumi_oidc_trust.provider.policy import PolicyError
from pulumi_oidc_trust.provider.wire import audience_for
from tests.k8s_helpers import ROLE_ARN, RecordingMonitor

TRUST = "oidc-trust:index:OidcTrust"
ISSUER = "pulumi-python:dynamic/oidc:OidcIssuer"
POLICY = "pulumi-python:dynamic/oidc:OidcIssuerPolicy"
RUNNER = "oidc-trust:kubernetes:OidcLoginJob"
JOB = "kubernetes:batch/v1:Job"
EKS_URL = eks_issuer_url("us-west-2", "EXAMPLED539D4633E53DE1B71EXAMPLE")


# --------------------------------------------------------------------------------------------
# Shared helpers


class TrustMocks(pulumi.runtime.Mocks):
    """State = inputs, plus what the service would add: issuer and policy ids."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outs = dict(args.inputs)
        if args.typ == ISSUER:
            outs.update(issuer_id="issuer-1", issuer=outs["url"])
            return f"{outs['organization']}/issuer-1", outs
        if args.typ == POLICY:
            outs.update(policy_id="policy-1", version=1)
            return f"{outs['organization']}/{outs['issuer_id']}", outs
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


def install(*, project: str = "proj", stack: str = "dev", config: dict[str, str] | None = None) -> RecordingMonitor:
    """Fresh mocks, a fresh root stack (so exports do not leak between tests) and this config."""
    _ensure_event_loop()  # the root stack registers itself on construction
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config or {}))
    mocks = TrustMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    return monitor


def _ensure_event_loop() -> None:
    # Another test in this process may have left no loop, or a closed one (asyncio.run does).
    policy = asyncio.get_event_loop_policy()
    try:
        usable = not policy.get_event_loop().is_closed()
    except RuntimeError:
        usable = False
    if not usable:
        policy.set_event_loop(policy.new_event_loop())


@pytest.fixture(autouse=True)
def _reset_runtime():
    yield
    pulumi.runtime.set_all_config({})
    runtime_settings.ROOT.set(None)


def run_program(path: Path, *, project: str, stack: str, config: dict[str, str]) -> tuple[dict[str, Any], RecordingMonitor]:
    """Run a Pulumi program file under mocks in a fresh module namespace; (exports, monitor)."""
    monitor = install(project=project, stack=stack, config=config)
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(path), run_name="__main__")
        return pulumi.Output.all(**pulumi.runtime.get_root_resource().outputs).apply(exports.update)

    program()
    return exports, monitor


def resolve(output: pulumi.Output) -> Any:
    """The value of an Output created inside a finished mocked deployment."""
    values: list[Any] = []

    @pulumi.runtime.test
    def wait():
        return output.apply(values.append)

    wait()
    return values[0]


def build(**kwargs: Any) -> tuple[OidcTrust, RecordingMonitor]:
    """Construct an OidcTrust "trust" in a fresh mocked deployment and wait for it."""
    monitor = install()
    built: list[OidcTrust] = []

    @pulumi.runtime.test
    def program():
        built.append(OidcTrust("trust", **kwargs))
        return built[0].urn

    program()
    return built[0], monitor


def check_failures(policy_inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """What the policy provider's check (run by the engine at preview) reports for these inputs."""
    _inputs, problems = issuer_policy.validate({k: v for k, v in policy_inputs.items() if k != "__provider"})
    return problems


GITHUB = dict(
    organization="acme",
    issuer_url=GITHUB_ISSUER_URL,
    policies=github_actions("acme", "infra", organization="acme", repository_owner_id=1, repository_id=2, grant=Grant.team("platform")),
)


# --------------------------------------------------------------------------------------------
# Issuer and policy


def test_registers_one_issuer_and_its_policy_under_the_component():
    trust, monitor = build(**GITHUB, max_expiration_seconds=3600)
    component = monitor.one(TRUST)
    issuer, policy = monitor.one(ISSUER), monitor.one(POLICY)
    assert issuer.parent == policy.parent == component.urn
    assert {k: issuer.inputs[k] for k in ("organization", "url", "name", "max_expiration_seconds", "adopt")} == {
        "organization": "acme", "url": GITHUB_ISSUER_URL, "name": "trust", "max_expiration_seconds": 3600, "adopt": False,
    }  # fmt: skip
    assert policy.inputs["policies"] == [p.to_python() for p in GITHUB["policies"]]
    assert policy.inputs["issuer_id"] == "issuer-1"
    assert not monitor.of_type(RUNNER)
    assert trust.runner is None
    assert resolve(trust.issuer_id) == "issuer-1" and resolve(trust.policy_id) == "policy-1"
    assert resolve(trust.issuer_url) == GITHUB_ISSUER_URL
    assert policy.inputs["adopt"] is False


def test_adopt_takes_over_both_the_issuer_and_its_policy_document():
    _trust, monitor = build(**GITHUB, adopt=True)
    assert monitor.one(ISSUER).inputs["adopt"] is True
    assert monitor.one(POLICY).inputs["adopt"] is True


def test_the_policy_gets_the_plain_issuer_url_so_issuer_specific_lint_runs_at_the_first_preview():
    _trust, monitor = build(**GITHUB, name="GitHub Actions", lint_waivers={"OIDC012": "no dots here, documented"})
    policy = monitor.one(POLICY)
    assert policy.inputs["issuer_url"] == GITHUB_ISSUER_URL
    assert policy.inputs["lint_waivers"] == {"OIDC012": "no dots here, documented"}
    # Only issuer_id comes from the issuer (unknown at the first preview); the URL does not.
    assert policy.dependencies == [monitor.one(ISSUER).urn]
    assert monitor.one(ISSUER).inputs["name"] == "GitHub Actions"


def test_unpinned_tenant_on_a_shared_issuer_fails_check_the_preset_does_not():
    _trust, monitor = build(**GITHUB)
    assert check_failures(monitor.one(POLICY).inputs) == []
    loose = [{"decision": "allow", "token_type": "team", "team_name": "platform",
              "rules": {"aud": audience_for("acme"), "job_workflow_ref": "acme/deploy/.github/workflows/d.yml@refs/heads/main"}}]  # fmt: skip
    _trust, monitor = build(organization="acme", issuer_url=GITHUB_ISSUER_URL, policies=loose)
    assert any("OIDC002" in message for _, message in check_failures(monitor.one(POLICY).inputs))


# --------------------------------------------------------------------------------------------
# The runner


RUNNER_ARGS = dict(namespace="ci", team="platform", commands=["pulumi stack ls"])


def test_runner_rule_is_the_runners_subject_and_audience_with_the_runners_team():
    trust, monitor = build(organization="acme", issuer_url=EKS_URL, policies=[],
                           runner=OidcLoginJobArgs("pulumi-login", **RUNNER_ARGS))  # fmt: skip
    assert isinstance(trust.runner, OidcLoginJob)
    subject, audience = resolve(trust.runner.subject), resolve(trust.runner.audience)
    assert (subject, audience) == ("system:serviceaccount:ci:pulumi-login", "urn:pulumi:org:acme")
    assert monitor.one(POLICY).inputs["policies"] == [
        {"decision": "allow", "token_type": "team", "team_name": "platform", "authorized_permissions": [],
         "rules": {"aud": audience, "sub": subject}}
    ]  # fmt: skip
    assert check_failures(monitor.one(POLICY).inputs) == []


def test_runner_rule_follows_the_preset_policies_and_uses_the_same_function_as_the_runner():
    spec = runner_spec("pulumi-login", organization="acme", user="alice")
    trust, monitor = build(**{**GITHUB, "issuer_url": EKS_URL},
                           runner=OidcLoginJobArgs("pulumi-login", user="alice"))  # fmt: skip
    policies = monitor.one(POLICY).inputs["policies"]
    assert policies[:-1] == [p.to_python() for p in GITHUB["policies"]]
    assert policies[-1] == login_job(spec)[0].to_python()
    assert policies[-1]["user_login"] == "alice" and policies[-1]["token_type"] == "personal"
    assert trust.runner.spec.names == spec.names


def test_the_runners_job_depends_on_the_policy_and_is_parented_to_the_trust():
    trust, monitor = build(organization="acme", issuer_url=EKS_URL, policies=[],
                           runner=OidcLoginJobArgs("pulumi-login", **RUNNER_ARGS))  # fmt: skip
    policy_urn = monitor.one(POLICY).urn
    assert policy_urn in monitor.one(JOB).dependencies
    assert monitor.one(RUNNER).parent == monitor.one(TRUST).urn


def test_runner_options_are_merged_with_the_policy_dependency():
    _trust, monitor = build(
        organization="acme", issuer_url=EKS_URL, policies=[],
        runner=OidcLoginJobArgs("pulumi-login", team="platform",
                                opts=pulumi.ResourceOptions(ignore_changes=["spec"])),
    )  # fmt: skip
    assert monitor.one(POLICY).urn in monitor.one(JOB).dependencies


def test_an_organization_token_runner_needs_an_explicit_runner_grant():
    with pytest.raises(PresetError, match="runner_grant: .*organization token"):
        build(organization="acme", issuer_url=EKS_URL, policies=[], runner=OidcLoginJobArgs("pulumi-login"))
    _trust, monitor = build(organization="acme", issuer_url=EKS_URL, policies=[],
                            runner=OidcLoginJobArgs("pulumi-login"), runner_grant=Grant.organization(role_id="deployer"))  # fmt: skip
    (policy,) = monitor.one(POLICY).inputs["policies"]
    assert (policy["token_type"], policy["role_id"]) == ("organization", "deployer")


def test_a_runner_grant_that_contradicts_the_runners_team_is_refused():
    with pytest.raises(PresetError, match="runner_grant: .*differs"):
        build(organization="acme", issuer_url=EKS_URL, policies=[],
              runner=OidcLoginJobArgs("pulumi-login", team="platform"), runner_grant=Grant.team("other"))  # fmt: skip


def test_eks_token_source_is_a_lint_error_at_check_unless_waived():
    runner = OidcLoginJobArgs("pulumi-login", team="platform", token="eks",
                              service_account_annotations={"eks.amazonaws.com/role-arn": ROLE_ARN})  # fmt: skip
    _trust, monitor = build(organization="acme", issuer_url=EKS_URL, policies=[], runner=runner)
    failures = check_failures(monitor.one(POLICY).inputs)
    assert [p for p, m in failures if "OIDC010" in m] == ["policies[0]"]
    assert monitor.one(POLICY).inputs["policies"][0]["rules"]["aud"] == "sts.amazonaws.com"

    waivers = {"OIDC010": "IRSA token shared with AWS on purpose", "OIDC012": "sts.amazonaws.com is AWS's fixed audience"}
    _trust, monitor = build(organization="acme", issuer_url=EKS_URL, policies=[], runner=runner, lint_waivers=waivers)
    assert check_failures(monitor.one(POLICY).inputs) == []


# --------------------------------------------------------------------------------------------
# Bad arguments register nothing


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(GITHUB, policies=[]), ValueError, "policies: no policy and no runner"),
        (dict(GITHUB, policies=[{"decision": "allow", "token_type": "team", "rules": {"sub": "x"}}]), PolicyError, "team_name"),
        (dict(GITHUB, issuer_url="http://token.example.com"), ValueError, "issuer_url: .*https"),
        (dict(GITHUB, organization="acme/infra"), ValueError, "organization"),
        (dict(GITHUB, lint_waivers={"OIDC999": "typo"}), ValueError, "lint_waivers: .*OIDC999"),
        (dict(GITHUB, runner_grant=Grant.team("platform")), ValueError, "runner_grant: given without a runner"),
        (dict(GITHUB, runner=OidcLoginJobArgs("Bad_Name")), ValueError, "resource_name"),
        (dict(GITHUB, runner={"namespace": "ci"}), TypeError, "OidcLoginJobArgs"),
    ],
)
def test_bad_arguments_fail_before_anything_is_registered(kwargs, error, message):
    monitor = install()
    with pytest.raises(error, match=message):
        OidcTrust("trust", **kwargs)
    assert monitor.registrations == []


def test_an_existing_login_job_is_refused_with_the_way_to_fix_it():
    monitor = install()

    @pulumi.runtime.test
    def program():
        job = OidcLoginJob("pulumi-login", organization="acme")
        with pytest.raises(TypeError, match="pass its arguments instead: runner=OidcLoginJobArgs"):
            OidcTrust("trust", **GITHUB, runner=job)
        return job.urn

    program()
    assert not monitor.of_type(TRUST)


def test_login_job_args_take_no_organization():
    with pytest.raises(ValueError, match="organization: OidcLoginJobArgs takes no organization"):
        OidcLoginJobArgs("pulumi-login", organization="other")
