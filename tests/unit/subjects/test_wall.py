"""The measured code knows nothing of the instrument: subjects import no other harness module,
and of the mock only its process helpers (`mock_salesforce.process`), never its servers."""

from __future__ import annotations

from tests.unit.walls import ROOT, imported_modules, imports_under, within

# Stdlib only and shared with the mock's own processes: how a serving process stops and its GC.
MOCK_ALLOWED = "mock_salesforce.process"


def test_subjects_import_only_subjects_from_harness_and_never_the_mock() -> None:
    offenders = {
        f"{path}: {name}"
        for path, names in imports_under("harness/subjects").items()
        for name in names
        if (within(name, "harness") and not within(name, "harness.subjects"))
        or (within(name, "mock_salesforce") and name != MOCK_ALLOWED)
    }
    assert offenders == set()


def test_the_wall_check_sees_imports() -> None:
    clients = ROOT / "harness" / "subjects" / "clients.py"
    assert "harness.subjects.token_providers" in imported_modules(clients)
