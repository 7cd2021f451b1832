"""What a gateway did to the requests it passed on: model, endpoint, system text, parameters,
and how many upstream calls it made for each.

Pure: what the client asked (`Ask`) and the journal entries of the upstream calls made for its
requests (found through their markers, `harness.join`) in; a summary of the rewrites seen and
the findings they make out. A rewrite is not wrong in itself (a gateway may map model names or
add a system prompt); what a client would not expect is named: a model of another family than
the one asked for, or a smaller, older (or larger, newer) one than its name says (`gpt-4o` sent
as GPT-4o mini: a silent downgrade, `model_names`), another model than the Models API name the
client gave,
chat messages flattened into one prompt, the client's system message gone, the client's last
user message changed on its way (`changed`: the calls whose reply is not the one to the client's
own text, which only the join can tell: its UTF-8 read as latin-1 or cut, its words rewritten),
more than one upstream call for a request whose first call was answered (cost and quota paid
twice, and the client waits for both). Parameters the Models API ignores are named by
`protocol.ignored_fields`.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.findings.calls import ORDER_SLACK_S, Attempt, to_attempt
from harness.findings.model import Entry, Finding, Severity, make_finding
from harness.findings.model_names import model_change, model_family
from harness.findings.protocol import ignored_fields, setting_named

# Salesforce's own Models API names (`sfdc_ai__DefaultGPT4Omni`): a client that gives one means
# exactly that model, where a gateway's own alias (`gpt-4o`) may stand for any of a family.
API_NAME_PREFIX = "sfdc_ai__"
# The Models API endpoint each OpenAI route naturally becomes.
NATURAL_ENDPOINTS = {
    "chat-completions": "chat-generations",
    "completions": "generations",
    "embeddings": "embeddings",
}
SAMPLE_CHARS = 120
# Set by the join on a chat call that carried no system message although every text of the
# client's request, its system message's included, went up in order (R122).
ROLE_LOST = "system_role_lost"
# ...on a chat call that sent the client's messages twice (every one, or the history) (R136).
DUPLICATED = "messages_duplicated"
NOT_SEPARABLE = "not separable"  # a flattened prompt whose start the journal does not show
# A role label a flattened prompt ends its gateway-added part with ("System: ", "### User:").
_ROLE_LABEL = re.compile(
    r"(?:^|\n)[\s#*<\[(|]*(?:system|user|human|assistant)\b[\s|>\])]*:?\s*\Z", re.IGNORECASE
)
# `other_upstream_calls` is graded on the window's whole journal (`routes`), the rest here.
REWRITE_FINDINGS = ("model_swapped", "endpoint_changed", "system_text_added",
                    "system_text_dropped", "system_role_lost", "messages_duplicated",
                    "user_text_changed", "ignored_fields", "extra_upstream_calls",
                    "other_upstream_calls")  # fmt: skip


@dataclass(frozen=True)
class Ask:
    """What the client asked of the gateway: the model name, the OpenAI route and the system
    text it sent (None: none); `stands_for`: the Models API model the gateway's own
    `GET /v1/models` says that name stands for (None: it does not say)."""

    model: str
    endpoint: str = "chat-completions"
    system_text: str | None = None
    stands_for: str | None = None

    @property
    def exact_model(self) -> str | None:
        """The one Models API model the client's name means, when it means exactly one."""
        return self.model if self.model.startswith(API_NAME_PREFIX) else self.stands_for


def _per_request(entries: Iterable[Entry], field: str) -> Counter[str | None]:
    """How many client requests (markers) saw each value of `field` upstream."""
    seen: dict[str | None, set[str]] = defaultdict(set)
    for entry in entries:
        value = entry.get(field)
        for marker in entry.get("markers") or ():
            seen[None if value is None else str(value)].add(str(marker))
    return Counter({value: len(markers) for value, markers in seen.items()})


