"""What sfperf's load runner costs: its request rate as a ratio to plain locust's, same run.

    python bench/bench_load.py [--quick] [--users 16] [--duration 10]

The same locustfile (`scenarios/load/steady.py`) runs twice against the same target, alternately,
in rounds: once by plain `locust -f ... --headless` (no sfperf options: no rows written, no
fidelity check) and once through `harness.runners.load.run_load` (a raw row per request,
a fidelity check on every reply, target metrics, the record). Both rates are read the same way,
from locust's own `locust_stats.csv` (Aggregated, Requests/s). Two targets:

- `bare`: a bare aiohttp server with a fixed chat-completion body. It is far faster than one
  locust process, so the client is the bottleneck and the harness's own cost shows in full
  (the replies are unfaithful, so the fidelity check runs its whole course every time).
- `gateway`: the reference `async` gateway in front of the mock at 0 ms: the realistic case.

The target gets one core, locust the other. Goal: sfperf / plain >= 0.90 on both.
Not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import _load
from bench_mock import start_mock

from harness.runners.load import LoadPlan, LoadTarget, locustfile_for, run_load

GOAL_RATIO = 0.90
BARE_BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "a fixed answer"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
}).encode()  # fmt: skip


def aggregated_rps(stats_csv: Path) -> float:
    """Requests/s of the Aggregated row of a locust `*_stats.csv`."""
    with stats_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    raise _load.BenchError(f"no Aggregated row in {stats_csv}")


def plain_locust_rps(url: str, users: int, duration_s: int, core: int | None, work: Path) -> float:
    """Run the locustfile with plain locust (no sfperf options) and read its request rate."""
    work.mkdir(parents=True, exist_ok=True)
    prefix = work / "plain"
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile_for("steady")), "--headless"]
    argv += ["-H", url, "-u", str(users), "-r", str(users), "-t", f"{duration_s}s"]
    argv += ["--only-summary", "--csv", str(prefix), "--exit-code-on-error", "0"]
    subprocess.run(
        _load.pinned(argv, core), check=True, capture_output=True, timeout=duration_s + 60
    )
    return aggregated_rps(Path(f"{prefix}_stats.csv"))


def sfperf_rps(target: LoadTarget, users: int, duration_s: int, work: Path) -> tuple[float, float]:
    """Run the same locustfile through sfperf: (locust's request rate, sfperf's throughput_rps)."""
    plan = LoadPlan("steady", users=users, spawn_rate=users, duration_s=duration_s)
    (record,) = run_load(plan, target, work)
    (stats,) = (work / name for name in record.artifacts if name.endswith("locust_stats.csv"))
    return aggregated_rps(stats), record.get("throughput_rps").values[0]


def compare(name: str, target: LoadTarget, args: argparse.Namespace, core: int | None) -> float:
    """A discarded warm-up, then plain and sfperf runs in alternating order; print medians."""
    plain, through, own = [], [], []
    with tempfile.TemporaryDirectory(prefix="sfperf-bench-load-") as tmp:
        plain_locust_rps(target.url, args.users, 2, core, Path(tmp) / "warm-up")
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="sfperf-bench-load-") as tmp:
            work = Path(tmp)
            runs = ["plain", "sfperf"] if round_ % 2 == 0 else ["sfperf", "plain"]
            for run in runs:  # alternate the order: neither side always runs first
                if run == "plain":
                    plain.append(
                        plain_locust_rps(target.url, args.users, args.duration, core, work)
                    )
                else:
                    rps, throughput = sfperf_rps(target, args.users, args.duration, work / "s")
                    through.append(rps)
                    own.append(throughput)
        print(
            f"  {name} round {round_ + 1}: plain {plain[-1]:8.1f} req/s   sfperf {through[-1]:8.1f}"
        )
    ratio = statistics.median(through) / statistics.median(plain)
    verdict = "ok" if ratio >= GOAL_RATIO else "BELOW GOAL"
    print(
        f"{name:<8} plain locust {statistics.median(plain):8.1f} req/s | sfperf "
        f"{statistics.median(through):8.1f} req/s (own count {statistics.median(own):.1f}) | "
        f"ratio {ratio:.3f} (goal >= {GOAL_RATIO}) {verdict}"
    )
    return ratio


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s runs, 2 rounds")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 5, 2
    server_core, load_core = _load.pick_cores()
    _load.pin_to_core(load_core)  # sfperf's locust children inherit this core
    mock = start_mock("fixed:0ms", server_core)
    bare = _load.start_bare_server(BARE_BODY, core=server_core)
    gateway = _load.python_server(
        ["-m", "harness.subjects.gateway", "--variant", "async", "--upstream", mock.url],
        server_core,
    )
    try:
        print(f"{args.users} users, {args.duration} s per run, {args.rounds} round(s)")
        compare("bare", LoadTarget("bare", bare.url, mock.url), args, load_core)
        compare("gateway", LoadTarget("async", gateway.url, mock.url), args, load_core)
    finally:
        for server in (gateway, bare, mock):
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
