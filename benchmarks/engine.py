"""The real-engine half of ``make bench``: N issuers, each with its policy, through the real
``pulumi`` CLI against the emulator, beside a reference dynamic provider that only sleeps the
same round-trips, in one run.

Per N and kind of program: ``up`` (``--skip-preview``), a no-op ``preview``, ``refresh`` and
``destroy``, each timed as the whole CLI process (wall seconds), repeated; medians are reported,
the kinds interleaved run by run so machine noise hits them alike. Requests per operation are the
emulator's own count (``GET /_emulator/stats``). Issuer URLs are loopback (the emulator's address,
a distinct path each): a bench over a public host name would measure the machine's resolver.

The official provider (``pulumiservice:index:OidcIssuer``, policies inline) runs the same work
when ``pulumi-resource-pulumiservice`` is on PATH; otherwise its row is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import requests

from harness.pulumi_cli import ROOT, Cli, Plugin, cli_environment, find_cli, init_stack, install_plugin

OPS = ("up", "preview", "refresh", "destroy")
KINDS = ("ours", "trivial", "combined", "trivial-combined", "bare-http")
"""``ours``: OidcIssuer + OidcIssuerPolicy (2N resources); ``combined``: OidcIssuerWithPolicies (N);
each beside a reference of its shape that only sleeps the same round-trips. ``bare-http``: the
floor of a Python dynamic provider that sends the same requests as ``combined`` to the same
emulator and does nothing else (``trivial_provider.BareHttpProvider``)."""

OFFICIAL = {  # issue 28: pulumiservice v1.3.0 built from source by an earlier session, same engine,
    # latency and runs, 2 cores; its program registered pulumi.CustomResource directly (no SDK class)
    (40, "up"): 1.78, (40, "preview"): 1.46, (40, "refresh"): 1.35, (40, "destroy"): 0.86,
    (100, "up"): 2.92, (100, "preview"): 1.57, (100, "refresh"): 2.05, (100, "destroy"): 1.61,
}
PASSPHRASE = "bench-passphrase"  # guards a temporary backend only
OFFICIAL_PLUGIN = "pulumi-resource-pulumiservice"

# What our resources send per operation (the trivial reference sleeps the same).
TRIPS = {"issuer": {"create": 2, "read": 1, "delete": 1}, "policy": {"create": 2, "read": 1, "delete": 2},
         # one resource carrying both: register, read the document, write it; delete is one DELETE
         "combined": {"create": 3, "read": 2, "delete": 1}}

PROGRAM = '''\
"""Bench program: N issuers, each with its policy (kind "ours"), or the same shape through the
reference providers ("trivial", "bare-http") or the official provider ("official")."""
import pulumi

config = pulumi.Config("bench")
kind, count, org = config.require("kind"), config.require_int("count"), config.require("organization")
base = config.require("issuerBase")


def grant(tokenType="token_type", teamName="team_name"):
    return [{"decision": "allow", tokenType: "team", teamName: "deployers",
             "rules": {"aud": f"urn:pulumi:org:{org}", "sub": "system:serviceaccount:pulumi:deployer"}}]


if kind == "ours":
    from pulumi_oidc_trust import OidcIssuer, OidcIssuerPolicy

    for i in range(count):  # OIDC017 waived: see "combined"
        issuer = OidcIssuer(f"issuer-{i}", organization=org, url=f"{base}/{i}", name=f"issuer-{i}",
                            lint_waivers={"OIDC017": "the bench serves its issuers over loopback http"})
        OidcIssuerPolicy(f"policy-{i}", organization=org, issuer_id=issuer.issuer_id, policies=grant())
elif kind == "combined":
    from pulumi_oidc_trust import OidcIssuerWithPolicies

    for i in range(count):
        # Waived: a warning that every loopback issuer gets (plain http), which a real https issuer does not.
        OidcIssuerWithPolicies(f"issuer-{i}", organization=org, url=f"{base}/{i}", name=f"issuer-{i}", policies=grant(),
                               lint_waivers={"OIDC017": "the bench serves its issuers over loopback http"})
elif kind == "trivial":
    from benchmarks.trivial_provider import Sleeper

    latency, trips = config.require_int("latencyMs"), config.require_object("trips")
    for i in range(count):
        first = Sleeper(f"issuer-{i}", {"latency_ms": latency, "trips": trips["issuer"], "key": None})
        Sleeper(f"policy-{i}", {"latency_ms": latency, "trips": trips["policy"], "key": first.id})
elif kind == "trivial-combined":
    from benchmarks.trivial_provider import Sleeper

    latency, trips = config.require_int("latencyMs"), config.require_object("trips")
    for i in range(count):
        Sleeper(f"issuer-{i}", {"latency_ms": latency, "trips": trips["combined"], "key": None})
elif kind == "bare-http":
    from benchmarks.trivial_provider import BareHttpIssuer

    api = config.require("apiUrl")
    for i in range(count):
        BareHttpIssuer(f"issuer-{i}", {"api_url": api, "organization": org, "name": f"issuer-{i}",
                                       "url": f"{base}/{i}", "policies": grant("tokenType", "teamName")})
elif kind == "official":
    for i in range(count):
        pulumi.CustomResource("pulumiservice:index:OidcIssuer", f"issuer-{i}", {
            "organization": org, "name": f"issuer-{i}", "url": f"{base}/{i}",
            "policies": grant("tokenType", "teamName"),
        })
'''


def official_plugin() -> tuple[Plugin | None, str]:
    path = shutil.which(OFFICIAL_PLUGIN)
    if path is None:
        return None, f"{OFFICIAL_PLUGIN} is not on PATH (it cannot be built from the Go module proxy: every version answers 403)"
    done = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=60)
    version = (done.stdout or done.stderr).strip().lstrip("v") or "0.0.0"
    return Plugin("pulumiservice", Path(path).resolve(), version), ""


class Stack:
    """One stack of the bench program on a temporary file backend."""

    def __init__(self, cli: Cli, work: Path, kind: str, count: int, config: dict[str, str], secret: dict[str, str],
                 plugin: Plugin | None = None):
        self.cli, self.kind = cli, kind
        self.program = work / "program"
        if not self.program.exists():
            self.program.mkdir(parents=True)
            (self.program / "__main__.py").write_text(PROGRAM)
            (self.program / "Pulumi.yaml").write_text(
                "name: bench\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
                f"    virtualenv: {ROOT / '.venv'}\n")
        state = work / f"state-{kind}-{count}"
        home = work / "home"
        for folder in (state, home, work / "pulumi-home"):
            folder.mkdir(parents=True, exist_ok=True)
        self.env = cli_environment(cli, home, work / "pulumi-home", {
            "PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PYTHONPATH": str(ROOT),  # the trivial program imports benchmarks.trivial_provider
        })
        if plugin is not None:
            install_plugin(work / "pulumi-home", plugin)
        self.stack = f"{kind}-{count}"
        self.config_file = work / f"Pulumi.{self.stack}.yaml"
        init_stack(cli, self.program, self.stack, self.config_file, self.env)
        for key, value in config.items():
            self.pulumi(["config", "set", key, value])
        for key, value in secret.items():
            self.pulumi(["config", "set", "--secret", key], stdin=value)

    def pulumi(self, args: list[str], stdin: str | None = None, extra_env: dict[str, str] | None = None) -> float:
        """Runs ``pulumi ARGS`` for this stack; its wall seconds (the whole process). Raises on failure."""
        command = [str(self.cli.bin_dir / "pulumi"), *args, "--non-interactive",
                   "--stack", self.stack, "--config-file", str(self.config_file)]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=self.program, env={**self.env, **(extra_env or {})}, input=stdin,
                              capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} ({self.stack}) failed:\n{(done.stdout + done.stderr)[-3000:]}")
        return wall


OP_ARGS = {
    "up": ["up", "--yes", "--skip-preview"],
    "preview": ["preview", "--expect-no-changes"],
    "refresh": ["refresh", "--yes", "--skip-preview"],
    "destroy": ["destroy", "--yes", "--skip-preview"],
}


def requests_since_reset(base: str) -> int:
    counts = requests.get(f"{base}/_emulator/stats", timeout=10).json()["counts"]
    requests.post(f"{base}/_emulator/stats/reset", timeout=10)
    return sum(counts.values())


def run(base: str, token: str, latency_ms: int, sizes: list[int], runs: int, log: Callable[[str], None] = print,
        kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """Every (N, kind, op): the wall seconds of each run, their median and the requests per op."""
    cli, why = find_cli()
    if cli is None:
        return {"skipped": why}
    plugin, plugin_why = official_plugin()
    kinds = kinds + (("official",) if plugin is not None else ())
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="oidc-bench-") as tmp:
        work = Path(tmp)
        for count in sizes:
            stacks = {}
            for kind in kinds:
                org = f"bench-{kind}-{count}"
                config = {"bench:kind": kind, "bench:count": str(count), "bench:organization": org,
                          "bench:issuerBase": f"{base}/bench-issuer/{kind}/{count}",
                          "bench:latencyMs": str(latency_ms), "bench:trips": json.dumps(TRIPS),
                          "bench:apiUrl": base, "oidc:apiUrl": base, "pulumiservice:apiUrl": base}
                stacks[kind] = Stack(cli, work, kind, count, config,
                                     {"oidc:accessToken": token, "pulumiservice:accessToken": token},
                                     plugin if kind == "official" else None)
                if kind == "bare-http":  # its provider reads the token from the environment, never from the state
                    stacks[kind].env["BENCH_ACCESS_TOKEN"] = token
            walls: dict[tuple[str, str], list[float]] = {}
            trips: dict[tuple[str, str], int] = {}
            for _ in range(runs):
                for kind, stack in stacks.items():  # interleaved: ours, trivial, ours, trivial, ...
                    for op in OPS:
                        requests_since_reset(base)
                        walls.setdefault((kind, op), []).append(stack.pulumi(OP_ARGS[op]))
                        trips[(kind, op)] = requests_since_reset(base)
            for (kind, op), values in walls.items():
                row = {"n": count, "kind": kind, "op": op, "median_s": round(statistics.median(values), 3),
                       "runs_s": [round(v, 3) for v in values],
                       "requests": None if kind.startswith("trivial") else trips[(kind, op)]}
                rows.append(row)
                log(f"  N={count:<4} {kind:<8} {op:<8} {row['median_s']:>7.2f} s  (runs {', '.join(f'{v:.2f}' for v in values)})"
                    + (f"  {row['requests']} requests" if row["requests"] is not None else ""))
    return {"engine": cli.version, "latency_ms": latency_ms, "runs": runs, "parallel": "default (8 on this machine)",
            "official": plugin_why or f"ran {plugin.path} v{plugin.version}", "rows": rows}
