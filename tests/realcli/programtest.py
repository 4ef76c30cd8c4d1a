"""A small real-CLI test rig in the spirit of Pulumi's ProgramTest.

A test is data: the program directory, its config and secrets, and the steps (``preview``, ``up``,
a config change, ``refresh``, ``destroy``, ...) with a check after each. The rig runs the real
``pulumi`` with an environment built from an allowlist (nothing else is inherited), a temporary
``HOME``/``PULUMI_HOME``, a local file backend and a stack config file in a temporary folder, so a
test writes nothing into the checkout and reads nothing of the developer's own Pulumi setup.

Where the CLI comes from is asked in one place, :func:`find_cli` (``.tools/bin`` from
``make pulumi``, else a ``pulumi`` on PATH).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
MIN_VERSION = (3, 216, 0)
PASSPHRASE = "realcli-test-passphrase"  # guards the test stack's secrets in a temporary backend only

# The only variables a CLI run gets (besides the rig's own settings and a test's `env`).
ALLOWED_FROM_OS = ("LANG", "LC_ALL", "TZ", "TMPDIR")


@dataclasses.dataclass(frozen=True)
class Cli:
    """The Pulumi CLI to test with: its bin folder (pulumi and the Python plugins) and version."""

    bin_dir: Path
    version: str


def _version_tuple(text: str) -> tuple[int, ...]:
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return tuple(int(p) for p in match.groups()) if match else ()


def find_cli() -> tuple[Cli | None, str]:
    """(the CLI, "") or (None, why there is none)."""
    candidates = []
    if (TOOLS_BIN / "pulumi").exists():
        candidates.append(TOOLS_BIN / "pulumi")
    on_path = shutil.which("pulumi")
    if on_path:
        candidates.append(Path(on_path))
    if not candidates:
        return None, "no Pulumi CLI: run `make pulumi` (needs Go) or put pulumi 3.216+ on PATH"
    for pulumi in candidates:
        bin_dir = pulumi.resolve().parent
        try:
            version = subprocess.run([str(pulumi), "version"], capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, f"{pulumi} does not run: {e}"
        if _version_tuple(version) < MIN_VERSION:
            return None, f"{pulumi} is version {version!r}; the tests need 3.216 or newer"
        if not (bin_dir / "pulumi-language-python").exists() and not shutil.which("pulumi-language-python"):
            return None, f"{pulumi} has no pulumi-language-python beside it or on PATH"
        return Cli(bin_dir, version), ""
    return None, "no usable Pulumi CLI"


def cli_environment(cli: Cli, home: Path, pulumi_home: Path, extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The allowlisted environment of every CLI run: nothing else of this process is inherited."""
    env = {k: os.environ[k] for k in ALLOWED_FROM_OS if k in os.environ}
    env.update(
        PATH=os.pathsep.join([str(cli.bin_dir), "/usr/local/bin", "/usr/bin", "/bin"]),
        HOME=str(home),
        PULUMI_HOME=str(pulumi_home),
        PULUMI_CREDENTIAL_STORE="plaintext",
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PYTHONDONTWRITEBYTECODE="1",  # nothing written into a program folder
    )
    env.update(extra)
    return env


