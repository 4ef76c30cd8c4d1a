"""The runner with a program source, with the real CLI against the emulator: the git
example of docs/runner.md, its commit fetched for real by the init container's script from a local bare repository,
then the entrypoint logging in with the pod's token and running the commands in the checkout.

What differs from the pod, and why: the repository is a local `file://` one at its own commit (no
network); the commands are `test -f Pulumi.yaml && pulumi whoami -v` instead of the example's
`pulumi up` and no stack is selected (the emulator plays Pulumi Cloud's OIDC and user endpoints,
not its stack service); the workspace and the token are in a temporary folder.
"""

from __future__ import annotations

import subprocess

from pulumi_oidc_trust.components.runner_manifests import SCRIPT_KEY, config_map_data, runner_spec
from pulumi_oidc_trust.components.runner_source import WORKSPACE_DIR, GitSource
from pulumi_oidc_trust.provider.wire import audience_for

from harness.pulumi_cli import cli_environment
from tests.git_helpers import make_repository, run_fetch
from tests.test_runner_source import readme_example


def test_the_readme_git_runner_fetches_its_commit_logs_in_and_runs_in_the_checkout(pulumi_cli, start_emulator,
                                                                                   tmp_path):  # fmt: skip
    job, git_source = readme_example()
    name = job.pop("resource_name")
    repo = make_repository(tmp_path / "repo", program_path=git_source["path"])
    token_path = tmp_path / "pod" / "token"
    cloud = start_emulator()
    spec = runner_spec(name, **{
        **job, "stack": None, "commands": ["test -f Pulumi.yaml && pulumi whoami -v"],
        "api_url": cloud.base_url, "token": str(token_path),
        "git": GitSource(**{**git_source, "repository": repo.url, "commit": repo.first}),
    })  # fmt: skip

    issuer = cloud.register_issuer(spec.organization, name="cluster")
    cloud.set_policies(issuer["id"], [
        {"decision": "allow", "tokenType": "team", "teamName": spec.team, "authorizedPermissions": [],
         "rules": {"aud": spec.names.audience, "sub": spec.names.subject}},
    ], spec.organization)  # fmt: skip

    # The init container: the pinned commit into the workspace.
    pod = tmp_path / "pod"
    fetch = run_fetch(pod, spec.source.git)
    assert fetch.result.returncode == 0, fetch.output
    assert fetch.head() == repo.first

    # The main container: the ConfigMap's entrypoint, with the workspace where run_fetch put it.
    entrypoint = config_map_data(spec)[SCRIPT_KEY]
    assert f"program_dir={WORKSPACE_DIR}/src/{git_source['path']}\n" in entrypoint
    (pod / SCRIPT_KEY).write_text(entrypoint.replace(f"{WORKSPACE_DIR}/", f"{pod / 'workspace'}/"))
    token = cloud.mint({"sub": spec.names.subject, "aud": audience_for(spec.organization)})
    token_path.write_text(token + "\n")
    home = tmp_path / "home"
    home.mkdir()
    ran = subprocess.run(["/bin/bash", str(pod / SCRIPT_KEY)], env=cli_environment(pulumi_cli, home, home / ".pulumi"),
                         cwd=tmp_path, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"Token type: team: {spec.team}" in ran.stdout
    assert token not in ran.stdout + ran.stderr
