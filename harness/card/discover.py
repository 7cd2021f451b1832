"""Discovery as a step of a run: start the target with a mock behind it, ask it which model it
serves (`harness.targets.discovery`), stop it, and keep the answer as a `discover` record.

A target that does not start is an answer too: the choice then carries the one-line error, and
every step that would send it requests is skipped with that reason.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError
from harness.records import RunRecord, capture_environment, make_series, now_iso
from harness.runners.load import serve_target
from harness.targets import TargetSpec
from harness.targets.discovery import ModelChoice, discover_model


def discover_target(
    spec: TargetSpec,
    directory: Path,
    *,
    seed: int,
    mock_url: str = "",
    requested: str = "",
    mock_profile: str = "default",
) -> ModelChoice:
    """The model to send `spec`, found on a short-lived start of it (logs in `directory`)."""
    try:
        with serve_target(spec, directory, seed=seed, mock_url=mock_url,
                          mock_profile=mock_profile) as target:  # fmt: skip
            return discover_model(target.url, requested=requested or None,
                                  mock_url=target.mock_url, headers=target.headers)  # fmt: skip
    except UsageError as exc:
        return ModelChoice.failed(f"the target did not start: {exc}")
    except Exception as exc:  # whatever a stranger's gateway does, the run goes on to a report
        return ModelChoice.failed(f"asking the target failed: {type(exc).__name__}: {exc}")


def discovery_record(target: str, choice: ModelChoice) -> RunRecord:
    """`discover/models`: the probes' statuses, and the choice in params."""
    statuses = make_series("probe_status", "code", (p.status for p in choice.probes))
    served = make_series("served_models", "count", (len(choice.served),))
    return RunRecord(
        runner="discover", scenario="models", params=choice.as_params(),
        environment=capture_environment(), series=(statuses, served),
        labels={"target": target}, started_at=now_iso(), partial=choice.model is None,
    )  # fmt: skip
