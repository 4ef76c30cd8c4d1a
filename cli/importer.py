"""``oidc-trust import``: write a Pulumi program declaring an organization's trust as it stands.

Per issuer one ``OidcIssuer(..., adopt=True)`` and, unless the issuer still holds the service's
default document, one ``OidcIssuerPolicy(..., adopt=True)`` with the exact ordered policies and
the ``issuer_url``. The lint findings are comments above the policies they concern, and every
error rule found is in ``lint_waivers`` ("imported unchanged; review") so that ``pulumi preview``
passes on what exists. Adopting writes nothing when the service already holds what is declared,
so the first ``pulumi up`` of the program changes nothing on the service.

``program_files`` is pure (report in, file texts out); ``cmd_import`` reads the service (GETs only)
and writes the folder whole or not at all (``write_program``).

Whoever may name an issuer in the organization chooses the strings this module writes into a
program that others run with ``pulumi up``. So a string from the service reaches the program only
as a literal (``_literal``) or through the one comment writer (``_comment``, which escapes every
non-printable character with ``display.shown``: no line break of any kind, no NUL, no surrogate);
variable names are ``issuer_`` + the issuer's slug (``_variable``), never a keyword and never
another issuer's. ``requirement_line`` names this project exactly as it is installed here.
"""

from __future__ import annotations

import argparse
import json
import keyword
import math
import os
import pprint
import secrets
import shlex
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from pulumi_oidc_trust.provider import audit as model
from pulumi_oidc_trust.provider import wire
from pulumi_oidc_trust.provider.display import escape_char, shown
from pulumi_oidc_trust.provider.lint import Finding
from pulumi_oidc_trust.provider.policy import Policy

from .audit import add_connection_arguments, document_file, fetch
from .main import EXIT_OK, InputError, service_url

WAIVER_REASON = "imported unchanged; review"
INDENT = "    "


def _literal(value: Any) -> str:
    """A Python literal for a value read from the service (strings, numbers, booleans, None,
    lists and dicts of them). A string is written as ``repr`` writes it, in double quotes:
    every non-printable character (line breaks of every kind, NUL, ESC, surrogates, bidi
    controls) as an escape, so ``ast.literal_eval`` gives the value back exactly."""
    if isinstance(value, str):
        return '"' + "".join(
            "\\" + c if c in '\\"' else c if c.isprintable() else escape_char(c) for c in value
        ) + '"'
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Python literal for a {type(value).__name__}")


def _comment(text: str, indent: str) -> list[str]:
    """The one comment writer: a line of comment for each ``\\n``-separated line of ``text``,
    every other non-printable character (``\\r``, ``\\u2028``, ``\\x85``, ...) escaped."""
    return [f"{indent}# {shown(line)}" if line else f"{indent}#" for line in text.split("\n")]


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


def _variable(name: str) -> str:
    """The variable of the issuer whose unique slug is ``name`` (``model.issuer_slugs``: lower-case
    letters, digits and dashes): ``issuer_`` + the slug with ``_`` for ``-``. The prefix keeps it
    from being a keyword (``import``, ``lambda``) or one of the program's own names, and the map is
    one-to-one, so two issuers never share a variable."""
    var = "issuer_" + name.replace("-", "_")
    if not var.isidentifier() or keyword.iskeyword(var) or not var.isascii():
        raise ValueError(f"{name!r} is not an issuer slug")
    return var


