"""MockState across config changes: what carries on and what starts over."""

from __future__ import annotations

import json

import pytest

from mock_salesforce.config import MockConfig
from mock_salesforce.corpus import load_corpus
from mock_salesforce.errors import ConfigError
from mock_salesforce.rendering import _add_request_values
from mock_salesforce.state import MockState, build_runtime
from mock_salesforce.validation import MAX_EMBEDDING_DIMS


def make_state(config: MockConfig) -> MockState:
    return MockState(config, clock=lambda: 100.0, wall_clock=lambda: 1.7e9)


def decide(state: MockState) -> str | None:
    plan = state.runtime.faults
    assert plan is not None
    fault = plan.decide("chat-generations", "m", state.next_seq(), state.uptime_s())
    return None if fault is None else fault.label


def test_a_latency_change_does_not_restart_the_fault_schedule() -> None:
    state = make_state(MockConfig(faults=("429:first=1",)))
    assert decide(state) == "429"
    state.apply(state.config.patched({"latency": {"*": "fixed:5ms"}}))
    assert [decide(state), decide(state)] == [None, None]
    assert state.runtime.config.latency == {"*": "fixed:5ms"}


def test_every_counts_carry_on_across_an_unrelated_change() -> None:
    state = make_state(MockConfig(faults=("500:every=3",)))
    assert [decide(state), decide(state)] == [None, None]
    state.apply(state.config.patched({"strict_headers": False}))
    assert decide(state) == "500"


def test_changed_faults_or_seed_start_a_new_schedule() -> None:
    state = make_state(MockConfig(faults=("429:first=1",)))
    assert decide(state) == "429"
    state.apply(state.config.patched({"faults": ["429:first=1", "500:first=1"]}))
    assert decide(state) == "429"
    state.apply(state.config.patched({"seed": 7}))
    assert decide(state) == "429"


def test_quota_windows_carry_on_across_an_unrelated_change() -> None:
    state = make_state(MockConfig(quotas_rpm={"chat-generations": 1}))
    quotas = state.runtime.quotas
    assert quotas is not None and quotas.admit("chat-generations", state.uptime_s())
    state.apply(state.config.patched({"latency": {"*": "fixed:5ms"}}))
    kept = state.runtime.quotas
    assert kept is not None and not kept.admit("chat-generations", state.uptime_s())


def test_reset_still_restarts_the_fault_schedule() -> None:
    state = make_state(MockConfig(faults=("429:first=1",)))
    assert decide(state) == "429"
    state.reset()
    assert decide(state) == "429"


def test_request_ids_stay_unique_across_config_changes_and_resets() -> None:
    state = make_state(MockConfig())
    ids = [state.ids.uuid("request", state.next_seq())]
    state.apply(state.config.patched({"latency": {"*": "fixed:5ms"}}))
    ids.append(state.ids.uuid("request", state.next_seq()))
    state.reset()
    ids.append(state.ids.uuid("request", state.next_seq()))
    assert len(set(ids)) == 3


@pytest.mark.parametrize("seq", [1, 0xABCDEF, 2**40 + 7, 2**44 + 3, 2**48 + 1])
def test_a_replys_ids_formatted_in_place_are_its_ids_as_json_strings(seq: int) -> None:
    state = make_state(MockConfig())
    values: dict[str, bytes] = {}
    _add_request_values(state, seq, ("GENERATION_ID", "COMPLETION_ID", "RESPONSE_ID"), values)
    assert values["GENERATION_ID"] == json.dumps(state.ids.uuid("generation", seq)).encode()
    assert values["RESPONSE_ID"] == json.dumps(state.ids.uuid("response", seq).upper()).encode()
    assert values["COMPLETION_ID"] == json.dumps(state.ids.completion(seq)).encode()


def test_embedding_dims_past_the_cap_are_refused() -> None:
    build_runtime(MockConfig(embedding_dims=MAX_EMBEDDING_DIMS), load_corpus())
    with pytest.raises(ConfigError, match="embedding_dims"):
        build_runtime(MockConfig(embedding_dims=MAX_EMBEDDING_DIMS + 1), load_corpus())


def test_token_and_feedback_bodies_are_capped_below_the_models_limit() -> None:
    limits = build_runtime(MockConfig(body_limit_bytes=1 << 20), load_corpus()).body_limits_bytes
    assert limits["chat-generations"] == limits["embeddings"] == 1 << 20
    assert limits["token"] == 16_384 and limits["feedback"] == 65_536
    small = build_runtime(MockConfig(body_limit_bytes=1000), load_corpus()).body_limits_bytes
    assert set(small.values()) == {1000}
