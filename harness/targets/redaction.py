"""A launch command as records and reports show it: the values it may hold secrets in, masked.

Gateways take their Salesforce client secret and API keys from the environment, and sfperf's
own advice is to set it on the launch line (`--launch "env PORT=8002 SF_CLIENT_SECRET=... python
app.py"`). The command runs as given; what is kept (a profile record's `launch`, and from it
results.json, parameters.csv and the report) shows every `NAME=VALUE` assignment's value, and the
value of any option named like a secret, as `***` (R143). Short numbers stay (`PORT=8002`,
`--workers 4`): they are settings, not secrets.
"""

from __future__ import annotations

import re

MASK = "***"
_VALUE = r"(\"[^\"]*\"|'[^']*'|[^\s'\";&|]+)"
# NAME=VALUE, as env and shells take it, wherever it stands in the line (also inside `sh -c '...'`)
_ASSIGNMENT = re.compile(r"(?<![\w-])([A-Za-z_][A-Za-z0-9_]*)=" + _VALUE)
_SECRET_WORDS = r"(?:secret|key|token|password|passwd|pwd|auth|credential)"
# --api-key VALUE, --client-secret=VALUE, -token VALUE
_SECRET_OPTION = re.compile(
    r"(?<![\w-])(--?[\w-]*" + _SECRET_WORDS + r"[\w-]*)(=|\s+)" + _VALUE, re.IGNORECASE
)
_SETTING = re.compile(r"^\d{1,6}$")


def shown_command(command: str) -> str:
    """`command` with the values of its assignments and secret-named options masked."""
    masked = _ASSIGNMENT.sub(_masked_assignment, command)
    return _SECRET_OPTION.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", masked)


def _masked_assignment(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    return match.group(0) if _SETTING.match(value) else f"{name}={MASK}"
