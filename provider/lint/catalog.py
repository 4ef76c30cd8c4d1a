"""The rule catalog (research/peers.md §2.4), findings, reports and waivers.

``RULES`` is the one table of rule ids, default severities and titles: the linter, ``--help`` and
the rule list in docs/cli.md all come from it. ``graded_severity`` is the one place the severity
principle is written (``SEVERITY_PRINCIPLE``); the rules marked ``graded`` call it.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..phrasing import Fix, render
from ..policy import MAX_POLICIES

SEVERITIES = ("error", "warning", "info")

SEVERITY_PRINCIPLE = (
    "Severity follows who can mint a token the finding's pattern admits. It is an error when someone outside "
    "the trusted repository or tenant can (a wildcard reaches other repositories or tenants; a fork can), "
    "when the repository is pinned by name only (which repository that is can change: after a rename or "
    "deletion, whoever takes the name), or when a known escalation applies (fork or pull-request pipelines; "
    "an organization-admin token on any branch; pull requests for admin scope). It is a warning, naming the "
    "residual risk, when only people who can already push to the one repository, project or account pinned "
    "by its immutable id can. A name pin on its own, with an exact branch, is OIDC008's warning: it needs "
    "the owner to give the name up first."
)
"""Issue 27: severity follows who can mint the token. Written once here; docs/cli.md quotes it."""

MINTERS = ("outsiders", "writers")
"""Who can mint a token a policy admits, for ``graded_severity``: ``outsiders`` (someone outside
the trusted repository or tenant: other tenants, other repositories of the tenant, whoever takes a
recycled name, forks) or ``writers`` (only people who can push to the one repository, project or
account the policy pins by its immutable id)."""


def graded_severity(minters: str, escalation: str | None = None) -> str:
    """The severity of a graded rule's finding (``SEVERITY_PRINCIPLE``): "error" when outsiders
    can mint or an escalation applies, else "warning"."""
    if minters not in MINTERS:
        raise ValueError(f"minters must be one of {MINTERS}, not {minters!r}")
    return "error" if minters == "outsiders" or escalation else "warning"


@dataclass(frozen=True)
class Rule:
    """One row of the rule catalog."""

    id: str
    severity: str
    """The default severity; a finding may be stricter or milder (named in the rule's title)."""
    title: str
    needs: str | None = None
    """None: any policy document; "issuer_url": issuer-specific; "issuer": issuer settings."""
    graded: bool = False
    """The severity follows ``graded_severity`` (who can mint): ``severity`` is the error side."""


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("OIDC001", "error", "allow policy identifies no workload (rules only on aud/iss/iat/exp/nbf/jti, the others starting with '*')"),
        Rule("OIDC002", "error", "shared issuer without the tenant pinned (immutable id, or exact tenant name in sub)", "issuer_url"),
        Rule("OIDC003", "error", "wildcard ('*', '?' or '.') in the owner/group/organization part of an identity claim (repo:*, repo:org*/...)"),
        Rule("OIDC004", "error", "organization-wide trust (repo:org/*, project_path:group/*, a workspace wildcard, or only the tenant id pinned)"),
        Rule("OIDC005", "error", "any branch or tag may mint the token (ref:refs/heads/*, ref:....), unless ref_protected or an environment guards it (warning: repository pinned by immutable id and no escalation, a family 'release/*', Bitbucket, CircleCI)", graded=True),
        Rule("OIDC006", "error", "pull-request / merge-request pipelines may mint the token (unreviewed code)"),
        Rule("OIDC007", "error", "identity taken from claims the workflow author controls, without an immutable anchor"),
        Rule("OIDC008", "warning", "repository, project or owner pinned by name only on a shared issuer (rename/recycling)", "issuer_url"),
        Rule("OIDC010", "error", "aud missing, wildcarded or another relying party's audience"),
        Rule("OIDC011", "warning", "aud is not this organization's urn:pulumi:org:ORG (error: it names another Pulumi organization, so the policy never admits this one's exchanges)"),
        Rule("OIDC012", "warning", "wildcard footgun: '.' is one-character wildcard, '?' is zero-or-one, '*' crosses '/' ':' '@', 'main*' prefix collision"),
        Rule("OIDC013", "error", "allow shadowed by a deny, or made redundant by a broader allow for the same token"),
        Rule("OIDC015", "error", "organization token with admin for a subject that is not exact"),
        Rule("OIDC016", "warning", "long token lifetime (issuer maxExpiration > 1 h for CI issuers, > 24 h anywhere)", "issuer"),
        Rule("OIDC017", "error", "issuer URL not https (loopback http: warning), or with query, fragment or userinfo", "issuer"),
        Rule("OIDC019", "warning", "uploaded JWKS problems (private key material or symmetric keys: error)", "issuer"),
        Rule("OIDC021", "info", "thumbprints configured (pinned certificates need rotating) or in the wrong format", "issuer"),
        Rule("OIDC023", "warning", "volatile claim pinned exactly (jti, run id, pod uid): matches one run only"),
        Rule("OIDC024", "warning", "Kubernetes subject or kubernetes.io claims wildcard the service account or trust 'default' (namespace not exact, cluster-wide: error)"),
        Rule("OIDC025", "warning", "issuer on a private host without an uploaded JWKS: Pulumi Cloud cannot fetch its keys", "issuer"),
        Rule("OIDC026", "warning", f"policy count near Pulumi Cloud's limit of {MAX_POLICIES} per issuer"),
        Rule("OIDC027", "info", "stale trust: the service reports the issuer unused for 90 days or more (lastUsed)", "issuer"),
        Rule("OIDC028", "error", "HCP Terraform run phase not pinned: a (speculative) plan gets the apply's token"),
        Rule("OIDC030", "error", "CircleCI SSH reruns admitted: no deny of oidc.circleci.com/ssh-rerun before the allow (warning: the subject pins the user, who already holds the job's access)", graded=True),
        Rule("OIDC040", "error", "wildcard ('*', '?' or '.') in team_name, user_login or runner_id of an allow"),
        Rule("OIDC041", "warning", "runner image is a mutable tag (no @sha256 digest) pulled IfNotPresent"),
        Rule("OIDC042", "error", "rule on a claim the platform's tokens do not carry, close to one they do (a typo: did you mean ...?); warning when no listed claim is close"),
    )
}
"""The rule catalog: id -> severity, title. The one table used by the linter, --help and docs."""


