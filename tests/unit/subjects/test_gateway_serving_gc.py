"""The serving process's GC tuning: start-up objects frozen, young collections rarer."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from harness.subjects.gateway.serve import tune_gc_for_serving


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
