"""The runner's arguments are defined once (components/runner_args.RunnerArgs): every signature
that spells them out matches that definition, and every function that takes them forwards all."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any, Callable

import pytest

from pulumi_oidc_trust.components import runner as runner_module
from pulumi_oidc_trust.components import trust as trust_module
from pulumi_oidc_trust.components import OidcLoginJob, OidcLoginJobArgs, RunnerArgs, runner_spec
from pulumi_oidc_trust.components.runner_manifests import render_manifests, runner_names

# (name, default, annotation) of each argument, from the one definition.
DEFINITION = [
    (field.name, field.default, typing.get_type_hints(RunnerArgs)[field.name]) for field in dataclasses.fields(RunnerArgs)
]


def arguments_of(function: Callable[..., Any], skip: tuple[str, ...]) -> list[tuple[str, Any, Any]]:
    """(name, default, annotation) of a signature's keyword-only parameters, in order (a class:
    its constructor's, with the annotations of its fields)."""
    hints = typing.get_type_hints(function)
    params = inspect.signature(function).parameters.values()
    return [
        (p.name, p.default, hints.get(p.name, p.annotation))
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in skip
    ]


def differences(function: Callable[..., Any], skip: tuple[str, ...]) -> list[str]:
    """How a signature's runner arguments differ from RunnerArgs (empty when they match)."""
    found = arguments_of(function, skip)
    problems = []
    names, expected_names = [n for n, _, _ in found], [n for n, _, _ in DEFINITION]
    if names != expected_names:
        problems.append(f"names: missing {sorted(set(expected_names) - set(names))}, "
                        f"extra {sorted(set(names) - set(expected_names))}, or another order")  # fmt: skip
    expected = {name: (default, hint) for name, default, hint in DEFINITION}
    for name, default, hint in found:
        if name in expected and expected[name] != (default, hint):
            problems.append(f"{name}: {(default, hint)} instead of {expected[name]}")
    return problems


# --------------------------------------------------------------------------------------------
# Every signature matches the one definition


def test_oidc_login_job_spells_out_exactly_the_runner_arguments():
    assert differences(OidcLoginJob.__init__, skip=("organization", "opts")) == []
    params = inspect.signature(OidcLoginJob.__init__).parameters
    assert list(params)[:2] == ["self", "resource_name"] and list(params)[-1] == "opts"
    assert params["organization"].default is inspect.Parameter.empty, "organization is required"
    assert typing.get_type_hints(OidcLoginJob.__init__)["organization"] is str


def test_oidc_login_job_args_takes_the_runner_arguments_but_no_organization():
    assert issubclass(OidcLoginJobArgs, RunnerArgs)
    assert differences(OidcLoginJobArgs, skip=("organization", "opts")) == []
    params = inspect.signature(OidcLoginJobArgs).parameters
    assert next(iter(params)) == "resource_name" and list(params)[-1] == "opts"
    with pytest.raises(ValueError, match="organization: OidcLoginJobArgs takes no organization"):
        OidcLoginJobArgs("pulumi-login", organization="acme")
    with pytest.raises(TypeError, match="unexpected keyword argument 'namespce'"):
        OidcLoginJobArgs("pulumi-login", namespce="ci")  # at once, not when the trust resolves it


@pytest.mark.parametrize("function", [runner_spec, render_manifests, runner_names])
def test_pure_functions_take_a_runner_args_or_its_names_and_copy_no_list(function):
    params = inspect.signature(function).parameters
    assert list(params) == ["resource_name", "args", "organization", "kwargs"]
    assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD, "no copy of the list to drift"
    hints = typing.get_type_hints(function)
    assert hints["args"] == RunnerArgs | None
    assert hints["organization"] == typing.get_type_hints(OidcLoginJob.__init__)["organization"]


def test_the_comparison_reports_a_missing_argument_a_changed_default_and_a_changed_type():
    # The check above must be able to fail: three signatures that drifted from RunnerArgs.
    def missing(*, namespace: str = "default"): ...

    assert any("names: missing" in p and "env_from" in p for p in differences(missing, skip=()))

    source = inspect.getsource(OidcLoginJob.__init__)
    namespace = {**vars(runner_module)}
    exec(inspect.cleandoc("\n" + source).replace('backoff_limit: int = 0', 'backoff_limit: int = 1'), namespace)
    assert differences(namespace["__init__"], skip=("organization", "opts")) == [
        "backoff_limit: (1, <class 'int'>) instead of (0, <class 'int'>)"
    ]
    exec(inspect.cleandoc("\n" + source).replace('skip_await: bool = False', 'skip_await: int = False'), namespace)
    assert differences(namespace["__init__"], skip=("organization", "opts")) == [
        "skip_await: (False, <class 'int'>) instead of (False, <class 'bool'>)"
    ]


