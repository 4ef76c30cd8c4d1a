"""Security review, product side: URLs, secrets in errors, ids, policy inputs, the simulator.

Each test shows a fault the review found (items 2-7) and that it stays fixed.
"""

from __future__ import annotations

import pytest

from pulumi_oidc_trust.emulator import TestIssuer, new_rsa_key
from pulumi_oidc_trust.provider.policy import MAX_CLAIM_LENGTH
from pulumi_oidc_trust.provider.simulate import TokenError, decode_token


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer("https://issuer.example.com", key=new_rsa_key())


# -- 3: the simulator refuses what the exchange refuses ------------------------------------------


def test_simulator_refuses_a_token_with_an_oversized_claim(issuer):
    token = issuer.mint({"sub": "s" * (MAX_CLAIM_LENGTH + 1), "aud": "urn:pulumi:org:acme"})
    with pytest.raises(TokenError, match=f"claim sub is {MAX_CLAIM_LENGTH + 1} characters") as caught:
        decode_token(token)
    assert "sss" not in str(caught.value)  # the claim itself is not echoed


def test_cli_simulate_refuses_an_oversized_claims_file(tmp_path, capsys):
    from pulumi_oidc_trust.cli.main import main

    policies = tmp_path / "p.json"
    policies.write_text('[{"decision": "allow", "token_type": "organization", "role_id": "r", "rules": {"sub": "a*"}}]')
    claims = tmp_path / "c.json"
    claims.write_text('{"sub": "%s"}' % ("a" * (MAX_CLAIM_LENGTH + 1)))
    code = main(["simulate", "--policies", str(policies), "--claims", str(claims)])
    assert code == 2
    assert f"longer than {MAX_CLAIM_LENGTH} characters" in capsys.readouterr().err


# -- 2: one URL rule for every API URL ------------------------------------------------------------

from types import SimpleNamespace  # noqa: E402

from pulumi_oidc_trust.components.runner_manifests import runner_spec  # noqa: E402
from pulumi_oidc_trust.provider import settings as settings_mod  # noqa: E402
from pulumi_oidc_trust.provider.client import PulumiCloudClient, PulumiCloudError  # noqa: E402
from pulumi_oidc_trust.provider.exchange import ExchangeInputError, exchange  # noqa: E402
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider  # noqa: E402
from pulumi_oidc_trust.provider.urls import api_url_problem  # noqa: E402

SECRET_PASSWORD = "hunter2-secret-pw"


@pytest.mark.parametrize(
    "url", ["https://api.pulumi.com", "https://pulumi.internal.example/api", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"]
)
def test_api_urls_that_keep_credentials_safe_are_accepted(url):
    assert api_url_problem(url) is None


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://api.pulumi.com", "plain http"),
        ("http://10.0.0.5:8080", "plain http"),
        (f"https://admin:{SECRET_PASSWORD}@api.pulumi.com", "user part"),
        (f"http://admin:{SECRET_PASSWORD}@127.0.0.1:1", "user part"),
        ("ftp://api.pulumi.com", "not an absolute URL"),
        ("https://api.pulumi.com/?x=1", "query"),
        ("https://api.pulumi.com\n", "whitespace"),
    ],
)
def test_api_urls_that_leak_credentials_are_refused_without_echoing_them(url, words):
    problem = api_url_problem(url)
    assert problem and words in problem
    assert SECRET_PASSWORD not in problem


def test_stack_config_api_url_over_plain_http_fails_check_and_sends_nothing(monkeypatch):
    config = {"oidc:apiUrl": f"http://admin:{SECRET_PASSWORD}@pulumi.example.com", "oidc:accessToken": "pul-abc"}
    settings = settings_mod.resolve(config.get, environ={})
    assert settings.api_url_problem and SECRET_PASSWORD not in repr(settings)
    provider = OidcIssuerProvider()
    provider.configure(SimpleNamespace(config=SimpleNamespace(get=config.get)))
    result = provider.check({}, {"organization": "acme", "url": "https://token.actions.githubusercontent.com"})
    failures = {f.property: f.reason for f in result.failures}
    assert "oidc:apiUrl" in failures and "user part" in failures["oidc:apiUrl"]
    sent = []
    monkeypatch.setattr("requests.Session.request", lambda *a, **k: sent.append(a))
    with pytest.raises(PulumiCloudError) as caught:
        provider._client()
    assert caught.value.code == "invalid_api_url" and sent == []
    assert SECRET_PASSWORD not in str(caught.value)


