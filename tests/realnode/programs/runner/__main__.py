"""A platform team's stack on the test node: OidcTrust for the cluster's issuer with the runner it
admits (OidcLoginJobArgs), through an explicit Kubernetes provider.

What differs from a stack against Pulumi Cloud, and why: the emulator plays Pulumi Cloud at
`runnerApiUrl` with a certificate from the test's own CA, so the stack also creates a ConfigMap
holding that CA and mounts it into the runner's pod (the pass-through `volumes`/`volume_mounts`),
and points the CLI at it with SSL_CERT_FILE (which the Go CLI honours). With `intruder` set, a
second runner whose service account the policy does not admit is created after the trust.
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from pulumi_oidc_trust import OidcLoginJob, OidcLoginJobArgs, OidcTrust

config = pulumi.Config()
organization = config.require("organization")
namespace = config.require("namespace")
cluster = k8s.Provider("node", kubeconfig=config.require("kubeconfig"))
on_cluster = pulumi.ResourceOptions(provider=cluster)

ca = k8s.core.v1.ConfigMap("emulator-ca", metadata={"name": "emulator-ca", "namespace": namespace},
                           data={"ca.pem": Path(config.require("caFile")).read_text()}, opts=on_cluster)
trusting_the_emulator = {
    "volumes": [{"name": "emulator-ca", "configMap": {"name": "emulator-ca"}}],
    "volume_mounts": [{"name": "emulator-ca", "mountPath": "/etc/emulator-ca", "readOnly": True}],
    "env": {"SSL_CERT_FILE": "/etc/emulator-ca/ca.pem"},
}
runner = dict(
    namespace=namespace,
    team="platform",
    expiration="15m",
    image=config.require("image"),
    api_url=config.require("runnerApiUrl"),
    commands=config.require_object("commands"),
    active_deadline_seconds=config.require_int("deadline"),
    **trusting_the_emulator,
)
git = config.get_object("git")
if git:
    runner["git"] = git

trust = OidcTrust(
    "node",
    organization=organization,
    issuer_url=config.require("issuerUrl"),
    policies=[],
    max_expiration_seconds=3600,
    runner=OidcLoginJobArgs("pulumi-login", **runner,
                            opts=pulumi.ResourceOptions(providers=[cluster], depends_on=[ca])),
)
pulumi.export("jobName", trust.runner.job_name)
pulumi.export("subject", trust.runner.subject)

if config.get_bool("intruder"):
    intruder = OidcLoginJob("intruder", organization=organization, **runner,
                            opts=pulumi.ResourceOptions(providers=[cluster], depends_on=[trust.policy, ca]))
    pulumi.export("intruderSubject", intruder.subject)
