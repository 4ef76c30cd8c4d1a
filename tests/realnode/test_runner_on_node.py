"""The runner's pod on a real node: `pulumi up` (real engine, real pulumi-kubernetes) creates the
trust and the runner; the Job controller makes the pod, the scheduler binds it, the kubelet projects
its service-account token and runs its containers through containerd and runc (no pod is made by
hand, no fake kubelet); the pod logs in to the emulator with that token and runs its commands, and
`pulumi up` returns once the Job completed. A runner the policy does not admit fails visibly, and
`destroy` removes the Jobs and their pods before the policy closes the issuer.
"""

from __future__ import annotations

import re
import secrets
import warnings
from pathlib import Path

import pytest

from harness.kube_node import NODE_IP
from harness.pulumi_cli import find_kubernetes_plugin, install_plugin
from tests.realcli.programtest import ProgramTest, Result, Step, program_copy
from tests.realcluster.test_engine_runner import RESTRICTED_LABELS, _children, _DestroyOrder
from tests.required_tools import required_tool

PROGRAM = Path(__file__).parent / "programs" / "runner"
TEAM = "platform"


@pytest.fixture
def program(tmp_path) -> Path:
    return program_copy(PROGRAM, tmp_path / "node-runner", "node-runner")


@pytest.fixture
def node_stack(program_test, program, node, cloud, kube, node_emulator_tls):
    plugin = required_tool(*find_kubernetes_plugin(), "OIDC_TRUST_REQUIRE_NODE")
    namespace = kube.namespace("runner", labels=RESTRICTED_LABELS)
    org = "org-" + secrets.token_hex(4)
    ca = str(node_emulator_tls["ca"])
    test = program_test(program, stack="node", config={
        "organization": org, "namespace": namespace, "kubeconfig": node.cluster.kubeconfig,
        "issuerUrl": node.cluster.issuer, "caFile": ca,
        "image": node.runner_image, "runnerApiUrl": cloud.base_url, "deadline": 300,
        "commands": ["pulumi whoami -v", "pulumi env ls"],
        "oidc:apiUrl": cloud.base_url,
    }, secrets={"oidc:accessToken": cloud.access_token},
        env={"REQUESTS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca})  # the stack's own provider trusts the emulator too
    install_plugin(test.pulumi_home, plugin)
    test.namespace, test.org = namespace, org  # type: ignore[attr-defined]
    return test


@pytest.mark.timeout(900)
def test_the_runner_pod_logs_in_with_its_projected_token_and_a_refused_runner_fails_visibly(
        node_stack, node, kube, cloud):  # fmt: skip
    test: ProgramTest = node_stack
    ns, org = test.namespace, test.org
    assert cloud.base_url == f"https://{NODE_IP}:{cloud.port}"

    def logged_in_and_completed(result: Result, t: ProgramTest) -> None:
        children = _children(kube, ns)
        job = children["Job"]
        # `pulumi up` returned only after the Job completed: pulumi-kubernetes awaited it.
        assert job.status.succeeded == 1 and job.status.completion_time is not None, job.status
        (pod,) = children["pods"]
        assert pod.status.phase == "Succeeded" and pod.spec.node_name == node.node_name
        assert pod.metadata.owner_references[0].kind == "Job"  # made by the Job controller
        # The emulator verified the kubelet-projected token of exactly this pod.
        (granted,) = [e for e in cloud.exchanges() if e["outcome"] == "granted" and e["org"] == org]
        claims = granted["claims"]
        assert claims["sub"] == f"system:serviceaccount:{ns}:pulumi-login"
        assert claims["aud"] in (f"urn:pulumi:org:{org}", [f"urn:pulumi:org:{org}"])
        assert claims["iss"] == node.cluster.issuer
        assert claims["kubernetes.io"]["pod"] == {"name": pod.metadata.name, "uid": pod.metadata.uid}
        assert granted["token_type"] == "team" and granted["name"] == TEAM
        log = kube.core.read_namespaced_pod_log(pod.metadata.name, ns, container="pulumi")
        assert f"team: {TEAM}" in log, log
        assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}\.", log) and "pul-" not in log, "a token is in the pod's log"
        t.first_pod = pod.metadata.uid  # type: ignore[attr-defined]

    def the_refusal_reaches_the_user(result: Result, t: ProgramTest) -> None:
        refused = [e for e in cloud.exchanges() if e["outcome"] != "granted" and e["org"] == org]
        assert refused and refused[-1]["claims"]["sub"] == f"system:serviceaccount:{ns}:intruder", (
            cloud.exchanges(), result.output[-6000:])
        # Through `pulumi up`'s own output (the pod's termination message), not by reading pod logs.
        assert "no authorization policy allows this exchange" in result.output, result
        intruder = _children(kube, ns, "intruder")
        assert len(intruder["pods"]) == 1  # backoffLimit 0: exactly one pod
        assert any(c.type == "Failed" for c in intruder["Job"].status.conditions or [])

    test.steps([
        Step(["up", "--yes"], check=logged_in_and_completed, name="up: trust, then the runner, awaited"),
        Step(["preview", "--expect-no-changes"]),
    ])

    # A runner the policy does not admit. Twice in about ten runs here its pod failed before it
    # reached the emulator (no exchange logged; cause not found, see the closing note), so a failed
    # `up` without an exchange is retried once: the failed Job carries replaceUnready, and the next
    # `up` replaces it, as a user's would. The refusal itself must then reach the user.
    test.set_config({"intruder": True})
    for attempt in (1, 2):
        result = test.run(["up", "--yes"])
        assert result.returncode != 0, result
        tried = [e for e in cloud.exchanges() if e["outcome"] != "granted" and e["org"] == org]
        if tried or attempt == 2:
            break
        # A warning, not a print: the summary shows it even when the retry passes, so the next
        # occurrence says what the pod did (a print is only shown for a failed test).
        warnings.warn(f"the intruder's pod failed before any exchange (attempt {attempt}); "
                      f"pods: {_pod_report(kube, ns, 'intruder')}\n{result.output[-3000:]}")
    the_refusal_reaches_the_user(result, test)

    order = _DestroyOrder(kube, cloud, ns, org)
    with order:
        test.ok(["destroy", "--yes"], timeout=600)
    order.check()
    assert _children(kube, ns)["Job"] is None and _children(kube, ns, "intruder")["Job"] is None
    assert kube.core.list_namespaced_pod(ns).items == []


def _pod_report(kube, namespace: str, job: str) -> str:
    """What the Job's pods did: phase, each container's last state, and the namespace's events
    about them (scheduling, image, sandbox, mount), for a failure that never reached the emulator."""
    lines = []
    for pod in _children(kube, namespace, job)["pods"]:
        lines.append(f"{pod.metadata.name}: {pod.status.phase} {pod.status.reason or ''} {pod.status.message or ''}")
        for c in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or []):
            state = c.state.terminated or c.state.waiting or c.state.running
            lines.append(f"  {c.name}: {state}")
        events = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod.metadata.name}")
        lines += [f"  event {e.type} {e.reason}: {e.message}" for e in events.items]
    return "\n".join(lines) or "none"
