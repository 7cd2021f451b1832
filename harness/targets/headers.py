"""Headers every client sfperf runs sends the target: a client credential, mostly.

A gateway that wants an API key answers 401 to everything without it. `--target-header
'Name: value'` (repeatable) names what to send; with no Authorization among them,
`OPENAI_API_KEY` (read by `harness.settings`) is sent as `Authorization: Bearer ...`, as the
OpenAI clients do. Values are secrets: records and messages name the headers, never the values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from harness.errors import UsageError

Headers = tuple[tuple[str, str], ...]
AUTHORIZATION = "Authorization"
API_KEY_VARIABLE = "OPENAI_API_KEY"
# How the load runner hands the headers to its locust children (JSON): an environment variable,
# not a command line that `ps` shows and the load record keeps.
HEADERS_VARIABLE = "SFPERF_TARGET_HEADERS"
# RFC 9110 token characters: what a header name may be made of.
_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CREDENTIAL_HINT = (
    "the target wants a client credential: pass --target-header 'Authorization: Bearer KEY' "
    f"(or set {API_KEY_VARIABLE})"
)
REFUSED_HINT = "the target refused the client credential sent ({names})"


def parse_header(text: str) -> tuple[str, str]:
    """`Name: value` -> (name, value); UsageError (the value never quoted) when malformed."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _NAME.match(name):
        raise UsageError(f"bad --target-header {name or text[:20]!r}: expected 'Name: value'")
    if not value or any(c in value for c in "\r\n"):
        raise UsageError(f"bad --target-header {name!r}: its value is empty or has a line break")
    return name, value


def target_headers(options: Sequence[str], api_key: str = "") -> Headers:
    """The headers to send: each `--target-header`, plus `Authorization: Bearer <api_key>`
    when an API key is set and no Authorization header was given."""
    headers = tuple(parse_header(option) for option in options)
    names = [name.lower() for name, _ in headers]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise UsageError(f"--target-header {', '.join(duplicates)} given more than once")
    if api_key and AUTHORIZATION.lower() not in names:
        headers += ((AUTHORIZATION, f"Bearer {api_key}"),)
    return headers


def header_names(headers: Headers) -> list[str]:
    """What may be shown of the headers: their names."""
    return [name for name, _ in headers]


def describe_headers(headers: Headers, options: Sequence[str]) -> str:
    """The start-up line: which headers go to the target and where they come from (no value)."""
    if not headers:
        return ""
    given = {parse_header(option)[0].lower() for option in options}
    names = [
        name if name.lower() in given else f"{name} (from {API_KEY_VARIABLE})"
        for name, _ in headers
    ]
    return f"sending the target {', '.join(names)} on every request (values not shown)"


def credential_hint(status: int, sent: Iterable[str] = ()) -> str:
    """What a 401/403 from the target means for the user, given the names of the headers
    `sent` (a header mapping will do); '' for any other status."""
    if status not in (401, 403):
        return ""
    names = list(sent)
    return REFUSED_HINT.format(names=", ".join(names)) if names else CREDENTIAL_HINT
