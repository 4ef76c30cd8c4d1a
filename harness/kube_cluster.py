"""A real Kubernetes control plane on loopback for tests: etcd, kube-apiserver and
kube-controller-manager; no kubelet.

In the spirit of controller-runtime's envtest: ``LocalCluster(tools, workdir).start()`` writes a
generated CA and serving certificate, a service-account signing key pair and a static admin
token, starts etcd, kube-apiserver and kube-controller-manager (binaries from ``make k8s``, found
by ``find_kube_tools``) on free loopback ports, waits for each to be ready and returns a
``ClusterInfo`` (server URL, CA file, admin token, kubeconfig, issuer, start-up time). ``stop()``
ends every process it started, also after a failed start.

The API server is configured like a small public cluster:
- RBAC (AlwaysAllow would switch anonymous authentication off), Pod Security and ServiceAccount
  admission at their defaults (both on);
- issuer ``https://127.0.0.1:PORT`` (https, or the discovery endpoints are not installed), with
  the jwks_uri on the same loopback address (``--advertise-address=127.0.0.1`` needs
  ``--endpoint-reconciler-type=none``);
- anonymous read of ``/.well-known/openid-configuration`` and ``/openid/v1/jwks`` (a
  ClusterRoleBinding of ``system:service-account-issuer-discovery`` to
  ``system:unauthenticated``), as a cluster whose issuer Pulumi Cloud verifies must allow.
The controller manager makes what pulumi-kubernetes relies on real: the garbage collector
(its deletes use Foreground propagation, which never finishes without one), the Job controller
(Pods are created from a Job and stay Pending: no scheduler or kubelet runs here), the
``default`` ServiceAccount of each namespace and namespace deletion.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import dataclasses
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pulumi_oidc_trust.emulator.tls_issuer import CertificateAuthority

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / ".tools" / "bin"
READY_TIMEOUT_SECONDS = 120.0
ADMIN_USER = "oidc-trust-admin"
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
DISCOVERY_BINDING = "oidc-trust-anonymous-issuer-discovery"


@dataclasses.dataclass(frozen=True)
class KubeTools:
    """The control plane's binaries and the Kubernetes version kube-apiserver reports."""

    kube_apiserver: Path
    etcd: Path
    kube_controller_manager: Path
    version: str


def find_tool(name: str) -> Path | None:
    """One binary of ``make k8s``: ``.tools/bin`` first, then PATH."""
    linked = TOOLS_BIN / name
    return linked if linked.exists() else (Path(p) if (p := shutil.which(name)) else None)


