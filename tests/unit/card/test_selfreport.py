import pytest

from harness.card.selfreport import (
    AGREES_WITHIN,
    field_account,
    meaning_of,
    numeric_fields,
    pair_figures,
    read_units,
    reported_figures,
)
from harness.claims.ledger import load_ledger
from scenarios import scenario_path


@pytest.mark.parametrize(
    ("field", "meaning"),
    [("requests_total", "client_requests"), ("requests.chat", "client_requests"),
     ("requests.embeddings", None), ("requests.health", None),
     ("upstream_calls_total", "models_requests"), ("upstream.calls", "models_requests"),
     ("token_requests_total", "token_requests"), ("tokens.refreshes", "token_requests"),
     ("token_cache_hit_rate", "token_cache_hit_rate"), ("avg_latency_ms", "mean_latency_ms"),
     ("upstream.latency_mean_ms", None), ("upstream.latency_total_ms", None),
     ("tokens.file_reads", "credential_file_opens"), ("file_opens", "file_opens"),
     ("errors.request.400", None), ("responses_by_status.200", None),
     ("upstream.retries", None), ("extractor.lookups", None)],
)  # fmt: skip
def test_a_field_is_paired_only_when_its_name_says_what_it_counts(
    field: str, meaning: str | None
) -> None:
    assert meaning_of(field) == meaning


def test_numbers_are_found_in_nested_documents_and_booleans_are_not_numbers() -> None:
    document = {"a": 1, "b": {"c": 2.5, "d": True, "e": "x"}, "f": None}
    assert dict(numeric_fields(document)) == {"a": 1.0, "b.c": 2.5}


def test_counters_are_compared_over_the_window_and_levels_only_on_a_first_window() -> None:
    before = {"requests_total": 10, "avg_latency_ms": 90.0, "token_cache_hit_rate": 95}
    after = {"requests_total": 40, "avg_latency_ms": 100.0, "token_cache_hit_rate": 97}
    first = reported_figures(before, after, first_window=True)
    assert first == {"requests_total": ("client_requests", 30.0),
                     "avg_latency_ms": ("mean_latency_ms", 100.0),
                     "token_cache_hit_rate": ("token_cache_hit_rate", 0.97)}  # fmt: skip
    assert set(reported_figures(before, after, first_window=False)) == {"requests_total"}


def test_counts_within_the_in_flight_slack_agree_and_rates_differ_in_points() -> None:
    reported = {"requests_total": ("client_requests", 28.0),
                "hit": ("token_cache_hit_rate", 1.0)}  # fmt: skip
    pairs = pair_figures(reported, {"client_requests": 30.0, "token_cache_hit_rate": 0.9}, 5)
    gaps = {p.field: p.gap for p in pairs}
    assert gaps == {"requests_total": 0.0, "hit": pytest.approx(0.1)}
    assert pair_figures({"x": ("file_opens", 3.0)}, {}, 5) == []


def test_a_counter_past_the_in_flight_slack_is_off_by_the_whole_difference() -> None:
    reported = {"requests_total": ("client_requests", 0.0), "calls": ("models_requests", 12.0)}
    pairs = {p.field: p for p in pair_figures(reported, {"client_requests": 18.0,
                                                          "models_requests": 18.0}, 5)}  # fmt: skip
    assert pairs["requests_total"].gap == pytest.approx(1.0)  # not (18 - 5) / 18
    assert pairs["calls"].gap == pytest.approx(6 / 18) and pairs["calls"].allowed == 5.0
    assert not pairs["requests_total"].agrees and not pairs["calls"].agrees


def test_the_cards_rows_agree_by_the_bound_the_gateway_ledger_claims() -> None:
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    (claim,) = [c for c in ledger.claims if c.id == "gw-self-reported-figures"]
    assert claim.expect.high == AGREES_WITHIN


# Fields of real gateways' metrics documents (the third-party sf-model-api's ASGI and Flask
# servers), and common spellings elsewhere.
@pytest.mark.parametrize(
    ("field", "meaning"),
    [("async_optimization.requests_processed", "client_requests"),
     ("async_optimization.avg_response_time_ms", "mean_latency_ms"),
     ("connection_pool.requests_made", "models_requests"),
     ("connection_pool.errors", None), ("connection_pool.requests_per_session", None),
     ("connection_pool.estimated_time_saved_ms", None), ("connection_pool.max_per_host", None),
     ("connection_pool.reuse_percentage", None), ("async_optimization.uptime_hours", None),
     ("file_io_optimization.actual_file_io_operations", "file_opens"),
     ("file_io_optimization.theoretical_old_file_ops", None),
     ("file_io_optimization.file_io_reduction_percentage", None),
     ("file_io_optimization.token_refresh_count", "token_requests"),
     ("performance_metrics.cache_hit_rate", "token_cache_hit_rate"),
     ("performance_metrics.total_requests", "client_requests"),
     ("performance_metrics.token_ttl_extensions", None),
     ("response_performance.avg_response_time", "mean_latency_ms"),
     ("token_cache_optimization.buffer_time_minutes", None),
     ("stats.total_requests", "client_requests"), ("num_requests", "client_requests"),
     ("average_latency_ms", "mean_latency_ms"), ("mean_duration_s", "mean_latency_ms"),
     ("p99_latency_ms", None), ("request_duration_ms", None),
     ("token_cache.hit_percentage", "token_cache_hit_rate"),
     ("response_cache.hit_rate", None), ("token_loads", "credential_file_opens"),
     ("disk_reads", "file_opens"), ("requests_in_flight", None)],
)  # fmt: skip
def test_fields_are_paired_by_meaning_whatever_their_nesting_and_spelling(
    field: str, meaning: str | None
) -> None:
    assert meaning_of(field) == meaning


def test_a_mean_latency_without_a_unit_is_read_in_the_unit_nearest_the_measured_one() -> None:
    reported = {"rt.avg_response_time": ("mean_latency_ms", 0.95),
                "lies.avg_response_time": ("mean_latency_ms", 0.0),
                "avg_latency_s": ("mean_latency_ms", 900.0)}  # fmt: skip
    figures, notes = read_units(reported, {"mean_latency_ms": 950.0})
    assert figures["rt.avg_response_time"] == ("mean_latency_ms", 950.0)
    assert notes["rt.avg_response_time"] == "no unit in its name: read as s"
    assert figures["lies.avg_response_time"] == ("mean_latency_ms", 0.0)  # wrong in any unit
    assert figures["avg_latency_s"] == ("mean_latency_ms", 900.0) and "avg_latency_s" not in notes


def test_the_account_says_which_fields_were_read_paired_left_uncompared_or_unpaired() -> None:
    before = {"pool": {"requests_made": 0, "max_per_host": 20}, "avg_response_time_ms": 0.0}
    after = {"pool": {"requests_made": 25, "max_per_host": 20}, "avg_response_time_ms": 0.0,
             "async": {"requests_processed": 25}, "file_opens": 0}  # fmt: skip
    measured = {"models_requests": 25.0, "client_requests": 25.0, "mean_latency_ms": 9.0}
    reported = reported_figures(before, after, first_window=False)
    pairs = pair_figures(reported, measured, slack=4)
    account = field_account(before, after, pairs, measured, first_window=False)
    assert account["read"] == 5
    assert account["paired"] == {"pool.requests_made": "models_requests"}
    assert account["not_compared"] == {
        "avg_response_time_ms": "a level: compared on the target's first window only",
        "async.requests_processed": "a counter with no value before the window",
        "file_opens": "sfperf did not measure file opens here",
    }
    assert account["unpaired"] == ["pool.max_per_host"]
