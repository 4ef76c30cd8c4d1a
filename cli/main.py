"""``oidc-trust``: check OIDC trust for Pulumi Cloud before applying it, and exchange tokens.

Subcommands: ``simulate`` (decide an exchange and explain it), ``lint`` (findings with stable
ids), ``claims`` (decode a token, unverified), ``exchange`` (what ``pulumi login --oidc-*``
does), ``render`` (the Kubernetes runner's manifests as YAML), ``audit`` and ``import``
(cli/audit.py, cli/importer.py), ``emulator`` and ``token`` (cli/local_cloud.py). The commands
that talk to Pulumi Cloud take ``--api-url``, else ``$OIDC_TRUST_API_URL`` (``service_url``).

Exit codes: 0 allowed / no unwaived error / success; 1 denied / unwaived lint errors / the
service refused; 2 usage or input error (one line on stderr naming the input and the fix).
The workload token is never printed; the access token only by ``exchange``, in the format asked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from pulumi_oidc_trust.provider import settings, wire
from pulumi_oidc_trust.provider.display import shown
from pulumi_oidc_trust.provider.duration import parse_duration
from pulumi_oidc_trust.provider.exchange import ExchangeError, ExchangeInputError, exchange, refusal_hint
from pulumi_oidc_trust.provider.phrasing import ArgumentError
from pulumi_oidc_trust.provider.lint import (
    RULES, SEVERITY_PRINCIPLE, Finding, WaiverError, apply_waivers, catalog_text, lint_issuer, lint_policies,
)
from pulumi_oidc_trust.provider.lint.catalog import check_waivers
from pulumi_oidc_trust.provider.policy import (
    SERVICE_DEFAULT_MEANING, TOKEN_TYPES, Document, PolicyError, oversized_claim,
)
from pulumi_oidc_trust.provider.policy import read_document as read_policy_document
from pulumi_oidc_trust.provider.urls import api_url_problem, path_segment_problem
from pulumi_oidc_trust.provider.simulate import (
    DecodedToken,
    TokenError,
    build_request,
    decode_token,
    read_token_argument,
    render_json,
    token_time_problem,
    render_text,
    simulate,
)

PROG = "oidc-trust"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class InputError(Exception):
    """A bad input: printed as one line on stderr, exit code 2."""


# ---------------------------------------------------------------------------------------------
# Reading inputs


def read_document(path: str, what: str) -> Any:
    """A JSON or YAML document from ``path`` (``-``: stdin)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"{what} file '{path}': {e.strerror or type(e).__name__}; give a readable JSON or YAML file")
    except UnicodeDecodeError:
        raise InputError(f"{what} file '{path}' is not UTF-8 text; give a JSON or YAML file")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        tabs = [n for n, line in enumerate(text.splitlines(), 1) if "\t" in line]
        if tabs:  # YAML indents with spaces only: a tab is the usual cause, and invisible
            lines = ", ".join(map(str, tabs[:5])) + (", ..." if len(tabs) > 5 else "")
            raise InputError(f"{what} file '{path}' is neither JSON nor YAML{at}: line{'s' if len(tabs) > 1 else ''} "
                             f"{lines} hold{'' if len(tabs) > 1 else 's'} a tab; YAML indents with spaces only: "
                             "replace each tab with spaces")
        raise InputError(f"{what} file '{path}' is neither JSON nor YAML{at}; fix its syntax")


def load_policies(path: str) -> Document:
    """Whatever the service returns or a person writes: a list of policies (wire or snake_case
    keys), or an object with a ``policies`` list (the whole GET answer); the service's default
    document is read as what it is (it denies every exchange), not refused."""
    document = read_document(path, "policies")
    if not isinstance(document, list) and not (isinstance(document, dict) and "policies" in document):
        raise InputError(
            f"policies file '{path}' holds no list of policies; write a list, or an object with a 'policies' list"
        )
    try:
        return read_policy_document(document)
    except PolicyError as e:
        raise InputError(f"policies file '{path}': {e}")


