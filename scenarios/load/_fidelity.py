"""The fidelity check the load users run on every reply (a thin seam over `harness.fidelity`).

With the seed of the mock behind the target, the reply the mock sent for a request is known
(`mock_salesforce.replies.expected_reply`), so each reply seen through the target is compared
with it. Without that seed (a target whose upstream sfperf does not know) nothing is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (request body, HTTP status (0: no reply), plain payload, streamed text or None) -> mismatch kinds
FidelityCheck = Callable[[dict[str, Any], int, bytes, "str | None"], tuple[str, ...]]


def no_check(
    body: dict[str, Any], status: int, payload: bytes, text: str | None
) -> tuple[str, ...]:
    """Used when the mock behind the target is unknown: nothing can be compared."""
    return ()


def build_check(mock_seed: int) -> FidelityCheck:
    """The check against a mock seeded with `mock_seed`; `no_check` when the seed is negative."""
    if mock_seed < 0:
        return no_check
    from harness import fidelity

    return fidelity.load_check(mock_seed)
