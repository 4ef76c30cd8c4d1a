"""``OidcIssuerWithPolicies``: an issuer and its whole policy document as one resource, driven
through the SDK's dynamic-provider host with the engine's gRPC messages, against the emulator.

What a user relies on: the trust it declares decides exchanges; each operation costs the
requests it is documented to cost; an issuer someone else holds is refused unless adopted; a
failed create leaves no issuer behind; a document changed elsewhere is never overwritten by an
update; check names the property at fault; the state carries a small pickled reference and no
credential."""

from __future__ import annotations

import base64

import dill
import pytest

from harness.dynamic_host import EngineError, Resource, changes
from pulumi_oidc_trust.provider.client import PulumiCloudError
from pulumi_oidc_trust.provider.issuer_with_policies import OidcIssuerWithPoliciesProvider
from pulumi_oidc_trust.provider.policy import policies_to_wire, parse_policies
from tests.conftest import allow_policy
from tests.test_adopt_no_write import ISSUER_PATCH, POLICY_PATCH, console_policies, writes
from tests.test_engine_lifecycle import exchange_allowed, mint, team_policy, workload_claims

TYPE = "dynamic/oidc:OidcIssuerWithPolicies"
ISSUERS = "/api/orgs/{orgName}/oidc/issuers"
LIST = f"GET {ISSUERS}"
REGISTER = f"POST {ISSUERS}"
GET_ISSUER = f"GET {ISSUERS}/{{issuerId}}"
DELETE_ISSUER = f"DELETE {ISSUERS}/{{issuerId}}"
GET_POLICY = "GET /api/orgs/{orgName}/auth/policies/oidcissuers/{issuerId}"
GH = "https://token.actions.githubusercontent.com"


def resource(host, name: str = "ci") -> Resource:
    return Resource(host, OidcIssuerWithPoliciesProvider(), TYPE, name)


def props_for(emulator, org: str, *, name: str = "ci", url: str | None = None, **extra) -> dict:
    return {"organization": org, "url": url or emulator.test_issuer_url, "name": name,
            "policies": [team_policy(org)], **extra}


def requests_of(emulator, operation) -> tuple[object, dict[str, int]]:
    """(what ``operation`` returned, the emulator's request counts while it ran)."""
    emulator.reset_stats()
    result = operation()
    return result, emulator.stats()["counts"]


def wire(policies: list[dict]) -> list[dict]:
    return policies_to_wire(parse_policies(policies))


def deployer_may_log_in(emulator, org: str, team: str = "platform", sa: str = "deployer") -> bool:
    return exchange_allowed(emulator, org, mint(emulator, **workload_claims(org, sa)), team=team)


def inject(emulator, *entries: dict) -> None:
    """Scripted faults the client does not retry (a 4xx is an answer, not a lost request)."""
    emulator.set_faults(retry_after=0, script=list(entries))


POLICY_PATCH_FORBIDDEN = {"method": "PATCH", "path_regex": "^/api/orgs/[^/]+/auth/policies/", "status": 403}


# ---------------------------------------------------------------------------------------------
# 1. Lifecycle


def test_lifecycle_the_declared_trust_decides_exchanges_from_create_to_delete(emulator, host, cloud, org):
    managed = resource(host)
    props = props_for(emulator, org)
    outs = managed.create(props)

    issuer_id = outs["issuer_id"]
    assert managed.id == f"{org}/{issuer_id}"
    assert cloud.get_issuer(org, issuer_id)["name"] == "ci"
    server = cloud.get_auth_policy(org, issuer_id)
    assert server["policies"] == wire([team_policy(org)])
    assert outs["version"] == server["version"] and outs["policy_id"] == server["id"]
    assert [i["id"] for i in cloud.list_issuers(org)] == [issuer_id]
    assert deployer_may_log_in(emulator, org)
    assert not deployer_may_log_in(emulator, org, sa="intruder")

    assert changes(managed.diff(props)) == "DIFF_NONE"
    assert managed.read() == outs

    # The policies change: what is allowed changes.
    props = {**props, "policies": [team_policy(org, team="security")]}
    outs = managed.update(props)
    assert outs["policies"][0]["team_name"] == "security"
    assert deployer_may_log_in(emulator, org, team="security")
    assert not deployer_may_log_in(emulator, org, team="platform")
    assert changes(managed.diff(props)) == "DIFF_NONE"

    # The name only: the issuer is renamed, the document is not written again.
    version = cloud.get_auth_policy(org, issuer_id)["version"]
    props = {**props, "name": "ci-renamed"}
    outs, counts = requests_of(emulator, lambda: managed.update(props))
    assert counts == {ISSUER_PATCH: 1}
    assert outs["name"] == "ci-renamed" == cloud.get_issuer(org, issuer_id)["name"]
    assert cloud.get_auth_policy(org, issuer_id)["version"] == version == outs["version"]
    assert deployer_may_log_in(emulator, org, team="security")

    # Lint waivers only: nothing to send, and the state records them.
    props = {**props, "lint_waivers": {"OIDC008": "accepted for the test"}}
    assert changes(managed.diff(props)) == "DIFF_SOME"
    outs, counts = requests_of(emulator, lambda: managed.update(props))
    assert counts == {}
    assert outs["lint_waivers"] == {"OIDC008": "accepted for the test"} and outs["issuer_id"] == issuer_id
    assert outs["version"] == version and outs["name"] == "ci-renamed"
    assert changes(managed.diff(props)) == "DIFF_NONE"

    managed.delete()
    assert cloud.list_issuers(org) == []
    assert not deployer_may_log_in(emulator, org, team="security")
    managed.delete()  # already gone (404): still a success
    assert managed.read() is None


