"""The resilience scenario's plan: phases, token lifetime and hang length for a run's duration."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.findings import GradingPolicy
from harness.findings.journal import JournalRead
from harness.records import RunRecord, capture_environment
from harness.runners import resilience
from harness.runners.load import LoadPlan, LoadTarget
from harness.runners.resilience import process_count, reference_refresh_buffer_s, run_resilience
from harness.runners.support.interrupted import Interrupted
from harness.runners.support.loadrows import Row, format_row
from harness.targets import TargetSpec
from mock_salesforce.faults import parse_fault
from scenarios.load.resilience_plan import resilience_plan


@pytest.mark.parametrize("duration_s", [5.0, 10.0, 130.0, 600.0])
def test_every_phase_starts_in_order_inside_the_run_with_faults_the_mock_accepts(
    duration_s: float,
) -> None:
    plan = resilience_plan(duration_s)
    starts = [phase.start_s for phase in plan.phases]
    assert starts == sorted(starts)
    assert starts[0] >= 0.0 and starts[-1] < duration_s
    for phase in plan.phases:
        for spec in phase.faults:
            # Whichever text endpoint a gateway turns a chat completion into.
            assert set(parse_fault(spec).endpoints) == {"chat-generations", "generations"}


@pytest.mark.parametrize("duration_s", [5.0, 10.0, 130.0, 600.0])
def test_hangs_end_before_the_run_does_so_the_journal_sees_them(duration_s: float) -> None:
    plan = resilience_plan(duration_s)
    assert plan.phases[-1].start_s + plan.hang_s < duration_s


@pytest.mark.parametrize("duration_s", [10.0, 600.0])
def test_the_token_lifetime_is_crossed_at_least_twice(duration_s: float) -> None:
    plan = resilience_plan(duration_s)
    assert duration_s / plan.token_lifetime_s >= 2.0
    assert reference_refresh_buffer_s(plan) < plan.token_lifetime_s / 2


def test_only_a_full_run_hangs_long_enough_to_prove_a_missing_read_timeout() -> None:
    hang_wait_s = GradingPolicy().hang_wait_s
    assert not resilience_plan(10.0).proves_read_timeout(hang_wait_s)
    assert resilience_plan(130.0).proves_read_timeout(hang_wait_s)


def test_the_phases_provoke_a_429_burst_with_retry_after_an_outage_and_hangs() -> None:
    rules = [parse_fault(s) for p in resilience_plan(60.0).phases for s in p.faults]
    labels = {rule.fault.label for rule in rules}
    assert labels == {"429", "503", "hang"}
    assert any(rule.fault.retry_after_s == 1.0 for rule in rules)


def fake_record(partial: bool) -> RunRecord:
    return RunRecord("load", "resilience", {}, capture_environment(), (), partial=partial)


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The mock, the target and the journal replaced by stand-ins; returns the sleeps taken."""

    @contextlib.contextmanager
    def target(*_: Any) -> Iterator[LoadTarget]:
        yield LoadTarget("gw", "http://gw", "http://mock")

    journal = [{"seq": 1, "endpoint": "chat-generations", "status": 200, "app_context": None}]
    monkeypatch.setattr(resilience, "_resilience_target", target)
    monkeypatch.setattr(
        resilience, "fetch_journal", lambda *_, **__: JournalRead(tuple(journal), 0, False)
    )
    return []


