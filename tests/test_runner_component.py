"""OidcLoginJob under pulumi.runtime.set_mocks: what it registers, with which parent and
dependencies, its outputs at preview, and that bad arguments register nothing."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from pulumi_oidc_trust.components import OidcLoginJob, render_manifests
from tests.k8s_helpers import CASES, ROLE_ARN, install_mocks

COMPONENT = "oidc-trust:kubernetes:OidcLoginJob"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
JOB = "kubernetes:batch/v1:Job"


@pytest.fixture
def monitor():
    return install_mocks()


def build(**kwargs) -> None:
    """Construct an OidcLoginJob "runner" inside a mocked deployment and wait for it."""

    @pulumi.runtime.test
    def program():
        job = OidcLoginJob("runner", **kwargs)
        return job.urn

    program()


def pod_spec(job_inputs: dict) -> dict:
    return job_inputs["spec"]["template"]["spec"]


# --------------------------------------------------------------------------------------------
# What gets registered


@pytest.mark.parametrize("case", ["default", "eks", "team", "user", "custom-commands", "tuned"])
def test_registers_the_rendered_manifests_as_service_account_config_map_and_job(monitor, case):
    build(**CASES[case])
    # (The SDK registers children concurrently, so their order is not fixed.)
    assert sorted(r.type for r in monitor.registrations) == sorted([COMPONENT, SERVICE_ACCOUNT, CONFIG_MAP, JOB])
    expected = {m["kind"]: m for m in render_manifests("runner", **CASES[case])}
    assert monitor.one(SERVICE_ACCOUNT).inputs == expected["ServiceAccount"]
    assert monitor.one(CONFIG_MAP).inputs == expected["ConfigMap"]
    assert monitor.one(JOB).inputs == expected["Job"]
    # Fixed names, no auto-naming: the subject a trust policy matches is known in advance.
    names = {r.type: r.inputs["metadata"]["name"] for r in monitor.registrations if r.custom}
    assert names == {SERVICE_ACCOUNT: "runner", CONFIG_MAP: "runner-entrypoint", JOB: "runner"}


def test_default_job_presents_a_projected_pulumi_token(monitor):
    build(organization="acme")
    pod = pod_spec(monitor.one(JOB).inputs)
    assert pod["serviceAccountName"] == "runner"
    projected = next(v for v in pod["volumes"] if "projected" in v)
    assert projected["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "urn:pulumi:org:acme"
    script = monitor.one(CONFIG_MAP).inputs["data"]["entrypoint.sh"]
    assert "--oidc-org acme" in script and "pulumi whoami" in script


def test_eks_job_annotates_the_service_account_and_mounts_no_projected_token(monitor):
    build(**CASES["eks"])
    annotations = monitor.one(SERVICE_ACCOUNT).inputs["metadata"]["annotations"]
    assert annotations == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert not any("projected" in v for v in pod_spec(monitor.one(JOB).inputs)["volumes"])
    script = monitor.one(CONFIG_MAP).inputs["data"]["entrypoint.sh"]
    assert "token_file=/var/run/secrets/eks.amazonaws.com/serviceaccount/token" in script


@pytest.mark.parametrize("case, flag", [("team", "--oidc-team platform"), ("user", "--oidc-user alice")])
def test_team_or_user_scope_reaches_the_login(monitor, case, flag):
    build(**CASES[case])
    assert flag in monitor.one(CONFIG_MAP).inputs["data"]["entrypoint.sh"]


def test_custom_commands_follow_the_login_in_order(monitor):
    build(**CASES["custom-commands"])
    lines = monitor.one(CONFIG_MAP).inputs["data"]["entrypoint.sh"].splitlines()
    login = next(i for i, line in enumerate(lines) if line.startswith("pulumi login"))
    assert lines[-2:] == CASES["custom-commands"]["commands"]
    assert login < len(lines) - 2
    env = pod_spec(monitor.one(JOB).inputs)["containers"][0]["env"]
    assert {"name": "AWS_REGION", "value": "eu-west-1"} in env


def test_named_service_account_is_not_registered(monitor):
    build(**CASES["named-service-account"])
    assert monitor.of_type(SERVICE_ACCOUNT) == []
    assert pod_spec(monitor.one(JOB).inputs)["serviceAccountName"] == "deployer"


def test_every_child_is_parented_to_the_component(monitor):
    build(organization="acme")
    component = monitor.one(COMPONENT)
    children = [r for r in monitor.registrations if r is not component]
    assert len(children) == 3
    assert all(child.parent == component.urn for child in children)
    assert all(child.custom for child in children) and not component.custom


def test_the_job_waits_for_its_service_account_and_script(monitor):
    build(organization="acme")
    job = monitor.one(JOB)
    assert set(job.dependencies) >= {monitor.one(SERVICE_ACCOUNT).urn, monitor.one(CONFIG_MAP).urn}


def test_depends_on_given_to_the_component_reaches_the_job(monitor):
    @pulumi.runtime.test
    def program():
        # Stands in for the trust policy, which must exist before the Job logs in.
        policy = pulumi.CustomResource("oidc-test:index:Policy", "policy", {})
        job = OidcLoginJob("runner", organization="acme", opts=pulumi.ResourceOptions(depends_on=[policy]))
        return job.urn

    program()
    policy = monitor.one("oidc-test:index:Policy")
    assert policy.urn in monitor.one(JOB).dependencies


def test_a_single_resource_as_depends_on_also_reaches_the_job(monitor):
    @pulumi.runtime.test
    def program():
        policy = pulumi.CustomResource("oidc-test:index:Policy", "policy", {})
        job = OidcLoginJob("runner", organization="acme", opts=pulumi.ResourceOptions(depends_on=policy))
        return job.urn

    program()
    assert monitor.one("oidc-test:index:Policy").urn in monitor.one(JOB).dependencies


def test_a_kubernetes_provider_given_to_the_component_is_used_by_every_child(monitor):
    @pulumi.runtime.test
    def program():
        cluster = k8s.Provider("cluster", kubeconfig="{}")
        job = OidcLoginJob("runner", organization="acme", opts=pulumi.ResourceOptions(providers=[cluster]))
        return job.urn

    program()
    provider = monitor.one("pulumi:providers:kubernetes")
    for child in (monitor.one(SERVICE_ACCOUNT), monitor.one(CONFIG_MAP), monitor.one(JOB)):
        assert child.provider.startswith(provider.urn + "::")


# --------------------------------------------------------------------------------------------
# Outputs


def test_outputs_are_known_at_preview():
    install_mocks(preview=True)
    seen = {}

    @pulumi.runtime.test
    def program():
        job = OidcLoginJob("runner", organization="acme", namespace="infra", token_audience="pulumi")
        outputs = [
            job.job_name, job.config_map_name, job.service_account_name, job.namespace, job.subject, job.audience
        ]  # fmt: skip

        async def collect():
            for name, output in zip(("job", "cm", "sa", "ns", "subject", "audience"), outputs):
                seen[name] = (await output.is_known(), await output.future())

        return pulumi.Output.from_input(collect())

    program()
    assert seen == {
        "job": (True, "runner"),
        "cm": (True, "runner-entrypoint"),
        "sa": (True, "runner"),
        "ns": (True, "infra"),
        "subject": (True, "system:serviceaccount:infra:runner"),
        "audience": (True, "pulumi"),
    }


def test_outputs_of_a_named_service_account_name_it_in_the_subject(monitor):
    values = {}

    @pulumi.runtime.test
    def program():
        job = OidcLoginJob("runner", **CASES["named-service-account"])
        return pulumi.Output.all(job.service_account_name, job.subject, job.audience).apply(
            lambda v: values.update(service_account_name=v[0], subject=v[1], audience=v[2])
        )

    program()
    assert values == {
        "service_account_name": "deployer",
        "subject": "system:serviceaccount:infra:deployer",
        "audience": "urn:pulumi:org:acme",
    }


# --------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"organization": "acme", "team": "a", "user": "b"}, "team"),
        ({"organization": ""}, "organization"),
        ({"organization": "acme", "expiration": "26h"}, "expiration"),
        ({"organization": "acme", "token": "kubernetes"}, "token"),
        ({"organization": "acme", "env": {"PULUMI_ACCESS_TOKEN": "pul-x"}}, "env"),
        ({"organization": "acme", "namespace": "Not_A_Label"}, "namespace"),
        ({"organization": "acme", "commands": []}, "commands"),
        ({"organization": "acme", "token_expiration_seconds": 60}, "token_expiration_seconds"),
    ],
)
def test_bad_arguments_raise_before_anything_is_registered(monitor, kwargs, argument):
    @pulumi.runtime.test
    def program():
        with pytest.raises(ValueError, match=f"^{argument}: "):
            OidcLoginJob("runner", **kwargs)

    program()  # waits for any registration that might have been started
    assert monitor.registrations == []


def test_a_resource_name_that_is_no_dns_label_registers_nothing(monitor):
    @pulumi.runtime.test
    def program():
        with pytest.raises(ValueError, match="^resource_name: .*'my-runner'"):
            OidcLoginJob("My_Runner", organization="acme")

    program()
    assert monitor.registrations == []


# --------------------------------------------------------------------------------------------
# Program sources reach the registered Job, directly and through OidcTrust


def test_a_git_source_registers_the_init_container_and_its_scripts(monitor):
    build(**CASES["git-ssh"])
    expected = {m["kind"]: m for m in render_manifests("runner", **CASES["git-ssh"])}
    assert monitor.one(JOB).inputs == expected["Job"]
    assert monitor.one(CONFIG_MAP).inputs == expected["ConfigMap"]
    assert [c["name"] for c in pod_spec(monitor.one(JOB).inputs)["initContainers"]] == ["fetch-program"]
    assert set(monitor.one(CONFIG_MAP).inputs["data"]) == {"entrypoint.sh", "fetch-program.sh", "known_hosts", "passwd"}


def test_oidc_trust_passes_the_program_source_and_pass_through_arguments_to_its_runner():
    from pulumi_oidc_trust.components import GitSource, OidcLoginJobArgs, OidcTrust
    from tests.test_trust import EKS_URL, install

    monitor = install()
    git = GitSource("https://github.com/acme/infra.git", "3f786850e387550fdab836ed7e6dc881de23001b", path="infra")

    @pulumi.runtime.test
    def program():
        trust = OidcTrust("trust", organization="acme", issuer_url=EKS_URL, policies=[], runner=OidcLoginJobArgs(
            "pulumi-login", team="platform", stack="acme/infra/prod", git=git, commands=["pulumi up --yes"],
            env_from=[{"secretRef": {"name": "aws-credentials"}}]))
        return trust.urn

    program()
    pod = pod_spec(monitor.one(JOB).inputs)
    assert pod["initContainers"][0]["name"] == "fetch-program"
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "aws-credentials"}}]
    script = monitor.one(CONFIG_MAP).inputs["data"]["entrypoint.sh"]
    assert "program_dir=/workspace/src/infra" in script and "pulumi stack select acme/infra/prod" in script


def test_a_mutable_image_tag_is_a_warning_at_preview(monitor, caplog):
    import logging

    @pulumi.runtime.test
    def program():
        return OidcLoginJob("tagged", organization="acme", image="pulumi/pulumi:3.271.0").urn

    with caplog.at_level(logging.WARNING):
        program()
    assert any("OIDC041 warning" in r.getMessage() for r in caplog.records)
