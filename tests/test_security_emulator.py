"""Security review, emulator side: what an attacker with a token, or none, cannot do.

Items: 3 (a claim cannot stall an exchange; long claims are refused), 8 (only the admin token or
an organization token with admin may change trust), 9 (key fetching: failures cached, a total
deadline, a generic reason), 10 (token lifetimes and time claims).
"""

from __future__ import annotations

import time

import pytest

from pulumi_oidc_trust.provider.policy import MAX_CLAIM_LENGTH
from pulumi_oidc_trust.provider.wire import audience_for
from tests.conftest import allow_policy


@pytest.fixture
def trusted(inproc_emulator):
    """acme trusts the emulator's test issuer for ``repo:acme/*``."""
    inproc_emulator.issuer = inproc_emulator.trust_test_issuer()
    return inproc_emulator


def _refused(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert words in response.text
    if status == 400:  # a refused exchange: the OAuth form
        assert response.json()["error"] == "invalid_grant"


# -- 3: the matcher cannot be stalled, long claims are refused -----------------------------------


def test_a_backtracking_pattern_and_a_long_claim_answer_at_once(trusted):
    org = trusted.org
    trusted.set_policies(trusted.issuer["id"], [allow_policy(org, sub="a*a*a*a*b")])
    token = trusted.workload_token(sub="a" * 811)
    started = time.monotonic()
    response = trusted.exchange(token)
    elapsed = time.monotonic() - started
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text
    assert elapsed < 2.0, f"the exchange took {elapsed:.1f}s"  # before: 9-15 s


def test_a_claim_longer_than_the_limit_is_refused_with_the_reason(trusted):
    token = trusted.workload_token(sub="repo:acme/" + "x" * MAX_CLAIM_LENGTH)
    response = trusted.exchange(token)
    _refused(response, 400, f"longer than {MAX_CLAIM_LENGTH} characters")
    assert "claim sub" in response.json()["error_description"]


def test_a_nested_long_claim_is_refused_too(trusted):
    token = trusted.workload_token(extra={"deep": ["ok", "y" * (MAX_CLAIM_LENGTH + 1)]})
    _refused(trusted.exchange(token), 400, "claim extra.deep[1]")


def test_claims_at_the_limit_are_accepted(trusted):
    token = trusted.workload_token(sub="repo:acme/" + "x" * (MAX_CLAIM_LENGTH - len("repo:acme/")))
    assert trusted.exchange(token).status_code == 200


# -- 8: only an admin may rewrite trust ----------------------------------------------------------

FORBIDDEN_PREFIX = "Forbidden: "


def _issuers(org: str = "acme") -> str:
    return f"/api/orgs/{org}/oidc/issuers"


def _grant_everything(handle) -> dict:
    """acme trusts the test issuer for org, admin, team and personal tokens of repo:acme/*."""
    org = handle.org
    issuer = handle.register_issuer()
    handle.set_policies(
        issuer["id"],
        [
            allow_policy(org),
            allow_policy(org, authorizedPermissions=["admin"]),
            allow_policy(org, tokenType="team", teamName="platform"),
            allow_policy(org, tokenType="personal", userLogin="alice"),
        ],
    )
    return issuer


def _token(handle, **exchange_args) -> str:
    response = handle.exchange(handle.workload_token(), **exchange_args)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.mark.parametrize(
    "exchange_args",
    [{}, {"token_type": "team", "scope": "team:platform"}, {"token_type": "personal", "scope": "user:alice"}],
    ids=["organization", "team", "personal"],
)
def test_a_token_without_admin_cannot_read_or_rewrite_trust(inproc_emulator, exchange_args):
    issuer = _grant_everything(inproc_emulator)
    token = _token(inproc_emulator, **exchange_args)
    policy = inproc_emulator.policy_of(issuer["id"])
    before = inproc_emulator.app.store.snapshot()
    attempts = [
        ("POST", _issuers(), {"name": "evil", "url": "http://127.0.0.1:9/evil"}),
        ("PATCH", f"{_issuers()}/{issuer['id']}", {"name": "renamed"}),
        ("DELETE", f"{_issuers()}/{issuer['id']}", None),
        ("PATCH", f"/api/orgs/acme/auth/policies/{policy['id']}", {"policies": [allow_policy("acme", sub="*x")]}),
        ("GET", _issuers(), None),
        ("GET", f"/api/orgs/acme/auth/policies/oidcissuers/{issuer['id']}", None),
    ]
    for method, path, body in attempts:
        response = inproc_emulator.request(method, path, token=token, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == 403 and response.json()["message"].startswith(FORBIDDEN_PREFIX)
    after = inproc_emulator.app.store.snapshot()
    assert after["issuers"] == before["issuers"] and after["policies"] == before["policies"]
    # What such a token is for still works.
    assert inproc_emulator.get("/api/user", token=token).status_code == 200


def test_an_organization_token_with_admin_and_the_admin_token_may_manage_trust(inproc_emulator):
    issuer = _grant_everything(inproc_emulator)
    admin_token = _token(inproc_emulator, scope="admin")
    response = inproc_emulator.patch(f"{_issuers()}/{issuer['id']}", token=admin_token, json={"name": "renamed"})
    assert response.status_code == 200 and response.json()["name"] == "renamed"
    assert inproc_emulator.get(_issuers(), token="admin").status_code == 200


def test_an_admin_token_of_another_organization_is_still_401(inproc_emulator):
    _grant_everything(inproc_emulator)
    admin_token = _token(inproc_emulator, scope="admin")
    assert inproc_emulator.get(_issuers("other"), token=admin_token).status_code == 401


# -- 10: token lifetimes and time claims ---------------------------------------------------------

from pulumi_oidc_trust.emulator.verify import MAX_TOKEN_LIFETIME_SECONDS  # noqa: E402


@pytest.mark.parametrize(
    "times, words",
    [
        (lambda now: {"iat": now, "exp": 253402300799}, "lifetime too long"),  # the year 9999
        (lambda now: {"iat": 1, "exp": now + 600}, "lifetime too long"),
        (lambda now: {"iat": now, "exp": now + MAX_TOKEN_LIFETIME_SECONDS + 120}, "lifetime too long"),
        (lambda now: {"iat": now, "exp": str(now + 600)}, "exp claim must be a number"),
        (lambda now: {"iat": str(now), "exp": now + 600}, "iat claim must be a number"),
        (lambda now: {"iat": now, "exp": now + 600, "nbf": "0"}, "nbf claim must be a number"),
        (lambda now: {"iat": now, "exp": True}, "exp claim must be a number"),
    ],
    ids=["year-9999", "iat-1", "just-over", "string-exp", "string-iat", "string-nbf", "bool-exp"],
)
def test_implausible_time_claims_are_refused(trusted, times, words):
    now = int(time.time())
    response = trusted.exchange(trusted.workload_token(**times(now)))
    _refused(response, 400, words)


def test_a_day_long_token_is_still_accepted(trusted):
    now = int(time.time())
    token = trusted.workload_token(iat=now, exp=now + MAX_TOKEN_LIFETIME_SECONDS)
    assert trusted.exchange(token).status_code == 200


# -- 9: key fetching cannot be turned against the emulator or anyone else -------------------------

import socket  # noqa: E402
import threading  # noqa: E402

from pulumi_oidc_trust.emulator.fetch import Fetcher, FetchError  # noqa: E402
from pulumi_oidc_trust.emulator.verify import FAILURE_BACKOFF_SECONDS, KEYS_UNAVAILABLE  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowIssuer:
    """Answers every request with headers, then one body byte every ``interval`` seconds:
    each read completes well within any per-read timeout."""

    def __init__(self, interval: float = 0.3):
        self.interval = interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                while not self.stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(self.interval)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def slow_issuer():
    issuer = SlowIssuer()
    yield issuer
    issuer.close()


def test_a_failed_key_fetch_is_cached_with_backoff(inproc_emulator):
    org = inproc_emulator.org
    url = f"http://127.0.0.1:{_closed_port()}"
    issuer = inproc_emulator.register_issuer(url=url)
    inproc_emulator.set_policies(issuer["id"], [allow_policy(org)])
    keys = inproc_emulator.app.keys
    forged = inproc_emulator.test_issuer.mint({"sub": "repo:acme/x", "aud": audience_for(org), "iss": url})
    for _ in range(5):
        _refused(inproc_emulator.exchange(forged), 400, "signing keys")
    assert keys.fetches == 1  # five forged tokens, one fetch
    real_clock = keys.clock
    keys.clock = lambda: real_clock() + FAILURE_BACKOFF_SECONDS + 1
    _refused(inproc_emulator.exchange(forged), 400, "signing keys")
    assert keys.fetches == 2  # after the backoff, one more try
    _refused(inproc_emulator.exchange(forged), 400, "signing keys")
    assert keys.fetches == 2  # and the backoff has doubled


def test_a_fetch_failure_is_answered_with_a_generic_reason(inproc_emulator):
    port = _closed_port()
    url = f"http://127.0.0.1:{port}"
    issuer = inproc_emulator.register_issuer(url=url)
    inproc_emulator.set_policies(issuer["id"], [allow_policy(inproc_emulator.org)])
    token = inproc_emulator.test_issuer.mint({"sub": "repo:acme/x", "aud": audience_for("acme"), "iss": url})
    description = inproc_emulator.exchange(token).json()["error_description"]
    assert description == KEYS_UNAVAILABLE
    assert str(port) not in description and "refused" not in description.lower()
    assert "Connection" in inproc_emulator.app.keys.last_failure  # the operator still learns why


def test_a_slow_issuer_cannot_hold_a_fetch_past_its_deadline(slow_issuer):
    fetcher = Fetcher(timeout=5.0, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        fetcher.get_json(slow_issuer.url + "/.well-known/openid-configuration")
    assert time.monotonic() - started < 2.5


def test_a_slow_issuer_cannot_hold_an_exchange(inproc_emulator, slow_issuer):
    inproc_emulator.app.keys.fetcher = Fetcher(deadline=1.5)
    issuer = inproc_emulator.register_issuer(url=slow_issuer.url)
    inproc_emulator.set_policies(issuer["id"], [allow_policy(inproc_emulator.org)])
    token = inproc_emulator.test_issuer.mint({"sub": "repo:acme/x", "aud": audience_for("acme"), "iss": slow_issuer.url})
    started = time.monotonic()
    _refused(inproc_emulator.exchange(token), 400, "signing keys")
    assert time.monotonic() - started < 4.0


def test_the_default_deadline_is_bounded():
    assert Fetcher().deadline <= 10.0


# -- supply chain: the emulator's admin token stays off argv -------------------------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

from pulumi_oidc_trust.emulator.__main__ import admin_token, parse_args  # noqa: E402


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to read a process's argv")
def test_the_test_emulator_keeps_its_admin_token_off_argv(emulator):
    assert emulator.access_token not in _cmdline(emulator.process.pid)
    emulator.register_issuer("acme")  # and it is the admin token


def test_access_token_file_is_read_and_never_on_argv(tmp_path, access_token):
    token_file = tmp_path / "admin-token"
    token_file.write_text(access_token + "\n")
    token_file.chmod(0o600)
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi_oidc_trust.emulator", "--port", "0", "--access-token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "PULUMI_EMULATOR_ACCESS_TOKEN"},
    )
    try:
        base_url = process.stdout.readline().decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        ok = requests.get(base_url + "/api/user", headers={"Authorization": "token " + access_token}, timeout=10)
        assert ok.status_code == 200 and ok.json()["githubLogin"] == "emulator-admin"
        if Path("/proc/self/cmdline").exists():
            assert access_token not in _cmdline(process.pid)
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


def test_admin_token_sources_and_their_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert admin_token(parse_args([]), environ={"PULUMI_EMULATOR_ACCESS_TOKEN": "from-env"}) == "from-env"
    with pytest.raises(ValueError, match="is empty"):
        admin_token(parse_args(["--access-token-file", str(empty)]), environ={})
    with pytest.raises(ValueError, match="--access-token-file FILE or set PULUMI_EMULATOR_ACCESS_TOKEN"):
        admin_token(parse_args([]), environ={})
    with pytest.raises(SystemExit):
        parse_args(["--access-token", "a", "--access-token-file", str(empty)])