def model_map(entries: Sequence[Entry], ask: Ask) -> list[dict[str, Any]]:
    """The models the gateway sent the client's model to, with request counts and families;
    `change`: how the sent model differs from the one the client's name says (another family,
    a smaller or older one: `model_names.model_change`; `not as named`: another model than the
    exact one named), None when it does not; `swapped`: it does."""
    rows = []
    for sent, requests in _per_request(entries, "model").most_common():
        change = model_change(ask.model, sent or "")
        if change is None and not_as_named(ask, sent):
            change = "not as named"
        rows.append({"asked": ask.model, "sent": sent, "requests": requests,
                     "asked_family": model_family(ask.model),
                     "sent_family": model_family(sent or ""), "change": change,
                     "swapped": change is not None})  # fmt: skip
    return rows


def not_as_named(ask: Ask, sent: str | None) -> bool:
    """The client's name means exactly one Models API model, and another one was sent."""
    exact = ask.exact_model
    return exact is not None and sent is not None and sent != exact


def endpoint_map(entries: Sequence[Entry], ask: Ask) -> list[dict[str, Any]]:
    """The Models endpoints the client's route became, with request counts."""
    natural = NATURAL_ENDPOINTS.get(ask.endpoint)
    return [
        {"asked": ask.endpoint, "sent": sent, "requests": n, "changed": sent != natural}
        for sent, n in _per_request(entries, "endpoint").most_common()
    ]


def system_texts(entries: Sequence[Entry], ask: Ask) -> list[dict[str, Any]]:
    """The system text the calls carried (`as sent`, `added`, `replaced`, `dropped`; `not
    separable` for a flattened prompt whose start the journal does not show), per request."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in entries:
        sent = sent_system(entry, ask)
        if sent is not None:
            for marker in entry.get("markers") or ():
                seen[(sent[0] or "")[:SAMPLE_CHARS], sent[1]].add(str(marker))
    ranked = sorted(seen.items(), key=lambda item: -len(item[1]))
    return [{"text": text, "requests": len(markers), "change": change}
            for (text, change), markers in ranked]  # fmt: skip


def sent_system(entry: Entry, ask: Ask) -> tuple[str | None, str] | None:
    """The system text one call carried and what became of the client's: a chat call's system
    messages, or what a prompt flattened from the client's chat holds before the client's own
    text; None for a call that can carry none (another endpoint, a client that sent no chat)."""
    endpoint = entry.get("endpoint")
    if endpoint == "chat-generations":
        sent = entry.get("system_text")
        if entry.get(DUPLICATED):  # `messages_duplicated` names it
            return ask.system_text, "sent twice"
        if sent is None and entry.get(ROLE_LOST):
            return ask.system_text, "sent as a user message"
        return sent, _system_change(ask.system_text, sent)
    if endpoint != "generations" or ask.endpoint != "chat-completions":
        return None
    markers = [str(m) for m in entry.get("markers") or ()]
    return flattened_system(entry.get("prompt_head"), markers, ask.system_text)


def _system_change(asked: str | None, sent: str | None) -> str:
    if sent == asked:
        return "as sent"
    if sent is None:
        return "dropped"
    return "added" if asked is None or asked in sent else "replaced"


def flattened_system(
    head: object, markers: Sequence[str], asked: str | None
) -> tuple[str | None, str]:
    """In the start of a prompt flattened from the client's chat (`head`), the text before the
    client's own (its system text, else the line holding its marker) is what the gateway added;
    the client's system text is kept when it is still there."""
    found = [head.find(m) for m in markers] if isinstance(head, str) else []
    at = min((i for i in found if i >= 0), default=-1)
    if not isinstance(head, str) or at < 0:
        return None, NOT_SEPARABLE
    start = head.rfind("\n", 0, at) + 1  # the line that holds the client's request
    own = head.find(asked.strip().split("\n")[0]) if asked and asked.strip() else -1
    start = own if 0 <= own < start else start
    added = _ROLE_LABEL.sub("", head[:start]).strip()
    kept = asked is None or own >= 0
    if added:
        return added, "added" if kept else "replaced"
    return (asked, "as sent") if kept else (None, "dropped")


