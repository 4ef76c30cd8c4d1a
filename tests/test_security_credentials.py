"""Security review, round two (issue 23), fault 5: an access token that cannot travel in a header.

A token with an inner line break used to reach ``requests``, whose ``InvalidHeader`` quotes the
whole header with ``repr()``; the scrubber looked for the raw token and missed it. Now such a
token is recorded as a credential problem when the settings are resolved (``configure()`` still
never raises), the first call fails naming the config key or variable, nothing is sent, and the
scrubber also matches the token's escaped forms.
"""

from __future__ import annotations

import http.server
import json
import threading
from types import SimpleNamespace
from urllib.parse import parse_qs, quote_plus

import pytest

from pulumi_oidc_trust.provider import settings as settings_mod
from pulumi_oidc_trust.provider.client import (
    InvalidCredentialError,
    PulumiCloudClient,
    PulumiCloudError,
    RetryBudget,
    _failure,
)
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider

HEAD, TAIL = "pul-0a1b2c3d4e5f6a7b8c9d", "0e1f2a3b4c5d6e7f8a9b"
BREAKS = {"newline": "\n", "carriage-return": "\r", "crlf": "\r\n", "tab": "\t", "nul": "\x00",
          "line-separator": "\u2028", "next-line": "\x85", "space": " ", "non-ascii": "\u00e9"}


def _fragments(token: str) -> list[str]:
    """Every 6-character piece of the token that holds no break (what must never be shown)."""
    return [token[i : i + 6] for i in range(len(token) - 5) if token[i : i + 6].isalnum() or "-" in token[i : i + 6]]


def _shows_no_fragment(token: str, text: str) -> bool:
    return not [f for f in _fragments(token) if f in text]


@pytest.fixture
def sent(monkeypatch):
    """What reached requests (nothing should)."""
    calls: list = []
    monkeypatch.setattr("requests.Session.request", lambda *a, **k: calls.append(a) or pytest.fail("a request was sent"))
    return calls


@pytest.mark.parametrize("brk", BREAKS.values(), ids=BREAKS.keys())
@pytest.mark.parametrize(
    "source, config, environ, named",
    [
        ("config", lambda t: {"oidc:accessToken": t}, lambda t: {}, "oidc:accessToken"),
        ("env", lambda t: {}, lambda t: {"PULUMI_ACCESS_TOKEN": t}, "PULUMI_ACCESS_TOKEN"),
    ],
    ids=["config", "env"],
)
def test_a_token_with_a_break_fails_the_first_call_naming_its_source(sent, monkeypatch, source, config, environ, named, brk):
    if source == "env" and brk == "\x00":
        pytest.skip("an environment variable cannot hold NUL")
    token = HEAD + brk + TAIL
    values = config(token)
    for key, value in environ(token).items():
        monkeypatch.setenv(key, value)
    if source == "config":
        monkeypatch.delenv("PULUMI_ACCESS_TOKEN", raising=False)
    provider = OidcIssuerProvider()
    provider.configure(SimpleNamespace(config=SimpleNamespace(get=values.get)))  # never raises
    assert provider._settings.access_token_problem
    with pytest.raises(InvalidCredentialError) as caught:
        provider.create({"organization": "acme", "url": "https://token.actions.githubusercontent.com", "name": "gh"})
    shown = f"{caught.value} {caught.value.message} {caught.value.code!r} {caught.value!r}"
    assert named in shown and "line break" in shown
    assert _shows_no_fragment(token, shown), shown
    assert sent == []


def test_a_cli_credentials_token_with_a_break_is_named_too(tmp_path):
    (tmp_path / "credentials.json").write_text(
        json.dumps({"accessTokens": {"https://api.pulumi.com": HEAD + "\n" + TAIL}})
    )
    settings = settings_mod.resolve(lambda _key: None, {"PULUMI_HOME": str(tmp_path)})
    assert settings.token_source == settings_mod.SOURCE_CLI
    assert "Pulumi CLI credentials" in settings.access_token_problem and "pulumi login" in settings.access_token_problem
    assert _shows_no_fragment(HEAD + "\n" + TAIL, settings.access_token_problem + repr(settings))


def test_a_good_token_has_no_problem():
    settings = settings_mod.resolve({"oidc:accessToken": HEAD + TAIL}.get, {})
    assert settings.access_token == HEAD + TAIL and settings.access_token_problem is None


@pytest.mark.parametrize("brk", BREAKS.values(), ids=BREAKS.keys())
def test_the_client_never_sends_such_a_token(sent, brk):
    token = HEAD + brk + TAIL
    client = PulumiCloudClient("https://api.pulumi.com", token, budget=RetryBudget(attempts=0))
    with pytest.raises(InvalidCredentialError) as caught:
        client.list_issuers("acme")
    shown = f"{caught.value} {caught.value!r} {client!r}"
    assert "oidc:accessToken" in shown and "PULUMI_ACCESS_TOKEN" in shown
    assert _shows_no_fragment(token, shown)


# -- the scrubber matches escaped forms ----------------------------------------------------------

SECRET = HEAD + "\n" + TAIL


@pytest.mark.parametrize(
    "message",
    [
        "Invalid header value: " + repr("token " + SECRET),
        json.dumps({"echo": SECRET}),
        json.dumps({"echo": SECRET}, ensure_ascii=False),
        "subject_token=" + quote_plus(SECRET),
        "raw " + SECRET.encode("unicode_escape").decode(),
        "bytes " + repr(SECRET.encode()),
        "lines:\n" + HEAD + "\n...\n" + TAIL,
    ],
    ids=["repr", "json", "json-unicode", "form", "unicode-escape", "bytes-repr", "split-lines"],
)
def test_the_scrubber_matches_escaped_forms(message):
    error = _failure(400, message, None, "op", [SECRET])
    assert _shows_no_fragment(SECRET, f"{error} {error.message}"), error.message
    assert "<redacted>" in error.message


class _QuotingEcho(http.server.BaseHTTPRequestHandler):
    """A service whose error message quotes the workload token escaped, as a Python one would."""

    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        token = form.get("subject_token", [""])[0]
        body = json.dumps({"error": "invalid_grant", "error_description": f"bad token {token!r}; lines: {token}"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_an_escaped_echo_of_the_workload_token_is_scrubbed():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuotingEcho)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = PulumiCloudClient(f"http://127.0.0.1:{server.server_port}", budget=RetryBudget(attempts=0))
        with pytest.raises(PulumiCloudError) as caught:
            client.exchange_token(organization="acme", subject_token=SECRET)
    finally:
        server.shutdown()
        server.server_close()
    shown = f"{caught.value} {caught.value.code!r}"
    assert caught.value.status == 400 and _shows_no_fragment(SECRET, shown), shown
