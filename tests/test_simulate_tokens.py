"""The simulator's token handling and output: <jwt|file://path>, decoding, verifying, rendering."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from pulumi_oidc_trust.emulator import TestIssuer, public_jwk
from pulumi_oidc_trust.provider.policy import Request, parse_policies
from pulumi_oidc_trust.provider.simulate import (
    TokenError,
    build_request,
    closest_allow,
    decode_token,
    looks_like_jwt,
    read_token_argument,
    render_json,
    render_text,
    simulate,
)


@pytest.fixture(scope="module")
def issuer(request) -> TestIssuer:
    from pulumi_oidc_trust.emulator import new_rsa_key

    return TestIssuer("https://issuer.example.com", key=new_rsa_key())


@pytest.fixture
def token(issuer) -> str:
    return issuer.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": "urn:pulumi:org:acme"})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- <jwt|file://path> -------------------------------------------------------------------------


def test_a_jwt_is_used_as_is(token):
    assert read_token_argument(token) == token


def test_file_token_is_read_and_stripped(tmp_path, token):
    path = tmp_path / "token"
    path.write_text(f"\n  {token}\n")
    assert read_token_argument(f"file://{path}") == token


def test_missing_file(tmp_path):
    with pytest.raises(TokenError, match=r"^reading token from file '.*/nope': No such file or directory; write the "
                       r"token to that file first, or give the path of the file that holds it \(file://PATH: "):
        read_token_argument(f"file://{tmp_path}/nope")


def test_empty_file(tmp_path):
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(TokenError, match=r"^file '.*/empty' is empty$"):
        read_token_argument(f"file://{tmp_path}/empty")


def test_file_without_a_jwt(tmp_path):
    (tmp_path / "t").write_text("not-a-token")
    with pytest.raises(TokenError, match=r"^unexpected token format in file '.*/t'$"):
        read_token_argument(f"file://{tmp_path}/t")


def test_oversized_file_is_not_a_token(tmp_path, token):
    (tmp_path / "big").write_text(token + "A" * 20000)
    with pytest.raises(TokenError, match="unexpected token format"):
        read_token_argument(f"file://{tmp_path}/big")


def test_short_non_token_is_echoed():
    with pytest.raises(TokenError, match=r"^must be JWT or 'file://filepath'. Got 'nonsense'$"):
        read_token_argument("nonsense")


def test_a_path_without_file_prefix_gets_a_hint(tmp_path, token):
    path = tmp_path / "token"
    path.write_text(token)
    with pytest.raises(TokenError, match=f"Got '{path}'; to read the token from that file, write 'file://{path}'"):
        read_token_argument(str(path))


@pytest.mark.parametrize(
    "value",
    [
        "eyJhbGciOiJub3RoaW5nIn0.eyJzdWIiOiJ4In0.sig",  # JWT-shaped, unregistered alg
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",  # some other secret
        "pul-0123456789abcdef0123456789abcdef01234567",  # a Pulumi access token
    ],
)
def test_a_value_that_may_be_a_token_is_never_echoed(value):
    with pytest.raises(TokenError) as e:
        read_token_argument(value)
    assert value not in str(e.value)
    assert "Got the value" in str(e.value)


def test_truncated_jwt_is_never_echoed(token):
    header, payload, _ = token.split(".")
    broken = f"{header}.{payload[:40]}"  # e.g. a copy-paste that lost its end
    with pytest.raises(TokenError) as e:
        read_token_argument(broken)
    assert broken not in str(e.value) and broken[:20] not in str(e.value)


def test_looks_like_jwt_follows_the_cli():
    assert looks_like_jwt(f"{_b64({'alg': 'none'})}.{_b64({'sub': 'x'})}.")
    assert not looks_like_jwt(f"{_b64({'alg': 'XX'})}.{_b64({'sub': 'x'})}.sig")
    assert not looks_like_jwt(f"{_b64({'alg': 'RS256'})}.{_b64(['x'])}.sig")
    assert not looks_like_jwt("a.b")


# -- decoding and verifying ----------------------------------------------------------------------


def test_unverified_decode_is_labelled(token):
    decoded = decode_token(token)
    assert decoded.verified is False and decoded.note.startswith("unverified")
    assert decoded.claims["sub"] == "repo:acme/infra:ref:refs/heads/main"
    assert decoded.header["alg"] == "RS256"


def test_unverified_decode_reads_expired_tokens(issuer):
    decoded = decode_token(issuer.mint({"sub": "x"}, exp=int(time.time()) - 3600))
    assert decoded.claims["sub"] == "x"


ACME = "urn:pulumi:org:acme"


def _verify(issuer, token, jwks=None, **kwargs):
    """``decode_token`` verifying with ``issuer``'s JWKS (or ``jwks``) for acme's exchange."""
    kwargs.setdefault("audience", ACME)
    return decode_token(token, verify_with=issuer.jwks() if jwks is None else jwks, issuer=issuer.url, **kwargs)


def test_verified_with_jwks(issuer, token):
    decoded = _verify(issuer, token)
    assert decoded.verified and "verified with the given JWKS" in decoded.note
    assert f"iss {issuer.url}" in decoded.note and f"aud {ACME}" in decoded.note


def test_verifying_needs_the_audience_and_the_issuer(issuer, token):
    with pytest.raises(TokenError, match="needs the audience"):
        decode_token(token, verify_with=issuer.jwks(), issuer=issuer.url)
    with pytest.raises(TokenError, match="give that issuer's URL"):
        decode_token(token, verify_with=issuer.jwks(), audience=ACME)


def test_verified_with_audience(issuer, token):
    with pytest.raises(TokenError, match="failed verification.*audience mismatch"):
        _verify(issuer, token, audience="urn:pulumi:org:other")


def test_the_issuer_is_compared_with_a_jwks(issuer, token):
    with pytest.raises(TokenError, match="unknown issuer"):
        decode_token(token, verify_with=issuer.jwks(), issuer="https://other.example.com", audience=ACME)


def test_wrong_key_fails(issuer, token):
    other = TestIssuer("https://issuer.example.com", kid=issuer.kid)
    with pytest.raises(TokenError, match="signature verification failed"):
        _verify(other, token)


def test_required_claims(issuer):
    with pytest.raises(TokenError, match="missing required claim: sub"):
        _verify(issuer, issuer.mint({"aud": ACME}))


def test_expired_token_fails_verification(issuer):
    with pytest.raises(TokenError, match="expired"):
        _verify(issuer, issuer.mint({"sub": "x", "aud": ACME}, exp=int(time.time()) - 3600))


def test_symmetric_tokens_are_never_verified(issuer):
    forged = jwt.encode({"sub": "x", "iss": issuer.url, "aud": ACME, "iat": 1, "exp": 2**31}, "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256", headers={"kid": issuer.kid})
    with pytest.raises(TokenError, match="failed verification.*algorithm not allowed"):
        _verify(issuer, forged)
    with pytest.raises(TokenError, match="failed verification.*algorithm not allowed"):
        _verify(issuer, forged, jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": issuer.kid}]})


def test_a_key_the_exchange_cannot_use_is_named(issuer):
    token = issuer.mint({"sub": "x", "aud": ACME}, kid="oct")
    with pytest.raises(TokenError, match="unusable key"):
        _verify(issuer, token, jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "oct"}]})


def test_unknown_kid(issuer, token):
    with pytest.raises(TokenError, match="unknown key id"):
        _verify(issuer, token, jwks={"keys": [public_jwk(issuer.key, "other")]})


def test_verified_by_discovery(inproc_emulator):
    issuer = inproc_emulator.test_issuer
    token = issuer.mint({"sub": "x", "aud": ACME})
    decoded = decode_token(token, discovery_url=issuer.url, audience=ACME)
    assert decoded.verified and "discovery" in decoded.note
    # the issuer in the discovery document must be the token's iss
    wrong = issuer.mint({"sub": "x", "aud": ACME}, iss="https://elsewhere.example.com")
    with pytest.raises(TokenError, match="unknown issuer"):
        decode_token(wrong, discovery_url=issuer.url, audience=ACME)


def test_discovery_refuses_plain_http_off_loopback(token):
    with pytest.raises(TokenError, match="needs https"):
        decode_token(token, discovery_url="http://issuer.example.com", audience=ACME)


def test_garbage_is_not_decoded():
    with pytest.raises(TokenError, match="not a decodable JWT"):
        decode_token("a.b.c")


# -- requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,expected",
    [
        ({}, Request("organization")),
        ({"admin": True}, Request("organization", None, True)),
        ({"team": "t"}, Request("team", "t")),
        ({"user": "u"}, Request("personal", "u")),
        ({"runner": "r"}, Request("runner", "r")),
        ({"token_type": "team", "team": "t"}, Request("team", "t")),
    ],
)
def test_build_request(kwargs, expected):
    assert build_request(kwargs.pop("token_type", None), **kwargs) == expected


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        ((None,), {"team": "t", "user": "u"}, "only one of team, user or runner"),
        (("team",), {}, "needs the team"),
        (("organization",), {"team": "t"}, "names no team"),
        (("team",), {"user": "u"}, "cannot be for a personal"),
        (("team",), {"team": "t", "admin": True}, "organization tokens only"),
        (("robot",), {}, "is not one of"),
    ],
)
def test_build_request_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_request(*args, **kwargs)


# -- rendering -----------------------------------------------------------------------------------

POLICIES = parse_policies(
    [
        {"decision": "deny", "tokenType": "organization", "rules": {"sub": "repo:acme/infra:pull_request"}},
        {"decision": "allow", "tokenType": "team", "teamName": "plat*", "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main"}},
    ]
)


def test_text_shows_every_policy_and_every_rule():
    request = Request("team", "platform")
    claims = {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/dev"}
    text = render_text(simulate(POLICIES, claims, request), POLICIES, request)
    assert text.splitlines()[0] == "DENIED: no policy matched"
    assert "policy 0: deny organization token -> does not apply: token type 'organization' is not the requested 'team'" in text
    assert "policy 1: allow team token for 'plat*' -> no match" in text
    assert "ok   claim aud matches 'urn:pulumi:org:acme'" in text
    assert "FAIL claim sub='repo:acme/infra:ref:refs/heads/dev' does not match 'repo:acme/infra:ref:refs/heads/main'" in text
    assert "closest allow: policy 1" in text


def test_text_names_the_deciding_policy():
    request = Request("team", "platform")
    claims = {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main"}
    text = render_text(simulate(POLICIES, claims, request), POLICIES, request)
    assert text.startswith("ALLOWED by policy 1 (allow team token for 'plat*')")
    assert "-> decides" in text


def test_json_decision_shape(token):
    request = Request("team", "platform")
    decoded = decode_token(token)
    decision = simulate(POLICIES, decoded.claims, request)
    data = render_json(decision, request, token=decoded)
    assert {"allowed", "policy_index", "token_type", "reasons", "request", "token"} <= set(data)
    assert data["allowed"] is True and data["policy_index"] == 1 and data["token_type"] == "team"
    assert data["token"]["verified"] is False
    assert data["reasons"][1]["rules"][1] == {
        "claim": "sub",
        "pattern": "repo:acme/infra:ref:refs/heads/main",
        "matched": True,
        "reason": "claim sub matches 'repo:acme/infra:ref:refs/heads/main'",
    }
    json.dumps(data)  # serializable
    assert token not in json.dumps(data)


def test_closest_allow_prefers_a_policy_that_applies():
    decision = simulate(POLICIES, {"sub": "x"}, Request("team", "platform"))
    assert closest_allow(decision).index == 1
    assert closest_allow(simulate(POLICIES, {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main"}, Request("team", "platform"))) is None
