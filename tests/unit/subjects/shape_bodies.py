"""Shape bodies rendered from the mock's corpus files, for extractor and gateway tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mock_salesforce

SHAPES_DIR = Path(mock_salesforce.__file__).parent / "shapes"
TEXT = "  Line one,\n  line two.  "  # leading/trailing space: extractors must keep it
VALUES: dict[str, Any] = {
    "$TEXT": TEXT,
    "$PROMPT_TOKENS": 7,
    "$COMPLETION_TOKENS": 5,
    "$TOTAL_TOKENS": 12,
    "$FINISH_REASON": "length",
    "$CREATED": 1712258359,
    "$EMBEDDINGS": [{"embedding": [0.1, 0.2], "index": 0}],
}


def _fill(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value) for value in node]
    if isinstance(node, str) and node.startswith("$"):
        return VALUES.get(node, f"id-{node[1:].lower()}")
    return node


def load_shapes() -> list[dict[str, Any]]:
    """Every shape file with its `body` rendered (placeholders replaced)."""
    shapes = []
    for path in sorted(SHAPES_DIR.glob("*.json")):
        shape = json.loads(path.read_text(encoding="utf-8"))
        shapes.append({**shape, "body": _fill(shape["body"])})
    return shapes


def text_shape_cases() -> list[tuple[str, str, dict[str, Any], str]]:
    """(shape name, endpoint, body, text_path) for every text shape and endpoint it serves."""
    cases = []
    for shape in load_shapes():
        endpoints = (
            ["generations", "chat-generations"] if shape["endpoint"] == "*" else [shape["endpoint"]]
        )
        for endpoint in endpoints:
            if endpoint != "embeddings":
                cases.append((shape["name"], endpoint, shape["body"], shape["text_path"]))
    return cases
