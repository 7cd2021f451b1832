"""What the reference gateway costs, as a ratio to the mock's own direct throughput, same run.

    python bench/bench_gateway.py [--quick] [--variants async,sync-legacy,...]

wrk (keep-alive, 64 connections) POSTs one chat request. The mock runs at 0 ms injected latency.
Direct: wrk -> mock chat-generations. Through a gateway: wrk -> gateway /v1/chat/completions ->
mock. The mock keeps its own core, as Salesforce is never on the gateway's machine; the gateway
runs on the other core, beside wrk (which had that core to itself in the direct run), so each
Python server has one core and the ratio is the proxy's throughput against its upstream's.
Goal for `async`: >= 0.45 (a proxy does at least twice the HTTP work). The mock is measured
before and after the gateways and the mean is used.

On a shared machine throughput also measures the neighbours, so each run also reports the CPU
time each server process spent per request (/proc): `cpu ratio` = mock CPU per direct request /
gateway CPU per proxied request, the throughput ratio two servers with a whole core each would
show. Not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _load
from bench_mock import CHAT_PATH, chat_headers, fetch_token, start_mock

GOAL_RATIO = 0.45
VARIANTS = ("async", "async-batching", "sync-optimized", "sync-legacy")
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Can you give me a recipe for cherry pie?"},
]
MODELS_BODY = json.dumps({"messages": MESSAGES}).encode()
OPENAI_BODY = json.dumps({"model": "gpt-4o", "messages": MESSAGES}).encode()


@dataclass(frozen=True)
class Run:
    """One measured wrk run and the CPU the servers spent on it (ms per request)."""

    wrk: _load.WrkResult
    server_cpu_ms: float  # the server wrk talked to
    mock_cpu_ms: float  # the mock behind it (same as server_cpu_ms when direct)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (0.0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_gateway(variant: str, mock_url: str, core: int | None) -> _load.ServerProcess:
    argv = ["-m", "harness.subjects.gateway", "--variant", variant, "--upstream", mock_url]
    return _load.python_server(argv, core)


def measure(
    url: str, script: str, duration_s: float, core: int | None, pids: tuple[int, int]
) -> Run:
    """Warm up for 1 s, then one measured wrk run with the CPU of `pids` (server, mock)."""
    _load.run_wrk(url, connections=64, duration_s=1, lua_script=script, core=core)
    before = [cpu_s(pid) for pid in pids]
    result = _load.run_wrk(url, connections=64, duration_s=duration_s, lua_script=script, core=core)
    spent = [cpu_s(pid) - start for pid, start in zip(pids, before, strict=True)]
    per_request_ms = [1000.0 * s / max(result.requests, 1) for s in spent]
    return Run(result, per_request_ms[0], per_request_ms[1])


def run(variants: Sequence[str], duration_s: float) -> dict[str, Run]:
    """Runs: `mock` (first), each variant, `mock-again` (last), all against one mock."""
    server_core, load_core = _load.pick_cores()
    mock = start_mock("fixed:0ms", server_core)
    mock_pid = mock.process.pid
    runs: dict[str, Run] = {}
    try:
        direct = _load.wrk_post_script(MODELS_BODY, chat_headers(fetch_token(mock.url)))
        mock_url = mock.url + CHAT_PATH
        runs["mock"] = measure(mock_url, direct, duration_s, load_core, (mock_pid, mock_pid))
        openai = _load.wrk_post_script(OPENAI_BODY, {"Content-Type": "application/json"})
        for variant in variants:
            gateway = start_gateway(variant, mock.url, load_core)
            try:
                url = gateway.url + "/v1/chat/completions"
                pids = (gateway.process.pid, mock_pid)
                runs[variant] = measure(url, openai, duration_s, load_core, pids)
            finally:
                gateway.stop()
        runs["mock-again"] = measure(mock_url, direct, duration_s, load_core, (mock_pid, mock_pid))
    finally:
        mock.stop()
    return runs


def report(runs: dict[str, Run]) -> float:
    """Print every run and the ratios; returns the `async` throughput ratio (nan if absent)."""
    mocks = [runs["mock"], runs["mock-again"]]
    mock_rps = statistics.mean(r.wrk.requests_per_s for r in mocks)
    mock_cpu_ms = statistics.mean(r.server_cpu_ms for r in mocks)
    print("\n== gateway vs the mock direct: wrk -t1 -c64, keep-alive, 0 ms injected")
    print("  run                  req/s    p50 ms    p99 ms  ratio  cpu ms/req  cpu ratio")
    for name, r in runs.items():
        p50, p99 = (
            r.wrk.latency_ms.get(50.0, float("nan")),
            r.wrk.latency_ms.get(99.0, float("nan")),
        )
        direct = name.startswith("mock")
        ratio = "     " if direct else f"{r.wrk.requests_per_s / mock_rps:5.2f}"
        cpu_ratio = "" if direct else f"{mock_cpu_ms / r.server_cpu_ms:9.2f}"
        behind = "" if direct else f"  (mock behind it: {r.mock_cpu_ms:.3f} ms/req)"
        bad = f"  NON-2XX {r.wrk.non_2xx}" if r.wrk.non_2xx else ""
        bad += f"  SOCKET ERRORS {r.wrk.socket_errors}" if r.wrk.socket_errors else ""
        print(
            f"  {name:15} {r.wrk.requests_per_s:9,.0f} {p50:9.2f} {p99:9.2f}  {ratio}"
            f"  {r.server_cpu_ms:10.3f}{cpu_ratio:>11}{behind}{bad}"
        )
    if "async" not in runs:
        return float("nan")
    ratio = runs["async"].wrk.requests_per_s / mock_rps
    verdict = "meets" if ratio >= GOAL_RATIO else "MISSES"
    print(f"  async / mock = {ratio:.2f} throughput ({verdict} the goal >= {GOAL_RATIO}),")
    print(f"  {mock_cpu_ms / runs['async'].server_cpu_ms:.2f} by CPU per request")
    return ratio


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 s per run instead of 5 s")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    try:
        report(run(variants, 2.0 if args.quick else 5.0))
    except _load.BenchError as exc:
        print(f"bench_gateway: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
