import json
import math
import random
import unicodedata
from collections import Counter
from statistics import NormalDist

import pytest

from mock_salesforce import replies
from mock_salesforce.errors import ConfigError
from mock_salesforce.replies import (
    MAX_LENGTH_STEPS,
    OFFICIAL_MIX,
    ReplyLengths,
    ShapeMix,
    expected_reply,
    parse_lengths,
    reply_key,
)
from mock_salesforce.token_counts import count_tokens


def chat(*messages: tuple[str, str], **extra: object) -> dict[str, object]:
    return {"messages": [{"role": r, "content": c} for r, c in messages], **extra}


def test_the_same_request_gets_the_same_reply() -> None:
    body = chat(("user", "a recipe for cherry pie"))
    assert expected_reply(7, "chat-generations", body) == expected_reply(
        7, "chat-generations", body
    )


def test_another_seed_or_prompt_gets_another_text() -> None:
    body = chat(("user", "a recipe for cherry pie"))
    base = expected_reply(7, "chat-generations", body).text
    assert expected_reply(8, "chat-generations", body).text != base
    other = chat(("user", "a recipe for apple pie"))
    assert expected_reply(7, "chat-generations", other).text != base


def test_sampling_fields_and_model_do_not_change_the_reply() -> None:
    plain = expected_reply(1, "generations", {"prompt": "hi"})
    noisy = expected_reply(
        1, "generations", {"prompt": "hi", "temperature": 0.9, "max Tokens": 5, "model": "x"}
    )
    assert plain == noisy


def test_chat_reply_is_keyed_on_the_last_user_message() -> None:
    direct = expected_reply(3, "chat-generations", chat(("user", "old"), ("user", "question")))
    via_gateway = expected_reply(
        3, "chat-generations", chat(("system", "be terse"), ("user", "question"))
    )
    assert direct.text == via_gateway.text
    assert direct.completion_tokens == via_gateway.completion_tokens
    assert reply_key("chat-generations", chat(("user", "q"), ("assistant", "a"))) == "q"


def test_prompt_tokens_count_every_message_sent() -> None:
    reply = expected_reply(3, "chat-generations", chat(("system", "be terse"), ("user", "hi")))
    assert reply.prompt_tokens == count_tokens("be terse") + count_tokens("hi")


def test_usage_agrees_with_the_text() -> None:
    for index in range(200):
        reply = expected_reply(index, "generations", {"prompt": f"prompt {index}"})
        assert count_tokens(reply.text) == reply.completion_tokens
        assert reply.total_tokens == reply.prompt_tokens + reply.completion_tokens


def test_a_reply_text_is_its_own_json_string_between_quotes() -> None:
    # The mock quotes reply texts as they are (`rendering.prepare`): no word may need escaping.
    for index in range(200):
        text = expected_reply(index, "chat-generations", chat(("user", f"q {index}"))).text
        assert json.dumps(text, ensure_ascii=False) == f'"{text}"'


def test_replies_carry_accents_cjk_emoji_and_combining_marks_in_three_character_words() -> None:
    # R77: with ASCII replies only, a gateway that decoded the upstream's UTF-8 as latin-1, cut it
    # by bytes or escaped it wrongly passed every fidelity check.
    texts = [expected_reply(i, "generations", {"prompt": f"p{i}"}).text for i in range(200)]
    words = [word for text in texts for word in text.split(" ")]
    assert {len(word) for word in words} == {3}  # code points: one token a word, with its space
    widths = Counter(max(len(c.encode()) for c in word) for word in words)
    assert set(widths) == {1, 2, 3, 4}  # ASCII, accents, CJK, emoji beyond the BMP
    assert 0.08 < 1 - widths[1] / len(words) < 0.2  # about one word in seven is not ASCII
    assert any(unicodedata.combining(c) for word in words for c in word)
    assert sum(any(len(c.encode()) == 4 for c in text) for text in texts) > 100  # most replies


