"""A local Pulumi Cloud in one command: ``oidc-trust emulator`` (a generated admin token stored
0600, the lines to paste), ``OIDC_TRUST_API_URL`` (after ``--api-url`` / ``oidc:apiUrl``, never
``PULUMI_BACKEND_URL``), ``oidc-trust token`` (test-issuer tokens with chosen claims, into a file)
and ``audit --show-policies`` (what the service holds)."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from pulumi_oidc_trust.provider import settings
from pulumi_oidc_trust.provider.wire import DEFAULT_API_URL, audience_for

from . import audit_seed
from .conftest import ROOT, allow_policy

from tests.test_cli import run  # in-process oidc-trust, argparse exits included

JWT = re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}\.")


# -- OIDC_TRUST_API_URL: one order, for the provider and every command ----------------------------


def test_the_provider_takes_the_api_url_from_config_then_oidc_trust_api_url_never_pulumi_backend_url():
    env = {"OIDC_TRUST_API_URL": "http://127.0.0.1:8484", "PULUMI_BACKEND_URL": "file:///tmp/state",
           "PULUMI_ACCESS_TOKEN": "pul-abc"}
    config = {"oidc:apiUrl": "http://127.0.0.1:9999"}
    assert settings.resolve(config.get, env).api_url == "http://127.0.0.1:9999"
    assert settings.resolve({}.get, env).api_url == "http://127.0.0.1:8484"
    no_env = {k: v for k, v in env.items() if k != "OIDC_TRUST_API_URL"}
    assert settings.resolve({}.get, no_env).api_url == DEFAULT_API_URL  # PULUMI_BACKEND_URL is not read


def test_an_unusable_oidc_trust_api_url_is_named_by_the_provider_and_the_cli(capsys, monkeypatch):
    resolved = settings.resolve({}.get, {"OIDC_TRUST_API_URL": "http://example.com"})
    assert resolved.api_url_problem.startswith("OIDC_TRUST_API_URL: ")
    monkeypatch.setenv("OIDC_TRUST_API_URL", "http://example.com")
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-abc")
    code, out, err = run(capsys, "audit", "--org", "acme")
    assert code == 2 and out == ""
    assert err.startswith("oidc-trust audit: error: OIDC_TRUST_API_URL: 'http://example.com'"), err
    assert "give --api-url URL" in err


def test_audit_and_exchange_honour_oidc_trust_api_url_after_api_url(capsys, monkeypatch, inproc_emulator, tmp_path):
    audit_seed.seed_inproc(inproc_emulator)
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", inproc_emulator.access_token)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.setenv("OIDC_TRUST_API_URL", inproc_emulator.base_url)
    code, out, _ = run(capsys, "audit", "--org", audit_seed.ORG)
    assert out.startswith(f"organization {audit_seed.ORG}: 5 issuer(s)"), out
    # --api-url comes first: a port nobody listens on fails, although the variable is right.
    code, out, err = run(capsys, "audit", "--org", audit_seed.ORG, "--api-url", "http://127.0.0.1:9")
    assert code == 2 and "127.0.0.1:9" in err

    issuer = inproc_emulator.trust_test_issuer("acme")
    inproc_emulator.set_policies(issuer["id"], [allow_policy("acme", sub="repo:acme/infra:*")], "acme")
    token = inproc_emulator.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": audience_for("acme")})
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN")
    code, out, err = run(capsys, "exchange", "--oidc-token", token, "--oidc-org", "acme", "--format", "text")
    assert code == 0, err
    assert out.startswith("exchanged for an organization token of acme"), out


# -- oidc-trust token ------------------------------------------------------------------------------


def test_token_writes_a_test_issuer_token_with_the_claims_asked_for_into_a_private_file(capsys, monkeypatch,
                                                                                         inproc_emulator, tmp_path):
    monkeypatch.setenv("OIDC_TRUST_API_URL", inproc_emulator.base_url)
    out_file = tmp_path / "token.jwt"
    code, out, err = run(capsys, "token", "--sub", "repo:acme/infra:ref:refs/heads/main", "--org", "acme",
                         "--claim", "repository_owner_id=1234567", "--claim", "groups:=[\"ci\", \"ops\"]",
                         "--claim", "run_attempt:=2", "--out", str(out_file))
    assert code == 0, err
    token = out_file.read_text().strip()
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert token not in out + err and not JWT.search(out + err)
    jwks = requests.get(inproc_emulator.base_url + "/test-issuer/jwks", timeout=5).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=audience_for("acme"),
                        issuer=inproc_emulator.base_url + "/test-issuer")
    assert claims["sub"] == "repo:acme/infra:ref:refs/heads/main"
    assert claims["repository_owner_id"] == "1234567" and claims["groups"] == ["ci", "ops"]
    assert claims["run_attempt"] == 2 and 0 < claims["exp"] - time.time() <= 600
    # What to run next, with the file as the CLI takes it.
    assert f"pulumi login {inproc_emulator.base_url} --oidc-token file://{out_file} --oidc-org acme" in out


@pytest.mark.parametrize("argv, expected", [
    (["--org", "acme"], "give --sub SUBJECT"),
    (["--sub", "x", "--claim", "aud"], "--claim 'aud': write NAME=TEXT, or NAME:=JSON"),
    (["--sub", "x", "--claim", "n:=[1,"], "after ':=' comes JSON"),
    (["--sub", "x", "--org", "acme", "--claim", "aud=y"], "give --org or --claim aud=..., not both"),
])
def test_token_input_errors_name_the_flag_and_the_fix(capsys, monkeypatch, inproc_emulator, tmp_path, argv, expected):
    monkeypatch.setenv("OIDC_TRUST_API_URL", inproc_emulator.base_url)
    code, out, err = run(capsys, "token", *argv, "--out", str(tmp_path / "t.jwt"))
    assert code == 2 and expected in err, err
    assert not (tmp_path / "t.jwt").exists()


def test_token_never_asks_pulumi_cloud_and_says_where_an_emulator_is_missing(capsys, monkeypatch, tmp_path):
    code, _, err = run(capsys, "token", "--sub", "x", "--out", str(tmp_path / "t.jwt"))
    assert code == 2 and "give --api-url URL or set OIDC_TRUST_API_URL" in err, err
    code, _, err = run(capsys, "token", "--sub", "x", "--out", str(tmp_path / "t.jwt"), "--api-url", "http://127.0.0.1:9")
    assert code == 2 and "no emulator answers at http://127.0.0.1:9" in err and "oidc-trust emulator" in err, err
    assert "Max retries" not in err


# -- audit --show-policies -------------------------------------------------------------------------


def test_audit_show_policies_lists_each_issuers_policies_and_rules(capsys, monkeypatch, inproc_emulator, tmp_path):
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", inproc_emulator.access_token)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    issuer = inproc_emulator.trust_test_issuer("acme")
    inproc_emulator.set_policies(issuer["id"], [
        {"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
         "rules": {"aud": audience_for("acme"), "sub": "repo:acme/infra:ref:refs/heads/main"}},
    ], "acme")
    code, plain, _ = run(capsys, "audit", "--org", "acme", "--api-url", inproc_emulator.base_url)
    assert "policy 0" not in plain  # counts only, as before
    code, out, _ = run(capsys, "audit", "--org", "acme", "--api-url", inproc_emulator.base_url, "--show-policies")
    assert ("  document: 1 policy, version 3\n"
            "  policy 0: allow team token for 'platform'\n"
            "      aud: urn:pulumi:org:acme\n"
            "      sub: repo:acme/infra:ref:refs/heads/main\n") in out, out


# -- oidc-trust emulator ---------------------------------------------------------------------------


def _start(folder: Path, home: Path) -> tuple[subprocess.Popen, list[str]]:
    """``oidc-trust emulator --port 0``; returns once it has printed the lines to paste."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi_oidc_trust.cli", "emulator", "--port", "0", "--dir", str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
    )
    lines: list[str] = []
    while not any(line.startswith("  PULUMI_ACCESS_TOKEN=") for line in lines):
        line = process.stdout.readline()  # the test's timeout bounds this
        assert line, (lines, process.wait(), process.stderr.read())
        lines.append(line.rstrip("\n"))
    return process, lines