# ---------------------------------------------------------------------------------------------
# 2. Requests per operation


def test_requests_per_operation(emulator, host, cloud, org):
    first = resource(host, "first")
    props = props_for(emulator, org, name="first")
    outs, counts = requests_of(emulator, lambda: first.create(props))
    assert counts == {LIST: 1, REGISTER: 1, GET_POLICY: 1, POLICY_PATCH: 1}

    # A second create in the same organization, same host process: the lookup is shared.
    second = resource(host, "second")
    _, counts = requests_of(emulator, lambda: second.create(
        props_for(emulator, org, name="second", url=f"{emulator.base_url}/second-issuer")))
    assert counts == {REGISTER: 1, GET_POLICY: 1, POLICY_PATCH: 1}
    assert len(cloud.list_issuers(org)) == 2

    _, counts = requests_of(emulator, first.read)
    assert counts == {GET_ISSUER: 1, GET_POLICY: 1}

    _, counts = requests_of(emulator, lambda: first.update({**props, "policies": [team_policy(org, team="b")]}))
    assert counts == {GET_POLICY: 1, POLICY_PATCH: 1}

    _, counts = requests_of(emulator, first.delete)
    assert counts == {DELETE_ISSUER: 1}, "a delete needs no CLOSED write: the document goes with the issuer"
    assert [i["id"] for i in cloud.list_issuers(org)] == [second.outputs["issuer_id"]]
    assert outs["issuer_id"] != second.outputs["issuer_id"]


# ---------------------------------------------------------------------------------------------
# 3. Refusal, 4. adopt


def test_create_refuses_an_issuer_someone_else_registered_and_changes_nothing(emulator, host, cloud, org):
    url = emulator.test_issuer_url
    existing = cloud.register_issuer(org, {"name": "from-the-console", "url": url})
    policy_id = cloud.get_auth_policy(org, existing["id"])["id"]
    cloud.update_auth_policy(org, policy_id, [allow_policy(org)])
    before = cloud.get_auth_policy(org, existing["id"])

    with pytest.raises(EngineError) as refused:
        resource(host).create(props_for(emulator, org))
    message = refused.value.details
    assert "409" in message and url in message and "adopt=True" in message
    assert [i["id"] for i in cloud.list_issuers(org)] == [existing["id"]]
    assert cloud.get_auth_policy(org, existing["id"]) == before
    assert cloud.get_issuer(org, existing["id"])["name"] == "from-the-console"


def test_create_refuses_an_issuer_another_resource_of_the_update_registered(emulator, host, cloud, org):
    first = resource(host, "first")
    outs = first.create(props_for(emulator, org, name="first"))
    before = cloud.get_auth_policy(org, outs["issuer_id"])

    with pytest.raises(EngineError) as refused:
        resource(host, "second").create(props_for(emulator, org, name="second",
                                                  policies=[team_policy(org, team="other")]))
    message = refused.value.details
    assert "409" in message and emulator.test_issuer_url in message and "adopt=True" in message
    assert [i["id"] for i in cloud.list_issuers(org)] == [outs["issuer_id"]]
    assert cloud.get_auth_policy(org, outs["issuer_id"]) == before
    assert deployer_may_log_in(emulator, org) and not deployer_may_log_in(emulator, org, team="other")