def issuer_block(item: model.IssuerAudit, name: str) -> list[str]:
    """The Python of one issuer: its OidcIssuer and (but for the service's default) its policy."""
    var = _variable(name)
    used = f"last used {item.last_used}" if item.last_used else "lastUsed not reported"
    lines = _comment(f"--- {item.name} (id {item.id}; {used})", "")
    for f in [f for f in item.findings if f.policy is None]:
        lines += _finding_comment(f, "")
    lines += [
        f"{var} = OidcIssuer(",
        f"{INDENT}{_literal(name)},",
        f"{INDENT}organization=ORG,",
        f"{INDENT}url={_literal(item.url)},",
        f"{INDENT}name={_literal(item.name)},",
    ]
    max_expiration = item.issuer.get("maxExpiration")
    if isinstance(max_expiration, int) and not isinstance(max_expiration, bool) and max_expiration:
        lines.append(f"{INDENT}max_expiration_seconds={max_expiration!r},")
    elif max_expiration:
        lines += _comment(f"maxExpiration is not a whole number of seconds here: {max_expiration!r}; set it by hand", INDENT)
    if item.issuer.get("jwks"):
        jwks = pprint.pformat(item.issuer["jwks"], indent=1, width=96, sort_dicts=False)
        jwks_lines = jwks.splitlines()
        lines.append(f"{INDENT}jwks={jwks_lines[0]}")
        lines += [f"{INDENT}{' ' * len('jwks=')}{line}" for line in jwks_lines[1:]]
        lines[-1] += ","
    lines += [f"{INDENT}adopt=True,", ")", ""]
    if item.document == model.SERVICE_DEFAULT:
        lines += _comment(
            f"No OidcIssuerPolicy for {item.name}: it holds the service's default document (deny policies\n"
            "only), which denies every exchange and cannot be written back (the model refuses its patterns).\n"
            "Declare an OidcIssuerPolicy here when you write the issuer's first allow policy.",
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
        '"""The OIDC trust of the Pulumi Cloud organization ORG (below), as it stood when imported by',
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
    project = {
        "name": f"{model.slug(report.organization, 'org')}-oidc-trust",
        "description": f"OIDC trust of Pulumi Cloud organization {report.organization} (imported by oidc-trust import)",
        "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}},
    }
    return yaml.safe_dump(project, sort_keys=False, width=1000)


# ---------------------------------------------------------------------------------------------
# requirements.txt: this project exactly as it is installed here

DISTRIBUTION = "pulumi-oidc-trust"


class RequirementError(ValueError):
    """This project's installation record cannot be turned into a requirement line."""


def requirement_line(version: str, direct_url: str | None, name: str = DISTRIBUTION) -> str:
    """The requirement that installs ``name`` exactly as it is installed here, from its PEP 610
    record (``direct_url``: the text of the distribution's ``direct_url.json``; None when it was
    installed from an index):

    - a local folder, editable or not: ``NAME @ file:///...``;
    - an archive (a wheel): ``NAME @ URL#sha256=HEX``, the hash pip recorded;
    - a VCS checkout: ``NAME @ git+URL@COMMIT``;
    - from an index: ``NAME==VERSION``.

    Never the bare name: an index would serve whatever it holds under that name. Never a ``--hash``
    option: one of them makes pip demand hashes for every dependency, and the program would not
    install."""
    if direct_url is None:
        return f"{name}=={version}"
    try:
        record = json.loads(direct_url)
        url = record["url"]
    except (ValueError, TypeError, KeyError):
        raise RequirementError("its direct_url.json (PEP 610) has no \"url\"") from None
    if not isinstance(url, str) or not url or not all(c.isprintable() and not c.isspace() for c in url):
        raise RequirementError(f"the url of its direct_url.json (PEP 610) is not a URL: {shown(repr(url))}")
    fragment = []
    archive, vcs = record.get("archive_info"), record.get("vcs_info")
    if isinstance(vcs, dict):
        if not isinstance(vcs.get("vcs"), str) or not isinstance(vcs.get("commit_id"), str):
            raise RequirementError("its direct_url.json (PEP 610) names a VCS checkout without its vcs and commit_id")
        url = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
    elif isinstance(archive, dict):
        hashes = archive.get("hashes") if isinstance(archive.get("hashes"), dict) else {}
        if not hashes and isinstance(archive.get("hash"), str) and "=" in archive["hash"]:
            algorithm, _, digest = archive["hash"].partition("=")
            hashes = {algorithm: digest}
        algorithm = "sha256" if "sha256" in hashes else next(iter(sorted(hashes)), None)
        if algorithm is not None:
            fragment.append(f"{algorithm}={hashes[algorithm]}")
    if isinstance(record.get("subdirectory"), str):
        fragment.append(f"subdirectory={record['subdirectory']}")
    line = f"{name} @ {url}" + ("#" + "&".join(fragment) if fragment else "")
    if not all(c.isprintable() for c in line):
        raise RequirementError(f"its direct_url.json (PEP 610) gives no usable line: {shown(line)}")
    return line


def installed_distribution(name: str = DISTRIBUTION) -> metadata.Distribution | None:
    """The installed distribution ``name``: the first on the path that an installer recorded
    (PEP 627 ``INSTALLER``). A checkout's own ``*.egg-info`` (a build's by-product, found first
    when Python runs in the checkout) has none and is passed over."""
    return next((d for d in metadata.distributions(name=name) if d.read_text("INSTALLER") is not None), None)


def installed_requirement(name: str = DISTRIBUTION) -> str:
    """``requirement_line`` for the distribution installed here; an ``InputError`` when there is none."""
    dist = installed_distribution(name)
    try:
        if dist is not None:
            return requirement_line(dist.version, dist.read_text("direct_url.json"), name)
        problem = "no installer recorded it here (it is only found on the module path)"
    except RequirementError as e:
        problem = str(e)
    raise InputError(
        f"cannot name {name} in the program's requirements.txt: {problem}; install it with pip "
        "(`pip install PATH_OR_WHEEL`) and run `oidc-trust import` again"
    )


def requirements_txt(requirement: str) -> str:
    return (
        "# The program's dependencies. pulumi-oidc-trust is named exactly as it was installed where\n"
        "# `oidc-trust import` ran (a path on that machine, a wheel with its hash, or an exact version).\n"
        "# Check that line before you commit the program: it must name the build your organization\n"
        "# reviewed, somewhere every machine that runs the program can reach.\n"
        "pulumi>=3.216,<4\n"
        f"{requirement}\n"
    )


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_surrogate(v) for v in value)
    return False


