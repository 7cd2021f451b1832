"""The /proc helpers the process tests count with: a process is counted once it shows."""

from __future__ import annotations

import subprocess
import uuid

from .procs import tagged, wait_until_none_tagged, wait_until_tagged

TAG = "SFPERF_PROCS_TEST"


def test_a_process_that_shows_its_tag_a_moment_late_is_still_counted() -> None:
    # As a child whose exec is still finishing does (its /proc/PID/environ reads empty): here
    # the tagged program is exec'd only after a pause, so a count taken at once finds nothing.
    tag = uuid.uuid4().hex
    late = f"sleep 1; exec env {TAG}={tag} sleep 30"
    child = subprocess.Popen(["sh", "-c", late])
    try:
        assert tagged(TAG, tag) == []
        assert [p.pid for p in wait_until_tagged(TAG, tag, at_least=1)] == [child.pid]
    finally:
        child.kill()
        child.wait()
    assert wait_until_none_tagged(TAG, tag) == []
