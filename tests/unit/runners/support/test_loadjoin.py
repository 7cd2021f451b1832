"""A load run's rows joined with the journal: what the load record gains, and the rewrites."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from harness.fidelity import AnswerFacts, ReplyOracle
from harness.runners.support.loadjoin import calm_series, join_load
from harness.runners.support.loadrows import Row
from harness.runners.support.phases import PhaseSpan
from mock_salesforce.journal import text_sha256

REQUEST = json.dumps({"model": "gpt-4o-mini", "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})  # fmt: skip
LABELS = {"target": "gw", "window": "steady-closed"}
FACTS = AnswerFacts(text_sha256("ok"), "stop", (3, 1, 4))


def call(seq: int, marker: str, **fields: Any) -> dict[str, Any]:
    return {
        "seq": seq, "request_id": f"r{seq}", "endpoint": "chat-generations", "markers": [marker],
        "model": "sfdc_ai__DefaultGPT4OmniMini", "status": 200, "fault": None,
        "disconnected": False, "t_s": float(seq), "duration_s": 0.1, "system_text": "Be brief.",
        "extra_fields": [], "reply_sha256": text_sha256("ok"), "finish_reason": "stop",
        "prompt_tokens": 3, "completion_tokens": 1,
    } | fields  # fmt: skip


def rows(n: int, **fields: Any) -> list[Row]:
    return [Row("chat", 1.0, 1.0, 150.0, 200, True, marker=f"sfpm{i:016x}", answer=FACTS,
                request=REQUEST, **fields) for i in range(n)]  # fmt: skip


def no_oracle() -> ReplyOracle | None:
    return None


def never() -> float | None:
    raise AssertionError("the mock's clock is read only for streams")


def test_a_joined_run_gains_latency_series_the_basis_and_a_rewrites_record() -> None:
    journal = [call(i + 1, f"sfpm{i:016x}") for i in range(3)]
    joined = join_load(rows(3), journal, oracle=no_oracle, labels=LABELS, mock_epoch=never)
    series = {s.name: s for s in joined.series}
    assert series["added_latency_ms"].values == pytest.approx((50.0,) * 3)
    assert series["upstream_calls"].values == (1.0, 1.0, 1.0)
    assert joined.params == {"fidelity_basis": {"upstream": 3, "predicted": 0, "unchecked": 0},
                             "journal": "read"}  # fmt: skip
    assert joined.rewrites is not None
    assert (joined.rewrites.runner, joined.rewrites.scenario) == ("verdict", "rewrites")
    assert joined.rewrites.labels == LABELS
    assert joined.rewrites.get("finding:model_swapped").values == (0.0,)
    assert joined.rewrites.params["rewrites"]["requests"] == 3
    asked = joined.rewrites.params["rewrites"]["asked"]
    assert asked == {
        "model": "gpt-4o-mini",
        "endpoint": "chat-completions",
        "system_text": "Be brief.",
    }


def test_the_model_the_targets_listing_names_for_the_asked_one_is_the_one_expected() -> None:
    journal = [call(i + 1, f"sfpm{i:016x}") for i in range(3)]
    listed = join_load(rows(3), journal, oracle=no_oracle, labels=LABELS, mock_epoch=never,
                       model_upstream="sfdc_ai__DefaultGPT4Omni")  # fmt: skip
    assert listed.rewrites is not None
    assert listed.rewrites.get("finding:model_swapped").values == (3.0,)


def test_a_login_server_call_before_every_request_is_counted_against_the_one_call_claim() -> None:
    # R107: GET /services/oauth2/userinfo before each Models call, 404 every time, no marker.
    userinfo = {"endpoint": "other", "status": 404, "markers": [], "model": None,
                "error": "NOT_FOUND: Resource not found: /services/oauth2/userinfo"}  # fmt: skip
    journal = []
    for i in range(5):  # the fifth request still in flight at the window's end: no row
        journal += [call(2 * i + 1, "", **userinfo), call(2 * i + 2, f"sfpm{i:016x}")]
    joined = join_load(rows(4), journal, oracle=no_oracle, labels=LABELS, mock_epoch=never)
    assert joined.rewrites is not None
    assert joined.rewrites.get("finding:other_upstream_calls").values == (5.0,)
    assert joined.rewrites.get("finding:extra_upstream_calls").values == (0.0,)
    routes = joined.rewrites.params["rewrites"]["routes"]
    assert {r["route"]: r["per_request"] for r in routes} == {
        "/services/oauth2/userinfo": 1.0, "chat-generations": 1.0}  # fmt: skip


def test_a_system_message_sent_up_as_a_user_message_is_a_lost_role_not_a_drop() -> None:
    # R122: every text went up in order, the system one as the first user message.
    as_sent = hashlib.sha256(b"Be brief.\nhi").hexdigest()
    journal = [call(i + 1, f"sfpm{i:016x}", system_text=None, content_sha256=as_sent)
               for i in range(3)]  # fmt: skip
    journal.append(call(4, f"sfpm{3:016x}", system_text=None, content_sha256="only-hi"))
    joined = join_load(rows(4), journal, oracle=no_oracle, labels=LABELS, mock_epoch=never)
    assert joined.rewrites is not None
    assert joined.rewrites.get("finding:system_role_lost").values == (3.0,)
    assert joined.rewrites.get("finding:system_text_dropped").values == (1.0,)
    changes = {
        r["change"]: r["requests"] for r in joined.rewrites.params["rewrites"]["system_text"]
    }
    assert changes == {"sent as a user message": 3, "dropped": 1}


def test_the_clients_messages_sent_up_twice_are_named_not_a_system_text_added() -> None:
    # R136: history + full messages merged: the system text and "hi" twice before the last "hi".
    twice = hashlib.sha256(b"Be brief.\nBe brief.\nhi").hexdigest()
    journal = [call(i + 1, f"sfpm{i:016x}", system_text="Be brief.\nBe brief.",
                    content_sha256=twice) for i in range(3)]  # fmt: skip
    joined = join_load(rows(3), journal, oracle=no_oracle, labels=LABELS, mock_epoch=never)
    assert joined.rewrites is not None
    assert joined.rewrites.get("finding:messages_duplicated").values == (3.0,)
    assert joined.rewrites.get("finding:system_text_added").values == (0.0,)


def test_without_a_journal_rows_are_judged_against_predicted_replies_and_the_record_says_so() -> (
    None
):
    joined = join_load(
        rows(2), None, oracle=lambda: ReplyOracle(1), labels=LABELS, mock_epoch=never
    )
    assert joined.params["journal"] == "unavailable"
    assert joined.params["fidelity_basis"] == {"upstream": 0, "predicted": 2, "unchecked": 0}
    assert all("wrong_content" in r.fidelity for r in joined.rows)  # "ok" is not the mock's
    assert joined.series == () and joined.rewrites is None
    unchecked = join_load(rows(2), None, oracle=no_oracle, labels=LABELS, mock_epoch=never)
    assert unchecked.params["fidelity_basis"]["unchecked"] == 2


def test_streamed_rows_are_timed_against_the_mocks_clock() -> None:
    streamed = rows(1, ttft_ms=130.0, itl_ms=(0.1, 0.1))
    journal = [call(1, "sfpm0000000000000000", t_s=0.0)]
    joined = join_load(streamed, journal, oracle=no_oracle, labels=LABELS,
                       mock_epoch=lambda: 1.0)  # fmt: skip
    assert joined.params["streaming"]["mode"] == "relayed"
    lag = next(s for s in joined.series if s.name == "stream_lag_ms")
    assert lag.values == pytest.approx((30.0,))


def test_a_run_walked_through_phases_is_judged_on_the_requests_that_met_a_calm_upstream() -> None:
    # A gateway the faults broke: every request after them fails without going upstream.
    broken = [Row("chat", 20.0 + i, 20.0 + i, 9.0, 500, False, body="cache index unreadable",
                  marker=f"m{i}") for i in range(4)]  # fmt: skip
    phases = (PhaseSpan("503 outage", 10.0, False), PhaseSpan("calm", 20.0, True))
    joined = join_load(broken, [], oracle=no_oracle, labels=LABELS, mock_epoch=never,
                       phases=phases)  # fmt: skip
    calm = next(s for s in joined.series if s.name == "calm_answered")
    assert calm.values == (0.0,) * 4
    assert joined.params["calm_errors"] == [
        {"status": 500, "body": "cache index unreadable", "count": 4}
    ]
    plain = join_load(broken, [], oracle=no_oracle, labels=LABELS, mock_epoch=never)
    assert "calm_errors" not in plain.params and plain.series == ()


def test_error_text_in_a_200_counts_against_the_faults_only_when_the_request_met_them() -> None:
    def error_200(marker: str) -> Row:
        return Row("chat", 15.0, 15.0, 9.0, 200, False, fidelity=("error_in_200",),
                   body="[Error: Could not extract generated text]", marker=marker)  # fmt: skip

    journal = [call(1, "hit", fault="503"), call(2, "spared", fault=None)]
    params: dict[str, Any] = {}
    phases = (PhaseSpan("503 outage", 10.0, False),)
    series = {s.name: s.values for s in calm_series(
        [error_200("hit"), error_200("spared")], phases, journal, params)}  # fmt: skip
    assert series["fault_error_in_200"] == (1.0,)
    assert series["fault_status"] == (200.0,)  # of the requests that met the faults
    assert series["calm_answered"] == (0.0,)  # the spared request's error text is no answer
    assert params["calm_errors"][0]["body"].startswith("fidelity: error_in_200: e.g. [Error")


def test_a_gateway_that_answers_streams_with_whole_json_is_said_not_to_stream() -> None:
    journal = [call(i + 1, f"sfpm{i:016x}") for i in range(3)]
    asked = json.dumps(json.loads(REQUEST) | {"stream": True})
    whole = AnswerFacts(text_sha256("ok"), "stop", (3, 1, 4), usage_asked=False, streamed=False)
    sent = [replace(r, ok=False, answer=whole, request=asked) for r in rows(3)]
    joined = join_load(sent, journal, oracle=no_oracle, labels=LABELS, mock_epoch=never)
    assert [r.fidelity for r in joined.rows] == [("not_streamed",)] * 3
    streaming = joined.params["streaming"]
    assert (streaming["mode"], streaming["requests"]) == ("not-streamed", 3)
    assert "answered 3 of the 3 requests that asked for a stream" in streaming["says"]


def test_requests_answered_without_an_upstream_call_count_zero_calls_and_cache_hits() -> None:
    # One call for four requests: the other three were answered from a reply cache.
    joined = join_load(rows(4), [call(1, f"sfpm{0:016x}")], oracle=no_oracle, labels=LABELS,
                       mock_epoch=never)  # fmt: skip
    series = {s.name: s.values for s in joined.series}
    assert series["upstream_calls"] == (1.0, 0.0, 0.0, 0.0)
    assert series["reply_cache_hit"] == (0.0, 1.0, 1.0, 1.0)
    assert series["crossed_uncalled"] == (0.0,)
    assert all(r.ok for r in joined.rows)


def test_with_part_of_the_journal_lost_only_joined_requests_count_their_calls() -> None:
    joined = join_load(rows(4), [call(1, f"sfpm{0:016x}")], oracle=no_oracle, labels=LABELS,
                       mock_epoch=never, journal_lost=True)  # fmt: skip
    series = {s.name: s.values for s in joined.series}
    assert series["upstream_calls"] == (1.0,) and "reply_cache_hit" not in series


def test_requests_whose_calls_met_a_fault_the_mock_injected_are_marked_and_counted() -> None:
    # R89: a user's `sfperf mock --fault 500:p=0.2`; the gateway passes the 500 on as 502.
    relayed = [replace(row, status=502, ok=False, answer=None) if i % 4 == 0 else row
               for i, row in enumerate(rows(8))]  # fmt: skip
    journal = [call(i + 1, f"sfpm{i:016x}", **({"status": 500, "fault": "500", "reply_sha256":
                                               None} if i % 4 == 0 else {}))
               for i in range(8)]  # fmt: skip
    joined = join_load(relayed, journal, oracle=no_oracle, labels=LABELS, mock_epoch=never)
    series = {s.name: s for s in joined.series}
    assert series["met_fault"].values == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    assert joined.params["met_faults"] == {"requests": 2, "answered": 0, "faults": {"500": 2},
                                           "statuses": {"502": 2}}  # fmt: skip
    clean = join_load(rows(3), [call(i + 1, f"sfpm{i:016x}") for i in range(3)],
                      oracle=no_oracle, labels=LABELS, mock_epoch=never)  # fmt: skip
    assert "met_fault" not in {s.name for s in clean.series} and "met_faults" not in clean.params


def test_a_last_user_message_that_reached_the_upstream_changed_is_named_in_the_rewrites() -> None:
    # R77: a gateway that read the client's UTF-8 as latin-1 sent the upstream another text; the
    # upstream's reply (keyed on it) is not the one to the client's own words.
    oracle = ReplyOracle(1)

    def reply_to(text: str) -> str:
        return text_sha256(oracle.chat({"messages": [{"role": "user", "content": text}]}).text)

    sent = [replace(row, request=json.dumps({"model": "m", "messages": [
        {"role": "user", "content": f"Zoë {n}"}]})) for n, row in enumerate(rows(3))]  # fmt: skip
    journal = [
        call(1, sent[0].marker, reply_sha256=reply_to("Zoë 0")),
        call(2, sent[1].marker, reply_sha256=reply_to("ZoÃ« 1")),
        call(3, sent[2].marker, endpoint="generations", reply_sha256=reply_to("User: Zoë 2")),
    ]
    joined = join_load(sent, journal, oracle=lambda: oracle, labels=LABELS, mock_epoch=never)
    assert joined.rewrites is not None
    assert joined.rewrites.get("finding:user_text_changed").values == (1.0,)
    kept = join_load(sent[:1], journal, oracle=lambda: oracle, labels=LABELS, mock_epoch=never)
    assert kept.rewrites is not None
    assert kept.rewrites.get("finding:user_text_changed").values == (0.0,)
