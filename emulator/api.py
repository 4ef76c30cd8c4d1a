"""The Pulumi Cloud REST endpoints the emulator speaks: OIDC issuers, their auth policies, the user.

Shapes, status codes and messages follow research/pulumi_cloud_oidc.md §1-§2. Where the service
is undocumented, the choice made here is stated next to the code that makes it.
"""

from __future__ import annotations

import copy
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pulumi_oidc_trust.provider.policy import (
    MAX_POLICIES,
    SERVICE_DEFAULT_POLICIES,
    WIRE_KEYS,
    PolicyError,
    has_literal,
    parse_policies,
)
from pulumi_oidc_trust.provider.wire import POLICY_VERSION_STEP

from . import errors
from .errors import ApiError, bad_request
from .fetch import Fetcher, issuer_url_problem
from .http_types import Call, Reply
from .store import State, Store, timestamp, token_hash
from .verify import jwks_problem

ADMIN_LOGIN = "emulator-admin"
THUMBPRINT = re.compile(r"^[0-9a-fA-F]{64}$")
WIRE_POLICY_KEYS = frozenset(WIRE_KEYS.values())

DEFAULT_POLICIES = SERVICE_DEFAULT_POLICIES
"""What the service provisions for a new issuer: deny everything (its empty ``sub`` rule cannot be
PATCHed back, which is why provider.policy defines its own CLOSED document)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the emulator's admin (``--access-token``) or a token it minted."""

    admin: bool
    token: dict[str, Any] | None = None
    """The minted token's record (organization, type, name, expiry, ...)."""

    def may_use(self, org: str) -> bool:
        """Any route of ``org`` at all (else 401, as for a token of another organization)."""
        return self.admin or (self.token is not None and self.token["org"] == org)

    def may_manage_trust(self, org: str) -> bool:
        """The issuer and policy routes: the emulator's admin token, or an organization token of
        ``org`` exchanged with scope ``admin``. A plain organization token, a team, personal or
        runner token must not rewrite the trust that minted it (that would end in an admin token)."""
        if self.admin:
            return True
        token = self.token or {}
        return token.get("org") == org and token.get("tokenType") == "organization" and token.get("scope") == "admin"


def issuer_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """An issuer as ``OidcIssuerRegistrationResponse``; unset optional fields are omitted."""
    out = {k: record[k] for k in ("id", "name", "url", "issuer")}
    out["thumbprints"] = list(record.get("thumbprints") or [])
    if record.get("jwks") is not None:
        out["jwks"] = record["jwks"]
    if record.get("maxExpiration"):
        out["maxExpiration"] = record["maxExpiration"]
    out["created"], out["modified"] = record["created"], record["modified"]
    if record.get("lastUsed"):
        out["lastUsed"] = record["lastUsed"]
    return out


