"""Real-CLI tests: the real `pulumi` against the emulator, on a local file backend.

They skip with the reason when no CLI can be had (`make pulumi` builds one where Go is present);
with OIDC_TRUST_REQUIRE_CLI=1 (set by .ci/run) that skip is a failure instead.
"""

from __future__ import annotations

import pytest

from pathlib import Path

from harness.pulumi_cli import Cli, find_cli, find_wheelhouse
from tests.required_tools import required_tool

from .programtest import ProgramTest

@pytest.fixture(scope="session")
def pulumi_cli() -> Cli:
    return required_tool(*find_cli(), "OIDC_TRUST_REQUIRE_CLI")


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """Where fresh virtualenvs install from (``make wheelhouse``; ``harness.pulumi_cli.offline_pip``)."""
    return required_tool(*find_wheelhouse(), "OIDC_TRUST_REQUIRE_CLI")


@pytest.fixture
def program_test(pulumi_cli, tmp_path):
    """Factory: ``program_test(program_dir, stack=..., config=..., secrets=...)``; cleaned up after."""
    made: list[ProgramTest] = []

    def make(program_dir, **kwargs) -> ProgramTest:
        test = ProgramTest(pulumi_cli, program_dir, tmp_path / f"run-{len(made)}", **kwargs)
        made.append(test)
        return test

    yield make
    for test in made:  # a failed test may leave resources in its temporary backend: destroy them
        if test.run(["stack", "export"], record=False).returncode == 0 and test.resources():
            test.destroy_and_remove()
