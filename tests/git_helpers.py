"""Local git rigs for the runner's fetch script: a bare repository made with the machine's `git`,
the fetch script run for real under /bin/sh, a stand-in `ssh` that serves repositories from a
folder (so the ssh path runs a real fetch), and a smart-HTTP server with Basic authentication in
front of `git http-backend`. Everything stays in a temporary folder; nothing goes on the network
beyond the loopback."""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pulumi_oidc_trust.components.runner_source import GitSource, fetch_script

GIT = shutil.which("git") or "git"
IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]


def git_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A git environment of its own: no system or user configuration of this machine."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C", **(extra or {})}  # fmt: skip


def git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclasses.dataclass
class Repository:
    """A bare repository with two commits on main: `first` (not a branch tip) and `second`."""

    bare: Path
    first: str
    second: str

    @property
    def url(self) -> str:
        return self.bare.as_uri()


def make_repository(where: Path, *, program_path: str = "infra") -> Repository:
    """`first` holds the Pulumi program in `program_path`; `second` adds a README."""
    env = git_env(where / "author-home")
    work = where / "author"
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work, env=env)
    program = work / program_path
    program.mkdir(parents=True)
    (program / "Pulumi.yaml").write_text("name: infra\nruntime: yaml\nresources: {}\n")
    (program / "Pulumi.prod.yaml").write_text("config: {}\n")
    git("add", ".", cwd=work, env=env)
    git(*IDENTITY, "commit", "-q", "-m", "the program", cwd=work, env=env)
    first = git("rev-parse", "HEAD", cwd=work, env=env)
    (work / "README.md").write_text("infra\n")
    git("add", ".", cwd=work, env=env)
    git(*IDENTITY, "commit", "-q", "-m", "a readme", cwd=work, env=env)
    second = git("rev-parse", "HEAD", cwd=work, env=env)
    bare = where / "server" / "acme" / "infra.git"
    bare.parent.mkdir(parents=True)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=where, env=env)
    return Repository(bare, first, second)


@dataclasses.dataclass
class Fetch:
    result: subprocess.CompletedProcess
    checkout: Path
    home: Path

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.checkout, env=git_env(self.home))


def run_fetch(
    where: Path,
    source: GitSource,
    *,
    config: dict[str, str] | None = None,
    secret: dict[str, str] | None = None,
    bin_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Fetch:
    """The init container's script for `source`, run under /bin/sh with the machine's git.

    `config` are the other ConfigMap files (askpass helper, known_hosts), `secret` the mounted
    Secret's files; both go to folders of their own, as in the pod.
    """
    config_dir, secret_dir = where / "config", where / "secret"
    checkout = where / "workspace" / "src"
    for folder, files in ((config_dir, config or {}), (secret_dir, secret or {})):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
            (folder / name).chmod(0o550 if name.endswith(".sh") else 0o440)
    script = where / "fetch-program.sh"
    script.write_text(
        fetch_script(source, checkout_dir=str(checkout), config_dir=str(config_dir), secret_dir=str(secret_dir))
    )
    checkout.parent.mkdir(parents=True, exist_ok=True)
    home = where / "pod-home"
    env = git_env(home, extra_env)
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    result = subprocess.run(["/bin/sh", str(script)], cwd=where, env=env, capture_output=True, text=True, timeout=120)
    return Fetch(result, checkout, home)


# -- a stand-in ssh ----------------------------------------------------------------------------

STAND_IN_SSH = """#!{python}
# A stand-in for ssh: records its argv, checks the key and known_hosts it was given, and runs the
# remote command (git-upload-pack 'PATH') in SERVER_ROOT, as an ssh server's login shell would.
import json, os, subprocess, sys

args = sys.argv[1:]
with open(os.environ["STAND_IN_SSH_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
options = [args[i + 1] for i, a in enumerate(args) if a == "-o"]
known = [o.split("=", 1)[1] for o in options if o.startswith("UserKnownHostsFile=")]
host = next(a for a in args if "@" in a).split("@", 1)[1]
with open(known[0]) as f:
    if not any(line.split()[0] == host for line in f if line.strip()):
        sys.exit("stand-in ssh: Host key verification failed.")
key = args[args.index("-i") + 1]
with open(key) as f:
    f.read()  # the key must be readable; it is never printed
sys.exit(subprocess.call(["sh", "-c", args[-1]], cwd=os.environ["STAND_IN_SSH_ROOT"]))
"""


def stand_in_ssh(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    ssh = bin_dir / "ssh"
    ssh.write_text(STAND_IN_SSH.format(python=sys.executable))
    ssh.chmod(0o755)
    return ssh


# -- smart HTTP with Basic authentication --------------------------------------------------------


class BasicAuthGitServer:
    """`git http-backend` behind Basic authentication on 127.0.0.1; records every Authorization
    header it is sent (None for a request without one)."""

    def __init__(self, project_root: Path, username: str, password: str):
        self.project_root = project_root
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.username = username
        self.authorizations: list[str | None] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _handler(self):
        rig = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                self._backend()

            def do_POST(self):  # noqa: N802
                self._backend()

            def _backend(self):
                authorization = self.headers.get("Authorization")
                rig.authorizations.append(authorization)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if authorization != rig.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(rig.project_root),
                    "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": rig.username, "REMOTE_ADDR": "127.0.0.1",
                    "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(rig.project_root),
                }  # fmt: skip
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                out = subprocess.run([GIT, "http-backend"], input=body, env=env, capture_output=True, timeout=60).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.split(b"\r\n"):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
