"""Exchange a workload's OIDC token for a Pulumi access token, as ``pulumi login --oidc-*`` does.

Useful where the installed Pulumi CLI predates ``--oidc-token`` (v3.209) and in scripts. The
request is the foundation client's (``client.exchange_form``, the one place the form is built)
with its retry rule. Before anything is sent, the inputs are checked with the CLI's own error
texts (research/pulumi_cloud_oidc.md §3.2):

* ``oidc token must be specified for token exchange``
* ``organization must be specified for token exchange``
* ``only one of team or user may be specified for token exchange``
* ``could not parse expiration duration: ...``
* the ``<jwt|file://path>`` texts of ``simulate.read_token_argument``
* ``--oidc-org '%s' conflicts with JWT aud claim organization '%s'. ...`` (and the team/user forms)

Like the CLI (v3.217+), the organization, team or user may be left out when the token names
them (``aud`` ``urn:pulumi:org:ORG``; ``scope`` ``team:T`` / ``user:U``). Unlike the CLI, this
also reads them from a ``file://`` token. ``PULUMI_ACCESS_TOKEN`` plays no part here (the CLI
refuses to exchange when it is set because it would log in with it instead).

Errors never contain the workload token or the access token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import jwt

from . import wire
from .client import PulumiCloudClient, PulumiCloudError, RetryBudget
from .duration import parse_duration
from .policy import TOKEN_TYPE_URN_PREFIX, Request
from .simulate import TokenError, read_token_argument
from .urls import api_url_problem


class ExchangeInputError(ValueError):
    """The inputs were refused before anything was sent (the Pulumi CLI's own errors)."""


class ExchangeError(Exception):
    """Pulumi Cloud refused or failed the exchange. ``message`` is the service's
    ``error_description``; ``code`` its OAuth ``error``; ``status`` the HTTP status (0: no answer)."""

    def __init__(self, status: int, code: Any, message: str):
        self.status = status
        self.code = code
        self.message = message
        what = (f"{status} {code}" if code else str(status)) if status else "no answer"
        super().__init__(f"token exchange failed ({what}): {message}")


SIMULATE_HINT = (
    "{prefix}: oidc-trust simulate --policies FILE --token <the same token> "
    "(policies from GET /api/orgs/ORG/auth/policies/oidcissuers/ID, or `oidc-trust audit --org ORG --show-policies`)"
)
# What to do next, by what the refusal says (the emulator's texts, and the service's where known);
# the first match wins. A refusal none of them names may be a policy's: the simulator shows which.
_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("no authorization policy allows",), SIMULATE_HINT.format(prefix="to see which policy refused it")),
    (("unknown issuer",), "the organization trusts no issuer at the token's iss: register that issuer (OidcIssuer, "
                          "or the console), or check the token's iss with `oidc-trust claims <the same token>`"),
    (("audience mismatch",), "the token's aud must contain urn:pulumi:org:ORG for --oidc-org ORG: ask the platform for "
                             "a token with that audience (`oidc-trust claims <the same token>` shows its aud)"),
    (("signing keys", "unknown key id", "key is unusable"),
     "the service could not verify the token with the issuer's keys: make the issuer's discovery document and JWKS "
     "reachable from the service, or upload its keys with the issuer (jwks=..., OIDC025)"),
    (("token expired", "not yet valid"), "get a fresh token from the platform (`oidc-trust claims <the same token>` "
                                         "shows its iat, nbf and exp)"),
    (("invalid organization",), "no issuer is trusted by that organization: check --oidc-org, or register the issuer "
                                "there first"),
)


def refusal_hint(error: ExchangeError) -> str | None:
    """What to do about a refused exchange, matched to its cause (None: no hint fits)."""
    if error.status != 400:
        return None
    text = f"{error.code or ''} {error.message}".lower()
    for needles, hint in _HINTS:
        if any(needle in text for needle in needles):
            return hint
    if "malformed" in text or error.code == "invalid_request":
        return None
    return SIMULATE_HINT.format(prefix="if a policy refused it, to see which one")


@dataclass(frozen=True)
class ExchangeResult:
    """A Pulumi access token from an exchange. ``repr`` never shows ``access_token``."""

    access_token: str = field(repr=False)
    token_type: str
    """What was issued: organization, team, personal or runner."""
    expires_in: int
    """Seconds granted (the service may grant less than asked: the issuer's maxExpiration)."""
    expires_at: dt.datetime
    scope: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "expires_at": self.expires_at.isoformat().replace("+00:00", "Z"),
            "scope": self.scope,
        }


@dataclass(frozen=True)
class ExchangeRequest:
    """A checked exchange, ready to send. ``repr`` never shows the workload token."""

    subject_token: str = field(repr=False)
    organization: str
    request: Request
    expiration: int


