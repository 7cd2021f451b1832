"""The claim ledger parses TOML claims and gives every verdict kind from synthetic records."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.claims import (
    HOLDS,
    INCONCLUSIVE,
    REFUTED,
    evaluate_claim,
    evaluate_ledger,
    load_ledger,
    load_verdicts,
    parse_ledger,
    write_verdicts,
)
from harness.claims.consistency import evaluate_expression, smallest_fraction
from harness.errors import UsageError
from harness.records import Environment, RunRecord, make_series
from scenarios import scenario_path

SEED = Path(__file__).parents[3] / "scenarios" / "claims" / "seed.toml"
ENV = Environment("3.11", "Linux", "cpu", 2, "host", "abc", False, "0.1.0")


def record(runner: str, scenario: str, labels: dict[str, str], **series: list[float]) -> RunRecord:
    made = tuple(make_series(name, "count", values) for name, values in series.items())
    return RunRecord(runner, scenario, {}, ENV, made, labels=labels)


def ledger_of(claim: str) -> Any:
    return parse_ledger(tomllib.loads(claim))


RATE_CLAIM = """
[[claim]]
id = "fallback"
text = "fallback runs 10% of the time"
workload = "sfperf micro"
unit = "fraction"
expect = {{ {expect} }}
[claim.metric]
runner = "micro"
scenario = "extract-paths"
labels = {{ extractor = "priority" }}
series = "fallback"
statistic = "rate"
"""


def paths_record(fallbacks: int, calls: int) -> RunRecord:
    values = [1.0] * fallbacks + [0.0] * (calls - fallbacks)
    return record("micro", "extract-paths", {"extractor": "priority"}, fallback=values)


@pytest.mark.parametrize(
    ("expect", "fallbacks", "verdict"),
    [
        ("within = 0.10, tolerance = 0.02", 1000, HOLDS),
        ("within = 0.10, tolerance = 0.02", 0, REFUTED),
        ("at_least = 0.095", 1000, INCONCLUSIVE),
        ("at_most = 0.2", 1000, HOLDS),
        ("between = [0.3, 0.5]", 1000, REFUTED),
    ],
)
def test_a_rate_claim_gets_the_verdict_its_wilson_interval_implies(
    expect: str, fallbacks: int, verdict: str
) -> None:
    ledger = ledger_of(RATE_CLAIM.format(expect=expect))
    result = evaluate_claim(ledger.claims[0], [paths_record(fallbacks, 10_000)])
    assert result.verdict == verdict
    assert result.value == pytest.approx(fallbacks / 10_000)
    low, value, high = result.low, result.value, result.high
    assert low is not None and value is not None and high is not None
    assert low <= value <= high
    assert result.n == 10_000


def test_a_claim_without_its_records_is_inconclusive_and_names_the_workload() -> None:
    ledger = ledger_of(RATE_CLAIM.format(expect="at_most = 0.2"))
    other = record("micro", "extract-paths", {"extractor": "legacy"}, fallback=[1.0])
    result = evaluate_claim(ledger.claims[0], [other])
    assert result.verdict == INCONCLUSIVE
    assert "extractor=priority" in result.reason
    assert "sfperf micro" in result.reason
    assert result.evidence == ()


def test_evidence_lists_the_run_ids_that_were_used() -> None:
    ledger = ledger_of(RATE_CLAIM.format(expect="at_most = 0.2"))
    first, second = paths_record(1, 10), paths_record(2, 10)
    result = evaluate_claim(ledger.claims[0], [first, second])
    assert result.evidence == (first.run_id, second.run_id)
    assert result.n == 20


RATIO_CLAIM = """
[[claim]]
id = "io"
text = "file I/O reduced"
workload = "sfperf simulate"
unit = "fraction"
expect = { at_least = 0.89 }
[claim.metric]
runner = "simulate"
scenario = "token-cache"
series = ["file_reads", "file_writes"]
denominator = "requests"
statistic = "ratio_of_sums"
baseline = { provider = "file" }
candidate = { provider = "memory-ttl", ttl_s = 2700 }
transform = "reduction"
"""


def test_a_ratio_claim_compares_two_variants_and_matches_labels_numerically() -> None:
    file_provider = record(
        "simulate", "token-cache", {"provider": "file"},
        requests=[100, 100, 100], file_reads=[100, 100, 100], file_writes=[2, 2, 2],
    )  # fmt: skip
    memory = record(
        "simulate", "token-cache", {"provider": "memory-ttl", "ttl_s": "2700.0"},
        requests=[100, 100, 100], file_reads=[0, 0, 0], file_writes=[2, 2, 2],
    )  # fmt: skip
    result = evaluate_claim(ledger_of(RATIO_CLAIM).claims[0], [file_provider, memory])
    assert result.value == pytest.approx(1 - 2 / 102)
    assert result.verdict == HOLDS
    assert set(result.evidence) == {file_provider.run_id, memory.run_id}


SPEEDUP_CLAIM = """
[[claim]]
id = "batching"
text = "batching is 20% faster"
workload = "sfperf sweep"
expect = { between = [0.15, 0.25] }
[claim.metric]
runner = "sweep"
scenario = "sync-vs-async"
series = "latency_ms"
statistic = "mean"
baseline = { subject = "sync" }
candidate = { subject = "batch" }
transform = "speedup"
at_max = "concurrency"
"""


def sweep_point(
    subject: str, concurrency: str, latencies_ms: list[float], load: tuple[float, float] = (0, 0)
) -> RunRecord:
    labels = {"subject": subject, "concurrency": concurrency}
    made = record("sweep", "sync-vs-async", labels, latency_ms=latencies_ms)
    machine = {"cpu_count": 2, "load_1m_start": load[0], "load_1m_end": load[1]}
    return replace(made, params={"machine_load": machine})


def test_a_speedup_at_the_highest_common_concurrency_uses_only_those_records() -> None:
    records = [
        sweep_point("sync", "1", [1.0]),
        sweep_point("sync", "8", [120.0] * 50),
        sweep_point("batch", "8", [100.0] * 50),
        sweep_point("batch", "64", [9.0]),
    ]
    result = evaluate_claim(ledger_of(SPEEDUP_CLAIM).claims[0], records)
    assert result.value == pytest.approx(0.2)
    assert result.verdict == HOLDS
    assert len(result.evidence) == 2


def test_a_concurrency_claim_says_the_machines_load_over_its_evidence_and_warns_past_the_cores(
) -> None:  # fmt: skip
    quiet = [sweep_point("sync", "8", [120.0] * 50, (0.2, 0.3)),
             sweep_point("batch", "8", [100.0] * 50, (0.3, 0.4)),
             sweep_point("batch", "64", [9.0], (5.0, 6.0))]  # fmt: skip
    claim = ledger_of(SPEEDUP_CLAIM).claims[0]
    judged = evaluate_claim(claim, quiet)
    assert judged.machine_load == "machine load 0.2-0.4 (1-min average) on 2 CPUs"
    assert judged.reason.endswith(f"; {judged.machine_load}")
    busy = [sweep_point("sync", "8", [120.0] * 50, (1.5, 3.4)), *quiet[1:]]
    assert "⚠️ the load exceeded the 2 CPUs during the measurement" in (
        evaluate_claim(claim, busy).reason)  # fmt: skip


def test_a_consistency_claim_checks_the_documents_own_arithmetic() -> None:
    claim = """
