"""Real-node tests: the runner's pod on a real kubelet, with containerd and runc, in a one-node
cluster that runs wholly inside a network namespace of the test run's own (harness.kube_node).

One node per test run, shared by the pytest-xdist workers like the API server is
(``SharedNode``). Every test runs inside that namespace (the autouse fixture below moves the test's
thread in and out), so the emulator it starts, the ``pulumi`` runs and its own checks are there
too, and nothing reaches anything outside it. The emulator listens on the node's address with TLS
(a certificate from this run's CA), so the pods can reach it. Without root, the runtime or the
images the tests skip with the reason; with OIDC_TRUST_REQUIRE_NODE=1 (set by .ci/run) that skip
is a failure instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness.kube_node import NODE_IP, NetworkNamespace, NodeInfo, SharedNode, find_node_tools
from pulumi_oidc_trust.emulator.tls_issuer import CertificateAuthority
from tests.realcli.conftest import program_test, pulumi_cli  # noqa: F401 (fixtures)
from tests.realcluster.conftest import Kube, kube_tools  # noqa: F401 (a fixture)
from tests.required_tools import required_tool

NODE_STARTUP_PROPERTY = "node_startup_seconds"


@pytest.fixture(scope="session")
def node_tools():
    return required_tool(*find_node_tools(), "OIDC_TRUST_REQUIRE_NODE")


@pytest.fixture(scope="session")
def node(kube_tools, node_tools, tmp_path_factory, worker_id) -> NodeInfo:
    """The run's one node (started by the first worker that asks)."""
    base = tmp_path_factory.getbasetemp()
    shared_dir = base if worker_id == "master" else base.parent
    # One namespace name per run (the run's temporary folder is unique), short: `ip netns` names are paths.
    netns = f"oidc-trust-{os.getpid() if worker_id == 'master' else shared_dir.name[-8:]}"
    shared = SharedNode(kube_tools, node_tools, shared_dir / "node", netns)
    with shared.held() as info:
        yield info


@pytest.fixture(autouse=True)
def _inside_the_nodes_namespace(node, request):
    """The test, and all it starts, runs in the node's network namespace."""
    request.node.user_properties.append((NODE_STARTUP_PROPERTY, repr(node.startup_seconds)))
    with NetworkNamespace(node.netns).entered():
        yield


@pytest.fixture
def cluster(node):
    return node.cluster


@pytest.fixture
def kube(node, tmp_path):
    handle = Kube(node.cluster, node.cluster.admin_token, str(tmp_path / "discovery.json"))
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def node_emulator_tls(tmp_path_factory) -> dict[str, Path]:
    """This run's CA and a serving certificate for the node's address: the emulator's TLS."""
    folder = tmp_path_factory.mktemp("emulator-tls")
    ca = CertificateAuthority("pulumi-oidc-trust node test CA")
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    files["ca"].write_bytes(ca.pem())
    ca.write_server_certificate(files["cert"], files["key"], hosts=(NODE_IP,))
    return files


@pytest.fixture
def cloud(start_emulator, node_emulator_tls, node):
    """The emulator as Pulumi Cloud, on the node's address with TLS, trusting the API server's CA
    for the cluster's issuer (it fetches the discovery document and JWKS from it)."""
    tls = node_emulator_tls
    return start_emulator("--host", NODE_IP, "--tls-cert", str(tls["cert"]), "--tls-key", str(tls["key"]),
                          "--issuer-ca", node.cluster.ca_path, ca_path=tls["ca"])  # fmt: skip
