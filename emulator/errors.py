"""The two error shapes the emulator answers with, and the service's messages, kept in one place.

Pulumi Cloud's REST endpoints answer ``{"code": N, "message": "<Status text>: <detail>"}``; the
token endpoint answers OAuth 2.0 errors ``{"error": ..., "error_description": ...}``, whatever
went wrong (a refused exchange, an unknown path or method, a body it will not read): the shape
depends on the path (``body_for``). Where the research quotes the service's wording, the
constants below use it verbatim; the rest are ours.
"""

from __future__ import annotations

from http import HTTPStatus

# Verbatim service texts (research/pulumi_cloud_oidc.md §1.2, §1.4, §2.3).
UNAUTHORIZED = "No credentials provided or are invalid."
NAME_REQUIRED = "the issuer name is required"
JWKS_STATIC = "issuer jwks are statically configured, can't regenerate thumbprints"
INVALID_ISSUER_ID = "Invalid issuer ID"
EMPTY_POLICY = "policy definition can not be empty"


def no_literal(claim: str) -> str:
    """The service's refusal of a rule value made only of wildcards (or empty)."""
    return f"key {claim} should at least have a strict matching portion"


def thumbprint_mismatch(calculated: str) -> str:
    """The service's refusal of supplied thumbprints that do not match the served certificate."""
    return (
        f"Calculated thumbprint {calculated} does not match any of the provided. "
        "Make sure it is properly generated (SHA256)."
    )


def invalid_organization(org: str) -> str:
    """The service's refusal of an exchange for an organization that trusts no issuer (observed
    through pulumi/auth-actions: ``invalid_request: invalid organization X``)."""
    return f"invalid organization {org}"


def organization_not_found(org: str) -> str:
    """404 for an organization nobody created (store.py: the first issuer registered creates one).
    Our text (UNCONFIRMED)."""
    return f"organization '{org}' not found"


# Our texts where the service's are not known (the 404 detail follows the spec's "oidc issuer").
ISSUER_NOT_FOUND = "oidc issuer not found"
POLICY_NOT_FOUND = "auth policy not found"
URL_IMMUTABLE = "the issuer url cannot be changed; register a new issuer instead"
FORBIDDEN = (
    "this token may not manage the organization's OIDC issuers and policies "
    "(an organization admin token is required)"
)


class ApiError(Exception):
    """An answer in Pulumi Cloud's REST error shape; the message gets the status-text prefix."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{HTTPStatus(self.status).phrase}: {self.detail}"

    def body(self) -> dict:
        return {"code": self.status, "message": self.message}


class OAuthError(Exception):
    """An answer of the token endpoint in OAuth 2.0 form (RFC 6749 §5.2)."""

    def __init__(self, status: int, error: str, description: str):
        self.status = status
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}")

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


def unauthorized() -> ApiError:
    return ApiError(401, UNAUTHORIZED)


OAUTH_PATH_PREFIX = "/api/oauth/"


def is_oauth_path(path: str) -> bool:
    """Paths answered in the OAuth error form: the token endpoint and anything beside it."""
    return path.startswith(OAUTH_PATH_PREFIX) or path.rstrip("/") == OAUTH_PATH_PREFIX.rstrip("/")


def oauth_code(status: int) -> str:
    """The OAuth ``error`` for an answer that is not a decision on a token: the client's fault
    (malformed input, unknown path or method, no length, too large) is ``invalid_request``."""
    if status in (429, 503):
        return "temporarily_unavailable"
    if status >= 500:
        return "server_error"
    return "invalid_request"


def body_for(path: str, error: ApiError) -> dict:
    """The error body for ``path``: the OAuth form under ``/api/oauth/``, the REST form elsewhere."""
    if is_oauth_path(path):
        return {"error": oauth_code(error.status), "error_description": error.detail}
    return error.body()


def forbidden() -> ApiError:
    """403 in the REST error shape (``Forbidden: ...``); the detail text is ours (UNCONFIRMED)."""
    return ApiError(403, FORBIDDEN)
