"""The report's findings section: what the mock's grading found, or that it found nothing."""

from __future__ import annotations

from pathlib import Path

from harness.findings import findings_record
from reports.render import write_report


def findings_part(tmp_path: Path) -> str:
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    return markdown[markdown.index("## How the gateway treats its upstream") :].split("\n## ")[0]


def test_a_clean_grading_is_reported_as_clean_not_as_not_measured(tmp_path: Path) -> None:
    clean = findings_record([], "launch:gw", params={"entries": 1234})
    write_report(tmp_path, [clean], claims=[])
    section = findings_part(tmp_path)
    assert "No findings: the mock's journal of 1,234 requests shows no mistake" in section
    assert "launch:gw" in section and "Not measured" not in section


def test_without_a_grading_the_section_says_how_to_get_one(tmp_path: Path) -> None:
    write_report(tmp_path, [], claims=[])
    assert "Not measured in this run (no `verdict` records)" in findings_part(tmp_path)
