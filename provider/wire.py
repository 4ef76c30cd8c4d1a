"""Constants of the Pulumi Cloud wire contract shared by the client and the emulator."""

from __future__ import annotations

DEFAULT_API_URL = "https://api.pulumi.com"
ACCEPT = "application/vnd.pulumi+8"

GRANT_TYPE_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_TOKEN_TYPE_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
AUDIENCE_PREFIX = "urn:pulumi:org:"

DEFAULT_EXCHANGE_EXPIRATION = 7200
"""Seconds the Pulumi CLI asks for when no ``--oidc-expiration`` is given (2 h)."""
MAX_EXPIRATION = 90000
"""25 h: the service's default and the largest lifetime this project lets anyone ask for."""

RETRY_STATUSES = (429, 500, 502, 503, 504)
"""Answers after which a request is retried (the one retry rule)."""

POLICY_VERSION_STEP = 1
"""How far one write (the PATCH) moves an authorization-policy document's ``version``.

UNCONFIRMED: the API spec says only that ``version`` is an integer; that each write moves it by
exactly one is not documented (research/pulumi_cloud_oidc.md §2.3 and §8). This is the one place
the assumption is written down. Pulumi Cloud offers no conditional write (no If-Match, no expected
version), so a write by someone else between the provider's GET and its PATCH can only be seen
afterwards, in the PATCH's answer: its version must be the one read plus this step
(``issuer_policy.write_conflict``). The emulator moves the version by this step per write."""


def audience_for(organization: str) -> str:
    """The audience Pulumi Cloud expects for an organization: ``urn:pulumi:org:ORG``."""
    return AUDIENCE_PREFIX + organization


def organization_from_audience(audience: str) -> str | None:
    """``urn:pulumi:org:acme`` -> ``acme``; anything else -> None."""
    if audience.startswith(AUDIENCE_PREFIX) and len(audience) > len(AUDIENCE_PREFIX):
        rest = audience[len(AUDIENCE_PREFIX) :]
        return None if ":" in rest else rest
    return None
