"""How often does `sfperf gate` cry wolf, and how often does it catch a real 15% slowdown?

Runs the real micro suite (`run_micro`, quick settings, a subset of shapes) repeatedly, with a
user extractor that wraps `priority` and does a factor (1.00 or 1.15) of its work. Runs are
interleaved (A, B, A, B, ...) so machine drift hits both arms alike. Prints:
  - A/A: consecutive factor-1.00 runs gated against each other (goal: 0 alarms in 20);
  - slowdown: each factor-1.15 run gated against the factor-1.00 run before it (goal: >= 19 of 20
    caught on the wrapped extractor's metrics).
Not a test: `python bench/bench_gate_accuracy.py [--pairs 20]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from harness.gate import REGRESSION, GateReport, confirm, evaluate_gate, load_rules
from harness.records import RunRecord
from harness.runners.micro import MicroPlan, run_micro

ROOT = Path(__file__).resolve().parent.parent
SLOW_SPEC = "sfperf_bench_slow:extract"
SHAPES = ("official-chat-generations", "official-generations", "variant-output")

# Imported by the micro child process (found through PYTHONPATH): `priority`, stretched.
WRAPPER = """
import os
from harness.subjects.extractors import priority

# A slowdown of F adds (F - 1) extra calls of the real extractor per call, spread evenly:
# the same work whatever clock times it, and no timer calls inside the measured code.
_EXTRA = float(os.environ.get("SFPERF_BENCH_SLOWDOWN", "1.0")) - 1.0
_debt = 0.0


def extract(response, endpoint):
    global _debt
    _debt += _EXTRA
    if _debt >= 1.0:
        _debt -= 1.0
        priority(response, endpoint)
    return priority(response, endpoint)
"""


def measure(factor: float, out: Path) -> list[RunRecord]:
    """One micro run with the wrapped extractor stretched by `factor`."""
    os.environ["SFPERF_BENCH_SLOWDOWN"] = f"{factor}"
    quick = os.environ.get("SFPERF_BENCH_FULL") != "1"
    plan = MicroPlan(
        extractors=("priority", SLOW_SPEC), shapes=SHAPES, profiles=("default",), quick=quick
    )
    return run_micro(plan, out)


def gate(
    baseline: list[RunRecord], candidate: list[RunRecord], factor: float, rerun_dir: Path
) -> tuple[GateReport, GateReport]:
    """The gate's report, and the report after a confirmation rerun (as `--confirm-cmd`)."""
    rules = load_rules(ROOT / "scenarios" / "gate" / "default.toml")
    report = evaluate_gate(baseline, candidate, rules)
    if not report.failed:
        return report, report
    return report, confirm(report, baseline, measure(factor, rerun_dir))


def alarms(report: GateReport) -> tuple[bool, bool]:
    """(any regression at all, a regression on the wrapped extractor)."""
    regressed = [r for r in report.results if r.status == REGRESSION]
    for result in regressed:
        change = result.comparison.relative_change if result.comparison else float("nan")
        print(f"    regression: {result.key} {change:+.1%}", flush=True)
    return bool(regressed), any(SLOW_SPEC in r.key for r in regressed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--slowdown", type=float, default=1.15)
    parser.add_argument("--full", action="store_true", help="micro's full settings, not --quick")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time rounds in process CPU time (pytest-benchmark --benchmark-timer), not wall time",
    )
    args = parser.parse_args()
    os.environ["SFPERF_BENCH_FULL"] = "1" if args.full else "0"
    if args.cpu_time:
        # The micro child is `python -m pytest`, which reads PYTEST_ADDOPTS.
        os.environ["PYTEST_ADDOPTS"] = "--benchmark-timer=time.process_time"
    work = Path(tempfile.mkdtemp(prefix="sfperf-gate-bench-"))
    (work / "sfperf_bench_slow.py").write_text(WRAPPER)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(work), str(ROOT), os.environ.get("PYTHONPATH", "")]
    )
    sys.path.insert(0, str(work))
    started = time.perf_counter()
    previous = measure(1.0, work / "base-0")
    # [raw, after confirmation] counts
    false_alarms, caught = [0, 0], [0, 0]
    for i in range(1, args.pairs + 1):
        slow = measure(args.slowdown, work / f"slow-{i}")
        same = measure(1.0, work / f"base-{i}")
        reports = gate(previous, slow, args.slowdown, work / f"slow-{i}-again")
        for k, report in enumerate(reports):
            caught[k] += alarms(report)[1]
        reports = gate(previous, same, 1.0, work / f"base-{i}-again")
        for k, report in enumerate(reports):
            false_alarms[k] += alarms(report)[0]
        print(
            f"pair {i:2d}: A/A alarms {false_alarms} (raw, confirmed), caught {caught}", flush=True
        )
        previous = same
    elapsed = time.perf_counter() - started
    for k, kind in enumerate(("without confirmation", "with a confirmation rerun")):
        print(f"{kind}: A/A false alarms {false_alarms[k]} of {args.pairs} (goal 0); "
              f"{args.slowdown - 1:.0%} slowdown caught {caught[k]} of {args.pairs} "
              f"(goal >= {args.pairs - 1})")  # fmt: skip
    print(f"micro runs took {elapsed:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