def find_kube_tools() -> tuple[KubeTools | None, str]:
    """(the tools, "") or (None, why there are none): ``.tools/bin`` (``make k8s``), then PATH."""
    found: dict[str, Path] = {}
    for name in ("kube-apiserver", "etcd", "kube-controller-manager"):
        path = find_tool(name)
        if path is None:
            return None, f"no {name}: run `make k8s` (needs Go 1.26+) to build the control plane"
        found[name] = path
    try:
        out = subprocess.run([str(found["kube-apiserver"]), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{found['kube-apiserver']} does not run: {e}"
    version = out.stdout.strip().removeprefix("Kubernetes ")
    if out.returncode != 0 or not version.startswith("v1."):
        return None, f"{found['kube-apiserver']} --version said {out.stdout.strip()!r}"
    return KubeTools(found["kube-apiserver"], found["etcd"], found["kube-controller-manager"], version), ""


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    """How to reach a started cluster (plain data: it is shared between test processes as JSON)."""

    server: str
    """``https://127.0.0.1:PORT``; also the service-account issuer (``iss`` of every token)."""
    ca_path: str
    """PEM of the CA that signed the API server's certificate."""
    admin_token: str
    """A static bearer token of a ``system:masters`` user."""
    version: str
    startup_seconds: float
    """From the first process start to the controller manager's first ServiceAccount, bootstrap included."""
    workdir: str
    kubeconfig: str = ""
    """A kubeconfig file for the admin user (what a Pulumi Kubernetes ``Provider`` is given)."""

    @property
    def issuer(self) -> str:
        return self.server

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ClusterInfo":
        return cls(**json.loads(text))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: if the test process that started us dies, so do we (nothing is left running).
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


class ClusterStartError(RuntimeError):
    """The control plane did not come up; the message names the process and quotes its log tail."""


class LocalCluster:
    """etcd + kube-apiserver in ``workdir``. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, tools: KubeTools, workdir: Path, *, ready_timeout: float = READY_TIMEOUT_SECONDS):
        self.tools = tools
        self.workdir = Path(workdir)
        self.ready_timeout = ready_timeout
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_pids: list[int] = []
        self.info: ClusterInfo | None = None

    def __enter__(self) -> ClusterInfo:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- start ------------------------------------------------------------------------------

    def start(self) -> ClusterInfo:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> ClusterInfo:
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        files = self._write_credentials()
        etcd_port, peer_port, port = free_port(), free_port(), free_port()
        server = f"https://127.0.0.1:{port}"

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self._spawn("etcd", [
            str(self.tools.etcd), "--name=oidc-trust", f"--data-dir={self.workdir / 'etcd-data'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=oidc-trust={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
        ])  # fmt: skip
        self._wait("etcd", lambda: _http_ok(f"{etcd_url}/health", None, None), started)

        self._spawn("kube-apiserver", [
            str(self.tools.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", f"--secure-port={port}",
            "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
            f"--tls-cert-file={files['serving.crt']}", f"--tls-private-key-file={files['serving.key']}",
            f"--cert-dir={self.workdir / 'certs'}",
            f"--token-auth-file={files['tokens.csv']}",
            "--authorization-mode=RBAC", "--anonymous-auth=true",
            f"--service-account-issuer={server}",
            f"--service-account-jwks-uri={server}/openid/v1/jwks",
            f"--service-account-key-file={files['sa.pub']}",
            f"--service-account-signing-key-file={files['sa.key']}",
            f"--api-audiences={server}",
            "--service-cluster-ip-range=10.0.0.0/24",
            # Reach a kubelet (logs, exec) at its node's address, never by its name: no DNS here.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-client-certificate={files['kubelet-client.crt']}",
            f"--kubelet-client-key={files['kubelet-client.key']}",
            "--profiling=false", "--v=1",
        ])  # fmt: skip
        token = files["admin-token"]
        ca = str(files["ca.pem"])
        self._wait("kube-apiserver", lambda: _http_ok(f"{server}/readyz", ca, token), started)
        kubeconfig = self.workdir / "admin.kubeconfig"
        kubeconfig.write_text(admin_kubeconfig(server, files["ca.pem"].read_bytes(), token))
        kubeconfig.chmod(0o600)
        self.info = ClusterInfo(server, ca, token, self.tools.version, 0.0, str(self.workdir), str(kubeconfig))
        self._bootstrap()

        # Every controller at its defaults, acting with the admin's credentials (one user is enough
        # for a test cluster); the root CA is what it publishes as kube-root-ca.crt in every namespace.
        self._spawn("kube-controller-manager", [
            str(self.tools.kube_controller_manager),
            f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}",
            "--leader-elect=false", "--use-service-account-credentials=false",
            f"--root-ca-file={files['ca.pem']}", f"--service-account-private-key-file={files['sa.key']}",
            "--cluster-signing-duration=1h", "--profiling=false", "--v=1",
        ])  # fmt: skip
        self._wait("kube-controller-manager", lambda: _exists(self.info, "/api/v1/namespaces/default/serviceaccounts/default"),
                   started)  # fmt: skip
        self.info = dataclasses.replace(self.info, startup_seconds=round(time.monotonic() - started, 2))
        return self.info

    def _write_credentials(self) -> dict[str, Any]:
        ca = CertificateAuthority("pulumi-oidc-trust test cluster CA")
        certificate, key = ca.issue_server_certificate()
        client_certificate, client_key = ca.issue_client_certificate(KUBELET_CLIENT_USER, "system:masters")
        signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = secrets.token_hex(24)
        contents = {
            "ca.pem": ca.pem(),
            "serving.crt": certificate.public_bytes(serialization.Encoding.PEM),
            "serving.key": key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "sa.key": signing_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "sa.pub": signing_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "tokens.csv": f'{token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'.encode(),
            # The API server's client certificate for kubelets (logs, exec), which trust this CA.
            "kubelet-client.crt": client_certificate.public_bytes(serialization.Encoding.PEM),
            "kubelet-client.key": client_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        }
        files: dict[str, Any] = {"admin-token": token}
        for name, data in contents.items():
            path = self.workdir / name
            path.write_bytes(data)
            path.chmod(0o600)
            files[name] = path
        return files

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")
        try:
            self.processes[name] = subprocess.Popen(
                command, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            self.started_pids.append(self.processes[name].pid)
        finally:
            log.close()

    def _wait(self, name: str, ready, started: float) -> None:
        process = self.processes[name]
        while True:
            if process.poll() is not None:
                raise ClusterStartError(f"{name} exited with code {process.returncode}:\n{self.log_tail(name)}")
            if ready():
                return
            if time.monotonic() - started > self.ready_timeout:
                raise ClusterStartError(
                    f"{name} was not ready within {self.ready_timeout:.0f} s:\n{self.log_tail(name)}"
                )
            time.sleep(0.25)

    def _bootstrap(self) -> None:
        # Pulumi Cloud reads a cluster's discovery document and JWKS anonymously; default RBAC
        # grants that only to service accounts ("defer to the cluster admin").
        body = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": DISCOVERY_BINDING},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:service-account-issuer-discovery"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}],
        }  # fmt: skip
        admin_request(self.info, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- stop -------------------------------------------------------------------------------

    def stop(self) -> None:
        """The controller manager, then kube-apiserver, then etcd; SIGTERM, then SIGKILL after 15 s. Idempotent."""
        self._stop_processes(("kube-controller-manager", "kube-apiserver", "etcd"))

    def _stop_processes(self, names: tuple[str, ...]) -> None:
        """Each of ``names`` this fixture started, in that order: SIGTERM, then SIGKILL after 15 s."""
        for name in names:
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ssl_context(ca_path: str | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=ca_path) if ca_path else None


def _http_ok(url: str, ca_path: str | None, token: str | None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=_ssl_context(ca_path)) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def admin_kubeconfig(server: str, ca_pem: bytes, token: str) -> str:
    """A kubeconfig (JSON is YAML) for the admin user of one cluster: server, CA data, bearer token."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "oidc-trust-test",
        "clusters": [{"name": "oidc-trust-test", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": "oidc-trust-test", "context": {"cluster": "oidc-trust-test", "user": ADMIN_USER}}],
    }, indent=1)  # fmt: skip


def _exists(info: ClusterInfo | None, path: str) -> bool:
    try:
        admin_request(info, "GET", path)
    except (OSError, urllib.error.URLError):
        return False
    return True


def admin_request(info: ClusterInfo, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON request as the admin user (CA-verified); raises on anything but 2xx."""
    request = urllib.request.Request(
        info.server + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {info.admin_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30, context=_ssl_context(info.ca_path)) as response:
        return json.loads(response.read() or b"{}")


def anonymous_get(info: ClusterInfo, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET without credentials (as Pulumi Cloud would): status, headers, body."""
    request = urllib.request.Request(info.server + path)
    try:
        with urllib.request.urlopen(request, timeout=30, context=_ssl_context(info.ca_path)) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


class SharedCluster:
    """One ``LocalCluster`` for every process that uses ``directory`` (the pytest-xdist workers
    of one run), coordinated through a file lock and a small JSON state file.

    ``acquire()``: the first caller starts the cluster (the others wait on the lock) and every
    caller is counted; ``release()``: uncounts, and the process that started the cluster waits
    until nobody else uses it, then stops it. A failed start is recorded, so the other workers
    fail at once with the same message instead of trying again.
    """

    def __init__(self, tools: KubeTools, directory: Path):
        self.tools = tools
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.directory / "lock"
        self._state_path = self.directory / "state.json"
        self.owned: LocalCluster | None = None

    @contextlib.contextmanager
    def _locked(self):
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        if self._state_path.exists():
            return json.loads(self._state_path.read_text())
        return {"users": 0, "info": None, "owner": None, "starts": 0, "failed": None}

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self._state_path)

    def acquire(self) -> ClusterInfo:
        with self._locked():
            state = self._read()
            if state["failed"]:
                raise ClusterStartError(state["failed"])
            if state["info"] is None or not running(state["owner"]):
                cluster = self._new_cluster(self.directory / f"cluster-{state['starts']}")
                state["starts"] += 1
                try:
                    info = self._started(cluster)
                except ClusterStartError as e:
                    state["failed"] = str(e)
                    self._write(state)
                    raise
                self.owned = cluster
                state.update(info=dataclasses.asdict(info), owner=os.getpid(), users=0)
            state["users"] += 1
            self._write(state)
            return self._info(state["info"])

    # What is shared (a subclass shares a bigger cluster: harness.kube_node.SharedNode).
    def _new_cluster(self, workdir: Path) -> LocalCluster:
        return LocalCluster(self.tools, workdir)

    def _started(self, cluster: LocalCluster) -> Any:
        return cluster.start()

    def _info(self, data: dict[str, Any]) -> Any:
        return ClusterInfo(**data)

    @contextlib.contextmanager
    def held(self) -> Iterator[Any]:
        """``acquire()`` for the length of a ``with`` block (a session fixture's body), then ``release()``."""
        info = self.acquire()
        try:
            yield info
        finally:
            self.release()

    def release(self, wait_seconds: float = 1800.0) -> None:
        with self._locked():
            state = self._read()
            state["users"] = max(0, state["users"] - 1)
            self._write(state)
        if self.owned is None:
            return
        deadline = time.monotonic() + wait_seconds
        while True:
            with self._locked():
                state = self._read()
                if state["users"] == 0 or time.monotonic() > deadline:
                    state.update(info=None, owner=None, users=0)
                    self._write(state)
                    break
            time.sleep(0.5)
        self.owned.stop()
        self.owned = None
