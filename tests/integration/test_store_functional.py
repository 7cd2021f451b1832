"""Several processes appending to one run directory at once lose no record."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from harness.records import RunRecord, capture_environment, make_series
from harness.store import append_records, load_records

WRITERS = 4
RECORDS_EACH = 4


def append_one_by_one(run_dir: Path, writer: int, start: Any) -> None:
    environment = capture_environment()
    start.wait()  # every writer starts appending at the same moment
    for index in range(RECORDS_EACH):
        labels = {"writer": str(writer), "index": str(index)}
        series = (make_series("latency_ms", "ms", range(2_000)),)  # a write takes a while
        record = RunRecord(runner="load", scenario="steady", params={}, series=series,
                           environment=environment, labels=labels)  # fmt: skip
        append_records(run_dir, [record])


def test_four_processes_appending_to_one_run_directory_keep_all_their_records(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS)
    writers = [
        context.Process(target=append_one_by_one, args=(tmp_path, n, start)) for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=60)
    assert [process.exitcode for process in writers] == [0] * WRITERS
    saved = {(r.labels["writer"], r.labels["index"]) for r in load_records(tmp_path)}
    assert len(saved) == WRITERS * RECORDS_EACH
