"""The one rule for tests that need a real tool (the Pulumi CLI, kube-apiserver + etcd): skip with
the reason where it cannot be had, fail instead where the environment variable that CI sets
(.ci/run) says it is required."""

from __future__ import annotations

import os
from typing import TypeVar

import pytest

T = TypeVar("T")


def is_required(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0", "false")


def required_tool(tool: T | None, why: str, variable: str) -> T:
    """``tool`` itself, or skip (fail when ``variable`` is set) saying ``why`` it is missing."""
    if tool is None:
        if is_required(variable):
            pytest.fail(f"{variable} is set and {why}")
        pytest.skip(why)
    return tool
