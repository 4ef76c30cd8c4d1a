"""Where the dynamic provider finds the Pulumi Cloud API URL and its access token.

Read inside the provider process, in ``configure()``, so nothing secret is ever captured in
the serialized provider. In order:

- the API URL (``api_url_from``, the one order, which the ``oidc-trust`` commands share with
  ``--api-url`` in the place of the config key): stack config ``oidc:apiUrl``, then the
  ``OIDC_TRUST_API_URL`` environment variable, then https://api.pulumi.com. Never
  ``PULUMI_BACKEND_URL``: it names the CLI's state backend, often a ``file://`` one;
- the token: stack config ``oidc:accessToken`` (set it with ``--secret``), then the
  ``PULUMI_ACCESS_TOKEN`` environment variable, then the Pulumi CLI's stored credentials
  (``$PULUMI_HOME/credentials.json``, by default ``~/.pulumi/credentials.json``) for that API URL.

Resolution never raises: a missing token is
reported by the first call that needs one (so a preview, which needs none, still works), and so
is a token that cannot travel in an HTTP header (``access_token_problem``: a line break, another
control character, a space or a non-ASCII character, as a paste with a line wrap leaves): the
message names where the token came from and never shows any part of it. An API
URL that breaks the one URL rule (``urls.api_url_problem``: https, plain http only to loopback, no
user part) is kept redacted with its problem: ``check`` reports it, and no request is ever sent
to it (no token travels in clear, no stored CLI credential is looked up for it).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from . import wire
from .urls import api_url_problem, redact_url

CONFIG_API_URL = "oidc:apiUrl"
CONFIG_ACCESS_TOKEN = "oidc:accessToken"
API_URL_ENV = "OIDC_TRUST_API_URL"


def api_url_from(explicit: str | None, environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(the API URL, where it came from) in the one order: ``explicit`` (the stack's ``oidc:apiUrl``,
    a command's ``--api-url``), then ``$OIDC_TRUST_API_URL``, then the default (source None).
    Never ``PULUMI_BACKEND_URL``, which names the CLI's state backend."""
    environ = os.environ if environ is None else environ
    if explicit is not None and explicit.strip():
        return explicit.strip(), "explicit"
    from_env = (environ.get(API_URL_ENV) or "").strip()
    if from_env:
        return from_env, API_URL_ENV
    return wire.DEFAULT_API_URL, None


@dataclass(frozen=True)
class Settings:
    api_url: str = wire.DEFAULT_API_URL
    access_token: str | None = field(default=None, repr=False)
    token_source: str = "none"
    """Where the token came from (for messages; never the token itself)."""
    api_url_problem: str | None = None
    """Why ``api_url`` (then shown redacted) must not be used; None when it may."""
    access_token_problem: str | None = None
    """Why ``access_token`` must not be sent (``access_token_problem()``); None when it may."""


SOURCE_CONFIG = f"stack config {CONFIG_ACCESS_TOKEN}"
SOURCE_ENV = "PULUMI_ACCESS_TOKEN"
SOURCE_CLI = "Pulumi CLI credentials"
_FIX_BY_SOURCE = {
    SOURCE_CONFIG: f"set it again: `pulumi config set --secret {CONFIG_ACCESS_TOKEN} <token>`",
    SOURCE_ENV: "set the PULUMI_ACCESS_TOKEN environment variable again",
    SOURCE_CLI: "log in again with `pulumi login`",
}
_HEADER_SAFE_TOKEN = re.compile(r"[\x21-\x7e]+")
"""What an access token may hold: visible ASCII (Pulumi tokens are ``pul-`` and hex digits)."""


def access_token_problem(token: str | None, source: str | None = None) -> str | None:
    """Why ``token`` cannot be sent as ``Authorization: token ...`` (None when it can).

    A line break, another control character, a space or a non-ASCII character is refused before
    anything is sent: ``requests`` would quote the whole header, token included, in its error,
    and ``http.client`` refuses what is not Latin-1. The message names ``source`` (the config
    key, the environment variable or the CLI's credentials) and the fix, never any part of the
    token."""
    if not token or _HEADER_SAFE_TOKEN.fullmatch(token):
        return None
    where = source or f"{CONFIG_ACCESS_TOKEN}, {SOURCE_ENV} or the Pulumi CLI's credentials"
    fix = _FIX_BY_SOURCE.get(source or "", f"give it again in {CONFIG_ACCESS_TOKEN} or {SOURCE_ENV}")
    return (
        f"the access token from {where} contains a line break, a space, a control character or a "
        f"non-ASCII character (the token is not shown); {fix}, without them"
    )


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
        configured = get_config(CONFIG_API_URL)
        token = (get_config(CONFIG_ACCESS_TOKEN) or "").strip()
    except Exception:  # a config object we cannot read must not break configure()
        configured, token = None, ""
    api_url, url_source = api_url_from(configured if isinstance(configured, str) else None, environ)
    api_url = api_url.rstrip("/")
    problem = api_url_problem(api_url)
    if problem:
        where = API_URL_ENV if url_source == API_URL_ENV else CONFIG_API_URL
        return Settings(redact_url(api_url), None, "none", f"{where}: {problem}")
    source = SOURCE_CONFIG
    if not token:
        token, source = (environ.get("PULUMI_ACCESS_TOKEN") or "").strip(), SOURCE_ENV
    if not token:
        cli_token = _cli_credentials(api_url, environ)
        token, source = (cli_token.strip() if isinstance(cli_token, str) else ""), SOURCE_CLI
    if not token:
        return Settings(api_url, None, "none")
    # A token that cannot travel in a header is kept, but recorded as a problem (like an API URL's):
    # the first call reports it, naming the source; configure() never raises.
    return Settings(api_url, token, source, access_token_problem=access_token_problem(token, source))
