"""The emulator without its sockets: the route table and what answers each route.

``Emulator.handle_api`` answers ``/api/*`` (Pulumi Cloud), ``handle_control`` answers
``/_emulator/*`` (faults and statistics, for tests), ``handle_test_issuer`` answers
``/test-issuer/*`` (a test OIDC issuer). server.py puts this on HTTP and adds faults and latency.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import unquote

from .api import Api
from .errors import ApiError, body_for
from .esc import Environment, Esc
from .exchange import Exchange
from .faults import FaultConfig, FaultConfigError, FaultInjector, Stats
from .fetch import Fetcher
from .http_types import Call, Reply
from .store import Store
from .test_issuer import TestIssuer
from .verify import KeyCache

TEST_ISSUER_PATH = "/test-issuer"


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str
    """The name of the method answering it (on Api; ``esc.NAME`` on Esc; or ``exchange``)."""

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile_template(self.template)


_ISSUERS = "/api/orgs/{orgName}/oidc/issuers"
ROUTES = (
    Route("POST", _ISSUERS, "register_issuer"),
    Route("GET", _ISSUERS, "list_issuers"),
    Route("GET", _ISSUERS + "/{issuerId}", "get_issuer"),
    Route("PATCH", _ISSUERS + "/{issuerId}", "update_issuer"),
    Route("DELETE", _ISSUERS + "/{issuerId}", "delete_issuer"),
    Route("POST", _ISSUERS + "/{issuerId}/regenerate-thumbprints", "regenerate_thumbprints"),
    Route("GET", "/api/orgs/{orgName}/auth/policies/oidcissuers/{issuerId}", "get_policy"),
    Route("PATCH", "/api/orgs/{orgName}/auth/policies/{policyId}", "update_policy"),
    Route("POST", "/api/oauth/token", "exchange"),
    Route("GET", "/api/user", "current_user"),
    Route("GET", "/api/capabilities", "capabilities"),
    Route("GET", "/api/user/organizations/default", "esc.default_organization"),
    Route("GET", "/api/esc/environments", "esc.list_environments"),
    Route("GET", "/api/esc/environments/{orgName}", "esc.list_org_environments"),
)
"""Every Pulumi Cloud route the emulator answers, as the spec writes its path templates."""

_TEMPLATE_CACHE: dict[str, re.Pattern[str]] = {}


def _compile_template(template: str) -> re.Pattern[str]:
    if template not in _TEMPLATE_CACHE:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        _TEMPLATE_CACHE[template] = re.compile(f"^{regex}/?$")
    return _TEMPLATE_CACHE[template]


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path parameters, path_known). ``path_known`` with no route means 405."""
    path_known = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            path_known = True
            if route.method == method:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
    return None, {}, path_known


class Emulator:
    """The emulator's state and behaviour, independent of HTTP plumbing."""

    def __init__(
        self,
        access_token: str,
        *,
        state_path: str | None = None,
        issuer_ca: str | None = None,
        faults: FaultConfig | None = None,
        esc_environments: Iterable[str] = (),
        own_certificate: str | None = None,
    ):
        self.store = Store(state_path)
        self.fetcher = Fetcher(ca_file=issuer_ca, own_certificate=own_certificate)
        self.fetcher.ssl_context  # a missing or unreadable --issuer-ca fails now, not at the first token
        self.keys = KeyCache(self.fetcher)
        self.api = Api(self.store, access_token, self.fetcher)
        self.esc = Esc(self.api, [Environment.parse(e) for e in esc_environments])
        self.exchange = Exchange(self.store, self.keys)
        self.faults = FaultInjector(faults)
        self.stats = Stats()
        self.test_issuer: TestIssuer | None = None

    def attach_test_issuer(self, base_url: str, **kwargs: Any) -> TestIssuer:
        """Create the test issuer once the base URL (the bound port) is known."""
        self.test_issuer = TestIssuer(base_url + TEST_ISSUER_PATH, **kwargs)
        return self.test_issuer

    # -- /api/* --------------------------------------------------------------------------------

    def handle_api(self, route: Route | None, path_known: bool, call: Call) -> Reply:
        if route is None:
            status = 405 if path_known else 404
            return Reply(status, body_for(call.path, ApiError(status, f"no route for {call.method} {call.path}")))
        if route.handler == "exchange":
            handler: Callable[[Call], Reply] = self.exchange
        elif route.handler.startswith("esc."):
            handler = getattr(self.esc, route.handler.removeprefix("esc."))
        else:
            handler = getattr(self.api, route.handler)
        try:
            return handler(call)
        except ApiError as e:
            return Reply(e.status, body_for(call.path, e), e.headers)
        except Exception as e:  # a bug here must not kill the server nor leak request data
            print(f"emulator: internal error in {route.handler}: {type(e).__name__}", file=sys.stderr)
            return Reply(500, body_for(call.path, ApiError(500, "internal server error")))

    # -- /_emulator/* --------------------------------------------------------------------------

    def handle_control(self, call: Call) -> Reply:
        """Faults and statistics for tests (no auth, never faulted or counted)."""
        key = (call.method, call.path.rstrip("/"))
        if key == ("GET", "/_emulator/health"):
            return Reply(200, {"ok": True})
        if key == ("GET", "/_emulator/faults"):
            return Reply(200, self.faults.config().to_json())
        if key == ("POST", "/_emulator/faults"):
            try:
                config = FaultConfig.from_json(call.json(required=False) or {})
            except (FaultConfigError, ApiError, TypeError) as e:
                return Reply(400, ApiError(400, str(e)).body())
            self.faults.configure(config)
            return Reply(200, config.to_json())
        if key == ("GET", "/_emulator/exchanges"):
            return Reply(200, {"exchanges": list(self.exchange.log)})
        if key == ("GET", "/_emulator/stats"):
            return Reply(200, self.stats.to_json())
        if key == ("POST", "/_emulator/stats/reset"):
            self.stats.reset()
            return Reply(200, self.stats.to_json())
        return Reply(404, ApiError(404, f"no route for {call.method} {call.path}").body())

    # -- /test-issuer/* ------------------------------------------------------------------------

    def handle_test_issuer(self, call: Call) -> Reply:
        issuer = self.test_issuer
        sub = call.path[len(TEST_ISSUER_PATH):].rstrip("/")
        if issuer is None:
            return Reply(404, ApiError(404, "no test issuer").body())
        if (call.method, sub) == ("GET", "/.well-known/openid-configuration"):
            return Reply(200, issuer.discovery())
        if (call.method, sub) == ("GET", "/jwks"):
            return Reply(200, issuer.jwks())
        if (call.method, sub) == ("POST", "/token"):
            try:
                claims = call.json(required=False) or {}
            except ApiError as e:
                return Reply(400, e.body())
            if not isinstance(claims, dict):
                return Reply(400, ApiError(400, "send a JSON object of claims").body())
            return Reply(200, {"token": issuer.mint(claims)})
        return Reply(404, ApiError(404, f"no route for {call.method} {call.path}").body())
