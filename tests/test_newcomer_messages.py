"""The messages a new user met (issue 26), as the user now reads them. Each test shows the text,
and fails on the wording that was there before (quoted in its docstring)."""

from __future__ import annotations

import time

import pytest
import yaml

from pulumi_oidc_trust.emulator import TestIssuer
from pulumi_oidc_trust.provider.client import PulumiCloudClient, PulumiCloudError
from pulumi_oidc_trust.provider.wire import audience_for

from tests.test_cli import run  # in-process oidc-trust, argparse exits included

AUD = audience_for("acme")
SUB = "repo:acme/infra:ref:refs/heads/main"


@pytest.fixture
def team_policy(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump([{"decision": "allow", "token_type": "team", "team_name": "platform",
                                     "rules": {"aud": AUD, "sub": "repo:acme/infra:*"}}]))
    return str(path)


@pytest.fixture
def claims(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"sub": SUB, "aud": AUD}))
    return str(path)


# -- simulate and claims ---------------------------------------------------------------------------


def test_a_misspelt_team_reads_value_first_then_the_policys_pattern(capsys, team_policy, claims):
    """Before: ``team_name 'platform' does not match 'platfrom'`` (pattern first, unlike a claim's line)."""
    code, out, _ = run(capsys, "simulate", "--policies", team_policy, "--claims", claims, "--team", "platfrom")
    assert code == 1
    assert ("policy 0: allow team token for 'platform' -> does not apply: "
            "the requested team 'platfrom' does not match team_name 'platform'") in out, out


def test_an_organization_request_shows_no_empty_scope(capsys, team_policy, claims):
    """Before: ``request: organization token (scope '')``."""
    _, out, _ = run(capsys, "simulate", "--policies", team_policy, "--claims", claims)
    assert "request: organization token\n" in out and "scope ''" not in out, out
    _, out, _ = run(capsys, "simulate", "--policies", team_policy, "--claims", claims, "--team", "platform")
    assert "request: team token for 'platform' (scope 'team:platform')" in out


def test_an_expired_token_gets_one_verdict(capsys, team_policy, tmp_path):
    """Before: ``REFUSED: the token expired ...`` and then an ``ALLOWED by policy 0`` heading."""
    now = int(time.time())
    token = TestIssuer("https://issuer.example").mint({"sub": SUB, "aud": AUD, "iat": now - 700, "exp": now - 100})
    code, out, _ = run(capsys, "simulate", "--policies", team_policy, "--token", token, "--team", "platform")
    assert code == 1
    first, second = out.splitlines()[:2]
    assert first.startswith("REFUSED: the token expired at ") and first.endswith("whatever the policies say")
    assert second == ("for a fresh token with these claims the policies would answer: "
                      "ALLOWED by policy 0 (allow team token for 'platform')"), out
    assert not any(line.startswith("ALLOWED") for line in out.splitlines())


def test_claims_says_ago_for_a_time_just_past(capsys):
    """Before: ``iat: ... (in 0 s)`` for a time a fraction of a second ago."""
    issued = time.time() - 0.5
    token = TestIssuer("https://issuer.example").mint({"sub": SUB, "aud": AUD, "iat": int(issued)})
    _, out, _ = run(capsys, "claims", token)
    (iat,) = [line for line in out.splitlines() if line.startswith("iat: ")]
    assert iat.endswith(" ago)") or iat.endswith("(now)"), iat
    assert "(in 0 s)" not in out


# -- the Pulumi Cloud client -----------------------------------------------------------------------


def test_without_a_credential_nothing_is_sent_and_the_message_does_not_say_no_answer():
    """Before: ``list OIDC issuers: no answer: no Pulumi access token; ...`` although nothing was sent."""
    with PulumiCloudClient("http://127.0.0.1:9", None) as client, pytest.raises(PulumiCloudError) as caught:
        client.list_issuers("acme")
    assert str(caught.value) == (
        "list OIDC issuers: no Pulumi access token; give one of: `pulumi config set --secret oidc:accessToken "
        "<token>`, the PULUMI_ACCESS_TOKEN environment variable, or `pulumi login` (stored CLI credentials)"
    )


