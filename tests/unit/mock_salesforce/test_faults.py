"""Fault plans: spec parsing, exact schedules, seeded probabilities, filters and windows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mock_salesforce.errors import ConfigError
from mock_salesforce.faults import (
    STATUS_KINDS,
    Fault,
    FaultPlan,
    FaultRule,
    format_fault,
    parse_fault,
    unit_draw,
)

CHAT = "chat-generations"
GPT = "sfdc_ai__DefaultGPT4Omni"


def hits(plan: FaultPlan, n: int, endpoint: str = CHAT, model: str = GPT) -> list[int]:
    """The seqs (1-based) of the first n requests that got a fault."""
    return [seq for seq in range(1, n + 1) if plan.decide(endpoint, model, seq, 0.0) is not None]


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("429", Fault("status", status=429)),
        ("429:retry_after=2s", Fault("status", status=429, retry_after_s=2.0)),
        ("503:retry_after=1500ms", Fault("status", status=503, retry_after_s=1.5)),
        ("429:retry_after=3", Fault("status", status=429, retry_after_s=3.0)),
        ("401", Fault("status", status=401)),
        ("reset", Fault("reset")),
        ("empty", Fault("empty")),
        ("hang", Fault("hang")),
        ("hang:duration=30s", Fault("hang", hang_s=30.0)),
        ("truncated", Fault("truncated")),
        ("malformed", Fault("malformed")),
        ("dribble", Fault("dribble", dribble_bytes_per_s=100.0)),
        ("dribble:rate=250B/s", Fault("dribble", dribble_bytes_per_s=250.0)),
    ],
)
def test_every_documented_kind_parses_to_its_fault(spec: str, fault: Fault) -> None:
    assert parse_fault(spec).fault == fault


def test_fault_labels_name_the_status_or_the_kind() -> None:
    assert parse_fault("429:p=0.5").fault.label == "429"
    assert parse_fault("reset:every=2").fault.label == "reset"


def test_windows_accept_units_and_bare_seconds() -> None:
    assert parse_fault("reset:window=10s-20s").window_s == (10.0, 20.0)
    assert parse_fault("reset:window=500ms-1.5").window_s == (0.5, 1.5)


def test_filters_and_triggers_parse() -> None:
    rule = parse_fault("500:p=5%,every=3,first=9,window=10-20,endpoint=generations|embeddings")
    assert rule == FaultRule(
        Fault("status", status=500),
        endpoints=("generations", "embeddings"),
        window_s=(10.0, 20.0),
        probability=0.05,
        every=3,
        first=9,
    )


@pytest.mark.parametrize(
    "spec",
    [
        "429:p=0.1,retry_after=2s",
        "500:every=10",
        "reset:first=3",
        "503:window=10-20.5",
        "hang:p=0.01,duration=30s",
        "dribble:p=0.05,rate=200",
        "malformed:p=0.2,model=sfdc_ai__DefaultGPT4Omni|sfdc_ai__*Claude*",
        "truncated:every=5,endpoint=chat-generations",
    ],
)
def test_format_round_trips_through_parse(spec: str) -> None:
    rule = parse_fault(spec)
    assert parse_fault(format_fault(rule)) == rule
    assert parse_fault(rule.spec).spec == rule.spec


@pytest.mark.parametrize(
    ("spec", "named_part"),
    [
        ("418", "418"),
        ("boom:p=0.1", "boom"),
        ("429:p=1.5", "p must"),
        ("429:p=lots", "lots"),
        ("500:every=0", "every"),
        ("500:first=-1", "first"),
        ("500:retry_after=2s", "retry_after"),
        ("503:window=20-10", "window"),
        ("503:window=10", "window"),
        ("503:window=soon-later", "soon"),
        ("dribble:rate=0", "rate"),
        ("hang:duration=forever", "forever"),
        ("500:colour=red", "colour"),
        ("500:p", "'p'"),
        ("500:p=0.1,p=0.2", "twice"),
    ],
)
def test_bad_specs_raise_config_error_naming_the_bad_part(spec: str, named_part: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_fault(spec)
    assert named_part in str(info.value)
    assert "\n" not in str(info.value)


def test_every_n_hits_exactly_every_nth_matching_request() -> None:
    plan = FaultPlan([parse_fault("500:every=4")], seed=1)
    assert hits(plan, 20) == [4, 8, 12, 16, 20]


def test_first_n_hits_exactly_the_first_n_requests() -> None:
    plan = FaultPlan([parse_fault("reset:first=3")], seed=1)
    assert hits(plan, 10) == [1, 2, 3]


def test_every_and_first_combine_as_and() -> None:
    plan = FaultPlan([parse_fault("500:every=2,first=6")], seed=1)
    assert hits(plan, 20) == [2, 4, 6]


def test_a_rule_without_trigger_hits_every_request_it_filters_in() -> None:
    plan = FaultPlan([parse_fault("503:endpoint=embeddings")], seed=1)
    assert hits(plan, 5, endpoint="embeddings") == [1, 2, 3, 4, 5]
    assert hits(plan, 5, endpoint=CHAT) == []


def test_rules_leave_the_token_endpoint_alone_unless_they_name_it() -> None:
    assert hits(FaultPlan([parse_fault("500")], seed=1), 3, endpoint="token") == []
    assert hits(FaultPlan([parse_fault("500:endpoint=token")], seed=1), 3, endpoint="token") == [
        1,
        2,
        3,
    ]


def test_window_covers_start_inclusive_to_end_exclusive() -> None:
    plan = FaultPlan([parse_fault("503:window=10-20")], seed=1)
    decided = {t: plan.decide(CHAT, GPT, 1, t) for t in (9.999, 10.0, 19.999, 20.0)}
    assert [t for t, fault in decided.items() if fault is not None] == [10.0, 19.999]


def test_schedules_count_only_requests_that_pass_the_filters() -> None:
    plan = FaultPlan([parse_fault("500:every=2,endpoint=chat-generations")], seed=1)
    endpoints = ["token", CHAT, "token", CHAT, CHAT, "embeddings", CHAT]
    faulted = [plan.decide(e, GPT, seq, 0.0) is not None for seq, e in enumerate(endpoints, 1)]
    assert faulted == [False, False, False, True, False, False, True]


def test_model_filters_accept_alternatives_and_globs() -> None:
    rule = parse_fault("500:model=sfdc_ai__DefaultGPT4Omni|sfdc_ai__*Claude*")
    assert rule.matches(CHAT, GPT, 0.0)
    assert rule.matches(CHAT, "sfdc_ai__DefaultBedrockAnthropicClaude37Sonnet", 0.0)
    assert not rule.matches(CHAT, "sfdc_ai__DefaultVertexAIGemini25Flash001", 0.0)


def test_the_first_rule_that_fires_wins_and_later_rules_keep_counting() -> None:
    plan = FaultPlan([parse_fault("429:first=2"), parse_fault("500:every=2")], seed=1)
    labels = [plan.decide(CHAT, GPT, seq, 0.0) for seq in range(1, 7)]
    assert [f.label if f else None for f in labels] == ["429", "429", None, "500", None, "500"]
    assert [c["fired"] for c in plan.counters()] == [2, 2]
    assert [c["matched"] for c in plan.counters()] == [6, 6]


def test_probability_is_within_binomial_bounds() -> None:
    n, p = 20_000, 0.1
    count = len(hits(FaultPlan([parse_fault("500:p=0.1")], seed=3), n))
    low, high = stats.binom.interval(0.999, n, p)
    assert low <= count <= high


def test_probability_zero_never_fires_and_one_always_fires() -> None:
    assert hits(FaultPlan([parse_fault("500:p=0")], seed=3), 1000) == []
    assert len(hits(FaultPlan([parse_fault("500:p=1")], seed=3), 1000)) == 1000


def test_same_seed_gives_the_same_decisions_and_another_seed_differs() -> None:
    def run(seed: int) -> list[int]:
        return hits(FaultPlan([parse_fault("500:p=0.2"), parse_fault("reset:p=0.1")], seed), 500)

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_probabilistic_decisions_depend_on_seq_not_on_call_order() -> None:
    plan = FaultPlan([parse_fault("500:p=0.3")], seed=5)
    forward = {seq: plan.decide(CHAT, GPT, seq, 0.0) is not None for seq in range(1, 200)}
    plan = FaultPlan([parse_fault("500:p=0.3")], seed=5)
    backward = {seq: plan.decide(CHAT, GPT, seq, 0.0) is not None for seq in range(199, 0, -1)}
    assert forward == backward


def test_unit_draws_are_uniform_and_independent_across_streams() -> None:
    draws = [unit_draw(9, 0, seq) for seq in range(20_000)]
    assert min(draws) >= 0.0 and max(draws) < 1.0
    assert stats.kstest(draws, "uniform").pvalue > 0.001
    other = [unit_draw(9, 1, seq) for seq in range(20_000)]
    assert abs(stats.pearsonr(draws, other).statistic) < 0.03


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
faults = st.one_of(
    st.builds(Fault, st.just("status"), st.sampled_from(sorted(STATUS_KINDS))),
    st.builds(
        Fault, st.just("status"), st.sampled_from([429, 503]), retry_after_s=seconds | st.none()
    ),
    st.builds(Fault, st.sampled_from(["reset", "empty", "truncated", "malformed"])),
    st.builds(Fault, st.just("hang"), hang_s=seconds | st.none()),
    st.builds(
        Fault, st.just("dribble"), dribble_bytes_per_s=st.floats(min_value=0.001, max_value=1e9)
    ),
)
rules = st.builds(
    FaultRule,
    fault=faults,
    endpoints=st.lists(names, max_size=2).map(tuple),
    models=st.lists(names, max_size=2).map(tuple),
    window_s=st.none()
    | st.tuples(seconds, seconds).filter(lambda w: w[0] < w[1]).map(lambda w: (w[0], w[1])),
    probability=st.none() | st.floats(0, 1),
    every=st.none() | st.integers(1, 1000),
    first=st.none() | st.integers(1, 1000),
)


@given(rule=rules)
def test_any_rule_round_trips_exactly_through_its_spec(rule: FaultRule) -> None:
    assert parse_fault(format_fault(rule)) == rule
