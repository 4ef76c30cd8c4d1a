"""Security review, round two (issue 23): verifying workload tokens, emulator and simulator alike.

Fault 8: ``simulate --jwks/--discovery`` and the emulator's exchange verify with one function
(``provider/token_verify.py``); a table runs the same tokens through both and asserts the same
verdict. Fault 3: whatever a discovery document provokes, the key fetch fails once, is cached
with the backoff, and the exchange answers 400. Smaller: a lone surrogate in ``subject_token``
and a deeply nested JSON body are 400s in the OAuth form, not 500s.

Every issuer here is a loopback server (the ``documents`` fixture); nothing leaves the machine.
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any, Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from pulumi_oidc_trust.emulator import new_rsa_key, public_jwk
from pulumi_oidc_trust.emulator.verify import FAILURE_BACKOFF_SECONDS, KEYS_UNAVAILABLE
from pulumi_oidc_trust.provider.policy import Request, parse_policies
from pulumi_oidc_trust.provider.simulate import TokenError, decode_token, simulate
from pulumi_oidc_trust.provider.wire import audience_for
from tests.conftest import allow_policy


# -- fault 8: one verdict for the simulator and the exchange --------------------------------------

ORG = "acme"
SUB = "repo:acme/infra:ref:refs/heads/main"


def _ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    return {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig"}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """Signing keys by kid: a good RSA key, a 1024-bit one, P-256 (accepted) and P-521 (not)."""
    return {
        "rsa": (new_rsa_key(), "RS256"),
        "rsa1024": (rsa.generate_private_key(public_exponent=65537, key_size=1024), "RS256"),
        "p256": (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        "p521": (ec.generate_private_key(ec.SECP521R1()), "ES512"),
    }


def _jwks(keys: dict[str, Any]) -> dict[str, Any]:
    out = []
    for kid, (key, _alg) in keys.items():
        out.append(public_jwk(key, kid) if isinstance(key, rsa.RSAPrivateKey) else _ec_jwk(key, kid))
    for jwk in out:
        jwk.pop("alg", None)  # as many issuers publish them: the key type says what it verifies
    return {"keys": out}


def _mint(keys, issuer_url: str, kid: str = "rsa", header: dict | None = None, **claims: Any) -> str:
    key, alg = keys[kid]
    now = int(time.time())
    body = {"iss": issuer_url, "sub": SUB, "aud": audience_for(ORG), "iat": now, "nbf": now, "exp": now + 600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    head = {"kid": kid, "typ": "JWT", **(header or {})}
    head = {k: v for k, v in head.items() if v is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about the 1024-bit key: that is the point
        return jwt.encode(body, key, algorithm=alg, headers=head)


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    return ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])


Make = Callable[[Any, str], str]
NOW = lambda: int(time.time())  # noqa: E731

# (case, how to make the token from (keys, issuer url), does the exchange accept it)
TABLE: list[tuple[str, Make, bool]] = [
    ("valid RSA-2048", lambda k, u: _mint(k, u), True),
    ("valid P-256", lambda k, u: _mint(k, u, kid="p256"), True),
    ("no kid", lambda k, u: _mint(k, u, header={"kid": None}), False),
    ("RSA-1024 key", lambda k, u: _mint(k, u, kid="rsa1024"), False),
    ("P-521 key", lambda k, u: _mint(k, u, kid="p521"), False),
    ("30-hour lifetime", lambda k, u: _mint(k, u, iat=NOW(), exp=NOW() + 30 * 3600), False),
    ("another organization's audience", lambda k, u: _mint(k, u, aud=audience_for("someone-else")), False),
    ("typ at+jwt", lambda k, u: _mint(k, u, header={"typ": "at+jwt"}), False),
    ("another issuer", lambda k, u: _mint(k, u, iss="https://token.actions.githubusercontent.com"), False),
    ("iss with a path below the issuer", lambda k, u: _mint(k, u, iss=u + "/other"), False),
    ("expired", lambda k, u: _mint(k, u, iat=NOW() - 900, nbf=NOW() - 900, exp=NOW() - 120), False),
    ("exp as a string", lambda k, u: _mint(k, u, exp=str(NOW() + 600)), False),
    ("no sub", lambda k, u: _mint(k, u, sub=None), False),
    ("no iat", lambda k, u: _mint(k, u, iat=None), False),
    ("unknown kid", lambda k, u: _mint(k, u, header={"kid": "nope"}), False),
    ("tampered signature", lambda k, u: _tampered(_mint(k, u)), False),
    ("alg none", lambda k, u: jwt.encode({"iss": u, "sub": SUB, "aud": audience_for(ORG), "iat": NOW(), "exp": NOW() + 600}, None, algorithm="none", headers={"kid": "rsa"}), False),
]


@pytest.fixture
def table_issuer(inproc_emulator, documents, keys):
    """A loopback issuer publishing ``keys``, trusted by the emulator's ``acme`` for ``repo:acme/*``."""
    jwks = _jwks(keys)
    discovery = {"issuer": documents.url, "jwks_uri": documents.url + "/jwks"}
    documents.routes = {
        "/.well-known/openid-configuration": json.dumps(discovery).encode(),
        "/jwks": json.dumps(jwks).encode(),
    }
    issuer = inproc_emulator.register_issuer(url=documents.url)
    inproc_emulator.set_policies(issuer["id"], [allow_policy(ORG)])
    return documents.url, jwks


