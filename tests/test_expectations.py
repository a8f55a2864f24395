"""conformance.expectations: known failures, and the strict gate over a real run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from _outcomes import assert_classes

from conformance.corpus import default_corpus
from conformance.expectations import ExpectationsError, KnownFailure, judge, load, updated

ROUTE = "openai-chat-to-openai-chat"
CAPTURE = "openai-chat/openai/text-lf"
NO_RESPONSES = ("-k", "not openai-responses")
"""Leaves out the items on the openai-responses client protocol, which the known failures and
crashes here are not about."""


def write(path: Path, entries: list[dict], target: str = "mutant:finish-chunk-twice") -> Path:
    path.write_text(yaml.safe_dump({"target": target, "known_failures": entries}))
    return path


def entry(**overrides: object) -> dict:
    return {
        "capture": CAPTURE,
        "route": ROUTE,
        "invariants": ["openai.finish.once"],
        "reason": "sends the finish chunk twice",
        **overrides,
    }


def test_absent_file_means_no_known_failures(tmp_path: Path) -> None:
    assert load(tmp_path / "nope.yaml", "t").entries == ()


def test_entries_cover_by_capture_route_schedule_and_version(tmp_path: Path) -> None:
    loaded = load(
        write(tmp_path / "e.yaml", [entry(schedules=["event"], versions=["1.90.0"], issue="x/y#1")]),
        "mutant:finish-chunk-twice",
    )
    (known,) = loaded.entries
    assert known.covers(CAPTURE, ROUTE, "event", "1.90.0")
    assert not known.covers(CAPTURE, ROUTE, "adversarial", "1.90.0")
    assert not known.covers(CAPTURE, ROUTE, "event", "1.105.0")
    assert not known.covers(CAPTURE, "openai-chat-to-anthropic-messages", "event", "1.90.0")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"target": "t"}, "'known_failures' is a required property"),
        (
            {"target": "t", "known_failures": [{"capture": CAPTURE, "route": ROUTE, "invariants": ["x"]}]},
            "known_failures[0]: 'reason' is a required property",
        ),
        ({"target": "t", "known_failures": [entry(reason="two\nlines")]}, "known_failures[0].reason"),
        ({"target": "other", "known_failures": []}, "not 't'"),
    ],
)
def test_bad_files_name_the_file_and_field(tmp_path: Path, data: dict, words: str) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ExpectationsError) as caught:
        load(path, "t")
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_judge_separates_new_fixed_and_known() -> None:
    known = [KnownFailure(CAPTURE, ROUTE, frozenset({"a", "b"}), "r")]
    assert judge({"a", "b"}, {"a", "b"}, known).as_expected
    verdict = judge({"a", "c"}, {"a", "c"}, known)
    assert verdict.new == {"c"} and verdict.fixed == {"b"}
    assert "new failure(s) not listed in f.yaml: c" in verdict.explain(Path("f.yaml"))
    assert "passing now: b" in verdict.explain(Path("f.yaml"))
    assert judge(set(), set(), []).as_expected


def test_a_listed_failure_the_gate_does_not_count_is_neither_new_nor_fixed() -> None:
    """Under the default gate a listed non-strict or inherited verdict still fails its invariant: the
    file written under --strict stays valid. It is fixed only once the invariant passes."""
    known = [KnownFailure(CAPTURE, ROUTE, frozenset({"a", "b"}), "r")]
    assert judge({"a"}, {"a", "b"}, known).as_expected
    assert judge({"a"}, {"a"}, known).fixed == {"b"}


def test_a_flaky_entry_accepts_its_invariants_failing_or_not_and_nothing_else() -> None:
    known = [KnownFailure(CAPTURE, ROUTE, frozenset({"a", "b"}), "depends on timing", flaky=True)]
    assert judge(set(), set(), known).as_expected
    assert judge({"a"}, {"a"}, known).as_expected
    assert judge({"a", "b"}, {"a", "b"}, known).as_expected
    assert judge({"a", "c"}, {"a", "c"}, known).new == {"c"}


def test_updated_keeps_flaky_entries_as_written(tmp_path: Path) -> None:
    previous = load(
        write(tmp_path / "e.yaml", [entry(flaky=True, invariants=["openai.finish.once", "semantic.text"])]),
        "mutant:finish-chunk-twice",
    )
    rows = [
        {
            "capture": CAPTURE,
            "route": ROUTE,
            "schedule": "event",
            "outcome": "fail",
            "verdicts": {"semantic.text": {"outcome": "fail", "reason": "x"}},
        }
    ]
    data = updated(previous, rows, "1", ["event"])
    assert data["known_failures"] == [{**entry(invariants=["openai.finish.once", "semantic.text"]), "flaky": True}]


def test_updated_keeps_a_steady_entry_beside_a_flaky_one(tmp_path: Path) -> None:
    """A capture and route may have a flaky entry and a steady one: the steady one stays, reason and
    all, and the flaky one's invariants are not written into it."""
    flaky = entry(flaky=True, invariants=["semantic.text"], reason="timing")
    steady = entry(issue="Q/q#19")
    previous = load(write(tmp_path / "e.yaml", [flaky, steady]), "mutant:finish-chunk-twice")
    failing = {"outcome": "fail", "reason": "x"}
    rows = [
        {
            "capture": CAPTURE,
            "route": ROUTE,
            "schedule": schedule,
            "outcome": "fail",
            "verdicts": {"semantic.text": failing, "openai.finish.once": failing},
        }
        for schedule in ("event", "adversarial")
    ]
    data = updated(previous, rows, "1", ["event", "adversarial"])
    assert data["known_failures"] == [
        {**entry(invariants=["semantic.text"], reason="timing"), "flaky": True},
        {**entry(), "issue": "Q/q#19"},
    ]


