"""What the microbenchmarks count rather than time, in process and deterministically.

Path hit rates: every response of a profile's seeded shape mix goes through each extractor and
the record keeps, per call, which path matched, how many probes it took, whether the fallback
routine ran and whether the text was right. File I/O: validations at a steady virtual rate
against a real token file, counting the store's reads and writes per validation.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.records import Environment, RunRecord, make_series, now_iso
from harness.runners.simulate import VirtualClock
from harness.runners.support.micro_inputs import (
    MIX_ENDPOINT,
    Sample,
    grant_issuer,
    make_provider,
    mix_samples,
    profile_mix,
)
from harness.subjects.extractors import Extraction, load_extractor
from harness.subjects.token_providers import FileTokenStore

VALIDATION_INTERVAL_S = 0.6  # 100 requests a minute, the seed report's traffic


def extract_path_records(
    extractors: Sequence[str], profiles: Sequence[str], count: int, seed: int, env: Environment
) -> list[RunRecord]:
    """One `micro/extract-paths` record per extractor and profile, with per-call series."""
    records = []
    for profile in profiles:
        samples = mix_samples(profile_mix(profile), count, seed)
        for spec in extractors:
            extract = load_extractor(spec)
            started_at = now_iso()
            calls = [(extract(s.response, s.endpoint), s.text) for s in samples]
            series = (
                make_series("path_rank", "count", (e.path_rank for e, _ in calls)),
                make_series("lookups", "count", (e.lookups for e, _ in calls)),
                make_series("fallback", "count", (e.fallback for e, _ in calls)),
                make_series("matched", "count", (e.text == text for e, text in calls)),
                make_series("raised", "count", (e.error is not None for e, _ in calls)),
            )
            params = {"extractor": spec, "profile": profile, "count": count, "seed": seed,
                      "endpoint": MIX_ENDPOINT, "shapes": [s.shape for s in samples]}  # fmt: skip
            if raised := raised_on(spec, profile, samples, [e for e, _ in calls]):
                params["raised"] = raised
            labels = {"extractor": spec, "profile": profile}
            records.append(_record("extract-paths", labels, params, series, env, started_at))
    return records


def raised_on(
    spec: str, profile: str, samples: Sequence[Sample], calls: Sequence[Extraction]
) -> dict[str, Any]:
    """What a user's extractor raised over a mix: `{calls, errors: {shape: first error}, says}`;
    {} when it never raised."""
    errors: dict[str, str] = {}
    for sample, extraction in zip(samples, calls, strict=True):
        if extraction.error is not None:
            errors.setdefault(sample.shape, extraction.error)
    if not errors:
        return {}
    raised = sum(extraction.error is not None for extraction in calls)
    shapes = "; ".join(f"{shape}: {error}" for shape, error in errors.items())
    says = (f"{spec} raised on {raised} of {len(calls)} calls over {profile!r}, on "
            f"{len(errors)} of {len(set(s.shape for s in samples))} shapes ({shapes})")  # fmt: skip
    return {"calls": raised, "errors": errors, "says": says}


def token_io_counts(provider: str, validations: int) -> tuple[list[int], list[int]]:
    """File reads and writes of each of `validations` calls at 100 per minute (virtual time)."""
    clock = VirtualClock(1_000_000.0)
    with tempfile.TemporaryDirectory(prefix="sfperf-token-") as folder:
        store = FileTokenStore(Path(folder) / "token.json")
        subject = make_provider(provider, store, grant_issuer(clock), clock)
        reads, writes = [], []
        for _ in range(validations):
            before = (store.reads, store.writes)
            subject.get_token()
            reads.append(store.reads - before[0])
            writes.append(store.writes - before[1])
            clock.now_s += VALIDATION_INTERVAL_S
    return reads, writes


def token_io_series(providers: Sequence[str], validations: int) -> dict[str, tuple[Any, ...]]:
    """`{provider: (file_reads Series, file_writes Series)}` for each provider."""
    out: dict[str, tuple[Any, ...]] = {}
    for provider in providers:
        reads, writes = token_io_counts(provider, validations)
        out[provider] = (
            make_series("file_reads", "count", reads),
            make_series("file_writes", "count", writes),
        )
    return out


def _record(
    scenario: str,
    labels: dict[str, str],
    params: dict[str, Any],
    series: tuple[Any, ...],
    env: Environment,
    started_at: str,
) -> RunRecord:
    return RunRecord(
        runner="micro",
        scenario=scenario,
        params=params,
        environment=env,
        series=series,
        labels=labels,
        started_at=started_at,
    )
