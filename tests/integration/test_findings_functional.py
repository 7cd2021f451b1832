"""Each mistake a gateway can make against its upstream, made by a small client against the real
mock on loopback: the verdict names it for the client that makes it, not for a well-behaved one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from harness.cli import main
from harness.findings import Finding, GradingPolicy, grade_journal
from harness.findings.journal import fetch_journal
from harness.store import load_records
from mock_salesforce.config import MockConfig
from mock_salesforce.server import run_in_thread
from tests.integration.misbehaving.client import RETRYABLE, Manners, ModelsClient

GOOD = Manners()
POLICY = GradingPolicy(hang_wait_s=1.0)


def one_call(client: ModelsClient) -> None:
    client.chat("Summarise the renewal #1")


def four_calls(client: ModelsClient) -> None:
    for i in range(4):
        client.chat(f"Summarise the renewal #{i}")


def call_sleep_call(client: ModelsClient) -> None:
    client.chat("Summarise the renewal #1")
    time.sleep(2.2)  # past the 2 s token lifetime
    client.chat("Summarise the renewal #2")


def concurrent_calls(client: ModelsClient) -> None:
    start = threading.Barrier(4)

    def worker(i: int) -> None:
        start.wait()
        client.chat(f"Summarise the renewal #{i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10.0)


def unknown_model_call(client: ModelsClient) -> None:
    client.chat("Summarise the renewal #1", model="gpt-4o")


@dataclass(frozen=True)
class Case:
    """One mistake: the mock's settings, the client's bad manners and what it does."""

    finding: str
    bad: Manners
    faults: tuple[str, ...] = ()
    act: Callable[[ModelsClient], None] = one_call
    good_act: Callable[[ModelsClient], None] | None = None
    config: dict[str, object] = field(default_factory=dict)


CASES = [
    Case("retry_after_ignored", replace(GOOD, honour_retry_after=False),
         ("429:first=1,retry_after=1",)),
    Case("retried_non_retryable", replace(GOOD, retry_statuses=RETRYABLE | {404}),
         ("404:first=1",)),
    Case("retried_non_retryable", replace(GOOD, refresh_on_401=False,
         retry_statuses=RETRYABLE | {401}), ("401:first=1",)),
    Case("retry_storm", replace(GOOD, max_attempts=8, backoff_s=0.02, backoff_factor=1.5),
         ("503:first=8",)),
    # Four calls of immediate retries (12): more than a jittered backoff draws by chance, even
    # when a busy machine delays a few past the threshold.
    Case("no_backoff", replace(GOOD, backoff_s=0.0), ("500:first=15",), act=four_calls),
    Case("gave_up", replace(GOOD, max_attempts=1), ("429:first=1",)),
    Case("hang_no_timeout", replace(GOOD, read_timeout_s=None), ("hang:first=1,duration=2s",)),
    Case("token_per_request", replace(GOOD, token_per_request=True), act=four_calls),
    Case("expired_token", replace(GOOD, refresh_margin_s=None), act=call_sleep_call,
         config={"token_lifetime_s": 2.0}),
    Case("unknown_token", replace(GOOD, bearer="eyJhbGciOiJub25lIn0.e30.forged", max_attempts=1)),
    Case("refresh_stampede", replace(GOOD, single_flight=False), act=concurrent_calls,
         config={"latency": {"token": "fixed:200ms"}}),
    Case("bad_app_context", replace(GOOD, app_context=None)),
    Case("bad_feature_id", replace(GOOD, feature_id="my-gateway")),
    Case("unknown_model", GOOD, act=unknown_model_call, good_act=one_call),
    Case("ignored_fields", replace(GOOD, extra_fields={"temperature": 0.2, "max_tokens": 64})),
]  # fmt: skip


def grade(case: Case, manners: Manners, act: Callable[[ModelsClient], None]) -> list[Finding]:
    """Run `act` with `manners` against a fresh mock set up for `case`; grade its journal."""
    faults = [f"{spec},endpoint=chat-generations" for spec in case.faults]
    config = MockConfig.from_mapping({"seed": 7, "faults": faults, **case.config})
    with run_in_thread(config) as mock:
        url = mock.url
        with ModelsClient(url, manners) as client:
            act(client)
        time.sleep(0.1)  # let the mock journal a request the client has just abandoned
        return grade_journal(fetch_journal(url).entries, POLICY)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.finding}")
def test_the_mistake_is_found_for_the_client_that_makes_it_and_no_other(case: Case) -> None:
    bad = {f.name for f in grade(case, case.bad, case.act)}
    good = {f.name for f in grade(case, GOOD, case.good_act or case.act)}
    assert case.finding in bad
    assert good <= {"token_rate"}, good


def test_sfperf_verdict_grades_a_live_mock_and_fails_ci_on_a_fail_finding(tmp_path: Path) -> None:
    config = MockConfig.from_mapping({"seed": 7})
    with run_in_thread(config) as mock:
        url = mock.url
        with ModelsClient(url, replace(GOOD, bearer="not-a-token", max_attempts=1)) as client:
            one_call(client)
        args = ["verdict", "--mock", url, "--target", "bad", "--out", str(tmp_path)]
        assert main([*args, "--fail-on", "FAIL"]) == 1
        assert main([*args, "--since", "1", "--append"]) == 0  # seq 1 was the only request
    first, second = load_records(tmp_path)
    assert first.get("finding:unknown_token").values == (1.0,)
    assert second.params["entries"] == 0


def test_a_verdict_needs_the_admin_token_and_marks_a_journal_that_dropped_entries_partial(
    tmp_path: Path,
) -> None:
    config = MockConfig.from_mapping({"seed": 7, "journal_size": 2, "admin_token": "s3cret"})
    with run_in_thread(config) as mock:
        url = mock.url
        with ModelsClient(url) as client:
            four_calls(client)
        args = ["verdict", "--mock", url, "--out", str(tmp_path)]
        assert main(args) == 2
        assert main([*args, "--admin-token", "s3cret"]) == 0
    (record,) = load_records(tmp_path)
    assert record.partial
    assert record.params["entries"] == 2
