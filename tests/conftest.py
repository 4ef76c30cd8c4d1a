"""Shared fixtures: the local Pulumi Cloud emulator, as a subprocess or in-process, and TLS issuers.

- ``emulator``: ``python -m pulumi_oidc_trust.emulator --port 0 --state <tmp>`` (admin token in
  ``$PULUMI_EMULATOR_ACCESS_TOKEN``) as a
  subprocess (exactly how the demo and a user run it); always terminated. ``.restart()`` brings
  it back on the same port with the same state file.
- ``start_emulator``: a factory for subprocess emulators with extra command-line flags;
  ``start_emulator(*emulator_tls.args, ca_path=emulator_tls.ca_path)`` serves https, and every
  request the handle makes verifies the certificate with that CA.
- ``emulator_tls``: a CA (``ca_path``) and a serving certificate it signed for 127.0.0.1 (``args``:
  ``--tls-cert FILE --tls-key FILE``; ``for_hosts(...)`` for other addresses).
- ``inproc_emulator``: the same server started in-process with ``emulator.serve`` (fast).
- ``tls_issuer``: a loopback https OIDC issuer with a generated CA; ``tls_emulator``: an
  in-process emulator that trusts that CA (``--issuer-ca``).
- ``documents``: a loopback http server of fixed documents (``tests/document_server.py``).

Every emulator fixture yields an ``EmulatorHandle``: ``base_url``, ``access_token``,
``state_path``, request helpers that add the admin token, ``set_faults``/``stats``,
``mint`` (a token from the emulator's test issuer), and issuer/policy/exchange shortcuts.
The access token never appears in a repr or in any output.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from pulumi_oidc_trust.emulator import TlsIssuer, new_rsa_key, serve
from pulumi_oidc_trust.emulator.tls_issuer import CertificateAuthority
from pulumi_oidc_trust.provider.wire import GRANT_TYPE_TOKEN_EXCHANGE, SUBJECT_TOKEN_TYPE_ID_TOKEN, audience_for

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 20.0
TOKEN_TYPE_URN = "urn:pulumi:token-type:access_token:"


def allow_policy(org: str, sub: str = "repo:acme/*", **fields: Any) -> dict[str, Any]:
    """An allow policy in wire form for the test issuer's tokens."""
    policy = {
        "decision": "allow",
        "tokenType": "organization",
        "authorizedPermissions": [],
        "rules": {"aud": audience_for(org), "sub": sub},
    }
    policy.update(fields)
    return policy


