"""The trust-policy linter: findings with stable ids, from the catalog in research/peers.md §2.4.

``lint_policies`` checks an issuer's ordered policy document; ``lint_issuer`` checks the issuer's
own settings (URL, uploaded JWKS, lifetime cap, thumbprints). Both are pure: no HTTP.

Which rules run when (``Rule.needs``):

* ``None``: always, on any policy document. Subjects are recognised by their shape, whatever the
  issuer: GitHub (classic ``repo:OWNER/REPO:...`` and immutable ``repo:OWNER@ID/REPO@ID:...``),
  GitLab (``project_path:GROUP/PROJECT:...``), Kubernetes (``system:serviceaccount:NS:SA``) and
  CircleCI (``org/ORG/project/PROJECT/user/USER``).
* ``"issuer_url"``: issuer-specific rules; they run only when the issuer URL is given, because
  they depend on who else can obtain tokens from that issuer (peers.md §2.2).
* ``"issuer"``: rules over the issuer's settings, run by ``lint_issuer``.

Only ``allow`` policies can over-grant, so most rules look at allows only: a deny-only document
(such as CLOSED, ``policy.closed_policies``) lints clean of errors.

Wildcard semantics are ``policy.match``'s (``*`` 0+, ``?`` 0-1, ``.`` exactly one character);
nothing here re-implements matching. "Exact" means the pattern has no wildcard character at all
(``is_exact``); "wide" wildcards are ``*`` and ``?``, which change the length of what matches.

The preview integration (``OidcIssuerPolicy.check``) calls::

    report = lint(policies, issuer_url=..., organization=..., waivers=lint_waivers)
    failures = [str(f) for f in report.errors]   # each one CheckFailure
    warnings = [str(f) for f in report.warnings]  # pulumi.log.warn from the program side

``lint`` raises ``WaiverError`` for a waiver without a reason or with an unknown rule id.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from . import wire
from .duration import format_duration
from .urls import is_loopback_host
from .policy import MAX_POLICIES, WILDCARDS, Policy, match, parse_claim_path, parse_policies

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Rule:
    """One row of the rule catalog."""

    id: str
    severity: str
    """The default severity; a finding may be stricter or milder (named in the rule's title)."""
    title: str
    needs: str | None = None
    """None: any policy document; "issuer_url": issuer-specific; "issuer": issuer settings."""


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("OIDC001", "error", "allow policy identifies no workload (only aud/iss rules)"),
        Rule("OIDC002", "error", "shared issuer without the tenant's immutable id pinned exactly", "issuer_url"),
        Rule("OIDC003", "error", "wildcard in the owner/group/namespace part of an identity claim (repo:*, repo:org*/...)"),
        Rule("OIDC004", "warning", "organization-wide subject (repo:org/*, project_path:group/*): new repositories too"),
        Rule("OIDC005", "warning", "any branch or tag may mint the token (repo:o/r:*, ref:refs/heads/*)"),
        Rule("OIDC006", "error", "pull-request / merge-request pipelines may mint the token (unreviewed code)"),
        Rule("OIDC007", "error", "identity taken from claims the workflow author controls, without an immutable anchor"),
        Rule("OIDC008", "warning", "repository or project pinned by name only on a shared issuer (rename/recycling)", "issuer_url"),
        Rule("OIDC010", "error", "aud missing, wildcarded or another relying party's audience"),
        Rule("OIDC011", "warning", "aud is not this organization's urn:pulumi:org:ORG"),
        Rule("OIDC012", "warning", "wildcard footgun: '.' is one-character wildcard, '?' is zero-or-one, '*' crosses '/' ':' '@', 'main*' prefix collision"),
        Rule("OIDC013", "error", "allow shadowed by a deny, or made redundant by a broader allow for the same token"),
        Rule("OIDC015", "error", "organization token with admin for a subject that is not exact"),
        Rule("OIDC016", "warning", "long token lifetime (issuer maxExpiration > 1 h for CI issuers, > 24 h anywhere)", "issuer"),
        Rule("OIDC017", "error", "issuer URL not https (loopback http: warning), or with query, fragment or userinfo", "issuer"),
        Rule("OIDC019", "warning", "uploaded JWKS problems (private key material or symmetric keys: error)", "issuer"),
        Rule("OIDC021", "info", "thumbprints configured (pinned certificates need rotating) or in the wrong format", "issuer"),
        Rule("OIDC023", "warning", "volatile claim pinned exactly (jti, run id, pod uid): matches one run only"),
        Rule("OIDC024", "warning", "Kubernetes subject wildcards the namespace or service account, or trusts 'default'"),
        Rule("OIDC025", "warning", "issuer on a private host without an uploaded JWKS: Pulumi Cloud cannot fetch its keys", "issuer"),
        Rule("OIDC026", "warning", f"policy count near Pulumi Cloud's limit of {MAX_POLICIES} per issuer"),
    )
}
"""The rule catalog: id -> severity, title. The one table used by the linter, --help and docs."""

NEAR_LIMIT = MAX_POLICIES - 4
"""OIDC026 fires from this many policies on (the limit is a hard apply-time failure)."""


