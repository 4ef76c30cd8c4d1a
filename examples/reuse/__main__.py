"""Reusing the oidc-trust components from another stack.

Two trusts in one organization: a GKE cluster, with a nightly Job in it that logs in through
that trust for the team "platform" (OidcTrust creates the Job after the policy that admits it),
and the GitHub repository whose production deployments run this stack. Replace the example
names and ids with yours.
"""

import pulumi

from pulumi_oidc_trust import (
    GITHUB_ISSUER_URL,
    Grant,
    OidcLoginJobArgs,
    OidcTrust,
    github_actions,
    gke_issuer_url,
)

organization = pulumi.Config().require("organization")

cluster = OidcTrust(
    "gke-prod",
    organization=organization,
    issuer_url=gke_issuer_url("acme-prod", "us-central1", "prod"),
    policies=[],  # only the runner's own policy
    max_expiration_seconds=3600,
    runner=OidcLoginJobArgs(
        "env-audit",
        namespace="pulumi",
        team="platform",
        expiration="30m",
        commands=["pulumi whoami --verbose", "pulumi env ls"],
    ),
)

deployments = OidcTrust(
    "github",
    organization=organization,
    issuer_url=GITHUB_ISSUER_URL,
    policies=github_actions(
        "acme",
        "platform-infra",
        organization=organization,
        repository_owner_id=1234567,  # gh api repos/acme/platform-infra --jq '.owner.id, .id'
        repository_id=7654321,
        environment="production",
        grant=Grant.organization(role_id="stack-deployer"),
    ),
    max_expiration_seconds=3600,
)

pulumi.export("clusterIssuerId", cluster.issuer_id)
pulumi.export("runnerJobName", cluster.runner.job_name)
pulumi.export("runnerSubject", cluster.runner.subject)
pulumi.export("githubIssuerId", deployments.issuer_id)