def test_a_wrong_port_names_the_url_and_the_fix_not_urllib3s_text(capsys, monkeypatch, tmp_path):
    """Before: ``list OIDC issuers: no answer: ConnectionError: HTTPConnectionPool(host='127.0.0.1',
    port=9): Max retries exceeded with url: ... (Caused by NewConnectionError(...))``."""
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-" + "0" * 40)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path))
    from pulumi_oidc_trust.provider import client as client_mod

    fast = client_mod.RetryBudget(attempts=1, backoff_factor=0, jitter=0)
    monkeypatch.setattr(client_mod, "RetryBudget", lambda: fast)  # no backoff in a unit test
    code, out, err = run(capsys, "audit", "--org", "acme", "--api-url", "http://127.0.0.1:9")
    assert code == 2 and out == ""
    assert err == (
        "oidc-trust audit: error: list OIDC issuers: nothing answers at http://127.0.0.1:9 (connection refused); "
        "check the API URL (oidc:apiUrl, --api-url or OIDC_TRUST_API_URL) and that the service runs there; "
        "nothing was read from organization 'acme'\n"
    ), err


# -- inputs: waivers, YAML, files ------------------------------------------------------------------


def test_a_lower_case_waiver_gets_the_rule_it_meant_written_as_a_flag(capsys, team_policy):
    """Before: ``lint waiver 'oidc004' names no lint rule; use one of the catalog ids (...), e.g.
    {'OIDC012': 'repository name has a dot'}`` (a Python dict, no suggestion)."""
    code, _, err = run(capsys, "lint", "--policies", team_policy, "--waive", "oidc004=reviewed")
    assert code == 2
    assert err == ("oidc-trust lint: error: --waive: lint waiver 'oidc004' names no lint rule; did you mean OIDC004? "
                   "write --waive OIDC004=reviewed\n"), err
    _, _, err = run(capsys, "lint", "--policies", team_policy, "--waive", "OIDC999=x")
    assert err.endswith("e.g. --waive 'OIDC012=repository name has a dot'\n") and "{" not in err, err


def test_a_stack_waiver_is_fixed_in_stack_config_words():
    from pulumi_oidc_trust.provider.lint.catalog import check_waivers

    (problem,) = check_waivers({"oidc013": "shadowed on purpose"}, "config")
    assert problem.endswith("did you mean OIDC013? write `pulumi config set --path lintWaivers.OIDC013 "
                            "'shadowed on purpose'`"), problem


def test_a_tab_in_yaml_is_named(capsys, claims, tmp_path):
    """Before: ``policies file '...' is neither JSON nor YAML (line 5); fix its syntax``."""
    path = tmp_path / "policies.yaml"
    path.write_text("- decision: allow\n  token_type: team\n  team_name: platform\n  rules:\n\taud: x\n")
    code, _, err = run(capsys, "simulate", "--policies", str(path), "--claims", claims)
    assert code == 2
    assert err == (f"oidc-trust simulate: error: policies file '{path}' is neither JSON nor YAML (line 5): line 5 "
                   "holds a tab; YAML indents with spaces only: replace each tab with spaces\n"), err


def test_a_missing_token_file_says_what_to_do(capsys, team_policy, tmp_path):
    """Before: ``reading token from file '...': No such file or directory`` and nothing more."""
    code, _, err = run(capsys, "simulate", "--policies", team_policy, "--token", f"file://{tmp_path}/token.jwt")
    assert code == 2
    assert err.startswith(f"oidc-trust simulate: error: --token: reading token from file '{tmp_path}/token.jwt': "
                          "No such file or directory; write the token to that file first, or give the path of the "
                          "file that holds it"), err


