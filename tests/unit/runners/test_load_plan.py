"""The load runner's pure parts: plans, locust command lines, shapes, and records from raw rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.records import RunRecord, capture_environment
from harness.runners.load import (
    SCENARIOS,
    STOP_GRACE_S,
    LoadPlan,
    LoadTarget,
    drive,
    load_record,
    locust_commands,
    locust_env,
    locustfile_for,
    mock_args_for,
    work_dir_for,
)
from harness.runners.support.loadrows import Row, format_row
from scenarios.load._shapes import ramp_users, spike_users
from tests.conftest import FakeClock

TARGET = LoadTarget("async", "http://127.0.0.1:9000", mock_url="http://127.0.0.1:9001")


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_named_scenario_has_a_locustfile() -> None:
    for name in SCENARIOS:
        assert locustfile_for(name).is_file()


def test_only_the_resilience_scenario_asks_its_mock_for_short_lived_tokens_from_the_start(
) -> None:  # fmt: skip
    quick = LoadPlan("resilience", duration_s=10.0)
    assert mock_args_for(quick) == ("--token-lifetime", "3.3")
    by_path = LoadPlan(str(locustfile_for("resilience")), duration_s=240.0)
    assert mock_args_for(by_path) == ("--token-lifetime", "80")
    assert mock_args_for(LoadPlan("steady", duration_s=10.0)) == ()


def test_a_user_locustfile_path_is_accepted_and_unknown_names_are_refused(tmp_path: Path) -> None:
    mine = tmp_path / "mine.py"
    mine.write_text("")
    assert locustfile_for(str(mine)) == mine.resolve()
    with pytest.raises(UsageError, match="unknown scenario 'nope'"):
        locustfile_for("nope")
    with pytest.raises(UsageError):
        locustfile_for("_sfperf")  # helpers are not scenarios


def test_plans_refuse_nonsense_as_usage_errors() -> None:
    with pytest.raises(UsageError):
        LoadPlan("steady", users=0)
    with pytest.raises(UsageError, match="--rate"):
        LoadPlan("steady", rate_rps=-1.0)
    with pytest.raises(UsageError, match="--arrival"):
        LoadPlan("steady", rate_rps=5.0, arrival="bursty")


def test_a_closed_loop_run_is_one_headless_locust_writing_raw_rows(tmp_path: Path) -> None:
    (command,) = locust_commands(LoadPlan("steady", users=3, duration_s=2.5), TARGET, tmp_path, 0)
    assert command[1:3] == ["-m", "locust"] and "--headless" in command
    assert option(command, "-H") == TARGET.url
    assert option(command, "-u") == "3"
    assert option(command, "-t") == "3s"  # locust takes whole seconds: rounded up
    assert option(command, "--sfperf-out") == str(tmp_path / "raw")
    assert option(command, "--sfperf-mock-url") == TARGET.mock_url
    assert "--sfperf-mode" not in command


def test_an_open_loop_run_passes_its_rate_and_arrival_process(tmp_path: Path) -> None:
    plan = LoadPlan("steady", users=20, rate_rps=150.0, arrival="poisson")
    (command,) = locust_commands(plan, TARGET, tmp_path, 0)
    assert option(command, "--sfperf-mode") == "open"
    assert option(command, "--sfperf-rate") == "150"
    assert option(command, "--sfperf-arrival") == "poisson"
    assert option(command, "--sfperf-users") == "20"


def test_workers_mean_a_loopback_master_plus_that_many_workers(tmp_path: Path) -> None:
    master, *workers = locust_commands(LoadPlan("steady", workers=3), TARGET, tmp_path, 5557)
    assert len(workers) == 3
    assert option(master, "--expect-workers") == "3"
    assert option(master, "--master-bind-host") == "127.0.0.1"
    assert all(option(w, "--master-port") == "5557" and "--worker" in w for w in workers)
    assert all("--sfperf-out" not in w for w in workers)  # workers forward rows to the master


def test_the_targets_headers_reach_locust_in_its_environment_never_on_its_command_line(
    tmp_path: Path,
) -> None:
    target = LoadTarget("gw", "http://127.0.0.1:9000", headers={"Authorization": "Bearer s3"})
    (command,) = locust_commands(LoadPlan("steady"), target, tmp_path, 0)
    assert not any("s3" in part for part in command)
    env = locust_env(target.headers) or {}
    assert json.loads(env["SFPERF_TARGET_HEADERS"]) == {"Authorization": "Bearer s3"}
    assert env["PATH"] and locust_env({}) is None  # no headers: locust inherits ours unchanged
    assert "s3" not in repr(target)


def test_ramp_climbs_in_steps_then_holds_and_ends() -> None:
    counts = [ramp_users(t, 10, 10.0) for t in (0.0, 1.7, 3.3, 5.0, 6.5, 9.9)]
    assert counts == [2, 4, 6, 8, 10, 10]
    assert ramp_users(10.0, 10, 10.0) is None


def test_spike_is_the_full_load_only_in_the_middle_fifth() -> None:
    assert [spike_users(t, 40, 10.0) for t in (0.0, 3.9, 4.0, 5.9, 6.0)] == [10, 10, 40, 40, 10]
    assert spike_users(10.0, 40, 10.0) is None


def test_a_record_is_built_from_the_raw_rows_with_plan_target_and_metrics(tmp_path: Path) -> None:
    work = tmp_path / "load" / "steady-async-1"
    (work / "raw").mkdir(parents=True)
    rows = [Row("chat", 1.0, 1.0, 10.0, 200, True), Row("chat", 2.0, 2.0, 30.0, 429, False)]
    (work / "raw" / "requests-local-h-1.tsv").write_text("".join(map(format_row, rows)))
    (work / "locust_stats.csv").write_text("")
    plan = LoadPlan("steady", users=2)
    metrics = {"before": {"requests": 0}, "after": {"requests": 2}}
    record = load_record(
        plan, TARGET, tmp_path, work, [["locust"]], metrics, "t0", 3.0, partial=False
    )
    assert (record.runner, record.scenario) == ("load", "steady")
    assert record.labels == {"target": "async", "mode": "closed"}
    assert record.get("latency_ms").values == (10.0, 30.0)
    assert record.get("ok").values == (1.0, 0.0)
    assert record.params["target_metrics"] == metrics
    assert record.params["fidelity_checked"] is True
    assert "load/steady-async-1/locust_stats.csv" in record.artifacts
    assert not record.partial


def test_a_run_without_any_request_is_partial(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    plan = LoadPlan("steady")
    record = load_record(plan, TARGET, tmp_path, tmp_path, [["x"]], {}, "", 1.0, partial=False)
    assert record.partial
    assert record.get("latency_ms").values == ()


def test_each_run_gets_its_own_work_directory(tmp_path: Path) -> None:
    plan = LoadPlan("steady")
    first = work_dir_for(tmp_path, plan, LoadTarget("launch:my gw", "http://127.0.0.1:1"))
    second = work_dir_for(tmp_path, plan, LoadTarget("launch:my gw", "http://127.0.0.1:1"))
    assert first != second and first.parent == second.parent == tmp_path / "load"
    assert first.name == "steady-launch-my-gw-1" and (first / "raw").is_dir()


def test_remote_workers_are_awaited_on_the_chosen_master_address(tmp_path: Path) -> None:
    plan = LoadPlan("steady", workers=1, remote_workers=2, master_bind_host="10.0.0.5")
    master, *local = locust_commands(plan, TARGET, tmp_path, 5557)
    assert option(master, "--expect-workers") == "3"
    assert option(master, "--master-bind-host") == "10.0.0.5"
    assert len(local) == 1  # remote workers are started by hand on their hosts


def test_a_non_loopback_master_needs_the_explicit_opt_in() -> None:
    from harness.commands.load import check_master_bind

    assert check_master_bind("127.0.0.1", allow_remote=False) == "127.0.0.1"
    with pytest.raises(UsageError, match="--allow-remote"):
        check_master_bind("0.0.0.0", allow_remote=False)
    assert check_master_bind("0.0.0.0", allow_remote=True) == "0.0.0.0"
    with pytest.raises(UsageError, match="IP address"):
        check_master_bind("my host", allow_remote=True)


class FakeLocust:
    """Stands in for LocustProcesses: the main process exits with `code` after `polls` polls."""

    def __init__(self, code: int | None, polls: int) -> None:
        self.code, self.polls = code, polls
        self.main = self

    @property
    def returncode(self) -> int | None:
        return self.code

    def poll(self) -> int | None:
        self.polls -= 1
        return self.code if self.polls < 0 else None


def test_a_run_that_ends_well_is_complete_and_progress_covers_its_duration() -> None:
    clock, shown = FakeClock(), []
    procs = FakeLocust(code=0, polls=12)
    assert drive(procs, 2.0, 2.0, lambda n, _: shown.append(n), clock, clock.sleep)  # type: ignore[arg-type]
    assert sum(shown) == pytest.approx(2.0)


def test_a_crashed_locust_makes_the_run_partial() -> None:
    clock = FakeClock()
    procs = FakeLocust(code=1, polls=2)
    assert not drive(procs, 2.0, 2.0, lambda n, _: None, clock, clock.sleep)  # type: ignore[arg-type]


def test_a_locust_that_never_stops_is_given_up_on_after_the_grace() -> None:
    clock = FakeClock()
    procs = FakeLocust(code=None, polls=10**9)
    assert not drive(procs, 2.0, 2.0, lambda n, _: None, clock, clock.sleep)  # type: ignore[arg-type]
    assert clock.now_s == pytest.approx(2.0 + STOP_GRACE_S, abs=0.5)


def test_the_targets_own_request_count_is_read_from_its_metrics() -> None:
    from harness.commands.load import reported_requests

    before = {"requests": {"chat": 1}}
    after = {"requests": {"chat": 5, "completions": 2}}
    assert reported_requests({"before": before, "after": after}) == 6
    assert reported_requests({"before": {"requests": 3}, "after": {"requests": 10}}) == 7
    assert reported_requests({"before": None, "after": after}) is None


def test_an_open_loop_run_that_fell_behind_its_schedule_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.commands.load import warn_if_behind

    (tmp_path / "raw").mkdir()
    rows = [Row("chat", float(i), float(i) + 0.2, 10.0, 200, True) for i in range(10)]
    (tmp_path / "raw" / "requests-local-h-1.tsv").write_text("".join(map(format_row, rows)))
    plan = LoadPlan("steady", rate_rps=10.0)
    record = load_record(plan, TARGET, tmp_path, tmp_path, [["x"]], {}, "", 1.0, partial=False)
    warn_if_behind(record)
    err = capsys.readouterr().err
    assert "100.0% of requests left > 10 ms behind schedule" in err
    assert "try --users 1" in err  # 10 req/s x 10 ms a request: one user would do


def test_a_metrics_endpoint_that_answered_something_unreadable_is_said_after_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.commands.load import warn_if_unread

    said = "GET /metrics answered 200: <html>; sfperf reads a JSON object or the Prometheus text"
    record = RunRecord("load", "steady", {"target_metrics": {"problem": said}},
                       capture_environment(), ())  # fmt: skip
    warn_if_unread(record)
    warn_if_unread(RunRecord("load", "steady", {"target_metrics": {}}, capture_environment(), ()))
    assert capsys.readouterr().err == f"warning: --target-metrics could not be read: {said}\n"
