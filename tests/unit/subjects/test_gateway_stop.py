import os
import signal
import threading

import pytest

from harness.subjects.gateway import serve as serving


def test_a_gateway_not_started_by_sfperf_watches_no_parent() -> None:
    assert not serving.stop_with_parent("", lambda signum: None)
    assert not serving.stop_with_parent(str(os.getppid() + 1), lambda signum: None)


def test_a_gateway_stops_once_the_sfperf_that_started_it_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = os.getppid()
    parents = iter([real, real, 1])  # then adopted by init: sfperf died
    monkeypatch.setattr(os, "getppid", lambda: next(parents, 1))
    stopped: list[int] = []
    done = threading.Event()

    def stop(signum: int) -> None:
        stopped.append(signum)
        done.set()

    assert serving.stop_with_parent(str(real), stop, poll_s=0.0)
    assert done.wait(5.0) and stopped == [signal.SIGTERM]


def test_a_stop_that_hangs_ends_the_process_with_the_signals_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    serving.exit_if_stuck(143, deadline_s=0.0).join(5.0)
    assert exits == [143]