def _simulator_allows(token: str, **verify: Any) -> bool:
    """The simulator's verdict: verified, and ALLOWED by the same policy the emulator holds."""
    try:
        decoded = decode_token(token, audience=audience_for(ORG), **verify)
    except TokenError:
        return False
    assert decoded.verified
    return simulate(parse_policies([allow_policy(ORG)]), decoded.claims, Request("organization")).allowed


@pytest.mark.parametrize("case, make, accepted", TABLE, ids=[row[0] for row in TABLE])
def test_the_simulator_and_the_exchange_give_the_same_verdict(inproc_emulator, table_issuer, keys, case, make, accepted):
    url, jwks = table_issuer
    token = make(keys, url)
    response = inproc_emulator.exchange(token)
    assert response.status_code in (200, 400), response.text
    exchange_accepts = response.status_code == 200
    with_jwks = _simulator_allows(token, verify_with=jwks, issuer=url)
    with_discovery = _simulator_allows(token, discovery_url=url)
    assert (exchange_accepts, with_jwks, with_discovery) == (accepted, accepted, accepted), response.text


def test_simulate_cli_compares_the_issuer_and_the_audience(tmp_path, capsys, keys, documents):
    """With --jwks the token's iss must be --issuer, and its aud must contain --org's audience."""
    from pulumi_oidc_trust.cli.main import main

    (tmp_path / "jwks.json").write_text(json.dumps(_jwks(keys)))
    (tmp_path / "policies.json").write_text(json.dumps([allow_policy(ORG)]))
    base = ["simulate", "--policies", str(tmp_path / "policies.json"), "--jwks", str(tmp_path / "jwks.json")]
    good = _mint(keys, documents.url)
    assert main([*base, "--token", good, "--issuer", documents.url, "--org", ORG]) == 0
    capsys.readouterr()

    forged_iss = _mint(keys, "https://elsewhere.example.com")
    assert main([*base, "--token", forged_iss, "--issuer", documents.url, "--org", ORG]) == 2
    assert "unknown issuer" in capsys.readouterr().err
    assert main([*base, "--token", good, "--issuer", documents.url, "--org", "someone-else"]) == 2
    assert "audience mismatch" in capsys.readouterr().err

    assert main([*base, "--token", good, "--org", ORG]) == 2  # the token's own iss is never trusted
    assert "--jwks needs --issuer URL" in capsys.readouterr().err
    assert main([*base, "--token", good, "--issuer", documents.url]) == 2
    assert "needs --org ORG" in capsys.readouterr().err


