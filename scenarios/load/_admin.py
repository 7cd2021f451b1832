"""A tiny client for the mock's admin API (`/__admin/`), for scenarios that change the mock."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def patch_config(mock_url: str, changes: dict[str, Any], timeout_s: float = 10.0) -> Any:
    """`PATCH {mock}/__admin/config` with `changes`; returns the mock's answer (its new config)."""
    request = urllib.request.Request(
        mock_url.rstrip("/") + "/__admin/config",
        data=json.dumps(changes).encode(),
        method="PATCH",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read() or b"null")
