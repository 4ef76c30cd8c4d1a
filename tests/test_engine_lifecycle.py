"""The dynamic resources driven through ``python -m pulumi.dynamic`` with the engine's gRPC
messages, against the emulator over real HTTP."""

from __future__ import annotations

import secrets

import pytest
import requests

from harness.dynamic_host import DynamicProviderHost, EngineError, Resource, changes, rpc
from pulumi_oidc_trust.provider.client import PulumiCloudClient, PulumiCloudError
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider

ISSUER_TYPE = "dynamic/oidc:OidcIssuer"
POLICY_TYPE = "dynamic/oidc:OidcIssuerPolicy"


def mint(emulator, **claims) -> str:
    r = requests.post(f"{emulator.base_url}/test-issuer/token", json=claims, timeout=10)
    r.raise_for_status()
    return r.json()["token"]


def workload_claims(org: str, sa: str = "deployer") -> dict:
    return {"sub": f"system:serviceaccount:pulumi:{sa}", "aud": f"urn:pulumi:org:{org}"}


def team_policy(org: str, team: str = "platform", sa: str = "deployer") -> dict:
    return {
        "decision": "allow",
        "token_type": "team",
        "team_name": team,
        "rules": {"aud": f"urn:pulumi:org:{org}", "sub": f"system:serviceaccount:pulumi:{sa}"},
    }


def exchange_allowed(emulator, org: str, token: str, team: str = "platform") -> bool:
    client = PulumiCloudClient(emulator.base_url)
    try:
        answer = client.exchange_token(organization=org, subject_token=token, token_type="team", scope=f"team:{team}")
    except PulumiCloudError as e:
        assert e.status in (400, 401)
        return False
    assert answer["access_token"].startswith("pul-")
    return True


def test_full_lifecycle_provisions_trust_that_decides_exchanges(emulator, host, cloud, org):
    issuer_url = f"{emulator.base_url}/test-issuer"
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "test-issuer")
    props = {"organization": org, "url": issuer_url, "name": "test-issuer"}
    outs = issuer.create(props)
    assert issuer.id == f"{org}/{outs['issuer_id']}"
    assert outs["issuer"] == issuer_url and outs["created"]
    assert changes(issuer.diff(props)) == "DIFF_NONE"
    assert cloud.get_issuer(org, outs["issuer_id"])["name"] == "test-issuer"

    outs = issuer.update({**props, "max_expiration_seconds": 3600})
    assert outs["max_expiration_seconds"] == 3600
    assert cloud.get_issuer(org, outs["issuer_id"])["maxExpiration"] == 3600

    token = mint(emulator, **workload_claims(org))
    assert not exchange_allowed(emulator, org, token), "a new issuer must deny every exchange"

    policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "test-issuer-policy")
    pprops = {"organization": org, "issuer_id": outs["issuer_id"], "issuer_url": issuer_url,
              "policies": [team_policy(org)]}
    pouts = policy.create(pprops)
    assert pouts["version"] >= 2 and pouts["policies"][0]["team_name"] == "platform"
    assert changes(policy.diff(pprops)) == "DIFF_NONE"
    assert exchange_allowed(emulator, org, token)
    assert not exchange_allowed(emulator, org, mint(emulator, **workload_claims(org, "intruder")))

    pouts = policy.update({**pprops, "policies": [team_policy(org, team="security")]})
    assert not exchange_allowed(emulator, org, token, team="platform")
    assert exchange_allowed(emulator, org, token, team="security")

    assert policy.read()["policies"] == pouts["policies"]
    policy.delete()
    assert not exchange_allowed(emulator, org, token, team="security"), "deleting the policy closes the issuer"
    server = cloud.get_auth_policy(org, outs["issuer_id"])["policies"]
    assert server == [{"decision": "deny", "tokenType": "organization", "authorizedPermissions": [],
                       "rules": {"aud": f"urn:pulumi:org:{org}"}}]

    issuer.delete()
    assert issuer.read() is None
    issuer.delete()  # already gone: still a success
    policy.delete()  # the issuer (and its policy) are gone: still a success


