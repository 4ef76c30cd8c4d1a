"""Adopting what the service already holds writes nothing: ``OidcIssuer(adopt=True)`` and
``OidcIssuerPolicy(adopt=True)`` creates send no PATCH when the service's state is the one
declared (what ``oidc-trust import`` relies on: the first ``pulumi up`` changes nothing), and
still send one when it differs. Driven through the SDK's dynamic-provider host, against the
emulator; its request counts are the log of writes."""

from __future__ import annotations

from harness.dynamic_host import Resource, changes
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider

ISSUER_TYPE = "dynamic/oidc:OidcIssuer"
POLICY_TYPE = "dynamic/oidc:OidcIssuerPolicy"
ISSUER_PATCH = "PATCH /api/orgs/{orgName}/oidc/issuers/{issuerId}"
POLICY_PATCH = "PATCH /api/orgs/{orgName}/auth/policies/{policyId}"


def writes(emulator) -> dict[str, int]:
    return {k: n for k, n in emulator.stats()["counts"].items() if not k.startswith("GET ")}


def console_policies(org: str) -> list[dict]:
    return [{"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
             "rules": {"aud": f"urn:pulumi:org:{org}", "sub": "system:serviceaccount:pulumi:deploy"}}]


def test_adopting_an_identical_issuer_and_document_sends_no_write(emulator, host, cloud, org):
    existing = cloud.register_issuer(org, {"name": "from-the-console", "url": emulator.test_issuer_url, "maxExpiration": 3600})
    current = cloud.update_auth_policy(org, cloud.get_auth_policy(org, existing["id"])["id"], console_policies(org))
    emulator.reset_stats()

    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "adopted")
    props = {"organization": org, "url": emulator.test_issuer_url, "name": "from-the-console",
             "max_expiration_seconds": 3600, "adopt": True}
    outs = issuer.create(props)
    policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "adopted-policies")
    pprops = {"organization": org, "issuer_id": existing["id"], "issuer_url": emulator.test_issuer_url,
              "policies": console_policies(org), "adopt": True}
    pouts = policy.create(pprops)

    assert writes(emulator) == {}
    assert outs["issuer_id"] == existing["id"] and outs["modified"] == existing["modified"]
    assert pouts["version"] == current["version"] == cloud.get_auth_policy(org, existing["id"])["version"]
    assert changes(issuer.diff(props)) == "DIFF_NONE" and changes(policy.diff(pprops)) == "DIFF_NONE"


def test_adopting_a_different_issuer_or_document_still_writes_it(emulator, host, cloud, org):
    existing = cloud.register_issuer(org, {"name": "from-the-console", "url": emulator.test_issuer_url, "maxExpiration": 3600})
    emulator.reset_stats()

    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "adopted")
    issuer.create({"organization": org, "url": emulator.test_issuer_url, "name": "renamed",
                   "max_expiration_seconds": 3600, "adopt": True})
    policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "adopted-policies")
    policy.create({"organization": org, "issuer_id": existing["id"], "policies": console_policies(org), "adopt": True})

    assert writes(emulator) == {ISSUER_PATCH: 1, POLICY_PATCH: 1}
    assert cloud.get_issuer(org, existing["id"])["name"] == "renamed"
    assert cloud.get_auth_policy(org, existing["id"])["policies"] == console_policies(org)
