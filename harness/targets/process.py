"""Child processes the harness owns: start in their own process group, log, wait, stop.

Every child leads its own process group and is sent SIGTERM by the kernel if the harness dies
(`spawn`, `child_setup`). A reader thread copies the child's merged stdout/stderr into its log
file and watches for the readiness line (a base URL). Stopping sends SIGTERM to the whole group,
waits, then SIGKILLs the group, so no grandchild outlives the harness (`stop_group`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harness.errors import UsageError
from harness.shutdown import hurried
from harness.targets.listening import listening_addresses
from harness.targets.strays import MARK_VARIABLE, stop_strays

# Our own servers print their base URL alone on a line.
BARE_URL = re.compile(r"^(https?://[^\s/]+)/?\s*$")
# Other programs announce themselves in prose ("Running on http://0.0.0.0:8080 ..."); only
# local addresses count, so a log line about an upstream host is never taken for readiness.
LOCAL_URL = re.compile(
    r"(https?)://(127\.\d+\.\d+\.\d+|localhost|0\.0\.0\.0|\[::1?\])(:\d+)?", re.IGNORECASE
)
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}
_UPSTREAM_PATHS = ("/einstein/", "/services/")
MAX_URLS = 16  # the distinct URLs a child's output is searched for: enough to pick from
_MARKS = itertools.count(1)


def bare_url(line: str) -> str | None:
    """The URL when `line` is nothing but a base URL (our servers' readiness line)."""
    match = BARE_URL.match(line.strip())
    return match.group(1) if match else None


def local_url(line: str) -> str | None:
    """The first local base URL mentioned in `line`, wildcard binds mapped to loopback."""
    return next(iter(local_urls(line)), None)


def local_urls(line: str) -> list[str]:
    """Every local base URL mentioned in `line`, in order, wildcard binds mapped to loopback;
    not one followed by a Salesforce API path (`/einstein/`, `/services/`): that is a gateway
    naming its upstream, not where it listens (R92)."""
    urls = []
    for match in LOCAL_URL.finditer(line):
        if line[match.end() :].startswith(_UPSTREAM_PATHS):
            continue
        scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3) or ""
        urls.append(f"{scheme}://{_WILDCARD_HOSTS.get(host, host)}{port}")
    return urls


# SIGKILL is what the kernel's out-of-memory killer sends; a shell (a wrapper script, `sh -c`)
# reports it as its own exit status 128 + 9.
KILLED_CODE = 128 + signal.SIGKILL


@dataclass(frozen=True)
class ProcessExit:
    """How a process ended (`code` as Popen's returncode: -N for signal N) and when (epoch s)."""

    code: int
    at_s: float

    @classmethod
    def of(cls, info: os.waitid_result, at_s: float) -> ProcessExit:
        """From what `os.waitid` said of the process."""
        signalled = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
        return cls(-info.si_status if signalled else info.si_status, at_s)

    def describe(self) -> str:
        """'was killed by SIGKILL (out of memory?)', 'exited with code 137 (128 + SIGKILL:
        killed, out of memory?)', 'was killed by SIGSEGV', 'exited with code 1'..."""
        said = describe_exit(self.code)
        if self.code == -signal.SIGKILL:
            return f"{said} (out of memory?)"
        return (
            f"{said} (128 + SIGKILL: killed, out of memory?)" if self.code == KILLED_CODE else said
        )


