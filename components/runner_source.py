"""Where the runner's Pulumi program comes from, and what users mount beside it, as plain data.

An `OidcLoginJob` runs its commands in one of three places:

- nowhere in particular (no source: today's behaviour, the commands bring their own program);
- a folder of the image (`working_dir`): the program was baked into the image. The root
  filesystem is read-only, so a Python program's virtualenv must either be prebuilt in the image
  (the CLI only reads it) or be created next to a copy of the program in the writable workspace
  emptyDir (`copy_program_to_workspace=True`);
- a git repository at one pinned, full commit SHA (`git=GitSource(...)`): an init container (a
  pinned git image, Pod Security "restricted" like the main container) fetches that commit into
  the workspace emptyDir and checks that the checked-out HEAD is that SHA.

Private repositories take a Secret the user creates and names: `kubernetes.io/basic-auth`
(https; git reads it through an askpass helper) or `kubernetes.io/ssh-auth` (ssh; with the
server's `known_hosts`, which is required). The Secret is only mounted into the init container:
its values are never in the ConfigMap, the scripts, the logs, nor the main container.

Everything here is a pure function over plain values; `runner_manifests` calls it and puts the
results into the ConfigMap and the Job. Every bad argument is a `ValueError` naming the argument
and the fix, in the same form as `runner_manifests`' own.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

from pulumi_oidc_trust.provider.image_ref import pinned_image_problem

# The init container's image. A minimal, widely used git image (git, openssh and a POSIX sh
# on Alpine), pinned by an exact version tag. A tag can be moved; a digest cannot: pin one with
# GitSource(image="alpine/git:v2.45.1@sha256:<digest>") (the digest `docker buildx imagetools
# inspect alpine/git:v2.45.1` or `crane digest alpine/git:v2.45.1` prints). This is the one place
# the choice is made.
DEFAULT_GIT_IMAGE = "alpine/git:v2.45.1"

WORKSPACE_DIR = "/workspace"
CHECKOUT_DIR = f"{WORKSPACE_DIR}/src"  # a git source is checked out here
COPY_DIR = f"{WORKSPACE_DIR}/program"  # copy_program_to_workspace copies working_dir here
GIT_SECRET_DIR = "/var/run/secrets/oidc-login-git"  # the init container's view of the Secret

FETCH_SCRIPT_KEY = "fetch-program.sh"
ASKPASS_KEY = "git-askpass.sh"
KNOWN_HOSTS_KEY = "known_hosts"
# OpenSSH exits when the uid has no passwd entry; the image knows no uid 10001, so the init
# container of an ssh source gets a passwd file (mounted over /etc/passwd) that does.
PASSWD_KEY = "passwd"

INIT_CONTAINER_NAME = "fetch-program"
WORKSPACE_VOLUME = "workspace"
GIT_SECRET_VOLUME = "git-credentials"

BASIC_AUTH_KEYS = ("username", "password")  # the keys of a kubernetes.io/basic-auth Secret
SSH_AUTH_KEY = "ssh-privatekey"  # the key of a kubernetes.io/ssh-auth Secret

_COMMIT = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(value: Any) -> bool:
    """A Kubernetes DNS-1123 label: at most 63 lower-case letters, digits and '-', alphanumeric at both ends."""
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_LABEL.match(value))
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# scp-like ssh address: [user@]host:path (no scheme; the path does not start with '/'-'/').
_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?!/)(?P<path>.+)$")
_STACK_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_ENV_FROM_KINDS = ("configMapRef", "secretRef")


def _fail(argument: str, problem: str, fix: str) -> NoReturn:
    raise ValueError(f"{argument}: {problem}; {fix}")


# --------------------------------------------------------------------------------------------
# The git source


@dataclasses.dataclass(frozen=True)
class GitSource:
    """A Pulumi program in a git repository, at one pinned commit.

    repository: the clone URL: `https://host/owner/repo.git` (public, or with
        `basic_auth_secret`), `ssh://git@host/owner/repo.git` or `git@host:owner/repo.git` (with
        `ssh_auth_secret` and `known_hosts`). `file:///path` is accepted for rendering the
        scripts in tests: the init container mounts no volume of yours, so it has no such path.
        Never with a user or password in it: credentials come from a Secret.
    commit: the full commit SHA (40 hex digits; 64 for a SHA-256 repository). A branch, a tag or a
        short SHA is refused: it can move, or become ambiguous. `git rev-parse HEAD` prints it.
    path: the program's folder inside the repository (default: its root).
    basic_auth_secret: name of a Secret of type `kubernetes.io/basic-auth` (keys `username`,
        `password`, e.g. a deploy token) in the runner's namespace, for a private https repository.
    ssh_auth_secret: name of a Secret of type `kubernetes.io/ssh-auth` (key `ssh-privatekey`) in
        the runner's namespace, for a private ssh repository. Requires `known_hosts`.
    known_hosts: the server's host keys in known_hosts format (`ssh-keyscan HOST` shows them;
        compare them with the ones the host publishes). Host keys are public: they go into the
        ConfigMap. Host key checking is strict: an unknown key fails the fetch.
    image: the init container's git image, pinned (default `DEFAULT_GIT_IMAGE`).
    """

    repository: str
    commit: str
    path: str = ""
    basic_auth_secret: str | None = None
    ssh_auth_secret: str | None = None
    known_hosts: str | None = None
    image: str = DEFAULT_GIT_IMAGE

    @property
    def auth(self) -> str:
        """"none", "basic" or "ssh"."""
        if self.basic_auth_secret is not None:
            return "basic"
        if self.ssh_auth_secret is not None:
            return "ssh"
        return "none"

    @property
    def secret_name(self) -> str | None:
        return self.basic_auth_secret or self.ssh_auth_secret


@dataclasses.dataclass(frozen=True)
class ProgramSource:
    """Where the commands run: the validated `working_dir` / `git` arguments.

    kind: "none" (no source; the commands run in $HOME), "image" or "git".
    program_dir: the folder the script changes to before logging in (None for "none").
    copy_from: with `copy_program_to_workspace`, the image folder copied to `program_dir`.
    git: the validated `GitSource` of a "git" source.
    """

    kind: str
    program_dir: str | None = None
    copy_from: str | None = None
    git: GitSource | None = None

    @property
    def uses_workspace(self) -> bool:
        """Whether the pod needs the workspace emptyDir."""
        return self.kind == "git" or self.copy_from is not None


NO_SOURCE = ProgramSource("none")


def program_source(
    *, working_dir: Any = None, copy_program_to_workspace: Any = False, git: Any = None
) -> ProgramSource:
    """Validate the program-source arguments of an OidcLoginJob; raise ValueError naming a bad one."""
    if not isinstance(copy_program_to_workspace, bool):
        _fail("copy_program_to_workspace", f"{copy_program_to_workspace!r} is not a bool", "pass True or False")
    if working_dir is not None and git is not None:
        _fail(
            "git",
            "given together with working_dir, but the program comes from one source",
            "pass working_dir (the program is in the image) or git (the program is fetched from a "
            "repository), not both",
        )
    if git is not None:
        if copy_program_to_workspace:
            _fail(
                "copy_program_to_workspace",
                "given with git, whose checkout is already in the writable workspace",
                "remove it",
            )
        source = _check_git(git)
        program_dir = posixpath.join(CHECKOUT_DIR, source.path) if source.path else CHECKOUT_DIR
        return ProgramSource("git", program_dir=program_dir, git=source)
    if working_dir is not None:
        directory = _check_working_dir(working_dir)
        if copy_program_to_workspace:
            return ProgramSource("image", program_dir=COPY_DIR, copy_from=directory)
        return ProgramSource("image", program_dir=directory)
    if copy_program_to_workspace:
        _fail("copy_program_to_workspace", "given without working_dir", "pass working_dir, the program's folder in the image")
    return NO_SOURCE


def _check_working_dir(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        _fail("working_dir", f"{value!r} is not a path", "pass the program's absolute folder in the image, e.g. '/app'")
    if not posixpath.isabs(value):
        _fail(
            "working_dir",
            f"{value!r} is relative (to what the container happens to start in)",
            f"pass the absolute folder of the program in the image, e.g. {posixpath.join('/', value)!r}",
        )
    directory = posixpath.normpath(value)
    if directory == WORKSPACE_DIR or directory.startswith(WORKSPACE_DIR + "/"):
        _fail(
            "working_dir",
            f"{value!r} is inside the runner's workspace emptyDir, which starts empty",
            "put the program elsewhere in the image (or mount it with volumes/volume_mounts), "
            "or use git=GitSource(...)",
        )
    return directory


def _check_git(value: Any) -> GitSource:
    if isinstance(value, Mapping):
        fields = {f.name for f in dataclasses.fields(GitSource)}
        unknown = sorted(set(value) - fields)
        if unknown:
            _fail("git", f"unknown key(s) {unknown}", f"use only {sorted(fields)}")
        missing = [key for key in ("repository", "commit") if key not in value]
        if missing:
            _fail("git", f"has no {' or '.join(missing)}", "pass git=GitSource(repository=URL, commit=FULL_SHA)")
        value = GitSource(**value)
    if not isinstance(value, GitSource):
        _fail("git", f"{value!r} is not a GitSource", "pass git=GitSource(repository=URL, commit=FULL_SHA)")

    commit = _check_commit(value.commit)
    transport = _check_repository(value.repository)
    path = _check_repository_path(value.path)
    _check_pinned_image("git.image", value.image)
    for argument in ("basic_auth_secret", "ssh_auth_secret"):
        name = getattr(value, argument)
        if name is not None and (not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
            _fail(f"git.{argument}", f"{name!r} is not a Kubernetes Secret name", "pass the name of a Secret in the runner's namespace")
    if value.basic_auth_secret is not None and value.ssh_auth_secret is not None:
        _fail("git.ssh_auth_secret", "given together with basic_auth_secret", "pass the one Secret the repository URL's transport uses")
    if value.basic_auth_secret is not None and transport not in ("https", "http"):
        _fail(
            "git.basic_auth_secret",
            f"a kubernetes.io/basic-auth Secret is for https, but {value.repository!r} is not an https URL",
            "use the repository's https URL, or ssh_auth_secret with an ssh URL",
        )
    if transport == "ssh" and value.ssh_auth_secret is None:
        _fail(
            "git.ssh_auth_secret",
            f"{value.repository!r} is an ssh URL, which needs a key",
            "name a kubernetes.io/ssh-auth Secret (and give known_hosts), or use the public https URL",
        )
    if value.ssh_auth_secret is not None and transport != "ssh":
        _fail(
            "git.ssh_auth_secret",
            f"a kubernetes.io/ssh-auth Secret is for ssh, but {value.repository!r} is not an ssh URL",
            "use 'ssh://git@HOST/OWNER/REPO.git' or 'git@HOST:OWNER/REPO.git'",
        )
    known_hosts = _check_known_hosts(value.known_hosts, ssh=value.ssh_auth_secret is not None)
    return dataclasses.replace(value, commit=commit, path=path, known_hosts=known_hosts)


def _check_commit(value: Any) -> str:
    commit = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(commit, str) or not _COMMIT.match(commit):
        _fail(
            "git.commit",
            f"{value!r} is not a full commit SHA (40 hex digits, or 64 in a SHA-256 repository); a "
            "branch, tag or short SHA can move or become ambiguous, and the runner checks out "
            "exactly one commit",
            "pass the full SHA, e.g. the output of `git rev-parse HEAD` (or `git rev-parse v1.2.3^{commit}`)",
        )
    return commit


def _check_repository(value: Any) -> str:
    """The transport of a clone URL ("https", "http", "ssh" or "file"), or a ValueError."""
    example = "use e.g. 'https://github.com/acme/infra.git' or 'git@github.com:acme/infra.git'"
    if not isinstance(value, str) or not value or any(c.isspace() or c == "\0" for c in value):
        _fail("git.repository", f"{value!r} is not a repository URL", example)
    if value.startswith("-"):
        _fail("git.repository", f"{value!r} starts with '-' (git would read it as an option)", example)
    if "://" not in value:
        if _SCP_LIKE.match(value):
            return "ssh"
        _fail("git.repository", f"{value!r} is not a URL git can fetch from here", example)
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            _fail("git.repository", f"{value!r} is not file:///ABSOLUTE/PATH", "use three slashes and an absolute path")
        return "file"
    if scheme not in ("https", "http", "ssh"):
        _fail(
            "git.repository",
            f"the {scheme!r} transport is not supported (unauthenticated, or runs commands)",
            example,
        )
    if not parts.hostname:
        _fail("git.repository", f"{value!r} names no host", example)
    if parts.password is not None or (scheme != "ssh" and parts.username is not None):
        _fail(
            "git.repository",
            "carries credentials in the URL, which would be stored in the ConfigMap and shown in logs",
            "remove them from the URL and name a kubernetes.io/basic-auth Secret in basic_auth_secret",
        )
    if scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        _fail(
            "git.repository",
            f"{value!r} is plain http: credentials and code would cross the network unencrypted",
            "use the https URL (plain http is allowed only to a loopback address, for local testing)",
        )
    return scheme


def _check_repository_path(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or "\0" in value:
        _fail("git.path", f"{value!r} is not a folder path", "pass the program's folder in the repository, e.g. 'infra/prod'")
    normalized = posixpath.normpath(value)
    if posixpath.isabs(value) or normalized == ".." or normalized.startswith("../"):
        _fail(
            "git.path",
            f"{value!r} is not a folder inside the repository",
            "pass a relative path from the repository's root, e.g. 'infra/prod'",
        )
    return "" if normalized == "." else normalized


def _check_known_hosts(value: Any, *, ssh: bool) -> str | None:
    if value is None:
        if ssh:
            _fail(
                "git.known_hosts",
                "missing: without the server's host keys the fetch would trust whatever answers",
                "pass the server's known_hosts lines (`ssh-keyscan HOST`, checked against the keys "
                "the host publishes), e.g. known_hosts='github.com ssh-ed25519 AAAA...'",
            )
        return None
    if not ssh:
        _fail("git.known_hosts", "given without ssh_auth_secret (it is only used over ssh)", "remove it, or use an ssh source")
    if not isinstance(value, str):
        _fail("git.known_hosts", f"{value!r} is not text", "pass the known_hosts lines as one string")
    lines = [line.strip() for line in value.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        _fail("git.known_hosts", "has no host key line", "pass lines like 'github.com ssh-ed25519 AAAA...'")
    for line in lines:
        fields = line.split()
        if fields[0].startswith("@"):  # @cert-authority / @revoked markers
            fields = fields[1:]
        if len(fields) < 3:
            _fail("git.known_hosts", f"line {line!r} is not 'HOSTS KEYTYPE KEY'", "copy the lines `ssh-keyscan HOST` prints")
    return "\n".join(lines) + "\n"


def _check_pinned_image(argument: str, image: Any) -> None:
    problem = pinned_image_problem(image, DEFAULT_GIT_IMAGE)
    if problem:
        _fail(argument, *problem)


# --------------------------------------------------------------------------------------------
# The stack


def check_stack(stack: Any, organization: str) -> str | None:
    """A fully qualified stack name `org/project/stack` in the runner's organization, or None."""
    if stack is None:
        return None
    parts = stack.split("/") if isinstance(stack, str) else []
    if len(parts) != 3 or not all(_STACK_PART.match(part) for part in parts):
        _fail(
            "stack",
            f"{stack!r} is not a fully qualified stack name",
            f"pass ORGANIZATION/PROJECT/STACK, e.g. '{organization}/infra/prod' (letters, digits, '-', '_', '.')",
        )
    if parts[0] != organization:
        _fail(
            "stack",
            f"{stack!r} is in organization {parts[0]!r}, but the runner logs in to {organization!r}",
            f"use '{organization}/{parts[1]}/{parts[2]}', or change organization",
        )
    return stack


