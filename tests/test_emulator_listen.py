"""Where the emulator listens: ``--host``, https with ``--tls-cert``/``--tls-key`` (a certificate from
a test CA, verified by every client here), plain http only on loopback, and a listen backlog that a
parallel engine's burst of connections fits in."""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
import sys

import pytest
import requests

from pulumi_oidc_trust.emulator.server import LISTEN_BACKLOG, _Server, listen_address, serve
from pulumi_oidc_trust.emulator.app import Emulator
from pulumi_oidc_trust.provider.wire import audience_for

from tests.conftest import ROOT

SUB = "repo:acme/infra:ref:refs/heads/main"


def served_leaf_sha256(host: str, port: int, ca_path) -> str:
    context = ssl.create_default_context(cafile=str(ca_path))
    with socket.create_connection((host, port)) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def test_https_on_another_loopback_address_health_registration_and_exchange(start_emulator, emulator_tls):
    cert, key = emulator_tls.for_hosts("127.0.0.2")
    emulator = start_emulator("--host", "127.0.0.2", "--tls-cert", str(cert), "--tls-key", str(key),
                              ca_path=emulator_tls.ca_path)
    assert emulator.base_url == f"https://127.0.0.2:{emulator.port}"
    assert emulator.get("/_emulator/health", token=None).json() == {"ok": True}
    # It listens on the address it was given, not on 127.0.0.1.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", emulator.port), timeout=2).close()

    # Its own test issuer is at https://127.0.0.2:PORT/test-issuer; the emulator trusts its own
    # certificate when it fetches the keys, so registration pins the served leaf.
    issuer = emulator.trust_test_issuer()
    assert issuer["url"] == emulator.base_url + "/test-issuer"
    assert issuer["thumbprints"] == [served_leaf_sha256("127.0.0.2", emulator.port, emulator_tls.ca_path)]

    exchanged = emulator.exchange(emulator.workload_token())
    assert exchanged.status_code == 200, exchanged.text
    access_token = exchanged.json()["access_token"]
    assert emulator.get("/api/user", token=access_token).status_code == 200
    assert access_token not in emulator.stderr_text() and emulator.access_token not in emulator.stderr_text()


def test_a_client_without_the_ca_is_refused_and_nothing_is_served_in_clear(start_emulator, emulator_tls):
    emulator = start_emulator(*emulator_tls.args, ca_path=emulator_tls.ca_path)
    assert emulator.base_url == f"https://127.0.0.1:{emulator.port}"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emulator.url("/_emulator/health"), timeout=10)  # the system's CAs only
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{emulator.port}/_emulator/health", timeout=10)
    assert emulator.get("/_emulator/health", token=None).status_code == 200
    emulator.stop()
    log = emulator.stderr_text()
    assert "emulator: TLS handshake failed" in log
    assert emulator.access_token not in log


def test_a_certificate_for_another_address_is_not_accepted_by_a_verifying_client(start_emulator, emulator_tls):
    # The default leaf names 127.0.0.1 and localhost only: a client of 127.0.0.2 must refuse it.
    emulator = start_emulator("--host", "127.0.0.2", *emulator_tls.args, ca_path=emulator_tls.ca_path)
    with pytest.raises(requests.exceptions.SSLError):
        emulator.get("/_emulator/health", token=None)


@pytest.mark.parametrize("flags, named", [
    (["--host", "10.99.0.1"], ["--host 10.99.0.1", "not a loopback address", "--tls-cert FILE --tls-key FILE"]),
    (["--host", "0.0.0.0"], ["--host 0.0.0.0", "the address clients connect to"]),
    (["--host", "pulumi.example"], ["--host 'pulumi.example'", "not an IP address"]),
    (["--host", "10.99.0.1", "--tls-cert", "/nonexistent/tls.crt"], ["--tls-cert FILE and --tls-key FILE"]),
    (["--tls-cert", "/nonexistent/tls.crt", "--tls-key", "/nonexistent/tls.key"],
     ["--tls-cert '/nonexistent/tls.crt': no readable file"]),
])
def test_the_command_line_refuses_to_listen_unsafely_naming_the_flags(tmp_path, access_token, flags, named):
    done = subprocess.run([sys.executable, "-m", "pulumi_oidc_trust.emulator", "--port", "0", *flags], cwd=ROOT,
                          env={"PULUMI_EMULATOR_ACCESS_TOKEN": access_token, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    for text in named:
        assert text in done.stderr, done.stderr
    assert access_token not in done.stderr


def test_a_key_that_does_not_match_the_certificate_is_refused(emulator_tls, access_token):
    cert, _ = emulator_tls.for_hosts("127.0.0.1")
    with pytest.raises(ValueError, match="not a PEM certificate and its private key"):
        serve(access_token, tls_cert=str(cert), tls_key=str(emulator_tls.key_path))


def test_the_listen_rule():
    assert str(listen_address("127.0.0.1", tls=False)) == "127.0.0.1"
    assert str(listen_address("127.0.0.2", tls=False)) == "127.0.0.2"
    assert str(listen_address("[::1]", tls=False)) == str(listen_address("::1", tls=False)) == "::1"
    assert str(listen_address("10.99.0.1", tls=True)) == "10.99.0.1"
    for host in ("10.99.0.1", "fd00::1"):
        with pytest.raises(ValueError, match="plain http is served only on loopback"):
            listen_address(host, tls=False)
    for host in ("0.0.0.0", "::"):
        with pytest.raises(ValueError, match="listens on every address"):
            listen_address(host, tls=True)


def test_ipv6_loopback_over_https(emulator_tls, access_token, test_issuer_key):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    cert, key = emulator_tls.for_hosts("::1")
    try:
        running = serve(access_token, host="[::1]", tls_cert=str(cert), tls_key=str(key), test_issuer_key=test_issuer_key)
    except OSError as e:
        pytest.skip(f"cannot listen on ::1 here: {e}")
    try:
        assert running.base_url == f"https://[::1]:{running.port}"
        health = requests.get(running.base_url + "/_emulator/health", verify=str(emulator_tls.ca_path), timeout=10)
        assert health.json() == {"ok": True}
    finally:
        running.stop()


def test_a_burst_of_connections_is_queued_while_the_server_is_busy(access_token):
    # No thread accepts: the kernel alone queues what connects. With socketserver's default
    # backlog of 5, the 7th connection would hang (its SYN dropped); a parallel engine opens dozens.
    server = _Server(("127.0.0.1", 0), Emulator(access_token))
    connections: list[socket.socket] = []
    try:
        for _ in range(100):
            connections.append(socket.create_connection(server.server_address, timeout=2))
    finally:
        for connection in connections:
            connection.close()
        server.server_close()
    assert len(connections) == 100
    assert LISTEN_BACKLOG >= 100


def test_a_tls_emulator_in_process_exchanges_tokens(emulator_tls, access_token, test_issuer_key):
    from tests.conftest import InProcessEmulator

    emulator = InProcessEmulator(access_token, test_issuer_key=test_issuer_key, ca_path=emulator_tls.ca_path,
                                 tls_cert=str(emulator_tls.cert_path), tls_key=str(emulator_tls.key_path))
    try:
        emulator.trust_test_issuer()
        token = emulator.mint({"sub": SUB, "aud": audience_for("acme")})
        assert emulator.exchange(token).status_code == 200
    finally:
        emulator.stop()
