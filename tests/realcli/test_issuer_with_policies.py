"""``OidcIssuerWithPolicies`` (an issuer and its policies as one resource) under the real CLI:
preview, up, no-op preview and refresh, an update of each half, destroy, against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulumi_oidc_trust.provider.wire import audience_for

from .programtest import ProgramTest, program_copy

PROGRAM = Path(__file__).parent / "programs" / "combined"
TWO_RESOURCES = Path(__file__).parent / "programs" / "ownership"  # OidcIssuer "ci" + OidcIssuerPolicy
SUBJECT = "system:serviceaccount:pulumi:deploy"


@pytest.fixture
def program(tmp_path) -> Path:
    return program_copy(PROGRAM, tmp_path / "combined", "combined")


def _login_works(emulator, org: str, team: str) -> bool:
    token = emulator.mint({"sub": SUBJECT, "aud": audience_for(org)})
    return emulator.exchange(token, org, token_type="team", scope=f"team:{team}").status_code == 200


def _issuers(emulator, org: str) -> list[dict]:
    answer = emulator.get(f"/api/orgs/{org}/oidc/issuers")
    return answer.json()["oidcIssuers"] if answer.status_code == 200 else []


def _requests(emulator) -> dict[str, int]:
    counts = emulator.stats()["counts"]
    emulator.reset_stats()
    return {route: n for route, n in counts.items() if not route.startswith(("POST /api/oauth", "GET /test-issuer"))}


def test_one_resource_carries_the_issuer_and_its_policies_through_the_cli(program_test, program, emulator, org):
    stack: ProgramTest = program_test(program, stack="dev", config={
        "organization": org, "issuerUrl": emulator.test_issuer_url, "oidc:apiUrl": emulator.base_url,
    }, secrets={"oidc:accessToken": emulator.access_token})

    preview = stack.ok(["preview"])
    assert "OidcIssuerWithPolicies" in preview.output and "+ 2 to create" in preview.output, preview
    assert not _issuers(emulator, org), "a preview registered something"

    emulator.reset_stats()
    stack.ok(["up", "--yes", "--skip-preview"])
    sent = _requests(emulator)
    assert sum(sent.values()) == 4, sent  # the lookup by URL, the registration, the document's read and write
    (issuer,) = _issuers(emulator, org)
    assert issuer["name"] == "ci" and issuer["url"] == emulator.test_issuer_url
    assert _login_works(emulator, org, "platform") and not _login_works(emulator, org, "security")
    (resource,) = [r for r in stack.resources() if r["type"].endswith("OidcIssuerWithPolicies")]
    assert resource["id"] == f"{org}/{issuer['id']}"
    first_version = stack.outputs()["policyVersion"]

    stack.ok(["preview", "--expect-no-changes"])
    stack.ok(["refresh", "--yes", "--skip-preview", "--expect-no-changes"])

    stack.set_config({"team": "security"})  # the policies change: an update in place, not a replacement
    up = stack.ok(["up", "--yes", "--skip-preview"])
    assert "~ 1 to update" in up.output or "1 updated" in up.output, up
    assert [i["id"] for i in _issuers(emulator, org)] == [issuer["id"]]
    assert _login_works(emulator, org, "security") and not _login_works(emulator, org, "platform")
    assert stack.outputs()["policyVersion"] == first_version + 1

    stack.set_config({"issuerName": "ci-renamed"})  # the issuer changes; the document is not written
    emulator.reset_stats()
    stack.ok(["up", "--yes", "--skip-preview"])
    assert _requests(emulator) == {"PATCH /api/orgs/{orgName}/oidc/issuers/{issuerId}": 1}
    (renamed,) = _issuers(emulator, org)
    assert renamed["id"] == issuer["id"] and renamed["name"] == "ci-renamed"
    assert stack.outputs()["policyVersion"] == first_version + 1
    stack.ok(["refresh", "--yes", "--skip-preview", "--expect-no-changes"])

    emulator.reset_stats()
    stack.ok(["destroy", "--yes", "--skip-preview"])
    assert _requests(emulator) == {"DELETE /api/orgs/{orgName}/oidc/issuers/{issuerId}": 1}
    assert not _issuers(emulator, org) and not _login_works(emulator, org, "security")
    assert emulator.access_token not in stack.all_output() + stack.logs_text()


def test_a_lint_error_fails_the_preview_and_nothing_is_registered(program_test, program, emulator, org):
    stack = program_test(program, stack="dev", config={
        "organization": org, "issuerUrl": emulator.test_issuer_url, "oidc:apiUrl": emulator.base_url,
        "subject": "system:serviceaccount:*",  # any namespace: OIDC024, an error
    }, secrets={"oidc:accessToken": emulator.access_token})
    preview = stack.run(["preview"])
    assert preview.returncode != 0 and "policies[0]" in preview.output and "OIDC024 error" in preview.output, preview
    assert "lint_waivers={'OIDC024'" in preview.output, preview
    assert stack.run(["up", "--yes", "--skip-preview"]).returncode != 0
    assert not _issuers(emulator, org)


def test_an_issuer_moves_from_two_resources_to_one_without_a_write(program_test, tmp_path, emulator, org):
    """docs/trust.md's migration: state delete the two, adopt with the new resource, drop adopt."""
    two = program_copy(TWO_RESOURCES, tmp_path / "two", "trust")
    one = program_copy(PROGRAM, tmp_path / "one", "trust")  # the same project, its program rewritten
    stack = program_test(two, stack="dev", config={
        "organization": org, "issuerUrl": emulator.test_issuer_url, "oidc:apiUrl": emulator.base_url,
    }, secrets={"oidc:accessToken": emulator.access_token})
    stack.ok(["up", "--yes", "--skip-preview"])
    (issuer,) = _issuers(emulator, org)
    document = emulator.policy_of(issuer["id"], org)

    refused = stack.run(["up", "--yes", "--skip-preview"], cwd=one)  # swapped in one step: refused
    assert refused.returncode != 0 and "adopt=True" in refused.output, refused
    assert emulator.policy_of(issuer["id"], org) == document and _login_works(emulator, org, "platform")

    for suffix in ("OidcIssuerPolicy", "oidc:OidcIssuer"):
        stack.ok(["state", "delete", stack.urn_of(suffix), "--yes", "--stack", stack.stack], stack_args=False)
    stack.set_config({"adopt": True})
    emulator.reset_stats()
    stack.ok(["up", "--yes", "--skip-preview"], cwd=one)
    sent = _requests(emulator)
    assert not [route for route in sent if not route.startswith("GET ")], sent  # adopted: nothing written
    assert emulator.policy_of(issuer["id"], org) == document and _login_works(emulator, org, "platform")

    stack.remove_config("adopt")
    stack.ok(["preview", "--expect-no-changes"], cwd=one)
    emulator.reset_stats()
    stack.ok(["destroy", "--yes", "--skip-preview"], cwd=one)
    assert _requests(emulator) == {"DELETE /api/orgs/{orgName}/oidc/issuers/{issuerId}": 1}
    assert not _issuers(emulator, org)
