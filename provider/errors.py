"""The errors a request to Pulumi Cloud ends in, and ``Answer``: what the client returns, in a
module of their own so that what only raises or catches them (the resources' program side, the
provider's check and diff) does not import the HTTP stack. ``client`` re-exports them."""

from __future__ import annotations

from typing import Any, Mapping


class Answer(dict):
    """A JSON object the service answered, with ``attempts``: how many times the request that got
    it may have been applied (``_attempts``). 1 unless the client resent it after a failure that
    came once the request was out (a 5xx, a dropped connection, a read timeout). Only the calls
    that need it return one (``update_auth_policy``); copy it with ``dict()`` before dumping it
    as YAML (a safe dumper knows only plain dicts)."""

    def __init__(self, body: Mapping[str, Any], attempts: int = 1):
        super().__init__(body)
        self.attempts = attempts


class PulumiCloudError(Exception):
    """A request to Pulumi Cloud failed. Carries the HTTP status, the service's code and message.

    For the token exchange, ``code`` is the OAuth ``error`` and ``message`` its
    ``error_description``. ``status`` is 0 when no answer arrived at all.
    """

    def __init__(self, status: int, message: str, code: Any = None, *, operation: str = ""):
        self.status = status
        self.code = code
        self.message = message
        self.operation = operation
        where = f"{operation}: " if operation else ""
        # Status 0: no answer arrived, or nothing was sent at all (no credential, a bad URL); the
        # message says which (``_no_answer``), so no "0" or "no answer" is put in front of it.
        super().__init__(f"{where}{status}: {message}" if status else f"{where}{message}")


class MissingCredentialError(PulumiCloudError):
    def __init__(self, operation: str = ""):
        super().__init__(
            0,
            "no Pulumi access token; give one of: `pulumi config set --secret oidc:accessToken <token>`, "
            "the PULUMI_ACCESS_TOKEN environment variable, or `pulumi login` (stored CLI credentials)",
            "missing_credentials",
            operation=operation,
        )


class InvalidCredentialError(PulumiCloudError):
    """The access token cannot be sent (``settings.access_token_problem``): the message names
    where it came from and never any part of it."""

    def __init__(self, problem: str, operation: str = ""):
        super().__init__(0, problem, "invalid_credentials", operation=operation)
