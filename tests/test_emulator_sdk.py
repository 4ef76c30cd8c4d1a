"""The official generated client, pulumi-cloud-sdk, reads every emulator response.

The SDK's models reject a missing required field, so a successful deserialization is a check of
the emulator's shapes against Pulumi's own OpenAPI spec. ``jwks`` is the exception: its spec
model is a reflection of a Go struct (a known spec bug), so JWKS are checked as RFC 7517 instead.
"""

from __future__ import annotations

import base64
import urllib.error

import pytest
import requests
from pulumi_cloud_sdk import ApiClient, Configuration
from pulumi_cloud_sdk.apis.miscellaneous_api_ import MiscellaneousApi
from pulumi_cloud_sdk.apis.organizations_api_ import OrganizationsApi
from pulumi_cloud_sdk.apis.users_api_ import UsersApi
from pulumi_cloud_sdk.models import (
    AuthPolicyDefinition,
    AuthPolicyUpdateRequest,
    OidcIssuerRegistrationRequest,
    OidcIssuerUpdateRequest,
)

from pulumi_oidc_trust.provider.wire import GRANT_TYPE_TOKEN_EXCHANGE, SUBJECT_TOKEN_TYPE_ID_TOKEN

ORG = "acme"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def client(base_url: str, token: str) -> ApiClient:
    configuration = Configuration()
    configuration.host = base_url
    configuration.access_token = token
    return ApiClient(configuration)


@pytest.fixture
def sdk(inproc_emulator) -> OrganizationsApi:
    return OrganizationsApi(client(inproc_emulator.base_url, inproc_emulator.access_token))


def test_issuer_lifecycle_through_the_sdk(inproc_emulator, sdk):
    created = sdk.register_oidc_issuer(
        ORG, OidcIssuerRegistrationRequest(name="ci", url=inproc_emulator.test_issuer_url, max_expiration=3600)
    )
    assert created.url == created.issuer == inproc_emulator.test_issuer_url
    assert created.max_expiration == 3600 and created.thumbprints == []

    fetched = sdk.get_oidc_issuer(ORG, created.id)
    assert (fetched.id, fetched.name, fetched.created) == (created.id, "ci", created.created)
    assert [i.id for i in sdk.list_orgs_oidc_issuers(ORG).oidc_issuers] == [created.id]

    # The SDK sends thumbprints null and maxExpiration 0 for what it was not given.
    updated = sdk.update_oidc_issuer(ORG, created.id, OidcIssuerUpdateRequest(name="ci-renamed"))
    assert updated.name == "ci-renamed" and updated.max_expiration in (0, None)
    updated = sdk.update_oidc_issuer(ORG, created.id, OidcIssuerUpdateRequest(name="ci-renamed", max_expiration=7200))
    assert updated.max_expiration == 7200

    regenerated = sdk.regenerate_thumbprints(ORG, created.id)
    assert regenerated.id == created.id

    sdk.delete_oidc_issuer(ORG, created.id)
    with pytest.raises(urllib.error.HTTPError) as error:
        sdk.get_oidc_issuer(ORG, created.id)
    assert error.value.code == 404
    error.value.close()


def test_auth_policy_and_token_exchange_through_the_sdk(inproc_emulator, sdk):
    request = OidcIssuerRegistrationRequest(name="ci", url=inproc_emulator.test_issuer_url)
    issuer = sdk.register_oidc_issuer(ORG, request)
    default = sdk.get_auth_policy(ORG, issuer.id)
    assert default.version == 1 and default.policies[0].decision == "deny"

    allow = AuthPolicyDefinition(
        decision="allow", token_type="organization", authorized_permissions=[],
        rules={"aud": "urn:pulumi:org:acme", "sub": "repo:acme/*"},
    )
    updated = sdk.update_auth_policy(ORG, default.id, AuthPolicyUpdateRequest(policies=[allow]))
    assert updated.version == 2 and updated.policies[0].rules == allow.rules

    misc = MiscellaneousApi(client(inproc_emulator.base_url, ""))
    grant = misc.token({
        "audience": "urn:pulumi:org:acme",
        "grant_type": GRANT_TYPE_TOKEN_EXCHANGE,
        "subject_token_type": SUBJECT_TOKEN_TYPE_ID_TOKEN,
        "requested_token_type": "urn:pulumi:token-type:access_token:organization",
        "subject_token": inproc_emulator.workload_token(),
        "expiration": 600,
    })
    assert grant.access_token.startswith("pul-") and grant.expires_in == 600 and grant.token_type == "token"

    assert misc.capabilities().capabilities == []
    me = UsersApi(client(inproc_emulator.base_url, grant.access_token)).get_current_user()
    assert me.github_login == "acme" and me.token_info.organization == "acme"
    admin = UsersApi(client(inproc_emulator.base_url, inproc_emulator.access_token)).get_current_user()
    assert admin.github_login == "emulator-admin"


def test_sdk_errors_carry_the_service_status(inproc_emulator, sdk):
    inproc_emulator.create_org(ORG)
    with pytest.raises(urllib.error.HTTPError) as error:
        sdk.get_auth_policy(ORG, "00000000-0000-0000-0000-000000000000")
    assert error.value.code == 400
    error.value.close()
    with pytest.raises(urllib.error.HTTPError) as error:
        OrganizationsApi(client(inproc_emulator.base_url, "wrong")).list_orgs_oidc_issuers(ORG)
    assert error.value.code == 401
    error.value.close()


# -- JWKS as RFC 7517 ----------------------------------------------------------------------------


def _b64url_uint(value: str) -> int:
    assert "=" not in value and "+" not in value and "/" not in value  # base64url without padding
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def assert_public_rfc7517(jwks: dict) -> None:
    assert isinstance(jwks.get("keys"), list) and jwks["keys"]
    for key in jwks["keys"]:
        assert key["kty"] == "RSA" and isinstance(key["kid"], str) and key["kid"]
        assert key.get("use", "sig") == "sig" and key.get("alg", "RS256") == "RS256"
        assert _b64url_uint(key["e"]) == 65537
        assert _b64url_uint(key["n"]).bit_length() >= 2048
        assert not PRIVATE_MEMBERS & set(key), "a JWKS must never carry private key members"


def test_the_test_issuer_publishes_rfc7517_discovery_and_jwks(inproc_emulator):
    discovery = requests.get(inproc_emulator.test_issuer_url + "/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == inproc_emulator.test_issuer_url
    jwks = requests.get(discovery["jwks_uri"], timeout=10).json()
    assert_public_rfc7517(jwks)


def test_an_uploaded_jwks_is_answered_as_rfc7517(inproc_emulator):
    issuer = inproc_emulator.register_issuer(jwks=inproc_emulator.test_issuer.jwks())
    assert_public_rfc7517(issuer["jwks"])
    assert_public_rfc7517(inproc_emulator.get(f"/api/orgs/{ORG}/oidc/issuers/{issuer['id']}").json()["jwks"])
