"""The Pulumi Cloud client against the emulator: every method, its errors and its retry rule."""

from __future__ import annotations


import pytest
import requests

from pulumi_oidc_trust.provider.client import MissingCredentialError, PulumiCloudClient, PulumiCloudError, RetryBudget

FAST = RetryBudget(attempts=4, backoff_factor=0.01, backoff_max=0.1, jitter=0.01, retry_after_max=1)


@pytest.fixture
def emulator(inproc_emulator):
    """The emulator in-process: the same server, without a process start per test."""
    return inproc_emulator


@pytest.fixture
def client(emulator):
    with PulumiCloudClient(emulator.base_url, emulator.access_token, budget=FAST) as c:
        yield c


def faults(emulator, **settings):
    r = requests.post(f"{emulator.base_url}/_emulator/faults", json=settings, timeout=10)
    r.raise_for_status()


def script(emulator, *steps):
    faults(emulator, script=list(steps))


def test_every_method_round_trips(emulator, client, org):
    url = f"{emulator.base_url}/test-issuer"
    issuer = client.register_issuer(org, {"name": "t", "url": url, "maxExpiration": 3600})
    assert issuer["url"] == url and issuer["maxExpiration"] == 3600
    assert client.get_issuer(org, issuer["id"])["id"] == issuer["id"]
    assert [i["id"] for i in client.list_issuers(org)] == [issuer["id"]]
    assert client.find_issuer_by_url(org, url + "/")["id"] == issuer["id"]
    assert client.update_issuer(org, issuer["id"], {"name": "renamed"})["name"] == "renamed"
    policy = client.get_auth_policy(org, issuer["id"])
    assert policy["policies"][0]["decision"] == "deny"
    rules = {"aud": f"urn:pulumi:org:{org}", "sub": "system:serviceaccount:ns:sa"}
    updated = client.update_auth_policy(
        org, policy["id"], [{"decision": "allow", "tokenType": "organization", "authorizedPermissions": [], "rules": rules}]
    )
    assert updated["version"] == policy["version"] + 1

    token = requests.post(f"{emulator.base_url}/test-issuer/token", json={**rules}, timeout=10).json()["token"]
    minted = PulumiCloudClient(emulator.base_url, budget=FAST).exchange_token(organization=org, subject_token=token, expiration=600)
    assert minted["access_token"].startswith("pul-") and minted["expires_in"] == 600
    me = PulumiCloudClient(emulator.base_url, minted["access_token"]).current_user()
    assert me["githubLogin"] and me["organizations"][0]["githubLogin"] == org

    client.delete_issuer(org, issuer["id"])
    with pytest.raises(PulumiCloudError) as gone:
        client.get_issuer(org, issuer["id"])
    assert gone.value.status == 404 and gone.value.message


def test_errors_carry_status_and_the_service_message_but_never_the_token(emulator, org):
    bad = PulumiCloudClient(emulator.base_url, "pul-wrong-token-value", budget=FAST)
    with pytest.raises(PulumiCloudError) as e:
        bad.list_issuers(org)
    assert e.value.status == 401 and "Unauthorized" in e.value.message
    assert "pul-wrong" not in str(e.value) and "pul-wrong" not in repr(bad)


def test_missing_credentials_fail_before_any_request_and_name_the_three_ways(emulator, org):
    with pytest.raises(MissingCredentialError) as e:
        PulumiCloudClient(emulator.base_url, None).list_issuers(org)
    for way in ("oidc:accessToken", "PULUMI_ACCESS_TOKEN", "pulumi login"):
        assert way in str(e.value)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
@pytest.mark.parametrize("when", ["before", "after"])
def test_idempotent_calls_retry_transient_answers(emulator, client, org, status, when):
    issuer = client.register_issuer(org, {"name": "t", "url": f"{emulator.base_url}/test-issuer"})
    script(emulator, {"method": "PATCH", "path_regex": "/oidc/issuers/", "status": status, "when": when, "count": 2})
    assert client.update_issuer(org, issuer["id"], {"name": "n2"})["name"] == "n2"
    script(emulator, {"method": "GET", "path_regex": "/oidc/issuers", "status": status, "when": when, "count": 2})
    assert client.list_issuers(org)[0]["name"] == "n2"


