"""Per-policy rules: each check takes one allow policy (a ``PolicyView``) and returns findings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import wire
from ..policy import WILDCARDS, Policy, match, parse_claim_path
from .catalog import RULES, Finding, graded_severity
from .claims import claim_problem
from .document_rules import covers
from .patterns import WIDE, exact_id, is_exact, opens, unanchored, wide
from .profiles import IssuerProfile
from .subjects import K8S_PREFIX, Subject, circleci_context_part, parse_subject


@dataclass(frozen=True)
class PolicyView:
    """One allow policy with what the checks need to know about it."""

    index: int
    policy: Policy
    profile: IssuerProfile | None
    issuer_url: str | None
    organization: str | None
    document: tuple[Policy, ...] = ()
    """The whole ordered document, for rules that depend on what comes before this policy."""

    def rule(self, claim: str) -> str | None:
        """The pattern of the rule on ``claim`` (paths compared after unquoting), or None."""
        wanted = parse_claim_path(claim)
        for path, pattern in self.policy.rules.items():
            if parse_claim_path(path) == wanted:
                return pattern
        return None

    def pinned(self, claim: str) -> bool:
        pattern = self.rule(claim)
        return pattern is not None and is_exact(pattern)

    @property
    def subject(self) -> Subject | None:
        sub = self.rule("sub")
        return parse_subject(sub) if sub is not None else None

    @property
    def who(self) -> str:
        """'policy 2 (allow team token for platform)': how a finding names the policy."""
        p = self.policy
        name = f" for {p.name_pattern!r}" if p.name_pattern else ""
        admin = " with admin" if "admin" in p.authorized_permissions else ""
        return f"policy {self.index} (allow {p.token_type} token{name}{admin})"

    def finding(self, rule_id: str, claim: str | None, message: str, fix: str, severity: str | None = None) -> Finding:
        return Finding(rule_id, severity or RULES[rule_id].severity, message, fix, self.index, claim)


TOKEN_CLAIMS = (("iat",), ("exp",), ("nbf",), ("jti",))
"""Claims about the token, not the workload: when it was minted, its lifetime and its id. Every
token carries them and they differ per token, so a rule on them tells no workload from another
(``iat: "1*"`` and ``jti: "*-*"`` fit every token)."""
IDENTIFIES_NOTHING = frozenset({("aud",), ("iss",), *TOKEN_CLAIMS})
"""Claim paths whose rules say nothing about which workload presents the token: the audience and
the issuer are the same for every workload of the issuer, and the TOKEN_CLAIMS differ per token.
The one definition used by OIDC001, OIDC007 and OIDC030."""


def _no_workload(v: PolicyView) -> list[Finding]:
    """OIDC001: an allow that names no workload admits every workload of the issuer: its rules
    are all on claims in IDENTIFIES_NOTHING, or the others are ``unanchored`` wildcards (a ``*``
    before any literal, ``*-*``) that any value fits. An issuer whose ``sub`` is opaque stays
    lintable: a rule pinning the tenant's claim (anchored) is enough."""
    others = {c: p for c, p in v.policy.rules.items() if parse_claim_path(c) not in IDENTIFIES_NOTHING}
    if any(not unanchored(p) for p in others.values()):
        return []
    fix = (
        "add a rule that names the workload, e.g. sub: 'repo:OWNER/REPO:ref:refs/heads/main' "
        "or 'system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT' (aud, iss, iat, exp, nbf and jti name none)"
    )
    if not others:
        return [
            v.finding(
                "OIDC001",
                None,
                f"{v.who} has rules only on {', '.join(v.policy.rules)}, which name no workload (audience, "
                "issuer, token times and token id): every workload the issuer serves can mint this token.",
                fix,
            )
        ]
    loose = ", ".join(f"{c} {p!r}" for c, p in others.items())
    rest = [c for c in v.policy.rules if c not in others]
    rest_text = f"its other rules ({', '.join(rest)}) name none" if rest else "it has no other rule"
    return [
        v.finding(
            "OIDC001",
            next(iter(others)),
            f"{v.who} names no workload: {loose} {'has' if len(others) == 1 else 'each have'} a '*' before any "
            f"literal character, so values nobody wrote down fit, and {rest_text}: every workload the issuer serves can mint "
            "this token.",
            fix,
        )
    ]


def _tenant_pinned(v: PolicyView, profile: IssuerProfile) -> bool:
    """The tenant's immutable id is pinned exactly, in a rule or inside sub."""
    if any(v.pinned(claim) for claim in profile.tenant_claims):
        return True
    sub = v.rule("sub")
    if sub is None:
        return False
    if profile.kind == "github" and _CUSTOM_ID_SUB.match(sub):
        return True  # a custom subject template that starts with the owner's or repository's id
    subject = parse_subject(sub)
    if subject is None:
        return False
    if profile.kind == "github":
        # The immutable subject carries the owner's numeric id: pinning it pins the tenant.
        return subject.kind == "github" and subject.tenant_id is not None and exact_id(subject.tenant_id)
    if profile.kind == "gitlab":
        # 'project_id:20:...': the project's immutable id (unique on the instance) pins its group too.
        return subject.kind == "gitlab" and subject.workload_id is not None and exact_id(subject.workload_id)
    if profile.kind == "circleci":
        return subject.kind == "circleci" and subject.workload is not None and is_exact(subject.workload) and is_exact(subject.tenant)
    if profile.kind == "bitbucket":
        # The subject starts with the repository's UUID, which Bitbucket's own claim repositoryUuid repeats.
        return subject.kind == "bitbucket" and subject.tenant != "" and is_exact(subject.tenant)
    return False


_CUSTOM_ID_SUB = re.compile(r"(?:repository_owner_id|repository_id):\d+(?::|$)")


def _named_tenant(v: PolicyView, profile: IssuerProfile) -> bool:
    """The subject names the tenant (owner, top-level group, organization) exactly: no other
    tenant's token can match; only whoever re-registers a deleted or renamed tenant's name can
    (Sub:jugation), which OIDC008 reports as a warning."""
    if profile.kind not in _TENANT_NAME_CLAIMS:
        return False  # per-organization issuers (CircleCI, Bitbucket) are told apart by project or repository
    if any(v.pinned(claim) for claim in _TENANT_NAME_CLAIMS[profile.kind]):
        return True
    subject = v.subject
    return subject is not None and subject.kind == profile.kind and subject.tenant != "" and is_exact(subject.tenant)


