"""``oidc-trust audit``: lint every issuer of an organization as it stands in Pulumi Cloud.

Read-only: GETs the issuers and their policy documents (``provider.audit.collect``), lints each
with its issuer URL (``provider.audit``), and renders the report as text, JSON or SARIF 2.1.0.
With ``--out DIR`` it also writes each issuer's document to ``DIR/<org>/<issuer>.yaml``; the SARIF
results point at those files and the policy lines they concern.

Credentials are found as the provider finds them (``provider.settings``): ``--api-url`` (default
https://api.pulumi.com), then ``PULUMI_ACCESS_TOKEN``, then the Pulumi CLI's stored login for
that URL. The token is never printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

import yaml

from pulumi_oidc_trust.provider import audit as model
from pulumi_oidc_trust.provider import settings as settings_mod
from pulumi_oidc_trust.provider.client import PulumiCloudClient, PulumiCloudError
from pulumi_oidc_trust.provider.display import shown
from pulumi_oidc_trust.provider.lint import RULES, Finding, WaiverError, parse_service_time
from pulumi_oidc_trust.provider.simulate import describe_policy

from .main import EXIT_OK, EXIT_REFUSED, InputError, add_api_url_argument, parse_waivers, service_url

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT_KEY = "oidcTrustFinding/v1"
OUT_BASE = "AUDITROOT"
"""The SARIF ``uriBaseId`` of the files ``--out DIR`` writes (DIR itself)."""


# ---------------------------------------------------------------------------------------------
# Reading the service (shared with ``import``)


def connect(api_url: str | None, environ: Mapping[str, str] | None = None) -> PulumiCloudClient:
    """A client with the credentials the provider would use for ``api_url`` (``--api-url``, then
    ``$OIDC_TRUST_API_URL``, then the default: ``service_url``)."""
    url = service_url(api_url, environ)
    settings = settings_mod.resolve(lambda key: url if key == settings_mod.CONFIG_API_URL else None, environ)
    if settings.api_url_problem:
        raise InputError(f"--api-url: {settings.api_url_problem.split(': ', 1)[-1]}")
    if not settings.access_token:
        raise InputError(
            f"no Pulumi access token for {settings.api_url}: set PULUMI_ACCESS_TOKEN, or run "
            f"`pulumi login {settings.api_url}` (an organization admin's token is needed)"
        )
    # The token's source, so a token that cannot be sent is reported naming only where it came from.
    return PulumiCloudClient(settings.api_url, settings.access_token, token_source=settings.token_source)


def fetch(api_url: str | None, organization: str, issuer_ids: Sequence[str] | None = None) -> list[tuple[dict, dict]]:
    """The (issuer, policy answer) pairs of ``organization``; errors are ``InputError``s."""
    with connect(api_url) as client:
        try:
            return model.collect(client, organization, issuer_ids)
        except model.AuditAccessError as e:
            raise InputError(str(e))
        except PulumiCloudError as e:
            raise InputError(f"{e}; nothing was read from organization {organization!r}")


# ---------------------------------------------------------------------------------------------
# The per-issuer document file (``--out``): what `oidc-trust lint --policies FILE` reads back


@dataclass(frozen=True)
class DocumentFile:
    path: str
    """Relative to the output folder: ``<org>/<issuer>.yaml``."""
    text: str
    policy_lines: tuple[tuple[int, int], ...]
    """(first line, last line) of each policy, 1-based."""
    issuer_line: int


def document_file(item: model.IssuerAudit, name: str) -> DocumentFile:
    """The issuer's document as YAML. The service's strings reach the header comment only through
    ``shown`` (one line each, so no line break adds a key or moves the SARIF line numbers) and the
    body only through ``yaml.safe_dump`` (which escapes what is not printable ASCII)."""
    lint_again = shlex.join(["oidc-trust", "lint", "--policies", "THIS_FILE", "--issuer", shown(item.url),
                             "--org", shown(item.organization)])
    header = [
        f"# OIDC issuer '{shown(item.name)}' of Pulumi Cloud organization {shown(item.organization)}, as the service holds it.",
        f"# Lint it again: {lint_again}",
    ]
    if item.meaning:
        header.append(f"# This is {item.meaning}.")
    issuer = {k: item.issuer[k] for k in ("id", "name", "url", "maxExpiration", "lastUsed", "jwks") if item.issuer.get(k) is not None}
    lines = header + yaml.safe_dump({"issuer": issuer, "version": item.version}, sort_keys=False).splitlines()
    issuer_line = len(header) + 1
    lines.append("policies:")
    spans = []
    for policy in item.raw_policies:
        chunk = yaml.safe_dump([dict(policy)], sort_keys=False).splitlines()
        spans.append((len(lines) + 1, len(lines) + len(chunk)))
        lines += chunk
    if not item.raw_policies:
        lines[-1] = "policies: []"
    return DocumentFile(f"{item.organization}/{name}.yaml", "\n".join(lines) + "\n", tuple(spans), issuer_line)


def write_documents(report: model.OrgAudit, out: str) -> dict[str, DocumentFile]:
    names = model.issuer_slugs(report.issuers)
    files = {item.id: document_file(item, names[item.id]) for item in report.issuers}
    try:
        for f in files.values():
            target = Path(out) / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"--out '{out}': {e.strerror or type(e).__name__}; give a writable directory")
    return files


# ---------------------------------------------------------------------------------------------
# Rendering


def last_used_text(item: model.IssuerAudit, now: datetime) -> str:
    if item.last_used is None:
        return "last used: not reported"
    at = parse_service_time(item.last_used)
    if at is None:
        return f"last used: {shown(item.last_used)}"
    return f"last used: {shown(item.last_used)} ({(now - at).days} days ago)"


def _verdict_line(report: model.OrgAudit) -> str:
    counts = {v: sum(i.verdict == v for i in report.issuers) for v in model.VERDICTS}
    parts = [f"{n} {v}" for v, n in counts.items() if n]
    return (
        f"organization {report.organization}: {len(report.issuers)} issuer(s)"
        + (f" ({', '.join(parts)})" if parts else "")
        + f"; {report.count('error')} error(s), {report.count('warning')} warning(s), {report.count('info')} info"
        + f"; verdict: {report.verdict}"
    )


class _Paint:
    CODES = {"error": "31;1", "unsafe": "31;1", "unreadable": "31;1", "warning": "33", "review": "33",
             "info": "36", "ok": "32", "closed": "32", "bold": "1"}

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled or style not in self.CODES:
            return text
        return f"\033[{self.CODES[style]}m{text}\033[0m"


def use_colour(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return bool(getattr(stream, "isatty", lambda: False)()) and not environ.get("NO_COLOR")


def policy_lines(item: model.IssuerAudit) -> list[str]:
    """``--show-policies``: each policy of the document, as the service holds it, and its rules."""
    lines = []
    for index, policy in enumerate(item.policies):
        lines.append(f"  policy {index}: {shown(describe_policy(policy))}")
        for claim, pattern in policy.rules.items():
            lines.append(f"      {shown(claim)}: {shown(pattern)}")
    return lines


def render_text(report: model.OrgAudit, *, colour: bool = False, now: datetime | None = None,
                show_policies: bool = False) -> str:
    """The report for a person. Every string that is not ours (names, URLs, ids, the findings,
    which quote the policies) goes through ``shown``: the only escapes on a line are our colours.
    ``show_policies`` lists each issuer's policies and their rules under its document line."""
    now = now or datetime.now(timezone.utc)
    paint = _Paint(colour)
    lines = [paint(shown(_verdict_line(report)), "bold"), ""]
    for item in report.issuers:
        lines.append(paint(shown(item.name), "bold") + f"  {shown(item.url)}  (id {shown(item.id)})")
        lines.append(f"  {last_used_text(item, now)}")
        if item.meaning:
            lines.append(f"  document: {item.meaning}")
        elif item.document == model.UNREADABLE:
            lines.append(f"  document: could not be read: {shown(item.problem)}")
        else:
            count = len(item.policies)
            lines.append(f"  document: {count} polic{'y' if count == 1 else 'ies'}, version {item.version}")
        if show_policies:
            lines += policy_lines(item)
        for f in item.findings:
            lines.append(f"  {paint(f'{f.id} {f.severity:<7}', f.severity)} {shown(f.message)}")
            lines.append(f"      fix: {shown(model.console_fix(f, item.name))}")
        for f in item.waived:
            lines.append(f"  {f.id} waived  : {shown(f.waiver)}")
        lines.append(f"  verdict: {paint(item.verdict, item.verdict)}")
        lines.append("")
    if not report.issuers:
        lines.append("no OIDC issuers are registered in this organization")
    return "\n".join(lines).rstrip() + "\n"