def test_a_resilience_run_returns_the_load_record_and_a_graded_verdict(
    stand_ins: list[float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(resilience, "run_load", lambda *_, **__: [fake_record(False)])
    load, tokens, verdict = run_resilience(
        TargetSpec(variant="async"), tmp_path, duration_s=10.0, sleep=stand_ins.append
    )
    assert load.runner == "load"
    assert (tokens.runner, tokens.labels["window"]) == ("card", "resilience")
    assert verdict.get("finding:bad_app_context").values == (1.0,)
    assert not verdict.partial
    assert stand_ins == [resilience.JOURNAL_SETTLE_S]
    assert (tmp_path / "journal-gw.jsonl").is_file()


def test_ctrl_c_during_the_load_still_grades_and_carries_every_record_marked_partial(
    stand_ins: list[float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def interrupted(*_: Any, **__: Any) -> list[RunRecord]:
        raise Interrupted([fake_record(True)])

    monkeypatch.setattr(resilience, "run_load", interrupted)
    with pytest.raises(Interrupted) as stop:
        run_resilience(TargetSpec(variant="async"), tmp_path, duration_s=10.0, sleep=lambda _: None)
    load, tokens, verdict = stop.value.records
    assert load.partial and tokens.partial and verdict.partial
    assert verdict.get("finding:bad_app_context").values == (1.0,)


def test_the_upstream_is_calm_between_the_faults_and_in_the_hangs_aimed_at_the_first_calls(
) -> None:  # fmt: skip
    calm = {(p.name, p.calm) for p in resilience_plan(60.0).phases}
    assert calm == {("calm", True), ("429 burst", False), ("503 outage", False), ("hangs", True)}


def test_the_target_processes_are_those_the_launch_shim_heard_from() -> None:
    workers = LoadTarget("t", "http://x", io_snapshot=lambda _: {"pids": [10, 11, 12, 13]})
    assert process_count(workers) == 4
    assert process_count(LoadTarget("t", "http://x")) is None  # not launched under the shim


@pytest.mark.parametrize("spec", [TargetSpec(command="python app.py"), TargetSpec(variant="async")])
def test_the_mock_of_a_run_that_starts_the_target_issues_short_lived_tokens_from_the_first_one(
    spec: TargetSpec, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A gateway that fetches its token at start-up and never refreshes must see it expire.
    mock_args: list[tuple[str, ...]] = []

    @contextlib.contextmanager
    def mock(*_: Any, args: tuple[str, ...] = (), **__: Any) -> Iterator[Any]:
        mock_args.append(tuple(args))
        yield type("Service", (), {"url": "http://mock"})()

    @contextlib.contextmanager
    def target(*_: Any, **__: Any) -> Iterator[Any]:
        yield type("Running", (), {"name": "gw", "url": "http://gw", "headers": ()})()

    monkeypatch.setattr(resilience, "start_mock", mock)
    monkeypatch.setattr(resilience, "open_target", target)
    monkeypatch.setattr(resilience, "_reference_gateway", target)
    monkeypatch.setattr(LoadTarget, "of", staticmethod(lambda *_, **__: None))
    plan = resilience_plan(10.0)
    with resilience._resilience_target(spec, tmp_path, plan, 1, ""):
        pass
    assert mock_args == [("--token-lifetime", f"{plan.token_lifetime_s:g}")]


def test_the_load_of_a_resilience_run_takes_the_model_the_targets_listing_maps_to(
    stand_ins: list[float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plans: list[LoadPlan] = []

    def load(plan: LoadPlan, *_: Any, **__: Any) -> list[RunRecord]:
        plans.append(plan)
        return [fake_record(False)]

    monkeypatch.setattr(resilience, "run_load", load)
    run_resilience(TargetSpec(variant="async"), tmp_path, duration_s=10.0, model="gpt-4o",
                   model_upstream="sfdc_ai__DefaultGPT4Omni", sleep=stand_ins.append)  # fmt: skip
    assert [(p.model, p.model_upstream) for p in plans] == [("gpt-4o", "sfdc_ai__DefaultGPT4Omni")]


def test_a_throttled_call_is_graded_with_what_the_client_got_for_its_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    @contextlib.contextmanager
    def target(*_: Any) -> Iterator[LoadTarget]:
        yield LoadTarget("gw", "http://gw", "http://mock")

    throttled = {"seq": 1, "request_id": "r1", "endpoint": "chat-generations", "status": 429,
                 "retry_after_s": 1.0, "t_s": 0.0, "markers": ["m1"], "app_context": "EinsteinGPT",
                 "feature_id": "ai-platform-models-connected-app"}  # fmt: skip
    monkeypatch.setattr(resilience, "_resilience_target", target)
    monkeypatch.setattr(resilience, "fetch_journal",
                        lambda *_, **__: JournalRead((throttled,), 0, False))  # fmt: skip
    (tmp_path / "raw").mkdir()
    row = Row("chat", 0.0, 0.0, 5.0, 429, False, marker="m1", retry_after="1")
    (tmp_path / "raw" / "requests-local-h-1.tsv").write_text(format_row(row))
    load = replace(fake_record(False), params={"raw_rows": "raw"})
    monkeypatch.setattr(resilience, "run_load", lambda *_, **__: [load])
    *_, verdict = run_resilience(TargetSpec(variant="async"), tmp_path, duration_s=10.0,
                                 sleep=lambda _: None)  # fmt: skip
    assert verdict.get("finding:passed_on_retryable").values == (1.0,)
    assert verdict.get("finding:gave_up").values == (0.0,)


def test_the_load_record_counts_the_fault_phases_no_call_met_for_its_claims(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # R116: the 503 outage's only call was refused 401 before its fault.
    @contextlib.contextmanager
    def target(*_: Any) -> Iterator[LoadTarget]:
        yield LoadTarget("gw", "http://gw", "http://mock")

    refused = {"seq": 1, "endpoint": "chat-generations", "status": 401, "t_s": 11.0}
    monkeypatch.setattr(resilience, "_resilience_target", target)
    monkeypatch.setattr(resilience, "fetch_journal",
                        lambda *_, **__: JournalRead((refused,), 0, False))  # fmt: skip
    monkeypatch.setattr(resilience, "mock_epoch_s", lambda _: 100.0)
    phases = [{"name": "calm", "start_s": 100.0, "calm": True, "injects": False},
              {"name": "503 outage", "start_s": 110.0, "calm": False, "injects": True}]  # fmt: skip
    load = replace(fake_record(False), params={"phases": phases})
    monkeypatch.setattr(resilience, "run_load", lambda *_, **__: [load])
    graded, _, verdict = run_resilience(TargetSpec(variant="async"), tmp_path, duration_s=10.0,
                                        sleep=lambda _: None)  # fmt: skip
    assert graded.get("fault_phases_untested").values == (1.0,)
    assert verdict.params["faults_unmet"] == ["503 outage (401 x1)"]
    assert verdict.params["not_exercised"] == ["calm"]


def test_a_users_gateway_is_sent_the_model_discovery_chooses_on_it_before_the_graded_journal(
    stand_ins: list[float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # R138: `verdict --scenario resilience --target-url` sent gpt-4o-mini to a gateway serving
    # only sfdc_ai__ names, and blamed it for every 404.
    from harness.targets.discovery import ModelChoice

    events: list[str] = []
    haiku = "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"

    def discover(url: str, **_: Any) -> ModelChoice:
        events.append("discover")
        return ModelChoice(haiku, "probe", (haiku,))

    def journal(*_: Any, **__: Any) -> JournalRead:
        events.append("journal")
        return JournalRead(({"seq": 1, "endpoint": "chat-generations", "status": 200},), 0, False)

    plans: list[LoadPlan] = []
    monkeypatch.setattr(resilience, "discover_model", discover)
    monkeypatch.setattr(resilience, "fetch_journal", journal)

    def load(plan: LoadPlan, *_: Any, **__: Any) -> list[RunRecord]:
        plans.append(plan)
        return [fake_record(False)]

    monkeypatch.setattr(resilience, "run_load", load)
    run_resilience(TargetSpec(url="http://127.0.0.1:1"), tmp_path, duration_s=10.0,
                   model=None, sleep=stand_ins.append)  # fmt: skip
    assert [p.model for p in plans] == [haiku]
    assert events[0] == "discover"  # its probes are not graded


def test_a_gateway_no_model_works_on_is_not_graded(
    stand_ins: list[float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from harness.errors import UsageError
    from harness.targets.discovery import ModelChoice
    from harness.targets.probes import Probe

    none = ModelChoice(None, "none", ("m",), (Probe("m", 404, "model not found"),))
    monkeypatch.setattr(resilience, "discover_model", lambda *_, **__: none)
    monkeypatch.setattr(resilience, "run_load", lambda *_, **__: pytest.fail("load ran"))
    with pytest.raises(UsageError, match=r"model not found; nothing graded \(pass --model NAME\)"):
        run_resilience(TargetSpec(url="http://127.0.0.1:1"), tmp_path, duration_s=10.0,
                       model=None, sleep=stand_ins.append)  # fmt: skip


def test_a_phase_answered_by_the_target_alone_is_not_said_to_have_held_its_clients(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # R141: a circuit breaker answered the calm phase itself; the calls came before it.
    @contextlib.contextmanager
    def target(*_: Any) -> Iterator[LoadTarget]:
        yield LoadTarget("gw", "http://gw", "http://mock")

    early = {"seq": 1, "endpoint": "chat-generations", "status": 429, "t_s": 1.0}
    monkeypatch.setattr(resilience, "_resilience_target", target)
    monkeypatch.setattr(resilience, "fetch_journal",
                        lambda *_, **__: JournalRead((early,), 0, False))  # fmt: skip
    monkeypatch.setattr(resilience, "mock_epoch_s", lambda _: 100.0)
    (tmp_path / "raw").mkdir()
    refused = [Row("chat", t, t, 2.0, 502, False, body="circuit breaker is open") for t in
               (111.0, 112.0)]  # fmt: skip
    (tmp_path / "raw" / "requests-local-h-1.tsv").write_text("".join(map(format_row, refused)))
    phases = [{"name": "429 burst", "start_s": 100.0, "calm": False, "injects": True},
              {"name": "calm", "start_s": 110.0, "calm": True, "injects": False}]  # fmt: skip
    load = replace(fake_record(False), params={"phases": phases, "raw_rows": "raw"})
    monkeypatch.setattr(resilience, "run_load", lambda *_, **__: [load])
    *_, verdict = run_resilience(TargetSpec(variant="async"), tmp_path, duration_s=10.0,
                                 sleep=lambda _: None)  # fmt: skip
    assert verdict.params["not_exercised"] == []
    assert verdict.params["answered_itself"] == ["calm (502 x2 of 2: circuit breaker is open)"]
