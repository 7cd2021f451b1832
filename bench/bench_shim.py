"""The observer effect: what the launch shim (host redirect + file-open counting) costs a gateway.

    python bench/bench_shim.py [--quick] [--rounds 3] [--gateways async,async-file]
                               [--connections 64] [--latency-ms 0] [--together] [--control]

Each gateway runs twice against one mock: plain (its upstream is the mock's URL) and as sfperf
launches a user's gateway (`harness.shim.shim_env`: the start-up shim on PYTHONPATH, Salesforce
hosts redirected to the mock, every file open counted by an audit hook, io snapshots answered
from the control directory; its upstream is https://api.salesforce.com, so it reaches the mock
only through the redirect). The two alternate under the same closed-loop load (wrk,
keep-alive): plain, shimmed, plain, ..., plain; each shimmed run is compared with the mean of
the plain runs around it. With `--together` both are loaded at once instead (a wrk each, which
one starts first alternating), side by side on the same core, and compared within each round:
what neighbours on a shared machine take, they take from both alike. `--control` starts the
second gateway without the shim too: an A/A run, whose spread is the method's own.

Printed per gateway, median over rounds: the throughput ratio (shimmed / plain req/s) and the
CPU-per-request ratio (plain / shimmed; CPU of the gateway's whole process tree from /proc).
Goal: >= 0.95 for both. Gateways: `async` is the reference async gateway; `async-file` is the
same with the `file` token provider, which opens and parses its token file (JSON) on every
request: the audit hook fires on the hot path, the case file-open counting exists for.

The mock answers at once (`--latency-ms 0`) so the gateway is CPU-bound on its core and every
microsecond the shim adds shows in its throughput; at a 200 ms upstream a closed loop would hide
it. The gateways run on the first core, the mock and wrk on the second. For each shimmed run
the io snapshots around it give the opens counted per request (~1 for `async-file`, 0 for
`async`) and the shim's own account of its cost (`harness.shim.shim_cost`, what a launched
target's records carry). Not a test: it prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _load
from bench_gateway import OPENAI_BODY
from bench_mock import start_mock

from harness.shim import io_delta, request_snapshot, shim_cost, shim_env

GOAL_RATIO = 0.95
GATEWAY_PATH = "/v1/chat/completions"
SALESFORCE = "https://api.salesforce.com"
GATEWAYS: Mapping[str, tuple[str, ...]] = {
    "async": ("--variant", "async"),
    "async-file": ("--variant", "async", "--token-provider", "file"),
}
WINDOW_START_S = 1.0
WINDOW_TAIL_S = 0.5


@dataclass(frozen=True)
class Setup:
    """What every run of one invocation shares."""

    connections: int
    duration_s: float
    rounds: int
    together: bool  # both gateways loaded at once, side by side on one core
    control: bool  # the "shimmed" gateway runs without the shim: an A/A run, the method's spread
    server_core: int | None
    load_core: int | None


@dataclass(frozen=True)
class Run:
    """One measured wrk run against one gateway instance."""

    shimmed: bool
    wrk: _load.WrkResult
    cpu_s: float  # the gateway's process tree
    io: Mapping[str, Any] | None = None  # the shim's counts in the run (shimmed runs)

    @property
    def requests_per_s(self) -> float:
        assert self.wrk.window is not None
        return self.wrk.window.requests_per_s

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000.0 * self.cpu_s / max(self.wrk.requests, 1)

    @property
    def errors(self) -> int:
        return self.wrk.non_2xx + self.wrk.socket_errors


@dataclass
class Shimmed:
    """A gateway started as sfperf launches one: the shim's report path and control directory."""

    server: _load.ServerProcess
    io_report: Path
    control: Path
    snapshots: int = 0
    control_run: bool = False  # started without the shim after all (`--control`)

    def snapshot(self) -> Mapping[str, Any] | None:
        if self.control_run:
            return None
        self.snapshots += 1
        return request_snapshot(self.control, self.io_report, f"bench-{self.snapshots}")


def gateway_argv(name: str, upstream: str) -> list[str]:
    return ["-m", "harness.subjects.gateway", *GATEWAYS[name], "--upstream", upstream]


