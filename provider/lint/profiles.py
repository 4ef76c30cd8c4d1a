"""What the linter knows about well-known issuers (research/peers.md §2.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

@dataclass(frozen=True)
class IssuerProfile:
    """What the linter knows about a well-known issuer."""

    kind: str
    title: str
    shared: bool
    """Many unrelated tenants obtain tokens from this one issuer URL."""
    ci: bool
    """A CI system: jobs are short, so tokens should be too (OIDC016)."""
    tenant_claims: tuple[str, ...] = ()
    """Claims that scope the tenant when pinned exactly (any one is enough)."""
    tenant_fix: str = ""
    name_claims: tuple[str, ...] = ()
    """Claims that name a repository/project (mutable: rename and recycling, OIDC008)."""
    id_claims: tuple[str, ...] = ()
    """The immutable ids that make a name pin safe (OIDC008)."""


_GITHUB = dict(
    kind="github",
    tenant_claims=("repository_owner_id", "repository_id"),
    tenant_fix="add rule repository_owner_id: '<numeric id>' (find it with `gh api users/OWNER --jq .id`), "
    "or use the immutable subject repo:OWNER@OWNER_ID/REPO@REPO_ID:...",
    name_claims=("repository", "job_workflow_ref", "workflow_ref"),
    id_claims=("repository_id",),
)
_PROFILES = {
    "github": IssuerProfile(title="GitHub Actions (shared by every github.com account)", shared=True, ci=True, **_GITHUB),
    "github-enterprise": IssuerProfile(title="GitHub Actions (enterprise issuer)", shared=False, ci=True, **_GITHUB),
    "gitlab.com": IssuerProfile(
        kind="gitlab",
        title="GitLab.com (shared by every gitlab.com group)",
        shared=True,
        ci=True,
        tenant_claims=("namespace_id", "project_id"),
        tenant_fix="add rule namespace_id: '<numeric group id>' (the group's page shows its Group ID)",
        name_claims=("project_path",),
        id_claims=("project_id",),
    ),
    "circleci": IssuerProfile(
        kind="circleci",
        title="CircleCI (one issuer per organization; projects share it)",
        shared=True,
        ci=True,
        tenant_claims=('"oidc.circleci.com/project-id"',),
        tenant_fix="pin the project in sub: 'org/ORG_ID/project/PROJECT_ID/user/*', "
        "or add rule '\"oidc.circleci.com/project-id\"': 'PROJECT_ID'",
    ),
    "bitbucket": IssuerProfile(
        kind="bitbucket",
        title="Bitbucket Pipelines (one issuer per workspace; repositories share it)",
        shared=True,
        ci=True,
        tenant_claims=("repositoryUuid",),
        tenant_fix="add rule repositoryUuid: '{REPOSITORY-UUID}' (Repository settings > OpenID Connect)",
    ),
    "terraform": IssuerProfile(
        kind="terraform",
        title="HCP Terraform / Terraform Cloud (shared by every organization)",
        shared=True,
        ci=True,
        tenant_claims=("terraform_organization_id", "terraform_workspace_id"),
        tenant_fix="add rule terraform_organization_id: 'org-XXXXXXXX' (Organization settings > General)",
        name_claims=("terraform_workspace_name", "terraform_organization_name"),
        id_claims=("terraform_workspace_id",),
    ),
    "buildkite": IssuerProfile(
        kind="buildkite",
        title="Buildkite (shared by every organization)",
        shared=True,
        ci=True,
        tenant_claims=("organization_id",),
        tenant_fix="add rule organization_id: '<your organization UUID>'",
    ),
    "google": IssuerProfile(
        kind="google",
        title="Google (any service account anywhere)",
        shared=True,
        ci=False,
        tenant_claims=("sub",),
        tenant_fix="pin sub to the service account's numeric unique id",
    ),
    "kubernetes": IssuerProfile(kind="kubernetes", title="Kubernetes cluster", shared=False, ci=False),
}


def issuer_profile(url: str | None) -> IssuerProfile | None:
    """The profile of a well-known issuer URL (peers.md §2.2), or None for any other issuer."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/")
    if host == "token.actions.githubusercontent.com":
        return _PROFILES["github" if not path else "github-enterprise"]
    if host == "gitlab.com":
        return _PROFILES["gitlab.com"]
    if host == "oidc.circleci.com":
        return _PROFILES["circleci"]
    if host == "api.bitbucket.org" and path.endswith("/pipelines-config/identity/oidc"):
        return _PROFILES["bitbucket"]
    if host == "app.terraform.io":
        return _PROFILES["terraform"]
    if host == "agent.buildkite.com":
        return _PROFILES["buildkite"]
    if host == "accounts.google.com":
        return _PROFILES["google"]
    if (
        re.fullmatch(r"oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?", host)
        or (host == "container.googleapis.com" and "/clusters/" in path)
        or host.endswith(".oic.prod-aks.azure.com")
    ):
        return _PROFILES["kubernetes"]
    return None
