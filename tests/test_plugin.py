"""conformance.plugin through pytester: what a proxy maintainer sees when running `pytest --target`."""

from __future__ import annotations

import base64
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
from _outcomes import assert_classes

from conformance.corpus import default_corpus

# Imported here, before any in-process pytester run: a run drops every module first imported during
# it, yet the `conformance` package keeps them as attributes, so importing the checks afresh after a
# run would register the invariants into a new registry without the semantic and oracle ones.
from conformance.transport import CHECKS as TRANSPORT_CHECKS

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


def run(pytester: pytest.Pytester, *args: str, transport: bool = False) -> pytest.RunResult:
    """Run pytest with the plugin. The transport checks have their own tests (test_transport.py), so
    they run only when asked (`transport=True`): without them a run is partial, and writes its
    report as report.partial.json; a full run needs them, with the default schedules and no `-k`."""
    if not (pytester.path / "pytest.ini").exists():  # a user's repo pins this; pytest-asyncio warns without it
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    chosen = () if transport else ("--no-transport",)
    return pytester.runpytest("-p", "no:cacheprovider", *chosen, "--report-dir", str(pytester.path / "out"), *args)


def read_report(pytester: pytest.Pytester, target: str) -> dict:
    """The report of a partial run (as `run` makes without transport=True)."""
    return json.loads((pytester.path / "out" / target / "report.partial.json").read_text())


def transport_items(routes: int = 8) -> int:
    """How many transport items a full run adds for a target serving `routes` routes (the
    reference's 8: the 4 between openai-chat and anthropic-messages, and the 4 with
    openai-responses)."""
    return len(TRANSPORT_CHECKS) * routes


NO_RESPONSES = ("-k", "not openai-responses")
"""Leaves out the items on the openai-responses client protocol: what a test written for the
openai-chat and anthropic-messages routes checks does not depend on them."""


# The reference's openai-chat-to-anthropic-messages route reports input_tokens 0 in message_start, as
# an OpenAI upstream reports usage only at the end: `anthropic.message-start.input-tokens`, a strict
# deviation, makes each of its items non-strict. The default gate passes them; --strict fails them.
NON_STRICT_ROUTE = "openai-chat-to-anthropic-messages"
FULL_FILES = ("report.json", "summary.md", "raw.json")
"""What a full run writes into the target's report folder."""


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
            "*--conformance-with-tests*",
            "*--conformance-timeout=SECONDS*",
        ]
    )


def test_reference_passes_with_readable_stable_ids(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(
        pytester.path / "corpus", "openai-chat/openai/text-lf", "anthropic-messages/anthropic/tool-use"
    )
    result = run(pytester, "--target=reference", f"--corpus={corpus}", "-v", *NO_RESPONSES)
    assert_classes(result, passed=6, non_strict=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*conformance::anthropic-messages/anthropic/tool-use[[]anthropic-messages-to-anthropic-messages[]][[]event[]] PASSED*",
            "*conformance::openai-chat/openai/text-lf[[]openai-chat-to-openai-chat[]][[]adversarial[]] PASSED*",
            "*conformance::openai-chat/openai/text-lf[[]openai-chat-to-anthropic-messages[]][[]adversarial[]] NON-STRICT*",
        ]
    )


def test_k_selects_by_capture_route_and_schedule(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        "--target=reference",
        "-k",
        "openai-chat/openai/text-lf and openai-chat-to-anthropic-messages and event",
    )
    assert_classes(result, non_strict=1)
    rows = read_report(pytester, "reference")["items"]
    assert [row["id"] for row in rows] == ["openai-chat/openai/text-lf[openai-chat-to-anthropic-messages][event]"]