def _stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = process.communicate(timeout=20)
    return process.returncode, out + err


def test_emulator_runs_until_ctrl_c_with_a_private_token_and_prints_the_lines_to_paste(tmp_path):
    folder = tmp_path / "emulator"
    process, lines = _start(folder, tmp_path)
    try:
        url = re.search(r"export OIDC_TRUST_API_URL=(\S+)", "\n".join(lines)).group(1)
        token_file = folder / "admin-token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / "test-issuer-key.pem").stat().st_mode) == 0o600
        text = "\n".join(lines)
        assert token not in text
        assert 'pulumi config set oidc:apiUrl "$OIDC_TRUST_API_URL"' in text
        # Under the home folder, the paths are written as a person writes them.
        assert "pulumi config set --secret oidc:accessToken < ~/emulator/admin-token" in text
        assert f"{url}/test-issuer" in text
        # The token it made is the admin token of the emulator that runs.
        issuer = requests.post(f"{url}/api/orgs/acme/oidc/issuers", json={"name": "ci", "url": f"{url}/test-issuer"},
                               headers={"Authorization": f"token {token}"}, timeout=5)
        assert issuer.status_code == 200, issuer.text
    finally:
        code, rest = _stop(process)
    assert code == 0 and "stopped; its state stays in" in rest, rest

    # Started again: the same token, the same state (the issuer is still there).
    process, lines = _start(folder, tmp_path)
    try:
        url = re.search(r"export OIDC_TRUST_API_URL=(\S+)", "\n".join(lines)).group(1)
        listed = requests.get(f"{url}/api/orgs/acme/oidc/issuers", headers={"Authorization": f"token {token}"}, timeout=5)
        assert [i["name"] for i in listed.json()["oidcIssuers"]] == ["ci"]
    finally:
        _stop(process)


