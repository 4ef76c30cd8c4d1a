"""The emulator on HTTP(S): a ThreadingHTTPServer, with latency and faults on ``/api/*``.

``serve(access_token, ...)`` starts it in a background thread and returns a RunningEmulator
(``base_url``, ``stop()``); ``python -m pulumi_oidc_trust.emulator`` does the same from the command line.
It listens on 127.0.0.1 by default; plain http only ever on a loopback address, any other address
(e.g. the bridge address pods reach it on) only with TLS (``tls_cert``/``tls_key``; the rule is
``listen_address``). Nothing is logged per request: URLs, headers and bodies may carry tokens.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from pulumi_oidc_trust.provider.urls import is_loopback_host

from .app import TEST_ISSUER_PATH, Emulator, match_route
from .errors import ApiError, body_for
from .faults import DROP, FaultConfig, Plan
from .http_types import Call, Reply

MAX_BODY_BYTES = 1 << 20
IDLE_TIMEOUT_SECONDS = 30
LISTEN_BACKLOG = 128
"""Connections the kernel queues before they are accepted: a parallel engine opens many at once,
and socketserver's default of 5 overflowed (clients then saw resets or SYN retries of 1 s and more)."""
DEFAULT_HOST = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients use it
    server_version = "pulumi-cloud-emulator"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    server: "_Server"

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            # The TLS handshake happens here, in the connection's own thread, so a slow or broken
            # client cannot stall the accept loop; a failed handshake just ends this connection.
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the request line can carry secrets and stdout/stderr must stay clean."""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    # -- dispatch ------------------------------------------------------------------------------

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except ApiError as e:
            self.close_connection = True
            self._send(Reply(e.status, body_for(path, e)))
            return
        call = Call(self.command, path, {}, self.headers, body)
        app = self.server.app
        if path.startswith("/api/"):
            self._handle_api(call)
        elif path.startswith("/_emulator/"):
            self._send(app.handle_control(call))
        elif path == TEST_ISSUER_PATH or path.startswith(TEST_ISSUER_PATH + "/"):
            self._send(app.handle_test_issuer(call))
        else:
            self._send(Reply(404, ApiError(404, f"no route for {call.method} {path}").body()))

    def _handle_api(self, call: Call) -> None:
        app = self.server.app
        received = time.time()
        plan = app.faults.plan(call.method, call.path)
        if plan.latency_s:
            time.sleep(plan.latency_s)
        route, call.params, path_known = match_route(call.method, call.path)
        template = route.template if route else "unmatched"
        if plan.fault is not None and plan.when == "before":
            app.stats.record(call.method, template, _status_of(plan), applied=False, fault=plan.fault,
                             received=received)
            self._inject(plan, call.path)
            return
        reply = app.handle_api(route, path_known, call)
        if plan.fault is not None:
            app.stats.record(call.method, template, _status_of(plan), applied=True, fault=plan.fault,
                             received=received)
            self._inject(plan, call.path)
            return
        app.stats.record(call.method, template, reply.status, applied=True, fault=None, received=received)
        self._send(reply)

    def _inject(self, plan: Plan, path: str) -> None:
        if plan.fault == DROP:
            self._drop()
            return
        status = int(plan.fault)
        headers = {"Retry-After": str(plan.retry_after)} if status in (429, 503) else {}
        self._send(Reply(status, body_for(path, ApiError(status, "injected fault")), headers))

    def _drop(self) -> None:
        """Close the connection without answering (what a crashed proxy or reset looks like)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- I/O -----------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise ApiError(411, "send a Content-Length; chunked bodies are not supported")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "invalid Content-Length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise ApiError(413, f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status, HTTPStatus(reply.status).phrase)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 204:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.status != 204:
            self.wfile.write(payload)


def _status_of(plan: Plan) -> int | None:
    return None if plan.fault == DROP else int(plan.fault)


