"""``POST /api/oauth/token``: the RFC 8693 exchange of a workload's OIDC token for a Pulumi token.

Accepts the Pulumi CLI's form-encoded body and pulumi/auth-actions' JSON body (research §3).
Every refusal is a 400 in the OAuth form ``{error, error_description}``, as Pulumi Cloud is
observed to answer. Order: the request's shape (``invalid_request``), then the organization
(``invalid_request: invalid organization X`` when it trusts no issuer), then the subject token
(``invalid_grant``, the description says what failed: malformed, expired, untrusted...), then
the issuer's policies through the one policy model (``invalid_grant``, saying which policy
denied, or that the admin scope was not granted), then a fresh opaque ``pul-`` token whose
lifetime is ``min(requested, the issuer's maxExpiration or 25 h)``.
"""

from __future__ import annotations

import collections
import secrets
import time
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs

from pulumi_oidc_trust.provider.policy import (
    TOKEN_TYPE_URN_PREFIX,
    TOKEN_TYPES,
    PolicyError,
    Request,
    evaluate,
    is_service_default,
    parse_policies,
)
from pulumi_oidc_trust.provider.wire import (
    DEFAULT_EXCHANGE_EXPIRATION,
    GRANT_TYPE_TOKEN_EXCHANGE,
    MAX_EXPIRATION,
    SUBJECT_TOKEN_TYPE_ID_TOKEN,
    organization_from_audience,
)

from .errors import OAuthError, invalid_organization
from .http_types import Call, Reply, parse_json
from .store import Store, timestamp, token_hash
from .verify import MAX_TOKEN_BYTES, KeyCache, TokenRejected, verify_subject_token

FIELDS = (
    "audience", "expiration", "grant_type", "requested_token_type", "scope", "subject_token", "subject_token_type"
)
TOKEN_TYPE_BY_URN = {t.urn: t.name for t in TOKEN_TYPES.values()}
EXCHANGE_LOG_SIZE = 200
LOGGED_CLAIMS = ("iss", "sub", "aud")
"""What the exchange log keeps of a verified token: identifying claims, never the token itself."""


