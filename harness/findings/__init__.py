"""The mock grades the gateway: findings on how a target treats its upstream.

From the mock's request journal: how the target retries (`retries`), handles tokens (`auth`) and
speaks the protocol (`protocol`); `grade_journal` runs every rule, `findings_record` stores them.
"""

from harness.findings.grading import (
    FINDING_NAMES,
    findings_from_record,
    findings_of,
    findings_record,
    grade_journal,
)
from harness.findings.model import Finding, GradingPolicy, Severity, worst

__all__ = [
    "FINDING_NAMES",
    "Finding",
    "GradingPolicy",
    "Severity",
    "findings_from_record",
    "findings_of",
    "findings_record",
    "grade_journal",
    "worst",
]
