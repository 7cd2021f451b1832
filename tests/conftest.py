"""Shared test configuration and the one fake clock every time-dependent unit test uses."""

from __future__ import annotations

import signal

# A suite started where SIGINT is ignored (a shell's background job, nohup) would hand that on
# to every command it starts, and the Ctrl-C tests would fail for a reason that is not sfperf's.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class FakeClock:
    """Virtual time: calling it reads `now_s`; `sleep` moves time on at once and records the
    sleep, so timing logic is tested instantly and deterministically (pyinstrument's idea)."""

    def __init__(self, now_s: float = 0.0) -> None:
        self.now_s = now_s
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, duration_s: float) -> None:
        self.sleeps.append(duration_s)
        self.now_s += duration_s
