"""The references our provider is measured against: dynamic providers that import nothing of ours.

``TrivialProvider`` is the start-up baseline. ``SleepingProvider`` is the real-engine reference:
each operation only sleeps the round-trips our resource makes for it (``trips`` of ``latency_ms``),
so what both cost beyond the sleeps is the path every dynamic resource takes through the engine and
the SDK's provider host. ``BareHttpProvider`` sends the requests instead of sleeping them, to the
same emulator, with nothing else: the floor of a Python dynamic provider doing this work, so what is
left between it and ours is our own code.
"""

import http.client
import json
import os
import threading
import time
import uuid
from urllib.parse import urlsplit

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider


class TrivialProvider(ResourceProvider):
    def check(self, _olds, news):
        return CheckResult(news, [])


class SleepingProvider(ResourceProvider):
    """Props: ``latency_ms`` and ``trips`` ({op: round-trips}); check and diff are local, as ours."""

    def check(self, _olds, news):
        return CheckResult(news, [])

    def diff(self, _id, olds, news):
        keys = ("latency_ms", "trips", "key")
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys), replaces=[])

    @staticmethod
    def _sleep(props, op):
        time.sleep(props["latency_ms"] / 1000 * props["trips"][op])

    def create(self, props):
        self._sleep(props, "create")
        return CreateResult(uuid.uuid4().hex, props)

    def read(self, id_, props):
        self._sleep(props, "read")
        return ReadResult(id_, props)

    def delete(self, _id, props):
        self._sleep(props, "delete")


class Sleeper(Resource, module="bench", name="Sleeper"):
    """A resource of ``SleepingProvider``."""

    def __init__(self, name, props, opts=None):
        super().__init__(SleepingProvider(), name, props, opts)


class BareHttpProvider(ResourceProvider):
    """The floor of a Python dynamic provider that talks to the service: the same requests as
    ``OidcIssuerWithPolicies`` (create: register, read the document, write it; read: the issuer
    and its document; delete: one DELETE), through one kept ``http.client`` connection per
    thread, and nothing else: no lookup by URL, no version check, no lint, no retry, no error
    handling. The access token comes from ``BENCH_ACCESS_TOKEN`` in the environment, never from
    the props (it would be in the state). Props: ``api_url``, ``organization``, ``name``,
    ``url``, ``policies`` (the wire form)."""

    _local = threading.local()

    def check(self, _olds, news):
        return CheckResult(news, [])

    def diff(self, _id, olds, news):
        keys = ("api_url", "organization", "name", "url", "policies")
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys), replaces=[])

    @classmethod
    def _call(cls, props, method, path, body=None):
        conn = getattr(cls._local, "conn", None)
        if conn is None:
            where = urlsplit(props["api_url"])
            conn = cls._local.conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        headers = {"Authorization": f"token {os.environ['BENCH_ACCESS_TOKEN']}", "Accept": "application/vnd.pulumi+8"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        return json.loads(data) if data else None

    def create(self, props):
        org = props["organization"]
        issuer = self._call(props, "POST", f"/api/orgs/{org}/oidc/issuers",
                            {"name": props["name"], "url": props["url"], "thumbprints": []})
        document = self._call(props, "GET", f"/api/orgs/{org}/auth/policies/oidcissuers/{issuer['id']}")
        written = self._call(props, "PATCH", f"/api/orgs/{org}/auth/policies/{document['id']}",
                             {"policies": props["policies"]})
        return CreateResult(issuer["id"], {**props, "policy_id": document["id"], "version": written.get("version")})

    def read(self, id_, props):
        org = props["organization"]
        self._call(props, "GET", f"/api/orgs/{org}/oidc/issuers/{id_}")
        document = self._call(props, "GET", f"/api/orgs/{org}/auth/policies/oidcissuers/{id_}")
        return ReadResult(id_, {**props, "policies": document["policies"], "version": document.get("version")})

    def delete(self, id_, props):
        self._call(props, "DELETE", f"/api/orgs/{props['organization']}/oidc/issuers/{id_}")


class BareHttpIssuer(Resource, module="bench", name="BareHttpIssuer"):
    """A resource of ``BareHttpProvider``."""

    def __init__(self, name, props, opts=None):
        super().__init__(BareHttpProvider(), name, {**props, "policy_id": None, "version": None}, opts)
