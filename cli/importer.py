"""``oidc-trust import``: write a Pulumi program declaring an organization's trust as it stands.

Per issuer one ``OidcIssuer(..., adopt=True)`` and, unless the issuer still holds the service's
default document, one ``OidcIssuerPolicy(..., adopt=True)`` with the exact ordered policies and
the ``issuer_url``. The lint findings are comments above the policies they concern, and every
error rule found is in ``lint_waivers`` ("imported unchanged; review") so that ``pulumi preview``
passes on what exists. Adopting writes nothing when the service already holds what is declared,
so the first ``pulumi up`` of the program changes nothing on the service.

``program_files`` is pure (report in, file texts out); ``cmd_import`` reads the service (GETs only)
and writes the files.
"""

from __future__ import annotations

import argparse
import json
import pprint
import sys
from pathlib import Path
from typing import Any

from pulumi_oidc_trust.provider import audit as model
from pulumi_oidc_trust.provider.lint import Finding
from pulumi_oidc_trust.provider.policy import Policy

from .audit import add_connection_arguments, document_file, fetch
from .main import EXIT_OK, InputError

WAIVER_REASON = "imported unchanged; review"
INDENT = "    "


def _literal(value: Any) -> str:
    """A Python literal for a string (JSON's escapes are valid Python)."""
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" if line else f"{indent}#" for line in text.splitlines()]


def _finding_comment(f: Finding, indent: str) -> list[str]:
    lines = _comment(f"{f.id} {f.severity}: {f.message}", indent)
    lines += _comment(f"  fix: {f.fix}", indent)
    return lines


def _policy_lines(policy: Policy, findings: list[Finding], indent: str) -> list[str]:
    lines = []
    for f in findings:
        lines += _finding_comment(f, indent)
    data = policy.to_python()
    data = {**{k: v for k, v in data.items() if k != "rules"}, "rules": data["rules"]}  # rules last: easier to read
    lines.append(f"{indent}{{")
    inner = indent + INDENT
    for key, value in data.items():
        if key == "rules":
            lines.append(f"{inner}\"rules\": {{")
            for claim, pattern in value.items():
                lines.append(f"{inner}{INDENT}{_literal(claim)}: {_literal(pattern)},")
            lines.append(f"{inner}}},")
        elif isinstance(value, list):
            lines.append(f"{inner}{_literal(key)}: [{', '.join(_literal(v) for v in value)}],")
        else:
            lines.append(f"{inner}{_literal(key)}: {_literal(value)},")
    lines.append(f"{indent}}},")
    return lines


def _identifier(name: str) -> str:
    text = name.replace("-", "_")
    return text if text[:1].isalpha() else f"issuer_{text}"


def issuer_block(item: model.IssuerAudit, name: str) -> list[str]:
    """The Python of one issuer: its OidcIssuer and (but for the service's default) its policy."""
    var = _identifier(name)
    lines = [f"# --- {item.name} (id {item.id}; {item.last_used and 'last used ' + item.last_used or 'lastUsed not reported'})"]
    for f in [f for f in item.findings if f.policy is None]:
        lines += _finding_comment(f, "")
    lines += [
        f"{var} = OidcIssuer(",
        f"{INDENT}{_literal(name)},",
        f"{INDENT}organization=ORG,",
        f"{INDENT}url={_literal(item.url)},",
        f"{INDENT}name={_literal(item.name)},",
    ]
    if item.issuer.get("maxExpiration"):
        lines.append(f"{INDENT}max_expiration_seconds={int(item.issuer['maxExpiration'])},")
    if item.issuer.get("jwks"):
        jwks = pprint.pformat(item.issuer["jwks"], indent=1, width=96, sort_dicts=False)
        jwks_lines = jwks.splitlines()
        lines.append(f"{INDENT}jwks={jwks_lines[0]}")
        lines += [f"{INDENT}{' ' * len('jwks=')}{line}" for line in jwks_lines[1:]]
        lines[-1] += ","
    lines += [f"{INDENT}adopt=True,", ")", ""]
    if item.document == model.SERVICE_DEFAULT:
        lines += _comment(
            f"No OidcIssuerPolicy for {item.name}: it holds the service's default document, which denies every\n"
            "exchange and cannot be written back (its sub rule is empty). Declare an OidcIssuerPolicy here\n"
            "when you write the issuer's first allow policy.",
            "",
        )
        return lines + [""]
    if item.document == model.UNREADABLE:
        lines += _comment(
            f"No OidcIssuerPolicy for {item.name}: its document could not be read ({item.problem}).\n"
            "Fix it in the console, then run `oidc-trust import` again.",
            "",
        )
        return lines + [""]
    if item.document == model.CLOSED:
        lines += _comment(f"{item.name} is shut: {model.CLOSED_MEANING}.", "")
    by_policy: dict[int, list[Finding]] = {}
    for f in item.findings:
        if f.policy is not None:
            by_policy.setdefault(f.policy, []).append(f)
    lines += [
        "OidcIssuerPolicy(",
        f"{INDENT}{_literal(name + '-policies')},",
        f"{INDENT}organization=ORG,",
        f"{INDENT}issuer_id={var}.issuer_id,",
        f"{INDENT}issuer_url={_literal(item.url)},",
        f"{INDENT}policies=[",
    ]
    for index, policy in enumerate(item.policies):
        lines += _policy_lines(policy, by_policy.get(index, []), INDENT * 2)
    lines.append(f"{INDENT}],")
    errors = sorted({f.id for f in item.findings if f.severity == "error" and f.policy is not None}
                    | {f.id for f in item.findings if f.severity == "error" and f.policy is None and f.id not in _ISSUER_ONLY})
    if errors:
        lines.append(f"{INDENT}lint_waivers={{")
        lines += [f"{INDENT * 2}{_literal(rule_id)}: {_literal(WAIVER_REASON)}," for rule_id in errors]
        lines.append(f"{INDENT}}},")
    lines += [f"{INDENT}adopt=True,", ")", ""]
    return lines