def test_schedule_option_chooses_the_schedules(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/multibyte-text")
    result = run(
        pytester,
        "--target=reference",
        f"--corpus={corpus}",
        "--schedule=byte",
        "--schedule=random-7",
        "-v",
        *NO_RESPONSES,
    )
    assert_classes(result, passed=2, non_strict=2)
    result.stdout.fnmatch_lines(["*[[]byte[]] PASSED*", "*[[]random-7[]] PASSED*"])
    assert read_report(pytester, "reference")["header"]["schedules"] == ["byte", "random-7"]


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
    # Both schedules on each of the two other routes from openai-chat are skipped.
    result.assert_outcomes(passed=2, skipped=4)
    result.stdout.fnmatch_lines(
        [
            "*does not serve route openai-chat-to-anthropic-messages*",
            "*does not serve route openai-chat-to-openai-responses*",
        ]
    )


def test_a_crashing_target_errors_its_items_and_the_run_goes_on(fakes: pytest.Pytester) -> None:
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/text-lf")
    result = run(fakes, "--target=faketargets:Crashing", f"--corpus={corpus}", *NO_RESPONSES)
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
    result = run(fakes, "--target=faketargets:Recording", f"--corpus={corpus}", *NO_RESPONSES)
    assert_classes(result, passed=6, non_strict=2)
    assert [line.split(" ")[0] for line in record.read_text().splitlines()] == ["1"] * 8  # streams in flight
    running, cases = [item for item, _ in begun], [case for _, case in begun]
    assert len(cases) == len(set(cases)) == 8
    # The first item begins its own stream and the second's; each later item begins the next one's.
    assert running == [cases[0], *cases[:-1]]


def test_a_hanging_target_errors_within_the_time_bound(fakes: pytest.Pytester) -> None:
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/text-lf")
    started = time.monotonic()
    result = run(
        fakes,
        "--target=faketargets:Hanging",
        f"--corpus={corpus}",
        "--schedule=event",
        "--conformance-timeout=0.5",
        *NO_RESPONSES,
    )
    assert time.monotonic() - started < 30
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*did not finish within 0.5 s*"])


def test_a_broken_capture_errors_while_the_others_run(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    (corpus / "openai-chat/openai/broken.yaml").write_text("description: no other fields\n")
    (corpus / "openai-chat/openai/broken.sse").write_bytes(b"data: [DONE]\n\n")
    result = run(pytester, "--target=reference", f"--corpus={corpus}", *NO_RESPONSES)
    assert_classes(result, passed=2, non_strict=2, errors=1)
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


def test_a_refused_capture_is_an_errored_row_of_the_report_and_the_summary(pytester: pytest.Pytester) -> None:
    """A capture that does not load (schema, place) or lint still shows in report.json and summary.md:
    one errored row each, against the gate, naming the file and every problem."""
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf", "openai-chat/openai/text-crlf")
    (corpus / "openai-chat/openai/broken.yaml").write_text("description: no other fields\n")
    (corpus / "openai-chat/openai/broken.sse").write_bytes(b"data: [DONE]\n\n")
    lint = corpus / "openai-chat/openai/text-crlf.yaml"
    lint.write_text(lint.read_text().replace("finish: stop", "finish: length"))
    shutil.copy(corpus / "openai-chat/openai/text-lf.yaml", corpus / "flat.yaml")
    shutil.copy(corpus / "openai-chat/openai/text-lf.sse", corpus / "flat.sse")
    result = run(pytester, "--target=reference", f"--corpus={corpus}", "--schedule=event", *NO_RESPONSES)
    assert_classes(result, passed=1, non_strict=1, errors=3)
    report = read_report(pytester, "reference")
    refused = {row["capture"]: row for row in report["items"] if row.get("refused")}
    assert sorted(refused) == ["flat", "openai-chat/openai/broken", "openai-chat/openai/text-crlf"]
    for capture, row in refused.items():
        assert row["id"] == f"{capture}[refused]"
        assert (row["outcome"], row["gate"], row["ending"], row["route"], row["schedule"]) == (
            "errored",
            "new",
            "not-run",
            "",
            "",
        )
        assert row["error"].startswith("broken capture [bad-capture]:\n")
        assert f"conformance validate {corpus}" in row["error"]
    broken = refused["openai-chat/openai/broken"]["error"].splitlines()
    # Every schema problem, one line each, each naming the file.
    required = [line for line in broken if "is a required property" in line]
    assert len(required) > 3 and all(
        line.startswith(f"{corpus / 'openai-chat/openai/broken.yaml'}: ") for line in required
    )
    assert "more)" not in refused["openai-chat/openai/broken"]["error"]
    assert "lies at flat.yaml" in refused["flat"]["error"]
    assert "text-crlf.yaml: semantic.finish: expect disagrees" in refused["openai-chat/openai/text-crlf"]["error"]
    summary = report["summary"]
    assert (summary["gate"], summary["errored"], summary["gate_failures"], summary["total"]) == ("FAIL", 3, 3, 5)
    text = (pytester.path / "out" / "reference" / "summary.partial.md").read_text()
    assert text.startswith("**FAIL**")
    assert "## Refused captures: 3" in text
    for capture in refused:
        assert f"| `{capture}` | " in text
    assert "'protocol' is a required property" in text and "## Errored" not in text
    assert "broken capture [bad-capture]" not in text  # the code is in report.json; the summary lists the problems


def test_a_refused_capture_is_no_known_failure_of_the_target(pytester: pytest.Pytester) -> None:
    """--update-expectations records the target's failures; a broken capture is the corpus's own."""
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    (corpus / "openai-chat/openai/broken.yaml").write_text("description: no other fields\n")
    (corpus / "openai-chat/openai/broken.sse").write_bytes(b"data: [DONE]\n\n")
    result = run(pytester, "--target=mutant:finish-chunk-twice", f"--corpus={corpus}", "--update-expectations")
    assert result.ret == 1  # the broken capture errors the run
    written = (pytester.path / "out" / "mutant-finish-chunk-twice" / "expectations.yaml").read_text()
    assert "text-lf" in written and "broken" not in written
    assert any(row.get("refused") for row in read_report(pytester, "mutant-finish-chunk-twice")["items"])


def test_a_refused_capture_is_selected_with_its_other_items(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    (corpus / "openai-chat/acme").mkdir()
    shutil.copy(corpus / "openai-chat/openai/text-lf.yaml", corpus / "openai-chat/acme/text-lf.yaml")
    shutil.copy(corpus / "openai-chat/openai/text-lf.sse", corpus / "openai-chat/acme/text-lf.sse")
    result = run(pytester, "--target=reference", f"--corpus={corpus}", "-k", "acme")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*acme/text-lf.yaml: provider: is 'openai' but the capture lies in the provider folder 'acme'*"]
    )
    report = read_report(pytester, "reference")
    assert [row["id"] for row in report["items"]] == ["openai-chat/acme/text-lf[refused]"]
    assert report["header"]["partial"] == "-k 'acme'; --no-transport"


def test_the_shipped_corpus_adds_no_refused_item(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    collected = pytester.runpytest("--target=reference", "-p", "no:cacheprovider", "--collect-only", "-q")
    lines = collected.stdout.str()
    assert "conformance::openai-chat/openai/text-lf[openai-chat-to-openai-chat][event]" in lines
    assert "[refused]" not in lines


def test_a_mutant_failure_names_invariant_capture_expected_actual_and_event(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/tool-call-first")
    result = run(
        pytester,
        "--target=mutant:empty-text-block-before-tool",
        f"--corpus={corpus}",
        "--schedule=event",
        *NO_RESPONSES,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "anthropic.block.no-empty-text [[]fail, breaks[]]: No text block ends up empty*",
            "  capture:  *tool-call-first.sse",
            "  route:    openai-chat-to-anthropic-messages    schedule: event",
            "  evidence: https://github.com/BerriAI/litellm/issues/30765 — *",
            "  to fix:   Open a text block only when the first non-empty text arrives*",
            "  - text block 0 has no text",
            "    expected: a non-empty text block",
            "    event 1 at content_block: event: content_block_start data: *",
            "  reproduce: pytest --target=mutant:empty-text-block-before-tool -k *",
            "  explain:   conformance invariants anthropic.block.no-empty-text",
        ]
    )


def test_report_keeps_every_verdict_and_the_output_of_items_that_did_not_pass(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf", "anthropic-messages/anthropic/text")
    run(pytester, "--target=mutant:finish-chunk-twice", f"--corpus={corpus}", "--schedule=event")
    folder = pytester.path / "out" / "mutant-finish-chunk-twice"
    report = read_report(pytester, "mutant-finish-chunk-twice")
    assert report["format"] == "conformance-report/2"
    header = report["header"]
    assert header["target"] == "mutant:finish-chunk-twice"
    assert header["schedules"] == ["event"]
    assert (header["mode"], header["partial"]) == ("default", "--schedule event; --no-transport")
    # 3 routes from each capture's protocol: text-lf passes on openai-chat-to-openai-responses too,
    # and the mutant, as the reference, does not serve anthropic-messages-to-openai-responses.
    assert report["summary"] == {
        "gate": "FAIL",
        "errored": 0,
        "fail": 1,
        "non-strict": 1,
        "inherited": 0,
        "pass": 3,
        "skipped": 1,
        "known_failures": 0,
        "gate_failures": 1,
        "total": 6,
    }
    rows = {(row["capture"], row["route"]): row for row in report["items"]}
    failed = rows[("openai-chat/openai/text-lf", "openai-chat-to-openai-chat")]
    assert (failed["outcome"], failed["gate"], failed["ending"]) == ("fail", "new", "complete")
    verdict = failed["verdicts"]["openai.finish.once"]
    assert (verdict["outcome"], verdict["impact"]) == ("fail", "breaks")
    assert verdict["violations"][0]["event"] is not None
    assert failed["verdicts"]["semantic.text"] == "pass"
    # The output as its client parsed it, volatile values masked; the exact bytes are in raw.partial.json.
    output = failed["output"]
    assert output["status"] == 200 and output["events"][-1] == {"event": "message", "data": "[DONE]"}
    chunks = [event["data"] for event in output["events"][:-1]]
    assert all(chunk["id"] == chunk["created"] == "<volatile>" for chunk in chunks)
    assert [choice["finish_reason"] for chunk in chunks for choice in chunk["choices"]].count("stop") == 2
    raw = json.loads((folder / "raw.partial.json").read_text())
    exact = base64.b64decode(raw["items"][failed["id"]]["base64"])
    assert len(exact) == output["bytes"] and exact.endswith(b"data: [DONE]\n\n")
    assert exact.count(b'"finish_reason":"stop"') == 2
    non_strict = rows[("openai-chat/openai/text-lf", NON_STRICT_ROUTE)]
    assert (non_strict["outcome"], non_strict["gate"]) == ("non-strict", "ok")
    verdict = non_strict["verdicts"]["anthropic.message-start.input-tokens"]
    assert (verdict["outcome"], verdict["impact"]) == ("non-strict", "strict")
    assert non_strict["output"]["events"][0]["event"] == "message_start"
    for route in ("anthropic-messages-to-anthropic-messages", "anthropic-messages-to-openai-chat"):
        passed = rows[("anthropic-messages/anthropic/text", route)]
        assert (passed["outcome"], passed["gate"]) == ("pass", "ok") and "output" not in passed
        assert "base64" not in raw["items"][passed["id"]]
    invariants = report["invariants"]
    assert (invariants["openai.finish.once"]["fail"], invariants["openai.finish.once"]["non-strict"]) == (1, 0)
    assert invariants["anthropic.message-start.input-tokens"]["non-strict"] == 1
    summary = (folder / "summary.partial.md").read_text()
    assert "`openai.finish.once`" in summary
    assert not (folder / "report.json").exists() and not (folder / "summary.md").exists()


def test_snapshots_catch_a_changed_output(fakes: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full run records and compares the snapshots with syrupy; a partial one only reads them."""
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/tool-call-first")
    args = ("--target=faketargets:Drifting", f"--corpus={corpus}")
    partial = (*args, "--schedule=event")
    snapshots = fakes.path / "out" / "faketargets-Drifting" / "snapshots"
    # The capture on the 3 routes from openai-chat: chat and Responses pass, Messages is non-strict.
    assert_classes(run(fakes, *partial), passed=2, non_strict=1)  # no snapshots kept yet: nothing compared
    assert not snapshots.exists()
    # The corpus has no anthropic-messages or openai-responses capture: concurrent-isolation is
    # skipped on the 5 routes from them.
    full = run(fakes, *args, "--snapshot-update", transport=True)
    assert_classes(full, passed=4 + transport_items() - 5, non_strict=2, skipped=5)
    assert sorted(path.name for path in snapshots.iterdir()) == [
        "openai-chat_openai_tool-call-first.openai-chat-to-anthropic-messages.json",
        "openai-chat_openai_tool-call-first.openai-chat-to-openai-chat.json",
        "openai-chat_openai_tool-call-first.openai-chat-to-openai-responses.json",
    ]
    assert_classes(run(fakes, *partial), passed=2, non_strict=1)
    monkeypatch.setenv("DRIFT", "1")
    result = run(fakes, *partial)
    assert_classes(result, failed=3)
    result.stdout.fnmatch_lines(
        [
            "snapshot: the normalized output differs from *openai-chat_openai_tool-call-first.openai-chat-to-openai-chat.json",
            "  --- snapshot",
            "  +++ output",
            "*Lyon*",
            "  accept the new output with a full run: pytest --target=faketargets:Drifting --snapshot-update",
        ]
    )
    result = run(fakes, *args, transport=True)
    assert_classes(result, passed=transport_items() - 5, failed=6, skipped=5)
    result.stdout.fnmatch_lines(
        [
            f"snapshot: the normalized output differs from {snapshots}",
            "*Lyon*",
            "  accept the new output with: pytest --target=faketargets:Drifting --snapshot-update",
        ]
    )


def test_a_partial_run_writes_only_its_own_report_and_only_reads_snapshots(fakes: pytest.Pytester) -> None:
    """`-k` narrows the run: it writes report.partial.json, summary.partial.md and raw.partial.json,
    leaves the full run's report as it was, and never records, reports as unused or deletes a
    snapshot, even with --snapshot-update. (A full run over fewer captures reports the others'
    snapshots as "unused", and deletes them with --snapshot-update.)"""
    corpus = small_corpus(fakes.path / "corpus", "openai-chat/openai/text-lf", "openai-chat/openai/tool-call-first")
    # A target with one route: its full run has an eighth of the reference's transport items, and
    # skips both schedules of each capture on the 2 other routes from openai-chat.
    args = ("--target=faketargets:OnlyNormalizer", f"--corpus={corpus}")
    folder = fakes.path / "out" / "faketargets-OnlyNormalizer"
    snapshots = folder / "snapshots"
    # Snapshots as a full run records them, and commits them.
    result = run(fakes, *args, "--snapshot-update", transport=True)
    assert_classes(result, passed=4 + transport_items(routes=1), skipped=8)
    recorded = {path.name: path.read_bytes() for path in snapshots.iterdir()}
    assert sorted(recorded) == [
        "openai-chat_openai_text-lf.openai-chat-to-openai-chat.json",
        "openai-chat_openai_tool-call-first.openai-chat-to-openai-chat.json",
    ]
    full = {name: ((folder / name).read_bytes(), (folder / name).stat().st_mtime_ns) for name in FULL_FILES}

    result = run(fakes, *args, "-k", "text-lf", transport=True)
    assert_classes(result, passed=2, skipped=4)
    result.stdout.fnmatch_lines(["conformance partial run (-k 'text-lf'), written beside the full report: *"])
    assert "unused" not in result.stdout.str()
    assert {name: ((folder / name).read_bytes(), (folder / name).stat().st_mtime_ns) for name in FULL_FILES} == full
    assert {path.name: path.read_bytes() for path in snapshots.iterdir()} == recorded
    assert read_report(fakes, "faketargets-OnlyNormalizer")["header"]["partial"] == "-k 'text-lf'"

    for name in FULL_FILES:
        (folder / name).unlink()
    selected = "openai-chat_openai_text-lf.openai-chat-to-openai-chat.json"  # a snapshot the run would compare
    (snapshots / selected).unlink()
    result = run(fakes, *args, "-k", "text-lf", "--snapshot-update", transport=True)
    assert_classes(result, passed=2, skipped=4)
    for word in ("unused", "deleted", "generated"):
        assert word not in result.stdout.str()
    assert sorted(path.name for path in folder.iterdir()) == [
        "raw.partial.json",
        "report.partial.json",
        "snapshots",
        "summary.partial.md",
    ]
    assert {path.name: path.read_bytes() for path in snapshots.iterdir()} == {
        name: data for name, data in recorded.items() if name != selected
    }


def test_a_run_stopped_early_is_partial(pytester: pytest.Pytester) -> None:
    """-x stops a full run at its first failure: what ran is reported beside the full report, never
    over it."""
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = run(pytester, "--target=mutant:finish-chunk-twice", f"--corpus={corpus}", "-x", transport=True)
    assert result.ret == 1
    folder = pytester.path / "out" / "mutant-finish-chunk-twice"
    assert not (folder / "report.json").exists()
    partial = read_report(pytester, "mutant-finish-chunk-twice")["header"]["partial"]
    assert partial.startswith("stopped early: ") and partial.endswith(" items ran")


def test_two_full_runs_write_the_same_report_and_summary_to_the_byte(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(
        pytester.path / "corpus", "openai-chat/openai/text-lf", "anthropic-messages/anthropic/tool-use"
    )
    folder = pytester.path / "out" / "reference"
    # Skipped: tool-use's 2 items on anthropic-messages-to-openai-responses, which the reference does
    # not serve, and concurrent-isolation on the 3 routes from openai-responses, of which the corpus
    # has no capture.
    passed = 8 + transport_items() - 3
    written = []
    for _ in range(2):
        result = run(pytester, "--target=reference", f"--corpus={corpus}", transport=True)
        assert_classes(result, passed=passed, non_strict=2, skipped=5)
        result.stdout.fnmatch_lines(
            [f"conformance report: {folder / 'report.json'} (summary: {folder / 'summary.md'})"]
        )
        written.append({name: (folder / name).read_bytes() for name in ("report.json", "summary.md")})
        raw = json.loads((folder / "raw.json").read_text())
        assert raw["total_seconds"] > 0 and all("seconds" in item for item in raw["items"].values())
    assert written[0] == written[1]
    assert not (folder / "report.partial.json").exists()
    report = json.loads(written[0]["report.json"])
    assert report["header"]["mode"] == "default" and "partial" not in report["header"]
    assert report["summary"]["total"] == 12 + transport_items()
    summary = written[0]["summary.md"].decode().splitlines()
    assert summary[0] == f"**PASS** (default gate): 2 non-strict, {passed} pass, 5 skipped."
    assert summary[1:3] == ["", "# Conformance: `reference` 0.1.0"]


@pytest.mark.parametrize(
    ("options", "mode"),
    [
        ([], "default"),
        (["--strict"], "strict"),
        (["--conformance-strict"], "strict"),
        (["-o", "strict=true"], "strict"),
    ],
    ids=["default", "--strict", "--conformance-strict", "strict-ini"],
)
def test_the_default_gate_passes_a_non_strict_item_and_the_strict_gate_fails_it(
    pytester: pytest.Pytester, options: list[str], mode: str
) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = run(pytester, "--target=reference", f"--corpus={corpus}", *options, *NO_RESPONSES)
    report = read_report(pytester, "reference")
    summary = (pytester.path / "out" / "reference" / "summary.partial.md").read_text()
    assert report["header"]["mode"] == mode
    if mode == "default":
        assert_classes(result, passed=2, non_strict=2)
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(["conformance: PASS (default gate): 2 non-strict, 2 pass."])
        assert (report["summary"]["gate"], report["summary"]["gate_failures"]) == ("PASS", 0)
        assert summary.startswith("**PASS** (default gate): 2 non-strict, 2 pass.\n\n# Conformance: `reference`")
        assert "unexplained" not in summary  # no expectations file: nothing to warn of
        gate = "ok"
    else:
        assert_classes(result, passed=2, failed=2)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(
            [
                "anthropic.message-start.input-tokens [[]non-strict, strict[]]: *",
                f"  route:    {NON_STRICT_ROUTE}    schedule: event",
                "conformance: FAIL (strict gate): 2 non-strict, 2 pass; 2 against the gate.",
                f"FAILED conformance::openai-chat/openai/text-lf[[]{NON_STRICT_ROUTE}[]][[]event[]]*",
                f"FAILED conformance::openai-chat/openai/text-lf[[]{NON_STRICT_ROUTE}[]][[]adversarial[]]*",
            ]
        )
        assert (report["summary"]["gate"], report["summary"]["gate_failures"]) == ("FAIL", 2)
        assert summary.startswith("**FAIL** (strict gate): 2 non-strict, 2 pass; 2 against the gate.\n")
        gate = "new"
    # The verdicts are the same under either gate: only what fails the run differs.
    assert {row["route"]: (row["outcome"], row["gate"]) for row in report["items"]} == {
        "openai-chat-to-openai-chat": ("pass", "ok"),
        NON_STRICT_ROUTE: ("non-strict", gate),
    }


UNEXPLAINED = f"""target: reference
known_failures:
- capture: openai-chat/openai/text-lf
  route: {NON_STRICT_ROUTE}
  invariants: [anthropic.message-start.input-tokens]
  reason: 'unexplained: message_start does not report the input tokens'
"""


def test_the_summary_opens_with_the_verdict_and_warns_of_unexplained_expectations(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    folder = pytester.path / "out" / "reference"
    folder.mkdir(parents=True)
    folder.joinpath("expectations.yaml").write_text(UNEXPLAINED)
    result = run(pytester, "--target=reference", f"--corpus={corpus}", *NO_RESPONSES)
    assert_classes(result, passed=2, non_strict=2)  # the listed non-strict verdict still fails: not fixed
    summary = (folder / "summary.partial.md").read_text().splitlines()
    assert summary[:4] == [
        "**PASS** (default gate): 2 non-strict, 2 pass.",
        "",
        "> Warning: the expectations file still has 1 `unexplained:` reason(s); replace each with the real "
        "reason and the upstream issue.",
        "",
    ]


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
    assert_classes(run(pytester, "--target=reference", f"--corpus={corpus}", *NO_RESPONSES), passed=2, non_strict=2)
    assert gc.get_freeze_count() == 0


UNAVAILABLE_TARGET = """
from conformance.targets import TargetUnavailable


def Missing():
    raise TargetUnavailable("thing-not-installed", "the thing is not installed here; pip install thing")
"""


def test_an_unavailable_target_stops_the_run_at_its_start_with_one_clear_message(pytester: pytest.Pytester) -> None:
    """Not one errored item per case: one message, naming the target, why and the fix; nothing runs,
    so nothing passes, and no report (not even a partial one) is written."""
    pytester.makepyfile(missingtarget=UNAVAILABLE_TARGET)
    pytester.makepyfile(test_theirs="def test_one():\n    assert True\n")
    pytester.syspathinsert()
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = run(pytester, "--target=missingtarget:Missing", f"--corpus={corpus}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --target=missingtarget:Missing cannot run here [[]thing-not-installed[]]: the thing is not installed here; pip install thing.",
            "The run stopped before collecting anything: no item ran, and no report was written.",
        ]
    )
    assert (result.stdout.str() + result.stderr.str()).count("pip install thing") == 1
    assert "passed" not in result.stdout.str() and "test_one" not in result.stdout.str()
    assert not (pytester.path / "out").exists()


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
    result = run(pytester, "--target=countedtarget:Counted", f"--corpus={corpus}", *NO_RESPONSES)
    assert_classes(result, passed=2, non_strict=2)
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
        *NO_RESPONSES,
    )
    assert_classes(result, passed=2, non_strict=2)
    assert len(set(log.read_text().split())) == 2


MY_TARGET = """
from conformance.targets.reference import Reference

TARGET = Reference("mytarget")
"""


def _without_the_current_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """`python -m pytest` puts the current folder on sys.path; the `pytest` script does not."""
    kept = [entry for entry in sys.path if entry not in ("", ".", os.getcwd(), str(folder))]
    monkeypatch.setattr(sys, "path", kept)


def test_a_target_in_the_current_folder_loads_without_pythonpath(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(mytarget=MY_TARGET)
    _without_the_current_folder(monkeypatch, pytester.path)
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = run(pytester, "--target=mytarget:TARGET", f"--corpus={corpus}", "-v", *NO_RESPONSES)
    assert_classes(result, passed=2, non_strict=2)
    result.stdout.fnmatch_lines(["*conformance::openai-chat/openai/text-lf[[]openai-chat-to-openai-chat[]]*PASSED*"])


def test_the_current_folder_is_on_sys_path_only_while_the_target_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.targets import TargetError, load

    (tmp_path / "heretarget.py").write_text(MY_TARGET)
    monkeypatch.chdir(tmp_path)
    _without_the_current_folder(monkeypatch, tmp_path)
    monkeypatch.delitem(sys.modules, "heretarget", raising=False)
    before = list(sys.path)
    try:
        assert load("heretarget:TARGET").name == "mytarget"
    finally:
        sys.modules.pop("heretarget", None)
    assert sys.path == before
    with pytest.raises(
        TargetError, match=r"'nowhere' importable from this environment, or a module or package in the current folder"
    ):
        load("nowhere:TARGET")


def test_the_repository_s_own_tests_are_deselected_and_counted(pytester: pytest.Pytester) -> None:
    """`pytest --target=…` in a proxy's repository is the conformance run: its own tests are
    deselected, as pytest reports deselection, and do not make the conformance report partial."""
    pytester.makepyfile(test_theirs="def test_one():\n    assert True\n\ndef test_two():\n    assert False\n")
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = run(pytester, "--target=reference", f"--corpus={corpus}")
    # text-lf on the reference's 3 routes from openai-chat, both schedules: 4 pass, 2 non-strict.
    assert_classes(result, passed=4, non_strict=2, deselected=2)
    result.stdout.fnmatch_lines(["collected 8 items / 2 deselected / 6 selected"])
    assert "test_theirs" not in result.stdout.str()
    assert read_report(pytester, "reference")["header"]["partial"] == "--no-transport"


def test_with_tests_the_repository_s_own_tests_run_beside_the_conformance_items(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_theirs="def test_one():\n    assert True\n\ndef test_two():\n    assert False\n")
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = run(pytester, "--target=reference", f"--corpus={corpus}", "--conformance-with-tests")
    # text-lf on the reference's 3 routes from openai-chat, both schedules (4 pass, 2 non-strict),
    # and the repository's 2 tests.
    assert_classes(result, passed=5, non_strict=2, failed=1)
    result.stdout.fnmatch_lines(["collected 8 items", "*test_theirs.py .F*"])
    assert read_report(pytester, "reference")["header"]["partial"] == "--no-transport"
