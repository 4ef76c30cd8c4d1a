"""Subjects: the one parser of the well-known subject shapes."""

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
    """Recognise a GitHub, GitLab, Kubernetes or CircleCI subject pattern; None for others."""
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
    return None


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