class EmulatorHandle:
    """A running emulator as tests see it (shared by the subprocess and in-process fixtures)."""

    org = "acme"

    def __init__(self, base_url: str, access_token: str, state_path: Path | None, ca_path: Path | None = None):
        self.base_url = base_url
        self.access_token = access_token
        self.state_path = state_path
        self.ca_path = ca_path
        self.http = self._session()

    def _session(self) -> requests.Session:
        """No default auth (each call says whether it sends it); https verified with ``ca_path``
        when given, else with the system's CAs (never unverified)."""
        session = requests.Session()
        if self.ca_path is not None:
            session.verify = str(self.ca_path)
            # requests lets $REQUESTS_CA_BUNDLE/$CURL_CA_BUNDLE override a session's verify; the
            # emulator is local, so nothing from the environment (CA bundle, proxies, netrc) applies.
            session.trust_env = False
        return session

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url})"

    # -- plain HTTP ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, *, token: str | None = "admin", **kwargs: Any) -> requests.Response:
        """``token="admin"`` sends the admin token, None sends no Authorization, else that token."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers.setdefault("Authorization", "token " + (self.access_token if token == "admin" else token))
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.url(path), headers=headers, **kwargs)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    # -- emulator controls --------------------------------------------------------------------

    def set_faults(self, **config: Any) -> dict[str, Any]:
        """Replace the fault configuration (``POST /_emulator/faults``)."""
        response = self.http.post(self.url("/_emulator/faults"), json=config, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def faults(self) -> dict[str, Any]:
        """The current fault configuration, with what is left of the script."""
        return self.http.get(self.url("/_emulator/faults"), timeout=10).json()

    def clear_faults(self) -> None:
        self.set_faults()

    def stats(self) -> dict[str, Any]:
        return self.http.get(self.url("/_emulator/stats"), timeout=10).json()

    def exchanges(self) -> list[dict[str, Any]]:
        """The emulator's exchange log (``GET /_emulator/exchanges``): outcomes and verified claims."""
        return self.http.get(self.url("/_emulator/exchanges"), timeout=10).json()["exchanges"]

    def reset_stats(self) -> None:
        self.http.post(self.url("/_emulator/stats/reset"), timeout=10).raise_for_status()

    # -- the test issuer ----------------------------------------------------------------------

    @property
    def test_issuer_url(self) -> str:
        return self.base_url + "/test-issuer"

    def mint(self, claims: dict[str, Any] | None = None, **overrides: Any) -> str:
        """A token from the emulator's test issuer (``POST /test-issuer/token``)."""
        body = dict(claims or {})
        body.update(overrides)
        response = self.http.post(self.url("/test-issuer/token"), json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def workload_token(
        self, org: str | None = None, sub: str = "repo:acme/infra:ref:refs/heads/main", **claims: Any
    ) -> str:
        """A typical workload token for ``org`` (aud ``urn:pulumi:org:ORG``)."""
        return self.mint({"sub": sub, "aud": audience_for(org or self.org), **claims})

    # -- issuers, policies, exchange ----------------------------------------------------------

    def register_issuer(
        self, org: str | None = None, *, url: str | None = None, name: str = "test", **fields: Any
    ) -> dict:
        body = {"name": name, "url": url or self.test_issuer_url, **fields}
        response = self.post(f"/api/orgs/{org or self.org}/oidc/issuers", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def create_org(self, org: str | None = None) -> None:
        """Make the emulator know ``org`` (its first issuer creates it; emulator/store.py), with no issuer left."""
        issuer = self.register_issuer(org, name="creates-the-organization")
        assert self.delete(f"/api/orgs/{org or self.org}/oidc/issuers/{issuer['id']}").status_code == 204

    def issuers(self, org: str | None = None) -> list[dict]:
        """The organization's issuers; [] for one the emulator does not know (404: nobody created it)."""
        response = self.get(f"/api/orgs/{org or self.org}/oidc/issuers")
        if response.status_code == 404:
            return []
        assert response.status_code == 200, response.text
        return response.json()["oidcIssuers"]

    def policy_of(self, issuer_id: str, org: str | None = None) -> dict:
        response = self.get(f"/api/orgs/{org or self.org}/auth/policies/oidcissuers/{issuer_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def set_policies(self, issuer_id: str, policies: list[dict], org: str | None = None) -> dict:
        org = org or self.org
        policy_id = self.policy_of(issuer_id, org)["id"]
        response = self.patch(f"/api/orgs/{org}/auth/policies/{policy_id}", json={"policies": policies})
        assert response.status_code == 200, response.text
        return response.json()

    def trust_test_issuer(self, org: str | None = None, **issuer_fields: Any) -> dict:
        """Register the test issuer in ``org`` with an allow policy for ``repo:acme/*``."""
        org = org or self.org
        issuer = self.register_issuer(org, **issuer_fields)
        self.set_policies(issuer["id"], [allow_policy(org)], org)
        return issuer

    def exchange(
        self,
        subject_token: str,
        org: str | None = None,
        *,
        token_type: str = "organization",
        scope: str = "",
        expiration: int | str | None = 7200,
        as_json: bool = False,
        **overrides: Any,
    ) -> requests.Response:
        """``POST /api/oauth/token``: form-encoded like the Pulumi CLI, or JSON like auth-actions."""
        fields: dict[str, Any] = {
            "audience": audience_for(org or self.org),
            "grant_type": GRANT_TYPE_TOKEN_EXCHANGE,
            "requested_token_type": TOKEN_TYPE_URN + token_type,
            "scope": scope,
            "subject_token": subject_token,
            "subject_token_type": SUBJECT_TOKEN_TYPE_ID_TOKEN,
        }
        if expiration is not None:
            fields["expiration"] = expiration
        fields.update(overrides)
        fields = {k: v for k, v in fields.items() if v is not None}
        if as_json:
            return self.post("/api/oauth/token", token=None, json=fields)
        return self.post("/api/oauth/token", token=None, data=fields)


class SubprocessEmulator(EmulatorHandle):
    """``python -m pulumi_oidc_trust.emulator`` in a child process."""

    def __init__(self, access_token: str, state_path: Path | None, extra_args: list[str], stderr_path: Path,
                 ca_path: Path | None = None):
        self._extra_args = extra_args
        self._stderr_path = stderr_path
        self.process: subprocess.Popen | None = None
        self.port = 0
        super().__init__("", access_token, state_path, ca_path)
        self.start()

    def command(self) -> list[str]:
        # The admin token travels in the environment, never on argv (readable by every local user).
        cmd = [sys.executable, "-m", "pulumi_oidc_trust.emulator", "--port", str(self.port)]
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path)]
        return cmd + self._extra_args

    def start(self) -> None:
        with open(self._stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                env={**os.environ, "PULUMI_EMULATOR_ACCESS_TOKEN": self.access_token},
            )
        self.base_url = _read_first_line(self.process)
        self.port = int(self.base_url.rsplit(":", 1)[1])

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the process (SIGTERM by default) and return its exit code."""
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything (crash tests)."""
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        """Stop, then start again on the same port with the same state file."""
        self.stop()
        self.http.close()
        self.http = self._session()
        self.start()

    def stderr_text(self) -> str:
        return self._stderr_path.read_text(errors="replace")


def _read_first_line(process: subprocess.Popen) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            process.kill()
            process.wait()
            process.stdout.close()
            raise RuntimeError(f"the emulator did not print its URL (exit code {process.poll()})")
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            chunk = os.read(process.stdout.fileno(), 1)
            if not chunk:
                continue
            line += chunk
    return line.decode().strip()


class InProcessEmulator(EmulatorHandle):
    """``emulator.serve`` in this process; ``running`` gives access to its internals."""

    def __init__(self, access_token: str, state_path: Path | None = None, *, ca_path: Path | None = None,
                 **serve_kwargs: Any):
        self.running = serve(access_token, state_path=str(state_path) if state_path else None, **serve_kwargs)
        super().__init__(self.running.base_url, access_token, state_path, ca_path)

    @property
    def app(self):
        return self.running.app

    @property
    def test_issuer(self):
        return self.running.test_issuer

    def stop(self) -> None:
        self.http.close()
        self.running.stop()


@pytest.fixture
def access_token() -> str:
    """A fresh admin token per test (never printed)."""
    return "emu-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def test_issuer_key():
    """One RSA key for every in-process test issuer (key generation is the slow part)."""
    return new_rsa_key()


@pytest.fixture
def start_emulator(tmp_path, access_token):
    """Factory: ``start_emulator(*extra_args, state=True, ca_path=None)`` -> a SubprocessEmulator;
    all are stopped. With ``--tls-cert`` in the arguments, ``ca_path`` (the CA that signed it) is
    required: the handle's requests verify the emulator's certificate with it."""
    started: list[SubprocessEmulator] = []

    def start(*extra_args: str, state: bool | Path = True, ca_path: Path | None = None) -> SubprocessEmulator:
        if "--tls-cert" in extra_args and ca_path is None:
            raise ValueError("start_emulator(--tls-cert ...) needs ca_path=: the CA its requests verify the emulator with")
        index = len(started)
        state_path = state if isinstance(state, Path) else (tmp_path / f"state-{index}.json" if state else None)
        handle = SubprocessEmulator(access_token, state_path, list(extra_args), tmp_path / f"stderr-{index}.log",
                                    ca_path)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()
        handle.http.close()


@pytest.fixture
def emulator(start_emulator) -> SubprocessEmulator:
    """``python -m pulumi_oidc_trust.emulator --port 0 --state <tmp>`` as a subprocess (random admin token in the environment)."""
    return start_emulator()


@pytest.fixture
def inproc_emulator(access_token, test_issuer_key):
    """An in-process emulator (no state file), stopped after the test."""
    handle = InProcessEmulator(access_token, test_issuer_key=test_issuer_key)
    yield handle
    handle.stop()


@pytest.fixture
def org() -> str:
    """A fresh organization name per test (any organization exists on first use)."""
    return "org-" + secrets.token_hex(4)


@pytest.fixture
def host(emulator):
    """The SDK's dynamic-provider host, configured for the ``emulator`` with its admin token."""
    from harness.dynamic_host import DynamicProviderHost, rpc

    config = {"oidc:apiUrl": emulator.base_url, "oidc:accessToken": rpc.wrap_rpc_secret(emulator.access_token)}
    with DynamicProviderHost(config) as h:
        yield h


@pytest.fixture
def cloud(emulator):
    """Our REST client with the ``emulator``'s admin token."""
    from pulumi_oidc_trust.provider.client import PulumiCloudClient

    with PulumiCloudClient(emulator.base_url, emulator.access_token) as c:
        yield c


@pytest.fixture
def tls_issuer(tmp_path):
    """A loopback https OIDC issuer whose CA is at ``tls_issuer.ca_path``."""
    issuer = TlsIssuer(tmp_path / "tls")
    yield issuer
    issuer.stop()


class EmulatorTls:
    """A CA (``ca_path``) and serving certificates it signs, as the emulator's PEM files."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = CertificateAuthority("pulumi-oidc-trust emulator test CA")
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(self.ca.pem())
        self.cert_path, self.key_path = self.for_hosts("127.0.0.1", "localhost")

    def for_hosts(self, *hosts: str) -> tuple[Path, Path]:
        """(certificate, key) files of a new leaf for ``hosts`` (IP addresses, DNS names)."""
        name = "-".join(hosts).replace(":", "_")
        cert_path, key_path = self.directory / f"{name}.crt", self.directory / f"{name}.key"
        self.ca.write_server_certificate(cert_path, key_path, hosts)
        return cert_path, key_path

    @property
    def args(self) -> tuple[str, ...]:
        """``--tls-cert FILE --tls-key FILE`` for 127.0.0.1."""
        return ("--tls-cert", str(self.cert_path), "--tls-key", str(self.key_path))


@pytest.fixture
def emulator_tls(tmp_path) -> EmulatorTls:
    """A CA and a certificate for 127.0.0.1 the emulator can serve https with."""
    return EmulatorTls(tmp_path / "emulator-tls")


@pytest.fixture
def tls_emulator(access_token, test_issuer_key, tls_issuer):
    """An in-process emulator that trusts the ``tls_issuer``'s CA (``--issuer-ca``)."""
    handle = InProcessEmulator(access_token, test_issuer_key=test_issuer_key, issuer_ca=str(tls_issuer.ca_path))
    yield handle
    handle.stop()


@pytest.fixture
def documents():
    """A loopback server of fixed documents (``document_server.DocumentServer``): set ``routes``."""
    from .document_server import DocumentServer

    server = DocumentServer()
    yield server
    server.close()


# -- the real cluster's start-up time, in the summary (the workers report it on their test reports)

_CLUSTER_STARTUPS: set[str] = set()
_NODE_STARTUPS: set[str] = set()


def pytest_runtest_logreport(report):
    for name, value in getattr(report, "user_properties", []):
        if name == "k8s_startup_seconds":
            _CLUSTER_STARTUPS.add(value)
        if name == "node_startup_seconds":
            _NODE_STARTUPS.add(value)


def pytest_terminal_summary(terminalreporter):
    for value in sorted(_CLUSTER_STARTUPS):
        version, seconds = value.split()
        terminalreporter.write_line(
            f"real cluster: kube-apiserver {version} + etcd + kube-controller-manager ready in {seconds} s"
        )
    for value in sorted(_NODE_STARTUPS):
        terminalreporter.write_line(f"real node (seconds from the start until each was ready): {value}")


@pytest.fixture(autouse=True)
def _no_api_url_from_the_developer(monkeypatch):
    """A developer's own ``OIDC_TRUST_API_URL`` (``oidc-trust emulator`` prints it) would point the
    CLI and the provider at their emulator: tests that want it set it themselves."""
    monkeypatch.delenv("OIDC_TRUST_API_URL", raising=False)