def policy_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as ``AuthPolicy``."""
    return {k: record[k] for k in ("id", "version", "created", "modified", "policies")}


class Api:
    """Handlers for the authenticated REST routes; each takes a Call and returns a Reply."""

    def __init__(
        self,
        store: Store,
        access_token: str,
        fetcher: Fetcher,
        clock: Callable[[], float] = time.time,
    ):
        if not access_token:
            raise ValueError("the emulator needs an access token")
        self.store = store
        self._access_token = access_token.encode("utf-8")
        self.fetcher = fetcher
        self.clock = clock

    # -- authentication ------------------------------------------------------------------------

    def authenticate(self, call: Call) -> Principal:
        """``Authorization: token <T>``: the admin token or an unexpired minted one; else 401."""
        scheme, _, value = (call.headers.get("Authorization") or "").partition(" ")
        value = value.strip()
        if scheme.lower() != "token" or not value:
            raise errors.unauthorized()
        if hmac.compare_digest(value.encode("utf-8"), self._access_token):
            return Principal(admin=True)
        with self.store.reading() as state:
            record = state.tokens.get(token_hash(value))
            if record is not None and record["expiresAt"] > self.clock():
                return Principal(admin=False, token=dict(record))
        raise errors.unauthorized()

    def authorize_org(self, call: Call, *, create: bool = False) -> str:
        """Authenticate and authorize for ``/api/orgs/{orgName}/...`` (the issuer and policy routes):
        401 without a valid token of the organization, 403 for one that may not manage its trust,
        404 for an organization nobody created; ``create`` (registering an issuer) creates it
        (store.py states the rule)."""
        org = call.params["orgName"]
        principal = self.authenticate(call)
        if not principal.may_use(org):
            raise errors.unauthorized()
        if not principal.may_manage_trust(org):
            raise errors.forbidden()
        with self.store.reading() as state:
            known = org in state.organizations
        if not known and not create:
            raise ApiError(404, errors.organization_not_found(org))
        return org

    # -- issuers -------------------------------------------------------------------------------

    def register_issuer(self, call: Call) -> Reply:
        org = self.authorize_org(call, create=True)
        body = _object(call.json())
        name = _name(body)
        url = body.get("url")
        problem = issuer_url_problem(url)
        if problem:
            raise bad_request(problem)
        supplied = _thumbprints(body.get("thumbprints"))
        max_expiration = _max_expiration(body.get("maxExpiration"))
        jwks = _jwks(body.get("jwks"))
        # body["policies"] is ignored, as by the service: policies are set with the policy PATCH.
        thumbprints = self._registration_thumbprints(url, supplied, static_jwks=jwks is not None)
        now = timestamp()
        issuer_id, policy_id = str(uuid.uuid4()), str(uuid.uuid4())
        record = {
            "org": org, "id": issuer_id, "name": name, "url": url, "issuer": url,
            "thumbprints": thumbprints, "jwks": jwks, "maxExpiration": max_expiration,
            "created": now, "modified": now, "lastUsed": None, "policyId": policy_id,
        }
        policy = {
            "org": org, "id": policy_id, "issuerId": issuer_id, "version": 1,
            "created": now, "modified": now, "policies": copy.deepcopy(list(DEFAULT_POLICIES)),
        }
        with self.store.transaction() as state:
            state.touch_organization(org)
            state.issuers[issuer_id] = record
            state.policies[policy_id] = policy
        return Reply(200, issuer_json(record))

    def _registration_thumbprints(self, url: str, supplied: list[str] | None, static_jwks: bool) -> list[str]:
        """The service pins the certificate serving the issuer. When the host answers TLS the
        served leaf's SHA-256 is computed and must be among the supplied thumbprints; when it
        cannot be reached (or the issuer's keys are uploaded) what was supplied is kept."""
        if static_jwks:
            return supplied or []
        calculated = self.fetcher.served_thumbprint(url)
        if calculated is None:
            return supplied or []
        if supplied is None:
            return [calculated]
        if calculated not in supplied:
            raise bad_request(errors.thumbprint_mismatch(calculated))
        return supplied

    def list_issuers(self, call: Call) -> Reply:
        org = self.authorize_org(call)
        with self.store.reading() as state:
            return Reply(200, {"oidcIssuers": [issuer_json(r) for r in state.org_issuers(org)]})

    def get_issuer(self, call: Call) -> Reply:
        org = self.authorize_org(call)
        with self.store.reading() as state:
            return Reply(200, issuer_json(_issuer_or_404(state, org, call.params["issuerId"])))

    def update_issuer(self, call: Call) -> Reply:
        """PATCH: ``name`` required; ``url`` cannot change; ``thumbprints`` absent/null keeps
        them (no certificate check: this is how a new thumbprint is pinned ahead of a
        rotation); ``maxExpiration`` absent/null/0 unsets it (the request is decoded into a
        full struct, so an omitted limit is no limit: UNCONFIRMED); ``jwks`` absent/null keeps it."""
        org = self.authorize_org(call)
        body = _object(call.json())
        name = _name(body)
        thumbprints = _thumbprints(body.get("thumbprints"))
        max_expiration = _max_expiration(body.get("maxExpiration"))
        jwks = _jwks(body.get("jwks"))
        with self.store.transaction() as state:
            record = _issuer_or_404(state, org, call.params["issuerId"])
            if body.get("url") not in (None, record["url"]):
                raise bad_request(errors.URL_IMMUTABLE)
            record["name"] = name
            if thumbprints is not None:
                record["thumbprints"] = thumbprints
            record["maxExpiration"] = max_expiration
            if jwks is not None:
                record["jwks"] = jwks
            record["modified"] = timestamp()
            return Reply(200, issuer_json(record))

    def delete_issuer(self, call: Call) -> Reply:
        org = self.authorize_org(call)
        with self.store.transaction() as state:
            if not state.delete_issuer(org, call.params["issuerId"]):
                raise ApiError(404, errors.ISSUER_NOT_FOUND)
        return Reply(204)

    def regenerate_thumbprints(self, call: Call) -> Reply:
        org = self.authorize_org(call)
        with self.store.reading() as state:
            record = dict(_issuer_or_404(state, org, call.params["issuerId"]))
        if record.get("jwks") is not None:
            raise bad_request(errors.JWKS_STATIC)
        calculated = self.fetcher.served_thumbprint(record["url"])
        if calculated is None and record["url"].startswith("https:"):
            raise bad_request(f"unable to calculate the thumbprint of {record['url']}: the host did not answer TLS")
        with self.store.transaction() as state:
            current = _issuer_or_404(state, org, record["id"])
            current["thumbprints"] = [calculated] if calculated else []
            current["modified"] = timestamp()
            return Reply(200, issuer_json(current))

    # -- auth policies -------------------------------------------------------------------------

    def get_policy(self, call: Call) -> Reply:
        org = self.authorize_org(call)
        with self.store.reading() as state:
            record = state.policy_of_issuer(org, call.params["issuerId"])
            if record is None:
                raise bad_request(errors.INVALID_ISSUER_ID)  # the spec's answer for an unknown issuer
            return Reply(200, policy_json(record))

    def update_policy(self, call: Call) -> Reply:
        """PATCH: replaces the whole ordered list and moves ``version`` by ``POLICY_VERSION_STEP``
        (one), atomically with the write: the answer's version counts every write since the caller's read."""
        org = self.authorize_org(call)
        body = _object(call.json())
        wire = _validated_policies(body.get("policies"))
        with self.store.transaction() as state:
            record = state.policy(org, call.params["policyId"])
            if record is None:
                raise ApiError(404, errors.POLICY_NOT_FOUND)
            record["policies"] = wire
            record["version"] += POLICY_VERSION_STEP
            record["modified"] = timestamp()
            return Reply(200, policy_json(record))

    # -- the caller ----------------------------------------------------------------------------

    def current_user(self, call: Call) -> Reply:
        """``GET /api/user``: what ``pulumi login`` reads (non-empty ``githubLogin`` everywhere)."""
        principal = self.authenticate(call)
        if principal.admin:
            with self.store.reading() as state:
                orgs = sorted(state.organizations)
            return Reply(200, _user(ADMIN_LOGIN, "Emulator Admin", orgs, role="admin"))
        token = principal.token
        user = _user(token["login"], token["login"], [token["org"]], role="member")
        if token.get("tokenType") == "personal":
            # A personal token is the user's own: no tokenInfo (with one naming the organization,
            # `pulumi whoami` would call it an organization token). After an OIDC login the CLI
            # keeps tokenInformation of its own, so whoami then says "Token type: unknown".
            return Reply(200, user)
        # The SDK's TokenInfo requires all three fields, so a non-team token sends team "".
        user["tokenInfo"] = {"name": token["name"], "organization": token["org"], "team": token.get("team") or ""}
        return Reply(200, user)

    @staticmethod
    def capabilities(call: Call) -> Reply:
        return Reply(200, {"capabilities": []})


def _user(login: str, name: str, orgs: list[str], role: str) -> dict[str, Any]:
    # Beyond what the CLI reads, the fields the generated SDK's User model requires.
    return {
        "id": login, "githubLogin": login, "name": name, "email": f"{login}@emulator.invalid",
        "avatarUrl": "", "identities": [], "hasMFA": False, "isOrgManaged": False,
        "isManagedByMultiOrg": False,
        "organizations": [{"githubLogin": o, "name": o, "avatarUrl": "", "role": role} for o in orgs],
    }


def _issuer_or_404(state: State, org: str, issuer_id: str) -> dict[str, Any]:
    record = state.issuer(org, issuer_id)
    if record is None:
        raise ApiError(404, errors.ISSUER_NOT_FOUND)
    return record


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _name(body: Mapping[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request(errors.NAME_REQUIRED)
    return name


def _thumbprints(raw: Any) -> list[str] | None:
    """None stays None (not given); otherwise a list of 64-hex SHA-256 values, lower-cased."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise bad_request("thumbprints must be a list of SHA-256 hex strings")
    for value in raw:
        if not isinstance(value, str) or not THUMBPRINT.match(value):
            shown = value if isinstance(value, str) and len(value) <= 100 else type(value).__name__
            raise bad_request(
                f"invalid thumbprint {shown!r}: use the hex SHA-256 of the issuer's TLS certificate (64 characters)"
            )
    return [v.lower() for v in raw]


def _max_expiration(raw: Any) -> int | None:
    """Seconds; 0 and null mean unset (the exchange then grants at most 25 h)."""
    if raw is None or raw == 0:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise bad_request("maxExpiration must be a whole number of seconds (0 or null: no limit)")
    return raw


def _jwks(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    problem = jwks_problem(raw)
    if problem:
        raise bad_request(problem)
    return raw


def _validated_policies(raw: Any) -> list[dict[str, Any]]:
    """The service's checks in its words where known, then the one policy model's."""
    if raw is None or raw == []:
        raise bad_request(errors.EMPTY_POLICY)
    if not isinstance(raw, list):
        raise bad_request("policies must be a list of policy definitions")
    if len(raw) > MAX_POLICIES:
        raise bad_request(f"at most {MAX_POLICIES} policies are allowed per issuer, got {len(raw)}")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            continue  # parse_policies names it
        unknown = sorted(set(item) - WIRE_POLICY_KEYS)
        if unknown:
            raise bad_request(f"policies[{i}]: unknown fields {unknown}; use {sorted(WIRE_POLICY_KEYS)}")
        rules = item.get("rules")
        if isinstance(rules, dict):
            for claim, pattern in rules.items():
                if isinstance(pattern, str) and not has_literal(pattern):
                    raise bad_request(errors.no_literal(claim))
    try:
        return [p.to_wire() for p in parse_policies(raw)]
    except PolicyError as e:
        raise bad_request("; ".join(f"{path}: {message}" for path, message in e.problems)) from None
