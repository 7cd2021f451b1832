"""bench/_load.py: the pure parts of the shared benchmark helpers (parsing, requests, guards)."""

from __future__ import annotations

import pytest

from tests.bench_load import load

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:33109/x
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms    1.20ms   8.92ms   86.81%
    Req/Sec     5.06k     1.91k    7.38k    60.00%
  Latency Distribution
     50%  555.00us
     75%    1.08ms
     90%    2.78ms
     99%    1.20s
  5055 requests in 1.00s, 715.80KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   5032.29
Transfer/sec:    712.58KB
"""


def test_wrk_output_parses_into_rates_percentiles_in_ms_and_errors() -> None:
    result = load.parse_wrk(WRK_OUTPUT)
    assert (result.requests, result.duration_s, result.requests_per_s) == (5055, 1.0, 5032.29)
    assert result.latency_ms == pytest.approx({50.0: 0.555, 75.0: 1.08, 90.0: 2.78, 99.0: 1200.0})
    assert (result.non_2xx, result.socket_errors) == (7, 5)


def test_unparseable_wrk_output_is_a_bench_error() -> None:
    with pytest.raises(load.BenchError, match="cannot parse wrk output"):
        load.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_the_wrk_script_escapes_quotes_backslashes_and_newlines() -> None:
    script = load.wrk_post_script(b'{"a": "x\\\\y"}\n', {"Authorization": 'Bearer "t"'})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = "{\\"a\\": \\"x\\\\\\\\y\\"}\\n"' in script
    assert 'wrk.headers["Authorization"] = "Bearer \\"t\\""' in script


def test_percentiles_interpolate_linearly_and_are_nan_when_empty() -> None:
    values = [float(v) for v in range(1, 101)]
    assert load.percentile(values, 50) == pytest.approx(50.5)
    assert load.percentile(values, 99) == pytest.approx(99.01)
    assert load.percentile([3.0], 99) == 3.0
    assert load.percentile([], 50) != load.percentile([], 50)  # nan


def test_the_request_is_serialized_once_with_host_and_content_length() -> None:
    raw = load.http_request_bytes("http://127.0.0.1:8080/a/b?x=1", b"{}", {"X-Y": "z"})
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"POST /a/b?x=1 HTTP/1.1",
        b"Host: 127.0.0.1:8080",
        b"X-Y: z",
        b"Content-Length: 2",
    ]
    assert body == b"{}"


def test_a_response_is_complete_only_when_its_whole_body_arrived() -> None:
    head = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 5\r\n\r\n"
    assert load._complete_response(bytearray(head[:20])) is None
    assert load._complete_response(bytearray(head + b"abc")) is None
    assert load._complete_response(bytearray(head + b"abcde")) == 429


def test_chunked_responses_are_refused_rather_than_misread() -> None:
    with pytest.raises(ConnectionError, match="Content-Length"):
        load._complete_response(bytearray(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))


@pytest.mark.parametrize("url", ["http://10.0.0.5:80/x", "https://api.salesforce.com/x"])
def test_load_is_refused_for_anything_but_loopback(url: str) -> None:
    with pytest.raises(load.BenchError, match="loopback only"):
        load.require_loopback(url)


def test_pinning_prefixes_taskset_only_when_a_core_is_given() -> None:
    assert load.pinned(["wrk", "-c1"], None) == ["wrk", "-c1"]
    if load.shutil.which("taskset"):
        assert load.pinned(["wrk"], 1) == ["taskset", "-c", "1", "wrk"]
