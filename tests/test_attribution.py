"""Grading: a failure is inherited only when the upstream's own stream already breaks the invariant
the same way; otherwise the target introduced it, and it is graded by what it breaks."""

from __future__ import annotations

from test_invariants import (
    OA_TEXT,
    OA_TEXT_EXPECT,
    USAGE_REQUEST,
    choice,
    chunk,
    oa,
    oa_finish,
    oa_role,
    oa_text,
    openai,
)

from conformance.attribution import grade, upstream_violations
from conformance.checks import build_context, check
from conformance.protocols import OPENAI_CHAT as OA

# OpenRouter repeats role in every delta: openai.role.first-delta-only fails on its own stream.
ROLE_EVERY_DELTA = openai(
    oa_role(), oa({"role": "assistant", "content": "Hello"}), oa({"content": " there!"}), oa_finish("stop")
)
EXPECT = {**OA_TEXT_EXPECT, "text": "Hello there!"}
EXPECT.pop("usage", None)


def graded(output: bytes, upstream: bytes | None, **options: object) -> dict[str, str]:
    ctx = build_context(output, OA, expect=EXPECT)
    direct = upstream_violations(lambda: build_context(upstream, OA, expect=EXPECT)) if upstream is not None else None
    return {v.invariant: v.outcome for v in grade(check(ctx), upstream=direct, **options) if v.failing}  # type: ignore[arg-type]


def test_what_the_upstream_already_broke_and_the_target_passed_on_is_inherited() -> None:
    assert graded(ROLE_EVERY_DELTA, ROLE_EVERY_DELTA, quirks=["role.every-delta"]) == {
        "openai.role.first-delta-only": "inherited"
    }


def test_the_inherited_verdict_names_the_provider_quirk() -> None:
    ctx = build_context(ROLE_EVERY_DELTA, OA, expect=EXPECT)
    direct = upstream_violations(lambda: build_context(ROLE_EVERY_DELTA, OA, expect=EXPECT))
    [verdict] = [v for v in grade(check(ctx), upstream=direct, quirks=["role.every-delta"]) if v.failing]
    assert "role.every-delta" in verdict.reason


def test_the_same_invariant_broken_another_way_is_introduced() -> None:
    """The upstream repeats role; the target also loses a word. semantic.text fails on the output
    only, and stays the target's even though role.first-delta-only is inherited."""
    lost = openai(oa_role(), oa({"role": "assistant", "content": "Hello"}), oa_finish("stop"))
    assert graded(lost, ROLE_EVERY_DELTA) == {
        "openai.role.first-delta-only": "inherited",
        "semantic.text": "fail",
        "oracle.openai-python": "fail",
    }


def test_a_violation_the_upstream_does_not_have_is_introduced() -> None:
    """Both streams break openai.finish.once, but the target's second finish is its own: the
    upstream sent one after its finish chunk with content, the target a second finish_reason."""
    upstream = openai(oa_role(), oa_text("Hello there!"), oa_finish("stop"), oa_text("!"))
    output = openai(oa_role(), oa_text("Hello there!"), oa_finish("stop"), oa_finish("length"))
    outcome = graded(output, upstream)
    assert outcome["openai.finish.once"] == "fail"


def test_on_a_translating_route_everything_is_introduced() -> None:
    assert graded(ROLE_EVERY_DELTA, None) == {"openai.role.first-delta-only": "fail"}


def test_a_strict_deviation_is_non_strict_and_legal_but_unseen_framing_softens_a_break() -> None:
    no_finish_key = openai(
        chunk({"index": 0, "delta": {"role": "assistant", "content": "Hello"}}),
        chunk({"index": 0, "delta": {"content": " there!"}}),
        oa_finish("stop"),
    )
    assert graded(no_finish_key, None) == {"openai.chunk.schema": "non-strict"}
    assert graded(ROLE_EVERY_DELTA, None, unseen_framing="CR-only line ends") == {
        "openai.role.first-delta-only": "non-strict"
    }


def test_a_clean_output_asks_the_upstream_nothing() -> None:
    asked = []

    def upstream(inv):  # type: ignore[no-untyped-def]
        asked.append(inv.id)
        return ()

    grade(check(build_context(OA_TEXT, OA, request=USAGE_REQUEST, expect=OA_TEXT_EXPECT)), upstream=upstream)
    assert asked == []


# Copilot (Claude) as recorded: chunks with no object key, and the tool call at index 1.
_CALL = {"index": 1, "id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
_DELTAS = [
    ({"role": "assistant", "content": "Let me check."}, None),
    ({"tool_calls": [_CALL]}, None),
    ({}, "tool_calls"),
]
COPILOT_LIKE = openai(*(chunk(choice(delta, finish), drop=("object",)) for delta, finish in _DELTAS))
COPILOT_REPAIRED = openai(*(chunk(choice(delta, finish)) for delta, finish in _DELTAS))
COPILOT_EXPECT = {**EXPECT, "text": "Let me check.", "finish": "tool_calls"}
COPILOT_EXPECT["tool_calls"] = [{"id": "toolu_1", "name": "f", "arguments": {}}]


def test_a_client_that_cannot_read_the_upstream_either_fails_it_as_inherited() -> None:
    """The target adds the missing object key but passes on index 1: openai-python now raises
    IndexError rather than skipping the chunks, still on the upstream's quirk."""
    ctx = build_context(COPILOT_REPAIRED, OA, expect=COPILOT_EXPECT)
    direct = upstream_violations(lambda: build_context(COPILOT_LIKE, OA, expect=COPILOT_EXPECT))
    outcome = {v.invariant: v.outcome for v in grade(check(ctx), upstream=direct) if v.failing}
    assert outcome["oracle.openai-python"] == "inherited"
    assert outcome["openai.tool.index-dense"] == "inherited"
    # The same output from an upstream the client reads: the target's own.
    readable = COPILOT_REPAIRED.replace(b'"index":1', b'"index":0')
    clean = upstream_violations(lambda: build_context(readable, OA, expect=COPILOT_EXPECT))
    outcome = {v.invariant: v.outcome for v in grade(check(ctx), upstream=clean) if v.failing}
    assert outcome["oracle.openai-python"] == "fail"