@dataclass(frozen=True)
class Finding:
    """One lint finding. ``message`` names the policy, the claim and what is wrong; ``fix`` says
    what to write instead."""

    id: str
    severity: str
    message: str
    fix: str
    policy: int | None = None
    claim: str | None = None
    waiver: str | None = None
    """The waiver's reason when the finding was waived (see ``apply_waivers``)."""

    def to_json(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "severity": self.severity,
            "policy": self.policy,
            "claim": self.claim,
            "message": self.message,
            "fix": self.fix,
            "title": RULES[self.id].title if self.id in RULES else None,
        }
        if self.waiver is not None:
            out["waived"] = self.waiver
        return out

    def __str__(self) -> str:
        return f"{self.id} {self.severity}: {self.message} Fix: {self.fix}"


class WaiverError(ValueError):
    """A waiver is unusable: empty reason or unknown rule id. ``problems`` lists each one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class LintReport:
    """What ``lint`` found: ``active`` findings count, ``waived`` ones carry their reason."""

    active: tuple[Finding, ...]
    waived: tuple[Finding, ...] = ()

    @property
    def errors(self) -> list[Finding]:
        return errors(self.active)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.active if f.severity == "warning"]

    def to_json(self) -> dict[str, Any]:
        return {
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.to_json() for f in self.active],
            "waived": [f.to_json() for f in self.waived],
        }


# ---------------------------------------------------------------------------------------------
# Public entry points


def lint(
    policies: Sequence[Policy | Mapping[str, Any]],
    *,
    issuer_url: str | None = None,
    organization: str | None = None,
    waivers: Mapping[str, str] | None = None,
) -> LintReport:
    """Lint a policy document (and the issuer URL, when given) and apply waivers.

    This is the entry point for ``OidcIssuerPolicy.check``: unwaived ``report.errors`` are
    ``CheckFailure``s. Raises ``WaiverError`` for unusable waivers, ``PolicyError`` for a
    malformed document given as dicts.
    """
    findings = lint_policies(policies, issuer_url=issuer_url, organization=organization)
    active, waived = apply_waivers(findings, waivers or {})
    return LintReport(tuple(active), tuple(waived))


def lint_policies(
    policies: Sequence[Policy | Mapping[str, Any]],
    *,
    issuer_url: str | None = None,
    organization: str | None = None,
) -> list[Finding]:
    """Findings for an ordered policy document.

    ``issuer_url`` enables the issuer-specific rules (OIDC002, OIDC008, and the issuer-as-audience
    part of OIDC010); ``organization`` makes OIDC011 compare ``aud`` with ``urn:pulumi:org:ORG``.
    Policies may be ``Policy`` objects or dicts in wire or snake_case form.
    """
    parsed = _as_policies(policies)
    profile = issuer_profile(issuer_url) if issuer_url else None
    findings: list[Finding] = []
    findings += _policy_count(parsed)
    for index, policy in enumerate(parsed):
        if policy.decision != "allow":
            continue
        view = _View(index, policy, profile, issuer_url, organization)
        for check in _POLICY_CHECKS:
            findings += check(view)
    findings += _overlaps(parsed)
    return sorted(findings, key=_order)


def lint_issuer(
    url: str,
    *,
    jwks: Mapping[str, Any] | None = None,
    max_expiration_seconds: int | None = None,
    thumbprints: Sequence[str] | None = None,
    requested_expiration_seconds: int | None = None,
) -> list[Finding]:
    """Findings for an issuer's settings: URL (OIDC017, OIDC025), JWKS (OIDC019), lifetime cap
    (OIDC016; ``None`` is the service default and is not checked) and thumbprints (OIDC021)."""
    findings = _issuer_url(url)
    findings += _private_issuer(url, jwks)
    if jwks is not None:
        findings += _jwks(jwks)
    findings += _lifetime(url, max_expiration_seconds, requested_expiration_seconds)
    findings += _thumbprints(thumbprints)
    return sorted(findings, key=_order)


def check_waivers(waivers: Mapping[str, str]) -> list[str]:
    """Problems with a waiver map (empty list: usable). Each problem names the waiver and the fix."""
    problems = []
    for rule_id, reason in waivers.items():
        if rule_id not in RULES:
            problems.append(
                f"lint waiver {rule_id!r} names no lint rule; use one of the catalog ids "
                f"({', '.join(RULES)}), e.g. {{'OIDC012': 'repository name has a dot'}}"
            )
        elif not isinstance(reason, str) or not reason.strip():
            problems.append(f"lint waiver {rule_id!r} has no reason; say why the finding is acceptable")
    return problems


def apply_waivers(
    findings: Iterable[Finding], waivers: Mapping[str, str]
) -> tuple[list[Finding], list[Finding]]:
    """Split findings into (active, waived); waived findings carry the waiver's reason.

    Raises ``WaiverError`` when a waiver has an empty reason or names an unknown rule id: a
    typo in a waiver must not silently leave a finding active, nor waive one with no reason.
    """
    problems = check_waivers(waivers)
    if problems:
        raise WaiverError(problems)
    active, waived = [], []
    for f in findings:
        if f.id in waivers:
            waived.append(dataclasses.replace(f, waiver=waivers[f.id].strip()))
        else:
            active.append(f)
    return active, waived


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """The findings of severity "error"."""
    return [f for f in findings if f.severity == "error"]


def is_exact(pattern: str) -> bool:
    """True when the pattern has no wildcard character (``*``, ``?`` or ``.``): an exact pin."""
    return not any(c in WILDCARDS for c in pattern)


# ---------------------------------------------------------------------------------------------
# Issuers (peers.md §2.2)


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
        tenant_claims=("terraform_organization_id",),
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


# ---------------------------------------------------------------------------------------------
# Subjects: the one parser of the well-known subject shapes


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
_K8S_PREFIX = "system:serviceaccount:"


def parse_subject(pattern: str) -> Subject | None:
    """Recognise a GitHub, GitLab, Kubernetes or CircleCI subject pattern; None for others."""
    if pattern.startswith(_GITHUB_PREFIX):
        return _split_repo_subject("github", pattern[len(_GITHUB_PREFIX) :])
    if pattern.startswith(_GITLAB_PREFIX):
        return _split_repo_subject("gitlab", pattern[len(_GITLAB_PREFIX) :])
    if pattern.startswith(_K8S_PREFIX):
        namespace, sep, account = pattern[len(_K8S_PREFIX) :].partition(":")
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


# ---------------------------------------------------------------------------------------------
# Per-policy checks


@dataclass(frozen=True)
class _View:
    """One allow policy with what the checks need to know about it."""

    index: int
    policy: Policy
    profile: IssuerProfile | None
    issuer_url: str | None
    organization: str | None

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


_IDENTIFYING_EXCEPT = frozenset({("aud",), ("iss",)})


def _no_workload(v: _View) -> list[Finding]:
    """OIDC001: an allow whose only rules are aud/iss admits every workload of the issuer."""
    if all(parse_claim_path(path) in _IDENTIFYING_EXCEPT for path in v.policy.rules):
        return [
            v.finding(
                "OIDC001",
                None,
                f"{v.who} has rules only on {', '.join(v.policy.rules)}: every workload the issuer "
                "serves can mint this token.",
                "add a rule that names the workload, e.g. sub: 'repo:OWNER/REPO:ref:refs/heads/main' "
                "or 'system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT'",
            )
        ]
    return []


def _tenant_pinned(v: _View, profile: IssuerProfile) -> bool:
    if any(v.pinned(claim) for claim in profile.tenant_claims):
        return True
    subject = v.subject
    if subject is None:
        return False
    if profile.kind == "github":
        # The immutable subject carries the owner's numeric id: pinning it pins the tenant.
        return subject.kind == "github" and subject.tenant_id is not None and _exact_id(subject.tenant_id)
    if profile.kind == "circleci":
        return subject.kind == "circleci" and subject.workload is not None and is_exact(subject.workload) and is_exact(subject.tenant)
    return False


def _exact_id(pattern: str) -> bool:
    return is_exact(pattern) and pattern.isdigit()


def _shared_issuer_tenant(v: _View) -> list[Finding]:
    """OIDC002: on a shared issuer, an allow must pin the tenant's immutable id exactly."""
    profile = v.profile
    if profile is None or not profile.shared or _tenant_pinned(v, profile):
        return []
    claims = " or ".join(profile.tenant_claims)
    loose = [c for c in profile.tenant_claims if v.rule(c) is not None]
    what = (
        f"pins {', '.join(f'{c}={v.rule(c)!r}' for c in loose)} with a wildcard"
        if loose
        else f"does not pin {claims}"
    )
    return [
        v.finding(
            "OIDC002",
            profile.tenant_claims[0],
            f"{v.who} trusts {v.issuer_url} ({profile.title}) but {what}: "
            "a token from any other tenant of this issuer can match.",
            profile.tenant_fix + " (no '*', '?' or '.')",
        )
    ]


