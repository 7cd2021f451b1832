"""SIGINT, SIGTERM and SIGHUP stop a command alike; a second signal hurries, never interrupts."""

from __future__ import annotations

import signal

import pytest

from harness.shutdown import (
    SignalStop,
    Stopped,
    active,
    exit_status,
    hurried,
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


def test_a_real_sigterm_raises_keyboard_interrupt_while_installed_and_handlers_come_back() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with stopping_on_signals() as stop:
        assert active() is stop and not hurried()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        assert stop_reason() == "stopped by SIGTERM"
        signal.raise_signal(signal.SIGHUP)  # the second: no exception
        assert hurried()
    assert {s: signal.getsignal(s) for s in before} == before
    assert active() is None and not hurried()


def test_a_stopped_command_reports_the_signal_and_what_it_kept_in_one_line() -> None:
    assert exit_status(signal.SIGINT) == 130 and exit_status(signal.SIGTERM) == 143
    kept = Stopped("kept 2 record(s) in out/results.json")
    assert stop_line("load", signal.SIGTERM, kept) == (
        "sfperf load: stopped by SIGTERM; kept 2 record(s) in out/results.json"
    )
    assert stop_line("mock", signal.SIGINT, KeyboardInterrupt()) == "sfperf mock: stopped by SIGINT"
