"""The one rule for issuer URLs: https, or plain http on a loopback address for local testing."""

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


def issuer_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be an issuer URL, with the fix; None when it can."""
    if not isinstance(url, str) or not url.strip():
        return "required: the issuer URL, e.g. 'https://token.actions.githubusercontent.com'"
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a malformed port
    except ValueError:
        return f"{url!r} cannot be parsed; write it as 'https://HOST[/PATH]'"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{url!r} is not an absolute URL; write it as 'https://HOST[/PATH]'"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return f"{url!r} uses http; Pulumi Cloud needs https (http is allowed only for 127.0.0.1/localhost testing)"
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"{url!r} has a query, fragment or user part; an issuer URL has none: 'https://HOST[/PATH]'"
    return None
