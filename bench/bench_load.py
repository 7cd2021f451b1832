"""What sfperf's load runner costs: its request rate as a ratio to plain locust's, same run.

    python bench/bench_load.py [--quick] [--users 16] [--duration 10]

The same locustfile (`scenarios/load/steady.py`) runs twice against the same target, alternately,
in rounds: once by plain `locust -f ... --headless` (no sfperf options: no rows written, no
fidelity check) and once through `harness.runners.load.run_load` (a raw row per request,
a fidelity check on every reply, target metrics, the record). Both are read the same way: the
rate from locust's own `locust_stats.csv` (Aggregated), and the CPU the locust processes spent
per request (getrusage of the reaped children, minus the CPU of a run that sends nothing:
imports and start-up, the same on both sides). On a busy machine the rate swings with the
neighbours; CPU per request, which sets the rate a generator reaches once it saturates its
core, is the steadier figure. Two targets:

- `oracle`: a bare aiohttp server that answers every chat completion with the reply the mock
  would send (no upstream call). It is faster than one locust process, so the client is the
  bottleneck and the harness's own cost shows in full; the replies are faithful, as a healthy
  gateway's are, so requests take the success path on both sides.
- `gateway`: the reference `async` gateway in front of the mock at 0 ms: the realistic case.

The target gets one core, locust the other. Goal: sfperf / plain >= 0.90.
Not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _load
from bench_mock import start_mock

from harness.runners.load import LoadPlan, LoadTarget, locustfile_for, run_load

GOAL_RATIO = 0.90


def serve_oracle(mock_url: str) -> None:
    """`python bench_load.py oracle MOCK_URL`: answer chat completions as the mock would."""
    import functools

    from aiohttp import web

    from harness.fidelity import ReplyOracle
    from mock_salesforce.admin_client import AdminClient

    oracle = ReplyOracle.from_mock_config(AdminClient(mock_url).config())

    @functools.lru_cache(maxsize=16_384)
    def reply_bytes(messages: str) -> bytes:
        expected = oracle.chat({"messages": json.loads(messages)})
        choice = {"index": 0, "finish_reason": expected.finish_reason,
                  "message": {"role": "assistant", "content": expected.text}}  # fmt: skip
        usage = {"prompt_tokens": expected.prompt_tokens, "total_tokens": expected.total_tokens,
                 "completion_tokens": expected.completion_tokens}  # fmt: skip
        document = {"id": "chatcmpl-oracle", "object": "chat.completion", "created": 0,
                    "model": "gpt-4o-mini", "choices": [choice], "usage": usage}  # fmt: skip
        return json.dumps(document).encode()

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        payload = reply_bytes(json.dumps(body["messages"], sort_keys=True))
        return web.Response(body=payload, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


@dataclass(frozen=True)
class Measured:
    """One locust run: its request rate, request count and the CPU its processes spent."""

    rate_rps: float
    requests: int
    cpu_s: float

    def cpu_us_per_request(self, startup_cpu_s: float) -> float:
        return 1e6 * max(self.cpu_s - startup_cpu_s, 0.0) / max(self.requests, 1)


def aggregated(stats_csv: Path) -> tuple[float, int]:
    """(Requests/s, Request Count) of the Aggregated row of a locust `*_stats.csv`."""
    with stats_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"]), int(row["Request Count"])
    raise _load.BenchError(f"no Aggregated row in {stats_csv}")


def children_cpu_s() -> float:
    """CPU seconds of every child process reaped so far (each locust run ends reaped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def locust_argv(url: str, users: int, duration_s: int, prefix: Path) -> list[str]:
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile_for("steady")), "--headless"]
    argv += ["-H", url, "-u", str(users), "-r", str(max(users, 1)), "-t", f"{duration_s}s"]
    return [*argv, "--only-summary", "--csv", str(prefix), "--exit-code-on-error", "0"]


def startup_cpu_s(url: str, core: int | None, work: Path, extra: Sequence[str] = ()) -> float:
    """CPU of a locust run that sends nothing (imports, start-up, stop; with sfperf's options
    `extra`, also the expected replies computed ahead), taken out before dividing by requests."""
    spent = []
    (work / "raw").mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        before_s = children_cpu_s()
        argv = [*locust_argv(url, 0, 1, work / f"null-{attempt}"), *extra]
        subprocess.run(
            _load.pinned(argv, core),
            check=True,
            capture_output=True,
            timeout=60,
            start_new_session=True,
        )
        spent.append(children_cpu_s() - before_s)
    return min(spent)