def test_dropped_connections_are_retried_for_idempotent_calls(emulator, client, org):
    issuer = client.register_issuer(org, {"name": "t", "url": f"{emulator.base_url}/test-issuer"})
    script(emulator, {"method": "GET", "path_regex": "/oidc/issuers/", "status": "drop", "when": "after", "count": 1})
    assert client.get_issuer(org, issuer["id"])["id"] == issuer["id"]


@pytest.mark.parametrize(
    "fault, attempts",
    [
        (None, 1),
        ({"status": 502, "when": "after"}, 2),  # applied, then the answer was lost: resent
        ({"status": "drop", "when": "after"}, 2),
        ({"status": 503, "when": "before"}, 2),  # a 5xx may come after the write: counted
        ({"status": 429, "when": "before"}, 1),  # a refusal before any work: not counted
    ],
)
def test_an_answer_says_how_many_sends_may_have_been_applied(emulator, client, org, fault, attempts):
    issuer = client.register_issuer(org, {"name": "t", "url": f"{emulator.base_url}/test-issuer"})
    policy = client.get_auth_policy(org, issuer["id"])
    if fault:
        faults(emulator, retry_after=0, script=[{"method": "PATCH", "path_regex": "/auth/policies/", **fault}])
    rules = {"aud": f"urn:pulumi:org:{org}", "sub": "ci"}
    answer = client.update_auth_policy(org, policy["id"], [{"decision": "allow", "tokenType": "organization", "rules": rules}])
    assert answer.attempts == attempts
    applied = 2 if fault and fault["when"] == "after" else 1
    assert answer["version"] == policy["version"] + applied


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 502, "when": "after"},
        {"status": 503, "when": "after"},
        {"status": "drop", "when": "after"},
        {"status": 502, "when": "before"},
        {"status": "drop", "when": "before"},
        {"status": 429, "when": "before"},
    ],
)
def test_a_register_retry_never_registers_a_second_issuer(emulator, client, org, fault):
    url = f"{emulator.base_url}/test-issuer"
    script(emulator, {"method": "POST", "path_regex": "/oidc/issuers$", "count": 1, **fault})
    issuer = client.register_issuer(org, {"name": "t", "url": url})
    assert [i["id"] for i in client.list_issuers(org)] == [issuer["id"]]


def test_register_gives_up_within_its_budget_and_says_why(emulator, client, org):
    script(emulator, {"method": "POST", "path_regex": "/oidc/issuers$", "status": 500, "when": "before", "count": 10})
    with pytest.raises(PulumiCloudError) as e:
        client.register_issuer(org, {"name": "t", "url": f"{emulator.base_url}/test-issuer"})
    assert e.value.status == 500
    faults(emulator, script=[])
    assert client.find_issuer_by_url(org, f"{emulator.base_url}/test-issuer") is None


def test_the_exchange_retries_like_the_cli(emulator, client, org):
    issuer = client.register_issuer(org, {"name": "t", "url": f"{emulator.base_url}/test-issuer"})
    policy = client.get_auth_policy(org, issuer["id"])
    rules = {"aud": f"urn:pulumi:org:{org}", "sub": "ci"}
    client.update_auth_policy(org, policy["id"], [{"decision": "allow", "tokenType": "organization", "rules": rules}])
    token = requests.post(f"{emulator.base_url}/test-issuer/token", json=rules, timeout=10).json()["token"]
    script(emulator, {"method": "POST", "path_regex": "/api/oauth/token", "status": 503, "when": "before", "count": 2})
    answer = PulumiCloudClient(emulator.base_url, budget=FAST).exchange_token(organization=org, subject_token=token)
    assert answer["access_token"].startswith("pul-")
