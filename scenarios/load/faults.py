"""faults: steady load while the mock misbehaves (429 storms, 5xx, hangs).

At test start the master turns faults on through the mock's admin API (`--sfperf-mock-url`,
given by `sfperf load` when it started the mock) and turns them off at test stop. The record
shows what the target made of them: error statuses, latency under retries, fidelity.
"""

import logging
from typing import Any

from locust import events, task
from locust.env import Environment
from locust.runners import WorkerRunner

from mock_salesforce.admin_client import AdminClient
from scenarios.load._sfperf import ChatUser, listen, options_of

# Mock fault specs (mock_salesforce/faults.py syntax).
FAULTS = (
    "429:p=0.25,retry_after=1",  # a 429 storm: one upstream call in four throttled
    "503:p=0.05",
    "500:every=10",  # scheduled, so even a short (quick) run sees some
    "hang:p=0.01",
)


class FaultyChat(ChatUser):
    """Sends chat completions back to back while faults are on."""

    errors_allowed = True

    @task
    def chat_completion(self) -> None:
        self.chat()


def _mock_url(environment: Environment) -> str:
    if isinstance(environment.runner, WorkerRunner):
        return ""
    return str(options_of(environment).sfperf_mock_url)


def faults_on(environment: Environment, **_: Any) -> None:
    """Master (or the only process): ask the mock for the faults."""
    if url := _mock_url(environment):
        AdminClient(url).patch_config({"faults": list(FAULTS)})
    elif not isinstance(environment.runner, WorkerRunner):
        logging.warning("faults: no --sfperf-mock-url, so the mock cannot be told to misbehave")


def faults_off(environment: Environment, **_: Any) -> None:
    """Leave the mock as it was found."""
    if url := _mock_url(environment):
        AdminClient(url).clear_faults()


listen(events.test_start, faults_on)
listen(events.test_stop, faults_off)
