"""Reusing the oidc-trust components from another stack.

Two trusts in one organization: a GKE cluster, with a nightly Job in it that logs in through
that trust for the team "platform" (OidcTrust creates the Job after the policy that admits it),
and the GitHub repository whose production deployments run this stack. Replace the example
names and ids with yours.

`pulumi config set deployRunner false` keeps the runner's trust but creates no Job (no cluster
needed: the Job's own policy is built from the same arguments with `login_job(runner.spec(...))`).
The Job goes to the cluster of `kubeconfig` (a path or the contents) through an explicit Kubernetes
provider, else to pulumi-kubernetes' default one (KUBECONFIG, ~/.kube/config); `pulumi up` waits
for it to complete unless `runnerSkipAwait` is true.
"""

import pulumi

from pulumi_oidc_trust import (
    GITHUB_ISSUER_URL,
    Grant,
    OidcLoginJobArgs,
    OidcTrust,
    github_actions,
    gke_issuer_url,
    login_job,
)

config = pulumi.Config()
organization = config.require("organization")
deploy_runner = config.get_bool("deployRunner") is not False  # default: create the Job
kubeconfig = config.get("kubeconfig")
cluster_provider = None
if deploy_runner and kubeconfig:
    import pulumi_kubernetes as k8s

    cluster_provider = k8s.Provider("gke-prod", kubeconfig=kubeconfig)

runner = OidcLoginJobArgs(
    "env-audit",
    namespace="pulumi",
    team="platform",
    expiration="30m",
    commands=["pulumi whoami --verbose", "pulumi env ls"],
    skip_await=bool(config.get_bool("runnerSkipAwait")),
    opts=pulumi.ResourceOptions(providers=[cluster_provider]) if cluster_provider else None,
)
cluster = OidcTrust(
    "gke-prod",
    organization=organization,
    issuer_url=gke_issuer_url("acme-prod", "us-central1", "prod"),
    # With the Job, only the runner's own policy; without it, the same policy, built from its arguments.
    policies=[] if deploy_runner else login_job(runner.spec(organization)),
    max_expiration_seconds=3600,
    runner=runner if deploy_runner else None,
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
pulumi.export("runnerJobName", cluster.runner.job_name if deploy_runner else None)
pulumi.export("runnerSubject", cluster.runner.subject if deploy_runner else runner.spec(organization).names.subject)
pulumi.export("githubIssuerId", deployments.issuer_id)