def test_every_argument_is_documented_in_oidc_login_job():
    doc = inspect.getdoc(OidcLoginJob) or ""

    def documented(name: str) -> bool:  # an entry ("team / user: ...") or named in one (`token_audience`)
        return bool(re.search(rf"^\s*(\w+ / )*{name}( / \w+)*:", doc, re.MULTILINE)) or f"`{name}`" in doc

    assert [name for name, _, _ in DEFINITION if not documented(name)] == []
    assert not documented("extra"), "a word of the text is not an entry"
    assert "skip_await" in doc and "pulumi.com/skipAwait" in doc


# --------------------------------------------------------------------------------------------
# Every argument is forwarded


class _Stop(Exception):
    pass


def _distinct_values() -> dict[str, object]:
    return {name: object() for name, _, _ in DEFINITION}


def test_oidc_login_job_forwards_every_argument_to_runner_spec(monkeypatch):
    seen: dict[str, Any] = {}

    def capture(resource_name, args, *, organization):
        seen.update(resource_name=resource_name, args=args, organization=organization)
        raise _Stop  # before anything is registered

    monkeypatch.setattr(runner_module, "runner_spec", capture)
    values = _distinct_values()
    with pytest.raises(_Stop):
        OidcLoginJob("runner", organization="acme", **values)
    assert (seen["resource_name"], seen["organization"]) == ("runner", "acme")
    assert seen["args"].as_kwargs() == values


def test_oidc_login_job_args_forwards_every_argument(monkeypatch):
    values = _distinct_values()
    args = OidcLoginJobArgs("runner", **values)
    assert args.as_kwargs() == values, "what OidcTrust passes to OidcLoginJob"
    seen = {}
    monkeypatch.setattr(trust_module, "runner_spec", lambda name, a, *, organization: seen.update(args=a))
    args.spec("acme")
    assert seen["args"].as_kwargs() == values


def test_runner_spec_gives_the_same_spec_for_a_runner_args_and_for_keywords():
    kwargs = {"namespace": "ci", "team": "platform", "expiration": "1h", "commands": ["pulumi whoami"]}
    assert runner_spec("runner", RunnerArgs(**kwargs), organization="acme") == runner_spec(
        "runner", organization="acme", **kwargs
    )
    assert render_manifests("runner", RunnerArgs(**kwargs), organization="acme") == render_manifests(
        "runner", organization="acme", **kwargs
    )


def test_runner_spec_defaults_are_the_definitions():
    assert runner_spec("runner", organization="acme") == runner_spec("runner", RunnerArgs(), organization="acme")
    spec = runner_spec("runner", organization="acme")
    assert (spec.names.namespace, spec.commands, spec.skip_await) == (
        RunnerArgs.namespace, tuple(RunnerArgs.commands), RunnerArgs.skip_await
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: runner_spec("runner", organization="acme", namespce="ci"), "namespce: not an OidcLoginJob argument; did you mean 'namespace'"),
        (lambda: runner_spec("runner", organization="acme", colour="blue"), "colour: not an OidcLoginJob argument; the arguments are: namespace, team"),
        (lambda: runner_spec("runner", RunnerArgs(), organization="acme", team="x"), "team: given besides a RunnerArgs"),
        (lambda: runner_spec("runner", {"team": "x"}, organization="acme"), "args: {'team': 'x'} is not a RunnerArgs"),
    ],
)  # fmt: skip
def test_a_wrong_argument_name_or_form_is_refused_with_the_fix(call, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace("{", r"\{")):
        call()


def test_runner_args_is_frozen_and_replace_changes_one_argument():
    args = RunnerArgs(team="platform")
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.team = "other"  # type: ignore[misc]
    assert dataclasses.replace(args, namespace="ci").as_kwargs() == {**args.as_kwargs(), "namespace": "ci"}


# --------------------------------------------------------------------------------------------
# The stack's config keys and oidc-trust render's flags map onto the same names


def test_render_flags_store_under_the_runner_argument_names():
    from pulumi_oidc_trust.cli.main import build_parser
    from pulumi_oidc_trust.provider.phrasing import CLI_FLAGS

    parser = build_parser()
    render = parser._subparsers._group_actions[0].choices["render"]  # type: ignore[union-attr]
    dest_of = {flag: action.dest for action in render._actions for flag in action.option_strings}
    for argument, flag in CLI_FLAGS["render"].items():
        if argument in RunnerArgs.names():
            assert dest_of[flag] == argument, (flag, argument)
    runner_dests = {dest for dest in dest_of.values() if dest in RunnerArgs.names()}
    assert runner_dests == {a for a in CLI_FLAGS["render"] if a in RunnerArgs.names()}, "each named in phrasing"
    assert render.get_default("namespace") is None, "an unset flag leaves the argument to RunnerArgs"


def test_the_stacks_runner_keys_name_runner_arguments():
    from pulumi_oidc_trust.provider.phrasing import CONFIG_KEYS

    assert set(CONFIG_KEYS["runner"]) - set(RunnerArgs.names()) == {"resource_name", "grant"}
