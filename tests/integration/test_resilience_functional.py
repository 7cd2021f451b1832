"""The `resilience` load scenario against the reference `async` gateway on loopback: the mock
provokes 429 bursts, a 503 outage, hangs and token expiry, and the gateway's verdict is clean."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.findings import Severity, grade_journal
from harness.findings.journal import fetch_journal
from harness.runners.load import LoadPlan, LoadTarget, run_load
from harness.targets.process import Child
from harness.targets.running import run_child, start_mock
from scenarios.load.resilience_plan import resilience_plan

DURATION_S = 10.0
PROFILE = str(Path(__file__).resolve().parents[2] / "scenarios" / "load" / "resilience.toml")

pytestmark = pytest.mark.slow


def gateway_argv(mock_url: str) -> list[str]:
    # The scenario's token lives seconds: the refresh buffer must be shorter than that.
    return [sys.executable, "-m", "harness.subjects.gateway", "--variant", "async",
            "--upstream", mock_url, "--port", "0", "--token-refresh-buffer-s", "1"]  # fmt: skip


def test_the_async_gateway_weathers_every_provoked_fault_with_a_clean_verdict(
    tmp_path: Path,
) -> None:
    plan = LoadPlan("resilience", users=3, spawn_rate=3, duration_s=DURATION_S, timeout_s=10.0)
    log = tmp_path / "gateway.log"
    with (
        start_mock(tmp_path, profile=PROFILE) as mock,
        run_child(Child("gateway", gateway_argv(mock.url), log)) as url,
    ):
        (record,) = run_load(plan, LoadTarget("async", url, mock.url), tmp_path)
        time.sleep(0.3)  # the last replies reach the journal
        entries = fetch_journal(mock.url).entries
    faults = Counter(e["fault"] for e in entries)
    findings = grade_journal(entries, resilience_plan(DURATION_S).grading_policy())
    assert record.get("latency_ms").values
    assert faults["429"] and faults["503"] and faults["hang"]
    assert len({e["token_id"] for e in entries if e["token_id"]}) >= 2  # crossed an expiry
    assert [f.name for f in findings if f.severity is not Severity.INFO] == []
