from hypothesis import given
from hypothesis import strategies as st

from mock_salesforce.token_counts import CHARS_PER_TOKEN, count_message_tokens, count_tokens


def test_empty_text_has_no_tokens() -> None:
    assert count_tokens("") == 0
    assert count_tokens("   \n\t ") == 0


def test_each_started_run_of_four_characters_of_a_word_is_one_token() -> None:
    assert count_tokens("a bb ccc dddd") == 4
    assert count_tokens("abcde") == 2
    assert count_tokens("abcdefghi") == 3


def test_counting_is_deterministic_and_whitespace_insensitive() -> None:
    assert count_tokens("hello   world\n") == count_tokens("hello world") == 4


def test_message_tokens_sum_over_contents() -> None:
    assert count_message_tokens(["one two", "three"]) == count_tokens("one two") + 2


def words_by_hand(text: str) -> int:
    """The definition, word by word (what the fast ASCII count must agree with)."""
    return sum((len(word) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN for word in text.split())


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_is_counted_as_the_definition_says(text: str) -> None:
    assert count_tokens(text) == words_by_hand(text)


@given(st.text())
def test_any_text_is_counted_as_the_definition_says(text: str) -> None:
    assert count_tokens(text) == words_by_hand(text)


def test_every_separator_str_split_knows_separates_words_in_ascii_text_too() -> None:
    for code in range(128):
        text = f"abc{chr(code)}de"
        assert count_tokens(text) == words_by_hand(text), hex(code)


@given(st.lists(st.text()))
def test_message_tokens_are_the_sum_of_each_message_s(contents: list[str]) -> None:
    assert count_message_tokens(contents) == sum(count_tokens(c) for c in contents)
