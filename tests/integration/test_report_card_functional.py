"""The report card names each sample gateway's one known defect, and nothing on clean ones.

Each test runs `sfperf validate` on a launched gateway the way a user would (`--launch` with a
fixed `--target-url`), bounded to what shows the defect: the load step's steady window (2 s),
plus the resilience step where the defect needs upstream faults to appear.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.card.ledger import load_cards
from harness.claims import Verdict
from harness.records import RunRecord
from harness.store import load_records
from harness.targets import target_from_args
from harness.validate import ValidatePlan, run_validate

GATEWAYS = Path(__file__).resolve().parents[1] / "samples" / "gateways"
FRAMEWORKS = {"flask": ("flask",), "quart": ("quart", "hypercorn"),
              "fastapi": ("fastapi", "uvicorn"), "starlette": ("starlette", "uvicorn")}  # fmt: skip


def needs(framework: str = "") -> pytest.MarkDecorator:
    """Skip when the sample gateways or their framework are not installed here."""
    if not GATEWAYS.is_dir():
        return pytest.mark.skip(reason="no sample gateways in tests/samples/gateways")
    missing = [m for m in FRAMEWORKS.get(framework, ()) if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"{missing} missing: pip install -e '.[dev]'")


@dataclass(frozen=True)
class CardRun:
    records: list[RunRecord]
    card: dict[str, Verdict]
    report: str

    def verdict(self, claim_id: str) -> str:
        return self.card[claim_id].verdict

    @property
    def refuted(self) -> list[str]:
        return [claim for claim, v in self.card.items() if v.verdict == "refuted"]

    @property
    def findings(self) -> dict[str, str]:
        return {str(f["name"]): str(f["severity"]) for r in self.records if r.runner == "verdict"
                for f in r.params.get("findings", [])}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def validate(command: str, tmp_path: Path, *, resilience: bool = False, **plan: str) -> CardRun:
    """`sfperf validate --quick --launch COMMAND` cut down to the steady window (and resilience)."""
    port = free_port()
    metrics = plan.pop("metrics", None)
    spec = target_from_args(None, f"http://127.0.0.1:{port}", f"{command} --port {port}",
                            metrics_path=metrics)  # fmt: skip
    steps = ("load", "resilience") if resilience else ("load",)
    run_dir = tmp_path / "run"
    run_validate(
        ValidatePlan(quick=True, targets=(spec,), steps=steps, lead_windows=("steady",),
                     durations_s={"load": 2.0, "resilience": 8.0}),
        run_dir, say=lambda message: None,
    )  # fmt: skip
    (card,) = load_cards(run_dir).values()
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    return CardRun(load_records(run_dir), {v.claim_id: v for v in card}, report)


def sample(name: str, tmp_path: Path) -> str:
    return f"{sys.executable} {GATEWAYS / name}.py --state-dir {tmp_path / 'state'}"


def card_text(run: CardRun) -> str:
    """The report card: everything before the seed ledger's heading."""
    return run.report.split("## Claims of the seed report")[0]


@needs("flask")
def test_a_token_file_read_on_every_request_is_named_with_its_path(tmp_path: Path) -> None:
    run = validate(sample("token_file_flask", tmp_path), tmp_path)
    assert run.refuted == ["gw-token-file-io"]
    assert "token.json | credential" in card_text(run)
    # The shim's own account: at least the token file's open and one redirect per request.
    shim = next(r.params["shim"] for r in run.records if r.runner == "card")
    assert shim["opens"] >= shim["requests"] > 0 and shim["url_checks"] >= shim["requests"]
    assert shim["shim_cpu_ms"] > 0 and shim["target_cpu_ms"] > 0
    assert "The launch shim (redirects, file-open counting) cost" in card_text(run)


@needs("flask")
def test_a_closed_event_loop_is_named_by_the_body_of_the_500s_it_causes(tmp_path: Path) -> None:
    run = validate(sample("closed_loop_flask", tmp_path), tmp_path)
    assert run.verdict("gw-answers-correctly") == "refuted"
    assert "| 500 |" in card_text(run) and "Event loop is closed" in card_text(run)


@needs("quart")
def test_dropped_usage_is_named(tmp_path: Path) -> None:
    run = validate(sample("zero_usage_quart", tmp_path), tmp_path)
    assert "gw-usage-passed-through" in run.refuted


@needs()
def test_self_reported_metrics_that_do_not_count_are_shown_beside_the_measured_ones(
    tmp_path: Path,
) -> None:
    run = validate(sample("uncounted_metrics_stdlib", tmp_path), tmp_path,
                   metrics="/metrics/performance")  # fmt: skip
    assert run.refuted == ["gw-self-reported-figures"]
    assert "What the target says about itself" in card_text(run)


@needs("starlette")
def test_a_gateway_with_its_own_model_names_is_measured_with_one_of_them(tmp_path: Path) -> None:
    run = validate(sample("model_names_starlette", tmp_path), tmp_path)
    assert run.refuted == []
    assert "Model sent: `claude-haiku`" in card_text(run)


@needs()
def test_error_text_inside_a_200_is_named_once_the_upstream_fails(tmp_path: Path) -> None:
    run = validate(sample("error_200_stdlib", tmp_path), tmp_path, resilience=True)
    assert "gw-no-error-in-200-under-faults" in run.refuted


@needs()
def test_a_connection_closed_without_a_reply_is_named_in_the_claims_and_the_errors(
    tmp_path: Path,
) -> None:
    run = validate(sample("dropped_reply_stdlib", tmp_path), tmp_path, resilience=True)
    assert "gw-every-request-answered-under-faults" in run.refuted
    assert run.verdict("gw-every-request-answered") == "holds"  # the calm windows lose none
    errors = card_text(run).split("Replies that were not ok")[1]
    assert "| 0 |" in errors and "| resilience | " in errors
    assert "the connection ended without a reply" in errors


def test_the_async_reference_launched_as_a_user_target_has_nothing_wrong(tmp_path: Path) -> None:
    command = (f"{sys.executable} -m harness.subjects.gateway --variant async "
               "--upstream https://api.salesforce.com --host 127.0.0.1")  # fmt: skip
    run = validate(command, tmp_path, resilience=True, metrics="/metrics/performance")
    assert run.refuted == []
    assert "FAIL" not in run.findings.values()
    assert "Nothing found wrong" in card_text(run)


def test_a_target_that_serves_no_working_model_is_reported_with_what_it_answered(
    tmp_path: Path,
) -> None:
    command = (f"{sys.executable} -m harness.subjects.gateway --variant async "
               "--upstream https://api.salesforce.com --host 127.0.0.1")  # fmt: skip
    port = free_port()
    spec = target_from_args(None, f"http://127.0.0.1:{port}", f"{command} --port {port}")
    run_dir = tmp_path / "run"
    log = run_validate(ValidatePlan(quick=True, targets=(spec,), steps=("load",),
                                    model="no-such-model"),
                       run_dir, say=lambda message: None)  # fmt: skip
    assert log.skipped == ["load"]
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Not measured: no model works on this target" in report
    assert "'no-such-model' -> HTTP 404" in report
