"""The mock stands alone: users import it as a server or a pytest plugin, without the harness."""

from __future__ import annotations

from tests.unit.walls import imports_under, offenders


def test_the_mock_imports_nothing_from_the_harness_scenarios_or_reports() -> None:
    imports = imports_under("mock_salesforce")
    assert offenders(imports, "harness", "scenarios", "reports") == set()


def test_the_mock_wall_check_sees_the_mocks_own_imports() -> None:
    imports = imports_under("mock_salesforce")
    assert "mock_salesforce.config" in imports["mock_salesforce/testing.py"]
