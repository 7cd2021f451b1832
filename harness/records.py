"""The one record type that flows from runners to the store, reports, claims and the gate.

A `RunRecord` holds raw observations (`Series`) with units, the resolved parameters that produced
them and the environment they were measured in. Statistics are always derived from the raw values,
never stored as the truth (the pyperf / pytest-benchmark model).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import platform
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import UsageError

# Format history of results.json (bump SCHEMA_VERSION and add an upgrader in store.py):
#   1  first version: {"schema_version", "records": [RunRecord...]}
SCHEMA_VERSION = 1

HARNESS_VERSION = "0.1.0"

# The subcommands that make records; `runner` in a record is one of them.
RUNNERS = ("micro", "simulate", "load", "sweep", "profile", "verdict", "claims")


@dataclass(frozen=True)
class Series:
    """Raw observations of one quantity, in one unit (`s`, `ms`, `count`, `rps`, `ratio`...)."""

    name: str
    unit: str
    values: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Series:
        return cls(str(data["name"]), str(data["unit"]), tuple(float(v) for v in data["values"]))


@dataclass(frozen=True)
class Environment:
    """Where a record was measured; `fingerprint` identifies the machine for baselines."""

    python: str
    os: str
    cpu_model: str
    cpu_count: int
    hostname: str
    git_commit: str
    git_dirty: bool
    harness_version: str

    @property
    def fingerprint(self) -> str:
        """A short id of the machine (not the code): same hardware + OS + Python -> same id."""
        key = f"{self.hostname}|{self.cpu_model}|{self.cpu_count}|{self.os}|{self.python}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Environment:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class RunRecord:
    """One measurement: a runner ran a scenario with `params` and observed `series`.

    `labels` say what was measured (e.g. {"variant": "async", "shape": "official"}) so that claim
    and gate queries can select records; `partial` marks a run cut short (Ctrl-C, a tool crash).
    """

    runner: str
    scenario: str
    params: Mapping[str, Any]
    environment: Environment
    series: tuple[Series, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    started_at: str = ""
    duration_s: float = 0.0
    partial: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def get(self, name: str) -> Series:
        """The series called `name`; KeyError naming what exists otherwise."""
        for series in self.series:
            if series.name == name:
                return series
        raise KeyError(f"{name!r} not in record {self.scenario}/{self.run_id}: {self.series_names}")

    @property
    def series_names(self) -> list[str]:
        return [s.name for s in self.series]

    def matches(self, **labels: str) -> bool:
        """True when every given label (or `runner` / `scenario`) has the given value."""
        fields = {"runner": self.runner, "scenario": self.scenario, **self.labels}
        return all(fields.get(k) == v for k, v in labels.items())

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "runner": self.runner,
            "scenario": self.scenario,
            "labels": dict(self.labels),
            "params": dict(self.params),
            "environment": self.environment.as_dict(),
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "partial": self.partial,
            "series": [s.as_dict() for s in self.series],
            "artifacts": list(self.artifacts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        return cls(
            run_id=str(data["run_id"]),
            runner=str(data["runner"]),
            scenario=str(data["scenario"]),
            labels={str(k): str(v) for k, v in data.get("labels", {}).items()},
            params=dict(data.get("params", {})),
            environment=Environment.from_dict(data["environment"]),
            started_at=str(data.get("started_at", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            partial=bool(data.get("partial", False)),
            series=tuple(Series.from_dict(s) for s in data.get("series", [])),
            artifacts=tuple(str(a) for a in data.get("artifacts", [])),
        )


def record_key(record: RunRecord, series: str) -> str:
    """`runner/scenario[label=value,...]/series`: the same metric in both runs has the same key."""
    labels = ",".join(f"{k}={v}" for k, v in sorted(record.labels.items()))
    return f"{record.runner}/{record.scenario}[{labels}]/{series}"


def fingerprint_of(records: Sequence[RunRecord]) -> str:
    """The machine fingerprint most records of a run carry."""
    if not records:
        raise UsageError("a run with no records has no machine fingerprint")
    counts = Counter(r.environment.fingerprint for r in records)
    return counts.most_common(1)[0][0]


def machine_warnings(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[str]:
    """A warning when the two runs were measured on different machines."""
    base_fp, cand_fp = fingerprint_of(baseline), fingerprint_of(candidate)
    if base_fp == cand_fp:
        return []
    base_env, cand_env = baseline[0].environment, candidate[0].environment
    return [
        f"baseline and candidate come from different machines ({base_fp}: {base_env.cpu_model}, "
        f"{base_env.hostname}; {cand_fp}: {cand_env.cpu_model}, {cand_env.hostname}): "
        "differences may be the machine's, not the code's"
    ]


def make_series(name: str, unit: str, values: Iterable[float]) -> Series:
    """A Series from any iterable of numbers."""
    return Series(name, unit, tuple(float(v) for v in values))


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string (what `started_at` holds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def capture_environment(repo: Path | None = None) -> Environment:
    """Describe this machine and the code checkout (git commit and dirty flag when available),
    the checkout as this process first saw it."""
    commit, dirty = _git_state(repo or Path(__file__).resolve().parent.parent)
    return Environment(
        python=platform.python_version(),
        os=f"{platform.system()} {platform.release()}",
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        hostname=platform.node(),
        git_commit=commit,
        git_dirty=dirty,
        harness_version=HARNESS_VERSION,
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@cache  # one run, one commit: an editable install's checkout may move while a run goes on (R7)
def _git_state(repo: Path) -> tuple[str, bool]:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=5, check=True
        )
        return done.stdout.strip()

    try:
        return git("rev-parse", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
