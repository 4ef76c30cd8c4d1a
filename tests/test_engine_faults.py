"""Faults injected at the emulator while the engine drives the providers: every operation still
succeeds within its retry budget, nothing is registered twice, nothing is lost."""

from __future__ import annotations

import secrets

import pytest

from harness.dynamic_host import DynamicProviderHost, EngineError, Resource, changes, rpc
from pulumi_oidc_trust.provider.client import PulumiCloudClient
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider

ISSUER_TYPE = "dynamic/oidc:OidcIssuer"
POLICY_TYPE = "dynamic/oidc:OidcIssuerPolicy"

FAULTS = [
    {"status": 429, "when": "before"},
    {"status": 500, "when": "before"},
    {"status": 500, "when": "after"},
    {"status": 502, "when": "before"},
    {"status": 502, "when": "after"},
    {"status": 503, "when": "before"},
    {"status": 503, "when": "after"},
    {"status": "drop", "when": "before"},
    {"status": "drop", "when": "after"},
]


def host_for(emulator) -> DynamicProviderHost:
    return DynamicProviderHost(
        {"oidc:apiUrl": emulator.base_url, "oidc:accessToken": rpc.wrap_rpc_secret(emulator.access_token)}
    )


def policies_for(org: str, team: str) -> list[dict]:
    return [{"decision": "allow", "token_type": "team", "team_name": team,
             "rules": {"aud": f"urn:pulumi:org:{org}", "sub": "system:serviceaccount:pulumi:deployer"}}]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['status']}-{f['when']}")
def test_every_operation_survives_a_fault_on_its_first_request(emulator, fault):
    org = "org-" + secrets.token_hex(4)
    cloud = PulumiCloudClient(emulator.base_url, emulator.access_token)

    def faulted(operation):
        # The first API request of the operation (whatever it is) gets the fault.
        emulator.set_faults(retry_after=1, script=[{"path_regex": "^/api/", "count": 1, **fault}])
        result = operation()
        assert emulator.faults()["script"] == [], "the fault was not consumed"
        return result

    with host_for(emulator) as host:
        issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "issuer")
        iprops = {"organization": org, "url": emulator.test_issuer_url, "name": "issuer"}
        outs = faulted(lambda: issuer.create(iprops))
        policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "policy")
        pprops = {"organization": org, "issuer_id": outs["issuer_id"], "policies": policies_for(org, "a")}
        faulted(lambda: policy.create(pprops))
        faulted(issuer.read)
        faulted(policy.read)
        faulted(lambda: issuer.update({**iprops, "max_expiration_seconds": 1800}))
        faulted(lambda: policy.update({**pprops, "policies": policies_for(org, "b")}))

        assert [i["id"] for i in cloud.list_issuers(org)] == [outs["issuer_id"]], "a second issuer was registered"
        server = cloud.get_auth_policy(org, outs["issuer_id"])
        assert server["policies"][0]["teamName"] == "b"
        assert cloud.get_issuer(org, outs["issuer_id"])["maxExpiration"] == 1800

        faulted(policy.delete)
        assert cloud.get_auth_policy(org, outs["issuer_id"])["policies"][0]["decision"] == "deny"
        faulted(issuer.delete)
        assert cloud.list_issuers(org) == []


def test_the_next_run_takes_over_what_a_failed_create_left_behind(emulator):
    """A create whose POST was applied but whose every answer (lookups included) was lost fails;
    the service then holds an issuer with this resource's name that trusts nothing. The next
    `pulumi up` creates again and takes it over instead of refusing or registering a second."""
    org = "org-" + secrets.token_hex(4)
    cloud = PulumiCloudClient(emulator.base_url, emulator.access_token)
    left = cloud.register_issuer(org, {"name": "issuer", "url": emulator.test_issuer_url})
    with host_for(emulator) as host:
        issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "issuer")
        outs = issuer.create({"organization": org, "url": emulator.test_issuer_url, "name": "issuer"})
    assert outs["issuer_id"] == left["id"]
    assert [i["id"] for i in cloud.list_issuers(org)] == [left["id"]]


def test_an_issuer_that_already_trusts_someone_is_never_taken_over_silently(emulator):
    org = "org-" + secrets.token_hex(4)
    cloud = PulumiCloudClient(emulator.base_url, emulator.access_token)
    left = cloud.register_issuer(org, {"name": "issuer", "url": emulator.test_issuer_url})
    policy_id = cloud.get_auth_policy(org, left["id"])["id"]
    cloud.update_auth_policy(org, policy_id, [{"decision": "allow", "tokenType": "organization",
                                               "rules": {"sub": "someone"}}])
    with host_for(emulator) as host:
        issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "issuer")
        with pytest.raises(EngineError) as refused:
            issuer.create({"organization": org, "url": emulator.test_issuer_url, "name": "issuer"})
    assert "adopt=True" in refused.value.details
    assert cloud.get_auth_policy(org, left["id"])["policies"][0]["decision"] == "allow"


def test_an_emulator_restart_between_operations_converges(emulator):
    """With --state, a restart loses nothing: refresh reads the same objects, the diff is empty,
    and the next update applies."""
    org = "org-" + secrets.token_hex(4)
    with host_for(emulator) as host:
        issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "issuer")
        iprops = {"organization": org, "url": emulator.test_issuer_url, "name": "issuer"}
        outs = issuer.create(iprops)
        policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "policy")
        pprops = {"organization": org, "issuer_id": outs["issuer_id"], "policies": policies_for(org, "a")}
        before = policy.create(pprops)

        emulator.restart()

        assert issuer.read()["issuer_id"] == outs["issuer_id"]
        after = policy.read()
        assert after["version"] == before["version"] and after["policies"] == before["policies"]
        assert changes(issuer.diff(iprops)) == "DIFF_NONE"
        assert changes(policy.diff(pprops)) == "DIFF_NONE"
        assert policy.update({**pprops, "policies": policies_for(org, "b")})["policies"][0]["team_name"] == "b"