class Child:
    """A started process: its log, the URL it announced (if any), and how to stop it."""

    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        find_url: Callable[[str], str | None] = bare_url,
    ) -> None:
        self.label = label
        self.log_path = log_path
        self._find_url = find_url
        self._url: str | None = None
        self._urls: list[str] = []
        self._url_seen = threading.Event()
        self.mark = f"{os.getpid()}-{next(_MARKS)}"  # in its environment: `strays`
        self.strays: list[int] = []  # what it left running outside its group, once stopped
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[str] = log_path.open("a", encoding="utf-8", errors="replace")
        try:
            self.process = _spawn(argv, env, self.mark)
        except OSError as exc:
            self._log.close()
            raise UsageError(f"cannot start {label} ({argv[0]}): {exc.strerror}") from None
        self._reader = threading.Thread(target=self._pump, name=f"log-{label}", daemon=True)
        self._reader.start()
        self._exit: ProcessExit | None = None
        watcher = threading.Thread(target=self._watch_exit, name=f"exit-{label}", daemon=True)
        watcher.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def ended(self) -> ProcessExit | None:
        """How and when the child exited, once it has and nothing of its process group still
        listens (None while it runs): a target that dies mid-run is said to have, not blamed
        for the connections refused after (R85); a wrapper that leaves its server running
        behind it (`sh -c 'gw & ...'`) has not ended the target."""
        if self._exit is None or listening_addresses(self.process.pid):
            return None
        return self._exit

    def _watch_exit(self) -> None:
        # Waits without reaping (WNOWAIT): `stop` still reaps it, and its group id stays ours.
        with contextlib.suppress(ChildProcessError):
            info = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOWAIT)
            if info is not None:
                self._exit = ProcessExit.of(info, time.time())

    @property
    def url(self) -> str | None:
        """The URL the child announced, once it has."""
        return self._url

    @property
    def urls(self) -> list[str]:
        """Every distinct URL it has announced so far, in order (the first is `url`)."""
        return list(self._urls)

    def _pump(self) -> None:
        # Keep draining after readiness: a child blocked on a full pipe would stall the run.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            # stop() may close the log while a process that left the group still writes.
            with contextlib.suppress(ValueError):
                self._log.write(line)
                self._log.flush()
            if len(self._urls) < MAX_URLS and (url := self._find_url(line)) is not None:
                self._seen(url)
        self._url_seen.set()

    def _seen(self, url: str) -> None:
        if url not in self._urls:
            self._urls.append(url)
        if self._url is None:
            self._url = url
            self._url_seen.set()

    def wait_url(self, timeout_s: float) -> str:
        """Block until the child prints its URL; UsageError on early exit or timeout."""
        self._url_seen.wait(timeout_s)
        if self._url is not None:
            return self._url
        if exited(self.process) or not self._reader.is_alive():
            raise self.exited_error()
        raise UsageError(
            f"{self.label} printed no URL within {timeout_s:g} s; if it listens without saying "
            "so, give its URL (--target-url; in a sweep pair --baseline-url/--candidate-url); "
            f"if it needs longer to start, --start-timeout (log: {self.log_path})"
        )

    def exited_error(self) -> UsageError:
        """The error for a child that died before it was ready, quoting the log line that says
        why (`telling_line`), or saying it daemonized (it left processes outside its group)."""
        code = self.stop()
        if self.strays:
            pids = ", ".join(map(str, self.strays))
            return UsageError(
                f"{self.label} {describe_exit(code)} before it was ready and left pid(s) {pids} "
                "running outside its process group: it daemonized (sfperf stopped them); run "
                f"it in the foreground (e.g. gunicorn without --daemon) (log: {self.log_path})"
            )
        last = telling_line(self.log_path)
        detail = f": {last}" if last else ""
        return UsageError(
            f"{self.label} {describe_exit(code)} before it was ready{detail} (log: {self.log_path})"
        )

    def stop(self, grace_s: float = 5.0) -> int | None:
        """SIGTERM the group, wait `grace_s`, then SIGKILL it, and any process it left outside
        the group (`strays`); returns the exit code. Idempotent."""
        if self._log.closed:
            return self.process.returncode
        try:
            code = stop_group(self.process, grace_s)
            self.strays = stop_strays(self.mark)
        finally:
            self._reader.join(timeout=2.0)
            # A process that escaped the group may still hold the pipe: leave it to the thread.
            if not self._reader.is_alive() and self.process.stdout is not None:
                self.process.stdout.close()
            self._log.close()
        return code


def _spawn(argv: Sequence[str], env: Mapping[str, str] | None, mark: str) -> subprocess.Popen[str]:
    full_env = dict(os.environ if env is None else env)
    full_env[MARK_VARIABLE] = mark
    # A URL line stuck in a block buffer would look like a hung start.
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    full_env["SFPERF_PARENT_PID"] = str(os.getpid())  # harness.subjects.gateway.serve.PARENT_ENV
    process: subprocess.Popen[str] = spawn(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=full_env,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    )
    return process


