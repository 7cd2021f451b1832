"""The async reference gateway as a yardstick: how close it gets to the Little's-law bound.

    python bench/bench_yardstick.py [--quick] [--concurrency 512] [--latency-ms 200]
                                    [--rounds 2] [--variant async] [--loop asyncio|uvloop|auto]

With the mock answering after a fixed 200 ms and 512 requests in flight, no server can answer
more than 512 / 0.2 s = 2,560 req/s (Little's law). Goal: the `async` gateway, with one core to
itself, reaches >= 90% of that bound with no errors. One run measures, side by side:

1. the client's ceiling: wrk with the same 512 connections against a bare aiohttp app that
   answers at once (what wrk can drive, bounded by the cheapest server there is);
2. the method's reach: the same bare app answering after the same fixed latency (what a server
   with no logic at all gets to under this method, on this machine, now);
3. the mock's ceiling: wrk straight at the mock's chat-generations, and
4. the gateway: wrk -> gateway /v1/chat/completions -> mock; 3 and 4 alternate (`--rounds`).

wrk (C, keep-alive, one thread) counts the replies that complete inside a window of each run,
1 s after its start to 0.5 s before its end (`_load.windowed`): its own req/s would charge the
run's edges (connecting, the last wave still in flight) to the server, up to 8% at 5 s.

Pinning on two cores: the gateway (and the bare app) runs alone on the first core; the mock and
wrk share the second, where together they need about a fifth of it at 2,560 req/s (printed: CPU
per request and share of a core for every process, wrk's own from getrusage). The mock's ceiling
is measured in that same placement beside the same wrk, so a gateway that falls short of what
the mock reached alone fell short by itself. Other people's processes are not pinned away: read
the load average printed before and after. Not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import _load
from bench_gateway import OPENAI_BODY, loop_of
from bench_mock import CHAT_BODY, CHAT_PATH, chat_headers, fetch_token, one_reply, start_mock

GOAL_SHARE = 0.90
GATEWAY_PATH = "/v1/chat/completions"
WINDOW_START_S = 1.0
WINDOW_TAIL_S = 0.5


@dataclass(frozen=True)
class Setup:
    """What every run of one invocation shares."""

    concurrency: int
    latency_ms: float
    duration_s: float
    server_core: int | None
    load_core: int | None

    @property
    def bound_rps(self) -> float:
        """Little's law: requests in flight / time each takes, the most any server answers."""
        return self.concurrency / (self.latency_ms / 1000)


@dataclass(frozen=True)
class Run:
    """One measured wrk run, the CPU each server process spent on it, and wrk's own."""

    name: str
    wrk: _load.WrkResult
    cpu_s: dict[str, float]  # process name -> CPU seconds during the run
    waited_s: dict[str, float]  # process name -> seconds runnable but waiting for a CPU
    client_cpu_s: float

    @property
    def window(self) -> _load.WindowCount:
        assert self.wrk.window is not None, "wrk ran without the window script"
        return self.wrk.window

    @property
    def requests_per_s(self) -> float:
        return self.window.requests_per_s

    @property
    def errors(self) -> int:
        return self.wrk.non_2xx + self.wrk.socket_errors

    def cpu_ms_per_request(self, process: str) -> float:
        return 1000.0 * self.cpu_s[process] / max(self.wrk.requests, 1)


def children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children (each wrk run, once it has ended)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    name: str, url: str, script: str, setup: Setup, servers: dict[str, _load.ServerProcess]
) -> Run:
    """A 1 s warm-up (connections, tokens, the gateway's upstream pool), then one wrk run."""
    windowed = _load.windowed(script, WINDOW_START_S, setup.duration_s - WINDOW_TAIL_S)
    wrk(url, script, setup, 1.0)
    before = {key: (server.cpu_s(), server.run_delay_s()) for key, server in servers.items()}
    client_before_s = children_cpu_s()
    result = wrk(url, windowed, setup, setup.duration_s)
    spent = {key: server.cpu_s() - before[key][0] for key, server in servers.items()}
    waited = {key: server.run_delay_s() - before[key][1] for key, server in servers.items()}
    return Run(name, result, spent, waited, children_cpu_s() - client_before_s)


def wrk(url: str, script: str, setup: Setup, duration_s: float) -> _load.WrkResult:
    """wrk with the setup's connections, on the load core."""
    return _load.run_wrk(url, connections=setup.concurrency, duration_s=duration_s,
                         lua_script=script, core=setup.load_core)  # fmt: skip


def start_gateway(variant: str, loop: str, mock_url: str, core: int | None) -> _load.ServerProcess:
    """A reference gateway variant as its own process, pinned to `core`."""
    argv = ["-m", "harness.subjects.gateway", "--variant", variant, "--upstream", mock_url]
    return _load.python_server([*argv, "--loop", loop], core)


def reference_runs(setup: Setup, reply: bytes) -> list[Run]:
    """The client's ceiling (bare app, no wait) and the method's reach (bare app + latency)."""
    script = _load.wrk_post_script(CHAT_BODY, {"Content-Type": "application/json"})
    runs = []
    for name, sleep_ms in (("client ceiling", 0.0), ("bare app", setup.latency_ms)):
        bare = _load.start_bare_server(reply, sleep_ms=sleep_ms, core=setup.server_core)
        try:
            runs.append(measure(name, bare.url + CHAT_PATH, script, setup, {"server": bare}))
        finally:
            bare.stop()
    return runs


