"""The README's "Your own stack against the local emulator", run as written, with the real CLI.

The commands come from the section's fenced blocks, so the README cannot drift from what is tested:
the first ``sh`` block starts the emulator (with ``--port 0`` added, so parallel runs never share a
port), its output must be the section's ``text`` block (with the real port), and each later ``sh``
block runs in bash in turn, carrying its exports and working folder to the next, as one terminal
would. The one line taken from elsewhere is ``export OIDC_TRUST_API_URL=...``: the README says to
paste it from what the emulator printed, and so does the test.

Nothing is read or written outside the test's folders: ``HOME`` is temporary (the emulator's folder,
the new project and the stack's file backend live there), the repository is a copy of its tracked
files (pip builds ``pulumi-oidc-trust`` from it) with ``.venv`` and ``.tools`` linked in, and pip
installs from the wheelhouse only (``offline_pip``). The Kubernetes plugin that ``pulumi install``
installs for the pulumi-kubernetes dependency is put in the plugin cache beforehand, as a download
would.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import requests

from harness.pulumi_cli import ROOT, cli_environment, find_kubernetes_plugin, install_plugin, offline_pip
from tests.required_tools import required_tool
from tests.test_package import source_copy

SECTION = "## Your own stack against the local emulator"
README_URL = "http://127.0.0.1:8484"
JWT = re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}\.")


def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of each fenced block of the section, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    return re.findall(r"^```(\w+)\n(.*?)^```$", text[start:end if end != -1 else None], re.S | re.M)


class Terminal:
    """One shell session, block by block: each block runs in ``bash -euo pipefail`` with the
    environment and the folder the previous block left."""

    def __init__(self, env: dict[str, str], cwd: Path, scratch: Path):
        self.env, self.cwd, self.scratch = env, cwd, scratch
        self.outputs: list[str] = []

    def run(self, block: str) -> subprocess.CompletedProcess:
        after_env, after_cwd = self.scratch / "env", self.scratch / "cwd"
        script = f"set -euo pipefail\n{block}\npwd > {after_cwd}\nenv -0 > {after_env}\n"
        proc = subprocess.run(["bash", "-c", script], cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL)
        self.outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode == 0, f"README block failed (rc {proc.returncode}):\n{block}\n---\n{proc.stdout}{proc.stderr}"
        self.cwd = Path(after_cwd.read_text().strip())
        pairs = (item.split("=", 1) for item in after_env.read_text().split("\0") if "=" in item)
        self.env = {k: v for k, v in pairs if k not in ("PWD", "OLDPWD", "SHLVL", "_")}
        return proc


def test_the_readme_section_runs_as_written(pulumi_cli, wheelhouse, tmp_path):
    plugin = required_tool(*find_kubernetes_plugin(), "OIDC_TRUST_REQUIRE_CLI")
    blocks = readme_blocks()
    assert [lang for lang, _ in blocks[:2]] == ["sh", "text"] and all(lang == "sh" for lang, _ in blocks[2:]), blocks
    home, pulumi_home = tmp_path / "home", tmp_path / "pulumi-home"
    home.mkdir()
    install_plugin(pulumi_home, plugin)
    checkout = source_copy(tmp_path / "checkout")
    for tools in (".venv", ".tools"):
        (checkout / tools).symlink_to(ROOT / tools)
    env = cli_environment(pulumi_cli, home, pulumi_home, offline_pip(wheelhouse))

    # Terminal 1: the emulator, until Ctrl-C.
    (command,) = blocks[0][1].strip().splitlines()
    emulator = subprocess.Popen(["bash", "-c", f"exec {command} --port 0"], cwd=checkout, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        printed: list[str] = []
        while not printed or not printed[-1].startswith("  PULUMI_ACCESS_TOKEN="):
            line = emulator.stdout.readline()
            assert line, (printed, emulator.wait(), emulator.stderr.read())
            printed.append(line.rstrip("\n"))
        (url,) = re.findall(r"export OIDC_TRUST_API_URL=(\S+)", "\n".join(printed))
        assert "\n".join(printed).replace(url, README_URL) == blocks[1][1].rstrip("\n")
        admin_token = (home / ".local/state/oidc-trust/emulator/admin-token").read_text().strip()

        def issuers() -> list[dict]:
            answer = requests.get(f"{url}/api/orgs/acme/oidc/issuers", headers={"Authorization": f"token {admin_token}"},
                                  timeout=10)
            return answer.json()["oidcIssuers"] if answer.status_code == 200 else []

        # Terminal 2: the blocks in turn, pasting the export line the emulator printed.
        terminal = Terminal(env, checkout, tmp_path)
        for _, block in blocks[2:]:
            block = re.sub(r"^export OIDC_TRUST_API_URL=.*$", f"export OIDC_TRUST_API_URL={url}", block, flags=re.M)
            result = terminal.run(block)
            out = result.stdout + result.stderr
            if "pulumi up" in block:
                (issuer,) = issuers()
                assert issuer["url"] == f"{url}/test-issuer" and issuer["name"] == "ci"
                assert "OIDC017" in out and "+ 4 created" in out, out
            if "pulumi whoami" in block:
                assert "Token type: team: platform" in out and "Organizations: acme" in out, out
            if "oidc-trust audit" in block:
                # The rules are shown in the order the service holds them, which is not fixed.
                policy = out[out.index("  policy 0: allow team token for 'platform'\n"):].splitlines()[1:3]
                assert sorted(line.strip() for line in policy) == [
                    "aud: urn:pulumi:org:acme", "sub: repo:acme/infra:ref:refs/heads/main"], out
            if "pulumi destroy" in block:
                assert issuers() == []
        project = home / "my-trust"
        assert (project / "venv" / "bin" / "python").exists()
        # What the user saw never holds a token: not the admin token, not the workload token.
        seen = "\n".join(printed + terminal.outputs)
        assert admin_token not in seen and not JWT.search(seen)
    finally:
        if emulator.poll() is None:
            emulator.send_signal(signal.SIGINT)  # Ctrl-C
        rest, errors = emulator.communicate(timeout=30)
    assert emulator.returncode == 0 and "oidc-trust emulator: stopped" in rest, (rest, errors)
