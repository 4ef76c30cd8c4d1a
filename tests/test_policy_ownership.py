"""One policy document, one owner: what a user relies on when an ``OidcIssuerPolicy`` is renamed,
moved, shared between stacks or adopted, driven through the SDK's dynamic-provider host the way
the engine does it, against the emulator.

On a rename or a move without ``aliases`` the engine creates the resource under its new name,
then deletes the old one. Neither step may lock CI out: logins through the issuer keep working,
and what the stack's state says is what the service holds.
"""

from __future__ import annotations


import pytest
import requests

from harness.dynamic_host import DynamicProviderHost, EngineError, Resource, changes, rpc, to_struct
from pulumi_oidc_trust.provider.client import PulumiCloudClient, PulumiCloudError
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider
from pulumi_oidc_trust.provider.policy import closed_policies

ISSUER_TYPE = "dynamic/oidc:OidcIssuer"
POLICY_TYPE = "dynamic/oidc:OidcIssuerPolicy"
DEPLOYER = "system:serviceaccount:pulumi:deployer"


@pytest.fixture
def issuer_id(emulator, host, org):
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "ci")
    return issuer.create({"organization": org, "url": emulator.test_issuer_url, "name": "ci"})["issuer_id"]


def team_policy(org: str, team: str) -> dict:
    return {"decision": "allow", "token_type": "team", "team_name": team,
            "rules": {"aud": f"urn:pulumi:org:{org}", "sub": DEPLOYER}}


def policy_props(org: str, issuer_id: str, team: str = "platform", **extra) -> dict:
    return {"organization": org, "issuer_id": issuer_id, "policies": [team_policy(org, team)], **extra}


def ci_can_log_in(emulator, org: str, team: str = "platform") -> bool:
    token = emulator.mint({"sub": DEPLOYER, "aud": f"urn:pulumi:org:{org}"})
    answer = emulator.exchange(token, org, token_type="team", scope=f"team:{team}")
    return answer.status_code == 200


def policy(host, name: str) -> Resource:
    return Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, name)


def test_rename_with_aliases_changes_nothing(emulator, host, cloud, org, issuer_id):
    old = policy(host, "ci-policy")
    props = policy_props(org, issuer_id)
    old.create(props)
    before = cloud.get_auth_policy(org, issuer_id)

    # With aliases the engine carries the old state over to the new name and only diffs it.
    renamed = policy(host, "ci-trust-policy")
    renamed.id, renamed.inputs, renamed.state = old.id, old.inputs, old.state
    assert changes(renamed.diff(props)) == "DIFF_NONE"
    assert cloud.get_auth_policy(org, issuer_id) == before
    assert ci_can_log_in(emulator, org)


def test_rename_without_aliases_keeps_ci_logging_in(emulator, host, cloud, org, issuer_id):
    old = policy(host, "ci-policy")
    props = policy_props(org, issuer_id)
    old.create(props)

    # The engine's order on a rename: create the new name, then delete the old one.
    renamed = policy(host, "ci-trust-policy")
    outs = renamed.create(props)
    old.delete()

    assert ci_can_log_in(emulator, org), "the rename closed the issuer"
    assert "left the issuer's policies as they are" in host.stderr_text()
    # What the state says is what the service holds: the next refresh and preview show nothing.
    assert renamed.read()["version"] == outs["version"] == cloud.get_auth_policy(org, issuer_id)["version"]
    assert changes(renamed.diff(props)) == "DIFF_NONE"
    # The new name owns the document: destroying it still closes the issuer.
    renamed.delete()
    assert not ci_can_log_in(emulator, org)


def test_rename_with_a_change_and_without_aliases_fails_clearly_and_loses_nothing(
    emulator, host, cloud, org, issuer_id
):
    old = policy(host, "ci-policy")
    old.create(policy_props(org, issuer_id))
    before = cloud.get_auth_policy(org, issuer_id)

    renamed = policy(host, "ci-trust-policy")
    with pytest.raises(EngineError) as refused:
        renamed.create(policy_props(org, issuer_id, team="security"))
    message = refused.value.details
    assert issuer_id in message and f"version {before['version']}" in message
    assert "aliases" in message and "adopt=True" in message
    # The engine stops the update: the old resource is not deleted, and nothing changed.
    assert cloud.get_auth_policy(org, issuer_id) == before
    assert ci_can_log_in(emulator, org)


