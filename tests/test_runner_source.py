"""Where the runner's program comes from: the manifests of each source (the schema, Pod Security
and shellcheck tables in test_runner_manifests/test_runner_script cover these cases too), bad
arguments refused with the fix, the init container's fetch script run for real with the machine's
git against local repositories (file://, a stand-in ssh server, Basic-auth smart HTTP), and the
entrypoint in the program's folder, a read-only one included."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pulumi_oidc_trust.components.runner_manifests import (
    RUN_AS_USER,
    SCRIPT_DIR,
    config_map_data,
    render_manifests,
    runner_spec,
)
from pulumi_oidc_trust.components.runner_source import (
    CHECKOUT_DIR,
    DEFAULT_GIT_IMAGE,
    RESTRICTED_VOLUME_TYPES,
    GitSource,
    askpass_script,
    fetch_script,
)
from tests.git_helpers import BasicAuthGitServer, make_repository, run_fetch, stand_in_ssh
from tests.k8s_helpers import CASES, COMMIT, KNOWN_HOSTS, pod_security_violations
from tests.test_runner_script import STAND_IN, shellcheck

RUNNER_DOC = Path(__file__).resolve().parents[1] / "docs" / "runner.md"  # where the runner's reference lives


def render(case_or_kwargs: str | dict) -> dict[str, dict]:
    kwargs = CASES[case_or_kwargs] if isinstance(case_or_kwargs, str) else case_or_kwargs
    return {m["kind"]: m for m in render_manifests("runner", **kwargs)}


def pod(manifests: dict[str, dict]) -> dict:
    return manifests["Job"]["spec"]["template"]["spec"]


def containers(manifests: dict[str, dict]) -> dict[str, dict]:
    spec = pod(manifests)
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def mounts(container: dict) -> dict[str, dict]:
    return {m["mountPath"]: m for m in container["volumeMounts"]}


def volumes(manifests: dict[str, dict]) -> dict[str, dict]:
    return {v["name"]: v for v in pod(manifests)["volumes"]}


def entrypoint(manifests: dict[str, dict]) -> str:
    return manifests["ConfigMap"]["data"]["entrypoint.sh"]


# --------------------------------------------------------------------------------------------
# Manifests of each source


def test_git_source_fetches_in_a_pinned_restricted_init_container_into_the_workspace():
    manifests = render("git-public")
    fetch, main = containers(manifests)["fetch-program"], containers(manifests)["pulumi"]
    assert pod(manifests)["initContainers"] == [fetch]
    assert fetch["image"] == DEFAULT_GIT_IMAGE and re.fullmatch(r"alpine/git:v\d+\.\d+\.\d+", DEFAULT_GIT_IMAGE)
    assert fetch["command"] == ["/bin/sh", "/opt/oidc-login/fetch-program.sh"]
    assert fetch["securityContext"] == main["securityContext"]
    assert pod_security_violations(pod(manifests)) == []
    assert volumes(manifests)["workspace"] == {"name": "workspace", "emptyDir": {}}
    for container in (fetch, main):
        assert mounts(container)["/workspace"] == {"name": "workspace", "mountPath": "/workspace"}
    data = manifests["ConfigMap"]["data"]
    assert data["fetch-program.sh"] == fetch_script(runner_spec("runner", **CASES["git-public"]).source.git,
                                                    config_dir=SCRIPT_DIR)  # fmt: skip
    assert f"commit={COMMIT}\n" in data["fetch-program.sh"]
    # The entrypoint moves into the program's folder inside the checkout, then selects the stack.
    script = entrypoint(manifests)
    assert "program_dir=/workspace/src/stacks/prod\n" in script
    assert script.index('cd "${program_dir}"') < script.index("pulumi login")
    assert script.index("pulumi login") < script.index("pulumi stack select acme/infra/prod --non-interactive")
    assert script.index("pulumi stack select") < script.index("pulumi whoami")


def test_a_public_repository_needs_no_secret():
    manifests = render("git-public")
    assert "git-credentials" not in volumes(manifests)
    assert set(manifests["ConfigMap"]["data"]) == {"entrypoint.sh", "fetch-program.sh"}
    assert "GIT_ASKPASS" not in manifests["ConfigMap"]["data"]["fetch-program.sh"]


@pytest.mark.parametrize("case, secret, keys", [
    ("git-basic-auth", "infra-deploy-token", ["username", "password"]),
    ("git-ssh", "infra-deploy-key", ["ssh-privatekey"]),
])  # fmt: skip
def test_the_git_secret_is_mounted_by_name_into_the_init_container_only(case, secret, keys):
    manifests = render(case)
    assert volumes(manifests)["git-credentials"]["secret"] == {
        "secretName": secret, "defaultMode": 0o440, "items": [{"key": k, "path": k} for k in keys],
    }  # fmt: skip
    fetch, main = containers(manifests)["fetch-program"], containers(manifests)["pulumi"]
    assert mounts(fetch)["/var/run/secrets/oidc-login-git"]["readOnly"] is True
    assert not any(m["name"] == "git-credentials" for m in main["volumeMounts"]), "the program never sees it"
    assert "envFrom" not in fetch and all("valueFrom" not in e for e in fetch["env"])


def test_ssh_source_checks_host_keys_strictly_against_the_known_hosts_given():
    manifests = render("git-ssh")
    data = manifests["ConfigMap"]["data"]
    assert data["known_hosts"] == KNOWN_HOSTS
    assert "StrictHostKeyChecking=yes" in data["fetch-program.sh"]
    assert "UserKnownHostsFile=/opt/oidc-login/known_hosts" in data["fetch-program.sh"]
    # OpenSSH exits for a uid without a passwd entry: the init container gets one for uid 10001.
    passwd = mounts(containers(manifests)["fetch-program"])["/etc/passwd"]
    assert passwd == {"name": "entrypoint", "mountPath": "/etc/passwd", "subPath": "passwd", "readOnly": True}
    assert f":{RUN_AS_USER}:{RUN_AS_USER}:" in data["passwd"]


def test_image_source_runs_in_working_dir_with_no_init_container_and_no_workspace():
    manifests = render("image-program")
    assert "initContainers" not in pod(manifests) and "workspace" not in volumes(manifests)
    assert containers(manifests)["pulumi"]["image"] == "acme/infra-program:1.4.0"
    assert "program_dir=/app\n" in entrypoint(manifests) and "cp -R" not in entrypoint(manifests)


def test_copied_image_source_copies_working_dir_into_the_writable_workspace():
    manifests = render("image-program-copied")
    assert "initContainers" not in pod(manifests)
    assert mounts(containers(manifests)["pulumi"])["/workspace"]["name"] == "workspace"
    script = entrypoint(manifests)
    assert "program_dir=/workspace/program\n" in script and "copy_from=/app/infra\n" in script


def test_volumes_mounts_and_env_from_are_passed_through_to_the_main_container():
    manifests = render("pass-through")
    main = containers(manifests)["pulumi"]
    for volume in CASES["pass-through"]["volumes"]:
        assert volumes(manifests)[volume["name"]] == volume
    for mount in CASES["pass-through"]["volume_mounts"]:
        assert mounts(main)[mount["mountPath"]] == mount
    assert main["envFrom"] == CASES["pass-through"]["env_from"]


def test_no_source_keeps_the_manifests_and_the_digest_of_a_runner_without_one():
    manifests = render("default")
    assert "initContainers" not in pod(manifests) and "workspace" not in volumes(manifests)
    assert "envFrom" not in containers(manifests)["pulumi"] and "cd " not in entrypoint(manifests)
    digest = manifests["Job"]["spec"]["template"]["metadata"]["annotations"]["checksum/entrypoint"]
    assert digest == hashlib.sha256(entrypoint(manifests).encode()).hexdigest(), "an upgrade does not rerun the Job"


def test_a_new_commit_changes_the_pod_template_so_the_job_runs_again():
    def template(commit):
        git_source = {**CASES["git-public"]["git"], "commit": commit}
        return render({**CASES["git-public"], "git": git_source})["Job"]["spec"]["template"]

    assert template(COMMIT) == template(COMMIT)
    assert template(COMMIT) != template("0" * 40)


def test_git_may_be_a_dict_or_a_git_source_and_the_sha_is_normalized():
    as_dict = runner_spec("runner", **CASES["git-public"]).source
    as_object = runner_spec("runner", **{**CASES["git-public"], "git": GitSource(**CASES["git-public"]["git"])}).source
    assert as_dict == as_object
    upper = {**CASES["git-public"]["git"], "commit": COMMIT.upper()}
    assert runner_spec("runner", organization="acme", git=upper).source.git.commit == COMMIT


# --------------------------------------------------------------------------------------------
# Bad arguments

GIT = {"repository": "https://github.com/acme/infra.git", "commit": COMMIT}
SSH = {"repository": "git@github.com:acme/infra.git", "commit": COMMIT, "ssh_auth_secret": "key"}

BAD_ARGUMENTS = [
    ({"working_dir": "/app", "git": GIT}, "git", "not both"),
    ({"git": {**GIT, "commit": "main"}}, "git.commit", "not a full commit SHA.*git rev-parse"),
    ({"git": {**GIT, "commit": COMMIT[:12]}}, "git.commit", "not a full commit SHA"),
    ({"git": {**GIT, "commit": "v1.2.3"}}, "git.commit", "not a full commit SHA"),
    ({"git": SSH}, "git.known_hosts", "missing.*ssh-keyscan"),
    ({"git": {**SSH, "known_hosts": "github.com"}}, "git.known_hosts", "HOSTS KEYTYPE KEY"),
    ({"git": {**GIT, "known_hosts": KNOWN_HOSTS}}, "git.known_hosts", "only used over ssh"),
    ({"working_dir": "app"}, "working_dir", "relative.*'/app'"),
    ({"working_dir": "/workspace/app"}, "working_dir", "workspace"),
    ({"copy_program_to_workspace": True}, "copy_program_to_workspace", "without working_dir"),
    ({"git": GIT, "copy_program_to_workspace": True}, "copy_program_to_workspace", "already in the writable"),
    ({"git": {**GIT, "repository": "https://user:hunter2@github.com/acme/infra.git"}}, "git.repository", "credentials"),
    ({"git": {**GIT, "repository": "https://ghp_token@github.com/acme/infra.git"}}, "git.repository", "credentials"),
    ({"git": {**GIT, "repository": "http://git.example.com/acme/infra.git"}}, "git.repository", "plain http"),
    ({"git": {**GIT, "repository": "git://github.com/acme/infra.git"}}, "git.repository", "not supported"),
    ({"git": {**GIT, "repository": "ext::sh -c touch% /tmp/pwned"}}, "git.repository", "not a repository URL"),
    ({"git": {**GIT, "repository": "--upload-pack=touch /tmp/x"}}, "git.repository", "not a repository URL"),
    ({"git": {**GIT, "repository": "-u:x"}}, "git.repository", "option"),
    ({"git": {**GIT, "repository": "ssh://git@github.com/acme/infra.git"}}, "git.ssh_auth_secret", "needs a key"),
    ({"git": {**GIT, "ssh_auth_secret": "key", "known_hosts": KNOWN_HOSTS}}, "git.ssh_auth_secret", "not an ssh URL"),
    ({"git": {**SSH, "basic_auth_secret": "token"}}, "git.ssh_auth_secret", "together"),
    ({"git": {**SSH, "ssh_auth_secret": None, "basic_auth_secret": "token"}}, "git.basic_auth_secret", "https"),
    ({"git": {**GIT, "basic_auth_secret": "Not_A_Name"}}, "git.basic_auth_secret", "Secret name"),
    ({"git": {**GIT, "path": "../other"}}, "git.path", "inside the repository"),
    ({"git": {**GIT, "path": "/infra"}}, "git.path", "inside the repository"),
    ({"git": {**GIT, "image": "alpine/git"}}, "git.image", "not pinned"),
    ({"git": {**GIT, "image": "alpine/git:latest"}}, "git.image", "not pinned"),
    ({"git": {**GIT, "branch": "main"}}, "git", "unknown key"),
    ({"git": {"repository": GIT["repository"]}}, "git", "has no commit"),
    ({"git": "https://github.com/acme/infra.git"}, "git", "not a GitSource"),
    ({"stack": "prod"}, "stack", "ORGANIZATION/PROJECT/STACK.*'acme/infra/prod'"),
    ({"stack": "globex/infra/prod"}, "stack", "runner logs in to 'acme'"),
    ({"volumes": [{"name": "home", "emptyDir": {}}]}, "volumes", "already used by the runner"),
    ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, "volumes", "restricted"),
    ({"volumes": [{"name": "src", "gitRepo": {"repository": "https://github.com/acme/infra.git"}}]}, "volumes",
     "'gitRepo' volume, which Pod Security 'restricted' refuses.*configMap, csi, downwardAPI, emptyDir, "
     "ephemeral, persistentVolumeClaim, projected, secret"),
    ({"volumes": [{"name": "share", "nfs": {"server": "10.0.0.2", "path": "/exports"}}]}, "volumes", "'nfs' volume"),
    ({"volumes": [{"name": "x", "madeUpSource": {}}]}, "volumes", "'madeUpSource' volume.*persistentVolumeClaim"),
    ({"volumes": {"name": "x"}}, "volumes", "not a list"),
    ({"volumes": [{"name": "x", "emptyDir": {}}], "volume_mounts": [{"name": "y", "mountPath": "/y"}]},
     "volume_mounts", "not one of the volumes"),
    ({"volumes": [{"name": "x", "emptyDir": {}}], "volume_mounts": [{"name": "x", "mountPath": "/home/pulumi"}]},
     "volume_mounts", "hide the runner's own '/home/pulumi'"),
    ({"volumes": [{"name": "x", "emptyDir": {}}], "volume_mounts": [{"name": "x", "mountPath": "/var/run"}]},
     "volume_mounts", "hide"),
    ({"volumes": [{"name": "x", "emptyDir": {}}], "volume_mounts": [{"name": "x", "mountPath": "data"}]},
     "volume_mounts", "not absolute"),
    ({"env_from": [{"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}]}, "env_from", "not an envFrom"),
]  # fmt: skip


@pytest.mark.parametrize("overrides, argument, message", BAD_ARGUMENTS)
def test_bad_source_arguments_are_refused_naming_the_argument_and_the_fix(overrides, argument, message):
    with pytest.raises(ValueError, match=f"^{re.escape(argument)}: ") as raised:
        render_manifests("runner", **{"organization": "acme", **overrides})
    assert raised.match(message)
    assert "; " in str(raised.value), "the message says how to fix it"
    assert "hunter2" not in str(raised.value) and "ghp_token" not in str(raised.value), "no credential echoed"


ALLOWED_VOLUMES = {
    "configMap": {"name": "infra-config"},
    "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True},
    "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
    "emptyDir": {},
    "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"],
                                                   "resources": {"requests": {"storage": "1Gi"}}}}},
    "persistentVolumeClaim": {"claimName": "infra-src"},
    "projected": {"sources": [{"configMap": {"name": "infra-config"}}]},
    "secret": {"secretName": "aws-credentials"},
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(ALLOWED_VOLUMES))
def test_every_volume_type_pod_security_restricted_allows_is_passed_through(kind):
    manifests = render({"organization": "acme", "volumes": [{"name": "mine", kind: ALLOWED_VOLUMES[kind]}],
                        "volume_mounts": [{"name": "mine", "mountPath": "/mine"}]})  # fmt: skip
    assert volumes(manifests)["mine"] == {"name": "mine", kind: ALLOWED_VOLUMES[kind]}
    assert pod_security_violations(pod(manifests)) == []


def test_the_runner_page_names_the_volume_types_that_pass():
    text = RUNNER_DOC.read_text()
    mounts = text[text.index("**Your own mounts.**"):].split("\n\n", 1)[0]
    listed = mounts.split("admits pass:", 1)[1].split("(", 1)[0]
    assert sorted(re.findall(r"[A-Za-z]+", listed.replace(" and ", " "))) == sorted(RESTRICTED_VOLUME_TYPES)


# --------------------------------------------------------------------------------------------
# The fetch script, for real


@pytest.mark.parametrize("auth", ["none", "basic", "ssh"])
def test_fetch_script_and_askpass_pass_shellcheck_as_posix_sh(auth):
    source = {"none": GitSource(**GIT), "basic": GitSource(**GIT, basic_auth_secret="t"),
              "ssh": GitSource(**SSH, known_hosts=KNOWN_HOSTS)}[auth]  # fmt: skip
    for script in (fetch_script(source, config_dir=SCRIPT_DIR), askpass_script()):
        checked = subprocess.run([str(Path(sys.executable).parent / "shellcheck"), "--shell=sh", "--severity=style",
                                  "-"], input=script, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("protocol", ["2", "0"])
@pytest.mark.parametrize("which", ["first", "second"])
def test_the_pinned_commit_is_checked_out_whether_or_not_it_is_a_branch_tip(tmp_path, protocol, which):
    # Protocol v0 servers send only what a ref reaches: the script's fallback fetches the branches.
    repo = make_repository(tmp_path / "repo")
    commit = getattr(repo, which)
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.version", "GIT_CONFIG_VALUE_0": protocol}
    fetch = run_fetch(tmp_path / "pod", GitSource(repo.url, commit), extra_env=env)
    assert fetch.result.returncode == 0, fetch.output
    assert fetch.head() == commit
    assert (fetch.checkout / "infra" / "Pulumi.yaml").is_file()
    assert (fetch.checkout / "README.md").exists() == (which == "second")
    assert f"fetch-program: checked out {commit}" in fetch.result.stderr


def test_a_commit_that_is_not_in_the_repository_fails_the_fetch_with_the_fix(tmp_path):
    repo = make_repository(tmp_path / "repo")
    wrong = hashlib.sha1(b"not a commit here").hexdigest()
    fetch = run_fetch(tmp_path / "pod", GitSource(repo.url, wrong))
    assert fetch.result.returncode == 1
    assert f"commit {wrong} is not in {repo.url}: check git.commit" in fetch.result.stderr
    assert not (fetch.checkout / "infra").exists()


def test_the_head_check_fails_when_the_checkout_is_not_the_pinned_commit(tmp_path):
    # A git whose checkout lands elsewhere (a hook, a replaced object, a bug) must not pass.
    repo = make_repository(tmp_path / "repo")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    real = shutil.which("git")
    # After the checkout, move HEAD to another commit with the same tree.
    wrapper.write_text(
        f"#!/bin/sh\n{real} \"$@\" || exit $?\n"
        f"if [ \"$1\" = -c ] && [ \"$3\" = checkout ]; then\n"
        f"  other=$({real} -c user.name=x -c user.email=x@example.com commit-tree -m other 'HEAD^{{tree}}')\n"
        f"  {real} reset -q --hard \"$other\"\n"
        "fi\n"
    )
    wrapper.chmod(0o755)
    fetch = run_fetch(tmp_path / "pod", GitSource(repo.url, repo.first), bin_dir=bin_dir)
    assert fetch.result.returncode == 1, fetch.output
    other = fetch.head()
    assert other != repo.first
    assert f"checked out {other}, not the pinned commit {repo.first}" in fetch.result.stderr


def test_an_unreachable_repository_fails_with_the_fix(tmp_path):
    fetch = run_fetch(tmp_path / "pod", GitSource((tmp_path / "nothing.git").as_uri(), COMMIT))
    assert fetch.result.returncode == 1
    assert "cannot fetch from" in fetch.result.stderr and "check the repository URL" in fetch.result.stderr


def test_ssh_source_fetches_with_the_secrets_key_and_only_the_given_host_keys(tmp_path):
    repo = make_repository(tmp_path / "repo")
    bin_dir = tmp_path / "bin"
    stand_in_ssh(bin_dir)
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"
    source = GitSource("git@git.example.com:acme/infra.git", repo.first, ssh_auth_secret="deploy-key",
                       known_hosts=KNOWN_HOSTS)  # fmt: skip
    spec = runner_spec("runner", organization="acme", git=source)
    config = {k: v for k, v in config_map_data(spec).items() if k == "known_hosts"}
    log = tmp_path / "ssh.jsonl"
    env = {"STAND_IN_SSH_LOG": str(log), "STAND_IN_SSH_ROOT": str(repo.bare.parents[1])}
    fetch = run_fetch(tmp_path / "pod", spec.source.git, config=config, secret={"ssh-privatekey": key},
                      bin_dir=bin_dir, extra_env=env)  # fmt: skip
    assert fetch.result.returncode == 0, fetch.output
    assert fetch.head() == repo.first
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls, "git went through ssh"
    for argv in calls:
        assert argv[argv.index("-i") + 1] == str(tmp_path / "pod" / "secret" / "ssh-privatekey")
        options = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
        assert {"StrictHostKeyChecking=yes", "BatchMode=yes", "GlobalKnownHostsFile=/dev/null",
                f"UserKnownHostsFile={tmp_path / 'pod' / 'config' / 'known_hosts'}"} <= set(options)  # fmt: skip
    assert "PRIVATE KEY" not in fetch.output

    other = GitSource("git@other.example.com:acme/infra.git", repo.first, ssh_auth_secret="deploy-key",
                      known_hosts=KNOWN_HOSTS)  # fmt: skip
    refused = run_fetch(tmp_path / "pod2", other, config=config, secret={"ssh-privatekey": key}, bin_dir=bin_dir,
                        extra_env=env)  # fmt: skip
    assert refused.result.returncode == 1 and "Host key verification failed" in refused.result.stderr


PASSWORD = "s3cret-" + hashlib.sha256(b"basic-auth test").hexdigest()[:16]


@pytest.fixture
def basic_auth_server(tmp_path):
    repo = make_repository(tmp_path / "repo")
    server = BasicAuthGitServer(repo.bare.parents[1], "deploy-bot", PASSWORD)
    yield server, repo
    server.stop()


def test_basic_auth_source_logs_in_through_askpass_and_writes_the_password_nowhere(tmp_path, basic_auth_server):
    server, repo = basic_auth_server
    secret = {"username": "deploy-bot", "password": PASSWORD}
    source = GitSource(f"{server.base_url}/acme/infra.git", repo.first, basic_auth_secret="deploy-token")
    spec = runner_spec("runner", organization="acme", git=source)
    fetch = run_fetch(tmp_path / "pod", spec.source.git, secret=secret,
                      config={"git-askpass.sh": askpass_script(secret_dir=str(tmp_path / "pod" / "secret"))})
    assert fetch.result.returncode == 0, fetch.output
    assert fetch.head() == repo.first
    assert server.expected in server.authorizations, "git sent the Secret's username and password"

    written = [fetch.output, *[p.read_text(errors="replace") for p in fetch.checkout.rglob("*")
                               if p.is_file() and ".git/objects" not in str(p)]]  # fmt: skip
    written += [p.read_text(errors="replace") for p in fetch.home.rglob("*") if p.is_file()]
    rendered = json.dumps(render_manifests("runner", organization="acme", git=source))
    header = server.expected.split()[1]  # base64 of username:password, as git sent it
    for text in [*written, rendered]:
        assert PASSWORD not in text and header not in text
    assert "deploy-bot" not in (fetch.checkout / ".git" / "config").read_text()


def test_basic_auth_with_a_wrong_password_fails_without_waiting_for_a_prompt(tmp_path, basic_auth_server):
    server, repo = basic_auth_server
    source = GitSource(f"{server.base_url}/acme/infra.git", repo.first, basic_auth_secret="deploy-token")
    fetch = run_fetch(tmp_path / "pod", source, secret={"username": "deploy-bot", "password": "wrong"},
                      config={"git-askpass.sh": askpass_script(secret_dir=str(tmp_path / "pod" / "secret"))})
    assert fetch.result.returncode == 1
    assert "cannot fetch from" in fetch.result.stderr
    assert "wrong" not in fetch.output


# --------------------------------------------------------------------------------------------
# The entrypoint in the program's folder (a stand-in pulumi; the real CLI: tests/realcli)


def run_entrypoint(tmp_path: Path, script: str, *, read_only: Path | None = None) -> tuple[subprocess.CompletedProcess, list]:
    """Run `script` under bash with a stand-in pulumi; `read_only` is bind-mounted read-only, as
    the image's filesystem is in the pod."""
    token = tmp_path / "token"
    token.write_text("header.claims.signature\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pulumi").write_text(STAND_IN.format(python=sys.executable))
    (bin_dir / "pulumi").chmod(0o755)
    (tmp_path / "entrypoint.sh").write_text(script)
    argv_log = tmp_path / "argv.jsonl"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "STAND_IN_ARGV_LOG": str(argv_log),
           "STAND_IN_TOKEN_LOG": str(tmp_path / "token.log")}  # fmt: skip
    command = ["/bin/bash", str(tmp_path / "entrypoint.sh")]
    if read_only is not None:
        command = ["unshare", "-rm", "sh", "-c", 'mount --bind -o ro "$1" "$1" && shift && exec "$@"', "sh",
                   str(read_only), *command]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    calls = [json.loads(line) for line in argv_log.read_text().splitlines()] if argv_log.exists() else []
    return result, calls


