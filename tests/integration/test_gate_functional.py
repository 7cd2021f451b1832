"""`sfperf gate` end to end: exit codes 0/1/2, per-machine baselines, confirmation reruns."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.records import RunRecord, capture_environment, make_series
from harness.store import save_records

ENV = capture_environment()


def write_run(directory: Path, seed: int, slowdown: float = 1.0) -> Path:
    rng = np.random.default_rng(seed)
    records = [
        RunRecord(
            "micro", "extract", {}, ENV,
            (make_series("time_s", "s", rng.lognormal(-13.0, 0.05, 40) * slowdown),),
            labels={"extractor": "legacy", "shape": shape},
        )
        for shape in ("official-generations", "official-chat-generations")
    ]  # fmt: skip
    save_records(directory, records)
    return directory


def test_an_a_a_gate_passes_and_writes_the_summary(tmp_path: Path) -> None:
    base, cand = write_run(tmp_path / "a", 1), write_run(tmp_path / "b", 2)
    summary = tmp_path / "summary.md"
    code = main(
        ["gate", "--baseline", str(base), "--candidate", str(cand), "--summary", str(summary)]
    )
    assert code == 0
    assert summary.read_text().startswith("## sfperf gate: ✅ no regression")


def test_a_slower_candidate_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three runs a side: the default micro rule does not trust one run's rounds (a run's rounds
    # share the machine's state), so one run a side is `unconfirmed`.
    base = [str(write_run(tmp_path / f"a{i}", i)) for i in (1, 2, 5)]
    cand = [str(write_run(tmp_path / f"b{i}", i, 1.15)) for i in (3, 4, 6)]
    out = tmp_path / "gate.json"
    args = ["gate", "--baseline", *base, "--candidate", *cand, "--json", str(out)]
    assert main(args) == 1
    assert "❌ regression" in capsys.readouterr().out
    document = json.loads(out.read_text())
    assert document["failed"] is True
    assert {r["status"] for r in document["results"]} == {"regression"}
    one_a_side = ["gate", "--baseline", base[0], "--candidate", cand[0]]
    assert main(one_a_side) == 0
    assert "⚠️ unconfirmed" in capsys.readouterr().out


def test_bad_input_exits_two_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(tmp_path / "a", 1)
    assert main(["gate", "--baseline", str(base), "--candidate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results found" in err
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nseries = 'time_s'\ndirection = 'sideways'\n")
    args = ["gate", "--baseline", str(base), "--candidate", str(base), "--rules", str(rules)]
    assert main(args) == 2


def test_a_saved_baseline_is_found_by_machine_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "baselines"
    base, cand = write_run(tmp_path / "a", 1), write_run(tmp_path / "b", 2, 1.3)
    assert main(["gate", "--save-baseline", str(base), "--baseline-root", str(root)]) == 0
    assert (root / ENV.fingerprint / "results.json").exists()
    # found and compared: one run a side, so the slowdown is a suspect, not yet a regression
    assert main(["gate", "--candidate", str(cand), "--baseline-root", str(root)]) == 0
    assert "⚠️ unconfirmed" in capsys.readouterr().out
    assert main(["gate", "--candidate", str(cand), "--baseline-root", str(tmp_path / "x")]) == 2


def test_a_regression_that_vanishes_on_the_confirmation_rerun_passes(tmp_path: Path) -> None:
    base, cand = write_run(tmp_path / "a", 1), write_run(tmp_path / "b", 2, 1.3)
    rerun = (
        f'{sys.executable} -c "import sys; from pathlib import Path; '
        f"from tests.integration.test_gate_functional import write_run; "
        f'write_run(Path(sys.argv[1]), 3)" {{out}}'
    )
    args = ["gate", "--baseline", str(base), "--candidate", str(cand), "--confirm-cmd", rerun]
    assert main(args) == 0
