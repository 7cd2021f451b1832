"""The `resilience` run against the reference `async` gateway on loopback: the mock provokes 429
bursts, a 503 outage, hangs and token expiry, and the gateway's verdict is clean."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.findings import Severity, findings_from_record
from harness.runners.resilience import run_resilience
from harness.targets import TargetSpec

pytestmark = pytest.mark.slow


def test_the_async_gateway_weathers_every_provoked_fault_with_a_clean_verdict(
    tmp_path: Path,
) -> None:
    load, tokens, verdict = run_resilience(TargetSpec(variant="async"), tmp_path, duration_s=8.0,
                                           users=3)  # fmt: skip
    (journal_file,) = verdict.artifacts
    entries = [json.loads(line) for line in (tmp_path / journal_file).read_text().splitlines()]
    faults = Counter(e["fault"] for e in entries)
    assert load.matches(runner="load", scenario="resilience", target="async")
    assert verdict.matches(runner="verdict", scenario="findings", target="async")
    assert faults["429"] and faults["503"] and faults["hang"]
    assert len({e["token_id"] for e in entries if e["token_id"]}) >= 2  # crossed an expiry
    findings = findings_from_record(verdict)
    assert [f.name for f in findings if f.severity is not Severity.INFO] == []
    assert verdict.params["entries"] == len(entries) > 0
    # Judged against what the mock really answered, a 502 after a 503 outage fits: no mismatch.
    assert load.params["fidelity_basis"]["upstream"] == len(load.get("ok").values)
    mismatches = {s.name: s.values for s in load.series if s.name.startswith("fidelity_")}
    assert all(values == (0.0,) for values in mismatches.values()), mismatches
    # Between the faults it answers everything; its tokens expired and it never sent one late.
    calm = load.get("calm_answered").values
    assert len(calm) > 0 and set(calm) == {1.0}
    assert tokens.get("expiry_chances").values[0] > 0
    assert tokens.get("expired_token_sends").values == (0.0,)
