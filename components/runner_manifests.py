"""The Kubernetes runner's manifests, as plain data.

Everything `OidcLoginJob` puts in a cluster is decided here, by pure functions over plain
Python values: argument validation, the derived names (and so the `sub` claim a trust policy
must match), the entrypoint script and the ServiceAccount, ConfigMap and Job manifests
(Kubernetes camelCase dicts). The component in `runner.py` only registers what these return,
so the same manifests can be rendered to YAML and validated without an engine or a cluster.

Every bad argument is a `ValueError` whose message names the argument and says how to fix it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import yaml

from pulumi_oidc_trust.provider.image_ref import pinned_image_problem
from pulumi_oidc_trust.provider.lint.subjects import build_subject
from pulumi_oidc_trust.provider.duration import parse_duration as _parse_duration
from pulumi_oidc_trust.provider.phrasing import ArgumentError, Fix, Ref
from pulumi_oidc_trust.provider.urls import api_url_problem
from pulumi_oidc_trust.provider.wire import MAX_EXPIRATION, audience_for

from . import runner_source
from .runner_args import DEFAULT_IMAGE, RunnerArgs, args_from
from .runner_source import NO_SOURCE, GitSource, ProgramSource

# The service's ceiling for an exchanged token (an issuer's maxExpiration defaults to 25 h).
MAX_EXPIRATION_SECONDS = MAX_EXPIRATION
# The kubelet refuses projected service-account tokens shorter than ten minutes.
MIN_TOKEN_EXPIRATION_SECONDS = 600

# pulumi/pulumi runs as root; the pod runs as this fixed, high, non-root uid/gid instead.
# With one runAsUser (and fsGroup) for the pod, the kubelet writes the token file 0600 for it.
RUN_AS_USER = 10001

PROJECTED_TOKEN_DIR = "/var/run/secrets/pulumi"
PROJECTED_TOKEN_PATH = f"{PROJECTED_TOKEN_DIR}/token"
EKS_TOKEN_PATH = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
EKS_DEFAULT_AUDIENCE = "sts.amazonaws.com"
EKS_ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
EKS_AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"

SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
TIMEOUT_SECONDS_ANNOTATION = "pulumi.com/timeoutSeconds"
REPLACE_UNREADY_ANNOTATION = "pulumi.com/replaceUnready"
DELETION_PROPAGATION_ANNOTATION = "pulumi.com/deletionPropagationPolicy"
# Changing the script changes the pod template, so pulumi-kubernetes replaces the Job and the
# new script runs; without it the ConfigMap would change under a Job that never runs again.
SCRIPT_CHECKSUM_ANNOTATION = "checksum/entrypoint"

HOME_DIR = "/home/pulumi"
SCRIPT_DIR = "/opt/oidc-login"
SCRIPT_KEY = "entrypoint.sh"
CONTAINER_NAME = "pulumi"
# A container that fails without writing /dev/termination-log gets the last lines of its log as
# its termination message, in the pod's status: where pulumi-kubernetes reports why a Job failed.
# Whoever may read the pod reads that tail (no pods/log permission needed): the scripts print no
# credential, and the commands' own output is the user's to keep free of secrets.
TERMINATION_MESSAGE_POLICY = "FallbackToLogsOnError"

# The runner's own volumes and mount points: pass-through `volumes` / `volume_mounts` may not
# take these names, nor mount over (or above) these paths.
RESERVED_VOLUMES = (
    "entrypoint", "home", "tmp", "pulumi-oidc-token",
    runner_source.WORKSPACE_VOLUME, runner_source.GIT_SECRET_VOLUME,
)  # fmt: skip
RESERVED_PATHS = (SCRIPT_DIR, HOME_DIR, "/tmp", PROJECTED_TOKEN_DIR, runner_source.WORKSPACE_DIR)

DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")


# --------------------------------------------------------------------------------------------
# Small validators. Each raises ValueError("<argument>: <what is wrong>; <how to fix it>").


def _fail(argument: str, problem: str, fix: str | Fix) -> NoReturn:
    raise ArgumentError(argument, problem, fix)


def _check_int(argument: str, value: Any, *, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(argument, f"{value!r} is not a whole number", f"pass an int >= {minimum}")
    if value < minimum:
        _fail(argument, f"{value} is less than {minimum}", f"use at least {minimum}")


def _check_text(argument: str, value: Any, *, allow_none: bool = False) -> None:
    """A free-form value (organization, team, ...): any text the shell quoting can carry."""
    if value is None and allow_none:
        return
    if not isinstance(value, str) or not value.strip():
        _fail(argument, f"{value!r} is empty", "pass a non-empty string")
    if "\0" in value:
        _fail(argument, "contains a NUL character", "remove it (no command line can carry it)")


def _check_dns_label(argument: str, value: Any, *, what: str) -> None:
    if not runner_source.is_dns_label(value):
        _fail(
            argument,
            f"{value!r} is not a valid {what}: a Kubernetes DNS-1123 label has at most 63 "
            "lower-case letters, digits and '-', and starts and ends with a letter or digit",
            f"use e.g. {_dns_label_suggestion(value)!r}",
        )


def _dns_label_suggestion(value: Any, max_length: int = 63) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", str(value).lower())
    return text[:max_length].strip("-") or "pulumi-oidc-login"


def _check_label_key(argument: str, key: Any) -> None:
    prefix, _, name = key.rpartition("/") if isinstance(key, str) else ("", "", None)
    valid = (
        isinstance(name, str)
        and len(name) <= 63
        and _LABEL_NAME.match(name)
        and (not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)))
    )
    if not valid:
        _fail(
            argument,
            f"key {key!r} is not a valid Kubernetes label or annotation key",
            "use [prefix/]name with a DNS subdomain prefix and a name of at most 63 "
            "letters, digits, '-', '_' or '.'",
        )


def _check_string_map(argument: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        _fail(argument, f"{value!r} is not a mapping", "pass a dict of strings to strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            _fail(argument, f"{key!r}: {item!r} is not a string pair", "use string keys and values")
    return dict(value)


# --------------------------------------------------------------------------------------------
# Durations


def parse_duration(value: int | str, *, argument: str = "expiration") -> int:
    """Whole seconds for an expiration (an int, or "90s", "15m", "2h", "1h30m"), at most 25 h.

    The one duration parser is ``provider.duration``; this names the runner's argument.
    """
    return _parse_duration(value, name=argument)


def go_duration(seconds: int) -> str:
    """The CLI's `--oidc-expiration` value (Go's time.ParseDuration reads "7200s")."""
    return f"{seconds}s"


def default_audience(organization: str) -> str:
    """The audience Pulumi Cloud expects in a workload token: `urn:pulumi:org:<organization>`."""
    return audience_for(organization)


# --------------------------------------------------------------------------------------------
# The validated, normalized arguments


@dataclasses.dataclass(frozen=True)
class RunnerNames:
    """What a trust policy needs to know about a runner, all known before anything runs.

    `subject` is the `sub` claim of the pod's token (`system:serviceaccount:NS:SA`) and
    `audience` its `aud` claim; a Kubernetes trust rule is built from these two.
    """

    job_name: str
    config_map_name: str
    service_account_name: str
    namespace: str
    subject: str
    audience: str


@dataclasses.dataclass(frozen=True)
class RunnerSpec:
    """Every OidcLoginJob argument, validated and resolved (token path, audience, names)."""

    resource_name: str
    organization: str
    names: RunnerNames
    team: str | None
    user: str | None
    expiration_seconds: int | None
    commands: tuple[str, ...]
    image: str
    api_url: str | None
    token_source: str  # "projected", "eks" or "file"
    token_path: str
    token_expiration_seconds: int
    create_service_account: bool
    service_account_annotations: dict[str, str]
    env: dict[str, str]
    resources: dict[str, Any]
    backoff_limit: int
    active_deadline_seconds: int | None
    ttl_seconds_after_finished: int | None
    labels: dict[str, str]
    skip_await: bool
    # Where the program comes from, the stack to select, and what the user mounts
    # (components/runner_source.py). Defaults keep a runner without them exactly as before.
    source: ProgramSource = NO_SOURCE
    stack: str | None = None
    volumes: tuple[dict[str, Any], ...] = ()
    volume_mounts: tuple[dict[str, Any], ...] = ()
    env_from: tuple[dict[str, Any], ...] = ()


def runner_spec(
    resource_name: str, args: RunnerArgs | None = None, *, organization: str, **kwargs: Any
) -> RunnerSpec:
    """Validate OidcLoginJob's arguments and resolve everything the manifests need.

    Takes the arguments as a `RunnerArgs` (`runner_spec(NAME, args, organization=ORG)`) or as
    the component's keyword arguments (`runner_spec(NAME, organization=ORG, namespace=...)`);
    see `OidcLoginJob` for their meaning. Returns a `RunnerSpec`; raises ValueError naming the
    first bad argument (TypeError for a name that is not an argument).
    """
    args = args_from(args, kwargs)
    _check_dns_label("resource_name", resource_name, what="resource name")
    # The ConfigMap name is the longest name derived from it.
    if len(resource_name) > 63 - len("-entrypoint"):
        _fail(
            "resource_name",
            f"{resource_name!r} is longer than 52 characters, so the ConfigMap name "
            f"'{resource_name}-entrypoint' would exceed Kubernetes' 63",
            f"use e.g. {_dns_label_suggestion(resource_name, 52)!r}",
        )
    _check_text("organization", organization)
    _check_dns_label("namespace", args.namespace, what="namespace")
    _check_text("team", args.team, allow_none=True)
    _check_text("user", args.user, allow_none=True)
    if args.team is not None and args.user is not None:
        _fail("team", "team and user were both given", "pass at most one of team and user")
    expiration_seconds = None if args.expiration is None else parse_duration(args.expiration)
    checked_commands = _check_commands(args.commands)
    _check_image(args.image)
    _check_api_url(args.api_url)
    _check_text("token_audience", args.token_audience, allow_none=True)
    _check_int("token_expiration_seconds", args.token_expiration_seconds, minimum=MIN_TOKEN_EXPIRATION_SECONDS)
    annotations = _check_string_map("service_account_annotations", args.service_account_annotations)
    for key in annotations:
        _check_label_key("service_account_annotations", key)
    if args.service_account_name is not None:
        _check_service_account_name(args.service_account_name, annotations)
    token_source, token_path, audience = _resolve_token(
        args.token, organization, args.token_audience, args.service_account_name, annotations
    )
    checked_env = _check_env(args.env)
    checked_resources = _check_resources(args.resources)
    _check_int("backoff_limit", args.backoff_limit, minimum=0)
    _check_int("active_deadline_seconds", args.active_deadline_seconds, minimum=1, allow_none=True)
    _check_int("ttl_seconds_after_finished", args.ttl_seconds_after_finished, minimum=0, allow_none=True)
    all_labels = _check_labels(args.labels, resource_name)
    if not isinstance(args.skip_await, bool):
        _fail("skip_await", f"{args.skip_await!r} is not a bool", "pass True or False")
    checked_stack = runner_source.check_stack(args.stack, organization)
    source = runner_source.program_source(
        working_dir=args.working_dir, copy_program_to_workspace=args.copy_program_to_workspace, git=args.git
    )
    user_volumes, user_mounts, user_env_from = runner_source.check_volumes(
        args.volumes, args.volume_mounts, args.env_from, reserved_volumes=RESERVED_VOLUMES, reserved_paths=RESERVED_PATHS
    )

    sa_name = args.service_account_name or resource_name
    names = RunnerNames(
        job_name=resource_name,
        config_map_name=f"{resource_name}-entrypoint",
        service_account_name=sa_name,
        namespace=args.namespace,
        subject=build_subject("kubernetes", "classic", namespace=args.namespace, service_account=sa_name),
        audience=audience,
    )
    return RunnerSpec(
        resource_name=resource_name,
        organization=organization,
        names=names,
        team=args.team,
        user=args.user,
        expiration_seconds=expiration_seconds,
        commands=checked_commands,
        image=args.image,
        api_url=args.api_url,
        token_source=token_source,
        token_path=token_path,
        token_expiration_seconds=args.token_expiration_seconds,
        create_service_account=args.service_account_name is None,
        service_account_annotations=annotations,
        env=checked_env,
        resources=checked_resources,
        backoff_limit=args.backoff_limit,
        active_deadline_seconds=args.active_deadline_seconds,
        ttl_seconds_after_finished=args.ttl_seconds_after_finished,
        labels=all_labels,
        skip_await=args.skip_await,
        source=source,
        stack=checked_stack,
        volumes=tuple(user_volumes),
        volume_mounts=tuple(user_mounts),
        env_from=tuple(user_env_from),
    )


def runner_names(
    resource_name: str, args: RunnerArgs | None = None, *, organization: str, **kwargs: Any
) -> RunnerNames:
    """The names, subject and audience an OidcLoginJob with these arguments will have.

    Takes what `runner_spec` takes; useful to build a trust policy before the Job exists.
    """
    return runner_spec(resource_name, args, organization=organization, **kwargs).names


def _check_commands(commands: Any) -> tuple[str, ...]:
    if isinstance(commands, str) or not isinstance(commands, Sequence):
        _fail("commands", f"{commands!r} is not a list of shell lines", "pass e.g. ['pulumi whoami']")
    if not commands:
        _fail("commands", "is empty", "pass at least one shell line, e.g. ['pulumi whoami']")
    for line in commands:
        _check_text("commands", line)
    return tuple(commands)


def _check_image(image: Any) -> None:
    problem = pinned_image_problem(image, DEFAULT_IMAGE)
    if problem:
        _fail("image", *problem)


def _check_api_url(api_url: Any) -> None:
    if api_url is None:
        return
    problem = api_url_problem(api_url)
    if problem:
        problem, _, fix = problem.rpartition("; ")
        _fail("api_url", problem or fix, fix if problem else "use e.g. 'https://api.pulumi.com'")


def _check_service_account_name(name: Any, annotations: dict[str, str]) -> None:
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        _fail(
            "service_account_name",
            f"{name!r} is not a valid Kubernetes service account name (a DNS-1123 subdomain)",
            f"use e.g. {_dns_label_suggestion(name)!r}",
        )
    if annotations:
        _fail(
            "service_account_annotations",
            f"given together with service_account_name={name!r}, but this component only "
            "annotates a service account it creates",
            "annotate that service account where it is defined, or omit service_account_name",
        )


def _resolve_token(
    token: Any,
    organization: str,
    token_audience: str | None,
    service_account_name: str | None,
    annotations: dict[str, str],
) -> tuple[str, str, str]:
    """(source, path in the container, audience) of the OIDC token the Job presents."""
    if token == "projected":
        return "projected", PROJECTED_TOKEN_PATH, token_audience or default_audience(organization)
    if token == "eks":
        return "eks", EKS_TOKEN_PATH, _eks_audience(token_audience, service_account_name, annotations)
    if isinstance(token, str) and posixpath.isabs(token) and "\0" not in token:
        if token.endswith("/"):
            _fail("token", f"{token!r} is a directory", "give the token file's path")
        return "file", token, token_audience or default_audience(organization)
    _fail(
        "token",
        f"{token!r} is neither 'projected', 'eks' nor an absolute file path",
        "use token='projected' (recommended) or the absolute path of a mounted token file",
    )


def _eks_audience(
    token_audience: str | None, service_account_name: str | None, annotations: dict[str, str]
) -> str:
    # The EKS webhook, not this component, decides the token's audience; with a service
    # account we create we know its annotations, with a named one the caller must say.
    if service_account_name is not None:
        return token_audience or EKS_DEFAULT_AUDIENCE
    role_arn = annotations.get(EKS_ROLE_ARN_ANNOTATION)
    if role_arn is None:
        _fail(
            "token",
            f"'eks' needs the {EKS_ROLE_ARN_ANNOTATION!r} annotation on the service account "
            "(the EKS webhook mounts a token only for such service accounts)",
            Fix(
                "annotate it: {arn}, or use {projected} (recommended)",
                arn=Ref("service_account_annotations", {EKS_ROLE_ARN_ANNOTATION: "arn:aws:iam::<account>:role/<role>"}),
                projected=Ref("token", "projected"),
            ),
        )
    if not _ROLE_ARN.match(role_arn):
        _fail(
            "service_account_annotations",
            f"{EKS_ROLE_ARN_ANNOTATION} {role_arn!r} is not an IAM role ARN",
            "use 'arn:aws:iam::<12-digit account>:role/<role name>'",
        )
    audience = annotations.get(EKS_AUDIENCE_ANNOTATION, EKS_DEFAULT_AUDIENCE)
    if token_audience is not None and token_audience != audience:
        _fail(
            "token_audience",
            f"{token_audience!r} differs from {audience!r}, the audience the EKS webhook gives "
            "this service account's token",
            f"omit token_audience, or set the {EKS_AUDIENCE_ANNOTATION!r} annotation instead",
        )
    return audience


def _check_env(env: Any) -> dict[str, str]:
    checked = _check_string_map("env", env)
    for name in checked:
        if name == "PULUMI_ACCESS_TOKEN":
            _fail(
                "env",
                "sets PULUMI_ACCESS_TOKEN, and the Pulumi CLI refuses an OIDC exchange when it "
                "is set (and a stored token is what this component exists to avoid)",
                "remove it",
            )
        if not name or "=" in name or "\0" in name:
            _fail("env", f"{name!r} is not an environment variable name", "use e.g. 'AWS_REGION'")
    return checked


def _check_resources(resources: Any) -> dict[str, Any]:
    if resources is None:
        return {kind: dict(amounts) for kind, amounts in DEFAULT_RESOURCES.items()}
    if not isinstance(resources, Mapping) or not set(resources) <= {"requests", "limits"}:
        _fail(
            "resources",
            f"{resources!r} is not a container resources dict",
            "pass e.g. {'requests': {'cpu': '100m', 'memory': '256Mi'}, 'limits': {'memory': '1Gi'}}",
        )
    return {kind: _check_string_map(f"resources.{kind}", amounts) for kind, amounts in resources.items()}


def _standard_labels(resource_name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "pulumi-oidc-login",
        "app.kubernetes.io/instance": resource_name,
        "app.kubernetes.io/component": "runner",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def _check_labels(labels: Any, resource_name: str) -> dict[str, str]:
    extra = _check_string_map("labels", labels)
    standard = _standard_labels(resource_name)
    for key, value in extra.items():
        _check_label_key("labels", key)
        if key in standard:
            _fail("labels", f"{key!r} is set by the component", "remove it, or use another key")
        if len(value) > 63 or (value and not _LABEL_NAME.match(value)):
            _fail(
                "labels",
                f"value {value!r} of {key!r} is not a valid label value",
                "use at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
            )
    return {**extra, **standard}


# --------------------------------------------------------------------------------------------
# The entrypoint script


def build_entrypoint_script(
    *,
    organization: str,
    token_path: str,
    commands: Sequence[str],
    team: str | None = None,
    user: str | None = None,
    expiration_seconds: int | None = None,
    api_url: str | None = None,
    source: ProgramSource = NO_SOURCE,
    stack: str | None = None,
) -> str:
    """The bash script the Job runs: `pulumi login` with the OIDC token file, then `commands`.

    Every value inserted here is shell-quoted; `commands` are the user's own shell lines and
    are inserted as written. The token is handed to the CLI as `file://PATH`, so it never
    appears on a command line, and nothing prints it. With a program `source` the script first
    changes to the program's folder (and checks that it holds a Pulumi.yaml); with a `stack` it
    selects that stack after logging in.
    """
    login = ["pulumi", "login"]
    if api_url is not None:
        login.append(shlex.quote(api_url))
    login += ['--oidc-token "file://${token_file}"', "--oidc-org", shlex.quote(organization)]
    if team is not None:
        login += ["--oidc-team", shlex.quote(team)]
    if user is not None:
        login += ["--oidc-user", shlex.quote(user)]
    if expiration_seconds is not None:
        login += ["--oidc-expiration", go_duration(expiration_seconds)]
    lines = [
        "#!/bin/bash",
        "# Written by OidcLoginJob: log in to Pulumi Cloud with this pod's OIDC token, then run",
        "# the configured commands. The CLI reads the token from its file, so the token is never",
        "# on a command line or in the log. Do not add `set -x` here.",
        "set -euo pipefail",
        "# The CLI refuses an OIDC exchange while an access token is set in the environment.",
        "unset PULUMI_ACCESS_TOKEN",
        "",
        f"token_file={shlex.quote(token_path)}",
        'if [[ ! -s "${token_file}" ]]; then',
        "  printf 'oidc-login: no OIDC token at %s; is the token volume mounted?\\n' \"${token_file}\" >&2",
        "  exit 1",
        "fi",
        "",
        *runner_source.program_lines(source),
        " ".join(login),
        "",
        *runner_source.stack_lines(stack),
        "# The commands, as written in OidcLoginJob(commands=...):",
        *commands,
    ]
    return "\n".join(lines) + "\n"


def entrypoint_script(spec: RunnerSpec) -> str:
    """The entrypoint script for a validated spec."""
    return build_entrypoint_script(
        organization=spec.organization,
        token_path=spec.token_path,
        commands=spec.commands,
        team=spec.team,
        user=spec.user,
        expiration_seconds=spec.expiration_seconds,
        api_url=spec.api_url,
        source=spec.source,
        stack=spec.stack,
    )


# --------------------------------------------------------------------------------------------
# Manifests


def _metadata(spec: RunnerSpec, name: str, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": spec.names.namespace, "labels": dict(spec.labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return metadata


def service_account_manifest(spec: RunnerSpec) -> dict[str, Any]:
    """The ServiceAccount the Job runs as (only created when no service_account_name is given).

    It does not auto-mount the legacy API token: the Job needs only its OIDC token.
    """
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(spec, spec.names.service_account_name, spec.service_account_annotations),
        "automountServiceAccountToken": False,
    }


def config_map_data(spec: RunnerSpec) -> dict[str, str]:
    """What the ConfigMap holds: `entrypoint.sh`, and for a git source the init container's
    `fetch-program.sh` (plus `git-askpass.sh`, or `known_hosts` and `passwd` for ssh). No
    credential is ever among them: a Secret is only mounted."""
    data = {SCRIPT_KEY: entrypoint_script(spec)}
    git = spec.source.git
    if git is not None:
        data[runner_source.FETCH_SCRIPT_KEY] = runner_source.fetch_script(git, config_dir=SCRIPT_DIR)
        if git.auth == "basic":
            data[runner_source.ASKPASS_KEY] = runner_source.askpass_script()
        if git.auth == "ssh":
            data[runner_source.KNOWN_HOSTS_KEY] = git.known_hosts or ""
            data[runner_source.PASSWD_KEY] = runner_source.passwd_file(RUN_AS_USER)
    return data


def config_map_manifest(spec: RunnerSpec) -> dict[str, Any]:
    """The ConfigMap holding the entrypoint script under the key `entrypoint.sh` (and, for a git
    source, the init container's fetch script and its helpers)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(spec, spec.names.config_map_name),
        "data": config_map_data(spec),
    }