def load_claims(path: str) -> dict[str, Any]:
    claims = read_document(path, "claims")
    if not isinstance(claims, dict):
        raise InputError(f"claims file '{path}' must hold one JSON/YAML object of claims, e.g. {{\"sub\": \"...\"}}")
    too_long = oversized_claim(claims)
    if too_long:  # the exchange refuses such a token, so the simulation does too
        raise InputError(f"claims file '{path}': {too_long}")
    return claims


def service_url(api_url: str | None, environ: Any = None) -> str:
    """The Pulumi Cloud API a command talks to: ``--api-url``, then ``$OIDC_TRUST_API_URL``, then
    https://api.pulumi.com (``settings.api_url_from``, the provider's order); an unusable URL from
    the environment is an ``InputError`` naming the variable (argparse checks ``--api-url``)."""
    url, source = settings.api_url_from(api_url, environ)
    if source == settings.API_URL_ENV:
        problem = api_url_problem(url)
        if problem:
            raise InputError(f"{settings.API_URL_ENV}: {problem}; fix or unset it, or give --api-url URL")
    return url.rstrip("/")


def read_token(value: str, flag: str) -> str:
    try:
        return read_token_argument(value)
    except TokenError as e:
        raise InputError(f"{flag}: {e}")


def parse_waivers(items: Sequence[str]) -> dict[str, str]:
    """``--waive RULE_ID=REASON`` items, checked (``check_waivers``, fixes written as flags)."""
    waivers: dict[str, str] = {}
    for item in items:
        rule_id, sep, reason = item.partition("=")
        if not sep:
            raise InputError(f"--waive {item!r}: write RULE_ID=REASON, e.g. --waive 'OIDC012=repository name has a dot'")
        waivers[rule_id.strip()] = reason
    problems = check_waivers(waivers, "cli", "lint")
    if problems:
        raise InputError(f"--waive: {'; '.join(problems)}")
    return waivers


# ---------------------------------------------------------------------------------------------
# simulate


def cmd_simulate(args: argparse.Namespace) -> int:
    document = load_policies(args.policies)
    policies = list(document.policies)
    try:
        request = build_request(args.token_type, team=args.team, user=args.user, runner=args.runner, admin=args.admin)
    except ValueError as e:
        raise InputError(f"request: {e}")
    token: DecodedToken | None = None
    if args.claims is not None:
        claims = load_claims(args.claims)
    else:
        token = _decode(read_token(args.token, "--token"), args.jwks, args.discovery, args.issuer, args.org)
        claims = token.claims
    decision = simulate(policies, claims, request)
    # A token's own times refuse it before any policy is read (only for tokens, not --claims).
    expired = token_time_problem(claims, time.time()) if token is not None else None
    if args.format == "json":
        out = render_json(decision, request, token=token, claims=claims, policies=policies, issuer_url=_hint_issuer(args))
        if document.service_default:
            out["document"] = {"service_default": True, "meaning": SERVICE_DEFAULT_MEANING}
        if expired:
            out["policies_allowed"], out["allowed"] = out["allowed"], False
            out["refused_because"] = expired
        _print_json(out)
    else:
        text = render_text(decision, policies, request, token=token, claims=claims, issuer_url=_hint_issuer(args))
        if document.service_default:
            text += f"\npolicies: {SERVICE_DEFAULT_MEANING}"
        if expired:
            # One verdict: the token's. What the policies decide is said as what they would do.
            headline, _, rest = text.partition("\n")
            text = (f"REFUSED: {expired}; the service refuses it whatever the policies say\n"
                    f"for a fresh token with these claims the policies would answer: {headline}\n{rest}")
        print(text)
    return EXIT_OK if decision.allowed and not expired else EXIT_REFUSED


def _hint_issuer(args: argparse.Namespace) -> str | None:
    """The issuer URL the user named (--issuer or --discovery), for the simulator's hints."""
    return getattr(args, "issuer", None) or getattr(args, "discovery", None) or None