_WIDE = "*?"


def _wide(pattern: str) -> bool:
    return any(c in _WIDE for c in pattern)


def _tenant_wildcard(v: _View) -> list[Finding]:
    """OIDC003: a wildcard in the owner/group/namespace part lets strangers match."""
    out = []
    sub = v.rule("sub")
    if sub is not None:
        subject = parse_subject(sub)
        if subject is None:
            if sub[0] in _WIDE:
                out.append(
                    v.finding(
                        "OIDC003",
                        "sub",
                        f"{v.who}: sub {sub!r} starts with a wildcard, so any subject that ends "
                        "the same way matches.",
                        "write the subject from its first character, e.g. 'repo:OWNER/REPO:ref:refs/heads/main'",
                    )
                )
        elif subject.kind in ("github", "gitlab", "circleci") and (
            _wide(subject.tenant) or (subject.tenant_id is not None and _wide(subject.tenant_id))
        ):
            out.append(
                v.finding(
                    "OIDC003",
                    "sub",
                    f"{v.who}: sub {sub!r} has a wildcard in the {_TENANT_WORD[subject.kind]}, so "
                    f"{_TENANT_WORD[subject.kind]}s you do not control match.",
                    f"write the {_TENANT_WORD[subject.kind]} out: {_EXAMPLE_SUB[subject.kind]}",
                )
            )
    # Name claims that carry the tenant: 'repository' = OWNER/REPO, 'project_path' = GROUP/PROJECT.
    for claim, word in (("repository", "owner"), ("project_path", "group"), ("repository_owner", "owner"), ("namespace_path", "group")):
        pattern = v.rule(claim)
        if pattern is None:
            continue
        tenant = pattern.split("/", 1)[0]
        if _wide(tenant):
            out.append(
                v.finding(
                    "OIDC003",
                    claim,
                    f"{v.who}: {claim} {pattern!r} has a wildcard in the {word}, so {word}s you do not control match.",
                    f"write the {word} out (and pin its numeric id: repository_owner_id / namespace_id)",
                )
            )
    return out