def test_a_second_stack_on_the_same_issuer_is_refused(emulator, org, issuer_id, cloud):
    config = {"oidc:apiUrl": emulator.base_url, "oidc:accessToken": rpc.wrap_rpc_secret(emulator.access_token)}
    with DynamicProviderHost(config) as first_stack, DynamicProviderHost(config) as second_stack:
        first = policy(first_stack, "ci-policy")
        first.create(policy_props(org, issuer_id))
        before = cloud.get_auth_policy(org, issuer_id)

        second = policy(second_stack, "ci-policy")
        with pytest.raises(EngineError) as refused:
            second.create(policy_props(org, issuer_id, team="other-team"))
        assert "did not write" in refused.value.details
        assert cloud.get_auth_policy(org, issuer_id) == before
        assert ci_can_log_in(emulator, org)
        assert not ci_can_log_in(emulator, org, team="other-team")


def test_adopt_takes_over_a_document_made_in_the_console(emulator, host, cloud, org, issuer_id):
    console = [{"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
                "rules": {"aud": f"urn:pulumi:org:{org}", "sub": DEPLOYER}},
               {"decision": "allow", "tokenType": "team", "teamName": "legacy", "authorizedPermissions": [],
                "rules": {"aud": f"urn:pulumi:org:{org}", "sub": "system:serviceaccount:legacy:*"}}]
    policy_id = cloud.get_auth_policy(org, issuer_id)["id"]
    cloud.update_auth_policy(org, policy_id, console)

    managed = policy(host, "ci-policy")
    with pytest.raises(EngineError) as refused:
        managed.create(policy_props(org, issuer_id))
    assert "adopt=True" in refused.value.details
    assert cloud.get_auth_policy(org, issuer_id)["policies"] == console

    outs = managed.create(policy_props(org, issuer_id, adopt=True))
    assert [p["team_name"] for p in outs["policies"]] == ["platform"]
    assert outs["version"] == cloud.get_auth_policy(org, issuer_id)["version"]
    assert changes(managed.diff(policy_props(org, issuer_id, adopt=False))) == "DIFF_NONE"
    managed.delete()
    assert cloud.get_auth_policy(org, issuer_id)["policies"] == closed_policies(org)


def test_delete_leaves_a_document_written_since_alone(emulator, host, cloud, org, issuer_id):
    managed = policy(host, "ci-policy")
    outs = managed.create(policy_props(org, issuer_id))
    edited = [{"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
               "rules": {"aud": f"urn:pulumi:org:{org}", "sub": DEPLOYER}},
              {"decision": "allow", "tokenType": "team", "teamName": "oncall", "authorizedPermissions": [],
               "rules": {"aud": f"urn:pulumi:org:{org}", "sub": DEPLOYER}}]
    cloud.update_auth_policy(org, outs["policy_id"], edited)

    managed.delete()
    assert cloud.get_auth_policy(org, issuer_id)["policies"] == edited
    line = [l for l in host.stderr_text().splitlines() if "left the issuer's policies as they are" in l]
    assert len(line) == 1 and f"{org}/{issuer_id}" in line[0] and f"version {int(outs['version'])};" in line[0]


def test_create_takes_over_what_it_may(emulator, host, cloud, org, issuer_id):
    """The service's default (a new issuer), CLOSED (a destroyed stack's issuer, brought back by
    the next `up`) and the very document it writes (a create whose answer was lost)."""
    first = policy(host, "ci-policy")
    first.create(policy_props(org, issuer_id))  # over the service's default
    first.delete()
    assert cloud.get_auth_policy(org, issuer_id)["policies"] == closed_policies(org)

    again = policy(host, "ci-policy")
    again.create(policy_props(org, issuer_id))  # over CLOSED
    assert ci_can_log_in(emulator, org)

    # A create whose PATCH was applied but whose answer never came back: state has nothing; the
    # next `up` creates again and finishes the job instead of refusing.
    lost = policy(host, "ci-policy")
    outs = lost.create(policy_props(org, issuer_id))
    assert outs["version"] == cloud.get_auth_policy(org, issuer_id)["version"]
    assert ci_can_log_in(emulator, org)


def test_a_user_already_locked_out_recovers_with_refresh_then_up(emulator, host, cloud, org, issuer_id):
    """What an earlier version did on a rename: CLOSED written over the allow behind the stack's
    back. `pulumi refresh --yes` shows it, `pulumi up` writes the allow back."""
    managed = policy(host, "ci-policy")
    props = policy_props(org, issuer_id)
    outs = managed.create(props)
    cloud.update_auth_policy(org, outs["policy_id"], closed_policies(org))
    assert not ci_can_log_in(emulator, org)
    assert changes(managed.diff(props)) == "DIFF_NONE", "without a refresh the stack cannot know"

    managed.read()
    assert changes(managed.diff(props)) == "DIFF_SOME"
    managed.update(props)
    assert ci_can_log_in(emulator, org)


