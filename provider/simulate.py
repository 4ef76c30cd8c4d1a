"""Dry-run an exchange: decode a workload token, decide it with the policy model, explain why.

``simulate`` is ``policy.evaluate``: the same semantics the emulator applies, in one place. This
module adds what a person troubleshooting a refused exchange needs around it:

* ``read_token_argument``: the Pulumi CLI's ``<jwt|file://path>`` rules and error texts, except
  that a value that may be a token is never echoed;
* ``decode_token``: the token's header and claims with PyJWT, unverified (and labelled so)
  unless a JWKS and its issuer, or the issuer's discovery document, are given with the
  audience; then it is verified by ``token_verify.verify_token``, the very function the
  emulator's exchange verifies with, so the two give the same verdict on every token;
* ``render_text`` / ``render_json``: the decision, the deciding policy, and for every policy
  which rule failed and why.
"""

from __future__ import annotations

import datetime

import base64
import binascii
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import requests
import urllib3

from .urls import issuer_url_problem
from .lint.claims import claim_problem
from .lint.profiles import issuer_profile
from .lint.subjects import form_mismatch, parse_subject
from .policy import (
    TOKEN_TYPES, Decision, oversized_claim, Policy, PolicyOutcome, Request, RuleOutcome, claim_present, evaluate,
    parse_claim_path, resolve_claim,
)
from .token_verify import LEEWAY_SECONDS, MAX_TOKEN_BYTES, TokenRejected, decode_unverified, static_key, verify_token

# golang-jwt's registered signing methods: what the Pulumi CLI's ParseUnverified accepts as a JWT
# (which ones verify is token_verify.ASYMMETRIC_ALGORITHMS: one rule with the emulator).
_REGISTERED_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    "HS256", "HS384", "HS512", "none",
})
FETCH_TIMEOUT = (5, 10)
FETCH_DEADLINE_SECONDS = 10.0
"""The most fetching the discovery document and the JWKS may take, together."""
MAX_DOCUMENT_BYTES = 1 << 20
"""Discovery documents and JWKS are a few KB; a larger answer is refused, not read whole."""
FILE_PREFIX = "file://"


class TokenError(ValueError):
    """A token could not be read, decoded or verified. The message never contains the token."""


# ---------------------------------------------------------------------------------------------
# Reading the <jwt|file://path> argument


def looks_like_jwt(value: str) -> bool:
    """Parses as a compact JWT the way the Pulumi CLI checks it: three dot-separated parts, a
    base64url JSON header with a registered ``alg`` and a base64url JSON object payload."""
    parts = value.split(".")
    if len(parts) != 3:
        return False
    header, payload = _b64_json(parts[0]), _b64_json(parts[1])
    return (
        isinstance(header, dict)
        and header.get("alg") in _REGISTERED_ALGORITHMS
        and isinstance(payload, dict)
    )


def _b64_json(segment: str) -> Any:
    if not segment or not re.fullmatch(r"[A-Za-z0-9_-]+", segment):
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        return None


def read_token_argument(value: str) -> str:
    """The token named by a ``--oidc-token`` style argument: a JWT as-is, or ``file://PATH``.

    Follows the Pulumi CLI (``getTokenValue``): a file's content is stripped of surrounding
    whitespace and must be a JWT. Raises ``TokenError`` with the CLI's texts ("reading token from
    file '%s': ...", "file '%s' is empty", "unexpected token format in file '%s'", "must be JWT
    or 'file://filepath'. Got '%s'"), but says "the value" instead of echoing anything that may
    be a token.
    """
    if not isinstance(value, str) or not value.strip():
        raise TokenError("oidc token must be specified for token exchange")
    value = value.strip()
    if looks_like_jwt(value):
        return value
    if value.startswith(FILE_PREFIX):
        path = value[len(FILE_PREFIX) :]
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_TOKEN_BYTES + 1)
        except OSError as e:
            fix = ("; write the token to that file first, or give the path of the file that holds it "
                   "(file://PATH: relative to the current folder, or file:///absolute/path)")
            raise TokenError(f"reading token from file '{path}': {e.strerror or type(e).__name__}{fix}") from None
        text = data.decode("utf-8", "replace").strip()
        if not text:
            raise TokenError(f"file '{path}' is empty")
        if len(data) > MAX_TOKEN_BYTES or not looks_like_jwt(text):
            raise TokenError(f"unexpected token format in file '{path}'")
        return text
    shown = "the value (not shown: it may be a token)" if _may_be_secret(value) else f"'{value}'"
    hint = ""
    if not _may_be_secret(value) and Path(value).is_file():
        hint = f"; to read the token from that file, write 'file://{value}'"
    raise TokenError(f"must be JWT or 'file://filepath'. Got {shown}{hint}")