def test_a_missing_emulator_token_file_says_what_to_do(tmp_path):
    """Before: ``emulator: cannot start: ValueError: --access-token-file '...': No such file or directory``."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pulumi_oidc_trust.emulator", "--access-token-file",
                           str(tmp_path / "admin-token")], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (f"emulator: cannot start: --access-token-file '{tmp_path}/admin-token': No such file or "
                           "directory; write the admin token to that file first (readable by you only), or set "
                           "PULUMI_EMULATOR_ACCESS_TOKEN; or run `oidc-trust emulator`, which makes and keeps one\n")


# -- exchange --------------------------------------------------------------------------------------


@pytest.fixture
def cloud(inproc_emulator):
    issuer = inproc_emulator.trust_test_issuer("acme")
    inproc_emulator.set_policies(issuer["id"], [
        {"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
         "rules": {"aud": AUD, "sub": SUB}}], "acme")
    return inproc_emulator


@pytest.mark.parametrize("claims, flags, hint", [
    ({"sub": "repo:acme/other:ref:refs/heads/main", "aud": AUD}, ["--oidc-team", "platform"],
     "to see which policy refused it: oidc-trust simulate --policies FILE --token <the same token>"),
    ({"sub": SUB, "aud": "https://other.example"}, [],
     "the token's aud must contain urn:pulumi:org:ORG for --oidc-org ORG"),
    ({"sub": SUB, "aud": AUD, "iss": "https://elsewhere.example"}, [],
     "the organization trusts no issuer at the token's iss"),
])
def test_exchange_hints_follow_the_cause(capsys, cloud, claims, flags, hint):
    """Before: every refusal ended with ``to see which policy refused it: oidc-trust simulate ...``."""
    token = cloud.mint(claims)
    code, out, err = run(capsys, "exchange", "--oidc-token", token, "--oidc-org", "acme", *flags,
                         "--api-url", cloud.base_url)
    assert code == 1 and out == ""
    refusal, advice = err.splitlines()
    assert refusal.startswith("oidc-trust exchange: token exchange failed (400 invalid_grant): ")
    assert advice.startswith(f"oidc-trust exchange: {hint}"), err
    assert ("simulate" in advice) == ("policy" in hint)


def test_exchange_with_a_list_aud_asks_for_oidc_org(capsys, cloud):
    """Before: the help said the organization defaults to the token's aud, and a list aud failed
    with ``organization must be specified for token exchange`` and nothing more."""
    token = cloud.mint({"sub": SUB, "aud": [AUD, "https://other"]})
    code, _, err = run(capsys, "exchange", "--oidc-token", token, "--api-url", cloud.base_url)
    assert code == 2
    assert err == ("oidc-trust exchange: error: organization must be specified for token exchange (give --oidc-org "
                   "ORG: it is read from the token only when its aud is the one value urn:pulumi:org:ORG, as the "
                   "Pulumi CLI reads it)\n"), err
    code, out, _ = run(capsys, "exchange", "--oidc-token", token, "--oidc-org", "acme", "--oidc-team", "platform",
                       "--api-url", cloud.base_url, "--format", "text")
    assert code == 0 and out.startswith("exchanged for a team token of acme"), out


# -- render ----------------------------------------------------------------------------------------


def test_render_takes_org_like_every_command_and_keeps_organization_hidden(capsys):
    """Before: render alone said ``--organization``, and ``--format text`` printed the YAML again."""
    code, new, _ = run(capsys, "render", "--org", "acme")
    assert code == 0
    code, old, _ = run(capsys, "render", "--organization", "acme", "--format", "text")
    assert code == 0 and old == new  # the old spellings still work
    from pulumi_oidc_trust.cli.main import build_parser

    (render,) = [a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "render"]
    usage = render[1].format_help()
    assert "--org ORG" in usage and "--organization" not in usage and "text" not in usage.split("--format")[1][:40]
    code, _, err = run(capsys, "render")
    assert code == 2 and err == "oidc-trust render: error: give --org ORG, the Pulumi organization the runner logs in to\n"


def test_render_and_preview_say_nothing_of_the_projects_own_default_image(capsys):
    """Before: ``OIDC041 warning runner image 'pulumi/pulumi:3.272.0' is a tag without a digest`` on
    every render and preview, for an image the user never chose."""
    code, _, err = run(capsys, "render", "--org", "acme")
    assert code == 0 and "OIDC041" not in err
    code, _, err = run(capsys, "render", "--org", "acme", "--image", "registry.example.com/pulumi:v1")
    assert code == 0 and "OIDC041 warning" in err


def test_the_rules_schema_error_gives_an_example_the_linter_accepts():
    """Before: ``must map at least one claim path to a pattern, e.g. {'sub': 'repo:acme/infra:*'}``,
    an example that is itself an OIDC005 error (any branch may mint the token)."""
    import ast

    from pulumi_oidc_trust.provider.lint import lint_policies
    from pulumi_oidc_trust.provider.policy import PolicyError, parse_policies

    with pytest.raises(PolicyError) as caught:
        parse_policies([{"decision": "allow", "tokenType": "team", "teamName": "platform", "rules": {}}])
    (message,) = [m for _, m in caught.value.problems if "e.g." in m]
    example = ast.literal_eval(message.split("e.g. ", 1)[1])
    policies = parse_policies([{"decision": "allow", "tokenType": "team", "teamName": "platform", "rules": example}])
    findings = lint_policies(policies, organization="acme")
    assert [f.id for f in findings if f.severity == "error"] == [], findings


# -- pulumi up: a provider error is one message, first ---------------------------------------------


def test_a_refused_create_reaches_the_engine_with_its_message_and_fix_first(emulator):
    """Before: ``Traceback (most recent call last):`` and ~10 lines of frames, the message last.
    The SDK's host always sends a traceback (README "Your own stack"), so the message comes first."""
    from harness.dynamic_host import DynamicProviderHost, EngineError, Resource, rpc
    from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider

    wrong = "pul-" + "1" * 40
    with DynamicProviderHost({"oidc:apiUrl": emulator.base_url, "oidc:accessToken": rpc.wrap_rpc_secret(wrong)}) as host:
        issuer = Resource(host, OidcIssuerProvider(), "dynamic/oidc:OidcIssuer", "ci")
        with pytest.raises(EngineError) as refused:
            issuer.create({"organization": "acme", "url": emulator.test_issuer_url, "name": "ci"})
    first = refused.value.details.splitlines()[0]
    assert first == (
        "pulumi_oidc_trust.provider.base.ProviderError: list OIDC issuers: 401: Unauthorized: No credentials "
        "provided or are invalid.; the service did not accept the access token: give an organization admin's token "
        "with `pulumi config set --secret oidc:accessToken <token>` (or PULUMI_ACCESS_TOKEN, or `pulumi login` to "
        "that API URL)"
    ), refused.value.details
    assert wrong not in refused.value.details


