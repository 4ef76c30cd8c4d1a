"""Subjects: the one subject-grammar table, per platform, and the one parser of it.

``GRAMMARS`` lists, for each platform, every subject form its tokens carry: the classic,
name-bearing form and, where the platform has one, the form led or carried by immutable ids. It
is used by the linter (``parse_subject``), the presets and the Kubernetes runner's manifests
(``build_subject``; ``oidc-trust render`` prints what they build) and the simulator
(``form_mismatch``: a token in one form against a pattern in the other). The sources:

* GitHub Actions (GitHub docs, "OpenID Connect reference", sections "Example subject claims" and
  "Immutable subject claims", github/docs content/actions/reference/security/oidc.md):
  ``repo:OWNER/REPO:CONTEXT`` and ``repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT``, the context being
  ``ref:REF``, ``environment:NAME`` or ``pull_request``. The ID-bearing form is the default for
  repositories created, renamed or transferred after July 15, 2026 (github.com only, not GitHub
  Enterprise Server); ``@`` cannot occur in GitHub names, so the ids cannot be forged by a name.
  The first announcement (GitHub changelog 2026-04-23, "Immutable subject claims for GitHub
  Actions OIDC tokens") used ``-`` as delimiter and June 18, 2026 as the date; GitHub withdrew
  that delimiter (a name can end in ``-123456``, Boost Security "Sleeper Squats") and reshipped
  with ``@``. A ``-`` suffix is therefore read as part of a name, never as an id.
* GitLab (GitLab docs, "OpenID Connect (OIDC) Authentication Using ID Tokens"):
  ``project_path:GROUP/.../PROJECT:ref_type:TYPE:ref:REF`` by default; the project setting
  ``ci_id_token_sub_claim_components`` (projects API) changes the components.
  UNCONFIRMED: that ``project_id`` may lead the subject (``project_id:20:ref_type:branch:ref:main``,
  as issue 27 states). The merge requests that introduced the setting required ``project_path``
  first (gitlab-org/gitlab!160562, #477260); gitlab-org/gitlab!258245 allows ``job_project_id``
  and ``source_project_id`` first. We accept ``project_id:``, ``job_project_id:`` and
  ``source_project_id:`` as the ID-led form; a token that never carries it simply never matches.
* Kubernetes: ``system:serviceaccount:NAMESPACE:NAME`` (Kubernetes docs, "Service account tokens").
  The service account's uid is a claim, not part of the subject.
* CircleCI (CircleCI docs, "Using OpenID Connect tokens in jobs"): ``org/ORG_ID/project/PROJECT_ID/user/USER_ID``
  (``$CIRCLE_OIDC_TOKEN``) and ``.../user/USER_ID/vcs-origin/ORIGIN/vcs-ref/REF``
  (``$CIRCLE_OIDC_TOKEN_V2``). Organization, project and user are UUIDs: both forms are ID forms,
  no rename can remap them.
* HCP Terraform: ``organization:ORG:project:PROJECT:workspace:WORKSPACE:run_phase:PHASE``
  (HashiCorp, "Workload identity tokens"; PHASE is ``plan`` or ``apply``). Names only; the ids are
  claims (``terraform_workspace_id``).
* Bitbucket Pipelines: ``{REPOSITORY_UUID}:{STEP_UUID}``, and for a deployment step
  ``{REPOSITORY_UUID}{ENVIRONMENT_UUID}:{STEP_UUID}`` (Atlassian, "Deploy on AWS using Bitbucket
  Pipelines OpenID Connect", section "Using claims in ID tokens"); the form with a ``:`` between
  the two UUIDs, seen in published Terraform modules, is read the same way. UUIDs throughout.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SubjectForm:
    """One subject form of one platform: how to write it (``template``, ``str.format`` fields)
    and which of its fields are immutable ids (a wildcard inside one of them pins nothing)."""

    platform: str
    form: str
    """``"classic"`` (names) or ``"id"`` (led or carried by immutable ids)."""
    template: str
    ids: tuple[str, ...]
    example: str
    source: str

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.template) if f)


_GH_SOURCE = "GitHub docs, OpenID Connect reference (Example subject claims; Immutable subject claims)"
_GL_SOURCE = "GitLab docs, OpenID Connect (OIDC) Authentication Using ID Tokens (Token payload)"
_CC_SOURCE = "CircleCI docs, Using OpenID Connect tokens in jobs (Format of the OpenID Connect ID token)"

GRAMMARS: dict[str, tuple[SubjectForm, ...]] = {
    "github": (
        SubjectForm("github", "classic", "repo:{owner}/{repo}:{context}", (), "repo:acme/infra:ref:refs/heads/main", _GH_SOURCE),
        SubjectForm(
            "github", "id", "repo:{owner}@{owner_id}/{repo}@{repo_id}:{context}", ("owner_id", "repo_id"),
            "repo:acme@4242/infra@77:ref:refs/heads/main", _GH_SOURCE,
        ),
    ),
    "gitlab": (
        SubjectForm("gitlab", "classic", "project_path:{project_path}:{context}", (), "project_path:acme/infra:ref_type:branch:ref:main", _GL_SOURCE),
        SubjectForm(
            "gitlab", "id", "project_id:{project_id}:{context}", ("project_id",),
            "project_id:20:ref_type:branch:ref:main", _GL_SOURCE + "; ci_id_token_sub_claim_components (UNCONFIRMED: project_id first)",
        ),
    ),
    "kubernetes": (
        SubjectForm(
            "kubernetes", "classic", "system:serviceaccount:{namespace}:{service_account}", (),
            "system:serviceaccount:ci:pulumi-runner", "Kubernetes docs, Service account tokens",
        ),
    ),
    "circleci": (
        SubjectForm(
            "circleci", "id", "org/{org_id}/project/{project_id}/user/{user_id}", ("org_id", "project_id", "user_id"),
            "org/0e5a0c3d-1111-2222-3333-444455556666/project/77aa0c3d-1111-2222-3333-444455556666/user/*", _CC_SOURCE,
        ),
        SubjectForm(
            "circleci", "id", "org/{org_id}/project/{project_id}/user/{user_id}/vcs-origin/{vcs_origin}/vcs-ref/{vcs_ref}",
            ("org_id", "project_id", "user_id"),
            "org/0e5a0c3d-1111-2222-3333-444455556666/project/77aa0c3d-1111-2222-3333-444455556666/user/*"
            "/vcs-origin/github.com/acme/infra/vcs-ref/refs/heads/main", _CC_SOURCE + " ($CIRCLE_OIDC_TOKEN_V2)",
        ),
    ),
    "terraform": (
        SubjectForm(
            "terraform", "classic", "organization:{organization}:project:{project}:workspace:{workspace}:run_phase:{run_phase}", (),
            "organization:acme:project:infra:workspace:prod:run_phase:apply", "HashiCorp docs, Workload identity tokens",
        ),
    ),
    "bitbucket": (
        SubjectForm(
            "bitbucket", "id", "{repository_uuid}:{step_uuid}", ("repository_uuid", "step_uuid"),
            "{8a1f0c3d-1111-2222-3333-444455556666}:*", "Atlassian docs, Deploy on AWS using Bitbucket Pipelines OpenID Connect",
        ),
        SubjectForm(
            "bitbucket", "id", "{repository_uuid}{environment_uuid}:{step_uuid}", ("repository_uuid", "environment_uuid", "step_uuid"),
            "{8a1f0c3d-1111-2222-3333-444455556666}{99bb0c3d-1111-2222-3333-444455556666}:*",
            "Atlassian docs, Deploy on AWS using Bitbucket Pipelines OpenID Connect",
        ),
    ),
}
"""Every platform's subject forms, classic (names) first. The one table of subject grammars."""


