"""The report card leads the report of a run on a user's target, within one screen."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from harness.card.ledger import evaluate_cards
from harness.card.selfreport import pair_figures
from harness.claims import Verdict
from harness.records import RunRecord, Series, capture_environment
from harness.store import load_records
from reports.card import card_section
from reports.render import write_report
from scenarios import scenario_path
from tests.unit.harness.test_saturation import capped_at_one

TARGET = "launch:gw"
GOLDEN = Path(__file__).parents[2] / "golden"


def record(runner: str, scenario: str, params: Mapping[str, object], **series: float) -> RunRecord:
    values = tuple(Series(name, "count", (value,)) for name, value in series.items())
    return RunRecord(runner, scenario, dict(params), capture_environment(), values,
                     labels={"target": TARGET})  # fmt: skip


def verdict(claim_id: str, outcome: str, value: float) -> Verdict:
    return Verdict(claim_id, f"claim {claim_id}", "measured", outcome, "at most 0.01",
                   "reason", value, value, value, "opens/request")  # fmt: skip


def run(tmp_path: Path, discover: dict[str, object]) -> str:
    card = record("card", "load", {
        "errors": [{"status": 500, "body": '{"error": "Event loop is closed"}', "count": 41}],
        "files": {"/s/token.json": {"class": "credential", "opens": 40, "reads": 40},
                  "/c/index.json": {"class": "config", "opens": 40, "reads": 40, "writes": 40}},
        "shim": {"requests": 40, "shim_cpu_ms": 0.08, "target_cpu_ms": 16.0},
    }, models_requests=40.0, client_requests=40.0)  # fmt: skip
    storm = {"name": "retry_storm", "severity": "FAIL", "count": 3, "explanation": "too many"}
    findings = [
        RunRecord("verdict", scenario, {"findings": [storm]}, capture_environment(), (),
                  labels={"target": TARGET, **({"window": window} if window else {})})
        for scenario, window in (("rewrites", "steady-closed"), ("findings", ""))
    ]  # fmt: skip
    dropped = {"status": 0, "body": "HTTPConnectionClosed: the connection ended without a reply",
               "count": 2}  # fmt: skip
    resilience = RunRecord("load", "resilience", {"no_reply_errors": [dropped]},
                           capture_environment(), (), labels={"target": TARGET})  # fmt: skip
    records = [record("discover", "models", discover), card, *findings, resilience]
    cards = {TARGET: [verdict("gw-token-file-io", "refuted", 1.0),
                      verdict("gw-usage", "holds", 0.0)]}  # fmt: skip
    write_report(tmp_path, records, claims=[], cards=cards, title="t")
    return (tmp_path / "report.md").read_text(encoding="utf-8")


def test_the_card_comes_first_and_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    discover: dict[str, object] = {"model": "gpt-4-mini", "model_source": "probe",
                                   "served_models": ["gpt-4-mini"]}  # fmt: skip
    report = run(tmp_path, discover)
    first_section = report.split("\n## ")[1]
    assert first_section.startswith(f"Report card: {TARGET}")
    assert "Model sent: `gpt-4-mini` (the first served model that answered" in first_section
    wrong = "**What is wrong:** refuted: claim gw-token-file-io (measured 1 opens/request); FAIL"
    assert wrong + " findings: `retry_storm`." in first_section
    errors = first_section[first_section.index("Requests that were not ok") :]
    assert errors.index("| 0 | 2 | resilience | HTTPConnectionClosed: the connection ended") < (
        errors.index('| 500 | 41 | load | {"error": "Event loop is closed"} |')
    )
    assert "| FAIL | retry_storm | 6 | steady-closed, findings | too many |" in first_section
    assert "| /s/token.json | credential | read on every request | 40 | 1 |" in first_section
    assert "| /c/index.json | data | read and rewritten on every request | 40 |" in first_section
    assert (
        "The launch shim (redirects, file-open counting) cost 2 us a request in the windows "
        "(0.5% of the target's CPU), by its own account" in first_section
    )
    assert "1 of 2 gateway claims refuted" in report.split("\n## ")[0]
    assert (tmp_path / f"card-{TARGET.replace(':', '-')}.csv").is_file()
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert page.index("Report card: launch:gw") < page.index("Claims of the seed report")
    assert "<strong>What is wrong:</strong>" in page


def shim_card(shim: dict[str, object], window_s: float) -> RunRecord:
    return record("card", "load", {"shim": shim}, client_requests=20.0, window_s=window_s)


def test_the_shims_background_polling_is_said_per_second_apart_from_its_cost_a_request(
    tmp_path: Path,
) -> None:
    shim: dict[str, object] = {"requests": 20, "shim_cpu_ms": 22.5, "target_cpu_ms": 150.0}
    shim |= {"work_cpu_ms": 0.5, "poller_cpu_ms": 22.0, "processes": 4}
    write_report(tmp_path, [shim_card(shim, 5.0), shim_card(shim, 5.0)], claims=[],
                 cards={TARGET: [verdict("gw-usage", "holds", 0.0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert (
        "cost 25 us a request in the windows (0.33% of the target's CPU), plus 4.4 ms/s of "
        "background polling for its window snapshots in 4 processes (15% of its CPU)" in card
    )


def test_an_older_shim_account_is_split_by_pricing_its_counts_and_reads_without_exponents(
    tmp_path: Path,
) -> None:
    older: dict[str, object] = {"requests": 20, "shim_cpu_ms": 14.0, "target_cpu_ms": 100.0,
                                "audit_events": 20000, "opens": 0, "host_checks": 0,
                                "url_checks": 0, "unit_ns": {"event": 700.0}}  # fmt: skip
    write_report(tmp_path, [shim_card(older, 10.0)], claims=[],
                 cards={TARGET: [verdict("gw-usage", "holds", 0.0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "cost 700 us a request in the windows (14% of the target's CPU), by its own" in card
    assert "e+" not in card and "polling" not in card


def test_a_target_with_no_health_route_nor_model_listing_is_said_to_lack_them(
    tmp_path: Path,
) -> None:
    discover: dict[str, object] = {"model": "gpt-4o", "model_source": "--model",
                                   "target_health": "GET /health answered 404",
                                   "model_listing": "GET /v1/models answered 404"}  # fmt: skip
    card = run(tmp_path, discover).split("\n## ")[1]
    assert (
        "Not served: GET /health answered 404, GET /v1/models answered 404 (sfperf needs "
        "neither: ready once it answered HTTP, the model from --model)." in card
    )


def test_a_target_no_model_works_on_says_why_at_the_top(tmp_path: Path) -> None:
    reason = "no model works on this target: 'gpt-4o-mini' -> HTTP 404: unknown model"
    report = run(tmp_path, {"model": None, "model_source": "none", "model_reason": reason})
    assert f"**Not measured: {reason}.**" in report.split("\n## ")[1]
    assert "pass `--model NAME`" in report


def test_the_faults_a_users_mock_injects_are_said_beside_the_model_sent(tmp_path: Path) -> None:
    faults = "the mock at http://127.0.0.1:9313 injects 500 at p=0.2 on chat-generations"
    card = run(tmp_path, {"model": "m", "model_source": "probe", "mock_faults": faults})
    assert f"Behind it, {faults}: a call that met one failed by the mock's hand" in card


def test_a_target_whose_chat_route_hung_is_not_told_to_pick_another_model(tmp_path: Path) -> None:
    reason = ("none of the first 2 of 3 listed models works on this target: 'a' -> no answer "
              "within 30 s; 'b' -> no answer within 5 s; the other 1 was not tried: after two "
              "hung")  # fmt: skip
    discover: dict[str, object] = {"model": None, "model_reason": reason,
                                   "served_models": ["a", "b", "c"],
                                   "model_probes": [{}, {}]}  # fmt: skip
    assert "pass `--model NAME`" not in run(tmp_path, discover)


def test_a_target_whose_calls_never_reached_the_mock_is_not_told_to_pick_a_model(
    tmp_path: Path,
) -> None:
    unreached = "its Salesforce calls never reached the mock: they did not go through a client"
    reason = f"{unreached}; no verdict on the gateway from its answers: 'm' -> HTTP 504"
    discover: dict[str, object] = {"model": None, "model_reason": reason}
    discover["model_unreached"] = unreached
    report = run(tmp_path, discover)
    assert f"**Not measured: {reason}.**" in report and "--model" not in report


def test_a_target_that_did_not_start_is_not_said_to_have_nothing_wrong(tmp_path: Path) -> None:
    reason = "the target did not start: exited with code 3 before it was ready: no config"
    discover = {"model": None, "model_reason": reason, "model_error": reason}
    write_report(tmp_path, [record("discover", "models", discover)], claims=[],
                 cards={TARGET: [verdict("gw-usage", "inconclusive", 0.0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert f"**Not measured: {reason}.**" in card
    assert "Nothing found wrong" not in card and "--model" not in card


def test_self_reported_figures_say_how_far_off_they_are_and_whether_that_disagrees(
    tmp_path: Path,
) -> None:
    reported = {"requests_total": ("client_requests", 0.0), "calls": ("models_requests", 65.0),
                "hit_rate": ("token_cache_hit_rate", 1.0)}  # fmt: skip
    measured = {"client_requests": 18.0, "models_requests": 49.0, "token_cache_hit_rate": 1.0}
    pairs = [p.as_dict() for p in pair_figures(reported, measured, slack=16)]
    card = record("card", "load", {"self_reported": pairs})
    write_report(tmp_path, [card], claims=[], cards={TARGET: []})
    table = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "| reported | measured | off by | verdict |" in table
    assert "| requests_total | client_requests | 0 | 18 | 100% | disagrees |" in table
    within = "agrees (within the 16 requests in flight at the window's edges)"
    assert f"| 65 | 49 | 33% | {within} |" in table
    assert "| 1 | 1 | 0 points | agrees |" in table


def test_a_run_an_older_sfperf_saved_still_renders_with_its_card(tmp_path: Path) -> None:
    # A launched gateway's validate run as sfperf saved it at ecc4a8a (series cut to 25 values).
    records = load_records(GOLDEN / "results-v1-card-ecc4a8a.json")
    target = "launch:async_endpoint_server"
    cards = evaluate_cards(tmp_path, records, [target], [scenario_path("claims", "gateway.toml")])
    write_report(tmp_path, records, claims=[], cards=cards)
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert card.startswith(f"Report card: {target}")
    assert "Model sent: `sfdc_ai__DefaultBedrockAnthropicClaude3Haiku`" in card


def test_the_card_says_which_self_reported_fields_were_paired_and_which_not(
    tmp_path: Path,
) -> None:
    account = {"read": 12, "paired": {"pool.requests_made": "models_requests",
                                      "rt.avg_response_time": "mean_latency_ms"},
               "not_compared": {"tokens.file_reads": "sfperf did not measure credential file "
                                                     "opens here"},
               "unpaired": [f"pool.setting_{i}" for i in range(9)],
               "notes": {"rt.avg_response_time": "no unit in its name: read as s"}}  # fmt: skip
    card = record("card", "load", {"self_reported_fields": account}, client_requests=4.0)
    write_report(tmp_path, [card], claims=[], cards={TARGET: [verdict("gw-usage", "holds", 0)]})
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert (
        "Its metrics document (`--target-metrics`): 12 numeric fields read; paired with a measured"
        " figure: `pool.requests_made` (Models API requests), `rt.avg_response_time` (mean "
        "latency; no unit in its name: read as s); named but not compared: `tokens.file_reads` "
        "(sfperf did not measure credential file opens here); not paired (sfperf measures nothing"
        " they name): `pool.setting_0`" in text
    )
    assert "`pool.setting_7` and 1 more." in text


def test_the_files_table_divides_opens_by_the_claims_denominator(tmp_path: Path) -> None:
    # One token-file open per request served: 24, of which 20 came back to the client.
    files = {"/s/token.json": {"class": "credential", "opens": 24, "reads": 24}}
    card = record("card", "load", {"files": files}, client_requests=20.0, requests_served=24.0,
                  credential_file_opens=24.0, config_file_opens=0.0)  # fmt: skip
    cards = evaluate_cards(tmp_path, [card], [TARGET], [scenario_path("claims", "gateway.toml")])
    (claim,) = [v for v in cards[TARGET] if v.claim_id == "gw-token-file-io"]
    write_report(tmp_path, [card], claims=[], cards=cards)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| /s/token.json"))
    assert claim.value == 1.0 and "| 24 | 1 |" in row


def test_a_gateway_the_faults_broke_for_good_is_refuted_and_its_errors_shown(
    tmp_path: Path,
) -> None:
    # 872 requests while the upstream was calm, every one 500 from a corrupt cache on disk.
    broken = {"status": 500, "body": "cache index unreadable: Extra data", "count": 872}
    resilience = RunRecord("load", "resilience", {"calm_errors": [broken]}, capture_environment(),
                           (Series("calm_answered", "count", (0.0,) * 872),),
                           labels={"target": TARGET, "mode": "closed"})  # fmt: skip
    cards = evaluate_cards(tmp_path, [resilience], [TARGET],
                           [scenario_path("claims", "gateway.toml")])  # fmt: skip
    (claim,) = [v for v in cards[TARGET] if v.claim_id == "gw-answers-between-faults"]
    assert claim.verdict == "refuted" and claim.value == 0.0
    write_report(tmp_path, [resilience], claims=[], cards=cards)
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "| 500 | 872 | resilience (upstream calm) | cache index unreadable" in card
    assert "Nothing found wrong" not in card


def test_nothing_is_said_to_be_wrong_only_when_no_reply_failed(tmp_path: Path) -> None:
    errors = [{"status": 500, "body": "cache index unreadable", "count": 2}]
    card = record("card", "load", {"errors": errors}, client_requests=69.0)
    write_report(tmp_path, [card], claims=[], cards={TARGET: [verdict("gw-usage", "holds", 0)]})
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "No claim refuted, but 2 replies were not ok (see the errors table)." in text
    assert "Nothing found wrong" not in text


def test_no_expired_token_sends_holds_only_once_some_token_reached_its_exp(tmp_path: Path) -> None:
    ledger = [scenario_path("claims", "gateway.toml")]
    window = record("card", "load", {}, models_requests=40.0, expired_token_sends=0.0,
                    expiry_chances=0.0)  # fmt: skip

    def verdict_of(*records: RunRecord) -> Verdict:
        cards = evaluate_cards(tmp_path, list(records), [TARGET], ledger)
        return next(v for v in cards[TARGET] if v.claim_id == "gw-no-expired-token-sends")

    untested = verdict_of(window)
    assert untested.verdict == "inconclusive"
    assert "0 requests went upstream once a token the target used had reached its exp" in (
        untested.reason
    )
    refreshed = record("card", "load", {}, models_requests=30.0, expired_token_sends=0.0,
                       expiry_chances=22.0)  # fmt: skip
    assert verdict_of(window, refreshed).verdict == "holds"
    # A stale token kept on disk went up while the target was being discovered.
    discover = record("card", "load", {}, models_requests=2.0, expired_token_sends=1.0,
                      expiry_chances=2.0)  # fmt: skip
    assert verdict_of(window, discover).verdict == "refuted"


def test_a_probe_answered_with_error_text_is_named_beside_the_model_and_in_what_is_wrong(
    tmp_path: Path,
) -> None:
    flaw = 'its answer was not the upstream\'s (error in 200): {"choices": [[Error: Could not'
    discover = {"model": "claude-3-haiku", "model_source": "probe", "model_flaw": flaw,
                "served_models": ["claude-3-haiku"]}  # fmt: skip
    write_report(tmp_path, [record("discover", "models", discover)], claims=[],
                 cards={TARGET: [verdict("gw-usage", "holds", 0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert f"Its probe reached the upstream, but {flaw}." in card
    assert "the discovery probe's answer was not the upstream's" in card
    assert "Nothing found wrong" not in card


def test_a_target_every_served_model_failed_on_is_not_measured_and_gets_no_model_hint(
    tmp_path: Path,
) -> None:
    probes = [{"model": m, "status": 500, "body": "Event loop is closed | {...}"}
              for m in ("a", "b")]  # fmt: skip
    discover = {"model": None, "model_reason": "no model works on this target: 'a' -> HTTP 500",
                "served_models": ["a", "b"], "model_probes": probes}  # fmt: skip
    write_report(tmp_path, [record("discover", "models", discover)], claims=[],
                 cards={TARGET: [verdict("gw-usage", "inconclusive", 0)]})  # fmt: skip
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"{TARGET}: not measured (no model works on it: see its card)" in report.split(
        "\n## ")[0]  # fmt: skip
    assert "--model" not in report.split("\n## ")[1]


def test_a_clean_card_names_its_warnings_instead_of_nothing_wrong(tmp_path: Path) -> None:
    warned = [{"name": name, "severity": "WARN", "count": 3, "explanation": "x"}
              for name in ("refresh_stampede", "gave_up")]  # fmt: skip
    graded = RunRecord("verdict", "findings", {"findings": warned}, capture_environment(), (),
                       labels={"target": TARGET})  # fmt: skip
    window = record("card", "load", {}, client_requests=69.0)
    write_report(tmp_path, [window, graded], claims=[],
                 cards={TARGET: [verdict("gw-usage", "holds", 0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "No claim refuted, but WARN findings: `gave_up`, `refresh_stampede`" in card
    assert "Nothing found wrong" not in card


def test_a_target_not_measured_is_not_said_to_have_nothing_wrong_whatever_else_ran(
    tmp_path: Path,
) -> None:
    reason = "no model works on this target: 'm' -> HTTP 500: Event loop is closed"
    discover = record("discover", "models", {"model": None, "model_reason": reason})
    window = record("card", "load", {}, models_requests=0.0)  # discovery's own journal
    write_report(tmp_path, [discover, window], claims=[],
                 cards={TARGET: [verdict("gw-usage", "inconclusive", 0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert f"**Not measured: {reason}.**" in card and "Nothing found wrong" not in card


def test_one_reply_handed_to_the_wrong_client_leads_the_card_as_a_fail(tmp_path: Path) -> None:
    # Cross-talk in two runs, usage off too: the leak comes first, and is said once.
    steady = RunRecord("load", "steady", {}, capture_environment(),
                       (Series("status", "code", (200.0,) * 70),
                        Series("fidelity_crossed", "count", (2.0,)),
                        Series("fidelity_usage_mismatch", "count", (3.0,))),
                       labels={"target": TARGET, "mode": "closed"})  # fmt: skip
    streaming = RunRecord("load", "streaming", {}, capture_environment(),
                          (Series("fidelity_crossed", "count", (1.0,)),),
                          labels={"target": TARGET, "mode": "closed"})  # fmt: skip
    # Not a load run: neither the claim nor the card's line reads it.
    swept = RunRecord("sweep", "sync-vs-async", {}, capture_environment(),
                      (Series("fidelity_crossed", "count", (5.0,)),),
                      labels={"target": TARGET, "subject": TARGET})  # fmt: skip
    records = [steady, streaming, swept]
    cards = evaluate_cards(tmp_path, records, [TARGET], [scenario_path("claims", "gateway.toml")])
    (claim,) = [v for v in cards[TARGET] if v.claim_id == "gw-no-crossed-replies"]
    assert claim.verdict == "refuted" and claim.value == 3  # every load run, as the card's line
    write_report(tmp_path, records, claims=[], cards=cards)
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert (
        "**What is wrong:** FAIL: 3 replies handed to the wrong client (`crossed`: the "
        "upstream's answer to another request's prompt), a leak between clients"
    ) in text
    assert text.index("FAIL: 3 replies") < text.index("refuted: Token usage")
    assert "refuted: No client gets" not in text


def test_replies_from_a_reply_cache_are_named_as_such_not_as_a_race(tmp_path: Path) -> None:
    # 3 of 4 answers came from a cache: 2 for the same prompt (hits), 1 for another (crossed).
    steady = RunRecord("load", "steady", {}, capture_environment(),
                       (Series("status", "code", (200.0,) * 4),
                        Series("fidelity_crossed", "count", (1.0,)),
                        Series("crossed_uncalled", "count", (1.0,)),
                        Series("reply_cache_hit", "count", (0.0, 1.0, 1.0, 0.0)),
                        Series("upstream_calls", "count", (1.0, 0.0, 0.0, 0.0))),
                       labels={"target": TARGET, "mode": "closed"})  # fmt: skip
    write_report(tmp_path, [steady], claims=[], cards={TARGET: []})
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "none of them with an upstream call of its own: a reply cache whose key" in text
    assert "`await`" not in text
    assert ("Reply cache: 2 of 4 replies (50%) were the upstream's answer to an earlier request "
            "with the same prompt") in text  # fmt: skip
    assert "0.25 upstream calls per request" in text


def test_an_appended_run_is_carded_by_its_own_discovery_not_the_earlier_runs(
    tmp_path: Path,
) -> None:
    failed = record("discover", "models", {"model": None, "model_reason": "did not start"})
    worked = record("discover", "models", {"model": "gpt-4o", "model_source": "probe",
                                           "served_models": ["gpt-4o"]})  # fmt: skip
    write_report(tmp_path, [failed, worked], claims=[],
                 cards={TARGET: [verdict("gw-usage", "holds", 0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "Model sent: `gpt-4o`" in card and "Not measured" not in card


def test_a_profile_without_samples_of_the_serving_processes_is_said_not_measured(
    tmp_path: Path,
) -> None:
    why = "the profiled target left no profile (no process that served left a profile: ...)"
    profile = RunRecord("profile", "gateway", {"profile_error": why}, capture_environment(), (),
                        labels={"variant": TARGET}, partial=True)  # fmt: skip
    write_report(tmp_path, [profile], claims=[], cards={TARGET: [verdict("gw-usage", "holds", 0)]})
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "**Profile not measured:** no process that served the requests left samples" in card


def test_a_gateway_that_starts_a_process_per_request_is_told_so(tmp_path: Path) -> None:
    # R96: 39 processes started in the window and called the upstream, for 40 requests.
    window = record("card", "load", {"window": "steady-closed"}, requests_served=40,
                    upstream_processes_started=39)  # fmt: skip
    window = replace(window, series=(*window.series,
                     Series("started_process_cpu_ms", "ms", (61.0, 64.0, 70.0))))  # fmt: skip
    pool = record("card", "load", {"window": "steady-closed"}, requests_served=400,
                  upstream_processes_started=2)  # fmt: skip
    for records, said in (([window], True), ([pool], False)):
        write_report(tmp_path, records, claims=[], cards={TARGET: [verdict("g", "holds", 0)]})
        card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
        assert (
            "it starts a process for each request: 39 processes started in the windows "
            "and called the upstream, for 40 requests (~64 ms of CPU apiece)" in card
        ) is said


def test_a_target_not_measured_names_only_the_steps_the_run_skipped(tmp_path: Path) -> None:
    steps = [{"step": "load", "records": 0, "skipped": "no model works (see discover)"}]
    (tmp_path / "steps.json").write_text(json.dumps({"steps": steps}), encoding="utf-8")
    discover = record("discover", "models", {"model": None, "model_reason": "did not start"})
    write_report(tmp_path, [discover], claims=[],
                 cards={TARGET: [verdict("gw-usage", "inconclusive", 0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "**Not measured: did not start.** Load was skipped" in card
    assert "profile" not in card and "resilience" not in card


def test_several_skipped_steps_are_listed_in_the_order_they_would_have_run(
    tmp_path: Path,
) -> None:
    steps = [{"step": name, "skipped": "no model works (see discover)"}
             for name in ("load", "sweep", "resilience")]  # fmt: skip
    (tmp_path / "steps.json").write_text(json.dumps({"steps": steps}), encoding="utf-8")
    discover = record("discover", "models", {"model": None, "model_reason": "did not start"})
    write_report(tmp_path, [discover], claims=[],
                 cards={TARGET: [verdict("gw-usage", "inconclusive", 0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "Load, sweep, and resilience were skipped" in card


def test_metrics_that_could_not_be_read_are_said_on_the_card(tmp_path: Path) -> None:
    said = "GET /metrics answered 200: <html>; sfperf reads a JSON object or the Prometheus text"
    unread = {"target_metrics": {"before": None, "after": None, "problem": said}}
    window = record("card", "load", unread, client_requests=9.0)
    write_report(tmp_path, [window], claims=[], cards={TARGET: [verdict("gw-usage", "holds", 0)]})
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert f"Its metrics (`--target-metrics`) could not be read: {said}." in card


def test_a_concurrency_claim_shows_the_machines_load_beside_its_verdict(tmp_path: Path) -> None:
    load = "machine load 2.9-3.4 (1-min average) on 2 CPUs; ⚠️ the load exceeded the 2 CPUs"
    gain = replace(verdict("gw-threading", "holds", 0.05), machine_load=load)
    write_report(tmp_path, [record("card", "load", {}, client_requests=20.0)], claims=[],
                 cards={TARGET: [gain, verdict("gw-usage", "holds", 0)]})  # fmt: skip
    card = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "why undecided; machine load" in card
    assert f"| holds | {load}" in card


def growth_window(rss_kb: float, fds: float, served: float, grown_kb: float = 0.0) -> RunRecord:
    """A card window that ended with `rss_kb` and `fds` open (it grew `grown_kb` within)."""
    return RunRecord("card", "load", {}, capture_environment(), (
        Series("requests_served", "count", (served,)),
        Series("rss_growth_kb", "KB", (grown_kb,)),
        Series("open_fds_growth", "count", (0.0,)),
        Series("rss_kb", "KB", (rss_kb,)), Series("open_fds", "count", (fds,)),
    ), labels={"target": TARGET, "window": "steady-closed"})  # fmt: skip


def test_memory_and_descriptors_held_per_request_are_named_beyond_noise(tmp_path: Path) -> None:
    # R67: 256 KiB kept per request, and a log file opened per request and never closed.
    windows = [growth_window(74_592.0, 52.0, 26.0, 6_872.0), growth_window(81_644.0, 82.0, 27.0),
               growth_window(99_696.0, 156.0, 67.0)]  # fmt: skip
    write_report(tmp_path, windows, claims=[], cards={TARGET: []})
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert ("**What is wrong:** memory grew by 25 MB over the 94 requests after the first window "
            "(267 KB per request, 97 MB at the end; the first window left out as warm-up) and "
            "was not given back") in text  # fmt: skip
    assert "open file descriptors grew by 104 over the 94 requests after the first window" in text


def test_a_warm_gateways_few_megabytes_and_connections_are_not_growth(tmp_path: Path) -> None:
    windows = [growth_window(60_000.0, 40.0, 45.0, 3_000.0), growth_window(59_500.0, 32.0, 82.0)]
    write_report(tmp_path, windows, claims=[], cards={TARGET: []})
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "grew by" not in text


def test_a_runtimes_warm_up_and_what_it_gave_back_between_windows_are_not_a_leak(
    tmp_path: Path,
) -> None:
    # R95: a Node gateway's V8 warm-up: +1.8, +1.5, +5.9 MB within its windows (9 MB summed),
    # but 66.9 -> 63.0 -> 68.9 MB at their ends: "not given back ... out-of-memory kill".
    node = [growth_window(66_948.0, 24.0, 22.0, 1_780.0), growth_window(63_024.0, 24.0, 29.0,
            1_512.0), growth_window(68_936.0, 36.0, 62.0, 5_868.0)]  # fmt: skip
    # A process per request: one child alive at the first window's end (+23 MB), then flat.
    spawn = [growth_window(49_096.0, 11.0, 4.0, 23_004.0), growth_window(49_296.0, 11.0, 8.0),
             growth_window(49_112.0, 11.0, 24.0)]  # fmt: skip
    for windows in (node, spawn, node[:1]):
        write_report(tmp_path, windows, claims=[], cards={TARGET: []})
        assert "grew by" not in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_two_launches_memory_is_not_growth_and_each_launch_is_judged_on_its_own(
    tmp_path: Path,
) -> None:
    # review7 B7: `--append` put a second launch's cards after the first's: 50 MB -> 90 MB was
    # two processes, "memory grew by 39 MB ... out-of-memory kill".
    def launch(process: str, windows: list[RunRecord]) -> list[RunRecord]:
        return [replace(w, params={"process": process}) for w in windows]

    first = launch(
        "41@100", [growth_window(50_000.0, 20.0, 40.0), growth_window(50_500.0, 20.0, 40.0)]
    )
    second = launch(
        "97@900", [growth_window(90_000.0, 20.0, 40.0), growth_window(90_400.0, 20.0, 40.0)]
    )
    write_report(tmp_path, [*first, *second], claims=[], cards={TARGET: []})
    assert "grew by" not in (tmp_path / "report.md").read_text(encoding="utf-8")
    leaking = launch(
        "97@900", [growth_window(90_000.0, 20.0, 40.0), growth_window(120_000.0, 20.0, 80.0)]
    )
    write_report(tmp_path, [*first, *leaking], claims=[], cards={TARGET: []})
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "memory grew by 29 MB over the 80 requests after the first window" in text


def test_requests_that_met_the_users_mocks_faults_are_said_apart_not_as_the_gateways_errors(
    tmp_path: Path,
) -> None:
    # R89: `sfperf mock --fault 500:p=0.2` behind the gateway; it passed 14 injected 500s on as
    # 502 and answered every other request: "No claim refuted, but 14 replies were not ok".
    relayed = [{"status": 502, "body": '{"error": "upstream 500"}', "count": 14}]
    card = record("card", "load", {"errors": [], "fault_errors": relayed}, client_requests=69.0)
    met = {"requests": 14, "answered": 0, "faults": {"500": 14}, "statuses": {"502": 14}}
    steady = RunRecord("load", "steady", {"met_faults": met}, capture_environment(), (),
                       labels={"target": TARGET, "mode": "closed"})  # fmt: skip
    write_report(tmp_path, [card, steady], claims=[],
                 cards={TARGET: [verdict("gw-usage", "holds", 0)]})  # fmt: skip
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "Nothing found wrong." in text and "replies were not ok" not in text
    assert ("14 requests met a fault the mock injected (500 x14), answered 502 x14: the mock's "
            "doing, not the gateway's, so the ok claims set them apart") in text  # fmt: skip
    assert "| 502 | 14 | load (met a fault the mock injected) |" in text


def test_the_token_line_says_where_the_bad_sends_were_with_counts_in_full(tmp_path: Path) -> None:
    # R105: "1.003e+04 sent expired or unknown in discover, warm-up, ..., resilience" while
    # every one of them was in resilience.
    def window(name: str, expired: float) -> RunRecord:
        return RunRecord("card", "load", {}, capture_environment(), (
            Series("expired_token_sends", "count", (expired,)),
            Series("unknown_token_sends", "count", (0.0,)),
            Series("token_requests", "count", (3.0,)),
            Series("models_requests", "count", (1200.0,)), Series("window_s", "s", (10.0,)),
        ), labels={"target": TARGET, "window": name})  # fmt: skip

    cards = [window("discover", 0.0), window("steady-closed", 0.0), window("resilience", 10033.0)]
    write_report(tmp_path, cards, claims=[], cards={TARGET: []})
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "Tokens: 9 fetched for 3,600 Models API requests in 30 s of windows" in text
    assert "; 10,033 sent expired or unknown (all in resilience)." in text
    write_report(tmp_path, cards[:2], claims=[], cards={TARGET: []})
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert "; 0 sent expired or unknown in discover, steady-closed." in text


def test_the_card_names_the_resilience_phases_a_stall_kept_from_the_gateway() -> None:
    from reports.card import card_section

    graded = record("verdict", "resilience", {"not_exercised": ["503 outage", "calm 3", "hangs"]})
    section = card_section(TARGET, [graded], [])
    assert ("**Not exercised by resilience:** the target made no upstream call during its 503 "
            "outage, calm 3, hangs phase(s)") in section.intro  # fmt: skip


def test_the_card_names_the_fault_phases_whose_calls_were_refused_before_the_fault() -> None:
    from reports.card import card_section

    # R116: a token that expired at 2.8 s: the 503 outage and the hangs met only 401s.
    unmet = ["503 outage (401 x1,200)", "hangs (401 x900)"]
    graded = record("verdict", "resilience", {"not_exercised": [], "faults_unmet": unmet})
    section = card_section(TARGET, [graded], [])
    assert ("**Not exercised by resilience:** its upstream calls during the 503 outage (401 "
            "x1,200), hangs (401 x900) phase(s) met none of the phase's faults: the upstream "
            "refused them first: what those phases test") in section.intro  # fmt: skip


def test_a_bearer_token_appended_to_a_log_is_a_secret_in_a_log_not_a_token_store(
    tmp_path: Path,
) -> None:
    # R106: requests.jsonl held the token on every line: "credential ... rewritten on every
    # request" refuted the token-cache claim, and the secret in a log went unsaid.
    log = {"/gw/state/requests.jsonl": {"class": "credential", "opens": 21, "reads": 0,
                                        "writes": 21, "appends": 21, "holds_token": 1}}  # fmt: skip
    card = record("card", "load", {"files": log}, client_requests=21.0, requests_served=21.0)
    write_report(tmp_path, [card], claims=[], cards={TARGET: []})
    text = (tmp_path / "report.md").read_text(encoding="utf-8").split("\n## ")[1]
    assert ("**What is wrong:** the bearer token it sends is appended to "
            "/gw/state/requests.jsonl (21 times in the windows) and never read back: a secret in "
            "a log") in text  # fmt: skip
    assert "| /gw/state/requests.jsonl | data | appended to on every request | 21 |" in text


def test_added_latency_that_is_a_wait_behind_a_cap_the_sweep_found_says_so() -> None:
    # R99: waitress's 4 threads under 5 users read "adds 440.6 ms" and nothing else.
    added = replace(verdict("gw-added-latency", "refuted", 440.6), unit="ms")
    sweep = capped_at_one(TARGET)  # about 1.0 request served at once

    def wrong_line(users: int) -> str:
        steady = record("load", "steady", {"users": users})
        section = card_section(TARGET, [*sweep, steady], [added])
        return section.intro.split("**What is wrong:** ")[1]

    assert wrong_line(5).startswith(
        "refuted: claim gw-added-latency (measured 440.6 ms: a wait in its queue, not work: the "
        "sweep found it serves about 1.0 requests at once (a concurrency cap: a pool, a lock or "
        "its server's threads) and the steady windows ran 5 users, so the others waited for one "
        "to finish)"
    )
    assert wrong_line(1).startswith("refuted: claim gw-added-latency (measured 440.6 ms).")
    # R142: a window of fewer users than the cap did not queue: the cap explains nothing there.
    sweep = [*sweep, record("load", "steady", {"users": 1})]
    assert wrong_line(5).startswith("refuted: claim gw-added-latency (measured 440.6 ms).")


def test_a_later_windows_extra_clients_connections_are_not_growth(tmp_path: Path) -> None:
    # R134: waitress holds a socket per connected client: 11 fds after the 5-user windows, 47
    # after the 100-user open one: "open file descriptors grew by 36 ... never closed".
    def window(name: str, mode: str, users: int, fds: float, rss_kb: float) -> list[RunRecord]:
        card = replace(growth_window(rss_kb, fds, 22.0),
                       labels={"target": TARGET, "window": f"{name}-{mode}"})  # fmt: skip
        load = RunRecord("load", name, {"users": users}, capture_environment(), (),
                         labels={"target": TARGET, "mode": mode})  # fmt: skip
        return [load, card]

    waitress = [*window("steady", "closed", 5, 11.0, 36_448.0),
                *window("streaming", "closed", 5, 11.0, 36_516.0),
                *window("steady", "open", 100, 47.0, 36_828.0)]  # fmt: skip
    write_report(tmp_path, waitress, claims=[], cards={TARGET: []})
    assert "grew by" not in (tmp_path / "report.md").read_text(encoding="utf-8")
    # A leak of 200 KB a request still shows past what 15 more clients are allowed (R95's).
    leak = [*window("steady", "closed", 5, 24.0, 82_308.0),
            *window("streaming", "closed", 5, 24.0, 85_300.0),
            *window("steady", "open", 20, 36.0, 104_512.0)]  # fmt: skip
    write_report(tmp_path, leak, claims=[], cards={TARGET: []})
    assert (
        "memory grew by 18 MB over the 44 requests after the first window (417 KB per request, "
        "102 MB at the end; the first window left out as warm-up, and 3.8 MB for the 15 more "
        "clients a later window held connected)"
    ) in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_the_card_says_a_phase_the_target_answered_alone_held_nobody() -> None:
    from reports.card import card_section

    itself = ["calm 3 (502 x5,521 of 5,521: circuit breaker is open)"]
    graded = record("verdict", "resilience", {"not_exercised": [], "answered_itself": itself})
    section = card_section(TARGET, [graded], [])
    assert (
        "the target made no upstream call during its calm 3 (502 x5,521 of 5,521: circuit "
        "breaker is open) phase(s): it answered every request sent there itself"
    ) in section.intro
    assert "its clients all waiting on it" not in section.intro
