"""`sfperf sweep` for real: clients and a gateway variant against the mock on loopback."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.runners.sweep import SweepPlan, run_sweep
from harness.store import load_records
from harness.subjects.gateway.options import GatewayOptions
from harness.subjects.gateway.serve import run_in_thread as serve_gateway
from mock_salesforce.config import load_profile
from mock_salesforce.server import run_in_thread as serve_mock


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with serve_mock(dataclasses.replace(load_profile("fast"), seed=5)) as mock:
        yield mock.url


def in_thread_gateways(mock_url: str) -> object:
    @contextlib.contextmanager
    def open_gateway(variant: str) -> Iterator[str]:
        with serve_gateway(GatewayOptions(upstream_url=mock_url, variant=variant)) as running:
            yield running.url

    return open_gateway


def test_every_subject_stays_under_littles_bound_and_scales_with_concurrency(
    mock_url: str,
) -> None:
    plan = SweepPlan(
        levels=(1, 4),
        upstream_latencies_ms=(50.0,),
        subjects=("sync-wrapper", "async", "async-batching", "gateway:async"),
        duration_s=0.6,
    )
    records = run_sweep(plan, mock_url, in_thread_gateways(mock_url))  # type: ignore[arg-type]
    assert len(records) == 8
    for record in records:
        throughput = record.get("throughput_rps").values[0]
        assert 0 < throughput <= record.get("littles_bound_rps").values[0] * 1.05
        assert record.get("errors").values == (0.0,)
        assert min(record.get("latency_ms").values) >= 50.0  # the mock's latency is felt
    by_point = {(r.labels["subject"], r.labels["concurrency"]): r for r in records}
    for subject in plan.subjects:
        one = by_point[(subject, "1")].get("throughput_rps").values[0]
        four = by_point[(subject, "4")].get("throughput_rps").values[0]
        assert four > 2 * one  # 50 ms of waiting overlaps across 4 callers


def test_the_command_runs_a_quick_sweep_of_named_subjects(tmp_path: Path) -> None:
    argv = ["sweep", "--quick", "--levels", "2", "--duration", "0.5s", "--subjects"]
    argv += ["async,sync-legacy", "--upstream-latency", "30ms", "--out", str(tmp_path)]
    assert main(argv) == 0
    records = load_records(tmp_path)
    assert sorted(r.labels["subject"] for r in records) == ["async", "gateway:sync-legacy"]
    assert all(r.matches(runner="sweep", scenario="sync-vs-async") for r in records)
    assert {r.labels["upstream_latency_ms"] for r in records} == {"30"}


def test_the_command_refuses_unknown_subjects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--subjects", "turbo", "--out", "/nonexistent"]) == 2
    assert "unknown subjects" in capsys.readouterr().err
