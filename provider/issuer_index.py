"""One lookup by URL per organization, shared by every issuer create in the provider process.

Before registering, ``OidcIssuer.create`` must know whether the organization already trusts an
issuer at the URL (DESIGN: never a second issuer). Listing the organization's issuers once per
create costs one request per issuer, each listing as long as the organization is large. Here the
listing is taken once per (API URL, organization) and shared, and kept true by this process's own
writes.

Why this answers what a fresh listing would:
- The provider process lives for one engine run (one ``pulumi up``), so the listing is taken
  within the update, before this process registers anything: an issuer registered before the
  update began (in the UI, by another stack) is in it.
- Every write of this process that changes which URL is trusted goes through here: a
  registration is added (``registered``), a deletion removed (``deleted``). So a later create
  in this update sees the issuers this update made and no longer sees those it removed (a
  replacement's delete-then-create at the same URL).
- Only the URL -> id mapping is trusted from the listing. A hit is fetched again by id before
  anything uses it (``find``), so a name or policy changed elsewhere is seen, and an issuer
  deleted elsewhere since the listing counts as absent.
- Two creates of this process at the same URL are told apart: the first claims the URL until
  its registration is done; the second is refused, as it would be once the first had registered.
- What a fresh listing per create would also catch is an issuer registered by someone else
  during the update, between a listing and the POST. That race exists with any lookup (the
  service has no conditional register); sharing widens its window from one round-trip to the
  listing's age, so a listing older than ``MAX_AGE_SECONDS`` is taken again.
- The retry rule is untouched: a register POST that may have been applied is followed by a
  fresh lookup (``PulumiCloudClient.register_issuer``), never by this index.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .errors import PulumiCloudError

if TYPE_CHECKING:  # the HTTP stack is imported where a client is made (base._client)
    from .client import PulumiCloudClient

MAX_AGE_SECONDS = 60.0


def url_key(url: str) -> str:
    """URLs compare as the lookup by URL compares them (a trailing slash is no difference)."""
    return str(url).rstrip("/")


class _Listing:
    def __init__(self, issuers: list[dict[str, Any]], taken: float):
        self.ids = {url_key(i.get("url", "")): i["id"] for i in issuers if i.get("id")}
        self.taken = taken


class IssuerIndex:
    """URL -> issuer id per (API URL, organization), listed once and kept by this process's writes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_age: float = MAX_AGE_SECONDS):
        self._clock, self._max_age = clock, max_age
        self._lock = threading.Lock()
        self._listings: dict[tuple[str, str], _Listing] = {}
        self._listing_locks: dict[tuple[str, str], threading.Lock] = {}
        self._claims: set[tuple[str, str, str]] = set()

    def _ids(self, client: PulumiCloudClient, org: str) -> dict[str, str]:
        key = (client.api_url, org)
        with self._lock:
            lock = self._listing_locks.setdefault(key, threading.Lock())
        with lock:  # one listing at a time per organization; the others wait for it
            listing = self._listings.get(key)
            if listing is None or self._clock() - listing.taken > self._max_age:
                listing = _Listing(client.existing_issuers(org), self._clock())
                with self._lock:
                    self._listings[key] = listing
            return listing.ids

    def find(self, client: PulumiCloudClient, org: str, url: str) -> dict[str, Any] | None:
        """The issuer the organization trusts at ``url`` (fetched now), or None."""
        issuer_id = self._ids(client, org).get(url_key(url))
        if issuer_id is None:
            return None
        try:
            return client.get_issuer(org, issuer_id)
        except PulumiCloudError as e:
            if e.status == 404:  # deleted elsewhere since the listing
                self.deleted(client, org, issuer_id)
                return None
            raise

    @contextmanager
    def claim(self, client: PulumiCloudClient, org: str, url: str) -> Iterator[None]:
        """Held while this process registers at ``url``: a second create at the URL is refused."""
        key = (client.api_url, org, url_key(url))
        with self._lock:
            if key in self._claims:
                raise PulumiCloudError(
                    409, f"another resource of this update is registering an issuer at {url} in organization "
                    f"{org!r}; declare each issuer URL once", operation="register OIDC issuer")
            self._claims.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._claims.discard(key)

    def registered(self, client: PulumiCloudClient, org: str, issuer: dict[str, Any]) -> None:
        with self._lock:
            listing = self._listings.get((client.api_url, org))
            if listing is not None and issuer.get("id"):
                listing.ids[url_key(issuer.get("url", ""))] = issuer["id"]

    def deleted(self, client: PulumiCloudClient, org: str, issuer_id: str) -> None:
        with self._lock:
            listing = self._listings.get((client.api_url, org))
            if listing is not None:
                for url in [u for u, i in listing.ids.items() if i == issuer_id]:
                    del listing.ids[url]


INDEX = IssuerIndex()
"""The process's index: the provider host keeps one provider instance per type, but pickled
instances carry no state (``CloudResourceProvider.__getstate__``), so it lives here."""
