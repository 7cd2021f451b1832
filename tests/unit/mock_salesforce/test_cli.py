"""The mock's command line: what is named over the profile, and the lines printed at start."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mock_salesforce.cli import add_arguments, build_config, start_up_lines
from mock_salesforce.config import MockConfig
from mock_salesforce.errors import ConfigError


def config_of(*argv: str) -> MockConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return build_config(parser.parse_args(argv))


def test_a_latency_without_selector_replaces_the_profiles_per_endpoint_latencies() -> None:
    assert config_of("--latency", "fixed:0ms").latency == {"*": "fixed:0ms"}


def test_a_selector_overrides_only_its_endpoint_and_the_more_specific_wins() -> None:
    config = config_of("--latency", "chat-generations=fixed:50ms", "--latency", "fixed:0ms")
    assert config.latency == {"*": "fixed:0ms", "chat-generations": "fixed:50ms"}


def test_quotas_named_replace_the_profiles_where_they_reach() -> None:
    config = config_of("--profile", "salesforce-prod", "--quota", "20", "--quota", "embeddings=5")
    assert config.quotas_rpm == {"*": 20, "embeddings": 5}


def test_named_faults_drop_the_profile_faults_they_cover(tmp_path: Path) -> None:
    profile = tmp_path / "flaky.toml"
    profile.write_text('faults = ["500:p=0.2,endpoint=embeddings", "503:every=3,endpoint=token"]\n')
    config = config_of("--profile", str(profile), "--fault", "429:p=0.1")
    assert config.faults == ("429:p=0.1", "503:every=3,endpoint=token")


@pytest.mark.parametrize(
    "argv",
    [
        ["--latency", "fixed:1ms", "--latency", "*=fixed:2ms"],
        ["--quota", "embeddings=5", "--quota", "embeddings=6"],
    ],
)
def test_a_selector_named_twice_is_refused(argv: list[str]) -> None:
    with pytest.raises(ConfigError, match="given twice"):
        config_of(*argv)


def test_the_start_up_lines_have_one_line_per_endpoint_and_a_word_on_workers() -> None:
    lines = start_up_lines(config_of("--profile", "fast", "--quota", "embeddings=5"), workers=2)
    assert [line.split()[0] for line in lines[:5]] == [
        "token", "generations", "chat-generations", "embeddings", "feedback",
    ]  # fmt: skip
    assert lines[3].endswith("quota 5/min") and "2 workers" in lines[5]
