"""A run with `--target`: the target, the runner, the items and the records for the report.

`conformance.plugin` registers a `ConformanceSession` at configure time, once the target has begun
loading; this module holds everything the plugin needs only when a target is given, so that a pytest
run without `--target` does not import the checks, the schemas, the runner or the corpus.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

from conformance import expectations, report, transport
from conformance.client_request import unaskable
from conformance.corpus import Capture, CaptureError, default_corpus, load_corpus
from conformance.items import RECORD, BrokenCaptureItem, CaseItem, CorpusCollector, TransportItem
from conformance.lint import lint_capture
from conformance.results import gated
from conformance.routes import route_id
from conformance.runner import Case, CaseResult, Pending, Runner, routes_for, unserved
from conformance.schedules import DEFAULT_SCHEDULES
from conformance.targets import Target

__all__ = ["ConformanceSession"]


class ConformanceSession:
    """The run's state: target, runner and collected records. Lives only when --target is given."""

    def __init__(
        self,
        config: pytest.Config,
        spec: str,
        chosen_schedules: list[str],
        loaded: Target | None,
        started: float,
        load: Callable[[str], Target],
    ) -> None:
        """`loaded` is the target the plugin loaded at configure time, or None where it loaded none
        (an xdist controller); `load` loads it later if this process collects after all. A target
        that cannot run here never gets this far: `load` stops the run with a usage error."""
        self.config = config
        self._load = load
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
        self.with_tests: bool = config.getoption("conformance_with_tests")
        self.replay_port: int = config.getoption("conformance_replay_port")
        self.target: Target | None = None
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
        # The captures that loaded and linted clean: the corpus the transport checks stream too.
        self.captures: tuple[Capture, ...] = ()
        self.started = started  # before the target loaded: the report's total_seconds counts the load
        self.is_worker = hasattr(config, "workerinput")
        self.strict: bool = config.getoption("conformance_strict") or bool(config.getini("strict"))
        self.gate = gated(self.strict)
        self._collector: CorpusCollector | None = None
        # What narrowed the run to part of its items ("" for a full run): known once collected.
        self.partial = _selection(config, chosen_schedules, self.transport, False)
        self.chosen: int | None = None  # items this run was to run, once collected (an xdist controller never knows)

    # -- collection -----------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """What the report folder, its header and the expectations are named after: the target's
        `report_name` when it has one (a target file's `name`), else the --target spec."""
        return getattr(self.target, "report_name", None) or self.spec

    def _take(self, loaded: Target) -> None:
        self.target = loaded
        # A target file's proxy is configured for its replay port (or was started pointed at one).
        self.replay_port = self.replay_port or getattr(loaded, "replay_port", 0)
        _freeze_heap()  # the target's imports, before the corpus and the SDKs add to the heap

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if self.target is None:  # judged an xdist controller at configure time, yet collecting after all
            self._take(self._load(self.spec))
        assert self.target is not None
        self.report_dir = _report_folder(
            self.report_root, self.label, self.target.version, getattr(self.target, "configuration", None)
        )
        chosen = self.config.getoption("conformance_expectations")
        try:
            self.expectations = expectations.load(
                Path(chosen) if chosen else self.report_dir / "expectations.yaml", self.label
            )
        except expectations.ExpectationsError as error:
            raise pytest.UsageError(f"--expectations: {error}") from error
        try:
            corpus = load_corpus(self.corpus_root)
        except CaptureError as error:
            raise pytest.UsageError(f"--corpus: {error}") from error
        self.capture_features = {capture.id: list(capture.features) for capture in corpus.captures}
        collector = self._collector = CorpusCollector.from_parent(
            session, name="conformance", nodeid="conformance", path=self.corpus_root
        )
        # A capture the loader or the linter refuses still has an item, errored with the reason, so
        # that it shows in the run and in its report rather than vanishing.
        fix = f"Fix the capture, then check it with: conformance validate {self.corpus_root}"
        new: list[pytest.Item] = [
            BrokenCaptureItem.from_parent(
                collector,
                name=BrokenCaptureItem.item_name(capture_id),
                capture_id=capture_id,
                problem=f"{error}\n{fix}",
            )
            for capture_id, error in sorted(
                ((_capture_id(error, corpus.root), error) for error in corpus.errors), key=lambda pair: pair[0]
            )
        ]
        clean: list[Capture] = []
        for capture in corpus.captures:
            findings = lint_capture(capture)
            if findings:
                problem = "\n".join(str(finding) for finding in findings) + f"\n{fix}"
                new.append(
                    BrokenCaptureItem.from_parent(
                        collector, name=BrokenCaptureItem.item_name(capture.id), capture_id=capture.id, problem=problem
                    )
                )
                continue
            clean.append(capture)
            served, lacking = routes_for(capture, self.target)
            for route in served + lacking:
                for schedule in self.schedules:
                    case = Case(capture, route, schedule)
                    skip = (
                        f"target {self.spec} does not serve route {route_id(route)}"
                        if route not in served
                        else unaskable(capture.request, *route) or unserved(capture, self.target, route)
                    )
                    new.append(CaseItem.from_parent(collector, name=case.id, case=case, skip=skip))
        self.captures = tuple(clean)
        if self.transport:
            for check in transport.CHECKS:
                for route in sorted(self.target.routes):
                    tcase = transport.TransportCase(check, route)
                    skip = transport.skip_reason(
                        check, self.target, self.spec, self.timeout, route=route, captures=self.captures
                    )
                    new.append(TransportItem.from_parent(collector, name=tcase.id, case=tcase, skip=skip))
        collector.made = new
        # As if pytest had collected the corpus collector itself: the terminal's "collected N items
        # / M deselected / K selected" then counts these items (else only the repository's tests).
        config.hook.pytest_collectreport(report=pytest.CollectReport(collector.nodeid, "passed", None, new))
        if self.with_tests:
            items[:0] = new
            return
        # In a user's repository `pytest --target=…` collects its own tests too: deselected (and
        # counted as such by pytest), so that the run is the conformance run and nothing else.
        theirs = list(items)
        items[:] = new
        if theirs:
            config.hook.pytest_deselected(items=theirs)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        _freeze_heap()
        chosen = sum(1 for item in session.items if isinstance(item, (CaseItem, TransportItem, BrokenCaptureItem)))
        collected = sum(1 for _ in self._collector.collect_all()) if self._collector is not None else chosen
        # A partial run only reads snapshots (`conformance.snapshots`): it must not report those of the
        # items it left out as unused, nor offer to delete them.
        self.partial = _selection(self.config, self.schedules, self.transport, chosen < collected)
        self.chosen = chosen
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
            self.begun = {
                waiting.id: transport.start(self.runner, self.target, waiting, self.captures)
                for waiting in self.waiting
            }
        return transport.run_check(self.runner, self.target, case, self.begun.pop(case.id, None), self.captures)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == RECORD and (report.when == "call" or report.outcome != "passed"):
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
            "target": self.label,
            "target_version": getattr(self.target, "version", "unknown"),
            "suite_version": _suite_version(),
            "corpus": self.corpus_root.name if self.corpus_root == default_corpus() else str(self.corpus_root),
            "corpus_revision": report.corpus_revision(self.corpus_root),
            "schedules": self.schedules,
            "routes": sorted(route_id(r) for r in getattr(self.target, "routes", ())),
            "capture_features": self.capture_features,
        }
        configuration = getattr(self.target, "configuration", None)
        if configuration:
            header["configuration"] = configuration
        notes = list(getattr(self.target, "notes", ()))
        if notes:  # what the target says this run does not cover
            header["notes"] = notes
        log = self._copy_target_log()
        if log:
            header["target_log"] = log
        header["mode"] = "strict" if self.strict else "default"
        if self.chosen is not None and len(self.records) < self.chosen and not self.partial:
            # -x, --maxfail or an interrupt stopped the run before its end: its report is partial.
            self.partial = f"stopped early: {len(self.records)} of {self.chosen} items ran"
        if self.partial:
            header["partial"] = self.partial
        built = report.build(header, self.records)
        raw = report.raw_data(header, self.records, time.perf_counter() - self.started)
        unexplained = expectations.unexplained(self.expectations)
        self.written = report.write(self.report_dir, built, raw, partial=bool(self.partial), unexplained=unexplained)
        self.summary = built["summary"]
        if self.update_expectations:
            version = str(header["target_version"])
            gate = self.gate - {expectations.ERRORED}
            # A refused capture is the corpus's fault, not the target's: it is no known failure.
            rows = [row for row in self.records if not row.get("refused")]
            expectations.write(
                self.expectations.path,
                expectations.updated(self.expectations, rows, version, self.schedules, gate),
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
        return [f"conformance: target {self.label}, schedules {', '.join(self.schedules)}"]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        summary = getattr(self, "summary", None)
        if summary is not None:
            line = report.verdict_line(summary, "strict" if self.strict else "default").replace("**", "")
            terminalreporter.write_line(
                f"conformance: {line}", red=summary["gate"] == "FAIL", green=summary["gate"] == "PASS"
            )
        written = getattr(self, "written", None)
        if written:
            kind = f"partial run ({self.partial}), written beside the full report" if self.partial else "report"
            terminalreporter.write_line(f"conformance {kind}: {written[0]} (summary: {written[1]})")

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
        """Show an item that passed the gate with an inherited or non-strict verdict as such, in the
        progress line and the final counts."""
        if report.when != "call" or report.outcome != "passed":
            return None
        row = next((value for name, value in report.user_properties if name == RECORD), None)
        if row is None or row["outcome"] not in ("non-strict", "inherited"):
            return None
        return row["outcome"], "n" if row["outcome"] == "non-strict" else "i", row["outcome"].upper()


def _freeze_heap() -> None:
    """Leave every object alive now out of later garbage collections (`gc.freeze`).

    What a run builds before its items (the target with all it imported, the SDKs, the corpus, the
    items) lives until the run ends, yet every full collection walked all of it: with LiteLLM
    loaded, one took about 0.3 s, and loading the corpus, running the items and pytest's end of run
    trigger several. The clean-up added in `pytest_configure` unfreezes it."""
    gc.freeze()


def _selection(config: pytest.Config, schedules: list[str], transport_on: bool, deselected: bool) -> str:
    """What narrowed the run to part of its items, or "" for a full run: `-k`, `-m`, `--deselect`,
    node ids, schedules other than the default ones, `--no-transport`, or items deselected by any
    other means."""
    reasons = []
    if config.getoption("keyword", ""):
        reasons.append(f"-k {config.getoption('keyword')!r}")
    if config.getoption("markexpr", ""):
        reasons.append(f"-m {config.getoption('markexpr')!r}")
    if config.getoption("deselect", None):
        reasons.append("--deselect")
    if any("::" in arg for arg in config.args):
        reasons.append("node ids")
    if tuple(schedules) != DEFAULT_SCHEDULES:
        reasons.append(f"--schedule {','.join(schedules)}")
    if not transport_on:
        reasons.append("--no-transport")
    if deselected and not reasons:
        reasons.append("deselected items")
    return "; ".join(reasons)


def _report_folder(root: Path, spec: str, version: str, configuration: str | None = None) -> Path:
    """`root/<target>-<version>[-<configuration>]/` when that folder was committed (one per pinned
    version and configuration of a target), else `root/<target>[-<configuration>]/`."""
    suffix = f"-{report.slug(configuration)}" if configuration else ""
    versioned = root / f"{report.slug(spec)}-{report.slug(version)}{suffix}"
    return versioned if versioned.is_dir() else root / f"{report.slug(spec)}{suffix}"


def _suite_version() -> str:
    try:
        return version("llm-stream-conformance")
    except PackageNotFoundError:
        return "0+unknown"


def _capture_id(error: CaptureError, root: Path) -> str:
    """The id of the capture a load error is about: its path below the corpus root, without the
    extension (the error is about its `.yaml` or its `.sse`)."""
    try:
        return error.path.relative_to(root).with_suffix("").as_posix()
    except ValueError:
        return error.path.with_suffix("").name
