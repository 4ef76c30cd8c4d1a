"""The Kubernetes runner's arguments, defined once.

``RunnerArgs`` is the one list of what an ``OidcLoginJob`` takes besides its resource name, its
``organization`` and its ``opts``: each argument's name, type and default. Everything else
follows it:

- ``runner_manifests.runner_spec(NAME, args, organization=...)`` (and ``render_manifests``,
  ``runner_names``) take a ``RunnerArgs``, or the same names as keyword arguments;
- ``OidcLoginJob.__init__`` spells the arguments out (so editors and ``help()`` show them) and a
  test compares that signature with this class: names, order, defaults and annotations;
- ``trust.OidcLoginJobArgs`` *is* a ``RunnerArgs`` (a subclass adding the resource name and
  ``opts``), so it takes exactly these arguments;
- the stack's ``runner*`` config keys and ``oidc-trust render``'s flags are mapped onto these
  names (``provider.phrasing``) and leave every unset one to the default here.

Pulumi's own SDKs do the same: one ``JobArgs`` per resource, taken by the resource and by
whatever renders it. This module is plain data (no Pulumi import), so rendering stays cheap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from .runner_source import GitSource

# The Pulumi CLI image the Job runs by default. A tag can be moved; a digest cannot, so pin
# one where it matters: image="pulumi/pulumi:3.272.0@sha256:<digest>". The CLI needs
# `--oidc-token` (3.209+) and the api.pulumi.com default for OIDC logins (3.216+).
DEFAULT_IMAGE = "pulumi/pulumi:3.272.0"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunnerArgs:
    """Every ``OidcLoginJob`` argument besides ``resource_name``, ``organization`` and ``opts``.

    Each field's meaning, and what is accepted, is documented once, in ``OidcLoginJob``'s
    docstring (a test checks that every field has its entry there). The values are kept as
    given: ``runner_spec`` validates them and raises ValueError naming a bad one.

    ``RunnerArgs(namespace="ci", team="platform", commands=["pulumi up --yes"])``
    """

    namespace: str = "default"
    team: str | None = None
    user: str | None = None
    expiration: int | str | None = None
    commands: Sequence[str] = ("pulumi whoami",)
    image: str = DEFAULT_IMAGE
    api_url: str | None = None
    token: str = "projected"
    token_audience: str | None = None
    token_expiration_seconds: int = 3600
    service_account_name: str | None = None
    service_account_annotations: Mapping[str, str] | None = None
    env: Mapping[str, str] | None = None
    resources: Mapping[str, Any] | None = None
    backoff_limit: int = 0
    active_deadline_seconds: int | None = 900
    ttl_seconds_after_finished: int | None = None
    labels: Mapping[str, str] | None = None
    skip_await: bool = False
    stack: str | None = None
    working_dir: str | None = None
    copy_program_to_workspace: bool = False
    git: GitSource | Mapping[str, Any] | None = None
    volumes: Sequence[Mapping[str, Any]] | None = None
    volume_mounts: Sequence[Mapping[str, Any]] | None = None
    env_from: Sequence[Mapping[str, Any]] | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The argument names, in order."""
        return tuple(field.name for field in dataclasses.fields(RunnerArgs))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> RunnerArgs:
        """The arguments found in ``values`` (e.g. a signature's ``locals()``); other keys are ignored."""
        return RunnerArgs(**{name: values[name] for name in cls.names() if name in values})

    def as_kwargs(self) -> dict[str, Any]:
        """The arguments as keyword arguments of ``OidcLoginJob`` (values as given, not copied)."""
        return {name: getattr(self, name) for name in self.names()}


def args_from(args: RunnerArgs | None, kwargs: Mapping[str, Any]) -> RunnerArgs:
    """``args``, or the ``RunnerArgs`` that ``kwargs`` name: how a function that takes either
    (``runner_spec(NAME, args, ...)`` or ``runner_spec(NAME, namespace=..., ...)``) gets one.

    Raises TypeError for both at once, for something else than a ``RunnerArgs``, or for a name
    that is not an argument (with the closest argument names as the fix).
    """
    if args is None:
        unknown = [name for name in kwargs if name not in RunnerArgs.names()]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], RunnerArgs.names(), n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"the arguments are: {', '.join(RunnerArgs.names())}"
            raise TypeError(f"{unknown[0]}: not an OidcLoginJob argument; {fix}")
        return RunnerArgs(**kwargs)
    if not isinstance(args, RunnerArgs):
        raise TypeError(f"args: {args!r} is not a RunnerArgs; pass RunnerArgs(namespace=..., ...) or keyword arguments")
    if kwargs:
        raise TypeError(
            f"{next(iter(kwargs))}: given besides a RunnerArgs; pass the arguments either as a RunnerArgs or as "
            "keyword arguments (dataclasses.replace(args, ...) changes one)"
        )
    return args
