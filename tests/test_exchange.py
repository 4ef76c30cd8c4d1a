"""The token exchange: the Pulumi CLI's request, its own input errors, the service's answers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests

from pulumi_oidc_trust.provider.client import RetryBudget
from pulumi_oidc_trust.provider.exchange import ExchangeError, ExchangeInputError, ExchangeResult, exchange, prepare_exchange
from pulumi_oidc_trust.provider.wire import GRANT_TYPE_TOKEN_EXCHANGE, SUBJECT_TOKEN_TYPE_ID_TOKEN, audience_for

ROOT = Path(__file__).resolve().parents[1]
CLI_FIELDS = ["audience", "expiration", "grant_type", "requested_token_type", "scope", "subject_token", "subject_token_type"]
FAST = RetryBudget(attempts=3, backoff_factor=0, jitter=0)
OK_ANSWER = {
    "access_token": "pul-recorded-0123456789",
    "issued_token_type": "urn:pulumi:token-type:access_token:organization",
    "token_type": "token",
    "expires_in": 3600,
    "scope": "",
}


class Recorder:
    """A tiny HTTP server that records each request and answers from a script."""

    def __init__(self, answers: list[tuple[int, dict]]):
        self.requests: list[dict] = []
        self.answers = list(answers)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
                status, answer = recorder.answers.pop(0) if len(recorder.answers) > 1 else recorder.answers[0]
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    servers: list[Recorder] = []

    def start(*answers: tuple[int, dict]) -> Recorder:
        server = Recorder(list(answers) or [(200, OK_ANSWER)])
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def workload_token(inproc_emulator) -> str:
    return inproc_emulator.test_issuer.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": audience_for("acme")})


# -- the request ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,token_type,scope,expiration",
    [
        ({}, "organization", "", "7200"),
        ({"team": "platform"}, "team", "team:platform", "7200"),
        ({"user": "alice", "expiration": "15m"}, "personal", "user:alice", "900"),
        ({"expiration": 3600}, "organization", "", "3600"),
        ({"expiration": "1h30m"}, "organization", "", "5400"),
    ],
)
def test_form_body_is_exactly_the_cli_field_set(recorder, workload_token, kwargs, token_type, scope, expiration):
    server = recorder()
    result = exchange(oidc_token=workload_token, organization="acme", api_url=server.url, budget=FAST, **kwargs)
    assert result.access_token == OK_ANSWER["access_token"]
    [sent] = server.requests
    assert sent["path"] == "/api/oauth/token"
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in sent["headers"]
    fields = parse_qsl(sent["body"], keep_blank_values=True)
    assert [k for k, _ in fields] == CLI_FIELDS  # Go's url.Values encodes keys sorted
    assert dict(fields) == {
        "audience": "urn:pulumi:org:acme",
        "expiration": expiration,
        "grant_type": GRANT_TYPE_TOKEN_EXCHANGE,
        "requested_token_type": f"urn:pulumi:token-type:access_token:{token_type}",
        "scope": scope,
        "subject_token": workload_token,
        "subject_token_type": SUBJECT_TOKEN_TYPE_ID_TOKEN,
    }


def test_file_token_is_sent_as_its_content(recorder, workload_token, tmp_path):
    server = recorder()
    (tmp_path / "token").write_text(workload_token + "\n")
    exchange(oidc_token=f"file://{tmp_path}/token", organization="acme", api_url=server.url, budget=FAST)
    assert dict(parse_qsl(server.requests[0]["body"]))["subject_token"] == workload_token


def test_retries_like_the_cli(recorder, workload_token):
    server = recorder((503, {"error": "server_error", "error_description": "busy"}), (200, OK_ANSWER))
    result = exchange(oidc_token=workload_token, organization="acme", api_url=server.url, budget=FAST)
    assert result.expires_in == 3600 and len(server.requests) == 2


def test_organization_team_and_user_come_from_the_token(recorder, inproc_emulator):
    server = recorder()
    token = inproc_emulator.test_issuer.mint({"sub": "x", "aud": audience_for("acme"), "scope": "openid team:platform"})
    exchange(oidc_token=token, organization=None, api_url=server.url, budget=FAST)
    fields = dict(parse_qsl(server.requests[0]["body"], keep_blank_values=True))
    assert fields["audience"] == "urn:pulumi:org:acme" and fields["scope"] == "team:platform"


# -- the CLI's own errors, before anything is sent -----------------------------------------------


def _hostile_cases(tmp_path, token):
    (tmp_path / "empty").write_text("")
    (tmp_path / "garbage").write_text("hello")
    both_scopes = None
    return [
        ({"oidc_token": f"file://{tmp_path}/missing", "organization": "acme"}, f"Failed to read OIDC token: reading token from file '{tmp_path}/missing': No such file or directory"),
        ({"oidc_token": f"file://{tmp_path}/empty", "organization": "acme"}, f"Failed to read OIDC token: file '{tmp_path}/empty' is empty"),
        ({"oidc_token": f"file://{tmp_path}/garbage", "organization": "acme"}, f"Failed to read OIDC token: unexpected token format in file '{tmp_path}/garbage'"),
        ({"oidc_token": "not-a-jwt", "organization": "acme"}, "Failed to read OIDC token: must be JWT or 'file://filepath'. Got 'not-a-jwt'"),
        ({"oidc_token": token, "organization": "acme", "team": "a", "user": "b"}, "only one of team or user may be specified for token exchange"),
        ({"oidc_token": f"file://{tmp_path}/garbage", "organization": ""}, f"Failed to read OIDC token: unexpected token format in file '{tmp_path}/garbage'"),
        ({"oidc_token": "", "organization": "acme"}, "oidc token must be specified for token exchange"),
        ({"oidc_token": token, "organization": "acme", "expiration": "forever"}, "could not parse expiration duration: expiration: 'forever' is not a duration"),
        ({"oidc_token": token, "organization": "acme", "expiration": "26h"}, "could not parse expiration duration"),
        ({"oidc_token": token, "organization": "other"}, "--oidc-org 'other' conflicts with JWT aud claim organization 'acme'. The JWT aud claim takes precedence during token exchange. Either omit --oidc-org to use the JWT value, or ensure they match"),
    ] + ([] if both_scopes is None else [both_scopes])


def test_hostile_inputs_fail_before_sending(recorder, workload_token, tmp_path):
    server = recorder()
    for kwargs, message in _hostile_cases(tmp_path, workload_token):
        with pytest.raises(ExchangeInputError) as e:
            exchange(api_url=server.url, budget=FAST, **kwargs)
        assert str(e.value).startswith(message), (kwargs, str(e.value))
        assert workload_token not in str(e.value)
    assert server.requests == []


def test_token_scope_with_both_team_and_user(inproc_emulator):
    token = inproc_emulator.test_issuer.mint({"sub": "x", "aud": audience_for("acme"), "scope": ["team:a", "user:b"]})
    with pytest.raises(ExchangeInputError, match="^JWT scope contains both team 'a' and user 'b'. Only one of team or user may be specified for token exchange$"):
        prepare_exchange(oidc_token=token, organization="acme")


def test_prepared_request_and_result_never_show_tokens(workload_token):
    prepared = prepare_exchange(oidc_token=workload_token, organization="acme", team="t")
    assert workload_token not in repr(prepared)
    result = ExchangeResult("pul-secret-value", "organization", 60, __import__("datetime").datetime.now())
    assert "pul-secret-value" not in repr(result) and "pul-secret-value" not in str(result)


# -- against the emulator --------------------------------------------------------------------------


def test_exchange_against_the_emulator(inproc_emulator, workload_token):
    emu = inproc_emulator
    emu.trust_test_issuer("acme", maxExpiration=3600)
    result = exchange(oidc_token=workload_token, organization="acme", expiration="2h", api_url=emu.base_url, budget=FAST)
    assert result.token_type == "organization"
    assert result.expires_in == 3600  # the issuer's maxExpiration caps the 2 h asked for
    assert result.access_token not in repr(result)
    user = requests.get(emu.url("/api/user"), headers={"Authorization": f"token {result.access_token}"}, timeout=10)
    assert user.status_code == 200 and user.json()["tokenInfo"]["organization"] == "acme"


def test_denial_shows_the_error_description(inproc_emulator):
    emu = inproc_emulator
    emu.trust_test_issuer("acme")  # allows repo:acme/*
    token = emu.test_issuer.mint({"sub": "repo:evil/infra:ref:refs/heads/main", "aud": audience_for("acme")})
    with pytest.raises(ExchangeError) as e:
        exchange(oidc_token=token, organization="acme", api_url=emu.base_url, budget=FAST)
    assert e.value.status == 400 and e.value.code == "invalid_grant"
    assert "no authorization policy allows this exchange" in e.value.message
    assert token not in str(e.value)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pulumi_oidc_trust.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_cli_exchange_success_and_formats(inproc_emulator, workload_token, tmp_path):
    emu = inproc_emulator
    emu.trust_test_issuer("acme")
    (tmp_path / "token").write_text(workload_token)
    common = ["exchange", "--oidc-token", f"file://{tmp_path}/token", "--oidc-org", "acme", "--api-url", emu.base_url]
    plain = _cli(*common)
    assert plain.returncode == 0, plain.stderr
    access_token = plain.stdout.strip()
    assert access_token.startswith("pul-") and plain.stderr == ""
    env = _cli(*common, "--format", "env", "--oidc-expiration", "30m")
    assert env.returncode == 0
    lines = env.stdout.splitlines()
    assert lines[0].startswith("export PULUMI_ACCESS_TOKEN=pul-")
    assert lines[1] == f"export PULUMI_BACKEND_URL={emu.base_url}"
    data = json.loads(_cli(*common, "--format", "json").stdout)
    assert data["token_type"] == "organization" and data["expires_in"] == 7200 and data["access_token"].startswith("pul-")
    assert data["expires_at"].endswith("Z")
    for out in (plain, env):
        assert workload_token not in out.stdout + out.stderr


def test_cli_exchange_denied_exits_1_with_the_description(inproc_emulator):
    emu = inproc_emulator
    emu.trust_test_issuer("acme")
    token = emu.test_issuer.mint({"sub": "repo:evil/infra:ref:refs/heads/main", "aud": audience_for("acme")})
    out = _cli("exchange", "--oidc-token", token, "--oidc-org", "acme", "--api-url", emu.base_url)
    assert out.returncode == 1 and out.stdout == ""
    assert "token exchange failed (400 invalid_grant): no authorization policy allows this exchange" in out.stderr
    assert "oidc-trust simulate" in out.stderr
    assert "Traceback" not in out.stderr and token not in out.stderr


def test_cli_exchange_hostile_inputs_exit_2(workload_token, tmp_path):
    (tmp_path / "empty").write_text("")
    for args, message in [
        (["--oidc-token", f"file://{tmp_path}/nope", "--oidc-org", "acme"], "reading token from file"),
        (["--oidc-token", f"file://{tmp_path}/empty", "--oidc-org", "acme"], "is empty"),
        (["--oidc-token", "abc", "--oidc-org", "acme"], "must be JWT or 'file://filepath'. Got 'abc'"),
        (["--oidc-token", workload_token, "--oidc-org", "acme", "--oidc-team", "a", "--oidc-user", "b"], "only one of team or user may be specified for token exchange"),
        (["--oidc-token", workload_token[:-10] + "x" * 10 + ".extra", "--oidc-org", "acme"], "Got the value"),
    ]:
        out = _cli("exchange", "--api-url", "http://127.0.0.1:9", *args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stdout == ""
        assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr
        assert out.stderr.startswith("oidc-trust exchange: error: ")
        assert workload_token not in out.stderr and "Traceback" not in out.stderr


def test_cli_exchange_unreachable_service_exits_1(workload_token, monkeypatch, capsys):
    import functools

    from pulumi_oidc_trust.cli import main as cli

    # in-process, with a retry budget that does not wait (the default one backs off for seconds)
    monkeypatch.setattr(cli, "exchange", functools.partial(exchange, budget=FAST))
    code = cli.main(["exchange", "--oidc-token", workload_token, "--oidc-org", "acme", "--api-url", "http://127.0.0.1:9"])
    out = capsys.readouterr()
    assert code == 1 and out.out == "" and "token exchange failed (no answer" in out.err
    assert workload_token not in out.err and "Traceback" not in out.err
