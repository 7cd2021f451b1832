"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib) served
over https, as `uvicorn --ssl-keyfile KEY --ssl-certfile CERT` serves one: on loopback its
certificate is mostly self-signed.

No defect: its certificate is one sfperf's clients do not know. A client that refuses it must say
so at once, with the way through (`--target-ca CERT`, or `--target-insecure` on loopback), and
every client sfperf runs takes that way: discovery's probes, the warm-up, the locust users, the
sweep's and the profile's clients, and `--target-metrics`.

Usage: python tls_stdlib.py --ssl-certfile CERT --ssl-keyfile KEY --port 8443 [--config FILE]
[--state-dir DIR]
"""

from __future__ import annotations

import argparse
import ssl
from http.server import ThreadingHTTPServer

import models_api as api
import stdlib_gateway as stdlib


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--ssl-certfile", required=True)
    parser.add_argument("--ssl-keyfile", required=True)
    known, rest = parser.parse_known_args()
    settings = api.load_settings("tls-stdlib", rest)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(known.ssl_certfile, known.ssl_keyfile)
    stdlib.CountingHandler.gateway = stdlib.CountingGateway(settings)
    server = ThreadingHTTPServer((settings.host, settings.port), stdlib.CountingHandler)
    server.daemon_threads = True
    # A client that refuses the certificate fails the handshake in accept(): an OSError the
    # server drops, as it drops a reset connection.
    server.socket = context.wrap_socket(server.socket, server_side=True)
    banner = api.banner(settings, "http.server over TLS").replace("http://", "https://")
    print(banner, flush=True)
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
