import json
from pathlib import Path

import pytest

from mock_salesforce.config import (
    MockConfig,
    build_config,
    load_profile,
    merge_patch,
    profile_names,
)
from mock_salesforce.corpus import load_corpus
from mock_salesforce.errors import ConfigError
from mock_salesforce.state import build_runtime

CORPUS = load_corpus()


def test_the_shipped_profiles_load_and_build() -> None:
    assert {"default", "fast", "salesforce-prod", "mixed-shapes"} <= set(profile_names())
    for name in profile_names():
        config = load_profile(name)
        assert config.profile == name
        build_runtime(config, CORPUS)


def test_default_serves_official_shapes_without_quotas() -> None:
    config = load_profile("default")
    assert config.mix == {} and config.quotas_rpm == {}
    assert config.latency_spec("chat-generations", "m")


def test_salesforce_prod_has_the_documented_org_limits() -> None:
    quotas = load_profile("salesforce-prod").quotas_rpm
    assert quotas["chat-generations"] == quotas["generations"] == 10_000
    assert quotas["embeddings"] == quotas["feedback"] == 1_000


def test_fast_has_no_latency_and_mixed_shapes_mixes_70_15_5_10() -> None:
    assert load_profile("fast").latency_spec("chat-generations", "m") is None
    weights = sorted(load_profile("mixed-shapes").mix["chat-generations"].values())
    assert weights == [5, 10, 15, 70]


def test_latency_selectors_go_from_specific_to_general() -> None:
    config = MockConfig(latency={"*": "a", "embeddings": "b", "m1": "c", "embeddings/m2": "d"})
    assert config.latency_spec("embeddings", "m2") == "d"
    assert config.latency_spec("embeddings", "m1") == "c"
    assert config.latency_spec("embeddings", "m3") == "b"
    assert config.latency_spec("generations", "m3") == "a"


def test_a_profile_file_in_toml_or_json_is_loaded(tmp_path: Path) -> None:
    toml = tmp_path / "mine.toml"
    toml.write_text("seed = 4\n[quotas_rpm]\nembeddings = 5\n")
    assert load_profile(str(toml)) == MockConfig(
        seed=4, profile="mine", quotas_rpm={"embeddings": 5}
    )
    data = {"seed": 2, "faults": ["500:every=2"]}
    (tmp_path / "other.json").write_text(json.dumps(data))
    assert load_profile(str(tmp_path / "other.json")).faults == ("500:every=2",)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"nope": 1}, "unknown config key 'nope'"),
        ({"seed": "1"}, "seed"),
        ({"seed": True}, "seed"),
        ({"quotas_rpm": {"embeddings": 0}}, "quotas_rpm"),
        ({"faults": "500"}, "faults"),
        ({"credentials": ["only-id"]}, "credentials"),
        ({"mix": {"generations": {"a": "x"}}}, "mix"),
        ({"token_lifetime_s": 0}, "token_lifetime_s"),
        ({"header_timeout_s": float("nan")}, "header_timeout_s"),
        ({"embeddings_max_inputs": -1}, "embeddings_max_inputs"),
    ],
)
def test_bad_config_values_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MockConfig.from_mapping(data)


def test_unknown_profiles_and_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        load_profile("no-such-profile")
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="cannot read profile"):
        load_profile(str(bad))


def test_config_round_trips_through_plain_data() -> None:
    config = load_profile("mixed-shapes").patched({"credentials": ["id", "secret"]})
    assert MockConfig.from_mapping(json.loads(json.dumps(config.to_dict()))) == config


def test_a_merge_patch_merges_objects_and_deletes_nulls() -> None:
    config = MockConfig(latency={"*": "fixed:1ms", "embeddings": "fixed:2ms"})
    patched = config.patched({"latency": {"embeddings": None, "token": "fixed:3ms"}, "seed": 9})
    assert patched.latency == {"*": "fixed:1ms", "token": "fixed:3ms"}
    assert patched.seed == 9
    assert merge_patch({"a": {"b": 1}}, {"a": 5}) == {"a": 5}


@pytest.mark.parametrize(
    "change",
    [
        {"latency": {"*": "bogus:1"}},
        {"faults": ["999:p=1"]},
        {"quotas_rpm": {"nowhere": 5}},
        {"mix": {"embeddings": {"variant-output": 1}}},
        {"reply_lengths": "gamma:1"},
    ],
)
def test_a_bad_spec_fails_when_the_runtime_is_built(change: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_runtime(MockConfig().patched(change), CORPUS)


def test_a_patched_latency_without_selector_replaces_every_profile_latency() -> None:
    patched = load_profile("default").patched({"latency": {"*": "fixed:0ms"}})
    assert patched.latency == {"*": "fixed:0ms"}


def test_a_patched_quota_replaces_only_its_own_selector() -> None:
    patched = load_profile("salesforce-prod").patched({"quotas_rpm": {"embeddings": 5}})
    assert patched.quotas_rpm["embeddings"] == 5 and patched.quotas_rpm["feedback"] == 1000


def test_build_config_lays_the_named_latency_over_the_profile() -> None:
    config = build_config("default", 1, latency="fixed:3ms", quotas={"feedback": 2})
    assert config.latency == {"*": "fixed:3ms"} and config.quotas_rpm == {"feedback": 2}
