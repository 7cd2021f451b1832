"""`sfperf validate`: the main job (every runner, the claim ledger, one report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.commands._output import add_output_options, run_dir
from harness.commands._target import (
    add_start_timeout_option,
    add_target_header_option,
    add_target_tls_options,
    headers_from_args,
    tls_from_args,
)
from harness.errors import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="run everything (micro, simulate, load, sweep, profile, resilience, claims, report)",
        description="Measure the reference gateways (or yours) against the mock and write one "
        "report with a verdict on every claim of the ledger. Exit status 0 when every step ran "
        "or was skipped for a reason the report gives, 1 when a step failed (see steps.json).",
    )
    target = parser.add_argument_group("target (default: the reference gateway variants)")
    target.add_argument("--target-url", help="your OpenAI-compatible gateway, already running")
    target.add_argument("--launch", metavar="CMD", help="start your gateway command (shimmed)")
    target.add_argument("--mock-url", default="", help="the sfperf mock behind --target-url")
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback URL")
    target.add_argument(
        "--model", default="",
        help="the model name to send your gateway (default: the first one GET /v1/models lists "
        "that answers a probe request)",
    )  # fmt: skip
    target.add_argument(
        "--target-metrics", metavar="PATH",
        help="where your gateway reports on itself (e.g. /metrics/performance): read before and "
        "after each load run and shown beside what sfperf measured",
    )  # fmt: skip
    add_target_header_option(target)
    add_target_tls_options(target)
    add_start_timeout_option(target)
    parser.add_argument(
        "--extractor", action="append", default=[], metavar="pkg.mod:func",
        help="also benchmark your own response extractor beside the references",
    )  # fmt: skip
    parser.add_argument(
        "--ledger", type=Path, action="append", default=[],
        help="your claim ledger (repeatable): with a target, its claims are evaluated on the "
        "target beside sfperf's gateway ledger; without one, it replaces the seed ledger",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, help="seed of the mock and the workloads")
    parser.add_argument(
        "--steps", metavar="A,B", type=_step_names, default=(),
        help="run only these steps, e.g. load,resilience (default: all of micro, simulate, "
        "load, sweep, profile, resilience; claims and the report always follow)",
    )  # fmt: skip
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.settings import load_settings
    from harness.targets import target_from_args
    from harness.targets.spec import check_mock_url
    from harness.validate import ValidatePlan, exit_status, run_validate, stderr_say

    plan = ValidatePlan(quick=args.quick, seed=args.seed or load_settings().seed)
    ledgers = tuple(args.ledger)
    if args.target_url or args.launch:
        spec = target_from_args(None, args.target_url, args.launch, allow_remote=args.allow_remote,
                                metrics_path=args.target_metrics,
                                headers=headers_from_args(args), tls=tls_from_args(args),
                                start_timeout_s=args.start_timeout)  # fmt: skip
        mock_url = args.mock_url and check_mock_url(
            args.mock_url, allow_remote=args.allow_remote, option="--mock-url"
        )
        plan = _with(plan, targets=(spec,), mock_url=mock_url, model=args.model,
                     target_ledgers=(*plan.target_ledgers, *ledgers))  # fmt: skip
    else:
        plan = _reference_options(plan, args, ledgers)
    if args.extractor:
        plan = _with(plan, extractors=(*plan.extractors, *args.extractor))
    plan = _with(plan, steps=args.steps)
    check_ledgers((plan.ledger, *plan.target_ledgers))
    log = run_validate(plan, run_dir(args.out, append=args.append), say=stderr_say)
    if log.failed:
        stderr_say(f"validate: {', '.join(log.failed)} failed (steps.json says why): exit 1")
    return exit_status(log)


def _reference_options(plan: Any, args: argparse.Namespace, ledgers: tuple[Path, ...]) -> Any:
    """Without a target of the user's: --ledger replaces the seed ledger; target options err."""
    for option, value in (("--model", args.model), ("--target-metrics", args.target_metrics),
                          ("--mock-url", args.mock_url), ("--target-header", args.target_header),
                          ("--target-ca", args.target_ca),
                          ("--target-insecure", args.target_insecure)):  # fmt: skip
        if value:
            raise UsageError(f"{option} goes with --target-url or --launch (your gateway)")
    if len(ledgers) > 1:
        raise UsageError("one --ledger replaces the seed ledger; several need a target to bind")
    return _with(plan, ledger=ledgers[0]) if ledgers else plan


def _with(plan: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(plan, **changes)


def check_ledgers(paths: tuple[Path, ...]) -> None:
    """Load and check every ledger the run will evaluate, before anything starts: a bad one is
    one line and exit 2 in milliseconds, not after minutes of measuring."""
    from harness.claims.ledger import load_ledger

    for path in dict.fromkeys(paths):
        load_ledger(path)


def _step_names(text: str) -> tuple[str, ...]:
    from harness.validate import STEP_NAMES

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in STEP_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"steps are some of {','.join(STEP_NAMES)}")
    return names