def _decode(
    token: str, jwks_path: str | None, discovery: str | None, issuer: str | None, org: str | None
) -> DecodedToken:
    jwks = audience = None
    if jwks_path is not None and discovery is not None:
        raise InputError("give --jwks FILE or --discovery ISSUER_URL, not both: each says where the keys come from")
    if jwks_path is None and discovery is None:
        if issuer is not None or org is not None:
            raise InputError("--issuer and --org verify --token: add --jwks FILE or --discovery ISSUER_URL, or drop them")
    elif jwks_path is not None:
        if issuer is None:
            # The token's own iss cannot vouch for the token: a forger names a host it controls.
            raise InputError(
                "--jwks needs --issuer URL, the issuer whose keys the file holds (the token's iss must be it; "
                "the token's own iss is not trusted)"
            )
        jwks = read_document(jwks_path, "JWKS")
        if not isinstance(jwks, dict):
            raise InputError(f"JWKS file '{jwks_path}' must hold an object with a 'keys' list")
    elif issuer is not None:
        raise InputError("--discovery ISSUER_URL names the issuer already; drop --issuer")
    if discovery is not None and not discovery:
        raise InputError(
            "--discovery needs the issuer URL you trust, e.g. --discovery "
            "https://token.actions.githubusercontent.com (the token's own iss is not trusted)"
        )
    if jwks_path is not None or discovery is not None:
        if org is None:
            raise InputError(
                "verifying --token needs --org ORG, the organization the exchange is for "
                "(the token's aud must contain urn:pulumi:org:ORG)"
            )
        org_problem = path_segment_problem(org, "the Pulumi organization name, e.g. 'acme'")
        if org_problem:
            raise InputError(f"--org: {org_problem}")
        audience = wire.audience_for(org)
    try:
        return decode_token(token, verify_with=jwks, issuer=issuer, discovery_url=discovery, audience=audience)
    except TokenError as e:
        raise InputError(f"--token: {e} (without --jwks/--discovery the claims are read unverified)")


def _decode_or_fail(token: str) -> DecodedToken:
    try:
        return decode_token(token)
    except TokenError as e:
        raise InputError(f"--token: {e}")


# ---------------------------------------------------------------------------------------------
# lint


def cmd_lint(args: argparse.Namespace) -> int:
    if args.policies is None and args.issuer is None:
        raise InputError("give --policies FILE (and --issuer URL for the issuer-specific rules), or --issuer URL")
    waivers = parse_waivers(args.waive)
    findings = []
    if args.issuer is not None:
        jwks = read_document(args.jwks, "JWKS") if args.jwks else None
        if args.jwks and not isinstance(jwks, dict):
            raise InputError(f"JWKS file '{args.jwks}' must hold an object with a 'keys' list")
        findings += lint_issuer(
            args.issuer,
            jwks=jwks,
            max_expiration_seconds=_seconds(args.max_expiration, "--max-expiration"),
            thumbprints=args.thumbprint or None,
        )
    document = None
    if args.policies is not None:
        document = load_policies(args.policies)
        findings += lint_policies(list(document.policies), issuer_url=args.issuer, organization=args.org)
    try:
        active, waived = apply_waivers(findings, waivers)
    except WaiverError as e:
        raise InputError(f"--waive: {e}")
    skipped = _skipped_rules(args)
    if args.format == "json":
        _print_json(
            {
                "errors": sum(f.severity == "error" for f in active),
                "warnings": sum(f.severity == "warning" for f in active),
                "findings": [f.to_json("cli", "lint") for f in active],
                "waived": [f.to_json("cli", "lint") for f in waived],
                "skipped": skipped,
                **({"document": {"service_default": True, "meaning": SERVICE_DEFAULT_MEANING}}
                   if document is not None and document.service_default else {}),
            }
        )
    else:
        if document is not None and document.service_default:
            print(f"policies: {SERVICE_DEFAULT_MEANING}")
        print(_lint_text(active, waived, skipped))
    return EXIT_REFUSED if any(f.severity == "error" for f in active) else EXIT_OK


def _seconds(value: str | None, flag: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value, name=flag)
    except ValueError as e:
        raise InputError(str(e))


