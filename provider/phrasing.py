"""How a user writes a setting where they are: Python keyword arguments, stack config, the CLI.

The same mistake reaches a user in three places: a Python program (``OidcTrust(..., role_id=...)``),
a stack driven by ``pulumi config set`` (``grantRoleId``), or ``oidc-trust`` on the command line
(``--service-account-annotation``). A fix is only useful in the words of the place the user is in,
so validators describe fixes as a ``Fix`` (a template whose references name arguments), and
whoever reports the error renders it for its place with ``render``. This module is the one place
that decides how an argument is named and how a value is written in each place: plain tables
(``CONFIG_KEYS``, ``CLI_FLAGS``) and plain functions over them.

``context`` says which call an argument belongs to, because names repeat: ``ref`` is
``githubRef`` for the GitHub preset and ``gitlabRef`` for GitLab's.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any, Mapping

WHERES = ("python", "config", "cli")
"""python: keyword arguments; config: `pulumi config set` keys of this project's stack; cli: oidc-trust flags."""

_COMMON = "*"

CONFIG_KEYS: dict[str, dict[str, str]] = {
    _COMMON: {
        "organization": "organization", "issuer_url": "issuerUrl", "name": "issuerName", "adopt": "adoptIssuer",
        "max_expiration_seconds": "maxExpirationSeconds", "policies": "policies", "lint_waivers": "lintWaivers",
        "jwks": "issuerJwks", "thumbprints": "issuerThumbprints", "url": "issuerUrl",
        "runner_grant": "grantType", "grant": "grantType", "role_id": "grantRoleId", "admin": "grantAdmin",
        "token_type": "grantType", "Grant.organization": "grantRoleId",
    },
    "grant": {"team": "grantTeam", "login": "grantUser"},
    "github_actions": {
        "owner": "githubOwner", "repo": "githubRepo", "repository_owner_id": "githubOwnerId",
        "repository_id": "githubRepoId", "ref": "githubRef", "environment": "githubEnvironment",
        "immutable_subject": "githubImmutableSubject",
    },
    "gitlab": {
        "project_path": "gitlabProjectPath", "namespace_id": "gitlabNamespaceId", "project_id": "gitlabProjectId",
        "ref": "gitlabRef", "ref_type": "gitlabRefType", "url": "issuerUrl",
    },
    "kubernetes": {"namespace": "k8sNamespace", "service_account": "k8sServiceAccount"},
    "circleci": {"org_id": "circleciOrgId", "project_id": "circleciProjectId"},
    "runner": {
        "resource_name": "runnerName", "namespace": "runnerNamespace", "commands": "runnerCommands",
        "team": "runnerTeam", "user": "runnerUser", "expiration": "runnerExpiration", "image": "runnerImage",
        "token": "runnerToken", "service_account_annotations": "runnerRoleArn", "grant": "grantType",
        "skip_await": "runnerSkipAwait", "active_deadline_seconds": "runnerActiveDeadlineSeconds",
    },
}  # fmt: skip
"""Stack config key of each (context, Python argument); context ``*`` applies everywhere."""

CONFIG_VALUE_OF: dict[tuple[str, str], str] = {("runner", "service_account_annotations"): "eks.amazonaws.com/role-arn"}
"""Config keys that hold one member of a Python dict argument: (context, argument) -> member."""

CLI_FLAGS: dict[str, dict[str, str]] = {
    "render": {
        "organization": "--org", "resource_name": "--name", "namespace": "--namespace", "team": "--team",
        "user": "--user", "expiration": "--expiration", "commands": "--command", "token": "--token",
        "token_audience": "--token-audience", "service_account_name": "--service-account",
        "service_account_annotations": "--service-account-annotation", "image": "--image", "api_url": "--api-url",
    },
    "lint": {
        "issuer_url": "--issuer", "policies": "--policies", "organization": "--org", "lint_waivers": "--waive",
        "jwks": "--jwks", "max_expiration_seconds": "--max-expiration", "thumbprints": "--thumbprint",
    },
    "exchange": {
        "oidc_token": "--oidc-token", "organization": "--oidc-org", "team": "--oidc-team", "user": "--oidc-user",
        "expiration": "--oidc-expiration", "api_url": "--api-url",
    },
    "simulate": {"token": "--token", "claims": "--claims", "policies": "--policies", "jwks": "--jwks"},
}  # fmt: skip
"""oidc-trust flag of each (subcommand, Python argument). Dict arguments take KEY=VALUE, lists repeat."""


def _lookup(table: Mapping[str, Mapping[str, str]], context: str, argument: str) -> str | None:
    return table.get(context, {}).get(argument) or table.get(_COMMON, {}).get(argument)


def name(where: str, context: str, argument: str) -> str:
    """How ``where`` names ``argument`` of ``context``: ``role_id``, ``grantRoleId``, ``--token``.
    An argument the place has no spelling for keeps its Python name."""
    if where == "config":
        return _lookup(CONFIG_KEYS, context, argument) or argument
    if where == "cli":
        return _lookup(CLI_FLAGS, context, argument) or argument
    return argument


