"""Pulumi Cloud (the emulator) trusting the real API server as an OIDC issuer, both ways a
cluster can be trusted:

- public cluster: the emulator fetches the API server's own discovery document and JWKS over
  https (anonymously, with the cluster's CA), as Pulumi Cloud does for EKS/GKE/AKS issuers;
- private cluster: the emulator cannot reach (or trust) the API server, so the key set is
  exported from the cluster (`kubectl get --raw /openid/v1/jwks`) and uploaded with the issuer
  (``OidcIssuer(jwks=...)``); no discovery request is made.

The issuer and its policy are provisioned through the SDK's dynamic-provider host with the
inputs ``OidcTrust``/``OidcIssuer`` register; the token is the one a pod of the runner's Job
gets from the TokenRequest API.
"""

from __future__ import annotations

import json

import pytest

from harness.kube_cluster import anonymous_get
from pulumi_oidc_trust.components import OidcLoginJobArgs
from pulumi_oidc_trust.components.presets import login_job
from pulumi_oidc_trust.components.runner_manifests import runner_spec
from pulumi_oidc_trust.provider.client import PulumiCloudClient, PulumiCloudError
from tests.conftest import InProcessEmulator

from .conftest import pod_token, provision, start_runner, trust_inputs

ORG = "acme"


def exchange(emulator, token: str, team: str = "platform") -> dict:
    with PulumiCloudClient(emulator.base_url) as client:
        return client.exchange_token(organization=ORG, subject_token=token, token_type="team", scope=f"team:{team}")


def whoami(emulator, access_token: str) -> dict:
    with PulumiCloudClient(emulator.base_url, access_token) as client:
        return client.current_user()


@pytest.fixture
def public_cloud(cluster, access_token, test_issuer_key):
    """The emulator as Pulumi Cloud, trusting the cluster's CA (the CA of a public cluster's issuer)."""
    handle = InProcessEmulator(access_token, test_issuer_key=test_issuer_key, issuer_ca=cluster.ca_path)
    yield handle
    handle.stop()


@pytest.fixture
def private_cloud(access_token, test_issuer_key):
    """The emulator without the cluster's CA: any fetch from the API server fails TLS."""
    handle = InProcessEmulator(access_token, test_issuer_key=test_issuer_key)
    yield handle
    handle.stop()


def test_the_api_server_publishes_its_issuer_anonymously(cluster):
    status, headers, body = anonymous_get(cluster, "/.well-known/openid-configuration")
    assert status == 200, body
    discovery = json.loads(body)
    assert discovery["issuer"] == cluster.issuer
    assert discovery["jwks_uri"] == f"{cluster.issuer}/openid/v1/jwks"
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    status, headers, body = anonymous_get(cluster, "/openid/v1/jwks")
    assert status == 200 and headers["Content-Type"] == "application/jwk-set+json", (status, headers)
    assert [k["kty"] for k in json.loads(body)["keys"]] == ["RSA"]
    # Anonymous callers get the issuer endpoints and nothing else.
    assert anonymous_get(cluster, "/api/v1/namespaces")[0] == 403


def test_public_cluster_the_trust_built_by_oidctrust_admits_the_runners_real_token(kube, cluster, public_cloud):
    namespace = kube.namespace("public")
    issuer_inputs, policy_inputs, trust = trust_inputs(
        organization=ORG, issuer_url=cluster.issuer, policies=[],
        runner=OidcLoginJobArgs("pulumi-login", namespace=namespace, team="platform"),
    )  # fmt: skip
    assert "jwks" not in issuer_inputs or issuer_inputs["jwks"] is None
    provision(public_cloud, issuer_inputs, policy_inputs)

    spec = trust.runner.spec
    job, pod = start_runner(kube, spec)
    answer = exchange(public_cloud, pod_token(kube, spec, job, pod))
    assert answer["access_token"].startswith("pul-")
    assert whoami(public_cloud, answer["access_token"])["tokenInfo"]["team"] == "platform"
    # The keys came from the API server itself (discovery document, then its jwks_uri).
    assert public_cloud.app.keys.fetches == 1

    # Another service account of the same namespace, same audience: not admitted.
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "intruder", "namespace": namespace}})
    other = kube.token_for(namespace, "intruder", audience=spec.names.audience, expiration_seconds=3600)
    with pytest.raises(PulumiCloudError) as refused:
        exchange(public_cloud, other)
    assert refused.value.status in (400, 401, 403)


def test_private_cluster_an_uploaded_jwks_admits_the_token_without_any_discovery(kube, cluster, private_cloud):
    namespace = kube.namespace("private")
    # How a user exports the key set of a cluster nobody outside can reach:
    #   kubectl get --raw /openid/v1/jwks > jwks.json
    jwks = json.loads(kube.api.call_api(*kube.api.param_serialize(
        "GET", "/openid/v1/jwks", header_params={"Accept": "application/jwk-set+json"}, auth_settings=["BearerToken"],
    )).read())  # fmt: skip
    spec = runner_spec("pulumi-login", organization=ORG, namespace=namespace, team="platform")
    issuer_inputs = {"organization": ORG, "url": cluster.issuer, "name": "private-cluster", "jwks": jwks}
    policy_inputs = {"organization": ORG, "issuer_url": cluster.issuer,
                     "policies": [p.to_python() for p in login_job(spec)]}  # fmt: skip
    provision(private_cloud, issuer_inputs, policy_inputs)

    job, pod = start_runner(kube, spec)
    token = pod_token(kube, spec, job, pod)
    answer = exchange(private_cloud, token)
    assert whoami(private_cloud, answer["access_token"])["tokenInfo"]["team"] == "platform"
    assert private_cloud.app.keys.fetches == 0  # no discovery document, no JWKS fetched

    # The control: the same issuer registered without the key set would have to be fetched, and fails TLS.
    issuer = private_cloud.register_issuer("globex", url=cluster.issuer, name="no-jwks")
    globex = runner_spec("pulumi-login", organization="globex", namespace=namespace, team="platform")
    private_cloud.set_policies(issuer["id"], [p.to_wire() for p in login_job(globex)], "globex")
    globex_token = kube.token_for(namespace, "pulumi-login", audience="urn:pulumi:org:globex", expiration_seconds=3600)
    refused = private_cloud.exchange(globex_token, "globex", token_type="team", scope="team:platform")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    # The caller gets a generic reason; the emulator keeps the real one (no port-scan oracle).
    assert "TLS certificate not trusted" in private_cloud.app.keys.last_failure
    assert private_cloud.app.keys.fetches == 1
