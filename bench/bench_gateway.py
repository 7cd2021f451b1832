"""What the reference gateway costs, as a ratio to the mock's own direct throughput, same run.

    python bench/bench_gateway.py [--quick] [--variants async,sync-legacy,...]

wrk (keep-alive, 64 connections) POSTs one chat request. The mock runs at 0 ms injected latency.
Direct: wrk -> mock chat-generations. Through a gateway: wrk -> gateway /v1/chat/completions ->
mock. The mock keeps its own core, as Salesforce is never on the gateway's machine; the gateway
runs on the other core, beside wrk (which had that core to itself in the direct run), so each
Python server has one core and the ratio is the proxy's throughput against its upstream's.
Goal for `async`: >= 0.45 (a proxy does at least twice the HTTP work). The mock is measured
before and after the gateways and the mean is used. Not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence

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


def start_gateway(variant: str, mock_url: str, core: int | None) -> _load.ServerProcess:
    argv = ["-m", "harness.subjects.gateway", "--variant", variant, "--upstream", mock_url]
    return _load.python_server(argv, core)


def measure(url: str, script: str, duration_s: float, core: int | None) -> _load.WrkResult:
    _load.run_wrk(url, connections=64, duration_s=1, lua_script=script, core=core)  # warm-up
    return _load.run_wrk(url, connections=64, duration_s=duration_s, lua_script=script, core=core)


def run(variants: Sequence[str], duration_s: float) -> dict[str, _load.WrkResult]:
    """wrk results: `mock` (first), each variant, `mock-again` (last), all in one run."""
    server_core, load_core = _load.pick_cores()
    mock = start_mock("fixed:0ms", server_core)
    results: dict[str, _load.WrkResult] = {}
    try:
        direct = _load.wrk_post_script(MODELS_BODY, chat_headers(fetch_token(mock.url)))
        results["mock"] = measure(mock.url + CHAT_PATH, direct, duration_s, load_core)
        openai = _load.wrk_post_script(OPENAI_BODY, {"Content-Type": "application/json"})
        for variant in variants:
            gateway = start_gateway(variant, mock.url, load_core)
            try:
                url = gateway.url + "/v1/chat/completions"
                results[variant] = measure(url, openai, duration_s, load_core)
            finally:
                gateway.stop()
        results["mock-again"] = measure(mock.url + CHAT_PATH, direct, duration_s, load_core)
    finally:
        mock.stop()
    return results


def report(results: dict[str, _load.WrkResult]) -> float:
    """Print every run and the ratios; returns the `async` ratio (nan if not measured)."""
    mock_rps = statistics.mean(results[k].requests_per_s for k in ("mock", "mock-again"))
    print("\n== gateway throughput vs the mock direct: wrk -t1 -c64, keep-alive, 0 ms injected")
    for name, r in results.items():
        p50, p99 = r.latency_ms.get(50.0, float("nan")), r.latency_ms.get(99.0, float("nan"))
        ratio = "" if name.startswith("mock") else f"  ratio {r.requests_per_s / mock_rps:5.2f}"
        bad = f"  NON-2XX {r.non_2xx}" if r.non_2xx else ""
        errors = f"  SOCKET ERRORS {r.socket_errors}" if r.socket_errors else ""
        print(
            f"  {name:15} {r.requests_per_s:9,.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
            f"{ratio}{bad}{errors}"
        )
    if "async" not in results:
        return float("nan")
    ratio = results["async"].requests_per_s / mock_rps
    verdict = "meets" if ratio >= GOAL_RATIO else "MISSES"
    print(f"  async / mock = {ratio:.2f} ({verdict} the goal >= {GOAL_RATIO})")
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