# Claims that name the tenant (the owner, the group, the organization) by name.
_TENANT_NAME_CLAIMS = {
    "github": ("repository", "repository_owner"),
    "gitlab": ("project_path", "namespace_path"),
    "terraform": ("terraform_organization_name",),
}


def _shared_issuer_tenant(v: PolicyView) -> list[Finding]:
    """OIDC002: on a shared issuer, an allow must pin the tenant, by immutable id or by an exact
    tenant name in sub (the name-reuse risk of the latter is OIDC008's)."""
    profile = v.profile
    if profile is None or not profile.shared or _tenant_pinned(v, profile) or _named_tenant(v, profile):
        return []
    claims = " or ".join(profile.tenant_claims)
    loose = [c for c in profile.tenant_claims if v.rule(c) is not None]
    what = (
        f"pins {', '.join(f'{c}={v.rule(c)!r}' for c in loose)} with a wildcard"
        if loose
        else f"does not pin {claims}"
    )
    typos = [
        f"its rule {c!r} is no claim of this issuer (did you mean {problem.suggestion!r}?)"
        for c in v.policy.rules
        for problem in [claim_problem(profile.kind, c)]
        if problem is not None and problem.suggestion in profile.tenant_claims
    ]
    if typos:
        what += " (" + "; ".join(typos) + ")"
    return [
        v.finding(
            "OIDC002",
            profile.tenant_claims[0],
            f"{v.who} trusts {v.issuer_url} ({profile.title}) but {what}: "
            "a token from any other tenant of this issuer can match.",
            profile.tenant_fix + " (no '*', '?' or '.')",
        )
    ]


def _open_tenant(v: PolicyView, subject: Subject) -> bool:
    """The tenant part of a subject admits tenants its author did not name. A '.' counts
    wherever names cannot contain one (GitHub owners, HCP Terraform organizations, UUIDs); a
    GitLab group path may, so there it counts only without namespace_id pinned."""
    parts = [subject.tenant] + ([subject.tenant_id] if subject.tenant_id is not None else [])
    if any(opens(p) for p in parts):
        return True
    if any("." in p for p in parts):
        return not (subject.kind == "gitlab" and v.pinned("namespace_id"))
    return False


def _tenant_wildcard(v: PolicyView) -> list[Finding]:
    """OIDC003: a wildcard in the owner/group/namespace part lets strangers match."""
    out = []
    sub = v.rule("sub")
    if sub is not None:
        subject = parse_subject(sub)
        if subject is None:
            if sub[0] in WILDCARDS:
                out.append(
                    v.finding(
                        "OIDC003",
                        "sub",
                        f"{v.who}: sub {sub!r} starts with a wildcard, so any subject that ends "
                        "the same way matches.",
                        "write the subject from its first character, e.g. 'repo:OWNER/REPO:ref:refs/heads/main'",
                    )
                )
        elif subject.kind == "gitlab" and subject.form == "id" and subject.workload_id is not None and not exact_id(subject.workload_id):
            out.append(
                v.finding(
                    "OIDC003",
                    "sub",
                    f"{v.who}: sub {sub!r} has a wildcard in the project id, so projects of other groups "
                    "whose ids fit match (a wildcard inside an id pins nothing).",
                    "write the project id out: 'project_id:20:ref_type:branch:ref:main'",
                )
            )
        elif subject.kind in _EXAMPLE_SUB and _open_tenant(v, subject):
            word = _TENANT_WORD[subject.kind]
            out.append(
                v.finding(
                    "OIDC003",
                    "sub",
                    f"{v.who}: sub {sub!r} has a wildcard in the {word} ('*', '?', or '.', which is "
                    f"Pulumi's one-character wildcard), so {word}s you do not control match.",
                    f"write the {word} out: {_EXAMPLE_SUB[subject.kind]}",
                )
            )
    # Name claims that carry the tenant: 'repository' = OWNER/REPO, 'project_path' = GROUP/PROJECT.
    for claim, word in (("repository", "owner"), ("project_path", "group"), ("repository_owner", "owner"), ("namespace_path", "group")):
        pattern = v.rule(claim)
        if pattern is None:
            continue
        tenant = pattern.split("/", 1)[0]
        if opens(tenant) or (word == "owner" and "." in tenant):
            out.append(
                v.finding(
                    "OIDC003",
                    claim,
                    f"{v.who}: {claim} {pattern!r} has a wildcard in the {word}, so {word}s you do not control match.",
                    f"write the {word} out (and pin its numeric id: repository_owner_id / namespace_id)",
                )
            )
    return out


_TENANT_WORD = {
    "github": "owner",
    "gitlab": "group",
    "circleci": "organization",
    "kubernetes": "namespace",
    "terraform": "organization",
    "bitbucket": "repository UUID",
}
_EXAMPLE_SUB = {
    "github": "'repo:OWNER/REPO:ref:refs/heads/main'",
    "gitlab": "'project_path:GROUP/PROJECT:ref_type:branch:ref:main'",
    "circleci": "'org/ORG_ID/project/PROJECT_ID/user/*'",
    "terraform": "'organization:ORG:project:PROJECT:workspace:WORKSPACE:run_phase:apply'",
    "bitbucket": "'{REPOSITORY_UUID}{ENVIRONMENT_UUID}:*'",
}
_WORKLOAD_WORD = {"github": "repository", "gitlab": "project", "circleci": "project", "terraform": "workspace"}

# Per platform: the claim that pins the tenant, and the claims that name one workload in it.
_TENANT_ONLY = {
    "github": ("repository_owner_id", ("repository_id", "repository", "workflow_ref")),
    "gitlab": ("namespace_id", ("project_id", "project_path")),
    "terraform": (
        "terraform_organization_id",
        ("terraform_workspace_id", "terraform_workspace_name", "terraform_full_workspace"),
    ),
}