def test_emulator_on_a_port_in_use_says_so_and_the_fix(capsys, tmp_path, inproc_emulator):
    port = inproc_emulator.base_url.rsplit(":", 1)[1]
    code, out, err = run(capsys, "emulator", "--port", port, "--dir", str(tmp_path / "e"))
    assert code == 2 and f"--port {port}: the port is in use" in err and "--port (0: any free port)" in err, err


# -- organizations nobody created ------------------------------------------------------------------


def test_a_misspelt_org_is_an_error_not_an_empty_organization_and_is_never_created(capsys, monkeypatch,
                                                                                   inproc_emulator, tmp_path):
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", inproc_emulator.access_token)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.setenv("OIDC_TRUST_API_URL", inproc_emulator.base_url)
    inproc_emulator.register_issuer("my-org")
    code, out, err = run(capsys, "audit", "--org", "myorg")
    assert code == 2 and out == "" and "verdict" not in err, (out, err)
    assert err == ("oidc-trust audit: error: organization 'myorg' was not found (list OIDC issuers: 404: Not Found: "
                   "organization 'myorg' not found); check the spelling of --org: nothing was read\n"), err
    code, out, err = run(capsys, "import", "--org", "myorg", "--print")
    assert code == 2 and "organization 'myorg' was not found" in err
    # The read created nothing: the admin's user lists the one organization that has an issuer.
    assert [o["githubLogin"] for o in inproc_emulator.get("/api/user").json()["organizations"]] == ["my-org"]
    code, out, _ = run(capsys, "audit", "--org", "my-org")
    assert code == 0 and out.startswith("organization my-org: 1 issuer(s)")
