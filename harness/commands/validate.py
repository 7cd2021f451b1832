"""`sfperf validate`: the main job (every runner, the claim ledger, one report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.commands._output import add_output_options, run_dir


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="run everything (micro, simulate, load, sweep, profile, resilience, claims, report)",
        description="Measure the reference gateways (or yours) against the mock and write one "
        "report with a verdict on every claim of the ledger.",
    )
    target = parser.add_argument_group("target (default: the reference gateway variants)")
    target.add_argument("--target-url", help="your OpenAI-compatible gateway, already running")
    target.add_argument("--launch", metavar="CMD", help="start your gateway command (shimmed)")
    target.add_argument("--mock-url", default="", help="the sfperf mock behind --target-url")
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback URL")
    parser.add_argument(
        "--extractor", action="append", default=[], metavar="pkg.mod:func",
        help="also benchmark your own response extractor beside the references",
    )  # fmt: skip
    parser.add_argument("--ledger", type=Path, help="claim ledger (default: the seed report's)")
    parser.add_argument("--seed", type=int, help="seed of the mock and the workloads")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.settings import load_settings
    from harness.targets import target_from_args
    from harness.validate import ValidatePlan, run_validate, stderr_say

    plan = ValidatePlan(quick=args.quick, seed=args.seed or load_settings().seed)
    if args.target_url or args.launch:
        spec = target_from_args(None, args.target_url, args.launch, allow_remote=args.allow_remote)
        plan = ValidatePlan(
            quick=plan.quick, seed=plan.seed, targets=(spec,), mock_url=args.mock_url
        )
    if args.ledger is not None:
        plan = _with(plan, ledger=_existing(args.ledger))
    if args.extractor:
        plan = _with(plan, extractors=(*plan.extractors, *args.extractor))
    log = run_validate(plan, run_dir(args.out), say=stderr_say)
    return 1 if log.failed else 0


def _with(plan: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(plan, **changes)


def _existing(path: Path) -> Path:
    from harness.errors import UsageError

    if not path.is_file():
        raise UsageError(f"no ledger at {path}")
    return path
