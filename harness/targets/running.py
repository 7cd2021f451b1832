"""Start, health-check and stop the mock and the target, whatever kind the target is.

`start_mock` runs `python -m mock_salesforce`; `open_target` runs a reference gateway variant,
checks an already running URL, or launches a user's command with the start-up shim pointing its
Salesforce at the mock. Logs and io reports land in `run_dir/logs/`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.shim import clear_io_report, read_io_report, request_snapshot, shim_env
from harness.targets import health
from harness.targets.endpoints import endpoint_url
from harness.targets.listening import listeners_on, listening_addresses
from harness.targets.metrics_reading import NOT_READ, MetricsReading, read_answer
from harness.targets.process import Child, ProcessExit, exited, local_urls, poll_until
from harness.targets.spec import START_TIMEOUT_S, TargetSpec
from harness.targets.tls import DEFAULT_TLS, TargetTls

READY_TIMEOUT_S = START_TIMEOUT_S  # the mock's and the reference gateway's (they start in ~1 s)
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class Service:
    """A server the harness started: its base URL, its log, its process id."""

    name: str
    url: str
    log_path: Path
    pid: int


@dataclass(frozen=True)
class RunningTarget:
    """A target ready to take requests. `io_report()` is there once a launched target stopped."""

    name: str
    url: str
    log_path: Path | None = None
    io_report_path: Path | None = None
    pid: int | None = None
    control_dir: Path | None = None  # where io snapshots are asked for (launched targets)
    metrics_path: str | None = None  # where it reports on itself, when known
    # What every client sends it (`--target-header`); secrets, so not in the repr.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    tls: TargetTls = DEFAULT_TLS  # what every client trusts of its certificate (https)
    # How and when it exited, once it has (a target the harness started; else always None).
    ended: Callable[[], ProcessExit | None] = field(default=lambda: None, compare=False)

    def metrics(self) -> dict[str, Any] | None:
        """The target's own figures (GET `metrics_path`), None when it has none."""
        return self.metrics_reading().document

    def metrics_reading(self) -> MetricsReading:
        """GET `metrics_path` read (JSON or Prometheus text), or what it answered instead."""
        if not self.metrics_path:
            return NOT_READ
        url = endpoint_url(self.url, self.metrics_path)
        return read_answer(self.metrics_path, health.http_get(url, 5.0, self.headers, tls=self.tls))

    def io_report(self) -> dict[str, Any] | None:
        """File opens and redirects counted by the shim (launched targets, after they stop)."""
        return read_io_report(self.io_report_path) if self.io_report_path else None

    def io_snapshot(self, label: str) -> dict[str, Any] | None:
        """The shim's counts right now (launched Python targets; None when none answered)."""
        if self.io_report_path is None or self.control_dir is None:
            return None
        return request_snapshot(self.control_dir, self.io_report_path, label)


def logs_dir(run_dir: Path) -> Path:
    return run_dir / "logs"


def safe_name(name: str) -> str:
    """A target name usable in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "target"


@contextlib.contextmanager
def run_child(
    child: Child, *, timeout_s: float = READY_TIMEOUT_S, grace_s: float = STOP_GRACE_S
) -> Iterator[str]:
    """Wait for `child`'s URL line, yield it, and always stop the child afterwards."""
    try:
        yield child.wait_url(timeout_s)
    finally:
        child.stop(grace_s)


@contextlib.contextmanager
def start_mock(
    run_dir: Path,
    *,
    profile: str = "default",
    seed: int = 1234,
    args: Sequence[str] = (),
    timeout_s: float = READY_TIMEOUT_S,
) -> Iterator[Service]:
    """Run the mock on a free loopback port for the duration of the block."""
    argv = [sys.executable, "-m", "mock_salesforce", "--host", "127.0.0.1", "--port", "0"]
    argv += ["--profile", profile, "--seed", str(seed), *args]
    child = Child("mock", argv, logs_dir(run_dir) / "mock.log")
    with run_child(child, timeout_s=timeout_s) as url:
        yield Service("mock", url, child.log_path, child.pid)


