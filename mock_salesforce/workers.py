"""`--workers N`: N mock processes sharing one port through SO_REUSEPORT.

The kernel spreads connections over the workers. Each worker keeps its own counters, journal and
config (admin calls reach whichever worker accepts the connection), so use one worker when the
admin API must see every request. Workers stop with the parent: on its SIGINT/SIGTERM, and by
themselves when it vanishes without stopping them.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from mock_salesforce.config import MockConfig
from mock_salesforce.errors import ConfigError
from mock_salesforce.process import stop_with_parent, tune_gc_for_serving
from mock_salesforce.server import format_url, run_serving, serve

_READY_TIMEOUT_S = 30.0
_STOP_GRACE_S = 5.0


def _worker(
    config: MockConfig,
    host: str,
    port: int,
    slot: tuple[int, int],
    ready: Any,
    front: str,
    loop: str,
) -> None:
    """Worker `slot` = (index, how many) of the mock's processes: serve until stopped."""
    index, workers = slot

    def on_ready(url: str) -> None:
        tune_gc_for_serving()
        ready.put((index, ""))

    parent = multiprocessing.parent_process()  # a parent SIGKILLed cannot stop its workers
    stop_with_parent(parent.pid if parent else None, _signal_self)
    try:
        run_serving(
            lambda: serve(
                config,
                host,
                port,
                on_ready,
                reuse_port=True,
                instance=index,
                workers=workers,
                front=front,
            ),
            loop,
        )
    except Exception as exc:  # reported to the parent, which prints one line
        ready.put((index, str(exc) or type(exc).__name__))


def _signal_self(signum: int) -> None:
    """Stop this worker as its parent would have (the server's own handler for `signum`)."""
    os.kill(os.getpid(), signum)


def _reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) a reuse-port socket so port 0 resolves once for every worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, port))
    return holder


def run_workers(
    args: argparse.Namespace, config: MockConfig, on_ready: Callable[[str], None]
) -> int:
    """Start the workers, `on_ready(url)` once all listen, stop them all on SIGINT/SIGTERM."""
    holder = _reserve_port(args.host, args.port)
    port = int(holder.getsockname()[1])
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(config, args.host, port, (i, args.workers), ready, args.front, args.loop),
            daemon=True,
        )
        for i in range(args.workers)
    ]
    for worker in workers:
        worker.start()
    try:
        _await_ready(ready, len(workers))
        on_ready(format_url(args.host, port))
        signum = _wait_for_signal(workers)
    finally:
        for worker in workers:
            worker.terminate()  # SIGTERM: each worker stops cleanly
        for worker in workers:
            worker.join(timeout=_STOP_GRACE_S)
            if worker.is_alive():
                worker.kill()
                worker.join()
        holder.close()
    return 128 + signum  # stopped cleanly by that signal: the status a shell would report


def _await_ready(ready: Any, count: int) -> None:
    for _ in range(count):
        try:
            index, problem = ready.get(timeout=_READY_TIMEOUT_S)
        except queue.Empty:
            raise ConfigError("workers did not start in time") from None
        if problem:
            raise ConfigError(f"worker {index} failed: {problem}")


def _wait_for_signal(workers: list[Any]) -> int:
    """Block until SIGINT or SIGTERM and return its number; ConfigError if a worker dies."""
    stopped_by: list[int] = []
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped_by.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(0.2):
        if not all(w.is_alive() for w in workers):
            raise ConfigError("a worker exited unexpectedly")
    return stopped_by[0]