def subject_form(platform: str, form: str = "classic", *, fields: tuple[str, ...] | None = None) -> SubjectForm:
    """The ``form`` of ``platform`` (with ``fields``, the one whose template has exactly those)."""
    for f in GRAMMARS[platform]:
        if f.form == form and (fields is None or set(f.fields) == set(fields)):
            return f
    raise KeyError(f"no {form} subject form of {platform} with fields {fields}")


def build_subject(platform: str, form: str = "classic", **parts: Any) -> str:
    """Write a subject of ``platform`` in ``form`` from its parts: the presets and the runner's
    manifests build every subject here, so they and the linter read one grammar."""
    grammar = subject_form(platform, form, fields=tuple(parts))
    return grammar.template.format(**{k: str(v) for k, v in parts.items()})


@dataclass(frozen=True)
class Subject:
    """A subject pattern split into its parts (each part is itself a pattern).

    ``tenant`` is the owner/group/namespace/organization, ``workload`` the repository, project or
    service account, ``context`` the rest (``ref:refs/heads/main``, ``pull_request``, ...).
    ``tenant_id``/``workload_id`` are the immutable ids an ID-bearing form carries: a GitHub
    ``repo:OWNER@ID/REPO@ID`` subject, or GitLab's ``project_id:ID`` (whose tenant and project
    name are then unknown: ``tenant`` is ``""``, ``workload`` None).
    """

    kind: str
    tenant: str
    tenant_id: str | None = None
    workload: str | None = None
    workload_id: str | None = None
    context: str | None = None
    swallows_rest: bool = False
    """The last written part ends in ``*``, which also matches any further ``:``-parts."""
    project: str | None = None
    """HCP Terraform only: the project between organization and workspace."""
    form: str = "classic"
    """``"classic"`` or ``"id"``: the form of ``GRAMMARS`` the pattern is written in."""

    @property
    def effective_context(self) -> str | None:
        """The context pattern, or ``*`` when a trailing ``*`` matches any context."""
        if self.context is not None:
            return self.context
        return "*" if self.swallows_rest else None

    @property
    def names_workload(self) -> bool:
        """The subject names one repository, project or account (by name or by id)."""
        return self.workload is not None or self.workload_id is not None

    @property
    def grammar(self) -> SubjectForm:
        return next(f for f in GRAMMARS[self.kind] if f.form == self.form)