# Issuer-setting rules are checked by OidcIssuer, which takes no waivers: they cannot be waived on
# the policy resource, and are left as comments above the issuer.
_ISSUER_ONLY = frozenset({"OIDC016", "OIDC017", "OIDC019", "OIDC021", "OIDC025", "OIDC027"})


def main_py(report: model.OrgAudit) -> str:
    names = model.issuer_slugs(report.issuers)
    head = [
        f'"""The OIDC trust of Pulumi Cloud organization {report.organization!r}, as it stood when imported by',
        "`oidc-trust import`.",
        "",
        "Every resource adopts what exists (adopt=True): the first `pulumi up` writes nothing while the",
        "service still holds what is declared here. After that first `pulumi up`, remove every adopt=True:",
        "the stack owns the trust from then on (and a later rename without aliases must not be taken for",
        "an adoption). Lint errors are waived as \"imported unchanged; review\": fix each one (the comments",
        "above the policies say how), then remove its waiver.",
        '"""',
        "",
        "from pulumi_oidc_trust.provider.issuer import OidcIssuer",
        "from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicy",
        "",
        f"ORG = {_literal(report.organization)}",
        "",
    ]
    body: list[str] = []
    for item in report.issuers:
        body += issuer_block(item, names[item.id]) + [""]
    if not report.issuers:
        body = ["# The organization has no OIDC issuers."]
    return "\n".join(head + body).rstrip() + "\n"


def pulumi_yaml(report: model.OrgAudit) -> str:
    return (
        f"name: {model.slug(report.organization, 'org')}-oidc-trust\n"
        f"description: OIDC trust of Pulumi Cloud organization {report.organization} (imported by oidc-trust import)\n"
        "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n"
    )


REQUIREMENTS = (
    "# The program's dependencies. pulumi-oidc-trust is this project: install it from its checkout\n"
    "# (pip install /path/to/pulumi-oidc-trust) or from wherever your organization keeps it.\n"
    "pulumi>=3.216,<4\n"
    "pulumi-oidc-trust\n"
)


def program_files(report: model.OrgAudit) -> dict[str, str]:
    """File name -> text of the imported program."""
    return {"Pulumi.yaml": pulumi_yaml(report), "__main__.py": main_py(report), "requirements.txt": REQUIREMENTS}


def documents_text(report: model.OrgAudit) -> str:
    """``import --print``: each issuer's document as the service holds it (YAML, one per issuer)."""
    names = model.issuer_slugs(report.issuers)
    return "---\n".join(document_file(item, names[item.id]).text for item in report.issuers)


def cmd_import(args: argparse.Namespace) -> int:
    if not args.print and not args.out:
        raise InputError("give --out DIR (where to write the program), or --print to print the documents only")
    pairs = fetch(args.api_url, args.org, args.issuer or None)
    report = model.audit_organization(args.org, pairs)
    if args.print:
        sys.stdout.write(documents_text(report))
        return EXIT_OK
    out = Path(args.out)
    files = program_files(report)
    existing = [name for name in files if (out / name).exists()]
    if existing:
        raise InputError(f"--out '{args.out}' already holds {', '.join(existing)}; give an empty or new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"--out '{args.out}': {e.strerror or type(e).__name__}; give a writable directory")
    waived = sum(1 for item in report.issuers for f in item.findings if f.severity == "error")
    print(f"wrote {out / '__main__.py'}: {len(report.issuers)} issuer(s), {waived} lint error(s) waived for review")
    return EXIT_OK


def register(commands: Any) -> None:
    """Add ``import`` to the ``oidc-trust`` subcommands."""
    p = commands.add_parser(
        "import",
        help="write a Pulumi program declaring the organization's existing trust (adopt=True)",
        description="Read the organization's OIDC issuers and policies (GET only) and write a Python Pulumi "
        "program (__main__.py, Pulumi.yaml, requirements.txt) that declares them exactly, with adopt=True: "
        "its first `pulumi up` changes nothing on the service. Lint findings are comments; lint errors are "
        f"waived as {WAIVER_REASON!r}. --print prints the documents instead.",
        epilog="Exit: 0 written, 2 input, credential or service error.",
    )
    add_connection_arguments(p)
    p.add_argument("--issuer", action="append", metavar="ID", help="import only this issuer (repeatable; default: all)")
    p.add_argument("--out", metavar="DIR", help="the folder to write the program into (new or empty)")
    p.add_argument("--print", action="store_true", help="print each issuer's policy document (YAML) instead of writing a program")
    p.set_defaults(handler=cmd_import)
