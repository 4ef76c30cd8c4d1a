"""The runner's manifests through a real API server's admission, in a namespace that enforces
(and warns about) Pod Security "restricted".

Pod Security `enforce` applies to Pods only, never to a Job: with no controller manager no Pod
is made from the Job, so the Job is checked through the `warn` mode (no `Warning:` header) and
a Pod built from its template is checked with a server-side dry-run.
"""

from __future__ import annotations

import copy
import json

import pytest
from kubernetes.dynamic.exceptions import ForbiddenError

from pulumi_oidc_trust.components.runner_manifests import manifests_for, runner_spec

from .conftest import RESTRICTED


def _contains(stored, sent, path="") -> list[str]:
    """Where ``stored`` lost or changed what ``sent`` asked for (server defaults may be added)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [f"{path}: {stored!r} is not an object"]
        return [p for key, value in sent.items() for p in
                ([f"{path}.{key}: missing"] if key not in stored else _contains(stored[key], value, f"{path}.{key}"))]  # fmt: skip
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [f"{path}: {stored!r} differs from {sent!r}"]
        return [p for i, (a, b) in enumerate(zip(stored, sent)) for p in _contains(a, b, f"{path}[{i}]")]
    return [] if stored == sent else [f"{path}: {stored!r} instead of {sent!r}"]


@pytest.fixture
def namespace(kube):
    return kube.namespace("runner")


@pytest.mark.parametrize("case", ["team", "user-with-env", "organization-named-sa"])
def test_the_runner_is_admitted_under_restricted_without_a_warning_and_stored_as_sent(kube, namespace, case):
    args = {
        "team": dict(team="platform", expiration="15m"),
        "user-with-env": dict(user="alice", env={"AWS_REGION": "eu-west-1"}, token_expiration_seconds=600),
        "organization-named-sa": dict(service_account_name="deployer"),
    }[case]
    spec = runner_spec("pulumi-login", organization="acme", namespace=namespace, **args)
    if not spec.create_service_account:  # a named service account must exist already
        kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": namespace}})
    for manifest in manifests_for(spec):
        stored, warnings = kube.apply(manifest)
        assert warnings == [], (manifest["kind"], warnings)
        assert _contains(stored, manifest) == [], manifest["kind"]
        if manifest["kind"] == "Job":
            job = stored
    # What enforce checks: the Pod the Job controller would create from the stored template.
    pod = kube.pod_from_template(job, "pulumi-login-dry-run", dry_run=True)
    assert pod["spec"]["serviceAccountName"] == spec.names.service_account_name
    assert pod["metadata"]["namespace"] == namespace


def _weaken(pod: dict, how: str) -> None:
    """Break one rule of "restricted" in a PodSpec."""
    containers = pod["containers"]
    if how == "privilege escalation":
        containers[0]["securityContext"]["allowPrivilegeEscalation"] = True
    elif how == "root allowed":
        pod["securityContext"].pop("runAsNonRoot")
        for container in containers:
            container["securityContext"].pop("runAsNonRoot")
    elif how == "capabilities kept":
        containers[0]["securityContext"].pop("capabilities")
    elif how == "hostPath volume":
        pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    elif how == "no seccomp":
        pod["securityContext"].pop("seccompProfile")
        for container in containers:
            container["securityContext"].pop("seccompProfile")
    else:
        raise AssertionError(how)


WEAKENINGS = ["privilege escalation", "root allowed", "capabilities kept", "hostPath volume", "no seccomp"]


@pytest.mark.parametrize("weakening", WEAKENINGS)
def test_a_weakened_template_is_refused_as_a_pod_and_warned_about_as_a_job(kube, namespace, weakening):
    spec = runner_spec("weak", organization="acme", namespace=namespace, team="platform")
    for manifest in manifests_for(spec):
        if manifest["kind"] != "Job":
            kube.apply(manifest)
    job = copy.deepcopy(manifests_for(spec)[-1])
    _weaken(job["spec"]["template"]["spec"], weakening)

    with pytest.raises(ForbiddenError) as refused:
        kube.pod_from_template(job, "weak-dry-run", dry_run=True)
    message = json.loads(refused.value.body)["message"]
    assert 'is forbidden: violates PodSecurity "restricted:latest"' in message, message

    # enforce does not apply to Jobs: admitted, but `warn` says what the pods would violate.
    stored, warnings = kube.apply(job, dry_run=True)
    assert stored["kind"] == "Job"
    assert warnings and all("would violate PodSecurity" in w and "restricted:latest" in w for w in warnings), warnings


def test_the_namespace_labels_are_what_the_checks_rely_on(kube, namespace):
    stored = kube.core.read_namespace(namespace).metadata.labels
    assert {k: stored[k] for k in RESTRICTED} == RESTRICTED
