"""The join: each client request of a load run with the upstream calls a gateway made for it.

Every prompt a load user sends carries a marker (`mock_salesforce.markers`), and the mock's
journal lists the markers in each request it saw. So each row of a load run finds the Models
calls the gateway made for it (its retries included), whatever the gateway did to the request on
the way, and its answer is judged against what the upstream really sent. A row no journaled call
carries (no journal, a ring that lost it, a gateway that never called) is judged against the
reply predicted from its request as sent, when the mock's settings are known; the result counts
how many rows were judged which way (`basis`).

A wrong answer whose text is a reply the upstream gave ANOTHER request (a call carrying other
markers) is `crossed`: the client got someone else's answer, whatever the gateway did to the
request. Replies of the seeded mock differ per prompt, so an equal digest is no coincidence.

A row that made no upstream call of its own but got a reply the upstream delivered to an earlier
request (in this window or an earlier one on the same target: `ReplyMemory`) was answered from a
reply cache. When that request's prompt was the row's own (markers aside) it is a cache hit, ok;
when it was another prompt, the row is `crossed` all the same (the client got the answer to
another question), and counted as answered without a call so the report can tell a cache keyed
on less than the prompt from a race between concurrent requests.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.fidelity import Expected, ReplyFacts, ReplyOracle, UpstreamError, answered, judge
from harness.findings.mock_faults import met_fault
from harness.runners.support.loadrows import Row

Entry = Mapping[str, Any]
Delivered = tuple[frozenset[str], ReplyFacts]
"""The markers of the calls that delivered a reply, and its facts."""
MODELS_ENDPOINTS = frozenset({"generations", "chat-generations", "embeddings"})
# Faults after which the client had no usable answer, whatever status the mock logged.
BROKEN_FAULTS = frozenset({"reset", "empty", "hang", "truncated", "malformed"})
# How a row was judged: against the upstream's reply (joined), against the reply predicted from
# the client's request (no journal, or no call carried its marker), or not at all (no mock).
BASES = ("upstream", "predicted", "unchecked")
# How a row with no upstream call of its own got the upstream's words (`JoinResult.reuse`):
# the reply to an earlier request with the same prompt (a cache hit), or with another prompt.
CACHE_HIT, OTHER_PROMPT = "cache_hit", "other_prompt"
_MARKERS = re.compile(r"sfpm[0-9a-f]{16}(?![0-9a-f])", re.IGNORECASE)


@dataclass(frozen=True)
class Joined:
    """A client request (its row) and the Models calls that carry its marker, in journal order."""

    row: Row
    calls: tuple[Entry, ...]


@dataclass(frozen=True)
class JoinResult:
    """Every row judged (`rows`, in the order given), the joined ones with their calls, how
    many rows were judged on each basis, and per row how a reply came without an upstream call
    of its own (`reuse`: `CACHE_HIT`, `OTHER_PROMPT`, or "")."""

    rows: tuple[Row, ...]
    joined: tuple[Joined, ...]
    basis: Mapping[str, int]
    reuse: tuple[str, ...] = ()


@dataclass
class ReplyMemory:
    """What the windows joined so far on one target showed: every reply the upstream delivered
    whole (digest -> markers, facts) and every client prompt (marker -> its text without
    markers). A reply cache outlives a window, so its hits are found in earlier ones."""

    delivered: dict[str, Delivered] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)

    def merged(self, rows: Sequence[Row], delivered: Mapping[str, Delivered]) -> ReplyMemory:
        """This memory and what `rows` and `delivered` add (a new memory, this one unchanged)."""
        merged = dict(self.delivered)
        for digest, (markers, facts) in delivered.items():
            merged[digest] = (merged.get(digest, (frozenset(), facts))[0] | markers, facts)
        prompts = self.prompts | {r.marker: prompt_of(r) for r in rows if r.marker}
        return ReplyMemory(merged, prompts)

    def remember(self, rows: Sequence[Row], entries: Iterable[Entry] | None) -> None:
        """Add the rows and journal of a window just joined."""
        merged = self.merged(rows, replies_by_digest(calls_by_marker(entries or ())))
        self.delivered, self.prompts = merged.delivered, merged.prompts


def prompt_of(row: Row) -> str:
    """The texts of the row's request as sent, markers removed ("" when it cannot be read)."""
    try:
        request = json.loads(row.request) if row.request else None
    except ValueError:
        return ""
    if not isinstance(request, dict):
        return ""
    messages = request.get("messages")
    texts = ([str(m.get("content")) for m in messages if isinstance(m, dict)]
             if isinstance(messages, list) else [str(request.get("prompt", ""))])  # fmt: skip
    return _MARKERS.sub("", "\n".join(texts))