@contextlib.contextmanager
def open_target(
    spec: TargetSpec,
    *,
    mock_url: str,
    run_dir: Path,
    timeout_s: float | None = None,
    gateway_args: Sequence[str] = (),
) -> Iterator[RunningTarget]:
    """Make `spec` answer at a URL for the block; stop whatever was started on exit; a started
    target has `timeout_s` (default: its `start_timeout_s`) to get ready. `gateway_args` go to
    a reference variant's command line (e.g. a token refresh buffer)."""
    timeout_s = spec.start_timeout_s if timeout_s is None else timeout_s
    if spec.kind == "variant":
        with _variant_target(spec, mock_url, run_dir, timeout_s, gateway_args) as target:
            yield target
    elif spec.kind == "launch":
        with _launched_target(spec, mock_url, run_dir, timeout_s) as target:
            yield target
    else:
        yield _url_target(spec)


@contextlib.contextmanager
def _variant_target(
    spec: TargetSpec, mock_url: str, run_dir: Path, timeout_s: float, extra: Sequence[str]
) -> Iterator[RunningTarget]:
    argv = [sys.executable, "-m", "harness.subjects.gateway", "--variant", str(spec.variant)]
    argv += ["--upstream", mock_url, "--host", "127.0.0.1", "--port", "0", *extra]
    log_path = logs_dir(run_dir) / f"gateway-{safe_name(spec.name)}.log"
    child = Child(f"gateway {spec.variant!r}", argv, log_path)
    with run_child(child, timeout_s=timeout_s) as url:
        yield RunningTarget(spec.name, url, log_path, pid=child.pid, metrics_path=spec.metrics_path,
                            headers=dict(spec.headers), ended=child.ended)  # fmt: skip


def _url_target(spec: TargetSpec) -> RunningTarget:
    url, headers = str(spec.url), dict(spec.headers)
    ready = health.readiness(url, headers=headers, tls=spec.tls)
    if not ready.ready:
        raise UsageError(f"target {url} is not ready: {ready.describe()}")
    return RunningTarget(spec.name, url, metrics_path=spec.metrics_path, headers=headers,
                         tls=spec.tls)  # fmt: skip


@contextlib.contextmanager
def _launched_target(
    spec: TargetSpec, mock_url: str, run_dir: Path, timeout_s: float
) -> Iterator[RunningTarget]:
    stem = f"target-{safe_name(spec.name)}"
    log_path = logs_dir(run_dir) / f"{stem}.log"
    report_path = logs_dir(run_dir) / f"{stem}.io.json"
    control = logs_dir(run_dir) / f"{stem}.control"
    env = shim_env(mock_url, report_path, os.environ, control)
    clear_io_report(report_path)
    if spec.url:
        refuse_a_served_port(spec.url)
    finder = _no_url if spec.url else announced_url(mock_url)
    child = Child(f"launched target {spec.name!r}", spec.argv(), log_path, env=env, find_url=finder)
    try:
        url = _wait_launched(child, spec.url, timeout_s, dict(spec.headers), spec.tls)
        if not spec.url:  # a URL read from its output: say which, it may not be the one meant
            listens = listens_at(url, listening_addresses(child.pid))
            print(took_url(child.label, url, child.urls, listens), file=sys.stderr)
        yield RunningTarget(spec.name, url, log_path, report_path, child.pid, control,
                            spec.metrics_path, dict(spec.headers), spec.tls,
                            ended=child.ended)  # fmt: skip
    finally:
        child.stop(STOP_GRACE_S)


def refuse_a_served_port(
    url: str,
    listeners: Callable[[int], list[int]] = listeners_on,
    wait_s: float = 2.0,
) -> None:
    """UsageError when another process already listens on the port of `url` (after `wait_s`
    for one just stopped to go): the program started there would fail to bind, and the old
    one would be measured in its place (R110)."""
    port = port_of(url)
    held: list[int] = []

    def free() -> bool:
        held[:] = listeners(port)
        return not held

    if poll_until(free, timeout_s=wait_s, alive=lambda: True):
        return
    owners = ", ".join(f"pid {pid} ({command_line(pid)})" for pid in held[:3])
    raise UsageError(f"port {port} of --target-url is already served by another process "
                     f"({owners}): the program sfperf starts could not listen there, and the "
                     "other would be measured in its place; stop it or use another "
                     "port")  # fmt: skip


