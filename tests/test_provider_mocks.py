"""The dynamic resources under ``pulumi.runtime.set_mocks``: what a program registers."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys

import pulumi
import pytest

from harness.dynamic_host import ROOT


class Recorder(pulumi.runtime.Mocks):
    def __init__(self):
        self.registered: dict[str, pulumi.runtime.MockResourceArgs] = {}
        self.reads: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered[args.name] = args
        if args.resource_id:
            self.reads.append(args)
            return [args.resource_id, {"url": "https://gitlab.com", "issuer_id": args.resource_id.split("/")[1]}]
        outs = dict(args.inputs)
        if args.typ.endswith("OidcIssuer"):
            outs.update(issuer_id="issuer-1", issuer=outs.get("url"))
            return [f"{outs['organization']}/issuer-1", outs]
        return [f"{outs.get('organization')}/{outs.get('issuer_id')}", {**outs, "policy_id": "p-1", "version": 2}]

    def call(self, args):
        return {}


@pytest.fixture
def mocks():
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="oidc-trust", stack="test", preview=False)
    return recorder


def plain(value):
    return pulumi.runtime.rpc.unwrap_rpc_secret(value) if isinstance(value, dict) else value


@pulumi.runtime.test
def test_resources_register_with_their_inputs_and_a_plain_provider_reference(mocks):
    from pulumi_oidc_trust.provider import OidcIssuer, OidcIssuerPolicy
    from pulumi_oidc_trust.provider.policy import Policy

    issuer = OidcIssuer("github", organization="acme", url="https://token.actions.githubusercontent.com",
                        max_expiration_seconds=3600)
    pol = OidcIssuerPolicy(
        "github-policy",
        organization="acme",
        issuer_id=issuer.issuer_id,
        issuer_url=issuer.url,
        policies=[
            Policy("allow", "team", {"aud": "urn:pulumi:org:acme", "repository_owner_id": "1",
                                      "sub": "repo:acme/infra:ref:refs/heads/main"}, team_name="platform"),
        ],
    )

    def verify(args):
        issuer_id, policy_id = args
        reg = mocks.registered["github"]
        assert reg.typ == "pulumi-python:dynamic/oidc:OidcIssuer"
        assert reg.inputs["organization"] == "acme"
        assert reg.inputs["name"] == "github"  # defaults to the resource name
        assert reg.inputs["max_expiration_seconds"] == 3600
        assert "thumbprints" not in reg.inputs  # None is not sent: the service keeps its own
        # Not secret: nothing secret is reachable from the provider, so state stays small.
        assert isinstance(reg.inputs["__provider"], str)
        preg = mocks.registered["github-policy"]
        assert preg.typ == "pulumi-python:dynamic/oidc:OidcIssuerPolicy"
        assert preg.inputs["issuer_id"] == "issuer-1"
        assert preg.inputs["policies"][0]["token_type"] == "team"
        assert preg.inputs["policies"][0]["team_name"] == "platform"
        assert issuer_id == "issuer-1" and policy_id == "p-1"

    return pulumi.Output.all(issuer.issuer_id, pol.policy_id).apply(verify)


@pulumi.runtime.test
def test_captured_provider_unpickles_in_a_fresh_interpreter_and_holds_no_credential(mocks, monkeypatch):
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-NEVER-IN-STATE")
    from pulumi_oidc_trust.provider import OidcIssuer

    issuer = OidcIssuer("gitlab", organization="acme", url="https://gitlab.com")

    def verify(_):
        blob = plain(mocks.registered["gitlab"].inputs["__provider"])
        raw = base64.b64decode(blob)
        assert b"pul-NEVER" not in raw and len(blob) < 2048
        code = (
            "import base64, sys, dill\n"
            "p = dill.loads(base64.b64decode(sys.argv[1]))\n"
            "print(type(p).__module__, type(p).__name__)\n"
        )
        out = subprocess.run([sys.executable, "-c", code, blob], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["pulumi_oidc_trust.provider.issuer", "OidcIssuerProvider"]

    return issuer.issuer_id.apply(verify)


@pulumi.runtime.test
def test_get_is_a_read_only_reference_by_id(mocks):
    from pulumi_oidc_trust.provider import OidcIssuer

    ref = OidcIssuer.get("existing", "acme/abc-123")

    def verify(args):
        url, issuer_id = args
        (read,) = mocks.reads
        assert read.resource_id == "acme/abc-123"
        assert "adopt" not in read.inputs and "name" not in read.inputs
        assert (url, issuer_id) == ("https://gitlab.com", "abc-123")

    return pulumi.Output.all(ref.url, ref.issuer_id).apply(verify)


def test_missing_required_arguments_fail_before_registering(mocks):
    from pulumi_oidc_trust.provider import OidcIssuer

    with pytest.raises(TypeError, match="url"):
        OidcIssuer("broken", organization="acme")
    assert "broken" not in mocks.registered


def test_lint_warnings_are_shown_at_preview_from_the_program_side(caplog):
    from pulumi_oidc_trust.provider import OidcIssuer, OidcIssuerPolicy

    pulumi.runtime.set_mocks(Recorder(), project="oidc-trust", stack="test", preview=True)

    @pulumi.runtime.test
    def program():
        issuer = OidcIssuer("local", organization="acme", url="http://127.0.0.1:8080/issuer")
        OidcIssuerPolicy(
            "local-policy", organization="acme", issuer_id="i-1",
            issuer_url="https://token.actions.githubusercontent.com",
            policies=[{"decision": "allow", "token_type": "team", "team_name": "platform",
                       "rules": {"aud": "urn:pulumi:org:acme", "repository_owner_id": "1",
                                 "sub": "repo:acme/site.io:ref:refs/heads/main"}}],
        )
        return issuer.urn

    with caplog.at_level(logging.WARNING):
        program()
    err = "\n".join(r.getMessage() for r in caplog.records)  # the engine's log, as mocks deliver it
    assert "OIDC017 warning" in err  # loopback http: local testing only
    assert "OIDC012 warning" in err  # the '.' in site.io is a one-character wildcard


@pytest.mark.parametrize("as_output", [False, True], ids=["plain inputs", "inputs as outputs"])
def test_the_one_resource_shows_issuer_and_policy_lint_warnings_from_the_program_side(caplog, as_output):
    """OidcIssuerWithPolicies lints its issuer and its policies against its own URL, whether the
    inputs are plain values (linted at once) or outputs (linted when they resolve)."""
    from pulumi_oidc_trust.provider import OidcIssuerWithPolicies

    pulumi.runtime.set_mocks(Recorder(), project="oidc-trust", stack="test", preview=True)
    wrap = pulumi.Output.from_input if as_output else (lambda value: value)

    @pulumi.runtime.test
    def program():
        both = OidcIssuerWithPolicies(
            "local", organization=wrap("acme"), url=wrap("http://127.0.0.1:8080/issuer"),
            policies=[{"decision": "allow", "token_type": "team", "team_name": "platform",
                       "rules": {"aud": "urn:pulumi:org:acme", "sub": wrap("repo:acme/site.io:ref:refs/heads/main")}}],
        )
        return both.urn

    with caplog.at_level(logging.WARNING):
        program()
    err = "\n".join(r.getMessage() for r in caplog.records)
    assert "OIDC017 warning" in err  # the issuer's rule: loopback http
    assert "OIDC012 warning" in err  # the policy's rule: the '.' in site.io


@pytest.mark.parametrize("as_output", [False, True], ids=["plain inputs", "inputs as outputs"])
def test_the_one_resources_lint_waivers_silence_its_issuer_warnings_too(caplog, as_output):
    """``lint_waivers`` of OidcIssuerWithPolicies cover the issuer's lint warnings as well as the
    policies' (the bench and local stacks use loopback http issuers on purpose); a waiver with no
    reason waives nothing, and check names it."""
    from pulumi_oidc_trust.provider import OidcIssuerWithPolicies

    wrap = pulumi.Output.from_input if as_output else (lambda value: value)
    policies = [{"decision": "allow", "token_type": "team", "team_name": "platform",
                 "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/site.io:ref:refs/heads/main"}}]

    def run(waivers):
        caplog.clear()
        pulumi.runtime.set_mocks(Recorder(), project="oidc-trust", stack="test", preview=True)

        @pulumi.runtime.test
        def program():
            return OidcIssuerWithPolicies("local", organization=wrap("acme"), url=wrap("http://127.0.0.1:8080/issuer"),
                                          policies=policies, lint_waivers=waivers).urn

        with caplog.at_level(logging.WARNING):
            program()
        return "\n".join(r.getMessage() for r in caplog.records)

    waived = run({"OIDC017": "the local emulator serves plain http"})
    assert "OIDC017" not in waived and "OIDC012 warning" in waived  # only the waived rule is silent
    assert "OIDC017 warning" in run({"OIDC017": " "})  # no reason: not usable, nothing waived


def test_an_issuers_lint_waivers_silence_its_warnings_in_the_program_and_stay_out_of_the_state(caplog):
    """``OidcIssuer(lint_waivers=...)`` silences the waived issuer warning only, and is the
    program's: nothing of it is registered (the state never holds it, so changing it changes
    nothing on the service). ``OidcTrust`` gives its waivers to its issuer too."""
    from pulumi_oidc_trust import OidcTrust
    from pulumi_oidc_trust.provider import OidcIssuer

    local = "http://127.0.0.1:8080/issuer"
    allow = [{"decision": "allow", "token_type": "team", "team_name": "platform",
              "rules": {"aud": "urn:pulumi:org:acme", "sub": "ci"}}]

    def run(build):
        caplog.clear()
        recorder = Recorder()
        pulumi.runtime.set_mocks(recorder, project="oidc-trust", stack="test", preview=True)

        @pulumi.runtime.test
        def program():
            return build().urn

        with caplog.at_level(logging.WARNING):
            program()
        return "\n".join(r.getMessage() for r in caplog.records), recorder

    waived = {"OIDC017": "a local issuer over loopback http"}
    err, _ = run(lambda: OidcIssuer("plain", organization="acme", url=local))
    assert "OIDC017 warning" in err
    err, recorder = run(lambda: OidcIssuer("waived", organization="acme", url=local, max_expiration_seconds=90000,
                                           lint_waivers=waived))
    assert "OIDC017" not in err and "OIDC016 warning" in err  # only the waived rule is silent
    assert not any("lint_waivers" in args.inputs or "OIDC017" in str(args.inputs)
                   for args in recorder.registered.values())
    err, _ = run(lambda: OidcTrust("trust", organization="acme", issuer_url=local, policies=allow,
                                   lint_waivers=waived))
    assert "OIDC017" not in err


def test_an_unusable_issuer_waiver_is_refused_before_anything_is_registered(mocks):
    from pulumi_oidc_trust.provider import OidcIssuer

    with pytest.raises(ValueError, match=r"lint_waivers: .*'OIDC17'.*did you mean OIDC017"):
        OidcIssuer("typo", organization="acme", url="https://issuer.example.com", lint_waivers={"OIDC17": "x"})
    with pytest.raises(ValueError, match=r"lint_waivers: .*has no reason"):
        OidcIssuer("empty", organization="acme", url="https://issuer.example.com", lint_waivers={"OIDC017": ""})
    with pytest.raises(ValueError, match=r"lint_waivers: must be a dict"):
        OidcIssuer("list", organization="acme", url="https://issuer.example.com", lint_waivers=["OIDC017"])
    assert not {"typo", "empty", "list"} & set(mocks.registered)
