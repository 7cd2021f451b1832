"""Every long-running command stops alike on SIGTERM and SIGINT: it exits 128 + N with one line,
no process it started survives, and the sub-runs it finished are in results.json.

Each run carries a unique tag in its environment, which every descendant inherits, so a survivor
is found in /proc however it was started (children, grandchildren, locust workers, mock workers).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.commands.launch import STOP_GRACE_S
from harness.records import RunRecord
from harness.store import load_records

from .procs import tagged, wait_until_none_tagged, wait_until_tagged

pytestmark = pytest.mark.slow
TAG = "SFPERF_SIGNAL_TEST"
READY_TIMEOUT_S = 120.0  # a loaded CI machine starts the mock, a gateway and locust slowly
GRANDCHILD = (
    "import subprocess, time; subprocess.Popen(['sleep', '120']); "
    "print('ready', flush=True); time.sleep(120)"
)
STUBBORN = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + GRANDCHILD


@dataclass
class Run:
    """An `sfperf` command running with a tag that marks every process it starts."""

    command: str
    process: subprocess.Popen[str]
    tag: str
    out: Path

    def records(self) -> list[RunRecord]:
        return load_records(self.out) if (self.out / "results.json").exists() else []

    def rows_written(self) -> bool:
        """True once a locust child has written request rows."""
        return any(p.stat().st_size for p in self.out.glob("load/**/raw/requests-*.tsv"))

    def first_stdout_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()


@contextlib.contextmanager
def sfperf(tmp_path: Path, *args: str) -> Iterator[Run]:
    """Start `sfperf ARGS`; whatever happens, nothing tagged is left running afterwards."""
    tag, out = uuid.uuid4().hex, tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, TAG: tag},
    )  # fmt: skip
    try:
        yield Run(args[0], process, tag, out)
    finally:
        if process.poll() is None:
            process.kill()
        # Only after a failure: keep the machine clean, and before reading sfperf's pipes to
        # their end, which a surviving grandchild (it inherited them) would hold open.
        for leftover in tagged(TAG, tag):
            with contextlib.suppress(ProcessLookupError):
                os.kill(leftover.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def wait_for(run: Run, ready: Callable[[], bool]) -> None:
    deadline_s = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        if run.process.poll() is not None:
            _, err = run.process.communicate()
            pytest.fail(f"sfperf {run.command} exited {run.process.returncode} early: {err}")
        assert time.monotonic() < deadline_s, f"sfperf {run.command} never got ready"
        time.sleep(0.1)


def stop(run: Run, *signals: signal.Signals, between_s: float = 0.3) -> str:
    """Send `signals` (the later ones during the cleanup), check the exit; returns stderr."""
    for index, signum in enumerate(signals):
        if index:
            time.sleep(between_s)
        run.process.send_signal(signum)
    _, err = run.process.communicate(timeout=120)
    first = signals[0]
    assert run.process.returncode == 128 + first, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sfperf {run.command}: stopped by {first.name}"), err
    assert wait_until_none_tagged(TAG, run.tag) == []
    return err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_load_keeps_the_requests_it_sent_and_leaves_no_locust_mock_or_gateway(
    tmp_path: Path, signum: signal.Signals
) -> None:
    args = ["load", "steady", "--duration", "120s", "--users", "2", "--mock-profile", "fast"]
    with sfperf(tmp_path, *args, "--out", "run") as run:
        wait_for(run, run.rows_written)
        err = stop(run, signum)
    # the requests, what the target did meanwhile, what it did to the requests, how it retried
    load, card, rewrites, retries = run.records()
    assert (load.runner, card.runner, rewrites.scenario) == ("load", "card", "rewrites")
    assert retries.scenario == "retries"
    assert load.partial and load.get("latency_ms").values
    assert "kept 4 record(s) (4 partial) in run/results.json" in err


def test_a_second_signal_during_the_cleanup_kills_a_stubborn_child_at_once(
    tmp_path: Path,
) -> None:
    args = ["launch", "--upstream", "http://127.0.0.1:9", "--", sys.executable, "-c", STUBBORN]
    with sfperf(tmp_path, *args) as run:
        assert run.first_stdout_line() == "ready"
        began_s = time.monotonic()
        err = stop(run, signal.SIGTERM, signal.SIGINT)  # SIGTERM is ignored: a grace to wait
    assert "SIGINT again: stopping children now" in err
    assert "was killed by SIGKILL" in err
    assert time.monotonic() - began_s < STOP_GRACE_S  # the second signal cut the grace short


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sweep_keeps_every_point_measured_before_the_stop(
    tmp_path: Path, signum: signal.Signals
) -> None:
    args = ["sweep", "--levels", "1,2,4,8,16,32", "--duration", "1s", "--upstream-latency",
            "20ms", "--subjects", "async,gateway:async", "--out", "run"]  # fmt: skip
    with sfperf(tmp_path, *args) as run:
        wait_for(run, lambda: bool(run.records()))
        finished = {record.run_id for record in run.records()}
        stop(run, signum)
    saved = run.records()
    assert finished <= {record.run_id for record in saved}
    assert not any(record.partial for record in saved)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_profile_keeps_the_target_it_finished_and_the_one_it_was_profiling(
    tmp_path: Path, signum: signal.Signals
) -> None:
    args = ["profile", "--variant", "async", "--variant", "sync-legacy", "--requests", "200",
            "--duration", "60", "--out", "run"]  # fmt: skip
    with sfperf(tmp_path, *args) as run:
        wait_for(run, lambda: bool(run.records()))
        stop(run, signum)
    variants = {record.labels["variant"]: record.partial for record in run.records()}
    assert variants["async"] is False and variants.get("sync-legacy", True) is True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_verdict_grades_what_the_mock_saw_before_the_stop(
    tmp_path: Path, signum: signal.Signals
) -> None:
    args = ["verdict", "--scenario", "resilience", "--duration", "120s", "--out", "run"]
    with sfperf(tmp_path, *args) as run:
        wait_for(run, run.rows_written)
        stop(run, signum)
    assert [(r.runner, r.partial) for r in run.records()] == [
        ("load", True), ("card", True), ("verdict", True)]  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_validate_writes_its_step_log_and_a_partial_report_when_stopped(
    tmp_path: Path, signum: signal.Signals
) -> None:
    with sfperf(tmp_path, "validate", "--quick", "--out", "run") as run:
        checkpoint = run.out / "micro" / "checkpoint.jsonl"
        wait_for(run, lambda: checkpoint.exists() and checkpoint.read_text().count("\n") >= 1)
        err = stop(run, signum)
    stopped = f"stopped by {signum.name}"
    steps = json.loads((run.out / "steps.json").read_text())["steps"]
    assert steps[0] == {**steps[0], "step": "micro", "error": stopped}
    assert all(step["error"] == f"not run ({stopped})" for step in steps[1:])
    assert f"PARTIAL: {stopped}" in (run.out / "report.md").read_text()
    assert any(record.runner == "micro" for record in run.records())
    assert "partial report" in err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize(
    ("args", "tree"),
    [
        (["mock", "--workers", "2", "--lax-headers"], 3),  # sfperf serves, two workers
        (["gateway", "--upstream", "http://127.0.0.1:9"], 1),  # sfperf serves itself
        (["launch", "--upstream", "http://127.0.0.1:9", "--", sys.executable, "-c", GRANDCHILD],
         3),  # sfperf, the program, its own child
    ],
    ids=["mock", "gateway", "launch"],
)  # fmt: skip
def test_servers_and_launched_programs_stop_with_their_whole_tree(
    tmp_path: Path, args: list[str], tree: int, signum: signal.Signals
) -> None:
    with sfperf(tmp_path, *args) as run:
        assert run.first_stdout_line()  # the URL, or the launched program's line
        assert len(wait_until_tagged(TAG, run.tag, at_least=tree)) >= tree
        stop(run, signum)


@pytest.mark.parametrize(
    "args",
    [
        ["load", "steady", "--duration", "120s", "--users", "2", "--mock-profile", "fast",
         "--workers", "1", "--out", "run"],
        ["mock", "--workers", "2", "--lax-headers"],
    ],
    ids=["load", "mock"],
)  # fmt: skip
def test_children_stop_when_sfperf_itself_is_killed_outright(
    tmp_path: Path, args: list[str]
) -> None:
    with sfperf(tmp_path, *args) as run:
        if args[0] == "load":
            wait_for(run, run.rows_written)
        else:
            assert run.first_stdout_line()
        assert len(wait_until_tagged(TAG, run.tag, at_least=3)) >= 3
        run.process.kill()  # SIGKILL: sfperf gets no chance to stop anything
        run.process.wait()
        assert wait_until_none_tagged(TAG, run.tag) == []