def spawn(argv: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(argv, **options)` as the leader of a new process group (its own
    session: a terminal's Ctrl-C reaches only us, and we stop the group) that is sent SIGTERM
    if this process dies without stopping it (see `child_setup`)."""
    return subprocess.Popen(list(argv), start_new_session=True, preexec_fn=child_setup(), **options)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # what we stop children with


def child_setup() -> Callable[[], None] | None:
    """A preexec function for a child started from the main thread: SIGINT and SIGTERM back to
    their default action (an ignored disposition would be inherited across exec, and the child
    could not be stopped by them), and, on Linux, the kernel told to SIGTERM the child when this
    process dies, even by SIGKILL (`PR_SET_PDEATHSIG`).

    The kernel sends that signal when the *thread* that forked the child ends, so it is only set
    up for children started from the main thread, which lives as long as the process.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = _prctl()
    parent_pid = os.getpid()

    def prepare() -> None:  # runs in the child between fork and exec: no locks, no imports
        for signum in STOPPING_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        if prctl is None:
            return
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the line above took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return prepare


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


def describe_exit(code: int | None) -> str:
    """'exited with code N', or 'was killed by SIGNAME' for a negative Popen return code."""
    if code is None:
        return "did not exit"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def exited(process: subprocess.Popen[Any]) -> bool:
    """True once `process` has exited. It is not reaped (WNOWAIT): while its zombie stands, its
    pid, and so its process group id, cannot be reused by a stranger we would then signal."""
    if process.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def stop_group(
    process: subprocess.Popen[Any],
    grace_s: float,
    *,
    first: signal.Signals | None = signal.SIGTERM,
    interval_s: float = 0.02,
) -> int | None:
    """Stop `process` and everything in its process group; never leaves an orphan behind.

    `first` goes to the whole group (None: the caller has sent it); SIGKILL follows once the
    leader exits, after `grace_s`, at once when a second signal hurries the stop, and even when
    an interrupt cuts the wait short.
    """
    if process.returncode is None:  # unreaped leader: the group id is still ours to signal
        if first is not None:
            signal_group(process, first)
        try:
            poll_until(lambda: exited(process) or hurried(), timeout_s=grace_s,
                       alive=lambda: True, interval_s=interval_s)  # fmt: skip
        finally:
            # Grandchildren may linger after the leader exits; the group dies with it.
            signal_group(process, signal.SIGKILL)
    try:
        return process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        return None


def signal_group(leader: subprocess.Popen[Any], signum: signal.Signals) -> None:
    """Send `signum` to the process group `leader` leads, unless the leader has been reaped
    (its group id could then belong to a stranger)."""
    if leader.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader.pid, signum)


# A line that says what went wrong: an exception (`ModuleNotFoundError: No module named 'x'`),
# or an error, fatal or critical message (`Error: class uri 'gevent' invalid or not found:`).
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(:|$)")
ERROR_LINE = re.compile(r"\b(error|fatal|critical)\b", re.IGNORECASE)


def telling_line(path: Path, limit_chars: int = 300) -> str:
    """The line of a log file that best says why the program stopped, shortened: its last
    exception line, else its last error line, else its last line with a letter or digit in it
    (not a `]` closing a bracketed traceback: R66)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    said = [line.strip() for line in lines if any(c.isalnum() for c in line)]
    for pattern in (EXCEPTION_LINE, ERROR_LINE):
        if found := [line for line in said if pattern.search(line)]:
            return found[-1][:limit_chars]
    return said[-1][:limit_chars] if said else ""


def poll_until(
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    alive: Callable[[], bool],
    interval_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call `ready` until it returns True, `alive` returns False, or `timeout_s` passes."""
    deadline = clock() + timeout_s
    while alive():
        if ready():
            return True
        if clock() >= deadline:
            return False
        sleep(interval_s)
    return False
