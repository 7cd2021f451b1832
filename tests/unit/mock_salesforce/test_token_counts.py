from hypothesis import given
from hypothesis import strategies as st

from mock_salesforce.token_counts import CHARS_PER_TOKEN, count_message_tokens, count_tokens


def test_empty_text_has_no_tokens() -> None:
    assert count_tokens("") == 0
    assert count_message_tokens([]) == 0
    assert count_message_tokens([""]) == 0


def test_each_started_run_of_four_characters_is_one_token() -> None:
    assert count_tokens("abcd") == 1
    assert count_tokens("abcde") == 2
    assert count_tokens("a bb ccc dddd") == 4  # 13 characters, spaces included


def test_characters_not_bytes_are_counted() -> None:
    assert count_tokens("\u00e9t\u00e9 \U0001f600") == 2  # 5 characters, 10 UTF-8 bytes


def test_message_tokens_count_the_contents_joined_by_newlines() -> None:
    assert count_message_tokens(["one two", "three"]) == count_tokens("one two\nthree") == 4


@given(st.text())
def test_any_text_costs_its_length_over_four_rounded_up(text: str) -> None:
    tokens = count_tokens(text)
    assert (tokens - 1) * CHARS_PER_TOKEN < len(text) <= tokens * CHARS_PER_TOKEN or text == ""


@given(st.lists(st.text()))
def test_message_tokens_are_those_of_the_joined_text(contents: list[str]) -> None:
    assert count_message_tokens(contents) == count_tokens("\n".join(contents))