def _org_wide(v: PolicyView) -> list[Finding]:
    """OIDC004: trust for every (future) repository, project or workspace of a tenant: a
    wildcard in the workload part of sub, or the tenant pinned by claims and no workload named."""
    out = []
    sub = v.rule("sub")
    subject = parse_subject(sub) if sub is not None else None
    if subject and subject.kind in _WORKLOAD_WORD and not opens(subject.tenant):
        workload = subject.workload
        if workload is None and subject.swallows_rest:
            workload = "*"
        project = subject.project if subject.kind == "terraform" else None
        open_workload = workload is not None and (opens(workload) or (subject.workload_id is not None and opens(subject.workload_id)))
        if open_workload or (project is not None and opens(project)):
            thing = _WORKLOAD_WORD[subject.kind]
            fits = workload if open_workload else f"project {project!r}"
            out.append(
                v.finding(
                    "OIDC004",
                    "sub",
                    f"{v.who}: sub {sub!r} matches every {thing} of {subject.tenant!r} that fits "
                    f"{fits!r}, including ones created later.",
                    f"name the {thing}: {_EXAMPLE_SUB[subject.kind]} (one policy per {thing})",
                )
            )
    for claim in ("repository", "project_path"):
        pattern = v.rule(claim)
        if pattern is None or "/" not in pattern:
            continue
        tenant, workload = pattern.split("/", 1)
        if not opens(tenant) and opens(workload):
            out.append(
                v.finding(
                    "OIDC004",
                    claim,
                    f"{v.who}: {claim} {pattern!r} matches every repository or project of {tenant!r} "
                    "whose name fits, including ones created later.",
                    f"name it exactly, e.g. {claim}: '{tenant}/NAME' (and pin its numeric id)",
                )
            )
    platform = _platform(v)
    if platform in _TENANT_ONLY and not out:
        tenant_claim, workload_claims = _TENANT_ONLY[platform]
        names_workload = (
            any(v.rule(c) is not None for c in workload_claims)
            or (subject is not None and subject.kind == platform and subject.names_workload)
            or (sub is not None and platform == "github" and re.search(r"(?:^|:)repository_id:\d+(?::|$)", sub) is not None)
        )
        if v.pinned(tenant_claim) and not names_workload:
            thing = _WORKLOAD_WORD[platform]
            out.append(
                v.finding(
                    "OIDC004",
                    tenant_claim,
                    f"{v.who} pins only the tenant ({tenant_claim} {v.rule(tenant_claim)!r}) and no {thing}: "
                    f"every {thing} of it matches, including ones any member creates later.",
                    f"name the {thing} too: {_EXAMPLE_SUB[platform]}, or pin its id "
                    f"({workload_claims[0]})",
                )
            )
    return out


_REF_PREFIXES = ("refs/heads/", "refs/tags/", "refs/")
# Branch or tag names whoever can push chooses: a pattern that admits one admits any branch.
_CHOSEN_NAMES = ("x", "evil", "zzzz", "main-evil", "mainx", "tmp/evil")
_SCOPES = ("exact", "lookalike", "family", "any")
"""How much a ref pattern admits, narrowest first: one ref; look-alikes of one ref ('.' or '?'
inside the name); a named family ('release/*'); any ref whoever pushes can create."""


def _ref_scope(ref: str) -> str:
    """The scope of a ref pattern (``refs/heads/main`` or GitLab's bare ``main``)."""
    name = ref
    for prefix in _REF_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if is_exact(name):
        return "exact"
    if name[:1] in WILDCARDS or any(match(name, chosen) for chosen in _CHOSEN_NAMES):
        return "any"
    return "family" if "*" in name else "lookalike"


_CONTEXT_PROBES = {
    "github": ("ref:refs/heads/{}", "ref:refs/tags/{}", "environment:{}"),
    "gitlab": ("ref_type:branch:ref:{}", "ref_type:tag:ref:{}"),
}


def _context_scope(context: str, platform: str) -> str:
    """The scope of a GitHub or GitLab subject's context (everything after the repository)."""
    if is_exact(context):
        return "exact"
    if any(match(context, probe.format(chosen)) for probe in _CONTEXT_PROBES[platform] for chosen in _CHOSEN_NAMES):
        return "any"
    ref = re.fullmatch(r"(?:ref_type:[a-z]+:)?ref:(.*)", context)
    if ref is not None:
        return _ref_scope(ref.group(1))
    return "lookalike"


def _pins_environment_or_branch(sub: str) -> bool:
    """A (custom) subject that names an environment or a branch literally: 'environment:prod',
    '...:ref:refs/heads/main'. Pull-request jobs carry neither."""
    for key in ("environment:", "ref:"):
        for m in re.finditer(rf"(?:^|:){key}", sub):
            rest = sub[m.end() :]
            if rest and rest[0] not in WILDCARDS and not (key == "ref:" and _ref_scope(rest) == "any"):
                return True
    return False


def _narrowest(*scopes: str) -> str:
    """Rules are ANDed, so the narrowest scope is the policy's."""
    return min(scopes, key=_SCOPES.index)


def _branch_scope(v: PolicyView, platform: str) -> tuple[str, str | None]:
    """(scope, claim): which branches or tags a policy admits, and the claim that says so."""
    sub = v.rule("sub")
    subject = v.subject
    if platform in ("github", "gitlab"):
        if subject is not None and subject.kind == platform:
            context = subject.effective_context
            scope = "exact" if context is None or context == "pull_request" else _context_scope(context, platform)
        elif sub is not None:
            scope = "exact" if _pins_environment_or_branch(sub) else "any"
        else:
            scope = "any"
        claim = "sub" if sub is not None else None
        ref = v.rule("ref")
        if ref is not None and _SCOPES.index(_ref_scope(ref)) < _SCOPES.index(scope):
            scope, claim = _ref_scope(ref), "ref"
        return scope, claim
    if platform == "bitbucket":
        if (subject is not None and subject.kind == "bitbucket" and subject.workload is not None and is_exact(subject.workload)) or v.pinned("deploymentEnvironmentUuid"):
            return "exact", "sub"
        branch = v.rule("branchName")
        return (_ref_scope(branch), "branchName") if branch is not None else ("any", "sub")
    if platform == "circleci":
        if v.pinned(_CIRCLECI_CONTEXTS):
            return "exact", _CIRCLECI_CONTEXTS
        ref = v.rule(_CIRCLECI_VCS_REF)
        scope, claim = (_ref_scope(ref), _CIRCLECI_VCS_REF) if ref is not None else ("any", "sub")
        # $CIRCLE_OIDC_TOKEN_V2's subject ends in '/vcs-ref/REF' (subjects.GRAMMARS).
        in_sub = circleci_context_part(subject.context, "vcs-ref") if subject is not None and subject.kind == "circleci" else None
        if in_sub is not None and _SCOPES.index(_ref_scope(in_sub)) < _SCOPES.index(scope):
            scope, claim = _ref_scope(in_sub), "sub"
        return scope, claim
    return "exact", None


