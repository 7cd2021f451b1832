"""`sfperf gate`: fail a build when the candidate run is slower than the baseline run.

Exit 1 on a (confirmed) regression, 0 otherwise, 2 on bad input. Baselines can be kept per
machine fingerprint under `.sfperf/baselines/<fingerprint>/` (`--save-baseline DIR`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import UsageError

BASELINE_ROOT = Path(".sfperf/baselines")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="compare a candidate run with a baseline; exit 1 on regression",
        description="Compare the records of two runs metric by metric. A regression needs a "
        "significant difference AND an effect beyond the rule's thresholds.",
    )
    parser.add_argument("--baseline", type=Path, help="baseline run dir (default: this machine's)")
    parser.add_argument("--candidate", type=Path, help="candidate run dir (results.json)")
    parser.add_argument(
        "--rules", type=Path, help="TOML rules (default: scenarios/gate/default.toml)"
    )
    parser.add_argument(
        "--confirm-cmd",
        help="before failing, run CMD ('{out}' = a fresh results dir) and re-check regressions",
    )
    parser.add_argument("--summary", type=Path, help="write the Markdown summary here too")
    parser.add_argument("--json", type=Path, help="write every metric's result as JSON here")
    parser.add_argument(
        "--save-baseline", type=Path, metavar="DIR", help="store DIR as this machine's baseline"
    )
    parser.add_argument("--baseline-root", type=Path, default=BASELINE_ROOT)
    parser.set_defaults(handler=run)


def default_rules() -> Path:
    import scenarios

    return Path(scenarios.__file__).resolve().parent / "gate" / "default.toml"


def run(args: argparse.Namespace) -> int:
    from harness import gate
    from harness.store import atomic_write_text, load_records

    if args.save_baseline:
        directory = gate.save_baseline(load_records(args.save_baseline), args.baseline_root)
        print(f"baseline saved: {directory}")
        return 0
    if args.candidate is None:
        raise UsageError("--candidate DIR is required (or --save-baseline DIR)")
    candidate = load_records(args.candidate)
    baseline_dir = args.baseline or _stored_baseline(args.baseline_root, candidate)
    baseline = load_records(baseline_dir)
    rules = gate.load_rules(args.rules or default_rules())
    report = gate.evaluate_gate(baseline, candidate, rules)
    if report.failed and args.confirm_cmd:
        report = gate.confirm(report, baseline, _rerun(args.confirm_cmd))
    summary = gate.render_summary(report, str(baseline_dir), str(args.candidate))
    print(summary)
    for warning in report.warnings:
        print(f"sfperf gate: warning: {warning}", file=sys.stderr)
    if args.summary:
        atomic_write_text(args.summary, summary)
    if args.json:
        document = gate.report_document(report)
        atomic_write_text(args.json, json.dumps(document, indent=2, allow_nan=False))
    return 1 if report.failed else 0


def _stored_baseline(root: Path, candidate: list[Any]) -> Path:
    from harness import gate

    fingerprint = gate.fingerprint_of(candidate)
    directory = gate.baseline_path(root, fingerprint)
    if not (directory / "results.json").exists():
        raise UsageError(
            f"no baseline for machine {fingerprint} under {root}; pass --baseline DIR or "
            "store one with --save-baseline DIR"
        )
    return directory


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
