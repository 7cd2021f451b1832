"""Where commands write, and where they send load, is checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

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
