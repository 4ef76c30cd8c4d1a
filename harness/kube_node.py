"""A one-node Kubernetes cluster for tests, wholly inside a network namespace of its own.

In the spirit of Kubernetes' ``hack/local-up-cluster.sh``: one list of processes, each with its
flags, its readiness probe and its log file, started in dependency order and stopped in reverse,
also after a failed start. ``LocalNode(cluster_tools, node_tools, workdir).start()`` creates the
network namespace, then, inside it, the control plane of ``LocalCluster`` (etcd, kube-apiserver,
kube-controller-manager), kube-scheduler, containerd (with the runner and pause images imported
from their OCI archives: no registry is reachable) and the kubelet, and waits for the node to be
Ready.

The network rule of this project's tests: traffic only to loopback, or to hosts in namespaces the
test made itself. The node's pods live in network namespaces of their own, so the whole cluster
runs inside ONE namespace that the fixture creates (``ip netns add``): its own loopback, an
address for the node on that loopback interface (``NODE_IP``: the kubelet refuses a loopback node
IP; the emulator binds it, with TLS, for the pods), and the CNI bridge (``POD_SUBNET``, no masquerade, no
default route: pods reach the node's address and nothing else). Nothing in it can reach anything
outside it. Every client runs in it too: the processes inherit the namespace of the thread that
starts them, and ``NetworkNamespace.entered()`` moves the calling thread in and back out, so the
tests' own checks, the emulator and the ``pulumi`` runs are inside as well.

Why each kubelet setting (``kubelet_config``): this machine has cgroup v1 (``failCgroupV1:
false``) and no systemd (``cgroupDriver: cgroupfs``; containerd 1.6 lacks the CRI
``RuntimeConfig`` call, so the kubelet uses its own setting); image garbage collection is off so
the imported images stay; pods get no DNS (``resolvConf: ""``); and root here lacks
CAP_SYS_RESOURCE, so no OOM score may go below 0 (``oomScoreAdj: 0``, and containerd's
``restrict_oom_score_adj`` for the pods' sandboxes, which the kubelet asks -998 for).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

from .kube_cluster import (
    ROOT,
    ClusterInfo,
    ClusterStartError,
    KubeTools,
    LocalCluster,
    SharedCluster,
    admin_request,
    find_tool,
    free_port,
)

NODE_NAME = "oidc-trust-node"
NODE_IP = "10.99.0.1"
"""The node's address (on the namespace's loopback interface); pods reach it, and the emulator binds it."""
POD_SUBNET = "10.88.0.0/24"
POD_GATEWAY = "10.88.0.1"
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
IMAGES_ENV = ROOT / ".tools" / "images" / "images.env"
NODE_READY_TIMEOUT_SECONDS = 180.0
CLONE_NEWNET = 0x40000000
KUBEPODS = "kubepods"
"""The kubelet's cgroup for pods (cgroupfs driver, cgroupsPerQOS), under every v1 hierarchy."""
RUNTIME_PACKAGES = "containerd runc containernetworking-plugins mmdebstrap"


@dataclasses.dataclass(frozen=True)
class NodeTools:
    """What a node needs beyond the control plane: kubelet and kube-scheduler (``make k8s``),
    containerd, ctr and runc (Debian's packages), the CNI plugins, and the images
    (``make runner-image``)."""

    kubelet: Path
    kube_scheduler: Path
    containerd: Path
    ctr: Path
    runc: Path
    cni_bin_dir: Path
    runner_image: str
    runner_archive: Path
    pause_image: str
    pause_archive: Path


