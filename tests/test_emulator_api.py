"""The emulator's REST contract over real HTTP: endpoints, shapes, status codes, error texts, auth.

The contract is research/pulumi_cloud_oidc.md §1-§2; a client written against the emulator must
work against Pulumi Cloud, so these assert exactly what the service is documented to answer.
"""

from __future__ import annotations

import re
import signal
import socket
import threading
import uuid

import pytest
import requests

from pulumi_oidc_trust.emulator.fetch import Fetcher
from tests.conftest import allow_policy

UNAUTHORIZED = {"code": 401, "message": "Unauthorized: No credentials provided or are invalid."}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
DEFAULT_POLICY = [{"decision": "deny", "tokenType": "organization", "authorizedPermissions": [], "rules": {"sub": ""}}]
GITHUB = "https://token.actions.githubusercontent.com"


def issuers_path(org="acme"):
    return f"/api/orgs/{org}/oidc/issuers"


def test_command_line_prints_the_base_url_first_and_exits_cleanly_on_sigterm(emulator):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.base_url)
    assert emulator.get("/api/capabilities").json() == {"capabilities": []}
    assert emulator.stop(signal.SIGTERM) == 0
    assert emulator.access_token not in emulator.stderr_text()


def test_sigint_also_exits_cleanly(emulator):
    assert emulator.stop(signal.SIGINT) == 0


# -- authentication ------------------------------------------------------------------------------

AUTHENTICATED_ROUTES = [
    ("GET", "/api/orgs/acme/oidc/issuers"),
    ("POST", "/api/orgs/acme/oidc/issuers"),
    ("GET", "/api/orgs/acme/oidc/issuers/00000000-0000-0000-0000-000000000000"),
    ("PATCH", "/api/orgs/acme/oidc/issuers/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/api/orgs/acme/oidc/issuers/00000000-0000-0000-0000-000000000000"),
    ("POST", "/api/orgs/acme/oidc/issuers/00000000-0000-0000-0000-000000000000/regenerate-thumbprints"),
    ("GET", "/api/orgs/acme/auth/policies/oidcissuers/00000000-0000-0000-0000-000000000000"),
    ("PATCH", "/api/orgs/acme/auth/policies/00000000-0000-0000-0000-000000000000"),
    ("GET", "/api/user"),
]


@pytest.mark.parametrize("method,path", AUTHENTICATED_ROUTES)
def test_every_org_route_and_the_user_route_require_a_valid_token(inproc_emulator, method, path):
    bearer = "Bearer " + inproc_emulator.access_token
    for headers in ({}, {"Authorization": "token not-the-token"}, {"Authorization": bearer}):
        response = inproc_emulator.request(method, path, token=None, headers=headers, json={})
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


@pytest.mark.parametrize("accept", ["application/vnd.pulumi+8", "application/vnd.pulumi+9", "application/json", "*/*"])
def test_any_accept_header_is_served(inproc_emulator, accept):
    inproc_emulator.create_org()
    response = inproc_emulator.get(issuers_path(), headers={"Accept": accept})
    assert response.status_code == 200
    assert response.json() == {"oidcIssuers": []}


def test_capabilities_and_admin_user(inproc_emulator):
    assert inproc_emulator.get("/api/capabilities", token=None).json() == {"capabilities": []}
    # A read creates no organization (a misspelt one is a 404); the first issuer registered does.
    assert inproc_emulator.get(issuers_path("some-org")).status_code == 404
    assert inproc_emulator.get("/api/user").json()["organizations"] == []
    inproc_emulator.register_issuer("some-org")
    user = inproc_emulator.get("/api/user").json()
    assert user["githubLogin"] == "emulator-admin"
    assert {"githubLogin": "some-org", "name": "some-org"}.items() <= user["organizations"][0].items()


def test_unknown_routes_answer_404_and_wrong_methods_405(inproc_emulator):
    response = inproc_emulator.get("/api/nope")
    assert response.status_code == 404 and response.json()["code"] == 404
    response = inproc_emulator.request("PUT", issuers_path())
    assert response.status_code == 405 and response.json()["code"] == 405


# -- issuers -------------------------------------------------------------------------------------