def test_updated_keeps_reasons_and_drops_schedules_seen_everywhere(tmp_path: Path) -> None:
    previous = load(write(tmp_path / "e.yaml", [entry(issue="Q/q#19")]), "mutant:finish-chunk-twice")
    rows = [
        {
            "capture": CAPTURE,
            "route": ROUTE,
            "schedule": s,
            "outcome": "fail",
            "verdicts": {"openai.finish.once": {"outcome": "fail", "reason": "twice"}},
        }
        for s in ("event", "adversarial")
    ] + [{"capture": "c/new", "route": ROUTE, "schedule": "event", "outcome": "errored", "error": "boom"}]
    data = updated(previous, rows, "1", ["event", "adversarial"])
    first, second = data["known_failures"]
    assert first == {
        "capture": "c/new",
        "route": ROUTE,
        "invariants": ["errored"],
        "schedules": ["event"],
        "reason": "unexplained: boom",
    }
    assert second == {**entry(), "issue": "Q/q#19"}


def test_a_known_crash_is_recognised_by_its_exit_code_alone(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "target": "t",
                "known_failures": [],
                "known_crashes": [{"exit_code": -1, "reason": "dies", "issue": "x/y#1"}],
            }
        )
    )
    expectations = load(path, "t")
    assert expectations.crash_behind(
        "target t raised TargetError: the proxy (pid 7) died mid-run with exit code -1; it is started again"
    )
    assert (
        expectations.crash_behind("target t raised TargetError: the proxy (pid 7) died mid-run with exit code -1")
        is not None
    )
    assert expectations.crash_behind("the proxy died mid-run with exit code -11") is None
    assert expectations.crash_behind("target t raised ValueError: exit code -1") is None
    assert updated(expectations, [], "1", ["event"])["known_crashes"] == [
        {"exit_code": -1, "reason": "dies", "issue": "x/y#1"}
    ]


