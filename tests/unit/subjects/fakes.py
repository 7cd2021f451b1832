"""A fake aiohttp session: scripted upstream replies per URL, every request recorded.

(aioresponses does not work with the installed aiohttp, and a fake session is one small class.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from multidict import CIMultiDict

from harness.subjects.token_providers import TokenCounters, TokenFetchError, TokenGrant

BASE = "http://sf.test"


@dataclass
class Scripted:
    status: int = 200
    payload: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    exception: BaseException | None = None


@dataclass
class SentRequest:
    url: str
    headers: Mapping[str, str]
    data: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class FakeResponse:
    def __init__(self, reply: Scripted) -> None:
        self.status = reply.status
        self.headers = CIMultiDict(reply.headers)
        self._body = reply.body if reply.body is not None else json.dumps(reply.payload).encode()

    async def read(self) -> bytes:
        return self._body

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Pending:
    def __init__(self, reply: Scripted) -> None:
        self.reply = reply

    async def __aenter__(self) -> FakeResponse:
        if self.reply.exception is not None:
            raise self.reply.exception
        return FakeResponse(self.reply)

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakeUpstream:
    """Replies are consumed in order per URL; the last one repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Scripted]] = {}
        self.sent: list[SentRequest] = []
        self.sessions = 0

    def add(self, url: str, **reply: Any) -> None:
        self.routes.setdefault(url, []).append(Scripted(**reply))

    def session(self) -> FakeSession:
        self.sessions += 1
        return FakeSession(self)

    def next_reply(self, url: str) -> Scripted:
        queue = self.routes[url]
        return queue.pop(0) if len(queue) > 1 else queue[0]


class FakeSession:
    closed = False

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream

    def post(self, url: str, *, data: bytes, headers: Mapping[str, str], timeout: Any) -> _Pending:
        self.upstream.sent.append(SentRequest(url, dict(headers), data))
        return _Pending(self.upstream.next_reply(url))

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FakeSession:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class FakeProvider:
    """Hands out `tok-N`; `invalidate` moves to the next token; may fail to fetch."""

    def __init__(self, fail: TokenFetchError | None = None) -> None:
        self.generation = 1
        self.invalidations = 0
        self.fail = fail

    def get_grant(self) -> TokenGrant:
        if self.fail is not None:
            raise self.fail
        return TokenGrant(f"tok-{self.generation}", 0.0, 1800.0, BASE)

    def get_token(self) -> str:
        return self.get_grant().access_token

    def needs_refresh(self) -> bool:
        return False

    def invalidate(self) -> None:
        self.invalidations += 1
        self.generation += 1

    def counters(self) -> TokenCounters:
        return TokenCounters(validations=self.generation)
