"""A process that only serves: GC tuned for serving, and a stop once its parent is gone."""

from __future__ import annotations

import gc
import os
import signal
import threading
from collections.abc import Iterator

import pytest

from mock_salesforce.process import stop_with_parent, tune_gc_for_serving


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_serving_freezes_what_exists_and_collects_the_young_generation_less_often() -> None:
    before = gc.get_threshold()[0]
    tune_gc_for_serving()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] > before


def test_a_process_not_started_by_the_given_parent_watches_none() -> None:
    assert not stop_with_parent(None, lambda signum: None)
    assert not stop_with_parent(os.getppid() + 1, lambda signum: None)


def test_a_process_stops_once_the_parent_that_started_it_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = os.getppid()
    parents = iter([real, real, 1])  # then adopted by init: the parent died
    monkeypatch.setattr(os, "getppid", lambda: next(parents, 1))
    stopped: list[int] = []
    done = threading.Event()

    def stop(signum: int) -> None:
        stopped.append(signum)
        done.set()

    assert stop_with_parent(real, stop, poll_s=0.0)
    assert done.wait(5.0) and stopped == [signal.SIGTERM]
