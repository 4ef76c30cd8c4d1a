"""``oidc-trust emulator`` and ``oidc-trust token``: a local Pulumi Cloud in one command, and tokens
of its test OIDC issuer for ``pulumi login --oidc-token``.

``emulator`` runs the emulator (``pulumi_oidc_trust.emulator``) on a fixed loopback port until
Ctrl-C, with its state, its admin token and its test issuer's signing key in one folder (0700; the
token and the key 0600), so a restart keeps the organizations, the issuers, the stack's
``oidc:accessToken`` and the tokens already minted valid. It prints the lines to paste and never
the admin token itself: the lines read it from its file.

``token`` asks the emulator's test issuer (``POST {api}/test-issuer/token``, which only the
emulator serves) for a token with the claims given, and writes it to a file (0600). It is never
printed.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from pulumi_oidc_trust.provider import settings, wire
from pulumi_oidc_trust.provider.display import shown
from pulumi_oidc_trust.provider.duration import parse_duration

from pulumi_oidc_trust.emulator.test_issuer import DEFAULT_LIFETIME_SECONDS

from .main import EXIT_OK, InputError, add_api_url_argument, service_url

DEFAULT_PORT = 8484
TOKEN_FILE, STATE_FILE, KEY_FILE = "admin-token", "state.json", "test-issuer-key.pem"


def default_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_STATE_HOME/oidc-trust/emulator``, by default ``~/.local/state/oidc-trust/emulator``."""
    base = environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "oidc-trust" / "emulator"


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only (0600), whole or not at all."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _private_file(path: Path, make: Any) -> bytes:
    """The content of ``path`` (made 0600 if it was not), or ``make()`` written there first."""
    if path.exists():
        os.chmod(path, 0o600)
        return path.read_bytes()
    data = make()
    _write_private(path, data)
    return data


