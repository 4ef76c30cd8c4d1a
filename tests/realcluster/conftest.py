"""Real-cluster tests: real kube-apiserver, etcd and kube-controller-manager (`make k8s`) on loopback, no kubelet.

One API server per test run, shared by the pytest-xdist workers through a file lock
(``harness.kube_cluster.SharedCluster``); it is stopped by the process that started it once
nobody uses it, also when a test failed. Without the binaries the tests skip with the reason;
with OIDC_TRUST_REQUIRE_CLUSTER=1 (set by .ci/run) that skip is a failure instead.

Manifests are applied with server-side apply through the official Python client
(``Kube.apply``), which also returns the API server's ``Warning`` headers.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes import client as k8s_client
from kubernetes.dynamic import DynamicClient
from pulumi.runtime import settings as runtime_settings

from harness.dynamic_host import DynamicProviderHost, Resource, rpc
from harness.kube_cluster import ClusterInfo, KubeTools, SharedCluster, find_kube_tools
from pulumi_oidc_trust.components.runner_manifests import manifests_for
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider
from tests.realcli.conftest import pulumi_cli  # noqa: F401 (the whole-flow test needs the real CLI too)
from tests.required_tools import required_tool
from tests.test_trust import ISSUER, POLICY, build

FIELD_MANAGER = "oidc-trust-tests"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
STARTUP_PROPERTY = "k8s_startup_seconds"


@pytest.fixture(scope="session")
def kube_tools() -> KubeTools:
    return required_tool(*find_kube_tools(), "OIDC_TRUST_REQUIRE_CLUSTER")


@pytest.fixture(scope="session")
def cluster(kube_tools, tmp_path_factory, worker_id) -> ClusterInfo:
    """The run's one API server (started by the first worker that asks)."""
    base = tmp_path_factory.getbasetemp()
    # Workers of one run share the parent of their base temp dirs; a run without xdist owns its own.
    shared = SharedCluster(kube_tools, (base if worker_id == "master" else base.parent) / "k8s")
    with shared.held() as info:
        yield info


@pytest.fixture(autouse=True)
def _record_startup(request):
    """Every report of a real-cluster test carries the API server's start-up time (see
    tests/conftest.py, which prints it in the summary)."""
    if "cluster" in request.fixturenames:
        info = request.getfixturevalue("cluster")
        request.node.user_properties.append((STARTUP_PROPERTY, f"{info.version} {info.startup_seconds}"))