def test_register_answers_the_documented_shape(inproc_emulator):
    response = inproc_emulator.post(issuers_path(), json={"name": "github", "url": GITHUB, "maxExpiration": 3600})
    assert response.status_code == 200
    issuer = response.json()
    assert uuid.UUID(issuer["id"]) and len(issuer["id"]) == 36
    assert issuer["name"] == "github"
    assert issuer["url"] == issuer["issuer"] == GITHUB
    assert issuer["maxExpiration"] == 3600
    assert issuer["thumbprints"] == []  # the host is unreachable here: nothing to compute, no failure
    assert TIMESTAMP.match(issuer["created"]) and issuer["created"] == issuer["modified"]
    assert "jwks" not in issuer


def test_register_keeps_supplied_thumbprints_of_an_unreachable_host_lower_cased(inproc_emulator):
    thumbprint = "AB" * 32
    issuer = inproc_emulator.register_issuer(url=GITHUB, thumbprints=[thumbprint])
    assert issuer["thumbprints"] == [thumbprint.lower()]


def test_registration_does_not_wait_for_a_stalled_resolver(inproc_emulator, monkeypatch):
    """Registration looks the issuer's host up to pin its certificate; a resolver that stalls (some
    stall 5 s on a burst of lookups) is given up on after a bound, as an unreachable host is."""
    stalled_host = "issuer.stalled.test"
    release, in_lookup = threading.Event(), threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host != stalled_host:
            return real_getaddrinfo(host, *args, **kwargs)
        in_lookup.set()
        release.wait(20)
        in_lookup.clear()
        raise socket.gaierror("stalled")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    inproc_emulator.app.api.fetcher = Fetcher(resolve_timeout=0.2)
    try:
        thumbprint = "ab" * 32
        issuer = inproc_emulator.register_issuer(url=f"https://{stalled_host}", thumbprints=[thumbprint])
        assert in_lookup.is_set(), "registration answered only after the stalled lookup ended"
        assert issuer["thumbprints"] == [thumbprint]  # as for an unreachable host: what was supplied
    finally:
        release.set()


@pytest.mark.parametrize("max_expiration", [0, None])
def test_max_expiration_zero_or_null_means_unset(inproc_emulator, max_expiration):
    issuer = inproc_emulator.register_issuer(maxExpiration=max_expiration)
    assert "maxExpiration" not in issuer


def test_policies_in_the_register_body_are_ignored(inproc_emulator):
    issuer = inproc_emulator.register_issuer(policies=[allow_policy("acme")])
    assert inproc_emulator.policy_of(issuer["id"])["policies"] == DEFAULT_POLICY


