"""``make bench``: round-trips, state size, provider start-up, scale and policy evaluation, then
the same work through the real Pulumi CLI (``benchmarks/engine.py``).

Prints a table of each figure beside its target and writes ``benchmarks/results.json``. The
host-driven figures are measured against the emulator through the SDK's dynamic-provider host,
driven by hand; the real-engine table runs ``pulumi`` itself. Nothing here is a test: targets are
reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

from harness.dynamic_host import ROOT, DynamicProviderHost, Resource, rpc
from pulumi_oidc_trust.provider import policy as model
from pulumi_oidc_trust.provider.issuer import OidcIssuerProvider
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicyProvider
from pulumi_oidc_trust.provider.issuer_with_policies import OidcIssuerWithPoliciesProvider

from . import engine
from .trivial_provider import TrivialProvider

RESULTS = Path(__file__).with_name("results.json")
ISSUER_TYPE = "dynamic/oidc:OidcIssuer"
POLICY_TYPE = "dynamic/oidc:OidcIssuerPolicy"
BOTH_TYPE = "dynamic/oidc:OidcIssuerWithPolicies"
HOST_WORKERS = 4  # the SDK's dynamic-provider host serves gRPC with 4 worker threads


class Figures:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, value: float, unit: str, target: str, met: bool, note: str = "") -> None:
        self.rows.append({"name": name, "value": round(value, 3), "unit": unit, "target": target, "met": bool(met), "note": note})
        print(f"  {name:<48} {value:>12.3f} {unit:<10} target {target:<14} {'met' if met else 'NOT MET'}", flush=True)


@contextmanager
def emulator(*flags: str) -> Iterator[tuple[str, str]]:
    token = "pul-" + secrets.token_hex(20)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulumi_oidc_trust.emulator", "--port", "0", *flags],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PULUMI_EMULATOR_ACCESS_TOKEN": token},  # never on argv
    )
    try:
        yield proc.stdout.readline().strip(), token
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def host_for(base: str, token: str) -> DynamicProviderHost:
    return DynamicProviderHost({"oidc:apiUrl": base, "oidc:accessToken": rpc.wrap_rpc_secret(token)})


def api_calls(base: str) -> int:
    stats = requests.get(f"{base}/_emulator/stats", timeout=10).json()
    requests.post(f"{base}/_emulator/stats/reset", timeout=10)
    return sum(stats["counts"].values())


def team_policies(org: str, team: str) -> list[dict[str, Any]]:
    return [{"decision": "allow", "token_type": "team", "team_name": team,
             "rules": {"aud": f"urn:pulumi:org:{org}", "sub": "system:serviceaccount:pulumi:deployer"}}]


# ------------------------------------------------------------------------------ 1 and 2


def round_trips_and_state(figures: Figures) -> None:
    print("Round-trips per operation (counted at the emulator) and state size:")
    with emulator() as (base, token), host_for(base, token) as host:
        org = "bench"
        issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, "issuer")
        iprops = {"organization": org, "url": f"{base}/test-issuer", "name": "issuer"}
        policy = Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, "policy")
        api_calls(base)

        def measure(name: str, op: Callable[[], Any], target: int, why: str) -> None:
            op()
            n = api_calls(base)
            figures.add(f"round-trips: {name}", n, "requests", f"<= {target}", n <= target, why)

        measure("create issuer", lambda: issuer.create(iprops), 2, "1 lookup by URL (never a second issuer) + 1 POST")
        pprops = {"organization": org, "issuer_id": issuer.outputs["issuer_id"], "policies": team_policies(org, "a")}
        measure("create policy", lambda: policy.create(pprops), 2, "GET (the policy id; whose document it is) + PATCH")
        measure("no-op preview (check+diff, both)", lambda: (issuer.diff(iprops), policy.diff(pprops)), 0, "diff is local")
        measure("refresh (read, both)", lambda: (issuer.read(), policy.read()), 2, "1 GET each")
        measure("update issuer", lambda: issuer.update({**iprops, "max_expiration_seconds": 3600}), 1, "1 PATCH")
        measure("update policy", lambda: policy.update({**pprops, "policies": team_policies(org, "b")}), 2,
                "GET (version check) + PATCH")
        measure("delete policy (close the issuer)", policy.delete, 2,
                "GET (is the document still this resource's version?) + PATCH of CLOSED")
        measure("delete issuer", issuer.delete, 1, "1 DELETE")

        both = Resource(host, OidcIssuerWithPoliciesProvider(), BOTH_TYPE, "both")
        bprops = {"organization": org, "url": f"{base}/bench-issuer/both", "name": "both",
                  "policies": team_policies(org, "a")}
        measure("create issuer with policies", lambda: both.create(bprops), 3,
                "POST + GET (the policy id) + PATCH; the lookup by URL is one per organization per update")
        measure("refresh issuer with policies", both.read, 2, "1 GET each")
        measure("update its policies", lambda: both.update({**bprops, "policies": team_policies(org, "b")}), 2,
                "GET (version check) + PATCH")
        measure("delete issuer with policies", both.delete, 1, "1 DELETE: the service drops the document with it")

        for res in (issuer, policy, both):
            provider_bytes = len(res.provider)
            figures.add(f"state: __provider of {res.name}", provider_bytes, "bytes", "< 2048", provider_bytes < 2048)
            outs = {k: v for k, v in res.outputs.items() if k != "__provider"}
            figures.add(f"state: outputs of {res.name}", len(json.dumps(outs)), "bytes", "report", True)


# ------------------------------------------------------------------------------ 3


def first_check_seconds(provider: Any, type_name: str, props: dict[str, Any]) -> float:
    start = time.perf_counter()
    with DynamicProviderHost({}) as host:
        Resource(host, provider, type_name, "x").check(props)
        return time.perf_counter() - start


def startup(figures: Figures, runs: int) -> None:
    print("Provider start-up (process start to the first answered Check):")
    ours, trivial = [], []
    for _ in range(runs):  # interleaved, so machine noise hits both alike
        ours.append(first_check_seconds(OidcIssuerPolicyProvider(), POLICY_TYPE,
                                        {"organization": "o", "issuer_id": "i", "policies": team_policies("o", "a")}))
        trivial.append(first_check_seconds(TrivialProvider(), "dynamic/bench:Trivial", {"value": "x"}))
    o, t = statistics.median(ours), statistics.median(trivial)
    figures.add("start-up: our provider (median)", o, "s", "report", True)
    figures.add("start-up: trivial dynamic provider (median)", t, "s", "report", True)
    figures.add("start-up: ratio ours / trivial", o / t, "x", "<= 1.5", o / t <= 1.5)


# ------------------------------------------------------------------------------ 4


def provision(count: int, latency_ms: int) -> dict[str, float]:
    with emulator("--latency-ms", str(latency_ms)) as (base, token), host_for(base, token) as host:
        api_calls(base)
        in_flight = 0
        peak = 0
        lock = threading.Lock()

        def track(delta: int) -> None:
            nonlocal in_flight, peak
            with lock:
                in_flight += delta
                peak = max(peak, in_flight)

        def one(i: int) -> None:
            org = f"scale-{i % 10}"
            track(+1)
            try:
                issuer = Resource(host, OidcIssuerProvider(), ISSUER_TYPE, f"issuer-{i}")
                outs = issuer.create({"organization": org, "url": f"{base}/test-issuer/{i}", "name": f"issuer-{i}"})
                Resource(host, OidcIssuerPolicyProvider(), POLICY_TYPE, f"policy-{i}").create(
                    {"organization": org, "issuer_id": outs["issuer_id"], "policies": team_policies(org, "a")}
                )
            finally:
                track(-1)

        start = time.perf_counter()
        with ThreadPoolExecutor(HOST_WORKERS) as pool:
            list(pool.map(one, range(count)))
        wall = time.perf_counter() - start
        trips = api_calls(base)
    ideal = trips * latency_ms / 1000 / peak
    return {"wall": wall, "trips": trips, "concurrency": peak, "ideal": ideal}


def scale(figures: Figures, large: int, small: int, latency_ms: int) -> None:
    print(f"Scale: issuers + policies through the host, {latency_ms} ms latency per request:")
    s = provision(small, latency_ms)
    big = provision(large, latency_ms)
    figures.add(f"scale: {large} issuers+policies wall time", big["wall"], "s", "report", True)
    figures.add(f"scale: {large} round-trips", big["trips"], "requests", f"{4 * large}", big["trips"] <= 4 * large)
    figures.add("scale: concurrency reached", big["concurrency"], "in flight", f"{HOST_WORKERS}", big["concurrency"] >= HOST_WORKERS)
    ratio = big["wall"] / big["ideal"]
    figures.add("scale: wall / ideal (trips x latency / concurrency)", ratio, "x", "<= 1.5", ratio <= 1.5)
    growth = (big["wall"] / large) / (s["wall"] / small)
    figures.add(f"scale: per-issuer time {large} vs {small}", growth, "x", "~1 (linear, <= 1.2)", growth <= 1.2)


# ------------------------------------------------------------------------------ 5


def evaluation(figures: Figures, seconds: float) -> None:
    print("Policy evaluation (the emulator's hot path):")
    policies = model.parse_policies([
        {"decision": "allow", "token_type": "organization",
         "rules": {"aud": "urn:pulumi:org:acme", "sub": f"repo:acme/repo-{i}:ref:refs/heads/*",
                   "repository_owner_id": "1234", "repository_id": str(1000 + i), "environment": "prod*"}}
        for i in range(40)
    ])
    claims = {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/repo-39:ref:refs/heads/main",
              "repository_owner_id": "1234", "repository_id": "1039", "environment": "production"}
    request = model.Request("organization")
    assert model.evaluate(policies, claims, request).policy_index == 39

    exact = [dict(p.rules) for p in policies]

    def baseline() -> bool:
        return any(all(claims.get(k) == v for k, v in rules.items()) for rules in exact)

    def rate(fn: Callable[[], Any]) -> float:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(50):
                fn()
            n += 50
        return n / (time.perf_counter() - start)

    assert model.decide(policies, claims, request) == 39
    fast = rate(lambda: model.decide(policies, claims, request))
    explained = rate(lambda: model.evaluate(policies, claims, request))
    base = rate(baseline)
    figures.add("evaluation: decide() decisions/s, 40 x 5 rules", fast, "1/s", ">= 1000", fast >= 1000,
                "1 ms per exchange decision at most")
    figures.add("evaluation: evaluate() with explanations", explained, "1/s", "report", True)
    figures.add("evaluation: baseline exact dict comparison", base, "1/s", "report", True)
    figures.add("evaluation: baseline / decide()", base / fast, "x", "report", True,
                "wildcards and nested claim paths cost this much over exact equality")


def real_engine(sizes: list[int], runs: int, latency_ms: int) -> dict[str, Any]:
    print(f"Through the real Pulumi CLI: N issuers + N policies, {latency_ms} ms per request, median of {runs}:")
    with emulator("--latency-ms", str(latency_ms)) as (base, token):
        result = engine.run(base, token, latency_ms, sizes, runs)
    if "skipped" in result:
        print(f"  skipped: {result['skipped']}")
        return result
    print(f"  engine {result['engine']}; official provider: {result['official']}")
    print_engine_table(result["rows"], sizes)
    return result


def print_engine_table(rows: list[dict[str, Any]], sizes: list[int]) -> None:
    """Two resources per issuer and one (OidcIssuerWithPolicies), each beside its sleeping
    reference; the bare-HTTP reference (the floor of a Python dynamic provider sending the same
    requests); the official provider: measured in this run when its plugin was on PATH, else the
    figures recorded in issue 28. A figure not measured (an older results.json) prints as -."""
    by = {(r["n"], r["kind"], r["op"]): r for r in rows}

    def s(n: int, kind: str, op: str) -> float | None:
        row = by.get((n, kind, op))
        return row["median_s"] if row else None

    def cell(value: float | None, width: int) -> str:
        return f"{value:>{width}.2f}" if value is not None else f"{'-':>{width}}"

    def ratio(a: float | None, b: float | None, width: int) -> str:
        return f"{a / b:>{width - 1}.2f}x" if a is not None and b else f"{'-':>{width}}"

    print(f"  {'N':>4} {'op':<8} {'two s':>6} {'ref s':>6} {'x':>6} {'one s':>6} {'ref s':>6} {'x':>6} "
          f"{'bare s':>6} {'one/bare':>8} {'official s':>10} {'one/off':>7} {'bare/off':>8} {'requests two/one/bare':>21}")
    for n in sizes:
        for op in engine.OPS:
            two, two_ref = s(n, "ours", op), s(n, "trivial", op)
            one, one_ref, bare = s(n, "combined", op), s(n, "trivial-combined", op), s(n, "bare-http", op)
            official = s(n, "official", op) or engine.OFFICIAL.get((n, op))  # measured when on PATH
            trips = "/".join(str((by.get((n, k, op)) or {}).get("requests", "-")) for k in ("ours", "combined", "bare-http"))
            print(f"  {n:>4} {op:<8} {cell(two, 6)} {cell(two_ref, 6)} {ratio(two, two_ref, 6)} "
                  f"{cell(one, 6)} {cell(one_ref, 6)} {ratio(one, one_ref, 6)} {cell(bare, 6)} {ratio(one, bare, 8)} "
                  f"{cell(official, 10)} {ratio(one, official, 7)} {ratio(bare, official, 8)} {trips:>21}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller scale run (smoke test)")
    parser.add_argument("--engine-sizes", default=None, metavar="N,N,...",
                        help="issuer counts for the real-CLI table (default 10,40,100,200; --quick: 10)")
    parser.add_argument("--engine-runs", type=int, default=None, help="runs per figure (default 3; --quick: 1)")
    parser.add_argument("--engine-only", action="store_true", help="only the real-CLI table (host figures, and the sizes not run, kept from results.json)")
    args = parser.parse_args(argv)
    figures = Figures()
    print(f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.engine_only:
        figures.rows = previous.get("figures", [])
    else:
        round_trips_and_state(figures)
        startup(figures, runs=3 if args.quick else 7)
        if args.quick:
            scale(figures, large=20, small=5, latency_ms=20)
        else:
            scale(figures, large=200, small=50, latency_ms=20)
        evaluation(figures, seconds=0.5 if args.quick else 2.0)
    sizes = [int(n) for n in (args.engine_sizes or ("10" if args.quick else "10,40,100,200")).split(",")]
    runs = args.engine_runs or (1 if args.quick else 3)
    real = real_engine(sizes, runs, latency_ms=20)
    kept = [r for r in (previous.get("engine") or {}).get("rows", []) if r["n"] not in sizes]
    if args.engine_only and kept and "rows" in real:  # the sizes not run this time stay as last measured
        real["rows"] = sorted(kept + real["rows"], key=lambda r: (r["n"], r["kind"], engine.OPS.index(r["op"])))
    RESULTS.write_text(json.dumps({"machine": {"arch": platform.machine(), "python": platform.python_version(),
                                               "cpus": os.cpu_count(), "system": f"{platform.system()} {platform.release()}"},
                                   "figures": figures.rows, "engine": real}, indent=2) + "\n")
    print(f"\nWrote {RESULTS.relative_to(ROOT)}; {sum(r['met'] for r in figures.rows)}/{len(figures.rows)} targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