def alternating_runs(setup: Setup, variant: str, loop: str, rounds: int) -> list[Run]:
    """mock, gateway, mock, ..., mock: each gateway run between two of the mock alone."""
    mock = start_mock(f"fixed:{setup.latency_ms:g}ms", setup.load_core)
    gateway: _load.ServerProcess | None = None
    try:
        direct = _load.wrk_post_script(CHAT_BODY, chat_headers(fetch_token(mock.url)))
        openai = _load.wrk_post_script(OPENAI_BODY, {"Content-Type": "application/json"})
        gateway = start_gateway(variant, loop, mock.url, setup.server_core)
        loops = f"gateway {loop_of(gateway.process.pid)}, mock {loop_of(mock.process.pid)}"
        print(f"event loops: {loops}")
        alone, behind = {"mock": mock}, {"gateway": gateway, "mock": mock}
        runs = []
        for _ in range(rounds):
            runs.append(measure("mock", mock.url + CHAT_PATH, direct, setup, alone))
            runs.append(measure(variant, gateway.url + GATEWAY_PATH, openai, setup, behind))
        runs.append(measure("mock", mock.url + CHAT_PATH, direct, setup, alone))
        return runs
    finally:
        if gateway is not None:
            gateway.stop()
        mock.stop()


def _line(run: Run, setup: Setup) -> str:
    wrk = run.wrk
    p50, p99 = wrk.latency_ms.get(50.0, float("nan")), wrk.latency_ms.get(99.0, float("nan"))
    cpus = [
        f"{key} {run.cpu_ms_per_request(key):.3f} ms/req, ran {run.cpu_s[key] / wrk.duration_s:.0%}"
        f" waited {run.waited_s[key] / wrk.duration_s:.0%}"
        for key in run.cpu_s
    ]
    cpus.append(f"wrk {1000 * run.client_cpu_s / max(wrk.requests, 1):.3f} ms/req")
    bad = f"  ERRORS {run.errors} (non-2xx {wrk.non_2xx})" if run.errors else ""
    share = run.requests_per_s / setup.bound_rps
    return (
        f"  {run.name:14} {run.requests_per_s:7,.0f} req/s {share:6.1%}  p50 {p50:6.1f} ms"
        f"  p99 {p99:6.1f} ms  cpu: {', '.join(cpus)}{bad}"
    )


def report(setup: Setup, runs: Sequence[Run], variant: str) -> float:
    """Print every run and the gateway's median share of the bound; returns that share."""
    window = f"{WINDOW_START_S:g}-{setup.duration_s - WINDOW_TAIL_S:g} s of {setup.duration_s:g}"
    print(
        f"\n== wrk -t1 -c{setup.concurrency}, keep-alive, {setup.latency_ms:g} ms upstream latency;"
        f" replies counted {window} s; Little's-law bound {setup.bound_rps:,.0f} req/s"
    )
    print(f"   cores: gateway / bare app on {setup.server_core}, mock + wrk on {setup.load_core}")
    print("   name           req/s  of bound                     per process: CPU per request;"
          " share of the run it ran / waited for a CPU")  # fmt: skip
    for run in runs:
        print(_line(run, setup))
    gateway_runs = [r for r in runs if r.name == variant]
    share = statistics.median(r.requests_per_s for r in gateway_runs) / setup.bound_rps
    mock_rps = statistics.median(r.requests_per_s for r in runs if r.name == "mock")
    errors = sum(r.errors for r in gateway_runs)
    met = "met" if share >= GOAL_SHARE and errors == 0 else "NOT MET"
    print(
        f"  {variant}: {share:.1%} of the bound (median of {len(gateway_runs)} runs), {errors}"
        f" errors; the mock alone {mock_rps / setup.bound_rps:.1%}; goal >= {GOAL_SHARE:.0%}"
        f" with no errors: {met}"
    )
    explain_shortfall(gateway_runs, setup)
    return share


def explain_shortfall(gateway_runs: Sequence[Run], setup: Setup) -> None:
    """Whether the gateway was kept off its core, and the core share the bound would take."""
    waited = statistics.median(r.waited_s["gateway"] / r.wrk.duration_s for r in gateway_runs)
    cpu_ms = statistics.median(r.cpu_ms_per_request("gateway") for r in gateway_runs)
    print(
        f"  at the bound the gateway would use {setup.bound_rps * cpu_ms / 1000:.0%} of a core"
        f" ({cpu_ms:.3f} ms CPU a request); in the runs it waited for a CPU {waited:.0%} of the"
        " time"
        + (" (neighbours held its core: the shortfall is the machine's)" if waited > 0.1 else "")
    )


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5 s per run instead of 10 s")
    parser.add_argument("--concurrency", type=int, default=512, help="connections (wrk -c)")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="mock's fixed latency")
    parser.add_argument("--rounds", type=int, default=2, help="gateway runs, between mock runs")
    parser.add_argument("--variant", default="async", help="reference gateway variant")
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop", "auto"])
    args = parser.parse_args(argv)
    setup = Setup(args.concurrency, args.latency_ms, 5.0 if args.quick else 10.0,
                  *_load.pick_cores())  # fmt: skip
    print(f"load average {load_average()} (1/5/15 min) on {os.cpu_count()} CPUs")
    try:
        mock = start_mock("fixed:0ms", None)
        try:
            reply = one_reply(mock.url, chat_headers(fetch_token(mock.url)))
        finally:
            mock.stop()
        runs = reference_runs(setup, reply)
        runs += alternating_runs(setup, args.variant, args.loop, max(1, args.rounds))
    except _load.BenchError as exc:
        print(f"bench_yardstick: {exc}", file=sys.stderr)
        return 2
    report(setup, runs, args.variant)
    print(f"load average {load_average()} after the runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
