"""Fault injection and request statistics for the emulator's ``/api/*`` routes.

A fault is an error status (429, 500, 502, 503) or a dropped connection (the socket is closed
without an answer). ``before`` means the request is refused without being applied; ``after``
means it is applied and then the answer is replaced by the fault, which is how a client's
"never send a POST twice unless it was not applied" rule is tested.

Faults come from a deterministic ``script`` (consumed in order: the first entry matching the
request is used, ``count`` times) and, failing that, from random rates drawn from a seeded RNG.
Latency delays every ``/api/*`` request.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Mapping

FAULT_STATUSES = (429, 500, 502, 503)
WHEN = ("before", "after")
DROP = "drop"
RECENT_REQUESTS = 500


class FaultConfigError(ValueError):
    """A fault configuration is malformed; the message names the field."""


@dataclass
class ScriptEntry:
    """Fail the next ``count`` requests whose method and path match."""

    status: int | str
    path_regex: str = ".*"
    method: str | None = None
    when: str = "before"
    count: int = 1

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return re.search(self.path_regex, path) is not None

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path_regex": self.path_regex, "status": self.status,
                "when": self.when, "count": self.count}


@dataclass
class FaultConfig:
    """What ``POST /_emulator/faults`` takes (every field optional; the defaults inject nothing)."""

    latency_ms: int = 0
    fault_rate: float = 0.0
    fault_status: int = 503
    fault_when: str = "before"
    drop_rate: float = 0.0
    seed: int | None = None
    retry_after: int = 1
    script: list[ScriptEntry] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: Any) -> "FaultConfig":
        if not isinstance(raw, Mapping):
            raise FaultConfigError("the fault configuration must be a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise FaultConfigError(f"unknown fields {unknown}; known: {sorted(known)}")
        config = cls(**{k: v for k, v in raw.items() if k != "script"})
        config.script = [_script_entry(e, i) for i, e in enumerate(raw.get("script") or [])]
        config.validate()
        return config

    def validate(self) -> None:
        _check(isinstance(self.latency_ms, int) and self.latency_ms >= 0, "latency_ms must be an integer >= 0")
        for name in ("fault_rate", "drop_rate"):
            value = getattr(self, name)
            _check(isinstance(value, (int, float)) and 0 <= value <= 1, f"{name} must be between 0 and 1")
        _check(self.fault_status in FAULT_STATUSES, f"fault_status must be one of {FAULT_STATUSES}")
        _check(self.fault_when in WHEN, "fault_when must be 'before' or 'after'")
        _check(self.seed is None or isinstance(self.seed, int), "seed must be an integer")
        _check(isinstance(self.retry_after, int) and self.retry_after >= 0, "retry_after must be an integer >= 0")

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms, "fault_rate": self.fault_rate, "fault_status": self.fault_status,
            "fault_when": self.fault_when, "drop_rate": self.drop_rate, "seed": self.seed,
            "retry_after": self.retry_after, "script": [e.to_json() for e in self.script],
        }


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise FaultConfigError(message)


def _script_entry(raw: Any, index: int) -> ScriptEntry:
    where = f"script[{index}]"
    if not isinstance(raw, Mapping):
        raise FaultConfigError(f"{where} must be an object")
    unknown = sorted(set(raw) - {"method", "path_regex", "status", "when", "count"})
    if unknown:
        raise FaultConfigError(f"{where}: unknown fields {unknown}")
    entry = ScriptEntry(
        status=raw.get("status"),
        path_regex=raw.get("path_regex", ".*"),
        method=raw.get("method"),
        when=raw.get("when", "before"),
        count=raw.get("count", 1),
    )
    status_ok = entry.status == DROP or (
        isinstance(entry.status, int) and not isinstance(entry.status, bool) and 400 <= entry.status <= 599
    )
    _check(status_ok, f"{where}.status must be an HTTP error status (400-599) or 'drop'")
    _check(entry.when in WHEN, f"{where}.when must be 'before' or 'after'")
    _check(isinstance(entry.count, int) and entry.count >= 1, f"{where}.count must be an integer >= 1")
    _check(entry.method is None or isinstance(entry.method, str), f"{where}.method must be a string")
    try:
        re.compile(entry.path_regex)
    except (re.error, TypeError) as e:
        raise FaultConfigError(f"{where}.path_regex is not a regular expression: {e}") from None
    return entry


@dataclass(frozen=True)
class Plan:
    """What to do to one request: sleep ``latency_s``, then maybe a fault."""

    latency_s: float = 0.0
    fault: int | str | None = None
    """None, an HTTP status, or ``"drop"``."""
    when: str = "before"
    retry_after: int = 1


class FaultInjector:
    """Decides, thread-safely, which ``/api/*`` requests get latency or a fault."""

    def __init__(self, config: FaultConfig | None = None):
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        config.validate()
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)

    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    def plan(self, method: str, path: str) -> Plan:
        with self._lock:
            c = self._config
            latency = c.latency_ms / 1000.0
            for entry in c.script:
                if entry.matches(method, path):
                    entry.count -= 1
                    if entry.count <= 0:
                        c.script.remove(entry)
                    return Plan(latency, entry.status, entry.when, c.retry_after)
            if c.drop_rate and self._rng.random() < c.drop_rate:
                return Plan(latency, DROP, c.fault_when, c.retry_after)
            if c.fault_rate and self._rng.random() < c.fault_rate:
                return Plan(latency, c.fault_status, c.fault_when, c.retry_after)
            return Plan(latency)


class Stats:
    """Counts of ``/api/*`` requests per (method, route template) and the most recent requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._counts: Counter[str] = Counter()
            self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)

    def record(self, method: str, route: str, status: int | None, applied: bool, fault: int | str | None,
               received: float | None = None) -> None:
        """``status`` None: the connection was dropped. ``applied``: the request took effect.
        ``received``: when the request arrived (``time.time()``), so a test can order it against
        events elsewhere (a Kubernetes object's deletion, say)."""
        with self._lock:
            self._counts[f"{method} {route}"] += 1
            self._recent.append({"method": method, "route": route, "status": status, "applied": applied,
                                 "fault": fault, "received": received})  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"counts": dict(self._counts), "requests": list(self._recent)}
