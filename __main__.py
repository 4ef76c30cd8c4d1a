"""The stack: an OIDC issuer trusted by a Pulumi Cloud organization, its policies (from a preset
and/or explicit ones) and, optionally, a Kubernetes Job that logs in through that trust.

Everything is driven by stack config (Pulumi.yaml declares the keys); the translation from config
to arguments is components/stack_config.py.
"""

import pulumi

from pulumi_oidc_trust.components.stack_config import read_config, stack_arguments
from pulumi_oidc_trust.components.trust import OidcTrust

arguments = stack_arguments(
    read_config(pulumi.Config()),
    default_name=f"{pulumi.get_project()}-{pulumi.get_stack()}",
)
options = None
if arguments.runner_kubeconfig is not None:
    # An explicit provider for the runner's cluster (runnerKubeconfig); its children inherit it.
    import pulumi_kubernetes as k8s

    cluster = k8s.Provider("runner-cluster", kubeconfig=arguments.runner_kubeconfig)
    options = pulumi.ResourceOptions(providers={"kubernetes": cluster})
trust = OidcTrust("trust", **arguments.trust_kwargs(), opts=options)

pulumi.export("issuerId", trust.issuer_id)
pulumi.export("policyId", trust.policy_id)
pulumi.export("issuerUrl", trust.issuer_url)
pulumi.export("runnerJobName", trust.runner.job_name if trust.runner else None)
pulumi.export("runnerSubject", trust.runner.subject if trust.runner else None)