def listen_address(host: str, *, tls: bool) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address to listen on for ``--host``, or a ValueError naming the flag and the fix.

    The rule: plain http only on a loopback address (the admin and workload tokens would cross
    the network in clear otherwise); another address only with TLS. It must be the one address
    clients use, since the base URL and the test issuer's URL name it.
    """
    text = str(host).strip()
    try:
        address = ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        raise ValueError(
            f"--host {text!r} is not an IP address; give the address clients connect to, e.g. 127.0.0.1 or 10.99.0.1"
        ) from None
    if address.is_unspecified:
        raise ValueError(
            f"--host {address} listens on every address, but the base URL and the test issuer's URL must name "
            "one: give the address clients connect to, e.g. 127.0.0.1 or 10.99.0.1"
        )
    if not tls and not is_loopback_host(str(address)):
        raise ValueError(
            f"--host {address} is not a loopback address, and plain http is served only on loopback "
            "(127.0.0.0/8, ::1): give --tls-cert FILE --tls-key FILE (PEM) to serve https there"
        )
    return address


def server_tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS 1.2+ with the PEM certificate (chain) and unencrypted private key; errors name the flags."""
    for flag, path in (("--tls-cert", cert_file), ("--tls-key", key_file)):
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise ValueError(f"{flag} {path!r}: no readable file there; give a PEM file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    def no_password() -> bytes:
        raise ValueError(f"--tls-key {key_file!r} is encrypted; give an unencrypted PEM key (readable by this user only)")

    try:
        context.load_cert_chain(cert_file, key_file, password=no_password)
    except ssl.SSLError as e:  # the reason only: never any of the key's bytes
        raise ValueError(
            f"--tls-cert {cert_file!r} and --tls-key {key_file!r} are not a PEM certificate and its private key "
            f"({e.reason or type(e).__name__})"
        ) from None
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], app: Emulator, tls: ssl.SSLContext | None = None):
        self.app = app
        self.tls = tls
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.tls is None:
            return sock, address
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on idle keep-alive connections so stop() leaves nothing behind."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        # One line, no traceback: exception texts could quote request data.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, ssl.SSLEOFError)):
            return
        if isinstance(error, ssl.SSLError):  # e.g. TLSV1_ALERT_UNKNOWN_CA: the client does not trust the CA
            print(f"emulator: TLS handshake failed: {error.reason or type(error).__name__}", file=sys.stderr)
            return
        print(f"emulator: error while serving a request: {type(error).__name__}", file=sys.stderr)


def base_url_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, *, tls: bool) -> str:
    """``http://127.0.0.1:PORT``, ``https://10.99.0.1:PORT``, ``https://[::1]:PORT``."""
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"{'https' if tls else 'http'}://{host}:{port}"


class RunningEmulator:
    """An emulator serving in a background thread. ``base_url`` is ``http://127.0.0.1:PORT``
    (``https://HOST:PORT`` when serving TLS)."""

    def __init__(self, server: _Server, thread: threading.Thread, base_url: str):
        self._server = server
        self._thread = thread
        self.port: int = server.server_address[1]
        self.base_url = base_url

    @property
    def app(self) -> Emulator:
        return self._server.app

    @property
    def test_issuer(self):
        """The TestIssuer served at ``{base_url}/test-issuer`` (mint tokens with ``.mint()``)."""
        return self.app.test_issuer

    def set_faults(self, **config: Any) -> FaultConfig:
        """Replace the fault configuration (same fields as ``POST /_emulator/faults``)."""
        parsed = FaultConfig.from_json(config)
        self.app.faults.configure(parsed)
        return parsed

    def stats(self) -> dict[str, Any]:
        return self.app.stats.to_json()

    def stop(self) -> None:
        """Stop serving, close every connection and the listening socket. Idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> "RunningEmulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningEmulator({self.base_url})"  # never the access token


def serve(
    access_token: str,
    *,
    port: int = 0,
    state_path: str | None = None,
    issuer_ca: str | None = None,
    faults: FaultConfig | None = None,
    test_issuer_key: rsa.RSAPrivateKey | None = None,
    esc_environments: Iterable[str] = (),
    host: str = DEFAULT_HOST,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> RunningEmulator:
    """Start an emulator on ``host:port`` (0: any free port) in a background thread.

    ``access_token``: the admin token (``Authorization: token <it>``); ``state_path``: a JSON
    file the state survives restarts in; ``issuer_ca``: extra CA certificates (PEM) trusted
    for https issuers; ``faults``: initial fault injection; ``test_issuer_key``: reuse an RSA
    key for the test issuer (saves generating one per emulator in test suites);
    ``esc_environments``: ESC environment names ``ORG/PROJECT/NAME`` that ``pulumi env ls`` lists.
    ``host``: the IP address to listen on (default 127.0.0.1); ``tls_cert``/``tls_key``: PEM files
    to serve https with (both or neither), required on a ``host`` that is not loopback. The
    emulator trusts its own certificate when it fetches keys, so its test issuer works over https.
    """
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("give both --tls-cert FILE and --tls-key FILE (PEM), or neither")
    tls = tls_cert is not None
    address = listen_address(host, tls=tls)
    context = server_tls_context(tls_cert, tls_key) if tls else None
    app = Emulator(access_token, state_path=state_path, issuer_ca=issuer_ca, faults=faults,
                   esc_environments=esc_environments, own_certificate=tls_cert)
    server = _Server((str(address), port), app, context)
    running_port = server.server_address[1]
    base_url = base_url_of(address, running_port, tls=tls)
    app.attach_test_issuer(base_url, key=test_issuer_key)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              name=f"emulator-{running_port}", daemon=True)
    thread.start()
    return RunningEmulator(server, thread, base_url)
