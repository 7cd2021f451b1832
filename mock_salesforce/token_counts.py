"""A cheap, deterministic token counter shared by the mock and the harness.

It approximates a BPE tokenizer the way people estimate one by hand: each whitespace-separated
word costs one token per started run of four characters. It is not tiktoken; what matters is
that the mock's usage numbers and the harness's fidelity checks agree exactly.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    """Tokens in `text`: one per started `CHARS_PER_TOKEN` characters of every word."""
    width = CHARS_PER_TOKEN
    return sum((len(word) + width - 1) // width for word in text.split())


def count_message_tokens(contents: list[str]) -> int:
    """Prompt tokens of a list of message contents (a chat history or an embeddings input)."""
    return sum(count_tokens(content) for content in contents)
