"""OIDC040 (wildcard in a policy's name fields) and OIDC041 (mutable runner image tag).

Security review item 1: a dot in a grant's name is a one-character wildcard, so
``Grant.personal("john.doe")`` admitted ``john-doe`` too.
"""

from __future__ import annotations

import pytest

from pulumi_oidc_trust.components.presets import Grant, PresetError
from pulumi_oidc_trust.components.runner_manifests import DEFAULT_IMAGE
from pulumi_oidc_trust.provider import policy as m
from pulumi_oidc_trust.provider.lint import RULES as CATALOG
from pulumi_oidc_trust.provider.lint import lint
from pulumi_oidc_trust.provider.lint.security_rules import mutable_image_findings, name_wildcard_findings

RULES = {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main"}
CLAIMS = {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main"}


def test_the_model_reads_a_dot_in_a_name_field_as_a_wildcard():
    # Why the rules below exist: this allow for john.doe also issues tokens for john-doe.
    allow = m.Policy("allow", "personal", RULES, user_login="john.doe")
    assert m.evaluate([allow], CLAIMS, m.Request("personal", "john-doe")).allowed


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda: Grant.personal("john.doe"), "login"),
        (lambda: Grant.team("plat.form"), "team"),
        (lambda: Grant.team("plat*"), "team"),
        (lambda: Grant.team("plat?"), "team"),
        (lambda: Grant.runner("runner.1"), "runner_id"),
        (lambda: Grant("personal", name="a.b"), "login"),
    ],
)
def test_grant_refuses_every_wildcard_in_a_name(build, argument):
    with pytest.raises(PresetError) as caught:
        build()
    assert caught.value.argument == argument
    assert "wildcard" in str(caught.value) and "'.'" in str(caught.value)


def test_grant_keeps_exact_names():
    policy = Grant.personal("john-doe").allow(RULES)
    assert policy.user_login == "john-doe"
    assert not m.evaluate([policy], CLAIMS, m.Request("personal", "johnXdoe")).allowed


@pytest.mark.parametrize(
    "field, value",
    [("team_name", "plat*"), ("team_name", "plat.form"), ("user_login", "john.doe"), ("runner_id", "r?")],
)
def test_oidc040_is_an_error_for_a_wildcard_in_a_hand_written_allow(field, value):
    token_type = {"team_name": "team", "user_login": "personal", "runner_id": "runner"}[field]
    policies = [
        {"decision": "allow", "token_type": "organization", "role_id": "r", "rules": RULES},
        {"decision": "allow", "token_type": token_type, field: value, "rules": RULES},
    ]
    (finding,) = name_wildcard_findings(policies)
    assert (finding.id, finding.severity, finding.policy, finding.claim) == ("OIDC040", "error", 1, field)
    assert repr(value) in finding.message and "exact" in finding.fix


def test_oidc040_leaves_exact_names_and_deny_policies_alone():
    policies = [
        m.Policy("deny", "team", RULES, team_name="*-contractors"),
        m.Policy("allow", "team", RULES, team_name="platform"),
        m.Policy("allow", "personal", RULES, user_login="john_doe"),
    ]
    assert name_wildcard_findings(policies) == []


@pytest.mark.parametrize("image", [DEFAULT_IMAGE, "pulumi/pulumi:3.272.0", "registry.example.com/pulumi:v1"])
def test_oidc041_warns_about_a_tag_without_a_digest(image):
    (finding,) = mutable_image_findings(image)
    assert (finding.id, finding.severity) == ("OIDC041", "warning")
    assert "@sha256:" in finding.fix and image in finding.message


def test_oidc041_accepts_a_digest_pinned_image():
    digest = "sha256:" + "ab" * 32
    assert mutable_image_findings(f"pulumi/pulumi:3.272.0@{digest}") == []
    assert mutable_image_findings(f"pulumi/pulumi@{digest}") == []


def test_the_rules_are_in_the_one_catalog_and_lint_runs_oidc040():
    assert CATALOG["OIDC040"].severity == "error" and CATALOG["OIDC041"].severity == "warning"
    allow = {"decision": "allow", "token_type": "personal", "user_login": "john.doe", "rules": RULES}
    report = lint([allow], organization="acme")
    assert "OIDC040" in {f.id for f in report.errors}
    assert "OIDC040" not in {f.id for f in lint([allow], organization="acme", waivers={"OIDC040": "a test"}).errors}
