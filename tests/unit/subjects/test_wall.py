"""The measured code knows nothing of the instrument: subjects import no other harness module."""

from __future__ import annotations

from tests.unit.walls import ROOT, imported_modules, imports_under, within


def test_subjects_import_only_subjects_from_harness_and_never_the_mock() -> None:
    offenders = {
        f"{path}: {name}"
        for path, names in imports_under("harness/subjects").items()
        for name in names
        if (within(name, "harness") and not within(name, "harness.subjects"))
        or within(name, "mock_salesforce")
    }
    assert offenders == set()


def test_the_wall_check_sees_imports() -> None:
    clients = ROOT / "harness" / "subjects" / "clients.py"
    assert "harness.subjects.token_providers" in imported_modules(clients)
