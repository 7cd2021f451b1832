"""What a gateway did to the requests it passed on: model, endpoint, system text, parameters.

Pure: what the client asked (`Ask`) and the journal entries of the upstream calls made for its
requests (found through their markers, `harness.join`) in; a summary of the rewrites seen and
the findings they make out. A rewrite is not wrong in itself (a gateway may map model names or
add a system prompt); what a client would not expect is named: a model of another family than
the one asked for, chat messages flattened into one prompt, the client's system message gone.
Parameters the Models API ignores are named by `protocol.ignored_fields`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.findings.model import Entry, Finding, Severity, make_finding
from harness.findings.protocol import ignored_fields, setting_named

# Model families by a fragment of the name (lower-case), first match; the client's OpenAI-style
# name and the Models API name (`sfdc_ai__DefaultBedrockAnthropicClaude3Haiku`) both resolve.
_FAMILIES = (
    ("claude", "Claude"), ("anthropic", "Claude"), ("haiku", "Claude"), ("sonnet", "Claude"),
    ("opus", "Claude"), ("gemini", "Gemini"), ("vertex", "Gemini"), ("nova", "Nova"),
    ("llama", "Llama"), ("mistral", "Mistral"), ("embedding", "embeddings"), ("ada", "embeddings"),
    ("gpt", "GPT"), ("openai", "GPT"), ("o1", "GPT"), ("o3", "GPT"), ("o4", "GPT"),
)  # fmt: skip
# The Models API endpoint each OpenAI route naturally becomes.
NATURAL_ENDPOINTS = {
    "chat-completions": "chat-generations",
    "completions": "generations",
    "embeddings": "embeddings",
}
SAMPLE_CHARS = 120
REWRITE_FINDINGS = ("model_swapped", "endpoint_changed", "system_text_added",
                    "system_text_dropped", "ignored_fields")  # fmt: skip


@dataclass(frozen=True)
class Ask:
    """What the client asked of the gateway: the model name, the OpenAI route and the system
    text it sent (None: none)."""

    model: str
    endpoint: str = "chat-completions"
    system_text: str | None = None


def model_family(name: str) -> str | None:
    """`GPT`, `Claude`, `Gemini`, ... for a model name; None when it names no known family."""
    lowered = name.lower()
    return next((family for key, family in _FAMILIES if key in lowered), None)


def _per_request(entries: Iterable[Entry], field: str) -> Counter[str | None]:
    """How many client requests (markers) saw each value of `field` upstream."""
    seen: dict[str | None, set[str]] = defaultdict(set)
    for entry in entries:
        value = entry.get(field)
        for marker in entry.get("markers") or ():
            seen[None if value is None else str(value)].add(str(marker))
    return Counter({value: len(markers) for value, markers in seen.items()})


def model_map(entries: Sequence[Entry], ask: Ask) -> list[dict[str, Any]]:
    """The models the gateway sent the client's model to, with request counts and families."""
    asked_family = model_family(ask.model)
    rows = []
    for sent, requests in _per_request(entries, "model").most_common():
        sent_family = model_family(sent or "")
        swapped = None not in (asked_family, sent_family) and asked_family != sent_family
        rows.append({"asked": ask.model, "sent": sent, "requests": requests,
                     "asked_family": asked_family, "sent_family": sent_family,
                     "swapped": swapped})  # fmt: skip
    return rows


def endpoint_map(entries: Sequence[Entry], ask: Ask) -> list[dict[str, Any]]:
    """The Models endpoints the client's route became, with request counts."""
    natural = NATURAL_ENDPOINTS.get(ask.endpoint)
    return [
        {"asked": ask.endpoint, "sent": sent, "requests": n, "changed": sent != natural}
        for sent, n in _per_request(entries, "endpoint").most_common()
    ]


def system_texts(entries: Sequence[Entry], ask: Ask) -> list[dict[str, Any]]:
    """The system text of the chat calls (`as sent`, `added`, `replaced` or `dropped`)."""
    chats = [e for e in entries if e.get("endpoint") == "chat-generations"]
    rows = []
    for sent, n in _per_request(chats, "system_text").most_common():
        rows.append({"text": (sent or "")[:SAMPLE_CHARS], "requests": n,
                     "change": _system_change(ask.system_text, sent)})  # fmt: skip
    return rows


def _system_change(asked: str | None, sent: str | None) -> str:
    if sent == asked:
        return "as sent"
    if sent is None:
        return "dropped"
    return "added" if asked is None or asked in sent else "replaced"


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
    }


def grade_rewrites(entries: Sequence[Entry], ask: Ask) -> list[Finding]:
    """The findings the rewrites make, most severe first (empty when none)."""
    found = [
        _model_swapped(entries, ask),
        _endpoint_changed(entries, ask),
        *_system_findings(entries, ask),
        ignored_fields(entries),
    ]
    present = [f for f in found if f is not None]
    return sorted(present, key=lambda f: (-f.severity.rank, -f.count, f.name))


def _model_swapped(entries: Sequence[Entry], ask: Ask) -> Finding | None:
    swaps = {row["sent"]: row for row in model_map(entries, ask) if row["swapped"]}
    hits = [e for e in entries if str(e.get("model")) in swaps]
    named = ", ".join(f"{sent} ({row['sent_family']})" for sent, row in swaps.items())
    return make_finding(
        "model_swapped", Severity.WARN, hits,
        f"the client asked for {ask.model!r} ({model_family(ask.model)}); the gateway sent it to "
        f"{named}: another model family answers than the one asked for",
    )  # fmt: skip


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
    rows = system_texts(entries, ask)
    changed = {r["change"]: r for r in rows if r["change"] != "as sent"}
    chats = [e for e in entries if e.get("endpoint") == "chat-generations"]
    added = [e for e in chats if _system_change(ask.system_text, e.get("system_text"))
             in ("added", "replaced")]  # fmt: skip
    dropped = [e for e in chats if e.get("system_text") is None and ask.system_text]
    sample = next((r["text"] for c, r in changed.items() if c != "dropped"), "")
    return [
        make_finding("system_text_added", Severity.INFO, added,
                     f"the gateway sent system text the client did not: {sample!r}"),
        make_finding("system_text_dropped", Severity.WARN, dropped,
                     "the client's system message did not reach the upstream"),
    ]  # fmt: skip