# ------------------------------------------------------------------------- the gate, end to end


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for suffix in (".yaml", ".sse"):
        (root / CAPTURE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(default_corpus() / f"{CAPTURE}{suffix}", root / f"{CAPTURE}{suffix}")
    shutil.copy(default_corpus() / "features.txt", root / "features.txt")
    return root


def arguments(pytester: pytest.Pytester, corpus: Path) -> list[str]:
    """One mutant over the small corpus, as every run here makes it: on the routes to openai-chat and
    anthropic-messages only (NO_RESPONSES)."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return [
        "-p",
        "no:cacheprovider",
        "--no-transport",
        "--target=mutant:finish-chunk-twice",
        f"--corpus={corpus}",
        "--schedule=event",
        *NO_RESPONSES,
        "--report-dir",
        str(pytester.path / "out"),
    ]


def run(pytester: pytest.Pytester, corpus: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*arguments(pytester, corpus), "-rxX", *args)


def folder(pytester: pytest.Pytester) -> Path:
    path = pytester.path / "out" / "mutant-finish-chunk-twice"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_listed_failures_make_the_run_green(pytester: pytest.Pytester, corpus: Path) -> None:
    write(folder(pytester) / "expectations.yaml", [entry(issue="QwenLM/qwen-code#2402")])
    result = run(pytester, corpus)
    assert_classes(result, non_strict=1, xfailed=1)
    result.stdout.fnmatch_lines(["*known failure: sends the finish chunk twice (QwenLM/qwen-code#2402)*"])
    assert result.ret == 0


def test_a_known_failure_is_reported_by_its_reason_alone(pytester: pytest.Pytester, corpus: Path) -> None:
    """pytest would render an xfail's whole traceback, reading the source of every frame, only to
    report its reason: the item hands over the reason instead."""
    write(folder(pytester) / "expectations.yaml", [entry(issue="QwenLM/qwen-code#2402")])
    recorder = pytester.inline_run(*arguments(pytester, corpus))
    [known] = [report for report in recorder.getreports("pytest_runtest_logreport") if hasattr(report, "wasxfail")]
    assert known.wasxfail == "known failure: sends the finish chunk twice (QwenLM/qwen-code#2402)"
    assert known.longrepr == known.wasxfail


def test_an_unlisted_failure_fails_the_run(pytester: pytest.Pytester, corpus: Path) -> None:
    result = run(pytester, corpus)
    assert_classes(result, non_strict=1, failed=1)
    result.stdout.fnmatch_lines(["openai.finish.once [[]fail, breaks[]]: *"])


def test_a_listed_failure_that_passes_fails_the_run(pytester: pytest.Pytester, corpus: Path) -> None:
    write(
        folder(pytester) / "expectations.yaml",
        [entry(), entry(route="openai-chat-to-anthropic-messages", invariants=["semantic.text"], reason="imagined")],
    )
    result = run(pytester, corpus)
    result.assert_outcomes(xfailed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*listed as known failure(s) but passing now: semantic.text [[]imagined[]]*--update-expectations*"]
    )


def test_update_expectations_records_the_run(pytester: pytest.Pytester, corpus: Path) -> None:
    result = run(pytester, corpus, "--update-expectations")
    assert result.ret == 0
    written = yaml.safe_load((folder(pytester) / "expectations.yaml").read_text())
    assert written["known_failures"] == [
        {
            "capture": CAPTURE,
            "route": ROUTE,
            "invariants": ["openai.finish.once"],
            "reason": written["known_failures"][0]["reason"],
        }
    ]
    assert written["known_failures"][0]["reason"].startswith("unexplained: ")
    assert_classes(run(pytester, corpus), non_strict=1, xfailed=1)


def test_expectations_option_and_versioned_folder(pytester: pytest.Pytester, corpus: Path) -> None:
    custom = write(pytester.path / "mine.yaml", [entry()])
    assert_classes(run(pytester, corpus, f"--expectations={custom}"), non_strict=1, xfailed=1)
    versioned = pytester.path / "out" / "mutant-finish-chunk-twice-0.1.0"
    versioned.mkdir(parents=True)
    write(versioned / "expectations.yaml", [entry()])
    result = run(pytester, corpus)
    assert_classes(result, non_strict=1, xfailed=1)
    assert (versioned / "report.partial.json").is_file()  # one schedule, no transport: a partial run


DYING_TARGET = """
class Dying:
    name = "dying"
    version = "1"
    routes = frozenset({("openai-chat", "openai-chat"), ("openai-chat", "anthropic-messages")})

    async def stream(self, exchange):
        raise RuntimeError("the server (pid 7) died mid-run with exit code -11; it is started again")
        yield b""
"""


@pytest.mark.parametrize(("listed", "outcome"), [(-11, {"xfailed": 2}), (-6, {"errors": 2})])
def test_items_errored_by_a_known_crash_are_known_failures(
    pytester: pytest.Pytester, corpus: Path, listed: int, outcome: dict[str, int]
) -> None:
    pytester.makepyfile(dyingtarget=DYING_TARGET)
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    expectations = pytester.path / "expectations.yaml"
    expectations.write_text(
        yaml.safe_dump(
            {
                "target": "dyingtarget:Dying",
                "known_failures": [],
                "known_crashes": [{"exit_code": listed, "reason": "a native crash now and then", "issue": "x/y#1"}],
            }
        )
    )
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--no-transport",
        "--target=dyingtarget:Dying",
        f"--corpus={corpus}",
        "--schedule=event",
        *NO_RESPONSES,
        "--report-dir",
        str(pytester.path / "out"),
        f"--expectations={expectations}",
        "-rxX",
    )
    result.assert_outcomes(**outcome)
    if "xfailed" in outcome:
        result.stdout.fnmatch_lines(["*known crash: a native crash now and then (x/y#1)*"])
        assert result.ret == 0


def test_a_broken_expectations_file_is_a_usage_error(pytester: pytest.Pytester, corpus: Path) -> None:
    (folder(pytester) / "expectations.yaml").write_text(
        "target: mutant:finish-chunk-twice\nknown_failures: [{capture: x}]\n"
    )
    result = run(pytester, corpus)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--expectations:*expectations.yaml: known_failures[[]0[]]: *required property*"])
