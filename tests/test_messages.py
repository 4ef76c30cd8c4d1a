"""What the user is told: fixes phrased for where the user is (CLI flags, `pulumi config set`
keys, keyword arguments), lint rules that did not run said aloud, and a private cluster's keys
given through the trust bundle and the stack config."""

from __future__ import annotations

import asyncio
import logging

import pulumi
import pytest

from pulumi_oidc_trust.cli.main import main
from pulumi_oidc_trust.components import OidcTrust
from pulumi_oidc_trust.components.presets import GITHUB_ISSUER_URL, Grant, PresetError
from pulumi_oidc_trust.components.stack_config import StackConfigError, stack_arguments
from pulumi_oidc_trust.provider import OidcIssuer, OidcIssuerPolicy, issuer_policy, phrasing
from pulumi_oidc_trust.provider.lint import lint_issuer
from pulumi_oidc_trust.provider.wire import audience_for
from tests.test_stack import effective_values
from tests.test_trust import ISSUER, POLICY, build, check_failures, install

AUD = audience_for("acme")
PRIVATE_URL = "https://kubernetes.default.svc"
JWKS = {"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB" * 70, "e": "AQAB"}]}
THUMBPRINT = "a" * 64
# A GitHub allow without repository_owner_id: OIDC002 when the linter knows the issuer is GitHub.
NO_OWNER_ID = [{"decision": "allow", "token_type": "team", "team_name": "platform",
                "rules": {"aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main"}}]  # fmt: skip
