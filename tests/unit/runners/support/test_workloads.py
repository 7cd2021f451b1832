"""Workload files, duration and provider specs, and arrival processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import UsageError
from harness.runners.support.workloads import (
    WORKLOADS_DIR,
    Arrivals,
    ProviderConfig,
    arrival_times_s,
    load_workload,
    parse_duration_s,
    parse_provider,
)


@pytest.mark.parametrize("name", sorted(p.stem for p in WORKLOADS_DIR.glob("*.toml")))
def test_every_shipped_workload_loads(name: str) -> None:
    workload = load_workload(name)
    assert workload.providers
    assert workload.duration_h > 0


def test_the_seed_report_workload_holds_the_reports_settings() -> None:
    workload = load_workload("seed-report")
    assert workload.arrivals == Arrivals("poisson", 100.0)
    assert workload.duration_h == 24
    assert workload.token_lifetime_s == 1800
    seed = next(p for p in workload.providers if p.name == "seed-memory-ttl")
    assert (seed.ttl_s, seed.buffer_s) == (2700, 2700)


@pytest.mark.parametrize(
    ("text", "seconds"), [("45m", 2700), ("1800s", 1800), ("1.5h", 5400), ("250ms", 0.25), ("7", 7)]
)
def test_durations_take_units(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5s", "inf"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration_s(text)


def test_provider_specs_parse_ttl_buffer_and_name() -> None:
    assert parse_provider("memory-ttl:ttl=25m,buffer=5m,name=sane") == ProviderConfig(
        "sane", "memory-ttl", 1500.0, 300.0
    )
    assert parse_provider("file") == ProviderConfig("file", "file", None, None)


def test_a_users_class_is_a_provider_spec() -> None:
    assert parse_provider("class:my.tokens:Cache,ttl=10m,name=mine") == ProviderConfig(
        "mine", "class", 600.0, None, "my.tokens:Cache"
    )


@pytest.mark.parametrize(
    "spec", ["redis", "memory-ttl:ttl", "memory-ttl:size=3", "file:ttl=5m", "class:nocolon"]
)
def test_bad_provider_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_provider(spec)


def test_unknown_workload_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="seed-report"):
        load_workload("no-such-workload")


def test_a_workload_missing_its_providers_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text("duration_h = 1\n")
    with pytest.raises(UsageError, match="invalid"):
        load_workload(str(path))


def test_fixed_arrivals_are_evenly_spaced() -> None:
    times = arrival_times_s(Arrivals("fixed", 30.0), 10.0, seed=1)
    assert times.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_poisson_arrivals_have_the_asked_rate_and_depend_only_on_the_seed() -> None:
    times = arrival_times_s(Arrivals("poisson", 100.0), 24 * 3600.0, seed=7)
    # 144,000 expected; five standard deviations (sqrt(144000) = 379) either side.
    assert abs(len(times) - 144_000) < 5 * 379
    assert np.all(np.diff(times) >= 0) and times[-1] < 24 * 3600.0
    again = arrival_times_s(Arrivals("poisson", 100.0), 24 * 3600.0, seed=7)
    assert np.array_equal(times, again)


def test_poisson_gaps_are_exponential() -> None:
    gaps = np.diff(arrival_times_s(Arrivals("poisson", 60.0), 20_000.0, seed=3))
    # Mean 1 s and, for an exponential, standard deviation equal to the mean.
    assert gaps.mean() == pytest.approx(1.0, rel=0.05)
    assert gaps.std() == pytest.approx(gaps.mean(), rel=0.05)


def test_recorded_arrivals_start_at_zero_and_are_cut_at_the_duration(tmp_path: Path) -> None:
    path = tmp_path / "times.txt"
    path.write_text("# seconds\n105\n100\n\n130  # late\n190\n")
    times = arrival_times_s(Arrivals("recorded", path=path), 60.0, seed=0)
    assert times.tolist() == [0.0, 5.0, 30.0]


def test_recorded_arrivals_read_a_mock_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text(json.dumps([{"t_s": 2.5, "seq": 1}, {"t_s": 4.0, "seq": 2}]))
    assert arrival_times_s(Arrivals("recorded", path=path), 60.0, seed=0).tolist() == [0.0, 1.5]


def test_an_unreadable_recording_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "times.txt"
    path.write_text("soon\n")
    with pytest.raises(UsageError):
        arrival_times_s(Arrivals("recorded", path=path), 60.0, seed=0)


def test_a_workload_says_what_the_client_does_with_a_rejected_token(tmp_path: Path) -> None:
    body = 'duration_h = 1\non_expired = "{}"\n[[providers]]\nname = "f"\nkind = "file"\n'
    path = tmp_path / "w.toml"
    path.write_text(body.format("refresh"))
    assert load_workload(str(path)).on_expired == "refresh"
    path.write_text(body.format("pray"))
    with pytest.raises(UsageError, match="on_expired"):
        load_workload(str(path))