def _program(where: Path) -> Path:
    where.mkdir(parents=True)
    (where / "Pulumi.yaml").write_text("name: infra\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    return where


def _read_only_mounts_work(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount --bind -o ro {probe} {probe} && ! touch {probe}/x"],
                          capture_output=True, timeout=30)  # fmt: skip
    return done.returncode == 0


def test_image_source_runs_the_commands_in_working_dir_and_selects_the_stack_after_login(tmp_path):
    program = _program(tmp_path / "app")
    script = entrypoint(render({"organization": "acme", "token": str(tmp_path / "token"), "working_dir": str(program),
                                "stack": "acme/infra/prod",
                                "commands": ["test -f Pulumi.yaml && pulumi whoami", "pulumi up --yes"]}))  # fmt: skip
    result, calls = run_entrypoint(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert [c[:3] for c in calls] == [["login", "--oidc-token", f"file://{tmp_path / 'token'}"],
                                      ["stack", "select", "acme/infra/prod"], ["whoami"], ["up", "--yes"]]  # fmt: skip


def test_a_folder_without_pulumi_yaml_fails_before_logging_in_with_the_fix(tmp_path):
    (tmp_path / "app").mkdir()
    script = entrypoint(render({"organization": "acme", "token": str(tmp_path / "token"),
                                "working_dir": str(tmp_path / "app")}))  # fmt: skip
    result, calls = run_entrypoint(tmp_path, script)
    assert result.returncode == 1 and calls == []
    assert f"oidc-login: no Pulumi.yaml in {tmp_path / 'app'}; check working_dir" in result.stderr


def test_read_only_program_with_a_prebuilt_virtualenv_or_copied_into_the_workspace(tmp_path):
    if not _read_only_mounts_work(tmp_path):
        pytest.skip("cannot bind-mount a folder read-only here (unshare -rm)")
    program = _program(tmp_path / "image" / "app")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(program / "venv")], check=True, timeout=120)
    make_venv = f"{shutil.which('python3')} -m venv --without-pip venv"
    use_venv = "venv/bin/python -c 'import sys; print(\"venv at\", sys.prefix)'"

    def run(name: str, **kwargs) -> tuple[subprocess.CompletedProcess, list]:
        where = tmp_path / name
        where.mkdir()
        script = entrypoint(render({"organization": "acme", "token": str(where / "token"), **kwargs}))
        return run_entrypoint(where, script.replace("/workspace/", f"{where}/workspace/"), read_only=program)

    # Prebuilt in the image: used where it is, nothing written.
    prebuilt, calls = run("prebuilt", working_dir=str(program), commands=[use_venv, "pulumi whoami"])
    assert prebuilt.returncode == 0, prebuilt.stderr
    assert f"venv at {program / 'venv'}" in prebuilt.stdout and calls[-1] == ["whoami"]
    # Creating one there fails: the folder really is read-only ...
    failed, _ = run("in-place", working_dir=str(program), commands=["rm -rf venv", make_venv])
    assert failed.returncode != 0 and "Read-only file system" in failed.stderr
    # ... and works in the workspace copy, which the source does not see.
    copied, _ = run("copied", working_dir=str(program), copy_program_to_workspace=True,
                    commands=["rm -rf venv", make_venv, use_venv, "test -w Pulumi.yaml"])  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    assert f"venv at {tmp_path / 'copied' / 'workspace' / 'program' / 'venv'}" in copied.stdout
    assert (program / "venv" / "bin").is_dir(), "the image's own venv is untouched"


