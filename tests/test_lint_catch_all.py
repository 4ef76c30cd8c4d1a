"""Security review round two, fault 4: rules every token satisfies identify no workload.

``iat: "1*"`` fits every token minted since 2001, ``jti: "*-*"`` every UUID token id: a policy
whose only other rule is ``aud`` trusted every workload of the issuer and passed with a warning
at most. Claims about the token (iat, exp, nbf, jti) now identify nothing, like aud and iss, and a
rule whose literal part may sit anywhere (``*`` before it) counts as no rule. Issuers whose ``sub``
is opaque, with the tenant in another claim, stay lintable.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_oidc_trust.provider.lint import lint_policies
from pulumi_oidc_trust.provider.lint.patterns import unanchored
from pulumi_oidc_trust.provider.lint.policy_rules import IDENTIFIES_NOTHING
from pulumi_oidc_trust.provider.policy import match, parse_policies

AUD = "urn:pulumi:org:acme"
PRIVATE = "https://idp.acme.example"
GH = "https://token.actions.githubusercontent.com"
EKS = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
GKE = "https://container.googleapis.com/v1/projects/acme/locations/us-central1/clusters/ci"
BUILDKITE = "https://agent.buildkite.com"
GOOGLE = "https://accounts.google.com"
UUID = "6f1c0b9e-1111-2222-3333-444455556666"
NS, SA, SA_UID = '"kubernetes.io".namespace', '"kubernetes.io".serviceaccount.name', '"kubernetes.io".serviceaccount.uid'

# (label, issuer URL, rules besides aud, {rule id: the severity it must have, or None: must not fire})
TABLE: list[tuple[str, str, dict[str, str], dict[str, str | None]]] = [
    # Catch-alls on the token's own claims: an error now (OIDC001), whatever the issuer.
    ("iat prefix", PRIVATE, {"iat": "1*"}, {"OIDC001": "error"}),
    ("jti of any uuid", PRIVATE, {"jti": "*-*"}, {"OIDC001": "error"}),
    ("exp and nbf", PRIVATE, {"exp": "1*", "nbf": "1*"}, {"OIDC001": "error"}),
    ("iss and iat", PRIVATE, {"iss": PRIVATE, "iat": "1*"}, {"OIDC001": "error"}),
    ("exact jti still names no workload", PRIVATE, {"jti": "abc"}, {"OIDC001": "error", "OIDC023": "warning"}),
    ("unknown issuer, iat prefix", "", {"iat": "1*"}, {"OIDC001": "error"}),
    # Other rules whose literal part floats (a '*' before it): they name nobody either.
    ("custom claim of any shape", PRIVATE, {"tid": "*-*"}, {"OIDC001": "error"}),
    ("subject of any shape and a jti", PRIVATE, {"sub": "*:*", "jti": "*-*"}, {"OIDC001": "error"}),
    ("github: iat and a floating repository", GH, {"repository": "*/*", "iat": "1*"}, {"OIDC001": "error"}),
    # Kubernetes: the claim form gets the subject form's verdicts (OIDC024).
    ("k8s: iat prefix only", GKE, {"iat": "1*"}, {"OIDC001": "error", "OIDC024": "error"}),
    ("k8s: namespace of any shape", GKE, {NS: "*-*"}, {"OIDC001": "error", "OIDC024": "error"}),
    ("k8s: account without a namespace", EKS, {SA: "runner", "jti": "*-*"}, {"OIDC001": None, "OIDC024": "error"}),
    ("k8s: namespace prefix", GKE, {NS: "c*", SA: "runner"}, {"OIDC001": None, "OIDC024": "error"}),
    ("k8s: namespace look-alike", GKE, {NS: "c.", SA: "runner"}, {"OIDC024": "error"}),
    ("k8s: default account by claims", GKE, {NS: "ci", SA: "default"}, {"OIDC024": "warning"}),
    ("k8s: any account of a namespace by claims", GKE, {NS: "ci", SA: "run*"}, {"OIDC024": "warning"}),
    ("k8s: namespace only (as before)", GKE, {NS: "ci"}, {"OIDC001": None, "OIDC024": "warning"}),
    # Near misses: something names the workload, so no OIDC001 (and no error at all).
    ("subject pinned, iat catch-all beside it", PRIVATE, {"sub": "deploy-bot", "iat": "1*"}, {"OIDC001": None}),
    ("subject prefix ending in '*'", PRIVATE, {"sub": "acme/infra/*"}, {"OIDC001": None}),
    ("opaque sub, tenant and object ids", PRIVATE, {"tid": UUID, "oid": UUID, "iat": "1*"}, {"OIDC001": None}),
    ("buildkite: organization and pipeline ids", BUILDKITE, {"organization_id": UUID, "pipeline_id": UUID, "jti": "*-*"}, {"OIDC001": None}),
    ("google: numeric unique id as sub", GOOGLE, {"sub": "112233445566778899000"}, {"OIDC001": None}),
    ("k8s: namespace and account by claims", GKE, {NS: "ci", SA: "pulumi-runner", "jti": "*-*"}, {"OIDC001": None, "OIDC024": None}),
    ("k8s: service-account uid", GKE, {SA_UID: UUID}, {"OIDC001": None, "OIDC024": None}),
    ("k8s: exact subject", EKS, {"sub": "system:serviceaccount:ci:pulumi-runner", "iat": "1*"}, {"OIDC001": None, "OIDC024": None}),
]  # fmt: skip


def lint(issuer: str, rules: dict[str, str]) -> list[Any]:
    policy = {"decision": "allow", "tokenType": "team", "teamName": "platform", "rules": {"aud": AUD, **rules}}
    return lint_policies(parse_policies([policy]), issuer_url=issuer or None, organization="acme")


@pytest.mark.parametrize("label, issuer, rules, expected", TABLE, ids=[row[0] for row in TABLE])
def test_catch_alls_on_claims_that_identify_nothing(label, issuer, rules, expected):
    found = lint(issuer, rules)
    for rule_id, severity in expected.items():
        got = [f.severity for f in found if f.id == rule_id]
        assert got == ([severity] if severity else []), f"{label}: {rule_id}: {[str(f) for f in found]}"
    if all(severity is None for severity in expected.values()):
        assert not [f for f in found if f.severity == "error"], [str(f) for f in found]


def test_the_message_names_the_catch_all_and_the_fix():
    (finding,) = [f for f in lint(PRIVATE, {"sub": "*:*", "jti": "*-*"}) if f.id == "OIDC001"]
    assert finding.claim == "sub" and "sub '*:*'" in finding.message and "aud, jti" in finding.message
    (finding,) = [f for f in lint(PRIVATE, {"iat": "1*"}) if f.id == "OIDC001"]
    assert "rules only on aud, iat" in finding.message and "add a rule that names the workload" in finding.fix_text()


def test_a_catch_all_no_longer_hides_user_controlled_claims():
    """OIDC007 counted iat as identifying: an environment plus ``iat: "1*"`` was not reported."""
    found = lint(PRIVATE, {"environment": "production", "iat": "1*"})
    assert "OIDC007" in {f.id for f in found}


def test_the_example_catch_alls_really_fit_every_token():
    """Why: ``iat: "1*"`` fits every issue time from 2001 to 2286, ``jti: "*-*"`` every UUID."""
    assert match("1*", "1000000000") and match("1*", "1999999999")
    assert match("*-*", UUID)
    assert {("iat",), ("exp",), ("nbf",), ("jti",), ("aud",), ("iss",)} == IDENTIFIES_NOTHING


@settings(max_examples=200, deadline=None)
@given(
    claim=st.sampled_from(sorted(".".join(path) for path in IDENTIFIES_NOTHING if path not in (("aud",),))),
    pattern=st.text(alphabet="0123456789abcdef-*?.", min_size=1, max_size=12).filter(lambda p: any(c not in "*?." for c in p)),
)
def test_any_rule_on_a_claim_that_identifies_nothing_leaves_oidc001_an_error(claim, pattern):
    assert "OIDC001" in {f.id for f in lint(PRIVATE, {claim: pattern}) if f.severity == "error"}


@pytest.mark.parametrize(
    "pattern, floats",
    [("*-*", True), ("*:*", True), (".*acme", True), ("*acme*", True), ("1*", False), ("repo:acme/*", False),
     ("?x*", False), ("c.", False), ("exact", False)],
)  # fmt: skip
def test_unanchored_means_a_star_before_the_first_literal(pattern, floats):
    assert unanchored(pattern) is floats
