"""The linter held against real-world trust conditions, graded before the rules were changed.

Each row is a condition seen in real trust policies for GitHub Actions, GitLab, CircleCI, HCP
Terraform, Bitbucket Pipelines and Kubernetes, translated to a Pulumi policy document with the
tenant's immutable id pinned where the platform has one (unless the row says otherwise), and graded:

* DANGEROUS: someone outside the intended workload can mint the token -> the linter must say error;
* CAUTION: it holds only under a condition the policy cannot show -> a warning or an error, never silence;
* SAFE: narrow as written -> no error (warnings allowed).

The reason cites the platform document or the known incident that the grade rests on. Short names:
GH-OIDC = GitHub docs "OpenID Connect reference" (subject formats, claims); GH-ENV = GitHub docs
"Managing environments for deployment" (a job naming a missing environment creates it, unprotected);
GL-ID = GitLab docs "ID token authentication" (claims, sub = project_path:G/P:ref_type:T:ref:R);
CC-OIDC = CircleCI docs "Using OpenID Connect tokens in jobs" (sub org/O/project/P/user/U, claims
incl. oidc.circleci.com/ssh-rerun); TFC-WIT = HashiCorp docs "Workload identity tokens" (sub
organization:O:project:P:workspace:W:run_phase:PHASE; speculative plans run for pull requests);
BB-OIDC = Atlassian docs "Deploy on AWS using Bitbucket Pipelines OpenID Connect" (sub
{REPOSITORY_UUID}[{ENVIRONMENT_UUID}]:{STEP_UUID}); K8S-SA = Kubernetes docs "Service account
tokens" (sub system:serviceaccount:NS:SA); PULUMI-WC = Pulumi docs "OIDC issuers" ('*' 0+, '?' 0-1,
'.' exactly one character); DATADOG-2023 = Datadog Security Labs "No keys attached" (missing or
broad sub); ASTRIX = Astrix "Sub:jugation" (recycled names on shared issuers); UNIT42 = Palo Alto
Unit 42 "Oh-My-DC" (user-controlled claims, poisoned pipelines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pulumi_oidc_trust.provider.lint import lint_policies
from pulumi_oidc_trust.provider.policy import parse_policies

DANGEROUS, CAUTION, SAFE = "dangerous", "caution", "safe"

ORG = "acme"
AUD = "urn:pulumi:org:acme"
GH = "https://token.actions.githubusercontent.com"
GHES = "https://token.actions.githubusercontent.com/acme-enterprise"
GITLAB = "https://gitlab.com"
GITLAB_SELF = "https://gitlab.acme.example"
CC_ORG = "0e5a0c3d-1111-2222-3333-444455556666"
CC_PROJECT = "77aa0c3d-1111-2222-3333-444455556666"
CIRCLE = f"https://oidc.circleci.com/org/{CC_ORG}"
BITBUCKET = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
BB_REPO = "{8a1f0c3d-1111-2222-3333-444455556666}"
BB_ENV = "{99bb0c3d-1111-2222-3333-444455556666}"
TFC = "https://app.terraform.io"
TFC_ORG_ID = "org-AbCdEfGh12345678"
TFC_WS_ID = "ws-AbCdEfGh12345678"
EKS = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
GKE = "https://container.googleapis.com/v1/projects/acme/locations/us-central1/clusters/ci"
AKS = "https://eastus.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/11111111-1111-1111-1111-111111111111/"
K8S_SELF = "https://k8s.acme.example"

SSH_RERUN = '"oidc.circleci.com/ssh-rerun"'
CC_PROJECT_CLAIM = '"oidc.circleci.com/project-id"'
CC_VCS_REF = '"oidc.circleci.com/vcs-ref"'
CC_CONTEXTS = '"oidc.circleci.com/context-ids"'


@dataclass(frozen=True)
class Case:
    platform: str
    grade: str
    label: str
    issuer: str
    policies: tuple[dict[str, Any], ...]
    reason: str


def allow(rules: dict[str, str], admin: bool = False) -> dict[str, Any]:
    """An allow for a team token (or organization admin): both can change stacks."""
    if admin:
        return {"decision": "allow", "tokenType": "organization", "authorizedPermissions": ["admin"], "rules": {"aud": AUD, **rules}}
    return {"decision": "allow", "tokenType": "team", "teamName": "platform", "rules": {"aud": AUD, **rules}}


def deny(rules: dict[str, str], admin: bool = False) -> dict[str, Any]:
    """A deny for the same token as ``allow(..., admin)`` (a deny applies to its own token type)."""
    if admin:
        return {"decision": "deny", "tokenType": "organization", "rules": {"aud": AUD, **rules}}
    return {"decision": "deny", "tokenType": "team", "teamName": "platform", "rules": {"aud": AUD, **rules}}


TABLE: list[Case] = []


def case(platform: str, grade: str, label: str, issuer: str, *policies: dict[str, Any], reason: str) -> None:
    TABLE.append(Case(platform, grade, label, issuer, tuple(policies), reason))


def gh(grade: str, label: str, rules: dict[str, str], reason: str, *, owner_id: bool = True, admin: bool = False, issuer: str = GH) -> None:
    pinned = {"repository_owner_id": "4242"} if owner_id else {}
    case("github", grade, label, issuer, allow({**pinned, **rules}, admin), reason=reason)


def gl(grade: str, label: str, rules: dict[str, str], reason: str, *, namespace_id: bool = True, admin: bool = False, issuer: str = GITLAB) -> None:
    pinned = {"namespace_id": "9"} if namespace_id else {}
    case("gitlab", grade, label, issuer, allow({**pinned, **rules}, admin), reason=reason)


def tfc(grade: str, label: str, rules: dict[str, str], reason: str, *, org_id: bool = True, admin: bool = False) -> None:
    pinned = {"terraform_organization_id": TFC_ORG_ID} if org_id else {}
    case("terraform", grade, label, TFC, allow({**pinned, **rules}, admin), reason=reason)


def k8s(grade: str, label: str, rules: dict[str, str], reason: str, *, issuer: str = EKS, admin: bool = False, aud: str | None = None) -> None:
    policy = allow(rules, admin)
    if aud is not None:
        policy["rules"]["aud"] = aud
    case("kubernetes", grade, label, issuer, policy, reason=reason)


def bb(grade: str, label: str, rules: dict[str, str], reason: str) -> None:
    case("bitbucket", grade, label, BITBUCKET, allow(rules), reason=reason)


CC_SUB = f"org/{CC_ORG}/project/{CC_PROJECT}/user/*"
CC_SSH_DENY = deny({SSH_RERUN: "true"})


def cc(grade: str, label: str, *policies: dict[str, Any], reason: str) -> None:
    case("circleci", grade, label, CIRCLE, *policies, reason=reason)


# -- GitHub Actions ----------------------------------------------------------------------------
R = "repo:acme/infra"
gh(DANGEROUS, "every repository of the owner, any ref", {"sub": "repo:acme/*"}, "GH-OIDC; DATADOG-2023: any repository (and pull request) of the owner mints")
gh(DANGEROUS, "repo:* (owner id pinned)", {"sub": "repo:*"}, "DATADOG-2023: with only the owner id left, every repository and ref of the owner matches")
gh(DANGEROUS, "one repository, any context", {"sub": f"{R}:*"}, "GH-OIDC: ':*' also matches 'pull_request', unreviewed code from any branch")
gh(DANGEROUS, "pull_request subject", {"sub": f"{R}:pull_request"}, "GH-OIDC: pull_request jobs run the PR author's code before review")
gh(DANGEROUS, "any branch", {"sub": f"{R}:ref:refs/heads/*"}, "GH-OIDC: any writer can push a new branch and mint the token")
gh(DANGEROUS, "any ref", {"sub": f"{R}:ref:*"}, "GH-OIDC: any branch or tag of the repository")
gh(DANGEROUS, "any four-character branch ('.' wildcard)", {"sub": f"{R}:ref:refs/heads/...."}, "PULUMI-WC: '.' is one any-character, so 'refs/heads/....' is any four-letter branch")
gh(DANGEROUS, "branch starting with a '.' wildcard", {"sub": f"{R}:ref:refs/heads/.*"}, "PULUMI-WC: '.*' admits every branch name")
gh(DANGEROUS, "prefix of main", {"sub": f"{R}:ref:refs/heads/main*"}, "PULUMI-WC: 'main*' also admits 'main-evil', a branch any writer creates")
gh(DANGEROUS, "any tag", {"sub": f"{R}:ref:refs/tags/*"}, "GH-OIDC: any writer can push a tag unless a ruleset forbids it; nothing in the policy says so")
gh(DANGEROUS, "any environment", {"sub": f"{R}:environment:*"}, "GH-ENV: a job naming a missing environment creates it without protection rules")
gh(DANGEROUS, "owner wildcard in the name, no owner id", {"sub": "repo:acme*/infra:ref:refs/heads/main"}, "DATADOG-2023: 'acme*' admits an owner anyone can register ('acme-evil')", owner_id=False)
gh(DANGEROUS, "owner with a '.' wildcard, no owner id", {"sub": "repo:acm./infra:ref:refs/heads/main"}, "PULUMI-WC: 'acm.' admits 'acmx', an owner anyone can register (GitHub names have no dots)", owner_id=False)
gh(DANGEROUS, "owner id only, no repository", {}, "GH-OIDC: repository_owner_id alone admits every repository and ref of the owner")
gh(DANGEROUS, "owner id and event push only", {"event_name": "push"}, "GH-OIDC: every repository of the owner, any pushed branch")
gh(DANGEROUS, "owner id and main branch, any repository", {"ref": "refs/heads/main"}, "GH-OIDC: any member who creates a repository pushes its main and mints")
gh(DANGEROUS, "owner id and reusable workflow at any ref", {"job_workflow_ref": "acme/deploy/.github/workflows/deploy.yml@*"}, "GH-OIDC: any repository of the owner may call the workflow, from any ref or pull request")
gh(DANGEROUS, "organization-wide on main", {"sub": "repo:acme/*:ref:refs/heads/main"}, "GH-OIDC: every repository's main, including one a member creates tomorrow")
gh(DANGEROUS, "admin for any context", {"sub": f"{R}:*"}, "GH-OIDC: organization admin for any branch or pull request", admin=True)
gh(DANGEROUS, "custom subject from the environment only", {"sub": "environment:production"}, "UNIT42: a custom sub starting with a workflow-chosen value, no repository", owner_id=False)
gh(DANGEROUS, "no sub, only the workflow name", {"workflow": "deploy"}, "UNIT42: the workflow name is whatever the author writes", owner_id=False)
gh(DANGEROUS, "no owner id, any repository and ref", {"sub": "repo:*"}, "DATADOG-2023: every repository on github.com", owner_id=False)
gh(DANGEROUS, "immutable subject, any context", {"sub": "repo:acme@4242/infra@77:*"}, "GH-OIDC: the immutable form admits pull_request too when the context is '*'", owner_id=False)
gh(DANGEROUS, "event pull_request_target", {"repository_id": "77", "event_name": "pull_request_target"}, "GH-OIDC: pull_request_target jobs are started by any PR author")
gh(DANGEROUS, "GitHub's default audience", {"sub": f"{R}:ref:refs/heads/main", "aud": "https://github.com/acme"}, "RFC 8725 §3.9: the owner-URL audience is every relying party's default")
gh(CAUTION, "exact classic subject, no owner id", {"sub": f"{R}:ref:refs/heads/main"}, "ASTRIX: only a deleted or renamed owner's name can be re-registered", owner_id=False)
gh(CAUTION, "release branches under a delimiter", {"sub": f"{R}:ref:refs/heads/release/*"}, "GH-OIDC: holds only if a ruleset protects release/*")
gh(CAUTION, "dot in the repository name", {"sub": "repo:acme/site.io:ref:refs/heads/main"}, "PULUMI-WC: 'site.io' also matches 'siteXio' of the same owner")
gh(CAUTION, "'?' in the branch", {"sub": f"{R}:ref:refs/heads/mai?"}, "PULUMI-WC: '?' is zero or one character: 'mai' and 'maiX' match too")
gh(CAUTION, "repository by name claim", {"repository": "acme/infra", "ref": "refs/heads/main", "event_name": "push"}, "ASTRIX: a renamed repository's name can be taken by another repository")
gh(CAUTION, "exact tag with dots", {"sub": f"{R}:ref:refs/tags/v1.2.3"}, "PULUMI-WC: 'v1.2.3' also matches 'v1x2x3', a tag a writer can push")
gh(SAFE, "main branch, owner id", {"sub": f"{R}:ref:refs/heads/main"}, "GH-OIDC: one repository, one branch")
gh(SAFE, "environment, owner id", {"sub": f"{R}:environment:production"}, "GH-ENV: jobs in a protected environment")
gh(SAFE, "main branch, admin", {"sub": f"{R}:ref:refs/heads/main"}, "GH-OIDC: exact subject for organization admin", admin=True)
gh(SAFE, "environment, admin", {"sub": f"{R}:environment:production"}, "GH-ENV: exact environment subject for organization admin", admin=True)
gh(SAFE, "immutable subject, main", {"sub": "repo:acme@4242/infra@77:ref:refs/heads/main"}, "GH-OIDC: immutable owner and repository ids in sub", owner_id=False)
gh(SAFE, "immutable subject, environment", {"sub": "repo:acme@4242/infra@77:environment:production"}, "GH-OIDC: immutable ids, protected environment", owner_id=False)
gh(SAFE, "repository and owner ids, main", {"repository_id": "77", "sub": f"{R}:ref:refs/heads/main"}, "GH-OIDC: ids pinned, one branch")
gh(SAFE, "repository id and exact ref without sub", {"repository_id": "77", "ref": "refs/heads/main", "event_name": "push"}, "GH-OIDC: repository_id is unique on github.com; one branch", owner_id=False)
gh(SAFE, "repository id and environment without sub", {"repository_id": "77", "environment": "production"}, "GH-ENV: one repository's protected environment", owner_id=False)
gh(SAFE, "any context guarded by an environment", {"sub": f"{R}:*", "environment": "production"}, "GH-ENV: only jobs admitted to the production environment carry it")
gh(SAFE, "main plus the deploy workflow", {"sub": f"{R}:ref:refs/heads/main", "job_workflow_ref": "acme/infra/.github/workflows/deploy.yml@refs/heads/main"}, "GH-OIDC: one branch and one workflow file")
gh(SAFE, "main on GitHub-hosted runners", {"sub": f"{R}:ref:refs/heads/main", "runner_environment": "github-hosted"}, "GH-OIDC: one branch, hosted runners")
gh(SAFE, "exact tag", {"sub": f"{R}:ref:refs/tags/v1"}, "GH-OIDC: one tag")
gh(SAFE, "custom subject with owner and repository ids", {"sub": "repository_owner_id:4242:repository_id:77:environment:production"}, "GH-OIDC include_claim_keys: immutable ids first, then a protected environment", owner_id=False)
gh(SAFE, "enterprise issuer, no owner id", {"sub": f"{R}:ref:refs/heads/main"}, "GH-OIDC: an enterprise's own issuer serves only its owners", owner_id=False, issuer=GHES)
gh(SAFE, "main with event push", {"sub": f"{R}:ref:refs/heads/main", "event_name": "push"}, "GH-OIDC: one branch, pushes only")

# -- GitLab ------------------------------------------------------------------------------------
P = "project_path:acme/infra"
gl(DANGEROUS, "every project of the group", {"sub": "project_path:acme/*"}, "GL-ID: any project (and branch) of the group")
gl(DANGEROUS, "one project, any ref", {"sub": f"{P}:*"}, "GL-ID: any branch, tag or merge-request pipeline")
gl(DANGEROUS, "any branch", {"sub": f"{P}:ref_type:branch:ref:*"}, "GL-ID: any developer's pushed branch mints")
gl(DANGEROUS, "any branch, subject ending after ref_type", {"sub": f"{P}:ref_type:branch:*"}, "GL-ID: the ref part is left open")
gl(DANGEROUS, "any branch, '*' after branch", {"sub": f"{P}:ref_type:branch*"}, "GL-ID: 'branch*' swallows ':ref:ANY'")
gl(DANGEROUS, "any ref type and ref", {"sub": f"{P}:ref_type:*:ref:*"}, "GL-ID: any branch or tag")
gl(DANGEROUS, "any branch, pushes only", {"sub": f"{P}:ref_type:branch:ref:*", "pipeline_source": "push"}, "GL-ID: pipeline_source push still admits any pushed branch")
gl(DANGEROUS, "any context, pushes only", {"sub": f"{P}:*", "pipeline_source": "push"}, "GL-ID: every unprotected branch a developer pushes")
gl(DANGEROUS, "any four-character branch", {"sub": f"{P}:ref_type:branch:ref:...."}, "PULUMI-WC: '....' is any four-character branch")
gl(DANGEROUS, "prefix of main", {"sub": f"{P}:ref_type:branch:ref:main*"}, "PULUMI-WC: 'main*' admits 'main-evil'")
gl(DANGEROUS, "any tag", {"sub": f"{P}:ref_type:tag:ref:*"}, "GL-ID: developers push tags unless tags are protected; nothing pins ref_protected")
gl(DANGEROUS, "namespace id only", {}, "GL-ID: every project and ref of the group")
gl(DANGEROUS, "namespace id and main, any project", {"ref": "main", "ref_type": "branch"}, "GL-ID: any member who creates a project pushes its main")
gl(DANGEROUS, "project id only", {"project_id": "2"}, "GL-ID: any ref and merge request of the project")
gl(DANGEROUS, "merge-request pipelines", {"project_id": "2", "pipeline_source": "merge_request_event"}, "GL-ID: merge-request pipelines run unreviewed code")
gl(DANGEROUS, "group wildcard, no namespace id", {"sub": "project_path:*/infra:ref_type:branch:ref:main"}, "ASTRIX: any group's 'infra' project", namespace_id=False)
gl(DANGEROUS, "group with a '.' wildcard, no namespace id", {"sub": "project_path:acm./infra:ref_type:branch:ref:main"}, "PULUMI-WC: 'acm.' admits group 'acmx', which anyone can create", namespace_id=False)
gl(DANGEROUS, "admin for any branch", {"sub": f"{P}:ref_type:branch:ref:*"}, "GL-ID: organization admin for any pushed branch", admin=True)
gl(DANGEROUS, "group-wide on protected main", {"sub": "project_path:acme/*:ref_type:branch:ref:main", "ref_protected": "true"}, "GL-ID: a member who creates a project is maintainer of its protected main")
gl(CAUTION, "release branches, unprotected", {"sub": f"{P}:ref_type:branch:ref:release/*"}, "GL-ID: holds only if release/* is a protected-branch pattern")
gl(CAUTION, "dot in the project name", {"sub": "project_path:acme/my.app:ref_type:branch:ref:main"}, "PULUMI-WC: 'my.app' also matches 'myXapp' in the group")
gl(CAUTION, "exact subject, no namespace id", {"sub": f"{P}:ref_type:branch:ref:main"}, "ASTRIX: only a deleted group's path can be re-registered", namespace_id=False)
gl(CAUTION, "project path claim by name", {"project_path": "acme/infra", "ref": "main", "ref_protected": "true"}, "ASTRIX: a renamed project's path can be reused in the group")
gl(SAFE, "main branch", {"sub": f"{P}:ref_type:branch:ref:main"}, "GL-ID: one project, one branch")
gl(SAFE, "main branch and project id", {"project_id": "2", "sub": f"{P}:ref_type:branch:ref:main"}, "GL-ID: immutable ids, one branch")
gl(SAFE, "any ref, protected only", {"sub": f"{P}:*", "ref_protected": "true"}, "GL-ID: ref_protected is set by GitLab for protected branches and tags")
gl(SAFE, "any tag, protected only", {"sub": f"{P}:ref_type:tag:ref:*", "ref_protected": "true"}, "GL-ID: protected tags only maintainers create")
gl(SAFE, "project id, protected branches", {"project_id": "2", "ref_type": "branch", "ref_protected": "true"}, "GL-ID: one project's protected branches")
gl(SAFE, "project id and main", {"project_id": "2", "ref_type": "branch", "ref": "main"}, "GL-ID: one project, one branch (fork MRs run in the fork's project)")
gl(SAFE, "self-managed instance", {"sub": f"{P}:ref_type:branch:ref:main"}, "GL-ID: a self-managed instance's issuer serves only its own groups", namespace_id=False, issuer=GITLAB_SELF)
gl(SAFE, "main and protected environment", {"sub": f"{P}:ref_type:branch:ref:main", "environment": "production", "environment_protected": "true"}, "GL-ID: one branch, protected environment")
gl(SAFE, "release branches, protected", {"sub": f"{P}:ref_type:branch:ref:release/*", "ref_protected": "true"}, "GL-ID: protected release branches")
gl(SAFE, "main, admin", {"project_id": "2", "sub": f"{P}:ref_type:branch:ref:main"}, "GL-ID: exact subject for organization admin", admin=True)
gl(SAFE, "any branch, protected environment", {"project_id": "2", "environment": "production", "environment_protected": "true"}, "GL-ID: environment_protected is set by GitLab; only allowed deployers run it")

# -- HCP Terraform / Terraform Cloud ----------------------------------------------------------------
T = "organization:acme:project:infra:workspace:prod"
tfc(DANGEROUS, "any project and workspace", {"sub": "organization:acme:project:*:workspace:*:run_phase:apply"}, "TFC-WIT: every workspace of the organization")
tfc(DANGEROUS, "any workspace of a project", {"sub": "organization:acme:project:infra:workspace:*:run_phase:apply"}, "TFC-WIT: any workspace a project member creates")
tfc(DANGEROUS, "any run phase", {"sub": f"{T}:run_phase:*"}, "TFC-WIT: a speculative plan from any branch gets the apply's token")
tfc(DANGEROUS, "run phase left open", {"sub": f"{T}:*"}, "TFC-WIT: plan and apply alike")
tfc(DANGEROUS, "organization only in sub", {"sub": "organization:acme:*"}, "TFC-WIT: every workspace and phase")
tfc(DANGEROUS, "organization id only", {}, "TFC-WIT: every workspace and phase of the organization")
tfc(DANGEROUS, "organization id and apply only", {"terraform_run_phase": "apply"}, "TFC-WIT: every workspace's apply")
tfc(DANGEROUS, "workspace prefix", {"sub": "organization:acme:project:infra:workspace:prod-*:run_phase:apply"}, "PULUMI-WC: 'prod-*' admits a workspace anyone with create rights names 'prod-x'")
tfc(DANGEROUS, "workspace id, any phase", {"terraform_workspace_id": TFC_WS_ID}, "TFC-WIT: plans (speculative, from pull requests) get the token")
tfc(DANGEROUS, "no organization id, any organization", {"sub": "organization:*:project:infra:workspace:prod:run_phase:apply"}, "ASTRIX: any organization's 'prod' workspace", org_id=False)
tfc(DANGEROUS, "any four-character workspace", {"sub": "organization:acme:project:infra:workspace:....:run_phase:apply"}, "PULUMI-WC: '....' is any four-character workspace name")
tfc(DANGEROUS, "admin for any phase", {"sub": f"{T}:run_phase:*"}, "TFC-WIT: organization admin for a speculative plan", admin=True)
tfc(CAUTION, "exact subject, no organization id", {"sub": f"{T}:run_phase:apply"}, "ASTRIX: a deleted organization's name can be re-registered", org_id=False)
tfc(SAFE, "exact subject, apply", {"sub": f"{T}:run_phase:apply"}, "TFC-WIT: one workspace's apply phase")
tfc(SAFE, "workspace id and apply", {"terraform_workspace_id": TFC_WS_ID, "terraform_run_phase": "apply"}, "TFC-WIT: immutable ids, apply only")
tfc(SAFE, "workspace id and apply, admin", {"terraform_workspace_id": TFC_WS_ID, "terraform_run_phase": "apply"}, "TFC-WIT: as narrow as an exact sub", admin=True)
tfc(SAFE, "exact subject, apply, admin", {"sub": f"{T}:run_phase:apply"}, "TFC-WIT: exact subject for organization admin", admin=True)
tfc(SAFE, "exact subject and workspace id", {"terraform_workspace_id": TFC_WS_ID, "sub": f"{T}:run_phase:apply"}, "TFC-WIT: names and ids agree")

# -- Kubernetes --------------------------------------------------------------------------------------
k8s(DANGEROUS, "any namespace, named account", {"sub": "system:serviceaccount:*:runner"}, "K8S-SA: whoever can create a namespace creates 'runner' in it")
k8s(DANGEROUS, "every service account", {"sub": "system:*"}, "K8S-SA: every service account of the cluster")
k8s(DANGEROUS, "any namespace and account", {"sub": "system:serviceaccount:*:*"}, "K8S-SA: every service account of the cluster")
k8s(DANGEROUS, "namespace with a '.' wildcard", {"sub": "system:serviceaccount:c.:runner"}, "PULUMI-WC: 'c.' is any two-character namespace")
k8s(DANGEROUS, "audience only", {}, "K8S-SA: every pod that can mount a token with this audience")
k8s(DANGEROUS, "IRSA audience", {"sub": "system:serviceaccount:ci:runner"}, "peers.md §1.1: the IRSA token is also accepted by AWS STS", aud="sts.amazonaws.com")
k8s(DANGEROUS, "issuer as audience", {"sub": "system:serviceaccount:ci:runner"}, "K8S-SA: the API server's own audience, on every auto-mounted token", aud=EKS)
k8s(DANGEROUS, "admin for any account of a namespace", {"sub": "system:serviceaccount:ci:*"}, "K8S-SA: organization admin for any account in 'ci'", admin=True)
k8s(DANGEROUS, "audience and a catch-all issue time", {"iat": "1*"}, "K8S-SA: every token's iat starts with 1 (2001 to 2286): every pod", issuer=GKE)
k8s(DANGEROUS, "account claim in any namespace", {'"kubernetes.io".serviceaccount.name': "runner"}, "K8S-SA: whoever can create a namespace creates 'runner' in it", issuer=GKE)
k8s(CAUTION, "any account of one namespace", {"sub": "system:serviceaccount:ci:*"}, "K8S-SA: anyone who can create a service account in 'ci'")
k8s(CAUTION, "namespace claim only", {'"kubernetes.io".namespace': "ci"}, "K8S-SA: any pod of the namespace", issuer=GKE)
k8s(CAUTION, "default service account", {"sub": "system:serviceaccount:ci:default"}, "K8S-SA: every pod without its own account runs as 'default'")
k8s(CAUTION, "account name prefix", {"sub": "system:serviceaccount:ci:runner*"}, "PULUMI-WC: 'runner*' admits 'runner-evil'")
k8s(SAFE, "one account on EKS", {"sub": "system:serviceaccount:ci:pulumi-runner"}, "K8S-SA: one service account of one cluster")
k8s(SAFE, "one account on GKE", {"sub": "system:serviceaccount:ci:pulumi-runner"}, "K8S-SA: one service account", issuer=GKE)
k8s(SAFE, "one account on AKS", {"sub": "system:serviceaccount:ci:pulumi-runner"}, "K8S-SA: one service account", issuer=AKS)
k8s(SAFE, "one account, self-managed", {"sub": "system:serviceaccount:ci:pulumi-runner"}, "K8S-SA: one service account", issuer=K8S_SELF)
k8s(SAFE, "one account and its uid", {"sub": "system:serviceaccount:ci:pulumi-runner", '"kubernetes.io".serviceaccount.uid': "6f1c0b9e-1111-2222-3333-444455556666"}, "K8S-SA: uid survives delete-and-recreate")
k8s(SAFE, "nested namespace and account claims", {'"kubernetes.io".namespace': "ci", '"kubernetes.io".serviceaccount.name': "pulumi-runner"}, "K8S-SA: the same pair as sub", issuer=GKE)
k8s(SAFE, "service-account uid claim", {'"kubernetes.io".serviceaccount.uid': "6f1c0b9e-1111-2222-3333-444455556666"}, "K8S-SA: one account object, by immutable id", issuer=GKE)
k8s(SAFE, "one account, admin", {"sub": "system:serviceaccount:ci:pulumi-runner"}, "K8S-SA: exact subject for organization admin", admin=True)

# -- Bitbucket Pipelines -------------------------------------------------------------------------------
bb(DANGEROUS, "audience only", {}, "BB-OIDC: every repository of the workspace")
bb(DANGEROUS, "any repository UUID", {"sub": "{*}:*"}, "BB-OIDC: every repository and step of the workspace")
bb(DANGEROUS, "branch only", {"branchName": "main"}, "BB-OIDC: every repository's main branch in the workspace")
bb(DANGEROUS, "workspace only", {"workspaceUuid": "{11110c3d-1111-2222-3333-444455556666}"}, "BB-OIDC: the issuer already is the workspace: every repository")
bb(DANGEROUS, "repository UUID wildcarded", {"sub": "{8a1f*"}, "BB-OIDC: any repository whose UUID starts the same way")
bb(CAUTION, "one repository, any step", {"sub": f"{BB_REPO}:*"}, "BB-OIDC: any branch's pipeline of the repository")
bb(CAUTION, "step UUID pinned", {"repositoryUuid": BB_REPO, "stepUuid": "{33330c3d-1111-2222-3333-444455556666}"}, "BB-OIDC: the step UUID changes every run")
bb(SAFE, "one repository's deployment environment", {"sub": f"{BB_REPO}{BB_ENV}:*"}, "BB-OIDC: deployment steps of one environment of one repository")
bb(SAFE, "one repository, main branch", {"sub": f"{BB_REPO}:*", "branchName": "main"}, "BB-OIDC: one repository, one branch")
bb(SAFE, "repository and environment claims", {"repositoryUuid": BB_REPO, "deploymentEnvironmentUuid": BB_ENV}, "BB-OIDC: one repository's environment")
bb(SAFE, "repository claim and main", {"repositoryUuid": BB_REPO, "branchName": "main"}, "BB-OIDC: one repository, one branch")
bb(SAFE, "colon-separated environment subject", {"sub": f"{BB_REPO}:{BB_ENV}:*"}, "BB-OIDC: one repository's environment")

# -- CircleCI ----------------------------------------------------------------------------------------
cc(DANGEROUS, "any project", allow({"sub": f"org/{CC_ORG}/project/*/user/*"}), reason="CC-OIDC: every project of the organization")
cc(DANGEROUS, "anything under the organization", allow({"sub": f"org/{CC_ORG}/*"}), reason="CC-OIDC: every project and user")
cc(DANGEROUS, "any organization segment", allow({"sub": "org/*"}), reason="CC-OIDC: every job of the organization")
cc(DANGEROUS, "branch only, any project", CC_SSH_DENY, allow({CC_VCS_REF: "refs/heads/main"}), reason="CC-OIDC: every project's main")
cc(DANGEROUS, "project pinned, SSH reruns admitted", allow({"sub": CC_SUB, CC_VCS_REF: "refs/heads/main"}), reason="CC-OIDC: an SSH rerun is a shell holding the job's token (ssh-rerun claim)")
cc(DANGEROUS, "SSH deny after the allow", allow({"sub": CC_SUB, CC_VCS_REF: "refs/heads/main"}), CC_SSH_DENY, reason="CC-OIDC: precedence is undocumented; a deny after the allow may never be reached")
cc(DANGEROUS, "admin for any branch", deny({SSH_RERUN: "true"}, admin=True), allow({"sub": CC_SUB}, admin=True), reason="CC-OIDC: organization admin for any pushed branch")
cc(DANGEROUS, "project claim, SSH reruns admitted", allow({CC_PROJECT_CLAIM: CC_PROJECT, CC_VCS_REF: "refs/heads/main"}), reason="CC-OIDC: SSH rerun of a main job")
cc(CAUTION, "project pinned, any branch", CC_SSH_DENY, allow({"sub": CC_SUB}), reason="CC-OIDC: the subject carries no branch; any writer's branch mints")
cc(SAFE, "project and main, SSH denied first", CC_SSH_DENY, allow({"sub": CC_SUB, CC_VCS_REF: "refs/heads/main"}), reason="CC-OIDC: one project, one branch, no SSH reruns")
cc(SAFE, "project and main, ssh-rerun false", allow({"sub": CC_SUB, CC_VCS_REF: "refs/heads/main", SSH_RERUN: "false"}), reason="CC-OIDC: the allow itself refuses SSH reruns")
cc(SAFE, "project claim and main, SSH denied", CC_SSH_DENY, allow({CC_PROJECT_CLAIM: CC_PROJECT, CC_VCS_REF: "refs/heads/main"}), reason="CC-OIDC: one project, one branch")
cc(SAFE, "project and restricted context", CC_SSH_DENY, allow({"sub": CC_SUB, CC_CONTEXTS: "5b7c0c3d-1111-2222-3333-444455556666"}), reason="CC-OIDC: a context restricted to a security group")
cc(SAFE, "admin, main, SSH denied", deny({SSH_RERUN: "true"}, admin=True), allow({"sub": CC_SUB, CC_VCS_REF: "refs/heads/main"}, admin=True), reason="CC-OIDC: one project's main for organization admin")


# ---------------------------------------------------------------------------------------------


def findings(c: Case):
    return lint_policies(parse_policies(list(c.policies)), issuer_url=c.issuer, organization=ORG)


def severities(c: Case) -> set[str]:
    return {f.severity for f in findings(c)}


KNOWN_REFUSED: dict[str, str] = {}
"""Safe rows the linter still refuses, each with why (the table allows 10% of the safe rows)."""


def _id(c: Case) -> str:
    return f"{c.platform}-{c.grade}-{c.label}"


@pytest.mark.parametrize("c", TABLE, ids=[_id(c) for c in TABLE])
def test_grade(c: Case):
    found = findings(c)
    text = [str(f) for f in found]
    if c.grade == DANGEROUS:
        assert any(f.severity == "error" for f in found), f"dangerous and accepted ({c.reason}): {text}"
    elif c.grade == CAUTION:
        assert any(f.severity in ("error", "warning") for f in found), f"caution and silent ({c.reason}): {text}"
    elif _id(c) in KNOWN_REFUSED:
        pytest.xfail(KNOWN_REFUSED[_id(c)])
    else:
        assert not any(f.severity == "error" for f in found), f"safe and refused ({c.reason}): {text}"


def test_the_table_is_large_and_covers_every_platform():
    assert len(TABLE) >= 100
    assert {c.platform for c in TABLE} == {"github", "gitlab", "circleci", "terraform", "bitbucket", "kubernetes"}
    assert all(c.reason and c.grade in (DANGEROUS, CAUTION, SAFE) for c in TABLE)
    assert len({_id(c) for c in TABLE}) == len(TABLE), "labels must be unique per platform and grade"


def test_every_dangerous_row_is_an_error_and_nine_in_ten_safe_rows_pass():
    dangerous = [c for c in TABLE if c.grade == DANGEROUS]
    safe = [c for c in TABLE if c.grade == SAFE]
    caught = [c for c in dangerous if "error" in severities(c)]
    passed = [c for c in safe if "error" not in severities(c)]
    assert len(caught) == len(dangerous), [_id(c) for c in dangerous if c not in caught]
    assert len(passed) >= 0.9 * len(safe), [_id(c) for c in safe if c not in passed]
    assert set(KNOWN_REFUSED) == {_id(c) for c in safe if c not in passed}, "KNOWN_REFUSED must list exactly the refused safe rows"
