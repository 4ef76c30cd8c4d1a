"""`pulumi login --oidc-token` with the real CLI against the emulator, then `whoami` and `env ls`
(Pulumi's own demo of OIDC trust), and the runner's entrypoint script run with the real CLI.

No `PULUMI_BACKEND_URL` or `PULUMI_API`: the emulator's URL is given explicitly, without a trailing
slash. A temporary `PULUMI_HOME` per test; the environment is the rig's allowlist.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from pulumi_oidc_trust.components.runner_manifests import render_manifests
from pulumi_oidc_trust.provider.wire import audience_for

from harness.pulumi_cli import cli_environment

ORG = "acme"
OTHER = "globex"
ENVIRONMENTS = ("acme/infra/prod", "acme/infra/staging", "globex/app/dev")
JWT = re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}\.")


class Session:
    """One user's CLI: its own HOME and PULUMI_HOME; runs `pulumi ARGS` and keeps what it printed."""

    def __init__(self, cli, where: Path):
        self.cli = cli
        self.pulumi_home = where / "pulumi-home"
        self.env = cli_environment(cli, where / "home", self.pulumi_home)
        (where / "home").mkdir(parents=True)
        self.outputs: list[str] = []

    def run(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.cli.bin_dir / "pulumi"), *args, "--non-interactive"], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        self.outputs.append(proc.stdout + proc.stderr)
        return proc

    def credentials(self) -> dict:
        path = self.pulumi_home / "credentials.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def everything_written(self) -> str:
        files = [p.read_text(errors="replace") for p in self.pulumi_home.rglob("*")
                 if p.is_file() and "logs" in p.parts]
        return "\n".join(self.outputs + files)


@pytest.fixture
def cloud(start_emulator):
    """The emulator with ESC environments, its test issuer trusted by ORG and OTHER."""
    args = [a for env in ENVIRONMENTS for a in ("--esc-environment", env)]
    emulator = start_emulator(*args)
    for org in (ORG, OTHER):
        issuer = emulator.register_issuer(org, name="ci")
        emulator.set_policies(issuer["id"], [
            {"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
             "rules": {"aud": audience_for(org), "sub": "repo:acme/infra:ref:refs/heads/main"}},
            {"decision": "allow", "tokenType": "personal", "userLogin": "alice", "authorizedPermissions": [],
             "rules": {"aud": audience_for(org), "sub": "repo:acme/infra:environment:release"}},
            {"decision": "allow", "tokenType": "organization", "authorizedPermissions": [],
             "rules": {"aud": audience_for(org), "sub": "repo:acme/infra:ref:refs/heads/main"}},
        ], org)
    return emulator


def _token_file(tmp_path: Path, token: str) -> str:
    path = tmp_path / f"token-{secrets.token_hex(3)}.jwt"
    path.write_text(token + "\n")
    return f"file://{path}"


def test_login_with_a_token_file_for_a_team_then_whoami_and_env_ls(pulumi_cli, cloud, tmp_path):
    user = Session(pulumi_cli, tmp_path / "user")
    token = cloud.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": audience_for(ORG)})
    login = user.run("login", cloud.base_url, "--oidc-token", _token_file(tmp_path, token), "--oidc-org", ORG,
                     "--oidc-team", "platform", "--oidc-expiration", "15m")
    assert login.returncode == 0, login.stderr
    assert f"Logged in to {cloud.base_url}" in login.stdout

    creds = user.credentials()
    assert creds["current"] == cloud.base_url
    info = creds["accounts"][cloud.base_url]["tokenInformation"]
    assert info["team"] == "platform" and info["organization"] == ORG

    whoami = user.run("whoami", "-v")
    assert whoami.returncode == 0, whoami.stderr
    assert "Organizations: acme" in whoami.stdout and "Token type: team: platform" in whoami.stdout

    as_json = json.loads(user.run("whoami", "--json").stdout)
    # The lifetime the CLI asked for (15m) is what it got: expiry within 15 minutes from now.
    assert as_json["tokenInformation"]["team"] == "platform"

    envs = user.run("env", "ls")
    assert envs.returncode == 0, envs.stderr
    assert sorted(envs.stdout.split()) == ["acme/infra/prod", "acme/infra/staging"]
    assert "globex" not in envs.stdout

    # Every request the CLI made on this path has a route in the emulator.
    counts = cloud.stats()["counts"]
    assert not [k for k in counts if "unmatched" in k], counts
    assert counts.get("GET /api/esc/environments") and counts.get("GET /api/user")

    text = user.everything_written()
    assert token not in text and not JWT.search(text)
    access = creds["accounts"][cloud.base_url]["accessToken"]
    assert access not in text


