"""examples/reuse: another stack's program using the components, run under mocks."""

from __future__ import annotations

from pathlib import Path

import yaml

from pulumi_oidc_trust.components.presets import GITHUB_ISSUER_URL, gke_issuer_url
from tests.test_trust import ISSUER, JOB, POLICY, RUNNER, TRUST, check_failures, run_program

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reuse"


def test_reuse_example_builds_two_trusts_and_a_job_that_waits_for_its_policy():
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["name"]
    exports, monitor = run_program(
        EXAMPLE / "__main__.py", project=project, stack="dev", config={f"{project}:organization": "acme"}
    )
    assert exports == {
        "clusterIssuerId": "issuer-1",
        "runnerJobName": "env-audit",
        "runnerSubject": "system:serviceaccount:pulumi:env-audit",
        "githubIssuerId": "issuer-1",
    }
    assert len(monitor.of_type(TRUST)) == 2 and len(monitor.of_type(RUNNER)) == 1
    issuers = {r.name: r.inputs["url"] for r in monitor.of_type(ISSUER)}
    assert issuers == {"gke-prod": gke_issuer_url("acme-prod", "us-central1", "prod"), "github": GITHUB_ISSUER_URL}
    policies = {r.name: r for r in monitor.of_type(POLICY)}
    for policy in policies.values():
        assert check_failures(policy.inputs) == []
    assert policies["gke-prod-policy"].urn in monitor.one(JOB).dependencies
    (github,) = policies["github-policy"].inputs["policies"]
    assert github["rules"]["sub"] == "repo:acme/platform-infra:environment:production"
    assert github["role_id"] == "stack-deployer"


def test_reuse_example_installs_this_repository_with_pip():
    lines = (EXAMPLE / "requirements.txt").read_text().splitlines()
    assert "-e ../.." in lines
    assert "# pulumi-oidc-trust @ git+https://github.com/OWNER/REPO@TAG" in lines
    assert (EXAMPLE / "../../pyproject.toml").resolve().is_file()


def test_reuse_example_without_the_runner_keeps_its_trust_and_creates_no_job():
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["name"]
    exports, monitor = run_program(
        EXAMPLE / "__main__.py", project=project, stack="dev",
        config={f"{project}:organization": "acme", f"{project}:deployRunner": "false"},
    )
    assert monitor.of_type(RUNNER) == [] and monitor.of_type(JOB) == []
    assert exports["runnerJobName"] is None
    assert exports["runnerSubject"] == "system:serviceaccount:pulumi:env-audit"
    (rule,) = {r.name: r for r in monitor.of_type(POLICY)}["gke-prod-policy"].inputs["policies"]
    assert rule["rules"]["sub"] == "system:serviceaccount:pulumi:env-audit" and rule["team_name"] == "platform"
