"""`sfperf micro --quick` end to end: a real pytest-benchmark child, records on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.store import load_records

USER_EXTRACTOR = """
def extract(response):
    return response["generationDetails"]["generations"][0]["content"]
"""


def test_micro_quick_measures_references_and_a_user_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "user_extract.py").write_text(USER_EXTRACTOR)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the benchmark child imports it too
    out = tmp_path / "run"
    argv = ["micro", "--quick", "--out", str(out), "--extractor", "priority",
            "--extractor", "user_extract:extract", "--profile", "default",
            "--shape", "official-chat-generations", "--shape", "variant-output",
            "--token-provider", "memory-ttl"]  # fmt: skip
    assert main(argv) == 0

    records = load_records(out)
    timed = [r for r in records if r.matches(scenario="extract", shape="mix:default")]
    assert {r.labels["extractor"] for r in timed} == {"priority", "user_extract:extract"}
    assert all(r.get("time_s").values and min(r.get("time_s").values) > 0 for r in timed)
    # The user's function only knows the official chat shape: it raises on the variants, which
    # its record says (timed raising), and no benchmark is lost or made partial by it (R83).
    user = [r for r in records if r.matches(scenario="extract", extractor="user_extract:extract")]
    assert {r.labels["shape"]: r.params.get("raised") for r in user} == {
        "official-chat-generations": None, "mix:default": None,
        "variant-output": "KeyError: 'generationDetails'",
    }  # fmt: skip
    assert len([r for r in records if r.matches(extractor="priority", scenario="extract")]) == 3
    assert not any(r.partial for r in records if r.scenario == "extract")
    (tokens,) = [r for r in records if r.scenario == "token-validate"]
    assert tokens.series_names == ["time_s", "file_reads", "file_writes"]
    paths = [r for r in records if r.scenario == "extract-paths"]
    assert len(paths) == 2 and all(set(r.get("matched").values) == {1.0} for r in paths)
    assert (out / "micro" / "benchmarks.json").exists()
    assert all(not r.partial for r in records if r.scenario == "extract-paths")
