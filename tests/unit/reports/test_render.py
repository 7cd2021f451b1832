"""Report pieces: cell formatting, frames from golden records, notes for missing sections."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.blocking import ClientCalls
from harness.claims import Verdict, format_value
from harness.records import RunRecord, capture_environment, make_series
from harness.store import load_records
from reports import frames
from reports.render import format_cell, outcome, write_report
from tests.unit.harness.test_saturation import capped_at_one, profile_of

GOLDEN = Path(__file__).parents[2] / "golden"


def test_missing_records_are_named_with_the_command_that_measures_them(tmp_path: Path) -> None:
    write_report(tmp_path, load_records(GOLDEN / "results-v1.json"))
    markdown = (tmp_path / "report.md").read_text()
    assert "Not measured in this run (no `load` records): run `sfperf load steady`." in markdown
    assert "No claim verdicts for this run" in markdown
    assert "## Response extraction" in markdown and "official-chat-generations" in markdown


def test_a_profile_that_left_no_shares_says_why_instead_of_what_to_run(tmp_path: Path) -> None:
    why = "the profiled target left no profile (no process that served left a profile: ...)"
    profile = RunRecord("profile", "gateway", {"profile_error": why}, capture_environment(),
                        (), labels={"variant": "launch:app"}, partial=True)  # fmt: skip
    write_report(tmp_path, [profile])
    markdown = (tmp_path / "report.md").read_text()
    assert f"No profile: launch:app: {why}." in markdown
    assert "run `sfperf profile`" not in markdown


def test_a_step_that_measured_nothing_is_not_called_completed(tmp_path: Path) -> None:
    steps = [{"step": "load", "records": 3, "duration_s": 9.0},
             {"step": "profile", "records": 1, "duration_s": 5.3,
              "not_measured": "launch:app: the profiled target left no profile (...)"}]  # fmt: skip
    (tmp_path / "steps.json").write_text(json.dumps({"steps": steps}))
    write_report(tmp_path, load_records(GOLDEN / "results-v1.json"))
    markdown = (tmp_path / "report.md").read_text()
    assert "- **outcome:** steps that measured nothing: profile" in markdown
    assert "every step completed" not in markdown
    assert "Steps that ran but measured nothing of what they are for (the table says why): " in (
        markdown
    )


def test_a_skipped_profile_step_is_said_with_its_reason_not_run_sfperf_profile(
    tmp_path: Path,
) -> None:
    # R98: `sfperf profile` would meet the same reason; the step's says what to change.
    why = "pyinstrument cannot be imported by the target's interpreter /v/bin/python3: install it"
    steps = [{"step": "profile", "records": 0, "duration_s": 0.1, "skipped": why}]
    (tmp_path / "steps.json").write_text(json.dumps({"steps": steps}))
    write_report(tmp_path, load_records(GOLDEN / "results-v1.json"))
    section = (tmp_path / "report.md").read_text().split("## Profiles")[1]
    assert f"Not measured in this run: the profile step was skipped: {why}." in section
    assert "run `sfperf profile`" not in section


def test_a_profile_of_processes_that_served_nothing_says_so_above_its_top_frames(
    tmp_path: Path,
) -> None:
    # R86: Django's reloader alone was sampled, its wait the whole profile.
    note = "profiled the processes sampled, which served nothing: none made an upstream call"
    processes = [{"pid": 10, "role": "program", "samples": 3, "upstream_redirects": 0,
                  "profiled": True}]  # fmt: skip
    series = (make_series("share:subprocess.py:Popen._try_wait", "ratio", [0.99]),
              make_series("latency_ms", "ms", [5.0]), make_series("ok", "bool", [1]))  # fmt: skip
    params = {"processes": processes, "profiled_processes": note}
    profile = RunRecord("profile", "gateway", params, capture_environment(), series,
                        labels={"variant": "launch:app"})  # fmt: skip
    write_report(tmp_path, [profile])
    section = (tmp_path / "report.md").read_text().split("## Profiles")[1]
    assert section.index(f"launch:app: {note}.") < section.index("Popen._try_wait")


def test_a_user_extractor_that_raised_is_said_with_its_shapes_and_its_raised_rate(
    tmp_path: Path,
) -> None:
    says = "me:f raised on 1 of 2 calls over 'mixed-shapes', on 1 of 2 shapes (x: KeyError: 'a')"
    series = tuple(make_series(name, "count", values) for name, values in
                   (("path_rank", [1, 0]), ("lookups", [0, 0]), ("fallback", [0, 0]),
                    ("matched", [1, 0]), ("raised", [0, 1])))  # fmt: skip
    labels = {"extractor": "me:f", "profile": "p"}
    mine = RunRecord("micro", "extract-paths", {"raised": {"calls": 1, "says": says}},
                     capture_environment(), series, labels)  # fmt: skip
    write_report(tmp_path, [mine])
    assert f"{says}." in (tmp_path / "report.md").read_text()
    assert frames.paths_table([mine])["raised_rate"].tolist() == [0.5]


def test_cells_show_rates_as_percentages_and_numbers_compactly() -> None:
    assert format_cell("hit_rate", 0.8182) == "81.82%"
    assert format_cell("p50_ms", 12.345678) == "12.35"
    # One rule with the claims' figures (review7 Q3): 12440.0 and 12440.5 alike, 1244.5 too.
    assert format_cell("requests", 6000.0) == format_value(6000.0, "") == "6,000"
    assert format_cell("p50_ms", 12_440.5) == format_cell("p50_ms", 12_440.0) == "12,440"
    assert format_cell("p50_ms", 1_244.5) == format_value(1_244.5, "") == "1,244"
    assert format_cell("anything", None) == ""


def test_frames_derive_rates_from_raw_series() -> None:
    records = load_records(GOLDEN / "results-v1-full.json")
    paths = frames.paths_table(records).set_index("extractor")
    assert paths.loc["priority", "first_path_rate"] == pytest.approx(0.9)
    assert paths.loc["legacy", "fallback_rate"] == 1.0
    cache = frames.cache_table(records).set_index("configuration")
    assert cache["hit_rate"].min() == 0.0
    sweep = frames.sweep_table(records)
    assert list(sweep["concurrency"].unique()) == [1.0, 4.0, 16.0]


def test_the_rounds_of_a_sweep_level_make_one_row_of_their_pooled_requests() -> None:
    records = [r for r in load_records(GOLDEN / "results-v1-full.json") if r.runner == "sweep"]
    top = max(records, key=lambda r: float(r.labels["concurrency"]))
    again = replace(top, run_id="again", params={**top.params, "round": 1})
    alone, rounds = frames.sweep_table([top]), frames.sweep_table([top, again])
    assert len(rounds) == 1
    for column in ("p50_ms", "throughput_rps", "error_rate"):
        assert float(rounds[column].iloc[0]) == float(alone[column].iloc[0])


def test_the_knee_table_reads_the_runs_profile_of_a_subject_capped_at_one() -> None:
    # R104: the report passed only sweep records, so the profile's sentence never showed.
    on_loop = ClientCalls(("requests",), ("litestar",), 1.5, 0.0, loop_seen=True)
    records = [*capped_at_one("launch:gw"), profile_of("launch:gw", calls=on_loop)]
    knees = frames.knee_table(records).set_index("subject")
    detail = str(knees.loc["launch:gw", "detail"])
    assert "its profile shows why: requests (a synchronous HTTP client) called on the" in detail


def test_a_failed_validate_step_is_shown_at_the_top(tmp_path: Path) -> None:
    steps = {
        "steps": [
            {"step": "micro", "records": 3, "duration_s": 1.0},
            {"step": "load", "records": 0, "duration_s": 0.5, "error": "boom"},
        ]
    }
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    write_report(tmp_path, load_records(GOLDEN / "results-v1.json"))
    markdown = (tmp_path / "report.md").read_text()
    assert "## Run steps" in markdown
    assert "Steps that failed (their sections are partial or missing): load." in markdown
    assert "| load | 0 | 0.5 | boom |" in markdown
    assert "- **outcome:** failed steps: load" in markdown


def test_the_outcome_speaks_of_the_users_gateway_first_and_labels_the_reference_code() -> None:
    # R109: "launch:gw: 0 of 23 gateway claims refuted; claims: 5 hold, 23 refuted" read as 23
    # refuted; R128: findings were counted once per window that named them.
    def graded(window: str, labels: dict[str, str], *found: tuple[str, str]) -> RunRecord:
        findings = [{"name": name, "severity": severity, "count": 1, "explanation": "x"}
                    for name, severity in found]  # fmt: skip
        return RunRecord("verdict", "rewrites", {"findings": findings}, capture_environment(),
                         (), labels={**labels, "window": window})  # fmt: skip

    mine = {"target": "launch:gw"}
    records = [graded("steady-closed", mine, ("retry_storm", "FAIL"), ("gave_up", "WARN")),
               graded("steady-open", mine, ("gave_up", "WARN")),
               graded("steady-closed", {"variant": "async"}, ("no_backoff", "WARN"))]  # fmt: skip
    seed = [Verdict("c", "t", "measured", verdict, "", "") for verdict in ("holds", "refuted")]
    card = [Verdict("gw-x", "t", "measured", "holds", "", "")]
    assert outcome(seed, records, [], {"launch:gw": card}) == (
        "launch:gw: 0 of 1 gateway claims refuted, findings: 1 FAIL, 1 WARN; on sfperf's "
        "reference code: seed report claims 1 hold, 1 refuted, 0 inconclusive, findings: 0 FAIL, "
        "1 WARN"
    )
    assert outcome(seed, records[2:], []) == (
        "claims: 1 hold, 1 refuted, 0 inconclusive; findings: 0 FAIL, 1 WARN"
    )


def test_a_run_rendered_again_keeps_its_title_and_one_dir_takes_no_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # R140: `sfperf report DIR --out OTHER` ignored --out and retitled DIR's report.
    from harness.cli import main
    from reports.render import kept_title

    assert kept_title(tmp_path) == "sfperf report"
    (tmp_path / "report.md").write_text("# sfperf validate --quick: launch:gw\n\n- **run:** x\n")
    assert kept_title(tmp_path) == "sfperf validate --quick: launch:gw"
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "elsewhere")]) == 2
    assert "--out applies to a comparison" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()
