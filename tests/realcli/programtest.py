"""A small real-CLI test rig in the spirit of Pulumi's ProgramTest.

A test is data: the program directory, its config and secrets, and the steps (``preview``, ``up``,
a config change, ``refresh``, ``destroy``, ...) with a check after each. The rig runs the real
``pulumi`` with an environment built from an allowlist (nothing else is inherited), a temporary
``HOME``/``PULUMI_HOME``, a local file backend and a stack config file in a temporary folder, so a
test writes nothing into the checkout and reads nothing of the developer's own Pulumi setup.

Where the CLI comes from is asked in one place, ``harness.pulumi_cli.find_cli`` (``.tools/bin``
from ``make pulumi``, else a ``pulumi`` on PATH); the demo asks the same.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.pulumi_cli import Cli, cli_environment, init_stack

PASSPHRASE = "realcli-test-passphrase"  # guards the test stack's secrets in a temporary backend only


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


def program_copy(source: Path, where: Path, name: str) -> Path:
    """A test program copied to ``where`` with a Pulumi.yaml whose virtualenv is this checkout's
    (absolute), so the program runs with the project as installed in ``.venv``."""
    from harness.pulumi_cli import ROOT

    shutil.copytree(source, where, ignore=shutil.ignore_patterns("__pycache__"))
    (where / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {ROOT / '.venv'}\n"
    )
    return where


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
        init_stack(cli, program_dir, stack, self.config_file, self.env)
        assert not (program_dir / f"Pulumi.{stack}.yaml").exists(), "stack init wrote into the program folder"
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
