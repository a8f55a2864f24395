"""conformance.plugin through pytester: what a proxy maintainer sees when running `pytest --target`."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.corpus import default_corpus

FAKE_TARGETS = '''
import asyncio
import os

from conformance.targets.reference import Reference

ALL = Reference.routes


class OnlyNormalizer(Reference):
    def __init__(self):
        super().__init__("only-normalizer")
        self.routes = frozenset({("openai-chat", "openai-chat")})


class Crashing:
    name = "crashing"
    version = "1"
    routes = ALL

    async def stream(self, exchange):
        raise RuntimeError("boom in the target")
        yield b""


class Hanging:
    name = "hanging"
    version = "1"
    routes = ALL

    async def stream(self, exchange):
        yield b"data: {}\\n\\n"
        await asyncio.sleep(3600)


class Recording(Reference):
    """The reference, writing to $RECORD, as each stream begins, how many streams are in flight
    and which item pytest is running."""

    in_flight = 0

    def stream(self, exchange):
        inner = super().stream(exchange)

        async def recorded():
            Recording.in_flight += 1
            with open(os.environ["RECORD"], "a") as out:
                out.write(f"{Recording.in_flight} {os.environ.get('PYTEST_CURRENT_TEST', '').split(' ')[0]}\\n")
            try:
                async for chunk in inner:
                    yield chunk
            finally:
                Recording.in_flight -= 1

        return recorded()


class Drifting(Reference):
    """The reference, but its text changes when DRIFT is set: a snapshot must notice."""

    def stream(self, exchange):
        inner = super().stream(exchange)

        async def drift():
            async for chunk in inner:
                yield chunk.replace(b"Paris", b"Lyon") if os.environ.get("DRIFT") else chunk

        return drift()
'''


@pytest.fixture
def fakes(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(faketargets=FAKE_TARGETS)
    pytester.syspathinsert()
    return pytester


def small_corpus(root: Path, *ids: str) -> Path:
    """A private corpus holding only the named captures of the shipped one."""
    shipped = default_corpus()
    for capture_id in ids:
        for suffix in (".yaml", ".sse"):
            source = shipped / f"{capture_id}{suffix}"
            destination = root / f"{capture_id}{suffix}"
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, destination)
    shutil.copy(shipped / "features.txt", root / "features.txt")
    return root


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    if not (pytester.path / "pytest.ini").exists():  # a user's repo pins this; pytest-asyncio warns without it
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    # The transport checks have their own tests (test_transport.py); here they would only add time.
    return pytester.runpytest(
        "-p", "no:cacheprovider", "--no-transport", "--report-dir", str(pytester.path / "out"), *args
    )


def read_report(pytester: pytest.Pytester, target: str) -> dict:
    return json.loads((pytester.path / "out" / target / "report.json").read_text())


def test_without_target_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "out").exists()


def test_options_sit_in_one_group(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(
        [
            "*LLM streaming conformance*",
            "*--target=SPEC*",
            "*--corpus=DIR*",
            "*--schedule=NAME*",
            "*--report-dir=DIR*",
            "*--conformance-timeout=SECONDS*",
        ]
    )


def test_reference_passes_with_readable_stable_ids(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(
        pytester.path / "corpus", "openai-chat/openai/text-lf", "anthropic-messages/anthropic/tool-use"
    )
    result = run(pytester, "--target=reference", f"--corpus={corpus}", "-v")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        [
            "*conformance::anthropic-messages/anthropic/tool-use[[]anthropic-messages-to-anthropic-messages[]][[]event[]] PASSED*",
            "*conformance::openai-chat/openai/text-lf[[]openai-chat-to-openai-chat[]][[]adversarial[]] PASSED*",
        ]
    )


def test_k_selects_by_capture_route_and_schedule(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        "--target=reference",
        "-k",
        "openai-chat/openai/text-lf and openai-chat-to-anthropic-messages and event",
    )
    result.assert_outcomes(passed=1)


def test_schedule_option_chooses_the_schedules(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/multibyte-text")
    result = run(pytester, "--target=reference", f"--corpus={corpus}", "--schedule=byte", "--schedule=random-7", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*[[]byte[]] PASSED*", "*[[]random-7[]] PASSED*"])


def test_unknown_schedule_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--target=reference", "--schedule=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--schedule*sometimes*"])


def test_unknown_target_is_a_usage_error_with_a_hint(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--target=nonesuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown target 'nonesuch'*conformance targets*"])


def test_a_route_the_target_lacks_is_skipped_with_the_reason(fakes: pytest.Pytester) -> None:
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/text-lf")
    result = run(fakes, "--target=faketargets:OnlyNormalizer", f"--corpus={corpus}", "-rs")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*does not serve route openai-chat-to-anthropic-messages*"])


def test_a_crashing_target_errors_its_items_and_the_run_goes_on(fakes: pytest.Pytester) -> None:
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/text-lf")
    result = run(fakes, "--target=faketargets:Crashing", f"--corpus={corpus}")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(["*target crashing raised RuntimeError: boom in the target*"])
    assert read_report(fakes, "faketargets-Crashing")["summary"]["errored"] == 4


def test_the_next_item_s_stream_begins_while_this_one_is_checked_one_stream_at_a_time(
    fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.runner import Runner

    begun: list[tuple[str, str]] = []  # (the item pytest was running, the case begun)
    begin = Runner.begin

    def recorded(self: Runner, case: Any, target: Any) -> Any:
        begun.append((os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0].removeprefix("conformance::"), case.id))
        return begin(self, case, target)

    monkeypatch.setattr(Runner, "begin", recorded)
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/text-lf", "anthropic-messages/anthropic/text")
    record = fakes.path / "record.txt"
    monkeypatch.setenv("RECORD", str(record))
    result = run(fakes, "--target=faketargets:Recording", f"--corpus={corpus}")
    result.assert_outcomes(passed=8)
    assert [line.split(" ")[0] for line in record.read_text().splitlines()] == ["1"] * 8  # streams in flight
    running, cases = [item for item, _ in begun], [case for _, case in begun]
    assert len(cases) == len(set(cases)) == 8
    # The first item begins its own stream and the second's; each later item begins the next one's.
    assert running == [cases[0], *cases[:-1]]


def test_a_hanging_target_errors_within_the_time_bound(fakes: pytest.Pytester) -> None:
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/text-lf")
    started = time.monotonic()
    result = run(
        fakes, "--target=faketargets:Hanging", f"--corpus={corpus}", "--schedule=event", "--conformance-timeout=0.5"
    )
    assert time.monotonic() - started < 30
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*did not finish within 0.5 s*"])


def test_a_broken_capture_errors_while_the_others_run(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    (corpus / "openai-chat/openai/broken.yaml").write_text("description: no other fields\n")
    (corpus / "openai-chat/openai/broken.sse").write_bytes(b"data: [DONE]\n\n")
    result = run(pytester, "--target=reference", f"--corpus={corpus}")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*broken.yaml*'protocol' is a required property*"])


def test_a_capture_whose_expect_disagrees_with_its_stream_errors(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    meta = corpus / "openai-chat/openai/text-lf.yaml"
    meta.write_text(meta.read_text().replace("finish: stop", "finish: length"))
    result = run(pytester, "--target=reference", f"--corpus={corpus}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*text-lf.yaml: semantic.finish: expect disagrees with the raw stream: finish reason differs*",
            "Fix the capture, then check it with: conformance validate *",
        ]
    )


def test_a_mutant_failure_names_invariant_capture_expected_actual_and_event(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/tool-call-first")
    result = run(pytester, "--target=mutant:empty-text-block-before-tool", f"--corpus={corpus}", "--schedule=event")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "anthropic.block.no-empty-text [[]error[]]: *",
            "  capture:  *tool-call-first.sse",
            "  route:    openai-chat-to-anthropic-messages    schedule: event",
            "  - text block 0 has no text",
            "    expected: a non-empty text block",
            "    event 1 at content_block: event: content_block_start data: *",
            "  reproduce: pytest --target=mutant:empty-text-block-before-tool -k *",
        ]
    )


def test_report_keeps_every_verdict_and_the_raw_bytes_of_failures(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    run(pytester, "--target=mutant:finish-chunk-twice", f"--corpus={corpus}", "--schedule=event")
    report = read_report(pytester, "mutant-finish-chunk-twice")
    assert report["format"] == "conformance-report/1"
    assert report["header"]["target"] == "mutant:finish-chunk-twice"
    assert report["header"]["schedules"] == ["event"]
    rows = {row["route"]: row for row in report["items"]}
    failed = rows["openai-chat-to-openai-chat"]
    assert failed["outcome"] == "failed"
    verdict = failed["verdicts"]["openai.finish.once"]
    assert verdict["outcome"] == "fail" and verdict["violations"][0]["event"] is not None
    assert failed["verdicts"]["semantic.text"] == "pass"
    assert failed["output"]["text"].endswith("data: [DONE]\n\n")
    assert failed["output"]["text"].count('"finish_reason":"stop"') == 2
    passed = rows["openai-chat-to-anthropic-messages"]
    assert passed["outcome"] == "passed" and "output" not in passed
    assert report["invariants"]["openai.finish.once"]["failed"] == 1
    summary = (pytester.path / "out" / "mutant-finish-chunk-twice" / "summary.md").read_text()
    assert "`openai.finish.once`" in summary


def test_snapshots_catch_a_changed_output(fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/tool-call-first")
    args = ("--target=faketargets:Drifting", f"--corpus={corpus}", "--schedule=event")
    run(fakes, *args).assert_outcomes(passed=2)  # no snapshots kept yet: nothing compared
    run(fakes, *args, "--snapshot-update").assert_outcomes(passed=2)
    assert len(list((fakes.path / "out" / "faketargets-Drifting" / "snapshots").iterdir())) == 2
    run(fakes, *args).assert_outcomes(passed=2)
    monkeypatch.setenv("DRIFT", "1")
    result = run(fakes, *args)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*snapshot: the normalized output differs*", "*--snapshot-update*"])


FREEZE_PROBE = """
import gc


