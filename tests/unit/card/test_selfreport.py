import pytest

from harness.card.selfreport import (
    AGREES_WITHIN,
    meaning_of,
    numeric_fields,
    pair_figures,
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
