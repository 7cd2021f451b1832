"""What the reference gateway costs, as a ratio to the mock's own direct throughput, same run.

    python bench/bench_gateway.py [--quick] [--rounds N] [--variants async,sync-legacy,...]
    python bench/bench_gateway.py --quick --variants bare-proxy@asyncio,async@asyncio,async

wrk (keep-alive, 64 connections) POSTs one chat request. The mock runs at 0 ms injected latency.
Direct: wrk -> mock chat-generations. Through a gateway: wrk -> gateway /v1/chat/completions ->
mock. The mock keeps its own core, as Salesforce is never on the gateway's machine; the gateway
runs on the other core, beside wrk (which had that core to itself in the direct run), so each
Python server has one core and the ratio is the proxy's throughput against its upstream's.
Rounds interleave the runs (mock, every variant, mock, ...); each variant run is compared with
the mean of the two mock runs around it, and the median over rounds is reported.

No goal: the ratio is what a variant costs beside its upstream, read when either changes. The
goal it once had (`async` >= 0.45) is withdrawn: at 0 ms the ratio measures the mock's speed as
much as the gateway's (the faster the mock got, the lower it fell). Whether the async gateway is
"async done right" is `bench_yardstick.py`'s question: the Little's-law bound at 512 in flight.

`bare-proxy` is the floor: a 20-line aiohttp server + shared aiohttp client session that only
forwards the messages and returns the upstream body (no validation, extraction or metrics), with
the cheapest settings found (no cookie jar, orjson, the GC tuned as the mock and gateway tune
theirs); it shows how much of a gateway's cost is the HTTP stack rather than its own logic.

`NAME@LOOP` runs a gateway (or the bare proxy) on that event loop (`asyncio` or `uvloop`; plain
NAME: `auto`, uvloop when installed). The mock always runs on asyncio. Each process's loop is
printed, read from what it has loaded (/proc/PID/maps), not assumed.

On a shared machine throughput also measures the neighbours, so each run also reports the CPU
time each server process spent per request (/proc): `cpu ratio` = mock CPU per direct request /
gateway CPU per proxied request, the throughput ratio two servers with a whole core each would
show. `--phase logic` (run before wrk unless `--phase wrk` alone is asked) times the gateway's
own Python per chat request in process, no sockets (validate, parse the upstream reply, extract
and build, encode) beside the JSON work the bare proxy does instead. Not a test: it prints,
never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import timeit
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import _load
from bench_mock import CHAT_PATH, chat_headers, fetch_token, start_mock

VARIANTS = ("bare-proxy", "async", "async-batching", "sync-optimized", "sync-legacy")  # [@LOOP]
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


def start_gateway(spec: str, mock_url: str, core: int | None) -> _load.ServerProcess:
    """Start `NAME[@LOOP]`: the bare proxy or a gateway variant."""
    variant, _, loop = spec.partition("@")
    if variant == "bare-proxy":
        return _load.python_server([__file__, "bare-proxy", mock_url, loop or "auto"], core)
    argv = ["-m", "harness.subjects.gateway", "--variant", variant, "--upstream", mock_url]
    return _load.python_server([*argv, "--loop", loop or "auto"], core)


def loop_of(pid: int) -> str:
    """The event loop a server process runs on: uvloop if its extension is loaded."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "unknown"
    return "uvloop" if "/uvloop/" in maps else "asyncio"


