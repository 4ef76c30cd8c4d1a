"""The trust-policy linter: findings with stable ids, from the catalog in research/peers.md §2.4.

``lint_policies`` checks an issuer's ordered policy document; ``lint_issuer`` checks the issuer's
own settings (URL, uploaded JWKS, lifetime cap, thumbprints). Both are pure: no HTTP.

Which rules run when (``Rule.needs``):

* ``None``: always, on any policy document. Subjects are recognised by their shape, whatever the
  issuer, in every form of ``subjects.GRAMMARS``: GitHub (classic ``repo:OWNER/REPO:...`` and
  ID-bearing ``repo:OWNER@ID/REPO@ID:...``), GitLab (``project_path:GROUP/PROJECT:...`` and
  ID-led ``project_id:ID:...``), Kubernetes (``system:serviceaccount:NS:SA``), CircleCI
  (``org/ORG/project/PROJECT/user/USER[/vcs-origin/O/vcs-ref/R]``), HCP Terraform and Bitbucket.
  Claim names are checked against the platform's published list (``claims.CLAIM_PROFILES``, OIDC042).
* Severity follows who can mint the token (``catalog.SEVERITY_PRINCIPLE``, ``graded_severity``).
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

The package, by concern: ``catalog`` (rule table, severity principle, findings, waivers),
``profiles`` (well-known issuers), ``claims`` (each platform's claim names), ``subjects`` (subject
grammars), ``patterns`` (what a wildcard admits),
``policy_rules`` (one allow policy at a time), ``document_rules`` (the ordered document) and
``issuer_rules`` (the issuer's settings).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from ..policy import Policy, parse_policies
from .catalog import (
    RULES,
    SEVERITIES,
    SEVERITY_PRINCIPLE,
    graded_severity,
    Finding,
    LintReport,
    Rule,
    WaiverError,
    apply_waivers,
    catalog_text,
    check_waivers,
    errors,
)
from .document_rules import NEAR_LIMIT, covers, overlaps, policy_count
from .issuer_rules import (
    ANY_MAX_LIFETIME,
    CI_MAX_LIFETIME,
    MAX_JWKS_BYTES,
    MAX_JWKS_KEYS,
    STALE_AFTER_DAYS,
    check_issuer_url,
    check_last_used,
    check_jwks,
    check_lifetime,
    check_private_issuer,
    check_thumbprints,
    parse_service_time,
)
from .patterns import is_exact
from .policy_rules import POLICY_CHECKS, PolicyView, claim_name_findings
from .profiles import IssuerProfile, issuer_profile
from .security_rules import name_wildcard_findings
from .claims import CLAIM_PROFILES, ClaimProblem, claim_problem
from .subjects import GRAMMARS, Subject, build_subject, form_mismatch, parse_subject

__all__ = [
    "CLAIM_PROFILES", "ClaimProblem", "GRAMMARS", "SEVERITY_PRINCIPLE", "build_subject", "claim_problem",
    "form_mismatch", "graded_severity",
    "ANY_MAX_LIFETIME", "CI_MAX_LIFETIME", "MAX_JWKS_BYTES", "MAX_JWKS_KEYS", "NEAR_LIMIT", "RULES",
    "SEVERITIES", "STALE_AFTER_DAYS", "Finding", "IssuerProfile", "LintReport", "Rule", "Subject", "WaiverError",
    "apply_waivers", "catalog_text", "check_waivers", "covers", "errors", "is_exact", "issuer_profile",
    "lint", "lint_issuer", "lint_policies", "parse_service_time", "parse_subject",
]


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
    findings += policy_count(parsed)
    for index, policy in enumerate(parsed):
        if policy.decision != "allow":
            continue
        view = PolicyView(index, policy, profile, issuer_url, organization, tuple(parsed))
        for check in POLICY_CHECKS:
            findings += check(view)
    findings += overlaps(parsed)
    findings += name_wildcard_findings(parsed)
    findings += claim_name_findings(tuple(parsed), profile, issuer_url, organization)
    return sorted(findings, key=_order)


def lint_issuer(
    url: str,
    *,
    jwks: Mapping[str, Any] | None = None,
    max_expiration_seconds: int | None = None,
    thumbprints: Sequence[str] | None = None,
    requested_expiration_seconds: int | None = None,
    last_used: str | None = None,
    now: datetime | None = None,
) -> list[Finding]:
    """Findings for an issuer's settings: URL (OIDC017, OIDC025), JWKS (OIDC019), lifetime cap
    (OIDC016; ``None`` is the service default and is not checked), thumbprints (OIDC021) and, when
    the service reports ``last_used``, stale trust (OIDC027; ``now`` defaults to the clock)."""
    findings = check_issuer_url(url)
    findings += check_private_issuer(url, jwks)
    if jwks is not None:
        findings += check_jwks(jwks)
    findings += check_lifetime(url, max_expiration_seconds, requested_expiration_seconds)
    findings += check_thumbprints(thumbprints)
    findings += check_last_used(last_used, now)
    return sorted(findings, key=_order)


def _as_policies(policies: Sequence[Policy | Mapping[str, Any]]) -> list[Policy]:
    if all(isinstance(p, Policy) for p in policies):
        return list(policies)  # type: ignore[arg-type]
    return parse_policies([p.to_wire() if isinstance(p, Policy) else p for p in policies])


def _order(f: Finding) -> tuple[int, str]:
    return (-1 if f.policy is None else f.policy, f.id)
