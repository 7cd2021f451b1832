"""Grade a target from the mock's journal: every rule over the entries, then one RunRecord.

`grade_journal` is pure (a list of journal entries in, findings out) so `sfperf verdict`,
`sfperf validate` and tests share it; `findings_record` turns findings into the record that claims,
the gate and reports read (runner `verdict`, scenario `findings`, series `finding:<name>`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from harness.findings import auth, protocol, retries
from harness.findings.calls import group_calls
from harness.findings.model import MAX_EXAMPLES, Entry, Finding, GradingPolicy, Severity
from harness.records import Environment, RunRecord, capture_environment, make_series

# Every finding a grading can produce; the record carries a (possibly zero) count for each, so a
# claim or gate rule on `finding:<name>` always finds its series.
FINDING_NAMES = (
    "retry_after_ignored", "retried_non_retryable", "retry_storm", "no_backoff", "gave_up",
    "passed_on_retryable", "hang_no_timeout", "token_rate", "token_per_request",
    "tokens_per_process", "token_timer", "expired_token",
    "unknown_token", "missing_token", "refresh_stampede", "bad_app_context", "bad_feature_id",
    "unknown_model", "ignored_fields", "no_connection_reuse",
)  # fmt: skip


# What a load window is graded on (`verdict/retries`): how the target retries and backs off,
# whether it fetches a token per request (R129) or more than its processes need (a window's
# tokens live long enough to tell), whether it reuses its connections, and what it puts in its
# Models requests' headers and model names (R97: once judged on the resilience journal alone).
# Its tokens are counted by the window's card record, its request fields by `verdict/rewrites`.
WINDOW_RULES = (auth.token_per_request, auth.tokens_per_process, auth.token_timer,
                protocol.no_connection_reuse, *protocol.HEADER_RULES)  # fmt: skip
RETRY_FINDINGS = tuple(rule.__name__ for rule in (*retries.RULES, *WINDOW_RULES))


def grade_journal(entries: Iterable[Entry], policy: GradingPolicy | None = None) -> list[Finding]:
    """The findings `entries` show, most severe first (empty when the target is clean)."""
    policy = policy or GradingPolicy()
    listed: Sequence[Entry] = list(entries)
    found: list[Finding | None] = [*grade_retries(listed, policy)]
    found += [rule(listed, policy) for rule in (*auth.RULES, *protocol.RULES)]
    return most_severe_first(found)


def grade_retries(entries: Iterable[Entry], policy: GradingPolicy | None = None) -> list[Finding]:
    """The retry and backoff findings alone (`retries.RULES`), most severe first."""
    policy = policy or GradingPolicy()
    calls = group_calls(list(entries), policy.retry_window_s)
    return most_severe_first([rule(calls, policy) for rule in retries.RULES])


def grade_window(entries: Iterable[Entry], policy: GradingPolicy | None = None) -> list[Finding]:
    """What a load window is graded on (`RETRY_FINDINGS`), most severe first."""
    policy = policy or GradingPolicy()
    listed: Sequence[Entry] = list(entries)
    found = [*grade_retries(listed, policy), *(rule(listed, policy) for rule in WINDOW_RULES)]
    return most_severe_first(found)


# Tokens a target sent that the upstream refused: what a window's journal shows of its token
# handling whatever its length (the habits, such as refreshing per request, need a longer run).
TOKEN_SEND_RULES = (auth.expired_token, auth.unknown_token, auth.missing_token)


def grade_token_sends(
    entries: Iterable[Entry], policy: GradingPolicy | None = None
) -> list[Finding]:
    """The expired, unknown and missing token sends `entries` show, most severe first."""
    policy = policy or GradingPolicy()
    listed: Sequence[Entry] = list(entries)
    return most_severe_first([rule(listed, policy) for rule in TOKEN_SEND_RULES])


def most_severe_first(found: Iterable[Finding | None]) -> list[Finding]:
    """The findings present, most severe first, then the most frequent."""
    present = [f for f in found if f is not None]
    return sorted(present, key=lambda f: (-f.severity.rank, -f.count, f.name))


def findings_record(
    findings: Sequence[Finding],
    target: str,
    *,
    params: Mapping[str, Any] | None = None,
    environment: Environment | None = None,
    started_at: str = "",
    duration_s: float = 0.0,
    partial: bool = False,
    artifacts: Sequence[str] = (),
    scenario: str = "findings",
    names: Sequence[str] = FINDING_NAMES,
    labels: Mapping[str, str] | None = None,
) -> RunRecord:
    """A `verdict` RunRecord: a count series per finding of `names` (zero when absent), details
    in params. `scenario` says what was graded: `findings` (the journal's rules) or `rewrites`
    (what a gateway did to a load run's requests, `harness.findings.rewrites`)."""
    counts = {name: 0 for name in names} | {f.name: f.count for f in findings}
    return RunRecord(
        runner="verdict",
        scenario=scenario,
        params={**(params or {}), "findings": [f.as_dict() for f in findings]},
        environment=environment or capture_environment(),
        series=tuple(make_series(f"finding:{n}", "count", [c]) for n, c in counts.items()),
        labels={"target": target, **(labels or {})},
        artifacts=tuple(artifacts),
        started_at=started_at,
        duration_s=duration_s,
        partial=partial,
    )


def findings_from_record(record: RunRecord) -> list[Finding]:
    """The findings a `verdict` record holds (what reports render)."""
    return [Finding.from_dict(item) for item in record.params.get("findings", [])]


def graded_window(record: RunRecord) -> str:
    """What a `verdict` record graded: its `window` label (a load window, `resilience`), else
    its scenario (records saved before verdicts carried one)."""
    return record.labels.get("window") or record.scenario


def findings_of(records: Iterable[RunRecord]) -> list[Finding]:
    """The findings of every `verdict` record among `records`, one per name and severity (the
    rewrites of each load window name the same ones: counts add up, examples are pooled, the
    windows each was seen in listed, and a sentence whose figures differ between them says
    whose they are: R128), most severe first."""
    merged: dict[tuple[str, Severity], Finding] = {}
    said: dict[tuple[str, Severity], set[str]] = {}
    for record in (r for r in records if r.runner == "verdict"):
        window = graded_window(record)
        for found in findings_from_record(record):
            key = (found.name, found.severity)
            said.setdefault(key, set()).add(found.explanation)
            kept = merged.get(key)
            if kept is None:
                merged[key] = replace(found, windows=(window,))
                continue
            examples = (*kept.examples, *found.examples)[:MAX_EXAMPLES]
            windows = tuple(dict.fromkeys((*kept.windows, window)))
            merged[key] = replace(kept, count=kept.count + found.count, examples=examples,
                                  windows=windows)  # fmt: skip
    found_all = [_whose_figures(f) if len(said[k]) > 1 else f for k, f in merged.items()]
    return sorted(found_all, key=lambda f: (-f.severity.rank, -f.count, f.name))


def _whose_figures(finding: Finding) -> Finding:
    """A merged finding whose windows said it with different figures: its sentence is the first
    window's, and says so beside the count that adds them all."""
    first, windows = finding.windows[0], len(finding.windows)
    which = "both windows" if windows == 2 else f"all {windows} windows"
    note = f" (its figures are {first}'s; the count, {finding.count}, adds up {which})"
    return replace(finding, explanation=finding.explanation.rstrip(".") + note)
