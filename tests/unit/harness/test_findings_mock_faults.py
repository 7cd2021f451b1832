from typing import Any

from harness.findings.mock_faults import (
    MockFaults,
    faults_from_effective,
    injected,
    met_fault,
    spoken,
)
from mock_salesforce.config import build_config
from mock_salesforce.corpus import load_corpus
from mock_salesforce.effective import endpoint_views
from mock_salesforce.state import build_runtime

URL = "http://127.0.0.1:9313"


def effective_of(*faults: str) -> dict[str, Any]:
    """The `effective` document GET /__admin/config answers for a mock with `faults`."""
    runtime = build_runtime(build_config("default", 1, faults=list(faults)), load_corpus())
    return {view.endpoint: view.as_dict() for view in endpoint_views(runtime)}


def test_a_mock_injecting_500s_on_every_models_endpoint_is_said_in_one_sentence() -> None:
    faults = faults_from_effective(URL + "/", effective_of("500:p=0.2"))
    assert faults is not None and faults
    assert faults.on("chat-generations") == ("500:p=0.2",)
    assert faults.on("token") == ()
    assert faults.describe() == (
        "the mock at http://127.0.0.1:9313 injects 500 at p=0.2 on chat-generations, "
        "generations, embeddings and feedback"
    )
    assert faults.notice().startswith(faults.describe() + ": a call that meets one fails by the")


def test_faults_aimed_at_one_endpoint_name_that_endpoint_alone() -> None:
    faults = faults_from_effective(URL, effective_of("429:every=3,retry_after=1,endpoint=token"))
    assert faults is not None
    assert faults.describe() == (
        "the mock at http://127.0.0.1:9313 injects 429 at every=3, retry_after=1s on token"
    )
    assert faults.as_params() == {"token": ["429:every=3,retry_after=1s,endpoint=token"]}


def test_a_mock_without_faults_says_nothing_and_is_false() -> None:
    faults = faults_from_effective(URL, effective_of())
    assert faults is not None and not faults
    assert faults.describe() == "" and faults.as_params() == {} and faults.notice() == ""


def test_an_answer_that_is_no_effective_document_is_none() -> None:
    assert faults_from_effective(URL, None) is None
    assert faults_from_effective(URL, ["500"]) is None
    assert not MockFaults(URL, {})


def test_journal_entries_marked_fault_met_an_injected_fault() -> None:
    entries: list[dict[str, Any]] = [{"fault": "500"}, {"fault": None}, {}, {"fault": "hang"}]
    assert [met_fault(e) for e in entries] == [True, False, False, True]
    assert injected(entries) == ["500", "hang"]


def test_a_spec_without_triggers_is_said_as_its_kind() -> None:
    assert spoken("hang") == "hang"
    assert spoken("503:p=0.5,retry_after=2s") == "503 at p=0.5, retry_after=2s"
    assert spoken("500:endpoint=embeddings") == "500"


def test_a_mock_holding_endpoints_to_a_quota_says_so_and_its_refusals_are_its_own() -> None:
    # R108: `sfperf mock --quota 60`: its LIMIT_EXCEEDED 429s refuted the gateway's ok claim.
    runtime = build_runtime(build_config("default", 1, quotas={"*": 60}), load_corpus())
    effective = {view.endpoint: view.as_dict() for view in endpoint_views(runtime)}
    quota = faults_from_effective(URL, effective)
    assert quota is not None and quota and quota.quotas_rpm["chat-generations"] == 60
    assert quota.describe() == (
        "the mock at http://127.0.0.1:9313 holds chat-generations, generations, embeddings and "
        "feedback to 60 requests a minute"
    )
    assert ": a call that meets the quota fails by the mock's hand" in quota.notice()
    refused = {"status": 429, "fault": None, "error": "LIMIT_EXCEEDED: Rate limit exceeded"}
    assert met_fault(refused) and injected([refused, {"fault": "500"}]) == ["quota 429", "500"]
    assert not met_fault({"status": 429, "fault": None, "error": None})  # a 429 of no quota