[[claim]]
id = "sum"
kind = "consistency"
text = "89% + 10% is everything"
expression = "a + b"
inputs = { a = 0.89, b = 0.10 }
expect = { within = 1.0, tolerance = 0.001 }
"""
    result = evaluate_claim(ledger_of(claim).claims[0], [])
    assert result.verdict == REFUTED
    assert result.value == pytest.approx(0.99)


def test_a_reported_percentage_reveals_its_smallest_possible_sample() -> None:
    assert smallest_fraction(0.8182, 4) == (9, 11)
    assert smallest_fraction(0.5, 2) == (1, 2)


def test_expressions_refuse_anything_but_arithmetic() -> None:
    assert evaluate_expression("max(a, 2) * 3 - -1", {"a": 1}) == 7
    with pytest.raises(UsageError, match="unsupported"):
        evaluate_expression("__import__('os').getcwd()", {})
    with pytest.raises(UsageError, match="unknown name"):
        evaluate_expression("x + 1", {})


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ('[[claim]]\nid = "a"\ntext = "t"\nworkload = "w"\nexpect = { at_least = 1 }', "metric"),
        ('[[claim]]\nid = "a"\ntext = "t"\nkind = "guess"\nexpect = { at_least = 1 }', "kind"),
        ('[[claim]]\nid = "a"\ntext = "t"\nkind = "consistency"\nexpression = "1"', "expect"),
        ("title = 'no claims'", "no \\[\\[claim\\]\\]"),
    ],
)
def test_a_malformed_ledger_is_a_usage_error_naming_the_problem(broken: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_ledger(tomllib.loads(broken))


def test_the_seed_ledger_parses_and_every_claim_gets_a_verdict_without_records() -> None:
    ledger = load_ledger(SEED)
    verdicts = evaluate_ledger(ledger, [])
    assert len(verdicts) == len(ledger.claims) >= 30
    measured = [v for v in verdicts if v.kind == "measured"]
    assert all(v.verdict == INCONCLUSIVE and "needs:" in v.reason for v in measured)
    by_id = {v.claim_id: v.verdict for v in verdicts}
    assert by_id["consistency-single-path-plus-fallback"] == REFUTED
    assert by_id["consistency-buffer-below-ttl"] == REFUTED
    assert by_id["consistency-ttl-within-token-lifetime"] == REFUTED
    assert by_id["consistency-8-of-9-is-89pct"] == HOLDS


def test_verdicts_round_trip_through_claims_json(tmp_path: Path) -> None:
    ledger = load_ledger(SEED)
    verdicts = evaluate_ledger(ledger, [])
    path = write_verdicts(tmp_path, verdicts, ledger)
    assert json.loads(path.read_text())["counts"]["refuted"] >= 5
    assert load_verdicts(tmp_path) == verdicts


def test_the_gateway_ledger_parses_and_says_what_a_target_needs_without_records() -> None:
    from scenarios import scenario_path

    verdicts = evaluate_ledger(load_ledger(scenario_path("claims", "gateway.toml")), [])
    assert len(verdicts) >= 9
    assert all(v.verdict == INCONCLUSIVE and "needs:" in v.reason for v in verdicts)


def test_a_ratio_over_nothing_is_inconclusive_and_says_there_was_nothing_to_divide_by() -> None:
    ledger = ledger_of("""