def parameters(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Fields the Models API ignores, per request count, with the setting each seems to mean."""
    counts = Counter(str(f) for e in entries for f in e.get("extra_fields") or ())
    return [{"field": f, "requests": n, "means": setting_named(f)} for f, n in counts.most_common()]


def rewrite_summary(entries: Sequence[Entry], ask: Ask) -> dict[str, Any]:
    """Everything the gateway did to the requests, for the report."""
    return {
        "asked": {"model": ask.model, "endpoint": ask.endpoint, "system_text": ask.system_text},
        "requests": len({str(m) for e in entries for m in e.get("markers") or ()}),
        "calls": len(entries),
        "models": model_map(entries, ask),
        "endpoints": endpoint_map(entries, ask),
        "system_text": system_texts(entries, ask),
        "parameters": parameters(entries),
        "several_calls": several_calls(entries),
    }


def grade_rewrites(
    entries: Sequence[Entry], ask: Ask, changed: Sequence[Entry] = ()
) -> list[Finding]:
    """The findings the rewrites make, most severe first (empty when none); `changed`: the calls
    that carried a client's last user message changed (`harness.join.user_text_changed`)."""
    found = [
        _model_swapped(entries, ask),
        _endpoint_changed(entries, ask),
        *_system_findings(entries, ask),
        _user_text_changed(changed),
        ignored_fields(entries),
        _extra_upstream_calls(entries),
    ]
    present = [f for f in found if f is not None]
    return sorted(present, key=lambda f: (-f.severity.rank, -f.count, f.name))


def _model_swapped(entries: Sequence[Entry], ask: Ask) -> Finding | None:
    swaps = {row["sent"]: row for row in model_map(entries, ask) if row["swapped"]}
    hits = [e for e in entries if str(e.get("model")) in swaps]
    # No request counts in the words: the findings of several windows are merged, their counts
    # summed and the first window's words kept.
    named = "; ".join(f"{sent} ({_swap_said(row)})" for sent, row in swaps.items())
    listed = f", which its /v1/models says is {ask.stands_for}" if ask.stands_for else ""
    return make_finding(
        "model_swapped", Severity.WARN, hits,
        f"the client asked for {ask.model!r} ({model_family(ask.model)}){listed}; the gateway "
        f"sent it to {named}: its clients are answered by another model than the one they "
        "asked for",
    )  # fmt: skip


def _swap_said(row: Mapping[str, Any]) -> str:
    """What the model sent is, against what the client's name says."""
    change = row["change"]
    if change == "another family":
        return f"another model family: {row['sent_family']}"
    if change == "not as named":
        return "another model of the same family than the one named: a silent swap"
    downgrade = ": a silent downgrade" if "smaller" in change or "older" in change else ""
    return f"{change} of the {row['sent_family']} family than the name says{downgrade}"


def _endpoint_changed(entries: Sequence[Entry], ask: Ask) -> Finding | None:
    changed = {row["sent"] for row in endpoint_map(entries, ask) if row["changed"]}
    hits = [e for e in entries if e.get("endpoint") in changed]
    flattened = ask.endpoint == "chat-completions" and "generations" in changed
    why = ": the messages were flattened into one prompt, roles lost" if flattened else ""
    return make_finding(
        "endpoint_changed", Severity.WARN, hits,
        f"{ask.endpoint} requests went upstream as {', '.join(sorted(changed))}{why}",
    )  # fmt: skip


def _system_findings(entries: Sequence[Entry], ask: Ask) -> list[Finding | None]:
    changes = [(e, sent_system(e, ask)) for e in entries]
    added = [(e, sent[0]) for e, sent in changes if sent and sent[1] in ("added", "replaced")]
    dropped = [e for e, sent in changes if sent and sent[1] == "dropped"]
    demoted = [e for e, sent in changes if sent and sent[1] == "sent as a user message"]
    sample = (added[0][1] or "")[:SAMPLE_CHARS] if added else ""
    return [
        make_finding("system_text_added", Severity.INFO, [e for e, _ in added],
                     f"the gateway sent system text the client did not: {sample!r}"),
        make_finding("system_text_dropped", Severity.WARN, dropped,
                     "the client's system message did not reach the upstream"),
        make_finding("messages_duplicated", Severity.WARN,
                     [e for e, _ in changes if e.get(DUPLICATED)],
                     "the client's messages went upstream twice (every one, or its history "
                     "again before the last message): the Models API bills their prompt tokens "
                     "again on every call, and the model reads the conversation doubled"),
        make_finding("system_role_lost", Severity.WARN, demoted,
                     "the client's system message reached the upstream as a user message: every "
                     "text as sent, its role lost, so the model reads the instructions as the "
                     "user's own words"),
    ]  # fmt: skip


def _user_text_changed(changed: Sequence[Entry]) -> Finding | None:
    requests = len({str(m) for e in changed for m in e.get("markers") or ()})
    return make_finding(
        "user_text_changed", Severity.WARN, changed,
        f"for {requests} requests the upstream answered another text than the client's last user "
        "message: it reached the upstream changed (its UTF-8 read as latin-1, cut or escaped "
        "twice, or its words rewritten)",
    )  # fmt: skip


def _attempts_by_request(entries: Iterable[Entry]) -> dict[str, list[Attempt]]:
    """Each client request's (marker's) upstream calls, in the order they started."""
    found: dict[str, list[Attempt]] = defaultdict(list)
    for entry in entries:
        for marker in entry.get("markers") or ():
            found[str(marker)].append(to_attempt(entry))
    return {marker: sorted(calls, key=lambda a: a.t_s) for marker, calls in found.items()}


def extra_calls(attempts: Sequence[Attempt]) -> list[Attempt]:
    """The calls of one request that no failure explains: each after the first whose previous
    call had not failed, or had not been answered yet when it started (a retry follows a failed
    call it has seen; a duplicate, a pre-check or a hedge does not). A call the client left (its
    timeout) is seen by the mock up to a poll later, so a retry may start before it ends."""
    return [nxt for prev, nxt in itertools.pairwise(attempts) if not _retried(prev, nxt)]


def _retried(prev: Attempt, nxt: Attempt) -> bool:
    seen = prev.end_s - ORDER_SLACK_S <= nxt.t_s or bool(prev.entry.get("disconnected"))
    return prev.failed and seen


def several_calls(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """The client requests that made more than one upstream call, grouped by the endpoints they
    called in order: `calls` per request, `extra` of them no failure explains, `requests`."""
    groups: Counter[tuple[str, int, int]] = Counter()
    for attempts in _attempts_by_request(entries).values():
        if len(attempts) > 1:
            endpoints = ", ".join(str(a.entry.get("endpoint")) for a in attempts)
            groups[(endpoints, len(attempts), len(extra_calls(attempts)))] += 1
    return [{"endpoints": endpoints, "calls": calls, "extra": extra, "requests": n}
            for (endpoints, calls, extra), n in groups.most_common()]  # fmt: skip


def _extra_upstream_calls(entries: Sequence[Entry]) -> Finding | None:
    by_request = {m: extra_calls(a) for m, a in _attempts_by_request(entries).items()}
    extra = [calls for calls in by_request.values() if calls]
    if not extra:
        return None
    # A call made for several requests at once (a batch) is one call.
    hits = {id(a.entry): a.entry for calls in extra for a in calls}
    common = next(r for r in several_calls(entries) if r["extra"])
    # No count of requests in the words: the findings of several windows are merged, their
    # counts (of extra calls) summed and the first window's words kept.
    each = "each" if common["requests"] == len(extra) else "most often"
    pattern = f"{each} {common['calls']} calls: {common['endpoints']}"
    extra_ms = statistics.median(sum(a.end_s - a.t_s for a in calls) * 1000 for calls in extra)
    return make_finding(
        "extra_upstream_calls", Severity.WARN, hits.values(),
        "client requests made more than one upstream call although none had failed "
        f"({pattern}; counted: the extra calls): the Models API's cost and quota paid again, and "
        f"{extra_ms:,.0f} ms more of the upstream's time per request (median), which the client "
        "waits for when the calls run one after the other. The added latency counts the "
        "upstream's whole time on a request, these calls' included",
    )  # fmt: skip