def test_text_length_follows_the_configured_distribution() -> None:
    lengths = ReplyLengths(median_tokens=40, sigma=0.5, min_tokens=1, max_tokens=1000)
    counts = sorted(
        expected_reply(0, "generations", {"prompt": str(i)}, lengths=lengths).completion_tokens
        for i in range(2000)
    )
    assert 36 <= counts[len(counts) // 2] <= 44


def test_replies_cut_at_max_tokens_finish_with_length() -> None:
    lengths = parse_lengths("lognormal:median=100,sigma=0.1,max=12")
    reply = expected_reply(0, "generations", {"prompt": "x"}, lengths=lengths)
    assert reply.completion_tokens == 12
    assert reply.finish_reason == "length"


def test_fixed_lengths_are_exact_and_finish_with_stop() -> None:
    reply = expected_reply(0, "generations", {"prompt": "x"}, lengths=parse_lengths("fixed:12"))
    assert (reply.completion_tokens, reply.finish_reason) == (12, "stop")


def test_default_mix_picks_the_official_shape_of_each_endpoint() -> None:
    assert expected_reply(0, "generations", {"prompt": "x"}).shape == "official-generations"
    assert expected_reply(0, "embeddings", {"input": ["x"]}).shape == "official-embeddings"
    assert OFFICIAL_MIX.choose("chat-generations", 0.5) == "official-chat-generations"


def test_a_weighted_mix_is_followed_in_proportion() -> None:
    mix = ShapeMix.from_mapping({"generations": {"official-generations": 70, "variant-output": 30}})
    shapes = Counter(
        expected_reply(5, "generations", {"prompt": f"p{i}"}, mix=mix).shape for i in range(4000)
    )
    share = shapes["variant-output"] / 4000
    assert 0.27 < share < 0.33  # binomial sd is 0.007: 4 sd either side
    assert set(shapes) == {"official-generations", "variant-output"}


def test_mix_round_trips_as_shares() -> None:
    mix = ShapeMix.from_mapping({"generations": {"a": 3, "b": 1}})
    assert mix.as_mapping() == {"generations": {"a": 0.75, "b": 0.25}}


@pytest.mark.parametrize("weights", [{}, {"a": -1}, {"a": 0}])
def test_a_mix_without_positive_weights_is_a_config_error(weights: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ShapeMix.from_mapping({"generations": weights})


@pytest.mark.parametrize("spec", ["normal:1", "lognormal:median=x", "fixed:", "lognormal:max=0"])
def test_bad_length_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_lengths(spec)


def test_length_spec_round_trips() -> None:
    lengths = ReplyLengths(80, 0.3, 2, 300)
    assert parse_lengths(lengths.spec()) == lengths


def test_odd_bodies_still_get_a_reply() -> None:
    rng = random.Random(0)
    for body in ({}, {"messages": "x"}, {"messages": [1, {"role": "user", "content": 5}]}):
        assert expected_reply(rng.randint(0, 9), "chat-generations", body).shape


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("fixed:5", ReplyLengths(5.0, 0.0, 5, 5)),
     (" fixed: 100 ", ReplyLengths(100.0, 0.0, 100, 100)),
     ("lognormal:median=60,sigma=0.6", ReplyLengths(60.0, 0.6, 1, 512)),
     ("lognormal:median=60,sigma=0.6,min=1,max=512", ReplyLengths(60.0, 0.6, 1, 512))],
)  # fmt: skip
def test_every_documented_length_spec_parses(spec: str, expected: ReplyLengths) -> None:
    assert parse_lengths(spec) == expected


def test_replies_longer_than_the_word_stream_wrap_around_it_and_still_agree_with_usage() -> None:
    lengths = parse_lengths("fixed:70000")  # longer than the 65,536-word stream
    reply = expected_reply(3, "generations", {"prompt": "a very long answer"}, lengths=lengths)
    assert reply.completion_tokens == count_tokens(reply.text) == 70000
    assert reply.text == reply.text.strip() and "  " not in reply.text


@pytest.mark.parametrize(
    ("start", "count"), [(0, 1), (123, 0), (65535, 1), (65535, 2), (65000, 600), (70000, 5)]
)
def test_a_reply_is_the_run_of_stream_words_from_its_start_as_utf8(start: int, count: int) -> None:
    words = replies._STREAM.words  # the stream kept as bytes and word offsets, cut as words
    first = start % len(words)
    expected = " ".join((words + words)[first : first + count]).encode()
    assert replies._words(start, count) == expected


def test_length_and_shape_draws_are_independent_of_each_other() -> None:
    mix = ShapeMix.from_mapping({"generations": {"official-generations": 1, "variant-output": 1}})
    replies = [expected_reply(0, "generations", {"prompt": str(i)}, mix=mix) for i in range(4000)]
    by_shape = {
        shape: sorted(r.completion_tokens for r in replies if r.shape == shape)
        for shape in ("official-generations", "variant-output")
    }
    medians = [tokens[len(tokens) // 2] for tokens in by_shape.values()]
    assert all(50 <= m <= 70 for m in medians), medians  # default median 60 under both shapes


@pytest.mark.parametrize(
    "spec", ["lognormal:median=60,sigma=0.6", "lognormal:median=9,sigma=2,min=5,max=50"]
)
def test_a_tabulated_length_is_the_one_the_inverse_cdf_gives(spec: str) -> None:
    lengths = parse_lengths(spec)
    by_inverse = NormalDist(math.log(lengths.median_tokens), lengths.sigma)
    rng = random.Random(2)
    for _ in range(20_000):
        u = (rng.getrandbits(53) + 0.5) * 2.0**-53
        drawn = round(math.exp(by_inverse.inv_cdf(u)))
        clamped = max(lengths.min_tokens, min(lengths.max_tokens, drawn))
        assert lengths.sample(u) == (clamped, drawn > lengths.max_tokens), u


def test_a_length_range_too_wide_to_tabulate_is_drawn_by_the_inverse_cdf() -> None:
    most = MAX_LENGTH_STEPS + 10
    lengths = parse_lengths(f"lognormal:median=60,sigma=3,max={most}")
    by_inverse = NormalDist(math.log(60), 3)
    for u in (0.001, 0.5, 0.999999):
        drawn = round(math.exp(by_inverse.inv_cdf(u)))
        assert lengths.sample(u) == (min(max(drawn, 1), most), drawn > most)