def undeclarable(report: model.OrgAudit) -> str | None:
    """Why the program could not declare some issuer (None: it can). A lone surrogate (half of a
    UTF-16 pair, which JSON can carry) is written as a ``\\udXXX`` literal safely enough, but the
    Pulumi engine takes UTF-8 only, so such a program would fail at its first ``pulumi up``."""
    broken = [f"{shown(item.id)} ('{shown(item.name)}')" for item in report.issuers
              if _has_surrogate(item.issuer) or _has_surrogate(item.raw_policies)]
    if not broken:
        return None
    return (
        f"the issuer or policies of {', '.join(broken)} hold a lone surrogate (\\ud800-\\udfff), which a "
        "Pulumi program cannot send to the engine; fix the name or policy in the Pulumi Cloud console, "
        "or leave the issuer out (--issuer ID for each of the others); nothing was written"
    )


def program_files(report: model.OrgAudit, requirement: str) -> dict[str, str]:
    """File name -> text of the imported program (``requirement``: see ``requirement_line``)."""
    return {
        "Pulumi.yaml": pulumi_yaml(report),
        "__main__.py": main_py(report),
        "requirements.txt": requirements_txt(requirement),
    }


def write_program(out: Path, files: dict[str, str]) -> None:
    """Write ``files`` into the folder ``out`` (new or empty) whole or not at all: every file is
    written into a temporary folder beside it, which is then renamed to ``out``. On any failure
    nothing is left (neither the temporary folder nor parent folders made for it). Raises
    ``InputError``."""
    blobs = {}
    for name, text in files.items():
        try:
            blobs[name] = text.encode("utf-8")
        except UnicodeEncodeError as e:  # a bug: every string from the service is escaped
            raise InputError(f"--out '{shown(out)}': {name} would hold {e.reason}; nothing was written") from None
    check_out(out)
    made = [p for p in [out.parent, *out.parent.parents] if not p.exists()]  # deepest first
    staging, done = None, False
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.parent / f".{out.name}.{secrets.token_hex(6)}.partial"
        staging.mkdir()  # fails rather than reuse anything
        for name, blob in blobs.items():
            (staging / name).write_bytes(blob)
        os.replace(staging, out)  # onto a new or an empty folder only
        done = True
    except OSError as e:
        detail = e.strerror or type(e).__name__
        raise InputError(f"--out '{shown(out)}': {detail}; nothing was written; give a writable, empty or new folder")
    finally:
        if not done:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    break


def check_out(out: Path) -> None:
    """``--out`` must be a new or an empty folder (``InputError`` otherwise)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out '{shown(out)}' is a file; give an empty or new folder")
    held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if held:
        raise InputError(
            f"--out '{shown(out)}' already holds {', '.join(shown(n) for n in held[:5])}"
            f"{', ...' if len(held) > 5 else ''}; give an empty or new folder"
        )


def documents_text(report: model.OrgAudit) -> str:
    """``import --print``: each issuer's document as the service holds it (YAML, one per issuer)."""
    names = model.issuer_slugs(report.issuers)
    return "---\n".join(document_file(item, names[item.id]).text for item in report.issuers)


def cmd_import(args: argparse.Namespace) -> int:
    if not args.print and not args.out:
        raise InputError("give --out DIR (where to write the program), or --print to print the documents only")
    if not args.print:  # before anything is read or written
        requirement = installed_requirement()
        check_out(Path(args.out))
    pairs = fetch(args.api_url, args.org, args.issuer or None)
    report = model.audit_organization(args.org, pairs)
    if args.print:
        sys.stdout.write(documents_text(report))
        return EXIT_OK
    out = Path(args.out)
    problem = undeclarable(report)
    if problem:
        raise InputError(f"--out '{shown(out)}': {problem}")
    write_program(out, program_files(report, requirement))
    waived = sum(1 for item in report.issuers for f in item.findings if f.severity == "error")
    print(f"wrote {shown(out / '__main__.py')}: {len(report.issuers)} issuer(s), {waived} lint error(s) waived for review")
    print(next_steps(out, requirement, service_url(args.api_url)))
    return EXIT_OK


def next_steps(out: Path, requirement: str, api_url: str | None) -> str:
    """What the user does after ``import``: check the requirement line, then the first ``up``."""
    api_url = (api_url or wire.DEFAULT_API_URL).rstrip("/")
    return "\n".join([
        f"its requirements.txt installs pulumi-oidc-trust as it is installed here: {shown(requirement)}",
        "  check that line before you commit the program: it must name the build your organization reviewed,",
        "  somewhere every machine that runs the program can reach (a path on this machine is not)",
        "next steps:",
        f"  cd {shlex.quote(shown(out))}",
        "  pulumi stack init STACK",
        f"  pulumi config set oidc:apiUrl {shlex.quote(shown(api_url))}",
        "  pulumi up    # the first up adopts what exists and writes nothing; then remove every adopt=True",
    ])


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
