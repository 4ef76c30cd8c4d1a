"""One lookup by URL per organization, shared by the creates of one provider process
(provider/issuer_index.py), and the guarantee it keeps: an issuer already trusted at the URL is
never registered a second time.

The first tests run through the SDK's dynamic-provider host against the emulator, whose request
counts show the listings sent; the last ones drive the index with a fake client."""

from __future__ import annotations

import pytest

from harness.dynamic_host import EngineError, Resource
from pulumi_oidc_trust.provider.client import PulumiCloudError
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_index import IssuerIndex

ISSUER_TYPE = "dynamic/oidc:OidcIssuer"
LIST = "GET /api/orgs/{orgName}/oidc/issuers"
POST = "POST /api/orgs/{orgName}/oidc/issuers"


def _create(host, org: str, name: str, url: str) -> Resource:
    issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, name)
    issuer.create({"organization": org, "url": url, "name": name})
    return issuer


def test_many_creates_list_the_organization_once(emulator, host, org):
    emulator.reset_stats()
    for i in range(5):
        _create(host, org, f"issuer-{i}", f"{emulator.test_issuer_url}/{i}")
    counts = emulator.stats()["counts"]
    assert counts.get(LIST) == 1 and counts.get(POST) == 5


def test_an_issuer_trusted_before_the_update_is_still_refused(emulator, host, cloud, org):
    cloud.register_issuer(org, {"name": "from-the-console", "url": f"{emulator.test_issuer_url}/taken"})
    _create(host, org, "first", f"{emulator.test_issuer_url}/free")  # takes the shared listing
    with pytest.raises(EngineError, match="already trusts an issuer"):
        _create(host, org, "second", f"{emulator.test_issuer_url}/taken")
    assert len([i for i in cloud.list_issuers(org) if i["url"].endswith("/taken")]) == 1


def test_an_issuer_this_process_registered_is_seen_by_its_later_creates(emulator, host, cloud, org):
    url = f"{emulator.test_issuer_url}/once"
    _create(host, org, "first", url)
    with pytest.raises(EngineError, match="already trusts an issuer"):
        _create(host, org, "second", url)  # a second resource declaring the same URL
    assert len(cloud.list_issuers(org)) == 1


def test_a_delete_then_create_at_the_same_url_registers_anew(emulator, host, cloud, org):
    url = f"{emulator.test_issuer_url}/replaced"
    old = _create(host, org, "issuer", url)
    old_id = old.outputs["issuer_id"]
    old.delete()
    new = _create(host, org, "issuer", url)  # a replacement: delete first, then create
    assert new.outputs["issuer_id"] != old_id
    assert [i["id"] for i in cloud.list_issuers(org)] == [new.outputs["issuer_id"]]


class FakeClient:
    api_url = "https://api.example.test"

    def __init__(self, issuers: list[dict]):
        self.issuers = issuers
        self.listings = 0

    def existing_issuers(self, _org):
        self.listings += 1
        return list(self.issuers)

    def get_issuer(self, _org, issuer_id):
        for issuer in self.issuers:
            if issuer["id"] == issuer_id:
                return issuer
        raise PulumiCloudError(404, "oidc issuer")


def test_a_listing_older_than_the_bound_is_taken_again():
    now = [0.0]
    index = IssuerIndex(clock=lambda: now[0], max_age=60)
    client = FakeClient([])
    assert index.find(client, "acme", "https://a.test") is None
    client.issuers.append({"id": "elsewhere", "url": "https://a.test", "name": "console"})
    now[0] = 30
    assert index.find(client, "acme", "https://a.test") is None and client.listings == 1
    now[0] = 61
    assert index.find(client, "acme", "https://a.test/")["id"] == "elsewhere" and client.listings == 2


def test_an_issuer_deleted_elsewhere_since_the_listing_counts_as_absent():
    index = IssuerIndex()
    client = FakeClient([{"id": "gone", "url": "https://a.test", "name": "x"}])
    index.find(client, "acme", "https://b.test")  # the listing holds "gone"
    client.issuers.clear()
    assert index.find(client, "acme", "https://a.test") is None


def test_two_creates_at_one_url_at_once_are_told_apart():
    index, client = IssuerIndex(), FakeClient([])
    with index.claim(client, "acme", "https://a.test"):
        with pytest.raises(PulumiCloudError, match="declare each issuer URL once"):
            with index.claim(client, "acme", "https://a.test/"):
                pass
        with index.claim(client, "other-org", "https://a.test"):
            pass  # another organization may trust the same URL
    with index.claim(client, "acme", "https://a.test"):
        pass  # released