@dataclass(frozen=True)
class Finding:
    """One lint finding. ``message`` names the policy, the claim and what is wrong; ``fix`` says
    what to write instead."""

    id: str
    severity: str
    message: str
    fix: "str | Fix"
    """What to write instead; a ``Fix`` names arguments, rendered for where the user is (``text``)."""
    policy: int | None = None
    claim: str | None = None
    waiver: str | None = None
    """The waiver's reason when the finding was waived (see ``apply_waivers``)."""

    def fix_text(self, where: str = "python", context: str = "*") -> str:
        """The fix in the words of ``where`` (``provider.phrasing``): python, config or cli."""
        return render(self.fix, where, context)

    def to_json(self, where: str = "python", context: str = "*") -> dict[str, Any]:
        out = {
            "id": self.id,
            "severity": self.severity,
            "policy": self.policy,
            "claim": self.claim,
            "message": self.message,
            "fix": self.fix_text(where, context),
            "title": RULES[self.id].title if self.id in RULES else None,
        }
        if self.waiver is not None:
            out["waived"] = self.waiver
        return out

    def text(self, where: str = "python", context: str = "*") -> str:
        """One line: id, severity, message and the fix phrased for ``where``."""
        return f"{self.id} {self.severity}: {self.message} Fix: {self.fix_text(where, context)}"

    def __str__(self) -> str:
        return self.text()


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


def check_waivers(waivers: Mapping[str, str], where: str = "python", context: str = "*") -> list[str]:
    """Problems with a waiver map (empty list: usable). Each problem names the waiver and the fix,
    written for ``where`` the user gives waivers (``phrasing.WHERES``: a keyword argument, a
    ``pulumi config set``, an ``oidc-trust --waive`` flag), with the rule id the user meant when
    one is close (``oidc004``, ``OIDC04``)."""
    from ..phrasing import setting

    problems = []
    for rule_id, reason in waivers.items():
        if rule_id not in RULES:
            text = str(rule_id)
            meant = text.strip().upper() if text.strip().upper() in RULES else next(
                iter(difflib.get_close_matches(text.strip().upper(), list(RULES), n=1, cutoff=0.8)), None)
            if meant is not None:
                example = setting(where, context, "lint_waivers", {meant: reason or "<reason>"})
                problems.append(f"lint waiver {rule_id!r} names no lint rule; did you mean {meant}? write {example}")
                continue
            example = setting(where, context, "lint_waivers", {"OIDC012": "repository name has a dot"})
            problems.append(
                f"lint waiver {rule_id!r} names no lint rule; use one of the catalog ids "
                f"({', '.join(RULES)}), e.g. {example}"
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


def catalog_text() -> str:
    """The rule catalog as text lines (``--help`` and docs)."""
    lines = []
    for r in RULES.values():
        scope = {None: "", "issuer_url": " [needs --issuer]", "issuer": " [issuer settings]"}[r.needs]
        graded = " [severity: who can mint]" if r.graded else ""
        lines.append(f"  {r.id} {r.severity:<7} {r.title}{scope}{graded}")
    return "\n".join(lines)