def test_url_or_organization_change_is_a_replace(emulator, host, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "gh")
    props = {"organization": org, "url": f"{emulator.base_url}/test-issuer"}
    issuer.create(props)
    d = issuer.diff({**props, "url": "https://token.actions.githubusercontent.com"})
    assert changes(d) == "DIFF_SOME" and list(d.replaces) == ["url"]
    d = issuer.diff({**props, "organization": org + "-2"})
    assert list(d.replaces) == ["organization"]
    d = issuer.diff({**props, "url": rpc.UNKNOWN})
    assert list(d.replaces) == ["url"]


def test_refresh_drops_an_issuer_deleted_out_of_band(emulator, host, cloud, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "gone")
    outs = issuer.create({"organization": org, "url": f"{emulator.base_url}/test-issuer"})
    cloud.delete_issuer(org, outs["issuer_id"])
    assert issuer.read() is None


def test_out_of_band_policy_edit_is_drift_and_never_silently_overwritten(emulator, host, cloud, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "drift")
    outs = issuer.create({"organization": org, "url": f"{emulator.base_url}/test-issuer"})
    policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "drift-policy")
    pprops = {"organization": org, "issuer_id": outs["issuer_id"], "policies": [team_policy(org)]}
    pouts = policy.create(pprops)

    edited = [{"decision": "allow", "tokenType": "team", "teamName": "someone-else", "authorizedPermissions": [],
               "rules": {"sub": "system:serviceaccount:pulumi:deployer"}}]
    cloud.update_auth_policy(org, pouts["policy_id"], edited)

    # Without a refresh, a change to the program is refused instead of overwriting the edit.
    with pytest.raises(EngineError) as refused:
        policy.update({**pprops, "policies": [team_policy(org, team="security")]})
    assert "pulumi refresh" in refused.value.details and "changed outside" in refused.value.details
    assert cloud.get_auth_policy(org, outs["issuer_id"])["policies"] == edited

    refreshed = policy.read()
    assert refreshed["policies"][0]["team_name"] == "someone-else"
    assert changes(policy.diff(pprops)) == "DIFF_SOME"  # drift shows up in the next preview
    policy.update(pprops)
    assert cloud.get_auth_policy(org, outs["issuer_id"])["policies"][0]["teamName"] == "platform"


def test_issuer_drift_is_seen_after_refresh(emulator, host, cloud, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "named")
    props = {"organization": org, "url": f"{emulator.base_url}/test-issuer", "name": "named"}
    outs = issuer.create(props)
    cloud.update_issuer(org, outs["issuer_id"], {"name": "renamed-in-the-ui"})
    issuer.read()
    d = issuer.diff(props)
    assert changes(d) == "DIFF_SOME" and not d.replaces
    assert issuer.update(props)["name"] == "named"


def test_adopt_takes_over_an_existing_issuer_instead_of_registering_a_second(emulator, host, cloud, org):
    url = f"{emulator.base_url}/test-issuer"
    existing = cloud.register_issuer(org, {"name": "from-the-ui", "url": url})
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "adopted")
    with pytest.raises(EngineError) as refused:
        issuer.create({"organization": org, "url": url})
    assert "adopt=True" in refused.value.details
    outs = issuer.create({"organization": org, "url": url, "adopt": True, "name": "adopted"})
    assert outs["issuer_id"] == existing["id"]
    assert [i["id"] for i in cloud.list_issuers(org)] == [existing["id"]]
    assert cloud.get_issuer(org, existing["id"])["name"] == "adopted"


def test_preview_needs_no_credential_and_apply_names_the_three_ways(emulator, org):
    with DynamicProviderHost({"oidc:apiUrl": emulator.base_url}) as h:
        issuer = Resource(h, OidcIssuerProvider(), ISSUER_TYPE, "nocreds")
        props = {"organization": org, "url": f"{emulator.base_url}/test-issuer"}
        _inputs, failures = issuer.check(props)
        assert failures == []
        issuer.state = issuer.checked(props)  # as if it existed: a preview diffs without HTTP
        assert changes(issuer.diff(props)) in ("DIFF_NONE", "DIFF_SOME")
        with pytest.raises(EngineError) as refused:
            issuer.create(props)
        for way in ("oidc:accessToken", "PULUMI_ACCESS_TOKEN", "pulumi login"):
            assert way in refused.value.details


