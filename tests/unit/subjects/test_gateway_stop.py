import os

import pytest

from harness.subjects.gateway import serve as serving


def test_a_gateway_not_started_by_sfperf_watches_no_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(serving.PARENT_ENV, raising=False)
    assert serving.sfperf_parent() is None
    monkeypatch.setenv(serving.PARENT_ENV, "not a pid")
    assert serving.sfperf_parent() is None


def test_a_gateway_started_by_sfperf_watches_the_pid_it_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(serving.PARENT_ENV, "4321")
    assert serving.sfperf_parent() == 4321


def test_a_stop_that_hangs_ends_the_process_with_the_signals_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    serving.exit_if_stuck(143, deadline_s=0.0).join(5.0)
    assert exits == [143]