@dataclass(frozen=True)
class Verbatim:
    """A value each place writes in its own way, given as the text to show there (for values
    read from elsewhere: ``"$(kubectl get --raw /openid/v1/jwks)"``)."""

    python: str
    config: str
    cli: str


def setting(where: str, context: str, argument: str, value: Any) -> str:
    """How a user sets ``argument`` to ``value`` (a Python value, or ``Verbatim``) where they are:
    ``role_id='deployer'``, ```pulumi config set grantRoleId deployer```, ``--token projected``."""
    if where == "config":
        key = _lookup(CONFIG_KEYS, context, argument)
        if key is not None:
            if isinstance(value, Verbatim):
                return f"`pulumi config set {key} {value.config}`"
            return _config_setting(key, CONFIG_VALUE_OF.get((context, argument)), value)
    if where == "cli":
        flag = _lookup(CLI_FLAGS, context, argument)
        if flag is not None:
            return f"{flag} {value.cli}" if isinstance(value, Verbatim) else _cli_setting(flag, value)
    return f"{argument}={value.python if isinstance(value, Verbatim) else repr(value)}"


def _config_setting(key: str, member: str | None, value: Any) -> str:
    if member is not None and isinstance(value, Mapping) and member in value:
        value = value[member]
    if isinstance(value, Mapping):
        return " and ".join(
            f"`pulumi config set --path {shlex.quote(f'{key}.{k}')} {_config_text(v)}`" for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return f"`pulumi config set --path {shlex.quote(f'{key}[0]')} {_config_text(value[0])}`" if value else key
    return f"`pulumi config set {key} {_config_text(value)}`"


def _config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return shlex.quote(value)
    return shlex.quote(json.dumps(value))


def _cli_setting(flag: str, value: Any) -> str:
    if isinstance(value, bool):
        return flag
    if isinstance(value, Mapping):
        return " ".join(f"{flag} {shlex.quote(f'{k}={v}')}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " ".join(f"{flag} {shlex.quote(str(v))}" for v in value)
    return f"{flag} {shlex.quote(str(value))}"


def path(where: str, context: str, property_path: str) -> str:
    """A property path such as ``policies[0].rules.sub`` as ``where`` writes it (its first
    segment renamed: ``jwks.keys[0]`` is ``issuerJwks.keys[0]`` in stack config)."""
    head = property_path.split(".", 1)[0].split("[", 1)[0]
    return name(where, context, head) + property_path[len(head):]


def path_setting(where: str, context: str, property_path: str, value: Any) -> str:
    """How to set one nested property: ```pulumi config set --path 'policies[0].rules.sub' VALUE```
    in stack config, ``policies[0].rules.sub = VALUE`` otherwise."""
    if where == "config":
        return f"`pulumi config set --path {shlex.quote(path(where, context, property_path))} {_config_text(value)}`"
    return f"{path(where, context, property_path)} = {value!r}"


@dataclass(frozen=True)
class Ref:
    """A reference in a ``Fix``: ``argument`` set to ``value`` (or, with no value, just its name)."""

    argument: str
    value: Any = None
    named_only: bool = False


def named(argument: str) -> Ref:
    """A ``Ref`` rendered as the argument's name only (``runnerToken``, ``--token``)."""
    return Ref(argument, named_only=True)


@dataclass(frozen=True)
class Fix:
    """A fix whose ``{placeholders}`` are ``Ref``s, rendered in the words of each place:
    ``Fix("pass {role} or {admin}", role=Ref("role_id", "<role id>"), admin=Ref("admin", True))``."""

    template: str
    refs: Mapping[str, Ref] = field(default_factory=dict)

    def __init__(self, template: str, **refs: Ref) -> None:
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "refs", refs)

    def render(self, where: str = "python", context: str = _COMMON) -> str:
        return self.template.format(
            **{
                key: name(where, context, ref.argument) if ref.named_only else setting(where, context, ref.argument, ref.value)
                for key, ref in self.refs.items()
            }
        )

    def __str__(self) -> str:
        return self.render()


def render(fix: "str | Fix", where: str = "python", context: str = _COMMON) -> str:
    """A fix (plain text, or a ``Fix``) in the words of ``where``."""
    return fix.render(where, context) if isinstance(fix, Fix) else fix


class ArgumentError(ValueError):
    """An argument is unusable. ``argument`` names it, ``problem`` says what is wrong, ``fix``
    (text or ``Fix``) what to write instead. ``str()`` is the Python phrasing; a stack or the
    CLI reports ``message(where, context)``."""

    def __init__(self, argument: str, problem: str, fix: "str | Fix"):
        self.argument, self.problem, self.fix = argument, problem, fix
        super().__init__(f"{argument}: {problem}; {render(fix)}")

    def message(self, where: str, context: str = _COMMON) -> str:
        return f"{name(where, context, self.argument)}: {self.problem}; {render(self.fix, where, context)}"
