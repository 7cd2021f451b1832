"""The micro runner: pytest-benchmark JSON to RunRecords, the child's argv, counted parts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.commands.micro import extract_table, make_plan
from harness.records import Environment, RunRecord, make_series
from harness.runners.micro import (
    MicroPlan,
    load_benchmarks,
    merge_token_io,
    pytest_command,
    records_from_benchmarks,
)
from harness.runners.support.micro_counts import extract_path_records, token_io_counts
from harness.runners.support.micro_inputs import make_provider, text_shapes

FIXTURE = Path(__file__).parent / "fixtures" / "pytest-benchmark-5.3.json"
ENV = Environment("3.11", "Linux", "cpu", 2, "host", "abc", False, "0.1.0")


def fixture_benchmarks() -> list[dict[str, Any]]:
    benchmarks: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["benchmarks"]
    return benchmarks


def by_labels(records: list[RunRecord], **labels: str) -> RunRecord:
    (record,) = [r for r in records if r.matches(**labels)]
    return record


def test_each_benchmark_becomes_a_micro_record_labelled_from_extra_info() -> None:
    records = records_from_benchmarks(fixture_benchmarks(), ENV, {"quick": True})
    assert [(r.runner, r.scenario) for r in records] == [
        ("micro", "extract"), ("micro", "extract"), ("micro", "token-validate"),
    ]  # fmt: skip
    shape = by_labels(records, extractor="priority", shape="official-chat-generations")
    assert shape.params["quick"] is True and shape.params["rounds"] == 4
    assert by_labels(records, provider="file").series_names == ["time_s"]


def test_time_is_per_call_raw_rounds_divided_by_the_calls_in_a_round() -> None:
    raw = fixture_benchmarks()[1]
    assert raw["extra_info"]["calls_per_round"] == 200
    record = by_labels(records_from_benchmarks([raw], ENV, {}), shape="mix:mixed-shapes")
    assert record.get("time_s").unit == "s"
    assert record.get("time_s").values == pytest.approx([t / 200 for t in raw["stats"]["data"]])
    assert "calls_per_round" not in record.labels and "scenario" not in record.labels


def test_what_a_user_extractor_raised_while_timed_is_a_param_not_a_label() -> None:
    raw = {**fixture_benchmarks()[0]}
    raw["extra_info"] = {**raw["extra_info"], "raised": "KeyError: 'generationDetails'"}
    (record,) = records_from_benchmarks([raw], ENV, {})
    assert record.params["raised"] == "KeyError: 'generationDetails'"
    assert "raised" not in record.labels


def test_a_users_own_benchmark_keeps_its_group_and_name() -> None:
    raw = {"name": "test_mine", "group": "mine", "extra_info": {}, "stats": {"data": [1e-6]}}
    (record,) = records_from_benchmarks([raw], ENV, {})
    assert record.scenario == "mine" and record.labels == {"benchmark": "test_mine"}


def test_benchmarks_without_stats_are_skipped() -> None:
    assert records_from_benchmarks([{"name": "broken", "stats": None}], ENV, {}) == []


def test_the_checkpoint_stands_in_when_pytest_benchmark_wrote_no_json(tmp_path: Path) -> None:
    lines = [json.dumps(b) for b in fixture_benchmarks()[:2]]
    (tmp_path / "checkpoint.jsonl").write_text("\n".join(lines) + '\n{"name": "cut sh')
    assert [b["name"] for b in load_benchmarks(tmp_path)] == [
        b["name"] for b in fixture_benchmarks()[:2]
    ]


def test_the_json_wins_over_the_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "benchmarks.json").write_text(FIXTURE.read_text())
    (tmp_path / "checkpoint.jsonl").write_text("")
    assert len(load_benchmarks(tmp_path)) == 3


def test_nothing_measured_loads_as_no_benchmarks(tmp_path: Path) -> None:
    assert load_benchmarks(tmp_path) == []


def test_counted_file_io_joins_the_timed_record_of_its_provider() -> None:
    timed = records_from_benchmarks(fixture_benchmarks(), ENV, {})
    io = (make_series("file_reads", "count", [1, 1]), make_series("file_writes", "count", [1, 0]))
    counts = {"file": io, "memory-ttl": io}
    merged = merge_token_io(timed, counts, ENV)
    assert by_labels(merged, provider="file").series_names == [
        "time_s",
        "file_reads",
        "file_writes",
    ]
    # memory-ttl was never timed (say the child crashed): its counts still make a record.
    assert by_labels(merged, provider="memory-ttl").series_names == ["file_reads", "file_writes"]


def test_the_child_runs_our_suite_with_raw_data_and_the_plan_options(tmp_path: Path) -> None:
    plan = MicroPlan(extractors=("priority", "pkg.mod:f"), profiles=("default",), quick=True)
    command = pytest_command(plan, tmp_path)
    assert command[:3] == [sys.executable, "-m", "pytest"]
    assert ["-c", str(tmp_path / "pytest.ini")] == command[4:6]
    for option in ("--benchmark-enable", "--benchmark-save-data", "--benchmark-max-time=0.05",
                   "--sfperf-extractor=pkg.mod:f", "--sfperf-profile=default",
                   "--sfperf-provider=memory-ttl"):  # fmt: skip
        assert option in command
    assert command[command.index("--benchmark-json") + 1] == str(tmp_path / "benchmarks.json")


def test_the_plan_counts_one_benchmark_per_extractor_shape_mix_and_provider() -> None:
    plan = MicroPlan(
        extractors=("legacy",), profiles=("default", "mixed-shapes"), providers=("file",)
    )
    assert plan.benchmark_count == len(text_shapes()) + 2 + 1


def test_a_user_extractor_is_measured_beside_the_references() -> None:
    args = argparse.Namespace(
        extractor=["pkg.mod:f"], shape=[], profile=[], token_provider=[], quick=True, seed=None
    )
    plan = make_plan(args, default_seed=7)
    assert plan.extractors == ("legacy", "priority", "pkg.mod:f")
    assert plan.seed == 7


def test_path_records_count_every_call_of_the_mix() -> None:
    records = extract_path_records(["priority", "legacy"], ["default"], 50, 1234, ENV)
    priority = by_labels(records, extractor="priority", profile="default")
    assert priority.scenario == "extract-paths"
    assert priority.get("path_rank").values == (1.0,) * 50  # default = official shapes only
    assert priority.get("fallback").values == (0.0,) * 50
    assert priority.get("matched").values == (1.0,) * 50
    legacy = by_labels(records, extractor="legacy", profile="default")
    # Legacy tries the generations path first, so official chat replies match on the second.
    assert legacy.get("path_rank").values == (2.0,) * 50
    assert sum(legacy.get("lookups").values) > sum(priority.get("lookups").values)


def test_the_mixed_profile_sends_some_calls_to_the_fallback() -> None:
    (record,) = extract_path_records(["priority"], ["mixed-shapes"], 200, 1234, ENV)
    fallback_share = sum(record.get("fallback").values) / 200
    assert 0.1 < fallback_share < 0.5  # the profile serves 30% variants
    assert record.get("matched").values == (1.0,) * 200


def test_a_user_extractor_that_raises_on_some_shapes_is_counted_and_the_references_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "chat_only_extractor.py").write_text(
        "def extract(response):\n"
        "    return response['generationDetails']['generations'][0]['content']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    specs = ["priority", "chat_only_extractor:extract"]
    records = extract_path_records(specs, ["mixed-shapes"], 200, 1234, ENV)
    mine = by_labels(records, extractor="chat_only_extractor:extract")
    raised = mine.get("raised").values
    assert 0 < sum(raised) < 200 and mine.params["raised"]["calls"] == sum(raised)
    assert set(mine.params["raised"]["errors"].values()) == {"KeyError: 'generationDetails'"}
    assert "chat_only_extractor:extract raised on" in mine.params["raised"]["says"]
    reference = by_labels(records, extractor="priority")
    assert reference.get("matched").values == (1.0,) * 200 and "raised" not in reference.params


def test_the_file_provider_reads_its_file_on_every_validation() -> None:
    reads, writes = token_io_counts("file", 100)
    assert reads == [1] * 100
    assert writes[0] == 1 and sum(writes) == 1  # 60 virtual seconds: no refresh after the first


def test_the_memory_provider_reads_its_file_only_at_start() -> None:
    reads, writes = token_io_counts("memory-ttl", 3000)  # 30 virtual minutes
    assert sum(reads) == 1 and reads[0] == 1
    assert sum(writes) == 2  # the first grant, one refresh 25 minutes later


def test_unknown_token_providers_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown token provider"):
        make_provider("redis", object(), lambda: None, lambda: 0.0)  # type: ignore[arg-type,return-value]


def test_a_users_token_provider_class_is_built_with_keywords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_tokens.py").write_text(
        "class Provider:\n"
        "    def __init__(self, *, store, fetch, clock):\n"
        "        self.store, self.fetch, self.clock = store, fetch, clock\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    provider = make_provider("my_tokens:Provider", "store", "fetch", "clock")  # type: ignore[arg-type]
    assert (provider.store, provider.fetch, provider.clock) == ("store", "fetch", "clock")


def test_a_shape_a_user_extractor_raised_on_shows_its_time_as_a_raise_without_a_ratio() -> None:
    raw = fixture_benchmarks()[0]
    mine = json.loads(json.dumps(raw))
    mine["extra_info"] |= {"extractor": "me:f", "raised": "KeyError: 'generationDetails'"}
    table = extract_table(records_from_benchmarks([raw, mine], ENV, {}))
    (mine_cell,) = table.columns[2].cells
    assert str(mine_cell).endswith(" raised") and "x)" not in str(mine_cell)


def test_the_summary_puts_extractors_side_by_side_with_ratios() -> None:
    raw = fixture_benchmarks()[0]
    legacy = json.loads(json.dumps(raw))
    legacy["extra_info"]["extractor"] = "legacy"
    legacy["stats"]["data"] = [t * 2 for t in raw["stats"]["data"]]
    records = records_from_benchmarks([legacy, raw], ENV, {})
    table = extract_table(records)
    assert [c.header for c in table.columns] == ["shape", "legacy", "priority"]
    assert table.row_count == 1
    (priority_cell,) = table.columns[2].cells
    assert str(priority_cell).endswith("(0.50x)")
