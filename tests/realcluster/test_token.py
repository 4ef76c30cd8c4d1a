"""The token a pod of the runner's Job gets: the TokenRequest API, bound to a Pod created from the
Job's template (it stays Pending: no kubelet), with the audience and lifetime of the Job's
projected volume, exactly the call the kubelet makes. Its claims must be what the component's
outputs and the presets promise."""

from __future__ import annotations

import json

import jwt
import pulumi
import pytest
from kubernetes.client.exceptions import ApiException
from pulumi.runtime import settings as runtime_settings

from harness.kube_cluster import anonymous_get
from pulumi_oidc_trust.components import OidcLoginJob
from pulumi_oidc_trust.components.presets import Grant, kubernetes, login_job
from pulumi_oidc_trust.components.runner_manifests import runner_spec
from pulumi_oidc_trust.provider.policy import Request, evaluate
from tests.test_trust import install, resolve

from .conftest import pod_token, start_runner


def component_outputs(**kwargs) -> tuple[str, str]:
    """(subject, audience) as the OidcLoginJob component reports them."""
    install()
    built: list[OidcLoginJob] = []

    @pulumi.runtime.test
    def program():
        built.append(OidcLoginJob("pulumi-login", **kwargs))
        return built[0].urn

    try:
        program()
        return resolve(built[0].subject), resolve(built[0].audience)
    finally:
        runtime_settings.ROOT.set(None)


def verified_claims(cluster, token: str, audience: str) -> dict:
    """Verify the token with the key set the API server publishes anonymously."""
    status, headers, body = anonymous_get(cluster, "/openid/v1/jwks")
    assert status == 200, body
    jwks = jwt.PyJWKSet.from_dict(json.loads(body))
    kid = jwt.get_unverified_header(token)["kid"]
    (key,) = [k for k in jwks.keys if k.key_id == kid]
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=cluster.issuer)


def test_a_pod_of_the_job_gets_a_bound_token_with_the_claims_the_runner_promises(kube, cluster):
    namespace = kube.namespace("token")
    args = dict(organization="acme", namespace=namespace, team="platform", token_expiration_seconds=1800)
    spec = runner_spec("pulumi-login", **args)
    job, pod = start_runner(kube, spec)
    assert pod["status"]["phase"] == "Pending"
    token = pod_token(kube, spec, job, pod)

    subject, audience = component_outputs(**args)
    claims = verified_claims(cluster, token, audience)
    service_account = kube.core.read_namespaced_service_account(spec.names.service_account_name, namespace)
    assert claims["sub"] == subject == f"system:serviceaccount:{namespace}:pulumi-login"
    assert claims["aud"] == [audience] == ["urn:pulumi:org:acme"]
    assert claims["iss"] == cluster.issuer
    assert claims["exp"] - claims["iat"] == 1800
    assert claims["kubernetes.io"] == {
        "namespace": namespace,
        "serviceaccount": {"name": "pulumi-login", "uid": service_account.metadata.uid},
        "pod": {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
    }
    assert jwt.get_unverified_header(token)["alg"] == "RS256"

    team = Request("team", "platform")
    # The rule OidcTrust generates for this runner, and the hand-written preset, both admit it...
    assert evaluate(login_job(spec), claims, team).allowed
    pinned = kubernetes(namespace, "pulumi-login", organization="acme", grant=Grant.team("platform"),
                        service_account_uid=service_account.metadata.uid)  # fmt: skip
    assert evaluate(pinned, claims, team).allowed
    # ...and a rule on the pod claim path matches the real claim.
    by_pod = Grant.team("platform").allow({"aud": audience, '"kubernetes.io".pod.name': pod["metadata"]["name"]})
    assert evaluate([by_pod], claims, team).allowed
    # A recreated service account (another uid) is not the pinned one.
    other_uid = kubernetes(namespace, "pulumi-login", organization="acme", grant=Grant.team("platform"),
                           service_account_uid="00000000-0000-4000-8000-000000000000")  # fmt: skip
    assert not evaluate(other_uid, claims, team).allowed


def test_the_token_binding_is_checked_by_the_server(kube):
    namespace = kube.namespace("binding")
    spec = runner_spec("pulumi-login", organization="acme", namespace=namespace, team="platform")
    job, pod = start_runner(kube, spec)
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "other", "namespace": namespace}})
    # A pod runs as one service account: a token of another cannot be bound to it.
    with pytest.raises(ApiException) as refused:
        kube.token_for(namespace, "other", audience=spec.names.audience, expiration_seconds=3600, pod=pod)
    assert refused.value.status == 400 and "cannot bind token" in refused.value.body, refused.value.body
    # The kubelet's floor: projected tokens live at least ten minutes.
    with pytest.raises(ApiException) as short:
        kube.token_for(namespace, "pulumi-login", audience=spec.names.audience, expiration_seconds=599, pod=pod)
    assert short.value.status == 422 and "less than 10 minutes" in short.value.body, short.value.body
