"""Deterministic synthetic RunRecords of every runner, following docs/internals.md's table.

`python -m tests.unit.reports.synthetic OUT.json` regenerates tests/golden/results-v1-full.json.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from harness.records import Environment, RunRecord, make_series
from harness.store import save_records

ENV = Environment("3.11.7", "Linux 6.1", "AMD EPYC", 2, "golden", "0" * 40, False, "0.1.0")


def _record(
    n: int, runner: str, scenario: str, labels: dict[str, str], **series: Iterable[float]
) -> RunRecord:
    made = tuple(
        make_series(k, "ms" if k.endswith("_ms") else "count", v) for k, v in series.items()
    )
    return RunRecord(
        runner,
        scenario,
        {"quick": True},
        ENV,
        made,
        labels=labels,
        started_at="2026-11-27T12:00:00+00:00",
        run_id=f"synthetic{n:03d}",
    )


def micro(rng: np.random.Generator) -> list[RunRecord]:
    records = []
    for i, (extractor, scale) in enumerate((("legacy", 6e-6), ("priority", 2e-6))):
        for j, shape in enumerate(("official-generations", "official-chat-generations")):
            times = rng.lognormal(np.log(scale), 0.05, 20)
            records.append(
                _record(
                    10 + 2 * i + j,
                    "micro",
                    "extract",
                    {"extractor": extractor, "shape": shape},
                    time_s=times,
                )
            )
        rank = [1] * 90 + [3] * 10 if extractor == "priority" else [5] * 100
        records.append(
            _record(
                20 + i,
                "micro",
                "extract-paths",
                {"extractor": extractor, "profile": "default"},
                path_rank=rank,
                lookups=[r * 2 for r in rank],
                fallback=[r > 2 for r in rank],
                matched=[1] * 100,
            )
        )
    return records


def simulate() -> list[RunRecord]:
    configs = (("file", "none", "300", 0.2, 1.0), ("memory-ttl", "2700", "2700", 0.0, 1.0))
    return [
        _record(
            30 + i,
            "simulate",
            "token-cache",
            {
                "provider": p,
                "config": f"{p}-{ttl}",
                "ttl_s": ttl,
                "buffer_s": buf,
                "token_lifetime_s": "1800",
            },
            requests=[6000] * 4,
            hits=[6000 * hit] * 4,
            misses=[6000 * (1 - hit)] * 4,
            refreshes=[2, 2, 3, 2],
            file_reads=[6000 * io] * 4,
            file_writes=[2] * 4,
            expired_sends=[0] * 4,
        )
        for i, (p, ttl, buf, hit, io) in enumerate(configs)
    ]


def load(rng: np.random.Generator) -> list[RunRecord]:
    return [
        _record(
            40 + i,
            "load",
            "steady",
            {"target": target, "mode": "closed"},
            latency_ms=rng.lognormal(np.log(median), 0.3, 300),
            ok=[1] * 299 + [0],
            throughput_rps=[50.0 / median * 10],
            fidelity_wrong_content=[i],
            fidelity_dropped=[0],
        )
        for i, (target, median) in enumerate((("sync-legacy", 30.0), ("sync-optimized", 12.0)))
    ]


def sweep(rng: np.random.Generator) -> list[RunRecord]:
    records = []
    for i, subject in enumerate(("sync-wrapper", "async-batching")):
        for j, level in enumerate((1, 4, 16)):
            latency = rng.normal(200 + (60 if i == 0 else 0) * (level / 16), 5, 40)
            records.append(
                _record(
                    50 + 3 * i + j,
                    "sweep",
                    "sync-vs-async",
                    {"subject": subject, "concurrency": str(level), "upstream_latency_ms": "200"},
                    latency_ms=latency,
                    throughput_rps=[level / latency.mean() * 1000],
                    errors=[0],
                    littles_bound_rps=[level / 0.2],
                )
            )
    return records


def profile() -> list[RunRecord]:
    shares = {"share:handle_chat": [0.4], "share:extract": [0.2], "share:json.loads": [0.1]}
    return [_record(60, "profile", "gateway", {"variant": "async"}, **shares)]


def verdict() -> list[RunRecord]:
    record = _record(70, "verdict", "findings", {"target": "async"}, **{"finding:no_backoff": [3]})
    findings = [
        {
            "name": "no_backoff",
            "severity": "WARN",
            "count": 3,
            "examples": ["r1", "r2"],
            "explanation": "retried at a constant interval",
        }
    ]
    return [RunRecord(**{**record.__dict__, "params": {"findings": findings}})]


def all_records(seed: int = 7) -> list[RunRecord]:
    rng = np.random.default_rng(seed)
    return [*micro(rng), *simulate(), *load(rng), *sweep(rng), *profile(), *verdict()]


if __name__ == "__main__":
    out = Path(sys.argv[1])
    save_records(out.parent, all_records())
    (out.parent / "results.json").rename(out)
