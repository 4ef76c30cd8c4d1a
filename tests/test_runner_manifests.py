"""The runner's manifests as plain data: schema-valid, Pod Security "restricted", and what each
argument promises; bad arguments are refused with a message naming them."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pulumi_oidc_trust.components.runner_manifests import (
    DEFAULT_IMAGE,
    MAX_EXPIRATION_SECONDS,
    go_duration,
    manifests_to_yaml,
    parse_duration,
    render_manifests,
    runner_names,
)
from tests.k8s_helpers import CASES, HOSTILE, K8S_VERSION, ROLE_ARN, pod_security_violations

STANDARD_LABELS = {
    "app.kubernetes.io/name": "pulumi-oidc-login",
    "app.kubernetes.io/instance": "runner",
    "app.kubernetes.io/component": "runner",
    "app.kubernetes.io/managed-by": "pulumi",
}


def render(case_or_kwargs: str | dict, name: str = "runner") -> dict[str, dict]:
    kwargs = CASES[case_or_kwargs] if isinstance(case_or_kwargs, str) else case_or_kwargs
    return {m["kind"]: m for m in render_manifests(name, **kwargs)}


def pod_spec(manifests: dict[str, dict]) -> dict:
    return manifests["Job"]["spec"]["template"]["spec"]


def container(manifests: dict[str, dict]) -> dict:
    (only,) = pod_spec(manifests)["containers"]
    return only


def script(manifests: dict[str, dict]) -> str:
    return manifests["ConfigMap"]["data"]["entrypoint.sh"]


def volumes(manifests: dict[str, dict]) -> dict[str, dict]:
    return {v["name"]: v for v in pod_spec(manifests)["volumes"]}


def mounts(manifests: dict[str, dict]) -> dict[str, dict]:
    return {m["mountPath"]: m for m in container(manifests)["volumeMounts"]}


# --------------------------------------------------------------------------------------------
# Every case: schema, Pod Security, labels


@pytest.mark.parametrize("case", CASES)
def test_every_manifest_validates_strictly_against_the_newest_kubernetes_schema(case):
    for manifest in render_manifests("runner", **CASES[case]):
        validated = kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        assert validated == ".".join(K8S_VERSION.split(".")[:2])


def test_schema_validation_would_catch_a_misspelt_field():
    job = render("default")["Job"]
    broken = copy.deepcopy(job)
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFs"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


@pytest.mark.parametrize("case", CASES)
def test_job_pod_meets_pod_security_restricted(case):
    assert pod_security_violations(pod_spec(render(case))) == []


@pytest.mark.parametrize(
    "path, value",
    [
        (("securityContext", "runAsUser"), 0),
        (("containers", 0, "securityContext", "privileged"), True),
        (("containers", 0, "securityContext", "allowPrivilegeEscalation"), True),
        (("containers", 0, "securityContext", "capabilities"), {"add": ["SYS_ADMIN"]}),
        (("containers", 0, "securityContext", "seccompProfile"), {"type": "Unconfined"}),
        (("containers", 0, "securityContext", "readOnlyRootFilesystem"), False),
        (("hostNetwork",), True),
        (("volumes", 1), {"name": "home", "hostPath": {"path": "/"}}),
        (("automountServiceAccountToken",), True),
    ],
)
def test_pod_security_checker_reports_each_broken_rule(path, value):
    spec = copy.deepcopy(pod_spec(render("default")))
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert pod_security_violations(spec) != []


@pytest.mark.parametrize("case", CASES)
def test_every_object_and_the_pod_carry_the_standard_labels(case):
    manifests = render(case)
    extra = CASES[case].get("labels", {})
    for manifest in manifests.values():
        assert manifest["metadata"]["labels"] == {**extra, **STANDARD_LABELS}
    assert manifests["Job"]["spec"]["template"]["metadata"]["labels"] == {**extra, **STANDARD_LABELS}


@pytest.mark.parametrize("case", CASES)
def test_yaml_round_trip_gives_back_the_same_manifests(case):
    manifests = render_manifests("runner", **CASES[case])
    text = manifests_to_yaml(manifests)
    assert list(yaml.safe_load_all(text)) == manifests


def test_yaml_shows_the_script_as_a_readable_block():
    text = manifests_to_yaml(render_manifests("runner", organization="acme"))
    assert "entrypoint.sh: |\n    #!/bin/bash\n" in text
    assert text.count("\n---\n") == 2


# --------------------------------------------------------------------------------------------
# Names and token sources


def test_names_derive_from_the_resource_name_and_the_subject_from_namespace_and_account():
    names = runner_names("deploy", organization="acme", namespace="infra")
    assert (names.job_name, names.config_map_name, names.service_account_name) == (
        "deploy",
        "deploy-entrypoint",
        "deploy",
    )
    assert names.subject == "system:serviceaccount:infra:deploy"
    assert names.audience == "urn:pulumi:org:acme"
    manifests = render({"organization": "acme", "namespace": "infra"}, name="deploy")
    assert {m["metadata"]["name"] for m in manifests.values()} == {"deploy", "deploy-entrypoint"}
    assert {m["metadata"]["namespace"] for m in manifests.values()} == {"infra"}
    assert pod_spec(manifests)["serviceAccountName"] == "deploy"


def test_default_token_is_a_projected_token_for_pulumi_mounted_read_only():
    manifests = render("default")
    (source,) = volumes(manifests)["pulumi-oidc-token"]["projected"]["sources"]
    assert source == {
        "serviceAccountToken": {"audience": "urn:pulumi:org:acme", "expirationSeconds": 3600, "path": "token"}
    }
    mount = mounts(manifests)["/var/run/secrets/pulumi"]
    assert mount == {"name": "pulumi-oidc-token", "mountPath": "/var/run/secrets/pulumi", "readOnly": True}
    assert "token_file=/var/run/secrets/pulumi/token\n" in script(manifests)
    assert '--oidc-token "file://${token_file}"' in script(manifests)


def test_token_audience_overrides_the_projected_audience():
    manifests = render({"organization": "acme", "token_audience": "pulumi-prod", "token_expiration_seconds": 900})
    token = volumes(manifests)["pulumi-oidc-token"]["projected"]["sources"][0]["serviceAccountToken"]
    assert (token["audience"], token["expirationSeconds"]) == ("pulumi-prod", 900)
    assert runner_names("runner", organization="acme", token_audience="pulumi-prod").audience == "pulumi-prod"


def test_eks_token_uses_the_webhook_path_and_audience_and_annotates_the_account():
    manifests = render("eks")
    assert "pulumi-oidc-token" not in volumes(manifests)
    assert "token_file=/var/run/secrets/eks.amazonaws.com/serviceaccount/token\n" in script(manifests)
    assert manifests["ServiceAccount"]["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert runner_names("runner", **CASES["eks"]).audience == "sts.amazonaws.com"


def test_eks_audience_follows_the_audience_annotation():
    annotations = {"eks.amazonaws.com/role-arn": ROLE_ARN, "eks.amazonaws.com/audience": "urn:pulumi:org:acme"}
    names = runner_names("runner", organization="acme", token="eks", service_account_annotations=annotations)
    assert names.audience == "urn:pulumi:org:acme"


def test_eks_with_a_named_account_trusts_the_caller_for_the_audience():
    names = runner_names("runner", organization="acme", token="eks", service_account_name="irsa")
    assert names.audience == "sts.amazonaws.com"
    assert "ServiceAccount" not in render({"organization": "acme", "token": "eks", "service_account_name": "irsa"})


def test_token_file_is_used_as_given_without_a_projected_volume():
    manifests = render("token-file")
    assert "pulumi-oidc-token" not in volumes(manifests)
    assert "token_file=/var/run/secrets/tokens/pulumi\n" in script(manifests)
    assert runner_names("runner", **CASES["token-file"]).audience == "pulumi"
    default_audience = runner_names("runner", organization="acme", token="/run/token").audience
    assert default_audience == "urn:pulumi:org:acme"


def test_named_service_account_is_used_and_not_created():
    manifests = render("named-service-account")
    assert set(manifests) == {"ConfigMap", "Job"}
    assert pod_spec(manifests)["serviceAccountName"] == "deployer"
    assert runner_names("runner", **CASES["named-service-account"]).subject == "system:serviceaccount:infra:deployer"


def test_created_service_account_does_not_automount_an_api_token():
    assert render("default")["ServiceAccount"]["automountServiceAccountToken"] is False


# --------------------------------------------------------------------------------------------
# The pod


def test_pod_runs_the_configmap_script_as_a_fixed_non_root_user():
    manifests = render("default")
    assert volumes(manifests)["entrypoint"]["configMap"] == {"name": "runner-entrypoint", "defaultMode": 0o555}
    assert mounts(manifests)["/opt/oidc-login"]["readOnly"] is True
    assert container(manifests)["command"] == ["/bin/bash", "/opt/oidc-login/entrypoint.sh"]
    security = pod_spec(manifests)["securityContext"]
    assert security["runAsUser"] == security["runAsGroup"] == security["fsGroup"] == 10001


def test_home_and_tmp_are_writable_emptydirs_and_the_cli_writes_under_home():
    manifests = render("default")
    env = {e["name"]: e["value"] for e in container(manifests)["env"]}
    assert env["HOME"] == "/home/pulumi"
    assert env["PULUMI_HOME"].startswith(env["HOME"] + "/")
    for path in (env["HOME"], "/tmp"):
        assert "emptyDir" in volumes(manifests)[mounts(manifests)[path]["name"]]
        assert not mounts(manifests)[path].get("readOnly")


def test_extra_env_is_added_and_may_override_the_defaults():
    manifests = render({"organization": "acme", "env": {"AWS_REGION": "eu-west-1", "PULUMI_SKIP_UPDATE_CHECK": "0"}})
    env = [(e["name"], e["value"]) for e in container(manifests)["env"]]
    assert ("AWS_REGION", "eu-west-1") in env
    assert ("PULUMI_SKIP_UPDATE_CHECK", "0") in env
    assert len(env) == len(dict(env)), "no variable is listed twice"


def test_default_image_is_a_pinned_pulumi_release():
    image = container(render("default"))["image"]
    assert image == DEFAULT_IMAGE
    name, _, tag = image.rpartition(":")
    assert name == "pulumi/pulumi" and tag[0].isdigit() and tag != "latest"


def test_default_resources_have_requests_and_limits_and_can_be_replaced():
    assert set(container(render("default"))["resources"]) == {"requests", "limits"}
    assert container(render("tuned"))["resources"] == CASES["tuned"]["resources"]


def test_job_defaults_run_once_within_a_deadline_and_are_awaited_long_enough():
    job = render("default")["Job"]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 900
    assert "ttlSecondsAfterFinished" not in job["spec"]
    annotations = job["metadata"]["annotations"]
    assert "pulumi.com/skipAwait" not in annotations
    assert int(annotations["pulumi.com/timeoutSeconds"]) > job["spec"]["activeDeadlineSeconds"]
    assert annotations["pulumi.com/replaceUnready"] == "true", "a failed Job runs again on the next up"


def test_without_a_deadline_pulumi_keeps_its_default_await_timeout():
    job = render({"organization": "acme", "active_deadline_seconds": None})["Job"]
    assert "activeDeadlineSeconds" not in job["spec"]
    assert job["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}


def test_tuned_job_fields_and_skip_await():
    job = render("tuned")["Job"]
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (1, 1800)
    assert job["spec"]["ttlSecondsAfterFinished"] == 300
    # Not awaited, deletes included: Background, or a replacement would meet the terminating Job.
    assert job["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true",
                                              "pulumi.com/deletionPropagationPolicy": "background"}


@pytest.mark.parametrize("case", ["default", "git-ssh"])
def test_a_failed_container_leaves_its_last_log_lines_in_the_pod_status(case):
    # pulumi-kubernetes reports a failed Job's pods from their status; without this policy a
    # container that writes no /dev/termination-log (bash, git) leaves an empty message there.
    pod = pod_spec(render(case))
    for each in pod["containers"] + pod.get("initContainers", []):
        assert each["terminationMessagePolicy"] == "FallbackToLogsOnError", each["name"]
    assert len(pod["containers"] + pod.get("initContainers", [])) == (2 if case == "git-ssh" else 1)


def test_changing_the_script_changes_the_pod_template_so_the_job_runs_again():
    def template(**kwargs):
        return render({"organization": "acme", **kwargs})["Job"]["spec"]["template"]

    assert template() == template(), "rendering is deterministic"
    assert template() != template(commands=["pulumi up --yes"])
    assert template() != template(team="platform")


# --------------------------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    "value, seconds",
    [("15m", 900), ("2h", 7200), ("1h30m", 5400), ("90s", 90), ("25h", 90000), (3600, 3600), (" 2h ", 7200)],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@given(st.integers(0, 25), st.integers(0, 59), st.integers(0, 59))
def test_parse_duration_reads_hours_minutes_seconds(h, m, s):
    total = h * 3600 + m * 60 + s
    if 0 < total <= MAX_EXPIRATION_SECONDS:
        assert parse_duration(f"{h}h{m}m{s}s") == total
    else:
        with pytest.raises(ValueError, match="^expiration: "):
            parse_duration(f"{h}h{m}m{s}s")


def test_expiration_reaches_the_cli_as_a_go_duration():
    assert go_duration(5400) == "5400s"
    assert "--oidc-expiration 7200s" in script(render("team"))
    assert "--oidc-expiration" not in script(render("default"))


# --------------------------------------------------------------------------------------------
# Bad arguments

BAD_ARGUMENTS = [
    ({"team": "a", "user": "b"}, "team", "at most one"),
    ({"organization": ""}, "organization", "empty"),
    ({"organization": "   "}, "organization", "empty"),
    ({"expiration": "30h"}, "expiration", "more than the 25 h.*at most '25h'"),
    ({"expiration": 90001}, "expiration", "25h"),
    ({"expiration": "2 hours"}, "expiration", "not a duration"),
    ({"expiration": "1.5s5"}, "expiration", "not a duration"),
    ({"expiration": 0}, "expiration", "positive"),
    ({"expiration": "0s"}, "expiration", "positive"),
    ({"expiration": True}, "expiration", "expected seconds or a duration"),
    ({"token": "projectd"}, "token", "neither 'projected', 'eks' nor an absolute file path"),
    ({"token": "var/run/token"}, "token", "absolute"),
    ({"token": "/var/run/tokens/"}, "token", "directory"),
    ({"token": "eks"}, "token", "eks.amazonaws.com/role-arn"),
    ({"token": "eks", "service_account_annotations": {"eks.amazonaws.com/role-arn": "role"}},
     "service_account_annotations", "not an IAM role ARN"),
    ({"token": "eks", "token_audience": "urn:pulumi:org:acme",
      "service_account_annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}}, "token_audience", "differs"),
    ({"env": {"PULUMI_ACCESS_TOKEN": "pul-123"}}, "env", "PULUMI_ACCESS_TOKEN"),
    ({"env": {"A=B": "x"}}, "env", "not an environment variable name"),
    ({"env": {"PORT": 8080}}, "env", "string"),
    ({"namespace": "Infra"}, "namespace", "DNS-1123"),
    ({"namespace": "x" * 64}, "namespace", "63"),
    ({"service_account_name": "Deployer"}, "service_account_name", "DNS-1123"),
    ({"service_account_name": "deployer", "service_account_annotations": {"a": "b"}},
     "service_account_annotations", "only annotates a service account it creates"),
    ({"commands": []}, "commands", "empty"),
    ({"commands": "pulumi up"}, "commands", "list of shell lines"),
    ({"commands": ["pulumi whoami", ""]}, "commands", "empty"),
    ({"token_expiration_seconds": 599}, "token_expiration_seconds", "600"),
    ({"token_expiration_seconds": "3600"}, "token_expiration_seconds", "whole number"),
    ({"image": "pulumi/pulumi"}, "image", "not pinned"),
    ({"image": "pulumi/pulumi:latest"}, "image", "not pinned"),
    ({"image": "registry:5000/pulumi"}, "image", "not pinned"),
    ({"image": "pulumi/pulumi@sha256:abc"}, "image", "digest"),
    ({"api_url": "api.pulumi.com"}, "api_url", "https://api.pulumi.com"),
    ({"api_url": "--insecure"}, "api_url", "not an absolute URL"),
    ({"labels": {"app.kubernetes.io/name": "x"}}, "labels", "set by the component"),
    ({"labels": {"team": "a b"}}, "labels", "not a valid label value"),
    ({"labels": {"bad key!": "a"}}, "labels", "not a valid Kubernetes label"),
    ({"resources": {"requests": {"cpu": 1}}}, "resources.requests", "string"),
    ({"resources": {"cpu": "1"}}, "resources", "container resources"),
    ({"backoff_limit": -1}, "backoff_limit", "at least 0"),
    ({"active_deadline_seconds": 0}, "active_deadline_seconds", "at least 1"),
    ({"ttl_seconds_after_finished": -5}, "ttl_seconds_after_finished", "at least 0"),
    ({"skip_await": "yes"}, "skip_await", "bool"),
]  # fmt: skip


@pytest.mark.parametrize("overrides, argument, message", BAD_ARGUMENTS)
def test_bad_arguments_are_refused_naming_the_argument(overrides, argument, message):
    with pytest.raises(ValueError, match=f"^{argument}: ") as raised:
        render_manifests("runner", **{"organization": "acme", **overrides})
    assert raised.match(message)
    assert "; " in str(raised.value), "the message says how to fix it"


@pytest.mark.parametrize("name, fix", [("My_Runner", "my-runner"), ("a" * 60, "a" * 52), ("", None)])
def test_resource_names_that_are_not_dns_labels_are_refused_with_a_suggestion(name, fix):
    with pytest.raises(ValueError, match="^resource_name: ") as raised:
        render_manifests(name, organization="acme")
    if fix:
        assert f"'{fix}'" in str(raised.value)


def test_hostile_values_are_accepted_as_data():
    # Quoting, not refusal, is what keeps them harmless: see test_runner_script.py.
    names = runner_names("runner", **CASES["hostile-values"])
    assert names.audience == f"urn:pulumi:org:{HOSTILE}"
