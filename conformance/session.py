"""A run with `--target`: the target, the runner, the items and the records for the report.

`conformance.plugin` registers a `ConformanceSession` at configure time, once the target has begun
loading; this module holds everything the plugin needs only when a target is given, so that a pytest
run without `--target` does not import the checks, the schemas, the runner or the corpus.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

from conformance import expectations, report, snapshots, transport
from conformance.corpus import CaptureError, default_corpus, load_corpus
from conformance.lint import lint_capture
from conformance.plugin import SESSION_KEY, load_target
from conformance.runner import Case, CaseResult, Pending, Runner, routes_for
from conformance.targets import Target, TargetUnavailable, route_id

__all__ = ["ConformanceSession"]

_RECORD = "conformance-record"


class ConformanceSession:
    """The run's state: target, runner and collected records. Lives only when --target is given."""

    def __init__(
        self,
        config: pytest.Config,
        spec: str,
        chosen_schedules: list[str],
        loaded: Target | TargetUnavailable | None,
        started: float,
    ) -> None:
        self.config = config
        self.spec = spec
        self.schedules = chosen_schedules
        corpus = config.getoption("conformance_corpus")
        self.corpus_root = Path(corpus).resolve() if corpus else default_corpus()
        report_dir = config.getoption("conformance_report_dir")
        self.report_root = Path(report_dir) if report_dir else Path(config.rootpath) / "reports"
        self.report_dir = self.report_root / report.slug(spec)
        self.update_expectations: bool = config.getoption("conformance_update_expectations")
        self.transport: bool = config.getoption("conformance_transport")
        self.expectations = expectations.Expectations(self.report_dir / "expectations.yaml", spec, ())
        self.timeout: float = config.getoption("conformance_timeout")
        self.replay_port: int = config.getoption("conformance_replay_port")
        self.target: Target | None = None
        self.unavailable: TargetUnavailable | None = None
        if loaded is not None:
            self._take(loaded)
        self.runner: Runner | None = None
        # The waiting transport checks this process will run, and those already begun (see run_transport).
        self.waiting: list[transport.TransportCase] = []
        self.begun: dict[str, concurrent.futures.Future[CaseResult]] | None = None
        # The item pytest runs next, and the capture item whose stream began while this one was checked.
        self.next_item: pytest.Item | None = None
        self.ahead: dict[str, Pending] = {}
        self.records: list[dict[str, Any]] = []
        self.capture_features: dict[str, list[str]] = {}
        self.started = started  # before the target loaded: the report's total_seconds counts the load
        self.is_worker = hasattr(config, "workerinput")

    # -- collection -----------------------------------------------------------------------------

    def _take(self, loaded: Target | TargetUnavailable) -> None:
        if isinstance(loaded, TargetUnavailable):
            self.unavailable, self.target = loaded, _Unavailable(self.spec)
        else:
            self.target = loaded
        _freeze_heap()  # the target's imports, before the corpus and the SDKs add to the heap

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if self.target is None:  # judged an xdist controller at configure time, yet collecting after all
            self._take(load_target(self.spec))
        assert self.target is not None
        self.report_dir = _report_folder(self.report_root, self.spec, self.target.version)
        chosen = self.config.getoption("conformance_expectations")
        try:
            self.expectations = expectations.load(
                Path(chosen) if chosen else self.report_dir / "expectations.yaml", self.spec
            )
        except expectations.ExpectationsError as error:
            raise pytest.UsageError(f"--expectations: {error}") from error
        try:
            corpus = load_corpus(self.corpus_root)
        except CaptureError as error:
            raise pytest.UsageError(f"--corpus: {error}") from error
        self.capture_features = {capture.id: list(capture.features) for capture in corpus.captures}
        collector = CorpusCollector.from_parent(
            session, name="conformance", nodeid="conformance", path=self.corpus_root
        )
        new: list[pytest.Item] = [
            BrokenCaptureItem.from_parent(collector, name=_error_name(error), problem=str(error))
            for error in corpus.errors
        ]
        for capture in corpus.captures:
            findings = lint_capture(capture)
            if findings:
                problem = (
                    "\n".join(str(finding) for finding in findings)
                    + f"\nFix the capture, then check it with: conformance validate {self.corpus_root}"
                )
                new.append(BrokenCaptureItem.from_parent(collector, name=capture.id, problem=problem))
                continue
            served, lacking = routes_for(capture, self.target)
            for route in served + lacking:
                for schedule in self.schedules:
                    case = Case(capture, route, schedule)
                    skip = None if route in served else f"target {self.spec} does not serve route {route_id(route)}"
                    new.append(CaseItem.from_parent(collector, name=case.id, case=case, skip=skip))
        if self.transport and self.unavailable is None:
            for check in transport.CHECKS:
                for route in sorted(self.target.routes):
                    tcase = transport.TransportCase(check, route)
                    new.append(
                        TransportItem.from_parent(
                            collector,
                            name=tcase.id,
                            case=tcase,
                            skip=transport.skip_reason(check, self.target, self.spec, self.timeout),
                        )
                    )
        items[:0] = new

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        _freeze_heap()
        # Under xdist every worker collects every item but runs only its share, so a worker cannot
        # know which of them are its own to begin early.
        if not self.is_worker:
            self.waiting = [
                item.case
                for item in session.items
                if isinstance(item, TransportItem) and item.skip_reason is None and item.case.check in transport.WAITING
            ]

    # -- running --------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        self.next_item = nextitem

    def run(self, case: Case) -> CaseResult:
        if self.unavailable is not None:
            return CaseResult(
                case,
                "errored",
                error=f"target {self.spec} is unavailable [{self.unavailable.code}]; the reason is printed once, at the end of the run",
            )
        if self.runner is None:
            self.runner = Runner(timeout=self.timeout, replay_port=self.replay_port)
        assert self.target is not None
        pending = self.ahead.pop(case.id, None) or self.runner.begin(case, self.target)
        streamed = self.runner.wait(pending)
        # The next capture item's stream begins while this one is checked. One stream is still in
        # flight at a time, but a target in another process (a proxy, `litellm`) streams the next
        # case on one core while this process checks on the other. Transport items never overlap one.
        item = self.next_item
        if isinstance(item, CaseItem) and item.skip_reason is None and item.case.id not in self.ahead:
            self.ahead[item.case.id] = self.runner.begin(item.case, self.target)
        return self.runner.judge(pending, streamed)

    def run_transport(self, case: transport.TransportCase) -> CaseResult:
        if self.runner is None:
            self.runner = Runner(timeout=self.timeout, replay_port=self.replay_port)
        assert self.target is not None
        if self.begun is None:
            # The checks that mostly wait (a paced upstream, a stall) begin together at the first
            # transport item, after every capture item: about 14 s of waiting becomes about 3.
            self.begun = {waiting.id: transport.start(self.runner, self.target, waiting) for waiting in self.waiting}
        return transport.run_check(self.runner, self.target, case, self.begun.pop(case.id, None))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == _RECORD and (report.when == "call" or report.outcome != "passed"):
                if not any(row["id"] == value["id"] for row in self.records):
                    self.records.append(value)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for future in (self.begun or {}).values():  # begun for items the run stopped before (-x)
            future.cancel()
        if self.runner is not None:
            for pending in self.ahead.values():
                self.runner.cancel(pending)
            self.ahead.clear()
            self.runner.close(self.target)
            self.runner = None
        elif self.target is not None and hasattr(self.target, "aclose"):
            # Loaded at configure time but never run (--collect-only, or a usage error while
            # collecting): a target in a process of its own still has that process and its files.
            asyncio.run(self.target.aclose())
        if self.is_worker or not self.records:
            return
        header = {
            "target": self.spec,
            "target_version": getattr(self.target, "version", "unknown"),
            "suite_version": _suite_version(),
            "corpus": self.corpus_root.name if self.corpus_root == default_corpus() else str(self.corpus_root),
            "corpus_revision": report.corpus_revision(self.corpus_root),
            "schedules": self.schedules,
            "routes": sorted(route_id(r) for r in getattr(self.target, "routes", ())),
            "capture_features": self.capture_features,
        }
        notes = list(getattr(self.target, "notes", ()))
        if self.unavailable is not None:
            notes.append(f"the target is unavailable [{self.unavailable.code}]: {self.unavailable}")
        if notes:  # what the target says this run does not cover
            header["notes"] = notes
        log = self._copy_target_log()
        if log:
            header["target_log"] = log
        built = report.build(header, self.records, time.perf_counter() - self.started)
        self.written = report.write(self.report_dir, built)
        if self.update_expectations:
            version = str(header["target_version"])
            expectations.write(
                self.expectations.path, expectations.updated(self.expectations, self.records, version, self.schedules)
            )

    def _copy_target_log(self) -> str | None:
        """A target with a `log_path` (a proxy run as a process) has its log copied next to the
        report as `proxy.log`; returns that name, relative to the report folder. The target's
        `log_text()` is asked first: it still has the log after `aclose()` removed its files."""
        if not getattr(self.target, "log_path", None):
            return None
        text: str | None = None
        reader = getattr(self.target, "log_text", None)
        if callable(reader):
            text = reader()
        if text is None:
            try:
                text = Path(self.target.log_path).read_text(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
            except OSError:
                return None
        self.report_dir.mkdir(parents=True, exist_ok=True)
        (self.report_dir / "proxy.log").write_text(text, encoding="utf-8")
        return "proxy.log"

    def pytest_report_header(self) -> list[str]:
        return [f"conformance: target {self.spec}, schedules {', '.join(self.schedules)}"]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.unavailable is not None:
            terminalreporter.write_line(
                f"conformance: target {self.spec} is unavailable, so every item errored [{self.unavailable.code}]: {self.unavailable}",
                red=True,
            )
        written = getattr(self, "written", None)
        if written:
            terminalreporter.write_line(f"conformance report: {written[0]} (summary: {written[1]})")


class _Unavailable:
    """Stands in for a target that cannot run here, so its items are collected and errored."""

    version = "unavailable"

    def __init__(self, spec: str) -> None:
        from conformance.checks import PROTOCOLS

        self.name = spec
        self.routes = frozenset((upstream, client) for upstream in PROTOCOLS for client in PROTOCOLS)


def _freeze_heap() -> None:
    """Leave every object alive now out of later garbage collections (`gc.freeze`).

    What a run builds before its items (the target with all it imported, the SDKs, the corpus, the
    items) lives until the run ends, yet every full collection walked all of it: with LiteLLM
    loaded, one took about 0.3 s, and loading the corpus, running the items and pytest's end of run
    trigger several. The clean-up added in `pytest_configure` unfreezes it."""
    gc.freeze()


def _report_folder(root: Path, spec: str, version: str) -> Path:
    """`root/<target>-<version>/` when that folder was committed (one per pinned version of a
    target), else `root/<target>/`."""
    versioned = root / f"{report.slug(spec)}-{report.slug(version)}"
    return versioned if versioned.is_dir() else root / report.slug(spec)


def _suite_version() -> str:
    try:
        return version("llm-stream-conformance")
    except PackageNotFoundError:
        return "0+unknown"


def _error_name(error: CaptureError) -> str:
    return f"broken:{error.path.name}"


class CorpusCollector(pytest.Collector):
    def collect(self) -> list[pytest.Item]:
        return []


class BrokenCaptureItem(pytest.Item):
    """A capture that cannot be replayed: errored, with the file and field at fault."""

    def __init__(self, *, problem: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def setup(self) -> None:
        # Failing in setup makes pytest report an error (the capture), not a failure (the target).
        pytest.fail(f"broken capture [bad-capture]:\n{self.problem}", pytrace=False)

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

    def _explain(self, verdict: Any) -> str:
        raise NotImplementedError

    def _extra_problems(self) -> list[str]:
        return []

    def setup(self) -> None:
        state = self.session_state
        if self.skip_reason is not None:
            self.result = self._skipped(self.skip_reason)
            self._record()
            pytest.skip(self.skip_reason)
        self.result = self._run()
        self._record()
        if self.result.outcome == "errored":
            gate = self._gate({expectations.ERRORED})
            if gate.as_expected and not state.update_expectations:
                pytest.xfail(_known(gate))
            crash = state.expectations.crash_behind(self.result.error)
            if crash is not None and not state.update_expectations:
                pytest.xfail(f"known crash: {crash.reason}" + (f" ({crash.issue})" if crash.issue else ""))
            pytest.fail(f"target errored [target-errored]: {self.result.error}", pytrace=False)

    def runtest(self) -> None:
        assert self.result is not None
        state = self.session_state
        failures = self.result.failures
        gate = self._gate({verdict.invariant for verdict in failures})
        problems = []
        if not state.update_expectations:  # updating records the failures instead of judging them
            problems += [self._explain(verdict) for verdict in failures if verdict.invariant in gate.new]
            if gate.fixed:
                problems.append(gate.explain(state.expectations.path))
        problems += self._extra_problems()
        if problems:
            raise InvariantsFailed("\n\n".join(problems))
        if failures and not state.update_expectations:
            pytest.xfail(_known(gate))

    def _gate(self, failing: set[str]) -> expectations.Verdict:
        state = self.session_state
        case = self.case  # type: ignore[attr-defined]
        known = state.expectations.for_case(
            case.capture.id, route_id(case.route), case.schedule, str(getattr(state.target, "version", ""))
        )
        return expectations.judge(failing, known)

    def _record(self) -> None:
        known = self._gate(set()).known
        self.user_properties.append((_RECORD, report.record(self.result, [entry.to_json() for entry in known])))

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

    def _explain(self, verdict: Any) -> str:
        case, spec = self.case, self.session_state.spec
        where = [
            f"  capture:  {case.capture.path.with_suffix('.sse')}",
            f"  route:    {route_id(case.route)}    schedule: {case.schedule}",
        ]
        reproduce = f"pytest --target={spec} -k '{case.capture.id} and {case.schedule}'; serve the upstream by hand: conformance replay {case.capture.id} --schedule {case.schedule}"
        return _explain(verdict, where, self.result.output, reproduce)

    def _extra_problems(self) -> list[str]:
        changed = snapshots.compare(self, self.result)
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

    def _explain(self, verdict: Any) -> str:
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


def _explain(verdict: Any, where: list[str], output: bytes, reproduce: str) -> str:
    """Which requirement, where (capture or check, route, schedule, event), what (expected vs
    actual, the offending event), and the command that reproduces it."""
    from conformance.invariants import registry

    inv = registry()[verdict.invariant]
    lines = [f"{verdict.invariant} [{inv.severity}]: {inv.requirement}", *where, f"  evidence: {inv.evidence}"]
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
    return "\n".join(lines)


def _events(output: bytes) -> list[str]:
    from conformance.sse import parse

    events, _ = parse(output)
    return [(f"event: {e.type} " if e.type != "message" else "") + f"data: {e.data}" for e in events]


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
