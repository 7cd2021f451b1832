"""`micro` runner: pytest-benchmark suites in `scenarios/micro/`, run in a child process.

The child is `python -m pytest scenarios/micro --benchmark-json=... --benchmark-save-data` with
an ini of our own (the user's pytest settings must not change what is measured). Its JSON keeps
every round, which becomes `time_s` series; the counted parts (path hit rates, file I/O per
validation) run in process. A crash or Ctrl-C keeps every benchmark that finished.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.records import Environment, RunRecord, Series, capture_environment, now_iso
from harness.runners.support.interrupted import Interrupted
from harness.runners.support.micro_counts import extract_path_records, token_io_series
from harness.runners.support.micro_inputs import text_shapes
from harness.runners.support.progress import Advance, no_progress
from harness.targets.process import spawn, stop_group
from scenarios import scenario_path

MICRO_DIR = scenario_path("micro")
STOP_GRACE_S = 10.0  # for an interrupted suite to write the benchmarks it finished
INI = "[pytest]\npython_files = bench_*.py\npython_functions = test_*\naddopts =\n"
# Rounds of at least 100 us: a few-microsecond call is repeated enough to rise above timer noise.
QUICK_OPTIONS = (
    "--benchmark-min-time=0.0001",
    "--benchmark-min-rounds=5",
    "--benchmark-max-time=0.05",
)
FULL_OPTIONS = (
    "--benchmark-min-time=0.0001",
    "--benchmark-min-rounds=20",
    "--benchmark-max-time=0.5",
)


@dataclass(frozen=True)
class MicroPlan:
    """What to measure: extractors (names or `pkg.mod:func`), response shapes, mock profiles
    (their shape mixes), token providers."""

    extractors: tuple[str, ...] = ("legacy", "priority")
    shapes: tuple[str, ...] = ()  # () = every text shape of the corpus
    profiles: tuple[str, ...] = ("default", "mixed-shapes")
    providers: tuple[str, ...] = ("file", "memory-ttl")
    quick: bool = False
    seed: int = 1234

    @property
    def mix_size(self) -> int:
        return 200 if self.quick else 1000

    @property
    def validations(self) -> int:
        return 2000 if self.quick else 6000  # 20 min / 1 h at 100 per minute

    @property
    def benchmark_count(self) -> int:
        shapes = len(self.shapes) or len(text_shapes())
        return len(self.extractors) * (shapes + len(self.profiles)) + len(self.providers)

    def as_params(self) -> dict[str, Any]:
        return {"extractors": list(self.extractors), "shapes": list(self.shapes),
                "profiles": list(self.profiles),
                "providers": list(self.providers), "quick": self.quick, "seed": self.seed,
                "mix_size": self.mix_size}  # fmt: skip


def run_micro(
    plan: MicroPlan,
    run_dir: Path,
    *,
    advance: Advance = no_progress,
    environment: Environment | None = None,
) -> list[RunRecord]:
    """Counted records first (in process), then the timed suite in a child process."""
    env = environment or capture_environment()
    known = {shape.name for shape in text_shapes()}
    if unknown := sorted(set(plan.shapes) - known):
        raise UsageError(
            f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    try:
        counted = extract_path_records(
            plan.extractors, plan.profiles, plan.mix_size, plan.seed, env
        )
        token_io = token_io_series(plan.providers, plan.validations)
    except ValueError as exc:  # an extractor, provider or profile that cannot be loaded
        raise UsageError(str(exc)) from None
    timed, interrupted = run_suite(plan, run_dir / "micro", env, advance)
    records = counted + merge_token_io(timed, token_io, env)
    if interrupted:
        raise Interrupted([replace(r, partial=True) for r in records])
    return records


def pytest_command(plan: MicroPlan, out_dir: Path) -> list[str]:
    """The child's argv: our ini, raw rounds in JSON, a checkpoint line per finished benchmark."""
    command = [sys.executable, "-m", "pytest", str(MICRO_DIR), "-c", str(out_dir / "pytest.ini"),
               "--rootdir", str(MICRO_DIR), "-p", "no:cacheprovider", "-q", "--benchmark-enable",
               "--benchmark-json", str(out_dir / "benchmarks.json"), "--benchmark-save-data",
               "--sfperf-checkpoint", str(out_dir / "checkpoint.jsonl"),
               f"--sfperf-seed={plan.seed}", f"--sfperf-mix-size={plan.mix_size}"]  # fmt: skip
    command += QUICK_OPTIONS if plan.quick else FULL_OPTIONS
    for option, values in (("extractor", plan.extractors), ("shape", plan.shapes),
                           ("profile", plan.profiles), ("provider", plan.providers)):  # fmt: skip
        command += [f"--sfperf-{option}={value}" for value in values]
    return command


