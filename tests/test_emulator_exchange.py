"""The token exchange (``POST /api/oauth/token``): a valid workload token gets a Pulumi token
only when a policy allows it, and every hostile token is refused.

Tokens come from the emulator's test issuer (``{base}/test-issuer``); hostile ones are crafted
by hand where PyJWT refuses to build them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import jwt
import pytest

from pulumi_oidc_trust.emulator import new_rsa_key
from pulumi_oidc_trust.provider.wire import GRANT_TYPE_TOKEN_EXCHANGE, SUBJECT_TOKEN_TYPE_ID_TOKEN
from tests.conftest import allow_policy

ORG_URN = "urn:pulumi:token-type:access_token:organization"
SUB = "repo:acme/infra:ref:refs/heads/main"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), b64url(signature)])


@pytest.fixture
def trusted(inproc_emulator):
    """An in-process emulator whose org ``acme`` trusts its test issuer for ``repo:acme/*``."""
    inproc_emulator.issuer = inproc_emulator.trust_test_issuer()
    return inproc_emulator


def assert_refused(response, status, error, token=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    assert "access_token" not in body
    if token:
        assert token not in response.text  # never echo the token


# -- the happy path ------------------------------------------------------------------------------


def test_an_allowed_token_is_exchanged_for_a_pulumi_token(trusted):
    response = trusted.exchange(trusted.workload_token(), expiration=3600)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"].startswith("pul-") and len(body["access_token"]) > 20
    assert body == {
        "access_token": body["access_token"],
        "issued_token_type": ORG_URN,
        "token_type": "token",
        "expires_in": 3600,
        "scope": "",
        "refresh_token": "",
    }
    user = trusted.get("/api/user", token=body["access_token"])
    assert user.status_code == 200
    user = user.json()
    assert user["githubLogin"] == "acme"
    assert [o["githubLogin"] for o in user["organizations"]] == ["acme"]
    assert user["tokenInfo"]["organization"] == "acme" and user["tokenInfo"]["name"]


def test_the_exchange_log_shows_who_logged_in_and_who_was_refused_never_a_token(trusted):
    granted_token = trusted.workload_token(**{"kubernetes.io": {"namespace": "ci", "pod": {"name": "p", "uid": "u-1"},
                                                                "serviceaccount": {"name": "sa", "uid": "u-2"}}})
    assert trusted.exchange(granted_token).status_code == 200
    refused_token = trusted.workload_token(sub="repo:other/infra:ref:refs/heads/main")
    assert trusted.exchange(refused_token).status_code == 400
    granted, refused = trusted.exchanges()[-2:]
    assert granted["outcome"] == "granted" and granted["org"] == "acme"
    assert granted["claims"]["sub"] == "repo:acme/infra:ref:refs/heads/main"
    assert granted["claims"]["kubernetes.io"] == {"namespace": "ci", "pod": {"name": "p", "uid": "u-1"},
                                                  "serviceaccount": {"name": "sa", "uid": "u-2"}}
    assert refused["outcome"] == "invalid_grant" and refused["claims"]["sub"].startswith("repo:other/")
    assert "no authorization policy" in refused["description"]
    log = json.dumps(trusted.exchanges())
    assert granted_token not in log and refused_token not in log and "pul-" not in log


def test_json_bodies_work_like_auth_actions_sends_them(trusted):
    as_number = trusted.exchange(trusted.workload_token(), expiration=1800, as_json=True)
    assert as_number.status_code == 200 and as_number.json()["expires_in"] == 1800
    as_string = trusted.exchange(trusted.workload_token(), expiration="1200", as_json=True)
    assert as_string.json()["expires_in"] == 1200
    minimal = trusted.exchange(trusted.workload_token(), expiration=None, scope=None, as_json=True)
    assert minimal.status_code == 200 and minimal.json()["expires_in"] == 7200  # the 2 h default


def test_the_lifetime_is_the_smaller_of_requested_and_max_expiration(inproc_emulator):
    inproc_emulator.trust_test_issuer(maxExpiration=900)
    token = inproc_emulator.workload_token
    assert inproc_emulator.exchange(token(), expiration=3600).json()["expires_in"] == 900
    assert inproc_emulator.exchange(token(), expiration=600).json()["expires_in"] == 600


def test_without_max_expiration_the_lifetime_is_capped_at_25_hours(trusted):
    assert trusted.exchange(trusted.workload_token(), expiration=200000).json()["expires_in"] == 90000


def test_the_default_policy_denies(inproc_emulator):
    inproc_emulator.register_issuer()
    response = inproc_emulator.exchange(inproc_emulator.workload_token())
    assert_refused(response, 400, "invalid_grant")
    assert response.json()["error_description"].startswith("no authorization policy allows this exchange (")


def test_a_matching_deny_wins_and_a_mismatch_denies(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    deny = dict(allow_policy("acme", sub="repo:acme/infra:*"), decision="deny")
    inproc_emulator.set_policies(issuer["id"], [allow_policy("acme"), deny])
    response = inproc_emulator.exchange(inproc_emulator.workload_token())
    assert_refused(response, 400, "invalid_grant")
    assert "denied by policy 1" in response.json()["error_description"]
    assert inproc_emulator.exchange(inproc_emulator.workload_token(sub="repo:acme/docs:ref:x")).status_code == 200
    assert_refused(inproc_emulator.exchange(inproc_emulator.workload_token(sub="repo:evil/x:y")), 400, "invalid_grant")


def test_team_and_personal_tokens(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    team = {"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
            "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/*"}}
    personal = {"decision": "allow", "tokenType": "personal", "userLogin": "alice", "authorizedPermissions": [],
                "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/*"}}
    inproc_emulator.set_policies(issuer["id"], [team, personal])

    response = inproc_emulator.exchange(inproc_emulator.workload_token(), token_type="team", scope="team:platform")
    assert response.status_code == 200, response.text
    assert response.json()["issued_token_type"].endswith(":team") and response.json()["scope"] == "team:platform"
    info = inproc_emulator.get("/api/user", token=response.json()["access_token"]).json()["tokenInfo"]
    assert info["team"] == "platform" and info["organization"] == "acme"

    response = inproc_emulator.exchange(inproc_emulator.workload_token(), token_type="personal", scope="user:alice")
    user = inproc_emulator.get("/api/user", token=response.json()["access_token"]).json()
    assert user["githubLogin"] == "alice"

    assert_refused(
        inproc_emulator.exchange(inproc_emulator.workload_token(), token_type="team", scope="team:other"),
        400, "invalid_grant",
    )
    # The organization token was not granted by any policy.
    assert_refused(inproc_emulator.exchange(inproc_emulator.workload_token()), 400, "invalid_grant")


def test_an_expired_access_token_is_refused_by_api_user(trusted):
    access_token = trusted.exchange(trusted.workload_token()).json()["access_token"]
    with trusted.app.store.transaction() as state:
        for record in state.tokens.values():
            record["expiresAt"] = time.time() - 1
    assert trusted.get("/api/user", token=access_token).status_code == 401


def test_an_issuer_with_uploaded_jwks_needs_no_network(inproc_emulator):
    url = "https://private-issuer.invalid"
    issuer = inproc_emulator.register_issuer(url=url, jwks=inproc_emulator.test_issuer.jwks())
    assert issuer["thumbprints"] == [] and issuer["jwks"]["keys"][0]["kid"] == inproc_emulator.test_issuer.kid
    inproc_emulator.set_policies(issuer["id"], [allow_policy("acme")])
    token = inproc_emulator.test_issuer.mint({"sub": SUB, "aud": "urn:pulumi:org:acme", "iss": url})
    assert inproc_emulator.exchange(token).status_code == 200


def test_keys_are_cached_and_an_unknown_kid_refetches_at_most_every_30_seconds(trusted):
    keys = trusted.app.keys
    assert trusted.exchange(trusted.workload_token()).status_code == 200
    assert trusted.exchange(trusted.workload_token()).status_code == 200
    assert keys.fetches == 1
    stranger = trusted.test_issuer.mint({"sub": SUB, "aud": "urn:pulumi:org:acme"}, kid="rotated-in")
    for _ in range(3):
        assert_refused(trusted.exchange(stranger), 400, "invalid_grant")
    assert keys.fetches == 1  # within 30 s of the last fetch: no refetch for unknown kids
    real_clock = keys.clock
    keys.clock = lambda: real_clock() + 31
    assert_refused(trusted.exchange(stranger), 400, "invalid_grant")
    assert keys.fetches == 2


# -- malformed requests --------------------------------------------------------------------------

MALFORMED = {
    "grant-type": {"grant_type": "client_credentials"},
    "subject-token-type": {"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"},
    "requested-token-type": {"requested_token_type": "urn:pulumi:token-type:access_token:admin"},
    "audience": {"audience": "acme"},
    "audience-with-colon": {"audience": "urn:pulumi:org:acme:extra"},
    "team-without-scope": {"requested_token_type": "urn:pulumi:token-type:access_token:team"},
    "org-with-team-scope": {"scope": "team:platform"},
    "expiration-text": {"expiration": "two hours"},
    "expiration-zero": {"expiration": "0"},
    "expiration-negative": {"expiration": "-60"},
    "no-subject-token": {"subject_token": None},
}


@pytest.mark.parametrize("overrides", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_are_invalid_request(trusted, overrides):
    overrides = dict(overrides)
    token = overrides.pop("subject_token") if "subject_token" in overrides else trusted.workload_token()
    response = trusted.exchange(token, **overrides)
    assert_refused(response, 400, "invalid_request")


def test_unsupported_content_types_and_repeated_form_fields_are_invalid_request(trusted):
    response = trusted.post("/api/oauth/token", token=None, data="x", headers={"Content-Type": "text/plain"})
    assert_refused(response, 400, "invalid_request")
    token = trusted.workload_token()
    body = urlencode({
        "audience": "urn:pulumi:org:acme", "grant_type": GRANT_TYPE_TOKEN_EXCHANGE, "scope": "",
        "requested_token_type": ORG_URN, "subject_token": token, "subject_token_type": SUBJECT_TOKEN_TYPE_ID_TOKEN,
    }) + "&scope=admin"
    response = trusted.post("/api/oauth/token", token=None, data=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_refused(response, 400, "invalid_request", token)


# -- hostile tokens ------------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def _valid_claims(emulator) -> dict:
    now = _now()
    return {"iss": emulator.test_issuer.url, "sub": SUB, "aud": "urn:pulumi:org:acme",
            "iat": now, "nbf": now, "exp": now + 600, "jti": "j"}


def alg_none(emulator):
    return unsigned({"alg": "none", "typ": "JWT", "kid": emulator.test_issuer.kid}, _valid_claims(emulator))


def hs256_with_public_key(emulator):
    # The classic key-confusion forgery: HMAC keyed with the issuer's public key PEM.
    header = {"alg": "HS256", "typ": "JWT", "kid": emulator.test_issuer.kid}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(_valid_claims(emulator)).encode())
    mac = hmac.new(emulator.test_issuer.public_key_pem(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def expired(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), iat=_now() - 900, nbf=_now() - 900, exp=_now() - 120)


def not_yet_valid(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), iat=_now() + 300, nbf=_now() + 300, exp=_now() + 900)


def wrong_aud(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), aud="sts.amazonaws.com")


def another_orgs_aud(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), aud="urn:pulumi:org:someone-else")


def wrong_iss(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), iss="https://token.actions.githubusercontent.com")


def unknown_kid(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), kid="no-such-key")


def no_kid(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), headers={"kid": None})


def tampered_payload(emulator):
    header, _, signature = emulator.test_issuer.mint(_valid_claims(emulator)).split(".")
    claims = dict(_valid_claims(emulator), sub="repo:acme/infra:ref:refs/heads/evil")
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def missing_sub(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), sub=None)


def missing_exp(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), exp=None)


def another_key_under_the_known_kid(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), key=OTHER_KEY)


def garbage(emulator):
    return "this-is-not-a-jwt"


def oversize(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), padding="x" * 17000)


def wrong_typ(emulator):
    return emulator.test_issuer.mint(_valid_claims(emulator), headers={"typ": "at+jwt"})


OTHER_KEY = new_rsa_key()

HOSTILE = {
    "alg-none": (alg_none, "invalid_grant", "algorithm not allowed"),
    "hs256-with-public-key": (hs256_with_public_key, "invalid_grant", "algorithm not allowed"),
    "expired": (expired, "invalid_grant", "token expired"),
    "not-yet-valid": (not_yet_valid, "invalid_grant", "not yet valid"),
    "wrong-aud": (wrong_aud, "invalid_grant", "audience mismatch"),
    "another-orgs-aud": (another_orgs_aud, "invalid_grant", "audience mismatch"),
    "wrong-iss": (wrong_iss, "invalid_grant", "unknown issuer"),
    "unknown-kid": (unknown_kid, "invalid_grant", "unknown key id"),
    "no-kid": (no_kid, "invalid_grant", "no kid"),
    "tampered-payload": (tampered_payload, "invalid_grant", "signature verification failed"),
    "missing-sub": (missing_sub, "invalid_grant", "missing required claim: sub"),
    "missing-exp": (missing_exp, "invalid_grant", "missing required claim: exp"),
    "another-key-under-known-kid": (another_key_under_the_known_kid, "invalid_grant", "signature verification failed"),
    "garbage": (garbage, "invalid_grant", "malformed token"),
    "wrong-typ": (wrong_typ, "invalid_grant", "wrong token type"),
    "oversize": (oversize, "invalid_request", "larger than"),
}


@pytest.mark.parametrize("make,error,reason", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_hostile_tokens_are_refused(trusted, make, error, reason, as_json):
    token = make(trusted)
    response = trusted.exchange(token, as_json=as_json)
    assert_refused(response, 400, error, token)
    assert reason in response.json()["error_description"]


def test_the_valid_token_beside_the_hostile_ones_is_accepted(trusted):
    token = trusted.test_issuer.mint(_valid_claims(trusted))
    assert trusted.exchange(token).status_code == 200


def test_a_token_within_the_leeway_is_accepted(trusted):
    token = trusted.test_issuer.mint(_valid_claims(trusted), iat=_now() + 30, nbf=_now() + 30, exp=_now() - 30 + 600)
    assert trusted.exchange(token).status_code == 200
    token = trusted.test_issuer.mint(_valid_claims(trusted), iat=_now() - 900, exp=_now() - 30)
    assert trusted.exchange(token).status_code == 200


def test_an_organization_that_trusts_no_issuer_is_an_invalid_organization(trusted):
    token = trusted.workload_token(org="other-org")
    response = trusted.exchange(token, org="other-org")
    assert_refused(response, 400, "invalid_request", token)
    assert response.json()["error_description"] == "invalid organization other-org"


def test_a_token_is_only_good_for_an_organization_that_registered_its_issuer(trusted):
    trusted.register_issuer("other-org", url="https://token.actions.githubusercontent.com")
    token = trusted.workload_token(org="other-org")
    response = trusted.exchange(token, org="other-org")
    assert_refused(response, 400, "invalid_grant", token)
    assert "unknown issuer" in response.json()["error_description"]


def test_a_denied_admin_scope_says_so(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    inproc_emulator.set_policies(issuer["id"], [allow_policy("acme")])
    assert inproc_emulator.exchange(inproc_emulator.workload_token()).status_code == 200
    response = inproc_emulator.exchange(inproc_emulator.workload_token(), scope="admin")
    assert_refused(response, 400, "invalid_grant")
    assert "admin scope is not granted" in response.json()["error_description"]
    inproc_emulator.set_policies(issuer["id"], [allow_policy("acme", authorizedPermissions=["admin"])])
    assert inproc_emulator.exchange(inproc_emulator.workload_token(), scope="admin").status_code == 200


def test_the_token_endpoint_answers_every_error_in_the_oauth_form(inproc_emulator):
    """What a client of the token endpoint parses (auth-actions prints error: error_description)."""
    inproc_emulator.register_issuer()
    assert_refused(inproc_emulator.get("/api/oauth/token", token=None), 405, "invalid_request")
    assert_refused(inproc_emulator.post("/api/oauth/tokens", token=None, data={"a": "b"}), 404, "invalid_request")
    too_large = inproc_emulator.post("/api/oauth/token", token=None, data=b"x" * ((1 << 20) + 1),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_refused(too_large, 413, "invalid_request")
    chunked = inproc_emulator.post("/api/oauth/token", token=None, data=iter([b"audience=x"]),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_refused(chunked, 411, "invalid_request")
    # The REST routes keep Pulumi Cloud's {code, message}.
    assert inproc_emulator.get("/api/nope").json()["code"] == 404


def test_an_internal_error_of_the_token_endpoint_is_a_server_error(inproc_emulator, monkeypatch):
    def broken(_params):
        raise RuntimeError("a bug")

    monkeypatch.setattr(inproc_emulator.app.exchange, "_exchange", broken)
    response = inproc_emulator.exchange(inproc_emulator.workload_token())
    assert response.status_code == 500
    assert response.json() == {"error": "server_error", "error_description": "internal server error"}


def test_an_audience_list_must_contain_the_requested_audience(trusted):
    ok = trusted.test_issuer.mint(_valid_claims(trusted), aud=["sts.amazonaws.com", "urn:pulumi:org:acme"])
    assert trusted.exchange(ok).status_code == 200
    bad = trusted.test_issuer.mint(_valid_claims(trusted), aud=["sts.amazonaws.com"])
    assert_refused(trusted.exchange(bad), 400, "invalid_grant", bad)


def test_pyjwt_itself_refuses_to_build_the_hs256_forgery(trusted):
    # Why the forgery above is crafted by hand: the library blocks public keys as HMAC secrets.
    with pytest.raises(jwt.InvalidKeyError):
        jwt.encode({"sub": "x"}, trusted.test_issuer.public_key_pem(), algorithm="HS256")


@pytest.mark.parametrize("expiration", [3600.5, True, "1e3", -1])
def test_json_expirations_must_be_whole_positive_seconds(trusted, expiration):
    response = trusted.exchange(trusted.workload_token(), expiration=expiration, as_json=True)
    assert_refused(response, 400, "invalid_request")
