"""Shared test fixtures for the Kubernetes runner: argument cases, a recording mock monitor,
a Pod Security Standards checker and the Kubernetes schema version to validate against."""

from __future__ import annotations

import dataclasses
from typing import Any

import kubernetes_validate
import pulumi
from pulumi.runtime.mocks import MockMonitor

# The newest Kubernetes release whose OpenAPI schemas kubernetes-validate ships.
K8S_VERSION = kubernetes_validate.latest_version()

ROLE_ARN = "arn:aws:iam::123456789012:role/pulumi-deployer"
COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b"
KNOWN_HOSTS = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"

# Values a shell would expand, split, glob or execute if they were inserted unquoted.
HOSTILE = "acme corp 'single' \"double\" $(touch /tmp/pwned) `touch /tmp/pwned` ; * \n$HOME \\ end"

# Argument sets exercised by every manifest, component and script test.
CASES: dict[str, dict[str, Any]] = {
    "default": {"organization": "acme"},
    "eks": {
        "organization": "acme",
        "token": "eks",
        "service_account_annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN},
    },
    "team": {"organization": "acme", "team": "platform", "expiration": "2h"},
    "user": {"organization": "acme", "user": "alice", "expiration": 3600},
    "custom-commands": {
        "organization": "acme",
        "commands": ["pulumi stack select acme/infra/prod", "pulumi up --yes --skip-preview"],
        "env": {"AWS_REGION": "eu-west-1"},
    },
    "token-file": {"organization": "acme", "token": "/var/run/secrets/tokens/pulumi", "token_audience": "pulumi"},
    "named-service-account": {"organization": "acme", "namespace": "infra", "service_account_name": "deployer"},
    "tuned": {
        "organization": "acme",
        "namespace": "ci",
        "api_url": "https://api.example.com",
        "image": "pulumi/pulumi:3.272.0@sha256:" + "0" * 64,
        "token_expiration_seconds": 600,
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "backoff_limit": 1,
        "active_deadline_seconds": 1800,
        "ttl_seconds_after_finished": 300,
        "labels": {"team": "platform"},
        "skip_await": True,
    },
    "hostile-values": {"organization": HOSTILE, "team": HOSTILE, "token": "/tmp/" + HOSTILE + "/token"},
    # Program sources (components/runner_source.py)
    "image-program": {"organization": "acme", "image": "acme/infra-program:1.4.0", "working_dir": "/app",
                      "stack": "acme/infra/prod", "commands": ["pulumi up --yes --skip-preview"]},
    "image-program-copied": {"organization": "acme", "image": "acme/infra-program:1.4.0", "working_dir": "/app/infra",
                             "copy_program_to_workspace": True, "stack": "acme/infra/prod"},
    "git-public": {"organization": "acme", "stack": "acme/infra/prod",
                   "git": {"repository": "https://github.com/acme/infra.git", "commit": COMMIT, "path": "stacks/prod"}},
    "git-basic-auth": {"organization": "acme", "namespace": "ci",
                       "git": {"repository": "https://git.example.com/acme/infra.git", "commit": COMMIT,
                               "basic_auth_secret": "infra-deploy-token"}},
    "git-ssh": {"organization": "acme", "git": {"repository": "git@git.example.com:acme/infra.git", "commit": COMMIT,
                                                  "ssh_auth_secret": "infra-deploy-key", "known_hosts": KNOWN_HOSTS}},
    "pass-through": {"organization": "acme", "working_dir": "/src",
                     "volumes": [{"name": "program", "persistentVolumeClaim": {"claimName": "infra-src", "readOnly": True}},
                                 {"name": "aws", "secret": {"secretName": "aws-config"}}],
                     "volume_mounts": [{"name": "program", "mountPath": "/src", "readOnly": True},
                                       {"name": "aws", "mountPath": "/home/pulumi/.aws", "readOnly": True}],
                     "env_from": [{"secretRef": {"name": "aws-credentials"}}, {"configMapRef": {"name": "infra-env"}, "prefix": "INFRA_"}]},
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Mocks that record what the program registers


@dataclasses.dataclass
class Registration:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    provider: str
    custom: bool


class EchoMocks(pulumi.runtime.Mocks):
    """Every resource's state is its inputs, with a predictable id."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps what the SDK sent: parent, dependencies, provider."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method's name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=self.resources[response.urn].state,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                    custom=request.custom,
                )
            )
        return response

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, got {[r.name for r in self.registrations]}"
        return found[0]


def install_mocks(*, preview: bool = False) -> RecordingMonitor:
    mocks = EchoMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="proj", stack="dev", preview=preview, monitor=monitor)
    return monitor


# --------------------------------------------------------------------------------------------
# Pod Security Standards, https://kubernetes.io/docs/concepts/security/pod-security-standards/

_RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
_BASELINE_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip


def pod_security_violations(pod: dict[str, Any]) -> list[str]:
    """Every way `pod` (a PodSpec) breaks the "restricted" profile (which includes "baseline"),
    plus the two scanner checks the runner also promises: read-only root filesystem and no
    auto-mounted API token. An empty list means it passes."""
    found: list[str] = []
    pod_sc = pod.get("securityContext") or {}
    containers = [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]

    # Baseline
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            found.append(f"{field} is true")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if "hostPath" in kinds:
            found.append(f"volume {volume['name']} is a hostPath")
        if not kinds <= _RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume['name']} has a type outside the restricted set: {sorted(kinds)}")
    for sysctl in pod_sc.get("sysctls", []):
        if sysctl["name"] not in _SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl['name']} is not safe")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("pod is a Windows hostProcess")
    found += _selinux_violations("pod", pod_sc)
    found += _seccomp_apparmor_violations("pod", pod_sc)
    if pod_sc.get("runAsUser") == 0:
        found.append("pod runAsUser is 0")

    for container in containers:
        name = container["name"]
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            found.append(f"container {name} is privileged")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            found.append(f"container {name} uses a hostPort")
        if sc.get("procMount", "Default") != "Default":
            found.append(f"container {name} procMount is {sc['procMount']}")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"container {name} is a Windows hostProcess")
        found += _selinux_violations(f"container {name}", sc)
        found += _seccomp_apparmor_violations(f"container {name}", sc)

        # Restricted
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name} does not set allowPrivilegeEscalation: false")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            found.append(f"container {name} is not runAsNonRoot")
        if sc.get("runAsUser") == 0:
            found.append(f"container {name} runAsUser is 0")
        # pulumi/pulumi's image runs as root: without a numeric uid the kubelet refuses to start
        # a runAsNonRoot container, so the runner must name one.
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            found.append(f"container {name} has no numeric non-root runAsUser")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"container {name} seccompProfile is {seccomp!r}")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"container {name} does not drop ALL capabilities")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"container {name} adds capabilities {capabilities['add']}")

        # Beyond PSS: what the runner promises on top (checkov CKV_K8S_22).
        if sc.get("readOnlyRootFilesystem") is not True:
            found.append(f"container {name} root filesystem is writable")

    if pod.get("automountServiceAccountToken") is not False:
        found.append("pod auto-mounts the service account API token")
    if pod.get("restartPolicy") != "Never":
        found.append(f"restartPolicy is {pod.get('restartPolicy')!r}, not Never")
    return found


def _selinux_violations(where: str, sc: dict[str, Any]) -> list[str]:
    options = sc.get("seLinuxOptions") or {}
    found = []
    if options.get("type", "") not in _BASELINE_SELINUX_TYPES:
        found.append(f"{where} seLinuxOptions.type is {options['type']}")
    if options.get("user") or options.get("role"):
        found.append(f"{where} sets seLinuxOptions user or role")
    return found


def _seccomp_apparmor_violations(where: str, sc: dict[str, Any]) -> list[str]:
    found = []
    if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        found.append(f"{where} seccompProfile is Unconfined")
    if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        found.append(f"{where} appArmorProfile is Unconfined")
    return found