def _skipped_rules(args: argparse.Namespace) -> list[dict[str, str]]:
    skipped = []
    if args.issuer is None:
        for rule in RULES.values():
            if rule.needs is not None:
                skipped.append({"id": rule.id, "why": "needs --issuer URL"})
    return skipped


def _lint_text(active: Sequence[Finding], waived: Sequence[Finding], skipped: Sequence[dict[str, str]]) -> str:
    lines = []
    for f in active:
        lines.append(f"{f.id} {f.severity:<7} {f.message}")
        lines.append(f"    fix: {f.fix_text('cli', 'lint')}")
    for f in waived:
        where = f"policy {f.policy}" if f.policy is not None else "issuer"
        lines.append(f"{f.id} waived  ({where}): {f.waiver}")
    count = {s: sum(f.severity == s for f in active) for s in ("error", "warning", "info")}
    summary = f"{count['error']} error(s), {count['warning']} warning(s), {count['info']} info"
    if waived:
        summary += f", {len(waived)} waived"
    if skipped:
        summary += f"; issuer-specific rules skipped ({', '.join(s['id'] for s in skipped)}): give --issuer URL"
    lines.append(summary)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# claims


def cmd_claims(args: argparse.Namespace) -> int:
    token = _decode_or_fail(read_token(args.token, "token"))
    if args.format == "json":
        _print_json(token.to_json())
        return EXIT_OK
    print(f"# {token.note}")
    print("header:")
    print(json.dumps(token.header, indent=2, sort_keys=True))
    print("claims:")
    print(json.dumps(token.claims, indent=2, sort_keys=True))
    for line in _times(token.claims):
        print(line)
    return EXIT_OK


def _times(claims: dict[str, Any]) -> list[str]:
    """'exp: 2026-05-01T10:00:00Z (in 9 min)' for the time claims (a frequent refusal cause)."""
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for name in ("iat", "nbf", "exp"):
        value = claims.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            at = dt.datetime.fromtimestamp(value, dt.timezone.utc)
            # Whole seconds, rounded down: a time 0.4 s past is "1 s ago", never "in 0 s".
            delta = math.floor((at - now).total_seconds())
            rel = f"in {_human(delta)}" if delta > 0 else ("now" if delta == 0 else f"{_human(-delta)} ago")
            out.append(f"{name}: {at.strftime('%Y-%m-%dT%H:%M:%SZ')} ({rel})")
    return out


