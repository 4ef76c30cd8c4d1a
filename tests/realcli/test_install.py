"""``pulumi install`` with this project's language host installs, every time, as Pulumi's host does.

A first install that fails (here: the wheelhouse it may install from is empty) leaves a virtualenv
holding Python and pip only; ``pulumi preview`` then fails on ``import pulumi``. Before, the next
``pulumi install`` saw that the virtualenv existed, exited 0 and installed nothing; now it runs pip
on requirements.txt and the preview passes. pip installs from the wheelhouse (``make wheelhouse``)
through the environment alone (``offline_pip``): nothing is downloaded, the program is not edited.
"""

from __future__ import annotations

import textwrap

from harness.pulumi_cli import offline_pip

PROGRAM = {
    "Pulumi.yaml": textwrap.dedent("""\
        name: install-check
        runtime:
          name: python
          options:
            toolchain: pip
            virtualenv: venv
        """),
    "requirements.txt": "pulumi>=3.216,<4\n",
    "__main__.py": "import pulumi\n\npulumi.export('installed', True)\n",
}


def test_pulumi_install_repairs_a_virtualenv_left_broken_by_a_failed_install(program_test, wheelhouse, tmp_path):
    program = tmp_path / "program"
    program.mkdir()
    for name, text in PROGRAM.items():
        (program / name).write_text(text)
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    test = program_test(program, stack="dev", env=offline_pip(empty))

    failed = test.run(["install"], stack_args=False)
    assert failed.returncode != 0, failed
    assert (program / "venv" / "bin" / "python").exists()  # the virtualenv is there, half-installed
    broken = test.run(["preview"])
    assert broken.returncode != 0 and "No module named 'pulumi'" in broken.output, broken

    test.env.update(offline_pip(wheelhouse))
    installed = test.ok(["install"], stack_args=False)
    # What Pulumi's own host prints around pip's output.
    assert "Installing dependencies..." in installed.output, installed
    assert "Installing dependencies in virtual environment..." in installed.output, installed
    assert "Successfully installed" in installed.output and "pulumi-" in installed.output, installed
    assert "Finished installing dependencies" in installed.output, installed
    test.ok(["preview"])

    # And again: a second install runs pip again (requirements already satisfied), and succeeds.
    again = test.ok(["install"], stack_args=False)
    assert "Requirement already satisfied: pulumi" in again.output, again
