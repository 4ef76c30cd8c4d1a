"""Rules over an issuer's own settings: URL, uploaded JWKS, lifetime cap, thumbprints, and what the
service reports of its use (``lastUsed``)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from ..duration import format_duration
from ..phrasing import Fix, Ref, Verbatim
from ..urls import is_loopback_host
from .catalog import RULES, Finding
from .profiles import issuer_profile

def _issuer_finding(rule_id: str, message: str, fix: str, severity: str | None = None) -> Finding:
    return Finding(rule_id, severity or RULES[rule_id].severity, message, fix)


def check_issuer_url(url: str) -> list[Finding]:
    """OIDC017: tokens carry ``iss`` exactly; Pulumi Cloud fetches discovery over https."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # raises ValueError for a malformed port
    except ValueError as e:
        return [_issuer_finding("OIDC017", f"issuer URL {url!r} cannot be parsed ({e}).", "write an https URL such as 'https://issuer.example.com'")]
    out = []
    if parts.scheme == "http" and is_loopback_host(host):
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} is plain http on loopback: fine for local testing only.",
                "register the issuer's https URL for real use",
                "warning",
            )
        )
    elif parts.scheme != "https" or not host:
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} is not an https URL: Pulumi Cloud fetches the discovery document and keys over https.",
                "use the issuer's https URL exactly as its tokens' iss claim spells it",
            )
        )
    if parts.query or parts.fragment:
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} has a query or fragment, which an OIDC issuer identifier may not have.",
                "remove everything from '?' or '#'",
            )
        )
    if parts.username is not None or parts.password is not None:
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL has user information before the host ({parts.scheme}://...@{host}).",
                "remove 'user:password@' from the URL; issuers are public",
            )
        )
    profile = issuer_profile(url)
    if profile is not None and profile.kind == "github" and url.endswith("/"):
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} ends with '/', but GitHub's tokens carry iss without it.",
                "register 'https://token.actions.githubusercontent.com' (no trailing slash)",
            )
        )
    return out


_PRIVATE_SUFFIXES = (".svc", ".cluster.local", ".local", ".internal", ".localdomain")


def _private_host(host: str) -> bool:
    """A host Pulumi Cloud cannot reach: cluster-internal names, single labels, private IPs.
    (Loopback is the local-testing case, reported by OIDC017.)"""
    if not host or is_loopback_host(host):
        return False
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return host.endswith(_PRIVATE_SUFFIXES) or "." not in host


def check_private_issuer(url: str, jwks: Mapping[str, Any] | None) -> list[Finding]:
    """OIDC025: Pulumi Cloud cannot reach a cluster-internal issuer's keys; upload them."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return []
    if jwks is not None or not _private_host(host):
        return []
    return [
        _issuer_finding(
            "OIDC025",
            f"issuer {url!r} is on a private host and no JWKS is uploaded: Pulumi Cloud cannot fetch its keys, "
            "so every exchange fails.",
            Fix(
                "upload the issuer's public keys: {jwks}",
                jwks=Ref("jwks", Verbatim(
                    python="json.loads(<output of `kubectl get --raw /openid/v1/jwks`>)",
                    config='"$(kubectl get --raw /openid/v1/jwks)"',
                    cli="FILE (from `kubectl get --raw /openid/v1/jwks > FILE`)",
                )),
            ),
        )
    ]


_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_JWKS_KEYS = 20
MAX_JWKS_BYTES = 64 * 1024


def check_jwks(jwks: Mapping[str, Any]) -> list[Finding]:
    """OIDC019: problems in an uploaded JWKS (key confusion, leaked private keys, DoS)."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not keys:
        return [_issuer_finding("OIDC019", "the JWKS has no 'keys' list.", "upload {'keys': [<public JWK>, ...]}", "error")]
    out = []
    size = len(json.dumps(jwks))
    if size > MAX_JWKS_BYTES:
        out.append(_issuer_finding("OIDC019", f"the JWKS is {size} bytes (more than 64 KB).", "upload only the keys in use"))
    if len(keys) > MAX_JWKS_KEYS:
        out.append(_issuer_finding("OIDC019", f"the JWKS holds {len(keys)} keys (more than {MAX_JWKS_KEYS}).", "upload only the keys in use"))
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if not isinstance(key, Mapping):
            out.append(_issuer_finding("OIDC019", f"JWKS key {i} is not an object.", "each key is a JWK object", "error"))
            continue
        kid = key.get("kid")
        name = f"JWKS key {i}" + (f" (kid {kid!r})" if kid else "")
        private = [m for m in _PRIVATE_MEMBERS if m in key]
        if key.get("kty") == "oct":
            out.append(
                _issuer_finding("OIDC019", f"{name} is a symmetric (kty oct) secret: whoever reads it can sign tokens.", "upload public keys only (RSA, EC or OKP)", "error")
            )
        elif private:
            out.append(
                _issuer_finding(
                    "OIDC019",
                    f"{name} contains private key material ({', '.join(private)}).",
                    "upload the public key only: remove " + ", ".join(repr(m) for m in private) + " and rotate the key, it is exposed",
                    "error",
                )
            )
        if not kid:
            out.append(_issuer_finding("OIDC019", f"{name} has no kid, so tokens cannot name it and rotation breaks.", "give every key a unique 'kid'"))
        elif kid in seen:
            out.append(_issuer_finding("OIDC019", f"{name}: kid {kid!r} appears twice.", "give every key a unique 'kid'"))
        else:
            seen.add(kid)
        if key.get("use") not in (None, "sig"):
            out.append(_issuer_finding("OIDC019", f"{name} has use {key.get('use')!r}, not 'sig'.", "upload signing keys ('use': 'sig')"))
        if key.get("kty") == "RSA" and isinstance(key.get("n"), str):
            bits = _rsa_bits(key["n"])
            if bits is not None and bits < 2048:
                out.append(_issuer_finding("OIDC019", f"{name} is a {bits}-bit RSA key.", "use RSA keys of at least 2048 bits, or EC P-256"))
    return out


