"""One policy document, one owner, under the real CLI: a rename or a second stack never locks
logins out (issue "Ownership of the policy document", items 1 and 2).

The program (programs/ownership) declares the emulator's test issuer and its policy document,
with the policy's resource name, aliases and grant taken from config.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pulumi_oidc_trust.provider.policy import closed_policies
from pulumi_oidc_trust.provider.wire import audience_for

from .programtest import ProgramTest, Result, Step, program_copy

PROGRAM = Path(__file__).parent / "programs" / "ownership"


@pytest.fixture
def program(tmp_path) -> Path:
    """The test program with a Pulumi.yaml whose virtualenv is this checkout's (absolute)."""
    return program_copy(PROGRAM, tmp_path / "ownership", "ownership")


def _stack(program_test, program, emulator, org, name, **config) -> ProgramTest:
    return program_test(program, stack=name, config={
        "organization": org, "issuerUrl": emulator.test_issuer_url, "oidc:apiUrl": emulator.base_url, **config,
    }, secrets={"oidc:accessToken": emulator.access_token})


def _login_works(emulator, org: str, team: str = "platform") -> bool:
    token = emulator.mint({"sub": "system:serviceaccount:pulumi:deploy", "aud": audience_for(org)})
    return emulator.exchange(token, org, token_type="team", scope=f"team:{team}").status_code == 200


def _document(emulator, org: str) -> dict:
    (issuer,) = emulator.get(f"/api/orgs/{org}/oidc/issuers").json()["oidcIssuers"]
    return emulator.policy_of(issuer["id"], org)


def test_a_rename_with_aliases_changes_nothing(program_test, program, emulator, org):
    test = _stack(program_test, program, emulator, org, "alias")
    test.steps([Step(["up", "--yes"], check=lambda r, t: _login_works(emulator, org) or pytest.fail("no login"))])
    version = _document(emulator, org)["version"]
    test.steps([
        Step(["preview", "--expect-no-changes"], config={"policyName": "renamed", "aliases": ["policy"]}),
        Step(["up", "--yes", "--expect-no-changes"]),
    ])
    assert _document(emulator, org)["version"] == version and _login_works(emulator, org)


def test_a_rename_without_aliases_keeps_logins_working(program_test, program, emulator, org):
    """The same document under a new name: the new name takes it over (it is equal to what it
    writes), and the old name's delete leaves it alone, saying why on the provider's stderr."""
    test = _stack(program_test, program, emulator, org, "rename")

    def left_alone_and_logins_work(result: Result, _):
        assert "left the issuer's policies as they are" in result.output, result
        assert _login_works(emulator, org)
        assert _document(emulator, org)["policies"] != closed_policies(org)

    test.steps([
        Step(["up", "--yes"]),
        Step(["up", "--yes"], config={"policyName": "renamed"}, check=left_alone_and_logins_work),
        Step(["preview", "--expect-no-changes"]),
        Step(["refresh", "--yes", "--expect-no-changes"]),
    ])


def test_a_rename_that_also_changes_the_policy_is_refused_and_nothing_is_lost(program_test, program, emulator, org):
    test = _stack(program_test, program, emulator, org, "rename-change")
    test.steps([Step(["up", "--yes"])])
    before = _document(emulator, org)

    def refused_with_both_fixes(result: Result, _):
        assert "aliases" in result.output and "adopt=True" in result.output, result
        assert f"version {before['version']}" in result.output
        assert _document(emulator, org) == before and _login_works(emulator, org)

    test.steps([
        Step(["up", "--yes"], config={"policyName": "renamed", "team": "ops"}, expect_failure=True,
             check=refused_with_both_fixes),
    ])


def test_a_second_stack_on_the_same_issuer_is_refused(program_test, program, emulator, org):
    first = _stack(program_test, program, emulator, org, "first")
    first.steps([Step(["up", "--yes"])])
    issuer_id = first.outputs()["issuerId"]
    before = _document(emulator, org)

    second = _stack(program_test, program, emulator, org, "second", issuerId=issuer_id, team="ops")

    def refused(result: Result, _):
        assert "already holds a policy document this resource did not write" in result.output, result
        assert _document(emulator, org) == before and _login_works(emulator, org)

    second.steps([Step(["up", "--yes"], expect_failure=True, check=refused)])

    def adopted(result: Result, _):
        assert _login_works(emulator, org, team="ops") and not _login_works(emulator, org)

    second.steps([Step(["up", "--yes"], config={"adopt": True}, check=adopted)])