def run_suite(
    plan: MicroPlan, out_dir: Path, env: Environment, advance: Advance = no_progress
) -> tuple[list[RunRecord], bool]:
    """Run the suite: its records (partial if it crashed or a benchmark failed), and whether
    Ctrl-C stopped it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pytest.ini").write_text(INI, encoding="utf-8")
    for stale in ("checkpoint.jsonl", "benchmarks.json"):  # an earlier run in the same --out
        (out_dir / stale).unlink(missing_ok=True)
    started_at, start_s = now_iso(), time.perf_counter()
    with (out_dir / "pytest.log").open("w", encoding="utf-8") as log:
        child: subprocess.Popen[bytes] = spawn(
            pytest_command(plan, out_dir), stdout=log, stderr=subprocess.STDOUT
        )
        interrupted = _wait(child, out_dir / "checkpoint.jsonl", advance)
    benchmarks = load_benchmarks(out_dir)
    records = records_from_benchmarks(benchmarks, env, plan.as_params())
    duration_s = time.perf_counter() - start_s
    artifacts = tuple(
        f"micro/{name}" for name in ("benchmarks.json", "pytest.log")
        if (out_dir / name).exists()
    )  # fmt: skip
    failed = child.returncode != 0 or len(benchmarks) < plan.benchmark_count
    if failed and not interrupted and not records:
        raise UsageError(f"the micro suite measured nothing; see {out_dir / 'pytest.log'}")
    records = [replace(r, started_at=started_at, duration_s=duration_s, artifacts=artifacts,
                       partial=failed) for r in records]  # fmt: skip
    return records, interrupted


def _wait(child: subprocess.Popen[bytes], checkpoint: Path, advance: Advance) -> bool:
    """Wait for the child, advancing per finished benchmark; True if Ctrl-C stopped it."""
    done = 0
    try:
        while child.poll() is None:
            time.sleep(0.2)  # a progress poll in the parent; the child does the measuring
            done = _advance_to(checkpoint, done, advance)
    except KeyboardInterrupt:
        _stop(child)
        return True
    _advance_to(checkpoint, done, advance)
    return False


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Let an interrupted child finish writing what it measured, then make sure it is gone."""
    # pytest takes SIGINT as Ctrl-C: it stops the benchmark and writes what it has.
    stop_group(child, STOP_GRACE_S, first=signal.SIGINT)


def _advance_to(checkpoint: Path, done: int, advance: Advance) -> int:
    try:
        finished = checkpoint.read_text(encoding="utf-8").count("\n")
    except OSError:
        return done
    if finished > done:
        advance(finished - done, "")
    return max(done, finished)


def load_benchmarks(out_dir: Path) -> list[dict[str, Any]]:
    """pytest-benchmark's JSON when it was written, else the checkpoint lines of finished ones."""
    try:
        document = json.loads((out_dir / "benchmarks.json").read_text(encoding="utf-8"))
        benchmarks: list[dict[str, Any]] = document["benchmarks"]
        return benchmarks
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        lines = (out_dir / "checkpoint.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    # A line cut by a crash is the only one that can be damaged: skip it, keep the rest.
    return [item for item in map(_parse_line, lines) if item is not None]


def _parse_line(line: str) -> dict[str, Any] | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None
    return item if isinstance(item, dict) else None


def records_from_benchmarks(
    benchmarks: Iterable[Mapping[str, Any]], env: Environment, params: Mapping[str, Any]
) -> list[RunRecord]:
    """One record per pytest-benchmark entry: `time_s` = each round's time of one call."""
    return [record_from_benchmark(b, env, params) for b in benchmarks if b.get("stats")]


def record_from_benchmark(
    bench: Mapping[str, Any], env: Environment, params: Mapping[str, Any]
) -> RunRecord:
    """Labels come from the benchmark's `extra_info`; unknown benchmarks keep their name."""
    info = dict(bench.get("extra_info") or {})
    stats = bench["stats"]
    calls = float(info.pop("calls_per_round", 1) or 1)
    raised = info.pop("raised", None)  # what a user's extractor raised: a fact, not a label
    scenario = str(info.pop("scenario", bench.get("group") or bench["name"]))
    labels = {k: str(v) for k, v in info.items()} or {"benchmark": str(bench["name"])}
    times = tuple(float(t) / calls for t in stats["data"])
    bench_params = {"benchmark": bench.get("fullname", bench["name"]),
                    "rounds": len(times), "iterations": stats.get("iterations", 1),
                    "calls_per_round": calls, "options": bench.get("options", {})}  # fmt: skip
    if raised:
        bench_params["raised"] = str(raised)
    return RunRecord(
        runner="micro",
        scenario=scenario,
        params=dict(params) | bench_params,
        environment=env,
        series=(Series("time_s", "s", times),),
        labels=labels,
    )


def merge_token_io(
    records: Sequence[RunRecord], token_io: Mapping[str, tuple[Series, ...]], env: Environment
) -> list[RunRecord]:
    """Add each provider's counted file I/O to its timed `token-validate` record."""
    merged, pending = [], dict(token_io)
    for record in records:
        provider = record.labels.get("provider", "")
        if record.scenario == "token-validate" and provider in pending:
            record = replace(record, series=record.series + pending.pop(provider))
        merged.append(record)
    for provider, series in pending.items():  # timing lost (crash): the counts still stand
        merged.append(RunRecord("micro", "token-validate", {"provider": provider}, env, series,
                                labels={"provider": provider}, started_at=now_iso()))  # fmt: skip
    return merged
