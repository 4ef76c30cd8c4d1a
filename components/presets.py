"""Trust-policy presets: the secure policy for a workload platform, from a few named arguments.

Each preset returns ``list[Policy]`` (``provider.policy.Policy``) for ``OidcTrust(policies=...)``
or ``OidcIssuerPolicy(policies=...)``; concatenate lists to trust several workloads through one
issuer. Every preset

* pins ``aud`` to ``urn:pulumi:org:<organization>`` (``provider.wire.audience_for``), so a token
  minted for another relying party or another Pulumi organization is refused. ``organization``
  is therefore a keyword argument of every preset (the Grant says *what* token is issued, the
  preset says *who* may ask, and for which organization);
* pins the tenant of a shared issuer by its immutable numeric id (GitHub ``repository_owner_id``,
  GitLab ``namespace_id``; CircleCI has one issuer per organization and the project id sits in
  ``sub``), see research/peers.md §2.2;
* writes the subject out up to and including the owner/repository (or group/project, or
  namespace/service account): no wildcard ever precedes that delimiter;
* grants exactly the token named by ``grant`` (``Grant``): there is no default, least of all
  organization admin;
* validates its arguments and raises ``PresetError`` (a ``ValueError``) naming the argument and
  the fix, before anything is registered.

Pulumi's wildcards apply to every rule value: ``*`` is zero or more characters, ``?`` zero or
one, and ``.`` exactly one, so a literal dot in a name (``acme/infra.live``) also matches any
other character in that place (``acme/infraXlive``). There is no escape. The presets pin the
immutable ids next to the names, so a look-alike name cannot match on its own; the linter still
reports such dots (OIDC012, a warning) and you may waive it with that reason.

Issuer URLs: ``GITHUB_ISSUER_URL``, ``GITLAB_ISSUER_URL``, ``circleci_issuer_url`` and, for
Kubernetes, ``eks_issuer_url``, ``gke_issuer_url`` and ``aks_issuer_url``. Register the URL
exactly as the platform's tokens carry it in ``iss``: AKS issuer URLs end with ``/``, EKS and
GKE ones do not (peers.md §2.2, §3.3).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NoReturn

import pulumi

from pulumi_oidc_trust.provider.lint.subjects import build_subject
from pulumi_oidc_trust.provider.phrasing import ArgumentError, Fix, Ref
from pulumi_oidc_trust.provider.policy import TOKEN_TYPES, WIDE_WILDCARDS, WILDCARDS, Policy
from pulumi_oidc_trust.provider.urls import issuer_url_problem
from pulumi_oidc_trust.provider.wire import audience_for

from .runner_manifests import RunnerSpec

GITHUB_ISSUER_URL = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER_URL = "https://gitlab.com"

__all__ = [
    "GITHUB_ISSUER_URL",
    "GITLAB_ISSUER_URL",
    "Grant",
    "PresetError",
    "aks_issuer_url",
    "circleci",
    "circleci_issuer_url",
    "eks_issuer_url",
    "github_actions",
    "gitlab",
    "gke_issuer_url",
    "kubernetes",
    "login_job",
    "service_account_subject",
]


class PresetError(ArgumentError):
    """A preset argument is unusable. ``argument`` names it; the message says how to fix it
    (``message("config", "github_actions")`` in the words of the stack's configuration)."""


def _fail(argument: str, problem: str, fix: str | Fix) -> NoReturn:
    raise PresetError(argument, problem, fix)


# ---------------------------------------------------------------------------------------------
# Grants: which Pulumi token a matching workload receives


@dataclass(frozen=True)
class Grant:
    """The Pulumi access token an allow policy issues. Build one with the class methods:

    * ``Grant.organization(role_id="...")`` or ``Grant.organization(admin=True)``: an
      organization token with a custom role, or with admin. Exactly one of the two is required;
      there is no default permission.
    * ``Grant.team("platform")``: a team token (the workload logs in with ``--oidc-team``).
    * ``Grant.personal("alice")``: a personal token (``--oidc-user``).
    * ``Grant.runner("runner-id")``: a deployment-runner token (Business Critical edition).

    Names are exact: the policy model's wildcards (``*``, ``?`` and ``.``, which matches any one
    character in ``team_name``/``user_login``/``runner_id`` too) are refused, so one grant names
    one team or user: ``Grant.personal("john.doe")`` would also admit ``john-doe``.
    """

    token_type: str
    name: str | None = None
    role_id: str | None = None
    admin: bool = False

    def __post_init__(self) -> None:
        # Checked here, not only in the class methods, so a Grant(...) built directly is as safe.
        if self.token_type not in TOKEN_TYPES:
            _fail("token_type", f"{self.token_type!r} is not a token type", f"use one of {', '.join(TOKEN_TYPES)}")
        if not isinstance(self.admin, bool):
            _fail("admin", f"{self.admin!r} is not a bool", "pass admin=True or leave it out")
        if self.token_type == "organization":
            if self.name is not None:
                _fail("name", "organization tokens name no team or user", "leave it out")
            if (self.role_id is None) == (not self.admin):
                _fail(
                    "Grant.organization",
                    "needs exactly one of a custom role id and admin (there is no default organization permission)",
                    Fix("use {role} (least privilege) or {admin}", role=Ref("role_id", "<custom role id>"), admin=Ref("admin", True)),
                )
            if self.role_id is not None:
                _check_name("role_id", self.role_id, "a custom role id")
            return
        argument, what = _GRANT_NAMES[self.token_type]
        _check_grant_name(argument, self.name, what)
        if self.role_id is not None or self.admin:
            _fail("role_id", f"{self.token_type} tokens take no role or admin", "leave role_id and admin out")

    @classmethod
    def organization(cls, *, role_id: str | None = None, admin: bool = False) -> "Grant":
        return cls("organization", role_id=role_id, admin=admin)

    @classmethod
    def team(cls, name: str) -> "Grant":
        return cls("team", name=name)

    @classmethod
    def personal(cls, login: str) -> "Grant":
        return cls("personal", name=login)

    @classmethod
    def runner(cls, runner_id: str) -> "Grant":
        return cls("runner", name=runner_id)

    def allow(self, rules: Mapping[str, str]) -> Policy:
        """An allow policy issuing this grant's token to workloads whose claims match ``rules``."""
        name_field = TOKEN_TYPES[self.token_type].name_field
        names = {name_field: self.name} if name_field else {}
        return Policy(
            decision="allow",
            token_type=self.token_type,
            rules=dict(rules),
            role_id=self.role_id,
            authorized_permissions=("admin",) if self.admin else (),
            **names,
        )

    def deny(self, rules: Mapping[str, str]) -> Policy:
        """A deny policy refusing this grant's token to workloads whose claims match ``rules``."""
        name_field = TOKEN_TYPES[self.token_type].name_field
        names = {name_field: self.name} if name_field else {}
        return Policy(decision="deny", token_type=self.token_type, rules=dict(rules), **names)


# (argument, what it names) of each named token type, for error messages.
_GRANT_NAMES = {"team": ("team", "a team name"), "personal": ("login", "a user login"), "runner": ("runner_id", "a deployment runner id")}


def _check_grant(grant: Any) -> Grant:
    if not isinstance(grant, Grant):
        _fail(
            "grant",
            f"{grant!r} is not a Grant",
            "say which token to issue: Grant.team('NAME'), Grant.personal('LOGIN') or "
            "Grant.organization(role_id='ROLE')",
        )
    return grant


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the presets

_DIGITS = re.compile(r"^[0-9]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Characters git refuses in ref names (git check-ref-format), and ':' which would end the ref
# segment of a subject. '*' is allowed: in a ref it can only be a wildcard.
_BAD_REF_CHARS = re.compile(r"[\s:~^\\\[?]|\.\.|@\{")


def _check_text(argument: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        _fail(argument, f"{value!r} is not {what}", f"pass {what} as a non-empty string without surrounding spaces")
    return value


def _check_name(argument: str, value: Any, what: str) -> str:
    """A name that must match exactly one thing: no wildcards."""
    _check_text(argument, value, what)
    # A '.' in a name is literal (repository "site.io"); the linter warns that it also matches one
    # other character (OIDC012). '*' and '?' can only mean other names.
    if any(c in value for c in WIDE_WILDCARDS):
        _fail(
            argument,
            f"{value!r} contains a wildcard ('*' or '?')",
            f"name exactly one: write {what} out (one policy per workload)",
        )
    return value


def _check_grant_name(argument: str, value: Any, what: str) -> str:
    """The name a policy's ``team_name``/``user_login``/``runner_id`` will hold: every wildcard of
    the policy model is refused, the dot included (it matches any one character there too)."""
    _check_text(argument, value, what)
    found = sorted({c for c in value if c in WILDCARDS})
    if found:
        _fail(
            argument,
            f"{value!r} contains a wildcard ({', '.join(repr(c) for c in found)}; in a policy '*' matches "
            "any characters, '?' zero or one and '.' exactly one, so this name would admit others too)",
            f"give {what} without '*', '?' or '.' (one grant names exactly one)",
        )
    return value


def _check_numeric_id(argument: str, value: Any, how_to_find: str) -> str:
    """An immutable numeric id, given as digits (str or int); returned as the claim's string."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and _DIGITS.match(value):
        return value
    _fail(argument, f"{value!r} is not a numeric id", f"pass the digits only; {how_to_find}")


def _check_uuid(argument: str, value: Any, how_to_find: str) -> str:
    if not isinstance(value, str) or not _UUID.match(value):
        _fail(argument, f"{value!r} is not a UUID", f"pass it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx; {how_to_find}")
    return value.lower()


def _check_ref(argument: str, value: Any, example: str) -> str:
    _check_text(argument, value, "a git ref")
    if _BAD_REF_CHARS.search(value) or value.startswith(("/", "*")) or value.endswith(("/", ".lock")):
        _fail(
            argument,
            f"{value!r} is not a git ref name (or starts with a wildcard, which admits any ref)",
            f"name the branch or tag, e.g. {example!r}",
        )
    return value


def _audience(organization: Any) -> str:
    _check_name("organization", organization, "the Pulumi Cloud organization name")
    if "/" in organization or ":" in organization:
        _fail("organization", f"{organization!r} contains '/' or ':'", "pass the organization's name only, e.g. 'acme'")
    return audience_for(organization)


# ---------------------------------------------------------------------------------------------
# Ids that are Pulumi outputs (repository_id=repo.repo_id)

# The lint rules that read a preset's ids: at preview they wait with the policy for the id.
_ID_RULES = ("OIDC002", "OIDC008")


def _accepts_output_ids(*id_arguments: str) -> Callable[[Callable[..., list[Policy]]], Callable[..., list[Any]]]:
    """Let a preset take the ids named here as Pulumi outputs (e.g. ``repository_id=repo.repo_id``).

    Every other argument is checked at once (with a stand-in id); each policy becomes an output
    that the preset builds, and checks, when the ids are known. While an id is unknown (a
    preview before the resource providing it exists), a warning names the rules that wait.
    """

    def wrap(preset: Callable[..., list[Policy]]) -> Callable[..., list[Any]]:
        @functools.wraps(preset)
        def call(*args: Any, **kwargs: Any) -> list[Any]:
            outputs = {k: kwargs[k] for k in id_arguments if isinstance(kwargs.get(k), pulumi.Output)}
            if not outputs:
                return preset(*args, **kwargs)
            shape = preset(*args, **{**kwargs, **{k: "1" for k in outputs}})
            for name, value in outputs.items():
                pulumi.Output.from_input(value.is_known()).apply(
                    lambda known, name=name: None if known else pulumi.log.warn(
                        f"{preset.__name__}: {name} is an output not known yet (a preview before the resource "
                        f"providing it exists), so its policy is linted at `pulumi up`: the id rules "
                        f"({', '.join(_ID_RULES)}) wait for it there, and a lint error still stops the update "
                        "before anything is sent"
                    )
                )
            built = pulumi.Output.all(**outputs).apply(
                lambda ids: [p.to_python() for p in preset(*args, **{**kwargs, **ids})]
            )
            return [built[index] for index in range(len(shape))]

        return call

    return wrap


# ---------------------------------------------------------------------------------------------
# GitHub Actions

# GitHub account names: letters, digits and single hyphens, at most 39 characters.
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_GITHUB_ID_HINT = "find it with `gh api repos/OWNER/REPO --jq '.owner.id, .id'`"


@_accepts_output_ids("repository_owner_id", "repository_id")
def github_actions(
    owner: str,
    repo: str,
    *,
    organization: str,
    repository_owner_id: int | str,
    repository_id: int | str | None = None,
    ref: str | None = "refs/heads/main",
    environment: str | None = None,
    immutable_subject: bool = False,
    grant: Grant,
) -> list[Policy]:
    """Trust GitHub Actions workflows of one repository, on one ref or in one environment.

    Pass the repository as ``owner`` and ``repo`` (``"acme"``, ``"infra"``), its owner's numeric
    id (``repository_owner_id``, required: github.com is one issuer shared by every account) and,
    better, the repository's numeric id (``repository_id``): both survive renames, and a
    recreated look-alike does not get them. ``gh api repos/OWNER/REPO --jq '.owner.id, .id'``
    prints them.

    Returns one allow policy with rules:

    * ``aud``: ``urn:pulumi:org:<organization>`` (pulumi/auth-actions requests it by default);
    * ``sub``: ``repo:OWNER/REPO:ref:REF``, or ``repo:OWNER/REPO:environment:ENV`` when
      ``environment`` is given; with ``immutable_subject=True`` the immutable form
      ``repo:OWNER@OWNER_ID/REPO@REPO_ID:...`` (needs ``repository_id``) that GitHub emits for
      repositories created, renamed or transferred after July 15, 2026, or opted in (both forms:
      ``provider.lint.subjects.GRAMMARS``);
    * ``repository_owner_id`` (and ``repository_id`` when given), exactly;
    * with ``environment``, also ``ref`` (default ``refs/heads/main``), so only that branch
      deploys to the environment; pass ``ref=None`` to leave the ref to the environment's own
      protection rules.

    ``ref`` is a full ref (``refs/heads/main``, ``refs/tags/v*``); a ``*`` in it is a wildcard
    the linter reports when it admits any branch (OIDC005). Pull-request refs are refused.
    Dots in ``repo`` match any character (see the module docstring; OIDC012 warns).
    """
    aud = _audience(organization)
    _check_name("owner", owner, "the repository owner (user or organization)")
    if "/" in owner:
        _fail("owner", f"{owner!r} contains '/'", f"pass owner and repo separately: github_actions({owner.split('/')[0]!r}, {owner.split('/')[-1]!r}, ...)")
    if not _GITHUB_OWNER.match(owner):
        _fail("owner", f"{owner!r} is not a GitHub account name", "use letters, digits and '-' (at most 39)")
    _check_name("repo", repo, "the repository name")
    if "/" in repo or not _GITHUB_REPO.match(repo) or repo in (".", ".."):
        _fail("repo", f"{repo!r} is not a GitHub repository name", "pass the name only (letters, digits, '.', '_', '-'), e.g. 'infra'")
    owner_id = _check_numeric_id("repository_owner_id", repository_owner_id, _GITHUB_ID_HINT)
    repo_id = None if repository_id is None else _check_numeric_id("repository_id", repository_id, _GITHUB_ID_HINT)
    if ref is not None:
        _check_ref("ref", ref, "refs/heads/main")
        if not ref.startswith(("refs/heads/", "refs/tags/")) or ref in ("refs/heads/", "refs/tags/"):
            _fail("ref", f"{ref!r} is not a branch or tag ref", "write the full ref, e.g. 'refs/heads/main' or 'refs/tags/v1'")
    elif environment is None:
        _fail("ref", "is None and no environment is given", "name the ref ('refs/heads/main') or the environment")
    if environment is not None:
        _check_name("environment", environment, "a GitHub environment name")
        if ":" in environment:
            _fail("environment", f"{environment!r} contains ':'", "use the environment's name as GitHub shows it")
    if not isinstance(immutable_subject, bool):
        _fail("immutable_subject", f"{immutable_subject!r} is not a bool", "pass True or False")
    if immutable_subject and repo_id is None:
        _fail("repository_id", "is required with immutable_subject=True", _GITHUB_ID_HINT)
    grant = _check_grant(grant)

    context = f"environment:{environment}" if environment is not None else f"ref:{ref}"
    if immutable_subject:
        sub = build_subject("github", "id", owner=owner, owner_id=owner_id, repo=repo, repo_id=repo_id, context=context)
    else:
        sub = build_subject("github", "classic", owner=owner, repo=repo, context=context)
    rules = {"aud": aud, "sub": sub, "repository_owner_id": owner_id}
    if repo_id is not None:
        rules["repository_id"] = repo_id
    if environment is not None and ref is not None:
        rules["ref"] = ref
    return [grant.allow(rules)]


# ---------------------------------------------------------------------------------------------
# GitLab CI

# GitLab path segments: letters, digits, '_', '-', '.'; not starting with '-' or '.'.
_GITLAB_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_GITLAB_ID_HINT = "the group's and the project's pages show their ids (Group ID / Project ID)"


@_accepts_output_ids("namespace_id", "project_id")
def gitlab(
    project_path: str,
    *,
    organization: str,
    namespace_id: int | str,
    project_id: int | str | None = None,
    ref: str = "main",
    ref_type: str = "branch",
    grant: Grant,
    url: str = GITLAB_ISSUER_URL,
) -> list[Policy]:
    """Trust GitLab CI jobs of one project on one branch or tag (gitlab.com or self-managed).

    ``project_path`` is ``GROUP/PROJECT`` (subgroups allowed: ``GROUP/SUB/PROJECT``);
    ``namespace_id`` is the numeric id of the project's group (required: gitlab.com is shared
    by every group) and ``project_id`` the project's own (recommended: it survives renames).
    ``url`` is the GitLab instance, ``https://gitlab.com`` or your self-managed URL; it is
    checked here and is the URL to register (``OidcTrust(issuer_url=url)``). In
    ``.gitlab-ci.yml``, request the token with ``id_tokens: {PULUMI_TOKEN: {aud: "urn:pulumi:org:ORG"}}``.

    Returns one allow policy with rules ``aud`` (``urn:pulumi:org:<organization>``), ``sub``
    (``project_path:GROUP/PROJECT:ref_type:branch:ref:main``), ``namespace_id`` and, when given,
    ``project_id``, all exact. ``ref`` may end in ``*`` (``release/*``); the linter reports refs
    that admit any branch (OIDC005). Dots in paths match any character (OIDC012 warns).
    """
    aud = _audience(organization)
    _check_name("project_path", project_path, "the project path GROUP/PROJECT")
    segments = project_path.split("/")
    if len(segments) < 2 or not all(_GITLAB_SEGMENT.match(s) for s in segments):
        _fail(
            "project_path",
            f"{project_path!r} is not a GitLab project path",
            "write GROUP/PROJECT (or GROUP/SUBGROUP/PROJECT) as in the project's URL",
        )
    group_id = _check_numeric_id("namespace_id", namespace_id, _GITLAB_ID_HINT)
    proj_id = None if project_id is None else _check_numeric_id("project_id", project_id, _GITLAB_ID_HINT)
    _check_ref("ref", ref, "main")
    if ref.startswith("refs/"):
        _fail("ref", f"{ref!r} is a full ref, but GitLab's sub carries the short name", f"pass {ref.split('/', 2)[-1]!r}")
    if ref_type not in ("branch", "tag"):
        _fail("ref_type", f"{ref_type!r} is neither 'branch' nor 'tag'", "pass ref_type='branch' or 'tag'")
    _check_issuer_url("url", url)
    grant = _check_grant(grant)

    rules = {
        "aud": aud,
        "sub": build_subject("gitlab", "classic", project_path=project_path, context=f"ref_type:{ref_type}:ref:{ref}"),
        "namespace_id": group_id,
    }
    if proj_id is not None:
        rules["project_id"] = proj_id
    return [grant.allow(rules)]


def _check_issuer_url(argument: str, url: Any) -> str:
    problem = issuer_url_problem(url)
    if problem:
        _fail(argument, problem, "pass the issuer URL, e.g. 'https://gitlab.example.com'")
    return url


# ---------------------------------------------------------------------------------------------
# Kubernetes (EKS, GKE, AKS, any cluster with a public OIDC issuer)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def service_account_subject(namespace: str, service_account: str) -> str:
    """``system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT``: the ``sub`` of a pod's token.

    ``namespace`` must be a DNS-1123 label and ``service_account`` a DNS-1123 subdomain (the
    names Kubernetes accepts); wildcards are refused (trust one service account, OIDC024).
    """
    for argument, value, pattern, limit in (
        ("namespace", namespace, _DNS_LABEL, 63),
        ("service_account", service_account, _DNS_SUBDOMAIN, 253),
    ):
        _check_name(argument, value, f"a Kubernetes {argument.replace('_', ' ')} name")
        if len(value) > limit or not pattern.match(value):
            _fail(
                argument,
                f"{value!r} is not a valid Kubernetes name (DNS-1123: lower-case letters, digits, '-'"
                + (", '.'" if argument == "service_account" else "")
                + f"; at most {limit})",
                "pass the name exactly as `kubectl get` shows it",
            )
    return build_subject("kubernetes", "classic", namespace=namespace, service_account=service_account)


def kubernetes(
    namespace: str,
    service_account: str,
    *,
    organization: str,
    grant: Grant,
    audience: str | None = None,
    service_account_uid: str | None = None,
) -> list[Policy]:
    """Trust pods that run as one Kubernetes service account of one cluster.

    The cluster is the issuer (one per cluster: register its URL, e.g. ``eks_issuer_url``).
    Give the pod a projected service-account token whose audience is
    ``urn:pulumi:org:<organization>`` (what ``OidcLoginJob`` does by default). ``audience``
    overrides the pinned audience for a token you cannot change; a foreign audience such as
    EKS's ``sts.amazonaws.com`` is an error for the linter (OIDC010: such a token is also
    accepted by AWS) unless waived. ``service_account_uid`` additionally pins the service
    account's uid (``kubectl get sa NAME -o jsonpath='{.metadata.uid}'``), so a service account
    deleted and recreated with the same name is not trusted.

    Returns one allow policy with rules ``aud`` and ``sub``
    (``system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT``), plus
    ``"kubernetes.io".serviceaccount.uid`` when given, all exact. Trusting ``default`` is
    allowed but reported (OIDC024): every pod without its own account runs as it.
    """
    aud = _audience(organization) if audience is None else _check_name("audience", audience, "the token's audience")
    sub = service_account_subject(namespace, service_account)
    rules = {"aud": aud, "sub": sub}
    if service_account_uid is not None:
        rules['"kubernetes.io".serviceaccount.uid'] = _check_uuid(
            "service_account_uid", service_account_uid, "`kubectl get sa NAME -o jsonpath='{.metadata.uid}'`"
        )
    return [_check_grant(grant).allow(rules)]


def login_job(runner: RunnerSpec, *, grant: Grant | None = None) -> list[Policy]:
    """The policy that admits an ``OidcLoginJob``, from the runner's own resolved arguments.

    ``runner`` is the runner's ``RunnerSpec`` (``components.runner_manifests.runner_spec`` with
    the job's arguments, or ``job.spec``). Rules: ``aud`` = the runner's token audience and
    ``sub`` = its service account's subject, both computed by the function the runner itself
    uses, so the policy and the Job cannot drift apart. The grant follows the runner's login: a
    team token for ``team=``, a personal token for ``user=``; for an organization token the
    caller must pass ``grant=Grant.organization(...)``. A ``grant`` that contradicts the
    runner's team or user is refused.
    """
    if not isinstance(runner, RunnerSpec):
        _fail("runner", f"{runner!r} is not a RunnerSpec", "pass runner_spec(NAME, organization=..., ...) or job.spec")
    if runner.team is not None:
        derived = Grant.team(runner.team)
    elif runner.user is not None:
        derived = Grant.personal(runner.user)
    else:
        derived = None
    if grant is not None:
        _check_grant(grant)
    if derived is None and grant is None:
        _fail(
            "grant",
            f"the runner {runner.resource_name!r} logs in for an organization token (no team or user), "
            "and the permission of that token must be chosen explicitly",
            Fix(
                "choose it: {role} or {admin} (grant=Grant.organization(...) in Python), or give the runner {team} or {user}",
                role=Ref("role_id", "ROLE"), admin=Ref("admin", True), team=Ref("team", "TEAM"), user=Ref("user", "LOGIN"),
            ),
        )
    if derived is not None and grant is not None and grant != derived:
        _fail(
            "grant",
            f"{grant!r} differs from the token the runner logs in for ({derived!r})",
            "leave it out: the runner's team/user decides the grant",
        )
    rules = {"aud": runner.names.audience, "sub": runner.names.subject}
    return [(grant or derived).allow(rules)]


_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_EKS_OIDC_ID = re.compile(r"^[A-Za-z0-9]+$")


def eks_issuer_url(region: str, oidc_id: str) -> str:
    """``https://oidc.eks.<region>.amazonaws.com/id/<oidc_id>`` (no trailing slash).

    ``oidc_id`` is the last path segment of ``aws eks describe-cluster --name CLUSTER --query
    cluster.identity.oidc.issuer``. China regions use the ``amazonaws.com.cn`` domain.
    """
    if not isinstance(region, str) or not _AWS_REGION.match(region):
        _fail("region", f"{region!r} is not an AWS region", "pass e.g. 'us-west-2'")
    if not isinstance(oidc_id, str) or not _EKS_OIDC_ID.match(oidc_id):
        _fail("oidc_id", f"{oidc_id!r} is not an EKS OIDC id", "pass the last path segment of the cluster's issuer URL")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://oidc.eks.{region}.{domain}/id/{oidc_id}"


_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GCP_LOCATION = re.compile(r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$")
_GKE_CLUSTER = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")


def gke_issuer_url(project: str, location: str, cluster: str) -> str:
    """``https://container.googleapis.com/v1/projects/<p>/locations/<l>/clusters/<c>`` (no
    trailing slash: that is the ``iss`` of GKE tokens, whatever some guides show).

    ``location`` is the cluster's region (``us-central1``) or zone (``us-central1-a``).
    """
    if not isinstance(project, str) or not _GCP_PROJECT.match(project):
        _fail("project", f"{project!r} is not a Google Cloud project id", "pass the project id, e.g. 'acme-prod'")
    if not isinstance(location, str) or not _GCP_LOCATION.match(location):
        _fail("location", f"{location!r} is not a region or zone", "pass e.g. 'us-central1' or 'us-central1-a'")
    if not isinstance(cluster, str) or not _GKE_CLUSTER.match(cluster):
        _fail("cluster", f"{cluster!r} is not a GKE cluster name", "pass the cluster's name, e.g. 'prod'")
    return f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{cluster}"


_AZURE_REGION = re.compile(r"^[a-z0-9]+$")


def aks_issuer_url(region: str, tenant_id: str, issuer_id: str) -> str:
    """``https://<region>.oic.prod-aks.azure.com/<tenant_id>/<issuer_id>/``, WITH the trailing
    slash AKS tokens carry in ``iss``. The whole URL is what ``az aks show -n CLUSTER -g GROUP
    --query oidcIssuerProfile.issuerUrl -o tsv`` prints; prefer passing that verbatim."""
    if not isinstance(region, str) or not _AZURE_REGION.match(region):
        _fail("region", f"{region!r} is not an Azure region name", "pass e.g. 'westeurope'")
    tenant = _check_uuid("tenant_id", tenant_id, "`az account show --query tenantId -o tsv`")
    issuer = _check_uuid("issuer_id", issuer_id, "the last path segment of the cluster's oidcIssuerProfile.issuerUrl")
    return f"https://{region}.oic.prod-aks.azure.com/{tenant}/{issuer}/"


# ---------------------------------------------------------------------------------------------
# CircleCI

_CIRCLECI_HINT = "Organization Settings > Overview and Project Settings > Overview show the ids"


def circleci_issuer_url(org_id: str) -> str:
    """``https://oidc.circleci.com/org/<org_id>``: CircleCI has one issuer per organization."""
    return f"https://oidc.circleci.com/org/{_check_uuid('org_id', org_id, _CIRCLECI_HINT)}"


def circleci(org_id: str, project_id: str, *, organization: str, grant: Grant) -> list[Policy]:
    """Trust CircleCI jobs of one project (any user who triggers them).

    ``org_id`` and ``project_id`` are CircleCI's UUIDs. Register ``circleci_issuer_url(org_id)``
    and request the token with the Pulumi audience: ``circleci run oidc get --claims
    '{"aud": "urn:pulumi:org:ORG"}'`` (CircleCI's default audience is the organization id).

    Returns two policies, in this order: a deny of jobs rerun with SSH (claim
    ``oidc.circleci.com/ssh-rerun`` true: a debug shell holding the job's token; first, so it
    holds whatever the service's precedence), then an allow with rules ``aud``
    (``urn:pulumi:org:<organization>``) and ``sub`` ``org/ORG_ID/project/PROJECT_ID/user/*``: the
    project is pinned by its immutable id; the trailing ``*`` admits any user, which is what
    CircleCI's subject varies by. The subject carries no branch, so the linter warns (OIDC005):
    restrict who can run the pipeline with CircleCI contexts and branch protection.
    """
    aud = _audience(organization)
    org = _check_uuid("org_id", org_id, _CIRCLECI_HINT)
    project = _check_uuid("project_id", project_id, _CIRCLECI_HINT)
    grant = _check_grant(grant)
    return [
        grant.deny({"aud": aud, CIRCLECI_SSH_RERUN_CLAIM: "true"}),
        grant.allow({"aud": aud, "sub": build_subject("circleci", "id", org_id=org, project_id=project, user_id="*")}),
    ]


CIRCLECI_SSH_RERUN_CLAIM = '"oidc.circleci.com/ssh-rerun"'
"""The claim path of CircleCI's SSH-rerun flag (the claim's name contains dots, hence the quotes)."""
