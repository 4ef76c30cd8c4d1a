"""Security review, emulator side: what an attacker with a token, or none, cannot do.

Items: 3 (a claim cannot stall an exchange; long claims are refused), 8 (only the admin token or
an organization token with admin may change trust), 9 (key fetching: failures cached, a total
deadline, a generic reason), 10 (token lifetimes and time claims).
"""

from __future__ import annotations

import time

import pytest

from pulumi_oidc_trust.provider.policy import MAX_CLAIM_LENGTH
from pulumi_oidc_trust.provider.wire import audience_for
from tests.conftest import allow_policy


@pytest.fixture
def trusted(inproc_emulator):
    """acme trusts the emulator's test issuer for ``repo:acme/*``."""
    inproc_emulator.issuer = inproc_emulator.trust_test_issuer()
    return inproc_emulator


def _refused(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert words in response.text


# -- 3: the matcher cannot be stalled, long claims are refused -----------------------------------


def test_a_backtracking_pattern_and_a_long_claim_answer_at_once(trusted):
    org = trusted.org
    trusted.set_policies(trusted.issuer["id"], [allow_policy(org, sub="a*a*a*a*b")])
    token = trusted.workload_token(sub="a" * 811)
    started = time.monotonic()
    response = trusted.exchange(token)
    elapsed = time.monotonic() - started
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text
    assert elapsed < 2.0, f"the exchange took {elapsed:.1f}s"  # before: 9-15 s


def test_a_claim_longer_than_the_limit_is_refused_with_the_reason(trusted):
    token = trusted.workload_token(sub="repo:acme/" + "x" * MAX_CLAIM_LENGTH)
    response = trusted.exchange(token)
    _refused(response, 401, f"longer than {MAX_CLAIM_LENGTH} characters")
    assert "claim sub" in response.json()["error_description"]


def test_a_nested_long_claim_is_refused_too(trusted):
    token = trusted.workload_token(extra={"deep": ["ok", "y" * (MAX_CLAIM_LENGTH + 1)]})
    _refused(trusted.exchange(token), 401, "claim extra.deep[1]")


def test_claims_at_the_limit_are_accepted(trusted):
    token = trusted.workload_token(sub="repo:acme/" + "x" * (MAX_CLAIM_LENGTH - len("repo:acme/")))
    assert trusted.exchange(token).status_code == 200
