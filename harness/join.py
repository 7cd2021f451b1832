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
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.fidelity import Expected, ReplyFacts, ReplyOracle, UpstreamError, answered, judge
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


@dataclass(frozen=True)
class Joined:
    """A client request (its row) and the Models calls that carry its marker, in journal order."""

    row: Row
    calls: tuple[Entry, ...]


@dataclass(frozen=True)
class JoinResult:
    """Every row judged (`rows`, in the order given), the joined ones with their calls, and how
    many rows were judged on each basis."""

    rows: tuple[Row, ...]
    joined: tuple[Joined, ...]
    basis: Mapping[str, int]


def calls_by_marker(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """The Models calls of a journal, under each marker they carry."""
    found: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.get("endpoint") in MODELS_ENDPOINTS:
            for marker in entry.get("markers") or ():
                found[str(marker)].append(entry)
    return found


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


def judge_rows(
    rows: Sequence[Row], entries: Iterable[Entry] | None, oracle: ReplyOracle | None = None
) -> JoinResult:
    """Judge every row against what the upstream sent for it (the calls carrying its marker),
    else against the reply `oracle` predicts for its request; rows with neither are left as the
    child wrote them (unchecked). A row answered with another request's reply is `crossed`."""
    by_marker = calls_by_marker(entries or ())
    delivered = replies_by_digest(by_marker)
    judged: list[Row] = []
    joined: list[Joined] = []
    basis: Counter[str] = Counter(dict.fromkeys(BASES, 0))
    for row in rows:
        calls = tuple(by_marker.get(row.marker, ())) if row.marker else ()
        expected: Expected = upstream_expected(calls) if calls else predicted(row, oracle)
        if row.answer is None or expected is None:
            basis["unchecked"] += 1
            judged.append(row)
            continue
        # Random faults excuse an error status only where the journal cannot say what happened.
        allowed = row.errors_allowed and not calls
        kinds = judge(row.status, row.answer, expected, errors_allowed=allowed)
        kinds = crossed(row, kinds, delivered)
        row = replace(row, fidelity=kinds, ok=answered(row.status, kinds, row.error))
        basis["upstream" if calls else "predicted"] += 1
        judged.append(row)
        if calls:
            joined.append(Joined(row, calls))
    return JoinResult(tuple(judged), tuple(joined), dict(basis))
