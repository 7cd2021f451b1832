"""`sfperf gate`: fail a build when the candidate is slower than the baseline.

Exit 1 on a (confirmed) regression, 0 otherwise, 2 on bad input, when no metric could be
compared (a gate that compared nothing has no verdict), and when the candidate lacks some of the
baseline's gated metrics or measured them cut short (a run stopped half way), unless
`--allow-missing`. Each `--baseline`/`--candidate` directory is one run; several runs a side are
compared run by run. Baselines can be kept per machine fingerprint under
`.sfperf/baselines/<fingerprint>/` (`--save-baseline DIR`), with a history of the last runs that
serves as the baseline's between-run spread.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError

if TYPE_CHECKING:  # the gate's modules are imported in `run`, as every command's heavy ones
    from harness.gate import GateReport

BASELINE_ROOT = Path(".sfperf/baselines")
CONFIRM_RUNS = 4


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="compare a candidate run with a baseline; exit 1 on regression",
        description="Compare the records of two sets of runs metric by metric. A regression "
        "needs a significant difference (Holm-adjusted over all metrics) AND an effect beyond "
        "the rule's thresholds.",
    )
    parser.add_argument(
        "--baseline", type=Path, nargs="+", help="baseline run dir(s) (default: this machine's)"
    )
    parser.add_argument("--candidate", type=Path, nargs="+", help="candidate run dir(s)")
    parser.add_argument(
        "--rules", type=Path, help="TOML rules (default: scenarios/gate/default.toml)"
    )
    parser.add_argument(
        "--confirm-cmd",
        help="when a metric looks worse, re-measure the candidate with CMD ('{out}' = a fresh "
        "results dir) and judge again on all the runs (a second round while undecided)",
    )
    parser.add_argument(
        "--confirm-baseline-cmd",
        help="re-measure the baseline with CMD too, interleaved with the candidate (A B A B)",
    )
    parser.add_argument(
        "--confirm-runs",
        type=int,
        default=CONFIRM_RUNS,
        metavar="N",
        help=f"confirmation runs per re-measured side (default {CONFIRM_RUNS})",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="judge a candidate that lacks some of the baseline's gated metrics (a run cut "
        "short, fewer steps) on what it has; by default it gets no verdict (exit 2)",
    )
    parser.add_argument("--summary", type=Path, help="write the Markdown summary here too")
    parser.add_argument("--json", type=Path, help="write every metric's result as JSON here")
    parser.add_argument(
        "--save-baseline", type=Path, metavar="DIR", help="store DIR as this machine's baseline"
    )
    parser.add_argument("--baseline-root", type=Path, default=BASELINE_ROOT)
    parser.set_defaults(handler=run)


def default_rules() -> Path:
    from scenarios import scenario_path

    return scenario_path("gate", "default.toml")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from harness import gate, gate_summary
    from harness.gate_claims import claim_changes
    from harness.gate_findings import finding_changes
    from harness.store import atomic_write_text, load_records

    check_outputs(args)
    if args.save_baseline:
        directory = gate.save_baseline(load_records(args.save_baseline), args.baseline_root)
        print(f"baseline saved: {directory}")
        return 0
    if not args.candidate:
        raise UsageError("--candidate DIR is required (or --save-baseline DIR)")
    if args.confirm_runs < 1:
        raise UsageError("--confirm-runs must be at least 1")
    if args.confirm_baseline_cmd and not args.confirm_cmd:
        raise UsageError("--confirm-baseline-cmd needs --confirm-cmd")
    candidate = [load_records(d) for d in args.candidate]
    baseline_dirs = args.baseline or _stored_baseline(args.baseline_root, candidate[0])
    baseline = [load_records(d) for d in baseline_dirs]
    rules = gate.load_rules(args.rules or default_rules())
    report = gate.evaluate_runs(baseline, candidate, rules)
    if args.confirm_cmd:
        report = gate.confirm_with(
            report, (baseline, candidate), rules, lambda: _rerun_interleaved(args)
        )
    claims = tuple(claim_changes(baseline_dirs, args.candidate))
    flat = ([r for run in baseline for r in run], [r for run in candidate for r in run])
    findings = tuple(finding_changes(*flat))
    unfinished = _unfinished(args.candidate, candidate)
    warnings = report.warnings + _partial_baseline(baseline_dirs, baseline)
    report = replace(report, claims=claims, findings=findings, candidate_unfinished=unfinished,
                     missing_allowed=args.allow_missing, warnings=warnings)  # fmt: skip
    summary = gate_summary.render_summary(report, _names(baseline_dirs), _names(args.candidate))
    print(summary)
    for warning in report.warnings:
        print(f"sfperf gate: warning: {warning}", file=sys.stderr)
    if args.summary:
        atomic_write_text(args.summary, summary)
    if args.json:
        document = gate_summary.report_document(report)
        atomic_write_text(args.json, json.dumps(document, indent=2, allow_nan=False))
    return exit_code(report)


def exit_code(report: GateReport) -> int:
    """1 on a regression, else 0; a withheld verdict is exit 2 in one line: nothing compared,
    or a candidate that lacks some of the baseline's metrics (a run cut short, R111)."""
    if report.failed:
        return 1
    if report.nothing_compared:
        raise UsageError(report.nothing_compared)
    if report.withheld:
        example = f"; e.g. {report.missing[0].key}" if report.missing else ""
        raise UsageError(f"no verdict: {report.incomplete}{example}; pass --allow-missing to "
                         "judge it on the rest")  # fmt: skip
    return 0