class Kube:
    """The official client, configured for one user of the cluster, plus the few calls the tests make."""

    def __init__(self, info: ClusterInfo, token: str, cache_file: str):
        config = k8s_client.Configuration(host=info.server)
        config.ssl_ca_cert = info.ca_path
        config.api_key = {"BearerToken": token}
        config.api_key_prefix = {"BearerToken": "Bearer"}
        self.api = k8s_client.ApiClient(config)
        self.core = k8s_client.CoreV1Api(self.api)
        self.batch = k8s_client.BatchV1Api(self.api)
        self.kubeconfig_path = info.kubeconfig
        self.dynamic = DynamicClient(self.api, cache_file=cache_file)

    def close(self) -> None:
        self.api.close()

    def apply(self, manifest: Mapping[str, Any], *, dry_run: bool = False) -> tuple[dict[str, Any], list[str]]:
        """Server-side apply (force, our field manager): (the object the server returned, its Warning headers)."""
        resource = self.dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        response = self.dynamic.server_side_apply(
            resource, body=dict(manifest), field_manager=FIELD_MANAGER, force_conflicts=True,
            dry_run="All" if dry_run else None, serialize=False,
        )  # fmt: skip
        return json.loads(response.data), list(response.headers.getlist("Warning"))

    def namespace(self, prefix: str, labels: Mapping[str, str] = RESTRICTED) -> str:
        """A fresh namespace (left for the cluster's end: the cluster is the test run's own)."""
        name = f"{prefix}-{secrets.token_hex(3)}"
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels)}})
        return name

    def pod_from_template(self, job: Mapping[str, Any], name: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Create the Pod the Job controller would create from ``job``'s template (it stays
        Pending: there is no scheduler or kubelet). Returns the Pod as the server stored it."""
        template = job["spec"]["template"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**template.get("metadata", {}), "name": name, "namespace": job["metadata"]["namespace"]},
            "spec": template["spec"],
        }
        resource = self.dynamic.resources.get(api_version="v1", kind="Pod")
        created = self.dynamic.create(resource, body=pod, namespace=pod["metadata"]["namespace"],
                                      dry_run="All" if dry_run else None, field_manager=FIELD_MANAGER)
        return created.to_dict()

    def token_for(self, namespace: str, service_account: str, *, audience: str, expiration_seconds: int,
                  pod: Mapping[str, Any] | None = None) -> str:
        """The TokenRequest API, as the kubelet calls it for a projected token (bound to ``pod``)."""
        bound = None
        if pod is not None:
            bound = k8s_client.V1BoundObjectReference(
                api_version="v1", kind="Pod", name=pod["metadata"]["name"], uid=pod["metadata"]["uid"]
            )
        request = k8s_client.AuthenticationV1TokenRequest(
            spec=k8s_client.V1TokenRequestSpec(
                audiences=[audience], expiration_seconds=expiration_seconds, bound_object_ref=bound
            )
        )
        answer = self.core.create_namespaced_service_account_token(service_account, namespace, request)
        return answer.status.token


@pytest.fixture(scope="session")
def kube(cluster, tmp_path_factory) -> Kube:
    """The cluster as its admin (a static token in ``system:masters``)."""
    handle = Kube(cluster, cluster.admin_token, str(tmp_path_factory.mktemp("kube") / "discovery.json"))
    yield handle
    handle.close()


# -- the runner in the cluster, and trust provisioned in the emulator ------------------------

ISSUER_TYPE = "dynamic/oidc:OidcIssuer"
POLICY_TYPE = "dynamic/oidc:OidcIssuerPolicy"


def projected_source(job: Mapping[str, Any]) -> dict[str, Any]:
    """The Job's projected service-account token source (audience, expirationSeconds, path)."""
    (volume,) = [v for v in job["spec"]["template"]["spec"]["volumes"] if "projected" in v]
    (source,) = volume["projected"]["sources"]
    return source["serviceAccountToken"]


def start_runner(kube: Kube, spec) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply the runner's manifests and create one Pod from the stored Job's template: (job, pod)."""
    for manifest in manifests_for(spec):
        stored, _ = kube.apply(manifest)
    pod = kube.pod_from_template(stored, f"{spec.names.job_name}-pod")
    return stored, pod


def pod_token(kube: Kube, spec, job: Mapping[str, Any], pod: Mapping[str, Any]) -> str:
    """The token the kubelet would project into ``pod``: the Job's audience and lifetime, bound to the pod."""
    source = projected_source(job)
    return kube.token_for(spec.names.namespace, spec.names.service_account_name, audience=source["audience"],
                          expiration_seconds=source["expirationSeconds"], pod=pod)  # fmt: skip


def trust_inputs(**kwargs: Any):
    """(issuer inputs, policy inputs, the OidcTrust) as ``OidcTrust(**kwargs)`` registers them (under mocks)."""
    try:
        trust, monitor = build(**kwargs)
    finally:
        runtime_settings.ROOT.set(None)
    strip = lambda inputs: {k: v for k, v in inputs.items() if k != "__provider"}  # noqa: E731
    return strip(monitor.one(ISSUER).inputs), strip(monitor.one(POLICY).inputs), trust


def provision(emulator, issuer_inputs: Mapping[str, Any], policy_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Create the issuer, then its policy, through the SDK's dynamic-provider host (as `pulumi up` would)."""
    config = {"oidc:apiUrl": emulator.base_url, "oidc:accessToken": rpc.wrap_rpc_secret(emulator.access_token)}
    with DynamicProviderHost(config) as host:
        issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "cluster")
        outs = issuer.create(dict(issuer_inputs))
        policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "cluster-policy")
        policy.create({**policy_inputs, "issuer_id": outs["issuer_id"]})
    return outs