[[claim]]
id = "opens"
text = "token file opens per request"
workload = "sfperf validate --launch"
unit = "opens/request"
expect = { at_most = 0.01 }
[claim.metric]
runner = "card"
scenario = "load"
series = "credential_file_opens"
denominator = "models_requests"
statistic = "ratio_of_sums"
""")
    empty = record("card", "load", {}, credential_file_opens=[0.0], models_requests=[0.0])
    (verdict,) = evaluate_ledger(ledger, [empty])
    assert verdict.verdict == INCONCLUSIVE and "nothing to divide by" in verdict.reason


def test_a_count_of_events_is_exact_so_one_event_in_three_windows_refutes_none() -> None:
    ledger = ledger_of("""
[[claim]]
id = "expired"
text = "no expired-token sends"
workload = "sfperf validate"
unit = "requests"
expect = { at_most = 0 }
[claim.metric]
runner = "card"
scenario = "load"
series = "expired_token_sends"
statistic = "sum"
""")
    windows = [record("card", "load", {"window": w}, expired_token_sends=[n])
               for w, n in (("a", 0.0), ("b", 2.0), ("c", 0.0))]  # fmt: skip
    (verdict,) = evaluate_ledger(ledger, windows)
    assert (verdict.verdict, verdict.low, verdict.high) == (REFUTED, 2.0, 2.0)
    assert verdict.expected == "at most 0 requests"  # R78: every figure in its unit
    assert verdict.reason.endswith("2 requests is not at most 0 requests")


def test_a_claim_on_a_list_of_scenarios_reads_each_of_them_and_only_them() -> None:
    # R119: usage asked on streams is judged with the plain replies' usage, by one claim.
    ledger = ledger_of("""
