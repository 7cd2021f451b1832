"""The report card names each sample gateway's one known defect, and nothing on clean ones.

The five gateways whose defect shows under plain load share one `sfperf validate` run (a module
fixture: each is discovered and measured over one steady window, one report holds their cards);
the async reference and the gateway that drops replies share another with the resilience step,
and error text in a 200 is provoked by the resilience step alone. The mock
behind the load answers in a steady 100 ms: a 1.5 s window then holds dozens of requests even on
a busy machine, so every claim the tests read is decided by counts, never by how many requests a
loaded machine happened to fit in (claims on time aside: they are the machine's as much as the
gateway's).
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.card.ledger import load_cards
from harness.claims import Verdict
from harness.records import RunRecord
from harness.store import load_records
from harness.targets import TargetSpec, target_from_args
from harness.validate import ValidatePlan, run_validate

GATEWAYS = Path(__file__).resolve().parents[1] / "samples" / "gateways"
FRAMEWORKS = {"flask": ("flask",), "quart": ("quart", "hypercorn"),
              "fastapi": ("fastapi", "uvicorn"), "starlette": ("starlette", "uvicorn")}  # fmt: skip
# The gateways measured together under plain load: sample -> its framework.
UNDER_LOAD = {"token_file_flask": "flask", "closed_loop_flask": "flask",
              "zero_usage_quart": "quart", "uncounted_metrics_stdlib": "",
              "model_names_starlette": "starlette"}  # fmt: skip
WITH_METRICS = {"uncounted_metrics_stdlib"}
RESILIENCE_S = 5.0  # every phase of the plan, the hangs ending before the run does
# A steady upstream for the load windows: 1.5 s hold dozens of requests, and the gateways idle
# between them (an upstream that answers at once would make them CPU-bound).
STEADY_UPSTREAM = 'description = "card tests: a steady upstream"\n[latency]\n"*" = "fixed:100ms"\n'
# Claims on time (the latency a gateway adds) hold or fall with how busy this machine is; the
# tests read every other claim.
TIMING = frozenset(
    {"gw-added-latency", "gw-stream-relayed-at-once", "gw-stream-first-token-at-once"}
)


def missing(framework: str) -> list[str]:
    """The modules of `framework` that are not installed here."""
    return [m for m in FRAMEWORKS.get(framework, ()) if importlib.util.find_spec(m) is None]


def needs(framework: str = "") -> pytest.MarkDecorator:
    """Skip when the sample gateways or their framework are not installed here."""
    if not GATEWAYS.is_dir():
        return pytest.mark.skip(reason="no sample gateways in tests/samples/gateways")
    gone = missing(framework)
    return pytest.mark.skipif(bool(gone), reason=f"{gone} missing: pip install -e '.[dev]'")


@dataclass(frozen=True)
class CardRun:
    """One target's part of a validate run: its records, card verdicts and report card."""

    records: list[RunRecord]
    card: dict[str, Verdict]
    text: str  # the target's report card section

    def verdict(self, claim_id: str) -> str:
        return self.card[claim_id].verdict

    @property
    def refuted(self) -> list[str]:
        """The claims refuted, those on time aside."""
        return [c for c, v in self.card.items() if v.verdict == "refuted" and c not in TIMING]

    @property
    def timing_refuted(self) -> bool:
        return any(self.card[c].verdict == "refuted" for c in TIMING if c in self.card)

    @property
    def findings(self) -> dict[str, str]:
        return {str(f["name"]): str(f["severity"]) for r in self.records if r.runner == "verdict"
                for f in r.params.get("findings", [])}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launched(command: str, metrics: str | None = None) -> TargetSpec:
    """A `--launch COMMAND --target-url` target on a port of its own."""
    port = free_port()
    return target_from_args(None, f"http://127.0.0.1:{port}", f"{command} --port {port}",
                            metrics_path=metrics)  # fmt: skip


def sample(name: str, state: Path) -> str:
    return f"{sys.executable} {GATEWAYS / name}.py --state-dir {state / name}"


def validate(run_dir: Path, targets: tuple[TargetSpec, ...], **plan: object) -> dict[str, CardRun]:
    """`sfperf validate --quick` on `targets`, cut down to what the tests read; by target."""
    profile = run_dir.parent / "steady-upstream.toml"
    profile.write_text(STEADY_UPSTREAM, encoding="utf-8")
    run_validate(ValidatePlan(quick=True, targets=targets, lead_windows=("steady",),
                              mock_profile=str(profile), **plan),  # type: ignore[arg-type]
                 run_dir, say=lambda message: None)  # fmt: skip
    records, cards = load_records(run_dir), load_cards(run_dir)
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    return {t.name: CardRun([r for r in records if r.labels.get("target") == t.name],
                            {v.claim_id: v for v in cards[t.name]}, card_of(report, t.name))
            for t in targets}  # fmt: skip


