"""A target's own metrics are read as JSON or as Prometheus text, and anything else is said in
one line (R55): prometheus-client and prometheus-fastapi-instrumentator answer the text format."""

from __future__ import annotations

import json

import pytest

from harness.card.selfreport import reported_figures
from harness.targets.metrics_reading import prometheus_document, read_answer

# What the redteam's fa_variants gateway served (prometheus-client), with the lines a default
# registry adds.
EXPOSITION = """\
# HELP gateway_requests_total Chat completions served.
# TYPE gateway_requests_total counter
gateway_requests_total 42.0
# HELP gateway_requests_created Chat completions served.
# TYPE gateway_requests_created gauge
gateway_requests_created 1.7649e+09
# HELP gateway_request_duration_seconds Time to answer a chat completion.
# TYPE gateway_request_duration_seconds summary
gateway_request_duration_seconds_count 42.0
gateway_request_duration_seconds_sum 8.4
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.76490e+09
"""

# prometheus-fastapi-instrumentator: labelled by route, a histogram with buckets.
INSTRUMENTATOR = """\
http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 30.0
http_requests_total{handler="/metrics",method="GET",status="2xx"} 5.0
http_requests_total{handler="/health",method="GET",status="2xx"} 7.0
http_request_duration_seconds_bucket{handler="/v1/chat/completions",le="0.5"} 30.0
http_request_duration_seconds_bucket{handler="/v1/chat/completions",le="+Inf"} 30.0
http_request_duration_seconds_sum{handler="/v1/chat/completions",method="POST"} 6.0
http_request_duration_seconds_count{handler="/v1/chat/completions",method="POST"} 30.0
rpc_latency_milliseconds{quantile="0.5"} 12.0
rpc_latency_milliseconds_sum 300.0
rpc_latency_milliseconds_count 20.0
"""


def test_counters_and_a_summarys_mean_are_read_from_the_text_format() -> None:
    assert prometheus_document(EXPOSITION) == {
        "gateway_requests_total": 42.0,
        "gateway_request_duration_seconds": {"count": 42.0, "sum": 8.4, "mean_seconds": 0.2},
        "process_start_time_seconds": 1.7649e9,
    }


def test_labelled_samples_count_the_chat_route_only_and_buckets_and_quantiles_are_left_out() -> (
    None
):
    document = prometheus_document(INSTRUMENTATOR)
    assert document is not None
    assert document["http_requests_total"] == 30.0
    assert document["http_request_duration_seconds"]["mean_seconds"] == pytest.approx(0.2)
    assert document["rpc_latency_milliseconds"]["mean_ms"] == pytest.approx(15.0)
    assert not any("bucket" in name for name in document)


def test_the_text_formats_figures_pair_like_a_json_documents() -> None:
    before = read_answer("/metrics", (200, EXPOSITION.replace(" 42.0", " 2.0").encode()))
    after = read_answer("/metrics", (200, EXPOSITION.encode()))
    figures = reported_figures(before.document, after.document, first_window=True)
    assert figures == {
        "gateway_requests_total": ("client_requests", 40.0),
        "gateway_request_duration_seconds.mean_seconds": ("mean_latency_ms", pytest.approx(200.0)),
    }


def test_a_json_object_is_read_as_it_is() -> None:
    reading = read_answer("/metrics/performance", (200, json.dumps({"requests": 3}).encode()))
    assert (reading.document, reading.problem) == ({"requests": 3}, "")


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((200, b"<!doctype html>\n<html><body>Dashboard</body></html>"),
         "GET /metrics answered 200: <!doctype html> <html><body>Dashboard</body></html>; sfperf "
         "reads a JSON object or the Prometheus text format"),
        ((404, b'{"detail":"Not Found"}'), 'GET /metrics answered 404: {"detail":"Not Found"}'),
        ((200, b"[1, 2, 3]"), "GET /metrics answered 200: [1, 2, 3]; sfperf reads"),
        (None, "GET /metrics answered nothing"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_is_said_in_one_line(
    answer: tuple[int, bytes] | None, said: str
) -> None:
    reading = read_answer("/metrics", answer)
    assert reading.document is None and said in reading.problem and "\n" not in reading.problem
