"""Checks that need no measurement: arithmetic over a document's own figures.

Expressions are parsed with `ast` and evaluated over numbers and named inputs only (no names
beyond the inputs, no attribute access, no calls except min/max/abs), so a ledger cannot run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

from harness.errors import UsageError

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {"min": min, "max": max, "abs": abs}


def evaluate_expression(expression: str, inputs: Mapping[str, float]) -> float:
    """The value of an arithmetic `expression` over `inputs`; UsageError when it is not one."""
    try:
        tree = ast.parse(expression, mode="eval")
        return float(_evaluate(tree.body, inputs))
    except (SyntaxError, ZeroDivisionError, OverflowError) as exc:
        raise UsageError(f"cannot evaluate {expression!r}: {exc}") from None


def _evaluate(node: ast.expr, inputs: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in inputs:
            raise UsageError(f"unknown name {node.id!r} (inputs: {sorted(inputs)})")
        return inputs[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, inputs), _evaluate(node.right, inputs))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, inputs)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = _FUNCTIONS.get(node.func.id)
        if function is not None:
            return float(function(*(_evaluate(a, inputs) for a in node.args)))
    raise UsageError(f"unsupported expression element: {ast.unparse(node)!r}")


def smallest_fraction(reported: float, digits: int, limit: int = 100_000) -> tuple[int, int]:
    """The fraction k/n with the smallest n that rounds to `reported` at `digits` decimals.

    81.82% (0.8182, 4 digits) is 9/11: a sample of 11 is the smallest that can produce it.
    """
    if not 0.0 <= reported <= 1.0:
        raise UsageError(f"a reported fraction must be in [0, 1], not {reported}")
    for n in range(1, limit + 1):
        k = round(reported * n)
        if round(k / n, digits) == round(reported, digits):
            return k, n
    raise UsageError(f"no fraction with denominator <= {limit} rounds to {reported}")