def _scripts_digest(spec: RunnerSpec) -> str:
    # The entrypoint first and alone when it is all there is, so a runner without a program
    # source keeps the digest it had (and is not replaced, and run again, by an upgrade).
    data = config_map_data(spec)
    digest = hashlib.sha256(data.pop(SCRIPT_KEY).encode())
    for key in sorted(data):
        digest.update(b"\0" + key.encode() + b"\0" + data[key].encode())
    return digest.hexdigest()


def job_manifest(spec: RunnerSpec) -> dict[str, Any]:
    """The Job that runs the entrypoint script once, under Pod Security "restricted"."""
    annotations: dict[str, str] = {}
    if spec.skip_await:
        annotations[SKIP_AWAIT_ANNOTATION] = "true"
        # skipAwait also skips waiting for deletes. A Foreground delete returns while the Job
        # still exists, so the replacement of a changed Job (same fixed name) would be applied
        # onto the old, terminating object and fail with a field-manager conflict (seen with
        # pulumi-kubernetes 4.25 against a real API server). Background deletes the Job object at
        # once; the garbage collector removes its pods right after.
        annotations[DELETION_PROPAGATION_ANNOTATION] = "background"
    else:
        # A Job that failed (say, before its trust policy was right) is replaced, and so
        # run again, by the next `pulumi up` instead of being awaited forever.
        annotations[REPLACE_UNREADY_ANNOTATION] = "true"
        if spec.active_deadline_seconds is not None:
            # pulumi-kubernetes gives up on a Job after 10 minutes by default; wait as long
            # as the Job may run, plus time to schedule the pod and pull the image.
            annotations[TIMEOUT_SECONDS_ANNOTATION] = str(spec.active_deadline_seconds + 120)
    job_spec: dict[str, Any] = {"backoffLimit": spec.backoff_limit}
    if spec.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    if spec.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = spec.ttl_seconds_after_finished
    # The commit to fetch lives in the ConfigMap's fetch script, so it counts here too.
    script_digest = _scripts_digest(spec)
    job_spec["template"] = {
        "metadata": {"labels": dict(spec.labels), "annotations": {SCRIPT_CHECKSUM_ANNOTATION: script_digest}},
        "spec": _pod_spec(spec),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(spec, spec.names.job_name, annotations),
        "spec": job_spec,
    }


