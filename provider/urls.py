"""The URL rules, in one place: issuer URLs and Pulumi Cloud API URLs.

Both are https, or plain http on a loopback address for local testing (the emulator), and never
carry a user part (``user:pass@``): credentials in a URL end up in reprs, logs and messages, and
an API URL over plain http to another host would carry the admin token and the workload token in
clear. Messages never repeat a user part.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact_url(url: object) -> str:
    """``url`` for a message: a user part (``user:pass@``) is replaced by ``***@``."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<an unparsable URL>"
    if "@" not in parts.netloc:
        return text
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc="***@" + host).geturl()


def _base_problem(url: object, example: str) -> str | None:
    """The rule shared by issuer and API URLs (None: acceptable)."""
    if not isinstance(url, str) or not url.strip():
        return f"required: the URL, e.g. {example!r}"
    shown = redact_url(url)
    if any(c.isspace() or ord(c) < 32 for c in url):
        return f"{shown!r} contains whitespace or control characters; write it as {example!r}"
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a malformed port
    except ValueError:
        return f"{shown!r} cannot be parsed; write it as 'https://HOST[/PATH]'"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return (
            f"{shown!r} has a user part (user:pass@); never put credentials in a URL: "
            "write 'https://HOST[/PATH]' and give the token as a secret"
        )
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{shown!r} is not an absolute URL; write it as 'https://HOST[/PATH]', e.g. {example!r}"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return (
            f"{shown!r} uses plain http to a host that is not loopback; use https "
            "(http is allowed only for 127.0.0.1/localhost testing)"
        )
    if parts.query or parts.fragment:
        return f"{shown!r} has a query or fragment; write it as 'https://HOST[/PATH]'"
    return None


def issuer_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be an issuer URL, with the fix; None when it can."""
    if not isinstance(url, str) or not url.strip():
        return "required: the issuer URL, e.g. 'https://token.actions.githubusercontent.com'"
    problem = _base_problem(url, "https://token.actions.githubusercontent.com")
    if problem and "plain http" in problem:
        return f"{redact_url(url)!r} uses http; Pulumi Cloud needs https (http is allowed only for 127.0.0.1/localhost testing)"
    return problem


def api_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be a Pulumi Cloud API URL (``oidc:apiUrl``, ``--api-url``, the runner's
    ``api_url``), with the fix; None when it can. The access token travels to this URL."""
    return _base_problem(url, "https://api.pulumi.com")


def path_segment_problem(value: object, what: str = "the value") -> str | None:
    """Why ``value`` cannot be one segment of an API path (an organization name, an issuer or
    policy id), with the fix; None when it can. ``.`` and ``..`` would move an authenticated
    request to another route once the URL is normalized, and a ``/`` would make a resource id
    (``ORG/ISSUER_ID``) that can never be split, hence never read back."""
    if not isinstance(value, str) or not value.strip():
        return f"required: {what}"
    if value in (".", ".."):
        return f"{value!r} is a relative path segment and would send the request to another route; give {what}"
    if "/" in value or "\\" in value:
        return f"{value!r} contains '/' or '\\'; {what} is one path segment: remove it"
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        return f"{value!r} contains control characters; give {what}"
    return None
