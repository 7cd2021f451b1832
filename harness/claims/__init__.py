"""The claim ledger: quantitative claims from documents checked against measured RunRecords."""

from harness.claims.ledger import (
    Claim,
    Expectation,
    Ledger,
    MetricQuery,
    default_ledger_path,
    load_ledger,
    parse_ledger,
)
from harness.claims.metrics import Measurement, MissingRecords, measure
from harness.claims.verdicts import (
    CLAIMS_FILE,
    HOLDS,
    INCONCLUSIVE,
    REFUTED,
    Verdict,
    count_verdicts,
    evaluate_claim,
    evaluate_ledger,
    evaluate_run,
    format_number,
    format_value,
    load_verdicts,
    write_verdicts,
)

__all__ = [
    "CLAIMS_FILE",
    "HOLDS",
    "INCONCLUSIVE",
    "REFUTED",
    "Claim",
    "Expectation",
    "Ledger",
    "Measurement",
    "MetricQuery",
    "MissingRecords",
    "Verdict",
    "count_verdicts",
    "default_ledger_path",
    "evaluate_claim",
    "evaluate_ledger",
    "evaluate_run",
    "format_number",
    "format_value",
    "load_ledger",
    "load_verdicts",
    "measure",
    "parse_ledger",
    "write_verdicts",
]