def test_delete_of_a_policy_whose_issuer_is_gone_is_done(emulator, host, cloud, org, issuer_id):
    managed = policy(host, "ci-policy")
    managed.create(policy_props(org, issuer_id))
    cloud.delete_issuer(org, issuer_id)
    managed.delete()
    with pytest.raises(PulumiCloudError):
        cloud.get_auth_policy(org, issuer_id)


# --------------------------------------------------------------------------------------------
# A write by someone else between the provider's read and its write (security review round two,
# fault 6). The service has no conditional write, so the provider cannot stop it; it must see it in
# the PATCH's answer (the version read plus one) and say so, naming both versions.


def intruder_document(org: str) -> list[dict]:
    return [{"decision": "allow", "tokenType": "team", "teamName": "intruder", "authorizedPermissions": [],
             "rules": {"aud": f"urn:pulumi:org:{org}", "sub": "system:serviceaccount:other:deployer"}}]  # fmt: skip


class RacingPolicyProvider(OidcIssuerPolicyProvider):
    """The real provider, except that right after each of its GETs another writer (another stack)
    PATCHes the document: the concurrent write lands exactly between its read and its write.
    Pickled by reference, like the real one, so it runs inside the SDK's dynamic-provider host."""

    def _client(self) -> PulumiCloudClient:
        client = super()._client()
        read = client.get_auth_policy

        def read_then_someone_else_writes(org: str, issuer_id: str) -> dict:
            current = read(org, issuer_id)
            with PulumiCloudClient(self._settings.api_url, self._settings.access_token) as other_stack:
                other_stack.update_auth_policy(org, current["id"], intruder_document(org))
            return current

        client.get_auth_policy = read_then_someone_else_writes  # type: ignore[method-assign]
        return client


def racing(host, name: str, like: Resource | None = None) -> Resource:
    """A resource driven by RacingPolicyProvider; ``like`` gives it that resource's engine state."""
    resource = Resource(host, RacingPolicyProvider(), POLICY_TYPE, name)
    if like is not None:
        resource.id, resource.inputs = like.id, like.inputs
        resource.state = to_struct({**like.outputs, "__provider": resource.provider})
    return resource


def test_a_write_between_update_read_and_write_is_reported_naming_both_versions(emulator, host, cloud, org, issuer_id):
    managed = policy(host, "ci-policy")
    version = int(managed.create(policy_props(org, issuer_id))["version"])  # state numbers come back as floats
    wanted = policy_props(org, issuer_id, team="security")

    with pytest.raises(EngineError) as refused:
        racing(host, "ci-policy", like=managed).update(wanted)
    message = refused.value.details
    assert "written by someone else" in message and "`pulumi refresh`" in message
    assert f"read version {version}" in message and f"version {version + 2}, not {version + 1}" in message
    # No conditional write exists: the other write was replaced, and the message says so.
    assert "replaced by this stack's policies" in message
    server = cloud.get_auth_policy(org, issuer_id)
    assert server["version"] == version + 2 and [p["teamName"] for p in server["policies"]] == ["security"]
    # The advice works: after a refresh the state is what the service holds.
    managed.read()
    assert changes(managed.diff(wanted)) == "DIFF_NONE"


def test_a_write_between_create_read_and_write_is_reported_and_the_next_up_finishes(emulator, host, cloud, org, issuer_id):
    version = cloud.get_auth_policy(org, issuer_id)["version"]
    with pytest.raises(EngineError) as refused:
        racing(host, "ci-policy").create(policy_props(org, issuer_id))
    message = refused.value.details
    assert f"read version {version}" in message and f"version {version + 2}, not {version + 1}" in message
    assert ci_can_log_in(emulator, org)  # the service holds this stack's document
    outs = policy(host, "ci-policy").create(policy_props(org, issuer_id))  # the next `pulumi up`
    assert outs["version"] == cloud.get_auth_policy(org, issuer_id)["version"] == version + 3


def test_a_write_between_delete_check_and_close_is_reported_as_someone_elses_document(
    emulator, host, cloud, org, issuer_id
):
    managed = policy(host, "ci-policy")
    version = int(managed.create(policy_props(org, issuer_id))["version"])  # state numbers come back as floats

    with pytest.raises(EngineError) as refused:
        racing(host, "ci-policy", like=managed).delete()
    message = refused.value.details
    assert "closed the issuer's policies" in message and "probably someone else's" in message
    assert f"version {version}" in message and f"version {version + 2}, not {version + 1}" in message
    assert f"{org}/{issuer_id}" in message and "`pulumi refresh`" in message
    assert cloud.get_auth_policy(org, issuer_id)["policies"] == closed_policies(org)
    # Running the destroy again finishes it: the document (CLOSED, written since) is left alone.
    managed.delete()
    assert "left the issuer's policies as they are" in host.stderr_text()
    assert cloud.get_auth_policy(org, issuer_id)["version"] == version + 2


