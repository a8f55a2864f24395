"""Each mutant is caught by the invariant it was seeded for, and the reference passes everything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.corpus import load_corpus
from conformance.invariants import registry
from conformance.runner import Case, Runner, routes_for
from conformance.schedules import DEFAULT_SCHEDULES
from conformance.targets import load
from conformance.targets.mutants import MUTANTS

CAPTURES = load_corpus().captures


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    runner = Runner(timeout=30)
    yield runner
    runner.close()


def cases(target) -> Iterator[Case]:  # type: ignore[no-untyped-def]
    for capture in CAPTURES:
        for route in routes_for(capture, target)[0]:
            for schedule in DEFAULT_SCHEDULES:
                yield Case(capture, route, schedule)


def test_reference_passes_every_case(runner: Runner) -> None:
    target = load("reference")
    failures = {}
    for case in cases(target):
        result = runner.run(case, target)
        if result.outcome == "errored" or result.failures:
            failures[case.id] = result.error or [v.to_json() for v in result.failures]
    assert failures == {}


def test_there_are_at_least_eight_mutants_each_naming_a_real_invariant() -> None:
    assert len(MUTANTS) >= 8
    for mutant in MUTANTS.values():
        assert mutant.caught_by in registry(), mutant.name
        assert "https://" in mutant.evidence


# Transport mutants (`Mutant.transport`) no capture can catch: tests/test_transport.py runs their check.
@pytest.mark.parametrize("name", sorted(name for name, mutant in MUTANTS.items() if not mutant.transport))
def test_mutant_is_caught_by_its_invariant(runner: Runner, name: str) -> None:
    mutant = MUTANTS[name]
    target = load(f"mutant:{name}")
    assert target.name == f"mutant:{name}"
    seen: set[str] = set()
    for case in cases(target):
        result = runner.run(case, target)
        assert result.outcome != "errored", f"{case.id}: {result.error}"
        failed = {v.invariant for v in result.failures}
        seen |= failed
        if mutant.caught_by in failed:
            return
    pytest.fail(f"mutant:{name} was never caught by {mutant.caught_by}; invariants that did fail: {sorted(seen)}")
