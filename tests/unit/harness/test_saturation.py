"""The knee of a sweep curve and the shape past it, from points a test states outright."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from harness.blocking import PARAM as BLOCKING
from harness.blocking import ClientCalls
from harness.fidelity import FidelityTally
from harness.records import RunRecord, capture_environment, make_series
from harness.runners.support.closedloop import Sample, Window
from harness.runners.sweep import Measured, SubjectRun, level_record
from harness.saturation import LevelPoint, level_points, saturation_of, saturations

L_MS = 200.0
ENV = capture_environment()


def point(
    level: int, rps: float, p50_ms: float = L_MS, errors: float = 0.0, **kw: Any
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


def test_a_pool_between_the_top_two_levels_is_a_cap_from_the_top_level_alone() -> None:
    # FastAPI's sync routes share 40 threads: 32 callers all served, 64 leave 24 queued.
    points = [point(1, 4.6, 215.0), point(8, 36.0, 220.0), point(32, 136.3, 235.0),
              point(64, 181.4, 353.0)]  # fmt: skip
    found = saturation_of(points, "launch:em_server")
    assert found.shape == "cap"
    assert found.cap == pytest.approx(39.0, abs=1.0)
    assert found.detail.startswith(
        "concurrency cap: at concurrency 64 about 39 requests are served at once "
        "(181 req/s at 215 ms each) and the other 25 wait"
    )


def test_a_few_requests_short_of_the_top_level_are_not_called_a_cap() -> None:
    # Four in flight, 2.5 served at once: too few queued to tell a pool from a busy machine.
    found = saturation_of([point(1, 5.0), point(2, 9.8, 205.0), point(4, 12.5, 320.0)])
    assert found.shape == "sub-linear"


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
    assert found.detail == (
        "failure under load: errors rise from 0% at concurrency 8 to 20% at 32 and 60% at 64"
    )


def test_a_subject_whose_process_exited_is_said_so_not_failing_under_load() -> None:
    # It died at its 41st request, during concurrency 8; nothing was measured after (R85).
    gone = "exited with code 137 (128 + SIGKILL: killed, out of memory?)"
    points = [point(1, 5.0), point(4, 19.5), point(8, 10.0, errors=0.9, exited=gone)]
    found = saturation_of(points, planned=(1, 4, 8, 16, 32))
    assert (found.knee, found.shape) == (4, "exited")
    assert found.detail.startswith(f"the process {gone} at concurrency 8: the requests refused "
                                   "after it are not a failure under load")  # fmt: skip
    assert "; before it, scales: " in found.detail and "failure under load:" not in found.detail
    assert found.detail.endswith("; concurrency 16, 32 planned but not measured")


def test_errors_rising_but_under_half_past_the_knee_are_failure_under_load_too() -> None:
    points = [point(1, 5.0), point(8, 39.0), point(32, 140.0, errors=0.03),
              point(64, 280.0, errors=0.08)]  # fmt: skip
    found = saturation_of(points)
    assert (found.knee, found.shape) == (8, "failure")
    assert found.detail == (
        "failure under load: errors rise from 0% at concurrency 8 to 3% at 32 and 8% at 64"
    )


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
    # R130: a ceiling whose own requests failed (a token it kept past its life) is no bound.
    broken = [record("ceiling", "ceiling", 1, False), record("app", "target", 1, True)]
    assert level_points(broken)["app", "200"][0].ceiling_rps is None  # type: ignore[arg-type]


# -- broken and partly broken targets: never said to scale -----------------------------------


def failing(
    level: int, errors: float = 1.0, rps: float = 0.0, p50_ms: float = math.nan
) -> LevelPoint:
    """A level whose requests (nearly) all failed: fast errors, no ok latency."""
    return point(level, rps, p50_ms, errors)


def test_a_target_failing_every_request_at_every_level_is_broken_not_scaling() -> None:
    # R1: a Flask gateway that answered 500 to every request, 2-125 ms each, at 1 to 64.
    found = saturation_of([failing(1), failing(8), failing(32), failing(64)], "launch:app")
    assert (found.knee, found.shape, found.peak_rps) == (None, "broken", 0.0)
    assert found.detail == "fails at every level: 100% errors from concurrency 1 to 64"


def test_a_reply_cache_answering_other_prompts_without_calling_the_upstream_is_named() -> None:
    # R65 leftover: a loose reply cache was "broken: fails at every level: 87-98% errors".
    def cached(level: int, errors: float) -> RunRecord:
        samples = tuple(Sample(0.2 * k, 2.0, k > 10 * errors, worker=0) for k in range(1, 11))
        run = SubjectRun("launch:tornado_gw", "target", lambda *_: Measured(Window((), 1.0, 0)))
        measured = Measured(Window(samples, 1.0, 0), FidelityTally(checked=100),
                            crossed_uncalled=round(100 * errors))  # fmt: skip
        return level_record(run, level, L_MS, measured, environment=ENV, params={})

    found = saturations([cached(1, 0.9), cached(8, 0.9), cached(64, 1.0)])[0]
    assert found.shape == "broken"
    assert found.detail == (
        "fails at every level: 90-100% errors from concurrency 1 to 64; at every level "
        "90-100% of its replies were the upstream's answer to another prompt, given without an "
        "upstream call: a reply cache whose key leaves out part of the prompt"
    )


def test_a_level_answering_most_requests_with_fast_errors_is_never_in_step() -> None:
    # Errors answered in 1 ms leave the callers free: the few ok replies still reach the bound.
    points = [failing(1, errors=0.6, rps=4.8, p50_ms=200.0),
              failing(8, errors=0.9, rps=39.0, p50_ms=200.0)]  # fmt: skip
    found = saturation_of(points)
    assert (found.knee, found.shape) == (None, "broken")
    assert found.detail == "fails at every level: 60-90% errors from concurrency 1 to 8"


def test_a_target_that_only_works_at_the_first_level_fails_under_load() -> None:
    found = saturation_of([point(1, 4.9), failing(8), failing(32), failing(64)])
    assert (found.knee, found.shape) == (1, "failure")
    assert found.detail == "failure under load: errors rise from 0% at concurrency 1 to 100% at 8"


def test_errors_that_fall_as_concurrency_rises_are_named_with_what_else_explains_them() -> None:
    found = saturation_of([failing(1), point(8, 39.0), point(32, 155.0), point(64, 310.0)])
    assert (found.knee, found.shape) == (64, "failure")
    assert found.detail == (
        "errors fall as concurrency rises: 100% at concurrency 1, 0% from 8; the levels run "
        "lowest first, so a slow start (a token fetch, a cold cache) looks the same"
    )


def test_a_level_failing_between_working_ones_is_not_hidden_under_the_knee() -> None:
    found = saturation_of([point(1, 4.9), failing(8, errors=0.7), point(32, 155.0),
                           point(64, 310.0)])  # fmt: skip
    assert (found.knee, found.shape) == (64, "failure")
    assert found.detail == "fails at some levels only: 70% errors at concurrency 8, 0% at 1, 32, 64"


def test_errors_under_half_that_do_not_rise_are_named_beside_the_shape() -> None:
    points = [point(1, 4.5, errors=0.1), point(8, 36.0, errors=0.1), point(32, 144.0, errors=0.1)]
    found = saturation_of(points)
    assert (found.knee, found.shape) == (32, "scales")
    assert found.detail == "in step with concurrency up to 32; errors at every level: 10%"
    nearly = saturation_of([point(1, 4.9, errors=0.004), point(8, 39.0, errors=0.012)])
    assert nearly.detail.endswith("; errors at concurrency 8: 1%")


def test_one_level_gives_its_figures_but_no_shape() -> None:
    found = saturation_of([point(8, 39.0)])
    assert (found.knee, found.shape) == (8, "one-level")
    assert found.detail == (
        "one level measured (concurrency 8): 39 req/s, 98% of the bound; "
        "a shape needs two levels or more"
    )
    only = saturation_of([failing(8)])
    assert (only.shape, only.detail) == (
        "broken",
        "fails at the one level measured: 100% errors at concurrency 8",
    )


def test_levels_a_stopped_run_never_measured_are_named_not_guessed() -> None:
    found = saturation_of([point(1, 4.9), point(8, 39.0)], planned=(1, 8, 32, 64))
    assert (found.knee, found.shape, found.top) == (8, "scales", 8)
    assert found.detail == (
        "in step with concurrency up to 8; concurrency 32, 64 planned but not measured"
    )
    nothing = saturation_of([], planned=(1, 8))
    assert (nothing.shape, nothing.detail) == ("no-data", "no level was measured")


def test_a_level_whose_window_measured_nothing_is_dropped_not_read_as_a_collapse() -> None:
    def record(level: int, samples: tuple[Sample, ...]) -> RunRecord:
        run = SubjectRun("app", "target", lambda *_: Measured(Window((), 1.0, 0)))
        params = {"levels": [1, 8, 32]}
        return level_record(run, level, L_MS, Measured(Window(samples, 1.0, 0)),
                            environment=ENV, params=params)  # fmt: skip

    answered = tuple(Sample(0.2 * k, L_MS, True, worker=0) for k in range(1, 6))
    records = [record(1, answered), record(8, answered), record(32, ())]
    (found,) = saturations(records)
    assert [p.concurrency for p in level_points(records)["app", "200"]] == [1, 8]
    assert found.shape != "collapse"
    assert found.detail.endswith("concurrency 32 planned but not measured")


def test_latency_of_a_level_is_the_latency_of_its_successful_requests() -> None:
    samples = (Sample(0.2, 200.0, True), Sample(0.21, 2.0, False), Sample(0.22, 3.0, False),
               Sample(0.4, 220.0, True))  # fmt: skip
    run = SubjectRun("app", "target", lambda *_: Measured(Window((), 1.0, 0)))
    record = level_record(run, 2, L_MS, Measured(Window(samples, 1.0, 0)), environment=ENV,
                          params={})  # fmt: skip
    (only,) = level_points([record])["app", "200"]
    assert only.p50_ms == pytest.approx(210.0) and only.error_rate == 0.5
    broken = level_record(run, 2, L_MS, Measured(Window(samples[1:3], 1.0, 0)),
                          environment=ENV, params={})  # fmt: skip
    (none_ok,) = level_points([broken])["app", "200"]
    assert math.isnan(none_ok.p50_ms) and none_ok.failing


def test_a_gateways_own_429s_with_retry_after_are_its_rate_limit_not_a_failure() -> None:
    # R74: 20 req/s admitted, the rest answered 429 + Retry-After: 1 with no upstream call.
    def limited(level: int, share: float) -> LevelPoint:
        return point(level, 20.0, errors=share, limited_share=share, retry_after_s=1.0,
                     upstream_429=0)  # fmt: skip

    found = saturation_of([point(1, 4.9, upstream_429=0), limited(8, 0.9), limited(64, 0.99)])
    assert (found.knee, found.shape) == (1, "rate-limit")
    assert found.detail == (
        "rate limit: from concurrency 8 it answers 429 with Retry-After 1 s to 90-99% of "
        "requests (the upstream sent none), serving 20 ok req/s; the sweep's client waited as "
        "told: a limit it holds, not a failure under load"
    )


def test_a_limit_answered_429_without_retry_after_is_a_limit_it_holds_not_a_failure() -> None:
    # R137: nginx `limit_conn perip 4` answers the rest 429 at once: "failure under load: errors
    # rise ... to 99.8%", sfperf's client re-sending ~2,000 refused requests a second.
    def limited(level: int, share: float) -> LevelPoint:
        return point(level, 17.5, errors=share, limited_share=share, upstream_429=0)

    found = saturation_of([point(1, 4.8, upstream_429=0), limited(8, 0.3), limited(32, 0.7)])
    assert (found.knee, found.shape) == (1, "rate-limit")
    assert found.detail == (
        "rate limit: from concurrency 8 it answers 429 without a Retry-After to 30-70% of "
        "requests (the upstream sent none), serving 18 ok req/s, about 3.5 at once; the sweep's "
        "client backed off 0.5 s after each, as an OpenAI client does: a limit it holds, not a "
        "failure under load (a limit on requests at once per client address holds every sfperf "
        "client alike: they all come from 127.0.0.1)"
    )


def test_429s_the_upstream_sent_or_errors_beside_them_are_still_a_failure() -> None:
    passed_on = point(8, 20.0, errors=0.9, limited_share=0.9, retry_after_s=1.0, upstream_429=50)
    mixed = point(8, 20.0, errors=0.9, limited_share=0.3, retry_after_s=1.0, upstream_429=0)
    for top in (passed_on, mixed):
        assert saturation_of([point(1, 4.9), top]).shape == "failure"


def test_a_levels_429s_with_retry_after_are_read_from_its_record() -> None:
    statuses = (200, 429) * 3
    samples = tuple(
        Sample(0.1 * k, 1.0, status == 200, status=status, retry_after_s=(status == 429) * 2.0)
        for k, status in enumerate(statuses)
    )
    run = SubjectRun("app", "target", lambda *_: Measured(Window((), 1.0, 0)))
    measured = Measured(Window(samples, 1.0, 0), http=True, upstream_429=0)
    record = level_record(run, 4, L_MS, measured, environment=ENV, params={})
    (found,) = level_points([record])["app", "200"]
    assert (found.limited_share, found.retry_after_s, found.upstream_429) == (0.5, 2.0, 0)
    unasked = [replace(sample, retry_after_s=0.0) for sample in samples]
    bare = level_record(run, 4, L_MS, replace(measured, window=Window(tuple(unasked), 1.0, 0)),
                        environment=ENV, params={})  # fmt: skip
    (found,) = level_points([bare])["app", "200"]
    assert (found.limited_share, found.retry_after_s) == (0.5, 0.0)


def test_served_at_once_still_growing_at_the_top_level_is_sub_linear_not_a_cap() -> None:
    # R68: a gevent gateway with no pool on a busy 2-core machine served 27 at once at 32 and
    # 48 at 64 (1.79x): a cap stops growing, this did not. The same gateway a minute later,
    # a hair to the other side of the thresholds, was sub-linear: now both are.
    busy = {"load_1m": 3.2, "cpu_count": 2, "busiest_cpu_share": 0.2}
    points = [point(1, 4.9, 204.1), point(8, 38.0, 208.0), point(32, 130.8, 240.0, **busy),
              point(64, 234.5, 276.0, **busy)]  # fmt: skip
    found = saturation_of(points, "launch:wsgi_gw")
    assert found.shape == "sub-linear"
    assert found.detail.endswith(
        "(the machine was busy: load 3.2 on 2 CPUs; a cap and a wait for a core look the same here)"
    )


def test_a_cap_on_a_busy_machine_does_not_blame_a_pool_it_cannot_tell_from_a_wait() -> None:
    cpu = {"busiest_cpu_share": 0.2, "load_1m": 3.2, "cpu_count": 2}
    points = [point(1, 5.0), point(8, 20.0, 400.0, **cpu), point(16, 20.0, 800.0, **cpu)]
    detail = saturation_of(points).detail
    assert "used 20% of a core, but the machine was busy: load 3.2 on 2 CPUs" in detail
    assert "holds it back" not in detail


def test_a_flat_cap_on_a_busy_machine_with_room_beside_it_is_still_a_pool() -> None:
    # The sweep's client reached 76 req/s against the mock at 8 while the subject stayed at 19:
    # the machine, busy as it was, had room; 4% of a core is a subject waiting on itself.
    busy = {"busiest_cpu_share": 0.04, "load_1m": 6.5, "cpu_count": 2}
    points = [point(2, 19.0, 104.0, ceiling_rps=19.3, **busy),
              point(4, 19.0, 210.0, ceiling_rps=38.4, **busy),
              point(8, 19.1, 418.0, ceiling_rps=75.6, **busy)]  # fmt: skip
    detail = saturation_of(points).detail
    assert "(not CPU-bound: its busiest process used 4% of a core" in detail


def test_a_gateway_whose_own_cpu_per_request_explains_its_ceiling_is_called_cpu_bound() -> None:
    # R68 addendum 2: 8 ms of CPU per request burnt in the event loop: 88 req/s at 64 on a
    # busy machine was "sub-linear ... a cap and a wait for a core look the same here".
    busy = {"load_1m": 5.4, "cpu_count": 2}
    points = [point(1, 4.6, 215.0, cpu_ms_per_request=7.5, **busy),
              point(8, 29.0, 284.0, cpu_ms_per_request=6.8, busiest_cpu_share=0.17,
                    busiest_wait_share=0.17, **busy),
              point(32, 67.6, 474.0, cpu_ms_per_request=8.2, busiest_cpu_share=0.46,
                    busiest_wait_share=0.26, **busy),
              point(64, 87.8, 704.0, cpu_ms_per_request=8.2, busiest_cpu_share=0.52,
                    busiest_wait_share=0.27, **busy)]  # fmt: skip
    found = saturation_of(points, "launch:tornado_gw")
    assert found.shape == "sub-linear"
    assert found.detail.endswith(
        "; CPU-bound: 8.2 ms of CPU per request, so a core serves at most about 122 req/s of "
        "it; at 64 it served 88 req/s (0.72 of a core in all), its busiest process running 52% "
        "of the time and waiting 27% for a core (load 5.4 on 2 CPUs)"
    )


def test_a_lean_gateway_on_the_same_busy_machine_is_not_called_cpu_bound() -> None:
    # The gevent control: 1.1 ms a request, its busiest process runnable 44% of the time.
    cpu = {"load_1m": 5.5, "cpu_count": 2, "cpu_ms_per_request": 1.1,
           "busiest_cpu_share": 0.19, "busiest_wait_share": 0.24}  # fmt: skip
    points = [point(1, 4.4, 221.0), point(8, 37.0, 213.0), point(32, 135.0, 237.0, **cpu),
              point(64, 212.0, 295.0, **cpu)]  # fmt: skip
    detail = saturation_of(points).detail
    assert "CPU-bound" not in detail and "a cap and a wait for a core look the same" in detail
    # Starved of a core but spending little of it: the machine's, not its own CPU.
    lean = {"busiest_cpu_share": 0.60, "busiest_wait_share": 0.35, "cpu_ms_per_request": 0.3}
    capped = [point(1, 5.0), point(8, 20.0, 400.0, **lean), point(16, 20.0, 800.0, **lean)]
    assert "starved of a core" in saturation_of(capped).detail


def capped_at_one(subject: str) -> list[RunRecord]:
    """A sweep of `subject` serving about 5 req/s at 205 ms a request at every level: a cap of
    about one request in flight."""

    def level(concurrency: int, p50_ms: float) -> RunRecord:
        samples = tuple(Sample(0.2 * k, p50_ms, True, worker=0) for k in range(1, 6))
        run = SubjectRun(subject, "target", lambda *_: Measured(Window((), 1.0, 0)))
        window = Window(samples, 0.2 * 5 * 200 / p50_ms, 0)  # about 5 req/s at every level
        return level_record(run, concurrency, L_MS, Measured(window), environment=ENV, params={})

    return [level(1, 205.0), level(8, 1640.0), level(16, 3280.0)]


def profile_of(subject: str, *frames: str, calls: ClientCalls | None = None) -> RunRecord:
    """A profile record of `subject` with `frames` as its top frames and, when given, whose
    thread ran its synchronous HTTP client (`calls`)."""
    params = {} if calls is None else {BLOCKING: calls.as_params()}
    shares = tuple(make_series(f"share:{f}", "ratio", [0.1]) for f in frames)
    return RunRecord("profile", "gateway", params, ENV, shares, labels={"variant": subject})


def test_a_cap_of_one_with_a_sync_client_on_its_event_loop_says_so_from_its_profile() -> None:
    # R104: requests.Session in an async Litestar route: "about 1.1 requests in flight ... a
    # pool, a lock or a queue holds it back", while its profile had requests under litestar.
    sweep = capped_at_one("launch:gw")
    on_loop = ClientCalls(("requests",), ("litestar", "uvicorn"), 1.5, 0.0, loop_seen=True)
    blocked = profile_of("launch:gw", "<built-in>:socket.recv_into", calls=on_loop)
    (found,) = [s for s in saturations([*sweep, blocked]) if s.subject == "launch:gw"]
    assert found.shape == "cap" and found.cap is not None and found.cap < 1.5
    assert found.detail.endswith(
        "; its profile shows why: requests (a synchronous HTTP client) called on the event "
        "loop's own thread (under litestar, uvicorn): a blocking call on the event loop, whose "
        "one thread waits out each whole upstream call, serves one request at a time; call the "
        "upstream with an async client (httpx.AsyncClient, aiohttp) or in a thread"
    )
    older = profile_of("launch:gw", "requests/sessions.py:Session.send",
                       "litestar/routes/http.py:HTTPRoute._call_handler_function")  # fmt: skip
    (guessed,) = [s for s in saturations([*sweep, older]) if s.subject == "launch:gw"]
    assert "; its profile suggests why: requests (a synchronous HTTP client) beside" in (
        guessed.detail
    )
    threaded = profile_of("launch:gw", "requests/sessions.py:Session.send",
                          "werkzeug/serving.py:handle")  # fmt: skip
    (flask,) = [s for s in saturations([*sweep, threaded]) if s.subject == "launch:gw"]
    assert "its profile s" not in flask.detail


def test_requests_that_failed_on_the_mocks_injected_fault_are_set_apart_not_called_broken() -> None:
    # review7 B6: behind `sfperf mock --fault 500:p=0.5` every level was `failing`: `broken`.
    def level(concurrency: int) -> RunRecord:
        samples = tuple(Sample(0.02 * k, L_MS, k % 2 == 0, worker=0, status=200 if k % 2 == 0
                               else 502, met_fault=k % 2 == 1) for k in range(1, 51))  # fmt: skip
        window = Window(samples, 1.0, 0, concurrency=concurrency)
        run = SubjectRun("launch:gw", "target", lambda *_: Measured(window))
        return level_record(run, concurrency, L_MS, Measured(window), environment=ENV, params={})

    records = [level(1), level(8), level(32)]
    assert records[0].get("met_fault").values[:2] == (1.0, 0.0)
    (found,) = saturations(records)
    assert found.shape == "scales" and found.knee == 32
    assert found.detail == (
        "in step with concurrency up to 32; at every level 50% of its requests failed on a "
        "fault the mock injected: the mock's doing, set apart from its errors and counted as "
        "served"
    )
    (point,) = level_points(records[:1])["launch:gw", "200"]
    assert point.error_rate == 0.0 and point.fault_share == 0.5


def test_a_subject_whose_every_request_failed_on_the_mocks_faults_has_no_shape() -> None:
    points = [
        point(1, 0.0, errors=1.0, fault_share=1.0),
        point(8, 0.0, errors=1.0, fault_share=1.0),
    ]
    found = saturation_of(points)
    assert (found.shape, found.detail) == (
        "no-data", "every request failed on a fault the mock injected")  # fmt: skip
