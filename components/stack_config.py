"""The stack's configuration, turned into OidcTrust arguments.

``__main__.py`` is ``stack_arguments(read_config(pulumi.Config()), ...)`` plus the resources.
``read_config`` reads every key this project declares with the getter its type needs;
``stack_arguments`` is pure (plain values in, plain arguments out), so every choice the stack
makes from its configuration is unit-testable without the Pulumi engine.

Types, descriptions and defaults of the keys are declared once, in ``Pulumi.yaml`` (the CLI
applies the defaults before the program runs); ``CONFIG_TYPES`` repeats only the type each key is
read as, and a test keeps the two in step. Empty strings mean "not set" (Pulumi requires a
default for every optional declared key).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_oidc_trust.provider import phrasing
from pulumi_oidc_trust.provider.phrasing import ArgumentError
from pulumi_oidc_trust.provider.policy import Policy, PolicyError, parse_policies

from . import presets
from .presets import GITHUB_ISSUER_URL, GITLAB_ISSUER_URL, Grant
from .runner_args import RunnerArgs
from .trust import OidcLoginJobArgs

PRESETS = ("github", "gitlab", "kubernetes", "circleci", "none")

CONFIG_TYPES: dict[str, str] = {
    "organization": "string",
    "preset": "string",
    "issuerUrl": "string",
    "issuerName": "string",
    "adoptIssuer": "boolean",
    "maxExpirationSeconds": "integer",
    "githubOwner": "string",
    "githubRepo": "string",
    "githubOwnerId": "string",
    "githubRepoId": "string",
    "githubRef": "string",
    "githubEnvironment": "string",
    "githubImmutableSubject": "boolean",
    "gitlabProjectPath": "string",
    "gitlabNamespaceId": "string",
    "gitlabProjectId": "string",
    "gitlabRef": "string",
    "gitlabRefType": "string",
    "k8sNamespace": "string",
    "k8sServiceAccount": "string",
    "circleciOrgId": "string",
    "circleciProjectId": "string",
    "grantType": "string",
    "grantTeam": "string",
    "grantUser": "string",
    "grantRoleId": "string",
    "grantAdmin": "boolean",
    "deployRunner": "boolean",
    "runnerName": "string",
    "runnerNamespace": "string",
    "runnerCommands": "array",
    "runnerTeam": "string",
    "runnerUser": "string",
    "runnerExpiration": "string",
    "runnerImage": "string",
    "runnerToken": "string",
    "runnerRoleArn": "string",
    "runnerKubeconfig": "string",
    "runnerSkipAwait": "boolean",
    "runnerActiveDeadlineSeconds": "integer",
    # Structured values: stack config objects, not declared in Pulumi.yaml (no 'object' type there).
    "issuerThumbprints": "array",
    "policies": "object",
    "lintWaivers": "object",
    "issuerJwks": "object",
}
"""Every key the stack reads, and the type it is read as (declared in Pulumi.yaml, except objects)."""


class StackConfigError(ValueError):
    """A configuration value is unusable; the message names the key and how to set it."""

    def __init__(self, key: str, problem: str, fix: str | None = None):
        self.key = key
        fix = fix or f"set it with `pulumi config set {key} VALUE`"
        super().__init__(f"config {key}: {problem}; {fix}")


@dataclasses.dataclass(frozen=True)
class StackArguments:
    """What the stack builds: the arguments of one ``OidcTrust`` (``trust_kwargs``)."""

    organization: str
    issuer_url: str
    policies: list[Policy]
    name: str
    max_expiration_seconds: int | None
    lint_waivers: dict[str, str] | None
    adopt: bool
    runner: OidcLoginJobArgs | None
    runner_grant: Grant | None
    jwks: dict[str, Any] | None = None
    thumbprints: list[str] | None = None
    fix_phrasing: str = "config"
    runner_kubeconfig: str | None = None
    """The runner's cluster (a kubeconfig path or contents) for an explicit Kubernetes provider;
    None: pulumi-kubernetes' default provider. Not an OidcTrust argument: ``__main__`` uses it."""

    def trust_kwargs(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name != "runner_kubeconfig"}


def read_config(config: Any) -> dict[str, Any]:
    """Every key of ``CONFIG_TYPES`` from a ``pulumi.Config``, parsed by its type (None: unset)."""
    getters: dict[str, Callable[[str], Any]] = {
        "string": config.get,
        "integer": config.get_int,
        "boolean": config.get_bool,
        "array": config.get_object,
        "object": config.get_object,
    }
    return {key: getters[kind](key) for key, kind in CONFIG_TYPES.items()}


