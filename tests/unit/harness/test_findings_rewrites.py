"""What a gateway did to the requests: the rewrite summary and its findings."""

from __future__ import annotations

from typing import Any

import pytest

from harness.findings import Severity
from harness.findings.model_names import model_family
from harness.findings.rewrites import Ask, grade_rewrites, rewrite_summary
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
        "asked_family": "GPT", "sent_family": "GPT", "change": None, "swapped": False,
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


def test_another_model_than_the_models_api_name_the_client_gave_is_a_swap_in_the_family() -> None:
    # A silent downgrade: the client named GPT-4 Omni exactly, the gateway sent the mini one.
    omni, mini = "sfdc_ai__DefaultGPT4Omni", "sfdc_ai__DefaultOpenAIGPT4OmniMini"
    exact, alias = Ask(omni, system_text="Be brief."), Ask("gpt-4o", system_text="Be brief.")
    (found,) = grade_rewrites([call(m, model=mini) for m in MARKERS], exact)
    assert (found.name, found.severity, found.count) == ("model_swapped", Severity.WARN, 4)
    said = f"asked for {omni!r} (GPT); the gateway sent it to {mini} (a smaller model of the GPT"
    assert said in found.explanation
    assert "a silent downgrade" in found.explanation
    (row,) = rewrite_summary([call(m, model=mini) for m in MARKERS], exact)["models"]
    assert row["swapped"] is True
    # Sent as named, or a gateway's own alias mapped within its family: no swap.
    assert grade_rewrites([call(m, model=omni) for m in MARKERS], exact) == []
    assert grade_rewrites([call(m, model=omni) for m in MARKERS], alias) == []


def test_an_alias_sent_to_a_smaller_model_of_its_family_is_a_silent_downgrade() -> None:
    # R100: `gpt-4o` sent upstream as GPT-4o mini, with no listing that says what it stands for.
    omni, mini = "sfdc_ai__DefaultGPT4Omni", "sfdc_ai__DefaultOpenAIGPT4OmniMini"
    alias = Ask("gpt-4o", system_text="Be brief.")
    (found,) = grade_rewrites([call(m, model=mini) for m in MARKERS], alias)
    assert (found.name, found.severity, found.count) == ("model_swapped", Severity.WARN, 4)
    said = (f"'gpt-4o' (GPT); the gateway sent it to {mini} (a smaller model of the GPT family "
            "than the name says: a silent downgrade)")  # fmt: skip
    assert said in found.explanation
    (row,) = rewrite_summary([call(m, model=mini) for m in MARKERS], alias)["models"]
    assert (row["change"], row["swapped"]) == ("a smaller model", True)
    # The gateway's own alias for the very model it names is no rewrite to speak of.
    assert grade_rewrites([call(m, model=omni) for m in MARKERS], alias) == []
    assert (
        grade_rewrites(
            [call(m, model=mini) for m in MARKERS], Ask("sf-fast", system_text="Be brief.")
        )
        == []
    )


def test_an_alias_the_gateways_own_listing_maps_to_one_model_is_held_to_that_model() -> None:
    omni, mini = "sfdc_ai__DefaultGPT4Omni", "sfdc_ai__DefaultOpenAIGPT4OmniMini"
    listed = Ask("gpt-4o", system_text="Be brief.", stands_for=omni)
    (found,) = grade_rewrites([call(m, model=mini) for m in MARKERS], listed)
    assert found.name == "model_swapped"
    said = f"'gpt-4o' (GPT), which its /v1/models says is {omni}; the gateway sent it to {mini}"
    assert said in found.explanation
    assert grade_rewrites([call(m, model=omni) for m in MARKERS], listed) == []


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


def test_a_merged_finding_said_with_other_figures_per_window_says_whose_figures_it_shows() -> None:
    # R128: no_connection_reuse "139" beside "26 Models requests over 26 connections".
    from harness.findings import Finding, findings_of, findings_record

    def graded(window: str, count: int) -> RunRecord:
        said = f"{count} Models requests over {count} connections."
        return findings_record([Finding("no_connection_reuse", Severity.WARN, count, (), said)],
                               "gw", labels={"window": window})  # fmt: skip

    (merged,) = findings_of([graded("steady-closed", 26), graded("steady-open", 113)])
    assert merged.explanation == (
        "26 Models requests over 26 connections (its figures are steady-closed's; the count, "
        "139, adds up both windows)"
    )
    (same,) = findings_of([graded("steady-closed", 26), graded("steady-open", 26)])
    assert same.explanation == "26 Models requests over 26 connections."


def timed(marker: str, seq: int, t_s: float, duration_s: float, **fields: Any) -> dict[str, Any]:
    return call(marker, seq=seq, request_id=f"r-{seq}", t_s=t_s, duration_s=duration_s,
                **({"status": 200} | fields))  # fmt: skip