def test_waived_lint_errors_are_one_info_line_at_preview(caplog):
    """Before: a waived error said nothing at preview; a reviewer could not see what was accepted."""
    import logging

    import pulumi

    from pulumi_oidc_trust.components.presets import GITHUB_ISSUER_URL
    from pulumi_oidc_trust.provider import OidcIssuer, OidcIssuerPolicy
    from tests.test_trust import install

    install()
    broad = [{"decision": "allow", "token_type": "team", "team_name": "platform",
              "rules": {"aud": AUD, "sub": "repo:acme/*", "repository_owner_id": "1"}}]

    @pulumi.runtime.test
    def program():
        issuer = OidcIssuer("gh", organization="acme", url=GITHUB_ISSUER_URL)
        return OidcIssuerPolicy("gh-policy", issuer=issuer, policies=broad,
                                lint_waivers={"OIDC004": "every repository of acme deploys"}).urn

    with caplog.at_level(logging.INFO):
        program()
    lines = [r.getMessage() for r in caplog.records if "waived" in r.getMessage()]
    assert lines == ["lint errors waived (1): OIDC004 (every repository of acme deploys)"], lines


def test_a_document_version_from_state_reads_as_the_service_writes_it():
    """Before: ``this resource wrote version 3.0`` (state keeps numbers as floats)."""
    from pulumi_oidc_trust.provider.issuer_policy import release_refusal

    message = release_refusal({"version": 5}, {"version": 3.0}, "acme/i-1")
    assert "the service holds version 5, this resource wrote version 3; " in message, message
    assert "3.0" not in message


# -- make demo noise -------------------------------------------------------------------------------


def test_building_the_package_prints_no_license_deprecation_block(tmp_path):
    """Before: every build (``make venv``, ``pip install`` of the path) printed setuptools'
    ``project.license as a TOML table is deprecated`` block, ~15 lines, three times."""
    import subprocess
    import sys

    from tests.test_package import source_copy

    source = source_copy(tmp_path / "source")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path / "out"), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert "deprecated" not in build.stdout + build.stderr, build.stderr