def stack_arguments(values: Mapping[str, Any], *, default_name: str) -> StackArguments:
    """Translate configuration values (``read_config``'s dict) into ``OidcTrust`` arguments.

    ``default_name`` is the issuer's display name when ``issuerName`` is unset. Raises
    ``StackConfigError`` naming the key for anything unusable.
    """
    v = _Values(values)
    organization = v.required("organization")
    preset = v.required("preset")
    if preset not in PRESETS:
        raise StackConfigError("preset", f"{preset!r} is not one of {', '.join(PRESETS)}")
    issuer_url, policies = _preset(preset, organization, v)
    policies = policies + _explicit_policies(v)
    runner, runner_grant = _runner(preset, v)
    if not policies and runner is None:
        raise StackConfigError(
            "policies",
            f"preset {preset!r} with nothing to trust",
            "choose a preset (github, gitlab, kubernetes, circleci), give `policies`, or set deployRunner true",
        )
    return StackArguments(
        organization=organization,
        issuer_url=issuer_url,
        policies=policies,
        name=v.get("issuerName") or default_name,
        max_expiration_seconds=v.get("maxExpirationSeconds") or None,
        lint_waivers=_waivers(v),
        adopt=bool(v.get("adoptIssuer")),
        runner=runner,
        runner_grant=runner_grant,
        jwks=_jwks(v),
        thumbprints=_thumbprints(v),
        runner_kubeconfig=v.get("runnerKubeconfig") if runner is not None else None,
    )


def _jwks(v: _Values) -> dict[str, Any] | None:
    raw = v.get("issuerJwks")
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("keys"), list):
        raise StackConfigError(
            "issuerJwks", "must be a JSON Web Key Set, an object with a 'keys' list",
            "`pulumi config set issuerJwks \"$(kubectl get --raw /openid/v1/jwks)\"`",
        )  # fmt: skip
    return dict(raw)


def _thumbprints(v: _Values) -> list[str] | None:
    raw = v.get("issuerThumbprints")
    if raw is None:
        return None
    if isinstance(raw, str) or not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise StackConfigError(
            "issuerThumbprints", "must be a list of SHA-256 fingerprints (strings)",
            "`pulumi config set --path 'issuerThumbprints[0]' <64 hex characters>`",
        )  # fmt: skip
    return list(raw) or None