def prepare_folder(folder: Path) -> tuple[str, Any]:
    """The emulator's folder (0700): (the admin token, the test issuer's RSA key), each made on
    first use and kept for the next start."""
    from cryptography.hazmat.primitives import serialization

    from pulumi_oidc_trust.emulator import new_rsa_key

    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        token = _private_file(folder / TOKEN_FILE, lambda: f"pul-{secrets.token_hex(20)}\n".encode()).decode().strip()
        pem = _private_file(folder / KEY_FILE, lambda: new_rsa_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        key = serialization.load_pem_private_key(pem, password=None)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        detail = getattr(e, "strerror", None) or type(e).__name__
        raise InputError(f"--dir '{shown(folder)}': {detail}; give a folder of your own, or remove the broken file in it")
    if not token:
        raise InputError(f"--dir '{shown(folder)}': {TOKEN_FILE} is empty; remove it and start again (a new token is made)")
    return token, key


def shell_path(path: Path) -> str:
    """``path`` as a shell word: ``~/...`` under the home folder (as a person writes it), else quoted."""
    try:
        relative = path.resolve().relative_to(Path.home().resolve())
    except ValueError:
        return shlex.quote(str(path))
    return f"~/{relative}" if shlex.quote(str(relative)) == str(relative) else shlex.quote(str(path))


def paste_lines(base_url: str, folder: Path) -> str:
    """What ``oidc-trust emulator`` prints once it serves: the lines to paste, none with a secret."""
    token_file = shell_path(folder / TOKEN_FILE)
    return "\n".join([
        f"oidc-trust emulator: a local Pulumi Cloud at {base_url} until Ctrl-C",
        f"  its state, admin token and test issuer key: {shown(shell_path(folder))} (kept for the next start)",
        "",
        "In your shell (oidc-trust audit, import, exchange and token read OIDC_TRUST_API_URL):",
        f"  export OIDC_TRUST_API_URL={base_url}",
        "",
        "In your stack's folder:",
        "  pulumi config set oidc:apiUrl \"$OIDC_TRUST_API_URL\"",
        f"  pulumi config set --secret oidc:accessToken < {token_file}",
        "",
        "Its test OIDC issuer (issuer_url of your trust):",
        f"  {base_url}/test-issuer",
        "  oidc-trust token --sub SUBJECT --org ORG --out token.jwt    # then: pulumi login --oidc-token file://...",
        "",
        "What it holds (the admin token, read from its file for one command):",
        f"  PULUMI_ACCESS_TOKEN=\"$(cat {token_file})\" oidc-trust audit --org ORG --show-policies",
    ])


def cmd_emulator(args: argparse.Namespace) -> int:
    from pulumi_oidc_trust.emulator import serve

    folder = Path(args.dir).expanduser() if args.dir else default_folder()
    token, key = prepare_folder(folder)
    try:
        running = serve(token, port=args.port, state_path=str(folder / STATE_FILE), test_issuer_key=key)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise InputError(f"--port {args.port}: the port is in use (another emulator?); stop that one, "
                             "or give another --port (0: any free port)")
        raise InputError(f"cannot start on port {args.port}: {e.strerror or type(e).__name__}")
    except ValueError as e:  # an unreadable state file
        raise InputError(f"--dir '{shown(folder)}': {e}; move {STATE_FILE} away to start empty")
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(paste_lines(running.base_url, folder), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(f"oidc-trust emulator: stopped; its state stays in {shown(folder)}", flush=True)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# token


def parse_claims(items: Sequence[str]) -> dict[str, Any]:
    """``--claim NAME=TEXT`` (a string) and ``--claim NAME:=JSON`` (a number, list, object, ...)."""
    claims: dict[str, Any] = {}
    for item in items:
        name, typed, raw = item.partition(":=")
        if not typed:
            name, sep, raw = item.partition("=")
            if not sep:
                raise InputError(f"--claim {shown(item)!r}: write NAME=TEXT, or NAME:=JSON for a number or a list, "
                                 "e.g. --claim repository_owner_id=1234567 --claim 'groups:=[\"ci\"]'")
        if not name.strip():
            raise InputError(f"--claim {shown(item)!r}: the claim name is missing before '='")
        if typed:
            try:
                value: Any = json.loads(raw)
            except ValueError:
                raise InputError(f"--claim {shown(item)!r}: after ':=' comes JSON (1234, true, [\"a\"]); "
                                 "for text write NAME=TEXT") from None
        else:
            value = raw
        claims[name.strip()] = value
    return claims


def token_claims(args: argparse.Namespace) -> dict[str, Any]:
    claims = parse_claims(args.claim)
    if args.sub is not None:
        claims["sub"] = args.sub
    if args.org is not None:
        if "aud" in claims:
            raise InputError("--org sets aud to urn:pulumi:org:ORG: give --org or --claim aud=..., not both")
        claims["aud"] = wire.audience_for(args.org)
    if args.lifetime is not None:
        try:
            seconds = parse_duration(args.lifetime, name="--lifetime")
        except ValueError as e:
            raise InputError(str(e)) from None
        claims["exp"] = int(time.time()) + seconds
    if "sub" not in claims:
        raise InputError("give --sub SUBJECT (the workload's identity, e.g. repo:acme/infra:ref:refs/heads/main)")
    return claims


def cmd_token(args: argparse.Namespace) -> int:
    import requests

    claims = token_claims(args)
    url, source = settings.api_url_from(args.api_url)
    if source is None:
        raise InputError(
            f"no emulator named: give --api-url URL or set {settings.API_URL_ENV} (the URL `oidc-trust emulator` "
            "prints); tokens come from the emulator's test issuer, never from Pulumi Cloud"
        )
    base = service_url(args.api_url)
    out = Path(args.out)
    if out.is_dir():
        raise InputError(f"--out '{shown(out)}' is a folder; give a file name, e.g. --out token.jwt")
    try:
        answer = requests.post(f"{base}/test-issuer/token", json=claims, timeout=10)
    except requests.RequestException as e:
        raise InputError(f"no emulator answers at {shown(base)} ({type(e).__name__}); start one with "
                         "`oidc-trust emulator`, or fix --api-url / OIDC_TRUST_API_URL") from None
    body: Any = None
    try:
        body = answer.json()
    except ValueError:
        pass
    if answer.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise InputError(f"{shown(base)} has no test issuer (answer {answer.status_code} to POST /test-issuer/token): "
                         "tokens come from a local `oidc-trust emulator` only; give its URL with --api-url or "
                         f"{settings.API_URL_ENV}")
    try:
        _write_private(out.resolve(), (body["token"] + "\n").encode())
    except OSError as e:
        raise InputError(f"--out '{shown(out)}': {e.strerror or type(e).__name__}; give a writable file path")
    described = [f"{k} {shown(v if isinstance(v, str) else json.dumps(v))}" for k, v in claims.items() if k in ("sub", "aud")]
    lifetime = args.lifetime or f"{DEFAULT_LIFETIME_SECONDS // 60} min"
    print(f"wrote a token of the test issuer {shown(base)}/test-issuer to {shown(out)} ({', '.join(described)}; "
          f"valid {shown(lifetime)}; the token is not shown)")
    org = f" --oidc-org {shlex.quote(args.org)}" if args.org else ""
    print(f"  pulumi login {shlex.quote(base)} --oidc-token {shlex.quote('file://' + str(out.resolve()))}{org}")
    return EXIT_OK


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0-65535 (0: any free port)")
    return port


def register(commands: Any) -> None:
    """Add ``emulator`` and ``token`` to the ``oidc-trust`` subcommands."""
    p = commands.add_parser(
        "emulator",
        help="run a local Pulumi Cloud (the emulator) until Ctrl-C, and print the lines to paste",
        description="Run the local emulator of Pulumi Cloud's OIDC endpoints on 127.0.0.1 until Ctrl-C. Its state, "
        "a generated admin token and its test issuer's key live in --dir (0700, files 0600) and are kept for "
        "the next start. It prints the lines to paste: OIDC_TRUST_API_URL for the oidc-trust commands, and "
        "oidc:apiUrl and oidc:accessToken for your stack (read from the token file; the token is never printed). "
        "An organization exists once an issuer is registered in it; reads of any other answer 404.",
        epilog="Exit: 0 stopped by Ctrl-C, 2 cannot start (port in use, unreadable folder).",
    )
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--dir", metavar="DIR", help="its state, admin token and key (default $XDG_STATE_HOME/oidc-trust/emulator, "
                   "else ~/.local/state/oidc-trust/emulator)")
    p.set_defaults(handler=cmd_emulator)

    p = commands.add_parser(
        "token",
        help="mint a token of the local emulator's test issuer into a file (for pulumi login --oidc-token)",
        description="Ask the emulator's test OIDC issuer ({api}/test-issuer) for a signed token with the claims "
        "given (iss, iat, nbf, exp and jti are filled in; exp is 10 minutes away unless --lifetime) and write it "
        "to --out (0600). The token is never printed.",
        epilog="Example: oidc-trust token --sub repo:acme/infra:ref:refs/heads/main --org acme "
        "--claim repository_owner_id=1234567 --out token.jwt\nExit: 0 written, 2 input error or no emulator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sub", metavar="SUBJECT", help="the token's sub claim")
    p.add_argument("--org", metavar="ORG", help="aud: urn:pulumi:org:ORG (what Pulumi Cloud expects)")
    p.add_argument("--claim", action="append", default=[], metavar="NAME=TEXT|NAME:=JSON",
                   help="another claim (repeatable); NAME:=JSON for a number, a boolean or a list")
    p.add_argument("--lifetime", metavar="DURATION", help="seconds or a duration ('15m'; default 10 min)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the token (0600)")
    add_api_url_argument(p, f"the emulator's URL (default ${settings.API_URL_ENV}; never Pulumi Cloud)")
    p.set_defaults(handler=cmd_token)