@pytest.mark.parametrize(
    "body,message",
    [
        ({"url": GITHUB}, "Bad Request: the issuer name is required"),
        ({"name": "", "url": GITHUB}, "Bad Request: the issuer name is required"),
        ({"name": "x"}, "Bad Request: the issuer url is required"),
        ({"name": "x", "url": "http://issuer.example.com"}, None),
        ({"name": "x", "url": "ftp://issuer.example.com"}, None),
        ({"name": "x", "url": GITHUB, "thumbprints": ["abc"]}, None),
        ({"name": "x", "url": GITHUB, "thumbprints": "ab" * 32}, None),
        ({"name": "x", "url": GITHUB, "maxExpiration": -5}, None),
        ({"name": "x", "url": GITHUB, "maxExpiration": "3600"}, None),
        ({"name": "x", "url": GITHUB, "jwks": {"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB",
                                                         "d": "AQAB"}]}}, None),
        ({"name": "x", "url": GITHUB, "jwks": {"keys": "nope"}}, None),
    ],
)
def test_register_rejects_malformed_bodies(inproc_emulator, body, message):
    response = inproc_emulator.post(issuers_path(), json=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == 400 and answer["message"].startswith("Bad Request: ")
    if message:
        assert answer["message"] == message
    # Nothing was created, not even the organization.
    assert inproc_emulator.get(issuers_path()).status_code == 404


def test_list_get_and_organization_isolation(inproc_emulator):
    first = inproc_emulator.register_issuer(name="one")
    second = inproc_emulator.register_issuer(name="two")
    other = inproc_emulator.register_issuer("other-org", name="three")
    listed = inproc_emulator.get(issuers_path()).json()["oidcIssuers"]
    assert [i["id"] for i in listed] == [first["id"], second["id"]]
    assert inproc_emulator.get(f"{issuers_path()}/{first['id']}").json() == first
    response = inproc_emulator.get(f"{issuers_path()}/{other['id']}")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Not Found: oidc issuer not found"}


def test_patch_requires_the_name(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    response = inproc_emulator.patch(f"{issuers_path()}/{issuer['id']}", json={"maxExpiration": 60})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "Bad Request: the issuer name is required"}


def test_patch_cannot_change_the_url_but_may_repeat_it(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    path = f"{issuers_path()}/{issuer['id']}"
    response = inproc_emulator.patch(path, json={"name": "x", "url": "http://127.0.0.1:1/elsewhere"})
    assert response.status_code == 400 and response.json()["message"].startswith("Bad Request: ")
    assert inproc_emulator.get(path).json()["name"] == issuer["name"]
    assert inproc_emulator.patch(path, json={"name": "x", "url": issuer["url"]}).status_code == 200


def test_patch_rules_for_thumbprints_and_max_expiration(inproc_emulator):
    issuer = inproc_emulator.register_issuer(url=GITHUB, thumbprints=["ab" * 32], maxExpiration=3600)
    path = f"{issuers_path()}/{issuer['id']}"

    updated = inproc_emulator.patch(path, json={"name": "renamed", "thumbprints": None, "maxExpiration": 7200}).json()
    assert updated["name"] == "renamed"
    assert updated["thumbprints"] == ["ab" * 32]  # null: unchanged
    assert updated["maxExpiration"] == 7200
    assert updated["created"] == issuer["created"] and TIMESTAMP.match(updated["modified"])

    body = {"name": "renamed", "thumbprints": ["cd" * 32], "maxExpiration": 0}
    updated = inproc_emulator.patch(path, json=body).json()
    assert updated["thumbprints"] == ["cd" * 32]
    assert "maxExpiration" not in updated  # 0: unset

    inproc_emulator.patch(path, json={"name": "renamed", "maxExpiration": 60})
    assert "maxExpiration" not in inproc_emulator.patch(path, json={"name": "renamed"}).json()  # omitted: unset
    assert inproc_emulator.get(path).json()["thumbprints"] == ["cd" * 32]

    response = inproc_emulator.patch(path, json={"name": "renamed", "thumbprints": ["not-hex"]})
    assert response.status_code == 400


def test_patch_unknown_issuer_is_404(inproc_emulator):
    inproc_emulator.create_org()
    response = inproc_emulator.patch(f"{issuers_path()}/{uuid.uuid4()}", json={"name": "x"})
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Not Found: oidc issuer not found"}


def test_delete_is_204_then_404_and_takes_the_policy_with_it(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    policy = inproc_emulator.policy_of(issuer["id"])
    path = f"{issuers_path()}/{issuer['id']}"

    response = inproc_emulator.delete(path)
    assert response.status_code == 204 and response.content == b""
    assert inproc_emulator.get(path).status_code == 404
    assert inproc_emulator.delete(path).status_code == 404

    response = inproc_emulator.get(f"/api/orgs/acme/auth/policies/oidcissuers/{issuer['id']}")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "Bad Request: Invalid issuer ID"}
    response = inproc_emulator.patch(f"/api/orgs/acme/auth/policies/{policy['id']}",
                                     json={"policies": [allow_policy("acme")]})
    assert response.status_code == 404


def test_regenerate_thumbprints(inproc_emulator):
    static = inproc_emulator.register_issuer(jwks=inproc_emulator.test_issuer.jwks())
    response = inproc_emulator.post(f"{issuers_path()}/{static['id']}/regenerate-thumbprints")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "Bad Request: issuer jwks are statically configured, can't regenerate thumbprints",
    }
    plain = inproc_emulator.register_issuer()
    response = inproc_emulator.post(f"{issuers_path()}/{plain['id']}/regenerate-thumbprints")
    assert response.status_code == 200 and response.json()["thumbprints"] == []
    assert inproc_emulator.post(f"{issuers_path()}/{uuid.uuid4()}/regenerate-thumbprints").status_code == 404


# -- auth policies -------------------------------------------------------------------------------


def test_a_new_issuer_gets_the_default_deny_all_policy(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    policy = inproc_emulator.policy_of(issuer["id"])
    assert set(policy) == {"id", "version", "created", "modified", "policies"}
    assert policy["policies"] == DEFAULT_POLICY
    assert policy["version"] == 1
    assert uuid.UUID(policy["id"]) and policy["id"] != issuer["id"]


def test_patch_replaces_the_whole_list_and_bumps_the_version(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    first = [allow_policy("acme"), allow_policy("acme", sub="repo:acme/other:*")]
    updated = inproc_emulator.set_policies(issuer["id"], first)
    assert updated["version"] == 2 and updated["policies"] == first
    second = [{"decision": "deny", "tokenType": "team", "teamName": "ops", "authorizedPermissions": [],
               "rules": {"sub": "repo:evil/*"}}]
    updated = inproc_emulator.set_policies(issuer["id"], second)
    assert updated["version"] == 3 and updated["policies"] == second
    assert inproc_emulator.policy_of(issuer["id"]) == updated


def test_patch_normalizes_null_permissions_to_a_list(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    personal = {"decision": "allow", "tokenType": "personal", "userLogin": "alice",
                "authorizedPermissions": None, "rules": {"sub": "repo:acme/*"}}
    stored = inproc_emulator.set_policies(issuer["id"], [personal])["policies"][0]
    assert stored["authorizedPermissions"] == []


def _patch_policies(emulator, policies):
    issuer = emulator.register_issuer()
    policy_id = emulator.policy_of(issuer["id"])["id"]
    return emulator.patch(f"/api/orgs/acme/auth/policies/{policy_id}", json={"policies": policies})


def test_an_empty_policy_list_is_refused_with_the_service_text(inproc_emulator):
    response = _patch_policies(inproc_emulator, [])
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "Bad Request: policy definition can not be empty"}


@pytest.mark.parametrize("pattern", ["", "*", "?*."])
def test_a_rule_without_a_literal_part_is_refused_with_the_service_text(inproc_emulator, pattern):
    policy = allow_policy("acme")
    policy["rules"] = {"aud": "urn:pulumi:org:acme", "sub": pattern}
    response = _patch_policies(inproc_emulator, [policy])
    assert response.status_code == 400
    assert response.json() == {
        "code": 400, "message": "Bad Request: key sub should at least have a strict matching portion"
    }


def test_the_default_policy_cannot_be_patched_back(inproc_emulator):
    response = _patch_policies(inproc_emulator, DEFAULT_POLICY)
    assert response.json()["message"] == "Bad Request: key sub should at least have a strict matching portion"


def test_at_most_forty_policies(inproc_emulator):
    assert _patch_policies(inproc_emulator, [allow_policy("acme")] * 40).status_code == 200
    response = _patch_policies(inproc_emulator, [allow_policy("acme")] * 41)
    assert response.status_code == 400 and response.json()["message"].startswith("Bad Request: ")


@pytest.mark.parametrize(
    "policy",
    [
        {"decision": "allow", "tokenType": "team", "authorizedPermissions": [], "rules": {"sub": "x"}},  # no teamName
        {"decision": "allow", "tokenType": "personal", "authorizedPermissions": [], "rules": {"sub": "x"}},
        {"decision": "maybe", "tokenType": "organization", "authorizedPermissions": [], "rules": {"sub": "x"}},
        {"decision": "allow", "tokenType": "robot", "authorizedPermissions": [], "rules": {"sub": "x"}},
        {"decision": "allow", "tokenType": "organization", "authorizedPermissions": [], "rules": {}},
        {"decision": "allow", "token_type": "organization", "authorizedPermissions": [], "rules": {"sub": "x"}},
    ],
    ids=["team-without-name", "personal-without-login", "bad-decision", "bad-type", "no-rules", "snake-case-key"],
)
def test_invalid_policies_are_refused(inproc_emulator, policy):
    response = _patch_policies(inproc_emulator, [policy])
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request: ")


def test_patching_an_unknown_policy_id_is_404(inproc_emulator):
    response = inproc_emulator.patch(f"/api/orgs/acme/auth/policies/{uuid.uuid4()}",
                                     json={"policies": [allow_policy("acme")]})
    assert response.status_code == 404 and response.json()["code"] == 404


def test_a_minted_token_works_for_its_own_organization_only(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    inproc_emulator.set_policies(issuer["id"], [allow_policy("acme", authorizedPermissions=["admin"])])
    minted = inproc_emulator.exchange(inproc_emulator.workload_token(), scope="admin").json()["access_token"]
    assert inproc_emulator.get(issuers_path("acme"), token=minted).status_code == 200
    response = inproc_emulator.get(issuers_path("someone-else"), token=minted)
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_bad_json_is_a_400_in_the_service_shape(inproc_emulator):
    response = inproc_emulator.post(issuers_path(), data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request: ")


def test_keep_alive_connections_are_reused(inproc_emulator):
    with requests.Session() as session:
        for _ in range(3):
            response = session.get(inproc_emulator.url("/api/capabilities"))
            assert response.status_code == 200
        assert response.headers.get("Connection", "").lower() != "close"