def logged_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims an exchange log entry shows: ``iss``/``sub``/``aud`` and, for a Kubernetes token,
    the pod and service account it is bound to (``kubernetes.io``), so a test can tell which pod logged in."""
    shown = {k: claims[k] for k in LOGGED_CLAIMS if k in claims}
    kubernetes = claims.get("kubernetes.io")
    if isinstance(kubernetes, Mapping):
        shown["kubernetes.io"] = {
            part: {k: v for k, v in kubernetes[part].items() if k in ("name", "uid")}
            for part in ("pod", "serviceaccount") if isinstance(kubernetes.get(part), Mapping)
        } | ({"namespace": kubernetes["namespace"]} if "namespace" in kubernetes else {})
    return shown


def invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def invalid_grant(description: str) -> OAuthError:
    """The subject token was refused: bad, expired, untrusted, or denied by the policies."""
    return OAuthError(400, "invalid_grant", description)


class Exchange:
    """The token endpoint: verifies, decides, mints and records access tokens."""

    def __init__(self, store: Store, keys: KeyCache, clock: Callable[[], float] = time.time):
        self.store = store
        self.keys = keys
        self.clock = clock
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=EXCHANGE_LOG_SIZE)
        """The last exchanges (``GET /_emulator/exchanges``): outcome, organization, scope and the
        verified token's ``logged_claims``; never a token."""

    def __call__(self, call: Call) -> Reply:
        entry: dict[str, Any] = {"time": self.clock()}
        try:
            answer = self._exchange(read_parameters(call), entry)
        except OAuthError as e:
            entry.update(outcome=e.body().get("error"), description=e.body().get("error_description"))
            self.log.append(entry)
            return Reply(e.status, e.body(), {"Cache-Control": "no-store"})
        entry.update(outcome="granted", expires_in=answer["expires_in"])
        self.log.append(entry)
        return Reply(200, answer, {"Cache-Control": "no-store"})

    def _exchange(self, params: Mapping[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        org, audience, request, expiration, subject_token = validate_parameters(params)
        entry.update(org=org, token_type=request.token_type, name=request.name)
        with self.store.reading() as state:
            issuers = [dict(r) for r in state.org_issuers(org)]
        if not issuers:
            raise invalid_request(invalid_organization(org))
        try:
            claims, issuer = verify_subject_token(subject_token, audience, issuers, self.keys)
        except TokenRejected as e:
            raise invalid_grant(e.description) from None
        entry["claims"] = logged_claims(claims)
        decision_index = self._decide(issuer, claims, request)
        granted = min(expiration, issuer.get("maxExpiration") or MAX_EXPIRATION)
        access_token = self._mint(org, issuer, request, decision_index, granted)
        return {
            "access_token": access_token,
            "issued_token_type": TOKEN_TYPES[request.token_type].urn,
            "token_type": "token",
            "expires_in": granted,
            "scope": request.scope,
            "refresh_token": "",
        }

    def _decide(self, issuer: Mapping[str, Any], claims: Mapping[str, Any], request: Request) -> int:
        with self.store.reading() as state:
            document = state.policies.get(issuer["policyId"])
            stored = list(document["policies"]) if document else []
        if is_service_default(stored):
            raise invalid_grant(
                "no authorization policy allows this exchange (the issuer has only the default deny-all policy)"
            )
        try:
            policies = parse_policies(stored)
        except PolicyError:
            # Stored documents passed the PATCH's checks; anything else must deny, never allow.
            raise invalid_grant("no authorization policy allows this exchange (the stored policies are unreadable)") from None
        decision = evaluate(policies, claims, request)
        if decision.allowed:
            return decision.policy_index
        if request.admin and decision.policy_index is None:
            without_admin = evaluate(policies, claims, Request(request.token_type, request.name))
            if without_admin.allowed:
                raise invalid_grant(
                    f"the admin scope is not granted: policy {without_admin.policy_index} allows an organization "
                    "token for this workload but does not list 'admin' in authorizedPermissions"
                )
        raise invalid_grant(f"no authorization policy allows this exchange ({decision.summary})")

    def _mint(self, org: str, issuer: Mapping[str, Any], request: Request, policy_index: int, lifetime: int) -> str:
        access_token = "pul-" + secrets.token_hex(20)
        now = self.clock()
        record = {
            "org": org,
            "tokenType": request.token_type,
            "login": request.name or org,
            "name": f"oidc-{issuer['name']}",
            "team": request.name if request.token_type == "team" else None,
            "scope": request.scope,
            "issuerId": issuer["id"],
            "policyIndex": policy_index,
            "createdAt": now,
            "expiresAt": now + lifetime,
        }
        with self.store.transaction() as state:
            state.prune_tokens(now)
            state.tokens[token_hash(access_token)] = record
            current = state.issuers.get(issuer["id"])
            if current is not None:
                current["lastUsed"] = timestamp()
        return access_token


def read_parameters(call: Call) -> dict[str, Any]:
    """The exchange's fields from a form-encoded (Pulumi CLI) or JSON (auth-actions) body."""
    if call.content_type == "application/x-www-form-urlencoded":
        try:
            parsed = parse_qs(call.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise invalid_request("the form body is not UTF-8") from None
        repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
        if repeated:
            raise invalid_request(f"parameters must not be repeated: {', '.join(repeated)}")
        return {k: v[0] for k, v in parsed.items()}
    if call.content_type == "application/json" or call.content_type.endswith("+json"):
        try:
            body = parse_json(call.body or b"null")
        except ValueError:
            raise invalid_request("the JSON body is malformed or nested too deep") from None
        if not isinstance(body, dict):
            raise invalid_request("the JSON body must be an object")
        return body
    raise invalid_request("send application/x-www-form-urlencoded or application/json")


def validate_parameters(params: Mapping[str, Any]) -> tuple[str, str, Request, int, str]:
    """(organization, audience, request, expiration, subject_token), or invalid_request."""
    for name in FIELDS:
        value = params.get(name)
        if name != "expiration" and value is not None and not isinstance(value, str):
            raise invalid_request(f"{name} must be a string")
        if isinstance(value, str) and not _is_unicode_text(value):
            raise invalid_request(f"{name} is not valid Unicode text (it holds a lone surrogate, such as \\ud800)")
    if params.get("grant_type") != GRANT_TYPE_TOKEN_EXCHANGE:
        raise invalid_request(f"unsupported grant_type; use {GRANT_TYPE_TOKEN_EXCHANGE}")
    if params.get("subject_token_type") != SUBJECT_TOKEN_TYPE_ID_TOKEN:
        raise invalid_request(f"unsupported subject_token_type; use {SUBJECT_TOKEN_TYPE_ID_TOKEN}")
    token_type = TOKEN_TYPE_BY_URN.get(params.get("requested_token_type") or "")
    if token_type is None:
        raise invalid_request(f"requested_token_type must be {TOKEN_TYPE_URN_PREFIX}<{'|'.join(TOKEN_TYPES)}>")
    audience = params.get("audience") or ""
    org = organization_from_audience(audience)
    if org is None:
        raise invalid_request("audience must be urn:pulumi:org:<organization>")
    try:
        request = Request.from_scope(token_type, params.get("scope"))
    except ValueError as e:
        raise invalid_request(str(e)) from None
    expiration = _expiration(params.get("expiration"))
    subject_token = params.get("subject_token")
    if not subject_token:
        raise invalid_request("subject_token is required")
    if len(subject_token.encode("utf-8")) > MAX_TOKEN_BYTES:
        raise invalid_request(f"subject_token is larger than {MAX_TOKEN_BYTES} bytes")
    return org, audience, request, expiration, subject_token


def _is_unicode_text(value: str) -> bool:
    """False for a string JSON's ``\\uD800`` escapes can make but UTF-8 cannot carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expiration(raw: Any) -> int:
    """Whole seconds, as a number or a string; absent or empty means the CLI's 2 h default."""
    if raw is None or raw == "":
        return DEFAULT_EXCHANGE_EXPIRATION
    if isinstance(raw, str):
        if not (raw.strip().isascii() and raw.strip().isdigit()):
            raise invalid_request("expiration must be a whole number of seconds")
        raw = int(raw.strip())
    if not _is_int(raw) or raw <= 0:  # JSON may send a number; 3600.5 or true are refused
        raise invalid_request("expiration must be a positive whole number of seconds")
    return raw
