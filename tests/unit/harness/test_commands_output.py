"""Where commands write, and where they send load, is checked before anything runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands._output import run_dir
from harness.records import RunRecord, capture_environment
from harness.store import save_records

BAD = "/dev/null/x"  # under a file: can never be created


@pytest.mark.parametrize(
    "argv",
    [
        ["micro", "--quick", "--out", BAD],
        ["simulate", "--quick", "--out", BAD],
        ["load", "steady", "--quick", "--out", BAD],
        ["sweep", "--quick", "--out", BAD],
        ["profile", "--quick", "--out", BAD],
        ["verdict", "--mock", "http://127.0.0.1:9", "--out", BAD],
        ["validate", "--quick", "--out", BAD],
        ["report", "base", "candidate", "--out", BAD],
        ["gate", "--candidate", "candidate", "--summary", f"{BAD}/summary.md"],
        ["gate", "--candidate", "candidate", "--json", f"{BAD}/gate.json"],
        ["gate", "--save-baseline", "run", "--baseline-root", BAD],
        [
            "launch",
            "--upstream",
            "http://127.0.0.1:9",
            "--io-report",
            f"{BAD}/io.json",
            "--",
            "true",
        ],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_an_output_that_cannot_be_created_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write to" in err and "Not a directory" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["load", "steady", "--target-url", "http://127.0.0.1:8000", "--mock-url",
         "http://10.1.2.3:9000"],
        ["validate", "--target-url", "http://127.0.0.1:8000", "--mock-url", "http://10.1.2.3:9000"],
        ["sweep", "--target-url", "http://127.0.0.1:8000", "--mock-url", "http://10.1.2.3:9000"],
        ["verdict", "--mock", "http://mock.example:9000"],
    ],
    ids=["load", "validate", "sweep", "verdict"],
)  # fmt: skip
def test_a_remote_mock_needs_the_same_opt_in_as_a_remote_target(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not loopback" in err and "--allow-remote" in err
    assert not (tmp_path / "run").exists()


def test_a_mock_url_without_a_running_target_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "--mock-url", "http://127.0.0.1:9000"]) == 2
    assert "--mock-url goes with --target-url" in capsys.readouterr().err


def earlier_run_in(directory: Path) -> Path:
    """A run directory holding one saved record, as a finished run leaves it."""
    record = RunRecord("micro", "extract", {}, capture_environment(), (),
                       started_at="2026-12-04T20:27:58Z")  # fmt: skip
    save_records(directory, [record])
    return directory


@pytest.mark.parametrize(
    "argv",
    [
        ["micro", "--quick"],
        ["simulate", "--quick"],
        ["load", "steady", "--quick"],
        ["sweep", "--quick"],
        ["profile", "--quick"],
        ["verdict", "--mock", "http://127.0.0.1:9"],
        ["validate", "--quick"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_out_that_holds_an_earlier_run_is_refused_in_one_line_before_anything_runs(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = earlier_run_in(tmp_path)
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--out {out} holds an earlier run (1 record(s), 2026-12-04T20:27:58Z)" in err
    assert "--append" in err
    assert [p.name for p in out.iterdir()] == ["results.json"]


def test_append_adds_to_the_run_already_in_out(tmp_path: Path) -> None:
    out = earlier_run_in(tmp_path)
    assert run_dir(out, append=True) == out


def test_an_out_without_saved_records_is_a_new_run(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    save_records(tmp_path / "empty", [])
    assert run_dir(tmp_path) == tmp_path
    assert run_dir(tmp_path / "empty") == tmp_path / "empty"


def test_two_default_runs_started_in_the_same_second_get_a_directory_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFPERF_RESULTS_DIR", str(tmp_path))
    now = dt.datetime(2026, 12, 4, 20, 27, 58, tzinfo=dt.UTC)
    first, second = run_dir(None, now=now), run_dir(None, now=now)
    assert (first.name, second.name) == ("20261204-202758", "20261204-202758-2")
