"""`sfperf simulate` end to end in a child process: records on disk, a summary, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.store import load_records


def sfperf(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_simulate_quick_saves_one_record_per_seed_report_config(tmp_path: Path) -> None:
    done = sfperf("simulate", "--quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    records = load_records(tmp_path)
    assert [r.labels["config"] for r in records] == [
        "legacy-file", "seed-memory-ttl", "ttl-45m-buffer-5m", "sane-memory-ttl",
    ]  # fmt: skip
    assert all(len(r.get("requests").values) == 6 for r in records)  # --quick: 6 virtual hours
    seed = records[1]
    assert sum(seed.get("hits").values) == 0  # a 45-minute buffer on a 45-minute TTL
    assert sum(records[2].get("expired_sends").values) > 0  # a TTL past the token's life
    assert "sane-memory-ttl" in done.stdout and "hit rate" in done.stdout


def test_simulate_overrides_replace_the_workload_settings(tmp_path: Path) -> None:
    done = sfperf("simulate", "--provider", "memory-ttl:ttl=25m,buffer=5m", "--arrivals", "fixed",
                  "--rate-rpm", "60", "--hours", "2", "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    (record,) = load_records(tmp_path)
    assert record.get("requests").values == (3600.0, 3600.0)
    assert record.get("refreshes").values == (3.0, 3.0)
    assert record.params["arrivals"] == {"kind": "fixed", "rate_rpm": 60.0}


def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    done = sfperf("simulate", "--provider", "redis", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "redis" in done.stderr
    assert not (tmp_path / "results.json").exists()