def start_shimmed(name: str, setup: Setup, mock_url: str, folder: Path) -> Shimmed:
    """The gateway with the shim, configured for Salesforce itself, as `--launch` runs it (with
    `setup.control`: a second plain one, for an A/A run)."""
    io_report, control = folder / f"{name}.io.json", folder / f"{name}.control"
    if setup.control:
        server = _load.python_server(gateway_argv(name, mock_url), setup.server_core)
        return Shimmed(server, io_report, control, control_run=True)
    env = shim_env(mock_url, io_report, os.environ, control)
    server = _load.python_server(gateway_argv(name, SALESFORCE), setup.server_core, env=env)
    return Shimmed(server, io_report, control)


SCRIPT = _load.wrk_post_script(OPENAI_BODY, {"Content-Type": "application/json"})


def measure(url: str, setup: Setup, pid: int, shimmed: Shimmed | None = None) -> Run:
    """Warm up for 1 s, then one windowed wrk run; io snapshots around it when shimmed."""
    windowed = _load.windowed(SCRIPT, WINDOW_START_S, setup.duration_s - WINDOW_TAIL_S)
    wrk(url, SCRIPT, setup, 1.0)
    before = shimmed.snapshot() if shimmed else None
    cpu_before_s = _load.tree_cpu_s(pid)
    result = wrk(url, windowed, setup, setup.duration_s)
    cpu_s = _load.tree_cpu_s(pid) - cpu_before_s
    after = shimmed.snapshot() if shimmed else None
    io = io_delta(before, after) if after is not None else None
    return Run(shimmed is not None, result, cpu_s, io)


def measure_together(
    plain: _load.ServerProcess, shimmed: Shimmed, setup: Setup, shimmed_first: bool = False
) -> tuple[Run, Run]:
    """Both gateways under load at once (a wrk each), sharing the server core: whatever the
    neighbours take, they take from both alike, and the throughput ratio is read in one window.
    Which wrk starts first alternates between rounds (`shimmed_first`)."""
    servers = [shimmed.server, plain] if shimmed_first else [plain, shimmed.server]
    urls = [server.url + GATEWAY_PATH for server in servers]
    windowed = _load.windowed(SCRIPT, WINDOW_START_S, setup.duration_s - WINDOW_TAIL_S)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda url: wrk(url, SCRIPT, setup, 1.0), urls))
        before = shimmed.snapshot()
        cpu_before_s = [_load.tree_cpu_s(s.process.pid) for s in servers]
        results = list(pool.map(lambda url: wrk(url, windowed, setup, setup.duration_s), urls))
    cpu_s = [
        _load.tree_cpu_s(s.process.pid) - b for s, b in zip(servers, cpu_before_s, strict=True)
    ]
    after = shimmed.snapshot()
    io = io_delta(before, after) if after is not None else None
    first, second = results if not shimmed_first else results[::-1]
    first_cpu_s, second_cpu_s = cpu_s if not shimmed_first else cpu_s[::-1]
    return Run(False, first, first_cpu_s), Run(True, second, second_cpu_s, io)


def wrk(url: str, script: str, setup: Setup, duration_s: float) -> _load.WrkResult:
    """wrk with the setup's connections, on the load core."""
    return _load.run_wrk(url, connections=setup.connections, duration_s=duration_s,
                         lua_script=script, core=setup.load_core)  # fmt: skip


def compare(name: str, setup: Setup, mock_url: str, folder: Path) -> list[Run]:
    """plain, shimmed, plain, ..., plain against one mock (with `together`: plain and shimmed
    at once, per round)."""
    plain = _load.python_server(gateway_argv(name, mock_url), setup.server_core)
    shimmed = None
    try:
        shimmed = start_shimmed(name, setup, mock_url, folder)
        if setup.together:
            return [run for index in range(setup.rounds)
                    for run in measure_together(plain, shimmed, setup, index % 2 == 1)]  # fmt: skip
        plain_url, shim_url = plain.url + GATEWAY_PATH, shimmed.server.url + GATEWAY_PATH
        runs = []
        for _ in range(setup.rounds):
            runs.append(measure(plain_url, setup, plain.process.pid))
            runs.append(measure(shim_url, setup, shimmed.server.process.pid, shimmed))
        runs.append(measure(plain_url, setup, plain.process.pid))
        return runs
    finally:
        plain.stop()
        if shimmed is not None:
            shimmed.server.stop()


