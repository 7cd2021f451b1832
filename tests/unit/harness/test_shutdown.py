"""SIGINT, SIGTERM and SIGHUP stop a command alike; a second signal hurries, never interrupts."""

from __future__ import annotations

import signal

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