_CIRCLECI_VCS_REF = '"oidc.circleci.com/vcs-ref"'
_CIRCLECI_CONTEXTS = '"oidc.circleci.com/context-ids"'
_CIRCLECI_SSH_RERUN = '"oidc.circleci.com/ssh-rerun"'


def _protected_by_platform(v: PolicyView, platform: str) -> str | None:
    """A claim the platform sets only for protected refs or environments, pinned: which one."""
    if platform == "gitlab":
        for claim in ("ref_protected", "environment_protected"):
            if v.rule(claim) == "true":
                return claim
    if platform == "github" and v.rule("environment") is not None and not opens(v.rule("environment") or ""):
        return "environment"
    return None


_BRANCH_FIX = {
    "github": "name the ref or environment: '...:ref:refs/heads/main' or '...:environment:production', "
    "or add rule environment: 'production' (a protected environment)",
    "gitlab": "name the branch ('...:ref_type:branch:ref:main') or add ref_protected: 'true' "
    "(or environment_protected: 'true')",
    "bitbucket": "pin the deployment environment ('{REPOSITORY_UUID}{ENVIRONMENT_UUID}:*') or "
    "branchName: 'main'",
    "circleci": "add '\"oidc.circleci.com/vcs-ref\"': 'refs/heads/main', or pin a restricted context "
    "('\"oidc.circleci.com/context-ids\"': 'CONTEXT_ID')",
}


_ID_CLAIM = {
    "github": "repository_id", "gitlab": "project_id", "circleci": '"oidc.circleci.com/project-id"',
    "bitbucket": "repositoryUuid", "terraform": "terraform_workspace_id",
}
_CUSTOM_REPOSITORY_ID = re.compile(r"(?:^|:)repository_id:(\d+)(?::|$)")


def workload_id_pin(v: PolicyView, platform: str | None) -> str | None:
    """How the policy pins one repository, project or account by its immutable id ("repository id
    77 (sub)"), or None. With such a pin only that workload's writers produce a matching token:
    ``catalog.graded_severity``'s "writers"."""
    subject = v.subject
    claim = _ID_CLAIM.get(platform or "")
    if claim is not None and v.pinned(claim) and v.rule(claim):
        return f"{claim} {v.rule(claim)!r}"
    if subject is not None and subject.kind == platform:
        if platform in ("github", "gitlab") and subject.workload_id is not None and exact_id(subject.workload_id):
            return f"{'repository' if platform == 'github' else 'project'} id {subject.workload_id} in sub"
        if platform == "circleci" and subject.workload and is_exact(subject.workload) and subject.tenant and is_exact(subject.tenant):
            return f"project {subject.workload} in sub"
        if platform == "bitbucket" and subject.tenant and is_exact(subject.tenant):
            return f"repository {{{subject.tenant}}} in sub"
    if platform == "github":
        m = _CUSTOM_REPOSITORY_ID.search(v.rule("sub") or "")
        if m is not None:
            return f"repository id {m.group(1)} in sub"
    if platform == "kubernetes" and v.pinned(_K8S_ACCOUNT_UID):
        return f"service account uid {v.rule(_K8S_ACCOUNT_UID)!r}"
    return None


def escalation(v: PolicyView) -> str | None:
    """A known escalation (``catalog.SEVERITY_PRINCIPLE``): the policy grants organization admin,
    or, on GitHub, it leaves the context to the ``ref`` claim (no sub, or a custom subject) and
    admits ``pull_request_target``, whose jobs run for any fork's pull request with the base
    branch's ``ref`` (GitHub docs, GITHUB_TOKEN reference; the ``sub`` they carry is UNCONFIRMED,
    see docs/cli.md)."""
    if v.policy.token_type == "organization" and "admin" in v.policy.authorized_permissions:
        return "it grants organization admin"
    subject = v.subject
    if _platform(v) == "github" and (subject is None or subject.kind != "github") and _admits(v, "event_name", "pull_request_target"):
        return "pull_request_target jobs, which run for any fork's pull request, carry the base branch's ref (pin event_name: 'push')"
    return None


def _any_branch(v: PolicyView) -> list[Finding]:
    """OIDC005: any branch or tag (hence unprotected, unreviewed pushes) can mint the token,
    unless a claim the platform protects guards it (GitLab ref_protected / environment_protected,
    a GitHub environment). Where the subject can name the ref (GitHub, GitLab) the severity
    follows who can mint (``catalog.graded_severity``): an error, unless the repository or project
    is pinned by its immutable id and no escalation applies (then only its writers can mint: a
    warning naming that risk). A warning for a named family ('release/*') and where the subject
    cannot name the ref (Bitbucket, CircleCI)."""
    platform = _platform(v)
    if platform not in _BRANCH_FIX:
        return []
    scope, claim = _branch_scope(v, platform)
    if scope not in ("any", "family") or _protected_by_platform(v, platform):
        return []
    pattern = v.rule(claim) if claim else None
    where = f"{claim} {pattern!r} admits" if pattern is not None else "names no branch, tag or environment, so it admits"
    token = f"{_a(v.policy.token_type)} token"
    pin = workload_id_pin(v, platform)
    if scope == "family":
        severity = "warning"
        message = (
            f"{v.who}: {where} every branch or tag of that family: whoever can create one "
            f"can mint {token}, unless a ruleset or protected-branch pattern covers the family."
        )
    elif platform in ("github", "gitlab"):
        severity = graded_severity("writers" if pin else "outsiders", escalation(v))
        message = f"{v.who}: {where} any branch, tag or event context: a push to any unprotected branch can mint {token}"
        if severity == "warning":
            message += (
                f". Only people who can push to the one {'repository' if platform == 'github' else 'project'} "
                f"pinned by {pin} can; the residual risk is an unreviewed branch of theirs."
            )
        elif pin and escalation(v):
            message += f"; {escalation(v)}."
        else:
            thing = "repository" if platform == "github" else "project"
            message += (
                f"; nothing pins the {thing} by its immutable id, so the writers of whichever {thing} "
                f"matches (or takes its name) can (with {_ID_CLAIM[platform]} pinned this is a warning)."
            )
    else:
        severity = "warning"
        message = f"{v.who}: {where} any branch, tag or event context: a push to any unprotected branch can mint {token}."
        if platform == "circleci":
            message += (
                " Builds of forked pull requests mint too if the project passes secrets to them (off by default): "
                "pin '\"oidc.circleci.com/vcs-origin\"' to your repository to keep them out."
            )
    return [
        v.finding(
            "OIDC005",
            claim,
            message,
            _BRANCH_FIX[platform],
            severity,
        )
    ]


