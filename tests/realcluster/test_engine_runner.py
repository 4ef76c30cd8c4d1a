"""The runner applied by `pulumi up`: this repository's stack (trust + runner) through the real
engine and the real pulumi-kubernetes plugin (`make pulumi-kubernetes`), against the real API
server with its controller manager, and the emulator as Pulumi Cloud.

The stack's Kubernetes provider is an explicit one, given the fixture's kubeconfig through the
stack config key `runnerKubeconfig`: nothing reads a kubeconfig of the developer's. No kubelet
runs here, so the Job's pod stays Pending: the main flow sets `runnerSkipAwait`, and the awaiting
test shows what a user sees when a Job cannot complete (the Job's deadline, reported by `up`).
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import watch

from harness.pulumi_cli import find_kubernetes_plugin, install_plugin
from harness.pulumi_cli import ROOT
from tests.required_tools import required_tool
from tests.realcli.conftest import program_test  # noqa: F401 (a fixture)
from tests.realcli.programtest import ProgramTest, Result, Step

TEAM = "platform"
FIELD_MANAGER_PREFIX = "pulumi-kubernetes"


@pytest.fixture(scope="session")
def kubernetes_plugin():
    return required_tool(*find_kubernetes_plugin(), "OIDC_TRUST_REQUIRE_CLI")


@pytest.fixture
def runner_stack(program_test, kubernetes_plugin, cluster, emulator, kube) -> Callable[..., ProgramTest]:
    """Factory: this repository's stack, preset kubernetes with the runner deployed into a fresh
    namespace where Pod Security `restricted` is enforced; ``**config`` overrides."""

    def make(stack: str, namespace_labels: dict[str, str] | None = None, **config: Any) -> ProgramTest:
        namespace = kube.namespace(stack, labels={**RESTRICTED_LABELS, **(namespace_labels or {})})
        org = "org-" + secrets.token_hex(4)
        test = program_test(ROOT, stack=stack, config={
            "organization": org, "preset": "kubernetes", "issuerUrl": cluster.issuer,
            "deployRunner": True, "runnerNamespace": namespace, "runnerTeam": TEAM,
            "runnerKubeconfig": cluster.kubeconfig, "runnerSkipAwait": True,
            "oidc:apiUrl": emulator.base_url, **config,
        }, secrets={"oidc:accessToken": emulator.access_token})  # fmt: skip
        install_plugin(test.pulumi_home, kubernetes_plugin)
        test.namespace, test.org = namespace, org  # type: ignore[attr-defined]
        return test

    return make


RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def _children(kube, namespace: str, name: str = "pulumi-login") -> dict[str, Any]:
    """The runner's objects in the cluster (None where absent), and the Job's pods."""
    def read(call):
        try:
            return call()
        except Exception as e:  # the official client's ApiException: 404 means absent
            if getattr(e, "status", None) == 404:
                return None
            raise

    return {
        "ServiceAccount": read(lambda: kube.core.read_namespaced_service_account(name, namespace)),
        "ConfigMap": read(lambda: kube.core.read_namespaced_config_map(f"{name}-entrypoint", namespace)),
        "Job": read(lambda: kube.batch.read_namespaced_job(name, namespace)),
        "pods": kube.core.list_namespaced_pod(namespace, label_selector=f"job-name={name}").items,
    }


def _policy_document(emulator, org: str) -> list[dict] | None:
    issuers = emulator.get(f"/api/orgs/{org}/oidc/issuers").json().get("oidcIssuers", [])
    if not issuers:
        return None
    (issuer,) = issuers
    answer = emulator.get(f"/api/orgs/{org}/auth/policies/oidcissuers/{issuer['id']}").json()
    return answer["policies"]


def test_pulumi_up_applies_trust_and_runner_then_replaces_and_destroys_in_order(runner_stack, kube, emulator):
    system_tmp = Path(tempfile.gettempdir())
    left_before = set(system_tmp.glob("kubeconfig*"))
    test = runner_stack("engine")
    ns, org = test.namespace, test.org

    def everything_exists(result: Result, t: ProgramTest) -> None:
        children = _children(kube, ns)
        assert all(children[kind] is not None for kind in ("ServiceAccount", "ConfigMap", "Job")), children
        job = children["Job"]
        # Applied by pulumi-kubernetes with server-side apply: its field manager owns the spec.
        managers = {m.manager for m in job.metadata.managed_fields if m.operation == "Apply"}
        assert any(m.startswith(FIELD_MANAGER_PREFIX) for m in managers), managers
        assert job.metadata.annotations["pulumi.com/skipAwait"] == "true"
        # The controller manager's Job controller made its pod (Pending: no kubelet here).
        _wait_for(lambda: len(_children(kube, ns)["pods"]) == 1, "the Job controller to create the pod")
        document = _policy_document(emulator, org)
        assert any(p["decision"] == "allow" and p["rules"]["sub"] == f"system:serviceaccount:{ns}:pulumi-login"
                   for p in document), document  # fmt: skip
        kinds = sorted(r["type"] for r in t.resources())
        assert kinds.count("kubernetes:batch/v1:Job") == 1 and "pulumi:providers:kubernetes" in kinds
        # Nothing read a kubeconfig of the developer's: the explicit provider holds the fixture's path.
        (provider,) = [r for r in t.resources() if r["type"] == "pulumi:providers:kubernetes"
                       and r["urn"].endswith("runner-cluster")]  # fmt: skip
        assert provider["inputs"]["kubeconfig"] == kube.kubeconfig_path
        t.first = {k: v.metadata.uid for k, v in children.items() if k != "pods"}  # type: ignore[attr-defined]

    def new_config_map_and_job(result: Result, t: ProgramTest) -> None:
        children = _children(kube, ns)
        uids = {k: v.metadata.uid for k, v in children.items() if k != "pods"}
        first = t.first  # type: ignore[attr-defined]
        assert uids["ConfigMap"] != first["ConfigMap"] and uids["Job"] != first["Job"], "not replaced"
        assert uids["ServiceAccount"] == first["ServiceAccount"]
        assert "pulumi env ls" in children["ConfigMap"].data["entrypoint.sh"]
        # Fixed names: pulumi-kubernetes deletes the old Job first, then creates the new one.
        assert "kubernetes:batch/v1:Job pulumi-login deleted original" in result.stdout, result.stdout
        assert "kubernetes:core/v1:ConfigMap pulumi-login-entrypoint created replacement" in result.stdout
        _wait_for(lambda: {p.metadata.labels.get("controller-uid") for p in _children(kube, ns)["pods"]}
                  == {uids["Job"]}, "the old Job's pod to go and the new Job's pod to come")  # fmt: skip

    test.steps([
        Step(["up", "--yes"], check=everything_exists),
        Step(["preview", "--expect-no-changes"]),
        Step(["refresh", "--yes", "--expect-no-changes"]),
        Step(["up", "--yes"], config={"runnerCommands": ["pulumi whoami -v", "pulumi env ls"]},
             check=new_config_map_and_job, name="change the commands"),
        Step(["preview", "--expect-no-changes"]),
    ])

    # destroy: the Job is gone before the policy closes the issuer. (Not awaited here, so it is deleted
    # with Background propagation and its Pending pod follows; the awaited default, where the pods go
    # first too, is checked on a real node: tests/realnode.)
    order = _DestroyOrder(kube, emulator, ns, org)
    with order:
        test.ok(["destroy", "--yes"])
    order.check(pods=False)
    _wait_for(lambda: _children(kube, ns)["pods"] == [], "the garbage collector to remove the Job's pod")
    assert _children(kube, ns) == {"ServiceAccount": None, "ConfigMap": None, "Job": None, "pods": []}
    assert _policy_document(emulator, org) is None  # the issuer is deleted after its policy closed
    # pulumi-kubernetes writes the kubeconfig it is given (the cluster's credentials) to a temporary
    # file it never deletes: it lands in the test's own home (TMPDIR, harness.cli_environment), never
    # in the system's temporary folder.
    assert list(test.home.glob("kubeconfig*")), "the plugin no longer writes a kubeconfig to TMPDIR"
    assert set(system_tmp.glob("kubeconfig*")) <= left_before


class _DestroyOrder:
    """During a destroy, watches the namespace's Jobs and Pods and records when each was deleted;
    afterwards, reads from the emulator's request log when the policy document was closed (the
    PATCH of the policy route), so the two can be ordered on one clock."""

    POLICY_ROUTE = "/api/orgs/{orgName}/auth/policies/{policyId}"

    def __init__(self, kube, emulator, namespace: str, org: str):
        self.kube, self.emulator, self.namespace, self.org = kube, emulator, namespace, org
        self.deleted: dict[str, float] = {}
        self.closed_at: float | None = None
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._watch, args=(kind,), daemon=True) for kind in ("Job", "Pod")]

    def __enter__(self):
        self.started = time.time()
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # the watches are open before the destroy starts
        return self

    def __exit__(self, *exc):
        time.sleep(1.0)
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        patches = [r for r in self.emulator.stats()["requests"] if r["method"] == "PATCH"
                   and r["route"] == self.POLICY_ROUTE and r["status"] == 200 and r["received"] >= self.started]
        self.closed_at = patches[-1]["received"] if patches else None

    def _watch(self, kind: str) -> None:
        lister = self.kube.batch.list_namespaced_job if kind == "Job" else self.kube.core.list_namespaced_pod
        version = lister(self.namespace).metadata.resource_version
        while not self.stop.is_set():  # short watches, resumed, so the thread ends soon after stop
            try:
                for event in watch.Watch().stream(lister, self.namespace, resource_version=version, timeout_seconds=2):
                    version = event["object"].metadata.resource_version
                    if event["type"] == "DELETED":
                        self.deleted[f"{kind}/{event['object'].metadata.name}"] = time.time()
            except Exception:  # a watch cut short (the cluster's end): resume or stop
                time.sleep(0.2)

    def check(self, *, pods: bool = True) -> None:
        """Every Job (and, with ``pods``, every pod) was deleted before the request that closed the
        policy arrived at the emulator."""
        watched = {k: v for k, v in self.deleted.items() if pods or k.startswith("Job/")}
        assert "Job/pulumi-login" in watched, self.deleted
        assert not pods or any(k.startswith("Pod/") for k in watched), self.deleted
        assert self.closed_at is not None, "no PATCH closed the policy during the destroy"
        assert max(watched.values()) < self.closed_at, (self.deleted, self.closed_at)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def test_a_job_that_cannot_complete_fails_up_at_its_deadline_and_destroy_leaves_nothing(runner_stack, kube):
    """Awaited (no runnerSkipAwait): with no kubelet the pod never runs, so the Job controller fails
    the Job at its activeDeadlineSeconds and `up` reports that, within a bounded time."""
    deadline = 15
    test = runner_stack("await", runnerSkipAwait=False, runnerActiveDeadlineSeconds=deadline)
    started = time.monotonic()
    result = test.run(["up", "--yes"], timeout=240)
    took = time.monotonic() - started
    assert result.returncode != 0, result
    assert "DeadlineExceeded" in result.output or "deadline" in result.output.lower(), result
    job = _children(kube, test.namespace)["Job"]
    assert job is not None and job.metadata.annotations["pulumi.com/timeoutSeconds"] == str(deadline + 120)
    assert any(c.type == "Failed" and c.reason == "DeadlineExceeded" for c in job.status.conditions or [])
    print(f"awaited Job: `pulumi up` failed after {took:.1f} s (activeDeadlineSeconds {deadline})")
    # The state matches the cluster: the failed Job is recorded, so destroy removes it.
    assert [r for r in test.resources() if r["type"] == "kubernetes:batch/v1:Job"]
    test.ok(["destroy", "--yes"])
    assert _children(kube, test.namespace) == {"ServiceAccount": None, "ConfigMap": None, "Job": None, "pods": []}


DENY_LABEL, WARN_LABEL = "oidc-trust-test/deny-jobs", "oidc-trust-test/warn-jobs"
DENY_MESSAGE = "Jobs may not run in this namespace (oidc-trust test policy)"
WARN_MESSAGE = "every Job in this namespace is reviewed (oidc-trust test policy)"


@pytest.fixture(scope="module")
def admission_policies(kube):
    """Two ValidatingAdmissionPolicies on Jobs: one denies, one only warns, each for namespaces
    carrying its label."""
    suffix = secrets.token_hex(3)
    for label, message, action in ((DENY_LABEL, DENY_MESSAGE, "Deny"), (WARN_LABEL, WARN_MESSAGE, "Warn")):
        name = f"{label.rsplit('/', 1)[1]}-{suffix}"
        kube.apply({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{"apiGroups": ["batch"], "apiVersions": ["v1"],
                                                        "operations": ["CREATE", "UPDATE"], "resources": ["jobs"]}]},
                "validations": [{"expression": "false", "message": message}],
            },
        })  # fmt: skip
        kube.apply({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": [action],
                     "matchResources": {"namespaceSelector": {"matchLabels": {label: "true"}}}},
        })  # fmt: skip
    # The API server compiles a new policy within about a second: wait until it acts.
    probe = kube.namespace("probe", labels={DENY_LABEL: "true"})
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "probe", "namespace": probe},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "example.invalid/x:1"}]}}}}

    def denied() -> bool:
        try:
            kube.apply(job, dry_run=True)
        except Exception as e:
            return DENY_MESSAGE in str(getattr(e, "body", e))
        return False

    _wait_for(denied, "the test admission policies to act", timeout=30)
    return suffix


def test_an_admission_warning_is_silenced_by_pulumi_kubernetes(runner_stack, kube, admission_policies):
    """A Warn-only policy: the API server sends its message as a Warning header (the server-side
    apply path shows it), but pulumi-kubernetes 4.25 sets client-go's rest.NoWarnings, so `pulumi up`
    succeeds without it. Documented; this test notices if a later plugin passes warnings on."""
    test = runner_stack("warned", namespace_labels={WARN_LABEL: "true"})
    result = test.ok(["up", "--yes"])
    job = _children(kube, test.namespace)["Job"]
    assert job is not None
    manifest = kube.api.sanitize_for_serialization(job)
    manifest = {k: manifest[k] for k in ("apiVersion", "kind", "spec")} | {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job.metadata.name, "namespace": test.namespace}}
    _, warnings = kube.apply(manifest, dry_run=True)
    assert any(WARN_MESSAGE in w for w in warnings), warnings  # the server does warn
    assert WARN_MESSAGE not in result.output  # ...and the engine's output does not show it
    test.ok(["destroy", "--yes"])


def test_a_job_refused_by_admission_fails_at_preview_with_the_policys_message_and_nothing_is_made(
        runner_stack, kube, emulator, admission_policies):  # fmt: skip
    """pulumi-kubernetes previews with a server-side dry run, so a Deny policy refuses the Job before
    the update begins: neither the trust nor any Kubernetes object is created."""
    test = runner_stack("denied", namespace_labels={DENY_LABEL: "true"})
    for command in (["preview"], ["up", "--yes"]):
        result = test.run(command)
        assert result.returncode != 0, result
        assert DENY_MESSAGE in result.output and "Preview failed" in result.output, result
    assert _children(kube, test.namespace) == {"ServiceAccount": None, "ConfigMap": None, "Job": None, "pods": []}
    assert test.resources() == [] and _policy_document(emulator, test.org) is None  # the state matches: empty
    test.ok(["destroy", "--yes"])
    assert _children(kube, test.namespace)["ConfigMap"] is None and _policy_document(emulator, test.org) is None


def test_the_reuse_example_deploys_its_runner_from_its_own_virtualenv(program_test, kubernetes_plugin, cluster, kube,
                                                                       emulator, tmp_path):  # fmt: skip
    from tests.realcli.test_reuse import _stack_with_its_own_virtualenv

    stack_dir = tmp_path / "reuse"
    _stack_with_its_own_virtualenv(stack_dir)
    kube.apply({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "pulumi", "labels": RESTRICTED_LABELS}})  # the example's namespace
    org = "org-" + secrets.token_hex(4)
    test = program_test(stack_dir, stack="reuse-runner", config={
        "organization": org, "kubeconfig": cluster.kubeconfig, "runnerSkipAwait": True,
        "oidc:apiUrl": emulator.base_url,
    }, secrets={"oidc:accessToken": emulator.access_token})  # fmt: skip
    install_plugin(test.pulumi_home, kubernetes_plugin)

    def runner_exists(result: Result, t: ProgramTest) -> None:
        children = _children(kube, "pulumi", "env-audit")
        assert all(children[kind] is not None for kind in ("ServiceAccount", "ConfigMap", "Job")), children
        assert "pulumi env ls" in children["ConfigMap"].data["entrypoint.sh"]
        assert t.outputs()["runnerSubject"] == "system:serviceaccount:pulumi:env-audit"

    test.steps([
        Step(["up", "--yes"], check=runner_exists),
        Step(["preview", "--expect-no-changes"]),
        Step(["destroy", "--yes"]),
    ])
    assert _children(kube, "pulumi", "env-audit") == {"ServiceAccount": None, "ConfigMap": None, "Job": None,
                                                      "pods": []}  # fmt: skip
