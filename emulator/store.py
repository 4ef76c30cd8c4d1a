"""The emulator's state: organizations, issuers, their policies and the access tokens it minted.

How an organization comes to exist (the emulator's one choice; Pulumi Cloud's organizations are
made in its console, which the emulator has not): with the first issuer registered in it (the
admin's first write, e.g. the first ``pulumi up``), and it stays. Every other route of an
organization nobody created answers 404 in the service's error shape (``Api.authorize_org``), so
a misspelt ``--org`` is an error, not an empty organization, and ``GET /api/user`` lists only
organizations that were created.

One lock guards everything; every change is written to the state file (when there is one) before
the lock is released, atomically: a temporary file in the same directory, flushed and fsynced,
then ``os.replace``d over the old one. A crash at any instant leaves either the old or the new
file, never half of one. Minted tokens are kept only as SHA-256 hashes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

STATE_FORMAT = 1
_TMP_PREFIX = ".emulator-state-"


def timestamp(now: datetime | None = None) -> str:
    """The service's observed timestamp format: ``YYYY-MM-DD HH:MM:SS.mmm`` in UTC."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}"


def token_hash(token: str) -> str:
    """How a minted access token is remembered: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def empty_state() -> dict[str, Any]:
    return {"format": STATE_FORMAT, "organizations": [], "issuers": {}, "policies": {}, "tokens": {}}


class State:
    """The data under the lock: plain JSON-able dicts, with lookups that respect organizations."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    @property
    def issuers(self) -> dict[str, dict[str, Any]]:
        return self.data["issuers"]

    @property
    def policies(self) -> dict[str, dict[str, Any]]:
        return self.data["policies"]

    @property
    def tokens(self) -> dict[str, dict[str, Any]]:
        return self.data["tokens"]

    @property
    def organizations(self) -> list[str]:
        return self.data["organizations"]

    def touch_organization(self, org: str) -> bool:
        """Create ``org`` if it is new (its first issuer: see the module docstring). True when it was
        new (the state changed)."""
        if org in self.organizations:
            return False
        self.organizations.append(org)
        return True

    def issuer(self, org: str, issuer_id: str) -> dict[str, Any] | None:
        record = self.issuers.get(issuer_id)
        return record if record is not None and record["org"] == org else None

    def org_issuers(self, org: str) -> list[dict[str, Any]]:
        """The organization's issuers in registration order."""
        return [r for r in self.issuers.values() if r["org"] == org]

    def policy(self, org: str, policy_id: str) -> dict[str, Any] | None:
        record = self.policies.get(policy_id)
        return record if record is not None and record["org"] == org else None

    def policy_of_issuer(self, org: str, issuer_id: str) -> dict[str, Any] | None:
        issuer = self.issuer(org, issuer_id)
        return self.policies.get(issuer["policyId"]) if issuer else None

    def delete_issuer(self, org: str, issuer_id: str) -> bool:
        issuer = self.issuer(org, issuer_id)
        if issuer is None:
            return False
        del self.issuers[issuer_id]
        self.policies.pop(issuer["policyId"], None)
        return True

    def prune_tokens(self, now: float) -> None:
        """Forget expired access tokens so the state file does not grow without bound."""
        for digest in [d for d, t in self.tokens.items() if t["expiresAt"] <= now]:
            del self.tokens[digest]


class Store:
    """Thread-safe, optionally persistent holder of the emulator's State.

    ``with store.transaction() as state:`` changes it (saved on a clean exit);
    ``with store.reading() as state:`` only looks. Both hold the one lock.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else None
        self._lock = threading.RLock()
        self._state = State(self._load())

    def _load(self) -> dict[str, Any]:
        if self.path is None:
            return empty_state()
        self._remove_stale_temp_files()
        if not self.path.exists():
            return empty_state()
        with open(self.path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError(f"{self.path} is not an emulator state file (format {STATE_FORMAT})")
        for key, value in empty_state().items():
            data.setdefault(key, value)
        return data

    def _remove_stale_temp_files(self) -> None:
        # A crash between creating and renaming a temp file leaves it behind; it is never read.
        directory = self.path.parent
        if not directory.is_dir():
            return
        for leftover in directory.glob(f"{_TMP_PREFIX}{self.path.name}.*"):
            try:
                leftover.unlink()
            except OSError:
                pass

    @contextmanager
    def reading(self) -> Iterator[State]:
        with self._lock:
            yield self._state

    @contextmanager
    def transaction(self) -> Iterator[State]:
        """Change the state; it is saved when the block ends without an exception.

        A failed block may have changed the in-memory dicts, so it is rolled back to a copy.
        """
        with self._lock:
            before = copy.deepcopy(self._state.data)
            try:
                yield self._state
            except BaseException:
                self._state.data = before
                raise
            self._save()

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state (for tests and debugging)."""
        with self._lock:
            return copy.deepcopy(self._state.data)

    def _save(self) -> None:
        if self.path is None:
            return
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._state.data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
