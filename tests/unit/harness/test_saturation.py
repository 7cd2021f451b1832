"""The knee of a sweep curve and the shape past it, from points a test states outright."""

from __future__ import annotations

import pytest

from harness.records import capture_environment
from harness.runners.support.closedloop import Sample, Window
from harness.runners.sweep import Measured, SubjectRun, level_record
from harness.saturation import LevelPoint, level_points, saturation_of

L_MS = 200.0
ENV = capture_environment()


def point(
    level: int, rps: float, p50_ms: float = L_MS, errors: float = 0.0, **kw: float
) -> LevelPoint:
    return LevelPoint(level, rps, level / (L_MS / 1000), p50_ms, p50_ms * 1.2, errors, **kw)


def test_a_subject_within_the_bound_at_every_level_scales() -> None:
    found = saturation_of([point(1, 4.9), point(8, 39.0), point(64, 300.0)])
    assert (found.knee, found.shape, found.top) == (64, "scales", 64)
    assert found.detail == "in step with concurrency up to 64"


def test_one_noisy_level_under_the_bound_does_not_move_the_knee_down() -> None:
    found = saturation_of([point(1, 4.9), point(8, 35.0), point(32, 152.0), point(64, 304.0)])
    assert (found.knee, found.shape) == (64, "scales")


def test_a_pool_of_four_is_a_cap_of_about_four_requests_in_flight() -> None:
    # 200 ms a request, 4 at a time: 20 req/s however many callers wait.
    points = [point(1, 5.0), point(2, 10.0), point(4, 19.8), point(8, 20.0, 400.0),
              point(16, 20.1, 800.0)]  # fmt: skip
    found = saturation_of(points, "launch:app")
    assert (found.knee, found.shape) == (4, "cap")
    assert found.cap == pytest.approx(4.0, rel=0.02)
    assert "20 req/s" in found.detail and "4.0 requests in flight" in found.detail


def test_a_cap_says_whether_the_subject_was_cpu_bound_when_its_cpu_was_counted() -> None:
    def capped(share: float, waited: float = 0.0) -> str:
        cpu = {"busiest_cpu_share": share, "busiest_wait_share": waited}
        points = [point(1, 5.0), point(8, 20.0, 400.0, **cpu), point(16, 20.0, 800.0, **cpu)]
        return saturation_of(points).detail

    assert "(CPU-bound: its busiest process used 97% of a core)" in capped(0.97)
    assert "(not CPU-bound: its busiest process used 12% of a core" in capped(0.12)
    starved = capped(0.60, waited=0.35)  # ready to run, but the machine had no core free
    assert "starved of a core: its busiest process ran 60% of the time and waited 35%" in starved


def test_a_cap_below_the_second_level_has_no_knee_past_the_first() -> None:
    points = [point(1, 4.8), point(8, 10.0, 800.0), point(32, 10.0, 3200.0)]
    found = saturation_of(points)
    assert (found.knee, found.shape) == (1, "cap")
    assert found.cap == pytest.approx(2.0, rel=0.02)


def test_falling_throughput_is_a_collapse() -> None:
    points = [point(1, 5.0), point(8, 39.0), point(32, 150.0), point(64, 90.0), point(128, 60.0)]
    found = saturation_of(points)
    assert (found.knee, found.shape) == (32, "collapse")
    assert "150 req/s at concurrency 32 to 60 at 128" in found.detail


def test_rising_errors_are_failure_under_load_before_anything_else() -> None:
    points = [
        point(1, 5.0),
        point(8, 39.0),
        point(32, 60.0, errors=0.2),
        point(64, 30.0, errors=0.6),
    ]
    found = saturation_of(points)
    assert (found.knee, found.shape) == (8, "failure")
    assert "60.0% at 64" in found.detail


def test_a_target_matching_a_client_that_fell_short_is_not_blamed() -> None:
    # The client itself reached only 900 req/s of the 1280 bound at 256; so did the target.
    points = [point(1, 5.0, ceiling_rps=5.0), point(128, 630.0, ceiling_rps=635.0),
              point(256, 880.0, ceiling_rps=900.0)]  # fmt: skip
    found = saturation_of(points)
    assert (found.knee, found.shape) == (128, "client-bound")
    assert "900 req/s" in found.detail


def test_a_subject_measured_by_a_busy_client_is_not_blamed_either() -> None:
    points = [point(1, 5.0), point(128, 630.0), point(256, 700.0, client_cpu_share=0.93)]
    found = saturation_of(points)
    assert (found.knee, found.shape) == (128, "client-bound")
    assert "the sweep's client used 93% of a core" in found.detail


def test_throughput_still_rising_far_below_the_bound_is_sub_linear() -> None:
    points = [point(1, 5.0), point(8, 39.0), point(32, 80.0), point(64, 120.0), point(128, 200.0)]
    found = saturation_of(points)
    assert found.shape == "sub-linear"
    assert found.detail == (
        "sub-linear: from concurrency 32 throughput grows more slowly than concurrency, "
        "to 31% of the bound at 128"
    )


def test_a_gateway_slower_than_the_bound_from_the_start_has_no_knee_but_a_shape() -> None:
    # 50 ms of its own on every request: 80% of the bound at any level, and it keeps pace.
    found = saturation_of([point(1, 4.0, 250.0), point(8, 32.0, 250.0)])
    assert (found.knee, found.shape) == (None, "scales")
    assert found.detail == (
        "under 90% of the bound from concurrency 1 (80%, p50 250 ms); "
        "in step with concurrency up to 8"
    )
    capped = saturation_of([point(1, 4.0, 250.0), point(2, 8.0, 250.0), point(8, 8.0, 1000.0),
                            point(16, 8.0, 2000.0)])  # fmt: skip
    assert (capped.knee, capped.shape) == (None, "cap")
    assert capped.cap == pytest.approx(2.0, rel=0.02)


def test_only_successful_requests_count_as_throughput_and_the_ceiling_joins_http_subjects() -> None:
    def record(subject: str, kind: str, level: int, ok: bool) -> object:
        samples = tuple(Sample(0.2 * k, L_MS, ok, worker=0) for k in range(1, 6))
        run = SubjectRun(subject, kind, lambda *_: Measured(Window((), 1.0, 0)))
        return level_record(run, level, L_MS, Measured(Window(samples, 1.0, 0)),
                            environment=ENV, params={})  # fmt: skip

    records = [record("ceiling", "ceiling", 1, True), record("app", "target", 1, False),
               record("async", "client", 1, True)]  # fmt: skip
    points = level_points(records)  # type: ignore[arg-type]
    (app,) = points["app", "200"]
    assert app.throughput_rps == 0.0 and app.error_rate == 1.0
    assert app.ceiling_rps == pytest.approx(5.0)
    assert points["async", "200"][0].ceiling_rps is None  # its own client, no HTTP
    assert points["ceiling", "200"][0].ceiling_rps is None