_GITHUB_CLAIMS = frozenset({"repository_id", "repository_owner_id", "repository", "repository_owner", "job_workflow_ref", "event_name"})
_GITLAB_CLAIMS = frozenset({"namespace_id", "namespace_path", "project_id", "project_path", "pipeline_source", "ref_protected"})
_TERRAFORM_CLAIMS = frozenset({"terraform_organization_id", "terraform_workspace_id", "terraform_run_phase", "terraform_workspace_name"})
_BITBUCKET_CLAIMS = frozenset({"repositoryUuid", "workspaceUuid", "deploymentEnvironmentUuid", "branchName", "stepUuid"})


def _platform(v: PolicyView) -> str | None:
    """Which platform the policy is written for: its issuer, its subject or its claims."""
    if v.profile is not None and v.profile.kind in ("github", "gitlab", "terraform", "bitbucket", "circleci", "kubernetes"):
        return v.profile.kind
    subject = v.subject
    if subject is not None:
        return subject.kind
    claims = {parse_claim_path(p)[0] for p in v.policy.rules}
    for platform, known in (("github", _GITHUB_CLAIMS), ("gitlab", _GITLAB_CLAIMS), ("terraform", _TERRAFORM_CLAIMS), ("bitbucket", _BITBUCKET_CLAIMS)):
        if claims & known:
            return platform
    if any(c.startswith("oidc.circleci.com/") for c in claims):
        return "circleci"
    return None


def _admits(v: PolicyView, claim: str, value: str) -> bool:
    """The policy's rule on ``claim`` (if any) lets ``value`` through."""
    pattern = v.rule(claim)
    return pattern is None or match(pattern, value)


def _pull_requests(v: PolicyView) -> list[Finding]:
    """OIDC006: pull-request (GitHub) / merge-request (GitLab) pipelines run unreviewed code."""
    platform = _platform(v)
    subject = v.subject
    if platform == "github":
        if subject is not None and subject.kind == "github":
            context = subject.effective_context
            sub_admits = context is not None and match(context, "pull_request")
        else:
            # No sub, or a custom subject template: only a literal environment or branch in it
            # keeps pull-request jobs out (as in the classic form).
            sub = v.rule("sub")
            sub_admits = sub is None or not _pins_environment_or_branch(sub)
        admitted = (
            sub_admits
            and (_admits(v, "event_name", "pull_request") or _admits(v, "event_name", "pull_request_target"))
            and _admits(v, "ref", "refs/pull/1/merge")
            and _protected_by_platform(v, platform) is None
        )
        what = "pull_request workflows (code from any branch, before review)"
        fix = "pin the ref or environment in sub ('repo:OWNER/REPO:ref:refs/heads/main'), or add event_name: 'push'"
    elif platform == "gitlab":
        ref_any = _branch_scope(v, platform)[0] == "any"
        admitted = (
            ref_any
            and _admits(v, "ref_protected", "false")
            and _admits(v, "environment_protected", "false")
            and _admits(v, "pipeline_source", "merge_request_event")
        )
        what = "merge-request pipelines (unprotected branches, before review)"
        fix = "pin the branch in sub ('...:ref_type:branch:ref:main') or add ref_protected: 'true'"
    else:
        return []
    if not admitted:
        return []
    claim = "sub" if v.rule("sub") is not None else None
    return [
        v.finding(
            "OIDC006",
            claim,
            f"{v.who} admits {what}: they can mint {_a(v.policy.token_type)} token.",
            fix,
        )
    ]


# Claims whose value the author of a workflow or pipeline chooses (Unit 42, checkov).
_USER_CONTROLLED = frozenset(
    {
        "workflow", "environment", "ref", "ref_type", "context", "head_ref", "base_ref", "actor",
        "event_name", "environment_protected", "ref_protected", "pipeline_source", "user_login",
        "user_email", "user_id", "runner_environment",
    }
)
_ANCHORS = (
    "repository_id", "repository_owner_id", "namespace_id", "project_id", "terraform_organization_id",
    "terraform_workspace_id", "organization_id", "repositoryUuid", '"oidc.circleci.com/project-id"',
)


def _anchored(v: PolicyView) -> bool:
    """An immutable workload or tenant id is pinned exactly (in a rule or inside sub)."""
    if any(v.pinned(claim) for claim in _ANCHORS):
        return True
    sub = v.rule("sub") or ""
    return re.search(r"(?:^|:)(?:repository_owner_id|repository_id|namespace_id|project_id):\d+(?::|$)", sub) is not None


def _user_controlled(v: PolicyView) -> list[Finding]:
    """OIDC007: identity built only from claims the workflow author chooses."""
    if _anchored(v):
        return []
    sub = v.rule("sub")
    if sub is not None:
        subject = parse_subject(sub)
        first_key = sub.split(":", 1)[0]
        if subject is None and ":" in sub and first_key in _USER_CONTROLLED:
            return [
                v.finding(
                    "OIDC007",
                    "sub",
                    f"{v.who}: sub {sub!r} starts with {first_key!r}, a value any workflow author chooses "
                    "(custom subject template), and nothing immutable is pinned: any repository can produce it.",
                    "start the subject with the repository (include_claim_keys ['repository_owner_id', "
                    "'repository_id', ...]) or add rule repository_id: '<numeric id>'",
                )
            ]
        return []
    identifying = [p for p in v.policy.rules if parse_claim_path(p) not in IDENTIFIES_NOTHING]
    controlled = [p for p in identifying if parse_claim_path(p)[0] in _USER_CONTROLLED]
    if identifying and len(controlled) == len(identifying):
        return [
            v.finding(
                "OIDC007",
                controlled[0],
                f"{v.who} identifies the workload only by {', '.join(controlled)}: values any workflow "
                "author chooses, with nothing immutable pinned.",
                "add an immutable anchor: repository_id / repository_owner_id (GitHub), project_id / "
                "namespace_id (GitLab), or pin sub",
            )
        ]
    return []


