"""nox sessions: the project's own tests, and the corpus replayed through a target."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
DEFAULT_TARGETS = ["reference"]

nox.options.sessions = ["tests", "conformance"]


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests: pytest over tests/."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("target", DEFAULT_TARGETS, ids=DEFAULT_TARGETS)
def conformance(session: nox.Session, target: str) -> None:
    """The corpus through a target: `nox -s "conformance(reference)"`, or any target after `--`:
    `nox -s conformance -- --target=mutant:finish-chunk-twice`."""
    session.install(".")
    args = session.posargs if any(a.startswith("--target") for a in session.posargs) else [f"--target={target}", *session.posargs]
    session.run("pytest", *args)