# A deny that shadows the allow after it: OIDC013, an error.
SHADOWED = [
    {"decision": "deny", "token_type": "team", "team_name": "platform", "rules": {"aud": AUD, "sub": "repo:acme/*"}},
    {"decision": "allow", "token_type": "team", "team_name": "platform",
     "rules": {"aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "1"}},
]  # fmt: skip


def config_error(**values) -> str:
    with pytest.raises(StackConfigError) as caught:
        stack_arguments(effective_values({"organization": "acme", **values}), default_name="proj-dev")
    return str(caught.value)


# --------------------------------------------------------------------------------------------
# The phrasing table


def test_one_argument_is_spelled_for_each_place():
    assert phrasing.setting("python", "grant", "role_id", "deployer") == "role_id='deployer'"
    assert phrasing.setting("config", "grant", "role_id", "deployer") == "`pulumi config set grantRoleId deployer`"
    assert phrasing.setting("config", "*", "admin", True) == "`pulumi config set grantAdmin true`"
    assert phrasing.setting("cli", "render", "token", "projected") == "--token projected"
    assert phrasing.name("config", "github_actions", "ref") == "githubRef"
    assert phrasing.name("config", "gitlab", "ref") == "gitlabRef"
    assert phrasing.setting("config", "*", "lint_waivers", {"OIDC013": "why"}) == (
        "`pulumi config set --path lintWaivers.OIDC013 why`"
    )


def test_every_config_key_the_table_names_is_one_the_stack_reads():
    from pulumi_oidc_trust.components.stack_config import CONFIG_TYPES

    named = {key for table in phrasing.CONFIG_KEYS.values() for key in table.values()}
    assert named <= set(CONFIG_TYPES), named - set(CONFIG_TYPES)


def test_every_cli_flag_the_table_names_is_one_the_cli_takes():
    from pulumi_oidc_trust.cli.main import build_parser

    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command, flags in phrasing.CLI_FLAGS.items():
        known = {o for a in subcommands[command]._actions for o in a.option_strings}
        assert set(flags.values()) <= known, (command, set(flags.values()) - known)


# --------------------------------------------------------------------------------------------
# Item 3: each fix in the words of the place the user is in


def test_cli_render_tells_the_user_flags_not_keyword_arguments(capsys):
    code = main(["render", "--organization", "acme", "--token", "eks"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--service-account-annotation 'eks.amazonaws.com/role-arn=arn:aws:iam::" in err
    assert "--token projected" in err
    assert "service_account_annotations=" not in err and "token='projected'" not in err


def test_python_callers_still_get_keyword_arguments():
    with pytest.raises(PresetError, match=r"role_id='<custom role id>' \(least privilege\) or admin=True"):
        Grant.organization()


def test_stack_config_grant_error_names_config_keys():
    message = config_error(preset="github", githubOwner="acme", githubRepo="infra", githubOwnerId="1",
                           grantType="organization")  # fmt: skip
    assert message.startswith("config grantRoleId:")
    assert "`pulumi config set grantRoleId '<custom role id>'`" in message
    assert "`pulumi config set grantAdmin true`" in message
    assert "role_id=" not in message and "admin=True" not in message


def test_stack_config_runner_eks_error_names_the_role_arn_key():
    message = config_error(preset="kubernetes", issuerUrl="https://oidc.example.com", deployRunner=True,
                           runnerTeam="platform", runnerToken="eks")  # fmt: skip
    assert "config runnerToken:" in message
    assert "`pulumi config set runnerRoleArn 'arn:aws:iam::<account>:role/<role>'`" in message
    assert "service_account_annotations" not in message


def test_stack_config_policy_error_names_the_field_that_is_wrong():
    policy = {"decision": "allow", "token_type": "team", "team_name": "platform", "rules": {"aud": AUD, "sub": "*"}}
    message = config_error(preset="none", issuerUrl="https://oidc.example.com", policies=[policy])
    assert "policies[0].rules.sub" in message
    assert "pulumi config set --path 'policies[0].rules.sub'" in message
    assert "decision" not in message


def test_preview_tells_a_stack_config_user_the_waiver_key():
    inputs = dict(organization="acme", issuer_id="i-1", issuer_url=GITHUB_ISSUER_URL, policies=SHADOWED)
    python = " ".join(m for _, m in check_failures(inputs))
    config = " ".join(m for _, m in check_failures({**inputs, "fix_phrasing": "config"}))
    assert "lint_waivers={'OIDC013': '<reason>'}" in python
    assert "`pulumi config set --path lintWaivers.OIDC013 '<reason>'`" in config
    assert "lint_waivers=" not in config


def test_the_stack_asks_for_config_phrasing_and_the_trust_passes_it_on():
    arguments = stack_arguments(
        effective_values({"organization": "acme", "preset": "none", "issuerUrl": PRIVATE_URL, "policies": NO_OWNER_ID}),
        default_name="proj-dev",
    )
    assert arguments.fix_phrasing == "config"
    _trust, monitor = build(**arguments.trust_kwargs())
    assert monitor.one(ISSUER).inputs["fix_phrasing"] == monitor.one(POLICY).inputs["fix_phrasing"] == "config"


def test_fix_phrasing_is_no_change_for_diff():
    olds = dict(organization="acme", issuer_id="i-1", policies=NO_OWNER_ID, version=1)
    assert issuer_policy.diff_props(olds, {**olds, "fix_phrasing": "config"}) == ([], [])


# --------------------------------------------------------------------------------------------
# Item 1: issuer-specific rules run with issuer=, and say so when they cannot


def _warnings(caplog, program) -> str:
    with caplog.at_level(logging.WARNING):
        program()
    return "\n".join(r.getMessage() for r in caplog.records)


def test_policy_takes_issuer_and_lints_with_its_url(caplog):
    monitor = install()

    @pulumi.runtime.test
    def program():
        issuer = OidcIssuer("gh", organization="acme", url=GITHUB_ISSUER_URL)
        return OidcIssuerPolicy("gh-policy", issuer=issuer, policies=NO_OWNER_ID).urn

    err = _warnings(caplog, program)
    inputs = monitor.one(POLICY).inputs
    assert (inputs["organization"], inputs["issuer_id"], inputs["issuer_url"]) == ("acme", "issuer-1", GITHUB_ISSUER_URL)
    assert "OIDC008 warning" in err  # a GitHub owner-id rule ran: the linter knew the issuer
    assert "skipped" not in err
    tenantless = [{**NO_OWNER_ID[0], "rules": {"aud": AUD, "job_workflow_ref": "acme/d/.github/workflows/d.yml@refs/heads/main"}}]
    assert any("OIDC002" in m for _, m in check_failures({**inputs, "policies": tenantless}))


def test_policy_without_issuer_url_warns_which_rules_were_skipped(caplog):
    install()

    @pulumi.runtime.test
    def program():
        return OidcIssuerPolicy("p", organization="acme", issuer_id="i-1", policies=NO_OWNER_ID).urn

    err = _warnings(caplog, program)
    assert "issuer-specific lint rules skipped (OIDC002, OIDC008)" in err
    assert "issuer=<OidcIssuer>" in err


def test_policy_with_an_unknown_issuer_url_warns_which_rules_were_skipped(caplog):
    install()

    @pulumi.runtime.test
    def program():
        loop = asyncio.get_event_loop()
        value, known = loop.create_future(), loop.create_future()
        value.set_result(None)
        known.set_result(False)  # what an issuer's url is at preview when it comes from another resource
        unknown_url = pulumi.Output(set(), value, known)
        return OidcIssuerPolicy("p", organization="acme", issuer_id="i-1", issuer_url=unknown_url, policies=NO_OWNER_ID).urn

    assert "issuer-specific lint rules skipped (OIDC002, OIDC008)" in _warnings(caplog, program)


def test_policy_with_the_url_known_warns_nothing_skipped(caplog):
    install()

    @pulumi.runtime.test
    def program():
        return OidcIssuerPolicy("p", organization="acme", issuer_id="i-1", issuer_url=GITHUB_ISSUER_URL,
                                policies=NO_OWNER_ID).urn  # fmt: skip

    assert "skipped" not in _warnings(caplog, program)


# --------------------------------------------------------------------------------------------
# Item 2: a private cluster's keys through the bundle and the stack config


def test_trust_uploads_jwks_and_thumbprints_for_a_private_cluster():
    _trust, monitor = build(organization="acme", issuer_url=PRIVATE_URL, jwks=JWKS, thumbprints=[THUMBPRINT],
                            policies=NO_OWNER_ID)  # fmt: skip
    issuer = monitor.one(ISSUER).inputs
    assert issuer["jwks"] == JWKS and issuer["thumbprints"] == [THUMBPRINT]


def test_stack_config_takes_issuer_jwks_and_thumbprints():
    arguments = stack_arguments(
        effective_values({"organization": "acme", "preset": "none", "issuerUrl": PRIVATE_URL, "policies": NO_OWNER_ID,
                          "issuerJwks": JWKS, "issuerThumbprints": [THUMBPRINT]}),  # fmt: skip
        default_name="proj-dev",
    )
    assert arguments.jwks == JWKS and arguments.thumbprints == [THUMBPRINT]
    assert stack_arguments(
        effective_values({"organization": "acme", "preset": "none", "issuerUrl": PRIVATE_URL, "policies": NO_OWNER_ID}),
        default_name="proj-dev",
    ).thumbprints is None  # the declared default [] is "none"


@pytest.mark.parametrize("values, key", [({"issuerJwks": ["k"]}, "issuerJwks"), ({"issuerThumbprints": "ab"}, "issuerThumbprints")])
def test_stack_config_refuses_unusable_keys_by_name(values, key):
    message = config_error(preset="none", issuerUrl=PRIVATE_URL, policies=NO_OWNER_ID, **values)
    assert message.startswith(f"config {key}:") and "pulumi config set" in message


def test_private_cluster_warning_tells_each_place_how_to_upload_the_keys():
    (finding,) = [f for f in lint_issuer(PRIVATE_URL) if f.id == "OIDC025"]
    assert "`pulumi config set issuerJwks \"$(kubectl get --raw /openid/v1/jwks)\"`" in finding.fix_text("config")
    assert finding.fix_text("python").startswith("upload the issuer's public keys: jwks=")
    assert "--jwks FILE" in finding.fix_text("cli", "lint")


def test_the_docs_document_the_new_keys_and_arguments():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "docs" / "trust.md").read_text()
    table = readme.split("## Stack configuration", 1)[1].split("\n## ", 1)[0]
    assert "| issuerThumbprints |" in table and "| issuerJwks |" in table
    bundle = readme.split("## Trust bundles and presets: `OidcTrust`", 1)[1].split("\n## ", 1)[0]
    assert "jwks=" in bundle and "thumbprints=" in bundle
    assert 'OidcIssuerPolicy("github-policy", issuer=github' in readme


# --------------------------------------------------------------------------------------------
# Item 4: the exchange names the token and what is wrong with it


@pytest.mark.parametrize("how", ["missing file", "path without file://"])
def test_exchange_with_an_unreadable_token_names_the_token(capsys, tmp_path, how):
    existing = tmp_path / "token.jwt"
    existing.write_text("x")
    value = f"file://{tmp_path / 'nope.jwt'}" if how == "missing file" else str(existing)
    code = main(["exchange", "--oidc-token", value, "--api-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert "organization must be specified" not in err
    assert "Failed to read OIDC token" in err
    if how == "missing file":
        assert "nope.jwt" in err and "No such file" in err
    else:
        assert f"write 'file://{existing}'" in err


# -- simulate --token: a token's own times refuse it ----------------------------------------------


@pytest.mark.parametrize("times, words", [
    ({"exp": -3600}, "the token expired at"),
    ({"nbf": 3600, "exp": 7200}, "the token is not valid before"),
])
def test_simulate_reports_an_expired_or_not_yet_valid_token_as_refused(capsys, tmp_path, times, words):
    import json
    import time

    from pulumi_oidc_trust.emulator import TestIssuer, new_rsa_key

    now = int(time.time())
    claims = {"sub": "repo:acme/infra:ref:refs/heads/main", "aud": audience_for("acme")}
    token = TestIssuer("https://issuer.example.com", key=new_rsa_key()).mint(
        claims, **{k: now + v for k, v in times.items()})
    policies = tmp_path / "policies.json"
    policies.write_text(json.dumps([{"decision": "allow", "tokenType": "organization", "authorizedPermissions": [],
                                     "rules": claims}]))
    (tmp_path / "token.jwt").write_text(token)
    argv = ["simulate", "--policies", str(policies), "--token", f"file://{tmp_path / 'token.jwt'}"]

    assert main(argv) != 0
    text = capsys.readouterr().out
    assert text.startswith("REFUSED: " + words) and "UTC" in text and token not in text
    assert main([*argv, "--format", "json"]) != 0
    out = json.loads(capsys.readouterr().out)
    assert out["allowed"] is False and out["policies_allowed"] is True and words in out["refused_because"]
    # A fresh token with the same claims is allowed: the refusal is the token's times, not the policy.
    (tmp_path / "token.jwt").write_text(TestIssuer("https://issuer.example.com", key=new_rsa_key()).mint(claims))
    assert main(argv) == 0


def test_an_unquoted_yaml_number_in_a_rule_is_refused_with_quote_it():
    import yaml

    from pulumi_oidc_trust.provider.policy import PolicyError, parse_policies

    document = yaml.safe_load("- decision: allow\n  token_type: team\n  team_name: platform\n  rules:\n"
                              "    aud: urn:pulumi:org:acme\n    repository_owner_id: 1234567\n")
    with pytest.raises(PolicyError, match=r'policies\[0\]\.rules\.repository_owner_id: .*quote it: "1234567"'):
        parse_policies(document)


def test_render_names_the_trust_rule_its_job_needs_and_defaults_to_the_stacks_runner_name(capsys):
    import yaml as _yaml

    assert main(["render", "--organization", "acme", "--namespace", "ci"]) == 0
    out = capsys.readouterr().out
    assert "#   sub: system:serviceaccount:ci:pulumi-login\n#   aud: urn:pulumi:org:acme" in out
    kinds = [doc["kind"] for doc in _yaml.safe_load_all(out)]  # the comments keep it valid YAML
    assert kinds == ["ServiceAccount", "ConfigMap", "Job"]
    assert main(["render", "--organization", "acme", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "sub: system:serviceaccount:default:pulumi-login" in captured.err and captured.out.startswith("[")


def test_exchange_takes_format_text_and_never_prints_the_token(capsys, inproc_emulator):
    org = inproc_emulator.org
    inproc_emulator.trust_test_issuer(org)
    token = inproc_emulator.workload_token(org, sub="repo:acme/infra")
    assert main(["exchange", "--oidc-token", token, "--oidc-org", org, "--api-url", inproc_emulator.base_url,
                 "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"exchanged for an organization token of {org}") and "valid " in out
    assert "pul-" not in out and token not in out


# -- presets take ids that are outputs --------------------------------------------------------------


def _output(value, known: bool = True) -> pulumi.Output:
    loop = asyncio.get_event_loop()
    result, is_known = loop.create_future(), loop.create_future()
    result.set_result(value)
    is_known.set_result(known)
    return pulumi.Output(set(), result, is_known)


def test_a_preset_takes_an_output_id_and_builds_the_policy_when_it_is_known(caplog):
    from pulumi_oidc_trust.components.presets import github_actions

    install()
    seen = []

    @pulumi.runtime.test
    def program():
        policies = github_actions("acme", "infra", organization="acme", repository_owner_id=_output(1234567),
                                  repository_id=_output("7654321"), grant=Grant.team("platform"))
        assert len(policies) == 1 and isinstance(policies[0], pulumi.Output)
        return policies[0].apply(seen.append)

    err = _warnings(caplog, program)
    (policy,) = seen
    assert policy["rules"]["repository_owner_id"] == "1234567" and policy["rules"]["repository_id"] == "7654321"
    assert policy["rules"]["sub"] == "repo:acme/infra:ref:refs/heads/main" and policy["team_name"] == "platform"
    assert "not known yet" not in err


def test_an_unknown_output_id_at_preview_warns_which_rules_wait(caplog):
    from pulumi_oidc_trust.components.presets import github_actions

    install()

    @pulumi.runtime.test
    def program():
        policies = github_actions("acme", "infra", organization="acme", repository_owner_id=1234567,
                                  repository_id=_output(None, known=False), grant=Grant.team("platform"))
        return OidcIssuerPolicy("p", organization="acme", issuer_id="i-1", issuer_url=GITHUB_ISSUER_URL,
                                policies=policies).urn

    err = _warnings(caplog, program)
    assert "github_actions: repository_id is an output not known yet" in err and "OIDC002, OIDC008" in err


def test_the_other_arguments_of_a_preset_with_an_output_id_are_checked_at_once():
    from pulumi_oidc_trust.components.presets import github_actions

    install()
    with pytest.raises(PresetError, match="repo"):
        github_actions("acme", "not/a-repo", organization="acme", repository_owner_id=1,
                       repository_id=_output("7"), grant=Grant.team("platform"))


def test_oidc_trust_registers_a_preset_policy_built_from_an_output_id():
    from pulumi_oidc_trust.components.presets import github_actions

    monitor = install()

    @pulumi.runtime.test
    def program():
        return OidcTrust("trust", organization="acme", issuer_url=GITHUB_ISSUER_URL, policies=github_actions(
            "acme", "infra", organization="acme", repository_owner_id=1234567, repository_id=_output(7654321),
            grant=Grant.team("platform"))).policy.urn

    program()
    (registered,) = monitor.of_type(POLICY)
    (policy,) = registered.inputs["policies"]
    assert policy["rules"]["repository_id"] == "7654321"
    assert check_failures(registered.inputs) == []
