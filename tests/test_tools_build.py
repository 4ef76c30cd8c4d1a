"""`make pulumi`'s inputs: one place for the versions, a pinned wrapper module, a clean script.

(The build itself runs in `make pulumi`, never inside pytest; the real-CLI tests use its result.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from harness.dynamic_host import ROOT

TOOLS = ROOT / "tools" / "pulumi"
SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def _versions() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (TOOLS / "versions.env").read_text().splitlines()
             if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_the_wrapper_module_pins_the_cli_release_that_versions_env_names():
    versions = _versions()
    assert re.fullmatch(r"v\d+\.\d+\.\d+", versions["PULUMI_VERSION"])
    assert versions["GOTOOLCHAIN"] == "local"
    go_mod = (TOOLS / "go.mod").read_text()
    for module in ("github.com/pulumi/pulumi/pkg/v3", "github.com/pulumi/pulumi/sdk/v3"):
        (pinned,) = re.findall(rf"^\s*{re.escape(module)} (\S+)", go_mod, re.M)
        assert pinned == versions["PULUMI_VERSION"], module
    assert "tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi" in go_mod
    assert (TOOLS / "go.sum").read_text().count("github.com/pulumi/pulumi/pkg/v3 " + versions["PULUMI_VERSION"]) == 2
    # The go line must not ask for a newer toolchain than the machine's (GOTOOLCHAIN=local).
    (go_line,) = re.findall(r"^go (\S+)$", go_mod, re.M)
    assert tuple(int(p) for p in go_line.split(".")) <= (1, 26, 8)


def test_the_build_script_is_shellcheck_clean():
    out = subprocess.run([str(SHELLCHECK), "-x", str(TOOLS / "build.sh")], cwd=TOOLS, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_nothing_built_is_committed_and_the_link_folder_is_ignored():
    tracked = subprocess.run(["git", "ls-files", "tools", ".tools"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert sorted(tracked) == sorted([
        "tools/pulumi/build.sh", "tools/pulumi/go.mod", "tools/pulumi/go.sum", "tools/pulumi/versions.env",
        "tools/pulumi/pulumi-language-python/main.go",
    ])
    assert ".tools/" in (ROOT / ".gitignore").read_text().splitlines()