def card_of(report: str, target: str) -> str:
    """The report card of `target`: its section of the report."""
    heading = f"## Report card: {target}\n"
    return report[report.index(heading) :].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def under_load(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, CardRun]:
    """Every installable gateway of UNDER_LOAD, measured in one validate run; by sample name."""
    if not GATEWAYS.is_dir():
        return {}
    root = tmp_path_factory.mktemp("cards")
    names = [name for name, framework in UNDER_LOAD.items() if not missing(framework)]
    specs = {name: launched(sample(name, root / "state"),
                            "/metrics/performance" if name in WITH_METRICS else None)
             for name in names}  # fmt: skip
    runs = validate(root / "run", tuple(specs.values()), steps=("load",),
                    durations_s={"load": 1.5})  # fmt: skip
    return {name: runs[spec.name] for name, spec in specs.items()}


@needs("flask")
def test_a_token_file_read_on_every_request_is_named_with_its_path(
    under_load: Mapping[str, CardRun],
) -> None:
    run = under_load["token_file_flask"]
    assert run.refuted == ["gw-token-file-io"]
    assert "token.json | credential" in run.text


@needs("flask")
def test_a_closed_event_loop_is_named_by_the_body_of_the_500s_it_causes(
    under_load: Mapping[str, CardRun],
) -> None:
    run = under_load["closed_loop_flask"]
    assert run.verdict("gw-answers-correctly") == "refuted"
    assert "| 500 |" in run.text and "Event loop is closed" in run.text


@needs("quart")
def test_dropped_usage_is_named_once(under_load: Mapping[str, CardRun]) -> None:
    run = under_load["zero_usage_quart"]
    assert run.refuted == ["gw-usage-passed-through"]  # the answers themselves are right


@needs()
def test_self_reported_metrics_that_do_not_count_are_shown_beside_the_measured_ones(
    under_load: Mapping[str, CardRun],
) -> None:
    run = under_load["uncounted_metrics_stdlib"]
    assert run.refuted == ["gw-self-reported-figures"]
    assert "What the target says about itself" in run.text and "| disagrees |" in run.text


@needs("starlette")
def test_a_gateway_with_its_own_model_names_is_measured_with_one_of_them(
    under_load: Mapping[str, CardRun],
) -> None:
    run = under_load["model_names_starlette"]
    assert run.refuted == []
    assert "Model sent: `claude-haiku`" in run.text


@needs()
def test_error_text_inside_a_200_is_named_once_the_upstream_fails(tmp_path: Path) -> None:
    target = launched(sample("error_200_stdlib", tmp_path / "state"))
    runs = validate(tmp_path / "run", (target,), steps=("resilience",),
                    durations_s={"resilience": RESILIENCE_S})  # fmt: skip
    assert "gw-no-error-in-200-under-faults" in runs[target.name].refuted


REFERENCE = (f"{sys.executable} -m harness.subjects.gateway --variant async "
             "--upstream https://api.salesforce.com --host 127.0.0.1")  # fmt: skip


@pytest.fixture(scope="module")
def under_faults(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, CardRun]:
    """The async reference and the gateway that drops replies, through the load windows and the
    resilience step, in one validate run; by name."""
    root = tmp_path_factory.mktemp("faults")
    specs = {"reference": launched(REFERENCE, "/metrics/performance")}
    if GATEWAYS.is_dir():
        specs["dropped_reply_stdlib"] = launched(sample("dropped_reply_stdlib", root / "state"))
    runs = validate(root / "run", tuple(specs.values()), steps=("load", "resilience"),
                    durations_s={"load": 1.5, "resilience": RESILIENCE_S})  # fmt: skip
    return {name: runs[spec.name] for name, spec in specs.items()}


@needs()
def test_a_connection_closed_without_a_reply_is_named_in_the_claims_and_the_errors(
    under_faults: Mapping[str, CardRun],
) -> None:
    run = under_faults["dropped_reply_stdlib"]
    assert "gw-every-request-answered-under-faults" in run.refuted
    assert run.verdict("gw-every-request-answered") == "holds"  # the calm windows lose none
    errors = run.text.split("Requests that were not ok")[1]
    assert "| 0 |" in errors and "| resilience | " in errors
    assert "the connection ended without a reply" in errors


def test_the_async_reference_launched_as_a_user_target_has_nothing_wrong(
    under_faults: Mapping[str, CardRun],
) -> None:
    run = under_faults["reference"]
    assert run.refuted == []
    assert "FAIL" not in run.findings.values()
    if not run.timing_refuted:
        assert "Nothing found wrong" in run.text


def test_a_target_that_serves_no_working_model_is_reported_with_what_it_answered(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    log = run_validate(ValidatePlan(quick=True, targets=(launched(REFERENCE),), steps=("load",),
                                    model="no-such-model"),
                       run_dir, say=lambda message: None)  # fmt: skip
    assert log.skipped == ["load"]
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Not measured: no model works on this target" in report
    assert "'no-such-model' -> HTTP 404" in report
