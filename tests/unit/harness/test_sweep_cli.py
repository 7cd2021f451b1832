"""`sfperf sweep` refuses what it cannot measure honestly, in one line, before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.blocking import ClientCalls
from harness.cli import main
from harness.commands.sweep import print_fidelity, print_summary, profiles_in
from harness.records import RunRecord, capture_environment, make_series
from harness.runners.support.sweepjoin import own_429
from harness.runners.support.sweepsubjects import Exchange
from harness.store import save_records
from tests.unit.harness.test_saturation import capped_at_one, profile_of


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--baseline-target", "http://127.0.0.1:9"], "go together"),
        (["--target-url", "http://127.0.0.1:9", "--candidate-target", "python -V"], "use --target"),
        (["--target-url", "http://10.1.2.3:8000"], "not loopback"),
        (["--baseline-target", "http://10.1.2.3:1", "--candidate-target", "python -V"], "loopback"),
        (["--mock-url", "http://127.0.0.1:9"], "none was given"),
        (["--levels", "1,100000000"], "file descriptors"),
        (["--subjects", "none"], "no subject"),
        (["--launch", "no-such-program-anywhere"], "not found"),
        (["--baseline-url", "http://127.0.0.1:9"], "--baseline-url goes with a --baseline-target"),
        (
            [
                "--baseline-target",
                "http://127.0.0.1:9",
                "--baseline-url",
                "http://127.0.0.1:8",
                "--candidate-target",
                "python -V",
            ],
            "--baseline-target is a URL",
        ),
    ],
)
def test_the_sweep_refuses_in_one_line_with_exit_code_2(
    argv: list[str], reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", *argv, "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert reason in error and "\n" not in error
    assert not (tmp_path / "run").exists()  # refused before anything started


def test_a_pair_target_command_that_prints_no_url_is_given_one() -> None:
    from harness.cli import build_parser
    from harness.commands.sweep import targets_from_args

    argv = ["sweep", "--baseline-target", "python -V", "--baseline-url", "http://127.0.0.1:8010",
            "--candidate-target", "http://127.0.0.1:8030"]  # fmt: skip
    (baseline, _), (candidate, role) = targets_from_args(build_parser().parse_args(argv))
    assert (baseline.url, baseline.command) == ("http://127.0.0.1:8010", "python -V")
    assert (candidate.url, candidate.command, role) == ("http://127.0.0.1:8030", None, "candidate")


def test_a_gateways_own_429s_with_retry_after_are_not_called_replies_unlike_the_upstreams(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # R74 leftover: a RATE=20 gateway's sweep printed "replies unlike the upstream's:
    # {'wrong_status': 120}" for the 429s the shape already names as its rate limit.
    def level(own_429: int | None, **fidelity: int) -> RunRecord:
        series = [make_series("fidelity_checked", "count", [4])]
        series += [make_series(f"fidelity_{k}", "count", [n]) for k, n in fidelity.items()]
        if own_429 is not None:
            series.append(make_series("own_429", "count", [own_429]))
        labels = {"subject": "launch:sanic_gw", "concurrency": "8"}
        return RunRecord("sweep", "sync-vs-async", {}, capture_environment(), tuple(series),
                         labels=labels)  # fmt: skip

    print_fidelity([level(3, wrong_status=3)])
    assert capsys.readouterr().err == ""
    print_fidelity([level(3, wrong_status=3, wrong_content=1)])
    assert "replies unlike the upstream's: {'wrong_content': 1}" in capsys.readouterr().err
    print_fidelity([level(None, wrong_status=3)])  # the upstream's own 429s, passed on
    assert "{'wrong_status': 3}" in capsys.readouterr().err


def test_429s_with_or_without_a_retry_after_count_as_the_subjects_own_limit() -> None:
    # R137: nginx `limit_conn` answers 429 without a Retry-After: 11,215 'wrong_status' a level.
    replies = (Exchange({}, 429, b"{}", 1.0), Exchange({}, 429, b"{}"), Exchange({}, 200, b"{}"))
    assert own_429(replies) == 2


def test_a_sweep_appended_to_a_profiled_run_says_what_the_profile_shows_of_its_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_loop = ClientCalls(("requests",), ("litestar",), 1.5, 0.0, loop_seen=True)
    save_records(tmp_path, [profile_of("launch:gw", calls=on_loop)])
    print_summary(capped_at_one("launch:gw"), beside=profiles_in(tmp_path))
    assert "its profile shows why: requests" in capsys.readouterr().out