def _human(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


# ---------------------------------------------------------------------------------------------
# exchange


def cmd_exchange(args: argparse.Namespace) -> int:
    api_url = service_url(args.api_url)
    try:
        result = exchange(
            oidc_token=args.oidc_token,
            organization=args.oidc_org,
            team=args.oidc_team,
            user=args.oidc_user,
            expiration=args.oidc_expiration,
            api_url=api_url,
        )
    except ExchangeInputError as e:
        raise InputError(str(e))
    except ExchangeError as e:
        print(f"{PROG} exchange: {e}", file=sys.stderr)
        hint = refusal_hint(e)
        if hint:
            print(f"{PROG} exchange: {hint}", file=sys.stderr)
        return EXIT_REFUSED
    if args.format == "json":
        _print_json(result.to_json())
    elif args.format == "text":  # for people: what was granted, never the token itself
        expires = result.expires_at.isoformat().replace("+00:00", "Z")
        article = "an" if result.token_type[:1] in "aeiou" else "a"
        print(f"exchanged for {article} {result.token_type} token of {args.oidc_org or 'the token audience'}"
              f"{f' ({result.scope})' if result.scope else ''}, valid {result.expires_in} s (until {expires})")
    elif args.format == "env":
        print(f"export PULUMI_ACCESS_TOKEN={shlex.quote(result.access_token)}")
        if api_url != wire.DEFAULT_API_URL:
            print(f"export PULUMI_BACKEND_URL={shlex.quote(api_url)}")
    else:
        print(result.access_token)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# render


def cmd_render(args: argparse.Namespace) -> int:
    if args.organization is None:
        raise InputError("give --org ORG, the Pulumi organization the runner logs in to")
    try:
        from pulumi_oidc_trust.components.runner_args import RunnerArgs
        from pulumi_oidc_trust.components.runner_manifests import manifests_to_yaml, render_manifests, runner_names
    except ImportError:
        raise InputError("render: this installation has no runner manifests (components.runner_manifests)")
    # Each runner flag stores under its argument's name (phrasing.CLI_FLAGS names the flag of
    # each); a flag not given leaves the argument to RunnerArgs' default.
    kwargs: dict[str, Any] = {name: getattr(args, name) for name in RunnerArgs.names() if getattr(args, name, None) is not None}
    if "service_account_annotations" in kwargs:
        kwargs["service_account_annotations"] = _pairs(kwargs["service_account_annotations"], "--service-account-annotation")
    try:
        manifests = render_manifests(args.name, organization=args.organization, **kwargs)
    except ArgumentError as e:
        raise InputError(e.message("cli", "render"))  # in flags, not keyword arguments
    except ValueError as e:
        raise InputError(str(e))
    from pulumi_oidc_trust.provider.lint.security_rules import mutable_image_findings

    (job,) = [m for m in manifests if m["kind"] == "Job"]
    from pulumi_oidc_trust.components.runner_args import DEFAULT_IMAGE

    for finding in mutable_image_findings(job["spec"]["template"]["spec"]["containers"][0]["image"], default=DEFAULT_IMAGE):
        print(str(finding), file=sys.stderr)  # OIDC041: a warning; the manifests are still written
    names = runner_names(args.name, organization=args.organization, **kwargs)
    rule = (f"# The trust rule this Job's login needs (its pod's token claims):\n"
            f"#   sub: {names.subject}\n#   aud: {names.audience}\n")
    if args.format == "json":
        text = json.dumps(manifests, indent=2) + "\n"
        print(rule.rstrip(), file=sys.stderr)  # the JSON stays a plain list of manifests
    else:
        text = rule + manifests_to_yaml(manifests)  # comments: still valid YAML for kubectl
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{args.name}.{'json' if args.format == 'json' else 'yaml'}"
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"--out '{args.out}': {e.strerror or type(e).__name__}; give a writable directory")
    print(str(target))
    return EXIT_OK


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} {item!r}: write KEY=VALUE, e.g. eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/pulumi")
        out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# The parser


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (exit code 2, as argparse does)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _formats(parser: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json"), default: str = "text") -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default: {default})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Check OIDC trust for Pulumi Cloud before applying it; exchange workload tokens.",
        epilog="Exit codes: 0 allowed / clean / success, 1 denied / lint errors / refused, 2 usage or input error.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    formatter = argparse.RawDescriptionHelpFormatter

    p = commands.add_parser(
        "simulate",
        help="decide an exchange with the policy model and explain every policy",
        description="Decide a token exchange as Pulumi Cloud would (our policy model: any matching deny "
        "wins, otherwise the first matching allow that fits the requested token decides, otherwise deny) "
        "and show, for every policy, which rule failed and why.",
        epilog="FILE is JSON or YAML: a list of policies (wire keys such as tokenType, or snake_case), "
        "or an object with a 'policies' list (what GET .../auth/policies/oidcissuers/ID returns). A new "
        "issuer's default document, or any deny-only document the model cannot read, is read as what it means: "
        "it denies every exchange.\n"
        "Exit: 0 allowed, 1 denied, 2 input error.",
        formatter_class=formatter,
    )
    p.add_argument("--policies", required=True, metavar="FILE", help="the issuer's policies (JSON or YAML; - for stdin)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--claims", metavar="FILE", help="the token's claims as a JSON/YAML object")
    source.add_argument("--token", metavar="<jwt|file://path>", help="a real token (decoded unverified unless --jwks/--discovery)")
    p.add_argument("--jwks", metavar="FILE", help="verify --token against this JWKS (with --issuer and --org), as the exchange does")
    p.add_argument("--issuer", metavar="URL", help="with --jwks: the issuer whose keys the JWKS holds; the token's iss must be it")
    p.add_argument("--discovery", nargs="?", const="", metavar="ISSUER_URL", help="verify --token (with --org) with the discovery document of ISSUER_URL, the issuer you trust (required: the token's own iss is not trusted)")
    p.add_argument("--org", metavar="ORG", help="with --jwks/--discovery: the organization the exchange is for (aud must contain urn:pulumi:org:ORG)")
    p.add_argument("--token-type", choices=tuple(TOKEN_TYPES), help="requested token type (default: from --team/--user/--runner, else organization)")
    p.add_argument("--team", help="team name (team token)")
    p.add_argument("--user", help="user login (personal token)")
    p.add_argument("--runner", help="runner id (runner token)")
    p.add_argument("--admin", action="store_true", help="request an organization token with scope admin")
    _formats(p)
    p.set_defaults(handler=cmd_simulate)

    p = commands.add_parser(
        "lint",
        help="lint policies and issuer settings (stable rule ids)",
        description="Lint an issuer's policies (and its settings, with --issuer). Issuer-specific rules run only "
        "with --issuer. Waive a rule with --waive RULE_ID=REASON (a reason is required).",
        epilog="Rules:\n" + catalog_text() + "\n\n" + SEVERITY_PRINCIPLE + "\n\nClaim names are checked against "
        "the platform's published claims (OIDC042): the issuer's with --issuer, else the one whose subject form sub "
        "is written in.\n\nExit: 0 no unwaived error, 1 unwaived errors, 2 input error.",
        formatter_class=formatter,
    )
    p.add_argument("--issuer", metavar="URL", help="the issuer URL (enables issuer-specific rules and URL checks)")
    p.add_argument("--policies", metavar="FILE", help="the issuer's policies (JSON or YAML; - for stdin)")
    p.add_argument("--org", metavar="ORG", help="the Pulumi organization (aud must be urn:pulumi:org:ORG)")
    p.add_argument("--waive", action="append", default=[], metavar="ID=REASON", help="waive a rule, with the reason (repeatable)")
    p.add_argument("--jwks", metavar="FILE", help="the JWKS uploaded for the issuer (checked by OIDC019)")
    p.add_argument("--max-expiration", metavar="DURATION", help="the issuer's maxExpiration (seconds or '2h')")
    p.add_argument("--thumbprint", action="append", metavar="SHA256", help="a configured thumbprint (repeatable)")
    _formats(p)
    p.set_defaults(handler=cmd_lint)

    p = commands.add_parser(
        "claims",
        help="print a token's header and claims (unverified)",
        description="Decode a token and print its header and claims. The signature is NOT checked (the output "
        "says so); use `simulate --token ... --jwks FILE --issuer URL --org ORG` to verify.",
    )
    p.add_argument("token", metavar="<jwt|file://path>", help="the token, or file://PATH to read it from a file")
    _formats(p)
    p.set_defaults(handler=cmd_claims)

    p = commands.add_parser(
        "exchange",
        help="exchange a workload token for a Pulumi access token (like pulumi login --oidc-*)",
        description="Exchange an OIDC token for a Pulumi access token with the request the Pulumi CLI sends "
        "(POST /api/oauth/token, form-encoded). Prints the access token only, in the format asked. "
        "PULUMI_ACCESS_TOKEN is not consulted.",
        epilog="Example: eval \"$(oidc-trust exchange --oidc-token file:///var/run/secrets/pulumi/token "
        "--oidc-org acme --format env)\"\nExit: 0 success, 1 refused by the service, 2 input error.",
        formatter_class=formatter,
    )
    p.add_argument("--oidc-token", required=True, metavar="<jwt|file://path>", help="the workload's OIDC token")
    p.add_argument("--oidc-org", metavar="ORG", help="the Pulumi organization (default: from the token's aud when it "
                   "is the one value urn:pulumi:org:ORG, as the Pulumi CLI reads it; give it for a list aud)")
    p.add_argument("--oidc-team", metavar="TEAM", help="request a team token")
    p.add_argument("--oidc-user", metavar="USER", help="request a personal token")
    p.add_argument("--oidc-expiration", metavar="DURATION", help="lifetime: seconds or a duration ('15m', '2h'; default 2h)")
    add_api_url_argument(p)
    _formats(p, ("token", "env", "text", "json"), "token")
    p.set_defaults(handler=cmd_exchange)

    p = commands.add_parser(
        "render",
        help="render the Kubernetes runner's manifests (ServiceAccount, ConfigMap, Job)",
        description="Render the manifests OidcLoginJob creates, without a cluster or an engine.",
    )
    p.add_argument("--org", dest="organization", metavar="ORG", help="the Pulumi organization (required)")
    p.add_argument("--organization", dest="organization", help=argparse.SUPPRESS)  # the old spelling, kept
    p.add_argument("--name", default="pulumi-login", help="the runner's resource name (default pulumi-login, as the stack's runnerName)")
    p.add_argument("--namespace", help="the runner's namespace (default: default)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--team")
    who.add_argument("--user")
    p.add_argument("--expiration", metavar="DURATION", help="seconds or a duration ('2h')")
    p.add_argument("--command", dest="commands", action="append", metavar="CMD", help="a shell line to run after login (repeatable)")
    p.add_argument("--token", metavar="projected|eks|/abs/path", help="where the workload token comes from (default projected)")
    p.add_argument("--token-audience", metavar="AUD", help="audience of the projected token (default urn:pulumi:org:ORG)")
    p.add_argument("--service-account", dest="service_account_name", metavar="NAME", help="use this existing ServiceAccount instead of creating one")
    p.add_argument("--service-account-annotation", dest="service_account_annotations", action="append", metavar="KEY=VALUE", help="annotation on the created ServiceAccount (repeatable; 'eks' needs eks.amazonaws.com/role-arn)")
    p.add_argument("--image", help="the Pulumi CLI image")
    p.add_argument("--api-url", type=_api_url, metavar="URL")
    p.add_argument("--out", metavar="DIR", help="write NAME.yaml into DIR instead of stdout")
    # --format text was yaml under another name: still accepted, no longer offered.
    p.add_argument("--format", choices=("yaml", "json"), default="yaml", type=lambda v: "yaml" if v == "text" else v,
                   help="output format (default: yaml)")
    p.set_defaults(handler=cmd_render)

    from . import audit, importer, local_cloud  # each command in its own module (they import this one)

    audit.register(commands)
    importer.register(commands)
    local_cloud.register(commands)
    return parser


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


API_URL_HELP = (f"Pulumi Cloud API (https, or http to loopback); default ${settings.API_URL_ENV}, "
                f"else {wire.DEFAULT_API_URL}")


def add_api_url_argument(p: argparse.ArgumentParser, help: str = API_URL_HELP) -> None:
    """``--api-url`` of a command that talks to Pulumi Cloud (``service_url`` adds the fallbacks)."""
    p.add_argument("--api-url", type=_api_url, metavar="URL", help=help)


def _api_url(text: str) -> str:
    """argparse type of every --api-url: the one URL rule (``urls.api_url_problem``)."""
    problem = api_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``oidc-trust``; returns the exit code."""
    # urllib3 logs each retry as a WARNING, which Python would print to stderr: the CLI
    # reports the outcome in one line instead.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "simulate" and args.claims is not None and (
        args.jwks or args.discovery is not None or args.issuer is not None or args.org is not None
    ):
        parser.error("--jwks, --discovery, --issuer and --org verify a --token; drop them with --claims")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except InputError as e:
        print(f"{PROG} {args.command}: error: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _one_line(text: str) -> str:
    """An error message as one printable line: runs of whitespace (line breaks included) become one
    space, and what is left that a terminal would act on (ESC, NUL, surrogates) is escaped, since
    messages quote names and answers from the service."""
    return shown(" ".join(text.split()))


if __name__ == "__main__":
    sys.exit(main())
