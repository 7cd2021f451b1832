"""`sfperf gate` over several runs: dirs per side, interleaved confirmation, stored history."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.claims import HOLDS, REFUTED
from harness.cli import main
from harness.records import RunRecord, capture_environment, make_series
from harness.store import load_records, save_records
from tests.unit.harness.test_gate_claims import write_card

ENV = capture_environment()
# A confirmation command: log which side ran, then copy a prepared run (no heavy imports).
WRITER = """
import shutil, sys
side, source, out = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(side + "\\n")
shutil.copytree(source, out, dirs_exist_ok=True)
"""


def write_run(directory: Path, level: float) -> Path:
    """A run of two metrics whose every round takes `level` us (plus a few percent per metric)."""
    records = [
        RunRecord(
            "micro", "extract", {}, ENV,
            (make_series("time_s", "s", [level * 1e-6 * (1 + 0.02 * i)] * 20),),
            labels={"extractor": "priority", "shape": f"shape-{i}"},
        )
        for i in range(2)
    ]  # fmt: skip
    save_records(directory, records)
    return directory


def confirm_args(tmp_path: Path, base_level: float, cand_level: float) -> list[str]:
    script, log = tmp_path / "writer.py", tmp_path / "sides.log"
    script.write_text(WRITER.format(log=str(log)))
    base = write_run(tmp_path / "rerun-base", base_level)
    cand = write_run(tmp_path / "rerun-cand", cand_level)
    command = f"{sys.executable} {script}"
    return [
        "--confirm-baseline-cmd", f"{command} base {base} {{out}}",
        "--confirm-cmd", f"{command} cand {cand} {{out}}",
        "--confirm-runs", "2",
    ]  # fmt: skip


def baseline_dirs(tmp_path: Path) -> list[str]:
    levels = (1.0, 1.01, 0.99, 1.02)
    return [str(write_run(tmp_path / f"base-{i}", v)) for i, v in enumerate(levels)]


def test_a_confirmed_slowdown_re_measures_both_sides_in_turn_and_fails(tmp_path: Path) -> None:
    cand = write_run(tmp_path / "cand", 1.3)
    args = ["gate", "--baseline", *baseline_dirs(tmp_path), "--candidate", str(cand)]
    assert main(args + confirm_args(tmp_path, 1.0, 1.3)) == 1
    assert (tmp_path / "sides.log").read_text().split() == ["base", "cand", "base", "cand"]


def test_a_slowdown_that_does_not_repeat_passes_as_unconfirmed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cand = write_run(tmp_path / "cand", 1.3)
    args = ["gate", "--baseline", *baseline_dirs(tmp_path), "--candidate", str(cand)]
    assert main(args + confirm_args(tmp_path, 1.0, 1.0)) == 0
    assert "⚠️ unconfirmed" in capsys.readouterr().out


def test_nothing_is_re_measured_when_no_metric_looks_worse(tmp_path: Path) -> None:
    cand = write_run(tmp_path / "cand", 1.0)
    args = ["gate", "--baseline", *baseline_dirs(tmp_path), "--candidate", str(cand)]
    assert main(args + confirm_args(tmp_path, 1.0, 1.0)) == 0
    assert not (tmp_path / "sides.log").exists()


def test_the_stored_history_is_the_baseline_when_none_is_given(tmp_path: Path) -> None:
    root = tmp_path / "baselines"
    for directory in baseline_dirs(tmp_path):
        assert main(["gate", "--save-baseline", directory, "--baseline-root", str(root)]) == 0
    assert len(list((root / ENV.fingerprint / "history").iterdir())) == 4
    slow, same = write_run(tmp_path / "slow", 1.3), write_run(tmp_path / "same", 1.0)
    assert main(["gate", "--candidate", str(slow), "--baseline-root", str(root)]) == 1
    assert main(["gate", "--candidate", str(same), "--baseline-root", str(root)]) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--confirm-runs", "0"], "--confirm-runs"),
        (["--confirm-baseline-cmd", "true"], "needs --confirm-cmd"),
    ],
)
def test_bad_confirmation_options_exit_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    base = write_run(tmp_path / "base", 1.0)
    assert main(["gate", "--baseline", str(base), "--candidate", str(base), *extra]) == 2
    assert message in capsys.readouterr().err


def write_load_run(directory: Path, target: str) -> Path:
    """One load run of `target`: 50 ok replies after 200-249 ms."""
    series = (
        make_series("latency_ms", "ms", [200.0 + i for i in range(50)]),
        make_series("ok", "count", [1.0] * 50),
    )
    save_records(directory, [RunRecord("load", "steady", {}, ENV, series, {"target": target})])
    return directory


def test_two_one_target_runs_under_other_names_are_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_load_run(tmp_path / "base", "launch:async_endpoint_server")
    cand = write_load_run(tmp_path / "cand", "launch:env")
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 0
    out, err = capsys.readouterr()
    assert "2 metrics: 2 unchanged" in out
    assert "launch:async_endpoint_server (baseline) is compared with launch:env" in err


def test_a_gate_that_compared_nothing_exits_two_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_load_run(tmp_path / "base", "a")
    other = write_load_run(tmp_path / "b", "b")
    save_records(tmp_path / "two", [*load_records(base), *load_records(other)])
    cand = write_load_run(tmp_path / "cand", "c")
    summary = tmp_path / "summary.md"
    args = ["gate", "--baseline", str(tmp_path / "two"), "--candidate", str(cand)]
    assert main([*args, "--summary", str(summary)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        "sfperf gate: error: nothing to compare: baseline and candidate share no gated metric; "
        "targets a, b vs c"
    ]
    assert "no verdict: nothing compared" in summary.read_text()


def test_a_card_claim_that_held_and_is_refuted_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_card(write_load_run(tmp_path / "base", "a"), "a", x=HOLDS)
    cand = write_card(write_load_run(tmp_path / "cand", "a"), "a", x=REFUTED)
    out = tmp_path / "gate.json"
    args = ["gate", "--baseline", str(base), "--candidate", str(cand), "--json", str(out)]
    assert main(args) == 1
    printed = capsys.readouterr().out
    assert printed.startswith("## sfperf gate: ❌ 1 regression(s)")
    assert "| ❌ regression | a | `x`: claim x | holds | refuted |" in printed
    assert json.loads(out.read_text())["claims"][0]["regressed"] is True


def test_a_candidate_stopped_half_way_gets_no_verdict_unless_missing_metrics_are_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_load_run(tmp_path / "base", "a")
    base_records = load_records(base)
    streaming = [replace(r, scenario="streaming", run_id=f"s{r.run_id}") for r in base_records]
    save_records(base, [*base_records, *streaming])
    cand = write_load_run(tmp_path / "cand", "a")
    steps = [
        {"step": "load", "error": "stopped by SIGINT", "stopped": "cut short"},
        {"step": "sweep", "error": "not run (stopped by SIGINT)", "stopped": "not run"},
    ]
    (cand / "steps.json").write_text(json.dumps({"steps": steps}))
    args = ["gate", "--baseline", str(base), "--candidate", str(cand)]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out.startswith("## sfperf gate: ⚠️ no verdict: the candidate is incomplete")
    assert err.splitlines()[-1] == (
        "sfperf gate: error: no verdict: the candidate lacks 2 of the baseline's 4 gated "
        "metrics (the candidate run: stopped by SIGINT during load; not run: sweep); e.g. "
        "load/streaming[target=a]/latency_ms; pass --allow-missing to judge it on the rest"
    )
    assert main([*args, "--allow-missing"]) == 0
    assert "no regression in the metrics compared (2 missing)" in capsys.readouterr().out


def test_a_candidate_measured_in_partial_records_gets_no_verdict(tmp_path: Path) -> None:
    base = write_load_run(tmp_path / "base", "a")
    cand = write_load_run(tmp_path / "cand", "a")
    save_records(cand, [replace(r, partial=True) for r in load_records(cand)])
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
