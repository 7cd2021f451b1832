"""The validate pipeline's plan, bookkeeping and bad-input handling (nothing is measured here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import RunFailed
from harness.records import RunRecord, capture_environment, make_series
from harness.runners.support.interrupted import Interrupted, Keep
from harness.runners.support.openloop import MAX_OPEN_USERS
from harness.shutdown import Stopped
from harness.store import load_records
from harness.targets import TargetSpec
from harness.targets.discovery import ModelChoice
from harness.validate import (
    StepLog,
    ValidatePlan,
    exit_status,
    kept_in,
    load_plans,
    point_latest,
    rebase,
    report_title,
    run_step,
    run_validate,
    sweep_setup,
)


def test_the_default_plan_measures_every_reference_variant() -> None:
    plan = ValidatePlan()
    assert [t.variant for t in plan.targets] == [
        "sync-legacy", "sync-optimized", "async", "async-batching",
    ]  # fmt: skip
    assert plan.embedded
    assert not ValidatePlan(targets=(TargetSpec(url="http://127.0.0.1:1"),)).embedded


def test_the_lead_target_also_gets_streaming_and_an_open_loop() -> None:
    plan = ValidatePlan(quick=True)
    lead = load_plans(plan, lead=True)
    assert [(p.scenario, p.mode) for p in lead] == [
        ("steady", "closed"), ("streaming", "closed"), ("steady", "open"),
    ]  # fmt: skip
    assert [p.scenario for p in load_plans(plan, lead=False)] == ["steady"]
    assert all(p.duration_s == plan.load_duration_s for p in lead)


@pytest.mark.parametrize("quick", [True, False])
def test_the_open_loop_has_users_enough_to_keep_its_rate_through_a_slow_upstream(
    quick: bool,
) -> None:
    # The mock alone takes ~1 s a chat call: a user per request per second cannot keep the rate.
    plan = ValidatePlan(quick=quick)
    (open_loop,) = [p for p in load_plans(plan, lead=True) if p.mode == "open"]
    assert open_loop.rate_rps is not None
    assert open_loop.users >= min(MAX_OPEN_USERS, 3 * open_loop.rate_rps)
    assert open_loop.spawn_rate >= open_loop.users


def test_quick_runs_are_smaller_than_full_ones() -> None:
    quick, full = ValidatePlan(quick=True), ValidatePlan()
    assert quick.load_duration_s < full.load_duration_s
    assert quick.resilience_duration_s < full.resilience_duration_s


def test_artifacts_made_in_a_subdirectory_become_run_relative(tmp_path: Path) -> None:
    series = (make_series("latency_ms", "ms", [1.0]),)
    record = RunRecord("load", "steady", {}, capture_environment(), series, artifacts=("raw/a",))
    (rebased,) = rebase([record], tmp_path / "load" / "async", tmp_path)
    assert rebased.artifacts == ("load/async/raw/a",)


def test_a_failing_step_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    def broken(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        raise RuntimeError("the tool crashed")

    log, said = StepLog(), list[str]()
    run_step("micro", broken, ValidatePlan(), tmp_path, log, said.append)
    assert log.failed == ["micro"]
    assert "the tool crashed" in (tmp_path / "logs" / "validate-micro.txt").read_text()
    assert any("FAILED" in line for line in said)
    assert "PARTIAL: micro failed" in report_title(ValidatePlan(quick=True), log)


def test_latest_points_at_the_newest_run(tmp_path: Path) -> None:
    for name in ("run-1", "run-2"):
        (tmp_path / name).mkdir()
        point_latest(tmp_path / name)
    assert (tmp_path / "latest").resolve() == (tmp_path / "run-2").resolve()


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--ledger", "no-such-ledger.toml"],
        ["validate", "--target-url", "http://10.1.2.3:8000"],
        ["validate", "--target-url", "not a url"],
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[claim]]\nid = "x"\ntext = ""\n', "claim #1 (x): 'text' must be a non-empty string"),
        ("[[claim]\n", "cannot read claim ledger"),
    ],
)
def test_a_bad_ledger_is_one_line_and_exit_2_before_anything_starts(
    text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "mine.toml"
    ledger.write_text(text)
    # A target that cannot answer: were it contacted first, the error would be another.
    argv = ["validate", "--steps", "load", "--ledger", str(ledger), "--target-url"]
    assert main([*argv, "http://127.0.0.1:1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and str(ledger) in err
    assert not (tmp_path / "run").exists()


USER_TARGET = TargetSpec(url="http://127.0.0.1:1", command="python gw.py")


def test_a_user_target_without_a_working_model_skips_the_steps_that_would_send_it_requests(
    tmp_path: Path,
) -> None:
    from harness.targets.discovery import ModelChoice
    from harness.targets.probes import Probe

    none = ModelChoice(None, "none", ("m",), (Probe("m", 500, "boom"),))
    plan = ValidatePlan(targets=(USER_TARGET,), choices={USER_TARGET.name: none})
    assert plan.measurable == ()
    assert plan.skip_reason("load") == "no model works on launch:gw (see discover)"
    assert plan.skip_reason("micro") == ""

    def must_not_run(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        raise AssertionError("a skipped step ran")

    log = StepLog()
    run_step("resilience", must_not_run, plan, tmp_path, log, lambda message: None)
    assert log.skipped == ["resilience"] and log.failed == []
    assert "PARTIAL: resilience skipped" in report_title(plan, log)


def test_a_target_that_did_not_start_is_skipped_as_such_not_as_one_no_model_works_on() -> None:
    from harness.targets.discovery import ModelChoice

    failed = ModelChoice.failed("the target did not start: ...", "{name} did not start")
    plan = ValidatePlan(targets=(USER_TARGET,), choices={USER_TARGET.name: failed})
    assert plan.skip_reason("load") == "launch:gw did not start (see discover)"
    assert failed.as_params()["model_not_measured"] == "it did not start"


def test_references_are_sent_the_default_model_and_a_user_target_its_discovered_one() -> None:
    from harness.targets.discovery import DEFAULT_MODEL, ModelChoice

    assert ValidatePlan().choice_for(ValidatePlan().targets[0]).model == DEFAULT_MODEL
    chosen = ModelChoice("claude-haiku", "probe", ("claude-haiku",))
    plan = ValidatePlan(targets=(USER_TARGET,), choices={USER_TARGET.name: chosen})
    assert plan.choice_for(USER_TARGET).model == "claude-haiku"
    assert plan.measurable == (USER_TARGET,)


def test_a_step_refused_as_bad_input_is_a_failed_step_not_the_end_of_the_run(
    tmp_path: Path,
) -> None:
    from harness.errors import Unavailable, UsageError

    def refused(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        raise UsageError("launched target 'gw' exited with code 1 before it was ready")

    def missing(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        raise Unavailable("pyinstrument cannot be imported by the target's interpreter")

    log = StepLog()
    run_step("load", refused, ValidatePlan(), tmp_path, log, lambda message: None)
    run_step("profile", missing, ValidatePlan(), tmp_path, log, lambda message: None)
    assert log.failed == ["load"] and "exited with code 1" in str(log.steps[0]["error"])
    assert log.skipped == ["profile"] and "pyinstrument" in str(log.steps[1]["skipped"])


def test_a_profile_without_samples_of_the_processes_that_served_is_a_step_not_measured(
    tmp_path: Path,
) -> None:
    # R112: granian's worker served every request and left no samples; the load was kept.
    why = "the profiled target left no profile (no process that served left a profile: ...)"

    def empty_profile(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        return [RunRecord("profile", "gateway", {"profile_error": why}, capture_environment(),
                          (make_series("ok", "count", [1]),), labels={"variant": "launch:gw"},
                          partial=True)]  # fmt: skip

    log, said = StepLog(), list[str]()
    run_step("profile", empty_profile, ValidatePlan(), tmp_path, log, said.append)
    assert log.unmeasured == ["profile"] and log.failed == [] and exit_status(log) == 0
    assert log.steps[0]["not_measured"] == f"launch:gw: {why}" and log.steps[0]["records"] == 1
    assert "PARTIAL: profile not measured" in report_title(ValidatePlan(quick=True), log)
    assert any(line.startswith("[profile] not measured: launch:gw: ") for line in said)


@pytest.mark.parametrize(
    "argv",
    [["validate", "--model", "m"], ["validate", "--target-metrics", "/metrics"],
     ["validate", "--target-url", "http://127.0.0.1:1", "--target-metrics", "metrics"]],
)  # fmt: skip
def test_target_options_without_a_target_or_malformed_are_bad_input(
    argv: list[str], tmp_path: Path
) -> None:
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()


def test_unknown_step_names_are_refused_by_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["validate", "--steps", "load,nope", "--out", str(tmp_path / "run")])
    assert stopped.value.code == 2 and "steps are some of" in capsys.readouterr().err


def load_record(scenario: str, *, partial: bool = False) -> RunRecord:
    series = (make_series("latency_ms", "ms", [1.0]),)
    labels = {"target": "async", "mode": "closed"}
    return RunRecord("load", scenario, {}, capture_environment(), series, labels, partial=partial)


def test_a_stopped_step_saves_the_sub_runs_it_finished_and_the_one_it_was_in(
    tmp_path: Path,
) -> None:
    finished, cut_short = load_record("steady"), load_record("streaming", partial=True)

    def stopped(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        keep([finished])
        raise Interrupted([cut_short])

    log = StepLog()
    with pytest.raises(Interrupted):
        run_step("load", stopped, ValidatePlan(), tmp_path, log, lambda line: None)
    assert [r.run_id for r in load_records(tmp_path)] == [finished.run_id, cut_short.run_id]
    assert log.steps[0]["records"] == 2 and log.steps[0]["error"] == "stopped by SIGINT"


def test_a_step_whose_tool_crashed_keeps_what_it_measured_and_is_a_failed_step(
    tmp_path: Path,
) -> None:
    finished, crashed = load_record("steady"), load_record("streaming", partial=True)
    said = "streaming -> async: locust exited with code 1 after 3 request(s), kept: KeyError: 'x'"

    def crash() -> list[RunRecord]:
        raise RunFailed(said, [crashed])

    def crashing(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        keep([finished])
        return kept_in(keep, crash, list)

    log = StepLog()
    run_step("load", crashing, ValidatePlan(), tmp_path, log, lambda line: None)
    assert [r.run_id for r in load_records(tmp_path)] == [finished.run_id, crashed.run_id]
    assert log.steps[0]["records"] == 2 and log.steps[0]["error"] == f"RunFailed: {said}"
    assert exit_status(log) == 1


def test_a_stopped_run_still_writes_its_step_log_and_a_partial_report(tmp_path: Path) -> None:
    def measured(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        return [load_record("steady")]

    def stopped(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        raise KeyboardInterrupt

    def never(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        raise AssertionError("a step after the stop ran")

    steps = [("load", measured), ("sweep", stopped), ("profile", never)]
    run = tmp_path / "run"
    with pytest.raises(Stopped, match="kept 1 record"):
        run_validate(ValidatePlan(quick=True), run, say=lambda line: None, steps=steps)
    logged = json.loads((run / "steps.json").read_text())["steps"]
    assert [(s["step"], s.get("error")) for s in logged] == [
        ("load", None), ("sweep", "stopped by SIGINT"), ("profile", "not run (stopped by SIGINT)"),
    ]  # fmt: skip
    report = (run / "report.md").read_text()
    assert "PARTIAL: stopped by SIGINT; completed: load" in report
    # the user's signal stopped them: not the steps' failures
    assert "stopped by SIGINT: sweep; not run: profile" in report
    assert "failed steps" not in report and "Steps that failed" not in report


def test_a_broken_ledger_is_a_failed_step_and_the_report_is_still_written(tmp_path: Path) -> None:
    def measured(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        return [load_record("steady")]

    ledger = tmp_path / "mine.toml"
    ledger.write_text("[[claim]\n")
    run = tmp_path / "run"
    log = run_validate(ValidatePlan(quick=True, ledger=ledger), run, say=lambda line: None,
                       steps=[("load", measured)])  # fmt: skip
    assert log.failed == ["claims"]
    assert "PARTIAL: claims failed" in (run / "report.md").read_text()
    assert [s["step"] for s in json.loads((run / "steps.json").read_text())["steps"]] == [
        "load", "claims",
    ]  # fmt: skip


def test_a_renderer_that_breaks_leaves_a_bare_report_and_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def measured(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        return [load_record("steady")]

    def broken_renderer(*args: object, **kwargs: object) -> list[Path]:
        raise KeyError("requests")

    monkeypatch.setattr("reports.render.write_report", broken_renderer)
    run = tmp_path / "run"
    log = run_validate(ValidatePlan(quick=True), run, say=lambda line: None,
                       steps=[("load", measured)])  # fmt: skip
    assert log.failed == ["report"]
    report = (run / "report.md").read_text()
    assert "PARTIAL: report failed" in report
    assert "| report | 0 | 0.0 | KeyError: 'requests' |" in report
    assert "All 1 record(s) are in results.json" in report
    assert "KeyError" in (run / "logs" / "validate-report.txt").read_text()
    assert (run / "index.html").is_file() and len(load_records(run)) == 1


def test_a_renderer_that_cannot_even_be_imported_still_leaves_the_step_log_and_a_bare_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def measured(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        return [load_record("steady")]

    # What an editable install moved under a long run does to the end's imports (R71).
    monkeypatch.setitem(sys.modules, "reports.render", None)
    run = tmp_path / "run"
    log = run_validate(ValidatePlan(quick=True), run, say=lambda line: None,
                       steps=[("load", measured)])  # fmt: skip
    assert log.failed == ["report"]
    assert "PARTIAL: report failed" in (run / "report.md").read_text()
    logged = json.loads((run / "steps.json").read_text())["steps"]
    assert [(s["step"], "ModuleNotFoundError" in str(s.get("error"))) for s in logged] == [
        ("load", False), ("report", True),
    ]  # fmt: skip
    assert len(load_records(run)) == 1


def test_the_modules_the_end_of_a_run_needs_are_imported_before_its_first_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reports

    monkeypatch.delitem(sys.modules, "reports.render", raising=False)
    monkeypatch.delattr(reports, "render", raising=False)
    imported_at_start: list[bool] = []

    def measured(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
        imported_at_start.append("reports.render" in sys.modules)
        return []

    run_validate(ValidatePlan(quick=True), tmp_path / "run", say=lambda line: None,
                 steps=[("load", measured)])  # fmt: skip
    assert imported_at_start == [True]


def test_a_skipped_step_is_no_failure_but_a_failed_one_is() -> None:
    skipped = StepLog([{"step": "profile", "skipped": "no pyinstrument in the target's python"}])
    failed = StepLog([{"step": "load", "error": "RuntimeError: the tool crashed"}])
    assert exit_status(StepLog()) == exit_status(skipped) == 0
    assert exit_status(failed) == 1


def test_the_sweep_sends_a_target_the_model_discover_chose_without_probing_again() -> None:
    # R14: a gateway with a reply cache answered the sweep's second probe from it.
    spec = TargetSpec(url="http://127.0.0.1:1")
    choice = ModelChoice("own-model", "probe", served=("own-model",))
    plan = ValidatePlan(quick=True, targets=(spec,), choices={spec.name: choice})
    sweep, specs, chosen = sweep_setup(plan)
    assert [t.name for t in sweep.targets] == list(specs) == [spec.name]
    assert chosen == {spec.name: choice}


def test_a_running_target_is_a_profile_skipped_with_the_reason_not_a_silent_nothing(
    tmp_path: Path,
) -> None:
    from harness.errors import Unavailable
    from harness.validate import profiling_step

    running = TargetSpec(url="http://127.0.0.1:8000")
    plan = ValidatePlan(targets=(running,))
    with pytest.raises(Unavailable, match=r"a running target cannot be profiled.*--launch"):
        profiling_step(plan, tmp_path, lambda records: None)


def test_only_the_subjects_a_claim_compares_take_the_further_rounds(tmp_path: Path) -> None:
    embedded, _, _ = sweep_setup(ValidatePlan(quick=True))
    assert embedded.rounds == 4
    assert embedded.rounds_for == (
        "async-batching", "gateway:async", "gateway:sync-optimized", "sync-wrapper",
    )  # fmt: skip
    spec = TargetSpec(url="http://127.0.0.1:1")
    beside, _, _ = sweep_setup(ValidatePlan(quick=True, targets=(spec,)))
    assert beside.rounds_for == ("gateway:async", "gateway:sync-optimized")  # the yardsticks
    ledger = tmp_path / "no-sweep.toml"
    ledger.write_text(
        '[[claim]]\nid = "x"\ntext = "x"\nworkload = "sfperf micro"\nexpect = { at_most = 1 }\n'
        '[claim.metric]\nrunner = "micro"\nscenario = "extract-paths"\nseries = "lookups"\n'
        'statistic = "mean"\n'
    )
    uncompared, _, _ = sweep_setup(ValidatePlan(quick=True, ledger=ledger))
    assert uncompared.rounds == 1