_GITHUB_PREFIX = "repo:"
_GITLAB_PREFIX = "project_path:"
GITLAB_ID_PREFIXES = ("project_id:", "job_project_id:", "source_project_id:")
"""The GitLab subject components that lead an ID-led subject (see the module docstring)."""
K8S_PREFIX = "system:serviceaccount:"


def parse_subject(pattern: str) -> Subject | None:
    """Recognise a subject pattern in any form of ``GRAMMARS``; None for others."""
    if pattern.startswith(_GITHUB_PREFIX):
        return _split_repo_subject("github", pattern[len(_GITHUB_PREFIX) :])
    if pattern.startswith(_GITLAB_PREFIX):
        return _split_repo_subject("gitlab", pattern[len(_GITLAB_PREFIX) :])
    for prefix in GITLAB_ID_PREFIXES:
        if pattern.startswith(prefix):
            project_id, sep, context = pattern[len(prefix) :].partition(":")
            return Subject(
                "gitlab", "", workload_id=project_id, context=context if sep else None,
                swallows_rest=not sep and project_id.endswith("*"), form="id",
            )
    if pattern.startswith(K8S_PREFIX):
        namespace, sep, account = pattern[len(K8S_PREFIX) :].partition(":")
        return Subject("kubernetes", namespace, workload=account if sep else None, swallows_rest=pattern.endswith("*"))
    m = re.fullmatch(r"org/([^/]*)(?:/project/([^/]*)(?:/(.*))?)?", pattern)
    if m:
        return Subject("circleci", m.group(1), workload=m.group(2), context=m.group(3), swallows_rest=pattern.endswith("*"), form="id")
    if pattern.startswith(_TERRAFORM_PREFIX):
        return _split_terraform_subject(pattern)
    if pattern.startswith("{"):
        return _split_bitbucket_subject(pattern)
    return None


def circleci_context_part(context: str | None, key: str) -> str | None:
    """The value of ``user``, ``vcs-origin`` or ``vcs-ref`` in a CircleCI subject's context
    (``user/U/vcs-origin/O/vcs-ref/R``); None when the subject does not write it."""
    if context is None:
        return None
    m = re.fullmatch(r"user/(?P<user>[^/]*)(?:/vcs-origin/(?P<origin>.*?)/vcs-ref/(?P<ref>.*))?", context)
    if m is None:
        return None
    return m.group({"user": "user", "vcs-origin": "origin", "vcs-ref": "ref"}[key])


_TERRAFORM_PREFIX = "organization:"
_TERRAFORM_KEYS = ("organization", "project", "workspace", "run_phase")


