"""Per-policy rules: each check takes one allow policy (a ``PolicyView``) and returns findings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import wire
from ..policy import Policy, match, parse_claim_path
from .catalog import RULES, Finding
from .patterns import WIDE, exact_id, is_exact, literal, wide
from .profiles import IssuerProfile
from .subjects import K8S_PREFIX, Subject, parse_subject

@dataclass(frozen=True)
class PolicyView:
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


def _no_workload(v: PolicyView) -> list[Finding]:
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


def _tenant_pinned(v: PolicyView, profile: IssuerProfile) -> bool:
    if any(v.pinned(claim) for claim in profile.tenant_claims):
        return True
    subject = v.subject
    if subject is None:
        return False
    if profile.kind == "github":
        # The immutable subject carries the owner's numeric id: pinning it pins the tenant.
        return subject.kind == "github" and subject.tenant_id is not None and exact_id(subject.tenant_id)
    if profile.kind == "circleci":
        return subject.kind == "circleci" and subject.workload is not None and is_exact(subject.workload) and is_exact(subject.tenant)
    return False


def _shared_issuer_tenant(v: PolicyView) -> list[Finding]:
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


def _tenant_wildcard(v: PolicyView) -> list[Finding]:
    """OIDC003: a wildcard in the owner/group/namespace part lets strangers match."""
    out = []
    sub = v.rule("sub")
    if sub is not None:
        subject = parse_subject(sub)
        if subject is None:
            if sub[0] in WIDE:
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
            wide(subject.tenant) or (subject.tenant_id is not None and wide(subject.tenant_id))
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
        if wide(tenant):
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


def _org_wide(v: PolicyView) -> list[Finding]:
    """OIDC004: a wildcard in the repository/project part trusts every (future) repository."""
    out = []
    sub = v.rule("sub")
    subject = parse_subject(sub) if sub is not None else None
    if subject and subject.kind in ("github", "gitlab", "circleci") and not wide(subject.tenant):
        workload = subject.workload
        if workload is None and subject.swallows_rest:
            workload = "*"
        if workload is not None and (wide(workload) or (subject.workload_id is not None and wide(subject.workload_id))):
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
        if not wide(tenant) and wide(workload):
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
    return ref[:1] != "" and ref[0] in WIDE


def _context_any_ref(context: str) -> bool:
    """A subject's context that admits any ref: ``*``, ``ref:*``, ``ref_type:*``, ``...:ref:*``."""
    if context[:1] != "" and context[0] in WIDE:
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
            if rest and rest[0] not in WIDE and not (key == "ref:" and _any_ref(rest)):
                return True
    return False


def _any_branch(v: PolicyView) -> list[Finding]:
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


def _platform(v: PolicyView) -> str | None:
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
    dots = [i for i, c in enumerate(pattern) if c == "." and 0 < i < len(pattern) - 1 and literal(pattern[i - 1]) and literal(pattern[i + 1])]
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
            return [v.finding("OIDC024", "sub", f"{v.who}: sub {sub!r} matches every namespace's service accounts.", fix)]
    if subject is None or subject.kind != "kubernetes":
        if v.profile is not None and v.profile.kind == "kubernetes" and sub is None:
            account = v.rule('"kubernetes.io".serviceaccount.name')
            if account is None or wide(account):
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
    if wide(subject.tenant):
        problem = f"the namespace part {subject.tenant!r} has a wildcard: any namespace's service account matches"
    elif subject.workload is None or wide(subject.workload):
        problem = f"the service-account part {subject.workload or '*'!r} has a wildcard: any service account in {subject.tenant!r} matches"
    elif subject.workload == "default":
        problem = f"it trusts the 'default' service account: every pod in {subject.tenant!r} without its own account runs as it"
    else:
        return []
    return [v.finding("OIDC024", "sub", f"{v.who}: sub {sub!r}: {problem}.", fix)]


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
)
