"""One module per heavy library (DESIGN.md): pandas, matplotlib, locust and pyinstrument are each
imported in one place, so the rest stays light and gevent patches only the load child."""

from __future__ import annotations

import pytest

from tests.unit.walls import ROOT, imported_modules, imports_under, offenders

SHIPPED = ("mock_salesforce", "harness", "scenarios", "reports")

# library -> where it may be imported (a file, or a folder ending in /)
HOMES = {
    "pandas": ("reports/frames.py",),
    "matplotlib": ("reports/plots.py",),
    "locust": ("scenarios/load/",),  # locustfiles run only in the load runner's child
    "gevent": ("scenarios/load/",),
    "geventhttpclient": ("scenarios/load/",),
    "pyinstrument": ("harness/runners/profiling.py", "harness/runners/support/profiler_child.py"),
}


@pytest.mark.parametrize("library", sorted(HOMES))
def test_a_heavy_library_is_imported_only_in_its_home(library: str) -> None:
    importers = {line.split(": ")[0] for line in offenders(imports_under(*SHIPPED), library)}
    assert {f for f in importers if not f.startswith(HOMES[library])} == set()
    assert importers, f"the check no longer sees {library} imported where it lives"


def test_an_import_for_the_type_checker_alone_does_not_count() -> None:
    plots = imported_modules(ROOT / "reports" / "plots.py")
    assert "matplotlib.figure" in plots
    assert "pandas" not in plots  # under `if TYPE_CHECKING:`
