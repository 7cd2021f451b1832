"""Discovery as a step of a run: start the target with a mock behind it, ask it which model it
serves (`harness.targets.discovery`), stop it, and keep the answer as a `discover` record.

A target that does not start is an answer too: the choice then carries the one-line error, and
every step that would send it requests is skipped with that reason. When a launched gateway
answered its probes with an upstream failure while the mock heard nothing from it at all, the
shim's counts say whether its Salesforce calls were redirected: if not, the failure is the
redirect's, and the choice says so instead of judging the gateway. A running gateway
(`--target-url`) the `--mock-url` heard nothing from is asked whether it is pointed there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.card.window import journal_since
from harness.errors import UsageError
from harness.findings.journal import journal_position
from harness.records import RunRecord, capture_environment, make_series, now_iso
from harness.runners.load import LoadTarget, serve_target
from harness.shim import ENV_MOCK_URL
from harness.targets import TargetSpec
from harness.targets.discovery import ModelChoice, discover_model
from harness.targets.tls import TlsRefused
from mock_salesforce.admin_client import AdminClient, AdminError

REDIRECTED_HOSTS = "api/login/test.salesforce.com and *.my.salesforce.com"

Entry = Mapping[str, Any]


def discover_journaled(
    spec: TargetSpec,
    directory: Path,
    *,
    seed: int,
    mock_url: str = "",
    requested: str = "",
    mock_profile: str = "default",
) -> tuple[ModelChoice, tuple[Entry, ...] | None]:
    """The model to send `spec`, found on a short-lived start of it (logs in `directory`), and
    what the mock journaled of the target meanwhile (its start-up included; None: no mock to
    ask): a stale token on disk goes upstream here first."""
    since = journal_position(mock_url) if mock_url else 0  # a fresh mock: all of it
    try:
        with serve_target(spec, directory, seed=seed, mock_url=mock_url,
                          mock_profile=mock_profile) as target:  # fmt: skip
            choice = discover_model(target.url, requested=requested or None,
                                    mock_url=target.mock_url, headers=target.headers,
                                    tls=target.tls)  # fmt: skip
            journal = journal_since(target.mock_url, since)[0] if target.mock_url else None
            if spec.kind == "url":
                return _judged_by_the_mock_url(choice, target.mock_url, journal), journal
            return _judged_by_the_redirect(choice, spec, target), journal
    except TlsRefused as exc:  # it started, but its certificate is one sfperf's clients refuse
        refused = ModelChoice.failed(f"sfperf could not talk to it: {exc}", "{name}: TLS refused")
        return refused, None
    except UsageError as exc:
        return ModelChoice.failed(f"the target did not start: {exc}", "{name} did not start"), None
    except Exception as exc:  # whatever a stranger's gateway does, the run goes on to a report
        return ModelChoice.failed(f"asking the target failed: {type(exc).__name__}: {exc}"), None


def _judged_by_the_redirect(
    choice: ModelChoice,
    spec: TargetSpec,
    target: LoadTarget,
    heard_from: Callable[[str], bool] | None = None,
) -> ModelChoice:
    """`choice`, saying why its probes never reached the mock when the shim explains it: only
    for a launched gateway that answered an upstream failure (a 5xx, or nothing) while the mock
    heard nothing from it; a 4xx is the gateway's own refusal (an unknown model...)."""
    unheard = bool(choice.probes) and all(p.reached_mock is False for p in choice.probes)
    upstream_failed = any(p.status == 0 or p.status >= 500 for p in choice.probes)
    if choice.model is not None or spec.kind != "launch" or not (unheard and upstream_failed):
        return choice
    if (heard_from or _mock_heard_from)(target.mock_url):  # it reached the mock some other way
        return choice
    unreached = why_unreached(target.io_snapshot("discover-unreached"), target.mock_url)
    return replace(choice, unreached=unreached) if unreached else choice


def _judged_by_the_mock_url(
    choice: ModelChoice, mock_url: str, journal: Sequence[Entry] | None
) -> ModelChoice:
    """`choice`, saying the running gateway is not pointed at `--mock-url` when it answered
    (a 200 from elsewhere, or an upstream failure) and the mock heard nothing at all from it
    meanwhile; a 4xx is the gateway's own refusal, and a mock that heard something (a token
    request) or cannot say blames nothing."""
    unheard = bool(choice.probes) and all(p.reached_mock is False for p in choice.probes)
    answered = any(p.status == 200 or p.status >= 500 for p in choice.probes)
    if choice.model is not None or not (unheard and answered) or journal is None or journal:
        return choice
    return replace(choice, unreached=(
        f"the gateway answered but never called the mock at {mock_url}: is it configured to "
        "use it (its Salesforce login and API base)?"))  # fmt: skip


def _mock_heard_from(mock_url: str) -> bool:
    """True when the mock journaled any request (or cannot say: then nothing is blamed on it)."""
    try:
        return bool(AdminClient(mock_url).journal(since=0, limit=1))
    except (AdminError, OSError, ValueError):
        return True


def why_unreached(io: Mapping[str, Any] | None, mock_url: str = "MOCK_URL") -> str:
    """Why a launched gateway's upstream calls never reached the mock at `mock_url`, from the
    shim's counts (an io report); "" when the shim did redirect some (the gateway's answers are
    its own). No report: no shim ran in it, and only the gateway itself can read the mock's URL."""
    if io is None:
        return ("its Salesforce calls never reached the mock: the launch shim did not answer from "
                "the gateway (not a Python program, or one started without sitecustomize), so "
                f"nothing redirected them. The shim redirects Python programs only; a program "
                f"in another language must read {ENV_MOCK_URL} (set to {mock_url} in its "
                "environment) as the base URL of its Salesforce login and API calls "
                f"(`${ENV_MOCK_URL}/services/oauth2/token`, `${ENV_MOCK_URL}/einstein/platform/"
                "v1/models/...`), or be started against `sfperf mock` and measured with "
                "--target-url and --mock-url")  # fmt: skip
    if any(io.get("redirects", {}).values()):
        return ""
    others = ", ".join(sorted(io.get("other_hosts") or {}))
    if others:
        return (f"its upstream calls never reached the mock: it looked up {others}, which the "
                f"shim does not redirect (it redirects {REDIRECTED_HOSTS})")  # fmt: skip
    patched = ", ".join(io.get("patched") or []) or "none"
    return (
        "its Salesforce calls never reached the mock: they did not go through a client the "
        f"shim redirects (patched: {patched}), or it answered without calling Salesforce"
    )


def discovery_record(target: str, choice: ModelChoice) -> RunRecord:
    """`discover/models`: the probes' statuses, and the choice in params."""
    statuses = make_series("probe_status", "code", (p.status for p in choice.probes))
    served = make_series("served_models", "count", (len(choice.served),))
    return RunRecord(
        runner="discover", scenario="models", params=choice.as_params(),
        environment=capture_environment(), series=(statuses, served),
        labels={"target": target}, started_at=now_iso(), partial=choice.model is None,
    )  # fmt: skip
