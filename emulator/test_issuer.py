"""A test OIDC issuer: an RSA key, its discovery document and JWKS, and a token minter.

The emulator serves one at ``{base}/test-issuer``; ``tls_issuer`` serves one over https. From
Python, ``TestIssuer(url).mint({"sub": ..., "aud": ...})`` returns a signed JWT whose defaults
(``iss``, ``iat``, ``nbf``, ``exp`` = now + 600, ``jti``) the caller's claims override; a claim
given as None is left out, so tests can build expired, immature or incomplete tokens.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Mapping

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

DEFAULT_LIFETIME_SECONDS = 600


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA signing key (2048 bits: the smallest the verifier accepts)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_jwk(key: rsa.RSAPrivateKey | rsa.RSAPublicKey, kid: str) -> dict[str, Any]:
    """The RFC 7517 public JWK of an RSA key: kty, n, e, plus kid, alg RS256 and use sig."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": jwk["n"], "e": jwk["e"]}


class TestIssuer:
    """An OIDC issuer for tests: ``url``, ``discovery()``, ``jwks()``, ``mint()``.

    ``key``/``kid`` default to a fresh RSA key and a random kid. ``mint(..., key=other_key)``
    signs with another key (still under this issuer's kid unless ``kid=`` is given), which is
    how hostile tests forge tokens.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, url: str, *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None):
        self.url = url.rstrip("/")
        self.key = key or new_rsa_key()
        self.kid = kid or "test-" + secrets.token_hex(8)

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider configuration served at ``{url}/.well-known/openid-configuration``."""
        return {
            "issuer": self.url,
            "jwks_uri": self.url + "/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        }

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set (public key only) served at ``{url}/jwks``."""
        return {"keys": [public_jwk(self.key, self.kid)]}

    def public_key_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, claims: Mapping[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        """Default claims merged with the caller's; None values remove a claim."""
        now = int(time.time())
        merged: dict[str, Any] = {
            "iss": self.url,
            "iat": now,
            "nbf": now,
            "exp": now + DEFAULT_LIFETIME_SECONDS,
            "jti": secrets.token_hex(12),
        }
        merged.update(claims or {})
        merged.update(overrides)
        return {k: v for k, v in merged.items() if v is not None}

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A JWT signed RS256 with the defaults filled in (see ``claims``)."""
        header: dict[str, Any] = {"kid": kid or self.kid, "typ": "JWT"}
        header.update(headers or {})
        header = {k: v for k, v in header.items() if v is not None}
        return jwt.encode(self.claims(claims, **overrides), key or self.key, algorithm="RS256", headers=header)
