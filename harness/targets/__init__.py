"""Targets: the one way to start, health-check and stop what the harness measures.

`target_from_args` validates the CLI's choice; `start_mock` runs the mock; `open_target` yields a
`RunningTarget` (reference variant, running URL, or launched command with the start-up shim).
"""

from harness.targets.running import RunningTarget, Service, open_target, start_mock
from harness.targets.spec import DEFAULT_VARIANT, TargetSpec, target_from_args

__all__ = [
    "DEFAULT_VARIANT",
    "RunningTarget",
    "Service",
    "TargetSpec",
    "open_target",
    "start_mock",
    "target_from_args",
]