@dataclasses.dataclass
class Result:
    """One CLI run: what a check sees."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:  # shown by pytest on failure: the command and the tail of its output
        return f"Result({' '.join(self.args)!r}, rc={self.returncode}, output=...{self.output[-4000:]!r})"


@dataclasses.dataclass
class Step:
    """One step of a program test: a CLI command (after ``pulumi``), expected to succeed or not.

    ``config`` and ``secrets`` are set (``pulumi config set``) before the command; ``check`` runs
    after it with the :class:`Result` and the test.
    """

    command: list[str]
    expect_failure: bool = False
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    remove_config: Iterable[str] = ()
    check: Callable[[Result, "ProgramTest"], None] | None = None
    name: str = ""


class ProgramTest:
    """One stack of one program, run with the real CLI against a temporary backend."""

    def __init__(self, cli: Cli, program_dir: Path, work: Path, *, stack: str, config: Mapping[str, Any] | None = None,
                 secrets: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None):
        self.cli = cli
        self.program_dir = program_dir
        self.work = work
        self.stack = stack
        self.home = work / "home"
        self.pulumi_home = work / "pulumi-home"
        self.backend = work / "state"
        self.config_file = work / "config" / f"Pulumi.{stack}.yaml"
        for folder in (self.home, self.pulumi_home, self.backend, self.config_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        self.env = self._environment(env or {})
        self.results: list[Result] = []
        self.run(["stack", "init", stack])
        self.set_config(config or {})
        for key, value in (secrets or {}).items():
            self.set_secret(key, value)

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        backend = {"PULUMI_BACKEND_URL": f"file://{self.backend}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
        return cli_environment(self.cli, self.home, self.pulumi_home, {**backend, **extra})

    # -- running ---------------------------------------------------------------------------------

    def run(self, args: list[str], *, stdin: str | None = None, stack_args: bool = True, timeout: int = 300,
            cwd: Path | None = None, record: bool = True) -> Result:
        """``pulumi ARGS`` (with ``--stack`` and ``--config-file`` where they apply); never raises on rc."""
        command = [str(self.cli.bin_dir / "pulumi"), *args, "--non-interactive"]
        if stack_args and args[0] not in ("stack", "version", "plugin", "login", "logout", "whoami", "env"):
            command += ["--stack", self.stack, "--config-file", str(self.config_file)]
        elif stack_args and args[:2] in (["stack", "export"], ["stack", "output"]):
            command += ["--stack", self.stack]
        proc = subprocess.run(command, cwd=cwd or self.program_dir, env=self.env, input=stdin, capture_output=True,
                              text=True, timeout=timeout)
        result = Result(args, proc.returncode, proc.stdout, proc.stderr)
        if record:  # all_output() is what the no-secret checks read; a --show-secrets run is not recorded
            self.results.append(result)
        return result

    def ok(self, args: list[str], **kwargs: Any) -> Result:
        result = self.run(args, **kwargs)
        assert result.returncode == 0, result
        return result

    def set_config(self, config: Mapping[str, Any]) -> None:
        for key, value in config.items():
            if isinstance(value, (list, dict)):
                # Structured values go in as a whole object (what `pulumi config set --path` builds).
                self._edit_config_file(key, value)
            else:
                text = json.dumps(value) if isinstance(value, bool) else str(value)
                self.ok(["config", "set", key, text])

    def _edit_config_file(self, key: str, value: Any) -> None:
        data = yaml.safe_load(self.config_file.read_text()) if self.config_file.exists() else None
        data = data or {}
        data.setdefault("config", {})[key] = value
        self.config_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def remove_config(self, key: str) -> None:
        self.ok(["config", "rm", key])

    def set_secret(self, key: str, value: str) -> None:
        """``pulumi config set --secret KEY`` with the value on stdin (never on argv)."""
        self.ok(["config", "set", "--secret", key], stdin=value)

    def steps(self, steps: Iterable[Step]) -> None:
        for number, step in enumerate(steps, 1):
            self.set_config(step.config)
            for key in step.remove_config:
                self.remove_config(key)
            result = self.run(step.command)
            label = step.name or " ".join(step.command)
            if step.expect_failure:
                assert result.returncode != 0, f"step {number} ({label}) should have failed: {result!r}"
            else:
                assert result.returncode == 0, f"step {number} ({label}) failed: {result!r}"
            if step.check:
                step.check(result, self)

    # -- what checks read ------------------------------------------------------------------------

    def export(self, *, show_secrets: bool = False) -> dict[str, Any]:
        if show_secrets:
            return json.loads(self.ok(["stack", "export", "--show-secrets"], record=False).stdout)
        return json.loads(self.ok(["stack", "export"]).stdout)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.ok(["stack", "output", "--json"]).stdout)

    def resources(self) -> list[dict[str, Any]]:
        return self.export()["deployment"].get("resources", [])

    def urn_of(self, type_suffix: str) -> str:
        (urn,) = [r["urn"] for r in self.resources() if r["type"].endswith(type_suffix)]
        return urn

    def logs_text(self) -> str:
        """Everything the CLI and its plugins wrote under PULUMI_HOME/logs (and HOME's .pulumi)."""
        texts = []
        for folder in (self.pulumi_home, self.home):
            for path in folder.rglob("*"):
                if path.is_file() and ("logs" in path.parts or path.suffix in (".log", ".txt")):
                    texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)

    def all_output(self) -> str:
        return "\n".join(r.output for r in self.results)

    def destroy_and_remove(self) -> None:
        """Best-effort cleanup after a failed test (the backend is temporary anyway)."""
        self.run(["destroy", "--yes"])
        self.run(["stack", "rm", "--yes", "--force", self.stack], stack_args=False)
