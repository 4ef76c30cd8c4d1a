"""What the two dynamic providers share: configuration, the client, unknowns, check results."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import pulumi

from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, DiffResult, ResourceProvider
from pulumi.output import Unknown

from . import settings as settings_mod
from .errors import InvalidCredentialError, PulumiCloudError
from .urls import path_segment_problem

if TYPE_CHECKING:  # the HTTP stack is imported where a client is made (base._client)
    from .client import PulumiCloudClient

PROVIDER_KEY = "__provider"


def is_unknown(value: Any) -> bool:
    """True for a value not known yet (preview): the engine sends ``Unknown`` objects to check/diff."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False


def split_id(resource_id: str, what: str) -> tuple[str, str]:
    """``ORG/ID`` -> (org, id)."""
    parts = (resource_id or "").split("/")
    if len(parts) != 2 or any(path_segment_problem(p) for p in parts):
        raise ValueError(f"{what} id {resource_id!r} is not of the form ORGANIZATION/ISSUER_ID")
    return parts[0], parts[1]


def inputs_only(props: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: props[k] for k in keys if props.get(k) is not None}


class ProviderError(Exception):
    """The first line the engine shows for a failed create, read, update or delete.

    The SDK's dynamic-provider host sends the engine ``traceback.format_exc()`` of whatever a
    provider raises (``pulumi.dynamic.__main__``), so a traceback always follows. ``_message_first``
    puts the message before it: the error is raised *from* a ``ProviderError`` holding its message,
    never raised itself and so without a traceback, and Python prints a cause first."""


def with_fix(error: PulumiCloudError) -> str:
    """The service's refusal and what to do about it (the transport's own messages carry theirs)."""
    if error.status == 401:
        return (f"{error}; the service did not accept the access token: give an organization admin's token with "
                "`pulumi config set --secret oidc:accessToken <token>` (or PULUMI_ACCESS_TOKEN, or `pulumi login` "
                "to that API URL)")
    if error.status == 403:
        return (f"{error}; this token may not manage the organization's OIDC issuers and policies: use an "
                "organization admin's token (oidc:accessToken)")
    return str(error)


def _message_first(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a provider method: a ``PulumiCloudError`` (the service refused, nothing answered, no
    credential) keeps its type, gets its fix (``with_fix``) and reaches the engine with that message
    first and a traceback of the SDK's frames only; anything else, a bug, keeps its whole traceback."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> Any:
        try:
            return method(self, *args)
        except PulumiCloudError as e:
            error = e
        message = with_fix(error)
        error.args = (message,)
        raise error.with_traceback(None) from ProviderError(message)

    return wrapper


class CloudResourceProvider(ResourceProvider):
    """Base of the dynamic providers: credentials come from ``configure()``, never from the pickle.

    Instances carry no state of their own when pickled (``__getstate__``), so the serialized
    provider is a reference to the class: small, free of secrets and of code.
    """

    serialize_as_secret_always = False  # nothing secret is reachable from an instance

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("create", "read", "update", "delete"):
            if name in cls.__dict__:
                setattr(cls, name, _message_first(cls.__dict__[name]))

    # Pure functions each resource module supplies: (normalized inputs, [(property, problem)]) and
    # (changed keys, keys forcing a replacement). check and diff never call the API.
    validate_inputs: Callable[[Mapping[str, Any]], tuple[dict[str, Any], list[tuple[str, str]]]]
    diff_inputs: Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[list[str], list[str]]]

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, problems = self.validate_inputs(news)
        settings = getattr(self, "_settings", None)
        if settings is not None and settings.api_url_problem:
            problems = [*problems, (settings_mod.CONFIG_API_URL, settings.api_url_problem)]
        return CheckResult(inputs, [CheckFailure(prop, reason) for prop, reason in problems])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed, replaces = self.diff_inputs(olds, news)
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        pass

    def configure(self, req: ConfigureRequest) -> None:
        # Never raises: a missing or unusable credential surfaces at the first HTTP call.
        self._settings = settings_mod.resolve(req.config.get)

    def _client(self) -> PulumiCloudClient:
        settings = getattr(self, "_settings", None) or settings_mod.resolve(lambda _key: None)
        if settings.api_url_problem:
            raise PulumiCloudError(0, settings.api_url_problem, "invalid_api_url")
        if settings.access_token_problem:  # recorded by configure(); nothing is sent with it
            raise InvalidCredentialError(settings.access_token_problem)
        # Kept alive: a provider process makes a client per operation, and reconnecting for each
        # one cost more than the provider's own work (docs/measured.md).
        from .client import PulumiCloudClient  # the HTTP stack: only operations that send need it

        return PulumiCloudClient(settings.api_url, settings.access_token, token_source=settings.token_source,
                                 keep_alive=True)


def with_values(values: Sequence[Any], fn: Callable[[list[Any]], None]) -> None:
    """``fn(values)`` once every value is known, for the program-side lint warnings: now, when the
    values are plain data (strings, numbers, lists and dicts of them: the usual program), else when
    they resolve (``Output.all(...).apply``; an apply never runs on an unknown value). An apply per
    resource cost the program's event loop more than the lint it ran (docs/measured.md)."""
    if all(_plain(v) for v in values):
        fn(list(values))
    else:
        pulumi.Output.all(*values).apply(fn)


def _plain(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(_plain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def is_gone(error: PulumiCloudError) -> bool:
    """The object does not exist: 404, or the policy endpoint's 400 "Invalid issuer ID"."""
    return error.status == 404 or (error.status == 400 and "invalid issuer id" in error.message.lower())
