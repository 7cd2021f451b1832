"""`sfperf sweep`: throughput and latency against concurrency, beside Little's-law bound.

With no target, the reference clients and gateway variants; with `--target-url` / `--launch`,
the user's gateway with two reference gateways drawn beside it; with `--baseline-target` and
`--candidate-target`, two gateways side by side. The sweep's own client is measured against
the mock directly in the same run (its ceiling).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.commands._output import add_output_options, measure, run_dir
from harness.commands._target import (
    add_start_timeout_option,
    add_target_header_option,
    add_target_tls_options,
    headers_from_args,
    tell_mock_faults,
    tls_from_args,
)
from harness.errors import UsageError
from harness.records import RunRecord
from harness.targets.spec import START_TIMEOUT_S

QUICK_DURATION_S = 1.5
ROLES = ("baseline", "candidate")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="sync vs async: throughput and latency per concurrency level, knee and shape",
        description="Closed-loop sweep over concurrency levels against the mock at a fixed "
        "upstream latency: your gateway (or two), the reference clients and gateway variants.",
    )
    target = parser.add_argument_group("target (default: the reference subjects only)")
    target.add_argument("--target-url", help="your OpenAI-compatible gateway (running)")
    target.add_argument("--launch", metavar="CMD", help="start your gateway command (shimmed)")
    target.add_argument(
        "--baseline-target", metavar="URL|CMD", help="compare two gateways: the baseline"
    )
    target.add_argument(
        "--candidate-target", metavar="URL|CMD", help="compare two gateways: the candidate"
    )
    for role in ("baseline", "candidate"):
        target.add_argument(
            f"--{role}-url",
            help=f"where the --{role}-target command listens, when it prints no URL",
        )
    target.add_argument("--mock-url", default="", help="the sfperf mock behind a running target")
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback URL")
    target.add_argument(
        "--model", help="model name sent to your gateway (default: one it lists that works)"
    )
    add_target_header_option(target)
    add_target_tls_options(target)
    add_start_timeout_option(target)
    parser.add_argument(
        "--levels", help="concurrency levels (default 1,2,4,...,256; quick 1,8,32,64)"
    )
    parser.add_argument(
        "--upstream-latency", default="200ms", help="mock latency per call: 200ms, 50ms,200ms"
    )
    parser.add_argument(
        "--subjects",
        help="references beside the target(s), comma-separated, or none: clients sync-wrapper, "
        "async, async-batching; gateways gateway:sync-legacy, gateway:sync-optimized, "
        "gateway:async, gateway:async-batching (sync-* may drop the prefix). Default: all; "
        "with a target: gateway:sync-optimized,gateway:async",
    )
    parser.add_argument("--duration", help="window per point, e.g. 10s (default 10s; quick 1.5s)")
    parser.add_argument(
        "--rounds",
        type=int,
        help="turns every subject takes at the level claims judge (the highest where the "
        "sweep's own client was no one's limit), interleaved, so a verdict carries the "
        "machine's changes between moments (default 4; 1: none)",
    )
    parser.add_argument("--mock-profile", default="default", help="profile of the embedded mock")
    parser.add_argument("--seed", type=int, help="seed of the embedded mock")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.exits import exits_said
    from harness.runners.support.capacity import check_levels, client_capacity
    from harness.runners.support.progress import progress_bar
    from harness.runners.sweep import run_sweep, sweep_services, sweep_targets
    from harness.settings import load_settings
    from harness.targets.spec import check_mock_url

    if args.mock_url:  # the mock is held to the targets' loopback rule
        check_mock_url(args.mock_url, allow_remote=args.allow_remote, option="--mock-url")
        tell_mock_faults(args.mock_url)
    targets = sweep_targets(targets_from_args(args), mock_given=bool(args.mock_url))
    plan = plan_from_args(args, targets=tuple(target for _, target in targets.values()))
    check_levels(plan.levels, client_capacity())
    directory = run_dir(args.out, append=args.append)
    seed = load_settings().seed if args.seed is None else args.seed
    specs = {name: spec for name, (spec, _) in targets.items()}
    with (
        sweep_services(
            specs, directory, seed=seed, mock_url=args.mock_url, mock_profile=args.mock_profile
        ) as services,
        progress_bar(plan.steps, "sweep") as advance,
    ):
        records = measure(
            directory,
            lambda keep: run_sweep(
                plan, services.mock_url, services.serve, advance=advance, keep=keep
            ),
        )
    exits = exits_said(records)  # first: the refused requests after it are no load failure
    for line in exits:
        print(f"sfperf sweep: {line}", file=sys.stderr)
    print_summary(records, beside=profiles_in(directory) if args.append else ())
    return 1 if exits else 0


def profiles_in(directory: Path) -> list[RunRecord]:
    """The profile records an --append'ed run directory holds: what they show of a cap of one
    request at a time is said beside it (R104)."""
    from harness.store import load_records

    return [record for record in load_records(directory) if record.runner == "profile"]


def plan_from_args(args: argparse.Namespace, *, targets: Sequence[Any] = ()) -> Any:
    """The SweepPlan the options describe, with `targets` (SweepTargets); quick shrinks what
    was not given."""
    from harness.runners.support.workloads import parse_duration_s
    from harness.runners.sweep import (
        DEFAULT_LEVELS,
        QUICK_LEVELS,
        ROUNDS,
        SweepPlan,
        sweep_levels,
    )

    levels = (
        sweep_levels(args.levels)
        if args.levels
        else (QUICK_LEVELS if args.quick else DEFAULT_LEVELS)
    )
    latencies_ms = tuple(
        1000.0 * parse_duration_s(part) for part in args.upstream_latency.split(",") if part.strip()
    )
    if args.duration is not None:
        duration_s = parse_duration_s(args.duration)
    else:
        duration_s = QUICK_DURATION_S if args.quick else 10.0
    return SweepPlan(
        levels=levels,
        upstream_latencies_ms=latencies_ms,
        subjects=subjects_from_args(args.subjects, with_targets=bool(targets)),
        targets=tuple(targets),
        duration_s=duration_s,
        rounds=ROUNDS if args.rounds is None else args.rounds,
        model=args.model,
    )


def subjects_from_args(text: str | None, *, with_targets: bool) -> tuple[str, ...]:
    """`--subjects`: the names given, `none`, or when not given every reference subject, or
    beside a user's target two yardsticks (a threaded and an async reference gateway)."""
    from harness.runners.sweep import DEFAULT_SUBJECTS, YARDSTICKS, sweep_subjects

    if text is None:
        return YARDSTICKS if with_targets else DEFAULT_SUBJECTS
    return () if text.strip() == "none" else sweep_subjects(text)


