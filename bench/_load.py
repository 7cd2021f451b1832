"""Shared benchmark helpers: CPU pinning, server processes, a wrk runner, an open-loop client.

Imported by the `bench/bench_*.py` scripts (not a test, not part of the installed package).
Load only ever goes to loopback; every run is bounded in count and duration.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class BenchError(RuntimeError):
    """A benchmark cannot run here (missing tool, server did not start); one line for the user."""


# --- CPU pinning -------------------------------------------------------------------------


def available_cores() -> list[int]:
    """The CPU cores this process may run on, sorted."""
    return sorted(os.sched_getaffinity(0))


def pick_cores() -> tuple[int | None, int | None]:
    """(server core, load-generator core): two distinct cores, or (None, None) on one core."""
    cores = available_cores()
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


def pin_to_core(core: int | None, pid: int = 0) -> None:
    """Pin a process (default: this one) to one core; None leaves it unpinned."""
    if core is not None:
        os.sched_setaffinity(pid, {core})


def pinned(argv: Sequence[str], core: int | None) -> list[str]:
    """argv prefixed with `taskset -c CORE` (when a core is given and taskset exists)."""
    if core is None or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", str(core), *argv]


# --- server processes --------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A server child process that printed its base URL on one stdout line when ready."""

    process: subprocess.Popen[str]
    url: str

    def rss_mb(self) -> float:
        """Resident set size of the server process, in MiB."""
        return rss_mb(self.process.pid)

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        return cpu_s(self.process.pid)

    def run_delay_s(self) -> float:
        """Seconds the server's threads have waited for a CPU so far."""
        return run_delay_s(self.process.pid)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit within timeout_s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)


