"""What a gateway did to the requests: the rewrite summary and its findings."""

from __future__ import annotations

from typing import Any

import pytest

from harness.findings import Severity
from harness.findings.rewrites import Ask, grade_rewrites, model_family, rewrite_summary
from harness.records import RunRecord

ASK = Ask("gpt-4o-mini", "chat-completions", "Be brief.")


def call(marker: str, **fields: Any) -> dict[str, Any]:
    return {
        "seq": int(marker[-2:], 16), "request_id": f"r-{marker}", "markers": [marker],
        "endpoint": "chat-generations", "model": "sfdc_ai__DefaultGPT4OmniMini",
        "system_text": "Be brief.", "extra_fields": [],
    } | fields  # fmt: skip


MARKERS = [f"sfpm{n:016x}" for n in range(1, 5)]


@pytest.mark.parametrize(
    ("name", "family"),
    [("gpt-4o-mini", "GPT"), ("sfdc_ai__DefaultOpenAIGPT4OmniMini", "GPT"),
     ("sfdc_ai__DefaultBedrockAnthropicClaude3Haiku", "Claude"), ("claude-haiku", "Claude"),
     ("sfdc_ai__DefaultVertexAIGemini25Flash001", "Gemini"), ("sfdc_ai__DefaultO4Mini", "GPT"),
     ("my-own-model", None)],
)  # fmt: skip
def test_model_families_are_read_from_either_kind_of_name(name: str, family: str | None) -> None:
    assert model_family(name) == family


def test_a_gateway_that_passes_requests_on_as_asked_has_no_rewrite_finding() -> None:
    entries = [call(m) for m in MARKERS]
    assert grade_rewrites(entries, ASK) == []
    summary = rewrite_summary(entries, ASK)
    assert summary["models"][0] == {
        "asked": "gpt-4o-mini", "sent": "sfdc_ai__DefaultGPT4OmniMini", "requests": 4,
        "asked_family": "GPT", "sent_family": "GPT", "swapped": False,
    }  # fmt: skip
    assert summary["system_text"] == [{"text": "Be brief.", "requests": 4, "change": "as sent"}]


def test_the_rewrites_of_a_flattening_rerouting_gateway_are_each_named() -> None:
    claude = "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"
    entries = [call(m, endpoint="generations", model=claude, system_text=None,
                    extra_fields=["max Tokens"]) for m in MARKERS]  # fmt: skip
    found = {f.name: f for f in grade_rewrites(entries, ASK)}
    assert set(found) == {"model_swapped", "endpoint_changed", "ignored_fields"}
    assert all(f.severity is Severity.WARN and f.count == 4 for f in found.values())
    assert claude in found["model_swapped"].explanation
    assert "flattened" in found["endpoint_changed"].explanation
    assert "`max Tokens` (meaning max_tokens?)" in found["ignored_fields"].explanation
    summary = rewrite_summary(entries, ASK)
    assert summary["endpoints"] == [
        {"asked": "chat-completions", "sent": "generations", "requests": 4, "changed": True}
    ]
    assert summary["parameters"] == [{"field": "max Tokens", "requests": 4, "means": "max_tokens"}]


def test_system_text_added_or_dropped_on_chat_calls_is_named() -> None:
    added = [call(m, system_text="House rules.\nBe brief.") for m in MARKERS[:2]]
    dropped = [call(m, system_text=None) for m in MARKERS[2:]]
    found = {f.name: f for f in grade_rewrites(added + dropped, ASK)}
    assert found["system_text_added"].severity is Severity.INFO
    assert "House rules." in found["system_text_added"].explanation
    assert found["system_text_dropped"].count == 2
    changes = {r["change"] for r in rewrite_summary(added + dropped, ASK)["system_text"]}
    assert changes == {"added", "dropped"}


def test_requests_are_counted_once_however_many_calls_they_took() -> None:
    entries = [call(MARKERS[0]), call(MARKERS[0]) | {"seq": 9}, call(MARKERS[1])]
    summary = rewrite_summary(entries, ASK)
    assert (summary["requests"], summary["calls"]) == (2, 3)
    assert summary["models"][0]["requests"] == 2


def test_findings_of_several_windows_are_one_row_each_with_the_counts_summed() -> None:
    from harness.findings import findings_of, findings_record

    claude = "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"
    windows = [
        findings_record(grade_rewrites([call(m, model=claude)], ASK), "gw", scenario="rewrites")
        for m in MARKERS[:3]
    ]
    (merged,) = findings_of(windows)
    assert (merged.name, merged.count, len(merged.examples)) == ("model_swapped", 3, 3)


def test_a_finding_seen_in_every_window_is_one_row_with_its_total_and_the_windows() -> None:
    from harness.findings import Finding, findings_of, findings_record

    def graded(window: str, count: int) -> RunRecord:
        found = Finding("ignored_fields", Severity.WARN, count, (f"{window}-1",), "max Tokens")
        return findings_record([found], "gw", labels={"window": window})

    windows = ("steady-closed", "streaming-closed", "ramp-closed", "resilience")
    counts = (20, 20, 59, 254)
    (merged,) = findings_of([graded(w, n) for w, n in zip(windows, counts, strict=True)])
    assert (merged.count, merged.windows) == (353, windows)
    assert findings_of([graded("steady-closed", 1)] * 2)[0].windows == ("steady-closed",)
