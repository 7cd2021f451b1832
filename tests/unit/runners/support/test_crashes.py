"""A locust that crashed is a failed run, said in one line; one that ran is not (R94)."""

from __future__ import annotations

from pathlib import Path

from harness.runners.support.crashes import REINSTALL_HINT, locust_failure

IMPORT_CRASH = """Traceback (most recent call last):
  File "/work/mock_salesforce/replies.py", line 22, in <module>
    from xxhash import xxh3_128_digest
ModuleNotFoundError: No module named 'xxhash'
"""
TASK_CRASH = """[2026-12-05 01:00:00] host/ERROR/locust.user.task: boom
Traceback (most recent call last):
  File "/work/scenarios/load/_sfperf.py", line 229, in chat
KeyError: 'choices'
"""


def log_with(tmp_path: Path, text: str, name: str = "locust-0.log") -> Path:
    log = tmp_path / name
    log.write_text(text)
    return log


def test_a_locust_that_died_at_import_is_named_with_its_error_its_log_and_the_reinstall_hint(
    tmp_path: Path,
) -> None:
    log = log_with(tmp_path, IMPORT_CRASH)
    said = locust_failure([log], 1, recorded=0)
    assert said.startswith("locust exited with code 1 before recording a request: ")
    assert "ModuleNotFoundError: No module named 'xxhash'" in said
    assert f"(log: {log})" in said and said.endswith(REINSTALL_HINT)


def test_a_locust_that_exited_zero_with_a_traceback_and_no_request_recorded_failed(
    tmp_path: Path,
) -> None:
    said = locust_failure([log_with(tmp_path, TASK_CRASH)], 0, recorded=0)
    assert said.startswith("locust left a traceback in its log before recording a request")
    assert "KeyError: 'choices'" in said and REINSTALL_HINT not in said


def test_a_crash_after_some_requests_says_how_many_were_kept(tmp_path: Path) -> None:
    said = locust_failure([log_with(tmp_path, TASK_CRASH)], -9, recorded=37)
    assert said.startswith("locust was killed by SIGKILL after 37 request(s), kept: KeyError")


def test_a_worker_log_with_the_traceback_is_the_one_quoted(tmp_path: Path) -> None:
    master = log_with(tmp_path, "Gave up waiting for workers to connect\n")
    worker = log_with(tmp_path, IMPORT_CRASH, "locust-1.log")
    assert f"(log: {worker})" in locust_failure([master, worker], 1, recorded=0)


def test_a_locust_that_ran_is_no_failure_whatever_the_target_did(tmp_path: Path) -> None:
    quiet = log_with(tmp_path, "")
    assert locust_failure([quiet], 0, recorded=0) == ""  # a target that answered nothing
    one_task = log_with(tmp_path, TASK_CRASH, "locust-1.log")
    assert locust_failure([one_task], 0, recorded=5) == ""  # one task failed, the rest ran
    assert locust_failure([quiet], None, recorded=0) == ""  # overran: sfperf stopped it
