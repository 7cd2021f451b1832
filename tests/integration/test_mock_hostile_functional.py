"""Ten thousand hostile requests, raw sockets included, against the mock as `sfperf mock` runs it:
it stays up, answers each with a documented JSON reply (never a 5xx: no fault is injected),
counts and journals exactly what it was sent, and logs no traceback."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mock_salesforce.admin_client import AdminClient
from mock_salesforce.oauth import TokenIssuer

from .hostile import CHAT, FORM, KINDS, SLOW_HEAD, TOKEN, Answer, Kind, Secrets, send

SEED, ADMIN_TOKEN = 7, "fuzz-admin"
REQUESTS = 10_000
SLOW_HEADS = 20
WEIGHTS = {"valid": 20, "bad body": 15, "bad bearer": 10, "bad app headers": 5, "bad HTTP": 20,
           "smuggling": 5, "odd routes": 10, "chunked": 10, "admin": 5}  # fmt: skip
PROFILE = f"""
seed = {SEED}
body_limit_bytes = 65536
journal_size = 20000
header_timeout_s = 0.5
admin_token = "{ADMIN_TOKEN}"
"""
# The documented error objects: the Models API's, OAuth's (token endpoint), the admin API's.
ERROR_SHAPES = ({"errorCode", "messageCode", "message"}, {"error", "error_description"}, {"error"})


@contextmanager
def mock_process(profile: Path, log: list[str]) -> Iterator[str]:
    """`python -m mock_salesforce` with `profile`, its URL; stopped with SIGTERM on the way out,
    when its stderr is appended to `log`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_salesforce", "--port", "0", "--profile", str(profile),
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        log.append(process.communicate(timeout=20)[1])


def secrets_for(url: str) -> Secrets:
    form = dict(pair.split("=") for pair in FORM.decode().split("&"))
    bearer = requests.post(url + TOKEN, data=form, timeout=5).json()["access_token"]
    signer = TokenIssuer(seed=SEED, now_s=time.time)
    return Secrets(bearer, lambda claims: signer._sign_jwt(claims), ADMIN_TOKEN)  # type: ignore[arg-type]


def plan(rng: random.Random, secrets: Secrets) -> list[tuple[Kind, bytes | list[bytes]]]:
    by_name = {kind.name: kind for kind in KINDS}
    kinds = rng.choices([by_name[n] for n in WEIGHTS], list(WEIGHTS.values()), k=REQUESTS)
    kinds += [SLOW_HEAD] * SLOW_HEADS
    return [(kind, kind.make(rng, secrets)) for kind in kinds]


async def send_all(port: int, planned: list[tuple[Kind, bytes | list[bytes]]]) -> list[Answer]:
    gate = asyncio.Semaphore(32)

    async def one(kind: Kind, data: bytes | list[bytes]) -> Answer:
        async with gate:
            return await send(port, data, kind.pause_s, timeout_s=10.0)

    return await asyncio.gather(*(one(kind, data) for kind, data in planned))


def problems_with(answer: Answer) -> str:
    """Why an answer is not a documented one ('' when it is)."""
    if answer.error or answer.replies != 1:
        return f"no single reply: {answer.error or answer.replies}"
    if answer.status >= 500:
        return f"status {answer.status}"
    try:
        document = answer.json()
    except ValueError:
        return f"not JSON: {answer.body[:80]!r}"
    if not isinstance(document, dict):
        return "not a JSON object"
    if answer.status >= 400 and set(document) not in ERROR_SHAPES:
        return f"not a documented error object: {sorted(document)}"
    return ""


@pytest.mark.slow
def test_ten_thousand_hostile_requests_are_each_answered_counted_and_journaled(
    tmp_path: Path,
) -> None:
    profile, log = tmp_path / "fuzz.toml", list[str]()
    profile.write_text(PROFILE)
    with mock_process(profile, log) as url:
        admin = AdminClient(url, ADMIN_TOKEN)
        secrets = secrets_for(url)
        planned = plan(random.Random(SEED), secrets)
        answers = asyncio.run(send_all(int(url.rsplit(":", 1)[1]), planned))
        problems = Counter(
            f"{kind.name}: {problem}"
            for (kind, _), answer in zip(planned, answers, strict=True)
            if (problem := problems_with(answer))
        )
        assert not problems, problems.most_common(10)
        counted = 1 + sum(kind.counted for kind, _ in planned)  # the token fetch too
        counters = admin.counters()
        assert counters["requests"] == counted
        assert not any(int(status) >= 500 for status in counters["by_status"])
        assert len(admin.read_journal()) == counted
        headers = {"Authorization": f"Bearer {secrets.bearer}", "x-sfdc-app-context": "a",
                   "x-client-feature-id": "f"}  # fmt: skip
        body = {"messages": [{"role": "user", "content": "still there?"}]}
        assert requests.post(url + CHAT, json=body, headers=headers, timeout=5).status_code == 200
        assert admin.health()["status"] == "ok"
    assert "Traceback" not in log[0] and "ERROR" not in log[0], log[0][-2000:]
