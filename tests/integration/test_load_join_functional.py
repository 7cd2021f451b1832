"""The join for real: sample third-party gateways (tests/samples/gateways/) launched against the
mock, loaded by locust, judged against the upstream calls the journal shows for each request.

A gateway that rewrites requests but relays the upstream's reply is faithful, and its rewrites
are named; one that drops usage is caught on every reply; one that plays a finished reply back
at its own pace is told apart from one that relays it; one that hands a client another
request's reply is caught leaking.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path

import pytest

from harness.card.ledger import evaluate_cards
from harness.records import RunRecord
from harness.runners.load import LoadPlan, run_load, serve_target
from harness.store import save_records
from harness.targets import target_from_args
from reports.render import write_report
from scenarios import scenario_path

GATEWAYS = Path(__file__).resolve().parents[1] / "samples" / "gateways"


def needs(*modules: str) -> pytest.MarkDecorator:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    reason = f"{', '.join(missing)} not installed: pip install -e '.[dev]'"
    return pytest.mark.skipif(bool(missing), reason=reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_sample(sample: str, scenario: str, run_dir: Path) -> list[RunRecord]:
    """A short run of `scenario` against the launched `sample`; the mock answers at once with
    replies of 12 words (a gateway that plays them back takes a quarter of a second)."""
    port = free_port()
    command = f"{sys.executable} {GATEWAYS / sample}.py --port {port}"
    command += f" --state-dir {run_dir / 'state'}"
    spec = target_from_args(None, f"http://127.0.0.1:{port}", command)
    profile = run_dir / "short-replies.toml"
    profile.write_text('description = "no latency, 12-word replies"\nreply_lengths = "fixed:12"\n')
    plan = LoadPlan(scenario, users=2, spawn_rate=2, duration_s=3)
    with serve_target(spec, run_dir, seed=7, mock_profile=str(profile)) as target:
        return run_load(plan, target, run_dir)


@needs("quart", "hypercorn")
def test_a_rewriting_gateway_that_relays_faithfully_is_faithful_and_its_rewrites_named(
    tmp_path: Path,
) -> None:
    load, _card, rewrites, _retries = load_sample("rewrite_quart", "steady", tmp_path)
    requests = len(load.get("latency_ms").values)
    assert requests > 5
    assert load.params["fidelity_basis"]["upstream"] == requests
    assert load.get("fidelity_wrong_content").values == (0.0,)
    assert load.get("ok").values == (1.0,) * requests
    found = {f["name"]: f for f in rewrites.params["findings"]}
    assert set(found) == {"model_swapped", "endpoint_changed", "ignored_fields"}
    save_records(tmp_path, [load, rewrites])
    write_report(tmp_path, [load, rewrites])
    report = (tmp_path / "report.md").read_text()
    assert "Claude3Haiku | GPT | Claude | another family | True" in report
    assert "| chat-completions | generations | True |" in report
    assert "`max Tokens` (meaning max_tokens?)" in report


@needs("quart", "hypercorn", "httpx")
def test_a_gateway_that_drops_usage_is_caught_on_every_reply(tmp_path: Path) -> None:
    load, *_ = load_sample("zero_usage_quart", "steady", tmp_path)
    requests = len(load.get("latency_ms").values)
    assert requests > 5 and load.params["fidelity_basis"]["upstream"] == requests
    assert load.get("fidelity_usage_mismatch").values == (float(requests),)
    assert load.get("fidelity_wrong_content").values == (0.0,)


@needs("fastapi", "uvicorn", "httpx")
def test_a_gateway_that_plays_a_finished_reply_back_is_seen_pacing_it(tmp_path: Path) -> None:
    load, *_ = load_sample("fake_stream_fastapi", "streaming", tmp_path)
    assert load.get("latency_ms").values, "no stream finished within the run"
    streaming = load.params["streaming"]
    assert streaming["mode"] == "paced", streaming
    assert streaming["gap_ms_p50"] >= 15.0  # it sleeps 20 ms between words
    added = sorted(load.get("added_latency_ms").values)
    assert added[len(added) // 2] >= 15.0 * (streaming["chunks_p50"] - 1)


@needs("fastapi", "uvicorn", "httpx")
def test_replies_handed_to_the_wrong_client_are_crossed_and_lead_the_card(tmp_path: Path) -> None:
    records = load_sample("crosstalk_fastapi", "steady", tmp_path)
    load = records[0]
    crossed = load.get("fidelity_crossed").values[0]
    assert crossed >= 1, "two users never overlapped in 3 s"
    assert load.get("fidelity_wrong_content").values == (0.0,)  # every wrong text was someone's
    target = load.labels["target"]
    cards = evaluate_cards(tmp_path, records, [target], [scenario_path("claims", "gateway.toml")])
    write_report(tmp_path, records, claims=[], cards=cards)
    card = (tmp_path / "report.md").read_text().split("\n## ")[1]
    assert f"**What is wrong:** FAIL: {crossed:g} repl" in card