def test_check_failures_name_the_property_through_the_host(emulator, host, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "bad")
    _inputs, failures = issuer.check({"organization": org, "url": "http://example.com", "thumbprints": ["zz"]})
    props = {f.property for f in failures}
    assert {"url", "thumbprints[0]"} <= props
    policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "bad-policy")
    _inputs, failures = policy.check({"organization": org, "issuer_id": "x", "policies": [{"decision": "allow"}]})
    assert any(f.property.startswith("policies[0]") for f in failures)


def test_errors_and_state_never_carry_the_access_token(emulator, host, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "secret-check")
    outs = issuer.create({"organization": org, "url": f"{emulator.base_url}/test-issuer"})
    assert emulator.access_token not in repr(outs)
    assert emulator.access_token not in issuer.state.SerializeToString().decode("latin-1")
    wrong = "pul-" + secrets.token_hex(20)
    with DynamicProviderHost({"oidc:apiUrl": emulator.base_url, "oidc:accessToken": rpc.wrap_rpc_secret(wrong)}) as h:
        with pytest.raises(EngineError) as e:
            Resource(h, OidcIssuerProvider(), ISSUER_TYPE, "x").create({"organization": org, "url": outs["url"]})
    assert "401" in e.value.details and "Unauthorized" in e.value.details
    assert wrong not in e.value.details


def test_lint_errors_fail_preview_unless_waived_with_a_reason(host, org):
    policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "gh-policy")
    anyone = {"organization": org, "issuer_id": "x", "issuer_url": "https://token.actions.githubusercontent.com",
              "policies": [{"decision": "allow", "token_type": "team", "team_name": "platform",
                            "rules": {"aud": f"urn:pulumi:org:{org}", "sub": "repo:*"}}]}
    _inputs, failures = policy.check(anyone)
    found = {f.reason.split()[0] for f in failures}
    assert {"OIDC002", "OIDC003"} <= found, failures
    assert all(f.property == "policies[0]" and "Fix:" in f.reason and "lint_waivers" in f.reason for f in failures)

    waived = {**anyone, "lint_waivers": {rule: "accepted for the test" for rule in found}}
    assert policy.check(waived)[1] == []
    _inputs, failures = policy.check({**anyone, "lint_waivers": {"OIDC003": " "}})
    assert any(f.property == "lint_waivers" and "reason" in f.reason for f in failures)
    _inputs, failures = policy.check({**anyone, "lint_waivers": {"OIDC999": "typo"}})
    assert any(f.property == "lint_waivers" and "OIDC999" in f.reason for f in failures)


def test_issuer_lint_errors_fail_preview(host, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "gh")
    _inputs, failures = issuer.check({"organization": org, "url": "https://token.actions.githubusercontent.com/"})
    assert [f.property for f in failures] == ["url"] and "OIDC017" in failures[0].reason


def test_removing_lint_settings_leaves_no_change_behind(emulator, host, cloud, org):
    """Dropping ``lint_waivers`` (or ``issuer_url``) is an update that sends nothing, after which
    the resource shows no change: it used to stay in the outputs and come back at every preview."""
    issuer = cloud.register_issuer(org, {"name": "ci", "url": f"{emulator.base_url}/test-issuer"})
    policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "policy")
    props = {"organization": org, "issuer_id": issuer["id"], "policies": [team_policy(org)]}
    policy.create({**props, "lint_waivers": {"OIDC010": "accepted"}, "issuer_url": f"{emulator.base_url}/test-issuer"})
    outs = policy.update(props)
    assert "lint_waivers" not in outs and "issuer_url" not in outs
    assert changes(policy.diff(props)) == "DIFF_NONE"
    assert outs["policy_id"] and outs["version"] and outs["policies"] == [{**team_policy(org), "authorized_permissions": []}]