class _Values:
    """Config values with "" and None both meaning unset."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = values

    def get(self, key: str) -> Any:
        value = self._values.get(key)
        return None if value == "" else value

    def required(self, key: str, why: str = "") -> Any:
        value = self.get(key)
        if value is None:
            raise StackConfigError(key, "is not set" + (f" ({why})" if why else ""))
        return value


def _translate(call: Callable[[], Any], context: str) -> Any:
    """Run a preset or runner check; its error is reported by config key, with the fix in
    ``pulumi config set`` words (``provider.phrasing`` decides both, for ``context``)."""
    try:
        return call()
    except StackConfigError:
        raise
    except ArgumentError as e:
        key = phrasing.name("config", context, e.argument)
        if key == e.argument and key not in CONFIG_TYPES:
            raise
        problem = e.problem
        raise StackConfigError(key, problem, phrasing.render(e.fix, "config", context)) from None
    except ValueError as e:
        # Validators not yet speaking ArgumentError: "<argument>: <problem>; <fix>".
        argument, _, rest = str(e).partition(": ")
        key = phrasing.name("config", context, argument)
        if key == argument and key not in CONFIG_TYPES:
            raise
        problem, _, fix = rest.partition("; ")
        raise StackConfigError(key, problem, fix or None) from None


# ---------------------------------------------------------------------------------------------
# Presets


def _grant(v: _Values, why: str) -> Grant:
    kind = v.required("grantType", f"{why} needs the token it grants: organization, team or personal")
    if kind == "team":
        return _translate(lambda: Grant.team(v.required("grantTeam", "grantType is team")), "grant")
    if kind == "personal":
        return _translate(lambda: Grant.personal(v.required("grantUser", "grantType is personal")), "grant")
    if kind == "organization":
        return _translate(
            lambda: Grant.organization(role_id=v.get("grantRoleId"), admin=bool(v.get("grantAdmin"))), "grant"
        )
    raise StackConfigError("grantType", f"{kind!r} is not organization, team or personal")


def _preset(preset: str, organization: str, v: _Values) -> tuple[str, list[Policy]]:
    """(issuer URL, the preset's policies)."""
    url = v.get("issuerUrl")
    if preset == "github":
        grant = _grant(v, "preset github")
        policies = _translate(
            lambda: presets.github_actions(
                v.required("githubOwner"),
                v.required("githubRepo"),
                organization=organization,
                repository_owner_id=v.required("githubOwnerId", "github.com is shared by every account"),
                repository_id=v.get("githubRepoId"),
                ref=v.get("githubRef"),
                environment=v.get("githubEnvironment"),
                immutable_subject=bool(v.get("githubImmutableSubject")),
                grant=grant,
            ),
            "github_actions",
        )
        return url or GITHUB_ISSUER_URL, policies
    if preset == "gitlab":
        url = url or GITLAB_ISSUER_URL
        grant = _grant(v, "preset gitlab")
        policies = _translate(
            lambda: presets.gitlab(
                v.required("gitlabProjectPath"),
                organization=organization,
                namespace_id=v.required("gitlabNamespaceId", "the group's numeric id"),
                project_id=v.get("gitlabProjectId"),
                ref=v.get("gitlabRef") or "main",
                ref_type=v.get("gitlabRefType") or "branch",
                grant=grant,
                url=url,
            ),
            "gitlab",
        )
        return url, policies
    if preset == "kubernetes":
        url = v.required("issuerUrl", "the cluster's OIDC issuer, e.g. from `aws eks describe-cluster`")
        namespace, account = v.get("k8sNamespace"), v.get("k8sServiceAccount")
        if namespace is None and account is None:
            return url, []  # the runner's own rule only (deployRunner)
        grant = _grant(v, "preset kubernetes")
        policies = _translate(
            lambda: presets.kubernetes(
                v.required("k8sNamespace"), v.required("k8sServiceAccount"), organization=organization, grant=grant
            ),
            "kubernetes",
        )
        return url, policies
    if preset == "circleci":
        org_id = v.required("circleciOrgId")
        grant = _grant(v, "preset circleci")
        default_url = _translate(lambda: presets.circleci_issuer_url(org_id), "circleci")
        policies = _translate(
            lambda: presets.circleci(org_id, v.required("circleciProjectId"), organization=organization, grant=grant),
            "circleci",
        )
        return url or default_url, policies
    return v.required("issuerUrl", "preset none: the issuer to trust"), []


def _explicit_policies(v: _Values) -> list[Policy]:
    raw = v.get("policies")
    if raw is None:
        return []
    try:
        return parse_policies(raw, where="policies")
    except PolicyError as e:
        # Name the property that is wrong (policies[1].rules.sub), not a fixed example.
        (first, problem), *more = e.problems
        others = f" (and {len(more)} more: {', '.join(p for p, _ in more)})" if more else ""
        raise StackConfigError(
            "policies", f"{first} {problem}{others}",
            f"fix it in Pulumi.<stack>.yaml, or with {phrasing.path_setting('config', '*', first, 'VALUE')}",
        ) from None


def _waivers(v: _Values) -> dict[str, str] | None:
    raw = v.get("lintWaivers")
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not all(isinstance(r, str) for r in raw.values()):
        raise StackConfigError(
            "lintWaivers", "must map a rule id to the reason it is accepted",
            "set each with " + phrasing.setting("config", "*", "lint_waivers", {"OIDC012": "repository name has a dot; ids pinned"}),
        )  # fmt: skip
    return dict(raw)


# ---------------------------------------------------------------------------------------------
# The Kubernetes runner



def _runner(preset: str, v: _Values) -> tuple[OidcLoginJobArgs | None, Grant | None]:
    """The runner's arguments (None unless deployRunner) and, for an organization token, its grant."""
    if not v.get("deployRunner"):
        return None, None
    if preset not in ("kubernetes", "none"):
        raise StackConfigError(
            "deployRunner",
            f"the runner logs in with its cluster's token, but preset {preset!r} trusts another issuer",
            "use preset kubernetes with issuerUrl set to the cluster's issuer (one stack per issuer)",
        )
    args = OidcLoginJobArgs(v.get("runnerName") or "pulumi-login", **_runner_kwargs(v))
    organization_token = args.team is None and args.user is None
    grant = _grant(v, "a runner without runnerTeam or runnerUser") if organization_token else None
    if grant is not None and grant.token_type != "organization":
        raise StackConfigError(
            "runnerTeam",
            "is not set, so the runner asks for an organization token, but grantType is " + grant.token_type,
            "set runnerTeam or runnerUser, or grantType organization",
        )
    # Validate now, so a bad runner setting is reported by its key before anything is registered.
    _translate(lambda: presets.login_job(args.spec(v.required("organization")), grant=grant), "runner")
    return args, grant


def _runner_kwargs(v: _Values) -> dict[str, Any]:
    """The runner arguments that ``runner*`` keys set (``phrasing.CONFIG_KEYS``, the one mapping of
    argument to key); an unset key leaves its argument to ``RunnerArgs``' default."""
    kwargs: dict[str, Any] = {}
    for argument, key in phrasing.CONFIG_KEYS["runner"].items():
        value = v.get(key)
        if argument not in RunnerArgs.names() or value is None:
            continue
        member = phrasing.CONFIG_VALUE_OF.get(("runner", argument))  # runnerRoleArn: one annotation
        kwargs[argument] = {member: value} if member else value
    return kwargs
