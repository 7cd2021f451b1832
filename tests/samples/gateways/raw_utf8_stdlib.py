"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib). No
defect: the control for text beyond ASCII.

It writes what other gateways escape or keep whole, and both are right: its JSON carries
characters beyond ASCII as raw UTF-8 (`ensure_ascii=False`, where the other stdlib gateways send
`\\u00e9` and surrogate pairs), and it writes a stream to the socket 5 bytes at a time (no Nagle
delay), so characters are cut across network writes as a proxy's TCP segments may cut them. A
client reads a byte stream and decodes whole lines: it must see no defect.

Everything else is done as in the other stdlib gateways (token cache, retries, failures).

Usage: python raw_utf8_stdlib.py --port 8015 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

import models_api as api
import stdlib_gateway as stdlib

WRITE_BYTES = 5


class Handler(stdlib.Handler):
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def json_bytes(self, body: Mapping[str, Any]) -> bytes:
        return raw_json(body).encode("utf-8")

    def write_events(self, events: list[str]) -> None:
        data = "".join(events).encode("utf-8")
        for at in range(0, len(data), WRITE_BYTES):
            self.wfile.write(data[at : at + WRITE_BYTES])

    def events(self, done: Mapping[str, Any], include_usage: bool) -> list[str]:
        return api.stream_events(done, include_usage, dumps=raw_json)


def raw_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)


def main() -> None:
    stdlib.serve(stdlib.Gateway(api.load_settings("raw-utf8-stdlib")), Handler)


if __name__ == "__main__":
    main()