def serve_bare_proxy(mock_url: str, loop: str) -> None:
    """`python bench/bench_gateway.py bare-proxy MOCK_URL LOOP`: the floor, on 127.0.0.1:0."""
    import asyncio
    import gc

    import orjson
    from aiohttp import ClientSession, DummyCookieJar, web

    url = mock_url + CHAT_PATH
    headers = chat_headers(fetch_token(mock_url))

    async def main() -> None:
        session = ClientSession(cookie_jar=DummyCookieJar())

        async def handle(request: web.Request) -> web.Response:
            messages = orjson.loads(await request.read())["messages"]
            payload = orjson.dumps({"messages": messages})
            async with session.post(url, data=payload, headers=headers) as upstream:
                body = await upstream.read()
            return web.Response(body=body, content_type="application/json")

        app = web.Application()
        app.router.add_post("/v1/chat/completions", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    if loop == "asyncio":
        asyncio.run(main())
    else:
        import uvloop

        uvloop.run(main())


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


@dataclass
class Rounds:
    """Every run, in order: per round the mock direct, then each variant; the mock once more."""

    mock: list[Run]
    variants: dict[str, list[Run]]

    def ratios(self, variant: str) -> tuple[list[float], list[float]]:
        """Per round: variant throughput and CPU against the mean of the mock runs around it."""
        throughput, cpu = [], []
        for index, run in enumerate(self.variants[variant]):
            around = self.mock[index : index + 2]
            mock_rps = statistics.mean(r.wrk.requests_per_s for r in around)
            mock_cpu_ms = statistics.mean(r.server_cpu_ms for r in around)
            throughput.append(run.wrk.requests_per_s / mock_rps)
            cpu.append(mock_cpu_ms / run.server_cpu_ms)
        return throughput, cpu


def run(variants: Sequence[str], duration_s: float, rounds: int, front: str = "fast") -> Rounds:
    """Interleave the runs (mock, variants, mock, variants, ..., mock) against one mock, so a
    busy neighbour slows a variant and the mock runs beside it alike."""
    server_core, load_core = _load.pick_cores()
    mock = start_mock("fixed:0ms", server_core, front)
    gateways: dict[str, _load.ServerProcess] = {}
    try:
        direct = _load.wrk_post_script(MODELS_BODY, chat_headers(fetch_token(mock.url)))
        openai = _load.wrk_post_script(OPENAI_BODY, {"Content-Type": "application/json"})
        for variant in variants:
            gateways[variant] = start_gateway(variant, mock.url, load_core)
        loops = [f"{name} {loop_of(g.process.pid)}" for name, g in gateways.items()]
        print(f"event loops: mock {loop_of(mock.process.pid)}, " + ", ".join(loops))
        mock_pids = (mock.process.pid, mock.process.pid)
        result = Rounds([], {v: [] for v in variants})
        for _ in range(rounds):
            result.mock.append(
                measure(mock.url + CHAT_PATH, direct, duration_s, load_core, mock_pids)
            )
            for variant, gateway in gateways.items():
                url, pids = (
                    gateway.url + "/v1/chat/completions",
                    (gateway.process.pid, mock.process.pid),
                )
                result.variants[variant].append(measure(url, openai, duration_s, load_core, pids))
        result.mock.append(measure(mock.url + CHAT_PATH, direct, duration_s, load_core, mock_pids))
    finally:
        for gateway in gateways.values():
            gateway.stop()
        mock.stop()
    return result


def _line(name: str, r: Run, extra: str = "") -> str:
    p50, p99 = r.wrk.latency_ms.get(50.0, float("nan")), r.wrk.latency_ms.get(99.0, float("nan"))
    bad = f"  NON-2XX {r.wrk.non_2xx}" if r.wrk.non_2xx else ""
    bad += f"  SOCKET ERRORS {r.wrk.socket_errors}" if r.wrk.socket_errors else ""
    return (
        f"  {name:20} {r.wrk.requests_per_s:9,.0f} req/s  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
        f"  cpu {r.server_cpu_ms:6.3f} ms/req{extra}{bad}"
    )


def report(result: Rounds) -> float:
    """Print every run and the median ratios; returns the `async` median throughput ratio."""
    print("\n== gateway vs the mock direct: wrk -t1 -c64, keep-alive, 0 ms injected")
    for index, mock_run in enumerate(result.mock):
        print(_line(f"mock #{index + 1}", mock_run))
        for variant, runs in result.variants.items():
            if index < len(runs):
                print(
                    _line(variant, runs[index], f"  (mock behind: {runs[index].mock_cpu_ms:.3f})")
                )
    print("  median over rounds: throughput ratio / cpu ratio (mock cpu per request / gateway's)")
    medians, cpu_medians = {}, {}
    for variant in result.variants:
        throughput, cpu = result.ratios(variant)
        medians[variant], cpu_medians[variant] = (
            statistics.median(throughput),
            statistics.median(cpu),
        )
        spread = (
            f"rounds {min(throughput):.2f}-{max(throughput):.2f} / {min(cpu):.2f}-{max(cpu):.2f}"
        )
        print(f"  {variant:20} {medians[variant]:5.2f} / {cpu_medians[variant]:5.2f}  ({spread})")
    return medians.get("async", float("nan"))


def _best_us(call: Callable[[], object], number: int) -> float:
    """Microseconds per call, best of 5 batches (a busy neighbour only ever adds time)."""
    return 1e6 * min(timeit.repeat(call, number=number, repeat=5)) / number


def logic_steps(number: int) -> dict[str, float]:
    """The gateway's own Python per chat request, in process, no sockets: each step alone (us),
    on the mock's real reply; `bare proxy` is the JSON work the bare proxy does instead."""
    import orjson
    from multidict import CIMultiDict, CIMultiDictProxy

    from harness.subjects.clients import result_of
    from harness.subjects.gateway.options import GatewayOptions
    from harness.subjects.gateway.protocol import Reply
    from harness.subjects.gateway.variants import assemble
    from mock_salesforce.server import run_in_thread

    with run_in_thread() as mock:
        request = urllib.request.Request(
            mock.url + CHAT_PATH, MODELS_BODY, chat_headers(fetch_token(mock.url))
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            raw, headers = reply.read(), CIMultiDictProxy(CIMultiDict(reply.headers.items()))
    assembly = assemble(GatewayOptions("http://127.0.0.1:9", variant="async"))
    gateway = assembly.gateway
    prepared = gateway.prepare("chat", OPENAI_BODY)
    upstream = result_of(200, headers, raw)
    assert not isinstance(prepared, Reply) and upstream.ok
    body = gateway.finish(prepared, upstream).body
    steps = {
        "validate request": lambda: gateway.prepare("chat", OPENAI_BODY),
        "parse upstream reply": lambda: result_of(200, headers, raw),
        "extract + build reply": lambda: gateway.finish(prepared, upstream),
        "encode reply": lambda: orjson.dumps(body),
        "bare proxy": lambda: orjson.dumps({"messages": orjson.loads(OPENAI_BODY)["messages"]}),
    }
    timed = {name: _best_us(step, number) for name, step in steps.items()}
    assembly.cleanup()
    return timed


def report_logic(timed: dict[str, float]) -> None:
    print("\n== the gateway's own logic per chat request (in process, best of 5 batches)")
    for name, us in timed.items():
        print(f"  {name:22} {us:7.2f} us")
    own = sum(us for name, us in timed.items() if name != "bare proxy")
    print(f"  gateway logic {own:.1f} us, the bare proxy's {timed['bare proxy']:.1f} us")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 s per run instead of 5 s")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--phase", action="append", choices=["wrk", "logic"], help="(both)")
    parser.add_argument(
        "--mock-front",
        choices=["fast", "aiohttp"],
        default="fast",
        help="the mock's front (fast: the goal's reference; aiohttp: an aiohttp server like the"
        " gateway's, as the mock served before its front door)",
    )
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    phases = args.phase or ["wrk", "logic"]
    try:
        if "logic" in phases:
            report_logic(logic_steps(2_000 if args.quick else 10_000))
        if "wrk" in phases:
            duration_s = 2.0 if args.quick else 5.0
            report(run(variants, duration_s, max(1, args.rounds), args.mock_front))
    except _load.BenchError as exc:
        print(f"bench_gateway: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare-proxy"]:
        serve_bare_proxy(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
