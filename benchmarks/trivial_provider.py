"""The references our provider is measured against: dynamic providers that import nothing of ours.

``TrivialProvider`` is the start-up baseline. ``SleepingProvider`` is the real-engine reference:
each operation only sleeps the round-trips our resource makes for it (``trips`` of ``latency_ms``),
so what is left between it and ours is our own code, and what both cost beyond the sleeps is the
path every dynamic resource takes through the engine and the SDK's provider host.
"""

import time
import uuid

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