def _unfinished(dirs: list[Path], runs: list[Any], *, skipped: bool = True) -> str:
    """Why the first run that did not measure all it set out to did not ("" when every one
    did; `skipped`: a step skipped for a reason counts)."""
    from harness.completeness import run_unfinished

    return next((words for d, run in zip(dirs, runs, strict=True)
                 if (words := run_unfinished(d, run, skipped=skipped))), "")  # fmt: skip


def _partial_baseline(dirs: list[Path], runs: list[Any]) -> tuple[str, ...]:
    """A warning when a baseline run was cut short: what it lacks is not compared."""
    words = _unfinished(dirs, runs, skipped=False)
    return (f"the baseline run is partial ({words}): what it did not measure is not "
            "compared",) if words else ()  # fmt: skip


def check_outputs(args: argparse.Namespace) -> None:
    """Every place the gate will write, checked before it compares anything (exit 2 if bad)."""
    from harness.commands._output import writable_dir, writable_file

    if args.save_baseline:
        writable_dir(args.baseline_root, "--baseline-root")
    for option, path in (("--summary", args.summary), ("--json", args.json)):
        if path is not None:
            writable_file(path, option)


def _names(dirs: list[Path]) -> str:
    return str(dirs[0]) if len(dirs) == 1 else f"{dirs[0]} (+{len(dirs) - 1} more runs)"


def _stored_baseline(root: Path, candidate: list[Any]) -> list[Path]:
    from harness import gate
    from harness.records import fingerprint_of

    fingerprint = fingerprint_of(candidate)
    directory = gate.baseline_path(root, fingerprint)
    if not (directory / "results.json").exists():
        raise UsageError(
            f"no baseline for machine {fingerprint} under {root}; pass --baseline DIR or "
            "store one with --save-baseline DIR"
        )
    return gate.baseline_runs(directory)


def _rerun_interleaved(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """`--confirm-runs` new runs of the candidate, each after a new baseline run when the
    baseline can be re-measured (A B A B: drift during the reruns hits both sides alike)."""
    base: list[Any] = []
    cand: list[Any] = []
    for _ in range(args.confirm_runs):
        if args.confirm_baseline_cmd:
            base.append(_rerun(args.confirm_baseline_cmd))
        cand.append(_rerun(args.confirm_cmd))
    return base, cand


def _rerun(command: str) -> list[Any]:
    """Run the confirmation command into a fresh directory and load what it measured."""
    from harness.store import load_records

    out = Path(tempfile.mkdtemp(prefix="sfperf-confirm-"))
    argv = [part.replace("{out}", str(out)) for part in shlex.split(command)]
    print(f"sfperf gate: confirming with: {shlex.join(argv)}", file=sys.stderr)
    try:
        done = subprocess.run(argv, check=False)
    except OSError as exc:
        raise UsageError(f"cannot run --confirm-cmd: {exc}") from None
    if done.returncode != 0:
        raise UsageError(f"--confirm-cmd exited {done.returncode}")
    return load_records(out)
