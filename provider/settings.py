"""Where the dynamic provider finds the Pulumi Cloud API URL and its access token.

Read inside the provider process, in ``configure()``, so nothing secret is ever captured in
the serialized provider. In order:

1. stack config ``oidc:apiUrl`` and ``oidc:accessToken`` (set it with ``--secret``);
2. the ``PULUMI_ACCESS_TOKEN`` environment variable;
3. the Pulumi CLI's stored credentials (``$PULUMI_HOME/credentials.json``, by default
   ``~/.pulumi/credentials.json``) for that API URL.

The default API URL is https://api.pulumi.com. Resolution never raises: a missing token is
reported by the first call that needs one (so a preview, which needs none, still works). An API
URL that breaks the one URL rule (``urls.api_url_problem``: https, plain http only to loopback, no
user part) is kept redacted with its problem: ``check`` reports it, and no request is ever sent
to it (no token travels in clear, no stored CLI credential is looked up for it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from . import wire
from .urls import api_url_problem, redact_url

CONFIG_API_URL = "oidc:apiUrl"
CONFIG_ACCESS_TOKEN = "oidc:accessToken"


@dataclass(frozen=True)
class Settings:
    api_url: str = wire.DEFAULT_API_URL
    access_token: str | None = field(default=None, repr=False)
    token_source: str = "none"
    """Where the token came from (for messages; never the token itself)."""
    api_url_problem: str | None = None
    """Why ``api_url`` (then shown redacted) must not be used; None when it may."""


def _cli_credentials(api_url: str, environ: Mapping[str, str]) -> str | None:
    home = environ.get("PULUMI_HOME") or os.path.join(Path.home(), ".pulumi")
    try:
        with open(os.path.join(home, "credentials.json"), encoding="utf-8") as f:
            creds = json.load(f)
        tokens = creds.get("accessTokens") or {}
        return tokens.get(api_url) or tokens.get(api_url.rstrip("/")) or None
    except (OSError, ValueError, AttributeError):
        return None


def resolve(get_config: Callable[[str], str | None], environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings from a config getter (``Config.get``) and the environment."""
    environ = os.environ if environ is None else environ
    try:
        api_url = (get_config(CONFIG_API_URL) or "").strip() or wire.DEFAULT_API_URL
        token = (get_config(CONFIG_ACCESS_TOKEN) or "").strip()
    except Exception:  # a config object we cannot read must not break configure()
        api_url, token = wire.DEFAULT_API_URL, ""
    api_url = api_url.rstrip("/")
    problem = api_url_problem(api_url)
    if problem:
        return Settings(redact_url(api_url), None, "none", f"{CONFIG_API_URL}: {problem}")
    if token:
        return Settings(api_url, token, "stack config oidc:accessToken")
    token = (environ.get("PULUMI_ACCESS_TOKEN") or "").strip()
    if token:
        return Settings(api_url, token, "PULUMI_ACCESS_TOKEN")
    token = _cli_credentials(api_url, environ) or ""
    if token:
        return Settings(api_url, token, "Pulumi CLI credentials")
    return Settings(api_url, None, "none")
