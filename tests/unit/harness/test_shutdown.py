"""SIGINT, SIGTERM and SIGHUP stop a command alike; a second signal hurries, never interrupts."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from harness.shutdown import (
    STOP_SIGNALS,
    SignalStop,
    Stopped,
    active,
    exit_status,
    hurried,
    restore,
    stop_line,
    stop_reason,
    stopping_on_signals,
)


def test_the_first_signal_interrupts_and_is_remembered() -> None:
    stop = SignalStop()
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGTERM, None)
    assert stop.signum == signal.SIGTERM and not stop.hurried


def test_a_second_signal_hurries_the_stop_instead_of_interrupting_the_cleanup(
    capfd: pytest.CaptureFixture[str],
) -> None:
    stop = SignalStop()
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGINT, None)
    stop.handle(signal.SIGTERM, None)  # does not raise
    stop.handle(signal.SIGINT, None)
    assert stop.hurried and stop.signum == signal.SIGINT
    assert capfd.readouterr().err == "SIGTERM again: stopping children now, still saving results\n"


def test_handlers_are_installed_for_the_block_and_put_back_after_it() -> None:
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    with stopping_on_signals() as stop:
        assert active() is stop
        assert {signal.getsignal(s) for s in STOP_SIGNALS} == {stop.handle}
    assert {s: signal.getsignal(s) for s in before} == before
    assert active() is None and not hurried()


def test_a_real_sigterm_interrupts_and_later_signals_no_longer_can() -> None:
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    try:
        with pytest.raises(KeyboardInterrupt), stopping_on_signals():
            assert not hurried()
            try:
                signal.raise_signal(signal.SIGTERM)
            finally:
                assert stop_reason() == "stopped by SIGTERM"
                signal.raise_signal(signal.SIGINT)  # in the cleanup: no exception
                assert hurried()
        # The process is on its way out: a signal now neither raises nor kills it.
        assert {signal.getsignal(s) for s in STOP_SIGNALS} == {signal.SIG_IGN}
        signal.raise_signal(signal.SIGTERM)
    finally:
        restore(before)


def test_a_stopped_command_reports_the_signal_and_what_it_kept_in_one_line() -> None:
    assert exit_status(signal.SIGINT) == 130 and exit_status(signal.SIGTERM) == 143
    kept = Stopped("kept 2 record(s) in out/results.json")
    assert stop_line("load", signal.SIGTERM, kept) == (
        "sfperf load: stopped by SIGTERM; kept 2 record(s) in out/results.json"
    )
    assert stop_line("mock", signal.SIGINT, KeyboardInterrupt()) == "sfperf mock: stopped by SIGINT"


def test_a_signal_the_user_ignored_stays_ignored() -> None:
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stopping_on_signals() as stop:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == stop.handle
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def interrupted(main: Callable[[], Coroutine[Any, Any, None]]) -> bool:
    """Whether a signal stopped `asyncio.run(main())` (the traceback is gone once this returns,
    so what it held can be collected)."""
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    try:
        with stopping_on_signals():
            asyncio.run(main())
    except KeyboardInterrupt:
        return True
    finally:
        restore(before)
    return False


def test_a_signal_inside_an_asyncio_task_stops_the_loop_without_leaving_the_task_failed() -> None:
    complaints: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: complaints.append(context["message"]))
        helper = asyncio.create_task(signal_mid_step())
        await asyncio.sleep(5.0)  # interrupted long before
        await helper

    async def signal_mid_step() -> None:
        signal.raise_signal(signal.SIGTERM)  # the handler runs here, inside this task's step
        await asyncio.sleep(0)

    assert interrupted(main)
    gc.collect()  # a task left holding the interrupt complains when it is collected
    assert complaints == []


class SignalledWhenCollected:
    """A signal arriving while Python runs code whose exceptions it only reports (as logging's
    at-fork hook runs while `subprocess` forks for a `preexec_fn`)."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGTERM)


def test_a_first_interrupt_python_swallowed_is_delivered_again_and_stops_the_command() -> None:
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    try:
        with pytest.raises(KeyboardInterrupt), stopping_on_signals() as stop:
            doomed = SignalledWhenCollected()
            del doomed  # KeyboardInterrupt raised in __del__: Python reports it, raises nothing
            deadline_s = time.monotonic() + 10.0
            while time.monotonic() < deadline_s:  # no sleep: a signal would not end it
                pass
            pytest.fail("the interrupt swallowed in __del__ was lost")
        assert stop.signum == signal.SIGTERM and not stop.hurried
    finally:
        restore(before)
