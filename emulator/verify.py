"""Verification of the workload's OIDC token (the exchange's ``subject_token``) with PyJWT.

Hardened per RFC 8725 (research/peers.md §4): a size cap before anything is parsed; asymmetric
algorithms only, fixed here and never taken from the token alone; a ``kid`` is required and
must name a key of the issuer; the algorithm must fit that key; ``iss`` must be an issuer
registered in the requested organization; ``aud`` must contain the requested audience;
``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are required; at most 60 s of clock leeway; RSA
keys of at least 2048 bits; no claim longer than ``policy.MAX_CLAIM_LENGTH`` characters;
``exp``, ``iat`` and ``nbf`` must be JSON numbers (PyJWT would read ``"9999999999"``) and the
lifetime ``exp - iat`` at most ``MAX_TOKEN_LIFETIME_SECONDS`` (24 h: workload tokens live
minutes to an hour; a token valid until 9999 or issued at 1 is not one a platform mints).

Keys come from the issuer's uploaded ``jwks`` when it has one, otherwise from its discovery
document (``{url}/.well-known/openid-configuration`` -> ``jwks_uri``), fetched when a token
arrives, cached for five minutes, and refetched early at most once per 30 s when a token names
an unknown ``kid`` (so a stream of forged ``kid``s cannot make the emulator hammer an issuer).
A failed fetch is cached too, with a backoff from 5 s doubling to 5 min, so a stream of forged
tokens naming an unreachable issuer triggers one fetch, not one each. The whole fetch has a
deadline (``fetch.DEADLINE_SECONDS``). The caller, who need not be authenticated, is told only
that the keys could not be had: why (refused, TLS, status, pin) goes to the emulator's stderr
and ``KeyCache.last_failure``, never back over the exchange, which would make it a port scanner.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

import jwt

from pulumi_oidc_trust.provider.policy import oversized_claim

from .fetch import Fetcher, FetchError

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
MAX_TOKEN_BYTES = 16 * 1024
LEEWAY_SECONDS = 60
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
TIME_CLAIMS = ("exp", "iat", "nbf")
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
KEYS_TTL_SECONDS = 300.0
REFRESH_INTERVAL_SECONDS = 30.0
FAILURE_BACKOFF_SECONDS = 5.0
FAILURE_BACKOFF_MAX_SECONDS = 300.0
KEYS_UNAVAILABLE = (
    "cannot get the issuer's signing keys: its discovery document or JWKS could not be fetched or "
    "trusted (the emulator's log says why)"
)
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_ALLOWED_TYP = {"jwt", "application/jwt"}


class TokenRejected(Exception):
    """The subject token failed verification. ``description`` says what failed; never the token."""

    def __init__(self, description: str):
        self.description = description
        super().__init__(description)


def normalize_issuer(url: str) -> str:
    """Issuer URLs compare without a trailing slash (GitLab registers ``https://gitlab.com/``)."""
    return url.rstrip("/")


def algorithms_for(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    """The asymmetric algorithms a JWK may verify: its ``alg`` if it names one, else by key type."""
    alg = jwk.get("alg")
    if alg is not None:
        return (alg,) if alg in ASYMMETRIC_ALGORITHMS else ()
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "RSA":
        return ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
    if kty == "EC":
        return {"P-256": ("ES256",), "P-384": ("ES384",)}.get(crv, ())
    if kty == "OKP" and crv == "Ed25519":
        return ("EdDSA",)
    return ()


def jwks_problem(jwks: Any) -> str | None:
    """Why an uploaded ``jwks`` is unacceptable (None when it is fine): RFC 7517, public keys only."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        return "jwks must be a JSON Web Key Set: {\"keys\": [...]} (RFC 7517)"
    for i, key in enumerate(jwks["keys"]):
        if not isinstance(key, Mapping) or not isinstance(key.get("kty"), str):
            return f"jwks.keys[{i}] must be a JSON Web Key with a kty"
        if PRIVATE_JWK_MEMBERS & set(key):
            return f"jwks.keys[{i}] holds private or symmetric key material; upload public keys only"
        if not isinstance(key.get("kid"), str) or not key["kid"]:
            return f"jwks.keys[{i}] needs a kid (tokens name their signing key by kid)"
        if not algorithms_for(key):
            return f"jwks.keys[{i}] is not an RSA, EC (P-256/P-384) or Ed25519 signing key"
    return None


def usable_keys(jwks: Any) -> dict[str, dict[str, Any]]:
    """kid -> JWK for the signing keys of a set; keys this verifier cannot use are skipped."""
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


@dataclass
class _CachedKeys:
    keys: dict[str, dict[str, Any]]
    fetched_at: float


@dataclass
class _Failure:
    reason: str
    failed_at: float
    backoff: float


@dataclass
class KeyCache:
    """Signing keys per issuer, fetched from its discovery document when a token arrives."""

    fetcher: Fetcher = field(default_factory=Fetcher)
    clock: Callable[[], float] = time.monotonic
    ttl: float = KEYS_TTL_SECONDS
    refresh_interval: float = REFRESH_INTERVAL_SECONDS
    fetches: int = 0
    """How many discovery+JWKS fetches were made (tests read it to check the refresh limit)."""
    last_failure: str | None = None
    """Why the last fetch failed (for the operator and tests; never sent to a caller)."""

    def __post_init__(self) -> None:
        self._entries: dict[tuple, _CachedKeys] = {}
        self._failures: dict[tuple, _Failure] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def key_for(self, issuer: Mapping[str, Any], kid: str) -> dict[str, Any]:
        """The JWK named ``kid`` for a registered issuer, or TokenRejected."""
        if issuer.get("jwks"):
            key = usable_keys(issuer["jwks"]).get(kid)
            if key is None:
                raise TokenRejected("unknown key id: the issuer's uploaded jwks has no such signing key")
            return key
        cache_key = (issuer["id"], issuer["url"], tuple(sorted(issuer.get("thumbprints") or ())))
        with self._lock_for(cache_key):
            entry = self._entries.get(cache_key)
            if entry is None or self.clock() - entry.fetched_at >= self.ttl:
                entry = self._refresh(cache_key, issuer)
            elif kid not in entry.keys and self.clock() - entry.fetched_at >= self.refresh_interval:
                entry = self._refresh(cache_key, issuer)  # the issuer may have rotated its keys
            key = entry.keys.get(kid)
        if key is None:
            raise TokenRejected("unknown key id: the issuer publishes no signing key with the token's kid")
        return key

    def _lock_for(self, cache_key: tuple) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(cache_key, threading.Lock())

    def _refresh(self, cache_key: tuple, issuer: Mapping[str, Any]) -> _CachedKeys:
        failure = self._failures.get(cache_key)
        now = self.clock()
        if failure is not None and now - failure.failed_at < failure.backoff:
            raise TokenRejected(KEYS_UNAVAILABLE)  # cached failure: no fetch until the backoff ends
        self.fetches += 1
        try:
            keys = fetch_issuer_keys(self.fetcher, issuer)
        except FetchError as e:
            backoff = FAILURE_BACKOFF_SECONDS if failure is None else min(failure.backoff * 2, FAILURE_BACKOFF_MAX_SECONDS)
            self._failures[cache_key] = _Failure(str(e), self.clock(), backoff)
            self.last_failure = str(e)
            print(f"emulator: fetching the keys of issuer {issuer.get('id')} failed: {e}", file=sys.stderr)
            raise TokenRejected(KEYS_UNAVAILABLE) from None
        self._failures.pop(cache_key, None)
        entry = _CachedKeys(keys, self.clock())
        self._entries[cache_key] = entry
        return entry


def fetch_issuer_keys(fetcher: Fetcher, issuer: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Discovery document, then JWKS. The issuer's thumbprints pin the TLS certificate of its
    own host (Pulumi pins the certificate that serves the OpenID configuration)."""
    url = normalize_issuer(issuer["url"])
    pinned = list(issuer.get("thumbprints") or []) or None
    deadline = time.monotonic() + fetcher.deadline  # one deadline for both documents
    discovery = fetcher.get_json(url + "/.well-known/openid-configuration", pinned=pinned, deadline=deadline)
    named = discovery.get("issuer")
    if not isinstance(named, str) or normalize_issuer(named) != url:
        raise FetchError("the discovery document names a different issuer than the registered url")
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise FetchError("the discovery document has no jwks_uri")
    same_host = urlsplit(jwks_uri).netloc == urlsplit(url).netloc
    return usable_keys(fetcher.get_json(jwks_uri, pinned=pinned if same_host else None, deadline=deadline))


def verify_subject_token(
    token: str,
    audience: str,
    issuers: Sequence[Mapping[str, Any]],
    keys: KeyCache,
) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """Verify ``token`` for ``audience`` against the organization's ``issuers``.

    Returns (claims, the matching issuer record); raises TokenRejected saying what failed.
    """
    if not isinstance(token, str) or not token:
        raise TokenRejected("malformed token: empty")
    if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        raise TokenRejected(f"malformed token: larger than {MAX_TOKEN_BYTES} bytes")
    header, unverified = _read_unverified(token)
    too_long = oversized_claim(unverified)
    if too_long:  # before any key is fetched or any pattern matched
        raise TokenRejected(f"malformed token: {too_long}")
    _check_times(unverified)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("the token header has no kid")
    iss = unverified.get("iss")
    if not isinstance(iss, str) or not iss:
        raise TokenRejected("missing required claim: iss")
    issuer = _registered_issuer(iss, issuers)
    jwk = keys.key_for(issuer, kid)
    algorithm = header["alg"]
    if algorithm not in algorithms_for(jwk):
        raise TokenRejected("algorithm mismatch: the token's alg does not fit the issuer's key")
    claims = _decode(token, jwk, algorithm, audience, iss)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenRejected("missing required claim: sub")
    return claims, issuer


def _check_times(claims: Mapping[str, Any]) -> None:
    """Time claims are numbers and the lifetime is bounded (module docstring)."""
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


def _read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRejected("malformed token: not a signed JWT") from None
    if header.get("alg") not in ASYMMETRIC_ALGORITHMS:
        raise TokenRejected(
            "algorithm not allowed: only RS256/384/512, PS256/384/512, ES256/384 and EdDSA are accepted"
        )
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ALLOWED_TYP):
        raise TokenRejected("wrong token type: the header typ is not JWT")
    return header, claims


def _registered_issuer(iss: str, issuers: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    wanted = normalize_issuer(iss)
    for issuer in issuers:  # registration order: the oldest issuer with this URL decides
        if normalize_issuer(issuer["url"]) == wanted:
            return issuer
    shown = iss if len(iss) <= 200 else iss[:200] + "..."
    raise TokenRejected(f"unknown issuer: no issuer registered in this organization has url {shown!r}")


def _decode(token: str, jwk: dict[str, Any], algorithm: str, audience: str, iss: str) -> dict[str, Any]:
    try:
        key = jwt.PyJWK(jwk, algorithm).key
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
