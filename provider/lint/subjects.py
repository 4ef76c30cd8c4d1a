"""Subjects: the one parser of the well-known subject shapes.

The grammars, from each platform's documentation:

* GitHub Actions: ``repo:OWNER/REPO:CONTEXT`` or, immutable, ``repo:OWNER@ID/REPO@ID:CONTEXT``, the
  context being ``ref:REF``, ``environment:NAME`` or ``pull_request`` (GitHub, "OpenID Connect
  reference").
* GitLab: ``project_path:GROUP/.../PROJECT:ref_type:TYPE:ref:REF`` (GitLab, "ID token authentication").
* Kubernetes: ``system:serviceaccount:NAMESPACE:NAME`` (Kubernetes, "Service account tokens").
* CircleCI: ``org/ORG_ID/project/PROJECT_ID/user/USER_ID`` (CircleCI, "Using OpenID Connect tokens").
* HCP Terraform: ``organization:ORG:project:PROJECT:workspace:WORKSPACE:run_phase:PHASE``
  (HashiCorp, "Workload identity tokens"; PHASE is ``plan`` or ``apply``).
* Bitbucket Pipelines: ``{REPOSITORY_UUID}:{STEP_UUID}``, and for a deployment step
  ``{REPOSITORY_UUID}{ENVIRONMENT_UUID}:{STEP_UUID}`` (Atlassian, "Deploy on AWS using Bitbucket
  Pipelines OpenID Connect", section "Using claims in ID tokens"); the form with a ``:`` between
  the two UUIDs, seen in published Terraform modules, is read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    """A subject pattern split into its parts (each part is itself a pattern).

    ``tenant`` is the owner/group/namespace/organization, ``workload`` the repository, project or
    service account, ``context`` the rest (``ref:refs/heads/main``, ``pull_request``, ...).
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

    @property
    def effective_context(self) -> str | None:
        """The context pattern, or ``*`` when a trailing ``*`` matches any context."""
        if self.context is not None:
            return self.context
        return "*" if self.swallows_rest else None


_GITHUB_PREFIX = "repo:"
_GITLAB_PREFIX = "project_path:"
K8S_PREFIX = "system:serviceaccount:"


def parse_subject(pattern: str) -> Subject | None:
    """Recognise a GitHub, GitLab, Kubernetes, CircleCI, HCP Terraform or Bitbucket subject
    pattern; None for others."""
    if pattern.startswith(_GITHUB_PREFIX):
        return _split_repo_subject("github", pattern[len(_GITHUB_PREFIX) :])
    if pattern.startswith(_GITLAB_PREFIX):
        return _split_repo_subject("gitlab", pattern[len(_GITLAB_PREFIX) :])
    if pattern.startswith(K8S_PREFIX):
        namespace, sep, account = pattern[len(K8S_PREFIX) :].partition(":")
        return Subject("kubernetes", namespace, workload=account if sep else None, swallows_rest=pattern.endswith("*"))
    m = re.fullmatch(r"org/([^/]*)(?:/project/([^/]*)(?:/(.*))?)?", pattern)
    if m:
        return Subject("circleci", m.group(1), workload=m.group(2), context=m.group(3), swallows_rest=pattern.endswith("*"))
    if pattern.startswith(_TERRAFORM_PREFIX):
        return _split_terraform_subject(pattern)
    if pattern.startswith("{"):
        return _split_bitbucket_subject(pattern)
    return None


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
    return Subject("bitbucket", repo, workload=environment, context=step, swallows_rest=step is None and pattern.endswith("*"))


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
    )