def _may_be_secret(value: str) -> bool:
    """Could echoing ``value`` leak a credential? Paths are shown; token-like text is not."""
    if value.startswith(("/", "./", "../", "~")) and len(value) < 256 and not re.search(r"\s", value):
        return False
    return len(value) > 24 or value.count(".") >= 2 or re.fullmatch(r"[A-Za-z0-9_+/=-]{16,}", value) is not None


# ---------------------------------------------------------------------------------------------
# Decoding and verifying


@dataclass(frozen=True)
class DecodedToken:
    """A token's header and claims. ``verified`` is False unless it passed ``verify_token`` (the
    emulator's checks: signature, issuer, audience, times, key); ``note`` says what was checked."""

    header: dict[str, Any]
    claims: dict[str, Any]
    verified: bool
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"verified": self.verified, "note": self.note, "header": self.header, "claims": self.claims}


UNVERIFIED_NOTE = "unverified: the signature was not checked; the claims are what the token says about itself"


def decode_token(
    token: str,
    *,
    verify_with: Mapping[str, Any] | None = None,
    issuer: str | None = None,
    discovery_url: str | None = None,
    audience: str | None = None,
) -> DecodedToken:
    """Decode ``token``; verify it when ``verify_with`` (a JWKS dict, with ``issuer``: the URL of
    the issuer whose keys it holds) or ``discovery_url`` (the issuer URL, or its
    ``/.well-known/openid-configuration`` URL) is given.

    Verification is ``token_verify.verify_token``, the emulator's exchange's own check, for
    ``audience`` (``urn:pulumi:org:ORG``, required then), with the given issuer as the only
    trusted one. The issuer is never the token's own ``iss``: a forger names a host it controls.
    With discovery the document's ``issuer`` must be that URL; both documents together are
    fetched within ``FETCH_DEADLINE_SECONDS`` and ``MAX_DOCUMENT_BYTES`` each. Raises
    ``TokenError`` (never quoting the token).
    """
    try:
        header, claims = decode_unverified(token)
    except TokenRejected as e:
        raise TokenError(f"the value is not a decodable JWT ({e.description})") from None
    too_long = oversized_claim(claims)
    if too_long:
        raise TokenError(f"the token is refused: {too_long}")
    if verify_with is None and discovery_url is None:
        return DecodedToken(header, claims, False, UNVERIFIED_NOTE)
    if not audience:
        raise TokenError(
            "verifying a token needs the audience of the exchange, urn:pulumi:org:ORG (the CLI's --org ORG)"
        )
    if verify_with is not None:
        if not isinstance(verify_with, Mapping) or not isinstance(verify_with.get("keys"), list):
            raise TokenError("the JWKS has no 'keys' list")
        problem = issuer_url_problem(issuer) if issuer is not None else "required"
        if problem:
            raise TokenError(
                "a JWKS holds the keys of one issuer: give that issuer's URL (the CLI's --issuer URL), "
                f"which the token's iss must be ({problem})"
            )
        trusted = {"url": issuer, "jwks": verify_with}
        source = "the given JWKS"
    else:
        assert discovery_url is not None
        issuer, jwks, source = _discover(discovery_url)
        trusted = {"url": issuer, "jwks": jwks}
    try:
        verified, _ = verify_token(token, audience, [trusted], static_key)
    except TokenRejected as e:
        raise TokenError(f"the token failed verification against {source}: {e.description}") from None
    note = (
        f"verified with {source} (key {header.get('kid')!r}) as the exchange does: signature, "
        f"iss {issuer}, aud {audience}, exp/iat/nbf, lifetime, key and algorithm"
    )
    return DecodedToken(header, verified, True, note)