def pytest_runtest_setup(item):
    assert gc.get_freeze_count() > 0, "the heap is not frozen while items run"
"""


def test_the_heap_is_left_out_of_garbage_collections_while_items_run_and_put_back_after(
    pytester: pytest.Pytester,
) -> None:
    """Frozen, what lives through the run (the target's imports, the corpus, the items) is not walked
    by each full collection; the run leaves the garbage collector as it found it."""
    pytester.makeconftest(FREEZE_PROBE)
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    assert gc.get_freeze_count() == 0
    run(pytester, "--target=reference", f"--corpus={corpus}").assert_outcomes(passed=4)
    assert gc.get_freeze_count() == 0


UNAVAILABLE_TARGET = """
from conformance.targets import TargetUnavailable


def Missing():
    raise TargetUnavailable("thing-not-installed", "the thing is not installed here; pip install thing")
"""


def test_an_unavailable_target_errors_every_item_with_one_clear_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(missingtarget=UNAVAILABLE_TARGET)
    pytester.syspathinsert()
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = run(pytester, "--target=missingtarget:Missing", f"--corpus={corpus}")
    result.assert_outcomes(errors=4)
    assert result.stdout.str().count("the thing is not installed here; pip install thing") == 1
    result.stdout.fnmatch_lines(
        ["*target missingtarget:Missing is unavailable, so every item errored [[]thing-not-installed[]]*"]
    )
    report = read_report(pytester, "missingtarget-Missing")
    assert report["summary"]["errored"] == 4
    assert any("thing-not-installed" in note for note in report["header"]["notes"])


def test_without_target_the_plugin_imports_nothing_of_the_harness() -> None:
    """pytest imports the plugin in every run of a project that installs the suite (`pytest11`):
    without `--target` it must not pay for the checks, schemas, runner and corpus."""
    probe = "import sys, conformance.plugin; print(sorted(m for m in sys.modules if m.startswith('conformance')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "conformance.plugin" in loaded
    for heavy in (
        "conformance.session",
        "conformance.checks",
        "conformance.schemas",
        "conformance.runner",
        "conformance.corpus",
    ):
        assert f"'{heavy}'" not in loaded


COUNTED_TARGET = """
import os

from conformance.targets.reference import Reference


def Counted():
    with open(os.environ["COUNTED_LOG"], "a") as log:
        log.write(f"{os.getpid()}\\n")
    return Reference("counted")
"""

LOADED_AT_SESSION_START = """
import os


def pytest_sessionstart(session):
    with open(os.environ["COUNTED_LOG"], "a") as log:
        log.write("session start\\n")
"""


def test_the_target_loads_at_configure_time_before_collection(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target in a process of its own then starts before the harness's own imports and collection."""
    pytester.makepyfile(countedtarget=COUNTED_TARGET)
    pytester.makeconftest(LOADED_AT_SESSION_START)
    pytester.syspathinsert()
    log = pytester.path / "loads.log"
    monkeypatch.setenv("COUNTED_LOG", str(log))
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    run(pytester, "--target=countedtarget:Counted", f"--corpus={corpus}").assert_outcomes(passed=4)
    assert log.read_text().splitlines() == [str(os.getpid()), "session start"]


def test_an_unknown_target_fails_before_anything_is_collected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = run(pytester, "--target=nonesuch", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_one" not in result.stdout.str()


def test_under_xdist_only_the_workers_load_the_target(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The controller runs no items: loading the target there (for LiteLLM, a process importing it
    for seconds) would be wasted."""
    pytest.importorskip("xdist")
    pytester.makepyfile(countedtarget=COUNTED_TARGET)
    log = pytester.path / "loads.log"
    monkeypatch.setenv("COUNTED_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pytester.path), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--no-transport",
        "--report-dir",
        str(pytester.path / "out"),
        "-n",
        "2",
        "--target=countedtarget:Counted",
        f"--corpus={corpus}",
    )
    result.assert_outcomes(passed=4)
    assert len(set(log.read_text().split())) == 2