def prepare_exchange(
    *,
    oidc_token: str,
    organization: str | None,
    team: str | None = None,
    user: str | None = None,
    expiration: int | str | None = None,
) -> ExchangeRequest:
    """Check the inputs as the Pulumi CLI does, without sending anything. Raises
    ``ExchangeInputError`` (or its ``TokenError`` reasons, re-raised as ``ExchangeInputError``)."""
    if not oidc_token or not str(oidc_token).strip():
        raise ExchangeInputError("oidc token must be specified for token exchange")
    organization, team, user = _defaults_from_token(oidc_token, organization or None, team or None, user or None)
    if not organization or not organization.strip():
        # The organization defaults to the token's aud: an unreadable token is the real fault.
        try:
            read_token_argument(oidc_token)
        except TokenError as e:
            raise ExchangeInputError(
                f"Failed to read OIDC token: {e} (the organization is read from the token's aud, or give it)"
            ) from None
        raise ExchangeInputError(
            "organization must be specified for token exchange (give --oidc-org ORG: it is read from the token "
            "only when its aud is the one value urn:pulumi:org:ORG, as the Pulumi CLI reads it)"
        )
    if team and user:
        raise ExchangeInputError("only one of team or user may be specified for token exchange")
    seconds = wire.DEFAULT_EXCHANGE_EXPIRATION
    if expiration is not None and expiration != "":
        try:
            seconds = parse_duration(expiration, name="expiration")
        except ValueError as e:
            raise ExchangeInputError(f"could not parse expiration duration: {e}") from None
    try:
        subject_token = read_token_argument(oidc_token)
    except TokenError as e:
        raise ExchangeInputError(f"Failed to read OIDC token: {e}") from None
    if team:
        request = Request("team", team)
    elif user:
        request = Request("personal", user)
    else:
        request = Request("organization")
    return ExchangeRequest(subject_token, organization.strip(), request, seconds)


def exchange(
    *,
    oidc_token: str,
    organization: str | None,
    team: str | None = None,
    user: str | None = None,
    expiration: int | str | None = None,
    api_url: str = wire.DEFAULT_API_URL,
    budget: RetryBudget | None = None,
) -> ExchangeResult:
    """Exchange ``oidc_token`` (a JWT or ``file://PATH``) for a Pulumi access token.

    ``organization`` (may be None when the token's ``aud`` is ``urn:pulumi:org:ORG``), at most
    one of ``team`` and ``user``, and ``expiration`` in seconds or as a duration ("2h"; default
    2 h, what the CLI asks for). Raises ``ExchangeInputError`` before sending anything when the
    inputs are wrong, ``ExchangeError`` with the service's ``error_description`` when refused.
    """
    problem = api_url_problem(api_url)
    if problem:
        raise ExchangeInputError(f"api_url: {problem}")
    prepared = prepare_exchange(
        oidc_token=oidc_token, organization=organization, team=team, user=user, expiration=expiration
    )
    return send_exchange(prepared, api_url=api_url, budget=budget)


def send_exchange(
    prepared: ExchangeRequest, *, api_url: str = wire.DEFAULT_API_URL, budget: RetryBudget | None = None
) -> ExchangeResult:
    """Send a prepared exchange with the client's retry rule."""
    started = dt.datetime.now(dt.timezone.utc)
    with PulumiCloudClient(api_url, budget=budget) as client:
        try:
            answer = client.exchange_token(
                organization=prepared.organization,
                subject_token=prepared.subject_token,
                token_type=prepared.request.token_type,
                scope=prepared.request.scope,
                expiration=prepared.expiration,
            )
        except PulumiCloudError as e:  # the client has scrubbed both tokens from it
            raise ExchangeError(e.status, e.code, e.message) from None
    return _result(answer, prepared.request.token_type, started)


def _result(answer: Any, requested: str, started: dt.datetime) -> ExchangeResult:
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
        raise ExchangeError(200, "invalid_response", "the answer carries no access_token")
    issued = str(answer.get("issued_token_type") or "")
    token_type = issued[len(TOKEN_TYPE_URN_PREFIX) :] if issued.startswith(TOKEN_TYPE_URN_PREFIX) else requested
    try:
        expires_in = int(answer.get("expires_in") or 0)
    except (TypeError, ValueError):
        expires_in = 0
    return ExchangeResult(
        access_token=answer["access_token"],
        token_type=token_type,
        expires_in=expires_in,
        expires_at=(started + dt.timedelta(seconds=expires_in)).replace(microsecond=0),
        scope=str(answer.get("scope") or ""),
    )


def _defaults_from_token(
    value: str, organization: str | None, team: str | None, user: str | None
) -> tuple[str | None, str | None, str | None]:
    """Fill organization/team/user from the token's claims, with the CLI's conflict errors
    (``extractOIDCDefaults``). A value that cannot be read as a token is left to
    ``read_token_argument`` to report."""
    try:
        claims = jwt.decode(read_token_argument(value), options={"verify_signature": False})
    except (TokenError, jwt.PyJWTError):
        return organization, team, user
    aud = claims.get("aud")
    token_org = wire.organization_from_audience(aud) if isinstance(aud, str) and aud.count(":") == 3 else None
    token_team, token_user = _scope_names(claims.get("scope"))
    if token_team and token_user:
        raise ExchangeInputError(
            f"JWT scope contains both team '{token_team}' and user '{token_user}'. "
            "Only one of team or user may be specified for token exchange"
        )
    organization = _reconcile("--oidc-org", organization, "aud claim organization", token_org)
    team = _reconcile("--oidc-team", team, "scope team", token_team)
    user = _reconcile("--oidc-user", user, "scope user", token_user)
    return organization, team, user


def _reconcile(flag: str, given: str | None, what: str, from_token: str | None) -> str | None:
    if given and from_token and given != from_token:
        raise ExchangeInputError(
            f"{flag} '{given}' conflicts with JWT {what} '{from_token}'. The JWT {what.split()[0]} claim takes "
            f"precedence during token exchange. Either omit {flag} to use the JWT value, or ensure they match"
        )
    return given or from_token


def _scope_names(scope: Any) -> tuple[str | None, str | None]:
    """``team:``/``user:`` entries of a space-separated or list ``scope`` claim."""
    if isinstance(scope, str):
        entries = scope.split()
    elif isinstance(scope, list):
        entries = [s for s in scope if isinstance(s, str)]
    else:
        entries = []
    team = next((e[5:] for e in entries if e.startswith("team:") and len(e) > 5), None)
    user = next((e[5:] for e in entries if e.startswith("user:") and len(e) > 5), None)
    return team, user
