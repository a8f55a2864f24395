"""The pytest items of a run with `--target`, and how their failures read.

`CaseItem` replays one capture through the target on one route and schedule; `TransportItem` runs
one transport check on one route; `BrokenCaptureItem` stands for a capture that the loader or the
linter refuses, errored with the reason, in the run and in its report.
Running happens in `setup`, so a target that errors shows as a pytest error; failing invariants
show as failures, known ones as xfailed. A failure says which requirement, where, what, and the
command that reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance import expectations, report, snapshots, transport
from conformance._keys import SESSION_KEY
from conformance.invariants import Verdict, registry
from conformance.results import CaseResult
from conformance.routes import route_id
from conformance.runner import Case
from conformance.sse import parse

if TYPE_CHECKING:
    from conformance.session import ConformanceSession

__all__ = ["BrokenCaptureItem", "CaseItem", "CorpusCollector", "RECORD", "TransportItem"]

RECORD = "conformance-record"
"""The `user_properties` name under which each item hands its report row to the session."""


class CorpusCollector(pytest.Collector):
    """The parent of every conformance item. The session adds the items to the run itself (before
    deselection), and keeps them here to tell a full run from a partial one."""

    made: list[pytest.Item]

    def collect(self) -> list[pytest.Item]:
        return []

    def collect_all(self) -> list[pytest.Item]:
        return [item for item in self.made if isinstance(item, (CaseItem, TransportItem, BrokenCaptureItem))]


class BrokenCaptureItem(pytest.Item):
    """A capture that cannot be replayed: errored, with the file and field at fault, and reported
    (`conformance.report.refused`) as one row for the capture."""

    def __init__(self, *, capture_id: str, problem: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.capture_id = capture_id
        self.problem = problem

    @staticmethod
    def item_name(capture_id: str) -> str:
        """`<capture id>[refused]`: selected by `-k` like the capture's other items."""
        return f"{capture_id}[{report.REFUSED}]"

    def setup(self) -> None:
        message = f"broken capture [bad-capture]:\n{self.problem}"
        self.user_properties.append((RECORD, report.refused(self.name, self.capture_id, message)))
        # Failing in setup makes pytest report an error (the capture), not a failure (the target).
        pytest.fail(message, pytrace=False)

    def runtest(self) -> None:  # never reached: setup fails
        pytest.fail(self.problem, pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"capture {self.name}"


class InvariantsFailed(AssertionError):
    pass


class _GatedItem(pytest.Item):
    """An item whose run gives verdicts, judged against the target's known failures.

    Subclasses say how to run (`_run`), how to explain a failing verdict (`_explain`) and what
    else to compare (`_extra_problems`). Running happens in setup, so a target that errors shows
    as a pytest error; failing invariants show as failures, and known ones as xfailed.
    """

    def __init__(self, *, skip: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skip_reason = skip
        self.result: Any = None
        self.add_marker("conformance")

    @property
    def session_state(self) -> ConformanceSession:
        return self.config.stash[SESSION_KEY]

    def _run(self) -> Any:
        raise NotImplementedError

    def _skipped(self, reason: str) -> Any:
        raise NotImplementedError

    def _explain(self, verdict: Verdict) -> str:
        raise NotImplementedError

    def _extra_problems(self) -> list[str]:
        return []

    def setup(self) -> None:
        state = self.session_state
        if self.skip_reason is not None:
            self.result = self._skipped(self.skip_reason)
            self._record(self._judge())
            pytest.skip(self.skip_reason)
        self.result = self._run()
        gate = self._judge()
        self._record(gate)
        if self.result.outcome == "errored" and not state.update_expectations:
            if gate.as_expected:
                pytest.xfail(_known(gate))
            crash = state.expectations.crash_behind(self.result.error)
            if crash is not None:
                pytest.xfail(f"known crash: {crash.reason}" + (f" ({crash.issue})" if crash.issue else ""))
        if self.result.outcome == "errored":
            pytest.fail(f"target errored [target-errored]: {self.result.error}", pytrace=False)

    def runtest(self) -> None:
        assert self.result is not None
        state = self.session_state
        gate = self._judge()
        gated = [verdict for verdict in self.result.verdicts if verdict.outcome in state.gate]
        problems = []
        if not state.update_expectations:  # updating records the failures instead of judging them
            problems += [self._explain(verdict) for verdict in gated if verdict.invariant in gate.new]
            if gate.fixed:
                problems.append(gate.explain(state.expectations.path))
        problems += self._extra_problems()
        if problems:
            raise InvariantsFailed("\n\n".join(problems))
        if gated and not state.update_expectations:
            pytest.xfail(_known(gate))

    def _judge(self) -> expectations.Verdict:
        """The item against the target's known failures, under the run's gate."""
        state = self.session_state
        case = self.case  # type: ignore[attr-defined]
        known = state.expectations.for_case(
            case.capture.id, route_id(case.route), case.schedule, str(getattr(state.target, "version", ""))
        )
        result = self.result
        if result.outcome == "errored":
            gated = failing = {expectations.ERRORED}
        else:
            gated = {verdict.invariant for verdict in result.verdicts if verdict.outcome in state.gate}
            failing = {verdict.invariant for verdict in result.failing}
        return expectations.judge(gated, failing, known)

    def _record(self, gate: expectations.Verdict) -> None:
        state = self.session_state
        if self.result.outcome == "errored" and state.expectations.crash_behind(self.result.error):
            standing = "known"
        elif gate.new or gate.fixed:
            standing = "new" if gate.new else "fixed"
        else:
            standing = "known" if self.result.outcome in state.gate else "ok"
        known = [entry.to_json() for entry in gate.known]
        self.user_properties.append((RECORD, report.record(self.result, known, standing)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        # pytest renders a long traceback even for an imperative xfail, which it then reports by
        # its reason only: rendering parses the source file of each of ~20 frames, about 0.1 s an
        # item, more than the checks themselves take.
        if isinstance(excinfo.value, (InvariantsFailed, pytest.xfail.Exception)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.case.capture.path, None, self.name  # type: ignore[attr-defined]


class CaseItem(_GatedItem):
    """One capture replayed through the target on one route and one schedule."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.obj = _conformance_case  # syrupy locates snapshots through item.obj

    def _run(self) -> CaseResult:
        return self.session_state.run(self.case)

    def _skipped(self, reason: str) -> CaseResult:
        return CaseResult(self.case, "skipped", error=reason)

    def _explain(self, verdict: Verdict) -> str:
        case, spec = self.case, self.session_state.spec
        where = [
            f"  capture:  {case.capture.path.with_suffix('.sse')}",
            f"  route:    {route_id(case.route)}    schedule: {case.schedule}",
        ]
        reproduce = f"pytest --target={spec} -k '{case.capture.id} and {case.schedule}'; serve the upstream by hand: conformance replay {case.capture.id} --schedule {case.schedule}"
        return _explain(verdict, where, self.result.output, reproduce)

    def _extra_problems(self) -> list[str]:
        state = self.session_state
        changed = snapshots.compare(
            self, self.result, state.report_dir / "snapshots", state.spec, partial=bool(state.partial)
        )
        return [changed] if changed else []


class TransportItem(_GatedItem):
    """One transport check (`conformance.transport`) on one route: timing, cancellation,
    concurrency or an upstream fault, judged by registered invariants and gated by expectations
    like a capture (capture `transport/<check>`, schedule `transport`)."""

    def __init__(self, *, case: transport.TransportCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def _run(self) -> CaseResult:
        return self.session_state.run_transport(self.case)

    def _skipped(self, reason: str) -> CaseResult:
        return CaseResult(self.case, "skipped", error=reason)

    def _explain(self, verdict: Verdict) -> str:
        case = self.case
        where = [
            f"  transport check: {case.check} ({transport.CHECKS[case.check]})",
            f"  route:    {route_id(case.route)}",
        ]
        return _explain(
            verdict,
            where,
            self.result.output,
            f"pytest --target={self.session_state.spec} -k 'transport and {case.check}'",
        )


def _known(gate: expectations.Verdict) -> str:
    return "known failure: " + "; ".join(
        f"{entry.reason} ({entry.issue})" if entry.issue else entry.reason for entry in gate.known
    )


def _conformance_case() -> None:
    """Stands in for a test function where syrupy expects one."""


def _explain(verdict: Verdict, where: list[str], output: bytes, reproduce: str) -> str:
    """Which requirement, where (capture or check, route, schedule, event), what (expected vs
    actual, the offending event), and the command that reproduces it."""
    inv = registry()[verdict.invariant]
    lines = [f"{verdict.invariant} [{verdict.outcome}, {inv.impact}]: {inv.requirement}", *where]
    if verdict.outcome == "inherited":
        lines.append(f"  {verdict.reason}")
    lines += [f"  evidence: {source}" for source in inv.evidence]
    if inv.hint:
        lines.append(f"  to fix:   {inv.hint}")
    events = _events(output)
    for violation in verdict.violations[:3]:
        lines.append(f"  - {violation.message}")
        lines.append(f"    expected: {_short(violation.expected)}")
        lines.append(f"    actual:   {_short(violation.actual)}")
        if violation.event is not None and violation.event < len(events):
            at = f" at {violation.path}" if violation.path else ""
            lines.append(f"    event {violation.event}{at}: {_short(events[violation.event], 300)}")
    if len(verdict.violations) > 3:
        lines.append(f"  … and {len(verdict.violations) - 3} more")
    lines.append(f"  reproduce: {reproduce}")
    lines.append(f"  explain:   conformance invariants {verdict.invariant}")
    return "\n".join(lines)


def _events(output: bytes) -> list[str]:
    events, _ = parse(output)
    return [(f"event: {e.type} " if e.type != "message" else "") + f"data: {e.data}" for e in events]


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
