"""The load client's reading of a reply to a stream request: SSE chunks timed, anything else
read whole (with geventhttpclient's `readline`, which keeps a last line without a newline back)."""

from __future__ import annotations

import json

from scenarios.load._sse import read_sse


class Response:
    """geventhttpclient's reading: `readline` gives b"" once the body is complete and no
    separator is left, keeping the rest for `read`."""

    def __init__(self, body: bytes) -> None:
        self.rest = body

    def readline(self, sep: bytes) -> bytes:
        cut = self.rest.find(sep)
        if cut < 0:
            return b""
        line, self.rest = self.rest[: cut + len(sep)], self.rest[cut + len(sep) :]
        return line

    def read(self) -> bytes:
        rest, self.rest = self.rest, b""
        return rest


def chunk(text: str) -> bytes:
    return f"data: {json.dumps({'choices': [{'delta': {'content': text}}]})}\n\n".encode()


def test_a_stream_is_read_to_its_done_with_each_content_chunk_timed() -> None:
    body = chunk("pie ") + chunk("bake") + b"data: [DONE]\n\n"
    exchange = read_sse(Response(body + b"after the end"), 200, t0=0.0)
    assert exchange.payload == body[:-1]  # up to the [DONE] line, nothing after it
    assert exchange.ttft_ms is not None and len(exchange.itl_ms) == 1


def test_a_whole_json_reply_without_a_last_newline_is_read_whole_and_untimed() -> None:
    document = json.dumps({"choices": [{"message": {"content": "pie"}}]}).encode()
    exchange = read_sse(Response(document), 200, t0=0.0)
    assert (exchange.payload, exchange.ttft_ms, exchange.itl_ms) == (document, None, ())