def command_line(pid: int) -> str:
    """What process `pid` runs, for a message ("?" when /proc cannot say)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(w.decode(errors="replace") for w in words if w)[:120] or "?"


def _no_url(line: str) -> str | None:
    """With a fixed --target-url, readiness is that URL answering, not a printed line."""
    return None


def announced_url(mock_url: str) -> Callable[[str], str | None]:
    """What finds a launched target's URL in its output: the first local URL of a line that is
    not the mock's (a gateway may print its upstream before its own address: R92)."""
    mock_port = urlsplit(mock_url).port if mock_url else None

    def find(line: str) -> str | None:
        return next((url for url in local_urls(line) if port_of(url) != mock_port), None)

    return find


def port_of(url: str) -> int:
    """The TCP port of `url`, the scheme's default when it names none."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def listened_url(urls: Sequence[str], listening: Sequence[str]) -> str:
    """Of the URLs a launched target announced (at least one), the first whose port its group
    listens on (`host:port` addresses), else the first."""
    return next((url for url in urls if listens_at(url, listening)), urls[0])


def listens_at(url: str, listening: Sequence[str]) -> bool:
    """True when one of the `host:port` addresses listened on has the port of `url`."""
    return any(address.rpartition(":")[2] == str(port_of(url)) for address in listening)


def took_url(label: str, url: str, announced: Sequence[str], listens: bool) -> str:
    """The line that says which URL of its output a launched target is measured at."""
    where = ", where it listens" if listens else ""
    others = [u for u in announced if u != url]
    also = f" (it also printed {', '.join(others)})" if others else ""
    return f"{label}: measured at {url}, read from its output{where}{also}"


def _wait_launched(
    child: Child,
    fixed_url: str | None,
    timeout_s: float,
    headers: Mapping[str, str],
    tls: TargetTls = DEFAULT_TLS,
) -> str:
    """The launched target's URL once it answers: the fixed one, or the one it printed; a TLS
    refusal (`TlsRefused`) ends the wait at once."""
    url = fixed_url or child.wait_url(timeout_s)

    def alive() -> bool:
        return not exited(child.process)

    def ready() -> bool:
        nonlocal url
        if not fixed_url:  # of what it printed, where it listens (it may bind after printing)
            url = listened_url(child.urls, listening_addresses(child.pid))
        return health.readiness(url, 1.0, headers, tls=tls).ready

    if not poll_until(ready, timeout_s=timeout_s, alive=alive):
        if not alive():
            raise child.exited_error()
        hint = where_it_listens(child.pid, url, health.readiness(url, 1.0, headers, tls=tls))
        # More time cannot help a server that answers another protocol (R132).
        longer = (
            ""
            if health.HTTP2_ONLY in hint
            else (f"; if it needs longer to start, give it --start-timeout {longer_s(timeout_s):g}")
        )
        raise UsageError(f"{child.label} is not ready at {url} after {timeout_s:g} s{hint}"
                         f"{longer} (log: {child.log_path})")  # fmt: skip
    return url


def longer_s(timeout_s: float) -> float:
    """A start timeout worth suggesting after `timeout_s` was too short."""
    return max(90.0, 3 * timeout_s)


def where_it_listens(
    pgid: int,
    url: str,
    answered: health.Readiness,
    speaks_http2_only: Callable[[str], bool] = health.speaks_http2_only,
) -> str:
    """What to add to "not ready at URL": where the launched group does listen, if elsewhere,
    and what it answered there."""
    addresses = listening_addresses(pgid)
    if not addresses:
        return "; it listens on no TCP port (yet)"
    listed, port = ", ".join(addresses), f":{urlsplit(url).port}"
    if any(a.endswith(port) for a in addresses):
        said = answered.describe()
        if not answered.said and speaks_http2_only(url):
            said = health.HTTP2_ONLY
        return f"; it listens on {listed} but {said}"
    return f"; it listens on {listed}: is the port of --target-url right?"


__all__ = ["RunningTarget", "Service", "open_target", "start_mock"]
