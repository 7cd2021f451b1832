"""The mock's token counter: cheap and deterministic.

It is the rule of thumb OpenAI gives for English text: a token is about four characters, so a
text of n characters costs ceil(n / 4) tokens, whitespace included. It is not tiktoken: what
matters is that a reply's `prompt_tokens` is a known function of the prompt (the harness reads
it from the journal), and that counting costs the mock nothing it would notice. It counts every
new prompt, and a per-word count of a 400-character prompt was a sixth of a new request's work.
"""

from __future__ import annotations

from collections.abc import Sequence

CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    """Tokens in `text`: one per started `CHARS_PER_TOKEN` characters."""
    return -(-len(text) // CHARS_PER_TOKEN)


def count_message_tokens(contents: Sequence[str]) -> int:
    """Prompt tokens of message contents (a chat history or an embeddings input): those of
    the contents joined by newlines, counted without joining them."""
    if not contents:
        return 0
    return -(-(sum(map(len, contents)) + len(contents) - 1) // CHARS_PER_TOKEN)