def read_images_env(path: Path = IMAGES_ENV) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def find_node_tools() -> tuple[NodeTools | None, str]:
    """(the tools, "") or (None, why there are none)."""
    if os.geteuid() != 0:
        return None, "the node tests run as root (containerd, the kubelet and network namespaces need it)"
    found: dict[str, Path] = {}
    for name in ("kubelet", "kube-scheduler"):
        if (path := find_tool(name)) is None:
            return None, f"no {name}: run `make k8s` (needs Go 1.26+)"
        found[name] = path
    for name in ("containerd", "ctr", "runc", "ip"):
        if (where := shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")) is None:
            return None, f"no {name}: run `make node` (as root it installs Debian's {RUNTIME_PACKAGES})"
        found[name] = Path(where)
    cni = next((Path(d) for d in CNI_BIN_DIRS if (Path(d) / "bridge").exists()), None)
    if cni is None:
        return None, "no CNI bridge plugin: run `make node` (Debian's containernetworking-plugins)"
    if not IMAGES_ENV.exists():
        return None, "no runner image: run `make runner-image` (as root; builds it offline from Debian's packages)"
    images = read_images_env()
    return NodeTools(
        found["kubelet"], found["kube-scheduler"], found["containerd"], found["ctr"], found["runc"], cni,
        images["RUNNER_IMAGE"], Path(images["RUNNER_ARCHIVE"]), images["PAUSE_IMAGE"], Path(images["PAUSE_ARCHIVE"]),
    ), ""  # fmt: skip


_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


class NetworkNamespace:
    """A named network namespace (``ip netns add``) with loopback up, holding the node's address."""

    def __init__(self, name: str):
        self.name = name
        self.path = Path("/run/netns") / name

    def create(self) -> None:
        self.delete()
        for command in (
            ["ip", "netns", "add", self.name],
            ["ip", "-n", self.name, "link", "set", "lo", "up"],
            # The node's address on the namespace's loopback interface (this kernel has no dummy
            # interfaces); it is not a loopback address, which is all the kubelet asks of a node IP.
            ["ip", "-n", self.name, "addr", "add", f"{NODE_IP}/32", "dev", "lo"],
        ):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise ClusterStartError(f"{' '.join(command)} failed: {done.stderr.strip()}")

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the calling thread (and what it starts: threads, processes) in the namespace."""
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.path, os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(original)
        finally:
            os.close(target)
            os.close(original)

    def delete(self) -> None:
        if self.path.exists():
            subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)


def kubelet_config(workdir: Path, socket: Path, port: int, healthz_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{socket}",
        "address": NODE_IP, "port": port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        # Only the API server (its client certificate, from the cluster's CA) may call the kubelet.
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                           "x509": {"clientCAFile": str(workdir / "ca.pem")}},
        "authorization": {"mode": "AlwaysAllow"},
        "failSwapOn": False,
        "oomScoreAdj": 0,  # the kubelet's own (-999 by default): not allowed without CAP_SYS_RESOURCE
        "resolvConf": "",
        "podLogsDir": str(workdir / "pod-logs"),
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "nodeStatusUpdateFrequency": "2s",
        "syncFrequency": "5s",
    }  # fmt: skip


def containerd_config(workdir: Path, socket: Path, tools: NodeTools, cni_conf_dir: Path) -> str:
    pause = tools.pause_image.split("@", 1)[0]  # imported under this name: nothing is pulled
    return f"""version = 2
root = "{workdir / 'containerd' / 'root'}"
state = "{workdir / 'containerd' / 'state'}"
[grpc]
  address = "{socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{workdir / 'containerd' / 'opt'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  enable_selinux = false
  # This machine withholds CAP_SYS_RESOURCE even from root, so no process may lower its
  # oom_score_adj; the kubelet asks -998 for every pod sandbox (runc then fails with "can't get
  # final child's PID from pipe"). Clamp to containerd's own value instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{tools.runc}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{tools.cni_bin_dir}"
    conf_dir = "{cni_conf_dir}"
"""


def cni_config() -> dict[str, Any]:
    """The pods' network: a bridge in the cluster's namespace, no masquerade, and one route, to the
    node's address (no default route: there is nowhere else to go)."""
    return {
        "cniVersion": "1.0.0",
        "name": "oidc-trust",
        "plugins": [{
            "type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                     "routes": [{"dst": f"{NODE_IP}/32", "gw": POD_GATEWAY}]},
        }],
    }  # fmt: skip


@dataclasses.dataclass(frozen=True)
class NodeInfo:
    """A started node cluster (plain data, shared between test processes as JSON)."""

    cluster: ClusterInfo
    netns: str
    node_name: str
    node_ip: str
    runner_image: str
    startup_seconds: dict[str, float]
    """Seconds from the start to each process being ready (the node's figure is its Ready condition)."""

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "NodeInfo":
        data = json.loads(text)
        return cls(**{**data, "cluster": ClusterInfo(**data["cluster"])})


class LocalNode(LocalCluster):
    """``LocalCluster``'s control plane plus kube-scheduler, containerd and the kubelet, all in one
    network namespace (``netns``)."""

    NODE_PROCESSES = ("kubelet", "containerd", "kube-scheduler")

    def __init__(self, tools: KubeTools, node_tools: NodeTools, workdir: Path, *, netns: str):
        super().__init__(tools, workdir)
        self.node_tools = node_tools
        self.netns = NetworkNamespace(netns)
        self.socket = Path(workdir) / "containerd" / "containerd.sock"
        self.node: NodeInfo | None = None
        self.readiness: dict[str, float] = {}

    def _start(self) -> ClusterInfo:  # type: ignore[override]
        started = time.monotonic()
        self.netns.create()
        with self.netns.entered():
            info = super()._start()
            self.readiness["control plane"] = round(time.monotonic() - started, 2)
            self._start_node(info, started)
        self.node = NodeInfo(info, self.netns.name, NODE_NAME, NODE_IP, self.node_tools.runner_image,
                             dict(self.readiness))  # fmt: skip
        return info

    def _start_node(self, info: ClusterInfo, started: float) -> None:
        tools, work = self.node_tools, self.workdir
        kubeconfig = Path(info.kubeconfig)
        self._spawn("kube-scheduler", [
            str(tools.kube_scheduler), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--v=1",
        ])  # fmt: skip

        cni_dir = work / "cni"
        cni_dir.mkdir(parents=True, exist_ok=True)
        (cni_dir / "10-oidc-trust.conflist").write_text(json.dumps(cni_config(), indent=1))
        (work / "containerd").mkdir(parents=True, exist_ok=True)
        config = work / "containerd" / "config.toml"
        config.write_text(containerd_config(work, self.socket, tools, cni_dir))
        self._spawn("containerd", [str(tools.containerd), f"--config={config}", "--log-level=warn"])
        self._wait("containerd", lambda: self._ctr("version").returncode == 0, started)
        for archive, reference in ((tools.pause_archive, tools.pause_image), (tools.runner_archive, tools.runner_image)):
            # Unpacked (the CRI treats an image not unpacked for its snapshotter as absent), and also
            # named NAME@DIGEST, the record a registry pull makes, which a digest-pinned pod looks up.
            tagged, digest = reference.split("@", 1)
            for args in (("images", "import", str(archive)), ("images", "tag", tagged, f"{tagged.rsplit(':', 1)[0]}@{digest}")):
                done = self._ctr(*args, timeout=300)
                if done.returncode != 0:
                    raise ClusterStartError(f"ctr {' '.join(args)} failed: {done.stderr.strip()}")
        self.readiness["containerd + images"] = round(time.monotonic() - started, 2)

        kubelet_dir = work / "kubelet"
        kubelet_dir.mkdir(parents=True, exist_ok=True)
        kubelet_yaml = work / "kubelet.yaml"
        kubelet_yaml.write_text(json.dumps(kubelet_config(work, self.socket, free_port(), free_port()), indent=1))
        self._spawn("kubelet", [
            str(tools.kubelet), f"--config={kubelet_yaml}", f"--kubeconfig={kubeconfig}",
            f"--root-dir={kubelet_dir}", f"--cert-dir={work / 'kubelet-pki'}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_IP}", "--v=1",
        ])  # fmt: skip
        self.ready_timeout = max(self.ready_timeout, NODE_READY_TIMEOUT_SECONDS)
        self._wait("kubelet", lambda: node_ready(info), started)
        self.readiness["node Ready"] = round(time.monotonic() - started, 2)

    def _ctr(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.node_tools.ctr), f"--address={self.socket}", "--namespace=k8s.io", *args],
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip

    def stop(self) -> None:
        """The kubelet, containerd and every container it started, the scheduler, then the control
        plane; mounts left under the work folder are unmounted and the namespace is deleted."""
        self._stop_processes(self.NODE_PROCESSES)
        self._kill_pod_processes()
        self._kill_shims()
        super().stop()
        self._unmount_all()
        self.netns.delete()

    def _kill_pod_processes(self) -> None:
        """Every process of every pod (they live in the kubelet's ``kubepods`` cgroups, and outlive
        the kubelet and their shims), then those cgroups themselves."""
        roots = [hierarchy / KUBEPODS for hierarchy in Path("/sys/fs/cgroup").iterdir()]
        for _ in range(3):
            pids = {int(pid) for root in roots if root.is_dir() for procs in root.rglob("cgroup.procs")
                    for pid in procs.read_text().split()}  # fmt: skip
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        for root in roots:
            if root.is_dir():
                for folder in sorted((d for d in root.rglob("*") if d.is_dir()), key=lambda d: len(d.parts),
                                     reverse=True) + [root]:  # fmt: skip
                    with contextlib.suppress(OSError):
                        folder.rmdir()

    def _kill_shims(self) -> None:
        """containerd's shims outlive it (by design): end them and the containers they hold."""
        marker = str(self.socket).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and marker in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(proc.name), signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)
        time.sleep(0.5)

    def _unmount_all(self) -> None:
        work = str(self.workdir.resolve())
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for point in sorted((m for m in mounts if m.startswith(work)), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)


def node_ready(info: ClusterInfo) -> bool:
    try:
        node = admin_request(info, "GET", f"/api/v1/nodes/{NODE_NAME}")
    except OSError:
        return False
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))


class SharedNode(SharedCluster):
    """One ``LocalNode`` for every pytest-xdist worker of a run (see ``SharedCluster``)."""

    def __init__(self, tools: KubeTools, node_tools: NodeTools, directory: Path, netns: str):
        super().__init__(tools, directory)
        self.node_tools = node_tools
        self.netns = netns

    def _new_cluster(self, workdir: Path) -> LocalCluster:
        return LocalNode(self.tools, self.node_tools, workdir, netns=self.netns)

    def _started(self, cluster: LocalCluster) -> NodeInfo:
        cluster.start()
        assert isinstance(cluster, LocalNode) and cluster.node is not None
        return cluster.node

    def _info(self, data: dict[str, Any]) -> NodeInfo:
        return NodeInfo(**{**data, "cluster": ClusterInfo(**data["cluster"])})
