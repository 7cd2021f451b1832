"""A launch command as records show it: secrets the line may hold are masked (R143)."""

from __future__ import annotations

import pytest

from harness.runners.profiling import ProfilingPlan
from harness.targets.redaction import shown_command


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (
            "env SF_CLIENT_SECRET=sk-leak-me-4242 PORT=8530 daphne -b 127.0.0.1 -p 8530 app:app",
            "env SF_CLIENT_SECRET=*** PORT=8530 daphne -b 127.0.0.1 -p 8530 app:app",
        ),
        ("sh -c 'KEY=\"a b\" exec python gw.py'", "sh -c 'KEY=*** exec python gw.py'"),
        (
            "litellm --api-key sk-1 --master_key=sk-2 --port 4000",
            "litellm --api-key *** --master_key=*** --port 4000",
        ),
        ("python -m gw --workers 4 --host 127.0.0.1", "python -m gw --workers 4 --host 127.0.0.1"),
    ],
)
def test_assignments_and_secret_named_options_show_no_value(command: str, shown: str) -> None:
    assert shown_command(command) == shown


def test_a_profile_record_keeps_the_launch_line_without_its_secret() -> None:
    # The profile record's params reach results.json, parameters.csv and the report.
    plan = ProfilingPlan(launch="env LITELLM_MASTER_KEY=sk-123 litellm --port 4000")
    assert plan.as_params()["launch"] == "env LITELLM_MASTER_KEY=*** litellm --port 4000"