def targets_from_args(args: argparse.Namespace) -> list[tuple[Any, str]]:
    """(TargetSpec, role) for each gateway the options name: one `target`, or a `baseline`
    and a `candidate`; UsageError for a mix or half a pair."""
    from harness.targets import target_from_args

    pair = (args.baseline_target, args.candidate_target)
    if not any(pair) and not (args.target_url or args.launch) and args.target_header:
        raise UsageError("--target-header goes with a target of yours (--target-url, --launch...)")
    headers = headers_from_args(args) if any(pair) or args.target_url or args.launch else ()
    if any(pair) and (args.target_url or args.launch):
        raise UsageError("use --target-url/--launch or --baseline-target/--candidate-target")
    if any(pair) and not all(pair):
        raise UsageError("--baseline-target and --candidate-target go together")
    if all(pair):
        urls = (args.baseline_url, args.candidate_url)
        return [(target_of(text, url, role, args.allow_remote, headers, args.start_timeout,
                           tls_from_args(args)), role)
                for text, url, role in zip(pair, urls, ROLES, strict=True)]  # fmt: skip
    for role in ROLES:
        if getattr(args, f"{role}_url"):
            raise UsageError(f"--{role}-url goes with a --{role}-target command")
    if args.target_url or args.launch:
        spec = target_from_args(None, args.target_url, args.launch, default_variant=None,
                                allow_remote=args.allow_remote, headers=headers,
                                start_timeout_s=args.start_timeout,
                                tls=tls_from_args(args))  # fmt: skip
        return [(spec, "target")]
    if args.mock_url:
        raise UsageError("--mock-url names the mock behind --target-url (none was given)")
    return []


def target_of(
    text: str,
    url: str | None,
    role: str,
    allow_remote: bool,
    headers: Any = (),
    start_timeout_s: float = START_TIMEOUT_S,
    tls: Any = None,
) -> Any:
    """A `--baseline-target` / `--candidate-target`: an http(s) URL (running) or a command,
    which listens at `url` when given (else it prints its URL); `headers`: --target-header,
    `tls`: --target-ca/--target-insecure; a command has `start_timeout_s` to get ready."""
    from harness.targets import target_from_args
    from harness.targets.tls import DEFAULT_TLS

    if text.startswith(("http://", "https://")):
        if url:
            raise UsageError(f"--{role}-url goes with a command; --{role}-target is a URL")
        return target_from_args(None, text, None, allow_remote=allow_remote, headers=headers,
                                tls=tls or DEFAULT_TLS)  # fmt: skip
    return target_from_args(None, url, text, allow_remote=allow_remote, headers=headers,
                            start_timeout_s=start_timeout_s, tls=tls or DEFAULT_TLS)  # fmt: skip