def test_a_second_upstream_call_after_an_answered_first_is_named_with_its_endpoints() -> None:
    entries = [
        call_
        for n, marker in enumerate(MARKERS)
        for call_ in (timed(marker, 2 * n, 10.0 * n, 1.0),
                      timed(marker, 2 * n + 1, 10.0 * n + 1.01, 1.0))
    ]  # fmt: skip
    (found,) = grade_rewrites(entries, ASK)
    assert (found.name, found.severity, found.count) == ("extra_upstream_calls", Severity.WARN, 4)
    assert "(each 2 calls: chat-generations, chat-generations; counted: the extra calls)" in (
        found.explanation
    )
    assert "1,000 ms more of the upstream's time per request" in found.explanation
    assert rewrite_summary(entries, ASK)["several_calls"] == [
        {"endpoints": "chat-generations, chat-generations", "calls": 2, "extra": 1, "requests": 4}
    ]


def test_a_retry_after_a_failed_or_abandoned_call_is_no_extra_call_but_a_hedge_is() -> None:
    retried = [
        timed(MARKERS[0], 1, 0.0, 0.1, status=429),
        timed(MARKERS[0], 2, 0.5, 1.0),
        timed(MARKERS[2], 5, 0.0, 0.3, disconnected=True),
        timed(MARKERS[2], 6, 0.28, 1.0),
    ]
    hedged = [timed(MARKERS[1], 3, 0.0, 1.0, status=503), timed(MARKERS[1], 4, 0.2, 1.0)]
    found = grade_rewrites(retried + hedged, ASK)
    assert [(f.name, f.count, f.examples) for f in found] == [("extra_upstream_calls", 1, ("r-4",))]
    assert {r["extra"] for r in rewrite_summary(retried, ASK)["several_calls"]} == {0}


def test_the_gateway_ledger_refutes_one_call_per_request_on_a_gateway_that_calls_twice() -> None:
    from harness.claims import evaluate_claim, load_ledger
    from harness.findings import findings_record
    from harness.findings.rewrites import REWRITE_FINDINGS
    from scenarios import scenario_path

    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    (claim,) = [c for c in ledger.claims if c.id == "gw-one-upstream-call"]
    twice = [timed(m, 2 * n + k, 10.0 * n + 1.01 * k, 1.0) for n, m in enumerate(MARKERS)
             for k in (0, 1)]  # fmt: skip
    for entries, verdict, calls in ((twice, "refuted", 4), (twice[::2], "holds", 0)):
        found = grade_rewrites(entries, ASK)
        record = findings_record(found, "gw", scenario="rewrites", names=REWRITE_FINDINGS)
        result = evaluate_claim(claim, [record])
        assert (result.verdict, result.value) == (verdict, calls)


def flattened(marker: str, prompt: str | None) -> dict[str, Any]:
    head = None if prompt is None else prompt.replace("MARKER", marker)
    return call(marker, endpoint="generations", system_text=None, prompt_head=head)


@pytest.mark.parametrize(
    ("prompt", "text", "change"),
    [("System: You are Acme's assistant.\nSystem: Be brief.\nUser: hi (MARKER)\nAssistant:",
      "System: You are Acme's assistant.", "added"),
     ("### System:\nAcme rules.\n### User:\nhi (MARKER)", "### System:\nAcme rules.", "replaced"),
     ("system: Be brief.\nuser: hi (MARKER)", "Be brief.", "as sent"),
     ("User: hi (MARKER)", "", "dropped"),
     (None, "", "not separable")],
)  # fmt: skip
def test_the_system_text_of_a_chat_flattened_into_a_prompt_is_told_apart_from_the_clients(
    prompt: str | None, text: str, change: str
) -> None:
    entries = [flattened(m, prompt) for m in MARKERS]
    assert rewrite_summary(entries, ASK)["system_text"] == [
        {"text": text, "requests": 4, "change": change}
    ]
    found = {f.name: f for f in grade_rewrites(entries, ASK) if f.name != "endpoint_changed"}
    named = {"added": "system_text_added", "replaced": "system_text_added",
             "dropped": "system_text_dropped"}  # fmt: skip
    assert set(found) == ({named[change]} if change in named else set())
    if "system_text_added" in found:
        assert repr(text) in found["system_text_added"].explanation


def test_calls_that_carried_a_changed_user_message_are_a_warning_counting_requests() -> None:
    entries = [call(m) for m in MARKERS]
    found = grade_rewrites(entries, ASK, changed=entries[1:3])
    assert [(f.name, f.severity, f.count) for f in found] == [
        ("user_text_changed", Severity.WARN, 2)
    ]
    assert "for 2 requests" in found[0].explanation and "latin-1" in found[0].explanation
