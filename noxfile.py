"""Developer tasks. `nox -l` lists them; slow ones (bench) run only when named."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Run the whole test suite (unit, integration, golden)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the packages, scenarios, tests, bench and this file."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """Speed benchmarks that print ratios: `nox -s bench -- mock|gateway|yardstick|shim|tokens|
    load|simulate`."""
    session.install("-e", ".[dev]")
    targets = session.posargs or ["mock"]
    for target in targets:
        session.run("python", f"bench/bench_{target.replace('-', '_')}.py")
