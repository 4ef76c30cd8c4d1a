"""Verification of a workload's OIDC token: one rule for the emulator's exchange and ``simulate``.

The emulator's ``POST /api/oauth/token`` (``emulator/verify.py`` fetches and caches the keys) and
``oidc-trust simulate --jwks/--discovery`` (``provider/simulate.py`` reads or fetches them) both
call ``verify_token`` here, so a token one of them accepts the other cannot refuse.

Where each check comes from (research/pulumi_cloud_oidc.md):

* [documented] Pulumi Cloud's API: the exchange names the organization as the audience
  ``urn:pulumi:org:ORG`` (§3.1); an issuer is registered by its URL and its keys come from an
  uploaded ``jwks`` (RFC 7517) or from ``{url}/.well-known/openid-configuration`` -> ``jwks_uri``
  (§1.3); the certificate serving the discovery document is pinned by thumbprint (§1.5).
* [standard] what any OIDC verifier does (RFC 7519, OpenID Connect Core): the signature is
  checked with the issuer's key, ``exp``/``nbf`` are enforced, ``iss`` names the issuer. Assumed
  of the service; its exact answers are UNCONFIRMED (§8).
* [our choice] the rest, hardening per RFC 8725 (research/peers.md §4), none of it confirmed as
  the service's behaviour: that the token's ``aud`` must contain the requested audience (§3.1
  says UNCONFIRMED), that ``iss`` is matched to a registered issuer's ``url`` ignoring a trailing
  slash (the oldest such issuer decides), the algorithm allow-list (no ``none``, no shared
  secrets, no ES512/P-521), a required ``kid`` naming a key of that issuer, ``typ`` absent or
  ``JWT``, RSA keys of at least 2048 bits, required ``exp``/``iat``/``iss``/``aud``/``sub``,
  numeric time claims, a lifetime ``exp - iat`` of at most 24 h, 60 s of clock leeway, a 16 KB
  size cap and no claim longer than ``policy.MAX_CLAIM_LENGTH`` characters.

Each check's function below says which of the three it is. Refusals are ``TokenRejected``
whose ``description`` says what failed and never contains the token.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import jwt

from .policy import oversized_claim

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
"""[our choice] The algorithms a workload token may be signed with: never ``none``, never a
shared secret; ES512 (P-521) is left out, as no CI or cluster issuer we know signs with it."""
MAX_TOKEN_BYTES = 16 * 1024
"""[our choice] Workload tokens are a few KB; anything larger is refused before it is parsed."""
LEEWAY_SECONDS = 60
"""[our choice] Clock skew allowed on ``exp``, ``nbf`` and ``iat``."""
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
"""[our choice] The most ``exp - iat`` may be: workload tokens live minutes to an hour; a token
valid until 9999 or issued at 1 is not one a platform mints."""
TIME_CLAIMS = ("exp", "iat", "nbf")
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
"""[our choice] ``exp``, ``iss`` and ``sub`` are required by OIDC Core for ID tokens, ``aud``
carries the organization, ``iat`` bounds the lifetime."""
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
ALLOWED_TYP = frozenset({"jwt", "application/jwt"})
"""[our choice] A header ``typ`` other than JWT (``at+jwt``: an OAuth access token) is another
kind of token and is refused (RFC 8725 §3.11)."""
_CURVE_ALGORITHMS = {"P-256": ("ES256",), "P-384": ("ES384",)}
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")

KeyLookup = Callable[[Mapping[str, Any], str], Mapping[str, Any]]
"""(issuer record, kid) -> the JWK to verify with; raises ``TokenRejected`` when there is none.
The emulator fetches and caches (``emulator.verify.KeyCache.key_for``); the simulator passes
``static_key`` over the JWKS it was given or fetched."""


class TokenRejected(Exception):
    """The token failed verification. ``description`` says what failed; never the token."""

    def __init__(self, description: str):
        self.description = description
        super().__init__(description)


# ---------------------------------------------------------------------------------------------
# Keys


def normalize_issuer(url: str) -> str:
    """[our choice] Issuer URLs compare without a trailing slash (GitLab's guide registers
    ``https://gitlab.com/`` while its tokens say ``https://gitlab.com``)."""
    return url.rstrip("/")


def algorithms_for(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    """[our choice] The algorithms a JWK may verify: its ``alg`` if it is an allowed one, else by
    key type (RSA; EC P-256/P-384; Ed25519). Nothing for any other key, or a malformed one."""
    alg = jwk.get("alg")
    if alg is not None:
        return (alg,) if isinstance(alg, str) and alg in ASYMMETRIC_ALGORITHMS else ()
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "RSA":
        return _RSA_ALGORITHMS
    if kty == "EC" and isinstance(crv, str):
        return _CURVE_ALGORITHMS.get(crv, ())
    if kty == "OKP" and crv == "Ed25519":
        return ("EdDSA",)
    return ()


def jwk_problem(key: Any) -> str | None:
    """Why one key of an uploaded ``jwks`` is unacceptable (None when it is fine): a JWK with a
    ``kty`` [documented, RFC 7517], public [our choice: no private or symmetric members], with a
    ``kid`` and a type this verifier can use (``algorithms_for``) [our choice]. The one rule for a
    key: the emulator's registration (``jwks_problem``) and the provider's preview
    (``issuer.jwks_problems``) both apply it, so preview refuses what registration would."""
    if not isinstance(key, Mapping) or not isinstance(key.get("kty"), str):
        return "must be a JSON Web Key with a kty"
    private = sorted(PRIVATE_JWK_MEMBERS & set(key))
    if private:
        return f"holds private or symmetric key material ({', '.join(private)}); upload public keys only"
    if not isinstance(key.get("kid"), str) or not key["kid"]:
        return "needs a kid (tokens name their signing key by kid)"
    if not algorithms_for(key):
        return "is not an RSA, EC (P-256/P-384) or Ed25519 signing key"
    return None


def jwks_problem(jwks: Any) -> str | None:
    """Why an uploaded ``jwks`` is unacceptable (None when it is fine): RFC 7517 [documented],
    every key acceptable to ``jwk_problem``."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        return "jwks must be a JSON Web Key Set: {\"keys\": [...]} (RFC 7517)"
    for i, key in enumerate(jwks["keys"]):
        problem = jwk_problem(key)
        if problem:
            return f"jwks.keys[{i}] {problem}"
    return None


def usable_keys(jwks: Any) -> dict[str, dict[str, Any]]:
    """kid -> JWK for the signing keys of a set; keys this verifier cannot use are skipped
    (no kid, ``use`` other than ``sig``, private members, a type or curve it does not accept)."""
    keys: dict[str, dict[str, Any]] = {}
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        return keys
    for key in jwks["keys"]:
        if not isinstance(key, dict) or PRIVATE_JWK_MEMBERS & set(key):
            continue
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid or key.get("use", "sig") != "sig":
            continue
        if algorithms_for(key):
            keys.setdefault(kid, key)
    return keys


def static_key(issuer: Mapping[str, Any], kid: str) -> dict[str, Any]:
    """The key named ``kid`` in the issuer's own ``jwks`` (uploaded, or given to the simulator)."""
    key = usable_keys(issuer.get("jwks")).get(kid)
    if key is not None:
        return key
    if _names_a_key(issuer.get("jwks"), kid):
        raise TokenRejected(
            "unusable key: the key with the token's kid is not an RSA, EC (P-256/P-384) or Ed25519 "
            "public signing key"
        )
    raise TokenRejected("unknown key id: the issuer's jwks has no signing key with the token's kid")


def _names_a_key(jwks: Any, kid: str) -> bool:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    return isinstance(keys, list) and any(isinstance(k, Mapping) and k.get("kid") == kid for k in keys)


# ---------------------------------------------------------------------------------------------
# The token


def decode_unverified(token: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) as the token states them, nothing checked but that it is a compact JWS
    of at most ``MAX_TOKEN_BYTES`` whose header and payload are JSON objects. Deeply nested JSON
    and text that is not UTF-8 are refused like any other malformed token."""
    if not isinstance(token, str) or not token:
        raise TokenRejected("malformed token: empty")
    if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        raise TokenRejected(f"malformed token: larger than {MAX_TOKEN_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, RecursionError):
        raise TokenRejected("malformed token: not a signed JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected("malformed token: not a signed JWT")
    return header, claims


def verify_token(
    token: Any,
    audience: str,
    issuers: Sequence[Mapping[str, Any]],
    key_for: KeyLookup,
) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """Verify ``token`` for ``audience`` (``urn:pulumi:org:ORG``) against ``issuers`` (records
    with ``url`` and, for uploaded keys, ``jwks``), taking keys from ``key_for``.

    Returns (claims, the issuer record that matched); raises TokenRejected saying what failed.
    Order: size and shape, ``alg`` and ``typ``, claim sizes, time claims, ``kid``, ``iss``
    against the issuers, the key, then signature, ``exp``/``nbf``/``iat``, ``aud``, ``iss`` and
    the required claims with PyJWT.
    """
    header, unverified = decode_unverified(token)
    check_header(header)
    too_long = oversized_claim(unverified)
    if too_long:  # before any key is fetched or any pattern matched
        raise TokenRejected(f"malformed token: {too_long}")
    check_times(unverified)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("the token header has no kid")
    iss = unverified.get("iss")
    if not isinstance(iss, str) or not iss:
        raise TokenRejected("missing required claim: iss")
    issuer = registered_issuer(iss, issuers)
    jwk = key_for(issuer, kid)
    algorithm = header["alg"]
    if algorithm not in algorithms_for(jwk):
        raise TokenRejected("algorithm mismatch: the token's alg does not fit the issuer's key")
    claims = _decode(token, jwk, algorithm, audience, iss)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenRejected("missing required claim: sub")
    return claims, issuer


def check_header(header: Mapping[str, Any]) -> None:
    """[our choice] An allowed asymmetric ``alg`` (``ASYMMETRIC_ALGORITHMS``); ``typ`` absent or JWT."""
    if header.get("alg") not in ASYMMETRIC_ALGORITHMS:
        raise TokenRejected(
            "algorithm not allowed: only RS256/384/512, PS256/384/512, ES256/384 and EdDSA are accepted"
        )
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ALLOWED_TYP):
        raise TokenRejected("wrong token type: the header typ is not JWT")


def check_times(claims: Mapping[str, Any]) -> None:
    """[our choice] ``exp``, ``iat`` and ``nbf`` are JSON numbers (PyJWT would read the string
    ``"9999999999"``) and the lifetime ``exp - iat`` is at most ``MAX_TOKEN_LIFETIME_SECONDS``."""
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TokenRejected(f"invalid token: the {name} claim must be a number of seconds (NumericDate)")
    exp, iat = claims.get("exp"), claims.get("iat")
    if exp is not None and iat is not None and exp - iat > MAX_TOKEN_LIFETIME_SECONDS:
        raise TokenRejected(
            f"token lifetime too long: exp - iat is more than {MAX_TOKEN_LIFETIME_SECONDS} s "
            f"({MAX_TOKEN_LIFETIME_SECONDS // 3600} h); workload tokens are short-lived"
        )


def registered_issuer(iss: str, issuers: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """[standard] the token's ``iss`` names its issuer; [our choice] matched to a registered
    ``url`` without a trailing slash, in registration order (the oldest issuer with it decides)."""
    wanted = normalize_issuer(iss)
    for issuer in issuers:
        if normalize_issuer(issuer["url"]) == wanted:
            return issuer
    shown = iss if len(iss) <= 200 else iss[:200] + "..."
    raise TokenRejected(f"unknown issuer: no trusted issuer has url {shown!r} (the token's iss)")


def _decode(token: str, jwk: Mapping[str, Any], algorithm: str, audience: str, iss: str) -> dict[str, Any]:
    """[standard] signature, ``exp``, ``nbf``, ``iss``; [our choice] ``aud`` contains
    ``audience``, the required claims, the leeway and RSA keys of at least 2048 bits."""
    try:
        key = jwt.PyJWK(dict(jwk), algorithm).key
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=iss,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "enforce_minimum_key_length": True},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("token expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenRejected("token not yet valid (nbf or iat is in the future)") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected(f"audience mismatch: the token's aud does not contain {audience}") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("issuer mismatch") from None
    except jwt.MissingRequiredClaimError as e:
        raise TokenRejected(f"missing required claim: {e.claim}") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("signature verification failed") from None
    except jwt.InvalidAlgorithmError:
        raise TokenRejected("algorithm not allowed for this key") from None
    except jwt.InvalidKeyError:
        raise TokenRejected("the issuer's key is unusable (RSA keys need at least 2048 bits)") from None
    except jwt.PyJWTError as e:
        raise TokenRejected(f"invalid token: {type(e).__name__}") from None
    except (ValueError, TypeError):  # a malformed JWK (n or x not base64url, wrong types)
        raise TokenRejected("the issuer's key is unusable (a malformed JWK)") from None