def plain_locust(url: str, users: int, duration_s: int, core: int | None, work: Path) -> Measured:
    """Run the locustfile with plain locust (no sfperf options)."""
    work.mkdir(parents=True, exist_ok=True)
    prefix = work / "plain"
    before_s = children_cpu_s()
    subprocess.run(
        _load.pinned(locust_argv(url, users, duration_s, prefix), core),
        check=True,
        capture_output=True,
        timeout=duration_s + 60,
        start_new_session=True,  # as sfperf starts locust: the same scheduling group either way
    )
    return Measured(*aggregated(Path(f"{prefix}_stats.csv")), children_cpu_s() - before_s)


def through_sfperf(target: LoadTarget, users: int, duration_s: int, work: Path) -> Measured:
    """Run the same locustfile through sfperf's load runner (rows, fidelity, record)."""
    plan = LoadPlan("steady", users=users, spawn_rate=users, duration_s=duration_s)
    before_s = children_cpu_s()
    record, *_ = run_load(plan, target, work)
    (stats,) = (work / name for name in record.artifacts if name.endswith("locust_stats.csv"))
    return Measured(*aggregated(stats), children_cpu_s() - before_s)


def compare(name: str, target: LoadTarget, args: argparse.Namespace, core: int | None) -> None:
    """A discarded warm-up, then plain and sfperf runs in alternating order; print medians."""
    runs: dict[str, list[Measured]] = {"plain": [], "sfperf": []}
    with tempfile.TemporaryDirectory(prefix="sfperf-bench-load-") as tmp:
        plain_locust(target.url, args.users, 2, core, Path(tmp) / "warm-up")
        sfperf_options = ["--sfperf-out", f"{tmp}/raw", "--sfperf-mock-url", target.mock_url]
        startup_s = {
            "plain": startup_cpu_s(target.url, core, Path(tmp)),
            "sfperf": startup_cpu_s(target.url, core, Path(tmp), sfperf_options),
        }
    for round_ in range(args.rounds):
        order = ("plain", "sfperf") if round_ % 2 == 0 else ("sfperf", "plain")
        with tempfile.TemporaryDirectory(prefix="sfperf-bench-load-") as tmp:
            for side in order:  # alternate the order: neither side always runs first
                work = Path(tmp) / side
                runs[side].append(
                    plain_locust(target.url, args.users, args.duration, core, work)
                    if side == "plain"
                    else through_sfperf(target, args.users, args.duration, work)
                )
        plain, sfperf = runs["plain"][-1], runs["sfperf"][-1]
        print(
            f"  {name} round {round_ + 1}: plain {plain.rate_rps:7.1f} req/s "
            f"{plain.cpu_us_per_request(startup_s['plain']):6.0f} us CPU/req | sfperf "
            f"{sfperf.rate_rps:7.1f} req/s "
            f"{sfperf.cpu_us_per_request(startup_s['sfperf']):6.0f} us CPU/req"
        )
    print(
        f"  {name}: start-up CPU taken out: plain {startup_s['plain']:.2f} s, "
        f"sfperf {startup_s['sfperf']:.2f} s"
    )
    report(name, runs["plain"], runs["sfperf"], startup_s)


def report(
    name: str, plain: Sequence[Measured], sfperf: Sequence[Measured], startup_s: dict[str, float]
) -> None:
    """Two ratios: of request rates, and of CPU per request (the rate at saturation)."""
    rate = statistics.median(m.rate_rps for m in sfperf) / statistics.median(
        m.rate_rps for m in plain
    )
    cpu = statistics.median(
        m.cpu_us_per_request(startup_s["plain"]) for m in plain
    ) / statistics.median(m.cpu_us_per_request(startup_s["sfperf"]) for m in sfperf)
    for label, ratio in (("request rate", rate), ("CPU per request (plain / sfperf)", cpu)):
        verdict = "ok" if ratio >= GOAL_RATIO else "BELOW GOAL"
        print(f"{name:<8} {label:<34} ratio {ratio:.3f} (goal >= {GOAL_RATIO}) {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s runs, 2 rounds")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 8, 2
    server_core, load_core = _load.pick_cores()
    _load.pin_to_core(load_core)  # sfperf's locust children inherit this core
    mock = start_mock("fixed:0ms", server_core)
    oracle = _load.python_server([__file__, "oracle", mock.url], server_core)
    gateway = _load.python_server(
        ["-m", "harness.subjects.gateway", "--variant", "async", "--upstream", mock.url],
        server_core,
    )
    try:
        print(f"{args.users} users, {args.duration} s per run, {args.rounds} round(s)")
        compare("oracle", LoadTarget("oracle", oracle.url, mock.url), args, load_core)
        compare("gateway", LoadTarget("async", gateway.url, mock.url), args, load_core)
    finally:
        for server in (gateway, oracle, mock):
            server.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["oracle"]:
        serve_oracle(sys.argv[2])
    else:
        sys.exit(main())
