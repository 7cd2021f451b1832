"""The report's section on what the gateway did to each request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.fidelity import AnswerFacts
from harness.records import RunRecord, capture_environment, make_series
from harness.runners.support.loadjoin import join_load
from harness.runners.support.loadrows import Row
from mock_salesforce.journal import text_sha256
from reports import frames
from reports.render import write_report

CLAUDE = "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"


def rewritten_call(seq: int) -> dict[str, Any]:
    return {
        "seq": seq, "request_id": f"r{seq}", "endpoint": "generations", "model": CLAUDE,
        "markers": [f"sfpm{seq:016x}"], "status": 200, "fault": None, "disconnected": False,
        "t_s": float(seq), "duration_s": 0.05, "system_text": None, "extra_fields": ["max Tokens"],
        "reply_sha256": text_sha256("ok"), "finish_reason": "stop", "prompt_tokens": 9,
        "completion_tokens": 1,
    }  # fmt: skip


def load_and_rewrites() -> list[RunRecord]:
    facts = AnswerFacts(text_sha256("ok"), "stop", (9, 1, 10))
    request = json.dumps(
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
            ],
        }
    )
    rows = [Row("chat-stream", 100.0, 100.0 + seq, 80.0, 200, True, 60.0, (25.0, 25.0),
                marker=f"sfpm{seq:016x}", answer=facts, request=request)
            for seq in range(1, 4)]  # fmt: skip
    joined = join_load(
        rows, [rewritten_call(seq) for seq in range(1, 4)], oracle=lambda: None,
        labels={"target": "gw", "window": "streaming-closed"}, mock_epoch=lambda: 100.0,
    )  # fmt: skip
    load = RunRecord(
        "load", "streaming", dict(joined.params), capture_environment(),
        (make_series("latency_ms", "ms", [r.response_ms for r in joined.rows]),
         make_series("ok", "count", [float(r.ok) for r in joined.rows]), *joined.series),
        labels={"target": "gw", "mode": "closed"},
    )  # fmt: skip
    assert joined.rewrites is not None
    return [load, joined.rewrites]


def test_the_report_names_the_rewrites_and_how_the_gateway_streams(tmp_path: Path) -> None:
    write_report(tmp_path, load_and_rewrites())
    markdown = (tmp_path / "report.md").read_text()
    section = markdown[markdown.index("## What the gateway did to each request") :]
    assert f"| gw | gpt-4o-mini | {CLAUDE} | GPT | Claude | another family | True | 3 |" in section
    assert "| gw | chat-completions | generations | True | 3 |" in section
    assert "| gw | max Tokens | max_tokens | 3 |" in section
    assert "plays it back at its own pace" in section
    assert "| streaming | gw | 3 | 0 | 0 |" in section
    assert (tmp_path / "gateway_models.csv").is_file()
    findings = markdown[markdown.index("## How the gateway treats its upstream") :]
    assert "model_swapped" in findings and "endpoint_changed" in findings


def test_without_a_joined_load_run_the_section_says_how_to_get_one(tmp_path: Path) -> None:
    write_report(tmp_path, [])
    markdown = (tmp_path / "report.md").read_text()
    assert "## What the gateway did to each request" in markdown
    assert "`sfperf load steady` (with `--mock-url` beside `--target-url`)" in markdown


def test_load_records_from_before_the_join_are_said_to_be_so(tmp_path: Path) -> None:
    (load, _rewrites) = load_and_rewrites()
    older = RunRecord(load.runner, load.scenario, {}, load.environment, load.series[:2],
                      labels=dict(load.labels))  # fmt: skip
    write_report(tmp_path, [older])
    assert "recorded before sfperf joined each answer" in (tmp_path / "report.md").read_text()


def test_an_added_latency_below_zero_shows_as_zero_and_is_called_below_the_resolution(
    tmp_path: Path,
) -> None:
    # R91: a Go gateway's resilience run read "added_p50_ms -0.052": the clocks, not the gateway.
    load, _rewrites = load_and_rewrites()
    clocks = [s for s in load.series if s.name != "added_latency_ms"]
    clocks.append(make_series("added_latency_ms", "ms", [-0.3, -0.052, 0.2]))
    lean = RunRecord(load.runner, load.scenario, dict(load.params), load.environment,
                     tuple(clocks), labels=dict(load.labels))  # fmt: skip
    join = frames.join_table([lean])
    assert join["added_p50_ms"].tolist() == [0.0]
    assert join["added_p99_ms"].tolist() == [pytest.approx(0.195, abs=0.001)]
    write_report(tmp_path, [lean])
    assert "a figure under 1 ms is below what the join resolves" in (
        tmp_path / "report.md").read_text()  # fmt: skip
