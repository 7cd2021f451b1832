"""Latency models: spec parsing, round trips, and distributions checked in virtual time."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mock_salesforce.errors import ConfigError
from mock_salesforce.latency import (
    Empirical,
    Fixed,
    LatencyModel,
    LogNormal,
    Normal,
    PerToken,
    Uniform,
    format_latency,
    parse_duration_ms,
    parse_latency,
)

N = 20_000


def draw(model: LatencyModel, seed: int = 1, n: int = N, tokens: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [model.sample_ms(rng, tokens) for _ in range(n)]


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [("200ms", 200.0), ("1.5s", 1500.0), ("250", 250.0), (" 2 s ", 2000.0), ("0.25ms", 0.25)],
)
def test_durations_accept_ms_s_and_bare_numbers_as_ms(text: str, expected_ms: float) -> None:
    assert parse_duration_ms(text) == expected_ms


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("fixed:200ms", Fixed(200.0)),
        ("200ms", Fixed(200.0)),
        ("none", Fixed(0.0)),
        ("fixed:ms=1s", Fixed(1000.0)),
        ("uniform:100ms..300ms", Uniform(100.0, 300.0)),
        ("uniform:lo=0.1s,hi=0.3s", Uniform(100.0, 300.0)),
        ("normal:mean=200ms,sd=50ms", Normal(200.0, 50.0)),
        ("lognormal:median=800ms,sigma=0.5", LogNormal(800.0, 0.5)),
        ("empirical:[120ms,180ms,2s]", Empirical((120.0, 180.0, 2000.0))),
        ("fixed:10ms,per_token=2ms", PerToken(Fixed(10.0), 2.0)),
    ],
)
def test_specs_parse_to_the_documented_models(spec: str, expected: LatencyModel) -> None:
    assert parse_latency(spec) == expected


def test_lognormal_from_p50_and_p99_has_those_quantiles() -> None:
    model = parse_latency("lognormal:p50=800ms,p99=3s")
    assert isinstance(model, LogNormal)
    assert model.quantile_ms(0.5) == pytest.approx(800.0)
    assert model.quantile_ms(0.99) == pytest.approx(3000.0)


@pytest.mark.parametrize(
    "spec",
    [
        "fixed:200ms",
        "fixed:0.125ms",
        "uniform:100ms..300ms",
        "normal:mean=200ms,sd=50ms",
        "lognormal:median=800ms,sigma=0.5",
        "lognormal:p50=800ms,p99=3s",
        "empirical:[120ms,180.5ms,2s]",
        "lognormal:median=800ms,sigma=0.5,per_token=2ms",
    ],
)
def test_format_round_trips_through_parse(spec: str) -> None:
    model = parse_latency(spec)
    assert parse_latency(format_latency(model)) == model


@pytest.mark.parametrize(
    ("spec", "named_part"),
    [
        ("gamma:shape=2", "gamma"),
        ("fixed:fast", "fast"),
        ("normal:mean=200ms", "sd"),
        ("uniform:300ms..100ms", "lo <= hi"),
        ("lognormal:median=800ms,sigma=big", "big"),
        ("lognormal:median=800ms", "sigma"),
        ("fixed:200ms,jitter=5ms", "jitter"),
        ("fixed:-5ms", "-5ms"),
        ("empirical:[]", "no samples"),
        ("empirical:file=/nonexistent/rec.json", "/nonexistent/rec.json"),
        ("fixed:200ms,per_token=2ms,per_token=3ms", "per_token"),
    ],
)
def test_bad_specs_raise_config_error_naming_the_bad_part(spec: str, named_part: str) -> None:
    with pytest.raises(ConfigError, match=r"^[^\n]*$") as info:
        parse_latency(spec)
    assert named_part in str(info.value)


def test_same_seed_gives_the_same_latencies() -> None:
    model = parse_latency("lognormal:median=800ms,sigma=0.5")
    assert draw(model, seed=7, n=100) == draw(model, seed=7, n=100)
    assert draw(model, seed=7, n=100) != draw(model, seed=8, n=100)


def test_lognormal_median_and_p99_match_the_spec_over_20000_samples() -> None:
    samples = sorted(draw(parse_latency("lognormal:median=800ms,sigma=0.5")))
    expected_p99 = 800 * math.exp(0.5 * stats.norm.ppf(0.99))
    assert samples[N // 2] == pytest.approx(800, rel=0.03)
    assert samples[int(N * 0.99)] == pytest.approx(expected_p99, rel=0.06)


def test_lognormal_passes_a_ks_test_against_its_distribution() -> None:
    samples = draw(parse_latency("lognormal:median=800ms,sigma=0.5"))
    result = stats.kstest(samples, stats.lognorm(s=0.5, scale=800).cdf)
    assert result.pvalue > 0.001


def test_ks_test_rejects_a_lognormal_with_the_wrong_sigma() -> None:
    samples = draw(parse_latency("lognormal:median=800ms,sigma=0.6"))
    assert stats.kstest(samples, stats.lognorm(s=0.5, scale=800).cdf).pvalue < 0.001


def test_uniform_passes_a_ks_test_and_stays_in_bounds() -> None:
    samples = draw(parse_latency("uniform:100ms..300ms"))
    assert min(samples) >= 100 and max(samples) <= 300
    assert stats.kstest(samples, stats.uniform(loc=100, scale=200).cdf).pvalue > 0.001


def test_normal_passes_a_ks_test_when_far_from_zero() -> None:
    samples = draw(parse_latency("normal:mean=200ms,sd=20ms"))
    assert stats.kstest(samples, stats.norm(loc=200, scale=20).cdf).pvalue > 0.001


def test_normal_is_clipped_at_zero() -> None:
    samples = draw(parse_latency("normal:mean=10ms,sd=50ms"))
    assert min(samples) == 0.0
    assert sum(1 for s in samples if s == 0.0) / N == pytest.approx(stats.norm.cdf(-0.2), abs=0.02)


def test_fixed_is_exact_and_per_token_adds_linearly() -> None:
    model = parse_latency("fixed:200ms,per_token=2ms")
    assert set(draw(model, n=10, tokens=0)) == {200.0}
    assert set(draw(model, n=10, tokens=50)) == {300.0}


def test_per_token_term_shifts_a_random_model_by_exactly_tokens_times_rate() -> None:
    base = draw(parse_latency("lognormal:median=800ms,sigma=0.5"), n=50)
    shifted = draw(parse_latency("lognormal:median=800ms,sigma=0.5,per_token=2ms"), n=50, tokens=25)
    assert [s - b for s, b in zip(shifted, base, strict=True)] == pytest.approx([50.0] * 50)


def test_empirical_resamples_only_recorded_values_in_even_proportions() -> None:
    samples = draw(parse_latency("empirical:[100ms,200ms,400ms,800ms]"))
    counts = [samples.count(v) for v in (100.0, 200.0, 400.0, 800.0)]
    assert sum(counts) == N
    assert stats.chisquare(counts).pvalue > 0.001


@pytest.mark.parametrize(
    "content",
    [
        "[120, 180, 2000]",
        '{"samples_ms": [120, 180, 2000]}',
        '{"entries": [{"latency_ms": 120}, {"latency_ms": 180}, {"latency_ms": 2000}]}',
        '{"latency_ms": 120}\n{"latency_ms": 180}\n{"latency_ms": 2000}\n',
        "120ms\n180\n2s\n",
        '{"format": "sfperf-recording/2"}\n{"latency_ms": 120}\n{"latency_ms": 180}\n'
        '{"latency_ms": 2000}\n{"latency_ms": 40',  # record mode's, cut short by a crash
    ],
)
def test_empirical_reads_recordings_in_several_formats(tmp_path: Path, content: str) -> None:
    path = tmp_path / "recording.json"
    path.write_text(content)
    model = parse_latency(f"empirical:file={path}")
    assert model == Empirical((120.0, 180.0, 2000.0))
    assert parse_latency(format_latency(model)) == model


def test_an_unreadable_recording_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "recording.json"
    path.write_text(json.dumps({"something": "else"}))
    with pytest.raises(ConfigError, match="latency recording"):
        parse_latency(f"empirical:file={path}")


durations_ms = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
models = st.one_of(
    st.builds(Fixed, durations_ms),
    st.tuples(durations_ms, durations_ms).map(lambda lh: Uniform(min(lh), max(lh))),
    st.builds(Normal, durations_ms, durations_ms),
    st.builds(LogNormal, durations_ms.filter(lambda v: v > 0), st.floats(0, 5)),
    st.lists(durations_ms, min_size=1, max_size=5).map(lambda v: Empirical(tuple(v))),
)


@given(model=models, per_token_ms=st.none() | durations_ms)
def test_any_model_round_trips_exactly_through_its_spec(
    model: LatencyModel, per_token_ms: float | None
) -> None:
    if per_token_ms is not None:
        model = PerToken(model, per_token_ms)
    assert parse_latency(format_latency(model)) == model