def _name_only(v: PolicyView) -> list[Finding]:
    """OIDC008: on a shared issuer, a repository named but not pinned by id can be recycled."""
    profile = v.profile
    if profile is None or not profile.shared or not profile.id_claims:
        return []
    if any(v.pinned(claim) for claim in profile.id_claims):
        return []
    subject = v.subject
    named = [c for c in profile.name_claims if v.rule(c) is not None]
    if subject is not None and subject.kind == profile.kind and subject.workload and not wide(subject.workload):
        if subject.workload_id is not None and exact_id(subject.workload_id):
            return []  # immutable subject with the repository's id
        named.insert(0, "sub")
    if profile.kind == "terraform" and v.rule("sub") is not None:
        named.insert(0, "sub")
    if not named:
        return []
    id_claim = profile.id_claims[0]
    owner = "" if _tenant_pinned(v, profile) else " (and the owner, organization or group too: no tenant id is pinned)"
    return [
        v.finding(
            "OIDC008",
            named[0],
            f"{v.who} names the repository/project by {named[0]} only{owner}: if it is renamed or "
            "deleted, whoever takes the name inherits this trust.",
            f"add rule {id_claim}: '<numeric id>'"
            + (f" and {profile.tenant_claims[0]}" if owner else "")
            + (" or use the immutable subject repo:OWNER@ID/REPO@ID:..." if profile.kind == "github" else ""),
        )
    ]


# Audiences of other relying parties (peers.md §2.1 "audience confusion").
_FOREIGN_AUDIENCES = frozenset(
    {
        "sts.amazonaws.com",
        "api://AzureADTokenExchange",
        "sigstore",
        "https://kubernetes.default.svc",
        "https://kubernetes.default.svc.cluster.local",
        "kubernetes.default.svc",
    }
)
_FOREIGN_AUDIENCE_PREFIXES = ("https://github.com/", "//iam.googleapis.com/", "https://iam.googleapis.com/", "https://sts.googleapis.com/")
_AUD_FIX = "pin aud to this organization's audience: 'urn:pulumi:org:ORG' (and request tokens with that audience)"


def _audience(v: PolicyView) -> list[Finding]:
    """OIDC010 (aud missing, wildcarded, foreign) and OIDC011 (not this organization's)."""
    aud = v.rule("aud")
    fix = _AUD_FIX.replace("ORG", v.organization) if v.organization else _AUD_FIX
    if aud is None:
        return [
            v.finding(
                "OIDC010",
                "aud",
                f"{v.who} has no aud rule: a token minted for another service (AWS, Vault, ...) is accepted here.",
                fix,
            )
        ]
    if wide(aud):
        return [v.finding("OIDC010", "aud", f"{v.who}: aud {aud!r} has a wildcard: tokens for other audiences match.", fix)]
    issuer = (v.issuer_url or "").rstrip("/")
    if aud in _FOREIGN_AUDIENCES or aud.startswith(_FOREIGN_AUDIENCE_PREFIXES) or (issuer and aud.rstrip("/") == issuer):
        return [
            v.finding(
                "OIDC010",
                "aud",
                f"{v.who}: aud {aud!r} is another relying party's audience (or the platform default): "
                "a token meant for that service can be replayed to Pulumi Cloud.",
                fix,
            )
        ]
    expected = wire.audience_for(v.organization) if v.organization else None
    named = wire.organization_from_audience(aud)
    if expected and named is not None and aud != expected:
        # A token for this organization's exchange carries its own urn:pulumi:org:ORG: a policy
        # pinned to another organization's audience never admits it (issue 26).
        return [
            v.finding(
                "OIDC011",
                "aud",
                f"{v.who}: aud {aud!r} names the organization {named!r}, not {v.organization!r}: this policy never "
                f"admits a token exchanged for organization {v.organization!r}, whose audience is {expected!r}.",
                fix,
                "error",
            )
        ]
    if (expected and aud != expected) or (not expected and named is None):
        wanted = repr(expected) if expected else "'urn:pulumi:org:ORG'"
        return [
            v.finding(
                "OIDC011",
                "aud",
                f"{v.who}: aud {aud!r} is not {wanted}: a token minted for one organization "
                "(or service) can be used with another.",
                fix,
            )
        ]
    return []


def _footguns(v: PolicyView) -> list[Finding]:
    """OIDC012: Pulumi's '.', '?' and '*' do not mean what they look like."""
    out = []
    for claim, pattern in v.policy.rules.items():
        for problem, fix in _pattern_footguns(pattern):
            out.append(v.finding("OIDC012", claim, f"{v.who}: {claim} {pattern!r}: {problem}", fix))
    return out


def _pattern_footguns(pattern: str) -> list[tuple[str, str]]:
    """(problem, fix) for each footgun in one pattern."""
    out = []
    dots = [i for i, c in enumerate(pattern) if c == "."]
    if dots:
        i = dots[0]
        example = pattern[:i] + "X" + pattern[i + 1 :]
        out.append(
            (
                f"'.' is Pulumi's one-character wildcard, so this also matches {example!r}.",
                "Pulumi has no escape for '.': pin an immutable id as well (repository_id, project_id, ...) "
                "so a look-alike name cannot match, then waive OIDC012 with that reason",
            )
        )
    if "?" in pattern:
        i = pattern.index("?")
        example = pattern[:i] + pattern[i + 1 :]
        out.append(
            (
                f"'?' matches zero or one character (not exactly one), so this also matches {example!r}.",
                "write the value out (one policy per value if there are several); '.' is no fix, "
                "it is Pulumi's one-character wildcard",
            )
        )
    m = re.search(r"[/:@]\*[/:@]", pattern)  # '*' standing for one '/', ':' or '@' separated segment
    if m:
        out.append(
            (
                f"'*' in {m.group()!r} also matches '/', ':' and '@', so it can span several segments.",
                "write the segment out; '*' is only safe at the end after a delimiter ('release/*')",
            )
        )
    if re.search(r"[A-Za-z0-9_-]\*$", pattern):
        stem = pattern[:-1]
        out.append(
            (
                f"a trailing '*' right after a name is a prefix match, so it also matches {stem + '-evil'!r}.",
                "end the prefix at a delimiter ('refs/heads/release/*') or write the whole value",
            )
        )
    return out