[[claim]]
id = "usage"
text = "usage passed through"
workload = "sfperf validate"
unit = "replies"
expect = { at_most = 0 }
[claim.metric]
runner = "load"
scenario = ["steady", "streaming"]
series = "fidelity_usage_mismatch"
statistic = "sum"
""")
    runs = [record("load", name, {}, fidelity_usage_mismatch=[n])
            for name, n in (("steady", 0.0), ("streaming", 3.0), ("resilience", 5.0))]  # fmt: skip
    (verdict,) = evaluate_ledger(ledger, runs)
    assert (verdict.verdict, verdict.low) == (REFUTED, 3.0)
    (missing,) = evaluate_ledger(ledger, runs[2:])
    assert missing.verdict == INCONCLUSIVE and "load/steady+streaming" in missing.reason


def level(subject: str, role: str, n: int, rps: float) -> RunRecord:
    """One sweep level of `n` callers answering `rps` ok requests/s (a ceiling without role)."""
    labels = {"subject": subject, "kind": "ceiling" if not role else "target",
              "concurrency": str(n), "upstream_latency_ms": "200"}  # fmt: skip
    if role:
        labels["role"] = role
    series = (make_series("latency_ms", "ms", [1000.0 * n / rps] * 40),
              make_series("ok", "count", [1.0] * 40),
              make_series("throughput_rps", "rps", [rps]),
              make_series("littles_bound_rps", "rps", [n / 0.2]))  # fmt: skip
    return RunRecord("sweep", "sync-vs-async", {}, ENV, series, labels=labels)


def test_a_concurrency_gain_is_judged_where_the_sweeps_own_client_was_not_the_limit() -> None:
    # At 64 both gateways ran as fast as the sweep's client could drive the mock at all (270 of
    # 320 req/s): a gain of ~0 there measures the client. At 8 the threaded one is capped.
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    (claim,) = [c for c in ledger.claims if c.id == "gw-threading-handles-concurrency"]
    records = [
        level("ceiling", "", 8, 39.9), level("ceiling", "", 64, 270.0),
        level("threaded", "baseline", 8, 20.0), level("threaded", "baseline", 64, 265.0),
        level("async", "candidate", 8, 39.8), level("async", "candidate", 64, 268.0),
    ]  # fmt: skip
    result = evaluate_claim(claim, records)
    assert result.verdict == REFUTED and result.value == pytest.approx(0.99, rel=0.01)
    assert "at concurrency 8 (64: the sweep's client was the limit)" in result.reason
    held = evaluate_claim(claim, [r for r in records if r.labels["concurrency"] == "64"])
    assert held.verdict == INCONCLUSIVE
    assert "the sweep's own client was the limit at every concurrency both ran (64)" in held.reason


def test_a_gain_says_over_what_in_requests_per_second_and_a_collapse_holds_only_vacuously() -> None:
    # R78: an "async" candidate serving one request at a time "gains little: holds", in no unit.
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    (claim,) = [c for c in ledger.claims if c.id == "gw-threading-handles-concurrency"]
    records = [level("ceiling", "", 64, 310.0), level("threaded", "baseline", 64, 187.0),
               level("one-at-a-time", "candidate", 64, 5.7)]  # fmt: skip
    result = evaluate_claim(claim, records)
    assert result.verdict == HOLDS
    assert "gain of the candidate over the baseline" in result.reason
    assert "role=candidate (one-at-a-time) = 5.7 ok requests/s" in result.reason
    assert "role=baseline (threaded) = 187 ok requests/s at concurrency 64" in result.reason
    assert "only vacuously: a loss, not a gain (the baseline's figure is 32.8x" in result.reason
    fair = evaluate_claim(claim, [*records[:2], level("async", "candidate", 64, 190.0)])
    assert fair.verdict == HOLDS and "vacuously" not in fair.reason


NONE_IN_200_CLAIM = """
[[claim]]
id = "no-error-in-200"
text = "No error text comes back inside a 200"
workload = "sfperf load steady"
unit = "replies"
expect = { at_most = 0 }
[claim.metric]
runner = "load"
scenario = "steady"
series = "fidelity_error_in_200"
statistic = "sum"
chances = { series = "status", where = "== 200", what = "replies came back 200" }
"""


def load_of(*statuses: float, errors_in_200: float = 0) -> RunRecord:
    return record("load", "steady", {}, status=list(statuses),
                  fidelity_error_in_200=[errors_in_200])  # fmt: skip


def test_a_claim_that_nothing_could_have_shown_wrong_is_inconclusive_not_holding() -> None:
    (claim,) = ledger_of(NONE_IN_200_CLAIM).claims
    nothing = evaluate_claim(claim, [load_of(500, 500, 500)])
    assert nothing.verdict == INCONCLUSIVE
    assert nothing.reason == "nothing to check: 0 of 3 replies came back 200"
    checked = evaluate_claim(claim, [load_of(200, 200, 500)])
    assert checked.verdict == HOLDS and "over 2 of 3 replies came back 200" in checked.reason
    assert evaluate_claim(claim, [load_of(200, 500, errors_in_200=1)]).verdict == REFUTED


def test_records_made_before_a_claims_chances_were_counted_are_judged_as_before() -> None:
    (claim,) = ledger_of(NONE_IN_200_CLAIM).claims
    older = record("load", "steady", {}, fidelity_error_in_200=[0.0])
    assert evaluate_claim(claim, [older]).verdict == HOLDS


def test_chances_must_name_a_series() -> None:
    with pytest.raises(UsageError, match=r"metric\.chances"):
        ledger_of(NONE_IN_200_CLAIM.replace('series = "status", ', ""))


def gateway_rounds(gains: list[float], *, in_rounds: bool = True) -> list[RunRecord]:
    """Sweep records of the threaded and the async reference gateway at concurrency 64, one per
    round: in round k the async one answers `gains[k]` faster (mean latency)."""
    made = []
    for k, gain in enumerate(gains):
        for subject, mean_ms in (("gateway:sync-optimized", 220.0 * (1 + gain)),
                                 ("gateway:async", 220.0)):  # fmt: skip
            labels = {"subject": subject, "kind": "gateway", "concurrency": "64",
                      "upstream_latency_ms": "200"}  # fmt: skip
            latency = make_series("latency_ms", "ms", [mean_ms - 5, mean_ms, mean_ms + 5] * 100)
            params = {"round": k} if in_rounds else {}
            made.append(RunRecord("sweep", "sync-vs-async", params, ENV, (latency,), labels=labels))
    return made


def seed_claim(claim_id: str) -> Any:
    (claim,) = [c for c in load_ledger(SEED).claims if c.id == claim_id]
    return claim


def test_rounds_that_disagree_leave_a_gain_inconclusive_and_say_so() -> None:
    # Each round alone is tight (300 requests a side), but the machine moved between rounds:
    # 5%, 25%, 8%. Pooled as one window, the same requests would decide it.
    claim = seed_claim("async-gateway-gain-marginal")
    result = evaluate_claim(claim, gateway_rounds([0.05, 0.25, 0.08]))
    assert result.verdict == INCONCLUSIVE
    assert "paired over 3 interleaved rounds (5%, 25%, 8%)" in result.reason
    assert "the rounds disagree (2 of 3 at most 10%" in result.reason
    assert result.low is not None and result.high is not None
    assert result.low < 0.10 < result.high
    pooled = evaluate_claim(claim, gateway_rounds([0.05, 0.25, 0.08], in_rounds=False))
    assert pooled.verdict == REFUTED and "measured one after the other" in pooled.reason


def test_rounds_that_agree_decide_a_gain() -> None:
    claim = seed_claim("async-gateway-gain-marginal")
    held = evaluate_claim(claim, gateway_rounds([0.05, 0.048, 0.052]))
    assert held.verdict == HOLDS and held.value == pytest.approx(0.05, abs=0.002)
    assert held.low is not None and held.high is not None
    assert 0.03 < held.low < held.high < 0.07
    refuted = evaluate_claim(claim, gateway_rounds([0.20, 0.22, 0.19, 0.21]))
    assert refuted.verdict == REFUTED and "paired over 4 interleaved rounds" in refuted.reason


def test_a_gain_is_judged_at_the_highest_level_both_sides_measured_in_rounds() -> None:
    claim = seed_claim("async-gateway-gain-marginal")
    at_32 = [replace(r, labels={**r.labels, "concurrency": "32"})
             for r in gateway_rounds([0.05, 0.05, 0.05])]  # fmt: skip
    one_window_at_64 = gateway_rounds([0.30])
    result = evaluate_claim(claim, [*at_32, *one_window_at_64])
    assert result.verdict == HOLDS and "at concurrency 32" in result.reason
    assert "64: one window a side" in result.reason


def test_under_faults_nothing_to_check_counts_the_requests_that_met_the_faults() -> None:
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    (claim,) = [c for c in ledger.claims if c.id == "gw-no-error-in-200-under-faults"]
    failed = record("load", "resilience", {}, fault_status=[502.0] * 80 + [0.0],
                    fault_error_in_200=[])  # fmt: skip
    result = evaluate_claim(claim, [failed])
    assert result.verdict == INCONCLUSIVE
    assert "nothing to check: 0 of 81 requests that met the faults got a 200" in result.reason
    answered = record("load", "resilience", {}, fault_status=[200.0] * 3 + [502.0],
                      fault_error_in_200=[0.0] * 3)  # fmt: skip
    held = evaluate_claim(claim, [answered])
    assert held.verdict == HOLDS and "over 3 of 4 requests that met the faults" in held.reason


def test_a_gateway_that_answers_every_stream_with_whole_json_fails_the_streaming_claims() -> None:
    from harness.fidelity import AnswerFacts
    from harness.runners.support.loadrows import Row, row_series

    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    claims = {c.id: c for c in ledger.claims}
    asked = json.dumps({"model": "gpt-4o", "messages": [], "stream": True})
    whole = AnswerFacts("ab" * 32, "stop", (3, 3, 6), usage_asked=False, streamed=False)
    rows = [Row("chat-stream", 0.0, 0.0, 500.0, 200, False, None, (), ("not_streamed",),
                answer=whole, request=asked) for _ in range(21)]  # fmt: skip
    streaming = RunRecord("load", "streaming", {}, ENV, row_series(rows), labels={})
    answers = evaluate_claim(claims["gw-streams-answered"], [streaming])
    assert (answers.verdict, answers.reason.split(";")[0]) == (REFUTED, "0 of 21 observations")
    gaps = evaluate_claim(claims["gw-stream-relayed-at-once"], [streaming])
    assert gaps.verdict == INCONCLUSIVE and "needs:" not in gaps.reason
    assert gaps.reason == "nothing to check: 0 of 21 streamed requests came back as a stream"


def test_a_series_the_run_held_no_value_of_asks_for_no_other_run() -> None:
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    (claim,) = [c for c in ledger.claims if c.id == "gw-stream-relayed-at-once"]
    one_event = record("load", "streaming", {}, streamed=[1.0, 1.0], stream_gap_ms=[])
    verdict = evaluate_claim(claim, [one_event])
    assert verdict.reason == "not measured: the series stream_gap_ms hold no values"
    assert "needs: sfperf validate" in evaluate_claim(claim, []).reason


def answered_claim() -> Any:
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    return next(c for c in ledger.claims if c.id == "gw-answers-correctly")


def test_requests_that_met_a_fault_the_users_mock_injected_are_set_apart_from_the_ok_claim() -> (
    None
):
    # R89: behind `sfperf mock --fault 500:p=0.2` the gateway passed 16 injected 500s on as 502
    # and answered every other request: "refuted: ... (measured 80%)" blamed it for the mock.
    answered, met = [1.0] * 64 + [0.0] * 16, [0.0] * 64 + [1.0] * 16
    faulty = record("load", "steady", {}, answered=answered, met_fault=met)
    verdict = evaluate_claim(answered_claim(), [faulty])
    assert verdict.verdict == HOLDS and verdict.value == 1.0
    assert "16 requests met a fault the mock injected, set apart" in verdict.reason
    older = record("load", "steady", {}, answered=answered)  # no met_fault: every request counts
    assert evaluate_claim(answered_claim(), [older]).verdict == REFUTED
    # The gateway's own failures still count: 20 of the 64 unfaulted requests failed.
    own = record("load", "steady", {}, answered=[1.0] * 44 + [0.0] * 36, met_fault=met)
    assert evaluate_claim(answered_claim(), [own]).verdict == REFUTED


def test_an_ok_claim_with_every_request_set_apart_has_nothing_to_check() -> None:
    every = record("load", "steady", {}, answered=[0.0] * 5, met_fault=[1.0] * 5)
    verdict = evaluate_claim(answered_claim(), [every])
    assert verdict.verdict == INCONCLUSIVE
    assert "every observation set apart (requests met a fault the mock injected)" in verdict.reason


def gateway_claim(claim_id: str) -> Any:
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    return next(c for c in ledger.claims if c.id == claim_id)


def capped_steady_windows() -> list[RunRecord]:
    """R115: Falcon under waitress's 4 threads, every reply right; the open loop at 20 req/s
    left 11 of 30 scheduled requests unsent (its users all waiting on the target)."""
    closed = record("load", "steady", {"mode": "closed"}, answered=[1.0] * 45,
                    unsent=[0.0] * 45, held=[0.0] * 45)  # fmt: skip
    flags = [0.0] * 19 + [1.0] * 11
    open_loop = record("load", "steady", {"mode": "open"}, answered=[1.0] * 19 + [0.0] * 11,
                       unsent=flags, held=[0.0] * 30)  # fmt: skip
    return [closed, open_loop]


def test_requests_an_open_loop_never_sent_are_no_wrong_answers_but_a_rate_not_kept() -> None:
    answers = evaluate_claim(gateway_claim("gw-answers-correctly"), capped_steady_windows())
    assert answers.verdict == HOLDS and answers.value == 1.0
    assert "11 requests the open loop never sent (its users all waiting on the target), set " \
        "apart" in answers.reason  # fmt: skip
    rate = evaluate_claim(gateway_claim("gw-keeps-the-rate"), capped_steady_windows())
    assert rate.verdict == REFUTED and rate.value == pytest.approx(19 / 30)


def test_each_kind_set_apart_is_counted_apart_and_once() -> None:
    ok = [0.0] * 40
    flags = {"met_fault": [1.0, 1.0, 0.0, *ok], "held": [1.0, 0.0, 1.0, *ok]}
    window = record("load", "steady", {"mode": "closed"}, answered=[0.0] * 3 + [1.0] * 40,
                    unsent=[0.0] * 43, **flags)  # fmt: skip
    verdict = evaluate_claim(gateway_claim("gw-answers-correctly"), [window])
    assert verdict.verdict == HOLDS
    assert verdict.reason.count("set apart") == 1
    assert "2 requests met a fault the mock injected, 1 requests still held at the window's end" \
        in verdict.reason  # fmt: skip


def test_unless_takes_a_list_of_series_and_refuses_anything_else() -> None:
    claim = RATE_CLAIM.format(expect="at_least = 0.5") + 'unless = ["a", {series = "b"}]\n'
    (parsed,) = ledger_of(claim).claims
    assert [u.series for u in parsed.metric.unless] == ["a", "b"]
    with pytest.raises(UsageError, match="a list of those"):
        ledger_of(RATE_CLAIM.format(expect="at_least = 0.5") + "unless = [3]\n")


def test_no_reply_under_faults_has_no_verdict_when_a_fault_phase_met_no_call() -> None:
    # R116: every call refused 401 before the 503 outage and the hangs: "holds" tested nothing.
    claim = gateway_claim("gw-every-request-answered-under-faults")
    untested = record("load", "resilience", {}, no_reply=[0.0], fault_phases_untested=[2.0])
    verdict = evaluate_claim(claim, [untested])
    assert verdict.verdict == INCONCLUSIVE and "0 of 1 resilience runs in which" in verdict.reason
    tested = record("load", "resilience", {}, no_reply=[0.0], fault_phases_untested=[0.0])
    assert evaluate_claim(claim, [tested]).verdict == HOLDS