def test_adopt_takes_over_the_issuer_and_whatever_document_it_holds(emulator, host, cloud, org):
    existing = cloud.register_issuer(org, {"name": "from-the-console", "url": emulator.test_issuer_url})
    policy_id = cloud.get_auth_policy(org, existing["id"])["id"]
    cloud.update_auth_policy(org, policy_id, [allow_policy(org)])

    managed = resource(host)
    props = props_for(emulator, org, adopt=True)
    outs = managed.create(props)
    assert outs["issuer_id"] == existing["id"]
    assert [i["id"] for i in cloud.list_issuers(org)] == [existing["id"]]
    assert cloud.get_issuer(org, existing["id"])["name"] == "ci"
    server = cloud.get_auth_policy(org, existing["id"])
    assert server["policies"] == wire([team_policy(org)]) and outs["version"] == server["version"]
    assert deployer_may_log_in(emulator, org)
    assert changes(managed.diff({**props, "adopt": False})) == "DIFF_NONE"


def test_adopting_the_very_issuer_and_document_the_service_holds_writes_nothing(emulator, host, cloud, org):
    existing = cloud.register_issuer(org, {"name": "from-the-console", "url": emulator.test_issuer_url})
    current = cloud.update_auth_policy(org, cloud.get_auth_policy(org, existing["id"])["id"], console_policies(org))

    managed = resource(host)
    props = props_for(emulator, org, name="from-the-console", policies=console_policies(org), adopt=True)
    outs, _counts = requests_of(emulator, lambda: managed.create(props))
    assert writes(emulator) == {}
    assert outs["issuer_id"] == existing["id"] and outs["modified"] == existing["modified"]
    assert outs["version"] == current["version"] == cloud.get_auth_policy(org, existing["id"])["version"]
    assert changes(managed.diff(props)) == "DIFF_NONE"


# ---------------------------------------------------------------------------------------------
# 5. No orphan


def test_a_create_whose_document_write_fails_leaves_no_issuer_behind(emulator, host, cloud, org):
    inject(emulator, POLICY_PATCH_FORBIDDEN)
    managed = resource(host)
    with pytest.raises(EngineError) as failed:
        managed.create(props_for(emulator, org))
    assert emulator.faults()["script"] == [], "the fault was not used"
    assert "403" in failed.value.details and "update authorization policy" in failed.value.details
    assert cloud.list_issuers(org) == [], "the issuer this create registered was left behind"
    assert emulator.stats()["counts"].get(DELETE_ISSUER) == 1

    # The next `pulumi up` (same provider process) registers it afresh.
    outs = managed.create(props_for(emulator, org))
    assert [i["id"] for i in cloud.list_issuers(org)] == [outs["issuer_id"]]
    assert deployer_may_log_in(emulator, org)


def test_a_failed_unregister_is_said_on_stderr_and_never_hides_the_create_error(emulator, host, cloud, org):
    inject(emulator, POLICY_PATCH_FORBIDDEN,
           {"method": "DELETE", "path_regex": "^/api/orgs/[^/]+/oidc/issuers/", "status": 403})
    with pytest.raises(EngineError) as failed:
        resource(host).create(props_for(emulator, org))
    assert emulator.faults()["script"] == []
    assert "update authorization policy" in failed.value.details
    [left] = cloud.list_issuers(org)
    line = [l for l in host.stderr_text().splitlines() if "could not be deleted again" in l]
    assert len(line) == 1 and left["id"] in line[0]
    # What the line promises: the issuer left behind trusts nobody.
    assert not any(p["decision"] == "allow" for p in cloud.get_auth_policy(org, left["id"])["policies"])
    assert not deployer_may_log_in(emulator, org)


def test_a_failed_document_write_after_adopt_keeps_the_adopted_issuer(emulator, host, cloud, org):
    existing = cloud.register_issuer(org, {"name": "ci", "url": emulator.test_issuer_url})
    policy_id = cloud.get_auth_policy(org, existing["id"])["id"]
    cloud.update_auth_policy(org, policy_id, [allow_policy(org)])
    before = cloud.get_auth_policy(org, existing["id"])

    inject(emulator, POLICY_PATCH_FORBIDDEN)
    with pytest.raises(EngineError):
        resource(host).create(props_for(emulator, org, adopt=True))
    assert emulator.faults()["script"] == [], "the fault was not used"
    assert [i["id"] for i in cloud.list_issuers(org)] == [existing["id"]], "the adopted issuer was deleted"
    assert cloud.get_auth_policy(org, existing["id"]) == before


