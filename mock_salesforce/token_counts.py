"""A cheap, deterministic token counter shared by the mock and the harness.

It approximates a BPE tokenizer the way people estimate one by hand: each whitespace-separated
word costs one token per started run of four characters. It is not tiktoken; what matters is
that the mock's usage numbers and the harness's fidelity checks agree exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

CHARS_PER_TOKEN = 4

# ASCII text is counted without making a string per word (the mock counts every new prompt):
# each byte becomes "x", or " " for what `str.split` splits on; a word of n letters is then a
# run of n x's, and with CHARS_PER_TOKEN - 1 more x's after it, it holds exactly
# ceil(n / CHARS_PER_TOKEN) non-overlapping runs of CHARS_PER_TOKEN x's (an empty one, none).
# One space put after the text ends its last word as the others end, so one replace pads all.
_MARKS = bytes(32 if chr(code).isspace() else 120 for code in range(256))
_PADDED_SPACE = b"x" * (CHARS_PER_TOKEN - 1) + b" "
_TOKEN = b"x" * CHARS_PER_TOKEN


def count_tokens(text: str) -> int:
    """Tokens in `text`: one per started `CHARS_PER_TOKEN` characters of every word."""
    if text.isascii():
        marks = (text + " ").encode("ascii").translate(_MARKS)
        return marks.replace(b" ", _PADDED_SPACE).count(_TOKEN)
    width = CHARS_PER_TOKEN
    return sum((len(word) + width - 1) // width for word in text.split())


def count_message_tokens(contents: Iterable[str]) -> int:
    """Prompt tokens of message contents (a chat history or an embeddings input): counted as
    one text, since the newline that joins them separates words as any whitespace does."""
    text = "\n".join(contents)
    if text.isascii():  # (`count_tokens` inlined: every new request counts its prompt)
        marks = (text + " ").encode("ascii").translate(_MARKS)
        return marks.replace(b" ", _PADDED_SPACE).count(_TOKEN)
    return count_tokens(text)
