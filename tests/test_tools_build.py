"""`make pulumi`'s and `make k8s`'s inputs: one place for the versions, pinned wrapper modules,
clean scripts.

(The builds run in `make pulumi` / `make k8s`, never inside pytest; the real-CLI and real-cluster
tests use their results.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.dynamic_host import ROOT

TOOLS = ROOT / "tools" / "pulumi"
K8S = ROOT / "tools" / "k8s"
K8S_PLUGIN = ROOT / "tools" / "pulumi-kubernetes"
SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def _versions(folder: Path = TOOLS) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (folder / "versions.env").read_text().splitlines()
             if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def _go_line_fits_the_machine(go_mod: str) -> bool:
    (go_line,) = re.findall(r"^go (\S+)$", go_mod, re.M)
    return tuple(int(p) for p in go_line.split(".")) <= (1, 26, 8)


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
    assert _go_line_fits_the_machine(go_mod)


def test_the_kubernetes_wrapper_maps_every_staging_module_to_the_release_versions_env_names():
    versions = _versions(K8S)
    assert versions["GOTOOLCHAIN"] == "local"
    release, staging = versions["KUBERNETES_VERSION"], versions["KUBERNETES_STAGING_VERSION"]
    assert re.fullmatch(r"v1\.\d+\.\d+", release) and staging == "v0." + release.removeprefix("v1.")
    go_mod = (K8S / "kubernetes" / "go.mod").read_text()
    assert re.findall(r"^\s*k8s\.io/kubernetes (\S+)", go_mod, re.M) == [release]
    # Every command build.sh builds (KUBE_TOOLS) is a tool of the one wrapper module, so go.sum covers it.
    tools = re.fullmatch(r"\((.*)\)", versions["KUBE_TOOLS"]).group(1).split()
    assert tools == ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"]
    (tool_block,) = re.findall(r"^tool \((.*?)\)", go_mod, re.M | re.S)
    assert tool_block.split() == [f"k8s.io/kubernetes/cmd/{tool}" for tool in tools]
    replaces = re.findall(r"^\s*(k8s\.io/[\w.-]+) => (k8s\.io/[\w.-]+) (\S+)$", go_mod, re.M)
    assert len(replaces) >= 33  # 1.36: 31 older staging modules + cri-streaming + streaming
    assert all(source == target and version == staging for source, target, version in replaces), replaces
    assert {"k8s.io/api", "k8s.io/apiserver", "k8s.io/client-go", "k8s.io/streaming"} <= {r[0] for r in replaces}
    assert _go_line_fits_the_machine(go_mod)

    etcd_mod = (K8S / "etcd" / "go.mod").read_text()
    assert re.findall(r"^\s*go\.etcd\.io/etcd/server/v3 (\S+)", etcd_mod, re.M) == [versions["ETCD_VERSION"]]
    assert "tool go.etcd.io/etcd/server/v3" in etcd_mod and "replace" not in etcd_mod
    assert _go_line_fits_the_machine(etcd_mod)
    for folder, module, version in (("kubernetes", "k8s.io/kubernetes", release),
                                    ("etcd", "go.etcd.io/etcd/server/v3", versions["ETCD_VERSION"])):  # fmt: skip
        assert (K8S / folder / "go.sum").read_text().count(f"{module} {version}") == 2, folder


def test_the_kubernetes_plugin_is_the_release_the_python_sdk_asks_for():
    versions = _versions(K8S_PLUGIN)
    assert versions["GOTOOLCHAIN"] == "local"
    go_mod = (K8S_PLUGIN / "go.mod").read_text()
    module = "github.com/pulumi/pulumi-kubernetes/provider/v4"
    assert re.findall(rf"^(?:require )?\s*{re.escape(module)} (\S+)", go_mod, re.M) == [versions["PROVIDER_MODULE_VERSION"]]
    assert (K8S_PLUGIN / "go.sum").read_text().count(f"{module} {versions['PROVIDER_MODULE_VERSION']}") == 2
    # Its own module: the provider's pulumi dependencies stay at what it was released with.
    assert re.findall(r"^\s*github\.com/pulumi/pulumi/pkg/v3 (\S+)", go_mod, re.M) == ["v3.215.0"]
    assert _go_line_fits_the_machine(go_mod)
    # The engine asks for the plugin at the Python SDK's version: the lock pins that same release.
    lock = (ROOT / "requirements.lock").read_text()
    assert re.findall(r"^pulumi-kubernetes==(\S+) ", lock, re.M) == [versions["PULUMI_KUBERNETES_VERSION"]]


SCRIPTS = [TOOLS / "build.sh", K8S / "build.sh", K8S_PLUGIN / "build.sh", ROOT / "tools" / "runner-image" / "build.sh",
           ROOT / "tools" / "node" / "install-runtime.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT / "tools")))
def test_the_build_script_is_shellcheck_clean(script):
    out = subprocess.run([str(SHELLCHECK), "-x", str(script)], cwd=script.parent, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_nothing_built_is_committed_and_the_link_folder_is_ignored():
    tracked = subprocess.run(["git", "ls-files", "tools", ".tools"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert sorted(tracked) == sorted([
        "tools/pulumi/build.sh", "tools/pulumi/go.mod", "tools/pulumi/go.sum", "tools/pulumi/versions.env",
        "tools/pulumi/pulumi-language-python/main.go",
        "tools/k8s/build.sh", "tools/k8s/versions.env",
        "tools/k8s/kubernetes/go.mod", "tools/k8s/kubernetes/go.sum",
        "tools/pulumi-kubernetes/build.sh", "tools/pulumi-kubernetes/go.mod", "tools/pulumi-kubernetes/go.sum",
        "tools/pulumi-kubernetes/versions.env", "tools/pulumi-kubernetes/pulumi-resource-kubernetes/main.go",
        "tools/runner-image/build.sh", "tools/runner-image/oci.py", "tools/runner-image/versions.env",
        "tools/runner-image/pause/main.go", "tools/node/install-runtime.sh",
        "tools/k8s/etcd/go.mod", "tools/k8s/etcd/go.sum",
    ])
    assert ".tools" in (ROOT / ".gitignore").read_text().splitlines()  # also a link to it (a worktree)