def _discover(url: str) -> tuple[str, dict[str, Any], str]:
    """(issuer, jwks, description) from an issuer's discovery document."""
    well_known = "/.well-known/openid-configuration"
    trusted = url.rstrip("/")
    if trusted.endswith(well_known):
        trusted = trusted[: -len(well_known)].rstrip("/")
    discovery = trusted + well_known
    deadline = time.monotonic() + FETCH_DEADLINE_SECONDS
    document = _fetch_json(discovery, "discovery document", deadline)
    issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
    if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
        raise TokenError(f"the discovery document at {discovery} lacks 'issuer' or 'jwks_uri'")
    if issuer.rstrip("/") != trusted:
        shown = issuer if len(issuer) <= 200 else issuer[:200] + "..."
        raise TokenError(
            f"the discovery document at {discovery} names issuer {shown!r}, not the trusted {trusted!r}; "
            "its keys are not used"
        )
    jwks = _fetch_json(jwks_uri, "JWKS", deadline)
    return issuer, jwks, f"the keys of {issuer} (discovery)"


def _fetch_json(url: str, what: str, deadline: float) -> dict[str, Any]:
    """GET a public JSON document: https only (loopback http for local testing), no redirects,
    at most ``MAX_DOCUMENT_BYTES``, done by ``deadline`` (``time.monotonic()``) or refused."""
    problem = issuer_url_problem(url)  # the emulator's rule for jwks_uri too (no query, no fragment)
    if problem:
        raise TokenError(f"refusing to fetch the {what}: {problem}")
    outcome: dict[str, Any] = {}

    def fetch() -> None:
        try:
            outcome["raw"] = _get_bounded(url, what)
        except TokenError as e:
            outcome["error"] = e
        except Exception as e:  # noqa: BLE001  anything else a hostile answer provokes: refused too
            outcome["error"] = TokenError(f"fetching the {what} from {url} failed: {type(e).__name__}")

    # A worker thread, so that no slow answer (headers or body sent a byte at a time) can hold
    # the caller past the deadline; a worker left behind is a daemon and dies with the process.
    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise TokenError(f"fetching the {what} from {url} took longer than {FETCH_DEADLINE_SECONDS:g} s")
    if "error" in outcome:
        raise outcome["error"]
    try:
        body = json.loads(outcome["raw"])
    except (ValueError, RecursionError):
        raise TokenError(f"the {what} at {url} is not JSON (or nests it too deep)") from None
    if not isinstance(body, dict):
        raise TokenError(f"the {what} at {url} is not a JSON object")
    return body


