"""resilience: steady load while the mock provokes every mistake a gateway can make upstream.

At test start the master shortens the mock's token lifetime (so the run crosses several token
expiries) and then walks the mock through the phases of `resilience_plan`: calm, a burst of 429s
with `Retry-After`, calm, a 503 outage, calm, hung requests; one user in four asks for streams.
At test stop the mock is put back as it was. Grade the target afterwards with `sfperf verdict
--mock URL` (or `harness.findings.grade_journal`); `sfperf verdict --scenario resilience` does it
all.
"""

import logging
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events, task
from locust.env import Environment
from locust.runners import WorkerRunner

from harness.runners.support.phases import PhaseSpan, write_phases
from mock_salesforce.admin_client import AdminClient
from scenarios.load._sfperf import ChatUser, listen, options_of
from scenarios.load.resilience_plan import ResiliencePlan, resilience_plan


class ResilienceChat(ChatUser):
    """Sends chat completions back to back through every phase; every prompt is new (it carries
    its marker), so the grading tells a gateway's retries by their repeated body."""

    weight = 3

    @task
    def chat_completion(self) -> None:
        self.chat()


class ResilienceStream(ChatUser):
    """Sends streamed chat completions through the same phases: a gateway that commits a 200
    and its stream headers before calling the upstream can only tell a failure inside the
    stream, as error text in a 200 (R73)."""

    weight = 1
    stream = True

    @task
    def chat_completion(self) -> None:
        self.chat(name="chat-stream")


class Director:
    """Drives the mock through the plan's phases from a greenlet of the master process."""

    def __init__(self, mock_url: str, plan: ResiliencePlan, out: str = "") -> None:
        self.admin, self.plan = AdminClient(mock_url), plan
        self.saved: dict[str, Any] = {}
        self.greenlet: Any = None
        self.out = Path(out) if out else None  # where the phases' spans go, beside the rows
        self.spans: list[PhaseSpan] = []

    def start(self) -> None:
        config = self.admin.config()
        self.saved = {k: config[k] for k in ("faults", "token_lifetime_s") if k in config}
        self.admin.patch_config({"token_lifetime_s": self.plan.token_lifetime_s})
        self.greenlet = gevent.spawn(self.walk, time.monotonic())

    def walk(self, started_s: float) -> None:
        for phase in self.plan.phases:
            gevent.sleep(max(phase.start_s - (time.monotonic() - started_s), 0.0))
            # Faults begin when asked for and calm once the mock says so: a request sent in
            # between counts as met by the faults.
            before_s = time.time()
            self.admin.patch_config({"faults": list(phase.faults)})
            began_s = time.time() if phase.calm else before_s
            self.mark(PhaseSpan(phase.name, began_s, phase.calm, injects=bool(phase.faults)))
            logging.info("resilience: %s from %.1f s", phase.name, phase.start_s)

    def mark(self, span: PhaseSpan) -> None:
        self.spans.append(span)
        if self.out is not None:
            write_phases(self.out, self.spans)

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill()
        self.admin.patch_config(self.saved)


_directors: list[Director] = []  # the one Director of this process, once the test started


def on_test_start(environment: Environment, **_: Any) -> None:
    """Master (or the only process): start walking the mock through the phases."""
    if isinstance(environment.runner, WorkerRunner):
        return
    options = options_of(environment)
    if not options.sfperf_mock_url:
        logging.warning("resilience: no --sfperf-mock-url, so the mock cannot be told to misbehave")
        return
    plan = resilience_plan(options.sfperf_duration)
    director = Director(options.sfperf_mock_url, plan, options.sfperf_out)
    director.start()
    _directors.append(director)


def on_test_stop(environment: Environment, **_: Any) -> None:
    """Leave the mock as it was found."""
    while _directors:
        _directors.pop().stop()


listen(events.test_start, on_test_start)
listen(events.test_stop, on_test_stop)