# ---------------------------------------------------------------------------------------------
# 6. Concurrent change


def test_an_update_never_overwrites_a_document_changed_elsewhere(emulator, host, cloud, org):
    managed = resource(host)
    props = props_for(emulator, org)
    outs = managed.create(props)
    version = int(outs["version"])  # state numbers come back as floats
    edited = cloud.update_auth_policy(org, outs["policy_id"], [allow_policy(org)])
    assert edited["version"] == version + 1

    emulator.reset_stats()
    with pytest.raises(EngineError) as refused:  # a rename in the same update is not sent either
        managed.update({**props, "name": "renamed", "policies": [team_policy(org, team="security")]})
    message = refused.value.details
    assert "ConcurrentChangeError" in message
    assert f"service version {version + 1}" in message and f"stack state version {version}" in message
    assert "pulumi refresh" in message
    assert writes(emulator) == {}
    server = cloud.get_auth_policy(org, outs["issuer_id"])
    assert server["version"] == version + 1 and server["policies"] == [allow_policy(org)]
    assert cloud.get_issuer(org, outs["issuer_id"])["name"] == props["name"]


# ---------------------------------------------------------------------------------------------
# 7. check


def test_check_failures_name_the_property(host, org):
    managed = resource(host)
    workflow_only = [{"decision": "allow", "token_type": "team", "team_name": "platform",
                      "rules": {"aud": f"urn:pulumi:org:{org}", "event_name": "push", "ref": "refs/heads/main",
                                "job_workflow_ref": "acme/deploy/.github/workflows/d.yml@refs/heads/main"}}]
    gh = {"organization": org, "url": GH, "name": "github", "policies": workflow_only}

    # Linted against this issuer's URL: on GitHub's shared issuer the owner id is missing.
    _inputs, failures = managed.check(gh)
    assert [(f.property, f.reason.split()[0]) for f in failures] == [("policies[0]", "OIDC002")], failures
    assert "lint_waivers" in failures[0].reason
    _inputs, failures = managed.check({**gh, "url": "http://127.0.0.1:1/issuer"})
    assert failures == [], "the rule is GitHub's: another issuer's URL must not trip it"
    assert managed.check({**gh, "lint_waivers": {"OIDC002": "the reusable workflow is ours"}})[1] == []

    _inputs, failures = managed.check({k: v for k, v in gh.items() if k != "policies"})
    assert [f.property for f in failures] == ["policies"]
    _inputs, failures = managed.check({**gh, "lint_waivers": {"OIDC002": "ours"}, "colour": "blue"})
    assert [f.property for f in failures] == ["colour"] and "unknown property" in failures[0].reason
    _inputs, failures = managed.check({**gh, "lint_waivers": {"OIDC002": "ours"}, "url": "http://example.com"})
    assert "url" in [f.property for f in failures]


# ---------------------------------------------------------------------------------------------
# 8. Serialization and secrets


def test_state_holds_a_small_pickled_reference_and_no_access_token(emulator, host, org):
    managed = resource(host)
    props = props_for(emulator, org)
    outs = managed.create(props)
    raw = base64.b64decode(outs["__provider"])
    assert len(raw) < 200
    assert b"pulumi_oidc_trust.provider.issuer_with_policies" in raw and b"OidcIssuerWithPoliciesProvider" in raw
    assert isinstance(dill.loads(raw), OidcIssuerWithPoliciesProvider)

    managed.update({**props, "policies": [team_policy(org, team="security")]})
    managed.read()
    with pytest.raises(EngineError) as refused:
        resource(host, "again").create({**props, "name": "again"})
    token = emulator.access_token
    assert token not in repr(managed.outputs)
    assert token not in managed.state.SerializeToString().decode("latin-1")
    assert token not in refused.value.details
    managed.delete()
    assert token not in host.stderr_text()


# ---------------------------------------------------------------------------------------------
# 9. read after a delete elsewhere


def test_read_of_an_issuer_deleted_elsewhere_is_gone(emulator, host, cloud, org):
    managed = resource(host)
    outs = managed.create(props_for(emulator, org))
    cloud.delete_issuer(org, outs["issuer_id"])
    with pytest.raises(PulumiCloudError):
        cloud.get_auth_policy(org, outs["issuer_id"])
    assert managed.read() is None
