"""bench/_load.py's wrk scripts, run by the real wrk against a loopback server."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.bench_load import load

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    bodies: list[bytes]

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Recorder", (_Recorder,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_counter_script_sends_new_bodies_in_every_run_not_only_within_one(
    recorder: tuple[str, list[bytes]],
) -> None:
    url, bodies = recorder
    script = load.wrk_pool_script(['{"p": "a #{n}"}', '{"p": "b #{n}"}'], {"X-Test": "1"})
    load.run_wrk(url, connections=2, duration_s=1, lua_script=script)
    first = set(bodies)
    bodies.clear()
    load.run_wrk(url, connections=2, duration_s=1, lua_script=script)  # a run after its warm-up
    second = set(bodies)
    assert len(first) > 10 and len(second) > 10
    assert not first & second, "the second run repeated bodies of the first"
    assert all(body.startswith((b'{"p": "a #', b'{"p": "b #')) for body in first | second)