def ratios(runs: Sequence[Run], together: bool) -> tuple[list[float], list[float]]:
    """Per shimmed run: throughput and CPU-per-request ratio to the plain runs around it (the
    one beside it, when measured together)."""
    throughput, cpu = [], []
    for index, run in enumerate(runs):
        if run.shimmed:
            plain = [runs[index - 1]] if together else [runs[index - 1], runs[index + 1]]
            plain_rps = statistics.mean(r.requests_per_s for r in plain)
            plain_cpu_ms = statistics.mean(r.cpu_ms_per_request for r in plain)
            throughput.append(run.requests_per_s / plain_rps)
            cpu.append(plain_cpu_ms / run.cpu_ms_per_request)
    return throughput, cpu


def _io_line(run: Run) -> str:
    """Opens counted per request, and the shim's own account of its cost in the run."""
    if run.io is None:
        return ""
    requests = max(run.wrk.requests, 1)
    opens = sum(int(e.get("opens", 0)) for e in run.io.get("files", {}).values())
    cost = shim_cost(run.io, requests)
    own = "" if cost is None else (
        f"; by its own account {cost['shim_us_per_request']:.2f} us/req"
        f" ({cost['work_us_per_request']:.2f} of work, the rest the poller's"
        f" {cost['poller_cpu_ms']:.1f} ms), cpu ratio {cost['cpu_ratio']:.4f}"
    )  # fmt: skip
    return f"  opens/req {opens / requests:.2f}{own}"


def report(name: str, runs: Sequence[Run], together: bool) -> tuple[float, float]:
    print(f"\n-- {name}: {' '.join(GATEWAYS[name])}")
    for run in runs:
        wrk = run.wrk
        p50, p99 = wrk.latency_ms.get(50.0, float("nan")), wrk.latency_ms.get(99.0, float("nan"))
        bad = f"  ERRORS {run.errors}" if run.errors else ""
        print(
            f"  {'shimmed' if run.shimmed else 'plain':8} {run.requests_per_s:7,.0f} req/s"
            f"  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  cpu {run.cpu_ms_per_request:.4f} ms/req"
            f"{_io_line(run)}{bad}"
        )
    throughput, cpu = ratios(runs, together)
    t, c = statistics.median(throughput), statistics.median(cpu)
    verdict = "met" if min(t, c) >= GOAL_RATIO else "NOT MET"
    print(
        f"  shimmed / plain, median of {len(cpu)}: throughput {t:.3f}"
        f" ({min(throughput):.3f}-{max(throughput):.3f}), cpu per request {c:.3f}"
        f" ({min(cpu):.3f}-{max(cpu):.3f}); goal >= {GOAL_RATIO}: {verdict}"
    )
    return t, c


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="4 s per run instead of 8 s")
    parser.add_argument("--rounds", type=int, default=3, help="shimmed runs per gateway")
    parser.add_argument("--gateways", default=",".join(GATEWAYS), help="comma-separated")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="mock's fixed latency")
    parser.add_argument(
        "--control",
        action="store_true",
        help="run the second gateway without the shim too (A/A: the spread of the method itself)",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="load plain and shimmed at once, sharing the core (steadier on a busy machine)",
    )
    args = parser.parse_args(argv)
    names = [n for n in args.gateways.split(",") if n]
    unknown = sorted(set(names) - set(GATEWAYS))
    if unknown:
        parser.error(f"unknown gateway(s) {', '.join(unknown)} (known: {', '.join(GATEWAYS)})")
    setup = Setup(args.connections, 4.0 if args.quick else 8.0, max(1, args.rounds),
                  args.together, args.control, *_load.pick_cores())  # fmt: skip
    print(f"load average {load_average()} (1/5/15 min) on {os.cpu_count()} CPUs")
    how = "together, sharing" if setup.together else "alternating, each alone"
    print(
        f"wrk -t1 -c{setup.connections}, keep-alive, mock at {args.latency_ms:g} ms; gateways"
        f" {how} on core {setup.server_core}, mock + wrk on core {setup.load_core};"
        f" {setup.duration_s:g} s a run"
    )
    mock = start_mock(f"fixed:{args.latency_ms:g}ms", setup.load_core)
    try:
        with tempfile.TemporaryDirectory(prefix="sfperf-bench-shim-") as folder:
            for name in names:
                report(name, compare(name, setup, mock.url, Path(folder)), setup.together)
    except _load.BenchError as exc:
        print(f"bench_shim: {exc}", file=sys.stderr)
        return 2
    finally:
        mock.stop()
    print(f"\nload average {load_average()} after the runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