_TENANT_WORD = {"github": "owner", "gitlab": "group", "circleci": "organization", "kubernetes": "namespace"}
_EXAMPLE_SUB = {
    "github": "'repo:OWNER/REPO:ref:refs/heads/main'",
    "gitlab": "'project_path:GROUP/PROJECT:ref_type:branch:ref:main'",
    "circleci": "'org/ORG_ID/project/PROJECT_ID/user/*'",
}


def _org_wide(v: _View) -> list[Finding]:
    """OIDC004: a wildcard in the repository/project part trusts every (future) repository."""
    out = []
    sub = v.rule("sub")
    subject = parse_subject(sub) if sub is not None else None
    if subject and subject.kind in ("github", "gitlab", "circleci") and not _wide(subject.tenant):
        workload = subject.workload
        if workload is None and subject.swallows_rest:
            workload = "*"
        if workload is not None and (_wide(workload) or (subject.workload_id is not None and _wide(subject.workload_id))):
            thing = {"github": "repository", "gitlab": "project", "circleci": "project"}[subject.kind]
            out.append(
                v.finding(
                    "OIDC004",
                    "sub",
                    f"{v.who}: sub {sub!r} matches every {thing} of {subject.tenant!r} whose name fits "
                    f"{workload!r}, including ones created later.",
                    f"name the {thing}: {_EXAMPLE_SUB[subject.kind]} (one policy per {thing})",
                )
            )
    for claim in ("repository", "project_path"):
        pattern = v.rule(claim)
        if pattern is None or "/" not in pattern:
            continue
        tenant, workload = pattern.split("/", 1)
        if not _wide(tenant) and _wide(workload):
            out.append(
                v.finding(
                    "OIDC004",
                    claim,
                    f"{v.who}: {claim} {pattern!r} matches every repository or project of {tenant!r} "
                    "whose name fits, including ones created later.",
                    f"name it exactly, e.g. {claim}: '{tenant}/NAME' (and pin its numeric id)",
                )
            )
    return out


_REF_PREFIXES = ("refs/heads/", "refs/tags/", "refs/")


def _any_ref(ref: str) -> bool:
    """A ref pattern that admits any branch or tag name (``refs/heads/*``, ``*``)."""
    for prefix in _REF_PREFIXES:
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    return ref[:1] != "" and ref[0] in _WIDE


def _context_any_ref(context: str) -> bool:
    """A subject's context that admits any ref: ``*``, ``ref:*``, ``ref_type:*``, ``...:ref:*``."""
    if context[:1] != "" and context[0] in _WIDE:
        return True
    for key in ("ref_type:", "ref:"):
        at = context.find(key)
        if at >= 0 and (at == 0 or context[at - 1] == ":") and _any_ref(context[at + len(key) :]):
            return True
    return False


def _pins_environment_or_branch(sub: str) -> bool:
    """A (custom) subject that names an environment or a branch literally: 'environment:prod',
    '...:ref:refs/heads/main'. Pull-request jobs carry neither."""
    for key in ("environment:", "ref:"):
        for m in re.finditer(rf"(?:^|:){key}", sub):
            rest = sub[m.end() :]
            if rest and rest[0] not in _WIDE and not (key == "ref:" and _any_ref(rest)):
                return True
    return False


def _any_branch(v: _View) -> list[Finding]:
    """OIDC005: any branch or tag (hence unprotected, unreviewed pushes) can mint the token."""
    out = []
    subject = v.subject
    if subject and subject.kind in ("github", "gitlab"):
        context = subject.effective_context
        if context is not None and _context_any_ref(context):
            out.append(
                v.finding(
                    "OIDC005",
                    "sub",
                    f"{v.who}: sub {v.rule('sub')!r} admits any branch, tag or event context, so a push "
                    f"to any unprotected branch can mint {_a(v.policy.token_type)} token.",
                    "name the ref or environment: '...:ref:refs/heads/main' or '...:environment:production' "
                    "(GitLab: '...:ref_type:branch:ref:main')",
                )
            )
    ref = v.rule("ref")
    if ref is not None and _any_ref(ref):
        out.append(
            v.finding(
                "OIDC005",
                "ref",
                f"{v.who}: ref {ref!r} admits any branch or tag, so a push to any unprotected branch "
                f"can mint {_a(v.policy.token_type)} token.",
                "pin the ref: 'refs/heads/main' (GitLab: 'main', and ref_protected: 'true')",
            )
        )
    return out