def _split_terraform_subject(pattern: str) -> Subject:
    """``organization:O:project:P:workspace:W:run_phase:PHASE``: tenant O, project P, workload W,
    context ``run_phase:PHASE``. A part left out is None; ``swallows_rest`` when the pattern ends
    in ``*`` before every part is written (``organization:acme:*``)."""
    values: dict[str, str] = {}
    rest = pattern
    for key in _TERRAFORM_KEYS:
        if not rest.startswith(key + ":"):
            break
        rest = rest[len(key) + 1 :]
        if key == "run_phase":
            values[key], rest = rest, ""
        else:
            values[key], _, rest = rest.partition(":")
    phase = values.get("run_phase")
    return Subject(
        "terraform",
        values.get("organization", ""),
        workload=values.get("workspace"),
        context=f"run_phase:{phase}" if phase is not None else None,
        swallows_rest=phase is None and pattern.endswith("*"),
        project=values.get("project"),
    )


def _split_bitbucket_subject(pattern: str) -> Subject | None:
    """``{REPO}[[:]{ENV}]:{STEP}``: tenant REPO (Bitbucket's issuer is per workspace, so the
    repository is what tells tenants apart), workload ENV (None outside a deployment), context
    STEP. None when the repository UUID is not closed by ``}``."""
    m = re.fullmatch(r"\{([^{}]*)\}(.*)", pattern)
    if m is None:
        return None
    repo, rest = m.groups()
    environment = None
    env = re.fullmatch(r":?\{([^{}]*)\}(:.*)", rest) or re.fullmatch(r"\{([^{}]*)\}(.*)", rest)
    if env is not None:
        environment, rest = env.groups()
    step = rest[1:] if rest.startswith(":") else None
    return Subject(
        "bitbucket", repo, workload=environment, context=step, swallows_rest=step is None and pattern.endswith("*"), form="id"
    )


def _split_repo_subject(kind: str, body: str) -> Subject:
    """``OWNER[@ID]/REPO[@ID][:context]`` (GitHub) or ``GROUP/.../PROJECT[:context]`` (GitLab)."""
    path, sep, context = body.partition(":")
    tenant, slash, workload = path.partition("/")
    tenant_id = workload_id = None
    if kind == "github" and "@" in tenant:
        tenant, _, tenant_id = tenant.partition("@")
        if "@" in workload:
            workload, _, workload_id = workload.partition("@")
    return Subject(
        kind,
        tenant,
        tenant_id,
        workload if slash else None,
        workload_id,
        context if sep else None,
        swallows_rest=not sep and path.endswith("*"),
        form="id" if tenant_id is not None else "classic",
    )


PLATFORM_TITLES = {
    "github": "GitHub", "gitlab": "GitLab", "kubernetes": "Kubernetes", "circleci": "CircleCI",
    "terraform": "HCP Terraform", "bitbucket": "Bitbucket", "buildkite": "Buildkite", "google": "Google",
}
_FORM_WORDS = {"classic": "classic", "id": "ID-bearing"}


def shape(grammar: SubjectForm) -> str:
    """A form's template with its fields in capitals: ``repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT``."""
    return re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), grammar.template)


def form_mismatch(pattern: str, value: str) -> str | None:
    """Why a ``sub`` pattern cannot match a token's subject because the two are written in
    different forms of one platform (GitHub's classic ``repo:OWNER/REPO`` against the ID-bearing
    ``repo:OWNER@ID/REPO@ID``, GitLab's ``project_path:`` against ``project_id:``), with the
    pattern to write for this token's form when it can be derived; None otherwise. The simulator
    adds it to a failed ``sub`` rule."""
    want, have = parse_subject(pattern), parse_subject(value)
    if want is None or have is None or want.kind != have.kind or want.form == have.form:
        return None
    if want.kind not in ("github", "gitlab"):
        return None
    title = PLATFORM_TITLES[want.kind]
    text = (
        f"the token's sub is {title}'s {_FORM_WORDS[have.form]} form ({shape(have.grammar)}), "
        f"the pattern is the {_FORM_WORDS[want.form]} form ({shape(want.grammar)})"
    )
    if want.kind == "github" and want.workload is not None and (want.tenant, want.workload) == (have.tenant, have.workload):
        # Same owner and repository: the pattern in the token's form keeps its own context.
        context = want.effective_context or ""
        if have.form == "id":
            suggested = f"repo:{want.tenant}@{have.tenant_id}/{want.workload}@{have.workload_id}:{context}"
        else:
            suggested = f"repo:{want.tenant}/{want.workload}:{context}"
        return f"{text}; for this token write sub {suggested.rstrip(':')!r} (a policy per form admits both)"
    return f"{text}; write a policy for the form the token carries (one per form admits both)"