def _finding_json(f: Finding, item: model.IssuerAudit) -> dict[str, Any]:
    return {**f.to_json(), "console_fix": model.console_fix(f, item.name)}


def render_json(report: model.OrgAudit) -> dict[str, Any]:
    return {
        "organization": report.organization,
        "verdict": report.verdict,
        "errors": report.count("error"),
        "warnings": report.count("warning"),
        "infos": report.count("info"),
        "issuers": [
            {
                "id": item.id,
                "name": item.name,
                "url": item.url,
                "lastUsed": item.last_used,
                "lastUsedReported": item.last_used is not None,
                "maxExpiration": item.issuer.get("maxExpiration"),
                "document": item.document,
                "meaning": item.meaning,
                "problem": item.problem,
                "version": item.version,
                "policies": [dict(p) for p in item.raw_policies],
                "verdict": item.verdict,
                "errors": item.count("error"),
                "warnings": item.count("warning"),
                "infos": item.count("info"),
                "findings": [_finding_json(f, item) for f in item.findings],
                "waived": [_finding_json(f, item) for f in item.waived],
            }
            for item in report.issuers
        ],
    }


def fingerprint(item: model.IssuerAudit, f: Finding) -> str:
    """Stable across runs: the organization, the issuer URL, the rule, the claim and the policy's
    own content; not the message (OIDC027's names a day count), not the policy's index (inserting
    a policy must not make every later finding new), not the issuer id (re-registering the same
    issuer keeps its findings)."""
    policy = item.raw_policies[f.policy] if f.policy is not None and f.policy < len(item.raw_policies) else None
    key = json.dumps(
        [item.organization, item.url.rstrip("/"), f.id, f.claim, policy], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def render_sarif(
    report: model.OrgAudit, files: Mapping[str, DocumentFile] | None = None, out: str | None = None
) -> dict[str, Any]:
    """SARIF 2.1.0: one run, the catalog's rules, one result per active finding (waived ones
    carry a suppression). Locations are the ``--out`` files (``uriBaseId`` AUDITROOT, DIR).
    What a viewer shows (message, logical location) goes through ``shown``; ``properties`` keep
    the service's exact values, as ``--format json`` does (JSON escapes them)."""
    if files is None:
        names = model.issuer_slugs(report.issuers)
        files = {item.id: document_file(item, names[item.id]) for item in report.issuers}
    rule_ids = list(RULES)
    results = []
    for item in report.issuers:
        doc = files[item.id]
        for f, waived in [(f, False) for f in item.findings] + [(f, True) for f in item.waived]:
            if f.policy is not None and f.policy < len(doc.policy_lines):
                start, end = doc.policy_lines[f.policy]
                logical = f"{item.organization}/{item.name}/policies[{f.policy}]"
            else:
                start, end = doc.issuer_line, doc.issuer_line
                logical = f"{item.organization}/{item.name}"
            logical = shown(logical)
            result: dict[str, Any] = {
                "ruleId": f.id,
                "ruleIndex": rule_ids.index(f.id),
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": shown(f"{f.message} Fix: {model.console_fix(f, item.name)}")},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": doc.path, "uriBaseId": OUT_BASE},
                            "region": {"startLine": start, "endLine": end},
                        },
                        "logicalLocations": [{"fullyQualifiedName": logical, "kind": "element" if f.policy is not None else "resource"}],
                    }
                ],
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint(item, f)},
                "properties": {"organization": item.organization, "issuerId": item.id, "issuerUrl": item.url,
                               "policy": f.policy, "claim": f.claim},
            }
            if waived:
                result["suppressions"] = [{"kind": "external", "justification": f.waiver or ""}]
            results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "oidc-trust",
                "semanticVersion": _version(),
                "rules": [
                    {
                        "id": r.id,
                        "shortDescription": {"text": r.title},
                        "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
                    }
                    for r in RULES.values()
                ],
            }
        },
        "automationDetails": {"id": f"oidc-trust-audit/{report.organization}/"},
        "results": results,
    }
    if out is not None:
        run["originalUriBaseIds"] = {OUT_BASE: {"uri": Path(out).resolve().as_uri() + "/"}}
    return {"version": "2.1.0", "$schema": SARIF_SCHEMA, "runs": [run]}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("pulumi-oidc-trust")
    except Exception:  # not installed as a distribution (a checkout on sys.path)
        return "0.0.0"


