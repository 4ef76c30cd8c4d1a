"""https issuers: thumbprints computed at registration, checked when supplied, enforced when keys
are fetched, against a loopback TLS issuer whose certificate a generated CA signed."""

from __future__ import annotations

import hashlib
import socket
import ssl

from tests.conftest import InProcessEmulator, allow_policy

SUB = "repo:acme/infra:ref:refs/heads/main"


def served_leaf_sha256(tls_issuer) -> str:
    context = ssl.create_default_context(cafile=str(tls_issuer.ca_path))
    with socket.create_connection(("127.0.0.1", tls_issuer.port)) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def token_from(tls_issuer) -> str:
    return tls_issuer.mint({"sub": SUB, "aud": "urn:pulumi:org:acme"})


def test_the_thumbprint_computed_at_registration_is_the_served_leafs(tls_emulator, tls_issuer):
    issuer = tls_emulator.register_issuer(url=tls_issuer.url)
    assert issuer["thumbprints"] == [tls_issuer.thumbprint] == [served_leaf_sha256(tls_issuer)]


def test_a_wrong_supplied_thumbprint_is_refused_with_the_service_text(tls_emulator, tls_issuer):
    response = tls_emulator.post("/api/orgs/acme/oidc/issuers",
                                 json={"name": "tls", "url": tls_issuer.url, "thumbprints": ["00" * 32]})
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": f"Bad Request: Calculated thumbprint {tls_issuer.thumbprint} does not match any of the provided. "
                   "Make sure it is properly generated (SHA256).",
    }
    assert tls_emulator.issuers("acme") == []


def test_supplied_thumbprints_that_include_the_served_one_are_kept(tls_emulator, tls_issuer):
    supplied = ["11" * 32, tls_issuer.thumbprint.upper()]
    issuer = tls_emulator.register_issuer(url=tls_issuer.url, thumbprints=supplied)
    assert issuer["thumbprints"] == [t.lower() for t in supplied]


def test_exchange_through_an_https_issuer(tls_emulator, tls_issuer):
    tls_emulator.trust_test_issuer(url=tls_issuer.url)
    response = tls_emulator.exchange(token_from(tls_issuer))
    assert response.status_code == 200, response.text
    assert response.json()["access_token"].startswith("pul-")


def test_a_stale_thumbprint_is_refused_at_exchange_until_regenerated(tls_emulator, tls_issuer):
    issuer = tls_emulator.trust_test_issuer(url=tls_issuer.url)
    new_thumbprint = tls_issuer.rotate_certificate()
    assert issuer["thumbprints"] != [new_thumbprint]

    response = tls_emulator.exchange(token_from(tls_issuer))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    # The caller learns only that the keys could not be had; the operator's log says why.
    assert "cannot get the issuer's signing keys" in response.json()["error_description"]
    assert "matches none of the issuer's thumbprints" in tls_emulator.app.keys.last_failure

    regenerated = tls_emulator.post(f"/api/orgs/acme/oidc/issuers/{issuer['id']}/regenerate-thumbprints")
    assert regenerated.status_code == 200 and regenerated.json()["thumbprints"] == [new_thumbprint]
    assert tls_emulator.exchange(token_from(tls_issuer)).status_code == 200


def test_an_untrusted_certificate_is_never_trusted(access_token, test_issuer_key, tls_issuer):
    # Without --issuer-ca the loopback CA is unknown: registration cannot pin anything (it does
    # not fail, as for an unreachable host), and the exchange refuses to fetch keys over it.
    untrusting = InProcessEmulator(access_token, test_issuer_key=test_issuer_key)
    try:
        issuer = untrusting.register_issuer(url=tls_issuer.url)
        assert issuer["thumbprints"] == []
        untrusting.set_policies(issuer["id"], [allow_policy("acme")])
        response = untrusting.exchange(token_from(tls_issuer))
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
        assert "cannot get the issuer's signing keys" in response.json()["error_description"]
        assert "TLS certificate not trusted" in untrusting.app.keys.last_failure
    finally:
        untrusting.stop()
