"""Pure logic of the dynamic providers: validation, wire bodies, diff; settings; the pickle."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown

from pulumi_oidc_trust.provider import issuer, issuer_policy, settings
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider
from pulumi_oidc_trust.provider.policy import closed_policies, parse_policy
from harness.dynamic_host import ROOT

# __provider strings produced by version 0.1.0 (package pulumi_oidc_trust). Existing stacks hold exactly these: if a later
# change renames or moves the provider classes, unpickling them fails here first.
SAVED_PROVIDERS = {
    "OidcIssuerProvider": "gASVQgAAAAAAAACMIXB1bHVtaV9vaWRjX3RydXN0LnByb3ZpZGVyLmlzc3VlcpSMEk9pZGNJc3N1ZXJQcm92aWRlcpSTlCmBlH2UYi4=",
    "OidcIssuerPolicyProvider": "gASVTwAAAAAAAACMKHB1bHVtaV9vaWRjX3RydXN0LnByb3ZpZGVyLmlzc3Vlcl9wb2xpY3mUjBhPaWRjSXNzdWVyUG9saWN5UHJvdmlkZXKUk5QpgZR9lGIu",
    "OidcIssuerWithPoliciesProvider": "gASVXAAAAAAAAACML3B1bHVtaV9vaWRjX3RydXN0LnByb3ZpZGVyLmlzc3Vlcl93aXRoX3BvbGljaWVzlIweT2lkY0lzc3VlcldpdGhQb2xpY2llc1Byb3ZpZGVylJOUKYGUfZRiLg==",
}

GOOD_ISSUER = {"organization": "acme", "url": "https://token.actions.githubusercontent.com", "name": "github"}


def problems(validate, props):
    return dict(validate(props)[1])


# ------------------------------------------------------------------------------ issuer check


@pytest.mark.parametrize(
    "change, prop, words",
    [
        ({"url": "http://example.com"}, "url", "https"),
        ({"url": "token.actions.githubusercontent.com"}, "url", "absolute URL"),
        ({"url": "https://x.example/?a=1"}, "url", "query"),
        ({"organization": ""}, "organization", "required"),
        ({"organization": "a/b"}, "organization", "contains '/'"),
        ({"thumbprints": ["abc"]}, "thumbprints[0]", "64 hex"),
        ({"thumbprints": ["a" * 40]}, "thumbprints[0]", "SHA-1"),
        ({"thumbprints": "a" * 64}, "thumbprints", "list"),
        ({"max_expiration_seconds": 0}, "max_expiration_seconds", "out of range"),
        ({"max_expiration_seconds": 90001}, "max_expiration_seconds", "out of range"),
        ({"jwks": {"keys": []}}, "jwks", "JSON Web Key Set"),
        ({"jwks": {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}}, "jwks.keys[0]", "kid"),
        ({"jwks": {"keys": [{"kty": "RSA", "kid": "k", "n": "x", "e": "AQAB", "d": "secret"}]}}, "jwks.keys[0]", "private"),
        ({"adopt": "yes"}, "adopt", "True or False"),
        ({"thumbprint": ["a" * 64]}, "thumbprint", "unknown property"),
    ],
)
def test_issuer_check_names_the_property_and_the_fix(change, prop, words):
    found = problems(issuer.validate, {**GOOD_ISSUER, **change})
    assert prop in found, found
    assert words in found[prop]


def test_issuer_check_accepts_good_inputs_loopback_http_and_unknowns():
    assert problems(issuer.validate, GOOD_ISSUER) == {}
    assert problems(issuer.validate, {**GOOD_ISSUER, "url": "http://127.0.0.1:8080/test-issuer"}) == {}
    assert problems(issuer.validate, {**GOOD_ISSUER, "url": Unknown(), "organization": Unknown()}) == {}


def test_thumbprints_are_normalized_to_lower_case_hex():
    inputs, found = issuer.validate({**GOOD_ISSUER, "thumbprints": ["AB:" * 31 + "AB"]})
    assert found == [] and inputs["thumbprints"] == ["ab" * 32]


def test_issuer_wire_bodies_omit_unset_fields_and_patch_always_names_the_issuer():
    assert issuer.registration_body(GOOD_ISSUER, "github") == {"name": "github", "url": GOOD_ISSUER["url"]}
    patch = issuer.update_body({**GOOD_ISSUER, "max_expiration_seconds": 3600}, "github")
    assert patch == {"name": "github", "maxExpiration": 3600}


OLD_OUTPUTS = {**GOOD_ISSUER, "issuer_id": "i", "thumbprints": ["b" * 64, "a" * 64], "max_expiration_seconds": 90000}


@pytest.mark.parametrize(
    "news, changed, replaces",
    [
        (GOOD_ISSUER, [], []),
        ({**GOOD_ISSUER, "thumbprints": ["a" * 64, "b" * 64]}, [], []),
        ({**GOOD_ISSUER, "max_expiration_seconds": 90000}, [], []),
        ({**GOOD_ISSUER, "max_expiration_seconds": 3600}, ["max_expiration_seconds"], []),
        ({**GOOD_ISSUER, "thumbprints": ["a" * 64]}, ["thumbprints"], []),
        ({**GOOD_ISSUER, "name": "gh"}, ["name"], []),
        ({**GOOD_ISSUER, "url": "https://gitlab.com"}, ["url"], ["url"]),
        ({**GOOD_ISSUER, "organization": "other"}, ["organization"], ["organization"]),
        ({**GOOD_ISSUER, "url": Unknown()}, ["url"], ["url"]),
        ({**GOOD_ISSUER, "adopt": True}, [], []),
    ],
)
def test_issuer_diff_is_local_and_knows_what_is_no_change(news, changed, replaces):
    assert issuer.diff_props(OLD_OUTPUTS, news) == (changed, replaces)


# ------------------------------------------------------------------------------ policy check

GITHUB_POLICY = {
    "decision": "allow",
    "token_type": "team",
    "team_name": "platform",
    "rules": {
        "aud": "urn:pulumi:org:acme",
        "repository_owner_id": "1234",
        "sub": "repo:acme/infra:ref:refs/heads/main",
    },
}
GOOD_POLICY = {"organization": "acme", "issuer_id": "i-1", "policies": [GITHUB_POLICY]}
GITHUB_POLICY_WIRE = parse_policy(GITHUB_POLICY).to_wire()


def test_policy_check_normalizes_wire_keys_to_snake_case():
    wire = {"decision": "allow", "tokenType": "team", "teamName": "platform", "rules": GITHUB_POLICY["rules"]}
    inputs, found = issuer_policy.validate({**GOOD_POLICY, "policies": [wire]})
    assert found == []
    assert inputs["policies"][0]["token_type"] == "team"
    assert inputs["policies"][0]["authorized_permissions"] == []


@pytest.mark.parametrize(
    "change, prop, words",
    [
        ({"policies": []}, "policies", "at least one"),
        ({"policies": [{**GITHUB_POLICY, "team_name": None}]}, "policies[0].team_name", "required"),
        ({"policies": [{**GITHUB_POLICY, "rules": {"sub": "*"}}]}, "policies[0].rules.sub", "literal"),
        ({"policies": [GITHUB_POLICY] * 41}, "policies", "at most 40"),
        ({"issuer_id": ""}, "issuer_id", "required"),
        ({"lint_waivers": {"OIDC004": ""}}, "lint_waivers", "reason"),
        ({"issuer_url": "http://example.com"}, "issuer_url", "https"),
        ({"policy": []}, "policy", "unknown property"),
        ({"adopt": "yes"}, "adopt", "True or False"),
    ],
)
def test_policy_check_names_the_property_and_the_fix(change, prop, words):
    found = problems(issuer_policy.validate, {**GOOD_POLICY, **change})
    assert prop in found, found
    assert words in found[prop]


def test_policy_check_passes_unknown_policies_through():
    inputs, found = issuer_policy.validate({**GOOD_POLICY, "policies": Unknown(), "issuer_id": Unknown()})
    assert found == [] and isinstance(inputs["policies"], Unknown)


def test_policy_diff_order_matters_and_ids_replace():
    other = {**GITHUB_POLICY, "team_name": "security"}
    olds = {**GOOD_POLICY, "policies": [GITHUB_POLICY, other], "policy_id": "p", "version": 3}
    assert issuer_policy.diff_props(olds, {**GOOD_POLICY, "policies": [GITHUB_POLICY, other]}) == ([], [])
    assert issuer_policy.diff_props(olds, {**GOOD_POLICY, "policies": [other, GITHUB_POLICY]}) == (["policies"], [])
    assert issuer_policy.diff_props(olds, {**GOOD_POLICY, "issuer_id": "i-2", "policies": [GITHUB_POLICY, other]}) == (
        ["issuer_id"],
        ["issuer_id"],
    )


def test_changing_adopt_alone_is_no_change():
    olds = {**GOOD_POLICY, "adopt": True, "policy_id": "p", "version": 3}
    assert issuer_policy.diff_props(olds, {**GOOD_POLICY, "adopt": False}) == ([], [])


SERVICE_DEFAULT = [{"decision": "deny", "tokenType": "organization", "authorizedPermissions": [], "rules": {"sub": ""}}]
CONSOLE = [{"decision": "allow", "tokenType": "organization", "authorizedPermissions": None,
            "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/*"}}]


def refusal(found, desired, adopt=False):
    current = {"id": "p", "version": 7, "policies": found}
    return issuer_policy.takeover_refusal(current, organization="acme", issuer_id="i-1", desired=desired, adopt=adopt)


@pytest.mark.parametrize(
    "found",
    [SERVICE_DEFAULT, closed_policies("acme"), [GITHUB_POLICY_WIRE]],
    ids=["service-default", "closed", "the-same-document"],
)
def test_create_takes_over_the_default_closed_or_its_own_document(found):
    assert refusal(found, [GITHUB_POLICY_WIRE]) is None


def test_create_refuses_anything_else_unless_adopting_and_says_how_to_fix_it():
    message = refusal(CONSOLE, [GITHUB_POLICY_WIRE])
    for words in ("i-1", "'acme'", "version 7", "1 policy, 1 allow", "aliases", "adopt=True", "nothing was changed"):
        assert words in message, (words, message)
    assert refusal(closed_policies("other-org"), [GITHUB_POLICY_WIRE]) is not None, "another org's CLOSED"
    assert refusal(CONSOLE, [GITHUB_POLICY_WIRE], adopt=True) is None


def test_delete_closes_only_the_version_this_resource_wrote():
    assert issuer_policy.release_refusal({"version": 4}, {"version": 4}, "acme/i-1") is None
    message = issuer_policy.release_refusal({"version": 5}, {"version": 4}, "acme/i-1")
    assert "acme/i-1" in message and "version 5" in message and "version 4" in message and "\n" not in message
    assert issuer_policy.release_refusal({"version": 4}, {}, "acme/i-1") is not None, "no version known: never close"


@pytest.mark.parametrize(
    "read, answer, conflict",
    [
        (4, 5, None),  # the one write was this resource's
        (4, 6, (4, 6, 1)),  # someone wrote in between
        (4, 9, (4, 9, 1)),
        (4, 4, (4, 4, 1)),  # a service that stopped counting: reported, never taken as fine
        (4, None, None),  # no version to compare: nothing to say
        (None, 5, None),
        (4, "5", None),
        (True, 2, None),
    ],
)
def test_a_write_between_the_read_and_the_patch_shows_in_the_patch_answer(read, answer, conflict):
    assert issuer_policy.write_conflict({"version": read}, {"version": answer}) == conflict


SENT = closed_policies("acme")
OTHER = [{"decision": "allow", "tokenType": "team", "teamName": "intruder", "authorizedPermissions": [],
          "rules": {"aud": "urn:pulumi:org:acme", "sub": "system:serviceaccount:other:deployer"}}]  # fmt: skip


@pytest.mark.parametrize(
    "answer, policies, attempts, conflict",
    [
        (6, SENT, 2, None),  # the lost answer's write and the resend: both this stack's own
        (5, SENT, 2, None),  # the first send was not applied after all
        (7, SENT, 3, None),
        (7, SENT, 2, (4, 7, 2)),  # more versions than sends: someone else wrote
        (4, SENT, 2, (4, 4, 2)),  # fewer than one send: never fine
        (6, OTHER, 2, (4, 6, 1)),  # the service holds another document: the strict rule
        (6, SENT, 1, (4, 6, 1)),  # sent once: the strict rule
    ],
)
def test_a_resent_patch_counts_one_version_per_send_when_the_answer_holds_what_was_sent(
    answer, policies, attempts, conflict
):
    found = issuer_policy.write_conflict(
        {"version": 4}, {"version": answer, "policies": policies}, sent=SENT, attempts=attempts
    )
    assert found == conflict


def test_the_conflict_messages_name_both_versions_and_what_to_do():
    lost = issuer_policy.lost_write_message("i-1", issuer_policy.WriteConflict(4, 6))
    for words in ("i-1", "read version 4", "version 6, not 5", "replaced by this stack's policies", "`pulumi refresh`"):
        assert words in lost, words
    resent = issuer_policy.lost_write_message("i-1", issuer_policy.WriteConflict(4, 7, 2))
    assert "version 7, not 5 to 6" in resent and "sent it 2 times" in resent
    closed = issuer_policy.closed_someone_elses_message("acme/i-1", issuer_policy.WriteConflict(4, 6))
    for words in ("acme/i-1", "version 4", "version 6, not 5", "probably someone else's", "refuses every token",
                  "`pulumi refresh`"):  # fmt: skip
        assert words in closed, words
    assert "\n" not in lost + closed


# ------------------------------------------------------------------------------ settings


def config_of(values):
    return lambda key: values.get(key)


def test_settings_prefer_stack_config_then_env_then_cli_credentials(tmp_path):
    home = tmp_path / "pulumi-home"
    home.mkdir()
    (home / "credentials.json").write_text(
        json.dumps({"current": "https://api.example.test", "accessTokens": {"https://api.example.test": "pul-cli"}})
    )
    env = {"PULUMI_HOME": str(home), "PULUMI_ACCESS_TOKEN": "pul-env"}
    url = {"oidc:apiUrl": "https://api.example.test/"}
    s = settings.resolve(config_of({**url, "oidc:accessToken": "pul-config"}), env)
    assert (s.api_url, s.access_token) == ("https://api.example.test", "pul-config")
    assert settings.resolve(config_of(url), env).access_token == "pul-env"
    assert settings.resolve(config_of(url), {"PULUMI_HOME": str(home)}).access_token == "pul-cli"
    none = settings.resolve(config_of({}), {"PULUMI_HOME": str(home)})
    assert (none.api_url, none.access_token) == ("https://api.pulumi.com", None)
    assert "pul-" not in repr(s)


def test_settings_never_raise_on_a_broken_config():
    def broken(_key):
        raise RuntimeError("boom")

    assert settings.resolve(broken, {}).access_token is None


# ------------------------------------------------------------------------------ the pickle


@pytest.mark.parametrize("cls", [OidcIssuerProvider, OidcIssuerPolicyProvider])
def test_serialized_provider_is_a_small_reference_without_code_or_credentials(cls):
    provider = cls()
    provider._settings = settings.Settings("https://api.example.test", "pul-SECRET-TOKEN", "test")
    blob = serialize_provider(provider)
    raw = base64.b64decode(blob)
    assert len(blob) < 2048
    assert b"pul-SECRET" not in raw and b"api.example.test" not in raw
    assert b"co_code" not in raw and b"CodeType" not in raw  # by reference, not by value
    assert blob == SAVED_PROVIDERS[cls.__name__]


def test_saved_providers_unpickle_in_a_fresh_interpreter():
    code = (
        "import base64, sys, dill, json\n"
        "saved = json.loads(sys.argv[1])\n"
        "for name, blob in saved.items():\n"
        "    p = dill.loads(base64.b64decode(blob))\n"
        "    assert type(p).__name__ == name, type(p)\n"
        "    assert hasattr(p, 'check') and hasattr(p, 'configure')\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(SAVED_PROVIDERS)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
