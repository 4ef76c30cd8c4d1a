"""The audit of an organization's existing trust: what ``oidc-trust audit`` and ``import`` report.

``collect`` reads every issuer of an organization and its policy document through the REST client
(reads only: nothing is ever written); ``audit_issuer`` turns one (issuer, document) pair into an
``IssuerAudit`` with pure functions: the linter's findings for the issuer's URL and settings, the
service's default and CLOSED documents recognised as such, stale trust from ``lastUsed``
(OIDC027), and a verdict. Rendering (text, JSON, SARIF) lives with the command (``cli/audit.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from . import lint
from . import policy as model
from .client import PulumiCloudClient, PulumiCloudError
from .lint import Finding

# What a document is, as the audit names it.
POLICIES, SERVICE_DEFAULT, CLOSED, UNREADABLE = "policies", "service_default", "closed", "unreadable"

CLOSED_MEANING = "CLOSED: one deny for this organization's audience; it denies every exchange"

# Verdicts, worst first. "closed": the document denies every exchange (nothing to review).
VERDICTS = ("unsafe", "unreadable", "review", "ok", "closed")

ADMIN_NEEDED = (
    "reading OIDC issuers and their policies needs an organization admin's token: a personal access "
    "token of an admin of {org}, or an organization token with the admin scope"
)


@dataclass(frozen=True)
class IssuerAudit:
    """One issuer as the audit saw it."""

    organization: str
    issuer: Mapping[str, Any]
    """The service's issuer object (id, name, url, maxExpiration, jwks, lastUsed, ...)."""
    document: str
    """POLICIES, SERVICE_DEFAULT, CLOSED or UNREADABLE."""
    raw_policies: tuple[Mapping[str, Any], ...]
    """The policies exactly as the service returned them (wire keys)."""
    policies: tuple[model.Policy, ...] = ()
    version: int | None = None
    findings: tuple[Finding, ...] = ()
    waived: tuple[Finding, ...] = ()
    problem: str | None = None
    """Why the document could not be read (UNREADABLE)."""

    @property
    def id(self) -> str:
        return str(self.issuer.get("id", ""))

    @property
    def name(self) -> str:
        return str(self.issuer.get("name") or self.issuer.get("url") or self.id)

    @property
    def url(self) -> str:
        return str(self.issuer.get("url", ""))

    @property
    def last_used(self) -> str | None:
        """What the service reports; None means "not reported" (never a finding by itself)."""
        value = self.issuer.get("lastUsed")
        return value if isinstance(value, str) and value.strip() else None

    def count(self, severity: str) -> int:
        return sum(f.severity == severity for f in self.findings)

    @property
    def verdict(self) -> str:
        if self.count("error"):
            return "unsafe"
        if self.document == UNREADABLE:
            return "unreadable"
        if self.count("warning"):
            return "review"
        if self.document in (SERVICE_DEFAULT, CLOSED):
            return "closed"
        return "ok"

    @property
    def meaning(self) -> str | None:
        return {SERVICE_DEFAULT: model.SERVICE_DEFAULT_MEANING, CLOSED: CLOSED_MEANING}.get(self.document)


@dataclass(frozen=True)
class OrgAudit:
    organization: str
    issuers: tuple[IssuerAudit, ...] = field(default_factory=tuple)

    def count(self, severity: str) -> int:
        return sum(i.count(severity) for i in self.issuers)

    @property
    def verdict(self) -> str:
        """The worst issuer verdict ("ok" for an organization without issuers)."""
        found = [i.verdict for i in self.issuers] or ["ok"]
        return min(found, key=VERDICTS.index)

    @property
    def failed(self) -> bool:
        """An unwaived error, or a document the audit could not read: exit code 1."""
        return any(i.verdict in ("unsafe", "unreadable") for i in self.issuers)


# ---------------------------------------------------------------------------------------------
# Pure logic


def classify(organization: str, answer: Mapping[str, Any]) -> tuple[str, model.Document | None, str | None]:
    """(what the GET answer's document is, the parsed document, why it is unreadable)."""
    try:
        document = model.read_document(answer)
    except model.PolicyError as e:
        return UNREADABLE, None, str(e)
    if document.service_default:
        return SERVICE_DEFAULT, document, None
    if model.same_document(model.policies_to_wire(document.policies), model.closed_policies(organization)):
        return CLOSED, document, None
    return POLICIES, document, None