# ---------------------------------------------------------------------------------------------
# The command


def cmd_audit(args: argparse.Namespace) -> int:
    waivers = parse_waivers(args.waive)
    pairs = fetch(args.api_url, args.org)
    try:
        report = model.audit_organization(args.org, pairs, waivers=waivers)
    except WaiverError as e:
        raise InputError(f"--waive: {e}")
    files = write_documents(report, args.out) if args.out else None
    if args.format == "json":
        print(json.dumps(render_json(report), indent=2))
    elif args.format == "sarif":
        print(json.dumps(render_sarif(report, files, args.out), indent=2))
    else:
        sys.stdout.write(render_text(report, colour=use_colour(sys.stdout), show_policies=args.show_policies))
    return EXIT_REFUSED if report.failed else EXIT_OK


def add_connection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--org", required=True, metavar="ORG", help="the Pulumi Cloud organization")
    add_api_url_argument(
        p, "Pulumi Cloud API (https, or http to loopback; default $OIDC_TRUST_API_URL, else "
        "https://api.pulumi.com); the token is PULUMI_ACCESS_TOKEN, else the Pulumi CLI's stored login for this URL",
    )


def register(commands: Any) -> None:
    """Add ``audit`` to the ``oidc-trust`` subcommands."""
    p = commands.add_parser(
        "audit",
        help="lint every OIDC issuer of an organization as it stands in Pulumi Cloud (read-only)",
        description="Read every OIDC issuer of an organization and its policy document (GET only: nothing is "
        "changed), lint each with its issuer URL, and report findings, the fix to make in the console, the "
        "service's default and CLOSED documents, lastUsed (unused for 90 days: OIDC027) and a verdict. "
        "Needs an organization admin's token.",
        epilog="Exit: 0 no unwaived error, 1 unwaived errors (or a document that cannot be read), 2 input, "
        "credential or service error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_arguments(p)
    p.add_argument("--waive", action="append", default=[], metavar="ID=REASON", help="waive a rule, with the reason (repeatable)")
    p.add_argument("--out", metavar="DIR", help="also write each issuer's document to DIR/<org>/<issuer>.yaml")
    p.add_argument("--show-policies", action="store_true",
                   help="text output: list each issuer's policies and their rules (json and sarif always hold them)")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="output format (default: text)")
    p.set_defaults(handler=cmd_audit)