def start_server(
    argv: Sequence[str],
    core: int | None = None,
    timeout_s: float = 20.0,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start argv pinned to core (in `env`, default ours); wait for the stdout line holding its
    URL."""
    process = subprocess.Popen(
        pinned(argv, core),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=None if env is None else dict(env),
    )
    line = _readline_with_timeout(process, timeout_s)
    if not line.startswith("http://"):
        process.kill()
        raise BenchError(f"server {argv[0]!r} did not print its URL (got {line!r})")
    return ServerProcess(process, line.strip())


def _readline_with_timeout(process: subprocess.Popen[str], timeout_s: float) -> str:
    # A stuck server must not hang the benchmark: read the first line in a helper thread.
    stdout = process.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0] if lines else ""


def python_server(
    module_args: Sequence[str], core: int | None = None, env: Mapping[str, str] | None = None
) -> ServerProcess:
    """Start `python -m ...` (this interpreter) pinned to core."""
    return start_server([sys.executable, *module_args], core, env=env)


def rss_mb(pid: int) -> float:
    """VmRSS of a process from /proc, in MiB (0.0 if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used, from /proc (0.0 if it is gone).

    CPU per request is what a server would cost with a core to itself: on a shared machine it
    is steadier than throughput, which also measures the neighbours.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_delay_s(pid: int) -> float:
    """Seconds the threads of a process have spent runnable but waiting for a CPU, from
    /proc/PID/task/*/schedstat (0.0 if it is gone). On a shared machine this says whether a
    server that fell short was slow or was kept off its core by neighbours."""
    total_ns = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            total_ns += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_ns / 1e9


def descendants(pid: int) -> list[int]:
    """Every live descendant of a process (workers, forks), from /proc; [] if it is gone."""
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            found += [int(c) for c in children]
            stack += [int(c) for c in children]
    return found


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants."""
    return cpu_s(pid) + sum(cpu_s(child) for child in descendants(pid))


def require_loopback(url: str) -> None:
    """Refuse to send benchmark load anywhere but loopback."""
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise BenchError(f"refusing to send load to {host!r}: loopback only")


# --- wrk (closed loop, keep-alive) -------------------------------------------------------


@dataclass(frozen=True)
class WindowCount:
    """Replies wrk saw complete between `start_s` and `end_s` of its run (see `windowed`)."""

    start_s: float
    end_s: float
    ok: int
    failed: int  # status >= 300

    @property
    def requests_per_s(self) -> float:
        """Successful replies a second inside the window."""
        return self.ok / (self.end_s - self.start_s)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    duration_s: float
    requests_per_s: float
    latency_ms: Mapping[float, float]  # percentile (50.0, 99.0, ...) -> ms
    non_2xx: int
    socket_errors: int
    raw: str = field(repr=False)
    window: WindowCount | None = None


def require_wrk() -> str:
    """Path to wrk, or a BenchError telling the user how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(
            "wrk not found: install it (`apt-get install -y wrk` or `brew install wrk`)"
        )
    return path


def wrk_post_script(body: bytes, headers: Mapping[str, str]) -> str:
    """A wrk Lua script sending every request as a POST with this body and these headers."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body.decode())}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


COUNTER = "{n}"  # in a `wrk_pool_script` body: replaced by the request's running number
# n = 40 random bits: under 2^40 + the requests of a run, an integer Lua prints exactly.
_RANDOM_START_LUA = [
    'local urandom = assert(io.open("/dev/urandom", "rb"))',
    "for _, byte in ipairs({urandom:read(5):byte(1, 5)}) do n = n * 256 + byte end",
    "urandom:close()",
]


def wrk_pool_script(bodies: Sequence[str], headers: Mapping[str, str]) -> str:
    """A wrk Lua script POSTing `bodies` in turn; a `{n}` in a body becomes a request counter.

    With a counter every request is new to the server, so a server that caches replies by
    request bytes is measured on its uncached path. The counter starts at 40 random bits, not
    at 0: a run and the warm-up before it (or one wrk thread and another) would otherwise send
    the same bodies, and a server that remembers bodies it has seen would meet them again."""
    parts = [body.split(COUNTER, 1) for body in bodies]
    lines = ['wrk.method = "POST"']
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    lines.append("local heads, tails, n = {}, {}, 0")
    lines += _RANDOM_START_LUA
    for i, part in enumerate(parts, start=1):
        tail = _lua_string(part[1]) if len(part) > 1 else "nil"
        lines.append(f"heads[{i}], tails[{i}] = {_lua_string(part[0])}, {tail}")
    lines += [
        "request = function()",
        "  n = n + 1",
        f"  local i = (n % {len(parts)}) + 1",
        "  local body = heads[i]",
        "  if tails[i] then body = body .. n .. tails[i] end",
        "  return wrk.format(nil, nil, nil, body)",
        "end",
    ]
    return "\n".join(lines) + "\n"


# LuaJIT's ffi reads the monotonic clock (Lua itself has only whole seconds); one counter pair
# per wrk thread, summed in `done`, which runs once wrk has joined its threads.
_WINDOW_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } sfperf_timespec;
int clock_gettime(int clk_id, sfperf_timespec *tp);
]]
local sfperf_ts = ffi.new("sfperf_timespec")
local function sfperf_now_s()
  ffi.C.clock_gettime(1, sfperf_ts)
  return tonumber(sfperf_ts.tv_sec) + tonumber(sfperf_ts.tv_nsec) * 1e-9
end
local sfperf_threads = {}
function setup(thread) table.insert(sfperf_threads, thread) end
sfperf_started_s, sfperf_ok, sfperf_failed = 0, 0, 0
function init(args) sfperf_started_s = sfperf_now_s() end
function response(status, headers, body)
  local t = sfperf_now_s() - sfperf_started_s
  if t >= %(start_s)r and t < %(end_s)r then
    if status < 300 then sfperf_ok = sfperf_ok + 1 else sfperf_failed = sfperf_failed + 1 end
  end
end
function done(summary, latency, requests)
  local ok, failed = 0, 0
  for _, t in ipairs(sfperf_threads) do
    ok, failed = ok + t:get("sfperf_ok"), failed + t:get("sfperf_failed")
  end
  io.write(string.format("sfperf-window: %(start_s)r %(end_s)r %%d %%d\\n", ok, failed))
end
"""


def windowed(lua_script: str, start_s: float, end_s: float) -> str:
    """`lua_script` that also counts the replies completing between `start_s` and `end_s` of
    the run (`WrkResult.window`). wrk's own req/s divides every reply by the whole run, so it
    is low by the start (connecting, the first wave in flight) and by the requests still in
    flight at the end: at 200 ms a request and 5 s a run, up to 8%. A window inside the run
    has neither edge, and at a random phase of the replies' waves it counts them unbiased."""
    if not 0 <= start_s < end_s:
        raise BenchError(f"bad window {start_s}-{end_s} s")
    return lua_script + _WINDOW_LUA % {"start_s": float(start_s), "end_s": float(end_s)}


def _lua_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def run_wrk(
    url: str,
    *,
    connections: int = 64,
    duration_s: float = 3.0,
    threads: int = 1,
    lua_script: str | None = None,
    core: int | None = None,
) -> WrkResult:
    """Run wrk (pinned to core) against a loopback URL and parse its --latency report."""
    require_loopback(url)
    argv = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s"]
    argv += ["--latency", "--timeout", "10s"]
    with tempfile.TemporaryDirectory(prefix="sfperf-wrk-") as tmp:
        if lua_script is not None:
            script = Path(tmp, "post.lua")
            script.write_text(lua_script)
            argv += ["-s", str(script)]
        done = subprocess.run(
            pinned([*argv, url], core), capture_output=True, text=True, timeout=duration_s + 30
        )
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(text: str) -> WrkResult:
    """Parse wrk's stdout (with --latency) into a WrkResult."""
    totals = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if totals is None or rate is None:
        raise BenchError(f"cannot parse wrk output: {text[:200]!r}")
    percentiles = {
        float(p): float(v) * _UNIT_MS[u]
        for p, v, u in re.findall(r"^\s+([\d.]+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    }
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    window = re.search(r"^sfperf-window: ([\d.]+) ([\d.]+) (\d+) (\d+)$", text, re.MULTILINE)
    return WrkResult(
        requests=int(totals.group(1)),
        duration_s=float(totals.group(2)) * _UNIT_MS[totals.group(3)] / 1000,
        requests_per_s=float(rate.group(1)),
        latency_ms=percentiles,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        raw=text,
        window=WindowCount(
            float(window.group(1)), float(window.group(2)), int(window.group(3)),
            int(window.group(4)),
        ) if window else None,
    )  # fmt: skip


# --- open-loop client --------------------------------------------------------------------


@dataclass(frozen=True)
class OpenLoopResult:
    """Latencies counted from each request's *scheduled* send time (no coordinated omission)."""

    latencies_ms: list[float]
    statuses: dict[int, int]
    errors: int
    planned: int
    max_in_flight: int
    duration_s: float

    def percentile_ms(self, q: float) -> float:
        """Latency at percentile q (0-100) of the completed requests."""
        return percentile(self.latencies_ms, q)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile q (0-100); nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def http_request_bytes(url: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    """One keep-alive HTTP/1.1 POST, serialized once and reused for every send."""
    parts = urlsplit(url)
    head = [f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1"]
    head.append(f"Host: {parts.netloc}")
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Connection(asyncio.Protocol):
    """A raw keep-alive HTTP/1.1 connection: one request at a time, Content-Length replies only.

    Far cheaper per request than a full client library, so the client adds little of its own
    lag to what it measures.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            status = _complete_response(self.buffer)
        except ConnectionError as exc:
            self.waiter.set_exception(exc)
            self.close()
            return
        if status is not None:
            self.buffer.clear()
            self.waiter.set_result(status)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter


def _complete_response(buffer: bytearray) -> int | None:
    """The status code if buffer holds one whole Content-Length response, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
    if match is None:
        raise ConnectionError("response without Content-Length (chunked replies unsupported)")
    if len(buffer) < end + 4 + int(match.group(1)):
        return None
    return int(head[9:12])


@dataclass
class _Pool:
    host: str
    port: int
    idle: list[_Connection] = field(default_factory=list)

    async def acquire(self) -> _Connection:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        return conn

    def release(self, conn: _Connection) -> None:
        if not conn.closed:
            self.idle.append(conn)

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


async def open_loop(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    rate_rps: float,
    duration_s: float,
    warm_connections: int = 0,
    timeout_s: float = 30.0,
) -> OpenLoopResult:
    """Send POSTs at fixed arrival times (rate_rps for duration_s), whatever the replies do.

    Each latency runs from the scheduled send time to the last byte of the reply, so a client
    or server that falls behind is charged for it. `warm_connections` are opened beforehand.
    """
    require_loopback(url)
    parts = urlsplit(url)
    pool = _Pool(parts.hostname or "127.0.0.1", parts.port or 80)
    request = http_request_bytes(url, body, headers)
    for conn in await asyncio.gather(*(pool.acquire() for _ in range(warm_connections))):
        pool.release(conn)
    run = _OpenLoopRun(pool, request, timeout_s)
    planned = max(1, int(rate_rps * duration_s))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    for i in range(planned):
        scheduled = start + i / rate_rps
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        run.launch(scheduled)
    await run.drain()
    pool.close()
    return run.result(planned, loop.time() - start)


class _OpenLoopRun:
    """The in-flight state of one open-loop run."""

    def __init__(self, pool: _Pool, request: bytes, timeout_s: float) -> None:
        self.pool, self.request, self.timeout_s = pool, request, timeout_s
        self.latencies_ms: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def launch(self, scheduled: float) -> None:
        task = asyncio.get_running_loop().create_task(self._one(scheduled))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _one(self, scheduled: float) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        conn: _Connection | None = None
        try:
            conn = await self.pool.acquire()
            status = await asyncio.wait_for(conn.send(self.request), self.timeout_s)
            self.latencies_ms.append((asyncio.get_running_loop().time() - scheduled) * 1000)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.pool.release(conn)
        except (OSError, TimeoutError):
            self.errors += 1
            if conn is not None:
                conn.close()  # a half-read reply would poison the next request on it
        finally:
            self.in_flight -= 1

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks))

    def result(self, planned: int, duration_s: float) -> OpenLoopResult:
        return OpenLoopResult(
            self.latencies_ms, self.statuses, self.errors, planned, self.max_in_flight, duration_s
        )


# --- many requests held in flight ------------------------------------------------------


async def hold_in_flight(
    url: str, body: bytes, headers: Mapping[str, str], count: int, batch: int = 500
) -> list[asyncio.Transport]:
    """Open `count` connections and send one POST on each without waiting for the replies.

    Connects in batches so the server's accept backlog never overflows; the caller closes the
    returned transports (which abandons the requests).
    """
    require_loopback(url)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = http_request_bytes(url, body, headers)
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []
    for start in range(0, count, batch):
        opened = await asyncio.gather(
            *(
                loop.create_connection(_Connection, host, port)
                for _ in range(min(batch, count - start))
            )
        )
        for transport, _ in opened:
            transport.write(request)
            transports.append(transport)
    return transports


def open_fds(pid: int) -> int:
    """How many file descriptors a process holds (its sockets included)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


# --- bare aiohttp reference server -------------------------------------------------------


def start_bare_server(body: bytes, sleep_ms: float = 0.0, core: int | None = None) -> ServerProcess:
    """Start the bare aiohttp reference (fixed JSON body, optional sleep) pinned to core."""
    with tempfile.NamedTemporaryFile(
        "wb", prefix="sfperf-bare-", suffix=".json", delete=False
    ) as f:
        f.write(body)
    argv = [__file__, "bare", "--body-file", f.name, "--sleep-ms", str(sleep_ms)]
    try:
        return python_server(argv, core)
    finally:
        os.unlink(f.name)  # the child has read it before printing its URL


def _serve_bare(argv: Sequence[str]) -> None:
    """`python bench/_load.py bare --body-file F --sleep-ms N`: serve on 127.0.0.1, print URL."""
    import argparse

    from aiohttp import web

    parser = argparse.ArgumentParser(prog="_load.py bare")
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--sleep-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    body, sleep_s = Path(args.body_file).read_bytes(), args.sleep_ms / 1000

    async def handle(request: web.Request) -> web.Response:
        if sleep_s:
            await asyncio.sleep(sleep_s)
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port = runner.addresses[0][1]
        print(f"http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        _serve_bare(sys.argv[2:])
    else:
        sys.exit("usage: python bench/_load.py bare --body-file FILE [--sleep-ms N]")