# Behind a user's mock that injects faults (review7 B6): how the table counts what they failed.
FAULTED_NOTE = (
    "; a request that failed on a fault the mock injected counts in ok req/s as served, "
    "and not in err%"
)


def print_summary(records: Sequence[RunRecord], beside: Sequence[RunRecord] = ()) -> None:
    """A table per level, then each subject's knee and shape (read with the profiles `beside`
    them), then a pair's side by side."""
    from harness.machine import load_note
    from harness.saturation import level_points, saturations

    if not records:
        raise UsageError("the sweep measured nothing")
    header = ("subject", "N", "L ms", "ok req/s", "bound", "p50 ms", "p99 ms", "err%", "cpu ms")
    print("{:<28}{:>5}{:>8}{:>10}{:>10}{:>9}{:>9}{:>7}{:>8}".format(*header))
    levels = level_points(records)
    for (subject, upstream), points in sorted(levels.items()):
        for p in points:
            cpu = "" if p.cpu_ms_per_request is None else f"{p.cpu_ms_per_request:.2f}"
            print(
                f"{subject:<28}{p.concurrency:>5}{upstream:>8}{p.throughput_rps:>10.1f}"
                f"{p.bound_rps:>10.1f}{_ms(p.p50_ms):>9}{_ms(p.p99_ms):>9}"
                f"{100 * p.error_rate:>7.1f}{cpu:>8}"
            )
    faulted = any(p.fault_share for points in levels.values() for p in points)
    print("(ok req/s, p50 and p99: successful requests only; -: none succeeded"
          f"{FAULTED_NOTE if faulted else ''})\n")  # fmt: skip
    for saturation in saturations([*records, *beside]):
        knee = "none" if saturation.knee is None else str(saturation.knee)
        own = (r for r in records if r.labels.get("subject") == saturation.subject)
        print(f"{saturation.subject}: knee {knee}; {saturation.detail}{load_note(own)}")
    print_pair(records)
    print_fidelity(records)


def _ms(latency_ms: float) -> str:
    """A latency of ok replies, `-` when there was none."""
    return "-" if math.isnan(latency_ms) else f"{latency_ms:.1f}"


def print_pair(records: Sequence[RunRecord]) -> None:
    """With a baseline and a candidate: throughput and p99 per level, side by side."""
    from harness.gate import shipped_rules
    from harness.pairing import errors_text, split_roles, sweep_rows

    halves = split_roles(records)
    if halves is None:
        return
    print(
        "\ncandidate / baseline (95% interval): ok throughput and p99 of ok replies per level, "
        "and the error rates"
    )
    for row in sweep_rows(*halves, shipped_rules()):
        errors = errors_text(row.ok)
        print(
            f"N={row.concurrency:<5} throughput {row.throughput.describe()}; "
            f"p99 {row.p99.describe()}{f'; {errors}' if errors else ''}"
        )


def print_fidelity(records: Sequence[RunRecord]) -> None:
    """A warning per subject whose replies did not match what the mock sent; its own 429s with
    a Retry-After (`own_429`: the upstream sent none) are its rate limit, which the shape names,
    not replies unlike the upstream's (R74)."""
    for record in records:
        if "fidelity_checked" not in record.series_names:
            continue
        mismatched = {
            s.name.removeprefix("fidelity_"): int(s.values[0])
            for s in record.series
            if s.name.startswith("fidelity_") and s.name != "fidelity_checked" and s.values[0]
        }
        limited = int(record.get("own_429").values[0]) if "own_429" in record.series_names else 0
        if limited and "wrong_status" in mismatched:
            mismatched["wrong_status"] -= min(limited, mismatched["wrong_status"])
            mismatched = {kind: count for kind, count in mismatched.items() if count}
        turn = record.params.get("round", 0)
        if mismatched:
            print(
                f"warning: {record.labels['subject']} at N={record.labels['concurrency']}"
                f"{f' (round {turn + 1})' if turn else ''}: "
                f"replies unlike the upstream's: {mismatched}",
                file=sys.stderr,
            )