def test_login_for_a_user_and_for_the_organization_with_a_raw_token(pulumi_cli, cloud, tmp_path):
    release = cloud.mint({"sub": "repo:acme/infra:environment:release", "aud": audience_for(ORG)})
    alice = Session(pulumi_cli, tmp_path / "alice")
    login = alice.run("login", cloud.base_url, "--oidc-token", _token_file(tmp_path, release), "--oidc-org", ORG,
                      "--oidc-user", "alice")
    assert login.returncode == 0, login.stderr
    whoami = alice.run("whoami", "-v")
    # The CLI stores tokenInformation of its own after an OIDC login, so a personal token, which
    # names no organization or team, is shown as "unknown" (never as an organization's token).
    assert "User: alice" in whoami.stdout and "Token type: unknown" in whoami.stdout, whoami.stdout
    info = alice.credentials()["accounts"][cloud.base_url]["tokenInformation"]
    assert not info.get("team") and not info.get("organization")

    main = cloud.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": audience_for(OTHER)})
    org = Session(pulumi_cli, tmp_path / "org")
    # A raw token (not file://): the CLI takes the organization from it when --oidc-org is left out.
    login = org.run("login", cloud.base_url, "--oidc-token", main)
    assert login.returncode == 0, login.stderr
    whoami = org.run("whoami", "-v")
    assert f"Token type: organization: {OTHER}" in whoami.stdout
    envs = org.run("env", "ls")
    # An organization token's user is the organization, so `env ls` leaves the org out.
    assert envs.returncode == 0 and envs.stdout.split() == ["app/dev"], envs
    printed = "\n".join(org.outputs)
    assert main not in printed


def test_a_token_the_policy_refuses_stores_no_credential_and_shows_the_reason(pulumi_cli, cloud, tmp_path):
    user = Session(pulumi_cli, tmp_path / "intruder")
    token = cloud.mint({"sub": "repo:evil/infra:ref:refs/heads/main", "aud": audience_for(ORG)})
    login = user.run("login", cloud.base_url, "--oidc-token", _token_file(tmp_path, token), "--oidc-org", ORG,
                     "--oidc-team", "platform")
    assert login.returncode != 0
    assert "OIDC token exchange failed" in login.stderr and "no authorization policy" in login.stderr.lower(), login.stderr
    assert cloud.base_url not in user.credentials().get("accessTokens", {})
    assert token not in user.everything_written()


# -- the runner's script, for real ------------------------------------------------------------


def _script_for(api_url: str, **token) -> str:
    (config_map,) = [m for m in render_manifests("deploy", organization=ORG, team="platform", expiration="15m",
                                                 commands=["pulumi whoami -v"], api_url=api_url, **token)
                     if m["kind"] == "ConfigMap"]
    return config_map["data"]["entrypoint.sh"]


def test_the_runners_script_logs_in_with_the_real_cli_and_runs_its_commands(pulumi_cli, cloud, tmp_path):
    token_path = tmp_path / "pod" / "token"
    token_path.parent.mkdir()
    script = _script_for(cloud.base_url, token=str(token_path))
    # The same script a pod runs, but for the token's path.
    default = _script_for(cloud.base_url)
    assert script != default
    assert script.replace(str(token_path), "/var/run/secrets/pulumi/token") == default
    (tmp_path / "entrypoint.sh").write_text(script)

    def run(token: str) -> subprocess.CompletedProcess:
        token_path.write_text(token + "\n")
        home = tmp_path / f"home-{secrets.token_hex(3)}"
        home.mkdir()
        env = cli_environment(pulumi_cli, home, home / ".pulumi")
        return subprocess.run(["/bin/bash", str(tmp_path / "entrypoint.sh")], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    good = cloud.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": audience_for(ORG)})
    ran = run(good)
    assert ran.returncode == 0, ran.stderr
    assert "Token type: team: platform" in ran.stdout
    assert good not in ran.stdout + ran.stderr

    wrong_audience = cloud.mint({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": "sts.amazonaws.com"})
    refused = run(wrong_audience)
    assert refused.returncode != 0
    assert "Token type" not in refused.stdout
    assert wrong_audience not in refused.stdout + refused.stderr
