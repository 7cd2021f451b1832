"""Token grants, stores and providers, in virtual time."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.subjects.token_providers import (
    FileTokenProvider,
    FileTokenStore,
    MemoryTokenStore,
    MemoryTtlTokenProvider,
    TokenFetchError,
    TokenGrant,
    grant_from_token_response,
)
from tests.conftest import FakeClock

START_S = 1000.0  # late enough that grants issued 'before' the start are positive


@dataclass
class FakeIssuer:
    """Issues grants that really live `lifetime_s` on the fake clock."""

    clock: FakeClock
    lifetime_s: float = 1800.0
    issued: list[TokenGrant] = field(default_factory=list)
    fail: bool = False

    def __call__(self) -> TokenGrant:
        if self.fail:
            raise TokenFetchError("down", 503)
        now = self.clock.now_s
        grant = TokenGrant(f"t{len(self.issued) + 1}", now, now + self.lifetime_s)
        self.issued.append(grant)
        return grant


def jwt(claims: dict[str, float]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


def test_a_grant_lives_as_long_as_its_jwt_says_measured_on_our_clock() -> None:
    response = {"access_token": jwt({"iat": 5000, "exp": 5120.5}), "issued_at": "5000000"}
    grant = grant_from_token_response({**response, "api_instance_url": "http://m"}, now_s=10.0)
    assert grant == TokenGrant(response["access_token"], 10.0, 130.5, "http://m")


def test_iat_is_used_when_the_response_has_no_issued_at() -> None:
    grant = grant_from_token_response({"access_token": jwt({"iat": 100, "exp": 160})}, now_s=0.0)
    assert grant.expires_at_s == 60.0


def test_a_token_that_is_not_a_jwt_gets_the_documented_thirty_minutes() -> None:
    grant = grant_from_token_response({"access_token": "opaque", "issued_at": "1"}, now_s=50.0)
    assert grant.expires_at_s == 1850.0
    assert grant.api_instance_url is None


def test_a_token_response_without_a_token_is_a_fetch_error() -> None:
    with pytest.raises(TokenFetchError):
        grant_from_token_response({"error": "invalid_client"}, now_s=0.0)


def test_the_file_store_round_trips_a_grant_atomically_and_counts(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "sub" / "token.json")
    assert store.read() is None
    store.write(TokenGrant("abc", 1.0, 2.0, "http://x"))
    assert store.read() == TokenGrant("abc", 1.0, 2.0, "http://x")
    assert (store.reads, store.writes) == (2, 1)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["token.json"]


def test_a_damaged_token_file_reads_as_no_grant(tmp_path: Path) -> None:
    (tmp_path / "token.json").write_text("{not json", encoding="utf-8")
    assert FileTokenStore(tmp_path / "token.json").read() is None


def test_the_file_provider_reads_the_store_on_every_validation() -> None:
    clock = FakeClock(START_S)
    store = MemoryTokenStore()
    provider = FileTokenProvider(store, FakeIssuer(clock), clock, refresh_buffer_s=300)
    tokens = [provider.get_token() for _ in range(5)]
    counters = provider.counters()
    assert tokens == ["t1"] * 5
    assert (counters.validations, counters.file_reads, store.reads) == (5, 5, 5)
    assert (counters.hits, counters.misses, counters.refreshes, counters.file_writes) == (
        4,
        1,
        1,
        1,
    )


def test_the_file_provider_refreshes_inside_the_buffer_before_expiry() -> None:
    clock = FakeClock(START_S)
    provider = FileTokenProvider(MemoryTokenStore(), FakeIssuer(clock), clock, 300)
    provider.get_token()
    clock.now_s += 1499
    assert provider.get_token() == "t1"
    clock.now_s += 1
    assert provider.get_token() == "t2"
    assert provider.counters().expired_uses == 0


def test_invalidate_makes_the_next_validation_fetch_a_new_token() -> None:
    clock = FakeClock(START_S)
    for provider in (
        FileTokenProvider(MemoryTokenStore(), FakeIssuer(clock), clock),
        MemoryTtlTokenProvider(MemoryTokenStore(), FakeIssuer(clock), clock),
    ):
        assert provider.get_token() == "t1"
        provider.invalidate()
        assert provider.needs_refresh()
        assert provider.get_token() == "t2"
        assert provider.counters().invalidations == 1


def test_memory_ttl_touches_the_store_only_at_start_and_on_refresh() -> None:
    clock = FakeClock(START_S)
    store = MemoryTokenStore()
    provider = MemoryTtlTokenProvider(
        store, FakeIssuer(clock), clock, ttl_s=600, refresh_buffer_s=60
    )
    for _ in range(100):
        provider.get_token()
        clock.now_s += 10  # 1000 s in all: one refresh at 540 s
    counters = provider.counters()
    assert (store.reads, store.writes) == (1, 2)
    assert (counters.file_reads, counters.file_writes, counters.refreshes) == (1, 2, 2)
    assert counters.hits == 98
    assert counters.expired_uses == 0


def test_memory_ttl_reuses_a_fresh_grant_left_in_the_store() -> None:
    clock = FakeClock(START_S)
    store = MemoryTokenStore(TokenGrant("kept", clock.now_s - 60, clock.now_s + 1740))
    issuer = FakeIssuer(clock)
    provider = MemoryTtlTokenProvider(store, issuer, clock)
    assert provider.get_token() == "kept"
    assert issuer.issued == []


def test_a_buffer_as_long_as_the_ttl_refreshes_on_every_call() -> None:
    clock = FakeClock(START_S)
    provider = MemoryTtlTokenProvider(MemoryTokenStore(), FakeIssuer(clock), clock, 2700, 2700)
    for _ in range(10):
        provider.get_token()
        clock.now_s += 1
    counters = provider.counters()
    assert counters.refreshes == counters.validations == counters.misses == 10
    assert counters.hits == 0


def test_a_ttl_longer_than_the_real_lifetime_hands_out_expired_tokens() -> None:
    clock = FakeClock(START_S)
    provider = MemoryTtlTokenProvider(MemoryTokenStore(), FakeIssuer(clock), clock, 2700, 300)
    for _ in range(40):  # 40 minutes; the token really dies at 30
        provider.get_token()
        clock.now_s += 60
    assert provider.counters().expired_uses == 10
    assert provider.counters().refreshes == 1


def test_without_a_ttl_memory_ttl_follows_the_real_lifetime() -> None:
    clock = FakeClock(START_S)
    issuer = FakeIssuer(clock, lifetime_s=120)
    provider = MemoryTtlTokenProvider(MemoryTokenStore(), issuer, clock, None, 30)
    provider.get_token()
    clock.now_s += 89
    assert not provider.needs_refresh()
    clock.now_s += 1
    assert provider.needs_refresh()
    assert provider.get_token() == "t2"


def test_a_failed_fetch_propagates_and_the_next_call_tries_again() -> None:
    clock = FakeClock(START_S)
    issuer = FakeIssuer(clock, fail=True)
    provider = MemoryTtlTokenProvider(MemoryTokenStore(), issuer, clock)
    with pytest.raises(TokenFetchError):
        provider.get_token()
    issuer.fail = False
    assert provider.get_token() == "t1"
    assert (provider.counters().misses, provider.counters().refreshes) == (2, 1)
