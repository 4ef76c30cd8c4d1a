"""A loopback HTTP server that serves fixed documents: an OIDC issuer's discovery document and
JWKS, or whatever a test needs an issuer to answer. Nothing leaves the machine.

``conftest.documents`` starts one per test and stops it afterwards.
"""

from __future__ import annotations

import http.server
import threading
import time
from typing import Union

Route = Union[bytes, tuple[bytes, float]]
"""The body (200, application/json), or (body, seconds to wait between its bytes): a slow issuer."""


class DocumentServer:
    """``url`` is ``http://127.0.0.1:PORT``; a GET of a path in ``routes`` gets its document, any
    other path a 404. ``hits`` lists the paths asked for, in order."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[str] = []
        documents = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                documents.hits.append(self.path)
                route = documents.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, delay = route if isinstance(route, tuple) else (route, 0.0)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if not delay:
                        self.wfile.write(body)
                        return
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(delay)
                except OSError:
                    pass  # the client gave up (a deadline): that is what slow routes test

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
