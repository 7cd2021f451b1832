from mock_salesforce.token_counts import count_message_tokens, count_tokens


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
