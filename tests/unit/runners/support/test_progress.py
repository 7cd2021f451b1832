"""The shared progress helper: silent unless asked, a rich bar on stderr when asked."""

from __future__ import annotations

import pytest

from harness.runners.support.progress import no_progress, progress_bar


def test_a_disabled_bar_hands_out_the_silent_advance(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(10, "work", enabled=False) as advance:
        advance(3, "")
    assert advance is no_progress
    assert capsys.readouterr() == ("", "")


def test_without_a_terminal_the_bar_stays_silent_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress_bar(10, "work") as advance:  # pytest's captured stderr is no TTY
        advance(1, "")
    assert advance is no_progress


def test_an_enabled_bar_draws_on_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(4, "measuring", enabled=True) as advance:
        advance(2, "halfway")
        advance(2, "")
    out, _err = capsys.readouterr()  # rich draws nothing on a non-terminal stderr
    assert out == ""
    assert advance is not no_progress