def _a(token_type: str) -> str:
    """'an organization', 'a team': the article for a token type in messages."""
    return ("an " if token_type[0] in "aeiou" else "a ") + token_type


def _circleci_project_on_one_branch(v: PolicyView, sub: str) -> bool:
    """CircleCI subjects end in the triggering user, so 'org/O/project/P/user/*' is how one
    project is named; with the branch pinned exactly it is one workload on one branch."""
    subject = parse_subject(sub)
    return (
        subject is not None
        and subject.kind == "circleci"
        and is_exact(subject.tenant)
        and subject.workload is not None
        and is_exact(subject.workload)
        and subject.context == "user/*"
        and v.pinned('"oidc.circleci.com/vcs-ref"')
    )


def _org_admin(v: PolicyView) -> list[Finding]:
    """OIDC015: an organization admin token for anything but one exact subject."""
    p = v.policy
    if p.token_type != "organization" or "admin" not in p.authorized_permissions:
        return []
    sub = v.rule("sub")
    if sub is not None and (is_exact(sub) or _circleci_project_on_one_branch(v, sub)):
        return []
    if v.pinned("terraform_workspace_id") and v.rule("terraform_run_phase") == "apply":
        return []  # one workspace's apply phase, by immutable id: as narrow as an exact sub
    what = f"sub {sub!r} is not exact" if sub is not None else "it does not pin sub"
    return [
        v.finding(
            "OIDC015",
            "sub",
            f"{v.who} grants organization admin but {what}: every workload it matches is an admin.",
            "pin sub exactly (no '*', '?' or '.'), e.g. 'repo:OWNER/REPO:environment:production' (CircleCI: "
            "'org/O/project/P/user/*' with '\"oidc.circleci.com/vcs-ref\"': 'refs/heads/main'; HCP Terraform: "
            "terraform_workspace_id 'ws-...' with terraform_run_phase 'apply'), or grant a team token or a "
            "custom role instead of admin",
        )
    ]


_VOLATILE = (
    *TOKEN_CLAIMS, ("run_id",), ("run_number",), ("run_attempt",),
    ("pipeline_id",), ("job_id",), ("stepUuid",), ("pipelineUuid",),
    ("kubernetes.io", "pod", "uid"), ("kubernetes.io", "pod", "name"),
)


def _volatile(v: PolicyView) -> list[Finding]:
    """OIDC023: a claim that changes every run, pinned exactly, matches one run only."""
    out = []
    for claim, pattern in v.policy.rules.items():
        if parse_claim_path(claim) in _VOLATILE and is_exact(pattern):
            out.append(
                v.finding(
                    "OIDC023",
                    claim,
                    f"{v.who}: {claim} {pattern!r} changes with every run or pod, so this policy matches once at most.",
                    f"remove the {claim} rule and pin a stable identity (sub, repository_id, service account)",
                )
            )
    return out


def _kubernetes(v: PolicyView) -> list[Finding]:
    """OIDC024: a Kubernetes subject should name one namespace and one service account."""
    sub = v.rule("sub")
    subject = parse_subject(sub) if sub is not None else None
    fix = "pin one service account: sub 'system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT' (a dedicated one, not 'default')"
    if sub is not None and subject is None:
        wide_at = min((sub.index(c) for c in WIDE if c in sub), default=-1)
        if wide_at > 0 and K8S_PREFIX.startswith(sub[:wide_at]):
            # 'system:*' reaches every service account of every namespace.
            return [
                v.finding("OIDC024", "sub", f"{v.who}: sub {sub!r} is cluster-wide: it matches every namespace's service accounts.", fix, "error")
            ]
    if subject is None or subject.kind != "kubernetes":
        if v.profile is not None and v.profile.kind == "kubernetes" and sub is None:
            return _kubernetes_claims(v, fix)
        return []
    if not is_exact(subject.tenant):
        # Namespace names are DNS labels (no '.'), so any wildcard there, '.' included, reaches
        # namespaces the author did not name: cluster-wide trust, an error.
        return [
            v.finding(
                "OIDC024",
                "sub",
                f"{v.who}: sub {sub!r} is cluster-wide: the namespace part {subject.tenant!r} has a wildcard, "
                "so a service account of that name in any (new) namespace matches.",
                fix,
                "error",
            )
        ]
    if subject.workload is None or wide(subject.workload):
        problem = f"the service-account part {subject.workload or '*'!r} has a wildcard: any service account in {subject.tenant!r} matches"
    elif subject.workload == "default":
        problem = f"it trusts the 'default' service account: every pod in {subject.tenant!r} without its own account runs as it"
    else:
        return []
    return [v.finding("OIDC024", "sub", f"{v.who}: sub {sub!r}: {problem}.", fix)]


_K8S_NAMESPACE = '"kubernetes.io".namespace'
_K8S_ACCOUNT = '"kubernetes.io".serviceaccount.name'
_K8S_ACCOUNT_UID = '"kubernetes.io".serviceaccount.uid'


def _kubernetes_claims(v: PolicyView, fix: str) -> list[Finding]:
    """OIDC024 for an allow on a Kubernetes issuer that names the workload by the token's
    kubernetes.io claims instead of sub: the same verdicts as for the subject. No namespace
    pinned exactly is cluster-wide (an error, as ``system:serviceaccount:*:NAME`` is); a
    service account left open or 'default' is a warning. An exact service-account uid pins one
    account of one namespace."""
    if v.pinned(_K8S_ACCOUNT_UID):
        return []
    namespace, account = v.rule(_K8S_NAMESPACE), v.rule(_K8S_ACCOUNT)
    if namespace is None or not is_exact(namespace):
        what = "pins no namespace" if namespace is None else f"leaves the namespace open ({_K8S_NAMESPACE} {namespace!r})"
        return [
            v.finding(
                "OIDC024",
                _K8S_NAMESPACE if namespace is not None else None,
                f"{v.who} trusts a Kubernetes cluster but {what}: it is cluster-wide, a service account "
                f"{'of that name ' if account is not None and is_exact(account) else ''}in any (new) namespace matches.",
                fix,
                "error",
            )
        ]
    if account is None or wide(account):
        problem = "does not pin one service account: any pod"
    elif account == "default":
        problem = "trusts the 'default' service account: every pod without its own account"
    else:
        return []
    return [
        v.finding(
            "OIDC024",
            _K8S_ACCOUNT if account is not None else None,
            f"{v.who} trusts Kubernetes namespace {namespace!r} but {problem} in it that can mount a token "
            "with this audience matches.",
            fix,
        )
    ]


