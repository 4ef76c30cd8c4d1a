"""The control-plane fixture itself: what it starts, that it says why it failed, and that it
leaves nothing running."""

from __future__ import annotations

import dataclasses
import json
import ssl
import urllib.request
from pathlib import Path

import pytest

from harness.kube_cluster import READY_TIMEOUT_SECONDS, ClusterStartError, LocalCluster, running


def test_the_shared_cluster_reports_its_version_and_start_up_time(cluster, kube_tools):
    assert cluster.version == kube_tools.version == "v1.36.3"
    assert 0 < cluster.startup_seconds < READY_TIMEOUT_SECONDS
    assert cluster.issuer == cluster.server and cluster.server.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=cluster.ca_path)
    with urllib.request.urlopen(cluster.server + "/version", context=context) as response:
        version = json.loads(response.read())
    # Stamped: clients such as pulumi-kubernetes read major/minor from here (unstamped: v0.0.0).
    assert (version["gitVersion"], version["major"], version["minor"]) == ("v1.36.3", "1", "36")


def test_a_failed_start_stops_what_it_started_and_quotes_the_log(kube_tools, tmp_path):
    broken = dataclasses.replace(kube_tools, kube_apiserver=Path("/bin/false"))
    cluster = LocalCluster(broken, tmp_path)
    with pytest.raises(ClusterStartError, match="kube-apiserver exited with code 1"):
        cluster.start()
    assert len(cluster.started_pids) == 2 and cluster.processes == {}
    assert not any(running(pid) for pid in cluster.started_pids)


def test_stop_ends_both_processes(kube_tools, tmp_path):
    cluster = LocalCluster(kube_tools, tmp_path)
    with cluster as info:
        assert info.startup_seconds > 0
        assert all(running(pid) for pid in cluster.started_pids)
    assert not any(running(pid) for pid in cluster.started_pids)


def test_the_controller_manager_makes_pods_of_jobs_and_finishes_foreground_deletes(kube):
    """What pulumi-kubernetes relies on: the Job controller, the garbage collector (its deletes use
    Foreground propagation), the default ServiceAccount of a new namespace."""
    from kubernetes import client as k8s_client

    from .test_engine_runner import _wait_for

    namespace = kube.namespace("kcm", labels={})
    _wait_for(lambda: [a.metadata.name for a in kube.core.list_namespaced_service_account(namespace).items]
              == ["default"], "the default ServiceAccount")  # fmt: skip
    kube.apply({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": namespace},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "c", "image": "example.invalid/x:1"}]}}}})
    pods = lambda: kube.core.list_namespaced_pod(namespace, label_selector="job-name=j").items  # noqa: E731
    _wait_for(lambda: len(pods()) == 1, "the Job controller to create the pod")
    assert pods()[0].status.phase == "Pending"  # no kubelet here
    kube.batch.delete_namespaced_job("j", namespace, body=k8s_client.V1DeleteOptions(propagation_policy="Foreground"))
    _wait_for(lambda: not kube.batch.list_namespaced_job(namespace).items and not pods(),
              "the foreground delete of the Job and its pod")  # fmt: skip