# --------------------------------------------------------------------------------------------
# The git example of docs/runner.md


def readme_example() -> tuple[dict, dict]:
    """The keyword arguments of the git example in docs/runner.md: (OidcLoginJob's, GitSource's)."""
    import ast

    text = RUNNER_DOC.read_text()
    section = text[text.index("## A stack from a git commit"):]
    block = section[section.index("```python") + len("```python"): section.index("```", section.index("```python") + 3)]
    calls = {node.func.id: node for node in ast.walk(ast.parse(block))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}  # fmt: skip

    def literal_kwargs(call: ast.Call) -> dict:
        return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg not in ("git", "opts")}

    job, git_source = calls.get("OidcLoginJobArgs") or calls["OidcLoginJob"], calls["GitSource"]
    job_kwargs = {"resource_name": ast.literal_eval(job.args[0]), **literal_kwargs(job)}
    if "OidcTrust" in calls:  # OidcLoginJobArgs takes its organization from the trust
        trust = {k.arg: k.value for k in calls["OidcTrust"].keywords}
        job_kwargs["organization"] = ast.literal_eval(trust["organization"])
    return job_kwargs, literal_kwargs(git_source)


def test_the_documented_example_renders_a_git_runner_that_runs_pulumi_up_of_its_stack():
    job, git_source = readme_example()
    name = job.pop("resource_name")
    spec = runner_spec(name, **job, git=GitSource(**git_source))
    assert spec.source.kind == "git" and spec.source.git.auth == "none"
    assert spec.stack and any(line.startswith("pulumi up") for line in spec.commands)
    assert spec.source.program_dir.startswith(CHECKOUT_DIR)
    assert pod_security_violations(pod({m["kind"]: m for m in render_manifests(name, **job, git=git_source)})) == []
