"""The mock grades the reference gateways: under transient faults they earn no warnings.

A cross-check between the subjects and the harness's journal rules: the reference must be the
well-behaved client those rules describe (backoff, Retry-After honoured, no 4xx retries, one
token reused, the documented headers, no extra fields).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.findings import Severity, grade_journal
from harness.subjects.gateway.options import GatewayOptions
from harness.subjects.gateway.serve import run_in_thread
from mock_salesforce.config import build_config
from mock_salesforce.server import run_in_thread as run_mock

# Transient faults hit the first requests only (all first attempts of the 8 concurrent calls),
# so no call can meet a fault on every retry; the 404s are permanent and must not be retried.
FAULTS = ["429:first=1,retry_after=1s", "500:first=4", "404:every=9"]


@pytest.mark.parametrize("variant", ["sync-legacy", "async"])
def test_a_reference_gateway_under_transient_faults_earns_only_notes(variant: str) -> None:
    with run_mock(build_config("fast", 4, faults=FAULTS)) as mock:
        with run_in_thread(GatewayOptions(mock.url, variant=variant)) as gateway:

            def ask(n: int) -> int:
                body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"q{n}"}]}
                url = f"{gateway.url}/v1/chat/completions"
                return requests.post(url, json=body, timeout=20).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(ask, range(24)))
        journal = mock.admin.journal()
    assert set(statuses) <= {200, 404}
    assert 404 in statuses  # the injected 404s were passed on, not retried into a 200
    findings = grade_journal(journal)
    assert [f.name for f in findings if f.severity is not Severity.INFO] == []
    token_note = next(f for f in findings if f.name == "token_rate")
    assert token_note.count == 1  # one grant reused for every request