def calls_by_marker(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """The Models calls of a journal, under each marker they carry."""
    found: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.get("endpoint") in MODELS_ENDPOINTS:
            for marker in entry.get("markers") or ():
                found[str(marker)].append(entry)
    return found


def met_fault_flags(rows: Sequence[Row], entries: Iterable[Entry] | None) -> list[bool]:
    """Per row: whether one of its upstream calls (by marker) met a fault the mock injected
    (`mock_faults.met_fault`): what the client got for it is the mock's doing first."""
    by_marker = calls_by_marker(entries or ())
    return [any(map(met_fault, by_marker.get(row.marker, ()))) if row.marker else False
            for row in rows]  # fmt: skip


def reply_facts(entry: Entry) -> ReplyFacts | None:
    """The reply a journaled call delivered whole (None when it delivered none)."""
    digest, prompt, completion = (
        entry.get("reply_sha256"),
        entry.get("prompt_tokens"),
        entry.get("completion_tokens"),
    )
    if digest is None or not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return ReplyFacts(str(digest), str(entry.get("finish_reason") or ""), prompt, completion)


def upstream_expected(calls: Sequence[Entry]) -> Expected:
    """What a faithful gateway relays for these calls: any reply one of them delivered, or else
    the error the last one ended with (status 0: no usable answer)."""
    replies = tuple(facts for facts in map(reply_facts, calls) if facts is not None)
    if replies:
        return replies
    last = calls[-1]
    broken = last.get("fault") in BROKEN_FAULTS or last.get("disconnected")
    return UpstreamError(0 if broken else int(last.get("status") or 0))


def replies_by_digest(by_marker: Mapping[str, Sequence[Entry]]) -> dict[str, Delivered]:
    """Each reply text the upstream delivered whole (its digest), with the markers of the calls
    that delivered it and its facts."""
    found: dict[str, Delivered] = {}
    for marker, calls in by_marker.items():
        for facts in filter(None, map(reply_facts, calls)):
            markers, _ = found.get(facts.text_sha256, (frozenset(), facts))
            found[facts.text_sha256] = (markers | {marker}, facts)
    return found


def crossed(
    row: Row, kinds: tuple[str, ...], delivered: Mapping[str, Delivered]
) -> tuple[str, ...]:
    """`kinds`, with `wrong_content` become `crossed` when the row's text is a reply the
    upstream delivered for other requests only (its usage then judged against that reply)."""
    if "wrong_content" not in kinds or row.answer is None:
        return kinds
    markers, facts = delivered.get(row.answer.text_sha256, (frozenset(), None))
    if facts is None or row.marker in markers:
        return kinds  # its own reply (a wrong finish reason), or no one's
    usage = judge(row.status, row.answer, facts)
    return ("crossed", *(kind for kind in usage if kind == "usage_mismatch"))


def predicted(row: Row, oracle: ReplyOracle | None) -> ReplyFacts | None:
    """The reply the mock gives the row's request as sent (None: no oracle, or no request)."""
    if oracle is None or not row.request:
        return None
    try:
        request = json.loads(row.request)
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    reply = oracle.chat(request) if "messages" in request else oracle.completion(request)
    return ReplyFacts.predicted(reply)


def user_text_changed(joined: Iterable[Joined], oracle: ReplyOracle | None) -> list[Entry]:
    """The chat calls whose reply is not the one the mock gives the client's request as sent:
    the mock keys a chat reply on the last user message, so that message reached the upstream
    changed (R77: UTF-8 mangled on its way up). Flattened calls (generations) are not judged."""
    changed: list[Entry] = []
    for item in joined:
        chat = [c for c in item.calls if c.get("endpoint") == "chat-generations"]
        replied = [c for c in chat if c.get("reply_sha256")]
        expected = predicted(item.row, oracle) if replied else None
        if expected is not None:
            changed += [c for c in replied if c["reply_sha256"] != expected.text_sha256]
    return changed


def reused(
    row: Row, memory: ReplyMemory, oracle: ReplyOracle | None = None
) -> tuple[tuple[str, ...], str] | None:
    """For a 200 row with no upstream call of its own whose text the upstream delivered to
    another request: its kinds and how its reply came. The same prompt is a cache hit (judged
    against that reply), another prompt is `crossed`, unless the text is also the reply the
    mock gives the row's own request (`oracle`). None for any other row."""
    if row.status != 200 or row.answer is None:
        return None
    markers, facts = memory.delivered.get(row.answer.text_sha256, (frozenset(), None))
    if facts is None or row.marker in markers:
        return None
    kinds = judge(row.status, row.answer, facts)
    prompt = memory.prompts.get(row.marker) or prompt_of(row)
    if prompt and any(memory.prompts.get(m) == prompt for m in markers):
        return kinds, CACHE_HIT
    if is_own_reply(row, oracle):
        # Two prompts can share a reply text (the mock cuts every reply from one 65,536-word
        # stream): a row whose call the journal lost (it keeps 10,000 entries) is its own.
        return None
    return ("crossed", *(kind for kind in kinds if kind == "usage_mismatch")), OTHER_PROMPT


def is_own_reply(row: Row, oracle: ReplyOracle | None) -> bool:
    """Whether the row's text is the reply the mock gives its own request (False: another,
    or no oracle to ask)."""
    expected = predicted(row, oracle)
    return (
        expected is not None and row.answer is not None
        and expected.text_sha256 == row.answer.text_sha256
    )  # fmt: skip


def judge_rows(
    rows: Sequence[Row],
    entries: Iterable[Entry] | None,
    oracle: ReplyOracle | None = None,
    earlier: ReplyMemory | None = None,
) -> JoinResult:
    """Judge every row against what the upstream sent for it (the calls carrying its marker),
    else against the reply `oracle` predicts for its request; rows with neither are left as the
    child wrote them (unchecked). A row answered with another request's reply is `crossed`, or,
    having made no call, a cache hit when that request had its prompt (`earlier`: the replies
    and prompts of the target's earlier windows)."""
    by_marker = calls_by_marker(entries or ())
    delivered = replies_by_digest(by_marker)
    memory = (earlier or ReplyMemory()).merged(rows, delivered)
    judged: list[Row] = []
    joined: list[Joined] = []
    reuse: list[str] = []
    basis: Counter[str] = Counter(dict.fromkeys(BASES, 0))
    for row in rows:
        calls = tuple(by_marker.get(row.marker, ())) if row.marker else ()
        found = None if calls else reused(row, memory, oracle)
        kinds: tuple[str, ...] | None
        if found is not None:  # no call of its own, another request's reply: judged on it
            (kinds, how), base = found, "upstream"
        else:
            kinds, how, base = judged_alone(row, calls, delivered, oracle), "", "predicted"
        if kinds is None:
            basis["unchecked"] += 1
            judged.append(row)
            reuse.append("")
            continue
        row = replace(row, fidelity=kinds, ok=answered(row.status, kinds, row.error))
        basis["upstream" if calls else base] += 1
        judged.append(row)
        reuse.append(how)
        if calls:
            joined.append(Joined(row, calls))
    return JoinResult(tuple(judged), tuple(joined), dict(basis), tuple(reuse))


def judged_alone(
    row: Row,
    calls: Sequence[Entry],
    delivered: Mapping[str, Delivered],
    oracle: ReplyOracle | None,
) -> tuple[str, ...] | None:
    """The row's kinds against its own calls' replies, else the reply predicted for it (None:
    neither is known, or it has no answer to judge)."""
    expected: Expected = upstream_expected(calls) if calls else predicted(row, oracle)
    if row.answer is None or expected is None:
        return None
    # Random faults excuse an error status only where the journal cannot say what happened.
    allowed = row.errors_allowed and not calls
    kinds = judge(row.status, row.answer, expected, errors_allowed=allowed)
    return crossed(row, kinds, delivered)
