"""OidcLoginJob: run Pulumi in a Kubernetes Job that logs in with the pod's own OIDC token.

A thin Pulumi shell around `runner_manifests`: the manifests are built (and every argument
checked) there, as plain dicts; this module registers them with pulumi-kubernetes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .runner_args import DEFAULT_IMAGE, RunnerArgs
from .runner_manifests import (
    RunnerSpec,
    config_map_manifest,
    job_manifest,
    runner_spec,
    service_account_manifest,
)
from .runner_source import GitSource
from pulumi_oidc_trust.provider.lint.security_rules import mutable_image_findings


class OidcLoginJob(pulumi.ComponentResource):
    """A Kubernetes Job that logs in to Pulumi Cloud with no stored secret, then runs commands.

    The pod presents its service-account OIDC token to `pulumi login --oidc-token file://...`,
    which exchanges it for a short-lived Pulumi access token (the organization's trust policy
    decides which), and then runs `commands`. Children: a ServiceAccount (unless
    `service_account_name` names an existing one), a ConfigMap with the entrypoint script, and
    the Job. Their names are fixed and derived from `resource_name` (Job `<name>`, ConfigMap
    `<name>-entrypoint`, ServiceAccount `<name>`), so `subject` and `audience` are known at
    preview and a trust policy can be generated from them.

    Arguments (all keyword-only; besides `organization`, the fields of `RunnerArgs` in
    `components/runner_args.py`, the one definition of their names, types and defaults):
        organization: the Pulumi Cloud organization to log in to.
        namespace: where the children live (default "default").
        team / user: ask for a team or a personal token instead of an organization token
            (at most one of them).
        expiration: lifetime asked of the Pulumi token: whole seconds or "15m", "2h",
            "1h30m"; at most 25h. Default: the CLI's (2h), capped by the issuer.
        commands: shell lines run after login, each inserted as written (it is your code;
            the script runs under `set -euo pipefail`).
        image: the Pulumi CLI image, pinned (default `DEFAULT_IMAGE`). Pinning a digest is
            better: "pulumi/pulumi:3.272.0@sha256:<digest>". Untagged or `:latest` is refused.
        api_url: the Pulumi Cloud API URL (default: the CLI's, https://api.pulumi.com).
        token: where the OIDC token comes from:
            "projected" (default, recommended): a projected service-account token whose
              audience is `token_audience` or `urn:pulumi:org:<organization>`, valid for
              `token_expiration_seconds` (>= 600), at /var/run/secrets/pulumi/token;
            "eks": the token the EKS pod-identity webhook mounts for IRSA (audience
              sts.amazonaws.com, or the `eks.amazonaws.com/audience` annotation). It exists
              only when the service account carries `eks.amazonaws.com/role-arn`: this is
              checked on a service account this component creates, not on a named one (pass
              `token_audience` if that one's audience differs). That token is just as good
              at AWS STS, and the Pulumi rule must accept AWS's audience: prefer "projected";
            an absolute path: a token file that something else mounts (a mutating webhook,
              or a volume you add with a `transforms` option); its audience is
              `token_audience` or `urn:pulumi:org:<organization>`.
        service_account_name: run as this existing service account instead of creating one.
        service_account_annotations: annotations of the created service account.
        env: extra environment variables (plain strings; visible in the Job spec, so no
            secrets). `PULUMI_ACCESS_TOKEN` is refused: the CLI will not exchange with it set.
        resources: the container's resources (default: requests 100m/256Mi, limits 1/1Gi).
        backoff_limit: retries of a failed pod (default 0).
        active_deadline_seconds: the Job's time limit (default 900). `pulumi up` waits that
            long plus two minutes (the `pulumi.com/timeoutSeconds` annotation).
        ttl_seconds_after_finished: let the cluster delete the finished Job. Unset by
            default: a Job the cluster deleted is seen as gone by the next refresh, and the
            next `pulumi up` then creates it again, running the commands again.
        labels: extra labels on every object and on the pod.
        skip_await: pulumi-kubernetes waits for a Job to complete during `up` (and fails the
            update if the Job fails); True adds `pulumi.com/skipAwait: "true"` so `up`
            returns once the Job is created. That skips waiting for deletes too, so such a
            Job is deleted with Background propagation (its pods follow it a moment later,
            removed by the garbage collector); the awaited default deletes the pods first.
            While awaited, the Job carries
            `pulumi.com/replaceUnready: "true"`: after a failed run, the next `up` replaces
            it and so runs it again.
        stack: `ORGANIZATION/PROJECT/STACK` (in `organization`): selected right after the
            login, so `commands` such as "pulumi up --yes" work on it.

        The program (at most one source; without one the commands run in $HOME):
        working_dir: the program's absolute folder in `image` (an image you build FROM the
            Pulumi image, with the program in it). The root filesystem is read-only: prebuild a
            Python program's virtualenv in the image, or pass copy_program_to_workspace=True.
        copy_program_to_workspace: copy `working_dir` into the writable workspace emptyDir
            (/workspace/program) and run there, so the CLI can create the virtualenv.
        git: a `GitSource(repository=URL, commit=FULL_SHA, path=..., basic_auth_secret=... |
            ssh_auth_secret=... + known_hosts=...)` (or a dict of those keys): an init container
            (pinned `alpine/git`, Pod Security "restricted") fetches that commit into the
            workspace emptyDir and checks that HEAD is that SHA; the commands run in
            /workspace/src/<path>. A Secret is only mounted into the init container.
        volumes / volume_mounts / env_from: Kubernetes dicts (camelCase) passed through: pod
            volumes, mounts of those volumes in the Pulumi container, and its envFrom (e.g. a
            Secret with cloud credentials). They may not reuse the runner's volume names or
            mount over its folders ($HOME, /tmp, /workspace, /opt/oidc-login, the token).
        opts: the usual ResourceOptions. Its `depends_on` is passed on to the Job, so
            `opts=ResourceOptions(depends_on=[policy])` keeps the Job from starting before
            the trust policy that admits it exists.

    Security defaults: Pod Security "restricted" (non-root uid 10001, no privilege escalation,
    all capabilities dropped, seccomp RuntimeDefault), read-only root filesystem with emptyDirs
    for $HOME and /tmp, no auto-mounted API token, `restartPolicy: Never`. The token reaches
    the CLI only as `file://PATH`: it is never on a command line and never printed.

    Changing the script (commands, organization, ...) changes the pod template, so the Job is
    replaced and runs again. Raises ValueError, before registering anything, on a bad argument.

    Outputs: `job_name`, `config_map_name`, `service_account_name`, `namespace`, `subject`
    (`system:serviceaccount:NS:SA`) and `audience`, all known at preview. The children are
    the attributes `service_account` (None with `service_account_name`), `config_map` and
    `job`; `args` holds the arguments as given (a `components.runner_args.RunnerArgs`, the one
    definition of their names, types and defaults) and `spec` the validated ones
    (`components.runner_manifests.RunnerSpec`).
    """

    job_name: pulumi.Output[str]
    config_map_name: pulumi.Output[str]
    service_account_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    subject: pulumi.Output[str]
    audience: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        organization: str,
        namespace: str = "default",
        team: str | None = None,
        user: str | None = None,
        expiration: int | str | None = None,
        commands: Sequence[str] = ("pulumi whoami",),
        image: str = DEFAULT_IMAGE,
        api_url: str | None = None,
        token: str = "projected",
        token_audience: str | None = None,
        token_expiration_seconds: int = 3600,
        service_account_name: str | None = None,
        service_account_annotations: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        resources: Mapping[str, Any] | None = None,
        backoff_limit: int = 0,
        active_deadline_seconds: int | None = 900,
        ttl_seconds_after_finished: int | None = None,
        labels: Mapping[str, str] | None = None,
        skip_await: bool = False,
        stack: str | None = None,
        working_dir: str | None = None,
        copy_program_to_workspace: bool = False,
        git: GitSource | Mapping[str, Any] | None = None,
        volumes: Sequence[Mapping[str, Any]] | None = None,
        volume_mounts: Sequence[Mapping[str, Any]] | None = None,
        env_from: Sequence[Mapping[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The arguments above are RunnerArgs' fields, spelled out for editors and help(); a test
        # keeps the two lists the same. Validate first: nothing is registered for a bad argument.
        args = RunnerArgs.from_values(locals())
        spec = runner_spec(resource_name, args, organization=organization)
        super().__init__("oidc-trust:kubernetes:OidcLoginJob", resource_name, None, opts)
        self.args = args
        self.spec = spec
        for finding in mutable_image_findings(spec.image, default=DEFAULT_IMAGE):  # OIDC041, shown at preview
            pulumi.log.warn(str(finding), resource=self)
        self._register_children(spec, opts)

        names = spec.names
        self.job_name = pulumi.Output.from_input(names.job_name)
        self.config_map_name = pulumi.Output.from_input(names.config_map_name)
        self.service_account_name = pulumi.Output.from_input(names.service_account_name)
        self.namespace = pulumi.Output.from_input(names.namespace)
        self.subject = pulumi.Output.from_input(names.subject)
        self.audience = pulumi.Output.from_input(names.audience)
        self.register_outputs(
            {
                "job_name": self.job_name,
                "config_map_name": self.config_map_name,
                "service_account_name": self.service_account_name,
                "namespace": self.namespace,
                "subject": self.subject,
                "audience": self.audience,
            }
        )

    def _register_children(self, spec: RunnerSpec, opts: pulumi.ResourceOptions | None) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.service_account: k8s.core.v1.ServiceAccount | None = None
        if spec.create_service_account:
            manifest = service_account_manifest(spec)
            self.service_account = k8s.core.v1.ServiceAccount(
                manifest["metadata"]["name"], **_resource_args(manifest), opts=child
            )
        manifest = config_map_manifest(spec)
        self.config_map = k8s.core.v1.ConfigMap(manifest["metadata"]["name"], **_resource_args(manifest), opts=child)

        # The Job names its service account and ConfigMap only by (fixed) name, so the order
        # must be explicit: a pod whose service account does not exist yet is rejected.
        prerequisites = [r for r in (self.service_account, self.config_map) if r is not None]
        job_opts = pulumi.ResourceOptions(parent=self, depends_on=prerequisites)
        # Children do not inherit the component's depends_on, and the Job needs it most: the
        # trust policy must exist before the pod tries to log in.
        if opts is not None and opts.depends_on is not None:
            job_opts = pulumi.ResourceOptions.merge(job_opts, pulumi.ResourceOptions(depends_on=opts.depends_on))
        manifest = job_manifest(spec)
        self.job = k8s.batch.v1.Job(manifest["metadata"]["name"], **_resource_args(manifest), opts=job_opts)


def _resource_args(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest's top-level fields as pulumi-kubernetes keyword arguments.

    Nested dicts stay in Kubernetes camelCase, which the SDK passes through unchanged.
    """
    return {
        re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value
        for key, value in manifest.items()
        if key not in ("apiVersion", "kind")
    }
