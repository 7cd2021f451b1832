"""`sfperf sweep` refuses what it cannot measure honestly, in one line, before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


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
    ],
)
def test_the_sweep_refuses_in_one_line_with_exit_code_2(
    argv: list[str], reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", *argv, "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert reason in error and "\n" not in error
    assert not (tmp_path / "run").exists()  # refused before anything started