def _get_bounded(url: str, what: str) -> bytes:
    try:
        with requests.get(
            url, timeout=FETCH_TIMEOUT, allow_redirects=False, stream=True, headers={"Accept": "application/json"}
        ) as response:
            if response.status_code != 200:
                raise TokenError(f"fetching the {what} from {url} answered HTTP {response.status_code}")
            raw = b""
            while len(raw) <= MAX_DOCUMENT_BYTES:
                chunk = response.raw.read1(64 * 1024, decode_content=True)
                if not chunk:
                    break
                raw += chunk
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
        raise TokenError(f"fetching the {what} from {url} failed: {type(e).__name__}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise TokenError(f"the {what} at {url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    return raw


# ---------------------------------------------------------------------------------------------
# Simulating


def build_request(
    token_type: str | None = None,
    *,
    team: str | None = None,
    user: str | None = None,
    runner: str | None = None,
    admin: bool = False,
) -> Request:
    """The request an exchange makes, from CLI-style options. The token type follows from
    ``team``/``user``/``runner`` when not given. Raises ValueError naming the conflict."""
    names = {"team": team, "personal": user, "runner": runner}
    given = [t for t, n in names.items() if n is not None]
    if len(given) > 1:
        raise ValueError("name only one of team, user or runner: a token is for one of them")
    if token_type is None:
        token_type = given[0] if given else "organization"
    if token_type not in TOKEN_TYPES:
        raise ValueError(f"token type {token_type!r} is not one of {', '.join(TOKEN_TYPES)}")
    if token_type == "organization":
        if given:
            raise ValueError(f"an organization token names no {given[0]}; drop it or ask for a {given[0]} token")
        return Request("organization", None, admin)
    if admin:
        raise ValueError("admin applies to organization tokens only")
    name = names[token_type]
    if given and given[0] != token_type:
        raise ValueError(f"a {token_type} token cannot be for a {given[0]}; name the {_name_word(token_type)} instead")
    if not name:
        raise ValueError(f"a {token_type} token needs the {_name_word(token_type)} it is for")
    return Request(token_type, name)


def _name_word(token_type: str) -> str:
    return {"team": "team (--team)", "personal": "user login (--user)", "runner": "runner (--runner)"}[token_type]


def simulate(policies: Sequence[Policy], claims: Mapping[str, Any], request: Request) -> Decision:
    """Decide an exchange exactly as the policy model does (``policy.evaluate``)."""
    return evaluate(policies, claims, request)


def describe_request(request: Request) -> str:
    """'team token for platform', 'organization token (admin)'."""
    if request.token_type == "organization":
        return "organization token" + (" with admin" if request.admin else "")
    return f"{request.token_type} token for {request.name!r}"


def describe_policy(policy: Policy) -> str:
    """'allow team token for 'plat*'' (how output names a policy)."""
    name = f" for {policy.name_pattern!r}" if policy.name_pattern else ""
    admin = " with admin" if "admin" in policy.authorized_permissions else ""
    role = f" role {policy.role_id!r}" if policy.role_id else ""
    return f"{policy.decision} {policy.token_type} token{name}{admin}{role}"


def _headline(decision: Decision, policies: Sequence[Policy]) -> str:
    if decision.policy_index is None:
        return "DENIED: no policy matched"
    verb = "ALLOWED" if decision.allowed else "DENIED"
    return f"{verb} by policy {decision.policy_index} ({describe_policy(policies[decision.policy_index])})"


def closest_allow(decision: Decision) -> PolicyOutcome | None:
    """For a denial: the allow policy that came closest (fewest failed rules, applies first)."""
    if decision.allowed:
        return None
    allows = [o for o in decision.outcomes if o.decision == "allow"]
    if not allows:
        return None
    return min(allows, key=lambda o: (not o.applies, sum(not r.matched for r in o.rules), o.index))


def _misfit(outcome: PolicyOutcome) -> list[str]:
    """Why the policy's token type or name did not fit (its reasons that are not rule reasons)."""
    rule_reasons = {r.reason for r in outcome.rules}
    return [r for r in outcome.reasons if r not in rule_reasons]


def token_platform(claims: Mapping[str, Any], policies: Sequence[Policy], issuer_url: str | None = None) -> str | None:
    """Which platform issued the token, for hints: the issuer's (``issuer_url``, else the token's
    own ``iss``: a hint needs no verified issuer) when it is well known, else the platform whose
    subject form the token's ``sub`` (or a policy's ``sub`` rule) is written in."""
    iss = claims.get("iss")
    profile = issuer_profile(issuer_url or (iss if isinstance(iss, str) else None))
    if profile is not None:
        return profile.kind
    candidates = [claims.get("sub")] + [p.rules.get("sub") for p in policies]
    for sub in candidates:
        subject = parse_subject(sub) if isinstance(sub, str) else None
        if subject is not None:
            return subject.kind
    return None


def rule_hint(rule: RuleOutcome, claims: Mapping[str, Any], platform: str | None) -> str | None:
    """What a failed rule's reason alone does not say, in the linter's words: its claim is not one
    the platform issues (``claims.claim_problem``, OIDC042: "did you mean ..."), or the token's
    ``sub`` is in the platform's other subject form (``subjects.form_mismatch``)."""
    if rule.matched:
        return None
    value = resolve_claim(claims, rule.claim)
    if not claim_present(value):
        problem = claim_problem(platform, rule.claim)
        return problem.text if problem is not None else None
    if parse_claim_path(rule.claim) == ("sub",) and isinstance(value, str):
        return form_mismatch(rule.pattern, value)
    return None


def _with_hint(rule: RuleOutcome, claims: Mapping[str, Any] | None, platform: str | None) -> str:
    hint = rule_hint(rule, claims, platform) if claims is not None else None
    return f"{rule.reason} ({hint})" if hint else rule.reason


def render_text(
    decision: Decision,
    policies: Sequence[Policy],
    request: Request,
    *,
    token: DecodedToken | None = None,
    claims: Mapping[str, Any] | None = None,
    issuer_url: str | None = None,
) -> str:
    """The decision and, for every policy, whether it applied and each rule's outcome. With the
    ``claims``, a failed rule also says what its reason alone does not (``rule_hint``)."""
    platform = token_platform(claims, policies, issuer_url) if claims is not None else None
    scope = f" (scope {request.scope!r})" if request.scope else ""  # an organization token has none
    lines = [_headline(decision, policies), f"request: {describe_request(request)}{scope}"]
    if token is not None:
        lines.append(f"claims: from the token, {token.note}")
    lines.append("")
    for o, policy in zip(decision.outcomes, policies):
        if o.matched:
            state = "decides" if o.index == decision.policy_index else "matches (not deciding)"
        elif not o.applies:
            state = "does not apply: " + "; ".join(_misfit(o))
        else:
            state = "no match"
        lines.append(f"policy {o.index}: {describe_policy(policy)} -> {state}")
        for r in o.rules:
            lines.append(f"    {'ok  ' if r.matched else 'FAIL'} {_with_hint(r, claims, platform)}")
    closest = closest_allow(decision)
    if closest is not None and decision.policy_index is None:
        failed = [_with_hint(r, claims, platform) for r in closest.rules if not r.matched]
        lines += ["", f"closest allow: policy {closest.index}: " + "; ".join(_misfit(closest) + failed)]
    return "\n".join(lines)


def token_time_problem(claims: Mapping[str, Any], now: float, *, leeway: int = LEEWAY_SECONDS) -> str | None:
    """Why the service will refuse a token whatever the policies say: expired, or not valid yet
    (``exp``/``nbf`` against ``now``, with the usual leeway); None when its times are fine."""

    def moment(value: float) -> str:
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    exp, nbf = claims.get("exp"), claims.get("nbf")
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp + leeway < now:
        return f"the token expired at {moment(exp)} ({int(now - exp)} s ago)"
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and nbf - leeway > now:
        return f"the token is not valid before {moment(nbf)} (in {int(nbf - now)} s)"
    return None


def render_json(
    decision: Decision,
    request: Request,
    *,
    token: DecodedToken | None = None,
    claims: Mapping[str, Any] | None = None,
    policies: Sequence[Policy] = (),
    issuer_url: str | None = None,
) -> dict[str, Any]:
    """``Decision.to_json()`` (allowed, policy_index, token_type, summary, reasons) plus the
    request, each policy's rule outcomes and, for a token, whether it was verified. With the
    ``claims``, a failed rule carries a ``hint`` when ``rule_hint`` has one."""
    platform = token_platform(claims, policies, issuer_url) if claims is not None else None
    out = decision.to_json()
    out["request"] = {
        "token_type": request.token_type,
        "name": request.name,
        "admin": request.admin,
        "scope": request.scope,
    }
    for entry, outcome in zip(out["reasons"], decision.outcomes):
        entry["rules"] = []
        for r in outcome.rules:
            rule = {"claim": r.claim, "pattern": r.pattern, "matched": r.matched, "reason": r.reason}
            hint = rule_hint(r, claims, platform) if claims is not None else None
            if hint:
                rule["hint"] = hint
            entry["rules"].append(rule)
    if token is not None:
        out["token"] = {"verified": token.verified, "note": token.note}
    return out