def test_plain_http_api_url_from_config_is_refused():
    settings = settings_mod.resolve({"oidc:apiUrl": "http://pulumi.example.com"}.get, environ={"PULUMI_ACCESS_TOKEN": "pul-x"})
    assert "plain http" in settings.api_url_problem
    assert settings.access_token is None  # the token is not even handed to a client for it


def test_client_refuses_before_any_request(monkeypatch):
    sent = []
    monkeypatch.setattr("requests.Session.request", lambda *a, **k: sent.append(a))
    with pytest.raises(PulumiCloudError, match="plain http"):
        PulumiCloudClient("http://pulumi.example.com", "pul-token")
    assert sent == []


def test_exchange_refuses_a_plain_http_api_url_before_reading_the_token():
    with pytest.raises(ExchangeInputError, match="api_url: .*plain http"):
        exchange(oidc_token="file:///nonexistent", organization="acme", api_url="http://pulumi.example.com")


@pytest.mark.parametrize("command", [["exchange", "--oidc-token", "x", "--oidc-org", "acme"], ["render", "--organization", "acme"]])
def test_cli_api_url_follows_the_rule(command, capsys):
    from pulumi_oidc_trust.cli.main import main

    with pytest.raises(SystemExit) as caught:
        main([*command, "--api-url", f"https://u:{SECRET_PASSWORD}@api.pulumi.com"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "user part" in err and SECRET_PASSWORD not in err


@pytest.mark.parametrize("url, words", [("http://pulumi.example.com", "plain http"), (f"https://u:{SECRET_PASSWORD}@h", "user part")])
def test_runner_api_url_follows_the_rule(url, words):
    with pytest.raises(ValueError, match=words) as caught:
        runner_spec("login", organization="acme", api_url=url)
    assert str(caught.value).startswith("api_url: ") and SECRET_PASSWORD not in str(caught.value)
    assert runner_spec("login", organization="acme", api_url="https://api.pulumi.com").api_url


# -- 4: echoed credentials never reach an error ---------------------------------------------------

import http.server  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

from pulumi_oidc_trust.provider.client import MAX_MESSAGE_CHARS, RetryBudget  # noqa: E402
from pulumi_oidc_trust.provider.exchange import ExchangeError  # noqa: E402


class _Echo(http.server.BaseHTTPRequestHandler):
    """A hostile or buggy service: every answer is a 400 that echoes the caller's credentials,
    placed so that cutting the message at MAX_MESSAGE_CHARS would cut a token in two."""

    shape = "json"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode()) if length else {}
        secret = (self.headers.get("Authorization") or "").partition(" ")[2] or form.get("subject_token", [""])[0]
        text = "x" * (MAX_MESSAGE_CHARS - 10) + secret + " (echoed)"
        if self.shape == "json":
            body = json.dumps({"code": 400, "message": text}).encode()
        elif self.shape == "oauth":
            body = json.dumps({"error": "bad " + secret, "error_description": text}).encode()
        else:
            body = text.encode()
        self.send_response(400)
        self.send_header("Content-Type", "text/plain" if self.shape == "text" else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    _Echo.shape = "json"


def _no_piece_of(secret: str, text: str) -> bool:
    return all(secret[i : i + 8] not in text for i in range(len(secret) - 7))


@pytest.mark.parametrize("shape", ["json", "text"])
def test_an_echoed_access_token_is_scrubbed_even_where_the_message_is_cut(echo_server, shape):
    _Echo.shape = shape
    token = "pul-" + "a1b2c3d4" * 5
    client = PulumiCloudClient(f"http://127.0.0.1:{echo_server.server_port}", token, budget=RetryBudget(attempts=0))
    with pytest.raises(PulumiCloudError) as caught:
        client.list_issuers("acme")
    shown = f"{caught.value} {caught.value.message} {caught.value.code!r}"
    assert _no_piece_of(token, shown), shown[-80:]
    assert "<redacted>" in shown


def test_an_echoed_workload_token_is_scrubbed_from_message_and_code(echo_server, issuer, capsys):
    from pulumi_oidc_trust.cli.main import main

    _Echo.shape = "oauth"
    workload = issuer.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": "urn:pulumi:org:acme"})
    url = f"http://127.0.0.1:{echo_server.server_port}"
    with pytest.raises(ExchangeError) as caught:
        exchange(oidc_token=workload, organization="acme", api_url=url, budget=RetryBudget(attempts=0))
    shown = f"{caught.value} {caught.value.code!r}"
    assert _no_piece_of(workload, shown), shown[-80:]

    assert main(["exchange", "--oidc-token", workload, "--oidc-org", "acme", "--api-url", url]) != 0
    out = capsys.readouterr()
    assert _no_piece_of(workload, out.err + out.out)


# -- 6: '.', '..' and '/' never reach a request path ----------------------------------------------

from pulumi_oidc_trust.provider import issuer as issuer_mod  # noqa: E402
from pulumi_oidc_trust.provider import issuer_policy as policy_mod  # noqa: E402
from pulumi_oidc_trust.provider.base import split_id  # noqa: E402

GOOD_POLICY = [{"decision": "deny", "token_type": "organization", "rules": {"aud": "urn:pulumi:org:acme"}}]


@pytest.mark.parametrize("call", [
    lambda c: c.list_issuers(".."),
    lambda c: c.get_issuer("acme", ".."),
    lambda c: c.get_issuer("acme", "."),
    lambda c: c.delete_issuer("acme", "a/b"),
    lambda c: c.get_auth_policy("..", "x"),
    lambda c: c.update_auth_policy("acme", "..", []),
])
def test_client_refuses_relative_segments_before_sending(call, monkeypatch):
    sent = []
    monkeypatch.setattr("requests.Session.request", lambda *a, **k: sent.append(a))
    with PulumiCloudClient("https://api.pulumi.com", "pul-x") as client:
        with pytest.raises(PulumiCloudError) as caught:
            call(client)
    assert caught.value.code == "invalid_path_segment" and sent == []


@pytest.mark.parametrize("org", ["..", ".", "a/b", "a\\b"])
def test_issuer_check_refuses_an_organization_that_is_no_path_segment(org):
    _inputs, problems = issuer_mod.validate({"organization": org, "url": "https://token.actions.githubusercontent.com"})
    assert [p for p, _ in problems] == ["organization"]


@pytest.mark.parametrize("field, value", [("organization", ".."), ("issuer_id", ".."), ("issuer_id", "x/y"), ("issuer_id", ".")])
def test_policy_check_refuses_ids_that_are_no_path_segment(field, value):
    props = {"organization": "acme", "issuer_id": "abc", "policies": GOOD_POLICY, field: value}
    _inputs, problems = policy_mod.validate(props)
    assert field in [p for p, _ in problems]


@pytest.mark.parametrize("resource_id", ["acme/..", "../x", "acme/.", "a/b/c"])
def test_resource_ids_with_relative_segments_are_refused(resource_id):
    with pytest.raises(ValueError, match="ORGANIZATION/ISSUER_ID"):
        split_id(resource_id, "OidcIssuer")


# -- 7: a key given twice, and size limits, are refused at preview --------------------------------

from pulumi_oidc_trust.provider import policy as model  # noqa: E402
from pulumi_oidc_trust.provider.issuer import MAX_JWKS_KEYS  # noqa: E402
from pulumi_oidc_trust.provider.policy import MAX_PATTERN_LENGTH, MAX_RULES_PER_POLICY  # noqa: E402

AUD = {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main"}


def _check_policies(policies):
    _inputs, problems = policy_mod.validate({"organization": "acme", "issuer_id": "abc", "policies": policies})
    return problems


def test_a_policy_key_in_both_spellings_is_refused():
    raw = {
        "decision": "allow", "token_type": "organization", "rules": AUD,
        "authorized_permissions": [], "authorizedPermissions": ["admin"],
    }
    problems = _check_policies([raw])
    assert ("policies[0].authorized_permissions",
            "given twice, as 'authorized_permissions' and 'authorizedPermissions'; keep exactly one of them") in problems


def test_rules_per_policy_are_limited():
    rules = {**AUD, **{f"c{i}": "x" for i in range(MAX_RULES_PER_POLICY)}}
    problems = _check_policies([{"decision": "allow", "token_type": "organization", "role_id": "r", "rules": rules}])
    assert any(p == "policies[0].rules" and f"at most {MAX_RULES_PER_POLICY}" in m for p, m in problems)
    ok = dict(list(rules.items())[:MAX_RULES_PER_POLICY])
    assert model.parse_policy({"decision": "allow", "token_type": "organization", "role_id": "r", "rules": ok})


def test_pattern_and_name_lengths_are_limited():
    long = "x" * (MAX_PATTERN_LENGTH + 1)
    problems = _check_policies([
        {"decision": "allow", "token_type": "organization", "role_id": "r", "rules": {**AUD, "sub": long}},
        {"decision": "allow", "token_type": "team", "team_name": long, "rules": AUD},
    ])
    assert {p for p, _ in problems} >= {"policies[0].rules.sub", "policies[1].team_name"}


def test_jwks_keys_are_limited():
    key = {"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}
    jwks = {"keys": [dict(key, kid=f"k{i}") for i in range(MAX_JWKS_KEYS + 1)]}
    _inputs, problems = issuer_mod.validate(
        {"organization": "acme", "url": "https://issuer.example.com", "jwks": jwks}
    )
    assert any(p == "jwks" and f"at most {MAX_JWKS_KEYS}" in m for p, m in problems)


# -- 5: simulate --discovery trusts only the issuer it is told to trust ---------------------------

import time  # noqa: E402

from pulumi_oidc_trust.provider import simulate as simulate_mod  # noqa: E402


def test_cli_refuses_discovery_without_the_trusted_issuer_url(tmp_path, capsys):
    from pulumi_oidc_trust.cli.main import main

    policies = tmp_path / "p.json"
    policies.write_text(json.dumps(GOOD_POLICY))
    # A forger's token names the forger's own issuer; before, --discovery fetched keys from it.
    forged = TestIssuer("http://127.0.0.1:9/forger", key=new_rsa_key()).mint({"sub": "x", "aud": "urn:pulumi:org:acme"})
    code = main(["simulate", "--policies", str(policies), "--token", forged, "--discovery"])
    assert code == 2
    assert "needs the issuer URL you trust" in capsys.readouterr().err


def test_a_discovery_document_naming_another_issuer_is_refused(documents):
    forger = TestIssuer(documents.url, key=new_rsa_key())
    documents.routes = {
        "/.well-known/openid-configuration": json.dumps({"issuer": documents.url + "/other", "jwks_uri": documents.url + "/jwks"}).encode(),
        "/jwks": json.dumps(forger.jwks()).encode(),
    }
    token = forger.mint({"sub": "x", "aud": "urn:pulumi:org:acme", "iss": documents.url + "/other"})
    with pytest.raises(TokenError, match="not the trusted"):
        decode_token(token, discovery_url=documents.url, audience="urn:pulumi:org:acme")


def test_a_token_from_another_issuer_fails_against_the_trusted_one(inproc_emulator):
    forged = TestIssuer("https://forger.example", key=new_rsa_key()).mint(
        {"sub": "repo:acme/infra:ref:refs/heads/main", "aud": "urn:pulumi:org:acme"}, kid=inproc_emulator.test_issuer.kid
    )
    with pytest.raises(TokenError, match="failed verification"):
        decode_token(forged, discovery_url=inproc_emulator.test_issuer_url, audience="urn:pulumi:org:acme")


def test_an_oversized_discovery_document_is_refused(documents):
    documents.routes = {"/.well-known/openid-configuration": b" " * (simulate_mod.MAX_DOCUMENT_BYTES + 10)}
    token = TestIssuer(documents.url, key=new_rsa_key()).mint({"sub": "x"})
    with pytest.raises(TokenError, match="larger than"):
        decode_token(token, discovery_url=documents.url, audience="urn:pulumi:org:acme")


def test_a_slow_discovery_fetch_is_cut_at_the_deadline(documents, monkeypatch):
    monkeypatch.setattr(simulate_mod, "FETCH_DEADLINE_SECONDS", 1.0)
    documents.routes = {"/.well-known/openid-configuration": (b'{"issuer": "x", "jwks_uri": "y"}' * 10, 0.2)}
    token = TestIssuer(documents.url, key=new_rsa_key()).mint({"sub": "x"})
    started = time.monotonic()
    with pytest.raises(TokenError, match="took longer than"):
        decode_token(token, discovery_url=documents.url, audience="urn:pulumi:org:acme")
    assert time.monotonic() - started < 2.5
