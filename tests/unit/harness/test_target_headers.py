"""`--target-header` and OPENAI_API_KEY: parsed once, sent by every client, never shown."""

from __future__ import annotations

import argparse

import pytest

from harness.commands._target import add_target_header_option, headers_from_args
from harness.errors import UsageError
from harness.settings import load_settings
from harness.targets import target_from_args
from harness.targets.headers import (
    credential_hint,
    describe_headers,
    parse_header,
    target_headers,
)


def test_a_header_option_splits_at_the_first_colon_and_keeps_the_rest_of_the_value() -> None:
    assert parse_header(" X-Api-Key :  a:b c ") == ("X-Api-Key", "a:b c")


@pytest.mark.parametrize("text", ["Authorization", "Bad Name: x", ": x", "X-Key:", "X-Key: a\rb"])
def test_a_malformed_header_is_a_usage_error_that_never_quotes_the_value(text: str) -> None:
    with pytest.raises(UsageError, match="bad --target-header") as caught:
        parse_header(text)
    assert "a\rb" not in str(caught.value)


def test_openai_api_key_becomes_a_bearer_authorization_when_none_is_given() -> None:
    assert target_headers(["X-Team: perf"], "sk-1") == (
        ("X-Team", "perf"),
        ("Authorization", "Bearer sk-1"),
    )


def test_an_authorization_header_given_wins_over_openai_api_key() -> None:
    assert target_headers(["authorization: Basic abc"], "sk-1") == (("authorization", "Basic abc"),)


def test_a_header_given_twice_is_refused() -> None:
    with pytest.raises(UsageError, match="x-key given more than once"):
        target_headers(["X-Key: a", "x-key: b"])


def test_the_start_up_line_names_the_headers_and_where_they_came_from_but_no_value() -> None:
    headers = target_headers(["X-Team: perf"], "sk-secret")
    line = describe_headers(headers, ["X-Team: perf"])
    assert line.startswith("sending the target X-Team, Authorization (from OPENAI_API_KEY)")
    assert "sk-secret" not in line and "perf" not in line
    assert describe_headers((), []) == ""


def test_a_401_without_a_credential_says_to_pass_one_and_with_one_says_it_was_refused() -> None:
    assert "pass --target-header" in credential_hint(401)
    assert credential_hint(403, {"Authorization": "Bearer x"}) == (
        "the target refused the client credential sent (Authorization)"
    )
    assert credential_hint(500) == ""


def test_settings_read_openai_api_key_and_never_show_it() -> None:
    settings = load_settings({"OPENAI_API_KEY": " sk-9 "})
    assert settings.openai_api_key == "sk-9"
    assert "sk-9" not in repr(settings)


def test_a_target_spec_carries_its_headers_out_of_its_repr() -> None:
    spec = target_from_args(None, "http://127.0.0.1:8000", None, headers=(("X-Key", "s3"),))
    assert spec.headers == (("X-Key", "s3"),)
    assert "s3" not in repr(spec)


def test_the_environment_key_is_sent_only_to_a_users_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    parser = argparse.ArgumentParser()
    add_target_header_option(parser)
    args = parser.parse_args([])
    assert headers_from_args(args) == (("Authorization", "Bearer sk-env"),)
    assert "Authorization (from OPENAI_API_KEY)" in capsys.readouterr().err
    assert headers_from_args(args, users_target=False) == ()
