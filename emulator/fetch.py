"""Outbound HTTP(S) to OIDC issuers: discovery documents, JWKS and certificate thumbprints.

The emulator reaches out only to issuers, and only in ways a careful verifier would:
https with certificate verification (system CAs plus the ``--issuer-ca`` bundle), the served
leaf certificate pinned to the issuer's thumbprints when it has some, plain http only to
loopback hosts, no redirects, short timeouts, a size cap, and a total deadline for the whole
fetch (``deadline``): a per-read timeout alone lets an issuer that sends one byte every few
seconds hold an exchange for as long as it likes.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from pulumi_oidc_trust.provider.urls import issuer_url_problem as _issuer_url_problem

TIMEOUT_SECONDS = 5.0
RESOLVE_SECONDS = 2.0
"""The most registration waits for the issuer's host name to resolve (``served_thumbprint``). The
system resolver has no timeout of its own a caller can set, and some stall 5 s or more on a burst
of lookups; past this bound the host counts as unreachable (what was supplied is kept)."""
DEADLINE_SECONDS = 10.0
"""The most one key fetch (discovery document + JWKS) may take, connecting and reading included."""
MAX_DOCUMENT_BYTES = 1 << 20
# A key set may be served as application/jwk-set+json (RFC 7517 section 8.5): kube-apiserver serves
# /openid/v1/jwks only as that and answers 406 to a plain "application/json".
ACCEPT = "application/json, application/jwk-set+json"


class FetchError(Exception):
    """An issuer document could not be fetched or trusted; the message says why (no secrets)."""


def issuer_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be an issuer URL (None when it can): the project's one rule."""
    if not isinstance(url, str) or not url:
        return "the issuer url is required"
    problem = _issuer_url_problem(url)
    return f"invalid issuer url: {problem}" if problem else None


def sha256_hex(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class Fetcher:
    """How the emulator reaches issuers. ``ca_file``: extra trusted CAs (PEM), e.g. ``--issuer-ca``.
    ``own_certificate``: the certificate(s) the emulator itself serves https with (``--tls-cert``),
    trusted as they are, so that its own test issuer's keys can be fetched over its own https."""

    ca_file: str | None = None
    timeout: float = TIMEOUT_SECONDS
    deadline: float = DEADLINE_SECONDS
    own_certificate: str | None = None
    resolve_timeout: float = RESOLVE_SECONDS

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        """System CAs plus ``ca_file`` (and ``own_certificate``); built once (loading the CA store is not free)."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        if self.own_certificate:
            # A leaf is a trust anchor only with partial chains allowed; only the holder of the
            # emulator's own key can present it.
            context.load_verify_locations(cafile=self.own_certificate)
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return context

    def served_thumbprint(self, url: str) -> str | None:
        """SHA-256 (lower-case hex) of the leaf certificate the https host of ``url`` serves.

        None when the host cannot be reached or its certificate is not trusted: registration
        then keeps what the caller supplied (keys are fetched when a token arrives).
        """
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            return None
        try:
            port = parts.port or 443
            addresses = resolve(parts.hostname, port, self.resolve_timeout)
            if addresses is None:
                return None  # the resolver did not answer in time: as if unreachable
            with _connect_first(addresses, self.timeout) as raw:
                with self.ssl_context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
                    der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError, ValueError):
            return None
        return sha256_hex(der) if der else None

    def get_json(self, url: str, *, pinned: list[str] | None = None, deadline: float | None = None) -> dict:
        """GET a JSON object. ``pinned``: thumbprints one of which the served leaf must have.
        ``deadline``: a ``time.monotonic()`` instant by which all of it is done (default: now +
        ``self.deadline``); the connection is shut when it passes."""
        problem = issuer_url_problem(url)
        if problem:
            raise FetchError(problem)
        deadline = time.monotonic() + self.deadline if deadline is None else deadline
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"fetching from the issuer took longer than {self.deadline:g} s")
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection = self._connect(parts, min(self.timeout, remaining))
        except (http.client.HTTPException, ValueError) as e:
            raise FetchError(f"cannot fetch {url}: {_reason(e)}") from None
        expired = threading.Event()
        watchdog = threading.Timer(remaining, _shut, (connection, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request("GET", path, headers={"Accept": ACCEPT, "User-Agent": "pulumi-emulator"})
            if pinned is not None and parts.scheme == "https":
                self._check_pin(connection, pinned, parts.hostname)
            response = connection.getresponse()
            if 300 <= response.status < 400:
                raise FetchError(f"{url} answered a redirect ({response.status}); redirects are not followed")
            if response.status != 200:
                raise FetchError(f"{url} answered HTTP {response.status}")
            raw = response.read(MAX_DOCUMENT_BYTES + 1)
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as e:
            # ValueError: what http.client refuses to send (UnicodeEncodeError for a non-ASCII path)
            if expired.is_set():
                raise FetchError(f"{url} took longer than the {self.deadline:g} s deadline") from None
            raise FetchError(f"cannot fetch {url}: {_reason(e)}") from None
        finally:
            watchdog.cancel()
            connection.close()
        if expired.is_set():
            raise FetchError(f"{url} took longer than the {self.deadline:g} s deadline")
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise FetchError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
            raise FetchError(f"{url} did not answer JSON (or nests it too deep)") from None
        if not isinstance(document, dict):
            raise FetchError(f"{url} did not answer a JSON object")
        return document

    def _connect(self, parts, timeout: float) -> http.client.HTTPConnection:
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=self.ssl_context)
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    @staticmethod
    def _check_pin(connection: http.client.HTTPSConnection, pinned: list[str], host: str) -> None:
        der = connection.sock.getpeercert(binary_form=True) if connection.sock else None
        served = sha256_hex(der) if der else ""
        if served not in {p.lower() for p in pinned}:
            raise FetchError(
                f"the TLS certificate served by {host} (SHA-256 {served}) matches none of the "
                "issuer's thumbprints; regenerate or update them"
            )


def resolve(host: str, port: int, timeout: float) -> list[tuple[str, int]] | None:
    """The (address, port)s ``host`` resolves to for a TCP connection, in the resolver's order, or
    None when the resolver has not answered within ``timeout`` seconds. OSError when it answers no.

    The lookup runs in a daemon thread of its own, so the caller stops waiting at the bound and a
    stalled lookup never holds a request's thread, nor the emulator's exit."""
    answer: dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as e:
            answer["error"] = e
        finally:
            done.set()

    threading.Thread(target=lookup, name="resolve", daemon=True).start()
    if not done.wait(timeout):
        return None
    if "error" in answer:
        raise answer["error"]
    if not answer["infos"]:
        raise OSError(f"{host} resolves to no address")
    return [(info[4][0], info[4][1]) for info in answer["infos"]]


def _connect_first(addresses: list[tuple[str, int]], timeout: float) -> socket.socket:
    """A connection to the first of ``addresses`` that accepts one (numeric: no lookup)."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection(address, timeout)
        except OSError as e:
            error = e
    raise error


def _shut(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    """The deadline passed: unblock whatever read is waiting on the connection."""
    expired.set()
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message})"
    return f"{type(error).__name__}: {error}"