_GITHUB_CLAIMS = frozenset({"repository_id", "repository_owner_id", "repository", "repository_owner", "job_workflow_ref", "event_name"})
_GITLAB_CLAIMS = frozenset({"namespace_id", "namespace_path", "project_id", "project_path", "pipeline_source", "ref_protected"})


def _platform(v: _View) -> str | None:
    """Which CI platform the policy is written for: its issuer, its subject or its claims."""
    if v.profile is not None and v.profile.kind in ("github", "gitlab"):
        return v.profile.kind
    subject = v.subject
    if subject is not None and subject.kind in ("github", "gitlab"):
        return subject.kind
    claims = {parse_claim_path(p)[0] for p in v.policy.rules}
    if claims & _GITHUB_CLAIMS:
        return "github"
    if claims & _GITLAB_CLAIMS:
        return "gitlab"
    return None


def _admits(v: _View, claim: str, value: str) -> bool:
    """The policy's rule on ``claim`` (if any) lets ``value`` through."""
    pattern = v.rule(claim)
    return pattern is None or match(pattern, value)


def _pull_requests(v: _View) -> list[Finding]:
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
        )
        what = "pull_request workflows (code from any branch, before review)"
        fix = "pin the ref or environment in sub ('repo:OWNER/REPO:ref:refs/heads/main'), or add event_name: 'push'"
    elif platform == "gitlab":
        if subject is not None and subject.kind == "gitlab":
            context = subject.effective_context
            ref_any = context is not None and _context_any_ref(context)
        else:
            ref = v.rule("ref")
            ref_any = ref is None or _any_ref(ref)
        admitted = (
            ref_any and _admits(v, "ref_protected", "false") and _admits(v, "pipeline_source", "merge_request_event")
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


def _anchored(v: _View) -> bool:
    """An immutable workload or tenant id is pinned exactly (in a rule or inside sub)."""
    if any(v.pinned(claim) for claim in _ANCHORS):
        return True
    sub = v.rule("sub") or ""
    return re.search(r"(?:^|:)(?:repository_owner_id|repository_id|namespace_id|project_id):\d+(?::|$)", sub) is not None


def _user_controlled(v: _View) -> list[Finding]:
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
    identifying = [p for p in v.policy.rules if parse_claim_path(p) not in _IDENTIFYING_EXCEPT]
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


def _name_only(v: _View) -> list[Finding]:
    """OIDC008: on a shared issuer, a repository named but not pinned by id can be recycled."""
    profile = v.profile
    if profile is None or not profile.shared or not profile.id_claims:
        return []
    if any(v.pinned(claim) for claim in profile.id_claims):
        return []
    subject = v.subject
    named = [c for c in profile.name_claims if v.rule(c) is not None]
    if subject is not None and subject.kind == profile.kind and subject.workload and not _wide(subject.workload):
        if subject.workload_id is not None and _exact_id(subject.workload_id):
            return []  # immutable subject with the repository's id
        named.insert(0, "sub")
    if profile.kind == "terraform" and v.rule("sub") is not None:
        named.insert(0, "sub")
    if not named:
        return []
    id_claim = profile.id_claims[0]
    return [
        v.finding(
            "OIDC008",
            named[0],
            f"{v.who} names the repository/project by {named[0]} only: if it is renamed or deleted, "
            "whoever takes the name inherits this trust.",
            f"add rule {id_claim}: '<numeric id>'"
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


def _audience(v: _View) -> list[Finding]:
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
    if _wide(aud):
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
    if (expected and aud != expected) or (not expected and wire.organization_from_audience(aud) is None):
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


def _footguns(v: _View) -> list[Finding]:
    """OIDC012: Pulumi's '.', '?' and '*' do not mean what they look like."""
    out = []
    for claim, pattern in v.policy.rules.items():
        for problem, fix in _pattern_footguns(pattern):
            out.append(v.finding("OIDC012", claim, f"{v.who}: {claim} {pattern!r}: {problem}", fix))
    return out


def _pattern_footguns(pattern: str) -> list[tuple[str, str]]:
    """(problem, fix) for each footgun in one pattern."""
    out = []
    dots = [i for i, c in enumerate(pattern) if c == "." and 0 < i < len(pattern) - 1 and _literal(pattern[i - 1]) and _literal(pattern[i + 1])]
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
                "use '.' for exactly one character, or write the value out",
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


def _literal(c: str) -> bool:
    return c not in WILDCARDS


def _circleci_project_on_one_branch(v: _View, sub: str) -> bool:
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


def _org_admin(v: _View) -> list[Finding]:
    """OIDC015: an organization admin token for anything but one exact subject."""
    p = v.policy
    if p.token_type != "organization" or "admin" not in p.authorized_permissions:
        return []
    sub = v.rule("sub")
    if sub is not None and (is_exact(sub) or _circleci_project_on_one_branch(v, sub)):
        return []
    what = f"sub {sub!r} is not exact" if sub is not None else "it does not pin sub"
    return [
        v.finding(
            "OIDC015",
            "sub",
            f"{v.who} grants organization admin but {what}: every workload it matches is an admin.",
            "pin sub exactly (no '*', '?' or '.'), e.g. 'repo:OWNER/REPO:environment:production' (CircleCI: "
            "'org/O/project/P/user/*' with '\"oidc.circleci.com/vcs-ref\"': 'refs/heads/main'), or grant "
            "a team token or a custom role instead of admin",
        )
    ]


_VOLATILE = (
    ("jti",), ("iat",), ("exp",), ("nbf",), ("run_id",), ("run_number",), ("run_attempt",),
    ("pipeline_id",), ("job_id",), ("stepUuid",), ("pipelineUuid",),
    ("kubernetes.io", "pod", "uid"), ("kubernetes.io", "pod", "name"),
)


def _volatile(v: _View) -> list[Finding]:
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


def _kubernetes(v: _View) -> list[Finding]:
    """OIDC024: a Kubernetes subject should name one namespace and one service account."""
    sub = v.rule("sub")
    subject = parse_subject(sub) if sub is not None else None
    fix = "pin one service account: sub 'system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT' (a dedicated one, not 'default')"
    if sub is not None and subject is None:
        wide_at = min((sub.index(c) for c in _WIDE if c in sub), default=-1)
        if wide_at > 0 and _K8S_PREFIX.startswith(sub[:wide_at]):
            # 'system:*' reaches every service account of every namespace.
            return [v.finding("OIDC024", "sub", f"{v.who}: sub {sub!r} matches every namespace's service accounts.", fix)]
    if subject is None or subject.kind != "kubernetes":
        if v.profile is not None and v.profile.kind == "kubernetes" and sub is None:
            account = v.rule('"kubernetes.io".serviceaccount.name')
            if account is None or _wide(account):
                return [
                    v.finding(
                        "OIDC024",
                        None,
                        f"{v.who} trusts a Kubernetes cluster without pinning one service account: "
                        "any pod that can mount a token with this audience matches.",
                        fix,
                    )
                ]
        return []
    if _wide(subject.tenant):
        problem = f"the namespace part {subject.tenant!r} has a wildcard: any namespace's service account matches"
    elif subject.workload is None or _wide(subject.workload):
        problem = f"the service-account part {subject.workload or '*'!r} has a wildcard: any service account in {subject.tenant!r} matches"
    elif subject.workload == "default":
        problem = f"it trusts the 'default' service account: every pod in {subject.tenant!r} without its own account runs as it"
    else:
        return []
    return [v.finding("OIDC024", "sub", f"{v.who}: sub {sub!r}: {problem}.", fix)]


_POLICY_CHECKS = (
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
)


# ---------------------------------------------------------------------------------------------
# Whole-document checks


def _policy_count(policies: Sequence[Policy]) -> list[Finding]:
    """OIDC026: close to the per-issuer limit, the next policy added fails at apply time."""
    n = len(policies)
    if n < NEAR_LIMIT:
        return []
    return [
        Finding(
            "OIDC026",
            "warning",
            f"the document holds {n} policies; Pulumi Cloud accepts at most {MAX_POLICIES} per issuer.",
            "merge policies that grant the same token (one sub pattern per workload), or split the "
            "workloads across a second issuer",
        )
    ]


def covers(broad: str, narrow: str) -> bool:
    """True only when every value ``narrow`` matches is provably matched by ``broad``.

    Conservative (a False may be wrong, a True never is): equal patterns; an exact ``narrow``
    that ``broad`` matches; or ``broad`` = LITERAL + ``*`` and ``narrow`` starts with LITERAL.
    """
    if broad == narrow:
        return True
    if is_exact(narrow):
        return match(broad, narrow)
    if broad.endswith("*") and is_exact(broad[:-1]):
        return narrow.startswith(broad[:-1])
    return False


def _policy_covers(broad: Policy, narrow: Policy) -> bool:
    """Every request and token ``narrow`` matches is matched by ``broad`` too (conservatively)."""
    if broad.token_type != narrow.token_type:
        return False
    if broad.name_pattern is not None and not covers(broad.name_pattern, narrow.name_pattern or ""):
        return False
    narrow_rules = {parse_claim_path(k): p for k, p in narrow.rules.items()}
    for key, pattern in broad.rules.items():
        other = narrow_rules.get(parse_claim_path(key))
        if other is None or not covers(pattern, other):
            return False
    return True


def _same_grant(a: Policy, b: Policy) -> bool:
    return a.role_id == b.role_id and set(a.authorized_permissions) == set(b.authorized_permissions)


def _allow_makes_redundant(broad: Policy, j: int, narrow: Policy, i: int) -> bool:
    """Allow ``broad`` (index j) covers allow ``narrow`` (index i): is ``narrow`` pointless?"""
    if "admin" in narrow.authorized_permissions and "admin" not in broad.authorized_permissions:
        return False  # admin requests skip ``broad`` (policy._fit) and reach ``narrow``
    if _policy_covers(narrow, broad) and j > i:
        return False  # identical policies: reported once, on the later one
    # The same grant makes ``narrow`` redundant wherever it stands; a different grant only
    # when ``broad`` comes first (the first matching allow decides).
    return _same_grant(broad, narrow) or j < i


def _overlaps(policies: Sequence[Policy]) -> list[Finding]:
    """OIDC013: allows that can never decide (shadowed by a deny) or that a broader allow makes
    redundant. Any matching deny wins and the first matching allow decides (policy.py)."""
    out = []
    for i, narrow in enumerate(policies):
        if narrow.decision != "allow":
            continue
        for j, broad in enumerate(policies):
            if j == i or not _policy_covers(broad, narrow):
                continue
            if broad.decision == "deny":
                out.append(
                    Finding(
                        "OIDC013",
                        "error",
                        f"policy {i} (allow {narrow.token_type} token) can never apply: deny policy {j} "
                        "matches every token it matches, and a matching deny always wins.",
                        f"narrow policy {j} (add a rule that excludes policy {i}'s workloads) or remove policy {i}",
                        i,
                    )
                )
                break
            if broad.decision == "allow" and _allow_makes_redundant(broad, j, narrow, i):
                if _policy_covers(narrow, broad):
                    relation = "is the same policy"
                elif _same_grant(broad, narrow):
                    relation = "grants the same token to everything it matches, and admits more besides"
                else:
                    relation = "comes first and matches everything it matches, so its different grant never applies"
                out.append(
                    Finding(
                        "OIDC013",
                        "error",
                        f"policy {i} (allow {narrow.token_type} token) is redundant: allow policy {j} {relation}.",
                        f"remove policy {i}, or narrow policy {j} to the workloads it was meant for",
                        i,
                    )
                )
                break
    return out


# ---------------------------------------------------------------------------------------------
# Issuer settings


def _issuer_finding(rule_id: str, message: str, fix: str, severity: str | None = None) -> Finding:
    return Finding(rule_id, severity or RULES[rule_id].severity, message, fix)


def _issuer_url(url: str) -> list[Finding]:
    """OIDC017: tokens carry ``iss`` exactly; Pulumi Cloud fetches discovery over https."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # raises ValueError for a malformed port
    except ValueError as e:
        return [_issuer_finding("OIDC017", f"issuer URL {url!r} cannot be parsed ({e}).", "write an https URL such as 'https://issuer.example.com'")]
    out = []
    if parts.scheme == "http" and is_loopback_host(host):
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} is plain http on loopback: fine for local testing only.",
                "register the issuer's https URL for real use",
                "warning",
            )
        )
    elif parts.scheme != "https" or not host:
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} is not an https URL: Pulumi Cloud fetches the discovery document and keys over https.",
                "use the issuer's https URL exactly as its tokens' iss claim spells it",
            )
        )
    if parts.query or parts.fragment:
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} has a query or fragment, which an OIDC issuer identifier may not have.",
                "remove everything from '?' or '#'",
            )
        )
    if parts.username is not None or parts.password is not None:
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL has user information before the host ({parts.scheme}://...@{host}).",
                "remove 'user:password@' from the URL; issuers are public",
            )
        )
    profile = issuer_profile(url)
    if profile is not None and profile.kind == "github" and url.endswith("/"):
        out.append(
            _issuer_finding(
                "OIDC017",
                f"issuer URL {url!r} ends with '/', but GitHub's tokens carry iss without it.",
                "register 'https://token.actions.githubusercontent.com' (no trailing slash)",
            )
        )
    return out


_PRIVATE_SUFFIXES = (".svc", ".cluster.local", ".local", ".internal", ".localdomain")


def _private_host(host: str) -> bool:
    """A host Pulumi Cloud cannot reach: cluster-internal names, single labels, private IPs.
    (Loopback is the local-testing case, reported by OIDC017.)"""
    if not host or is_loopback_host(host):
        return False
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return host.endswith(_PRIVATE_SUFFIXES) or "." not in host


def _private_issuer(url: str, jwks: Mapping[str, Any] | None) -> list[Finding]:
    """OIDC025: Pulumi Cloud cannot reach a cluster-internal issuer's keys; upload them."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return []
    if jwks is not None or not _private_host(host):
        return []
    return [
        _issuer_finding(
            "OIDC025",
            f"issuer {url!r} is on a private host and no JWKS is uploaded: Pulumi Cloud cannot fetch its keys, "
            "so every exchange fails.",
            "upload the issuer's public keys (jwks=..., e.g. `kubectl get --raw /openid/v1/jwks`)",
        )
    ]


_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_JWKS_KEYS = 20
MAX_JWKS_BYTES = 64 * 1024


def _jwks(jwks: Mapping[str, Any]) -> list[Finding]:
    """OIDC019: problems in an uploaded JWKS (key confusion, leaked private keys, DoS)."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not keys:
        return [_issuer_finding("OIDC019", "the JWKS has no 'keys' list.", "upload {'keys': [<public JWK>, ...]}", "error")]
    out = []
    size = len(json.dumps(jwks))
    if size > MAX_JWKS_BYTES:
        out.append(_issuer_finding("OIDC019", f"the JWKS is {size} bytes (more than 64 KB).", "upload only the keys in use"))
    if len(keys) > MAX_JWKS_KEYS:
        out.append(_issuer_finding("OIDC019", f"the JWKS holds {len(keys)} keys (more than {MAX_JWKS_KEYS}).", "upload only the keys in use"))
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if not isinstance(key, Mapping):
            out.append(_issuer_finding("OIDC019", f"JWKS key {i} is not an object.", "each key is a JWK object", "error"))
            continue
        kid = key.get("kid")
        name = f"JWKS key {i}" + (f" (kid {kid!r})" if kid else "")
        private = [m for m in _PRIVATE_MEMBERS if m in key]
        if key.get("kty") == "oct":
            out.append(
                _issuer_finding("OIDC019", f"{name} is a symmetric (kty oct) secret: whoever reads it can sign tokens.", "upload public keys only (RSA, EC or OKP)", "error")
            )
        elif private:
            out.append(
                _issuer_finding(
                    "OIDC019",
                    f"{name} contains private key material ({', '.join(private)}).",
                    "upload the public key only: remove " + ", ".join(repr(m) for m in private) + " and rotate the key, it is exposed",
                    "error",
                )
            )
        if not kid:
            out.append(_issuer_finding("OIDC019", f"{name} has no kid, so tokens cannot name it and rotation breaks.", "give every key a unique 'kid'"))
        elif kid in seen:
            out.append(_issuer_finding("OIDC019", f"{name}: kid {kid!r} appears twice.", "give every key a unique 'kid'"))
        else:
            seen.add(kid)
        if key.get("use") not in (None, "sig"):
            out.append(_issuer_finding("OIDC019", f"{name} has use {key.get('use')!r}, not 'sig'.", "upload signing keys ('use': 'sig')"))
        if key.get("kty") == "RSA" and isinstance(key.get("n"), str):
            bits = _rsa_bits(key["n"])
            if bits is not None and bits < 2048:
                out.append(_issuer_finding("OIDC019", f"{name} is a {bits}-bit RSA key.", "use RSA keys of at least 2048 bits, or EC P-256"))
    return out


def _rsa_bits(n: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big").bit_length()


CI_MAX_LIFETIME = 3600
ANY_MAX_LIFETIME = 86400


def _lifetime(url: str, max_expiration: int | None, requested: int | None) -> list[Finding]:
    """OIDC016: long-lived Pulumi tokens undo the point of short-lived workload identity."""
    out = []
    profile = issuer_profile(url)
    if max_expiration is not None:
        limit = CI_MAX_LIFETIME if profile is not None and profile.ci else ANY_MAX_LIFETIME
        if max_expiration > limit:
            kind = "a CI issuer" if limit == CI_MAX_LIFETIME else "any issuer"
            out.append(
                _issuer_finding(
                    "OIDC016",
                    f"the issuer's maxExpiration is {format_duration(max_expiration)} ({max_expiration} s), more than "
                    f"{format_duration(limit)} for {kind}.",
                    f"set max_expiration_seconds to at most {limit} (the job's length)",
                )
            )
    if requested is not None and max_expiration is not None and requested > max_expiration:
        out.append(
            _issuer_finding(
                "OIDC016",
                f"the requested expiration {format_duration(requested)} is longer than the issuer's maxExpiration "
                f"{format_duration(max_expiration)}: the service grants only the shorter one.",
                f"request at most {max_expiration} s",
            )
        )
    return out


def _thumbprints(thumbprints: Sequence[str] | None) -> list[Finding]:
    """OIDC021: thumbprints pin a TLS certificate; Pulumi wants SHA-256 (64 hex characters)."""
    if not thumbprints:
        return []
    out = [
        _issuer_finding(
            "OIDC021",
            f"{len(thumbprints)} thumbprint(s) configured: exchanges fail when the issuer rotates its TLS certificate.",
            "omit thumbprints unless the issuer's certificate is not publicly trusted; otherwise rotate them with it",
        )
    ]
    for t in thumbprints:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", str(t)):
            hint = " (40 hex characters is an AWS-style SHA-1)" if re.fullmatch(r"[0-9a-fA-F]{40}", str(t)) else ""
            out.append(
                _issuer_finding(
                    "OIDC021",
                    f"thumbprint {t!r} is not a SHA-256 fingerprint{hint}.",
                    "write the certificate's SHA-256 fingerprint as 64 hex characters",
                    "warning",
                )
            )
    return out


# ---------------------------------------------------------------------------------------------


def _as_policies(policies: Sequence[Policy | Mapping[str, Any]]) -> list[Policy]:
    if all(isinstance(p, Policy) for p in policies):
        return list(policies)  # type: ignore[arg-type]
    return parse_policies([p.to_wire() if isinstance(p, Policy) else p for p in policies])


def _order(f: Finding) -> tuple[int, str]:
    return (-1 if f.policy is None else f.policy, f.id)


def catalog_text() -> str:
    """The rule catalog as text lines (``--help`` and docs)."""
    lines = []
    for r in RULES.values():
        scope = {None: "", "issuer_url": " [needs --issuer]", "issuer": " [issuer settings]"}[r.needs]
        lines.append(f"  {r.id} {r.severity:<7} {r.title}{scope}")
    return "\n".join(lines)