def test_a_deeply_nested_token_is_malformed_for_both(inproc_emulator, table_issuer):
    url, jwks = table_issuer
    import base64

    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    nested = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    token = ".".join([part(b'{"alg":"RS256","kid":"rsa"}'), part(nested), part(b"sig")])
    response = inproc_emulator.exchange(token)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text
    with pytest.raises(TokenError, match="not a decodable JWT"):
        decode_token(token)
    with pytest.raises(TokenError, match="not a decodable JWT"):
        decode_token(token, verify_with=jwks, issuer=url, audience=audience_for(ORG))


# -- fault 3: the key cache holds whatever failure a discovery document provokes -------------------

NESTED_JSON = b"[" * 100_000 + b"]" * 100_000

HOSTILE_DISCOVERY = {
    "non-ASCII jwks_uri": lambda url: json.dumps({"issuer": url, "jwks_uri": url + "/jwks\u00e9"}, ensure_ascii=False).encode(),
    "malformed IPv6 jwks_uri": lambda url: json.dumps({"issuer": url, "jwks_uri": "http://[::1/jwks"}).encode(),
    "jwks_uri off loopback over http": lambda url: json.dumps({"issuer": url, "jwks_uri": "http://example.com/jwks"}).encode(),
    "deeply nested document": lambda url: NESTED_JSON,
    "deeply nested JWKS": "nested-jwks",
    "JWKS with a list as curve": "list-curve",
}


@pytest.mark.parametrize("make", HOSTILE_DISCOVERY.values(), ids=HOSTILE_DISCOVERY.keys())
def test_every_key_fetch_failure_is_cached_and_answered_400(inproc_emulator, documents, make):
    url = documents.url
    discovery = {"issuer": url, "jwks_uri": url + "/jwks"}
    if make == "nested-jwks":
        routes = {"/.well-known/openid-configuration": json.dumps(discovery).encode(), "/jwks": NESTED_JSON}
    elif make == "list-curve":
        bad = {"keys": [{"kty": "EC", "crv": ["P-256"], "kid": "k", "x": "AA", "y": "AA"}]}
        routes = {"/.well-known/openid-configuration": json.dumps(discovery).encode(), "/jwks": json.dumps(bad).encode()}
    else:
        routes = {"/.well-known/openid-configuration": make(url)}
    documents.routes = routes
    issuer = inproc_emulator.register_issuer(url=url)
    inproc_emulator.set_policies(issuer["id"], [allow_policy(ORG)])
    keys = inproc_emulator.app.keys
    forged = inproc_emulator.test_issuer.mint({"sub": "repo:acme/x", "aud": audience_for(ORG), "iss": url})
    if make == "list-curve":  # the fetch succeeds; the unusable key is skipped, not a crash
        for _ in range(3):
            response = inproc_emulator.exchange(forged)
            assert response.status_code == 400 and "unknown key id" in response.json()["error_description"]
        return
    before = len(documents.hits)
    for _ in range(5):
        response = inproc_emulator.exchange(forged)
        assert response.status_code == 400, response.text
        assert response.json() == {"error": "invalid_grant", "error_description": KEYS_UNAVAILABLE}
    assert keys.fetches == 1  # five forged tokens, one fetch
    requests_made = len(documents.hits) - before
    assert requests_made <= 2  # the discovery document (and the JWKS), once
    real_clock = keys.clock
    keys.clock = lambda: real_clock() + FAILURE_BACKOFF_SECONDS + 1
    assert inproc_emulator.exchange(forged).status_code == 400
    assert keys.fetches == 2  # after the backoff, one more try, and the same answer
    assert keys.last_failure  # the operator learns why


def test_jwks_uri_goes_through_the_issuer_url_rule(inproc_emulator, documents):
    url = documents.url
    documents.routes = {
        "/.well-known/openid-configuration": json.dumps({"issuer": url, "jwks_uri": "http://user:pw@127.0.0.1:9/jwks"}).encode()
    }
    issuer = inproc_emulator.register_issuer(url=url)
    inproc_emulator.set_policies(issuer["id"], [allow_policy(ORG)])
    forged = inproc_emulator.test_issuer.mint({"sub": "repo:acme/x", "aud": audience_for(ORG), "iss": url})
    assert inproc_emulator.exchange(forged).status_code == 400
    failure = inproc_emulator.app.keys.last_failure
    assert "jwks_uri is refused" in failure and "user part" in failure and "pw" not in failure
    assert documents.hits == ["/.well-known/openid-configuration"]  # nothing was fetched from it


