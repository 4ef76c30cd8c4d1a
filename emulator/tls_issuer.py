"""A loopback https OIDC issuer whose certificate is signed by a CA generated on the spot.

``TlsIssuer()`` writes the CA certificate to ``ca_path`` (give it to the emulator as
``--issuer-ca``), serves discovery and JWKS on ``https://127.0.0.1:PORT`` in a thread, and
exposes the leaf certificate's ``thumbprint`` (lower-case hex SHA-256 of its DER, the value
Pulumi Cloud pins) and ``mint()``. ``rotate_certificate()`` swaps in a new leaf from the same CA,
which is how tests show a stale thumbprint being refused.

``CertificateAuthority`` is the one certificate maker: ``issue_server_certificate(hosts)`` signs a
leaf for any IP addresses and DNS names, and ``write_server_certificate(cert, key, hosts)`` writes
the PEM pair the emulator serves https with (``--tls-cert``/``--tls-key``).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import socketserver
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .fetch import sha256_hex
from .test_issuer import TestIssuer

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class CertificateAuthority:
    """A throwaway CA (EC P-256) that signs server certificates (loopback by default, or any
    IP address or DNS name, e.g. the bridge address the emulator serves pods on)."""

    def __init__(self, common_name: str = "pulumi-oidc-emulator test CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue_server_certificate(
        self, hosts: Iterable[str] = LOOPBACK_NAMES
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A leaf for ``hosts`` (IP addresses and DNS names; by default ``127.0.0.1`` and
        ``localhost``), valid for two days. Its subject is the first host."""
        names = [_subject_alternative_name(host) for host in hosts]
        if not names:
            raise ValueError("issue_server_certificate: give at least one host (an IP address or a DNS name)")
        builder = self._leaf(_name(str(names[0].value)), x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)
        return self._signed(builder.add_extension(x509.SubjectAlternativeName(names), critical=False))

    def issue_client_certificate(
        self, user: str, group: str
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A TLS client leaf for ``user`` in ``group`` (Kubernetes reads CN and O), valid for two days."""
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, group),
                             x509.NameAttribute(NameOID.COMMON_NAME, user)])  # fmt: skip
        return self._signed(self._leaf(subject, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH))

    def _leaf(self, subject: x509.Name, usage: x509.ObjectIdentifier) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )

    def _signed(self, builder: x509.CertificateBuilder) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        return builder.public_key(key.public_key()).sign(self.key, hashes.SHA256()), key

    def write_server_certificate(
        self, cert_path: str | Path, key_path: str | Path, hosts: Iterable[str] = LOOPBACK_NAMES
    ) -> x509.Certificate:
        """Issue a leaf for ``hosts`` and write it and its key as PEM (the key readable by its owner
        only, from the moment it exists): what the emulator's ``--tls-cert``/``--tls-key`` take."""
        certificate, key = self.issue_server_certificate(hosts)
        Path(cert_path).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path = Path(key_path)
        key_path.unlink(missing_ok=True)
        with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(_pem_key(key))
        return certificate


def _subject_alternative_name(host: str) -> x509.GeneralName:
    """An IP address (``10.99.0.1``, ``::1``, ``[::1]``) or else a DNS name."""
    text = host.strip()
    try:
        return x509.IPAddress(ipaddress.ip_address(text.removeprefix("[").removesuffix("]")))
    except ValueError:
        return x509.DNSName(text)


class _IssuerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: "_TlsServer"

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced, like the emulator."""

    def setup(self) -> None:
        # The TLS handshake happens here, in the connection's own thread, so a slow or broken
        # client cannot stall the accept loop; a failed handshake just ends this connection.
        self.request.do_handshake()
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        issuer = self.server.issuer
        documents = {"/.well-known/openid-configuration": issuer.discovery(), "/jwks": issuer.jwks()}
        if path in documents:
            self._send(200, documents[path])
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, issuer_owner: "TlsIssuer"):
        self.owner = issuer_owner
        super().__init__(("127.0.0.1", 0), _IssuerHandler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no FQDN lookup
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def issuer(self) -> TestIssuer:
        return self.owner.issuer

    def get_request(self):
        sock, address = super().get_request()
        # The context is read per connection, so rotate_certificate() takes effect at once.
        return self.owner.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        """Failed handshakes (untrusting clients) are expected in tests; stay quiet."""


class TlsIssuer:
    """An https OIDC issuer on loopback for tests. Use as a context manager or call ``stop()``.

    ``directory``: where ``ca.pem`` is written (a temporary directory by default).
    """

    def __init__(self, directory: str | Path | None = None):
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="tls-issuer-")
        self.directory = Path(directory or self._tmp.name)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = CertificateAuthority()
        self.ca_path = self.directory / "ca.pem"
        self.ca_path.write_bytes(self.ca.pem())
        self.ssl_context: ssl.SSLContext
        self.rotate_certificate()
        self._server = _TlsServer(self)
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.issuer = TestIssuer(self.url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="tls-issuer", daemon=True
        )
        self._thread.start()

    @property
    def thumbprint(self) -> str:
        """Lower-case hex SHA-256 of the DER leaf certificate being served."""
        return sha256_hex(self.certificate.public_bytes(serialization.Encoding.DER))

    def rotate_certificate(self) -> str:
        """Serve a new leaf certificate (same CA) from the next connection on; returns its thumbprint."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert_file = self.directory / "leaf.pem"
        key_file = self.directory / "leaf.key"
        certificate = self.ca.write_server_certificate(cert_file, key_file)
        context.load_cert_chain(cert_file, key_file)
        key_file.unlink()  # loaded; no private key lingers on disk
        self.certificate = certificate
        self.ssl_context = context
        return self.thumbprint

    def mint(self, claims: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """A token from this issuer (see ``TestIssuer.mint``)."""
        return self.issuer.mint(claims, **kwargs)

    def jwks(self) -> dict[str, Any]:
        return self.issuer.jwks()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> "TlsIssuer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"TlsIssuer({self.url})"