# --------------------------------------------------------------------------------------------
# Pass-through volumes, mounts and envFrom


RESTRICTED_VOLUME_TYPES = (
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
)  # fmt: skip
"""The only volume sources Pod Security "restricted" admits (kubernetes.io/docs/concepts/security/
pod-security-standards, "Volume Types"): everything else (hostPath, gitRepo, nfs, iscsi, a made-up
key, ...) is refused here, at preview, before a cluster refuses the Job."""


def check_volumes(
    volumes: Any, volume_mounts: Any, env_from: Any, *, reserved_volumes: Sequence[str], reserved_paths: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Validated copies of the user's `volumes`, `volume_mounts` (for the main container) and
    `env_from`, as Kubernetes camelCase dicts. Their names and paths may not collide with the
    runner's own (`reserved_volumes`, `reserved_paths`)."""
    checked_volumes = _dict_list("volumes", volumes, "[{'name': 'config', 'configMap': {'name': 'infra-config'}}]")
    names: set[str] = set()
    for volume in checked_volumes:
        name = volume.get("name")
        if not is_dns_label(name):
            _fail("volumes", f"{name!r} is not a volume name (a DNS-1123 label)", "name each volume, e.g. 'config'")
        if name in reserved_volumes or name in names:
            _fail("volumes", f"the name {name!r} is already used{' by the runner' if name in reserved_volumes else ''}", "rename the volume")
        names.add(name)
        kinds = set(volume) - {"name"}
        if len(kinds) != 1:
            _fail("volumes", f"{name!r} has {len(kinds)} volume sources {sorted(kinds)}", "give each volume exactly one source")
        kind = next(iter(kinds))
        if kind not in RESTRICTED_VOLUME_TYPES:
            _fail(
                "volumes",
                f"{name!r} is a {kind!r} volume, which Pod Security 'restricted' refuses",
                f"use one of the volume types it allows: {', '.join(RESTRICTED_VOLUME_TYPES)}",
            )
    checked_mounts = _dict_list("volume_mounts", volume_mounts, "[{'name': 'config', 'mountPath': '/etc/infra'}]")
    for mount in checked_mounts:
        name, path = mount.get("name"), mount.get("mountPath")
        if name not in names:
            _fail("volume_mounts", f"{name!r} is not one of the volumes given in volumes", f"mount one of {sorted(names)}")
        if not isinstance(path, str) or not posixpath.isabs(path):
            _fail("volume_mounts", f"mountPath {path!r} of {name!r} is not absolute", "use an absolute path, e.g. '/etc/infra'")
        normalized = posixpath.normpath(path)
        for taken in reserved_paths:
            if normalized == taken or taken.startswith(normalized.rstrip("/") + "/"):
                _fail(
                    "volume_mounts",
                    f"mountPath {path!r} of {name!r} would hide the runner's own {taken!r}",
                    "mount it elsewhere (below the runner's folders is fine, e.g. '/home/pulumi/.aws')",
                )
    checked_env_from = _dict_list("env_from", env_from, "[{'secretRef': {'name': 'aws-credentials'}}]")
    for source in checked_env_from:
        kinds = [kind for kind in _ENV_FROM_KINDS if kind in source]
        extra = set(source) - {*_ENV_FROM_KINDS, "prefix"}
        if len(kinds) != 1 or extra or not isinstance((source[kinds[0]] or {}).get("name"), str):
            _fail(
                "env_from",
                f"{source!r} is not an envFrom source",
                "pass {'configMapRef': {'name': NAME}} or {'secretRef': {'name': NAME}}, optionally with 'prefix'",
            )
    return checked_volumes, checked_mounts, checked_env_from


def _dict_list(argument: str, value: Any, example: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        _fail(argument, f"{value!r} is not a list", f"pass a list of Kubernetes dicts, e.g. {example}")
    for item in value:
        if not isinstance(item, Mapping):
            _fail(argument, f"{item!r} is not a dict", f"pass Kubernetes dicts (camelCase keys), e.g. {example}")
    return [_plain(item) for item in value]


def _plain(value: Any) -> Any:
    """A deep copy of nested mappings and lists as dicts and lists (the manifests stay plain data)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------
# Scripts


def fetch_script(
    git: GitSource,
    *,
    checkout_dir: str = CHECKOUT_DIR,
    config_dir: str,
    secret_dir: str = GIT_SECRET_DIR,
) -> str:
    """The init container's POSIX sh script: fetch `git.commit` into `checkout_dir`, check it out
    and check that HEAD is that commit. `config_dir` is where the ConfigMap is mounted (askpass
    helper, known_hosts). Nothing it runs prints a credential: they stay in their files."""
    lines = [
        "#!/bin/sh",
        "# Written by OidcLoginJob: fetch the Pulumi program at one pinned commit into the",
        "# workspace, and check that the checked-out HEAD is that commit. Credentials, if any, stay",
        "# in the mounted Secret's files: never on a command line, in a file here, or in the log.",
        "set -eu",
        "",
        f"repository={shlex.quote(git.repository)}",
        f"commit={shlex.quote(git.commit)}",
        f"checkout={shlex.quote(checkout_dir)}",
        "",
        "say() { printf 'fetch-program: %s\\n' \"$*\" >&2; }",
        "fail() { say \"$*\"; exit 1; }",
        "",
        "# Never wait for a password on a terminal, and take no configuration from the image.",
        "export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1",
    ]
    if git.auth == "basic":
        lines += [
            "# git asks this helper for the username and password (read from the Secret's files).",
            f"export GIT_ASKPASS={shlex.quote(posixpath.join(config_dir, ASKPASS_KEY))}",
        ]
    elif git.auth == "ssh":
        ssh = [
            "ssh", "-i", posixpath.join(secret_dir, SSH_AUTH_KEY), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={posixpath.join(config_dir, KNOWN_HOSTS_KEY)}",
            "-o", "GlobalKnownHostsFile=/dev/null",
        ]  # fmt: skip
        lines += [
            "# The key from the Secret; only the host keys given in known_hosts are accepted.",
            f"export GIT_SSH_COMMAND={shlex.quote(shlex.join(ssh))}",
        ]
    lines += [
        "",
        'if [ -e "${checkout}" ] && [ -n "$(ls -A "${checkout}")" ]; then',
        '  fail "${checkout} is not empty"',
        "fi",
        'git -c init.defaultBranch=pinned init -q "${checkout}"',
        'cd "${checkout}"',
        'git remote add origin "${repository}"',
        'say "fetching ${commit} from ${repository}"',
        "# Most servers send a commit asked for by its SHA; others only what a branch or tag reaches.",
        'if ! git fetch -q --depth=1 origin "${commit}"; then',
        '  say "the server did not send ${commit} by itself; fetching its branches and tags"',
        "  git fetch -q --tags origin '+refs/heads/*:refs/remotes/origin/*' \\",
        '    || fail "cannot fetch from ${repository}: check the repository URL and its credentials"',
        "fi",
        'if ! git cat-file -e "${commit}^{commit}" 2>/dev/null; then',
        '  fail "commit ${commit} is not in ${repository}: check git.commit (the full SHA of a pushed commit)"',
        "fi",
        'git -c advice.detachedHead=false checkout -q --detach "${commit}"',
        "head=$(git rev-parse HEAD)",
        'if [ "${head}" != "${commit}" ]; then',
        '  fail "checked out ${head}, not the pinned commit ${commit}"',
        "fi",
        'say "checked out ${commit}"',
    ]
    return "\n".join(lines) + "\n"


def askpass_script(*, secret_dir: str = GIT_SECRET_DIR) -> str:
    """git's askpass helper for a basic-auth Secret: prints the username or the password git asks
    for, from the Secret's mounted files (so they are never in the environment or on argv)."""
    username, password = (shlex.quote(posixpath.join(secret_dir, key)) for key in BASIC_AUTH_KEYS)
    return "\n".join([
        "#!/bin/sh",
        "# Written by OidcLoginJob: git runs this with its prompt as $1 and reads the answer.",
        'case "${1-}" in',
        f"  Username*) exec cat {username} ;;",
        f"  *) exec cat {password} ;;",
        "esac",
    ]) + "\n"  # fmt: skip


def passwd_file(uid: int) -> str:
    """/etc/passwd for the init container: root, and the runner's uid (OpenSSH needs an entry)."""
    return f"root:x:0:0:root:/root:/sbin/nologin\npulumi:x:{uid}:{uid}:pulumi:/home/pulumi:/sbin/nologin\n"


def program_lines(source: ProgramSource) -> list[str]:
    """The entrypoint's lines that move into the program's folder (before logging in), or []."""
    if source.kind == "none" or source.program_dir is None:
        return []
    hint = {
        "git": "check git.path (the program's folder in the repository)",
        "image": "check working_dir (the program's folder in the image)",
    }[source.kind]
    lines = ["# The Pulumi program.", f"program_dir={shlex.quote(source.program_dir)}"]
    if source.copy_from is not None:
        lines += [
            "# Copied into the writable workspace, so the CLI can create the virtualenv beside it.",
            f"copy_from={shlex.quote(source.copy_from)}",
            'mkdir -p "${program_dir}"',
            'cp -R "${copy_from}/." "${program_dir}/"',
            'chmod -R u+w "${program_dir}"',
        ]
    lines += [
        'cd "${program_dir}"',
        "if [[ ! -f Pulumi.yaml && ! -f Pulumi.yml ]]; then",
        f"  printf 'oidc-login: no Pulumi.yaml in %s; %s\\n' \"${{program_dir}}\" {shlex.quote(hint)} >&2",
        "  exit 1",
        "fi",
        "",
    ]
    return lines


def stack_lines(stack: str | None) -> list[str]:
    """The entrypoint's line that selects `stack` after the login, or []."""
    if stack is None:
        return []
    return ["# The stack the commands work on.", f"pulumi stack select {shlex.quote(stack)} --non-interactive", ""]