# -- an uploaded JWKS: preview refuses exactly what the service's registration refuses -------------

from pulumi_oidc_trust.provider import issuer as issuer_mod  # noqa: E402


def _rsa(keys: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**public_jwk(keys["rsa"][0], "rsa"), **extra}


# (case, the key set made from the test keys, is it accepted)
UPLOADED: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], bool]] = [
    ("RSA-2048", lambda k: {"keys": [_rsa(k)]}, True),
    ("P-256", lambda k: {"keys": [_ec_jwk(k["p256"][0], "p256")]}, True),
    ("P-521", lambda k: {"keys": [_rsa(k), _ec_jwk(k["p521"][0], "p521")]}, False),
    ("EC without a curve", lambda k: {"keys": [{**_ec_jwk(k["p256"][0], "p256"), "crv": None}]}, False),
    ("unknown key type", lambda k: {"keys": [{"kty": "XYZ", "kid": "x", "n": "AQAB"}]}, False),
    ("RSA key marked HS256", lambda k: {"keys": [_rsa(k, alg="HS256")]}, False),
    ("symmetric key", lambda k: {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}, False),
    ("private member", lambda k: {"keys": [_rsa(k, d="AAAA")]}, False),
    ("no kid", lambda k: {"keys": [_rsa(k, kid="")]}, False),
    ("curve as a list", lambda k: {"keys": [{**_ec_jwk(k["p256"][0], "p256"), "crv": ["P-256"]}]}, False),  # a 400, not a 500
]


@pytest.mark.parametrize("case, make, accepted", UPLOADED, ids=[row[0] for row in UPLOADED])
def test_preview_refuses_the_uploaded_jwks_the_registration_refuses(inproc_emulator, keys, case, make, accepted):
    jwks = make(keys)
    url = f"https://{case.lower().replace(' ', '-')}.issuer.example.com"
    preview = issuer_mod.jwks_problems(jwks)
    response = inproc_emulator.post(f"/api/orgs/{ORG}/oidc/issuers", json={"name": "t", "url": url, "jwks": jwks})
    assert response.status_code in (200, 400), response.text
    assert (not preview, response.status_code == 200) == (accepted, accepted), (preview, response.text)
    assert all(where.startswith("jwks.keys[") for where, _ in preview)
    assert "AAAA" not in repr(preview) and "c2VjcmV0" not in repr(preview)  # key material is never quoted


# -- smaller: bodies the exchange will not read are 400s in its own error form ---------------------


def _exchange_fields(**overrides: Any) -> dict[str, Any]:
    fields = {
        "audience": audience_for(ORG),
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type": "urn:pulumi:token-type:access_token:organization",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "subject_token": "x.y.z",
    }
    fields.update(overrides)
    return fields


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(_exchange_fields(subject_token="\ud800")).encode(),
        json.dumps(_exchange_fields(subject_token="eyJ\udfff.a.b")).encode(),
        json.dumps(_exchange_fields(scope="\ud800")).encode(),
        b"[" * 100_000 + b"]" * 100_000,
        b'{"subject_token": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["lone-surrogate", "surrogate-inside", "surrogate-in-scope", "nested-array", "nested-field"],
)
def test_unreadable_exchange_bodies_are_400_in_the_oauth_form(inproc_emulator, body):
    inproc_emulator.trust_test_issuer()
    response = inproc_emulator.post(
        "/api/oauth/token", token=None, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert set(response.json()) == {"error", "error_description"}


def test_a_deeply_nested_rest_body_is_400_in_the_rest_form(inproc_emulator):
    response = inproc_emulator.post(
        f"/api/orgs/{ORG}/oidc/issuers", data=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"code": 400, "message": "Bad Request: the request body is not valid JSON"}
