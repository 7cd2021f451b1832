"""Token validation cost: `memory-ttl` versus `file`, as a ratio measured side by side.

    python bench/bench_tokens.py [--quick]

Both providers keep their grant in a real JSON file in a temporary folder and get a token that
stays valid for the whole run, so every call is a cache hit: `file` reads and parses the file
each time, `memory-ttl` touches it only at start. Rounds alternate between the two and the
median round is reported. Not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.subjects.token_providers import (
    FileTokenProvider,
    FileTokenStore,
    MemoryTtlTokenProvider,
    TokenGrant,
)

Provider = FileTokenProvider | MemoryTtlTokenProvider


def long_lived_grant() -> TokenGrant:
    now_s = time.time()
    return TokenGrant("bench-token", now_s, now_s + 86_400.0)


def build(kind: str, folder: Path) -> Provider:
    store = FileTokenStore(folder / f"{kind}.json")
    if kind == "file":
        return FileTokenProvider(store, long_lived_grant, time.time)
    return MemoryTtlTokenProvider(store, long_lived_grant, time.time)


def per_call_us(get_token: Callable[[], str], calls: int) -> float:
    started_ns = time.perf_counter_ns()
    for _ in range(calls):
        get_token()
    return (time.perf_counter_ns() - started_ns) / calls / 1000.0


def run(calls: int, rounds: int) -> dict[str, list[float]]:
    """Per-call microseconds of each provider, `rounds` alternating rounds of `calls` each."""
    timings: dict[str, list[float]] = {"file": [], "memory-ttl": []}
    with tempfile.TemporaryDirectory(prefix="sfperf-bench-tokens-") as tmp:
        providers = {kind: build(kind, Path(tmp)) for kind in timings}
        for provider in providers.values():
            provider.get_token()  # the first call fetches and writes: not what is measured
        for _ in range(rounds):
            for kind, provider in providers.items():
                timings[kind].append(per_call_us(provider.get_token, calls))
        for kind, provider in providers.items():
            c = provider.counters()
            print(
                f"  {kind:10} validations {c.validations:>9,}  file reads {c.file_reads:>9,}"
                f"  file writes {c.file_writes}  refreshes {c.refreshes}"
            )
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="token validation cost, memory-ttl vs file")
    parser.add_argument("--quick", action="store_true", help="fewer calls per round")
    args = parser.parse_args(argv)
    calls = 2_000 if args.quick else 20_000
    print(f"\n== token validation: {calls:,} calls per round, 7 alternating rounds")
    timings = run(calls, rounds=7)
    file_us = statistics.median(timings["file"])
    memory_us = statistics.median(timings["memory-ttl"])
    print(f"  file        {file_us:8.2f} us per validation (median round)")
    print(f"  memory-ttl  {memory_us:8.2f} us per validation (median round)")
    print(f"  file / memory-ttl = {file_us / memory_us:,.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