# --------------------------------------------------------------------------------------------
# A PATCH the client resent after its answer was lost: the service applied it, answered 502 or
# dropped the connection, and the client sent it again. The version moved twice, both times by this
# stack: no conflict (``client.Answer.attempts``, ``issuer_policy.write_conflict``).

LOST_ANSWERS = [pytest.param(502, id="502-after-the-write"), pytest.param("drop", id="dropped-after-the-write")]


def lose_the_next_patch_answer(api_url: str, status) -> None:
    """The emulator applies the next policy PATCH, then answers ``status`` (or drops the connection)."""
    requests.post(f"{api_url}/_emulator/faults", timeout=10, json={
        "retry_after": 0,
        "script": [{"method": "PATCH", "path_regex": "^/api/.*/auth/policies/", "status": status, "when": "after"}],
    }).raise_for_status()  # fmt: skip


@pytest.mark.parametrize("status", LOST_ANSWERS)
def test_a_patch_resent_after_a_lost_answer_is_no_conflict(emulator, host, cloud, org, issuer_id, status):
    managed = policy(host, "ci-policy")
    version = int(managed.create(policy_props(org, issuer_id))["version"])  # state numbers come back as floats
    wanted = policy_props(org, issuer_id, team="security")
    lose_the_next_patch_answer(emulator.base_url, status)

    outs = managed.update(wanted)

    server = cloud.get_auth_policy(org, issuer_id)
    assert emulator.faults()["script"] == [], "the fault was used: the PATCH was applied twice"
    assert server["version"] == version + 2 and [p["teamName"] for p in server["policies"]] == ["security"]
    assert int(outs["version"]) == version + 2  # the state is what the service holds
    managed.read()
    assert changes(managed.diff(wanted)) == "DIFF_NONE"
    # Deleting it still closes the issuer: the document is this resource's.
    managed.delete()
    assert cloud.get_auth_policy(org, issuer_id)["policies"] == closed_policies(org)


@pytest.mark.parametrize("status", LOST_ANSWERS)
def test_a_create_and_a_delete_resent_after_a_lost_answer_are_no_conflict(emulator, host, cloud, org, issuer_id, status):
    version = cloud.get_auth_policy(org, issuer_id)["version"]
    managed = policy(host, "ci-policy")
    lose_the_next_patch_answer(emulator.base_url, status)
    assert int(managed.create(policy_props(org, issuer_id))["version"]) == version + 2
    assert ci_can_log_in(emulator, org)

    lose_the_next_patch_answer(emulator.base_url, status)
    managed.delete()
    server = cloud.get_auth_policy(org, issuer_id)
    assert server["policies"] == closed_policies(org) and server["version"] == version + 4
    assert "left the issuer's policies" not in host.stderr_text()


class RacingThenLostAnswerProvider(RacingPolicyProvider):
    """Another stack writes between the provider's read and its write (as RacingPolicyProvider), and
    then the answer to the provider's own PATCH is lost after the write (a 502), so it is resent."""

    def _client(self) -> PulumiCloudClient:
        client = super()._client()
        read = client.get_auth_policy

        def read_then_lose_the_answer(org: str, issuer_id: str) -> dict:
            current = read(org, issuer_id)  # the other stack has written by now
            lose_the_next_patch_answer(self._settings.api_url, 502)
            return current

        client.get_auth_policy = read_then_lose_the_answer  # type: ignore[method-assign]
        return client


def test_a_write_by_someone_else_is_still_reported_when_the_patch_was_resent(emulator, host, cloud, org, issuer_id):
    managed = policy(host, "ci-policy")
    version = int(managed.create(policy_props(org, issuer_id))["version"])  # state numbers come back as floats
    resource = Resource(host, RacingThenLostAnswerProvider(), POLICY_TYPE, "ci-policy")
    resource.id, resource.inputs = managed.id, managed.inputs
    resource.state = to_struct({**managed.outputs, "__provider": resource.provider})

    with pytest.raises(EngineError) as refused:
        resource.update(policy_props(org, issuer_id, team="security"))
    message = refused.value.details
    # One write by the other stack, two by this one (the first answer lost): three versions.
    assert emulator.faults()["script"] == [] and cloud.get_auth_policy(org, issuer_id)["version"] == version + 3
    assert f"read version {version}" in message and "written by someone else" in message
    assert f"version {version + 3}, not {version + 1} to {version + 2}" in message and "sent it 2 times" in message
    assert "replaced by this stack's policies" in message and "`pulumi refresh`" in message
