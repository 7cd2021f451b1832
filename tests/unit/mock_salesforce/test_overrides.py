"""Precedence: named latency, faults and quotas laid over a profile's."""

from __future__ import annotations

import pytest

from mock_salesforce.config import load_profile
from mock_salesforce.overrides import Selector, apply_overrides, overlay, overlay_faults

CHAT = "chat-generations"
MODEL = "sfdc_ai__DefaultGPT4Omni"
PROFILE = {"token": "t", "generations": "g", CHAT: "c", "embeddings": "e", "feedback": "f"}


@pytest.mark.parametrize(
    ("key", "endpoint", "model", "rank"),
    [
        ("*", None, None, 3),
        (CHAT, CHAT, None, 2),
        (MODEL, None, MODEL, 1),
        (f"{CHAT}/{MODEL}", CHAT, MODEL, 0),
    ],
)
def test_selectors_parse_into_endpoint_and_model(
    key: str, endpoint: str | None, model: str | None, rank: int
) -> None:
    selector = Selector.parse(key)
    assert (selector.endpoint, selector.model, selector.rank) == (endpoint, model, rank)
    assert selector.key == key


def test_a_spec_without_selector_replaces_every_profile_value() -> None:
    assert overlay(PROFILE, {"*": "fixed:0ms"}) == {"*": "fixed:0ms"}


def test_an_endpoint_selector_replaces_only_that_endpoint_and_what_lies_within_it() -> None:
    base = {**PROFILE, f"{CHAT}/{MODEL}": "cm", f"embeddings/{MODEL}": "em"}
    merged = overlay(base, {CHAT: "x"})
    assert merged == {**PROFILE, CHAT: "x", f"embeddings/{MODEL}": "em"}


def test_a_named_endpoint_beats_a_profile_model_entry_where_they_cross() -> None:
    merged = overlay({MODEL: "m", "*": "a"}, {CHAT: "x"})
    assert merged == {MODEL: "m", "*": "a", f"{CHAT}/{MODEL}": "x", CHAT: "x"}


def test_within_one_layer_the_more_specific_selector_still_wins() -> None:
    merged = overlay(PROFILE, {"*": "a", CHAT: "b"})
    assert merged == {"*": "a", CHAT: "b"}


def test_none_deletes_a_key_as_in_a_merge_patch() -> None:
    assert overlay({"*": "a", CHAT: "b"}, {CHAT: None, "token": "t"}) == {"*": "a", "token": "t"}


def test_named_faults_come_first_most_specific_first_and_drop_the_profile_rules_they_cover() -> (
    None
):
    base = [
        "500:p=0.1,endpoint=chat-generations",
        "503:every=2,endpoint=token",
        f"401:model={MODEL}",
    ]
    top = ["429:p=0.5", "reset:first=1,endpoint=embeddings"]
    assert overlay_faults(base, top) == [
        "reset:first=1,endpoint=embeddings",
        "429:p=0.5",
        "503:every=2,endpoint=token",  # the named rules leave OAuth alone
    ]


def test_a_profile_fault_reaching_beyond_the_named_one_stays_after_it() -> None:
    base = ["500:p=0.1"]
    assert overlay_faults(base, ["429:p=1,endpoint=embeddings"]) == [
        "429:p=1,endpoint=embeddings",
        "500:p=0.1",
    ]


def test_a_named_star_quota_replaces_the_profiles_per_endpoint_quotas() -> None:
    config = apply_overrides(load_profile("salesforce-prod"), quotas_rpm={"*": 50})
    assert config.quotas_rpm == {"*": 50}


def test_overrides_leave_what_they_do_not_name_alone() -> None:
    profile = load_profile("salesforce-prod")
    config = apply_overrides(profile, latency={"embeddings": "fixed:1ms"})
    assert config.quotas_rpm == profile.quotas_rpm and config.faults == profile.faults
    assert config.latency == {**profile.latency, "embeddings": "fixed:1ms"}