def _pod_spec(spec: RunnerSpec) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [
        {"name": "entrypoint", "configMap": {"name": spec.names.config_map_name, "defaultMode": 0o555}},
        {"name": "home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "entrypoint", "mountPath": SCRIPT_DIR, "readOnly": True},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if spec.token_source == "projected":
        # A token of our own, whose audience is Pulumi's: it is useless to any other service.
        projection = {
            "audience": spec.names.audience,
            "expirationSeconds": spec.token_expiration_seconds,
            "path": posixpath.basename(PROJECTED_TOKEN_PATH),
        }
        volumes.append(
            {"name": "pulumi-oidc-token", "projected": {"sources": [{"serviceAccountToken": projection}]}}
        )
        mounts.append({"name": "pulumi-oidc-token", "mountPath": PROJECTED_TOKEN_DIR, "readOnly": True})
    if spec.source.uses_workspace:
        volumes.append({"name": runner_source.WORKSPACE_VOLUME, "emptyDir": {}})
        mounts.append({"name": runner_source.WORKSPACE_VOLUME, "mountPath": runner_source.WORKSPACE_DIR})
    init_containers: list[dict[str, Any]] = []
    if spec.source.git is not None:
        init_containers.append(_fetch_container(spec, spec.source.git))
        secret = _git_secret_volume(spec.source.git)
        if secret is not None:
            volumes.append(secret)
    volumes += [dict(volume) for volume in spec.volumes]
    mounts += [dict(mount) for mount in spec.volume_mounts]
    main: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/bash", f"{SCRIPT_DIR}/{SCRIPT_KEY}"],
        "env": [{"name": name, "value": value} for name, value in _container_env(spec).items()],
        "resources": {kind: dict(amounts) for kind, amounts in spec.resources.items()},
        "securityContext": _container_security_context(),
        "terminationMessagePolicy": TERMINATION_MESSAGE_POLICY,
        "volumeMounts": mounts,
    }
    if spec.env_from:
        main["envFrom"] = [dict(source) for source in spec.env_from]
    pod: dict[str, Any] = {
        "serviceAccountName": spec.names.service_account_name,
        # The legacy API token is not needed: the OIDC token is mounted on purpose above.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [main],
        "volumes": volumes,
    }
    if init_containers:
        pod["initContainers"] = init_containers
    return pod


def _container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _fetch_container(spec: RunnerSpec, git: GitSource) -> dict[str, Any]:
    """The init container that fetches the pinned commit into the workspace (same restrictions
    as the main container; the only one that sees the git Secret)."""
    mounts: list[dict[str, Any]] = [
        {"name": "entrypoint", "mountPath": SCRIPT_DIR, "readOnly": True},
        {"name": runner_source.WORKSPACE_VOLUME, "mountPath": runner_source.WORKSPACE_DIR},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if git.secret_name is not None:
        mounts.append({"name": runner_source.GIT_SECRET_VOLUME, "mountPath": runner_source.GIT_SECRET_DIR, "readOnly": True})
    if git.auth == "ssh":
        mounts.append(
            {"name": "entrypoint", "mountPath": "/etc/passwd", "subPath": runner_source.PASSWD_KEY, "readOnly": True}
        )
    return {
        "name": runner_source.INIT_CONTAINER_NAME,
        "image": git.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", f"{SCRIPT_DIR}/{runner_source.FETCH_SCRIPT_KEY}"],
        "env": [{"name": "HOME", "value": HOME_DIR}],
        "resources": {kind: dict(amounts) for kind, amounts in spec.resources.items()},
        "securityContext": _container_security_context(),
        "terminationMessagePolicy": TERMINATION_MESSAGE_POLICY,
        "volumeMounts": mounts,
    }


def _git_secret_volume(git: GitSource) -> dict[str, Any] | None:
    if git.secret_name is None:
        return None
    keys = runner_source.BASIC_AUTH_KEYS if git.auth == "basic" else (runner_source.SSH_AUTH_KEY,)
    return {
        "name": runner_source.GIT_SECRET_VOLUME,
        "secret": {
            "secretName": git.secret_name,
            # Readable by the pod's group (fsGroup) only; a missing key keeps the pod from starting.
            "defaultMode": 0o440,
            "items": [{"key": key, "path": key} for key in keys],
        },
    }


def _container_env(spec: RunnerSpec) -> dict[str, str]:
    # The root filesystem is read-only: everything the CLI writes goes under the HOME emptyDir.
    base = {
        "HOME": HOME_DIR,
        "PULUMI_HOME": f"{HOME_DIR}/.pulumi",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    return {**base, **spec.env}


def manifests_for(spec: RunnerSpec) -> list[dict[str, Any]]:
    """ServiceAccount (unless one is named), ConfigMap and Job for a validated spec."""
    manifests = [service_account_manifest(spec)] if spec.create_service_account else []
    return manifests + [config_map_manifest(spec), job_manifest(spec)]


def render_manifests(
    resource_name: str, args: RunnerArgs | None = None, *, organization: str, **kwargs: Any
) -> list[dict[str, Any]]:
    """The manifests an OidcLoginJob with these arguments registers, as plain dicts.

    Takes what `runner_spec` takes (resource_name, organization=..., and a `RunnerArgs` or the
    component's keyword arguments); returns
    [ServiceAccount (unless service_account_name is given), ConfigMap, Job], ready for
    `manifests_to_yaml` or `kubectl apply`. Raises ValueError on a bad argument.
    """
    return manifests_for(runner_spec(resource_name, args, organization=organization, **kwargs))


class _YamlDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings (the script) as readable literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_YamlDumper.add_representer(str, _represent_str)


def manifests_to_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML (`---` separated) for `kubectl apply -f -` or a GitOps repository."""
    return yaml.dump_all(
        [dict(manifest) for manifest in manifests],
        Dumper=_YamlDumper,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
    )
