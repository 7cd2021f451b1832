"""The sync-versus-async sweep: throughput and latency against concurrency and upstream latency.

For each upstream latency L (set on the mock through its admin API) and each concurrency level
N, every subject runs closed loop for a fixed window: the upstream clients (`sync-wrapper` from
a thread pool, `async` and `async-batching` from tasks) call the mock directly, the gateway
variants are called through HTTP. Each (subject, N, L) becomes one record, beside the
Little's-law bound N / L that no closed loop can beat.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.records import Environment, RunRecord, capture_environment, make_series, now_iso
from harness.runners.support.closedloop import Window
from harness.runners.support.interrupted import Interrupted
from harness.runners.support.progress import Advance, no_progress
from harness.runners.support.sweepsubjects import CLIENTS, measure_client, measure_gateway
from mock_salesforce.admin_client import AdminClient

SCENARIO = "sync-vs-async"
DEFAULT_LEVELS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
QUICK_LEVELS = (1, 8, 32)
GATEWAY_VARIANTS = ("sync-legacy", "sync-optimized", "async", "async-batching")
GATEWAY_PREFIX = "gateway:"  # the client `async` and the gateway variant `async` are different
DEFAULT_SUBJECTS = (*CLIENTS, *(GATEWAY_PREFIX + v for v in GATEWAY_VARIANTS))

# variant name -> a context manager that serves it against the mock and yields its base URL
GatewayOpener = Callable[[str], contextlib.AbstractContextManager[str]]


@dataclass(frozen=True)
class SweepPlan:
    """What to sweep (kept in every record's params)."""

    levels: tuple[int, ...] = DEFAULT_LEVELS
    upstream_latencies_ms: tuple[float, ...] = (200.0,)
    subjects: tuple[str, ...] = DEFAULT_SUBJECTS
    duration_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.levels or min(self.levels) < 1:
            raise UsageError("--levels must be positive integers")
        if not self.upstream_latencies_ms or min(self.upstream_latencies_ms) <= 0:
            raise UsageError("--upstream-latency must be > 0 (Little's bound divides by it)")
        if self.duration_s <= 0:
            raise UsageError("--duration must be > 0")
        unknown = sorted(set(self.subjects) - set(DEFAULT_SUBJECTS))
        if unknown or not self.subjects:
            raise UsageError(
                f"unknown subjects {unknown}: choose from {', '.join(DEFAULT_SUBJECTS)}"
            )

    @property
    def steps(self) -> int:
        return len(self.levels) * len(self.upstream_latencies_ms) * len(self.subjects)


def littles_bound_rps(concurrency: int, upstream_latency_ms: float) -> float:
    """The most a closed loop of `concurrency` callers can do when each call takes L ms."""
    return concurrency / (upstream_latency_ms / 1000.0)


def level_record(
    subject: str,
    concurrency: int,
    upstream_latency_ms: float,
    window: Window,
    *,
    environment: Environment,
    params: Mapping[str, Any],
    started_at: str = "",
) -> RunRecord:
    """One (subject, concurrency, L) point of the sweep as a RunRecord (internals.md, sweep)."""
    samples = window.samples
    failures = sum(not s.ok for s in samples)
    return RunRecord(
        runner="sweep",
        scenario=SCENARIO,
        params=params,
        environment=environment,
        series=(
            make_series("latency_ms", "ms", (s.latency_ms for s in samples)),
            make_series("ok", "count", (1.0 if s.ok else 0.0 for s in samples)),
            make_series("throughput_rps", "rps", (window.throughput_rps,)),
            make_series("errors", "count", (failures,)),
            make_series("error_rate", "ratio", (failures / len(samples) if samples else 0.0,)),
            make_series(
                "littles_bound_rps", "rps", (littles_bound_rps(concurrency, upstream_latency_ms),)
            ),
        ),
        labels={
            "subject": subject,
            "kind": "client" if subject in CLIENTS else "gateway",
            "concurrency": str(concurrency),
            "upstream_latency_ms": f"{upstream_latency_ms:g}",
        },
        started_at=started_at,
        duration_s=window.duration_s,
        partial=not samples,
    )


def set_upstream_latency(mock_url: str, latency_ms: float, timeout_s: float = 10.0) -> None:
    """Make the mock answer chat-generations after a fixed `latency_ms` (admin merge patch)."""
    admin = AdminClient(mock_url, timeout_s=timeout_s)
    admin.set_latency(f"fixed:{latency_ms:g}ms", selector="chat-generations")


def run_sweep(
    plan: SweepPlan,
    mock_url: str,
    open_gateway: GatewayOpener,
    *,
    advance: Advance = no_progress,
) -> list[RunRecord]:
    """Sweep every subject over every level and upstream latency; Ctrl-C keeps what is done."""
    environment = capture_environment()
    records: list[RunRecord] = []
    try:
        for latency_ms in plan.upstream_latencies_ms:
            set_upstream_latency(mock_url, latency_ms)
            for subject in plan.subjects:
                with subject_measurer(subject, mock_url, open_gateway, max(plan.levels)) as measure:
                    for level in plan.levels:
                        advance(0, f"sweep {subject} N={level} L={latency_ms:g}ms")
                        records.append(
                            measure_level(plan, subject, level, latency_ms, measure, environment)
                        )
                        advance(1, "")
    except KeyboardInterrupt:
        raise Interrupted(records) from None
    return records


def measure_level(
    plan: SweepPlan,
    subject: str,
    level: int,
    latency_ms: float,
    measure: Callable[[int, float], Window],
    environment: Environment,
) -> RunRecord:
    """Measure one point and make its record."""
    started_at = now_iso()
    window = measure(level, plan.duration_s)
    params = {**asdict(plan), "upstream_latency_ms": latency_ms}
    return level_record(
        subject, level, latency_ms, window,
        environment=environment, params=params, started_at=started_at,
    )  # fmt: skip


@contextlib.contextmanager
def subject_measurer(
    subject: str, mock_url: str, open_gateway: GatewayOpener, max_concurrency: int
) -> Iterator[Callable[[int, float], Window]]:
    """`measure(concurrency, duration_s)` for one subject (a gateway is served meanwhile)."""
    if subject in CLIENTS:
        yield lambda level, duration_s: measure_client(
            subject, mock_url, level, duration_s, max_concurrency
        )
        return
    with open_gateway(subject.removeprefix(GATEWAY_PREFIX)) as url:
        yield lambda level, duration_s: measure_gateway(url, level, duration_s)


def reference_gateways(mock_url: str, run_dir: Path) -> GatewayOpener:
    """A GatewayOpener serving the reference variants against the mock (logs in `run_dir`)."""
    from harness.targets import TargetSpec, open_target

    @contextlib.contextmanager
    def open_variant(variant: str) -> Iterator[str]:
        spec = TargetSpec(variant=variant, name=f"gateway-{variant}")
        with open_target(spec, mock_url=mock_url, run_dir=run_dir) as running:
            yield running.url

    return open_variant


def sweep_subjects(text: str) -> tuple[str, ...]:
    """`sync-wrapper,async,sync-legacy` -> subject names; a variant no client shares may go bare."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    bare = set(GATEWAY_VARIANTS) - set(CLIENTS)
    return tuple(GATEWAY_PREFIX + name if name in bare else name for name in names)


def sweep_levels(text: str) -> tuple[int, ...]:
    """`1,2,4,8` -> (1, 2, 4, 8); UsageError for anything else."""
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--levels takes comma-separated integers, got {text!r}") from None
    return levels
