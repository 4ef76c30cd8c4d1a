"""The emulator's side of verifying a workload's OIDC token: fetching and caching the keys.

What is checked lives in ``provider/token_verify.py``, shared with ``oidc-trust simulate`` so the
two cannot disagree (its docstring says which checks are documented service behaviour and which
are our choices). This module adds only where the keys come from: the issuer's uploaded ``jwks``
when it has one, otherwise its discovery document (``{url}/.well-known/openid-configuration`` ->
``jwks_uri``, which must pass the issuer-URL rule like the issuer itself), fetched when a token
arrives, cached for five minutes, and refetched early at most once per 30 s when a token names
an unknown ``kid`` (so a stream of forged ``kid``s cannot make the emulator hammer an issuer).

Every failed fetch is cached, whatever failed (refused, TLS, status, pin, a document that is not
JSON or nests too deep, a ``jwks_uri`` that is no URL), with a backoff from 5 s doubling to 5 min,
so a stream of forged tokens naming a broken issuer triggers one fetch, not one each, and is
answered 400, never 500. The whole fetch has a deadline (``fetch.DEADLINE_SECONDS``). The
caller, who need not be authenticated, is told only that the keys could not be had: why goes to
the emulator's stderr and ``KeyCache.last_failure``, never back over the exchange, which would
make it a port scanner.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from pulumi_oidc_trust.provider.token_verify import (  # noqa: F401  (re-exported for the emulator)
    MAX_TOKEN_BYTES,
    MAX_TOKEN_LIFETIME_SECONDS,
    TokenRejected,
    jwks_problem,
    normalize_issuer,
    static_key,
    usable_keys,
    verify_token,
)

from .fetch import Fetcher, FetchError, issuer_url_problem

KEYS_TTL_SECONDS = 300.0
REFRESH_INTERVAL_SECONDS = 30.0
FAILURE_BACKOFF_SECONDS = 5.0
FAILURE_BACKOFF_MAX_SECONDS = 300.0
KEYS_UNAVAILABLE = (
    "cannot get the issuer's signing keys: its discovery document or JWKS could not be fetched or "
    "trusted (the emulator's log says why)"
)


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
            return static_key(issuer, kid)
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
        except Exception as e:  # noqa: BLE001  whatever failed, it is cached: no refetch per token
            reason = str(e) if isinstance(e, FetchError) else f"unexpected {type(e).__name__} while fetching: {e}"
            backoff = FAILURE_BACKOFF_SECONDS if failure is None else min(failure.backoff * 2, FAILURE_BACKOFF_MAX_SECONDS)
            self._failures[cache_key] = _Failure(reason, self.clock(), backoff)
            self.last_failure = reason
            print(f"emulator: fetching the keys of issuer {issuer.get('id')} failed: {reason}", file=sys.stderr)
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
    problem = issuer_url_problem(jwks_uri)  # the issuer-URL rule, before the URL is parsed or used
    if problem:
        raise FetchError(f"the discovery document's jwks_uri is refused: {problem}")
    same_host = urlsplit(jwks_uri).netloc == urlsplit(url).netloc
    return usable_keys(fetcher.get_json(jwks_uri, pinned=pinned if same_host else None, deadline=deadline))


def verify_subject_token(
    token: str,
    audience: str,
    issuers: Sequence[Mapping[str, Any]],
    keys: KeyCache,
) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """Verify ``token`` for ``audience`` against the organization's ``issuers`` (the shared
    rule, ``provider.token_verify.verify_token``), with keys from ``keys``.

    Returns (claims, the matching issuer record); raises TokenRejected saying what failed.
    """
    return verify_token(token, audience, issuers, keys.key_for)
