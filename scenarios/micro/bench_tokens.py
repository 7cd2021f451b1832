"""Cost of one token validation (`get_token`) per provider, with a real token file on disk.

The provider is primed first, so rounds measure the steady state a gateway lives in: the file
provider reads and parses the file on every call, the memory-ttl provider only takes its lock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.runners.support.micro_inputs import grant_issuer, make_provider
from harness.subjects.token_providers import FileTokenStore


def test_token_validate(benchmark: Any, provider: str, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "token.json")
    subject = make_provider(provider, store, grant_issuer(time.time), time.time)
    first = subject.get_token()
    benchmark.group = "token-validate"
    benchmark.extra_info.update(scenario="token-validate", provider=provider, calls_per_round=1)
    token = benchmark(subject.get_token)
    assert token == first, f"{provider} refreshed a fresh token during the benchmark"
