"""Where the real Pulumi CLI is, and the environment it runs in: asked by the real-CLI tests and
`make demo` alike (one place).

``find_cli()`` prefers ``.tools/bin`` (what ``make pulumi`` links), then a ``pulumi`` on PATH, and
needs 3.216 or newer with a Python language host beside it or on PATH.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / ".tools" / "bin"
WHEELHOUSE = ROOT / ".wheelhouse"
MIN_VERSION = (3, 216, 0)

# The only variables of this process a CLI run inherits.
ALLOWED_FROM_OS = ("LANG", "LC_ALL", "TZ")


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


def find_wheelhouse() -> tuple[Path | None, str]:
    """(the wheelhouse ``make wheelhouse`` built from requirements.lock, "") or (None, why not)."""
    if (WHEELHOUSE / ".complete").exists():
        return WHEELHOUSE, ""
    return None, f"no wheelhouse at {WHEELHOUSE}: run `make wheelhouse` (make test builds it first)"


def offline_pip(wheelhouse: Path) -> dict[str, str]:
    """The environment that makes every pip run (``pulumi install``, a build's isolated setuptools)
    install from ``wheelhouse`` alone: nothing is downloaded, and the program under test is not edited."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@dataclasses.dataclass(frozen=True)
class Plugin:
    """A resource plugin binary and the version the stack's SDK asks the engine for."""

    name: str
    path: Path
    version: str


def kubernetes_sdk_version() -> str:
    """The plugin version the installed pulumi-kubernetes SDK asks for (its pulumi-plugin.json)."""
    from importlib import resources

    return json.loads(resources.files("pulumi_kubernetes").joinpath("pulumi-plugin.json").read_text())["version"]


def find_kubernetes_plugin() -> tuple[Plugin | None, str]:
    """(the plugin, "") or (None, why there is none): ``.tools/plugins`` (``make pulumi-kubernetes``),
    then PATH. It must be built for the SDK's version: the engine looks the plugin up by exactly that."""
    name = "pulumi-resource-kubernetes"
    linked = TOOLS_BIN.parent / "plugins" / name
    path = linked if linked.exists() else (Path(p) if (p := shutil.which(name)) else None)
    if path is None:
        return None, f"no {name}: run `make pulumi-kubernetes` (needs Go 1.26+) to build the Kubernetes plugin"
    version = kubernetes_sdk_version()
    built = path.resolve()
    if linked.exists() and f"pulumi-kubernetes-v{version}-" not in str(built):
        return None, f"{built} is not built for pulumi-kubernetes {version}: run `make pulumi-kubernetes`"
    return Plugin("kubernetes", built, version), ""


def install_plugin(pulumi_home: Path, plugin: Plugin) -> Path:
    """Put ``plugin`` in ``pulumi_home``'s plugin cache at its exact version (a link, not a copy),
    where the engine finds it with no plugin on PATH and no download."""
    folder = pulumi_home / "plugins" / f"resource-{plugin.name}-v{plugin.version}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"pulumi-resource-{plugin.name}"
    if not target.exists():
        target.symlink_to(plugin.path)
    return target


def cli_environment(cli: Cli, home: Path, pulumi_home: Path, extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The allowlisted environment of every CLI run: nothing else of this process is inherited.

    ``TMPDIR`` is ``home`` (which the caller creates before running the CLI): what the CLI and its
    plugins leave in the temporary folder goes away with ``home``. The Kubernetes plugin writes the
    kubeconfig it is given, the test cluster's credentials included, to a temporary file it never
    deletes; with the system's /tmp every real-cluster test left one behind.
    """
    env = {k: os.environ[k] for k in ALLOWED_FROM_OS if k in os.environ}
    env.update(
        PATH=os.pathsep.join([str(cli.bin_dir), "/usr/local/bin", "/usr/bin", "/bin"]),
        HOME=str(home),
        TMPDIR=str(home),
        PULUMI_HOME=str(pulumi_home),
        PULUMI_CREDENTIAL_STORE="plaintext",
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PYTHONDONTWRITEBYTECODE="1",  # nothing written into a program folder
    )
    env.update(extra)
    return env


def trust_ca_environment(ca_file: Path) -> dict[str, str]:
    """The variables that make the Pulumi CLI trust ``ca_file`` (PEM) for https: ``SSL_CERT_FILE``.

    The CLI is Go, and Go's crypto/x509 on Linux reads its roots from the file ``SSL_CERT_FILE``
    names in place of the system's bundle file (the system's certificate directories, e.g.
    /etc/ssl/certs, are still read unless ``SSL_CERT_DIR`` says otherwise). This is how the runner's
    pod trusts an emulator serving https with the test fixture's CA: that CA mounted into the pod
    and ``SSL_CERT_FILE`` pointing at it; tests/realcli/test_login_tls.py proves the CLI honours it.
    Pass the result as ``cli_environment(..., extra=...)``.
    """
    return {"SSL_CERT_FILE": str(ca_file)}


def init_stack(cli: Cli, program_dir: Path, stack: str, config_file: Path, env: Mapping[str, str]) -> None:
    """``pulumi stack init STACK`` whose config file (with the passphrase salt) is ``config_file``.

    ``stack init`` takes no ``--config-file`` and writes ``Pulumi.STACK.yaml`` next to
    ``Pulumi.yaml``; run it in a scratch copy of the project file instead, so nothing is written
    into the program's folder, then move that file to where every later command is pointed.
    """
    scratch = config_file.parent / f".init-{stack}"
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copy(program_dir / "Pulumi.yaml", scratch / "Pulumi.yaml")
    done = subprocess.run([str(cli.bin_dir / "pulumi"), "stack", "init", stack, "--non-interactive"], cwd=scratch,
                          env=dict(env), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"pulumi stack init {stack} failed: {done.stderr.strip()}")
    written = scratch / f"Pulumi.{stack}.yaml"
    if written.exists():
        shutil.move(str(written), config_file)
    shutil.rmtree(scratch)