def _rsa_bits(n: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big").bit_length()


CI_MAX_LIFETIME = 3600
ANY_MAX_LIFETIME = 86400


def check_lifetime(url: str, max_expiration: int | None, requested: int | None) -> list[Finding]:
    """OIDC016: long-lived Pulumi tokens undo the point of short-lived workload identity."""
    out = []
    profile = issuer_profile(url)
    if max_expiration is not None:
        limit = CI_MAX_LIFETIME if profile is not None and profile.ci else ANY_MAX_LIFETIME
        if max_expiration > limit:
            kind = "a CI issuer" if limit == CI_MAX_LIFETIME else "any issuer"
            out.append(
                _issuer_finding(
                    "OIDC016",
                    f"the issuer's maxExpiration is {format_duration(max_expiration)} ({max_expiration} s), more than "
                    f"{format_duration(limit)} for {kind}.",
                    Fix("set {cap} or less (the job's length)", cap=Ref("max_expiration_seconds", limit)),
                )
            )
    if requested is not None and max_expiration is not None and requested > max_expiration:
        out.append(
            _issuer_finding(
                "OIDC016",
                f"the requested expiration {format_duration(requested)} is longer than the issuer's maxExpiration "
                f"{format_duration(max_expiration)}: the service grants only the shorter one.",
                f"request at most {max_expiration} s",
            )
        )
    return out


def check_thumbprints(thumbprints: Sequence[str] | None) -> list[Finding]:
    """OIDC021: thumbprints pin a TLS certificate; Pulumi wants SHA-256 (64 hex characters)."""
    if not thumbprints:
        return []
    out = [
        _issuer_finding(
            "OIDC021",
            f"{len(thumbprints)} thumbprint(s) configured: exchanges fail when the issuer rotates its TLS certificate.",
            "omit thumbprints unless the issuer's certificate is not publicly trusted; otherwise rotate them with it",
        )
    ]
    for t in thumbprints:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", str(t)):
            hint = " (40 hex characters is an AWS-style SHA-1)" if re.fullmatch(r"[0-9a-fA-F]{40}", str(t)) else ""
            out.append(
                _issuer_finding(
                    "OIDC021",
                    f"thumbprint {t!r} is not a SHA-256 fingerprint{hint}.",
                    "write the certificate's SHA-256 fingerprint as 64 hex characters",
                    "warning",
                )
            )
    return out


STALE_AFTER_DAYS = 90
"""OIDC027: an issuer the service reports unused for this many days is stale trust."""


def parse_service_time(value: Any) -> datetime | None:
    """A service timestamp as UTC: the observed ``YYYY-MM-DD HH:MM:SS.mmm`` (no zone: UTC) or ISO
    8601 (the spec's word). None when it is absent or reads as neither."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def check_last_used(last_used: Any, now: datetime | None = None) -> list[Finding]:
    """OIDC027: the issuer has not been used for ``STALE_AFTER_DAYS`` days (``lastUsed``, as the
    service reports it). An absent ``lastUsed`` is "not reported", never a finding: the service
    omits the field, and an issuer registered but never used has none either."""
    at = parse_service_time(last_used)
    if at is None:
        return []
    days = ((now or datetime.now(timezone.utc)) - at).days
    if days < STALE_AFTER_DAYS:
        return []
    return [
        _issuer_finding(
            "OIDC027",
            f"the issuer was last used {days} days ago ({last_used}): trust nobody uses is still trust an attacker can use.",
            "remove the issuer if nothing logs in with it any more; otherwise confirm who still needs it",
        )
    ]
