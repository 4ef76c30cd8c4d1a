"""``python -m pulumi_oidc_trust.emulator --port 0 --access-token-file FILE [...]``: run the emulator until SIGTERM/SIGINT.

The admin token comes from ``--access-token-file FILE``, else the ``PULUMI_EMULATOR_ACCESS_TOKEN``
environment variable, else ``--access-token T`` (kept for compatibility: every local user can
read a process's argv, so prefer the other two).

It listens on ``--host`` (default 127.0.0.1). ``--tls-cert FILE --tls-key FILE`` (PEM) serve
https; an address that is not loopback is refused without them (plain http only on loopback).

The first line of stdout is the base URL (``http://127.0.0.1:PORT``, or ``https://HOST:PORT``
with TLS); nothing else is printed there. Problems go to stderr, never with a token in them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .faults import FAULT_STATUSES, WHEN, FaultConfig, FaultConfigError
from .server import DEFAULT_HOST, serve


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_oidc_trust.emulator",
        description="A local stand-in for Pulumi Cloud's OIDC issuer, auth policy and token exchange endpoints.",
    )
    parser.add_argument("--port", type=_non_negative, default=0, help="port on --host (0: any free port)")
    parser.add_argument("--host", metavar="ADDRESS", default=DEFAULT_HOST,
                        help=f"IP address to listen on (default {DEFAULT_HOST}); one that is not loopback needs "
                             "--tls-cert and --tls-key (plain http only on loopback)")
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="serve https with this PEM certificate (chain); the base URL is then https://HOST:PORT")
    parser.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert (unencrypted)")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--access-token-file", metavar="FILE",
                       help="file holding the admin token clients send as 'Authorization: token T'")
    token.add_argument("--access-token", metavar="T",
                       help=f"the admin token itself (visible to every local user in the process list; "
                            f"prefer --access-token-file or {TOKEN_ENV})")
    parser.add_argument("--state", metavar="FILE", help="JSON file the state is kept in across restarts")
    parser.add_argument("--issuer-ca", metavar="FILE", help="extra CA certificates (PEM) trusted for https issuers")
    parser.add_argument("--esc-environment", metavar="ORG/PROJECT/NAME", action="append", default=[],
                        help="an ESC environment `pulumi env ls` lists to tokens of ORG (repeatable)")
    faults = parser.add_argument_group("fault injection (on /api/* only; off by default)")
    faults.add_argument("--latency-ms", type=_non_negative, default=0, help="delay every API request")
    faults.add_argument("--fault-rate", type=_rate, default=0.0,
                        help="share of API requests answered with --fault-status")
    faults.add_argument("--fault-status", type=int, choices=FAULT_STATUSES, default=503)
    faults.add_argument("--fault-when", choices=WHEN, default="before",
                        help="before: the faulted request is not applied; after: it is applied, then faulted")
    faults.add_argument("--drop-rate", type=_rate, default=0.0,
                        help="share of API requests whose connection is dropped")
    faults.add_argument("--seed", type=int, help="seed for the fault RNG (reproducible runs)")
    return parser.parse_args(argv)


TOKEN_ENV = "PULUMI_EMULATOR_ACCESS_TOKEN"


def admin_token(args: argparse.Namespace, environ=os.environ) -> str:
    """The admin token from --access-token-file, $PULUMI_EMULATOR_ACCESS_TOKEN or --access-token."""
    if args.access_token_file:
        try:
            with open(args.access_token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise ValueError(
                f"--access-token-file {args.access_token_file!r}: {e.strerror or type(e).__name__}; write the admin "
                f"token to that file first (readable by you only), or set {TOKEN_ENV}; or run `oidc-trust emulator`, "
                "which makes and keeps one"
            ) from None
        if not token:
            raise ValueError(f"--access-token-file {args.access_token_file!r} is empty")
        return token
    token = (args.access_token or "").strip() or (environ.get(TOKEN_ENV) or "").strip()
    if not token:
        raise ValueError(f"no admin token: give --access-token-file FILE or set {TOKEN_ENV}")
    return token


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        access_token = admin_token(args)
        faults = FaultConfig(
            latency_ms=args.latency_ms, fault_rate=args.fault_rate, fault_status=args.fault_status,
            fault_when=args.fault_when, drop_rate=args.drop_rate, seed=args.seed,
        )
        faults.validate()
        running = serve(
            access_token, port=args.port, state_path=args.state, issuer_ca=args.issuer_ca, faults=faults,
            esc_environments=args.esc_environment, host=args.host, tls_cert=args.tls_cert, tls_key=args.tls_key,
        )
    except (OSError, ValueError, FaultConfigError) as e:
        # A ValueError is ours and says what to do; an OSError's class adds what failed.
        detail = str(e) if isinstance(e, (ValueError, FaultConfigError)) else f"{type(e).__name__}: {e}"
        print(f"emulator: cannot start: {detail}", file=sys.stderr)
        return 1

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(running.base_url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
