"""A target in a child process (`conformance/targets/hosted.py`): it streams what it streams in
process, words its errors the same way, survives its process crashing, propagates a client's
close as the target's own `aclose()`, and leaves no process or file behind."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _hosted_targets import CUT_OFF, FRAMES, Aborting, Scripted

from conformance.corpus import load_corpus
from conformance.runner import Case, Runner, collect, routes_for
from conformance.targets import MAX_RESTARTS, failure, load
from conformance.targets.base import Abort, Exchange, Target
from conformance.targets.hosted import Hosted, HostedTargetError

HERE = Path(__file__).parent
ROUTE = ("openai-chat", "openai-chat")
BOUND = 60.0


@pytest.fixture(autouse=True)
def importable_test_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child inherits the environment: it finds tests/_hosted_targets.py on PYTHONPATH."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")])))


@pytest.fixture
def runner() -> Iterator[Runner]:
    runner = Runner(timeout=30)
    yield runner
    runner.close()


@pytest.fixture
def scripted(runner: Runner) -> Iterator[Hosted]:
    target = _hosted("_hosted_targets:Scripted")
    yield target
    runner.call(target.aclose(), timeout=BOUND)


def _hosted(spec: str) -> Hosted:
    return Hosted(spec, name="scripted", version="1", routes=frozenset({ROUTE}))


async def _read(target: Target, request: dict[str, Any], stop_after: int | None = None) -> list[Any]:
    items: list[Any] = []
    stream = target.stream(Exchange(ROUTE, request, "http://127.0.0.1:9/r/unused"))
    try:
        async for item in stream:
            items.append(item)
            if len(items) == stop_after:
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return items


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids


def _written(path: Path) -> str:
    deadline = time.monotonic() + BOUND
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.read_text()


def test_the_reference_hosted_streams_what_it_streams_in_process(runner: Runner) -> None:
    """The same messages and verdicts (the bytes differ only where the reference stamps `created`)."""
    in_process = load("reference")
    hosted = Hosted("reference", name=in_process.name, version=in_process.version, routes=in_process.routes)
    captures = [
        c
        for c in load_corpus().captures
        if c.id.endswith(("/text", "/text-lf", "/parallel-tools", "/error-mid-stream", "/cut-off"))
    ]
    assert len(captures) >= 4
    try:
        for capture in captures:
            for route in routes_for(capture, in_process)[0]:
                for schedule in ("event", "adversarial"):
                    case = Case(capture, route, schedule)
                    here, there = runner.run(case, in_process), runner.run(case, hosted)
                    assert (there.outcome, there.status, there.chunks, there.error) == (
                        here.outcome,
                        here.status,
                        here.chunks,
                        here.error,
                    ), case.id
                    assert there.message == here.message, case.id
                    assert [v.to_json() for v in there.verdicts] == [v.to_json() for v in here.verdicts], case.id
    finally:
        runner.call(hosted.aclose(), timeout=BOUND)


def test_streams_run_concurrently_through_one_child(runner: Runner, scripted: Hosted) -> None:
    async def many() -> list[list[Any]]:
        return await asyncio.gather(*(_read(scripted, {}) for _ in range(16)))

    assert runner.call(many(), timeout=BOUND) == [FRAMES] * 16
    assert scripted.starts == 1


def test_a_head_reaches_the_client_before_the_body(runner: Runner, scripted: Hosted) -> None:
    head, body = runner.call(_read(scripted, {"behaviour": "head"}), timeout=BOUND)
    assert (head.status, head.headers) == (429, (("content-type", "application/json"),))
    assert body == b'{"error": {"message": "slow down"}}'


def test_an_abort_crosses_the_link_last_as_in_process(runner: Runner) -> None:
    target = Hosted("_hosted_targets:Aborting", name="aborting", version="1", routes=frozenset({ROUTE}))
    try:
        hosted = runner.call(_read(target, {}), timeout=BOUND)
        assert hosted == runner.call(_read(Aborting(), {}), timeout=BOUND) == [*FRAMES[:2], Abort(CUT_OFF)]
        # The runner stops reading at the Abort and closes the stream; the child serves on.
        exchange = Exchange(ROUTE, {}, "http://127.0.0.1:9/r/unused")
        output = runner.call(collect(target, exchange), timeout=BOUND)
        assert (output.chunks, output.ending, output.abort_reason) == (FRAMES[:2], "aborted", CUT_OFF)
        assert runner.call(_read(target, {}), timeout=BOUND) == [*FRAMES[:2], Abort(CUT_OFF)]
        assert target.starts == 1
    finally:
        runner.call(target.aclose(), timeout=BOUND)


def test_an_exception_is_worded_as_in_process(runner: Runner, scripted: Hosted) -> None:
    with pytest.raises(HostedTargetError) as hosted:
        runner.call(_read(scripted, {"behaviour": "raises"}), timeout=BOUND)
    with pytest.raises(ValueError) as local:
        runner.call(_read(Scripted(), {"behaviour": "raises"}), timeout=BOUND)
    assert (
        failure(scripted, hosted.value)
        == failure(Scripted(), local.value)
        == "target scripted raised ValueError: boom after one frame"
    )


def test_a_crash_errors_its_stream_with_the_process_s_last_words_and_the_next_stream_starts_it_again(
    runner: Runner, scripted: Hosted
) -> None:
    with pytest.raises(HostedTargetError) as crashed:
        runner.call(_read(scripted, {"behaviour": "crashes"}), timeout=BOUND)
    message = failure(scripted, crashed.value)
    assert message.startswith("target scripted died mid-run with exit code 7")
    assert "about to crash" in message
    assert runner.call(_read(scripted, {}), timeout=BOUND) == FRAMES


def test_a_child_that_keeps_dying_is_started_again_a_bounded_number_of_times(runner: Runner, scripted: Hosted) -> None:
    for _ in range(MAX_RESTARTS + 1):
        with pytest.raises(HostedTargetError):
            runner.call(_read(scripted, {"behaviour": "crashes"}), timeout=BOUND)
    with pytest.raises(HostedTargetError) as given_up:
        runner.call(_read(scripted, {}), timeout=BOUND)
    assert scripted.starts == MAX_RESTARTS + 1
    message = failure(scripted, given_up.value)
    assert message.startswith("target scripted died mid-run with exit code 7")
    assert f"not started again: it died {MAX_RESTARTS + 1} times" in message


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("_hosted_targets:Unloadable", "raised RuntimeError: cannot start here"),
        ("no_such_module_anywhere:Thing", "[cannot-import]"),
    ],
)
def test_a_target_that_cannot_load_errors_every_stream_with_the_reason_and_is_not_restarted(
    runner: Runner, spec: str, says: str
) -> None:
    target = _hosted(spec)
    try:
        for _ in range(3):
            with pytest.raises(HostedTargetError) as raised:
                runner.call(_read(target, {}), timeout=BOUND)
            message = failure(target, raised.value)
            assert message.startswith("target scripted could not be loaded in its process:"), message
            assert says in message
        assert target.starts == 1
    finally:
        runner.call(target.aclose(), timeout=BOUND)


def test_a_client_that_stops_reading_closes_the_generator_at_its_yield(
    runner: Runner, scripted: Hosted, tmp_path: Path
) -> None:
    """As `aclose()` does in process: GeneratorExit where the target yielded, not a cancellation."""
    marker = tmp_path / "ended"
    assert runner.call(_read(scripted, {"marker": str(marker)}, stop_after=1), timeout=BOUND) == FRAMES[:1]
    assert _written(marker) == "GeneratorExit"


def test_a_client_that_times_out_cancels_the_read_in_flight(runner: Runner, scripted: Hosted, tmp_path: Path) -> None:
    marker = tmp_path / "ended"
    with pytest.raises(TimeoutError):
        runner.call(_read(scripted, {"behaviour": "waits", "marker": str(marker)}), timeout=2)
    assert _written(marker) == "CancelledError"
    assert runner.call(_read(scripted, {}), timeout=BOUND) == FRAMES  # the child still serves


def test_aclose_ends_the_child_and_removes_its_files(runner: Runner) -> None:
    before = _children()
    target = _hosted("_hosted_targets:Scripted")
    assert runner.call(_read(target, {}), timeout=BOUND) == FRAMES
    folder = target.folder
    assert _children() - before and folder.is_dir()
    runner.call(target.aclose(), timeout=BOUND)
    assert _children() == before
    assert not folder.exists()


HOSTED_FACTORY = """
from conformance.targets.hosted import Hosted


def Child():
    return Hosted("_hosted_targets:Scripted", name="scripted", version="1", routes=frozenset({("openai-chat", "openai-chat")}))
"""


def test_a_run_that_streams_nothing_still_ends_the_child_and_removes_its_files(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The plugin loads the target at configure time; `--collect-only` never runs an item."""
    pytester.makepyfile(hostedfactory=HOSTED_FACTORY)
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # where the target makes its folder
    before = _children()
    result = pytester.runpytest_inprocess(
        "--target=hostedfactory:Child",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--report-dir={pytester.path / 'out'}",
    )
    assert result.ret == pytest.ExitCode.OK
    assert _children() == before
    assert list(private.iterdir()) == []
