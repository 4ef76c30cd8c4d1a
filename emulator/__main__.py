"""``python -m pulumi_oidc_trust.emulator --port 0 --access-token T [...]``: run the emulator until SIGTERM/SIGINT.

The first line of stdout is the base URL (``http://127.0.0.1:PORT``); nothing else is printed
there. Problems go to stderr, never with a token in them.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .faults import FAULT_STATUSES, WHEN, FaultConfig, FaultConfigError
from .server import serve


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
    parser.add_argument("--port", type=_non_negative, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--access-token", required=True,
                        help="the admin token clients send as 'Authorization: token T'")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        faults = FaultConfig(
            latency_ms=args.latency_ms, fault_rate=args.fault_rate, fault_status=args.fault_status,
            fault_when=args.fault_when, drop_rate=args.drop_rate, seed=args.seed,
        )
        faults.validate()
        running = serve(
            args.access_token, port=args.port, state_path=args.state, issuer_ca=args.issuer_ca, faults=faults,
            esc_environments=args.esc_environment,
        )
    except (OSError, ValueError, FaultConfigError) as e:
        print(f"emulator: cannot start: {type(e).__name__}: {e}", file=sys.stderr)
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