def _run_phase(v: PolicyView) -> list[Finding]:
    """OIDC028: an HCP Terraform allow that does not pin the run phase. Plans run for any
    branch's pull request (speculative plans) and need no confirmation, so a plan could get
    what was meant for the apply of the workspace's own branch."""
    if _platform(v) != "terraform":
        return []
    phase = v.rule("terraform_run_phase")
    if phase is not None and is_exact(phase):
        return []
    subject = v.subject
    where = "it does not pin terraform_run_phase"
    if subject is not None and subject.kind == "terraform":
        context = subject.effective_context
        if context is None:
            return []  # the subject stops before run_phase: it matches no token at all
        if context.startswith("run_phase:") and is_exact(context[len("run_phase:") :]):
            return []
        where = f"sub {v.rule('sub')!r} leaves the run phase open"
    return [
        v.finding(
            "OIDC028",
            "sub" if v.rule("sub") is not None else "terraform_run_phase",
            f"{v.who}: {where}, so a plan (speculative plans run for pull requests from any branch) "
            f"can mint the same {v.policy.token_type} token as an apply.",
            "end sub with ':run_phase:apply' (or add terraform_run_phase: 'apply'); give plans their own "
            "policy with a read-only grant",
        )
    ]


def _denies_ssh_reruns(deny: Policy, allow: Policy) -> bool:
    """``deny`` refuses every SSH-rerun token ``allow`` would take: same token, and rules only
    on the ssh-rerun claim (matching true) besides rules on IDENTIFIES_NOTHING claims that cover
    the allow's."""
    if deny.decision != "deny" or deny.token_type != allow.token_type:
        return False
    if deny.name_pattern is not None and not covers(deny.name_pattern, allow.name_pattern or ""):
        return False
    allow_rules = {parse_claim_path(k): p for k, p in allow.rules.items()}
    ssh = False
    for path, pattern in deny.rules.items():
        key = parse_claim_path(path)
        if key == parse_claim_path(_CIRCLECI_SSH_RERUN):
            ssh = match(pattern, "true")
        elif key not in IDENTIFIES_NOTHING or not covers(pattern, allow_rules.get(key, "")):
            return False
    return ssh


def _ssh_rerun(v: PolicyView) -> list[Finding]:
    """OIDC030: a CircleCI allow that admits tokens of SSH reruns: a debug session gives a shell
    in the job, token included, to whoever started it. CircleCI marks them with the claim
    oidc.circleci.com/ssh-rerun. A deny placed first refuses them whatever the service's
    precedence (Pulumi does not document it)."""
    if _platform(v) != "circleci":
        return []
    own = v.rule(_CIRCLECI_SSH_RERUN)
    if own is not None and not match(own, "true"):
        return []
    if any(_denies_ssh_reruns(p, v.policy) for p in v.document[: v.index]):
        return []
    later = [j for j, p in enumerate(v.document) if j > v.index and _denies_ssh_reruns(p, v.policy)]
    where = f"the deny of SSH reruns comes after it (policy {later[0]})" if later else "no deny before it refuses SSH reruns"
    p = v.policy
    name = {"team": "team_name", "personal": "user_login", "runner": "runner_id"}.get(p.token_type)
    scope = f", {name}: {p.name_pattern!r}" if name and p.name_pattern else ""
    aud = v.rule("aud")
    subject = v.subject
    user = circleci_context_part(subject.context, "user") if subject is not None and subject.kind == "circleci" else None
    pinned_user = user if user and is_exact(user) else None
    # The subject's user is "the CircleCI user that caused this job to run" (CircleCI docs, "Using
    # OpenID Connect tokens in jobs"), for an SSH rerun the one who started it: with the user pinned,
    # only that person's reruns match, and they already hold the job's access (issue 27).
    severity = graded_severity("writers" if pinned_user else "outsiders", escalation(v))
    risk = (
        f"the subject pins user {pinned_user}, who alone can mint it and already holds the job's access; "
        "the residual risk is that user's shell holding the token"
        if severity == "warning"
        else "whoever reruns a job with SSH gets a shell holding its token"
    )
    return [
        v.finding(
            "OIDC030",
            _CIRCLECI_SSH_RERUN,
            f"{v.who} admits CircleCI jobs rerun with SSH ({where}): {risk}.",
            f"put this deny first in the list: {{decision: deny, token_type: {p.token_type}{scope}, rules: "
            f"{{aud: {aud!r}, '{_CIRCLECI_SSH_RERUN}': 'true'}}}} (first, it holds whatever the service's "
            f"precedence), or add the rule '{_CIRCLECI_SSH_RERUN}': 'false' to this allow",
            severity,
        )
    ]


def claim_name_findings(policies: tuple[Policy, ...], profile: IssuerProfile | None, issuer_url: str | None, organization: str | None) -> list[Finding]:
    """OIDC042, for every policy (a misspelt claim makes an allow admit nothing and a deny refuse
    nothing): each rule on a claim the platform's tokens do not carry (``claims.CLAIM_PROFILES``).
    The platform is the issuer's when its URL is well known; without a well-known issuer, the one
    whose subject form the policy's ``sub`` is written in. An error when a listed claim is close
    (a typo), a warning otherwise."""
    out = []
    for index, policy in enumerate(policies):
        v = PolicyView(index, policy, profile, issuer_url, organization, policies)
        subject = v.subject
        platform = profile.kind if profile is not None else (subject.kind if subject is not None else None)
        for claim in policy.rules:
            problem = claim_problem(platform, claim)
            if problem is None:
                continue
            fix = (
                f"write {problem.suggestion!r} (the claim's name as the platform issues it)"
                if problem.suggestion
                else "check the claim's name against the token (oidc-trust claims TOKEN prints it), or waive OIDC042 "
                "with the platform's reference"
            )
            out.append(v.finding("OIDC042", claim, f"{v.who}: {problem.text}.", fix, problem.severity))
    return out


POLICY_CHECKS = (
    _no_workload,
    _shared_issuer_tenant,
    _tenant_wildcard,
    _org_wide,
    _any_branch,
    _pull_requests,
    _user_controlled,
    _name_only,
    _audience,
    _footguns,
    _org_admin,
    _volatile,
    _kubernetes,
    _run_phase,
    _ssh_rerun,
)