def audit_issuer(
    organization: str,
    issuer: Mapping[str, Any],
    answer: Mapping[str, Any],
    *,
    waivers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> IssuerAudit:
    """Lint one issuer and its policy document (``answer``: the GET answer). Raises
    ``lint.WaiverError`` for unusable waivers."""
    kind, document, problem = classify(organization, answer)
    url = str(issuer.get("url", ""))
    # Thumbprints are not linted: the service records one for every issuer it can reach, so
    # "thumbprints configured" (OIDC021) would fire on every issuer whoever set it up.
    findings = lint.lint_issuer(
        url,
        jwks=issuer.get("jwks") or None,
        max_expiration_seconds=issuer.get("maxExpiration") or None,
        last_used=issuer.get("lastUsed") or None,
        now=now,
    )
    if document is not None and document.policies:
        findings += lint.lint_policies(list(document.policies), issuer_url=url, organization=organization)
    active, waived = lint.apply_waivers(findings, waivers or {})
    raw = answer.get("policies")
    return IssuerAudit(
        organization=organization,
        issuer=dict(issuer),
        document=kind,
        raw_policies=tuple(raw) if isinstance(raw, list) else (),
        policies=document.policies if document is not None else (),
        version=answer.get("version") if isinstance(answer.get("version"), int) else None,
        findings=tuple(active),
        waived=tuple(waived),
        problem=problem,
    )


def audit_organization(
    organization: str,
    pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    waivers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> OrgAudit:
    """The audit of ``pairs`` of (issuer, policy GET answer), in the service's order."""
    return OrgAudit(
        organization,
        tuple(audit_issuer(organization, issuer, answer, waivers=waivers, now=now) for issuer, answer in pairs),
    )


def console_fix(finding: Finding, issuer_name: str) -> str:
    """The finding's fix, said for someone editing the trust by hand in the Pulumi Cloud console."""
    if finding.policy is not None:
        where = f"in the Pulumi Cloud console, edit issuer '{issuer_name}' (organization settings, OIDC issuers), policy {finding.policy} (number {finding.policy + 1} in its list)"
    else:
        where = f"in the Pulumi Cloud console, open issuer '{issuer_name}' (organization settings, OIDC issuers)"
    return f"{where}: {finding.fix}"


def slug(text: str, fallback: str = "issuer") -> str:
    """A readable file and resource name: lower case letters, digits and dashes."""
    out = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return out[:60].strip("-") or fallback


def issuer_slugs(issuers: Sequence[IssuerAudit]) -> dict[str, str]:
    """issuer id -> a slug of its name, unique within the organization (the file name of
    ``audit --out`` and the resource name of ``import``)."""
    taken: set[str] = set()
    out = {}
    for item in issuers:
        base = slug(item.name)
        name = base if base not in taken else f"{base}-{slug(item.id)[:8]}"
        counter = 2
        while name in taken:
            name = f"{base}-{counter}"
            counter += 1
        taken.add(name)
        out[item.id] = name
    return out


# ---------------------------------------------------------------------------------------------
# Reading the service (reads only)


class AuditAccessError(Exception):
    """The service would not let this token read the organization's trust: the message names
    the permission needed and the way to give a token."""


def collect(
    client: PulumiCloudClient, organization: str, issuer_ids: Sequence[str] | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every issuer of ``organization`` (or those of ``issuer_ids``, in that order) with its
    policy GET answer. GETs only. Raises ``AuditAccessError`` for 401/403 and for an unknown
    issuer id, ``PulumiCloudError`` for anything else the service refused."""
    try:
        issuers = client.list_issuers(organization)
        if issuer_ids:
            by_id = {str(i.get("id")): i for i in issuers}
            unknown = [i for i in issuer_ids if i not in by_id]
            if unknown:
                known = ", ".join(f"{i.get('id')} ({i.get('name')})" for i in issuers) or "none"
                raise AuditAccessError(
                    f"organization {organization!r} has no issuer with id {', '.join(unknown)}; its issuers: {known}"
                )
            issuers = [by_id[i] for i in issuer_ids]
        return [(dict(issuer), client.get_auth_policy(organization, str(issuer["id"]))) for issuer in issuers]
    except PulumiCloudError as e:
        if e.status == 404 and e.operation == "list OIDC issuers":
            raise AuditAccessError(
                f"organization {organization!r} was not found ({e}); check the spelling of --org: "
                "nothing was read"
            ) from None
        if e.status == 403:
            raise AuditAccessError(
                f"{e.operation}: the service refused this token (403: {e.message}); "
                + ADMIN_NEEDED.format(org=organization)
            ) from None
        if e.status == 401:
            raise AuditAccessError(
                f"{e.operation}: the service does not accept this token (401: {e.message}); give a valid one "
                "with PULUMI_ACCESS_TOKEN or `pulumi login`. " + ADMIN_NEEDED.format(org=organization)
            ) from None
        raise
