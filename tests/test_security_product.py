"""Security review, product side: URLs, secrets in errors, ids, policy inputs, the simulator.

Each test shows a fault the review found (items 2-7) and that it stays fixed.
"""

from __future__ import annotations

import pytest

from pulumi_oidc_trust.emulator import TestIssuer, new_rsa_key
from pulumi_oidc_trust.provider.policy import MAX_CLAIM_LENGTH
from pulumi_oidc_trust.provider.simulate import TokenError, decode_token


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer("https://issuer.example.com", key=new_rsa_key())


# -- 3: the simulator refuses what the exchange refuses ------------------------------------------


def test_simulator_refuses_a_token_with_an_oversized_claim(issuer):
    token = issuer.mint({"sub": "s" * (MAX_CLAIM_LENGTH + 1), "aud": "urn:pulumi:org:acme"})
    with pytest.raises(TokenError, match=f"claim sub is {MAX_CLAIM_LENGTH + 1} characters") as caught:
        decode_token(token)
    assert "sss" not in str(caught.value)  # the claim itself is not echoed


def test_cli_simulate_refuses_an_oversized_claims_file(tmp_path, capsys):
    from pulumi_oidc_trust.cli.main import main

    policies = tmp_path / "p.json"
    policies.write_text('[{"decision": "allow", "token_type": "organization", "role_id": "r", "rules": {"sub": "a*"}}]')
    claims = tmp_path / "c.json"
    claims.write_text('{"sub": "%s"}' % ("a" * (MAX_CLAIM_LENGTH + 1)))
    code = main(["simulate", "--policies", str(policies), "--claims", str(claims)])
    assert code == 2
    assert f"longer than {MAX_CLAIM_LENGTH} characters" in capsys.readouterr().err
